/* Kinesis Data Streams data plane: PutRecord, PutRecords, GetShardIterator, GetRecords.
 *
 * Writes. A record goes to the open shard whose hash range holds its hash key (ExplicitHashKey,
 * else MD5 of the partition key) and becomes one entry of that shard's log (payload: u16
 * big-endian key length | key | data; entry timestamp = arrival time in ms). Entries are queued
 * to the storage writer (a PutRecords call's in one sl_writer_submit_many); the writer's completion
 * (on the writer thread, after the fdatasync that covers the entry) counts down the call's pending
 * entries and posts the reply to the loop. So an acknowledged record is on disk, and its sequence
 * number is derived from its log offset (ds_seqno.h). A full writer queue answers
 * ProvisionedThroughputExceededException, which every client retries; so does a shard over its
 * write budget when SLUICE_KINESIS_SHARD_LIMITS=1 (ds_throttle.h; GetRecords and
 * GetShardIterator get their read budgets then too). PutRecord and PutRecords get their input
 * either from the validated cJSON tree (sl_kinesis_put_record[s]) or, for JSON 1.1 bodies the
 * fast reader can prove valid, straight from the body (sl_kinesis_put_record[s]_fast, called by
 * api/api.c; ds_putparse.h); from there on both run put_core.
 *
 * Reads. GetShardIterator resolves the position without touching the disk: a log offset
 * (TRIM_HORIZON: 0, clamped at read time to the first retained entry; LATEST: the durable end;
 * AT/AFTER_SEQUENCE_NUMBER: the counter of the number, with an "at" or "after" flag) or, for
 * AT_TIMESTAMP, the timestamp itself with a "scan" flag. GetRecords opens the iterator, takes
 * what it needs from the model on the loop, then reads on the reader thread (ds_service.c),
 * skipping entries older than the retention period, and returns at most Limit records and
 * 10 MiB of data with a fresh iterator -- or, at the end of a closed shard, no iterator and the
 * ChildShards. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/base64.h"
#include "ds_crypt.h"
#include "ds_fast.h"
#include "ds_putparse.h"
#include "../api_int.h"
#include "ds_service.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define PUT_RECORDS_MAX_BYTES     ((size_t)5 << 20)
#define GET_RECORDS_MAX_BYTES     ((size_t)10 << 20)
#define GET_RECORDS_DEFAULT_LIMIT 10000
#define READ_ITEMS                512        /* entries per sl_log_read_many */
#define READ_BYTES                (1u << 20) /* bytes per sl_log_read_many */

/* Iterator flags: how `position` is to be read (resolved on the reader thread by
 * resolve_start). 0: a log offset; POS_AT / POS_AFTER: a sequence-number counter; POS_TIMESTAMP:
 * an arrival time in ms. */
enum { POS_AFTER = 1, POS_TIMESTAMP = 2, POS_AT = 4 };

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

/* ---- writes ------------------------------------------------------------------------------- */

typedef struct put_job put_job;

typedef struct put_entry {
    put_job *job;
    uint32_t shard;
    int64_t shard_created_ms;
    int64_t ts_ms;
    int rc; /* 0, or SL_E* (submit or completion) */
    uint64_t offset;
} put_entry;

struct put_job {
    sl_ds_call k;
    char stream[129];
    int64_t stream_created_ms;
    int single; /* PutRecord */
    int kms;    /* records sealed (EncryptionType KMS) */
    int direct; /* reply written as JSON text (ds_fast.h), not through a cJSON tree */
    size_t n;
    atomic_size_t pending;
    put_entry *e;
};

static void put_job_free(put_job *j)
{
    sl_ds_call_release(&j->k);
    free(j->e);
    free(j);
}

static void entry_error(const put_entry *pe, const sl_ds_model *m, const char *stream,
                        const char **type, char *msg, size_t cap)
{
    if (pe->rc == SL_EFULL) {
        *type = "ProvisionedThroughputExceededException";
        snprintf(msg, cap, "Rate exceeded for shard shardId-%012u in stream %s under account %s.",
                 pe->shard, stream, m->account);
    } else if (pe->rc == SL_ENOTFOUND) {
        *type = "ResourceNotFoundException";
        snprintf(msg, cap, "Stream %s under account %s not found.", stream, m->account);
    } else {
        *type = "InternalFailure";
        snprintf(msg, cap, "Internal Service Failure");
    }
}

/* The success answer (and PutRecords' per-record errors) as JSON text, members in the order
 * the cJSON path below adds them. */
static void put_reply_direct(put_job *j, const sl_ds_model *m)
{
    sl_buf b = SL_BUF_INIT;
    const char *enc = j->kms ? "KMS" : "NONE";
    size_t failed = 0;
    char ids[8][21]; /* shard ids formatted so far, by index % 8 */
    uint32_t id_of[8];
    for (size_t k = 0; k < 8; k++)
        id_of[k] = UINT32_MAX;
    if (sl_buf_reserve(&b, j->single ? 160 : 64 + j->n * 112) != 0)
        goto out;
    if (!j->single)
        sl_buf_append_str(&b, "{\"Records\":[");
    for (size_t i = 0; i < j->n; i++) {
        put_entry *pe = &j->e[i];
        if (i)
            sl_buf_append_byte(&b, ',');
        if (pe->rc) { /* PutRecords only: PutRecord errors take the generic path */
            const char *type;
            char msg[400];
            entry_error(pe, m, j->stream, &type, msg, sizeof(msg));
            sl_buf_append_byte(&b, '{');
            sl_ds_fast_member_str(&b, "ErrorCode", type);
            sl_buf_append_byte(&b, ',');
            sl_ds_fast_member_str(&b, "ErrorMessage", msg);
            sl_buf_append_byte(&b, '}');
            failed++;
            continue;
        }
        char seq[SL_DS_SEQNO_STRLEN];
        sl_ds_shard tmp = {.index = pe->shard, .created_ms = pe->shard_created_ms};
        const char *id = ids[pe->shard % 8];
        if (id_of[pe->shard % 8] != pe->shard)
            sl_ds_shard_id(id_of[pe->shard % 8] = pe->shard, ids[pe->shard % 8]);
        sl_ds_format_seq(&tmp, pe->offset + 1, pe->ts_ms, seq);
        if (j->single) {
            sl_buf_append_byte(&b, '{');
            sl_ds_fast_member_str(&b, "ShardId", id);
            sl_buf_append_byte(&b, ',');
            sl_ds_fast_member_str(&b, "SequenceNumber", seq);
        } else {
            sl_buf_append_byte(&b, '{');
            sl_ds_fast_member_str(&b, "SequenceNumber", seq);
            sl_buf_append_byte(&b, ',');
            sl_ds_fast_member_str(&b, "ShardId", id);
            sl_buf_append_byte(&b, '}');
        }
    }
    if (!j->single) {
        sl_buf_append_str(&b, "],\"FailedRecordCount\":");
        sl_ds_fast_int(&b, (int64_t)failed);
    }
    sl_buf_append_byte(&b, ',');
    sl_ds_fast_member_str(&b, "EncryptionType", enc);
    sl_buf_append_byte(&b, '}');
out:
    if (b.oom || sl_ds_fast_reply(&j->k.call, &b) == SL_ENOMEM)
        sl_wire_call_error_code(&j->k.call, SL_ENOMEM);
    sl_buf_cleanup(&b);
}

