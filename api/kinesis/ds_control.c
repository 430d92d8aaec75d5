/* Kinesis Data Streams control plane: CreateStream, DeleteStream, DescribeStream,
 * DescribeStreamSummary, ListShards, DescribeLimits, retention, tags, enhanced monitoring,
 * SplitShard, MergeShards and UpdateShardCount.
 *
 * Every handler runs on the loop thread with an input already validated against the model
 * (api/wire/validate.c). Changes are made to the in-memory model first (so the next request
 * sees them), then the stream's snapshot is committed to the catalog and only then answered
 * (sl_ds_persist_and_reply). Status changes that real Kinesis makes asynchronously
 * (CREATING/UPDATING -> ACTIVE, DELETING -> gone) follow after SLUICE_KINESIS_STATUS_DELAY_MS
 * (default 200 ms; 0 = at once). ListStreams itself is the api helper's handler
 * (list_streams.c), fed through sl_ds_registry_put. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_policy.h"
#include "ds_service.h"
#include "sl_api_handlers.h"
#include "sluice/time.h"

#define DESCRIBE_PAGE_MAX 100
#define LIST_SHARDS_MAX   1000
#define TAGS_PAGE_MAX     50

static int64_t now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

/* A closed shard whose records have all aged out is no longer listed. */
static int shard_expired(const sl_ds_stream *s, const sl_ds_shard *sh, int64_t now)
{
    return sh->closed_ms && sh->closed_ms < now - sl_ds_retention_ms(s);
}

