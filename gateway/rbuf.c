/* sl_rbuf (sluice/http.h): immutable byte ranges shared by reference, so a response body can be
 * queued on many connections without copying it.
 *
 * One heap header per buffer: an atomic reference count, the bytes' address and length, and
 * what frees them. sl_rbuf_wrap() points at memory owned elsewhere (a cache entry, a mapped
 * file) and calls the owner's free function with the last reference; sl_rbuf_alloc() puts the
 * bytes right after the header so both go with one free(). */
#include <stdatomic.h>
#include <stdlib.h>

#include "sluice/http.h"

struct sl_rbuf {
    atomic_size_t refs;
    const uint8_t *data;
    size_t len;
    sl_rbuf_free_fn free_fn;
    void *ud;
    uint8_t inline_data[]; /* sl_rbuf_alloc() */
};

sl_rbuf *sl_rbuf_wrap(const void *data, size_t len, sl_rbuf_free_fn free_fn, void *ud)
{
    sl_rbuf *b = malloc(sizeof(*b));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->data = data;
    b->len = len;
    b->free_fn = free_fn;
    b->ud = ud;
    return b;
}

sl_rbuf *sl_rbuf_alloc(size_t len, uint8_t **data)
{
    sl_rbuf *b = malloc(sizeof(*b) + (len ? len : 1));
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->data = b->inline_data;
    b->len = len;
    b->free_fn = NULL;
    b->ud = NULL;
    *data = b->inline_data;
    return b;
}

sl_rbuf *sl_rbuf_ref(sl_rbuf *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void sl_rbuf_unref(sl_rbuf *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (b->free_fn)
        b->free_fn(b->ud, b->data);
    free(b);
}

const uint8_t *sl_rbuf_data(const sl_rbuf *b)
{
    return b->data;
}

size_t sl_rbuf_len(const sl_rbuf *b)
{
    return b->len;
}