static void put_finish(void *arg)
{
    put_job *j = arg;
    sl_ds_model *m = sl_ds_model_of(j->k.region);
    sl_ds_stream *s = m ? sl_ds_model_find(m, j->stream) : NULL;
    cJSON *out = NULL;
    int bad = 0;

    if (s && s->created_ms != j->stream_created_ms)
        s = NULL;
    for (size_t i = 0; s && i < j->n; i++) {
        if (j->e[i].shard < s->n_shards && s->shards[j->e[i].shard].inflight)
            s->shards[j->e[i].shard].inflight--;
    }
    if (!m) {
        sl_wire_call_error_code(&j->k.call, SL_ENOMEM);
        goto out;
    }
    if (j->direct && !(j->single && j->e[0].rc)) {
        put_reply_direct(j, m);
        goto out;
    }
    if (j->single) {
        put_entry *pe = &j->e[0];
        if (pe->rc) {
            const char *type;
            char msg[400];
            entry_error(pe, m, j->stream, &type, msg, sizeof(msg));
            sl_wire_reply_error(j->k.call.ex, j->k.call.op->service->proto, j->k.call.op->service,
                                strcmp(type, "InternalFailure") == 0 ? 500 : 400, type, msg, NULL);
            goto out;
        }
        char id[21], seq[SL_DS_SEQNO_STRLEN];
        sl_ds_shard tmp = {.index = pe->shard, .created_ms = pe->shard_created_ms};
        sl_ds_shard_id(pe->shard, id);
        sl_ds_format_seq(&tmp, pe->offset + 1, pe->ts_ms, seq);
        out = cJSON_CreateObject();
        bad |= !out || !cJSON_AddStringToObject(out, "ShardId", id);
        bad |= bad || !cJSON_AddStringToObject(out, "SequenceNumber", seq);
        bad |= bad || !cJSON_AddStringToObject(out, "EncryptionType", j->kms ? "KMS" : "NONE");
    } else {
        size_t failed = 0;
        cJSON *arr;
        out = cJSON_CreateObject();
        bad |= !out || !(arr = cJSON_AddArrayToObject(out, "Records"));
        for (size_t i = 0; !bad && i < j->n; i++) {
            put_entry *pe = &j->e[i];
            cJSON *o = cJSON_CreateObject();
            bad |= !o || !cJSON_AddItemToArray(arr, o);
            if (bad)
                break;
            if (pe->rc) {
                const char *type;
                char msg[400];
                entry_error(pe, m, j->stream, &type, msg, sizeof(msg));
                bad |= !cJSON_AddStringToObject(o, "ErrorCode", type);
                bad |= !cJSON_AddStringToObject(o, "ErrorMessage", msg);
                failed++;
                continue;
            }
            char id[21], seq[SL_DS_SEQNO_STRLEN];
            sl_ds_shard tmp = {.index = pe->shard, .created_ms = pe->shard_created_ms};
            sl_ds_shard_id(pe->shard, id);
            sl_ds_format_seq(&tmp, pe->offset + 1, pe->ts_ms, seq);
            bad |= !cJSON_AddStringToObject(o, "SequenceNumber", seq);
            bad |= !cJSON_AddStringToObject(o, "ShardId", id);
        }
        bad |= bad || !cJSON_AddNumberToObject(out, "FailedRecordCount", (double)failed);
        bad |= bad || !cJSON_AddStringToObject(out, "EncryptionType", j->kms ? "KMS" : "NONE");
    }
    if (bad)
        sl_wire_call_error_code(&j->k.call, SL_ENOMEM);
    else
        sl_wire_reply_ok(&j->k.call, out);
out:
    cJSON_Delete(out);
    put_job_free(j);
}

/* Writer thread (or the loop, for submissions that failed). */
static void put_done(void *arg, int rc, const sl_log_entry *e)
{
    put_entry *pe = arg;
    put_job *j = pe->job;
    pe->rc = rc;
    if (rc == 0 && e)
        pe->offset = e->offset;
    if (atomic_fetch_sub(&j->pending, 1) == 1 && sl_loop_post(put_finish, j) != 0)
        sl_error("kinesis", "cannot post a put completion: out of memory");
}

/* One record's checks (ExplicitHashKey range, the stream's record size) and its shard. pk and
 * ehk are not NUL-terminated (ehk NULL: absent). Returns 0 and sets *shard, or fills e. */
static int route_record(const sl_ds_model *m, sl_ds_stream *s, const char *pk, size_t pk_len,
                        const char *ehk, size_t ehk_len, size_t data_len, sl_ds_shard **shard,
                        sl_ds_err *e)
{
    sl_u128 k;
    if (ehk) {
        int rc = sl_ds_hashkey_parse(ehk, ehk_len, &k);
        if (rc)
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                                 "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                                 "[0, 2^128-1]. Specified value was %.*s",
                                 (int)ehk_len, ehk);
    } else {
        k = sl_ds_fast_hashkey(pk, pk_len);
    }
    size_t max = (size_t)s->max_record_kib * 1024;
    if (data_len + pk_len > max)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "Record size %zu bytes (data plus partition key) exceeds the maximum "
                             "record size of %zu bytes of stream %s under account %s.",
                             data_len + pk_len, max, s->name, m->account);
    *shard = sl_ds_stream_shard_for_hash(s, k);
    if (!*shard || !(*shard)->log)
        return sl_ds_err_set(e, SL_EINTERNAL, "InternalFailure", "Internal Service Failure");
    return 0;
}

/* Decodes a validated base64 Data member into a new buffer (*out, free()). */
static int decode_data(const char *b64, uint8_t **out, size_t *len)
{
    size_t n = strlen(b64);
    uint8_t *p = malloc(n / 4 * 3 + 1);
    if (!p)
        return SL_ENOMEM;
    long got = sl_base64_decode(b64, n, p, 0);
    if (got < 0) {
        free(p);
        return SL_EPARSE;
    }
    *out = p;
    *len = (size_t)got;
    return 0;
}