static cJSON *shard_json(const sl_ds_shard *sh)
{
    char id[21], a[SL_DS_HASHKEY_STRLEN], b[SL_DS_HASHKEY_STRLEN], seq[SL_DS_SEQNO_STRLEN];
    cJSON *o = cJSON_CreateObject(), *hk, *sr;
    int bad = !o;
    if (bad)
        return NULL;
    sl_ds_shard_id(sh->index, id);
    bad |= !cJSON_AddStringToObject(o, "ShardId", id);
    if (sh->parent != SL_DS_NO_PARENT) {
        sl_ds_shard_id(sh->parent, id);
        bad |= !cJSON_AddStringToObject(o, "ParentShardId", id);
    }
    if (sh->adjacent_parent != SL_DS_NO_PARENT) {
        sl_ds_shard_id(sh->adjacent_parent, id);
        bad |= !cJSON_AddStringToObject(o, "AdjacentParentShardId", id);
    }
    sl_ds_hashkey_format(sh->start_hash, a);
    sl_ds_hashkey_format(sh->end_hash, b);
    bad |= !(hk = cJSON_AddObjectToObject(o, "HashKeyRange"));
    bad |= !hk || !cJSON_AddStringToObject(hk, "StartingHashKey", a);
    bad |= !hk || !cJSON_AddStringToObject(hk, "EndingHashKey", b);
    bad |= !(sr = cJSON_AddObjectToObject(o, "SequenceNumberRange"));
    sl_ds_format_seq(sh, 0, sh->created_ms, seq);
    bad |= !sr || !cJSON_AddStringToObject(sr, "StartingSequenceNumber", seq);
    if (sh->closed_ms) {
        sl_ds_format_seq(sh, SL_DS_SEQNO_COUNTER_END, sh->closed_ms, seq);
        bad |= !sr || !cJSON_AddStringToObject(sr, "EndingSequenceNumber", seq);
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int add_metrics(cJSON *parent, const char *name, uint32_t metrics)
{
    cJSON *arr = cJSON_AddArrayToObject(parent, name);
    if (!arr)
        return -1;
    for (int i = 0; i < 7; i++) {
        if ((metrics & (1u << i)) &&
            !cJSON_AddItemToArray(arr, cJSON_CreateString(sl_ds_metric_names[i])))
            return -1;
    }
    return 0;
}

/* The members DescribeStream and DescribeStreamSummary share. */
static int describe_common(const sl_ds_model *m, const sl_ds_stream *s, cJSON *d)
{
    char arn[300];
    int bad = 0;
    cJSON *mode, *em, *em0;
    sl_ds_stream_arn(m, s, arn, sizeof(arn));
    bad |= !cJSON_AddStringToObject(d, "StreamName", s->name);
    bad |= !cJSON_AddStringToObject(d, "StreamARN", arn);
    bad |= !cJSON_AddStringToObject(d, "StreamStatus", sl_ds_status_name(s->status));
    bad |= !(mode = cJSON_AddObjectToObject(d, "StreamModeDetails"));
    bad |=
        !mode || !cJSON_AddStringToObject(mode, "StreamMode",
                                          s->mode == SL_DS_ON_DEMAND ? "ON_DEMAND" : "PROVISIONED");
    bad |= !cJSON_AddNumberToObject(d, "RetentionPeriodHours", s->retention_hours);
    bad |= sl_wire_json_add_timestamp(d, "StreamCreationTimestamp", s->created_ms) != 0;
    bad |= !(em = cJSON_AddArrayToObject(d, "EnhancedMonitoring"));
    bad |= !em || !(em0 = cJSON_CreateObject()) || !cJSON_AddItemToArray(em, em0);
    bad |= bad || add_metrics(em0, "ShardLevelMetrics", s->metrics) != 0;
    bad |= !cJSON_AddStringToObject(d, "EncryptionType", s->kms ? "KMS" : "NONE");
    if (s->kms && s->key_id)
        bad |= !cJSON_AddStringToObject(d, "KeyId", s->key_id);
    return bad ? SL_ENOMEM : 0;
}

static uint64_t log_end(void *arg, const sl_ds_shard *sh)
{
    (void)arg;
    return sh->log ? sl_log_end_offset(sh->log) : 0;
}

/* ---- CreateStream / DeleteStream ---------------------------------------------------------- */

void sl_kinesis_create_stream(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    if (!m)
        return;
    const cJSON *in = call->input;
    const char *name = sl_ds_in_str(in, "StreamName");
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(in, "StreamModeDetails");
    const char *mode_s = sl_ds_in_str(details, "StreamMode");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(in, "ShardCount");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
    double max_kib = sl_ds_in_num(in, "MaxRecordSizeInKiB", 1024);
    double warm = sl_ds_in_num(in, "WarmThroughputMiBps", -1);
    sl_ds_mode mode = SL_DS_PROVISIONED;
    uint32_t shards = 0;
    sl_ds_stream *s;
    sl_ds_err e;
    int rc;

    if (mode_s && strcmp(mode_s, "ON_DEMAND") == 0)
        mode = SL_DS_ON_DEMAND;
    if (!mode_s && !cJSON_IsNumber(count))
        mode = SL_DS_ON_DEMAND; /* neither given: a 4-shard stream, as AWS did when recorded */
    if (mode == SL_DS_PROVISIONED) {
        if (!cJSON_IsNumber(count)) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                          "ShardCount is required for PROVISIONED streams.");
            sl_ds_reply_err(call, &e);
            return;
        }
        shards = (uint32_t)count->valuedouble;
    } else if (cJSON_IsNumber(count)) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "ShardCount must not be specified for ON_DEMAND streams.");
        sl_ds_reply_err(call, &e);
        return;
    }
    if (warm >= 0 && sl_ds_warm_check(m, name, mode, warm, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    if ((rc = sl_ds_model_create_stream(m, name, shards, mode, now_ms(), &s, &e))) {
        sl_ds_reply_err(call, &e);
        return;
    }
    s->max_record_kib = (uint32_t)max_kib;
    if (cJSON_IsObject(tags) && cJSON_GetArraySize(tags) > 0) {
        size_t n = (size_t)cJSON_GetArraySize(tags), i = 0;
        const char **k = calloc(n, sizeof(*k)), **v = calloc(n, sizeof(*v));
        const cJSON *t;
        rc = (!k || !v)
                 ? sl_ds_err_set(&e, SL_ENOMEM, "InternalFailure", "Internal Service Failure")
                 : 0;
        cJSON_ArrayForEach(t, tags)
        {
            if (rc || i >= n)
                break;
            k[i] = t->string;
            v[i++] = cJSON_IsString(t) ? t->valuestring : "";
        }
        if (!rc)
            rc = sl_ds_stream_add_tags(m, s, k, v, i, &e);
        free(k);
        free(v);
        if (rc) {
            sl_ds_model_remove(m, name);
            sl_ds_reply_err(call, &e);
            return;
        }
    }
    if ((rc = sl_ds_attach_logs(m, s)) ||
        (warm >= 0 && (rc = sl_ds_warm_store(m, s, (long)warm)))) {
        sl_ds_model_remove(m, name);
        sl_wire_call_error_code(call, rc);
        return;
    }
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_transition(m, s);
}

void sl_kinesis_delete_stream(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    const cJSON *force = cJSON_GetObjectItemCaseSensitive(call->input, "EnforceConsumerDeletion");
    sl_ds_err e;
    if (!s)
        return;
    if (sl_ds_model_delete_begin(m, s->name, cJSON_IsTrue(force), &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_transition(m, s);
}

/* ---- Describe ----------------------------------------------------------------------------- */

void sl_kinesis_describe_stream(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    double limit = sl_ds_in_num(call->input, "Limit", DESCRIBE_PAGE_MAX);
    const char *start = sl_ds_in_str(call->input, "ExclusiveStartShardId");
    size_t max = limit < DESCRIBE_PAGE_MAX ? (size_t)limit : DESCRIBE_PAGE_MAX, n = 0;
    int64_t now = now_ms();
    int more = 0, bad;
    uint32_t from = 0;
    if (start) {
        sl_ds_shard *ex = sl_ds_stream_find_shard(s, start);
        if (ex)
            from = ex->index + 1;
        else if (strncmp(start, "shardId-", 8) == 0)
            from = (uint32_t)strtoul(start + 8, NULL, 10) + 1;
    }
    cJSON *out = cJSON_CreateObject(),
          *d = out ? cJSON_AddObjectToObject(out, "StreamDescription") : NULL;
    cJSON *arr = d ? cJSON_AddArrayToObject(d, "Shards") : NULL;
    bad = !arr || describe_common(m, s, d) != 0;
    for (size_t i = from; !bad && s->status != SL_DS_CREATING && i < s->n_shards; i++) {
        if (shard_expired(s, &s->shards[i], now))
            continue;
        if (n == max) {
            more = 1;
            break;
        }
        cJSON *o = shard_json(&s->shards[i]);
        bad |= !o || !cJSON_AddItemToArray(arr, o);
        n++;
    }
    bad |= !d || !cJSON_AddBoolToObject(d, "HasMoreShards", more);
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_kinesis_describe_stream_summary(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    cJSON *out = cJSON_CreateObject(),
          *d = out ? cJSON_AddObjectToObject(out, "StreamDescriptionSummary") : NULL;
    int bad = !d || describe_common(m, s, d) != 0;
    bad |= bad || !cJSON_AddNumberToObject(d, "OpenShardCount", sl_ds_stream_open_shards(s));
    bad |= bad || !cJSON_AddNumberToObject(d, "ConsumerCount", (double)s->n_consumers);
    bad |= bad || !cJSON_AddNumberToObject(d, "MaxRecordSizeInKiB", s->max_record_kib);
    bad |= bad || sl_ds_warm_describe(m, s, d) != 0;
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_kinesis_describe_limits(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    if (!m)
        return;
    uint32_t on_demand = 0;
    for (size_t i = 0; i < m->n_streams; i++)
        on_demand += m->streams[i]->mode == SL_DS_ON_DEMAND;
    cJSON *out = cJSON_CreateObject();
    int bad = !out;
    bad |= bad || !cJSON_AddNumberToObject(out, "ShardLimit", m->limits.shard_limit);
    bad |= bad || !cJSON_AddNumberToObject(out, "OpenShardCount", sl_ds_model_open_shards(m));
    bad |= bad || !cJSON_AddNumberToObject(out, "OnDemandStreamCount", on_demand);
    bad |=
        bad || !cJSON_AddNumberToObject(out, "OnDemandStreamCountLimit", m->limits.on_demand_limit);
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

/* ---- ListShards --------------------------------------------------------------------------- */

enum { F_FROM_TRIM = 0, F_AFTER_ID, F_AT_TRIM, F_AT_LATEST, F_AT_TS, F_FROM_TS };

static int filter_code(const char *t)
{
    static const char *const names[] = {"FROM_TRIM_HORIZON", "AFTER_SHARD_ID", "AT_TRIM_HORIZON",
                                        "AT_LATEST",         "AT_TIMESTAMP",   "FROM_TIMESTAMP"};
    for (int i = 0; i < 6; i++) {
        if (t && strcmp(t, names[i]) == 0)
            return i;
    }
    return F_FROM_TRIM;
}

static int shard_passes(const sl_ds_stream *s, const sl_ds_shard *sh, int filter, int64_t ts,
                        int64_t now)
{
    if (shard_expired(s, sh, now))
        return 0;
    switch (filter) {
    case F_AT_LATEST:
        return sh->closed_ms == 0;
    case F_AT_TRIM: {
        /* The lineage roots still within retention: what a consumer starting at the trim
         * horizon reads first. */
        int p = sh->parent != SL_DS_NO_PARENT && !shard_expired(s, &s->shards[sh->parent], now);
        int a = sh->adjacent_parent != SL_DS_NO_PARENT &&
                !shard_expired(s, &s->shards[sh->adjacent_parent], now);
        return !p && !a;
    }
    case F_AT_TS:
        if (ts < s->created_ms)
            ts = s->created_ms;
        return sh->created_ms <= ts && (sh->closed_ms == 0 || sh->closed_ms > ts);
    case F_FROM_TS:
        return sh->closed_ms == 0 || sh->closed_ms >= ts;
    default:
        return 1;
    }
}

void sl_kinesis_list_shards(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    if (!m)
        return;
    const cJSON *in = call->input;
    const char *token = sl_ds_in_str(in, "NextToken");
    const char *name = sl_ds_in_str(in, "StreamName"), *arn = sl_ds_in_str(in, "StreamARN");
    const char *start = sl_ds_in_str(in, "ExclusiveStartShardId");
    const cJSON *filter_o = cJSON_GetObjectItemCaseSensitive(in, "ShardFilter");
    double max_d = sl_ds_in_num(in, "MaxResults", LIST_SHARDS_MAX);
    size_t max = max_d < LIST_SHARDS_MAX ? (size_t)max_d : LIST_SHARDS_MAX;
    int64_t now = now_ms(), ts = 0;
    int filter = F_FROM_TRIM;
    uint32_t from = 0;
    sl_ds_stream *s = NULL;
    sl_ds_err e;

    if (token && (name || arn)) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "NextToken and StreamName cannot be provided together.");
        goto fail;
    }
    if (token && (start || cJSON_GetObjectItemCaseSensitive(in, "StreamCreationTimestamp"))) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "NextToken and %s cannot be provided together.",
                      start ? "ExclusiveStartShardId" : "StreamCreationTimestamp");
        goto fail;
    }
    if (!token && !name && !arn) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "Either NextToken or StreamName should be provided.");
        goto fail;
    }
    if (token) {
        sl_ds_token t;
        if (sl_ds_token_open(sl_ds_key(), token, strlen(token), &t) != 0 ||
            t.kind != SL_DS_TOKEN_LIST_SHARDS) {
            sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid NextToken.");
            goto fail;
        }
        if (sl_ds_token_expired(t.issued_ms, now)) {
            sl_ds_err_set(&e, SL_EINVAL, "ExpiredNextTokenException",
                          "The timestamp in the NextToken has expired. NextToken is valid for "
                          "300 seconds.");
            goto fail;
        }
        s = sl_ds_model_find(m, t.stream);
        if (!s || s->created_ms != t.stream_created_ms) {
            sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                          "Stream %s under account %s not found.", t.stream, m->account);
            goto fail;
        }
        from = t.shard_index;
        filter = t.flags;
        ts = (int64_t)t.position;
    } else {
        if (!(s = sl_ds_stream_or_reply(call, m, 0)))
            return;
        if (filter_o) {
            const char *type = sl_ds_in_str(filter_o, "Type");
            const char *sid = sl_ds_in_str(filter_o, "ShardId");
            const cJSON *tso = cJSON_GetObjectItemCaseSensitive(filter_o, "Timestamp");
            filter = filter_code(type);
            if (filter == F_AFTER_ID && !sid) {
                sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                              "Must specify ShardId when using ShardFilter type AFTER_SHARD_ID.");
                goto fail;
            }
            if ((filter == F_AT_TS || filter == F_FROM_TS) && !cJSON_IsNumber(tso)) {
                sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                              "Must specify Timestamp when using ShardFilter type %s.", type);
                goto fail;
            }
            if (cJSON_IsNumber(tso))
                ts = (int64_t)(tso->valuedouble * 1000.0);
            if (filter == F_AFTER_ID)
                start = sid;
        }
        if (start) {
            sl_ds_shard *ex = sl_ds_stream_find_shard(s, start);
            from = ex ? ex->index + 1
                      : (strncmp(start, "shardId-", 8) == 0
                             ? (uint32_t)strtoul(start + 8, NULL, 10) + 1
                             : 0);
        }
    }
    if (s->status == SL_DS_CREATING) {
        sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                      "Stream %s under account %s not ACTIVE, instead in state CREATING", s->name,
                      m->account);
        goto fail;
    }
    cJSON *out = cJSON_CreateObject(), *arr = out ? cJSON_AddArrayToObject(out, "Shards") : NULL;
    int bad = !arr;
    size_t n = 0;
    for (size_t i = from; !bad && i < s->n_shards; i++) {
        if (!shard_passes(s, &s->shards[i], filter, ts, now))
            continue;
        if (n == max) {
            sl_ds_token t;
            char enc[SL_DS_TOKEN_MAX_CHARS + 1];
            memset(&t, 0, sizeof(t));
            t.kind = SL_DS_TOKEN_LIST_SHARDS;
            snprintf(t.stream, sizeof(t.stream), "%s", s->name);
            t.stream_created_ms = s->created_ms;
            t.shard_index = (uint32_t)i;
            t.position = (uint64_t)ts;
            t.issued_ms = now;
            t.flags = (uint8_t)filter;
            bad |= sl_ds_token_seal(sl_ds_key(), &t, enc) < 0 ||
                   !cJSON_AddStringToObject(out, "NextToken", enc);
            break;
        }
        cJSON *o = shard_json(&s->shards[i]);
        bad |= !o || !cJSON_AddItemToArray(arr, o);
        n++;
    }
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
    return;
