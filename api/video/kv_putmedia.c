/* Kinesis Video PutMedia (POST /putMedia): the full-duplex ingest session.
 *
 * The request body (one MKV stream, chunked) goes through the shared fragment cutter
 * (sl_mkv_frag, common/mkv) as it arrives; acknowledgements flow back on the same exchange
 * while the upload continues, one compact JSON event + "\n" per sl_exchange_write, which the
 * gateway sends as one HTTP chunk:
 *
 *   head checked (stream, timecode type, start timestamp)  -> 200 + chunked head at once
 *   on_buffering (cluster Timecode read)  -> number assigned, BUFFERING
 *   on_fragment  (cluster complete)       -> RECEIVED; bytes + SQL row submitted to the writer
 *   persist_done (writer thread, after fsync + commit) -> posted -> persist_finish (loop):
 *                                           fragment enters the index, readers woken, PERSISTED
 *   cutter error                         -> after pending fragments are PERSISTED: ERROR, end
 *   body end                             -> cutter finish (last fragment), then end once
 *                                           every PERSISTED is out
 *   no body bytes for IDLE_AFTER_MS      -> IDLE every IDLE_AFTER_MS; after IDLE_CLOSE_MS the
 *                                           session is ended (AWS closes after 30 s)
 *   session older than 45 min            -> ERROR 4003 MAX_CONNECTION_DURATION_REACHED (for the
 *                                           fragment in progress, which is dropped), end; the
 *                                           producer reconnects (it rotates at ~40 min anyway)
 *
 * Limits (spec 4.6), only when kv_limits_on(): more than 5 PutMedia/s on a stream ->
 * ConnectionLimitExceededException 400 before the 200; per session more than 5 fragments/s or
 * 12.5 MB/s (token buckets, one second of burst) -> ERROR RATE_ERROR_ID for the fragment that
 * went over, end. The spec names no ErrorId for these two; 4000 STREAM_READ_ERROR is used
 * because producers treat it as retriable (reconnect, replay the un-PERSISTED fragments).
 * A stream that is not ACTIVE (CREATING/UPDATING) is refused with 404 ResourceNotFoundException
 * "not found or not active", as AWS words it.
 *
 * FragmentTimecode is the cluster Timecode exactly as received; FragmentNumber the stream's next
 * 47-digit number. A fragment equal to one already stored (same producer timestamp and size:
 * the producer's replay after a reconnect) is acknowledged RECEIVED and PERSISTED with the stored
 * fragment's number and is not stored again. Retention 0 streams get no PERSISTED: their
 * fragments only enter the in-memory live window. Newest PutMedia on a stream wins: the older
 * session stops reading, finishes its pending acks and ends. A deleted stream ends its session
 * with ERROR 4008 STREAM_NOT_ACTIVE.
 *
 * Memory per session is the cutter's current cluster plus the fragments waiting for their fsync;
 * past SESSION_PENDING_MAX bytes waiting (or when the writer queue is full) the session's body
 * is paused until completions drain it. Loop thread, except persist_sql/persist_done. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/mkv.h"
#include "sluice/time.h"

#define IDLE_AFTER_MS       3000
#define IDLE_CLOSE_MS       30000
#define SESSION_PENDING_MAX (32u << 20)
#define DEDUPE_SCAN         4096
#define RATE_ERROR_ID       4000 /* STREAM_READ_ERROR */
#define DURATION_ERROR_ID   4003 /* MAX_CONNECTION_DURATION_REACHED */

struct kv_put {
    int refs;
    sl_exchange *ex;
    kv_stream *s;
    sl_mkv_frag *cut;
    int closed, ended, body_done, started;
    int have_error;
    int error_id;
    int error_has_tc;
    uint64_t error_tc;
    char error_number[KV_NUMBER_LEN + 1];
    uint32_t header_id;
    int header_ok;
    uint64_t cur_seq;
    char cur_number[KV_NUMBER_LEN + 1];
    size_t pending;
    uint64_t pending_bytes;
    int paused, blocked;
    int64_t last_data_ms, last_idle_ms, started_ms;
    int in_frag; /* BUFFERING sent, fragment not complete */
    uint64_t cur_tc;
    sl_ds_bucket frag_rate, byte_rate; /* limits on */
    kv_put *prev_all, *next_all;
};

typedef struct persist_job {
    kv_put *p;
    kv_stream *s;
    kv_blob *blob;
    uint64_t timecode;
    int rc;
    kv_frag_row row;
    struct persist_job *next_blocked;
} persist_job;

