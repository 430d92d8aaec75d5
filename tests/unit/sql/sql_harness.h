/* Helpers for the SQL engine tests: build an input stream from "NAME TYPE, ..." text, push
 * JSON-free rows given as '|'-separated text at "HH:MM:SS.mmm" ROWTIMEs (date 2024-01-15),
 * collect what the sink receives as text lines "STREAM@HH:MM:SS.mmm|v1|v2...", and compare
 * with expected lines (numbers with relative tolerance 1e-9, as the spec's examples say).
 * Header-only so each test stays one executable. */
#ifndef SL_SQL_HARNESS_H
#define SL_SQL_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/sql.h"

#define H_MAX_COLS 16
#define H_MAX_OUT  1024

typedef struct harness {
    sl_sql_column cols[H_MAX_COLS];
    char names[H_MAX_COLS][64];
    size_t n_cols;
    sl_sql_column tcols[H_MAX_COLS];
    char tnames[H_MAX_COLS][64];
    size_t n_tcols;
    char *out[H_MAX_OUT];
    size_t n_out;
    sl_sql_app *app;
    sl_diag d;
} harness;

static inline int64_t h_day_ms(void)
{
    int64_t ms;
    sl_sql_parse_timestamp("2024-01-15", 10, &ms);
    return ms;
}

/* "10:00:05.000" or "10:00:05" -> epoch ms on 2024-01-15. */
static inline int64_t h_time(const char *t)
{
    unsigned h = 0, m = 0, s = 0, ms = 0;
    sscanf(t, "%u:%u:%u.%u", &h, &m, &s, &ms);
    return h_day_ms() + ((int64_t)h * 3600 + m * 60 + s) * 1000 + ms;
}

static inline void h_parse_cols(const char *spec, sl_sql_column *cols, char (*names)[64], size_t *n)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", spec);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        char *sp = strchr(tok, ' ');
        *sp = 0;
        snprintf(names[*n], 64, "%s", tok);
        cols[*n].name = names[*n];
        if (sl_sql_type_parse(sp + 1, &cols[*n].type))
            abort();
        (*n)++;
    }
}

static inline void h_sink(void *ud, int stream, int64_t rowtime, const sl_sql_value *vals, size_t n)
{
    harness *h = ud;
    const sl_sql_relation *rel = sl_sql_app_stream(h->app, (size_t)stream, NULL);
    sl_buf b = SL_BUF_INIT;
    int64_t tod = rowtime - h_day_ms();
    sl_buf_printf(&b, "%s@%02lld:%02lld:%02lld.%03lld", rel->name, (long long)(tod / 3600000),
                  (long long)(tod / 60000 % 60), (long long)(tod / 1000 % 60),
                  (long long)(tod % 1000));
    for (size_t k = 0; k < n; k++) {
        sl_buf_append_byte(&b, '|');
        sl_buf c = SL_BUF_INIT;
        sl_sql_relation one = {.name = "x", .cols = &rel->cols[k], .n_cols = 1};
        sl_sql_row_csv(&c, &one, &vals[k]);
        if (vals[k].is_null)
            sl_buf_append_str(&b, "NULL");
        else
            sl_buf_append(&b, c.data, c.len - 1);
        sl_buf_cleanup(&c);
    }
    if (h->n_out < H_MAX_OUT)
        h->out[h->n_out++] = sl_buf_steal(&b, NULL);
    else
        sl_buf_cleanup(&b);
}

/* Compiles code over input "SOURCE_SQL_STREAM_001" with columns spec and an optional reference
 * table. Returns the compile result. */
static inline int h_compile(harness *h, const char *spec, const char *table_name, const char *tspec,
                            const char *code)
{
    memset(h, 0, sizeof(*h));
    h_parse_cols(spec, h->cols, h->names, &h->n_cols);
    sl_sql_relation in = {.name = "SOURCE_SQL_STREAM_001", .cols = h->cols, .n_cols = h->n_cols};
    sl_sql_relation tb = {0};
    sl_sql_env env = {.inputs = &in, .n_inputs = 1, .seed = 1};
    if (table_name) {
        h_parse_cols(tspec, h->tcols, h->tnames, &h->n_tcols);
        tb.name = table_name;
        tb.cols = h->tcols;
        tb.n_cols = h->n_tcols;
        env.tables = &tb;
        env.n_tables = 1;
    }
    int rc = sl_sql_compile(code, strlen(code), &env, &h->app, &h->d);
    if (!rc)
        sl_sql_app_set_sink(h->app, h_sink, h);
    return rc;
}

