/* Growable buffers. Capacity doubles; one spare byte keeps the contents NUL-terminated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sluice/buf.h"
#include "sluice/err.h"

void sl_buf_init(sl_buf *b)
{
    *b = SL_BUF_INIT;
}

void sl_buf_cleanup(sl_buf *b)
{
    free(b->data);
    *b = SL_BUF_INIT;
}

void sl_buf_reset(sl_buf *b)
{
    b->len = 0;
    b->oom = 0;
    if (b->data)
        b->data[0] = '\0';
}

int sl_buf_reserve(sl_buf *b, size_t extra)
{
    if (b->oom)
        return SL_ENOMEM;
    if (extra > SIZE_MAX / 2 - b->len) {
        b->oom = 1;
        return SL_ENOMEM;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return SL_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int sl_buf_append(sl_buf *b, const void *p, size_t n)
{
    if (sl_buf_reserve(b, n) != 0)
        return SL_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sl_buf_append_str(sl_buf *b, const char *s)
{
    return sl_buf_append(b, s, strlen(s));
}

int sl_buf_append_byte(sl_buf *b, uint8_t c)
{
    return sl_buf_append(b, &c, 1);
}

int sl_buf_vprintf(sl_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SL_EINVAL;
    if ((size_t)n < sizeof(small))
        return sl_buf_append(b, small, (size_t)n);
    if (sl_buf_reserve(b, (size_t)n) != 0)
        return SL_ENOMEM;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int sl_buf_printf(sl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = sl_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void sl_buf_consume(sl_buf *b, size_t n)
{
    if (n >= b->len) {
        sl_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *sl_buf_steal(sl_buf *b, size_t *len_out)
{
    char *p = b->data;
    if (len_out)
        *len_out = b->len;
    *b = SL_BUF_INIT;
    return p;
}

int sl_slice_eq(sl_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && memcmp(a.ptr, s, n) == 0;
}

int sl_slice_eq_nocase(sl_slice a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && strncasecmp(a.ptr, s, n) == 0;
}
