/* Kinesis Data Analytics (v1, SQL applications): the API operations, the application status
 * machine, persistence and checkpoints.
 *
 * State. Each application is one JSON document shaped like the API's ApplicationDetail (its
 * …Descriptions lists echo the configuration with ids) plus private members: "_created_ms",
 * "_updated_ms", "_seq" (next id per collection: ids "1.1", "1.2", … are never reused),
 * "_tags" and "_positions" (per input shard, the log offset to resume from). The document is
 * rewritten whole in the catalog (component "kinesis_analytics", table ka_apps) on every
 * change, and a reply is sent only after that write committed.
 *
 * Status machine (function performing each transition):
 *
 *   create_application -> READY --start_application--> RUNNING --stop_application--> READY
 *   RUNNING --update/add/delete (restart_runtime)--> RUNNING (UPDATING while rebuilding)
 *   any --delete_application--> (gone)
 *
 * STARTING, STOPPING, UPDATING and DELETING exist only inside one handler here (the worker
 * starts and stops synchronously), so clients see READY and RUNNING. Mutations carry
 * CurrentApplicationVersionId (mismatch: ConcurrentModificationException); every
 * configuration change adds 1 to ApplicationVersionId; start/stop/tags do not.
 *
 * Checkpoints: every 5 s (posted by the workers) and at stop, the positions each worker reached
 * are copied into "_positions" and persisted, so LAST_STOPPED_POINT resumes after a stop or a
 * restart of sluiced; applications that were RUNNING at shutdown are restarted from their
 * checkpoint at start-up.
 *
 * Threads: everything here runs on the loop thread, except the catalog steps (writer thread)
 * and DiscoverInputSchema's sampling (a short-lived thread). */
#include "analytics.h"

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../api_int.h"
#include "../firehose/firehose.h"
#include "../kinesis/ds_service.h"
#include "ka.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define MAX_APPS_PER_REGION 50
#define CHECKPOINT_MS       5000

typedef struct ka_app {
    char region[32];
    char name[129];
    cJSON *doc;
    ka_run *run;
    ka_shard_ref *shards; /* of the running input (copy of the run's) */
    size_t n_shards;
    int restart_now; /* the runtime was stopped for a new source: start it from NOW */
} ka_app;

static struct {
    int up;
    sl_store *store;
    sl_writer *w;
    ka_app **apps;
    size_t n;
    char s3_root[1024];
} ka;

static const char *const migration[] = {
    "CREATE TABLE ka_apps(region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, "
    "PRIMARY KEY(region, name));",
};

/* ---- small helpers ----------------------------------------------------------------------- */

static const char *in_str(const cJSON *o, const char *name)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double in_num(const cJSON *o, const char *name, double dflt)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(j) ? j->valuedouble : dflt;
}

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

static const char *status_of(const ka_app *a)
{
    return in_str(a->doc, "ApplicationStatus");
}

static void set_str(cJSON *o, const char *name, const char *v)
{
    cJSON *n = cJSON_CreateString(v);
    if (cJSON_GetObjectItemCaseSensitive(o, name))
        cJSON_ReplaceItemInObjectCaseSensitive(o, name, n);
    else
        cJSON_AddItemToObject(o, name, n);
}

static void set_num(cJSON *o, const char *name, double v)
{
    cJSON *n = cJSON_CreateNumber(v);
    if (cJSON_GetObjectItemCaseSensitive(o, name))
        cJSON_ReplaceItemInObjectCaseSensitive(o, name, n);
    else
        cJSON_AddItemToObject(o, name, n);
}

static cJSON *arr_of(cJSON *o, const char *name)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsArray(a)) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, name);
        a = cJSON_AddArrayToObject(o, name);
    }
    return a;
}

static ka_app *find_app(const char *region, const char *name)
{
    for (size_t k = 0; k < ka.n; k++)
        if (!strcmp(ka.apps[k]->region, region) && !strcmp(ka.apps[k]->name, name))
            return ka.apps[k];
    return NULL;
}

static size_t count_region(const char *region)
{
    size_t c = 0;
    for (size_t k = 0; k < ka.n; k++)
        c += !strcmp(ka.apps[k]->region, region);
    return c;
}

static void app_arn(const char *region, const char *account, const char *name, char *out,
                    size_t cap)
{
    snprintf(out, cap, "arn:aws:kinesisanalytics:%s:%s:application/%s", region, account, name);
}

/* Next id of a collection ("in", "out", "ref", "cw"): "1.<n>". */
static void next_id(ka_app *a, const char *coll, char *out, size_t cap)
{
    cJSON *seq = cJSON_GetObjectItemCaseSensitive(a->doc, "_seq");
    if (!seq)
        seq = cJSON_AddObjectToObject(a->doc, "_seq");
    int n = (int)in_num(seq, coll, 1);
    snprintf(out, cap, "1.%d", n);
    set_num(seq, coll, n + 1);
}

static void bump_version(ka_app *a)
{
    set_num(a->doc, "ApplicationVersionId", in_num(a->doc, "ApplicationVersionId", 1) + 1);
    set_num(a->doc, "_updated_ms", (double)now_ms());
}

/* ---- persistence ------------------------------------------------------------------------- */

typedef struct persist_job {
    sl_ds_call k;
    int has_call;
    char region[32];
    char name[129];
    char *doc; /* NULL: delete */
    cJSON *reply;
    int rc;
} persist_job;

static int sql_persist(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    persist_job *p = arg;
    sqlite3_stmt *st = NULL;
    (void)e;
    const char *sql = p->doc ? "INSERT OR REPLACE INTO ka_apps(region, name, doc) VALUES(?,?,?)"
                             : "DELETE FROM ka_apps WHERE region = ? AND name = ?";
    int rc = SL_EIO;
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
        sl_error("analytics", "catalog write for application %s failed: %s", p->name,
                 sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static void persist_free(persist_job *p)
{
    if (p->has_call)
        sl_ds_call_release(&p->k);
    cJSON_Delete(p->reply);
    free(p->doc);
    free(p);
}

static void persist_finish(void *arg)
{
    persist_job *p = arg;
    if (p->has_call) {
        if (p->rc)
            sl_wire_call_error_code(&p->k.call, SL_ESTORAGE_FAILED);
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
        sl_error("analytics", "cannot post a catalog completion: out of memory");
}

/* Writes a's document (or deletes it when a is NULL: region/name name it) and then answers
 * call (may be NULL) with reply (owned; NULL = empty body). */
static void persist(sl_api_call *call, const char *region, const char *name, ka_app *a,
                    cJSON *reply)
{
    persist_job *p = calloc(1, sizeof(*p));
    int rc = SL_ENOMEM;
    if (!p)
        goto fail;
    p->reply = reply;
    reply = NULL;
    snprintf(p->region, sizeof(p->region), "%s", region);
    snprintf(p->name, sizeof(p->name), "%s", name);
    if (a && !(p->doc = cJSON_PrintUnformatted(a->doc)))
        goto fail;
    if (call) {
        sl_ds_call_keep(&p->k, call);
        p->has_call = 1;
    }
    if ((rc = sl_writer_submit_fn(ka.w, sql_persist, persist_done, p)))
        goto fail;
    return;
fail:
    sl_error("analytics", "cannot queue the catalog write for %s: %s", name, sl_err_str(rc));
    if (call)
        sl_wire_call_error_code(call, rc);
    if (p)
        persist_free(p);
    cJSON_Delete(reply);
}

/* ---- runtime control --------------------------------------------------------------------- */

static void save_positions(ka_app *a, const uint64_t *pos)
{
    cJSON *p = cJSON_CreateObject();
    for (size_t k = 0; k < a->n_shards; k++)
        cJSON_AddNumberToObject(p, a->shards[k].shard_id, (double)pos[k]);
    cJSON_DeleteItemFromObjectCaseSensitive(a->doc, "_positions");
    cJSON_AddItemToObject(a->doc, "_positions", p);
}

static void stop_runtime(ka_app *a)
{
    if (!a->run)
        return;
    uint64_t *pos = calloc(a->n_shards + 1, sizeof(uint64_t));
    ka_run_stop(a->run, pos, a->n_shards);
    a->run = NULL;
    if (pos)
        save_positions(a, pos);
    free(pos);
    free(a->shards);
    a->shards = NULL;
    a->n_shards = 0;
}

/* S3 object path of the local layout: <root>/<bucket>/<key>. */
static int s3_path(const char *bucket_arn, const char *key, char *out, size_t cap)
{
    const char *b = bucket_arn;
    if (!strncmp(b, "arn:aws:s3:::", 13))
        b += 13;
    if (!*b || strchr(b, '/') || !strcmp(b, ".") || !strcmp(b, "..") || !key || !*key ||
        key[0] == '/' || strstr(key, "../") || !strcmp(key, ".."))
        return SL_EINVAL;
    if ((size_t)snprintf(out, cap, "%s/%s/%s", ka.s3_root, b, key) >= cap)
        return SL_EINVAL;
    return 0;
}

static void checkpoint_all(void *arg);

typedef struct start_err {
    const char *type;
    char msg[300];
} start_err;

/* The preprocessing Lambda of an input, in.<conf>.<proc>.ResourceARN (request and stored
 * description name the members differently), in *lam (NULL: none). Returns 0, or SL_EINVAL with
 * msg set when the function has no URL to call. */
static int preprocessor(const cJSON *in, const char *conf, const char *proc, const char **lam,
                        char *msg, size_t cap)
{
    char url[2048];
    *lam =
        in_str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(in, conf), proc),
               "ResourceARN");
    if (*lam && ka_lambda_url(*lam, url, sizeof(url))) {
        snprintf(msg, cap,
                 "No function URL is configured for the preprocessing function %.120s "
                 "(SLUICE_FIREHOSE_LAMBDA_URLS).",
                 *lam);
        return SL_EINVAL;
    }
    return 0;
}

static const cJSON *first(const cJSON *doc, const char *list)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, list);
    return cJSON_IsArray(a) ? cJSON_GetArrayItem(a, 0) : NULL;
}

