/* Parsing the signature a client sent: the Authorization header and the presigned query.
 *
 * Both parsers fill an sl_sigv4_auth with fixed-size fields (no allocation: they run on every
 * request and under the fuzzer) and refuse anything that does not fit. Their error texts are the
 * ones AWS sends, so a client's log reads the same against Sluice as against AWS:
 *   header form   IncompleteSignatureException "Authorization header requires 'Credential'
 *                 parameter. ... Authorization=<value>"; "'x' not a valid key=value pair
 *                 (missing equal-sign) in Authorization header: '<value>'."
 *   query form    "AWS query-string parameters must include 'X-Amz-Algorithm', ..."
 *   both          "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/
 *                 region/service/term, got '<credential>'"
 * Authorization syntax: `AWS4-HMAC-SHA256 Credential=AK/yyyymmdd/region/service/aws4_request,
 * SignedHeaders=a;b, Signature=<64 hex>`; parameters may be separated by commas, spaces or both,
 * in any order. Checking the scope against the route, the clock and the key is the caller's job
 * (gateway/auth.c). */
#include <stdio.h>
#include <string.h>

#include "sluice/sigv4.h"

static const char SIG_MISMATCH[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

static int is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* Copies a field that must fit and hold no control bytes (a NUL would cut the C string short:
 * "AK\0junk" must not become the key "AK"). */
static int copy_field(char *dst, size_t cap, const char *p, size_t n)
{
    if (n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            return -1;
    memcpy(dst, p, n);
    dst[n] = '\0';
    return 0;
}

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

/* Percent-decodes s into dst (cap bytes incl. NUL); -1 if it does not fit. */
static int decode_into(char *dst, size_t cap, const char *s, size_t n, size_t *len_out)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            c = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        }
        if (w + 1 >= cap)
            return -1;
        dst[w++] = c;
    }
    dst[w] = '\0';
    if (len_out)
        *len_out = w;
    return 0;
}

static int is_lower_hex64(const char *p, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

/* "AK/yyyymmdd/region/service/aws4_request" into out's fields. */
static int parse_credential(const char *p, size_t n, sl_sigv4_auth *out, sl_diag *diag)
{
    const char *part[5];
    size_t len[5], k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '/') {
            if (k == 5) {
                k = 6;
                break;
            }
            part[k] = p + start;
            len[k] = i - start;
            k++;
            start = i + 1;
        }
    }
    if (k != 5)
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "Credential must have exactly 5 slash-delimited elements, e.g. "
                           "keyid/date/region/service/term, got '%.*s'",
                           (int)(n > 60 ? 60 : n), p);
    if (len[0] == 0 || copy_field(out->access_key, sizeof(out->access_key), part[0], len[0]))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0, "Invalid access key id in Credential");
    if (copy_field(out->date8, sizeof(out->date8), part[1], len[1]))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "Credential should be scoped to a valid date, not '%.*s'.",
                           (int)(len[1] > 40 ? 40 : len[1]), part[1]);
    if (len[2] == 0 || copy_field(out->region, sizeof(out->region), part[2], len[2]))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "Credential should be scoped to a valid region. ");
    if (len[3] == 0 || copy_field(out->service, sizeof(out->service), part[3], len[3]))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "Credential should be scoped to a valid service. ");
    if (len[4] != 12 || memcmp(part[4], "aws4_request", 12) != 0)
        return sl_diag_set(diag, SL_EAUTH_SIGNATURE, 0,
                           "Credential should be scoped with a valid terminator: 'aws4_request', "
                           "not '%.*s'.",
                           (int)(len[4] > 40 ? 40 : len[4]), part[4]);
    snprintf(out->scope, sizeof(out->scope), "%s/%s/%s/aws4_request", out->date8, out->region,
             out->service);
    return 0;
}

