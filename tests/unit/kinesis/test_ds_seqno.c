/* Unit tests for api/kinesis/ds_seqno.c: decoding a sequence number recorded from the real
 * service, format/parse round trips, 56-digit width, strict order by counter within a shard, and
 * refusal of numbers that are not in the layout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/kinesis/ds_seqno.h"
#include "sluice/err.h"

static const char REAL[] = "49647060812288014558888668248263847763900017820167045122";

static void test_real_number(void **state)
{
    (void)state;
    sl_ds_seqno q;
    char out[SL_DS_SEQNO_STRLEN];
    assert_int_equal(sl_ds_seqno_parse(REAL, strlen(REAL), &q), 0);
    assert_int_equal(q.shard_index, 0);
    assert_int_equal(q.counter, 26054);
    assert_int_equal(q.record_s, 1701760152); /* 2023-12-05 07:09:12 UTC */
    assert_int_equal(q.shard_created_s, 1701746677);
    assert_int_equal(sl_ds_seqno_format(&q, out), 56);
    assert_string_equal(out, REAL);
}

static void test_round_trip_and_order(void **state)
{
    (void)state;
    char prev[SL_DS_SEQNO_STRLEN] = "";
    sl_ds_seqno prevq = {0};
    uint64_t counter = 0;
    for (int i = 0; i < 2000; i++) {
        sl_ds_seqno q = {.shard_created_s = 1764000000,
                         .shard_index = 4321,
                         .counter = counter,
                         .record_s = 1764000000 + (uint64_t)((i * 7919) % 500)};
        char s[SL_DS_SEQNO_STRLEN];
        sl_ds_seqno back;
        assert_int_equal(sl_ds_seqno_format(&q, s), 56);
        assert_int_equal(sl_ds_seqno_parse(s, 56, &back), 0);
        assert_int_equal(back.counter, q.counter);
        assert_int_equal(back.shard_index, q.shard_index);
        assert_int_equal(back.record_s, q.record_s);
        assert_int_equal(back.shard_created_s, q.shard_created_s);
        if (i > 0) {
            /* Same width, so string order is numeric order; it must follow the counter even
             * when the record time goes backwards. */
            assert_true(strcmp(prev, s) < 0);
            assert_true(sl_ds_seqno_cmp(&prevq, &q) < 0);
            assert_true(sl_ds_seqno_cmp(&q, &prevq) > 0);
        }
        assert_int_equal(sl_ds_seqno_cmp(&q, &back), 0);
        memcpy(prev, s, sizeof(s));
        prevq = q;
        counter += 33 + (uint64_t)(i % 1000);
    }
}

static void test_extremes(void **state)
{
    (void)state;
    sl_ds_seqno q = {.shard_created_s = (1ull << 36) - 1,
                     .shard_index = UINT32_MAX,
                     .counter = UINT64_MAX,
                     .record_s = (1ull << 36) - 1},
                back;
    char s[SL_DS_SEQNO_STRLEN];
    assert_int_equal(sl_ds_seqno_format(&q, s), 56);
    assert_int_equal(sl_ds_seqno_parse(s, 56, &back), 0);
    assert_true(back.counter == UINT64_MAX);
    assert_true(back.shard_index == UINT32_MAX);
    sl_ds_seqno z = {0};
    assert_int_equal(sl_ds_seqno_format(&z, s), 56);
    assert_int_equal(sl_ds_seqno_parse(s, 56, &back), 0);
    assert_true(back.counter == 0);
    q.counter = SL_DS_SEQNO_COUNTER_END;
    q.shard_index = 5;
    assert_int_equal(sl_ds_seqno_format(&q, s), 56);
    assert_int_equal(sl_ds_seqno_parse(s, 56, &back), 0);
    assert_true(back.counter == SL_DS_SEQNO_COUNTER_END);
}

/* Random fields over their whole ranges: format then parse (an independent multiply-and-add
 * conversion) gives the fields back, in 56 digits. */
static void test_random_round_trips(void **state)
{
    (void)state;
    uint64_t r = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {
        uint64_t v[4];
        for (int k = 0; k < 4; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            v[k] = r >> (i % 61); /* small values too */
        }
        sl_ds_seqno q = {.shard_created_s = v[0] & ((1ull << 36) - 1),
                         .shard_index = (uint32_t)v[1],
                         .counter = v[2],
                         .record_s = v[3] & ((1ull << 36) - 1)},
                    back;
        char s[SL_DS_SEQNO_STRLEN];
        assert_int_equal(sl_ds_seqno_format(&q, s), 56);
        assert_int_equal(sl_ds_seqno_parse(s, 56, &back), 0);
        assert_true(back.counter == q.counter && back.shard_index == q.shard_index &&
                    back.record_s == q.record_s && back.shard_created_s == q.shard_created_s);
    }
}

static void test_garbage(void **state)
{
    (void)state;
    sl_ds_seqno q;
    char s[SL_DS_SEQNO_STRLEN + 8];
    assert_int_equal(sl_ds_seqno_parse("0", 1, &q), SL_EINVAL);
    assert_int_equal(sl_ds_seqno_parse("", 0, &q), SL_EINVAL);
    assert_int_equal(sl_ds_seqno_parse("12345678901234567890", 20, &q), SL_EINVAL);
    /* 56 nines: more than 188 bits. */
    memset(s, '9', 56);
    assert_int_equal(sl_ds_seqno_parse(s, 56, &q), SL_EINVAL);
    /* A non-digit inside. */
    memcpy(s, REAL, 57);
    s[10] = 'x';
    assert_int_equal(sl_ds_seqno_parse(s, 56, &q), SL_EINVAL);
    /* Off by one: the trailing version nibble is no longer 2. */
    memcpy(s, REAL, 57);
    s[55] = '3';
    assert_int_equal(sl_ds_seqno_parse(s, 56, &q), SL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_number),
        cmocka_unit_test(test_round_trip_and_order),
        cmocka_unit_test(test_random_round_trips),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
