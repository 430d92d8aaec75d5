/* Fuzz target: arbitrary bytes as an AWS JSON request body, through the same steps the service
 * layer runs -- decode (sl_wire_json_decode), validate against an operation's model shape
 * (sl_validate; the operation is chosen by the first byte among several with nested lists,
 * maps, blobs, enums and Unicode patterns) -- and then the error body a client would get
 * (JSON and CBOR). Checks: no crash, no leak, and every outcome is one of the documented codes
 * with a non-empty message for errors. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/api_model.h"
#include "sluice/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    const char *service, *op;
} OPS[] = {
    {"kinesis", "ListStreams"},       {"kinesis", "PutRecords"},
    {"kinesis", "CreateStream"},      {"kinesis", "PutRecord"},
    {"kinesis", "GetShardIterator"},  {"kinesis", "EnableEnhancedMonitoring"},
    {"kinesis", "AddTagsToStream"},   {"kinesisvideo", "ListStreams"},
    {"kinesisvideo", "CreateStream"}, {"kinesisvideo", "TagResource"},
    {"firehose", "PutRecordBatch"},   {"firehose", "CreateDeliveryStream"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sl_patterns_init() != 0)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    size_t pick = data[0] % (sizeof(OPS) / sizeof(OPS[0]));
    const sl_service_def *svc = sl_model_service(OPS[pick].service);
    const sl_op_def *op = sl_model_op(svc, OPS[pick].op, strlen(OPS[pick].op));
    assert(op);
    cJSON *in = NULL;
    sl_diag d = {0};
    sl_buf msg = SL_BUF_INIT, body = SL_BUF_INIT;
    int rc = sl_wire_json_decode(data + 1, size - 1, (size_t)1 << 20, &in, &d);
    if (rc == 0) {
        rc = sl_validate(op->input, in, svc->proto, &msg);
        assert(rc == 0 || rc == SL_EPARSE || rc == SL_ERANGE || rc == SL_ENOMEM);
        if (rc == SL_EPARSE || rc == SL_ERANGE)
            assert(msg.len > 0);
    } else {
        assert(rc == SL_EPARSE || rc == SL_ETOOBIG);
    }
    if (rc != 0) {
        const char *type = rc == SL_ERANGE ? "ValidationException" : "SerializationException";
        if (sl_wire_json_error_body(&body, type, msg.data, "message") == 0) {
            cJSON *back = cJSON_ParseWithLength(body.data, body.len); /* round trip */
            assert(back);
            assert(strcmp(cJSON_GetObjectItem(back, "__type")->valuestring, type) == 0);
            cJSON_Delete(back);
        }
        sl_buf_reset(&body);
        sl_wire_cbor_error_body(&body, type, msg.data);
    }
    sl_buf_cleanup(&msg);
    sl_buf_cleanup(&body);
    cJSON_Delete(in);
    return 0;
}
