/* Zero-copy response bodies (sl_rbuf, sluice/http.h): the bytes are released exactly once --
 * after a complete response, when the client resets mid-body, and when the server cuts the
 * connection mid-body -- and never copied into the output queue.
 *
 * Part one drives the output queue directly (conn.h: append by reference, partial reads,
 * moves between queues as HTTP/2's send_data does, drops, clears). Part two runs the real server
 * (gateway/server.c) on a second thread with a route answering sl_exchange_respond_rbuf() over
 * loopback HTTP/1.1. Run under ASan (-DSLUICE_SANITIZE=address,undefined) a double release or
 * a read after release is an error, not just a wrong count. */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "conn.h"
#include "server.h"
#include "sluice/err.h"
#include "sluice/loop.h"

static atomic_int released;

static void count_free(void *ud, const void *data)
{
    assert_ptr_equal(ud, data);
    free(ud);
    atomic_fetch_add(&released, 1);
}

static sl_rbuf *pattern_buf(size_t n)
{
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + i / 251);
    sl_rbuf *r = sl_rbuf_wrap(p, n, count_free, p);
    assert_non_null(r);
    return r;
}

static void test_refcount_basics(void **state)
{
    (void)state;
    atomic_store(&released, 0);
    sl_rbuf *r = pattern_buf(100);
    assert_int_equal(sl_rbuf_len(r), 100);
    assert_ptr_equal(sl_rbuf_ref(r), r);
    sl_rbuf_unref(r);
    assert_int_equal(atomic_load(&released), 0);
    sl_rbuf_unref(r);
    assert_int_equal(atomic_load(&released), 1);
    sl_rbuf_unref(NULL);

    uint8_t *d = NULL;
    sl_rbuf *a = sl_rbuf_alloc(10, &d);
    assert_non_null(a);
    assert_ptr_equal(sl_rbuf_data(a), d);
    memcpy(d, "0123456789", 10);
    sl_rbuf_unref(a); /* one block: ASan/LSan check it is freed */
}

static void test_queue_holds_references(void **state)
{
    (void)state;
    atomic_store(&released, 0);
    sl_rbuf *r = pattern_buf(50000);
    const uint8_t *src = sl_rbuf_data(r);
    sl_oq a = {0}, b = {0};
    assert_int_equal(sl_oq_append(&a, "head", 4), 0);
    assert_int_equal(sl_oq_append_ref(&a, r, src + 1000, 40000), 0);
    assert_int_equal(sl_oq_append(&a, "tail", 4), 0);
    sl_rbuf_unref(r); /* the queue's reference keeps it */
    assert_int_equal(a.bytes, 40008);
    /* The referenced block is the caller's memory, not a copy. */
    assert_ptr_equal(sl_oblk_bytes(a.head->next), src + 1000);

    uint8_t out[20000];
    assert_int_equal(sl_oq_read(&a, out, 10), 10);
    assert_memory_equal(out, "head", 4);
    assert_memory_equal(out + 4, src + 1000, 6);
    /* Part moves by reference (a partial block), then the rest moves whole. */
    assert_int_equal(sl_oq_move(&b, &a, 15000), 0);
    assert_int_equal(sl_oq_move(&b, &a, a.bytes - 4), 0);
    assert_int_equal(a.bytes, 4);
    assert_int_equal(b.bytes, 39994);
    assert_int_equal(sl_oq_read(&b, out, 20000), 20000);
    assert_memory_equal(out, src + 1006, 20000);
    assert_int_equal(atomic_load(&released), 0);
    sl_oq_drop(&b, 19994);
    assert_int_equal(b.bytes, 0);
    assert_int_equal(atomic_load(&released), 1); /* last referencing block gone */
    sl_oq_clear(&a);
    sl_oq_clear(&b);
    assert_int_equal(atomic_load(&released), 1);

    /* Cleared with the bytes unsent (a connection that died): released once. */
    r = pattern_buf(1000);
    assert_int_equal(sl_oq_append_ref(&a, r, sl_rbuf_data(r), 1000), 0);
    assert_int_equal(sl_oq_append_ref(&a, r, sl_rbuf_data(r) + 10, 5), 0);
    sl_rbuf_unref(r);
    assert_int_equal(sl_oq_move(&b, &a, 1002), 0);
    sl_oq_clear(&a);
    assert_int_equal(atomic_load(&released), 1);
    sl_oq_clear(&b);
    assert_int_equal(atomic_load(&released), 2);
}

