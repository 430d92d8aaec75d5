/* Kinesis ListStreams: the account's data streams in the caller's region, by name.
 *
 * Input (validated against the model before this runs): Limit 1..10000 -- at most 100 are
 * returned whatever the Limit, as AWS does --, ExclusiveStartStreamName (list after it), and
 * NextToken (Sluice's token: the last name of the previous page, expiring after 300 s like
 * AWS's). Output: StreamNames, HasMoreStreams, NextToken (only when HasMoreStreams),
 * StreamSummaries (StreamName, StreamARN, StreamStatus, StreamModeDetails,
 * StreamCreationTimestamp). The streams come from the in-api registry (sluice/streams.h),
 * which the Data Streams work keeps in step with the catalog. Loop thread. */
#include <stdio.h>
#include <string.h>

#include "../api_int.h"
#include "sl_api_handlers.h"
#include "sluice/streams.h"

#define PAGE_MAX         100
#define TOKEN_MAX_AGE_MS 300000

void sl_kinesis_list_streams(sl_api_call *call)
{
    const cJSON *in = call->input;
    const cJSON *limit = cJSON_GetObjectItemCaseSensitive(in, "Limit");
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(in, "ExclusiveStartStreamName");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(in, "NextToken");
    const sl_kstream_info *page[PAGE_MAX];
    char after[200] = "";
    cJSON *out = NULL;
    int more = 0, rc = 0;

    size_t max = PAGE_MAX;
    if (cJSON_IsNumber(limit) && limit->valuedouble < PAGE_MAX)
        max = (size_t)limit->valuedouble;
    if (cJSON_IsString(start))
        snprintf(after, sizeof(after), "%s", start->valuestring);
    if (cJSON_IsString(token)) {
        int e = sl_api_token_decode(token->valuestring, TOKEN_MAX_AGE_MS, after, sizeof(after));
        if (e == SL_EAGAIN) {
            sl_wire_call_error(call, "ExpiredNextTokenException",
                               "The NextToken has expired. Tokens are valid for 300 seconds.");
            goto out;
        }
        if (e != 0) {
            sl_wire_call_error(call, "InvalidArgumentException", "Invalid NextToken.");
            goto out;
        }
    }

    size_t n = sl_kstreams_list(call->region, after, max, page, &more);
    out = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(out, "StreamNames");
    cJSON_AddBoolToObject(out, "HasMoreStreams", more);
    if (more && n > 0) {
        char tok[900];
        if (sl_api_token_encode(page[n - 1]->name, tok, sizeof(tok)) == 0)
            cJSON_AddStringToObject(out, "NextToken", tok);
    }
    cJSON *sums = cJSON_AddArrayToObject(out, "StreamSummaries");
    if (!names || !sums) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const sl_kstream_info *s = page[i];
        cJSON *sum = cJSON_CreateObject();
        if (!sum || !cJSON_AddItemToArray(sums, sum) ||
            !cJSON_AddItemToArray(names, cJSON_CreateString(s->name))) {
            rc = SL_ENOMEM;
            goto out;
        }
        cJSON_AddStringToObject(sum, "StreamName", s->name);
        cJSON_AddStringToObject(sum, "StreamARN", s->arn);
        cJSON_AddStringToObject(sum, "StreamStatus", s->status);
        cJSON *mode = cJSON_AddObjectToObject(sum, "StreamModeDetails");
        if (!mode || !cJSON_AddStringToObject(mode, "StreamMode", s->mode)) {
            rc = SL_ENOMEM;
            goto out;
        }
        if (sl_wire_json_add_timestamp(sum, "StreamCreationTimestamp", s->created_ms) != 0) {
            rc = SL_ENOMEM;
            goto out;
        }
    }
    sl_wire_reply_ok(call, out);
out:
    if (rc)
        sl_wire_call_error_code(call, rc);
    cJSON_Delete(out);
}
