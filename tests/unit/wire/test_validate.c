/* The model validator's messages, compared byte for byte with AWS's wording
 * (shared/spec/data-streams.md §1.2-1.3), for each kind of rule and for nesting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/api_model.h"
#include "sluice/wire.h"

/* sl_api's tables reference the handlers, which answer through sl_exchange_*. */
#include "../api/fake_exchange.inc"

static char msg[1 << 17];

/* Validates json against service/op's input; returns the code and leaves the message in msg. */
static int check(const char *service, const char *op, const char *json)
{
    const sl_service_def *svc = sl_model_service(service);
    assert_non_null(svc);
    const sl_op_def *o = sl_model_op(svc, op, strlen(op));
    assert_non_null(o);
    cJSON *in = cJSON_Parse(json);
    assert_non_null(in);
    sl_buf b = SL_BUF_INIT;
    int rc = sl_validate(o->input, in, svc->proto, &b);
    snprintf(msg, sizeof(msg), "%s", b.data ? b.data : "");
    sl_buf_cleanup(&b);
    cJSON_Delete(in);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    return sl_patterns_init();
}

static int teardown(void **state)
{
    (void)state;
    sl_patterns_cleanup();
    return 0;
}

static void valid_inputs_pass(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "ListStreams", "{}"), 0);
    assert_int_equal(check("kinesis", "ListStreams", "{\"Limit\":10,\"Unknown\":[1]}"), 0);
    assert_int_equal(check("kinesis", "PutRecords",
                           "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"aGVsbG8=\","
                           "\"PartitionKey\":\"k\"}]}"),
                     0);
    assert_int_equal(check("kinesis", "CreateStream",
                           "{\"StreamName\":\"a-b_c.d\",\"ShardCount\":2,\"Tags\":{\"k\":\"\"}}"),
                     0);
    assert_int_equal(check("kinesis", "ListStreams", "{\"Limit\":null}"), 0); /* null = absent */
}

static void value_min_and_max(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "ListStreams", "{\"Limit\":0}"), SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                             "constraint: Member must have value greater than or equal to 1");
    assert_int_equal(check("kinesis", "ListStreams", "{\"Limit\":10001}"), SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '10001' at 'limit' failed to "
                             "satisfy constraint: Member must have value less than or equal to "
                             "10000");
}

static void not_null_and_length_and_pattern(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "CreateStream", "{}"), SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value null at 'streamName' failed to "
                             "satisfy constraint: Member must not be null");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":\"\"}"), SL_ERANGE);
    assert_string_equal(msg, "2 validation errors detected: Value '' at 'streamName' failed to "
                             "satisfy constraint: Member must have length greater than or equal "
                             "to 1; Value '' at 'streamName' failed to satisfy constraint: Member "
                             "must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
    char big[300];
    memset(big, 'a', 129);
    big[129] = '\0';
    char json[400];
    snprintf(json, sizeof(json), "{\"StreamName\":\"%s\",\"ShardCount\":0}", big);
    assert_int_equal(check("kinesis", "CreateStream", json), SL_ERANGE);
    char want[800];
    snprintf(want, sizeof(want),
             "2 validation errors detected: Value '%s' at 'streamName' failed to satisfy "
             "constraint: Member must have length less than or equal to 128; Value '0' at "
             "'shardCount' failed to satisfy constraint: Member must have value greater than or "
             "equal to 1",
             big);
    assert_string_equal(msg, want);
}

static void lengths_count_utf16_units(void **state)
{
    (void)state;
    /* 128 x U+1F600 is 256 UTF-16 units: too long for a 1..128 TagKey, as Java counts. */
    char json[1200] = "{\"StreamName\":\"s\",\"TagKeys\":[\"";
    for (int i = 0; i < 65; i++)
        strcat(json, "\xF0\x9F\x98\x80");
    strcat(json, "\"]}");
    assert_int_equal(check("kinesis", "RemoveTagsFromStream", json), SL_ERANGE);
    assert_non_null(strstr(msg, "at 'tagKeys' failed to satisfy constraint: Member must satisfy "
                                "constraint: [Member must have length less than or equal to 128, "
                                "Member must have length greater than or equal to 1]"));
}

