/* SigV4 cryptography and the signer (Authorization-header and presigned-query forms).
 *
 * SHA-256 and HMAC-SHA256 run on OpenSSL 3's EVP interface with an explicitly fetched SHA-256
 * (fetched once, on first use, under pthread_once): implicit fetching by name on every call costs
 * a provider lookup, and the verifier computes three digests and an HMAC per request. HMAC is
 * built from the digest (RFC 2104) rather than EVP_MAC so each call needs only one EVP_MD_CTX.
 *
 * The signer takes the request as it will be sent, signs every header it is given (plus
 * X-Amz-Date and, as asked, X-Amz-Security-Token and x-amz-content-sha256 in the header form),
 * and leaves the intermediate texts in the result so tests and debugging can see them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sluice/sigv4.h"

static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static EVP_MD *sha_fetched;

static void sha_init(void)
{
    sha_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&sha_once, sha_init);
    return sha_fetched ? sha_fetched : EVP_sha256();
}

/* Digest of up to three pieces; returns 0 or SL_ENOMEM (OpenSSL failure treated alike). */
static int digest3(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, sha256_md(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, an) == 1 && (bn == 0 || EVP_DigestUpdate(ctx, b, bn) == 1) &&
             EVP_DigestFinal_ex(ctx, out, &len) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        memset(out, 0, 32);
        return SL_ENOMEM;
    }
    return 0;
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[p[i] >> 4];
        out[2 * i + 1] = hx[p[i] & 15];
    }
    out[2 * n] = '\0';
}

void sl_sigv4_sha256_hex(const void *p, size_t n, char hex_out[65])
{
    uint8_t d[32];
    digest3(p ? p : "", n, NULL, 0, d);
    to_hex(d, 32, hex_out);
}

