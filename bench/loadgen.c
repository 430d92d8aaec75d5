/* loadgen: the HTTP/1.1 load generator behind Sluice's benchmarks.
 *
 * It opens N keep-alive connections to one HTTP server and keeps requests in flight on them
 * until a duration or a request count is reached, then prints requests/s, records/s (Kinesis
 * loads), MB/s, latency percentiles, status-code counts and errors. It is what bench_http.sh
 * and the storage benchmarks drive; its own ceiling is measured in bench/README.md.
 *
 * How it works. Each of T threads owns an epoll instance and a share of the connections (no
 * locks on the hot path; the only shared word is the issued-request counter of --requests).
 * A connection keeps up to --pipeline requests in flight (HTTP/1.1 pipelining; 1 = classic
 * request/response), and --inflight caps the requests in flight over all connections. When a
 * response completes, its connection is refilled at once and everything queued is sent with a
 * single write. Responses are parsed in place: status line, Content-Length, chunked framing
 * (with trailers), close-delimited bodies, Connection: close, HTTP/1.0, 1xx interim responses.
 * A connection the server closes (or that times out) is reopened; what was in flight on it is
 * counted as lost (or timed out), never as done.
 *
 * Requests come from a template: method, URL, -H headers and a body (inline or from a file).
 * A template without signing or generators is rendered once and copied per request. With
 * --sign, every request gets a fresh X-Amz-Date and its own SigV4 signature (the signer is
 * sl_common's, the same code sluiced verifies with); the wall time spent signing is summed and
 * reported per request and as a share of the process's CPU, since signing is part of what a
 * real client pays. Body generators build Kinesis PutRecord / PutRecords JSON bodies with
 * random partition keys and base64 data (--kinesis-putrecord M, --kinesis-putrecords N,M);
 * PutRecords responses are read for FailedRecordCount so records/s counts accepted records.
 * --kinesis-getrecords LIMIT[,SHARDS] reads: each connection takes one shard, asks
 * GetShardIterator (TRIM_HORIZON) and then follows NextShardIterator with GetRecords, starting
 * over when a call returns no records; records/s counts the records returned (Data members of
 * the answers) and the payload their decoded bytes.
 *
 * Latency is measured from the moment a request is queued on its connection (just before the
 * write that carries it) to the read that completes its response, so with pipelining it
 * includes the wait behind earlier requests, as a client would see it. Values go into a
 * log-linear histogram (64 sub-buckets per power of two: under 1.6 % error), merged over
 * threads at the end. --warmup discards the first seconds.
 *
 * Bounds: --duration stops issuing and reporting at the deadline (requests still in flight
 * then are reported as "abandoned", not as errors); --requests stops issuing after that many
 * and ends when they are answered; each request also has a --timeout, and a run that makes no
 * progress for a --timeout ends itself. Without either bound the run lasts 10 s. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/sigv4.h"
#include "sluice/time.h"

#define MAX_HEADERS     64
#define READ_CHUNK      65536
#define MAX_HEAD_BYTES  65536
#define CAPTURE_MAX     (1u << 20)
#define CAPTURE_GET_MAX (24u << 20) /* GetRecords answers: up to 10 MiB of data, base64 */
#define SWEEP_NS        (100 * 1000000LL)
#define RETRY_NS        (100 * 1000000LL)
#define B64_POOL        16
#define NS_PER_S        1000000000LL
#define SAMPLE_EVERY    16 /* CPU cost of signing / generating is sampled on every 16th one */

/* ---- latency histogram: log-linear, 64 sub-buckets per power of two, values in ns ---- */

#define H_SUB_BITS 6
#define H_SUB      (1u << H_SUB_BITS)
#define H_BUCKETS  (H_SUB * 59)

typedef struct hist {
    uint64_t counts[H_BUCKETS];
    uint64_t total;
    uint64_t max_ns;
} hist;

static size_t hist_index(uint64_t v)
{
    if (v < 2 * H_SUB)
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - H_SUB_BITS;
    return (size_t)(shift + 1) * H_SUB + ((v >> shift) & (H_SUB - 1));
}

/* Highest value that lands in bucket i (what HdrHistogram reports as "equivalent"). */
static uint64_t hist_value(size_t i)
{
    if (i < 2 * H_SUB)
        return i;
    unsigned shift = (unsigned)(i / H_SUB) - 1;
    uint64_t sub = i % H_SUB;
    return ((H_SUB + sub + 1) << shift) - 1;
}

static void hist_add(hist *h, uint64_t v)
{
    h->counts[hist_index(v)]++;
    h->total++;
    if (v > h->max_ns)
        h->max_ns = v;
}

static void hist_merge(hist *into, const hist *from)
{
    for (size_t i = 0; i < H_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
}

static uint64_t hist_percentile(const hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    uint64_t want = (uint64_t)ceil(pct / 100.0 * (double)h->total);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < H_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            uint64_t v = hist_value(i);
            return v > h->max_ns ? h->max_ns : v;
        }
    }
    return h->max_ns;
}

/* ---- configuration ---- */

typedef enum { GEN_NONE = 0, GEN_PUTRECORD, GEN_PUTRECORDS, GEN_GETRECORDS } gen_kind;

typedef struct header {
    char *name;
    char *value;
} header;

typedef struct config {
    char host[256];
    char port[8];
    char host_header[300]; /* host[:port] as sent in Host */
    char *path;            /* path plus query, as sent */
    const char *method;
    int no_body_method; /* HEAD: responses carry no body */
    header headers[MAX_HEADERS];
    size_t n_headers;
    char *body; /* static body (owned); NULL with a generator */
    size_t body_len;
    int conns, pipeline, inflight, threads;
    double duration_s, warmup_s, timeout_s;
    uint64_t requests;
    int sign;
    const char *access_key, *secret_key, *session_token, *region, *service;
    gen_kind gen;
    int gen_records, gen_bytes;
    int get_limit, get_shards; /* --kinesis-getrecords LIMIT[,SHARDS] */
    const char *stream;
    int json;
    uint64_t seed;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char *prebuilt; /* whole request when nothing varies per request */
    size_t prebuilt_len;
} config;

/* ---- per-thread state ---- */

enum { E_CONNECT, E_READ, E_WRITE, E_PARSE, E_TIMEOUT, E_LOST, E_STALL, E_COUNT };
static const char *const err_names[E_COUNT] = {"connect", "read", "write", "parse",
                                               "timeout", "lost", "stall"};

typedef struct stats {
    uint64_t completed;
    uint64_t status[600]; /* [0] = out-of-range codes */
    uint64_t bytes_out, bytes_in;
    uint64_t records_ok, records_failed, records_unconfirmed;
    uint64_t payload_bytes; /* record data bytes (before base64) in 2xx answers */
    uint64_t errors[E_COUNT];
    uint64_t reconnects;
    hist h;
} stats;

typedef enum { C_IDLE = 0, C_CONNECTING, C_OPEN } conn_state;
typedef enum {
    P_HEAD = 0,
    P_BODY_LEN,
    P_BODY_EOF,
    P_CHUNK_SIZE,
    P_CHUNK_DATA,
    P_CHUNK_CRLF,
    P_TRAILER
} parse_state;

struct worker;

typedef struct conn {
    struct worker *w;
    int fd;
    uint32_t index, gen; /* epoll tag: events of an earlier socket of this conn are ignored */
    conn_state state;
    int want_out; /* EPOLLOUT registered */
    int64_t connect_ns;
    int64_t retry_at_ns;
    sl_buf out;
    size_t out_off;
    char *in;
    size_t in_len, in_cap;
    int64_t *sent_ns; /* ring of --pipeline send times, oldest at ring_head */
    int ring_head, inflight;
    parse_state ps;
    uint64_t remaining;
    int status;
    int close_after; /* the response being read ends the connection */
    int draining;    /* close_after seen: issue nothing more here */
    sl_buf capture;  /* response body, for PutRecords' FailedRecordCount */
    char *iter;      /* GetRecords: the next shard iterator (owned); NULL: ask for one */
    int iter_req;    /* GetRecords: the request in flight is GetShardIterator */
    uint32_t shard;  /* GetRecords: the shard this connection reads */
} conn;