/* One record's log entry (payload: u16 big-endian key length | key | data), in iov[0..3) with
 * the length header in hdr, or -- encrypted at rest -- one sealed piece (*sealed, free() after
 * the submission: the writer copies what it keeps). Fills a; returns 0 or SL_E*. */
static int prepare_record(put_entry *pe, sl_ds_shard *sh, const char *pk, size_t pk_len,
                          const uint8_t *data, size_t len, uint32_t key_no, uint8_t hdr[2],
                          struct iovec iov[3], sl_append *a, uint8_t **sealed)
{
    hdr[0] = (uint8_t)(pk_len >> 8);
    hdr[1] = (uint8_t)pk_len;
    iov[0] = (struct iovec){hdr, 2};
    iov[1] = (struct iovec){(void *)pk, pk_len};
    iov[2] = (struct iovec){(void *)data, len};
    *a = (sl_append){
        .log = sh->log,
        .iov = iov,
        .iovcnt = len ? 3 : 2,
        .ts_ns = pe->ts_ms * 1000000,
        .done = put_done,
        .arg = pe,
    };
    *sealed = NULL;
    pe->shard = sh->index;
    pe->shard_created_ms = sh->created_ms;
    if (key_no) { /* encryption at rest: the entry becomes one sealed piece (ds_crypt.h) */
        size_t sealed_len = 0;
        int rc = sl_ds_crypt_seal(sl_ds_crypt_ring(), key_no, sl_log_name(sh->log), pe->ts_ms, iov,
                                  a->iovcnt, sealed, &sealed_len);
        if (rc)
            return rc;
        iov[0] = (struct iovec){*sealed, sealed_len};
        a->iovcnt = 1;
    }
    return 0;
}

static int submit_record(put_entry *pe, sl_ds_shard *sh, const char *pk, size_t pk_len,
                         const uint8_t *data, size_t len, uint32_t key_no)
{
    uint8_t hdr[2], *sealed;
    struct iovec iov[3];
    sl_append a;
    int rc = prepare_record(pe, sh, pk, pk_len, data, len, key_no, hdr, iov, &a, &sealed);
    if (rc == 0)
        rc = sl_writer_submit(sl_store_writer(sl_ds_store()), &a);
    free(sealed);
    if (rc == 0)
        sh->inflight++;
    return rc;
}

/* The records of one PutRecords that passed their shard's budget (idx[0..k) into recs / shards /
 * j->e), queued to the writer in one submission: one lock and one wake-up of the writer for the
 * whole call instead of one per record. All or nothing, like sl_writer_submit_many: a full
 * queue fails them all with ProvisionedThroughputExceededException. Every entry it does not
 * queue is completed with its error. */
static void submit_batch(put_job *j, const sl_ds_put_rec *recs, sl_ds_shard **shards,
                         const size_t *idx, size_t k, uint32_t key_no)
{
    struct piece {
        struct iovec iov[3];
        uint8_t hdr[2];
        uint8_t *sealed;
    } *pc = calloc(k, sizeof(*pc));
    sl_append *as = malloc(k * sizeof(*as));
    size_t made = 0;
    int rc = pc && as ? 0 : SL_ENOMEM;
    for (; rc == 0 && made < k; made++) {
        const sl_ds_put_rec *r = &recs[idx[made]];
        rc = prepare_record(&j->e[idx[made]], shards[idx[made]], r->pk, r->pk_len, r->data,
                            r->data_len, key_no, pc[made].hdr, pc[made].iov, &as[made],
                            &pc[made].sealed);
    }
    if (rc == 0)
        rc = sl_writer_submit_many(sl_store_writer(sl_ds_store()), as, k, 0);
    for (size_t i = 0; pc && i < made; i++)
        free(pc[i].sealed);
    free(pc);
    free(as);
    for (size_t i = 0; i < k; i++) {
        put_entry *pe = &j->e[idx[i]];
        if (rc == 0) {
            shards[idx[i]]->inflight++;
        } else {
            pe->shard = shards[idx[i]]->index;
            put_done(pe, rc, NULL);
        }
    }
}

static put_job *put_job_new(sl_api_call *call, const sl_ds_stream *s, size_t n, int single)
{
    put_job *j = calloc(1, sizeof(*j));
    if (!j || !(j->e = calloc(n, sizeof(*j->e)))) {
        free(j);
        return NULL;
    }
    snprintf(j->stream, sizeof(j->stream), "%s", s->name);
    j->stream_created_ms = s->created_ms;
    j->single = single;
    j->direct = sl_ds_fast_json_ok(call);
    j->n = n;
    atomic_init(&j->pending, n + 1); /* +1 held by the submitting handler */
    for (size_t i = 0; i < n; i++)
        j->e[i].job = j;
    sl_ds_call_keep(&j->k, call);
    return j;
}

/* Drops the handler's hold on j; finishes at once when every entry has completed. */
static void put_job_release_hold(put_job *j)
{
    if (atomic_fetch_sub(&j->pending, 1) == 1)
        put_finish(j);
}

/* Per-shard write budget (only when limits are on). Large records may take the byte bucket
 * into debt as long as it holds anything. */
static int write_allowed(sl_ds_shard *sh, size_t bytes)
{
    if (!sl_ds_shard_limits_on())
        return 1;
    int64_t now = sl_time_mono_ns() / 1000000;
    sl_ds_shard_limits *l = &sh->limits;
    if (!sl_ds_bucket_take(&l->write_records, SL_DS_WRITE_RECORDS_PER_S, SL_DS_WRITE_RECORDS_PER_S,
                           1, now, 0))
        return 0;
    if (!sl_ds_bucket_take(&l->write_bytes, SL_DS_WRITE_BYTES_PER_S, SL_DS_WRITE_BYTES_PER_S,
                           (double)bytes, now, 1)) {
        l->write_records.tokens += 1;
        return 0;
    }
    return 1;
}

static void throttled(sl_api_call *call, const sl_ds_model *m, const sl_ds_stream *s,
                      uint32_t shard)
{
    sl_ds_err e;
    sl_ds_err_set(&e, SL_EFULL, "ProvisionedThroughputExceededException",
                  "Rate exceeded for shard shardId-%012u in stream %s under account %s.", shard,
                  s->name, m->account);
    sl_ds_reply_err(call, &e);
}

