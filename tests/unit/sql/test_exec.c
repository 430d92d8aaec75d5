/* The worked examples of spec §3 run through the SQL engine with injected ROWTIMEs: every
 * expected row, in emission order, with the spec's ROWTIMEs (D1 data set, heartbeats as
 * sl_sql_app_clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sql_harness.h"

static void run_d1(harness *h, const char *clock)
{
    h_push_d1(h, 12);
    if (clock)
        sl_sql_app_clock(h->app, h_time(clock));
}

static void e1_filter(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE OR REPLACE STREAM BIG_MOVES (sym VARCHAR(4), sector VARCHAR(12), pct "
                  "DOUBLE);\n"
                  "CREATE OR REPLACE PUMP BIG_MOVES_PUMP AS INSERT INTO BIG_MOVES\n"
                  "  SELECT STREAM ticker_symbol, sector, ABS(change / (price - change)) * 100\n"
                  "  FROM SOURCE_SQL_STREAM_001\n"
                  "  WHERE ABS(change / (price - change)) > 0.01;"),
        0);
    run_d1(&h, "10:03:00");
    const char *want[] = {"10:00:05.000|AMZN|TECHNOLOGY|1.5",
                          "10:00:48.000|TGT|RETAIL|1.2",
                          "10:00:59.999|AMZN|TECHNOLOGY|1.9801980198019802",
                          "10:01:00.000|XOM|ENERGY|2.6217228464419478",
                          "10:01:25.000|TGT|RETAIL|3.1620553359683794",
                          "10:01:40.000|AMZN|TECHNOLOGY|2.912621359223301",
                          NULL};
    assert_true(h_expect(&h, "BIG_MOVES", want));
    h_free(&h);
}

static void e2_case_like(void **state)
{
    (void)state;
    harness h;
    const char *code =
        "CREATE OR REPLACE STREAM \"tech_stream\" (\"sym\" VARCHAR(4), price DOUBLE, \"Pct\" "
        "DOUBLE);\n"
        "CREATE OR REPLACE PUMP tech_pump AS INSERT INTO \"tech_stream\"\n"
        "  SELECT STREAM ticker_symbol, price, change / (price - change) * 100\n"
        "  FROM source_sql_stream_001 WHERE sector LIKE 'TECH%' AND change <> 0;";
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL, code), 0);
    assert_true(sl_sql_app_find_stream(h.app, "tech_stream") >= 0);
    assert_int_equal(sl_sql_app_find_stream(h.app, "TECH_STREAM"), SL_ENOTFOUND);
    run_d1(&h, NULL);
    const char *want[] = {"10:00:05.000|AMZN|101.5|1.5",
                          "10:00:20.000|AMZN|101.0|-0.49261083743842365",
                          "10:00:59.999|AMZN|103.0|1.9801980198019802",
                          "10:01:40.000|AMZN|100.0|-2.912621359223301", NULL};
    assert_true(h_expect(&h, "tech_stream", want));
    /* the JSON record of the first row */
    const sl_sql_relation *rel =
        sl_sql_app_stream(h.app, (size_t)sl_sql_app_find_stream(h.app, "tech_stream"), NULL);
    assert_string_equal(rel->cols[1].name, "PRICE");
    assert_string_equal(rel->cols[2].name, "Pct");
    h_free(&h);
    /* INSERT INTO tech_stream folds to TECH_STREAM: unknown */
    harness h2;
    const char *bad =
        "CREATE OR REPLACE STREAM \"tech_stream\" (\"sym\" VARCHAR(4));\n"
        "CREATE OR REPLACE PUMP p AS INSERT INTO tech_stream SELECT STREAM ticker_symbol FROM "
        "source_sql_stream_001;";
    assert_int_equal(h_compile(&h2, D1_SPEC, NULL, NULL, bad), SL_EINVAL);
    assert_non_null(strstr(h2.d.text, "line 2, column 41"));
    assert_non_null(strstr(h2.d.text, "TECH_STREAM"));
}

static void e3_floor(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h, D1_SPEC, NULL, NULL,
            "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\"\n"
            "  (window_start TIMESTAMP, ticker VARCHAR(4), ticker_count INTEGER);\n"
            "CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n"
            "  SELECT STREAM FLOOR(s.ROWTIME TO MINUTE), s.ticker_symbol, COUNT(*)\n"
            "  FROM \"SOURCE_SQL_STREAM_001\" AS s\n"
            "  GROUP BY s.ticker_symbol, FLOOR(s.ROWTIME TO MINUTE);"),
        0);
    h_push_d1(&h, 6);
    assert_int_equal(h.n_out, 0); /* nothing before row 7 */
    h_push_d1(&h, 0);
    for (size_t k = 6; k < 12; k++)
        h_push(&h, d1_rows[k][0], d1_rows[k][1]);
    sl_sql_app_clock(h.app, h_time("10:03:00"));
    const char *want[] = {"10:01:00.000|2024-01-15 10:00:00.000|AMZN|3",
                          "10:01:00.000|2024-01-15 10:00:00.000|TGT|2",
                          "10:01:00.000|2024-01-15 10:00:00.000|XOM|1",
                          "10:02:00.000|2024-01-15 10:01:00.000|XOM|1",
                          "10:02:00.000|2024-01-15 10:01:00.000|AMZN|2",
                          "10:02:00.000|2024-01-15 10:01:00.000|TGT|1",
                          "10:03:00.000|2024-01-15 10:02:00.000|XOM|1",
                          "10:03:00.000|2024-01-15 10:02:00.000|TGT|1",
                          NULL};
    assert_true(h_expect(&h, "DESTINATION_SQL_STREAM", want));
    h_free(&h);
}

static void e4_step(void **state)
{
    (void)state;
    for (int having = 0; having < 2; having++) {
        harness h;
        char code[1024];
        snprintf(
            code, sizeof(code),
            "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\" (win TIMESTAMP, n BIGINT,\n"
            "  min_p DOUBLE, max_p DOUBLE, sum_chg DOUBLE, avg_p DOUBLE);\n"
            "CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n"
            "  SELECT STREAM STEP(s.ROWTIME BY INTERVAL '30' SECOND), COUNT(*), MIN(price),\n"
            "         MAX(price), SUM(change), AVG(price)\n"
            "  FROM \"SOURCE_SQL_STREAM_001\" AS s GROUP BY STEP(s.ROWTIME BY INTERVAL '30' "
            "SECOND)%s;",
            having ? " HAVING COUNT(*) > 1" : "");
        assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL, code), 0);
        run_d1(&h, "10:03:00");
        const char *want[] = {
            "10:00:30.000|2024-01-15 10:00:00.000|3|50.0|101.5|0.8|84.16666666666667",
            "10:01:00.000|2024-01-15 10:00:30.000|3|50.6|103.0|2.7|77.9",
            "10:01:30.000|2024-01-15 10:01:00.000|3|49.0|103.0|-3.7|76.66666666666667",
            having ? NULL : "10:02:00.000|2024-01-15 10:01:30.000|1|100.0|100.0|-3.0|100.0",
            "10:02:30.000|2024-01-15 10:02:00.000|1|78.5|78.5|0.5|78.5",
            "10:03:00.000|2024-01-15 10:02:30.000|1|49.25|49.25|0.25|49.25",
            NULL};
        assert_true(h_expect(&h, "DESTINATION_SQL_STREAM", want));
        h_free(&h);
    }
}

