/* RANDOM_CUT_FOREST: streaming anomaly scores with a robust random cut forest (Guha, Mishra,
 * Roy, Schrijvers, "Robust Random Cut Forest Based Anomaly Detection on Streams", ICML 2016).
 *
 * The forest has numberOfTrees trees, each built over a sample of at most subSampleSize
 * points. A point is the concatenation of the numeric columns of the last shingleSize rows.
 * For each row:
 *   1. the point is inserted into every tree with the RRCF insertion algorithm (walk down from
 *      the root; at each node draw a cut on the bounding box of node ∪ point, dimension chosen
 *      with probability proportional to its span; a cut that separates the point from the
 *      node's box makes a new internal node there, else the walk continues into the child on
 *      the point's side); identical points share a leaf with a count;
 *   2. its score in a tree is the collusive displacement (CoDisp) of its leaf: the largest
 *      ratio, along the path to the root, of the sibling subtree's size to the size of the
 *      subtree holding the point; ANOMALY_SCORE is the mean over the trees;
 *   3. each tree then keeps the point in its sample with probability
 *      max(S / n, S / timeDecay) (n = points seen; a time-decayed reservoir: once timeDecay
 *      points have passed, the sample keeps renewing at a constant rate), evicting a random
 *      sample point, or removes it again.
 * Until the trees hold subSampleSize points the score is 0 (warm-up). Randomness comes from a
 * per-pump xorshift generator seeded from the application seed, so runs repeat exactly.
 * Non-numeric columns pass through and are not part of the point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

typedef struct rnode {
    int left, right, parent; /* -1 for none; leaves have left == right == -1 */
    int count;
    int cut_dim;
    double cut_val;
    double *lo, *hi; /* bounding box (leaves: lo == hi == the point) */
} rnode;

typedef struct rtree {
    rnode *nodes;
    int n_nodes, cap_nodes;
    int *free_list;
    int n_free;
    int root;
    int *samples; /* leaf id per sampled point (a leaf of count c appears c times) */
    int n_samples;
    double *boxes; /* 2 * d doubles per node */
} rtree;

struct rcf_state {
    rtree *trees;
    int n_trees, sample, shingle, d, cols;
    int64_t decay;
    uint64_t rng;
    uint64_t seen;
    double *window; /* last shingle rows' numeric values */
    int filled;
    double *point;
    int *col_idx;       /* numeric columns of the input */
    double *high, *low; /* per dimension attribution of the last score (explanations) */
};

