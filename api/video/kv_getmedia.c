/* Kinesis Video reads: GetMedia (POST /getMedia, every StartSelector, live tail),
 * GetMediaForFragmentList (POST /getMediaForFragmentList) and ListFragments
 * (POST /listFragments).
 *
 * GetMedia and GetMediaForFragmentList answer 200 with a chunked video/webm body in which every
 * fragment is self-contained MKV (spec video-streams §3.2):
 *     stream header of the fragment's PutMedia session (EBML, Segment of unknown size, Info,
 *     Tracks, as received) | Tags FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP |
 *     the Cluster exactly as received | Tags MILLIS_BEHIND_NOW, CONTINUATION_TOKEN
 * built with sl_mkv_getmedia_prefix/suffix (common/mkv/mkv_tags.c).
 *
 * A reader (kv_reader) walks the stream's in-memory index by fragment number. pump() sends the
 * next fragment when the exchange's output queue is under OUT_BUDGET (else it waits for
 * on_writable): bytes already in memory (live-only streams; the newest fragments while readers
 * are attached) go out at once; other fragments are read from the log by the service's read
 * worker (kv_read_submit: one pread of the entry, CRC-checked, off the loop thread) and sent
 * when the read completes. At the end of the index a GetMedia reader parks on the stream's
 * waiter list and kv_frag_add() wakes it when the next fragment is PERSISTED (no polling); a
 * fragment-list reader ends instead. A fragment removed by retention while queued is skipped;
 * a read failure ends the stream with the error Tags (AWS_KINESISVIDEO_ERROR_ID 4000/5000).
 * Deleting the stream ends its readers. Loop thread, except read_work. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/mkv.h"
#include "sluice/time.h"

#define OUT_BUDGET             (1u << 20)
#define GETMEDIA_MAX_READERS   3
#define LIST_FRAGMENTS_DEFAULT 1000

struct kv_reader {
    int refs;
    sl_exchange *ex;
    kv_stream *s;
    int tail; /* GetMedia: wait for new fragments at the end */
    uint64_t next_seq;
    uint64_t *list; /* GetMediaForFragmentList: the numbers, in order */
    size_t nlist, ilist;
    int reading, closed, ended, waiting;
    kv_reader *prev_wait, *next_wait;
    /* read job (worker) */
    sl_log *log;
    kv_frag frag;
    sl_buf data;
    int read_rc;
};

static void pump(kv_reader *r);

static void reader_unref(kv_reader *r)
{
    if (--r->refs > 0)
        return;
    if (r->tail)
        r->s->nreaders--;
    kv_stream_unref(r->s);
    kv_blob_unref(r->frag.meta);
    sl_buf_cleanup(&r->data);
    free(r->list);
    free(r);
}

static void unwait(kv_reader *r)
{
    if (!r->waiting)
        return;
    if (r->prev_wait)
        r->prev_wait->next_wait = r->next_wait;
    else
        r->s->waiters = r->next_wait;
    if (r->next_wait)
        r->next_wait->prev_wait = r->prev_wait;
    r->prev_wait = r->next_wait = NULL;
    r->waiting = 0;
}

static void park(kv_reader *r)
{
    if (r->waiting)
        return;
    r->waiting = 1;
    r->prev_wait = NULL;
    r->next_wait = r->s->waiters;
    if (r->s->waiters)
        r->s->waiters->prev_wait = r;
    r->s->waiters = r;
}

void kv_reader_wake_all(kv_stream *s)
{
    kv_reader *r = s->waiters;
    s->waiters = NULL;
    while (r) {
        kv_reader *next = r->next_wait;
        r->prev_wait = r->next_wait = NULL;
        r->waiting = 0;
        r->refs++;
        pump(r);
        reader_unref(r);
        r = next;
    }
}

static void end(kv_reader *r)
{
    if (r->ended)
        return;
    r->ended = 1;
    unwait(r);
    if (!r->closed && sl_exchange_is_open(r->ex))
        sl_exchange_end(r->ex);
}

static void end_with_error(kv_reader *r, const kv_frag *f, int error_id, const char *code)
{
    sl_buf b = SL_BUF_INIT;
    char num[KV_NUMBER_LEN + 1];
    kv_format_number(f->seq, num);
    if (sl_mkv_getmedia_error(&b, num, error_id, code) == 0 && !r->closed)
        sl_exchange_write(r->ex, b.data, b.len);
    sl_buf_cleanup(&b);
    end(r);
}

typedef struct meta_list {
    size_t n;
    char names[KV_META_TAGS][129], values[KV_META_TAGS][257];
} meta_list;

