/* Planner: turns parsed statements into the application graph, checking names and types.
 *
 * Streams: inputs (API-given, exact names), error_stream, then the code's CREATE STREAMs in
 * order. Each pump compiles its query against the stream it reads:
 *   - FROM name       -> that stream (or a reference table, which only joins may use);
 *   - FROM (query) q  -> the sub-query becomes an anonymous stream fed by its own pump(s);
 *   - FROM TABLE(fn(CURSOR(query), args)) -> the cursor query becomes an anonymous stream, the
 *     table function a pump from it into a second anonymous stream with the function's schema;
 *   - UNION ALL       -> one pump per branch into the same target.
 * Column references resolve to (side, index): side 0 is the streamed relation, side 1 the
 * joined reference table. Aggregates become slots (N_AGG); grouping expressions found in
 * select items and HAVING become key references (N_KEY); a bare ROWTIME left in a select item
 * of an aggregating query means the output row's time (window end).
 *
 * Pump modes: P_PROJECT (filters, projections, OVER windows, table joins), P_TUMBLE (GROUP BY
 * with exactly one ROWTIME-based monotonic key: ROWTIME, FLOOR/CEIL(ROWTIME TO unit),
 * STEP(ROWTIME BY interval); also SELECT DISTINCT), P_STAGGER, P_TOPK, P_CDISTINCT. Everything
 * else the validator refuses with a line/column message (streaming ORDER BY and stream-stream
 * joins are not implemented yet and are refused as such). */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

int sl_sql_fn_lookup(const char *name, int *min_args, int *max_args);
int sl_sql_fn_type(int id, sl_node **args, uint32_t n, sl_sql_type *out, const char **why);

typedef struct pctx {
    sl_sql_app *app;
    const char *code;
    size_t len;
    sl_diag *d;
    int anon_seq;
} pctx;

/* What a query can see. */
typedef struct scope {
    sl_stream *s0;
    const char *alias0;
    const sl_sql_relation *t1; /* joined relation (reference table or windowed stream) */
    int t1_stream;             /* side 1 is a stream: it has a ROWTIME */
    const char *alias1;
    sl_named_window *windows;
    uint32_t n_windows;
} scope;

/* Per-query aggregation collection. */
typedef struct aggctx {
    sl_pump *p;
    int allow_group; /* plain aggregates allowed */
    int allow_over;
    int any_group_agg;
    scope *sc;
} aggctx;

