/* The runtime of one running Analytics application: a worker thread that reads the input
 * stream's shard logs, maps records to rows, runs them through the compiled SQL application
 * and ships the rows of configured outputs to their destination streams.
 *
 * Worker loop (until asked to stop, checked at least every 100 ms):
 *   1. for each input shard, read what is durable from its position (sl_log_read_many), take
 *      each record's data (ka_ds_record_data), map it (ka_map_record) and push the rows into
 *      the in-application input stream <NamePrefix>_00<i> (shards spread over the parallelism
 *      count) with ROWTIME = max(previous ROWTIME, now) -- so ROWTIME never goes back;
 *      unparsable records become error_stream rows;
 *   2. once per idle second, a heartbeat (sl_sql_app_clock(now)) closes windows on time;
 *   3. rows the sink collected for each output are formatted (JSON or CSV) and posted to the
 *      loop thread, which appends them to the destination data stream (ka_ds_append);
 *   4. the positions reached are published under a mutex for checkpoints
 *      (LAST_STOPPED_POINT) and read by the loop thread.
 * At most MAX_INFLIGHT_BATCHES output batches wait for the loop at a time; past that the
 * worker stops reading input until the loop catches up (back-pressure, bounded memory).
 * Lambda preprocessing (InputProcessingConfiguration.InputLambdaProcessor): the records read
 * from a shard in one round go, as one batch, through Firehose's Lambda invocation
 * (sl_fh_lambda_invoke, api/firehose/fh_lambda.c: the function URL from
 * SLUICE_FIREHOSE_LAMBDA_URLS, event {invocationId, deliveryStreamArn = the input stream's ARN,
 * region, records:[{recordId, approximateArrivalTimestamp, data}]}); each answer is applied in
 * record order: Ok -> the returned data is mapped as the record's payload, Dropped -> nothing,
 * ProcessingFailed -> an error_stream row (LambdaProcessingFailed, DATA_ROW = the original
 * payload). An invocation that fails as a whole is retried (once a second, for ever, as the
 * spec says) before the shard's position moves on.
 * Test-only clock: with SLUICE_ANALYTICS_TEST_CLOCK=partition-key in the environment (read at
 * start; never set in production) time comes from the input instead of the wall clock, so
 * end-to-end tests can check the spec's exact ROWTIMEs (spec §3 "the harness injects that
 * ROWTIME"): a Data Streams record whose partition key is a timestamp ("2024-01-15
 * 10:00:05.000", any form sl_sql_parse_timestamp reads) enters with that ROWTIME (also its
 * APPROXIMATE_ARRIVAL_TIME; still forced monotone); a record keyed "clock <timestamp>" is a
 * heartbeat (its payload is ignored); other keys take the wall clock; no wall-clock heartbeats
 * are sent; and every record written to a data stream output carries its row's ROWTIME as
 * its partition key ("yyyy-MM-dd HH:mm:ss.SSS").
 * Delivery is at-least-once only across checkpoints: rows emitted after the last saved
 * checkpoint may repeat after a restart. Window state is not checkpointed (it is rebuilt from
 * new rows), as the spec's recovery notes allow. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../firehose/fh.h"
#include "../kinesis/ds_crypt.h"
#include "ka.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/storage.h"
#include "sluice/time.h"

typedef struct inflight inflight;

struct ka_run {
    ka_run_cfg cfg;
    sl_sql_app *app;
    pthread_t thr;
    int thr_up;
    atomic_int stop;
    inflight *flight;
    pthread_mutex_t mu;
    uint64_t *pos;       /* worker's positions (worker only) */
    uint64_t *published; /* under mu */
    int64_t last_rowtime;
    int out_idx[3];
    sl_buf out_data[3];
    uint32_t *out_lens[3];
    size_t out_n[3], out_cap[3];
    size_t cur_input; /* input stream index of the record being mapped */
    int64_t cur_rowtime;
    int64_t cur_arrival;     /* the record's arrival time in the data stream */
    int test_clock;          /* SLUICE_ANALYTICS_TEST_CLOCK=partition-key */
    int64_t lambda_retry_at; /* a failed preprocessing invocation: not before this (ms) */
    int64_t lambda_logged;   /* last failure logged (ms) */
    char region[32];         /* of the input stream (Lambda event) */
    int64_t *out_rowtimes[3];
    const char *cur_raw;
    size_t cur_raw_len;
};

