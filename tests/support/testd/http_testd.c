/* http_testd: the real Sluice network server (gateway/server.c) with test routes, for
 * tests/e2e/test_http.py. It is not a mock of anything: sl_server, its HTTP/1.1 and HTTP/2 code,
 * TLS, metrics and back-pressure are the production ones; only the route table is the test's.
 *
 * Routes:
 *   /echo            buffered body (max 64 MiB), answered back as-is.
 *   /sink[?pause_ms=M[&pause_at=B]]
 *                    streamed body; counts bytes and SHA-256. While the body arrives it writes
 *                    {"received":N} every 8 MiB. With pause_ms, once B bytes (default 32 MiB)
 *                    have arrived it pauses the body (sl_exchange_pause_body), writes
 *                    {"paused_at":N} at once and {"resumed_at":N} when it resumes M ms later:
 *                    a client that gets the first line about M ms before the second has seen
 *                    the response flow while the body was paused. At the end:
 *                    {"done":true,"bytes":N,"sha256":"<hex>"}.
 *   /stream?n=K[&size=S]
 *                    K chunks of S bytes (default 65536; K=0: endless), produced only while
 *                    sl_exchange_queued_bytes() is under 256 KiB (want_writable otherwise).
 *                    Chunk i is filled with the letter 'a' + i % 26.
 *   /blob[?size=N][&copy=1]
 *                    N bytes (default 4 MiB; byte i = (i * 7 + i / 251) & 0xff) from one shared
 *                    sl_rbuf, sent by reference (sl_exchange_respond_rbuf), or copied with copy=1.
 *   /blob-stats[?drop=1]
 *                    {"live":K}: shared bodies not yet released (drop=1 first lets go of the
 *                    server's own reference, so K counts only what connections still hold).
 *   /slow[?ms=M]     buffered body; answers "slow\n" M ms (default 300) later, from a timer.
 *   /headers         the request as the handler sees it: method, path, query, authority,
 *                    version, content_length, then "name: value" per header.
 *   /aws             AWS JSON 1.1 route signed for "kinesis" (buffered): answers
 *                    {"accessKey":"...","region":"...","bodyLen":N} once authentication passed.
 *   /aws-rest        REST-JSON route signed for "kinesisvideo" (streamed body): same answer.
 *   With --credentials FILE, SigV4 authentication (gateway/auth.c) guards the two /aws routes;
 *   without it they run as under --auth none.
 *
 * Usage: http_testd [--listen HOST:PORT] [--tls-cert F --tls-key F] [--auth none]
 *                   [--credentials FILE]
 *                   [--idle-timeout S] [--max-header-bytes N] [--drain-ms N] [--log-level L]
 * Prints "listening on http(s)://HOST:PORT" once the port accepts connections. */
#include <getopt.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "auth.h"
#include "server.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/loop.h"

#define MiB (1024u * 1024u)

static sl_server *the_server;

static void on_signal(int sig)
{
    (void)sig;
    if (the_server)
        sl_server_stop(the_server);
}

static long query_long(sl_slice q, const char *key, long dflt)
{
    size_t kl = strlen(key);
    const char *p = q.ptr, *end = q.ptr + q.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
            char tmp[32];
            size_t n = (size_t)(e - p - (ptrdiff_t)kl - 1);
            if (n >= sizeof(tmp))
                n = sizeof(tmp) - 1;
            memcpy(tmp, p + kl + 1, n);
            tmp[n] = '\0';
            return strtol(tmp, NULL, 10);
        }
        p = e + 1;
    }
    return dflt;
}

/* ---- /echo ---- */

static void echo_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    static const sl_http_header h[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/octet-stream")}};
    sl_exchange_respond(ex, 200, h, 1, req->body, req->body_len);
}

/* ---- /headers ---- */

static void headers_handle(sl_exchange *ex, const sl_http_request *r, void *ud)
{
    (void)ud;
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b,
                  "method: %.*s\npath: %.*s\nquery: %.*s\nauthority: %.*s\nversion: %d\n"
                  "content_length: %lld\nbody_len: %zu\n",
                  (int)r->method_name.len, r->method_name.ptr, (int)r->path.len, r->path.ptr,
                  (int)r->query.len, r->query.ptr, (int)r->authority.len, r->authority.ptr,
                  r->version, (long long)r->content_length, r->body_len);
    for (size_t i = 0; i < r->n_headers; i++)
        sl_buf_printf(&b, "%.*s: %.*s\n", (int)r->headers[i].name.len, r->headers[i].name.ptr,
                      (int)r->headers[i].value.len, r->headers[i].value.ptr);
    static const sl_http_header h[] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("text/plain")}};
    sl_exchange_respond(ex, 200, h, 1, b.data, b.len);
    sl_buf_cleanup(&b);
}

