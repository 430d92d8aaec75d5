/* AWS JSON 1.1: request bodies in, replies and errors out -- and the protocol-independent entry
 * points of sluice/wire.h, which pick the JSON 1.1 or REST-JSON shape.
 *
 * Reply shapes (shared/spec/data-streams.md §1.1-1.2):
 *   200  Content-Type: application/x-amz-json-1.1, the output object, or an empty body (length
 *        0) for operations without an output shape;
 *   4xx/5xx  {"__type":"<Error>","message":"<text>"}, "__type" alone when there is no text;
 *        SerializationException uses "Message";
 *   403  XML <AccessDeniedException><Message>...</Message></AccessDeniedException> for
 *        requests the JSON endpoint cannot attribute to an operation (non-POST, or no target
 *        and an unusable Content-Type); 404 "<UnknownOperationException/>" for a target on an
 *        unusable Content-Type (both as recorded from AWS by kinesalite);
 *   CBOR requests (Content-Type application/x-amz-cbor-1.1, the Java SDKs' default) get every
 *        one of these replies -- success and errors -- in CBOR instead (api/wire/cbor.c), with
 *        the same status and members.
 * Timestamps are epoch seconds with a millisecond fraction (cJSON prints doubles with 15
 * significant digits, enough for 1459799926.480 -> 1459799926.48). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/log.h"
#include "wire_int.h"

int sl_wire_json_decode(const uint8_t *body, size_t len, size_t max_bytes, cJSON **out, sl_diag *d)
{
    const char *end = NULL;
    cJSON *root = NULL;
    int rc = 0;
    *out = NULL;
    if (len > max_bytes) {
        rc = sl_diag_set(d, SL_ETOOBIG, max_bytes, "body larger than %zu bytes", max_bytes);
        goto out;
    }
    if (len == 0 || !body) {
        rc = sl_diag_set(d, SL_EPARSE, 0, "empty body");
        goto out;
    }
    root = cJSON_ParseWithLengthOpts((const char *)body, len, &end, 0);
    if (!root) {
        const char *err = cJSON_GetErrorPtr();
        size_t off = (err && err >= (const char *)body && err <= (const char *)body + len)
                         ? (size_t)(err - (const char *)body)
                         : 0;
        rc = sl_diag_set(d, SL_EPARSE, off, "malformed JSON");
        goto out;
    }
    for (const char *p = end; p && p < (const char *)body + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            rc = sl_diag_set(d, SL_EPARSE, (size_t)(p - (const char *)body),
                             "data after the JSON value");
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = sl_diag_set(d, SL_EPARSE, 0, "body is not a JSON object");
        goto out;
    }
    *out = root;
    root = NULL;
out:
    cJSON_Delete(root);
    return rc;
}

int sl_wire_json_add_timestamp(cJSON *obj, const char *name, int64_t epoch_ms)
{
    return cJSON_AddNumberToObject(obj, name, (double)epoch_ms / 1000.0) ? 0 : SL_ENOMEM;
}

static int respond_json(sl_exchange *ex, int status, const char *ct, const char *body, size_t len)
{
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), {ct, strlen(ct)}}};
    return sl_exchange_respond(ex, status, h, 1, body, len);
}

int sl_wire_json_error_body(sl_buf *out, const char *type, const char *message,
                            const char *message_key)
{
    int rc = SL_ENOMEM;
    char *text = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "__type", type))
        goto out;
    if (message && !cJSON_AddStringToObject(o, message_key, message))
        goto out;
    text = cJSON_PrintUnformatted(o);
    if (!text)
        goto out;
    rc = sl_buf_append_str(out, text);
out:
    free(text);
    cJSON_Delete(o);
    return rc;
}

static int awsjson_error(sl_exchange *ex, int status, const char *type, const char *message,
                         const char *message_key, const char *ct)
{
    if (sl_wire_is_cbor(ex))
        return sl_wire_reply_cbor_error_key(ex, status, type, message, message_key);
    sl_buf b = SL_BUF_INIT;
    int rc = sl_wire_json_error_body(&b, type, message, message_key);
    if (rc == 0)
        rc = respond_json(ex, status, ct ? ct : SL_CT_AMZ_JSON, b.data, b.len);
    sl_buf_cleanup(&b);
    return rc;
}

int sl_wire_reply_error(sl_exchange *ex, sl_wire_proto proto, const sl_service_def *svc, int status,
                        const char *type, const char *message, const char *ct)
{
    if (proto == SL_PROTO_REST_JSON)
        return sl_restjson_reply_error(ex, svc, status, type, message, message != NULL);
    if (status == 0) {
        const sl_error_def *e = svc ? sl_model_error(svc, type) : NULL;
        status = e ? e->http_status : 400;
    }
    if (proto == SL_PROTO_PLAIN) {
        char buf[512];
        int n = snprintf(buf, sizeof(buf), "%s: %s\n", type, message ? message : "");
        return respond_json(ex, status, "text/plain; charset=utf-8", buf,
                            n < 0                      ? 0
                            : (size_t)n >= sizeof(buf) ? sizeof(buf) - 1
                                                       : (size_t)n);
    }
    return awsjson_error(ex, status, type, message, "message", ct);
}

int sl_wire_reply_serialization(sl_exchange *ex, sl_wire_proto proto, const char *message,
                                const char *ct)
{
    if (proto == SL_PROTO_REST_JSON)
        return sl_restjson_reply_error(ex, NULL, 400, "SerializationException", message,
                                       message != NULL);
    return awsjson_error(ex, 400, "SerializationException", message, "Message", ct);
}

int sl_wire_reply_ok(sl_api_call *call, const cJSON *body)
{
    const sl_op_def *op = call->op;
    if (op->service->proto == SL_PROTO_REST_JSON)
        return sl_restjson_reply_ok(call->ex, 200, body);
    if (sl_wire_is_cbor(call->ex))
        return sl_wire_cbor_reply_ok(call->ex, op, body);
    if (!body)
        return respond_json(call->ex, 200, SL_CT_AMZ_JSON, "", 0);
    char *text = cJSON_PrintUnformatted(body);
    if (!text)
        return SL_ENOMEM;
    int rc = respond_json(call->ex, 200, SL_CT_AMZ_JSON, text, strlen(text));
    free(text);
    return rc;
}

int sl_wire_call_error(sl_api_call *call, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sl_wire_reply_error(call->ex, call->op->service->proto, call->op->service, 0, type, msg,
                               NULL);
}

int sl_wire_call_error_code(sl_api_call *call, int code)
{
    return sl_wire_reply_error(call->ex, call->op->service->proto, call->op->service,
                               sl_err_http_status(code), sl_err_aws_type(code), sl_err_str(code),
                               NULL);
}

int sl_wire_reply_not_implemented(sl_exchange *ex, const sl_op_def *op, const char *ct)
{
    char msg[256];
    snprintf(msg, sizeof(msg), "Sluice does not implement %s yet", op->full_name);
    if (op->service->proto == SL_PROTO_REST_JSON)
        return sl_restjson_reply_error(ex, op->service, 501, "NotImplementedException", msg, 1);
    return awsjson_error(ex, 501, "NotImplementedException", msg, "message", ct);
}

int sl_wire_reply_access_denied_xml(sl_exchange *ex)
{
    static const char body[] =
        "<AccessDeniedException>\n"
        "  <Message>Unable to determine service/operation name to be authorized</Message>\n"
        "</AccessDeniedException>\n";
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/xml")}};
    return sl_exchange_respond(ex, 403, h, 1, body, sizeof(body) - 1);
}

int sl_wire_reply_unknown_operation_xml(sl_exchange *ex)
{
    static const char body[] = "<UnknownOperationException/>\n";
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/xml")}};
    return sl_exchange_respond(ex, 404, h, 1, body, sizeof(body) - 1);
}
