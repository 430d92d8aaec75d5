/* AWS REST-JSON (the Kinesis Video services): replies and errors.
 *
 * Success: 200, Content-Type application/json, the output object ("{}" when the operation has
 * no output members). Errors (shared/spec/video-streams.md §1.3): status = the error shape's
 * httpStatusCode from the model (400 when the model gives none), header
 * `x-amzn-ErrorType: <Name>` (botocore and the JS SDK read it first), and a body
 * {"__type":"<Name>","Message":"<text>"} -- plus "message" with the same text, because some
 * shapes (signaling InvalidClientException, every webrtc-storage error) spell the member that
 * way and clients look for either. */
#include <stdlib.h>
#include <string.h>

#include "wire_int.h"

int sl_restjson_reply_ok(sl_exchange *ex, int status, const cJSON *body)
{
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_JSON)}};
    if (!body)
        return sl_exchange_respond(ex, status, h, 1, "{}", 2);
    char *text = cJSON_PrintUnformatted(body);
    if (!text)
        return SL_ENOMEM;
    int rc = sl_exchange_respond(ex, status, h, 1, text, strlen(text));
    free(text);
    return rc;
}

int sl_restjson_reply_error(sl_exchange *ex, const sl_service_def *svc, int status,
                            const char *type, const char *message, int with_message)
{
    int rc = SL_ENOMEM;
    char *text = NULL;
    const sl_error_def *e = svc ? sl_model_error(svc, type) : NULL;
    if (status == 0)
        status = e ? e->http_status : 400;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "__type", type))
        goto out;
    if (with_message) {
        if (!cJSON_AddStringToObject(o, "Message", message ? message : ""))
            goto out;
        if (e && e->lower_message && !cJSON_AddStringToObject(o, "message", message ? message : ""))
            goto out;
    }
    text = cJSON_PrintUnformatted(o);
    if (!text)
        goto out;
    sl_http_header h[2] = {
        {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_JSON)},
        {SL_SLICE_LIT("x-amzn-ErrorType"), {type, strlen(type)}},
    };
    rc = sl_exchange_respond(ex, status, h, 2, text, strlen(text));
out:
    free(text);
    cJSON_Delete(o);
    return rc;
}
