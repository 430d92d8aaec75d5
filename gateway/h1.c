/* HTTP/1.1 request framing on top of http_parser, with no sockets (see h1.h for the contract).
 *
 * State machine (http_parser does the byte-level work; this file decides where to stop):
 *
 *   idle --on_message_begin--> head --on_headers_complete--> [pause: SL_H1_HEAD]
 *     ^                                                          | resume
 *     |                                                          v
 *     +--[pause: SL_H1_END]<--on_message_complete-- body --on_body (cb returns 1)-->
 *                                                      ^     [pause: SL_H1_BODY_PAUSE]
 *                                                      +---------- resume ---------+
 *
 * Stops happen by http_parser_pause() inside a callback; http_parser_execute() then returns the
 * number of bytes it used, and the unused rest is fed again after resume. Pausing inside
 * on_headers_complete returns before the head's final LF, which the parser re-reads on resume
 * in its s_headers_done state -- that is how http_parser's own users pause at a head.
 *
 * Limits: head bytes (request line + headers as counted by http_parser's nread, and the bytes
 * kept here) above max_head_bytes -> 431; HTTP major version other than 1 -> 505; anything
 * http_parser refuses -> 400. Trailers of chunked bodies are parsed and dropped. */
#include "h1.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"

struct sl_h1_hdr_off {
    uint32_t name_off, name_len, value_off, value_len;
};

struct sl_h1_parser {
    http_parser hp;
    http_parser_settings settings;
    sl_h1_body_fn on_body;
    void *ctx;
    size_t max_head_bytes;
    sl_buf head;                /* target, then names and values, back to back */
    struct sl_h1_hdr_off *offs; /* owned */
    size_t n_offs, cap_offs;
    uint32_t target_len;
    int last_cb;         /* 0 none, 1 field, 2 value */
    int in_head;         /* message begun, head not complete */
    int in_msg;          /* message begun, not complete */
    sl_h1_event pending; /* event raised by a callback during execute */
    int status;          /* on error */
    int failed;
    sl_h1_head h;         /* valid from SL_H1_HEAD until the next head */
    sl_http_header *hdrs; /* owned; h.headers */
};

static sl_h1_parser *P(http_parser *hp)
{
    return (sl_h1_parser *)hp->data;
}

static int too_big(sl_h1_parser *p)
{
    if (p->hp.nread > p->max_head_bytes || p->head.len > p->max_head_bytes) {
        p->status = 431;
        return 1;
    }
    return 0;
}

static int on_message_begin(http_parser *hp)
{
    sl_h1_parser *p = P(hp);
    sl_buf_reset(&p->head);
    p->n_offs = 0;
    p->target_len = 0;
    p->last_cb = 0;
    p->in_head = 1;
    p->in_msg = 1;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    sl_h1_parser *p = P(hp);
    if (sl_buf_append(&p->head, at, len) != 0) {
        p->status = 500;
        return 1;
    }
    p->target_len += (uint32_t)len;
    return too_big(p);
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    sl_h1_parser *p = P(hp);
    if (!p->in_head)
        return 0; /* trailer */
    if (p->last_cb != 1) {
        if (p->n_offs == p->cap_offs) {
            size_t ncap = p->cap_offs ? p->cap_offs * 2 : 16;
            struct sl_h1_hdr_off *n = realloc(p->offs, ncap * sizeof(*n));
            if (!n) {
                p->status = 500;
                return 1;
            }
            p->offs = n;
            p->cap_offs = ncap;
        }
        p->offs[p->n_offs++] = (struct sl_h1_hdr_off){(uint32_t)p->head.len, 0, 0, 0};
        p->last_cb = 1;
    }
    if (sl_buf_append(&p->head, at, len) != 0) {
        p->status = 500;
        return 1;
    }
    p->offs[p->n_offs - 1].name_len += (uint32_t)len;
    return too_big(p);
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    sl_h1_parser *p = P(hp);
    if (!p->in_head)
        return 0;
    if (p->n_offs == 0)
        return 0;
    if (p->last_cb != 2) {
        p->offs[p->n_offs - 1].value_off = (uint32_t)p->head.len;
        p->last_cb = 2;
    }
    if (sl_buf_append(&p->head, at, len) != 0) {
        p->status = 500;
        return 1;
    }
    p->offs[p->n_offs - 1].value_len += (uint32_t)len;
    return too_big(p);
}

static sl_http_method map_method(unsigned m)
{
    switch (m) {
    case HTTP_GET:
        return SL_HTTP_GET;
    case HTTP_HEAD:
        return SL_HTTP_HEAD;
    case HTTP_POST:
        return SL_HTTP_POST;
    case HTTP_PUT:
        return SL_HTTP_PUT;
    case HTTP_DELETE:
        return SL_HTTP_DELETE;
    case HTTP_OPTIONS:
        return SL_HTTP_OPTIONS;
    default:
        return SL_HTTP_OTHER;
    }
}

