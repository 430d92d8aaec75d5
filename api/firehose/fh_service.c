/* Kinesis Data Firehose control plane: the delivery-stream table, its durable catalog snapshots,
 * status timers and the control operations (Create/Describe/List/Delete/UpdateDestination,
 * Start/StopDeliveryStreamEncryption, tags).
 *
 * State machine of a delivery stream (loop thread):
 *
 *     CreateDeliveryStream --> CREATING --(status timer, transition_fire)--> ACTIVE
 *     ACTIVE --DeleteDeliveryStream--> DELETING --(status timer, remove_now)--> gone
 *
 * The timer delay is SLUICE_FIREHOSE_STATUS_DELAY_MS (default 500 ms). A restart finishes what
 * was in flight: CREATING becomes ACTIVE, DELETING is removed. Deleting drops the intake log
 * with every record not yet delivered: like AWS, Sluice gives no delivery guarantee for data
 * still buffered when a delivery stream is deleted.
 *
 * Durability: every change is written as the stream's JSON snapshot (fh_model.c) in one SQL step
 * on the storage writer; the reply is sent from the step's completion, posted back to the loop,
 * i.e. after the catalog transaction committed.
 *
 * Start-up: sl_firehose_service_init() migrates the "firehose" catalog tables, loads the
 * snapshots and delivery checkpoints, opens the intake logs and starts the delivery worker. It
 * blocks on the writer thread; api.c calls it from sl_api_init(), and every handler also calls it
 * on first use (ready_or_reply). */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api_int.h"
#include "fh.h"
#include "firehose.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define DESTINATION_ID "destinationId-000000000001"

static struct {
    int up;
    sl_store *store;
    sl_writer *w;
    pthread_mutex_t mu;
    sl_fh_stream **streams; /* sorted by (region, name) */
    size_t n, cap;
    uint64_t delay_ms;
    size_t max_streams;
    char s3_root[1024];
} fh = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const char *const migration[] = {
    "CREATE TABLE fh_streams(region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, "
    "PRIMARY KEY(region, name));"
    "CREATE TABLE fh_progress(log TEXT PRIMARY KEY, offset INTEGER NOT NULL);",
};

void sl_fh_lock(void)
{
    pthread_mutex_lock(&fh.mu);
}

void sl_fh_unlock(void)
{
    pthread_mutex_unlock(&fh.mu);
}

sl_store *sl_fh_store(void)
{
    return fh.store;
}

const char *sl_fh_s3_root(void)
{
    return fh.s3_root;
}

sl_fh_stream **sl_fh_streams(size_t *n)
{
    *n = fh.n;
    return fh.streams;
}

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

