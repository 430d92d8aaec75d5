/* Pagination tokens for list operations.
 *
 * A token is standard base64 (so it satisfies the models' NextToken patterns, e.g. KVS's
 * [a-zA-Z0-9+/=]*) of "<issue time, epoch ms>:<last name returned>". Listing resumes after that
 * name, so a token stays meaningful when streams are added or removed between pages. Kinesis
 * expires tokens after 300 s (ExpiredNextTokenException); the issue time lets handlers do the
 * same. Pure functions: any thread. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "sluice/time.h"

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sl_api_token_encode(const char *last, char *out, size_t out_len)
{
    char raw[600];
    int n = snprintf(raw, sizeof(raw), "%" PRId64 ":%s", sl_time_now_ns() / 1000000, last);
    if (n < 0 || (size_t)n >= sizeof(raw) || ((size_t)n + 2) / 3 * 4 + 1 > out_len)
        return SL_ETOOBIG;
    size_t o = 0;
    for (int i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(uint8_t)raw[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(uint8_t)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint8_t)raw[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? B64[v & 63] : '=';
    }
    out[o] = '\0';
    return 0;
}

int sl_api_token_decode(const char *token, int64_t max_age_ms, char *last, size_t last_len)
{
    char raw[600];
    size_t len = strlen(token), o = 0;
    if (len == 0 || len % 4 || len / 4 * 3 >= sizeof(raw))
        return SL_EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = token[i + k];
            const char *p = c ? strchr(B64, c) : NULL;
            if (c == '=' && i + 4 == len && k >= 2) {
                pad++;
                v <<= 6;
                continue;
            }
            if (!p || pad)
                return SL_EINVAL;
            v = (v << 6) | (uint32_t)(p - B64);
        }
        raw[o++] = (char)(v >> 16);
        if (pad < 2)
            raw[o++] = (char)(v >> 8);
        if (pad < 1)
            raw[o++] = (char)v;
    }
    raw[o] = '\0';
    if (memchr(raw, '\0', o))
        return SL_EINVAL;
    char *colon = strchr(raw, ':');
    if (!colon || colon == raw)
        return SL_EINVAL;
    char *end;
    long long issued = strtoll(raw, &end, 10);
    if (end != colon || issued < 0)
        return SL_EINVAL;
    if (strlen(colon + 1) >= last_len)
        return SL_EINVAL;
    if (max_age_ms > 0 && sl_time_now_ns() / 1000000 - issued > max_age_ms)
        return SL_EAGAIN;
    snprintf(last, last_len, "%s", colon + 1);
    return 0;
}
