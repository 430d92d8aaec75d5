/* Storage benchmark: durable appends through the group-commit writer.
 *
 * Each scenario opens a fresh store in a temporary folder (on the disk TMPDIR points at), runs
 * for a few seconds, and prints durable appends/s, MB/s of payload, fdatasync calls/s, batches/s,
 * the mean batch size and the p50/p99/max latency from submit to the done callback (which runs
 * after the fdatasync that covers the entry). Scenarios:
 *   serial       one submitter, one append in flight (the cost of a single durable append)
 *   threads=N    N submitter threads, each into its own log, blocking submit (queue budget
 *                bounds what is in flight)
 *   loop/W       one submitter that never blocks, like the loop thread: keeps up to W appends in
 *                flight, treats SL_EFULL as back-pressure and waits for completions
 *   +sql         the same with one SQLite index row per append, in the batch's transaction
 *
 * usage: bench_storage [seconds-per-scenario (default 2)]
 * Not run by ctest. */
#include <inttypes.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ftw.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/storage.h"
#include "sluice/time.h"

#define LAT_CAP (4u << 20)

typedef struct bench {
    sl_store *s;
    size_t size;
    int sql;
    int64_t deadline_ns;
    _Atomic uint64_t submitted;
    _Atomic uint64_t done;
    _Atomic uint64_t failed;
    int64_t *lat;
    _Atomic size_t nlat;
    sem_t window; /* loop mode: free in-flight slots */
    int windowed;
} bench;

typedef struct op {
    bench *b;
    int64_t t0;
} op;

static sqlite3_stmt *idx_st; /* writer thread only: prepared once, finalized before close */

static int finalize_fn(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    sqlite3_finalize(idx_st);
    idx_st = NULL;
    return 0;
}

static int index_row(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    if (!idx_st) {
        if (sqlite3_prepare_v2(db, "INSERT INTO bench_idx VALUES(?1, ?2)", -1, &idx_st, NULL) !=
            SQLITE_OK)
            return SL_EIO;
    }
    sqlite3_bind_int64(idx_st, 1, (sqlite3_int64)e->offset);
    sqlite3_bind_int64(idx_st, 2, e->ts_ns);
    int r = sqlite3_step(idx_st);
    sqlite3_reset(idx_st);
    return r == SQLITE_DONE ? 0 : SL_EIO;
}

static void on_done(void *arg, int rc, const sl_log_entry *e)
{
    op *o = arg;
    bench *b = o->b;
    int64_t d = sl_time_mono_ns() - o->t0;
    if (rc)
        atomic_fetch_add(&b->failed, 1);
    size_t i = atomic_fetch_add(&b->nlat, 1);
    if (i < LAT_CAP)
        b->lat[i] = d;
    atomic_fetch_add(&b->done, 1);
    if (b->windowed)
        sem_post(&b->window);
    free(o);
}

typedef struct thr {
    bench *b;
    sl_log *log;
    int mode; /* 0 blocking submit, 1 non-blocking with window, 2 serial */
} thr;

