/* Model test: random appends, reads, batch reads, retention, restarts and torn-tail injections
 * against a trivial in-memory model of the log. Prints its seed; rerun one with SL_SEED=<n>. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <time.h>

#include "sluice/log.h"
#include "storage_test.h"

#define OPS  3000
#define MAXE 4000

typedef struct ment {
    uint64_t off;
    uint32_t len;
    unsigned id;
    int64_t ts;
} ment;

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static void check_entry(sl_log *log, const ment *m, sl_buf *b)
{
    static char want[3100];
    sl_log_entry e;
    sl_buf_reset(b);
    int rc = sl_log_read(log, m->off, &e, b);
    if (rc != 0)
        fail_msg("read of entry %u at %llu: %s", m->id, (unsigned long long)m->off,
                 sl_err_name(rc));
    fill_payload(want, m->len, m->id);
    assert_int_equal(e.len, m->len);
    assert_int_equal(e.ts_ns, m->ts);
    assert_memory_equal(b->data, want, m->len);
}

static void test_model(void **state)
{
    const char *env = getenv("SL_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    rng_state = seed * 2654435761u + 1;
    print_message("model seed %llu (rerun with SL_SEED=%llu)\n", (unsigned long long)seed,
                  (unsigned long long)seed);
    char dir[256], p[512];
    tmp_dir(dir, sizeof(dir));
    sl_store_options o = {.segment_bytes = 2048};
    sl_store *s = NULL;
    sl_log *log = NULL;
    static ment model[OPS];
    size_t n = 0, first = 0;
    unsigned restarts = 0, torn = 0, trims = 0;
    char buf[3100];
    sl_buf b = SL_BUF_INIT;
    sl_log_item items[16];
    assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
    assert_int_equal(sl_store_log_open(s, "model/x", &log), 0);
    for (int op = 0; op < OPS; op++) {
        uint32_t what = rnd(100);
        if (what < 55) { /* append */
            uint32_t len = rnd(8) == 0 ? rnd(3000) : rnd(200);
            int64_t ts = 1 + (int64_t)op * 10;
            fill_payload(buf, len, (unsigned)op);
            sl_log_entry e = {0};
            assert_int_equal(append_sync(s, log, buf, len, ts, &e), 0);
            if (n > 0)
                assert_int_equal(e.offset, model[n - 1].off + 32 + model[n - 1].len);
            model[n++] = (ment){e.offset, len, (unsigned)op, ts};
        } else if (what < 75 && n > first) { /* read one */
            check_entry(log, &model[first + rnd((uint32_t)(n - first))], &b);
        } else if (what < 85 && n > first) { /* batch read from a random entry */
            size_t k = first + rnd((uint32_t)(n - first)), got = 0;
            int rc =
                sl_log_read_many(log, model[k].off, 1 + rnd(5000), items, 1 + rnd(16), &b, &got);
            assert_int_equal(rc, 0);
            for (size_t j = 0; j < got; j++) {
                const ment *m = &model[k + j];
                assert_int_equal(items[j].e.offset, m->off);
                fill_payload(buf, m->len, m->id);
                assert_memory_equal(items[j].payload, buf, m->len);
            }
        } else if (what < 90 && n > first) { /* retention before a random entry */
            size_t k = first + rnd((uint32_t)(n - first));
            assert_int_equal(sl_log_retain(log, model[k].off, INT64_MIN, NULL), 0);
            uint64_t f = sl_log_first_offset(log);
            assert_true(f <= model[k].off);
            while (first < n && model[first].off < f)
                first++;
            if (first < n)
                assert_int_equal(model[first].off, f);
            trims++;
        } else if (what < 97) { /* restart, sometimes with garbage after the last entry */
            sl_store_close(s);
            if (rnd(2) && n > 0) {
                /* Segments are named by the offset of their first entry: the newest entry offset
                 * that names an existing file is the tail segment. */
                for (size_t k = n; k-- > first;) {
                    seg_path(p, sizeof(p), dir, "model/x", model[k].off);
                    if (file_len(p) > 0)
                        break;
                }
                int fd = open(p, O_WRONLY | O_APPEND);
                assert_true(fd >= 0);
                uint32_t g = 1 + rnd(100);
                for (uint32_t i = 0; i < g; i++)
                    buf[i] = (char)rnd(256);
                assert_int_equal(write(fd, buf, g), (ssize_t)g);
                close(fd);
                torn++;
            }
            assert_int_equal(sl_store_open_with(dir, &o, &s), 0);
            assert_int_equal(sl_store_log_open(s, "model/x", &log), 0);
            restarts++;
        } else { /* full check */
            for (size_t k = first; k < n; k++)
                check_entry(log, &model[k], &b);
        }
        uint64_t end = n ? model[n - 1].off + 32 + model[n - 1].len : 0;
        assert_int_equal(sl_log_end_offset(log), end);
        uint64_t last;
        if (n > first) {
            assert_int_equal(sl_log_last_offset(log, &last), 0);
            assert_int_equal(last, model[n - 1].off);
        }
    }
    for (size_t k = first; k < n; k++)
        check_entry(log, &model[k], &b);
    print_message("%zu entries, %zu retained, %u restarts (%u with a torn tail), %u trims, %zu "
                  "segments\n",
                  n, n - first, restarts, torn, trims, sl_log_segment_count(log));
    sl_buf_cleanup(&b);
    sl_store_close(s);
    rm_rf(dir);
}

int main(void)
{
    sl_log_set_level(SL_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