static const char *in_str(const cJSON *in, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void log_name(const sl_fh_stream *s, char *out, size_t cap)
{
    snprintf(out, cap, "firehose/%s/%lld.%s", s->region, (long long)s->created_ms, s->name);
}

/* ---- the table (loop thread writes under the lock) ---------------------------------------- */

static size_t find_pos(const char *region, const char *name, int *found)
{
    size_t lo = 0, hi = fh.n;
    *found = 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(fh.streams[mid]->region, region);
        if (c == 0)
            c = strcmp(fh.streams[mid]->name, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static sl_fh_stream *find(const char *region, const char *name)
{
    int found;
    size_t i = find_pos(region, name, &found);
    return found ? fh.streams[i] : NULL;
}

/* The array is read by the worker under the lock, so growing it happens under the lock too. */
static int insert(sl_fh_stream *s)
{
    int found, rc = 0;
    size_t i = find_pos(s->region, s->name, &found);
    if (found)
        return SL_EEXISTS;
    sl_fh_lock();
    if (fh.n == fh.cap) {
        size_t cap = fh.cap ? fh.cap * 2 : 16;
        sl_fh_stream **g = realloc(fh.streams, cap * sizeof(*g));
        if (!g) {
            rc = SL_ENOMEM;
            goto out;
        }
        fh.streams = g;
        fh.cap = cap;
    }
    memmove(fh.streams + i + 1, fh.streams + i, (fh.n - i) * sizeof(*fh.streams));
    fh.streams[i] = s;
    fh.n++;
out:
    sl_fh_unlock();
    return rc;
}

static void remove_entry(sl_fh_stream *s)
{
    int found;
    size_t i = find_pos(s->region, s->name, &found);
    if (!found || fh.streams[i] != s)
        return;
    sl_fh_lock();
    memmove(fh.streams + i, fh.streams + i + 1, (fh.n - i - 1) * sizeof(*fh.streams));
    fh.n--;
    sl_fh_unlock();
    sl_fh_stream_free(s);
}

static size_t count_region(const char *region)
{
    size_t n = 0;
    for (size_t i = 0; i < fh.n; i++)
        n += strcmp(fh.streams[i]->region, region) == 0;
    return n;
}

/* ---- durable snapshots -------------------------------------------------------------------- */

typedef struct persist_job {
    sl_api_call call; /* call.ex NULL: nobody to answer */
    char region[32];
    char name[SL_FH_NAME_MAX + 1];
    char log[300]; /* deletion: also forget the checkpoint of this log */
    char *doc;     /* NULL: delete the row */
    cJSON *reply;
    int rc;
} persist_job;

static int sql_persist(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    persist_job *p = arg;
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO;
    (void)e;
    const char *sql = p->doc ? "INSERT OR REPLACE INTO fh_streams(region, name, doc) VALUES(?,?,?)"
                             : "DELETE FROM fh_streams WHERE region = ? AND name = ?";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, p->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
    if (p->doc)
        sqlite3_bind_text(st, 3, p->doc, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto out;
    if (!p->doc && p->log[0]) {
        sqlite3_finalize(st);
        st = NULL;
        if (sqlite3_prepare_v2(db,
                               "DELETE FROM fh_progress WHERE log = ?1 OR "
                               "substr(log, 1, length(?1) + 1) = ?1 || '#'",
                               -1, &st, NULL) != SQLITE_OK)
            goto out;
        sqlite3_bind_text(st, 1, p->log, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto out;
    }
    rc = 0;
out:
    if (rc)
        sl_error("firehose", "catalog write for %s failed: %s", p->name, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static void persist_free(persist_job *p)
{
    if (p->call.ex)
        sl_exchange_unref(p->call.ex);
    cJSON_Delete(p->reply);
    free(p->doc);
    free(p);
}

static void persist_finish(void *arg)
{
    persist_job *p = arg;
    if (p->call.ex) {
        if (p->rc)
            sl_wire_call_error_code(&p->call, SL_ESTORAGE_FAILED);
        else
            sl_wire_reply_ok(&p->call, p->reply);
    }
    persist_free(p);
}

static void persist_done(void *arg, int rc, const sl_log_entry *e)
{
    persist_job *p = arg;
    (void)e;
    p->rc = rc;
    if (sl_loop_post(persist_finish, p) != 0)
        sl_error("firehose", "cannot post a catalog completion: out of memory");
}

/* Queues s's snapshot (s NULL: deletion of region/name and checkpoint `log`); answers call with
 * reply (owned) after the commit when call is not NULL. */
static void persist(sl_api_call *call, const sl_fh_stream *s, const char *region, const char *name,
                    const char *log, cJSON *reply)
{
    persist_job *p = calloc(1, sizeof(*p));
    int rc = SL_ENOMEM;
    if (!p)
        goto fail;
    p->reply = reply;
    reply = NULL;
    snprintf(p->region, sizeof(p->region), "%s", region);
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->log, sizeof(p->log), "%s", log ? log : "");
    if (s) {
        cJSON *j = sl_fh_stream_to_json(s);
        p->doc = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!p->doc)
            goto fail;
    }
    if (call) {
        p->call = *call;
        p->call.input = NULL;
        p->call.region = NULL;
        sl_exchange_ref(call->ex);
    }
    if ((rc = sl_writer_submit_fn(fh.w, sql_persist, persist_done, p)))
        goto fail;
    return;
fail:
    sl_error("firehose", "cannot queue the catalog write for %s: %s", name, sl_err_str(rc));
    if (call)
        sl_wire_call_error_code(call, rc);
    if (p)
        persist_free(p);
    cJSON_Delete(reply);
}

/* ---- status transitions ------------------------------------------------------------------- */

typedef struct transition {
    char region[32];
    char name[SL_FH_NAME_MAX + 1];
    int64_t created_ms;
} transition;

static void remove_now(sl_fh_stream *s)
{
    char log[300], region[32], name[SL_FH_NAME_MAX + 1];
    log_name(s, log, sizeof(log));
    snprintf(region, sizeof(region), "%s", s->region);
    snprintf(name, sizeof(name), "%s", s->name);
    if (s->log)
        sl_store_log_drop(fh.store, s->log, NULL, NULL);
    remove_entry(s);
    persist(NULL, NULL, region, name, log, NULL);
    sl_info("firehose", "delivery stream %s deleted", name);
}

static void transition_fire(void *arg)
{
    transition *t = arg;
    sl_fh_stream *s = fh.up ? find(t->region, t->name) : NULL;
    if (s && s->created_ms == t->created_ms) {
        if (s->status == SL_FH_DELETING) {
            remove_now(s);
        } else if (s->status == SL_FH_CREATING) {
            sl_fh_lock();
            s->status = SL_FH_ACTIVE;
            sl_fh_unlock();
            persist(NULL, s, s->region, s->name, NULL, NULL);
            sl_fh_worker_kick();
        }
    }
    free(t);
}

static void schedule(const sl_fh_stream *s)
{
    transition *t = malloc(sizeof(*t));
    if (!t) {
        sl_error("firehose", "cannot schedule the status change of %s: out of memory", s->name);
        return;
    }
    snprintf(t->region, sizeof(t->region), "%s", s->region);
    snprintf(t->name, sizeof(t->name), "%s", s->name);
    t->created_ms = s->created_ms;
    if (fh.delay_ms == 0 || !sl_loop_timer_add(fh.delay_ms, transition_fire, t))
        transition_fire(t);
}

/* ---- start-up ----------------------------------------------------------------------------- */

typedef struct load_arg {
    char **docs;
    size_t n;
    char **logs;
    uint64_t *offsets;
    size_t n_logs;
} load_arg;

static int push_str(char ***arr, size_t n, const char *s)
{
    char **g = realloc(*arr, (n + 1) * sizeof(*g));
    if (!g)
        return SL_ENOMEM;
    *arr = g;
    return (g[n] = strdup(s)) ? 0 : SL_ENOMEM;
}

static int sql_load(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    load_arg *a = arg;
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO, step;
    (void)e;
    if (sqlite3_prepare_v2(db, "SELECT doc FROM fh_streams ORDER BY region, name", -1, &st, NULL) !=
        SQLITE_OK)
        goto out;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = push_str(&a->docs, a->n, (const char *)sqlite3_column_text(st, 0))))
            goto out;
        a->n++;
        rc = SL_EIO;
    }
    if (step != SQLITE_DONE)
        goto out;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT log, offset FROM fh_progress", -1, &st, NULL) != SQLITE_OK)
        goto out;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t *g = realloc(a->offsets, (a->n_logs + 1) * sizeof(*g));
        if (!g || push_str(&a->logs, a->n_logs, (const char *)sqlite3_column_text(st, 0))) {
            if (g)
                a->offsets = g;
            rc = SL_ENOMEM;
            goto out;
        }
        a->offsets = g;
        a->offsets[a->n_logs++] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    if (step == SQLITE_DONE)
        rc = 0;
out:
    if (rc == SL_EIO)
        sl_error("firehose", "loading the catalog failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* The data folder is learned from the catalog's file name. */
void sl_firehose_s3_root_of(sl_store *st, char *out, size_t n)
{
    const char *dir = getenv("SLUICE_FIREHOSE_S3_DIR");
    const char *home = getenv("HOME");
    sqlite3 *db = NULL;
    if (dir && *dir) {
        snprintf(out, n, "%s", dir);
        return;
    }
    if (st && sl_catalog_open_reader(st, &db) == 0) {
        const char *file = sqlite3_db_filename(db, "main");
        const char *slash = file ? strrchr(file, '/') : NULL;
        if (slash)
            snprintf(out, n, "%.*s/s3", (int)(slash - file), file);
        sqlite3_close(db);
        if (slash)
            return;
    }
    if (home && *home)
        snprintf(out, n, "%s/.local/share/sluice/s3", home);
    else
        snprintf(out, n, "sluice-s3");
}

static void set_s3_root(void)
{
    sl_firehose_s3_root_of(fh.store, fh.s3_root, sizeof(fh.s3_root));
}

int sl_firehose_service_init(void)
{
    load_arg a;
    int rc;
    if (fh.up)
        return 0;
    memset(&a, 0, sizeof(a));
    fh.store = sl_api_store();
    if (!fh.store)
        return SL_EINVAL;
    fh.w = sl_store_writer(fh.store);
    const char *delay = getenv("SLUICE_FIREHOSE_STATUS_DELAY_MS");
    fh.delay_ms = delay && *delay ? strtoull(delay, NULL, 10) : 500;
    const char *max = getenv("SLUICE_FIREHOSE_MAX_STREAMS");
    fh.max_streams = max && *max ? strtoul(max, NULL, 10) : 50;
    set_s3_root();

    if ((rc = sl_store_migrate(fh.store, "firehose", migration, 1)))
        goto out;
    if ((rc = sl_writer_run_sync(fh.w, sql_load, &a)))
        goto out;
    for (size_t i = 0; i < a.n; i++) {
        cJSON *j = cJSON_Parse(a.docs[i]);
        sl_fh_stream *s = j ? sl_fh_stream_from_json(j) : NULL;
        cJSON_Delete(j);
        if (!s) {
            sl_error("firehose", "skipping an unreadable delivery-stream row");
            continue;
        }
        char log[300];
        log_name(s, log, sizeof(log));
        size_t log_len = strlen(log);
        for (size_t k = 0; k < a.n_logs; k++) {
            if (strcmp(a.logs[k], log) == 0) {
                s->delivered_offset = a.offsets[k];
            } else if (strncmp(a.logs[k], log, log_len) == 0 && a.logs[k][log_len] == '#') {
                sl_fh_cursor *g = realloc(s->cursors, (s->n_cursors + 1) * sizeof(*g));
                if (!g) {
                    rc = SL_ENOMEM;
                    sl_fh_stream_free(s);
                    goto out;
                }
                s->cursors = g;
                s->cursors[s->n_cursors++] = (sl_fh_cursor){
                    (uint32_t)strtoul(a.logs[k] + log_len + 1, NULL, 10), a.offsets[k]};
            }
        }
        if ((rc = sl_store_log_open(fh.store, log, &s->log)) || (rc = insert(s))) {
            sl_fh_stream_free(s);
            goto out;
        }
    }
    for (size_t i = 0; i < fh.n;) {
        sl_fh_stream *s = fh.streams[i];
        if (s->status == SL_FH_DELETING) {
            remove_now(s);
            continue;
        }
        if (s->status == SL_FH_CREATING) {
            s->status = SL_FH_ACTIVE;
            persist(NULL, s, s->region, s->name, NULL, NULL);
        }
        i++;
    }
    if ((rc = sl_fh_worker_start()))
        goto out;
    fh.up = 1;
    sl_fh_source_start();
    sl_info("firehose", "delivery streams ready: %zu loaded, objects under %s%s", fh.n, fh.s3_root,
            getenv("SLUICE_FIREHOSE_S3_ENDPOINT") ? " (or the S3 endpoint)" : "");
out:
    for (size_t i = 0; i < a.n; i++)
        free(a.docs[i]);
    free(a.docs);
    for (size_t i = 0; i < a.n_logs; i++)
        free(a.logs[i]);
    free(a.logs);
    free(a.offsets);
    if (rc)
        sl_error("firehose", "delivery streams failed to start: %s", sl_err_str(rc));
    return rc;
}

void sl_firehose_service_shutdown(void)
{
    sl_fh_source_stop();
    sl_fh_worker_stop();
    for (size_t i = 0; i < fh.n; i++)
        sl_fh_stream_free(fh.streams[i]);
    free(fh.streams);
    fh.streams = NULL;
    fh.n = fh.cap = 0;
    fh.up = 0;
    fh.store = NULL;
}

void sl_fh_count(const char *region, const char *name, int64_t created_ms, int m, uint64_t n)
{
    sl_fh_lock();
    sl_fh_stream *s = find(region, name);
    if (s && s->created_ms == created_ms && m >= 0 && m < SL_FH_M_COUNT)
        atomic_fetch_add_explicit(&s->metrics[m], n, memory_order_relaxed);
    sl_fh_unlock();
}

static uint64_t metric(sl_fh_stream *s, int m)
{
    return atomic_load_explicit(&s->metrics[m], memory_order_relaxed);
}

int sl_firehose_metrics_render(sl_buf *out)
{
    static const struct {
        const char *name;
        int m, of; /* of >= 0: ratio m / of */
    } rows[] = {
        {"IncomingRecords", SL_FH_M_INCOMING_RECORDS, -1},
        {"IncomingBytes", SL_FH_M_INCOMING_BYTES, -1},
        {"IncomingPutRequests", SL_FH_M_INCOMING_PUT_REQUESTS, -1},
        {"DeliveryToS3.Records", SL_FH_M_S3_RECORDS, -1},
        {"DeliveryToS3.Bytes", SL_FH_M_S3_BYTES, -1},
        {"DeliveryToS3.Success", SL_FH_M_S3_SUCCESS, SL_FH_M_S3_ATTEMPTS},
        {"DeliveryToHttpEndpoint.Records", SL_FH_M_HTTP_RECORDS, -1},
        {"DeliveryToHttpEndpoint.Bytes", SL_FH_M_HTTP_BYTES, -1},
        {"DeliveryToHttpEndpoint.Success", SL_FH_M_HTTP_SUCCESS, SL_FH_M_HTTP_ATTEMPTS},
        {"ProcessingFailed.Records", SL_FH_M_PROCESSING_FAILED, -1},
    };
    sl_buf_append_str(out, "# HELP sluice_firehose Firehose delivery-stream metrics under their "
                           "CloudWatch names.\n# TYPE sluice_firehose gauge\n");
    for (size_t i = 0; i < fh.n; i++) {
        sl_fh_stream *s = fh.streams[i];
        for (size_t r = 0; r < sizeof(rows) / sizeof(*rows); r++) {
            double v = (double)metric(s, rows[r].m);
            if (rows[r].of >= 0) {
                uint64_t den = metric(s, rows[r].of);
                v = den ? v / (double)den : 1.0;
            }
            sl_buf_printf(out,
                          "sluice_firehose{metric=\"%s\",region=\"%s\",delivery_stream=\"%s\"} "
                          "%.17g\n",
                          rows[r].name, s->region, s->name, v);
        }
    }
    return out->oom ? SL_ENOMEM : 0;
}

static int ready_or_reply(sl_api_call *call)
{
    if (fh.up)
        return 0;
    int rc = sl_firehose_service_init();
    if (rc)
        sl_wire_call_error_code(call, SL_EINTERNAL);
    return rc;
}

/* ---- shared handler helpers --------------------------------------------------------------- */

void sl_fh_reply_error(sl_api_call *call, const char *type, const char *msg)
{
    sl_wire_reply_error(call->ex, call->op->service->proto, call->op->service,
                        strcmp(type, "ServiceUnavailableException") == 0 ? 503
                        : strcmp(type, "InternalFailure") == 0           ? 500
                                                                         : 400,
                        type, msg, NULL);
}

sl_fh_stream *sl_fh_stream_or_reply(sl_api_call *call, int active)
{
    if (ready_or_reply(call))
        return NULL;
    const char *name = in_str(call->input, "DeliveryStreamName");
    sl_fh_stream *s = name ? find(call->region, name) : NULL;
    char msg[256];
    if (!s || (active && s->status != SL_FH_ACTIVE)) {
        snprintf(msg, sizeof(msg), "Firehose %s under account %s not found.", name ? name : "",
                 call->account_id);
        sl_fh_reply_error(call, "ResourceNotFoundException", msg);
        return NULL;
    }
    return s;
}

/* ---- CreateDeliveryStream ----------------------------------------------------------------- */

static const char *const dest_members[] = {
    "S3DestinationConfiguration",
    "ExtendedS3DestinationConfiguration",
    "RedshiftDestinationConfiguration",
    "ElasticsearchDestinationConfiguration",
    "AmazonopensearchserviceDestinationConfiguration",
    "AmazonOpenSearchServerlessDestinationConfiguration",
    "SplunkDestinationConfiguration",
    "HttpEndpointDestinationConfiguration",
    "SnowflakeDestinationConfiguration",
    "IcebergDestinationConfiguration",
};

void sl_firehose_create_delivery_stream(sl_api_call *call)
{
    if (ready_or_reply(call))
        return;
    const cJSON *in = call->input;
    const char *name = in_str(in, "DeliveryStreamName");
    const char *type = in_str(in, "DeliveryStreamType");
    const char *member = NULL;
    const cJSON *cfg = NULL;
    char msg[600];
    sl_fh_stream *s = NULL;
    int rc;

    int kinesis = type && strcmp(type, "KinesisStreamAsSource") == 0;
    char src_region[32] = "", src_name[129] = "";
    const cJSON *ksc = cJSON_GetObjectItemCaseSensitive(in, "KinesisStreamSourceConfiguration");
    if (type && !kinesis && strcmp(type, "DirectPut") != 0) {
        snprintf(msg, sizeof(msg),
                 "DeliveryStreamType %s is not supported by Sluice yet (supported: DirectPut, "
                 "KinesisStreamAsSource).",
                 type);
        sl_fh_reply_error(call, "InvalidArgumentException", msg);
        return;
    }
    if (kinesis != (ksc != NULL)) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          kinesis ? "KinesisStreamSourceConfiguration is required for "
                                    "KinesisStreamAsSource delivery streams."
                                  : "KinesisStreamSourceConfiguration is only allowed for "
                                    "KinesisStreamAsSource delivery streams.");
        return;
    }
    if (kinesis &&
        cJSON_GetObjectItemCaseSensitive(in, "DeliveryStreamEncryptionConfigurationInput")) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "Server-side encryption is only supported for DirectPut delivery "
                          "streams.");
        return;
    }
    if (kinesis &&
        sl_fh_source_check(in_str(ksc, "KinesisStreamARN"), call->account_id, src_region,
                           sizeof(src_region), src_name, sizeof(src_name), msg, sizeof(msg))) {
        sl_fh_reply_error(call, "InvalidArgumentException", msg);
        return;
    }
    for (size_t i = 0; i < sizeof(dest_members) / sizeof(*dest_members); i++) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(in, dest_members[i]);
        if (!c)
            continue;
        if (member) {
            sl_fh_reply_error(call, "InvalidArgumentException",
                              "Exactly one destination configuration must be specified.");
            return;
        }
        member = dest_members[i];
        cfg = c;
    }
    if (!member) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "Exactly one destination configuration must be specified.");
        return;
    }
    if (find(call->region, name)) {
        snprintf(msg, sizeof(msg), "Firehose %s under accountId %s already exists", name,
                 call->account_id);
        sl_fh_reply_error(call, "ResourceInUseException", msg);
        return;
    }
    if (count_region(call->region) >= fh.max_streams) {
        snprintf(msg, sizeof(msg),
                 "You have already consumed your firehose quota of %zu hoses. Firehose names: ...",
                 fh.max_streams);
        sl_fh_reply_error(call, "LimitExceededException", msg);
        return;
    }
    if (!(s = calloc(1, sizeof(*s))))
        goto nomem;
    snprintf(s->region, sizeof(s->region), "%s", call->region);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->dest_member, sizeof(s->dest_member), "%s", member);
    s->created_ms = now_ms();
    s->status = SL_FH_CREATING;
    if (kinesis) {
        s->kinesis_source = 1;
        snprintf(s->source_arn, sizeof(s->source_arn), "%s", in_str(ksc, "KinesisStreamARN"));
        snprintf(s->source_role, sizeof(s->source_role), "%s",
                 in_str(ksc, "RoleARN") ? in_str(ksc, "RoleARN") : "");
        snprintf(s->source_region, sizeof(s->source_region), "%s", src_region);
        snprintf(s->source_name, sizeof(s->source_name), "%s", src_name);
    }
    s->version = 1;
    if (!(s->dest_cfg = cJSON_Duplicate(cfg, 1)))
        goto nomem;
    if ((rc = sl_fh_dest_parse(member, s->dest_cfg, &s->dest, msg, sizeof(msg)))) {
        sl_fh_reply_error(call, rc == SL_ENOMEM ? "InternalFailure" : "InvalidArgumentException",
                          msg);
        sl_fh_stream_free(s);
        return;
    }
    snprintf(s->dest.version_id, sizeof(s->dest.version_id), "1");
    const cJSON *enc =
        cJSON_GetObjectItemCaseSensitive(in, "DeliveryStreamEncryptionConfigurationInput");
    if (enc) {
        const char *kt = in_str(enc, "KeyType"), *ka = in_str(enc, "KeyARN");
        if (kt && strcmp(kt, "CUSTOMER_MANAGED_CMK") == 0 && !ka) {
            sl_fh_reply_error(call, "InvalidArgumentException",
                              "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.");
            sl_fh_stream_free(s);
            return;
        }
        s->encrypted = 1;
        snprintf(s->enc_key_type, sizeof(s->enc_key_type), "%s", kt ? kt : "AWS_OWNED_CMK");
        snprintf(s->enc_key_arn, sizeof(s->enc_key_arn), "%s", ka ? ka : "");
    }
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
    if (!(s->tags = tags ? cJSON_Duplicate(tags, 1) : cJSON_CreateArray()))
        goto nomem;
    char log[300];
    log_name(s, log, sizeof(log));
    if ((rc = sl_store_log_open(fh.store, log, &s->log)))
        goto fail;
    if ((rc = insert(s)))
        goto fail;
    cJSON *reply = cJSON_CreateObject();
    char arn[300];
    sl_fh_stream_arn(s->region, call->account_id, s->name, arn, sizeof(arn));
    cJSON_AddStringToObject(reply, "DeliveryStreamARN", arn);
    persist(call, s, s->region, s->name, NULL, reply);
    schedule(s);
    if (kinesis)
        sl_fh_source_start();
    sl_info("firehose", "delivery stream %s created (%s)", s->name, member);
    return;
