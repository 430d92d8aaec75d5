/* Client connections: bytes in, bytes out, protocol detection and the HTTP/1.1 driver.
 *
 * Every accepted socket is an lws raw socket (server.c adopts it). On RAW_RX the bytes go
 * through TLS when on (tls.c), then into `inbuf`. The first bytes decide the protocol: the
 * 24-byte HTTP/2 client preface (prior knowledge, or ALPN "h2" on TLS) -> h2.c, anything else
 * -> HTTP/1.x through the sl_h1_parser below.
 *
 * Everything that can move a connection forward happens in sl_conn_progress(), which is
 * level-triggered: it looks at the state and does whatever is possible now (parse more
 * requests, deliver paused body, finish exchanges). It runs after RX and in every WRITEABLE
 * callback; handlers never call it directly -- their calls only queue output and ask for a
 * WRITEABLE callback (sl_conn_kick), so no handler re-enters the parser.
 *
 * HTTP/1.1 per connection (one exchange at a time; later pipelined requests wait in inbuf):
 *
 *   idle --head--> exchange [dispatch] --body...--> END --response ended--> finish --> idle
 *                   (sl_exchange_dispatch_)                                (h1_finish)
 *
 * Reading stops (lws_rx_flow_control 0) while inbuf holds SL_INBUF_HIGH bytes or the exchange's
 * body is paused; on the raw role that only drops POLLIN, so responses keep flowing (verified by
 * tests/e2e/test_http.py: progress chunks arrive during a paused 1 GiB upload).
 *
 * Half-close: lws closes a raw socket as soon as a read returns EOF, so while an HTTP/1 request
 * waits for its answer (or answers are still queued) the socket is not read at all (h1_hold_rx);
 * a client that shut its write side after the request still gets every answer, then the close.
 * A peer that went away entirely is noticed at the next write (its reset).
 *
 * Writing, per WRITEABLE callback: cleartext sends one sendmsg() of up to 64 queue blocks / 4 MiB
 * straight from the output queue (owned blocks and sl_rbuf references alike: zero-copy bodies
 * stay uncopied); a partial write leaves the rest queued. TLS encrypts up to 96 KiB of plaintext
 * and hands the records to lws_write(). Closing waits until the queue is flushed.
 *
 * Lingering close (HTTP/1): closing a socket whose receive queue still holds unread bytes makes
 * the kernel send a reset instead of a FIN, and a reset that reaches the client before it read
 * the answer discards the answer from the client's receive queue. That is exactly the case of an
 * early answer (an error while the client is still uploading, PutMedia's ERROR event). So once
 * everything is flushed the write side is shut (the client sees the end of the answer), and the
 * socket is read and dropped until the client closes too or SL_LINGER_S pass; a stopping server
 * does not wait. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "conn.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/time.h"

#define SL_INBUF_HIGH (256u * 1024u)
/* HTTP/1: body bytes read and dropped after an early answer before giving up on keep-alive. */
#define SL_DISCARD_MAX (4u * 1024u * 1024u)
/* HTTP/1: longest wait for the client's own close after the answer (lingering close). */
#define SL_LINGER_S 2

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* ---- output queue ---- */

int sl_oq_append(sl_oq *q, const void *src, size_t n)
{
    const uint8_t *p = src;
    sl_oblk *t = q->tail;
    if (n == 0)
        return 0;
    if (t && t->cap > t->len) {
        size_t k = t->cap - t->len < n ? t->cap - t->len : n;
        memcpy(t->data + LWS_PRE + t->len, p, k);
        t->len += k;
        q->bytes += k;
        p += k;
        n -= k;
    }
    if (n == 0)
        return 0;
    size_t cap = n > 16384 ? n : 16384;
    sl_oblk *b = malloc(sizeof(*b) + LWS_PRE + cap);
    if (!b)
        return SL_ENOMEM;
    b->next = NULL;
    b->off = 0;
    b->len = n;
    b->cap = cap;
    b->ref = NULL;
    b->ext = NULL;
    memcpy(b->data + LWS_PRE, p, n);
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->bytes += n;
    return 0;
}

