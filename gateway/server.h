/* The network server: one libwebsockets context, one loop thread, every connection a raw socket
 * on which Sluice speaks HTTP/1.1 or HTTP/2 itself (see DESIGN.md for why).
 *
 * The gateway itself answers GET /health and GET /metrics (Prometheus text); every other request
 * goes to cfg->route.
 *
 * sl_server_new() binds the listener (port 0 picks a free one) and returns; sl_server_run()
 * serves until sl_server_stop() (async-signal-safe) is called, then closes the listener, lets
 * in-flight exchanges finish for up to drain_ms and returns 0. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stdint.h>

#include "sluice/http.h"

typedef struct sl_auth sl_auth;
typedef struct sl_store sl_store;

/* Chooses the handler for a request head; sl_api_route() in the daemon. */
typedef int (*sl_route_fn)(const sl_http_request *req, sl_route *out);

typedef struct sl_server_config {
    const char *host;     /* "127.0.0.1" */
    int port;             /* 0 = pick a free port */
    const char *tls_cert; /* PEM paths; both NULL = cleartext only */
    const char *tls_key;
    sl_route_fn route; /* required */
    /* Appends the services' own Prometheus samples to /metrics (sl_api_metrics_render in the
     * daemon); may be NULL. Returns 0 or SL_ENOMEM. */
    int (*metrics_extra)(sl_buf *out);
    sl_auth *auth;            /* borrowed; NULL = --auth none */
    sl_store *store;          /* borrowed; for storage figures on /metrics; may be NULL */
    const char *region;       /* default region when a request carries none */
    unsigned max_connections; /* default 20000 */
    unsigned idle_timeout_s;  /* keep-alive idle timeout, default 120 */
    /* A request body that gets no byte for this long (while the server wants more), or output
     * that makes no progress for this long (the peer stopped reading), ends the connection.
     * Default 60 each. */
    unsigned body_timeout_s;
    unsigned write_timeout_s;
    unsigned max_header_bytes; /* per request head, default 64 KiB */
    unsigned drain_ms;         /* on stop, default 5000 */
} sl_server_config;

typedef struct sl_server sl_server;

int sl_server_new(const sl_server_config *cfg, sl_server **out);
/* The bound port (useful with port 0). */
int sl_server_port(const sl_server *s);
int sl_server_run(sl_server *s);
/* Async-signal-safe: asks the loop to stop. */
void sl_server_stop(sl_server *s);
void sl_server_free(sl_server *s);

#endif
