/* Group-commit writer: sticky failure through the fault VFS, concurrent submitters, back-pressure,
 * SQL in the batch transaction, drops, draining at close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>

#include "storage_test.h"

/* ---- completion counting */
typedef struct counter {
    _Atomic int done, ok, failed, other;
    _Atomic int last_rc;
} counter;

static void count_done(void *arg, int rc, const sl_log_entry *e)
{
    counter *c = arg;
    if (rc == 0)
        atomic_fetch_add(&c->ok, 1);
    else if (rc == SL_ESTORAGE_FAILED)
        atomic_fetch_add(&c->failed, 1);
    else
        atomic_fetch_add(&c->other, 1);
    atomic_store(&c->last_rc, rc);
    atomic_fetch_add(&c->done, 1);
}

static void wait_count(counter *c, int n)
{
    while (atomic_load(&c->done) < n)
        usleep(1000);
}

static int count_entries(sl_log *log)
{
    int n = 0;
    uint64_t off = sl_log_first_offset(log);
    sl_log_entry e;
    sl_buf b = SL_BUF_INIT;
    while (sl_log_read(log, off, &e, &b) == 0) {
        n++;
        off = e.next_offset;
        sl_buf_reset(&b);
    }
    sl_buf_cleanup(&b);
    return n;
}

static void submit_async(sl_store *s, sl_log *log, counter *c, int n)
{
    char buf[64];
    for (int i = 0; i < n; i++) {
        memset(buf, 'a' + i % 26, sizeof(buf));
        struct iovec iov = {buf, sizeof(buf)};
        sl_append a = {.log = log, .iov = &iov, .iovcnt = 1, .done = count_done, .arg = c};
        assert_int_equal(sl_writer_submit_wait(sl_store_writer(s), &a), 0);
    }
}

static void sticky_case(int fail_sync)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    static sl_vfs_fault f;
    sl_vfs_fault_init(&f, NULL);
    sl_store_options o = {.vfs = &f.vfs};
    sl_store *s = NULL;
    sl_log *log = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "f", &log), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(append_sync(s, log, "good", 4, 1, NULL), 0);
    uint64_t end = sl_log_end_offset(log);
    /* The writer is idle (every completion has run), so changing the plan is safe. */
    if (fail_sync)
        f.fail_sync_at = atomic_load(&f.syncs) + 1;
    else
        f.fail_write_at = atomic_load(&f.writes) + 1;
    counter c = {0};
    int queued = 0, refused = 0;
    for (int i = 0; i < 50; i++) {
        struct iovec iov = {"bad", 3};
        sl_append a = {.log = log, .iov = &iov, .iovcnt = 1, .done = count_done, .arg = &c};
        int rc = sl_writer_submit_wait(sl_store_writer(s), &a);
        if (rc == 0)
            queued++;
        else if (rc == SL_ESTORAGE_FAILED)
            refused++; /* the failure is already known at submit */
        else
            fail_msg("submit: %s", sl_err_name(rc));
    }
    wait_count(&c, queued);
    assert_int_equal(queued + refused, 50);
    /* Not one of them may claim durability; the injected failure happened exactly once. */
    assert_int_equal(atomic_load(&c.ok), 0);
    assert_int_equal(atomic_load(&c.failed), queued);
    assert_int_equal(atomic_load(&f.injected), 1);
    assert_int_equal(sl_writer_status(sl_store_writer(s)), SL_ESTORAGE_FAILED);
    /* Nothing new became readable; old entries still are. */
    assert_int_equal(sl_log_end_offset(log), end);
    assert_int_equal(count_entries(log), 3);
    /* Future submissions are refused at once, also SQL-only ones. */
    struct iovec iov = {"x", 1};
    sl_append a = {.log = log, .iov = &iov, .iovcnt = 1};
    assert_int_equal(sl_writer_submit(sl_store_writer(s), &a), SL_ESTORAGE_FAILED);
    long syncs = atomic_load(&f.syncs), writes = atomic_load(&f.writes);
    sl_store_close(s);
    /* Never retried: no write or sync after the failure. */
    assert_int_equal(atomic_load(&f.syncs), syncs);
    assert_int_equal(atomic_load(&f.writes), writes);

    /* After a restart with a healthy disk, the acknowledged entries are there. A failed fsync
     * may leave its unacknowledged bytes in the file; a failed write leaves none. */
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_log_open(s, "f", &log), 0);
    int n = count_entries(log);
    if (fail_sync)
        assert_true(n >= 3);
    else
        assert_int_equal(n, 3);
    assert_int_equal(append_sync(s, log, "again", 5, 1, NULL), 0);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_sticky_write_failure(void **state)
{
    sticky_case(0);
}

