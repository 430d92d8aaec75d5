/* EXP_AVG(x, interval) and MONOTONIC(expr) through the SQL engine with injected ROWTIMEs
 * (docs/analytics.md "EXP_AVG" and "MONOTONIC" give the worked examples these check: the
 * expected values were computed by hand from the weighting rule, not by the engine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sql_harness.h"

/* Sliding: 30 s frame, half-life 10 s; weights 1, 1/2, 1/4 for ages in [0,10], (10,20], (20,30]
 * seconds. */
static void exp_avg_over(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE OR REPLACE STREAM \"EXP_OUT\" (ticker VARCHAR(4), price DOUBLE, "
                  "ema DOUBLE);\n"
                  "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"EXP_OUT\"\n"
                  "  SELECT STREAM ticker_symbol, price, EXP_AVG(price, INTERVAL '10' SECOND) "
                  "OVER w\n"
                  "  FROM \"SOURCE_SQL_STREAM_001\"\n"
                  "  WINDOW w AS (PARTITION BY ticker_symbol RANGE INTERVAL '30' SECOND "
                  "PRECEDING);"),
        0);
    h_push_d1(&h, 12);
    const char *want[] = {
        "10:00:05.000|AMZN|101.5|101.5",
        "10:00:12.000|TGT|50.0|50.0",
        "10:00:20.000|AMZN|101.0|101.16666666666667", /* (101.5/2 + 101) / 1.5 */
        "10:00:35.000|XOM|80.1|80.1",
        "10:00:48.000|TGT|50.6|50.6", /* the 10:00:12 row is 36 s old: outside the frame */
        "10:00:59.999|AMZN|103.0|103.0",
        "10:01:00.000|XOM|78.0|78.42",   /* (80.1/4 + 78) / 1.25 */
        "10:01:10.000|AMZN|103.0|103.0", /* (103/2 + 103) / 1.5 */
        "10:01:25.000|TGT|49.0|49.0",
        "10:01:40.000|AMZN|100.0|100.6", /* 30 s exactly: weight 1/4 */
        "10:02:00.000|XOM|78.5|78.5",
        "10:02:30.000|TGT|49.25|49.25",
        NULL};
    assert_true(h_expect(&h, "EXP_OUT", want));
    h_free(&h);
}

/* Tumbling: weights counted back from the window end (the emitted row's ROWTIME). */
static void exp_avg_group(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE OR REPLACE STREAM \"EXP_OUT\" (ticker VARCHAR(4), ema DOUBLE, n "
                  "BIGINT);\n"
                  "CREATE OR REPLACE PUMP \"P\" AS INSERT INTO \"EXP_OUT\"\n"
                  "  SELECT STREAM ticker_symbol, EXP_AVG(price, INTERVAL '20' SECOND), "
                  "COUNT(*)\n"
                  "  FROM \"SOURCE_SQL_STREAM_001\" AS s\n"
                  "  GROUP BY ticker_symbol, STEP(s.ROWTIME BY INTERVAL '1' MINUTE);"),
        0);
    h_push_d1(&h, 7);
    const char *want[] = {/* ages 55 s, 40 s, 1 ms: weights 1/4, 1/2, 1 */
                          "10:01:00.000|AMZN|102.21428571428571|3",
                          "10:01:00.000|TGT|50.48|2", /* ages 48 s, 12 s: (50/4 + 50.6) / 1.25 */
                          "10:01:00.000|XOM|80.1|1", NULL};
    assert_true(h_expect(&h, "EXP_OUT", want));
    h_free(&h);
}

static void exp_avg_rejects(void **state)
{
    (void)state;
    harness h;
    const char *bad[] = {
        "EXP_AVG(price) OVER w",                       /* no interval */
        "EXP_AVG(price, 10) OVER w",                   /* not an interval */
        "EXP_AVG(price, INTERVAL '-1' SECOND) OVER w", /* not positive */
        "EXP_AVG(sector, INTERVAL '1' SECOND) OVER w", /* not numeric */
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        char code[512];
        snprintf(code, sizeof(code),
                 "CREATE STREAM O (x DOUBLE);\n"
                 "CREATE PUMP P AS INSERT INTO O SELECT STREAM %s FROM SOURCE_SQL_STREAM_001 "
                 "WINDOW w AS (RANGE INTERVAL '1' MINUTE PRECEDING);",
                 bad[k]);
        assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL, code), SL_EINVAL);
        h_free(&h);
    }
    /* an aggregate: not without a window or GROUP BY */
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL,
                               "CREATE STREAM O (x DOUBLE);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM "
                               "EXP_AVG(price, INTERVAL '1' SECOND) FROM SOURCE_SQL_STREAM_001;"),
                     SL_EINVAL);
    h_free(&h);
}

/* GROUP BY on a key the code asserts monotonic: a window per key value, emitted when the key
 * changes, at the ROWTIME of the row that changes it; heartbeats do not close it. */