/* ---- against the real server ---- */

#define BODY_BYTES (8u * 1024u * 1024u)

static volatile int closes;

static void on_close(sl_exchange *ex, void *ud, int aborted)
{
    (void)ex;
    (void)ud;
    (void)aborted;
    closes++;
}

static const sl_exchange_ops ops = {.on_close = on_close};

static void blob_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    sl_exchange_set_ops(ex, &ops, NULL);
    sl_rbuf *r = pattern_buf(BODY_BYTES);
    assert_int_equal(sl_exchange_respond_rbuf(ex, 200, NULL, 0, r, 0, BODY_BYTES + 1), SL_EINVAL);
    assert_int_equal(sl_exchange_respond_rbuf(ex, 200, NULL, 0, r, 0, BODY_BYTES), 0);
    sl_rbuf_unref(r); /* the exchange keeps its own */
}

static int route(const sl_http_request *req, sl_route *out)
{
    (void)req;
    memset(out, 0, sizeof(*out));
    out->body_mode = SL_BODY_STREAM;
    out->operation = "Test.Blob";
    out->handle = blob_handle;
    return 0;
}

static void *run_server(void *arg)
{
    sl_server_run(arg);
    return NULL;
}

static void wait_released(int value)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    for (int i = 0; i < 10000 && atomic_load(&released) < value; i++)
        nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&released), value);
}

static int client(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    const char req[] = "GET /blob HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(write(fd, req, sizeof(req) - 1), (ssize_t)sizeof(req) - 1);
    return fd;
}

/* Reads the head and up to max body bytes, checking them against the pattern. */
static size_t read_body(int fd, size_t max)
{
    static uint8_t buf[1 << 16];
    size_t len = 0, body = 0, head = 0;
    while (body < max) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        size_t start = 0;
        if (!head) {
            size_t e = 0;
            while (e + 4 <= len && memcmp(buf + e, "\r\n\r\n", 4) != 0)
                e++;
            if (e + 4 > len)
                continue; /* the head is small: it arrives in the first reads */
            assert_memory_equal(buf, "HTTP/1.1 200", 12);
            head = 1;
            start = e + 4;
        }
        for (size_t i = start; i < len; i++, body++)
            assert_int_equal(buf[i], (uint8_t)(body * 7 + body / 251));
        len = 0;
    }
    return body;
}

static void test_server_releases_once(void **state)
{
    (void)state;
    atomic_store(&released, 0);
    closes = 0;
    sl_server_config cfg = {.host = "127.0.0.1", .port = 0, .route = route, .drain_ms = 300};
    sl_server *s = NULL;
    assert_int_equal(sl_server_new(&cfg, &s), 0);
    int port = sl_server_port(s);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_server, s), 0);

    /* Success: every byte arrives, then the buffer is released once. */
    int fd = client(port, 0);
    assert_int_equal(read_body(fd, BODY_BYTES), BODY_BYTES);
    wait_released(1);
    close(fd);

    /* Client resets mid-body. */
    fd = client(port, 64 * 1024);
    assert_true(read_body(fd, 100000) >= 100000);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
    wait_released(2);

    /* The server cuts the connection mid-body (stop; the client never reads the rest). */
    fd = client(port, 64 * 1024);
    assert_true(read_body(fd, 100000) >= 100000);
    sl_server_stop(s);
    assert_int_equal(pthread_join(th, NULL), 0);
    wait_released(3);
    assert_int_equal(closes, 3);
    close(fd);
    sl_server_free(s);
    sl_loop_shutdown();
    assert_int_equal(atomic_load(&released), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refcount_basics),
        cmocka_unit_test(test_queue_holds_references),
        cmocka_unit_test(test_server_releases_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
