/* The SQLite catalog: catalog.db in the data folder.
 *
 * Connections. The writer thread owns the one writing connection (opened here at store open,
 * SQLITE_OPEN_NOMUTEX because only one thread uses it after open). Every other thread that reads
 * opens its own read-only connection with sl_catalog_open_reader; in WAL mode readers see the last
 * committed transaction and never block the writer.
 *
 * Settings: journal_mode=WAL (persistent in the file), synchronous=FULL on the writer (a commit
 * returns after the WAL is fsync'ed, so an acknowledged catalog change is durable), busy_timeout
 * 5 s on every connection (a checkpoint or a reader opening can hold a lock briefly),
 * foreign_keys=ON.
 *
 * Versions. The core schema version is PRAGMA user_version, moved forward by core_steps[]: step v
 * turns version v into v + 1 and runs in its own BEGIN IMMEDIATE ... COMMIT together with the
 * user_version update, so a crash leaves the catalog at a whole version. A catalog whose version
 * is newer than SL_CATALOG_VERSION was written by a newer Sluice: opening fails with
 * SL_EUNSUPPORTED and the file is left untouched. Service modules version their own tables in
 * component_version(component, version) with sl_catalog_migrate, inside the writer's batch
 * transaction (all steps of one call commit together). */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "storage_int.h"

/* Core schema; index v creates version v + 1. Append only. */
static const char *const core_steps[] = {
    /* 1: meta and the component version table. */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE component_version(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "INSERT INTO meta VALUES('store_id', lower(hex(randomblob(16))));"
    "INSERT INTO meta VALUES('created_ms',"
    " CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));",
};

_Static_assert(sizeof(core_steps) / sizeof(core_steps[0]) == SL_CATALOG_VERSION,
               "one core step per catalog version");

static int exec(sqlite3 *db, const char *sql, const char *what)
{
    char *err = NULL;
    int r = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (r != SQLITE_OK) {
        sl_error("storage", "catalog %s: %s", what, err ? err : sqlite3_errstr(r));
        sqlite3_free(err);
        return SL_EIO;
    }
    return 0;
}

static int get_int(sqlite3 *db, const char *sql, const char *bind, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto out;
    if (bind && sqlite3_bind_text(st, 1, bind, -1, SQLITE_STATIC) != SQLITE_OK)
        goto out;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) {
        *out = sqlite3_column_int(st, 0);
        rc = 0;
    } else if (r == SQLITE_DONE) {
        *out = 0;
        rc = 0;
    }
out:
    if (rc)
        sl_error("storage", "catalog: %s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

static int migrate_core(sqlite3 *db)
{
    int v = 0;
    int rc = get_int(db, "PRAGMA user_version", NULL, &v);
    if (rc)
        return rc;
    if (v > SL_CATALOG_VERSION) {
        sl_error("storage",
                 "catalog schema version %d is newer than this build knows (%d): refusing to open",
                 v, SL_CATALOG_VERSION);
        return SL_EUNSUPPORTED;
    }
    for (; v < SL_CATALOG_VERSION; v++) {
        char set[64];
        snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
        if ((rc = exec(db, "BEGIN IMMEDIATE", "migration")) != 0)
            return rc;
        if ((rc = exec(db, core_steps[v], "migration")) != 0 ||
            (rc = exec(db, set, "migration")) != 0 || (rc = exec(db, "COMMIT", "migration")) != 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        sl_info("storage", "catalog migrated to schema version %d", v + 1);
    }
    return 0;
}

int sl_catalog_open_(const char *path, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int rc = SL_EIO;
    int r = sqlite3_open_v2(path, &db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        sl_error("storage", "cannot open catalog %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *st = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) {
        sl_error("storage", "catalog %s: cannot switch to WAL mode", path);
        goto out;
    }
    if (exec(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", "settings") != 0)
        goto out;
    rc = migrate_core(db);
    if (rc)
        goto out;
    *out = db;
    db = NULL;
out:
    sqlite3_close(db);
    return rc;
}

int sl_catalog_open_reader_path_(const char *path, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int rc = SL_EIO;
    int r = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        sl_error("storage", "cannot open catalog reader %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(r));
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    if (exec(db, "PRAGMA query_only=ON;", "reader settings") != 0)
        goto out;
    *out = db;
    db = NULL;
    rc = 0;
out:
    sqlite3_close(db);
    return rc;
}

int sl_catalog_migrate(sqlite3 *db, const char *component, const char *const *steps, int n_steps)
{
    int v = 0, rc;
    if (!db || !component || n_steps < 0 || (n_steps > 0 && !steps))
        return SL_EINVAL;
    rc = get_int(db, "SELECT version FROM component_version WHERE component = ?1", component, &v);
    if (rc)
        return rc;
    if (v > n_steps) {
        sl_error("storage",
                 "catalog: %s tables are at version %d, newer than this build knows (%d)",
                 component, v, n_steps);
        return SL_EUNSUPPORTED;
    }
    for (; v < n_steps; v++) {
        char what[96];
        snprintf(what, sizeof(what), "migration %s step %d", component, v + 1);
        if ((rc = exec(db, steps[v], what)) != 0)
            return rc;
    }
    sqlite3_stmt *st = NULL;
    rc = SL_EIO;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO component_version VALUES(?1, ?2) ON CONFLICT(component)"
                           " DO UPDATE SET version = excluded.version",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int(st, 2, n_steps) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
    else
        sl_error("storage", "catalog: recording %s version: %s", component, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}
