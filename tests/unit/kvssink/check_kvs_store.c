/* Unit tests for kvssink's content store: what a session reads (header, then fragment bytes as
 * they grow), acknowledgements, resending from the first unacknowledged fragment, header
 * generations, the byte and age bounds and what a drop under the cursor does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kvs_store.h"
#include "sluice/err.h"

/* Reads everything available now into out; returns the final status. */
static sl_kvs_read_status drain(sl_kvs_store *st, sl_kvs_cursor *c, sl_buf *out)
{
    char tmp[3]; /* small on purpose: reads must resume mid-header and mid-fragment */
    size_t n;
    sl_kvs_read_status rs;
    while ((rs = sl_kvs_store_read(st, c, tmp, sizeof(tmp), &n)) == SL_KVS_READ_DATA)
        sl_buf_append(out, tmp, n);
    return rs;
}

static void test_session_reads_header_then_fragments(void **state)
{
    sl_kvs_store *st = sl_kvs_store_new(0, 0);
    sl_kvs_cursor c;
    sl_buf out = SL_BUF_INIT;
    (void)state;

    assert_int_equal(sl_kvs_store_begin(st, 1, "x", 1, 0, NULL), SL_EINVAL); /* no header */
    assert_int_equal(sl_kvs_store_set_header(st, "HEADER", 6), 0);
    assert_int_equal(sl_kvs_store_session_start(st, &c), 0);
    assert_int_equal(sl_kvs_store_begin(st, 100, "C1a", 3, 0, NULL), 0);
    assert_int_equal(sl_kvs_store_session_start(st, &c), 1);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_WAIT);
    assert_string_equal(out.data, "HEADERC1a");
    assert_int_equal(sl_kvs_store_append(st, "b", 1, 0, NULL), 0);
    assert_int_equal(sl_kvs_store_begin(st, 200, "C2", 2, 0, NULL), 0);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_WAIT);
    assert_string_equal(out.data, "HEADERC1abC2");
    sl_kvs_store_end(st);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_END);

    /* acks: RECEIVED keeps the fragment (retention > 0), PERSISTED frees it */
    assert_int_equal(sl_kvs_store_ack(st, &c, 100, SL_KVS_ACK_RECEIVED, 0, 10), 1);
    assert_int_equal(sl_kvs_store_ack(st, &c, 999, SL_KVS_ACK_PERSISTED, 0, 10), 0);
    sl_kvs_stats s;
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_held, 2);
    assert_int_equal(sl_kvs_store_ack(st, &c, 100, SL_KVS_ACK_PERSISTED, 0, 10), 1);
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_held, 1);
    assert_int_equal(s.fragments_done, 1);
    assert_int_equal(s.bytes_held, 2);

    /* a new session resends the unacknowledged fragment with a header */
    sl_buf_reset(&out);
    assert_int_equal(sl_kvs_store_session_start(st, &c), 1);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_END);
    assert_string_equal(out.data, "HEADERC2");
    assert_int_equal(sl_kvs_store_finished(st), 0);
    assert_int_equal(sl_kvs_store_wait_drained(st, 10), 0);
    assert_int_equal(sl_kvs_store_ack(st, &c, 200, SL_KVS_ACK_PERSISTED, 0, 10), 1);
    assert_int_equal(sl_kvs_store_finished(st), 1);
    assert_int_equal(sl_kvs_store_wait_drained(st, 10), 1);
    sl_buf_cleanup(&out);
    sl_kvs_store_free(st);
}

static void test_acks_match_only_this_session(void **state)
{
    sl_kvs_store *st = sl_kvs_store_new(0, 0);
    sl_kvs_cursor c1, c2;
    sl_buf out = SL_BUF_INIT;
    (void)state;
    sl_kvs_store_set_header(st, "H", 1);
    sl_kvs_store_begin(st, 5, "A", 1, 0, NULL);
    sl_kvs_store_session_start(st, &c1);
    drain(st, &c1, &out);
    sl_kvs_store_begin(st, 6, "B", 1, 0, NULL);
    /* RELATIVE-mode style reuse of a timecode by a later fragment: a session that started at
     * the second fragment must not ack the first */
    sl_kvs_store_ack(st, &c1, 5, SL_KVS_ACK_RECEIVED, 0, 0);
    c2 = c1;
    c2.first_id = c1.first_id + 1;
    assert_int_equal(sl_kvs_store_ack(st, &c2, 5, SL_KVS_ACK_PERSISTED, 0, 0), 0);
    /* an ERROR ack gives the fragment up */
    assert_int_equal(sl_kvs_store_ack(st, &c1, 5, SL_KVS_ACK_ERROR, 0, 0), 1);
    sl_kvs_stats s;
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_failed, 1);
    assert_int_equal(s.fragments_held, 1);
    /* retention 0: RECEIVED is final */
    assert_int_equal(sl_kvs_store_ack(st, &c1, 6, SL_KVS_ACK_RECEIVED, 1, 0), 1);
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_held, 0);
    sl_buf_cleanup(&out);
    sl_kvs_store_free(st);
}

