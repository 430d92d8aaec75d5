/* Request authentication: the key table and the SigV4 verifier for incoming requests.
 *
 * Key table. Loaded from AWS shared-credentials files:
 *     # comment            ; comment
 *     [default]            [profile name]            [name]
 *     aws_access_key_id = AKIA...          (names case-insensitive, '=' or ':')
 *     aws_secret_access_key = ...
 * A section contributes a key when it has both settings; other settings (region,
 * aws_session_token, nested "s3 =" blocks) are ignored; an inline "# ..." after whitespace is a
 * comment. Keys are kept sorted by id for bsearch; a later file's id replaces an earlier one.
 * sl_auth_generate_file() writes a random AKIA-style id (16 base32 characters after "AKIA") and a
 * 40-character secret (base64 alphabet), both from RAND_bytes without modulo bias, to a file
 * created with O_EXCL and mode 0600.
 *
 * Verification (sl_auth_verify), in this order so the error is the one AWS would give:
 *   1. find the signature: Authorization header, else presigned X-Amz-* query, else
 *      SL_EAUTH_MISSING; parse it (common/sigv4/verify.c: SL_EAUTH_INCOMPLETE texts);
 *   2. the request time: X-Amz-Date header (or Date) / X-Amz-Date parameter;
 *   3. the credential scope: service == the route's signing name; day == the request time's;
 *      "host" (or ":authority") must be signed;
 *   4. the key id must be known (SL_EAUTH_UNKNOWN_KEY);
 *   5. the clock: +-15 minutes, or the presigned X-Amz-Expires window (SL_EAUTH_EXPIRED);
 *   6. the payload hash: SHA-256 of the buffered body; for a streamed body (body == NULL) the
 *      x-amz-content-sha256 header when present (UNSIGNED-PAYLOAD accepted), else the hash of
 *      the empty string, which is what the AWS video producer signs for PutMedia;
 *   7. canonical request over the path as sent (normalised, as every non-S3 AWS service does),
 *      the query (minus X-Amz-Signature when presigned), the signed headers from req->headers --
 *      a signed "host" with no Host header, or a signed ":authority" (the JS SDK v3 signs the
 *      HTTP/2 pseudo-header under that name), takes req->authority -- then the string to sign,
 *      the derived key (cached per key/day/region/service in a small direct-mapped table) and a
 *      constant-time compare (CRYPTO_memcmp).
 * Scratch buffers live in the sl_auth and are reused, so a verification allocates nothing in the
 * steady state. Loop thread only; not thread-safe. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "auth.h"
#include "sluice/sigv4.h"

#define CACHE_SLOTS     64
#define MAX_CREDS_BYTES (4 << 20)

static const char MSG_SIGNATURE[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
static const char MSG_UNKNOWN_KEY[] = "The security token included in the request is invalid.";
static const char MSG_MISSING[] = "Missing Authentication Token";

typedef struct key_entry {
    char *id;
    char *secret;
    size_t secret_len;
} key_entry;

typedef struct cache_entry {
    int used;
    char id[129];
    char date8[9];
    char region[64];
    char service[64];
    uint8_t key[32];
} cache_entry;

struct sl_auth {
    key_entry *keys; /* sorted by id */
    size_t n_keys, cap_keys;
    cache_entry cache[CACHE_SLOTS];
    sl_buf cr;  /* canonical request scratch */
    sl_buf sts; /* string-to-sign scratch */
};

int sl_auth_new(sl_auth **out)
{
    sl_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return SL_ENOMEM;
    *out = a;
    return 0;
}

static void wipe_str(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

void sl_auth_free(sl_auth *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_keys; i++) {
        free(a->keys[i].id);
        wipe_str(a->keys[i].secret);
    }
    free(a->keys);
    OPENSSL_cleanse(a->cache, sizeof(a->cache));
    if (a->cr.data)
        OPENSSL_cleanse(a->cr.data, a->cr.cap);
    sl_buf_cleanup(&a->cr);
    sl_buf_cleanup(&a->sts);
    free(a);
}

size_t sl_auth_key_count(const sl_auth *a)
{
    return a ? a->n_keys : 0;
}

static int key_cmp(const void *k, const void *e)
{
    return strcmp(k, ((const key_entry *)e)->id);
}

static key_entry *key_find(const sl_auth *a, const char *id)
{
    if (!a->n_keys)
        return NULL;
    return bsearch(id, a->keys, a->n_keys, sizeof(*a->keys), key_cmp);
}

