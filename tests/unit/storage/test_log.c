/* Log framing, roll-over, reads at every offset, iteration, reopen, CRC detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>

#include "storage_test.h"

#define N 200

static size_t size_of(unsigned i)
{
    /* 0, small, and a few larger ones */
    return (i % 17 == 0) ? 0 : (i % 23 == 0) ? 5000 + i : 1 + (i * 37) % 300;
}

/* Appends N entries of varied sizes; returns their offsets in offs. */
static void append_many(sl_store *s, sl_log *log, uint64_t *offs)
{
    char buf[6000];
    for (unsigned i = 0; i < N; i++) {
        size_t n = size_of(i);
        fill_payload(buf, n, i);
        sl_log_entry e;
        assert_int_equal(append_sync(s, log, buf, n, 1000 + i, &e), 0);
        offs[i] = e.offset;
        assert_int_equal(e.len, n);
        assert_int_equal(e.next_offset, e.offset + 32 + n);
        if (i > 0)
            assert_int_equal(offs[i], offs[i - 1] + 32 + size_of(i - 1));
    }
}

static void check_all(sl_log *log, const uint64_t *offs)
{
    char want[6000];
    sl_buf b = SL_BUF_INIT;
    uint64_t off = sl_log_first_offset(log);
    assert_int_equal(off, 0);
    for (unsigned i = 0; i < N; i++) {
        sl_log_entry e;
        sl_buf_reset(&b);
        assert_int_equal(off, offs[i]);
        assert_int_equal(sl_log_read(log, off, &e, &b), 0);
        size_t n = size_of(i);
        fill_payload(want, n, i);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, want, n);
        assert_int_equal(e.ts_ns, 1000 + i);
        off = e.next_offset;
    }
    assert_int_equal(off, sl_log_end_offset(log));
    sl_log_entry e;
    assert_int_equal(sl_log_read(log, off, &e, &b), SL_EAGAIN);
    uint64_t last;
    assert_int_equal(sl_log_last_offset(log, &last), 0);
    assert_int_equal(last, offs[N - 1]);
    sl_buf_cleanup(&b);
}

static void test_round_trip_roll_reopen(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 4096};
    sl_store *s = NULL;
    sl_log *log = NULL;
    uint64_t offs[N];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "kinesis/st-1/shardId-000000000000", &log), 0);
    uint64_t last;
    assert_int_equal(sl_log_last_offset(log, &last), SL_ENOTFOUND);
    assert_int_equal(sl_log_end_offset(log), 0);
    append_many(s, log, offs);
    check_all(log, offs);
    size_t segs = sl_log_segment_count(log);
    /* ~40 KB with 4 KiB segments; big entries sit alone in a segment. */
    assert_true(segs > 8);
    /* Segments are named by their first offset, and no segment (except one holding a single
     * big entry) exceeds segment_bytes + header. */
    char p[512];
    seg_path(p, sizeof(p), dir, "kinesis/st-1/shardId-000000000000", 0);
    assert_true(file_len(p) > 32);
    sl_store_stats st;
    sl_store_stats_get(s, &st);
    assert_int_equal(st.appends, N);
    assert_true(st.fsyncs >= N);
    assert_true(st.bytes_on_disk > 40000);
    sl_store_close(s);

    /* Reopen: everything recovered, appends continue at the end. */
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "kinesis/st-1/shardId-000000000000", &log), 0);
    assert_int_equal(sl_log_segment_count(log), segs);
    check_all(log, offs);
    sl_log_entry e;
    uint64_t end = sl_log_end_offset(log);
    assert_int_equal(append_sync(s, log, "x", 1, 5, &e), 0);
    assert_int_equal(e.offset, end);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_reads_at_every_offset(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 2048};
    sl_store *s = NULL;
    sl_log *log = NULL;
    uint64_t offs[N];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "a", &log), 0);
    append_many(s, log, offs);
    uint64_t end = sl_log_end_offset(log);
    unsigned k = 0, boundaries = 0;
    for (uint64_t off = 0; off < end + 3; off++) {
        sl_log_entry e;
        int rc = sl_log_read(log, off, &e, NULL);
        if (off >= end) {
            assert_int_equal(rc, SL_EAGAIN);
        } else if (k < N && off == offs[k]) {
            assert_int_equal(rc, 0);
            assert_int_equal(e.len, size_of(k));
            k++;
            boundaries++;
        } else {
            /* Inside an entry: never mistaken for one (magic + offset field + CRC). */
            assert_int_equal(rc, SL_ECORRUPT);
        }
    }
    assert_int_equal(boundaries, N);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_crc_corruption_detected(void **state)
{
    char dir[256], p[512];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 1 << 20};
    sl_store *s = NULL;
    sl_log *log = NULL;
    uint64_t offs[N];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "c", &log), 0);
    append_many(s, log, offs);
    /* Flip one payload byte of entry 5 (size_of(5) > 0) in place. */
    seg_path(p, sizeof(p), dir, "c", 0);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    off_t pos = (off_t)(32 + offs[5] + 32 + 2);
    char c;
    assert_int_equal(pread(fd, &c, 1, pos), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, pos), 1);
    close(fd);
    sl_buf b = SL_BUF_INIT;
    sl_log_entry e;
    assert_int_equal(sl_log_read(log, offs[5], &e, &b), SL_ECORRUPT);
    assert_int_equal(sl_log_read(log, offs[6], &e, &b), 0);
    /* Header-only reads do not check the payload. */
    assert_int_equal(sl_log_read(log, offs[5], &e, NULL), 0);
    sl_buf_cleanup(&b);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_names(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    sl_log *a = NULL, *b = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    const char *bad[] = {"", "/a", "a/", "a//b", "..", "a/../b", "a b", "a/./b", "x\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sl_store_log_open(s, bad[i], &a), SL_EINVAL);
    assert_int_equal(sl_store_log_open(s, "video/cam-1.x_y", &a), 0);
    assert_int_equal(sl_store_log_open(s, "video/cam-1.x_y", &b), 0);
    assert_ptr_equal(a, b);
    assert_string_equal(sl_log_name(a), "video/cam-1.x_y");
    sl_store_close(s);
    rm_rf(dir);
}

static void test_empty_and_iovecs(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    sl_log *log = NULL;
    assert_int_equal(sl_store_open(dir, &s), 0);
    assert_int_equal(sl_store_log_open(s, "v", &log), 0);
    waiter w;
    waiter_init(&w);
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
    sl_append a = {.log = log, .iov = iov, .iovcnt = 3, .done = waiter_done, .arg = &w};
    assert_int_equal(sl_writer_submit(sl_store_writer(s), &a), 0);
    assert_int_equal(waiter_wait(&w), 0);
    assert_true(w.e.ts_ns > 0); /* stamped at submit */
    sl_buf b = SL_BUF_INIT;
    sl_log_entry e;
    assert_int_equal(sl_log_read(log, 0, &e, &b), 0);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "abcde", 5);
    sl_buf_cleanup(&b);
    /* Too big is refused at submit. */
    struct iovec big = {NULL, (size_t)SL_LOG_ENTRY_MAX + 1};
    sl_append a2 = {.log = log, .iov = &big, .iovcnt = 1};
    assert_int_equal(sl_writer_submit(sl_store_writer(s), &a2), SL_ETOOBIG);
    sl_store_close(s);
    rm_rf(dir);
}

