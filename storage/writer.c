/* The group-commit writer thread shared by all logs of a store.
 *
 * Submitters on any thread append an op to a mutex-protected FIFO and signal a condition
 * variable. Each op is one allocation: the op struct followed by the 32-byte entry header and the
 * payload, copied there from the caller's iovecs (so the frame can be written with one iovec and
 * the caller keeps its buffers). The queue is bounded by a byte and an op budget that is released
 * only when an op has completed, so memory stays bounded by the budget; a full queue makes
 * sl_writer_submit return SL_EFULL (back-pressure), sl_writer_submit_wait sleeps on `room`.
 *
 * The thread takes the whole FIFO as one batch and runs it through these states:
 *
 *   GROUP   ops are chained per log in submission order; drops run here, in order, so appends
 *           before a drop in the same batch fail with SL_ENOTFOUND and appends to a re-created log
 *           after it land in fresh files                                    (run_batch)
 *   WRITE   per log, pwritev of all its frames, rolling segments           (sl_log_write_)
 *   SYNC    per log, one fdatasync of the tail (+ folder fsync if new)     (sl_log_sync_);
 *           when a batch touched several logs their syncs run in parallel on a small pool
 *           of sync threads (the writer syncs one itself), so the batch waits for the
 *           slowest sync, not for their sum -- a stream with N shards must not pay N fsyncs
 *           back to back on every PutRecords                                 (sync_all)
 *   PUBLISH durable ends advance; the entries become readable              (sl_log_publish_)
 *   SQL     BEGIN; per op SAVEPOINT / fn / RELEASE (ROLLBACK TO on error); COMMIT  (run_sql)
 *   DONE    done callbacks in submission order, then the budget is released
 *
 * One batch at a time: the next one starts when this one is DONE. Overlapping batches (the next
 * one's WRITE and SYNC while this one's syncs run) was measured slower on a disk whose flushes
 * slow each other: see "What bounds PutRecord" in bench/README.md.
 *
 * Any failure in WRITE, SYNC or COMMIT sets `failed` (sticky): the whole batch completes with
 * SL_ESTORAGE_FAILED, and so does every later op, without touching the disk again; fsync is never
 * retried. Stopping (sl_writer_free_) lets the thread drain the queue before it exits. */
#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"
#include "sluice/log.h"
#include "sluice/time.h"
#include "storage_int.h"

enum { OP_APPEND, OP_DROP };

typedef struct op {
    struct op *next;
    int kind;
    int rc;
    sl_log *log;
    sl_sql_fn sql;
    sl_done_fn done;
    void *arg;
    size_t bytes; /* charged to the budget */
    int ran;      /* drops: executed */
    log_pending lp;
    uint8_t frame[]; /* 32-byte header + payload, for appends */
} op;

typedef struct touched touched;

/* Helper threads that fdatasync other logs of a batch while the writer syncs one itself. */
#define SYNC_THREADS 3
typedef struct sync_pool {
    pthread_t th[SYNC_THREADS];
    int n_threads;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    touched *t;      /* the batch's logs, valid while `busy` */
    size_t nt, next; /* next index to claim */
    size_t running;  /* helpers working on this round */
    uint64_t round;  /* bumped per parallel sync */
    _Atomic uint64_t fsyncs;
    _Atomic int failed;
    int stop;
} sync_pool;

struct sl_writer {
    sl_store *st;
    sync_pool sp;
    sqlite3 *db;
    pthread_mutex_t mu;
    pthread_cond_t work; /* queue non-empty or stopping */
    pthread_cond_t room; /* budget released */
    op *head, *tail;
    size_t q_bytes, q_ops; /* charged: queued + in the running batch */
    size_t max_bytes, max_ops;
    int stopping;
    _Atomic int failed;
    pthread_t thread;
    uint64_t gen;        /* batch number, writer thread */
    sqlite3_stmt *tx[6]; /* writer thread: prepared transaction statements */
    _Atomic uint64_t appends, fsyncs, batches;
};

static void fail_sticky(sl_writer *w, const char *what)
{
    if (!atomic_exchange(&w->failed, 1))
        sl_error("storage", "%s failed: storage is now read-only; every write fails until restart",
                 what);
}

