/* Shared plumbing of the Kinesis Data Streams handlers (ds_control.c, ds_data.c): the service
 * state, durable catalog snapshots, status timers, the ListStreams registry, the reader thread
 * and small request/reply helpers. Private to api/kinesis/ds_*.c.
 *
 * State. One sl_ds_model per region (stream names are unique per account and region), the
 * iterator key, and the store. Everything here runs on the loop thread unless marked.
 *
 * Start-up. sl_ds_service_init() migrates the "kinesis_ds" catalog tables, loads the iterator
 * secret (creating it on first start) and every stream snapshot, opens the shard logs, finishes
 * interrupted transitions (CREATING/UPDATING -> ACTIVE, DELETING -> gone), drops orphaned logs
 * and fills the ListStreams registry. It blocks on the writer thread, so it belongs in
 * sl_api_init(); until api.c calls it there, every ds handler calls it on first use
 * (sl_ds_ready_or_reply).
 *
 * Catalog (component "kinesis_ds", version 1):
 *     ds_streams(region TEXT, name TEXT, doc TEXT, PRIMARY KEY(region, name))
 *         doc = sl_ds_stream_to_json() of the stream, rewritten whole on every change
 *     ds_secret(k TEXT PRIMARY KEY, v BLOB)   'iterator' = 32 random bytes
 *
 * Shard logs are named "kinesis/<region>/<stream creation ms>.<stream>/<shard index>", so a
 * stream re-created under the same name never sees an old incarnation's records. Each log entry
 * is one record: u16 big-endian partition-key length | key bytes | data bytes; the entry
 * timestamp is the arrival time (ms precision) and the entry offset + 1 is the counter of the
 * record's sequence number (ds_seqno.h). */
#ifndef SLUICE_DS_SERVICE_H
#define SLUICE_DS_SERVICE_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "ds_iterator.h"
#include "ds_model.h"
#include "ds_seqno.h"
#include "sluice/storage.h"
#include "sluice/wire.h"

/* Starts the service (idempotent). Blocking: start-up only. Returns 0 or SL_E*. */
int sl_ds_service_init(void);
/* Stops the reader thread and frees the state. Call before sl_store_close. */
void sl_ds_service_shutdown(void);

/* Starts the service on first use; on failure answers the call with InternalFailure and
 * returns non-zero. */
int sl_ds_ready_or_reply(sl_api_call *call);
/* The call's region model, the service started: NULL after answering the call (InternalFailure,
 * or out of memory). Loop thread. */
sl_ds_model *sl_ds_model_or_reply(sl_api_call *call);

sl_store *sl_ds_store(void);
/* Whether per-shard throughput limits are enforced (environment SLUICE_KINESIS_SHARD_LIMITS=aws,
 * see sl_api_shard_limits_env; off by default, so local loads are not throttled to one shard's
 * real capacity). */
int sl_ds_shard_limits_on(void);
/* s's retention period in ms. An "hour" is 3600000 ms unless the environment sets
 * SLUICE_KINESIS_TEST_HOUR_MS (tests only: lets an end-to-end test watch records expire). */
int64_t sl_ds_retention_ms(const sl_ds_stream *s);
const sl_ds_token_key *sl_ds_key(void);
/* The model of region (created empty when new); NULL on ENOMEM. */
sl_ds_model *sl_ds_model_of(const char *region);

/* Answers call with e's AWS type and message (500 for InternalFailure, else 400). */
void sl_ds_reply_err(sl_api_call *call, const sl_ds_err *e);

/* String member of call input, or NULL when absent, null or not a string. */
const char *sl_ds_in_str(const cJSON *in, const char *name);
/* Number member, or dflt. */
double sl_ds_in_num(const cJSON *in, const char *name, double dflt);

/* The stream named by StreamName / StreamARN. live: only ACTIVE/UPDATING count (data ops).
 * On failure answers the call (ResourceNotFoundException, InvalidArgumentException) and
 * returns NULL. */
sl_ds_stream *sl_ds_stream_or_reply(sl_api_call *call, sl_ds_model *m, int live);

/* "arn:aws:kinesis:<region>:<account>:stream/<name>". */
void sl_ds_stream_arn(const sl_ds_model *m, const sl_ds_stream *s, char *out, size_t cap);
/* Log name of a shard (see above). */
void sl_ds_log_name(const sl_ds_model *m, const sl_ds_stream *s, uint32_t shard, char *out,
                    size_t cap);
/* Opens the logs of shards that have none yet. Returns 0 or SL_E*. */
int sl_ds_attach_logs(sl_ds_model *m, sl_ds_stream *s);

