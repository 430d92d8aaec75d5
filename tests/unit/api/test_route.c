/* Routing decisions (targets, paths, methods, content types) and the replies the routed
 * handlers produce -- status, Content-Type, x-amzn-ErrorType and exact bodies -- through a
 * recording stand-in for the gateway's exchange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/api.h"
#include "sluice/api_model.h"
#include "sluice/storage.h"
#include "sluice/streams.h"
#include "sluice/wire.h"

#include "fake_exchange.inc"

static sl_exchange ex;
static sl_route route;

/* Routes and, like the gateway, calls the handler with the buffered body. */
static int run(const char *method, const char *path, const char *ct, const char *target,
               const char *body)
{
    fx_cleanup(&ex);
    fx_request(&ex, method, path, ct, target, body);
    int rc = sl_api_route(&ex.req, &route);
    assert_non_null(route.handle);
    if (route.body_mode == SL_BODY_BUFFER)
        route.handle(&ex, &ex.req, route.ud);
    return rc;
}

/* An operation of service without a handler whose input needs no member, or NULL. */
static const sl_op_def *unimplemented(const char *service)
{
    const sl_service_def *svc = sl_model_service(service);
    for (uint32_t i = 0; i < svc->n_ops; i++) {
        const sl_op_def *op = &svc->ops[i];
        int required = 0;
        for (uint32_t k = 0; op->input && k < op->input->n_members; k++)
            required |= op->input->members[k].required;
        if (!op->handler && !op->streaming && !required)
            return op;
    }
    return NULL;
}

/* The services keep their state in a real store (a fresh temporary data folder). */
static char data_dir[] = "/tmp/sluice-test-route-XXXXXX";
static sl_store *store;

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(data_dir) || sl_store_open(data_dir, &store) != 0)
        return -1;
    sl_api_config cfg = {"us-east-1", "123456789012", "http://127.0.0.1:4567", store};
    return sl_api_init(&cfg);
}

static int teardown(void **state)
{
    (void)state;
    fx_cleanup(&ex);
    sl_api_shutdown();
    sl_store_close(store);
    char cmd[sizeof(data_dir) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", data_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void json_targets_pick_service_and_limits(void **state)
{
    (void)state;
    assert_int_equal(run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{}"), 0);
    assert_string_equal(route.service, "kinesis");
    assert_string_equal(route.operation, "Kinesis.ListStreams");
    assert_int_equal(route.proto, SL_PROTO_AWS_JSON);
    assert_int_equal(route.body_mode, SL_BODY_BUFFER);
    assert_true(route.max_body >= (size_t)7 << 20);
    /* any path */
    assert_int_equal(run("POST", "/any/path", SL_CT_AMZ_JSON, "Firehose_20150804.PutRecord", "{}"),
                     0);
    assert_string_equal(route.service, "firehose");
    assert_string_equal(route.operation, "Firehose.PutRecord");
    assert_int_equal(
        run("POST", "/", SL_CT_AMZ_JSON, "KinesisAnalytics_20150814.ListApplications", "{}"), 0);
    assert_string_equal(route.service, "kinesisanalytics");
}

static void kinesis_list_streams_reads_the_registry(void **state)
{
    (void)state;
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{}");
    assert_int_equal(ex.status, 200);
    assert_string_equal(ex.content_type, SL_CT_AMZ_JSON);
    assert_string_equal(ex.body,
                        "{\"StreamNames\":[],\"HasMoreStreams\":false,\"StreamSummaries\":[]}");

    sl_kstream_info s = {.region = "us-east-1",
                         .status = "ACTIVE",
                         .mode = "PROVISIONED",
                         .created_ms = 1459799926480};
    const char *names[] = {"b", "a", "c"};
    for (int i = 0; i < 3; i++) {
        snprintf(s.name, sizeof(s.name), "%s", names[i]);
        snprintf(s.arn, sizeof(s.arn), "arn:aws:kinesis:us-east-1:123456789012:stream/%s",
                 names[i]);
        assert_int_equal(sl_kstreams_put(&s), 0);
    }
    snprintf(s.region, sizeof(s.region), "eu-west-1"); /* another region: not listed */
    assert_int_equal(sl_kstreams_put(&s), 0);

    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{\"Limit\":2}");
    assert_int_equal(ex.status, 200);
    cJSON *o = cJSON_Parse(ex.body);
    assert_non_null(o);
    cJSON *names_out = cJSON_GetObjectItem(o, "StreamNames");
    assert_int_equal(cJSON_GetArraySize(names_out), 2);
    assert_string_equal(cJSON_GetArrayItem(names_out, 0)->valuestring, "a");
    assert_string_equal(cJSON_GetArrayItem(names_out, 1)->valuestring, "b");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "HasMoreStreams")));
    cJSON *sum = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "StreamSummaries"), 0);
    assert_string_equal(cJSON_GetObjectItem(sum, "StreamARN")->valuestring,
                        "arn:aws:kinesis:us-east-1:123456789012:stream/a");
    assert_non_null(strstr(ex.body, "\"StreamCreationTimestamp\":1459799926.48"));
    char next[512];
    snprintf(next, sizeof(next), "{\"NextToken\":\"%s\"}",
             cJSON_GetObjectItem(o, "NextToken")->valuestring);
    cJSON_Delete(o);

    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", next);
    assert_int_equal(ex.status, 200);
    assert_non_null(strstr(ex.body, "\"StreamNames\":[\"c\"],\"HasMoreStreams\":false"));
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams",
        "{\"ExclusiveStartStreamName\":\"a\"}");
    assert_non_null(strstr(ex.body, "\"StreamNames\":[\"b\",\"c\"]"));
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{\"NextToken\":\"bad\"}");
    assert_int_equal(ex.status, 400);
    assert_string_equal(
        ex.body, "{\"__type\":\"InvalidArgumentException\",\"message\":\"Invalid NextToken.\"}");
    sl_kstreams_clear();
}

