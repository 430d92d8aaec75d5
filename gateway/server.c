/* The network server (server.h): listener, libwebsockets context, loop hooks, stop and drain.
 *
 * libwebsockets is the substrate only: its event loop, raw sockets, timers (lws_sul) and the
 * cross-thread wake-up (lws_cancel_service). The listening socket is made here (exact address,
 * IPv4 or IPv6 as given, port 0 allowed) and adopted into lws as a raw file descriptor; when it
 * is readable, LWS_CALLBACK_RAW_RX_FILE accepts every pending connection and adopts each as an
 * lws raw socket (LWS_ADOPT_SOCKET without LWS_ADOPT_HTTP). Owning the listener lets stop close
 * it at once while connections drain, and keeps lws's HTTP roles out of the way entirely.
 *
 * Loop hooks (sluice/loop.h): wake = lws_cancel_service, which makes lws deliver
 * LWS_CALLBACK_EVENT_WAIT_CANCELLED, where posted tasks run and a stop request is noticed;
 * timers = lws_sul_schedule on a heap-allocated sul per timer.
 *
 * Stop: sl_server_stop() sets a flag and calls lws_cancel_service (a write to lws's pipe:
 * async-signal-safe). The loop then closes the listener, closes idle connections, lets busy
 * ones finish their exchange (HTTP/1: Connection: close; HTTP/2: GOAWAY) and, after drain_ms,
 * closes whatever is left. sl_server_run() returns 0 when the last connection is gone. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define SL_PROTO_NAME "sluice-raw"

/* ---- loop hooks ---- */

struct sl_timer {
    lws_sorted_usec_list_t sul;
    sl_task_fn fn;
    void *arg;
};

static void hook_wake(void *ctx)
{
    sl_server *s = ctx;
    lws_cancel_service(s->ctx);
}

static void timer_fire(lws_sorted_usec_list_t *sul)
{
    struct sl_timer *t = lws_container_of(sul, struct sl_timer, sul);
    sl_task_fn fn = t->fn;
    void *arg = t->arg;
    free(t);
    fn(arg);
}

static void *hook_timer_add(void *ctx, uint64_t delay_ms, sl_task_fn fn, void *arg)
{
    sl_server *s = ctx;
    struct sl_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    lws_sul_schedule(s->ctx, 0, &t->sul, timer_fire, (lws_usec_t)delay_ms * 1000);
    return t;
}

static void hook_timer_cancel(void *ctx, void *handle)
{
    (void)ctx;
    struct sl_timer *t = handle;
    if (!t)
        return;
    lws_sul_cancel(&t->sul);
    free(t);
}

/* ---- accept ---- */

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        port = ntohs(a->sin_port);
        snprintf(out, n, "%s:%d", ip, port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        port = ntohs(a->sin6_port);
        snprintf(out, n, "[%s]:%d", ip, port);
    } else {
        snprintf(out, n, "?");
    }
}

static void resume_listen(lws_sorted_usec_list_t *sul);

static void accept_all(sl_server *s)
{
    for (;;) {
        struct sockaddr_storage sa;
        socklen_t sl = sizeof(sa);
        int fd = accept4(s->listen_fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop polling the listener for a moment instead of
                 * spinning on a connection we cannot take. */
                sl_warn("server", "accept: %s; pausing the listener for 100 ms", strerror(errno));
                if (s->listen_wsi) {
                    lws_rx_flow_control(s->listen_wsi, 0);
                    lws_sul_schedule(s->ctx, 0, &s->listen_sul, resume_listen, 100 * 1000);
                }
            }
            return;
        }
        if (s->n_conns >= s->cfg.max_connections || s->stopping) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char peer[64];
        peer_name(&sa, peer, sizeof(peer));
        sl_conn *c = sl_conn_new(s, fd, peer);
        if (!c) {
            close(fd);
            continue;
        }
        lws_adopt_desc_t ad;
        memset(&ad, 0, sizeof(ad));
        ad.vh = s->vh;
        ad.type = LWS_ADOPT_SOCKET;
        ad.fd.sockfd = fd;
        ad.vh_prot_name = SL_PROTO_NAME;
        ad.opaque = c;
        struct lws *wsi = lws_adopt_descriptor_vhost_via_info(&ad);
        if (!wsi) { /* lws closed fd */
            sl_conn_on_close(c);
            continue;
        }
        lws_set_opaque_user_data(wsi, c);
        sl_conn_attach(c, wsi);
    }
}

