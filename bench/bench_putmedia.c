/* bench_putmedia: a Kinesis Video PutMedia load generator.
 *
 * Replays a producer-style MKV file (EBML header, then unknown-size Clusters whose Timecode is
 * E7 88 + 8 bytes, as the AWS producer writes them; e.g. shared/captures/kvssink-putmedia.mkv)
 * over N concurrent PutMedia sessions against a sluiced started with --auth none, each session
 * paced at --rate-bps (or unpaced with --full-speed). Each session sends the file's header once,
 * then the clusters in a loop, rewriting every cluster Timecode so they keep increasing (one
 * endless camera). The ACK stream of every session is parsed as it arrives.
 *
 * Measured:
 *   - PERSISTED latency: from the moment the first byte of the NEXT cluster was handed to the
 *     kernel (that is when the server can know the fragment is complete) to the arrival of the
 *     fragment's PERSISTED event; p50 / p99 / max over all fragments after a 2 s warm-up;
 *   - on time: fragments whose PERSISTED arrived within --on-time-ms (default 1000) of
 *     completion, and fragments still unacknowledged at the end;
 *   - throughput: payload MB/s sent, and pace lag (how far the sender fell behind schedule);
 *   - server CPU (with --pid): utime+stime of sluiced over the run, per stream.
 * Streams bench-0..N-1 are created first (CreateStream, retention 1 h; "already in use" is fine).
 *
 * Usage: bench_putmedia --port P --file F [--streams N] [--rate-bps B | --full-speed]
 *                       [--seconds S] [--pid PID] [--on-time-ms MS]
 * Single thread, epoll, non-blocking sockets. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PIECE      16384
#define MAX_INFLT  64 /* fragments awaiting PERSISTED per session (ring) */
#define WARMUP_SEC 2.0

typedef struct pend {
    uint64_t tc;
    double complete_at; /* 0 until the next cluster's first byte was sent */
    double started_at;
} pend;

typedef struct sess {
    int fd, id;
    uint64_t sent;  /* body bytes sent (excluding chunk framing) */
    size_t pos;     /* position in the current piece source */
    int in_header;  /* still sending the header */
    size_t cluster; /* index of the cluster being sent */
    uint64_t loop;  /* how many times the clusters were replayed */
    uint8_t *cur;   /* current cluster with rewritten timecode */
    size_t cur_len;
    char out[PIECE + 32];
    size_t out_len, out_off;
    char in[65536];
    size_t in_len;
    int head_done;
    pend ring[MAX_INFLT];
    size_t ring_head, ring_n;
    uint64_t errors;
} sess;

static struct {
    uint8_t *file;
    size_t file_len, header_len;
    size_t *coff; /* cluster offsets; coff[nclusters] = end of the last replayed cluster */
    size_t nclusters;
    uint64_t span_tc;
    int port;
    double t0, rate_Bps;
    int full_speed;
    double *lat;
    size_t nlat, cap_lat;
    uint64_t late, persisted, sent_bytes;
    double on_time_ms;
    double max_lag;
    int ep;
} g;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void create_stream(int i)
{
    char body[128], req[512], resp[1024];
    int bl =
        snprintf(body, sizeof(body), "{\"StreamName\":\"bench-%d\",\"DataRetentionInHours\":1}", i);
    int n = snprintf(req, sizeof(req),
                     "POST /createStream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
                     bl, body);
    int fd = dial();
    if (write(fd, req, (size_t)n) != n)
        exit(1);
    ssize_t r = read(fd, resp, sizeof(resp) - 1);
    close(fd);
    if (r < 12 || (strncmp(resp, "HTTP/1.1 200", 12) != 0 && !strstr(resp, "ResourceInUse"))) {
        fprintf(stderr, "CreateStream bench-%d failed\n", i);
        exit(1);
    }
}

