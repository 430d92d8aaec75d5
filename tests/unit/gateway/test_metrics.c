/* Unit tests for gateway/metrics.c: counting and the Prometheus text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

static void test_counts_and_histogram(void **state)
{
    (void)state;
    sl_metrics m;
    sl_metrics_init(&m);
    sl_metrics_record(&m, "Kinesis.PutRecord", 200, 11, 0.0004);
    sl_metrics_record(&m, "Kinesis.PutRecord", 200, 11, 0.003);
    sl_metrics_record(&m, "Kinesis.PutRecord", 200, 20, 0.003);
    sl_metrics_record(&m, "Kinesis.PutRecord", 400, 10, 20.0);
    sl_metrics_record(&m, NULL, 404, 11, 0.001);
    sl_metrics_record(&m, "we\"ird", 200, 11, 0.001);
    m.bytes_in = 123;
    m.bytes_out = 456;
    m.conns_accepted = 7;
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_metrics_render(&m, 3, NULL, &b), 0);
    const char *t = b.data;
    assert_non_null(strstr(t, "sluice_requests_total{operation=\"Kinesis.PutRecord\",status="
                              "\"200\",http=\"1.1\"} 2\n"));
    assert_non_null(strstr(t, "sluice_requests_total{operation=\"Kinesis.PutRecord\",status="
                              "\"200\",http=\"2\"} 1\n"));
    assert_non_null(strstr(t, "sluice_requests_total{operation=\"Kinesis.PutRecord\",status="
                              "\"400\",http=\"1.0\"} 1\n"));
    assert_non_null(
        strstr(t, "sluice_requests_total{operation=\"unknown\",status=\"404\",http=\"1.1\"} 1\n"));
    assert_non_null(strstr(t, "operation=\"we\\\"ird\""));
    /* Cumulative buckets: 0.0004 <= 0.0005; 0.003 <= 0.005; 20 s only in +Inf. */
    assert_non_null(strstr(t, "sluice_request_duration_seconds_bucket{operation=\"Kinesis."
                              "PutRecord\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "sluice_request_duration_seconds_bucket{operation=\"Kinesis."
                              "PutRecord\",le=\"0.005\"} 3\n"));
    assert_non_null(strstr(
        t,
        "sluice_request_duration_seconds_bucket{operation=\"Kinesis.PutRecord\",le=\"10\"} 3\n"));
    assert_non_null(strstr(
        t,
        "sluice_request_duration_seconds_bucket{operation=\"Kinesis.PutRecord\",le=\"+Inf\"} 4\n"));
    assert_non_null(
        strstr(t, "sluice_request_duration_seconds_count{operation=\"Kinesis.PutRecord\"} 4\n"));
    assert_non_null(strstr(t, "sluice_open_connections 3\n"));
    assert_non_null(strstr(t, "sluice_connections_total 7\n"));
    assert_non_null(strstr(t, "sluice_received_bytes_total 123\n"));
    assert_non_null(strstr(t, "sluice_sent_bytes_total 456\n"));
    assert_null(strstr(t, "sluice_storage_bytes")); /* no store given */
    sl_buf_cleanup(&b);
    sl_metrics_cleanup(&m);
}

static void test_operation_cap(void **state)
{
    (void)state;
    sl_metrics m;
    sl_metrics_init(&m);
    char name[32];
    for (int i = 0; i < SL_METRICS_MAX_OPS + 50; i++) {
        snprintf(name, sizeof(name), "op%d", i);
        sl_metrics_record(&m, name, 200, 11, 0.01);
    }
    assert_int_equal(m.n_ops, SL_METRICS_MAX_OPS);
    uint64_t total = 0;
    for (size_t i = 0; i < m.n_ops; i++)
        total += m.ops[i].count;
    assert_int_equal(total, SL_METRICS_MAX_OPS + 50); /* the overflow went to "other" */
    sl_metrics_cleanup(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_and_histogram),
        cmocka_unit_test(test_operation_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
