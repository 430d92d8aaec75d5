/* Declarations private to api/firehose/: the delivery-stream model shared by the handlers
 * (fh_service.c, fh_put.c), the delivery worker (fh_deliver.c, fh_http.c, fh_s3.c) and the pure
 * helpers (fh_compress.c, fh_prefix.c).
 *
 * Threads. Handlers run on the loop thread. The delivery worker is one thread per gateway; it
 * reads the delivery-stream table under sl_fh_lock()/sl_fh_unlock() and copies what it needs (an
 * sl_fh_dest snapshot) so that no string it uses can change under it. The loop thread holds the
 * lock only for short in-memory edits (never across I/O).
 *
 * Catalog (component "firehose", version 1):
 *     fh_streams(region TEXT, name TEXT, doc TEXT, PRIMARY KEY(region, name))
 *         doc = sl_fh_stream_to_json(), rewritten whole on every change
 *     fh_progress(log TEXT PRIMARY KEY, offset INTEGER)
 *         the log offset below which every record has been delivered (or written to the error
 *         output); written by the worker after the destination confirmed an object
 *
 * Intake log of a delivery stream: "firehose/<region>/<created ms>.<name>". One entry per record:
 * the record's bytes exactly as PutRecord received them (after base64 decoding); the entry
 * timestamp is the arrival time. */
#ifndef SL_FH_H
#define SL_FH_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/storage.h"
#include "sluice/wire.h"

#define SL_FH_NAME_MAX 64

typedef enum { SL_FH_CREATING = 0, SL_FH_ACTIVE, SL_FH_DELETING } sl_fh_status;
typedef enum { SL_FH_DEST_S3 = 1, SL_FH_DEST_HTTP } sl_fh_dest_kind;
typedef enum {
    SL_FH_COMP_NONE = 0,
    SL_FH_COMP_GZIP,
    SL_FH_COMP_ZIP,
    SL_FH_COMP_SNAPPY,
    SL_FH_COMP_HADOOP_SNAPPY
} sl_fh_compression;

/* Where an S3-shaped configuration writes (main destination, backup, HTTP's S3Configuration). */
typedef struct sl_fh_s3 {
    int set;
    char bucket[256];
    char prefix[1025];
    char error_prefix[1025];
    char file_extension[129];
    int has_extension;
    sl_fh_compression compression;
} sl_fh_s3;

/* Everything the worker needs to deliver, copied out of the JSON configuration. */
typedef struct sl_fh_dest {
    sl_fh_dest_kind kind;
    uint64_t size_bytes;   /* BufferingHints.SizeInMBs in bytes */
    uint64_t interval_ms;  /* BufferingHints.IntervalInSeconds in ms */
    char version_id[24];   /* VersionId at the time of the snapshot (object names) */
    char append_delim[64]; /* AppendDelimiterToRecord processor ("" = off) */
    size_t append_delim_len;
    int append_delim_on;
    char lambda_arn[2049]; /* Lambda processor ("" = none) */
    int dynamic_partitioning;
    char *jq_query;     /* MetadataExtractionQuery or NULL; owned */
    int lambda_retries; /* NumberOfRetries (default 3) */
    sl_fh_s3 s3;        /* S3: the destination; HTTP: S3Configuration (errors, backup) */
    sl_fh_s3 backup;    /* S3 destination with S3BackupMode Enabled: raw copy */
    int backup_all;     /* HTTP S3BackupMode AllData */
    char url[1001];     /* HTTP */
    char http_name[257];
    char access_key[4097];
    int gzip_body;      /* RequestConfiguration.ContentEncoding GZIP */
    char *common_attrs; /* JSON {"commonAttributes":{...}} or NULL; owned */
    uint64_t retry_ms;  /* RetryOptions.DurationInSeconds in ms */
} sl_fh_dest;

void sl_fh_dest_cleanup(sl_fh_dest *d);
/* Deep copy (common_attrs duplicated). 0 or SL_ENOMEM. */
int sl_fh_dest_copy(sl_fh_dest *dst, const sl_fh_dest *src);