static void load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    g.file_len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    g.file = malloc(g.file_len);
    if (!g.file || fread(g.file, 1, g.file_len, f) != g.file_len)
        exit(1);
    fclose(f);
    g.coff = calloc(g.file_len / 4 + 2, sizeof(size_t));
    static const uint8_t id[] = {0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xE7, 0x88};
    for (size_t i = 0; i + 15 <= g.file_len; i++) {
        if (memcmp(g.file + i, id, sizeof(id)) == 0)
            g.coff[g.nclusters++] = i;
    }
    if (g.nclusters < 3) {
        fprintf(stderr, "%s: fewer than 3 producer-style clusters\n", path);
        exit(1);
    }
    /* replay clusters 0..n-2 (the last one carries the producer's end-of-fragment tag) */
    g.header_len = g.coff[0];
    g.nclusters--;
    uint64_t first = 0, last = 0;
    for (int k = 0; k < 8; k++) {
        first = first << 8 | g.file[g.coff[0] + 7 + (size_t)k];
        last = last << 8 | g.file[g.coff[g.nclusters] + 7 + (size_t)k];
    }
    g.span_tc = last - first;
}

static uint64_t cluster_tc(size_t c)
{
    uint64_t tc = 0;
    for (int k = 0; k < 8; k++)
        tc = tc << 8 | g.file[g.coff[c] + 7 + (size_t)k];
    return tc;
}

static void next_cluster(sess *s)
{
    size_t c = s->cluster;
    s->cur = g.file + g.coff[c];
    s->cur_len = g.coff[c + 1] - g.coff[c];
    s->pos = 0;
}

static void lat_add(double ms)
{
    if (g.nlat == g.cap_lat) {
        g.cap_lat = g.cap_lat ? g.cap_lat * 2 : 4096;
        g.lat = realloc(g.lat, g.cap_lat * sizeof(double));
    }
    g.lat[g.nlat++] = ms;
}

/* Fills s->out with the next chunk (framing + up to `budget` payload bytes). */
static void fill(sess *s, size_t budget)
{
    const uint8_t *src;
    size_t avail;
    uint8_t tcbuf[8];
    if (s->in_header) {
        src = g.file + s->pos;
        avail = g.header_len - s->pos;
    } else {
        src = s->cur + s->pos;
        avail = s->cur_len - s->pos;
    }
    size_t n = avail < budget ? avail : budget;
    if (n > PIECE)
        n = PIECE;
    int h = snprintf(s->out, sizeof(s->out), "%zx\r\n", n);
    memcpy(s->out + h, src, n);
    if (!s->in_header && s->pos < 15 && s->pos + n > 7) {
        /* rewrite the timecode bytes (offsets 7..14 of the cluster) */
        uint64_t tc = cluster_tc(s->cluster) + s->loop * g.span_tc;
        for (int k = 0; k < 8; k++)
            tcbuf[k] = (uint8_t)(tc >> (56 - 8 * k));
        for (size_t k = 7; k < 15; k++) {
            if (k >= s->pos && k < s->pos + n)
                s->out[(size_t)h + (k - s->pos)] = (char)tcbuf[k - 7];
        }
    }
    memcpy(s->out + h + n, "\r\n", 2);
    s->out_len = (size_t)h + n + 2;
    s->out_off = 0;
    double t = now_s();
    if (!s->in_header && s->pos == 0) {
        /* first byte of a cluster: the previous fragment is complete now */
        if (s->ring_n) {
            pend *p = &s->ring[(s->ring_head + s->ring_n - 1) % MAX_INFLT];
            if (p->complete_at == 0)
                p->complete_at = t;
        }
        if (s->ring_n < MAX_INFLT) {
            pend *p = &s->ring[(s->ring_head + s->ring_n) % MAX_INFLT];
            p->tc = cluster_tc(s->cluster) + s->loop * g.span_tc;
            p->complete_at = 0;
            p->started_at = t;
            s->ring_n++;
        }
    }
    s->pos += n;
    s->sent += n;
    g.sent_bytes += n;
    if (s->in_header && s->pos == g.header_len) {
        s->in_header = 0;
        next_cluster(s);
    } else if (!s->in_header && s->pos == s->cur_len) {
        if (++s->cluster == g.nclusters) {
            s->cluster = 0;
            s->loop++;
        }
        next_cluster(s);
    }
}

