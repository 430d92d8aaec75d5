/* The Kinesis Video service core: the stream table, start-up load from the catalog, durable
 * writes through the group-commit writer, the in-memory fragment index, the read worker and
 * retention. Layouts and rules are described in kv.h.
 *
 * Start-up happens on first use (kv_ready): api.c is not ours to edit, so the first Kinesis
 * Video request migrates the "kinesis_video" tables and loads every stream, header and fragment
 * row with one blocking run on the writer thread (like the Data Streams service does). After
 * that nothing here blocks the loop: writes are submitted to the writer and finish through
 * sl_loop_post; fragment bytes that are not in memory are read by one worker thread.
 *
 * Retention runs once a minute on the loop: a stream's expired fragments leave the index at
 * once (readers then skip them), their rows are deleted by a writer step, and the worker asks
 * the shared fragment log to unlink the whole segments no stream indexes any more. */
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "../api_int.h"
#include "kv.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/streams.h"
#include "sluice/time.h"

#define RETENTION_TICK_MS 60000

static const char *const migration[] = {
    "CREATE TABLE kv_streams(region TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL,"
    " PRIMARY KEY(region, name));"
    "CREATE TABLE kv_headers(skey TEXT NOT NULL, id INTEGER NOT NULL, bytes BLOB NOT NULL,"
    " PRIMARY KEY(skey, id));"
    "CREATE TABLE kv_fragments(skey TEXT NOT NULL, seq INTEGER NOT NULL,"
    " producer_ms INTEGER, server_ms INTEGER, duration_ms INTEGER, size INTEGER,"
    " header_id INTEGER, log_offset INTEGER, frames INTEGER, PRIMARY KEY(skey, seq));",
    /* 2: the index is derived from the log (kv_index.c): its position, fragment metadata */
    "CREATE TABLE kv_index_pos(log TEXT PRIMARY KEY, next_offset INTEGER NOT NULL) WITHOUT ROWID;"
    "ALTER TABLE kv_fragments ADD COLUMN meta BLOB;",
};
#define MIGRATION_STEPS ((int)(sizeof(migration) / sizeof(migration[0])))

typedef struct rjob {
    void (*work)(void *);
    void (*done)(void *);
    void *arg;
    struct rjob *next;
} rjob;

static struct {
    int up;
    sl_store *store;
    sl_writer *w;
    kv_stream **streams;
    size_t n, cap;
    /* read worker */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rjob *head, *tail;
    int stop, thr_up;
    pthread_t thr;
    void *retention_timer;
    sl_log *log; /* "video/fragments", shared by every stream */
} kv = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* ---- blobs ----------------------------------------------------------------------------------
 */

kv_blob *kv_blob_new(const void *p, size_t len)
{
    kv_blob *b = malloc(sizeof(*b) + len);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    if (len)
        memcpy(b->data, p, len);
    return b;
}

kv_blob *kv_blob_ref(kv_blob *b)
{
    if (b)
        atomic_fetch_add(&b->refs, 1);
    return b;
}

void kv_blob_unref(kv_blob *b)
{
    if (b && atomic_fetch_sub(&b->refs, 1) == 1)
        free(b);
}

/* ---- streams --------------------------------------------------------------------------------
 */

static void stream_free(kv_stream *s)
{
    for (size_t i = 0; i < s->nfrags; i++) {
        kv_blob_unref(s->frags[i].blob);
        kv_blob_unref(s->frags[i].meta);
    }
    for (size_t i = 0; i < s->nheaders; i++)
        kv_blob_unref(s->headers[i].bytes);
    free(s->frags);
    free(s->headers);
    cJSON_Delete(s->tags);
    free(s);
}

void kv_stream_ref(kv_stream *s)
{
    s->refs++;
}

void kv_stream_unref(kv_stream *s)
{
    if (s && --s->refs == 0)
        stream_free(s);
}

kv_stream *kv_find(const char *region, const char *name)
{
    for (size_t i = 0; i < kv.n; i++) {
        kv_stream *s = kv.streams[i];
        if (strcmp(s->name, name) == 0 && strcmp(s->region, region) == 0)
            return s;
    }
    return NULL;
}

