/* Playback session tokens: the SessionToken of HLS and DASH URLs.
 *
 * A session URL carries no credentials; the token is the whole authorisation for its GET
 * requests, so it must say exactly what may be read and be impossible to forge or stretch.
 * Format (version 1):
 *     token   = base64url(payload || mac) "~"          ('~' ends AWS's tokens too)
 *     payload = "1|" proto "|" mode "|" ts "|" server "|" disc "|" dts "|" dfn "|" start_ms "|"
 *               end_ms "|" created_ms "|" expires_ms "|" max "|" anchor_seq "|" region "|"
 *               skey "|" stream                          (decimal integers, stream name last)
 *     mac     = first 16 bytes of HMAC-SHA256(key, payload)
 * key is 32 random bytes drawn when the process first needs it, so sessions end with the
 * process (AWS sessions are as short-lived: at most 12 h). SLUICE_MEDIA_TOKEN_KEY (64 hex
 * digits) pins the key instead, for several gateways behind one name or restarts in tests.
 * Verification recomputes the MAC and compares in constant time before reading any field,
 * then checks expiry; a malformed or altered token and an expired one are told apart (AWS
 * answers both with 403). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "media_int.h"
#include "sluice/sigv4.h"

#define MAC_BYTES     16
#define PAYLOAD_MAX   640
#define TOKEN_KEY_LEN 32

static uint8_t key[TOKEN_KEY_LEN];
static int have_key;

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int key_init(void)
{
    if (have_key)
        return 0;
    const char *env = getenv("SLUICE_MEDIA_TOKEN_KEY");
    if (env && strlen(env) == 2 * TOKEN_KEY_LEN) {
        for (size_t i = 0; i < TOKEN_KEY_LEN; i++) {
            int hi = hexval(env[2 * i]), lo = hexval(env[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return SL_EINVAL;
            key[i] = (uint8_t)(hi << 4 | lo);
        }
    } else if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
        return SL_EINTERNAL;
    }
    have_key = 1;
    return 0;
}

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64u_encode(const uint8_t *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = b64u[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = b64u[v & 63];
    }
    return o;
}

static int b64u_val(char ch)
{
    const char *p = ch ? strchr(b64u, ch) : NULL;
    return p ? (int)(p - b64u) : -1;
}

/* Returns bytes written or -1. */
static long b64u_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64u_val(s[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

int md_session_encode(const md_session *s, char *out, size_t cap)
{
    uint8_t raw[PAYLOAD_MAX + 32];
    uint8_t mac[32];
    if (key_init())
        return SL_EINTERNAL;
    int n = snprintf((char *)raw, PAYLOAD_MAX,
                     "1|%d|%d|%d|%d|%d|%d|%d|%lld|%lld|%lld|%lld|%u|%llu|%s|%s|%s", (int)s->proto,
                     (int)s->mode, s->ts_container, s->server_ts, s->discontinuity, s->display_ts,
                     s->display_fn, (long long)s->start_ms, (long long)s->end_ms,
                     (long long)s->created_ms, (long long)s->expires_ms, s->max_results,
                     (unsigned long long)s->anchor_seq, s->region, s->skey, s->stream);
    if (n < 0 || n >= PAYLOAD_MAX)
        return SL_ETOOBIG;
    sl_sigv4_hmac_sha256(key, sizeof(key), raw, (size_t)n, mac);
    memcpy(raw + n, mac, MAC_BYTES);
    size_t total = (size_t)n + MAC_BYTES;
    if (cap < (total + 2) / 3 * 4 + 2)
        return SL_ETOOBIG;
    size_t o = b64u_encode(raw, total, out);
    out[o++] = '~';
    out[o] = 0;
    return 0;
}

static int next_field(char **p, char **field)
{
    if (!*p)
        return -1;
    *field = *p;
    char *bar = strchr(*p, '|');
    if (bar) {
        *bar = 0;
        *p = bar + 1;
    } else {
        *p = NULL;
    }
    return 0;
}

static int num_field(char **p, long long *v)
{
    char *f, *end;
    if (next_field(p, &f) || !*f)
        return -1;
    *v = strtoll(f, &end, 10);
    return *end ? -1 : 0;
}

int md_session_decode(const char *token, size_t len, int64_t now_ms, md_session *s)
{
    uint8_t raw[PAYLOAD_MAX + MAC_BYTES + 8];
    uint8_t mac[32];
    if (key_init())
        return SL_EINTERNAL;
    if (len < 2 || token[len - 1] != '~')
        return SL_EAUTH_SIGNATURE;
    long n = b64u_decode(token, len - 1, raw, sizeof(raw) - 1);
    if (n <= MAC_BYTES)
        return SL_EAUTH_SIGNATURE;
    size_t plen = (size_t)n - MAC_BYTES;
    sl_sigv4_hmac_sha256(key, sizeof(key), raw, plen, mac);
    uint8_t diff = 0;
    for (size_t i = 0; i < MAC_BYTES; i++)
        diff |= (uint8_t)(mac[i] ^ raw[plen + i]);
    if (diff)
        return SL_EAUTH_SIGNATURE;
    raw[plen] = 0;
    if (memchr(raw, 0, plen))
        return SL_EAUTH_SIGNATURE;
    char *p = (char *)raw, *f;
    long long v[14];
    memset(s, 0, sizeof(*s));
    if (next_field(&p, &f) || strcmp(f, "1") != 0)
        return SL_EAUTH_SIGNATURE;
    for (int i = 0; i < 13; i++)
        if (num_field(&p, &v[i]))
            return SL_EAUTH_SIGNATURE;
    s->proto = (md_proto)v[0];
    s->mode = (md_mode)v[1];
    s->ts_container = (int)v[2];
    s->server_ts = (int)v[3];
    s->discontinuity = (int)v[4];
    s->display_ts = (int)v[5];
    s->display_fn = (int)v[6];
    s->start_ms = v[7];
    s->end_ms = v[8];
    s->created_ms = v[9];
    s->expires_ms = v[10];
    s->max_results = (uint32_t)v[11];
    s->anchor_seq = (uint64_t)v[12];
    char *region, *skey;
    if (next_field(&p, &region) || next_field(&p, &skey) || !p)
        return SL_EAUTH_SIGNATURE;
    snprintf(s->region, sizeof(s->region), "%s", region);
    snprintf(s->skey, sizeof(s->skey), "%s", skey);
    snprintf(s->stream, sizeof(s->stream), "%s", p);
    if (now_ms >= s->expires_ms)
        return SL_EAUTH_EXPIRED;
    return 0;
}