int sl_sigv4_parse_authorization(sl_slice v, sl_sigv4_auth *out, sl_diag *diag)
{
    memset(out, 0, sizeof(*out));
    out->expires_s = -1;
    size_t i = 0, n = v.len;
    const char *p = v.ptr;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    size_t a0 = i;
    while (i < n && !is_sep(p[i]))
        i++;
    sl_slice alg = {p + a0, i - a0};
    int have_cred = 0, have_sh = 0, have_sig = 0;
    const char *sig = NULL;
    size_t sig_len = 0;
    if (!sl_slice_eq(alg, SL_SIGV4_ALGORITHM)) {
        if (memchr(alg.ptr, '=', alg.len) == NULL && alg.len)
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, a0, "Unsupported AWS 'algorithm': '%.*s'",
                               (int)(alg.len > 60 ? 60 : alg.len), alg.ptr);
        i = a0; /* no algorithm word: report the parameters it lacks below */
        goto missing;
    }
    while (i < n) {
        while (i < n && is_sep(p[i]))
            i++;
        if (i >= n)
            break;
        size_t t0 = i;
        while (i < n && !is_sep(p[i]))
            i++;
        const char *t = p + t0;
        size_t tl = i - t0;
        const char *eq = memchr(t, '=', tl);
        if (!eq)
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, t0,
                               "'%.*s' not a valid key=value pair (missing equal-sign) in "
                               "Authorization header: '%.*s'.",
                               (int)(tl > 40 ? 40 : tl), t, (int)(n > 60 ? 60 : n), p);
        sl_slice key = {t, (size_t)(eq - t)};
        const char *val = eq + 1;
        size_t vl = tl - key.len - 1;
        if (sl_slice_eq(key, "Credential") && !have_cred) {
            int rc = parse_credential(val, vl, out, diag);
            if (rc) {
                if (diag)
                    diag->offset = t0;
                return rc;
            }
            have_cred = 1;
        } else if (sl_slice_eq(key, "SignedHeaders") && !have_sh) {
            if (vl == 0 || copy_field(out->signed_headers, sizeof(out->signed_headers), val, vl))
                return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, t0,
                                   "Authorization header requires 'SignedHeaders' parameter.");
            have_sh = 1;
        } else if (sl_slice_eq(key, "Signature") && !have_sig) {
            sig = val;
            sig_len = vl;
            have_sig = 1;
        }
        /* other parameters are ignored, as AWS does */
    }
missing:
    if (!have_cred || !have_sh || !have_sig) {
        return sl_diag_set(
            diag, SL_EAUTH_INCOMPLETE, i, "%s%s%sAuthorization=%.*s",
            have_cred ? "" : "Authorization header requires 'Credential' parameter. ",
            have_sig ? "" : "Authorization header requires 'Signature' parameter. ",
            have_sh ? "" : "Authorization header requires 'SignedHeaders' parameter. ",
            (int)(n > 100 ? 100 : n), p);
    }
    if (!is_lower_hex64(sig, sig_len))
        return sl_diag_set(diag, SL_EAUTH_SIGNATURE, (size_t)(sig - p), "%s", SIG_MISMATCH);
    memcpy(out->signature, sig, 64);
    out->signature[64] = '\0';
    return 0;
}

/* Calls fn(key, value) for every query pair until it returns non-zero. Keys and values raw. */
typedef int (*pair_fn)(void *ud, const char *k, size_t kl, const char *v, size_t vl, size_t off);

static int each_pair(sl_slice q, pair_fn fn, void *ud)
{
    size_t i = 0;
    while (i < q.len) {
        size_t j = i;
        while (j < q.len && q.ptr[j] != '&')
            j++;
        const char *eq = memchr(q.ptr + i, '=', j - i);
        size_t kl = eq ? (size_t)(eq - (q.ptr + i)) : j - i;
        const char *v = eq ? eq + 1 : q.ptr + j;
        size_t vl = eq ? (size_t)(q.ptr + j - v) : 0;
        int rc = fn(ud, q.ptr + i, kl, v, vl, i);
        if (rc)
            return rc;
        i = j + 1;
    }
    return 0;
}

enum { P_ALG, P_CRED, P_DATE, P_EXP, P_SH, P_SIG, P_TOKEN, P_N };
static const char *const PNAMES[P_N] = {
    "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",          "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token"};

typedef struct presig_scan {
    sl_slice val[P_N];
    int seen[P_N];
} presig_scan;

static int scan_pair(void *ud, const char *k, size_t kl, const char *v, size_t vl, size_t off)
{
    presig_scan *s = ud;
    char key[32];
    size_t dl;
    (void)off;
    if (kl > 60 || decode_into(key, sizeof(key), k, kl, &dl))
        return 0;
    for (int i = 0; i < P_N; i++) {
        if (!s->seen[i] && strlen(PNAMES[i]) == dl && memcmp(key, PNAMES[i], dl) == 0) {
            s->seen[i] = 1;
            s->val[i] = (sl_slice){v, vl};
        }
    }
    return 0;
}

