/* The sl_exchange API of sluice/http.h, and the per-request pipeline shared by HTTP/1 and /2.
 *
 * Pipeline for one request (sl_exchange_dispatch_, then body events):
 *   1. GET|HEAD /health and /metrics are answered here.
 *   2. cfg->route() picks an sl_route. No handler -> 404 shaped by the route's protocol.
 *   3. SL_BODY_BUFFER: Content-Length above max_body -> 413 at once; otherwise the body is
 *      collected (413 as soon as it grows past max_body), then authenticated, then handle().
 *      SL_BODY_STREAM: authenticated on the head (the payload hash is the header's), handle()
 *      at once; body pieces go to ops->on_body, the end to ops->on_body_end.
 *   "Expect: 100-continue" is answered with "100 Continue" only when the request got past the
 *   checks that could refuse it without reading the body.
 *
 * Responses: HTTP/1 heads and chunk framing are written here into the connection queue;
 * HTTP/2 goes through h2.c. Every response carries Date and x-amzn-RequestId. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "auth.h"
#include "conn.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/time.h"

/* ---- ids and dates ---- */

static void uuid4(char out[37])
{
    static uint8_t pool[4096];
    static size_t avail;
    if (avail < 16) {
        size_t got = 0;
        while (got < sizeof(pool)) {
            ssize_t r = getrandom(pool + got, sizeof(pool) - got, 0);
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        if (got < sizeof(pool)) { /* no entropy source: still unique enough per process */
            uint64_t t = (uint64_t)sl_time_mono_ns();
            for (size_t i = got; i < sizeof(pool); i++)
                pool[i] = (uint8_t)((t >> ((i % 8) * 8)) ^ (i * 131u));
        }
        avail = sizeof(pool);
    }
    uint8_t *b = pool + sizeof(pool) - avail;
    avail -= 16;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hx[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hx[b[i] >> 4];
        *o++ = hx[b[i] & 15];
    }
    *o = '\0';
}

void sl_exchange_format_date_(char out[40])
{
    static time_t last;
    static char cached[40];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(cached, sizeof(cached), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    memcpy(out, cached, sizeof(cached));
}

/* ---- lifetime ---- */

sl_exchange *sl_exchange_new_(sl_conn *c)
{
    sl_exchange *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    ex->conn = c;
    ex->refs = 1;
    ex->open = 1;
    ex->start_ns = sl_time_mono_ns();
    uuid4(ex->id);
    snprintf(ex->peer, sizeof(ex->peer), "%s", c->peer);
    snprintf(ex->region, sizeof(ex->region), "%s", c->srv->cfg.region ? c->srv->cfg.region : "");
    ex->req.peer = ex->peer;
    ex->req.access_key = ex->access_key;
    ex->req.region = ex->region;
    ex->req.content_length = -1;
    sl_buf_init(&ex->arena);
    sl_buf_init(&ex->body);
    sl_buf_init(&ex->pend);
    return ex;
}

static void exchange_free(sl_exchange *ex)
{
    free(ex->head_mem);
    free(ex->hdrs);
    sl_buf_cleanup(&ex->arena);
    sl_buf_cleanup(&ex->body);
    sl_buf_cleanup(&ex->pend);
    sl_oq_clear(&ex->sq);
    free(ex);
}

void sl_exchange_ref(sl_exchange *ex)
{
    ex->refs++;
}

void sl_exchange_unref(sl_exchange *ex)
{
    if (ex && --ex->refs == 0)
        exchange_free(ex);
}

/* Ends the exchange for the connection: metrics, on_close, and the connection's reference. */
void sl_exchange_detach_(sl_exchange *ex, int aborted)
{
    sl_conn *c = ex->conn;
    if (!c)
        return;
    double secs = (double)(sl_time_mono_ns() - ex->start_ns) / 1e9;
    int status = ex->started ? ex->status : (aborted ? 499 : 0);
    sl_metrics_record(&c->srv->metrics, ex->operation, status,
                      c->proto == SL_CONN_H2  ? 20
                      : ex->req.version == 10 ? 10
                                              : 11,
                      secs);
    ex->open = 0;
    ex->conn = NULL;
    sl_oq_clear(&ex->sq);
    sl_buf_cleanup(&ex->pend);
    if (!ex->closed_cb) {
        ex->closed_cb = 1;
        if (ex->ops && ex->ops->on_close)
            ex->ops->on_close(ex, ex->ud, aborted);
    }
    sl_exchange_unref(ex);
}

/* ---- accessors ---- */

const sl_http_request *sl_exchange_request(const sl_exchange *ex)
{
    return &ex->req;
}

const char *sl_exchange_request_id(const sl_exchange *ex)
{
    return ex->id;
}

sl_slice sl_http_header_get(const sl_http_request *req, const char *lname)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (sl_slice_eq(req->headers[i].name, lname))
            return req->headers[i].value;
    return (sl_slice){"", 0};
}

void sl_exchange_set_ops(sl_exchange *ex, const sl_exchange_ops *ops, void *ud)
{
    ex->ops = ops;
    ex->ud = ud;
    if (ex->conn)
        sl_conn_kick(ex->conn); /* a body that waited for ops can flow now */
}

void sl_exchange_set_operation(sl_exchange *ex, const char *operation)
{
    snprintf(ex->operation, sizeof(ex->operation), "%s", operation ? operation : "");
}

int sl_exchange_is_open(const sl_exchange *ex)
{
    return ex->open && ex->conn != NULL;
}

size_t sl_exchange_queued_bytes(const sl_exchange *ex)
{
    if (!ex->conn)
        return 0;
    if (ex->conn->proto == SL_CONN_H2)
        return ex->sq.bytes + ex->conn->out.bytes;
    return ex->conn->out.bytes;
}

void sl_exchange_want_writable(sl_exchange *ex)
{
    if (!ex->conn)
        return;
    ex->want_writable = 1;
    sl_conn_kick(ex->conn);
}

void sl_exchange_pause_body(sl_exchange *ex, int paused)
{
    ex->paused = paused ? 1 : 0;
    if (!paused && ex->conn)
        sl_conn_kick(ex->conn); /* sl_conn_progress() resumes reading there */
}

/* ---- HTTP/1 response framing ---- */

static int is_framing_header(sl_slice name)
{
    return sl_slice_eq_nocase(name, "content-length") ||
           sl_slice_eq_nocase(name, "transfer-encoding") ||
           sl_slice_eq_nocase(name, "connection") || sl_slice_eq_nocase(name, "keep-alive") ||
           sl_slice_eq_nocase(name, "date") || sl_slice_eq_nocase(name, "x-amzn-requestid");
}

static int h1_head(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n, int64_t clen)
{
    sl_conn *c = ex->conn;
    char date[40];
    sl_exchange_format_date_(date);
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\nx-amzn-RequestId: %s\r\n", status,
                  sl_http_reason(status), date, ex->id);
    for (size_t i = 0; i < n; i++) {
        if (is_framing_header(hdrs[i].name))
            continue;
        sl_buf_append(&b, hdrs[i].name.ptr, hdrs[i].name.len);
        sl_buf_append_str(&b, ": ");
        sl_buf_append(&b, hdrs[i].value.ptr, hdrs[i].value.len);
        sl_buf_append_str(&b, "\r\n");
    }
    if (c->srv->stopping)
        ex->close_after = 1;
    if (status < 200 || status == 204) {
        ex->chunked_out = 0; /* no body, no framing header (RFC 9110 8.6) */
    } else if (clen >= 0) {
        sl_buf_printf(&b, "Content-Length: %lld\r\n", (long long)clen);
    } else if (ex->req.version >= 11) {
        sl_buf_append_str(&b, "Transfer-Encoding: chunked\r\n");
        ex->chunked_out = !ex->is_head;
    } else {
        ex->close_delimited = 1;
        ex->close_after = 1;
    }
    if (ex->close_after || !ex->keep_alive) {
        ex->close_after = 1;
        sl_buf_append_str(&b, "Connection: close\r\n");
    } else if (ex->req.version == 10) {
        sl_buf_append_str(&b, "Connection: keep-alive\r\n");
    }
    sl_buf_append_str(&b, "\r\n");
    int rc = b.oom ? SL_ENOMEM : sl_oq_append(&c->out, b.data, b.len);
    sl_buf_cleanup(&b);
    return rc;
}

