/* The delivery worker: one thread per gateway that turns intake logs into objects / HTTP
 * requests, off the loop thread.
 *
 * Each round (at most every 100 ms, or at once when sl_fh_worker_kick() is called after a put is
 * durable or a configuration changed) the worker copies, under sl_fh_lock, the list of ACTIVE
 * delivery streams with a snapshot of their destination configuration, then for each stream:
 *   1. reads new durable records from its intake log (sl_log_read_many) into the stream's
 *      buffer until the buffer holds BufferingHints.SizeInMBs (an HTTP batch also stops at
 *      10 000 records);
 *   2. when the buffer is full or its oldest record has waited IntervalInSeconds (0: as soon
 *      as anything is buffered), prepares the batch once (prepare(): the Lambda processor, if
 *      any, is invoked in chunks of <= 3 MiB, NumberOfRetries + 1 attempts each; Dropped
 *      records vanish, ProcessingFailed ones and those of failed invocations are written to the
 *      error output as processing-failed) and delivers it;
 *   3. after the destination confirmed the object (local folder: file fsynced and renamed; S3:
 *      200 to the PUT; HTTP: 200 with the echoed requestId), writes the log offset after the
 *      last delivered record to fh_progress through the storage writer (sl_writer_run_sync: the
 *      worker waits for the commit), then drops whole log segments below it.
 * A restart resumes from fh_progress, so every acknowledged record is delivered at least once;
 * a crash between 3's object write and its checkpoint delivers that object again (AWS documents
 * the same duplicates).
 *
 * Failures: an S3 write that fails is retried with backoff (1 s doubling to 30 s) for as long as
 * the records stay in the intake log. An HTTP endpoint attempt that fails is retried with
 * exponential backoff (1 s x 2^k, +-15 % jitter, at most 120 s) with the same
 * X-Amz-Firehose-Request-Id until RetryOptions.DurationInSeconds has passed since the first
 * failure; then the batch is written as JSON error records to S3Configuration under the
 * error prefix (http-endpoint-failed). A 413 answer is permanent: the batch is dropped (logged),
 * as AWS does. S3BackupMode AllData (HTTP) / Enabled (S3) also writes the source records to the
 * backup bucket before the checkpoint.
 *
 * Limitation: one thread serves every delivery stream in turn, so a slow HTTP endpoint (up to
 * the per-attempt timeout) delays the others. */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/base64.h"
#include "../api_int.h"
#include "../kinesis/ds_crypt.h"
#include "fh.h"
#include "sluice/log.h"
#include "sluice/time.h"

#define ROUND_MS         100
#define READ_ITEMS       512
#define READ_BYTES       (1u << 20)
#define HTTP_MAX_RECORDS 10000

/* Read position in one source shard (Kinesis-sourced streams). */
typedef struct wcursor {
    uint32_t shard;
    uint64_t pos;
} wcursor;

/* One partition of a dynamically partitioned batch: records with the same evaluated prefix. */
typedef struct wgroup {
    char *prefix; /* owned */
    size_t *idx;  /* indexes into wstate.out; owned */
    size_t n, cap;
    int done; /* object written */
} wgroup;

typedef struct wstate {
    char region[32];
    char name[SL_FH_NAME_MAX + 1];
    int64_t created_ms;
    char log_name[300];
    sl_log *log;
    uint64_t read_pos; /* next offset to read */
    sl_buf data;       /* raw record bytes, concatenated */
    size_t *starts;    /* per record: start in data */
    size_t *lens;
    int64_t *ts_ms;
    size_t n, cap;
    int64_t oldest_ms;
    /* retry state of the current batch */
    int64_t next_try_ms;
    int attempts;
    int64_t first_fail_ms;
    char request_id[37];
    int phase; /* 0: main delivery pending; 1: main done, backup pending */
    /* The batch as it will be delivered (after the Lambda processor); prepared once per batch
     * so retries resend exactly the same bytes. */
    int prepared;
    sl_buf xdata;   /* transformed bytes (Lambda) */
    sl_fh_rec *out; /* records to deliver: into data or xdata */
    size_t n_out;
    cJSON **lkeys;  /* per out record: Lambda partitionKeys (owned) or NULL */
    wgroup *groups; /* dynamic partitioning: one per active partition */
    size_t n_groups;
    char last_error[512];
    char last_code[64];
    int seen; /* marked each round while its stream exists */
    /* Kinesis source: one cursor per shard met so far */
    int kinesis_source;
    int64_t start_ms; /* DeliveryStartTimestamp */
    wcursor *cur;
    size_t n_cur;
} wstate;

typedef struct snap {
    char region[32];
    char name[SL_FH_NAME_MAX + 1];
    int64_t created_ms;
    sl_log *log;
    uint64_t delivered_offset;
    sl_fh_dest dest;
    int kinesis_source;
    int source_missing;
    sl_fh_shard *shards; /* owned copy */
    size_t n_shards;
    sl_fh_cursor *cursors; /* owned copy of the loaded checkpoint */
    size_t n_cursors;
} snap;