static int verr(pctx *pc, uint32_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int verr(pctx *pc, uint32_t pos, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sl_sql_diag(pc->d, SL_EINVAL, pc->code, pc->len, pos, "%s", msg);
}

static void *palloc(pctx *pc, size_t n)
{
    return sl_arena_alloc(&pc->app->arena, n);
}

static int push_ptr(pctx *pc, void ***arr, size_t *n, void *x)
{
    void **nv = palloc(pc, (*n + 1) * sizeof(void *));
    if (!nv)
        return SL_ENOMEM;
    if (*n)
        memcpy(nv, *arr, *n * sizeof(void *));
    nv[(*n)++] = x;
    *arr = nv;
    return 0;
}

static sl_stream *find_stream(sl_sql_app *app, const char *name)
{
    for (size_t k = 0; k < app->n_streams; k++)
        if (app->streams[k]->kind != 3 && !strcmp(app->streams[k]->rel.name, name))
            return app->streams[k];
    return NULL;
}

static sl_table *find_table(sl_sql_app *app, const char *name)
{
    for (size_t k = 0; k < app->n_tables; k++)
        if (!strcmp(app->tables[k].rel.name, name))
            return &app->tables[k];
    return NULL;
}

static sl_stream *new_stream(pctx *pc, const char *name, sl_sql_column *cols, size_t n, int kind)
{
    sl_stream *s = palloc(pc, sizeof(*s));
    if (!s)
        return NULL;
    s->rel.name = name;
    s->rel.cols = cols;
    s->rel.n_cols = n;
    s->kind = kind;
    s->public_idx = -1;
    s->clock = INT64_MIN;
    s->last_rowtime = INT64_MIN;
    if (push_ptr(pc, (void ***)&pc->app->streams, &pc->app->n_streams, s))
        return NULL;
    if (kind != 3) {
        s->public_idx = (int)pc->app->n_pub;
        if (push_ptr(pc, (void ***)&pc->app->pub, &pc->app->n_pub, s))
            return NULL;
    }
    return s;
}

/* ---- type rules -------------------------------------------------------------------------- */

static int numeric_rank(uint8_t t)
{
    return t; /* enum order is the widening order TINYINT..DOUBLE */
}

static int is_textual(uint8_t t)
{
    return sl_sql_type_is_string(t);
}

/* Whether a value of type `from` can be assigned to a column of type `to`. */
static int assignable(uint8_t from, uint8_t to)
{
    if (from == SL_SQL_NULLTYPE)
        return 1;
    if (sl_sql_type_is_numeric(from) && sl_sql_type_is_numeric(to))
        return 1;
    if (is_textual(from) && is_textual(to))
        return 1;
    if (from == to)
        return 1;
    if (from == SL_SQL_TIMESTAMP && (to == SL_SQL_DATE || to == SL_SQL_TIME))
        return 1;
    if (from == SL_SQL_DATE && to == SL_SQL_TIMESTAMP)
        return 1;
    if ((from == SL_SQL_BINARY || from == SL_SQL_VARBINARY) &&
        (to == SL_SQL_BINARY || to == SL_SQL_VARBINARY))
        return 1;
    return 0;
}

static int comparable(uint8_t a, uint8_t b)
{
    if (a == SL_SQL_NULLTYPE || b == SL_SQL_NULLTYPE)
        return 1;
    if (sl_sql_type_is_numeric(a) && sl_sql_type_is_numeric(b))
        return 1;
    if (is_textual(a) && is_textual(b))
        return 1;
    if (sl_sql_type_is_datetime(a) && (is_textual(b) || b == a))
        return 1;
    if (sl_sql_type_is_datetime(b) && is_textual(a))
        return 1;
    if (a == SL_SQL_DATE && b == SL_SQL_TIMESTAMP)
        return 1;
    if (a == SL_SQL_TIMESTAMP && b == SL_SQL_DATE)
        return 1;
    return a == b;
}

/* ---- expression resolution --------------------------------------------------------------- */

enum { CTX_WHERE = 0, CTX_SELECT, CTX_ON };

static int resolve(pctx *pc, scope *sc, aggctx *ac, sl_node *n, int ctx);

static int col_lookup(const sl_sql_relation *rel, const char *name)
{
    for (size_t k = 0; k < rel->n_cols; k++)
        if (!strcmp(rel->cols[k].name, name))
            return (int)k;
    return -1;
}

static int qual_side(scope *sc, const char *q)
{
    if (sc->s0 && ((sc->alias0 && !strcmp(sc->alias0, q)) ||
                   (!sc->alias0 && !strcmp(sc->s0->rel.name, q)) || !strcmp(sc->s0->rel.name, q)))
        return 0;
    if (sc->t1 && ((sc->alias1 && !strcmp(sc->alias1, q)) || !strcmp(sc->t1->name, q)))
        return 1;
    return -1;
}

/* "R.COLUMN1": the stored name of field COLUMN1 of row-valued item R (log parsing). */
static char *field_name(pctx *pc, const char *row, const char *field)
{
    size_t n = strlen(row) + strlen(field) + 2;
    char *f = palloc(pc, n);
    if (f)
        snprintf(f, n, "%s.%s", row, field);
    return f;
}

static int resolve_col(pctx *pc, scope *sc, sl_node *n, int ctx)
{
    const char *c;
    int side = -1;
    if (n->n_names == 1) {
        c = n->names[0];
    } else if (n->n_names == 2) {
        side = qual_side(sc, n->names[0]);
        c = n->names[1];
        if (side < 0) {
            /* r.COLUMN1: a field of the row a log-parsing function returned as column r */
            char *f = field_name(pc, n->names[0], n->names[1]);
            if (!f)
                return SL_ENOMEM;
            if (!(sc->s0 && col_lookup(&sc->s0->rel, f) >= 0) &&
                !(sc->t1 && col_lookup(sc->t1, f) >= 0))
                return verr(pc, n->pos, "unknown table or stream alias '%s'", n->names[0]);
            c = f;
        }
    } else if (n->n_names == 3) {
        side = qual_side(sc, n->names[0]);
        if (side < 0)
            return verr(pc, n->pos, "unknown table or stream alias '%s'", n->names[0]);
        c = field_name(pc, n->names[1], n->names[2]);
        if (!c)
            return SL_ENOMEM;
    } else {
        return verr(pc, n->pos, "column reference with %u parts is not supported", n->n_names);
    }
    if (!strcmp(c, "ROWTIME")) {
        if (side == 1 && !sc->t1_stream)
            return verr(pc, n->pos, "reference tables have no ROWTIME");
        n->kind = N_ROWTIME;
        n->side = side == 1 ? 1 : 0;
        n->flags = side < 0; /* unqualified */
        n->type.id = SL_SQL_TIMESTAMP;
        n->type.not_null = 1;
        (void)ctx;
        return 0;
    }
    if (!strcmp(c, "APPROXIMATE_ARRIVAL_TIME") && side != 1 && sc->s0 && sc->s0->kind == 0 &&
        col_lookup(&sc->s0->rel, c) < 0) {
        /* the source's arrival time: a column of input streams only, never part of '*' */
        n->kind = N_ROWTIME;
        n->side = 2;
        n->flags = 0;
        n->type.id = SL_SQL_TIMESTAMP;
        return 0;
    }
    int i0 = -1, i1 = -1;
    if (side != 1 && sc->s0)
        i0 = col_lookup(&sc->s0->rel, c);
    if (side != 0 && sc->t1)
        i1 = col_lookup(sc->t1, c);
    if (i0 >= 0 && i1 >= 0)
        return verr(pc, n->pos, "column '%s' is ambiguous", c);
    if (i0 < 0 && i1 < 0)
        return verr(pc, n->pos, "column '%s' not found", c);
    n->kind = N_REF;
    n->side = i0 >= 0 ? 0 : 1;
    n->idx = i0 >= 0 ? i0 : i1;
    n->type = i0 >= 0 ? sc->s0->rel.cols[i0].type : sc->t1->cols[i1].type;
    if (n->side == 1)
        n->type.not_null = 0;
    return 0;
}

static sl_wspec *find_window(scope *sc, const char *name)
{
    for (uint32_t k = 0; k < sc->n_windows; k++)
        if (!strcmp(sc->windows[k].name, name))
            return sc->windows[k].spec;
    return NULL;
}

/* The aggregate functions by name (the SQL reference's names and their synonyms). */
static const struct {
    const char *name;
    int fn;
} agg_names[] = {
    {"COUNT", A_COUNT},
    {"SUM", A_SUM},
    {"AVG", A_AVG},
    {"MIN", A_MIN},
    {"MAX", A_MAX},
    {"FIRST_VALUE", A_FIRST},
    {"LAST_VALUE", A_LAST},
    {"STDDEV_POP", A_STDDEV_POP},
    {"STDDEV_SAMP", A_STDDEV_SAMP},
    {"STDDEV", A_STDDEV_SAMP},
    {"VAR_POP", A_VAR_POP},
    {"VAR_SAMP", A_VAR_SAMP},
    {"VARIANCE", A_VAR_SAMP},
    {"LAG", A_LAG},
    {"NTH_VALUE", A_NTH_VALUE},
    {"EXP_AVG", A_EXP_AVG},
};

static int agg_fn_of(const char *name)
{
    for (size_t k = 0; k < sizeof(agg_names) / sizeof(agg_names[0]); k++)
        if (!strcmp(name, agg_names[k].name))
            return agg_names[k].fn;
    return 0;
}

static int window_index(pctx *pc, sl_pump *p, sl_wspec *w)
{
    for (uint32_t k = 0; k < p->n_windows; k++)
        if (p->windows[k] == w)
            return (int)k;
    sl_wspec **nv = palloc(pc, (p->n_windows + 1) * sizeof(*nv));
    if (!nv)
        return SL_ENOMEM;
    if (p->n_windows)
        memcpy(nv, p->windows, p->n_windows * sizeof(*nv));
    nv[p->n_windows] = w;
    p->windows = nv;
    return (int)p->n_windows++;
}

static int lit_int(const sl_node *n, int64_t *v);

static int resolve_agg(pctx *pc, scope *sc, aggctx *ac, sl_node *n, int fn, int ctx)
{
    int rc;
    if (!ac || ctx == CTX_WHERE || ctx == CTX_ON)
        return verr(pc, n->pos, "aggregate %s is not allowed here", n->names[0]);
    if (n->distinct)
        return verr(pc, n->pos,
                    "COUNT(DISTINCT ...) and DISTINCT aggregates are not supported on "
                    "streams; use SELECT STREAM DISTINCT or "
                    "COUNT_DISTINCT_ITEMS_TUMBLING");
    sl_wspec *w = n->over;
    if (!w && n->over_name) {
        w = find_window(sc, n->over_name);
        if (!w)
            return verr(pc, n->pos, "window '%s' is not defined", n->over_name);
    }
    if (w && !ac->allow_over)
        return verr(pc, n->pos, "OVER is not allowed in an aggregating query");
    if (!w && !ac->allow_group)
        return verr(pc, n->pos, "aggregate %s over a stream needs GROUP BY, WINDOWED BY or OVER",
                    n->names[0]);
    sl_agg_slot slot = {.fn = (uint8_t)fn, .window = -1, .k = 1};
    if (fn == A_LAG || fn == A_NTH_VALUE) {
        if (!w)
            return verr(pc, n->pos, "%s needs OVER", n->names[0]);
        if (n->n_kids != 2 && !(fn == A_LAG && n->n_kids == 1))
            return verr(pc, n->pos, "wrong number of arguments to %s", n->names[0]);
        if (n->n_kids == 2 && (!lit_int(n->kids[1], &slot.k) || slot.k < (fn == A_LAG ? 0 : 1)))
            return verr(pc, n->kids[1]->pos, "%s needs a %s integer offset", n->names[0],
                        fn == A_LAG ? "non-negative" : "positive");
        n->n_kids = 1;
    }
    if (fn == A_EXP_AVG) {
        if (n->n_kids != 2)
            return verr(pc, n->pos, "EXP_AVG takes an expression and an interval");
        const sl_node *iv = n->kids[1];
        if (iv->kind != N_LIT || iv->lit.is_null || iv->lit.type != SL_SQL_INTERVAL ||
            iv->lit.u.i <= 0)
            return verr(pc, iv->pos, "EXP_AVG needs a positive day-time INTERVAL literal");
        slot.k = iv->lit.u.i;
        n->n_kids = 1;
    }
    if (n->n_kids != 1)
        return verr(pc, n->pos, "%s takes one argument", n->names[0]);
    if (n->kids[0]->kind == N_STAR) {
        if (fn != A_COUNT)
            return verr(pc, n->pos, "only COUNT accepts *");
        slot.fn = A_COUNT_STAR;
    } else {
        if ((rc = resolve(pc, sc, NULL, n->kids[0], CTX_WHERE)))
            return rc;
        slot.arg = n->kids[0];
        uint8_t t = slot.arg->type.id;
        if ((fn == A_SUM || fn == A_AVG || fn >= A_STDDEV_POP) && !sl_sql_type_is_numeric(t) &&
            t != SL_SQL_NULLTYPE)
            return verr(pc, n->kids[0]->pos, "%s needs a numeric argument", n->names[0]);
    }
    switch (slot.fn) {
    case A_COUNT_STAR:
    case A_COUNT:
        slot.type.id = SL_SQL_BIGINT;
        break;
    case A_SUM:
        slot.type.id = sl_sql_type_is_exact(slot.arg->type.id) ? SL_SQL_BIGINT : SL_SQL_DOUBLE;
        break;
    case A_AVG:
        slot.type.id = slot.arg->type.id == SL_SQL_REAL ? SL_SQL_DOUBLE : slot.arg->type.id;
        if (slot.type.id == SL_SQL_NULLTYPE)
            slot.type.id = SL_SQL_DOUBLE;
        break;
    case A_STDDEV_POP:
    case A_STDDEV_SAMP:
    case A_VAR_POP:
    case A_VAR_SAMP:
    case A_EXP_AVG:
        slot.type.id = SL_SQL_DOUBLE;
        break;
    default:
        slot.type = slot.arg->type;
        slot.type.not_null = 0;
    }
    if (w) {
        if (w->following)
            return verr(pc, w->pos, "FOLLOWING windows are only allowed in stream joins");
        int wi = window_index(pc, ac->p, w);
        if (wi < 0)
            return wi;
        slot.window = wi;
    } else {
        ac->any_group_agg = 1;
    }
    sl_pump *p = ac->p;
    sl_agg_slot *nv = palloc(pc, (p->n_aggs + 1) * sizeof(*nv));
    if (!nv)
        return SL_ENOMEM;
    if (p->n_aggs)
        memcpy(nv, p->aggs, p->n_aggs * sizeof(*nv));
    nv[p->n_aggs] = slot;
    p->aggs = nv;
    n->kind = N_AGG;
    n->idx = (int32_t)p->n_aggs++;
    n->type = slot.type;
    n->n_kids = 0;
    return 0;
}

static int lit_int(const sl_node *n, int64_t *v)
{
    if (n->kind == N_LIT && !n->lit.is_null && sl_sql_type_is_exact(n->lit.type)) {
        *v = n->lit.u.i;
        return 1;
    }
    return 0;
}

static int resolve(pctx *pc, scope *sc, aggctx *ac, sl_node *n, int ctx)
{
    int rc;
    switch (n->kind) {
    case N_LIT:
        n->type.id = n->lit.type;
        n->type.len = n->lit.len;
        return 0;
    case N_COL:
        return resolve_col(pc, sc, n, ctx);
    case N_STAR:
        return verr(pc, n->pos, "'*' is not allowed here");
    case N_CALL: {
        int fn = agg_fn_of(n->names[0]);
        if (fn)
            return resolve_agg(pc, sc, ac, n, fn, ctx);
        if (n->over || n->over_name)
            return verr(pc, n->pos, "%s is not an aggregate function", n->names[0]);
        if (sl_sql_is_log_parser(n->names[0]))
            return verr(pc, n->pos,
                        "%s returns a row: use it as a select item (%s(...) AS r) and read its "
                        "fields as r.COLUMN1, ... in an outer query",
                        n->names[0], n->names[0]);
        int mn, mx;
        int id = sl_sql_fn_lookup(n->names[0], &mn, &mx);
        if (!id)
            return verr(pc, n->pos, "unknown function %s", n->names[0]);
        if ((int)n->n_kids < mn || (int)n->n_kids > mx)
            return verr(pc, n->pos, "wrong number of arguments to %s", n->names[0]);
        for (uint32_t k = 0; k < n->n_kids; k++) {
            if (n->kids[k]->kind == N_STAR)
                return verr(pc, n->kids[k]->pos, "'*' is not allowed here");
            if ((rc = resolve(pc, sc, ac, n->kids[k], ctx)))
                return rc;
        }
        n->op = (uint16_t)id;
        const char *why = NULL;
        if (!sl_sql_fn_type(id, n->kids, n->n_kids, &n->type, &why))
            return verr(pc, n->pos, "%s: %s", n->names[0], why);
        if (!strcmp(n->names[0], "REGEX_REPLACE") && n->kids[1]->kind == N_LIT &&
            !n->kids[1]->lit.is_null && is_textual(n->kids[1]->lit.type)) {
            regex_t *re = palloc(pc, sizeof(*re));
            char *z = sl_arena_strndup(&pc->app->arena, n->kids[1]->lit.u.s, n->kids[1]->lit.len);
            if (!re || !z)
                return SL_ENOMEM;
            if (!sl_sql_regex_ok(z) || regcomp(re, z, REG_EXTENDED))
                return verr(pc, n->kids[1]->pos, "invalid or too complex regular expression");
            n->aux = re;
            push_ptr(pc, (void ***)&pc->app->regexes, &pc->app->n_regexes, re);
        }
        return 0;
    }
    case N_UNARY:
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)))
            return rc;
        if (n->op == 'N') {
            if (n->kids[0]->type.id != SL_SQL_BOOLEAN && n->kids[0]->type.id != SL_SQL_NULLTYPE)
                return verr(pc, n->pos, "NOT needs a BOOLEAN operand");
            n->type.id = SL_SQL_BOOLEAN;
        } else {
            if (!sl_sql_type_is_numeric(n->kids[0]->type.id) &&
                n->kids[0]->type.id != SL_SQL_INTERVAL && n->kids[0]->type.id != SL_SQL_NULLTYPE)
                return verr(pc, n->pos, "unary %c needs a numeric operand", n->op);
            n->type = n->kids[0]->type;
            n->type.not_null = 0;
        }
        return 0;
    case N_BINARY: {
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)) ||
            (rc = resolve(pc, sc, ac, n->kids[1], ctx)))
            return rc;
        uint8_t a = n->kids[0]->type.id, b = n->kids[1]->type.id;
        memset(&n->type, 0, sizeof(n->type));
        if (n->op == B_AND || n->op == B_OR) {
            if ((a != SL_SQL_BOOLEAN && a != SL_SQL_NULLTYPE) ||
                (b != SL_SQL_BOOLEAN && b != SL_SQL_NULLTYPE))
                return verr(pc, n->pos, "%s needs BOOLEAN operands", n->op == B_AND ? "AND" : "OR");
            n->type.id = SL_SQL_BOOLEAN;
            return 0;
        }
        if (n->op >= B_EQ && n->op <= B_GE) {
            if (!comparable(a, b))
                return verr(pc, n->pos, "cannot compare %s with %s", sl_sql_type_name(a),
                            sl_sql_type_name(b));
            n->type.id = SL_SQL_BOOLEAN;
            return 0;
        }
        if (n->op == B_CONCAT) {
            if ((!is_textual(a) && a != SL_SQL_NULLTYPE) ||
                (!is_textual(b) && b != SL_SQL_NULLTYPE))
                return verr(pc, n->pos, "|| needs character operands");
            n->type.id = SL_SQL_VARCHAR;
            n->type.len = n->kids[0]->type.len + n->kids[1]->type.len;
            return 0;
        }
        if (a == SL_SQL_NULLTYPE)
            a = b;
        if (b == SL_SQL_NULLTYPE)
            b = a;
        if (a == SL_SQL_NULLTYPE) {
            n->type.id = SL_SQL_INTEGER;
            return 0;
        }
        if (sl_sql_type_is_datetime(a) || sl_sql_type_is_datetime(b)) {
            if (sl_sql_type_is_datetime(a) && b == SL_SQL_INTERVAL &&
                (n->op == B_ADD || n->op == B_SUB)) {
                n->type.id = a;
                return 0;
            }
            if (a == SL_SQL_INTERVAL && sl_sql_type_is_datetime(b) && n->op == B_ADD) {
                n->type.id = b;
                return 0;
            }
            if (a == b && n->op == B_SUB) {
                n->type.id = SL_SQL_INTERVAL;
                return 0;
            }
            return verr(pc, n->pos, "cannot apply arithmetic to %s and %s", sl_sql_type_name(a),
                        sl_sql_type_name(b));
        }
        if (a == SL_SQL_INTERVAL || b == SL_SQL_INTERVAL) {
            if (a == b && (n->op == B_ADD || n->op == B_SUB)) {
                n->type.id = SL_SQL_INTERVAL;
                return 0;
            }
            if ((n->op == B_MUL || n->op == B_DIV) &&
                (sl_sql_type_is_numeric(a) || sl_sql_type_is_numeric(b))) {
                n->type.id = SL_SQL_INTERVAL;
                return 0;
            }
            return verr(pc, n->pos, "invalid interval arithmetic");
        }
        if (!sl_sql_type_is_numeric(a) || !sl_sql_type_is_numeric(b))
            return verr(pc, n->pos, "cannot apply arithmetic to %s and %s", sl_sql_type_name(a),
                        sl_sql_type_name(b));
        if (!sl_sql_type_is_exact(a) || !sl_sql_type_is_exact(b))
            n->type.id = SL_SQL_DOUBLE;
        else
            n->type.id = (uint8_t)(numeric_rank(a) > numeric_rank(b) ? a : b);
        if (n->type.id < SL_SQL_INTEGER && sl_sql_type_is_exact(n->type.id))
            n->type.id = SL_SQL_INTEGER;
        return 0;
    }
    case N_CASE: {
        int has_op = n->flags & 1, has_else = (n->flags & 2) != 0;
        memset(&n->type, 0, sizeof(n->type));
        for (uint32_t k = 0; k < n->n_kids; k++)
            if ((rc = resolve(pc, sc, ac, n->kids[k], ctx)))
                return rc;
        uint32_t k = (uint32_t)has_op;
        uint32_t end = n->n_kids - (uint32_t)has_else;
        for (; k < end; k += 2) {
            if (!has_op && n->kids[k]->type.id != SL_SQL_BOOLEAN &&
                n->kids[k]->type.id != SL_SQL_NULLTYPE)
                return verr(pc, n->kids[k]->pos, "WHEN condition must be BOOLEAN");
            sl_sql_type t = n->kids[k + 1]->type;
            if (n->type.id == SL_SQL_NULLTYPE)
                n->type = t;
            else if (t.id != SL_SQL_NULLTYPE) {
                if (sl_sql_type_is_numeric(t.id) && sl_sql_type_is_numeric(n->type.id)) {
                    if (t.id > n->type.id)
                        n->type = t;
                } else if (is_textual(t.id) && is_textual(n->type.id)) {
                    if (t.len > n->type.len)
                        n->type.len = t.len;
                    n->type.id = SL_SQL_VARCHAR;
                } else if (t.id != n->type.id) {
                    return verr(pc, n->kids[k + 1]->pos, "CASE branches have incompatible types");
                }
            }
        }
        if (has_else) {
            sl_sql_type t = n->kids[n->n_kids - 1]->type;
            if (n->type.id == SL_SQL_NULLTYPE)
                n->type = t;
            else if (sl_sql_type_is_numeric(t.id) && sl_sql_type_is_numeric(n->type.id)) {
                if (t.id > n->type.id)
                    n->type = t;
            } else if (is_textual(t.id) && is_textual(n->type.id)) {
                n->type.id = SL_SQL_VARCHAR;
                if (t.len > n->type.len)
                    n->type.len = t.len;
            } else if (t.id != SL_SQL_NULLTYPE && t.id != n->type.id) {
                return verr(pc, n->kids[n->n_kids - 1]->pos,
                            "CASE branches have incompatible types");
            }
        }
        n->type.not_null = 0;
        return 0;
    }
    case N_CAST:
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)))
            return rc;
        n->type = n->cast_type;
        return 0;
    case N_IS:
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)))
            return rc;
        n->type.id = SL_SQL_BOOLEAN;
        return 0;
    case N_BETWEEN:
    case N_IN:
        if (n->kind == N_IN && n->flags)
            return verr(pc, n->pos, "IN needs a parenthesised list");
        for (uint32_t k = 0; k < n->n_kids; k++) {
            if ((rc = resolve(pc, sc, ac, n->kids[k], ctx)))
                return rc;
            if (k && !comparable(n->kids[0]->type.id, n->kids[k]->type.id))
                return verr(pc, n->kids[k]->pos, "cannot compare %s with %s",
                            sl_sql_type_name(n->kids[0]->type.id),
                            sl_sql_type_name(n->kids[k]->type.id));
        }
        n->type.id = SL_SQL_BOOLEAN;
        return 0;
    case N_LIKE:
        for (uint32_t k = 0; k < n->n_kids; k++) {
            if ((rc = resolve(pc, sc, ac, n->kids[k], ctx)))
                return rc;
            uint8_t t = n->kids[k]->type.id;
            if (!is_textual(t) && t != SL_SQL_NULLTYPE)
                return verr(pc, n->kids[k]->pos, "%s needs character operands",
                            n->op == 'L' ? "LIKE" : "SIMILAR TO");
        }
        if (n->op == 'S' && n->kids[1]->kind == N_LIT && !n->kids[1]->lit.is_null &&
            n->n_kids == 2) {
            /* precompile */
            const sl_sql_value *pv = &n->kids[1]->lit;
            char *o = palloc(pc, (size_t)pv->len * 4 + 8);
            if (!o)
                return SL_ENOMEM;
            size_t k = 0;
            o[k++] = '^';
            o[k++] = '(';
            for (uint32_t i = 0; i < pv->len; i++) {
                char c = pv->u.s[i];
                if (c == '%') {
                    o[k++] = '.';
                    o[k++] = '*';
                } else if (c == '_') {
                    o[k++] = '.';
                } else if (c == '.' || c == '^' || c == '$' || c == '\\') {
                    o[k++] = '\\';
                    o[k++] = c;
                } else {
                    o[k++] = c;
                }
            }
            o[k++] = ')';
            o[k++] = '$';
            o[k] = 0;
            regex_t *re = palloc(pc, sizeof(*re));
            if (!re)
                return SL_ENOMEM;
            if (!sl_sql_regex_ok(o) || regcomp(re, o, REG_EXTENDED | REG_NOSUB))
                return verr(pc, n->kids[1]->pos, "invalid or too complex SIMILAR TO pattern");
            n->aux = re;
            push_ptr(pc, (void ***)&pc->app->regexes, &pc->app->n_regexes, re);
        }
        n->type.id = SL_SQL_BOOLEAN;
        return 0;
    case N_EXTRACT:
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)))
            return rc;
        if (!sl_sql_type_is_datetime(n->kids[0]->type.id) &&
            n->kids[0]->type.id != SL_SQL_INTERVAL && n->kids[0]->type.id != SL_SQL_NULLTYPE)
            return verr(pc, n->pos, "EXTRACT needs a datetime or interval");
        n->type.id = SL_SQL_BIGINT;
        return 0;
    case N_FLOOR:
    case N_CEIL:
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)))
            return rc;
        if (n->unit) {
            if (!sl_sql_type_is_datetime(n->kids[0]->type.id))
                return verr(pc, n->pos, "%s ... TO unit needs a datetime",
                            n->kind == N_FLOOR ? "FLOOR" : "CEIL");
        } else if (!sl_sql_type_is_numeric(n->kids[0]->type.id) &&
                   n->kids[0]->type.id != SL_SQL_NULLTYPE) {
            return verr(pc, n->pos, "%s needs a numeric argument",
                        n->kind == N_FLOOR ? "FLOOR" : "CEIL");
        }
        n->type = n->kids[0]->type;
        return 0;
    case N_STEP: {
        if ((rc = resolve(pc, sc, ac, n->kids[0], ctx)) ||
            (rc = resolve(pc, sc, ac, n->kids[1], ctx)))
            return rc;
        uint8_t a = n->kids[0]->type.id, b = n->kids[1]->type.id;
        int64_t v;
        if (sl_sql_type_is_datetime(a)) {
            if (b != SL_SQL_INTERVAL || n->kids[1]->kind != N_LIT)
                return verr(pc, n->kids[1]->pos, "STEP on a datetime needs an INTERVAL literal");
            if (n->kids[1]->lit.u.i <= 0)
                return verr(pc, n->kids[1]->pos, "STEP interval must be positive");
        } else if (sl_sql_type_is_exact(a)) {
            if (!lit_int(n->kids[1], &v) || v <= 0)
                return verr(pc, n->kids[1]->pos, "STEP on a number needs a positive integer");
        } else {
            return verr(pc, n->pos, "STEP needs a datetime or an integer");
        }
        n->type = n->kids[0]->type;
        return 0;
    }
    case N_POSITION:
    case N_SUBSTRING:
    case N_TRIM:
    case N_OVERLAY:
        for (uint32_t k = 0; k < n->n_kids; k++)
            if ((rc = resolve(pc, sc, ac, n->kids[k], ctx)))
                return rc;
        if (n->kind == N_POSITION) {
            n->type.id = SL_SQL_INTEGER;
        } else {
            n->type.id = SL_SQL_VARCHAR;
            n->type.len = n->kids[0]->type.len;
            if (!is_textual(n->kids[0]->type.id) && n->kids[0]->type.id != SL_SQL_NULLTYPE)
                return verr(pc, n->kids[0]->pos, "character argument expected");
        }
        return 0;
    default:
        return verr(pc, n->pos, "unsupported expression");
    }
}