void ka_run_cfg_free(ka_run_cfg *cfg)
{
    free(cfg->code);
    ka_schema_free(&cfg->input);
    free(cfg->shards);
    free(cfg->start);
    if (cfg->has_table)
        ka_schema_free(&cfg->table.schema);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- compile ------------------------------------------------------------------------------ */

typedef struct env_build {
    sl_sql_relation rel[64];
    char names[64][80];
    sl_sql_column *cols;
    sl_sql_relation table;
    sl_sql_column *tcols;
    sl_sql_env env;
} env_build;

static int env_make(env_build *b, const ka_schema *input, const char *prefix, int parallelism,
                    const ka_schema *table, const char *table_name)
{
    memset(b, 0, sizeof(*b));
    if (parallelism < 1 || parallelism > 64)
        parallelism = 1;
    if (input) {
        b->cols = calloc(input->n_cols + 1, sizeof(sl_sql_column));
        if (!b->cols)
            return SL_ENOMEM;
        for (int k = 0; k < parallelism; k++) {
            snprintf(b->names[k], sizeof(b->names[k]), "%s_%03d", prefix, k + 1);
            ka_schema_relation(input, b->names[k], b->cols, &b->rel[k]);
        }
        b->env.inputs = b->rel;
        b->env.n_inputs = (size_t)parallelism;
    }
    if (table) {
        b->tcols = calloc(table->n_cols + 1, sizeof(sl_sql_column));
        if (!b->tcols)
            return SL_ENOMEM;
        ka_schema_relation(table, table_name, b->tcols, &b->table);
        b->env.tables = &b->table;
        b->env.n_tables = 1;
    }
    b->env.seed = 1;
    return 0;
}

static void env_free(env_build *b)
{
    free(b->cols);
    free(b->tcols);
}

int ka_validate_code(const char *code, const ka_schema *input, const char *prefix, int parallelism,
                     const ka_schema *table, const char *table_name, sl_diag *d)
{
    env_build b;
    int rc = env_make(&b, input, prefix, parallelism, table, table_name);
    sl_sql_app *app = NULL;
    if (!rc)
        rc = sl_sql_compile(code, strlen(code), &b.env, &app, d);
    sl_sql_app_free(app);
    env_free(&b);
    return rc;
}

/* ---- worker ------------------------------------------------------------------------------ */

/* Output batches posted to the loop and not yet appended: the worker stops reading input
 * while too many are in flight (back-pressure instead of growing memory). Shared by the run
 * and its batches; freed by the last holder. */
struct inflight {
    atomic_int n;
    atomic_int refs;
};

#define MAX_INFLIGHT_BATCHES 32

static void inflight_release(inflight *f)
{
    if (atomic_fetch_sub(&f->refs, 1) == 1)
        free(f);
}

typedef struct out_batch {
    inflight *flight;
    char arn[512];
    int firehose;
    sl_buf data;
    uint32_t *lens;
    int64_t *rowtimes; /* test clock only, else NULL */
    size_t n;
} out_batch;

static void out_batch_run(void *arg)
{
    out_batch *b = arg;
    int rc = b->firehose ? ka_fh_append(b->arn, &b->data, b->lens, b->n)
                         : ka_ds_append(b->arn, &b->data, b->lens, b->rowtimes, b->n);
    if (rc)
        sl_error("analytics", "cannot deliver %zu records to %s: %s", b->n, b->arn, sl_err_str(rc));
    atomic_fetch_sub(&b->flight->n, 1);
    inflight_release(b->flight);
    sl_buf_cleanup(&b->data);
    free(b->lens);
    free(b->rowtimes);
    free(b);
}

static void flush_outputs(ka_run *r)
{
    for (size_t o = 0; o < r->cfg.n_outputs; o++) {
        if (!r->out_n[o])
            continue;
        out_batch *b = calloc(1, sizeof(*b));
        if (!b)
            continue;
        b->flight = r->flight;
        atomic_fetch_add(&r->flight->refs, 1);
        atomic_fetch_add(&r->flight->n, 1);
        snprintf(b->arn, sizeof(b->arn), "%s", r->cfg.outputs[o].arn);
        b->firehose = r->cfg.outputs[o].firehose;
        b->data = r->out_data[o];
        b->lens = r->out_lens[o];
        b->rowtimes = r->out_rowtimes[o];
        b->n = r->out_n[o];
        memset(&r->out_data[o], 0, sizeof(r->out_data[o]));
        r->out_lens[o] = NULL;
        r->out_rowtimes[o] = NULL;
        r->out_n[o] = r->out_cap[o] = 0;
        if (sl_loop_post(out_batch_run, b)) {
            atomic_fetch_sub(&r->flight->n, 1);
            inflight_release(r->flight);
            sl_buf_cleanup(&b->data);
            free(b->lens);
            free(b->rowtimes);
            free(b);
        }
    }
}

static void sink(void *ud, int stream, int64_t rowtime, const sl_sql_value *vals, size_t n)
{
    ka_run *r = ud;
    (void)n;
    for (size_t o = 0; o < r->cfg.n_outputs; o++) {
        if (r->out_idx[o] != stream)
            continue;
        const sl_sql_relation *rel = sl_sql_app_stream(r->app, (size_t)stream, NULL);
        size_t before = r->out_data[o].len;
        if (r->cfg.outputs[o].json)
            sl_sql_row_json(&r->out_data[o], rel, vals);
        else
            sl_sql_row_csv(&r->out_data[o], rel, vals);
        if (r->out_n[o] == r->out_cap[o]) {
            size_t nc = r->out_cap[o] ? r->out_cap[o] * 2 : 64;
            uint32_t *nl = realloc(r->out_lens[o], nc * sizeof(uint32_t));
            if (!nl) {
                r->out_data[o].len = before;
                continue;
            }
            r->out_lens[o] = nl;
            if (r->test_clock) {
                int64_t *nr = realloc(r->out_rowtimes[o], nc * sizeof(int64_t));
                if (!nr) {
                    r->out_data[o].len = before;
                    continue;
                }
                r->out_rowtimes[o] = nr;
            }
            r->out_cap[o] = nc;
        }
        if (r->test_clock)
            r->out_rowtimes[o][r->out_n[o]] = rowtime;
        r->out_lens[o][r->out_n[o]++] = (uint32_t)(r->out_data[o].len - before);
    }
}

static void on_row(void *ud, const sl_sql_value *vals)
{
    ka_run *r = ud;
    sl_sql_app_push_arrival(r->app, r->cur_input, r->cur_rowtime, r->cur_arrival, vals);
}

static void on_err(void *ud, const char *name, const char *msg)
{
    ka_run *r = ud;
    sl_sql_app_input_error(r->app, r->cur_rowtime, name, msg, r->cur_raw, r->cur_raw_len);
}

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

static int load_table(ka_run *r);

/* Test clock: the time a record's partition key names. Returns 1 (row time), 2 (heartbeat
 * "clock <ts>") or 0 (not a time: use the wall clock). */
static int key_time(const char *entry, size_t len, int64_t *t)
{
    const char *k;
    size_t kl;
    if (ka_ds_record_key(entry, len, &k, &kl))
        return 0;
    int beat = kl > 6 && !memcmp(k, "clock ", 6);
    if (beat) {
        k += 6;
        kl -= 6;
    }
    if (!kl || sl_sql_parse_timestamp(k, kl, t))
        return 0;
    return beat ? 2 : 1;
}

static int record_payload(const ka_run *r, size_t s, const sl_log_item *it, const char **d,
                          size_t *dl)
{
    if (r->cfg.shards[s].raw) {
        *d = it->payload;
        *dl = it->e.len;
        return 0;
    }
    return ka_ds_record_data(it->payload, it->e.len, d, dl);
}

/* Sets the record's ROWTIME (monotone), arrival time and in-app input stream. Returns 1 when
 * the record is a test-clock heartbeat (already applied), else 0. */
static int record_time(ka_run *r, size_t s, const sl_log_item *it)
{
    int64_t t = now_ms(), kt = 0;
    int kind = r->test_clock && !r->cfg.shards[s].raw ? key_time(it->payload, it->e.len, &kt) : 0;
    if (kind == 2) {
        if (kt > r->last_rowtime) {
            r->last_rowtime = kt;
            sl_sql_app_clock(r->app, kt);
        }
        return 1;
    }
    if (kind == 1)
        t = kt;
    if (t < r->last_rowtime)
        t = r->last_rowtime;
    r->last_rowtime = t;
    r->cur_rowtime = t;
    r->cur_arrival = kind == 1 ? kt : it->e.ts_ns / 1000000;
    r->cur_input = s % (size_t)(r->cfg.parallelism < 1 ? 1 : r->cfg.parallelism);
    return 0;
}

/* Lambda preprocessing of one round's records of shard s (up to a test-clock heartbeat, which
 * is applied in its place). Returns the records consumed; 0 (positions unchanged) while the
 * function fails. */
static size_t preprocess(ka_run *r, size_t s, const sl_log_item *items, size_t ni)
{
    sl_fh_rec recs[256];
    const char *raw[256];
    size_t raw_len[256], idx[256], n = 0, consumed = 0;
    int64_t now = now_ms();
    if (now < r->lambda_retry_at)
        return 0;
    for (size_t k = 0; k < ni && k < 256; k++) {
        const char *d;
        size_t dl;
        if (record_payload(r, s, &items[k], &d, &dl))
            continue;
        int64_t kt;
        if (r->test_clock && !r->cfg.shards[s].raw &&
            key_time(items[k].payload, items[k].e.len, &kt) == 2) {
            if (!n) { /* the heartbeat comes first: apply it alone */
                r->pos[s] = items[k].e.next_offset;
                record_time(r, s, &items[k]);
                return 1;
            }
            break;
        }
        recs[n] = (sl_fh_rec){.data = d, .len = dl, .ts_ms = items[k].e.ts_ns / 1000000};
        raw[n] = d;
        raw_len[n] = dl;
        idx[n++] = k;
    }
    if (!n) { /* nothing readable: step over what was read */
        if (ni)
            r->pos[s] = items[(ni < 256 ? ni : 256) - 1].e.next_offset;
        return ni < 256 ? ni : 256;
    }
    sl_buf out = SL_BUF_INIT;
    sl_fh_xform res[256];
    char err[300] = "";
    memset(res, 0, sizeof(res));
    int rc = sl_fh_lambda_invoke(r->cfg.lambda_arn, r->cfg.input_arn, r->region, recs, n, &out, res,
                                 err, sizeof(err));
    if (rc) {
        r->lambda_retry_at = now + 1000;
        if (now - r->lambda_logged >= 10000) {
            r->lambda_logged = now;
            sl_error("analytics", "%s: preprocessing function %s failed (retrying): %s",
                     r->cfg.app_name, r->cfg.lambda_arn, rc == SL_ENOMEM ? "out of memory" : err);
        }
        sl_buf_cleanup(&out);
        return 0;
    }
    for (size_t j = 0; j < n; j++) {
        const sl_log_item *it = &items[idx[j]];
        r->pos[s] = it->e.next_offset;
        consumed++;
        record_time(r, s, it);
        r->cur_raw = raw[j];
        r->cur_raw_len = raw_len[j];
        if (res[j].result == SL_FH_X_OK)
            ka_map_record(&r->cfg.input, out.data + res[j].off, res[j].len, on_row, on_err, r);
        else if (res[j].result == SL_FH_X_FAILED)
            sl_sql_app_input_error(r->app, r->cur_rowtime, "LambdaProcessingFailed",
                                   "the preprocessing function answered ProcessingFailed", raw[j],
                                   raw_len[j]);
        cJSON_Delete(res[j].keys);
    }
    sl_buf_cleanup(&out);
    return consumed;
}

static void *worker(void *arg)
{
    ka_run *r = arg;
    sl_buf buf = SL_BUF_INIT;
    sl_log_item items[256];
    int64_t last_clock = 0, last_ckpt = now_ms();
    if (r->cfg.has_table && load_table(r))
        sl_error("analytics", "%s: reference data could not be loaded", r->cfg.app_name);
    while (!atomic_load(&r->stop)) {
        size_t got = 0;
        if (atomic_load(&r->flight->n) > MAX_INFLIGHT_BATCHES) {
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL); /* the loop is behind on appends: wait for it */
            continue;
        }
        for (size_t s = 0; s < r->cfg.n_shards && !atomic_load(&r->stop); s++) {
            size_t ni = 0;
            int rc =
                sl_log_read_many(r->cfg.shards[s].log, r->pos[s], 1 << 20, items, 256, &buf, &ni);
            if (rc == SL_ERANGE) {
                r->pos[s] = sl_log_first_offset(r->cfg.shards[s].log);
                continue;
            }
            if (rc || !ni)
                continue;
            if (!r->cfg.shards[s].raw) /* sealed records of an encrypted stream */
                sl_ds_crypt_open_items(sl_ds_crypt_ring(), r->cfg.shards[s].log, items, ni);
            if (r->cfg.lambda_arn[0]) {
                got += preprocess(r, s, items, ni);
                continue;
            }
            for (size_t k = 0; k < ni; k++) {
                const char *d;
                size_t dl;
                r->pos[s] = items[k].e.next_offset;
                if (record_payload(r, s, &items[k], &d, &dl))
                    continue;
                got++;
                if (record_time(r, s, &items[k]))
                    continue; /* a test-clock heartbeat */
                r->cur_raw = d;
                r->cur_raw_len = dl;
                ka_map_record(&r->cfg.input, d, dl, on_row, on_err, r);
            }
        }
        int64_t t = now_ms();
        if (!r->test_clock && (t - last_clock >= 1000 || got)) {
            if (t > r->last_rowtime && t - last_clock >= 1000) {
                sl_sql_app_clock(r->app, t);
                last_clock = t;
            }
        }
        flush_outputs(r);
        pthread_mutex_lock(&r->mu);
        memcpy(r->published, r->pos, r->cfg.n_shards * sizeof(uint64_t));
        pthread_mutex_unlock(&r->mu);
        if (r->cfg.checkpoint && t - last_ckpt >= r->cfg.checkpoint_ms) {
            last_ckpt = t;
            sl_loop_post(r->cfg.checkpoint, NULL);
        }
        if (!got) {
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
        }
    }
    flush_outputs(r);
    sl_buf_cleanup(&buf);
    return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

typedef struct trow {
    sl_sql_value *v;       /* n rows x n_cols */
    sl_sql_value **blocks; /* the deep copies the values point into */
    size_t n, cap, n_cols;
    int oom;
} trow;

static void table_row(void *ud, const sl_sql_value *vals)
{
    trow *t = ud;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        sl_sql_value *nv = realloc(t->v, nc * t->n_cols * sizeof(*nv));
        sl_sql_value **nb = nv ? realloc(t->blocks, nc * sizeof(*nb)) : NULL;
        if (nv)
            t->v = nv;
        if (!nb) {
            t->oom = 1;
            return;
        }
        t->blocks = nb;
        t->cap = nc;
    }
    sl_sql_value *copy = sl_sql_values_dup(vals, t->n_cols);
    if (!copy) {
        t->oom = 1;
        return;
    }
    memcpy(t->v + t->n * t->n_cols, copy, t->n_cols * sizeof(*copy));
    t->blocks[t->n++] = copy;
}

