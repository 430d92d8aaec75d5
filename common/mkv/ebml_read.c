/* Push-based EBML/Matroska reader (sl_mkv_reader).
 *
 * Wire format (RFC 8794 EBML, RFC 9559 Matroska): an element is ID, size, payload. The ID is a
 * vint of 1-4 bytes kept with its length marker (0x1A45DFA3); the size is a vint of 1-8 bytes
 * whose value has the marker removed, all value bits 1 meaning "unknown size" (allowed for
 * Segment, Cluster, and here for unknown IDs, which are then treated as masters). Master
 * payloads are child elements; an unknown-size master ends where an ID appears that belongs to
 * one of its ancestors (a new Cluster, Tags, ... ends an unknown-size Cluster) or where its
 * nearest known-size ancestor ends.
 *
 * How it runs: sl_mkv_reader_feed walks the bytes with a three-state machine, each state
 * resumable at any byte so input may be split anywhere:
 *
 *   ST_ID ──(ID complete)──▶ ST_SIZE ──(size complete: element_begin)──┐
 *     ▲                                                                             │
 *     │         masters are pushed on the stack and their children read at ST_ID ◀──┤
 *     └───────(payload consumed: body_done, then pop_finished)──── ST_BODY ◀────────┘
 *
 * The ID and size bytes collect in a 12-byte scratch (eh). element_begin places the element:
 * it may first close unknown-size elements (close_top), then checks the size against the
 * parent, pushes masters (master_begin), or chooses how to take the payload: skip it (unknown
 * or uninteresting IDs, Void, CRC-32, SeekHead, Cues, ...), copy it (leaves, bounded by the
 * table's limit), or take a block: a SimpleBlock that lies whole in the fed buffer is decoded
 * in place (zero copy), otherwise its bytes are accumulated as they arrive, never allocated
 * from the declared size. A Block inside a BlockGroup is always copied and decoded when the
 * group ends, because ReferenceBlock (which decides "keyframe") may follow it.
 *
 * Everything consumed is passed to on_raw once, labelled with its level-1 element, after the
 * element's placement is known (so the ID that ends a Cluster is labelled with the element it
 * starts). The same path copies the EBML header, Info and Tracks into the stream header.
 *
 * Failures latch: r->err, a diag with the offset and reason, and a Kinesis ErrorId. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/mkv.h"

/* ---- element table ---- */

enum kind {
    K_MASTER,
    K_UINT,
    K_SINT,
    K_FLOAT,
    K_STRING,
    K_BINARY,
    K_BLOCK,
    K_SKIP,   /* known, payload not needed */
    K_REJECT, /* known, changes frame bytes: not supported */
};

#define P_ROOT 0u
#define P_ANY  1u

struct el_def {
    uint32_t id;
    uint32_t parent;
    uint8_t kind;
    uint8_t unknown_ok; /* may have an unknown size */
    uint32_t max;       /* leaves: payload limit */
    const char *name;
};

