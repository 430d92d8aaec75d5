/* The one place api/media reads Kinesis Video's store (api/video/kv.h): streams, their
 * in-memory fragment index, stream headers and fragment bytes.
 *
 * Playback needs, per stream: the fragment index (number, producer/server times, duration,
 * header id) read on the loop thread, and the bytes of a run of fragments as one MKV (stored
 * header + stored Clusters) read on a worker. md_src is that read: built on the loop thread
 * (it takes a stream reference, a reference on the header blob and on any fragment blob still in
 * memory, and the log offsets of the rest), filled on a worker with sl_log_read (thread-safe
 * preads), freed on the loop thread. A list source (md_src_new_list, for clips) may join
 * fragments of several PutMedia sessions with the same Tracks: each Cluster's Timecode is
 * rewritten to its fragment's producer time, as RELATIVE sessions store session-relative ones.
 * Everything else in api/media goes through the functions here, so a change of the video store's
 * internals touches this file only. */
#include <stdlib.h>
#include <string.h>

#include "../video/kv.h"
#include "media_int.h"

static kv_stream *K(const md_stream *st)
{
    return (kv_stream *)st;
}

md_stream *md_stream_or_reply(sl_api_call *call, int need_retention)
{
    if (kv_ready_or_reply(call))
        return NULL;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s)
        return NULL;
    if (need_retention && s->retention_hours == 0) {
        kv_reply_error(call, "NoDataRetentionException",
                       "The stream has no data retention; playback needs stored fragments.");
        return NULL;
    }
    kv_stream_ref(s);
    return (md_stream *)s;
}

md_stream *md_stream_for_session(const md_session *ses)
{
    if (kv_ready())
        return NULL;
    kv_stream *s = kv_find(ses->region, ses->stream);
    if (!s || s->deleted || strcmp(s->skey, ses->skey) != 0)
        return NULL;
    kv_stream_ref(s);
    return (md_stream *)s;
}

void md_stream_unref(md_stream *st)
{
    kv_stream_unref(K(st));
}

const char *md_stream_name(const md_stream *st)
{
    return K(st)->name;
}

const char *md_stream_region(const md_stream *st)
{
    return K(st)->region;
}

const char *md_stream_skey(const md_stream *st)
{
    return K(st)->skey;
}

int md_stream_persisted(const md_stream *st)
{
    return K(st)->retention_hours > 0;
}

size_t md_stream_nfrags(const md_stream *st)
{
    return K(st)->nfrags;
}

void md_stream_frag(const md_stream *st, size_t i, md_frag *out)
{
    const kv_frag *f = &K(st)->frags[i];
    out->seq = f->seq;
    out->producer_ms = f->producer_ms;
    out->server_ms = f->server_ms;
    out->duration_ms = f->duration_ms;
    out->size = f->size;
    out->header_id = f->header_id;
}

size_t md_stream_find_frag(const md_stream *st, uint64_t seq)
{
    size_t i = kv_frag_lower_bound(K(st), seq);
    return i < K(st)->nfrags && K(st)->frags[i].seq == seq ? i : SIZE_MAX;
}

void md_format_number(uint64_t seq, char out[48])
{
    kv_format_number(seq, out);
}

int md_parse_number(const char *s, size_t len, uint64_t *seq)
{
    char tmp[KV_NUMBER_LEN + 1];
    if (len == 0 || len > KV_NUMBER_LEN)
        return SL_EINVAL;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    return kv_parse_number(tmp, seq);
}

typedef struct md_item {
    uint64_t log_offset, size;
    kv_blob *blob;
    int retime;  /* rewrite the Cluster's Timecode to tc (md_src_new_list) */
    uint64_t tc; /* the fragment's producer time in the header's TimecodeScale units */
} md_item;

struct md_src {
    kv_stream *s;
    kv_blob *header;
    sl_log *log;
    size_t n;
    md_item items[];
};

static md_src *src_alloc(kv_stream *s, uint32_t header_id, size_t n)
{
    const kv_header *h = kv_header_find(s, header_id);
    if (!h || !h->bytes)
        return NULL;
    md_src *src = calloc(1, sizeof(*src) + n * sizeof(md_item));
    if (!src)
        return NULL;
    kv_stream_ref(s);
    src->s = s;
    src->header = kv_blob_ref(h->bytes);
    src->log = s->log;
    return src;
}

