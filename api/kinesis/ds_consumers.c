/* Kinesis enhanced fan-out: RegisterStreamConsumer, DescribeStreamConsumer,
 * ListStreamConsumers, DeregisterStreamConsumer and SubscribeToShard.
 *
 * Consumers live in their stream's model entry and snapshot (CREATING -> ACTIVE -> DELETING ->
 * gone, on the status timer like streams). Consumer ARN:
 *     arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<name>:<created epoch s>
 *
 * SubscribeToShard answers 200 with Content-Type application/vnd.amazon.eventstream and streams
 * event-stream messages (ds_eventstream.c): first `initial-response` with "{}", then
 * SubscribeToShardEvent messages {Records, ContinuationSequenceNumber, MillisBehindLatest,
 * ChildShards}. A subscription is a small state machine on the loop thread:
 *
 *     pump() --(reader thread: sl_ds_read_batch)--> pumped() --+-- records: event, pump() again
 *       ^                                                      +-- none: idle event every 5 s;
 *       |                                                      |   timer 200 ms -> pump()
 *       +-- on_writable (output queue was above 1 MiB)         +-- end of a closed shard: last
 *                                                                  event with ChildShards, end
 * After 5 minutes the stream ends and the client resubscribes. Errors met mid-stream
 * (stream/consumer deleted, read failure, another subscription taking over after 5 s) are sent
 * as exception messages before the end. ContinuationSequenceNumber is the number of the last
 * record delivered, or, before any, a counter naming the current position (ds_seqno.h), so that
 * a resubscription AFTER_SEQUENCE_NUMBER it continues exactly there. Each event carries at most
 * 1 MiB of data (the per-consumer budget is 2 MiB/s; no finer throttling is done). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_eventstream.h"
#include "ds_service.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define LIST_CONSUMERS_MAX 100
#define SUB_DURATION_MS    300000
#define SUB_IDLE_EVENT_MS  5000
#define SUB_POLL_MS        200
#define SUB_EVENT_BYTES    ((size_t)1 << 20)
#define SUB_QUEUE_BYTES    ((size_t)1 << 20)
#define SUB_TAKEOVER_MS    5000

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

static int64_t mono_ms(void)
{
    return sl_time_mono_ns() / 1000000;
}

static void consumer_arn(const sl_ds_model *m, const sl_ds_stream *s, const sl_ds_consumer *c,
                         char *out, size_t cap)
{
    char sarn[300];
    sl_ds_stream_arn(m, s, sarn, sizeof(sarn));
    snprintf(out, cap, "%s/consumer/%s:%lld", sarn, c->name, (long long)(c->created_ms / 1000));
}

/* Splits "arn:aws:kinesis:R:A:stream/S/consumer/N:T". Returns 0 or -1. */
static int parse_consumer_arn(const char *arn, char region[64], char account[16], char stream[129],
                              char name[129], long long *ts)
{
    const char *p = arn;
    if (strncmp(p, "arn:aws:kinesis:", 16) != 0)
        return -1;
    p += 16;
    const char *c1 = strchr(p, ':');
    if (!c1 || (size_t)(c1 - p) >= 64)
        return -1;
    memcpy(region, p, (size_t)(c1 - p));
    region[c1 - p] = '\0';
    p = c1 + 1;
    const char *c2 = strchr(p, ':');
    if (!c2 || (size_t)(c2 - p) >= 16)
        return -1;
    memcpy(account, p, (size_t)(c2 - p));
    account[c2 - p] = '\0';
    p = c2 + 1;
    if (strncmp(p, "stream/", 7) != 0)
        return -1;
    p += 7;
    const char *slash = strstr(p, "/consumer/");
    if (!slash || slash == p || (size_t)(slash - p) > 128)
        return -1;
    memcpy(stream, p, (size_t)(slash - p));
    stream[slash - p] = '\0';
    p = slash + 10;
    const char *colon = strrchr(p, ':');
    if (!colon || colon == p || (size_t)(colon - p) > 128 || !colon[1])
        return -1;
    memcpy(name, p, (size_t)(colon - p));
    name[colon - p] = '\0';
    char *end;
    *ts = strtoll(colon + 1, &end, 10);
    return *end ? -1 : 0;
}

