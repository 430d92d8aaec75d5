/* The store: one data folder, its catalog, its logs and its writer thread.
 *
 * sl_store_open creates <data_dir>/ and <data_dir>/logs/ if needed, opens and migrates the
 * catalog, walks logs/ and recovers every folder holding *.seg files as the log named by its
 * relative path (recover.c), then starts the writer thread. From then on the registry (a mutex-
 * protected array of live logs) only changes in memory: sl_store_log_open of an unknown name
 * adds an empty log whose files the writer creates on first append, and sl_store_log_drop moves a
 * log to the graveyard (freed at close, so borrowed pointers never dangle) before the writer
 * deletes its files. sl_store_close stops the writer first (it drains the queue), then frees
 * logs and closes the catalog. Counters for /metrics are atomics (segment bytes) or the writer's.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "storage_int.h"

#define DEFAULT_SEGMENT_BYTES (64ull << 20)
#define DEFAULT_QUEUE_BYTES   ((size_t)64 << 20)
#define DEFAULT_QUEUE_OPS     ((size_t)65536)
#define MAX_NAME              200
#define MAX_DEPTH             8

struct sl_store {
    char *dir;
    char *catalog_path;
    sl_store_options opt;
    sqlite3 *db;
    sl_writer *w;
    pthread_mutex_t reg_mu;
    sl_log **logs;
    size_t nlogs, cap;
    sl_log **grave;
    size_t ngrave, gcap;
    _Atomic uint64_t disk_bytes;
};

static int valid_name(const char *name)
{
    size_t n = strlen(name);
    int comps = 0;
    if (n == 0 || n > MAX_NAME)
        return 0;
    const char *p = name;
    while (*p) {
        size_t k = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
        if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        comps++;
        p += k;
        if (*p == '/' && p[1] != '\0')
            p++;
        else if (*p != '\0')
            return 0;
    }
    return comps <= MAX_DEPTH;
}

static int push(sl_log ***arr, size_t *n, size_t *cap, sl_log *log)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        sl_log **na = realloc(*arr, c * sizeof(*na));
        if (!na)
            return SL_ENOMEM;
        *arr = na;
        *cap = c;
    }
    (*arr)[(*n)++] = log;
    return 0;
}

/* Recovers the log in logs/<rel> if it holds segments, then descends into subfolders. */
static int walk(sl_store *s, const char *rel, int depth)
{
    char path[PATH_MAX];
    int rc = 0, has_seg = 0;
    snprintf(path, sizeof(path), "%s/logs%s%s", s->dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(path);
    if (!d)
        return SL_EIO;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0)
            continue;
        size_t l = strlen(nm);
        if (l == 24 && strcmp(nm + 20, ".seg") == 0) {
            has_seg = 1;
            continue;
        }
        char sub[PATH_MAX], child[PATH_MAX];
        struct stat st;
        if (snprintf(sub, sizeof(sub), "%s/%s", path, nm) >= (int)sizeof(sub))
            continue;
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode) || depth >= MAX_DEPTH)
            continue;
        if (snprintf(child, sizeof(child), "%s%s%s", rel, rel[0] ? "/" : "", nm) >=
                (int)sizeof(child) ||
            !valid_name(child)) {
            sl_warn("storage", "ignoring folder logs/%s (not a valid log name)", child);
            continue;
        }
        rc = walk(s, child, depth + 1);
    }
    closedir(d);
    if (rc || !has_seg || !rel[0])
        return rc;
    sl_log *log = NULL;
    rc = sl_log_new_(s, s->opt.vfs, s->dir, rel, s->opt.segment_bytes, &s->disk_bytes, &log);
    if (rc == 0)
        rc = sl_log_recover_(log);
    if (rc == 0)
        rc = push(&s->logs, &s->nlogs, &s->cap, log);
    if (rc) {
        sl_error("storage", "cannot open log %s: %s", rel, sl_err_str(rc));
        sl_log_free_(log);
    }
    return rc;
}

static int mkdir_if_missing(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    sl_error("storage", "cannot create %s: %s", path, strerror(errno));
    return SL_EIO;
}

int sl_store_open_with(const char *data_dir, const sl_store_options *o, sl_store **out)
{
    int rc = SL_ENOMEM;
    char path[PATH_MAX];
    sl_store *s = calloc(1, sizeof(*s));
    if (!s)
        return SL_ENOMEM;
    pthread_mutex_init(&s->reg_mu, NULL);
    if (o)
        s->opt = *o;
    if (!s->opt.segment_bytes)
        s->opt.segment_bytes = DEFAULT_SEGMENT_BYTES;
    if (!s->opt.queue_max_bytes)
        s->opt.queue_max_bytes = DEFAULT_QUEUE_BYTES;
    if (!s->opt.queue_max_ops)
        s->opt.queue_max_ops = DEFAULT_QUEUE_OPS;
    if (!s->opt.vfs)
        s->opt.vfs = &sl_vfs_posix;
    s->dir = strdup(data_dir);
    size_t cl = strlen(data_dir) + sizeof("/catalog.db");
    s->catalog_path = malloc(cl);
    if (!s->dir || !s->catalog_path)
        goto out;
    snprintf(s->catalog_path, cl, "%s/catalog.db", data_dir);
    snprintf(path, sizeof(path), "%s/logs", data_dir);
    if ((rc = mkdir_if_missing(data_dir)) != 0 || (rc = mkdir_if_missing(path)) != 0)
        goto out;
    if ((rc = sl_catalog_open_(s->catalog_path, &s->db)) != 0)
        goto out;
    if ((rc = walk(s, "", 0)) != 0)
        goto out;
    if ((rc = sl_writer_new_(s, s->db, s->opt.queue_max_bytes, s->opt.queue_max_ops, &s->w)) != 0)
        goto out;
    sl_info("storage", "store %s open: %zu log(s)", data_dir, s->nlogs);
    *out = s;
    s = NULL;
out:
    if (s)
        sl_store_close(s);
    return rc;
}