static struct {
    pthread_t thr;
    int up;
    int stop;
    int kicked;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wstate **ws;
    size_t n_ws;
} wk = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void sl_fh_worker_kick(void)
{
    pthread_mutex_lock(&wk.mu);
    wk.kicked = 1;
    pthread_cond_signal(&wk.cv);
    pthread_mutex_unlock(&wk.mu);
}

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

static void ws_reset_batch(wstate *w)
{
    sl_buf_reset(&w->data);
    w->n = 0;
    w->oldest_ms = 0;
    w->attempts = 0;
    w->first_fail_ms = 0;
    w->next_try_ms = 0;
    w->request_id[0] = '\0';
    w->phase = 0;
    w->prepared = 0;
    sl_buf_reset(&w->xdata);
    for (size_t i = 0; w->lkeys && i < w->n_out; i++)
        cJSON_Delete(w->lkeys[i]);
    free(w->lkeys);
    w->lkeys = NULL;
    w->n_out = 0;
    for (size_t i = 0; i < w->n_groups; i++) {
        free(w->groups[i].prefix);
        free(w->groups[i].idx);
    }
    free(w->groups);
    w->groups = NULL;
    w->n_groups = 0;
}

static void ws_free(wstate *w)
{
    ws_reset_batch(w);
    sl_buf_cleanup(&w->data);
    sl_buf_cleanup(&w->xdata);
    free(w->out);
    free(w->cur);
    free(w->starts);
    free(w->lens);
    free(w->ts_ms);
    free(w);
}

static wstate *ws_get(const snap *s)
{
    for (size_t i = 0; i < wk.n_ws; i++) {
        wstate *w = wk.ws[i];
        if (w->created_ms == s->created_ms && strcmp(w->name, s->name) == 0 &&
            strcmp(w->region, s->region) == 0)
            return w;
    }
    wstate *w = calloc(1, sizeof(*w));
    wstate **g = realloc(wk.ws, (wk.n_ws + 1) * sizeof(*g));
    if (!w || !g) {
        free(w);
        if (g)
            wk.ws = g;
        return NULL;
    }
    wk.ws = g;
    snprintf(w->region, sizeof(w->region), "%s", s->region);
    snprintf(w->name, sizeof(w->name), "%s", s->name);
    w->created_ms = s->created_ms;
    w->log = s->log;
    snprintf(w->log_name, sizeof(w->log_name), "%s", sl_log_name(s->log));
    w->read_pos = s->delivered_offset;
    w->kinesis_source = s->kinesis_source;
    w->start_ms = s->created_ms;
    if (s->n_cursors && (w->cur = calloc(s->n_cursors, sizeof(*w->cur)))) {
        for (size_t i = 0; i < s->n_cursors; i++)
            w->cur[i] = (wcursor){s->cursors[i].shard, s->cursors[i].offset};
        w->n_cur = s->n_cursors;
    }
    wk.ws[wk.n_ws++] = w;
    return w;
}

static int ws_push(wstate *w, const char *p, size_t len, int64_t ts_ms)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        size_t *s = realloc(w->starts, cap * sizeof(*s));
        if (s)
            w->starts = s;
        size_t *l = realloc(w->lens, cap * sizeof(*l));
        if (l)
            w->lens = l;
        int64_t *t = realloc(w->ts_ms, cap * sizeof(*t));
        if (t)
            w->ts_ms = t;
        if (!s || !l || !t)
            return SL_ENOMEM;
        w->cap = cap;
    }
    w->starts[w->n] = w->data.len;
    w->lens[w->n] = len;
    w->ts_ms[w->n] = ts_ms;
    if (sl_buf_append(&w->data, p, len))
        return SL_ENOMEM;
    if (w->n == 0 || ts_ms < w->oldest_ms)
        w->oldest_ms = ts_ms;
    w->n++;
    return 0;
}

/* Step 1. Returns 0, or SL_ENOTFOUND when the log was dropped. */
static int fill(wstate *w, const sl_fh_dest *d, sl_buf *tmp)
{
    sl_log_item items[READ_ITEMS];
    if (w->phase || w->first_fail_ms || w->prepared)
        return 0; /* a batch is being delivered or retried: keep it as it is */
    size_t max_records = d->kind == SL_FH_DEST_HTTP ? HTTP_MAX_RECORDS : (size_t)-1;
    while (w->data.len < d->size_bytes && w->n < max_records) {
        size_t n = 0;
        size_t want = max_records - w->n < READ_ITEMS ? max_records - w->n : READ_ITEMS;
        int rc = sl_log_read_many(w->log, w->read_pos, READ_BYTES, items, want, tmp, &n);
        if (rc == SL_EAGAIN)
            return 0;
        if (rc == SL_ERANGE) {
            uint64_t first = sl_log_first_offset(w->log);
            sl_warn("firehose", "%s: records before offset %llu were removed before delivery",
                    w->name, (unsigned long long)first);
            w->read_pos = first;
            continue;
        }
        if (rc == SL_ENOTFOUND)
            return rc;
        if (rc) {
            sl_error("firehose", "%s: reading the intake log: %s", w->name, sl_err_str(rc));
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            if (ws_push(w, items[i].payload, items[i].e.len, items[i].e.ts_ns / 1000000)) {
                sl_error("firehose", "%s: out of memory buffering records", w->name);
                return 0;
            }
            w->read_pos = items[i].e.next_offset;
        }
    }
    return 0;
}

