/* Retention removes whole segments from the front only, by offset or by age. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdatomic.h>

#include "storage_test.h"

/* 100-byte entries (132-byte frames), 7 per 1000-byte segment. */
static sl_store *open_filled(const char *dir, unsigned n, sl_log **log)
{
    sl_store_options o = {.segment_bytes = 1000};
    sl_store *s = NULL;
    char buf[100];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "r", log), 0);
    for (unsigned i = 0; i < n; i++) {
        fill_payload(buf, sizeof(buf), i);
        /* timestamps 1000, 2000, ... */
        if (n)
            assert_int_equal(append_sync(s, *log, buf, sizeof(buf), 1000 * (i + 1), NULL), 0);
    }
    return s;
}

static void test_by_offset(void **state)
{
    char dir[256], p[512];
    tmp_dir(dir, sizeof(dir));
    sl_log *log;
    sl_store *s = open_filled(dir, 30, &log); /* segments at 0, 924, 1848, 2772, 3696 */
    assert_int_equal(sl_log_segment_count(log), 5);
    uint64_t freed = 0;
    /* 2000 is inside the third segment: only the first two lie wholly before it. */
    assert_int_equal(sl_log_retain(log, 2000, INT64_MIN, &freed), 0);
    assert_int_equal(freed, 2 * (32 + 924));
    assert_int_equal(sl_log_segment_count(log), 3);
    assert_int_equal(sl_log_first_offset(log), 1848);
    seg_path(p, sizeof(p), dir, "r", 0);
    assert_int_equal(file_len(p), -1);
    seg_path(p, sizeof(p), dir, "r", 924);
    assert_int_equal(file_len(p), -1);
    sl_log_entry e;
    assert_int_equal(sl_log_read(log, 0, &e, NULL), SL_ERANGE);
    assert_int_equal(sl_log_read(log, 1848, &e, NULL), 0);
    /* Everything: the tail segment stays, offsets keep growing. */
    uint64_t end = sl_log_end_offset(log);
    assert_int_equal(sl_log_retain(log, UINT64_MAX, INT64_MIN, NULL), 0);
    assert_int_equal(sl_log_segment_count(log), 1);
    assert_int_equal(sl_log_first_offset(log), 3696);
    assert_int_equal(append_sync(s, log, "z", 1, 1, &e), 0);
    assert_int_equal(e.offset, end);
    sl_store_close(s);
    /* Survives a restart. */
    sl_store_options o = {.segment_bytes = 1000};
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "r", &log), 0);
    assert_int_equal(sl_log_first_offset(log), 3696);
    assert_int_equal(sl_log_end_offset(log), end + 33);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_by_time_after_reopen(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_log *log;
    sl_store *s = open_filled(dir, 30, &log);
    sl_store_close(s);
    /* After a restart the sealed segments' newest timestamps are unknown: retention scans. */
    sl_store_options o = {.segment_bytes = 1000};
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "r", &log), 0);
    /* Segment 0 holds ts 1000..7000, segment 1 8000..14000. Older than 14000 removes only #0:
     * segment 1's newest entry (14000) is not older. */
    assert_int_equal(sl_log_retain(log, 0, 14000, NULL), 0);
    assert_int_equal(sl_log_first_offset(log), 924);
    assert_int_equal(sl_log_retain(log, 0, 14001, NULL), 0);
    assert_int_equal(sl_log_first_offset(log), 1848);
    /* Nothing is old enough: no change. */
    assert_int_equal(sl_log_retain(log, 0, 100, NULL), 0);
    assert_int_equal(sl_log_first_offset(log), 1848);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_front_only(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_log *log;
    sl_store_options o = {.segment_bytes = 1000};
    sl_store *s = NULL;
    char buf[100] = {0};
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "r", &log), 0);
    /* Segment 0: new entries (ts 10^9), segment 1: old entries (ts 1). */
    for (int i = 0; i < 7; i++)
        assert_int_equal(append_sync(s, log, buf, 100, 1000000000, NULL), 0);
    for (int i = 0; i < 14; i++)
        assert_int_equal(append_sync(s, log, buf, 100, 1, NULL), 0);
    assert_int_equal(sl_log_segment_count(log), 3);
    /* Segment 1 is old but segment 0 is not: nothing may go (no hole in the middle). */
    assert_int_equal(sl_log_retain(log, 0, 500, NULL), 0);
    assert_int_equal(sl_log_segment_count(log), 3);
    assert_int_equal(sl_log_first_offset(log), 0);
    sl_store_close(s);
    rm_rf(dir);
}

