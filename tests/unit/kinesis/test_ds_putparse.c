/* Unit tests for api/kinesis/ds_putparse.c, the PutRecords / PutRecord fast reader.
 *   - accepted bodies yield the right members (pointers into the body, decoded Data);
 *   - each rule of the subset refuses what it should, with the reason the parser gives;
 *   - the limits written into the parser are the model's (shared aws-models via the generated
 *     tables), so a model change cannot silently widen what the fast path takes;
 *   - differential: every body of the tests above, plus each constraint at its limit and one
 *     past it, goes through put_check (tests/fuzz/fuzz_putrecords.c, the fuzz target's
 *     property): when the fast path takes a body, the generic decode + validation must accept
 *     it with the same member values. The test also asserts which bodies are taken, so a parser
 *     that refused everything would fail it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../fuzz/fuzz_putrecords.c"
#include "../api/fake_exchange.inc" /* sl_api links the gateway's sl_exchange_* */

/* ---- helpers ------------------------------------------------------------------------------- */

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* Parses body as PutRecords (single 0) or PutRecord; fails the test with the reason unless
 * the result is `want` (0 or SL_EPARSE); with SL_EPARSE and why, the reason must contain why.
 * Runs the differential check on the body as well. */
static void expect(const char *body, int single, int want, const char *why)
{
    sl_diag d = {0};
    int got = put_check((const uint8_t *)body, strlen(body), single, &d);
    int want_taken = want == 0 ? PUT_TAKEN : PUT_NOT_MINE;
    if (got != want_taken)
        fail_msg("%s: expected %s, got %s (%s at byte %zu)\nbody: %.300s",
                 single ? "PutRecord" : "PutRecords", want ? "not mine" : "taken",
                 got == PUT_TAKEN ? "taken" : "not mine", d.text, d.offset, body);
    if (want && why && !strstr(d.text, why))
        fail_msg("refused for \"%s\" (byte %zu), expected \"%s\"\nbody: %.300s", d.text, d.offset,
                 why, body);
}

