/* Recovery at open: torn tails are cut, corrupt tails are cut, empty trailing segments go,
 * gaps and damaged sealed segments refuse to open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "storage_test.h"

#define LOGN "kinesis/s/shard-0"

/* Writes n entries of 100 bytes; returns the end offset. */
static uint64_t fill(const char *dir, const sl_store_options *o, unsigned n)
{
    sl_store *s = NULL;
    sl_log *log = NULL;
    char buf[100];
    assert_int_equal(sl_store_open_with(dir, o, &s), 0);
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    for (unsigned i = 0; i < n; i++) {
        fill_payload(buf, sizeof(buf), i);
        assert_int_equal(append_sync(s, log, buf, sizeof(buf), i + 1, NULL), 0);
    }
    uint64_t end = sl_log_end_offset(log);
    sl_store_close(s);
    return end;
}

/* Reopens and checks entries 0..n-1 are intact and the end is `end`. */
static void verify(const char *dir, const sl_store_options *o, unsigned n, uint64_t end)
{
    sl_store *s = NULL;
    sl_log *log = NULL;
    char want[100];
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_store_open_with(dir, o, &s), 0);
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    assert_int_equal(sl_log_end_offset(log), end);
    uint64_t off = sl_log_first_offset(log);
    for (unsigned i = 0; i < n; i++) {
        sl_log_entry e;
        sl_buf_reset(&b);
        assert_int_equal(sl_log_read(log, off, &e, &b), 0);
        fill_payload(want, sizeof(want), i);
        assert_memory_equal(b.data, want, sizeof(want));
        off = e.next_offset;
    }
    assert_int_equal(off, end);
    /* And the log keeps working where it stopped. */
    sl_log_entry e;
    assert_int_equal(append_sync(s, log, "tail", 4, 9, &e), 0);
    assert_int_equal(e.offset, end);
    sl_buf_reset(&b);
    assert_int_equal(sl_log_read(log, end, &e, &b), 0);
    assert_memory_equal(b.data, "tail", 4);
    sl_buf_cleanup(&b);
    sl_store_close(s);
}

