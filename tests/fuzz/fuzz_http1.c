/* Fuzz target: HTTP/1.1 request framing (gateway/h1.c) as the connection driver uses it.
 *
 * Input layout: byte 0 picks how the rest is cut into reads (1..256 bytes each, varying) and
 * byte 1 how often the body consumer asks to pause; the remaining bytes are the stream a client
 * sent. The driver mirrors gateway/conn.c: keep unconsumed bytes, take and resume at each head,
 * resume after BODY_PAUSE and END, stop at the first error. Checked on every step:
 *   - consumed <= offered, and SL_H1_MORE means everything was consumed (no lost bytes);
 *   - a stopped parser makes no progress until resumed (feeding again returns the same event);
 *   - every head has lower-case header names, a version of 10 or 11, and its slices stay
 *     readable after sl_h1_parser_take_head() moved the memory (ASan checks the reads);
 *   - an error carries a 4xx/5xx status. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1.h"

/* Checks that stay on in release builds (assert would vanish under NDEBUG). */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct drv {
    unsigned pause_every;
    unsigned calls;
    size_t body_bytes;
};

static int on_body(void *ctx, const uint8_t *p, size_t n)
{
    struct drv *d = ctx;
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < n; i++)
        sink ^= p[i];
    (void)sink;
    d->body_bytes += n;
    d->calls++;
    return d->pause_every && d->calls % d->pause_every == 0;
}

static void check_head(sl_h1_parser *p)
{
    const sl_h1_head *h = sl_h1_parser_head(p);
    CHECK(h->version == 10 || h->version == 11);
    char *mem = NULL;
    sl_http_header *hdrs = NULL;
    size_t n = h->n_headers;
    sl_slice target = h->target;
    sl_h1_parser_take_head(p, &mem, &hdrs);
    volatile char x = 0;
    for (size_t i = 0; i < target.len; i++)
        x ^= target.ptr[i];
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < hdrs[i].name.len; k++)
            CHECK(!(hdrs[i].name.ptr[k] >= 'A' && hdrs[i].name.ptr[k] <= 'Z'));
        for (size_t k = 0; k < hdrs[i].value.len; k++)
            x ^= hdrs[i].value.ptr[k];
    }
    (void)x;
    free(mem);
    free(hdrs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned cut_seed = data[0];
    struct drv d = {.pause_every = data[1] % 5};
    data += 2;
    size -= 2;
    sl_h1_parser *p = sl_h1_parser_new(4096, on_body, &d);
    if (!p)
        return 0;
    uint8_t *pending = malloc(size + 1);
    size_t plen = 0, off = 0;
    unsigned step = 0;
    int failed = 0;
    while (!failed && (off < size || plen > 0)) {
        /* Receive the next read into the pending buffer. */
        if (off < size) {
            size_t chunk = 1 + ((cut_seed * 31u + step * 17u) % 256u);
            if (chunk > size - off)
                chunk = size - off;
            memcpy(pending + plen, data + off, chunk);
            plen += chunk;
            off += chunk;
        }
        step++;
        /* Drive the parser over what is pending, as conn.c does. */
        for (int guard = 0; plen > 0; guard++) {
            CHECK(guard < 1000000);
            size_t used = 0;
            sl_h1_event ev = sl_h1_parser_feed(p, pending, plen, &used);
            CHECK(used <= plen);
            memmove(pending, pending + used, plen - used);
            plen -= used;
            if (ev == SL_H1_MORE) {
                CHECK(plen == 0);
                break;
            }
            if (ev == SL_H1_ERROR) {
                int st = sl_h1_parser_status(p);
                CHECK(st >= 400 && st <= 599);
                failed = 1;
                break;
            }
            /* Stopped: feeding again must not move until resumed. */
            size_t again = 0;
            CHECK(sl_h1_parser_feed(p, pending, plen, &again) == ev && again == 0);
            CHECK(sl_h1_parser_stopped_at(p) == ev);
            if (ev == SL_H1_HEAD)
                check_head(p);
            sl_h1_parser_resume(p);
        }
        if (off >= size)
            break;
    }
    (void)sl_h1_parser_eof_is_abort(p);
    sl_h1_parser_free(p);
    free(pending);
    return 0;
}