static void resume_listen(lws_sorted_usec_list_t *sul)
{
    sl_server *s = lws_container_of(sul, sl_server, listen_sul);
    if (s->listen_wsi && !s->stopping)
        lws_rx_flow_control(s->listen_wsi, 1);
}

/* ---- stalls ---- */

/* Once a second: cut connections whose request body stopped arriving or whose peer stopped
 * reading (lws's own timeouts only cover idle keep-alive time). Cutting = the same hard close
 * the drain deadline uses, so the handlers see on_close(aborted=1) and release what they hold. */
static void sweep(lws_sorted_usec_list_t *sul)
{
    sl_server *s = lws_container_of(sul, sl_server, sweep_sul);
    int64_t now = sl_time_mono_ns();
    for (sl_conn *c = s->conns; c; c = c->next) {
        sl_conn_idle_check(c, now);
        const char *why = sl_conn_stalled(c, now);
        if (!why || !c->wsi || c->close_now)
            continue;
        sl_info("server", "%s: %s, closing", c->peer, why);
        s->metrics.conns_stalled++;
        sl_conn_cut(c, NGHTTP2_CANCEL);
    }
    if (!s->done)
        lws_sul_schedule(s->ctx, 0, &s->sweep_sul, sweep, 1000 * 1000);
}

/* ---- stop ---- */

static void drain_deadline(lws_sorted_usec_list_t *sul)
{
    sl_server *s = lws_container_of(sul, sl_server, drain_sul);
    if (s->n_conns)
        sl_warn("server", "drain time over: closing %u connection(s)", s->n_conns);
    for (sl_conn *c = s->conns; c; c = c->next)
        sl_conn_cut(c, NGHTTP2_NO_ERROR);
    if (!s->n_conns)
        s->done = 1;
}

static void begin_stop(sl_server *s)
{
    s->stopping = 1;
    sl_info("server", "stopping: %u connection(s) open, draining up to %u ms", s->n_conns,
            s->cfg.drain_ms);
    if (s->listen_wsi) {
        lws_set_timeout(s->listen_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    for (sl_conn *c = s->conns; c; c = c->next)
        sl_conn_shutdown(c);
    lws_sul_cancel(&s->drain_sul);
    lws_sul_schedule(s->ctx, 0, &s->drain_sul, drain_deadline, (lws_usec_t)s->cfg.drain_ms * 1000);
    if (!s->n_conns)
        s->done = 1;
}

/* ---- lws callback ---- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    sl_server *s = lws_context_user(lws_get_context(wsi));
    sl_conn *c;
    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (s && wsi == s->listen_wsi)
            accept_all(s);
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (s && wsi == s->listen_wsi) {
            s->listen_wsi = NULL;
            s->listen_fd = -1; /* lws closed it */
        }
        return 0;
    case LWS_CALLBACK_RAW_RX:
        c = lws_get_opaque_user_data(wsi);
        if (!c)
            return -1;
        return sl_conn_on_rx(c, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        c = lws_get_opaque_user_data(wsi);
        if (!c)
            return -1;
        return sl_conn_on_writable(c);
    case LWS_CALLBACK_RAW_CLOSE:
        c = lws_get_opaque_user_data(wsi);
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            sl_conn_on_close(c);
            if (s && s->stopping && !s->n_conns)
                s->done = 1;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (!s)
            return 0;
        sl_loop_run_posted();
        if (s->stop_req && !s->stopping)
            begin_stop(s);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {SL_PROTO_NAME, callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- public ---- */

static int make_listener(const char *host, int port, int *fd_out, int *port_out)
{
    struct addrinfo hints, *res = NULL;
    char ps[16];
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host && *host ? host : NULL, ps, &hints, &res) != 0 || !res)
        return SL_EINVAL;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = SL_EIO;
    if (fd < 0)
        goto out;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 4096) != 0) {
        sl_error("server", "cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
        goto out;
    }
    struct sockaddr_storage sa;
    socklen_t sl = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    *port_out = sa.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&sa)->sin6_port)
                                         : ntohs(((struct sockaddr_in *)&sa)->sin_port);
    *fd_out = fd;
    rc = 0;