nomem:
    rc = SL_ENOMEM;
fail:
    sl_fh_stream_free(s);
    sl_wire_call_error_code(call, rc);
}

/* ---- DescribeDeliveryStream --------------------------------------------------------------- */

static const char *status_str(sl_fh_status st)
{
    return st == SL_FH_ACTIVE ? "ACTIVE" : st == SL_FH_DELETING ? "DELETING" : "CREATING";
}

void sl_firehose_describe_delivery_stream(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    if (!s)
        return;
    cJSON *out = cJSON_CreateObject();
    cJSON *d = cJSON_AddObjectToObject(out, "DeliveryStreamDescription");
    char arn[300];
    sl_fh_stream_arn(s->region, call->account_id, s->name, arn, sizeof(arn));
    cJSON_AddStringToObject(d, "DeliveryStreamName", s->name);
    cJSON_AddStringToObject(d, "DeliveryStreamARN", arn);
    cJSON_AddStringToObject(d, "DeliveryStreamStatus", status_str(s->status));
    cJSON *enc = cJSON_AddObjectToObject(d, "DeliveryStreamEncryptionConfiguration");
    if (s->encrypted) {
        cJSON_AddStringToObject(enc, "KeyType", s->enc_key_type);
        if (s->enc_key_arn[0])
            cJSON_AddStringToObject(enc, "KeyARN", s->enc_key_arn);
    }
    cJSON_AddStringToObject(enc, "Status", s->encrypted ? "ENABLED" : "DISABLED");
    cJSON_AddStringToObject(d, "DeliveryStreamType",
                            s->kinesis_source ? "KinesisStreamAsSource" : "DirectPut");
    char ver[24];
    snprintf(ver, sizeof(ver), "%llu", (unsigned long long)s->version);
    cJSON_AddStringToObject(d, "VersionId", ver);
    sl_wire_json_add_timestamp(d, "CreateTimestamp", s->created_ms);
    if (s->updated_ms)
        sl_wire_json_add_timestamp(d, "LastUpdateTimestamp", s->updated_ms);
    if (s->kinesis_source) {
        cJSON *src = cJSON_AddObjectToObject(d, "Source");
        cJSON *k = cJSON_AddObjectToObject(src, "KinesisStreamSourceDescription");
        cJSON_AddStringToObject(k, "KinesisStreamARN", s->source_arn);
        cJSON_AddStringToObject(k, "RoleARN", s->source_role);
        sl_wire_json_add_timestamp(k, "DeliveryStartTimestamp", s->created_ms);
    }
    cJSON *dests = cJSON_AddArrayToObject(d, "Destinations");
    cJSON *dest = cJSON_CreateObject();
    cJSON_AddItemToArray(dests, dest);
    cJSON_AddStringToObject(dest, "DestinationId", DESTINATION_ID);
    sl_fh_dest_describe(s->dest_member, s->dest_cfg, dest);
    cJSON_AddBoolToObject(d, "HasMoreDestinations", 0);
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

/* ---- ListDeliveryStreams ------------------------------------------------------------------ */

void sl_firehose_list_delivery_streams(sl_api_call *call)
{
    if (ready_or_reply(call))
        return;
    const cJSON *in = call->input;
    const char *type = in_str(in, "DeliveryStreamType");
    const char *after = in_str(in, "ExclusiveStartDeliveryStreamName");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(in, "Limit");
    size_t limit = cJSON_IsNumber(lim) ? (size_t)lim->valuedouble : 10, n = 0;
    int more = 0;
    cJSON *out = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(out, "DeliveryStreamNames");
    for (size_t i = 0; i < fh.n; i++) {
        sl_fh_stream *s = fh.streams[i];
        if (strcmp(s->region, call->region) != 0 || (after && strcmp(s->name, after) <= 0))
            continue;
        if (type && strcmp(type, s->kinesis_source ? "KinesisStreamAsSource" : "DirectPut") != 0)
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(names, cJSON_CreateString(s->name));
        n++;
    }
    cJSON_AddBoolToObject(out, "HasMoreDeliveryStreams", more);
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

/* ---- DeleteDeliveryStream ----------------------------------------------------------------- */

void sl_firehose_delete_delivery_stream(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    char msg[256];
    if (!s)
        return;
    if (s->status == SL_FH_CREATING) {
        snprintf(msg, sizeof(msg),
                 "Firehose %s under account %s is in CREATING state and cannot be deleted.",
                 s->name, call->account_id);
        sl_fh_reply_error(call, "ResourceInUseException", msg);
        return;
    }
    if (s->status != SL_FH_DELETING) {
        sl_fh_lock();
        s->status = SL_FH_DELETING;
        sl_fh_unlock();
        persist(call, s, s->region, s->name, NULL, NULL);
        schedule(s);
    } else {
        sl_wire_reply_ok(call, NULL);
    }
}

/* ---- UpdateDestination -------------------------------------------------------------------- */

static const struct {
    const char *update, *config;
} update_members[] = {
    {"S3DestinationUpdate", "S3DestinationConfiguration"},
    {"ExtendedS3DestinationUpdate", "ExtendedS3DestinationConfiguration"},
    {"HttpEndpointDestinationUpdate", "HttpEndpointDestinationConfiguration"},
    {"RedshiftDestinationUpdate", NULL},
    {"ElasticsearchDestinationUpdate", NULL},
    {"AmazonopensearchserviceDestinationUpdate", NULL},
    {"AmazonOpenSearchServerlessDestinationUpdate", NULL},
    {"SplunkDestinationUpdate", NULL},
    {"SnowflakeDestinationUpdate", NULL},
    {"IcebergDestinationUpdate", NULL},
};

static int is_s3(const char *member)
{
    return strstr(member, "S3Destination") != NULL;
}

/* Renames nested *Update members to their configuration names. */
static void rename_member(cJSON *o, const char *from, const char *to)
{
    cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(o, from);
    if (v)
        cJSON_AddItemToObject(o, to, v);
}

static const char *backup_mode(const cJSON *cfg)
{
    const char *m = in_str(cfg, "S3BackupMode");
    return m ? m : "Disabled";
}

void sl_firehose_update_destination(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    const cJSON *in = call->input;
    char msg[600];
    cJSON *merged = NULL;
    sl_fh_dest nd;
    int rc;
    if (!s)
        return;
    memset(&nd, 0, sizeof(nd));
    if (s->status != SL_FH_ACTIVE) {
        snprintf(msg, sizeof(msg), "Firehose %s is not in the ACTIVE state.", s->name);
        sl_fh_reply_error(call, "ResourceInUseException", msg);
        return;
    }
    const char *cur = in_str(in, "CurrentDeliveryStreamVersionId");
    if (!cur || strtoull(cur, NULL, 10) != s->version) {
        snprintf(msg, sizeof(msg),
                 "Cannot update firehose: %s, CurrentDeliveryStreamVersionId %s does not match "
                 "the current version %llu.",
                 s->name, cur ? cur : "", (unsigned long long)s->version);
        sl_fh_reply_error(call, "ConcurrentModificationException", msg);
        return;
    }
    const char *did = in_str(in, "DestinationId");
    if (!did || strcmp(did, DESTINATION_ID) != 0) {
        snprintf(msg, sizeof(msg), "Destination %s not found for firehose %s.", did ? did : "",
                 s->name);
        sl_fh_reply_error(call, "InvalidArgumentException", msg);
        return;
    }
    const char *config_member = NULL, *update_member = NULL;
    const cJSON *upd = NULL;
    for (size_t i = 0; i < sizeof(update_members) / sizeof(*update_members); i++) {
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(in, update_members[i].update);
        if (!u)
            continue;
        if (update_member) {
            sl_fh_reply_error(call, "InvalidArgumentException",
                              "Exactly one destination update must be specified.");
            return;
        }
        update_member = update_members[i].update;
        config_member = update_members[i].config;
        upd = u;
    }
    if (!update_member) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "Exactly one destination update must be specified.");
        return;
    }
    if (!config_member) {
        snprintf(msg, sizeof(msg),
                 "Sluice delivers to S3, ExtendedS3 and HttpEndpoint destinations only; %s is "
                 "not supported.",
                 update_member);
        sl_fh_reply_error(call, "InvalidArgumentException", msg);
        return;
    }
    cJSON *u = cJSON_Duplicate(upd, 1);
    if (!u)
        goto nomem;
    rename_member(u, "S3BackupUpdate", "S3BackupConfiguration");
    rename_member(u, "S3Update", "S3Configuration");
    int same = (is_s3(config_member) && is_s3(s->dest_member)) ||
               strcmp(config_member, s->dest_member) == 0;
    if (same) {
        merged = cJSON_Duplicate(s->dest_cfg, 1);
        if (!merged || sl_fh_json_merge(merged, u)) {
            cJSON_Delete(u);
            goto nomem;
        }
        cJSON_Delete(u);
        /* An Extended update turns a legacy S3 destination into an Extended one. */
        if (strcmp(config_member, "ExtendedS3DestinationConfiguration") == 0)
            ;
        else
            config_member = s->dest_member;
    } else {
        merged = u;
    }
    if (strcmp(backup_mode(s->dest_cfg), "Enabled") == 0 &&
        strcmp(backup_mode(merged), "Enabled") != 0) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "S3BackupMode cannot be disabled once it has been enabled.");
        goto out;
    }
    if ((rc = sl_fh_dest_parse(config_member, merged, &nd, msg, sizeof(msg)))) {
        sl_fh_reply_error(call, rc == SL_ENOMEM ? "InternalFailure" : "InvalidArgumentException",
                          msg);
        goto out;
    }
    if (nd.dynamic_partitioning != s->dest.dynamic_partitioning) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          s->dest.dynamic_partitioning
                              ? "Dynamic partitioning cannot be disabled once enabled."
                              : "Dynamic partitioning can only be enabled when the Firehose "
                                "stream is created.");
        goto out;
    }
    sl_fh_lock();
    s->version++;
    s->updated_ms = now_ms();
    snprintf(nd.version_id, sizeof(nd.version_id), "%llu", (unsigned long long)s->version);
    sl_fh_dest_cleanup(&s->dest);
    s->dest = nd;
    memset(&nd, 0, sizeof(nd));
    cJSON_Delete(s->dest_cfg);
    s->dest_cfg = merged;
    merged = NULL;
    snprintf(s->dest_member, sizeof(s->dest_member), "%s", config_member);
    sl_fh_unlock();
    persist(call, s, s->region, s->name, NULL, NULL);
    sl_fh_worker_kick();
    goto out;