/* Cursor of shard sh, created at the DeliveryStartTimestamp position when first met (a disk
 * read: worker thread). NULL on ENOMEM or a log error. */
static wcursor *cursor_of(wstate *w, const sl_fh_shard *sh)
{
    for (size_t i = 0; i < w->n_cur; i++) {
        if (w->cur[i].shard == sh->index)
            return &w->cur[i];
    }
    uint64_t pos = 0;
    int rc = sl_log_seek_ts(sh->log, w->start_ms * 1000000, &pos);
    if (rc && rc != SL_ENOTFOUND) {
        sl_error("firehose", "%s: seeking shard %u: %s", w->name, sh->index, sl_err_str(rc));
        return NULL;
    }
    wcursor *g = realloc(w->cur, (w->n_cur + 1) * sizeof(*g));
    if (!g)
        return NULL;
    w->cur = g;
    w->cur[w->n_cur] = (wcursor){sh->index, pos};
    return &w->cur[w->n_cur++];
}

static const sl_fh_shard *shard_of(const snap *s, uint32_t index)
{
    for (size_t i = 0; i < s->n_shards; i++) {
        if (s->shards[i].index == index)
            return &s->shards[i];
    }
    return NULL;
}

/* A shard is read once its parents are read to their end (per-key order across resharding). */
static int parents_done(wstate *w, const snap *s, const sl_fh_shard *sh)
{
    uint32_t parents[2] = {sh->parent, sh->adjacent};
    for (int k = 0; k < 2; k++) {
        const sl_fh_shard *p = parents[k] == UINT32_MAX ? NULL : shard_of(s, parents[k]);
        if (!p)
            continue;
        wcursor *c = cursor_of(w, p);
        if (!p->closed || !c || c->pos < p->end_offset)
            return 0;
    }
    return 1;
}

/* Step 1 for a Kinesis-sourced stream: records of every readable shard, in shard order, each
 * entry's partition-key header (u16 length + key) stripped. */
static void fill_kinesis(wstate *w, const snap *s, sl_buf *tmp)
{
    sl_log_item items[READ_ITEMS];
    if (w->phase || w->first_fail_ms || w->prepared || s->source_missing)
        return;
    for (int progress = 1; progress && w->data.len < s->dest.size_bytes;) {
        progress = 0;
        for (size_t i = 0; i < s->n_shards && w->data.len < s->dest.size_bytes; i++) {
            const sl_fh_shard *sh = &s->shards[i];
            if (!parents_done(w, s, sh))
                continue;
            wcursor *c = cursor_of(w, sh);
            if (!c)
                continue;
            size_t n = 0;
            int rc = sl_log_read_many(sh->log, c->pos, READ_BYTES, items, READ_ITEMS, tmp, &n);
            if (rc == SL_ERANGE) {
                c->pos = sl_log_first_offset(sh->log);
                sl_warn("firehose", "%s: shard %u: records expired before delivery", w->name,
                        sh->index);
                progress = 1;
                continue;
            }
            if (rc)
                continue; /* SL_EAGAIN: nothing new; others logged by the next attempt */
            for (size_t k = 0; k < n; k++) {
                uint8_t *p = (uint8_t *)items[k].payload; /* inside tmp: ours to change */
                size_t len = items[k].e.len;
                /* A record of an encrypted stream is opened in place (api/kinesis/ds_crypt.h);
                 * one that cannot be (key lost) stops this round here; the next one retries. */
                int orc = sl_ds_crypt_is_sealed(p, len)
                              ? sl_ds_crypt_open(sl_ds_crypt_ring(), sl_log_name(sh->log),
                                                 items[k].e.ts_ns / 1000000, p, &len)
                              : 0;
                if (orc) {
                    sl_error("firehose",
                             "%s: shard %u: cannot open the encrypted record at %llu: %s", w->name,
                             sh->index, (unsigned long long)items[k].e.offset, sl_err_str(orc));
                    return;
                }
                size_t klen = len >= 2 ? (size_t)(p[0] << 8 | p[1]) : 0;
                if (len >= 2 + klen && ws_push(w, (const char *)p + 2 + klen, len - 2 - klen,
                                               items[k].e.ts_ns / 1000000)) {
                    sl_error("firehose", "%s: out of memory buffering records", w->name);
                    return;
                }
                c->pos = items[k].e.next_offset;
            }
            progress |= n > 0;
        }
    }
}

/* ---- checkpoint --------------------------------------------------------------------------- */

typedef struct ckpt {
    const char *log;
    uint64_t offset;
    const wcursor *cur; /* Kinesis source: one row "<log>#<shard>" per cursor instead */
    size_t n_cur;
} ckpt;

