/* Unit tests for api/kinesis/ds_hashkey.c: MD5 partition-key hashing against the spec's test
 * vectors, decimal round trips at the edges of the 128-bit space, ExplicitHashKey validation, and
 * the even split of the hash space exactly as the real service prints it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/kinesis/ds_hashkey.h"
#include "sluice/err.h"

static void assert_key(sl_u128 k, const char *want)
{
    char buf[SL_DS_HASHKEY_STRLEN];
    size_t n = sl_ds_hashkey_format(k, buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_md5_vectors(void **state)
{
    (void)state;
    assert_key(sl_ds_hashkey_of_partition_key("a", 1), "16955237001963240173058271559858726497");
    assert_key(sl_ds_hashkey_of_partition_key("partitionKey-1", 14),
               "159499196025307651934328298402289840726");
}

static void test_format_parse_edges(void **state)
{
    (void)state;
    sl_u128 k = 1;
    assert_key(0, "0");
    assert_key(SL_U128_MAX, "340282366920938463463374607431768211455");
    assert_int_equal(sl_ds_hashkey_parse("340282366920938463463374607431768211455", 39, &k), 0);
    assert_true(k == SL_U128_MAX);
    assert_int_equal(sl_ds_hashkey_parse("0", 1, &k), 0);
    assert_true(k == 0);
    assert_int_equal(sl_ds_hashkey_parse("340282366920938463463374607431768211456", 39, &k),
                     SL_ERANGE);
    assert_int_equal(sl_ds_hashkey_parse("999999999999999999999999999999999999999", 39, &k),
                     SL_ERANGE);
    assert_int_equal(sl_ds_hashkey_parse("", 0, &k), SL_EINVAL);
    assert_int_equal(sl_ds_hashkey_parse("01", 2, &k), SL_EINVAL);
    assert_int_equal(sl_ds_hashkey_parse("-1", 2, &k), SL_EINVAL);
    assert_int_equal(sl_ds_hashkey_parse("12a", 3, &k), SL_EINVAL);
    /* Round trips. */
    sl_u128 v = 1;
    for (int i = 0; i < 128; i++, v = v * 3 + 7) {
        char buf[SL_DS_HASHKEY_STRLEN];
        sl_u128 back;
        size_t n = sl_ds_hashkey_format(v, buf);
        assert_int_equal(sl_ds_hashkey_parse(buf, n, &back), 0);
        assert_true(back == v);
    }
}

static void test_split_three(void **state)
{
    (void)state;
    sl_u128 a, b;
    sl_ds_hashkey_split(3, 0, &a, &b);
    assert_key(a, "0");
    assert_key(b, "113427455640312821154458202477256070484");
    sl_ds_hashkey_split(3, 1, &a, &b);
    assert_key(a, "113427455640312821154458202477256070485");
    assert_key(b, "226854911280625642308916404954512140969");
    sl_ds_hashkey_split(3, 2, &a, &b);
    assert_key(a, "226854911280625642308916404954512140970");
    assert_key(b, "340282366920938463463374607431768211455");
    /* "a" lands in shard 0 of 3, "partitionKey-1" in shard 1. */
    sl_u128 ka = sl_ds_hashkey_of_partition_key("a", 1);
    sl_u128 kp = sl_ds_hashkey_of_partition_key("partitionKey-1", 14);
    sl_ds_hashkey_split(3, 0, &a, &b);
    assert_true(ka >= a && ka <= b);
    sl_ds_hashkey_split(3, 1, &a, &b);
    assert_true(kp >= a && kp <= b);
}

static void test_split_cover(void **state)
{
    (void)state;
    /* For every n the ranges are contiguous, start at 0 and end at 2^128-1. */
    static const uint32_t ns[] = {1, 2, 4, 7, 10, 64, 100, 1000, 9999};
    for (size_t t = 0; t < sizeof(ns) / sizeof(ns[0]); t++) {
        sl_u128 prev_end = 0, a, b;
        for (uint32_t i = 0; i < ns[t]; i++) {
            sl_ds_hashkey_split(ns[t], i, &a, &b);
            if (i == 0)
                assert_true(a == 0);
            else
                assert_true(a == prev_end + 1);
            assert_true(b >= a);
            prev_end = b;
        }
        assert_true(prev_end == SL_U128_MAX);
    }
    sl_u128 a, b;
    sl_ds_hashkey_split(2, 1, &a, &b);
    assert_key(a, "170141183460469231731687303715884105728");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_vectors),
        cmocka_unit_test(test_format_parse_edges),
        cmocka_unit_test(test_split_three),
        cmocka_unit_test(test_split_cover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
