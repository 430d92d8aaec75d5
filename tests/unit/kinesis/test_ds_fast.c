/* Unit tests for api/kinesis/ds_fast.c: the directly written JSON must be byte for byte what
 * cJSON_PrintUnformatted prints for the same members (strings with every byte value, integers,
 * arrival timestamps across their range, whole GetRecords records), and the cached-digest hash
 * key must equal ds_hashkey.c's. Random cases print their seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "../../../api/kinesis/ds_fast.h"
#include "../api/fake_exchange.inc"
#include "sluice/api_model.h"
#include "sluice/base64.h"
#include "sluice/wire.h"

static uint64_t seed_state;

static uint64_t rng(void)
{
    seed_state ^= seed_state << 13;
    seed_state ^= seed_state >> 7;
    seed_state ^= seed_state << 17;
    return seed_state;
}

static uint64_t seed_once(void)
{
    if (!seed_state) {
        seed_state = (uint64_t)time(NULL) | 1;
        printf("# seed %llu\n", (unsigned long long)seed_state);
    }
    return seed_state;
}

/* Asserts that b holds exactly what cJSON prints for item (consumed). */
static void same_as_cjson(sl_buf *b, cJSON *item)
{
    char *want = cJSON_PrintUnformatted(item);
    assert_non_null(want);
    assert_false(b->oom);
    if (b->len != strlen(want) || memcmp(b->data, want, b->len) != 0)
        fail_msg("cJSON: %s\nfast:  %.*s", want, (int)b->len, b->data);
    free(want);
    cJSON_Delete(item);
}

static void strings(void **state)
{
    (void)state;
    char s[256];
    /* each byte value alone, then all of them in one string (NUL ends a C string) */
    for (int c = 1; c < 256; c++) {
        s[0] = (char)c;
        s[1] = '\0';
        sl_buf b = SL_BUF_INIT;
        sl_ds_fast_str(&b, s, 1);
        same_as_cjson(&b, cJSON_CreateString(s));
        sl_buf_cleanup(&b);
    }
    for (int c = 1; c < 256; c++)
        s[c - 1] = (char)c;
    s[255] = '\0';
    sl_buf b = SL_BUF_INIT;
    sl_ds_fast_str(&b, s, 255);
    same_as_cjson(&b, cJSON_CreateString(s));
    sl_buf_reset(&b);
    sl_ds_fast_str(&b, "", 0);
    same_as_cjson(&b, cJSON_CreateString(""));
    sl_buf_reset(&b);
    sl_ds_fast_member_str(&b, "ShardId", "shardId-000000000003");
    assert_string_equal(b.data, "\"ShardId\":\"shardId-000000000003\"");
    sl_buf_cleanup(&b);
}

static void numbers(void **state)
{
    (void)state;
    static const int64_t v[] = {0,          1,          9,           10,        499, 500,
                                2147483647, 2147483648, 86400000000, 1LL << 40, -1,  -2147483648LL};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        sl_buf b = SL_BUF_INIT;
        sl_ds_fast_int(&b, v[i]);
        same_as_cjson(&b, cJSON_CreateNumber((double)v[i]));
        sl_buf_cleanup(&b);
    }
}

static void timestamp_case(int64_t ms)
{
    sl_buf b = SL_BUF_INIT;
    sl_ds_fast_timestamp(&b, ms);
    cJSON *o = cJSON_CreateObject();
    assert_int_equal(sl_wire_json_add_timestamp(o, "t", ms), 0);
    cJSON *n = cJSON_DetachItemFromObject(o, "t");
    cJSON_Delete(o);
    same_as_cjson(&b, n);
    sl_buf_cleanup(&b);
}

static void timestamps(void **state)
{
    (void)state;
    static const int64_t fixed[] = {0,
                                    1,
                                    10,
                                    100,
                                    999,
                                    1000,
                                    1001,
                                    1010,
                                    1100,
                                    1459799926480,
                                    1764182400000,
                                    1764182400123,
                                    999999999999,
                                    1000000000000,
                                    4102444800001,
                                    9999999999990,
                                    9999999999999,
                                    10000000000000,
                                    10000000000001,
                                    -1,
                                    -1500};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        timestamp_case(fixed[i]);
    seed_once();
    for (int i = 0; i < 100000; i++)
        timestamp_case((int64_t)(rng() % 20000000000000ULL));
}

/* add_record's cJSON shape (ds_data.c). */
static cJSON *record_cjson(const char *seq, int64_t ts, const uint8_t *d, size_t n, const char *pk,
                           int kms)
{
    char *b64 = malloc(SL_BASE64_LEN(n) + 1);
    assert_non_null(b64);
    sl_base64_encode(d, n, b64);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "SequenceNumber", seq);
    sl_wire_json_add_timestamp(o, "ApproximateArrivalTimestamp", ts);
    cJSON_AddStringToObject(o, "Data", b64);
    cJSON_AddStringToObject(o, "PartitionKey", pk);
    cJSON_AddStringToObject(o, "EncryptionType", kms ? "KMS" : "NONE");
    free(b64);
    return o;
}