kv_stream *kv_find_arn(const char *arn)
{
    for (size_t i = 0; i < kv.n; i++) {
        if (strcmp(kv.streams[i]->arn, arn) == 0)
            return kv.streams[i];
    }
    return NULL;
}

static void registry_put(const kv_stream *s)
{
    sl_vstream_info in;
    memset(&in, 0, sizeof(in));
    snprintf(in.region, sizeof(in.region), "%s", s->region);
    snprintf(in.name, sizeof(in.name), "%s", s->name);
    snprintf(in.arn, sizeof(in.arn), "%s", s->arn);
    snprintf(in.device_name, sizeof(in.device_name), "%s", s->device_name);
    snprintf(in.media_type, sizeof(in.media_type), "%s", s->media_type);
    snprintf(in.kms_key_id, sizeof(in.kms_key_id), "%s", s->kms_key_id);
    snprintf(in.version, sizeof(in.version), "%s", s->version);
    snprintf(in.status, sizeof(in.status), "%s", kv_status_name(s->status));
    in.created_ms = s->created_ms;
    in.retention_hours = s->retention_hours;
    if (sl_vstreams_put(&in) != 0)
        sl_error("video", "ListStreams registry: cannot add %s", s->name);
}

int kv_table_add(kv_stream *s)
{
    if (kv.n == kv.cap) {
        size_t cap = kv.cap ? kv.cap * 2 : 16;
        kv_stream **g = realloc(kv.streams, cap * sizeof(*g));
        if (!g)
            return SL_ENOMEM;
        kv.streams = g;
        kv.cap = cap;
    }
    kv.streams[kv.n++] = s;
    s->refs = 1;
    registry_put(s);
    return 0;
}

void kv_table_update(const kv_stream *s)
{
    registry_put(s);
}

void kv_table_remove(kv_stream *s)
{
    for (size_t i = 0; i < kv.n; i++) {
        if (kv.streams[i] == s) {
            memmove(&kv.streams[i], &kv.streams[i + 1], (kv.n - i - 1) * sizeof(*kv.streams));
            kv.n--;
            break;
        }
    }
    sl_vstreams_remove(s->region, s->name);
    kv_index_forget(s->skey);
    s->deleted = 1;
    kv_put_stream_deleted(s);
    kv_reader_wake_all(s);
    kv_stream_unref(s);
}

const char *kv_status_name(int status)
{
    return status == KV_CREATING ? "CREATING" : status == KV_UPDATING ? "UPDATING" : "ACTIVE";
}

int kv_limits_on(void)
{
    static int on = -1;
    if (on < 0)
        on = sl_api_shard_limits_env();
    return on;
}

void kv_new_version(char out[21])
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint8_t r[20];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
        uint64_t x = (uint64_t)sl_time_mono_ns() ^ (uint64_t)sl_time_now_ns();
        for (size_t i = 0; i < sizeof(r); i++, x = x * 6364136223846793005ull + 1)
            r[i] = (uint8_t)(x >> 33);
    }
    for (size_t i = 0; i < 20; i++)
        out[i] = al[r[i] % (sizeof(al) - 1)];
    out[20] = '\0';
}

