/* bench_sql: rows per second of the Analytics SQL engine on one core, side by side with SQLite
 * running the equivalent batch query over the same rows.
 *
 * Rows: N (default 2,000,000) of (ticker VARCHAR(8), price DOUBLE), ROWTIME advancing 1 ms per
 * row, tickers cycling over 1,000 keys. Queries:
 *   filter+project  WHERE price > 50, two items          SQLite: the same SELECT stepped through
 *   tumbling        COUNT(*), AVG(price) GROUP BY ticker, FLOOR(ROWTIME TO MINUTE)
 *                                                        SQLite: GROUP BY rt / 60000, ticker
 *   sliding         AVG(price) OVER (PARTITION BY ticker RANGE INTERVAL '1' MINUTE PRECEDING)
 *                                                        SQLite: the same window, ORDER BY rt
 *                                                        RANGE BETWEEN 60000 PRECEDING AND
 *                                                        CURRENT ROW
 * The engine's time covers pushing every row (values already built) and every emitted row
 * reaching the sink; SQLite's covers preparing and stepping the query over an in-memory table
 * loaded beforehand (load time printed separately). RANDOM_CUT_FOREST (100 trees, 256 samples,
 * one numeric column) runs over a tenth of the rows and has no SQLite counterpart.
 * Usage: bench_sql [rows [query]]. With a query name ("filter+project", "tumbling", "sliding",
 * "exp_avg") only that engine query runs, without SQLite or RCF: the form to profile
 * (valgrind --tool=callgrind --toggle-collect=run_engine gives repeatable instruction counts).
 * "exp_avg" (EXP_AVG(price, INTERVAL '10' SECOND) over the sliding window) runs only then. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/sql.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t out_rows;
static double out_sum;

static void sink(void *ud, int stream, int64_t rowtime, const sl_sql_value *vals, size_t n)
{
    (void)ud;
    (void)stream;
    (void)rowtime;
    out_rows++;
    if (n > 1 && !vals[n - 1].is_null)
        out_sum += vals[n - 1].type == SL_SQL_DOUBLE ? vals[n - 1].u.d : (double)vals[n - 1].u.i;
}

static char tickers[1000][8];

static double price_of(size_t i)
{
    return 10.0 + (double)((i * 7919) % 10000) / 100.0;
}

static double run_engine(const char *code, size_t n_rows)
{
    static const sl_sql_column cols[] = {
        {"TICKER", {SL_SQL_VARCHAR, 0, 0, 8}},
        {"PRICE", {SL_SQL_DOUBLE, 0, 0, 0}},
    };
    sl_sql_relation in = {.name = "S", .cols = cols, .n_cols = 2};
    sl_sql_env env = {.inputs = &in, .n_inputs = 1, .seed = 1};
    sl_sql_app *app;
    sl_diag d;
    if (sl_sql_compile(code, strlen(code), &env, &app, &d)) {
        fprintf(stderr, "compile failed: %s\n", d.text);
        exit(1);
    }
    sl_sql_app_set_sink(app, sink, NULL);
    out_rows = 0;
    out_sum = 0;
    int64_t t0 = 1700000000000;
    double start = now_s();
    for (size_t i = 0; i < n_rows; i++) {
        sl_sql_value v[2] = {
            {.type = SL_SQL_VARCHAR, .len = 4, .u.s = tickers[i % 1000]},
            {.type = SL_SQL_DOUBLE, .u.d = price_of(i)},
        };
        sl_sql_app_push(app, 0, t0 + (int64_t)i, v);
    }
    sl_sql_app_clock(app, t0 + (int64_t)n_rows + 3600000);
    double el = now_s() - start;
    sl_sql_app_free(app);
    return el;
}

static double run_sqlite(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    double start = now_s();
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
        exit(1);
    }
    out_rows = 0;
    out_sum = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        out_rows++;
        out_sum += sqlite3_column_double(st, sqlite3_column_count(st) - 1);
    }
    sqlite3_finalize(st);
    return now_s() - start;
}

static const struct {
    const char *name, *code;
} engine_only[] = {
    {"filter+project",
     "CREATE STREAM O (t VARCHAR(8), p DOUBLE);"
     "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, price * 2 FROM S WHERE price > 50;"},
    {"tumbling", "CREATE STREAM O (t VARCHAR(8), n BIGINT, a DOUBLE);"
                 "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, COUNT(*), AVG(price) FROM S "
                 "GROUP BY ticker, FLOOR(S.ROWTIME TO MINUTE);"},
    {"sliding", "CREATE STREAM O (t VARCHAR(8), a DOUBLE);"
                "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, AVG(price) OVER (PARTITION "
                "BY ticker RANGE INTERVAL '1' MINUTE PRECEDING) FROM S;"},
    {"exp_avg", "CREATE STREAM O (t VARCHAR(8), a DOUBLE);"
                "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, EXP_AVG(price, INTERVAL '10' "
                "SECOND) OVER (PARTITION BY ticker RANGE INTERVAL '1' MINUTE PRECEDING) FROM S;"},
};

/* One engine query alone (no SQLite, no RCF). */
static int run_one(const char *name, size_t n)
{
    for (size_t k = 0; k < sizeof(engine_only) / sizeof(engine_only[0]); k++)
        if (!strcmp(engine_only[k].name, name)) {
            double e = run_engine(engine_only[k].code, n);
            printf("%-16s %14.0f rows/s %10zu out rows\n", name, (double)n / e, out_rows);
            return 0;
        }
    fprintf(stderr, "unknown query %s\n", name);
    return 2;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000000;
    const char *only = argc > 2 ? argv[2] : NULL;
    for (int k = 0; k < 1000; k++)
        snprintf(tickers[k], sizeof(tickers[k]), "K%03d", k);
    if (only)
        return run_one(only, n);
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sqlite3_exec(db, "CREATE TABLE t(rt INTEGER, ticker TEXT, price REAL)", NULL, NULL, NULL);
    double ls = now_s();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?,?)", -1, &ins, NULL);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, 1700000000000 + (int64_t)i);
        sqlite3_bind_text(ins, 2, tickers[i % 1000], 4, SQLITE_STATIC);
        sqlite3_bind_double(ins, 3, price_of(i));
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    printf("rows: %zu, 1000 keys; SQLite in-memory load: %.2f s (not counted below)\n", n,
           now_s() - ls);
    printf("%-16s %14s %10s %14s %10s\n", "query", "engine rows/s", "out rows", "SQLite rows/s",
           "out rows");
    static const struct {
        const char *name, *code, *sql;
    } q[] = {
        {"filter+project",
         "CREATE STREAM O (t VARCHAR(8), p DOUBLE);"
         "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, price * 2 FROM S WHERE price > 50;",
         "SELECT ticker, price * 2 FROM t WHERE price > 50"},
        {"tumbling",
         "CREATE STREAM O (t VARCHAR(8), n BIGINT, a DOUBLE);"
         "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, COUNT(*), AVG(price) FROM S "
         "GROUP BY ticker, FLOOR(S.ROWTIME TO MINUTE);",
         "SELECT ticker, COUNT(*), AVG(price) FROM t GROUP BY rt / 60000, ticker"},
        {"sliding 1 min",
         "CREATE STREAM O (t VARCHAR(8), a DOUBLE);"
         "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker, AVG(price) OVER (PARTITION BY "
         "ticker RANGE INTERVAL '1' MINUTE PRECEDING) FROM S;",
         "SELECT ticker, AVG(price) OVER (PARTITION BY ticker ORDER BY rt RANGE BETWEEN 60000 "
         "PRECEDING AND CURRENT ROW) FROM t"},
    };
    for (size_t k = 0; k < sizeof(q) / sizeof(q[0]); k++) {
        double e = run_engine(q[k].code, n);
        size_t eo = out_rows;
        double es = out_sum;
        double s = run_sqlite(db, q[k].sql);
        size_t so = out_rows;
        printf("%-16s %14.0f %10zu %14.0f %10zu%s\n", q[k].name, (double)n / e, eo, (double)n / s,
               so,
               (eo == so && (es - out_sum) * (es - out_sum) <= 1e-6 * es * es) ? "" : "  (differ)");
    }
    /* RCF (defaults: 100 trees, 256 samples): a tenth of the rows; no SQLite equivalent */
    size_t nr = n / 10;
    double e = run_engine("CREATE STREAM O (p DOUBLE, s DOUBLE);"
                          "CREATE PUMP P AS INSERT INTO O SELECT STREAM * FROM TABLE("
                          "RANDOM_CUT_FOREST(CURSOR(SELECT STREAM price FROM S)));",
                          nr);
    printf("%-16s %14.0f %10zu %14s  (%zu rows)\n", "RCF", (double)nr / e, out_rows, "-", nr);
    sqlite3_close(db);
    return 0;
}
