/* Tests for the push-based EBML/Matroska reader (common/mkv/ebml_read.c).
 *
 * - The AWS producer's PutMedia body (shared/captures/kvssink-putmedia.mkv) parsed whole, in
 *   1-byte feeds and in random splits (seed printed; set SL_TEST_SEED to replay): the same event
 *   stream every way, with the counts an independent walk of the file gives.
 * - Files made by ffmpeg and mkvmerge (tests/data/mkv, see gen.sh there): SeekHead, Void, Cues,
 *   Tags, known-size clusters, a known-size Segment and an 8-byte unknown-size one, BlockGroups
 *   (subtitles), EBML and fixed lacing (Vorbis/AAC/PCM). Frame counts per track are ffprobe's.
 * - Hand-built inputs: Xiph/EBML/fixed lacing with known frame bytes, BlockGroup keyframes,
 *   unknown elements of unknown size, and every malformed case with its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "mkv_test_util.h"
#include "sluice/mkv.h"

#define CAPTURE SL_SHARED_DIR "/captures/kvssink-putmedia.mkv"
#define DATA    SL_SOURCE_DIR "/tests/data/mkv/"

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
    /* mostly small pieces, sometimes large ones, so splits land everywhere */
    return r < 70 ? 1 + (*seed >> 16) % 17 : 1 + (*seed >> 12) % 70000;
}

static unsigned test_seed(void)
{
    const char *s = getenv("SL_TEST_SEED");
    unsigned seed = s ? (unsigned)strtoul(s, NULL, 10) : (unsigned)time(NULL);
    printf("# SL_TEST_SEED=%u\n", seed);
    return seed;
}

static void expect_same(const tu_log *a, const tu_log *b)
{
    assert_int_equal(a->hash, b->hash);
    assert_int_equal(a->nframes, b->nframes);
    assert_int_equal(a->nclusters, b->nclusters);
    assert_int_equal(a->ntags, b->ntags);
    assert_int_equal(a->nraw_bytes, b->nraw_bytes);
}

/* Whole, 1-byte and random splits agree; returns the whole-run log. */
static tu_log parse_every_way(const uint8_t *p, size_t n)
{
    tu_log whole, bytes, rnd;
    sl_diag d;
    int rc = tu_parse(p, n, NULL, NULL, &whole, &d);
    if (rc != 0)
        print_error("whole: %s at %zu: %s\n", sl_err_name(rc), d.offset, d.text);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_parse(p, n, one_byte, NULL, &bytes, &d), 0);
    expect_same(&whole, &bytes);
    unsigned seed = test_seed();
    for (int i = 0; i < 5; i++) {
        assert_int_equal(tu_parse(p, n, random_piece, &seed, &rnd, &d), 0);
        expect_same(&whole, &rnd);
    }
    assert_int_equal(whole.nraw_bytes, n); /* every byte reported once */
    return whole;
}

static void test_capture(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_read_file(CAPTURE, &n);
    assert_non_null(p);
    assert_int_equal(n, 1354288);
    tu_log l = parse_every_way(p, n);
    assert_int_equal(l.nheaders, 1);
    assert_int_equal(l.nframes, 125);
    assert_int_equal(l.frames_by_track[1], 125);
    assert_int_equal(l.nclusters, 20);
    assert_int_equal(l.nkey, 20);
    assert_int_equal(l.ntags, 1); /* the closing AWS_KINESISVIDEO_END_OF_FRAGMENT */
    assert_int_equal(l.laced_blocks, 0);
    free(p);
}

/* Header fields and the rebuilt stream header of the capture. */
static sl_mkv_header cap_hdr;
static int keep_header(void *ud, const sl_mkv_header *h)
{
    (void)ud;
    cap_hdr = *h;
    return 0;
}