static void json_errors_have_aws_shapes(void **state)
{
    (void)state;
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{\"Limit\":0}");
    assert_int_equal(ex.status, 400);
    assert_string_equal(ex.body,
                        "{\"__type\":\"ValidationException\",\"message\":\"1 validation "
                        "error detected: Value '0' at 'limit' failed to satisfy "
                        "constraint: Member must have value greater than or equal to 1\"}");
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{\"Limit\":\"x\"}");
    assert_string_equal(ex.body, "{\"__type\":\"SerializationException\",\"Message\":\"class "
                                 "java.lang.String can not be converted to an Integer\"}");
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "{not json");
    assert_int_equal(ex.status, 400);
    assert_string_equal(ex.body, "{\"__type\":\"SerializationException\"}");
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.ListStreams", "");
    assert_string_equal(ex.body, "{\"__type\":\"SerializationException\"}");
    assert_int_equal(run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.Nope", "{}"), SL_ENOTFOUND);
    assert_null(route.service);
    assert_int_equal(ex.status, 400);
    assert_string_equal(ex.body, "{\"__type\":\"UnknownOperationException\"}");
    assert_int_equal(run("POST", "/", SL_CT_AMZ_JSON, NULL, "{}"), SL_ENOTFOUND);
    assert_string_equal(ex.body, "{\"__type\":\"UnknownOperationException\"}");
    /* modelled but not implemented (whichever operation has no handler yet) */
    const sl_op_def *todo = unimplemented("kinesis");
    if (todo) {
        char target[128], want[256];
        snprintf(target, sizeof(target), "Kinesis_20131202.%s", todo->name);
        run("POST", "/", SL_CT_AMZ_JSON, target, "{}");
        assert_int_equal(ex.status, 501);
        snprintf(want, sizeof(want),
                 "{\"__type\":\"NotImplementedException\",\"message\":\"Sluice does not "
                 "implement Kinesis.%s yet\"}",
                 todo->name);
        assert_string_equal(ex.body, want);
    }
    /* validation still comes first */
    run("POST", "/", SL_CT_AMZ_JSON, "Kinesis_20131202.CreateStream", "{}");
    assert_int_equal(ex.status, 400);
}