/* ---- /sink ---- */

typedef struct sink {
    sl_exchange *ex;
    EVP_MD_CTX *md;
    uint64_t bytes;
    uint64_t next_report;
    uint64_t pause_at;
    long pause_ms;
    int paused_once;
    void *timer;
} sink;

static void sink_line(sink *k, const char *key, unsigned long long v)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "{\"%s\":%llu}\n", key, v);
    sl_exchange_write(k->ex, line, (size_t)n);
}

static void sink_unpause(void *arg)
{
    sink *k = arg;
    k->timer = NULL;
    if (sl_exchange_is_open(k->ex)) {
        sink_line(k, "resumed_at", (unsigned long long)k->bytes);
        sl_exchange_pause_body(k->ex, 0);
    }
    sl_exchange_unref(k->ex);
}

static int sink_body(sl_exchange *ex, void *ud, const uint8_t *p, size_t n)
{
    (void)ex;
    sink *k = ud;
    EVP_DigestUpdate(k->md, p, n);
    k->bytes += n;
    while (k->bytes >= k->next_report) {
        sink_line(k, "received", (unsigned long long)k->bytes);
        k->next_report += 8 * MiB;
    }
    if (k->pause_ms > 0 && k->bytes >= k->pause_at && !k->paused_once) {
        k->paused_once = 1;
        sl_exchange_pause_body(k->ex, 1);
        /* Written while the body is paused: must reach the client now, not at resume. */
        sink_line(k, "paused_at", (unsigned long long)k->bytes);
        sl_exchange_ref(k->ex);
        k->timer = sl_loop_timer_add((uint64_t)k->pause_ms, sink_unpause, k);
        if (!k->timer) {
            sl_exchange_unref(k->ex);
            sl_exchange_pause_body(k->ex, 0);
        }
    }
    return 0;
}

static void sink_end(sl_exchange *ex, void *ud)
{
    sink *k = ud;
    unsigned char d[32];
    unsigned dl = 0;
    char hex[65];
    EVP_DigestFinal_ex(k->md, d, &dl);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    char line[160];
    int n = snprintf(line, sizeof(line), "{\"done\":true,\"bytes\":%llu,\"sha256\":\"%s\"}\n",
                     (unsigned long long)k->bytes, hex);
    sl_exchange_write(ex, line, (size_t)n);
    sl_exchange_end(ex);
}

static void sink_close(sl_exchange *ex, void *ud, int aborted)
{
    (void)ex;
    (void)aborted;
    sink *k = ud;
    if (k->timer) {
        sl_loop_timer_cancel(k->timer);
        k->timer = NULL;
        sl_exchange_unref(k->ex);
    }
    EVP_MD_CTX_free(k->md);
    free(k);
}

static const sl_exchange_ops sink_ops = {
    .on_body = sink_body,
    .on_body_end = sink_end,
    .on_close = sink_close,
};

static void sink_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    sink *k = calloc(1, sizeof(*k));
    if (!k || !(k->md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(k->md, EVP_sha256(), NULL)) {
        free(k);
        sl_exchange_respond(ex, 500, NULL, 0, "oom\n", 4);
        return;
    }
    k->ex = ex;
    k->next_report = 8 * MiB;
    k->pause_at = (uint64_t)query_long(req->query, "pause_at", 32 * MiB);
    k->pause_ms = query_long(req->query, "pause_ms", 0);
    static const sl_http_header h[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/x-ndjson")}};
    sl_exchange_set_ops(ex, &sink_ops, k);
    sl_exchange_start(ex, 200, h, 1);
    sink_line(k, "started", 0ULL);
}

/* ---- /stream ---- */

typedef struct streamer {
    long n, i;
    size_t size;
    uint8_t *chunk;
} streamer;

static void stream_pump(sl_exchange *ex, void *ud)
{
    streamer *st = ud;
    while (sl_exchange_is_open(ex) && (st->n == 0 || st->i < st->n)) {
        if (sl_exchange_queued_bytes(ex) >= 256 * 1024) {
            sl_exchange_want_writable(ex);
            return;
        }
        memset(st->chunk, 'a' + (int)(st->i % 26), st->size);
        if (sl_exchange_write(ex, st->chunk, st->size) != 0)
            return;
        st->i++;
    }
    if (sl_exchange_is_open(ex))
        sl_exchange_end(ex);
}

static void stream_close(sl_exchange *ex, void *ud, int aborted)
{
    (void)ex;
    (void)aborted;
    streamer *st = ud;
    free(st->chunk);
    free(st);
}

static const sl_exchange_ops stream_ops = {
    .on_writable = stream_pump,
    .on_close = stream_close,
};

static void stream_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    streamer *st = calloc(1, sizeof(*st));
    if (!st) {
        sl_exchange_respond(ex, 500, NULL, 0, "oom\n", 4);
        return;
    }
    st->n = query_long(req->query, "n", 16);
    long size = query_long(req->query, "size", 65536);
    st->size = size > 0 && size <= 16 * (long)MiB ? (size_t)size : 65536;
    st->chunk = malloc(st->size);
    if (!st->chunk) {
        free(st);
        sl_exchange_respond(ex, 500, NULL, 0, "oom\n", 4);
        return;
    }
    sl_exchange_set_ops(ex, &stream_ops, st);
    static const sl_http_header h[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/octet-stream")}};
    sl_exchange_start(ex, 200, h, 1);
    stream_pump(ex, st);
}

/* ---- /slow ---- */

static void slow_fire(void *arg)
{
    sl_exchange *ex = arg;
    static const sl_http_header h[] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("text/plain")}};
    if (sl_exchange_is_open(ex))
        sl_exchange_respond(ex, 200, h, 1, "slow\n", 5);
    sl_exchange_unref(ex);
}