static void test_capture_header(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_read_file(CAPTURE, &n);
    assert_non_null(p);
    sl_mkv_callbacks cb = {.on_header = keep_header};
    sl_mkv_reader *r = sl_mkv_reader_new(&cb, NULL, 0);
    assert_int_equal(sl_mkv_reader_feed(r, p, 4096), 0);
    const sl_mkv_header *h = sl_mkv_reader_header(r);
    assert_non_null(h);
    assert_ptr_equal(h->bytes.ptr, cap_hdr.bytes.ptr);
    assert_string_equal(h->doctype, "matroska");
    assert_int_equal(h->timecode_scale_ns, 1000000);
    assert_int_equal(h->segment_uid_len, 16);
    assert_string_equal(h->title, "Kinesis Video SDK");
    assert_string_equal(h->muxing_app, "Kinesis Video SDK 1.1.0");
    assert_int_equal(h->ntracks, 1);
    assert_int_equal(h->tracks[0].number, 1);
    assert_int_equal(h->tracks[0].uid, 1);
    assert_int_equal(h->tracks[0].type, 1);
    assert_string_equal(h->tracks[0].name, "kinesis_video");
    assert_string_equal(h->tracks[0].codec_id, "V_MPEG4/ISO/AVC");
    assert_int_equal(h->tracks[0].pixel_width, 640);
    assert_int_equal(h->tracks[0].pixel_height, 480);
    assert_int_equal(h->tracks[0].codec_private_len, 45);
    assert_memory_equal(h->tracks[0].codec_private, p + 0xE9, 45);
    /* the producer's header is the input up to its first Cluster, byte for byte */
    assert_int_equal(h->bytes.len, 278);
    assert_memory_equal(h->bytes.ptr, p, 278);
    sl_mkv_reader_free(r);
    free(p);
}

static tu_log parse_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s", DATA, name);
    size_t n;
    uint8_t *p = tu_read_file(path, &n);
    if (!p)
        print_error("cannot read %s\n", path);
    assert_non_null(p);
    tu_log l = parse_every_way(p, n);
    free(p);
    return l;
}

static void test_ffmpeg_av_subs(void **state)
{
    (void)state;
    /* ffmpeg: known-size Segment, SeekHead, Void, Tags, 5 known-size clusters, Cues;
     * H.264 + Vorbis + SRT (BlockGroups). ffprobe: 20 video, 64 audio, 2 subtitle packets. */
    tu_log l = parse_file("ffmpeg-av-subs.mkv");
    assert_int_equal(l.nframes, 86);
    assert_int_equal(l.frames_by_track[1], 20);
    assert_int_equal(l.frames_by_track[2], 64);
    assert_int_equal(l.frames_by_track[3], 2);
    assert_int_equal(l.nclusters, 5);
    assert_true(l.ntags > 0);
}

/* A known-size Segment is rewritten to unknown size in the stream header; SeekHead and Void
 * are left out; Info and Tracks are copied verbatim (offsets from an independent walk). */
static void test_ffmpeg_stream_header(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_read_file(DATA "ffmpeg-av-subs.mkv", &n);
    assert_non_null(p);
    sl_mkv_reader *r = sl_mkv_reader_new(NULL, NULL, 0);
    assert_int_equal(sl_mkv_reader_feed(r, p, n), 0);
    assert_int_equal(sl_mkv_reader_finish(r), 0);
    const sl_mkv_header *h = sl_mkv_reader_header(r);
    assert_non_null(h);
    assert_int_equal(h->bytes.len, 40 + 5 + (3152 - 213));
    assert_memory_equal(h->bytes.ptr, p, 40);
    assert_memory_equal(h->bytes.ptr + 40, "\x18\x53\x80\x67\xFF", 5);
    assert_memory_equal(h->bytes.ptr + 45, p + 213, 3152 - 213);
    assert_int_equal(h->ntracks, 3);
    assert_string_equal(h->tracks[0].codec_id, "V_MPEG4/ISO/AVC");
    assert_string_equal(h->tracks[1].codec_id, "A_VORBIS");
    assert_string_equal(h->tracks[2].codec_id, "S_TEXT/UTF8");
    assert_true(h->tracks[1].sampling_hz == 8000.0);
    assert_int_equal(h->tracks[0].pixel_width, 64);
    sl_mkv_reader_free(r);
    free(p);
}