/* Sequence number helpers (created_ms / ts in ms). */
void sl_ds_format_seq(const sl_ds_shard *sh, uint64_t counter, int64_t record_ms,
                      char out[SL_DS_SEQNO_STRLEN]);

/* Writes s's snapshot durably, then answers call with reply (owned, may be NULL = empty body)
 * or with InternalFailure when the catalog write failed. The exchange is kept alive meanwhile. */
void sl_ds_persist_and_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s, cJSON *reply);
/* Writes s's snapshot durably in the background (state changes made by timers). */
void sl_ds_persist(sl_ds_model *m, sl_ds_stream *s);
/* Arms the status timer: after the configured delay the stream leaves CREATING/UPDATING for
 * ACTIVE, or a DELETING stream is removed (logs dropped, row deleted). */
void sl_ds_schedule_transition(sl_ds_model *m, sl_ds_stream *s);
/* The same for a consumer: CREATING -> ACTIVE, DELETING -> removed. */
void sl_ds_schedule_consumer_transition(sl_ds_model *m, sl_ds_stream *s, const char *consumer);
/* Updates the ListStreams registry entry of s. */
void sl_ds_registry_put(const sl_ds_model *m, const sl_ds_stream *s);

/* The shard named id (any of "shardId-000000000007", "shardId-7", "7"), or NULL after answering
 * ResourceNotFoundException ("Shard <padded id> in stream <n> under account <a> does not
 * exist"). ds_data.c. */
sl_ds_shard *sl_ds_shard_or_reply(sl_api_call *call, sl_ds_model *m, sl_ds_stream *s,
                                  const char *id);
/* A starting position (GetShardIterator / SubscribeToShard StartingPosition) as an iterator
 * position and flags, without disk reads; op names the operation in messages. Returns 0 or fills
 * e (InvalidArgumentException texts of spec §3.4). ds_data.c. */
int sl_ds_start_position(const sl_ds_model *m, const sl_ds_stream *s, const sl_ds_shard *sh,
                         const char *op, const char *type, const char *seq, const cJSON *tso,
                         uint64_t *position, uint8_t *flags, sl_ds_err *e);

/* Where a read starts in log for an iterator position and its flags (ds_data.c): clamps to the
 * first retained entry, resolves sequence-number counters and timestamps. Reads headers from
 * disk: reader thread. Returns 0, or an SL_E* from the log. */
int sl_ds_resolve_start(sl_log *log, uint64_t position, uint8_t flags, uint64_t *out);

/* Reads records of one shard log from *pos (a record boundary) into the JSON array records
 * (GetRecords' record shape), skipping entries older than cutoff_ms, stopping after limit
 * records, max_bytes of data or at the end; *pos moves past what was read. Reader thread.
 * Returns 0; SL_EINVAL when *pos is not a record boundary (forged position); SL_ENOTFOUND when
 * the log was dropped; SL_EIO / SL_ECORRUPT / SL_ENOMEM. ds_data.c. */
typedef struct sl_ds_batch {
    size_t n;           /* records added */
    int at_end;         /* reached the durable end of the log */
    int64_t last_ts_ms; /* arrival of the last record added, -1 if none */
    uint64_t last_offset;
    int64_t behind_ms; /* MillisBehindLatest */
    size_t bytes;      /* data + partition-key bytes returned */
} sl_ds_batch;
int sl_ds_read_batch(sl_log *log, const sl_ds_shard *shard, int64_t cutoff_ms, size_t limit,
                     size_t max_bytes, uint64_t *pos, cJSON *records, sl_ds_batch *out);
/* ChildShards of shard `parent` (GetRecords / SubscribeToShard shape), or NULL on ENOMEM. */
cJSON *sl_ds_child_shards(const sl_ds_stream *s, uint32_t parent);

/* Reader thread: work(arg) runs on it (disk reads allowed), then done(arg) on the loop thread.
 * Returns 0, or SL_ENOMEM / SL_ECLOSED (nothing will run). */
int sl_ds_reader_submit(void (*work)(void *arg), void (*done)(void *arg), void *arg);

/* A copy of the call that stays usable after the handler returned (exchange referenced).
 * sl_ds_call_release drops the reference. */
typedef struct sl_ds_call {
    sl_api_call call;
    char region[32];
} sl_ds_call;
void sl_ds_call_keep(sl_ds_call *k, const sl_api_call *call);
void sl_ds_call_release(sl_ds_call *k);

#endif