static kv_put *all_sessions;
static void *idle_timer;
static persist_job *blocked_head, *blocked_tail;

static void put_unref(kv_put *p)
{
    if (--p->refs > 0)
        return;
    if (p->s && p->s->producer == p)
        p->s->producer = NULL;
    kv_stream_unref(p->s);
    sl_mkv_frag_free(p->cut);
    if (p->prev_all)
        p->prev_all->next_all = p->next_all;
    else if (all_sessions == p)
        all_sessions = p->next_all;
    if (p->next_all)
        p->next_all->prev_all = p->prev_all;
    free(p);
}

static void send_event(kv_put *p, const char *type, int has_tc, uint64_t tc, const char *number,
                       int error_id)
{
    char ev[512];
    int n;
    if (p->ended || p->closed || !sl_exchange_is_open(p->ex))
        return;
    if (error_id)
        n = snprintf(ev, sizeof(ev),
                     "{\"EventType\":\"ERROR\",\"FragmentTimecode\":%" PRIu64
                     ",\"FragmentNumber\":\"%s\",\"ErrorId\":%d,\"ErrorCode\":\"%s\"}\n",
                     tc, number, error_id,
                     sl_mkv_kvs_error_code(error_id) ? sl_mkv_kvs_error_code(error_id)
                                                     : "INTERNAL_ERROR");
    else if (has_tc)
        n = snprintf(ev, sizeof(ev),
                     "{\"EventType\":\"%s\",\"FragmentTimecode\":%" PRIu64
                     ",\"FragmentNumber\":\"%s\"}\n",
                     type, tc, number);
    else
        n = snprintf(ev, sizeof(ev), "{\"EventType\":\"%s\"}\n", type);
    if (n > 0 && (size_t)n < sizeof(ev))
        sl_exchange_write(p->ex, ev, (size_t)n);
}

static void set_paused(kv_put *p)
{
    int want = !p->body_done && (p->blocked || p->pending_bytes > SESSION_PENDING_MAX);
    if (want != p->paused && !p->closed) {
        p->paused = want;
        sl_exchange_pause_body(p->ex, want);
    }
}

/* Ends the response once the body is over (or refused) and every pending fragment is acked. */
static void maybe_finish(kv_put *p)
{
    if (p->ended || !p->body_done || p->pending > 0 || p->blocked)
        return;
    if (p->have_error)
        send_event(p, "ERROR", p->error_has_tc, p->error_tc, p->error_number, p->error_id);
    if (!p->closed && sl_exchange_is_open(p->ex))
        sl_exchange_end(p->ex);
    p->ended = 1;
    if (p->s->producer == p)
        p->s->producer = NULL;
}

/* Stops taking input with an ERROR ack (sent once pending acks are out). */
static void fail(kv_put *p, int error_id, int has_tc, uint64_t tc, const char *number)
{
    if (p->have_error)
        return;
    p->have_error = 1;
    p->error_id = error_id;
    p->error_has_tc = has_tc;
    p->error_tc = tc;
    snprintf(p->error_number, sizeof(p->error_number), "%s", number ? number : "");
    p->body_done = 1;
    set_paused(p);
}

/* ---- persistence ----------------------------------------------------------------------------
 */

static void persist_finish(void *arg);

static void persist_done(void *arg, int rc, const sl_log_entry *e)
{
    persist_job *j = arg;
    j->rc = rc;
    if (rc == 0 && e)
        j->row.f.log_offset = e->offset;
    if (sl_loop_post(persist_finish, j) != 0)
        sl_error("video", "cannot post a PutMedia completion: out of memory");
}

/* Two adjacent log entries: the fragment's record (what its index row needs), then the Cluster.
 * No SQL step: PERSISTED needs only the log's fsync; the row follows in an index flush. */
static int submit(persist_job *j, const uint8_t *bytes, size_t len)
{
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    int rc = kv_record_frag(j->row.skey, &j->row.f, &rec, &rec_len);
    if (rc)
        return rc;
    struct iovec iov[2] = {{rec, rec_len}, {(void *)bytes, len}};
    sl_append a[2] = {
        {
            .log = j->s->log,
            .iov = &iov[0],
            .iovcnt = 1,
            .ts_ns = j->row.f.server_ms * 1000000,
        },
        {
            .log = j->s->log,
            .iov = &iov[1],
            .iovcnt = 1,
            .ts_ns = j->row.f.server_ms * 1000000,
            .done = persist_done,
            .arg = j,
        },
    };
    rc = sl_writer_submit_many(sl_store_writer(kv_store()), a, 2, 0);
    free(rec);
    return rc;
}

