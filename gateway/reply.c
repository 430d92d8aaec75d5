/* Gateway-made error replies (see reply.h): a status, the AWS error type and a message, laid
 * out the way the route's wire protocol lays out errors so SDKs raise the right exception. */
#include "reply.h"

#include <stdio.h>
#include <string.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/wire.h"

void sl_reply_json_escape(sl_buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            sl_buf_append_str(out, "\\\"");
            break;
        case '\\':
            sl_buf_append_str(out, "\\\\");
            break;
        case '\n':
            sl_buf_append_str(out, "\\n");
            break;
        case '\r':
            sl_buf_append_str(out, "\\r");
            break;
        case '\t':
            sl_buf_append_str(out, "\\t");
            break;
        default:
            if (*p < 0x20)
                sl_buf_printf(out, "\\u%04x", *p);
            else
                sl_buf_append_byte(out, *p);
        }
    }
}

int sl_reply_error(sl_exchange *ex, sl_wire_proto proto, int status, int code, const char *aws_type,
                   const char *message)
{
    if (!aws_type)
        aws_type = sl_err_aws_type(code);
    if (!message || !*message)
        message = sl_err_str(code);
    if (status <= 0)
        status = sl_err_http_status(code);
    sl_buf body = SL_BUF_INIT;
    sl_http_header h[2];
    size_t nh = 0;
    if (proto == SL_PROTO_AWS_JSON && sl_wire_is_cbor(ex)) {
        /* a CBOR client (the Java SDKs) reads errors only as a CBOR map, even those made here
         * before its body is decoded: authentication, 413, unknown operation */
        sl_wire_cbor_error_body(&body, aws_type, message);
        h[nh++] = (sl_http_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_AMZ_CBOR)};
        goto send;
    }
    switch (proto) {
    case SL_PROTO_AWS_JSON:
        sl_buf_append_str(&body, "{\"__type\":\"");
        sl_reply_json_escape(&body, aws_type);
        sl_buf_append_str(&body, "\",\"message\":\"");
        sl_reply_json_escape(&body, message);
        sl_buf_append_str(&body, "\"}");
        h[nh++] = (sl_http_header){SL_SLICE_LIT("Content-Type"),
                                   SL_SLICE_LIT("application/x-amz-json-1.1")};
        break;
    case SL_PROTO_REST_JSON:
        sl_buf_append_str(&body, "{\"__type\":\"");
        sl_reply_json_escape(&body, aws_type);
        sl_buf_append_str(&body, "\",\"Message\":\"");
        sl_reply_json_escape(&body, message);
        sl_buf_append_str(&body, "\"}");
        h[nh++] = (sl_http_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")};
        h[nh++] = (sl_http_header){SL_SLICE_LIT("x-amzn-ErrorType"),
                                   (sl_slice){aws_type, strlen(aws_type)}};
        break;
    default:
        sl_buf_append_str(&body, message);
        sl_buf_append_byte(&body, '\n');
        h[nh++] = (sl_http_header){SL_SLICE_LIT("Content-Type"),
                                   SL_SLICE_LIT("text/plain; charset=utf-8")};
        break;
    }
send:;
    int rc = body.oom ? SL_ENOMEM : sl_exchange_respond(ex, status, h, nh, body.data, body.len);
    sl_buf_cleanup(&body);
    return rc;
}