/* Adds or replaces (id, secret); copies both. */
static int key_add(sl_auth *a, const char *id, size_t id_len, const char *sec, size_t sec_len)
{
    char *idc = NULL, *secc = NULL;
    int rc = SL_ENOMEM;
    idc = strndup(id, id_len);
    secc = strndup(sec, sec_len);
    if (!idc || !secc)
        goto out;
    key_entry *e = key_find(a, idc);
    if (e) {
        wipe_str(e->secret);
        e->secret = secc;
        e->secret_len = sec_len;
        secc = NULL;
        rc = 0;
        goto out;
    }
    if (a->n_keys == a->cap_keys) {
        size_t cap = a->cap_keys ? a->cap_keys * 2 : 8;
        key_entry *k = realloc(a->keys, cap * sizeof(*k));
        if (!k)
            goto out;
        a->keys = k;
        a->cap_keys = cap;
    }
    /* insertion keeps the table sorted */
    size_t pos = 0;
    while (pos < a->n_keys && strcmp(a->keys[pos].id, idc) < 0)
        pos++;
    memmove(a->keys + pos + 1, a->keys + pos, (a->n_keys - pos) * sizeof(*a->keys));
    a->keys[pos] = (key_entry){idc, secc, sec_len};
    a->n_keys++;
    idc = secc = NULL;
    rc = 0;
out:
    free(idc);
    wipe_str(secc);
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static sl_slice trim(const char *p, size_t n)
{
    while (n && is_space(*p)) {
        p++;
        n--;
    }
    while (n && is_space(p[n - 1]))
        n--;
    return (sl_slice){p, n};
}

/* Parses a shared-credentials text; adds each complete section. Returns the number added. */
static int parse_credentials(sl_auth *a, const char *text, size_t len, int *added)
{
    char id[256], sec[256];
    size_t id_len = 0, sec_len = 0;
    int in_section = 0, rc = 0;
    size_t i = 0;
    *added = 0;
    for (;;) {
        int at_end = i >= len;
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        sl_slice line = at_end ? (sl_slice){"", 0} : trim(text + i, j - i);
        int new_section = !at_end && line.len && line.ptr[0] == '[';
        if (at_end || new_section) {
            if (in_section && id_len && sec_len) {
                rc = key_add(a, id, id_len, sec, sec_len);
                if (rc)
                    break;
                (*added)++;
            }
            id_len = sec_len = 0;
            in_section = new_section;
            if (at_end)
                break;
        } else if (line.len && line.ptr[0] != '#' && line.ptr[0] != ';' && in_section) {
            size_t k = 0;
            while (k < line.len && line.ptr[k] != '=' && line.ptr[k] != ':')
                k++;
            if (k < line.len) {
                sl_slice name = trim(line.ptr, k);
                sl_slice val = trim(line.ptr + k + 1, line.len - k - 1);
                /* an inline comment starts at whitespace followed by '#' or ';' */
                for (size_t m = 1; m < val.len; m++) {
                    if ((val.ptr[m] == '#' || val.ptr[m] == ';') && is_space(val.ptr[m - 1])) {
                        val = trim(val.ptr, m);
                        break;
                    }
                }
                if (sl_slice_eq_nocase(name, "aws_access_key_id") && val.len &&
                    val.len < sizeof(id)) {
                    memcpy(id, val.ptr, val.len);
                    id_len = val.len;
                } else if (sl_slice_eq_nocase(name, "aws_secret_access_key") && val.len &&
                           val.len < sizeof(sec)) {
                    memcpy(sec, val.ptr, val.len);
                    sec_len = val.len;
                }
            }
        }
        i = j + 1;
    }
    OPENSSL_cleanse(sec, sizeof(sec));
    return rc;
}

static void cache_clear(sl_auth *a)
{
    OPENSSL_cleanse(a->cache, sizeof(a->cache));
    memset(a->cache, 0, sizeof(a->cache));
}

int sl_auth_load_file(sl_auth *a, const char *path)
{
    FILE *f = NULL;
    char *text = NULL;
    int rc = 0, added = 0;

    f = fopen(path, "rb");
    if (!f) {
        rc = errno == ENOENT ? SL_ENOTFOUND : SL_EIO;
        goto out;
    }
    text = malloc(MAX_CREDS_BYTES);
    if (!text) {
        rc = SL_ENOMEM;
        goto out;
    }
    size_t n = fread(text, 1, MAX_CREDS_BYTES, f);
    if (ferror(f)) {
        rc = SL_EIO;
        goto out;
    }
    if (n == MAX_CREDS_BYTES) {
        rc = SL_ETOOBIG;
        goto out;
    }
    rc = parse_credentials(a, text, n, &added);
    if (rc == 0 && added == 0)
        rc = SL_EINVAL;
    cache_clear(a); /* a replaced secret must not keep its old derived keys */
out:
    if (text) {
        OPENSSL_cleanse(text, MAX_CREDS_BYTES);
        free(text);
    }
    if (f)
        fclose(f);
    return rc;
}

int sl_auth_generate_file(sl_auth *a, const char *path)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char rnd[56];
    char id[21], sec[41], text[160];
    int fd = -1, rc = 0, created = 0;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        rc = SL_EINTERNAL;
        goto out;
    }
    memcpy(id, "AKIA", 4);
    for (int i = 0; i < 16; i++)
        id[4 + i] = b32[rnd[i] & 31];
    id[20] = '\0';
    for (int i = 0; i < 40; i++)
        sec[i] = b64[rnd[16 + i] & 63];
    sec[40] = '\0';
    int n = snprintf(text, sizeof(text),
                     "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, sec);

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = errno == EEXIST ? SL_EEXISTS : SL_EIO;
        goto out;
    }
    created = 1;
    if (fchmod(fd, 0600) != 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        rc = SL_EIO;
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = SL_EIO;
        goto out;
    }
    fd = -1;
    rc = key_add(a, id, 20, sec, 40);
