/* Kinesis Video control plane (REST-JSON, signing name "kinesisvideo"): CreateStream,
 * DescribeStream, DeleteStream, UpdateStream, UpdateDataRetention, GetDataEndpoint, TagStream,
 * UntagStream, ListTagsForStream, TagResource, UntagResource, ListTagsForResource.
 *
 * Inputs arrive validated against the model (lengths, patterns, enums, ranges). Each handler
 * changes the in-memory stream at once (so the next request sees it), submits the stream's JSON
 * doc to the writer and answers only after that commit (reply_after). Like AWS's asynchronous
 * control plane, a new stream is CREATING and an updated one UPDATING for a short delay
 * (SLUICE_VIDEO_STATUS_DELAY_MS ms; a loop timer then makes it ACTIVE). The default is 0 --
 * ACTIVE at once, as before -- because existing clients and tests call PutMedia right after
 * CreateStream without waiting for ACTIVE. Updates of a stream that is not ACTIVE are
 * ResourceInUseException, and PutMedia needs ACTIVE (kv_putmedia.c). Every change
 * rotates Version; a CurrentVersion that does not match is VersionMismatchException. Deleting a
 * stream removes it at once (later calls: ResourceNotFoundException), closes its PutMedia
 * session, ends its GetMedia readers and deletes its rows; its bytes in the shared fragment log
 * go with retention (kv_service.c). Loop thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/loop.h"
#include "sluice/time.h"

#define MAX_TAGS        50
#define STATUS_DELAY_MS 0

static void status_settle(void *arg)
{
    kv_stream *s = arg;
    s->status_timer = NULL;
    if (!s->deleted) {
        s->status = KV_ACTIVE;
        kv_table_update(s);
    }
    kv_stream_unref(s); /* the timer's */
}

/* Moves s to `status` now and to ACTIVE after the configured delay (0: at once). */
static void status_begin(kv_stream *s, int status)
{
    static long delay = -1;
    if (delay < 0) {
        const char *v = getenv("SLUICE_VIDEO_STATUS_DELAY_MS");
        delay = v && *v ? strtol(v, NULL, 10) : STATUS_DELAY_MS;
        if (delay < 0 || delay > 3600000)
            delay = STATUS_DELAY_MS;
    }
    if (s->status_timer) {
        sl_loop_timer_cancel(s->status_timer);
        s->status_timer = NULL;
        kv_stream_unref(s);
    }
    s->status = delay > 0 ? status : KV_ACTIVE;
    if (delay > 0) {
        kv_stream_ref(s);
        s->status_timer = sl_loop_timer_add((uint64_t)delay, status_settle, s);
        if (!s->status_timer) {
            s->status = KV_ACTIVE;
            kv_stream_unref(s);
        }
    }
    kv_table_update(s);
}

/* Updates need an ACTIVE stream (AWS: ResourceInUseException while CREATING/UPDATING). */
static int active_or_reply(sl_api_call *call, const kv_stream *s)
{
    if (s->status == KV_ACTIVE)
        return 0;
    char msg[96];
    snprintf(msg, sizeof(msg), "The stream is %s; try again when it is ACTIVE.",
             kv_status_name(s->status));
    kv_reply_error(call, "ResourceInUseException", msg);
    return -1;
}

typedef struct reply_after {
    sl_exchange *ex;
    const sl_op_def *op;
    cJSON *body; /* owned; NULL: {} */
} reply_after;

static void reply_after_done(void *arg, int rc)
{
    reply_after *r = arg;
    sl_api_call call = {.ex = r->ex, .op = r->op};
    if (rc)
        sl_wire_call_error_code(&call, SL_EINTERNAL);
    else
        sl_wire_reply_ok(&call, r->body);
    sl_exchange_unref(r->ex);
    cJSON_Delete(r->body);
    free(r);
}