static const struct el_def defs[] = {
    {SL_MKV_ID_EBML, P_ROOT, K_MASTER, 0, 0, "EBML"},
    {SL_MKV_ID_EBML_VERSION, SL_MKV_ID_EBML, K_UINT, 0, 8, "EBMLVersion"},
    {SL_MKV_ID_EBML_READ_VERSION, SL_MKV_ID_EBML, K_UINT, 0, 8, "EBMLReadVersion"},
    {SL_MKV_ID_EBML_MAX_ID_LEN, SL_MKV_ID_EBML, K_UINT, 0, 8, "EBMLMaxIDLength"},
    {SL_MKV_ID_EBML_MAX_SIZE_LEN, SL_MKV_ID_EBML, K_UINT, 0, 8, "EBMLMaxSizeLength"},
    {SL_MKV_ID_DOCTYPE, SL_MKV_ID_EBML, K_STRING, 0, 15, "DocType"},
    {SL_MKV_ID_DOCTYPE_VERSION, SL_MKV_ID_EBML, K_UINT, 0, 8, "DocTypeVersion"},
    {SL_MKV_ID_DOCTYPE_READ_VER, SL_MKV_ID_EBML, K_UINT, 0, 8, "DocTypeReadVersion"},
    {SL_MKV_ID_VOID, P_ANY, K_SKIP, 0, 0, "Void"},
    {SL_MKV_ID_CRC32, P_ANY, K_SKIP, 0, 0, "CRC-32"},
    {SL_MKV_ID_SEGMENT, P_ROOT, K_MASTER, 1, 0, "Segment"},
    {SL_MKV_ID_SEEKHEAD, SL_MKV_ID_SEGMENT, K_SKIP, 0, 0, "SeekHead"},
    {SL_MKV_ID_CUES, SL_MKV_ID_SEGMENT, K_SKIP, 0, 0, "Cues"},
    {SL_MKV_ID_CHAPTERS, SL_MKV_ID_SEGMENT, K_SKIP, 0, 0, "Chapters"},
    {SL_MKV_ID_ATTACHMENTS, SL_MKV_ID_SEGMENT, K_SKIP, 0, 0, "Attachments"},
    {SL_MKV_ID_INFO, SL_MKV_ID_SEGMENT, K_MASTER, 0, 0, "Info"},
    {SL_MKV_ID_TIMECODE_SCALE, SL_MKV_ID_INFO, K_UINT, 0, 8, "TimecodeScale"},
    {SL_MKV_ID_DURATION, SL_MKV_ID_INFO, K_FLOAT, 0, 8, "Duration"},
    {SL_MKV_ID_SEGMENT_UID, SL_MKV_ID_INFO, K_BINARY, 0, 16, "SegmentUID"},
    {SL_MKV_ID_TITLE, SL_MKV_ID_INFO, K_STRING, 0, 255, "Title"},
    {SL_MKV_ID_MUXING_APP, SL_MKV_ID_INFO, K_STRING, 0, 255, "MuxingApp"},
    {SL_MKV_ID_WRITING_APP, SL_MKV_ID_INFO, K_STRING, 0, 255, "WritingApp"},
    {SL_MKV_ID_TRACKS, SL_MKV_ID_SEGMENT, K_MASTER, 0, 0, "Tracks"},
    {SL_MKV_ID_TRACK_ENTRY, SL_MKV_ID_TRACKS, K_MASTER, 0, 0, "TrackEntry"},
    {SL_MKV_ID_TRACK_NUMBER, SL_MKV_ID_TRACK_ENTRY, K_UINT, 0, 8, "TrackNumber"},
    {SL_MKV_ID_TRACK_UID, SL_MKV_ID_TRACK_ENTRY, K_UINT, 0, 8, "TrackUID"},
    {SL_MKV_ID_TRACK_TYPE, SL_MKV_ID_TRACK_ENTRY, K_UINT, 0, 8, "TrackType"},
    {SL_MKV_ID_NAME, SL_MKV_ID_TRACK_ENTRY, K_STRING, 0, 255, "Name"},
    {SL_MKV_ID_CODEC_ID, SL_MKV_ID_TRACK_ENTRY, K_STRING, 0, 63, "CodecID"},
    {SL_MKV_ID_CODEC_PRIVATE, SL_MKV_ID_TRACK_ENTRY, K_BINARY, 0, SL_MKV_MAX_CODEC_PRIVATE,
     "CodecPrivate"},
    {SL_MKV_ID_DEFAULT_DURATION, SL_MKV_ID_TRACK_ENTRY, K_UINT, 0, 8, "DefaultDuration"},
    {SL_MKV_ID_CONTENT_ENCODINGS, SL_MKV_ID_TRACK_ENTRY, K_REJECT, 0, 0, "ContentEncodings"},
    {SL_MKV_ID_VIDEO, SL_MKV_ID_TRACK_ENTRY, K_MASTER, 0, 0, "Video"},
    {SL_MKV_ID_PIXEL_WIDTH, SL_MKV_ID_VIDEO, K_UINT, 0, 8, "PixelWidth"},
    {SL_MKV_ID_PIXEL_HEIGHT, SL_MKV_ID_VIDEO, K_UINT, 0, 8, "PixelHeight"},
    {SL_MKV_ID_AUDIO, SL_MKV_ID_TRACK_ENTRY, K_MASTER, 0, 0, "Audio"},
    {SL_MKV_ID_SAMPLING_FREQ, SL_MKV_ID_AUDIO, K_FLOAT, 0, 8, "SamplingFrequency"},
    {SL_MKV_ID_CHANNELS, SL_MKV_ID_AUDIO, K_UINT, 0, 8, "Channels"},
    {SL_MKV_ID_BIT_DEPTH, SL_MKV_ID_AUDIO, K_UINT, 0, 8, "BitDepth"},
    {SL_MKV_ID_CLUSTER, SL_MKV_ID_SEGMENT, K_MASTER, 1, 0, "Cluster"},
    {SL_MKV_ID_TIMECODE, SL_MKV_ID_CLUSTER, K_UINT, 0, 8, "Timecode"},
    {SL_MKV_ID_SIMPLE_BLOCK, SL_MKV_ID_CLUSTER, K_BLOCK, 0, 0, "SimpleBlock"},
    {SL_MKV_ID_BLOCK_GROUP, SL_MKV_ID_CLUSTER, K_MASTER, 0, 0, "BlockGroup"},
    {SL_MKV_ID_BLOCK, SL_MKV_ID_BLOCK_GROUP, K_BLOCK, 0, 0, "Block"},
    {SL_MKV_ID_BLOCK_DURATION, SL_MKV_ID_BLOCK_GROUP, K_UINT, 0, 8, "BlockDuration"},
    {SL_MKV_ID_REFERENCE_BLOCK, SL_MKV_ID_BLOCK_GROUP, K_SINT, 0, 8, "ReferenceBlock"},
    {SL_MKV_ID_TAGS, SL_MKV_ID_SEGMENT, K_MASTER, 0, 0, "Tags"},
    {SL_MKV_ID_TAG, SL_MKV_ID_TAGS, K_MASTER, 0, 0, "Tag"},
    {SL_MKV_ID_TARGETS, SL_MKV_ID_TAG, K_SKIP, 0, 0, "Targets"},
    {SL_MKV_ID_SIMPLE_TAG, SL_MKV_ID_TAG, K_MASTER, 0, 0, "SimpleTag"},
    {SL_MKV_ID_TAG_NAME, SL_MKV_ID_SIMPLE_TAG, K_STRING, 0, SL_MKV_MAX_TAG_STRING, "TagName"},
    {SL_MKV_ID_TAG_STRING, SL_MKV_ID_SIMPLE_TAG, K_STRING, 0, SL_MKV_MAX_TAG_STRING, "TagString"},
};

static const struct el_def *lookup(uint32_t id)
{
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        if (defs[i].id == id)
            return &defs[i];
    return NULL;
}

struct ename {
    char s[24];
};

static struct ename name_of(uint32_t id)
{
    struct ename n;
    const struct el_def *d = lookup(id);
    if (d)
        snprintf(n.s, sizeof(n.s), "%s", d->name);
    else if (id == P_ROOT)
        snprintf(n.s, sizeof(n.s), "top level");
    else
        snprintf(n.s, sizeof(n.s), "element 0x%X", (unsigned)id);
    return n;
}

/* ---- reader state ---- */

enum { ST_ID, ST_SIZE, ST_BODY };
enum { BODY_SKIP, BODY_LEAF, BODY_BLOCK };

#define UNKNOWN_END UINT64_MAX

