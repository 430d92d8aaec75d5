/* Table functions over tumbling windows: TOP_K_ITEMS_TUMBLING and
 * COUNT_DISTINCT_ITEMS_TUMBLING.
 *
 * Windows are epoch-aligned, [floor(t / w) * w, + w), and close when the pump's clock reaches
 * the end; their rows carry ROWTIME = end. Items are counted exactly in a hash table of the
 * column's values (first-seen order kept for ties). TOP_K emits up to K rows (value, count)
 * by count descending, ties in first-seen order; COUNT_DISTINCT emits one row with the number
 * of distinct non-NULL values. Exact counting is the spec's behaviour up to 10,000 distinct
 * items; beyond that Sluice still counts exactly (memory grows with distinct items per window;
 * the Space-Saving / HyperLogLog bounds are not implemented yet). */
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

typedef struct item {
    sl_gent e;
    int64_t count;
    size_t seen;
} item;

struct sl_fn_state {
    sl_gtab tab;
    item **items;
    size_t n, cap;
    int have;
    int64_t end;
};

static void fn_reset(sl_fn_state *fs)
{
    for (size_t k = 0; k < fs->n; k++) {
        free(fs->items[k]->e.keys);
        free(fs->items[k]);
    }
    fs->n = 0;
    sl_gtab_clear(&fs->tab);
    fs->have = 0;
}

static int cmp_items(const void *a, const void *b)
{
    const item *x = *(item *const *)a, *y = *(item *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->seen < y->seen ? -1 : x->seen > y->seen;
}

static void fn_emit(sl_sql_app *app, sl_pump *p)
{
    sl_fn_state *fs = p->fstate;
    if (!fs || !fs->have)
        return;
    int64_t rt = fs->end;
    if (p->mode == P_TOPK) {
        qsort(fs->items, fs->n, sizeof(*fs->items), cmp_items);
        size_t k_max = (size_t)p->fn_k < fs->n ? (size_t)p->fn_k : fs->n;
        for (size_t k = 0; k < k_max; k++) {
            sl_sql_value v[2];
            v[0] = fs->items[k]->e.keys[0];
            memset(&v[1], 0, sizeof(v[1]));
            v[1].type = SL_SQL_BIGINT;
            v[1].u.i = fs->items[k]->count;
            sl_sql_stream_insert(app, p->target, rt, v);
        }
    } else {
        sl_sql_value v;
        memset(&v, 0, sizeof(v));
        v.type = SL_SQL_BIGINT;
        v.u.i = (int64_t)fs->n;
        sl_sql_stream_insert(app, p->target, rt, &v);
    }
    fn_reset(fs);
}

struct rcf_state *sl_sql_rcf_new(int trees, int sample, int64_t decay, int shingle,
                                 const sl_sql_relation *in, uint64_t seed);

static int rcf_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    if (!p->rcf) {
        /* seed: the application's, mixed with the pump's position in the graph */
        uint64_t seed = app->seed * 0x9E3779B97F4A7C15ull;
        for (size_t k = 0; k < app->n_pumps; k++)
            if (app->pumps[k] == p)
                seed ^= (k + 1) * 0xBF58476D1CE4E5B9ull;
        p->rcf =
            sl_sql_rcf_new((int)p->fn_params[0], (int)p->fn_params[1], (int64_t)p->fn_params[2],
                           (int)p->fn_params[3], &p->source->rel, seed);
        if (!p->rcf)
            return SL_ENOMEM;
    }
    size_t n = p->source->rel.n_cols;
    sl_sql_value *out = sl_arena_alloc(&p->scratch, (n + 1) * sizeof(*out));
    if (!out)
        return SL_ENOMEM;
    memcpy(out, row, n * sizeof(*out));
    memset(&out[n], 0, sizeof(out[n]));
    out[n].type = SL_SQL_DOUBLE;
    out[n].u.d = sl_sql_rcf_score(p->rcf, row);
    sl_sql_stream_insert(app, p->target, rowtime, out);
    return 0;
}

int sl_sql_fn_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    if (p->mode == P_RCF)
        return rcf_row(app, p, rowtime, row);
    if (!p->fstate) {
        p->fstate = calloc(1, sizeof(*p->fstate));
        if (!p->fstate)
            return SL_ENOMEM;
        p->fstate->tab.n_keys = 1;
    }
    sl_fn_state *fs = p->fstate;
    if (fs->have && rowtime >= fs->end)
        fn_emit(app, p);
    if (!fs->have) {
        int64_t w = p->fn_window_ms;
        int64_t start = rowtime / w * w - ((rowtime % w) < 0 ? w : 0);
        fs->end = start + w;
        fs->have = 1;
    }
    const sl_sql_value *v = &row[p->fn_col];
    if (v->is_null)
        return 0;
    uint64_t h = sl_gtab_hash(v, 1);
    item *it = (item *)sl_gtab_find(&fs->tab, v, h);
    if (!it) {
        it = calloc(1, sizeof(*it));
        if (!it)
            return SL_ENOMEM;
        it->e.hash = h;
        it->e.keys = sl_sql_values_dup(v, 1);
        if (!it->e.keys || sl_gtab_insert(&fs->tab, &it->e)) {
            free(it->e.keys);
            free(it);
            return SL_ENOMEM;
        }
        if (fs->n == fs->cap) {
            size_t nc = fs->cap ? fs->cap * 2 : 64;
            item **ni = realloc(fs->items, nc * sizeof(*ni));
            if (!ni) {
                sl_gtab_remove(&fs->tab, &it->e);
                free(it->e.keys);
                free(it);
                return SL_ENOMEM;
            }
            fs->items = ni;
            fs->cap = nc;
        }
        it->seen = fs->n;
        fs->items[fs->n++] = it;
    }
    it->count++;
    return 0;
}

void sl_sql_fn_advance(sl_sql_app *app, sl_pump *p, int64_t clock)
{
    if (p->fstate && p->fstate->have && clock >= p->fstate->end)
        fn_emit(app, p);
}

void sl_sql_fn_free(sl_pump *p)
{
    sl_sql_rcf_free(p->rcf);
    p->rcf = NULL;
    if (!p->fstate)
        return;
    fn_reset(p->fstate);
    free(p->fstate->items);
    sl_gtab_free(&p->fstate->tab);
    free(p->fstate);
    p->fstate = NULL;
}