static void meta_collect(void *arg, const char *name, const char *value)
{
    meta_list *m = arg;
    if (m->n == KV_META_TAGS)
        return;
    snprintf(m->names[m->n], sizeof(m->names[0]), "%s", name);
    snprintf(m->values[m->n], sizeof(m->values[0]), "%s", value);
    m->n++;
}

/* The fragment's metadata (the producer's own Tags that preceded its Cluster in PutMedia) as
 * one Tags element, 8-byte sizes as the producer writes them, between the service's prefix
 * Tags and the Cluster -- where the producer had put them. */
static int write_meta(sl_buf *b, const kv_blob *meta)
{
    meta_list m;
    m.n = 0;
    kv_meta_foreach(meta, meta_collect, &m);
    if (m.n == 0)
        return 0;
    const char *names[KV_META_TAGS], *values[KV_META_TAGS];
    for (size_t i = 0; i < m.n; i++) {
        names[i] = m.names[i];
        values[i] = m.values[i];
    }
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, b);
    return sl_mkv_write_tags(&w, names, values, m.n, 8);
}

/* Writes fragment f (cluster bytes p/n) framed as a self-contained MKV chunk. */
static int emit(kv_reader *r, const kv_frag *f, const void *p, size_t n)
{
    const kv_header *h = kv_header_find(r->s, f->header_id);
    sl_buf b = SL_BUF_INIT;
    char num[KV_NUMBER_LEN + 1];
    int rc = SL_ECORRUPT;
    if (!h)
        goto out;
    kv_format_number(f->seq, num);
    int64_t behind = sl_time_now_ns() / 1000000 - f->server_ms;
    sl_slice hs = {(const char *)h->bytes->data, h->bytes->len};
    if ((rc = sl_mkv_getmedia_prefix(&b, hs, num, f->server_ms, f->producer_ms)) != 0)
        goto out;
    if ((rc = write_meta(&b, f->meta)) != 0)
        goto out;
    if ((rc = sl_buf_append(&b, p, n)) != 0)
        goto out;
    if ((rc = sl_mkv_getmedia_suffix(&b, behind > 0 ? behind : 0, num)) != 0)
        goto out;
    rc = sl_exchange_write(r->ex, b.data, b.len);
out:
    sl_buf_cleanup(&b);
    return rc;
}

static void read_work(void *arg)
{
    kv_reader *r = arg;
    sl_log_entry e;
    sl_buf_reset(&r->data);
    r->read_rc = sl_log_read(r->log, r->frag.log_offset, &e, &r->data);
    if (r->read_rc == 0 && e.len != r->frag.size)
        r->read_rc = SL_ECORRUPT;
}

static void read_done(void *arg)
{
    kv_reader *r = arg;
    r->reading = 0;
    if (!r->closed && !r->ended) {
        if (r->read_rc == 0) {
            if (emit(r, &r->frag, r->data.data, r->data.len) != 0)
                end_with_error(r, &r->frag, 5000, "INTERNAL_ERROR");
        } else if (r->read_rc != SL_ERANGE && r->read_rc != SL_ENOTFOUND) {
            sl_error("video", "GetMedia: reading fragment of %s: %s", r->s->name,
                     sl_err_str(r->read_rc));
            end_with_error(r, &r->frag, 4000, "FRAGMENT_NOT_FOUND");
        }
        sl_buf_reset(&r->data);
        pump(r);
    }
    reader_unref(r);
}

/* The next fragment to send, or NULL (end of list / end of index). */
static const kv_frag *next_frag(kv_reader *r)
{
    kv_stream *s = r->s;
    if (r->list) {
        while (r->ilist < r->nlist) {
            uint64_t want = r->list[r->ilist++];
            size_t i = kv_frag_lower_bound(s, want);
            if (i < s->nfrags && s->frags[i].seq == want)
                return &s->frags[i];
        }
        return NULL;
    }
    size_t i = kv_frag_lower_bound(s, r->next_seq);
    if (i >= s->nfrags)
        return NULL;
    r->next_seq = s->frags[i].seq + 1;
    return &s->frags[i];
}