/* Persists s and answers call with body (taken) once durable. */
static void persist_and_reply(sl_api_call *call, kv_stream *s, cJSON *body)
{
    reply_after *r = calloc(1, sizeof(*r));
    if (!r) {
        cJSON_Delete(body);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    r->ex = call->ex;
    r->op = call->op;
    r->body = body;
    sl_exchange_ref(call->ex);
    int rc = kv_persist(s, reply_after_done, r);
    if (rc) {
        sl_exchange_unref(call->ex);
        cJSON_Delete(body);
        free(r);
        sl_wire_call_error_code(call, rc);
    }
}

static const char *in_str(const cJSON *in, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* CurrentVersion check; answers VersionMismatchException and returns -1 on mismatch. */
static int version_or_reply(sl_api_call *call, const kv_stream *s)
{
    const char *v = in_str(call->input, "CurrentVersion");
    if (v && strcmp(v, s->version) != 0) {
        kv_reply_error(call, "VersionMismatchException",
                       "The stream version does not match the current version.");
        return -1;
    }
    return 0;
}

/* Merges tag object `add` into s; TagsPerResourceExceededLimitException past 50. */
static int merge_tags_or_reply(sl_api_call *call, kv_stream *s, const cJSON *add)
{
    int n = cJSON_GetArraySize(s->tags);
    const cJSON *t;
    cJSON_ArrayForEach(t, add)
    {
        if (!cJSON_GetObjectItemCaseSensitive(s->tags, t->string))
            n++;
    }
    if (n > MAX_TAGS) {
        kv_reply_error(call, "TagsPerResourceExceededLimitException",
                       "The stream would have more than 50 tags.");
        return -1;
    }
    cJSON_ArrayForEach(t, add)
    {
        cJSON *v = cJSON_CreateString(cJSON_IsString(t) ? t->valuestring : "");
        if (!v)
            return sl_wire_call_error_code(call, SL_ENOMEM), -1;
        if (cJSON_GetObjectItemCaseSensitive(s->tags, t->string))
            cJSON_ReplaceItemInObjectCaseSensitive(s->tags, t->string, v);
        else
            cJSON_AddItemToObject(s->tags, t->string, v);
    }
    return 0;
}

void sl_video_create_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    const cJSON *in = call->input;
    const char *name = in_str(in, "StreamName");
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(in, "DataRetentionInHours");
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(in, "Tags");
    if (kv_find(call->region, name)) {
        kv_reply_error(call, "ResourceInUseException", "The stream is already in use.");
        return;
    }
    if (cJSON_IsObject(tags) && cJSON_GetArraySize(tags) > MAX_TAGS) {
        kv_reply_error(call, "TagsPerResourceExceededLimitException",
                       "The stream would have more than 50 tags.");
        return;
    }
    kv_stream *s = calloc(1, sizeof(*s));
    if (!s || !(s->tags = cJSON_CreateObject())) {
        free(s);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    uint32_t rnd;
    char v[21];
    kv_new_version(v);
    memcpy(&rnd, v, sizeof(rnd));
    s->created_ms = sl_time_now_ns() / 1000000;
    snprintf(s->region, sizeof(s->region), "%s", call->region);
    snprintf(s->name, sizeof(s->name), "%s", name);
    snprintf(s->skey, sizeof(s->skey), "%lld.%08x", (long long)s->created_ms, rnd);
    snprintf(s->arn, sizeof(s->arn), "arn:aws:kinesisvideo:%s:%s:stream/%s/%lld", call->region,
             call->account_id, name, (long long)s->created_ms);
    snprintf(s->device_name, sizeof(s->device_name), "%s",
             in_str(in, "DeviceName") ? in_str(in, "DeviceName") : "");
    snprintf(s->media_type, sizeof(s->media_type), "%s",
             in_str(in, "MediaType") ? in_str(in, "MediaType") : "");
    if (in_str(in, "KmsKeyId"))
        snprintf(s->kms_key_id, sizeof(s->kms_key_id), "%s", in_str(in, "KmsKeyId"));
    else
        snprintf(s->kms_key_id, sizeof(s->kms_key_id), "arn:aws:kms:%s:%s:alias/aws/kinesisvideo",
                 call->region, call->account_id);
    kv_new_version(s->version);
    s->retention_hours = cJSON_IsNumber(ret) ? (int64_t)ret->valuedouble : 0;
    s->next_header_id = 1;
    const cJSON *t;
    cJSON_ArrayForEach(t, tags)
    {
        cJSON_AddStringToObject(s->tags, t->string, cJSON_IsString(t) ? t->valuestring : "");
    }
    if (kv_table_add(s)) {
        cJSON_Delete(s->tags);
        free(s);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    status_begin(s, KV_CREATING);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "StreamARN", s->arn);
    sl_info("video", "created stream %s (retention %lld h)", s->name,
            (long long)s->retention_hours);
    persist_and_reply(call, s, out);
}

void sl_video_describe_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s)
        return;
    cJSON *out = cJSON_CreateObject();
    cJSON *o = cJSON_AddObjectToObject(out, "StreamInfo");
    if (!o) {
        cJSON_Delete(out);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    if (s->device_name[0])
        cJSON_AddStringToObject(o, "DeviceName", s->device_name);
    cJSON_AddStringToObject(o, "StreamName", s->name);
    cJSON_AddStringToObject(o, "StreamARN", s->arn);
    if (s->media_type[0])
        cJSON_AddStringToObject(o, "MediaType", s->media_type);
    cJSON_AddStringToObject(o, "KmsKeyId", s->kms_key_id);
    cJSON_AddStringToObject(o, "Version", s->version);
    cJSON_AddStringToObject(o, "Status", kv_status_name(s->status));
    sl_wire_json_add_timestamp(o, "CreationTime", s->created_ms);
    cJSON_AddNumberToObject(o, "DataRetentionInHours", (double)s->retention_hours);
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_video_delete_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s || version_or_reply(call, s))
        return;
    kv_stream_ref(s);
    kv_table_remove(s); /* marks deleted, ends sessions */
    sl_info("video", "deleted stream %s", s->name);
    persist_and_reply(call, s, NULL);
    kv_stream_unref(s);
}