static void methods_and_content_types(void **state)
{
    (void)state;
    run("GET", "/", NULL, "Kinesis_20131202.ListStreams", NULL);
    assert_int_equal(ex.status, 403);
    assert_string_equal(ex.body, "<AccessDeniedException>\n  <Message>Unable to determine "
                                 "service/operation name to be authorized</Message>\n"
                                 "</AccessDeniedException>\n");
    assert_int_equal(run("GET", "/", NULL, NULL, NULL), SL_ENOTFOUND);
    assert_int_equal(ex.status, 403);
    run("POST", "/", "text/plain", "Kinesis_20131202.ListStreams", "{}");
    assert_int_equal(ex.status, 404);
    assert_string_equal(ex.body, "<UnknownOperationException/>\n");
    run("POST", "/", "text/plain", NULL, "{}");
    assert_int_equal(ex.status, 403);
    run("POST", "/", "application/json", "Kinesis_20131202.ListStreams", "{}");
    assert_int_equal(ex.status, 200);
    assert_string_equal(ex.body,
                        "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
                        "UnknownOperationException\",\"message\":null},\"Version\":\"1.0\"}");
    run("POST", "/", "application/x-amz-json-1.1; charset=utf-8", "Kinesis_20131202.ListStreams",
        "{}");
    assert_int_equal(ex.status, 200);
    /* CBOR (Java SDKs): decoded ({_ } here) and answered in CBOR (api/wire/cbor.c) */
    run("POST", "/", SL_CT_AMZ_CBOR, "Kinesis_20131202.ListStreams", "\xbf\xff");
    assert_int_equal(ex.status, 200);
    assert_string_equal(ex.content_type, SL_CT_AMZ_CBOR);
    assert_int_equal((uint8_t)ex.body[0] & 0xE0, 0xA0); /* a map */
    run("POST", "/", SL_CT_AMZ_CBOR, "Kinesis_20131202.ListStreams", "\xbf");
    assert_int_equal(ex.status, 400);
    assert_string_equal(ex.content_type, SL_CT_AMZ_CBOR);
    assert_int_equal((uint8_t)ex.body[0], 0xA2);
    assert_memory_equal(ex.body + 1, "\x66__type\x76SerializationException", 30);
    assert_int_equal(run("GET", "/health/whatever", NULL, NULL, NULL), SL_ENOTFOUND);
    assert_int_equal(route.proto, SL_PROTO_PLAIN);
    assert_int_equal(ex.status, 404);
}

