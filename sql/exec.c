/* The application runtime: compiling code into a graph, pushing rows and heartbeats through
 * it, reference tables, and error_stream rows.
 *
 * Dataflow is synchronous and depth-first: sl_sql_app_push() inserts a row into an input
 * stream; sl_sql_stream_insert() hands it to the sink (public streams) and to every pump
 * reading the stream; a pump evaluates it (join, WHERE, OVER windows or grouping, select
 * items, assignment to the target's column types) and inserts its output into its target,
 * and so on. Because input ROWTIMEs never go back and every pump emits in ROWTIME order,
 * readers see each stream in ROWTIME order.
 *
 * Progress: each stream has a clock (the greatest ROWTIME promised). A row at t first lets the
 * pump close windows that end at or before t, then is processed, then the pump's clock is t.
 * A heartbeat (sl_sql_app_clock) advances the inputs' clocks; a pump forwards progress to its
 * target as the minimum clock over the target's writers, so several pumps writing one stream
 * hold it back to the slowest, and filters forward progress even when they drop rows.
 *
 * Row errors: evaluation failures go to error_stream with the pump's name and the input row as
 * JSON (hex), and the row is dropped; the application keeps running. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

#include <regex.h>

int sl_sql_compile(const char *code, size_t len, const sl_sql_env *env, sl_sql_app **out,
                   sl_diag *d)
{
    if (len > 102400)
        return sl_diag_set(d, SL_ETOOBIG, 0, "application code is longer than 102400 characters");
    sl_sql_app *app = calloc(1, sizeof(*app));
    if (!app)
        return SL_ENOMEM;
    sl_stmt *st;
    size_t n;
    sl_diag dd;
    if (!d)
        d = &dd;
    int rc = sl_sql_parse(code, len, &app->arena, &st, &n, d);
    if (!rc)
        rc = sl_sql_plan(app, code, len, st, n, env, d);
    if (rc) {
        sl_sql_app_free(app);
        return rc;
    }
    app->seed = env->seed;
    *out = app;
    return 0;
}

void sl_sql_app_free(sl_sql_app *app)
{
    if (!app)
        return;
    for (size_t k = 0; k < app->n_pumps; k++) {
        sl_pump *p = app->pumps[k];
        sl_sql_window_free(p);
        sl_sql_fn_free(p);
        sl_sql_join_free(p);
        sl_arena_free(&p->scratch);
    }
    for (size_t k = 0; k < app->n_tables; k++)
        free(app->tables[k].blob);
    for (size_t k = 0; k < app->n_regexes; k++)
        regfree(app->regexes[k]);
    for (size_t k = 0; k < app->n_logparsers; k++)
        sl_sql_logparse_free(app->logparsers[k]);
    sl_arena_free(&app->arena);
    free(app);
}

void sl_sql_app_set_sink(sl_sql_app *app, sl_sql_sink sink, void *ud)
{
    app->sink = sink;
    app->sink_ud = ud;
}

size_t sl_sql_app_n_streams(const sl_sql_app *app)
{
    return app->n_pub;
}

const sl_sql_relation *sl_sql_app_stream(const sl_sql_app *app, size_t i, int *kind)
{
    if (i >= app->n_pub)
        return NULL;
    if (kind)
        *kind = app->pub[i]->kind;
    return &app->pub[i]->rel;
}

int sl_sql_app_find_stream(const sl_sql_app *app, const char *name)
{
    for (size_t k = 0; k < app->n_pub; k++)
        if (!strcmp(app->pub[k]->rel.name, name))
            return (int)k;
    return SL_ENOTFOUND;
}

int sl_sql_app_load_table(sl_sql_app *app, size_t t, const sl_sql_value *rows, size_t n_rows)
{
    if (t >= app->n_tables)
        return SL_EINVAL;
    sl_table *tb = &app->tables[t];
    size_t nc = tb->rel.n_cols;
    sl_sql_value *copy = NULL;
    if (n_rows && nc) {
        copy = sl_sql_values_dup(rows, n_rows * nc);
        if (!copy)
            return SL_ENOMEM;
    }
    free(tb->blob);
    tb->blob = copy;
    tb->rows = copy;
    tb->n_rows = copy ? n_rows : 0;
    return 0;
}

/* ---- error rows ------------------------------------------------------------------------- */

