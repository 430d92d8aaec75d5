/* Exchange lifetime against the real server (gateway/server.c) over loopback sockets:
 * on_close runs exactly once, with aborted=0 after a complete exchange and aborted=1 when the
 * peer vanishes (a reset at once; a plain close -- which TCP cannot tell from a half-close --
 * at the next write, which the closed socket answers with a reset); afterwards writes return
 * SL_ECLOSED, the request stays readable while a reference is held, and the last unref frees it
 * (ASan builds check that). The server runs on a second thread; checks that must run on the
 * loop thread are posted with sl_loop_post(). */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server.h"
#include "sluice/err.h"
#include "sluice/loop.h"

static volatile int close_calls, close_aborted = -1, posted_done;
static volatile int write_rc_after_close = 1, open_after_close = -1, path_ok = -1;
static sl_exchange *held;

static void on_close(sl_exchange *ex, void *ud, int aborted)
{
    (void)ex;
    (void)ud;
    close_calls++;
    close_aborted = aborted;
}

static const sl_exchange_ops ops = {.on_close = on_close};

static void hold_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    sl_exchange_set_ops(ex, &ops, NULL);
    sl_exchange_ref(ex);
    held = ex;
    sl_exchange_start(ex, 200, NULL, 0);
    sl_exchange_write(ex, "x", 1); /* never ended: the client goes away */
}

static void ok_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    sl_exchange_set_ops(ex, &ops, NULL);
    sl_exchange_respond(ex, 200, NULL, 0, "ok", 2);
    /* A second answer is refused. */
    assert_int_equal(sl_exchange_respond(ex, 200, NULL, 0, "no", 2), SL_EINVAL);
}

static int route(const sl_http_request *req, sl_route *out)
{
    memset(out, 0, sizeof(*out));
    out->body_mode = SL_BODY_STREAM;
    out->operation = "Test";
    out->handle = sl_slice_eq(req->path, "/hold") ? hold_handle : ok_handle;
    return 0;
}

static void *run_server(void *arg)
{
    sl_server_run(arg);
    return NULL;
}

static void wait_for(volatile int *flag, int value)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    for (int i = 0; i < 5000 && *flag != value; i++)
        nanosleep(&ts, NULL);
    assert_int_equal(*flag, value);
}

static int client(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

static void read_until(int fd, const char *needle)
{
    char buf[4096];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        assert_true(n > 0);
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, needle))
            return;
    }
    fail_msg("did not see %s", needle);
}

static void after_close_checks(void *arg)
{
    (void)arg;
    write_rc_after_close = sl_exchange_write(held, "y", 1);
    open_after_close = sl_exchange_is_open(held);
    path_ok = sl_slice_eq(sl_exchange_request(held)->path, "/hold") &&
              strlen(sl_exchange_request_id(held)) == 36;
    sl_exchange_unref(held);
    held = NULL;
    posted_done = 1;
}

static volatile int late_write_rc = 1, late_open = -1, late_done;

static void late_write(void *arg)
{
    (void)arg;
    late_open = sl_exchange_is_open(held);
    late_write_rc = sl_exchange_write(held, "late", 4);
    late_done = 1;
}

static void hold_and_vanish(int port, int reset)
{
    int fd = client(port);
    const char req_hold[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(write(fd, req_hold, sizeof(req_hold) - 1), (ssize_t)sizeof(req_hold) - 1);
    read_until(fd, "\r\n1\r\nx\r\n");
    if (reset) {
        struct linger lg = {1, 0}; /* close() sends RST */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd);
}

static void test_exchange_lifetime(void **state)
{
    (void)state;
    sl_server_config cfg = {.host = "127.0.0.1", .port = 0, .route = route};
    sl_server *s = NULL;
    assert_int_equal(sl_server_new(&cfg, &s), 0);
    int port = sl_server_port(s);
    assert_true(port > 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_server, s), 0);

    /* Complete exchange: aborted = 0, once. */
    int fd = client(port);
    const char req_ok[] = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal(write(fd, req_ok, sizeof(req_ok) - 1), (ssize_t)sizeof(req_ok) - 1);
    read_until(fd, "\r\n\r\nok");
    wait_for(&close_calls, 1);
    assert_int_equal(close_aborted, 0);
    close(fd);

    /* Peer resets mid-response: aborted = 1, once; the held exchange stays valid. */
    hold_and_vanish(port, 1);
    wait_for(&close_calls, 2);
    assert_int_equal(close_aborted, 1);
    assert_int_equal(sl_loop_post(after_close_checks, NULL), 0);
    wait_for(&posted_done, 1);
    assert_int_equal(write_rc_after_close, SL_ECLOSED);
    assert_int_equal(open_after_close, 0);
    assert_int_equal(path_ok, 1);
    assert_int_equal(close_calls, 2);

    /* Peer closes mid-response: its FIN alone could be a half-close (it may still read), so the
     * exchange stays open; the next write meets the closed socket's reset: aborted = 1, once. */
    posted_done = 0;
    hold_and_vanish(port, 0);
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    assert_int_equal(close_calls, 2);
    assert_int_equal(sl_loop_post(late_write, NULL), 0);
    wait_for(&late_done, 1);
    assert_int_equal(late_open, 1);
    assert_int_equal(late_write_rc, 0);
    wait_for(&close_calls, 3);
    assert_int_equal(close_aborted, 1);
    assert_int_equal(sl_loop_post(after_close_checks, NULL), 0);
    wait_for(&posted_done, 1);
    assert_int_equal(write_rc_after_close, SL_ECLOSED);
    assert_int_equal(close_calls, 3);

    sl_server_stop(s);
    assert_int_equal(pthread_join(th, NULL), 0);
    sl_server_free(s);
    sl_loop_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exchange_lifetime),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