static void test_ffmpeg_live(void **state)
{
    (void)state;
    /* ffmpeg -live 1: Segment with an 8-byte unknown size, one known-size cluster; ffprobe: 10
     * packets, 2 key frames */
    tu_log l = parse_file("ffmpeg-live.mkv");
    assert_int_equal(l.nframes, 10);
    assert_int_equal(l.nkey, 2);
    assert_int_equal(l.nclusters, 1);
}

static void test_mkvmerge_laced(void **state)
{
    (void)state;
    /* mkvmerge: EBML lacing (Vorbis, AAC) and fixed lacing (PCM); ffprobe counts 10/33/9/25 */
    tu_log l = parse_file("mkvmerge-laced.mkv");
    assert_int_equal(l.frames_by_track[1], 10);
    assert_int_equal(l.frames_by_track[2], 33);
    assert_int_equal(l.frames_by_track[3], 9);
    assert_int_equal(l.frames_by_track[4], 25);
    assert_int_equal(l.nframes, 77);
    assert_int_equal(l.laced_blocks, 10); /* mkvinfo: 4 + 2 EBML-laced, 4 fixed-laced */
    assert_int_equal(l.nclusters, 2);
}

/* ---- hand-built inputs ---- */

static void header(sl_buf *b, int ntracks)
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

static void put(sl_buf *b, const char *hex)
{
    for (const char *s = hex; *s;) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        sscanf(s, "%2x", &v);
        sl_buf_append_byte(b, (uint8_t)v);
        s += 2;
    }
}

struct frames {
    size_t n;
    uint64_t track[16];
    int64_t tc[16];
    int key[16];
    char data[16][16];
    size_t len[16];
};

static int rec_frame(void *ud, const sl_mkv_frame *f)
{
    struct frames *fr = ud;
    if (fr->n < 16) {
        fr->track[fr->n] = f->track;
        fr->tc[fr->n] = f->timecode;
        fr->key[fr->n] = f->keyframe;
        fr->len[fr->n] = f->data.len;
        memcpy(fr->data[fr->n], f->data.ptr, f->data.len < 16 ? f->data.len : 16);
    }
    fr->n++;
    return 0;
}

static int run(const sl_buf *b, struct frames *fr, sl_diag *d)
{
    sl_mkv_callbacks cb = {.on_frame = rec_frame};
    memset(fr, 0, sizeof(*fr));
    sl_mkv_reader *r = sl_mkv_reader_new(&cb, fr, 0);
    int rc = sl_mkv_reader_feed(r, b->data, b->len);
    if (rc == 0)
        rc = sl_mkv_reader_finish(r);
    *d = *sl_mkv_reader_diag(r);
    sl_mkv_reader_free(r);
    return rc;
}