static void hex_of(sl_arena *a, const void *p, size_t n, sl_sql_value *out)
{
    static const char hx[] = "0123456789ABCDEF";
    char *o = sl_arena_alloc(a, n * 2 + 1);
    memset(out, 0, sizeof(*out));
    out->type = SL_SQL_VARCHAR;
    if (!o) {
        out->is_null = 1;
        return;
    }
    for (size_t k = 0; k < n; k++) {
        o[2 * k] = hx[((const unsigned char *)p)[k] >> 4];
        o[2 * k + 1] = hx[((const unsigned char *)p)[k] & 15];
    }
    out->u.s = o;
    out->len = (uint32_t)(n * 2 > 49152 ? 49152 : n * 2);
}

static void str_val(sl_sql_value *v, const char *s)
{
    memset(v, 0, sizeof(*v));
    v->type = SL_SQL_VARCHAR;
    if (!s) {
        v->is_null = 1;
        return;
    }
    v->u.s = s;
    v->len = (uint32_t)strlen(s);
}

static void error_row(sl_sql_app *app, sl_arena *a, int64_t rowtime, const char *name,
                      const char *msg, const void *data, size_t data_len, const char *pump)
{
    sl_sql_value v[7];
    memset(v, 0, sizeof(v));
    v[0].type = SL_SQL_TIMESTAMP;
    v[0].u.i = rowtime;
    str_val(&v[1], "ERROR");
    str_val(&v[2], name);
    str_val(&v[3], msg && *msg ? msg : name);
    v[4].type = SL_SQL_TIMESTAMP;
    v[4].u.i = rowtime;
    hex_of(a, data, data_len, &v[5]);
    str_val(&v[6], pump);
    sl_sql_stream_insert(app, app->error_stream, rowtime, v);
}

void sl_sql_pump_error(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row,
                       const sl_eval *ev)
{
    sl_buf js = SL_BUF_INIT;
    if (row)
        sl_sql_row_json(&js, &p->source->rel, row);
    error_row(app, &p->scratch, rowtime, ev->err_name ? ev->err_name : "FunctionError", ev->err_msg,
              js.data ? js.data : "", js.len, p->name ? p->name : "(internal pump)");
    sl_buf_cleanup(&js);
}

int sl_sql_app_input_error(sl_sql_app *app, int64_t rowtime_ms, const char *name,
                           const char *message, const void *raw, size_t raw_len)
{
    sl_arena a = {0};
    error_row(app, &a, rowtime_ms, name, message, raw, raw_len, NULL);
    sl_arena_free(&a);
    return 0;
}

/* ---- dataflow --------------------------------------------------------------------------- */

static void pump_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row);
static void pump_advance(sl_sql_app *app, sl_pump *p, int64_t clock);

void sl_sql_stream_insert(sl_sql_app *app, sl_stream *s, int64_t rowtime, const sl_sql_value *vals)
{
    if (rowtime > s->last_rowtime)
        s->last_rowtime = rowtime;
    if (s->public_idx >= 0 && s->kind != 0 && app->sink)
        app->sink(app->sink_ud, s->public_idx, rowtime, vals, s->rel.n_cols);
    for (size_t k = 0; k < s->n_readers; k++)
        pump_row(app, s->readers[k], rowtime, vals);
}

void sl_sql_stream_advance(sl_sql_app *app, sl_stream *s, int64_t clock)
{
    if (clock <= s->clock)
        return;
    s->clock = clock;
    for (size_t k = 0; k < s->n_readers; k++)
        pump_advance(app, s->readers[k], clock);
}