/* ---- structural equality and key rewriting ------------------------------------------------ */

static int node_equal(const sl_node *a, const sl_node *b)
{
    if (a->kind != b->kind || a->op != b->op || a->unit != b->unit || a->neg != b->neg ||
        a->n_kids != b->n_kids)
        return 0;
    switch (a->kind) {
    case N_LIT:
        if (a->lit.type != b->lit.type || a->lit.is_null != b->lit.is_null)
            return 0;
        if (!a->lit.is_null && !sl_sql_equal(&a->lit, &b->lit))
            return 0;
        break;
    case N_REF:
        if (a->idx != b->idx || a->side != b->side)
            return 0;
        break;
    case N_ROWTIME:
        if (a->side != b->side)
            return 0;
        break;
    case N_AGG:
    case N_KEY:
        if (a->idx != b->idx)
            return 0;
        break;
    case N_CALL:
        if (strcmp(a->names[0], b->names[0]))
            return 0;
        break;
    case N_CAST:
        if (memcmp(&a->cast_type, &b->cast_type, sizeof(a->cast_type)))
            return 0;
        break;
    default:
        break;
    }
    for (uint32_t k = 0; k < a->n_kids; k++)
        if (!node_equal(a->kids[k], b->kids[k]))
            return 0;
    return 1;
}