md_src *md_src_new(md_stream *st, size_t from, size_t to)
{
    kv_stream *s = K(st);
    if (from >= to || to > s->nfrags)
        return NULL;
    uint32_t hid = s->frags[from].header_id;
    size_t end = from;
    while (end < to && s->frags[end].header_id == hid)
        end++;
    md_src *src = src_alloc(s, hid, end - from);
    if (!src)
        return NULL;
    for (size_t i = from; i < end; i++) {
        const kv_frag *f = &s->frags[i];
        md_item *it = &src->items[src->n++];
        it->log_offset = f->log_offset;
        it->size = f->size;
        it->blob = f->blob ? kv_blob_ref(f->blob) : NULL;
    }
    return src;
}

/* EBML variable-length number at p[*i..end): element IDs keep their marker bit (id = 1),
 * sizes lose it. Returns 0, or -1 when malformed or truncated. */
static int ebml_vint(const uint8_t *p, size_t end, size_t *i, int id, uint64_t *out)
{
    if (*i >= end || p[*i] == 0)
        return -1;
    int len = 1;
    while (!(p[*i] & (0x80 >> (len - 1))))
        len++;
    if (*i + (size_t)len > end)
        return -1;
    uint64_t v = id ? p[*i] : (uint64_t)(p[*i] & (0xFF >> len));
    for (int k = 1; k < len; k++)
        v = v << 8 | p[*i + (size_t)k];
    *i += (size_t)len;
    *out = v;
    return 0;
}

/* The Tracks element (ID and all) of a stored stream header: EBML header, then a Segment
 * (possibly of unknown size) whose children come before the first Cluster. */
static int header_tracks(const kv_blob *h, const uint8_t **p, size_t *len)
{
    size_t i = 0, end = h->len;
    uint64_t id, size;
    while (i < end) {
        size_t at = i;
        if (ebml_vint(h->data, end, &i, 1, &id) || ebml_vint(h->data, end, &i, 0, &size))
            return -1;
        if (id == 0x18538067) /* Segment: look inside */
            continue;
        if (size > end - i)
            return -1;
        if (id == 0x1654AE6B) {
            *p = h->data + at;
            *len = (size_t)(i - at + size);
            return 0;
        }
        i += (size_t)size;
    }
    return -1;
}

/* TimecodeScale (ns per Timecode unit) of a stored stream header: Info's 2AD7B1, default 1 ms. */
static uint64_t header_scale_ns(const kv_blob *h)
{
    size_t i = 0, end = h->len;
    uint64_t id, size;
    while (i < end) {
        if (ebml_vint(h->data, end, &i, 1, &id) || ebml_vint(h->data, end, &i, 0, &size))
            break;
        if (id == 0x18538067 || id == 0x1549A966) /* Segment, Info: look inside */
            continue;
        if (size > end - i)
            break;
        if (id == 0x2AD7B1 && size >= 1 && size <= 8) {
            uint64_t v = 0;
            for (size_t k = 0; k < size; k++)
                v = v << 8 | h->data[i + k];
            return v ? v : 1000000;
        }
        if (id == 0x1654AE6B || id == 0x1F43B675)
            break;
        i += (size_t)size;
    }
    return 1000000;
}

/* Appends a stored Cluster p[0..len) with its Timecode (its first child) replaced by an 8-byte
 * tc; anything else is appended as it is. Fragments of RELATIVE-timecode sessions store
 * session-relative Cluster times: on the producer time line they can be put one after another. */