static void records(void **state)
{
    (void)state;
    seed_once();
    uint8_t data[600];
    char pk[257];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = (size_t)(rng() % sizeof(data)), pk_len = 1 + (size_t)(rng() % 256);
        for (size_t i = 0; i < n; i++)
            data[i] = (uint8_t)rng();
        for (size_t i = 0; i < pk_len; i++)
            pk[i] = (char)(1 + rng() % 255);
        pk[pk_len] = '\0';
        int64_t ts = (int64_t)(1400000000000ULL + rng() % 400000000000ULL);
        int kms = (int)(rng() & 1);
        const char *seq = "49590338271490256608559692538361571095921575989136588898";
        sl_buf b = SL_BUF_INIT;
        sl_ds_fast_record(&b, seq, ts, data, n, pk, pk_len, kms);
        same_as_cjson(&b, record_cjson(seq, ts, data, n, pk, kms));
        sl_buf_cleanup(&b);
    }
}

static void hash_keys(void **state)
{
    (void)state;
    seed_once();
    char k[300];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(rng() % sizeof(k));
        for (size_t i = 0; i < n; i++)
            k[i] = (char)rng();
        sl_u128 want = sl_ds_hashkey_of_partition_key(k, n), got = sl_ds_fast_hashkey(k, n);
        if (want != got)
            fail_msg("hash key of a %zu-byte key differs (seed %llu)", n,
                     (unsigned long long)seed_state);
    }
    /* a known value: MD5("a") = 0cc175b9c0f1b6a831c399e269772661 */
    sl_u128 a = sl_ds_fast_hashkey("a", 1);
    assert_true((uint64_t)(a >> 64) == 0x0cc175b9c0f1b6a8ULL);
    assert_true((uint64_t)a == 0x31c399e269772661ULL);
}

/* Which requests may be answered directly, and what the direct answer looks like. */
static void json_ok_and_reply(void **state)
{
    (void)state;
    sl_service_def json = {.proto = SL_PROTO_AWS_JSON}, rest = {.proto = SL_PROTO_REST_JSON};
    sl_op_def op = {.service = &json}, rop = {.service = &rest};
    static const struct {
        const char *ct;
        int ok;
    } cases[] = {
        {"application/x-amz-json-1.1", 1},
        {"Application/X-Amz-Json-1.1", 1},
        {"application/x-amz-json-1.1; charset=utf-8", 1},
        {" application/x-amz-json-1.1", 1},
        {"application/x-amz-json-1.10", 0},
        {"application/x-amz-json-1.", 0},
        {"application/x-amz-cbor-1.1", 0},
        {"application/json", 0},
        {"", 0},
        {NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_exchange ex;
        fx_request(&ex, "POST", "/", cases[i].ct, "Kinesis_20131202.PutRecord", "{}");
        sl_api_call call = {.ex = &ex, .req = &ex.req, .op = &op};
        if (sl_ds_fast_json_ok(&call) != cases[i].ok)
            fail_msg("Content-Type \"%s\": want %d", cases[i].ct ? cases[i].ct : "(none)",
                     cases[i].ok);
        call.op = &rop;
        assert_int_equal(sl_ds_fast_json_ok(&call), 0);
        fx_cleanup(&ex);
    }
    sl_exchange ex;
    fx_request(&ex, "POST", "/", "application/x-amz-json-1.1", "Kinesis_20131202.PutRecord", "{}");
    sl_api_call call = {.ex = &ex, .req = &ex.req, .op = &op};
    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "{\"a\":1}");
    assert_int_equal(sl_ds_fast_reply(&call, &b), 0);
    assert_int_equal(ex.status, 200);
    assert_string_equal(ex.content_type, "application/x-amz-json-1.1");
    assert_int_equal(ex.body_len, 7);
    assert_memory_equal(ex.body, "{\"a\":1}", 7);
    /* a large body is handed over by reference: same bytes, b left empty */
    sl_buf big = SL_BUF_INIT;
    for (int i = 0; i < 5000; i++)
        sl_buf_printf(&big, "%s%d", i ? "," : "[", i);
    sl_buf_append_byte(&big, ']');
    assert_true(big.len >= SL_DS_FAST_REF_BYTES);
    char *copy = strdup(big.data);
    size_t big_len = big.len;
    assert_int_equal(sl_ds_fast_reply(&call, &big), 0);
    assert_int_equal(ex.responses, 2);
    assert_int_equal(ex.body_len, big_len);
    assert_memory_equal(ex.body, copy, big_len);
    assert_int_equal(big.len, 0);
    free(copy);
    sl_buf_cleanup(&big);
    b.oom = 1; /* a failed build is not sent */
    ex.responses = 0;
    assert_int_equal(sl_ds_fast_reply(&call, &b), SL_ENOMEM);
    assert_int_equal(ex.responses, 0);
    sl_buf_cleanup(&b);
    fx_cleanup(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strings), cmocka_unit_test(numbers),   cmocka_unit_test(timestamps),
        cmocka_unit_test(records), cmocka_unit_test(hash_keys), cmocka_unit_test(json_ok_and_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
