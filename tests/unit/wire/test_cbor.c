/* Unit tests for api/wire/cbor.c: CBOR request bodies decoded into the JSON 1.1 tree (every
 * integer width, half/single/double floats, definite and indefinite maps, arrays and strings,
 * tag 1 epoch milliseconds around an int or a float, the spec's example fragment), precise
 * errors for malformed input and the nesting cap, replies encoded by the operations' output
 * shapes (blobs as byte strings, timestamps as tag 1 + integer ms), and the reply functions
 * switching to CBOR for CBOR requests. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../api/wire/wire_int.h"
#include "../api/fake_exchange.inc"

#define B(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

static cJSON *dec_ok(const uint8_t *p, size_t n)
{
    cJSON *out = NULL;
    sl_diag d = {0};
    int rc = sl_wire_cbor_decode(p, n, 1 << 20, &out, &d);
    if (rc != 0)
        fail_msg("decode failed: %s (%s)", d.text, sl_err_name(rc));
    assert_non_null(out);
    return out;
}

/* Decodes p, expects failure with code and a message containing what; returns the offset. */
static size_t dec_err(const uint8_t *p, size_t n, int code, const char *what)
{
    cJSON *out = NULL;
    sl_diag d = {0};
    int rc = sl_wire_cbor_decode(p, n, 1 << 20, &out, &d);
    assert_null(out);
    if (rc != code || !strstr(d.text, what))
        fail_msg("want %s '%s', got %s '%s'", sl_err_name(code), what, sl_err_name(rc), d.text);
    return d.offset;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", k);
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsString(v))
        fail_msg("%s is not a string", k);
    return v->valuestring;
}

static void spec_fragment(void **state)
{
    (void)state;
    /* {"Timestamp": tag1(1787036486712)}: shared/spec/data-streams.md §1.4 */
    cJSON *o = dec_ok(B(0xA1, 0x69, 'T', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p', 0xC1, 0x1B, 0x00,
                        0x00, 0x01, 0xA0, 0x13, 0xAC, 0xCC, 0x38));
    assert_true(fabs(num(o, "Timestamp") - 1787036486.712) < 1e-6);
    /* the handlers turn seconds back into ms with llround(s * 1000): exact */
    assert_int_equal(llround(num(o, "Timestamp") * 1000.0), 1787036486712LL);
    cJSON_Delete(o);
}

static void tag1_float(void **state)
{
    (void)state;
    /* tag 1 around a double of ms (1787036486712.5) and around a half float (1.5 ms) */
    cJSON *o = dec_ok(B(0xA2, 0x61, 'a', 0xC1, 0xFB, 0x42, 0x7A, 0x01, 0x3A, 0xCC, 0xC3, 0x88, 0x00,
                        0x61, 'b', 0xC1, 0xF9, 0x3E, 0x00));
    assert_true(fabs(num(o, "a") - 1787036486.7125) < 1e-6);
    assert_true(fabs(num(o, "b") - 0.0015) < 1e-12);
    cJSON_Delete(o);
    /* self-described CBOR (tag 55799) in front of the map is skipped */
    o = dec_ok(B(0xD9, 0xD9, 0xF7, 0xA1, 0x61, 'x', 0x01));
    assert_int_equal((int)num(o, "x"), 1);
    cJSON_Delete(o);
}

static void int_widths(void **state)
{
    (void)state;
    cJSON *o = dec_ok(B(0xAA,                                         /* map of 10 */
                        0x61, 'a', 0x17,                              /* 23 */
                        0x61, 'b', 0x18, 0xFF,                        /* 255 */
                        0x61, 'c', 0x19, 0xFF, 0xFF,                  /* 65535 */
                        0x61, 'd', 0x1A, 0xFF, 0xFF, 0xFF, 0xFF,      /* 2^32-1 */
                        0x61, 'e', 0x1B, 0, 0, 0, 1, 0, 0, 0, 0,      /* 2^32 */
                        0x61, 'f', 0x20,                              /* -1 */
                        0x61, 'g', 0x38, 0xFF,                        /* -256 */
                        0x61, 'h', 0x39, 0x01, 0x00,                  /* -257 */
                        0x61, 'i', 0x3A, 0x00, 0x01, 0x00, 0x00,      /* -65537 */
                        0x61, 'j', 0x3B, 0, 0, 0, 0x01, 0, 0, 0, 0)); /* -2^32-1 */
    assert_true(num(o, "a") == 23);
    assert_true(num(o, "b") == 255);
    assert_true(num(o, "c") == 65535);
    assert_true(num(o, "d") == 4294967295.0);
    assert_true(num(o, "e") == 4294967296.0);
    assert_true(num(o, "f") == -1);
    assert_true(num(o, "g") == -256);
    assert_true(num(o, "h") == -257);
    assert_true(num(o, "i") == -65537);
    assert_true(num(o, "j") == -4294967297.0);
    cJSON_Delete(o);
}