int sl_store_open(const char *data_dir, sl_store **out)
{
    return sl_store_open_with(data_dir, NULL, out);
}

void sl_store_close(sl_store *s)
{
    if (!s)
        return;
    /* Drains: afterwards every write of every log has been synced, unless storage failed. */
    int healthy = s->w && sl_writer_free_(s->w) == 0;
    /* Spare the next open the tail scans -- not after a failure, when a tail may hold bytes that
     * were written but never synced. */
    for (size_t i = 0; healthy && i < s->nlogs; i++)
        if (sl_log_write_clean_(s->logs[i]) != 0)
            sl_warn("storage", "log %s: cannot write its clean-shutdown marker", s->logs[i]->name);
    for (size_t i = 0; i < s->nlogs; i++)
        sl_log_free_(s->logs[i]);
    for (size_t i = 0; i < s->ngrave; i++)
        sl_log_free_(s->grave[i]);
    free(s->logs);
    free(s->grave);
    if (s->db && sqlite3_close(s->db) == SQLITE_BUSY) {
        /* A service left prepared statements on the writer connection: finalize them so the
         * file is closed cleanly (the writer thread is gone, nothing else uses them). */
        sqlite3_stmt *st;
        int n = 0;
        while ((st = sqlite3_next_stmt(s->db, NULL)) != NULL) {
            sqlite3_finalize(st);
            n++;
        }
        sl_warn("storage", "catalog close: finalized %d statement(s) left prepared", n);
        if (sqlite3_close(s->db) != SQLITE_OK)
            sl_error("storage", "catalog close: %s", sqlite3_errmsg(s->db));
    }
    pthread_mutex_destroy(&s->reg_mu);
    free(s->dir);
    free(s->catalog_path);
    free(s);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

void sl_store_stats_get(sl_store *s, sl_store_stats *out)
{
    char wal[PATH_MAX];
    snprintf(wal, sizeof(wal), "%s-wal", s->catalog_path);
    out->bytes_on_disk = atomic_load(&s->disk_bytes) + file_size(s->catalog_path) + file_size(wal);
    sl_writer_counters_(s->w, &out->appends, &out->fsyncs, &out->batches);
}

sl_writer *sl_store_writer(sl_store *s)
{
    return s->w;
}

const char *sl_store_dir_(sl_store *s)
{
    return s->dir;
}

int sl_store_log_open(sl_store *s, const char *name, sl_log **out)
{
    int rc = 0;
    sl_log *log = NULL;
    if (!name || !valid_name(name))
        return SL_EINVAL;
    pthread_mutex_lock(&s->reg_mu);
    for (size_t i = 0; i < s->nlogs; i++) {
        if (strcmp(s->logs[i]->name, name) == 0) {
            *out = s->logs[i];
            goto out;
        }
    }
    rc = sl_log_new_(s, s->opt.vfs, s->dir, name, s->opt.segment_bytes, &s->disk_bytes, &log);
    if (rc == 0)
        rc = push(&s->logs, &s->nlogs, &s->cap, log);
    if (rc == 0) {
        *out = log;
        log = NULL;
    }
out:
    pthread_mutex_unlock(&s->reg_mu);
    sl_log_free_(log);
    return rc;
}

void sl_store_log_foreach(sl_store *s, void (*fn)(void *arg, sl_log *log), void *arg)
{
    pthread_mutex_lock(&s->reg_mu);
    for (size_t i = 0; i < s->nlogs; i++)
        fn(arg, s->logs[i]);
    pthread_mutex_unlock(&s->reg_mu);
}

int sl_store_log_drop(sl_store *s, sl_log *log, sl_done_fn done, void *arg)
{
    int rc = SL_ENOTFOUND;
    pthread_mutex_lock(&s->reg_mu);
    for (size_t i = 0; i < s->nlogs; i++) {
        if (s->logs[i] != log)
            continue;
        rc = push(&s->grave, &s->ngrave, &s->gcap, log);
        if (rc)
            break;
        s->logs[i] = s->logs[--s->nlogs];
        /* Queued while holding the registry lock, so a re-created log's first append is queued
         * after this drop. */
        rc = sl_writer_submit_drop_(s->w, log, done, arg);
        if (rc) {
            s->ngrave--;
            s->logs[s->nlogs++] = log;
        }
        break;
    }
    pthread_mutex_unlock(&s->reg_mu);
    return rc;
}

typedef struct migrate_args {
    const char *component;
    const char *const *steps;
    int n;
} migrate_args;

static int migrate_fn(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    migrate_args *m = arg;
    return sl_catalog_migrate(db, m->component, m->steps, m->n);
}

int sl_store_migrate(sl_store *s, const char *component, const char *const *steps, int n_steps)
{
    migrate_args m = {component, steps, n_steps};
    return sl_writer_run_sync(s->w, migrate_fn, &m);
}

int sl_catalog_open_reader(sl_store *s, sqlite3 **out)
{
    return sl_catalog_open_reader_path_(s->catalog_path, out);
}

int sl_store_meta_get(sl_store *s, const char *key, char *buf, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sl_catalog_open_reader(s, &db);
    if (rc)
        goto out;
    rc = SL_EIO;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
        goto out;
    int r = sqlite3_step(st);
    if (r == SQLITE_DONE) {
        rc = SL_ENOTFOUND;
    } else if (r == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        size_t n = v ? strlen(v) : 0;
        if (n >= cap) {
            rc = SL_ETOOBIG;
        } else {
            memcpy(buf, v ? v : "", n + 1);
            rc = 0;
        }
    }
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
