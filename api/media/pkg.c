/* Remuxing stored MKV fragments into fMP4 / MPEG-TS / MP4 and decoding key frames into JPEG or
 * PNG, with FFmpeg's libraries. Contract and timestamp rules: pkg.h.
 *
 * How. A `demux` opens the in-memory MKV with the Matroska demuxer (custom read/seek
 * AVIOContext over the caller's bytes), applies the codec gate to its streams, and reads every
 * packet into an array. `retime` then gives each packet its output pts/dts/duration in the
 * output track's own time base (1/90000 video, 1/sample-rate AAC; see pkg.h for the rules).
 * `mux` creates the muxer on a write AVIOContext that appends to an sl_buf (seekable only for
 * classic MP4, whose trailer patches the mdat size), writes the header, the packets and, for
 * fMP4, a forced fragment flush (movflags frag_custom): bytes written by the header are the
 * init segment, bytes after it are the media fragment.
 *
 * Each call builds and frees its own FFmpeg contexts; nothing is shared between calls, so any
 * number of workers may package concurrently. */
#include "pkg.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>

#define IOBUF_BYTES  (64 * 1024)
#define VIDEO_TB_DEN 90000
#define AAC_FRAME    1024

#if LIBAVFORMAT_VERSION_MAJOR < 61
#define AVIO_WRITE_BUF uint8_t *
#else
#define AVIO_WRITE_BUF const uint8_t *
#endif

/* ---- memory I/O --------------------------------------------------------------------------- */

/* The input is the caller's bytes followed by an empty Cluster: the Matroska demuxer only
 * finishes reading the header when it meets a Cluster, and an init segment is made from a
 * stored header alone. The empty Cluster adds no frame. */
static const uint8_t empty_cluster[] = {0x1F, 0x43, 0xB6, 0x75, 0x83, 0xE7, 0x81, 0x00};

typedef struct mem_in {
    const uint8_t *p;
    size_t len, pos; /* len counts the caller's bytes; pos runs to len + sizeof(empty_cluster) */
} mem_in;

static int in_read(void *opaque, uint8_t *buf, int n)
{
    mem_in *m = opaque;
    size_t total = m->len + sizeof(empty_cluster);
    if (m->pos >= total)
        return AVERROR_EOF;
    size_t k = 0;
    while (k < (size_t)n && m->pos < total) {
        if (m->pos < m->len) {
            size_t run = m->len - m->pos < (size_t)n - k ? m->len - m->pos : (size_t)n - k;
            memcpy(buf + k, m->p + m->pos, run);
            k += run;
            m->pos += run;
        } else {
            buf[k++] = empty_cluster[m->pos++ - m->len];
        }
    }
    return (int)k;
}

static int64_t in_seek(void *opaque, int64_t off, int whence)
{
    mem_in *m = opaque;
    int64_t total = (int64_t)(m->len + sizeof(empty_cluster)), base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return total;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case SEEK_END:
        base = total;
        break;
    default:
        return AVERROR(EINVAL);
    }
    int64_t to = base + off;
    if (to < 0 || to > total)
        return AVERROR(EINVAL);
    m->pos = (size_t)to;
    return to;
}

typedef struct mem_out {
    sl_buf *b;
    size_t pos;
} mem_out;

static int out_write(void *opaque, AVIO_WRITE_BUF buf, int n)
{
    mem_out *m = opaque;
    size_t end = m->pos + (size_t)n;
    if (end > m->b->len) {
        if (sl_buf_reserve(m->b, end - m->b->len) != 0)
            return AVERROR(ENOMEM);
        m->b->len = end;
        m->b->data[end] = 0;
    }
    memcpy(m->b->data + m->pos, buf, (size_t)n);
    m->pos = end;
    return n;
}

static int64_t out_seek(void *opaque, int64_t off, int whence)
{
    mem_out *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)m->b->len;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)m->pos;
        break;
    case SEEK_END:
        base = (int64_t)m->b->len;
        break;
    default:
        return AVERROR(EINVAL);
    }
    int64_t to = base + off;
    if (to < 0 || to > (int64_t)m->b->len)
        return AVERROR(EINVAL);
    m->pos = (size_t)to;
    return to;
}