static void on_event(sess *s, const char *ev, size_t n)
{
    double t = now_s();
    if (memmem(ev, n, "\"ERROR\"", 7)) {
        s->errors++;
        fprintf(stderr, "session %d: %.*s", s->id, (int)n, ev);
        return;
    }
    if (!memmem(ev, n, "\"PERSISTED\"", 11))
        return;
    const char *p = memmem(ev, n, "\"FragmentTimecode\":", 19);
    if (!p)
        return;
    uint64_t tc = strtoull(p + 19, NULL, 10);
    while (s->ring_n) {
        pend *q = &s->ring[s->ring_head];
        if (q->tc > tc)
            break;
        s->ring_head = (s->ring_head + 1) % MAX_INFLT;
        s->ring_n--;
        if (q->tc != tc)
            continue;
        g.persisted++;
        if (q->complete_at > 0 && q->started_at - g.t0 > WARMUP_SEC) {
            double ms = (t - q->complete_at) * 1000.0;
            lat_add(ms);
            if (ms > g.on_time_ms)
                g.late++;
        }
        break;
    }
}

static void on_readable(sess *s)
{
    for (;;) {
        ssize_t r = read(s->fd, s->in + s->in_len, sizeof(s->in) - s->in_len);
        if (r <= 0) {
            if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                fprintf(stderr, "session %d: connection closed\n", s->id);
                s->errors++;
                epoll_ctl(g.ep, EPOLL_CTL_DEL, s->fd, NULL);
            }
            return;
        }
        s->in_len += (size_t)r;
        size_t off = 0;
        if (!s->head_done) {
            char *e = memmem(s->in, s->in_len, "\r\n\r\n", 4);
            if (!e)
                continue;
            if (strncmp(s->in, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "session %d: %.*s\n", s->id, 40, s->in);
                exit(1);
            }
            s->head_done = 1;
            off = (size_t)(e + 4 - s->in);
        }
        for (;;) {
            char *e = memmem(s->in + off, s->in_len - off, "\r\n", 2);
            if (!e)
                break;
            size_t sz = strtoul(s->in + off, NULL, 16);
            size_t body = (size_t)(e + 2 - s->in);
            if (body + sz + 2 > s->in_len)
                break;
            if (sz)
                on_event(s, s->in + body, sz);
            off = body + sz + 2;
        }
        memmove(s->in, s->in + off, s->in_len - off);
        s->in_len -= off;
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_s(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

int main(int argc, char **argv)
{
    int nstreams = 1, pid = 0;
    double seconds = 10, rate_bps = 2e6;
    const char *file = NULL;
    g.on_time_ms = 1000;
    static const struct option opts[] = {
        {"port", 1, 0, 'p'},     {"file", 1, 0, 'f'},       {"streams", 1, 0, 'n'},
        {"rate-bps", 1, 0, 'r'}, {"full-speed", 0, 0, 'F'}, {"seconds", 1, 0, 's'},
        {"pid", 1, 0, 'P'},      {"on-time-ms", 1, 0, 'o'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            g.port = atoi(optarg);
            break;
        case 'f':
            file = optarg;
            break;
        case 'n':
            nstreams = atoi(optarg);
            break;
        case 'r':
            rate_bps = atof(optarg);
            break;
        case 'F':
            g.full_speed = 1;
            break;
        case 's':
            seconds = atof(optarg);
            break;
        case 'P':
            pid = atoi(optarg);
            break;
        case 'o':
            g.on_time_ms = atof(optarg);
            break;
        default:
            return 2;
        }
    }
    if (!g.port || !file || nstreams < 1)
        return fprintf(stderr, "usage: bench_putmedia --port P --file F [--streams N] "
                               "[--rate-bps B|--full-speed] [--seconds S] [--pid PID]\n"),
               2;
    load(file);
    g.rate_Bps = rate_bps / 8.0;
    for (int i = 0; i < nstreams; i++)
        create_stream(i);
    int ep = epoll_create1(0);
    sess *ss = calloc((size_t)nstreams, sizeof(sess));
    for (int i = 0; i < nstreams; i++) {
        sess *s = &ss[i];
        s->id = i;
        s->fd = dial();
        char head[512];
        int n = snprintf(head, sizeof(head),
                         "POST /putMedia HTTP/1.1\r\nHost: x\r\nx-amzn-stream-name: bench-%d\r\n"
                         "x-amzn-fragment-timecode-type: ABSOLUTE\r\n"
                         "x-amzn-producer-start-timestamp: 1700000000.000\r\n"
                         "x-amzn-fragment-acknowledgment-required: 1\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n",
                         i);
        if (write(s->fd, head, (size_t)n) != n)
            return 1;
        s->in_header = 1;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &e);
        fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK);
    }
    g.ep = ep;
    g.t0 = now_s();
    double cpu0 = pid ? cpu_s(pid) : 0;
    struct epoll_event evs[256];
    double t;
    while ((t = now_s()) - g.t0 < seconds) {
        for (int i = 0; i < nstreams; i++) {
            sess *s = &ss[i];
            for (;;) {
                if (s->out_off < s->out_len) {
                    ssize_t w =
                        send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
                    if (w <= 0)
                        break;
                    s->out_off += (size_t)w;
                    if (s->out_off < s->out_len)
                        break;
                    continue;
                }
                size_t budget = PIECE;
                if (!g.full_speed) {
                    double due = g.rate_Bps * (t - g.t0);
                    if ((double)s->sent >= due)
                        break;
                    double lag = (due - (double)s->sent) / g.rate_Bps;
                    if (lag > g.max_lag && t - g.t0 > WARMUP_SEC)
                        g.max_lag = lag;
                    budget = (size_t)(due - (double)s->sent) + 1;
                }
                fill(s, budget);
            }
        }
        int n = epoll_wait(ep, evs, 256, g.full_speed ? 1 : 5);
        for (int k = 0; k < n; k++)
            on_readable(evs[k].data.ptr);
    }
    double t_end = now_s();
    double cpu1 = pid ? cpu_s(pid) : 0;
    /* collect the last acks */
    while (now_s() - t_end < 3.0) {
        int n = epoll_wait(ep, evs, 256, 50);
        for (int k = 0; k < n; k++)
            on_readable(evs[k].data.ptr);
    }
    uint64_t unacked = 0, errors = 0;
    for (int i = 0; i < nstreams; i++) {
        sess *s = &ss[i];
        for (size_t k = 0; k < s->ring_n; k++) {
            pend *q = &s->ring[(s->ring_head + k) % MAX_INFLT];
            if (q->complete_at > 0 && q->complete_at < t_end - 3.0)
                unacked++;
        }
        errors += s->errors;
        close(s->fd);
    }
    qsort(g.lat, g.nlat, sizeof(double), cmp_d);
    double el = t_end - g.t0;
    printf("streams=%d mode=%s seconds=%.1f sent_MBps=%.2f per_stream_Mbps=%.3f "
           "fragments_persisted=%llu latency_samples=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
           "late=%llu unacked=%llu errors=%llu max_pace_lag_s=%.3f",
           nstreams, g.full_speed ? "full" : "paced", el, (double)g.sent_bytes / el / 1e6,
           (double)g.sent_bytes * 8 / el / 1e6 / nstreams, (unsigned long long)g.persisted, g.nlat,
           g.nlat ? g.lat[g.nlat / 2] : 0, g.nlat ? g.lat[g.nlat * 99 / 100] : 0,
           g.nlat ? g.lat[g.nlat - 1] : 0, (unsigned long long)g.late, (unsigned long long)unacked,
           (unsigned long long)errors, g.max_lag);
    if (pid)
        printf(" server_cpu_pct=%.1f cpu_pct_per_stream=%.3f", (cpu1 - cpu0) / el * 100,
               (cpu1 - cpu0) / el * 100 / nstreams);
    printf("\n");
    free(ss);
    free(g.lat);
    free(g.coff);
    free(g.file);
    return errors || unacked ? 1 : 0;
}