static void slow_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    long ms = query_long(req->query, "ms", 300);
    sl_exchange_ref(ex);
    if (!sl_loop_timer_add((uint64_t)(ms > 0 ? ms : 1), slow_fire, ex)) {
        sl_exchange_unref(ex);
        sl_exchange_respond(ex, 500, NULL, 0, "oom\n", 4);
    }
}

/* ---- /blob ---- */

/* One shared immutable body, answered by reference (sl_exchange_respond_rbuf) or, with copy=1,
 * through the copying sl_exchange_respond(), so both paths can be compared on the same
 * binary. Byte i is (i * 7 + i / 251) & 0xff. blob_live counts the buffers not yet released. */
static sl_rbuf *blob;
static long blob_live;

static void blob_free(void *ud, const void *data)
{
    (void)ud;
    free((void *)data);
    blob_live--;
}

static void blob_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    static const sl_http_header h[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/octet-stream")}};
    long size = query_long(req->query, "size", 4 * (long)MiB);
    if (size < 0 || size > 256 * (long)MiB) {
        sl_exchange_respond(ex, 400, NULL, 0, "bad size\n", 9);
        return;
    }
    if (!blob || sl_rbuf_len(blob) != (size_t)size) {
        uint8_t *p = malloc((size_t)size + 1);
        sl_rbuf *nb = p ? sl_rbuf_wrap(p, (size_t)size, blob_free, NULL) : NULL;
        if (!nb) {
            free(p);
            sl_exchange_respond(ex, 500, NULL, 0, "oom\n", 4);
            return;
        }
        for (long i = 0; i < size; i++)
            p[i] = (uint8_t)(i * 7 + i / 251);
        blob_live++;
        sl_rbuf_unref(blob); /* in-flight responses keep the old one */
        blob = nb;
    }
    if (query_long(req->query, "copy", 0))
        sl_exchange_respond(ex, 200, h, 1, sl_rbuf_data(blob), sl_rbuf_len(blob));
    else
        sl_exchange_respond_rbuf(ex, 200, h, 1, blob, 0, sl_rbuf_len(blob));
}

static void blob_stats_handle(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    if (query_long(req->query, "drop", 0)) {
        sl_rbuf_unref(blob);
        blob = NULL;
    }
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"live\":%ld}", blob_live);
    sl_exchange_respond(ex, 200, NULL, 0, body, (size_t)n);
}

/* ---- /aws, /aws-rest ---- */

static void aws_handle(sl_exchange *ex, const sl_http_request *r, void *ud)
{
    (void)ud;
    char body[400];
    int n = snprintf(body, sizeof(body), "{\"accessKey\":\"%s\",\"region\":\"%s\",\"bodyLen\":%zu}",
                     r->access_key, r->region, r->body_len);
    static const sl_http_header h[] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/x-amz-json-1.1")}};
    sl_exchange_respond(ex, 200, h, 1, body, (size_t)n);
}

/* ---- routing ---- */

static void not_found(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    static const sl_http_header h[] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("text/plain")}};
    sl_exchange_respond(ex, 404, h, 1, "no such test route\n", 19);
}