static void pump(kv_reader *r)
{
    while (!r->closed && !r->ended && !r->reading) {
        if (r->s->deleted) {
            end(r);
            return;
        }
        if (sl_exchange_queued_bytes(r->ex) > OUT_BUDGET) {
            sl_exchange_want_writable(r->ex);
            return;
        }
        const kv_frag *f = next_frag(r);
        if (!f) {
            if (r->tail)
                park(r);
            else
                end(r);
            return;
        }
        if (f->blob) {
            if (emit(r, f, f->blob->data, f->blob->len) != 0) {
                end_with_error(r, f, 5000, "INTERNAL_ERROR");
                return;
            }
            continue;
        }
        if (kv_stream_log(r->s) != 0) {
            end_with_error(r, f, 5000, "INTERNAL_ERROR");
            return;
        }
        r->log = r->s->log;
        kv_blob_unref(r->frag.meta);
        r->frag = *f;
        r->frag.blob = NULL;
        r->frag.meta = kv_blob_ref(f->meta); /* retention may drop f meanwhile */
        r->reading = 1;
        r->refs++;
        if (kv_read_submit(read_work, read_done, r) != 0) {
            r->reading = 0;
            r->refs--;
            end_with_error(r, f, 5000, "INTERNAL_ERROR");
            return;
        }
    }
}

static void on_writable(sl_exchange *ex, void *ud)
{
    (void)ex;
    pump(ud);
}

static void on_close(sl_exchange *ex, void *ud, int aborted)
{
    kv_reader *r = ud;
    (void)aborted;
    r->closed = 1;
    unwait(r);
    sl_exchange_unref(ex);
    reader_unref(r);
}

static const sl_exchange_ops reader_ops = {
    .on_writable = on_writable,
    .on_close = on_close,
};

static void start_reader(sl_api_call *call, kv_reader *r)
{
    static const sl_http_header hdrs[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("video/webm")},
    };
    r->refs = 1;
    r->ex = call->ex;
    kv_stream_ref(r->s);
    if (r->tail)
        r->s->nreaders++;
    sl_exchange_ref(call->ex);
    sl_exchange_set_ops(call->ex, &reader_ops, r);
    sl_exchange_start(call->ex, 200, hdrs, 1);
    pump(r);
}

/* A JSON timestamp (epoch seconds number, numeric string or ISO-8601) in ms; -1 if bad. */
static int64_t ts_ms(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return (int64_t)(v->valuedouble * 1000.0 + 0.5);
    if (!cJSON_IsString(v))
        return -1;
    char *end = NULL;
    double d = strtod(v->valuestring, &end);
    if (end != v->valuestring && *end == '\0')
        return (int64_t)(d * 1000.0 + 0.5);
    struct tm tm;
    int ms = 0, n = 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(v->valuestring, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    const char *p = v->valuestring + n;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                ms = ms * 10 + (*p - '0');
        }
        for (; digits < 3; digits++)
            ms *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm) * 1000 + ms;
    int sh, sm;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &sh, &sm) == 2)
        t -= (*p == '+' ? 1 : -1) * ((int64_t)sh * 3600 + sm * 60) * 1000;
    return t;
}

void sl_video_get_media(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s)
        return;
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(call->input, "StartSelector");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(sel, "StartSelectorType");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    uint64_t next = 0, n;
    if (s->nreaders >= GETMEDIA_MAX_READERS) {
        kv_reply_error(call, "ConnectionLimitExceededException",
                       "Too many GetMedia connections on this stream.");
        return;
    }
    if (strcmp(t, "NOW") == 0) {
        next = s->nfrags ? s->frags[s->nfrags - 1].seq + 1 : 0;
    } else if (strcmp(t, "EARLIEST") == 0) {
        next = 0;
    } else if (strcmp(t, "FRAGMENT_NUMBER") == 0 || strcmp(t, "CONTINUATION_TOKEN") == 0) {
        const char *k = t[0] == 'F' ? "AfterFragmentNumber" : "ContinuationToken";
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sel, k);
        if (!cJSON_IsString(v) || kv_parse_number(v->valuestring, &n) != 0) {
            kv_reply_error(call, "InvalidArgumentException",
                           t[0] == 'F' ? "AfterFragmentNumber is missing or invalid."
                                       : "ContinuationToken is missing or invalid.");
            return;
        }
        next = n + 1;
    } else if (strcmp(t, "SERVER_TIMESTAMP") == 0 || strcmp(t, "PRODUCER_TIMESTAMP") == 0) {
        int64_t at = ts_ms(cJSON_GetObjectItemCaseSensitive(sel, "StartTimestamp"));
        if (at < 0) {
            kv_reply_error(call, "InvalidArgumentException", "StartTimestamp is missing.");
            return;
        }
        int server = t[0] == 'S';
        next = s->nfrags ? s->frags[s->nfrags - 1].seq + 1 : 0;
        for (size_t i = 0; i < s->nfrags; i++) {
            const kv_frag *f = &s->frags[i];
            int64_t start = server ? f->server_ms : f->producer_ms;
            int64_t dur = f->duration_ms ? (int64_t)f->duration_ms : 1;
            if (start + dur > at) { /* the fragment holding `at`, or the first after it */
                next = f->seq;
                break;
            }
        }
    } else {
        kv_reply_error(call, "InvalidArgumentException", "Unknown StartSelectorType.");
        return;
    }
    kv_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    r->s = s;
    r->tail = 1;
    r->next_seq = next;
    start_reader(call, r);
}

