/* Catalog: fresh creation, core and component migrations, refusal of newer versions, readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sluice/time.h"
#include "storage_test.h"

static int query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_fresh(void **state)
{
    char dir[256], id[64], id2[64], created[32];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_meta_get(s, "store_id", id, sizeof(id)), 0);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    assert_int_equal(sl_store_meta_get(s, "created_ms", created, sizeof(created)), 0);
    long long ms = atoll(created), now = sl_time_now_ns() / 1000000;
    assert_true(ms > now - 60000 && ms <= now + 1000);
    assert_int_equal(sl_store_meta_get(s, "nope", id2, sizeof(id2)), SL_ENOTFOUND);
    assert_int_equal(sl_store_meta_get(s, "store_id", id2, 8), SL_ETOOBIG);
    sqlite3 *rd = NULL;
    assert_int_equal(sl_catalog_open_reader(s, &rd), 0);
    assert_int_equal(query_int(rd, "PRAGMA user_version"), SL_CATALOG_VERSION);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(rd, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(rd);
    sl_store_close(s);
    /* Reopening keeps the identity. */
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_meta_get(s, "store_id", id2, sizeof(id2)), 0);
    assert_string_equal(id, id2);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_core_upgrade_from_v0(void **state)
{
    char dir[256], path[512], id[64];
    tmp_dir(dir, sizeof(dir));
    /* A version-0 catalog (exists, has unrelated content, user_version 0). */
    snprintf(path, sizeof(path), "%s/catalog.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE legacy(x); INSERT INTO legacy VALUES(7)", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    sl_store *s = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_meta_get(s, "store_id", id, sizeof(id)), 0);
    sqlite3 *rd = NULL;
    assert_int_equal(sl_catalog_open_reader(s, &rd), 0);
    assert_int_equal(query_int(rd, "PRAGMA user_version"), 1);
    assert_int_equal(query_int(rd, "SELECT x FROM legacy"), 7);
    sqlite3_close(rd);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_newer_core_refused(void **state)
{
    char dir[256], path[512];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    sl_store_close(s);
    snprintf(path, sizeof(path), "%s/catalog.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    assert_int_equal(sl_store_open(dir, &s), SL_EUNSUPPORTED);
    assert_null(s);
    /* Left untouched. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(query_int(db, "PRAGMA user_version"), 99);
    sqlite3_close(db);
    rm_rf(dir);
}

static void test_component_migrations(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    const char *v2[] = {"CREATE TABLE streams(name TEXT PRIMARY KEY)",
                        "ALTER TABLE streams ADD COLUMN shards INTEGER NOT NULL DEFAULT 1"};
    /* Fresh: version 1. */
    assert_int_equal(sl_store_migrate(s, "kinesis", v2, 1), 0);
    /* Re-running is a no-op (the CREATE would fail if it ran again). */
    assert_int_equal(sl_store_migrate(s, "kinesis", v2, 1), 0);
    /* Upgrade 1 -> 2. */
    assert_int_equal(sl_store_migrate(s, "kinesis", v2, 2), 0);
    /* A build that knows only version 1 refuses the newer tables. */
    assert_int_equal(sl_store_migrate(s, "kinesis", v2, 1), SL_EUNSUPPORTED);
    /* A failing step leaves the component at its old version with nothing half-applied. */
    const char *bad[] = {v2[0], v2[1], "CREATE TABLE extra(x); INSERT INTO missing VALUES(1)"};
    assert_int_equal(sl_store_migrate(s, "kinesis", bad, 3), SL_EIO);
    /* Other components are independent. */
    const char *video[] = {"CREATE TABLE fragments(n INTEGER)"};
    assert_int_equal(sl_store_migrate(s, "video", video, 1), 0);
    sqlite3 *rd = NULL;
    assert_int_equal(sl_catalog_open_reader(s, &rd), 0);
    assert_int_equal(
        query_int(rd, "SELECT version FROM component_version WHERE component='kinesis'"), 2);
    assert_int_equal(query_int(rd, "SELECT version FROM component_version WHERE component='video'"),
                     1);
    assert_int_equal(query_int(rd, "SELECT count(*) FROM sqlite_master WHERE name='extra'"), 0);
    assert_int_equal(query_int(rd, "SELECT count(*) FROM pragma_table_info('streams')"), 2);
    sqlite3_close(rd);
    /* Survives a restart, and the writer is still healthy after a failed step. */
    assert_int_equal(sl_writer_status(sl_store_writer(s)), 0);
    sl_store_close(s);
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_migrate(s, "kinesis", v2, 2), 0);
    sl_store_close(s);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh),
        cmocka_unit_test(test_core_upgrade_from_v0),
        cmocka_unit_test(test_newer_core_refused),
        cmocka_unit_test(test_component_migrations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
