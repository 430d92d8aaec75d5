/* Request metrics of the gateway, rendered as Prometheus text on GET /metrics.
 *
 * Kept on the loop thread only (no locks): per operation a latency histogram and a count per
 * (HTTP status, HTTP version) -- sluice_requests_total{operation,status,http} with http "1.0",
 * "1.1" or "2"; per server the bytes received and sent and the connections accepted. Operation
 * names are copied in (at most SL_METRICS_MAX_OPS distinct ones; more are counted as "other"). */
#ifndef SLUICE_GATEWAY_METRICS_H
#define SLUICE_GATEWAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

#define SL_METRICS_MAX_OPS    512
#define SL_METRICS_BUCKETS    14
#define SL_METRICS_MAX_STATUS 12

typedef struct sl_store sl_store;

typedef struct sl_metrics_op {
    char name[96];
    uint64_t buckets[SL_METRICS_BUCKETS]; /* non-cumulative; +Inf = count */
    uint64_t count;
    double sum_s;
    int status[SL_METRICS_MAX_STATUS];
    int version[SL_METRICS_MAX_STATUS]; /* 10, 11, 20 */
    uint64_t status_n[SL_METRICS_MAX_STATUS];
    int n_status;
} sl_metrics_op;

typedef struct sl_metrics {
    sl_metrics_op *ops; /* owned */
    size_t n_ops, cap_ops;
    uint64_t bytes_in, bytes_out;
    uint64_t conns_accepted;
    uint64_t conns_stalled; /* cut for a stalled body or a peer that stopped reading */
} sl_metrics;

void sl_metrics_init(sl_metrics *m);
void sl_metrics_cleanup(sl_metrics *m);
/* Counts one finished request. op may be NULL ("unknown"); version is 10, 11 or 20. */
void sl_metrics_record(sl_metrics *m, const char *op, int status, int version, double seconds);
/* Appends the Prometheus exposition to out. store may be NULL. Returns 0 or SL_ENOMEM. */
int sl_metrics_render(const sl_metrics *m, unsigned open_conns, sl_store *store, sl_buf *out);

#endif