/* Builds the run configuration from the document and starts the worker. position:
 * "NOW" | "TRIM_HORIZON" | "LAST_STOPPED_POINT". */
static int start_runtime(ka_app *a, const char *position, start_err *e)
{
    ka_run_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    char err[256] = "";
    int rc;
    const cJSON *in = first(a->doc, "InputDescriptions");
    e->type = "InvalidApplicationConfigurationException";
    if (!in) {
        snprintf(e->msg, sizeof(e->msg), "Application %s has no input", a->name);
        return SL_EINVAL;
    }
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(in, "KinesisStreamsInputDescription");
    const cJSON *kf = cJSON_GetObjectItemCaseSensitive(in, "KinesisFirehoseInputDescription");
    const char *arn = ks ? in_str(ks, "ResourceARN") : in_str(kf, "ResourceARN");
    int fh_in = !ks;
    if (!arn) {
        snprintf(e->msg, sizeof(e->msg), "The input has no source stream");
        return SL_EINVAL;
    }
    if ((rc = ka_schema_parse(cJSON_GetObjectItemCaseSensitive(in, "InputSchema"), &cfg.input, err,
                              sizeof(err)))) {
        snprintf(e->msg, sizeof(e->msg), "%s", err);
        return rc;
    }
    snprintf(cfg.app_name, sizeof(cfg.app_name), "%s", a->name);
    snprintf(cfg.input_arn, sizeof(cfg.input_arn), "%s", arn);
    const char *lam;
    if ((rc = preprocessor(in, "InputProcessingConfigurationDescription",
                           "InputLambdaProcessorDescription", &lam, e->msg, sizeof(e->msg))))
        goto fail;
    if (lam)
        snprintf(cfg.lambda_arn, sizeof(cfg.lambda_arn), "%s", lam);
    snprintf(cfg.name_prefix, sizeof(cfg.name_prefix), "%s", in_str(in, "NamePrefix"));
    cfg.parallelism =
        (int)in_num(cJSON_GetObjectItemCaseSensitive(in, "InputParallelism"), "Count", 1);
    const char *code = in_str(a->doc, "ApplicationCode");
    cfg.code = strdup(code ? code : "");
    if ((rc = fh_in ? ka_fh_shards(arn, &cfg.shards, &cfg.n_shards)
                    : ka_ds_shards(arn, &cfg.shards, &cfg.n_shards))) {
        snprintf(e->msg, sizeof(e->msg), "Input stream %s was not found", arn);
        goto fail;
    }
    cfg.start = calloc(cfg.n_shards + 1, sizeof(uint64_t));
    if (!cfg.code || !cfg.start) {
        rc = SL_ENOMEM;
        goto fail;
    }
    const cJSON *saved = cJSON_GetObjectItemCaseSensitive(a->doc, "_positions");
    for (size_t k = 0; k < cfg.n_shards; k++) {
        sl_log *log = cfg.shards[k].log;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(saved, cfg.shards[k].shard_id);
        if (!strcmp(position, "TRIM_HORIZON"))
            cfg.start[k] = sl_log_first_offset(log);
        else if (!strcmp(position, "LAST_STOPPED_POINT") && cJSON_IsNumber(sp))
            cfg.start[k] = (uint64_t)sp->valuedouble;
        else if (!strcmp(position, "LAST_STOPPED_POINT") && cJSON_GetArraySize(saved) > 0)
            cfg.start[k] = sl_log_first_offset(log); /* a shard created since (resharding) */
        else
            cfg.start[k] = sl_log_end_offset(log);
    }
    /* outputs */
    const cJSON *o;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(a->doc, "OutputDescriptions"))
    {
        ka_output_cfg *oc = &cfg.outputs[cfg.n_outputs];
        const cJSON *ko = cJSON_GetObjectItemCaseSensitive(o, "KinesisStreamsOutputDescription");
        const cJSON *kfo = cJSON_GetObjectItemCaseSensitive(o, "KinesisFirehoseOutputDescription");
        const char *oarn = ko ? in_str(ko, "ResourceARN") : in_str(kfo, "ResourceARN");
        oc->firehose = !ko;
        if (!oarn) {
            snprintf(e->msg, sizeof(e->msg),
                     "Output %s: Sluice delivers to data streams and delivery streams only "
                     "(Lambda outputs are not supported)",
                     in_str(o, "Name"));
            rc = SL_EINVAL;
            goto fail;
        }
        if (!(oc->firehose ? ka_fh_exists(oarn) : ka_ds_exists(oarn))) {
            snprintf(e->msg, sizeof(e->msg), "Output stream %s was not found", oarn);
            rc = SL_EINVAL;
            goto fail;
        }
        snprintf(oc->name, sizeof(oc->name), "%s", in_str(o, "Name"));
        snprintf(oc->arn, sizeof(oc->arn), "%s", oarn);
        const char *ft =
            in_str(cJSON_GetObjectItemCaseSensitive(o, "DestinationSchema"), "RecordFormatType");
        oc->json = !ft || !strcmp(ft, "JSON");
        if (++cfg.n_outputs == 3)
            break;
    }
    /* reference data */
    const cJSON *ref = first(a->doc, "ReferenceDataSourceDescriptions");
    if (ref) {
        const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(ref, "S3ReferenceDataSourceDescription");
        if ((rc = ka_schema_parse(cJSON_GetObjectItemCaseSensitive(ref, "ReferenceSchema"),
                                  &cfg.table.schema, err, sizeof(err)))) {
            snprintf(e->msg, sizeof(e->msg), "%s", err);
            goto fail;
        }
        cfg.has_table = 1;
        snprintf(cfg.table.name, sizeof(cfg.table.name), "%s", in_str(ref, "TableName"));
        if (s3_path(in_str(s3, "BucketARN"), in_str(s3, "FileKey"), cfg.table.path,
                    sizeof(cfg.table.path))) {
            cfg.table.path[0] = 0;
        } else {
            const char *b = in_str(s3, "BucketARN");
            snprintf(cfg.table.bucket, sizeof(cfg.table.bucket), "%s",
                     strncmp(b, "arn:aws:s3:::", 13) ? b : b + 13);
            snprintf(cfg.table.key, sizeof(cfg.table.key), "%s", in_str(s3, "FileKey"));
        }
    }
    sl_diag d;
    memset(&d, 0, sizeof(d));
    ka_shard_ref *copy = malloc((cfg.n_shards + 1) * sizeof(*copy));
    size_t n_copy = cfg.n_shards;
    if (!copy) {
        rc = SL_ENOMEM;
        goto fail;
    }
    memcpy(copy, cfg.shards, cfg.n_shards * sizeof(*copy));
    cfg.checkpoint = checkpoint_all;
    cfg.checkpoint_ms = CHECKPOINT_MS;
    rc = ka_run_start(&cfg, &a->run, &d);
    if (rc) {
        free(copy);
        if (rc == SL_ENOTFOUND) {
            e->type = "InvalidApplicationConfigurationException";
            snprintf(e->msg, sizeof(e->msg), "%s", d.text);
        } else {
            e->type = "CodeValidationException";
            snprintf(e->msg, sizeof(e->msg), "%s", d.text);
        }
        return rc;
    }
    a->shards = copy;
    a->n_shards = n_copy;
    return 0;
fail:
    ka_run_cfg_free(&cfg);
    return rc ? rc : SL_EINVAL;
}

/* Copies every running worker's positions into its document and persists it. Posted by the
 * workers themselves every CHECKPOINT_MS (ka_run's checkpoint hook), so no loop timer is left
 * pending at shutdown. */
/* Whether the input's set of shard logs differs from the one the worker reads. */
static int shards_changed(const ka_app *a)
{
    const cJSON *in = first(a->doc, "InputDescriptions");
    const char *arn = in_str(cJSON_GetObjectItemCaseSensitive(in, "KinesisStreamsInputDescription"),
                             "ResourceARN");
    ka_shard_ref *now = NULL;
    size_t n = 0;
    if (!arn || ka_ds_shards(arn, &now, &n))
        return 0;
    int changed = n != a->n_shards;
    for (size_t k = 0; k < n && !changed; k++)
        changed = now[k].log != a->shards[k].log;
    free(now);
    return changed;
}