static void test_sticky_sync_failure(void **state)
{
    sticky_case(1);
}

/* ---- concurrent submitters */
#define THREADS 4
#define PER     1500

typedef struct slot {
    int rc;
    uint64_t off;
} slot;

typedef struct sub {
    sl_store *s;
    sl_log *log;
    int id;
    slot *slots;
    _Atomic int *done;
} sub;

static void slot_done(void *arg, int rc, const sl_log_entry *e)
{
    slot *sl = arg;
    sl->rc = rc;
    sl->off = e->offset;
}

static void *submitter(void *arg)
{
    sub *t = arg;
    char buf[64];
    for (int i = 0; i < PER; i++) {
        int n = snprintf(buf, sizeof(buf), "t%d-%d", t->id, i);
        struct iovec iov = {buf, (size_t)n};
        sl_append a = {
            .log = t->log, .iov = &iov, .iovcnt = 1, .done = slot_done, .arg = &t->slots[i]};
        t->slots[i].rc = 1;
        if (sl_writer_submit_wait(sl_store_writer(t->s), &a) != 0)
            abort();
    }
    return NULL;
}

static void test_concurrent_submitters(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 16384, .queue_max_ops = 256};
    sl_store *s = NULL;
    sl_log *logs[2];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "c/0", &logs[0]), 0);
    assert_int_equal(sl_store_log_open(s, "c/1", &logs[1]), 0);
    pthread_t th[THREADS];
    sub subs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        subs[i] = (sub){.s = s, .log = logs[i % 2], .id = i};
        subs[i].slots = calloc(PER, sizeof(slot));
        pthread_create(&th[i], NULL, submitter, &subs[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    sl_store_stats st;
    sl_store_close(s); /* drains */
    (void)st;

    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    sl_store_stats_get(s, &st);
    for (int i = 0; i < THREADS; i++) {
        sl_log *log;
        assert_int_equal(sl_store_log_open(s, i % 2 ? "c/1" : "c/0", &log), 0);
        uint64_t prev = 0;
        for (int k = 0; k < PER; k++) {
            slot *sl = &subs[i].slots[k];
            assert_int_equal(sl->rc, 0);
            /* One submitter's entries keep its order. */
            if (k > 0)
                assert_true(sl->off > prev);
            prev = sl->off;
            sl_log_entry e;
            sl_buf b = SL_BUF_INIT;
            char want[64];
            int n = snprintf(want, sizeof(want), "t%d-%d", i, k);
            assert_int_equal(sl_log_read(log, sl->off, &e, &b), 0);
            assert_int_equal(b.len, n);
            assert_memory_equal(b.data, want, n);
            sl_buf_cleanup(&b);
        }
        free(subs[i].slots);
    }
    for (int i = 0; i < 2; i++) {
        sl_log *log;
        assert_int_equal(sl_store_log_open(s, i ? "c/1" : "c/0", &log), 0);
        assert_int_equal(count_entries(log), THREADS / 2 * PER);
    }
    sl_store_close(s);
    rm_rf(dir);
}

/* ---- back-pressure and SQL */
static sem_t gate;

static int blocking_fn(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    sem_wait(&gate);
    return 0;
}

static void test_backpressure(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.queue_max_ops = 4, .queue_max_bytes = 1000};
    sl_store *s = NULL;
    sl_log *log = NULL;
    sem_init(&gate, 0, 0);
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "b", &log), 0);
    sl_writer *w = sl_store_writer(s);
    counter c = {0};
    assert_int_equal(sl_writer_submit_fn(w, blocking_fn, count_done, &c), 0);
    char big[2000] = {0};
    struct iovec small = {big, 10}, large = {big, sizeof(big)};
    sl_append a = {.log = log, .iov = &small, .iovcnt = 1, .done = count_done, .arg = &c};
    sl_append b = {.log = log, .iov = &large, .iovcnt = 1, .done = count_done, .arg = &c};
    /* The blocked op still counts until it completes: a large entry exceeds the byte budget. */
    assert_int_equal(sl_writer_submit(w, &b), SL_EFULL);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sl_writer_submit(w, &a), 0);
    assert_int_equal(sl_writer_submit(w, &a), SL_EFULL); /* 4 ops in flight */
    sem_post(&gate);
    wait_count(&c, 4);
    assert_int_equal(atomic_load(&c.ok), 4);
    /* With the queue empty an entry larger than the byte budget is accepted. */
    assert_int_equal(sl_writer_submit(w, &b), 0);
    wait_count(&c, 5);
    assert_int_equal(atomic_load(&c.ok), 5);
    sl_store_close(s);
    sem_destroy(&gate);
    rm_rf(dir);
}

