/* HTTP/2 on a client connection, with libnghttp2 (server session, memory I/O).
 *
 * Entered when the connection starts with the client preface (cleartext prior knowledge) or
 * ALPN chose "h2" (TLS). Bytes flow:
 *   inbuf --nghttp2_session_mem_recv--> callbacks below --> per-stream exchange state
 *   nghttp2_session_send --> conn->out (sl_h2_fill_output, from the WRITEABLE callback):
 *   frames through send_cb (copied), DATA payloads through send_data (moved, see data_read)
 *
 * Every stream is an sl_exchange. nghttp2 callbacks only record state (headers into the
 * exchange's arena, body into its `pend` buffer, "closed" flags); sl_h2_progress() does the
 * work afterwards, outside nghttp2's call stack: dispatch a finished head, deliver pending body,
 * end bodies, finish closed streams. So handlers never run inside an nghttp2 callback.
 *
 * Flow control, both ways:
 *  - Request bodies: automatic WINDOW_UPDATE is off (nghttp2_option_set_no_auto_window_update).
 *    The connection window is given back at once (nghttp2_session_consume_connection); a
 *    stream's window only when its bytes reach the handler (nghttp2_session_consume_stream). A
 *    paused stream therefore holds at most its window (SL_H2_STREAM_WINDOW) in `pend`.
 *  - Responses: a data provider reads the stream's output queue; when it is empty and the
 *    response not ended it returns NGHTTP2_ERR_DEFERRED, and a later write resumes it
 *    (nghttp2_session_resume_data). mem_send is only called while conn->out is below one
 *    scratch buffer, so a slow reader stops the frames at nghttp2, not in our memory.
 * After our END_STREAM, a stream whose request body is still coming is reset with NO_ERROR
 * (RFC 9113 8.1).
 *
 * Endings: every close of an h2 connection we decide on says why in a GOAWAY first.
 *  - Stop (SIGTERM): shutdown notice (GOAWAY 2^31-1) + PING; on the PING's ACK the final GOAWAY
 *    (NO_ERROR, last processed stream); close when the streams below it are done (or at the
 *    drain deadline).
 *  - Idle (no stream for idle_timeout_s, checked by the server's 1 s sweep): GOAWAY NO_ERROR.
 *  - Errors nghttp2 detects itself (bad frames, HPACK COMPRESSION_ERROR...) get nghttp2's own
 *    GOAWAY; the ones mem_recv returns (too many CONTINUATIONs, floods, callback failures) get
 *    ours: ENHANCE_YOUR_CALM, INTERNAL_ERROR or PROTOCOL_ERROR.
 *  - Stalls and the drain deadline cut the socket; a GOAWAY is sent first when the socket can
 *    take it at once (sl_conn_cut).
 * Oversized request heads, by size (max_header_bytes M, default 64 KiB):
 *  - name+value bytes over M, each field under 64 KiB, block in at most 9 frames: the stream is
 *    answered 431 like HTTP/1 (fields past M are dropped as they are decoded).
 *  - one field over 64 KiB: nghttp2's HPACK decoder refuses it: connection GOAWAY
 *    COMPRESSION_ERROR (nghttp2's own limit, not configurable).
 *  - a block in more than 9 frames (HEADERS + 8 CONTINUATION, nghttp2's CVE-2024-28182 limit):
 *    GOAWAY ENHANCE_YOUR_CALM. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "sluice/err.h"
#include "sluice/log.h"

#define SL_H2_STREAM_WINDOW (256 * 1024)
#define SL_H2_CONN_WINDOW   (16 * 1024 * 1024)
#define SL_H2_MAX_STREAMS   128

/* Header offsets into ex->arena while the head arrives; the array is built at END_HEADERS. */
struct h2_hoff {
    uint32_t no, nl, vo, vl;
};

typedef struct h2_head {
    struct h2_hoff *offs;
    size_t n, cap;
    int method_i, path_i, auth_i; /* indexes of pseudo-headers, -1 absent */
    int done;                     /* END_HEADERS seen */
    int in_ended;                 /* END_STREAM seen */
    int no_body;                  /* END_STREAM was on the HEADERS frame */
    int bad;
    int too_big; /* fields past max_header_bytes were dropped: answer 431 */
} h2_head;

static h2_head *head_of(sl_exchange *ex)
{
    return (h2_head *)ex->hdrs_tmp;
}

static void link_stream(sl_conn *c, sl_exchange *ex)
{
    ex->next = c->streams;
    c->streams = ex;
}