static void rest_json_routes(void **state)
{
    (void)state;
    assert_int_equal(run("POST", "/listStreams", "application/json", NULL, ""), 0);
    assert_string_equal(route.service, "kinesisvideo");
    assert_string_equal(route.operation, "KinesisVideo.ListStreams");
    assert_int_equal(route.proto, SL_PROTO_REST_JSON);
    assert_int_equal(ex.status, 200);
    assert_string_equal(ex.content_type, "application/json");
    assert_string_equal(ex.body, "{\"StreamInfoList\":[]}");

    sl_vstream_info v = {.region = "us-east-1",
                         .status = "ACTIVE",
                         .version = "abc",
                         .created_ms = 1675190736586,
                         .retention_hours = 24};
    const char *names[] = {"cam-1", "cam-2", "door"};
    for (int i = 0; i < 3; i++) {
        snprintf(v.name, sizeof(v.name), "%s", names[i]);
        snprintf(v.arn, sizeof(v.arn), "arn:aws:kinesisvideo:us-east-1:123456789012:stream/%s/1",
                 names[i]);
        assert_int_equal(sl_vstreams_put(&v), 0);
    }
    run("POST", "/listStreams", "application/json", NULL,
        "{\"StreamNameCondition\":{\"ComparisonOperator\":\"BEGINS_WITH\",\"ComparisonValue\":"
        "\"cam\"},\"MaxResults\":1}");
    assert_int_equal(ex.status, 200);
    assert_non_null(strstr(ex.body, "\"StreamName\":\"cam-1\""));
    assert_null(strstr(ex.body, "cam-2"));
    assert_non_null(strstr(ex.body, "\"CreationTime\":1675190736.586"));
    assert_non_null(strstr(ex.body, "\"NextToken\":"));
    sl_vstreams_clear();

    run("POST", "/listStreams", "application/json", NULL, "{\"MaxResults\":0}");
    assert_int_equal(ex.status, 400);
    assert_string_equal(ex.error_type, "ValidationException");
    assert_string_equal(ex.body,
                        "{\"__type\":\"ValidationException\",\"Message\":\"1 validation "
                        "error detected: Value '0' at 'maxResults' failed to satisfy "
                        "constraint: Member must have value greater than or equal to 1\"}");
    run("POST", "/listStreams", "application/json", NULL,
        "{\"StreamNameCondition\":{\"ComparisonOperator\":\"ENDS_WITH\"}}");
    assert_non_null(strstr(ex.body, "at 'streamNameCondition.comparisonOperator' failed to "
                                    "satisfy constraint: Member must satisfy enum value set: "
                                    "[BEGINS_WITH]"));
    run("POST", "/listStreams", "application/json", NULL, "[1]");
    assert_int_equal(ex.status, 400);
    assert_string_equal(ex.error_type, "SerializationException");
    /* not implemented: 501 with the header */
    const sl_op_def *todo = unimplemented("kinesisvideo");
    if (todo) {
        char want[256];
        run("POST", todo->uri, "application/json", NULL, "{}");
        assert_int_equal(ex.status, 501);
        assert_string_equal(ex.error_type, "NotImplementedException");
        snprintf(want, sizeof(want),
                 "{\"__type\":\"NotImplementedException\",\"Message\":\"Sluice does not "
                 "implement KinesisVideo.%s yet\"}",
                 todo->name);
        assert_string_equal(ex.body, want);
    }
    /* paths are case-sensitive; wrong method */
    assert_int_equal(run("POST", "/ListStreams", "application/json", NULL, "{}"), SL_ENOTFOUND);
    assert_int_equal(ex.status, 404);
    assert_string_equal(ex.error_type, "UnknownOperationException");
    assert_int_equal(run("GET", "/listStreams", NULL, NULL, NULL), SL_ENOTFOUND);
    assert_int_equal(ex.status, 404);
    /* other REST services sign as kinesisvideo */
    run("POST", "/getHLSStreamingSessionURL", "application/json", NULL, "{}");
    assert_string_equal(route.service, "kinesisvideo");
    assert_string_equal(route.operation, "KinesisVideoArchivedMedia.GetHLSStreamingSessionURL");
    run("POST", "/v1/get-ice-server-config", "application/json", NULL, "{}");
    assert_string_equal(route.operation, "KinesisVideoSignaling.GetIceServerConfig");
    assert_int_equal(ex.status, 400); /* ChannelARN is required */
    run("POST", "/joinStorageSession", "application/json", NULL, "{}");
    assert_string_equal(route.service, "kinesisvideo");
}

static void put_media_streams(void **state)
{
    (void)state;
    assert_int_equal(run("POST", "/putMedia", NULL, NULL, NULL), 0);
    assert_int_equal(route.body_mode, SL_BODY_STREAM);
    assert_string_equal(route.service, "kinesisvideo");
    assert_string_equal(route.operation, "KinesisVideoMedia.PutMedia");
    const sl_op_def *op = route.ud;
    if (!op->stream_handler) { /* no handler registered yet: an honest 501 */
        route.handle(&ex, &ex.req, route.ud);
        assert_int_equal(ex.status, 501);
        assert_string_equal(ex.error_type, "NotImplementedException");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_targets_pick_service_and_limits),
        cmocka_unit_test(kinesis_list_streams_reads_the_registry),
        cmocka_unit_test(json_errors_have_aws_shapes),
        cmocka_unit_test(methods_and_content_types),
        cmocka_unit_test(rest_json_routes),
        cmocka_unit_test(put_media_streams),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
