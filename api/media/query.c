/* Query parameters of session URLs (md_query_get): the SessionToken, TrackNumber,
 * FragmentNumber and SequenceNumber that session resources read. Percent-decoding and '+' as a
 * space, bounded by the caller's buffer (longer values are cut, never overflow). A file of its
 * own so the fuzz target links it without the rest of the API. Any thread. */
#include <string.h>

#include "media_int.h"

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int md_query_get(sl_slice q, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name), i = 0;
    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&')
            end++;
        const char *eq = memchr(q.ptr + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (q.ptr + i)) : end - i;
        if (klen == nlen && memcmp(q.ptr + i, name, nlen) == 0) {
            size_t o = 0;
            for (const char *p = eq ? eq + 1 : q.ptr + end; p < q.ptr + end && o + 1 < cap; p++) {
                if (*p == '%' && p + 2 < q.ptr + end && hexv(p[1]) >= 0 && hexv(p[2]) >= 0) {
                    out[o++] = (char)(hexv(p[1]) << 4 | hexv(p[2]));
                    p += 2;
                } else {
                    out[o++] = *p == '+' ? ' ' : *p;
                }
            }
            out[o] = 0;
            return 1;
        }
        i = end + 1;
    }
    if (cap)
        out[0] = 0;
    return 0;
}
