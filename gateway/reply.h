/* Error replies made by the gateway itself, outside any handler: authentication failures,
 * bodies too large, unknown paths, malformed requests. Shaped per route protocol:
 *   SL_PROTO_AWS_JSON   Content-Type: application/x-amz-json-1.1
 *                       {"__type":"<type>","message":"<text>"}
 *   SL_PROTO_REST_JSON  Content-Type: application/json, x-amzn-ErrorType: <type>
 *                       {"__type":"<type>","Message":"<text>"}
 *   SL_PROTO_PLAIN      Content-Type: text/plain; charset=utf-8, "<text>\n"
 * (Handler-side errors are written by api/wire.) */
#ifndef SLUICE_GATEWAY_REPLY_H
#define SLUICE_GATEWAY_REPLY_H

#include "sluice/http.h"

/* Answers ex with an error. aws_type/message may be NULL (taken from code's errors.def row).
 * status <= 0 takes the code's status. Returns what sl_exchange_respond() returns. */
int sl_reply_error(sl_exchange *ex, sl_wire_proto proto, int status, int code, const char *aws_type,
                   const char *message);

/* Appends s to out as the inside of a JSON string. */
void sl_reply_json_escape(sl_buf *out, const char *s);

#endif
