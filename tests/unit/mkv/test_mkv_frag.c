/* Tests for the PutMedia fragment cutter (common/mkv/mkv_frag.c).
 *
 * - The AWS producer capture cut into its 20 fragments, whole, byte by byte and in random splits
 *   (seed printed; SL_TEST_SEED replays): cluster timecodes, frames per fragment, key frames,
 *   producer timestamps (ABSOLUTE and RELATIVE), and header + concatenated fragment bytes equal
 *   the input up to the closing EoFR Tags. Expected values come from an independent walk of the
 *   file (and agree with ffprobe's 125 packets / 20 key frames).
 * - Every prefix length of the capture: nothing crashes, every fragment reported while feeding
 *   is identical to the full run's, and a fragment completed by finish() ends exactly where the
 *   prefix ends, at a block boundary of that cluster, with the frames before it.
 * - AWS ErrorIds: 4001, 4002, 4004, 4006, 4009, 4010, 4011, 4012, and that a bad fragment
 *   leaves the fragments completed before it reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "mkv_test_util.h"
#include "sluice/mkv.h"

#define CAPTURE SL_SHARED_DIR "/captures/kvssink-putmedia.mkv"

static const uint64_t cap_offsets[20] = {278,    74187,   144517,  214116,  283685,  363416, 442607,
                                         510881, 578902,  645577,  720023,  792901,  855178, 916494,
                                         977548, 1038073, 1108414, 1169893, 1230181, 1294234};
static const uint32_t cap_frames[20] = {6, 6, 6, 6, 7, 7, 6, 6, 6, 7, 7, 6, 6, 6, 6, 7, 6, 6, 6, 6};
static const uint64_t cap_tc[20] = {1795704260904, 1795704261144, 1795704261384, 1795704261624,
                                    1795704261864, 1795704262144, 1795704262424, 1795704262664,
                                    1795704262904, 1795704263144, 1795704263424, 1795704263704,
                                    1795704263944, 1795704264184, 1795704264424, 1795704264664,
                                    1795704264944, 1795704265184, 1795704265424, 1795704265664};
#define CAP_CLUSTERS_END 1354204u /* the EoFR Tags starts here */

struct rec {
    size_t nfrag, nbuf, nheader;
    sl_mkv_fragment frags[32];
    sl_buf all;      /* fragment bytes as kept (keep_bytes) */
    sl_buf streamed; /* fragment bytes as streamed by on_data */
    sl_buf header;
    int in_finish;
    int no_copy;    /* skip collecting streamed bytes (the prefix sweep) */
    size_t nfinish; /* fragments reported by finish() */
    int order_ok;   /* on_buffering came before on_data of the same fragment */
    uint64_t buffering_index;
};

static int r_header(void *ud, const sl_mkv_header *h)
{
    struct rec *r = ud;
    r->nheader++;
    sl_buf_append(&r->header, h->bytes.ptr, h->bytes.len);
    return 0;
}

static int r_buffering(void *ud, const sl_mkv_fragment *f)
{
    struct rec *r = ud;
    r->nbuf++;
    r->buffering_index = f->index;
    return 0;
}

static int r_data(void *ud, const sl_mkv_fragment *f, const uint8_t *p, size_t n)
{
    struct rec *r = ud;
    if (r->nbuf != f->index + 1 || r->buffering_index != f->index)
        r->order_ok = 0;
    if (!r->no_copy)
        sl_buf_append(&r->streamed, p, n);
    return 0;
}

static int r_fragment(void *ud, const sl_mkv_fragment *f)
{
    struct rec *r = ud;
    if (r->nfrag < 32)
        r->frags[r->nfrag] = *f;
    r->frags[r->nfrag < 32 ? r->nfrag : 31].bytes = (sl_slice){0};
    r->nfrag++;
    r->nfinish += r->in_finish;
    sl_buf_append(&r->all, f->bytes.ptr, f->bytes.len);
    return 0;
}

static int nerrors, last_error_id;
static void r_error(void *ud, const sl_mkv_frag_error *e)
{
    (void)ud;
    nerrors++;
    last_error_id = e->error_id;
}

static const sl_mkv_frag_callbacks rec_cb = {r_header, r_buffering, r_data, r_fragment, r_error};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    r->order_ok = 1;
}