static int check_open(const sl_exchange *ex)
{
    if (!ex->open || !ex->conn || ex->conn->dead)
        return SL_ECLOSED;
    return 0;
}

/* Queues n body bytes: copied from p, or by reference into r when r is set. */
static int queue_body(sl_oq *q, sl_rbuf *r, const void *p, size_t n)
{
    return r ? sl_oq_append_ref(q, r, p, n) : sl_oq_append(q, p, n);
}

static int respond(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs,
                   sl_rbuf *r, const void *body, size_t len)
{
    int rc = check_open(ex);
    if (rc)
        return rc;
    if (ex->started)
        return SL_EINVAL;
    sl_conn *c = ex->conn;
    ex->started = 1;
    ex->ended = 1;
    ex->status = status;
    if (c->proto == SL_CONN_H2) {
        int with_body = !ex->is_head && status != 204 && len > 0;
        rc = with_body ? queue_body(&ex->sq, r, body, len) : 0;
        if (rc == 0)
            rc = sl_h2_respond_head(ex, status, hdrs, n_hdrs, (int64_t)len, with_body);
    } else {
        rc = h1_head(ex, status, hdrs, n_hdrs, (int64_t)len);
        if (rc == 0 && !ex->is_head && status != 204)
            rc = queue_body(&c->out, r, body, len);
    }
    sl_conn_kick(c);
    return rc;
}

