/* Unit tests for api/firehose/fh_prefix.c: the spec's prefix examples (delivery at 2018-08-27
 * 10:30 UTC), the default yyyy/MM/dd/HH/ suffix rules, DateTimeFormatter quoting, random
 * strings, configuration-time checks and object names. */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/firehose/fh.h"

/* 2018-08-27T10:30:05.123Z */
#define TS_MS 1535365805123LL

static char msg[512];

static void eval_eq(const char *prefix, const char *error_type, const char *want)
{
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_fh_prefix_eval(prefix, TS_MS, error_type, &b, msg, sizeof(msg)), 0);
    assert_string_equal(b.data ? b.data : "", want);
    sl_buf_cleanup(&b);
}

static void test_spec_examples(void **state)
{
    (void)state;
    eval_eq(NULL, NULL, "2018/08/27/10/");
    eval_eq("", NULL, "2018/08/27/10/");
    eval_eq("myPrefix/", NULL, "myPrefix/2018/08/27/10/");
    eval_eq("glued", NULL, "glued2018/08/27/10/");
    eval_eq("myPrefix/year=!{timestamp:yyyy}/month=!{timestamp:MM}/", NULL,
            "myPrefix/year=2018/month=08/");
    eval_eq("fail/!{firehose:error-output-type}/!{timestamp:yyyy}/", "processing-failed",
            "fail/processing-failed/2018/");
    eval_eq("", "http-endpoint-failed", "http-endpoint-failed/2018/08/27/10/");
    eval_eq("errors/", "processing-failed", "errors/processing-failed/2018/08/27/10/");
}

static void test_formatter(void **state)
{
    (void)state;
    eval_eq("!{timestamp:yyyy-MM-dd'T'HH:mm:ss.SSS}", NULL, "2018-08-27T10:30:05.123");
    eval_eq("!{timestamp:yy/DDD/'it''s'}", NULL, "18/239/it's");
    eval_eq("!{timestamp:''}", NULL, "'");
    eval_eq("!{timestamp:E h a}", NULL, "Mon 10 AM");
}

static void test_random_string(void **state)
{
    (void)state;
    sl_buf a = SL_BUF_INIT, b = SL_BUF_INIT;
    assert_int_equal(sl_fh_prefix_eval("!{firehose:random-string}/!{timestamp:yyyy}", TS_MS, NULL,
                                       &a, msg, sizeof(msg)),
                     0);
    assert_int_equal(sl_fh_prefix_eval("!{firehose:random-string}/!{timestamp:yyyy}", TS_MS, NULL,
                                       &b, msg, sizeof(msg)),
                     0);
    assert_int_equal(a.len, 16);
    assert_string_equal(a.data + 11, "/2018");
    for (size_t i = 0; i < 11; i++)
        assert_true((a.data[i] >= 'a' && a.data[i] <= 'z') ||
                    (a.data[i] >= 'A' && a.data[i] <= 'Z') ||
                    (a.data[i] >= '0' && a.data[i] <= '9'));
    assert_memory_not_equal(a.data, b.data, 11);
    sl_buf_cleanup(&a);
    sl_buf_cleanup(&b);
}

static void test_rejections(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_fh_prefix_eval("a/!{timestamp:yyyy", TS_MS, NULL, &b, msg, sizeof(msg)),
                     SL_EINVAL);
    sl_buf_reset(&b);
    assert_int_equal(sl_fh_prefix_eval("a/!{nope:x}/", TS_MS, NULL, &b, msg, sizeof(msg)),
                     SL_EINVAL);
    sl_buf_reset(&b);
    /* error-output-type is not available in a Prefix */
    assert_int_equal(
        sl_fh_prefix_eval("!{firehose:error-output-type}", TS_MS, NULL, &b, msg, sizeof(msg)),
        SL_EINVAL);
    sl_buf_cleanup(&b);

    assert_int_equal(sl_fh_prefix_check("plain/", "", msg, sizeof(msg)), 0);
    assert_int_equal(sl_fh_prefix_check("p/!{timestamp:yyyy}/", "e/!{firehose:error-output-type}/",
                                        msg, sizeof(msg)),
                     0);
    assert_int_equal(sl_fh_prefix_check("p/!{timestamp:yyyy}/", "", msg, sizeof(msg)), SL_EINVAL);
    assert_non_null(strstr(msg, "ErrorOutputPrefix"));
    assert_int_equal(sl_fh_prefix_check("p/", "e/!{timestamp:yyyy}/", msg, sizeof(msg)), SL_EINVAL);
    assert_int_equal(sl_fh_prefix_check("p/!{firehose:error-output-type}/", "e/", msg, sizeof(msg)),
                     SL_EINVAL);
}