static int sql_ckpt(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    ckpt *c = arg;
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO;
    (void)e;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO fh_progress(log, offset) VALUES(?, ?)", -1,
                           &st, NULL) == SQLITE_OK) {
        rc = 0;
        for (size_t i = 0; rc == 0 && i < (c->cur ? c->n_cur : 1); i++) {
            char key[320];
            if (c->cur)
                snprintf(key, sizeof(key), "%s#%u", c->log, c->cur[i].shard);
            else
                snprintf(key, sizeof(key), "%s", c->log);
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)(c->cur ? c->cur[i].pos : c->offset));
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = SL_EIO;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static void checkpoint(wstate *w)
{
    ckpt c = {w->log_name, w->read_pos, w->kinesis_source ? w->cur : NULL, w->n_cur};
    if (w->kinesis_source && !w->n_cur)
        return;
    int rc = sl_writer_run_sync(sl_store_writer(sl_fh_store()), sql_ckpt, &c);
    if (rc) {
        sl_error("firehose", "%s: cannot record delivery progress: %s", w->name, sl_err_str(rc));
        return;
    }
    if (w->kinesis_source)
        return; /* the source stream's retention governs its logs */
    rc = sl_log_retain(w->log, w->read_pos, INT64_MIN, NULL);
    if (rc && rc != SL_ENOTFOUND)
        sl_warn("firehose", "%s: removing delivered segments: %s", w->name, sl_err_str(rc));
}

/* ---- building objects --------------------------------------------------------------------- */

/* The delivered bytes: the prepared records in arrival order, each followed by the delimiter
 * when the AppendDelimiterToRecord processor is on. raw: the records as received (backup). */
static int body_of(const wstate *w, const sl_fh_dest *d, int raw, sl_buf *out)
{
    if (raw)
        return sl_buf_append(out, w->data.data, w->data.len);
    for (size_t i = 0; i < w->n_out; i++) {
        sl_buf_append(out, w->out[i].data, w->out[i].len);
        if (d->append_delim_on)
            sl_buf_append(out, d->append_delim, d->append_delim_len);
    }
    return out->oom ? SL_ENOMEM : 0;
}

/* Writes body as one object of s3 (compressed as configured) under Prefix (error_type NULL) or
 * the error prefix. */
static int write_object(const wstate *w, const sl_fh_dest *d, const sl_fh_s3 *s3,
                        const char *error_type, const char *fixed_prefix, const sl_buf *body,
                        char *msg, size_t cap)
{
    sl_buf key = SL_BUF_INIT, name = SL_BUF_INIT, packed = SL_BUF_INIT;
    int rc;
    sl_fh_compression comp = error_type ? SL_FH_COMP_NONE : s3->compression;
    const char *ext = error_type          ? ""
                      : s3->has_extension ? s3->file_extension
                                          : sl_fh_compression_ext(comp);
    if (fixed_prefix)
        sl_buf_append_str(&key, fixed_prefix);
    else if ((rc = sl_fh_prefix_eval(error_type ? s3->error_prefix : s3->prefix, w->oldest_ms,
                                     error_type, &key, msg, cap)))
        goto out;
    if ((rc = sl_fh_object_name(w->name, d->version_id, now_ms(), ext, &name)))
        goto out;
    sl_buf_append(&key, name.data, name.len);
    /* The ZIP entry is named like the object, without the extension. */
    char entry[300];
    snprintf(entry, sizeof(entry), "%.*s", (int)(name.len - strlen(ext)), name.data);
    if ((rc = sl_fh_compress(comp, body->data ? body->data : "", body->len, entry, &packed)))
        goto out;
    if (key.oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    rc = sl_fh_s3_put(s3->bucket, key.data, packed.data ? packed.data : "", packed.len, msg, cap);
    sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_S3_ATTEMPTS, 1);
    if (rc == 0)
        sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_S3_SUCCESS, 1);
    if (rc == 0 && !error_type)
        sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_S3_BYTES, body->len);
    if (rc == 0)
        sl_debug("firehose", "%s: delivered %zu records (%zu bytes) to s3://%s/%s", w->name,
                 w->n_out, body->len, s3->bucket, key.data);
out:
    sl_buf_cleanup(&key);
    sl_buf_cleanup(&name);
    sl_buf_cleanup(&packed);
    return rc;
}

static int64_t backoff_ms(int attempts, int64_t cap_ms, int jitter)
{
    int64_t ms = 1000;
    for (int i = 1; i < attempts && ms < cap_ms; i++)
        ms *= 2;
    if (ms > cap_ms)
        ms = cap_ms;
    if (jitter)
        ms = ms * (85 + rand() % 31) / 100;
    return ms;
}

/* JSON error records (spec §4.1 / §6.2), one line per record, into out. lambda_arn: add
 * "lambdaArn" (processing failures); data_id: add "subsequenceNumber" and "dataId" (HTTP). */
