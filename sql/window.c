/* Window state of the aggregating pump modes, and the tuple hash table they share.
 *
 * Tumbling (P_TUMBLE): the ROWTIME-based key of a row names its window; one window is open at
 * a time because ROWTIME never goes back. Groups of the open window live in a hash table
 * (keyed by all grouping values) plus a first-seen array. When the pump's clock reaches the
 * window's close time (a row at or past it, or a heartbeat), every group is emitted in
 * first-seen order with ROWTIME = window end (FLOOR/STEP: start + size; CEIL/ROWTIME: the key
 * itself, closing once the clock passes it) and freed: state is bounded by one window.
 *
 * Stagger (P_STAGGER): per key tuple a window opens at its first row's ROWTIME o and closes at
 * o + n, emitting with ROWTIME o + n. All windows have the same length, so close times come
 * in opening order: a FIFO suffices instead of a heap.
 *
 * Sliding (OVER, in P_PROJECT): per window spec and partition, a FIFO of (ROWTIME, argument
 * values) for the rows in the frame: RANGE keeps rows with ROWTIME >= t - size (inclusive),
 * ROWS n keeps the last n + 1. Each input row is added, old rows are evicted, and the
 * aggregates are computed over the frame. Partitions that empty are dropped by a sweep that
 * runs when the clock has moved by a window length since the last sweep. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

/* ---- tuple hash table ------------------------------------------------------------------- */

uint64_t sl_gtab_hash(const sl_sql_value *keys, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t k = 0; k < n; k++)
        h = sl_sql_hash(&keys[k], h);
    return h;
}

static int keys_equal(const sl_sql_value *a, const sl_sql_value *b, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++)
        if (!sl_sql_equal(&a[k], &b[k]))
            return 0;
    return 1;
}

sl_gent *sl_gtab_find(sl_gtab *t, const sl_sql_value *keys, uint64_t h)
{
    if (!t->n_buckets)
        return NULL;
    for (sl_gent *e = t->buckets[h & (t->n_buckets - 1)]; e; e = e->next)
        if (e->hash == h && keys_equal(e->keys, keys, t->n_keys))
            return e;
    return NULL;
}

int sl_gtab_insert(sl_gtab *t, sl_gent *e)
{
    if (t->n + 1 > t->n_buckets) {
        size_t nb = t->n_buckets ? t->n_buckets * 2 : 64;
        sl_gent **b = calloc(nb, sizeof(*b));
        if (!b)
            return SL_ENOMEM;
        for (size_t k = 0; k < t->n_buckets; k++) {
            sl_gent *x = t->buckets[k];
            while (x) {
                sl_gent *nx = x->next;
                x->next = b[x->hash & (nb - 1)];
                b[x->hash & (nb - 1)] = x;
                x = nx;
            }
        }
        free(t->buckets);
        t->buckets = b;
        t->n_buckets = nb;
    }
    sl_gent **slot = &t->buckets[e->hash & (t->n_buckets - 1)];
    e->next = *slot;
    *slot = e;
    t->n++;
    return 0;
}