/* Transaction control statements, prepared once on the writer connection. */
enum { TX_BEGIN, TX_SAVEPOINT, TX_ROLLBACK_TO, TX_RELEASE, TX_COMMIT, TX_ROLLBACK, TX_N };
static const char *const tx_sql[TX_N] = {"BEGIN IMMEDIATE", "SAVEPOINT op", "ROLLBACK TO op",
                                         "RELEASE op",      "COMMIT",       "ROLLBACK"};

static int tx(sl_writer *w, int which)
{
    sqlite3_stmt **st = &w->tx[which];
    int r = SQLITE_OK;
    if (!*st)
        r = sqlite3_prepare_v2(w->db, tx_sql[which], -1, st, NULL);
    if (r == SQLITE_OK) {
        r = sqlite3_step(*st);
        sqlite3_reset(*st);
        if (r == SQLITE_DONE)
            return 0;
    }
    sl_error("storage", "catalog: %s: %s", tx_sql[which], sqlite3_errmsg(w->db));
    return SL_EIO;
}

/* SQL phase: one transaction for the batch; each op's step in its own savepoint. */
static void run_sql(sl_writer *w, op *batch)
{
    int any = 0;
    for (op *o = batch; o; o = o->next)
        if (o->sql && o->rc == 0)
            any = 1;
    if (!any)
        return;
    if (!w->db || tx(w, TX_BEGIN) != 0) {
        fail_sticky(w, "catalog BEGIN");
        return;
    }
    for (op *o = batch; o; o = o->next) {
        if (!o->sql || o->rc != 0)
            continue;
        if (tx(w, TX_SAVEPOINT) != 0) {
            o->rc = SL_EIO;
            continue;
        }
        int r = o->sql(w->db, o->arg, o->log ? &o->lp.entry : NULL);
        if (r != 0) {
            o->rc = r;
            tx(w, TX_ROLLBACK_TO);
        }
        tx(w, TX_RELEASE);
    }
    if (tx(w, TX_COMMIT) != 0) {
        if (!sqlite3_get_autocommit(w->db))
            tx(w, TX_ROLLBACK);
        fail_sticky(w, "catalog COMMIT");
    }
}

struct touched {
    sl_log *log; /* NULL once dropped in this batch */
    log_pending *first;
    log_pending **link;
};

/* Claims and syncs logs of the current round until none is left. Any thread. */
static void sync_claimed(sync_pool *sp)
{
    for (;;) {
        pthread_mutex_lock(&sp->mu);
        int have = sp->next < sp->nt;
        size_t i = have ? sp->next++ : 0;
        touched *t = sp->t;
        pthread_mutex_unlock(&sp->mu);
        if (!have)
            return;
        uint64_t n = 0;
        if (t[i].log && sl_log_sync_(t[i].log, &n) != 0)
            atomic_store(&sp->failed, 1);
        atomic_fetch_add(&sp->fsyncs, n);
    }
}

static void *sync_main(void *arg)
{
    sync_pool *sp = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&sp->mu);
    for (;;) {
        while (!sp->stop && sp->round == seen)
            pthread_cond_wait(&sp->go, &sp->mu);
        if (sp->stop)
            break;
        seen = sp->round;
        sp->running++;
        pthread_mutex_unlock(&sp->mu);
        sync_claimed(sp);
        pthread_mutex_lock(&sp->mu);
        if (--sp->running == 0)
            pthread_cond_signal(&sp->done);
    }
    pthread_mutex_unlock(&sp->mu);
    return NULL;
}

/* SYNC phase: every touched log once. Returns 0, or -1 when any sync failed. */
static int sync_all(sl_writer *w, touched *t, size_t nt, uint64_t *fsyncs)
{
    sync_pool *sp = &w->sp;
    if (nt <= 1 || sp->n_threads == 0) {
        for (size_t i = 0; i < nt; i++)
            if (t[i].log && sl_log_sync_(t[i].log, fsyncs) != 0)
                return -1;
        return 0;
    }
    pthread_mutex_lock(&sp->mu);
    sp->t = t;
    sp->nt = nt;
    sp->next = 0;
    atomic_store(&sp->fsyncs, 0);
    atomic_store(&sp->failed, 0);
    sp->round++;
    pthread_cond_broadcast(&sp->go);
    pthread_mutex_unlock(&sp->mu);
    sync_claimed(sp);
    pthread_mutex_lock(&sp->mu);
    /* Every index is claimed; wait for helpers still inside a sync of this round. A helper
     * that wakes late finds nothing to claim and leaves at once. */
    while (sp->running > 0)
        pthread_cond_wait(&sp->done, &sp->mu);
    sp->t = NULL;
    sp->nt = 0;
    pthread_mutex_unlock(&sp->mu);
    *fsyncs += atomic_load(&sp->fsyncs);
    return atomic_load(&sp->failed) ? -1 : 0;
}