static void test_lacing(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    struct frames fr;
    sl_diag d;
    header(&b, 1);
    put(&b, "1F43B675 FF E7 81 64"); /* unknown-size Cluster, Timecode 100 */
    /* Xiph: 3 frames of 2, 256 and 1 bytes: sizes 02, FF 01 */
    put(&b, "A3 410B 81 0007 82 02 02 FF 01");
    put(&b, "4142");
    for (int i = 0; i < 256; i++)
        sl_buf_append_byte(&b, 'x');
    put(&b, "43");
    /* EBML: 3 frames of 3, 1, 2 bytes: first 83, diff -2 as 1-byte signed vint (0x3F-2=0x3D) */
    put(&b, "A3 8D 81 0000 06 02 83 BD 616263 64 6566");
    /* fixed: 2 frames of 2 bytes */
    put(&b, "A3 89 81 0001 84 01 7778 797A");
    /* BlockGroup with ReferenceBlock: not a key frame */
    put(&b, "A0 8A A1 85 81 0002 00 51 FB 81 FF");
    /* BlockGroup without: key frame */
    put(&b, "A0 87 A1 85 81 0003 00 52");
    assert_int_equal(run(&b, &fr, &d), 0);
    assert_int_equal(fr.n, 3 + 3 + 2 + 2);
    assert_int_equal(fr.len[0], 2);
    assert_memory_equal(fr.data[0], "AB", 2);
    assert_int_equal(fr.len[1], 256);
    assert_int_equal(fr.len[2], 1);
    assert_memory_equal(fr.data[2], "C", 1);
    assert_int_equal(fr.tc[0], 107);
    assert_int_equal(fr.key[0], 1);
    assert_int_equal(fr.len[3], 3);
    assert_memory_equal(fr.data[3], "abc", 3);
    assert_int_equal(fr.len[4], 1);
    assert_memory_equal(fr.data[4], "d", 1);
    assert_int_equal(fr.len[5], 2);
    assert_memory_equal(fr.data[5], "ef", 2);
    assert_int_equal(fr.key[3], 0);
    assert_int_equal(fr.len[6], 2);
    assert_memory_equal(fr.data[6], "wx", 2);
    assert_memory_equal(fr.data[7], "yz", 2);
    assert_int_equal(fr.tc[6], 101);
    assert_int_equal(fr.key[8], 0);
    assert_memory_equal(fr.data[8], "Q", 1);
    assert_int_equal(fr.key[9], 1);
    assert_int_equal(fr.tc[9], 103);
    sl_buf_cleanup(&b);
}

static void test_unknown_elements(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    struct frames fr;
    sl_diag d;
    header(&b, 1);
    put(&b, "4F80 83 010203");                      /* unknown level-1 ID, known size: skipped */
    put(&b, "1F43B675 FF BF 84 00000000 E7 81 00"); /* CRC-32 before Timecode */
    put(&b, "4F81 FF 4F82 81 00");  /* unknown ID, unknown size, inside the Cluster */
    put(&b, "A3 85 81 0000 80 55"); /* ends it: a Cluster child */
    put(&b, "EC 82 0000");          /* Void */
    put(&b, "1F43B675 01FFFFFFFFFFFFFF E7 88 0000000000000028 A3 85 81 0000 80 56");
    assert_int_equal(run(&b, &fr, &d), 0);
    assert_int_equal(fr.n, 2);
    assert_int_equal(fr.tc[1], 40);
    assert_memory_equal(fr.data[1], "V", 1);
    sl_buf_cleanup(&b);
}

/* ---- malformed input: each with its reason ---- */

struct bad_case {
    const char *name;
    int ntracks; /* 0: no header written */
    const char *hex;
    int code;
    int error_id;
    const char *reason; /* substring of diag.text */
};

