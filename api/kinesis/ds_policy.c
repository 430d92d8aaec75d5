/* Kinesis Data Streams resource policies (PutResourcePolicy, GetResourcePolicy,
 * DeleteResourcePolicy), account settings (DescribeAccountSettings, UpdateAccountSettings) and
 * warm throughput (UpdateStreamWarmThroughput), persisted as described in ds_policy.h.
 *
 * Resource policies. ResourceARN names a stream (arn:aws:kinesis:<region>:<account>:stream/<n>)
 * or a registered consumer (<stream ARN>/consumer/<name>:<created epoch s>) of the caller's
 * region and account; anything else that passed the model's pattern is ResourceNotFoundException
 * (missing) or InvalidArgumentException (malformed consumer part). The policy must be a JSON
 * object of at most 20480 characters (the model sets no limit; 20 KiB is AWS's documented
 * resource-policy size) and is stored verbatim. It is kept, not evaluated: Sluice authorizes by
 * SigV4 key only. Get of a resource without a policy answers {"Policy": "{}"}, as AWS does;
 * Delete of a resource without one answers ResourceNotFoundException. A policy dies with its
 * resource: rows of a deleted stream (or consumer) are ignored, and overwritten by the next Put.
 *
 * Account settings. MinimumThroughputBillingCommitment is billing-only on AWS and there is no
 * billing here: Sluice keeps and reports the state machine so clients round-trip:
 *   DISABLED --ENABLED--> ENABLED (StartedAt = now, EarliestAllowedEndAt = now + commitment)
 *   ENABLED --DISABLED, before EarliestAllowedEndAt--> ENABLED_UNTIL_EARLIEST_ALLOWED_END
 *                                                      (EndedAt = EarliestAllowedEndAt)
 *   ENABLED --DISABLED, after--> DISABLED (EndedAt = now)
 *   ENABLED_UNTIL_... --ENABLED--> ENABLED;  once EndedAt has passed it reads as DISABLED.
 * The commitment lasts SLUICE_KINESIS_COMMITMENT_MS (default 24 h; tests shorten it).
 *
 * Warm throughput (on-demand streams, with the commitment in force, as AWS requires): the target
 * is stored and the stream goes UPDATING -> ACTIVE like any other change; CurrentMiBps reaches
 * the target when the stream is ACTIVE again. Nothing is provisioned: an on-demand stream here
 * takes whatever the machine can write. Limit 10240 MiB/s (AWS's 10 GiB/s). */
#include "ds_policy.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define POLICY_MAX_CHARS 20480
#define WARM_MAX_MIBPS   10240

typedef struct row {
    char *k; /* owned */
    int64_t owner_ms;
    char *v; /* owned */
} row;

static struct {
    sl_store *store;
    row *rows;
    size_t n;
    int64_t commitment_ms;
} st;

static const char *const migration[] = {
    "CREATE TABLE ds_settings(k TEXT PRIMARY KEY, owner_ms INTEGER NOT NULL, v TEXT NOT NULL);",
};

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

/* ---- rows in memory ----------------------------------------------------------------------- */

static row *find_row(const char *k)
{
    for (size_t i = 0; i < st.n; i++)
        if (strcmp(st.rows[i].k, k) == 0)
            return &st.rows[i];
    return NULL;
}

/* Sets (v != NULL) or removes row k. Returns 0 or SL_ENOMEM (nothing changed). */
static int set_row(const char *k, int64_t owner_ms, const char *v)
{
    row *r = find_row(k);
    if (!v) {
        if (r) {
            free(r->k);
            free(r->v);
            *r = st.rows[--st.n];
        }
        return 0;
    }
    char *nv = strdup(v);
    if (!nv)
        return SL_ENOMEM;
    if (!r) {
        row *g = realloc(st.rows, (st.n + 1) * sizeof(*g));
        char *nk = strdup(k);
        if (!g || !nk) {
            if (g)
                st.rows = g;
            free(nk);
            free(nv);
            return SL_ENOMEM;
        }
        st.rows = g;
        r = &st.rows[st.n++];
        r->k = nk;
        r->v = NULL;
    }
    free(r->v);
    r->v = nv;
    r->owner_ms = owner_ms;
    return 0;
}

static int sql_load(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    sqlite3_stmt *s = NULL;
    int rc = SL_EIO, step;
    (void)arg;
    (void)e;
    if (sqlite3_prepare_v2(db, "SELECT k, owner_ms, v FROM ds_settings", -1, &s, NULL))
        goto out;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if ((rc = set_row((const char *)sqlite3_column_text(s, 0), sqlite3_column_int64(s, 1),
                          (const char *)sqlite3_column_text(s, 2))))
            goto out;
        rc = SL_EIO;
    }
    if (step == SQLITE_DONE)
        rc = 0;