static void run_batch(sl_writer *w, op *batch)
{
    touched *t = NULL;
    size_t nt = 0, cap = 0;
    uint64_t fsyncs = 0, appended = 0;
    int ok = !atomic_load(&w->failed);

    w->gen++;
    /* GROUP: chain appends per log in submission order; run drops in place. */
    for (op *o = batch; ok && o; o = o->next) {
        if (o->kind == OP_DROP) {
            /* Earlier appends to this log in the batch are discarded. */
            for (op *p = batch; p != o; p = p->next)
                if (p->kind == OP_APPEND && p->log == o->log && p->rc == 0) {
                    p->rc = SL_ENOTFOUND;
                    appended--;
                }
            for (size_t i = 0; i < nt; i++)
                if (t[i].log == o->log)
                    t[i].log = NULL;
            o->log->batch_gen = 0;
            o->rc = atomic_load(&o->log->dropped) ? SL_ENOTFOUND : sl_log_drop_files_(o->log);
            o->ran = 1;
            continue;
        }
        if (!o->log)
            continue;
        if (atomic_load(&o->log->dropped)) {
            o->rc = SL_ENOTFOUND;
            continue;
        }
        /* The log remembers its slot in this batch (writer-thread fields). */
        size_t i = o->log->batch_gen == w->gen ? o->log->batch_slot + 1 : 0;
        if (i == 0) {
            if (nt == cap) {
                cap = cap ? cap * 2 : 16;
                touched *nt2 = realloc(t, cap * sizeof(*nt2));
                if (!nt2) {
                    ok = 0;
                    fail_sticky(w, "batch allocation");
                    break;
                }
                t = nt2;
            }
            t[nt] = (touched){.log = o->log, .first = NULL};
            t[nt].link = &t[nt].first;
            o->log->batch_gen = w->gen;
            o->log->batch_slot = nt;
            i = ++nt;
        }
        o->lp.next_in_log = NULL;
        *t[i - 1].link = &o->lp;
        t[i - 1].link = &o->lp.next_in_log;
        appended++;
    }
    /* WRITE, then SYNC each touched log once. */
    for (size_t i = 0; ok && i < nt; i++) {
        if (t[i].log && sl_log_write_(t[i].log, t[i].first, &fsyncs) != 0) {
            ok = 0;
            fail_sticky(w, "segment write");
        }
    }
    if (ok && sync_all(w, t, nt, &fsyncs) != 0) {
        ok = 0;
        fail_sticky(w, "segment fdatasync");
    }
    atomic_fetch_add(&w->fsyncs, fsyncs);
    if (ok) {
        for (size_t i = 0; i < nt; i++)
            if (t[i].log)
                sl_log_publish_(t[i].log);
        atomic_fetch_add(&w->appends, appended);
        run_sql(w, batch);
    }
    if (atomic_load(&w->failed)) {
        for (op *o = batch; o; o = o->next)
            if (o->kind == OP_APPEND || !o->ran)
                o->rc = SL_ESTORAGE_FAILED;
    }
    atomic_fetch_add(&w->batches, 1);
    free(t);

    /* DONE */
    size_t bytes = 0, n = 0;
    while (batch) {
        op *o = batch;
        batch = o->next;
        if (o->done)
            o->done(o->arg, o->rc, o->log && o->kind == OP_APPEND ? &o->lp.entry : NULL);
        bytes += o->bytes;
        n++;
        free(o);
    }
    pthread_mutex_lock(&w->mu);
    w->q_bytes -= bytes;
    w->q_ops -= n;
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
}

