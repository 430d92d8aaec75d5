/* Crash-test worker: appends under load and reports only what the store acknowledged.
 *
 *   crash_writer write  DIR ROUND   appends forever from 4 threads into 2 logs (small segments, so
 *                                   rolls happen), each entry also indexed by an SQL row in the
 *                                   same batch; prints "ACK log thread seq offset len crc" on
 *                                   stdout from the done callback, i.e. only AFTER the entry and
 *                                   its row are durable. The driver kills it with SIGKILL.
 *   crash_writer verify DIR         recovers the store, reads ACK lines on stdin and checks that
 *                                   every acknowledged entry is present at its offset and
 *                                   byte-identical to the payload regenerated from (round,
 *                                   thread, seq); that every log reads cleanly from first to end;
 *                                   and that every catalog row points at a valid entry with the
 *                                   same CRC. Prints one summary line; exit 0 only if all hold.
 *
 * Payloads are deterministic in (round, thread, seq), so the verifier compares real bytes, not
 * just checksums. One line is written with a single write(2) so a kill never interleaves lines;
 * the driver drops a final partial line. */
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/storage.h"
#include "../../storage/storage_int.h"

#define THREADS     4
#define MAX_PAYLOAD 70000

static const char *const steps[] = {
    "CREATE TABLE crash_idx(log TEXT NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL,"
    " crc INTEGER NOT NULL, PRIMARY KEY(log, off)) WITHOUT ROWID"};

static size_t payload_len(unsigned round, unsigned t, unsigned seq)
{
    uint32_t x = (round * 2654435761u) ^ (t * 40503u) ^ (seq * 2246822519u);
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    if (x % 97 == 0)
        return 40000 + x % 30000; /* now and then a big one */
    return 1 + x % 3000;
}

static void payload_fill(uint8_t *p, size_t n, unsigned round, unsigned t, unsigned seq)
{
    uint64_t x = ((uint64_t)round << 40) ^ ((uint64_t)t << 32) ^ seq ^ 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)x;
    }
}

typedef struct req {
    sl_log *log;
    unsigned t, seq;
    uint32_t crc;
} req;