/* Replaces grouping expressions in n by N_KEY; then checks that no input column is left
 * outside aggregates. A bare unqualified ROWTIME left over becomes the output time. */
static int rewrite_keys(pctx *pc, sl_node *n, sl_node **keys, uint32_t n_keys)
{
    for (uint32_t k = 0; k < n_keys; k++)
        if (node_equal(n, keys[k])) {
            sl_sql_type t = keys[k]->type;
            n->kind = N_KEY;
            n->idx = (int32_t)k;
            n->n_kids = 0;
            n->type = t;
            return 0;
        }
    if (n->kind == N_REF)
        return verr(pc, n->pos,
                    "expression is not being grouped (not a GROUP BY or PARTITION "
                    "BY key and not inside an aggregate)");
    if (n->kind == N_ROWTIME) {
        if (n->flags) {
            n->side = -1;
            return 0;
        }
        return verr(pc, n->pos, "ROWTIME of the input is not a grouping expression here");
    }
    for (uint32_t k = 0; k < n->n_kids; k++) {
        int rc = rewrite_keys(pc, n->kids[k], keys, n_keys);
        if (rc)
            return rc;
    }
    return 0;
}

/* Unqualified ROWTIME in a select item of a non-aggregating pump: output time = input time. */
static void rowtime_to_output(sl_node *n)
{
    if (n->kind == N_ROWTIME && n->flags) {
        n->side = -1;
        return;
    }
    for (uint32_t k = 0; k < n->n_kids; k++)
        rowtime_to_output(n->kids[k]);
}

