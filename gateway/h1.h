/* HTTP/1.1 request framing without sockets: head parsing, body de-chunking, response heads.
 *
 * sl_h1_parser wraps Debian's http_parser (the one Node.js used for a decade). The caller feeds
 * bytes with sl_h1_parser_feed(); the parser stops (and says why) at each point where the
 * caller has to decide something outside of the parser's own call stack:
 *
 *   SL_H1_MORE       every byte was consumed; feed more when it arrives.
 *   SL_H1_HEAD       a request head is complete (sl_h1_parser_head()); the caller routes it,
 *                    then calls sl_h1_parser_resume() and feeds the rest.
 *   SL_H1_BODY_PAUSE the body callback asked to stop; resume when the consumer wants more.
 *   SL_H1_END        the request (head + body) is complete; resume for the next request.
 *   SL_H1_ERROR      the input is not HTTP/1.x; sl_h1_parser_status() is the status to answer
 *                    (400, 413, 431, 505) and the connection must close after that answer.
 *
 * The consumed count tells how many input bytes were used; the rest must be fed again after
 * resuming (pipelined requests stay in the caller's buffer meanwhile). The head is held in one
 * growable buffer of at most max_head_bytes (431 beyond); header names are lower-cased in place.
 * sl_h1_parser_take_head() hands that memory to the request's owner so the next head starts
 * with a fresh buffer. Single-threaded; no I/O. Fuzzed by tests/fuzz/fuzz_http1.c. */
#ifndef SLUICE_GATEWAY_H1_H
#define SLUICE_GATEWAY_H1_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/http.h"

typedef enum {
    SL_H1_MORE = 0,
    SL_H1_HEAD,
    SL_H1_BODY_PAUSE,
    SL_H1_END,
    SL_H1_ERROR,
} sl_h1_event;

/* A parsed request head. Slices point into the parser's head memory (see take_head). */
typedef struct sl_h1_head {
    sl_http_method method;
    sl_slice method_name;
    sl_slice target;
    sl_slice authority;      /* Host header, empty when absent */
    sl_http_header *headers; /* names lower-case */
    size_t n_headers;
    int version;            /* 10 or 11 */
    int64_t content_length; /* -1 when absent or chunked */
    int chunked;
    int keep_alive;      /* http_should_keep_alive(): 1.1 default on, 1.0 needs the header */
    int expect_continue; /* "Expect: 100-continue" */
    int has_body;        /* chunked or content_length > 0 */
} sl_h1_head;

/* Receives body bytes (already de-chunked). Return 0 to go on, 1 to pause after this piece. */
typedef int (*sl_h1_body_fn)(void *ctx, const uint8_t *p, size_t n);

typedef struct sl_h1_parser sl_h1_parser;

/* max_head_bytes: 431 above it (http_parser itself also stops at 80 KiB). on_body/ctx receive
 * the body; both may be NULL for a parser that discards bodies. NULL when out of memory.
 * (Opaque because http_parser.h and libwebsockets.h both define enum http_status.) */
sl_h1_parser *sl_h1_parser_new(size_t max_head_bytes, sl_h1_body_fn on_body, void *ctx);
void sl_h1_parser_free(sl_h1_parser *p);
/* The event the parser is stopped at (HEAD, BODY_PAUSE, END), or SL_H1_MORE when running. */
sl_h1_event sl_h1_parser_stopped_at(const sl_h1_parser *p);

/* Feeds len bytes; *consumed tells how many were used. Returns the event that stopped it. */
sl_h1_event sl_h1_parser_feed(sl_h1_parser *p, const uint8_t *data, size_t len, size_t *consumed);
/* Continues after SL_H1_HEAD, SL_H1_BODY_PAUSE or SL_H1_END. */
void sl_h1_parser_resume(sl_h1_parser *p);
/* The peer closed: returns 1 when that cut a request short (head or body incomplete). */
int sl_h1_parser_eof_is_abort(const sl_h1_parser *p);
/* 1 between SL_H1_HEAD and SL_H1_END (the body is still arriving). */
int sl_h1_parser_in_body(const sl_h1_parser *p);
/* 1 when at least one byte of a next request head has been parsed. */
int sl_h1_parser_in_head(const sl_h1_parser *p);
const sl_h1_head *sl_h1_parser_head(const sl_h1_parser *p);
int sl_h1_parser_status(const sl_h1_parser *p);

/* Transfers the memory behind the current head to the caller: *mem (free()) holds every byte
 * the head's slices point at, *hdrs (free()) the header array. The head stays readable through
 * the returned pointers only. */
void sl_h1_parser_take_head(sl_h1_parser *p, char **mem, sl_http_header **hdrs);

/* Reason phrase for a status code ("OK", "Not Found", ...); "Unknown" otherwise. */
const char *sl_http_reason(int status);

#endif