out:
    if (rc == SL_EIO)
        sl_error("kinesis", "loading settings failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

int sl_ds_settings_init(sl_store *store)
{
    int rc;
    const char *c = getenv("SLUICE_KINESIS_COMMITMENT_MS");
    st.commitment_ms = c && *c ? strtoll(c, NULL, 10) : 24LL * 3600 * 1000;
    st.store = store;
    if ((rc = sl_store_migrate(store, "kinesis_ds_settings", migration, 1)))
        return rc;
    return sl_writer_run_sync(sl_store_writer(store), sql_load, NULL);
}

void sl_ds_settings_shutdown(void)
{
    for (size_t i = 0; i < st.n; i++) {
        free(st.rows[i].k);
        free(st.rows[i].v);
    }
    free(st.rows);
    st.rows = NULL;
    st.n = 0;
    st.store = NULL;
}

/* ---- durable change, then the reply ------------------------------------------------------- */

typedef struct save_job {
    sl_ds_call k;
    char *key;
    int64_t owner_ms;
    char *v; /* NULL: delete */
    cJSON *reply;
    int rc;
} save_job;

static int sql_save(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    save_job *j = arg;
    sqlite3_stmt *s = NULL;
    int rc = SL_EIO;
    (void)e;
    const char *sql = j->v ? "INSERT OR REPLACE INTO ds_settings(k, owner_ms, v) VALUES(?,?,?)"
                           : "DELETE FROM ds_settings WHERE k = ?";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(s, 1, j->key, -1, SQLITE_STATIC);
    if (j->v) {
        sqlite3_bind_int64(s, 2, j->owner_ms);
        sqlite3_bind_text(s, 3, j->v, -1, SQLITE_STATIC);
    }
    if (sqlite3_step(s) == SQLITE_DONE)
        rc = 0;
out:
    if (rc)
        sl_error("kinesis", "catalog write of setting %s failed: %s", j->key, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    return rc;
}

static void save_free(save_job *j)
{
    sl_ds_call_release(&j->k);
    cJSON_Delete(j->reply);
    free(j->key);
    free(j->v);
    free(j);
}

static void save_finish(void *arg)
{
    save_job *j = arg;
    if (j->rc)
        sl_wire_call_error_code(&j->k.call, j->rc == SL_EFULL ? SL_EFULL : SL_ESTORAGE_FAILED);
    else
        sl_wire_reply_ok(&j->k.call, j->reply);
    save_free(j);
}

static void save_done(void *arg, int rc, const sl_log_entry *e)
{
    save_job *j = arg;
    (void)e;
    j->rc = rc;
    if (sl_loop_post(save_finish, j) != 0)
        sl_error("kinesis", "cannot post a settings completion: out of memory");
}

/* Changes row key in memory and on disk, then answers call with reply (owned; NULL = empty
 * body). */
static void save_and_reply(sl_api_call *call, const char *key, int64_t owner_ms, const char *v,
                           cJSON *reply)
{
    save_job *j = calloc(1, sizeof(*j));
    int rc = SL_ENOMEM;
    if (!j || !(j->key = strdup(key)) || (v && !(j->v = strdup(v))))
        goto fail;
    j->owner_ms = owner_ms;
    j->reply = reply;
    reply = NULL;
    if ((rc = set_row(key, owner_ms, v)))
        goto fail;
    sl_ds_call_keep(&j->k, call);
    if ((rc = sl_writer_submit_fn(sl_store_writer(st.store), sql_save, save_done, j))) {
        sl_ds_call_release(&j->k);
        goto fail;
    }
    return;
fail:
    sl_wire_call_error_code(call, rc);
    if (j) {
        free(j->key);
        free(j->v);
        cJSON_Delete(j->reply);
        free(j);
    }
    cJSON_Delete(reply);
}

/* ---- resource policies -------------------------------------------------------------------- */

/* The stream (and consumer) ResourceARN names; on failure answers and returns NULL. *owner_ms =
 * the stream's creation time. */
static sl_ds_stream *resource_or_reply(sl_api_call *call, sl_ds_model *m, const char *arn,
                                       int64_t *owner_ms)
{
    char prefix[128], name[129] = "";
    sl_ds_err e;
    int n =
        snprintf(prefix, sizeof(prefix), "arn:aws:kinesis:%s:%s:stream/", m->region, m->account);
    const char *rest = strncmp(arn, prefix, (size_t)n) == 0 ? arn + n : NULL;
    const char *cons = rest ? strstr(rest, "/consumer/") : NULL;
    size_t name_len = rest ? (cons ? (size_t)(cons - rest) : strlen(rest)) : 0;
    sl_ds_stream *s = NULL;

    if (rest && name_len > 0 && name_len <= 128) {
        memcpy(name, rest, name_len);
        name[name_len] = '\0';
        s = sl_ds_model_find(m, name);
    }
    if (!s || s->status == SL_DS_DELETING) {
        sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "Resource %.300s does not exist under account %s.", arn, m->account);
        goto fail;
    }
    if (cons) {
        const char *cn = cons + 10, *colon = strrchr(cn, ':');
        char cname[129];
        char *end = NULL;
        long long ts = colon ? strtoll(colon + 1, &end, 10) : -1;
        if (!colon || colon == cn || (size_t)(colon - cn) > 128 || !end || *end || ts < 0) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid ResourceARN %.300s.",
                          arn);
            goto fail;
        }
        snprintf(cname, sizeof(cname), "%.*s", (int)(colon - cn), cn);
        sl_ds_consumer *c = sl_ds_stream_find_consumer(s, cname);
        if (!c || c->created_ms / 1000 != ts || c->status == SL_DS_CONSUMER_DELETING) {
            sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                          "Resource %.300s does not exist under account %s.", arn, m->account);
            goto fail;
        }
    }
    *owner_ms = s->created_ms;
    return s;