/* The JSON doc stored in kv_streams. */
static char *stream_to_json(const kv_stream *s)
{
    cJSON *o = cJSON_CreateObject();
    char *txt = NULL;
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", s->name);
    cJSON_AddStringToObject(o, "skey", s->skey);
    cJSON_AddStringToObject(o, "arn", s->arn);
    cJSON_AddStringToObject(o, "device", s->device_name);
    cJSON_AddStringToObject(o, "media", s->media_type);
    cJSON_AddStringToObject(o, "kms", s->kms_key_id);
    cJSON_AddStringToObject(o, "version", s->version);
    cJSON_AddNumberToObject(o, "created_ms", (double)s->created_ms);
    cJSON_AddNumberToObject(o, "retention_h", (double)s->retention_hours);
    cJSON_AddItemToObject(o, "tags", s->tags ? cJSON_Duplicate(s->tags, 1) : cJSON_CreateObject());
    txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

static void copy_json_str(char *dst, size_t cap, const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(dst, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static kv_stream *stream_from_json(const char *region, const char *doc)
{
    cJSON *o = cJSON_Parse(doc);
    kv_stream *s = o ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        cJSON_Delete(o);
        return NULL;
    }
    snprintf(s->region, sizeof(s->region), "%s", region);
    copy_json_str(s->name, sizeof(s->name), o, "name");
    copy_json_str(s->skey, sizeof(s->skey), o, "skey");
    copy_json_str(s->arn, sizeof(s->arn), o, "arn");
    copy_json_str(s->device_name, sizeof(s->device_name), o, "device");
    copy_json_str(s->media_type, sizeof(s->media_type), o, "media");
    copy_json_str(s->kms_key_id, sizeof(s->kms_key_id), o, "kms");
    copy_json_str(s->version, sizeof(s->version), o, "version");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "created_ms");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "retention_h");
    s->created_ms = cJSON_IsNumber(c) ? (int64_t)c->valuedouble : 0;
    s->retention_hours = cJSON_IsNumber(r) ? (int64_t)r->valuedouble : 0;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "tags");
    s->tags = cJSON_IsObject(t) ? cJSON_Duplicate(t, 1) : cJSON_CreateObject();
    s->next_header_id = 1;
    cJSON_Delete(o);
    if (!s->name[0] || !s->skey[0] || !s->tags) {
        stream_free(s);
        return NULL;
    }
    return s;
}

/* ---- persistence ----------------------------------------------------------------------------
 */

typedef struct persist_job {
    char region[32], name[257], skey[40];
    char *doc; /* NULL: delete the stream's rows */
    void (*done)(void *arg, int rc);
    void *arg;
    int rc;
} persist_job;

static int sql_exec_bind(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        const char *v[3] = {a, b, c};
        for (int i = 0; i < 3 && v[i]; i++)
            sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : SL_EIO;
}

static int sql_persist(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    persist_job *j = arg;
    (void)e;
    if (j->doc)
        return sql_exec_bind(db,
                             "INSERT OR REPLACE INTO kv_streams(region, name, doc) "
                             "VALUES(?1, ?2, ?3)",
                             j->region, j->name, j->doc);
    int rc = sql_exec_bind(db, "DELETE FROM kv_streams WHERE region = ?1 AND name = ?2", j->region,
                           j->name, NULL);
    if (!rc)
        rc = sql_exec_bind(db, "DELETE FROM kv_fragments WHERE skey = ?1", j->skey, NULL, NULL);
    if (!rc)
        rc = sql_exec_bind(db, "DELETE FROM kv_headers WHERE skey = ?1", j->skey, NULL, NULL);
    return rc;
}

static void persist_finish(void *arg)
{
    persist_job *j = arg;
    if (j->rc)
        sl_error("video", "cannot persist stream %s: %s", j->name, sl_err_str(j->rc));
    if (j->done)
        j->done(j->arg, j->rc);
    free(j->doc);
    free(j);
}

static void persist_done(void *arg, int rc, const sl_log_entry *e)
{
    persist_job *j = arg;
    (void)e;
    j->rc = rc;
    if (sl_loop_post(persist_finish, j) != 0)
        sl_error("video", "cannot post a persist completion: out of memory");
}

int kv_persist(kv_stream *s, void (*done)(void *arg, int rc), void *arg)
{
    persist_job *j = calloc(1, sizeof(*j));
    if (!j)
        return SL_ENOMEM;
    snprintf(j->region, sizeof(j->region), "%s", s->region);
    snprintf(j->name, sizeof(j->name), "%s", s->name);
    snprintf(j->skey, sizeof(j->skey), "%s", s->skey);
    if (!s->deleted && !(j->doc = stream_to_json(s))) {
        free(j);
        return SL_ENOMEM;
    }
    j->done = done;
    j->arg = arg;
    int rc = sl_writer_submit_fn(kv.w, sql_persist, persist_done, j);
    if (rc) {
        free(j->doc);
        free(j);
    }
    return rc;
}