fail:
    sl_ds_reply_err(call, &e);
}

/* ---- retention ---------------------------------------------------------------------------- */

static void change_retention(sl_api_call *call, int increase)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    sl_ds_err e;
    if (!s)
        return;
    if (s->status != SL_DS_ACTIVE && s->status != SL_DS_UPDATING) {
        sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                      "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
                      m->account, sl_ds_status_name(s->status));
        sl_ds_reply_err(call, &e);
        return;
    }
    long hours = (long)sl_ds_in_num(call->input, "RetentionPeriodHours", 0);
    if (sl_ds_stream_set_retention(m, s, hours, increase, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    sl_ds_persist_and_reply(call, m, s, NULL);
}

void sl_kinesis_increase_stream_retention_period(sl_api_call *call)
{
    change_retention(call, 1);
}

void sl_kinesis_decrease_stream_retention_period(sl_api_call *call)
{
    change_retention(call, 0);
}

/* ---- tags --------------------------------------------------------------------------------- */

/* The "Tags" map of the input added to s, persisted, answered. Shared by AddTagsToStream (name
 * or ARN) and TagResource (ARN). */
static void add_tags_and_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s)
{
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(call->input, "Tags"), *t;
    size_t n = (size_t)cJSON_GetArraySize(tags), i = 0;
    const char **k = calloc(n + 1, sizeof(*k)), **v = calloc(n + 1, sizeof(*v));
    sl_ds_err e;
    int rc = (!k || !v)
                 ? sl_ds_err_set(&e, SL_ENOMEM, "InternalFailure", "Internal Service Failure")
                 : 0;
    cJSON_ArrayForEach(t, tags)
    {
        if (rc || i >= n)
            break;
        k[i] = t->string;
        v[i++] = cJSON_IsString(t) ? t->valuestring : "";
    }
    if (!rc)
        rc = sl_ds_stream_add_tags(m, s, k, v, i, &e);
    free(k);
    free(v);
    if (rc)
        sl_ds_reply_err(call, &e);
    else
        sl_ds_persist_and_reply(call, m, s, NULL);
}