static void forward_progress(sl_sql_app *app, sl_pump *p)
{
    sl_stream *t = p->target;
    int64_t m = INT64_MAX;
    for (size_t k = 0; k < t->n_writers; k++)
        if (t->writers[k]->clock < m)
            m = t->writers[k]->clock;
    if (m != INT64_MAX && m != INT64_MIN)
        sl_sql_stream_advance(app, t, m);
}

static void close_windows(sl_sql_app *app, sl_pump *p, int64_t clock)
{
    if (p->mode == P_TUMBLE || p->mode == P_STAGGER || p->mode == P_ORDER)
        sl_sql_window_advance(app, p, clock);
    else if (p->mode == P_TOPK || p->mode == P_CDISTINCT)
        sl_sql_fn_advance(app, p, clock);
}

/* Stream joins: the join's promised clock after progress on either side. */
static void join_forward(sl_sql_app *app, sl_pump *j, int64_t left, int64_t right)
{
    int64_t c = sl_sql_join_progress(app, j, left, right);
    if (c > j->clock) {
        j->clock = c;
        forward_progress(app, j);
    }
}

static void pump_advance(sl_sql_app *app, sl_pump *p, int64_t clock)
{
    if (p->mode == P_JOINSIDE) {
        if (clock > p->clock) {
            p->clock = clock;
            join_forward(app, p->peer, INT64_MIN, clock);
        }
        return;
    }
    if (p->mode == P_SJOIN) {
        join_forward(app, p, clock, INT64_MIN);
        return;
    }
    if (clock <= p->clock || p->promote)
        return; /* heartbeats do not move a promoting pump (see pump_row) */
    close_windows(app, p, clock);
    p->clock = clock;
    forward_progress(app, p);
}

/* Everything after the join: WHERE, then the mode's work. */
void sl_sql_pump_stage(sl_sql_app *app, sl_pump *p, sl_eval *ev, const sl_sql_value *row)
{
    if (p->where) {
        sl_sql_value w;
        if (sl_sql_eval(ev, p->where, &w))
            goto fail;
        if (w.is_null || !w.u.i)
            return;
    }
    if (p->mode == P_TUMBLE || p->mode == P_STAGGER) {
        int rc = sl_sql_group_row(app, p, ev);
        if (rc == -1)
            goto fail;
        return;
    }
    sl_sql_value *aggs = NULL;
    if (p->n_windows) {
        aggs = sl_arena_alloc(&p->scratch, p->n_aggs * sizeof(*aggs));
        if (!aggs)
            return;
        int rc = sl_sql_over_row(app, p, ev, aggs);
        if (rc == -1)
            goto fail;
        if (rc)
            return;
        ev->aggs = aggs;
    }
    sl_sql_value *out = sl_arena_alloc(&p->scratch, (p->n_items + p->n_order + 1) * sizeof(*out));
    if (!out)
        return;
    for (uint32_t k = 0; k < p->n_items; k++) {
        sl_sql_value v;
        if (sl_sql_eval(ev, p->items[k], &v) ||
            sl_sql_assign(ev, &v, &p->target->rel.cols[k].type, &out[k]))
            goto fail;
    }
    if (p->mode == P_ORDER) {
        for (uint32_t k = 0; k < p->n_order; k++)
            if (sl_sql_eval(ev, p->order[k].expr, &out[p->n_items + k]))
                goto fail;
        sl_sql_order_row(app, p, out);
        return;
    }
    int64_t rt = ev->rowtime;
    if (p->promote) {
        sl_sql_value v;
        if (sl_sql_eval(ev, p->promote, &v))
            goto fail;
        if (v.is_null) {
            ev->err_name = "NullViolation";
            snprintf(ev->err_msg, sizeof(ev->err_msg), "the item promoted AS ROWTIME is NULL");
            goto fail;
        }
        if (v.u.i < p->target->last_rowtime) {
            ev->err_name = "RowtimeOutOfOrder";
            snprintf(ev->err_msg, sizeof(ev->err_msg),
                     "promoted ROWTIME is earlier than the last ROWTIME of stream %s",
                     p->target->rel.name);
            goto fail;
        }
        rt = v.u.i;
        if (rt > p->promoted_max)
            p->promoted_max = rt;
    }
    sl_sql_stream_insert(app, p->target, rt, out);
    return;
fail:
    sl_sql_pump_error(app, p, ev->rowtime, row, ev);
}