static void oq_link(sl_oq *q, sl_oblk *b)
{
    b->next = NULL;
    if (q->tail)
        q->tail->next = b;
    else
        q->head = b;
    q->tail = b;
    q->bytes += b->len - b->off;
}

int sl_oq_append_ref(sl_oq *q, sl_rbuf *r, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    sl_oblk *b = malloc(sizeof(*b));
    if (!b)
        return SL_ENOMEM;
    b->off = 0;
    b->len = b->cap = n;
    b->ref = sl_rbuf_ref(r);
    b->ext = p;
    oq_link(q, b);
    return 0;
}

static void oblk_free(sl_oblk *b)
{
    sl_rbuf_unref(b->ref);
    free(b);
}

/* Unlinks the head block (fully consumed or being moved). */
static sl_oblk *oq_pop(sl_oq *q)
{
    sl_oblk *b = q->head;
    q->head = b->next;
    if (!q->head)
        q->tail = NULL;
    b->next = NULL;
    return b;
}

size_t sl_oq_read(sl_oq *q, uint8_t *dst, size_t n)
{
    size_t done = 0;
    while (done < n && q->head) {
        sl_oblk *b = q->head;
        size_t k = b->len - b->off;
        if (k > n - done)
            k = n - done;
        memcpy(dst + done, sl_oblk_bytes(b) + b->off, k);
        b->off += k;
        done += k;
        if (b->off == b->len)
            oblk_free(oq_pop(q));
    }
    q->bytes -= done;
    return done;
}

void sl_oq_drop(sl_oq *q, size_t n)
{
    while (n && q->head) {
        sl_oblk *b = q->head;
        size_t k = b->len - b->off;
        if (k > n)
            k = n;
        b->off += k;
        n -= k;
        q->bytes -= k;
        if (b->off == b->len)
            oblk_free(oq_pop(q));
    }
}

/* Owned blocks at least this big move whole instead of being copied. */
#define SL_OQ_MOVE_MIN 4096u

int sl_oq_move(sl_oq *dst, sl_oq *src, size_t n)
{
    while (n && src->head) {
        sl_oblk *b = src->head;
        size_t left = b->len - b->off;
        size_t k = left < n ? left : n;
        if (k == left && (b->ref || left >= SL_OQ_MOVE_MIN)) {
            oq_pop(src);
            src->bytes -= left;
            oq_link(dst, b);
        } else {
            int rc = b->ref ? sl_oq_append_ref(dst, b->ref, b->ext + b->off, k)
                            : sl_oq_append(dst, b->data + LWS_PRE + b->off, k);
            if (rc)
                return rc;
            sl_oq_drop(src, k);
        }
        n -= k;
    }
    return 0;
}

void sl_oq_clear(sl_oq *q)
{
    while (q->head)
        oblk_free(oq_pop(q));
    q->bytes = 0;
}

/* ---- connection ---- */

sl_conn *sl_conn_new(sl_server *s, int fd, const char *peer)
{
    (void)fd;
    sl_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = s;
    c->last_rx_ns = c->last_tx_ns = sl_time_mono_ns();
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    sl_buf_init(&c->inbuf);
    if (s->ssl_ctx && sl_tls_new(s->ssl_ctx, &c->tls) != 0) {
        free(c);
        return NULL;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    s->metrics.conns_accepted++;
    return c;
}

static void arm_idle(sl_conn *c)
{
    if (!c->wsi || c->dead)
        return;
    if (c->proto == SL_CONN_H2) {
        /* HTTP/2 idles out with a GOAWAY (sl_conn_idle_check), not lws's silent close. */
        if (c->idle_armed) {
            lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
            c->idle_armed = 0;
        }
        if (sl_conn_busy(c))
            c->h2_idle_since_ns = 0;
        else if (!c->h2_idle_since_ns)
            c->h2_idle_since_ns = sl_time_mono_ns();
        return;
    }
    if (!sl_conn_busy(c)) {
        if (!c->idle_armed) {
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, (int)c->srv->cfg.idle_timeout_s);
            c->idle_armed = 1;
        }
    } else if (c->idle_armed) {
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
        c->idle_armed = 0;
    }
}

