/* EBML/Matroska writer (sl_mkv_writer) appending to an sl_buf.
 *
 * Encoding (RFC 8794): an ID is written as its bytes including the length marker; a size is a
 * vint of `width` bytes: the marker bit 0x80 >> (width - 1) in the first byte, the value in
 * the remaining bits, big-endian. A value whose bits would all be 1 is reserved for "unknown
 * size", so a width holds at most 2^(7·width) − 2. Unsigned integers are big-endian in the
 * fewest bytes (at least one) unless a width is asked for; floats are 8-byte IEEE 754.
 *
 * Masters are opened with a fixed-width placeholder size and patched when closed, since the
 * output is one contiguous sl_buf; width 0 writes the one-byte unknown size 0xFF instead (what
 * the AWS producer does for Segment and Cluster). The high-level helpers reproduce the
 * producer's layout (spec video-streams §4.1): 4-byte sizes for Tracks/TrackEntry, 8-byte
 * TimecodeScale, Timecode and SimpleBlock sizes.
 *
 * Errors latch in w->err (first one wins); every call afterwards does nothing and returns it,
 * so callers may write a whole structure and check once. */
#include <string.h>

#include "sluice/mkv.h"

void sl_mkv_writer_init(sl_mkv_writer *w, sl_buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

int sl_mkv_writer_error(const sl_mkv_writer *w)
{
    return w->err;
}

static int latch(sl_mkv_writer *w, int code)
{
    if (!w->err)
        w->err = code;
    return w->err;
}

static int put(sl_mkv_writer *w, const void *p, size_t n)
{
    if (w->err)
        return w->err;
    if (sl_buf_append(w->out, p, n) != 0)
        return latch(w, SL_ENOMEM);
    return 0;
}

static unsigned id_width(uint32_t id)
{
    return id > 0xFFFFFF ? 4 : id > 0xFFFF ? 3 : id > 0xFF ? 2 : 1;
}

int sl_mkv_write_id(sl_mkv_writer *w, uint32_t id)
{
    uint8_t b[4];
    unsigned n = id_width(id);
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)(id >> (8 * (n - 1 - i)));
    return put(w, b, n);
}

static void encode_size(uint8_t *b, uint64_t size, unsigned width)
{
    for (unsigned i = 0; i < width; i++)
        b[i] = (uint8_t)(size >> (8 * (width - 1 - i)));
    b[0] |= (uint8_t)(0x80u >> (width - 1));
}

static uint64_t width_max(unsigned width)
{
    return ((uint64_t)1 << (7 * width)) - 2;
}

int sl_mkv_write_size(sl_mkv_writer *w, uint64_t size, unsigned width)
{
    uint8_t b[8];
    if (w->err)
        return w->err;
    if (width == 0) {
        width = 1;
        while (width < 8 && size > width_max(width))
            width++;
    }
    if (width > 8 || size > width_max(width))
        return latch(w, SL_EINVAL);
    encode_size(b, size, width);
    return put(w, b, width);
}

int sl_mkv_write_uint_n(sl_mkv_writer *w, uint32_t id, uint64_t v, unsigned nbytes)
{
    uint8_t b[8];
    if (nbytes == 0 || nbytes > 8 || (nbytes < 8 && (v >> (8 * nbytes)) != 0))
        return latch(w, SL_EINVAL);
    for (unsigned i = 0; i < nbytes; i++)
        b[i] = (uint8_t)(v >> (8 * (nbytes - 1 - i)));
    sl_mkv_write_id(w, id);
    sl_mkv_write_size(w, nbytes, 1);
    return put(w, b, nbytes);
}

int sl_mkv_write_uint(sl_mkv_writer *w, uint32_t id, uint64_t v)
{
    unsigned n = 1;
    while (n < 8 && (v >> (8 * n)) != 0)
        n++;
    return sl_mkv_write_uint_n(w, id, v, n);
}

int sl_mkv_write_float(sl_mkv_writer *w, uint32_t id, double v)
{
    uint64_t bits;
    uint8_t b[8];
    memcpy(&bits, &v, 8);
    for (unsigned i = 0; i < 8; i++)
        b[i] = (uint8_t)(bits >> (8 * (7 - i)));
    sl_mkv_write_id(w, id);
    sl_mkv_write_size(w, 8, 1);
    return put(w, b, 8);
}