/* One shard of a Kinesis source stream, as last seen on the loop thread (fh_source.c). */
typedef struct sl_fh_shard {
    uint32_t index;
    uint32_t parent, adjacent; /* UINT32_MAX: none */
    int closed;
    uint64_t end_offset; /* closed shards: the log end at close */
    sl_log *log;         /* borrowed from the store */
} sl_fh_shard;

/* A delivered position in one source shard's log (checkpoint row "<ds log>#<shard>"). */
typedef struct sl_fh_cursor {
    uint32_t shard;
    uint64_t offset;
} sl_fh_cursor;

/* Per-stream counters behind /metrics (CloudWatch names in sl_firehose_metrics_render). The
 * loop thread (puts) and the worker (deliveries) add to them; relaxed atomics. */
enum {
    SL_FH_M_INCOMING_RECORDS = 0,
    SL_FH_M_INCOMING_BYTES,
    SL_FH_M_INCOMING_PUT_REQUESTS,
    SL_FH_M_S3_RECORDS,
    SL_FH_M_S3_BYTES,
    SL_FH_M_S3_SUCCESS,  /* objects written */
    SL_FH_M_S3_ATTEMPTS, /* object writes tried */
    SL_FH_M_HTTP_RECORDS,
    SL_FH_M_HTTP_BYTES,
    SL_FH_M_HTTP_SUCCESS,
    SL_FH_M_HTTP_ATTEMPTS,
    SL_FH_M_PROCESSING_FAILED, /* records to processing-failed */
    SL_FH_M_COUNT
};

typedef struct sl_fh_stream {
    char region[32];
    char name[SL_FH_NAME_MAX + 1];
    int64_t created_ms;
    int64_t updated_ms;
    sl_fh_status status;
    uint64_t version; /* VersionId */
    int encrypted;    /* SSE enabled (ENABLED) */
    char enc_key_type[32];
    char enc_key_arn[2049];
    cJSON *dest_cfg;           /* owned: the destination configuration as given and merged */
    char dest_member[64];      /* "ExtendedS3DestinationConfiguration", ... */
    cJSON *tags;               /* owned array of {Key, Value} */
    sl_log *log;               /* intake log (borrowed from the store) */
    sl_fh_dest dest;           /* parsed copy of dest_cfg (protected by sl_fh_lock) */
    uint64_t delivered_offset; /* checkpoint loaded at start (worker keeps its own after) */
    /* KinesisStreamAsSource */
    int kinesis_source;
    char source_arn[300];
    char source_role[2049];
    char source_region[32];
    char source_name[129];
    int64_t source_created_ms; /* the source stream incarnation read (0: not seen yet) */
    sl_fh_shard *shards;       /* owned; snapshot refreshed by fh_source.c (under the lock) */
    size_t n_shards;
    int source_missing;    /* the source stream is gone */
    sl_fh_cursor *cursors; /* owned; checkpoint loaded at start */
    size_t n_cursors;
    _Atomic uint64_t metrics[SL_FH_M_COUNT];
} sl_fh_stream;

/* ---- fh_service.c (loop thread unless noted) ---- */
void sl_fh_lock(void);
void sl_fh_unlock(void);
sl_store *sl_fh_store(void);
/* Folder that stands in for the object store: <root>/<bucket>/<key>. Any thread. */
const char *sl_fh_s3_root(void);
/* Streams array, for the worker (under sl_fh_lock). */
sl_fh_stream **sl_fh_streams(size_t *n);
/* Adds n to counter m of the stream (region, name, created_ms) if it still exists. Takes the
 * table lock: for the worker thread. */
void sl_fh_count(const char *region, const char *name, int64_t created_ms, int m, uint64_t n);
/* Wakes the delivery worker (any thread). */
void sl_fh_worker_kick(void);
/* Answers call with an AWS error (status 400; 503 for ServiceUnavailableException). */
void sl_fh_reply_error(sl_api_call *call, const char *type, const char *msg);
/* The stream named by DeliveryStreamName in the call's region (active: only ACTIVE counts), or
 * NULL after answering ResourceNotFoundException (or InternalFailure when the service cannot
 * start). */
sl_fh_stream *sl_fh_stream_or_reply(sl_api_call *call, int active);