int kv_sql_insert_frags(sqlite3 *db, const kv_frag_row *rows, size_t n)
{
    static const char sql[] =
        "INSERT OR REPLACE INTO kv_fragments(skey, seq, producer_ms, server_ms, duration_ms, size,"
        " header_id, log_offset, frames, meta) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        const kv_frag *f = &rows[i].f;
        sqlite3_bind_text(st, 1, rows[i].skey, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)f->seq);
        sqlite3_bind_int64(st, 3, f->producer_ms);
        sqlite3_bind_int64(st, 4, f->server_ms);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)f->duration_ms);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)f->size);
        sqlite3_bind_int64(st, 7, f->header_id);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)f->log_offset);
        sqlite3_bind_int64(st, 9, f->frames);
        if (f->meta)
            sqlite3_bind_blob(st, 10, f->meta->data, (int)f->meta->len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 10);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : SL_EIO;
}

int kv_sql_insert_frag(sqlite3 *db, const kv_frag_row *row)
{
    return kv_sql_insert_frags(db, row, 1);
}

typedef struct header_job {
    char skey[40];
    uint32_t id;
    kv_blob *bytes;
} header_job;

int kv_sql_insert_header(sqlite3 *db, const char *skey, uint32_t id, const kv_blob *bytes)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        db, "INSERT OR REPLACE INTO kv_headers(skey, id, bytes) VALUES(?1, ?2, ?3)", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, skey, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        sqlite3_bind_blob(st, 3, bytes->data, (int)bytes->len, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : SL_EIO;
}

static int sql_header(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    header_job *j = arg;
    (void)e;
    return kv_sql_insert_header(db, j->skey, j->id, j->bytes);
}

static void header_done(void *arg, int rc, const sl_log_entry *e)
{
    header_job *j = arg;
    (void)e;
    if (rc)
        sl_error("video", "cannot persist a stream header: %s", sl_err_str(rc));
    kv_blob_unref(j->bytes);
    free(j);
}

const kv_header *kv_header_find(const kv_stream *s, uint32_t id)
{
    for (size_t i = s->nheaders; i-- > 0;) {
        if (s->headers[i].id == id)
            return &s->headers[i];
    }
    return NULL;
}

int kv_header_intern(kv_stream *s, const uint8_t *bytes, size_t len, uint32_t *id)
{
    if (s->nheaders) {
        const kv_header *h = &s->headers[s->nheaders - 1];
        if (h->bytes->len == len && memcmp(h->bytes->data, bytes, len) == 0) {
            *id = h->id;
            return 0;
        }
    }
    kv_header *g = realloc(s->headers, (s->nheaders + 1) * sizeof(*g));
    if (!g)
        return SL_ENOMEM;
    s->headers = g;
    kv_blob *b = kv_blob_new(bytes, len);
    header_job *j = calloc(1, sizeof(*j));
    if (!b || !j) {
        kv_blob_unref(b);
        free(j);
        return SL_ENOMEM;
    }
    kv_header *h = &s->headers[s->nheaders];
    h->id = s->next_header_id++;
    h->bytes = b;
    *id = h->id;
    if (s->retention_hours > 0) {
        /* The header goes to the fragment log too (kv_index.c), ahead of the session's
         * fragments, so an index that lost this row gets it back from the log. */
        uint8_t *rec = NULL;
        size_t rec_len = 0;
        snprintf(j->skey, sizeof(j->skey), "%s", s->skey);
        j->id = h->id;
        j->bytes = kv_blob_ref(b);
        int rc = kv_stream_log(s);
        if (rc == 0)
            rc = kv_record_header(s->skey, h->id, b, &rec, &rec_len);
        if (rc == 0) {
            struct iovec iov = {rec, rec_len};
            sl_append a = {.log = s->log,
                           .iov = &iov,
                           .iovcnt = 1,
                           .sql = sql_header,
                           .done = header_done,
                           .arg = j};
            rc = sl_writer_submit(kv.w, &a);
            free(rec);
        }
        if (rc) {
            kv_blob_unref(j->bytes);
            kv_blob_unref(b);
            free(j);
            return rc;
        }
    } else {
        free(j);
    }
    s->nheaders++;
    return 0;
}