typedef struct worker {
    const config *cfg;
    int id;
    int epfd;
    conn *conns;
    int n_conns;
    int inflight_cap; /* this thread's share of --inflight; 0 = none */
    int inflight;
    int exhausted; /* --requests all issued */
    int running;
    uint64_t rng;
    int64_t start_ns, warmup_end_ns, deadline_ns, end_ns, last_progress_ns, next_sweep_ns;
    int measuring;
    uint64_t abandoned;
    uint64_t answered_all; /* responses over the whole run, warm-up included */
    /* whole run, warm-up included: counts, and thread CPU time of the sampled calls */
    uint64_t signs, sign_samples, sign_cpu_ns, gens, gen_samples, gen_cpu_ns;
    stats st;
    sl_buf body; /* generated body */
    char *b64_pool[B64_POOL];
    size_t b64_len;
    sl_sigv4_result sig; /* reused for every signing */
    pthread_t thr;
} worker;

static atomic_uint_fast64_t g_issued;
static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

/* CPU time of the calling thread. A system call (not in the vDSO), hence the sampling; CPU
 * time rather than wall time so that preemption on a shared machine does not count. */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
    /* xorshift64*: fast and plenty for partition keys and payload bytes. */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- request rendering ---- */

static const char b64_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_tab[v >> 18];
        out[o++] = b64_tab[(v >> 12) & 63];
        out[o++] = b64_tab[(v >> 6) & 63];
        out[o++] = b64_tab[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        out[o++] = b64_tab[v >> 18];
        out[o++] = b64_tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static void append_pkey(worker *w, sl_buf *b)
{
    static const char hex[] = "0123456789abcdef";
    char k[16];
    uint64_t r = rng_next(&w->rng);
    for (int i = 0; i < 16; i++, r >>= 4)
        k[i] = hex[r & 15];
    sl_buf_append(b, k, sizeof(k));
}

static void append_data(worker *w, sl_buf *b)
{
    sl_buf_append(b, w->b64_pool[rng_next(&w->rng) % B64_POOL], w->b64_len);
}

/* Builds this request's Kinesis body into w->body. */
static void generate_body(worker *w, conn *c)
{
    const config *cfg = w->cfg;
    sl_buf *b = &w->body;
    int sample = ++w->gens % SAMPLE_EVERY == 0; /* not the first, cold call */
    int64_t t0 = sample ? thread_cpu_ns() : 0;
    sl_buf_reset(b);
    if (cfg->gen == GEN_GETRECORDS && c->iter) {
        sl_buf_printf(b, "{\"ShardIterator\":\"%s\",\"Limit\":%d}", c->iter, cfg->get_limit);
        goto done;
    }
    sl_buf_append_str(b, "{\"StreamName\":\"");
    sl_buf_append_str(b, cfg->stream);
    if (cfg->gen == GEN_GETRECORDS) {
        sl_buf_printf(b, "\",\"ShardId\":\"shardId-%012u\",\"ShardIteratorType\":\"TRIM_HORIZON\"}",
                      c->shard);
    } else if (cfg->gen == GEN_PUTRECORD) {
        sl_buf_append_str(b, "\",\"Data\":\"");
        append_data(w, b);
        sl_buf_append_str(b, "\",\"PartitionKey\":\"");
        append_pkey(w, b);
        sl_buf_append_str(b, "\"}");
    } else {
        sl_buf_append_str(b, "\",\"Records\":[");
        for (int i = 0; i < cfg->gen_records; i++) {
            sl_buf_append_str(b, i ? ",{\"Data\":\"" : "{\"Data\":\"");
            append_data(w, b);
            sl_buf_append_str(b, "\",\"PartitionKey\":\"");
            append_pkey(w, b);
            sl_buf_append_str(b, "\"}");
        }
        sl_buf_append_str(b, "]}");
    }
done:
    if (sample) {
        w->gen_cpu_ns += (uint64_t)(thread_cpu_ns() - t0);
        w->gen_samples++;
    }
}

/* Appends one whole request to c->out. Returns 0, or -1 when signing failed. */
static int render_request(worker *w, conn *c)
{
    const config *cfg = w->cfg;
    sl_buf *o = &c->out;
    if (cfg->prebuilt) {
        sl_buf_append(o, cfg->prebuilt, cfg->prebuilt_len);
        return 0;
    }
    const char *body = cfg->body;
    size_t body_len = cfg->body_len;
    if (cfg->gen != GEN_NONE) {
        generate_body(w, c);
        body = w->body.data;
        body_len = w->body.len;
    }
    sl_buf_printf(o, "%s %s HTTP/1.1\r\nHost: %s\r\n", cfg->method, cfg->path, cfg->host_header);
    for (size_t i = 0; i < cfg->n_headers; i++)
        sl_buf_printf(o, "%s: %s\r\n", cfg->headers[i].name, cfg->headers[i].value);
    const char *target = NULL; /* per request: GetRecords alternates two operations */
    if (cfg->gen == GEN_GETRECORDS) {
        c->iter_req = c->iter == NULL;
        target = c->iter_req ? "Kinesis_20131202.GetShardIterator" : "Kinesis_20131202.GetRecords";
        sl_buf_printf(o, "X-Amz-Target: %s\r\n", target);
    }
    if (cfg->sign) {
        int sample = ++w->signs % SAMPLE_EVERY == 0; /* not the first, cold call */
        int64_t t0 = sample ? thread_cpu_ns() : 0;
        sl_http_header hs[MAX_HEADERS + 2];
        size_t n = 0;
        hs[n++] =
            (sl_http_header){SL_SLICE_LIT("Host"), {cfg->host_header, strlen(cfg->host_header)}};
        for (size_t i = 0; i < cfg->n_headers; i++) {
            if (strcasecmp(cfg->headers[i].name, "user-agent") == 0)
                continue; /* SDKs leave it unsigned: proxies rewrite it */
            hs[n++] = (sl_http_header){{cfg->headers[i].name, strlen(cfg->headers[i].name)},
                                       {cfg->headers[i].value, strlen(cfg->headers[i].value)}};
        }
        if (target)
            hs[n++] = (sl_http_header){SL_SLICE_LIT("X-Amz-Target"), {target, strlen(target)}};
        const char *q = strchr(cfg->path, '?');
        size_t path_len = q ? (size_t)(q - cfg->path) : strlen(cfg->path);
        sl_sigv4_request req = {
            .method = {cfg->method, strlen(cfg->method)},
            .path = {cfg->path, path_len},
            .query = {q ? q + 1 : "", q ? strlen(q + 1) : 0},
            .headers = hs,
            .n_headers = n,
            .body = body,
            .body_len = body_len,
        };
        sl_sigv4_sign_opts opts = {
            .access_key = {cfg->access_key, strlen(cfg->access_key)},
            .secret_key = {cfg->secret_key, strlen(cfg->secret_key)},
            .region = {cfg->region, strlen(cfg->region)},
            .service = {cfg->service, strlen(cfg->service)},
            .time_s = sl_time_now_ns() / NS_PER_S, /* a fresh X-Amz-Date every request */
        };
        if (cfg->session_token)
            opts.session_token = (sl_slice){cfg->session_token, strlen(cfg->session_token)};
        if (sl_sigv4_sign(&req, &opts, &w->sig) != 0)
            return -1;
        for (size_t i = 0; i < w->sig.n_add; i++)
            sl_buf_printf(o, "%.*s: %.*s\r\n", (int)w->sig.add[i].name.len, w->sig.add[i].name.ptr,
                          (int)w->sig.add[i].value.len, w->sig.add[i].value.ptr);
        if (sample) {
            w->sign_cpu_ns += (uint64_t)(thread_cpu_ns() - t0);
            w->sign_samples++;
        }
    }
    if (body_len || strcmp(cfg->method, "POST") == 0 || strcmp(cfg->method, "PUT") == 0)
        sl_buf_printf(o, "Content-Length: %zu\r\n", body_len);
    sl_buf_append(o, "\r\n", 2);
    sl_buf_append(o, body, body_len);
    return 0;
}

/* ---- connections ---- */

static void conn_close(conn *c, int64_t now, int error_kind);
static void conn_flush(conn *c, int64_t now);

static void ep_set(conn *c, int want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0u),
                             .data.u64 = (uint64_t)c->index << 32 | c->gen};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = want_out;
}