static void test_read_many(void **state)
{
    char dir[256];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 4096};
    sl_store *s = NULL;
    sl_log *log = NULL;
    uint64_t offs[N];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "m", &log), 0);
    append_many(s, log, offs);
    size_t limits[] = {1, 100, 700, 4096, 1 << 20};
    size_t items_max[] = {1, 3, 64};
    char want[6000];
    sl_buf b = SL_BUF_INIT;
    sl_log_item items[64];
    for (size_t li = 0; li < sizeof(limits) / sizeof(limits[0]); li++) {
        for (size_t mi = 0; mi < sizeof(items_max) / sizeof(items_max[0]); mi++) {
            uint64_t off = 0;
            unsigned k = 0, calls = 0;
            for (;;) {
                size_t n = 0;
                int rc = sl_log_read_many(log, off, limits[li], items, items_max[mi], &b, &n);
                if (rc == SL_EAGAIN)
                    break;
                assert_int_equal(rc, 0);
                assert_true(n >= 1 && n <= items_max[mi]);
                calls++;
                for (size_t j = 0; j < n; j++, k++) {
                    assert_int_equal(items[j].e.offset, offs[k]);
                    assert_int_equal(items[j].e.len, size_of(k));
                    assert_int_equal(items[j].e.ts_ns, 1000 + k);
                    fill_payload(want, size_of(k), k);
                    assert_memory_equal(items[j].payload, want, size_of(k));
                }
                off = items[n - 1].e.next_offset;
            }
            assert_int_equal(k, N);
            /* Batching happens when limits allow it. */
            if (limits[li] >= 4096 && items_max[mi] == 64)
                assert_true(calls < N / 4);
        }
    }
    /* Mid-entry offsets are refused, trimmed ones too. */
    size_t n;
    assert_int_equal(sl_log_read_many(log, offs[3] + 1, 4096, items, 8, &b, &n), SL_ECORRUPT);
    assert_int_equal(n, 0);
    sl_buf_cleanup(&b);
    sl_store_close(s);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_roll_reopen),
        cmocka_unit_test(test_reads_at_every_offset),
        cmocka_unit_test(test_crc_corruption_detected),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_empty_and_iovecs),
        cmocka_unit_test(test_read_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