static void e5_sliding(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h, D1_SPEC, NULL, NULL,
            "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\" (ticker_symbol VARCHAR(4),\n"
            "  min_price DOUBLE, max_price DOUBLE, avg_price DOUBLE, n BIGINT);\n"
            "CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n"
            "  SELECT STREAM ticker_symbol, MIN(price) OVER last_minute, MAX(price) OVER "
            "last_minute,\n"
            "         AVG(price) OVER last_minute, COUNT(*) OVER last_minute\n"
            "  FROM \"SOURCE_SQL_STREAM_001\"\n"
            "  WINDOW last_minute AS (PARTITION BY ticker_symbol RANGE INTERVAL '60' SECOND "
            "PRECEDING);"),
        0);
    run_d1(&h, "10:03:00");
    const char *want[] = {"10:00:05.000|AMZN|101.5|101.5|101.5|1",
                          "10:00:12.000|TGT|50.0|50.0|50.0|1",
                          "10:00:20.000|AMZN|101.0|101.5|101.25|2",
                          "10:00:35.000|XOM|80.1|80.1|80.1|1",
                          "10:00:48.000|TGT|50.0|50.6|50.3|2",
                          "10:00:59.999|AMZN|101.0|103.0|101.83333333333333|3",
                          "10:01:00.000|XOM|78.0|80.1|79.05|2",
                          "10:01:10.000|AMZN|101.0|103.0|102.33333333333333|3",
                          "10:01:25.000|TGT|49.0|50.6|49.8|2",
                          "10:01:40.000|AMZN|100.0|103.0|102.0|3",
                          "10:02:00.000|XOM|78.0|78.5|78.25|2",
                          "10:02:30.000|TGT|49.25|49.25|49.25|1",
                          NULL};
    assert_true(h_expect(&h, "DESTINATION_SQL_STREAM", want));
    h_free(&h);
}

static void e6_rows(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h, D1_SPEC, NULL, NULL,
            "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\"\n"
            "  (ticker_symbol VARCHAR(4), price DOUBLE, avg_last2 DOUBLE, avg_last4 DOUBLE);\n"
            "CREATE OR REPLACE PUMP MA_PUMP AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n"
            "  SELECT STREAM ticker_symbol, price, AVG(price) OVER w2, AVG(price) OVER w4\n"
            "  FROM SOURCE_SQL_STREAM_001 WHERE ticker_symbol = 'AMZN'\n"
            "  WINDOW w2 AS (PARTITION BY ticker_symbol ROWS 1 PRECEDING),\n"
            "         w4 AS (PARTITION BY ticker_symbol ROWS 3 PRECEDING);"),
        0);
    run_d1(&h, "10:03:00");
    const char *want[] = {"10:00:05.000|AMZN|101.5|101.5|101.5",
                          "10:00:20.000|AMZN|101.0|101.25|101.25",
                          "10:00:59.999|AMZN|103.0|102.0|101.83333333333333",
                          "10:01:10.000|AMZN|103.0|103.0|102.125",
                          "10:01:40.000|AMZN|100.0|101.5|101.75",
                          NULL};
    assert_true(h_expect(&h, "DESTINATION_SQL_STREAM", want));
    h_free(&h);
}

static void e7_stagger(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h, "EVENT_TIME TIMESTAMP, TICKER_SYMBOL VARCHAR(4)", NULL, NULL,
            "CREATE OR REPLACE STREAM \"STAGGER_OUT\" (event_minute TIMESTAMP, ticker VARCHAR(4), "
            "n INTEGER);\n"
            "CREATE OR REPLACE STREAM \"TUMBLE_OUT\" (event_minute TIMESTAMP, ticker VARCHAR(4), n "
            "INTEGER);\n"
            "CREATE OR REPLACE PUMP \"P_STAGGER\" AS INSERT INTO \"STAGGER_OUT\"\n"
            "  SELECT STREAM FLOOR(event_time TO MINUTE), ticker_symbol, COUNT(ticker_symbol)\n"
            "  FROM \"SOURCE_SQL_STREAM_001\"\n"
            "  WINDOWED BY STAGGER (PARTITION BY FLOOR(event_time TO MINUTE), ticker_symbol\n"
            "                       RANGE INTERVAL '1' MINUTE);\n"
            "CREATE OR REPLACE PUMP \"P_TUMBLE\" AS INSERT INTO \"TUMBLE_OUT\"\n"
            "  SELECT STREAM FLOOR(event_time TO MINUTE), ticker_symbol, COUNT(ticker_symbol)\n"
            "  FROM \"SOURCE_SQL_STREAM_001\"\n"
            "  GROUP BY ticker_symbol, FLOOR(event_time TO MINUTE),\n"
            "           STEP(\"SOURCE_SQL_STREAM_001\".ROWTIME BY INTERVAL '1' MINUTE);"),
        0);
    h_push(&h, "11:00:20", "2024-01-15T11:00:10|AMZN");
    h_push(&h, "11:00:30", "2024-01-15T11:00:20|AMZN");
    h_push(&h, "11:00:50", "2024-01-15T11:00:45|TGT");
    h_push(&h, "11:01:05", "2024-01-15T11:00:55|AMZN");
    h_push(&h, "11:01:15", "2024-01-15T11:01:05|AMZN");
    sl_sql_app_clock(h.app, h_time("11:03:00"));
    const char *stag[] = {"11:01:20.000|2024-01-15 11:00:00.000|AMZN|3",
                          "11:01:50.000|2024-01-15 11:00:00.000|TGT|1",
                          "11:02:15.000|2024-01-15 11:01:00.000|AMZN|1", NULL};
    const char *tumb[] = {"11:01:00.000|2024-01-15 11:00:00.000|AMZN|2",
                          "11:01:00.000|2024-01-15 11:00:00.000|TGT|1",
                          "11:02:00.000|2024-01-15 11:00:00.000|AMZN|1",
                          "11:02:00.000|2024-01-15 11:01:00.000|AMZN|1", NULL};
    assert_true(h_expect(&h, "STAGGER_OUT", stag));
    assert_true(h_expect(&h, "TUMBLE_OUT", tumb));
    h_free(&h);
}