int sl_sigv4_query_is_presigned(sl_slice query)
{
    presig_scan s;
    memset(&s, 0, sizeof(s));
    each_pair(query, scan_pair, &s);
    return s.seen[P_ALG] || s.seen[P_CRED] || s.seen[P_SIG];
}

int sl_sigv4_parse_presigned(sl_slice query, sl_sigv4_auth *out, sl_diag *diag)
{
    presig_scan s;
    char tmp[1024];
    size_t tl;
    memset(&s, 0, sizeof(s));
    memset(out, 0, sizeof(*out));
    out->presigned = 1;
    out->expires_s = -1;
    each_pair(query, scan_pair, &s);
    if (!s.seen[P_ALG] && !s.seen[P_CRED] && !s.seen[P_SIG])
        return sl_diag_set(diag, SL_EAUTH_MISSING, 0, "Missing Authentication Token");
    if (!s.seen[P_ALG] || !s.seen[P_CRED] || !s.seen[P_SIG] || !s.seen[P_DATE] || !s.seen[P_SH])
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "AWS query-string parameters must include 'X-Amz-Algorithm', "
                           "'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', "
                           "'X-Amz-SignedHeaders'. Re-examine the query-string parameters.");
    if (decode_into(tmp, sizeof(tmp), s.val[P_ALG].ptr, s.val[P_ALG].len, &tl) ||
        strcmp(tmp, SL_SIGV4_ALGORITHM) != 0)
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    if (decode_into(tmp, sizeof(tmp), s.val[P_CRED].ptr, s.val[P_CRED].len, &tl))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "Credential must have exactly 5 slash-delimited elements, e.g. "
                           "keyid/date/region/service/term");
    int rc = parse_credential(tmp, tl, out, diag);
    if (rc)
        return rc;
    int64_t t;
    if (decode_into(out->amz_date, sizeof(out->amz_date), s.val[P_DATE].ptr, s.val[P_DATE].len,
                    &tl) ||
        sl_sigv4_parse_amz_date((sl_slice){out->amz_date, tl}, &t) != 0)
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "X-Amz-Date must be in the ISO8601 Long Format "
                           "\"yyyyMMdd'T'HHmmss'Z'\"");
    if (s.seen[P_EXP]) {
        int64_t e = 0;
        if (decode_into(tmp, sizeof(tmp), s.val[P_EXP].ptr, s.val[P_EXP].len, &tl) || tl == 0 ||
            tl > 12)
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0, "X-Amz-Expires should be a number");
        for (size_t i = 0; i < tl; i++) {
            if (tmp[i] < '0' || tmp[i] > '9')
                return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                                   "X-Amz-Expires should be a number");
            e = e * 10 + (tmp[i] - '0');
        }
        if (e > SL_SIGV4_MAX_EXPIRES_S)
            return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                               "X-Amz-Expires must be less than a week (in seconds) that is "
                               "604800");
        out->expires_s = e;
    }
    if (s.val[P_SH].len == 0 ||
        decode_into(tmp, sizeof(tmp), s.val[P_SH].ptr, s.val[P_SH].len, &tl) ||
        copy_field(out->signed_headers, sizeof(out->signed_headers), tmp, tl))
        return sl_diag_set(diag, SL_EAUTH_INCOMPLETE, 0,
                           "AWS query-string parameters must include 'X-Amz-SignedHeaders'.");
    if (decode_into(tmp, sizeof(tmp), s.val[P_SIG].ptr, s.val[P_SIG].len, &tl) ||
        !is_lower_hex64(tmp, tl))
        return sl_diag_set(diag, SL_EAUTH_SIGNATURE, 0, "%s", SIG_MISMATCH);
    memcpy(out->signature, tmp, 65);
    return 0;
}

int sl_sigv4_signed_headers_has(const char *list, const char *name)
{
    size_t nl = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ';');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == nl) {
            size_t i = 0;
            for (; i < l; i++) {
                char c = p[i];
                if (c >= 'A' && c <= 'Z')
                    c = (char)(c + 32);
                if (c != name[i])
                    break;
            }
            if (i == l)
                return 1;
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}
