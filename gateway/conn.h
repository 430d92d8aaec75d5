/* Private to the gateway's network layer: connections, exchanges, output queues.
 *
 * Objects and who owns them (all on the loop thread):
 *   sl_server  1 --- n  sl_conn       a conn lives from accept to LWS_CALLBACK_RAW_CLOSE
 *   sl_conn    1 --- n  sl_exchange   HTTP/1: at most one at a time; HTTP/2: one per stream
 * An exchange starts with one reference held by its connection. The connection drops it once
 * on_close has run (exchange finished or connection gone); handlers add their own with
 * sl_exchange_ref(). A detached exchange (conn == NULL) stays readable until the last unref.
 *
 * Output: HTTP/1 exchanges write straight into the connection's queue (they are serial);
 * HTTP/2 exchanges write into their stream queue, which nghttp2's data provider drains into the
 * connection queue as flow control allows. The connection queue is written to the socket from
 * LWS_CALLBACK_RAW_WRITEABLE: one sendmsg() over its blocks on cleartext, one lws_write() of
 * TLS records otherwise. Blocks may refer to sl_rbuf bytes instead of holding a copy. */
#ifndef SLUICE_GATEWAY_CONN_H
#define SLUICE_GATEWAY_CONN_H

#include <libwebsockets.h>
#include <nghttp2/nghttp2.h>
#include <stddef.h>
#include <stdint.h>

#include "h1.h"
#include "metrics.h"
#include "server.h"
#include "sluice/buf.h"
#include "sluice/http.h"

/* Output queue: a chain of blocks. A block either owns its payload (data + LWS_PRE, copied in)
 * or refers to the bytes of an sl_rbuf it holds a reference on (zero-copy bodies). */
typedef struct sl_oblk {
    struct sl_oblk *next;
    size_t off, len, cap; /* bytes [off, len) of the payload are unsent */
    sl_rbuf *ref;         /* non-NULL: payload is ext[0, len), ref keeps it alive; cap == len */
    const uint8_t *ext;
    uint8_t data[];
} sl_oblk;

typedef struct sl_oq {
    sl_oblk *head, *tail;
    size_t bytes;
} sl_oq;

static inline const uint8_t *sl_oblk_bytes(const sl_oblk *b)
{
    return b->ref ? b->ext : b->data + LWS_PRE;
}

int sl_oq_append(sl_oq *q, const void *p, size_t n);
/* Queues n bytes at p, which lie inside r, by reference (takes a reference on r). */
int sl_oq_append_ref(sl_oq *q, sl_rbuf *r, const uint8_t *p, size_t n);
/* Copies up to n bytes out and drops them from the queue; returns how many. */
size_t sl_oq_read(sl_oq *q, uint8_t *dst, size_t n);
/* Drops the first n bytes (n <= bytes), releasing blocks and references. */
void sl_oq_drop(sl_oq *q, size_t n);
/* Moves the first n bytes (n <= src->bytes) from src to the end of dst: referenced and large
 * owned blocks move without copying, small pieces are copied. 0 or SL_ENOMEM (nothing lost:
 * what was not moved stays in src). */
int sl_oq_move(sl_oq *dst, sl_oq *src, size_t n);
void sl_oq_clear(sl_oq *q);

typedef struct sl_conn sl_conn;
typedef struct sl_tls sl_tls;

/* Below this many queued bytes an exchange that asked for it gets on_writable. */
#define SL_WRITABLE_LOW_BYTES (64u * 1024u)
/* Largest single lws_write(). */
#define SL_SCRATCH_BYTES (128u * 1024u)