static void rec_cleanup(struct rec *r)
{
    sl_buf_cleanup(&r->all);
    sl_buf_cleanup(&r->streamed);
    sl_buf_cleanup(&r->header);
}

/* Runs the cutter over p[0..n) in pieces (piece == NULL: one feed). */
static int cut(const uint8_t *p, size_t n, const sl_mkv_frag_opts *o, size_t (*piece)(void *),
               void *pctx, struct rec *r, sl_mkv_frag_error *err)
{
    sl_mkv_frag *f = sl_mkv_frag_new(o, &rec_cb, r);
    assert_non_null(f);
    int rc = 0;
    size_t at = 0;
    while (at < n && rc == 0) {
        size_t k = piece ? piece(pctx) : n;
        if (k > n - at)
            k = n - at;
        rc = sl_mkv_frag_feed(f, p + at, k);
        at += k;
    }
    if (rc == 0) {
        r->in_finish = 1;
        rc = sl_mkv_frag_finish(f);
        r->in_finish = 0;
    }
    const sl_mkv_frag_error *e = sl_mkv_frag_last_error(f);
    if (err) {
        memset(err, 0, sizeof(*err));
        if (e)
            *err = *e;
    }
    assert_true((rc == 0) == (e == NULL));
    sl_mkv_frag_free(f);
    return rc;
}

static size_t one_byte(void *ctx)
{
    (void)ctx;
    return 1;
}

static size_t random_piece(void *ctx)
{
    unsigned *seed = ctx;
    *seed = *seed * 1103515245u + 12345u;
    unsigned r = (*seed >> 8) % 100;
    return r < 70 ? 1 + (*seed >> 16) % 17 : 1 + (*seed >> 12) % 70000;
}

static void check_capture_run(const uint8_t *p, size_t n, const struct rec *r, int relative)
{
    assert_int_equal(r->nheader, 1);
    assert_int_equal(r->nfrag, 20);
    assert_int_equal(r->nbuf, 20);
    assert_true(r->order_ok);
    for (size_t i = 0; i < 20; i++) {
        const sl_mkv_fragment *f = &r->frags[i];
        assert_int_equal(f->index, i);
        assert_int_equal(f->offset, cap_offsets[i]);
        uint64_t end = i + 1 < 20 ? cap_offsets[i + 1] : CAP_CLUSTERS_END;
        assert_int_equal(f->size, end - cap_offsets[i]);
        assert_int_equal(f->timecode, cap_tc[i]);
        assert_int_equal(f->producer_ts_ms,
                         relative ? 1000 + (int64_t)cap_tc[i] : (int64_t)cap_tc[i]);
        assert_int_equal(f->nframes, cap_frames[i]);
        assert_int_equal(f->frames[0], cap_frames[i]);
        assert_true(f->has_keyframe);
        assert_true(f->first_is_keyframe);
        assert_int_equal(f->nmeta, 0);
        /* 25 fps without durations: span + one frame interval = distance to the next cluster */
        assert_int_equal(f->duration_ms, 40 * cap_frames[i]);
        if (i + 1 < 20)
            assert_int_equal(f->duration_ms, cap_tc[i + 1] - cap_tc[i]);
    }
    /* the stored fragments + header are the producer's bytes */
    assert_int_equal(r->header.len, 278);
    assert_memory_equal(r->header.data, p, 278);
    assert_int_equal(r->streamed.len, CAP_CLUSTERS_END - 278);
    assert_memory_equal(r->streamed.data, p + 278, CAP_CLUSTERS_END - 278);
    assert_int_equal(r->all.len, r->streamed.len);
    assert_memory_equal(r->all.data, r->streamed.data, r->all.len);
    (void)n;
}