void sl_conn_attach(sl_conn *c, struct lws *wsi)
{
    c->wsi = wsi;
    arm_idle(c);
}

void sl_conn_kick(sl_conn *c)
{
    if (c && c->wsi && !c->dead)
        lws_callback_on_writable(c->wsi);
}

int sl_conn_busy(const sl_conn *c)
{
    if (c->proto == SL_CONN_H2)
        return c->streams != NULL;
    return c->ex != NULL;
}

static int h1_body(void *ctx, const uint8_t *p, size_t n)
{
    sl_conn *c = ctx;
    sl_exchange *ex = c->ex;
    if (!ex)
        return 0;
    sl_exchange_body_(ex, p, n);
    if (ex->discard && ex->discarded > SL_DISCARD_MAX) {
        /* Too much to drain: answer, then close instead of reading the rest. */
        ex->close_after = 1;
        return 1;
    }
    return ex->paused && !ex->discard ? 1 : 0;
}

static void fill_request_from_head(sl_exchange *ex, const sl_h1_head *h)
{
    sl_http_request *r = &ex->req;
    r->method = h->method;
    r->method_name = h->method_name;
    r->target = h->target;
    const char *q = memchr(h->target.ptr, '?', h->target.len);
    if (q) {
        r->path = (sl_slice){h->target.ptr, (size_t)(q - h->target.ptr)};
        r->query = (sl_slice){q + 1, h->target.len - r->path.len - 1};
    } else {
        r->path = h->target;
        r->query = (sl_slice){"", 0};
    }
    r->authority = h->authority;
    r->headers = ex->hdrs;
    r->n_headers = h->n_headers;
    r->version = h->version;
    r->content_length = h->chunked ? -1 : h->content_length;
    ex->is_head = h->method == SL_HTTP_HEAD;
    ex->keep_alive = h->keep_alive && !ex->conn->srv->stopping;
    ex->expect_continue = h->expect_continue && h->version >= 11 && h->has_body;
}

static void h1_on_head(sl_conn *c)
{
    const sl_h1_head *h = sl_h1_parser_head(c->h1);
    sl_exchange *ex = sl_exchange_new_(c);
    if (!ex) {
        c->closing = 1;
        return;
    }
    sl_h1_parser_take_head(c->h1, &ex->head_mem, &ex->hdrs);
    c->ex = ex;
    fill_request_from_head(ex, h);
    arm_idle(c);
    sl_h1_parser_resume(c->h1);
    sl_exchange_dispatch_(ex);
}

static void h1_finish(sl_conn *c)
{
    sl_exchange *ex = c->ex;
    if (ex->close_after || !ex->keep_alive)
        c->closing = 1;
    c->ex = NULL;
    sl_exchange_detach_(ex, !ex->body_done);
    sl_h1_parser_resume(c->h1);
    sl_conn_kick(c);
}

/* A request the parser refused: answer it (400/431/505...) and close. */
static void h1_fail(sl_conn *c, int status)
{
    sl_exchange *ex = c->ex;
    if (!ex) {
        ex = sl_exchange_new_(c);
        if (!ex) {
            c->closing = 1;
            return;
        }
        c->ex = ex;
        ex->req.version = 11;
        ex->req.method_name = SL_SLICE_LIT("");
        ex->req.target = ex->req.path = ex->req.query = SL_SLICE_LIT("");
        snprintf(ex->operation, sizeof(ex->operation), "bad_request");
        ex->body_done = 1;
    }
    /* An exchange whose body turned out malformed stays !body_done: it ends aborted. */
    ex->close_after = 1;
    ex->discard = 1;
    if (!ex->started) {
        const char *msg = status == 431   ? "Request header fields too large"
                          : status == 505 ? "HTTP version not supported"
                                          : "Malformed HTTP request";
        sl_reply_error(ex, ex->dispatched ? ex->route.proto : SL_PROTO_PLAIN, status, SL_EPARSE,
                       NULL, msg);
    } else if (!ex->ended) {
        ex->ended = 1; /* cut the streamed response short; the close tells the client */
    }
}