void sl_sigv4_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                          uint8_t out[32])
{
    uint8_t k[64] = {0}, pad[64], inner[32];
    if (key_len > 64)
        digest3(key, key_len, NULL, 0, k);
    else if (key_len)
        memcpy(k, key, key_len);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    digest3(pad, 64, msg ? msg : "", msg_len, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    digest3(pad, 64, inner, 32, out);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(inner, sizeof(inner));
}

void sl_sigv4_derive_key(sl_slice secret, sl_slice date8, sl_slice region, sl_slice service,
                         uint8_t key_out[32])
{
    uint8_t k[32];
    size_t n = 4 + secret.len;
    char stack[4 + 128];
    char *s = n <= sizeof(stack) ? stack : malloc(n);
    if (!s) {
        memset(key_out, 0, 32);
        return;
    }
    memcpy(s, "AWS4", 4);
    memcpy(s + 4, secret.ptr, secret.len);
    sl_sigv4_hmac_sha256(s, n, date8.ptr, date8.len, k);
    OPENSSL_cleanse(s, n);
    if (s != stack)
        free(s);
    sl_sigv4_hmac_sha256(k, 32, region.ptr, region.len, k);
    sl_sigv4_hmac_sha256(k, 32, service.ptr, service.len, k);
    sl_sigv4_hmac_sha256(k, 32, "aws4_request", 12, key_out);
    OPENSSL_cleanse(k, sizeof(k));
}

void sl_sigv4_signature(const uint8_t key[32], sl_slice sts, char hex_out[65])
{
    uint8_t mac[32];
    sl_sigv4_hmac_sha256(key, 32, sts.ptr, sts.len, mac);
    to_hex(mac, 32, hex_out);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

static int64_t civil_to_unix(int y, int mo, int d, int h, int mi, int s)
{
    return days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
}

static int valid_civil(int y, int mo, int d, int h, int mi, int s)
{
    return mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo) && h <= 23 && mi <= 59 &&
           s <= 60;
}

static int digits(const char *p, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int sl_sigv4_parse_amz_date(sl_slice s, int64_t *t_s)
{
    int y, mo, d, h, mi, sec;
    if (s.len != 16 || s.ptr[8] != 'T' || s.ptr[15] != 'Z' || digits(s.ptr, 4, &y) ||
        digits(s.ptr + 4, 2, &mo) || digits(s.ptr + 6, 2, &d) || digits(s.ptr + 9, 2, &h) ||
        digits(s.ptr + 11, 2, &mi) || digits(s.ptr + 13, 2, &sec) ||
        !valid_civil(y, mo, d, h, mi, sec))
        return SL_EPARSE;
    *t_s = civil_to_unix(y, mo, d, h, mi, sec);
    return 0;
}

int sl_sigv4_parse_http_date(sl_slice s, int64_t *t_s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (sl_sigv4_parse_amz_date(s, t_s) == 0)
        return 0;
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    int y, d, h, mi, sec, mo = 0;
    if (s.len != 29 || s.ptr[3] != ',' || s.ptr[4] != ' ' || s.ptr[7] != ' ' || s.ptr[11] != ' ' ||
        s.ptr[16] != ' ' || s.ptr[19] != ':' || s.ptr[22] != ':' ||
        memcmp(s.ptr + 25, " GMT", 4) != 0)
        return SL_EPARSE;
    for (int i = 0; i < 12; i++)
        if (memcmp(s.ptr + 8, months + 3 * i, 3) == 0)
            mo = i + 1;
    if (!mo || digits(s.ptr + 5, 2, &d) || digits(s.ptr + 12, 4, &y) || digits(s.ptr + 17, 2, &h) ||
        digits(s.ptr + 20, 2, &mi) || digits(s.ptr + 23, 2, &sec) ||
        !valid_civil(y, mo, d, h, mi, sec))
        return SL_EPARSE;
    *t_s = civil_to_unix(y, mo, d, h, mi, sec);
    return 0;
}

static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int sl_sigv4_format_amz_date(int64_t t_s, char out[17])
{
    /* 0000-01-01 .. 9999-12-31 */
    if (t_s < -62167219200LL || t_s > 253402300799LL) {
        out[0] = '\0';
        return SL_ERANGE;
    }
    int64_t days = t_s >= 0 ? t_s / 86400 : -((-t_s + 86399) / 86400);
    int64_t secs = t_s - days * 86400;
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    put_digits(out, (unsigned)y, 4);
    put_digits(out + 4, m, 2);
    put_digits(out + 6, d, 2);
    out[8] = 'T';
    put_digits(out + 9, (unsigned)(secs / 3600), 2);
    put_digits(out + 11, (unsigned)(secs / 60 % 60), 2);
    put_digits(out + 13, (unsigned)(secs % 60), 2);
    out[15] = 'Z';
    out[16] = '\0';
    return 0;
}

void sl_sigv4_result_init(sl_sigv4_result *r)
{
    memset(r, 0, sizeof(*r));
}

void sl_sigv4_result_cleanup(sl_sigv4_result *r)
{
    sl_buf_cleanup(&r->canonical_request);
    sl_buf_cleanup(&r->string_to_sign);
    sl_buf_cleanup(&r->signed_headers);
    sl_buf_cleanup(&r->authorization);
    sl_buf_cleanup(&r->query);
    if (r->store_.data)
        OPENSSL_cleanse(r->store_.data, r->store_.cap);
    sl_buf_cleanup(&r->store_);
    memset(r, 0, sizeof(*r));
}

static void result_reset(sl_sigv4_result *r)
{
    sl_buf_reset(&r->canonical_request);
    sl_buf_reset(&r->string_to_sign);
    sl_buf_reset(&r->signed_headers);
    sl_buf_reset(&r->authorization);
    sl_buf_reset(&r->query);
    sl_buf_reset(&r->store_);
    r->signature[0] = r->amz_date[0] = r->payload_hash[0] = '\0';
    r->n_add = 0;
}

static int slice_cmp(const void *a, const void *b)
{
    const sl_slice *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Writes the sorted, de-duplicated, lower-cased names of hdrs joined by ';' into out. */
static int signed_list(sl_buf *out, const sl_http_header *hdrs, size_t n)
{
    sl_buf lower = SL_BUF_INIT;
    sl_slice *names = NULL;
    size_t *offs = NULL;
    int rc = SL_ENOMEM;

    names = malloc((n ? n : 1) * sizeof(*names));
    offs = malloc((n ? n : 1) * sizeof(*offs));
    if (!names || !offs)
        goto out;
    for (size_t i = 0; i < n; i++) {
        offs[i] = lower.len;
        for (size_t k = 0; k < hdrs[i].name.len; k++) {
            char c = hdrs[i].name.ptr[k];
            sl_buf_append_byte(&lower, (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c));
        }
    }
    if (lower.oom)
        goto out;
    for (size_t i = 0; i < n; i++)
        names[i] = (sl_slice){lower.data + offs[i], hdrs[i].name.len};
    qsort(names, n, sizeof(*names), slice_cmp);
    for (size_t i = 0, w = 0; i < n; i++) {
        if (names[i].len == 0 || (i && slice_cmp(&names[i], &names[i - 1]) == 0))
            continue;
        if (w++)
            sl_buf_append_byte(out, ';');
        sl_buf_append(out, names[i].ptr, names[i].len);
    }
    rc = out->oom ? SL_ENOMEM : 0;
out:
    free(names);
    free(offs);
    sl_buf_cleanup(&lower);
    return rc;
}

static int opts_ok(const sl_sigv4_request *req, const sl_sigv4_sign_opts *o)
{
    return req && o && o->access_key.len && o->secret_key.len && o->region.len && o->service.len &&
           req->method.len && (req->n_headers == 0 || req->headers);
}

/* Fills payload hash, date; then canonical request, string to sign and signature over
 * hdrs/query. */
static int sign_core(const sl_sigv4_request *req, const sl_sigv4_sign_opts *o, sl_sigv4_result *res,
                     const sl_http_header *hdrs, size_t n, sl_slice query, sl_slice scope)
{
    int rc = signed_list(&res->signed_headers, hdrs, n);
    if (rc)
        return rc;
    if (res->signed_headers.len == 0)
        return SL_EINVAL;
    sl_sigv4_canon c = {
        .method = req->method,
        .path = req->path,
        .query = query,
        .normalize_path = !o->no_normalize_path,
        .headers = hdrs,
        .n_headers = n,
        .signed_headers = {res->signed_headers.data, res->signed_headers.len},
        .payload_hash = {res->payload_hash, strlen(res->payload_hash)},
    };
    rc = sl_sigv4_canonical_request(&res->canonical_request, &c);
    if (rc)
        return rc;
    rc = sl_sigv4_string_to_sign(
        &res->string_to_sign, (sl_slice){res->amz_date, 16}, scope,
        (sl_slice){res->canonical_request.data, res->canonical_request.len});
    if (rc)
        return rc;
    uint8_t key[32];
    sl_sigv4_derive_key(o->secret_key, (sl_slice){res->amz_date, 8}, o->region, o->service, key);
    sl_sigv4_signature(key, (sl_slice){res->string_to_sign.data, res->string_to_sign.len},
                       res->signature);
    OPENSSL_cleanse(key, sizeof(key));
    return 0;
}

/* Common preparation: date, payload hash, scope (into res->store_). */
static int prepare(const sl_sigv4_request *req, const sl_sigv4_sign_opts *o, sl_sigv4_result *res,
                   sl_slice *scope)
{
    result_reset(res);
    if (!opts_ok(req, o))
        return SL_EINVAL;
    int rc = sl_sigv4_format_amz_date(o->time_s, res->amz_date);
    if (rc)
        return rc;
    if (o->payload_hash.len) {
        if (o->payload_hash.len > 64)
            return SL_EINVAL;
        memcpy(res->payload_hash, o->payload_hash.ptr, o->payload_hash.len);
        res->payload_hash[o->payload_hash.len] = '\0';
    } else {
        sl_sigv4_sha256_hex(req->body, req->body ? req->body_len : 0, res->payload_hash);
    }
    /* store_ holds the scope first; nothing else is appended before scope is used. */
    sl_buf_printf(&res->store_, "%.8s/%.*s/%.*s/aws4_request", res->amz_date, (int)o->region.len,
                  o->region.ptr, (int)o->service.len, o->service.ptr);
    if (res->store_.oom)
        return SL_ENOMEM;
    *scope = (sl_slice){res->store_.data, res->store_.len};
    return 0;
}

int sl_sigv4_sign(const sl_sigv4_request *req, const sl_sigv4_sign_opts *o, sl_sigv4_result *res)
{
    sl_http_header *hdrs = NULL;
    sl_slice scope;
    int rc = prepare(req, o, res, &scope);
    if (rc)
        return rc;
    size_t n = 0;
    hdrs = malloc((req->n_headers + 3) * sizeof(*hdrs));
    if (!hdrs) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < req->n_headers; i++)
        if (!sl_slice_eq_nocase(req->headers[i].name, "authorization"))
            hdrs[n++] = req->headers[i];
    hdrs[n++] = (sl_http_header){SL_SLICE_LIT("X-Amz-Date"), {res->amz_date, 16}};
    if (o->add_content_sha256)
        hdrs[n++] = (sl_http_header){SL_SLICE_LIT("X-Amz-Content-Sha256"),
                                     {res->payload_hash, strlen(res->payload_hash)}};
    if (o->session_token.len && !o->omit_session_token)
        hdrs[n++] = (sl_http_header){SL_SLICE_LIT("X-Amz-Security-Token"), o->session_token};
    rc = sign_core(req, o, res, hdrs, n, req->query, scope);
    if (rc)
        goto out;

    sl_buf_printf(&res->authorization,
                  SL_SIGV4_ALGORITHM " Credential=%.*s/%.*s, SignedHeaders=%s, "
                                     "Signature=%s",
                  (int)o->access_key.len, o->access_key.ptr, (int)scope.len, scope.ptr,
                  res->signed_headers.data, res->signature);
    /* The token is copied into store_ (after the scope) so the result owns every value. */
    size_t tok_off = res->store_.len;
    if (o->session_token.len)
        sl_buf_append(&res->store_, o->session_token.ptr, o->session_token.len);
    if (res->authorization.oom || res->store_.oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    res->add[res->n_add++] = (sl_http_header){SL_SLICE_LIT("X-Amz-Date"), {res->amz_date, 16}};
    if (o->session_token.len)
        res->add[res->n_add++] =
            (sl_http_header){SL_SLICE_LIT("X-Amz-Security-Token"),
                             {res->store_.data + tok_off, o->session_token.len}};
    if (o->add_content_sha256)
        res->add[res->n_add++] = (sl_http_header){SL_SLICE_LIT("X-Amz-Content-Sha256"),
                                                  {res->payload_hash, strlen(res->payload_hash)}};
    res->add[res->n_add++] = (sl_http_header){SL_SLICE_LIT("Authorization"),
                                              {res->authorization.data, res->authorization.len}};
out:
    free(hdrs);
    return rc;
}

int sl_sigv4_presign(const sl_sigv4_request *req, const sl_sigv4_sign_opts *o, sl_sigv4_result *res)
{
    sl_slice scope;
    int rc = prepare(req, o, res, &scope);
    if (rc)
        return rc;
    if (o->expires_s < 1 || o->expires_s > SL_SIGV4_MAX_EXPIRES_S)
        return SL_EINVAL;
    rc = signed_list(&res->signed_headers, req->headers, req->n_headers);
    if (rc)
        return rc;
    sl_buf *q = &res->query;
    if (req->query.len) {
        sl_buf_append(q, req->query.ptr, req->query.len);
        sl_buf_append_byte(q, '&');
    }
    sl_buf_append_str(q, "X-Amz-Algorithm=" SL_SIGV4_ALGORITHM "&X-Amz-Credential=");
    sl_sigv4_uri_encode(q, o->access_key.ptr, o->access_key.len, 0);
    sl_buf_append_str(q, "%2F");
    sl_sigv4_uri_encode(q, scope.ptr, scope.len, 0);
    sl_buf_printf(q, "&X-Amz-Date=%s&X-Amz-SignedHeaders=", res->amz_date);
    sl_sigv4_uri_encode(q, res->signed_headers.data, res->signed_headers.len, 0);
    sl_buf_printf(q, "&X-Amz-Expires=%lld", (long long)o->expires_s);
    if (o->session_token.len && !o->omit_session_token) {
        sl_buf_append_str(q, "&X-Amz-Security-Token=");
        sl_sigv4_uri_encode(q, o->session_token.ptr, o->session_token.len, 0);
    }
    if (q->oom)
        return SL_ENOMEM;
    /* sign_core rebuilds the signed list from the same headers; reset it first. */
    sl_buf_reset(&res->signed_headers);
    rc = sign_core(req, o, res, req->headers, req->n_headers, (sl_slice){q->data, q->len}, scope);
    if (rc)
        return rc;
    if (o->session_token.len && o->omit_session_token) {
        sl_buf_append_str(q, "&X-Amz-Security-Token=");
        sl_sigv4_uri_encode(q, o->session_token.ptr, o->session_token.len, 0);
    }
    sl_buf_printf(q, "&X-Amz-Signature=%s", res->signature);
    return q->oom ? SL_ENOMEM : 0;
}