void sl_video_update_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s || version_or_reply(call, s) || active_or_reply(call, s))
        return;
    const char *dev = in_str(call->input, "DeviceName");
    const char *mt = in_str(call->input, "MediaType");
    if (dev)
        snprintf(s->device_name, sizeof(s->device_name), "%s", dev);
    if (mt)
        snprintf(s->media_type, sizeof(s->media_type), "%s", mt);
    kv_new_version(s->version);
    status_begin(s, KV_UPDATING);
    persist_and_reply(call, s, NULL);
}

void sl_video_update_data_retention(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s || version_or_reply(call, s) || active_or_reply(call, s))
        return;
    const char *op = in_str(call->input, "Operation");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(call->input, "DataRetentionChangeInHours");
    int64_t delta = cJSON_IsNumber(ch) ? (int64_t)ch->valuedouble : 0;
    int64_t next =
        s->retention_hours + (op && strcmp(op, "DECREASE_DATA_RETENTION") == 0 ? -delta : delta);
    if (next < 0 || next > KV_MAX_RETENTION_H) {
        kv_reply_error(call, "InvalidArgumentException",
                       "The resulting data retention must be between 0 and 87600 hours.");
        return;
    }
    s->retention_hours = next;
    kv_new_version(s->version);
    status_begin(s, KV_UPDATING);
    kv_retention_apply(s, sl_time_now_ns() / 1000000); /* decreasing deletes older data at once */
    persist_and_reply(call, s, NULL);
}

void sl_video_get_data_endpoint(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    if (!kv_stream_or_reply(call))
        return;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "DataEndpoint", sl_api_base_url());
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_video_tag_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s || merge_tags_or_reply(call, s, cJSON_GetObjectItemCaseSensitive(call->input, "Tags")))
        return;
    persist_and_reply(call, s, NULL);
}

static void untag(kv_stream *s, const cJSON *keys)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, keys)
    {
        if (cJSON_IsString(k))
            cJSON_DeleteItemFromObjectCaseSensitive(s->tags, k->valuestring);
    }
}

void sl_video_untag_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (!s)
        return;
    untag(s, cJSON_GetObjectItemCaseSensitive(call->input, "TagKeyList"));
    persist_and_reply(call, s, NULL);
}

static void reply_tags(sl_api_call *call, const kv_stream *s)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "Tags", cJSON_Duplicate(s->tags, 1));
    sl_wire_reply_ok(call, out);
    cJSON_Delete(out);
}

void sl_video_list_tags_for_stream(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = kv_stream_or_reply(call);
    if (s)
        reply_tags(call, s);
}

/* The stream named by ResourceARN, or NULL after answering ResourceNotFoundException. */
static kv_stream *resource_or_reply(sl_api_call *call)
{
    const char *arn = in_str(call->input, "ResourceARN");
    kv_stream *s = arn ? kv_find_arn(arn) : NULL;
    if (!s)
        kv_reply_error(call, "ResourceNotFoundException",
                       "The requested resource is not found or not active.");
    return s;
}

void sl_video_tag_resource(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = resource_or_reply(call);
    if (!s)
        return;
    cJSON *map = cJSON_CreateObject();
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(call->input, "Tags"))
    {
        const char *k = in_str(t, "Key"), *v = in_str(t, "Value");
        if (k)
            cJSON_AddStringToObject(map, k, v ? v : "");
    }
    int bad = merge_tags_or_reply(call, s, map);
    cJSON_Delete(map);
    if (!bad)
        persist_and_reply(call, s, NULL);
}

void sl_video_untag_resource(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = resource_or_reply(call);
    if (!s)
        return;
    untag(s, cJSON_GetObjectItemCaseSensitive(call->input, "TagKeyList"));
    persist_and_reply(call, s, NULL);
}

void sl_video_list_tags_for_resource(sl_api_call *call)
{
    if (kv_ready_or_reply(call))
        return;
    kv_stream *s = resource_or_reply(call);
    if (s)
        reply_tags(call, s);
}