static int append_retimed(sl_buf *mkv, const uint8_t *p, size_t len, uint64_t tc)
{
    size_t i = 0, body, tc_end;
    uint64_t id, size, cid, csize;
    if (ebml_vint(p, len, &i, 1, &id) || id != 0x1F43B675 || ebml_vint(p, len, &i, 0, &size))
        return sl_buf_append(mkv, p, len);
    body = i;
    int unknown = size == (1ULL << (7 * (body - 4))) - 1; /* all ones: unknown size */
    if (ebml_vint(p, len, &i, 1, &cid) || cid != 0xE7 || ebml_vint(p, len, &i, 0, &csize) ||
        csize > 8 || csize > len - i || (!unknown && size > len - body))
        return sl_buf_append(mkv, p, len);
    tc_end = i + (size_t)csize;
    size_t end = unknown ? len : body + (size_t)size;
    uint8_t head[4 + 8 + 2 + 8] = {0x1F, 0x43, 0xB6, 0x75};
    uint64_t nsize = unknown ? (1ULL << 56) - 1 : (uint64_t)(end - tc_end) + 10;
    head[4] = 0x01;
    for (int k = 0; k < 7; k++)
        head[5 + k] = (uint8_t)(nsize >> (8 * (6 - k)));
    head[12] = 0xE7;
    head[13] = 0x88;
    for (int k = 0; k < 8; k++)
        head[14 + k] = (uint8_t)(tc >> (8 * (7 - k)));
    int rc = sl_buf_append(mkv, head, sizeof(head));
    return rc ? rc : sl_buf_append(mkv, p + tc_end, end - tc_end);
}

/* Whether fragments under headers a and b can share one MKV: same header, or byte-identical
 * Tracks (same track numbers, codecs, CodecPrivate and settings; PutMedia sessions of one
 * producer store one header each even when only Info differs). */
static int same_tracks(kv_stream *s, uint32_t a, uint32_t b)
{
    if (a == b)
        return 1;
    const kv_header *ha = kv_header_find(s, a), *hb = kv_header_find(s, b);
    const uint8_t *pa, *pb;
    size_t la, lb;
    if (!ha || !hb || !ha->bytes || !hb->bytes || header_tracks(ha->bytes, &pa, &la) ||
        header_tracks(hb->bytes, &pb, &lb))
        return 0;
    return la == lb && memcmp(pa, pb, la) == 0;
}

md_src *md_src_new_list(md_stream *st, const size_t *idx, size_t n)
{
    kv_stream *s = K(st);
    if (n == 0 || idx[0] >= s->nfrags)
        return NULL;
    uint32_t hid = s->frags[idx[0]].header_id;
    size_t k = 0;
    while (k < n && idx[k] < s->nfrags && same_tracks(s, hid, s->frags[idx[k]].header_id))
        k++;
    md_src *src = src_alloc(s, hid, k);
    if (!src)
        return NULL;
    uint64_t scale = header_scale_ns(src->header);
    for (size_t i = 0; i < k; i++) {
        const kv_frag *f = &s->frags[idx[i]];
        md_item *it = &src->items[src->n++];
        it->log_offset = f->log_offset;
        it->size = f->size;
        it->blob = f->blob ? kv_blob_ref(f->blob) : NULL;
        it->retime = f->producer_ms >= 0;
        it->tc = scale == 1000000
                     ? (uint64_t)f->producer_ms
                     : (uint64_t)((long double)f->producer_ms * 1000000.0L / (long double)scale);
    }
    return src;
}

size_t md_src_count(const md_src *src)
{
    return src ? src->n : 0;
}

md_src *md_src_header(md_stream *st, uint32_t header_id)
{
    return src_alloc(K(st), header_id, 0);
}

int md_src_read(md_src *src, sl_buf *mkv, sl_diag *d)
{
    sl_buf tmp = SL_BUF_INIT;
    int rc = sl_buf_append(mkv, src->header->data, src->header->len);
    for (size_t i = 0; rc == 0 && i < src->n; i++) {
        const md_item *it = &src->items[i];
        if (it->blob) {
            rc = it->retime ? append_retimed(mkv, it->blob->data, it->blob->len, it->tc)
                            : sl_buf_append(mkv, it->blob->data, it->blob->len);
            continue;
        }
        sl_log_entry e;
        if (!src->log) {
            rc = SL_ENOTFOUND;
            break;
        }
        sl_buf_reset(&tmp);
        rc = sl_log_read(src->log, it->log_offset, &e, &tmp);
        if (rc == 0)
            rc = it->retime ? append_retimed(mkv, (const uint8_t *)tmp.data, tmp.len, it->tc)
                            : sl_buf_append(mkv, tmp.data, tmp.len);
    }
    sl_buf_cleanup(&tmp);
    if (rc)
        sl_diag_set(d, rc, 0, "cannot read stored fragments: %s", sl_err_str(rc));
    return rc;
}

void md_src_free(md_src *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->n; i++)
        kv_blob_unref(src->items[i].blob);
    kv_blob_unref(src->header);
    kv_stream_unref(src->s);
    free(src);
}