static void error_records(const sl_fh_rec *recs, size_t n, int attempts, const char *code,
                          const char *message, const char *lambda_arn, const char *data_id,
                          sl_buf *out)
{
    int64_t now = now_ms();
    for (size_t i = 0; i < n; i++) {
        char *b64 = malloc(SL_BASE64_LEN(recs[i].len) + 1);
        if (!b64) {
            out->oom = 1;
            return;
        }
        sl_base64_encode((const uint8_t *)recs[i].data, recs[i].len, b64);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "attemptsMade", attempts);
        cJSON_AddNumberToObject(o, "arrivalTimestamp", (double)recs[i].ts_ms);
        cJSON_AddStringToObject(o, "errorCode", code);
        cJSON_AddStringToObject(o, "errorMessage", message);
        cJSON_AddNumberToObject(o, "attemptEndingTimestamp", (double)now);
        cJSON_AddStringToObject(o, "rawData", b64);
        if (lambda_arn)
            cJSON_AddStringToObject(o, "lambdaArn", lambda_arn);
        if (data_id) {
            char id[80];
            cJSON_AddNumberToObject(o, "subsequenceNumber", 0);
            snprintf(id, sizeof(id), "%s.%zu", data_id, i);
            cJSON_AddStringToObject(o, "dataId", id);
        }
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        free(b64);
        if (!line) {
            out->oom = 1;
            return;
        }
        sl_buf_append_str(out, line);
        sl_buf_append_byte(out, '\n');
        free(line);
    }
}

#define MAX_ACTIVE_PARTITIONS 500

static void drop_groups(wstate *w)
{
    for (size_t i = 0; i < w->n_groups; i++) {
        free(w->groups[i].prefix);
        free(w->groups[i].idx);
    }
    free(w->groups);
    w->groups = NULL;
    w->n_groups = 0;
}

static wgroup *group_of(wstate *w, const char *prefix)
{
    for (size_t i = 0; i < w->n_groups; i++) {
        if (strcmp(w->groups[i].prefix, prefix) == 0)
            return &w->groups[i];
    }
    if (w->n_groups >= MAX_ACTIVE_PARTITIONS)
        return NULL;
    wgroup *g = realloc(w->groups, (w->n_groups + 1) * sizeof(*g));
    if (!g)
        return NULL;
    w->groups = g;
    g = &w->groups[w->n_groups];
    memset(g, 0, sizeof(*g));
    if (!(g->prefix = strdup(prefix)))
        return NULL;
    w->n_groups++;
    return g;
}

/* Dynamic partitioning of w->out: the jq query's keys and the Lambda partitionKeys evaluate the
 * Prefix of each record; records with the same prefix form one group (one object). Records
 * whose keys cannot be found go to the error output as partitioning-failed; beyond 500 active
 * partitions, as activePartitionExceeded. Returns 1, or 0 to try again later. */
static int partition(wstate *w, const sl_fh_dest *d)
{
    sl_fh_jq *q = NULL;
    sl_buf errs = SL_BUF_INIT, over = SL_BUF_INIT, pfx = SL_BUF_INIT;
    char em[512] = "", msg[512] = "";
    int ok = 0;
    drop_groups(w);
    if (d->jq_query && sl_fh_jq_new(d->jq_query, &q, em, sizeof(em)))
        q = NULL;
    for (size_t i = 0; i < w->n_out; i++) {
        cJSON *keys = NULL;
        int rc = 0;
        if (d->jq_query)
            rc = q ? sl_fh_jq_keys(q, w->out[i].data, w->out[i].len, &keys, em, sizeof(em))
                   : SL_EINVAL;
        if (rc == 0) {
            sl_buf_reset(&pfx);
            rc = sl_fh_prefix_eval_keys(d->s3.prefix, w->oldest_ms, keys,
                                        w->lkeys ? w->lkeys[i] : NULL, &pfx, em, sizeof(em));
        }
        cJSON_Delete(keys);
        wgroup *g = rc == 0 && !pfx.oom ? group_of(w, pfx.data ? pfx.data : "") : NULL;
        if (rc == 0 && !g) {
            snprintf(em, sizeof(em), "More than %d active partitions in one batch.",
                     MAX_ACTIVE_PARTITIONS);
            error_records(&w->out[i], 1, 1, "DynamicPartitioning.ActivePartitionsExceeded", em,
                          NULL, NULL, &over);
            continue;
        }
        if (rc) {
            error_records(&w->out[i], 1, 1, "DynamicPartitioning.MetadataExtractionFailed", em,
                          NULL, NULL, &errs);
            continue;
        }
        if (g->n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 16;
            size_t *x = realloc(g->idx, cap * sizeof(*x));
            if (!x)
                goto out;
            g->idx = x;
            g->cap = cap;
        }
        g->idx[g->n++] = i;
    }
    if (errs.oom || over.oom)
        goto out;
    if (errs.len &&
        write_object(w, d, &d->s3, "partitioning-failed", NULL, &errs, msg, sizeof(msg)))
        goto out;
    if (over.len &&
        write_object(w, d, &d->s3, "activePartitionExceeded", NULL, &over, msg, sizeof(msg)))
        goto out;
    ok = 1;
out:
    if (!ok) {
        drop_groups(w);
        w->next_try_ms = now_ms() + 5000;
        sl_warn("firehose", "%s: partitioning failed, retrying: %s", w->name,
                msg[0] ? msg : "out of memory");
    }
    sl_fh_jq_free(q);
    sl_buf_cleanup(&errs);
    sl_buf_cleanup(&over);
    sl_buf_cleanup(&pfx);
    return ok;
}

#define LAMBDA_CHUNK_BYTES (3u << 20) /* raw bytes per invocation: base64 stays under 6 MB */