fail:
    sl_ds_reply_err(call, &e);
    return NULL;
}

/* The live policy row of arn (NULL when none, or left over from an earlier incarnation). */
static const row *policy_row(const char *arn, int64_t owner_ms, char *key, size_t cap)
{
    snprintf(key, cap, "policy/%s", arn);
    const row *r = find_row(key);
    return r && r->owner_ms == owner_ms ? r : NULL;
}

void sl_kinesis_put_resource_policy(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    const char *arn = sl_ds_in_str(call->input, "ResourceARN");
    const char *policy = sl_ds_in_str(call->input, "Policy");
    char key[2200];
    int64_t owner;
    sl_ds_err e;
    if (!m || !resource_or_reply(call, m, arn ? arn : "", &owner))
        return;
    if (!policy || strlen(policy) > POLICY_MAX_CHARS) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "The resource policy is larger than the limit of %d characters.",
                      POLICY_MAX_CHARS);
        sl_ds_reply_err(call, &e);
        return;
    }
    cJSON *j = cJSON_Parse(policy);
    int object = cJSON_IsObject(j);
    cJSON_Delete(j);
    if (!object) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "The resource policy is not a valid JSON policy document.");
        sl_ds_reply_err(call, &e);
        return;
    }
    snprintf(key, sizeof(key), "policy/%s", arn);
    save_and_reply(call, key, owner, policy, NULL);
}

void sl_kinesis_get_resource_policy(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    const char *arn = sl_ds_in_str(call->input, "ResourceARN");
    char key[2200];
    int64_t owner;
    if (!m || !resource_or_reply(call, m, arn ? arn : "", &owner))
        return;
    const row *r = policy_row(arn, owner, key, sizeof(key));
    cJSON *out = cJSON_CreateObject();
    if (!out || !cJSON_AddStringToObject(out, "Policy", r ? r->v : "{}"))
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_kinesis_delete_resource_policy(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    const char *arn = sl_ds_in_str(call->input, "ResourceARN");
    char key[2200];
    int64_t owner;
    sl_ds_err e;
    if (!m || !resource_or_reply(call, m, arn ? arn : "", &owner))
        return;
    if (!policy_row(arn, owner, key, sizeof(key))) {
        sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "No resource policy found for resource %.300s.", arn);
        sl_ds_reply_err(call, &e);
        return;
    }
    save_and_reply(call, key, owner, NULL, NULL);
}

/* ---- account settings --------------------------------------------------------------------- */

typedef struct commitment {
    char status[40];
    int64_t started_ms, ended_ms, earliest_ms; /* 0: absent */
} commitment;

