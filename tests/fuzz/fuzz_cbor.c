/* Fuzz target: arbitrary bytes as an AWS CBOR 1.1 request body, through the decoder
 * (sl_wire_cbor_decode -> the cJSON tree), validation against Kinesis PutRecords' input shape,
 * and the encoder, untyped and typed by an output shape with blobs and timestamps (GetRecords).
 * Checks: no crash, no leak, only documented codes with a message and an in-range offset on
 * failure, and that an untyped encoding decodes back to the same tree (round trip). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../api/wire/wire_int.h"
#include "sluice/api_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Same tree, children in order (cJSON_Compare looks object members up by name, which is wrong
 * for duplicate keys -- legal in a body, kept in order by the decoder and the encoder). Depth is
 * bounded by SL_CBOR_MAX_DEPTH, as the trees come from the decoder. */
static int same(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return 0;
    if ((a->string || b->string) && (!a->string || !b->string || strcmp(a->string, b->string)))
        return 0;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    const cJSON *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        if (!same(x, y))
            return 0;
    return !x && !y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const sl_op_def *put, *get;
    if (!put) {
        if (sl_patterns_init() != 0)
            abort();
        const sl_service_def *svc = sl_model_service("kinesis");
        put = sl_model_op(svc, "PutRecords", 10);
        get = sl_model_op(svc, "GetRecords", 10);
        assert(put && get && get->output);
    }
    cJSON *in = NULL, *back = NULL;
    sl_diag d = {0};
    sl_buf msg = SL_BUF_INIT, enc = SL_BUF_INIT;
    int rc = sl_wire_cbor_decode(data, size, (size_t)1 << 20, &in, &d);
    if (rc != 0) {
        assert(rc == SL_EPARSE || rc == SL_ETOOBIG || rc == SL_ENOMEM);
        assert(!in && d.text[0] && d.offset <= size);
        goto out;
    }
    assert(cJSON_IsObject(in));
    rc = sl_validate(put->input, in, SL_PROTO_AWS_JSON, &msg);
    assert(rc == 0 || rc == SL_EPARSE || rc == SL_ERANGE || rc == SL_ENOMEM);

    /* untyped: must come back as the same tree */
    rc = sl_wire_cbor_encode(in, NULL, &enc);
    assert(rc == 0 || rc == SL_ENOMEM);
    if (rc == 0) {
        sl_diag d2 = {0};
        rc = sl_wire_cbor_decode((const uint8_t *)enc.data, enc.len, (size_t)-1, &back, &d2);
        if (rc != 0 || !same(in, back))
            abort(); /* the encoder wrote something the decoder reads differently */
    }
    /* typed by an output shape: blob members that are not base64 are refused, never sent */
    sl_buf_reset(&enc);
    rc = sl_wire_cbor_encode(in, get->output, &enc);
    assert(rc == 0 || rc == SL_EINVAL || rc == SL_ENOMEM);
out:
    cJSON_Delete(in);
    cJSON_Delete(back);
    sl_buf_cleanup(&msg);
    sl_buf_cleanup(&enc);
    return 0;
}