nomem:
    sl_wire_call_error_code(call, SL_ENOMEM);
out:
    cJSON_Delete(merged);
    sl_fh_dest_cleanup(&nd);
}

/* ---- encryption --------------------------------------------------------------------------- */

void sl_firehose_start_delivery_stream_encryption(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    if (!s)
        return;
    const cJSON *enc =
        cJSON_GetObjectItemCaseSensitive(call->input, "DeliveryStreamEncryptionConfigurationInput");
    const char *kt = in_str(enc, "KeyType"), *ka = in_str(enc, "KeyARN");
    if (kt && strcmp(kt, "CUSTOMER_MANAGED_CMK") == 0 && !ka) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "KeyARN is required when KeyType is CUSTOMER_MANAGED_CMK.");
        return;
    }
    if (s->kinesis_source) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "Server-side encryption is only supported for DirectPut delivery "
                          "streams.");
        return;
    }
    if (s->status != SL_FH_ACTIVE) {
        sl_fh_reply_error(call, "ResourceInUseException", "The delivery stream is not ACTIVE.");
        return;
    }
    sl_fh_lock();
    s->encrypted = 1;
    snprintf(s->enc_key_type, sizeof(s->enc_key_type), "%s", kt ? kt : "AWS_OWNED_CMK");
    snprintf(s->enc_key_arn, sizeof(s->enc_key_arn), "%s", ka ? ka : "");
    sl_fh_unlock();
    persist(call, s, s->region, s->name, NULL, NULL);
}