static char *printf_body(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *printf_body(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A PutRecords body with one record whose members are given as raw JSON text. */
static char *one_record(const char *stream_json, const char *record_json)
{
    return printf_body("{\"StreamName\":%s,\"Records\":[%s]}", stream_json, record_json);
}

/* ---- accepted bodies ------------------------------------------------------------------------ */

static void members_of_putrecords(void **state)
{
    (void)state;
    /* boto3 spacing (", " and ": "), members in any order, ExplicitHashKey on one record */
    const char *body = "{\"Records\": [{\"Data\": \"aGVsbG8=\", \"PartitionKey\": \"k1\"}, "
                       "{\"PartitionKey\": \"k2\", \"ExplicitHashKey\": \"42\", \"Data\": \"\"}, "
                       "{\"Data\": \"AAEC\", \"PartitionKey\": \"k3\"}], \"StreamName\": \"s-1\"}";
    sl_ds_put_body b;
    sl_diag d = {0};
    assert_int_equal(sl_ds_putparse_records(body, strlen(body), &b, &d), 0);
    assert_int_equal(b.stream_len, 3);
    assert_memory_equal(b.stream, "s-1", 3);
    assert_true(b.stream > body && b.stream < body + strlen(body)); /* points into the body */
    assert_int_equal(b.n, 3);
    assert_int_equal(b.recs[0].pk_len, 2);
    assert_memory_equal(b.recs[0].pk, "k1", 2);
    assert_null(b.recs[0].ehk);
    assert_int_equal(b.recs[0].data_len, 5);
    assert_memory_equal(b.recs[0].data, "hello", 5);
    assert_memory_equal(b.recs[1].pk, "k2", 2);
    assert_int_equal(b.recs[1].ehk_len, 2);
    assert_memory_equal(b.recs[1].ehk, "42", 2);
    assert_int_equal(b.recs[1].data_len, 0);
    assert_int_equal(b.recs[2].data_len, 3);
    assert_memory_equal(b.recs[2].data, "\x00\x01\x02", 3);
    /* one block: records' data follow each other */
    assert_ptr_equal(b.recs[2].data, b.recs[0].data + 5);
    sl_ds_putparse_cleanup(&b);
    assert_null(b.recs);
    assert_null(b.blob);
    expect(body, 0, 0, NULL);
}

static void members_of_putrecord(void **state)
{
    (void)state;
    const char *body = " \r\n{\t\"PartitionKey\" :\n\"pk\" ,\r\"StreamName\":\"bench\", "
                       "\"ExplicitHashKey\":\"0\",\"Data\":\"/w==\"}\n ";
    sl_ds_put_body b;
    assert_int_equal(sl_ds_putparse_record(body, strlen(body), &b, NULL), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.stream_len, 5);
    assert_memory_equal(b.stream, "bench", 5);
    assert_memory_equal(b.recs[0].pk, "pk", 2);
    assert_int_equal(b.recs[0].ehk_len, 1);
    assert_int_equal(b.recs[0].data_len, 1);
    assert_int_equal(b.recs[0].data[0], 0xff);
    sl_ds_putparse_cleanup(&b);
    expect(body, 1, 0, NULL);
    /* the loadgen body */
    expect("{\"StreamName\":\"bench\",\"Data\":\"AAECAwQF\",\"PartitionKey\":\"0000002a\"}", 1, 0,
           NULL);
}

/* ---- what the subset refuses ---------------------------------------------------------------- */

static void structure_rules(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int single;
        const char *why;
    } cases[] = {
        {"", 0, "not an object"},
        {"[]", 0, "not an object"},
        {"\xef\xbb\xbf{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}",
         0, "not an object"}, /* BOM */
        {"\f{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
         "not an object"}, /* form feed is not JSON whitespace */
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}x", 0,
         "bytes after"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}{}", 0,
         "bytes after"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}],}", 0,
         "not a string"}, /* trailing comma */
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"},]}", 0,
         "not an object"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]", 0,
         "neither a comma"},
        {"{\"StreamName\":\"s\" \"Records\":[]}", 0, "neither a comma"},
        {"{\"StreamName\" \"s\"}", 0, "no colon"},
        {"{}", 0, "not a string"},
        {"{\"StreamName\":\"s\"}", 0, "missing"},
        {"{\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0, "missing"},
        {"{\"StreamARN\":\"arn:aws:kinesis:us-east-1:000000000000:stream/s\",\"Records\":[{"
         "\"Data\":\"\",\"PartitionKey\":\"p\"}]}",
         0, "outside the subset"},
        {"{\"StreamName\":\"s\",\"StreamId\":\"abcdefghij0123456789-abc\",\"Records\":[{"
         "\"Data\":\"\",\"PartitionKey\":\"p\"}]}",
         0, "outside the subset"},
        {"{\"StreamName\":\"s\",\"Unknown\":\"x\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":"
         "\"p\"}]}",
         0, "outside the subset"},
        {"{\"streamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
         "outside the subset"},
        {"{\"StreamName\":\"s\",\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\","
         "\"PartitionKey\":\"p\"}]}",
         0, "duplicate"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}],"
         "\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}",
         0, "duplicate"},
        {"{\"StreamName\":null,\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
         "not a string"},
        {"{\"StreamName\":1,\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
         "not a string"},
        {"{\"StreamName\":{\"a\":\"b\"},\"Records\":[]}", 0, "not a string"},
        {"{\"StreamName\":\"s\",\"Records\":null}", 0, "not an array"},
        {"{\"StreamName\":\"s\",\"Records\":{\"Data\":\"\",\"PartitionKey\":\"p\"}}", 0,
         "not an array"},
        {"{\"StreamName\":\"s\",\"Records\":[]}", 0, "no records"},
        {"{\"StreamName\":\"s\",\"Records\":[null]}", 0, "not an object"},
        {"{\"StreamName\":\"s\",\"Records\":[[]]}", 0, "not an object"},
        {"{\"StreamName\":\"s\",\"Records\":[{}]}", 0, "not a string"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\"}]}", 0, "missing"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"PartitionKey\":\"p\"}]}", 0, "missing"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"Data\":\"\",\"PartitionKey\":\"p\"}"
         "]}",
         0, "duplicate"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\","
         "\"ExplicitHashKey\":null}]}",
         0, "not a string"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\","
         "\"ExplicitHashKey\":\"1\",\"ExplicitHashKey\":\"1\"}]}",
         0, "duplicate"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\",\"Extra\":"
         "\"x\"}]}",
         0, "outside the subset"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\","
         "\"StreamName\":\"s\"}]}",
         0, "outside the subset"}, /* StreamName is a top-level member only */
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":null,\"PartitionKey\":\"p\"}]}", 0,
         "Data is not a string"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":true,\"PartitionKey\":\"p\"}]}", 0,
         "Data is not a string"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":12}]}", 0,
         "not a string"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"AAAA", 0, "unterminated"},
        {"{\"StreamName\":\"s", 0, "unterminated"},
        /* PutRecord */
        {"{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"p\","
         "\"SequenceNumberForOrdering\":\"1\"}",
         1, "outside the subset"},
        {"{\"StreamName\":\"s\",\"StreamARN\":\"arn:aws:kinesis:us-east-1:000000000000:stream/"
         "s\",\"Data\":\"\",\"PartitionKey\":\"p\"}",
         1, "outside the subset"},
        {"{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 1,
         "outside the subset"},
        {"{\"Data\":\"\",\"PartitionKey\":\"p\"}", 1, "StreamName missing"},
        {"{\"StreamName\":\"s\",\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"p\"}", 1,
         "duplicate"},
        {"{\"StreamName\":\"s\",\"Data\":\"\"}", 1, "missing"},
        {"{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"p\"} x", 1, "bytes after"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect(cases[i].body, cases[i].single, SL_EPARSE, cases[i].why);
}