static void commitment_get(const char *region, commitment *c)
{
    char key[80];
    memset(c, 0, sizeof(*c));
    snprintf(c->status, sizeof(c->status), "DISABLED");
    snprintf(key, sizeof(key), "account/%s", region);
    const row *r = find_row(key);
    cJSON *j = r ? cJSON_Parse(r->v) : NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (cJSON_IsString(s)) {
        snprintf(c->status, sizeof(c->status), "%s", s->valuestring);
        c->started_ms = (int64_t)sl_ds_in_num(j, "started_ms", 0);
        c->ended_ms = (int64_t)sl_ds_in_num(j, "ended_ms", 0);
        c->earliest_ms = (int64_t)sl_ds_in_num(j, "earliest_ms", 0);
    }
    cJSON_Delete(j);
    if (strcmp(c->status, "ENABLED_UNTIL_EARLIEST_ALLOWED_END") == 0 && now_ms() >= c->ended_ms)
        snprintf(c->status, sizeof(c->status), "DISABLED");
}

static int commitment_in_force(const char *region)
{
    commitment c;
    commitment_get(region, &c);
    return strcmp(c.status, "DISABLED") != 0;
}

static cJSON *commitment_json(const commitment *c)
{
    cJSON *out = cJSON_CreateObject(),
          *o = out ? cJSON_AddObjectToObject(out, "MinimumThroughputBillingCommitment") : NULL;
    int bad = !o || !cJSON_AddStringToObject(o, "Status", c->status);
    if (!bad && c->started_ms)
        bad |= sl_wire_json_add_timestamp(o, "StartedAt", c->started_ms) != 0;
    if (!bad && c->ended_ms)
        bad |= sl_wire_json_add_timestamp(o, "EndedAt", c->ended_ms) != 0;
    if (!bad && c->earliest_ms)
        bad |= sl_wire_json_add_timestamp(o, "EarliestAllowedEndAt", c->earliest_ms) != 0;
    if (bad) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

void sl_kinesis_describe_account_settings(sl_api_call *call)
{
    commitment c;
    if (sl_ds_ready_or_reply(call))
        return;
    commitment_get(call->region, &c);
    cJSON *out = commitment_json(&c);
    if (!out)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_kinesis_update_account_settings(sl_api_call *call)
{
    const cJSON *in =
        cJSON_GetObjectItemCaseSensitive(call->input, "MinimumThroughputBillingCommitment");
    const char *want = sl_ds_in_str(in, "Status");
    int64_t now = now_ms();
    char key[80], doc[256];
    commitment c;
    if (sl_ds_ready_or_reply(call))
        return;
    commitment_get(call->region, &c);
    int on = strcmp(c.status, "DISABLED") != 0;
    if (want && strcmp(want, "ENABLED") == 0) {
        if (!on) {
            c.started_ms = now;
            c.earliest_ms = now + st.commitment_ms;
        }
        c.ended_ms = 0;
        snprintf(c.status, sizeof(c.status), "ENABLED");
    } else if (on && strcmp(c.status, "ENABLED") == 0) {
        if (now < c.earliest_ms) {
            c.ended_ms = c.earliest_ms;
            snprintf(c.status, sizeof(c.status), "ENABLED_UNTIL_EARLIEST_ALLOWED_END");
        } else {
            c.ended_ms = now;
            snprintf(c.status, sizeof(c.status), "DISABLED");
        }
    }
    snprintf(doc, sizeof(doc),
             "{\"status\":\"%s\",\"started_ms\":%lld,\"ended_ms\":%lld,\"earliest_ms\":%lld}",
             c.status, (long long)c.started_ms, (long long)c.ended_ms, (long long)c.earliest_ms);
    snprintf(key, sizeof(key), "account/%s", call->region);
    cJSON *out = commitment_json(&c);
    if (!out) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    save_and_reply(call, key, 0, doc, out);
}

/* ---- warm throughput ---------------------------------------------------------------------- */

static void warm_key(const sl_ds_model *m, const sl_ds_stream *s, char *out, size_t cap)
{
    snprintf(out, cap, "warm/%s/%s", m->region, s->name);
}

/* Target and current MiB/s of s; 0 when none is set. */
static int warm_get(const sl_ds_model *m, const sl_ds_stream *s, long *target, long *current)
{
    char key[200];
    warm_key(m, s, key, sizeof(key));
    const row *r = find_row(key);
    if (!r || r->owner_ms != s->created_ms)
        return 0;
    cJSON *j = cJSON_Parse(r->v);
    *target = (long)sl_ds_in_num(j, "target", 0);
    *current = (long)sl_ds_in_num(j, "current", 0);
    cJSON_Delete(j);
    if (s->status == SL_DS_ACTIVE)
        *current = *target;
    return 1;
}

static int add_warm(cJSON *d, long target, long current)
{
    cJSON *w = cJSON_AddObjectToObject(d, "WarmThroughput");
    return w && cJSON_AddNumberToObject(w, "TargetMiBps", (double)target) &&
                   cJSON_AddNumberToObject(w, "CurrentMiBps", (double)current)
               ? 0
               : SL_ENOMEM;
}

int sl_ds_warm_describe(const sl_ds_model *m, const sl_ds_stream *s, cJSON *d)
{
    long target, current;
    if (!warm_get(m, s, &target, &current))
        return 0;
    return add_warm(d, target, current);
}

int sl_ds_warm_check(const sl_ds_model *m, const char *name, sl_ds_mode mode, double want,
                     sl_ds_err *e)
{
    if (mode != SL_DS_ON_DEMAND)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Warm throughput can only be set on on-demand streams; stream %s "
                             "under account %s is PROVISIONED.",
                             name, m->account);
    if (!commitment_in_force(m->region))
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Warm throughput requires the account's "
                             "MinimumThroughputBillingCommitment to be ENABLED "
                             "(UpdateAccountSettings).");
    if (want > WARM_MAX_MIBPS)
        return sl_ds_err_set(e, SL_EINVAL, "LimitExceededException",
                             "Requested warm throughput %.0f MiBps exceeds the limit of %d MiBps.",
                             want, WARM_MAX_MIBPS);
    if (want < 0)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "WarmThroughputMiBps must be given.");
    return 0;
}

