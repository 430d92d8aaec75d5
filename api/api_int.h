/* Declarations private to api/: the configuration kept by sl_api_init and the generic request
 * handlers that route.c hands to the gateway. */
#ifndef SL_API_INT_H
#define SL_API_INT_H

#include "sluice/api.h"
#include "sluice/wire.h"

/* The configuration copied by sl_api_init (defaults before it: us-east-1, 000000000000). */
const char *sl_api_region(void);
const char *sl_api_account_id(void);
const char *sl_api_base_url(void);
sl_store *sl_api_store(void);
/* The per-shard throughput-limit switch both Kinesis services read: environment
 * SLUICE_KINESIS_SHARD_LIMITS = aws (also 1 or on) enforces AWS's limits; unset, off or 0 leaves
 * them off; any other value is logged and leaves them off. */
int sl_api_shard_limits_env(void);

/* Route handlers (api/api.c). ud is the sl_op_def (NULL: unknown operation). */
void sl_api_handle_json(sl_exchange *ex, const sl_http_request *req, void *ud);
void sl_api_handle_rest(sl_exchange *ex, const sl_http_request *req, void *ud);
void sl_api_handle_stream_unimplemented(sl_exchange *ex, const sl_http_request *req, void *ud);
void sl_api_handle_access_denied(sl_exchange *ex, const sl_http_request *req, void *ud);
void sl_api_handle_rest_unknown(sl_exchange *ex, const sl_http_request *req, void *ud);
void sl_api_handle_not_found(sl_exchange *ex, const sl_http_request *req, void *ud);

/* Fast paths that sl_api_handle_json tries before decoding an application/x-amz-json-1.1 body
 * (api.c keeps the table: handler -> fast path). call is what run_op would pass the handler,
 * with input NULL. A fast path reads call->req's body itself; it returns 1 when it took the
 * request (and has answered or will answer it as the handler would), or 0, having done nothing,
 * when the body is outside what it fully checks (the generic decode, validation and handler run
 * then, so every error reply is theirs). Loop thread. api/kinesis/ds_data.c. */
int sl_kinesis_put_record_fast(sl_api_call *call);
int sl_kinesis_put_records_fast(sl_api_call *call);

/* Pagination tokens: base64 of "<issued epoch ms>:<last name>". decode returns 0, SL_EINVAL
 * (malformed) or SL_EAGAIN (older than max_age_ms; max_age_ms 0 never expires). */
int sl_api_token_encode(const char *last, char *out, size_t out_len);
int sl_api_token_decode(const char *token, int64_t max_age_ms, char *last, size_t last_len);

#endif