struct sl_exchange {
    sl_conn *conn; /* NULL once detached */
    int refs;
    sl_http_request req;
    char *head_mem;       /* owned: bytes the request slices point at */
    sl_http_header *hdrs; /* owned */
    sl_buf arena;         /* HTTP/2: header bytes */
    sl_buf body;          /* SL_BODY_BUFFER: the body */
    sl_route route;
    const sl_exchange_ops *ops;
    void *ud;
    char id[37];
    char peer[64];
    char access_key[129];
    char region[64];
    char operation[96];
    int status;
    int64_t start_ns;
    unsigned open : 1;          /* writes allowed */
    unsigned started : 1;       /* response head queued */
    unsigned ended : 1;         /* response complete (queued) */
    unsigned body_done : 1;     /* request body complete */
    unsigned body_end_sent : 1; /* on_body_end delivered */
    unsigned closed_cb : 1;     /* on_close ran */
    unsigned paused : 1;        /* pause_body(1) */
    unsigned want_writable : 1;
    unsigned is_head : 1;         /* HEAD request: no response body */
    unsigned chunked_out : 1;     /* HTTP/1.1 chunked response */
    unsigned close_delimited : 1; /* HTTP/1.0 streamed response: ends with the connection */
    unsigned dispatched : 1;      /* routed */
    unsigned handled : 1;         /* route.handle() called */
    unsigned discard : 1;         /* body is read and dropped */
    unsigned body_stop : 1;       /* on_body returned an error */
    unsigned expect_continue : 1;
    unsigned continue_sent : 1;
    unsigned keep_alive : 1;  /* HTTP/1 */
    unsigned close_after : 1; /* HTTP/1: close the connection after this response */
    unsigned h2_closed : 1;   /* HTTP/2 stream closed by nghttp2 */
    unsigned h2_deferred : 1;
    unsigned h2_rst_sent : 1;
    uint32_t h2_error;
    size_t discarded;
    /* HTTP/2 */
    int32_t stream_id;
    sl_oq sq;          /* stream output queue */
    sl_buf pend;       /* request body received but not yet delivered (bounded by window) */
    void *hdrs_tmp;    /* HTTP/2: head being received (h2.c), owned */
    sl_exchange *next; /* conn's stream list */
};

typedef enum { SL_CONN_UNKNOWN = 0, SL_CONN_H1, SL_CONN_H2 } sl_conn_proto;

struct sl_conn {
    sl_server *srv;
    struct lws *wsi;
    sl_conn *prev, *next; /* server's list */
    sl_conn_proto proto;
    sl_tls *tls;          /* NULL on cleartext */
    sl_buf inbuf;         /* received, not yet parsed */
    sl_oq out;            /* to send (plaintext) */
    sl_h1_parser *h1;     /* HTTP/1 */
    sl_exchange *ex;      /* HTTP/1: current exchange */
    nghttp2_session *h2;  /* HTTP/2 */
    sl_exchange *streams; /* HTTP/2: open exchanges */
    char peer[64];
    int idle_armed;
    int64_t last_rx_ns;     /* monotonic: last bytes received */
    int64_t last_tx_ns;     /* monotonic: last bytes sent, or when the output queue was empty */
    unsigned rx_off : 1;    /* lws_rx_flow_control(0) in force */
    unsigned closing : 1;   /* close once output is flushed */
    unsigned close_now : 1; /* close at the next WRITEABLE */
    unsigned eof : 1;
    unsigned in_progress : 1; /* re-entrancy guard for conn_progress */
    unsigned again : 1;
    unsigned dead : 1;
    unsigned lingering : 1;        /* HTTP/1: answered, write side shut, input read and dropped */
    unsigned h2_goaway_notice : 1; /* shutdown notice + PING sent (stop) */
    unsigned h2_goaway_final : 1;  /* final GOAWAY submitted */
    unsigned h2_input_dead : 1;    /* mem_recv failed: input is dropped */
    int64_t h2_idle_since_ns;      /* HTTP/2: no stream since (0: busy) */
};