static AVIOContext *avio_new(void *opaque, int writable, int seekable)
{
    uint8_t *iobuf = av_malloc(IOBUF_BYTES);
    if (!iobuf)
        return NULL;
    AVIOContext *pb = avio_alloc_context(iobuf, IOBUF_BYTES, writable, opaque,
                                         writable ? NULL : in_read, writable ? out_write : NULL,
                                         seekable ? (writable ? out_seek : in_seek) : NULL);
    if (!pb)
        av_free(iobuf);
    return pb;
}

static void avio_free(AVIOContext **pb)
{
    if (!*pb)
        return;
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}

/* ---- demuxing and the codec gate ------------------------------------------------------------ */

typedef struct demux {
    mem_in in;
    AVIOContext *pb;
    AVFormatContext *fmt;
    sl_pkg_info info;
    int stream_of_track[SL_PKG_MAX_TRACKS]; /* info.tracks[i] is fmt->streams[stream_of...] */
    AVPacket **pkts;
    size_t npkts, cap;
} demux;

static void demux_cleanup(demux *dm)
{
    for (size_t i = 0; i < dm->npkts; i++)
        av_packet_free(&dm->pkts[i]);
    free(dm->pkts);
    if (dm->fmt)
        avformat_close_input(&dm->fmt);
    avio_free(&dm->pb);
}

static void hevc_codecs(const uint8_t *x, char *out, size_t cap)
{
    /* hvcC: general_profile_space(2) tier(1) profile_idc(5), compat flags (32), constraint
     * flags (48), level_idc (8). RFC 6381 / ISO 14496-15 E.3: compat flags bit-reversed. */
    static const char *space[] = {"", "A", "B", "C"};
    uint32_t compat = (uint32_t)x[2] << 24 | (uint32_t)x[3] << 16 | (uint32_t)x[4] << 8 | x[5];
    uint32_t rev = 0;
    for (int i = 0; i < 32; i++)
        if (compat & (1u << i))
            rev |= 1u << (31 - i);
    int n = snprintf(out, cap, "hvc1.%s%u.%X.%c%u", space[x[1] >> 6], x[1] & 0x1fu, rev,
                     (x[1] & 0x20) ? 'H' : 'L', x[12]);
    int last = 5; /* trailing zero constraint bytes are omitted */
    while (last >= 0 && x[6 + last] == 0)
        last--;
    for (int i = 0; i <= last && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, ".%X", x[6 + i]);
}

/* Walks an avcC (ISO 14496-15 5.3.3.1) or hvcC (8.3.3.1) to its last parameter set and says
 * whether every count and length it declares fits in its n bytes. FFmpeg's mp4toannexb filters,
 * which the TS muxer inserts, trust these counts: an hvcC that claims 255 arrays of 65535 NAL
 * units in 7 KB makes libavformat 5.1 grow a buffer 16 million times (seconds of CPU, gigabytes
 * of memory) for one segment. Bytes after the last parameter set (avcC's high-profile fields)
 * are allowed; an avcC that ends right after its SPS (no PPS count) is too, as decoders take it. */
static int param_sets_fit(const uint8_t *x, size_t n, int hevc)
{
    size_t off;
    unsigned groups;
    if (hevc) {
        if (n < 23)
            return 0;
        groups = x[22]; /* numOfArrays */
        off = 23;
    } else {
        if (n < 6)
            return 0;
        groups = 2; /* SPS, then PPS */
        off = 5;
    }
    for (unsigned g = 0; g < groups; g++) {
        unsigned count;
        if (hevc) {
            if (n - off < 3)
                return 0;
            count = (unsigned)x[off + 1] << 8 | x[off + 2]; /* type(1), numNalus(2) */
            off += 3;
        } else {
            if (off == n && g == 1)
                return 1;
            if (off >= n)
                return 0;
            count = g == 0 ? x[off] & 0x1fu : x[off];
            off += 1;
        }
        for (unsigned i = 0; i < count; i++) {
            if (n - off < 2)
                return 0;
            size_t len = (size_t)x[off] << 8 | x[off + 1];
            off += 2;
            if (len == 0 || n - off < len)
                return 0;
            off += len;
        }
    }
    return 1;
}