static void floats(void **state)
{
    (void)state;
    cJSON *o = dec_ok(B(0xA4, 0x61, 'h', 0xF9, 0x3C, 0x00,       /* half 1.0 */
                        0x61, 'n', 0xF9, 0xB8, 0x00,             /* half -0.5 */
                        0x61, 's', 0xFA, 0x47, 0xC3, 0x50, 0x00, /* single 100000 */
                        0x61, 'd', 0xFB, 0x3F, 0xF1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A)); /* 1.1 */
    assert_true(num(o, "h") == 1.0);
    assert_true(num(o, "n") == -0.5);
    assert_true(num(o, "s") == 100000.0);
    assert_true(num(o, "d") == 1.1);
    cJSON_Delete(o);
    /* NaN / infinity have no JSON form */
    dec_err(B(0xA1, 0x61, 'x', 0xF9, 0x7E, 0x00), SL_EPARSE, "not finite");
    dec_err(B(0xA1, 0x61, 'x', 0xF9, 0x7C, 0x00), SL_EPARSE, "not finite");
}

static void indefinite(void **state)
{
    (void)state;
    /* {_ "StreamName": (_ "my", "-stream"), "Data": (_ h'00', h'01ff'), "L": [_ 1, [_ ], {}],
     *   "T": true, "F": false, "N": null, "U": undefined } */
    cJSON *o =
        dec_ok(B(0xBF, 0x6A, 'S', 't', 'r', 'e', 'a', 'm', 'N', 'a', 'm', 'e', 0x7F, 0x62, 'm', 'y',
                 0x67, '-', 's', 't', 'r', 'e', 'a', 'm', 0xFF, 0x64, 'D', 'a', 't', 'a', 0x5F,
                 0x41, 0x00, 0x42, 0x01, 0xFF, 0xFF, 0x61, 'L', 0x9F, 0x01, 0x9F, 0xFF, 0xA0, 0xFF,
                 0x61, 'T', 0xF5, 0x61, 'F', 0xF4, 0x61, 'N', 0xF6, 0x61, 'U', 0xF7, 0xFF));
    assert_string_equal(str(o, "StreamName"), "my-stream");
    assert_string_equal(str(o, "Data"), "AAH/"); /* base64 of 00 01 ff */
    const cJSON *l = cJSON_GetObjectItem(o, "L");
    assert_int_equal(cJSON_GetArraySize(l), 3);
    assert_true(cJSON_IsArray(cJSON_GetArrayItem(l, 1)));
    assert_true(cJSON_IsObject(cJSON_GetArrayItem(l, 2)));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "T")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(o, "F")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "N")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "U")));
    cJSON_Delete(o);
    /* an empty indefinite byte string and an empty definite one */
    o = dec_ok(B(0xA2, 0x61, 'a', 0x5F, 0xFF, 0x61, 'b', 0x40));
    assert_string_equal(str(o, "a"), "");
    assert_string_equal(str(o, "b"), "");
    cJSON_Delete(o);
}

