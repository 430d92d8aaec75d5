/* Signer tests: every vector of the AWS SigV4 test suite, in both the Authorization-header and
 * the presigned-query form, checking the canonical request, the string to sign, the signature
 * and the signed request separately; plus the canonicalisation rules on their own, the
 * Authorization / presigned parsers and the date helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sigv4_vectors.h"
#include "sluice/sigv4.h"

/* Compares two texts and prints both (and the vector) when they differ. */
#define EXPECT_TEXT(vec, what, got, want)                                                          \
    do {                                                                                           \
        if (strcmp((got), (want)) != 0) {                                                          \
            print_error("%s %s:\n--- got ---\n%s\n--- want ---\n%s\n", (vec), (what), (got),       \
                        (want));                                                                   \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* diag->text holds AWS's message, cut to the size of sl_diag.text (160 bytes today; some AWS
 * messages are longer). */
static void expect_diag(const sl_diag *d, const char *full)
{
    size_t cap = sizeof(d->text) - 1, n = strlen(full) < cap ? strlen(full) : cap;
    if (strlen(d->text) != n || strncmp(d->text, full, n) != 0) {
        print_error("diag text:\n got: %s\nwant: %.*s\n", d->text, (int)n, full);
        fail();
    }
}

static sl_sigv4_sign_opts opts_of(const vec_ctx *c)
{
    sl_sigv4_sign_opts o = {
        .access_key = {c->access_key, strlen(c->access_key)},
        .secret_key = {c->secret, strlen(c->secret)},
        .session_token = {c->token, strlen(c->token)},
        .region = {c->region, strlen(c->region)},
        .service = {c->service, strlen(c->service)},
        .time_s = c->time_s,
        .no_normalize_path = !c->normalize,
        .add_content_sha256 = c->sign_body,
        .omit_session_token = c->omit_token,
        .expires_s = c->expires,
    };
    return o;
}

/* The value of the first header named name (case-insensitive) in a signed-request file. */
static int find_header(const vec_req *r, const char *name, char *out, size_t cap)
{
    for (size_t i = 0; i < r->n; i++) {
        if (sl_slice_eq_nocase(r->hdr[i].name, name)) {
            snprintf(out, cap, "%.*s", (int)r->hdr[i].value.len, r->hdr[i].value.ptr);
            return 0;
        }
    }
    return -1;
}

static void check_form(const char *name, const char *dir, const vec_ctx *c, int query_form)
{
    const char *pfx = query_form ? "query-" : "header-";
    char fn[128];
    vec_req req, signed_req;
    sl_buf want = SL_BUF_INIT;
    sl_sigv4_result res;
    sl_sigv4_result_init(&res);

    assert_int_equal(vec_load_req(&req, dir, "request.txt"), 0);
    sl_sigv4_request sr = {
        .method = req.method,
        .path = req.path,
        .query = req.query,
        .headers = req.hdr,
        .n_headers = req.n,
        .body = req.body,
        .body_len = req.body_len,
    };
    sl_sigv4_sign_opts o = opts_of(c);
    int rc = query_form ? sl_sigv4_presign(&sr, &o, &res) : sl_sigv4_sign(&sr, &o, &res);
    assert_int_equal(rc, 0);

    snprintf(fn, sizeof(fn), "%scanonical-request.txt", pfx);
    assert_int_equal(vec_read(&want, dir, fn), 0);
    vec_chomp(&want);
    EXPECT_TEXT(name, fn, res.canonical_request.data, want.data);

    snprintf(fn, sizeof(fn), "%sstring-to-sign.txt", pfx);
    assert_int_equal(vec_read(&want, dir, fn), 0);
    vec_chomp(&want);
    EXPECT_TEXT(name, fn, res.string_to_sign.data, want.data);

    snprintf(fn, sizeof(fn), "%ssignature.txt", pfx);
    assert_int_equal(vec_read(&want, dir, fn), 0);
    vec_chomp(&want);
    EXPECT_TEXT(name, fn, res.signature, want.data);

    /* the signed request: the Authorization value, or the whole presigned request line */
    snprintf(fn, sizeof(fn), "%ssigned-request.txt", pfx);
    assert_int_equal(vec_load_req(&signed_req, dir, fn), 0);
    if (query_form) {
        sl_buf line = SL_BUF_INIT;
        sl_buf_printf(&line, "%.*s?%s", (int)req.path.len, req.path.ptr, res.query.data);
        char target[4096];
        snprintf(target, sizeof(target), "%.*s", (int)signed_req.target.len, signed_req.target.ptr);
        EXPECT_TEXT(name, "presigned target", line.data, target);
        sl_buf_cleanup(&line);
    } else {
        char authz[1024], date[64];
        assert_int_equal(find_header(&signed_req, "authorization", authz, sizeof(authz)), 0);
        EXPECT_TEXT(name, "Authorization", res.authorization.data, authz);
        assert_int_equal(find_header(&signed_req, "x-amz-date", date, sizeof(date)), 0);
        EXPECT_TEXT(name, "X-Amz-Date", res.amz_date, date);
        /* the headers to add carry the same values */
        int saw_authz = 0;
        for (size_t i = 0; i < res.n_add; i++) {
            if (sl_slice_eq_nocase(res.add[i].name, "authorization")) {
                saw_authz = 1;
                assert_int_equal(res.add[i].value.len, strlen(authz));
                assert_memory_equal(res.add[i].value.ptr, authz, strlen(authz));
            }
            if (sl_slice_eq_nocase(res.add[i].name, "x-amz-security-token")) {
                assert_int_equal(res.add[i].value.len, strlen(c->token));
                assert_memory_equal(res.add[i].value.ptr, c->token, strlen(c->token));
            }
        }
        assert_true(saw_authz);
    }
    vec_req_cleanup(&signed_req);
    vec_req_cleanup(&req);
    sl_buf_cleanup(&want);
    sl_sigv4_result_cleanup(&res);
}

static void test_suite_all_vectors(void **state)
{
    (void)state;
    char **names;
    size_t n = vec_list(&names);
    /* the published suite has 38 vectors; a missing folder must fail, not pass vacuously */
    assert_true(n >= 38);
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX];
        vec_ctx c;
        snprintf(dir, sizeof(dir), "%s/%s", VEC_DIR, names[i]);
        assert_int_equal(vec_load_ctx(&c, dir, names[i]), 0);
        check_form(names[i], dir, &c, 0);
        check_form(names[i], dir, &c, 1);
    }
    print_message("checked %zu vectors x 2 forms\n", n);
    vec_list_free(names, n);
}

