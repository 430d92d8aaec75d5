/* Kinesis Video ListStreams (POST /listStreams): the account's video streams in the caller's
 * region, by name.
 *
 * Input (validated against the model first): MaxResults 1..10000 (default 10000), NextToken
 * (Sluice's token: base64 of the last name of the previous page), StreamNameCondition
 * {ComparisonOperator BEGINS_WITH, ComparisonValue}. Output: StreamInfoList (DeviceName,
 * StreamName, StreamARN, MediaType, KmsKeyId, Version, Status, CreationTime,
 * DataRetentionInHours) and NextToken when more remain. Reads the in-api registry
 * (sluice/streams.h) that kv_service.c keeps in step with the catalog (loaded on first use). Loop
 * thread. */
#include <stdlib.h>
#include <string.h>

#include "../api_int.h"
#include "kv.h"
#include "sl_api_handlers.h"
#include "sluice/streams.h"

#define MAX_RESULTS_DEFAULT 10000

static void add_opt(cJSON *o, const char *name, const char *v)
{
    if (v[0])
        cJSON_AddStringToObject(o, name, v);
}

void sl_video_list_streams(sl_api_call *call)
{
    const cJSON *in = call->input;
    const cJSON *maxr = cJSON_GetObjectItemCaseSensitive(in, "MaxResults");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(in, "NextToken");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(in, "StreamNameCondition");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(cond, "ComparisonValue");
    const sl_vstream_info **page = NULL;
    char after[300] = "";
    cJSON *out = NULL;
    int more = 0, rc = 0;

    if (kv_ready_or_reply(call))
        return;
    size_t max = MAX_RESULTS_DEFAULT;
    if (cJSON_IsNumber(maxr) && maxr->valuedouble >= 1 && maxr->valuedouble < max)
        max = (size_t)maxr->valuedouble;
    if (cJSON_IsString(token) && token->valuestring[0] &&
        sl_api_token_decode(token->valuestring, 0, after, sizeof(after)) != 0) {
        sl_wire_call_error(call, "InvalidArgumentException", "Invalid NextToken.");
        goto out;
    }
    page = malloc(max * sizeof(*page));
    if (!page) {
        rc = SL_ENOMEM;
        goto out;
    }
    size_t n = sl_vstreams_list(
        call->region, after, cJSON_IsString(value) ? value->valuestring : NULL, max, page, &more);
    out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "StreamInfoList");
    if (!list) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const sl_vstream_info *s = page[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(list, o)) {
            rc = SL_ENOMEM;
            goto out;
        }
        add_opt(o, "DeviceName", s->device_name);
        cJSON_AddStringToObject(o, "StreamName", s->name);
        cJSON_AddStringToObject(o, "StreamARN", s->arn);
        add_opt(o, "MediaType", s->media_type);
        add_opt(o, "KmsKeyId", s->kms_key_id);
        cJSON_AddStringToObject(o, "Version", s->version);
        cJSON_AddStringToObject(o, "Status", s->status);
        if (sl_wire_json_add_timestamp(o, "CreationTime", s->created_ms) != 0 ||
            !cJSON_AddNumberToObject(o, "DataRetentionInHours", (double)s->retention_hours)) {
            rc = SL_ENOMEM;
            goto out;
        }
    }
    if (more && n > 0) {
        char tok[1200];
        if (sl_api_token_encode(page[n - 1]->name, tok, sizeof(tok)) == 0)
            cJSON_AddStringToObject(out, "NextToken", tok);
    }
    sl_wire_reply_ok(call, out);
out:
    if (rc)
        sl_wire_call_error_code(call, rc);
    free(page);
    cJSON_Delete(out);
}