void sl_firehose_stop_delivery_stream_encryption(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    if (!s)
        return;
    if (s->status != SL_FH_ACTIVE) {
        sl_fh_reply_error(call, "ResourceInUseException", "The delivery stream is not ACTIVE.");
        return;
    }
    sl_fh_lock();
    s->encrypted = 0;
    s->enc_key_type[0] = s->enc_key_arn[0] = '\0';
    sl_fh_unlock();
    persist(call, s, s->region, s->name, NULL, NULL);
}

/* ---- tags --------------------------------------------------------------------------------- */

static cJSON *tag_find(cJSON *tags, const char *key)
{
    cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        const char *k = in_str(t, "Key");
        if (k && strcmp(k, key) == 0)
            return t;
    }
    return NULL;
}

void sl_firehose_tag_delivery_stream(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    if (!s)
        return;
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(call->input, "Tags"), *t;
    int add = 0;
    cJSON_ArrayForEach(t, tags)
    {
        const char *k = in_str(t, "Key");
        add += k && !tag_find(s->tags, k);
    }
    if (cJSON_GetArraySize(s->tags) + add > 50) {
        sl_fh_reply_error(call, "LimitExceededException",
                          "A delivery stream cannot have more than 50 tags.");
        return;
    }
    cJSON_ArrayForEach(t, tags)
    {
        const char *k = in_str(t, "Key"), *v = in_str(t, "Value");
        if (!k)
            continue;
        cJSON *old = tag_find(s->tags, k);
        cJSON *nt = cJSON_CreateObject();
        cJSON_AddStringToObject(nt, "Key", k);
        if (v)
            cJSON_AddStringToObject(nt, "Value", v);
        if (old)
            cJSON_ReplaceItemViaPointer(s->tags, old, nt);
        else
            cJSON_AddItemToArray(s->tags, nt);
    }
    persist(call, s, s->region, s->name, NULL, NULL);
}