static const struct bad_case bad_cases[] = {
    {"zero ID byte", 0, "00", SL_EPARSE, 4006, "invalid element ID"},
    {"ID too wide", 0, "08 000000 00", SL_EPARSE, 4006, "invalid element ID"},
    {"zero size byte", 0, "1A45DFA3 00", SL_EPARSE, 4006, "invalid size vint"},
    {"not EBML", 0, "1853 8067 FF", SL_EPARSE, 4006, "does not start with an EBML header"},
    {"child larger than parent", 0, "1A45DFA3 84 4282 88 6D617472 6F736B61", SL_EPARSE, 4006,
     "larger than its parent EBML"},
    {"bad doctype", 0, "1A45DFA3 86 4282 83 666F6F", SL_EPARSE, 4006, "DocType 'foo'"},
    {"second EBML header", 1, "1A45DFA3 80", SL_EPARSE, 4006, "second EBML header"},
    {"second Segment (after known size)", -1, "18538067 80", SL_EPARSE, 4006, "second Segment"},
    {"block before Tracks", -2, "1F43B675 FF E7 81 00 A3 85 81 0000 80 00", SL_EPARSE, 4006,
     "Cluster before Tracks"},
    {"undeclared track", 1, "1F43B675 FF E7 81 00 A3 85 82 0000 80 00", SL_EPARSE, 4010,
     "track 2, which Tracks does not declare"},
    {"cluster timecode missing", 1, "1F43B675 FF A3 85 81 0000 80 00", SL_EPARSE, 4006,
     "cluster timecode missing"},
    {"cluster without timecode", 1, "1F43B675 FF 1F43B675 FF E7 81 00", SL_EPARSE, 4006,
     "Cluster without Timecode"},
    {"second Info", 1, "1549A966 80", SL_EPARSE, 4006, "second Info"},
    {"second Tracks", 1, "1654AE6B 80", SL_EPARSE, 4006, "second Tracks"},
    {"unknown size on a leaf", 1, "1F43B675 FF E7 81 00 A3 FF", SL_EPARSE, 4006,
     "unknown size not allowed for SimpleBlock"},
    {"misplaced element", 1, "1F43B675 8A E7 81 00 1654AE6B 80", SL_EPARSE, 4006,
     "Tracks not allowed inside Cluster"},
    {"block over limit", 1, "1F43B675 FF E7 81 00 A3 4FFF", SL_ETOOBIG, 4001, "SimpleBlock of"},
    {"Tags of unknown size", 1, "1254C367 FF", SL_EPARSE, 4006,
     "unknown size not allowed for Tags"},
    {"TagString too long", 1, "1254C367 500D 7373 5009 67C8 5005 4487 5001", SL_ETOOBIG, 4006,
     "TagString of 4097 bytes"},
    {"nesting too deep", 1, "4F80 FF 4F81 FF 4F82 FF 4F83 FF 4F84 FF 4F85 FF 4F86 FF 4F87 FF",
     SL_EPARSE, 4006, "nested deeper than 8"},
    {"fixed lace indivisible", 1, "1F43B675 FF E7 81 00 A3 88 81 0000 84 01 616263", SL_EPARSE,
     4006, "do not split into 2 equal frames"},
    {"Xiph lace overflow", 1, "1F43B675 FF E7 81 00 A3 87 81 0000 82 01 09 61", SL_EPARSE, 4006,
     "exceed the block"},
    {"BlockGroup without Block", 1, "1F43B675 FF E7 81 00 A0 83 9B 81 01", SL_EPARSE, 4006,
     "BlockGroup without Block"},
    {"truncated in a block", 1, "1F43B675 FF E7 81 00 A3 88 81 0000 80 00", SL_EPARSE, 4006,
     "input ended inside SimpleBlock"},
    {"truncated in a known-size cluster", 1, "1F43B675 90 E7 81 00", SL_EPARSE, 4006,
     "input ended inside Cluster"},
    {"ContentEncodings", -3, "", SL_EUNSUPPORTED, 4006, "ContentEncodings"},
};