/* What PutRecord and PutRecords do once their input is extracted, shared by the generic handlers
 * (input from the validated cJSON tree) and the fast path (input straight from the body,
 * ds_putparse.h), so both route, limit, submit and answer with the same code. recs[0..n) hold
 * decoded data (borrowed; the writer copies what it keeps before sl_writer_submit returns).
 * single: PutRecord (a throttled record fails the call; no per-call size cap). Every failure
 * is answered here. Loop thread. */
static void put_core(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s, uint32_t key_no,
                     const sl_ds_put_rec *recs, size_t n, int single)
{
    sl_ds_shard *one = NULL, **shards = single ? &one : malloc(n * sizeof(*shards));
    size_t total = 0;
    sl_ds_err e;
    put_job *j;

    if (!shards) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        goto out;
    }
    /* Check every entry before writing any: a bad one fails the whole call. */
    for (size_t i = 0; i < n; i++) {
        const sl_ds_put_rec *r = &recs[i];
        if (route_record(m, s, r->pk, r->pk_len, r->ehk, r->ehk_len, r->data_len, &shards[i], &e)) {
            sl_ds_reply_err(call, &e);
            goto out;
        }
        total += r->data_len + r->pk_len;
    }
    if (single && !write_allowed(shards[0], total)) {
        throttled(call, m, s, shards[0]->index);
        goto out;
    }
    size_t cap = s->max_record_kib > 1024 ? (size_t)10 << 20 : PUT_RECORDS_MAX_BYTES;
    if (!single && total > cap) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "Records size %zu bytes exceeds the limit of %zu bytes per PutRecords "
                      "request.",
                      total, cap);
        sl_ds_reply_err(call, &e);
        goto out;
    }
    if (!(j = put_job_new(call, s, n, single))) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        goto out;
    }
    int64_t ts = now_ms();
    j->kms = key_no != 0;
    for (size_t i = 0; i < n; i++)
        j->e[i].ts_ms = ts;
    if (single) {
        const sl_ds_put_rec *r = &recs[0];
        int rc = submit_record(&j->e[0], shards[0], r->pk, r->pk_len, r->data, r->data_len, key_no);
        if (rc) {
            j->e[0].shard = shards[0]->index;
            put_done(&j->e[0], rc, NULL);
        }
    } else {
        /* Records over their shard's budget fail one by one; the rest go to the writer in one
         * submission (idx: their positions). */
        size_t *idx = malloc(n * sizeof(*idx)), k = 0;
        for (size_t i = 0; i < n; i++) {
            if (write_allowed(shards[i], recs[i].data_len + recs[i].pk_len)) {
                if (idx)
                    idx[k++] = i;
                else /* no memory for the batch: fail what would have gone in it */
                    j->e[i].shard = shards[i]->index, put_done(&j->e[i], SL_ENOMEM, NULL);
            } else {
                j->e[i].shard = shards[i]->index;
                put_done(&j->e[i], SL_EFULL, NULL);
            }
        }
        if (k)
            submit_batch(j, recs, shards, idx, k, key_no);
        free(idx);
    }
    put_job_release_hold(j);
out:
    if (shards != &one)
        free(shards);
}

void sl_kinesis_put_record(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 1) : NULL;
    const char *pk = sl_ds_in_str(call->input, "PartitionKey");
    const char *ehk = sl_ds_in_str(call->input, "ExplicitHashKey");
    const char *order = sl_ds_in_str(call->input, "SequenceNumberForOrdering");
    const char *b64 = sl_ds_in_str(call->input, "Data");
    uint8_t *data = NULL;
    size_t len = 0;
    sl_ds_err e;
    uint32_t key_no;
    int rc;

    if (!s || sl_ds_stream_key_or_reply(call, m, s, &key_no))
        return;
    if (order) {
        sl_ds_seqno q;
        if (sl_ds_seqno_parse(order, strlen(order), &q) != 0 ||
            (int64_t)q.record_s > now_ms() / 1000 + 1) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                          "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under "
                          "account %s is invalid.",
                          order, s->name, m->account);
            sl_ds_reply_err(call, &e);
            return;
        }
    }
    if ((rc = decode_data(b64 ? b64 : "", &data, &len))) {
        sl_wire_call_error_code(call, rc);
        return;
    }
    pk = pk ? pk : "";
    sl_ds_put_rec r = {
        .pk = pk,
        .pk_len = strlen(pk),
        .ehk = ehk,
        .ehk_len = ehk ? strlen(ehk) : 0,
        .data = data,
        .data_len = len,
    };
    put_core(call, m, s, key_no, &r, 1, 1);
    free(data);
}

void sl_kinesis_put_records(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 1) : NULL;
    const cJSON *records = cJSON_GetObjectItemCaseSensitive(call->input, "Records"), *r;
    size_t n = (size_t)cJSON_GetArraySize(records), i = 0, room = 0, used = 0;
    /* Per record its members, and its decoded Data in one block shared by all records (one
     * allocation per call instead of one per record). */
    sl_ds_put_rec *recs = NULL;
    uint8_t *blob = NULL;
    uint32_t key_no;

    if (!s || sl_ds_stream_key_or_reply(call, m, s, &key_no))
        return;
    if (!(recs = calloc(n + 1, sizeof(*recs)))) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        goto out;
    }
    cJSON_ArrayForEach(r, records)
    {
        const char *b64 = sl_ds_in_str(r, "Data");
        room += (b64 ? strlen(b64) : 0) / 4 * 3;
    }
    if (!(blob = malloc(room + 1))) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        goto out;
    }
    cJSON_ArrayForEach(r, records)
    {
        sl_ds_put_rec *rr = &recs[i++];
        const char *pk = sl_ds_in_str(r, "PartitionKey"), *b64 = sl_ds_in_str(r, "Data");
        const char *ehk = sl_ds_in_str(r, "ExplicitHashKey");
        b64 = b64 ? b64 : "";
        long got = sl_base64_decode(b64, strlen(b64), blob + used, 0);
        if (got < 0) {
            sl_wire_call_error_code(call, SL_EPARSE);
            goto out;
        }
        rr->pk = pk ? pk : "";
        rr->pk_len = strlen(rr->pk);
        rr->ehk = ehk;
        rr->ehk_len = ehk ? strlen(ehk) : 0;
        rr->data = blob + used;
        rr->data_len = (size_t)got;
        used += (size_t)got;
    }
    put_core(call, m, s, key_no, recs, n, 0);
out:
    free(blob);
    free(recs);
}

