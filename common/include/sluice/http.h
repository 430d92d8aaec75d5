/* The HTTP exchange: what a service handler sees of one request and how it answers.
 *
 * The gateway speaks HTTP/1.1 and HTTP/2 itself (gateway/conn.c, gateway/h1.c, gateway/h2.c) and
 * presents each request to api/ as an sl_exchange, whatever the version. Handlers never see
 * sockets, framing or chunking.
 *
 * Lifecycle (all calls on the loop thread):
 *   1. The gateway parses the head, asks sl_api_route() for an sl_route, and -- for
 *      SL_BODY_BUFFER routes -- collects the body (up to route.max_body) before authenticating
 *      and calling route.handle(). For SL_BODY_STREAM routes it authenticates on the head and
 *      calls route.handle() at once; the handler installs sl_exchange_ops to receive the body as
 *      it arrives (on_body, then on_body_end).
 *   2. The handler answers with sl_exchange_respond() (whole body, Content-Length), or with
 *      sl_exchange_start() + sl_exchange_write()... + sl_exchange_end() (chunked on HTTP/1.1,
 *      DATA frames on HTTP/2). It may answer before, during or after the request body (full
 *      duplex: PutMedia ACKs flow while the upload continues; GetMedia never ends on its own).
 *   3. Asynchronous handlers (storage completions, timers) keep the exchange with
 *      sl_exchange_ref() and drop it with sl_exchange_unref(). If the peer goes away first,
 *      on_close(aborted=1) runs, sl_exchange_is_open() turns false and every write becomes a
 *      no-op returning SL_ECLOSED; the memory stays valid until the last unref.
 *
 * Back-pressure: sl_exchange_write() copies into the connection's output queue and never
 * blocks. A producer checks sl_exchange_queued_bytes() and, above its budget, calls
 * sl_exchange_want_writable() and stops until on_writable runs. A consumer that cannot take
 * more body calls sl_exchange_pause_body(ex, 1); the gateway stops reading that stream (on
 * HTTP/2 it withholds WINDOW_UPDATE) until paused again with 0.
 *
 * Zero-copy bodies: sl_exchange_respond_rbuf() / sl_exchange_write_rbuf() send the bytes of an
 * sl_rbuf (an immutable, refcounted buffer) without copying them: the connection holds a
 * reference while they are queued, HTTP/1 cleartext writes them with writev() straight from the
 * buffer, HTTP/2 frames them with nghttp2's NO_COPY data path (TLS still encrypts a copy). The
 * reference is dropped once the bytes are written, or when the stream or connection dies.
 *
 * The gateway adds Date, x-amzn-RequestId (sl_exchange_request_id) and the framing headers
 * (Content-Length / Transfer-Encoding / Connection) itself. */
#ifndef SLUICE_HTTP_H
#define SLUICE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

typedef enum {
    SL_HTTP_OTHER = 0,
    SL_HTTP_GET,
    SL_HTTP_HEAD,
    SL_HTTP_POST,
    SL_HTTP_PUT,
    SL_HTTP_DELETE,
    SL_HTTP_OPTIONS,
} sl_http_method;

typedef struct sl_http_header {
    sl_slice name; /* lower-case on requests; sent as given on responses */
    sl_slice value;
} sl_http_header;

/* Wire protocol of a route; decides the shape of error replies made outside the handler
 * (authentication failures, body too large, ...). */
typedef enum {
    SL_PROTO_PLAIN = 0, /* text/plain errors (health, metrics, static files) */
    SL_PROTO_AWS_JSON,  /* AWS JSON 1.1: {"__type":..., "message":...} */
    SL_PROTO_REST_JSON, /* AWS REST-JSON: x-amzn-ErrorType header + {"__type","Message"} */
} sl_wire_proto;

typedef struct sl_http_request {
    sl_http_method method;
    sl_slice method_name;          /* as sent */
    sl_slice target;               /* request-target as sent (HTTP/2: :path) */
    sl_slice path;                 /* target up to '?', still percent-encoded */
    sl_slice query;                /* after '?', without it; empty when absent */
    sl_slice authority;            /* Host header (HTTP/1.1) or :authority (HTTP/2) */
    const sl_http_header *headers; /* pseudo-headers excluded; names lower-case */
    size_t n_headers;
    int version;            /* 10, 11 or 20 */
    int64_t content_length; /* -1 when unknown (chunked, or HTTP/2 without the header) */
    const char *peer;       /* "127.0.0.1:54321" */
    /* SL_BODY_BUFFER routes: the whole body, valid during handle() and until the exchange is
     * freed. NULL/0 for streamed routes. */
    const uint8_t *body;
    size_t body_len;
    /* Filled by authentication before handle(): empty strings under --auth none. */
    const char *access_key;
    const char *region; /* from the credential scope, or the gateway's default region */
} sl_http_request;

