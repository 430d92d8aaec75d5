/* Declarations shared by the files of api/wire, and the CBOR entry points that the request
 * pipeline (api/api.c) calls. */
#ifndef SL_WIRE_INT_H
#define SL_WIRE_INT_H

#include "sluice/wire.h"

/* REST-JSON error reply (api/wire/rest_json.c). */
int sl_restjson_reply_error(sl_exchange *ex, const sl_service_def *svc, int status,
                            const char *type, const char *message, int with_message);
/* REST-JSON success reply with a JSON body (NULL: "{}"). */
int sl_restjson_reply_ok(sl_exchange *ex, int status, const cJSON *body);

/* ---- AWS CBOR 1.1 (api/wire/cbor.c) ------------------------------------------------------- */

/* Deepest nesting of maps and arrays a CBOR body (or reply tree) may have. */
#define SL_CBOR_MAX_DEPTH 64

/* Decodes a request body that must hold exactly one CBOR map into the cJSON tree the JSON 1.1
 * path would have made (byte strings -> base64 strings, tag 1 epoch ms -> epoch seconds).
 * Bodies longer than max_bytes are refused. On success *out is owned by the caller
 * (cJSON_Delete). Returns 0, SL_ETOOBIG, SL_EPARSE (d says what and at which byte) or
 * SL_ENOMEM. Any thread. */
int sl_wire_cbor_decode(const uint8_t *body, size_t len, size_t max_bytes, cJSON **out, sl_diag *d);
/* Appends v as definite-length CBOR, typed by shape (NULL: untyped -- integral numbers as ints,
 * others as float64, strings as text): blob members become byte strings, timestamp members
 * tag 1 + integer epoch ms. v is borrowed. Returns 0, SL_EINVAL (a blob member that is not
 * base64, a raw item, deeper than SL_CBOR_MAX_DEPTH) or SL_ENOMEM; out may hold a partial item
 * then. Any thread. */
int sl_wire_cbor_encode(const cJSON *v, const sl_shape *shape, sl_buf *out);
/* 200 with body (borrowed; NULL: empty body) encoded by op's output shape; a reply that cannot
 * be encoded is logged and answered 500 InternalFailure (and its code returned). */
int sl_wire_cbor_reply_ok(sl_exchange *ex, const sl_op_def *op, const cJSON *body);
/* {"__type": type[, message_key: message]} as a CBOR map (message NULL: "__type" alone). */
int sl_wire_cbor_error_body_key(sl_buf *out, const char *type, const char *message,
                                const char *message_key);
int sl_wire_reply_cbor_error_key(sl_exchange *ex, int status, const char *type, const char *message,
                                 const char *message_key);

#endif