/* The "TagKeys" list of the input removed from s, persisted, answered. Shared by
 * RemoveTagsFromStream and UntagResource. */
static void remove_tags_and_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s)
{
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(call->input, "TagKeys"), *t;
    size_t n = (size_t)cJSON_GetArraySize(keys), i = 0;
    const char **k = calloc(n + 1, sizeof(*k));
    if (!k) {
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    cJSON_ArrayForEach(t, keys)
    {
        if (cJSON_IsString(t) && i < n)
            k[i++] = t->valuestring;
    }
    sl_ds_stream_remove_tags(s, k, i);
    free(k);
    sl_ds_persist_and_reply(call, m, s, NULL);
}

void sl_kinesis_add_tags_to_stream(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    add_tags_and_reply(call, m, s);
}

void sl_kinesis_remove_tags_from_stream(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    remove_tags_and_reply(call, m, s);
}

void sl_kinesis_list_tags_for_stream(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    const char *after = sl_ds_in_str(call->input, "ExclusiveStartTagKey");
    double lim = sl_ds_in_num(call->input, "Limit", TAGS_PAGE_MAX);
    size_t max = lim < TAGS_PAGE_MAX ? (size_t)lim : TAGS_PAGE_MAX, n = 0;
    cJSON *out = cJSON_CreateObject(), *arr = out ? cJSON_AddArrayToObject(out, "Tags") : NULL;
    int bad = !arr, more = 0;
    for (size_t i = 0; !bad && i < s->n_tags; i++) {
        if (after && strcmp(s->tags[i].key, after) <= 0)
            continue;
        if (n == max) {
            more = 1;
            break;
        }
        cJSON *o = cJSON_CreateObject();
        bad |= !o || !cJSON_AddItemToArray(arr, o);
        bad |= bad || !cJSON_AddStringToObject(o, "Key", s->tags[i].key);
        bad |= bad || !cJSON_AddStringToObject(o, "Value", s->tags[i].value);
        n++;
    }
    bad |= !out || !cJSON_AddBoolToObject(out, "HasMoreTags", more);
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

/* ---- enhanced monitoring ------------------------------------------------------------------ */

static void change_monitoring(sl_api_call *call, int enable)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    if (!s)
        return;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(call->input, "ShardLevelMetrics"), *it;
    uint32_t bits = 0, before = s->metrics;
    char arn[300];
    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it))
            bits |= sl_ds_metric_bit(it->valuestring);
    }
    uint32_t after = sl_ds_stream_metrics_change(s, bits, enable);
    cJSON *out = cJSON_CreateObject();
    sl_ds_stream_arn(m, s, arn, sizeof(arn));
    int bad = !out || !cJSON_AddStringToObject(out, "StreamName", s->name);
    bad |= bad || add_metrics(out, "CurrentShardLevelMetrics", before) != 0;
    bad |= bad || add_metrics(out, "DesiredShardLevelMetrics", after) != 0;
    bad |= bad || !cJSON_AddStringToObject(out, "StreamARN", arn);
    if (bad) {
        cJSON_Delete(out);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    sl_ds_persist_and_reply(call, m, s, out);
}