static void *writer_main(void *arg)
{
    sl_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stopping)
            pthread_cond_wait(&w->work, &w->mu);
        if (!w->head && w->stopping)
            break;
        op *batch = w->head;
        w->head = w->tail = NULL;
        pthread_mutex_unlock(&w->mu);
        run_batch(w, batch);
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void stop_sync_pool(sync_pool *sp)
{
    pthread_mutex_lock(&sp->mu);
    sp->stop = 1;
    pthread_cond_broadcast(&sp->go);
    pthread_mutex_unlock(&sp->mu);
    for (int i = 0; i < sp->n_threads; i++)
        pthread_join(sp->th[i], NULL);
    sp->n_threads = 0;
    pthread_mutex_destroy(&sp->mu);
    pthread_cond_destroy(&sp->go);
    pthread_cond_destroy(&sp->done);
}

int sl_writer_new_(sl_store *st, sqlite3 *db, size_t max_bytes, size_t max_ops, sl_writer **out)
{
    sl_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return SL_ENOMEM;
    w->st = st;
    w->db = db;
    w->max_bytes = max_bytes;
    w->max_ops = max_ops;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->room, NULL);
    pthread_mutex_init(&w->sp.mu, NULL);
    pthread_cond_init(&w->sp.go, NULL);
    pthread_cond_init(&w->sp.done, NULL);
    for (int i = 0; i < SYNC_THREADS; i++) {
        if (pthread_create(&w->sp.th[i], NULL, sync_main, &w->sp) != 0)
            break; /* fewer helpers only means more serial syncs */
        w->sp.n_threads++;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        stop_sync_pool(&w->sp);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->work);
        pthread_cond_destroy(&w->room);
        free(w);
        return SL_ENOMEM;
    }
    *out = w;
    return 0;
}

int sl_writer_free_(sl_writer *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->room);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    stop_sync_pool(&w->sp);
    for (size_t i = 0; i < sizeof(w->tx) / sizeof(w->tx[0]); i++)
        sqlite3_finalize(w->tx[i]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->room);
    int rc = atomic_load(&w->failed) ? SL_ESTORAGE_FAILED : 0;
    free(w);
    return rc;
}

/* Builds the op for a (NULL for SQL-only / drop). */
static int op_make(const sl_append *a, op **out)
{
    size_t len = 0;
    if (a->log) {
        if (a->iovcnt < 0 || (a->iovcnt > 0 && !a->iov))
            return SL_EINVAL;
        for (int i = 0; i < a->iovcnt; i++) {
            len += a->iov[i].iov_len;
            if (len > SL_LOG_ENTRY_MAX)
                return SL_ETOOBIG;
        }
    }
    op *o = malloc(sizeof(*o) + (a->log ? SL_LOG_ENTRY_HEADER + len : 0));
    if (!o)
        return SL_ENOMEM;
    *o = (op){.kind = OP_APPEND, .log = a->log, .sql = a->sql, .done = a->done, .arg = a->arg};
    o->bytes = a->log ? SL_LOG_ENTRY_HEADER + len : 0;
    if (a->log) {
        int64_t ts = a->ts_ns ? a->ts_ns : sl_time_now_ns();
        uint8_t *h = o->frame;
        sl_put32_(h, ENTRY_MAGIC);
        sl_put32_(h + 4, (uint32_t)len);
        sl_put64_(h + 8, 0);
        sl_put64_(h + 16, (uint64_t)ts);
        sl_put32_(h + 24, 0);
        sl_put32_(h + 28, 0);
        uint8_t *d = h + SL_LOG_ENTRY_HEADER;
        for (int i = 0; i < a->iovcnt; i++) {
            if (a->iov[i].iov_len)
                memcpy(d, a->iov[i].iov_base, a->iov[i].iov_len);
            d += a->iov[i].iov_len;
        }
        o->lp.frame = h;
        o->lp.len = (uint32_t)len;
        o->lp.ts_ns = ts;
        o->lp.entry = (sl_log_entry){.offset = UINT64_MAX, .ts_ns = ts, .len = (uint32_t)len};
    }
    *out = o;
    return 0;
}

enum { Q_TRY, Q_WAIT, Q_FORCE };

/* Queues the chain first..last (n ops, `bytes` payload) if the budget allows (Q_TRY), once it
 * does (Q_WAIT), or regardless (Q_FORCE: drops, which are rare and carry no payload). All or
 * nothing; takes the chain on success. */