out:
    if (fd >= 0)
        close(fd);
    if (rc && created)
        unlink(path);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    OPENSSL_cleanse(sec, sizeof(sec));
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

/* ---- verification ---- */

static sl_slice header_get(const sl_http_request *req, const char *lname)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (sl_slice_eq_nocase(req->headers[i].name, lname))
            return req->headers[i].value;
    return (sl_slice){"", 0};
}

static int header_present(const sl_http_request *req, const char *lname)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (sl_slice_eq_nocase(req->headers[i].name, lname))
            return 1;
    return 0;
}

static uint32_t fnv1a(uint32_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h ^ 0xff; /* separator, so ("ab","c") and ("a","bc") differ */
}

static const uint8_t *signing_key(sl_auth *a, const key_entry *k, const sl_sigv4_auth *au)
{
    uint32_t h = 2166136261u;
    h = fnv1a(h, au->access_key);
    h = fnv1a(h, au->date8);
    h = fnv1a(h, au->region);
    h = fnv1a(h, au->service);
    cache_entry *e = &a->cache[h % CACHE_SLOTS];
    if (e->used && strcmp(e->id, au->access_key) == 0 && strcmp(e->date8, au->date8) == 0 &&
        strcmp(e->region, au->region) == 0 && strcmp(e->service, au->service) == 0)
        return e->key;
    sl_sigv4_derive_key((sl_slice){k->secret, k->secret_len},
                        (sl_slice){au->date8, strlen(au->date8)},
                        (sl_slice){au->region, strlen(au->region)},
                        (sl_slice){au->service, strlen(au->service)}, e->key);
    memcpy(e->id, au->access_key, sizeof(e->id));
    memcpy(e->date8, au->date8, sizeof(e->date8));
    memcpy(e->region, au->region, sizeof(e->region));
    memcpy(e->service, au->service, sizeof(e->service));
    e->used = 1;
    return e->key;
}