static void conn_open(conn *c, int64_t now)
{
    worker *w = c->w;
    const config *cfg = w->cfg;
    c->retry_at_ns = 0;
    int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        goto fail;
    }
    c->gen++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                             .data.u64 = (uint64_t)c->index << 32 | c->gen};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        goto fail;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    c->want_out = 1;
    c->connect_ns = now;
    return;
fail:
    if (w->measuring)
        w->st.errors[E_CONNECT]++;
    c->retry_at_ns = now + RETRY_NS;
}

static int can_issue(worker *w, conn *c)
{
    const config *cfg = w->cfg;
    if (!w->running || w->exhausted || c->state != C_OPEN || c->draining)
        return 0;
    if (c->inflight >= cfg->pipeline)
        return 0;
    if (w->inflight_cap && w->inflight >= w->inflight_cap)
        return 0;
    if (cfg->requests) {
        if (atomic_fetch_add(&g_issued, 1) >= cfg->requests) {
            w->exhausted = 1;
            return 0;
        }
    }
    return 1;
}

/* Queues as many requests as c may carry and writes them. */
static void conn_fill(conn *c, int64_t now)
{
    worker *w = c->w;
    int queued = 0;
    while (can_issue(w, c)) {
        if (render_request(w, c) != 0) {
            fprintf(stderr, "loadgen: signing failed; stopping\n");
            w->running = 0;
            break;
        }
        int slot = (c->ring_head + c->inflight) % w->cfg->pipeline;
        c->sent_ns[slot] = now;
        c->inflight++;
        w->inflight++;
        queued = 1;
    }
    if (queued) {
        w->last_progress_ns = now;
        conn_flush(c, now);
    }
}

static void conn_flush(conn *c, int64_t now)
{
    worker *w = c->w;
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            if (w->measuring)
                w->st.bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out)
                ep_set(c, 1);
            return;
        }
        if (n < 0 && errno == EINTR)
            continue;
        conn_close(c, now, E_WRITE);
        return;
    }
    sl_buf_reset(&c->out);
    c->out_off = 0;
    if (c->want_out)
        ep_set(c, 0);
}

/* Closes c; whatever was in flight counts as error_kind (E_COUNT = nothing to count, a clean
 * close). Reopens it at once, or after RETRY_NS when connecting failed. */
static void conn_close(conn *c, int64_t now, int error_kind)
{
    worker *w = c->w;
    if (c->fd >= 0) {
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    if (w->measuring && error_kind < E_COUNT) {
        if (error_kind == E_CONNECT || c->inflight == 0)
            w->st.errors[error_kind]++;
        else
            w->st.errors[error_kind] += (uint64_t)c->inflight;
    }
    w->inflight -= c->inflight;
    c->fd = -1;
    c->state = C_IDLE;
    c->want_out = 0;
    c->inflight = 0;
    c->ring_head = 0;
    c->ps = P_HEAD;
    c->close_after = 0;
    c->draining = 0;
    c->in_len = 0;
    c->out_off = 0;
    sl_buf_reset(&c->out);
    sl_buf_reset(&c->capture);
    if (!w->running)
        return;
    if (w->measuring)
        w->st.reconnects++;
    if (error_kind == E_CONNECT)
        c->retry_at_ns = now + RETRY_NS; /* do not spin on a refused port */
    else
        conn_open(c, now);
}

/* ---- response parsing ---- */

static int header_has_token(const char *v, size_t n, const char *tok)
{
    size_t tl = strlen(tok);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, tok, tl) == 0)
            return 1;
    return 0;
}

/* Reads "FailedRecordCount":N out of a PutRecords answer; -1 when absent. */
static long failed_record_count(const sl_buf *b)
{
    if (!b->data)
        return -1;
    const char *p = strstr(b->data, "\"FailedRecordCount\"");
    if (!p)
        return -1;
    p += strlen("\"FailedRecordCount\"");
    while (*p == ' ' || *p == ':' || *p == '\t')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    return strtol(p, NULL, 10);
}

/* The string value of "name" in a JSON answer, as a new string (no escapes occur in shard
 * iterators); NULL when absent. */
static char *json_str_member(const sl_buf *b, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "\"%s\"", name);
    const char *p = b->data ? strstr(b->data, key) : NULL;
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == ':' || *p == '\t')
        p++;
    if (*p != '"')
        return NULL;
    const char *e = strchr(++p, '"');
    return e ? strndup(p, (size_t)(e - p)) : NULL;
}

/* GetRecords answer: counts the records and their data bytes (decoded from the base64 length),
 * and takes NextShardIterator; an empty batch (the end of the shard) or a missing iterator
 * starts the connection over at TRIM_HORIZON. */
static void getrecords_done(conn *c, int ok, uint64_t *records, uint64_t *bytes)
{
    *records = 0;
    *bytes = 0;
    if (!ok || c->iter_req) {
        free(c->iter);
        c->iter = ok ? json_str_member(&c->capture, "ShardIterator") : NULL;
        return;
    }
    for (const char *p = c->capture.data; p && (p = strstr(p, "\"Data\":\"")) != NULL;) {
        p += 8;
        const char *e = strchr(p, '"');
        if (!e)
            break;
        size_t n = (size_t)(e - p);
        *bytes += n / 4 * 3 - (n >= 1 && p[n - 1] == '=') - (n >= 2 && p[n - 2] == '=');
        (*records)++;
        p = e + 1;
    }
    free(c->iter);
    c->iter = *records ? json_str_member(&c->capture, "NextShardIterator") : NULL;
}

static void response_done(conn *c, int64_t now)
{
    worker *w = c->w;
    const config *cfg = w->cfg;
    int64_t sent = c->sent_ns[c->ring_head];
    c->ring_head = (c->ring_head + 1) % cfg->pipeline;
    c->inflight--;
    w->inflight--;
    w->last_progress_ns = now;
    w->answered_all++;
    uint64_t got_records = 0, got_bytes = 0;
    if (cfg->gen == GEN_GETRECORDS)
        getrecords_done(c, c->status >= 200 && c->status < 300, &got_records, &got_bytes);
    if (w->measuring && (w->deadline_ns == 0 || now <= w->deadline_ns)) {
        stats *st = &w->st;
        st->completed++;
        st->status[c->status > 0 && c->status < 600 ? c->status : 0]++;
        hist_add(&st->h, (uint64_t)(now - sent));
        int ok = c->status >= 200 && c->status < 300;
        if (cfg->gen == GEN_PUTRECORD && ok) {
            st->records_ok++;
            st->payload_bytes += (uint64_t)cfg->gen_bytes;
        } else if (cfg->gen == GEN_PUTRECORDS && ok) {
            long failed = failed_record_count(&c->capture);
            if (failed < 0 || failed > cfg->gen_records) {
                st->records_unconfirmed += (uint64_t)cfg->gen_records;
            } else {
                st->records_ok += (uint64_t)(cfg->gen_records - failed);
                st->records_failed += (uint64_t)failed;
                st->payload_bytes += (uint64_t)(cfg->gen_records - failed) * cfg->gen_bytes;
            }
        } else if (cfg->gen == GEN_GETRECORDS) {
            st->records_ok += got_records;
            st->payload_bytes += got_bytes;
        } else if (cfg->gen != GEN_NONE) {
            st->records_failed += (uint64_t)(cfg->gen == GEN_PUTRECORDS ? cfg->gen_records : 1);
        }
    }
    sl_buf_reset(&c->capture);
    c->ps = P_HEAD;
}

