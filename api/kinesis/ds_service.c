/* Kinesis Data Streams service plumbing (see ds_service.h): start-up from the catalog, durable
 * snapshots through the storage writer, status timers, the ListStreams registry, periodic
 * retention and the reader thread that keeps GetRecords' disk reads off the loop.
 *
 * Durability of control-plane changes: a handler changes the in-memory model, then
 * sl_ds_persist_and_reply() queues the stream's JSON snapshot as an SQL step on the writer; the
 * reply is sent from the step's completion (posted back to the loop), i.e. after the catalog
 * transaction committed. Snapshots of one stream are applied in submission order, so the last
 * one written is the newest state. */
#include "ds_service.h"

#include "ds_crypt.h"
#include "ds_policy.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api_int.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/streams.h"
#include "sluice/time.h"

#define RETENTION_PERIOD_MS 60000 /* how often whole expired segments are removed */

typedef struct job {
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
    struct job *next;
} job;

static struct {
    int up;
    sl_store *store;
    sl_writer *w;
    sl_ds_token_key key;
    sl_ds_model **models;
    size_t n_models;
    uint64_t delay_ms;
    int64_t hour_ms;
    int shard_limits;
    void *retention_timer;
    /* reader thread */
    pthread_t thr;
    int thr_up;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stop;
} ds = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static const char *const migration[] = {
    "CREATE TABLE ds_streams(region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, "
    "PRIMARY KEY(region, name));"
    "CREATE TABLE ds_secret(k TEXT PRIMARY KEY, v BLOB NOT NULL);",
};

sl_store *sl_ds_store(void)
{
    return ds.store;
}

int sl_ds_shard_limits_on(void)
{
    return ds.shard_limits;
}

int64_t sl_ds_retention_ms(const sl_ds_stream *s)
{
    return (int64_t)s->retention_hours * (ds.hour_ms > 0 ? ds.hour_ms : 3600000);
}

const sl_ds_token_key *sl_ds_key(void)
{
    return &ds.key;
}

sl_ds_model *sl_ds_model_of(const char *region)
{
    for (size_t i = 0; i < ds.n_models; i++) {
        if (strcmp(ds.models[i]->region, region) == 0)
            return ds.models[i];
    }
    sl_ds_model **grown = realloc(ds.models, (ds.n_models + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    ds.models = grown;
    sl_ds_model *m = malloc(sizeof(*m));
    if (!m)
        return NULL;
    sl_ds_model_init(m, sl_api_account_id(), region);
    ds.models[ds.n_models++] = m;
    return m;
}

/* ---- reader thread ------------------------------------------------------------------------ */

static void *reader_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&ds.mu);
    for (;;) {
        while (!ds.head && !ds.stop)
            pthread_cond_wait(&ds.cv, &ds.mu);
        if (!ds.head)
            break;
        job *j = ds.head;
        ds.head = j->next;
        if (!ds.head)
            ds.tail = NULL;
        pthread_mutex_unlock(&ds.mu);
        j->work(j->arg);
        if (sl_loop_post(j->done, j->arg) != 0)
            sl_error("kinesis", "cannot post a read completion: out of memory");
        free(j);
        pthread_mutex_lock(&ds.mu);
    }
    pthread_mutex_unlock(&ds.mu);
    return NULL;
}

