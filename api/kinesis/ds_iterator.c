/* Sealed position tokens (format in ds_iterator.h): AES-256-CBC for opacity, HMAC-SHA256 over
 * version, IV and ciphertext for integrity, checked in constant time before anything is
 * decrypted. The base64 codec here is strict (standard alphabet, padding required, no
 * whitespace; ds_base64.c) because a token must round-trip exactly; fuzz_iterator exercises it. */
#include "ds_iterator.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sluice/base64.h"
#include "sluice/buf.h"
#include "sluice/err.h"

#define HDR_BYTES 8
#define IV_BYTES  16
#define MAC_BYTES 32
#define MIN_PLAIN 96
#define MAX_RAW   ((SL_DS_TOKEN_MAX_CHARS / 4) * 3)
#define MAX_PLAIN (MAX_RAW - HDR_BYTES - IV_BYTES - MAC_BYTES)

static const uint8_t version_hdr[HDR_BYTES] = {0, 0, 0, 0, 0, 0, 0, 1};

static int hmac(const uint8_t key[32], const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, 32, p, n, out, &len) || len != 32)
        return SL_EINTERNAL;
    return 0;
}

int sl_ds_token_key_init(sl_ds_token_key *k, const uint8_t secret[SL_DS_TOKEN_SECRET_BYTES])
{
    static const char enc_label[] = "sluice kinesis token encryption v1";
    static const char mac_label[] = "sluice kinesis token mac v1";
    int rc = hmac(secret, enc_label, sizeof(enc_label) - 1, k->enc);
    if (rc == 0)
        rc = hmac(secret, mac_label, sizeof(mac_label) - 1, k->mac);
    return rc;
}

void sl_ds_token_key_cleanup(sl_ds_token_key *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

static int cbc(const uint8_t key[32], const uint8_t iv[16], const uint8_t *in, size_t n,
               uint8_t *out, int encrypt)
{
    int rc = SL_EINTERNAL, l1 = 0, l2 = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return SL_ENOMEM;
    if (EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, encrypt) != 1)
        goto out;
    EVP_CIPHER_CTX_set_padding(c, 0);
    if (EVP_CipherUpdate(c, out, &l1, in, (int)n) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + l1, &l2) != 1 || (size_t)(l1 + l2) != n)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(c);
    return rc;
}

int sl_ds_token_seal(const sl_ds_token_key *k, const sl_ds_token *t,
                     char out[SL_DS_TOKEN_MAX_CHARS + 1])
{
    uint8_t plain[MAX_PLAIN], raw[MAX_RAW];
    size_t name_len = strnlen(t->stream, sizeof(t->stream));
    size_t n = 0, plain_len;
    int rc;

    if (name_len == 0 || name_len > SL_DS_STREAM_NAME_MAX)
        return SL_EINVAL;
    memset(plain, 0, sizeof(plain));
    plain[n++] = t->kind;
    plain[n++] = (uint8_t)name_len;
    memcpy(plain + n, t->stream, name_len);
    n += name_len;
    sl_put_be(plain + n, (uint64_t)t->stream_created_ms, 8);
    n += 8;
    sl_put_be(plain + n, t->shard_index, 4);
    n += 4;
    sl_put_be(plain + n, t->position, 8);
    n += 8;
    sl_put_be(plain + n, (uint64_t)t->issued_ms, 8);
    n += 8;
    plain[n++] = t->flags;
    plain_len = (n + 15) / 16 * 16;
    if (plain_len < MIN_PLAIN)
        plain_len = MIN_PLAIN;

    memcpy(raw, version_hdr, HDR_BYTES);
    if (RAND_bytes(raw + HDR_BYTES, IV_BYTES) != 1)
        return SL_EINTERNAL;
    rc = cbc(k->enc, raw + HDR_BYTES, plain, plain_len, raw + HDR_BYTES + IV_BYTES, 1);
    OPENSSL_cleanse(plain, sizeof(plain));
    if (rc)
        return rc;
    size_t body = HDR_BYTES + IV_BYTES + plain_len;
    if ((rc = hmac(k->mac, raw, body, raw + body)))
        return rc;
    return (int)sl_base64_encode(raw, body + MAC_BYTES, out);
}

int sl_ds_token_open(const sl_ds_token_key *k, const char *s, size_t len, sl_ds_token *t)
{
    uint8_t raw[MAX_RAW + 3], plain[MAX_PLAIN], mac[MAC_BYTES];
    long got;
    size_t n, plain_len, name_len, p = 0;

    if (len > SL_DS_TOKEN_MAX_CHARS || (got = sl_base64_decode(s, len, raw, 1)) <= 0)
        return SL_EINVAL;
    n = (size_t)got;
    if (n < HDR_BYTES + IV_BYTES + MIN_PLAIN + MAC_BYTES ||
        (n - HDR_BYTES - IV_BYTES - MAC_BYTES) % 16 != 0 ||
        memcmp(raw, version_hdr, HDR_BYTES) != 0)
        return SL_EINVAL;
    plain_len = n - HDR_BYTES - IV_BYTES - MAC_BYTES;
    if (hmac(k->mac, raw, n - MAC_BYTES, mac) != 0 ||
        CRYPTO_memcmp(mac, raw + n - MAC_BYTES, MAC_BYTES) != 0)
        return SL_EINVAL;
    if (cbc(k->enc, raw + HDR_BYTES, raw + HDR_BYTES + IV_BYTES, plain_len, plain, 0) != 0)
        return SL_EINVAL;
    memset(t, 0, sizeof(*t));
    t->kind = plain[p++];
    name_len = plain[p++];
    /* 2 + name + 8 + 4 + 8 + 8 + 1 must fit the plaintext. */
    if (name_len == 0 || name_len > SL_DS_STREAM_NAME_MAX || 2 + name_len + 29 > plain_len)
        goto bad;
    memcpy(t->stream, plain + p, name_len);
    p += name_len;
    t->stream_created_ms = (int64_t)sl_get_be(plain + p, 8);
    p += 8;
    t->shard_index = (uint32_t)sl_get_be(plain + p, 4);
    p += 4;
    t->position = sl_get_be(plain + p, 8);
    p += 8;
    t->issued_ms = (int64_t)sl_get_be(plain + p, 8);
    p += 8;
    t->flags = plain[p++];
    OPENSSL_cleanse(plain, sizeof(plain));
    return 0;
bad:
    OPENSSL_cleanse(plain, sizeof(plain));
    return SL_EINVAL;
}

int sl_ds_token_expired(int64_t issued_ms, int64_t now_ms)
{
    return now_ms - issued_ms > SL_DS_TOKEN_TTL_MS;
}

/* Java's Date.toString() in UTC: "Thu Jan 22 01:22:02 UTC 2015". */
static void java_date(int64_t ms, char *out, size_t cap)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mo[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(out, cap, "?");
        return;
    }
    snprintf(out, cap, "%s %s %02d %02d:%02d:%02d UTC %d", wd[tm.tm_wday], mo[tm.tm_mon],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

void sl_ds_token_expired_message(int64_t issued_ms, int64_t now_ms, char *out, size_t cap)
{
    char a[48], b[48];
    java_date(issued_ms, a, sizeof(a));
    java_date(now_ms, b, sizeof(b));
    snprintf(out, cap,
             "Iterator expired. The iterator was created at time %s while right now it is %s "
             "which is further in the future than the tolerated delay of %d milliseconds.",
             a, b, SL_DS_TOKEN_TTL_MS);
}