void sl_gtab_remove(sl_gtab *t, sl_gent *e)
{
    sl_gent **pp = &t->buckets[e->hash & (t->n_buckets - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = e->next;
        t->n--;
    }
}

void sl_gtab_clear(sl_gtab *t)
{
    if (t->n_buckets)
        memset(t->buckets, 0, t->n_buckets * sizeof(*t->buckets));
    t->n = 0;
}

void sl_gtab_free(sl_gtab *t)
{
    free(t->buckets);
    t->buckets = NULL;
    t->n_buckets = t->n = 0;
}

/* ---- aggregate accumulators ------------------------------------------------------------- */

typedef struct acc {
    int64_t n;
    int64_t isum;
    double dsum, comp; /* Kahan compensation */
    double sumsq;      /* STDDEV/VAR */
    uint8_t ovf;
    sl_sql_value mm; /* MIN/MAX so far (is_null until set) */
    char *mm_buf;    /* owned copy of a string MIN/MAX */
    uint32_t mm_cap;
    int64_t *ext; /* EXP_AVG in a group: the rows' ROWTIMEs and values (weighted at emit) */
    double *exv;
    size_t ex_n, ex_cap;
} acc;

static void acc_init(acc *a)
{
    memset(a, 0, sizeof(*a));
    a->mm.is_null = 1;
}

static void acc_cleanup(acc *a)
{
    free(a->mm_buf);
    free(a->ext);
    free(a->exv);
}

static double as_double(const sl_sql_value *v);

/* EXP_AVG over n (ROWTIME, value) pairs seen from time now: the SQL reference's sub-window
 * weighting -- ages are cut into half-life-long intervals counted back from now ([now-h, now]
 * is interval 0, then (now-2h, now-h], ...) and a value in interval i weighs 2^-i, so the most
 * recent interval counts twice the one before it. Intervals are counted from the youngest
 * row's, so weights never all underflow. n > 0. */
static double exp_avg_of(const int64_t *t, const double *x, size_t n, int64_t now, int64_t h)
{
    int64_t tmax = t[0];
    for (size_t k = 1; k < n; k++)
        if (t[k] > tmax)
            tmax = t[k];
    int64_t age0 = now - tmax; /* the youngest row's interval: the one weighing 1 */
    int64_t imin = age0 <= 0 ? 0 : (age0 - 1) / h;
    double ws = 0, s = 0;
    for (size_t k = 0; k < n; k++) {
        int64_t age = now - t[k];
        int64_t i = (age <= 0 ? 0 : (age - 1) / h) - imin;
        /* 2^-i: exact from an integer for the usual few intervals */
        double w = i < 64 ? (double)(UINT64_C(1) << (63 - i)) * 0x1p-63
                          : ldexp(1.0, i > 1100 ? -1100 : -(int)i);
        ws += w;
        s += w * x[k];
    }
    return s / ws;
}

/* Adds a row to a group's EXP_AVG (kept until the group is emitted). */
static int acc_add_exp(acc *a, const sl_sql_value *v, int64_t t)
{
    if (v->is_null)
        return 0;
    if (a->ex_n == a->ex_cap) {
        size_t nc = a->ex_cap ? a->ex_cap * 2 : 8;
        int64_t *nt = realloc(a->ext, nc * sizeof(*nt));
        if (!nt)
            return SL_ENOMEM;
        a->ext = nt;
        double *nv = realloc(a->exv, nc * sizeof(*nv));
        if (!nv)
            return SL_ENOMEM;
        a->exv = nv;
        a->ex_cap = nc;
    }
    a->ext[a->ex_n] = t;
    a->exv[a->ex_n++] = as_double(v);
    a->n++;
    return 0;
}

static int is_dbl_t(uint8_t t)
{
    return t == SL_SQL_REAL || t == SL_SQL_DOUBLE || t == SL_SQL_DECIMAL;
}

static double as_double(const sl_sql_value *v)
{
    return is_dbl_t(v->type) ? v->u.d : (double)v->u.i;
}

static int acc_add(acc *a, const sl_agg_slot *s, const sl_sql_value *v)
{
    if (s->fn == A_COUNT_STAR) {
        a->n++;
        return 0;
    }
    if (v->is_null)
        return 0;
    a->n++;
    switch (s->fn) {
    case A_STDDEV_POP:
    case A_STDDEV_SAMP:
    case A_VAR_POP:
    case A_VAR_SAMP: {
        double x = is_dbl_t(v->type) ? v->u.d : (double)v->u.i;
        a->dsum += x;
        a->sumsq += x * x;
        return 0;
    }
    case A_SUM:
    case A_AVG:
        if (is_dbl_t(v->type)) {
            double y = v->u.d - a->comp;
            double t = a->dsum + y;
            a->comp = (t - a->dsum) - y;
            a->dsum = t;
        } else if (__builtin_add_overflow(a->isum, v->u.i, &a->isum)) {
            a->ovf = 1;
        }
        return 0;
    case A_MIN:
    case A_MAX:
    case A_FIRST:
    case A_LAST: {
        int better = a->mm.is_null || s->fn == A_LAST;
        if (!better && s->fn != A_FIRST) {
            int c = sl_sql_compare(v, &a->mm);
            better = s->fn == A_MIN ? c < 0 : c > 0;
        }
        if (better) {
            a->mm = *v;
            if (sl_sql_type_is_string(v->type) || v->type == SL_SQL_BINARY ||
                v->type == SL_SQL_VARBINARY) {
                if (v->len + 1 > a->mm_cap) {
                    char *nb = realloc(a->mm_buf, v->len + 1);
                    if (!nb)
                        return SL_ENOMEM;
                    a->mm_buf = nb;
                    a->mm_cap = v->len + 1;
                }
                if (v->len)
                    memcpy(a->mm_buf, v->u.s, v->len);
                a->mm.u.s = a->mm_buf;
            }
        }
        return 0;
    }
    default:
        return 0;
    }
}

static int acc_final(sl_eval *ev, const acc *a, const sl_agg_slot *s, sl_sql_value *out)
{
    memset(out, 0, sizeof(*out));
    out->type = s->type.id;
    switch (s->fn) {
    case A_COUNT_STAR:
    case A_COUNT:
        out->u.i = a->n;
        return 0;
    case A_MIN:
    case A_MAX:
    case A_FIRST:
    case A_LAST:
        *out = a->mm;
        return 0;
    case A_STDDEV_POP:
    case A_STDDEV_SAMP:
    case A_VAR_POP:
    case A_VAR_SAMP: {
        int samp = s->fn == A_STDDEV_SAMP || s->fn == A_VAR_SAMP;
        if (a->n < (samp ? 2 : 1)) {
            out->is_null = 1;
            return 0;
        }
        double n = (double)a->n;
        double var = (a->sumsq - a->dsum * a->dsum / n) / (samp ? n - 1 : n);
        if (var < 0)
            var = 0; /* rounding */
        out->u.d = s->fn == A_STDDEV_POP || s->fn == A_STDDEV_SAMP ? sqrt(var) : var;
        return 0;
    }
    case A_EXP_AVG: /* a group's: weighted from the emitted row's time */
        if (!a->ex_n)
            out->is_null = 1;
        else
            out->u.d = exp_avg_of(a->ext, a->exv, a->ex_n, ev->out_rowtime, s->k);
        return 0;
    default:
        break;
    }
    if (!a->n) {
        out->is_null = 1;
        return 0;
    }
    if (a->ovf) {
        ev->err_name = "NumericOverflow";
        strcpy(ev->err_msg, "aggregate overflow");
        return -1;
    }
    int dbl_in = s->arg && is_dbl_t(s->arg->type.id);
    if (s->fn == A_SUM) {
        if (is_dbl_t(out->type))
            out->u.d = dbl_in ? a->dsum : (double)a->isum;
        else
            out->u.i = a->isum;
        return 0;
    }
    /* AVG */
    if (is_dbl_t(out->type))
        out->u.d = (dbl_in ? a->dsum : (double)a->isum) / (double)a->n;
    else
        out->u.i = a->isum / a->n;
    if (out->type == SL_SQL_REAL)
        out->u.d = (double)(float)out->u.d;
    return 0;
}

/* ---- groups (tumbling and stagger) ------------------------------------------------------ */

typedef struct group {
    sl_gent e;
    int64_t open, close, out_rowtime;
    acc accs[];
} group;

struct sl_group_state {
    sl_gtab tab;
    group **order; /* first-seen (tumble) or opening (stagger) order */
    size_t head, n, cap;
    int have;       /* tumble: a window is open */
    int64_t close;  /* tumble: the window closes when the clock reaches this */
    int64_t out_rt; /* tumble: ROWTIME of its rows */
    sl_sql_value mono;
    sl_sql_value *mono_copy; /* MONOTONIC keys: owned copy of the open window's value */
    sl_sql_value *keybuf;
    sl_sql_value *aggbuf;
};

static void group_free(sl_pump *p, group *g)
{
    for (uint32_t k = 0; k < p->n_aggs; k++)
        acc_cleanup(&g->accs[k]);
    free(g->e.keys);
    free(g);
}

static sl_group_state *gstate(sl_pump *p)
{
    if (!p->groups) {
        p->groups = calloc(1, sizeof(*p->groups));
        if (!p->groups)
            return NULL;
        p->groups->tab.n_keys = p->n_keys;
        p->groups->keybuf = calloc(p->n_keys + 1, sizeof(sl_sql_value));
        p->groups->aggbuf = calloc(p->n_aggs + 1, sizeof(sl_sql_value));
        if (!p->groups->keybuf || !p->groups->aggbuf)
            return NULL;
    }
    return p->groups;
}

/* Emits group g: HAVING, items, assignment, insert. */
static void emit_group(sl_sql_app *app, sl_pump *p, group *g, int64_t rowtime)
{
    sl_group_state *gs = p->groups;
    sl_eval ev = {.keys = g->e.keys,
                  .aggs = gs->aggbuf,
                  .out_rowtime = rowtime,
                  .rowtime = rowtime,
                  .scratch = &p->scratch};
    sl_sql_value *out = sl_arena_alloc(&p->scratch, (p->n_items + 1) * sizeof(*out));
    if (!out)
        return;
    for (uint32_t k = 0; k < p->n_aggs; k++)
        if (acc_final(&ev, &g->accs[k], &p->aggs[k], &gs->aggbuf[k]))
            goto fail;
    if (p->having) {
        sl_sql_value h;
        if (sl_sql_eval(&ev, p->having, &h))
            goto fail;
        if (h.is_null || !h.u.i)
            return;
    }
    for (uint32_t k = 0; k < p->n_items; k++) {
        sl_sql_value v;
        if (sl_sql_eval(&ev, p->items[k], &v) ||
            sl_sql_assign(&ev, &v, &p->target->rel.cols[k].type, &out[k]))
            goto fail;
    }
    sl_sql_stream_insert(app, p->target, rowtime, out);
    return;
fail:
    sl_sql_pump_error(app, p, rowtime, NULL, &ev);
}

static void tumble_flush(sl_sql_app *app, sl_pump *p)
{
    sl_group_state *gs = p->groups;
    if (!gs || !gs->have)
        return;
    int64_t rt = gs->out_rt;
    gs->have = 0;
    sl_arena_reset(&p->scratch);
    for (size_t k = 0; k < gs->n; k++) {
        emit_group(app, p, gs->order[k], rt);
        group_free(p, gs->order[k]);
    }
    gs->n = 0;
    sl_gtab_clear(&gs->tab);
}

static group *group_get(sl_pump *p, sl_group_state *gs, const sl_sql_value *keys, int *fresh)
{
    uint64_t h = sl_gtab_hash(keys, p->n_keys);
    group *g = (group *)sl_gtab_find(&gs->tab, keys, h);
    *fresh = 0;
    if (g)
        return g;
    g = calloc(1, sizeof(*g) + p->n_aggs * sizeof(acc));
    if (!g)
        return NULL;
    g->e.hash = h;
    g->e.keys = sl_sql_values_dup(keys, p->n_keys);
    if (!g->e.keys) {
        free(g);
        return NULL;
    }
    for (uint32_t k = 0; k < p->n_aggs; k++)
        acc_init(&g->accs[k]);
    if (gs->head + gs->n == gs->cap) {
        if (gs->head) {
            memmove(gs->order, gs->order + gs->head, gs->n * sizeof(*gs->order));
            gs->head = 0;
        } else {
            size_t nc = gs->cap ? gs->cap * 2 : 64;
            group **no = realloc(gs->order, nc * sizeof(*no));
            if (!no)
                goto oom;
            gs->order = no;
            gs->cap = nc;
        }
    }
    if (sl_gtab_insert(&gs->tab, &g->e))
        goto oom;
    gs->order[gs->head + gs->n++] = g;
    *fresh = 1;
    return g;
oom:
    group_free(p, g);
    return NULL;
}

static void stagger_close(sl_sql_app *app, sl_pump *p, int64_t clock)
{
    sl_group_state *gs = p->groups;
    if (!gs)
        return;
    while (gs->n && gs->order[gs->head]->close <= clock) {
        group *g = gs->order[gs->head];
        gs->head++;
        gs->n--;
        sl_gtab_remove(&gs->tab, &g->e);
        sl_arena_reset(&p->scratch);
        emit_group(app, p, g, g->close);
        group_free(p, g);
    }
    if (!gs->n)
        gs->head = 0;
}

/* Window bounds of a monotonic key value. */
static void mono_bounds(const sl_pump *p, int64_t key, int64_t *close, int64_t *out_rt)
{
    const sl_node *m = p->mono;
    if (m->kind == N_CALL) {
        /* MONOTONIC(expr): the window lasts until the key changes; its rows take the ROWTIME
         * of the row that changes it (set then), never a heartbeat */
        *close = INT64_MAX;
        *out_rt = key;
    } else if (m->kind == N_FLOOR) {
        *close = *out_rt = sl_sql_add_unit(key, m->unit, 1);
    } else if (m->kind == N_STEP) {
        *close = *out_rt = key + m->kids[1]->lit.u.i;
    } else { /* CEIL or ROWTIME itself: the key is the window's end */
        *out_rt = key;
        *close = key + 1;
    }
}

int sl_sql_group_row(sl_sql_app *app, sl_pump *p, sl_eval *ev)
{
    sl_group_state *gs = gstate(p);
    if (!gs)
        return SL_ENOMEM;
    for (uint32_t k = 0; k < p->n_keys; k++)
        if (sl_sql_eval(ev, p->keys[k], &gs->keybuf[k]))
            return -1;
    if (p->mode == P_TUMBLE) {
        const sl_sql_value *mv = &gs->keybuf[p->mono_pos];
        if (gs->have && !sl_sql_equal(mv, &gs->mono)) {
            if (p->mono->kind == N_CALL)
                gs->out_rt = ev->rowtime;
            tumble_flush(app, p);
            /* flush reset the scratch; re-evaluate the keys */
            for (uint32_t k = 0; k < p->n_keys; k++)
                if (sl_sql_eval(ev, p->keys[k], &gs->keybuf[k]))
                    return -1;
        }
        if (!gs->have) {
            gs->have = 1;
            gs->mono = *mv; /* ROWTIME keys are timestamps: no string to keep */
            if (p->mono->kind == N_CALL) {
                sl_sql_value *c = sl_sql_values_dup(mv, 1);
                if (!c)
                    return SL_ENOMEM;
                free(gs->mono_copy);
                gs->mono_copy = c;
                gs->mono = *c;
            }
            mono_bounds(p, mv->u.i, &gs->close, &gs->out_rt);
        }
    }
    int fresh;
    group *g = group_get(p, gs, gs->keybuf, &fresh);
    if (!g)
        return SL_ENOMEM;
    if (fresh && p->mode == P_STAGGER) {
        g->open = ev->rowtime;
        g->close = ev->rowtime + p->stagger_ms;
    }
    for (uint32_t k = 0; k < p->n_aggs; k++) {
        sl_sql_value v = {.is_null = 1};
        if (p->aggs[k].arg && sl_sql_eval(ev, p->aggs[k].arg, &v))
            return -1;
        if (p->aggs[k].fn == A_EXP_AVG ? acc_add_exp(&g->accs[k], &v, ev->rowtime)
                                       : acc_add(&g->accs[k], &p->aggs[k], &v))
            return SL_ENOMEM;
    }
    return 0;
}

/* ---- streaming ORDER BY ------------------------------------------------------------------- */

struct sl_order_state {
    sl_sql_value **rows; /* deep copies: n_items output values then n_order keys */
    size_t n, cap;
    int have;
    sl_sql_value mono;
    int64_t close, out_rt;
};

typedef struct sorted_row {
    sl_sql_value *row;
    size_t seq;
} sorted_row;

static int cmp_sorted(const void *x, const void *y, void *arg)
{
    const sl_pump *p = arg;
    const sorted_row *ra = x, *rb = y;
    for (uint32_t k = 1; k < p->n_order; k++) {
        const sl_sql_value *u = &ra->row[p->n_items + k], *v = &rb->row[p->n_items + k];
        int c;
        if (u->is_null || v->is_null)
            c = u->is_null == v->is_null ? 0 : u->is_null ? -1 : 1; /* NULLs first */
        else
            c = sl_sql_compare(u, v);
        if (c)
            return p->order[k].desc ? -c : c;
    }
    return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

static void order_flush(sl_sql_app *app, sl_pump *p)
{
    struct sl_order_state *os = p->ostate;
    if (!os || !os->have)
        return;
    os->have = 0;
    size_t n = os->n;
    sl_sql_value **rows = os->rows;
    /* stable sort: ties keep arrival order (seq) */
    sorted_row *v = malloc((n + 1) * sizeof(*v));
    if (v) {
        for (size_t i = 0; i < n; i++) {
            v[i].row = rows[i];
            v[i].seq = i;
        }
        qsort_r(v, n, sizeof(*v), cmp_sorted, p);
        for (size_t i = 0; i < n; i++)
            rows[i] = v[i].row;
        free(v);
    }
    os->n = 0;
    for (size_t i = 0; i < n; i++) {
        sl_sql_stream_insert(app, p->target, os->out_rt, rows[i]);
        free(rows[i]);
    }
}

int sl_sql_order_row(sl_sql_app *app, sl_pump *p, const sl_sql_value *vals)
{
    if (!p->ostate && !(p->ostate = calloc(1, sizeof(*p->ostate))))
        return SL_ENOMEM;
    struct sl_order_state *os = p->ostate;
    const sl_sql_value *mv = &vals[p->n_items];
    if (mv->is_null)
        return 0;
    if (os->have && !sl_sql_equal(mv, &os->mono))
        order_flush(app, p);
    if (!os->have) {
        os->have = 1;
        os->mono = *mv;
        mono_bounds(p, mv->u.i, &os->close, &os->out_rt);
    }
    if (os->n == os->cap) {
        size_t nc = os->cap ? os->cap * 2 : 64;
        sl_sql_value **nr = realloc(os->rows, nc * sizeof(*nr));
        if (!nr)
            return SL_ENOMEM;
        os->rows = nr;
        os->cap = nc;
    }
    sl_sql_value *copy = sl_sql_values_dup(vals, p->n_items + p->n_order);
    if (!copy)
        return SL_ENOMEM;
    os->rows[os->n++] = copy;
    return 0;
}

void sl_sql_window_advance(sl_sql_app *app, sl_pump *p, int64_t clock)
{
    if (p->mode == P_ORDER) {
        if (p->ostate && p->ostate->have && clock >= p->ostate->close)
            order_flush(app, p);
        return;
    }
    if (p->mode == P_TUMBLE) {
        if (p->groups && p->groups->have && clock >= p->groups->close)
            tumble_flush(app, p);
    } else if (p->mode == P_STAGGER) {
        stagger_close(app, p, clock);
    }
}

/* ---- sliding windows -------------------------------------------------------------------- */

typedef struct wentry {
    int64_t rowtime;
    sl_sql_value *vals; /* one per slot of this window (owned) */
} wentry;

typedef struct partition {
    sl_gent e;
    wentry *q;
    size_t head, n, cap;
    acc *run; /* per slot of the window: running COUNT/SUM over the frame (add/evict) */
} partition;

struct sl_window_state {
    sl_gtab tab;
    partition **all; /* for sweeping */
    size_t n_all, cap_all;
    uint32_t *slots; /* agg slot indexes of this window */
    uint32_t n_slots;
    int64_t last_sweep;
    sl_sql_value *keybuf, *valbuf;
};

/* Aggregates recomputed by scanning the frame (the others run by add/evict). */
static int scan_fn(int fn)
{
    return fn == A_MIN || fn == A_MAX || fn == A_FIRST || fn == A_LAST || fn == A_LAG ||
           fn == A_NTH_VALUE || fn == A_EXP_AVG;
}

/* Removes v's contribution from a running COUNT/SUM (MIN/MAX are recomputed by a scan). */
static void acc_sub(acc *a, const sl_agg_slot *s, const sl_sql_value *v)
{
    if (s->fn == A_COUNT_STAR) {
        a->n--;
        return;
    }
    if (v->is_null)
        return;
    a->n--;
    if (s->fn >= A_STDDEV_POP) {
        double x = is_dbl_t(v->type) ? v->u.d : (double)v->u.i;
        a->dsum -= x;
        a->sumsq -= x * x;
        return;
    }
    if (s->fn != A_SUM && s->fn != A_AVG)
        return;
    if (is_dbl_t(v->type)) {
        double y = -v->u.d - a->comp;
        double t = a->dsum + y;
        a->comp = (t - a->dsum) - y;
        a->dsum = t;
    } else {
        a->isum -= v->u.i;
    }
}

static void part_pop_run(partition *pt, const sl_pump *p, const uint32_t *slots, uint32_t n_slots)
{
    for (uint32_t s = 0; s < n_slots && pt->run; s++)
        acc_sub(&pt->run[s], &p->aggs[slots[s]], &pt->q[pt->head].vals[s]);
    free(pt->q[pt->head].vals);
    pt->head++;
    pt->n--;
    if (!pt->n) {
        pt->head = 0;
        for (uint32_t s = 0; s < n_slots && pt->run; s++) {
            acc_cleanup(&pt->run[s]);
            acc_init(&pt->run[s]); /* exact zero again: no drift carried over */
        }
    }
}

static void part_pop(partition *pt)
{
    free(pt->q[pt->head].vals);
    pt->head++;
    pt->n--;
    if (!pt->n)
        pt->head = 0;
}

static void part_free(partition *pt)
{
    while (pt->n)
        part_pop(pt);
    free(pt->run);
    free(pt->q);
    free(pt->e.keys);
    free(pt);
}

static sl_window_state *wstate(sl_pump *p, uint32_t w)
{
    if (!p->wstate) {
        p->wstate = calloc(p->n_windows, sizeof(*p->wstate));
        if (!p->wstate)
            return NULL;
    }
    if (!p->wstate[w]) {
        sl_window_state *ws = calloc(1, sizeof(*ws));
        if (!ws)
            return NULL;
        ws->tab.n_keys = p->windows[w]->n_partition;
        ws->slots = calloc(p->n_aggs + 1, sizeof(uint32_t));
        ws->keybuf = calloc(ws->tab.n_keys + 1, sizeof(sl_sql_value));
        ws->valbuf = calloc(p->n_aggs + 1, sizeof(sl_sql_value));
        ws->last_sweep = INT64_MIN;
        if (!ws->slots || !ws->keybuf || !ws->valbuf) {
            free(ws->slots);
            free(ws->keybuf);
            free(ws->valbuf);
            free(ws);
            return NULL;
        }
        for (uint32_t k = 0; k < p->n_aggs; k++)
            if (p->aggs[k].window == (int)w)
                ws->slots[ws->n_slots++] = k;
        p->wstate[w] = ws;
    }
    return p->wstate[w];
}

static void evict(const sl_pump *p, const sl_window_state *ws, const sl_wspec *spec, partition *pt,
                  int64_t now)
{
    if (spec->rows) {
        while (pt->n > (size_t)spec->size + 1)
            part_pop_run(pt, p, ws->slots, ws->n_slots);
    } else {
        while (pt->n && pt->q[pt->head].rowtime < now - spec->size)
            part_pop_run(pt, p, ws->slots, ws->n_slots);
    }
}

static void sweep(sl_pump *p, uint32_t w, int64_t now)
{
    sl_window_state *ws = p->wstate[w];
    const sl_wspec *spec = p->windows[w];
    if (spec->rows)
        return; /* ROWS frames keep their rows until the partition's next row */
    size_t keep = 0;
    for (size_t k = 0; k < ws->n_all; k++) {
        partition *pt = ws->all[k];
        evict(p, ws, spec, pt, now);
        if (!pt->n) {
            sl_gtab_remove(&ws->tab, &pt->e);
            part_free(pt);
        } else {
            ws->all[keep++] = pt;
        }
    }
    ws->n_all = keep;
    ws->last_sweep = now;
}

int sl_sql_over_row(sl_sql_app *app, sl_pump *p, sl_eval *ev, sl_sql_value *aggs)
{
    (void)app;
    for (uint32_t w = 0; w < p->n_windows; w++) {
        sl_window_state *ws = wstate(p, w);
        const sl_wspec *spec = p->windows[w];
        if (!ws)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < spec->n_partition; k++)
            if (sl_sql_eval(ev, spec->partition[k], &ws->keybuf[k]))
                return -1;
        for (uint32_t s = 0; s < ws->n_slots; s++) {
            const sl_agg_slot *slot = &p->aggs[ws->slots[s]];
            ws->valbuf[s].is_null = 1;
            if (slot->arg && sl_sql_eval(ev, slot->arg, &ws->valbuf[s]))
                return -1;
        }
        uint64_t h = sl_gtab_hash(ws->keybuf, spec->n_partition);
        partition *pt = (partition *)sl_gtab_find(&ws->tab, ws->keybuf, h);
        if (!pt) {
            pt = calloc(1, sizeof(*pt));
            if (!pt)
                return SL_ENOMEM;
            pt->e.hash = h;
            pt->e.keys = sl_sql_values_dup(ws->keybuf, spec->n_partition);
            pt->run = calloc(ws->n_slots + 1, sizeof(acc));
            if (!pt->e.keys || !pt->run || sl_gtab_insert(&ws->tab, &pt->e)) {
                free(pt->e.keys);
                free(pt->run);
                free(pt);
                return SL_ENOMEM;
            }
            for (uint32_t s = 0; s < ws->n_slots; s++)
                acc_init(&pt->run[s]);
            if (ws->n_all == ws->cap_all) {
                size_t nc = ws->cap_all ? ws->cap_all * 2 : 16;
                partition **na = realloc(ws->all, nc * sizeof(*na));
                if (!na)
                    return SL_ENOMEM;
                ws->all = na;
                ws->cap_all = nc;
            }
            ws->all[ws->n_all++] = pt;
        }
        if (pt->head + pt->n == pt->cap) {
            if (pt->head) {
                memmove(pt->q, pt->q + pt->head, pt->n * sizeof(*pt->q));
                pt->head = 0;
            } else {
                size_t nc = pt->cap ? pt->cap * 2 : 8;
                wentry *nq = realloc(pt->q, nc * sizeof(*nq));
                if (!nq)
                    return SL_ENOMEM;
                pt->q = nq;
                pt->cap = nc;
            }
        }
        wentry *we = &pt->q[pt->head + pt->n];
        we->rowtime = ev->rowtime;
        we->vals = sl_sql_values_dup(ws->valbuf, ws->n_slots ? ws->n_slots : 1);
        if (!we->vals)
            return SL_ENOMEM;
        pt->n++;
        for (uint32_t s = 0; s < ws->n_slots; s++) {
            const sl_agg_slot *slot = &p->aggs[ws->slots[s]];
            if (!scan_fn(slot->fn))
                acc_add(&pt->run[s], slot, &we->vals[s]);
        }
        evict(p, ws, spec, pt, ev->rowtime);
        /* aggregate over the frame: running sums, a scan for MIN/MAX */
        for (uint32_t s = 0; s < ws->n_slots; s++) {
            const sl_agg_slot *slot = &p->aggs[ws->slots[s]];
            if (!scan_fn(slot->fn)) {
                if (acc_final(ev, &pt->run[s], slot, &aggs[ws->slots[s]]))
                    return -1;
                continue;
            }
            if (slot->fn == A_LAG || slot->fn == A_NTH_VALUE) {
                /* a row of the frame by position: the value lives in the frame's entry, which
                 * stays put while this row is processed */
                int64_t at = slot->fn == A_LAG ? (int64_t)pt->n - 1 - slot->k : slot->k - 1;
                sl_sql_value *o = &aggs[ws->slots[s]];
                if (at >= 0 && at < (int64_t)pt->n) {
                    *o = pt->q[pt->head + (size_t)at].vals[s];
                } else {
                    memset(o, 0, sizeof(*o));
                    o->type = slot->type.id;
                    o->is_null = 1;
                }
                continue;
            }
            if (slot->fn == A_EXP_AVG) {
                /* weighted from the current row's time over the frame's non-NULL values */
                sl_sql_value *o = &aggs[ws->slots[s]];
                int64_t *tt = sl_arena_alloc(ev->scratch, pt->n * sizeof(*tt));
                double *xx = sl_arena_alloc(ev->scratch, pt->n * sizeof(*xx));
                if (!tt || !xx)
                    return SL_ENOMEM;
                size_t m = 0;
                for (size_t k = 0; k < pt->n; k++) {
                    const wentry *e = &pt->q[pt->head + k];
                    if (e->vals[s].is_null)
                        continue;
                    tt[m] = e->rowtime;
                    xx[m++] = as_double(&e->vals[s]);
                }
                memset(o, 0, sizeof(*o));
                o->type = SL_SQL_DOUBLE;
                o->is_null = !m;
                if (m)
                    o->u.d = exp_avg_of(tt, xx, m, ev->rowtime, slot->k);
                continue;
            }
            acc a;
            acc_init(&a);
            for (size_t k = 0; k < pt->n; k++)
                if (acc_add(&a, slot, &pt->q[pt->head + k].vals[s])) {
                    acc_cleanup(&a);
                    return SL_ENOMEM;
                }
            int rc = acc_final(ev, &a, slot, &aggs[ws->slots[s]]);
            if (!rc && !aggs[ws->slots[s]].is_null && aggs[ws->slots[s]].u.s == a.mm_buf &&
                a.mm_buf) {
                /* the string lives in the accumulator: copy it to the scratch */
                char *c = sl_arena_strndup(ev->scratch, a.mm_buf, aggs[ws->slots[s]].len);
                aggs[ws->slots[s]].u.s = c;
            }
            acc_cleanup(&a);
            if (rc)
                return -1;
        }
        if (!spec->rows &&
            (ws->last_sweep == INT64_MIN || ev->rowtime - ws->last_sweep > spec->size))
            sweep(p, w, ev->rowtime);
    }
    return 0;
}

void sl_sql_window_free(sl_pump *p)
{
    if (p->ostate) {
        for (size_t k = 0; k < p->ostate->n; k++)
            free(p->ostate->rows[k]);
        free(p->ostate->rows);
        free(p->ostate);
        p->ostate = NULL;
    }
    if (p->groups) {
        sl_group_state *gs = p->groups;
        for (size_t k = 0; k < gs->n; k++)
            group_free(p, gs->order[gs->head + k]);
        free(gs->order);
        sl_gtab_free(&gs->tab);
        free(gs->mono_copy);
        free(gs->keybuf);
        free(gs->aggbuf);
        free(gs);
        p->groups = NULL;
    }
    if (p->wstate) {
        for (uint32_t w = 0; w < p->n_windows; w++) {
            sl_window_state *ws = p->wstate[w];
            if (!ws)
                continue;
            for (size_t k = 0; k < ws->n_all; k++)
                part_free(ws->all[k]);
            free(ws->all);
            sl_gtab_free(&ws->tab);
            free(ws->slots);
            free(ws->keybuf);
            free(ws->valbuf);
            free(ws);
        }
        free(p->wstate);
        p->wstate = NULL;
    }
}