/* Readers tail the log while the writer appends (rolling segments) and retention trims the front:
 * a reader sees each entry whole and intact, or SL_ERANGE once it was trimmed, never garbage. */
typedef struct race {
    sl_store *s;
    sl_log *log;
    _Atomic int stop;
    _Atomic long reads, trimmed;
    _Atomic int bad;
} race;

static void *race_reader(void *arg)
{
    race *r = arg;
    sl_buf b = SL_BUF_INIT;
    char want[300];
    uint64_t off = 0;
    while (!atomic_load(&r->stop)) {
        sl_log_entry e;
        sl_buf_reset(&b);
        int rc = sl_log_read(r->log, off, &e, &b);
        if (rc == SL_EAGAIN)
            continue;
        if (rc == SL_ERANGE) {
            atomic_fetch_add(&r->trimmed, 1);
            off = sl_log_first_offset(r->log);
            continue;
        }
        unsigned i;
        if (rc != 0 || b.len < 4) {
            atomic_store(&r->bad, rc ? rc : -1);
            break;
        }
        memcpy(&i, b.data, 4);
        fill_payload(want, b.len - 4, i);
        if (b.len != 4 + (i % 250) || memcmp(b.data + 4, want, b.len - 4) != 0) {
            atomic_store(&r->bad, -2);
            break;
        }
        atomic_fetch_add(&r->reads, 1);
        off = e.next_offset;
    }
    sl_buf_cleanup(&b);
    return NULL;
}

static void *race_trimmer(void *arg)
{
    race *r = arg;
    while (!atomic_load(&r->stop)) {
        uint64_t end = sl_log_end_offset(r->log);
        if (sl_log_retain(r->log, end > 3000 ? end - 3000 : 0, INT64_MIN, NULL) != 0)
            atomic_store(&r->bad, -3);
        usleep(200);
    }
    return NULL;
}

static void test_readers_during_appends_and_retention(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 1024};
    race r = {0};
    assert_int_equal(sl_store_open_with(dir, &o, &r.s), 0);
    assert_int_equal(sl_store_log_open(r.s, "race", &r.log), 0);
    pthread_t th[3];
    pthread_create(&th[0], NULL, race_reader, &r);
    pthread_create(&th[1], NULL, race_reader, &r);
    pthread_create(&th[2], NULL, race_trimmer, &r);
    char buf[300];
    for (unsigned i = 0; i < 3000 && !atomic_load(&r.bad); i++) {
        size_t n = i % 250;
        memcpy(buf, &i, 4);
        fill_payload(buf + 4, n, i);
        struct iovec iov = {buf, 4 + n};
        sl_append a = {.log = r.log, .iov = &iov, .iovcnt = 1};
        assert_int_equal(sl_writer_submit_wait(sl_store_writer(r.s), &a), 0);
    }
    /* Let the readers catch up with the last durable entry. */
    waiter w;
    waiter_init(&w);
    sl_append last = {.log = r.log,
                      .iov = (struct iovec[]){{"\0\0\0\0", 4}},
                      .iovcnt = 1,
                      .done = waiter_done,
                      .arg = &w};
    assert_int_equal(sl_writer_submit_wait(sl_store_writer(r.s), &last), 0);
    assert_int_equal(waiter_wait(&w), 0);
    usleep(100000);
    atomic_store(&r.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
    assert_true(atomic_load(&r.reads) > 0);
    assert_true(sl_log_first_offset(r.log) > 0);
    print_message("reads %ld, trimmed under a reader %ld, segments left %zu\n",
                  atomic_load(&r.reads), atomic_load(&r.trimmed), sl_log_segment_count(r.log));
    sl_store_close(r.s);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_offset),
        cmocka_unit_test(test_by_time_after_reopen),
        cmocka_unit_test(test_front_only),
        cmocka_unit_test(test_readers_during_appends_and_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