int sl_ds_reader_submit(void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
    job *j = malloc(sizeof(*j));
    if (!j)
        return SL_ENOMEM;
    *j = (job){work, done, arg, NULL};
    pthread_mutex_lock(&ds.mu);
    if (ds.stop || !ds.thr_up) {
        pthread_mutex_unlock(&ds.mu);
        free(j);
        return SL_ECLOSED;
    }
    if (ds.tail)
        ds.tail->next = j;
    else
        ds.head = j;
    ds.tail = j;
    pthread_cond_signal(&ds.cv);
    pthread_mutex_unlock(&ds.mu);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------ */

void sl_ds_call_keep(sl_ds_call *k, const sl_api_call *call)
{
    k->call = *call;
    k->call.input = NULL;
    snprintf(k->region, sizeof(k->region), "%s", call->region);
    k->call.region = k->region;
    sl_exchange_ref(call->ex);
}

void sl_ds_call_release(sl_ds_call *k)
{
    if (k->call.ex)
        sl_exchange_unref(k->call.ex);
    k->call.ex = NULL;
}

void sl_ds_reply_err(sl_api_call *call, const sl_ds_err *e)
{
    int status = strcmp(e->type, "InternalFailure") == 0 ? 500 : 400;
    sl_wire_reply_error(call->ex, call->op->service->proto, call->op->service, status, e->type,
                        e->msg, NULL);
}

const char *sl_ds_in_str(const cJSON *in, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double sl_ds_in_num(const cJSON *in, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

void sl_ds_stream_arn(const sl_ds_model *m, const sl_ds_stream *s, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:kinesis:%s:%s:stream/%s", m->region, m->account, s->name);
}

void sl_ds_log_name(const sl_ds_model *m, const sl_ds_stream *s, uint32_t shard, char *out,
                    size_t cap)
{
    snprintf(out, cap, "kinesis/%s/%lld.%s/%u", m->region, (long long)s->created_ms, s->name,
             shard);
}

int sl_ds_attach_logs(sl_ds_model *m, sl_ds_stream *s)
{
    for (size_t i = 0; i < s->n_shards; i++) {
        if (s->shards[i].log)
            continue;
        char name[300];
        sl_ds_log_name(m, s, (uint32_t)i, name, sizeof(name));
        int rc = sl_store_log_open(ds.store, name, &s->shards[i].log);
        if (rc)
            return rc;
    }
    return 0;
}

void sl_ds_format_seq(const sl_ds_shard *sh, uint64_t counter, int64_t record_ms,
                      char out[SL_DS_SEQNO_STRLEN])
{
    sl_ds_seqno q = {
        .shard_created_s = (uint64_t)(sh->created_ms / 1000),
        .shard_index = sh->index,
        .counter = counter,
        .record_s = (uint64_t)(record_ms / 1000),
    };
    sl_ds_seqno_format(&q, out);
}

sl_ds_stream *sl_ds_stream_or_reply(sl_api_call *call, sl_ds_model *m, int live)
{
    const char *name = sl_ds_in_str(call->input, "StreamName");
    const char *arn = sl_ds_in_str(call->input, "StreamARN");
    char from_arn[200] = "";
    sl_ds_err e;

    if (arn) {
        char want[300];
        const char *slash = strstr(arn, ":stream/");
        if (!slash || strchr(slash + 8, '/')) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid StreamARN %s.", arn);
            sl_ds_reply_err(call, &e);
            return NULL;
        }
        snprintf(from_arn, sizeof(from_arn), "%s", slash + 8);
        snprintf(want, sizeof(want), "arn:aws:kinesis:%s:%s:stream/%s", m->region, m->account,
                 from_arn);
        if (strcmp(want, arn) != 0) {
            sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                          "Stream %s under account %s not found.", from_arn, m->account);
            sl_ds_reply_err(call, &e);
            return NULL;
        }
        if (name && strcmp(name, from_arn) != 0) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                          "StreamARN %s and StreamName %s do not name the same stream.", arn, name);
            sl_ds_reply_err(call, &e);
            return NULL;
        }
        name = from_arn;
    }
    if (!name) {
        sl_ds_err_set(&e, SL_EINVAL, "ValidationException",
                      "Either StreamName or StreamARN must be provided.");
        sl_ds_reply_err(call, &e);
        return NULL;
    }
    sl_ds_stream *s = live ? sl_ds_model_find_live(m, name, &e) : sl_ds_model_find(m, name);
    if (!s) {
        if (!live)
            sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                          "Stream %s under account %s not found.", name, m->account);
        sl_ds_reply_err(call, &e);
    }
    return s;
}

void sl_ds_registry_put(const sl_ds_model *m, const sl_ds_stream *s)
{
    sl_kstream_info info;
    memset(&info, 0, sizeof(info));
    snprintf(info.region, sizeof(info.region), "%s", m->region);
    snprintf(info.name, sizeof(info.name), "%s", s->name);
    sl_ds_stream_arn(m, s, info.arn, sizeof(info.arn));
    snprintf(info.status, sizeof(info.status), "%s", sl_ds_status_name(s->status));
    snprintf(info.mode, sizeof(info.mode), "%s",
             s->mode == SL_DS_ON_DEMAND ? "ON_DEMAND" : "PROVISIONED");
    info.created_ms = s->created_ms;
    if (sl_kstreams_put(&info) != 0)
        sl_error("kinesis", "ListStreams registry: cannot add %s", s->name);
}