static void nested_list_paths_are_one_based(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "PutRecords",
                           "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"AA==\","
                           "\"PartitionKey\":\"k\"},{\"Data\":\"AA==\"}]}"),
                     SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value null at "
                             "'records.2.member.partitionKey' failed to satisfy constraint: "
                             "Member must not be null");
    assert_int_equal(check("kinesis", "PutRecords",
                           "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"AA==\","
                           "\"PartitionKey\":\"k\",\"ExplicitHashKey\":\"01\"}]}"),
                     SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '01' at "
                             "'records.1.member.explicitHashKey' failed to satisfy constraint: "
                             "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
    /* A null record has no PartitionKey or Data: refused, never written as an empty record. */
    assert_int_equal(check("kinesis", "PutRecords",
                           "{\"StreamName\":\"s\",\"Records\":[null,{\"Data\":\"AA==\","
                           "\"PartitionKey\":\"k\"}]}"),
                     SL_ERANGE);
    assert_string_equal(msg, "2 validation errors detected: Value null at "
                             "'records.1.member.data' failed to satisfy constraint: Member must "
                             "not be null; Value null at 'records.1.member.partitionKey' failed "
                             "to satisfy constraint: Member must not be null");
}

static void list_of_scalars_reported_on_the_list(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "RemoveTagsFromStream",
                           "{\"StreamName\":\"s\",\"TagKeys\":[\"ok\",\"\"]}"),
                     SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '[ok, ]' at 'tagKeys' failed to "
                             "satisfy constraint: Member must satisfy constraint: [Member must "
                             "have length less than or equal to 128, Member must have length "
                             "greater than or equal to 1]");
    assert_int_equal(check("kinesis", "EnableEnhancedMonitoring",
                           "{\"StreamName\":\"s\",\"ShardLevelMetrics\":[\"foo\"]}"),
                     SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '[foo]' at 'shardLevelMetrics' "
                             "failed to satisfy constraint: Member must satisfy constraint: "
                             "[Member must satisfy enum value set: [IncomingBytes, "
                             "IncomingRecords, OutgoingBytes, OutgoingRecords, "
                             "WriteProvisionedThroughputExceeded, "
                             "ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL]]");
    assert_int_equal(
        check("kinesis", "RemoveTagsFromStream", "{\"StreamName\":\"s\",\"TagKeys\":[]}"),
        SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '[]' at 'tagKeys' failed to "
                             "satisfy constraint: Member must have length greater than or equal "
                             "to 1");
}

static void enum_and_map_rules(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "CreateStream",
                           "{\"StreamName\":\"s\",\"StreamModeDetails\":{\"StreamMode\":\"X\"}}"),
                     SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value 'X' at 'streamModeDetails."
                             "streamMode' failed to satisfy constraint: Member must satisfy enum "
                             "value set: [PROVISIONED, ON_DEMAND]");
    assert_int_equal(
        check("kinesis", "CreateStream", "{\"StreamName\":\"s\",\"Tags\":{\"\":\"v\"}}"),
        SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '{=v}' at 'tags' failed to "
                             "satisfy constraint: Map keys must satisfy constraint: [Member must "
                             "have length less than or equal to 128, Member must have length "
                             "greater than or equal to 1]");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":\"s\",\"Tags\":{}}"),
                     SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '{}' at 'tags' failed to satisfy "
                             "constraint: Member must have length greater than or equal to 1");
}

static void unicode_property_patterns(void **state)
{
    (void)state;
    /* KVS TagKey: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ -- letters of any script pass, '*' fails. */
    assert_int_equal(check("kinesisvideo", "CreateStream",
                           "{\"StreamName\":\"s\",\"Tags\":{\"\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87 "
                           "\xE2\x85\xA0\":\"\xE6\x97\xA5\xE6\x9C\xAC\"}}"),
                     0);
    assert_int_equal(
        check("kinesisvideo", "CreateStream", "{\"StreamName\":\"s\",\"Tags\":{\"a*b\":\"v\"}}"),
        SL_ERANGE);
    assert_string_equal(msg, "1 validation error detected: Value '{a*b=v}' at 'tags' failed to "
                             "satisfy constraint: Map keys must satisfy constraint: [Member must "
                             "have length less than or equal to 128, Member must have length "
                             "greater than or equal to 1, Member must satisfy regular expression "
                             "pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$]");
}

static void at_most_ten_violations(void **state)
{
    (void)state;
    char json[4096] = "{\"StreamName\":\"s\",\"Records\":[";
    for (int i = 0; i < 12; i++)
        strcat(json, i ? ",{}" : "{}");
    strcat(json, "]}");
    assert_int_equal(check("kinesis", "PutRecords", json), SL_ERANGE);
    static const char head[] = "10 validation errors detected: Value null at "
                               "'records.1.member.data' failed to satisfy constraint: Member must "
                               "not be null; ";
    assert_memory_equal(msg, head, sizeof(head) - 1);
    int n = 0;
    for (const char *p = msg; (p = strstr(p, "Value ")); p++)
        n++;
    assert_int_equal(n, 10);
}