static int index_row(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    req *r = arg;
    sqlite3_stmt *st = NULL;
    int rc = SL_EIO;
    if (sqlite3_prepare_v2(db, "INSERT INTO crash_idx VALUES(?1, ?2, ?3, ?4)", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_bind_text(st, 1, sl_log_name(r->log), -1, SQLITE_STATIC) == SQLITE_OK &&
        sqlite3_bind_int64(st, 2, (sqlite3_int64)e->offset) == SQLITE_OK &&
        sqlite3_bind_int64(st, 3, e->len) == SQLITE_OK &&
        sqlite3_bind_int64(st, 4, r->crc) == SQLITE_OK && sqlite3_step(st) == SQLITE_DONE)
        rc = 0;
    sqlite3_finalize(st);
    return rc;
}

static void acked(void *arg, int rc, const sl_log_entry *e)
{
    req *r = arg;
    if (rc == 0) {
        char line[160];
        int n = snprintf(line, sizeof(line), "ACK %s %u %u %" PRIu64 " %u %08x\n",
                         sl_log_name(r->log), r->t, r->seq, e->offset, e->len, r->crc);
        if (write(1, line, (size_t)n) != n)
            abort();
    } else {
        fprintf(stderr, "append failed: %s\n", sl_err_name(rc));
        abort();
    }
    free(r);
}

typedef struct worker {
    sl_store *s;
    sl_log *log;
    unsigned round, t;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    uint8_t *buf = malloc(MAX_PAYLOAD);
    for (unsigned seq = 0;; seq++) {
        size_t n = payload_len(w->round, w->t, seq);
        payload_fill(buf, n, w->round, w->t, seq);
        req *r = malloc(sizeof(*r));
        *r = (req){.log = w->log, .t = w->t, .seq = seq, .crc = sl_crc32c(0, buf, n)};
        struct iovec iov = {buf, n};
        sl_append a = {
            .log = w->log, .iov = &iov, .iovcnt = 1, .sql = index_row, .done = acked, .arg = r};
        int rc = sl_writer_submit_wait(sl_store_writer(w->s), &a);
        if (rc) {
            fprintf(stderr, "submit: %s\n", sl_err_name(rc));
            abort();
        }
    }
    return NULL;
}

static sl_store_options opts = {.segment_bytes = 256 * 1024, .queue_max_ops = 512};

static int do_write(const char *dir, unsigned round)
{
    sl_store *s = NULL;
    int rc = sl_store_open_with(dir, &opts, &s);
    if (rc == 0)
        rc = sl_store_migrate(s, "crashtest", steps, 1);
    if (rc) {
        fprintf(stderr, "open: %s\n", sl_err_name(rc));
        return 2;
    }
    fprintf(stderr, "writer ready\n");
    pthread_t th[THREADS];
    worker w[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        w[i] = (worker){.s = s, .round = round, .t = i};
        if (sl_store_log_open(s, i % 2 ? "crash/b" : "crash/a", &w[i].log) != 0)
            return 2;
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL); /* never: the driver kills us */
    return 0;
}

static int do_verify(const char *dir)
{
    sl_store *s = NULL;
    int rc = sl_store_open_with(dir, &opts, &s), bad = 0;
    if (rc) {
        printf("FAIL open: %s\n", sl_err_name(rc));
        return 1;
    }
    uint8_t *want = malloc(MAX_PAYLOAD);
    sl_buf b = SL_BUF_INIT;
    char line[256], name[64];
    unsigned long acks = 0, entries = 0, rows = 0;
    unsigned round, t, seq, len, crc;
    uint64_t off;
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "%u ACK %63s %u %u %" SCNu64 " %u %x", &round, name, &t, &seq, &off, &len,
                   &crc) != 7) {
            printf("FAIL bad input line: %s", line);
            bad++;
            continue;
        }
        acks++;
        sl_log *log;
        sl_log_entry e;
        sl_buf_reset(&b);
        if (sl_store_log_open(s, name, &log) != 0 || (rc = sl_log_read(log, off, &e, &b)) != 0) {
            printf("FAIL acked entry %s@%" PRIu64 " (round %u t %u seq %u) unreadable: %s\n", name,
                   off, round, t, seq, sl_err_name(rc));
            bad++;
            continue;
        }
        size_t n = payload_len(round, t, seq);
        payload_fill(want, n, round, t, seq);
        if (e.len != len || n != len || b.len != n || memcmp(b.data, want, n) != 0 ||
            sl_crc32c(0, want, n) != crc) {
            printf("FAIL acked entry %s@%" PRIu64 " differs (len %u, want %zu)\n", name, off, e.len,
                   n);
            bad++;
        }
    }
    const char *logs[] = {"crash/a", "crash/b"};
    for (int i = 0; i < 2; i++) {
        sl_log *log;
        if (sl_store_log_open(s, logs[i], &log) != 0)
            continue;
        uint64_t o = sl_log_first_offset(log), end = sl_log_end_offset(log);
        sl_log_entry e;
        while (o < end) {
            sl_buf_reset(&b);
            if ((rc = sl_log_read(log, o, &e, &b)) != 0) {
                printf("FAIL %s: entry at %" PRIu64 " unreadable: %s\n", logs[i], o,
                       sl_err_name(rc));
                bad++;
                break;
            }
            entries++;
            o = e.next_offset;
        }
    }
    /* Every committed index row must point at durable data with the same checksum. */
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sl_catalog_open_reader(s, &db) != 0 ||
        sqlite3_prepare_v2(db, "SELECT log, off, len, crc FROM crash_idx", -1, &st, NULL) !=
            SQLITE_OK) {
        printf("FAIL catalog: %s\n", db ? sqlite3_errmsg(db) : "open");
        bad++;
    } else {
        while (sqlite3_step(st) == SQLITE_ROW) {
            sl_log *log;
            sl_log_entry e;
            rows++;
            off = (uint64_t)sqlite3_column_int64(st, 1);
            sl_buf_reset(&b);
            if (sl_store_log_open(s, (const char *)sqlite3_column_text(st, 0), &log) != 0 ||
                sl_log_read(log, off, &e, &b) != 0 ||
                e.len != (uint32_t)sqlite3_column_int64(st, 2) ||
                sl_crc32c(0, b.data, b.len) != (uint32_t)sqlite3_column_int64(st, 3)) {
                printf("FAIL index row %s@%" PRIu64 " points at missing or different data\n",
                       sqlite3_column_text(st, 0), off);
                bad++;
            }
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    sl_buf_cleanup(&b);
    free(want);
    sl_store_close(s);
    printf("%s acked=%lu entries=%lu rows=%lu\n", bad ? "FAIL" : "OK", acks, entries, rows);
    return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
    sl_log_set_level(SL_LOG_WARN);
    if (argc == 4 && strcmp(argv[1], "write") == 0)
        return do_write(argv[2], (unsigned)atoi(argv[3]));
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return do_verify(argv[2]);
    fprintf(stderr, "usage: crash_writer write DIR ROUND | verify DIR  (ACK lines on stdin)\n");
    return 2;
}