static void h1_progress(sl_conn *c)
{
    for (;;) {
        sl_exchange *ex = c->ex;
        if (c->dead)
            return;
        if (ex) {
            if (ex->ended && !ex->body_done && !ex->discard) {
                /* Answered before the body ended: drop the rest of the body. A client waiting
                 * for 100-continue will never send it, so close instead. */
                ex->discard = 1;
                if (ex->expect_continue && !ex->continue_sent)
                    ex->close_after = 1;
            }
            if (ex->ended && (ex->body_done || ex->close_after)) {
                h1_finish(c);
                continue;
            }
        }
        if (c->closing || !c->h1)
            return;
        sl_h1_event pending = sl_h1_parser_stopped_at(c->h1);
        if (pending != SL_H1_MORE) {
            if (pending == SL_H1_END && ex)
                return; /* waiting for the response */
            if (pending == SL_H1_BODY_PAUSE && ex && ex->paused && !ex->discard)
                return;
            if (pending == SL_H1_BODY_PAUSE && ex && ex->close_after)
                return;
            sl_h1_parser_resume(c->h1);
        }
        if (ex && ex->paused && !ex->discard)
            return;
        if (c->inbuf.len == 0) {
            if (c->eof) {
                if (ex && !ex->body_done)
                    sl_exchange_detach_(ex, 1), c->ex = NULL;
                c->closing = 1;
                sl_conn_kick(c);
            }
            return;
        }
        size_t used = 0;
        sl_h1_event ev =
            sl_h1_parser_feed(c->h1, (const uint8_t *)c->inbuf.data, c->inbuf.len, &used);
        sl_buf_consume(&c->inbuf, used);
        switch (ev) {
        case SL_H1_MORE:
            break;
        case SL_H1_HEAD:
            h1_on_head(c);
            break;
        case SL_H1_BODY_PAUSE:
            break;
        case SL_H1_END:
            if (c->ex)
                sl_exchange_body_end_(c->ex);
            break;
        case SL_H1_ERROR:
            h1_fail(c, sl_h1_parser_status(c->h1));
            sl_buf_reset(&c->inbuf);
            break;
        }
    }
}

static int detect_proto(sl_conn *c)
{
    if (c->tls) {
        int h2 = 0;
        if (!sl_tls_ready(c->tls, &h2))
            return 0;
        if (h2) {
            c->proto = SL_CONN_H2;
            return sl_h2_start(c);
        }
    }
    size_t n = c->inbuf.len < 24 ? c->inbuf.len : 24;
    if (n == 0)
        return 0;
    if (memcmp(c->inbuf.data, h2_preface, n) == 0) {
        if (n < 24)
            return 0; /* could still be the preface */
        c->proto = SL_CONN_H2;
        return sl_h2_start(c);
    }
    c->h1 = sl_h1_parser_new(c->srv->cfg.max_header_bytes, h1_body, c);
    if (!c->h1)
        return SL_ENOMEM;
    c->proto = SL_CONN_H1;
    return 0;
}

/* HTTP/1: a complete request waits for its answer, or an answer is still queued. lws closes a
 * raw socket as soon as a read returns EOF, so reading now would lose the answer of a client
 * that half-closed after its request (shutdown(SHUT_WR), `nc -N`, some load balancers). Not
 * reading is also right on its own: pipelined requests wait in the kernel instead of inbuf.
 * lws itself does not read while it holds unsent output, so this covers lws's buffer too. */