static void uri_is(const char *path, int normalize, const char *want)
{
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_sigv4_canonical_uri(&b, (sl_slice){path, strlen(path)}, normalize), 0);
    EXPECT_TEXT(path, "canonical uri", b.data, want);
    sl_buf_cleanup(&b);
}

static void test_canonical_uri(void **state)
{
    (void)state;
    uri_is("", 1, "/");
    uri_is("/", 1, "/");
    uri_is("/", 0, "/");
    /* Kinesis Video REST paths stay as they are */
    uri_is("/listStreams", 1, "/listStreams");
    uri_is("/putMedia", 1, "/putMedia");
    /* an encoded path is encoded again (botocore/JS SDK for non-S3 services) */
    uri_is("/a%20b", 1, "/a%2520b");
    uri_is("/a b", 1, "/a%20b");
    uri_is("/a/./b/../c//d/", 1, "/a/c/d/");
    uri_is("/..", 1, "/");
    uri_is("/a/..", 1, "/");
    uri_is("/a/../", 1, "/");
    uri_is("a/b", 1, "a/b");
    uri_is("//", 0, "//");
    uri_is("/~-._", 1, "/~-._");
    uri_is("/:@!$&'()*+,;=", 1, "/%3A%40%21%24%26%27%28%29%2A%2B%2C%3B%3D");
}

static void query_is(const char *q, int skip, const char *want)
{
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_sigv4_canonical_query(&b, (sl_slice){q, strlen(q)}, skip), 0);
    EXPECT_TEXT(q, "canonical query", b.data ? b.data : "", want);
    sl_buf_cleanup(&b);
}