static void e8_topk(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h, "TICKER VARCHAR(4)", NULL, NULL,
            "CREATE OR REPLACE STREAM \"TOPK\" (\"TICKER\" VARCHAR(4), "
            "\"MOST_FREQUENT_VALUES\" BIGINT);\n"
            "CREATE OR REPLACE STREAM \"DISTINCTS\" (n BIGINT);\n"
            "CREATE OR REPLACE PUMP \"P1\" AS INSERT INTO \"TOPK\" SELECT STREAM * FROM TABLE(\n"
            "  TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM \"SOURCE_SQL_STREAM_001\"), "
            "'TICKER', 3, 60));\n"
            "CREATE OR REPLACE PUMP \"P2\" AS INSERT INTO \"DISTINCTS\" SELECT STREAM * FROM "
            "TABLE(\n"
            "  COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM "
            "\"SOURCE_SQL_STREAM_001\"), 'TICKER', 60));"),
        0);
    const char *in[][2] = {
        {"12:00:00", "AMZN"}, {"12:00:05", "MSFT"}, {"12:00:10", "AMZN"}, {"12:00:15", "INTC"},
        {"12:00:20", "AMZN"}, {"12:00:25", "MSFT"}, {"12:00:30", "TBV"},  {"12:00:35", "AMZN"},
        {"12:00:40", "MSFT"}, {"12:00:45", "INTC"}, {"12:01:00", "TBV"},  {"12:01:10", "AAPL"},
        {"12:01:20", "TBV"},  {"12:01:30", "AMZN"}, {"12:01:40", "TBV"},  {"12:01:50", "AAPL"}};
    for (size_t k = 0; k < 16; k++)
        h_push(&h, in[k][0], in[k][1]);
    sl_sql_app_clock(h.app, h_time("12:02:00"));
    const char *topk[] = {"12:01:00.000|AMZN|4",
                          "12:01:00.000|MSFT|3",
                          "12:01:00.000|INTC|2",
                          "12:02:00.000|TBV|3",
                          "12:02:00.000|AAPL|2",
                          "12:02:00.000|AMZN|1",
                          NULL};
    const char *dist[] = {"12:01:00.000|4", "12:02:00.000|3", NULL};
    assert_true(h_expect(&h, "TOPK", topk));
    assert_true(h_expect(&h, "DISTINCTS", dist));
    h_free(&h);
}

static void e9_reference_join(void **state)
{
    (void)state;
    for (int inner = 0; inner < 2; inner++) {
        harness h;
        char code[1024];
        snprintf(code, sizeof(code),
                 "CREATE OR REPLACE STREAM ENRICHED (sym VARCHAR(4), company VARCHAR(20), price "
                 "DOUBLE);\n"
                 "CREATE OR REPLACE PUMP ENRICH_PUMP AS INSERT INTO ENRICHED\n"
                 "  SELECT STREAM q.ticker_symbol, r.\"name\", q.price\n"
                 "  FROM SOURCE_SQL_STREAM_001 AS q\n"
                 "  %s JOIN \"Companies\" AS r ON q.ticker_symbol = r.\"sym\";",
                 inner ? "" : "LEFT OUTER");
        assert_int_equal(
            h_compile(&h, D1_SPEC, "Companies", "sym VARCHAR(4), name VARCHAR(20)", code), 0);
        const char *rows[] = {"AMZN|Amazon", "TGT|Target"};
        h_load_table(&h, rows, 2);
        h_push_d1(&h, 4);
        const char *want_left[] = {"10:00:05.000|AMZN|Amazon|101.5", "10:00:12.000|TGT|Target|50.0",
                                   "10:00:20.000|AMZN|Amazon|101.0", "10:00:35.000|XOM|NULL|80.1",
                                   NULL};
        const char *want_inner[] = {"10:00:05.000|AMZN|Amazon|101.5",
                                    "10:00:12.000|TGT|Target|50.0",
                                    "10:00:20.000|AMZN|Amazon|101.0", NULL};
        assert_true(h_expect(&h, "ENRICHED", inner ? want_inner : want_left));
        h_free(&h);
    }
}

static void e11_chained(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h,
            "RecordType VARCHAR(8), Oid INTEGER, Oprice INTEGER, Tid INTEGER, Toid INTEGER, "
            "Tprice INTEGER, Tticker VARCHAR(4)",
            NULL, NULL,
            "CREATE OR REPLACE STREAM \"ORDERS\" (\"order_id\" INTEGER, \"order_price\" "
            "DOUBLE);\n"
            "CREATE OR REPLACE PUMP \"ORDERS_PUMP\" AS INSERT INTO \"ORDERS\"\n"
            "  SELECT STREAM \"Oid\", \"Oprice\" FROM \"SOURCE_SQL_STREAM_001\" WHERE "
            "\"RecordType\" = 'Order';\n"
            "CREATE OR REPLACE STREAM \"TRADES\" (\"trade_id\" INTEGER, \"order_id\" INTEGER,\n"
            "  \"trade_price\" DOUBLE, \"ticker\" VARCHAR(4));\n"
            "CREATE OR REPLACE PUMP \"TRADES_PUMP\" AS INSERT INTO \"TRADES\"\n"
            "  SELECT STREAM \"Tid\", \"Toid\", \"Tprice\", \"Tticker\" FROM "
            "\"SOURCE_SQL_STREAM_001\"\n"
            "  WHERE \"RecordType\" = 'Trade';\n"
            "CREATE OR REPLACE STREAM \"TRADE_COUNTS\" (\"ticker\" VARCHAR(4), \"trades\" "
            "INTEGER);\n"
            "CREATE OR REPLACE PUMP \"COUNT_PUMP\" AS INSERT INTO \"TRADE_COUNTS\"\n"
            "  SELECT STREAM t.\"ticker\", COUNT(*) FROM \"TRADES\" AS t\n"
            "  GROUP BY FLOOR(t.ROWTIME TO MINUTE), t.\"ticker\";"),
        0);
    h_push(&h, "09:00:01", "Order|3811|9047|NULL|NULL|NULL|NULL");
    h_push(&h, "09:00:10", "Trade|NULL|NULL|1|3811|2089|AAAA");
    h_push(&h, "09:00:40", "Trade|NULL|NULL|2|3811|2090|AAAA");
    h_push(&h, "09:00:50", "Order|3812|1200|NULL|NULL|NULL|NULL");
    h_push(&h, "09:01:05", "Trade|NULL|NULL|3|3812|1199|BBBB");
    sl_sql_app_clock(h.app, h_time("09:02:00"));
    const char *orders[] = {"09:00:01.000|3811|9047.0", "09:00:50.000|3812|1200.0", NULL};
    const char *trades[] = {"09:00:10.000|1|3811|2089.0|AAAA", "09:00:40.000|2|3811|2090.0|AAAA",
                            "09:01:05.000|3|3812|1199.0|BBBB", NULL};
    const char *counts[] = {"09:01:00.000|AAAA|2", "09:02:00.000|BBBB|1", NULL};
    assert_true(h_expect(&h, "ORDERS", orders));
    assert_true(h_expect(&h, "TRADES", trades));
    assert_true(h_expect(&h, "TRADE_COUNTS", counts));
    h_free(&h);
}

