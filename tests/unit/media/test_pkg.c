/* Tests for the packager (api/media/pkg.c), fed the way the store feeds it: a stream header plus
 * Clusters cut by the PutMedia fragment cutter (common/mkv/mkv_frag.c) from
 *   - the AWS producer capture (shared/captures/kvssink-putmedia.mkv: 20 fragments, 125 frames
 *     of H.264 with absolute millisecond timecodes),
 *   - tests/data/media/h264-aac.mkv (H.264 with B-frames + AAC), hevc.mkv, vp8.mkv.
 * Output is checked by reading it back with FFmpeg's own demuxers (mov, mpegts) and decoders,
 * not by comparing bytes: frame counts per fragment, key frame first, decode times that never go
 * backwards across independently packaged fragments, tfdt/PTS equal to the producer time, clip
 * duration, image size and content. Codec gate: VP8 unsupported, CodecPrivate removed (missing)
 * and corrupted (invalid). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "../../../api/media/pkg.h"
#include "../mkv/mkv_test_util.h"
#include "sluice/mkv.h"

#define CAPTURE SL_SHARED_DIR "/captures/kvssink-putmedia.mkv"
#define MEDIA   SL_SOURCE_DIR "/tests/data/media/"

/* ---- cutting a file into stored fragments ---- */

typedef struct frag {
    size_t off, len; /* in cut.bytes */
    int64_t producer_ms;
    uint64_t duration_ms;
    uint32_t frames[3];
    int first_key;
} frag;

typedef struct cut {
    sl_buf header;
    sl_buf bytes;
    frag f[64];
    size_t n;
} cut;

static int c_header(void *ud, const sl_mkv_header *h)
{
    cut *c = ud;
    return sl_buf_append(&c->header, h->bytes.ptr, h->bytes.len);
}

static int c_fragment(void *ud, const sl_mkv_fragment *f)
{
    cut *c = ud;
    assert_true(c->n < 64);
    frag *x = &c->f[c->n++];
    x->off = c->bytes.len;
    x->len = f->bytes.len;
    x->producer_ms = f->producer_ts_ms;
    x->duration_ms = f->duration_ms;
    memcpy(x->frames, f->frames, sizeof(x->frames));
    x->first_key = f->first_is_keyframe;
    return sl_buf_append(&c->bytes, f->bytes.ptr, f->bytes.len);
}

static void cut_file(const char *path, cut *c)
{
    memset(c, 0, sizeof(*c));
    size_t len;
    uint8_t *p = tu_read_file(path, &len);
    assert_non_null(p);
    sl_mkv_frag_callbacks cb = {c_header, NULL, NULL, c_fragment, NULL};
    sl_mkv_frag_opts o = {.keep_bytes = 1};
    sl_mkv_frag *f = sl_mkv_frag_new(&o, &cb, c);
    assert_non_null(f);
    assert_int_equal(sl_mkv_frag_feed(f, p, len), 0);
    assert_int_equal(sl_mkv_frag_finish(f), 0);
    sl_mkv_frag_free(f);
    free(p);
    assert_true(c->n > 0);
}

static void cut_free(cut *c)
{
    sl_buf_cleanup(&c->header);
    sl_buf_cleanup(&c->bytes);
}

/* header + fragments [from, to) as one MKV (what the store hands the packager) */
static void assemble(const cut *c, size_t from, size_t to, sl_buf *out)
{
    sl_buf_reset(out);
    assert_int_equal(sl_buf_append(out, c->header.data, c->header.len), 0);
    for (size_t i = from; i < to; i++)
        assert_int_equal(sl_buf_append(out, c->bytes.data + c->f[i].off, c->f[i].len), 0);
}

/* ---- reading output back with FFmpeg ---- */

typedef struct rd {
    const uint8_t *p;
    size_t len, pos;
} rd;