static void unlink_stream(sl_conn *c, sl_exchange *ex)
{
    for (sl_exchange **pp = &c->streams; *pp; pp = &(*pp)->next) {
        if (*pp == ex) {
            *pp = ex->next;
            ex->next = NULL;
            return;
        }
    }
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    sl_conn *c = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (c->srv->stopping && c->h2_goaway_final)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* above the GOAWAY's id: nghttp2 drops it */
    sl_exchange *ex = sl_exchange_new_(c);
    h2_head *h = calloc(1, sizeof(*h));
    if (!ex || !h) {
        free(h);
        if (ex) {
            ex->conn = NULL;
            sl_exchange_unref(ex);
        }
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    h->method_i = h->path_i = h->auth_i = -1;
    ex->hdrs_tmp = h;
    ex->stream_id = f->hd.stream_id;
    ex->req.version = 20;
    nghttp2_session_set_stream_user_data(s, f->hd.stream_id, ex);
    link_stream(c, ex);
    return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
    sl_conn *c = ud;
    sl_exchange *ex = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    (void)flags;
    if (!ex || !ex->hdrs_tmp)
        return 0;
    h2_head *h = head_of(ex);
    if (h->done || h->too_big)
        return 0; /* trailers, or a head already too big */
    if (ex->arena.len + namelen + valuelen > c->srv->cfg.max_header_bytes) {
        h->too_big = 1; /* keep what came (pseudo-headers come first), answer 431 at the end */
        return 0;
    }
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        struct h2_hoff *n = realloc(h->offs, ncap * sizeof(*n));
        if (!n)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        h->offs = n;
        h->cap = ncap;
    }
    struct h2_hoff o = {(uint32_t)ex->arena.len, (uint32_t)namelen, 0, (uint32_t)valuelen};
    sl_buf_append(&ex->arena, name, namelen);
    o.vo = (uint32_t)ex->arena.len;
    sl_buf_append(&ex->arena, value, valuelen);
    if (ex->arena.oom)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    int idx = (int)h->n;
    h->offs[h->n++] = o;
    if (namelen && name[0] == ':') {
        if (namelen == 7 && memcmp(name, ":method", 7) == 0)
            h->method_i = idx;
        else if (namelen == 5 && memcmp(name, ":path", 5) == 0)
            h->path_i = idx;
        else if (namelen == 10 && memcmp(name, ":authority", 10) == 0)
            h->auth_i = idx;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    sl_conn *c = ud;
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK) && c->h2_goaway_notice &&
        !c->h2_goaway_final) {
        /* The PING sent after the shutdown notice came back: every stream the client opened
         * before it saw the notice has reached us. Now the GOAWAY that counts. */
        c->h2_goaway_final = 1;
        nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s),
                              NGHTTP2_NO_ERROR, NULL, 0);
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA)
        return 0;
    sl_exchange *ex = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!ex || !ex->hdrs_tmp)
        return 0;
    h2_head *h = head_of(ex);
    if (f->hd.type == NGHTTP2_HEADERS && (f->hd.flags & NGHTTP2_FLAG_END_HEADERS))
        h->done = 1;
    if (f->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        h->in_ended = 1;
        if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
            h->no_body = 1;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    (void)ud;
    nghttp2_session_consume_connection(s, len);
    sl_exchange *ex = nghttp2_session_get_stream_user_data(s, sid);
    if (!ex || ex->h2_closed) {
        nghttp2_session_consume_stream(s, sid, len);
        return 0;
    }
    if (sl_buf_append(&ex->pend, data, len) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t sid, uint32_t error_code, void *ud)
{
    (void)ud;
    sl_exchange *ex = nghttp2_session_get_stream_user_data(s, sid);
    if (ex) {
        ex->h2_closed = 1;
        ex->h2_error = error_code;
        nghttp2_session_set_stream_user_data(s, sid, NULL);
    }
    return 0;
}

static int on_frame_send(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
    (void)ud;
    if ((f->hd.type != NGHTTP2_DATA && f->hd.type != NGHTTP2_HEADERS) ||
        !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    sl_exchange *ex = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (ex && ex->hdrs_tmp && !head_of(ex)->in_ended && !ex->h2_rst_sent) {
        ex->h2_rst_sent = 1;
        nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, f->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

/* DATA payloads never pass through nghttp2's buffer: data_read only says how many bytes the
 * frame carries (NO_COPY), and send_data moves them from the stream queue to the connection
 * queue -- referenced (sl_rbuf) and large blocks by pointer, small pieces by copy. */
static ssize_t data_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)s;
    (void)sid;
    (void)buf;
    (void)ud;
    sl_exchange *ex = src->ptr;
    size_t n = ex->sq.bytes < length ? ex->sq.bytes : length;
    if (n == 0 && !ex->ended) {
        ex->h2_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == ex->sq.bytes && ex->ended)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *framehd, size_t length,
                     nghttp2_data_source *src, void *ud)
{
    (void)s;
    sl_conn *c = ud;
    sl_exchange *ex = src->ptr;
    if (c->out.bytes >= SL_SCRATCH_BYTES)
        return NGHTTP2_ERR_WOULDBLOCK; /* called again with the same frame later */
    uint8_t pad = (uint8_t)(f->data.padlen ? f->data.padlen - 1 : 0);
    if (sl_oq_append(&c->out, framehd, 9) != 0 ||
        (f->data.padlen && sl_oq_append(&c->out, &pad, 1) != 0) ||
        sl_oq_move(&c->out, &ex->sq, length) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    if (pad) {
        static const uint8_t zeros[256];
        if (sl_oq_append(&c->out, zeros, pad) != 0)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    return 0;
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t length, int flags, void *ud)
{
    (void)s;
    (void)flags;
    sl_conn *c = ud;
    if (c->out.bytes >= SL_SCRATCH_BYTES)
        return NGHTTP2_ERR_WOULDBLOCK;
    if (sl_oq_append(&c->out, data, length) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)length;
}

int sl_h2_start(sl_conn *c)
{
    nghttp2_session_callbacks *cb = NULL;
    nghttp2_option *opt = NULL;
    int rc = SL_ENOMEM;
    if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
        goto out;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_send_callback(cb, send_cb);
    nghttp2_session_callbacks_set_send_data_callback(cb, send_data);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    if (nghttp2_session_server_new2(&c->h2, cb, c, opt) != 0)
        goto out;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, SL_H2_MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, SL_H2_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, c->srv->cfg.max_header_bytes},
    };
    if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0 ||
        nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, SL_H2_CONN_WINDOW) != 0)
        goto out;
    sl_conn_kick(c);
    rc = 0;
out:
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    return rc;
}