static void type_mismatches_are_serialization_errors(void **state)
{
    (void)state;
    assert_int_equal(check("kinesis", "ListStreams", "{\"Limit\":\"5\"}"), SL_EPARSE);
    assert_string_equal(msg, "class java.lang.String can not be converted to an Integer");
    assert_int_equal(check("kinesis", "ListStreams", "{\"Limit\":true}"), SL_EPARSE);
    assert_string_equal(msg, "class java.lang.Boolean can not be converted to an Integer");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":5}"), SL_EPARSE);
    assert_string_equal(msg, "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can "
                             "not be converted to an String");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":false}"), SL_EPARSE);
    assert_string_equal(msg, "class java.lang.Boolean can not be converted to an String");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":[]}"), SL_EPARSE);
    assert_string_equal(msg, "Start of list found where not expected");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":{}}"), SL_EPARSE);
    assert_string_equal(msg, "Start of structure or map found where not expected.");
    assert_int_equal(check("kinesis", "PutRecords", "{\"StreamName\":\"s\",\"Records\":1}"),
                     SL_EPARSE);
    assert_string_equal(msg, "Expected list or null");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":\"s\",\"Tags\":[]}"),
                     SL_EPARSE);
    assert_string_equal(msg, "Start of list found where not expected");
    assert_int_equal(check("kinesis", "CreateStream", "{\"StreamName\":\"s\",\"Tags\":\"x\"}"),
                     SL_EPARSE);
    assert_string_equal(msg, "Expected map or null");
    assert_int_equal(check("kinesis", "PutRecord",
                           "{\"StreamName\":\"s\",\"PartitionKey\":\"k\",\"Data\":\"abc\"}"),
                     SL_EPARSE);
    assert_string_equal(msg, "'abc' can not be converted to a Blob: Base64 encoded length is "
                             "expected a multiple of 4 bytes but found: 3");
    assert_int_equal(check("kinesis", "PutRecord",
                           "{\"StreamName\":\"s\",\"PartitionKey\":\"k\",\"Data\":\"ab*c\"}"),
                     SL_EPARSE);
    assert_string_equal(msg,
                        "'ab*c' can not be converted to a Blob: Invalid Base64 character: '*'");
    assert_int_equal(check("kinesis", "GetShardIterator",
                           "{\"StreamName\":\"s\",\"ShardId\":\"shardId-0\",\"ShardIteratorType\":"
                           "\"AT_TIMESTAMP\",\"Timestamp\":\"yesterday\"}"),
                     SL_EPARSE);
    assert_string_equal(msg,
                        "class java.lang.String can not be converted to milliseconds since epoch");
}

static void blobs_print_as_byte_buffers(void **state)
{
    (void)state;
    /* A list of structures prints its elements as Java objects; blobs as HeapByteBuffers. */
    char json[40000] = "{\"StreamName\":\"s\",\"Records\":[";
    for (int i = 0; i < 501; i++)
        strcat(json, i ? ",{\"Data\":\"AAA=\",\"PartitionKey\":\"k\"}"
                       : "{\"Data\":\"AAA=\",\"PartitionKey\":\"k\"}");
    strcat(json, "]}");
    assert_int_equal(check("kinesis", "PutRecords", json), SL_ERANGE);
    static const char head[] = "1 validation error detected: Value '[PutRecordsRequestEntry(data="
                               "java.nio.HeapByteBuffer[pos=0 lim=2 cap=2], explicitHashKey=null, "
                               "partitionKey=k), ";
    assert_memory_equal(msg, head, sizeof(head) - 1);
    assert_non_null(strstr(msg, "' at 'records' failed to satisfy constraint: Member must have "
                                "length less than or equal to 500"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_inputs_pass),
        cmocka_unit_test(value_min_and_max),
        cmocka_unit_test(not_null_and_length_and_pattern),
        cmocka_unit_test(lengths_count_utf16_units),
        cmocka_unit_test(nested_list_paths_are_one_based),
        cmocka_unit_test(list_of_scalars_reported_on_the_list),
        cmocka_unit_test(enum_and_map_rules),
        cmocka_unit_test(unicode_property_patterns),
        cmocka_unit_test(at_most_ten_violations),
        cmocka_unit_test(type_mismatches_are_serialization_errors),
        cmocka_unit_test(blobs_print_as_byte_buffers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