static void test_capture_fragments(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_read_file(CAPTURE, &n);
    assert_non_null(p);
    sl_mkv_frag_opts o = {.keep_bytes = 1};
    struct rec r;

    rec_init(&r);
    assert_int_equal(cut(p, n, &o, NULL, NULL, &r, NULL), 0);
    check_capture_run(p, n, &r, 0);
    /* the EoFR tag closes the last cluster: fragment 19 completes during feed, not finish */
    assert_int_equal(r.nfinish, 0);
    rec_cleanup(&r);

    rec_init(&r);
    assert_int_equal(cut(p, n, &o, one_byte, NULL, &r, NULL), 0);
    check_capture_run(p, n, &r, 0);
    rec_cleanup(&r);

    const char *s = getenv("SL_TEST_SEED");
    unsigned seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    printf("# SL_TEST_SEED=%u\n", seed);
    for (int k = 0; k < 4; k++) {
        rec_init(&r);
        assert_int_equal(cut(p, n, &o, random_piece, &seed, &r, NULL), 0);
        check_capture_run(p, n, &r, 0);
        rec_cleanup(&r);
    }

    sl_mkv_frag_opts rel = {.relative = 1, .producer_start_ms = 1000, .keep_bytes = 1};
    rec_init(&r);
    assert_int_equal(cut(p, n, &rel, NULL, NULL, &r, NULL), 0);
    check_capture_run(p, n, &r, 1);
    rec_cleanup(&r);
    free(p);
}

/* Block starts of every cluster, from a reader run (to know where a cut may complete). */
static uint64_t block_starts[200];
static size_t nblocks;
static int note_block(void *ud, const sl_mkv_frame *f)
{
    (void)ud;
    if (nblocks < 200)
        block_starts[nblocks++] = f->block_offset;
    return 0;
}

static void test_every_prefix(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_read_file(CAPTURE, &n);
    assert_non_null(p);
    sl_mkv_callbacks cb = {.on_frame = note_block};
    sl_mkv_reader *rd = sl_mkv_reader_new(&cb, NULL, 0);
    assert_int_equal(sl_mkv_reader_feed(rd, p, n), 0);
    sl_mkv_reader_free(rd);
    assert_int_equal(nblocks, 125);

    /* Every prefix of the first 70 KB (header and the whole first cluster), every prefix within
     * 40 bytes of each block and cluster start, and every 101st elsewhere; SL_PREFIX_ALL=1 runs
     * all 1,354,289 (about a minute of CPU in a Debug build). */
    int all = getenv("SL_PREFIX_ALL") != NULL;
    size_t finished = 0, runs = 0;
    for (size_t len = 0; len <= n; len++) {
        int want = all || len < 70000 || len % 101 == 0 || len + 40 >= CAP_CLUSTERS_END;
        for (size_t b = 0; !want && b < nblocks; b++)
            want = len + 40 >= block_starts[b] && len <= block_starts[b] + 40;
        for (size_t c = 0; !want && c < 20; c++)
            want = len + 40 >= cap_offsets[c] && len <= cap_offsets[c] + 40;
        if (!want)
            continue;
        runs++;
        struct rec r;
        rec_init(&r);
        r.no_copy = 1;
        sl_mkv_frag_opts o = {0};
        sl_mkv_frag_error err;
        int rc = cut(p, len, &o, NULL, NULL, &r, &err);
        size_t during = r.nfrag - r.nfinish;
        assert_true(r.nfinish <= 1);
        for (size_t i = 0; i < during; i++) {
            assert_int_equal(r.frags[i].offset, cap_offsets[i]);
            assert_int_equal(r.frags[i].nframes, cap_frames[i]);
            uint64_t end = i + 1 < 20 ? cap_offsets[i + 1] : CAP_CLUSTERS_END;
            assert_int_equal(r.frags[i].size, end - cap_offsets[i]);
            assert_true(cap_offsets[i] + r.frags[i].size <= len);
        }
        if (r.nfinish) {
            const sl_mkv_fragment *f = &r.frags[during];
            assert_int_equal(rc, 0);
            assert_int_equal(f->offset, cap_offsets[during]);
            assert_int_equal(f->offset + f->size, len);
            /* the cut is at a block boundary (or the cluster's end) of that cluster */
            uint64_t end = during + 1 < 20 ? cap_offsets[during + 1] : CAP_CLUSTERS_END;
            uint32_t before = 0;
            int boundary = len == end;
            for (size_t b = 0; b < nblocks; b++) {
                if (block_starts[b] > f->offset && block_starts[b] < end && block_starts[b] < len)
                    before++;
                if (block_starts[b] == len)
                    boundary = 1;
            }
            assert_true(boundary);
            assert_int_equal(f->nframes, before);
            finished++;
        } else if (len > 0 && len != n) {
            /* the prefix stopped inside an element, or before a complete cluster */
            assert_true(rc < 0 || len == CAP_CLUSTERS_END || len == 278);
        }
        rec_cleanup(&r);
    }
    printf("# %zu prefixes of %zu bytes cut; %zu ended a fragment at a block boundary\n", runs, n,
           finished);
    assert_int_equal(finished, 125); /* 105 inner block starts + 20 cluster ends, all hit */
    free(p);
}