static void test_submit_many(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.queue_max_ops = 10};
    sl_store *s = NULL;
    sl_log *log = NULL;
    sem_init(&gate, 0, 0);
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "many", &log), 0);
    sl_writer *w = sl_store_writer(s);
    counter c = {0};
    assert_int_equal(sl_writer_submit_fn(w, blocking_fn, count_done, &c), 0);
    slot slots[12];
    sl_append a[12];
    char data[12][8];
    struct iovec iov[12];
    for (int i = 0; i < 12; i++) {
        int n = snprintf(data[i], sizeof(data[i]), "r%d", i);
        iov[i] = (struct iovec){data[i], (size_t)n};
        a[i] = (sl_append){
            .log = log, .iov = &iov[i], .iovcnt = 1, .done = slot_done, .arg = &slots[i]};
        slots[i].rc = 1;
    }
    /* 1 blocked + 12 > 10: refused as a whole, nothing queued. */
    assert_int_equal(sl_writer_submit_many(w, a, 12, 0), SL_EFULL);
    assert_int_equal(sl_writer_submit_many(w, a, 9, 0), 0);
    assert_int_equal(sl_writer_submit(w, &a[9]), SL_EFULL);
    sem_post(&gate);
    waiter wt;
    waiter_init(&wt);
    sl_append fence = {.done = waiter_done, .arg = &wt, .sql = blocking_fn};
    sem_post(&gate);
    assert_int_equal(sl_writer_submit_many(w, &fence, 1, 1), 0);
    assert_int_equal(waiter_wait(&wt), 0);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(slots[i].rc, 0);
        /* Consecutive in array order. */
        if (i > 0)
            assert_int_equal(slots[i].off, slots[i - 1].off + 32 + strlen(data[i - 1]));
    }
    assert_int_equal(slots[9].rc, 1); /* never queued, never called */
    sl_store_close(s);
    sem_destroy(&gate);
    rm_rf(dir);
}

typedef struct sql_op {
    sl_log *log;
    int fail;
    int readable_in_sql;
    int rc;
    uint64_t off;
} sql_op;

static int index_fn(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    sql_op *op = arg;
    sl_log_entry r;
    /* The entry must be durable (readable) before its index row is written. */
    op->readable_in_sql = sl_log_read(op->log, e->offset, &r, NULL) == 0;
    char sql[128];
    snprintf(sql, sizeof(sql), "INSERT INTO idx VALUES(%llu)", (unsigned long long)e->offset);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return SL_EIO;
    return op->fail ? SL_EINVAL : 0;
}

static void sql_done(void *arg, int rc, const sl_log_entry *e)
{
    sql_op *op = arg;
    op->off = e->offset;
    op->rc = rc;
}

static void test_sql_in_batch(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    sl_log *log = NULL;
    sem_init(&gate, 0, 0);
    assert_int_equal(sl_store_open(dir, &s), 0);
    const char *steps[] = {"CREATE TABLE idx(off INTEGER PRIMARY KEY)"};
    assert_int_equal(sl_store_migrate(s, "test", steps, 1), 0);
    assert_int_equal(sl_store_log_open(s, "q", &log), 0);
    sl_writer *w = sl_store_writer(s);
    counter c = {0};
    assert_int_equal(sl_writer_submit_fn(w, blocking_fn, count_done, &c), 0);
    sql_op ops[3] = {{.log = log}, {.log = log, .fail = 1}, {.log = log}};
    for (int i = 0; i < 3; i++) {
        struct iovec iov = {"rec", 3};
        sl_append a = {.log = log,
                       .iov = &iov,
                       .iovcnt = 1,
                       .sql = index_fn,
                       .done = sql_done,
                       .arg = &ops[i]};
        ops[i].rc = 1;
        assert_int_equal(sl_writer_submit(w, &a), 0);
    }
    waiter wt;
    waiter_init(&wt);
    assert_int_equal(sl_writer_submit_fn(w, blocking_fn, waiter_done, &wt), 0);
    sem_post(&gate);
    sem_post(&gate);
    assert_int_equal(waiter_wait(&wt), 0);
    assert_int_equal(ops[0].rc, 0);
    assert_int_equal(ops[1].rc, SL_EINVAL); /* its own error; its row rolled back alone */
    assert_int_equal(ops[2].rc, 0);
    for (int i = 0; i < 3; i++)
        assert_true(ops[i].readable_in_sql);
    /* The failed step's entry is still durable. */
    sl_log_entry e;
    assert_int_equal(sl_log_read(log, ops[1].off, &e, NULL), 0);
    sqlite3 *rd = NULL;
    assert_int_equal(sl_catalog_open_reader(s, &rd), 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(rd, "SELECT off FROM idx ORDER BY off", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), (sqlite3_int64)ops[0].off);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), (sqlite3_int64)ops[2].off);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    /* Readers cannot write. */
    assert_int_not_equal(sqlite3_exec(rd, "INSERT INTO idx VALUES(1)", NULL, NULL, NULL),
                         SQLITE_OK);
    sqlite3_close(rd);
    sl_store_close(s);
    sem_destroy(&gate);
    rm_rf(dir);
}