/* ---- loading --------------------------------------------------------------------------------
 */

typedef struct load_arg {
    kv_stream **streams;
    size_t n;
    sl_log *log;
    size_t recovered;
} load_arg;

static kv_stream *load_find(load_arg *a, const char *skey)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->streams[i]->skey, skey) == 0)
            return a->streams[i];
    }
    return NULL;
}

static int sql_load(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    load_arg *a = arg;
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO;
    (void)e;
    if (sqlite3_prepare_v2(db, "SELECT region, doc FROM kv_streams", -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        kv_stream *s = stream_from_json((const char *)sqlite3_column_text(st, 0),
                                        (const char *)sqlite3_column_text(st, 1));
        kv_stream **g = realloc(a->streams, (a->n + 1) * sizeof(*g));
        if (!s || !g) {
            if (s)
                stream_free(s);
            if (g)
                a->streams = g;
            rc = SL_ENOMEM;
            goto out;
        }
        a->streams = g;
        a->streams[a->n++] = s;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT skey, id, bytes FROM kv_headers ORDER BY skey, id", -1, &st,
                           NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        kv_stream *s = load_find(a, (const char *)sqlite3_column_text(st, 0));
        if (!s)
            continue;
        kv_header *g = realloc(s->headers, (s->nheaders + 1) * sizeof(*g));
        if (!g) {
            rc = SL_ENOMEM;
            goto out;
        }
        s->headers = g;
        g[s->nheaders].id = (uint32_t)sqlite3_column_int64(st, 1);
        g[s->nheaders].bytes =
            kv_blob_new(sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
        if (!g[s->nheaders].bytes) {
            rc = SL_ENOMEM;
            goto out;
        }
        if (g[s->nheaders].id >= s->next_header_id)
            s->next_header_id = g[s->nheaders].id + 1;
        s->nheaders++;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT skey, seq, producer_ms, server_ms, duration_ms, size, "
                           "header_id, log_offset, frames, meta FROM kv_fragments "
                           "ORDER BY skey, seq",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        kv_stream *s = load_find(a, (const char *)sqlite3_column_text(st, 0));
        if (!s)
            continue;
        if (s->nfrags == s->cap) {
            size_t cap = s->cap ? s->cap * 2 : 64;
            kv_frag *g = realloc(s->frags, cap * sizeof(*g));
            if (!g) {
                rc = SL_ENOMEM;
                goto out;
            }
            s->frags = g;
            s->cap = cap;
        }
        kv_frag *f = &s->frags[s->nfrags++];
        memset(f, 0, sizeof(*f));
        f->seq = (uint64_t)sqlite3_column_int64(st, 1);
        f->producer_ms = sqlite3_column_int64(st, 2);
        f->server_ms = sqlite3_column_int64(st, 3);
        f->duration_ms = (uint64_t)sqlite3_column_int64(st, 4);
        f->size = (uint64_t)sqlite3_column_int64(st, 5);
        f->header_id = (uint32_t)sqlite3_column_int64(st, 6);
        f->log_offset = (uint64_t)sqlite3_column_int64(st, 7);
        f->frames = (uint32_t)sqlite3_column_int64(st, 8);
        if (sqlite3_column_type(st, 9) == SQLITE_BLOB &&
            kv_meta_check(sqlite3_column_blob(st, 9), (size_t)sqlite3_column_bytes(st, 9)) == 0 &&
            !(f->meta =
                  kv_blob_new(sqlite3_column_blob(st, 9), (size_t)sqlite3_column_bytes(st, 9)))) {
            rc = SL_ENOMEM;
            goto out;
        }
        s->last_seq = f->seq;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* The log is the source of truth: add what the index has not caught up with. */
    rc = kv_index_recover(db, a->log, a->streams, a->n, &a->recovered);
out:
    sqlite3_finalize(st);
    return rc;
}

/* ---- read worker ----------------------------------------------------------------------------
 */

static void *worker_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&kv.mu);
    for (;;) {
        while (!kv.head && !kv.stop)
            pthread_cond_wait(&kv.cv, &kv.mu);
        if (!kv.head)
            break;
        rjob *j = kv.head;
        kv.head = j->next;
        if (!kv.head)
            kv.tail = NULL;
        pthread_mutex_unlock(&kv.mu);
        if (j->work)
            j->work(j->arg);
        if (j->done && sl_loop_post(j->done, j->arg) != 0)
            sl_error("video", "cannot post a read completion: out of memory");
        free(j);
        pthread_mutex_lock(&kv.mu);
    }
    pthread_mutex_unlock(&kv.mu);
    return NULL;
}

int kv_read_submit(void (*work)(void *arg), void (*done)(void *arg), void *arg)
{
    rjob *j = malloc(sizeof(*j));
    if (!j)
        return SL_ENOMEM;
    *j = (rjob){work, done, arg, NULL};
    pthread_mutex_lock(&kv.mu);
    if (kv.stop || !kv.thr_up) {
        pthread_mutex_unlock(&kv.mu);
        free(j);
        return SL_ECLOSED;
    }
    if (kv.tail)
        kv.tail->next = j;
    else
        kv.head = j;
    kv.tail = j;
    pthread_cond_signal(&kv.cv);
    pthread_mutex_unlock(&kv.mu);
    return 0;
}

/* ---- retention ------------------------------------------------------------------------------
 */

typedef struct retain_job {
    sl_log *log; /* shared_log_retain: segments before `before` */
    uint64_t before;
    char skey[40];
    uint64_t below_seq;
} retain_job;

static void retain_work(void *arg)
{
    retain_job *j = arg;
    uint64_t freed = 0;
    int rc = sl_log_retain(j->log, j->before, INT64_MIN, &freed);
    if (rc)
        sl_warn("video", "retention of %s: %s", sl_log_name(j->log), sl_err_str(rc));
}

static int sql_retain(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    retain_job *j = arg;
    sqlite3_stmt *st = NULL;
    (void)e;
    int rc = sqlite3_prepare_v2(db, "DELETE FROM kv_fragments WHERE skey = ?1 AND seq < ?2", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, j->skey, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)j->below_seq);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : SL_EIO;
}