static void e12_errors(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, "TICKER_SYMBOL VARCHAR(4), PRICE DOUBLE", NULL, NULL,
                  "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\" (ticker VARCHAR(4), inv "
                  "DOUBLE);\n"
                  "CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO "
                  "\"DESTINATION_SQL_STREAM\"\n"
                  "  SELECT STREAM ticker_symbol, 100 / price FROM \"SOURCE_SQL_STREAM_001\";"),
        0);
    h_push(&h, "10:00:00", "AMZN|101.5");
    const char raw[] = "{\"TICKER_SYMBOL\":\"TGT\",\"PRICE\":\"n/a\"}";
    sl_sql_app_input_error(h.app, h_time("10:00:01"), "InputCoercionError", "PRICE: not a number",
                           raw, strlen(raw));
    h_push(&h, "10:00:02", "XOM|0");
    h_push(&h, "10:00:04", "AMAZON|7"); /* truncated to AMAZ by the input mapping */
    const char *dest[] = {"10:00:00.000|AMZN|0.9852216748768473",
                          "10:00:04.000|AMAZ|14.285714285714286", NULL};
    assert_true(h_expect(&h, "DESTINATION_SQL_STREAM", dest));
    /* hex of {"TICKER_SYMBOL":"XOM","PRICE":0.0} */
    char hex[256] = "";
    const char *js = "{\"TICKER_SYMBOL\":\"XOM\",\"PRICE\":0.0}";
    for (size_t k = 0; js[k]; k++)
        sprintf(hex + 2 * k, "%02X", (unsigned char)js[k]);
    char rawhex[256] = "";
    for (size_t k = 0; raw[k]; k++)
        sprintf(rawhex + 2 * k, "%02X", (unsigned char)raw[k]);
    char e1[512], e2[512];
    snprintf(e1, sizeof(e1),
             "10:00:01.000|2024-01-15 10:00:01.000|ERROR|InputCoercionError|PRICE: not a "
             "number|2024-01-15 10:00:01.000|%s|NULL",
             rawhex);
    snprintf(e2, sizeof(e2),
             "10:00:02.000|2024-01-15 10:00:02.000|ERROR|DivisionByZero|division by "
             "zero|2024-01-15 10:00:02.000|%s|STREAM_PUMP",
             hex);
    const char *errs[] = {e1, e2, NULL};
    assert_true(h_expect(&h, "error_stream", errs));
    h_free(&h);
}

static void e13_functions(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(
            &h, "EVENT_TIME TIMESTAMP, TICKER VARCHAR(4), REFERRER VARCHAR(32)", NULL, NULL,
            "CREATE OR REPLACE STREAM \"DESTINATION_SQL_STREAM\" (ticker VARCHAR(4), et "
            "TIMESTAMP,\n"
            "  et_minus5 TIMESTAMP, unix_ms BIGINT, et_char VARCHAR(20), sec BIGINT, lag_ms "
            "BIGINT,\n"
            "  https VARCHAR(32), company VARCHAR(16), www VARCHAR(3), parsed TIMESTAMP,\n"
            "  step15 TIMESTAMP);\n"
            "CREATE OR REPLACE PUMP \"STREAM_PUMP\" AS INSERT INTO \"DESTINATION_SQL_STREAM\"\n"
            "  SELECT STREAM ticker, event_time, event_time - INTERVAL '5' MINUTE,\n"
            "    UNIX_TIMESTAMP(event_time), TIMESTAMP_TO_CHAR('yyyy-MM-dd hh:mm:ss', "
            "event_time),\n"
            "    EXTRACT(SECOND FROM event_time), TSDIFF(s.ROWTIME, event_time),\n"
            "    REGEX_REPLACE(referrer, 'http://', 'https://', 1, 0),\n"
            "    SUBSTRING(referrer, 12, POSITION('.com' IN referrer) - POSITION('www.' IN "
            "referrer) - 4),\n"
            "    UPPER(SUBSTRING(referrer FROM 8 FOR 3)),\n"
            "    CHAR_TO_TIMESTAMP('yyyy-MM-dd HH:mm:ss', '2009-09-16 03:15:24'),\n"
            "    STEP(event_time BY INTERVAL '15' SECOND)\n"
            "  FROM \"SOURCE_SQL_STREAM_001\" AS s;"),
        0);
    sl_sql_value v[3];
    memset(v, 0, sizeof(v));
    v[0].type = SL_SQL_TIMESTAMP;
    const char *et = "2018-05-09T12:50:41.337510";
    assert_int_equal(sl_sql_parse_timestamp(et, strlen(et), &v[0].u.i), 0);
    v[1].type = SL_SQL_VARCHAR;
    v[1].u.s = "AAPL";
    v[1].len = 4;
    v[2].type = SL_SQL_VARCHAR;
    v[2].u.s = "http://www.amazon.com";
    v[2].len = 21;
    int64_t rt;
    sl_sql_parse_timestamp("2018-05-09 12:50:45.000", 23, &rt);
    assert_int_equal(sl_sql_app_push(h.app, 0, rt, v), 0);
    assert_int_equal(h.n_out, 1);
    /* rowtime is on another day than the harness's: compare the fields after it */
    const char *row = strchr(h.out[0], '|');
    assert_non_null(row);
    assert_true(h_line_eq(row + 1, "AAPL|2018-05-09 12:50:41.337|2018-05-09 12:45:41.337|"
                                   "1525870241337|2018-05-09 12:50:41|41|3663|"
                                   "https://www.amazon.com|amazon|WWW|2009-09-16 03:15:24.000|"
                                   "2018-05-09 12:50:30.000"));
    h_free(&h);
}

static void heartbeat_through_filter(void **state)
{
    (void)state;
    /* a filter that drops every row still forwards progress to a downstream window */
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE STREAM A (t VARCHAR(4), p DOUBLE);\n"
                  "CREATE STREAM B (t VARCHAR(4), n BIGINT);\n"
                  "CREATE PUMP PA AS INSERT INTO A SELECT STREAM ticker_symbol, price FROM "
                  "SOURCE_SQL_STREAM_001 WHERE price > 100;\n"
                  "CREATE PUMP PB AS INSERT INTO B SELECT STREAM t, COUNT(*) FROM A "
                  "GROUP BY t, FLOOR(A.ROWTIME TO MINUTE);"),
        0);
    h_push_d1(&h, 3);
    assert_int_equal(h.n_out, 2);              /* rows 1 and 3 into A */
    h_push(&h, "10:01:00", "XOM|ENERGY|0|10"); /* dropped by the filter, closes the window */
    const char *want[] = {"10:01:00.000|AMZN|2", NULL};
    assert_true(h_expect(&h, "B", want));
    h_free(&h);
}