static void test_canonical_query(void **state)
{
    (void)state;
    query_is("", 0, "");
    query_is("b=2&a=1", 0, "a=1&b=2");
    query_is("a=2&a=1", 0, "a=1&a=2");
    query_is("a", 0, "a=");
    query_is("a=", 0, "a=");
    query_is("a=1&&b", 0, "a=1&b=");
    query_is("x=a+b", 0, "x=a%2Bb");
    query_is("x=a%20b", 0, "x=a%20b");
    query_is("x=a%2fb", 0, "x=a%2Fb");
    query_is("x=%zz", 0, "x=%25zz");
    query_is("x=%4", 0, "x=%254");
    query_is("k=v=w", 0, "k=v%3Dw");
    query_is("X-Amz-Signature=abc&b=1", 1, "b=1");
    query_is("X-Amz-Signature=abc&b=1", 0, "X-Amz-Signature=abc&b=1");
    /* sorting is by encoded bytes: '%' < 'A' < 'a' */
    query_is("a=1&A=2&%C3%A9=3", 0, "%C3%A9=3&A=2&a=1");
}

static void test_header_value(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    const char *in = "  a \t b\r\n   c  ";
    assert_int_equal(sl_sigv4_canonical_header_value(&b, (sl_slice){in, strlen(in)}), 0);
    assert_string_equal(b.data, "a b c");
    sl_buf_reset(&b);
    assert_int_equal(sl_sigv4_canonical_header_value(&b, SL_SLICE_LIT("   ")), 0);
    assert_int_equal(b.len, 0);
    sl_buf_cleanup(&b);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t t;
    char out[17];
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("20150830T123600Z"), &t), 0);
    assert_int_equal(t, 1440938160);
    assert_int_equal(sl_sigv4_format_amz_date(t, out), 0);
    assert_string_equal(out, "20150830T123600Z");
    assert_int_equal(sl_sigv4_format_amz_date(0, out), 0);
    assert_string_equal(out, "19700101T000000Z");
    assert_int_equal(sl_sigv4_format_amz_date(951782400, out), 0); /* leap day 2000 */
    assert_string_equal(out, "20000229T000000Z");
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("20000229T000000Z"), &t), 0);
    assert_int_equal(t, 951782400);
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("20010229T000000Z"), &t), SL_EPARSE);
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("20150830T123600"), &t), SL_EPARSE);
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("2015-08-30T12:36"), &t), SL_EPARSE);
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("20151330T123600Z"), &t), SL_EPARSE);
    assert_int_equal(sl_sigv4_parse_amz_date(SL_SLICE_LIT("20150830T246000Z"), &t), SL_EPARSE);
    assert_int_equal(sl_sigv4_parse_http_date(SL_SLICE_LIT("Sun, 30 Aug 2015 12:36:00 GMT"), &t),
                     0);
    assert_int_equal(t, 1440938160);
    assert_int_equal(sl_sigv4_parse_http_date(SL_SLICE_LIT("20150830T123600Z"), &t), 0);
    assert_int_equal(sl_sigv4_parse_http_date(SL_SLICE_LIT("Sun, 30 Foo 2015 12:36:00 GMT"), &t),
                     SL_EPARSE);
    for (int64_t s = -86400 * 800; s < 86400LL * 365 * 40; s += 86400 * 7 + 3601) {
        assert_int_equal(sl_sigv4_format_amz_date(s, out), 0);
        assert_int_equal(sl_sigv4_parse_amz_date((sl_slice){out, 16}, &t), 0);
        assert_int_equal(t, s);
    }
}

