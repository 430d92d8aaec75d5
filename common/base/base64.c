/* Base64 codec for record data and tokens (see sluice/base64.h).
 *
 * Both directions are on the Kinesis hot path (every PutRecord(s) Data member is decoded, every
 * GetRecords record encoded), so both work on whole groups with tables:
 *   encode  3 input bytes = two 12-bit halves -> two lookups in a 4096-entry table of character
 *           pairs (8 KiB, filled once on first use), 12 bytes (four groups) per loop turn; the
 *           1- or 2-byte tail goes through the 64-entry alphabet and is padded with '='.
 *   decode  a 256-entry table maps each character to its 6-bit value, or to 0x80 for anything
 *           outside the alphabet (padding included); the four values of a group are OR-ed, so
 *           one test rejects the group. Groups are written as they go: a rejected input leaves
 *           garbage in `out` but returns -1, and callers discard the buffer then. The last
 *           group is checked separately for its padding ("xx==" / "xxx=") and, with strict,
 *           for stray bits under the padding.
 * Pure functions, any thread. */
#include "sluice/base64.h"

#include <pthread.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define BAD 0x80

/* Character -> 6-bit value, BAD outside the alphabet. */
static const uint8_t dec[256] = {
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x00 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x10 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, 62,  BAD, BAD, BAD, 63,  /* 0x20 */
    52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  BAD, BAD, BAD, BAD, BAD, BAD, /* 0x30 */
    BAD, 0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  /* 0x40 */
    15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  BAD, BAD, BAD, BAD, BAD, /* 0x50 */
    BAD, 26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  /* 0x60 */
    41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  BAD, BAD, BAD, BAD, BAD, /* 0x70 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x80 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x90 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0xa0 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0xb0 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0xc0 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0xd0 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0xe0 */
    BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0xf0 */
};

/* pairs[v] = the two characters of the 12-bit value v. */
static char pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void pairs_fill(void)
{
    for (int v = 0; v < 4096; v++) {
        pairs[v][0] = b64[v >> 6];
        pairs[v][1] = b64[v & 63];
    }
}

static inline void enc3(const uint8_t *p, char *o)
{
    uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    memcpy(o, pairs[v >> 12], 2);
    memcpy(o + 2, pairs[v & 4095], 2);
}

size_t sl_base64_encode(const uint8_t *p, size_t n, char *out)
{
    size_t i = 0;
    char *o = out;
    pthread_once(&pairs_once, pairs_fill);
    for (; i + 12 <= n; i += 12, o += 16) {
        enc3(p + i, o);
        enc3(p + i + 3, o + 4);
        enc3(p + i + 6, o + 8);
        enc3(p + i + 9, o + 12);
    }
    for (; i + 3 <= n; i += 3, o += 4)
        enc3(p + i, o);
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        o[0] = b64[v >> 18];
        o[1] = b64[(v >> 12) & 63];
        o[2] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    *o = '\0';
    return (size_t)(o - out);
}

long sl_base64_decode(const char *s, size_t len, uint8_t *out, int strict)
{
    const uint8_t *u = (const uint8_t *)s;
    uint8_t *o = out;
    if (len % 4 != 0)
        return -1;
    if (len == 0)
        return 0;
    size_t full = len - 4; /* every group but the last has no padding */
    size_t i = 0;
    for (; i + 8 <= full; i += 8, o += 6) {
        uint32_t a = dec[u[i]], b = dec[u[i + 1]], c = dec[u[i + 2]], d = dec[u[i + 3]];
        uint32_t e = dec[u[i + 4]], f = dec[u[i + 5]], g = dec[u[i + 6]], h = dec[u[i + 7]];
        if ((a | b | c | d | e | f | g | h) & BAD)
            return -1;
        uint32_t v = a << 18 | b << 12 | c << 6 | d, w = e << 18 | f << 12 | g << 6 | h;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o[3] = (uint8_t)(w >> 16);
        o[4] = (uint8_t)(w >> 8);
        o[5] = (uint8_t)w;
    }
    for (; i < full; i += 4, o += 3) {
        uint32_t a = dec[u[i]], b = dec[u[i + 1]], c = dec[u[i + 2]], d = dec[u[i + 3]];
        if ((a | b | c | d) & BAD)
            return -1;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
    }
    /* The last group: "xxxx", "xxx=" or "xx==". */
    uint32_t a = dec[u[i]], b = dec[u[i + 1]], c = dec[u[i + 2]], d = dec[u[i + 3]];
    if ((a | b) & BAD)
        return -1;
    if (!((c | d) & BAD)) {
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    } else if (!(c & BAD) && u[i + 3] == '=') {
        if (strict && (c & 3))
            return -1;
        uint32_t v = a << 18 | b << 12 | c << 6;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o += 2;
    } else if (u[i + 2] == '=' && u[i + 3] == '=') {
        if (strict && (b & 15))
            return -1;
        o[0] = (uint8_t)((a << 18 | b << 12) >> 16);
        o += 1;
    } else {
        return -1;
    }
    return (long)(o - out);
}
