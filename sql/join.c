/* Stream-to-stream windowed joins (spec §2.6):
 *
 *   FROM d JOIN w OVER (RANGE INTERVAL 'n' unit PRECEDING|FOLLOWING) AS x ON ...
 *
 * The stream without a window (d, the pump's source) drives; the windowed stream w reaches the
 * join through a helper reader (P_JOINSIDE). A driving row at t matches the w rows with
 * ROWTIME in [t - n, t] (PRECEDING) or [t, t + n] (FOLLOWING). Its results are released once
 * w's clock is strictly past the window's end (t, or t + n), in driving order, all with
 * ROWTIME = t; a LEFT join emits the driving row with NULLs when nothing matched. State is
 * bounded: w rows are kept only while a pending or future driving row can still reach them,
 * and driving rows only until their window has closed. The clock the join promises downstream
 * is the smaller of the driving side's clock and the oldest pending driving row. */
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

typedef struct jrow {
    int64_t rowtime;
    sl_sql_value *vals; /* owned copy */
} jrow;

typedef struct jqueue {
    jrow *v;
    size_t head, n, cap;
} jqueue;

struct sl_join_state {
    jqueue left, right;
    int64_t left_clock, right_clock;
};

static int q_push(jqueue *q, int64_t rowtime, const sl_sql_value *vals, size_t n)
{
    if (q->head + q->n == q->cap) {
        if (q->head) {
            memmove(q->v, q->v + q->head, q->n * sizeof(*q->v));
            q->head = 0;
        } else {
            size_t nc = q->cap ? q->cap * 2 : 16;
            jrow *nv = realloc(q->v, nc * sizeof(*nv));
            if (!nv)
                return SL_ENOMEM;
            q->v = nv;
            q->cap = nc;
        }
    }
    sl_sql_value *copy = sl_sql_values_dup(vals, n ? n : 1);
    if (!copy)
        return SL_ENOMEM;
    q->v[q->head + q->n].rowtime = rowtime;
    q->v[q->head + q->n].vals = copy;
    q->n++;
    return 0;
}

static void q_pop(jqueue *q)
{
    free(q->v[q->head].vals);
    q->head++;
    q->n--;
    if (!q->n)
        q->head = 0;
}

static struct sl_join_state *state(sl_pump *p)
{
    if (!p->jstate) {
        p->jstate = calloc(1, sizeof(*p->jstate));
        if (p->jstate)
            p->jstate->left_clock = p->jstate->right_clock = INT64_MIN;
    }
    return p->jstate;
}

/* Emits the results of the oldest pending driving row. */
static void release_one(sl_sql_app *app, sl_pump *p, struct sl_join_state *js)
{
    jrow *d = &js->left.v[js->left.head];
    int64_t n = p->jwin->size;
    int64_t lo = p->jwin->following ? d->rowtime : d->rowtime - n;
    int64_t hi = p->jwin->following ? d->rowtime + n : d->rowtime;
    sl_eval ev = {.row = d->vals,
                  .rowtime = d->rowtime,
                  .out_rowtime = d->rowtime,
                  .arrival = d->rowtime,
                  .scratch = &p->scratch};
    int matched = 0;
    for (size_t k = 0; k < js->right.n; k++) {
        const jrow *w = &js->right.v[js->right.head + k];
        if (w->rowtime < lo || w->rowtime > hi)
            continue;
        ev.jrow = w->vals;
        ev.jrowtime = w->rowtime;
        sl_sql_value on;
        if (sl_sql_eval(&ev, p->on, &on)) {
            sl_sql_pump_error(app, p, d->rowtime, d->vals, &ev);
            matched = 1; /* the error replaces this driving row's output */
            break;
        }
        if (on.is_null || !on.u.i)
            continue;
        matched = 1;
        sl_sql_pump_stage(app, p, &ev, d->vals);
    }
    if (!matched && p->left_join) {
        ev.jrow = NULL;
        sl_sql_pump_stage(app, p, &ev, d->vals);
    }
    q_pop(&js->left);
}

static void release(sl_sql_app *app, sl_pump *p, struct sl_join_state *js)
{
    int64_t n = p->jwin->following ? p->jwin->size : 0;
    sl_arena_reset(&p->scratch);
    while (js->left.n && js->right_clock > js->left.v[js->left.head].rowtime + n)
        release_one(app, p, js);
    /* windowed rows no pending or future driving row can reach */
    int64_t oldest = js->left.n ? js->left.v[js->left.head].rowtime : js->left_clock;
    if (oldest == INT64_MIN)
        return;
    int64_t keep_from = p->jwin->following ? oldest : oldest - p->jwin->size;
    while (js->right.n && js->right.v[js->right.head].rowtime < keep_from)
        q_pop(&js->right);
}

static int64_t promised(const struct sl_join_state *js)
{
    int64_t c = js->left_clock;
    if (js->left.n && js->left.v[js->left.head].rowtime < c)
        c = js->left.v[js->left.head].rowtime;
    return c;
}

void sl_sql_join_left_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    struct sl_join_state *js = state(p);
    if (!js || q_push(&js->left, rowtime, row, p->source->rel.n_cols))
        return;
    if (rowtime > js->left_clock)
        js->left_clock = rowtime;
    release(app, p, js);
}

void sl_sql_join_right_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    struct sl_join_state *js = state(p);
    if (!js || q_push(&js->right, rowtime, row, p->right->rel.n_cols))
        return;
    if (rowtime > js->right_clock)
        js->right_clock = rowtime;
    release(app, p, js);
}

int64_t sl_sql_join_progress(sl_sql_app *app, sl_pump *p, int64_t left_clock, int64_t right_clock)
{
    struct sl_join_state *js = state(p);
    if (!js)
        return p->clock;
    if (left_clock > js->left_clock)
        js->left_clock = left_clock;
    if (right_clock > js->right_clock)
        js->right_clock = right_clock;
    release(app, p, js);
    return promised(js);
}

void sl_sql_join_free(sl_pump *p)
{
    struct sl_join_state *js = p->jstate;
    if (!js)
        return;
    while (js->left.n)
        q_pop(&js->left);
    while (js->right.n)
        q_pop(&js->right);
    free(js->left.v);
    free(js->right.v);
    free(js);
    p->jstate = NULL;
}