struct sl_server {
    sl_server_config cfg;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct lws *listen_wsi;
    int listen_fd;
    int port;
    sl_conn *conns;
    unsigned n_conns;
    volatile int stop_req;
    int stopping;
    int done;
    int64_t drain_deadline_ns;
    void *ssl_ctx;    /* SSL_CTX*, NULL on cleartext */
    uint8_t *scratch; /* LWS_PRE + SL_SCRATCH_BYTES: one write's worth, loop thread */
    sl_metrics metrics;
    lws_sorted_usec_list_t drain_sul;
    lws_sorted_usec_list_t listen_sul;
    lws_sorted_usec_list_t sweep_sul; /* once a second: stalled bodies and writes */
};

/* conn.c */
sl_conn *sl_conn_new(sl_server *s, int fd, const char *peer);
void sl_conn_attach(sl_conn *c, struct lws *wsi);
int sl_conn_on_rx(sl_conn *c, const uint8_t *p, size_t n);
int sl_conn_on_writable(sl_conn *c);
void sl_conn_on_close(sl_conn *c);
void sl_conn_kick(sl_conn *c);      /* ask for a WRITEABLE callback */
void sl_conn_shutdown(sl_conn *c);  /* server is stopping: finish what runs, then close */
int sl_conn_busy(const sl_conn *c); /* has an exchange in progress */
/* Stall check, run once a second: returns a reason when the connection must be cut (a body that
 * stopped arriving, or output the peer stopped reading), else NULL. */
const char *sl_conn_stalled(sl_conn *c, int64_t now_ns);
void sl_conn_progress(sl_conn *c);
/* Once a second from the server's sweep: HTTP/2 connections idle past idle_timeout_s end with
 * GOAWAY (NO_ERROR). (HTTP/1 idles out through lws's timeout.) */
void sl_conn_idle_check(sl_conn *c, int64_t now_ns);
/* Hard close now (stall, drain deadline): HTTP/2 first gets a GOAWAY with h2_code when the
 * socket takes it without blocking; then the socket is shut and lws closes it. */
void sl_conn_cut(sl_conn *c, uint32_t h2_code);

/* Exchange helpers shared by conn.c, h2.c, server.c */
sl_exchange *sl_exchange_new_(sl_conn *c);
void sl_exchange_detach_(sl_exchange *ex, int aborted);
void sl_exchange_dispatch_(sl_exchange *ex);
void sl_exchange_body_(sl_exchange *ex, const uint8_t *p, size_t n);
void sl_exchange_body_end_(sl_exchange *ex);
void sl_exchange_format_date_(char out[40]);

/* h2.c */
int sl_h2_start(sl_conn *c);
int sl_h2_on_input(sl_conn *c);
int sl_h2_fill_output(sl_conn *c);
void sl_h2_progress(sl_conn *c);
void sl_h2_free(sl_conn *c);
void sl_h2_shutdown(sl_conn *c);
/* Fatal end: GOAWAY with code (last processed stream id), then close once it is written. */
void sl_h2_goaway(sl_conn *c, uint32_t code);
int sl_h2_respond_head(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n,
                       int64_t content_length, int has_body);
void sl_h2_kick_stream(sl_exchange *ex);

/* tls.c */
int sl_tls_ctx_new(const char *cert, const char *key, void **out);
void sl_tls_ctx_free(void *ctx);
int sl_tls_new(void *ctx, sl_tls **out);
void sl_tls_free(sl_tls *t);
/* Ciphertext in; plaintext appended to *plain. Returns 0 or SL_EIO. */
int sl_tls_input(sl_tls *t, const uint8_t *p, size_t n, sl_buf *plain);
/* 1 once the handshake finished; *h2 = 1 when ALPN chose "h2". */
int sl_tls_ready(const sl_tls *t, int *h2);
/* Encrypts n plaintext bytes into the pending ciphertext. Returns 0 or SL_EIO. */
int sl_tls_write(sl_tls *t, const uint8_t *p, size_t n);
/* Moves up to cap bytes of pending ciphertext (handshake or records) to dst; returns count. */
size_t sl_tls_take(sl_tls *t, uint8_t *dst, size_t cap);
size_t sl_tls_pending_out(const sl_tls *t);

/* reply.c */
#include "reply.h"

#endif