static void checkpoint_all(void *arg)
{
    (void)arg;
    if (!ka.up)
        return;
    int64_t now = now_ms();
    for (size_t k = 0; k < ka.n; k++) {
        ka_app *a = ka.apps[k];
        if (!a->run || now - (int64_t)in_num(a->doc, "_checkpoint_ms", 0) < CHECKPOINT_MS / 2)
            continue;
        uint64_t *pos = calloc(a->n_shards + 1, sizeof(uint64_t));
        if (!pos)
            continue;
        ka_run_positions(a->run, pos, a->n_shards);
        save_positions(a, pos);
        set_num(a->doc, "_checkpoint_ms", (double)now);
        free(pos);
        /* the input stream was resharded: rebuild the runtime so it reads the new shards too
         * (from their start), continuing the others where they were */
        if (shards_changed(a)) {
            start_err e;
            stop_runtime(a);
            if (start_runtime(a, "LAST_STOPPED_POINT", &e)) {
                sl_error("analytics", "%s stopped after resharding: %s", a->name, e.msg);
                set_str(a->doc, "ApplicationStatus", "READY");
            }
        }
        persist(NULL, a->region, a->name, a, NULL);
    }
}

/* ---- start-up ---------------------------------------------------------------------------- */

typedef struct load_arg {
    cJSON **docs;
    char (*regions)[32];
    size_t n;
} load_arg;

static int sql_load(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    load_arg *l = arg;
    sqlite3_stmt *st = NULL;
    (void)e;
    if (sqlite3_prepare_v2(db, "SELECT region, doc FROM ka_apps ORDER BY region, name", -1, &st,
                           NULL) != SQLITE_OK)
        return SL_EIO;
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON **nd = realloc(l->docs, (l->n + 1) * sizeof(*nd));
        char(*nr)[32] = nd ? realloc(l->regions, (l->n + 1) * sizeof(*nr)) : NULL;
        if (nd)
            l->docs = nd;
        if (!nr)
            break;
        l->regions = nr;
        l->docs[l->n] = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
        snprintf(l->regions[l->n], 32, "%s", (const char *)sqlite3_column_text(st, 0));
        if (l->docs[l->n])
            l->n++;
    }
    sqlite3_finalize(st);
    return 0;
}

/* The local S3 layout Firehose delivers to: reference data and samples are read there. */
static void set_s3_root(void)
{
    sl_firehose_s3_root_of(ka.store, ka.s3_root, sizeof(ka.s3_root));
}

int sl_ka_service_init(void)
{
    if (ka.up)
        return 0;
    int rc = sl_ds_service_init();
    if (rc)
        return rc;
    ka.store = sl_api_store();
    if (!ka.store)
        return SL_EINVAL;
    ka.w = sl_store_writer(ka.store);
    if ((rc = sl_store_migrate(ka.store, "kinesis_analytics", migration, 1)))
        return rc;
    set_s3_root();
    load_arg l = {0};
    if ((rc = sl_writer_run_sync(ka.w, sql_load, &l)))
        return rc;
    ka.up = 1;
    for (size_t k = 0; k < l.n; k++) {
        ka_app *a = calloc(1, sizeof(*a));
        ka_app **na = a ? realloc(ka.apps, (ka.n + 1) * sizeof(*na)) : NULL;
        if (!na) {
            free(a);
            cJSON_Delete(l.docs[k]);
            continue;
        }
        ka.apps = na;
        a->doc = l.docs[k];
        snprintf(a->region, sizeof(a->region), "%s", l.regions[k]);
        snprintf(a->name, sizeof(a->name), "%s", in_str(a->doc, "ApplicationName"));
        ka.apps[ka.n++] = a;
        const char *st = status_of(a);
        if (st && strcmp(st, "READY")) {
            /* was running (or between states) when sluiced stopped: resume */
            start_err e;
            if (start_runtime(a, "LAST_STOPPED_POINT", &e) == 0) {
                set_str(a->doc, "ApplicationStatus", "RUNNING");
            } else {
                sl_warn("analytics", "application %s not resumed: %s", a->name, e.msg);
                set_str(a->doc, "ApplicationStatus", "READY");
            }
        }
    }
    free(l.docs);
    free(l.regions);
    return 0;
}

void sl_ka_service_shutdown(void)
{
    if (!ka.up)
        return;
    ka.up = 0;
    for (size_t k = 0; k < ka.n; k++) {
        ka_app *a = ka.apps[k];
        if (a->run) {
            stop_runtime(a);
            /* keep the status RUNNING so the next start resumes it */
            char *doc = cJSON_PrintUnformatted(a->doc);
            persist_job p = {.doc = doc};
            snprintf(p.region, sizeof(p.region), "%s", a->region);
            snprintf(p.name, sizeof(p.name), "%s", a->name);
            if (doc)
                sl_writer_run_sync(ka.w, sql_persist, &p);
            free(doc);
        }
        cJSON_Delete(a->doc);
        free(a);
    }
    free(ka.apps);
    ka.apps = NULL;
    ka.n = 0;
}

static int ready_or_reply(sl_api_call *call)
{
    int rc = sl_ka_service_init();
    if (rc)
        sl_wire_call_error(call, "ServiceUnavailableException",
                           "The analytics service is not available: %s", sl_err_str(rc));
    return rc;
}

/* The application named in the call, or NULL after ResourceNotFoundException. */
static ka_app *app_or_reply(sl_api_call *call, const char *name)
{
    ka_app *a = name ? find_app(call->region, name) : NULL;
    if (!a)
        sl_wire_call_error(call, "ResourceNotFoundException", "Application %s is not found.",
                           name ? name : "");
    return a;
}

/* Version and state checks of a configuration change. */
static int mutable_or_reply(sl_api_call *call, ka_app *a)
{
    double want = in_num(call->input, "CurrentApplicationVersionId", -1);
    double have = in_num(a->doc, "ApplicationVersionId", 1);
    const char *st = status_of(a);
    if (strcmp(st, "READY") && strcmp(st, "RUNNING")) {
        sl_wire_call_error(call, "ResourceInUseException",
                           "Application %s is in %s state; try again later.", a->name, st);
        return -1;
    }
    if (want != have) {
        sl_wire_call_error(call, "ConcurrentModificationException",
                           "Current application version id %.0f does not match the application "
                           "version id %.0f.",
                           want, have);
        return -1;
    }
    return 0;
}

enum { KA_READ = 0, KA_CHANGE = 1 };

/* The application the call names (ApplicationName) once the service is up -- and, for a
 * configuration change (KA_CHANGE), in a state that takes one with the caller's version id.
 * NULL after the error reply (ServiceUnavailable, ResourceNotFound, ResourceInUse,
 * ConcurrentModification). */
static ka_app *target_or_reply(sl_api_call *call, int change)
{
    if (ready_or_reply(call))
        return NULL;
    ka_app *a = app_or_reply(call, in_str(call->input, "ApplicationName"));
    if (a && change && mutable_or_reply(call, a))
        return NULL;
    return a;
}

/* A change failed: puts back the document saved before it and replies type/msg (type NULL:
 * the reply was already sent). */
static void rollback_reply(sl_api_call *call, ka_app *a, cJSON *backup, const char *type,
                           const char *msg)
{
    cJSON_Delete(a->doc);
    a->doc = backup;
    a->restart_now = 0;
    if (type)
        sl_wire_call_error(call, type, "%s", msg);
}

/* ---- descriptions ------------------------------------------------------------------------ */

static cJSON *dup_member(const cJSON *o, const char *name)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, name);
    return j ? cJSON_Duplicate(j, 1) : NULL;
}

static void add_arn_pair(cJSON *d, const char *name, const cJSON *src, const char *role_key)
{
    if (!src)
        return;
    cJSON *x = cJSON_AddObjectToObject(d, name);
    const char *arn = in_str(src, "ResourceARN");
    const char *role = in_str(src, role_key);
    if (arn)
        cJSON_AddStringToObject(x, "ResourceARN", arn);
    if (role)
        cJSON_AddStringToObject(x, "RoleARN", role);
}

static int check_input_schema(const cJSON *schema, char *err, size_t cap)
{
    ka_schema s;
    int rc = ka_schema_parse(schema, &s, err, cap);
    if (!rc)
        ka_schema_free(&s);
    return rc;
}