/* The consumer named by ConsumerARN, or StreamARN + ConsumerName; NULL after answering. */
static sl_ds_consumer *consumer_or_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream **sp)
{
    const char *carn = sl_ds_in_str(call->input, "ConsumerARN");
    const char *cname = sl_ds_in_str(call->input, "ConsumerName");
    const char *sarn = sl_ds_in_str(call->input, "StreamARN");
    char region[64], account[16], stream[129], name[129];
    long long ts = -1;
    sl_ds_err e;

    if (carn) {
        if (parse_consumer_arn(carn, region, account, stream, name, &ts) != 0) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid ConsumerARN %s.",
                          carn);
            goto fail;
        }
        if (strcmp(region, m->region) != 0 || strcmp(account, m->account) != 0)
            goto missing;
    } else if (sarn && cname) {
        const char *slash = strstr(sarn, ":stream/");
        if (!slash || strlen(slash + 8) > 128)
            goto missing;
        snprintf(stream, sizeof(stream), "%s", slash + 8);
        snprintf(name, sizeof(name), "%s", cname);
    } else {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "Either ConsumerARN or both StreamARN and ConsumerName must be provided.");
        goto fail;
    }
    sl_ds_stream *s = sl_ds_model_find(m, stream);
    sl_ds_consumer *c = s ? sl_ds_stream_find_consumer(s, name) : NULL;
    if (!c || (ts >= 0 && c->created_ms / 1000 != ts))
        goto missing;
    *sp = s;
    return c;
missing:
    sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                  "Consumer %s under account %s not found.", carn ? carn : (cname ? cname : "?"),
                  m->account);
fail:
    sl_ds_reply_err(call, &e);
    return NULL;
}

