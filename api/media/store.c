/* The one place api/media reads Kinesis Video's store (api/video/kv.h): streams, their
 * in-memory fragment index, stream headers and fragment bytes.
 *
 * Playback needs, per stream: the fragment index (number, producer/server times, duration,
 * header id) read on the loop thread, and the bytes of a run of fragments as one MKV (stored
 * header + stored Clusters) read on a worker. md_src is that read: built on the loop thread
 * (it takes a stream reference, a reference on the header blob and on any fragment blob still in
 * memory, and the log offsets of the rest), filled on a worker with sl_log_read (thread-safe
 * preads), freed on the loop thread. Everything else in api/media goes through the functions
 * here, so a change of the video store's internals touches this file only. */
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
            rc = sl_buf_append(mkv, it->blob->data, it->blob->len);
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
            rc = sl_buf_append(mkv, tmp.data, tmp.len);
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
