/* Fuzz target: arbitrary bytes as a Kinesis PutRecords and as a PutRecord JSON 1.1 body, read
 * by the fast path (api/kinesis/ds_putparse.c) and by the generic pipeline (sl_wire_json_decode
 * + sl_validate against the operation's input shape from the model).
 * Property (aborts on any divergence): whenever the fast path takes a body, the generic path
 * accepts it too, with no member the fast path ignored, and the same StreamName, record count
 * and, per record, the same PartitionKey, ExplicitHashKey (or its absence) and Data bytes (the
 * generic base64 string decoded as the handler decodes it). A body it does not take must come
 * with a reason and an offset inside the body, and hold nothing.
 * tests/unit/kinesis/test_ds_putparse.c runs the same check (put_check) on its list of bodies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../api/kinesis/ds_putparse.h"
#include "sluice/api_model.h"
#include "sluice/base64.h"
#include "sluice/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What put_check found. */
enum { PUT_NOT_MINE = 0, PUT_TAKEN = 1 };

static void diverge(const char *what, const uint8_t *body, size_t len)
{
    fprintf(stderr, "fast path and generic path diverge: %s\nbody (%zu bytes): %.*s\n", what, len,
            (int)(len > 4000 ? 4000 : len), (const char *)body);
    abort();
}

static const sl_op_def *put_op(int single)
{
    static const sl_op_def *ops[2];
    if (!ops[single]) {
        if (sl_patterns_init() != 0)
            abort();
        const sl_service_def *svc = sl_model_service("kinesis");
        ops[single] =
            svc ? sl_model_op(svc, single ? "PutRecord" : "PutRecords", single ? 9 : 10) : NULL;
        if (!ops[single] || !ops[single]->input)
            abort();
    }
    return ops[single];
}

/* The string member name of o, or NULL; equal to s[0..n)? */
static int same_str(const cJSON *o, const char *name, const char *s, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!s)
        return v == NULL;
    return cJSON_IsString(v) && strlen(v->valuestring) == n && memcmp(v->valuestring, s, n) == 0;
}

/* The record object o (generic) against r (fast). */
static int same_record(const cJSON *o, const sl_ds_put_rec *r, int extra_members)
{
    if (cJSON_GetArraySize(o) != 2 + (r->ehk != NULL) + extra_members)
        return 0; /* a member the fast path would have ignored */
    if (!same_str(o, "PartitionKey", r->pk, r->pk_len) ||
        !same_str(o, "ExplicitHashKey", r->ehk, r->ehk_len))
        return 0;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "Data");
    if (!cJSON_IsString(d))
        return 0;
    size_t n = strlen(d->valuestring);
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    if (!buf)
        abort();
    long got = sl_base64_decode(d->valuestring, n, buf, 0); /* as ds_data.c decodes it */
    int same = got >= 0 && (size_t)got == r->data_len && memcmp(buf, r->data, r->data_len) == 0;
    free(buf);
    return same;
}

/* Runs one body through both paths for PutRecords (single 0) or PutRecord (1); aborts on a
 * divergence. Returns PUT_TAKEN or PUT_NOT_MINE; *why (if not NULL) gets the fast path's
 * reason for refusing. */
static int put_check(const uint8_t *body, size_t len, int single, sl_diag *why)
{
    const sl_op_def *op = put_op(single);
    sl_ds_put_body b;
    sl_diag d = {0};
    cJSON *in = NULL;
    sl_buf msg = SL_BUF_INIT;
    int rc = single ? sl_ds_putparse_record((const char *)body, len, &b, &d)
                    : sl_ds_putparse_records((const char *)body, len, &b, &d);
    if (why)
        *why = d;
    if (rc == SL_ENOMEM)
        return PUT_NOT_MINE;
    if (rc != 0) {
        if (rc != SL_EPARSE || !d.text[0] || d.offset > len || b.recs || b.blob || b.n)
            diverge("a refusal without a reason, or holding memory", body, len);
        return PUT_NOT_MINE;
    }
    if (len > op->service->max_body) /* api.c never offers such a body to the fast path */
        goto out;
    sl_diag d2 = {0};
    if (sl_wire_json_decode(body, len, op->service->max_body, &in, &d2) != 0)
        diverge("fast took a body the JSON decoder refuses", body, len);
    rc = sl_validate(op->input, in, SL_PROTO_AWS_JSON, &msg);
    if (rc == SL_ENOMEM)
        goto out;
    if (rc != 0) {
        fprintf(stderr, "validation: %s\n", msg.data ? msg.data : "");
        diverge("fast took a body validation refuses", body, len);
    }
    if (!same_str(in, "StreamName", b.stream, b.stream_len))
        diverge("StreamName differs", body, len);
    if (single) {
        if (b.n != 1 || !same_record(in, &b.recs[0], 1))
            diverge("PutRecord members differ", body, len);
    } else {
        const cJSON *recs = cJSON_GetObjectItemCaseSensitive(in, "Records"), *r;
        size_t i = 0;
        if (cJSON_GetArraySize(in) != 2 || !cJSON_IsArray(recs) ||
            (size_t)cJSON_GetArraySize(recs) != b.n)
            diverge("PutRecords members or record count differ", body, len);
        cJSON_ArrayForEach(r, recs)
        {
            if (!same_record(r, &b.recs[i++], 0))
                diverge("a record differs", body, len);
        }
    }
out:
    cJSON_Delete(in);
    sl_buf_cleanup(&msg);
    sl_ds_putparse_cleanup(&b);
    return PUT_TAKEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    put_check(data, size, 0, NULL);
    put_check(data, size, 1, NULL);
    return 0;
}
