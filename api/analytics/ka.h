/* Declarations private to api/analytics/: record mapping (ka_record.c), schema discovery
 * (ka_discover.c), the bridge to Kinesis Data Streams (ka_ds.c), the application runtime
 * (ka_runtime.c) and the service state (ka_service.c).
 *
 * Threads: the service state belongs to the loop thread. Each running application has one
 * worker thread (ka_runtime.c) that reads its input shard logs, runs the SQL engine and hands
 * output records back to the loop (sl_loop_post) where they are appended to the destination
 * streams. Record mapping and discovery are pure functions usable from any thread. */
#ifndef SLUICE_KA_H
#define SLUICE_KA_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/sql.h"

typedef struct sl_log sl_log;

/* ---- record mapping (ka_record.c) ---------------------------------------------------------- */

#define KA_MAX_COLS 1000

typedef struct ka_col {
    char name[129];
    sl_sql_type type;
    char *mapping; /* JSON: "$.a.b" (owned); NULL for CSV */
    char **path;   /* keys after the row path (owned); "[0:]" marks the flattened array */
    size_t n_path;
    int flatten_at;  /* index in path of the flattened array, -1 when none */
    int whole_array; /* mapping ends with [0:] (array as JSON text) */
} ka_col;

typedef struct ka_schema {
    int json; /* else CSV */
    char row_delim[16], col_delim[16];
    ka_col *cols;
    size_t n_cols;
} ka_schema;

/* Builds a schema from an InputSchema / ReferenceSchema object. Returns 0 or SL_EINVAL with
 * err filled (the InvalidArgumentException message). */
int ka_schema_parse(const cJSON *schema, ka_schema *out, char *err, size_t cap);
void ka_schema_free(ka_schema *s);
/* The columns as an SQL relation (cols[] points into s; valid while s lives). */
void ka_schema_relation(const ka_schema *s, const char *name, sl_sql_column *cols,
                        sl_sql_relation *out);

/* Called per mapped row (vals has n_cols values, strings borrowed for the call). */
typedef void (*ka_row_fn)(void *ud, const sl_sql_value *vals);
/* Called for a payload that does not parse (InputParseError) or a value that does not convert
 * (InputCoercionError); the record (or the rest of it) is dropped. */
typedef void (*ka_err_fn)(void *ud, const char *name, const char *msg);

/* Maps one record payload to rows. Returns the number of rows produced. */
size_t ka_map_record(const ka_schema *s, const char *data, size_t len, ka_row_fn row, ka_err_fn err,
                     void *ud);

/* ---- discovery (ka_discover.c) ------------------------------------------------------------ */

/* DiscoverInputSchema over sample payloads: fills *out with {InputSchema, ParsedInputRecords,
 * RawInputRecords, ProcessedInputRecords}. Returns 0, SL_ENOTFOUND (nothing to learn from:
 * UnableToDetectSchemaException) or SL_ENOMEM. */
int ka_discover(const char *const *payloads, const size_t *lens, size_t n, cJSON **out);

/* ---- Kinesis Data Streams bridge (ka_ds.c; loop thread) ----------------------------------- */

typedef struct ka_shard_ref {
    sl_log *log;
    uint32_t shard;
    char shard_id[32];
    int raw; /* entries hold the record bytes alone (Firehose intake), not key | data */
} ka_shard_ref;

/* The shard logs of the data stream named by arn in region (open and closed shards, in index
 * order). *out is malloc'd (free()). Returns 0, SL_ENOTFOUND (no such live stream) or SL_ENOMEM. */
int ka_ds_shards(const char *arn, ka_shard_ref **out, size_t *n);
/* Whether arn names a live data stream. */
int ka_ds_exists(const char *arn);
/* Appends records to the data stream arn (arrival time now). Partition keys are random, or
 * when rowtimes is not NULL (test-only clock) each record's ROWTIME as
 * "yyyy-MM-dd HH:mm:ss.SSS". The writer copies the bytes at submit. Returns 0, SL_ENOTFOUND or
 * a writer error. */
int ka_ds_append(const char *arn, const sl_buf *records, const uint32_t *lens,
                 const int64_t *rowtimes, size_t n);
/* Reads up to max records from the oldest retained (from_start) or from the current end,
 * waiting up to wait_ms for the first record, into payloads (malloc'd NUL-terminated copies;
 * free each and the arrays). Disk reads and sleeps: not on the loop thread. */
int ka_ds_sample(ka_shard_ref *shards, size_t n_shards, size_t max, int from_start, int64_t wait_ms,
                 char ***payloads, size_t **lens, size_t *n);