int sl_exchange_respond(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs,
                        const void *body, size_t len)
{
    return respond(ex, status, hdrs, n_hdrs, NULL, body, len);
}

int sl_exchange_respond_rbuf(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs,
                             sl_rbuf *body, size_t off, size_t len)
{
    if (!body || off > sl_rbuf_len(body) || len > sl_rbuf_len(body) - off)
        return SL_EINVAL;
    return respond(ex, status, hdrs, n_hdrs, body, sl_rbuf_data(body) + off, len);
}

int sl_exchange_start(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n_hdrs)
{
    int rc = check_open(ex);
    if (rc)
        return rc;
    if (ex->started)
        return SL_EINVAL;
    sl_conn *c = ex->conn;
    ex->started = 1;
    ex->status = status;
    if (c->proto == SL_CONN_H2)
        rc = sl_h2_respond_head(ex, status, hdrs, n_hdrs, -1, status != 204);
    else
        rc = h1_head(ex, status, hdrs, n_hdrs, -1);
    sl_conn_kick(c);
    return rc;
}

static int write_body(sl_exchange *ex, sl_rbuf *r, const void *p, size_t n)
{
    int rc = check_open(ex);
    if (rc)
        return rc;
    if (!ex->started || ex->ended)
        return SL_EINVAL;
    if (n == 0 || ex->is_head || ex->status == 204)
        return 0; /* responses without a body */
    sl_conn *c = ex->conn;
    if (c->proto == SL_CONN_H2) {
        rc = queue_body(&ex->sq, r, p, n);
        sl_h2_kick_stream(ex);
        return rc;
    }
    if (ex->chunked_out) {
        char sz[24];
        int k = snprintf(sz, sizeof(sz), "%zx\r\n", n);
        rc = sl_oq_append(&c->out, sz, (size_t)k);
        if (rc == 0)
            rc = queue_body(&c->out, r, p, n);
        if (rc == 0)
            rc = sl_oq_append(&c->out, "\r\n", 2);
    } else {
        rc = queue_body(&c->out, r, p, n);
    }
    sl_conn_kick(c);
    return rc;
}