static int build_request(sl_exchange *ex)
{
    h2_head *h = head_of(ex);
    char *base = ex->arena.data ? ex->arena.data : (char *)"";
    sl_http_request *r = &ex->req;
    size_t n_regular = 0;
    for (size_t i = 0; i < h->n; i++)
        if (!(h->offs[i].nl && base[h->offs[i].no] == ':'))
            n_regular++;
    ex->hdrs = calloc(n_regular ? n_regular : 1, sizeof(*ex->hdrs));
    if (!ex->hdrs)
        return SL_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++) {
        struct h2_hoff *o = &h->offs[i];
        if (o->nl && base[o->no] == ':')
            continue;
        ex->hdrs[k].name = (sl_slice){base + o->no, o->nl};
        ex->hdrs[k].value = (sl_slice){base + o->vo, o->vl};
        k++;
    }
    r->headers = ex->hdrs;
    r->n_headers = n_regular;
    if (h->method_i < 0 || h->path_i < 0)
        return SL_EPARSE;
    struct h2_hoff *m = &h->offs[h->method_i], *p = &h->offs[h->path_i];
    r->method_name = (sl_slice){base + m->vo, m->vl};
    static const struct {
        const char *s;
        sl_http_method m;
    } methods[] = {{"GET", SL_HTTP_GET}, {"HEAD", SL_HTTP_HEAD},     {"POST", SL_HTTP_POST},
                   {"PUT", SL_HTTP_PUT}, {"DELETE", SL_HTTP_DELETE}, {"OPTIONS", SL_HTTP_OPTIONS}};
    r->method = SL_HTTP_OTHER;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (sl_slice_eq(r->method_name, methods[i].s))
            r->method = methods[i].m;
    r->target = (sl_slice){base + p->vo, p->vl};
    const char *q = memchr(r->target.ptr, '?', r->target.len);
    if (q) {
        r->path = (sl_slice){r->target.ptr, (size_t)(q - r->target.ptr)};
        r->query = (sl_slice){q + 1, r->target.len - r->path.len - 1};
    } else {
        r->path = r->target;
        r->query = (sl_slice){"", 0};
    }
    if (h->auth_i >= 0)
        r->authority = (sl_slice){base + h->offs[h->auth_i].vo, h->offs[h->auth_i].vl};
    else
        r->authority = sl_http_header_get(r, "host");
    sl_slice cl = sl_http_header_get(r, "content-length");
    r->content_length = -1;
    if (cl.len && cl.len < 19) {
        int64_t v = 0;
        size_t i;
        for (i = 0; i < cl.len && cl.ptr[i] >= '0' && cl.ptr[i] <= '9'; i++)
            v = v * 10 + (cl.ptr[i] - '0');
        if (i == cl.len)
            r->content_length = v;
    }
    if (h->no_body)
        r->content_length = 0;
    ex->is_head = r->method == SL_HTTP_HEAD;
    return 0;
}

