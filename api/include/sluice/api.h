/* The service layer: routing requests to Kinesis, Kinesis Video, Firehose and Analytics handlers.
 *
 * sl_api_init() is called once on the loop thread before the server accepts connections;
 * sl_api_route() is called by the gateway for every request head and decides how the body is
 * delivered, which SigV4 service name it must be signed for, and which handler answers it.
 * Handlers answer through the sl_exchange functions in sluice/http.h and build AWS-shaped
 * replies with the helpers in sluice/wire.h. */
#ifndef SLUICE_API_H
#define SLUICE_API_H

#include "sluice/http.h"

typedef struct sl_store sl_store; /* storage/include/sluice/storage.h */

typedef struct sl_api_config {
    const char *region;     /* default region, e.g. "us-east-1" */
    const char *account_id; /* 12 digits, used in ARNs */
    const char *base_url;   /* "http://127.0.0.1:4567": what GetDataEndpoint returns */
    sl_store *store;        /* borrowed; outlives the api */
} sl_api_config;

/* Copies what it needs from cfg. Returns 0 or SL_E*. */
int sl_api_init(const sl_api_config *cfg);
void sl_api_shutdown(void);
/* Updates the base URL once the listening port is known. */
void sl_api_set_base_url(const char *base_url);

/* Fills *out for req's head (method, path, headers). Returns 0, or SL_ENOTFOUND when nothing
 * serves this request; in that case *out still carries the protocol to shape the 404/400 with
 * and out->handle answers it (so the gateway can call it uniformly). */
int sl_api_route(const sl_http_request *req, sl_route *out);

/* Appends the services' Prometheus samples (Firehose's CloudWatch-named metrics, ...) to out,
 * for the gateway's /metrics. Loop thread. Returns 0 or SL_ENOMEM. */
int sl_api_metrics_render(sl_buf *out);

#endif