static int gate_track(const AVStream *st, sl_pkg_track *t, sl_diag *d)
{
    const AVCodecParameters *cp = st->codecpar;
    const uint8_t *x = cp->extradata;
    int n = cp->extradata_size;
    memset(t, 0, sizeof(*t));
    t->number = st->id > 0 ? (uint64_t)st->id : (uint64_t)st->index + 1;
    switch (cp->codec_id) {
    case AV_CODEC_ID_H264:
        t->codec = SL_PKG_CODEC_H264;
        break;
    case AV_CODEC_ID_HEVC:
        t->codec = SL_PKG_CODEC_H265;
        break;
    case AV_CODEC_ID_AAC:
        t->codec = SL_PKG_CODEC_AAC;
        break;
    default:
        return sl_diag_set(d, SL_EMEDIA_UNSUPPORTED, 0, "track %llu: codec %s is not supported",
                           (unsigned long long)t->number, avcodec_get_name(cp->codec_id));
    }
    if (!x || n <= 0)
        return sl_diag_set(d, SL_EMEDIA_NO_CPD, 0, "track %llu has no CodecPrivate",
                           (unsigned long long)t->number);
    switch (t->codec) {
    case SL_PKG_CODEC_H264:
        /* AVCDecoderConfigurationRecord with at least one SPS */
        if (n < 7 || x[0] != 1 || (x[5] & 0x1f) == 0 || !param_sets_fit(x, (size_t)n, 0))
            return sl_diag_set(d, SL_EMEDIA_BAD_CPD, 0, "track %llu: CodecPrivate is not avcC",
                               (unsigned long long)t->number);
        snprintf(t->codecs, sizeof(t->codecs), "avc1.%02x%02x%02x", x[1], x[2], x[3]);
        break;
    case SL_PKG_CODEC_H265:
        if (n < 23 || x[0] != 1 || !param_sets_fit(x, (size_t)n, 1))
            return sl_diag_set(d, SL_EMEDIA_BAD_CPD, 0, "track %llu: CodecPrivate is not hvcC",
                               (unsigned long long)t->number);
        hevc_codecs(x, t->codecs, sizeof(t->codecs));
        break;
    case SL_PKG_CODEC_AAC:
        if (n < 2 || (x[0] >> 3) == 0 || cp->sample_rate <= 0)
            return sl_diag_set(d, SL_EMEDIA_BAD_CPD, 0,
                               "track %llu: CodecPrivate is not an AudioSpecificConfig",
                               (unsigned long long)t->number);
        snprintf(t->codecs, sizeof(t->codecs), "mp4a.40.%u", x[0] >> 3);
        break;
    }
    t->is_video = cp->codec_type == AVMEDIA_TYPE_VIDEO;
    t->width = cp->width;
    t->height = cp->height;
    t->sample_rate = cp->sample_rate;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 24, 100)
    t->channels = cp->ch_layout.nb_channels;
#else
    t->channels = cp->channels;
#endif
    return 0;
}

