/* Fuzz target for the PutMedia state machine (api/video/kv_putmedia.c) in the real server.
 *
 * On first use it starts, in this process, the production pieces sluiced is made of: a store in
 * a fresh temporary folder, sl_api, and sl_server on 127.0.0.1 (auth none) on a thread of its
 * own; then it creates the stream "fuzz" (retention 1 h) with a real CreateStream request. Each
 * input is a PutMedia request body: it is sent over a socket, chunked with sizes taken from the
 * input's first byte (so split points vary), and the whole response is read back. Checked on
 * every input:
 *   - the answer is 200 with a chunked body that ends (the session always terminates);
 *   - every chunk is exactly one JSON object + "\n", at most 1024 bytes, with a known EventType;
 *   - per FragmentNumber the events come in the order BUFFERING, RECEIVED, PERSISTED, each at
 *     most once, and the FragmentTimecode does not change between them;
 *   - at most one ERROR, and it is the last event; its ErrorId is one PutMedia defines.
 * A failed check aborts (a crash for libFuzzer). The temporary folder is removed at exit. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "sluice/api.h"
#include "sluice/log.h"
#include "sluice/storage.h"

#define MAX_EVENTS 4096

/* api/video/kv.h (private to api/): stops the video service's read worker. */
void sl_video_service_shutdown(void);

static struct {
    int up;
    char dir[64];
    sl_store *store;
    sl_server *srv;
    pthread_t thr;
    int port;
} fz;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_putmedia: check failed: %s\n", what);
        abort();
    }
}

