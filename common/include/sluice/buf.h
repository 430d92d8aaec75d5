/* Growable byte buffers and borrowed slices.
 *
 * sl_buf owns its bytes (heap, grown geometrically, always NUL-terminated one past len so text
 * can be used as a C string). sl_slice borrows (ptr, len) from somewhere else and never frees.
 * Appends latch their first allocation failure in `oom`, so a writer can append many pieces and
 * check once at the end (the idea of GStreamer's ebml-write error latch). */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sl_slice {
    const char *ptr;
    size_t len;
} sl_slice;

#define SL_SLICE_LIT(s) ((sl_slice){(s), sizeof(s) - 1})

typedef struct sl_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    int oom; /* 1 once an append failed to allocate; later appends are ignored */
} sl_buf;

#define SL_BUF_INIT ((sl_buf){0})

void sl_buf_init(sl_buf *b);
void sl_buf_cleanup(sl_buf *b);
void sl_buf_reset(sl_buf *b);                /* len = 0, keeps the allocation */
int sl_buf_reserve(sl_buf *b, size_t extra); /* 0 or SL_ENOMEM */
int sl_buf_append(sl_buf *b, const void *p, size_t n);
int sl_buf_append_str(sl_buf *b, const char *s);
int sl_buf_append_byte(sl_buf *b, uint8_t c);
int sl_buf_printf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sl_buf_vprintf(sl_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Removes the first n bytes (n <= len). */
void sl_buf_consume(sl_buf *b, size_t n);
/* Hands the bytes to the caller (free with free()); b is left empty. */
char *sl_buf_steal(sl_buf *b, size_t *len_out);

int sl_slice_eq(sl_slice a, const char *s);
int sl_slice_eq_nocase(sl_slice a, const char *s);

/* Big-endian integers of n bytes (1..8) in byte arrays: the fixed-width fields of tokens and
 * sealed records. */
static inline void sl_put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t sl_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
