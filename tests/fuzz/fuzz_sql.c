/* libFuzzer target for the SQL engine: the input is application code, compiled against one
 * input stream (D1's columns) and one reference table. Code that compiles is run over a few
 * rows and a heartbeat, so the planner's output is executed too. Invariants: no crash, no
 * leak, and a failed compile always explains itself with "line L, column C: ...". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *ud, int stream, int64_t rowtime, const sl_sql_value *vals, size_t n)
{
    (void)stream;
    (void)rowtime;
    sl_buf *b = ud;
    sl_sql_relation rel = {.name = "x", .cols = NULL, .n_cols = 0};
    (void)rel;
    for (size_t k = 0; k < n; k++)
        if (!vals[k].is_null && (vals[k].type == SL_SQL_VARCHAR || vals[k].type == SL_SQL_CHAR))
            sl_buf_append(b, vals[k].u.s, vals[k].len);
    sl_buf_reset(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sl_sql_column cols[] = {
        {"TICKER_SYMBOL", {SL_SQL_VARCHAR, 0, 0, 4}},
        {"SECTOR", {SL_SQL_VARCHAR, 0, 0, 16}},
        {"CHANGE", {SL_SQL_DOUBLE, 0, 0, 0}},
        {"PRICE", {SL_SQL_DOUBLE, 0, 0, 0}},
    };
    static const sl_sql_column tcols[] = {
        {"sym", {SL_SQL_VARCHAR, 0, 0, 4}},
        {"name", {SL_SQL_VARCHAR, 0, 0, 20}},
    };
    sl_sql_relation in = {.name = "SOURCE_SQL_STREAM_001", .cols = cols, .n_cols = 4};
    sl_sql_relation tb = {.name = "Companies", .cols = tcols, .n_cols = 2};
    sl_sql_env env = {.inputs = &in, .n_inputs = 1, .tables = &tb, .n_tables = 1, .seed = 1};
    sl_sql_app *app = NULL;
    sl_diag d;
    memset(&d, 0, sizeof(d));
    int rc = sl_sql_compile((const char *)data, size, &env, &app, &d);
    if (rc) {
        if ((rc == SL_EPARSE || rc == SL_EINVAL) && strncmp(d.text, "line ", 5) != 0)
            abort();
        return 0;
    }
    sl_buf b = SL_BUF_INIT;
    sl_sql_app_set_sink(app, sink, &b);
    sl_sql_value t[2] = {{.type = SL_SQL_VARCHAR, .len = 4, .u.s = "AMZN"},
                         {.type = SL_SQL_VARCHAR, .len = 6, .u.s = "Amazon"}};
    sl_sql_app_load_table(app, 0, t, 1);
    static const char *const tick[] = {"AMZN", "TGT", "XOM"};
    for (int k = 0; k < 6; k++) {
        sl_sql_value v[4] = {
            {.type = SL_SQL_VARCHAR, .len = (uint32_t)strlen(tick[k % 3]), .u.s = tick[k % 3]},
            {.type = SL_SQL_VARCHAR, .len = 6, .u.s = "RETAIL"},
            {.type = SL_SQL_DOUBLE, .u.d = k - 2.5},
            {.type = SL_SQL_DOUBLE, .u.d = k % 2 ? 0.0 : 100.0 + k},
        };
        if (k == 4)
            v[1].is_null = 1;
        sl_sql_app_push(app, 0, 1705312800000 + k * 20000, v);
    }
    sl_sql_app_clock(app, 1705312800000 + 3600000);
    sl_buf_cleanup(&b);
    sl_sql_app_free(app);
    return 0;
}