static void retain_sql_done(void *arg, int rc, const sl_log_entry *e)
{
    retain_job *j = arg;
    (void)e;
    (void)rc;
    free(j);
}

/* Whole segments of the shared log go once no stream's index points into them: before the
 * smallest first-fragment offset of all streams (or everything when no stream keeps any). */
static void shared_log_retain(void)
{
    if (!kv.log)
        return;
    uint64_t before = sl_log_end_offset(kv.log);
    for (size_t i = 0; i < kv.n; i++) {
        const kv_stream *s = kv.streams[i];
        if (s->retention_hours > 0 && s->nfrags && s->frags[0].log_offset < before)
            before = s->frags[0].log_offset;
    }
    if (before <= sl_log_first_offset(kv.log))
        return;
    retain_job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    j->log = kv.log;
    j->before = before;
    if (kv_read_submit(retain_work, free, j) != 0)
        free(j);
}

void kv_retention_apply(kv_stream *s, int64_t now_ms)
{
    int64_t keep_ms =
        s->retention_hours > 0 ? s->retention_hours * 3600000 : (int64_t)KV_LIVE_KEEP_MS;
    const char *hour = getenv("SLUICE_VIDEO_TEST_HOUR_MS");
    if (s->retention_hours > 0 && hour && *hour)
        keep_ms = s->retention_hours * strtoll(hour, NULL, 10);
    size_t n = 0;
    while (n < s->nfrags && s->frags[n].server_ms < now_ms - keep_ms)
        n++;
    if (n == 0)
        return;
    uint64_t below = s->frags[n - 1].seq + 1;
    for (size_t i = 0; i < n; i++) {
        kv_blob_unref(s->frags[i].blob);
        kv_blob_unref(s->frags[i].meta);
    }
    memmove(s->frags, s->frags + n, (s->nfrags - n) * sizeof(*s->frags));
    s->nfrags -= n;
    if (s->retention_hours == 0)
        return;
    retain_job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    snprintf(j->skey, sizeof(j->skey), "%s", s->skey);
    j->below_seq = below;
    if (sl_writer_submit_fn(kv.w, sql_retain, retain_sql_done, j) != 0)
        free(j);
}