int sl_mkv_write_binary(sl_mkv_writer *w, uint32_t id, const void *p, size_t n, unsigned width)
{
    sl_mkv_write_id(w, id);
    sl_mkv_write_size(w, n, width);
    return put(w, p, n);
}

int sl_mkv_write_string(sl_mkv_writer *w, uint32_t id, const char *s, unsigned width)
{
    return sl_mkv_write_binary(w, id, s, strlen(s), width);
}

int sl_mkv_write_open(sl_mkv_writer *w, uint32_t id, unsigned width)
{
    static const uint8_t zeros[8] = {0};
    if (w->err)
        return w->err;
    if (w->depth == SL_MKV_MAX_DEPTH || width > 8)
        return latch(w, SL_EINVAL);
    sl_mkv_write_id(w, id);
    if (width == 0) {
        static const uint8_t unknown = 0xFF;
        put(w, &unknown, 1);
    } else {
        put(w, zeros, width); /* patched by sl_mkv_write_close */
    }
    if (w->err)
        return w->err;
    w->open_at[w->depth] = w->out->len - width;
    w->open_width[w->depth] = (uint8_t)width;
    w->depth++;
    return 0;
}

int sl_mkv_write_close(sl_mkv_writer *w)
{
    if (w->err)
        return w->err;
    if (w->depth == 0)
        return latch(w, SL_EINVAL);
    w->depth--;
    unsigned width = w->open_width[w->depth];
    if (width == 0)
        return 0;
    size_t at = w->open_at[w->depth];
    uint64_t size = w->out->len - at - width;
    if (size > width_max(width))
        return latch(w, SL_EINVAL);
    encode_size((uint8_t *)w->out->data + at, size, width);
    return 0;
}

int sl_mkv_write_stream_header(sl_mkv_writer *w, const sl_mkv_header *h)
{
    static const uint8_t segment_unknown[5] = {0x18, 0x53, 0x80, 0x67, 0xFF};

    sl_mkv_write_open(w, SL_MKV_ID_EBML, 1);
    sl_mkv_write_uint(w, SL_MKV_ID_EBML_VERSION, 1);
    sl_mkv_write_uint(w, SL_MKV_ID_EBML_READ_VERSION, 1);
    sl_mkv_write_uint(w, SL_MKV_ID_EBML_MAX_ID_LEN, 4);
    sl_mkv_write_uint(w, SL_MKV_ID_EBML_MAX_SIZE_LEN, 8);
    sl_mkv_write_string(w, SL_MKV_ID_DOCTYPE, h->doctype[0] ? h->doctype : "matroska", 0);
    sl_mkv_write_uint(w, SL_MKV_ID_DOCTYPE_VERSION, 2);
    sl_mkv_write_uint(w, SL_MKV_ID_DOCTYPE_READ_VER, 2);
    sl_mkv_write_close(w);
    put(w, segment_unknown, sizeof(segment_unknown));

    sl_mkv_write_open(w, SL_MKV_ID_INFO, 2);
    if (h->segment_uid_len)
        sl_mkv_write_binary(w, SL_MKV_ID_SEGMENT_UID, h->segment_uid, h->segment_uid_len, 0);
    sl_mkv_write_uint_n(w, SL_MKV_ID_TIMECODE_SCALE,
                        h->timecode_scale_ns ? h->timecode_scale_ns : 1000000, 8);
    if (h->duration > 0)
        sl_mkv_write_float(w, SL_MKV_ID_DURATION, h->duration);
    if (h->title[0])
        sl_mkv_write_string(w, SL_MKV_ID_TITLE, h->title, 0);
    if (h->muxing_app[0])
        sl_mkv_write_string(w, SL_MKV_ID_MUXING_APP, h->muxing_app, 0);
    if (h->writing_app[0])
        sl_mkv_write_string(w, SL_MKV_ID_WRITING_APP, h->writing_app, 0);
    sl_mkv_write_close(w);

    sl_mkv_write_open(w, SL_MKV_ID_TRACKS, 4);
    for (size_t i = 0; i < h->ntracks; i++) {
        const sl_mkv_track *t = &h->tracks[i];
        sl_mkv_write_open(w, SL_MKV_ID_TRACK_ENTRY, 4);
        sl_mkv_write_uint(w, SL_MKV_ID_TRACK_NUMBER, t->number);
        if (t->uid)
            sl_mkv_write_uint_n(w, SL_MKV_ID_TRACK_UID, t->uid, 8);
        sl_mkv_write_uint(w, SL_MKV_ID_TRACK_TYPE, t->type);
        if (t->name[0])
            sl_mkv_write_string(w, SL_MKV_ID_NAME, t->name, 0);
        sl_mkv_write_string(w, SL_MKV_ID_CODEC_ID, t->codec_id, 0);
        if (t->default_duration_ns)
            sl_mkv_write_uint(w, SL_MKV_ID_DEFAULT_DURATION, t->default_duration_ns);
        if (t->pixel_width || t->pixel_height) {
            sl_mkv_write_open(w, SL_MKV_ID_VIDEO, 4);
            sl_mkv_write_uint(w, SL_MKV_ID_PIXEL_WIDTH, t->pixel_width);
            sl_mkv_write_uint(w, SL_MKV_ID_PIXEL_HEIGHT, t->pixel_height);
            sl_mkv_write_close(w);
        }
        if (t->sampling_hz > 0 || t->channels) {
            sl_mkv_write_open(w, SL_MKV_ID_AUDIO, 4);
            if (t->sampling_hz > 0)
                sl_mkv_write_float(w, SL_MKV_ID_SAMPLING_FREQ, t->sampling_hz);
            if (t->channels)
                sl_mkv_write_uint(w, SL_MKV_ID_CHANNELS, t->channels);
            if (t->bit_depth)
                sl_mkv_write_uint(w, SL_MKV_ID_BIT_DEPTH, t->bit_depth);
            sl_mkv_write_close(w);
        }
        if (t->codec_private_len)
            sl_mkv_write_binary(w, SL_MKV_ID_CODEC_PRIVATE, t->codec_private, t->codec_private_len,
                                0);
        sl_mkv_write_close(w);
    }
    return sl_mkv_write_close(w);
}