/* Opens mkv and applies the codec gate; with read_all, also reads every packet. */
static int demux_open(demux *dm, const uint8_t *mkv, size_t len, int read_all, sl_diag *d)
{
    memset(dm, 0, sizeof(*dm));
    dm->in = (mem_in){mkv, len, 0};
    dm->pb = avio_new(&dm->in, 0, 1);
    dm->fmt = avformat_alloc_context();
    if (!dm->pb || !dm->fmt)
        return sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
    dm->fmt->pb = dm->pb;
    dm->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    int ret = avformat_open_input(&dm->fmt, NULL, av_find_input_format("matroska"), NULL);
    if (ret < 0) { /* avformat_open_input freed the context */
        dm->fmt = NULL;
        return sl_diag_set(d, SL_EPARSE, 0, "not a readable MKV: %s", av_err2str(ret));
    }
    unsigned ns = dm->fmt->nb_streams;
    if (ns == 0)
        return sl_diag_set(d, SL_EMEDIA_UNSUPPORTED, 0, "the stream has no tracks");
    if (ns > 2)
        return sl_diag_set(d, SL_EMEDIA_UNSUPPORTED, 0, "%u tracks; at most 2 are supported", ns);
    for (unsigned i = 0; i < ns; i++) {
        int rc = gate_track(dm->fmt->streams[i], &dm->info.tracks[i], d);
        if (rc != 0)
            return rc;
        dm->stream_of_track[i] = (int)i;
    }
    dm->info.ntracks = ns;
    const sl_pkg_track *t0 = &dm->info.tracks[0];
    if (t0->codec == SL_PKG_CODEC_AAC && ns > 1)
        return sl_diag_set(d, SL_EMEDIA_UNSUPPORTED, 0, "track 1 must be H.264 or H.265 video");
    if (ns > 1 && dm->info.tracks[1].codec != SL_PKG_CODEC_AAC)
        return sl_diag_set(d, SL_EMEDIA_UNSUPPORTED, 0, "track 2 must be AAC audio");
    if (!read_all)
        return 0;
    for (;;) {
        AVPacket *pkt = av_packet_alloc();
        if (!pkt)
            return sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
        ret = av_read_frame(dm->fmt, pkt);
        if (ret < 0) {
            av_packet_free(&pkt);
            if (ret == AVERROR_EOF)
                break;
            return sl_diag_set(d, SL_EMEDIA_FRAME, (size_t)dm->in.pos, "MKV read failed: %s",
                               av_err2str(ret));
        }
        if (pkt->pts == AV_NOPTS_VALUE)
            pkt->pts = pkt->dts;
        if (pkt->pts == AV_NOPTS_VALUE || pkt->size <= 0) {
            av_packet_free(&pkt);
            continue;
        }
        if (dm->npkts == dm->cap) {
            size_t cap = dm->cap ? dm->cap * 2 : 256;
            AVPacket **np = realloc(dm->pkts, cap * sizeof(*np));
            if (!np) {
                av_packet_free(&pkt);
                return sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
            }
            dm->pkts = np;
            dm->cap = cap;
        }
        dm->pkts[dm->npkts++] = pkt;
    }
    return 0;
}

int sl_pkg_probe(const uint8_t *mkv, size_t len, sl_pkg_info *info, sl_diag *d)
{
    demux dm;
    int rc = demux_open(&dm, mkv, len, 0, d);
    if (rc == 0)
        *info = dm.info;
    demux_cleanup(&dm);
    return rc;
}

/* ---- retiming ------------------------------------------------------------------------------ */

typedef struct timed {
    int64_t pts, dts, dur; /* in the output time base of the packet's stream */
} timed;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Output times of stream si's packets (indexes idx[0..n), decode order) in 1/tb_den units.
 * shift_us moves input times; end_us (0: none) ends the last frame. */
static int retime_stream(const demux *dm, int si, const size_t *idx, size_t n, int64_t shift_us,
                         int64_t end_us, timed *out)
{
    const AVStream *st = dm->fmt->streams[si];
    const AVCodecParameters *cp = st->codecpar;
    AVRational us = {1, 1000000};
    if (n == 0)
        return 0;
    if (cp->codec_type == AVMEDIA_TYPE_AUDIO) {
        int sr = cp->sample_rate;
        int fs = cp->frame_size > 0 ? cp->frame_size : AAC_FRAME;
        /* back to back frames; a jump ahead of more than two frames (a gap between
         * fragments) restarts at the input's time so audio stays with the video after it;
         * frames that overlap the previous one are moved after it */
        for (size_t i = 0; i < n; i++) {
            int64_t t_us = av_rescale_q(dm->pkts[idx[i]]->pts, st->time_base, us) + shift_us;
            int64_t t = av_rescale(t_us, sr, 1000000);
            int64_t next = i ? out[i - 1].pts + fs : t;
            out[i].pts = out[i].dts = t - next > 2 * (int64_t)fs ? t : next;
            out[i].dur = fs;
        }
        return 0;
    }
    int64_t *pts = malloc(n * sizeof(int64_t)), *sorted = malloc(n * sizeof(int64_t));
    if (!pts || !sorted) {
        free(pts);
        free(sorted);
        return SL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t t_us = av_rescale_q(dm->pkts[idx[i]]->pts, st->time_base, us) + shift_us;
        pts[i] = sorted[i] = av_rescale(t_us, VIDEO_TB_DEN, 1000000);
    }
    qsort(sorted, n, sizeof(int64_t), cmp_i64);
    /* frames of overlapping fragments can share a time: decode times must still rise */
    for (size_t i = 1; i < n; i++)
        if (sorted[i] <= sorted[i - 1])
            sorted[i] = sorted[i - 1] + 1;
    int64_t delay = 0;
    for (size_t i = 0; i < n; i++)
        if (sorted[i] - pts[i] > delay)
            delay = sorted[i] - pts[i];
    for (size_t i = 0; i < n; i++) {
        out[i].pts = pts[i];
        out[i].dts = sorted[i] - delay;
    }
    for (size_t i = 0; i + 1 < n; i++)
        out[i].dur = out[i + 1].dts - out[i].dts;
    int64_t last = 0;
    if (end_us > 0)
        last = av_rescale(end_us + shift_us, VIDEO_TB_DEN, 1000000) - sorted[n - 1];
    if (last <= 0 && n > 1)
        last = out[n - 2].dur;
    if (last <= 0) {
        const AVPacket *p = dm->pkts[idx[n - 1]];
        last = p->duration > 0
                   ? av_rescale_q(p->duration, st->time_base, (AVRational){1, VIDEO_TB_DEN})
                   : VIDEO_TB_DEN / 30;
    }
    out[n - 1].dur = last;
    free(pts);
    free(sorted);
    return 0;
}