static void *serve(void *unused)
{
    (void)unused;
    sl_server_run(fz.srv);
    return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    if (!fz.up)
        return;
    sl_server_stop(fz.srv);
    pthread_join(fz.thr, NULL);
    /* services first: they cancel their timers through the server's loop hooks */
    sl_video_service_shutdown();
    sl_api_shutdown();
    sl_server_free(fz.srv);
    sl_store_close(fz.store);
    nftw(fz.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    fz.up = 0;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        perror("fuzz_putmedia: socket");
    check(fd >= 0, "socket");
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fz.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    if (rc != 0 && errno == EINTR) {
        /* libFuzzer's periodic SIGALRM (its -timeout check) has no SA_RESTART: the
         * connection goes on being made; wait for it and take its outcome. */
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        while (poll(&pf, 1, -1) < 0 && errno == EINTR)
            ;
        int err = 0;
        socklen_t el = sizeof(err);
        rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0 ? 0 : -1;
        errno = err;
    }
    if (rc != 0)
        perror("fuzz_putmedia: connect");
    check(rc == 0, "connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server may stop reading after an ERROR: fine */
        c += w;
        n -= (size_t)w;
    }
}

/* Reads until the peer closes; returns a malloc'd buffer. */
static char *recv_all(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *b = malloc(cap + 1);
    check(b != NULL, "malloc");
    for (;;) {
        if (n == cap) {
            cap *= 2;
            b = realloc(b, cap + 1);
            check(b != NULL, "realloc");
        }
        ssize_t r = recv(fd, b + n, cap - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    b[n] = '\0';
    *len = n;
    return b;
}

static void start(void)
{
    snprintf(fz.dir, sizeof(fz.dir), "/tmp/sluice-fuzz-putmedia-XXXXXX");
    check(mkdtemp(fz.dir) != NULL, "mkdtemp");
    sl_log_set_level(getenv("SLUICE_FUZZ_VERBOSE") ? SL_LOG_INFO : SL_LOG_ERROR);
    check(sl_store_open(fz.dir, &fz.store) == 0, "store open");
    sl_server_config sc = {
        .host = "127.0.0.1", .route = sl_api_route, .store = fz.store, .region = "us-east-1"};
    check(sl_server_new(&sc, &fz.srv) == 0, "server");
    fz.port = sl_server_port(fz.srv);
    char base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", fz.port);
    sl_api_config ac = {
        .region = "us-east-1", .account_id = "123456789012", .base_url = base, .store = fz.store};
    check(sl_api_init(&ac) == 0, "api");
    check(pthread_create(&fz.thr, NULL, serve, NULL) == 0, "thread");
    fz.up = 1;
    atexit(teardown);

    static const char body[] = "{\"StreamName\":\"fuzz\",\"DataRetentionInHours\":1}";
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "POST /createStream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    int fd = dial();
    send_all(fd, req, (size_t)n);
    size_t len;
    char *resp = recv_all(fd, &len);
    close(fd);
    check(strncmp(resp, "HTTP/1.1 200", 12) == 0, "CreateStream answered 200");
    free(resp);
}

typedef struct seen {
    char number[64];
    unsigned long long tc;
    int stage; /* 1 BUFFERING, 2 RECEIVED, 3 PERSISTED */
} seen;

/* Value of "key": in one event (string or number) copied to out. 0 if absent. */
static int field(const char *ev, size_t len, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = memmem(ev, len, pat, strlen(pat));
    if (!p)
        return 0;
    p += strlen(pat);
    int quoted = *p == '"';
    p += quoted;
    size_t i = 0;
    while (p < ev + len && i + 1 < cap && *p != (quoted ? '"' : ',') && *p != '}')
        out[i++] = *p++;
    out[i] = '\0';
    return 1;
}

static void check_events(const char *b, size_t len)
{
    static seen s[MAX_EVENTS];
    size_t ns = 0;
    int error_seen = 0;
    const char *p = strstr(b, "\r\n\r\n");
    if (strncmp(b, "HTTP/1.1 200", 12) != 0) /* say what came instead */
        fprintf(stderr, "fuzz_putmedia: answer (%zu bytes): %.*s\n", len,
                (int)(len < 600 ? len : 600), b);
    check(strncmp(b, "HTTP/1.1 200", 12) == 0, "PutMedia answered 200");
    check(p != NULL && strstr(b, "Transfer-Encoding: chunked") != NULL, "chunked head");
    p += 4;
    const char *end = b + len;
    for (;;) {
        char *e = NULL;
        check(p < end, "chunked body ends with the last chunk");
        unsigned long size = strtoul(p, &e, 16);
        check(e && e[0] == '\r' && e[1] == '\n', "chunk size line");
        p = e + 2;
        if (size == 0)
            break;
        check((size_t)(end - p) >= size + 2, "whole chunk");
        const char *ev = p;
        check(size <= 1024, "event <= 1024 bytes");
        check(ev[0] == '{' && ev[size - 2] == '}' && ev[size - 1] == '\n', "one JSON line");
        check(memchr(ev, '\n', size - 1) == NULL, "one event per chunk");
        check(!error_seen, "nothing after ERROR");
        char type[32], num[64], tc[32], id[16];
        check(field(ev, size, "EventType", type, sizeof(type)), "EventType");
        if (strcmp(type, "IDLE") == 0) {
            p += size + 2;
            continue;
        }
        int has_num = field(ev, size, "FragmentNumber", num, sizeof(num));
        int has_tc = field(ev, size, "FragmentTimecode", tc, sizeof(tc));
        if (strcmp(type, "ERROR") == 0) {
            check(field(ev, size, "ErrorId", id, sizeof(id)), "ErrorId");
            int v = atoi(id);
            check((v >= 4000 && v <= 4012) || (v >= 4500 && v <= 4507) || v == 5000 || v == 5001,
                  "known ErrorId");
            error_seen = 1;
        } else {
            int stage = strcmp(type, "BUFFERING") == 0   ? 1
                        : strcmp(type, "RECEIVED") == 0  ? 2
                        : strcmp(type, "PERSISTED") == 0 ? 3
                                                         : 0;
            check(stage != 0, "known EventType");
            check(has_num && has_tc && strlen(num) == 47, "number and timecode");
            unsigned long long t = strtoull(tc, NULL, 10);
            size_t i = 0;
            while (i < ns && strcmp(s[i].number, num) != 0)
                i++;
            if (stage == 3 && i == ns) {
                /* a resent fragment is PERSISTED under the number it was stored with */
            } else if (i == ns) {
                check(stage == 1, "a fragment starts with BUFFERING");
                check(ns < MAX_EVENTS, "event table");
                snprintf(s[ns].number, sizeof(s[ns].number), "%s", num);
                s[ns].tc = t;
                s[ns].stage = 1;
                ns++;
            } else {
                check(stage == s[i].stage + 1, "BUFFERING, RECEIVED, PERSISTED in order");
                check(t == s[i].tc, "timecode stays the same");
                s[i].stage = stage;
            }
        }
        p += size + 2;
    }
    if (getenv("SLUICE_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_putmedia: %zu fragment(s), error %d\n", ns, error_seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t pieces[] = {1, 3, 17, 256, 4096, 65536};
    if (!fz.up)
        start();
    if (size == 0)
        return 0;
    size_t step = pieces[data[0] % 6];
    data++;
    size--;
    int fd = dial();
    static const char head[] = "POST /putMedia HTTP/1.1\r\nHost: x\r\n"
                               "x-amzn-stream-name: fuzz\r\n"
                               "x-amzn-fragment-timecode-type: ABSOLUTE\r\n"
                               "x-amzn-producer-start-timestamp: 1700000000.000\r\n"
                               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    send_all(fd, head, sizeof(head) - 1);
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        char line[32];
        int m = snprintf(line, sizeof(line), "%zx\r\n", n);
        send_all(fd, line, (size_t)m);
        send_all(fd, data + off, n);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    size_t len;
    char *resp = recv_all(fd, &len);
    close(fd);
    check_events(resp, len);
    free(resp);
    return 0;
}