static int is_mono_key(const sl_node *n)
{
    if (n->kind == N_ROWTIME && n->side == 0)
        return 1;
    if ((n->kind == N_FLOOR || n->kind == N_CEIL) && n->unit && n->kids[0]->kind == N_ROWTIME &&
        n->kids[0]->side == 0)
        return 1;
    if (n->kind == N_STEP && n->kids[0]->kind == N_ROWTIME && n->kids[0]->side == 0)
        return 1;
    return 0;
}

/* MONOTONIC(expr): a key the code asserts to be monotonic (GROUP BY without a ROWTIME key). */
static int is_declared_mono(const sl_node *n)
{
    return n->kind == N_CALL && n->n_names && !strcmp(n->names[0], "MONOTONIC");
}

static int has_agg(const sl_node *n)
{
    if (n->kind == N_AGG)
        return 1;
    for (uint32_t k = 0; k < n->n_kids; k++)
        if (has_agg(n->kids[k]))
            return 1;
    return 0;
}

/* ---- queries ----------------------------------------------------------------------------- */

typedef struct outcol {
    char *name;
    sl_sql_type type;
} outcol;

static int compile_query(pctx *pc, sl_query *q, sl_stream *target, char **tcols, uint32_t n_tcols,
                         const char *pump_name, sl_stream **out_stream, uint32_t stmt_pos);

/* Resolves a FROM item to a stream (creating anonymous streams for sub-queries and table
 * functions). */
static int from_stream(pctx *pc, sl_from *f, sl_stream **out)
{
    int rc;
    if (f->kind == F_NAMED) {
        if (!strcmp(f->name, "error_stream"))
            return verr(pc, f->pos, "error_stream cannot be read by SQL");
        sl_stream *s = find_stream(pc->app, f->name);
        if (!s) {
            if (find_table(pc->app, f->name))
                return verr(pc, f->pos,
                            "'%s' is a reference table; a streaming query must read a stream",
                            f->name);
            return verr(pc, f->pos, "stream '%s' not found", f->name);
        }
        if (f->over || f->over_name)
            return verr(pc, f->pos,
                        "put the window on the joined stream: FROM a JOIN b OVER (...) ON ...");
        *out = s;
        return 0;
    }
    if (f->kind == F_SUBQUERY)
        return compile_query(pc, f->sub, NULL, NULL, 0, NULL, out, f->pos);
    /* table function */
    sl_stream *in;
    if ((rc = compile_query(pc, f->sub, NULL, NULL, 0, NULL, &in, f->pos)))
        return rc;
    sl_pump *p = palloc(pc, sizeof(*p));
    if (!p)
        return SL_ENOMEM;
    p->source = in;
    sl_sql_column *cols;
    size_t nc;
    const char *fn = f->name;
    int64_t a[4] = {0};
    int na = (int)f->n_args;
    const char *colname = NULL;
    if (!strcmp(fn, "TOP_K_ITEMS_TUMBLING") || !strcmp(fn, "COUNT_DISTINCT_ITEMS_TUMBLING")) {
        int topk = fn[0] == 'T';
        int need = topk ? 3 : 2;
        if (na != need)
            return verr(pc, f->pos, "%s takes a cursor and %d arguments", fn, need);
        if (f->args[0]->kind != N_LIT || !is_textual(f->args[0]->lit.type))
            return verr(pc, f->args[0]->pos, "%s: the column must be a string literal", fn);
        colname = sl_arena_strndup(&pc->app->arena, f->args[0]->lit.u.s, f->args[0]->lit.len);
        for (int k = 1; k < na; k++)
            if (!lit_int(f->args[k], &a[k]))
                return verr(pc, f->args[k]->pos, "%s: integer argument expected", fn);
        int ci = col_lookup(&in->rel, colname);
        if (ci < 0)
            return verr(pc, f->args[0]->pos, "%s: column '%s' not found in the cursor", fn,
                        colname);
        p->fn_col = ci;
        if (topk) {
            if (a[1] < 1 || a[1] > 100000)
                return verr(pc, f->args[1]->pos, "K must be 1-100000");
            if (a[2] < 1 || a[2] > 3600)
                return verr(pc, f->args[2]->pos, "window size must be 1-3600 seconds");
            p->fn_k = a[1];
            p->fn_window_ms = a[2] * 1000;
            p->mode = P_TOPK;
            nc = 2;
            cols = palloc(pc, nc * sizeof(*cols));
            if (!cols)
                return SL_ENOMEM;
            cols[0].name = in->rel.cols[ci].name;
            cols[0].type = in->rel.cols[ci].type;
            cols[1].name = "MOST_FREQUENT_VALUES";
            cols[1].type.id = SL_SQL_BIGINT;
        } else {
            if (a[1] < 1 || a[1] > 3600)
                return verr(pc, f->args[1]->pos, "window size must be 1-3600 seconds");
            p->fn_window_ms = a[1] * 1000;
            p->mode = P_CDISTINCT;
            nc = 1;
            cols = palloc(pc, nc * sizeof(*cols));
            if (!cols)
                return SL_ENOMEM;
            cols[0].name = "NUMBER_OF_DISTINCT_ITEMS";
            cols[0].type.id = SL_SQL_BIGINT;
        }
    } else if (!strcmp(fn, "RANDOM_CUT_FOREST") ||
               !strcmp(fn, "RANDOM_CUT_FOREST_WITH_EXPLANATION")) {
        /* numberOfTrees, subSampleSize, timeDecay, shingleSize[, withDirectionality]: trailing
         * ones may be omitted */
        static const int64_t dflt[4] = {100, 256, 100000, 1};
        static const int64_t lo[4] = {1, 10, 1, 1};
        static const int64_t hi[4] = {1000, 1000, 2147483647, 30};
        static const char *const what[4] = {"numberOfTrees", "subSampleSize", "timeDecay",
                                            "shingleSize"};
        int explain = fn[17] == '_';
        if (na > 4 + explain)
            return verr(pc, f->pos, "%s takes a cursor and up to %d arguments", fn, 4 + explain);
        if (explain && na == 5) {
            const sl_node *b = f->args[4];
            if (b->kind != N_LIT || b->lit.type != SL_SQL_BOOLEAN || b->lit.is_null)
                return verr(pc, b->pos, "withDirectionality must be TRUE or FALSE");
            p->fn_params[5] = (double)b->lit.u.i;
        }
        p->fn_params[4] = explain;
        int64_t v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = dflt[k];
            if (k < na && !lit_int(f->args[k], &v[k]))
                return verr(pc, f->args[k]->pos, "%s must be an integer", what[k]);
            if (v[k] < lo[k] || v[k] > hi[k])
                return verr(pc, k < na ? f->args[k]->pos : f->pos, "%s must be %lld-%lld", what[k],
                            (long long)lo[k], (long long)hi[k]);
        }
        int numeric = 0;
        for (size_t c = 0; c < in->rel.n_cols; c++) {
            if (in->rel.cols[c].type.id == SL_SQL_DECIMAL)
                return verr(pc, f->pos, "RANDOM_CUT_FOREST does not accept DECIMAL columns");
            numeric += sl_sql_type_is_numeric(in->rel.cols[c].type.id);
        }
        if (!numeric)
            return verr(pc, f->pos, "RANDOM_CUT_FOREST needs at least one numeric column");
        for (int k = 0; k < 4; k++)
            p->fn_params[k] = (double)v[k];
        p->mode = P_RCF;
        nc = in->rel.n_cols + 1 + (size_t)explain;
        cols = palloc(pc, nc * sizeof(*cols));
        if (!cols)
            return SL_ENOMEM;
        for (size_t c = 0; c < in->rel.n_cols; c++)
            cols[c] = in->rel.cols[c];
        cols[in->rel.n_cols].name = "ANOMALY_SCORE";
        cols[in->rel.n_cols].type.id = SL_SQL_DOUBLE;
        if (explain) {
            cols[nc - 1].name = "ANOMALY_EXPLANATION";
            cols[nc - 1].type.id = SL_SQL_VARCHAR;
            cols[nc - 1].type.len = 20480;
        }
    } else if (!strcmp(fn, "HOTSPOTS")) {
        if (na != 3)
            return verr(pc, f->pos,
                        "HOTSPOTS takes a cursor, windowSize, scanRadius and "
                        "minimumNumberOfPointsInAHotspot");
        int64_t win, minp;
        if (!lit_int(f->args[0], &win) || win < 1 || win > 10000)
            return verr(pc, f->args[0]->pos, "windowSize must be an integer 1-10000");
        const sl_node *r = f->args[1];
        double radius = r->kind == N_LIT && !r->lit.is_null
                            ? (sl_sql_type_is_exact(r->lit.type)     ? (double)r->lit.u.i
                               : sl_sql_type_is_numeric(r->lit.type) ? r->lit.u.d
                                                                     : -1)
                            : -1;
        if (!(radius > 0))
            return verr(pc, r->pos, "scanRadius must be a positive number");
        if (!lit_int(f->args[2], &minp) || minp < 1 || minp > win)
            return verr(pc, f->args[2]->pos,
                        "minimumNumberOfPointsInAHotspot must be an integer 1-windowSize");
        int numeric = 0;
        for (size_t c = 0; c < in->rel.n_cols; c++)
            numeric += sl_sql_type_is_numeric(in->rel.cols[c].type.id);
        if (!numeric)
            return verr(pc, f->pos, "HOTSPOTS needs at least one numeric column");
        p->fn_params[0] = (double)win;
        p->fn_params[1] = radius;
        p->fn_params[2] = (double)minp;
        p->mode = P_HOTSPOTS;
        nc = in->rel.n_cols + 1;
        cols = palloc(pc, nc * sizeof(*cols));
        if (!cols)
            return SL_ENOMEM;
        for (size_t c = 0; c < in->rel.n_cols; c++)
            cols[c] = in->rel.cols[c];
        cols[nc - 1].name = "HOTSPOTS_RESULT";
        cols[nc - 1].type.id = SL_SQL_VARCHAR;
        cols[nc - 1].type.len = 49152;
    } else {
        return verr(pc, f->pos, "table function %s is not supported", fn);
    }
    char *nm = palloc(pc, 32);
    if (!nm)
        return SL_ENOMEM;
    snprintf(nm, 32, "$fn%d", pc->anon_seq++);
    sl_stream *o = new_stream(pc, nm, cols, nc, 3);
    if (!o)
        return SL_ENOMEM;
    p->target = o;
    if ((rc = push_ptr(pc, (void ***)&in->readers, &in->n_readers, p)) ||
        (rc = push_ptr(pc, (void ***)&o->writers, &o->n_writers, p)) ||
        (rc = push_ptr(pc, (void ***)&pc->app->pumps, &pc->app->n_pumps, p)))
        return rc;
    p->clock = INT64_MIN;
    *out = o;
    return 0;
}