static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double uniform(uint64_t *s)
{
    return (double)(next_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

static int node_new(rtree *t, int d)
{
    int id;
    if (t->n_free) {
        id = t->free_list[--t->n_free];
    } else {
        if (t->n_nodes == t->cap_nodes)
            return -1;
        id = t->n_nodes++;
    }
    rnode *n = &t->nodes[id];
    n->left = n->right = n->parent = -1;
    n->count = 0;
    n->lo = t->boxes + (size_t)id * 2 * d;
    n->hi = n->lo + d;
    return id;
}

static void node_free(rtree *t, int id)
{
    t->free_list[t->n_free++] = id;
}

static int is_leaf(const rnode *n)
{
    return n->left < 0;
}

/* Inserts p; returns the leaf holding it. */
static int tree_insert(rtree *t, const double *p, int d, uint64_t *rng)
{
    if (t->root < 0) {
        int id = node_new(t, d);
        rnode *n = &t->nodes[id];
        memcpy(n->lo, p, d * sizeof(double));
        memcpy(n->hi, p, d * sizeof(double));
        n->count = 1;
        t->root = id;
        return id;
    }
    int cur = t->root;
    for (;;) {
        rnode *n = &t->nodes[cur];
        double span = 0;
        for (int j = 0; j < d; j++) {
            double lo = p[j] < n->lo[j] ? p[j] : n->lo[j];
            double hi = p[j] > n->hi[j] ? p[j] : n->hi[j];
            span += hi - lo;
        }
        if (span == 0) {
            /* p equals this leaf's point (an internal node always spans > 0) */
            for (int a = cur; a >= 0; a = t->nodes[a].parent)
                t->nodes[a].count++;
            return cur;
        }
        double r = uniform(rng) * span;
        int dim = d - 1;
        double cut = 0;
        for (int j = 0; j < d; j++) {
            double lo = p[j] < n->lo[j] ? p[j] : n->lo[j];
            double hi = p[j] > n->hi[j] ? p[j] : n->hi[j];
            if (r < hi - lo || j == d - 1) {
                dim = j;
                cut = lo + r;
                break;
            }
            r -= hi - lo;
        }
        int left_new = p[dim] <= cut && cut < n->lo[dim];
        int right_new = n->hi[dim] <= cut && cut < p[dim];
        if (left_new || right_new) {
            int leaf = node_new(t, d);
            int in = node_new(t, d);
            if (leaf < 0 || in < 0)
                return -1;
            n = &t->nodes[cur]; /* node_new does not move nodes; keep the pointer fresh */
            rnode *lf = &t->nodes[leaf], *iv = &t->nodes[in];
            memcpy(lf->lo, p, d * sizeof(double));
            memcpy(lf->hi, p, d * sizeof(double));
            lf->count = 1;
            iv->cut_dim = dim;
            iv->cut_val = cut;
            iv->count = n->count + 1;
            for (int j = 0; j < d; j++) {
                iv->lo[j] = p[j] < n->lo[j] ? p[j] : n->lo[j];
                iv->hi[j] = p[j] > n->hi[j] ? p[j] : n->hi[j];
            }
            iv->left = left_new ? leaf : cur;
            iv->right = left_new ? cur : leaf;
            iv->parent = n->parent;
            if (n->parent < 0)
                t->root = in;
            else if (t->nodes[n->parent].left == cur)
                t->nodes[n->parent].left = in;
            else
                t->nodes[n->parent].right = in;
            n->parent = in;
            lf->parent = in;
            return leaf;
        }
        /* the cut falls inside the node's box: extend it and descend */
        n->count++;
        for (int j = 0; j < d; j++) {
            if (p[j] < n->lo[j])
                n->lo[j] = p[j];
            if (p[j] > n->hi[j])
                n->hi[j] = p[j];
        }
        if (is_leaf(n)) {
            /* unreachable: a leaf whose point differs is always separated */
            n->count--;
            return -1;
        }
        cur = p[n->cut_dim] <= n->cut_val ? n->left : n->right;
    }
}

static void tree_delete(rtree *t, int leaf, int d)
{
    rnode *lf = &t->nodes[leaf];
    if (lf->count > 1) {
        for (int a = leaf; a >= 0; a = t->nodes[a].parent)
            t->nodes[a].count--;
        return;
    }
    int par = lf->parent;
    node_free(t, leaf);
    if (par < 0) {
        t->root = -1;
        return;
    }
    rnode *pn = &t->nodes[par];
    int sib = pn->left == leaf ? pn->right : pn->left;
    int gp = pn->parent;
    t->nodes[sib].parent = gp;
    if (gp < 0)
        t->root = sib;
    else if (t->nodes[gp].left == par)
        t->nodes[gp].left = sib;
    else
        t->nodes[gp].right = sib;
    node_free(t, par);
    for (int a = gp; a >= 0; a = t->nodes[a].parent) {
        rnode *n = &t->nodes[a];
        rnode *l = &t->nodes[n->left], *r = &t->nodes[n->right];
        n->count = l->count + r->count;
        for (int j = 0; j < d; j++) {
            n->lo[j] = l->lo[j] < r->lo[j] ? l->lo[j] : r->lo[j];
            n->hi[j] = l->hi[j] > r->hi[j] ? l->hi[j] : r->hi[j];
        }
    }
}

/* CoDisp of leaf; *at gets the sibling subtree where the largest ratio was found (-1: none). */
static double codisp(const rtree *t, int leaf, int *at)
{
    double best = 0;
    int cur = leaf;
    *at = -1;
    while (t->nodes[cur].parent >= 0) {
        const rnode *p = &t->nodes[t->nodes[cur].parent];
        int sib = p->left == cur ? p->right : p->left;
        double r = (double)t->nodes[sib].count / (double)t->nodes[cur].count;
        if (r > best) {
            best = r;
            *at = sib;
        }
        cur = t->nodes[cur].parent;
    }
    return best;
}

/* Splits one tree's score over the dimensions by how far the point lies outside the box of
 * the subtree it was displaced from: above it counts as HIGH, below as LOW. */
static void attribute(const rtree *t, int sib, const double *p, int d, double score, double *high,
                      double *low)
{
    const rnode *b = &t->nodes[sib];
    double total = 0;
    for (int j = 0; j < d; j++)
        total += p[j] > b->hi[j] ? p[j] - b->hi[j] : p[j] < b->lo[j] ? b->lo[j] - p[j] : 0;
    for (int j = 0; j < d; j++) {
        double x = p[j] > b->hi[j] ? p[j] - b->hi[j] : p[j] < b->lo[j] ? b->lo[j] - p[j] : 0;
        double share = total > 0 ? score * x / total : score / d;
        if (p[j] < b->lo[j])
            low[j] += share;
        else
            high[j] += share;
    }
}

struct rcf_state *sl_sql_rcf_new(int trees, int sample, int64_t decay, int shingle,
                                 const sl_sql_relation *in, uint64_t seed);
struct rcf_state *sl_sql_rcf_new(int trees, int sample, int64_t decay, int shingle,
                                 const sl_sql_relation *in, uint64_t seed)
{
    struct rcf_state *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->col_idx = calloc(in->n_cols + 1, sizeof(int));
    if (!s->col_idx)
        goto fail;
    for (size_t k = 0; k < in->n_cols; k++)
        if (sl_sql_type_is_numeric(in->cols[k].type.id))
            s->col_idx[s->cols++] = (int)k;
    s->n_trees = trees;
    s->sample = sample;
    s->decay = decay;
    s->shingle = shingle;
    s->d = s->cols * shingle;
    s->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
    s->window = calloc((size_t)s->d + 1, sizeof(double));
    s->point = calloc((size_t)s->d + 1, sizeof(double));
    s->high = calloc((size_t)s->d + 1, sizeof(double));
    s->low = calloc((size_t)s->d + 1, sizeof(double));
    s->trees = calloc((size_t)trees, sizeof(rtree));
    if (!s->window || !s->point || !s->trees || !s->high || !s->low)
        goto fail;
    int cap = 2 * sample + 4;
    for (int k = 0; k < trees; k++) {
        rtree *t = &s->trees[k];
        t->root = -1;
        t->cap_nodes = cap;
        t->nodes = calloc((size_t)cap, sizeof(rnode));
        t->free_list = calloc((size_t)cap, sizeof(int));
        t->samples = calloc((size_t)sample + 1, sizeof(int));
        t->boxes = calloc((size_t)cap * 2 * (size_t)s->d + 1, sizeof(double));
        if (!t->nodes || !t->free_list || !t->samples || !t->boxes)
            goto fail;
    }
    return s;
fail:
    sl_sql_rcf_free(s);
    return NULL;
}

void sl_sql_rcf_free(struct rcf_state *s)
{
    if (!s)
        return;
    for (int k = 0; s->trees && k < s->n_trees; k++) {
        free(s->trees[k].nodes);
        free(s->trees[k].free_list);
        free(s->trees[k].samples);
        free(s->trees[k].boxes);
    }
    free(s->trees);
    free(s->window);
    free(s->point);
    free(s->high);
    free(s->low);
    free(s->col_idx);
    free(s);
}

double sl_sql_rcf_score(struct rcf_state *s, const sl_sql_value *row)
{
    /* shift the shingle and append this row's numeric values (NULL counts as 0) */
    if (s->shingle > 1)
        memmove(s->window, s->window + s->cols, (size_t)(s->d - s->cols) * sizeof(double));
    for (int c = 0; c < s->cols; c++) {
        const sl_sql_value *v = &row[s->col_idx[c]];
        double x =
            v->is_null ? 0
            : (v->type == SL_SQL_REAL || v->type == SL_SQL_DOUBLE || v->type == SL_SQL_DECIMAL)
                ? v->u.d
                : (double)v->u.i;
        s->window[s->d - s->cols + c] = x;
    }
    if (s->filled < s->shingle)
        s->filled++;
    if (s->filled < s->shingle || s->d == 0)
        return 0;
    memcpy(s->point, s->window, (size_t)s->d * sizeof(double));
    memset(s->high, 0, (size_t)s->d * sizeof(double));
    memset(s->low, 0, (size_t)s->d * sizeof(double));
    uint64_t n = ++s->seen;
    int warm = n <= (uint64_t)s->sample;
    double keep_p = (double)s->sample / (double)n;
    double floor_p = s->decay > 0 ? (double)s->sample / (double)s->decay : 0;
    if (keep_p < floor_p)
        keep_p = floor_p;
    double total = 0;
    for (int k = 0; k < s->n_trees; k++) {
        rtree *t = &s->trees[k];
        int leaf = tree_insert(t, s->point, s->d, &s->rng);
        if (leaf < 0)
            continue;
        if (!warm) {
            int at;
            double c = codisp(t, leaf, &at);
            total += c;
            if (at >= 0 && c > 0)
                attribute(t, at, s->point, s->d, c / s->n_trees, s->high, s->low);
        }
        if (t->n_samples < s->sample) {
            t->samples[t->n_samples++] = leaf;
        } else if (uniform(&s->rng) < keep_p) {
            int victim = (int)(next_rand(&s->rng) % (uint64_t)t->n_samples);
            int old = t->samples[victim];
            t->samples[victim] = leaf;
            /* a leaf of count c is referenced by exactly c sample entries, so a leaf is freed
             * only when no entry refers to it any more */
            tree_delete(t, old, s->d);
        } else {
            tree_delete(t, leaf, s->d);
        }
    }
    return warm ? 0 : total / s->n_trees;
}

int sl_sql_rcf_explain(const struct rcf_state *s, const sl_sql_relation *in, int directional,
                       sl_buf *out)
{
    sl_buf_append_byte(out, '{');
    for (int c = 0; c < s->cols; c++) {
        double hi = 0, lo = 0;
        for (int j = c; j < s->d; j += s->cols) {
            hi += s->high[j];
            lo += s->low[j];
        }
        double a = hi + lo;
        sl_buf_printf(out, "%s\"%s\":{", c ? "," : "", in->cols[s->col_idx[c]].name);
        if (directional)
            sl_buf_printf(out, "\"DIRECTION\":\"%s\",\"STRENGTH\":\"%.4f\",",
                          hi >= lo ? "HIGH" : "LOW", a > 0 ? (hi > lo ? hi - lo : lo - hi) / a : 0);
        sl_buf_printf(out, "\"ATTRIBUTION_SCORE\":\"%.4f\"}", a);
    }
    sl_buf_append_byte(out, '}');
    return out->oom ? SL_ENOMEM : 0;
}