static void h2_deliver(sl_conn *c, sl_exchange *ex)
{
    /* Hand pending body to the exchange in pieces, giving the stream window back as it goes. */
    size_t off = 0;
    while (off < ex->pend.len) {
        if (!ex->discard && ex->route.body_mode == SL_BODY_STREAM && (ex->paused || !ex->handled))
            break;
        size_t k = ex->pend.len - off;
        if (k > 16384)
            k = 16384;
        sl_exchange_body_((sl_exchange *)ex, (const uint8_t *)ex->pend.data + off, k);
        off += k;
        if (!ex->h2_closed)
            nghttp2_session_consume_stream(c->h2, ex->stream_id, k);
        if (!ex->conn)
            break;
    }
    if (off)
        sl_buf_consume(&ex->pend, off);
}

static void finish_stream(sl_conn *c, sl_exchange *ex)
{
    unlink_stream(c, ex);
    h2_head *h = head_of(ex);
    if (h) {
        free(h->offs);
        free(h);
        ex->hdrs_tmp = NULL;
    }
    int aborted = ex->h2_error != 0 || !ex->ended || !ex->body_done;
    sl_exchange_detach_(ex, aborted);
}

void sl_h2_progress(sl_conn *c)
{
    if (!c->h2 || c->dead)
        return;
    if (c->inbuf.len && !c->h2_input_dead) {
        ssize_t r = nghttp2_session_mem_recv(c->h2, (const uint8_t *)c->inbuf.data, c->inbuf.len);
        if (r < 0) {
            /* Fatal for the session (nghttp2 answers most protocol errors itself with GOAWAY and
             * goes on; these are the ones it returns): say why in a GOAWAY, then close. */
            sl_debug("h2", "%s: %s", c->peer, nghttp2_strerror((int)r));
            sl_buf_reset(&c->inbuf);
            c->h2_input_dead = 1;
            uint32_t code = r == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || r == NGHTTP2_ERR_FLOODED
                                ? NGHTTP2_ENHANCE_YOUR_CALM
                            : r == NGHTTP2_ERR_CALLBACK_FAILURE || r == NGHTTP2_ERR_NOMEM
                                ? NGHTTP2_INTERNAL_ERROR
                                : NGHTTP2_PROTOCOL_ERROR;
            sl_h2_goaway(c, code);
            return;
        }
        sl_buf_consume(&c->inbuf, (size_t)r);
    }
    if (c->h2_input_dead)
        sl_buf_reset(&c->inbuf);
    int again;
    do {
        again = 0;
        for (sl_exchange *ex = c->streams, *next; ex; ex = next) {
            next = ex->next;
            h2_head *h = head_of(ex);
            if (h && h->done && !ex->dispatched) {
                int brc = build_request(ex);
                if (h->too_big) {
                    /* As HTTP/1 does: a 431 on the stream (the body, if any, is dropped). */
                    ex->dispatched = 1;
                    ex->discard = 1;
                    snprintf(ex->operation, sizeof(ex->operation), "bad_request");
                    sl_reply_error(ex, SL_PROTO_PLAIN, 431, SL_EPARSE, NULL,
                                   "Request header fields too large");
                } else if (brc != 0) {
                    ex->dispatched = 1;
                    ex->discard = 1;
                    nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, ex->stream_id,
                                              NGHTTP2_PROTOCOL_ERROR);
                } else {
                    sl_exchange_dispatch_(ex);
                }
                again = 1;
            }
            if (ex->dispatched && ex->pend.len)
                h2_deliver(c, ex);
            if (ex->dispatched && h && h->in_ended && ex->pend.len == 0 && !ex->body_done)
                sl_exchange_body_end_(ex);
            if (ex->h2_closed) {
                finish_stream(c, ex);
                again = 1;
                break; /* the list changed */
            }
        }
    } while (again && !c->dead);
    if (nghttp2_session_want_write(c->h2))
        sl_conn_kick(c);
    else if (!nghttp2_session_want_read(c->h2))
        c->closing = 1, sl_conn_kick(c); /* GOAWAY out and no active stream, or terminated */
}

int sl_h2_fill_output(sl_conn *c)
{
    if (!c->h2)
        return 0;
    /* send_cb / send_data stop it (WOULDBLOCK) once a scratch buffer's worth is queued. */
    return nghttp2_session_send(c->h2) == 0 ? 0 : -1;
}