void sl_firehose_untag_delivery_stream(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    if (!s)
        return;
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(call->input, "TagKeys"), *k;
    cJSON_ArrayForEach(k, keys)
    {
        cJSON *old = cJSON_IsString(k) ? tag_find(s->tags, k->valuestring) : NULL;
        if (old)
            cJSON_Delete(cJSON_DetachItemViaPointer(s->tags, old));
    }
    persist(call, s, s->region, s->name, NULL, NULL);
}

static int tag_cmp(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(in_str(x, "Key"), in_str(y, "Key"));
}

void sl_firehose_list_tags_for_delivery_stream(sl_api_call *call)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 0);
    if (!s)
        return;
    const char *after = in_str(call->input, "ExclusiveStartTagKey");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(call->input, "Limit");
    size_t limit = cJSON_IsNumber(lim) ? (size_t)lim->valuedouble : 50;
    size_t n = (size_t)cJSON_GetArraySize(s->tags), k = 0, added = 0;
    const cJSON **sorted = calloc(n ? n : 1, sizeof(*sorted));
    if (!sorted) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, s->tags) sorted[k++] = t;
    qsort(sorted, n, sizeof(*sorted), tag_cmp);
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "Tags");
    int more = 0;
    for (size_t i = 0; i < n; i++) {
        if (after && strcmp(in_str(sorted[i], "Key"), after) <= 0)
            continue;
        if (added == limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(arr, cJSON_Duplicate(sorted[i], 1));
        added++;
    }
    cJSON_AddBoolToObject(out, "HasMoreTags", more);
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
    free(sorted);
}