void sl_video_get_media_for_fragment_list(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s)
        return;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(call->input, "Fragments");
    int n = cJSON_GetArraySize(list);
    kv_reader *r = calloc(1, sizeof(*r));
    uint64_t *nums = calloc(n > 0 ? (size_t)n : 1, sizeof(*nums));
    if (!r || !nums) {
        free(r);
        free(nums);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, list)
    {
        if (!cJSON_IsString(v) || kv_parse_number(v->valuestring, &nums[i]) != 0) {
            free(r);
            free(nums);
            kv_reply_error(call, "InvalidArgumentException", "Invalid fragment number.");
            return;
        }
        i++;
    }
    r->s = s;
    r->list = nums;
    r->nlist = (size_t)n;
    start_reader(call, r);
}

void sl_video_list_fragments(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s)
        return;
    const cJSON *in = call->input;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(in, "NextToken");
    const cJSON *maxr = cJSON_GetObjectItemCaseSensitive(in, "MaxResults");
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(in, "FragmentSelector");
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(sel, "TimestampRange");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(sel, "FragmentSelectorType");
    int server = cJSON_IsString(type) && strcmp(type->valuestring, "SERVER_TIMESTAMP") == 0;
    int64_t from = INT64_MIN, to = INT64_MAX;
    uint64_t after = 0;
    char last[128];
    size_t max = LIST_FRAGMENTS_DEFAULT;
    if (cJSON_IsNumber(maxr) && maxr->valuedouble >= 1 && maxr->valuedouble <= 1000)
        max = (size_t)maxr->valuedouble;
    if (cJSON_IsString(tok)) {
        /* token = "<after seq>,<S|P>,<from>,<to>" */
        char kind = 0;
        long long f = 0, t = 0;
        unsigned long long a = 0;
        if (sl_api_token_decode(tok->valuestring, 0, last, sizeof(last)) != 0 ||
            sscanf(last, "%llu,%c,%lld,%lld", &a, &kind, &f, &t) != 4) {
            kv_reply_error(call, "InvalidArgumentException", "Invalid NextToken.");
            return;
        }
        after = a;
        server = kind == 'S';
        from = f;
        to = t;
    } else if (sel) {
        from = ts_ms(cJSON_GetObjectItemCaseSensitive(range, "StartTimestamp"));
        to = ts_ms(cJSON_GetObjectItemCaseSensitive(range, "EndTimestamp"));
        if (from < 0 || to < 0) {
            kv_reply_error(call, "InvalidArgumentException", "Invalid TimestampRange.");
            return;
        }
        if (to < from) {
            kv_reply_error(call, "InvalidArgumentException",
                           "EndTimestamp must not be before StartTimestamp.");
            return;
        }
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "Fragments");
    size_t count = 0, i = kv_frag_lower_bound(s, after);
    uint64_t last_seq = 0;
    int more = 0;
    for (; i < s->nfrags; i++) {
        const kv_frag *f = &s->frags[i];
        int64_t ts = server ? f->server_ms : f->producer_ms;
        if (ts < from || ts > to)
            continue;
        if (count == max) {
            more = 1;
            break;
        }
        char num[KV_NUMBER_LEN + 1];
        kv_format_number(f->seq, num);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "FragmentNumber", num);
        cJSON_AddNumberToObject(o, "FragmentSizeInBytes", (double)f->size);
        sl_wire_json_add_timestamp(o, "ProducerTimestamp", f->producer_ms);
        sl_wire_json_add_timestamp(o, "ServerTimestamp", f->server_ms);
        cJSON_AddNumberToObject(o, "FragmentLengthInMilliseconds", (double)f->duration_ms);
        count++;
        last_seq = f->seq;
    }
    if (more) {
        char raw[128], enc[256];
        snprintf(raw, sizeof(raw), "%" PRIu64 ",%c,%lld,%lld", last_seq + 1, server ? 'S' : 'P',
                 (long long)from, (long long)to);
        if (sl_api_token_encode(raw, enc, sizeof(enc)) == 0)
            cJSON_AddStringToObject(out, "NextToken", enc);
    }
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}