static void retention_tick(void *unused)
{
    (void)unused;
    kv.retention_timer = NULL;
    int64_t now_ms = sl_time_now_ns() / 1000000;
    for (size_t i = 0; i < kv.n; i++)
        kv_retention_apply(kv.streams[i], now_ms);
    /* Rows go first (submitted above); the bytes of whole segments after them, on the worker. A
     * crash in between leaves bytes without rows, never rows without bytes. */
    shared_log_retain();
    const char *t = getenv("SLUICE_VIDEO_RETENTION_TICK_MS");
    uint64_t every = t && *t ? strtoull(t, NULL, 10) : RETENTION_TICK_MS;
    kv.retention_timer = sl_loop_timer_add(every, retention_tick, NULL);
}

/* ---- start-up -------------------------------------------------------------------------------
 */

int kv_stream_log(kv_stream *s)
{
    if (s->log)
        return 0;
    if (!kv.log) {
        int rc = sl_store_log_open(kv.store, "video/fragments", &kv.log);
        if (rc)
            return rc;
    }
    s->log = kv.log;
    return 0;
}

int kv_ready(void)
{
    load_arg a = {0};
    int rc;
    if (kv.up)
        return 0;
    kv.store = sl_api_store();
    if (!kv.store)
        return SL_EINVAL;
    kv.w = sl_store_writer(kv.store);
    if ((rc = sl_store_migrate(kv.store, "kinesis_video", migration, MIGRATION_STEPS)))
        goto out;
    if ((rc = sl_store_log_open(kv.store, "video/fragments", &kv.log)))
        goto out;
    a.log = kv.log;
    if ((rc = sl_writer_run_sync(kv.w, sql_load, &a)))
        goto out;
    for (size_t i = 0; i < a.n; i++) {
        kv_stream *s = a.streams[i];
        a.streams[i] = NULL;
        if (s->retention_hours > 0 && s->nfrags && (rc = kv_stream_log(s))) {
            stream_free(s);
            goto out;
        }
        if ((rc = kv_table_add(s))) {
            stream_free(s);
            goto out;
        }
    }
    pthread_mutex_lock(&kv.mu);
    kv.stop = 0;
    rc = pthread_create(&kv.thr, NULL, worker_main, NULL) == 0 ? 0 : SL_ENOMEM;
    kv.thr_up = rc == 0;
    pthread_mutex_unlock(&kv.mu);
    if (rc)
        goto out;
    kv.up = 1;
    retention_tick(NULL);
    sl_info("video", "video streams ready: %zu stream(s) loaded", a.n);
out:
    for (size_t i = 0; i < a.n; i++) {
        if (a.streams[i])
            stream_free(a.streams[i]);
    }
    free(a.streams);
    if (rc)
        sl_error("video", "video streams failed to start: %s", sl_err_str(rc));
    return rc;
}

int sl_video_service_init(void)
{
    return kv_ready();
}

