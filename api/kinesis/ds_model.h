/* In-memory state of Kinesis Data Streams: streams, their shards (lineage, hash ranges), status,
 * retention, tags, encryption and monitoring settings, with the state machine and the exact
 * error texts of the real service for every refused change.
 *
 * Stream state machine (function performing each transition):
 *
 *        sl_ds_model_create_stream            sl_ds_stream_finish (timer)
 *   (none) ---------------------> CREATING ---------------------------> ACTIVE
 *                                                                         |  ^
 *           sl_ds_stream_split / _merge / _update_shard_count /           |  | sl_ds_stream_finish
 *           sl_ds_stream_set_encryption / sl_ds_stream_set_mode           v  |   (timer)
 *                                                                       UPDATING
 *   ACTIVE --sl_ds_model_delete_begin--> DELETING --sl_ds_model_remove--> (gone)
 *
 * Changes to shards take effect immediately (a split's children accept writes at once, as the
 * real service's do after its UPDATING phase); the status only tells clients a change is in
 * flight. Shard indexes are assigned in creation order and never reused, so shards[i].index == i.
 * A closed shard records the log offset at which it closed; its records stay readable until
 * retention removes them.
 *
 * Threads: the model belongs to the loop thread; no locking. Nothing here does I/O. Persistence
 * is ds_store.c's job (a JSON snapshot per stream, see sl_ds_stream_to_json).
 *
 * Errors: functions return 0 or a negative SL_E* and fill a caller-owned sl_ds_err with the AWS
 * error type and message to send. */
#ifndef SLUICE_DS_MODEL_H
#define SLUICE_DS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "ds_hashkey.h"
#include "ds_throttle.h"

typedef struct cJSON cJSON;
typedef struct sl_log sl_log;

typedef struct sl_ds_err {
    int code;         /* SL_E* */
    const char *type; /* AWS __type, static */
    char msg[640];
} sl_ds_err;