int sl_mkv_write_cluster(sl_mkv_writer *w, uint64_t timecode)
{
    static const uint8_t cluster_unknown[5] = {0x1F, 0x43, 0xB6, 0x75, 0xFF};
    put(w, cluster_unknown, sizeof(cluster_unknown));
    return sl_mkv_write_uint_n(w, SL_MKV_ID_TIMECODE, timecode, 8);
}

int sl_mkv_write_simple_block(sl_mkv_writer *w, uint64_t track, int16_t rel_timecode, int keyframe,
                              const void *p, size_t n)
{
    uint8_t h[4];
    if (track == 0 || track > 126 || n > SIZE_MAX - 4)
        return latch(w, SL_EINVAL);
    h[0] = (uint8_t)(0x80 | track);
    h[1] = (uint8_t)((uint16_t)rel_timecode >> 8);
    h[2] = (uint8_t)rel_timecode;
    h[3] = keyframe ? 0x80 : 0x00;
    sl_mkv_write_id(w, SL_MKV_ID_SIMPLE_BLOCK);
    sl_mkv_write_size(w, n + 4, 8);
    put(w, h, 4);
    return put(w, p, n);
}

int sl_mkv_write_tags(sl_mkv_writer *w, const char *const *names, const char *const *values,
                      size_t n, unsigned width)
{
    if (width == 0 || width > 8)
        return latch(w, SL_EINVAL);
    sl_mkv_write_open(w, SL_MKV_ID_TAGS, width);
    sl_mkv_write_open(w, SL_MKV_ID_TAG, width);
    for (size_t i = 0; i < n; i++) {
        sl_mkv_write_open(w, SL_MKV_ID_SIMPLE_TAG, width);
        sl_mkv_write_string(w, SL_MKV_ID_TAG_NAME, names[i], width);
        sl_mkv_write_string(w, SL_MKV_ID_TAG_STRING, values[i], width);
        sl_mkv_write_close(w);
    }
    sl_mkv_write_close(w);
    return sl_mkv_write_close(w);
}
