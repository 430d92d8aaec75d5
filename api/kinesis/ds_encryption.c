/* Kinesis Data Streams encryption at rest: StartStreamEncryption, StopStreamEncryption, and the
 * glue the data plane uses (the stream's key number for PutRecord(s), error replies).
 *
 * StartStreamEncryption checks the stream (must be ACTIVE) and the KeyId's form on the loop,
 * then makes sure the key exists on the reader thread (creating a key writes the key ring file
 * durably, see ds_crypt.h), and back on the loop switches the stream to KMS with that KeyId,
 * UPDATING, commits the snapshot and answers; ACTIVE follows after the status delay. From then
 * on PutRecord/PutRecords seal every record with the key; records already written stay
 * plaintext, and readers open each record by its own header, so a shard may mix both.
 * StopStreamEncryption switches back to NONE the same way (no key work): later records are
 * plaintext, earlier sealed ones stay sealed and readable. Stop's KeyId must be well formed but,
 * as on AWS, need not be the stream's current key. Keys stay in the ring after Stop: records
 * sealed with them must stay readable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_crypt.h"
#include "ds_service.h"
#include "sl_api_handlers.h"

static int active_or_reply(sl_api_call *call, const sl_ds_model *m, const sl_ds_stream *s)
{
    sl_ds_err e;
    if (s->status == SL_DS_ACTIVE)
        return 0;
    sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                  "Stream %s under account %s not ACTIVE, instead in state %s", s->name, m->account,
                  sl_ds_status_name(s->status));
    sl_ds_reply_err(call, &e);
    return -1;
}

int sl_ds_stream_key(const sl_ds_model *m, const sl_ds_stream *s, uint32_t *key_no, sl_ds_err *e)
{
    char name[SL_DS_KEY_NAME_MAX];
    sl_ds_keyring *kr = sl_ds_crypt_ring();
    int rc;

    *key_no = 0;
    if (!s->kms)
        return 0;
    if ((rc = sl_ds_crypt_key_name(s->key_id ? s->key_id : "", m->region, m->account, name, e)))
        return rc;
    rc = kr ? sl_ds_keyring_find(kr, name, key_no) : SL_EKMS_INVALID_STATE;
    if (rc)
        sl_ds_crypt_err(rc, s->key_id, e);
    return rc;
}

int sl_ds_stream_key_or_reply(sl_api_call *call, const sl_ds_model *m, const sl_ds_stream *s,
                              uint32_t *key_no)
{
    sl_ds_err e;
    int rc = sl_ds_stream_key(m, s, key_no, &e);
    if (rc)
        sl_ds_reply_err(call, &e);
    return rc;
}

/* ---- StartStreamEncryption ---------------------------------------------------------------- */

typedef struct start_job {
    sl_ds_call k;
    char stream[129];
    int64_t created_ms;
    char *key_id; /* owned, as the caller wrote it */
    char name[SL_DS_KEY_NAME_MAX];
    uint32_t key_no;
    int rc;
} start_job;

/* Reader thread: may write the key ring. */
static void start_work(void *arg)
{
    start_job *j = arg;
    sl_ds_keyring *kr = sl_ds_crypt_ring();
    j->rc = kr ? sl_ds_keyring_ensure(kr, j->name, &j->key_no) : SL_EKMS_INVALID_STATE;
}

static void start_done(void *arg)
{
    start_job *j = arg;
    sl_api_call *call = &j->k.call;
    sl_ds_model *m = sl_ds_model_of(j->k.region);
    sl_ds_stream *s = m ? sl_ds_model_find(m, j->stream) : NULL;
    sl_ds_err e;

    if (!m) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        goto out;
    }
    if (!s || s->created_ms != j->created_ms || s->status == SL_DS_DELETING) {
        sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "Stream %s under account %s not found.", j->stream, m->account);
        sl_ds_reply_err(call, &e);
        goto out;
    }
    if (j->rc) {
        sl_ds_crypt_err(j->rc, j->key_id, &e);
        sl_ds_reply_err(call, &e);
        goto out;
    }
    if (active_or_reply(call, m, s))
        goto out;
    free(s->key_id);
    s->key_id = j->key_id;
    j->key_id = NULL;
    s->kms = 1;
    s->status = SL_DS_UPDATING;
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_transition(m, s);
out:
    free(j->key_id);
    sl_ds_call_release(&j->k);
    free(j);
}

void sl_kinesis_start_stream_encryption(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    const char *type = sl_ds_in_str(call->input, "EncryptionType");
    const char *key_id = sl_ds_in_str(call->input, "KeyId");
    start_job *j = NULL;
    sl_ds_err e;
    int rc;

    if (!s)
        return;
    if (!type || strcmp(type, "KMS") != 0) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "Encryption type %s is not supported; StartStreamEncryption takes KMS.",
                      type ? type : "null");
        sl_ds_reply_err(call, &e);
        return;
    }
    if (active_or_reply(call, m, s))
        return;
    if (!(j = calloc(1, sizeof(*j))) || !(j->key_id = strdup(key_id ? key_id : ""))) {
        free(j);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    if (sl_ds_crypt_key_name(j->key_id, m->region, m->account, j->name, &e)) {
        sl_ds_reply_err(call, &e);
        free(j->key_id);
        free(j);
        return;
    }
    snprintf(j->stream, sizeof(j->stream), "%s", s->name);
    j->created_ms = s->created_ms;
    sl_ds_call_keep(&j->k, call);
    if ((rc = sl_ds_reader_submit(start_work, start_done, j))) {
        sl_ds_call_release(&j->k);
        free(j->key_id);
        free(j);
        sl_wire_call_error_code(call, rc);
    }
}

/* ---- StopStreamEncryption ----------------------------------------------------------------- */

void sl_kinesis_stop_stream_encryption(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    const char *type = sl_ds_in_str(call->input, "EncryptionType");
    const char *key_id = sl_ds_in_str(call->input, "KeyId");
    char name[SL_DS_KEY_NAME_MAX];
    sl_ds_err e;

    if (!s)
        return;
    if (!type || strcmp(type, "KMS") != 0) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "Encryption type %s is not supported; StopStreamEncryption takes KMS.",
                      type ? type : "null");
        sl_ds_reply_err(call, &e);
        return;
    }
    if (sl_ds_crypt_key_name(key_id ? key_id : "", m->region, m->account, name, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    if (active_or_reply(call, m, s))
        return;
    free(s->key_id);
    s->key_id = NULL;
    s->kms = 0;
    s->status = SL_DS_UPDATING;
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_transition(m, s);
}
