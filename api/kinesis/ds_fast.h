/* Direct JSON replies for the Data Streams data plane (PutRecord, PutRecords, GetRecords).
 *
 * The hot operations write their JSON 1.1 answers straight into one sl_buf instead of building
 * a cJSON tree and printing it: for a 10,000-record GetRecords that is 60,000 fewer allocations
 * and one copy less. The text is byte for byte what cJSON_PrintUnformatted prints for the same
 * members in the same order (same string escapes, numbers as cJSON formats them), which
 * tests/unit/api/test_ds_fast.c checks against cJSON itself. Requests in any other protocol
 * (CBOR, which api/wire encodes from a cJSON tree) keep the generic path:
 * sl_ds_fast_json_ok() tells which. Pure functions, any thread, except sl_ds_fast_reply (loop
 * thread, like every reply). */
#ifndef SL_DS_FAST_H
#define SL_DS_FAST_H

#include <stddef.h>
#include <stdint.h>

#include "ds_hashkey.h"
#include "sluice/buf.h"

typedef struct sl_api_call sl_api_call;

/* 1 when call may be answered with sl_ds_fast_reply: a JSON 1.1 operation whose request came
 * as application/x-amz-json-1.1 (so the reply is JSON, not CBOR). Reads call->req. */
int sl_ds_fast_json_ok(const sl_api_call *call);

/* Appends s[0..n) as a JSON string (quotes included), escaped as cJSON escapes. */
void sl_ds_fast_str(sl_buf *b, const char *s, size_t n);
/* Appends "key":"value" (key is not escaped: callers pass literals). */
void sl_ds_fast_member_str(sl_buf *b, const char *key, const char *value);
/* Appends v as cJSON prints an integral double (v within +-2^53). */
void sl_ds_fast_int(sl_buf *b, int64_t v);
/* Appends epoch_ms / 1000.0 as cJSON prints that double (sl_wire_json_add_timestamp). */
void sl_ds_fast_timestamp(sl_buf *b, int64_t epoch_ms);

/* One GetRecords record object, as add_record builds it with cJSON:
 * {"SequenceNumber":seq,"ApproximateArrivalTimestamp":ts,"Data":base64(data),
 *  "PartitionKey":pk,"EncryptionType":"NONE"|"KMS"}. */
void sl_ds_fast_record(sl_buf *b, const char *seq, int64_t ts_ms, const uint8_t *data,
                       size_t data_len, const char *pk, size_t pk_len, int kms);

/* MD5 hash key of a partition key, equal to sl_ds_hashkey_of_partition_key (ds_hashkey.h) but
 * with the digest fetched from OpenSSL once instead of on every call (EVP_md5() makes
 * EVP_Digest look the algorithm up each time: that was 10 % of the server's CPU under
 * PutRecords). Any thread. */
sl_u128 sl_ds_fast_hashkey(const char *key, size_t len);

/* Bodies from this size on are handed to the gateway by reference (sl_exchange_respond_rbuf),
 * not copied into the connection's output: a 10,000-record GetRecords answer is ~2.6 MB. */
#define SL_DS_FAST_REF_BYTES ((size_t)16 << 10)

/* Sends body as the 200 answer (Content-Type application/x-amz-json-1.1). A body of
 * SL_DS_FAST_REF_BYTES or more is taken over (body is left empty; the bytes are freed once
 * sent); a smaller one is copied. Returns 0 or SL_E*; SL_ENOMEM when body->oom (nothing is sent
 * then: the caller answers the error). Loop thread. */
int sl_ds_fast_reply(sl_api_call *call, sl_buf *body);

#endif