static void string_rules(void **state)
{
    (void)state;
    const char *why = "escape, control or non-ASCII";
    /* escapes, even of plain characters, control bytes and UTF-8 anywhere in a string */
    static const char *const pks[] = {
        "\"a\\\"b\"", "\"a\\\\b\"",       "\"\\u0041\"",          "\"a\\/b\"",    "\"a\tb\"",
        "\"a\nb\"",   "\"h\xc3\xa9llo\"", "\"\xf0\x9f\x98\x80\"", "\"\x7f\x80\"",
    };
    for (size_t i = 0; i < sizeof(pks) / sizeof(pks[0]); i++) {
        char *rec = printf_body("{\"Data\":\"\",\"PartitionKey\":%s}", pks[i]);
        char *body = one_record("\"s\"", rec);
        expect(body, 0, SL_EPARSE, why);
        free(body);
        free(rec);
    }
    /* in member names and the stream name too */
    expect("{\"Stream\\u004eame\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
           SL_EPARSE, why);
    expect("{\"StreamName\":\"s\\u0031\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
           SL_EPARSE, why);
    /* a NUL byte inside a string */
    static const char nul[] = "{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"a\0b\"}";
    sl_diag d = {0};
    assert_int_equal(put_check((const uint8_t *)nul, sizeof(nul) - 1, 1, &d), PUT_NOT_MINE);
    assert_non_null(strstr(d.text, why));
    /* 0x7F (DEL) is a plain character for JSON and for the model */
    expect("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"a\x7f\"}", 1, 0, NULL);
    /* Data with an escape is not base64 */
    expect("{\"StreamName\":\"s\",\"Data\":\"AA\\u003d=\",\"PartitionKey\":\"p\"}", 1, SL_EPARSE,
           "base64");
}

static void stream_name_rules(void **state)
{
    (void)state;
    char *name = repeat('a', 128);
    char *json = printf_body("\"%s\"", name);
    char *body = one_record(json, "{\"Data\":\"\",\"PartitionKey\":\"p\"}");
    expect(body, 0, 0, NULL);
    free(body);
    free(json);
    json = printf_body("\"%sa\"", name);
    body = one_record(json, "{\"Data\":\"\",\"PartitionKey\":\"p\"}");
    expect(body, 0, SL_EPARSE, "StreamName length");
    free(body);
    free(json);
    free(name);
    expect("{\"StreamName\":\"\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
           SL_EPARSE, "StreamName length");
    expect("{\"StreamName\":\"aZ09_.-\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0,
           0, NULL);
    static const char *const bad[] = {"a b", "a/b", "a:b", "a+b", "a~b", "a@b", "[a]", "a`"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json = printf_body("\"%s\"", bad[i]);
        body = one_record(json, "{\"Data\":\"\",\"PartitionKey\":\"p\"}");
        expect(body, 0, SL_EPARSE, "StreamName pattern");
        expect(body, 0, SL_EPARSE, NULL);
        free(body);
        free(json);
        body = printf_body("{\"StreamName\":\"%s\",\"Data\":\"\",\"PartitionKey\":\"p\"}", bad[i]);
        expect(body, 1, SL_EPARSE, "StreamName pattern");
        free(body);
    }
}