static int route(const sl_http_request *req, sl_route *out)
{
    memset(out, 0, sizeof(*out));
    out->proto = SL_PROTO_PLAIN;
    if (sl_slice_eq(req->path, "/echo")) {
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = 64 * MiB;
        out->operation = "Test.Echo";
        out->handle = echo_handle;
    } else if (sl_slice_eq(req->path, "/headers")) {
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = 1 * MiB;
        out->operation = "Test.Headers";
        out->handle = headers_handle;
    } else if (sl_slice_eq(req->path, "/sink")) {
        out->body_mode = SL_BODY_STREAM;
        out->operation = "Test.Sink";
        out->handle = sink_handle;
    } else if (sl_slice_eq(req->path, "/aws")) {
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = 1 * MiB;
        out->proto = SL_PROTO_AWS_JSON;
        out->service = "kinesis";
        out->operation = "Test.Aws";
        out->handle = aws_handle;
    } else if (sl_slice_eq(req->path, "/aws-rest")) {
        out->body_mode = SL_BODY_STREAM;
        out->proto = SL_PROTO_REST_JSON;
        out->service = "kinesisvideo";
        out->operation = "Test.AwsRest";
        out->handle = aws_handle;
    } else if (sl_slice_eq(req->path, "/blob")) {
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = 1 * MiB;
        out->operation = "Test.Blob";
        out->handle = blob_handle;
    } else if (sl_slice_eq(req->path, "/blob-stats")) {
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = 1 * MiB;
        out->operation = "Test.BlobStats";
        out->handle = blob_stats_handle;
    } else if (sl_slice_eq(req->path, "/slow")) {
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = 1 * MiB;
        out->operation = "Test.Slow";
        out->handle = slow_handle;
    } else if (sl_slice_eq(req->path, "/stream")) {
        out->body_mode = SL_BODY_STREAM;
        out->operation = "Test.Stream";
        out->handle = stream_handle;
    } else {
        out->operation = "Test.NotFound";
        out->handle = not_found;
        return SL_ENOTFOUND;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"auth", required_argument, NULL, 'a'},
        {"idle-timeout", required_argument, NULL, 'i'},
        {"stall-timeout", required_argument, NULL, 's'},
        {"max-header-bytes", required_argument, NULL, 'm'},
        {"drain-ms", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'L'},
        {"credentials", required_argument, NULL, 'C'},
        {NULL, 0, NULL, 0},
    };
    char host[256] = "127.0.0.1";
    int port = 0, c;
    const char *creds = NULL;
    sl_auth *auth = NULL;
    sl_server_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'l': {
            const char *colon = strrchr(optarg, ':');
            if (!colon || (size_t)(colon - optarg) >= sizeof(host)) {
                fprintf(stderr, "--listen HOST:PORT\n");
                return 2;
            }
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = '\0';
            port = atoi(colon + 1);
            break;
        }
        case 'c':
            cfg.tls_cert = optarg;
            break;
        case 'k':
            cfg.tls_key = optarg;
            break;
        case 'a':
            if (strcmp(optarg, "none") != 0) {
                fprintf(stderr, "http_testd only runs with --auth none\n");
                return 2;
            }
            break;
        case 'i':
            cfg.idle_timeout_s = (unsigned)atoi(optarg);
            break;
        case 's':
            cfg.body_timeout_s = cfg.write_timeout_s = (unsigned)atoi(optarg);
            break;
        case 'm':
            cfg.max_header_bytes = (unsigned)atoi(optarg);
            break;
        case 'd':
            cfg.drain_ms = (unsigned)atoi(optarg);
            break;
        case 'C':
            creds = optarg;
            break;
        case 'L': {
            int lvl = sl_log_level_parse(optarg);
            if (lvl >= 0)
                sl_log_set_level((sl_log_level)lvl);
            break;
        }
        default:
            return 2;
        }
    }
    /* Many idle connections in the tests: take every descriptor the hard limit allows. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (creds) {
        int e = sl_auth_new(&auth);
        if (e == 0)
            e = sl_auth_load_file(auth, creds);
        if (e) {
            fprintf(stderr, "http_testd: cannot load %s: %s\n", creds, sl_err_str(e));
            sl_auth_free(auth);
            return 1;
        }
        cfg.auth = auth;
    }
    cfg.host = host;
    cfg.port = port;
    cfg.route = route;
    cfg.region = "us-east-1";
    int e = sl_server_new(&cfg, &the_server);
    if (e) {
        fprintf(stderr, "http_testd: cannot start: %s\n", sl_err_str(e));
        sl_auth_free(auth);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("listening on %s://%s:%d\n", cfg.tls_cert ? "https" : "http", host,
           sl_server_port(the_server));
    fflush(stdout);
    int rc = sl_server_run(the_server);
    signal(SIGTERM, SIG_IGN); /* as sluiced: a late signal must not wake a destroyed loop */
    signal(SIGINT, SIG_IGN);
    sl_rbuf_unref(blob);
    sl_server_free(the_server);
    the_server = NULL;
    sl_loop_shutdown();
    sl_auth_free(auth);
    return rc == 0 ? 0 : 1;
}