static void stored_done(void *arg, int rc, const sl_log_entry *e)
{
    save_job *j = arg;
    (void)e;
    (void)rc; /* sql_save logged it; the caller's own persist reports the batch's failure */
    free(j->key);
    free(j->v);
    free(j);
}

int sl_ds_warm_store(const sl_ds_model *m, const sl_ds_stream *s, long target)
{
    char key[200], doc[96];
    long prev = 0, unused;
    if (!warm_get(m, s, &prev, &unused))
        prev = 0;
    warm_key(m, s, key, sizeof(key));
    snprintf(doc, sizeof(doc), "{\"target\":%ld,\"current\":%ld}", target, prev);
    const row *old = find_row(key);
    int64_t old_owner = old ? old->owner_ms : 0;
    char *old_v = old ? strdup(old->v) : NULL; /* put back if the writer refuses */
    save_job *j = calloc(1, sizeof(*j));
    int rc = SL_ENOMEM;
    if ((old && !old_v) || !j || !(j->key = strdup(key)) || !(j->v = strdup(doc)))
        goto fail;
    j->owner_ms = s->created_ms;
    if ((rc = set_row(key, s->created_ms, doc)))
        goto fail;
    if ((rc = sl_writer_submit_fn(sl_store_writer(st.store), sql_save, stored_done, j))) {
        set_row(key, old_owner, old_v); /* old_v NULL: there was no row */
        goto fail;
    }
    free(old_v);
    return 0;
fail:
    if (j) {
        free(j->key);
        free(j->v);
        free(j);
    }
    free(old_v);
    return rc;
}

void sl_kinesis_update_stream_warm_throughput(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    double want = sl_ds_in_num(call->input, "WarmThroughputMiBps", -1);
    long target = 0, current = 0;
    char key[200], doc[96], arn[300];
    sl_ds_err e;
    if (!s)
        return;
    if (sl_ds_warm_check(m, s->name, s->mode, want, &e))
        goto fail;
    if (s->status != SL_DS_ACTIVE) {
        sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                      "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
                      m->account, sl_ds_status_name(s->status));
        goto fail;
    }
    warm_get(m, s, &target, &current);
    current = target; /* the stream is ACTIVE: what it had is what it has */
    target = (long)want;
    sl_ds_stream_arn(m, s, arn, sizeof(arn));
    cJSON *out = cJSON_CreateObject();
    if (!out || !cJSON_AddStringToObject(out, "StreamARN", arn) ||
        !cJSON_AddStringToObject(out, "StreamName", s->name) ||
        add_warm(out, target, current) != 0) {
        cJSON_Delete(out);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    snprintf(doc, sizeof(doc), "{\"target\":%ld,\"current\":%ld}", target, current);
    warm_key(m, s, key, sizeof(key));
    s->status = SL_DS_UPDATING;
    sl_ds_registry_put(m, s);
    sl_ds_persist(m, s);
    save_and_reply(call, key, s->created_ms, doc, out);
    sl_ds_schedule_transition(m, s);
    return;
fail:
    sl_ds_reply_err(call, &e);
}