/* ---- fh_model.c: configuration parsing and description (pure; any thread) ---- */
/* Parses cfg (a <member> JSON object) into d. On a semantic error fills msg and returns
 * SL_EINVAL. */
int sl_fh_dest_parse(const char *member, const cJSON *cfg, sl_fh_dest *d, char *msg, size_t cap);
/* Destination description object for DescribeDeliveryStream (secrets removed, defaults
 * filled); adds the description members to `dest` (the Destinations[] element). */
int sl_fh_dest_describe(const char *member, const cJSON *cfg, cJSON *dest);
/* JSON snapshot of s for the catalog, and back. */
cJSON *sl_fh_stream_to_json(const sl_fh_stream *s);
sl_fh_stream *sl_fh_stream_from_json(const cJSON *j);
void sl_fh_stream_free(sl_fh_stream *s);
void sl_fh_stream_arn(const char *region, const char *account, const char *name, char *out,
                      size_t cap);
/* Merges `upd` into `base` (objects recursively, everything else replaced). */
int sl_fh_json_merge(cJSON *base, const cJSON *upd);

/* ---- fh_compress.c (any thread) ---- */
/* Appends the compressed form of in[0..n) to out. entry_name names the ZIP entry. Returns 0,
 * SL_ENOMEM or SL_EINTERNAL (library failure). */
int sl_fh_compress(sl_fh_compression c, const void *in, size_t n, const char *entry_name,
                   sl_buf *out);
/* gzip of one member (HTTP Content-Encoding). */
int sl_fh_gzip(const void *in, size_t n, sl_buf *out);
const char *sl_fh_compression_ext(sl_fh_compression c);
uint32_t sl_fh_crc32c(uint32_t crc, const void *p, size_t n);

/* ---- fh_prefix.c (any thread) ---- */
/* Evaluates an S3 prefix (Prefix or ErrorOutputPrefix) for records whose oldest arrival is
 * ts_ms. error_type NULL evaluates a Prefix: "yyyy/MM/dd/HH/" is appended when it has no
 * timestamp expression. error_type non-NULL evaluates an ErrorOutputPrefix; when it is empty,
 * "<error_type>/yyyy/MM/dd/HH/" is used. Returns 0, or SL_EINVAL with msg filled (unknown
 * namespace, unterminated expression). */
int sl_fh_prefix_eval(const char *prefix, int64_t ts_ms, const char *error_type, sl_buf *out,
                      char *msg, size_t cap);
/* The same with partition keys (dynamic partitioning): !{partitionKeyFromQuery:k} reads
 * query_keys, !{partitionKeyFromLambda:k} lambda_keys (objects of strings; NULL: none), and no
 * default timestamp suffix is appended. SL_ENOTFOUND when a referenced key is missing. */
int sl_fh_prefix_eval_keys(const char *prefix, int64_t ts_ms, const cJSON *query_keys,
                           const cJSON *lambda_keys, sl_buf *out, char *msg, size_t cap);
/* Checks a Prefix / ErrorOutputPrefix pair at configuration time (spec §5.3 rules). */
int sl_fh_prefix_check(const char *prefix, const char *error_prefix, char *msg, size_t cap);
/* The rules with dynamic partitioning on: Prefix must use a partition key expression,
 * ErrorOutputPrefix must be set and use none. */
int sl_fh_prefix_check_dp(const char *prefix, const char *error_prefix, char *msg, size_t cap);
/* "<name>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>". */
int sl_fh_object_name(const char *ds_name, const char *version, int64_t now_ms, const char *ext,
                      sl_buf *out);
/* Random UUID v4 text (37 bytes with NUL). */
void sl_fh_uuid(char out[37]);

/* ---- fh_source.c (loop thread) ---- */
/* Resolves a KinesisStreamARN of the caller's account to its region and name; checks that the
 * stream exists. Returns 0 or SL_EINVAL / SL_ENOTFOUND with msg filled. */
int sl_fh_source_check(const char *arn, const char *account, char *region, size_t rcap, char *name,
                       size_t ncap, char *msg, size_t cap);