static void malformed(void **state)
{
    (void)state;
    dec_err(NULL, 0, SL_EPARSE, "empty body");
    assert_int_equal(dec_err(B(0xA1, 0x63, 'a', 'b'), SL_EPARSE, "truncated"), 1);
    assert_int_equal(dec_err(B(0xA1, 0x61, 'a', 0x1C), SL_EPARSE, "malformed CBOR item at byte 3"),
                     3);
    dec_err(B(0xA2, 0x61, 'a', 0x01), SL_EPARSE, "truncated CBOR body");
    /* a count no body can hold ends as truncated, without allocating for it */
    dec_err(B(0xBB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x61, 'a', 0x01), SL_EPARSE,
            "truncated");
    dec_err(B(0xA1, 0x5B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00), SL_EPARSE,
            "truncated");
    dec_err(B(0xA1, 0x01, 0x02), SL_EPARSE, "map key is not a text string");
    dec_err(B(0xA1, 0x41, 'k', 0x02), SL_EPARSE, "map key is not a text string");
    dec_err(B(0x80), SL_EPARSE, "body is not a CBOR map");
    dec_err(B(0x61, 'x'), SL_EPARSE, "body is not a CBOR map");
    assert_int_equal(dec_err(B(0xA0, 0x00), SL_EPARSE, "data after the CBOR map"), 1);
    dec_err(B(0xA0, 0xFF), SL_EPARSE, "data after the CBOR map");
    dec_err(B(0xA1, 0x61, 'a', 0xFF), SL_EPARSE, "break outside an indefinite-length item");
    dec_err(B(0xA1, 0x61, 'a', 0xC2, 0x41, 0x01), SL_EPARSE, "unsupported tag 2");
    dec_err(B(0xA1, 0x61, 'a', 0xC1, 0x61, 'x'), SL_EPARSE, "tag 1 (timestamp) around something");
    dec_err(B(0xA1, 0x61, 'a', 0xC1, 0xC1, 0x01), SL_EPARSE, "tag 1 around another tag");
    dec_err(B(0xA1, 0x61, 'a', 0x63, 'x', 0x00, 'y'), SL_EPARSE, "NUL");
    dec_err(B(0xA1, 0x61, 'a', 0x7F, 0x41, 'x', 0xFF), SL_EPARSE, "another string type");
    dec_err(B(0xA1, 0x61, 'a', 0x7F, 0x01, 0xFF), SL_EPARSE, "not a definite string");
    dec_err(B(0xBF, 0x61, 'a', 0xFF), SL_EPARSE, "map key without a value");
    dec_err(B(0xBF, 0x61, 'a', 0x01), SL_EPARSE, "truncated CBOR body");
    /* simple values other than false/true/null/undefined have no JSON form */
    dec_err(B(0xA1, 0x61, 'a', 0xE0), SL_EPARSE, "malformed CBOR item at byte 3");
    dec_err(B(0xA1, 0x61, 'a', 0xF8, 0x20), SL_EPARSE, "malformed CBOR item at byte 3");
    /* size cap */
    cJSON *out = NULL;
    sl_diag d = {0};
    assert_int_equal(sl_wire_cbor_decode((const uint8_t *)"\xa0\xa0", 2, 1, &out, &d), SL_ETOOBIG);
}

static void depth_cap(void **state)
{
    (void)state;
    /* {"a": [[[...]]]}: the map plus n-1 arrays is n levels */
    uint8_t buf[200];
    for (int levels = SL_CBOR_MAX_DEPTH; levels <= SL_CBOR_MAX_DEPTH + 1; levels++) {
        size_t n = 0;
        buf[n++] = 0xA1;
        buf[n++] = 0x61;
        buf[n++] = 'a';
        for (int i = 1; i < levels; i++)
            buf[n++] = 0x81;
        buf[n++] = 0x00;
        if (levels == SL_CBOR_MAX_DEPTH) {
            cJSON *o = dec_ok(buf, n);
            cJSON_Delete(o);
        } else {
            assert_int_equal(dec_err(buf, n, SL_EPARSE, "nesting deeper than 64 levels"),
                             3 + SL_CBOR_MAX_DEPTH - 1);
        }
    }
    /* the encoder has the same cap */
    cJSON *deep = cJSON_CreateObject(), *cur = deep;
    for (int i = 0; i < SL_CBOR_MAX_DEPTH + 2; i++) {
        cJSON *a = cJSON_CreateArray();
        if (cJSON_IsObject(cur))
            cJSON_AddItemToObject(cur, "a", a);
        else
            cJSON_AddItemToArray(cur, a);
        cur = a;
    }
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_wire_cbor_encode(deep, NULL, &b), SL_EINVAL);
    sl_buf_cleanup(&b);
    cJSON_Delete(deep);
}