static void append_raw(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void marker_path(char *out, size_t cap, const char *dir)
{
    snprintf(out, cap, "%s/logs/%s/clean", dir, LOGN);
}

static void marker_remove(const char *dir)
{
    char p[512];
    marker_path(p, sizeof(p), dir);
    assert_int_equal(unlink(p), 0);
}

static void test_garbage_tail(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {0};
    tmp_dir(dir, sizeof(dir));
    uint64_t end = fill(dir, &o, 50);
    /* A clean shutdown left its marker; the garbage changes the tail's size, so it is ignored. */
    marker_path(p, sizeof(p), dir);
    assert_int_equal(file_len(p), 48);
    seg_path(p, sizeof(p), dir, LOGN, 0);
    long before = file_len(p);
    append_raw(p, "garbage garbage garbage garbage garbage garbage", 47);
    verify(dir, &o, 50, end);
    assert_int_equal(file_len(p), before + 32 + 4); /* cut, then the "tail" entry */
    rm_rf(dir);
}

static void test_half_entry_tail(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {0};
    tmp_dir(dir, sizeof(dir));
    uint64_t end = fill(dir, &o, 50);
    seg_path(p, sizeof(p), dir, LOGN, 0);
    /* A real entry written by the log, then cut in half: take the last entry's bytes. */
    int fd = open(p, O_RDONLY);
    char ent[132];
    assert_int_equal(pread(fd, ent, sizeof(ent), (off_t)(32 + end - 132)), 132);
    close(fd);
    /* Re-frame it as the next offset so only the missing half makes it invalid. */
    for (int i = 0; i < 8; i++)
        ent[8 + i] = (char)((end >> (8 * i)) & 0xff);
    append_raw(p, ent, 70); /* header + 38 of 100 payload bytes */
    verify(dir, &o, 50, end);
    rm_rf(dir);
}

static void test_half_header_tail(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {0};
    tmp_dir(dir, sizeof(dir));
    uint64_t end = fill(dir, &o, 3);
    seg_path(p, sizeof(p), dir, LOGN, 0);
    append_raw(p, "SLE1", 4);
    verify(dir, &o, 3, end);
    rm_rf(dir);
}

static void test_corrupt_last_entry_cut(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {0};
    tmp_dir(dir, sizeof(dir));
    uint64_t end = fill(dir, &o, 20);
    seg_path(p, sizeof(p), dir, LOGN, 0);
    marker_remove(dir); /* as after a crash: no clean shutdown */
    /* Flip a payload byte of the last entry: recovery cuts that entry (it is the torn tail). */
    int fd = open(p, O_RDWR);
    char c;
    off_t pos = (off_t)(32 + end - 10);
    assert_int_equal(pread(fd, &c, 1, pos), 1);
    c ^= 1;
    assert_int_equal(pwrite(fd, &c, 1, pos), 1);
    close(fd);
    verify(dir, &o, 19, end - 132);
    rm_rf(dir);
}

static void test_empty_and_torn_trailing_segments(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {.segment_bytes = 1000};
    tmp_dir(dir, sizeof(dir));
    uint64_t end = fill(dir, &o, 30); /* 7 entries per segment */
    /* A trailing segment with only a torn header (crash while rolling). */
    seg_path(p, sizeof(p), dir, LOGN, end);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    assert_int_equal(write(fd, "SLUSEG01\0\0", 10), 10);
    close(fd);
    verify(dir, &o, 30, end);
    /* Removed; the "tail" entry fit in the previous segment (2 of 7 entries used). */
    assert_int_equal(file_len(p), -1);
    rm_rf(dir);
}

static void test_only_segment_torn_header_keeps_offsets(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {.segment_bytes = 1000};
    tmp_dir(dir, sizeof(dir));
    fill(dir, &o, 30); /* segments 0, 924, 1848, 2772, 3696 */
    sl_store *s = NULL;
    sl_log *log = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    assert_int_equal(sl_log_retain(log, UINT64_MAX, INT64_MIN, NULL), 0);
    assert_int_equal(sl_log_segment_count(log), 1);
    sl_store_close(s);
    /* The tail, now the only segment, loses its header (power cut right after a roll). */
    seg_path(p, sizeof(p), dir, LOGN, 3696);
    assert_int_equal(truncate(p, 10), 0);
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    assert_int_equal(sl_log_first_offset(log), 3696);
    assert_int_equal(sl_log_end_offset(log), 3696); /* its entries were cut, the base stays */
    sl_log_entry e;
    assert_int_equal(append_sync(s, log, "n", 1, 1, &e), 0);
    assert_int_equal(e.offset, 3696); /* not 0: offsets are never handed out twice */
    sl_store_close(s);
    rm_rf(dir);
}

static void test_clean_marker_skips_scan(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {0};
    tmp_dir(dir, sizeof(dir));
    uint64_t end = fill(dir, &o, 20);
    /* Damage the middle of the tail in place (same size): a scan would cut there, the marker
     * says the tail was synced whole at shutdown, so no scan runs and nothing is cut. Reads still
     * check each entry's CRC. */
    seg_path(p, sizeof(p), dir, LOGN, 0);
    int fd = open(p, O_RDWR);
    assert_int_equal(pwrite(fd, "\xff", 1, (off_t)(32 + 5 * 132 + 40)), 1);
    close(fd);
    sl_store *s = NULL;
    sl_log *log = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    marker_path(p, sizeof(p), dir);
    assert_int_equal(file_len(p), -1); /* consumed at open */
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    assert_int_equal(sl_log_end_offset(log), end);
    uint64_t last;
    assert_int_equal(sl_log_last_offset(log, &last), 0);
    assert_int_equal(last, end - 132);
    sl_log_entry e;
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_log_read(log, 5 * 132, &e, &b), SL_ECORRUPT);
    sl_buf_reset(&b);
    assert_int_equal(sl_log_read(log, 6 * 132, &e, &b), 0);
    sl_buf_cleanup(&b);
    /* Appends continue at the end; a crash now (no close) leaves no marker behind. */
    assert_int_equal(append_sync(s, log, "more", 4, 1, &e), 0);
    assert_int_equal(e.offset, end);
    sl_store_close(s);
    rm_rf(dir);
}

/* The writer zero-fills the tail ahead of its end (log.c, "Preallocation"): the zeros are on disk
 * while the store runs, gone after a clean close, cut at open after a crash; a torn entry in the
 * zeros is cut with them. */