/* ---- muxing -------------------------------------------------------------------------------- */

static int stream_tb_den(const AVStream *st)
{
    return st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO ? st->codecpar->sample_rate
                                                          : VIDEO_TB_DEN;
}

typedef struct sel {
    int in_index; /* input stream */
    size_t *idx;  /* its packets, decode order */
    size_t n;
    timed *t;
} sel;

int sl_pkg_remux(const uint8_t *mkv, size_t len, const sl_pkg_opts *o, sl_buf *out, sl_diag *d)
{
    demux dm;
    sel sels[SL_PKG_MAX_TRACKS];
    size_t nsel = 0;
    AVFormatContext *oc = NULL;
    AVIOContext *opb = NULL;
    AVDictionary *mopts = NULL;
    AVPacket *pkt = NULL;
    sl_buf tmp = SL_BUF_INIT;
    mem_out mo = {&tmp, 0};
    int rc;
    memset(sels, 0, sizeof(sels));
    int fmp4 = o->kind == SL_PKG_FMP4_INIT || o->kind == SL_PKG_FMP4_MEDIA;

    rc = demux_open(&dm, mkv, len, o->kind != SL_PKG_FMP4_INIT, d);
    if (rc != 0)
        goto out;

    /* which input streams go out */
    for (size_t i = 0; i < dm.info.ntracks; i++) {
        if (fmp4 && dm.info.tracks[i].number != o->track)
            continue;
        sels[nsel++].in_index = dm.stream_of_track[i];
    }
    if (nsel == 0) {
        rc = sl_diag_set(d, SL_ENOTFOUND, 0, "no track %llu", (unsigned long long)o->track);
        goto out;
    }

    /* packets per selected stream, and the time shift */
    int64_t first_us = INT64_MAX;
    for (size_t k = 0; k < nsel; k++) {
        sels[k].idx = malloc((dm.npkts + 1) * sizeof(size_t));
        sels[k].t = malloc((dm.npkts + 1) * sizeof(timed));
        if (!sels[k].idx || !sels[k].t) {
            rc = sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < dm.npkts; i++) {
            if (dm.pkts[i]->stream_index != sels[k].in_index)
                continue;
            sels[k].idx[sels[k].n++] = i;
            const AVStream *st = dm.fmt->streams[sels[k].in_index];
            int64_t t = av_rescale_q(dm.pkts[i]->pts, st->time_base, (AVRational){1, 1000000});
            if (t < first_us)
                first_us = t;
        }
    }
    size_t total = 0;
    for (size_t k = 0; k < nsel; k++)
        total += sels[k].n;
    if (o->kind != SL_PKG_FMP4_INIT && total == 0) { /* an empty segment is no answer */
        rc = sl_diag_set(d, SL_ENOTFOUND, 0, "no frames of track %llu",
                         (unsigned long long)o->track);
        goto out;
    }
    int64_t shift_us = 0;
    if (first_us != INT64_MAX) {
        if (o->kind == SL_PKG_MP4_CLIP)
            shift_us = -first_us;
        else if (o->has_start)
            shift_us = o->start_ms * 1000 - first_us;
    }
    int64_t end_us = o->end_ms > 0 && o->kind != SL_PKG_MP4_CLIP ? o->end_ms * 1000 - shift_us : 0;
    if (o->kind == SL_PKG_MP4_CLIP)
        end_us = 0;
    for (size_t k = 0; k < nsel; k++) {
        rc = retime_stream(&dm, sels[k].in_index, sels[k].idx, sels[k].n, shift_us, end_us,
                           sels[k].t);
        if (rc != 0) {
            sl_diag_set(d, rc, 0, "out of memory");
            goto out;
        }
    }

    /* muxer */
    const char *fmtname = o->kind == SL_PKG_TS ? "mpegts" : "mp4";
    if (avformat_alloc_output_context2(&oc, NULL, fmtname, NULL) < 0 || !oc) {
        rc = sl_diag_set(d, SL_ENOMEM, 0, "cannot create the %s muxer", fmtname);
        goto out;
    }
    opb = avio_new(&mo, 1, o->kind == SL_PKG_MP4_CLIP);
    if (!opb) {
        rc = sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
        goto out;
    }
    oc->pb = opb;
    oc->flags |= AVFMT_FLAG_CUSTOM_IO;
    for (size_t k = 0; k < nsel; k++) {
        const AVStream *ist = dm.fmt->streams[sels[k].in_index];
        AVStream *ost = avformat_new_stream(oc, NULL);
        if (!ost || avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0) {
            rc = sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
            goto out;
        }
        ost->codecpar->codec_tag = 0;
        if (ost->codecpar->codec_id == AV_CODEC_ID_HEVC && o->kind != SL_PKG_TS)
            ost->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1'); /* what Apple and hls.js want */
        ost->time_base = (AVRational){1, stream_tb_den(ist)};
    }
    if (fmp4) {
        av_dict_set(&mopts, "movflags",
                    "empty_moov+default_base_moof+frag_custom+skip_trailer+frag_discont", 0);
        av_dict_set(&mopts, "use_editlist", "0", 0);
        av_dict_set_int(&mopts, "fragment_index", o->mp4_sequence ? o->mp4_sequence : 1, 0);
        /* without this the mov muxer moves the first frame to 0 (MAKE_ZERO) */
        oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_DISABLED;
    }
    if (o->kind != SL_PKG_TS)
        av_dict_set(&mopts, "video_track_timescale", "90000", 0);
    else
        av_dict_set(&mopts, "mpegts_copyts", "1", 0);
    int ret = avformat_write_header(oc, &mopts);
    if (ret < 0) {
        rc = sl_diag_set(d, SL_EMEDIA_FRAME, 0, "muxer refused the tracks: %s", av_err2str(ret));
        goto out;
    }
    avio_flush(opb);
    size_t header_end = tmp.len;
    if (o->kind == SL_PKG_FMP4_INIT) {
        rc = sl_buf_append(out, tmp.data, tmp.len);
        goto out;
    }

    /* packets in decode-time order across streams (merge by dts in seconds) */
    pkt = av_packet_alloc();
    if (!pkt) {
        rc = sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
        goto out;
    }
    size_t pos[SL_PKG_MAX_TRACKS] = {0};
    for (;;) {
        int best = -1;
        for (size_t k = 0; k < nsel; k++) {
            if (pos[k] >= sels[k].n)
                continue;
            if (best < 0) {
                best = (int)k;
                continue;
            }
            AVRational ik = {1, stream_tb_den(dm.fmt->streams[sels[k].in_index])};
            AVRational ib = {1, stream_tb_den(dm.fmt->streams[sels[best].in_index])};
            if (av_compare_ts(sels[k].t[pos[k]].dts, ik, sels[best].t[pos[best]].dts, ib) < 0)
                best = (int)k;
        }
        if (best < 0)
            break;
        size_t k = (size_t)best;
        const AVPacket *ip = dm.pkts[sels[k].idx[pos[k]]];
        const timed *t = &sels[k].t[pos[k]];
        pos[k]++;
        if (av_packet_ref(pkt, ip) < 0) {
            rc = sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
            goto out;
        }
        AVRational itb = {1, stream_tb_den(dm.fmt->streams[sels[k].in_index])};
        AVRational otb = oc->streams[k]->time_base;
        pkt->stream_index = (int)k;
        pkt->pts = av_rescale_q(t->pts, itb, otb);
        pkt->dts = av_rescale_q(t->dts, itb, otb);
        pkt->duration = av_rescale_q(t->dur, itb, otb);
        pkt->pos = -1;
        ret = nsel > 1 ? av_interleaved_write_frame(oc, pkt) : av_write_frame(oc, pkt);
        av_packet_unref(pkt);
        if (ret < 0) {
            rc = sl_diag_set(d, SL_EMEDIA_FRAME, 0, "muxer refused a frame: %s", av_err2str(ret));
            goto out;
        }
    }
    if (fmp4) {
        ret = av_write_frame(oc, NULL); /* frag_custom: close the fragment now */
    } else {
        ret = av_write_trailer(oc);
    }
    if (ret < 0) {
        rc = sl_diag_set(d, SL_EMEDIA_FRAME, 0, "muxer failed: %s", av_err2str(ret));
        goto out;
    }
    avio_flush(opb);
    if (tmp.oom) {
        rc = sl_diag_set(d, SL_ENOMEM, 0, "out of memory");
        goto out;
    }
    if (o->kind == SL_PKG_FMP4_MEDIA)
        rc = sl_buf_append(out, tmp.data + header_end, tmp.len - header_end);
    else
        rc = sl_buf_append(out, tmp.data, tmp.len);
    if (rc != 0)
        sl_diag_set(d, rc, 0, "out of memory");
out:
    av_packet_free(&pkt);
    av_dict_free(&mopts);
    if (oc)
        avformat_free_context(oc);
    avio_free(&opb);
    for (size_t k = 0; k < nsel; k++) {
        free(sels[k].idx);
        free(sels[k].t);
    }
    demux_cleanup(&dm);
    sl_buf_cleanup(&tmp);
    return rc;
}