/* Builds w->out, the records to deliver: the raw records, or with a Lambda processor the Ok
 * results (Dropped ones vanish; ProcessingFailed ones and the records of invocations that
 * failed NumberOfRetries + 1 times go to the error output as processing-failed). Returns 1
 * when the batch is ready, 0 to try again later (error output not writable). */
static int prepare(wstate *w, const sl_fh_dest *d, const char *arn, const char *region)
{
    sl_fh_rec *raw = NULL;
    sl_fh_xform *res = NULL;
    sl_buf errs = SL_BUF_INIT;
    char err[512], msg[512] = "";
    int ok = 0, attempts = 1;
    size_t n_failed = 0;
    if (w->prepared)
        return 1;
    free(w->out);
    w->n_out = 0;
    w->out = calloc(w->n ? w->n : 1, sizeof(*w->out));
    raw = calloc(w->n ? w->n : 1, sizeof(*raw));
    res = calloc(w->n ? w->n : 1, sizeof(*res));
    if (!w->out || !raw || !res)
        goto out;
    for (size_t i = 0; i < w->n; i++)
        raw[i] = (sl_fh_rec){w->data.data + w->starts[i], w->lens[i], w->ts_ms[i]};
    if (!d->lambda_arn[0]) {
        memcpy(w->out, raw, w->n * sizeof(*raw));
        w->n_out = w->n;
        goto partition;
    }
    if (!(w->lkeys = calloc(w->n ? w->n : 1, sizeof(*w->lkeys))))
        goto out;
    sl_buf_reset(&w->xdata);
    for (size_t start = 0; start < w->n;) {
        size_t end = start, bytes = 0;
        while (end < w->n && (end == start || bytes + raw[end].len <= LAMBDA_CHUNK_BYTES))
            bytes += raw[end++].len;
        int rc = SL_EIO;
        for (attempts = 1; attempts <= d->lambda_retries + 1; attempts++) {
            size_t keep = w->xdata.len;
            rc = sl_fh_lambda_invoke(d->lambda_arn, arn, region, raw + start, end - start,
                                     &w->xdata, res + start, err, sizeof(err));
            if (rc == 0)
                break;
            w->xdata.len = keep;
            for (size_t i = start; i < end; i++) {
                cJSON_Delete(res[i].keys);
                res[i].keys = NULL;
            }
            sl_warn("firehose", "%s: Lambda %s attempt %d failed: %s", w->name, d->lambda_arn,
                    attempts, err);
        }
        if (rc) {
            attempts--;
            error_records(raw + start, end - start, attempts, "Lambda.FunctionError", err,
                          d->lambda_arn, NULL, &errs);
            n_failed += end - start;
            for (size_t i = start; i < end; i++)
                res[i].result = -1;
        } else {
            for (size_t i = start; i < end; i++) {
                if (res[i].result == SL_FH_X_FAILED) {
                    error_records(raw + i, 1, attempts, "Lambda.ProcessingFailedStatus",
                                  "The Lambda function returned ProcessingFailed for this "
                                  "record.",
                                  d->lambda_arn, NULL, &errs);
                    n_failed++;
                }
            }
        }
        start = end;
    }
    if (errs.oom)
        goto out;
    if (errs.len &&
        write_object(w, d, &d->s3, "processing-failed", NULL, &errs, msg, sizeof(msg))) {
        w->next_try_ms = now_ms() + 5000;
        sl_warn("firehose", "%s: writing processing-failed records failed: %s", w->name, msg);
        goto out;
    }
    if (n_failed)
        sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_PROCESSING_FAILED, n_failed);
    for (size_t i = 0; i < w->n; i++) {
        if (res[i].result == SL_FH_X_OK) {
            w->lkeys[w->n_out] = res[i].keys;
            res[i].keys = NULL;
            w->out[w->n_out++] = (sl_fh_rec){w->xdata.data + res[i].off, res[i].len, raw[i].ts_ms};
        }
    }
partition:
    if (d->dynamic_partitioning && !partition(w, d))
        goto out;
    ok = 1;
out:
    w->prepared = ok;
    for (size_t i = 0; res && i < w->n; i++)
        cJSON_Delete(res[i].keys);
    free(raw);
    free(res);
    sl_buf_cleanup(&errs);
    return ok;
}

/* Step 2 and 3 for an S3 destination. Returns 1 when the batch is done. */
static int deliver_s3(wstate *w, const sl_fh_dest *d)
{
    sl_buf body = SL_BUF_INIT;
    char msg[512] = "";
    int rc = 0;
    if (w->phase == 0 && d->dynamic_partitioning) {
        for (size_t k = 0; k < w->n_groups; k++) {
            wgroup *g = &w->groups[k];
            if (g->done)
                continue;
            sl_buf_reset(&body);
            for (size_t i = 0; i < g->n; i++) {
                sl_buf_append(&body, w->out[g->idx[i]].data, w->out[g->idx[i]].len);
                if (d->append_delim_on)
                    sl_buf_append(&body, d->append_delim, d->append_delim_len);
            }
            if ((rc = body.oom ? SL_ENOMEM : 0) ||
                (rc = write_object(w, d, &d->s3, NULL, g->prefix, &body, msg, sizeof(msg))))
                goto out;
            g->done = 1;
        }
        w->phase = 1;
        sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_S3_RECORDS, w->n_out);
    } else if (w->phase == 0) {
        if ((rc = body_of(w, d, 0, &body)) ||
            (rc = write_object(w, d, &d->s3, NULL, NULL, &body, msg, sizeof(msg))))
            goto out;
        w->phase = 1;
        sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_S3_RECORDS, w->n_out);
    }
    if (d->backup.set) {
        sl_buf_reset(&body);
        if ((rc = body_of(w, d, 1, &body)) ||
            (rc = write_object(w, d, &d->backup, NULL, NULL, &body, msg, sizeof(msg))))
            goto out;
    }
