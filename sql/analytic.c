/* Table functions over tumbling windows: TOP_K_ITEMS_TUMBLING and
 * COUNT_DISTINCT_ITEMS_TUMBLING (and the RANDOM_CUT_FOREST pump, whose model is in rcf.c).
 *
 * Windows are epoch-aligned, [floor(t / w) * w, + w), and close when the pump's clock reaches
 * the end; their rows carry ROWTIME = end. State per window is bounded:
 *   - TOP_K counts items exactly while at most MAX_EXACT distinct items were seen; past that it
 *     is Space-Saving (Metwally et al. 2005): MAX_EXACT counters, a new item takes over the
 *     smallest counter (min-heap) and inherits its count + 1, so counts are upper bounds and
 *     every item more frequent than n / MAX_EXACT is kept. It emits up to K rows (value, count)
 *     by count descending, ties in first-seen order.
 *   - COUNT_DISTINCT counts exactly up to MAX_EXACT distinct non-NULL values, then switches to
 *     HyperLogLog (Flajolet et al. 2007; 2^14 registers, about 0.8 % standard error, with the
 *     linear-counting correction for small ranges). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

#define MAX_EXACT 10000
#define HLL_P     14
#define HLL_M     (1u << HLL_P)

typedef struct item {
    sl_gent e;
    int64_t count;
    size_t seen;
    size_t heap_pos;
} item;

struct sl_fn_state {
    sl_gtab tab;
    item **items; /* first-seen order */
    size_t n, cap;
    item **heap; /* Space-Saving: min-heap by count (built when the table is full) */
    int have;
    int64_t end;
    uint8_t *hll; /* COUNT_DISTINCT past MAX_EXACT */
    size_t next_seen;
};

static void fn_reset(sl_fn_state *fs)
{
    for (size_t k = 0; k < fs->n; k++) {
        free(fs->items[k]->e.keys);
        free(fs->items[k]);
    }
    fs->n = 0;
    sl_gtab_clear(&fs->tab);
    free(fs->heap);
    fs->heap = NULL;
    free(fs->hll);
    fs->hll = NULL;
    fs->have = 0;
    fs->next_seen = 0;
}

static int cmp_items(const void *a, const void *b)
{
    const item *x = *(item *const *)a, *y = *(item *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->seen < y->seen ? -1 : x->seen > y->seen;
}

/* ---- HyperLogLog ------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static void hll_add(uint8_t *reg, uint64_t h)
{
    h = mix64(h);
    uint32_t idx = (uint32_t)(h >> (64 - HLL_P));
    uint64_t rest = h << HLL_P | (1ull << (HLL_P - 1)); /* guard bit bounds the rank */
    uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);
    if (rank > reg[idx])
        reg[idx] = rank;
}

static int64_t hll_estimate(const uint8_t *reg)
{
    double sum = 0;
    int zeros = 0;
    for (uint32_t k = 0; k < HLL_M; k++) {
        sum += ldexp(1.0, -reg[k]);
        zeros += reg[k] == 0;
    }
    double m = HLL_M;
    double est = 0.7213 / (1 + 1.079 / m) * m * m / sum;
    if (est <= 2.5 * m && zeros)
        est = m * log(m / zeros);
    return (int64_t)llround(est);
}

/* ---- Space-Saving heap ------------------------------------------------------------------- */

static void heap_swap(item **h, size_t a, size_t b)
{
    item *t = h[a];
    h[a] = h[b];
    h[b] = t;
    h[a]->heap_pos = a;
    h[b]->heap_pos = b;
}

static void heap_down(item **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l]->count < h[m]->count)
            m = l;
        if (r < n && h[r]->count < h[m]->count)
            m = r;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

static int heap_build(sl_fn_state *fs)
{
    fs->heap = malloc(fs->n * sizeof(item *));
    if (!fs->heap)
        return SL_ENOMEM;
    memcpy(fs->heap, fs->items, fs->n * sizeof(item *));
    for (size_t k = 0; k < fs->n; k++)
        fs->heap[k]->heap_pos = k;
    for (size_t k = fs->n / 2; k-- > 0;)
        heap_down(fs->heap, fs->n, k);
    return 0;
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
        v.u.i = fs->hll ? hll_estimate(fs->hll) : (int64_t)fs->n;
        sl_sql_stream_insert(app, p->target, rt, &v);
    }
    fn_reset(fs);
}

/* Adds a distinct value to the exact table. */
static item *item_add(sl_fn_state *fs, const sl_sql_value *v, uint64_t h)
{
    item *it = calloc(1, sizeof(*it));
    if (!it)
        return NULL;
    it->e.hash = h;
    it->e.keys = sl_sql_values_dup(v, 1);
    if (!it->e.keys || sl_gtab_insert(&fs->tab, &it->e)) {
        free(it->e.keys);
        free(it);
        return NULL;
    }
    if (fs->n == fs->cap) {
        size_t nc = fs->cap ? fs->cap * 2 : 64;
        item **ni = realloc(fs->items, nc * sizeof(*ni));
        if (!ni) {
            sl_gtab_remove(&fs->tab, &it->e);
            free(it->e.keys);
            free(it);
            return NULL;
        }
        fs->items = ni;
        fs->cap = nc;
    }
    it->seen = fs->next_seen++;
    fs->items[fs->n++] = it;
    return it;
}