struct open_el {
    uint32_t id;
    uint8_t unknown; /* size unknown: end is the parent's */
    uint64_t start;  /* offset of the ID */
    uint64_t end;    /* offset one past the payload; UNKNOWN_END if no known-size ancestor */
};

struct sl_mkv_reader {
    sl_mkv_callbacks cb;
    void *ud;
    size_t max_block;
    uint64_t pos; /* offset of the next byte to consume */

    int err;
    int error_id;
    sl_diag diag;

    /* the element being read */
    int st;
    uint8_t eh[12];
    size_t eh_len, id_w, size_w;
    uint32_t cur_id;
    const struct el_def *cur_def;
    uint64_t cur_start, cur_size, cur_left;
    int body;
    sl_buf leaf;
    sl_buf block;

    struct open_el stack[SL_MKV_MAX_DEPTH];
    size_t depth;
    uint32_t l1_id;
    uint64_t l1_off;

    /* stream header */
    sl_mkv_header hdr;
    sl_buf hbuf;
    uint8_t *cpd[SL_MKV_MAX_TRACKS]; /* owned CodecPrivate copies */
    int seen_ebml, ebml_done, seen_segment, info_done, tracks_done, header_sent;
    uint64_t ebml_read_version, max_id_len, max_size_len, doctype_read_version;
    sl_mkv_track trk;
    uint8_t *trk_cpd;

    /* cluster */
    int in_cluster, has_tc;
    sl_mkv_cluster cl;
    int bg_has_block, bg_has_ref, bg_has_dur;
    uint64_t bg_dur, bg_block_off;

    /* tags */
    uint64_t tags_off;
    sl_buf tname, tval;
    int has_tname;
};