/* A log-parsing call as select item `f(s, ...) AS r`: one item per field, named "R.<field>",
 * each evaluating the shared parser (sql/logparse.c). */
static int expand_log_parse(pctx *pc, scope *sc, aggctx *ac, sl_node *call, const char *nm,
                            sl_node ***items, size_t *n_items, char ***names, size_t *n_names)
{
    int rc;
    if (call->over || call->over_name || call->distinct)
        return verr(pc, call->pos, "%s is not an aggregate function", call->names[0]);
    if (!call->n_kids)
        return verr(pc, call->pos, "wrong number of arguments to %s", call->names[0]);
    for (uint32_t k = 0; k < call->n_kids; k++)
        if ((rc = resolve(pc, sc, ac, call->kids[k], CTX_SELECT)))
            return rc;
    uint8_t t = call->kids[0]->type.id;
    if (!is_textual(t) && t != SL_SQL_NULLTYPE)
        return verr(pc, call->kids[0]->pos, "%s parses a character string", call->names[0]);
    char err[160];
    uint32_t epos = call->pos;
    sl_logparse *lp = NULL;
    rc = sl_sql_logparse_compile(call->names[0], call->kids, call->n_kids, &lp, &epos, err,
                                 sizeof(err));
    if (rc == SL_ENOMEM)
        return rc;
    if (rc)
        return verr(pc, epos, "%s: %s", call->names[0], err);
    if ((rc = push_ptr(pc, (void ***)&pc->app->logparsers, &pc->app->n_logparsers, lp))) {
        sl_sql_logparse_free(lp);
        return rc;
    }
    for (size_t k = 0; k < sl_sql_logparse_n_cols(lp); k++) {
        sl_node *c = palloc(pc, sizeof(*c));
        char *f = field_name(pc, nm, sl_sql_logparse_col_name(lp, k));
        if (!c || !f)
            return SL_ENOMEM;
        c->kind = N_CALL;
        c->op = (uint16_t)sl_sql_fn_logparse_id();
        c->pos = call->pos;
        c->names = call->names;
        c->n_names = 1;
        c->kids = call->kids;
        c->n_kids = 1;
        c->aux = lp;
        c->idx = (int32_t)k;
        c->type = sl_sql_logparse_col_type(lp, k);
        if ((rc = push_ptr(pc, (void ***)items, n_items, c)) ||
            (rc = push_ptr(pc, (void ***)names, n_names, f)))
            return rc;
    }
    return 0;
}