static void partition_key_rules(void **state)
{
    (void)state;
    char *pk = repeat('k', 256);
    char *body = printf_body("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"%s\"}", pk);
    expect(body, 1, 0, NULL);
    free(body);
    body = printf_body("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"%sk\"}", pk);
    expect(body, 1, SL_EPARSE, "PartitionKey length");
    free(body);
    body = printf_body("{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"%sk\"}"
                       "]}",
                       pk);
    expect(body, 0, SL_EPARSE, "PartitionKey length");
    free(body);
    free(pk);
    expect("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"\"}", 1, SL_EPARSE,
           "PartitionKey length");
    /* any printable ASCII, quotes aside */
    expect("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\" !#$%&'()*+,-./:;<=>?@[]^_`{|}~"
           "\"}",
           1, 0, NULL);
}

static void hash_key_rules(void **state)
{
    (void)state;
    static const struct {
        const char *ehk;
        int ok;
    } cases[] = {
        {"0", 1},
        {"1", 1},
        {"9", 1},
        {"340282366920938463463374607431768211455", 1},  /* 2^128-1: 39 digits */
        {"999999999999999999999999999999999999999", 1},  /* 39 digits: the pattern's limit */
        {"1000000000000000000000000000000000000000", 0}, /* 40 digits */
        {"", 0},
        {"00", 0},
        {"01", 0},
        {"-1", 0},
        {"+1", 0},
        {"1a", 0},
        {" 1", 0},
        {"1 ", 0},
        {"1.0", 0},
        {"0x10", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = printf_body("{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\","
                                 "\"PartitionKey\":\"p\",\"ExplicitHashKey\":\"%s\"}]}",
                                 cases[i].ehk);
        expect(body, 0, cases[i].ok ? 0 : SL_EPARSE, "ExplicitHashKey pattern");
        free(body);
        body = printf_body("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"p\","
                           "\"ExplicitHashKey\":\"%s\"}",
                           cases[i].ehk);
        expect(body, 1, cases[i].ok ? 0 : SL_EPARSE, "ExplicitHashKey pattern");
        free(body);
    }
    /* a number where a string is expected */
    expect("{\"StreamName\":\"s\",\"Data\":\"\",\"PartitionKey\":\"p\",\"ExplicitHashKey\":1}", 1,
           SL_EPARSE, "not a string");
}

static void data_rules(void **state)
{
    (void)state;
    static const struct {
        const char *b64;
        int ok;
    } cases[] =
        {
            {"", 1},     {"AA==", 1},   {"AAA=", 1},        {"AAAA", 1}, {"/+/+", 1},
            {"AQ==", 1}, {"AAE=", 1},   {"AR==", 0}, /* bits under the padding */
            {"AAF=", 0}, {"A", 0},      {"AA", 0},          {"AAA", 0},  {"AAAAA", 0},
            {"A===", 0}, {"====", 0},   {"AA=A", 0},        {"=AAA", 0}, {"AA==AAAA", 0},
            {"AA-_", 0}, /* the URL alphabet */
            {"AA A", 0}, {"AA\\nA", 0}, {"AAA\xc3\xa9", 0},
        };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = printf_body("{\"StreamName\":\"s\",\"Data\":\"%s\",\"PartitionKey\":\"p\"}",
                                 cases[i].b64);
        expect(body, 1, cases[i].ok ? 0 : SL_EPARSE, "base64");
        free(body);
        body = printf_body("{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"%s\",\"PartitionKey\":"
                           "\"p\"}]}",
                           cases[i].b64);
        expect(body, 0, cases[i].ok ? 0 : SL_EPARSE, "base64");
        free(body);
    }
}

/* The decoded-size limit: 10 MiB exactly is taken, a byte more is not. Such bodies are larger
 * than the service's body limit, so api.c never offers them; the parser keeps the model's
 * rule anyway. */
static void data_size_limit(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        size_t bytes = SL_DS_PUT_DATA_MAX + (size_t)extra;
        size_t chars = SL_BASE64_LEN(bytes);
        char *b64 = repeat('A', chars);
        if (bytes % 3 == 1)
            memcpy(b64 + chars - 2, "==", 2);
        else if (bytes % 3 == 2)
            b64[chars - 1] = '=';
        char *body =
            printf_body("{\"StreamName\":\"s\",\"Data\":\"%s\",\"PartitionKey\":\"p\"}", b64);
        sl_ds_put_body b;
        sl_diag d = {0};
        int rc = sl_ds_putparse_record(body, strlen(body), &b, &d);
        if (extra) {
            assert_int_equal(rc, SL_EPARSE);
            assert_non_null(strstr(d.text, "longer than the model allows"));
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(b.recs[0].data_len, SL_DS_PUT_DATA_MAX);
            sl_ds_putparse_cleanup(&b);
        }
        free(body);
        free(b64);
    }
}

