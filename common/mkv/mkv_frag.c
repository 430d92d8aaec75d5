/* PutMedia fragment cutter (sl_mkv_frag): the reader's events turned into Kinesis Video
 * fragments and ack-ready errors.
 *
 * One Cluster is one fragment. Per fragment, in input order:
 *   raw Cluster bytes before its Timecode  → held back (a few bytes: ID, size, maybe Void/CRC)
 *   Timecode read (reader on_cluster_start) → 4004 check, on_buffering, then the held bytes go
 *                                             to on_data
 *   later Cluster bytes (reader on_raw)     → 4001 check, on_data (and kept if keep_bytes)
 *   frames (reader on_frame)                → counts, keyframes, 4002 check
 *   cluster end (reader on_cluster_end)     → 4011 check, duration, on_fragment
 * A cluster ends at the next level-1 element (the next Cluster, or the Tags holding
 * AWS_KINESISVIDEO_END_OF_FRAGMENT that the producer sends to close one early), at the declared
 * end of a known-size cluster, or at the end of input; nothing can be added to a cluster after
 * that, so the fragment is complete there. Level-1 Tags outside clusters (other than the EoFR)
 * are the next fragment's metadata.
 *
 * duration_ms: from the earliest frame to the end of the latest, where a frame's end is its
 * timecode + its duration (BlockDuration or DefaultDuration) and, when no duration is given,
 * the latest frame lasts the fragment's mean frame interval on its busiest track. For the AWS
 * producer (no durations) that is the distance to the next cluster's timecode.
 *
 * Errors stop the cutter; fragments completed before are unaffected (already reported). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/mkv.h"

#define EOFR_TAG "AWS_KINESISVIDEO_END_OF_FRAGMENT"

struct sl_mkv_frag {
    sl_mkv_reader *r;
    sl_mkv_frag_opts opts;
    sl_mkv_frag_callbacks cb;
    void *ud;
    int err;
    sl_mkv_frag_error e;
    const sl_mkv_header *hdr;

    int in_frag, has_tc;
    sl_mkv_fragment cur;
    sl_buf bytes; /* held-back or kept cluster bytes */
    uint64_t next_index;
    int have_prev;
    uint64_t prev_tc;
    sl_mkv_meta pending[SL_MKV_FRAG_MAX_META];
    size_t npending;

    /* frame span of the current fragment, timecode units */
    int any_frame;
    int64_t min_tc, max_tc, max_end;
    int max_tc_has_dur;
};