static void distinct_union_subquery(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE STREAM S (sector VARCHAR(16));\n"
                  "CREATE STREAM U (t VARCHAR(4), k INTEGER);\n"
                  "CREATE PUMP P1 AS INSERT INTO S SELECT STREAM DISTINCT FLOOR(s.ROWTIME TO "
                  "MINUTE) AS m, sector FROM SOURCE_SQL_STREAM_001 AS s;\n"
                  "CREATE PUMP P2 AS INSERT INTO U SELECT STREAM t, CASE WHEN p > 100 THEN 1 "
                  "ELSE 0 END FROM (SELECT STREAM ticker_symbol AS t, price AS p FROM "
                  "SOURCE_SQL_STREAM_001 WHERE ticker_symbol IN ('AMZN', 'XOM')) AS x "
                  "UNION ALL SELECT STREAM 'ZZZ', 2 FROM SOURCE_SQL_STREAM_001 WHERE "
                  "ticker_symbol = 'TGT';"),
        SL_EINVAL); /* DISTINCT selects two items for a one-column stream */
    h_free(&h);
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE STREAM S (m TIMESTAMP, sector VARCHAR(16));\n"
                  "CREATE STREAM U (t VARCHAR(4), k INTEGER);\n"
                  "CREATE PUMP P1 AS INSERT INTO S SELECT STREAM DISTINCT FLOOR(s.ROWTIME TO "
                  "MINUTE) AS m, sector FROM SOURCE_SQL_STREAM_001 AS s;\n"
                  "CREATE PUMP P2 AS INSERT INTO U SELECT STREAM t, CASE WHEN p > 100 THEN 1 "
                  "ELSE 0 END FROM (SELECT STREAM ticker_symbol AS t, price AS p FROM "
                  "SOURCE_SQL_STREAM_001 WHERE ticker_symbol IN ('AMZN', 'XOM')) AS x "
                  "UNION ALL SELECT STREAM 'ZZZ', 2 FROM SOURCE_SQL_STREAM_001 WHERE "
                  "ticker_symbol = 'TGT';"),
        0);
    h_push_d1(&h, 7);
    const char *s[] = {"10:01:00.000|2024-01-15 10:00:00.000|TECHNOLOGY",
                       "10:01:00.000|2024-01-15 10:00:00.000|RETAIL",
                       "10:01:00.000|2024-01-15 10:00:00.000|ENERGY", NULL};
    const char *u[] = {
        "10:00:05.000|AMZN|1", "10:00:12.000|ZZZ|2",  "10:00:20.000|AMZN|1", "10:00:35.000|XOM|0",
        "10:00:48.000|ZZZ|2",  "10:00:59.999|AMZN|1", "10:01:00.000|XOM|0",  NULL};
    assert_true(h_expect(&h, "S", s));
    assert_true(h_expect(&h, "U", u));
    h_free(&h);
}

static void order_by_bucket(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL,
                               "CREATE STREAM O (t VARCHAR(4), p DOUBLE);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol, price "
                               "FROM SOURCE_SQL_STREAM_001 ORDER BY FLOOR(ROWTIME TO MINUTE), "
                               "price DESC;"),
                     0);
    h_push_d1(&h, 6);
    assert_int_equal(h.n_out, 0); /* held until the bucket ends */
    for (size_t k = 6; k < 12; k++)
        h_push(&h, d1_rows[k][0], d1_rows[k][1]);
    sl_sql_app_clock(h.app, h_time("10:03:00"));
    const char *want[] = {"10:01:00.000|AMZN|103.0",
                          "10:01:00.000|AMZN|101.5",
                          "10:01:00.000|AMZN|101.0",
                          "10:01:00.000|XOM|80.1",
                          "10:01:00.000|TGT|50.6",
                          "10:01:00.000|TGT|50.0",
                          "10:02:00.000|AMZN|103.0",
                          "10:02:00.000|AMZN|100.0",
                          "10:02:00.000|XOM|78.0",
                          "10:02:00.000|TGT|49.0",
                          "10:03:00.000|XOM|78.5",
                          "10:03:00.000|TGT|49.25",
                          NULL};
    assert_true(h_expect(&h, "O", want));
    h_free(&h);
    /* a leading key that is not ROWTIME-based is refused */
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL,
                               "CREATE STREAM O (t VARCHAR(4), p DOUBLE);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol, price "
                               "FROM SOURCE_SQL_STREAM_001 ORDER BY price;"),
                     SL_EINVAL);
    assert_non_null(strstr(h.d.text, "line 2, column"));
    h_free(&h);
}

static void arrival_time(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE STREAM O (t VARCHAR(4), arr TIMESTAMP, lag_ms BIGINT);\n"
                  "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol, "
                  "APPROXIMATE_ARRIVAL_TIME, TSDIFF(s.ROWTIME, s.APPROXIMATE_ARRIVAL_TIME) "
                  "FROM SOURCE_SQL_STREAM_001 AS s;\n"
                  "CREATE STREAM O2 (t VARCHAR(4), s VARCHAR(16), c DOUBLE, p DOUBLE);\n"
                  "CREATE PUMP P2 AS INSERT INTO O2 SELECT STREAM * FROM SOURCE_SQL_STREAM_001 "
                  "WHERE FALSE;"),
        0);
    sl_sql_value v[4];
    char store[256];
    h_values(h.cols, h.n_cols, "AMZN|TECHNOLOGY|1.5|101.5", v, store);
    assert_int_equal(
        sl_sql_app_push_arrival(h.app, 0, h_time("10:00:05"), h_time("10:00:04.500"), v), SL_OK);
    const char *want[] = {"10:00:05.000|AMZN|2024-01-15 10:00:04.500|500", NULL};
    assert_true(h_expect(&h, "O", want));
    h_free(&h);
    /* ('*' gave the 4 declared columns above, not the arrival time) derived streams lack it */
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL,
                               "CREATE STREAM O (a VARCHAR(4));\n"
                               "CREATE STREAM O2 (a TIMESTAMP);\n"
                               "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol FROM "
                               "SOURCE_SQL_STREAM_001;\n"
                               "CREATE PUMP P2 AS INSERT INTO O2 SELECT STREAM "
                               "APPROXIMATE_ARRIVAL_TIME FROM O;"),
                     SL_EINVAL);
    assert_non_null(strstr(h.d.text, "APPROXIMATE_ARRIVAL_TIME"));
    h_free(&h);
}