static const sl_op_def *kop(const char *name)
{
    const sl_op_def *op = sl_model_op(sl_model_service("kinesis"), name, strlen(name));
    assert_non_null(op);
    return op;
}

static int contains(const sl_buf *b, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, p, n) == 0)
            return 1;
    return 0;
}

static void encode_by_shape(void **state)
{
    (void)state;
    const sl_op_def *op = kop("GetRecords");
    assert_non_null(op->output);
    cJSON *o =
        cJSON_Parse("{\"Records\":[{\"SequenceNumber\":\"4959\",\"ApproximateArrivalTimestamp\":"
                    "1787036486.712,\"Data\":\"AAH/\",\"PartitionKey\":\"pk\"}],"
                    "\"NextShardIterator\":\"it\",\"MillisBehindLatest\":0}");
    assert_non_null(o);
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_wire_cbor_encode(o, op->output, &b), 0);
    assert_int_equal((uint8_t)b.data[0], 0xA3);           /* definite map of 3 */
    assert_true(contains(&b, B(0x43, 0x00, 0x01, 0xFF))); /* Data as a byte string */
    assert_true(contains(&b, B(0xC1, 0x1B, 0x00, 0x00, 0x01, 0xA0, 0x13, 0xAC, 0xCC, 0x38)));
    assert_true(contains(&b, B(0x72, 'M', 'i', 'l', 'l', 'i', 's', 'B', 'e', 'h', 'i', 'n', 'd',
                               'L', 'a', 't', 'e', 's', 't', 0x00)));
    /* and back: the same tree */
    cJSON *back = dec_ok((const uint8_t *)b.data, b.len);
    assert_true(cJSON_Compare(o, back, 1));
    cJSON_Delete(back);
    cJSON_Delete(o);

    /* DescribeStream: the creation timestamp is a tag 1 deep inside StreamDescription */
    o = cJSON_Parse("{\"StreamDescription\":{\"StreamName\":\"s\",\"StreamCreationTimestamp\":"
                    "1700000000.5,\"Shards\":[],\"HasMoreShards\":false,"
                    "\"RetentionPeriodHours\":24}}");
    sl_buf_reset(&b);
    assert_int_equal(sl_wire_cbor_encode(o, kop("DescribeStream")->output, &b), 0);
    assert_true(contains(&b, B(0xC1, 0x1B, 0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x69, 0xF4)));
    assert_true(contains(&b, B(0x18, 0x18))); /* 24 as an int */
    assert_true(contains(&b, B(0xF4)));
    cJSON_Delete(o);

    /* a blob member that is not base64 is refused, not sent as text */
    o = cJSON_Parse("{\"Records\":[{\"Data\":\"not base64!\"}]}");
    sl_buf_reset(&b);
    assert_int_equal(sl_wire_cbor_encode(o, op->output, &b), SL_EINVAL);
    cJSON_Delete(o);
    sl_buf_cleanup(&b);
}

static void untyped_round_trip(void **state)
{
    (void)state;
    const char *docs[] = {
        "{}",
        "{\"a\":1,\"b\":-1,\"c\":0.25,\"d\":-1e300,\"e\":4294967296,\"f\":-9007199254740991}",
        /* below -2^53 a negative int must decode with one rounding, not two */
        "{\"g\":-9007199254740994,\"h\":-9331882154377970,\"i\":-18446744073709551616}",
        "{\"s\":\"\",\"t\":\"\\u00e9\\u4e2d\\ud83d\\ude00\",\"n\":null,\"x\":[true,false,[],{}]}",
        "{\"long\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "\"}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cJSON *o = cJSON_Parse(docs[i]);
        assert_non_null(o);
        sl_buf b = SL_BUF_INIT;
        assert_int_equal(sl_wire_cbor_encode(o, NULL, &b), 0);
        cJSON *back = dec_ok((const uint8_t *)b.data, b.len);
        if (!cJSON_Compare(o, back, 1))
            fail_msg("round trip changed %s", docs[i]);
        cJSON_Delete(back);
        cJSON_Delete(o);
        sl_buf_cleanup(&b);
    }
}