static int ffail(sl_mkv_frag *f, int code, int error_id, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int ffail(sl_mkv_frag *f, int code, int error_id, uint64_t off, const char *fmt, ...)
{
    va_list ap;
    if (f->err)
        return f->err;
    f->err = code;
    f->e.error_id = error_id;
    f->e.error_code = sl_mkv_kvs_error_code(error_id);
    f->e.has_timecode = f->in_frag && f->has_tc;
    f->e.timecode = f->cur.timecode;
    f->e.diag.code = code;
    f->e.diag.offset = (size_t)off;
    va_start(ap, fmt);
    vsnprintf(f->e.diag.text, sizeof(f->e.diag.text), fmt, ap);
    va_end(ap);
    if (f->cb.on_error)
        f->cb.on_error(f->ud, &f->e);
    return code;
}

/* tc (TimecodeScale units) in ms, or -1 if it does not fit. */
static int64_t tc_ms(uint64_t tc, uint64_t scale_ns)
{
    if (scale_ns && tc > (uint64_t)INT64_MAX / scale_ns)
        return -1;
    return (int64_t)(tc * scale_ns / 1000000u);
}

static int on_header(void *ud, const sl_mkv_header *h)
{
    sl_mkv_frag *f = ud;
    if (h->ntracks > SL_MKV_FRAG_MAX_TRACKS)
        return ffail(f, SL_ETOOBIG, SL_KVS_MORE_THAN_ALLOWED_TRACKS_FOUND,
                     sl_mkv_reader_offset(f->r), "%zu tracks declared; at most %d allowed",
                     h->ntracks, SL_MKV_FRAG_MAX_TRACKS);
    f->hdr = h;
    return f->cb.on_header ? f->cb.on_header(f->ud, h) : 0;
}

static int deliver(sl_mkv_frag *f, const uint8_t *p, size_t n)
{
    if (f->cb.on_data && n) {
        int rc = f->cb.on_data(f->ud, &f->cur, p, n);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int on_raw(void *ud, uint32_t l1, uint64_t l1_off, const uint8_t *p, size_t n)
{
    sl_mkv_frag *f = ud;
    if (l1 != SL_MKV_ID_CLUSTER)
        return 0;
    if (!f->in_frag || f->cur.offset != l1_off) {
        /* first bytes of a new cluster: it takes the pending metadata */
        memset(&f->cur, 0, sizeof(f->cur));
        f->in_frag = 1;
        f->has_tc = 0;
        f->any_frame = 0;
        f->cur.index = f->next_index;
        f->cur.offset = l1_off;
        memcpy(f->cur.meta, f->pending, sizeof(f->pending[0]) * f->npending);
        f->cur.nmeta = f->npending;
        f->npending = 0;
        sl_buf_reset(&f->bytes);
    }
    f->cur.size += n;
    if (f->cur.size > f->opts.max_fragment_bytes)
        return ffail(f, SL_ETOOBIG, SL_KVS_MAX_FRAGMENT_SIZE_REACHED, l1_off,
                     "fragment larger than %llu bytes",
                     (unsigned long long)f->opts.max_fragment_bytes);
    if (f->opts.keep_bytes || !f->has_tc) {
        if (sl_buf_append(&f->bytes, p, n) != 0)
            return ffail(f, SL_ENOMEM, SL_KVS_INTERNAL_ERROR, l1_off, "out of memory");
    }
    return f->has_tc ? deliver(f, p, n) : 0;
}

static int on_cluster_start(void *ud, const sl_mkv_cluster *c)
{
    sl_mkv_frag *f = ud;
    int rc;
    if (f->have_prev && c->timecode < f->prev_tc)
        return ffail(f, SL_ERANGE, SL_KVS_FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS, c->offset,
                     "Cluster Timecode %llu lower than the previous %llu",
                     (unsigned long long)c->timecode, (unsigned long long)f->prev_tc);
    int64_t ms = tc_ms(c->timecode, f->hdr->timecode_scale_ns);
    if (ms < 0 || (f->opts.relative && ms > INT64_MAX - f->opts.producer_start_ms))
        return ffail(f, SL_ERANGE, SL_KVS_INVALID_PRODUCER_TIMESTAMP, c->offset,
                     "Cluster Timecode %llu × %llu ns out of range",
                     (unsigned long long)c->timecode,
                     (unsigned long long)f->hdr->timecode_scale_ns);
    f->have_prev = 1;
    f->prev_tc = c->timecode;
    f->cur.timecode = c->timecode;
    f->cur.producer_ts_ms = f->opts.relative ? f->opts.producer_start_ms + ms : ms;
    f->has_tc = 1;
    if (f->cb.on_buffering && (rc = f->cb.on_buffering(f->ud, &f->cur)) < 0)
        return rc;
    rc = deliver(f, (const uint8_t *)f->bytes.data, f->bytes.len);
    if (!f->opts.keep_bytes)
        sl_buf_reset(&f->bytes);
    return rc;
}

static int on_frame(void *ud, const sl_mkv_frame *fr)
{
    sl_mkv_frag *f = ud;
    sl_mkv_fragment *c = &f->cur;
    /* the reader only reports tracks it declared, and on_header allowed at most 3 */
    c->frames[fr->track_index]++;
    if (c->nframes == 0)
        c->first_is_keyframe = fr->keyframe;
    c->nframes++;
    c->has_keyframe |= fr->keyframe;
    int64_t end = fr->timecode + (int64_t)fr->duration;
    if (!f->any_frame || fr->timecode < f->min_tc)
        f->min_tc = fr->timecode;
    if (!f->any_frame || fr->timecode >= f->max_tc) {
        f->max_tc = fr->timecode;
        f->max_tc_has_dur = fr->duration != 0;
    }
    if (!f->any_frame || end > f->max_end)
        f->max_end = end;
    f->any_frame = 1;
    int64_t span = end - (int64_t)c->timecode;
    int64_t span_ms = span > 0 ? tc_ms((uint64_t)span, f->hdr->timecode_scale_ns) : 0;
    if (span_ms < 0 || (uint64_t)span_ms > f->opts.max_fragment_duration_ms)
        return ffail(f, SL_ERANGE, SL_KVS_MAX_FRAGMENT_DURATION_REACHED, fr->block_offset,
                     "frame at %+lld ms from its cluster; fragments may last %llu ms",
                     (long long)span_ms, (unsigned long long)f->opts.max_fragment_duration_ms);
    return 0;
}

static int on_tag(void *ud, const sl_mkv_tag *t)
{
    sl_mkv_frag *f = ud;
    if (sl_slice_eq(t->name, EOFR_TAG))
        return 0; /* its Tags element already ended the cluster */
    if (f->npending == SL_MKV_FRAG_MAX_META)
        return ffail(f, SL_ETOOBIG, SL_KVS_FRAGMENT_METADATA_LIMIT_REACHED, t->tags_offset,
                     "more than %d metadata tags before one fragment", SL_MKV_FRAG_MAX_META);
    if (t->name.len > SL_MKV_META_NAME_MAX || t->value.len > SL_MKV_META_VALUE_MAX)
        return ffail(f, SL_ETOOBIG, SL_KVS_FRAGMENT_METADATA_LIMIT_REACHED, t->tags_offset,
                     "metadata tag name (%zu B) or value (%zu B) over %d / %d bytes", t->name.len,
                     t->value.len, SL_MKV_META_NAME_MAX, SL_MKV_META_VALUE_MAX);
    sl_mkv_meta *m = &f->pending[f->npending++];
    memcpy(m->name, t->name.ptr, t->name.len);
    m->name[t->name.len] = '\0';
    memcpy(m->value, t->value.ptr, t->value.len);
    m->value[t->value.len] = '\0';
    return 0;
}

static int on_cluster_end(void *ud, const sl_mkv_cluster *cl)
{
    sl_mkv_frag *f = ud;
    sl_mkv_fragment *c = &f->cur;
    int rc;
    for (size_t i = 0; i < f->hdr->ntracks; i++)
        if (c->frames[i] == 0)
            return ffail(f, SL_EPARSE, SL_KVS_FRAMES_MISSING_FOR_TRACK, cl->offset,
                         "track %llu has no frames in the fragment at Timecode %llu",
                         (unsigned long long)f->hdr->tracks[i].number,
                         (unsigned long long)c->timecode);
    int64_t end = f->max_end;
    if (!f->max_tc_has_dur) {
        uint32_t most = 0;
        for (size_t i = 0; i < f->hdr->ntracks; i++)
            if (c->frames[i] > most)
                most = c->frames[i];
        if (most > 1) {
            int64_t guess = f->max_tc + (f->max_tc - f->min_tc) / (most - 1);
            if (guess > end)
                end = guess;
        }
    }
    int64_t ms = tc_ms((uint64_t)(end - f->min_tc), f->hdr->timecode_scale_ns);
    c->duration_ms = ms > 0 ? (uint64_t)ms : 0;
    if (f->opts.keep_bytes) {
        c->bytes.ptr = f->bytes.data;
        c->bytes.len = f->bytes.len;
    }
    if (f->cb.on_fragment && (rc = f->cb.on_fragment(f->ud, c)) < 0)
        return rc;
    f->next_index++;
    f->in_frag = 0;
    memset(&c->bytes, 0, sizeof(c->bytes));
    sl_buf_reset(&f->bytes);
    return 0;
}

sl_mkv_frag *sl_mkv_frag_new(const sl_mkv_frag_opts *opts, const sl_mkv_frag_callbacks *cb,
                             void *ud)
{
    sl_mkv_frag *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    if (opts)
        f->opts = *opts;
    if (!f->opts.max_fragment_bytes)
        f->opts.max_fragment_bytes = 50u * 1000 * 1000;
    if (!f->opts.max_fragment_duration_ms)
        f->opts.max_fragment_duration_ms = 10000;
    if (cb)
        f->cb = *cb;
    f->ud = ud;
    sl_mkv_callbacks rcb = {
        .on_header = on_header,
        .on_cluster_start = on_cluster_start,
        .on_frame = on_frame,
        .on_tag = on_tag,
        .on_cluster_end = on_cluster_end,
        .on_raw = on_raw,
    };
    size_t max_block =
        f->opts.max_fragment_bytes < SIZE_MAX ? (size_t)f->opts.max_fragment_bytes : SIZE_MAX;
    f->r = sl_mkv_reader_new(&rcb, f, max_block);
    if (!f->r) {
        free(f);
        return NULL;
    }
    return f;
}

void sl_mkv_frag_free(sl_mkv_frag *f)
{
    if (!f)
        return;
    sl_mkv_reader_free(f->r);
    sl_buf_cleanup(&f->bytes);
    free(f);
}

/* A reader failure not raised by our own callbacks becomes a 4006/4010/... error. */
static int reader_failed(sl_mkv_frag *f, int rc)
{
    if (f->err)
        return f->err;
    const sl_diag *d = sl_mkv_reader_diag(f->r);
    int id = sl_mkv_reader_error_id(f->r);
    ffail(f, rc, id ? id : SL_KVS_INTERNAL_ERROR, d->offset, "%s", d->text);
    return rc;
}

int sl_mkv_frag_feed(sl_mkv_frag *f, const void *p, size_t n)
{
    if (f->err)
        return f->err;
    int rc = sl_mkv_reader_feed(f->r, p, n);
    return rc < 0 ? reader_failed(f, rc) : 0;
}

int sl_mkv_frag_finish(sl_mkv_frag *f)
{
    if (f->err)
        return f->err;
    int rc = sl_mkv_reader_finish(f->r);
    return rc < 0 ? reader_failed(f, rc) : 0;
}

const sl_mkv_frag_error *sl_mkv_frag_last_error(const sl_mkv_frag *f)
{
    return f->err ? &f->e : NULL;
}

const sl_mkv_header *sl_mkv_frag_header(const sl_mkv_frag *f)
{
    return f->hdr;
}
