/* libFuzzer target for SigV4: the Authorization-header parser, the presigned-query parser, the
 * canonicalisation helpers, and the verifier as a whole on a synthetic request -- with a
 * round-trip property: the request, signed here with a known key, must verify.
 *
 * Input: the first byte picks the mode (mod 3), the rest is its input.
 *   0  an Authorization header value
 *   1  a query string (presigned parameters, canonical query)
 *   2  a request: "METHOD target\n" then "name: value\n" lines, a blank line, the body.
 *      It is verified as sent (any outcome but a crash is fine), then re-signed with the known
 *      key (host added, unsuitable header names dropped) and verified again, which must pass;
 *      abort() otherwise. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "sluice/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_AK   "AKIDEXAMPLE"
#define FZ_SK   "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define FZ_T    1440938160 /* 20150830T123600Z */
#define FZ_MAXH 24

static sl_auth *fz_auth;

static void fz_init(void)
{
    if (fz_auth)
        return;
    char path[] = "/tmp/fuzz_sigv4_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    static const char creds[] =
        "[default]\naws_access_key_id = " FZ_AK "\naws_secret_access_key = " FZ_SK "\n";
    if (write(fd, creds, sizeof(creds) - 1) != (ssize_t)(sizeof(creds) - 1))
        abort();
    close(fd);
    if (sl_auth_new(&fz_auth) != 0 || sl_auth_load_file(fz_auth, path) != 0)
        abort();
    unlink(path);
}

static int token_name(sl_slice n)
{
    if (n.len == 0 || n.len > 32) /* 26 names of <= 32 bytes fit SignedHeaders' 1023 */
        return 0;
    for (size_t i = 0; i < n.len; i++) {
        char c = n.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

static void fz_request(const char *p, size_t n)
{
    sl_http_header h[FZ_MAXH + 4];
    size_t nh = 0;
    const char *end = p + n, *nl = memchr(p, '\n', n);
    if (!nl)
        nl = end;
    const char *sp = memchr(p, ' ', (size_t)(nl - p));
    if (!sp)
        return;
    sl_slice method = {p, (size_t)(sp - p)};
    sl_slice target = {sp + 1, (size_t)(nl - sp - 1)};
    const char *q = memchr(target.ptr, '?', target.len);
    sl_slice path = q ? (sl_slice){target.ptr, (size_t)(q - target.ptr)} : target;
    sl_slice query =
        q ? (sl_slice){q + 1, (size_t)(target.ptr + target.len - q - 1)} : (sl_slice){"", 0};
    const char *s = nl < end ? nl + 1 : end;
    while (s < end && nh < FZ_MAXH) {
        nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            nl = end;
        if (nl == s) {
            s++;
            break;
        }
        const char *colon = memchr(s, ':', (size_t)(nl - s));
        if (colon) {
            const char *v = colon + 1;
            while (v < nl && *v == ' ')
                v++;
            h[nh++] = (sl_http_header){{s, (size_t)(colon - s)}, {v, (size_t)(nl - v)}};
        }
        s = nl < end ? nl + 1 : end;
    }
    const uint8_t *body = (const uint8_t *)s;
    size_t body_len = (size_t)(end - s);
    sl_slice authority = {"example.amazonaws.com", 21};

    /* 1. as sent */
    sl_http_request req = {.method_name = method,
                           .target = target,
                           .path = path,
                           .query = query,
                           .authority = authority,
                           .headers = h,
                           .n_headers = nh,
                           .version = 11};
    sl_auth_result res;
    sl_diag d;
    sl_auth_verify(fz_auth, &req, "service", body, body_len, FZ_T, &res, &d);
    sl_auth_verify(fz_auth, &req, "service", NULL, 0, FZ_T, &res, &d);

    /* 2. re-signed: keep token-named headers other than the ones the signer owns */
    if (method.len == 0)
        return;
    sl_http_header keep[FZ_MAXH + 4];
    size_t nk = 0;
    keep[nk++] = (sl_http_header){SL_SLICE_LIT("host"), authority};
    for (size_t i = 0; i < nh; i++) {
        if (!token_name(h[i].name) || sl_slice_eq(h[i].name, "host") ||
            sl_slice_eq(h[i].name, "authorization") || sl_slice_eq(h[i].name, "x-amz-date") ||
            sl_slice_eq(h[i].name, "date"))
            continue;
        keep[nk++] = h[i];
    }
    sl_sigv4_request sr = {.method = method,
                           .path = path,
                           .query = query,
                           .headers = keep,
                           .n_headers = nk,
                           .body = body,
                           .body_len = body_len};
    sl_sigv4_sign_opts o = {.access_key = SL_SLICE_LIT(FZ_AK),
                            .secret_key = SL_SLICE_LIT(FZ_SK),
                            .region = SL_SLICE_LIT("us-east-1"),
                            .service = SL_SLICE_LIT("service"),
                            .time_s = FZ_T};
    sl_sigv4_result r;
    sl_sigv4_result_init(&r);
    if (sl_sigv4_sign(&sr, &o, &r) != 0)
        abort();
    keep[nk++] = (sl_http_header){SL_SLICE_LIT("x-amz-date"), r.add[0].value};
    keep[nk++] = (sl_http_header){SL_SLICE_LIT("authorization"), r.add[r.n_add - 1].value};
    req.headers = keep;
    req.n_headers = nk;
    int rc = sl_auth_verify(fz_auth, &req, "service", body, body_len, FZ_T, &res, &d);
    if (rc != 0) {
        fprintf(stderr, "round trip failed: %s %s\ncanonical request:\n%s\n", sl_err_name(rc),
                d.text, r.canonical_request.data);
        abort();
    }
    sl_sigv4_result_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (size < 1 || size > 16384)
        return 0;
    int mode = data[0] % 3;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    sl_sigv4_auth au;
    sl_diag d;
    sl_buf b = SL_BUF_INIT;
    switch (mode) {
    case 0:
        if (sl_sigv4_parse_authorization((sl_slice){p, n}, &au, &d) == 0) {
            /* a successful parse yields NUL-terminated, bounded fields */
            if (strlen(au.signature) != 64 || strlen(au.access_key) == 0 ||
                strlen(au.scope) >= sizeof(au.scope))
                abort();
        }
        sl_sigv4_canonical_header_value(&b, (sl_slice){p, n});
        break;
    case 1:
        sl_sigv4_query_is_presigned((sl_slice){p, n});
        if (sl_sigv4_parse_presigned((sl_slice){p, n}, &au, &d) == 0 && strlen(au.amz_date) != 16)
            abort();
        sl_sigv4_canonical_query(&b, (sl_slice){p, n}, 1);
        sl_buf_reset(&b);
        sl_sigv4_canonical_uri(&b, (sl_slice){p, n}, 1);
        sl_buf_reset(&b);
        sl_sigv4_canonical_uri(&b, (sl_slice){p, n}, 0);
        int64_t t;
        sl_sigv4_parse_http_date((sl_slice){p, n}, &t);
        break;
    default:
        fz_request(p, n);
        break;
    }
    sl_buf_cleanup(&b);
    return 0;
}