static void test_primitives(void **state)
{
    (void)state;
    char hex[65];
    sl_sigv4_sha256_hex("", 0, hex);
    assert_string_equal(hex, SL_SIGV4_EMPTY_SHA256);
    sl_sigv4_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2 */
    uint8_t mac[32];
    sl_sigv4_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    static const uint8_t want[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                     0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                     0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                     0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
    assert_memory_equal(mac, want, 32);
    /* RFC 4231 test case 6: a key longer than the block size */
    uint8_t key[131];
    memset(key, 0xaa, sizeof(key));
    const char *m = "Test Using Larger Than Block-Size Key - Hash Key First";
    sl_sigv4_hmac_sha256(key, sizeof(key), m, strlen(m), mac);
    static const uint8_t want6[32] = {0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f,
                                      0x0d, 0x8a, 0x26, 0xaa, 0xcb, 0xf5, 0xb7, 0x7f,
                                      0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28, 0xc5, 0x14,
                                      0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54};
    assert_memory_equal(mac, want6, 32);
}

static void test_parse_authorization(void **state)
{
    (void)state;
    sl_sigv4_auth a;
    sl_diag d;
    const char *ok = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                     "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){ok, strlen(ok)}, &a, &d), 0);
    assert_string_equal(a.access_key, "AKIDEXAMPLE");
    assert_string_equal(a.date8, "20150830");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "service");
    assert_string_equal(a.scope, "20150830/us-east-1/service/aws4_request");
    assert_string_equal(a.signed_headers, "host;x-amz-date");
    assert_string_equal(a.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    /* commas without spaces, extra spaces, other order */
    const char *ok2 = "  AWS4-HMAC-SHA256   Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a226"
                      "0956d9b8aae1d763fbf31,SignedHeaders=host,,Credential=AK/20150830/r/s/"
                      "aws4_request ";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){ok2, strlen(ok2)}, &a, &d), 0);
    assert_string_equal(a.access_key, "AK");
    assert_string_equal(a.signed_headers, "host");

    const char *no_cred = "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=5fa00fa31553b73ebf1942"
                          "676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){no_cred, strlen(no_cred)}, &a, &d),
                     SL_EAUTH_INCOMPLETE);
    assert_non_null(strstr(d.text, "Authorization header requires 'Credential' parameter."));
    assert_null(strstr(d.text, "'Signature' parameter"));

    assert_int_equal(sl_sigv4_parse_authorization(SL_SLICE_LIT("AWS4-HMAC-SHA256"), &a, &d),
                     SL_EAUTH_INCOMPLETE);
    expect_diag(&d, "Authorization header requires 'Credential' parameter. Authorization "
                    "header requires 'Signature' parameter. Authorization header requires "
                    "'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256");
    assert_int_equal(sl_sigv4_parse_authorization(SL_SLICE_LIT(""), &a, &d), SL_EAUTH_INCOMPLETE);
    assert_int_equal(sl_sigv4_parse_authorization(SL_SLICE_LIT("Basic dXNlcjpwYXNz"), &a, &d),
                     SL_EAUTH_INCOMPLETE);

    const char *four = "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s, SignedHeaders=host, "
                       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763f"
                       "bf31";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){four, strlen(four)}, &a, &d),
                     SL_EAUTH_INCOMPLETE);
    assert_string_equal(d.text, "Credential must have exactly 5 slash-delimited elements, e.g. "
                                "keyid/date/region/service/term, got 'AK/20150830/r/s'");
    const char *term = "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws5_request, "
                       "SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2"
                       "260956d9b8aae1d763fbf31";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){term, strlen(term)}, &a, &d),
                     SL_EAUTH_SIGNATURE);
    assert_string_equal(d.text, "Credential should be scoped with a valid terminator: "
                                "'aws4_request', not 'aws5_request'.");
    const char *noeq = "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, host, "
                       "Signature=x";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){noeq, strlen(noeq)}, &a, &d),
                     SL_EAUTH_INCOMPLETE);
    assert_non_null(strstr(d.text, "'host' not a valid key=value pair (missing equal-sign)"));
    const char *badsig = "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, "
                         "SignedHeaders=host, Signature=abc";
    assert_int_equal(sl_sigv4_parse_authorization((sl_slice){badsig, strlen(badsig)}, &a, &d),
                     SL_EAUTH_SIGNATURE);
    expect_diag(&d, "The request signature we calculated does not match the signature you "
                    "provided. Check your AWS Secret Access Key and signing method. Consult the "
                    "service documentation for details.");
}