static int compile_select(pctx *pc, sl_query *q, sl_stream *target, char **tcols, uint32_t n_tcols,
                          const char *pump_name, sl_stream **out_stream, int top)
{
    int rc;
    if (top && !q->is_stream)
        return verr(pc, q->pos, "a pump's query must be SELECT STREAM");
    if (q->n_order && q->union_next)
        return verr(pc, q->order[0].expr->pos, "ORDER BY over UNION ALL is not supported");
    sl_pump *p = palloc(pc, sizeof(*p));
    if (!p)
        return SL_ENOMEM;
    p->name = (char *)pump_name;
    p->clock = INT64_MIN;
    p->promoted_max = INT64_MIN;
    p->mode = P_PROJECT;
    scope sc = {.windows = q->windows, .n_windows = q->n_windows};
    if ((rc = from_stream(pc, &q->from, &p->source)))
        return rc;
    sc.s0 = p->source;
    sc.alias0 = q->from.alias;
    if (q->has_join) {
        if (q->join.kind != F_NAMED)
            return verr(pc, q->join.pos, "only reference tables and streams can be joined");
        sl_table *t = find_table(pc->app, q->join.name);
        sl_stream *js = t ? NULL : find_stream(pc->app, q->join.name);
        if (!t && !js)
            return verr(pc, q->join.pos, "reference table or stream '%s' not found", q->join.name);
        if (js) {
            /* stream-to-stream: the joined (right) stream carries the window */
            sl_wspec *w = q->join.over;
            if (!w && q->join.over_name) {
                for (uint32_t k = 0; k < q->n_windows && !w; k++)
                    if (!strcmp(q->windows[k].name, q->join.over_name))
                        w = q->windows[k].spec;
                if (!w)
                    return verr(pc, q->join.pos, "window '%s' is not defined", q->join.over_name);
            }
            if (!w)
                return verr(pc, q->join.pos,
                            "a stream-to-stream join needs a window on the joined stream, "
                            "e.g. JOIN s OVER (RANGE INTERVAL '1' HOUR PRECEDING)");
            if (w->n_partition)
                return verr(pc, w->pos, "PARTITION BY is not allowed in a join window");
            if (w->rows)
                return verr(pc, w->pos, "join windows are RANGE windows");
            if (!strcmp(js->rel.name, "error_stream"))
                return verr(pc, q->join.pos, "error_stream cannot be read by SQL");
            p->mode = P_SJOIN;
            p->right = js;
            p->jwin = w;
            p->left_join = q->join_left;
            sc.t1 = &js->rel;
            sc.t1_stream = 1;
            sc.alias1 = q->join.alias;
            if ((rc = resolve(pc, &sc, NULL, q->on, CTX_ON)))
                return rc;
            if (q->on->type.id != SL_SQL_BOOLEAN)
                return verr(pc, q->on->pos, "ON condition must be BOOLEAN");
            p->on = q->on;
            if (q->n_group || q->n_stagger || q->distinct || q->n_order)
                return verr(pc, q->pos,
                            "aggregating or ordering a stream-to-stream join is not supported; "
                            "write the join's rows to a stream and aggregate that");
            /* the joined stream's rows reach the join through a helper reader */
            sl_pump *px = palloc(pc, sizeof(*px));
            if (!px)
                return SL_ENOMEM;
            px->mode = P_JOINSIDE;
            px->source = js;
            px->peer = p;
            px->clock = INT64_MIN;
            if ((rc = push_ptr(pc, (void ***)&js->readers, &js->n_readers, px)) ||
                (rc = push_ptr(pc, (void ***)&pc->app->pumps, &pc->app->n_pumps, px)))
                return rc;
            goto joined;
        }
        if (q->join.over || q->join.over_name)
            return verr(pc, q->join.pos, "OVER is not allowed on a reference table");
        p->table = t;
        p->left_join = q->join_left;
        sc.t1 = &t->rel;
        sc.alias1 = q->join.alias;
        if ((rc = resolve(pc, &sc, NULL, q->on, CTX_ON)))
            return rc;
        if (q->on->type.id != SL_SQL_BOOLEAN)
            return verr(pc, q->on->pos, "ON condition must be BOOLEAN");
        p->on = q->on;
    }
joined:
    if (q->where) {
        if ((rc = resolve(pc, &sc, NULL, q->where, CTX_WHERE)))
            return rc;
        if (q->where->type.id != SL_SQL_BOOLEAN && q->where->type.id != SL_SQL_NULLTYPE)
            return verr(pc, q->where->pos, "WHERE condition must be BOOLEAN");
        p->where = q->where;
    }
    if (q->n_order) {
        if (q->n_group || q->n_stagger || q->distinct)
            return verr(pc, q->order[0].expr->pos,
                        "streaming ORDER BY over an aggregating query is not supported; "
                        "order the aggregate's output stream in another pump");
        for (uint32_t k = 0; k < q->n_order; k++)
            if ((rc = resolve(pc, &sc, NULL, q->order[k].expr, CTX_WHERE)))
                return rc;
        if (!is_mono_key(q->order[0].expr) || q->order[0].desc)
            return verr(pc, q->order[0].expr->pos,
                        "streaming ORDER BY needs an ascending leading key based on ROWTIME, "
                        "e.g. FLOOR(s.ROWTIME TO SECOND)");
        p->mode = P_ORDER;
        p->mono = q->order[0].expr;
        p->order = q->order;
        p->n_order = q->n_order;
    }
    int grouped = q->n_group > 0 || q->n_stagger > 0 || q->distinct;
    aggctx ac = {.p = p, .allow_group = grouped, .allow_over = !grouped, .sc = &sc};
    /* group keys */
    sl_node **keys = q->n_group ? q->group : q->stagger;
    uint32_t n_keys = q->n_group ? q->n_group : q->n_stagger;
    for (uint32_t k = 0; k < n_keys; k++) {
        if ((rc = resolve(pc, &sc, NULL, keys[k], CTX_WHERE)))
            return rc;
    }
    /* expand select items */
    sl_node **items = NULL;
    char **names = NULL;
    size_t n_items = 0, n_names = 0;
    for (uint32_t k = 0; k < q->n_items; k++) {
        sl_sel_item *it = &q->items[k];
        if (!it->expr) {
            int sides = 3;
            if (it->star_qual) {
                int s = qual_side(&sc, it->star_qual);
                if (s < 0)
                    return verr(pc, it->pos, "unknown alias '%s'", it->star_qual);
                sides = 1 << s;
            }
            for (int s = 0; s < 2; s++) {
                if (!(sides & (1 << s)))
                    continue;
                const sl_sql_relation *rel = s == 0 ? &sc.s0->rel : sc.t1;
                if (!rel)
                    continue;
                for (size_t c = 0; c < rel->n_cols; c++) {
                    sl_node *r = palloc(pc, sizeof(*r));
                    if (!r)
                        return SL_ENOMEM;
                    r->kind = N_REF;
                    r->side = s;
                    r->idx = (int32_t)c;
                    r->type = rel->cols[c].type;
                    r->pos = it->pos;
                    if ((rc = push_ptr(pc, (void ***)&items, &n_items, r)) ||
                        (rc = push_ptr(pc, (void ***)&names, &n_names, (void *)rel->cols[c].name)))
                        return rc;
                }
            }
            continue;
        }
        char *nm = it->alias;
        if (!nm && it->expr->kind == N_COL)
            nm = it->expr->names[it->expr->n_names - 1];
        if (!nm) {
            nm = palloc(pc, 16);
            if (!nm)
                return SL_ENOMEM;
            snprintf(nm, 16, "EXPR$%zu", n_items);
        }
        if (it->expr->kind == N_CALL && sl_sql_is_log_parser(it->expr->names[0])) {
            if ((rc = expand_log_parse(pc, &sc, &ac, it->expr, nm, &items, &n_items, &names,
                                       &n_names)))
                return rc;
            continue;
        }
        if ((rc = resolve(pc, &sc, &ac, it->expr, CTX_SELECT)))
            return rc;
        if (it->alias && !strcmp(it->alias, "ROWTIME")) {
            /* promotion: the item sets the output row's time and is not a column */
            if (grouped || q->n_order || p->mode == P_SJOIN)
                return verr(pc, it->pos,
                            "AS ROWTIME is only supported in non-aggregating, unordered, "
                            "unjoined queries");
            if (it->expr->type.id != SL_SQL_TIMESTAMP)
                return verr(pc, it->pos, "an item promoted AS ROWTIME must be a TIMESTAMP");
            if (p->promote)
                return verr(pc, it->pos, "only one item can be promoted AS ROWTIME");
            p->promote = it->expr;
            continue;
        }
        if ((rc = push_ptr(pc, (void ***)&items, &n_items, it->expr)) ||
            (rc = push_ptr(pc, (void ***)&names, &n_names, nm)))
            return rc;
    }
    if (q->having) {
        if (!grouped)
            return verr(pc, q->having->pos, "HAVING needs GROUP BY or WINDOWED BY");
        if ((rc = resolve(pc, &sc, &ac, q->having, CTX_SELECT)))
            return rc;
        p->having = q->having;
    }
    if (q->distinct) {
        if (q->n_group || q->n_stagger)
            return verr(pc, q->pos, "SELECT DISTINCT with GROUP BY is not supported");
        keys = (sl_node **)items;
        n_keys = (uint32_t)n_items;
    }
    if (grouped) {
        /* find the monotonic key */
        int mono = -1;
        for (uint32_t k = 0; k < n_keys; k++) {
            if (has_agg(keys[k]))
                return verr(pc, keys[k]->pos, "aggregates are not allowed in GROUP BY");
            if (!q->n_stagger && is_mono_key(keys[k])) {
                if (mono >= 0)
                    return verr(pc, keys[k]->pos,
                                "GROUP BY has two ROWTIME-based keys; use exactly one");
                mono = (int)k;
            }
        }
        for (uint32_t k = 0; mono < 0 && !q->n_stagger && k < n_keys; k++)
            if (is_declared_mono(keys[k]))
                mono = (int)k; /* no ROWTIME-based key: the asserted one drives the windows */
        if (q->n_stagger) {
            p->mode = P_STAGGER;
            p->stagger_ms = q->stagger_ms;
        } else {
            if (mono < 0)
                return verr(pc, q->distinct ? q->pos : keys[0]->pos,
                            "streaming GROUP BY needs a monotonic key based on ROWTIME, e.g. "
                            "FLOOR(s.ROWTIME TO MINUTE) or STEP(s.ROWTIME BY INTERVAL '1' MINUTE), "
                            "or one declared with MONOTONIC(expr)");
            p->mode = P_TUMBLE;
            p->mono = keys[mono];
            p->mono_pos = mono;
        }
        if (q->distinct) {
            /* items are the keys themselves */
            sl_node **nk = palloc(pc, n_keys * sizeof(*nk));
            if (!nk)
                return SL_ENOMEM;
            for (uint32_t k = 0; k < n_keys; k++) {
                nk[k] = palloc(pc, sizeof(sl_node));
                if (!nk[k])
                    return SL_ENOMEM;
                *nk[k] = *keys[k];
                sl_node *kr = items[k];
                sl_sql_type t = kr->type;
                memset(kr, 0, sizeof(*kr));
                kr->kind = N_KEY;
                kr->idx = (int32_t)k;
                kr->type = t;
            }
            keys = nk;
        } else {
            for (size_t k = 0; k < n_items; k++)
                if ((rc = rewrite_keys(pc, items[k], keys, n_keys)))
                    return rc;
            if (p->having && (rc = rewrite_keys(pc, p->having, keys, n_keys)))
                return rc;
        }
        p->keys = keys;
        p->n_keys = n_keys;
        if (p->mode == P_TUMBLE)
            p->mono = keys[p->mono_pos];
    } else {
        for (size_t k = 0; k < n_items; k++)
            rowtime_to_output(items[k]);
        if (p->promote)
            rowtime_to_output(p->promote);
        if (ac.any_group_agg)
            return verr(pc, q->pos, "aggregates need GROUP BY, WINDOWED BY or OVER");
        if (p->mode == P_ORDER && p->n_windows)
            return verr(pc, q->order[0].expr->pos,
                        "streaming ORDER BY with OVER windows is not supported");
        /* window partition keys (each window once: p->windows holds distinct specs) */
        for (uint32_t w = 0; w < p->n_windows; w++)
            for (uint32_t k = 0; k < p->windows[w]->n_partition; k++)
                if ((rc = resolve(pc, &sc, NULL, p->windows[w]->partition[k], CTX_WHERE)))
                    return rc;
    }
    /* target mapping */
    if (!target) {
        sl_sql_column *cols = palloc(pc, (n_items + 1) * sizeof(*cols));
        if (!cols)
            return SL_ENOMEM;
        for (size_t k = 0; k < n_items; k++) {
            cols[k].name = names[k];
            cols[k].type = items[k]->type;
            if (cols[k].type.id == SL_SQL_NULLTYPE)
                cols[k].type.id = SL_SQL_VARCHAR;
            if (cols[k].type.id == SL_SQL_INTERVAL)
                cols[k].type.id = SL_SQL_BIGINT;
        }
        char *nm = palloc(pc, 32);
        if (!nm)
            return SL_ENOMEM;
        snprintf(nm, 32, "$sub%d", pc->anon_seq++);
        target = new_stream(pc, nm, cols, n_items, 3);
        if (!target)
            return SL_ENOMEM;
    }
    size_t ntc = target->rel.n_cols;
    p->items = palloc(pc, (ntc + 1) * sizeof(sl_node *));
    if (!p->items)
        return SL_ENOMEM;
    p->n_items = (uint32_t)ntc;
    if (n_tcols) {
        if (n_tcols != n_items)
            return verr(pc, q->pos, "the column list has %u columns but the query has %zu", n_tcols,
                        n_items);
        for (uint32_t k = 0; k < n_tcols; k++) {
            int ci = col_lookup(&target->rel, tcols[k]);
            if (ci < 0)
                return verr(pc, q->pos, "column '%s' not found in '%s'", tcols[k],
                            target->rel.name);
            if (p->items[ci])
                return verr(pc, q->pos, "column '%s' listed twice", tcols[k]);
            p->items[ci] = items[k];
        }
        for (size_t c = 0; c < ntc; c++)
            if (!p->items[c]) {
                sl_node *nl = palloc(pc, sizeof(*nl));
                if (!nl)
                    return SL_ENOMEM;
                nl->kind = N_LIT;
                nl->lit.is_null = 1;
                p->items[c] = nl;
            }
    } else {
        if (n_items != ntc)
            return verr(pc, q->pos, "the query has %zu columns but stream '%s' has %zu", n_items,
                        target->rel.name, ntc);
        for (size_t k = 0; k < ntc; k++)
            p->items[k] = items[k];
    }
    for (size_t c = 0; c < ntc; c++)
        if (!assignable(p->items[c]->type.id, target->rel.cols[c].type.id))
            return verr(pc, p->items[c]->pos ? p->items[c]->pos : q->pos,
                        "cannot assign %s to column '%s' of type %s",
                        sl_sql_type_name(p->items[c]->type.id), target->rel.cols[c].name,
                        sl_sql_type_name(target->rel.cols[c].type.id));
    p->target = target;
    if ((rc = push_ptr(pc, (void ***)&p->source->readers, &p->source->n_readers, p)) ||
        (rc = push_ptr(pc, (void ***)&target->writers, &target->n_writers, p)) ||
        (rc = push_ptr(pc, (void ***)&pc->app->pumps, &pc->app->n_pumps, p)))
        return rc;
    if (out_stream)
        *out_stream = target;
    return 0;
}