static int rd_read(void *o, uint8_t *b, int n)
{
    rd *r = o;
    size_t k = r->len - r->pos < (size_t)n ? r->len - r->pos : (size_t)n;
    if (k == 0)
        return AVERROR_EOF;
    memcpy(b, r->p + r->pos, k);
    r->pos += k;
    return (int)k;
}

static int64_t rd_seek(void *o, int64_t off, int whence)
{
    rd *r = o;
    if (whence == AVSEEK_SIZE)
        return (int64_t)r->len;
    int64_t base = whence == SEEK_CUR ? (int64_t)r->pos : whence == SEEK_END ? (int64_t)r->len : 0;
    if (base + off < 0 || base + off > (int64_t)r->len)
        return -1;
    r->pos = (size_t)(base + off);
    return (int64_t)r->pos;
}

typedef struct probe {
    int nstreams;
    size_t npkts[4], nkey[4];
    int64_t first_dts[4], last_dts[4], first_pts[4]; /* in 1/90000 (video) or stream tb */
    AVRational tb[4];
    int dts_monotonic;
    int first_is_key[4];
    int64_t duration_us;
} probe;

static void probe_bytes(const uint8_t *p, size_t len, const char *fmtname, probe *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->dts_monotonic = 1;
    rd r = {p, len, 0};
    uint8_t *iob = av_malloc(4096);
    AVIOContext *pb = avio_alloc_context(iob, 4096, 0, &r, rd_read, NULL, rd_seek);
    AVFormatContext *fc = avformat_alloc_context();
    fc->pb = pb;
    assert_int_equal(avformat_open_input(&fc, NULL, av_find_input_format(fmtname), NULL), 0);
    assert_true(avformat_find_stream_info(fc, NULL) >= 0);
    pr->nstreams = (int)fc->nb_streams;
    pr->duration_us = fc->duration;
    AVPacket *pkt = av_packet_alloc();
    int64_t prev[4] = {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
    while (av_read_frame(fc, pkt) >= 0) {
        int s = pkt->stream_index;
        if (s < 4) {
            if (pr->npkts[s] == 0) {
                pr->first_dts[s] = pkt->dts;
                pr->first_pts[s] = pkt->pts;
                pr->first_is_key[s] = !!(pkt->flags & AV_PKT_FLAG_KEY);
                pr->tb[s] = fc->streams[s]->time_base;
            }
            if (pkt->dts != AV_NOPTS_VALUE) {
                if (pkt->dts <= prev[s])
                    pr->dts_monotonic = 0;
                prev[s] = pkt->dts;
                pr->last_dts[s] = pkt->dts;
            }
            pr->npkts[s]++;
            pr->nkey[s] += !!(pkt->flags & AV_PKT_FLAG_KEY);
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fc);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
}

static void remux(const sl_buf *in, sl_pkg_kind kind, uint64_t track, int64_t start_ms,
                  int64_t end_ms, sl_buf *out)
{
    sl_pkg_opts o = {
        .kind = kind, .track = track, .has_start = 1, .start_ms = start_ms, .end_ms = end_ms};
    sl_diag d = {0};
    int rc = sl_pkg_remux((const uint8_t *)in->data, in->len, &o, out, &d);
    if (rc != 0)
        print_error("remux kind %d track %llu: %s (%s)\n", (int)kind, (unsigned long long)track,
                    sl_err_name(rc), d.text);
    assert_int_equal(rc, 0);
    assert_true(out->len > 0);
}

/* ---- tests ---- */

/* The payload of the first CodecPrivate element in an MKV header, and its size. */
static uint8_t *codec_private(sl_buf *h, size_t *len)
{
    uint8_t *p = memmem(h->data, h->len, "\x63\xA2", 2);
    assert_non_null(p);
    p += 2;
    size_t w = 1;
    while (w <= 8 && !(p[0] & (0x80u >> (w - 1))))
        w++;
    assert_true(w <= 8);
    uint64_t v = p[0] & ((0x80u >> (w - 1)) - 1);
    for (size_t i = 1; i < w; i++)
        v = v << 8 | p[i];
    *len = (size_t)v;
    return p + w;
}

static void test_probe_and_gate(void **state)
{
    (void)state;
    cut c;
    sl_pkg_info info;
    sl_diag d;
    size_t cplen;

    cut_file(MEDIA "h264-aac.mkv", &c);
    assert_int_equal(sl_pkg_probe((const uint8_t *)c.header.data, c.header.len, &info, &d), 0);
    assert_int_equal(info.ntracks, 2);
    assert_int_equal(info.tracks[0].codec, SL_PKG_CODEC_H264);
    assert_int_equal(info.tracks[0].number, 1);
    assert_int_equal(info.tracks[0].width, 160);
    assert_int_equal(info.tracks[0].height, 120);
    assert_string_equal(info.tracks[0].codecs, "avc1.64000b"); /* High, level 1.1 (x264) */
    assert_int_equal(info.tracks[1].codec, SL_PKG_CODEC_AAC);
    assert_int_equal(info.tracks[1].number, 2);
    assert_string_equal(info.tracks[1].codecs, "mp4a.40.2");
    assert_int_equal(info.tracks[1].sample_rate, 48000);
    assert_int_equal(info.tracks[1].channels, 1);

    /* CodecPrivate renamed to an unknown element: missing. */
    sl_buf h = SL_BUF_INIT;
    sl_buf_append(&h, c.header.data, c.header.len);
    char *cp = memmem(h.data, h.len, "\x63\xA2", 2);
    assert_non_null(cp);
    size_t cpoff = (size_t)(cp - h.data);
    cp[1] = (char)0xA3;
    assert_int_equal(sl_pkg_probe((const uint8_t *)h.data, h.len, &info, &d), SL_EMEDIA_NO_CPD);
    /* avcC version byte corrupted: invalid. (Size vint of CodecPrivate is one byte here.) */
    h.data[cpoff + 1] = (char)0xA2;
    assert_int_equal((uint8_t)h.data[cpoff + 3], 1);
    h.data[cpoff + 3] = 7;
    assert_int_equal(sl_pkg_probe((const uint8_t *)h.data, h.len, &info, &d), SL_EMEDIA_BAD_CPD);
    sl_buf_cleanup(&h);
    cut_free(&c);

    /* avcC whose SPS length runs past its end: invalid. */
    cut_file(MEDIA "h264-aac.mkv", &c);
    sl_buf_append(&h, c.header.data, c.header.len);
    uint8_t *rec = codec_private(&h, &cplen);
    assert_true(cplen > 8 && (rec[5] & 0x1f) == 1);
    rec[6] = 0xff; /* SPS length 0xff.. */
    assert_int_equal(sl_pkg_probe((const uint8_t *)h.data, h.len, &info, &d), SL_EMEDIA_BAD_CPD);
    sl_buf_cleanup(&h);
    cut_free(&c);

    cut_file(MEDIA "hevc.mkv", &c);
    assert_int_equal(sl_pkg_probe((const uint8_t *)c.header.data, c.header.len, &info, &d), 0);
    assert_int_equal(info.ntracks, 1);
    assert_int_equal(info.tracks[0].codec, SL_PKG_CODEC_H265);
    assert_string_equal(info.tracks[0].codecs, "hvc1.1.6.L30.90"); /* Main, level 1 */
    /* hvcC claiming 255 arrays (numOfArrays) it does not hold: invalid, refused before FFmpeg's
     * hevc_mp4toannexb spends seconds and gigabytes expanding it for a TS segment. */
    sl_buf_append(&h, c.header.data, c.header.len);
    rec = codec_private(&h, &cplen);
    assert_true(cplen > 23 && rec[22] > 0 && rec[22] < 255);
    rec[22] = 255;
    assert_int_equal(sl_pkg_probe((const uint8_t *)h.data, h.len, &info, &d), SL_EMEDIA_BAD_CPD);
    sl_buf o = SL_BUF_INIT;
    sl_pkg_opts po = {.kind = SL_PKG_TS, .track = 1};
    assert_int_equal(sl_pkg_remux((const uint8_t *)h.data, h.len, &po, &o, &d), SL_EMEDIA_BAD_CPD);
    assert_int_equal(o.len, 0);
    /* ... and one whose arrays are right but whose first NAL unit's length is one too many. */
    memcpy(h.data, c.header.data, c.header.len);
    /* array 0: type at 23, numNalus at 24..25, its first length at 26..27 */
    size_t l0 = (size_t)rec[26] << 8 | rec[27];
    assert_true(l0 > 0 && 28 + l0 <= cplen);
    size_t l1 = cplen - 28 + 1;
    rec[26] = (uint8_t)(l1 >> 8);
    rec[27] = (uint8_t)l1;
    assert_int_equal(sl_pkg_probe((const uint8_t *)h.data, h.len, &info, &d), SL_EMEDIA_BAD_CPD);
    sl_buf_cleanup(&h);
    cut_free(&c);

    cut_file(MEDIA "vp8.mkv", &c);
    assert_int_equal(sl_pkg_probe((const uint8_t *)c.header.data, c.header.len, &info, &d),
                     SL_EMEDIA_UNSUPPORTED);
    cut_free(&c);

    const uint8_t junk[] = "not a matroska file at all";
    assert_int_equal(sl_pkg_probe(junk, sizeof(junk), &info, &d), SL_EPARSE);
}

/* The capture: init once, then every fragment packaged on its own, in reverse order (as
 * concurrent workers may), joined in playlist order: the mov demuxer sees 125 frames, 20 key
 * frames, decode times rising, and tfdt = producer time × 90. */
static void test_capture_fmp4(void **state)
{
    (void)state;
    cut c;
    cut_file(CAPTURE, &c);
    assert_int_equal(c.n, 20);
    sl_buf in = SL_BUF_INIT, init = SL_BUF_INIT, seg[20], all = SL_BUF_INIT;
    assemble(&c, 0, 0, &in);
    remux(&in, SL_PKG_FMP4_INIT, 1, 0, 0, &init);
    assert_memory_equal(init.data + 4, "ftyp", 4);
    assert_non_null(memmem(init.data, init.len, "moov", 4));
    assert_null(memmem(init.data, init.len, "moof", 4));
    for (size_t i = 20; i-- > 0;) {
        sl_buf_init(&seg[i]);
        assemble(&c, i, i + 1, &in);
        remux(&in, SL_PKG_FMP4_MEDIA, 1, c.f[i].producer_ms,
              c.f[i].producer_ms + (int64_t)c.f[i].duration_ms, &seg[i]);
        assert_memory_equal(seg[i].data + 4, "moof", 4);
        assert_null(memmem(seg[i].data, seg[i].len, "moov", 4));
    }
    sl_buf_append(&all, init.data, init.len);
    for (size_t i = 0; i < 20; i++)
        sl_buf_append(&all, seg[i].data, seg[i].len);
    probe pr;
    if (getenv("SL_TEST_DUMP")) {
        FILE *f = fopen(getenv("SL_TEST_DUMP"), "wb");
        fwrite(all.data, 1, all.len, f);
        fclose(f);
    }
    probe_bytes((const uint8_t *)all.data, all.len, "mp4", &pr);
    assert_int_equal(pr.nstreams, 1);
    assert_int_equal(pr.npkts[0], 125);
    assert_int_equal(pr.nkey[0], 20);
    assert_true(pr.dts_monotonic);
    assert_int_equal(pr.tb[0].den, 90000);
    assert_int_equal(pr.first_dts[0], c.f[0].producer_ms * 90);

    /* Each fragment alone after the init: its frames, key frame first, dts = producer time. */
    for (size_t i = 0; i < 20; i += 7) {
        sl_buf one = SL_BUF_INIT;
        sl_buf_append(&one, init.data, init.len);
        sl_buf_append(&one, seg[i].data, seg[i].len);
        probe_bytes((const uint8_t *)one.data, one.len, "mp4", &pr);
        assert_int_equal(pr.npkts[0], c.f[i].frames[0]);
        assert_true(pr.first_is_key[0]);
        assert_int_equal(pr.first_dts[0], c.f[i].producer_ms * 90);
        sl_buf_cleanup(&one);
    }
    for (size_t i = 0; i < 20; i++)
        sl_buf_cleanup(&seg[i]);
    sl_buf_cleanup(&in);
    sl_buf_cleanup(&init);
    sl_buf_cleanup(&all);
    cut_free(&c);
}

/* Capture fragments as MPEG-TS: each segment stands alone (PAT/PMT first), holds its frames,
 * and its first PTS is the producer time (mod 2^33). */
static void test_capture_ts(void **state)
{
    (void)state;
    cut c;
    cut_file(CAPTURE, &c);
    sl_buf in = SL_BUF_INIT, ts = SL_BUF_INIT;
    size_t total = 0;
    for (size_t i = 0; i < c.n; i++) {
        assemble(&c, i, i + 1, &in);
        sl_buf_reset(&ts);
        remux(&in, SL_PKG_TS, 0, c.f[i].producer_ms, 0, &ts);
        assert_int_equal(ts.len % 188, 0);
        assert_int_equal((uint8_t)ts.data[0], 0x47);
        probe pr;
        probe_bytes((const uint8_t *)ts.data, ts.len, "mpegts", &pr);
        assert_int_equal(pr.npkts[0], c.f[i].frames[0]);
        assert_true(pr.first_is_key[0]);
        assert_int_equal(pr.first_pts[0], (c.f[i].producer_ms * 90) & ((1LL << 33) - 1));
        total += pr.npkts[0];
    }
    assert_int_equal(total, 125);
    sl_buf_cleanup(&in);
    sl_buf_cleanup(&ts);
    cut_free(&c);
}

/* H.264 with B-frames + AAC: per-track fMP4 fragments and TS segments keep every frame, decode
 * times rise across fragments packaged separately, and audio follows video. */
static void test_av_bframes(void **state)
{
    (void)state;
    cut c;
    cut_file(MEDIA "h264-aac.mkv", &c);
    sl_buf in = SL_BUF_INIT, all[2] = {SL_BUF_INIT, SL_BUF_INIT}, ts = SL_BUF_INIT;
    size_t frames[2] = {0, 0};
    assemble(&c, 0, 0, &in);
    remux(&in, SL_PKG_FMP4_INIT, 1, 0, 0, &all[0]);
    remux(&in, SL_PKG_FMP4_INIT, 2, 0, 0, &all[1]);
    for (size_t i = 0; i < c.n; i++) {
        assemble(&c, i, i + 1, &in);
        for (int t = 0; t < 2; t++) {
            frames[t] += c.f[i].frames[t];
            if (c.f[i].frames[t] == 0)
                continue;
            remux(&in, SL_PKG_FMP4_MEDIA, (uint64_t)t + 1, c.f[i].producer_ms,
                  c.f[i].producer_ms + (int64_t)c.f[i].duration_ms, &all[t]);
        }
        sl_buf_reset(&ts);
        remux(&in, SL_PKG_TS, 0, c.f[i].producer_ms, 0, &ts);
        probe pr;
        probe_bytes((const uint8_t *)ts.data, ts.len, "mpegts", &pr);
        assert_int_equal(pr.nstreams, 2);
        assert_int_equal(pr.npkts[0], c.f[i].frames[0]);
    }
    assert_int_equal(frames[0], 75);
    for (int t = 0; t < 2; t++) {
        probe pr;
        if (getenv("SL_TEST_DUMP_AV")) {
            char name[256];
            snprintf(name, sizeof(name), "%s.%d.mp4", getenv("SL_TEST_DUMP_AV"), t);
            FILE *f = fopen(name, "wb");
            fwrite(all[t].data, 1, all[t].len, f);
            fclose(f);
        }
        probe_bytes((const uint8_t *)all[t].data, all[t].len, "mp4", &pr);
        assert_int_equal(pr.npkts[0], frames[t]);
        assert_true(pr.dts_monotonic);
        if (t == 1) {
            assert_int_equal(pr.tb[0].den, 48000);
            /* audio frames are back to back: 1024 samples each within a fragment */
            assert_true(pr.last_dts[0] - pr.first_dts[0] >= (int64_t)(frames[1] - 2) * 1024);
        }
        sl_buf_cleanup(&all[t]);
    }
    sl_buf_cleanup(&in);
    sl_buf_cleanup(&ts);
    cut_free(&c);
}

/* A clip of every fragment: one classic MP4 starting at 0 with all frames of both tracks. */
static void test_clip(void **state)
{
    (void)state;
    cut c;
    cut_file(MEDIA "h264-aac.mkv", &c);
    sl_buf in = SL_BUF_INIT, mp4 = SL_BUF_INIT;
    assemble(&c, 0, c.n, &in);
    sl_pkg_opts o = {.kind = SL_PKG_MP4_CLIP};
    assert_int_equal(sl_pkg_remux((const uint8_t *)in.data, in.len, &o, &mp4, NULL), 0);
    assert_memory_equal(mp4.data + 4, "ftyp", 4);
    assert_null(memmem(mp4.data, mp4.len, "moof", 4));
    probe pr;
    probe_bytes((const uint8_t *)mp4.data, mp4.len, "mp4", &pr);
    assert_int_equal(pr.nstreams, 2);
    assert_int_equal(pr.npkts[0], 75);
    assert_true(pr.duration_us > 2900000 && pr.duration_us < 3200000);
    assert_true(pr.first_pts[0] >= 0 && pr.first_pts[0] < 90000 / 10);
    /* H.265 too */
    cut_free(&c);
    cut_file(MEDIA "hevc.mkv", &c);
    assemble(&c, 0, c.n, &in);
    sl_buf_reset(&mp4);
    assert_int_equal(sl_pkg_remux((const uint8_t *)in.data, in.len, &o, &mp4, NULL), 0);
    assert_non_null(memmem(mp4.data, mp4.len, "hvc1", 4));
    probe_bytes((const uint8_t *)mp4.data, mp4.len, "mp4", &pr);
    assert_int_equal(pr.npkts[0], 50);
    sl_buf_cleanup(&in);
    sl_buf_cleanup(&mp4);
    cut_free(&c);
}

/* Missing track / no frames for a track are refused, not packaged empty. */
static void test_track_errors(void **state)
{
    (void)state;
    cut c;
    cut_file(CAPTURE, &c);
    sl_buf in = SL_BUF_INIT, out = SL_BUF_INIT;
    assemble(&c, 0, 1, &in);
    sl_pkg_opts o = {.kind = SL_PKG_FMP4_MEDIA, .track = 2};
    sl_diag d;
    assert_int_equal(sl_pkg_remux((const uint8_t *)in.data, in.len, &o, &out, &d), SL_ENOTFOUND);
    assemble(&c, 0, 0, &in);
    o.track = 1;
    assert_int_equal(sl_pkg_remux((const uint8_t *)in.data, in.len, &o, &out, &d), SL_ENOTFOUND);
    assert_int_equal(out.len, 0);
    sl_buf_cleanup(&in);
    sl_buf_cleanup(&out);
    cut_free(&c);
}

static void decode_image(const sl_buf *img, enum AVCodecID id, int *w, int *h, int *varied)
{
    const AVCodec *dc = avcodec_find_decoder(id);
    AVCodecContext *ctx = avcodec_alloc_context3(dc);
    assert_int_equal(avcodec_open2(ctx, dc, NULL), 0);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    assert_int_equal(av_new_packet(pkt, (int)img->len), 0);
    memcpy(pkt->data, img->data, img->len);
    assert_int_equal(avcodec_send_packet(ctx, pkt), 0);
    assert_int_equal(avcodec_receive_frame(ctx, fr), 0);
    *w = fr->width;
    *h = fr->height;
    int lo = 255, hi = 0;
    for (int y = 0; y < fr->height; y++)
        for (int x = 0; x < fr->width; x++) {
            int v = fr->data[0][y * fr->linesize[0] + x];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    *varied = hi - lo > 32;
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
}

static void test_images(void **state)
{
    (void)state;
    cut c;
    cut_file(CAPTURE, &c);
    sl_buf in = SL_BUF_INIT, img = SL_BUF_INIT;
    assemble(&c, 3, 4, &in);
    sl_pkg_image_opts o = {.at_ms = c.f[3].producer_ms + 100, .format = SL_PKG_JPEG};
    int64_t at = 0;
    sl_diag d;
    int rc = sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, &at, &d);
    if (rc)
        print_error("%s\n", d.text);
    assert_int_equal(rc, 0);
    assert_int_equal(at, c.f[3].producer_ms); /* the fragment's key frame */
    assert_memory_equal(img.data, "\xFF\xD8", 2);
    int w, h, varied;
    decode_image(&img, AV_CODEC_ID_MJPEG, &w, &h, &varied);
    assert_int_equal(w, 640);
    assert_int_equal(h, 480);
    assert_true(varied);

    sl_buf_reset(&img);
    o.format = SL_PKG_PNG;
    o.width = 160; /* height follows the aspect ratio */
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d), 0);
    assert_memory_equal(img.data, "\x89PNG", 4);
    decode_image(&img, AV_CODEC_ID_PNG, &w, &h, &varied);
    assert_int_equal(w, 160);
    assert_int_equal(h, 120);

    /* a derived side stops at GetImages' cap: 3840 wide from 4:3 would be 2880 high */
    sl_buf_reset(&img);
    o.width = 3840;
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d), 0);
    decode_image(&img, AV_CODEC_ID_PNG, &w, &h, &varied);
    assert_int_equal(w, 3840);
    assert_int_equal(h, 2160);
    sl_buf_reset(&img);
    o.width = 0;
    o.height = 2160; /* 2880 wide: allowed, the cap is 3840 */
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d), 0);
    decode_image(&img, AV_CODEC_ID_PNG, &w, &h, &varied);
    assert_int_equal(w, 2880);
    assert_int_equal(h, 2160);

    sl_buf_reset(&img);
    o.format = SL_PKG_JPEG;
    o.width = 100;
    o.height = 30; /* both: stretched */
    o.jpeg_quality = 10;
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d), 0);
    decode_image(&img, AV_CODEC_ID_MJPEG, &w, &h, &varied);
    assert_int_equal(w, 100);
    assert_int_equal(h, 30);

    /* a picture over the decoder's pixel limit does not decode (the limit lowered to 640x480
     * less one; SL_PKG_MAX_PIXELS by default) */
    o.max_pixels = 640 * 480 - 1;
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d),
                     SL_EMEDIA_FRAME);
    o.max_pixels = 640 * 480;
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d), 0);

    /* header only: no key frame */
    assemble(&c, 0, 0, &in);
    assert_int_equal(sl_pkg_image((const uint8_t *)in.data, in.len, &o, &img, NULL, &d),
                     SL_ENOTFOUND);
    sl_buf_cleanup(&in);
    sl_buf_cleanup(&img);
    cut_free(&c);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_and_gate), cmocka_unit_test(test_capture_fmp4),
        cmocka_unit_test(test_capture_ts),     cmocka_unit_test(test_av_bframes),
        cmocka_unit_test(test_clip),           cmocka_unit_test(test_track_errors),
        cmocka_unit_test(test_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