typedef struct sl_exchange sl_exchange;

/* An immutable byte range shared by reference. The bytes must not change while any reference
 * is held. Reference counts are atomic: ref/unref from any thread; free_fn runs on the thread
 * that drops the last reference (usually the loop thread). */
typedef struct sl_rbuf sl_rbuf;
typedef void (*sl_rbuf_free_fn)(void *ud, const void *data);

/* Wraps len bytes at data (not copied) with one reference; free_fn(ud, data) runs once when the
 * last reference goes (free_fn may be NULL for static data). NULL when out of memory; free_fn
 * is not called then and the caller still owns data. */
sl_rbuf *sl_rbuf_wrap(const void *data, size_t len, sl_rbuf_free_fn free_fn, void *ud);
/* Allocates a buffer of len bytes in one block (freed with the last reference); *data is where
 * to write them before sharing. NULL when out of memory. */
sl_rbuf *sl_rbuf_alloc(size_t len, uint8_t **data);
sl_rbuf *sl_rbuf_ref(sl_rbuf *b); /* returns b */
void sl_rbuf_unref(sl_rbuf *b);   /* NULL is ignored */
const uint8_t *sl_rbuf_data(const sl_rbuf *b);
size_t sl_rbuf_len(const sl_rbuf *b);

typedef struct sl_exchange_ops {
    /* A piece of the request body (streamed routes). Return 0, or a negative SL_E* to stop
     * reading (the handler is expected to have answered or to end the exchange). */
    int (*on_body)(sl_exchange *ex, void *ud, const uint8_t *p, size_t n);
    /* The request body is complete. */
    void (*on_body_end)(sl_exchange *ex, void *ud);
    /* Output drained after sl_exchange_want_writable(). */
    void (*on_writable)(sl_exchange *ex, void *ud);
    /* The exchange is finished (aborted=0: response ended and body consumed) or the peer is
     * gone / the connection failed (aborted=1). Runs once; the last callback. */
    void (*on_close)(sl_exchange *ex, void *ud, int aborted);
} sl_exchange_ops;

typedef enum { SL_BODY_BUFFER = 0, SL_BODY_STREAM } sl_body_mode;

typedef struct sl_route {
    sl_body_mode body_mode;
    size_t max_body; /* SL_BODY_BUFFER: bigger bodies are refused (413) */
    sl_wire_proto proto;
    const char *service;   /* SigV4 signing name required ("kinesis"); NULL: no auth */
    const char *operation; /* for metrics and logs, e.g. "Kinesis.ListStreams" */
    void (*handle)(sl_exchange *ex, const sl_http_request *req, void *ud);
    void *ud;
} sl_route;

/* Returns the request; valid for the exchange's lifetime. */
const sl_http_request *sl_exchange_request(const sl_exchange *ex);
/* A UUID, also sent as x-amzn-RequestId. */
const char *sl_exchange_request_id(const sl_exchange *ex);
/* Value of the first request header named lname (lower-case), or an empty slice. */
sl_slice sl_http_header_get(const sl_http_request *req, const char *lname);

void sl_exchange_set_ops(sl_exchange *ex, const sl_exchange_ops *ops, void *ud);
/* Overrides the operation name recorded in metrics (set by the route otherwise). */
void sl_exchange_set_operation(sl_exchange *ex, const char *operation);

/* Whole response with Content-Length. hdrs are extra headers (Content-Type, ...). */
int sl_exchange_respond(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs,
                        const void *body, size_t len);
/* As sl_exchange_respond() with the body bytes [off, off + len) of body, sent without copying:
 * the exchange takes its own reference (the caller keeps its own). SL_EINVAL if the range is
 * outside body. */
int sl_exchange_respond_rbuf(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs,
                             sl_rbuf *body, size_t off, size_t len);
/* Streamed response: head now, body in pieces. */
int sl_exchange_start(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs);
/* Copies n bytes into the output queue; a zero-length write is ignored. */
int sl_exchange_write(sl_exchange *ex, const void *p, size_t n);
/* As sl_exchange_write() with bytes [off, off + len) of b, queued by reference, not copied. */
int sl_exchange_write_rbuf(sl_exchange *ex, sl_rbuf *b, size_t off, size_t len);
/* Ends the streamed response (HTTP/1.1: last chunk; HTTP/2: END_STREAM). */
int sl_exchange_end(sl_exchange *ex);

size_t sl_exchange_queued_bytes(const sl_exchange *ex);
void sl_exchange_want_writable(sl_exchange *ex);
void sl_exchange_pause_body(sl_exchange *ex, int paused);

int sl_exchange_is_open(const sl_exchange *ex);
void sl_exchange_ref(sl_exchange *ex);
void sl_exchange_unref(sl_exchange *ex);

#endif