/* Records: 1 and 500 are taken, 501 is not. */
static void record_count(void **state)
{
    (void)state;
    for (size_t n = 499; n <= 501; n++) {
        sl_buf b = SL_BUF_INIT;
        sl_buf_append_str(&b, "{\"StreamName\": \"s\", \"Records\": [");
        for (size_t i = 0; i < n; i++)
            sl_buf_printf(&b, "%s{\"Data\": \"AAEC\", \"PartitionKey\": \"%zu\"}", i ? ", " : "",
                          i);
        sl_buf_append_str(&b, "]}");
        assert_false(b.oom);
        expect(b.data, 0, n <= 500 ? 0 : SL_EPARSE, "more records");
        sl_buf_cleanup(&b);
    }
    expect("{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"\",\"PartitionKey\":\"p\"}]}", 0, 0,
           NULL);
}

/* The smallest records, packed: the record array is sized from the body length. */
static void tightly_packed_records(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    sl_buf_append_str(&b, "{\"Records\":[");
    for (size_t i = 0; i < 500; i++)
        sl_buf_printf(&b, "%s{\"Data\":\"\",\"PartitionKey\":\"%c\"}", i ? "," : "",
                      (char)('a' + i % 26));
    sl_buf_append_str(&b, "],\"StreamName\":\"s\"}");
    assert_false(b.oom);
    sl_ds_put_body body;
    assert_int_equal(sl_ds_putparse_records(b.data, b.len, &body, NULL), 0);
    assert_int_equal(body.n, 500);
    assert_memory_equal(body.recs[499].pk, "f", 1); /* 499 % 26 = 5 */
    sl_ds_putparse_cleanup(&body);
    expect(b.data, 0, 0, NULL);
    sl_buf_cleanup(&b);
}

/* The constants in ds_putparse.h are the model's. */
static void limits_match_the_model(void **state)
{
    (void)state;
    const sl_shape *in = put_op(0)->input, *rec = NULL, *list = NULL, *name = NULL;
    for (uint32_t i = 0; i < in->n_members; i++) {
        if (strcmp(in->members[i].name, "Records") == 0)
            list = in->members[i].shape;
        if (strcmp(in->members[i].name, "StreamName") == 0)
            name = in->members[i].shape;
    }
    assert_non_null(list);
    assert_non_null(name);
    rec = list->member;
    assert_int_equal(list->min, 1);
    assert_int_equal(list->max, SL_DS_PUT_RECORDS_MAX);
    assert_int_equal(name->min, 1);
    assert_int_equal(name->max, SL_DS_PUT_STREAM_MAX);
    assert_string_equal(sl_api_patterns[name->pattern].java, "[a-zA-Z0-9_.-]+");
    for (int single = 0; single <= 1; single++) {
        const sl_shape *s = single ? put_op(1)->input : rec;
        int found = 0;
        for (uint32_t i = 0; i < s->n_members; i++) {
            const sl_member *m = &s->members[i];
            if (strcmp(m->name, "PartitionKey") == 0) {
                found++;
                assert_true(m->required);
                assert_int_equal(m->shape->min, 1);
                assert_int_equal(m->shape->max, SL_DS_PUT_PK_MAX);
                assert_int_equal(m->shape->pattern, -1);
            } else if (strcmp(m->name, "Data") == 0) {
                found++;
                assert_true(m->required);
                assert_int_equal(m->shape->type, SL_SHAPE_BLOB);
                assert_int_equal(m->shape->max, (int64_t)SL_DS_PUT_DATA_MAX);
                assert_true(!m->shape->has_min || m->shape->min == 0);
            } else if (strcmp(m->name, "ExplicitHashKey") == 0) {
                found++;
                assert_false(m->shape->has_min || m->shape->has_max);
                assert_string_equal(sl_api_patterns[m->shape->pattern].java, "0|([1-9]\\d{0,38})");
            } else if (strcmp(m->name, "StreamName") == 0) {
                assert_ptr_equal(m->shape, name);
            }
        }
        assert_int_equal(found, 3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(members_of_putrecords),  cmocka_unit_test(members_of_putrecord),
        cmocka_unit_test(structure_rules),        cmocka_unit_test(string_rules),
        cmocka_unit_test(stream_name_rules),      cmocka_unit_test(partition_key_rules),
        cmocka_unit_test(hash_key_rules),         cmocka_unit_test(data_rules),
        cmocka_unit_test(data_size_limit),        cmocka_unit_test(record_count),
        cmocka_unit_test(tightly_packed_records), cmocka_unit_test(limits_match_the_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