/* ---- durable snapshots -------------------------------------------------------------------- */

typedef struct persist_job {
    sl_ds_call k; /* k.call.ex NULL: nobody to answer */
    cJSON *reply;
    char region[32];
    char name[129];
    char *doc; /* NULL: delete the row */
    int rc;
} persist_job;

static int sql_persist(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    persist_job *p = arg;
    sqlite3_stmt *st = NULL;
    const char *sql = p->doc ? "INSERT OR REPLACE INTO ds_streams(region, name, doc) VALUES(?,?,?)"
                             : "DELETE FROM ds_streams WHERE region = ? AND name = ?";
    int rc = SL_EIO;
    (void)e;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, p->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC);
    if (p->doc)
        sqlite3_bind_text(st, 3, p->doc, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
out:
    if (rc)
        sl_error("kinesis", "catalog write for stream %s failed: %s", p->name, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static void persist_free(persist_job *p)
{
    sl_ds_call_release(&p->k);
    cJSON_Delete(p->reply);
    free(p->doc);
    free(p);
}

static void persist_finish(void *arg)
{
    persist_job *p = arg;
    if (p->k.call.ex) {
        if (p->rc)
            sl_wire_call_error_code(&p->k.call, p->rc == SL_EFULL ? SL_EFULL : SL_ESTORAGE_FAILED);
        else
            sl_wire_reply_ok(&p->k.call, p->reply);
    }
    persist_free(p);
}

static void persist_done(void *arg, int rc, const sl_log_entry *e)
{
    persist_job *p = arg;
    (void)e;
    p->rc = rc;
    if (sl_loop_post(persist_finish, p) != 0)
        sl_error("kinesis", "cannot post a catalog completion: out of memory");
}

static void persist_submit(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s, const char *name,
                           cJSON *reply)
{
    persist_job *p = calloc(1, sizeof(*p));
    int rc = SL_ENOMEM;
    if (!p)
        goto fail;
    p->reply = reply;
    reply = NULL;
    snprintf(p->region, sizeof(p->region), "%s", m->region);
    snprintf(p->name, sizeof(p->name), "%s", name);
    if (s) {
        cJSON *j = sl_ds_stream_to_json(s);
        p->doc = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (!p->doc)
            goto fail;
    }
    if (call)
        sl_ds_call_keep(&p->k, call);
    rc = sl_writer_submit_fn(ds.w, sql_persist, persist_done, p);
    if (rc)
        goto fail;
    return;
fail:
    sl_error("kinesis", "cannot queue the catalog write for stream %s: %s", name, sl_err_str(rc));
    if (call)
        sl_wire_call_error_code(call, rc);
    if (p)
        persist_free(p);
    cJSON_Delete(reply);
}

void sl_ds_persist_and_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s, cJSON *reply)
{
    persist_submit(call, m, s, s->name, reply);
}

void sl_ds_persist(sl_ds_model *m, sl_ds_stream *s)
{
    persist_submit(NULL, m, s, s->name, NULL);
}

/* ---- status transitions ------------------------------------------------------------------- */

typedef struct transition {
    char region[32];
    char name[129];
    int64_t created_ms;
    char consumer[129]; /* "": the stream's own status */
} transition;

static void remove_now(sl_ds_model *m, sl_ds_stream *s)
{
    char name[129];
    for (size_t i = 0; i < s->n_shards; i++) {
        if (s->shards[i].log)
            sl_store_log_drop(ds.store, s->shards[i].log, NULL, NULL);
    }
    snprintf(name, sizeof(name), "%s", s->name);
    persist_submit(NULL, m, NULL, name, NULL);
    sl_kstreams_remove(m->region, name);
    sl_ds_model_remove(m, name);
}

static void transition_fire(void *arg)
{
    transition *t = arg;
    sl_ds_model *m = ds.up ? sl_ds_model_of(t->region) : NULL;
    sl_ds_stream *s = m ? sl_ds_model_find(m, t->name) : NULL;
    if (s && s->created_ms == t->created_ms && t->consumer[0]) {
        sl_ds_consumer *c = sl_ds_stream_find_consumer(s, t->consumer);
        if (c && c->status == SL_DS_CONSUMER_CREATING) {
            c->status = SL_DS_CONSUMER_ACTIVE;
            sl_ds_persist(m, s);
        } else if (c && c->status == SL_DS_CONSUMER_DELETING) {
            sl_ds_stream_remove_consumer(s, t->consumer);
            sl_ds_persist(m, s);
        }
    } else if (s && s->created_ms == t->created_ms) {
        if (s->status == SL_DS_DELETING) {
            remove_now(m, s);
        } else if (s->status == SL_DS_CREATING || s->status == SL_DS_UPDATING) {
            sl_ds_stream_finish(s);
            sl_ds_persist(m, s);
            sl_ds_registry_put(m, s);
        }
    }
    free(t);
}

static void schedule(sl_ds_model *m, sl_ds_stream *s, const char *consumer)
{
    transition *t = malloc(sizeof(*t));
    if (!t) {
        sl_error("kinesis", "cannot schedule the status change of %s: out of memory", s->name);
        return;
    }
    snprintf(t->region, sizeof(t->region), "%s", m->region);
    snprintf(t->name, sizeof(t->name), "%s", s->name);
    t->created_ms = s->created_ms;
    snprintf(t->consumer, sizeof(t->consumer), "%s", consumer ? consumer : "");
    if (ds.delay_ms == 0 || !sl_loop_timer_add(ds.delay_ms, transition_fire, t))
        transition_fire(t);
}

void sl_ds_schedule_transition(sl_ds_model *m, sl_ds_stream *s)
{
    schedule(m, s, NULL);
}

void sl_ds_schedule_consumer_transition(sl_ds_model *m, sl_ds_stream *s, const char *consumer)
{
    schedule(m, s, consumer);
}

/* ---- retention ---------------------------------------------------------------------------- */

typedef struct retain_job {
    size_t n;
    struct {
        sl_log *log;
        int64_t older_than_ns;
    } * items;
} retain_job;

static void retain_work(void *arg)
{
    retain_job *r = arg;
    for (size_t i = 0; i < r->n; i++) {
        uint64_t freed = 0;
        int rc = sl_log_retain(r->items[i].log, 0, r->items[i].older_than_ns, &freed);
        if (rc && rc != SL_ENOTFOUND)
            sl_warn("kinesis", "retention of %s: %s", sl_log_name(r->items[i].log), sl_err_str(rc));
        else if (freed)
            sl_info("kinesis", "retention freed %llu bytes of %s", (unsigned long long)freed,
                    sl_log_name(r->items[i].log));
    }
}

static void retain_done(void *arg)
{
    retain_job *r = arg;
    free(r->items);
    free(r);
}

static void retention_tick(void *unused)
{
    (void)unused;
    ds.retention_timer = NULL;
    if (!ds.up)
        return;
    int64_t now_ns = sl_time_now_ns();
    retain_job *r = calloc(1, sizeof(*r));
    size_t cap = 0;
    for (size_t i = 0; r && i < ds.n_models; i++) {
        sl_ds_model *m = ds.models[i];
        for (size_t j = 0; j < m->n_streams; j++) {
            sl_ds_stream *s = m->streams[j];
            for (size_t k = 0; k < s->n_shards; k++) {
                if (!s->shards[k].log)
                    continue;
                if (r->n == cap) {
                    cap = cap ? cap * 2 : 16;
                    void *g = realloc(r->items, cap * sizeof(*r->items));
                    if (!g)
                        goto arm;
                    r->items = g;
                }
                r->items[r->n].log = s->shards[k].log;
                r->items[r->n].older_than_ns = now_ns - sl_ds_retention_ms(s) * 1000000;
                r->n++;
            }
        }
    }
arm:
    if (r && (r->n == 0 || sl_ds_reader_submit(retain_work, retain_done, r) != 0))
        retain_done(r);
    ds.retention_timer = sl_loop_timer_add(RETENTION_PERIOD_MS, retention_tick, NULL);
}

/* ---- start-up ----------------------------------------------------------------------------- */

typedef struct loaded {
    char region[32];
    char *doc;
} loaded;

typedef struct load_arg {
    uint8_t secret[SL_DS_TOKEN_SECRET_BYTES];
    loaded *rows;
    size_t n;
} load_arg;

static int sql_load(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    load_arg *a = arg;
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO, step;
    (void)e;

    if (sqlite3_prepare_v2(db, "SELECT v FROM ds_secret WHERE k = 'iterator'", -1, &st, NULL))
        goto out;
    step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_bytes(st, 0) == SL_DS_TOKEN_SECRET_BYTES) {
        memcpy(a->secret, sqlite3_column_blob(st, 0), SL_DS_TOKEN_SECRET_BYTES);
    } else if (step == SQLITE_DONE) {
        sqlite3_finalize(st);
        st = NULL;
        if (RAND_bytes(a->secret, SL_DS_TOKEN_SECRET_BYTES) != 1 ||
            sqlite3_prepare_v2(db, "INSERT INTO ds_secret(k, v) VALUES('iterator', ?)", -1, &st,
                               NULL) != SQLITE_OK)
            goto out;
        sqlite3_bind_blob(st, 1, a->secret, SL_DS_TOKEN_SECRET_BYTES, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE)
            goto out;
    } else {
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT region, doc FROM ds_streams ORDER BY region, name", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        loaded *g = realloc(a->rows, (a->n + 1) * sizeof(*g));
        if (!g) {
            rc = SL_ENOMEM;
            goto out;
        }
        a->rows = g;
        snprintf(a->rows[a->n].region, sizeof(a->rows[a->n].region), "%s",
                 (const char *)sqlite3_column_text(st, 0));
        a->rows[a->n].doc = strdup((const char *)sqlite3_column_text(st, 1));
        if (!a->rows[a->n].doc) {
            rc = SL_ENOMEM;
            goto out;
        }
        a->n++;
    }
    if (step == SQLITE_DONE)
        rc = 0;
out:
    if (rc == SL_EIO)
        sl_error("kinesis", "loading the catalog failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

typedef struct orphan_scan {
    sl_log **logs;
    size_t n, cap;
} orphan_scan;

/* Under the store's registry lock: collect kinesis logs no stream owns. */
static void find_orphan(void *arg, sl_log *log)
{
    orphan_scan *o = arg;
    const char *name = sl_log_name(log);
    char region[64], rest[300];
    long long created;
    if (strncmp(name, "kinesis/", 8) != 0 ||
        sscanf(name + 8, "%63[^/]/%lld.%299s", region, &created, rest) != 3)
        return;
    char *slash = strrchr(rest, '/');
    if (!slash)
        return;
    *slash = '\0';
    for (size_t i = 0; i < ds.n_models; i++) {
        if (strcmp(ds.models[i]->region, region) != 0)
            continue;
        sl_ds_stream *s = sl_ds_model_find(ds.models[i], rest);
        if (s && s->created_ms == created)
            return;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 8;
        sl_log **g = realloc(o->logs, cap * sizeof(*g));
        if (!g)
            return;
        o->logs = g;
        o->cap = cap;
    }
    o->logs[o->n++] = log;
}

int sl_ds_service_init(void)
{
    load_arg a;
    int rc;

    if (ds.up)
        return 0;
    memset(&a, 0, sizeof(a));
    ds.store = sl_api_store();
    if (!ds.store)
        return SL_EINVAL;
    ds.w = sl_store_writer(ds.store);
    const char *delay = getenv("SLUICE_KINESIS_STATUS_DELAY_MS");
    ds.delay_ms = delay && *delay ? strtoull(delay, NULL, 10) : 200;
    const char *hour = getenv("SLUICE_KINESIS_TEST_HOUR_MS");
    ds.hour_ms = hour && *hour ? strtoll(hour, NULL, 10) : 3600000;
    if (ds.hour_ms != 3600000)
        sl_warn("kinesis", "SLUICE_KINESIS_TEST_HOUR_MS: retention hours last %lld ms (tests only)",
                (long long)ds.hour_ms);
    ds.shard_limits = sl_api_shard_limits_env();
    if (ds.shard_limits)
        sl_info("kinesis",
                "AWS per-shard throughput limits enforced (SLUICE_KINESIS_SHARD_LIMITS)");

    if ((rc = sl_store_migrate(ds.store, "kinesis_ds", migration, 1)))
        goto out;
    if ((rc = sl_writer_run_sync(ds.w, sql_load, &a)))
        goto out;
    if ((rc = sl_ds_token_key_init(&ds.key, a.secret)))
        goto out;
    if ((rc = sl_ds_crypt_init(ds.store)) || (rc = sl_ds_settings_init(ds.store)))
        goto out;
    for (size_t i = 0; i < a.n; i++) {
        cJSON *j = cJSON_Parse(a.rows[i].doc);
        sl_ds_stream *s = j ? sl_ds_stream_from_json(j) : NULL;
        sl_ds_model *m = sl_ds_model_of(a.rows[i].region);
        sl_ds_err e;
        cJSON_Delete(j);
        if (!s || !m || sl_ds_model_insert(m, s, &e) != 0) {
            sl_error("kinesis", "skipping an unreadable stream row in region %s", a.rows[i].region);
            sl_ds_stream_free(s);
            continue;
        }
        if ((rc = sl_ds_attach_logs(m, s)))
            goto out;
    }
    /* Finish what the last run left in flight. */
    for (size_t i = 0; i < ds.n_models; i++) {
        sl_ds_model *m = ds.models[i];
        for (size_t j = 0; j < m->n_streams;) {
            sl_ds_stream *s = m->streams[j];
            if (s->status == SL_DS_DELETING) {
                remove_now(m, s);
                continue;
            }
            int changed = s->status != SL_DS_ACTIVE;
            sl_ds_stream_finish(s);
            for (size_t c = 0; c < s->n_consumers;) {
                if (s->consumers[c].status == SL_DS_CONSUMER_DELETING) {
                    sl_ds_stream_remove_consumer(s, s->consumers[c].name);
                    changed = 1;
                    continue;
                }
                changed |= s->consumers[c].status != SL_DS_CONSUMER_ACTIVE;
                s->consumers[c].status = SL_DS_CONSUMER_ACTIVE;
                c++;
            }
            if (changed)
                sl_ds_persist(m, s);
            sl_ds_registry_put(m, s);
            j++;
        }
    }
    orphan_scan o = {0};
    sl_store_log_foreach(ds.store, find_orphan, &o);
    for (size_t i = 0; i < o.n; i++) {
        sl_info("kinesis", "dropping orphaned log %s", sl_log_name(o.logs[i]));
        sl_store_log_drop(ds.store, o.logs[i], NULL, NULL);
    }
    free(o.logs);

    pthread_mutex_lock(&ds.mu);
    ds.stop = 0;
    rc = pthread_create(&ds.thr, NULL, reader_main, NULL) == 0 ? 0 : SL_ENOMEM;
    ds.thr_up = rc == 0;
    pthread_mutex_unlock(&ds.mu);
    if (rc)
        goto out;
    ds.up = 1;
    retention_tick(NULL);
    sl_info("kinesis",
            "data streams ready: %zu stream(s) loaded, status delay %llu ms, shard limits %s", a.n,
            (unsigned long long)ds.delay_ms, ds.shard_limits ? "on" : "off");
out:
    for (size_t i = 0; i < a.n; i++)
        free(a.rows[i].doc);
    free(a.rows);
    OPENSSL_cleanse(a.secret, sizeof(a.secret));
    if (rc)
        sl_error("kinesis", "data streams failed to start: %s", sl_err_str(rc));
    return rc;
}

void sl_ds_service_shutdown(void)
{
    if (ds.retention_timer)
        sl_loop_timer_cancel(ds.retention_timer);
    ds.retention_timer = NULL;
    pthread_mutex_lock(&ds.mu);
    ds.stop = 1;
    pthread_cond_broadcast(&ds.cv);
    int joined = ds.thr_up;
    pthread_mutex_unlock(&ds.mu);
    if (joined)
        pthread_join(ds.thr, NULL);
    ds.thr_up = 0;
    for (size_t i = 0; i < ds.n_models; i++) {
        sl_ds_model_cleanup(ds.models[i]);
        free(ds.models[i]);
    }
    free(ds.models);
    ds.models = NULL;
    ds.n_models = 0;
    sl_ds_token_key_cleanup(&ds.key);
    sl_ds_crypt_shutdown();
    sl_ds_settings_shutdown();
    ds.up = 0;
    ds.store = NULL;
}

int sl_ds_ready_or_reply(sl_api_call *call)
{
    if (ds.up)
        return 0;
    int rc = sl_ds_service_init();
    if (rc)
        sl_wire_call_error_code(call, SL_EINTERNAL);
    return rc;
}

sl_ds_model *sl_ds_model_or_reply(sl_api_call *call)
{
    if (sl_ds_ready_or_reply(call))
        return NULL;
    sl_ds_model *m = sl_ds_model_of(call->region);
    if (!m)
        sl_wire_call_error_code(call, SL_ENOMEM);
    return m;
}
