/* AWS wire protocols: decoding JSON requests, checking them against the models, and shaping
 * replies and errors the way AWS does.
 *
 * Two protocols (see sluice/http.h sl_wire_proto):
 *   AWS JSON 1.1 (Kinesis, Firehose, Analytics): POST / with X-Amz-Target; replies carry
 *     Content-Type application/x-amz-json-1.1; errors are {"__type":T,"message":M} (status 400,
 *     500 for faults); SerializationException spells it "Message"; UnknownOperationException
 *     and undecodable bodies carry only "__type". Operations without an output shape answer
 *     200 with an empty body.
 *   REST-JSON (Kinesis Video): POST /<operation path>; replies are application/json; errors
 *     carry the x-amzn-ErrorType header, {"__type":T,"Message":M} (plus "message" for the
 *     shapes that spell it so) and the model's httpStatusCode.
 *
 * All functions run on the loop thread (they write to the exchange) unless said otherwise;
 * none blocks. Reply functions return 0 or the SL_E* of sl_exchange_respond(). */
#ifndef SLUICE_WIRE_H
#define SLUICE_WIRE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "sluice/api_model.h"
#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/http.h"

/* What a handler sees of one decoded, validated operation call. Valid only while the handler
 * runs: an asynchronous handler copies what it needs and keeps the exchange with
 * sl_exchange_ref(). */
struct sl_api_call {
    sl_exchange *ex;
    const sl_http_request *req;
    const sl_op_def *op;
    const cJSON *input;     /* the request object (an empty object for an empty REST body) */
    const char *region;     /* from the credential scope, else the configured default */
    const char *account_id; /* configured account */
};

#define SL_CT_AMZ_JSON "application/x-amz-json-1.1"
#define SL_CT_AMZ_CBOR "application/x-amz-cbor-1.1"
#define SL_CT_JSON     "application/json"

/* ---- decoding (api/wire/aws_json.c) ---------------------------------------------------------- */

/* Parses a request body that must hold exactly one JSON object (whitespace around it allowed).
 * Bodies longer than max_bytes are refused. On success *out is owned by the caller (cJSON_Delete).
 * Returns 0, SL_ETOOBIG or SL_EPARSE (d says where). Any thread. */
int sl_wire_json_decode(const uint8_t *body, size_t len, size_t max_bytes, cJSON **out, sl_diag *d);

/* Adds name: epoch seconds with millisecond fraction (1459799926.48), as AWS JSON timestamps
 * are written. Returns 0 or SL_ENOMEM. Any thread. */
int sl_wire_json_add_timestamp(cJSON *obj, const char *name, int64_t epoch_ms);

/* ---- validation (api/wire/validate.c) -------------------------------------------------------- */

/* Checks input (an object, or NULL for "no body") against shape, as AWS's deserializer and
 * validator do. Returns 0 when it conforms; SL_EPARSE when a member has the wrong JSON type
 * (SerializationException; msg gets its Message, e.g. "class java.lang.String can not be
 * converted to an Integer"); SL_ERANGE when model constraints fail (ValidationException; msg gets
 * "N validation error(s) detected: ..." listing up to 10); SL_ENOMEM. proto decides whether
 * timestamps may be ISO-8601 strings (REST-JSON) or must be numbers (JSON 1.1). msg is appended
 * to. Any thread after sl_patterns_init(). */
int sl_validate(const sl_shape *shape, const cJSON *input, sl_wire_proto proto, sl_buf *msg);

/* ---- patterns (api/wire/pattern.c) ----------------------------------------------------------- */

/* Compiles the ERE patterns of the generated table once. Returns 0, SL_ENOMEM or SL_EINTERNAL
 * (a generated ERE did not compile -- a generator bug, logged). Loop thread, before serving. */
int sl_patterns_init(void);
void sl_patterns_cleanup(void);
/* Whether s[0..len) (UTF-8) matches pattern idx as a whole. Returns 1, 0, SL_EINVAL (bad index
 * or not initialised) or SL_ENOMEM. Any thread. */
int sl_pattern_match(int idx, const char *s, size_t len);
/* Index of the pattern whose Java source is java, or -1 (tests and diagnostics). */
int sl_pattern_find(const char *java);

/* ---- replies ----------------------------------------------------------------------------------
 */

/* Success reply of a call: the op's protocol decides Content-Type; body NULL means "no output"
 * (JSON 1.1: empty body, REST-JSON: "{}"). body is borrowed. */
int sl_wire_reply_ok(sl_api_call *call, const cJSON *body);

/* An error in proto's shape. type is the AWS error name; message NULL sends "__type" alone.
 * status 0 picks the model's httpStatusCode for type in svc (REST-JSON), else 400.
 * ct is the Content-Type for AWS JSON replies (NULL: application/x-amz-json-1.1). */
int sl_wire_reply_error(sl_exchange *ex, sl_wire_proto proto, const sl_service_def *svc, int status,
                        const char *type, const char *message, const char *ct);
/* The same for a call, with a printf-style message. */
int sl_wire_call_error(sl_api_call *call, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An SL_E* code at the edge: its errors.def AWS type and status, message = sl_err_str(). */
int sl_wire_call_error_code(sl_api_call *call, int code);
/* SerializationException (capital "Message"; NULL message sends "__type" alone). */
int sl_wire_reply_serialization(sl_exchange *ex, sl_wire_proto proto, const char *message,
                                const char *ct);
/* 501 NotImplementedException: "Sluice does not implement <Service>.<Op> yet". */
int sl_wire_reply_not_implemented(sl_exchange *ex, const sl_op_def *op, const char *ct);
/* 403 XML AccessDeniedException "Unable to determine service/operation name to be authorized"
 * (what the JSON endpoint answers to a non-POST or an unusable Content-Type). */
int sl_wire_reply_access_denied_xml(sl_exchange *ex);
/* 404 "<UnknownOperationException/>" XML: a target on a body with an unusable Content-Type. */
int sl_wire_reply_unknown_operation_xml(sl_exchange *ex);
/* A CBOR map {"__type": type[, "message": message]} with Content-Type
 * application/x-amz-cbor-1.1 (errors made before a CBOR request is decoded; the other reply
 * functions switch to CBOR by themselves for CBOR requests, see api/wire/cbor.c). */
int sl_wire_reply_cbor_error(sl_exchange *ex, int status, const char *type, const char *message);
/* Whether ex's request has Content-Type application/x-amz-cbor-1.1 (parameters, blanks and
 * case ignored): its replies are then CBOR. Loop thread. */
int sl_wire_is_cbor(const sl_exchange *ex);
/* Builds {"__type": type[, message_key: message]} into out (message NULL: "__type" alone).
 * Returns 0 or SL_ENOMEM. Any thread. */
int sl_wire_json_error_body(sl_buf *out, const char *type, const char *message,
                            const char *message_key);
/* Builds the CBOR map above into out (the gateway's own error replies, tests). Returns 0 or
 * SL_ENOMEM. */
int sl_wire_cbor_error_body(sl_buf *out, const char *type, const char *message);

#endif
