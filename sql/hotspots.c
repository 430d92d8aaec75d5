/* HOTSPOTS: dense regions among the most recent rows (spec §2.7 table functions).
 *
 * HOTSPOTS(CURSOR(...), windowSize, scanRadius, minimumNumberOfPointsInAHotspot) keeps the
 * numeric columns of the last windowSize rows as points. For every row it clusters those points
 * with DBSCAN (Ester et al. 1996): a point with at least minimumNumberOfPointsInAHotspot points
 * (itself included) within Euclidean distance scanRadius is a core point; core points within
 * scanRadius of each other, and the points they reach, form one hotspot. Each hotspot is
 * reported with the bounding box of its points (minValues/maxValues, in column order) and a
 * density: the hotspot's share of the window's points divided by its box's share of the
 * window's box (over the dimensions where the window has extent; 1 means "as dense as the
 * window on average"). The JSON of HOTSPOTS_RESULT lists hotspots by density, densest first:
 *   {"hotspots":[{"density":d,"minValues":[...],"maxValues":[...]},...]}
 * The exact density definition of the AWS service is not published; this one is Sluice's.
 * Cost per row is O(windowSize^2 * columns). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

struct hotspots_state {
    int window, min_pts, d;
    double radius;
    int *col_idx;
    double *pts; /* ring of window points */
    int n, head;
    int *label, *queue;
};

struct hotspots_state *sl_sql_hotspots_new(int window, double radius, int min_pts,
                                           const sl_sql_relation *in)
{
    struct hotspots_state *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->window = window;
    s->radius = radius;
    s->min_pts = min_pts;
    s->col_idx = calloc(in->n_cols + 1, sizeof(int));
    if (!s->col_idx)
        goto fail;
    for (size_t k = 0; k < in->n_cols; k++)
        if (sl_sql_type_is_numeric(in->cols[k].type.id))
            s->col_idx[s->d++] = (int)k;
    s->pts = calloc((size_t)window * (size_t)(s->d ? s->d : 1), sizeof(double));
    s->label = calloc((size_t)window, sizeof(int));
    s->queue = calloc((size_t)window, sizeof(int));
    if (!s->pts || !s->label || !s->queue)
        goto fail;
    return s;
fail:
    sl_sql_hotspots_free(s);
    return NULL;
}

void sl_sql_hotspots_free(struct hotspots_state *s)
{
    if (!s)
        return;
    free(s->col_idx);
    free(s->pts);
    free(s->label);
    free(s->queue);
    free(s);
}

static const double *pt(const struct hotspots_state *s, int i)
{
    return s->pts + (size_t)((s->head + i) % s->window) * (size_t)s->d;
}

static int near(const struct hotspots_state *s, int a, int b)
{
    const double *x = pt(s, a), *y = pt(s, b);
    double sum = 0;
    for (int j = 0; j < s->d; j++)
        sum += (x[j] - y[j]) * (x[j] - y[j]);
    return sum <= s->radius * s->radius;
}

static int count_near(const struct hotspots_state *s, int a)
{
    int c = 0;
    for (int b = 0; b < s->n; b++)
        c += near(s, a, b);
    return c;
}

typedef struct spot {
    double density;
    int first; /* label */
} spot;

static int cmp_spot(const void *x, const void *y)
{
    const spot *a = x, *b = y;
    return a->density > b->density ? -1 : a->density < b->density;
}

static void put_num(sl_buf *o, double v)
{
    char b[40];
    sl_sql_format_double(v, b, sizeof(b));
    sl_buf_append_str(o, b);
}