/* The fast path (api/api.c): the body read by ds_putparse.c instead of cJSON + sl_validate.
 * call->input is NULL on entry; sl_ds_model_or_reply and sl_ds_stream_or_reply read the stream
 * from it, so it points meanwhile to a two-node cJSON object on the stack holding StreamName
 * alone (the only member the subset lets through besides the records). */
static int put_fast(sl_api_call *call, int single)
{
    const char *body = (const char *)call->req->body;
    sl_ds_put_body b;
    int rc = single ? sl_ds_putparse_record(body, call->req->body_len, &b, NULL)
                    : sl_ds_putparse_records(body, call->req->body_len, &b, NULL);
    if (rc) /* not in the subset (or out of memory): the generic pipeline decides */
        return 0;
    char name[SL_DS_PUT_STREAM_MAX + 1], key[] = "StreamName";
    memcpy(name, b.stream, b.stream_len);
    name[b.stream_len] = '\0';
    cJSON member = {.type = cJSON_String, .valuestring = name, .string = key};
    cJSON input = {.type = cJSON_Object, .child = &member};
    member.prev = &member;
    call->input = &input;
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 1) : NULL;
    uint32_t key_no;
    if (s && !sl_ds_stream_key_or_reply(call, m, s, &key_no))
        put_core(call, m, s, key_no, b.recs, b.n, single);
    call->input = NULL;
    sl_ds_putparse_cleanup(&b);
    return 1;
}

int sl_kinesis_put_record_fast(sl_api_call *call)
{
    return put_fast(call, 1);
}

int sl_kinesis_put_records_fast(sl_api_call *call)
{
    return put_fast(call, 0);
}

/* ---- GetShardIterator --------------------------------------------------------------------- */

sl_ds_shard *sl_ds_shard_or_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s,
                                  const char *id)
{
    sl_ds_shard *sh = id ? sl_ds_stream_find_shard(s, id) : NULL;
    if (!sh) {
        sl_ds_err e;
        const char *digits = id && strncmp(id, "shardId-", 8) == 0 ? id + 8 : id;
        char padded[64];
        if (digits && *digits && strspn(digits, "0123456789") == strlen(digits) &&
            strlen(digits) <= 12)
            snprintf(padded, sizeof(padded), "shardId-%012llu", strtoull(digits, NULL, 10));
        else
            snprintf(padded, sizeof(padded), "%s", id ? id : "");
        sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "Shard %s in stream %s under account %s does not exist", padded, s->name,
                      m->account);
        sl_ds_reply_err(call, &e);
    }
    return sh;
}

int sl_ds_start_position(const sl_ds_model *m, const sl_ds_stream *s, const sl_ds_shard *sh,
                         const char *op, const char *type, const char *seq, const cJSON *tso,
                         uint64_t *position, uint8_t *flags, sl_ds_err *e)
{
    static const char must[] =
        "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER "
        "and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
        "StartingSequenceNumber.";
    int64_t now = now_ms();
    char id[21];

    sl_ds_shard_id(sh->index, id);
    *position = 0;
    *flags = 0;
    int by_seq = type && (strcmp(type, "AT_SEQUENCE_NUMBER") == 0 ||
                          strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0);
    if (!type)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException", "%s", must);
    if (by_seq && !seq)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "%s Request specified %s and no StartingSequenceNumber.", must, type);
    if (!by_seq && seq && strcmp(type, "AT_TIMESTAMP") != 0)
        return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                             "%s Request specified %s and also a StartingSequenceNumber.", must,
                             type);
    if (by_seq) {
        sl_ds_seqno q;
        if (sl_ds_seqno_parse(seq, strlen(seq), &q) != 0)
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                                 "StartingSequenceNumber %s used in %s on shard %s in stream %s "
                                 "under account %s is invalid.",
                                 seq, op, id, s->name, m->account);
        if (q.shard_index != sh->index)
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                                 "Invalid StartingSequenceNumber. It encodes shardId-%012u, while "
                                 "it was used in a call to a shard with %s",
                                 q.shard_index, id);
        uint64_t end = sl_log_end_offset(sh->log);
        if (q.shard_created_s != (uint64_t)(sh->created_ms / 1000) ||
            (q.counter > end && q.counter != SL_DS_SEQNO_COUNTER_END))
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                                 "StartingSequenceNumber %s used in %s on shard %s in stream %s "
                                 "under account %s is invalid because it did not come from this "
                                 "stream.",
                                 seq, op, id, s->name, m->account);
        if (q.counter == SL_DS_SEQNO_COUNTER_END) {
            *position = end;
        } else {
            *position = q.counter;
            *flags = strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0 ? POS_AFTER : POS_AT;
        }
    } else if (strcmp(type, "TRIM_HORIZON") == 0) {
        *position = 0;
    } else if (strcmp(type, "LATEST") == 0) {
        *position = sl_log_end_offset(sh->log);
    } else { /* AT_TIMESTAMP */
        if (!cJSON_IsNumber(tso))
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                                 "Must specify timestampInMillis parameter for iterator of type "
                                 "AT_TIMESTAMP. Current request has no timestamp parameter.");
        int64_t ts = (int64_t)(tso->valuedouble * 1000.0 + 0.5);
        if (ts > now)
            return sl_ds_err_set(e, SL_EINVAL, "InvalidArgumentException",
                                 "The timestampInMillis parameter cannot be greater than the "
                                 "currentTimestampInMillis. timestampInMillis: %lld, "
                                 "currentTimestampInMillis: %lld",
                                 (long long)ts, (long long)now);
        *position = ts < 0 ? 0 : (uint64_t)ts;
        *flags = POS_TIMESTAMP;
    }
    return 0;
}