out:
    freeaddrinfo(res);
    return rc;
}

int sl_server_new(const sl_server_config *cfg, sl_server **out)
{
    int rc = SL_EINVAL;
    sl_server *s = NULL;
    if (!cfg || !cfg->route || !out)
        goto fail;
    rc = SL_ENOMEM;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto fail;
    s->listen_fd = -1;
    s->cfg = *cfg;
    if (!s->cfg.max_connections)
        s->cfg.max_connections = 20000;
    if (!s->cfg.idle_timeout_s)
        s->cfg.idle_timeout_s = 120;
    if (!s->cfg.max_header_bytes)
        s->cfg.max_header_bytes = 64 * 1024;
    if (!s->cfg.drain_ms)
        s->cfg.drain_ms = 5000;
    if (!s->cfg.body_timeout_s)
        s->cfg.body_timeout_s = 60;
    if (!s->cfg.write_timeout_s)
        s->cfg.write_timeout_s = 60;
    if (!s->cfg.region)
        s->cfg.region = "us-east-1";
    sl_metrics_init(&s->metrics);
    s->scratch = malloc(LWS_PRE + 2 * SL_SCRATCH_BYTES);
    if (!s->scratch)
        goto fail;
    if (cfg->tls_cert || cfg->tls_key) {
        rc = SL_EINVAL;
        if (!cfg->tls_cert || !cfg->tls_key)
            goto fail;
        rc = sl_tls_ctx_new(cfg->tls_cert, cfg->tls_key, &s->ssl_ctx);
        if (rc)
            goto fail;
    }
    rc = make_listener(cfg->host, cfg->port, &s->listen_fd, &s->port);
    if (rc)
        goto fail;

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = s;
    info.count_threads = 1;
    info.pt_serv_buf_size = 128 * 1024; /* one recv() per RX callback */
    info.timeout_secs = 30;
    info.max_http_header_pool = 16;
    rc = SL_EIO;
    s->ctx = lws_create_context(&info);
    if (!s->ctx)
        goto fail;
    s->vh = lws_get_vhost_by_name(s->ctx, "default");
    if (!s->vh)
        goto fail;
    lws_sock_file_fd_type fd;
    fd.filefd = s->listen_fd;
    s->listen_wsi =
        lws_adopt_descriptor_vhost(s->vh, LWS_ADOPT_RAW_FILE_DESC, fd, SL_PROTO_NAME, NULL);
    if (!s->listen_wsi) {
        s->listen_fd = -1; /* closed by lws */
        goto fail;
    }
    sl_loop_hooks hooks = {
        .wake = hook_wake,
        .timer_add = hook_timer_add,
        .timer_cancel = hook_timer_cancel,
        .ctx = s,
    };
    sl_loop_set_hooks(&hooks);
    sl_info("server", "listening on %s:%d%s", cfg->host ? cfg->host : "*", s->port,
            s->ssl_ctx ? " (TLS, ALPN h2/http1.1)" : " (HTTP/1.1 and h2c)");
    *out = s;
    return 0;

fail:
    sl_server_free(s);
    return rc;
}

int sl_server_port(const sl_server *s)
{
    return s->port;
}

int sl_server_run(sl_server *s)
{
    lws_sul_schedule(s->ctx, 0, &s->sweep_sul, sweep, 1000 * 1000);
    while (!s->done) {
        if (s->stop_req && !s->stopping)
            begin_stop(s);
        if (lws_service(s->ctx, 0) < 0)
            return SL_EIO;
    }
    return 0;
}

void sl_server_stop(sl_server *s)
{
    s->stop_req = 1;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

void sl_server_free(sl_server *s)
{
    if (!s)
        return;
    sl_loop_set_hooks(NULL);
    if (s->ctx) {
        lws_sul_cancel(&s->drain_sul);
        lws_sul_cancel(&s->listen_sul);
        lws_sul_cancel(&s->sweep_sul);
        lws_context_destroy(s->ctx);
    }
    if (s->listen_fd >= 0 && !s->listen_wsi)
        close(s->listen_fd);
    if (s->ssl_ctx)
        sl_tls_ctx_free(s->ssl_ctx);
    sl_metrics_cleanup(&s->metrics);
    free(s->scratch);
    free(s);
}
