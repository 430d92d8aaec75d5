/* Unit tests of the Kinesis Video fragment index (api/video/kv_service.c): fragment number
 * format and parsing, increasing numbers across clock steps, the binary search readers use,
 * hot-blob keeping for tailing readers, and the in-memory window of retention-0 streams. No
 * store is opened and no exchange is used: these paths touch neither the writer nor the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/video/kv.h"
/* The api library references the gateway's sl_exchange; these tests never reach it, and the
 * project's stand-in for api unit tests satisfies the link. */
#include "../api/fake_exchange.inc"

static kv_stream *new_stream(int64_t retention_hours)
{
    kv_stream *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->refs = 1;
    s->retention_hours = retention_hours;
    snprintf(s->name, sizeof(s->name), "unit");
    return s;
}

static void test_number_format_and_parse(void **state)
{
    (void)state;
    char out[KV_NUMBER_LEN + 1];
    kv_format_number(1795711823619000ull, out);
    assert_int_equal(strlen(out), 47);
    assert_string_equal(out, "00000000000000000000000000000001795711823619000");
    uint64_t v = 0;
    assert_int_equal(kv_parse_number(out, &v), 0);
    assert_true(v == 1795711823619000ull);
    assert_int_equal(kv_parse_number("42", &v), 0);
    assert_true(v == 42);
    assert_int_equal(kv_parse_number("", &v), SL_EINVAL);
    assert_int_equal(kv_parse_number("12a", &v), SL_EINVAL);
    assert_int_equal(kv_parse_number("99999999999999999999", &v), SL_EINVAL); /* > 2^64 */
    assert_int_equal(kv_parse_number("000000000000000000000000000000000000000000000001", &v),
                     SL_EINVAL); /* 48 digits */
}

static void test_numbers_increase(void **state)
{
    (void)state;
    kv_stream *s = new_stream(1);
    uint64_t a = kv_next_seq(s, 1000);
    uint64_t b = kv_next_seq(s, 1000); /* same millisecond */
    uint64_t c = kv_next_seq(s, 900);  /* clock stepped back */
    uint64_t d = kv_next_seq(s, 2000);
    assert_true(a == 1000000);
    assert_true(b == a + 1);
    assert_true(c == b + 1);
    assert_true(d == 2000000);
    kv_stream_unref(s);
}

static void test_lower_bound_and_hot_blobs(void **state)
{
    (void)state;
    kv_stream *s = new_stream(1);
    s->nreaders = 1; /* a tailing reader keeps the newest two fragments' bytes */
    for (uint64_t i = 0; i < 10; i++) {
        kv_frag f = {.seq = 10 * (i + 1), .server_ms = 1000 + (int64_t)i, .size = 3};
        f.blob = kv_blob_new("abc", 3);
        assert_int_equal(kv_frag_add(s, &f), 0);
    }
    assert_int_equal(s->nfrags, 10);
    assert_int_equal(kv_frag_lower_bound(s, 0), 0);
    assert_int_equal(kv_frag_lower_bound(s, 10), 0);
    assert_int_equal(kv_frag_lower_bound(s, 11), 1);
    assert_int_equal(kv_frag_lower_bound(s, 100), 9);
    assert_int_equal(kv_frag_lower_bound(s, 101), 10);
    for (size_t i = 0; i < 8; i++)
        assert_null(s->frags[i].blob);
    assert_non_null(s->frags[8].blob);
    assert_non_null(s->frags[9].blob);
    /* without readers a persisted fragment's bytes are not kept in memory */
    s->nreaders = 0;
    kv_frag f = {.seq = 200, .server_ms = 2000, .size = 3, .blob = kv_blob_new("xyz", 3)};
    assert_int_equal(kv_frag_add(s, &f), 0);
    assert_null(s->frags[10].blob);
    kv_stream_unref(s);
}

static void test_live_only_window(void **state)
{
    (void)state;
    kv_stream *s = new_stream(0);
    int64_t t0 = 1700000000000;
    for (int i = 0; i < 10; i++) {
        kv_frag f = {.seq = (uint64_t)i + 1, .server_ms = t0 + i * 60000, .size = 1};
        f.blob = kv_blob_new("x", 1);
        assert_int_equal(kv_frag_add(s, &f), 0);
    }
    /* 10 fragments one minute apart: only the last five minutes stay */
    assert_int_equal(s->nfrags, 6);
    assert_true(s->frags[0].seq == 5);
    for (size_t i = 0; i < s->nfrags; i++)
        assert_non_null(s->frags[i].blob); /* live-only bytes live in memory */
    kv_stream_unref(s);
}

static void test_blob_refcount(void **state)
{
    (void)state;
    kv_blob *b = kv_blob_new("hello", 5);
    assert_non_null(b);
    assert_ptr_equal(kv_blob_ref(b), b);
    kv_blob_unref(b);
    assert_int_equal(b->len, 5);
    assert_memory_equal(b->data, "hello", 5);
    kv_blob_unref(b); /* freed: ASan would flag a leak or double free */
    assert_null(kv_blob_ref(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_format_and_parse),
        cmocka_unit_test(test_numbers_increase),
        cmocka_unit_test(test_lower_bound_and_hot_blobs),
        cmocka_unit_test(test_live_only_window),
        cmocka_unit_test(test_blob_refcount),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