static int compile_query(pctx *pc, sl_query *q, sl_stream *target, char **tcols, uint32_t n_tcols,
                         const char *pump_name, sl_stream **out_stream, uint32_t stmt_pos)
{
    int rc;
    (void)stmt_pos;
    sl_stream *t = target;
    for (sl_query *b = q; b; b = b->union_next) {
        if ((rc = compile_select(pc, b, t, tcols, n_tcols, pump_name, &t, target != NULL)))
            return rc;
    }
    if (out_stream)
        *out_stream = t;
    return 0;
}

/* ---- statements -------------------------------------------------------------------------- */

static const sl_sql_column error_cols[] = {
    {"ERROR_TIME", {SL_SQL_TIMESTAMP, 0, 0, 0}},   {"ERROR_LEVEL", {SL_SQL_VARCHAR, 0, 0, 10}},
    {"ERROR_NAME", {SL_SQL_VARCHAR, 0, 0, 32}},    {"MESSAGE", {SL_SQL_VARCHAR, 0, 0, 4096}},
    {"DATA_ROWTIME", {SL_SQL_TIMESTAMP, 0, 0, 0}}, {"DATA_ROW", {SL_SQL_VARCHAR, 0, 0, 49152}},
    {"PUMP_NAME", {SL_SQL_VARCHAR, 0, 0, 128}},
};

int sl_sql_plan(sl_sql_app *app, const char *code, size_t len, sl_stmt *stmts, size_t n,
                const sl_sql_env *env, sl_diag *d)
{
    pctx pc = {.app = app, .code = code, .len = len, .d = d};
    int rc;
    /* inputs */
    for (size_t k = 0; k < env->n_inputs; k++) {
        const sl_sql_relation *r = &env->inputs[k];
        sl_sql_column *cols = palloc(&pc, (r->n_cols + 1) * sizeof(*cols));
        char *nm = sl_arena_strndup(&app->arena, r->name, strlen(r->name));
        if (!cols || !nm)
            return SL_ENOMEM;
        for (size_t c = 0; c < r->n_cols; c++) {
            cols[c] = r->cols[c];
            cols[c].name = sl_arena_strndup(&app->arena, r->cols[c].name, strlen(r->cols[c].name));
            if (!cols[c].name)
                return SL_ENOMEM;
        }
        if (!new_stream(&pc, nm, cols, r->n_cols, 0))
            return SL_ENOMEM;
    }
    app->error_stream = new_stream(&pc, "error_stream", (sl_sql_column *)error_cols, 7, 1);
    if (!app->error_stream)
        return SL_ENOMEM;
    app->tables = palloc(&pc, (env->n_tables + 1) * sizeof(sl_table));
    if (!app->tables)
        return SL_ENOMEM;
    for (size_t k = 0; k < env->n_tables; k++) {
        const sl_sql_relation *r = &env->tables[k];
        sl_table *t = &app->tables[k];
        sl_sql_column *cols = palloc(&pc, (r->n_cols + 1) * sizeof(*cols));
        char *nm = sl_arena_strndup(&app->arena, r->name, strlen(r->name));
        if (!cols || !nm)
            return SL_ENOMEM;
        for (size_t c = 0; c < r->n_cols; c++) {
            cols[c] = r->cols[c];
            cols[c].name = sl_arena_strndup(&app->arena, r->cols[c].name, strlen(r->cols[c].name));
            if (!cols[c].name)
                return SL_ENOMEM;
        }
        t->rel.name = nm;
        t->rel.cols = cols;
        t->rel.n_cols = r->n_cols;
        app->n_tables++;
    }
    /* statements in order: a stream must be defined before a pump uses it */
    for (size_t k = 0; k < n; k++) {
        sl_stmt *st = &stmts[k];
        if (!strcmp(st->name, "error_stream"))
            return verr(&pc, st->name_pos, "the name error_stream is reserved for the system");
        for (size_t j = 0; j < k; j++)
            if (stmts[j].is_pump == st->is_pump && !strcmp(stmts[j].name, st->name))
                return verr(&pc, st->name_pos, "%s '%s' is defined twice",
                            st->is_pump ? "pump" : "stream", st->name);
        if (!st->is_pump) {
            if (find_stream(app, st->name) || find_table(app, st->name))
                return verr(&pc, st->name_pos, "'%s' already names an input stream or table",
                            st->name);
            sl_sql_column *cols = palloc(&pc, (st->n_cols + 1) * sizeof(*cols));
            if (!cols)
                return SL_ENOMEM;
            for (uint32_t c = 0; c < st->n_cols; c++) {
                for (uint32_t e = 0; e < c; e++)
                    if (!strcmp(st->cols[e].name, st->cols[c].name))
                        return verr(&pc, st->cols[c].pos, "column '%s' is defined twice",
                                    st->cols[c].name);
                if (!strcmp(st->cols[c].name, "ROWTIME"))
                    return verr(&pc, st->cols[c].pos, "ROWTIME is implicit; do not declare it");
                cols[c].name = st->cols[c].name;
                cols[c].type = st->cols[c].type;
            }
            if (!new_stream(&pc, st->name, cols, st->n_cols, 2))
                return SL_ENOMEM;
            continue;
        }
        if (!strcmp(st->target, "error_stream"))
            return verr(&pc, st->target_pos, "a pump cannot insert into error_stream");
        sl_stream *t = find_stream(app, st->target);
        if (!t) {
            if (find_table(app, st->target))
                return verr(&pc, st->target_pos, "a pump cannot insert into reference table '%s'",
                            st->target);
            return verr(&pc, st->target_pos, "stream '%s' not found", st->target);
        }
        if (t->kind == 0)
            return verr(&pc, st->target_pos, "a pump cannot insert into input stream '%s'",
                        st->target);
        if ((rc = compile_query(&pc, st->query, t, st->target_cols, st->n_target_cols, st->name,
                                NULL, st->pos)))
            return rc;
    }
    return app->arena.oom ? SL_ENOMEM : 0;
}