/* ---- errors ---- */

static void hdr(sl_buf *b, int ntracks)
{
    sl_mkv_header h;
    memset(&h, 0, sizeof(h));
    h.timecode_scale_ns = 1000000;
    h.ntracks = (size_t)ntracks;
    for (int i = 0; i < ntracks; i++) {
        h.tracks[i].number = (uint64_t)i + 1;
        h.tracks[i].type = i == 0 ? 1 : 2;
        snprintf(h.tracks[i].codec_id, sizeof(h.tracks[i].codec_id), "%s",
                 i == 0 ? "V_MPEG4/ISO/AVC" : "A_AAC");
    }
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, b);
    assert_int_equal(sl_mkv_write_stream_header(&w, &h), 0);
}

static void cluster(sl_buf *b, uint64_t tc, int track, int nblocks_, int16_t step)
{
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, b);
    sl_mkv_write_cluster(&w, tc);
    for (int i = 0; i < nblocks_; i++)
        sl_mkv_write_simple_block(&w, (uint64_t)track, (int16_t)(i * step), i == 0, "abcd", 4);
    assert_int_equal(sl_mkv_writer_error(&w), 0);
}

static void tags(sl_buf *b, size_t n, const char *name, const char *value)
{
    const char *names[16], *values[16];
    for (size_t i = 0; i < n; i++) {
        names[i] = name;
        values[i] = value;
    }
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, b);
    assert_int_equal(sl_mkv_write_tags(&w, names, values, n, 8), 0);
}

static void expect_error(const sl_buf *b, const sl_mkv_frag_opts *o, int error_id, const char *code,
                         size_t good_fragments, const char *reason)
{
    struct rec r;
    sl_mkv_frag_error e;
    rec_init(&r);
    nerrors = 0;
    int rc = cut((const uint8_t *)b->data, b->len, o, NULL, NULL, &r, &e);
    assert_int_equal(nerrors, 1);
    assert_int_equal(last_error_id, error_id);
    if (e.error_id != error_id || !strstr(e.diag.text, reason))
        print_error("got %d %s '%s', want %d '%s'\n", e.error_id, e.error_code ? e.error_code : "-",
                    e.diag.text, error_id, reason);
    assert_true(rc < 0);
    assert_int_equal(e.error_id, error_id);
    assert_string_equal(e.error_code, code);
    assert_non_null(strstr(e.diag.text, reason));
    assert_int_equal(r.nfrag, good_fragments); /* completed ones stay completed */
    rec_cleanup(&r);
}