static int is_conn_header(sl_slice n)
{
    return sl_slice_eq_nocase(n, "connection") || sl_slice_eq_nocase(n, "transfer-encoding") ||
           sl_slice_eq_nocase(n, "keep-alive") || sl_slice_eq_nocase(n, "upgrade") ||
           sl_slice_eq_nocase(n, "proxy-connection") || sl_slice_eq_nocase(n, "content-length") ||
           sl_slice_eq_nocase(n, "date") || sl_slice_eq_nocase(n, "x-amzn-requestid");
}

int sl_h2_respond_head(sl_exchange *ex, int status, const sl_http_header *hdrs, size_t n,
                       int64_t content_length, int has_body)
{
    sl_conn *c = ex->conn;
    int rc = SL_ENOMEM;
    nghttp2_nv *nv = calloc(n + 4, sizeof(*nv));
    sl_buf names = SL_BUF_INIT;
    char st[8], date[40], cl[24];
    if (!nv)
        goto out;
    snprintf(st, sizeof(st), "%d", status);
    sl_exchange_format_date_(date);
    size_t k = 0;
#define NV(nm, nl, vl_, vlen)                                                                      \
    nv[k++] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(vl_), (nl), (vlen), NGHTTP2_NV_FLAG_NONE}
    NV(":status", 7, st, strlen(st));
    NV("date", 4, date, strlen(date));
    NV("x-amzn-requestid", 16, ex->id, strlen(ex->id));
    /* Lower-case names: one buffer, offsets first (it may move while growing). */
    size_t *offs = calloc(n ? n : 1, sizeof(size_t));
    if (!offs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        offs[i] = names.len;
        for (size_t j = 0; j < hdrs[i].name.len; j++) {
            char ch = hdrs[i].name.ptr[j];
            sl_buf_append_byte(&names, (uint8_t)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch));
        }
    }
    if (names.oom) {
        free(offs);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (is_conn_header(hdrs[i].name))
            continue;
        NV(names.data + offs[i], hdrs[i].name.len, hdrs[i].value.ptr, hdrs[i].value.len);
    }
    free(offs);
    if (content_length >= 0 && status != 204 && status >= 200) {
        snprintf(cl, sizeof(cl), "%lld", (long long)content_length);
        NV("content-length", 14, cl, strlen(cl));
    }
#undef NV
    nghttp2_data_provider prd = {.source.ptr = ex, .read_callback = data_read};
    int with_data = has_body && !ex->is_head;
    if (nghttp2_submit_response(c->h2, ex->stream_id, nv, k, with_data ? &prd : NULL) != 0) {
        rc = SL_EIO;
        goto out;
    }
    sl_conn_kick(c);
    rc = 0;
out:
    free(nv);
    sl_buf_cleanup(&names);
    return rc;
}

void sl_h2_kick_stream(sl_exchange *ex)
{
    sl_conn *c = ex->conn;
    if (!c || !c->h2)
        return;
    if (ex->h2_deferred) {
        ex->h2_deferred = 0;
        nghttp2_session_resume_data(c->h2, ex->stream_id);
    }
    sl_conn_kick(c);
}

void sl_h2_shutdown(sl_conn *c)
{
    if (!c->h2 || c->h2_goaway_notice || c->h2_goaway_final)
        return;
    if (!c->streams) {
        /* Nothing in flight: the final GOAWAY at once, then close. */
        c->h2_goaway_final = 1;
        nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                              NULL, 0);
        c->closing = 1;
    } else {
        /* RFC 9113 6.8: a GOAWAY with the largest id first (new streams still welcome), a PING,
         * and the final GOAWAY with the last processed id once the PING is answered
         * (on_frame_recv). The connection closes when the streams below it are done. */
        c->h2_goaway_notice = 1;
        if (nghttp2_submit_shutdown_notice(c->h2) != 0 ||
            nghttp2_submit_ping(c->h2, NGHTTP2_FLAG_NONE, NULL) != 0) {
            c->h2_goaway_final = 1;
            nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
                                  nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
                                  NULL, 0);
        }
    }
    sl_conn_kick(c);
}

void sl_h2_goaway(sl_conn *c, uint32_t code)
{
    if (!c->h2)
        return;
    c->h2_goaway_final = 1;
    nghttp2_session_terminate_session(c->h2, code);
    c->closing = 1;
    sl_conn_kick(c);
}

void sl_h2_free(sl_conn *c)
{
    while (c->streams) {
        sl_exchange *ex = c->streams;
        finish_stream(c, ex);
    }
    nghttp2_session_del(c->h2);
    c->h2 = NULL;
}