void sl_video_service_shutdown(void)
{
    if (!kv.up)
        return;
    if (kv.retention_timer)
        sl_loop_timer_cancel(kv.retention_timer);
    kv.retention_timer = NULL;
    kv_index_shutdown();
    pthread_mutex_lock(&kv.mu);
    kv.stop = 1;
    pthread_cond_broadcast(&kv.cv);
    int joined = kv.thr_up;
    pthread_mutex_unlock(&kv.mu);
    if (joined)
        pthread_join(kv.thr, NULL); /* runs the queued reads first; their completions are posted */
    kv.thr_up = 0;
    while (kv.n > 0) {
        kv_stream *s = kv.streams[--kv.n];
        if (s->status_timer) {
            sl_loop_timer_cancel(s->status_timer);
            s->status_timer = NULL;
            kv_stream_unref(s); /* the timer's reference */
        }
        sl_vstreams_remove(s->region, s->name);
        kv_stream_unref(s);
    }
    free(kv.streams);
    kv.streams = NULL;
    kv.cap = 0;
    kv.log = NULL;
    kv.up = 0;
}

sl_store *kv_store(void)
{
    return kv.store;
}

int kv_ready_or_reply(sl_api_call *call)
{
    int rc = kv_ready();
    if (rc)
        sl_wire_call_error_code(call, SL_EINTERNAL);
    return rc;
}

/* ---- helpers --------------------------------------------------------------------------------
 */

void kv_reply_error(sl_api_call *call, const char *type, const char *msg)
{
    sl_wire_reply_error(call->ex, call->op->service->proto, call->op->service, 0, type, msg, NULL);
}

kv_stream *kv_stream_or_reply(sl_api_call *call)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(call->input, "StreamName");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(call->input, "StreamARN");
    int has_n = cJSON_IsString(n), has_a = cJSON_IsString(a);
    kv_stream *s = NULL;
    if (has_n == has_a) {
        kv_reply_error(call, "InvalidArgumentException",
                       has_n ? "Specify either StreamName or StreamARN, not both."
                             : "StreamName or StreamARN must be specified.");
        return NULL;
    }
    s = has_n ? kv_find(call->region, n->valuestring) : kv_find_arn(a->valuestring);
    if (s && has_a && strcmp(s->region, call->region) != 0)
        s = NULL;
    if (!s)
        kv_reply_error(call, "ResourceNotFoundException",
                       "The requested stream is not found or not active.");
    return s;
}

void kv_format_number(uint64_t seq, char out[KV_NUMBER_LEN + 1])
{
    snprintf(out, KV_NUMBER_LEN + 1, "%047" PRIu64, seq);
}

int kv_parse_number(const char *s, uint64_t *seq)
{
    size_t n = strlen(s);
    uint64_t v = 0;
    if (n == 0 || n > KV_NUMBER_LEN)
        return SL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return SL_EINVAL;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return SL_EINVAL;
        v = v * 10 + d;
    }
    *seq = v;
    return 0;
}

uint64_t kv_next_seq(kv_stream *s, int64_t now_ms)
{
    uint64_t t = now_ms > 0 ? (uint64_t)now_ms * 1000 : 0;
    s->last_seq = t > s->last_seq ? t : s->last_seq + 1;
    return s->last_seq;
}

size_t kv_frag_lower_bound(const kv_stream *s, uint64_t seq)
{
    size_t lo = 0, hi = s->nfrags;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->frags[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int kv_frag_add(kv_stream *s, const kv_frag *f)
{
    if (s->nfrags == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        kv_frag *g = realloc(s->frags, cap * sizeof(*g));
        if (!g)
            return SL_ENOMEM;
        s->frags = g;
        s->cap = cap;
    }
    s->frags[s->nfrags++] = *f;
    /* Hot bytes: persisted fragments keep theirs only while readers tail the stream, and only
     * the newest two; live-only streams keep theirs for the in-memory window. */
    if (s->retention_hours > 0) {
        for (size_t i = s->nfrags > 2 ? s->nfrags - 2 : 0; i-- > 0;) {
            if (!s->frags[i].blob)
                break;
            kv_blob_unref(s->frags[i].blob);
            s->frags[i].blob = NULL;
        }
        if (s->nreaders == 0) {
            kv_blob_unref(s->frags[s->nfrags - 1].blob);
            s->frags[s->nfrags - 1].blob = NULL;
        }
    } else {
        kv_retention_apply(s, f->server_ms);
    }
    kv_reader_wake_all(s);
    return 0;
}