/* Partition key of a stored Kinesis record entry (borrowed). Returns 0 or SL_ECORRUPT. */
int ka_ds_record_key(const char *entry, size_t len, const char **key, size_t *key_len);
/* Payload of a stored Kinesis record entry: skips the partition key. Returns 0 or SL_ECORRUPT. */
int ka_ds_record_data(const char *entry, size_t len, const char **data, size_t *data_len);

/* ---- Firehose bridge (ka_fh.c; loop thread) ------------------------------------------------ */

/* The intake log of the ACTIVE delivery stream named by arn, as one raw "shard". */
int ka_fh_shards(const char *arn, ka_shard_ref **out, size_t *n);
int ka_fh_exists(const char *arn);
/* Appends records to the delivery stream's intake log and wakes its delivery worker. */
int ka_fh_append(const char *arn, const sl_buf *records, const uint32_t *lens, size_t n);
/* The function URL Firehose's configuration maps a Lambda ARN to (SLUICE_FIREHOSE_LAMBDA_URLS).
 * 0 or SL_ENOTFOUND. Any thread. */
int ka_lambda_url(const char *arn, char *out, size_t cap);
/* One preprocessing invocation (Firehose's Lambda client) over n payloads read from the stream
 * source_arn: *out gets the data of the Ok answers in order (malloc'd NUL-terminated copies;
 * free each and the arrays), Dropped and ProcessingFailed ones are left out. Returns 0, SL_EIO
 * (the invocation failed as a whole; err says why) or SL_ENOMEM. Blocking: not the loop. */
int ka_lambda_process(const char *arn, const char *source_arn, char *const *payloads,
                      const size_t *lens, size_t n, char ***out, size_t **out_lens, size_t *n_out,
                      char *err, size_t cap);

/* ---- reference objects at an S3-compatible endpoint (ka_s3.c; worker thread) -------------- */

/* Whether objects live at Firehose's S3-compatible endpoint (SLUICE_FIREHOSE_S3_ENDPOINT) rather
 * than in the local folder. Any thread. */
int ka_s3_remote(void);
/* GETs bucket/key from that endpoint into out (at most max bytes). Returns 0, SL_ENOTFOUND,
 * SL_ETOOBIG, SL_EIO (msg says why) or SL_ENOMEM; out is empty on failure. Blocking. */
int ka_s3_get(const char *bucket, const char *key, size_t max, sl_buf *out, char *msg, size_t cap);

/* ---- runtime (ka_runtime.c) -------------------------------------------------------------- */

typedef struct ka_run ka_run;

typedef struct ka_output_cfg {
    char name[129];
    char arn[512];
    int json;
    int firehose; /* arn names a Firehose delivery stream */
} ka_output_cfg;

typedef struct ka_table_cfg {
    char name[129];
    ka_schema schema;
    char path[1200];  /* the object in the local S3 layout; read by the worker at start */
    char bucket[256]; /* the object at the S3-compatible endpoint (ka_s3_remote()) */
    char key[1025];
} ka_table_cfg;

typedef struct ka_run_cfg {
    char app_name[129];
    char *code;
    ka_schema input;
    char name_prefix[64];
    int parallelism;
    ka_shard_ref *shards; /* owned */
    size_t n_shards;
    uint64_t *start; /* per shard: first offset to read (owned) */
    ka_output_cfg outputs[3];
    size_t n_outputs;
    ka_table_cfg table;
    int has_table;
    char lambda_arn[2049]; /* InputLambdaProcessor ("" = none): records go through it first */
    char input_arn[512];   /* the input stream's ARN (named in the invocation event) */
    void (*checkpoint)(void *arg); /* posted to the loop (arg NULL) every checkpoint_ms */
    int64_t checkpoint_ms;
} ka_run_cfg;

/* Compiles the code and starts the worker. cfg is taken over (freed by the run, also on
 * failure). Errors fill d: SL_EPARSE/SL_EINVAL (CodeValidationException text), SL_ENOTFOUND (an
 * output Name that no stream of the code has); SL_ENOMEM. Loop thread. */
int ka_run_start(ka_run_cfg *cfg, ka_run **out, sl_diag *d);
/* Asks the worker to stop and joins it (it stops within ~100 ms). Copies the positions the
 * worker reached (per shard, next offset) into positions (n_shards entries) when not NULL.
 * Loop thread. */
void ka_run_stop(ka_run *r, uint64_t *positions, size_t n);
size_t ka_run_n_shards(const ka_run *r);
/* Loop thread: the positions the worker has published so far (checkpoint). */
void ka_run_positions(ka_run *r, uint64_t *positions, size_t n);
/* Test and compile helper: validates code against an input schema without running it. */
int ka_validate_code(const char *code, const ka_schema *input, const char *prefix, int parallelism,
                     const ka_schema *table, const char *table_name, sl_diag *d);
void ka_run_cfg_free(ka_run_cfg *cfg);

#endif