/* Text fields -> typed values ("NULL" is NULL) for the given columns. */
static inline void h_values(const sl_sql_column *cols, size_t n, const char *fields,
                            sl_sql_value *v, char *store)
{
    strcpy(store, fields);
    char *p = store;
    for (size_t k = 0; k < n; k++) {
        char *bar = strchr(p, '|');
        if (bar)
            *bar = 0;
        memset(&v[k], 0, sizeof(v[k]));
        v[k].type = cols[k].type.id;
        if (!strcmp(p, "NULL")) {
            v[k].is_null = 1;
        } else {
            switch (cols[k].type.id) {
            case SL_SQL_CHAR:
            case SL_SQL_VARCHAR: {
                size_t l = strlen(p);
                if (cols[k].type.len && l > cols[k].type.len)
                    l = cols[k].type.len; /* input truncation */
                v[k].u.s = p;
                v[k].len = (uint32_t)l;
                break;
            }
            case SL_SQL_REAL:
            case SL_SQL_DOUBLE:
            case SL_SQL_DECIMAL:
                v[k].u.d = strtod(p, NULL);
                break;
            case SL_SQL_TIMESTAMP:
            case SL_SQL_DATE:
                sl_sql_parse_timestamp(p, strlen(p), &v[k].u.i);
                break;
            case SL_SQL_BOOLEAN:
                v[k].u.i = !strcmp(p, "true");
                break;
            default:
                v[k].u.i = strtoll(p, NULL, 10);
            }
        }
        p = bar ? bar + 1 : p + strlen(p);
    }
}

static inline void h_push(harness *h, const char *t, const char *fields)
{
    sl_sql_value v[H_MAX_COLS];
    char store[1024];
    h_values(h->cols, h->n_cols, fields, v, store);
    if (sl_sql_app_push(h->app, 0, h_time(t), v))
        abort();
}

static inline void h_load_table(harness *h, const char *const *rows, size_t n)
{
    sl_sql_value *v = calloc(n * h->n_tcols + 1, sizeof(*v));
    char(*store)[256] = calloc(n + 1, 256);
    for (size_t r = 0; r < n; r++)
        h_values(h->tcols, h->n_tcols, rows[r], v + r * h->n_tcols, store[r]);
    if (sl_sql_app_load_table(h->app, 0, v, n))
        abort();
    free(v);
    free(store);
}

static inline int h_field_eq(const char *a, const char *b)
{
    if (!strcmp(a, b))
        return 1;
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (*a && *b && !*ea && !*eb)
        return fabs(x - y) <= 1e-9 * fmax(fabs(x), fabs(y));
    return 0;
}

static inline int h_line_eq(const char *a, const char *b)
{
    char x[2048], y[2048];
    snprintf(x, sizeof(x), "%s", a);
    snprintf(y, sizeof(y), "%s", b);
    char *sx = NULL, *sy = NULL;
    char *fx = strtok_r(x, "|", &sx), *fy = strtok_r(y, "|", &sy);
    while (fx && fy) {
        if (!h_field_eq(fx, fy))
            return 0;
        fx = strtok_r(NULL, "|", &sx);
        fy = strtok_r(NULL, "|", &sy);
    }
    return !fx && !fy;
}

/* Lines of stream `name` ("NAME@...") in emission order must equal expected (NULL-terminated).
 * Prints both on mismatch. Returns 1 when equal. */
static inline int h_expect(harness *h, const char *name, const char *const *expected)
{
    size_t pre = strlen(name);
    size_t e = 0;
    int ok = 1;
    for (size_t k = 0; k < h->n_out; k++) {
        if (strncmp(h->out[k], name, pre) || h->out[k][pre] != '@')
            continue;
        if (!expected[e] || !h_line_eq(h->out[k] + pre + 1, expected[e])) {
            fprintf(stderr, "row %zu of %s: got  %s\n              want %s\n", e, name,
                    h->out[k] + pre + 1, expected[e] ? expected[e] : "(nothing)");
            ok = 0;
        }
        if (expected[e])
            e++;
    }
    for (; expected[e]; e++) {
        fprintf(stderr, "missing row %zu of %s: %s\n", e, name, expected[e]);
        ok = 0;
    }
    return ok;
}

static inline void h_free(harness *h)
{
    for (size_t k = 0; k < h->n_out; k++)
        free(h->out[k]);
    sl_sql_app_free(h->app);
    h->app = NULL;
    h->n_out = 0;
}

/* The D1 data set of spec §3 and its closing heartbeat. */
#define D1_SPEC "TICKER_SYMBOL VARCHAR(4), SECTOR VARCHAR(16), CHANGE DOUBLE, PRICE DOUBLE"
static const char *const d1_rows[][2] = {
    {"10:00:05.000", "AMZN|TECHNOLOGY|1.50|101.50"},
    {"10:00:12.000", "TGT|RETAIL|-0.20|50.00"},
    {"10:00:20.000", "AMZN|TECHNOLOGY|-0.50|101.00"},
    {"10:00:35.000", "XOM|ENERGY|0.10|80.10"},
    {"10:00:48.000", "TGT|RETAIL|0.60|50.60"},
    {"10:00:59.999", "AMZN|TECHNOLOGY|2.00|103.00"},
    {"10:01:00.000", "XOM|ENERGY|-2.10|78.00"},
    {"10:01:10.000", "AMZN|TECHNOLOGY|0.00|103.00"},
    {"10:01:25.000", "TGT|RETAIL|-1.60|49.00"},
    {"10:01:40.000", "AMZN|TECHNOLOGY|-3.00|100.00"},
    {"10:02:00.000", "XOM|ENERGY|0.50|78.50"},
    {"10:02:30.000", "TGT|RETAIL|0.25|49.25"},
};

static inline void h_push_d1(harness *h, size_t upto)
{
    for (size_t k = 0; k < upto && k < 12; k++)
        h_push(h, d1_rows[k][0], d1_rows[k][1]);
}

#endif