static void table_err(void *ud, const char *name, const char *msg)
{
    (void)ud;
    sl_warn("analytics", "reference data row dropped: %s: %s", name, msg);
}

#define MAX_REFERENCE_BYTES (1024L * 1024 * 1024)

/* Reads the reference object into data -- from the local S3 layout, or from the S3-compatible
 * endpoint when Firehose's configuration names one (ka_s3.c). Returns 0, 1 (not readable or
 * over 1 GB: logged) or SL_ENOMEM. */
static int read_object(ka_run *r, sl_buf *data)
{
    const ka_table_cfg *tc = &r->cfg.table;
    if (ka_s3_remote()) {
        char msg[512] = "";
        int rc = tc->bucket[0] ? ka_s3_get(tc->bucket, tc->key, (size_t)MAX_REFERENCE_BYTES, data,
                                           msg, sizeof(msg))
                               : SL_EINVAL;
        if (rc && rc != SL_ENOMEM)
            sl_error("analytics", "%s: reference object %s/%s cannot be read%s%s", r->cfg.app_name,
                     tc->bucket, tc->key, msg[0] ? ": " : "", msg);
        return rc == SL_ENOMEM ? rc : rc ? 1 : 0;
    }
    FILE *f = tc->path[0] ? fopen(tc->path, "rb") : NULL;
    if (!f) {
        sl_error("analytics", "%s: reference object %s cannot be read", r->cfg.app_name, tc->path);
        return 1;
    }
    char chunk[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (data->len + got > (size_t)MAX_REFERENCE_BYTES) {
            sl_error("analytics", "%s: reference object %s is larger than 1 GB", r->cfg.app_name,
                     tc->path);
            rc = 1;
            break;
        }
        sl_buf_append(data, chunk, got);
    }
    fclose(f);
    return rc;
}

