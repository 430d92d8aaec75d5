/* PutRecord and PutRecordBatch: durable intake.
 *
 * Every record of a call is decoded from base64 and submitted to the storage writer as one entry
 * of the delivery stream's intake log (fh.h), all of a call at once (sl_writer_submit_many, so
 * they share a group commit). The writer runs the done callbacks in submission order after the
 * fdatasync that covers them; the last one posts the reply to the loop thread. So a RecordId is
 * only ever returned for a record that is on disk, and the delivery worker (woken by the same
 * completion) is the only thing that removes it again, after delivery.
 *
 * Limits (spec §3.6): 1 000 KiB per record (the model's validator), 500 records, 4 MiB per
 * PutRecordBatch (InvalidArgumentException). A full writer queue is back-pressure: PutRecord
 * answers ServiceUnavailableException (503, retried by every SDK); PutRecordBatch answers 200 with
 * every entry failed with ErrorCode ServiceUnavailableException. A storage failure fails the
 * entries with InternalFailure.
 *
 * RecordId: 32 hex digits = intake-log creation ms (16) + log offset (16): unique per delivery
 * stream incarnation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/base64.h"
#include "fh.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define BATCH_MAX_BYTES (4u << 20)

typedef struct put_job {
    sl_api_call call;
    int batch;
    int encrypted;
    int64_t created_ms;
    char region[32];
    char name[SL_FH_NAME_MAX + 1];
    uint64_t bytes; /* record bytes of the call */
    size_t n, n_done;
    int *rc;
    uint64_t *offset;
} put_job;

static void job_free(put_job *j)
{
    if (j->call.ex)
        sl_exchange_unref(j->call.ex);
    free(j->rc);
    free(j->offset);
    free(j);
}

static void record_id(const put_job *j, size_t i, char out[40])
{
    snprintf(out, 40, "%016llx%016llx", (unsigned long long)j->created_ms,
             (unsigned long long)j->offset[i]);
}

static void put_finish(void *arg)
{
    put_job *j = arg;
    char id[40];
    size_t ok = 0;
    for (size_t i = 0; i < j->n; i++)
        ok += j->rc[i] == 0;
    if (ok) {
        sl_fh_count(j->region, j->name, j->created_ms, SL_FH_M_INCOMING_RECORDS, ok);
        sl_fh_count(j->region, j->name, j->created_ms, SL_FH_M_INCOMING_BYTES,
                    ok == j->n ? j->bytes : 0);
        sl_fh_count(j->region, j->name, j->created_ms, SL_FH_M_INCOMING_PUT_REQUESTS, 1);
    }
    cJSON *out = cJSON_CreateObject();
    if (!j->batch) {
        if (j->rc[0] == SL_EFULL) {
            sl_fh_reply_error(&j->call, "ServiceUnavailableException", "Slow down.");
        } else if (j->rc[0]) {
            sl_wire_call_error_code(&j->call, j->rc[0]);
        } else {
            record_id(j, 0, id);
            cJSON_AddStringToObject(out, "RecordId", id);
            cJSON_AddBoolToObject(out, "Encrypted", j->encrypted);
            sl_wire_reply_ok(&j->call, out);
        }
    } else {
        size_t failed = 0;
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < j->n; i++) {
            cJSON *e = cJSON_CreateObject();
            if (j->rc[i] == 0) {
                record_id(j, i, id);
                cJSON_AddStringToObject(e, "RecordId", id);
            } else {
                failed++;
                int busy = j->rc[i] == SL_EFULL;
                cJSON_AddStringToObject(e, "ErrorCode",
                                        busy ? "ServiceUnavailableException" : "InternalFailure");
                cJSON_AddStringToObject(e, "ErrorMessage",
                                        busy ? "Slow down." : sl_err_str(j->rc[i]));
            }
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_AddNumberToObject(out, "FailedPutCount", (double)failed);
        cJSON_AddBoolToObject(out, "Encrypted", j->encrypted);
        cJSON_AddItemToObject(out, "RequestResponses", arr);
        sl_wire_reply_ok(&j->call, out);
    }
    cJSON_Delete(out);
    job_free(j);
}

