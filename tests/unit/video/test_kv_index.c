/* Unit tests of the Kinesis Video log records (api/video/kv_index.c), the bytes index recovery
 * rebuilds the fragment index from: fragment and header records round-trip every field, every
 * truncation and a flipped magic or metadata length are refused, and fragment metadata keeps
 * producer tags but drops AWS_KINESISVIDEO_* names and refuses an 11th tag. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/video/kv.h"
#include "../api/fake_exchange.inc"

typedef struct seen {
    int n;
    char names[12][129], values[12][257];
} seen;

static void collect(void *arg, const char *name, const char *value)
{
    seen *s = arg;
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    snprintf(s->values[s->n], sizeof(s->values[0]), "%s", value);
    s->n++;
}

static void test_fragment_record_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"AWS_KINESISVIDEO_X", "camera", "event"};
    const char *values[] = {"dropped", "front door", ""};
    kv_frag f = {.seq = 1795711823619001ull,
                 .producer_ms = -5,
                 .server_ms = 1795711823619,
                 .duration_ms = 2000,
                 .size = 123456,
                 .header_id = 7,
                 .frames = 50,
                 .log_offset = 999};
    assert_int_equal(kv_meta_from_tags(names, values, 3, &f.meta), 0);
    assert_non_null(f.meta);
    uint8_t *rec = NULL;
    size_t len = 0;
    assert_int_equal(kv_record_frag("1795711823.0badcafe", &f, &rec, &len), 0);

    char skey[40];
    kv_frag g;
    assert_int_equal(kv_record_parse_frag(rec, len, skey, &g), 0);
    assert_string_equal(skey, "1795711823.0badcafe");
    assert_true(g.seq == f.seq);
    assert_int_equal(g.producer_ms, -5);
    assert_int_equal(g.server_ms, f.server_ms);
    assert_int_equal(g.duration_ms, 2000);
    assert_int_equal(g.size, 123456);
    assert_int_equal(g.header_id, 7);
    assert_int_equal(g.frames, 50);
    assert_null(g.blob);
    seen s = {0};
    kv_meta_foreach(g.meta, collect, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "camera");
    assert_string_equal(s.values[0], "front door");
    assert_string_equal(s.names[1], "event");
    assert_string_equal(s.values[1], "");
    kv_blob_unref(g.meta);

    /* every truncation and extension is refused */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(kv_record_parse_frag(rec, cut, skey, &g), SL_ECORRUPT);
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, rec, len);
    longer[len] = 0;
    assert_int_equal(kv_record_parse_frag(longer, len + 1, skey, &g), SL_ECORRUPT);
    free(longer);
    rec[0] = 'X';
    assert_int_equal(kv_record_parse_frag(rec, len, skey, &g), SL_ECORRUPT);
    rec[0] = 'K';
    /* a metadata name length pointing past the end */
    size_t meta_at = len - f.meta->len;
    rec[meta_at] = 200;
    assert_int_equal(kv_record_parse_frag(rec, len, skey, &g), SL_ECORRUPT);
    free(rec);
    kv_blob_unref(f.meta);
}

static void test_header_record_round_trip(void **state)
{
    (void)state;
    kv_blob *b = kv_blob_new("\x1a\x45\xdf\xa3header bytes", 16);
    uint8_t *rec = NULL;
    size_t len = 0;
    assert_int_equal(kv_record_header("k.1", 3, b, &rec, &len), 0);
    char skey[40];
    uint32_t id = 0;
    kv_blob *got = NULL;
    assert_int_equal(kv_record_parse_header(rec, len, skey, &id, &got), 0);
    assert_string_equal(skey, "k.1");
    assert_int_equal(id, 3);
    assert_int_equal(got->len, 16);
    assert_memory_equal(got->data, b->data, 16);
    kv_blob_unref(got);
    for (size_t cut = 0; cut < 4 + 1 + 3 + 4; cut++)
        assert_int_equal(kv_record_parse_header(rec, cut, skey, &id, &got), SL_ECORRUPT);
    /* a fragment record is not a header record and the other way round */
    kv_frag f;
    assert_int_equal(kv_record_parse_frag(rec, len, skey, &f), SL_ECORRUPT);
    free(rec);
    assert_int_equal(kv_record_header("", 3, b, &rec, &len), SL_EINVAL);
    kv_blob_unref(b);
}

static void test_metadata_limits(void **state)
{
    (void)state;
    const char *names[11], *values[11];
    char buf[11][8];
    for (int i = 0; i < 11; i++) {
        snprintf(buf[i], sizeof(buf[i]), "t%d", i);
        names[i] = buf[i];
        values[i] = "v";
    }
    kv_blob *m = NULL;
    assert_int_equal(kv_meta_from_tags(names, values, 10, &m), 0);
    assert_non_null(m);
    assert_int_equal(kv_meta_check(m->data, m->len), 0);
    kv_blob_unref(m);
    assert_int_equal(kv_meta_from_tags(names, values, 11, &m), SL_ETOOBIG);
    /* only service tags: no metadata at all */
    const char *svc[] = {"AWS_KINESISVIDEO_FRAGMENT_NUMBER"};
    assert_int_equal(kv_meta_from_tags(svc, values, 1, &m), 0);
    assert_null(m);
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    const char *bn[] = {"name"}, *bv[] = {big};
    assert_int_equal(kv_meta_from_tags(bn, bv, 1, &m), SL_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fragment_record_round_trip),
        cmocka_unit_test(test_header_record_round_trip),
        cmocka_unit_test(test_metadata_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