static int on_headers_complete(http_parser *hp)
{
    sl_h1_parser *p = P(hp);
    if (too_big(p))
        return -1;
    if (hp->http_major != 1) {
        p->status = 505;
        return -1;
    }
    p->in_head = 0;
    free(p->hdrs);
    p->hdrs = NULL;
    if (p->n_offs) {
        p->hdrs = calloc(p->n_offs, sizeof(*p->hdrs));
        if (!p->hdrs) {
            p->status = 500;
            return -1;
        }
    }
    char *base = p->head.data;
    sl_h1_head *h = &p->h;
    memset(h, 0, sizeof(*h));
    h->method = map_method(hp->method);
    h->method_name.ptr = http_method_str((enum http_method)hp->method);
    h->method_name.len = strlen(h->method_name.ptr);
    h->target = (sl_slice){base, p->target_len};
    h->version = hp->http_minor >= 1 ? 11 : 10; /* HTTP/1.2+ is read as 1.1 */
    h->chunked = (hp->flags & F_CHUNKED) != 0;
    if (h->chunked)
        h->content_length = -1;
    else if (hp->flags & F_CONTENTLENGTH)
        h->content_length = (int64_t)hp->content_length;
    else
        h->content_length = 0;
    h->has_body = h->chunked || h->content_length > 0;
    h->keep_alive = http_should_keep_alive(hp);
    for (size_t i = 0; i < p->n_offs; i++) {
        struct sl_h1_hdr_off *o = &p->offs[i];
        for (uint32_t k = 0; k < o->name_len; k++) {
            char c = base[o->name_off + k];
            if (c >= 'A' && c <= 'Z')
                base[o->name_off + k] = (char)(c + 32);
        }
        sl_http_header *x = &p->hdrs[i];
        x->name = (sl_slice){base + o->name_off, o->name_len};
        x->value = (sl_slice){o->value_len ? base + o->value_off : base, o->value_len};
        if (h->authority.len == 0 && sl_slice_eq(x->name, "host"))
            h->authority = x->value;
        else if (sl_slice_eq(x->name, "expect") && sl_slice_eq_nocase(x->value, "100-continue"))
            h->expect_continue = 1;
    }
    h->headers = p->hdrs;
    h->n_headers = p->n_offs;
    p->pending = SL_H1_HEAD;
    http_parser_pause(hp, 1);
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    sl_h1_parser *p = P(hp);
    if (p->on_body && p->on_body(p->ctx, (const uint8_t *)at, len) == 1) {
        p->pending = SL_H1_BODY_PAUSE;
        http_parser_pause(hp, 1);
    }
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    sl_h1_parser *p = P(hp);
    p->pending = SL_H1_END;
    p->in_head = 0;
    p->in_msg = 0;
    http_parser_pause(hp, 1);
    return 0;
}

sl_h1_parser *sl_h1_parser_new(size_t max_head_bytes, sl_h1_body_fn body_fn, void *ctx)
{
    sl_h1_parser *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    http_parser_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_value = on_header_value;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    p->on_body = body_fn;
    p->ctx = ctx;
    p->max_head_bytes = max_head_bytes;
    sl_buf_init(&p->head);
    return p;
}

void sl_h1_parser_free(sl_h1_parser *p)
{
    if (!p)
        return;
    sl_buf_cleanup(&p->head);
    free(p->offs);
    free(p->hdrs);
    free(p);
}

sl_h1_event sl_h1_parser_stopped_at(const sl_h1_parser *p)
{
    return HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED ? p->pending : SL_H1_MORE;
}

sl_h1_event sl_h1_parser_feed(sl_h1_parser *p, const uint8_t *data, size_t len, size_t *consumed)
{
    *consumed = 0;
    if (p->failed)
        return SL_H1_ERROR;
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED)
        return p->pending; /* the caller has to resume first */
    if (len == 0)
        return SL_H1_MORE; /* http_parser would take 0 bytes as EOF */
    p->pending = SL_H1_MORE;
    size_t n = http_parser_execute(&p->hp, &p->settings, (const char *)data, len);
    *consumed = n;
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (e == HPE_PAUSED)
        return p->pending;
    if (e != HPE_OK) {
        p->failed = 1;
        if (e == HPE_HEADER_OVERFLOW)
            p->status = 431;
        else if (p->status == 0)
            p->status = 400;
        return SL_H1_ERROR;
    }
    if (p->pending != SL_H1_MORE)
        return p->pending;
    if (n != len) { /* http_parser stopped without saying why: treat as broken input */
        p->failed = 1;
        p->status = 400;
        return SL_H1_ERROR;
    }
    return SL_H1_MORE;
}

void sl_h1_parser_resume(sl_h1_parser *p)
{
    if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED)
        http_parser_pause(&p->hp, 0);
    p->pending = SL_H1_MORE;
}

int sl_h1_parser_eof_is_abort(const sl_h1_parser *p)
{
    return p->in_msg;
}

int sl_h1_parser_in_body(const sl_h1_parser *p)
{
    return p->in_msg && !p->in_head;
}

int sl_h1_parser_in_head(const sl_h1_parser *p)
{
    return p->in_head;
}

const sl_h1_head *sl_h1_parser_head(const sl_h1_parser *p)
{
    return &p->h;
}

int sl_h1_parser_status(const sl_h1_parser *p)
{
    return p->status;
}

void sl_h1_parser_take_head(sl_h1_parser *p, char **mem, sl_http_header **hdrs)
{
    size_t n;
    *mem = sl_buf_steal(&p->head, &n);
    *hdrs = p->hdrs;
    p->hdrs = NULL;
}

const char *sl_http_reason(int status)
{
    const char *s = http_status_str((enum http_status)status);
    return s && *s && strcmp(s, "<unknown>") != 0 ? s : "Unknown";
}
