/* Unit tests for gateway/h1.c: HTTP/1.1 request framing without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "h1.h"

typedef struct body_sink {
    char data[4096];
    size_t len;
    int pause_after; /* pause after this many on_body calls (0 = never) */
    int calls;
} body_sink;

static int on_body(void *ctx, const uint8_t *p, size_t n)
{
    body_sink *b = ctx;
    assert_true(b->len + n <= sizeof(b->data));
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->calls++;
    return b->pause_after && b->calls % b->pause_after == 0;
}

static sl_h1_event feed_str(sl_h1_parser *p, const char **in, size_t *left)
{
    size_t used = 0;
    sl_h1_event ev = sl_h1_parser_feed(p, (const uint8_t *)*in, *left, &used);
    assert_true(used <= *left);
    *in += used;
    *left -= used;
    return ev;
}

static void test_get_head(void **state)
{
    (void)state;
    sl_h1_parser *p = sl_h1_parser_new(65536, NULL, NULL);
    const char *in = "GET /a/b?x=1 HTTP/1.1\r\nHost: example\r\nX-Amz-Target: K.L\r\n\r\n";
    size_t left = strlen(in);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    const sl_h1_head *h = sl_h1_parser_head(p);
    assert_int_equal(h->method, SL_HTTP_GET);
    assert_int_equal(h->version, 11);
    assert_true(sl_slice_eq(h->target, "/a/b?x=1"));
    assert_true(sl_slice_eq(h->authority, "example"));
    assert_int_equal(h->n_headers, 2);
    assert_true(sl_slice_eq(h->headers[1].name, "x-amz-target")); /* lower-cased */
    assert_true(sl_slice_eq(h->headers[1].value, "K.L"));
    assert_int_equal(h->content_length, 0);
    assert_false(h->has_body);
    assert_true(h->keep_alive);
    /* Stopped until resumed. */
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_END);
    assert_int_equal(left, 0);
    sl_h1_parser_free(p);
}

static void test_pipelined_and_take_head(void **state)
{
    (void)state;
    body_sink b = {0};
    sl_h1_parser *p = sl_h1_parser_new(65536, on_body, &b);
    const char *in = "POST /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                     "POST /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "2\r\nde\r\n1\r\nf\r\n0\r\nTrailer: x\r\n\r\n";
    size_t left = strlen(in);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    char *mem = NULL;
    sl_http_header *hdrs = NULL;
    sl_slice first_target = sl_h1_parser_head(p)->target;
    sl_h1_parser_take_head(p, &mem, &hdrs);
    assert_int_equal(sl_h1_parser_head(p)->content_length, 3);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_END);
    assert_int_equal(b.len, 3);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    const sl_h1_head *h = sl_h1_parser_head(p);
    assert_true(h->chunked);
    assert_int_equal(h->content_length, -1);
    assert_true(sl_slice_eq(h->target, "/two"));
    /* The first head's memory was handed over and is intact. */
    assert_true(sl_slice_eq(first_target, "/one"));
    assert_true(sl_slice_eq(hdrs[0].name, "content-length"));
    free(mem);
    free(hdrs);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_END);
    assert_int_equal(left, 0);
    assert_memory_equal(b.data, "abcdef", 6);
    assert_int_equal(b.len, 6);
    sl_h1_parser_free(p);
}

static void test_body_pause_keeps_the_rest(void **state)
{
    (void)state;
    body_sink b = {.pause_after = 1};
    sl_h1_parser *p = sl_h1_parser_new(65536, on_body, &b);
    const char *in = "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    size_t left = strlen(in);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_BODY_PAUSE);
    assert_int_equal(b.len, 3);
    assert_int_equal(sl_h1_parser_stopped_at(p), SL_H1_BODY_PAUSE);
    assert_true(sl_h1_parser_in_body(p));
    assert_int_equal(feed_str(p, &in, &left), SL_H1_BODY_PAUSE); /* no progress while paused */
    assert_int_equal(b.len, 3);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_BODY_PAUSE);
    assert_int_equal(b.len, 6);
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_END);
    assert_false(sl_h1_parser_eof_is_abort(p));
    sl_h1_parser_resume(p);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    assert_true(sl_slice_eq(sl_h1_parser_head(p)->target, "/next"));
    sl_h1_parser_free(p);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    body_sink b = {0};
    sl_h1_parser *p = sl_h1_parser_new(65536, on_body, &b);
    const char *req = "POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                      "Content-Length: 5\r\n\r\nhello";
    int heads = 0, ends = 0;
    for (size_t i = 0; req[i]; i++) {
        const char *in = req + i;
        size_t left = 1;
        for (;;) {
            sl_h1_event ev = feed_str(p, &in, &left);
            if (ev == SL_H1_HEAD) {
                heads++;
                assert_true(sl_h1_parser_head(p)->expect_continue);
                assert_true(sl_slice_eq(sl_h1_parser_head(p)->authority, "h"));
                sl_h1_parser_resume(p);
            } else if (ev == SL_H1_END) {
                ends++;
                sl_h1_parser_resume(p);
            } else {
                assert_int_equal(ev, SL_H1_MORE);
                break;
            }
        }
    }
    assert_int_equal(heads, 1);
    assert_int_equal(ends, 1);
    assert_int_equal(b.len, 5);
    sl_h1_parser_free(p);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t limit;
        int status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", 65536, 400},
        {"GET / HTTP/1.1\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 40,
         431},
        {"GET / HTTP/2.0\r\n\r\n", 65536, 505},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 65536, 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 65536, 400},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_h1_parser *p = sl_h1_parser_new(cases[i].limit, NULL, NULL);
        const char *in = cases[i].in;
        size_t left = strlen(in);
        sl_h1_event ev;
        while ((ev = feed_str(p, &in, &left)) == SL_H1_HEAD || ev == SL_H1_END)
            sl_h1_parser_resume(p);
        assert_int_equal(ev, SL_H1_ERROR);
        assert_int_equal(sl_h1_parser_status(p), cases[i].status);
        sl_h1_parser_free(p);
    }
}

static void test_http10_and_close(void **state)
{
    (void)state;
    sl_h1_parser *p = sl_h1_parser_new(65536, NULL, NULL);
    const char *in = "GET / HTTP/1.0\r\n\r\n";
    size_t left = strlen(in);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    assert_int_equal(sl_h1_parser_head(p)->version, 10);
    assert_false(sl_h1_parser_head(p)->keep_alive);
    sl_h1_parser_free(p);
    p = sl_h1_parser_new(65536, NULL, NULL);
    in = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    left = strlen(in);
    assert_int_equal(feed_str(p, &in, &left), SL_H1_HEAD);
    assert_false(sl_h1_parser_head(p)->keep_alive);
    sl_h1_parser_free(p);
    assert_string_equal(sl_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(sl_http_reason(799), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_head),
        cmocka_unit_test(test_pipelined_and_take_head),
        cmocka_unit_test(test_body_pause_keeps_the_rest),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_http10_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