/* Refreshes the shard snapshots of every Kinesis-sourced stream now and every 200 ms. */
void sl_fh_source_start(void);
void sl_fh_source_stop(void);

/* ---- fh_partition.c (worker thread) ---- */
typedef struct sl_fh_jq sl_fh_jq;
/* Compiles a MetadataExtractionQuery. 0, SL_EINVAL (msg says why) or SL_ENOMEM. */
int sl_fh_jq_new(const char *query, sl_fh_jq **out, char *msg, size_t cap);
void sl_fh_jq_free(sl_fh_jq *q);
/* Partition keys of one record: *keys (owned, cJSON_Delete) maps key -> text. SL_EPARSE (not
 * JSON), SL_EINVAL (query failed / no object), SL_ENOMEM; msg says why. */
int sl_fh_jq_keys(sl_fh_jq *q, const char *data, size_t len, cJSON **keys, char *msg, size_t cap);

/* ---- fh_deliver.c ---- */
/* Starts / stops the delivery worker thread (startup / shutdown). */
int sl_fh_worker_start(void);
void sl_fh_worker_stop(void);

/* ---- fh_s3.c (worker thread) ---- */
/* Writes one object durably: into the local folder (<root>/<bucket>/<key>, temp file, fsync,
 * rename, fsync of the folder), or, when SLUICE_FIREHOSE_S3_ENDPOINT is set, by a SigV4-signed
 * PUT to that S3-compatible endpoint. Returns 0, SL_EIO (retry later) or SL_ENOMEM. msg gets a
 * reason on failure. */
int sl_fh_s3_put(const char *bucket, const char *key, const void *data, size_t n, char *msg,
                 size_t cap);
/* A SigV4-signed path-style request to the S3-compatible endpoint (SLUICE_FIREHOSE_S3_*):
 * appends <endpoint>/<bucket>/<key percent-encoded> to url and sets *headers to the signature
 * headers (curl list, the caller's: curl_slist_free_all). body (n bytes; NULL, 0 for none) is
 * hashed into x-amz-content-sha256. Returns 0, SL_EINVAL (settings missing), SL_ENOMEM, with a
 * reason in msg. Also used by Analytics for reference objects (ka_s3.c). Any thread. */
struct curl_slist;
int sl_fh_s3_signed(const char *method, const char *bucket, const char *key, const void *body,
                    size_t n, sl_buf *url, struct curl_slist **headers, char *msg, size_t cap);

/* ---- fh_http.c (worker thread) ---- */
typedef struct sl_fh_http_result {
    int ok;        /* delivered */
    int permanent; /* 413: do not retry */
    char error_code[64];
    char error_msg[512];
} sl_fh_http_result;
/* One attempt of the HTTP endpoint delivery request for `records` (n entries of data/len).
 * request_id is kept by the caller across retries. */
typedef struct sl_fh_rec {
    const char *data;
    size_t len;
    int64_t ts_ms;
} sl_fh_rec;
/* ---- fh_lambda.c (worker thread) ---- */
enum { SL_FH_X_OK = 0, SL_FH_X_DROPPED, SL_FH_X_FAILED };
typedef struct sl_fh_xform {
    int result;      /* SL_FH_X_* */
    size_t off, len; /* Ok: the transformed bytes in data_out */
    cJSON *keys;     /* Ok: metadata.partitionKeys (owned by the caller after the call), or NULL */
} sl_fh_xform;
/* The function URL mapped to arn into out. 0 or SL_ENOTFOUND. Any thread. */
int sl_fh_lambda_url(const char *arn, char *out, size_t cap);
/* One invocation for recs[0..n): fills res[0..n) and appends Ok data to data_out. Returns 0;
 * SL_EIO when the invocation failed as a whole (err says why); SL_ENOMEM. */
int sl_fh_lambda_invoke(const char *arn, const char *ds_arn, const char *region,
                        const sl_fh_rec *recs, size_t n, sl_buf *data_out, sl_fh_xform *res,
                        char *err, size_t cap);

int sl_fh_http_deliver(const sl_fh_dest *d, const char *source_arn, const char *request_id,
                       const sl_fh_rec *recs, size_t n, sl_fh_http_result *res);

#endif