static void retry_blocked(void)
{
    while (blocked_head) {
        persist_job *j = blocked_head;
        int rc = submit(j, j->blob->data, j->blob->len);
        if (rc == SL_EFULL)
            return;
        blocked_head = j->next_blocked;
        if (!blocked_head)
            blocked_tail = NULL;
        j->p->blocked--;
        set_paused(j->p);
        if (rc) {
            j->rc = rc;
            persist_finish(j);
        }
    }
}

static void persist_finish(void *arg)
{
    persist_job *j = arg;
    kv_put *p = j->p;
    kv_stream *s = j->s;
    char num[KV_NUMBER_LEN + 1];
    kv_format_number(j->row.f.seq, num);
    if (j->rc == 0 && !s->deleted) {
        kv_frag f = j->row.f;
        f.blob = j->blob;
        f.meta = kv_blob_ref(j->row.f.meta);
        j->blob = NULL;
        if (kv_index_add(s->skey, &f) != 0)
            sl_warn("video", "fragment %s: index row deferred to the next restart", num);
        if (kv_frag_add(s, &f) != 0) {
            kv_blob_unref(f.blob);
            kv_blob_unref(f.meta);
        }
        send_event(p, "PERSISTED", 1, j->timecode, num, 0);
    } else if (j->rc) {
        sl_error("video", "fragment %s of %s not stored: %s", num, s->name, sl_err_str(j->rc));
        fail(p, SL_KVS_INTERNAL_ERROR, 1, j->timecode, num);
    }
    kv_blob_unref(j->blob);
    kv_blob_unref(j->row.f.meta);
    p->pending--;
    p->pending_bytes -= j->row.f.size;
    set_paused(p);
    maybe_finish(p);
    kv_stream_unref(s);
    put_unref(p);
    free(j);
    retry_blocked();
}

/* ---- cutter callbacks -----------------------------------------------------------------------
 */

static int on_header(void *ud, const sl_mkv_header *h)
{
    kv_put *p = ud;
    int rc = kv_header_intern(p->s, (const uint8_t *)h->bytes.ptr, h->bytes.len, &p->header_id);
    if (rc == 0)
        p->header_ok = 1;
    return rc;
}

static int on_buffering(void *ud, const sl_mkv_fragment *f)
{
    kv_put *p = ud;
    if (p->s->deleted)
        return SL_ENOTFOUND;
    p->cur_seq = kv_next_seq(p->s, sl_time_now_ns() / 1000000);
    kv_format_number(p->cur_seq, p->cur_number);
    if (kv_limits_on() && !sl_ds_bucket_take(&p->frag_rate, KV_FRAGMENTS_PER_S, KV_FRAGMENTS_PER_S,
                                             1, sl_time_mono_ns() / 1000000, 0)) {
        sl_info("video", "PutMedia on %s: more than %.0f fragments/s", p->s->name,
                KV_FRAGMENTS_PER_S);
        fail(p, RATE_ERROR_ID, 1, f->timecode, p->cur_number);
        return SL_EFULL;
    }
    p->in_frag = 1;
    p->cur_tc = f->timecode;
    send_event(p, "BUFFERING", 1, f->timecode, p->cur_number, 0);
    return 0;
}

static const kv_frag *find_duplicate(const kv_stream *s, const sl_mkv_fragment *f)
{
    size_t stop = s->nfrags > DEDUPE_SCAN ? s->nfrags - DEDUPE_SCAN : 0;
    for (size_t i = s->nfrags; i-- > stop;) {
        const kv_frag *g = &s->frags[i];
        if (g->producer_ms == f->producer_ts_ms && g->size == f->size)
            return g;
    }
    return NULL;
}

/* The fragment's metadata tags (the producer's Tags before the Cluster; the cutter already
 * refused more than 10 with 4009), AWS_KINESISVIDEO_* names left out. */
static int frag_meta(const sl_mkv_fragment *f, kv_blob **out)
{
    const char *names[SL_MKV_FRAG_MAX_META], *values[SL_MKV_FRAG_MAX_META];
    for (size_t i = 0; i < f->nmeta; i++) {
        names[i] = f->meta[i].name;
        values[i] = f->meta[i].value;
    }
    return kv_meta_from_tags(names, values, f->nmeta, out);
}