/* Reads the reference object, maps it and loads it into table 0 (worker thread). A missing,
 * unreadable or oversized object leaves the table empty (logged); the application keeps
 * running. */
static int load_table(ka_run *r)
{
    sl_buf data = SL_BUF_INIT;
    int rc = read_object(r, &data);
    if (rc) {
        sl_buf_cleanup(&data);
        return rc < 0 ? rc : 0;
    }
    trow t = {.n_cols = r->cfg.table.schema.n_cols};
    ka_map_record(&r->cfg.table.schema, data.data ? data.data : "", data.len, table_row, table_err,
                  &t);
    sl_buf_cleanup(&data);
    rc = t.oom ? SL_ENOMEM : sl_sql_app_load_table(r->app, 0, t.v, t.n);
    for (size_t k = 0; k < t.n; k++)
        free(t.blocks[k]);
    free(t.blocks);
    free(t.v);
    return rc;
}

/* Frees a run whose worker is not running (never started, or joined). */
static void run_free(ka_run *r)
{
    for (size_t o = 0; o < 3; o++) {
        sl_buf_cleanup(&r->out_data[o]);
        free(r->out_lens[o]);
        free(r->out_rowtimes[o]);
    }
    inflight_release(r->flight);
    sl_sql_app_free(r->app);
    free(r->pos);
    free(r->published);
    ka_run_cfg_free(&r->cfg);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int ka_run_start(ka_run_cfg *cfg, ka_run **out, sl_diag *d)
{
    ka_run *r = calloc(1, sizeof(*r));
    if (!r) {
        ka_run_cfg_free(cfg);
        return SL_ENOMEM;
    }
    r->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    pthread_mutex_init(&r->mu, NULL);
    r->flight = calloc(1, sizeof(*r->flight));
    if (!r->flight) {
        ka_run_cfg_free(&r->cfg);
        pthread_mutex_destroy(&r->mu);
        free(r);
        return SL_ENOMEM;
    }
    atomic_store(&r->flight->refs, 1);
    env_build b;
    int rc = env_make(&b, &r->cfg.input, r->cfg.name_prefix, r->cfg.parallelism,
                      r->cfg.has_table ? &r->cfg.table.schema : NULL, r->cfg.table.name);
    if (!rc)
        rc = sl_sql_compile(r->cfg.code, strlen(r->cfg.code), &b.env, &r->app, d);
    env_free(&b);
    if (rc)
        goto fail;
    const char *rg =
        strncmp(r->cfg.input_arn, "arn:aws:", 8) ? NULL : strchr(r->cfg.input_arn + 8, ':');
    if (rg) /* arn:aws:<service>:<region>:... */
        snprintf(r->region, sizeof(r->region), "%.*s", (int)strcspn(rg + 1, ":"), rg + 1);
    const char *tc = getenv("SLUICE_ANALYTICS_TEST_CLOCK");
    r->test_clock = tc && !strcmp(tc, "partition-key");
    sl_sql_app_set_sink(r->app, sink, r);
    for (size_t o = 0; o < r->cfg.n_outputs; o++)
        r->out_idx[o] = sl_sql_app_find_stream(r->app, r->cfg.outputs[o].name);
    r->pos = calloc(r->cfg.n_shards + 1, sizeof(uint64_t));
    r->published = calloc(r->cfg.n_shards + 1, sizeof(uint64_t));
    if (!r->pos || !r->published) {
        rc = SL_ENOMEM;
        goto fail;
    }
    for (size_t s = 0; s < r->cfg.n_shards; s++)
        r->pos[s] = r->published[s] = r->cfg.start ? r->cfg.start[s] : 0;
    for (size_t o = 0; o < r->cfg.n_outputs; o++)
        if (r->out_idx[o] < 0) {
            rc = sl_diag_set(d, SL_ENOTFOUND, 0,
                             "Output name %s does not name a stream of the application code "
                             "(names are case-sensitive; unquoted names are stored in upper "
                             "case)",
                             r->cfg.outputs[o].name);
            goto fail;
        }
    if (pthread_create(&r->thr, NULL, worker, r)) {
        rc = SL_ENOMEM;
        goto fail;
    }
    r->thr_up = 1;
    *out = r;
    return 0;
fail:
    run_free(r);
    return rc;
}

size_t ka_run_n_shards(const ka_run *r)
{
    return r->cfg.n_shards;
}

void ka_run_positions(ka_run *r, uint64_t *positions, size_t n)
{
    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; k < n && k < r->cfg.n_shards; k++)
        positions[k] = r->published[k];
    pthread_mutex_unlock(&r->mu);
}

void ka_run_stop(ka_run *r, uint64_t *positions, size_t n)
{
    if (!r)
        return;
    atomic_store(&r->stop, 1);
    if (r->thr_up)
        pthread_join(r->thr, NULL);
    if (positions)
        for (size_t k = 0; k < n && k < r->cfg.n_shards; k++)
            positions[k] = r->pos[k];
    run_free(r);
}