/* Fills e (may be NULL) and returns code. */
int sl_ds_err_set(sl_ds_err *e, int code, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef enum {
    SL_DS_CREATING = 0,
    SL_DS_DELETING,
    SL_DS_ACTIVE,
    SL_DS_UPDATING,
} sl_ds_status;

typedef enum { SL_DS_PROVISIONED = 0, SL_DS_ON_DEMAND } sl_ds_mode;

const char *sl_ds_status_name(sl_ds_status s);

#define SL_DS_NO_PARENT   UINT32_MAX
#define SL_DS_METRICS_ALL 0x7fu

typedef struct sl_ds_shard {
    uint32_t index;
    uint32_t parent;          /* SL_DS_NO_PARENT when none */
    uint32_t adjacent_parent; /* SL_DS_NO_PARENT when none */
    sl_u128 start_hash, end_hash;
    int64_t created_ms;
    int64_t closed_ms;   /* 0 while open */
    uint64_t end_offset; /* closed shards: log end offset at close */
    sl_log *log;         /* borrowed from the store; NULL until attached by the service */
    uint32_t inflight;   /* appends submitted and not yet acknowledged (service bookkeeping) */
    sl_ds_shard_limits limits; /* throughput buckets (service bookkeeping, not persisted) */
} sl_ds_shard;

typedef struct sl_ds_tag {
    char *key;   /* owned */
    char *value; /* owned */
} sl_ds_tag;

typedef enum {
    SL_DS_CONSUMER_CREATING = 0,
    SL_DS_CONSUMER_ACTIVE,
    SL_DS_CONSUMER_DELETING,
} sl_ds_consumer_status;

/* An enhanced fan-out consumer. ARN: <stream ARN>/consumer/<name>:<created epoch seconds>. */
typedef struct sl_ds_consumer {
    char name[129];
    int64_t created_ms;
    sl_ds_consumer_status status;
} sl_ds_consumer;

const char *sl_ds_consumer_status_name(sl_ds_consumer_status s);

typedef struct sl_ds_stream {
    char name[129];
    int64_t created_ms;
    sl_ds_status status;
    sl_ds_mode mode;
    uint32_t retention_hours;
    uint32_t max_record_kib;
    int kms;             /* EncryptionType KMS (1) or NONE (0) */
    char *key_id;        /* owned; NULL unless kms */
    uint32_t metrics;    /* bit i = metric i of sl_ds_metric_names */
    sl_ds_shard *shards; /* owned; indexed by shard index */
    size_t n_shards, cap_shards;
    sl_ds_tag *tags; /* owned; sorted by key */
    size_t n_tags;
    sl_ds_consumer *consumers; /* owned; in registration order */
    size_t n_consumers;
    void *pending_timer; /* the service's status timer, if any */
} sl_ds_stream;

typedef struct sl_ds_limits {
    uint32_t shard_limit;          /* open shards per account; default 500 */
    uint32_t on_demand_limit;      /* on-demand streams; default 50 */
    uint32_t creating_limit;       /* streams in CREATING at once; default 5 */
    uint32_t tags_per_stream;      /* default 50 */
    uint32_t on_demand_shards;     /* shards of a new on-demand stream; default 4 */
    uint32_t consumers_per_stream; /* default 20 */
    uint32_t consumers_creating;   /* consumers in CREATING per stream at once; default 5 */
} sl_ds_limits;

typedef struct sl_ds_model {
    sl_ds_stream **streams; /* owned; sorted by name */
    size_t n_streams, cap;
    sl_ds_limits limits;
    char account[16];
    char region[32];
} sl_ds_model;

extern const char *const sl_ds_metric_names[7];

/* Sets defaults for limits. account / region are copied (used in messages and ARNs). */
void sl_ds_model_init(sl_ds_model *m, const char *account, const char *region);
void sl_ds_model_cleanup(sl_ds_model *m);

/* Borrowed pointer or NULL. */
sl_ds_stream *sl_ds_model_find(sl_ds_model *m, const char *name);
/* The stream for a data operation: ACTIVE or UPDATING. Else NULL with ResourceNotFoundException
 * ("Stream <n> under account <a> not found."). */
sl_ds_stream *sl_ds_model_find_live(sl_ds_model *m, const char *name, sl_ds_err *e);
/* Index of the first stream whose name sorts after `after` ("" = from the start). */
size_t sl_ds_model_lower_bound(const sl_ds_model *m, const char *after);
/* Open shards over all streams (for DescribeLimits and the shard limit). */
uint32_t sl_ds_model_open_shards(const sl_ds_model *m);

/* Creates a stream in CREATING with `shard_count` even shards (0: on-demand default) at now_ms.
 * Errors: ResourceInUseException (name exists), LimitExceededException (shard limit, on-demand
 * limit, too many CREATING). *out is borrowed. */
int sl_ds_model_create_stream(sl_ds_model *m, const char *name, uint32_t shard_count,
                              sl_ds_mode mode, int64_t now_ms, sl_ds_stream **out, sl_ds_err *e);
/* Adds a fully formed stream (loaded from the catalog); takes ownership on success. */
int sl_ds_model_insert(sl_ds_model *m, sl_ds_stream *s, sl_ds_err *e);
/* ACTIVE/UPDATING -> DELETING. ResourceNotFoundException when missing, ResourceInUseException
 * when CREATING or already DELETING, or when consumers exist and !enforce_consumer_deletion. */
int sl_ds_model_delete_begin(sl_ds_model *m, const char *name, int enforce_consumer_deletion,
                             sl_ds_err *e);
/* Removes and frees the stream (any status). */
void sl_ds_model_remove(sl_ds_model *m, const char *name);

/* CREATING/UPDATING -> ACTIVE. Other states are left as they are. */
void sl_ds_stream_finish(sl_ds_stream *s);

/* The open shard that owns hash key k, or NULL (cannot happen in a consistent stream). */
sl_ds_shard *sl_ds_stream_shard_for_hash(sl_ds_stream *s, sl_u128 k);
/* Parses "shardId-000000000007", "shardId-7" or "7" and returns that shard, or NULL. */
sl_ds_shard *sl_ds_stream_find_shard(sl_ds_stream *s, const char *id);
/* Writes "shardId-%012u" into out (at least 21 bytes). */
void sl_ds_shard_id(uint32_t index, char out[21]);
uint32_t sl_ds_stream_open_shards(const sl_ds_stream *s);

/* Resharding. `end_offset_of` returns the current log end offset of a shard being closed (the
 * service passes one reading the shard's log; tests pass a stub). ACTIVE -> UPDATING.
 * Errors as in spec §3.5 (ResourceInUseException when not ACTIVE, ResourceNotFoundException for
 * unknown shards, InvalidArgumentException for closed shards and bad keys / non-adjacent pairs,
 * LimitExceededException for the shard limit). */
typedef uint64_t (*sl_ds_end_offset_fn)(void *arg, const sl_ds_shard *sh);
int sl_ds_stream_split(sl_ds_model *m, sl_ds_stream *s, const char *shard_id, const char *new_key,
                       int64_t now_ms, sl_ds_end_offset_fn eo, void *arg, sl_ds_err *e);
int sl_ds_stream_merge(sl_ds_model *m, sl_ds_stream *s, const char *shard_id,
                       const char *adjacent_id, int64_t now_ms, sl_ds_end_offset_fn eo, void *arg,
                       sl_ds_err *e);

/* UpdateShardCount with UNIFORM_SCALING, the way the real service does it: a series of splits and
 * merges of single shards that ends with `target` open shards splitting the hash space evenly.
 * First every boundary of the even layout that falls inside an open shard splits it; then the
 * pieces of each even shard are merged left to right. So every new shard has at most two
 * parents (ParentShardId, AdjacentParentShardId) that together cover its range, and consumers
 * following that lineage keep each hash key's order; shards made and merged again within the
 * change are created and closed at the same instant, empty (AWS's "short-lived shards"). Rules:
 * ACTIVE (else ResourceInUseException), target within [ceil(open/2), 2*open]
 * (ValidationException) and the shard limit (LimitExceededException). ACTIVE -> UPDATING. */
int sl_ds_stream_update_shard_count(sl_ds_model *m, sl_ds_stream *s, uint32_t target,
                                    int64_t now_ms, sl_ds_end_offset_fn eo, void *arg,
                                    sl_ds_err *e);
/* Whether shard c was opened when shard p was closed and took over part of its hash range: c
 * names p as parent or adjacent parent (or, for shards an older UpdateShardCount made over more
 * than two parents, overlaps p and was opened when p closed). */
int sl_ds_stream_is_child(const sl_ds_stream *s, const sl_ds_shard *p, const sl_ds_shard *c);

/* Retention (24..8760 h); texts of spec §3.6. increase=1 for IncreaseStreamRetentionPeriod. */
int sl_ds_stream_set_retention(const sl_ds_model *m, sl_ds_stream *s, long hours, int increase,
                               sl_ds_err *e);

/* Tags. add: keys validated (characters, "aws:" prefix) and the per-stream cap enforced before
 * anything changes. remove: missing keys are ignored. */
int sl_ds_stream_add_tags(const sl_ds_model *m, sl_ds_stream *s, const char *const *keys,
                          const char *const *values, size_t n, sl_ds_err *e);
void sl_ds_stream_remove_tags(sl_ds_stream *s, const char *const *keys, size_t n);

/* Consumers. add: ResourceInUseException for a duplicate name, LimitExceededException past the
 * per-stream cap or with too many in CREATING; *out borrowed (valid until the array changes).
 * find: NULL when missing. remove: no-op when missing. */
int sl_ds_stream_add_consumer(const sl_ds_model *m, sl_ds_stream *s, const char *name,
                              int64_t now_ms, sl_ds_consumer **out, sl_ds_err *e);
sl_ds_consumer *sl_ds_stream_find_consumer(sl_ds_stream *s, const char *name);
void sl_ds_stream_remove_consumer(sl_ds_stream *s, const char *name);

/* Enhanced monitoring: metrics is a bit set; returns the new set. */
uint32_t sl_ds_stream_metrics_change(sl_ds_stream *s, uint32_t metrics, int enable);
/* Bit of a metric name ("ALL" = every bit); 0 when unknown. */
uint32_t sl_ds_metric_bit(const char *name);

/* JSON snapshot of the whole stream (the catalog row) and back. to_json returns a new object
 * (cJSON_Delete it) or NULL on ENOMEM; from_json returns a new stream or NULL when malformed. */
cJSON *sl_ds_stream_to_json(const sl_ds_stream *s);
sl_ds_stream *sl_ds_stream_from_json(const cJSON *j);
void sl_ds_stream_free(sl_ds_stream *s);

#endif