static int on_fragment(void *ud, const sl_mkv_fragment *f)
{
    kv_put *p = ud;
    kv_stream *s = p->s;
    int rc;
    p->in_frag = 0;
    send_event(p, "RECEIVED", 1, f->timecode, p->cur_number, 0);
    const kv_frag *dup = find_duplicate(s, f);
    if (dup && s->retention_hours > 0) {
        char num[KV_NUMBER_LEN + 1];
        kv_format_number(dup->seq, num);
        send_event(p, "PERSISTED", 1, f->timecode, num, 0);
        return 0;
    }
    kv_frag fr = {
        .seq = p->cur_seq,
        .producer_ms = f->producer_ts_ms,
        .server_ms = sl_time_now_ns() / 1000000,
        .duration_ms = f->duration_ms,
        .size = f->size,
        .header_id = p->header_id,
    };
    for (size_t i = 0; i < SL_MKV_FRAG_MAX_TRACKS; i++)
        fr.frames += f->frames[i];
    if ((rc = frag_meta(f, &fr.meta)) != 0)
        return rc;
    /* The Cluster is copied into a blob only when something needs it after this call: tailing
     * readers (hot bytes), the live window (retention 0), or a wait for writer room. Otherwise
     * the writer's own copy at submit is the only one. */
    kv_blob *b = NULL;
    if ((s->retention_hours == 0 || s->nreaders > 0 || blocked_head) &&
        !(b = kv_blob_new(f->bytes.ptr, f->bytes.len))) {
        kv_blob_unref(fr.meta);
        return SL_ENOMEM;
    }
    if (s->retention_hours == 0) {
        fr.blob = b;
        if ((rc = kv_frag_add(s, &fr)) != 0) {
            kv_blob_unref(b);
            kv_blob_unref(fr.meta);
        }
        return rc;
    }
    persist_job *j = calloc(1, sizeof(*j));
    if (!j || (rc = kv_stream_log(s)) != 0) {
        kv_blob_unref(b);
        kv_blob_unref(fr.meta);
        free(j);
        return j ? rc : SL_ENOMEM;
    }
    j->p = p;
    j->s = s;
    j->blob = b;
    j->timecode = f->timecode;
    snprintf(j->row.skey, sizeof(j->row.skey), "%s", s->skey);
    j->row.f = fr;
    rc = blocked_head ? SL_EFULL : submit(j, (const uint8_t *)f->bytes.ptr, f->bytes.len);
    if (rc == SL_EFULL && !j->blob && !(j->blob = kv_blob_new(f->bytes.ptr, f->bytes.len)))
        rc = SL_ENOMEM;
    if (rc == SL_EFULL) {
        if (blocked_tail)
            blocked_tail->next_blocked = j;
        else
            blocked_head = j;
        blocked_tail = j;
        p->blocked++;
        rc = 0;
    } else if (rc) {
        kv_blob_unref(j->blob);
        kv_blob_unref(fr.meta);
        free(j);
        return rc;
    }
    p->refs++;
    kv_stream_ref(s);
    p->pending++;
    p->pending_bytes += fr.size;
    set_paused(p);
    return 0;
}

static void on_frag_error(void *ud, const sl_mkv_frag_error *e)
{
    kv_put *p = ud;
    sl_info("video", "PutMedia on %s refused: ErrorId %d (%s) at byte %zu: %s", p->s->name,
            e->error_id, e->error_code ? e->error_code : "?", e->diag.offset, e->diag.text);
    fail(p, e->error_id, e->has_timecode, e->timecode, e->has_timecode ? p->cur_number : "");
}

/* After feed/finish returned rc: callbacks' own errors (not the cutter's) become ERROR acks. */
static void after_cut(kv_put *p, int rc)
{
    if (rc == 0 || p->have_error)
        return;
    if (p->s->deleted)
        fail(p, 4008, 0, 0, "");
    else
        fail(p, SL_KVS_INTERNAL_ERROR, 0, 0, "");
}

/* ---- exchange callbacks ---------------------------------------------------------------------
 */