static int h1_hold_rx(const sl_conn *c)
{
    if (c->proto != SL_CONN_H1)
        return 0;
    if (c->ex)
        return c->ex->body_done;
    return c->out.bytes > 0 || (c->tls && sl_tls_pending_out(c->tls) > 0);
}

static void update_rx_flow(sl_conn *c)
{
    if (!c->wsi || c->dead)
        return;
    int want_off =
        !c->lingering &&
        (c->inbuf.len >= SL_INBUF_HIGH ||
         (c->ex && c->ex->paused && !c->ex->discard && c->inbuf.len > 0) || h1_hold_rx(c));
    if (want_off && !c->rx_off) {
        lws_rx_flow_control(c->wsi, 0);
        c->rx_off = 1;
    } else if (!want_off && c->rx_off) {
        lws_rx_flow_control(c->wsi, 1);
        c->rx_off = 0;
    }
}

void sl_conn_progress(sl_conn *c)
{
    if (c->in_progress) {
        c->again = 1;
        return;
    }
    c->in_progress = 1;
    do {
        c->again = 0;
        if (c->proto == SL_CONN_UNKNOWN && !c->dead && !c->closing) {
            if (detect_proto(c) != 0) {
                c->close_now = 1;
                break;
            }
        }
        if (c->proto == SL_CONN_H1)
            h1_progress(c);
        else if (c->proto == SL_CONN_H2)
            sl_h2_progress(c);
    } while (c->again && !c->dead);
    c->in_progress = 0;
    update_rx_flow(c);
    arm_idle(c);
}

/* A body is "wanted" while an exchange still expects request bytes and nobody paused it. */
static int body_wanted(const sl_conn *c)
{
    if (c->rx_off)
        return 0;
    if (c->proto == SL_CONN_H1)
        return c->ex && !c->ex->body_done && !c->ex->paused;
    if (c->proto == SL_CONN_H2)
        for (const sl_exchange *ex = c->streams; ex; ex = ex->next)
            if (!ex->body_done && !ex->paused && !ex->h2_closed)
                return 1;
    return 0;
}

const char *sl_conn_stalled(sl_conn *c, int64_t now_ns)
{
    const sl_server_config *cfg = &c->srv->cfg;
    size_t pending = c->out.bytes + (c->tls ? sl_tls_pending_out(c->tls) : 0);
    if (c->dead)
        return NULL;
    if (pending == 0)
        c->last_tx_ns = now_ns;
    else if (now_ns - c->last_tx_ns > (int64_t)cfg->write_timeout_s * 1000000000)
        return "peer stopped reading";
    if (body_wanted(c) && now_ns - c->last_rx_ns > (int64_t)cfg->body_timeout_s * 1000000000)
        return "request body stalled";
    return NULL;
}

void sl_conn_idle_check(sl_conn *c, int64_t now_ns)
{
    if (c->dead || c->closing || c->proto != SL_CONN_H2 || !c->h2_idle_since_ns)
        return;
    if (now_ns - c->h2_idle_since_ns < (int64_t)c->srv->cfg.idle_timeout_s * 1000000000)
        return;
    sl_debug("h2", "%s: idle, GOAWAY", c->peer);
    sl_h2_goaway(c, NGHTTP2_NO_ERROR);
}