static void is_cbor(void **state)
{
    (void)state;
    sl_exchange ex;
    const char *yes[] = {"application/x-amz-cbor-1.1", "Application/X-Amz-CBOR-1.1; charset=utf-8",
                         " application/x-amz-cbor-1.1 "};
    const char *no[] = {"application/x-amz-json-1.1", "application/x-amz-cbor-1.10",
                        "application/x-amz-cbor-1", "", NULL};
    for (size_t i = 0; i < 3; i++) {
        fx_request(&ex, "POST", "/", yes[i], "Kinesis_20131202.ListStreams", "");
        assert_true(sl_wire_is_cbor(&ex));
    }
    for (size_t i = 0; i < 5; i++) {
        fx_request(&ex, "POST", "/", no[i], "Kinesis_20131202.ListStreams", "");
        assert_false(sl_wire_is_cbor(&ex));
    }
}

/* Decodes the recorded reply body (a CBOR map). */
static cJSON *reply_map(sl_exchange *ex)
{
    assert_string_equal(ex->content_type, SL_CT_AMZ_CBOR);
    return dec_ok((const uint8_t *)ex->body, ex->body_len);
}

static void replies_follow_request(void **state)
{
    (void)state;
    const sl_op_def *op = kop("DescribeStreamSummary");
    sl_exchange ex;
    fx_request(&ex, "POST", "/", SL_CT_AMZ_CBOR, "Kinesis_20131202.DescribeStreamSummary", "x");
    sl_wire_reply_error(&ex, SL_PROTO_AWS_JSON, op->service, 0, "ResourceNotFoundException",
                        "Stream s under account 000000000000 not found.", NULL);
    assert_int_equal(ex.status, 400);
    cJSON *m = reply_map(&ex);
    assert_string_equal(str(m, "__type"), "ResourceNotFoundException");
    assert_string_equal(str(m, "message"), "Stream s under account 000000000000 not found.");
    cJSON_Delete(m);

    sl_wire_reply_serialization(&ex, SL_PROTO_AWS_JSON, "bad", NULL);
    m = reply_map(&ex);
    assert_string_equal(str(m, "Message"), "bad"); /* as JSON 1.1 spells it */
    cJSON_Delete(m);

    sl_api_call call = {.ex = &ex, .req = &ex.req, .op = op};
    cJSON *out = cJSON_Parse("{\"StreamDescriptionSummary\":{\"StreamName\":\"s\","
                             "\"StreamCreationTimestamp\":1787036486.712,\"OpenShardCount\":2}}");
    sl_wire_reply_ok(&call, out);
    assert_int_equal(ex.status, 200);
    m = reply_map(&ex);
    assert_true(cJSON_Compare(m, out, 1));
    cJSON_Delete(m);
    sl_wire_reply_ok(&call, NULL); /* no output: empty body */
    assert_int_equal(ex.status, 200);
    assert_int_equal(ex.body_len, 0);
    fx_cleanup(&ex);

    /* the same call over JSON stays JSON */
    fx_request(&ex, "POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.DescribeStreamSummary", "{}");
    sl_wire_reply_ok(&call, out);
    assert_string_equal(ex.content_type, SL_CT_AMZ_JSON);
    assert_int_equal(ex.body[0], '{');
    cJSON_Delete(out);
    fx_cleanup(&ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_fragment),
        cmocka_unit_test(tag1_float),
        cmocka_unit_test(int_widths),
        cmocka_unit_test(floats),
        cmocka_unit_test(indefinite),
        cmocka_unit_test(malformed),
        cmocka_unit_test(depth_cap),
        cmocka_unit_test(encode_by_shape),
        cmocka_unit_test(untyped_round_trip),
        cmocka_unit_test(is_cbor),
        cmocka_unit_test(replies_follow_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