static void capture(conn *c, const char *p, size_t n)
{
    gen_kind g = c->w->cfg->gen;
    if ((g == GEN_PUTRECORDS && c->capture.len + n <= CAPTURE_MAX) ||
        (g == GEN_GETRECORDS && c->capture.len + n <= CAPTURE_GET_MAX))
        sl_buf_append(&c->capture, p, n);
}

/* Parses a response head in [p, p+n) (ending just before the blank line). 0 or -1. */
static int parse_head(conn *c, const char *p, size_t n)
{
    const config *cfg = c->w->cfg;
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || !isdigit((unsigned char)p[9]) ||
        !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
        return -1;
    int http10 = p[7] == '0';
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    int chunked = 0, has_len = 0, keep_alive = 0, close = 0;
    uint64_t len = 0;
    const char *line = memchr(p, '\n', n);
    const char *end = p + n;
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        const char *le = eol ? eol : end;
        size_t ll = (size_t)(le - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            size_t vl = ll - nl - 1;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            if (nl == 14 && strncasecmp(line, "content-length", 14) == 0) {
                char *e;
                char tmp[24];
                if (vl == 0 || vl >= sizeof(tmp))
                    return -1;
                memcpy(tmp, v, vl);
                tmp[vl] = '\0';
                unsigned long long x = strtoull(tmp, &e, 10);
                if (*e && *e != ' ' && *e != '\t')
                    return -1;
                len = x;
                has_len = 1;
            } else if (nl == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
                chunked = header_has_token(v, vl, "chunked");
            } else if (nl == 10 && strncasecmp(line, "connection", 10) == 0) {
                close = header_has_token(v, vl, "close");
                keep_alive = header_has_token(v, vl, "keep-alive");
            }
        }
        line = eol;
    }
    c->close_after = close || (http10 && !keep_alive);
    if (c->status >= 100 && c->status < 200 && c->status != 101) {
        c->ps = P_HEAD; /* interim; the real answer follows */
        c->close_after = 0;
        return 1;
    }
    if (cfg->no_body_method || c->status == 204 || c->status == 304) {
        c->remaining = 0;
        c->ps = P_BODY_LEN;
    } else if (chunked) {
        c->ps = P_CHUNK_SIZE;
    } else if (has_len) {
        c->remaining = len;
        c->ps = P_BODY_LEN;
    } else {
        c->ps = P_BODY_EOF;
        c->close_after = 1;
    }
    return 0;
}

/* Consumes what c->in holds. Returns 0, or the E_* kind to close the connection with
 * (E_COUNT: close cleanly, the server asked for it). */
static int conn_parse(conn *c, int64_t now)
{
    size_t pos = 0;
    int verdict = 0;
    while (pos < c->in_len || (c->ps == P_BODY_LEN && c->remaining == 0)) {
        const char *p = c->in + pos;
        size_t avail = c->in_len - pos;
        if (c->ps == P_HEAD) {
            if (c->inflight == 0) {
                verdict = E_PARSE; /* bytes nobody asked for */
                break;
            }
            const char *e = memmem(p, avail, "\r\n\r\n", 4);
            if (!e) {
                if (avail > MAX_HEAD_BYTES)
                    verdict = E_PARSE;
                break;
            }
            int r = parse_head(c, p, (size_t)(e - p));
            if (r < 0) {
                verdict = E_PARSE;
                break;
            }
            pos += (size_t)(e - p) + 4;
            continue;
        }
        if (c->ps == P_BODY_LEN || c->ps == P_CHUNK_DATA) {
            size_t n = avail < c->remaining ? avail : (size_t)c->remaining;
            capture(c, p, n);
            pos += n;
            c->remaining -= n;
            if (c->remaining)
                break;
            if (c->ps == P_CHUNK_DATA) {
                c->ps = P_CHUNK_CRLF;
                continue;
            }
            int closing = c->close_after;
            response_done(c, now);
            if (closing) {
                verdict = E_COUNT;
                break;
            }
            continue;
        }
        if (c->ps == P_BODY_EOF) {
            capture(c, p, avail);
            pos += avail;
            break;
        }
        if (c->ps == P_CHUNK_CRLF) {
            if (avail < 2)
                break;
            if (p[0] != '\r' || p[1] != '\n') {
                verdict = E_PARSE;
                break;
            }
            pos += 2;
            c->ps = P_CHUNK_SIZE;
            continue;
        }
        /* P_CHUNK_SIZE and P_TRAILER work line by line. */
        const char *nl = memchr(p, '\n', avail);
        if (!nl) {
            if (avail > 4096)
                verdict = E_PARSE;
            break;
        }
        size_t ll = (size_t)(nl - p);
        pos += ll + 1;
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (c->ps == P_TRAILER) {
            if (ll == 0) {
                int closing = c->close_after;
                response_done(c, now);
                if (closing) {
                    verdict = E_COUNT;
                    break;
                }
            }
            continue;
        }
        uint64_t size = 0;
        size_t i = 0;
        for (; i < ll && isxdigit((unsigned char)p[i]); i++) {
            if (size >> 60) {
                verdict = E_PARSE;
                break;
            }
            int d = isdigit((unsigned char)p[i]) ? p[i] - '0'
                                                 : (tolower((unsigned char)p[i]) - 'a' + 10);
            size = size * 16 + (uint64_t)d;
        }
        if (verdict)
            break;
        if (i == 0 || (i < ll && p[i] != ';' && p[i] != ' ' && p[i] != '\t')) {
            verdict = E_PARSE;
            break;
        }
        if (size == 0) {
            c->ps = P_TRAILER;
        } else {
            c->remaining = size;
            c->ps = P_CHUNK_DATA;
        }
    }
    if (pos >= c->in_len) {
        c->in_len = 0;
    } else if (pos) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    return verdict;
}

static void conn_readable(conn *c, int64_t now)
{
    worker *w = c->w;
    if (c->in_cap - c->in_len < READ_CHUNK / 4) {
        size_t cap = c->in_cap * 2;
        char *p = realloc(c->in, cap);
        if (!p) {
            conn_close(c, now, E_READ);
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        conn_close(c, now, E_READ);
        return;
    }
    if (n == 0) {
        /* The peer is done. A close-delimited body ends here; anything else in flight is lost. */
        if (c->ps == P_BODY_EOF && c->inflight > 0)
            response_done(c, now);
        conn_close(c, now, c->inflight ? E_LOST : E_COUNT);
        return;
    }
    if (w->measuring)
        w->st.bytes_in += (uint64_t)n;
    c->in_len += (size_t)n;
    int verdict = conn_parse(c, now);
    if (verdict == E_COUNT) {
        /* Asked to close: what was pipelined behind the last answer will not be served. */
        conn_close(c, now, c->inflight ? E_LOST : E_COUNT);
        return;
    }
    if (verdict) {
        conn_close(c, now, verdict);
        return;
    }
    if (c->close_after)
        c->draining = 1;
    conn_fill(c, now);
}

static void conn_writable(conn *c, int64_t now)
{
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0 || err != 0) {
            conn_close(c, now, E_CONNECT);
            return;
        }
        c->state = C_OPEN;
        c->w->last_progress_ns = now;
        ep_set(c, 0);
        conn_fill(c, now);
        return;
    }
    conn_flush(c, now);
}