static cJSON *input_desc(ka_app *a, const cJSON *in, char *err, size_t cap)
{
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(in, "KinesisStreamsInput");
    const cJSON *kf = cJSON_GetObjectItemCaseSensitive(in, "KinesisFirehoseInput");
    if ((ks != NULL) == (kf != NULL)) {
        snprintf(err, cap,
                 "Exactly one of KinesisStreamsInput or KinesisFirehoseInput is "
                 "required");
        return NULL;
    }
    if (check_input_schema(cJSON_GetObjectItemCaseSensitive(in, "InputSchema"), err, cap))
        return NULL;
    int par = (int)in_num(cJSON_GetObjectItemCaseSensitive(in, "InputParallelism"), "Count", 1);
    const char *prefix = in_str(in, "NamePrefix");
    cJSON *d = cJSON_CreateObject();
    char id[16];
    next_id(a, "in", id, sizeof(id));
    cJSON_AddStringToObject(d, "InputId", id);
    cJSON_AddStringToObject(d, "NamePrefix", prefix);
    cJSON *names = cJSON_AddArrayToObject(d, "InAppStreamNames");
    for (int k = 1; k <= par; k++) {
        char nm[80];
        snprintf(nm, sizeof(nm), "%s_%03d", prefix, k);
        cJSON_AddItemToArray(names, cJSON_CreateString(nm));
    }
    const cJSON *ipc = cJSON_GetObjectItemCaseSensitive(in, "InputProcessingConfiguration");
    if (ipc) {
        cJSON *x = cJSON_AddObjectToObject(d, "InputProcessingConfigurationDescription");
        add_arn_pair(x, "InputLambdaProcessorDescription",
                     cJSON_GetObjectItemCaseSensitive(ipc, "InputLambdaProcessor"), "RoleARN");
    }
    add_arn_pair(d, "KinesisStreamsInputDescription", ks, "RoleARN");
    add_arn_pair(d, "KinesisFirehoseInputDescription", kf, "RoleARN");
    cJSON_AddItemToObject(d, "InputSchema", dup_member(in, "InputSchema"));
    cJSON *pp = cJSON_AddObjectToObject(d, "InputParallelism");
    cJSON_AddNumberToObject(pp, "Count", par);
    cJSON_AddObjectToObject(d, "InputStartingPositionConfiguration");
    return d;
}

static cJSON *output_desc(ka_app *a, const cJSON *out, char *err, size_t cap)
{
    const cJSON *ks = cJSON_GetObjectItemCaseSensitive(out, "KinesisStreamsOutput");
    const cJSON *kf = cJSON_GetObjectItemCaseSensitive(out, "KinesisFirehoseOutput");
    const cJSON *la = cJSON_GetObjectItemCaseSensitive(out, "LambdaOutput");
    if ((ks != NULL) + (kf != NULL) + (la != NULL) != 1) {
        snprintf(err, cap,
                 "Exactly one of KinesisStreamsOutput, KinesisFirehoseOutput or "
                 "LambdaOutput is required");
        return NULL;
    }
    cJSON *d = cJSON_CreateObject();
    char id[16];
    next_id(a, "out", id, sizeof(id));
    cJSON_AddStringToObject(d, "OutputId", id);
    cJSON_AddStringToObject(d, "Name", in_str(out, "Name"));
    add_arn_pair(d, "KinesisStreamsOutputDescription", ks, "RoleARN");
    add_arn_pair(d, "KinesisFirehoseOutputDescription", kf, "RoleARN");
    add_arn_pair(d, "LambdaOutputDescription", la, "RoleARN");
    cJSON_AddItemToObject(d, "DestinationSchema", dup_member(out, "DestinationSchema"));
    return d;
}

static cJSON *ref_desc(ka_app *a, const cJSON *ref, char *err, size_t cap)
{
    if (check_input_schema(cJSON_GetObjectItemCaseSensitive(ref, "ReferenceSchema"), err, cap))
        return NULL;
    const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(ref, "S3ReferenceDataSource");
    cJSON *d = cJSON_CreateObject();
    char id[16];
    next_id(a, "ref", id, sizeof(id));
    cJSON_AddStringToObject(d, "ReferenceId", id);
    cJSON_AddStringToObject(d, "TableName", in_str(ref, "TableName"));
    cJSON *x = cJSON_AddObjectToObject(d, "S3ReferenceDataSourceDescription");
    cJSON_AddStringToObject(x, "BucketARN", in_str(s3, "BucketARN"));
    cJSON_AddStringToObject(x, "FileKey", in_str(s3, "FileKey"));
    cJSON_AddStringToObject(x, "ReferenceRoleARN", in_str(s3, "ReferenceRoleARN"));
    cJSON_AddItemToObject(d, "ReferenceSchema", dup_member(ref, "ReferenceSchema"));
    return d;
}

static cJSON *cw_desc(ka_app *a, const cJSON *cw)
{
    cJSON *d = cJSON_CreateObject();
    char id[16];
    next_id(a, "cw", id, sizeof(id));
    cJSON_AddStringToObject(d, "CloudWatchLoggingOptionId", id);
    cJSON_AddStringToObject(d, "LogStreamARN", in_str(cw, "LogStreamARN"));
    cJSON_AddStringToObject(d, "RoleARN", in_str(cw, "RoleARN"));
    return d;
}

/* The public ApplicationDetail of a. */
static cJSON *detail(const ka_app *a)
{
    cJSON *d = cJSON_Duplicate(a->doc, 1);
    if (!d)
        return NULL;
    int64_t created = (int64_t)in_num(a->doc, "_created_ms", 0);
    int64_t updated = (int64_t)in_num(a->doc, "_updated_ms", 0);
    cJSON *c = d->child;
    while (c) {
        cJSON *nx = c->next;
        if (c->string && c->string[0] == '_')
            cJSON_Delete(cJSON_DetachItemViaPointer(d, c));
        c = nx;
    }
    sl_wire_json_add_timestamp(d, "CreateTimestamp", created);
    sl_wire_json_add_timestamp(d, "LastUpdateTimestamp", updated);
    return d;
}

/* Validates the code of a against its configuration: 0, or CodeValidationException sent. */
static int code_ok_or_reply(sl_api_call *call, const ka_app *a)
{
    const char *code = in_str(a->doc, "ApplicationCode");
    if (!code || !*code)
        return 0;
    ka_schema in, ref;
    int has_in = 0, has_ref = 0;
    char err[256];
    const cJSON *i = first(a->doc, "InputDescriptions");
    const cJSON *r = first(a->doc, "ReferenceDataSourceDescriptions");
    if (i &&
        !ka_schema_parse(cJSON_GetObjectItemCaseSensitive(i, "InputSchema"), &in, err, sizeof(err)))
        has_in = 1;
    if (r && !ka_schema_parse(cJSON_GetObjectItemCaseSensitive(r, "ReferenceSchema"), &ref, err,
                              sizeof(err)))
        has_ref = 1;
    sl_diag d;
    memset(&d, 0, sizeof(d));
    int par =
        i ? (int)in_num(cJSON_GetObjectItemCaseSensitive(i, "InputParallelism"), "Count", 1) : 1;
    int rc = ka_validate_code(code, has_in ? &in : NULL, i ? in_str(i, "NamePrefix") : "", par,
                              has_ref ? &ref : NULL, r ? in_str(r, "TableName") : "", &d);
    if (has_in)
        ka_schema_free(&in);
    if (has_ref)
        ka_schema_free(&ref);
    if (rc == SL_ENOMEM) {
        sl_wire_call_error_code(call, rc);
        return -1;
    }
    if (rc) {
        sl_wire_call_error(call, "CodeValidationException", "%s", d.text);
        return -1;
    }
    return 0;
}

static int tags_ok_or_reply(sl_api_call *call, cJSON *tags_obj, const cJSON *add)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, add)
    {
        const char *k = in_str(t, "Key");
        const char *v = in_str(t, "Value");
        if (!k)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(tags_obj, k);
        cJSON_AddStringToObject(tags_obj, k, v ? v : "");
    }
    if (cJSON_GetArraySize(tags_obj) > 50) {
        sl_wire_call_error(call, "TooManyTagsException",
                           "Application can't have more than 50 tags.");
        return -1;
    }
    return 0;
}

/* After a configuration change of a running application: rebuild its runtime, continuing
 * from where it was. */
static int restart_or_reply(sl_api_call *call, ka_app *a)
{
    int fresh = a->restart_now;
    a->restart_now = 0;
    if (!a->run)
        return 0;
    set_str(a->doc, "ApplicationStatus", "UPDATING");
    stop_runtime(a);
    start_err e;
    if (start_runtime(a, fresh ? "NOW" : "LAST_STOPPED_POINT", &e)) {
        set_str(a->doc, "ApplicationStatus", "READY");
        persist(NULL, a->region, a->name, a, NULL);
        sl_wire_call_error(call, e.type, "%s", e.msg);
        return -1;
    }
    set_str(a->doc, "ApplicationStatus", "RUNNING");
    return 0;
}

/* ---- operations -------------------------------------------------------------------------- */

