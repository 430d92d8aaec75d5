/* Prometheus metrics for the gateway (see metrics.h).
 *
 * Operations live in a small array searched linearly, with the last hit cached: a gateway has
 * about a hundred operations and requests of one kind come in runs. Histogram buckets are kept
 * non-cumulative and summed when rendered, the form Prometheus expects:
 *   sluice_request_duration_seconds_bucket{operation="X",le="0.001"} <count of <= 1 ms> */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"
#include "sluice/storage.h"

static const double bucket_le[SL_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

void sl_metrics_init(sl_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void sl_metrics_cleanup(sl_metrics *m)
{
    free(m->ops);
    memset(m, 0, sizeof(*m));
}

static sl_metrics_op *find_op(sl_metrics *m, const char *name)
{
    for (size_t i = 0; i < m->n_ops; i++)
        if (strcmp(m->ops[i].name, name) == 0)
            return &m->ops[i];
    /* The last slot is kept for "other", which takes every name beyond the cap. */
    if (m->n_ops >= SL_METRICS_MAX_OPS - 1 && strcmp(name, "other") != 0)
        return find_op(m, "other");
    if (m->n_ops == SL_METRICS_MAX_OPS)
        return NULL;
    if (m->n_ops == m->cap_ops) {
        size_t ncap = m->cap_ops ? m->cap_ops * 2 : 32;
        sl_metrics_op *n = realloc(m->ops, ncap * sizeof(*n));
        if (!n)
            return NULL;
        m->ops = n;
        m->cap_ops = ncap;
    }
    sl_metrics_op *o = &m->ops[m->n_ops++];
    memset(o, 0, sizeof(*o));
    snprintf(o->name, sizeof(o->name), "%s", name);
    return o;
}

void sl_metrics_record(sl_metrics *m, const char *op, int status, int version, double seconds)
{
    sl_metrics_op *o = find_op(m, op && *op ? op : "unknown");
    if (!o)
        return;
    o->count++;
    o->sum_s += seconds;
    for (int i = 0; i < SL_METRICS_BUCKETS; i++) {
        if (seconds <= bucket_le[i]) {
            o->buckets[i]++;
            break;
        }
    }
    for (int i = 0; i < o->n_status; i++) {
        if (o->status[i] == status && o->version[i] == version) {
            o->status_n[i]++;
            return;
        }
    }
    /* Past the cap the last slot is reused (counts of rare pairs merge into it). */
    int slot = o->n_status < SL_METRICS_MAX_STATUS ? o->n_status++ : SL_METRICS_MAX_STATUS - 1;
    if (o->status[slot] != status || o->version[slot] != version) {
        o->status[slot] = status;
        o->version[slot] = version;
        o->status_n[slot] = 0;
    }
    o->status_n[slot]++;
}

/* Operation names come from the route table or handlers; escape what the text format needs. */
static void label(sl_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sl_buf_append_byte(out, '\\');
        if (*s == '\n') {
            sl_buf_append_str(out, "\\n");
            continue;
        }
        sl_buf_append_byte(out, (uint8_t)*s);
    }
}

int sl_metrics_render(const sl_metrics *m, unsigned open_conns, sl_store *store, sl_buf *out)
{
    sl_buf_append_str(out, "# HELP sluice_requests_total Requests answered, by operation, "
                           "HTTP status and HTTP version.\n# TYPE sluice_requests_total counter\n");
    for (size_t i = 0; i < m->n_ops; i++) {
        const sl_metrics_op *o = &m->ops[i];
        for (int k = 0; k < o->n_status; k++) {
            sl_buf_append_str(out, "sluice_requests_total{operation=\"");
            label(out, o->name);
            int v = o->version[k];
            sl_buf_printf(out, "\",status=\"%d\",http=\"%s\"} %llu\n", o->status[k],
                          v == 20   ? "2"
                          : v == 10 ? "1.0"
                                    : "1.1",
                          (unsigned long long)o->status_n[k]);
        }
    }
    sl_buf_append_str(out, "# HELP sluice_request_duration_seconds Time from request head to "
                           "the end of the response.\n"
                           "# TYPE sluice_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n_ops; i++) {
        const sl_metrics_op *o = &m->ops[i];
        uint64_t cum = 0;
        for (int b = 0; b < SL_METRICS_BUCKETS; b++) {
            cum += o->buckets[b];
            sl_buf_append_str(out, "sluice_request_duration_seconds_bucket{operation=\"");
            label(out, o->name);
            sl_buf_printf(out, "\",le=\"%g\"} %llu\n", bucket_le[b], (unsigned long long)cum);
        }
        sl_buf_append_str(out, "sluice_request_duration_seconds_bucket{operation=\"");
        label(out, o->name);
        sl_buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)o->count);
        sl_buf_append_str(out, "sluice_request_duration_seconds_sum{operation=\"");
        label(out, o->name);
        sl_buf_printf(out, "\"} %.6f\n", o->sum_s);
        sl_buf_append_str(out, "sluice_request_duration_seconds_count{operation=\"");
        label(out, o->name);
        sl_buf_printf(out, "\"} %llu\n", (unsigned long long)o->count);
    }
    sl_buf_printf(out,
                  "# HELP sluice_open_connections Client connections open now.\n"
                  "# TYPE sluice_open_connections gauge\nsluice_open_connections %u\n"
                  "# HELP sluice_connections_total Client connections accepted.\n"
                  "# TYPE sluice_connections_total counter\nsluice_connections_total %llu\n"
                  "# HELP sluice_stalled_connections_total Connections cut because the request "
                  "body stalled or the peer stopped reading.\n"
                  "# TYPE sluice_stalled_connections_total counter\n"
                  "sluice_stalled_connections_total %llu\n"
                  "# HELP sluice_received_bytes_total Bytes received from clients.\n"
                  "# TYPE sluice_received_bytes_total counter\nsluice_received_bytes_total %llu\n"
                  "# HELP sluice_sent_bytes_total Bytes sent to clients.\n"
                  "# TYPE sluice_sent_bytes_total counter\nsluice_sent_bytes_total %llu\n",
                  open_conns, (unsigned long long)m->conns_accepted,
                  (unsigned long long)m->conns_stalled, (unsigned long long)m->bytes_in,
                  (unsigned long long)m->bytes_out);
    if (store) {
        sl_store_stats st;
        memset(&st, 0, sizeof(st));
        sl_store_stats_get(store, &st);
        sl_buf_printf(out,
                      "# HELP sluice_storage_bytes Bytes on disk (segments + catalog).\n"
                      "# TYPE sluice_storage_bytes gauge\nsluice_storage_bytes %llu\n"
                      "# HELP sluice_storage_appends_total Appends made durable.\n"
                      "# TYPE sluice_storage_appends_total counter\n"
                      "sluice_storage_appends_total %llu\n"
                      "# HELP sluice_storage_fsyncs_total fdatasync calls.\n"
                      "# TYPE sluice_storage_fsyncs_total counter\n"
                      "sluice_storage_fsyncs_total %llu\n"
                      "# HELP sluice_storage_batches_total Group-commit batches.\n"
                      "# TYPE sluice_storage_batches_total counter\n"
                      "sluice_storage_batches_total %llu\n",
                      (unsigned long long)st.bytes_on_disk, (unsigned long long)st.appends,
                      (unsigned long long)st.fsyncs, (unsigned long long)st.batches);
    }
    return out->oom ? SL_ENOMEM : 0;
}