/* Best effort: hands the GOAWAY straight to the socket when nothing else is pending before it. */
static void goaway_now(sl_conn *c, int fd, uint32_t code)
{
    if (!c->h2 || c->out.bytes || (c->tls && sl_tls_pending_out(c->tls)) ||
        lws_send_pipe_choked(c->wsi))
        return; /* earlier bytes still queued: a GOAWAY behind them would not arrive in time */
    nghttp2_session_terminate_session(c->h2, code);
    if (sl_h2_fill_output(c) != 0)
        return;
    uint8_t *buf = c->srv->scratch + LWS_PRE;
    size_t n = sl_oq_read(&c->out, buf, SL_SCRATCH_BYTES);
    if (c->tls) {
        if (sl_tls_write(c->tls, buf, n) != 0)
            return;
        n = sl_tls_take(c->tls, buf, SL_SCRATCH_BYTES);
    }
    if (n && send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        c->srv->metrics.bytes_out += n;
}

void sl_conn_cut(sl_conn *c, uint32_t h2_code)
{
    c->close_now = 1;
    if (!c->wsi || c->dead)
        return;
    int fd = (int)lws_get_socket_fd(c->wsi);
    if (fd >= 0) {
        if (c->proto == SL_CONN_H2)
            goaway_now(c, fd, h2_code);
        /* lws would first try to flush what it buffered, which a client that does not read
         * never lets it do: cut the socket so the flush fails and the close happens now. */
        shutdown(fd, SHUT_RDWR);
    }
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* HTTP/1, everything flushed: shut the write side and read until the client closes (see the
 * top). 1 if lingering now, 0 to close at once. */
static int linger_start(sl_conn *c)
{
    int fd = c->wsi ? (int)lws_get_socket_fd(c->wsi) : -1;
    if (c->proto != SL_CONN_H1 || c->srv->stopping || fd < 0 || shutdown(fd, SHUT_WR) != 0)
        return 0;
    c->lingering = 1;
    if (c->rx_off) {
        lws_rx_flow_control(c->wsi, 1);
        c->rx_off = 0;
    }
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, SL_LINGER_S);
    c->idle_armed = 1; /* arm_idle leaves this timeout alone */
    return 1;
}

int sl_conn_on_rx(sl_conn *c, const uint8_t *p, size_t n)
{
    c->srv->metrics.bytes_in += n;
    c->last_rx_ns = sl_time_mono_ns();
    if (c->lingering)
        return 0; /* dropped: the answer is out; EOF or the timeout closes */
    if (c->tls) {
        int rc = sl_tls_input(c->tls, p, n, &c->inbuf);
        if (sl_tls_pending_out(c->tls))
            sl_conn_kick(c);
        if (rc == SL_ECLOSED)
            c->eof = 1;
        else if (rc != 0)
            return -1;
    } else if (sl_buf_append(&c->inbuf, p, n) != 0) {
        return -1;
    }
    sl_conn_progress(c);
    if (c->close_now)
        return -1;
    return 0;
}

static void notify_writable(sl_conn *c)
{
    if (c->proto == SL_CONN_H1) {
        sl_exchange *ex = c->ex;
        if (ex && ex->want_writable && ex->open && c->out.bytes < SL_WRITABLE_LOW_BYTES) {
            ex->want_writable = 0;
            if (ex->ops && ex->ops->on_writable)
                ex->ops->on_writable(ex, ex->ud);
        }
        return;
    }
    if (c->proto != SL_CONN_H2 || c->out.bytes >= SL_WRITABLE_LOW_BYTES)
        return;
    for (sl_exchange *ex = c->streams; ex; ex = ex->next) {
        if (ex->want_writable && ex->open && ex->sq.bytes < SL_WRITABLE_LOW_BYTES) {
            sl_exchange_ref(ex);
            ex->want_writable = 0;
            if (ex->ops && ex->ops->on_writable)
                ex->ops->on_writable(ex, ex->ud);
            int gone = ex->refs == 1 && ex->conn == NULL;
            sl_exchange_unref(ex);
            if (gone)
                break; /* list changed under us; the next WRITEABLE continues */
        }
    }
}

/* Cleartext: one sendmsg() (writev with MSG_NOSIGNAL) straight from the output queue's blocks
 * (owned or referenced), so zero-copy bodies reach the kernel without a copy here. A partial write
 * leaves the rest queued; EAGAIN is not an error (the next WRITEABLE continues). lws never holds
 * output of ours on this path. */
#define SL_WRITEV_MAX 64
#define SL_WRITE_MAX  (4u * 1024u * 1024u)

static int write_out(sl_conn *c, size_t *sent)
{
    struct iovec iov[SL_WRITEV_MAX];
    int k = 0;
    size_t total = 0;
    for (const sl_oblk *b = c->out.head; b && k < SL_WRITEV_MAX && total < SL_WRITE_MAX;
         b = b->next) {
        size_t len = b->len - b->off;
        if (len > SL_WRITE_MAX - total)
            len = SL_WRITE_MAX - total;
        iov[k].iov_base = (void *)(sl_oblk_bytes(b) + b->off);
        iov[k].iov_len = len;
        total += len;
        k++;
    }
    int fd = (int)lws_get_socket_fd(c->wsi);
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)k};
    ssize_t w = fd >= 0 ? sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) : -1;
    if (w < 0) {
        *sent = 0;
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    }
    sl_oq_drop(&c->out, (size_t)w);
    *sent = (size_t)w;
    return 0;
}