void sl_ka_create_application(sl_api_call *call);
void sl_ka_create_application(sl_api_call *call)
{
    if (ready_or_reply(call))
        return;
    const cJSON *in = call->input;
    const char *name = in_str(in, "ApplicationName");
    char err[256];
    if (find_app(call->region, name)) {
        sl_wire_call_error(call, "ResourceInUseException", "Application %s already exists.", name);
        return;
    }
    if (count_region(call->region) >= MAX_APPS_PER_REGION) {
        sl_wire_call_error(call, "LimitExceededException",
                           "You have reached the limit of %d applications.", MAX_APPS_PER_REGION);
        return;
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(in, "Inputs");
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(in, "Outputs");
    if (cJSON_GetArraySize(inputs) > 1) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "An application can have only one input.");
        return;
    }
    if (cJSON_GetArraySize(outputs) > 3) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "An application can have at most three outputs.");
        return;
    }
    ka_app *a = calloc(1, sizeof(*a));
    if (!a) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    snprintf(a->region, sizeof(a->region), "%s", call->region);
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->doc = cJSON_CreateObject();
    char arn[512];
    app_arn(call->region, call->account_id, name, arn, sizeof(arn));
    cJSON_AddStringToObject(a->doc, "ApplicationName", name);
    const char *desc = in_str(in, "ApplicationDescription");
    cJSON_AddStringToObject(a->doc, "ApplicationDescription", desc ? desc : "");
    cJSON_AddStringToObject(a->doc, "ApplicationARN", arn);
    cJSON_AddStringToObject(a->doc, "ApplicationStatus", "READY");
    const char *code = in_str(in, "ApplicationCode");
    cJSON_AddStringToObject(a->doc, "ApplicationCode", code ? code : "");
    cJSON_AddNumberToObject(a->doc, "ApplicationVersionId", 1);
    cJSON_AddNumberToObject(a->doc, "_created_ms", (double)now_ms());
    cJSON_AddNumberToObject(a->doc, "_updated_ms", (double)now_ms());
    cJSON *ins = cJSON_AddArrayToObject(a->doc, "InputDescriptions");
    cJSON *outs = cJSON_AddArrayToObject(a->doc, "OutputDescriptions");
    cJSON_AddArrayToObject(a->doc, "ReferenceDataSourceDescriptions");
    cJSON *cws = cJSON_AddArrayToObject(a->doc, "CloudWatchLoggingOptionDescriptions");
    cJSON *tags = cJSON_AddObjectToObject(a->doc, "_tags");
    const cJSON *x;
    cJSON_ArrayForEach(x, inputs)
    {
        cJSON *d = input_desc(a, x, err, sizeof(err));
        if (!d) {
            sl_wire_call_error(call, "InvalidArgumentException", "%s", err);
            goto fail;
        }
        cJSON_AddItemToArray(ins, d);
    }
    cJSON_ArrayForEach(x, outputs)
    {
        cJSON *d = output_desc(a, x, err, sizeof(err));
        if (!d) {
            sl_wire_call_error(call, "InvalidArgumentException", "%s", err);
            goto fail;
        }
        cJSON_AddItemToArray(outs, d);
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(in, "CloudWatchLoggingOptions"))
        cJSON_AddItemToArray(cws, cw_desc(a, x));
    if (tags_ok_or_reply(call, tags, cJSON_GetObjectItemCaseSensitive(in, "Tags")))
        goto fail;
    if (code_ok_or_reply(call, a))
        goto fail;
    ka_app **na = realloc(ka.apps, (ka.n + 1) * sizeof(*na));
    if (!na) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        goto fail;
    }
    ka.apps = na;
    ka.apps[ka.n++] = a;
    cJSON *reply = cJSON_CreateObject();
    cJSON *sum = cJSON_AddObjectToObject(reply, "ApplicationSummary");
    cJSON_AddStringToObject(sum, "ApplicationName", name);
    cJSON_AddStringToObject(sum, "ApplicationARN", arn);
    cJSON_AddStringToObject(sum, "ApplicationStatus", "READY");
    persist(call, a->region, a->name, a, reply);
    return;
fail:
    cJSON_Delete(a->doc);
    free(a);
}

void sl_ka_describe_application(sl_api_call *call);
void sl_ka_describe_application(sl_api_call *call)
{
    ka_app *a = target_or_reply(call, KA_READ);
    if (!a)
        return;
    cJSON *reply = cJSON_CreateObject();
    cJSON_AddItemToObject(reply, "ApplicationDetail", detail(a));
    sl_wire_reply_ok(call, reply);
    cJSON_Delete(reply);
}

static int cmp_app(const void *x, const void *y)
{
    return strcmp((*(ka_app *const *)x)->name, (*(ka_app *const *)y)->name);
}

void sl_ka_list_applications(sl_api_call *call);
void sl_ka_list_applications(sl_api_call *call)
{
    if (ready_or_reply(call))
        return;
    int limit = (int)in_num(call->input, "Limit", 50);
    const char *after = in_str(call->input, "ExclusiveStartApplicationName");
    ka_app **v = calloc(ka.n + 1, sizeof(*v));
    size_t n = 0;
    if (!v) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    for (size_t k = 0; k < ka.n; k++)
        if (!strcmp(ka.apps[k]->region, call->region))
            v[n++] = ka.apps[k];
    qsort(v, n, sizeof(*v), cmp_app);
    cJSON *reply = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(reply, "ApplicationSummaries");
    int shown = 0, more = 0;
    for (size_t k = 0; k < n; k++) {
        if (after && strcmp(v[k]->name, after) <= 0)
            continue;
        if (shown == limit) {
            more = 1;
            break;
        }
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "ApplicationName", v[k]->name);
        cJSON_AddStringToObject(s, "ApplicationARN", in_str(v[k]->doc, "ApplicationARN"));
        cJSON_AddStringToObject(s, "ApplicationStatus", status_of(v[k]));
        cJSON_AddItemToArray(arr, s);
        shown++;
    }
    cJSON_AddBoolToObject(reply, "HasMoreApplications", more);
    free(v);
    sl_wire_reply_ok(call, reply);
    cJSON_Delete(reply);
}

void sl_ka_delete_application(sl_api_call *call);
void sl_ka_delete_application(sl_api_call *call)
{
    ka_app *a = target_or_reply(call, KA_READ);
    if (!a)
        return;
    double ts = in_num(call->input, "CreateTimestamp", -1);
    int64_t created = (int64_t)in_num(a->doc, "_created_ms", 0);
    /* SDKs send whole seconds (botocore drops the fraction): compare at their precision */
    int match = llround(ts * 1000) == created || (ts == floor(ts) && (int64_t)ts == created / 1000);
    if (!match) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "CreateTimestamp does not match the application's creation time.");
        return;
    }
    set_str(a->doc, "ApplicationStatus", "DELETING");
    stop_runtime(a);
    for (size_t k = 0; k < ka.n; k++)
        if (ka.apps[k] == a) {
            memmove(ka.apps + k, ka.apps + k + 1, (ka.n - k - 1) * sizeof(*ka.apps));
            ka.n--;
            break;
        }
    char region[32], name[129];
    snprintf(region, sizeof(region), "%s", a->region);
    snprintf(name, sizeof(name), "%s", a->name);
    cJSON_Delete(a->doc);
    free(a);
    persist(call, region, name, NULL, NULL);
}

void sl_ka_start_application(sl_api_call *call);
void sl_ka_start_application(sl_api_call *call)
{
    ka_app *a = target_or_reply(call, KA_READ);
    if (!a)
        return;
    if (strcmp(status_of(a), "READY")) {
        sl_wire_call_error(call, "ResourceInUseException",
                           "Application %s is in %s state and can only be started in READY "
                           "state.",
                           a->name, status_of(a));
        return;
    }
    const cJSON *in = first(a->doc, "InputDescriptions");
    const cJSON *cfgs = cJSON_GetObjectItemCaseSensitive(call->input, "InputConfigurations");
    const cJSON *c0 = cJSON_GetArrayItem(cfgs, 0);
    if (!in) {
        sl_wire_call_error(call, "InvalidApplicationConfigurationException",
                           "Application %s has no input.", a->name);
        return;
    }
    if (!c0 || cJSON_GetArraySize(cfgs) != 1 || !in_str(c0, "Id") ||
        strcmp(in_str(c0, "Id"), in_str(in, "InputId"))) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "InputConfigurations must name the application's input %s.",
                           in_str(in, "InputId"));
        return;
    }
    const cJSON *spc = cJSON_GetObjectItemCaseSensitive(c0, "InputStartingPositionConfiguration");
    const char *pos = in_str(spc, "InputStartingPosition");
    if (!pos)
        pos = "NOW";
    if (!strcmp(pos, "TRIM_HORIZON") &&
        cJSON_GetObjectItemCaseSensitive(in, "KinesisFirehoseInputDescription")) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "TRIM_HORIZON is not a valid starting position for a Firehose input.");
        return;
    }
    set_str(a->doc, "ApplicationStatus", "STARTING");
    start_err e;
    if (start_runtime(a, pos, &e)) {
        set_str(a->doc, "ApplicationStatus", "READY");
        sl_wire_call_error(call, e.type, "%s", e.msg);
        return;
    }
    /* echo the starting position in the input description */
    cJSON *ind =
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a->doc, "InputDescriptions"), 0);
    cJSON *sp = cJSON_CreateObject();
    cJSON_AddStringToObject(sp, "InputStartingPosition", pos);
    cJSON_ReplaceItemInObjectCaseSensitive(ind, "InputStartingPositionConfiguration", sp);
    set_str(a->doc, "ApplicationStatus", "RUNNING");
    persist(call, a->region, a->name, a, NULL);
}