out:
    sl_buf_cleanup(&body);
    if (rc) {
        w->attempts++;
        w->next_try_ms = now_ms() + backoff_ms(w->attempts, 30000, 0);
        sl_warn("firehose", "%s: S3 delivery failed (attempt %d), retrying: %s", w->name,
                w->attempts, msg[0] ? msg : sl_err_str(rc));
        return 0;
    }
    return 1;
}

static int deliver_http(wstate *w, const sl_fh_dest *d, const char *arn)
{
    sl_buf body = SL_BUF_INIT;
    char msg[512] = "";
    int rc = 0;
    if (!w->request_id[0])
        sl_fh_uuid(w->request_id);
    if (w->phase == 0) {
        sl_fh_rec *recs = w->out;
        sl_buf delim = SL_BUF_INIT;
        if (d->append_delim_on) {
            recs = calloc(w->n_out ? w->n_out : 1, sizeof(*recs));
            if (!recs)
                return 0;
            body_of(w, d, 0, &delim);
            size_t off = 0;
            for (size_t i = 0; i < w->n_out; i++) {
                recs[i] = (sl_fh_rec){delim.data + off, w->out[i].len + d->append_delim_len,
                                      w->out[i].ts_ms};
                off += recs[i].len;
            }
        }
        sl_fh_http_result res;
        w->attempts++;
        rc = sl_fh_http_deliver(d, arn, w->request_id, recs, w->n_out, &res);
        size_t sent = 0;
        for (size_t i = 0; i < w->n_out; i++)
            sent += recs[i].len;
        if (recs != w->out)
            free(recs);
        sl_buf_cleanup(&delim);
        sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_HTTP_ATTEMPTS, 1);
        if (rc == 0 && res.ok) {
            w->phase = 1;
            sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_HTTP_SUCCESS, 1);
            sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_HTTP_RECORDS, w->n_out);
            sl_fh_count(w->region, w->name, w->created_ms, SL_FH_M_HTTP_BYTES, sent);
        } else if (rc == 0 && res.permanent) {
            sl_error("firehose",
                     "%s: HTTP endpoint refused batch %s with 413 (too large); %zu records "
                     "dropped",
                     w->name, w->request_id, w->n);
            return 1;
        } else {
            int64_t now = now_ms();
            if (!w->first_fail_ms)
                w->first_fail_ms = now;
            snprintf(w->last_code, sizeof(w->last_code), "%s",
                     rc ? "HttpEndpoint.ConnectionFailed" : res.error_code);
            snprintf(w->last_error, sizeof(w->last_error), "%s",
                     rc ? sl_err_str(rc) : res.error_msg);
            if ((uint64_t)(now - w->first_fail_ms) < d->retry_ms) {
                w->next_try_ms = now + backoff_ms(w->attempts, 120000, 1);
                sl_warn("firehose", "%s: HTTP endpoint attempt %d failed (%s: %s); retrying",
                        w->name, w->attempts, w->last_code, w->last_error);
                return 0;
            }
            /* Retries exhausted: the batch goes to the error output. */
            error_records(w->out, w->n_out, w->attempts, w->last_code, w->last_error, NULL,
                          w->request_id, &body);
            rc = body.oom ? SL_ENOMEM
                          : write_object(w, d, &d->s3, "http-endpoint-failed", NULL, &body, msg,
                                         sizeof(msg));
            sl_buf_cleanup(&body);
            if (rc) {
                w->next_try_ms = now + backoff_ms(w->attempts, 30000, 0);
                sl_warn("firehose", "%s: writing the error output failed: %s", w->name,
                        msg[0] ? msg : sl_err_str(rc));
                return 0;
            }
            sl_warn("firehose", "%s: %zu records sent to the error output after %d attempts",
                    w->name, w->n, w->attempts);
            w->phase = 1;
            if (!d->backup_all)
                return 1;
        }
    }
    if (d->backup_all) {
        sl_buf_reset(&body);
        rc = body_of(w, d, 1, &body);
        if (!rc)
            rc = write_object(w, d, &d->s3, NULL, NULL, &body, msg, sizeof(msg));
        sl_buf_cleanup(&body);
        if (rc) {
            w->next_try_ms = now_ms() + backoff_ms(++w->attempts, 30000, 0);
            sl_warn("firehose", "%s: S3 backup failed: %s", w->name, msg[0] ? msg : sl_err_str(rc));
            return 0;
        }
    }
    return 1;
}