static void e10_stream_join(void **state)
{
    (void)state;
    for (int left = 0; left < 2; left++) {
        harness h;
        char code[2048];
        snprintf(code, sizeof(code),
                 "CREATE OR REPLACE STREAM \"Orders\" (\"orderId\" INTEGER, \"custId\" INTEGER);\n"
                 "CREATE OR REPLACE STREAM \"Shipments\" (\"orderId\" INTEGER);\n"
                 "CREATE OR REPLACE STREAM \"OUT\" (\"orderId\" INTEGER, \"custId\" INTEGER, "
                 "\"shipTime\" TIMESTAMP);\n"
                 "CREATE OR REPLACE PUMP \"PO\" AS INSERT INTO \"Orders\"\n"
                 "  SELECT STREAM \"orderId\", \"custId\" FROM \"SOURCE_SQL_STREAM_001\" WHERE "
                 "\"kind\" = 'O';\n"
                 "CREATE OR REPLACE PUMP \"PS\" AS INSERT INTO \"Shipments\"\n"
                 "  SELECT STREAM \"orderId\" FROM \"SOURCE_SQL_STREAM_001\" WHERE \"kind\" = "
                 "'S';\n"
                 "CREATE OR REPLACE PUMP \"PJ\" AS INSERT INTO \"OUT\"\n"
                 "  SELECT STREAM o.\"orderId\", o.\"custId\", s.ROWTIME\n"
                 "  FROM \"Orders\" AS o %sJOIN \"Shipments\" OVER (RANGE INTERVAL '1' HOUR "
                 "FOLLOWING) AS s\n"
                 "    ON o.\"orderId\" = s.\"orderId\";",
                 left ? "LEFT " : "");
        assert_int_equal(
            h_compile(&h, "kind VARCHAR(1), orderId INTEGER, custId INTEGER", NULL, NULL, code), 0);
        h_push(&h, "10:15:00", "O|100|501");
        h_push(&h, "10:25:00", "O|101|22");
        h_push(&h, "10:25:30", "O|102|699");
        h_push(&h, "10:30:00", "S|100|NULL");
        h_push(&h, "11:05:00", "S|102|NULL");
        h_push(&h, "11:15:00", "S|101|NULL");
        for (size_t k = 0; k < h.n_out; k++)
            assert_null(strstr(h.out[k], "OUT@")); /* nothing before the 11:40 row */
        h_push(&h, "11:40:00", "S|100|NULL");
        h_push(&h, "11:50:00", "O|103|7"); /* no shipment within the hour */
        sl_sql_app_clock(h.app, h_time("13:00:00"));
        const char *want[] = {"10:15:00.000|100|501|2024-01-15 10:30:00.000",
                              "10:25:00.000|101|22|2024-01-15 11:15:00.000",
                              "10:25:30.000|102|699|2024-01-15 11:05:00.000",
                              left ? "11:50:00.000|103|7|NULL" : NULL, NULL};
        assert_true(h_expect(&h, "OUT", want));
        h_free(&h);
    }
    /* no window on the joined stream: refused */
    harness h;
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL,
                               "CREATE STREAM A (t VARCHAR(4));\n"
                               "CREATE STREAM O (t VARCHAR(4));\n"
                               "CREATE PUMP PA AS INSERT INTO A SELECT STREAM ticker_symbol FROM "
                               "SOURCE_SQL_STREAM_001;\n"
                               "CREATE PUMP PO AS INSERT INTO O SELECT STREAM a.t FROM A AS a "
                               "JOIN SOURCE_SQL_STREAM_001 AS s ON a.t = s.ticker_symbol;"),
                     SL_EINVAL);
    assert_non_null(strstr(h.d.text, "needs a window"));
    h_free(&h);
}

static void more_aggregates(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE STREAM G (sd DOUBLE, v DOUBLE, f VARCHAR(4), l VARCHAR(4));\n"
                  "CREATE STREAM W (f DOUBLE, l DOUBLE, sd DOUBLE);\n"
                  "CREATE PUMP PG AS INSERT INTO G SELECT STREAM STDDEV_POP(price), "
                  "VAR_SAMP(price), FIRST_VALUE(ticker_symbol), LAST_VALUE(ticker_symbol) FROM "
                  "SOURCE_SQL_STREAM_001 AS s GROUP BY FLOOR(s.ROWTIME TO MINUTE);\n"
                  "CREATE PUMP PW AS INSERT INTO W SELECT STREAM FIRST_VALUE(price) OVER w, "
                  "LAST_VALUE(price) OVER w, STDDEV_SAMP(price) OVER w FROM "
                  "SOURCE_SQL_STREAM_001 WINDOW w AS (ROWS 2 PRECEDING);"),
        0);
    h_push_d1(&h, 12);
    const char *g[] = {"10:01:00.000|23.058669133803498|638.0426666666666|AMZN|AMZN",
                       "10:02:00.000|21.615966321217286|623.0|XOM|AMZN", NULL};
    assert_true(h_expect(&h, "G", g));
    const char *w[] = {"10:00:05.000|101.5|101.5|NULL",
                       "10:00:12.000|101.5|50.0|36.4159992311072",
                       "10:00:20.000|101.5|101.0|29.590257405661976",
                       "10:00:35.000|50.0|80.1|25.637927633358615",
                       "10:00:48.000|101.0|50.6|25.321993075848773",
                       "10:00:59.999|80.1|103.0|26.26918346656401",
                       "10:01:00.000|50.6|78.0|26.209158704544485",
                       "10:01:10.000|103.0|103.0|14.433756729740644",
                       "10:01:25.000|78.0|49.0|27.024680078279065",
                       "10:01:40.000|103.0|100.0|30.347981810987037",
                       "10:02:00.000|49.0|78.5|25.60436160761157",
                       "10:02:30.000|100.0|49.25|25.473433874005547",
                       NULL};
    assert_true(h_expect(&h, "W", w));
    h_free(&h);
}

static void rowtime_promotion(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, "EVENT_TIME TIMESTAMP, TICKER_SYMBOL VARCHAR(4)", NULL, NULL,
                  "CREATE STREAM E (t VARCHAR(4));\n"
                  "CREATE STREAM C (t VARCHAR(4), n BIGINT);\n"
                  "CREATE PUMP PE AS INSERT INTO E SELECT STREAM event_time AS ROWTIME, "
                  "ticker_symbol FROM SOURCE_SQL_STREAM_001;\n"
                  "CREATE PUMP PC AS INSERT INTO C SELECT STREAM t, COUNT(*) FROM E "
                  "GROUP BY t, FLOOR(E.ROWTIME TO MINUTE);"),
        0);
    h_push(&h, "11:00:20", "2024-01-15T10:59:10|AMZN");
    h_push(&h, "11:00:21", "2024-01-15T10:59:50|AMZN");
    h_push(&h, "11:00:22", "2024-01-15T10:59:40|AMZN"); /* behind: error_stream */
    h_push(&h, "11:00:23", "2024-01-15T11:00:05|AMZN"); /* closes the 10:59 window */
    const char *e[] = {"10:59:10.000|AMZN", "10:59:50.000|AMZN", "11:00:05.000|AMZN", NULL};
    assert_true(h_expect(&h, "E", e));
    const char *c[] = {"11:00:00.000|AMZN|2", NULL};
    assert_true(h_expect(&h, "C", c));
    int found = 0;
    for (size_t k = 0; k < h.n_out; k++)
        found += strstr(h.out[k], "error_stream@") && strstr(h.out[k], "RowtimeOutOfOrder");
    assert_int_equal(found, 1);
    /* heartbeats do not close windows over promoted time: only promoted rows do */
    sl_sql_app_clock(h.app, h_time("12:00:00"));
    assert_true(h_expect(&h, "C", c));
    h_free(&h);
}