void sl_ka_stop_application(sl_api_call *call);
void sl_ka_stop_application(sl_api_call *call)
{
    ka_app *a = target_or_reply(call, KA_READ);
    if (!a)
        return;
    if (strcmp(status_of(a), "RUNNING")) {
        /* AWS answers a stop of a READY application with success */
        if (!strcmp(status_of(a), "READY")) {
            sl_wire_reply_ok(call, NULL);
            return;
        }
        sl_wire_call_error(call, "ResourceInUseException", "Application %s is in %s state.",
                           a->name, status_of(a));
        return;
    }
    set_str(a->doc, "ApplicationStatus", "STOPPING");
    stop_runtime(a);
    set_str(a->doc, "ApplicationStatus", "READY");
    persist(call, a->region, a->name, a, NULL);
}

/* Finds the description with id_key == id in list; returns its index or -1. */
static int index_of(cJSON *list, const char *id_key, const char *id)
{
    int i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, list)
    {
        const char *v = in_str(x, id_key);
        if (v && id && !strcmp(v, id))
            return i;
        i++;
    }
    return -1;
}

/* Common tail of the configuration changes: version, code check, restart, persist. */
static void commit_change(sl_api_call *call, ka_app *a, cJSON *backup)
{
    bump_version(a);
    if (code_ok_or_reply(call, a)) {
        rollback_reply(call, a, backup, NULL, NULL);
        return;
    }
    if (restart_or_reply(call, a)) {
        cJSON_Delete(backup);
        return;
    }
    cJSON_Delete(backup);
    persist(call, a->region, a->name, a, NULL);
}

typedef cJSON *(*desc_fn)(ka_app *a, const cJSON *in, char *err, size_t cap);

/* Add*: the call's `in_key` object, described by desc, appended to list_name unless the
 * application already has max of them ("already has <what>"). */
static void add_to(sl_api_call *call, const char *list_name, int max, const char *what,
                   const char *in_key, desc_fn desc)
{
    ka_app *a = target_or_reply(call, KA_CHANGE);
    if (!a)
        return;
    cJSON *list = arr_of(a->doc, list_name);
    if (cJSON_GetArraySize(list) >= max) {
        sl_wire_call_error(call, "InvalidArgumentException", "Application %s already has %s.",
                           a->name, what);
        return;
    }
    cJSON *backup = cJSON_Duplicate(a->doc, 1);
    char err[256];
    cJSON *d = desc(a, cJSON_GetObjectItemCaseSensitive(call->input, in_key), err, sizeof(err));
    if (!d) {
        rollback_reply(call, a, backup, "InvalidArgumentException", err);
        return;
    }
    cJSON_AddItemToArray(list, d);
    commit_change(call, a, backup);
}

void sl_ka_add_application_input(sl_api_call *call);
void sl_ka_add_application_input(sl_api_call *call)
{
    add_to(call, "InputDescriptions", 1, "an input", "Input", input_desc);
}

void sl_ka_add_application_output(sl_api_call *call);
void sl_ka_add_application_output(sl_api_call *call)
{
    add_to(call, "OutputDescriptions", 3, "three outputs", "Output", output_desc);
}

static void delete_from(sl_api_call *call, const char *list_name, const char *id_key,
                        const char *in_key, const char *what)
{
    ka_app *a = target_or_reply(call, KA_CHANGE);
    if (!a)
        return;
    cJSON *list = arr_of(a->doc, list_name);
    const char *id = in_str(call->input, in_key);
    int i = index_of(list, id_key, id);
    if (i < 0) {
        sl_wire_call_error(call, "ResourceNotFoundException", "%s %s not found in application %s.",
                           what, id ? id : "", a->name);
        return;
    }
    cJSON *backup = cJSON_Duplicate(a->doc, 1);
    cJSON_DeleteItemFromArray(list, i);
    commit_change(call, a, backup);
}

void sl_ka_delete_application_output(sl_api_call *call);
void sl_ka_delete_application_output(sl_api_call *call)
{
    delete_from(call, "OutputDescriptions", "OutputId", "OutputId", "Output");
}

void sl_ka_add_application_reference_data_source(sl_api_call *call);
void sl_ka_add_application_reference_data_source(sl_api_call *call)
{
    add_to(call, "ReferenceDataSourceDescriptions", 1, "a reference data source",
           "ReferenceDataSource", ref_desc);
}

void sl_ka_delete_application_reference_data_source(sl_api_call *call);
void sl_ka_delete_application_reference_data_source(sl_api_call *call)
{
    delete_from(call, "ReferenceDataSourceDescriptions", "ReferenceId", "ReferenceId",
                "Reference data source");
}

void sl_ka_add_application_cloud_watch_logging_option(sl_api_call *call);
void sl_ka_add_application_cloud_watch_logging_option(sl_api_call *call)
{
    ka_app *a = target_or_reply(call, KA_CHANGE);
    if (!a)
        return;
    cJSON *backup = cJSON_Duplicate(a->doc, 1);
    cJSON_AddItemToArray(
        arr_of(a->doc, "CloudWatchLoggingOptionDescriptions"),
        cw_desc(a, cJSON_GetObjectItemCaseSensitive(call->input, "CloudWatchLoggingOption")));
    commit_change(call, a, backup);
}

void sl_ka_delete_application_cloud_watch_logging_option(sl_api_call *call);
void sl_ka_delete_application_cloud_watch_logging_option(sl_api_call *call)
{
    delete_from(call, "CloudWatchLoggingOptionDescriptions", "CloudWatchLoggingOptionId",
                "CloudWatchLoggingOptionId", "CloudWatch logging option");
}

static cJSON *input_by_id(sl_api_call *call, ka_app *a)
{
    cJSON *list = arr_of(a->doc, "InputDescriptions");
    const char *id = in_str(call->input, "InputId");
    int i = index_of(list, "InputId", id);
    if (i < 0) {
        sl_wire_call_error(call, "ResourceNotFoundException",
                           "Input %s not found in application %s.", id ? id : "", a->name);
        return NULL;
    }
    return cJSON_GetArrayItem(list, i);
}

/* Add (add != 0) or delete the input's InputProcessingConfiguration. */
static void set_processing(sl_api_call *call, int add)
{
    ka_app *a = target_or_reply(call, KA_CHANGE);
    if (!a)
        return;
    cJSON *in = input_by_id(call, a);
    if (!in)
        return;
    cJSON *backup = cJSON_Duplicate(a->doc, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(in, "InputProcessingConfigurationDescription");
    if (add) {
        const cJSON *ipc =
            cJSON_GetObjectItemCaseSensitive(call->input, "InputProcessingConfiguration");
        cJSON *x = cJSON_AddObjectToObject(in, "InputProcessingConfigurationDescription");
        add_arn_pair(x, "InputLambdaProcessorDescription",
                     cJSON_GetObjectItemCaseSensitive(ipc, "InputLambdaProcessor"), "RoleARN");
    }
    commit_change(call, a, backup);
}

void sl_ka_add_application_input_processing_configuration(sl_api_call *call);
void sl_ka_add_application_input_processing_configuration(sl_api_call *call)
{
    set_processing(call, 1);
}

void sl_ka_delete_application_input_processing_configuration(sl_api_call *call);
void sl_ka_delete_application_input_processing_configuration(sl_api_call *call)
{
    set_processing(call, 0);
}

/* Applies src's "<Name>Update" members onto dst's "<Name>" (shallow, one level). */
static void apply_arn_update(cJSON *dst, const char *desc_name, const cJSON *upd)
{
    if (!upd)
        return;
    cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, desc_name);
    if (!d)
        d = cJSON_AddObjectToObject(dst, desc_name);
    const char *arn = in_str(upd, "ResourceARNUpdate");
    const char *role = in_str(upd, "RoleARNUpdate");
    if (arn)
        set_str(d, "ResourceARN", arn);
    if (role)
        set_str(d, "RoleARN", role);
}