void sl_kinesis_get_shard_iterator(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 1) : NULL;
    sl_ds_shard *sh =
        s ? sl_ds_shard_or_reply(call, m, s, sl_ds_in_str(call->input, "ShardId")) : NULL;
    sl_ds_token t;
    sl_ds_err e;
    if (!sh)
        return;
    if (sl_ds_shard_limits_on() &&
        !sl_ds_bucket_take(&sh->limits.iterator_calls, SL_DS_ITERATOR_CALLS_PER_S,
                           SL_DS_ITERATOR_CALLS_PER_S, 1, sl_time_mono_ns() / 1000000, 0)) {
        throttled(call, m, s, sh->index);
        return;
    }
    memset(&t, 0, sizeof(t));
    if (sl_ds_start_position(m, s, sh, "GetShardIterator",
                             sl_ds_in_str(call->input, "ShardIteratorType"),
                             sl_ds_in_str(call->input, "StartingSequenceNumber"),
                             cJSON_GetObjectItemCaseSensitive(call->input, "Timestamp"),
                             &t.position, &t.flags, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    t.kind = SL_DS_TOKEN_ITERATOR;
    snprintf(t.stream, sizeof(t.stream), "%s", s->name);
    t.stream_created_ms = s->created_ms;
    t.shard_index = sh->index;
    t.issued_ms = now_ms();
    char enc[SL_DS_TOKEN_MAX_CHARS + 1];
    int rc = sl_ds_token_seal(sl_ds_key(), &t, enc);
    cJSON *out = rc > 0 ? cJSON_CreateObject() : NULL;
    if (!out || !cJSON_AddStringToObject(out, "ShardIterator", enc))
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

/* ---- GetRecords --------------------------------------------------------------------------- */

typedef struct read_job {
    sl_ds_call k;
    sl_log *log;
    sl_ds_token t;     /* the iterator (position, flags, stream) */
    sl_ds_shard shard; /* copy: index, created_ms */
    size_t limit;
    int64_t cutoff_ms; /* entries older than this are past retention */
    int closed;        /* shard closed and no append in flight */
    cJSON *children;   /* ChildShards, owned */
    size_t out_bytes;  /* record bytes returned (read budget) */
    int direct;        /* answer written as JSON text into `body` (ds_fast.h) */
    /* result */
    int failed;  /* err_* set */
    cJSON *out;  /* generic path */
    sl_buf body; /* direct path */
    const char *err_type;
    char err_msg[sizeof(((sl_ds_err *)0)->msg)];
    int err_status;
} read_job;

/* Adds one record to the answer: a cJSON object to arr, or -- with json -- its text to json
 * (records after the first one preceded by a comma: `first`). */
static int add_record(cJSON *arr, sl_buf *json, int first, const sl_ds_shard *shard,
                      const sl_log_entry *e, const sl_buf *payload, size_t *data_bytes, int kms)
{
    const uint8_t *p = (const uint8_t *)payload->data;
    if (payload->len < 2)
        return SL_ECORRUPT;
    size_t pk_len = (size_t)p[0] << 8 | p[1];
    if (2 + pk_len > payload->len)
        return SL_ECORRUPT;
    size_t dlen = payload->len - 2 - pk_len;
    char seq[SL_DS_SEQNO_STRLEN];
    if (json) {
        int64_t ts_ms = e->ts_ns / 1000000;
        sl_ds_format_seq(shard, e->offset + 1, ts_ms, seq);
        if (!first)
            sl_buf_append_byte(json, ',');
        sl_ds_fast_record(json, seq, ts_ms, p + 2 + pk_len, dlen, (const char *)p + 2, pk_len, kms);
        *data_bytes += dlen + pk_len;
        return json->oom ? SL_ENOMEM : 0;
    }
    char *pk = malloc(pk_len + 1), *b64 = malloc(SL_BASE64_LEN(dlen) + 1);
    cJSON *o = cJSON_CreateObject();
    int added = pk && b64 && o && cJSON_AddItemToArray(arr, o);
    if (!added) {
        cJSON_Delete(o);
        free(pk);
        free(b64);
        return SL_ENOMEM;
    }
    int bad = 0;
    memcpy(pk, p + 2, pk_len);
    pk[pk_len] = '\0';
    sl_base64_encode(p + 2 + pk_len, dlen, b64);
    int64_t ts_ms = e->ts_ns / 1000000;
    sl_ds_format_seq(shard, e->offset + 1, ts_ms, seq);
    bad |= !cJSON_AddStringToObject(o, "SequenceNumber", seq);
    bad |= sl_wire_json_add_timestamp(o, "ApproximateArrivalTimestamp", ts_ms) != 0;
    bad |= !cJSON_AddStringToObject(o, "Data", b64);
    bad |= !cJSON_AddStringToObject(o, "PartitionKey", pk);
    bad |= !cJSON_AddStringToObject(o, "EncryptionType", kms ? "KMS" : "NONE");
    free(pk);
    free(b64);
    *data_bytes += dlen + pk_len;
    return bad ? SL_ENOMEM : 0;
}

int sl_ds_resolve_start(sl_log *log, uint64_t position, uint8_t flags, uint64_t *out)
{
    uint64_t first = sl_log_first_offset(log), pos = position;
    sl_log_entry e;
    int rc;

    if (flags & POS_TIMESTAMP) {
        int64_t want_ns = (int64_t)position * 1000000;
        pos = first;
        while ((rc = sl_log_read(log, pos, &e, NULL)) == 0 && e.ts_ns < want_ns)
            pos = e.next_offset;
    } else if ((flags & (POS_AT | POS_AFTER)) && position > 0) {
        /* Counter k names the record at offset k - 1, or -- when no record starts there -- the
         * position k itself (an idle ContinuationSequenceNumber). */
        rc = sl_log_read(log, position - 1, &e, NULL);
        if (rc == 0)
            pos = (flags & POS_AFTER) ? e.next_offset : e.offset;
        else if (rc == SL_ECORRUPT || rc == SL_EAGAIN)
            pos = position;
        else if (rc == SL_ERANGE)
            pos = first;
        else
            return rc;
    } else if (flags & (POS_AT | POS_AFTER)) {
        pos = 0;
    }
    if (pos < first)
        pos = first;
    *out = pos;
    return 0;
}

static void read_fail(read_job *r, int status, const char *type, const char *msg)
{
    r->failed = 1;
    sl_buf_cleanup(&r->body);
    r->err_status = status;
    r->err_type = type;
    snprintf(r->err_msg, sizeof(r->err_msg), "%s", msg);
    cJSON_Delete(r->out);
    r->out = NULL;
}

/* sl_ds_read_batch, into a cJSON array (records) or as JSON text (json). */
static int read_batch(sl_log *log, const sl_ds_shard *shard, int64_t cutoff_ms, size_t limit,
                      size_t max_bytes, uint64_t *pos, cJSON *records, sl_buf *json,
                      sl_ds_batch *out)
{
    sl_buf frames = SL_BUF_INIT;
    sl_log_item *items = malloc(READ_ITEMS * sizeof(*items));
    size_t bytes = 0, n_items = 0, k = 0;
    uint64_t scanned = 0, start = *pos;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    out->last_ts_ms = -1;
    if (!items)
        return SL_ENOMEM;
    /* Entries come READ_ITEMS at a time from one pread (sl_log_read_many); the checks below
     * run per entry, as they would with one sl_log_read each. Bytes looked at, returned or
     * skipped bound the work of one call when a long stretch of the log is past retention but
     * not yet removed. */
    while (out->n < limit && bytes < max_bytes && scanned < 4 * (uint64_t)max_bytes) {
        if (k == n_items) {
            size_t want = limit - out->n < READ_ITEMS ? limit - out->n : READ_ITEMS;
            k = n_items = 0;
            rc = sl_log_read_many(log, *pos, READ_BYTES, items, want, &frames, &n_items);
        }
        if (rc == SL_EAGAIN) {
            out->at_end = 1;
            rc = 0;
            break;
        }
        if (rc == SL_ERANGE) { /* removed by retention meanwhile */
            uint64_t first = sl_log_first_offset(log);
            rc = 0;
            if (first <= *pos)
                break;
            *pos = first;
            n_items = k = 0;
            continue;
        }
        if (rc == SL_ECORRUPT && out->n == 0 && *pos == start) {
            rc = SL_EINVAL; /* the position is not a record boundary: a forged iterator */
            goto done;
        }
        if (rc) {
            if (rc != SL_ENOTFOUND)
                sl_error("kinesis", "reading %s at %llu: %s", sl_log_name(log),
                         (unsigned long long)*pos, sl_err_str(rc));
            goto done;
        }
        sl_log_entry e = items[k].e;
        /* a view of the entry's payload inside `frames` (opened in place when sealed) */
        sl_buf payload = {.data = (char *)items[k].payload, .len = e.len, .cap = e.len};
        k++;
        if (e.ts_ns / 1000000 >= cutoff_ms) {
            int kms = sl_ds_crypt_is_sealed(payload.data, payload.len);
            if (kms &&
                (rc = sl_ds_crypt_open(sl_ds_crypt_ring(), sl_log_name(log), e.ts_ns / 1000000,
                                       (uint8_t *)payload.data, &payload.len))) {
                sl_error("kinesis", "opening the sealed record at %llu of %s: %s",
                         (unsigned long long)*pos, sl_log_name(log), sl_err_str(rc));
                goto done;
            }
            if ((rc = add_record(records, json, out->n == 0, shard, &e, &payload, &bytes, kms)))
                goto done;
            out->last_ts_ms = e.ts_ns / 1000000;
            out->last_offset = e.offset;
            out->n++;
        }
        scanned += e.next_offset - e.offset;
        *pos = e.next_offset;
    }
    out->bytes = bytes;
    if (!out->at_end && sl_log_end_offset(log) <= *pos)
        out->at_end = 1;
    /* Behind = newest entry's arrival minus the last one returned (or the next unread one). */
    uint64_t last;
    if (!out->at_end && sl_log_last_offset(log, &last) == 0) {
        sl_log_entry tip, next;
        if (sl_log_read(log, last, &tip, NULL) == 0) {
            int64_t ref = out->last_ts_ms;
            if (ref < 0 && sl_log_read(log, *pos, &next, NULL) == 0)
                ref = next.ts_ns / 1000000;
            if (ref >= 0 && tip.ts_ns / 1000000 > ref)
                out->behind_ms = tip.ts_ns / 1000000 - ref;
        }
    }
done:
    sl_buf_cleanup(&frames);
    free(items);
    return rc;
}

int sl_ds_read_batch(sl_log *log, const sl_ds_shard *shard, int64_t cutoff_ms, size_t limit,
                     size_t max_bytes, uint64_t *pos, cJSON *records, sl_ds_batch *out)
{
    return read_batch(log, shard, cutoff_ms, limit, max_bytes, pos, records, NULL, out);
}

/* Reader thread: the members after Records, in the generic path's order. */
static void read_finish_direct(read_job *r, const sl_ds_batch *b, uint64_t pos)
{
    sl_buf *o = &r->body;
    sl_buf_append_str(o, "],\"MillisBehindLatest\":");
    sl_ds_fast_int(o, b->behind_ms);
    if (b->at_end && r->closed) {
        char *text = cJSON_PrintUnformatted(r->children);
        if (!text) {
            read_fail(r, 500, "InternalFailure", "Internal Service Failure");
            return;
        }
        sl_buf_append_str(o, ",\"ChildShards\":");
        sl_buf_append_str(o, text);
        free(text);
    } else {
        sl_ds_token t = r->t;
        char enc[SL_DS_TOKEN_MAX_CHARS + 1];
        t.position = pos;
        t.flags = 0;
        t.issued_ms = sl_time_now_ns() / 1000000;
        if (sl_ds_token_seal(sl_ds_key(), &t, enc) < 0) {
            read_fail(r, 500, "InternalFailure", "Internal Service Failure");
            return;
        }
        sl_buf_append_byte(o, ',');
        sl_ds_fast_member_str(o, "NextShardIterator", enc);
    }
    sl_buf_append_byte(o, '}');
    if (o->oom)
        read_fail(r, 500, "InternalFailure", "Internal Service Failure");
}

/* Reader thread. */
static void read_work(void *arg)
{
    read_job *r = arg;
    uint64_t pos = r->t.position;
    sl_ds_batch b;
    cJSON *records = NULL;
    int rc;

    if (r->direct) {
        sl_buf_append_str(&r->body, "{\"Records\":[");
    } else if (!(r->out = cJSON_CreateObject()) ||
               !(records = cJSON_AddArrayToObject(r->out, "Records"))) {
        read_fail(r, 500, "InternalFailure", "Internal Service Failure");
        return;
    }
    if (sl_ds_resolve_start(r->log, r->t.position, r->t.flags, &pos) != 0) {
        read_fail(r, 400, "InvalidArgumentException", "Invalid ShardIterator.");
        return;
    }
    rc = read_batch(r->log, &r->shard, r->cutoff_ms, r->limit, GET_RECORDS_MAX_BYTES, &pos, records,
                    r->direct ? &r->body : NULL, &b);
    if (rc == SL_EINVAL) {
        read_fail(r, 400, "InvalidArgumentException", "Invalid ShardIterator.");
        return;
    }
    if (rc == SL_ENOTFOUND) {
        read_fail(r, 400, "ResourceNotFoundException", "The shard no longer exists.");
        return;
    }
    if (rc == SL_EKMS_NOTFOUND || rc == SL_EKMS_INVALID_STATE) {
        sl_ds_err ke;
        sl_ds_crypt_err(rc, NULL, &ke);
        read_fail(r, 400, ke.type, ke.msg);
        return;
    }
    r->out_bytes = b.bytes;
    if (rc == 0 && r->direct) {
        read_finish_direct(r, &b, pos);
        return;
    }
    if (rc || !cJSON_AddNumberToObject(r->out, "MillisBehindLatest", (double)b.behind_ms)) {
        read_fail(r, 500, "InternalFailure", "Internal Service Failure");
        return;
    }
    if (b.at_end && r->closed) {
        cJSON_AddItemToObject(r->out, "ChildShards", r->children);
        r->children = NULL;
    } else {
        sl_ds_token t = r->t;
        char enc[SL_DS_TOKEN_MAX_CHARS + 1];
        t.position = pos;
        t.flags = 0;
        t.issued_ms = sl_time_now_ns() / 1000000;
        if (sl_ds_token_seal(sl_ds_key(), &t, enc) < 0 ||
            !cJSON_AddStringToObject(r->out, "NextShardIterator", enc))
            read_fail(r, 500, "InternalFailure", "Internal Service Failure");
    }
}

static void read_done(void *arg)
{
    read_job *r = arg;
    if (sl_ds_shard_limits_on() && r->out_bytes) {
        sl_ds_model *m = sl_ds_model_of(r->k.region);
        sl_ds_stream *s = m ? sl_ds_model_find(m, r->t.stream) : NULL;
        if (s && s->created_ms == r->t.stream_created_ms && r->t.shard_index < s->n_shards)
            sl_ds_bucket_charge(&s->shards[r->t.shard_index].limits.read_bytes,
                                SL_DS_READ_BYTES_PER_S, SL_DS_READ_BYTES_PER_S,
                                (double)r->out_bytes, sl_time_mono_ns() / 1000000);
    }
    if (!r->failed && r->direct)
        sl_ds_fast_reply(&r->k.call, &r->body);
    else if (!r->failed)
        sl_wire_reply_ok(&r->k.call, r->out);
    else
        sl_wire_reply_error(r->k.call.ex, r->k.call.op->service->proto, r->k.call.op->service,
                            r->err_status, r->err_type, r->err_msg, NULL);
    cJSON_Delete(r->out);
    sl_buf_cleanup(&r->body);
    cJSON_Delete(r->children);
    sl_ds_call_release(&r->k);
    free(r);
}

cJSON *sl_ds_child_shards(const sl_ds_stream *s, uint32_t parent)
{
    const sl_ds_shard *p = &s->shards[parent];
    cJSON *arr = cJSON_CreateArray();
    int bad = !arr;
    for (size_t i = 0; !bad && i < s->n_shards; i++) {
        const sl_ds_shard *c = &s->shards[i];
        if (!sl_ds_stream_is_child(s, p, c))
            continue;
        char id[21], a[SL_DS_HASHKEY_STRLEN], b[SL_DS_HASHKEY_STRLEN];
        cJSON *o = cJSON_CreateObject(), *ps, *hk;
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            bad = 1;
            break;
        }
        sl_ds_shard_id(c->index, id);
        bad |= !cJSON_AddStringToObject(o, "ShardId", id);
        bad |= !(ps = cJSON_AddArrayToObject(o, "ParentShards"));
        for (size_t j = 0; !bad && j < c->index; j++) {
            if (!sl_ds_stream_is_child(s, &s->shards[j], c))
                continue;
            sl_ds_shard_id((uint32_t)j, id);
            bad |= !cJSON_AddItemToArray(ps, cJSON_CreateString(id));
        }
        sl_ds_hashkey_format(c->start_hash, a);
        sl_ds_hashkey_format(c->end_hash, b);
        bad |= bad || !(hk = cJSON_AddObjectToObject(o, "HashKeyRange"));
        bad |= bad || !cJSON_AddStringToObject(hk, "StartingHashKey", a);
        bad |= bad || !cJSON_AddStringToObject(hk, "EndingHashKey", b);
    }
    if (bad) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

void sl_kinesis_get_records(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    if (!m)
        return;
    const char *it = sl_ds_in_str(call->input, "ShardIterator");
    int64_t now = now_ms();
    read_job *r = NULL;
    sl_ds_token t;
    sl_ds_err e;

    if (!it || sl_ds_token_open(sl_ds_key(), it, strlen(it), &t) != 0 ||
        t.kind != SL_DS_TOKEN_ITERATOR) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid ShardIterator.");
        goto fail;
    }
    if (sl_ds_token_expired(t.issued_ms, now)) {
        sl_ds_err_set(&e, SL_EINVAL, "ExpiredIteratorException", "x");
        sl_ds_token_expired_message(t.issued_ms, now, e.msg, sizeof(e.msg));
        goto fail;
    }
    sl_ds_stream *s = sl_ds_model_find_live(m, t.stream, &e);
    if (!s)
        goto fail;
    if (s->created_ms != t.stream_created_ms || t.shard_index >= s->n_shards) {
        sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                      "Shard shardId-%012u in stream %s under account %s does not exist",
                      t.shard_index, s->name, m->account);
        goto fail;
    }
    sl_ds_shard *sh = &s->shards[t.shard_index];
    if (sl_ds_shard_limits_on()) {
        int64_t mono = sl_time_mono_ns() / 1000000;
        sl_ds_shard_limits *l = &sh->limits;
        if (!sl_ds_bucket_take(&l->read_bytes, SL_DS_READ_BYTES_PER_S, SL_DS_READ_BYTES_PER_S, 0,
                               mono, 1) ||
            !sl_ds_bucket_take(&l->read_calls, SL_DS_READ_CALLS_PER_S, SL_DS_READ_CALLS_PER_S, 1,
                               mono, 0)) {
            throttled(call, m, s, sh->index);
            return;
        }
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    r->log = sh->log;
    r->t = t;
    r->shard.index = sh->index;
    r->shard.created_ms = sh->created_ms;
    double lim = sl_ds_in_num(call->input, "Limit", GET_RECORDS_DEFAULT_LIMIT);
    r->limit =
        lim >= 1 && lim < GET_RECORDS_DEFAULT_LIMIT ? (size_t)lim : GET_RECORDS_DEFAULT_LIMIT;
    r->cutoff_ms = now - sl_ds_retention_ms(s);
    r->closed = sh->closed_ms != 0 && sh->inflight == 0;
    r->direct = sl_ds_fast_json_ok(call);
    if (r->closed && !(r->children = sl_ds_child_shards(s, sh->index))) {
        free(r);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    sl_ds_call_keep(&r->k, call);
    int rc = sl_ds_reader_submit(read_work, read_done, r);
    if (rc) {
        sl_ds_call_release(&r->k);
        cJSON_Delete(r->children);
        free(r);
        sl_wire_call_error_code(call, rc);
    }
    return;
fail:
    sl_ds_reply_err(call, &e);
}