int sl_conn_on_writable(sl_conn *c)
{
    sl_server *s = c->srv;
    if (c->close_now)
        return -1;
    sl_conn_progress(c);
    if (c->close_now)
        return -1;
    if (c->proto == SL_CONN_H2 && sl_h2_fill_output(c) != 0)
        return -1;
    uint8_t *buf = s->scratch + LWS_PRE;
    size_t n = 0;
    if (c->tls) {
        int h2;
        if (sl_tls_ready(c->tls, &h2) && c->out.bytes) {
            uint8_t *plain = buf + SL_SCRATCH_BYTES;
            size_t k = sl_oq_read(&c->out, plain, SL_SCRATCH_BYTES * 3 / 4);
            if (sl_tls_write(c->tls, plain, k) != 0)
                return -1;
        }
        n = sl_tls_take(c->tls, buf, SL_SCRATCH_BYTES);
        if (n && lws_write(c->wsi, buf, n, LWS_WRITE_RAW) < (int)n)
            return -1;
    } else if (c->out.bytes && write_out(c, &n) != 0) {
        return -1;
    }
    if (n) {
        s->metrics.bytes_out += n;
        c->last_tx_ns = sl_time_mono_ns();
    }
    notify_writable(c);
    if (c->proto == SL_CONN_H2)
        sl_h2_progress(c);
    update_rx_flow(c); /* HTTP/1: read again once the answers are out (h1_hold_rx) */
    int more = c->out.bytes || (c->tls && sl_tls_pending_out(c->tls)) ||
               (c->proto == SL_CONN_H2 && c->h2 && nghttp2_session_want_write(c->h2));
    if (more) {
        sl_conn_kick(c);
        return 0;
    }
    if (c->closing) {
        if (c->lingering)
            return c->srv->stopping ? -1 : 0;
        if (n) {
            sl_conn_kick(c); /* one more round so lws has flushed what it buffered */
            return 0;
        }
        return linger_start(c) ? 0 : -1;
    }
    return 0;
}

void sl_conn_on_close(sl_conn *c)
{
    sl_server *s = c->srv;
    c->dead = 1;
    if (c->ex) {
        sl_exchange *ex = c->ex;
        c->ex = NULL;
        sl_exchange_detach_(ex, 1);
    }
    if (c->proto == SL_CONN_H2)
        sl_h2_free(c);
    sl_h1_parser_free(c->h1);
    sl_tls_free(c->tls);
    sl_buf_cleanup(&c->inbuf);
    sl_oq_clear(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    free(c);
}

void sl_conn_shutdown(sl_conn *c)
{
    if (c->proto == SL_CONN_H2) {
        sl_h2_shutdown(c);
    } else if (c->ex) {
        c->ex->keep_alive = 0;
        c->ex->close_after = 1;
    } else {
        c->closing = 1;
    }
    sl_conn_kick(c);
}