static int apply_schema_update(cJSON *dst, const char *key, const cJSON *upd, char *err, size_t cap)
{
    if (!upd)
        return 0;
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(dst, key);
    cJSON *n = cur ? cJSON_Duplicate(cur, 1) : cJSON_CreateObject();
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(upd, "RecordFormatUpdate");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(upd, "RecordEncodingUpdate");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(upd, "RecordColumnUpdates");
    if (f) {
        cJSON_DeleteItemFromObjectCaseSensitive(n, "RecordFormat");
        cJSON_AddItemToObject(n, "RecordFormat", cJSON_Duplicate(f, 1));
    }
    if (cJSON_IsString(e))
        set_str(n, "RecordEncoding", e->valuestring);
    if (c) {
        cJSON_DeleteItemFromObjectCaseSensitive(n, "RecordColumns");
        cJSON_AddItemToObject(n, "RecordColumns", cJSON_Duplicate(c, 1));
    }
    if (check_input_schema(n, err, cap)) {
        cJSON_Delete(n);
        return -1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(dst, key);
    cJSON_AddItemToObject(dst, key, n);
    return 0;
}

/* The description in list_name whose id_key is the one update x names; NULL with err
 * ("<what> <id> not found.") when there is none. */
static cJSON *update_target(ka_app *a, const cJSON *x, const char *list_name, const char *id_key,
                            const char *what, char *err, size_t cap)
{
    cJSON *list = arr_of(a->doc, list_name);
    int i = index_of(list, id_key, in_str(x, id_key));
    if (i < 0)
        snprintf(err, cap, "%s %s not found.", what, in_str(x, id_key));
    return i < 0 ? NULL : cJSON_GetArrayItem(list, i);
}

void sl_ka_update_application(sl_api_call *call);
void sl_ka_update_application(sl_api_call *call)
{
    ka_app *a = target_or_reply(call, KA_CHANGE);
    if (!a)
        return;
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(call->input, "ApplicationUpdate");
    cJSON *backup = cJSON_Duplicate(a->doc, 1);
    char err[256] = "";
    const char *err_type = "InvalidArgumentException";
    const char *code = in_str(u, "ApplicationCodeUpdate");
    if (code)
        set_str(a->doc, "ApplicationCode", code);
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(u, "InputUpdates"))
    {
        cJSON *d = update_target(a, x, "InputDescriptions", "InputId", "Input", err, sizeof(err));
        if (!d) {
            err_type = "ResourceNotFoundException";
            goto bad;
        }
        const char *np = in_str(x, "NamePrefixUpdate");
        if (np)
            set_str(d, "NamePrefix", np);
        const cJSON *ksu = cJSON_GetObjectItemCaseSensitive(x, "KinesisStreamsInputUpdate");
        const cJSON *kfu = cJSON_GetObjectItemCaseSensitive(x, "KinesisFirehoseInputUpdate");
        if (in_str(ksu, "ResourceARNUpdate") || in_str(kfu, "ResourceARNUpdate")) {
            /* another source: positions of the old one mean nothing there */
            cJSON_DeleteItemFromObjectCaseSensitive(a->doc, "_positions");
            a->restart_now = 1; /* a running application restarts at NOW on the new source */
        }
        if (ksu && kfu) {
            snprintf(err, sizeof(err),
                     "Only one of KinesisStreamsInputUpdate and "
                     "KinesisFirehoseInputUpdate may be given");
            goto bad;
        }
        if (ksu && cJSON_GetObjectItemCaseSensitive(d, "KinesisFirehoseInputDescription")) {
            cJSON_DeleteItemFromObjectCaseSensitive(d, "KinesisFirehoseInputDescription");
        }
        if (kfu && cJSON_GetObjectItemCaseSensitive(d, "KinesisStreamsInputDescription")) {
            cJSON_DeleteItemFromObjectCaseSensitive(d, "KinesisStreamsInputDescription");
        }
        apply_arn_update(d, "KinesisStreamsInputDescription", ksu);
        apply_arn_update(d, "KinesisFirehoseInputDescription", kfu);
        if (apply_schema_update(d, "InputSchema",
                                cJSON_GetObjectItemCaseSensitive(x, "InputSchemaUpdate"), err,
                                sizeof(err)))
            goto bad;
        const cJSON *pu = cJSON_GetObjectItemCaseSensitive(x, "InputParallelismUpdate");
        int par = (int)in_num(
            pu, "CountUpdate",
            in_num(cJSON_GetObjectItemCaseSensitive(d, "InputParallelism"), "Count", 1));
        cJSON *pp = cJSON_CreateObject();
        cJSON_AddNumberToObject(pp, "Count", par);
        cJSON_DeleteItemFromObjectCaseSensitive(d, "InputParallelism");
        cJSON_AddItemToObject(d, "InputParallelism", pp);
        cJSON *names = cJSON_CreateArray();
        for (int k = 1; k <= par; k++) {
            char nm[80];
            const char *pre = in_str(d, "NamePrefix");
            snprintf(nm, sizeof(nm), "%s_%03d", pre ? pre : "", k);
            cJSON_AddItemToArray(names, cJSON_CreateString(nm));
        }
        cJSON_DeleteItemFromObjectCaseSensitive(d, "InAppStreamNames");
        cJSON_AddItemToObject(d, "InAppStreamNames", names);
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(u, "OutputUpdates"))
    {
        cJSON *d =
            update_target(a, x, "OutputDescriptions", "OutputId", "Output", err, sizeof(err));
        if (!d) {
            err_type = "ResourceNotFoundException";
            goto bad;
        }
        const char *nu = in_str(x, "NameUpdate");
        if (nu)
            set_str(d, "Name", nu);
        apply_arn_update(d, "KinesisStreamsOutputDescription",
                         cJSON_GetObjectItemCaseSensitive(x, "KinesisStreamsOutputUpdate"));
        apply_arn_update(d, "KinesisFirehoseOutputDescription",
                         cJSON_GetObjectItemCaseSensitive(x, "KinesisFirehoseOutputUpdate"));
        apply_arn_update(d, "LambdaOutputDescription",
                         cJSON_GetObjectItemCaseSensitive(x, "LambdaOutputUpdate"));
        const cJSON *ds = cJSON_GetObjectItemCaseSensitive(x, "DestinationSchemaUpdate");
        if (ds) {
            cJSON_DeleteItemFromObjectCaseSensitive(d, "DestinationSchema");
            cJSON_AddItemToObject(d, "DestinationSchema", cJSON_Duplicate(ds, 1));
        }
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(u, "ReferenceDataSourceUpdates"))
    {
        cJSON *d = update_target(a, x, "ReferenceDataSourceDescriptions", "ReferenceId",
                                 "Reference data source", err, sizeof(err));
        if (!d) {
            err_type = "ResourceNotFoundException";
            goto bad;
        }
        const char *tn = in_str(x, "TableNameUpdate");
        if (tn)
            set_str(d, "TableName", tn);
        const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(x, "S3ReferenceDataSourceUpdate");
        if (s3) {
            cJSON *sd = cJSON_GetObjectItemCaseSensitive(d, "S3ReferenceDataSourceDescription");
            const char *b = in_str(s3, "BucketARNUpdate"), *k = in_str(s3, "FileKeyUpdate"),
                       *r = in_str(s3, "ReferenceRoleARNUpdate");
            if (b)
                set_str(sd, "BucketARN", b);
            if (k)
                set_str(sd, "FileKey", k);
            if (r)
                set_str(sd, "ReferenceRoleARN", r);
        }
        if (apply_schema_update(d, "ReferenceSchema",
                                cJSON_GetObjectItemCaseSensitive(x, "ReferenceSchemaUpdate"), err,
                                sizeof(err)))
            goto bad;
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(u, "CloudWatchLoggingOptionUpdates"))
    {
        cJSON *d =
            update_target(a, x, "CloudWatchLoggingOptionDescriptions", "CloudWatchLoggingOptionId",
                          "CloudWatch logging option", err, sizeof(err));
        if (!d) {
            err_type = "ResourceNotFoundException";
            goto bad;
        }
        const char *ls = in_str(x, "LogStreamARNUpdate"), *r = in_str(x, "RoleARNUpdate");
        if (ls)
            set_str(d, "LogStreamARN", ls);
        if (r)
            set_str(d, "RoleARN", r);
    }
    commit_change(call, a, backup);
    return;
bad:
    rollback_reply(call, a, backup, err_type, err);
}

/* ---- tags -------------------------------------------------------------------------------- */

static ka_app *app_by_arn_or_reply(sl_api_call *call)
{
    if (ready_or_reply(call))
        return NULL;
    const char *arn = in_str(call->input, "ResourceARN");
    const char *slash = arn ? strstr(arn, ":application/") : NULL;
    ka_app *a = NULL;
    if (slash) {
        for (size_t k = 0; k < ka.n && !a; k++)
            if (!strcmp(in_str(ka.apps[k]->doc, "ApplicationARN"), arn))
                a = ka.apps[k];
    }
    if (!a)
        sl_wire_call_error(call, "ResourceNotFoundException", "Application %s is not found.",
                           arn ? arn : "");
    return a;
}

void sl_ka_tag_resource(sl_api_call *call);
void sl_ka_tag_resource(sl_api_call *call)
{
    ka_app *a = app_by_arn_or_reply(call);
    if (!a)
        return;
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(a->doc, "_tags");
    if (!tags)
        tags = cJSON_AddObjectToObject(a->doc, "_tags");
    cJSON *backup = cJSON_Duplicate(tags, 1);
    if (tags_ok_or_reply(call, tags, cJSON_GetObjectItemCaseSensitive(call->input, "Tags"))) {
        cJSON_ReplaceItemInObjectCaseSensitive(a->doc, "_tags", backup);
        return;
    }
    cJSON_Delete(backup);
    persist(call, a->region, a->name, a, NULL);
}