static int is_hex64(sl_slice s)
{
    if (s.len != 64)
        return 0;
    for (size_t i = 0; i < 64; i++) {
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

int sl_auth_verify(sl_auth *a, const sl_http_request *req, const char *service, const uint8_t *body,
                   size_t body_len, int64_t now_s, sl_auth_result *out, sl_diag *diag)
{
    sl_sigv4_auth au;
    char amz_date[17], now_txt[17], edge_txt[17], payload[65];
    int64_t t = 0;
    int rc;

    /* 1. the signature */
    sl_slice authz = header_get(req, "authorization");
    if (header_present(req, "authorization")) {
        rc = sl_sigv4_parse_authorization(authz, &au, diag);
        if (rc)
            return rc;
    } else if (sl_sigv4_query_is_presigned(req->query)) {
        rc = sl_sigv4_parse_presigned(req->query, &au, diag);
        if (rc)
            return rc;
    } else {
        return sl_diag_set(diag, SL_EAUTH_MISSING, 0, "%s", MSG_MISSING);
    }

    /* 2. the request time */
    if (au.presigned) {
        memcpy(amz_date, au.amz_date, sizeof(amz_date));
        if (sl_sigv4_parse_amz_date((sl_slice){amz_date, strlen(amz_date)}, &t) != 0)
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                               "X-Amz-Date must be in the ISO8601 Long Format "
                               "\"yyyyMMdd'T'HHmmss'Z'\"");
    } else {
        int have_x = header_present(req, "x-amz-date");
        sl_slice d = have_x ? header_get(req, "x-amz-date") : header_get(req, "date");
        if (!have_x && !header_present(req, "date"))
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                               "Authorization header requires existence of either a "
                               "'X-Amz-Date' or a 'Date' header. Authorization=%.*s",
                               (int)(authz.len > 60 ? 60 : authz.len), authz.ptr);
        rc = have_x ? sl_sigv4_parse_amz_date(d, &t) : sl_sigv4_parse_http_date(d, &t);
        if (rc != 0 || sl_sigv4_format_amz_date(t, amz_date) != 0)
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                               "Date must be in ISO-8601 'basic format'. Got '%.*s'. See "
                               "http://en.wikipedia.org/wiki/ISO_8601",
                               (int)(d.len > 40 ? 40 : d.len), d.ptr);
    }

    /* 3. the scope */
    if (!service || strcmp(au.service, service) != 0)
        return sl_diag_set(diag, SL_EAUTH_SIGNATURE, 0,
                           "Credential should be scoped to correct service: '%s'. ",
                           service ? service : "");
    if (strlen(au.date8) != 8 || memcmp(au.date8, amz_date, 8) != 0)
        return sl_diag_set(diag, SL_EAUTH_SIGNATURE, 0,
                           "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                           "version of date from HTTP: '%s' != '%.8s', from '%s'.",
                           au.date8, amz_date, amz_date);
    if (!sl_sigv4_signed_headers_has(au.signed_headers, "host") &&
        !sl_sigv4_signed_headers_has(au.signed_headers, ":authority"))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                           "Authorization.");

    /* 4. the key */
    const key_entry *k = key_find(a, au.access_key);
    if (!k)
        return sl_diag_set(diag, SL_EAUTH_UNKNOWN_KEY, 0, "%s", MSG_UNKNOWN_KEY);

    /* 5. the clock */
    sl_sigv4_format_amz_date(now_s, now_txt);
    if (au.presigned && au.expires_s >= 0 && now_s > t + au.expires_s)
        return sl_diag_set(diag, SL_EAUTH_EXPIRED, 0, "Request has expired");
    if ((!au.presigned || au.expires_s < 0) && t < now_s - SL_SIGV4_MAX_SKEW_S) {
        sl_sigv4_format_amz_date(now_s - SL_SIGV4_MAX_SKEW_S, edge_txt);
        return sl_diag_set(diag, SL_EAUTH_EXPIRED, 0,
                           "Signature expired: %s is now earlier than %s (%s - 15 min.)", amz_date,
                           edge_txt, now_txt);
    }
    if (t > now_s + SL_SIGV4_MAX_SKEW_S) {
        sl_sigv4_format_amz_date(now_s + SL_SIGV4_MAX_SKEW_S, edge_txt);
        return sl_diag_set(diag, SL_EAUTH_EXPIRED, 0,
                           "Signature not yet current: %s is still later than %s (%s + 15 min.)",
                           amz_date, edge_txt, now_txt);
    }

    /* 6. the payload hash */
    if (body) {
        sl_sigv4_sha256_hex(body, body_len, payload);
    } else {
        sl_slice h = header_get(req, "x-amz-content-sha256");
        if (header_present(req, "x-amz-content-sha256") &&
            (is_hex64(h) || sl_slice_eq(h, SL_SIGV4_UNSIGNED))) {
            memcpy(payload, h.ptr, h.len);
            payload[h.len] = '\0';
        } else {
            memcpy(payload, SL_SIGV4_EMPTY_SHA256, 65);
        }
    }

    /* 7. canonical request, string to sign, signature */
    sl_buf_reset(&a->cr);
    sl_buf_reset(&a->sts);
    sl_sigv4_canon c = {
        .method = req->method_name,
        .path = req->path,
        .query = req->query,
        .normalize_path = 1,
        .skip_signature_param = au.presigned,
        .headers = req->headers,
        .n_headers = req->n_headers,
        .signed_headers = {au.signed_headers, strlen(au.signed_headers)},
        .host_fallback = req->authority,
        .payload_hash = {payload, strlen(payload)},
    };
    rc = sl_sigv4_canonical_request(&a->cr, &c);
    if (rc == 0)
        rc = sl_sigv4_string_to_sign(&a->sts, (sl_slice){amz_date, 16},
                                     (sl_slice){au.scope, strlen(au.scope)},
                                     (sl_slice){a->cr.data, a->cr.len});
    if (rc)
        return sl_diag_set(diag, rc, 0, "%s", sl_err_str(rc));
    char sig[65];
    sl_sigv4_signature(signing_key(a, k, &au), (sl_slice){a->sts.data, a->sts.len}, sig);
    if (CRYPTO_memcmp(sig, au.signature, 64) != 0)
        return sl_diag_set(diag, SL_EAUTH_SIGNATURE, 0, "%s", MSG_SIGNATURE);

    if (out) {
        memcpy(out->access_key, au.access_key, sizeof(out->access_key));
        memcpy(out->region, au.region, sizeof(out->region));
        memcpy(out->service, au.service, sizeof(out->service));
    }
    return 0;
}