/* Writer thread, once per record, in submission order. */
static void put_done(void *arg, int rc, const sl_log_entry *e)
{
    put_job *j = arg;
    size_t i = j->n_done++;
    j->rc[i] = rc;
    if (rc == 0 && e)
        j->offset[i] = e->offset;
    if (j->n_done < j->n)
        return;
    sl_fh_worker_kick();
    if (sl_loop_post(put_finish, j) != 0)
        sl_error("firehose", "cannot post a put completion: out of memory");
}

static void put(sl_api_call *call, const cJSON *records, int batch)
{
    sl_fh_stream *s = sl_fh_stream_or_reply(call, 1);
    put_job *j = NULL;
    sl_append *a = NULL;
    struct iovec *iov = NULL;
    uint8_t **data = NULL;
    size_t n = 0, total = 0;
    int rc = SL_ENOMEM;
    if (!s)
        return;
    if (s->kinesis_source) {
        sl_fh_reply_error(call, "InvalidArgumentException",
                          "This operation is not permitted on KinesisStreamAsSource type.");
        return;
    }
    n = batch ? (size_t)cJSON_GetArraySize(records) : 1;
    j = calloc(1, sizeof(*j));
    a = calloc(n, sizeof(*a));
    iov = calloc(n, sizeof(*iov));
    data = calloc(n, sizeof(*data));
    if (!j || !a || !iov || !data)
        goto fail;
    j->rc = calloc(n, sizeof(*j->rc));
    j->offset = calloc(n, sizeof(*j->offset));
    if (!j->rc || !j->offset)
        goto fail;
    j->n = n;
    j->batch = batch;
    j->encrypted = s->encrypted;
    j->created_ms = s->created_ms;
    snprintf(j->region, sizeof(j->region), "%s", s->region);
    snprintf(j->name, sizeof(j->name), "%s", s->name);
    int64_t now_ns = sl_time_now_ns();
    const cJSON *r = batch ? records->child : records;
    for (size_t i = 0; i < n; i++, r = r ? r->next : NULL) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "Data");
        const char *b64 = cJSON_IsString(d) ? d->valuestring : "";
        size_t len = strlen(b64);
        data[i] = malloc(len / 4 * 3 + 1);
        if (!data[i])
            goto fail;
        long got = sl_base64_decode(b64, len, data[i], 0);
        if (got < 0) {
            rc = SL_EPARSE;
            goto fail;
        }
        total += (size_t)got;
        iov[i] = (struct iovec){data[i], (size_t)got};
        a[i] = (sl_append){.log = s->log,
                           .iov = &iov[i],
                           .iovcnt = 1,
                           .ts_ns = now_ns,
                           .done = put_done,
                           .arg = j};
    }
    j->bytes = total;
    if (batch && total > BATCH_MAX_BYTES) {
        sl_fh_reply_error(call, "InvalidArgumentException", "Records size exceeds 4 MB limit");
        goto out;
    }
    j->call = *call;
    j->call.input = NULL;
    j->call.region = NULL;
    sl_exchange_ref(call->ex);
    rc = sl_writer_submit_many(sl_store_writer(sl_fh_store()), a, n, 0);
    if (rc) {
        /* Nothing was queued: answer now, as the completions would have. */
        for (size_t i = 0; i < n; i++)
            j->rc[i] = rc;
        put_finish(j);
    }
    j = NULL;
    goto out;
fail:
    if (rc == SL_EPARSE)
        sl_fh_reply_error(call, "SerializationException", "Invalid base64 in Data.");
    else
        sl_wire_call_error_code(call, rc);
out:
    if (j)
        job_free(j);
    for (size_t i = 0; data && i < n; i++)
        free(data[i]);
    free(data);
    free(iov);
    free(a);
}

void sl_firehose_put_record(sl_api_call *call)
{
    put(call, cJSON_GetObjectItemCaseSensitive(call->input, "Record"), 0);
}

void sl_firehose_put_record_batch(sl_api_call *call)
{
    put(call, cJSON_GetObjectItemCaseSensitive(call->input, "Records"), 1);
}