static void pump_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    if (p->mode == P_JOINSIDE) {
        sl_sql_join_right_row(app, p->peer, rowtime, row);
        if (rowtime > p->clock)
            p->clock = rowtime;
        join_forward(app, p->peer, INT64_MIN, rowtime);
        return;
    }
    if (p->mode == P_SJOIN) {
        sl_sql_join_left_row(app, p, rowtime, row);
        join_forward(app, p, rowtime, INT64_MIN);
        return;
    }
    if (rowtime > p->clock)
        close_windows(app, p, rowtime);
    sl_arena_reset(&p->scratch);
    if (p->mode == P_TOPK || p->mode == P_CDISTINCT || p->mode == P_RCF || p->mode == P_HOTSPOTS) {
        sl_sql_fn_row(app, p, rowtime, row);
    } else {
        sl_eval ev = {.row = row,
                      .rowtime = rowtime,
                      .out_rowtime = rowtime,
                      .arrival = p->source->kind == 0 ? app->cur_arrival : rowtime,
                      .scratch = &p->scratch};
        if (p->table) {
            int matched = 0;
            const sl_table *t = p->table;
            for (size_t r = 0; r < t->n_rows; r++) {
                ev.jrow = t->rows + r * t->rel.n_cols;
                sl_sql_value on;
                if (sl_sql_eval(&ev, p->on, &on)) {
                    sl_sql_pump_error(app, p, rowtime, row, &ev);
                    goto done;
                }
                if (on.is_null || !on.u.i)
                    continue;
                matched = 1;
                sl_sql_pump_stage(app, p, &ev, row);
            }
            if (!matched && p->left_join) {
                ev.jrow = NULL;
                sl_sql_pump_stage(app, p, &ev, row);
            }
        } else {
            sl_sql_pump_stage(app, p, &ev, row);
        }
    }
done:;
    /* a promoting pump promises only what it has emitted: its rows carry their own times */
    int64_t c = p->promote ? p->promoted_max : rowtime;
    if (c > p->clock) {
        p->clock = c;
        forward_progress(app, p);
    }
}

int sl_sql_app_push(sl_sql_app *app, size_t input, int64_t rowtime_ms, const sl_sql_value *vals)
{
    return sl_sql_app_push_arrival(app, input, rowtime_ms, rowtime_ms, vals);
}

int sl_sql_app_push_arrival(sl_sql_app *app, size_t input, int64_t rowtime_ms, int64_t arrival_ms,
                            const sl_sql_value *vals)
{
    app->cur_arrival = arrival_ms;
    if (input >= app->n_pub || app->pub[input]->kind != 0)
        return SL_EINVAL;
    sl_stream *s = app->pub[input];
    if (rowtime_ms < s->clock)
        rowtime_ms = s->clock;
    if (rowtime_ms < s->last_rowtime)
        rowtime_ms = s->last_rowtime;
    sl_sql_stream_insert(app, s, rowtime_ms, vals);
    sl_sql_stream_advance(app, s, rowtime_ms);
    return 0;
}

int sl_sql_app_clock(sl_sql_app *app, int64_t now_ms)
{
    for (size_t k = 0; k < app->n_pub; k++)
        if (app->pub[k]->kind == 0)
            sl_sql_stream_advance(app, app->pub[k], now_ms);
    return 0;
}