/* ---- the worker loop ---- */

static void start_measuring(worker *w)
{
    memset(&w->st, 0, sizeof(w->st));
    w->measuring = 1;
}

static void sweep(worker *w, int64_t now)
{
    const config *cfg = w->cfg;
    int64_t timeout_ns = (int64_t)(cfg->timeout_s * NS_PER_S);
    for (int i = 0; i < w->n_conns; i++) {
        conn *c = &w->conns[i];
        if (c->state == C_IDLE) {
            if (w->running && c->retry_at_ns && now >= c->retry_at_ns)
                conn_open(c, now);
        } else if (c->state == C_CONNECTING) {
            if (now - c->connect_ns > timeout_ns)
                conn_close(c, now, E_CONNECT);
        } else if (c->inflight > 0 && now - c->sent_ns[c->ring_head] > timeout_ns) {
            conn_close(c, now, E_TIMEOUT);
        }
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    const config *cfg = w->cfg;
    struct epoll_event evs[256];
    int64_t now = sl_time_mono_ns();
    w->running = 1;
    w->last_progress_ns = now;
    w->next_sweep_ns = now + SWEEP_NS;
    if (cfg->warmup_s <= 0)
        start_measuring(w);
    for (int i = 0; i < w->n_conns; i++)
        conn_open(&w->conns[i], now);
    while (w->running) {
        int wait_ms = (int)((w->next_sweep_ns - now) / 1000000);
        if (w->deadline_ns && (w->deadline_ns - now) / 1000000 < wait_ms)
            wait_ms = (int)((w->deadline_ns - now) / 1000000);
        if (!w->measuring && (w->warmup_end_ns - now) / 1000000 < wait_ms)
            wait_ms = (int)((w->warmup_end_ns - now) / 1000000);
        if (wait_ms < 0)
            wait_ms = 0;
        int n = epoll_wait(w->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), wait_ms);
        now = sl_time_mono_ns();
        for (int i = 0; i < n; i++) {
            conn *c = &w->conns[evs[i].data.u64 >> 32];
            uint32_t e = evs[i].events;
            if (c->fd < 0 || c->gen != (uint32_t)evs[i].data.u64)
                continue; /* for a socket closed earlier in this batch */
            if (c->state == C_CONNECTING) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    conn_writable(c, now);
                continue;
            }
            if (c->state != C_OPEN)
                continue;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
                conn_readable(c, now);
            if (c->state == C_OPEN && (e & EPOLLOUT))
                conn_writable(c, now);
        }
        if (!w->measuring && now >= w->warmup_end_ns)
            start_measuring(w);
        if (g_interrupted)
            break;
        if (w->deadline_ns && now >= w->deadline_ns) {
            w->end_ns = w->deadline_ns;
            break;
        }
        if (w->exhausted && w->inflight == 0) {
            w->end_ns = now;
            break;
        }
        if (now >= w->next_sweep_ns) {
            sweep(w, now);
            w->next_sweep_ns = now + SWEEP_NS;
            if (now - w->last_progress_ns > (int64_t)(cfg->timeout_s * NS_PER_S)) {
                fprintf(stderr, "loadgen: thread %d made no progress for %.1f s; stopping\n", w->id,
                        cfg->timeout_s);
                if (w->measuring)
                    w->st.errors[E_STALL]++;
                break;
            }
        }
    }
    if (!w->end_ns)
        w->end_ns = now;
    w->running = 0;
    w->abandoned = (uint64_t)w->inflight;
    for (int i = 0; i < w->n_conns; i++) {
        conn *c = &w->conns[i];
        if (c->fd >= 0)
            close(c->fd);
        c->fd = -1;
    }
    return NULL;
}

/* ---- set-up ---- */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: loadgen [options] URL\n"
        "Load: \n"
        "  -c, --connections N     keep-alive connections (default 16)\n"
        "  -p, --pipeline K        requests in flight per connection (default 1)\n"
        "  -i, --inflight T        cap on requests in flight over all connections (default none)\n"
        "  -t, --threads T         threads sharing the connections (default 1)\n"
        "  -d, --duration S        measure for S seconds (default 10 unless --requests)\n"
        "  -n, --requests N        send N requests, then stop when they are answered\n"
        "  -w, --warmup S          run S seconds before measuring (default 0)\n"
        "      --timeout S         per-request and no-progress timeout (default 10)\n"
        "Request:\n"
        "  -X, --method M          HTTP method (default GET, POST with a body)\n"
        "  -H, --header 'N: V'     add a header (repeatable)\n"
        "  -b, --body TEXT         request body\n"
        "      --body-file FILE    request body from a file\n"
        "Signing (AWS SigV4, fresh X-Amz-Date per request):\n"
        "      --sign              sign every request\n"
        "      --access-key K      (default $AWS_ACCESS_KEY_ID)\n"
        "      --secret-key S      (default $AWS_SECRET_ACCESS_KEY)\n"
        "      --session-token T   (default $AWS_SESSION_TOKEN, if set)\n"
        "      --region R          (default us-east-1)\n"
        "      --service S         (default kinesis)\n"
        "Kinesis bodies (set method, target and content type):\n"
        "      --kinesis-putrecord M        PutRecord with M random bytes\n"
        "      --kinesis-putrecords N,M     PutRecords with N records of M random bytes\n"
        "      --kinesis-getrecords L[,S]   GetRecords with Limit L over S shards (default 4),\n"
        "                                   one shard per connection, from TRIM_HORIZON,\n"
        "                                   starting over at the end; needs -p 1\n"
        "      --stream NAME                target stream (default bench)\n"
        "Output:\n"
        "      --json              one JSON object on stdout instead of the table\n"
        "      --seed N            random seed (default: time)\n");
}

static int parse_url(config *cfg, const char *url)
{
    if (strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "loadgen: only http:// URLs are supported\n");
        return -1;
    }
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof(cfg->host_header)) {
        fprintf(stderr, "loadgen: bad URL host\n");
        return -1;
    }
    memcpy(cfg->host_header, h, hl);
    cfg->host_header[hl] = '\0';
    cfg->path = strdup(slash ? slash : "/");
    const char *hp = cfg->host_header;
    const char *colon;
    size_t name_len;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb)
            return -1;
        hp++;
        name_len = (size_t)(rb - hp);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = strrchr(hp, ':');
        name_len = colon ? (size_t)(colon - hp) : strlen(hp);
    }
    if (name_len >= sizeof(cfg->host))
        return -1;
    memcpy(cfg->host, hp, name_len);
    cfg->host[name_len] = '\0';
    snprintf(cfg->port, sizeof(cfg->port), "%s", colon ? colon + 1 : "80");
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(cfg->host, cfg->port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "loadgen: cannot resolve %s: %s\n", cfg->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int add_header(config *cfg, const char *name, const char *value)
{
    if (cfg->n_headers >= MAX_HEADERS - 4) {
        fprintf(stderr, "loadgen: too many headers\n");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_headers; i++) {
        if (strcasecmp(cfg->headers[i].name, name) == 0) {
            free(cfg->headers[i].value);
            cfg->headers[i].value = strdup(value);
            return 0;
        }
    }
    cfg->headers[cfg->n_headers].name = strdup(name);
    cfg->headers[cfg->n_headers].value = strdup(value);
    cfg->n_headers++;
    return 0;
}

static int add_header_line(config *cfg, const char *line)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line) {
        fprintf(stderr, "loadgen: header '%s' is not 'Name: value'\n", line);
        return -1;
    }
    char name[256];
    size_t nl = (size_t)(colon - line);
    if (nl >= sizeof(name))
        return -1;
    memcpy(name, line, nl);
    name[nl] = '\0';
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (strcasecmp(name, "host") == 0) {
        snprintf(cfg->host_header, sizeof(cfg->host_header), "%s", v);
        return 0;
    }
    if (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "authorization") == 0 ||
        strcasecmp(name, "x-amz-date") == 0) {
        fprintf(stderr, "loadgen: header %s is computed, not set\n", name);
        return -1;
    }
    return add_header(cfg, name, v);
}