static void test_header_generation_ends_session(void **state)
{
    sl_kvs_store *st = sl_kvs_store_new(0, 0);
    sl_kvs_cursor c;
    sl_buf out = SL_BUF_INIT;
    (void)state;
    sl_kvs_store_set_header(st, "H1", 2);
    sl_kvs_store_begin(st, 1, "A", 1, 0, NULL);
    sl_kvs_store_set_header(st, "H2", 2);
    sl_kvs_store_begin(st, 2, "B", 1, 0, NULL);
    sl_kvs_store_session_start(st, &c);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_NEW_HEADER);
    assert_string_equal(out.data, "H1A");
    sl_kvs_store_ack(st, &c, 1, SL_KVS_ACK_PERSISTED, 0, 0);
    sl_buf_reset(&out);
    sl_kvs_store_session_start(st, &c);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_WAIT);
    assert_string_equal(out.data, "H2B");
    sl_buf_cleanup(&out);
    sl_kvs_store_free(st);
}

static void test_bounds_drop_oldest_never_the_open_one(void **state)
{
    sl_kvs_store *st = sl_kvs_store_new(10, 0);
    sl_kvs_cursor c;
    sl_buf out = SL_BUF_INIT;
    uint64_t dropped = 0;
    char tmp[2];
    size_t n;
    (void)state;
    sl_kvs_store_set_header(st, "H", 1);
    sl_kvs_store_begin(st, 1, "AAAA", 4, 0, &dropped);
    sl_kvs_store_session_start(st, &c);
    /* the session is in the middle of fragment 1 */
    assert_int_equal(sl_kvs_store_read(st, &c, tmp, 1, &n), SL_KVS_READ_DATA); /* H */
    assert_int_equal(sl_kvs_store_read(st, &c, tmp, 2, &n), SL_KVS_READ_DATA); /* AA */
    sl_kvs_store_begin(st, 2, "BBBB", 4, 0, &dropped);
    assert_int_equal(dropped, 0);
    sl_kvs_store_begin(st, 3, "CCCC", 4, 0, &dropped); /* 12 > 10: drop fragment 1 */
    assert_int_equal(dropped, 1);
    assert_int_equal(sl_kvs_store_read(st, &c, tmp, 2, &n), SL_KVS_READ_LOST);
    /* a lone open fragment over the limit stays */
    assert_int_equal(sl_kvs_store_append(st, "0123456789", 10, 0, &dropped), 0);
    assert_int_equal(dropped, 1); /* fragment 2 */
    sl_kvs_stats s;
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_held, 1);
    assert_int_equal(s.fragments_dropped, 2);
    assert_int_equal(s.bytes_dropped, 8);
    /* a new session starts cleanly at what is left */
    sl_kvs_store_session_start(st, &c);
    assert_int_equal(drain(st, &c, &out), SL_KVS_READ_WAIT);
    assert_string_equal(out.data, "HCCCC0123456789");
    sl_buf_cleanup(&out);
    sl_kvs_store_free(st);

    /* age bound: fragments older than the newest by more than max_age_ms go */
    st = sl_kvs_store_new(0, 1000);
    sl_kvs_store_set_header(st, "H", 1);
    sl_kvs_store_begin(st, 1000, "A", 1, 0, &dropped);
    sl_kvs_store_begin(st, 1500, "B", 1, 0, &dropped);
    sl_kvs_store_begin(st, 2000, "C", 1, 0, &dropped);
    assert_int_equal(dropped, 0);
    sl_kvs_store_begin(st, 2001, "D", 1, 0, &dropped);
    assert_int_equal(dropped, 1);
    sl_kvs_store_free(st);
}

static void test_release_without_acks_and_cancel(void **state)
{
    sl_kvs_store *st = sl_kvs_store_new(0, 0);
    sl_kvs_cursor c;
    sl_buf out = SL_BUF_INIT;
    (void)state;
    sl_kvs_store_set_header(st, "H", 1);
    sl_kvs_store_begin(st, 1, "A", 1, 0, NULL);
    sl_kvs_store_begin(st, 2, "B", 1, 0, NULL);
    sl_kvs_store_session_start(st, &c);
    drain(st, &c, &out);
    sl_kvs_store_release_sent(st, &c); /* A is complete and passed; B is still open */
    sl_kvs_stats s;
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_held, 1);
    sl_kvs_store_cancel(st);
    assert_int_equal(sl_kvs_store_wait_drained(st, 10000), 0); /* returns at once */
    assert_int_equal(sl_kvs_store_wait_data(st, 10000), 1);
    sl_kvs_store_reset(st);
    sl_kvs_store_stats(st, &s);
    assert_int_equal(s.fragments_held, 0);
    assert_int_equal(s.bytes_held, 0);
    sl_buf_cleanup(&out);
    sl_kvs_store_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_reads_header_then_fragments),
        cmocka_unit_test(test_acks_match_only_this_session),
        cmocka_unit_test(test_header_generation_ends_session),
        cmocka_unit_test(test_bounds_drop_oldest_never_the_open_one),
        cmocka_unit_test(test_release_without_acks_and_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