static int topk_add(sl_fn_state *fs, const sl_sql_value *v, uint64_t h)
{
    item *it = (item *)sl_gtab_find(&fs->tab, v, h);
    if (it) {
        it->count++;
        if (fs->heap)
            heap_down(fs->heap, fs->n, it->heap_pos);
        return 0;
    }
    if (fs->n < MAX_EXACT) {
        it = item_add(fs, v, h);
        if (!it)
            return SL_ENOMEM;
        it->count = 1;
        return 0;
    }
    if (!fs->heap && heap_build(fs))
        return SL_ENOMEM;
    /* Space-Saving: the new item replaces the least counted one and inherits its count */
    item *min = fs->heap[0];
    sl_sql_value *nk = sl_sql_values_dup(v, 1);
    if (!nk)
        return SL_ENOMEM;
    sl_gtab_remove(&fs->tab, &min->e);
    free(min->e.keys);
    min->e.keys = nk;
    min->e.hash = h;
    min->count++;
    min->seen = fs->next_seen++;
    if (sl_gtab_insert(&fs->tab, &min->e))
        return SL_ENOMEM;
    heap_down(fs->heap, fs->n, 0);
    return 0;
}

static int cdistinct_add(sl_fn_state *fs, const sl_sql_value *v, uint64_t h)
{
    if (fs->hll) {
        hll_add(fs->hll, h);
        return 0;
    }
    if (sl_gtab_find(&fs->tab, v, h))
        return 0;
    if (fs->n < MAX_EXACT)
        return item_add(fs, v, h) ? 0 : SL_ENOMEM;
    /* past the exact limit: move everything into HyperLogLog */
    fs->hll = calloc(HLL_M, 1);
    if (!fs->hll)
        return SL_ENOMEM;
    for (size_t k = 0; k < fs->n; k++) {
        hll_add(fs->hll, fs->items[k]->e.hash);
        free(fs->items[k]->e.keys);
        free(fs->items[k]);
    }
    fs->n = 0;
    sl_gtab_clear(&fs->tab);
    hll_add(fs->hll, h);
    return 0;
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
    int explain = p->fn_params[4] != 0;
    sl_sql_value *out = sl_arena_alloc(&p->scratch, (n + 2) * sizeof(*out));
    if (!out)
        return SL_ENOMEM;
    memcpy(out, row, n * sizeof(*out));
    memset(&out[n], 0, 2 * sizeof(out[n]));
    out[n].type = SL_SQL_DOUBLE;
    out[n].u.d = sl_sql_rcf_score(p->rcf, row);
    sl_buf b = SL_BUF_INIT;
    if (explain) {
        if (sl_sql_rcf_explain(p->rcf, &p->source->rel, p->fn_params[5] != 0, &b)) {
            sl_buf_cleanup(&b);
            return SL_ENOMEM;
        }
        out[n + 1].type = SL_SQL_VARCHAR;
        out[n + 1].u.s = b.data;
        out[n + 1].len = (uint32_t)b.len;
    }
    sl_sql_stream_insert(app, p->target, rowtime, out);
    sl_buf_cleanup(&b);
    return 0;
}

static int hotspots_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    if (!p->hot) {
        p->hot = sl_sql_hotspots_new((int)p->fn_params[0], p->fn_params[1], (int)p->fn_params[2],
                                     &p->source->rel);
        if (!p->hot)
            return SL_ENOMEM;
    }
    size_t n = p->source->rel.n_cols;
    sl_sql_value *out = sl_arena_alloc(&p->scratch, (n + 1) * sizeof(*out));
    if (!out)
        return SL_ENOMEM;
    memcpy(out, row, n * sizeof(*out));
    sl_buf b = SL_BUF_INIT;
    int rc = sl_sql_hotspots_row(p->hot, row, &b);
    if (!rc) {
        memset(&out[n], 0, sizeof(out[n]));
        out[n].type = SL_SQL_VARCHAR;
        out[n].u.s = b.data;
        out[n].len = (uint32_t)(b.len > 49152 ? 49152 : b.len);
        sl_sql_stream_insert(app, p->target, rowtime, out);
    }
    sl_buf_cleanup(&b);
    return rc;
}

int sl_sql_fn_row(sl_sql_app *app, sl_pump *p, int64_t rowtime, const sl_sql_value *row)
{
    if (p->mode == P_RCF)
        return rcf_row(app, p, rowtime, row);
    if (p->mode == P_HOTSPOTS)
        return hotspots_row(app, p, rowtime, row);
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
    return p->mode == P_TOPK ? topk_add(fs, v, h) : cdistinct_add(fs, v, h);
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
    sl_sql_hotspots_free(p->hot);
    p->hot = NULL;
    if (!p->fstate)
        return;
    fn_reset(p->fstate);
    free(p->fstate->items);
    free(p->fstate->heap);
    sl_gtab_free(&p->fstate->tab);
    free(p->fstate);
    p->fstate = NULL;
}