static int failv(sl_mkv_reader *r, int code, int kvs, uint64_t off, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static int failv(sl_mkv_reader *r, int code, int kvs, uint64_t off, const char *fmt, va_list ap)
{
    r->err = code;
    r->error_id = kvs;
    r->diag.code = code;
    r->diag.offset = (size_t)off;
    vsnprintf(r->diag.text, sizeof(r->diag.text), fmt, ap);
    if (kvs && r->cb.on_error)
        r->cb.on_error(r->ud, &r->diag, kvs);
    return code;
}

/* Malformed input: SL_EPARSE, ErrorId 4006. */
static int bad(sl_mkv_reader *r, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(sl_mkv_reader *r, uint64_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = failv(r, SL_EPARSE, SL_KVS_INVALID_MKV_DATA, off, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail(sl_mkv_reader *r, int code, int kvs, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(sl_mkv_reader *r, int code, int kvs, uint64_t off, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = failv(r, code, kvs, off, fmt, ap);
    va_end(ap);
    return rc;
}

/* A callback refused: latch its code; the callback's owner keeps its own reason. */
static int cb_failed(sl_mkv_reader *r, int rc)
{
    if (!r->err)
        fail(r, rc, 0, r->pos, "stopped by callback: %s", sl_err_name(rc));
    return r->err;
}

sl_mkv_reader *sl_mkv_reader_new(const sl_mkv_callbacks *cb, void *ud, size_t max_block_bytes)
{
    sl_mkv_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (cb)
        r->cb = *cb;
    r->ud = ud;
    r->max_block = max_block_bytes ? max_block_bytes : SL_MKV_DEFAULT_MAX_BLOCK;
    r->hdr.timecode_scale_ns = 1000000;
    r->ebml_read_version = 1;
    r->max_id_len = 4;
    r->max_size_len = 8;
    r->doctype_read_version = 1;
    return r;
}

void sl_mkv_reader_free(sl_mkv_reader *r)
{
    if (!r)
        return;
    sl_buf_cleanup(&r->leaf);
    sl_buf_cleanup(&r->block);
    sl_buf_cleanup(&r->hbuf);
    sl_buf_cleanup(&r->tname);
    sl_buf_cleanup(&r->tval);
    for (size_t i = 0; i < SL_MKV_MAX_TRACKS; i++)
        free(r->cpd[i]);
    free(r->trk_cpd);
    free(r);
}

const sl_diag *sl_mkv_reader_diag(const sl_mkv_reader *r)
{
    return &r->diag;
}

int sl_mkv_reader_error_id(const sl_mkv_reader *r)
{
    return r->error_id;
}

uint64_t sl_mkv_reader_offset(const sl_mkv_reader *r)
{
    return r->pos;
}

const sl_mkv_header *sl_mkv_reader_header(const sl_mkv_reader *r)
{
    return r->header_sent ? &r->hdr : NULL;
}

/* ---- raw tap and header capture ---- */

static int emit_raw(sl_mkv_reader *r, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (!r->header_sent && (r->l1_id == SL_MKV_ID_EBML || r->l1_id == SL_MKV_ID_INFO ||
                            r->l1_id == SL_MKV_ID_TRACKS)) {
        if (r->hbuf.len + n > SL_MKV_MAX_HEADER_BYTES)
            return fail(r, SL_ETOOBIG, SL_KVS_INVALID_MKV_DATA, r->pos,
                        "stream header (EBML, Info, Tracks) larger than %d bytes",
                        SL_MKV_MAX_HEADER_BYTES);
        if (sl_buf_append(&r->hbuf, p, n) != 0)
            return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, r->pos, "out of memory");
    }
    if (r->cb.on_raw) {
        int rc = r->cb.on_raw(r->ud, r->l1_id, r->l1_off, p, n);
        if (rc < 0)
            return cb_failed(r, rc);
    }
    return 0;
}

/* ---- values ---- */

static uint64_t be_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static size_t vint_width(uint8_t b)
{
    size_t w = 1;
    for (uint8_t m = 0x80; m && !(b & m); m >>= 1)
        w++;
    return w; /* 9 when b == 0 */
}

/* Decodes a size-style vint (marker removed) from memory. Returns bytes used, 0 if invalid or
 * not enough bytes. */
static size_t vint_mem(const uint8_t *p, size_t n, uint64_t *v)
{
    if (n == 0)
        return 0;
    size_t w = vint_width(p[0]);
    if (w > 8 || w > n)
        return 0;
    uint64_t x = p[0] & (0xFFu >> w);
    for (size_t i = 1; i < w; i++)
        x = (x << 8) | p[i];
    *v = x;
    return w;
}

static void copy_str(char *dst, size_t cap, const sl_buf *b)
{
    size_t n = b->len < cap - 1 ? b->len : cap - 1;
    if (n)
        memcpy(dst, b->data, n);
    while (n > 0 && dst[n - 1] == '\0') /* strings may be zero-padded */
        n--;
    dst[n] = '\0';
}

/* ---- header ---- */

static int maybe_send_header(sl_mkv_reader *r)
{
    if (r->header_sent || !r->info_done || !r->tracks_done)
        return 0;
    r->header_sent = 1;
    r->hdr.bytes.ptr = r->hbuf.data;
    r->hdr.bytes.len = r->hbuf.len;
    if (r->cb.on_header) {
        int rc = r->cb.on_header(r->ud, &r->hdr);
        if (rc < 0)
            return cb_failed(r, rc);
    }
    return 0;
}

static const sl_mkv_track *find_track(const sl_mkv_reader *r, uint64_t number, size_t *idx)
{
    for (size_t i = 0; i < r->hdr.ntracks; i++)
        if (r->hdr.tracks[i].number == number) {
            *idx = i;
            return &r->hdr.tracks[i];
        }
    return NULL;
}

/* ---- blocks ---- */

static int emit_frame(sl_mkv_reader *r, sl_mkv_frame *f)
{
    if (!r->cb.on_frame)
        return 0;
    int rc = r->cb.on_frame(r->ud, f);
    return rc < 0 ? cb_failed(r, rc) : 0;
}

/* Decodes one SimpleBlock/Block payload d[0..n) and reports its frames.
 * Layout: track number (vint), int16 BE relative timecode, flags, then for laced blocks
 * (flags bits 1-2: 01 Xiph, 11 EBML, 10 fixed) the frame count - 1 and the lace sizes. */
static int decode_block(sl_mkv_reader *r, const uint8_t *d, size_t n, uint64_t off, int simple,
                        int group_key, int has_dur, uint64_t group_dur)
{
    uint64_t track;
    size_t w = vint_mem(d, n, &track);
    if (w == 0)
        return bad(r, off, "%s: invalid track number vint", simple ? "SimpleBlock" : "Block");
    if (n < w + 3)
        return bad(r, off, "%s of %zu bytes is shorter than its header",
                   simple ? "SimpleBlock" : "Block", n);
    size_t ti;
    const sl_mkv_track *t = find_track(r, track, &ti);
    if (!t)
        return fail(r, SL_EPARSE, SL_KVS_TRACK_NUMBER_MISMATCH, off,
                    "block for track %llu, which Tracks does not declare",
                    (unsigned long long)track);
    int16_t rel = (int16_t)(uint16_t)((d[w] << 8) | d[w + 1]);
    uint8_t flags = d[w + 2];
    size_t p = w + 3;
    unsigned count = 1;
    uint64_t sizes[SL_MKV_MAX_LACED_FRAMES];
    int lacing = (flags >> 1) & 3;

    if (lacing) {
        if (p >= n)
            return bad(r, off, "laced block without frame count");
        count = (unsigned)d[p++] + 1;
        uint64_t used = 0;
        if (lacing == 1) { /* Xiph: each size a run of 255s plus a final byte */
            for (unsigned i = 0; i + 1 < count; i++) {
                uint64_t s = 0;
                uint8_t b;
                do {
                    if (p >= n)
                        return bad(r, off, "Xiph lace sizes run past the block");
                    b = d[p++];
                    s += b;
                } while (b == 255);
                sizes[i] = s;
                used += s;
            }
        } else if (lacing == 3) { /* EBML: first size, then signed differences */
            uint64_t v;
            size_t k;
            if (count > 1) {
                if ((k = vint_mem(d + p, n - p, &v)) == 0)
                    return bad(r, off, "EBML lace: invalid first size");
                p += k;
                sizes[0] = v;
                used = v;
            }
            for (unsigned i = 1; i + 1 < count; i++) {
                k = vint_mem(d + p, n - p, &v);
                if (k == 0)
                    return bad(r, off, "EBML lace: invalid size difference %u", i);
                p += k;
                int64_t bias = ((int64_t)1 << (7 * k - 1)) - 1;
                int64_t s = (int64_t)sizes[i - 1] + ((int64_t)v - bias);
                if (s < 0)
                    return bad(r, off, "EBML lace: frame %u has a negative size", i);
                sizes[i] = (uint64_t)s;
                used += sizes[i];
                if (used > n)
                    break; /* caught below */
            }
        } else { /* fixed: equal frames */
            if ((n - p) % count != 0)
                return bad(r, off, "fixed lace: %zu bytes do not split into %u equal frames", n - p,
                           count);
            for (unsigned i = 0; i + 1 < count; i++) {
                sizes[i] = (n - p) / count;
                used += sizes[i];
            }
        }
        if (used > n - p)
            return bad(r, off, "lace sizes (%llu bytes) exceed the block's %zu bytes",
                       (unsigned long long)used, n - p);
        sizes[count - 1] = (n - p) - used;
    } else {
        sizes[0] = n - p;
    }

    uint64_t scale = r->hdr.timecode_scale_ns;
    uint64_t dd = t->default_duration_ns / scale; /* per-frame, in timecode units */
    sl_mkv_frame f;
    memset(&f, 0, sizeof(f));
    f.track = track;
    f.track_index = ti;
    f.rel_timecode = rel;
    f.keyframe = simple ? (flags & 0x80) != 0 : group_key;
    f.invisible = (flags & 0x08) != 0;
    f.discardable = simple ? (flags & 0x01) != 0 : 0;
    f.duration = has_dur ? group_dur : dd;
    f.lace_count = count;
    f.block_offset = off;
    for (unsigned i = 0; i < count; i++) {
        f.timecode = (int64_t)r->cl.timecode + rel + (int64_t)(i * dd);
        f.lace_index = i;
        f.data.ptr = (const char *)d + p;
        f.data.len = (size_t)sizes[i];
        p += (size_t)sizes[i];
        int rc = emit_frame(r, &f);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- masters ---- */

static int master_begin(sl_mkv_reader *r, uint32_t id, uint64_t start)
{
    switch (id) {
    case SL_MKV_ID_EBML:
        r->seen_ebml = 1;
        break;
    case SL_MKV_ID_SEGMENT: {
        r->seen_segment = 1;
        /* the stream header keeps the Segment ID with an unknown size */
        static const uint8_t seg[5] = {0x18, 0x53, 0x80, 0x67, 0xFF};
        if (sl_buf_append(&r->hbuf, seg, sizeof(seg)) != 0)
            return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, start, "out of memory");
        break;
    }
    case SL_MKV_ID_INFO:
        if (r->info_done)
            return bad(r, start, "second Info");
        break;
    case SL_MKV_ID_TRACKS:
        if (r->tracks_done)
            return bad(r, start, "second Tracks");
        break;
    case SL_MKV_ID_TRACK_ENTRY:
        memset(&r->trk, 0, sizeof(r->trk));
        free(r->trk_cpd);
        r->trk_cpd = NULL;
        break;
    case SL_MKV_ID_CLUSTER:
        if (!r->tracks_done)
            return bad(r, start, "Cluster before Tracks (blocks need declared tracks)");
        if (!r->info_done)
            return bad(r, start, "Cluster before Info");
        r->in_cluster = 1;
        r->has_tc = 0;
        memset(&r->cl, 0, sizeof(r->cl));
        r->cl.offset = start;
        break;
    case SL_MKV_ID_BLOCK_GROUP:
        r->bg_has_block = r->bg_has_ref = r->bg_has_dur = 0;
        r->bg_dur = 0;
        sl_buf_reset(&r->block);
        break;
    case SL_MKV_ID_TAGS:
        r->tags_off = start;
        break;
    case SL_MKV_ID_SIMPLE_TAG:
        sl_buf_reset(&r->tname);
        sl_buf_reset(&r->tval);
        r->has_tname = 0;
        break;
    default:
        break;
    }
    return 0;
}

static int master_end(sl_mkv_reader *r, const struct open_el *e, uint64_t end)
{
    int rc;
    switch (e->id) {
    case SL_MKV_ID_EBML:
        if (strcmp(r->hdr.doctype, "matroska") != 0 && strcmp(r->hdr.doctype, "webm") != 0)
            return bad(r, e->start, "DocType '%s' is neither matroska nor webm", r->hdr.doctype);
        if (r->ebml_read_version > 1)
            return bad(r, e->start, "EBMLReadVersion %llu not supported",
                       (unsigned long long)r->ebml_read_version);
        if (r->max_id_len > 4 || r->max_size_len > 8 || r->max_id_len == 0 || r->max_size_len == 0)
            return bad(r, e->start, "EBMLMaxIDLength %llu / EBMLMaxSizeLength %llu not supported",
                       (unsigned long long)r->max_id_len, (unsigned long long)r->max_size_len);
        if (r->doctype_read_version > 4)
            return bad(r, e->start, "DocTypeReadVersion %llu not supported",
                       (unsigned long long)r->doctype_read_version);
        r->ebml_done = 1;
        break;
    case SL_MKV_ID_INFO:
        r->info_done = 1;
        return maybe_send_header(r);
    case SL_MKV_ID_TRACKS:
        if (r->hdr.ntracks == 0)
            return bad(r, e->start, "Tracks without a TrackEntry");
        r->tracks_done = 1;
        return maybe_send_header(r);
    case SL_MKV_ID_TRACK_ENTRY: {
        size_t idx;
        if (r->trk.number == 0)
            return bad(r, e->start, "TrackEntry without TrackNumber");
        if (find_track(r, r->trk.number, &idx))
            return bad(r, e->start, "TrackNumber %llu declared twice",
                       (unsigned long long)r->trk.number);
        if (r->trk.codec_id[0] == '\0')
            return bad(r, e->start, "TrackEntry %llu without CodecID",
                       (unsigned long long)r->trk.number);
        if (r->hdr.ntracks == SL_MKV_MAX_TRACKS)
            return fail(r, SL_ETOOBIG, SL_KVS_MORE_THAN_ALLOWED_TRACKS_FOUND, e->start,
                        "more than %d tracks", SL_MKV_MAX_TRACKS);
        size_t i = r->hdr.ntracks++;
        r->hdr.tracks[i] = r->trk;
        r->cpd[i] = r->trk_cpd;
        r->hdr.tracks[i].codec_private = r->trk_cpd;
        r->trk_cpd = NULL;
        break;
    }
    case SL_MKV_ID_CLUSTER:
        r->in_cluster = 0;
        if (!r->has_tc)
            return bad(r, e->start, "Cluster without Timecode");
        r->cl.end_offset = end;
        if (r->cb.on_cluster_end && (rc = r->cb.on_cluster_end(r->ud, &r->cl)) < 0)
            return cb_failed(r, rc);
        break;
    case SL_MKV_ID_BLOCK_GROUP:
        if (!r->bg_has_block)
            return bad(r, e->start, "BlockGroup without Block");
        return decode_block(r, (const uint8_t *)r->block.data, r->block.len, r->bg_block_off, 0,
                            !r->bg_has_ref, r->bg_has_dur, r->bg_dur);
    case SL_MKV_ID_SIMPLE_TAG:
        if (r->has_tname && r->cb.on_tag) {
            sl_mkv_tag t;
            t.tags_offset = r->tags_off;
            t.name.ptr = r->tname.data ? r->tname.data : "";
            t.name.len = r->tname.len;
            t.value.ptr = r->tval.data ? r->tval.data : "";
            t.value.len = r->tval.len;
            if ((rc = r->cb.on_tag(r->ud, &t)) < 0)
                return cb_failed(r, rc);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int close_top(sl_mkv_reader *r, uint64_t end)
{
    struct open_el e = r->stack[--r->depth];
    return master_end(r, &e, end);
}

/* Closes every element whose known end has been reached. */
static int pop_finished(sl_mkv_reader *r)
{
    while (r->depth > 0 && r->stack[r->depth - 1].end == r->pos) {
        int rc = close_top(r, r->pos);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- leaves ---- */

static int leaf_done(sl_mkv_reader *r)
{
    const uint8_t *d = (const uint8_t *)r->leaf.data;
    size_t n = r->leaf.len;
    const struct el_def *def = r->cur_def;
    uint64_t u = 0;
    double fl = 0;
    int rc;

    if (def->kind == K_UINT || def->kind == K_SINT) {
        u = be_uint(d, n);
        if (def->kind == K_SINT && n > 0 && n < 8 && (d[0] & 0x80))
            u |= ~(uint64_t)0 << (8 * n);
    } else if (def->kind == K_FLOAT) {
        if (n == 4) {
            uint32_t b = (uint32_t)be_uint(d, 4);
            float f32;
            memcpy(&f32, &b, 4);
            fl = f32;
        } else if (n == 8) {
            uint64_t b = be_uint(d, 8);
            memcpy(&fl, &b, 8);
        } else if (n != 0) {
            return bad(r, r->cur_start, "%s: float of %zu bytes", def->name, n);
        }
    }

    switch (def->id) {
    case SL_MKV_ID_EBML_READ_VERSION:
        r->ebml_read_version = u;
        break;
    case SL_MKV_ID_EBML_MAX_ID_LEN:
        r->max_id_len = u;
        break;
    case SL_MKV_ID_EBML_MAX_SIZE_LEN:
        r->max_size_len = u;
        break;
    case SL_MKV_ID_DOCTYPE_READ_VER:
        r->doctype_read_version = u;
        break;
    case SL_MKV_ID_DOCTYPE:
        copy_str(r->hdr.doctype, sizeof(r->hdr.doctype), &r->leaf);
        break;
    case SL_MKV_ID_TIMECODE_SCALE:
        if (u == 0)
            return bad(r, r->cur_start, "TimecodeScale is 0");
        r->hdr.timecode_scale_ns = u;
        break;
    case SL_MKV_ID_DURATION:
        r->hdr.duration = fl;
        break;
    case SL_MKV_ID_SEGMENT_UID:
        memcpy(r->hdr.segment_uid, d, n);
        r->hdr.segment_uid_len = n;
        break;
    case SL_MKV_ID_TITLE:
        copy_str(r->hdr.title, sizeof(r->hdr.title), &r->leaf);
        break;
    case SL_MKV_ID_MUXING_APP:
        copy_str(r->hdr.muxing_app, sizeof(r->hdr.muxing_app), &r->leaf);
        break;
    case SL_MKV_ID_WRITING_APP:
        copy_str(r->hdr.writing_app, sizeof(r->hdr.writing_app), &r->leaf);
        break;
    case SL_MKV_ID_TRACK_NUMBER:
        if (u == 0)
            return bad(r, r->cur_start, "TrackNumber 0");
        r->trk.number = u;
        break;
    case SL_MKV_ID_TRACK_UID:
        r->trk.uid = u;
        break;
    case SL_MKV_ID_TRACK_TYPE:
        r->trk.type = u;
        break;
    case SL_MKV_ID_NAME:
        copy_str(r->trk.name, sizeof(r->trk.name), &r->leaf);
        break;
    case SL_MKV_ID_CODEC_ID:
        copy_str(r->trk.codec_id, sizeof(r->trk.codec_id), &r->leaf);
        break;
    case SL_MKV_ID_CODEC_PRIVATE:
        free(r->trk_cpd);
        r->trk_cpd = NULL;
        r->trk.codec_private_len = 0;
        if (n) {
            r->trk_cpd = malloc(n);
            if (!r->trk_cpd)
                return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, r->cur_start, "out of memory");
            memcpy(r->trk_cpd, d, n);
            r->trk.codec_private_len = n;
        }
        break;
    case SL_MKV_ID_DEFAULT_DURATION:
        r->trk.default_duration_ns = u;
        break;
    case SL_MKV_ID_PIXEL_WIDTH:
        r->trk.pixel_width = u;
        break;
    case SL_MKV_ID_PIXEL_HEIGHT:
        r->trk.pixel_height = u;
        break;
    case SL_MKV_ID_SAMPLING_FREQ:
        r->trk.sampling_hz = fl;
        break;
    case SL_MKV_ID_CHANNELS:
        r->trk.channels = u;
        break;
    case SL_MKV_ID_BIT_DEPTH:
        r->trk.bit_depth = u;
        break;
    case SL_MKV_ID_TIMECODE:
        if (r->has_tc)
            return bad(r, r->cur_start, "second Timecode in Cluster");
        if (u > (uint64_t)INT64_MAX / 2)
            return bad(r, r->cur_start, "Cluster Timecode %llu out of range",
                       (unsigned long long)u);
        r->has_tc = 1;
        r->cl.timecode = u;
        if (r->cb.on_cluster_start && (rc = r->cb.on_cluster_start(r->ud, &r->cl)) < 0)
            return cb_failed(r, rc);
        break;
    case SL_MKV_ID_BLOCK_DURATION:
        r->bg_has_dur = 1;
        r->bg_dur = u;
        break;
    case SL_MKV_ID_REFERENCE_BLOCK:
        r->bg_has_ref = 1;
        break;
    case SL_MKV_ID_TAG_NAME:
        sl_buf_reset(&r->tname);
        if (n && sl_buf_append(&r->tname, d, n) != 0)
            return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, r->cur_start, "out of memory");
        while (r->tname.len && r->tname.data[r->tname.len - 1] == '\0')
            r->tname.len--;
        r->has_tname = 1;
        break;
    case SL_MKV_ID_TAG_STRING:
        sl_buf_reset(&r->tval);
        if (n && sl_buf_append(&r->tval, d, n) != 0)
            return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, r->cur_start, "out of memory");
        while (r->tval.len && r->tval.data[r->tval.len - 1] == '\0')
            r->tval.len--;
        break;
    default:
        break;
    }
    return 0;
}

/* ---- element placement ---- */

/* What may stand at the top level: one EBML header, then one Segment; Void, CRC-32 and
 * unknown IDs around them. */
static int root_check(sl_mkv_reader *r, uint32_t id, const struct el_def *def, uint64_t start)
{
    if (!r->seen_ebml && id != SL_MKV_ID_EBML)
        return bad(r, start, "input does not start with an EBML header (ID 0x%X)", (unsigned)id);
    if (id == SL_MKV_ID_EBML && r->seen_ebml)
        return bad(r, start, "second EBML header");
    if (id == SL_MKV_ID_SEGMENT && r->seen_segment)
        return bad(r, start, "second Segment");
    if (id == SL_MKV_ID_SEGMENT && !r->ebml_done)
        return bad(r, start, "Segment before a complete EBML header");
    if (def && def->parent != P_ROOT && def->parent != P_ANY) {
        struct ename nm = name_of(id);
        return bad(r, start, "%s at top level", nm.s);
    }
    return 0;
}

/* The ID and size are complete in r->eh: place the element and prepare its payload. */
static int element_begin(sl_mkv_reader *r)
{
    uint32_t id = (uint32_t)be_uint(r->eh, r->id_w);
    uint64_t size = r->eh[r->id_w] & (0xFFu >> r->size_w);
    for (size_t i = 1; i < r->size_w; i++)
        size = (size << 8) | r->eh[r->id_w + i];
    int unknown = size == (((uint64_t)1 << (7 * r->size_w)) - 1);
    const struct el_def *def = lookup(id);
    uint64_t start = r->cur_start;
    struct ename nm = name_of(id);
    int rc;

    /* where does it go? */
    if (r->depth > 0) {
        struct open_el *top = &r->stack[r->depth - 1];
        if (def && def->parent != P_ANY && def->parent != top->id &&
            !(id == SL_MKV_ID_SIMPLE_TAG && top->id == SL_MKV_ID_SIMPLE_TAG)) {
            /* An ID of an ancestor's level ends the unknown-size elements above it. */
            size_t k = r->depth; /* index of the parent in the stack, or 0 with k_root */
            int found = def->parent == P_ROOT;
            size_t keep = 0; /* elements to keep open */
            if (!found) {
                for (k = r->depth; k-- > 0;)
                    if (r->stack[k].id == def->parent) {
                        found = 1;
                        keep = k + 1;
                        break;
                    }
            }
            int closable = found;
            for (size_t j = keep; closable && j < r->depth; j++)
                if (!r->stack[j].unknown)
                    closable = 0;
            if (!closable) {
                struct ename pn = name_of(top->id);
                return bad(r, start, "%s not allowed inside %s", nm.s, pn.s);
            }
            while (r->depth > keep)
                if ((rc = close_top(r, start)) < 0)
                    return rc;
        } else if (id == SL_MKV_ID_SIMPLE_TAG && top->id == SL_MKV_ID_SIMPLE_TAG) {
            def = NULL; /* nested SimpleTag: skipped */
        }
    }

    if (r->depth == 0 && (rc = root_check(r, id, def, start)) < 0)
        return rc;

    /* size and end */
    uint64_t parent_end = r->depth ? r->stack[r->depth - 1].end : UNKNOWN_END;
    uint64_t end;
    if (unknown) {
        if (def && !def->unknown_ok)
            return bad(r, start, "unknown size not allowed for %s", nm.s);
        end = parent_end;
    } else {
        if (size > UNKNOWN_END - 1 - r->pos)
            return bad(r, start, "%s size %llu out of range", nm.s, (unsigned long long)size);
        end = r->pos + size;
        if (end > parent_end) {
            struct ename pn = name_of(r->stack[r->depth - 1].id);
            return bad(r, start, "%s (%llu bytes) larger than its parent %s", nm.s,
                       (unsigned long long)size, pn.s);
        }
    }

    /* level-1 (or root) elements label the bytes that follow */
    int level1 = r->depth == 0 || (r->depth == 1 && r->stack[0].id == SL_MKV_ID_SEGMENT);
    if (level1) {
        r->l1_id = id;
        r->l1_off = start;
    }

    int kind = def ? def->kind : (unknown ? K_MASTER : K_SKIP);
    r->cur_id = id;
    r->cur_def = def;
    r->cur_size = size;
    r->cur_left = size;
    r->st = ST_BODY;

    switch (kind) {
    case K_MASTER:
        if (r->depth == SL_MKV_MAX_DEPTH)
            return bad(r, start, "%s nested deeper than %d levels", nm.s, SL_MKV_MAX_DEPTH);
        r->stack[r->depth++] = (struct open_el){id, (uint8_t)unknown, start, end};
        if ((rc = master_begin(r, id, start)) < 0)
            return rc;
        if ((rc = emit_raw(r, r->eh, r->eh_len)) < 0)
            return rc;
        r->st = ST_ID;
        return pop_finished(r);
    case K_REJECT:
        return fail(r, SL_EUNSUPPORTED, SL_KVS_INVALID_MKV_DATA, start,
                    "%s (compressed or encrypted tracks) not supported", nm.s);
    case K_BLOCK:
        if (!r->has_tc)
            return bad(r, start, "%s before the Cluster Timecode (cluster timecode missing)", nm.s);
        if (id == SL_MKV_ID_BLOCK && r->bg_has_block)
            return bad(r, start, "second Block in BlockGroup");
        if (size > r->max_block)
            return fail(r, SL_ETOOBIG, SL_KVS_MAX_FRAGMENT_SIZE_REACHED, start,
                        "%s of %llu bytes over the %zu byte limit", nm.s, (unsigned long long)size,
                        r->max_block);
        r->body = BODY_BLOCK;
        r->bg_block_off = start;
        sl_buf_reset(&r->block);
        break;
    case K_SKIP:
        r->body = BODY_SKIP;
        break;
    default: /* leaves */
        if (size > def->max)
            return fail(r, SL_ETOOBIG, SL_KVS_INVALID_MKV_DATA, start,
                        "%s of %llu bytes over the %u byte limit", nm.s, (unsigned long long)size,
                        (unsigned)def->max);
        r->body = BODY_LEAF;
        sl_buf_reset(&r->leaf);
        break;
    }
    return emit_raw(r, r->eh, r->eh_len);
}

/* The payload of the current non-master element is complete. */
static int body_done(sl_mkv_reader *r, const uint8_t *whole)
{
    int rc = 0;
    if (r->body == BODY_LEAF) {
        rc = leaf_done(r);
    } else if (r->body == BODY_BLOCK) {
        if (r->cur_id == SL_MKV_ID_BLOCK) {
            r->bg_has_block = 1; /* decoded when the BlockGroup ends */
        } else {
            const uint8_t *d = whole ? whole : (const uint8_t *)r->block.data;
            size_t n = whole ? (size_t)r->cur_size : r->block.len;
            rc = decode_block(r, d ? d : (const uint8_t *)"", n, r->bg_block_off, 1, 0, 0, 0);
        }
    }
    if (rc < 0)
        return rc;
    r->st = ST_ID;
    return pop_finished(r);
}

int sl_mkv_reader_feed(sl_mkv_reader *r, const void *data, size_t n)
{
    const uint8_t *p = data;
    size_t i = 0;
    int rc;

    if (r->err)
        return r->err;
    while (i < n) {
        if (r->st == ST_ID || r->st == ST_SIZE) {
            uint8_t b = p[i];
            if (r->eh_len == 0) {
                r->cur_start = r->pos;
                size_t w = vint_width(b);
                if (w > 4 || b == 0xFF)
                    return bad(r, r->pos, "invalid element ID (first byte 0x%02X)", b);
                r->id_w = w;
            } else if (r->st == ST_SIZE && r->eh_len == r->id_w) {
                size_t w = vint_width(b);
                if (w > 8)
                    return bad(r, r->cur_start, "invalid size vint (first byte 0x00)");
                r->size_w = w;
            }
            r->eh[r->eh_len++] = b;
            i++;
            r->pos++;
            if (r->st == ST_ID && r->eh_len == r->id_w) {
                r->st = ST_SIZE;
            } else if (r->st == ST_SIZE && r->eh_len == r->id_w + r->size_w) {
                rc = element_begin(r);
                r->eh_len = 0;
                if (rc < 0)
                    return rc;
                if (r->st == ST_BODY && r->cur_left == 0 && (rc = body_done(r, NULL)) < 0)
                    return rc;
            }
            continue;
        }

        /* ST_BODY */
        size_t take = n - i;
        if (take > r->cur_left)
            take = (size_t)r->cur_left;
        const uint8_t *whole = NULL;
        if (r->body == BODY_LEAF) {
            if (sl_buf_append(&r->leaf, p + i, take) != 0)
                return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, r->pos, "out of memory");
        } else if (r->body == BODY_BLOCK) {
            if (r->cur_id == SL_MKV_ID_SIMPLE_BLOCK && r->block.len == 0 && take == r->cur_size) {
                whole = p + i; /* the block lies whole in this feed: decode in place */
            } else if (sl_buf_append(&r->block, p + i, take) != 0) {
                return fail(r, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, r->pos, "out of memory");
            }
        }
        rc = emit_raw(r, p + i, take);
        i += take;
        r->pos += take;
        r->cur_left -= take;
        if (rc < 0)
            return rc;
        if (r->cur_left == 0 && (rc = body_done(r, whole)) < 0)
            return rc;
    }
    return 0;
}

int sl_mkv_reader_finish(sl_mkv_reader *r)
{
    int rc;
    if (r->err)
        return r->err;
    if (r->pos == 0)
        return 0;
    if (r->st != ST_ID || r->eh_len != 0) {
        struct ename nm = name_of(r->cur_id);
        if (r->st == ST_BODY)
            return bad(r, r->pos, "input ended inside %s (%llu of %llu bytes missing)", nm.s,
                       (unsigned long long)r->cur_left, (unsigned long long)r->cur_size);
        return bad(r, r->pos, "input ended inside an element's ID or size");
    }
    while (r->depth > 0) {
        const struct open_el *top = &r->stack[r->depth - 1];
        if (top->end != UNKNOWN_END) {
            struct ename nm = name_of(top->id);
            return bad(r, r->pos, "input ended inside %s (%llu bytes missing)", nm.s,
                       (unsigned long long)(top->end - r->pos));
        }
        if ((rc = close_top(r, r->pos)) < 0)
            return rc;
    }
    if (!r->header_sent)
        return bad(r, r->pos, "input ended before Info and Tracks were complete");
    return 0;
}