static void test_parse_presigned(void **state)
{
    (void)state;
    sl_sigv4_auth a;
    sl_diag d;
    const char *q = "Param=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
                    "20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&"
                    "X-Amz-SignedHeaders=host%3Bx-y&X-Amz-Expires=3600&X-Amz-Signature="
                    "e93c787ed7f371d5c6b165c1b38ede9550f4dce4144713e844b25b7192d3865d";
    assert_true(sl_sigv4_query_is_presigned((sl_slice){q, strlen(q)}));
    assert_int_equal(sl_sigv4_parse_presigned((sl_slice){q, strlen(q)}, &a, &d), 0);
    assert_true(a.presigned);
    assert_string_equal(a.access_key, "AKIDEXAMPLE");
    assert_string_equal(a.scope, "20150830/us-east-1/service/aws4_request");
    assert_string_equal(a.signed_headers, "host;x-y");
    assert_string_equal(a.amz_date, "20150830T123600Z");
    assert_int_equal(a.expires_s, 3600);

    assert_false(sl_sigv4_query_is_presigned(SL_SLICE_LIT("a=1&b=2")));
    assert_int_equal(sl_sigv4_parse_presigned(SL_SLICE_LIT("a=1"), &a, &d), SL_EAUTH_MISSING);
    assert_int_equal(
        sl_sigv4_parse_presigned(SL_SLICE_LIT("X-Amz-Algorithm=AWS4-HMAC-SHA256"), &a, &d),
        SL_EAUTH_INCOMPLETE);
    assert_non_null(strstr(d.text, "AWS query-string parameters must include"));

    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", q);
    char *e = strstr(buf, "Expires=3600");
    memcpy(e, "Expires=9999999", 15);
    strcpy(e + 15, strstr(q, "&X-Amz-Signature"));
    assert_int_equal(sl_sigv4_parse_presigned((sl_slice){buf, strlen(buf)}, &a, &d),
                     SL_EAUTH_INCOMPLETE);
    assert_string_equal(d.text,
                        "X-Amz-Expires must be less than a week (in seconds) that is 604800");
}

static void test_signed_headers_has(void **state)
{
    (void)state;
    assert_true(sl_sigv4_signed_headers_has("host;x-amz-date", "host"));
    assert_true(sl_sigv4_signed_headers_has("a;Host", "host"));
    assert_false(sl_sigv4_signed_headers_has("hostx;x-amz-date", "host"));
    assert_false(sl_sigv4_signed_headers_has("", "host"));
}

static void test_sign_options(void **state)
{
    (void)state;
    sl_sigv4_result res;
    sl_sigv4_result_init(&res);
    sl_http_header h[] = {{SL_SLICE_LIT("Host"), SL_SLICE_LIT("localhost:4567")}};
    sl_sigv4_request r = {.method = SL_SLICE_LIT("POST"),
                          .path = SL_SLICE_LIT("/"),
                          .headers = h,
                          .n_headers = 1,
                          .body = "{}",
                          .body_len = 2};
    sl_sigv4_sign_opts o = {.access_key = SL_SLICE_LIT("AK"),
                            .secret_key = SL_SLICE_LIT("SK"),
                            .region = SL_SLICE_LIT("us-east-1"),
                            .service = SL_SLICE_LIT("kinesis"),
                            .time_s = 1440938160,
                            .payload_hash = SL_SLICE_LIT(SL_SIGV4_UNSIGNED),
                            .add_content_sha256 = 1};
    assert_int_equal(sl_sigv4_sign(&r, &o, &res), 0);
    assert_string_equal(res.payload_hash, SL_SIGV4_UNSIGNED);
    assert_string_equal(res.signed_headers.data, "host;x-amz-content-sha256;x-amz-date");
    assert_int_equal(res.n_add, 3);
    assert_true(sl_slice_eq(res.add[1].value, SL_SIGV4_UNSIGNED));
    /* missing credentials / region / bad expiry */
    sl_sigv4_sign_opts bad = o;
    bad.secret_key = (sl_slice){"", 0};
    assert_int_equal(sl_sigv4_sign(&r, &bad, &res), SL_EINVAL);
    bad = o;
    bad.expires_s = 0;
    assert_int_equal(sl_sigv4_presign(&r, &bad, &res), SL_EINVAL);
    bad.expires_s = SL_SIGV4_MAX_EXPIRES_S + 1;
    assert_int_equal(sl_sigv4_presign(&r, &bad, &res), SL_EINVAL);
    /* a result is reusable */
    o.payload_hash = (sl_slice){"", 0};
    assert_int_equal(sl_sigv4_sign(&r, &o, &res), 0);
    assert_string_equal(res.payload_hash,
                        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    sl_sigv4_result_cleanup(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitives),      cmocka_unit_test(test_dates),
        cmocka_unit_test(test_canonical_uri),   cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_header_value),    cmocka_unit_test(test_parse_authorization),
        cmocka_unit_test(test_parse_presigned), cmocka_unit_test(test_signed_headers_has),
        cmocka_unit_test(test_sign_options),    cmocka_unit_test(test_suite_all_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