static void test_partition_keys(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    cJSON *q = cJSON_Parse("{\"customer\":\"acme\",\"n\":\"7\"}");
    cJSON *l = cJSON_Parse("{\"team\":\"blue\"}");
    assert_int_equal(sl_fh_prefix_eval_keys("c=!{partitionKeyFromQuery:customer}/t="
                                            "!{partitionKeyFromLambda:team}/!{timestamp:yyyy}/",
                                            TS_MS, q, l, &b, msg, sizeof(msg)),
                     0);
    assert_string_equal(b.data, "c=acme/t=blue/2018/");
    /* No default timestamp suffix with dynamic partitioning. */
    sl_buf_reset(&b);
    assert_int_equal(sl_fh_prefix_eval_keys("n=!{partitionKeyFromQuery:n}/", TS_MS, q, NULL, &b,
                                            msg, sizeof(msg)),
                     0);
    assert_string_equal(b.data, "n=7/");
    sl_buf_reset(&b);
    assert_int_equal(sl_fh_prefix_eval_keys("!{partitionKeyFromQuery:missing}/", TS_MS, q, l, &b,
                                            msg, sizeof(msg)),
                     SL_ENOTFOUND);
    sl_buf_reset(&b);
    assert_int_equal(sl_fh_prefix_eval_keys("!{partitionKeyFromLambda:team}/", TS_MS, q, NULL, &b,
                                            msg, sizeof(msg)),
                     SL_ENOTFOUND);
    /* Without keys (plain evaluation) partition expressions are not allowed. */
    sl_buf_reset(&b);
    assert_int_equal(
        sl_fh_prefix_eval("!{partitionKeyFromQuery:customer}/", TS_MS, NULL, &b, msg, sizeof(msg)),
        SL_EINVAL);
    cJSON_Delete(q);
    cJSON_Delete(l);
    sl_buf_cleanup(&b);

    assert_int_equal(sl_fh_prefix_check_dp("c=!{partitionKeyFromQuery:c}/",
                                           "e/!{firehose:error-output-type}/", msg, sizeof(msg)),
                     0);
    assert_int_equal(sl_fh_prefix_check_dp("plain/", "e/", msg, sizeof(msg)), SL_EINVAL);
    assert_int_equal(sl_fh_prefix_check_dp("c=!{partitionKeyFromQuery:c}/", "", msg, sizeof(msg)),
                     SL_EINVAL);
    assert_int_equal(sl_fh_prefix_check_dp("c=!{partitionKeyFromQuery:c}/",
                                           "e/!{partitionKeyFromQuery:c}/", msg, sizeof(msg)),
                     SL_EINVAL);
}

static void test_object_name(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    regex_t re;
    assert_int_equal(sl_fh_object_name("orders", "12", TS_MS, ".gz", &b), 0);
    assert_int_equal(regcomp(&re,
                             "^orders-12-2018-08-27-10-30-05-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                             "[89ab][0-9a-f]{3}-[0-9a-f]{12}\\.gz$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    if (regexec(&re, b.data, 0, NULL, 0) != 0)
        fail_msg("object name %s does not match", b.data);
    regfree(&re);
    sl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),  cmocka_unit_test(test_formatter),
        cmocka_unit_test(test_random_string),  cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_partition_keys), cmocka_unit_test(test_object_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