static void bounded_topk_distinct(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, "ITEM INTEGER", NULL, NULL,
                  "CREATE STREAM T (item INTEGER, n BIGINT);\n"
                  "CREATE STREAM D (n BIGINT);\n"
                  "CREATE PUMP P1 AS INSERT INTO T SELECT STREAM * FROM TABLE("
                  "TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM SOURCE_SQL_STREAM_001), "
                  "'ITEM', 3, 3600));\n"
                  "CREATE PUMP P2 AS INSERT INTO D SELECT STREAM * FROM TABLE("
                  "COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM "
                  "SOURCE_SQL_STREAM_001), 'ITEM', 3600));"),
        0);
    /* 50,000 singletons interleaved with three heavy hitters (6,000 / 5,000 / 4,000 times) */
    int64_t t0 = h_time("12:00:00");
    sl_sql_value v = {.type = SL_SQL_INTEGER};
    int heavy[3] = {0, 0, 0};
    for (int i = 0; i < 65000; i++) {
        int k = i % 13;
        if (k < 6 && heavy[0] < 6000)
            v.u.i = -1, heavy[0]++;
        else if (k < 11 && heavy[1] < 5000)
            v.u.i = -2, heavy[1]++;
        else if (heavy[2] < 4000 && k >= 11)
            v.u.i = -3, heavy[2]++;
        else
            v.u.i = i;
        sl_sql_app_push(h.app, 0, t0 + i / 100, &v);
    }
    sl_sql_app_clock(h.app, h_time("13:00:00"));
    size_t nt = 0;
    int64_t distinct = -1;
    for (size_t k = 0; k < h.n_out; k++) {
        long long item, n;
        if (sscanf(h.out[k], "T@13:00:00.000|%lld|%lld", &item, &n) == 2) {
            /* Space-Saving keeps every item above n / 10,000 with an upper-bound count */
            assert_int_equal(item, -(long long)(nt + 1));
            assert_true(n >= (nt == 0 ? 6000 : nt == 1 ? 5000 : 4000));
            assert_true(n <= (nt == 0 ? 6000 : nt == 1 ? 5000 : 4000) + 65000 / 10000 + 1);
            nt++;
        }
        if (!strncmp(h.out[k], "D@", 2))
            distinct = strtoll(strchr(h.out[k], '|') + 1, NULL, 10);
    }
    assert_int_equal(nt, 3);
    int64_t truth = 65000 - 15000 + 3;
    fprintf(stderr, "COUNT_DISTINCT estimate %lld for %lld\n", (long long)distinct,
            (long long)truth);
    assert_true(distinct > truth * 97 / 100 && distinct < truth * 103 / 100);
    h_free(&h);
}

static void rcf_explanation(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, "heartRate INTEGER, steps INTEGER", NULL, NULL,
                  "CREATE STREAM X (hr INTEGER, score DOUBLE, why VARCHAR(2000));\n"
                  "CREATE PUMP P AS INSERT INTO X SELECT STREAM \"heartRate\", ANOMALY_SCORE, "
                  "ANOMALY_EXPLANATION FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR("
                  "SELECT STREAM * FROM SOURCE_SQL_STREAM_001), 50, 64, 100000, 1, TRUE));"),
        0);
    for (int i = 0; i < 100; i++) {
        char t[32], f[64];
        snprintf(t, sizeof(t), "00:00:%02d.%03d", i / 10, (i % 10) * 100);
        snprintf(f, sizeof(f), "%d|%d", i == 90 ? 190 : 60 + (7 * i) % 41, 100 + (3 * i) % 7);
        h_push(&h, t, f);
    }
    assert_int_equal(h.n_out, 100);
    const char *r = h.out[90];
    fprintf(stderr, "explanation: %s\n", r);
    assert_non_null(strstr(r, "{\"heartRate\":{\"DIRECTION\":\"HIGH\""));
    /* attributions add up to the score (4 decimals each) */
    double score = strtod(strchr(strchr(r, '|') + 1, '|') + 1, NULL);
    const char *a1 = strstr(r, "ATTRIBUTION_SCORE\":\"");
    const char *a2 = a1 ? strstr(a1 + 1, "ATTRIBUTION_SCORE\":\"") : NULL;
    assert_non_null(a2);
    double s1 = strtod(a1 + 20, NULL), s2 = strtod(a2 + 20, NULL);
    assert_true(s1 > s2);
    assert_true(fabs(s1 + s2 - score) < 1e-3);
    h_free(&h);
}

static void hotspots(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, "x DOUBLE, y DOUBLE", NULL, NULL,
                  "CREATE STREAM H (x DOUBLE, y DOUBLE, r VARCHAR(4000));\n"
                  "CREATE PUMP P AS INSERT INTO H SELECT STREAM * FROM TABLE(HOTSPOTS(CURSOR("
                  "SELECT STREAM * FROM SOURCE_SQL_STREAM_001), 100, 1, 5));"),
        0);
    /* 60 points spread over [0,100)^2, then a dense cluster of 10 around (50, 50) */
    for (int i = 0; i < 70; i++) {
        char t[32], f[64];
        snprintf(t, sizeof(t), "00:00:%02d", i / 2);
        if (i < 60)
            snprintf(f, sizeof(f), "%d|%d", (i * 37) % 100, (i * 61) % 100);
        else
            snprintf(f, sizeof(f), "%g|%g", 50 + 0.1 * (i - 60), 50 - 0.1 * (i - 60));
        h_push(&h, t, f);
    }
    assert_int_equal(h.n_out, 70);
    assert_non_null(strstr(h.out[0], "{\"hotspots\":[]}"));
    const char *last = strchr(strchr(strchr(h.out[69], '|') + 1, '|') + 1, '|') + 1;
    fprintf(stderr, "HOTSPOTS: %s\n", last);
    assert_non_null(strstr(last, "\"minValues\":[50.0,49.1],\"maxValues\":[50.9,50.0]"));
    double density = strtod(strstr(last, "\"density\":") + 10, NULL);
    assert_true(density > 10);
    h_free(&h);
}