static int on_body(sl_exchange *ex, void *ud, const uint8_t *data, size_t n)
{
    kv_put *p = ud;
    (void)ex;
    if (p->body_done)
        return SL_ECLOSED;
    p->last_data_ms = sl_time_mono_ns() / 1000000;
    p->last_idle_ms = p->last_data_ms;
    if (kv_limits_on() &&
        !sl_ds_bucket_take(&p->byte_rate, KV_SESSION_BYTES_PER_S, KV_SESSION_BYTES_PER_S, (double)n,
                           p->last_data_ms, 1)) {
        sl_info("video", "PutMedia on %s: more than %.1f MB/s", p->s->name,
                KV_SESSION_BYTES_PER_S / 1e6);
        fail(p, RATE_ERROR_ID, p->in_frag, p->cur_tc, p->in_frag ? p->cur_number : "");
        maybe_finish(p);
        return SL_ECLOSED;
    }
    int rc = sl_mkv_frag_feed(p->cut, data, n);
    after_cut(p, rc);
    if (rc) {
        maybe_finish(p);
        return rc;
    }
    return 0;
}

static void on_body_end(sl_exchange *ex, void *ud)
{
    kv_put *p = ud;
    (void)ex;
    if (p->body_done)
        return;
    int rc = sl_mkv_frag_finish(p->cut);
    after_cut(p, rc);
    p->body_done = 1;
    set_paused(p);
    maybe_finish(p);
}

static void on_close(sl_exchange *ex, void *ud, int aborted)
{
    kv_put *p = ud;
    if (aborted && !p->ended)
        sl_info("video", "PutMedia on %s: client went away", p->s->name);
    p->closed = 1;
    p->body_done = 1;
    p->ended = 1;
    if (p->s->producer == p)
        p->s->producer = NULL;
    sl_exchange_unref(ex);
    p->ex = NULL;
    put_unref(p);
}

static const sl_exchange_ops put_ops = {
    .on_body = on_body,
    .on_body_end = on_body_end,
    .on_close = on_close,
};

/* 45 min, or SLUICE_VIDEO_MAX_CONNECTION_MS (tests only). */
static int64_t max_connection_ms(void)
{
    static int64_t ms = -1;
    if (ms < 0) {
        const char *v = getenv("SLUICE_VIDEO_MAX_CONNECTION_MS");
        ms = v && *v ? strtoll(v, NULL, 10) : KV_MAX_CONNECTION_MS;
        if (ms <= 0)
            ms = KV_MAX_CONNECTION_MS;
        if (ms != KV_MAX_CONNECTION_MS)
            sl_warn("video",
                    "SLUICE_VIDEO_MAX_CONNECTION_MS: PutMedia connections end after "
                    "%lld ms (tests only)",
                    (long long)ms);
    }
    return ms;
}

static void idle_tick(void *unused)
{
    (void)unused;
    idle_timer = NULL;
    int64_t now = sl_time_mono_ns() / 1000000;
    for (kv_put *p = all_sessions; p;) {
        kv_put *next = p->next_all;
        p->refs++;
        if (!p->ended && !p->body_done && now - p->started_ms >= max_connection_ms()) {
            sl_info("video", "PutMedia on %s: connection open for %lld ms, ending it (4003)",
                    p->s->name, (long long)(now - p->started_ms));
            fail(p, DURATION_ERROR_ID, p->in_frag, p->cur_tc, p->in_frag ? p->cur_number : "");
            maybe_finish(p);
        } else if (!p->ended && !p->body_done && now - p->last_data_ms >= IDLE_CLOSE_MS) {
            sl_info("video", "PutMedia on %s: no data for %d s, closing", p->s->name,
                    IDLE_CLOSE_MS / 1000);
            p->body_done = 1;
            set_paused(p);
            maybe_finish(p);
        } else if (!p->ended && !p->body_done && now - p->last_idle_ms >= IDLE_AFTER_MS) {
            p->last_idle_ms = now;
            send_event(p, "IDLE", 0, 0, NULL, 0);
        }
        next = p->next_all;
        put_unref(p);
        p = next;
    }
    if (all_sessions)
        idle_timer = sl_loop_timer_add(1000, idle_tick, NULL);
}

void kv_put_stream_deleted(kv_stream *s)
{
    kv_put *p = s->producer;
    if (!p)
        return;
    s->producer = NULL;
    fail(p, 4008, 0, 0, "");
    maybe_finish(p);
}

/* Decimal epoch seconds ("1795704260.904", or the producer's unpadded "….5") to ms. */
static int parse_start_ts(sl_slice v, int64_t *ms)
{
    char buf[64];
    char *end = NULL;
    if (v.len == 0 || v.len >= sizeof(buf))
        return SL_EINVAL;
    memcpy(buf, v.ptr, v.len);
    buf[v.len] = '\0';
    double d = strtod(buf, &end);
    if (end == buf || *end || !(d >= 0) || d > 1e11)
        return SL_EINVAL;
    *ms = (int64_t)(d * 1000.0 + 0.5);
    return 0;
}

