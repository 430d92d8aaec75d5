/* Unit tests for api/kinesis/ds_throttle.c: a fresh bucket allows one second's burst, refuses
 * beyond it, refills in proportion to elapsed time, caps at the burst, and read debt blocks
 * until repaid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../api/kinesis/ds_throttle.h"

static void test_burst_and_refill(void **state)
{
    (void)state;
    sl_ds_bucket b = {0};
    int64_t t = 1000000;
    int ok = 0;
    for (int i = 0; i < 1500; i++)
        ok += sl_ds_bucket_take(&b, 1000, 1000, 1, t, 0);
    assert_int_equal(ok, 1000);
    /* 100 ms later: 100 more. */
    ok = 0;
    for (int i = 0; i < 500; i++)
        ok += sl_ds_bucket_take(&b, 1000, 1000, 1, t + 100, 0);
    assert_int_equal(ok, 100);
    /* A long pause refills only up to the burst. */
    ok = 0;
    for (int i = 0; i < 5000; i++)
        ok += sl_ds_bucket_take(&b, 1000, 1000, 1, t + 60000, 0);
    assert_int_equal(ok, 1000);
    /* Time going backwards never adds tokens. */
    assert_int_equal(sl_ds_bucket_take(&b, 1000, 1000, 1, t, 0), 0);
}

static void test_debt(void **state)
{
    (void)state;
    sl_ds_bucket b = {0};
    int64_t t = 5000;
    assert_int_equal(sl_ds_bucket_take(&b, 2.0, 2.0, 0, t, 1), 1);
    sl_ds_bucket_charge(&b, 2.0, 2.0, 10.0, t); /* a big read: 2 - 10 = -8 */
    assert_int_equal(sl_ds_bucket_take(&b, 2.0, 2.0, 0, t + 3000, 1), 0); /* -2 */
    assert_int_equal(sl_ds_bucket_take(&b, 2.0, 2.0, 0, t + 4001, 1), 1); /* > 0 */
    /* Without debt a take larger than what is there is refused and takes nothing. */
    sl_ds_bucket c = {0};
    assert_int_equal(sl_ds_bucket_take(&c, 10, 10, 11, t, 0), 0);
    assert_int_equal(sl_ds_bucket_take(&c, 10, 10, 10, t, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_and_refill),
        cmocka_unit_test(test_debt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