static void *run_thread(void *arg)
{
    thr *t = arg;
    bench *b = t->b;
    char *buf = malloc(b->size);
    memset(buf, 'x', b->size);
    struct iovec iov = {buf, b->size};
    sl_writer *w = sl_store_writer(b->s);
    while (sl_time_mono_ns() < b->deadline_ns) {
        if (t->mode != 0)
            sem_wait(&b->window);
        op *o = malloc(sizeof(*o));
        o->b = b;
        o->t0 = sl_time_mono_ns();
        sl_append a = {.log = t->log,
                       .iov = &iov,
                       .iovcnt = 1,
                       .sql = b->sql ? index_row : NULL,
                       .done = on_done,
                       .arg = o};
        int rc;
        if (t->mode == 0) {
            rc = sl_writer_submit_wait(w, &a);
        } else {
            /* Never block in submit: on SL_EFULL wait for one completion, like a paused
             * connection waiting to be resumed. */
            while ((rc = sl_writer_submit(w, &a)) == SL_EFULL)
                usleep(50);
        }
        if (rc) {
            fprintf(stderr, "submit: %s\n", sl_err_name(rc));
            exit(1);
        }
        atomic_fetch_add(&b->submitted, 1);
    }
    free(buf);
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void scenario(const char *name, size_t size, int threads, int mode, int window, int sql,
                     double secs)
{
    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/sl-bench-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        exit(1);
    bench b = {.size = size, .sql = sql};
    b.lat = malloc(LAT_CAP * sizeof(int64_t));
    sl_store_options opt = {0};
    if (sl_store_open_with(dir, &opt, &b.s) != 0)
        exit(1);
    if (sql) {
        const char *steps[] = {"CREATE TABLE bench_idx(off INTEGER PRIMARY KEY, ts INTEGER)"};
        if (sl_store_migrate(b.s, "bench", steps, 1) != 0)
            exit(1);
    }
    b.windowed = mode != 0;
    sem_init(&b.window, 0, (unsigned)(mode == 2 ? 1 : window));
    pthread_t th[16];
    thr t[16];
    sl_store_stats s0, s1;
    sl_store_stats_get(b.s, &s0);
    int64_t t0 = sl_time_mono_ns();
    b.deadline_ns = t0 + (int64_t)(secs * 1e9);
    for (int i = 0; i < threads; i++) {
        char ln[32];
        snprintf(ln, sizeof(ln), "bench/%d", i);
        t[i] = (thr){.b = &b, .mode = mode};
        if (sl_store_log_open(b.s, ln, &t[i].log) != 0)
            exit(1);
        pthread_create(&th[i], NULL, run_thread, &t[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    while (atomic_load(&b.done) < atomic_load(&b.submitted))
        usleep(100);
    int64_t el = sl_time_mono_ns() - t0;
    sl_store_stats_get(b.s, &s1);
    if (sql)
        sl_writer_run_sync(sl_store_writer(b.s), finalize_fn, NULL);
    sl_store_close(b.s);
    uint64_t n = atomic_load(&b.done);
    size_t nl = atomic_load(&b.nlat);
    if (nl > LAT_CAP)
        nl = LAT_CAP;
    qsort(b.lat, nl, sizeof(int64_t), cmp_i64);
    double sec = (double)el / 1e9;
    uint64_t fs = s1.fsyncs - s0.fsyncs, bt = s1.batches - s0.batches;
    printf("%-15s %6zu B %8.0f app/s %7.1f MB/s %6.0f fsync/s %6.1f per batch  p50 %6.0f us  "
           "p99 %6.0f us  max %6.0f us%s\n",
           name, size, n / sec, n * (double)size / sec / 1e6, fs / sec,
           bt ? (double)(s1.appends - s0.appends) / bt : 0, nl ? b.lat[nl / 2] / 1e3 : 0,
           nl ? b.lat[nl * 99 / 100] / 1e3 : 0, nl ? b.lat[nl - 1] / 1e3 : 0,
           atomic_load(&b.failed) ? "  FAILURES" : "");
    sem_destroy(&b.window);
    free(b.lat);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    sl_log_set_level(SL_LOG_WARN);
    printf("durable appends (fdatasync before every acknowledgement), %.1f s per scenario\n", secs);
    scenario("serial", 100, 1, 2, 1, 0, secs);
    scenario("threads=1", 100, 1, 0, 0, 0, secs);
    scenario("threads=4", 100, 4, 0, 0, 0, secs);
    scenario("loop/1024", 100, 1, 1, 1024, 0, secs);
    scenario("loop/1024 +sql", 100, 1, 1, 1024, 1, secs);
    scenario("serial", 65536, 1, 2, 1, 0, secs);
    scenario("threads=1", 65536, 1, 0, 0, 0, secs);
    scenario("threads=4", 65536, 4, 0, 0, 0, secs);
    scenario("loop/64", 65536, 1, 1, 64, 0, secs);
    return 0;
}