int sl_exchange_write(sl_exchange *ex, const void *p, size_t n)
{
    return write_body(ex, NULL, p, n);
}

int sl_exchange_write_rbuf(sl_exchange *ex, sl_rbuf *b, size_t off, size_t len)
{
    if (!b || off > sl_rbuf_len(b) || len > sl_rbuf_len(b) - off)
        return SL_EINVAL;
    return write_body(ex, b, sl_rbuf_data(b) + off, len);
}

int sl_exchange_end(sl_exchange *ex)
{
    int rc = check_open(ex);
    if (rc)
        return rc;
    if (!ex->started || ex->ended)
        return SL_EINVAL;
    sl_conn *c = ex->conn;
    ex->ended = 1;
    if (c->proto == SL_CONN_H2) {
        sl_h2_kick_stream(ex);
        return 0;
    }
    if (ex->chunked_out)
        rc = sl_oq_append(&c->out, "0\r\n\r\n", 5);
    sl_conn_kick(c);
    return rc;
}

/* ---- request pipeline ---- */

static void send_continue(sl_exchange *ex)
{
    if (!ex->expect_continue || ex->continue_sent || !ex->conn || ex->conn->proto != SL_CONN_H1)
        return;
    ex->continue_sent = 1;
    sl_oq_append(&ex->conn->out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    sl_conn_kick(ex->conn);
}

/* The request will not be read: answered without 100-continue means the client may never send
 * the body, so HTTP/1 must close after the answer. */
static void refuse_body(sl_exchange *ex)
{
    ex->discard = 1;
    if (ex->expect_continue && !ex->continue_sent)
        ex->close_after = 1;
}

static int authenticate_or_reply(sl_exchange *ex, const uint8_t *body, size_t len)
{
    sl_server *s = ex->conn->srv;
    if (!s->cfg.auth || !ex->route.service)
        return 0;
    sl_auth_result res;
    sl_diag diag;
    memset(&res, 0, sizeof(res));
    memset(&diag, 0, sizeof(diag));
    int rc = sl_auth_verify(s->cfg.auth, &ex->req, ex->route.service, body, len,
                            sl_time_now_ns() / 1000000000LL, &res, &diag);
    if (rc != 0) {
        sl_debug("http", "%s %.*s: authentication failed: %s", ex->peer, (int)ex->req.path.len,
                 ex->req.path.ptr, diag.text);
        refuse_body(ex);
        sl_reply_error(ex, ex->route.proto, 0, rc, NULL, diag.text[0] ? diag.text : NULL);
        return rc;
    }
    snprintf(ex->access_key, sizeof(ex->access_key), "%s", res.access_key);
    if (res.region[0])
        snprintf(ex->region, sizeof(ex->region), "%s", res.region);
    return 0;
}

static void run_buffered(sl_exchange *ex)
{
    if (ex->handled || ex->discard)
        return;
    const uint8_t *body = (const uint8_t *)ex->body.data;
    size_t len = ex->body.len;
    if (authenticate_or_reply(ex, body ? body : (const uint8_t *)"", len) != 0)
        return;
    ex->req.body = body ? body : (const uint8_t *)"";
    ex->req.body_len = len;
    ex->handled = 1;
    ex->route.handle(ex, &ex->req, ex->route.ud);
}

static void answer_builtin(sl_exchange *ex, int metrics)
{
    sl_server *s = ex->conn->srv;
    ex->discard = 1;
    if (!metrics) {
        snprintf(ex->operation, sizeof(ex->operation), "health");
        static const sl_http_header h[] = {
            {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")}};
        sl_exchange_respond(ex, 200, h, 1, "{\"status\":\"ok\"}", 15);
        return;
    }
    snprintf(ex->operation, sizeof(ex->operation), "metrics");
    sl_buf b = SL_BUF_INIT;
    if (sl_metrics_render(&s->metrics, s->n_conns, s->cfg.store, &b) != 0 ||
        (s->cfg.metrics_extra && s->cfg.metrics_extra(&b) != 0)) {
        sl_reply_error(ex, SL_PROTO_PLAIN, 500, SL_ENOMEM, NULL, NULL);
    } else {
        static const sl_http_header h[] = {
            {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("text/plain; version=0.0.4")}};
        sl_exchange_respond(ex, 200, h, 1, b.data, b.len);
    }
    sl_buf_cleanup(&b);
}

void sl_exchange_dispatch_(sl_exchange *ex)
{
    sl_server *s = ex->conn->srv;
    sl_http_request *r = &ex->req;
    ex->dispatched = 1;
    if (r->method == SL_HTTP_GET || r->method == SL_HTTP_HEAD) {
        if (sl_slice_eq(r->path, "/health")) {
            answer_builtin(ex, 0);
            return;
        }
        if (sl_slice_eq(r->path, "/metrics")) {
            answer_builtin(ex, 1);
            return;
        }
    }
    memset(&ex->route, 0, sizeof(ex->route));
    s->cfg.route(r, &ex->route);
    if (ex->route.operation && !ex->operation[0])
        snprintf(ex->operation, sizeof(ex->operation), "%s", ex->route.operation);
    if (!ex->route.handle) {
        refuse_body(ex);
        sl_reply_error(ex, ex->route.proto, 404, SL_ENOTFOUND, "UnknownOperationException",
                       "No service answers this request");
        return;
    }
    if (ex->route.body_mode == SL_BODY_BUFFER) {
        if (r->content_length > 0 && (uint64_t)r->content_length > ex->route.max_body) {
            refuse_body(ex);
            char msg[96];
            snprintf(msg, sizeof(msg), "Request body is larger than %zu bytes", ex->route.max_body);
            sl_reply_error(ex, ex->route.proto, 413, SL_ETOOBIG, NULL, msg);
            return;
        }
        send_continue(ex);
        if (ex->body_done)
            run_buffered(ex);
        return;
    }
    if (authenticate_or_reply(ex, NULL, 0) != 0)
        return;
    send_continue(ex);
    ex->handled = 1;
    ex->route.handle(ex, r, ex->route.ud);
    if (ex->body_done && ex->conn)
        sl_exchange_body_end_(ex);
}

void sl_exchange_body_(sl_exchange *ex, const uint8_t *p, size_t n)
{
    if (ex->discard || ex->body_stop || !ex->dispatched) {
        ex->discarded += n;
        return;
    }
    if (ex->route.body_mode == SL_BODY_BUFFER) {
        if (ex->body.len + n > ex->route.max_body) {
            refuse_body(ex);
            ex->discarded += n;
            char msg[96];
            snprintf(msg, sizeof(msg), "Request body is larger than %zu bytes", ex->route.max_body);
            sl_reply_error(ex, ex->route.proto, 413, SL_ETOOBIG, NULL, msg);
            return;
        }
        if (sl_buf_append(&ex->body, p, n) != 0) {
            refuse_body(ex);
            sl_reply_error(ex, ex->route.proto, 500, SL_ENOMEM, NULL, NULL);
        }
        return;
    }
    if (!ex->ops || !ex->ops->on_body) {
        ex->discarded += n;
        return;
    }
    if (ex->ops->on_body(ex, ex->ud, p, n) < 0) {
        ex->body_stop = 1;
        ex->discard = 1;
    }
}

void sl_exchange_body_end_(sl_exchange *ex)
{
    ex->body_done = 1;
    if (!ex->dispatched || ex->discard)
        return;
    if (ex->route.body_mode == SL_BODY_BUFFER) {
        run_buffered(ex);
        return;
    }
    if (ex->handled && !ex->body_end_sent && ex->ops && ex->ops->on_body_end) {
        ex->body_end_sent = 1;
        ex->ops->on_body_end(ex, ex->ud);
    }
}