static void test_errors(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    sl_mkv_frag_opts o = {0};

    /* 4004: a cluster timecode lower than the previous one */
    hdr(&b, 1);
    cluster(&b, 5000, 1, 3, 40);
    cluster(&b, 4999, 1, 3, 40);
    expect_error(&b, &o, 4004, "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS", 1, "lower than");
    sl_buf_reset(&b);

    /* equal timecodes are accepted */
    hdr(&b, 1);
    cluster(&b, 5000, 1, 1, 40);
    cluster(&b, 5000, 1, 1, 40);
    struct rec r;
    rec_init(&r);
    assert_int_equal(cut((const uint8_t *)b.data, b.len, &o, NULL, NULL, &r, NULL), 0);
    assert_int_equal(r.nfrag, 2);
    assert_int_equal(r.nfinish, 1); /* the last one completes at end of input */
    rec_cleanup(&r);
    sl_buf_reset(&b);

    /* 4001: fragment size */
    sl_mkv_frag_opts small = {.max_fragment_bytes = 60};
    hdr(&b, 1);
    cluster(&b, 0, 1, 2, 40);
    cluster(&b, 100, 1, 6, 40);
    expect_error(&b, &small, 4001, "MAX_FRAGMENT_SIZE_REACHED", 1, "larger than 60 bytes");
    sl_buf_reset(&b);

    /* 4002: duration */
    hdr(&b, 1);
    cluster(&b, 0, 1, 2, 40);
    cluster(&b, 100, 1, 3, 6000);
    expect_error(&b, &o, 4002, "MAX_FRAGMENT_DURATION_REACHED", 1, "fragments may last 10000");
    sl_buf_reset(&b);

    /* 4010: block for an undeclared track */
    hdr(&b, 1);
    cluster(&b, 0, 1, 2, 40);
    cluster(&b, 100, 2, 1, 40);
    expect_error(&b, &o, 4010, "TRACK_NUMBER_MISMATCH", 1, "track 2");
    sl_buf_reset(&b);

    /* 4011: declared track without blocks */
    hdr(&b, 2);
    cluster(&b, 0, 1, 2, 40);
    cluster(&b, 0, 2, 2, 40);
    expect_error(&b, &o, 4011, "FRAMES_MISSING_FOR_TRACK", 0, "track 2 has no frames");
    sl_buf_reset(&b);

    /* 4012: more than 3 tracks */
    hdr(&b, 4);
    expect_error(&b, &o, 4012, "MORE_THAN_ALLOWED_TRACKS_FOUND", 0, "4 tracks");
    sl_buf_reset(&b);

    /* 4006: second EBML header after a good fragment */
    hdr(&b, 1);
    cluster(&b, 0, 1, 2, 40);
    hdr(&b, 1);
    expect_error(&b, &o, 4006, "INVALID_MKV_DATA", 1, "second EBML header");
    sl_buf_reset(&b);

    /* 4009: more than 10 metadata tags before one fragment; 10 are fine */
    hdr(&b, 1);
    tags(&b, 10, "camera", "front door");
    cluster(&b, 0, 1, 2, 40);
    tags(&b, 11, "camera", "front door");
    cluster(&b, 100, 1, 2, 40);
    expect_error(&b, &o, 4009, "FRAGMENT_METADATA_LIMIT_REACHED", 1, "more than 10");
    sl_buf_reset(&b);

    sl_buf_cleanup(&b);
}

/* Metadata before a cluster belongs to it; the EoFR tag is not metadata and completes the
 * fragment without waiting for the next cluster. */
static void test_metadata_and_eofr(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    hdr(&b, 1);
    tags(&b, 2, "camera", "front door");
    cluster(&b, 0, 1, 3, 40);
    size_t eofr_at = b.len;
    tags(&b, 1, "AWS_KINESISVIDEO_END_OF_FRAGMENT", "");
    cluster(&b, 500, 1, 3, 40);
    struct rec r;
    rec_init(&r);
    sl_mkv_frag_opts o = {.keep_bytes = 1};
    sl_mkv_frag *f = sl_mkv_frag_new(&o, &rec_cb, &r);
    /* feed up to the end of the EoFR Tags' ID+size: the first fragment is complete */
    assert_int_equal(sl_mkv_frag_feed(f, b.data, eofr_at + 12), 0);
    assert_int_equal(r.nfrag, 1);
    assert_int_equal(r.frags[0].nmeta, 2);
    assert_string_equal(r.frags[0].meta[1].name, "camera");
    assert_string_equal(r.frags[0].meta[1].value, "front door");
    assert_int_equal(r.frags[0].nframes, 3);
    assert_int_equal(r.frags[0].duration_ms, 120);
    assert_int_equal(sl_mkv_frag_feed(f, b.data + eofr_at + 12, b.len - eofr_at - 12), 0);
    assert_int_equal(sl_mkv_frag_finish(f), 0);
    assert_int_equal(r.nfrag, 2);
    assert_int_equal(r.frags[1].nmeta, 0);
    assert_int_equal(r.frags[1].timecode, 500);
    sl_mkv_frag_free(f);
    rec_cleanup(&r);
    sl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture_fragments),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_metadata_and_eofr),
        cmocka_unit_test(test_every_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