void sl_kinesis_enable_enhanced_monitoring(sl_api_call *call)
{
    change_monitoring(call, 1);
}

void sl_kinesis_disable_enhanced_monitoring(sl_api_call *call)
{
    change_monitoring(call, 0);
}

/* ---- resharding --------------------------------------------------------------------------- */

static void after_reshard(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s)
{
    int rc = sl_ds_attach_logs(m, s);
    if (rc) {
        sl_wire_call_error_code(call, rc);
        return;
    }
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_transition(m, s);
}

void sl_kinesis_split_shard(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    sl_ds_err e;
    if (!s)
        return;
    if (sl_ds_stream_split(m, s, sl_ds_in_str(call->input, "ShardToSplit"),
                           sl_ds_in_str(call->input, "NewStartingHashKey"), now_ms(), log_end, NULL,
                           &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    after_reshard(call, m, s);
}

void sl_kinesis_merge_shards(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    sl_ds_err e;
    if (!s)
        return;
    if (sl_ds_stream_merge(m, s, sl_ds_in_str(call->input, "ShardToMerge"),
                           sl_ds_in_str(call->input, "AdjacentShardToMerge"), now_ms(), log_end,
                           NULL, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    after_reshard(call, m, s);
}

void sl_kinesis_update_shard_count(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    sl_ds_err e;
    char arn[300];
    if (!s)
        return;
    uint32_t current = sl_ds_stream_open_shards(s);
    double target = sl_ds_in_num(call->input, "TargetShardCount", 0);
    if (target < 1 || target > 100000) {
        sl_ds_err_set(&e, SL_ERANGE, "ValidationException",
                      "1 validation error detected: Value '%.0f' at 'targetShardCount' failed to "
                      "satisfy constraint: Member must have value between 1 and 100000",
                      target);
        sl_ds_reply_err(call, &e);
        return;
    }
    if (sl_ds_stream_update_shard_count(m, s, (uint32_t)target, now_ms(), log_end, NULL, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    int rc = sl_ds_attach_logs(m, s);
    if (rc) {
        sl_wire_call_error_code(call, rc);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    sl_ds_stream_arn(m, s, arn, sizeof(arn));
    int bad = !out || !cJSON_AddStringToObject(out, "StreamName", s->name);
    bad |= bad || !cJSON_AddNumberToObject(out, "CurrentShardCount", current);
    bad |= bad || !cJSON_AddNumberToObject(out, "TargetShardCount", target);
    bad |= bad || !cJSON_AddStringToObject(out, "StreamARN", arn);
    if (bad) {
        cJSON_Delete(out);
        out = NULL;
    }
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, out);
    sl_ds_schedule_transition(m, s);
}

/* ---- ARN-addressed tags, record size, stream mode ------------------------------------------ */

/* The stream a ResourceARN names; NULL after answering. Consumer ARNs are refused: Sluice keeps
 * no tags on consumers yet. */
static sl_ds_stream *resource_or_reply(sl_api_call *call, sl_ds_model *m)
{
    const char *arn = sl_ds_in_str(call->input, "ResourceARN");
    const char *slash = arn ? strstr(arn, ":stream/") : NULL;
    char want[300];
    sl_ds_err e;
    if (!slash || strlen(slash + 8) > 128) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException", "Invalid ResourceARN %s.",
                      arn ? arn : "");
        goto fail;
    }
    if (strstr(slash + 8, "/consumer/")) {
        sl_ds_err_set(&e, SL_EINVAL, "InvalidArgumentException",
                      "Sluice does not keep tags on consumers yet: %s", arn);
        goto fail;
    }
    snprintf(want, sizeof(want), "arn:aws:kinesis:%s:%s:stream/%s", m->region, m->account,
             slash + 8);
    sl_ds_stream *s = strcmp(want, arn) == 0 ? sl_ds_model_find(m, slash + 8) : NULL;
    if (s)
        return s;
    sl_ds_err_set(&e, SL_ENOTFOUND, "ResourceNotFoundException",
                  "Stream %s under account %s not found.", slash + 8, m->account);
fail:
    sl_ds_reply_err(call, &e);
    return NULL;
}

void sl_kinesis_tag_resource(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? resource_or_reply(call, m) : NULL;
    if (!s)
        return;
    add_tags_and_reply(call, m, s);
}

void sl_kinesis_untag_resource(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? resource_or_reply(call, m) : NULL;
    if (!s)
        return;
    remove_tags_and_reply(call, m, s);
}

void sl_kinesis_list_tags_for_resource(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? resource_or_reply(call, m) : NULL;
    if (!s)
        return;
    cJSON *out = cJSON_CreateObject(), *arr = out ? cJSON_AddArrayToObject(out, "Tags") : NULL;
    int bad = !arr;
    for (size_t i = 0; !bad && i < s->n_tags; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            bad = 1;
            break;
        }
        bad |= !cJSON_AddStringToObject(o, "Key", s->tags[i].key);
        bad |= !cJSON_AddStringToObject(o, "Value", s->tags[i].value);
    }
    if (bad)
        sl_wire_call_error_code(call, SL_ENOMEM);
    else
        sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_kinesis_update_max_record_size(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    sl_ds_err e;
    if (!s)
        return;
    if (s->status != SL_DS_ACTIVE) {
        sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                      "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
                      m->account, sl_ds_status_name(s->status));
        sl_ds_reply_err(call, &e);
        return;
    }
    double kib = sl_ds_in_num(call->input, "MaxRecordSizeInKiB", 0);
    if (kib < 1024 || kib > 10240) { /* the model checks this too */
        sl_ds_err_set(&e, SL_ERANGE, "ValidationException",
                      "MaxRecordSizeInKiB must be between 1024 and 10240.");
        sl_ds_reply_err(call, &e);
        return;
    }
    s->max_record_kib = (uint32_t)kib;
    sl_ds_persist_and_reply(call, m, s, NULL);
}

void sl_kinesis_update_stream_mode(sl_api_call *call)
{
    sl_ds_model *m = sl_ds_model_or_reply(call);
    sl_ds_stream *s = m ? sl_ds_stream_or_reply(call, m, 0) : NULL;
    sl_ds_err e;
    if (!s)
        return;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(call->input, "StreamModeDetails");
    const char *mode = sl_ds_in_str(d, "StreamMode");
    if (s->status != SL_DS_ACTIVE) {
        sl_ds_err_set(&e, SL_EBUSY, "ResourceInUseException",
                      "Stream %s under account %s not ACTIVE, instead in state %s", s->name,
                      m->account, sl_ds_status_name(s->status));
        sl_ds_reply_err(call, &e);
        return;
    }
    sl_ds_mode to = mode && strcmp(mode, "ON_DEMAND") == 0 ? SL_DS_ON_DEMAND : SL_DS_PROVISIONED;
    double warm = sl_ds_in_num(call->input, "WarmThroughputMiBps", -1);
    if (warm >= 0 && sl_ds_warm_check(m, s->name, to, warm, &e)) {
        sl_ds_reply_err(call, &e);
        return;
    }
    int rc = warm >= 0 ? sl_ds_warm_store(m, s, (long)warm) : 0;
    if (rc) {
        sl_wire_call_error_code(call, rc);
        return;
    }
    s->mode = to;
    s->status = SL_DS_UPDATING;
    sl_ds_registry_put(m, s);
    sl_ds_persist_and_reply(call, m, s, NULL);
    sl_ds_schedule_transition(m, s);
}