static int nerr, last_err_id;
static void count_error(void *ud, const sl_diag *d, int error_id)
{
    (void)ud;
    (void)d;
    nerr++;
    last_err_id = error_id;
}

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        sl_buf b = SL_BUF_INIT;
        if (c->ntracks > 0) {
            header(&b, c->ntracks);
        } else if (c->ntracks == -1) { /* known-size Segment holding Info + Tracks */
            sl_buf h = SL_BUF_INIT;
            header(&h, 1);
            /* the writer's Segment is 18538067 FF right after the 40-byte EBML header */
            size_t ebml = 40;
            sl_buf_append(&b, h.data, ebml);
            put(&b, "18538067 01");
            uint64_t rest = h.len - ebml - 5;
            for (int k = 6; k >= 0; k--)
                sl_buf_append_byte(&b, (uint8_t)(rest >> (8 * k)));
            sl_buf_append(&b, h.data + ebml + 5, (size_t)rest);
            sl_buf_cleanup(&h);
        } else if (c->ntracks == -2) { /* EBML + Segment + Info, no Tracks */
            put(&b, "1A45DFA3 8B 4282 88 6D6174726F736B61 18538067 FF 1549A966 80");
        } else if (c->ntracks == -3) {
            put(&b, "1A45DFA3 8B 4282 88 6D6174726F736B61 18538067 FF 1549A966 80");
            put(&b, "1654AE6B 8B AE 89 D7 81 01 86 81 56 6D80 80");
        }
        put(&b, c->hex);
        if (strcmp(c->name, "TagString too long") == 0)
            for (int k = 0; k < 4097; k++)
                sl_buf_append_byte(&b, 'v');
        struct frames fr;
        sl_diag d;
        memset(&d, 0, sizeof(d));
        sl_mkv_callbacks cb = {.on_frame = rec_frame, .on_error = count_error};
        nerr = 0;
        sl_mkv_reader *r = sl_mkv_reader_new(&cb, &fr, 1000);
        int rc = sl_mkv_reader_feed(r, b.data, b.len);
        if (rc == 0)
            rc = sl_mkv_reader_finish(r);
        d = *sl_mkv_reader_diag(r);
        int id = sl_mkv_reader_error_id(r);
        if (rc != c->code || id != c->error_id || !strstr(d.text, c->reason))
            print_error("case '%s': got %s/%d at %zu '%s', want %s/%d '%s'\n", c->name,
                        sl_err_name(rc), id, d.offset, d.text, sl_err_name(c->code), c->error_id,
                        c->reason);
        assert_int_equal(rc, c->code);
        assert_int_equal(id, c->error_id);
        assert_non_null(strstr(d.text, c->reason));
        assert_true(d.offset <= b.len);
        /* latched: more input gives the same error, reported once */
        assert_int_equal(sl_mkv_reader_feed(r, "x", 1), rc);
        assert_int_equal(nerr, 1);
        assert_int_equal(last_err_id, c->error_id);
        sl_mkv_reader_free(r);
        sl_buf_cleanup(&b);
    }
}

/* Reported offsets point at the offending element. */
static void test_error_offset(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    struct frames fr;
    sl_diag d;
    header(&b, 1);
    size_t at = b.len + 8; /* 1F43B675 FF E7 81 00 = 8 bytes, then the block */
    put(&b, "1F43B675 FF E7 81 00 A3 85 83 0000 80 00");
    assert_int_equal(run(&b, &fr, &d), SL_EPARSE);
    assert_int_equal(d.offset, at);
    sl_buf_cleanup(&b);
}

/* Throughput on the capture, reported for the record (not asserted). */
static void test_throughput(void **state)
{
    (void)state;
    size_t n;
    uint8_t *p = tu_read_file(CAPTURE, &n);
    assert_non_null(p);
    struct timespec t0, t1;
    tu_log l;
    int reps = 50;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < reps; i++)
        assert_int_equal(tu_parse(p, n, NULL, NULL, &l, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("# reader (frame payloads hashed by the test): %.0f MB/s\n", (double)n * reps / s / 1e6);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture),        cmocka_unit_test(test_capture_header),
        cmocka_unit_test(test_ffmpeg_av_subs), cmocka_unit_test(test_ffmpeg_stream_header),
        cmocka_unit_test(test_ffmpeg_live),    cmocka_unit_test(test_mkvmerge_laced),
        cmocka_unit_test(test_lacing),         cmocka_unit_test(test_unknown_elements),
        cmocka_unit_test(test_malformed),      cmocka_unit_test(test_error_offset),
        cmocka_unit_test(test_throughput),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