static cJSON *consumer_json(const sl_ds_model *m, const sl_ds_stream *s, const sl_ds_consumer *c,
                            int with_stream)
{
    char arn[600];
    cJSON *o = cJSON_CreateObject();
    consumer_arn(m, s, c, arn, sizeof(arn));
    int bad = !o || !cJSON_AddStringToObject(o, "ConsumerName", c->name);
    bad |= bad || !cJSON_AddStringToObject(o, "ConsumerARN", arn);
    bad |=
        bad || !cJSON_AddStringToObject(o, "ConsumerStatus", sl_ds_consumer_status_name(c->status));
    bad |= bad || sl_wire_json_add_timestamp(o, "ConsumerCreationTimestamp", c->created_ms);
    if (!bad && with_stream) {
        char sarn[300];
        sl_ds_stream_arn(m, s, sarn, sizeof(sarn));
        bad |= !cJSON_AddStringToObject(o, "StreamARN", sarn);
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void sl_kinesis_register_stream_consumer(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 1) : NULL;
    sl_ds_consumer *c;
    sl_ds_err e;
    if (!s)
        return;
    if (sl_ds_stream_add_consumer(m, s, sl_ds_in_str(call->input, "ConsumerName"), now_ms(), &c,
                                  &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    char name[129];
    snprintf(name, sizeof(name), "%s", c->name);
    cJSON *out = cJSON_CreateObject(), *cj = consumer_json(m, s, c, 0);
    if (!out || !cj || !cJSON_AddItemToObject(out, "Consumer", cj)) {
        cJSON_Delete(out);
        cJSON_Delete(cj);
        sl_ds_stream_remove_consumer(s, name);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    sl_ds_persist_and_reply(call, m, s, out);
    sl_ds_schedule_consumer_transition(m, s, name);
}

void sl_kinesis_describe_stream_consumer(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = NULL;
    sl_ds_consumer *c = m ? consumer_or_reply(call, m, &s) : NULL;
    if (!c)
        return;
    cJSON *out = cJSON_CreateObject(), *cj = consumer_json(m, s, c, 1);
    if (!out || !cj || !cJSON_AddItemToObject(out, "ConsumerDescription", cj)) {
        cJSON_Delete(cj);
        sl_wire_call_error_code(call, SL_ENOMEM);
    } else {
        sl_wire_reply_ok(call, out);
    }
    cJSON_Delete(out);
}

void sl_kinesis_list_stream_consumers(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    const char *token = sl_ds_in_str(call->input, "NextToken");
    double max_d = sl_ds_in_num(call->input, "MaxResults", LIST_CONSUMERS_MAX);
    size_t max = max_d < LIST_CONSUMERS_MAX ? (size_t)max_d : LIST_CONSUMERS_MAX, from = 0;
    int64_t now = now_ms();
    sl_ds_err e;
    if (token) {
        sl_ds_token t;
        if (sl_ds_token_open(sl_ds_key(), token, strlen(token), &t) != 0 ||
            t.kind != SL_DS_TOKEN_LIST_CONSUMERS || strcmp(t.stream, s->name) != 0 ||
            t.stream_created_ms != s->created_ms) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid NextToken.");
            sl_ds_reply_err(call, &e);
            return;
        }
        if (sl_ds_token_expired(t.issued_ms, now)) {
            sl_ds_err_set(&e, SL_EINVAL, "ExpiredNextTokenException",
                          "The timestamp in the NextToken has expired. NextToken is valid for "
                          "300 seconds.");
            sl_ds_reply_err(call, &e);
            return;
        }
        from = t.shard_index;
    }
    cJSON *out = cJSON_CreateObject(), *arr = out ? cJSON_AddArrayToObject(out, "Consumers") : NULL;
    int bad = !arr;
    for (size_t i = from; !bad && i < s->n_consumers; i++) {
        if (i - from == max) {
            sl_ds_token t;
            char enc[SL_DS_TOKEN_MAX_CHARS + 1];
            memset(&t, 0, sizeof(t));
            t.kind = SL_DS_TOKEN_LIST_CONSUMERS;
            snprintf(t.stream, sizeof(t.stream), "%s", s->name);
            t.stream_created_ms = s->created_ms;
            t.shard_index = (uint32_t)i;
            t.issued_ms = now;
            bad |= sl_ds_token_seal(sl_ds_key(), &t, enc) < 0 ||
                   !cJSON_AddStringToObject(out, "NextToken", enc);
            break;
        }
        cJSON *o = consumer_json(m, s, &s->consumers[i], 0);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            bad = 1;
        }
    }
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_kinesis_deregister_stream_consumer(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = NULL;
    sl_ds_consumer *c = m ? consumer_or_reply(call, m, &s) : NULL;
    if (!c)
        return;
    char name[129];
    snprintf(name, sizeof(name), "%s", c->name);
    c->status = SL_DS_CONSUMER_DELETING;
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_consumer_transition(m, s, name);
}

/* ---- SubscribeToShard --------------------------------------------------------------------- */

typedef struct sub sub;
struct sub {
    sl_exchange *ex; /* referenced */
    char region[32];
    char stream[129];
    char consumer[129];
    int64_t stream_created_ms, consumer_created_ms;
    sl_ds_shard shard; /* copy of index and created_ms */
    sl_log *log;
    uint64_t pos;
    uint8_t flags;
    int resolved;                  /* pos is a log offset now */
    char cont[SL_DS_SEQNO_STRLEN]; /* last delivered record's number, "" before any */
    int64_t started_mono_ms, last_event_mono_ms;
    int reading, ended, waiting_writable;
    void *timer;
    /* the read in flight */
    int64_t cutoff_ms;
    int closed;
    cJSON *records;
    sl_ds_batch batch;
    int rc;
    sub *next; /* active subscriptions */
};

static sub *active; /* loop thread */

static void sub_pump(void *arg);

static void sub_unlink(sub *s)
{
    for (sub **pp = &active; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    s->next = NULL;
}

static void sub_maybe_free(sub *s)
{
    if (!s->ended || s->reading || s->timer)
        return;
    sub_unlink(s);
    if (s->ex) {
        sl_exchange_set_ops(s->ex, NULL, NULL);
        sl_exchange_unref(s->ex);
    }
    cJSON_Delete(s->records);
    free(s);
}

/* Sends an optional exception message, ends the response and lets s go. */
static void sub_finish(sub *s, const char *exc_type, const char *exc_msg)
{
    if (s->ended)
        return;
    s->ended = 1;
    if (s->timer) {
        sl_loop_timer_cancel(s->timer);
        s->timer = NULL;
    }
    if (sl_exchange_is_open(s->ex)) {
        if (exc_type) {
            sl_buf b = SL_BUF_INIT;
            if (sl_ds_es_exception(&b, exc_type, exc_msg) == 0)
                sl_exchange_write(s->ex, b.data, b.len);
            sl_buf_cleanup(&b);
        }
        sl_exchange_end(s->ex);
    }
    sub_maybe_free(s);
}

static void sub_on_writable(sl_exchange *ex, void *ud)
{
    sub *s = ud;
    (void)ex;
    if (s->waiting_writable) {
        s->waiting_writable = 0;
        sub_pump(s);
    }
}

static void sub_on_close(sl_exchange *ex, void *ud, int aborted)
{
    sub *s = ud;
    (void)ex;
    (void)aborted;
    if (!s->ended) {
        s->ended = 1;
        if (s->timer) {
            sl_loop_timer_cancel(s->timer);
            s->timer = NULL;
        }
    }
    sub_maybe_free(s);
}

static const sl_exchange_ops sub_ops = {
    .on_writable = sub_on_writable,
    .on_close = sub_on_close,
};

static void sub_timer_fired(void *arg)
{
    sub *s = arg;
    s->timer = NULL;
    if (s->ended)
        sub_maybe_free(s);
    else
        sub_pump(s);
}

/* Reader thread. */
static void sub_read(void *arg)
{
    sub *s = arg;
    s->rc = 0;
    if (!s->resolved) {
        s->rc = sl_ds_resolve_start(s->log, s->pos, s->flags, &s->pos);
        if (s->rc)
            return;
        s->resolved = 1;
    }
    s->records = cJSON_CreateArray();
    if (!s->records) {
        s->rc = SL_ENOMEM;
        return;
    }
    s->rc = sl_ds_read_batch(s->log, &s->shard, s->cutoff_ms, 10000, SUB_EVENT_BYTES, &s->pos,
                             s->records, &s->batch);
}

static int sub_send_event(sub *s, int final, const sl_ds_stream *st)
{
    cJSON *ev = cJSON_CreateObject();
    char *text = NULL;
    sl_buf b = SL_BUF_INIT;
    int rc = SL_ENOMEM;
    if (!ev)
        goto out;
    cJSON_AddItemToObject(ev, "Records", s->records);
    s->records = NULL;
    if (s->batch.n > 0) {
        cJSON *last = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ev, "Records"),
                                         (int)s->batch.n - 1);
        const char *seq = sl_ds_in_str(last, "SequenceNumber");
        if (seq)
            snprintf(s->cont, sizeof(s->cont), "%s", seq);
    }
    if (!final) {
        char marker[SL_DS_SEQNO_STRLEN];
        if (!s->cont[0] || s->batch.n == 0) {
            /* Nothing new delivered: name the position reached (ds_seqno.h). */
            sl_ds_format_seq(&s->shard, s->pos, now_ms(), marker);
            if (!s->cont[0] || s->batch.n == 0)
                snprintf(s->cont, sizeof(s->cont), "%s", marker);
        }
        if (!cJSON_AddStringToObject(ev, "ContinuationSequenceNumber", s->cont))
            goto out;
    }
    if (!cJSON_AddNumberToObject(ev, "MillisBehindLatest", (double)s->batch.behind_ms))
        goto out;
    if (final) {
        cJSON *kids = sl_ds_child_shards(st, s->shard.index);
        if (!kids || !cJSON_AddItemToObject(ev, "ChildShards", kids)) {
            cJSON_Delete(kids);
            goto out;
        }
    }
    if (!(text = cJSON_PrintUnformatted(ev)))
        goto out;
    if ((rc = sl_ds_es_event(&b, "SubscribeToShardEvent", text, strlen(text))) == 0)
        rc = sl_exchange_write(s->ex, b.data, b.len);
    s->last_event_mono_ms = mono_ms();
out:
    sl_buf_cleanup(&b);
    free(text);
    cJSON_Delete(ev);
    return rc;
}

/* Loop thread, after sub_read. */
static void sub_read_done(void *arg)
{
    sub *s = arg;
    s->reading = 0;
    if (s->ended || !sl_exchange_is_open(s->ex)) {
        s->ended = 1;
        cJSON_Delete(s->records);
        s->records = NULL;
        sub_maybe_free(s);
        return;
    }
    sl_ds_model *m = sl_ds_model_of(s->region);
    sl_ds_stream *st = m ? sl_ds_model_find(m, s->stream) : NULL;
    if (s->rc) {
        cJSON_Delete(s->records);
        s->records = NULL;
        if (s->rc == SL_ENOTFOUND || !st)
            sub_finish(s, "ResourceNotFoundException", "The stream or shard no longer exists.");
        else if (s->rc == SL_EINVAL)
            sub_finish(s, "InvalidArgumentException", "Invalid StartingPosition.");
        else if (s->rc == SL_EKMS_NOTFOUND || s->rc == SL_EKMS_INVALID_STATE)
            sub_finish(
                s, s->rc == SL_EKMS_NOTFOUND ? "KMSNotFoundException" : "KMSInvalidStateException",
                "The KMS key that encrypted a record is not usable.");
        else
            sub_finish(s, "InternalFailure", "Internal Service Failure");
        return;
    }
    int final = s->closed && s->batch.at_end;
    int64_t now = mono_ms();
    if (s->batch.n > 0 || final || now - s->last_event_mono_ms >= SUB_IDLE_EVENT_MS) {
        if (sub_send_event(s, final, st) != 0) {
            sub_finish(s, "InternalFailure", "Internal Service Failure");
            return;
        }
    } else {
        cJSON_Delete(s->records);
        s->records = NULL;
    }
    if (final) {
        sub_finish(s, NULL, NULL);
        return;
    }
    if (s->batch.n > 0 && !s->batch.at_end)
        sub_pump(s);
    else if (!(s->timer = sl_loop_timer_add(SUB_POLL_MS, sub_timer_fired, s)))
        sub_finish(s, "InternalFailure", "Internal Service Failure");
}

static void sub_pump(void *arg)
{
    sub *s = arg;
    if (s->ended || s->reading)
        return;
    if (mono_ms() - s->started_mono_ms >= SUB_DURATION_MS) {
        sub_finish(s, NULL, NULL);
        return;
    }
    if (sl_exchange_queued_bytes(s->ex) > SUB_QUEUE_BYTES) {
        s->waiting_writable = 1;
        sl_exchange_want_writable(s->ex);
        return;
    }
    sl_ds_model *m = sl_ds_model_of(s->region);
    sl_ds_stream *st = m ? sl_ds_model_find(m, s->stream) : NULL;
    sl_ds_consumer *c = st ? sl_ds_stream_find_consumer(st, s->consumer) : NULL;
    if (!st || st->created_ms != s->stream_created_ms || st->status == SL_DS_DELETING || !c ||
        c->created_ms != s->consumer_created_ms || c->status != SL_DS_CONSUMER_ACTIVE) {
        sub_finish(s, "ResourceNotFoundException",
                   "The stream or consumer of this subscription no longer exists.");
        return;
    }
    const sl_ds_shard *sh = &st->shards[s->shard.index];
    s->closed = sh->closed_ms != 0 && sh->inflight == 0;
    s->cutoff_ms = now_ms() - sl_ds_retention_ms(st);
    s->reading = 1;
    if (sl_ds_reader_submit(sub_read, sub_read_done, s) != 0) {
        s->reading = 0;
        sub_finish(s, "InternalFailure", "Internal Service Failure");
    }
}

void sl_kinesis_subscribe_to_shard(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *st = NULL;
    sl_ds_consumer *c = m ? consumer_or_reply(call, m, &st) : NULL;
    sl_ds_err e;
    if (!c)
        return;
    if (st->status != SL_DS_ACTIVE && st->status != SL_DS_UPDATING) {
        sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "Stream %s under account %s not found.", st->name, m->account);
        sl_ds_reply_err(call, &e);
        return;
    }
    if (c->status != SL_DS_CONSUMER_ACTIVE) {
        char arn[600];
        consumer_arn(m, st, c, arn, sizeof(arn));
        sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                      "Consumer %s is not ACTIVE, instead in state %s", arn,
                      sl_ds_consumer_status_name(c->status));
        sl_ds_reply_err(call, &e);
        return;
    }
    sl_ds_shard *sh = sl_ds_shard_or_reply(call, m, st, sl_ds_in_str(call->input, "ShardId"));
    if (!sh)
        return;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(call->input, "StartingPosition");
    uint64_t position;
    uint8_t flags;
    if (sl_ds_start_position(m, st, sh, "SubscribeToShard", sl_ds_in_str(sp, "Type"),
                             sl_ds_in_str(sp, "SequenceNumber"),
                             cJSON_GetObjectItemCaseSensitive(sp, "Timestamp"), &position, &flags,
                             &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    /* One subscription per (consumer, shard): refuse within 5 s, else take over. */
    for (sub *o = active; o; o = o->next) {
        if (o->ended || strcmp(o->region, m->region) || strcmp(o->stream, st->name) ||
            strcmp(o->consumer, c->name) || o->shard.index != sh->index)
            continue;
        char arn[600];
        consumer_arn(m, st, c, arn, sizeof(arn));
        if (mono_ms() - o->started_mono_ms < SUB_TAKEOVER_MS) {
            sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                          "Another active subscription exists for this consumer: %s", arn);
            sl_ds_reply_err(call, &e);
            return;
        }
        sub_finish(o, "ResourceInUseException",
                   "Another subscription was started for this consumer and shard.");
        break;
    }
    sub *s = calloc(1, sizeof(*s));
    if (!s) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    s->ex = call->ex;
    snprintf(s->region, sizeof(s->region), "%s", m->region);
    snprintf(s->stream, sizeof(s->stream), "%s", st->name);
    snprintf(s->consumer, sizeof(s->consumer), "%s", c->name);
    s->stream_created_ms = st->created_ms;
    s->consumer_created_ms = c->created_ms;
    s->shard.index = sh->index;
    s->shard.created_ms = sh->created_ms;
    s->log = sh->log;
    s->pos = position;
    s->flags = flags;
    s->started_mono_ms = s->last_event_mono_ms = mono_ms();

    sl_http_header h[1] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/vnd.amazon.eventstream")},
    };
    sl_buf b = SL_BUF_INIT;
    int rc = sl_ds_es_event(&b, "initial-response", "{}", 2);
    if (rc == 0)
        rc = sl_exchange_start(call->ex, 200, h, 1);
    if (rc == 0)
        rc = sl_exchange_write(call->ex, b.data, b.len);
    sl_buf_cleanup(&b);
    if (rc) {
        free(s);
        sl_exchange_end(call->ex);
        return;
    }
    sl_exchange_ref(call->ex);
    sl_exchange_set_ops(call->ex, &sub_ops, s);
    s->next = active;
    active = s;
    sub_pump(s);
}
