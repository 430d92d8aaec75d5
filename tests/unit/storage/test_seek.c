/* Timestamp seek: skips older segments, walks one, works after a restart and after retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage_test.h"

#define FRAME 132u /* 100-byte payloads; 7 per 1000-byte segment */

static void expect_seek(sl_log *log, int64_t ts, uint64_t want)
{
    uint64_t got = UINT64_MAX;
    assert_int_equal(sl_log_seek_ts(log, ts, &got), 0);
    if (got != want)
        fail_msg("seek(%lld) = %llu, want %llu", (long long)ts, (unsigned long long)got,
                 (unsigned long long)want);
}

static void checks(sl_log *log, unsigned n)
{
    uint64_t end = (uint64_t)n * FRAME;
    assert_int_equal(sl_log_end_offset(log), end);
    expect_seek(log, INT64_MIN, 0);
    expect_seek(log, 1000, 0);
    for (unsigned i = 1; i < n; i++) {
        expect_seek(log, 1000 * (i + 1), i * FRAME);     /* exact */
        expect_seek(log, 1000 * (i + 1) - 1, i * FRAME); /* between i-1 and i */
    }
    expect_seek(log, 1000 * (int64_t)n + 1, end);
}

static void test_seek(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 1000};
    sl_store *s = NULL;
    sl_log *log = NULL;
    char buf[100] = {0};
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "t", &log), 0);
    uint64_t off;
    assert_int_equal(sl_log_seek_ts(log, 5, &off), 0);
    assert_int_equal(off, 0);
    for (unsigned i = 0; i < 30; i++)
        assert_int_equal(append_sync(s, log, buf, 100, 1000 * (i + 1), NULL), 0);
    checks(log, 30);
    sl_store_close(s);
    /* After a restart the sealed segments' timestamps are learned by scanning. */
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "t", &log), 0);
    checks(log, 30);
    /* Retention: a seek before the first kept entry lands on it. */
    assert_int_equal(sl_log_retain(log, 2 * 7 * FRAME, INT64_MIN, NULL), 0);
    expect_seek(log, 0, 14 * FRAME);
    expect_seek(log, 20000, 19 * FRAME);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_seek_non_monotonic(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 1000};
    sl_store *s = NULL;
    sl_log *log = NULL;
    char buf[100] = {0};
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "t", &log), 0);
    /* Clock stepped back between segment 0 and segment 1. */
    for (int i = 0; i < 7; i++)
        assert_int_equal(append_sync(s, log, buf, 100, 5000 + i, NULL), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(append_sync(s, log, buf, 100, 100 + i, NULL), 0);
    assert_int_equal(append_sync(s, log, buf, 100, 9000, NULL), 0);
    expect_seek(log, 200, 0);          /* entry 0 is the first with ts >= 200 */
    expect_seek(log, 5003, 3 * FRAME); /* inside segment 0 */
    expect_seek(log, 6000, 14 * FRAME);
    sl_store_close(s);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_seek_non_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