static void monotonic_group(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(h_compile(&h, "BATCH INTEGER, TICKER VARCHAR(4), QTY INTEGER", NULL, NULL,
                               "CREATE STREAM \"OUT\" (batch INTEGER, ticker VARCHAR(4), n "
                               "BIGINT, qty BIGINT);\n"
                               "CREATE PUMP P AS INSERT INTO \"OUT\"\n"
                               "  SELECT STREAM MONOTONIC(batch), ticker, COUNT(*), SUM(qty)\n"
                               "  FROM SOURCE_SQL_STREAM_001\n"
                               "  GROUP BY MONOTONIC(batch), ticker;"),
                     0);
    h_push(&h, "10:00:01", "1|AMZN|10");
    h_push(&h, "10:00:02", "1|TGT|5");
    h_push(&h, "10:00:03", "1|AMZN|7");
    sl_sql_app_clock(h.app, h_time("10:05:00")); /* no close on time */
    const char *none[] = {NULL};
    assert_true(h_expect(&h, "OUT", none));
    h_push(&h, "10:06:00", "2|AMZN|1");
    h_push(&h, "10:06:30", "4|TGT|2");
    sl_sql_app_clock(h.app, h_time("10:10:00"));
    const char *want[] = {"10:06:00.000|1|AMZN|2|17", "10:06:00.000|1|TGT|1|5",
                          "10:06:30.000|2|AMZN|1|1", NULL};
    assert_true(h_expect(&h, "OUT", want));
    h_free(&h);
}

/* A string key: the open window's value outlives the row that opened it. */
static void monotonic_string_key(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(h_compile(&h, "D VARCHAR(10), V INTEGER", NULL, NULL,
                               "CREATE STREAM \"OUT\" (d VARCHAR(10), total BIGINT);\n"
                               "CREATE PUMP P AS INSERT INTO \"OUT\"\n"
                               "  SELECT STREAM MONOTONIC(d), SUM(v) FROM SOURCE_SQL_STREAM_001\n"
                               "  GROUP BY MONOTONIC(d);"),
                     0);
    h_push(&h, "10:00:01", "2024-01-15|1");
    h_push(&h, "10:00:02", "2024-01-15|2");
    h_push(&h, "10:00:03", "2024-01-16|4");
    h_push(&h, "10:00:04", "2024-01-16|8");
    h_push(&h, "10:00:05", "2024-01-17|16");
    const char *want[] = {"10:00:03.000|2024-01-15|3", "10:00:05.000|2024-01-16|12", NULL};
    assert_true(h_expect(&h, "OUT", want));
    h_free(&h);
}

static void monotonic_rules(void **state)
{
    (void)state;
    harness h;
    /* without MONOTONIC an ordinary column is no window key */
    assert_int_equal(h_compile(&h, "BATCH INTEGER, TICKER VARCHAR(4)", NULL, NULL,
                               "CREATE STREAM O (b INTEGER, n BIGINT);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM batch, COUNT(*) "
                               "FROM SOURCE_SQL_STREAM_001 GROUP BY batch;"),
                     SL_EINVAL);
    assert_non_null(strstr(h.d.text, "MONOTONIC"));
    h_free(&h);
    /* with a ROWTIME key as well, the ROWTIME key drives the windows (closed by time) */
    assert_int_equal(h_compile(&h, "BATCH INTEGER, TICKER VARCHAR(4)", NULL, NULL,
                               "CREATE STREAM O (b INTEGER, n BIGINT);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM MONOTONIC(batch), "
                               "COUNT(*) FROM SOURCE_SQL_STREAM_001 AS s GROUP BY "
                               "MONOTONIC(batch), FLOOR(s.ROWTIME TO MINUTE);"),
                     0);
    h_push(&h, "10:00:01", "1|A");
    h_push(&h, "10:00:02", "2|A");
    sl_sql_app_clock(h.app, h_time("10:01:00"));
    const char *want[] = {"10:01:00.000|1|1", "10:01:00.000|2|1", NULL};
    assert_true(h_expect(&h, "O", want));
    h_free(&h);
    /* outside GROUP BY it is the value itself */
    assert_int_equal(h_compile(&h, "BATCH INTEGER, TICKER VARCHAR(4)", NULL, NULL,
                               "CREATE STREAM O (b INTEGER);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM MONOTONIC(batch) + 1 "
                               "FROM SOURCE_SQL_STREAM_001;"),
                     0);
    h_push(&h, "10:00:01", "41|A");
    const char *want2[] = {"10:00:01.000|42", NULL};
    assert_true(h_expect(&h, "O", want2));
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_avg_over),         cmocka_unit_test(exp_avg_group),
        cmocka_unit_test(exp_avg_rejects),      cmocka_unit_test(monotonic_group),
        cmocka_unit_test(monotonic_string_key), cmocka_unit_test(monotonic_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