static int enqueue(sl_writer *w, op *first, op *last, size_t n, size_t bytes, int mode)
{
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->stopping) {
            rc = SL_ECLOSED;
            break;
        }
        if (atomic_load(&w->failed)) {
            rc = SL_ESTORAGE_FAILED;
            break;
        }
        int empty = w->q_ops == 0;
        if (empty || mode == Q_FORCE ||
            (w->q_bytes + bytes <= w->max_bytes && w->q_ops + n <= w->max_ops))
            break;
        if (mode == Q_TRY) {
            rc = SL_EFULL;
            break;
        }
        pthread_cond_wait(&w->room, &w->mu);
    }
    if (rc == 0) {
        w->q_bytes += bytes;
        w->q_ops += n;
        last->next = NULL;
        if (w->tail)
            w->tail->next = first;
        else
            w->head = first;
        w->tail = last;
        pthread_cond_signal(&w->work);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static void free_chain(op *o)
{
    while (o) {
        op *next = o->next;
        free(o);
        o = next;
    }
}

static int submit(sl_writer *w, const sl_append *a, size_t n, int wait)
{
    if (!w || (!a && n))
        return SL_EINVAL;
    /* On the writer thread (a done or sql callback) waiting for room would wait for itself. */
    if (wait && pthread_equal(pthread_self(), w->thread))
        wait = 0;
    if (n == 0)
        return 0;
    if (atomic_load(&w->failed))
        return SL_ESTORAGE_FAILED;
    op *first = NULL, *last = NULL;
    size_t bytes = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        op *o = NULL;
        rc = op_make(&a[i], &o);
        if (rc)
            break;
        o->next = NULL;
        if (last)
            last->next = o;
        else
            first = o;
        last = o;
        bytes += o->bytes;
    }
    if (rc == 0)
        rc = enqueue(w, first, last, n, bytes, wait ? Q_WAIT : Q_TRY);
    if (rc)
        free_chain(first);
    return rc;
}

int sl_writer_submit_many(sl_writer *w, const sl_append *a, size_t n, int wait)
{
    return submit(w, a, n, wait);
}

int sl_writer_submit(sl_writer *w, const sl_append *a)
{
    return submit(w, a, 1, 0);
}

int sl_writer_submit_wait(sl_writer *w, const sl_append *a)
{
    return submit(w, a, 1, 1);
}

int sl_writer_submit_fn(sl_writer *w, sl_sql_fn fn, sl_done_fn done, void *arg)
{
    if (!fn)
        return SL_EINVAL;
    sl_append a = {.sql = fn, .done = done, .arg = arg};
    return submit(w, &a, 1, 0);
}

int sl_writer_submit_drop_(sl_writer *w, sl_log *log, sl_done_fn done, void *arg)
{
    op *o = calloc(1, sizeof(*o));
    if (!o)
        return SL_ENOMEM;
    o->kind = OP_DROP;
    o->log = log;
    o->done = done;
    o->arg = arg;
    int rc = enqueue(w, o, o, 1, 0, Q_FORCE);
    if (rc)
        free(o);
    return rc;
}

typedef struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
    sl_sql_fn fn;
    void *arg;
} sync_wait;

static int sync_sql(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    sync_wait *s = arg;
    return s->fn(db, s->arg, e);
}

static void sync_done(void *arg, int rc, const sl_log_entry *e)
{
    sync_wait *s = arg;
    pthread_mutex_lock(&s->mu);
    s->rc = rc;
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int sl_writer_run_sync(sl_writer *w, sl_sql_fn fn, void *arg)
{
    if (pthread_equal(pthread_self(), w->thread))
        return SL_EINVAL; /* would wait for the batch it is running in */
    sync_wait s = {.fn = fn, .arg = arg};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    sl_append a = {.sql = sync_sql, .done = sync_done, .arg = &s};
    int rc = fn ? submit(w, &a, 1, 1) : SL_EINVAL;
    if (rc == 0) {
        pthread_mutex_lock(&s.mu);
        while (!s.done)
            pthread_cond_wait(&s.cv, &s.mu);
        rc = s.rc;
        pthread_mutex_unlock(&s.mu);
    }
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    return rc;
}

int sl_writer_status(sl_writer *w)
{
    return atomic_load(&w->failed) ? SL_ESTORAGE_FAILED : 0;
}

void sl_writer_counters_(sl_writer *w, uint64_t *appends, uint64_t *fsyncs, uint64_t *batches)
{
    *appends = atomic_load(&w->appends);
    *fsyncs = atomic_load(&w->fsyncs);
    *batches = atomic_load(&w->batches);
}