static int read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "loadgen: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    sl_buf b = SL_BUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sl_buf_append(&b, tmp, n);
    int bad = ferror(f) || b.oom;
    fclose(f);
    if (bad) {
        sl_buf_cleanup(&b);
        return -1;
    }
    if (!b.data)
        sl_buf_append(&b, "", 0);
    *out = sl_buf_steal(&b, len);
    return 0;
}

static void prebuild(config *cfg)
{
    sl_buf b = SL_BUF_INIT;
    sl_buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", cfg->method, cfg->path, cfg->host_header);
    for (size_t i = 0; i < cfg->n_headers; i++)
        sl_buf_printf(&b, "%s: %s\r\n", cfg->headers[i].name, cfg->headers[i].value);
    if (cfg->body_len || strcmp(cfg->method, "POST") == 0 || strcmp(cfg->method, "PUT") == 0)
        sl_buf_printf(&b, "Content-Length: %zu\r\n", cfg->body_len);
    sl_buf_append(&b, "\r\n", 2);
    sl_buf_append(&b, cfg->body, cfg->body_len);
    cfg->prebuilt = sl_buf_steal(&b, &cfg->prebuilt_len);
}

/* ---- report ---- */

typedef struct report {
    stats st;
    double elapsed_s, cpu_s, cpu_user_s, cpu_sys_s, wall_s;
    uint64_t abandoned, answered_all;
    double sign_us, gen_us; /* mean CPU per call, from the samples */
    uint64_t signs, gens;
} report;

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* Share of the process's CPU time that n calls of us_each microseconds took. */
static double pct_of_cpu(const report *r, double us_each, uint64_t n)
{
    return r->cpu_s > 0 ? 100.0 * us_each * (double)n / 1e6 / r->cpu_s : 0.0;
}

static void print_json_str(const char *key, const char *v)
{
    printf("\"%s\":\"", key);
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    printf("\",");
}

static void print_json(const config *cfg, const report *r)
{
    const stats *st = &r->st;
    double secs = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;
    printf("{");
    print_json_str("url_host", cfg->host_header);
    print_json_str("path", cfg->path);
    print_json_str("method", cfg->method);
    printf("\"connections\":%d,\"pipeline\":%d,\"inflight\":%d,\"threads\":%d,"
           "\"elapsed_s\":%.3f,",
           cfg->conns, cfg->pipeline, cfg->inflight, cfg->threads, r->elapsed_s);
    printf("\"requests\":%" PRIu64 ",\"rps\":%.1f,\"records_ok\":%" PRIu64
           ",\"records_failed\":%" PRIu64 ",\"records_unconfirmed\":%" PRIu64
           ",\"records_per_s\":%.1f,",
           st->completed, (double)st->completed / secs, st->records_ok, st->records_failed,
           st->records_unconfirmed, (double)st->records_ok / secs);
    printf("\"mb_out_per_s\":%.3f,\"mb_in_per_s\":%.3f,\"payload_mb_per_s\":%.3f,",
           (double)st->bytes_out / secs / 1e6, (double)st->bytes_in / secs / 1e6,
           (double)st->payload_bytes / secs / 1e6);
    printf("\"latency_ms\":{\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f},",
           ms(hist_percentile(&st->h, 50)), ms(hist_percentile(&st->h, 90)),
           ms(hist_percentile(&st->h, 99)), ms(hist_percentile(&st->h, 99.9)), ms(st->h.max_ns));
    printf("\"status\":{");
    int first = 1;
    for (int s = 0; s < 600; s++) {
        if (!st->status[s])
            continue;
        printf("%s\"%d\":%" PRIu64, first ? "" : ",", s, st->status[s]);
        first = 0;
    }
    printf("},\"errors\":{");
    for (int e = 0; e < E_COUNT; e++)
        printf("%s\"%s\":%" PRIu64, e ? "," : "", err_names[e], st->errors[e]);
    uint64_t errs = 0;
    for (int e = 0; e < E_COUNT; e++)
        errs += st->errors[e];
    printf("},\"errors_total\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"abandoned\":%" PRIu64
           ",\"answered_all\":%" PRIu64 ",\"warmup_s\":%.3f,\"wall_s\":%.3f,",
           errs, st->reconnects, r->abandoned, r->answered_all, cfg->warmup_s, r->wall_s);
    printf("\"cpu_s\":%.3f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_pct_of_core\":%.1f,",
           r->cpu_s, r->cpu_user_s, r->cpu_sys_s, 100.0 * r->cpu_s / r->wall_s);
    printf("\"sign_us_per_req\":%.3f,\"sign_pct_of_cpu\":%.1f,\"gen_us_per_req\":%.3f,"
           "\"gen_pct_of_cpu\":%.1f}\n",
           r->sign_us, pct_of_cpu(r, r->sign_us, r->signs), r->gen_us,
           pct_of_cpu(r, r->gen_us, r->gens));
}