static void test_drop_and_recreate(void **state)
{
    char dir[256], p[512];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    sl_log *log = NULL, *log2 = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_log_open(s, "kinesis/st/sh", &log), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(append_sync(s, log, "old", 3, 1, NULL), 0);
    /* An append queued before the drop, one after it on the old pointer, one to the new log. */
    counter before = {0}, c = {0};
    submit_async(s, log, &before, 1);
    waiter w;
    waiter_init(&w);
    assert_int_equal(sl_store_log_drop(s, log, waiter_done, &w), 0);
    assert_int_equal(sl_store_log_open(s, "kinesis/st/sh", &log2), 0);
    assert_ptr_not_equal(log, log2);
    submit_async(s, log, &c, 1);
    sl_log_entry e;
    assert_int_equal(append_sync(s, log2, "new", 3, 1, &e), 0);
    assert_int_equal(e.offset, 0);
    assert_int_equal(waiter_wait(&w), 0);
    wait_count(&c, 1);
    wait_count(&before, 1);
    /* After the drop: SL_ENOTFOUND. Before it: written, or discarded when it shared the drop's
     * batch -- both fine, the files are gone either way. */
    assert_int_equal(atomic_load(&c.last_rc), SL_ENOTFOUND);
    assert_true(atomic_load(&before.last_rc) == 0 || atomic_load(&before.last_rc) == SL_ENOTFOUND);
    assert_int_equal(sl_log_read(log, 0, &e, NULL), SL_ENOTFOUND);
    sl_store_close(s);
    seg_path(p, sizeof(p), dir, "kinesis/st/sh", 0);
    assert_true(file_len(p) == 32 + 35); /* only the new entry */
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_log_open(s, "kinesis/st/sh", &log), 0);
    assert_int_equal(count_entries(log), 1);
    sl_store_close(s);
    rm_rf(dir);
}

/* Callbacks run on the writer thread: blocking calls there must refuse instead of deadlocking. */
typedef struct reentry {
    sl_writer *w;
    int run_sync_rc;
    int submit_rc;
    waiter done;
} reentry;

static int nop_fn(sqlite3 *db, void *arg, const sl_log_entry *e)
{
    return 0;
}

static void reenter_done(void *arg, int rc, const sl_log_entry *e)
{
    reentry *r = arg;
    r->run_sync_rc = sl_writer_run_sync(r->w, nop_fn, NULL);
    sl_append a = {.sql = nop_fn};
    r->submit_rc = sl_writer_submit_wait(r->w, &a); /* queued for the next batch, or EFULL */
    waiter_done(&r->done, rc, e);
}

static void test_callbacks_do_not_deadlock(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.queue_max_ops = 1};
    sl_store *s = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    reentry r = {.w = sl_store_writer(s)};
    waiter_init(&r.done);
    assert_int_equal(sl_writer_submit_fn(r.w, nop_fn, reenter_done, &r), 0);
    assert_int_equal(waiter_wait(&r.done), 0);
    assert_int_equal(r.run_sync_rc, SL_EINVAL);
    /* The budget (1 op) is still held by the running op: no waiting on the writer thread. */
    assert_int_equal(r.submit_rc, SL_EFULL);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_close_drains(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    sl_log *log = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_log_open(s, "d", &log), 0);
    counter c = {0};
    submit_async(s, log, &c, 300);
    sl_store_close(s);
    assert_int_equal(atomic_load(&c.done), 300);
    assert_int_equal(atomic_load(&c.ok), 300);
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_log_open(s, "d", &log), 0);
    assert_int_equal(count_entries(log), 300);
    sl_store_close(s);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sticky_write_failure),
        cmocka_unit_test(test_sticky_sync_failure),
        cmocka_unit_test(test_concurrent_submitters),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_submit_many),
        cmocka_unit_test(test_sql_in_batch),
        cmocka_unit_test(test_drop_and_recreate),
        cmocka_unit_test(test_close_drains),
        cmocka_unit_test(test_callbacks_do_not_deadlock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