/* ---- images -------------------------------------------------------------------------------- */

int sl_pkg_image(const uint8_t *mkv, size_t len, const sl_pkg_image_opts *o, sl_buf *out,
                 int64_t *frame_ms, sl_diag *d)
{
    demux dm;
    AVCodecContext *dec = NULL, *enc = NULL;
    AVFrame *frame = NULL, *scaled = NULL;
    AVPacket *pkt = NULL;
    struct SwsContext *sws = NULL;
    int rc = demux_open(&dm, mkv, len, 1, d);
    if (rc != 0)
        goto out;
    int vs = -1;
    for (unsigned i = 0; i < dm.fmt->nb_streams; i++)
        if (dm.fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            vs = (int)i;
            break;
        }
    if (vs < 0) {
        rc = sl_diag_set(d, SL_ENOTFOUND, 0, "no video track");
        goto out;
    }
    const AVStream *st = dm.fmt->streams[vs];
    const AVPacket *key = NULL;
    int64_t best = INT64_MAX, key_ms = 0, target = o->at_ms, base = 0;
    if (o->relative) {
        int64_t first = INT64_MAX;
        for (size_t i = 0; i < dm.npkts; i++) {
            int64_t ms =
                av_rescale_q(dm.pkts[i]->pts, dm.fmt->streams[dm.pkts[i]->stream_index]->time_base,
                             (AVRational){1, 1000});
            first = ms < first ? ms : first;
        }
        base = first == INT64_MAX ? 0 : first;
        target = base + o->at_ms;
    }
    for (size_t i = 0; i < dm.npkts; i++) {
        const AVPacket *p = dm.pkts[i];
        if (p->stream_index != vs || !(p->flags & AV_PKT_FLAG_KEY))
            continue;
        int64_t ms = av_rescale_q(p->pts, st->time_base, (AVRational){1, 1000});
        int64_t dist = ms > target ? ms - target : target - ms;
        if (dist < best) {
            best = dist;
            key = p;
            key_ms = ms;
        }
    }
    if (!key) {
        rc = sl_diag_set(d, SL_ENOTFOUND, 0, "no key frame");
        goto out;
    }
    const AVCodec *dc = avcodec_find_decoder(st->codecpar->codec_id);
    dec = dc ? avcodec_alloc_context3(dc) : NULL;
    frame = av_frame_alloc();
    scaled = av_frame_alloc();
    pkt = av_packet_alloc();
    if (!dec || !frame || !scaled || !pkt || avcodec_parameters_to_context(dec, st->codecpar) < 0) {
        rc = sl_diag_set(d, SL_ENOMEM, 0, "cannot create the decoder");
        goto out;
    }
    dec->thread_count = 1;
    /* No H.264 or H.265 level allows a larger picture (MaxFS 139264 MBs; MaxLumaPs 35651584):
     * a stream whose SPS claims more is refused by the decoder instead of being given gigabytes. */
    dec->max_pixels = o->max_pixels > 0 ? o->max_pixels : SL_PKG_MAX_PIXELS;
    int ret = avcodec_open2(dec, dc, NULL);
    if (ret >= 0)
        ret = av_packet_ref(pkt, key);
    if (ret >= 0)
        ret = avcodec_send_packet(dec, pkt);
    if (ret >= 0)
        ret = avcodec_send_packet(dec, NULL);
    if (ret >= 0)
        ret = avcodec_receive_frame(dec, frame);
    if (ret < 0) {
        rc = sl_diag_set(d, SL_EMEDIA_FRAME, 0, "key frame does not decode: %s", av_err2str(ret));
        goto out;
    }

    int w = o->width, h = o->height;
    if (w <= 0 && h <= 0) {
        w = frame->width;
        h = frame->height;
    } else if (w <= 0) { /* the side not given follows the aspect ratio, up to GetImages' cap */
        int64_t x = (int64_t)frame->width * h / frame->height;
        w = (int)(x > SL_PKG_IMAGE_MAX_W ? SL_PKG_IMAGE_MAX_W : x);
    } else if (h <= 0) {
        int64_t x = (int64_t)frame->height * w / frame->width;
        h = (int)(x > SL_PKG_IMAGE_MAX_H ? SL_PKG_IMAGE_MAX_H : x);
    }
    if (w < 1)
        w = 1;
    if (h < 1)
        h = 1;
    int jpeg = o->format == SL_PKG_JPEG;
    enum AVPixelFormat dst = jpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_RGB24;
    const AVCodec *ec = avcodec_find_encoder(jpeg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG);
    enc = ec ? avcodec_alloc_context3(ec) : NULL;
    sws = sws_getContext(frame->width, frame->height, frame->format, w, h, dst, SWS_BICUBIC, NULL,
                         NULL, NULL);
    scaled->format = dst;
    scaled->width = w;
    scaled->height = h;
    if (!enc || !sws || av_frame_get_buffer(scaled, 0) < 0) {
        rc = sl_diag_set(d, SL_ENOMEM, 0, "cannot create the scaler or encoder");
        goto out;
    }
    sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height,
              scaled->data, scaled->linesize);
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = dst;
    enc->time_base = (AVRational){1, 25};
    if (jpeg) {
        int q = o->jpeg_quality > 0 ? o->jpeg_quality : 80;
        if (q > 100)
            q = 100;
        int qscale = 2 + (100 - q) * 29 / 99; /* 100 -> 2 (best), 1 -> 31 */
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * qscale;
        scaled->quality = enc->global_quality;
        enc->color_range = AVCOL_RANGE_JPEG;
    }
    ret = avcodec_open2(enc, ec, NULL);
    av_packet_unref(pkt);
    if (ret >= 0)
        ret = avcodec_send_frame(enc, scaled);
    if (ret >= 0)
        ret = avcodec_receive_packet(enc, pkt);
    if (ret < 0) {
        rc = sl_diag_set(d, SL_EMEDIA_FRAME, 0, "image encoder failed: %s", av_err2str(ret));
        goto out;
    }
    rc = sl_buf_append(out, pkt->data, (size_t)pkt->size);
    if (rc != 0)
        sl_diag_set(d, rc, 0, "out of memory");
    else if (frame_ms)
        *frame_ms = key_ms - base;
out:
    sws_freeContext(sws);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    av_frame_free(&scaled);
    avcodec_free_context(&dec);
    avcodec_free_context(&enc);
    demux_cleanup(&dm);
    return rc;
}