static void print_table(const config *cfg, const report *r)
{
    const stats *st = &r->st;
    double secs = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;
    uint64_t ok = 0, other = 0, errs = 0;
    for (int s = 0; s < 600; s++)
        *(s >= 200 && s < 300 ? &ok : &other) += st->status[s];
    for (int e = 0; e < E_COUNT; e++)
        errs += st->errors[e];
    printf("target     %s http://%s%s  connections %d  pipeline %d  inflight %s%d  threads %d\n",
           cfg->method, cfg->host_header, cfg->path, cfg->conns, cfg->pipeline,
           cfg->inflight ? "" : "(no cap) ", cfg->inflight, cfg->threads);
    printf("elapsed    %.3f s measured%s\n", r->elapsed_s,
           cfg->warmup_s > 0 ? " (after warm-up)" : "");
    printf("requests   %" PRIu64 " answered (%" PRIu64 " 2xx, %" PRIu64 " other), %" PRIu64
           " errors, %" PRIu64 " abandoned at end\n",
           st->completed, ok, other, errs, r->abandoned);
    printf("rate       %.0f req/s\n", (double)st->completed / secs);
    if (cfg->gen != GEN_NONE)
        printf("records    %.0f records/s accepted (%" PRIu64 " ok, %" PRIu64 " failed, %" PRIu64
               " unconfirmed); payload %.2f MB/s\n",
               (double)st->records_ok / secs, st->records_ok, st->records_failed,
               st->records_unconfirmed, (double)st->payload_bytes / secs / 1e6);
    printf("transfer   out %.2f MB/s  in %.2f MB/s\n", (double)st->bytes_out / secs / 1e6,
           (double)st->bytes_in / secs / 1e6);
    printf("latency    p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms\n",
           ms(hist_percentile(&st->h, 50)), ms(hist_percentile(&st->h, 90)),
           ms(hist_percentile(&st->h, 99)), ms(hist_percentile(&st->h, 99.9)), ms(st->h.max_ns));
    printf("status    ");
    for (int s = 0; s < 600; s++)
        if (st->status[s])
            printf(" %d:%" PRIu64, s, st->status[s]);
    printf("\nerrors    ");
    for (int e = 0; e < E_COUNT; e++)
        printf(" %s %" PRIu64, err_names[e], st->errors[e]);
    printf("  (reconnects %" PRIu64 ")\n", st->reconnects);
    printf("client cpu %.0f%% of one core (user %.2f s, sys %.2f s over %.2f s)\n",
           100.0 * r->cpu_s / r->wall_s, r->cpu_user_s, r->cpu_sys_s, r->wall_s);
    if (r->signs)
        printf("signing    %.2f us CPU/request, %.1f%% of client CPU\n", r->sign_us,
               pct_of_cpu(r, r->sign_us, r->signs));
    if (r->gens)
        printf("body gen   %.2f us CPU/request, %.1f%% of client CPU\n", r->gen_us,
               pct_of_cpu(r, r->gen_us, r->gens));
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int parse_pos_int(const char *s, const char *what, int *out)
{
    char *e;
    long v = strtol(s, &e, 10);
    if (*e || v <= 0 || v > 1000000) {
        fprintf(stderr, "loadgen: %s wants a positive number, got '%s'\n", what, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_seconds(const char *s, const char *what, double *out)
{
    char *e;
    double v = strtod(s, &e);
    if (*e || !(v >= 0) || v > 86400) {
        fprintf(stderr, "loadgen: %s wants seconds, got '%s'\n", what, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        O_BODY_FILE = 256,
        O_TIMEOUT,
        O_SIGN,
        O_AK,
        O_SK,
        O_TOKEN,
        O_REGION,
        O_SERVICE,
        O_PR,
        O_PRS,
        O_GRS,
        O_STREAM,
        O_JSON,
        O_SEED,
        O_HELP
    };
    static const struct option opts[] = {
        {"connections", required_argument, NULL, 'c'},
        {"pipeline", required_argument, NULL, 'p'},
        {"inflight", required_argument, NULL, 'i'},
        {"threads", required_argument, NULL, 't'},
        {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},
        {"warmup", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"method", required_argument, NULL, 'X'},
        {"header", required_argument, NULL, 'H'},
        {"body", required_argument, NULL, 'b'},
        {"body-file", required_argument, NULL, O_BODY_FILE},
        {"sign", no_argument, NULL, O_SIGN},
        {"access-key", required_argument, NULL, O_AK},
        {"secret-key", required_argument, NULL, O_SK},
        {"session-token", required_argument, NULL, O_TOKEN},
        {"region", required_argument, NULL, O_REGION},
        {"service", required_argument, NULL, O_SERVICE},
        {"kinesis-putrecord", required_argument, NULL, O_PR},
        {"kinesis-putrecords", required_argument, NULL, O_PRS},
        {"kinesis-getrecords", required_argument, NULL, O_GRS},
        {"stream", required_argument, NULL, O_STREAM},
        {"json", no_argument, NULL, O_JSON},
        {"seed", required_argument, NULL, O_SEED},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    static config cfg_storage;
    config *cfg = &cfg_storage;
    cfg->conns = 16;
    cfg->pipeline = 1;
    cfg->threads = 1;
    cfg->timeout_s = 10;
    cfg->region = "us-east-1";
    cfg->service = "kinesis";
    cfg->stream = "bench";
    cfg->access_key = getenv("AWS_ACCESS_KEY_ID");
    cfg->secret_key = getenv("AWS_SECRET_ACCESS_KEY");
    cfg->session_token = getenv("AWS_SESSION_TOKEN");
    if (cfg->session_token && !*cfg->session_token)
        cfg->session_token = NULL;
    cfg->seed = (uint64_t)sl_time_now_ns() ^ ((uint64_t)getpid() << 32);
    int have_duration = 0, rc = 1, c;
    const char *method = NULL;
    worker *workers = NULL;
    char **header_lines = calloc((size_t)argc + 1, sizeof(char *));
    size_t n_header_lines = 0;
    if (!header_lines)
        return 1;

    while ((c = getopt_long(argc, argv, "c:p:i:t:d:n:w:X:H:b:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_pos_int(optarg, "--connections", &cfg->conns))
                goto out;
            break;
        case 'p':
            if (parse_pos_int(optarg, "--pipeline", &cfg->pipeline))
                goto out;
            break;
        case 'i':
            if (parse_pos_int(optarg, "--inflight", &cfg->inflight))
                goto out;
            break;
        case 't':
            if (parse_pos_int(optarg, "--threads", &cfg->threads))
                goto out;
            break;
        case 'd':
            if (parse_seconds(optarg, "--duration", &cfg->duration_s))
                goto out;
            have_duration = cfg->duration_s > 0;
            break;
        case 'n': {
            char *e;
            unsigned long long v = strtoull(optarg, &e, 10);
            if (*e || v == 0) {
                fprintf(stderr, "loadgen: --requests wants a positive number\n");
                goto out;
            }
            cfg->requests = v;
            break;
        }
        case 'w':
            if (parse_seconds(optarg, "--warmup", &cfg->warmup_s))
                goto out;
            break;
        case O_TIMEOUT:
            if (parse_seconds(optarg, "--timeout", &cfg->timeout_s) || cfg->timeout_s <= 0)
                goto out;
            break;
        case 'X':
            method = optarg;
            break;
        case 'H':
            header_lines[n_header_lines++] = optarg;
            break;
        case 'b':
            free(cfg->body);
            cfg->body = strdup(optarg);
            cfg->body_len = strlen(optarg);
            break;
        case O_BODY_FILE:
            free(cfg->body);
            cfg->body = NULL;
            if (read_file(optarg, &cfg->body, &cfg->body_len))
                goto out;
            break;
        case O_SIGN:
            cfg->sign = 1;
            break;
        case O_AK:
            cfg->access_key = optarg;
            break;
        case O_SK:
            cfg->secret_key = optarg;
            break;
        case O_TOKEN:
            cfg->session_token = optarg;
            break;
        case O_REGION:
            cfg->region = optarg;
            break;
        case O_SERVICE:
            cfg->service = optarg;
            break;
        case O_PR:
            cfg->gen = GEN_PUTRECORD;
            cfg->gen_records = 1;
            if (parse_pos_int(optarg, "--kinesis-putrecord", &cfg->gen_bytes))
                goto out;
            break;
        case O_PRS:
            cfg->gen = GEN_PUTRECORDS;
            if (sscanf(optarg, "%d,%d", &cfg->gen_records, &cfg->gen_bytes) != 2 ||
                cfg->gen_records <= 0 || cfg->gen_records > 100000 || cfg->gen_bytes <= 0 ||
                cfg->gen_bytes > 1 << 24) {
                fprintf(stderr, "loadgen: --kinesis-putrecords wants N,M (records, bytes)\n");
                goto out;
            }
            break;
        case O_GRS:
            cfg->gen = GEN_GETRECORDS;
            cfg->get_shards = 4;
            if (sscanf(optarg, "%d,%d", &cfg->get_limit, &cfg->get_shards) < 1 ||
                cfg->get_limit <= 0 || cfg->get_limit > 10000 || cfg->get_shards <= 0) {
                fprintf(stderr, "loadgen: --kinesis-getrecords wants LIMIT[,SHARDS]\n");
                goto out;
            }
            break;
        case O_STREAM:
            cfg->stream = optarg;
            break;
        case O_JSON:
            cfg->json = 1;
            break;
        case O_SEED:
            cfg->seed = strtoull(optarg, NULL, 0);
            break;
        case O_HELP:
            usage(stdout);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            rc = 2;
            goto out;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        rc = 2;
        goto out;
    }
    if (parse_url(cfg, argv[optind]))
        goto out;
    if (cfg->gen != GEN_NONE) {
        if (cfg->body) {
            fprintf(stderr, "loadgen: a Kinesis generator and --body exclude each other\n");
            goto out;
        }
        add_header(cfg, "Content-Type", "application/x-amz-json-1.1");
        if (cfg->gen != GEN_GETRECORDS) /* GetRecords: set per request */
            add_header(cfg, "X-Amz-Target",
                       cfg->gen == GEN_PUTRECORD ? "Kinesis_20131202.PutRecord"
                                                 : "Kinesis_20131202.PutRecords");
        if (!method)
            method = "POST";
        if (cfg->gen == GEN_GETRECORDS && cfg->pipeline != 1) {
            fprintf(stderr, "loadgen: --kinesis-getrecords needs -p 1 (each call waits for the "
                            "iterator the previous one returns)\n");
            goto out;
        }
    }
    for (size_t i = 0; i < n_header_lines; i++)
        if (add_header_line(cfg, header_lines[i]))
            goto out;
    if (!method)
        method = cfg->body ? "POST" : "GET";
    cfg->method = method;
    cfg->no_body_method = strcmp(method, "HEAD") == 0;
    if (cfg->sign && (!cfg->access_key || !cfg->secret_key)) {
        fprintf(stderr, "loadgen: --sign needs --access-key and --secret-key (or AWS_ACCESS_KEY_ID"
                        " / AWS_SECRET_ACCESS_KEY)\n");
        goto out;
    }
    if (!have_duration && !cfg->requests)
        cfg->duration_s = 10;
    if (cfg->threads > cfg->conns)
        cfg->threads = cfg->conns;
    if (cfg->inflight && cfg->inflight < cfg->threads)
        cfg->threads = cfg->inflight;
    if (!cfg->sign && cfg->gen == GEN_NONE)
        prebuild(cfg);

    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max; /* room for many connections */
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);

    workers = calloc((size_t)cfg->threads, sizeof(*workers));
    if (!workers)
        goto out;
    int64_t start = sl_time_mono_ns();
    int64_t warm_end = start + (int64_t)(cfg->warmup_s * NS_PER_S);
    int64_t deadline = cfg->duration_s > 0 ? warm_end + (int64_t)(cfg->duration_s * NS_PER_S) : 0;
    for (int t = 0, conn_base = 0; t < cfg->threads; t++) {
        worker *w = &workers[t];
        w->cfg = cfg;
        w->id = t;
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->n_conns = cfg->conns / cfg->threads + (t < cfg->conns % cfg->threads);
        w->conns = calloc((size_t)w->n_conns, sizeof(conn));
        conn_base += t ? workers[t - 1].n_conns : 0;
        if (cfg->inflight)
            w->inflight_cap = cfg->inflight / cfg->threads + (t < cfg->inflight % cfg->threads);
        w->rng = cfg->seed + 0x9E3779B97F4A7C15ULL * (uint64_t)(t + 1);
        if (!w->rng)
            w->rng = 1;
        w->start_ns = start;
        w->warmup_end_ns = warm_end;
        w->deadline_ns = deadline;
        sl_sigv4_result_init(&w->sig);
        if (w->epfd < 0 || !w->conns)
            goto out;
        for (int i = 0; i < w->n_conns; i++) {
            conn *cn = &w->conns[i];
            cn->w = w;
            cn->fd = -1;
            cn->index = (uint32_t)i;
            cn->shard = cfg->get_shards ? (uint32_t)(conn_base + i) % (uint32_t)cfg->get_shards : 0;
            cn->in_cap = READ_CHUNK;
            cn->in = malloc(cn->in_cap);
            cn->sent_ns = calloc((size_t)cfg->pipeline, sizeof(int64_t));
            if (!cn->in || !cn->sent_ns)
                goto out;
        }
        if (cfg->gen == GEN_PUTRECORD || cfg->gen == GEN_PUTRECORDS) {
            uint8_t *raw = malloc((size_t)cfg->gen_bytes);
            if (!raw)
                goto out;
            for (int k = 0; k < B64_POOL; k++) {
                for (int j = 0; j < cfg->gen_bytes; j++)
                    raw[j] = (uint8_t)rng_next(&w->rng);
                w->b64_pool[k] = malloc(((size_t)cfg->gen_bytes + 2) / 3 * 4 + 1);
                if (!w->b64_pool[k]) {
                    free(raw);
                    goto out;
                }
                w->b64_len = b64_encode(raw, (size_t)cfg->gen_bytes, w->b64_pool[k]);
            }
            free(raw);
        }
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t wall0 = sl_time_mono_ns();
    int started = 0;
    for (int t = 0; t < cfg->threads; t++) {
        if (pthread_create(&workers[t].thr, NULL, worker_main, &workers[t]) != 0)
            break;
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(workers[t].thr, NULL);
    int64_t wall1 = sl_time_mono_ns();
    getrusage(RUSAGE_SELF, &ru1);
    if (started != cfg->threads) {
        fprintf(stderr, "loadgen: cannot start threads\n");
        goto out;
    }

    static report r;
    int64_t end = 0;
    uint64_t sign_cpu = 0, sign_samples = 0, gen_cpu = 0, gen_samples = 0;
    for (int t = 0; t < cfg->threads; t++) {
        worker *w = &workers[t];
        stats *s = &w->st;
        r.st.completed += s->completed;
        for (int k = 0; k < 600; k++)
            r.st.status[k] += s->status[k];
        r.st.bytes_out += s->bytes_out;
        r.st.bytes_in += s->bytes_in;
        r.st.records_ok += s->records_ok;
        r.st.records_failed += s->records_failed;
        r.st.records_unconfirmed += s->records_unconfirmed;
        r.st.payload_bytes += s->payload_bytes;
        for (int e = 0; e < E_COUNT; e++)
            r.st.errors[e] += s->errors[e];
        r.st.reconnects += s->reconnects;
        hist_merge(&r.st.h, &s->h);
        r.abandoned += w->abandoned;
        r.answered_all += w->answered_all;
        r.signs += w->signs;
        r.gens += w->gens;
        sign_cpu += w->sign_cpu_ns;
        sign_samples += w->sign_samples;
        gen_cpu += w->gen_cpu_ns;
        gen_samples += w->gen_samples;
        if (w->end_ns > end)
            end = w->end_ns;
    }
    r.sign_us = sign_samples ? (double)sign_cpu / (double)sign_samples / 1e3 : 0;
    r.gen_us = gen_samples ? (double)gen_cpu / (double)gen_samples / 1e3 : 0;
    r.elapsed_s = end > warm_end ? (double)(end - warm_end) / 1e9 : 0;
    r.cpu_user_s = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    r.cpu_sys_s = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    r.cpu_s = r.cpu_user_s + r.cpu_sys_s;
    r.wall_s = (double)(wall1 - wall0) / 1e9;
    if (cfg->json)
        print_json(cfg, &r);
    else
        print_table(cfg, &r);
    rc = (r.st.completed == 0 || g_interrupted) ? 1 : 0;

out:
    if (workers) {
        for (int t = 0; t < cfg->threads; t++) {
            worker *w = &workers[t];
            if (w->epfd > 0)
                close(w->epfd);
            for (int i = 0; w->conns && i < w->n_conns; i++) {
                sl_buf_cleanup(&w->conns[i].out);
                sl_buf_cleanup(&w->conns[i].capture);
                free(w->conns[i].in);
                free(w->conns[i].sent_ns);
                free(w->conns[i].iter);
            }
            free(w->conns);
            sl_buf_cleanup(&w->body);
            sl_sigv4_result_cleanup(&w->sig);
            for (int k = 0; k < B64_POOL; k++)
                free(w->b64_pool[k]);
        }
        free(workers);
    }
    for (size_t i = 0; i < cfg->n_headers; i++) {
        free(cfg->headers[i].name);
        free(cfg->headers[i].value);
    }
    free(cfg->body);
    free(cfg->prebuilt);
    free(cfg->path);
    free(header_lines);
    return rc;
}