static void serve(const snap *s, sl_buf *tmp)
{
    wstate *w = ws_get(s);
    if (!w)
        return;
    w->seen = 1;
    if (s->kinesis_source)
        fill_kinesis(w, s, tmp);
    else if (fill(w, &s->dest, tmp) == SL_ENOTFOUND)
        return;
    if (w->n == 0)
        return;
    int64_t now = now_ms();
    int due = w->data.len >= s->dest.size_bytes ||
              (s->dest.kind == SL_FH_DEST_HTTP && w->n >= HTTP_MAX_RECORDS) ||
              (uint64_t)(now - w->oldest_ms) >= s->dest.interval_ms || w->first_fail_ms || w->phase;
    if (!due || now < w->next_try_ms)
        return;
    int done;
    char arn[300];
    sl_fh_stream_arn(s->region, sl_api_account_id(), s->name, arn, sizeof(arn));
    if (!prepare(w, &s->dest, arn, s->region))
        return;
    if (w->n_out == 0 && !s->dest.backup.set && !s->dest.backup_all)
        done = 1; /* every record was dropped or failed processing */
    else if (s->dest.kind == SL_FH_DEST_HTTP)
        done = deliver_http(w, &s->dest, arn);
    else
        done = deliver_s3(w, &s->dest);
    if (done) {
        checkpoint(w);
        ws_reset_batch(w);
    }
}

static void round_once(sl_buf *tmp)
{
    snap *snaps = NULL;
    size_t n = 0;
    sl_fh_lock();
    size_t total;
    sl_fh_stream **all = sl_fh_streams(&total);
    snaps = calloc(total ? total : 1, sizeof(*snaps));
    for (size_t i = 0; snaps && i < total; i++) {
        sl_fh_stream *s = all[i];
        if (s->status != SL_FH_ACTIVE || !s->log)
            continue;
        snap *p = &snaps[n];
        snprintf(p->region, sizeof(p->region), "%s", s->region);
        snprintf(p->name, sizeof(p->name), "%s", s->name);
        p->created_ms = s->created_ms;
        p->log = s->log;
        p->delivered_offset = s->delivered_offset;
        p->kinesis_source = s->kinesis_source;
        p->source_missing = s->source_missing;
        if (s->n_shards && (p->shards = malloc(s->n_shards * sizeof(*p->shards)))) {
            memcpy(p->shards, s->shards, s->n_shards * sizeof(*p->shards));
            p->n_shards = s->n_shards;
        }
        if (s->n_cursors && (p->cursors = malloc(s->n_cursors * sizeof(*p->cursors)))) {
            memcpy(p->cursors, s->cursors, s->n_cursors * sizeof(*p->cursors));
            p->n_cursors = s->n_cursors;
        }
        if (sl_fh_dest_copy(&p->dest, &s->dest) == 0) {
            n++;
        } else {
            free(p->shards);
            free(p->cursors);
            memset(p, 0, sizeof(*p));
        }
    }
    sl_fh_unlock();
    for (size_t i = 0; i < wk.n_ws; i++)
        wk.ws[i]->seen = 0;
    for (size_t i = 0; i < n; i++) {
        serve(&snaps[i], tmp);
        sl_fh_dest_cleanup(&snaps[i].dest);
        free(snaps[i].shards);
        free(snaps[i].cursors);
    }
    /* Forget streams that are gone (deleted, or DELETING: their buffers are dropped). */
    for (size_t i = 0; i < wk.n_ws;) {
        if (!wk.ws[i]->seen) {
            ws_free(wk.ws[i]);
            wk.ws[i] = wk.ws[--wk.n_ws];
            continue;
        }
        i++;
    }
    free(snaps);
}

static void *worker_main(void *unused)
{
    (void)unused;
    sl_buf tmp = SL_BUF_INIT;
    pthread_mutex_lock(&wk.mu);
    while (!wk.stop) {
        wk.kicked = 0;
        pthread_mutex_unlock(&wk.mu);
        round_once(&tmp);
        pthread_mutex_lock(&wk.mu);
        if (wk.stop || wk.kicked)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += ROUND_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wk.cv, &wk.mu, &ts);
    }
    pthread_mutex_unlock(&wk.mu);
    sl_buf_cleanup(&tmp);
    for (size_t i = 0; i < wk.n_ws; i++)
        ws_free(wk.ws[i]);
    free(wk.ws);
    wk.ws = NULL;
    wk.n_ws = 0;
    return NULL;
}

int sl_fh_worker_start(void)
{
    if (wk.up)
        return 0;
    /* Before the thread exists: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return SL_EINTERNAL;
    wk.stop = 0;
    if (pthread_create(&wk.thr, NULL, worker_main, NULL) != 0)
        return SL_ENOMEM;
    wk.up = 1;
    return 0;
}

void sl_fh_worker_stop(void)
{
    if (!wk.up)
        return;
    pthread_mutex_lock(&wk.mu);
    wk.stop = 1;
    pthread_cond_signal(&wk.cv);
    pthread_mutex_unlock(&wk.mu);
    pthread_join(wk.thr, NULL);
    wk.up = 0;
}