static void reply_err(sl_exchange *ex, const void *ud, int status, const char *type,
                      const char *msg)
{
    const sl_op_def *op = ud;
    sl_wire_reply_error(ex, SL_PROTO_REST_JSON, op->service, status, type, msg, NULL);
}

void sl_video_put_media(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    int rc = kv_ready();
    if (rc) {
        reply_err(ex, ud, 500, "InternalFailure", NULL);
        return;
    }
    sl_slice name = sl_http_header_get(req, "x-amzn-stream-name");
    sl_slice arn = sl_http_header_get(req, "x-amzn-stream-arn");
    sl_slice tct = sl_http_header_get(req, "x-amzn-fragment-timecode-type");
    sl_slice start = sl_http_header_get(req, "x-amzn-producer-start-timestamp");
    char key[1100];
    kv_stream *s = NULL;
    if ((name.len == 0) == (arn.len == 0) || name.len >= 257 || arn.len >= sizeof(key)) {
        reply_err(ex, ud, 400, "InvalidArgumentException",
                  "Exactly one of x-amzn-stream-name and x-amzn-stream-arn is required.");
        return;
    }
    if (name.len) {
        memcpy(key, name.ptr, name.len);
        key[name.len] = '\0';
        s = kv_find(req->region && req->region[0] ? req->region : sl_api_region(), key);
    } else {
        memcpy(key, arn.ptr, arn.len);
        key[arn.len] = '\0';
        s = kv_find_arn(key);
    }
    if (!s || s->status != KV_ACTIVE) {
        reply_err(ex, ud, 404, "ResourceNotFoundException",
                  "The requested stream is not found or not active.");
        return;
    }
    if (kv_limits_on() && !sl_ds_bucket_take(&s->put_calls, KV_PUTMEDIA_PER_S, KV_PUTMEDIA_PER_S, 1,
                                             sl_time_mono_ns() / 1000000, 0)) {
        reply_err(ex, ud, 400, "ConnectionLimitExceededException",
                  "More than 5 PutMedia requests per second on this stream.");
        return;
    }
    sl_mkv_frag_opts o = {.keep_bytes = 1};
    if (sl_slice_eq(tct, "RELATIVE")) {
        o.relative = 1;
    } else if (!sl_slice_eq(tct, "ABSOLUTE")) {
        reply_err(ex, ud, 400, "InvalidArgumentException",
                  "x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE.");
        return;
    }
    if (start.len && parse_start_ts(start, &o.producer_start_ms) != 0) {
        reply_err(ex, ud, 400, "InvalidArgumentException",
                  "x-amzn-producer-start-timestamp is not a decimal number of seconds.");
        return;
    }
    if (!start.len)
        o.producer_start_ms = sl_time_now_ns() / 1000000;

    kv_put *p = calloc(1, sizeof(*p));
    static const sl_mkv_frag_callbacks cb = {
        .on_header = on_header,
        .on_buffering = on_buffering,
        .on_fragment = on_fragment,
        .on_error = on_frag_error,
    };
    if (!p || !(p->cut = sl_mkv_frag_new(&o, &cb, p))) {
        free(p);
        reply_err(ex, ud, 500, "InternalFailure", NULL);
        return;
    }
    p->refs = 1; /* the exchange's; dropped in on_close */
    p->ex = ex;
    p->s = s;
    kv_stream_ref(s);
    p->last_data_ms = p->last_idle_ms = p->started_ms = sl_time_mono_ns() / 1000000;
    p->next_all = all_sessions;
    if (all_sessions)
        all_sessions->prev_all = p;
    all_sessions = p;
    /* Newest wins: the older session stops reading and ends after its pending acks. */
    kv_put *old = s->producer;
    s->producer = p;
    if (old && !old->ended) {
        sl_info("video", "PutMedia on %s: a newer session takes over", s->name);
        old->body_done = 1;
        set_paused(old);
        maybe_finish(old);
    }
    sl_exchange_ref(ex);
    sl_exchange_set_ops(ex, &put_ops, p);
    static const sl_http_header hdrs[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")},
    };
    sl_exchange_start(ex, 200, hdrs, 1);
    p->started = 1;
    if (!idle_timer)
        idle_timer = sl_loop_timer_add(1000, idle_tick, NULL);
}