void sl_ka_untag_resource(sl_api_call *call);
void sl_ka_untag_resource(sl_api_call *call)
{
    ka_app *a = app_by_arn_or_reply(call);
    if (!a)
        return;
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(a->doc, "_tags");
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(call->input, "TagKeys"))
    {
        if (cJSON_IsString(k))
            cJSON_DeleteItemFromObjectCaseSensitive(tags, k->valuestring);
    }
    persist(call, a->region, a->name, a, NULL);
}

void sl_ka_list_tags_for_resource(sl_api_call *call);
void sl_ka_list_tags_for_resource(sl_api_call *call)
{
    ka_app *a = app_by_arn_or_reply(call);
    if (!a)
        return;
    cJSON *reply = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(reply, "Tags");
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(a->doc, "_tags"))
    {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "Key", t->string);
        cJSON_AddStringToObject(o, "Value", cJSON_IsString(t) ? t->valuestring : "");
        cJSON_AddItemToArray(arr, o);
    }
    sl_wire_reply_ok(call, reply);
    cJSON_Delete(reply);
}

/* ---- DiscoverInputSchema ----------------------------------------------------------------- */

typedef struct discover_job {
    sl_ds_call k;
    ka_shard_ref *shards;
    size_t n_shards;
    int from_start;
    char path[1200];             /* S3 object, when sampling a file (local layout) */
    char bucket[256], key[1025]; /* the same object at the S3-compatible endpoint */
    char lambda_arn[2049];       /* InputProcessingConfiguration ("" = none) */
    char source_arn[512];
    cJSON *result;
    int rc;
    char msg[256];
} discover_job;

static void discover_reply(void *arg)
{
    discover_job *j = arg;
    sl_api_call *call = &j->k.call;
    if (j->rc == SL_ENOTFOUND)
        sl_wire_call_error(call, "UnableToDetectSchemaException", "%s",
                           j->msg[0] ? j->msg : "No data was found to detect a schema from.");
    else if (j->rc == SL_EINVAL)
        sl_wire_call_error(call, "InvalidArgumentException", "%s", j->msg);
    else if (j->rc == SL_EIO && j->msg[0])
        sl_wire_call_error(call, "ServiceUnavailableException", "%s", j->msg);
    else if (j->rc)
        sl_wire_call_error_code(call, j->rc);
    else
        sl_wire_reply_ok(call, j->result);
    cJSON_Delete(j->result);
    free(j->shards);
    sl_ds_call_release(&j->k);
    free(j);
}

/* Reads the S3 object (local layout or endpoint) as one sample. Returns 0, SL_EINVAL (msg) or
 * SL_ENOMEM. */
static int discover_object(discover_job *j, char ***p, size_t **l, size_t *n)
{
    sl_buf b = SL_BUF_INIT;
    if (ka_s3_remote()) {
        char msg[200] = "";
        int rc = ka_s3_get(j->bucket, j->key, 64u << 20, &b, msg, sizeof(msg));
        if (rc == SL_ENOMEM)
            return rc;
        if (rc) {
            snprintf(j->msg, sizeof(j->msg), "The S3 object cannot be read: %s", msg);
            return SL_EINVAL;
        }
    } else {
        FILE *f = fopen(j->path, "rb");
        if (!f) {
            snprintf(j->msg, sizeof(j->msg), "The S3 object was not found.");
            return SL_EINVAL;
        }
        char chunk[65536];
        size_t got;
        while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (64u << 20))
            sl_buf_append(&b, chunk, got);
        fclose(f);
    }
    *p = calloc(2, sizeof(char *));
    *l = calloc(2, sizeof(size_t));
    if (!*p || !*l || b.oom) {
        sl_buf_cleanup(&b);
        return SL_ENOMEM;
    }
    if (b.len) {
        (*l)[0] = b.len;
        (*p)[0] = sl_buf_steal(&b, NULL);
        *n = 1;
    }
    return 0;
}

static void free_samples(char **p, size_t *l, size_t n)
{
    for (size_t k = 0; k < n && p; k++)
        free(p[k]);
    free(p);
    free(l);
}

static void *discover_thread(void *arg)
{
    discover_job *j = arg;
    char **p = NULL, **q = NULL;
    size_t *l = NULL, *ql = NULL, n = 0, nq = 0;
    if (j->path[0])
        j->rc = discover_object(j, &p, &l, &n);
    else
        j->rc = ka_ds_sample(j->shards, j->n_shards, 100, j->from_start, j->from_start ? 0 : 5000,
                             &p, &l, &n);
    if (!j->rc && n && j->lambda_arn[0]) {
        /* the schema is learnt from what the preprocessing function makes of the samples */
        char err[300] = "";
        j->rc = ka_lambda_process(j->lambda_arn, j->source_arn, p, l, n, &q, &ql, &nq, err,
                                  sizeof(err));
        if (j->rc == SL_EIO)
            snprintf(j->msg, sizeof(j->msg), "The preprocessing function failed: %.200s", err);
    }
    if (!j->rc && !n)
        j->rc = SL_ENOTFOUND;
    if (!j->rc)
        j->rc = q ? ka_discover((const char *const *)q, ql, nq, &j->result)
                  : ka_discover((const char *const *)p, l, n, &j->result);
    if (!j->rc && q) {
        /* RawInputRecords are the samples as read; ProcessedInputRecords what was learnt from */
        cJSON *raw = cJSON_CreateArray();
        for (size_t k = 0; k < n; k++)
            cJSON_AddItemToArray(raw, cJSON_CreateString(p[k]));
        cJSON_ReplaceItemInObjectCaseSensitive(j->result, "RawInputRecords", raw);
    }
    free_samples(p, l, n);
    free_samples(q, ql, nq);
    if (sl_loop_post(discover_reply, j))
        sl_error("analytics", "cannot post the DiscoverInputSchema reply");
    return NULL;
}

void sl_ka_discover_input_schema(sl_api_call *call);
void sl_ka_discover_input_schema(sl_api_call *call)
{
    if (ready_or_reply(call))
        return;
    const cJSON *in = call->input;
    const char *arn = in_str(in, "ResourceARN");
    const cJSON *s3 = cJSON_GetObjectItemCaseSensitive(in, "S3Configuration");
    discover_job *j = calloc(1, sizeof(*j));
    if (!j) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    const char *lam;
    char msg[300];
    if (preprocessor(in, "InputProcessingConfiguration", "InputLambdaProcessor", &lam, msg,
                     sizeof(msg))) {
        free(j);
        sl_wire_call_error(call, "InvalidArgumentException", "%s", msg);
        return;
    }
    if (lam)
        snprintf(j->lambda_arn, sizeof(j->lambda_arn), "%s", lam);
    if (s3) {
        const char *b = in_str(s3, "BucketARN");
        if (s3_path(b, in_str(s3, "FileKey"), j->path, sizeof(j->path))) {
            free(j);
            sl_wire_call_error(call, "InvalidArgumentException", "Invalid S3 location.");
            return;
        }
        snprintf(j->bucket, sizeof(j->bucket), "%s", strncmp(b, "arn:aws:s3:::", 13) ? b : b + 13);
        snprintf(j->key, sizeof(j->key), "%s", in_str(s3, "FileKey"));
        snprintf(j->source_arn, sizeof(j->source_arn), "%.511s", b);
    } else if (arn) {
        snprintf(j->source_arn, sizeof(j->source_arn), "%s", arn);
        if (!in_str(in, "RoleARN") ||
            !cJSON_GetObjectItemCaseSensitive(in, "InputStartingPositionConfiguration")) {
            free(j);
            sl_wire_call_error(call, "InvalidArgumentException",
                               "RoleARN and InputStartingPositionConfiguration are required "
                               "with ResourceARN.");
            return;
        }
        if (ka_ds_shards(arn, &j->shards, &j->n_shards) &&
            ka_fh_shards(arn, &j->shards, &j->n_shards)) {
            free(j);
            sl_wire_call_error(call, "ResourceNotFoundException", "Stream %s was not found.", arn);
            return;
        }
        const char *pos =
            in_str(cJSON_GetObjectItemCaseSensitive(in, "InputStartingPositionConfiguration"),
                   "InputStartingPosition");
        j->from_start = pos && !strcmp(pos, "TRIM_HORIZON");
    } else {
        free(j);
        sl_wire_call_error(call, "InvalidArgumentException",
                           "Either ResourceARN or S3Configuration is required.");
        return;
    }
    sl_ds_call_keep(&j->k, call);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, discover_thread, j)) {
        sl_ds_call_release(&j->k);
        free(j->shards);
        free(j);
        sl_wire_call_error_code(call, SL_ENOMEM);
    }
    pthread_attr_destroy(&at);
}