static void lag_nth_value(void **state)
{
    (void)state;
    harness h;
    assert_int_equal(
        h_compile(&h, D1_SPEC, NULL, NULL,
                  "CREATE STREAM L (t VARCHAR(4), prev DOUBLE, prev2 DOUBLE, first_p DOUBLE);\n"
                  "CREATE PUMP P AS INSERT INTO L SELECT STREAM ticker_symbol, LAG(price) OVER w, "
                  "LAG(price, 2) OVER w, NTH_VALUE(price, 1) OVER w FROM SOURCE_SQL_STREAM_001 "
                  "WINDOW w AS (PARTITION BY ticker_symbol ROWS 2 PRECEDING);"),
        0);
    h_push_d1(&h, 12);
    const char *want[] = {"10:00:05.000|AMZN|NULL|NULL|101.5",
                          "10:00:12.000|TGT|NULL|NULL|50.0",
                          "10:00:20.000|AMZN|101.5|NULL|101.5",
                          "10:00:35.000|XOM|NULL|NULL|80.1",
                          "10:00:48.000|TGT|50.0|NULL|50.0",
                          "10:00:59.999|AMZN|101.0|101.5|101.5",
                          "10:01:00.000|XOM|80.1|NULL|80.1",
                          "10:01:10.000|AMZN|103.0|101.0|101.0",
                          "10:01:25.000|TGT|50.6|50.0|50.0",
                          "10:01:40.000|AMZN|103.0|103.0|103.0",
                          "10:02:00.000|XOM|78.0|80.1|80.1",
                          "10:02:30.000|TGT|49.0|50.6|50.6",
                          NULL};
    assert_true(h_expect(&h, "L", want));
    h_free(&h);
    assert_int_equal(h_compile(&h, D1_SPEC, NULL, NULL,
                               "CREATE STREAM L (p DOUBLE);\n"
                               "CREATE PUMP P AS INSERT INTO L SELECT STREAM LAG(price) FROM "
                               "SOURCE_SQL_STREAM_001 GROUP BY FLOOR(ROWTIME TO MINUTE);"),
                     SL_EINVAL);
    assert_non_null(strstr(h.d.text, "needs OVER"));
    h_free(&h);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run_e14(harness *h, double *scores, char ranked[300][64])
{
    assert_int_equal(
        h_compile(h, "heartRate INTEGER, rateType VARCHAR(20)", NULL, NULL,
                  "CREATE OR REPLACE STREAM SCORED (hr INTEGER, kind VARCHAR(20), score DOUBLE);\n"
                  "CREATE OR REPLACE STREAM RANKED (hr INTEGER, kind VARCHAR(20), score DOUBLE);\n"
                  "CREATE OR REPLACE PUMP SCORE_PUMP AS INSERT INTO SCORED\n"
                  "  SELECT STREAM f.\"heartRate\", f.\"rateType\", f.ANOMALY_SCORE\n"
                  "  FROM TABLE(RANDOM_CUT_FOREST(\n"
                  "         CURSOR(SELECT STREAM \"heartRate\", \"rateType\" FROM "
                  "SOURCE_SQL_STREAM_001),\n"
                  "         100, 256, 100000, 1)) AS f;\n"
                  "CREATE OR REPLACE PUMP RANK_PUMP AS INSERT INTO RANKED\n"
                  "  SELECT STREAM hr, kind, score FROM SCORED\n"
                  "  ORDER BY FLOOR(SCORED.ROWTIME TO SECOND), score DESC;"),
        0);
    for (int i = 0; i < 300; i++) {
        char t[32], f[64];
        snprintf(t, sizeof(t), "00:00:%02d.%03d", i / 10, (i % 10) * 100);
        if (i == 280)
            snprintf(f, sizeof(f), "190|HIGH");
        else
            snprintf(f, sizeof(f), "%d|NORMAL", 60 + (7 * i) % 41);
        h_push(h, t, f);
    }
    sl_sql_app_clock(h->app, h_time("00:00:31"));
    int ns = 0, nr = 0;
    for (size_t k = 0; k < h->n_out; k++) {
        if (!strncmp(h->out[k], "SCORED@", 7)) {
            const char *last = strrchr(h->out[k], '|');
            /* input order and ROWTIMEs */
            char t[32];
            snprintf(t, sizeof(t), "SCORED@00:00:%02d.%03d|", ns / 10, (ns % 10) * 100);
            assert_memory_equal(h->out[k], t, strlen(t));
            scores[ns++] = strtod(last + 1, NULL);
        } else if (!strncmp(h->out[k], "RANKED@", 7)) {
            snprintf(ranked[nr++], 64, "%s", h->out[k]);
        }
    }
    assert_int_equal(ns, 300);
    assert_int_equal(nr, 300);
}

static void e14_random_cut_forest(void **state)
{
    (void)state;
    static double scores[300], again[300];
    static char ranked[300][64], ranked2[300][64];
    harness h;
    run_e14(&h, scores, ranked);
    h_free(&h);
    for (int i = 0; i < 300; i++) {
        assert_true(scores[i] >= 0);
        if (i < 256)
            assert_true(scores[i] == 0);
    }
    double rest[44];
    int nrest = 0;
    for (int i = 256; i < 300; i++)
        if (i != 280) {
            assert_true(scores[280] > scores[i]);
            rest[nrest++] = scores[i];
        }
    qsort(rest, (size_t)nrest, sizeof(double), cmp_dbl);
    double median = (rest[21] + rest[22]) / 2;
    fprintf(stderr, "E14: score of row 280 %.3f, median of the others %.3f\n", scores[280], median);
    assert_true(scores[280] >= 2 * median);
    /* RANKED: 30 buckets of 10 at the bucket end, scores non-increasing inside a bucket */
    for (int b = 0; b < 30; b++) {
        double prev = 1e300;
        for (int k = 0; k < 10; k++) {
            const char *r = ranked[b * 10 + k];
            char t[32];
            snprintf(t, sizeof(t), "RANKED@00:00:%02d.000|", b + 1);
            assert_memory_equal(r, t, strlen(t));
            double sc = strtod(strrchr(r, '|') + 1, NULL);
            assert_true(sc <= prev);
            prev = sc;
        }
    }
    /* same seed, same output */
    run_e14(&h, again, ranked2);
    h_free(&h);
    assert_memory_equal(scores, again, sizeof(scores));
    assert_memory_equal(ranked, ranked2, sizeof(ranked));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(e1_filter),
        cmocka_unit_test(e2_case_like),
        cmocka_unit_test(e3_floor),
        cmocka_unit_test(e4_step),
        cmocka_unit_test(e5_sliding),
        cmocka_unit_test(e6_rows),
        cmocka_unit_test(e7_stagger),
        cmocka_unit_test(e8_topk),
        cmocka_unit_test(e9_reference_join),
        cmocka_unit_test(e11_chained),
        cmocka_unit_test(e12_errors),
        cmocka_unit_test(e13_functions),
        cmocka_unit_test(heartbeat_through_filter),
        cmocka_unit_test(distinct_union_subquery),
        cmocka_unit_test(order_by_bucket),
        cmocka_unit_test(arrival_time),
        cmocka_unit_test(e10_stream_join),
        cmocka_unit_test(more_aggregates),
        cmocka_unit_test(rowtime_promotion),
        cmocka_unit_test(bounded_topk_distinct),
        cmocka_unit_test(rcf_explanation),
        cmocka_unit_test(hotspots),
        cmocka_unit_test(lag_nth_value),
        cmocka_unit_test(e14_random_cut_forest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
