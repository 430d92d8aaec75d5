/* A single-pass reader for the Kinesis PutRecords and PutRecord JSON 1.1 bodies that clients
 * send on the hot path, taking the place of cJSON parsing plus model validation for them.
 *
 * It accepts only a conservative subset that it can verify completely, and answers "not mine"
 * (SL_EPARSE) for everything else, so the generic pipeline (sl_wire_json_decode + sl_validate,
 * api/api.c) keeps producing every error reply: those stay byte-identical by construction. The
 * subset:
 *   - one JSON object; only space, \t, \n, \r between tokens and around the object;
 *   - PutRecords: members "StreamName" (string) and "Records" (array of objects), each exactly
 *     once; PutRecord: "StreamName", "PartitionKey", "Data" exactly once, "ExplicitHashKey" at
 *     most once. Records: "PartitionKey", "Data" exactly once, "ExplicitHashKey" at most once.
 *     Any other member (StreamARN, StreamId, SequenceNumberForOrdering, unknown ones), a
 *     duplicate, or a value of another JSON type (null included) is not ours;
 *   - strings hold bytes 0x20..0x7F except backslash: no escapes, no control characters, no
 *     UTF-8 (so a length in bytes is the UTF-16 length the validator counts);
 *   - the model's constraints (shared aws-models kinesis, as api/wire/validate.c checks them):
 *     StreamName 1..128 characters of [a-zA-Z0-9_.-]; Records 1..500 entries; PartitionKey
 *     1..256 characters; Data padded standard base64 with zero bits under the padding (exactly
 *     the rule of validate.c's check_base64, which is sl_base64_decode's strict mode) decoding
 *     to at most 10 MiB; ExplicitHashKey matching 0|([1-9]\d{0,38}). StreamName is required
 *     here although the model leaves it optional (a body without one is left to the generic
 *     path, which names the missing stream).
 * Data is decoded while it is read, straight into one block shared by all records.
 *
 * Pure functions over memory, any thread. */
#ifndef SL_DS_PUTPARSE_H
#define SL_DS_PUTPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/err.h"

#define SL_DS_PUT_STREAM_MAX  128                /* StreamName length */
#define SL_DS_PUT_RECORDS_MAX 500                /* PutRecords entries */
#define SL_DS_PUT_PK_MAX      256                /* PartitionKey length */
#define SL_DS_PUT_EHK_MAX     39                 /* ExplicitHashKey digits */
#define SL_DS_PUT_DATA_MAX    ((size_t)10 << 20) /* decoded Data bytes */

/* One record. pk and ehk point into the body (not NUL-terminated; ehk NULL when absent); data
 * points into the block of the sl_ds_put_body holding the record. */
typedef struct sl_ds_put_rec {
    const char *pk;
    size_t pk_len;
    const char *ehk;
    size_t ehk_len;
    const uint8_t *data;
    size_t data_len;
} sl_ds_put_rec;

/* A body the parser took. stream points into the body (not NUL-terminated). recs (n entries,
 * n == 1 for PutRecord) and blob (every record's decoded Data) are owned: release them with
 * sl_ds_putparse_cleanup. The body must outlive it. */
typedef struct sl_ds_put_body {
    const char *stream;
    size_t stream_len;
    sl_ds_put_rec *recs;
    size_t n;
    uint8_t *blob;
} sl_ds_put_body;

/* Reads a PutRecords (sl_ds_putparse_records) or PutRecord (sl_ds_putparse_record) body of len
 * bytes. Returns 0 when it is in the subset above (out filled); SL_EPARSE when it is not ours
 * (d, if not NULL, says why and at which byte; out is left empty and nothing is held);
 * SL_ENOMEM. */
int sl_ds_putparse_records(const char *body, size_t len, sl_ds_put_body *out, sl_diag *d);
int sl_ds_putparse_record(const char *body, size_t len, sl_ds_put_body *out, sl_diag *d);

/* Frees what a successful parse holds and empties b (an empty b is fine). */
void sl_ds_putparse_cleanup(sl_ds_put_body *b);

#endif