int sl_sql_hotspots_row(struct hotspots_state *s, const sl_sql_value *row, sl_buf *out)
{
    /* append the row's point (NULL counts as 0) */
    int slot;
    if (s->n < s->window) {
        slot = (s->head + s->n) % s->window;
        s->n++;
    } else {
        slot = s->head;
        s->head = (s->head + 1) % s->window;
    }
    for (int j = 0; j < s->d; j++) {
        const sl_sql_value *v = &row[s->col_idx[j]];
        s->pts[(size_t)slot * (size_t)s->d + (size_t)j] =
            v->is_null ? 0
            : (v->type == SL_SQL_REAL || v->type == SL_SQL_DOUBLE || v->type == SL_SQL_DECIMAL)
                ? v->u.d
                : (double)v->u.i;
    }
    /* DBSCAN: label 0 unvisited, -1 noise, k > 0 cluster k */
    memset(s->label, 0, (size_t)s->n * sizeof(int));
    int clusters = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->label[i])
            continue;
        if (count_near(s, i) < s->min_pts) {
            s->label[i] = -1;
            continue;
        }
        int c = ++clusters, qh = 0, qt = 0;
        s->label[i] = c;
        s->queue[qt++] = i;
        while (qh < qt) {
            int p = s->queue[qh++];
            if (count_near(s, p) < s->min_pts)
                continue; /* border point: part of the cluster, does not expand it */
            for (int b = 0; b < s->n; b++) {
                if (s->label[b] > 0 || !near(s, p, b))
                    continue;
                s->label[b] = c;
                s->queue[qt++] = b;
            }
        }
    }
    /* window box */
    double *wlo = calloc((size_t)s->d + 1, sizeof(double));
    double *whi = calloc((size_t)s->d + 1, sizeof(double));
    double *lo = calloc((size_t)s->d + 1, sizeof(double));
    double *hi = calloc((size_t)s->d + 1, sizeof(double));
    spot *spots = calloc((size_t)clusters + 1, sizeof(spot));
    int rc = 0;
    if (!wlo || !whi || !lo || !hi || !spots) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (int j = 0; j < s->d; j++) {
        wlo[j] = INFINITY;
        whi[j] = -INFINITY;
        for (int i = 0; i < s->n; i++) {
            double x = pt(s, i)[j];
            wlo[j] = x < wlo[j] ? x : wlo[j];
            whi[j] = x > whi[j] ? x : whi[j];
        }
    }
    for (int c = 1; c <= clusters; c++) {
        int cnt = 0;
        for (int j = 0; j < s->d; j++) {
            lo[j] = INFINITY;
            hi[j] = -INFINITY;
        }
        for (int i = 0; i < s->n; i++) {
            if (s->label[i] != c)
                continue;
            cnt++;
            for (int j = 0; j < s->d; j++) {
                double x = pt(s, i)[j];
                lo[j] = x < lo[j] ? x : lo[j];
                hi[j] = x > hi[j] ? x : hi[j];
            }
        }
        double vol_share = 1;
        for (int j = 0; j < s->d; j++) {
            double w = whi[j] - wlo[j];
            if (w > 0) /* a point-like hotspot still has the scan radius as extent */
                vol_share *= fmax(hi[j] - lo[j], s->radius) / fmax(w, s->radius);
        }
        spots[c - 1].density = ((double)cnt / s->n) / vol_share;
        spots[c - 1].first = c;
    }
    qsort(spots, (size_t)clusters, sizeof(spot), cmp_spot);
    sl_buf_append_str(out, "{\"hotspots\":[");
    for (int k = 0; k < clusters; k++) {
        int c = spots[k].first;
        for (int j = 0; j < s->d; j++) {
            lo[j] = INFINITY;
            hi[j] = -INFINITY;
        }
        for (int i = 0; i < s->n; i++)
            if (s->label[i] == c)
                for (int j = 0; j < s->d; j++) {
                    double x = pt(s, i)[j];
                    lo[j] = x < lo[j] ? x : lo[j];
                    hi[j] = x > hi[j] ? x : hi[j];
                }
        sl_buf_append_str(out, k ? ",{\"density\":" : "{\"density\":");
        put_num(out, spots[k].density);
        sl_buf_append_str(out, ",\"minValues\":[");
        for (int j = 0; j < s->d; j++) {
            if (j)
                sl_buf_append_byte(out, ',');
            put_num(out, lo[j]);
        }
        sl_buf_append_str(out, "],\"maxValues\":[");
        for (int j = 0; j < s->d; j++) {
            if (j)
                sl_buf_append_byte(out, ',');
            put_num(out, hi[j]);
        }
        sl_buf_append_str(out, "]}");
    }
    sl_buf_append_str(out, "]}");
    if (out->oom)
        rc = SL_ENOMEM;
out:
    free(wlo);
    free(whi);
    free(lo);
    free(hi);
    free(spots);
    return rc;
}