static void test_preallocated_tail(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {0};
    tmp_dir(dir, sizeof(dir));
    seg_path(p, sizeof(p), dir, LOGN, 0);
    uint64_t end = 0;
    /* A child process appends and dies without closing, as under kill -9. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sl_store *s = NULL;
        sl_log *log = NULL;
        char buf[100];
        if (sl_store_open_with(dir, &o, &s) != 0 || sl_store_log_open(s, LOGN, &log) != 0)
            _exit(2);
        for (unsigned i = 0; i < 40; i++) {
            fill_payload(buf, sizeof(buf), i);
            if (append_sync(s, log, buf, sizeof(buf), i + 1, NULL) != 0)
                _exit(3);
        }
        /* The first append found no zeros ahead and wrote 256 KiB of them past its end; the
         * others wrote over them. */
        _exit(file_len(p) == 32 + 132 + (256 << 10) ? 0 : 4);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    end = 40 * 132;
    verify(dir, &o, 40, end);                     /* the zeros are cut, the entries all read back */
    assert_int_equal(file_len(p), 32 + end + 36); /* a clean close cuts them too */

    /* A torn entry (header and part of its payload) in front of the zeros goes with them. */
    int fd = open(p, O_RDWR);
    char ent[132];
    assert_int_equal(pread(fd, ent, sizeof(ent), 32), 132);
    close(fd);
    uint64_t at = end + 36;
    for (int i = 0; i < 8; i++)
        ent[8 + i] = (char)((at >> (8 * i)) & 0xff);
    static const char zeros[70000];
    marker_remove(dir);
    append_raw(p, ent, 70);
    append_raw(p, zeros, sizeof(zeros));
    sl_store *s = NULL;
    sl_log *log = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    assert_int_equal(sl_log_end_offset(log), at);
    assert_int_equal(file_len(p), 32 + at);
    sl_store_close(s);

    /* Small segments: each sealed one is cut to its end before the next exists, so a reopen that
     * scans (no marker) finds no gap. */
    rm_rf(dir);
    tmp_dir(dir, sizeof(dir));
    o.segment_bytes = 1000;
    end = fill(dir, &o, 30);
    for (uint64_t base = 0; base < end; base += 924) {
        seg_path(p, sizeof(p), dir, LOGN, base);
        assert_int_equal(file_len(p), 32 + (base + 924 <= end ? 924 : end - base));
    }
    marker_remove(dir);
    verify(dir, &o, 30, end);
    rm_rf(dir);
}

/* A disk too full for the zeros: the entries are written and acknowledged, the segment appends
 * from then on, nothing turns read-only. */
static _Atomic int big_writes_refused;

static ssize_t full_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
    size_t len = 0;
    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (len > 32768) {
        atomic_fetch_add(&big_writes_refused, 1);
        errno = ENOSPC;
        return -1;
    }
    return pwritev(fd, iov, n, off);
}

static void test_preallocation_disk_full(void **state)
{
    char dir[256], p[512];
    sl_vfs full = sl_vfs_posix;
    full.pwritev = full_pwritev;
    sl_store_options o = {.vfs = &full};
    tmp_dir(dir, sizeof(dir));
    sl_store *s = NULL;
    sl_log *log = NULL;
    char buf[100];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, LOGN, &log), 0);
    seg_path(p, sizeof(p), dir, LOGN, 0);
    for (unsigned i = 0; i < 20; i++) {
        fill_payload(buf, sizeof(buf), i);
        assert_int_equal(append_sync(s, log, buf, sizeof(buf), i + 1, NULL), 0);
        assert_int_equal(file_len(p), 32 + (i + 1) * 132); /* no zeros, nothing half-written */
    }
    assert_int_equal(atomic_load(&big_writes_refused), 1); /* tried once for this segment */
    sl_store_close(s);
    o.vfs = NULL;
    verify(dir, &o, 20, 20 * 132);
    rm_rf(dir);
}

static void test_gap_refused(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {.segment_bytes = 1000};
    tmp_dir(dir, sizeof(dir));
    fill(dir, &o, 30);
    /* Remove a middle segment: the log has a hole, opening must fail loudly. */
    seg_path(p, sizeof(p), dir, LOGN, 924); /* 7 * 132 = 924: the second segment */
    assert_true(file_len(p) > 0);
    assert_int_equal(unlink(p), 0);
    sl_store *s = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), SL_ECORRUPT);
    rm_rf(dir);
}

static void test_damaged_sealed_header_refused(void **state)
{
    char dir[256], p[512];
    sl_store_options o = {.segment_bytes = 1000};
    tmp_dir(dir, sizeof(dir));
    fill(dir, &o, 30);
    seg_path(p, sizeof(p), dir, LOGN, 0);
    int fd = open(p, O_RDWR);
    assert_int_equal(pwrite(fd, "X", 1, 3), 1);
    close(fd);
    sl_store *s = NULL;
    assert_int_equal(sl_store_open_with(dir, &o, &s), SL_ECORRUPT);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_tail),
        cmocka_unit_test(test_half_entry_tail),
        cmocka_unit_test(test_half_header_tail),
        cmocka_unit_test(test_corrupt_last_entry_cut),
        cmocka_unit_test(test_empty_and_torn_trailing_segments),
        cmocka_unit_test(test_only_segment_torn_header_keeps_offsets),
        cmocka_unit_test(test_clean_marker_skips_scan),
        cmocka_unit_test(test_preallocated_tail),
        cmocka_unit_test(test_preallocation_disk_full),
        cmocka_unit_test(test_gap_refused),
        cmocka_unit_test(test_damaged_sealed_header_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
