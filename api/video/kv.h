/* Shared state of the Kinesis Video Streams service (api/video/kv_*.c): streams, their fragment
 * indexes, the durable catalog, the read worker and the live-tail wake-up. Private to api/video.
 *
 * Model. One kv_stream per (region, name), refcounted: the service table holds one reference,
 * every PutMedia session and GetMedia reader one more, so a stream deleted under a live
 * connection stays valid (marked deleted) until that connection lets go. Each stream keeps its
 * whole fragment index in memory (kv_frag, ~120 bytes each, ordered by fragment number), loaded
 * from the catalog at start-up, so ListFragments, GetMedia start selectors and the tail never
 * touch SQLite on the loop thread.
 *
 * Durable layout (component "kinesis_video", version 1 of the catalog):
 *     kv_streams(region TEXT, name TEXT, doc TEXT, PRIMARY KEY(region, name))
 *         doc = JSON of the stream (kv_stream_to_json), rewritten whole on every change
 *     kv_headers(skey TEXT, id INTEGER, bytes BLOB, PRIMARY KEY(skey, id))
 *         the MKV stream header (EBML header + Segment + Info + Tracks) of PutMedia sessions;
 *         a session whose header equals the stream's previous one reuses its id
 *     kv_fragments(skey TEXT, seq INTEGER, producer_ms, server_ms, duration_ms, size,
 *                  header_id, log_offset, frames, PRIMARY KEY(skey, seq))
 * skey is the stream's storage key "<creation ms>.<8 hex>"; fragment bytes (the Cluster exactly
 * as received) are one entry each of the ONE log "video/fragments" that every stream shares,
 * written by the group-commit writer, each preceded by a small record entry that carries its
 * index row (kv_index.c). The log is the source of truth: PERSISTED needs only the log's fsync,
 * rows reach kv_fragments in periodic flushes, and start-up re-indexes the records past the
 * index's position (kv_index_pos), so a lost or rolled-back catalog WAL loses no fragment.
 * One shared log, not one per stream, because the writer fdatasyncs every log a batch touches:
 * with a log per stream, 100 cameras cost 100 fsyncs per batch (measured: PERSISTED p50 1.6 s
 * at 100 streams here), with one log a batch costs one. The price: a segment is unlinked only
 * when no stream still indexes a fragment in it, so a long-retention stream keeps shared
 * segments alive. A row is never written before its bytes are durable.
 *
 * Fragment numbers: seq = max(previous + 1, server ms × 1000), printed as 47 zero-padded
 * decimal digits (AWS's width), so they increase in ingestion order across restarts and never
 * repeat while the clock does not run backwards by more than the restart gap.
 *
 * Retention 0 streams are live only: fragments are not written anywhere; the last five minutes
 * stay in memory (kv_frag.blob) for GetMedia readers and nothing is PERSISTED.
 *
 * Threads: everything here runs on the loop thread, except the read worker (kv_read_submit)
 * and the SQL steps that run on the storage writer thread. */
#ifndef SL_KV_H
#define SL_KV_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../api_int.h"
#include "../kinesis/ds_throttle.h" /* the token bucket Data Streams limits use */
#include "sluice/storage.h"

#define KV_NUMBER_LEN      47
#define KV_LIVE_KEEP_MS    (5 * 60 * 1000) /* retention 0: in-memory window */
#define KV_MAX_RETENTION_H 87600

/* Immutable refcounted bytes (a Cluster, or a stream header); atomic since blobs cross to the
 * read worker. */
typedef struct kv_blob {
    atomic_int refs;
    size_t len;
    uint8_t data[];
} kv_blob;

kv_blob *kv_blob_new(const void *p, size_t len); /* refs = 1; NULL on ENOMEM */
kv_blob *kv_blob_ref(kv_blob *b);
void kv_blob_unref(kv_blob *b);

typedef struct kv_frag {
    uint64_t seq;
    int64_t producer_ms, server_ms;
    uint64_t duration_ms, size, log_offset;
    uint32_t header_id, frames;
    kv_blob *blob; /* owned ref or NULL: bytes in memory (live-only, or hot for tailing readers) */
    kv_blob *meta; /* owned ref or NULL: the fragment's metadata tags (kv_meta format) */
} kv_frag;

/* Fragment metadata (the producer's Tags before a Cluster that are not AWS_KINESISVIDEO_*), as
 * stored in log records, the catalog (kv_fragments.meta) and kv_frag.meta: one item per tag,
 *     2 bytes name length (LE), name, 2 bytes value length (LE), value
 * at most KV_META_TAGS items, names <= 128 and values <= 256 bytes. */
#define KV_META_TAGS 10
#define KV_META_MAX  (KV_META_TAGS * (4 + 128 + 256))
/* Checks the format; 0 or SL_ECORRUPT. */
int kv_meta_check(const uint8_t *p, size_t len);
/* Calls fn for each tag (name/value NUL-terminated, valid during the call) in order. */
void kv_meta_foreach(const kv_blob *meta,
                     void (*fn)(void *arg, const char *name, const char *value), void *arg);
/* Builds a metadata blob from n tags, leaving out AWS_KINESISVIDEO_* names; *out NULL when none
 * is left. 0, SL_ETOOBIG (over the limits above) or SL_ENOMEM. */
int kv_meta_from_tags(const char *const *names, const char *const *values, size_t n, kv_blob **out);

typedef struct kv_header {
    uint32_t id;
    kv_blob *bytes;
} kv_header;

typedef struct kv_put kv_put;       /* kv_putmedia.c */
typedef struct kv_reader kv_reader; /* kv_getmedia.c */

/* Stream status (kv_control.c): CreateStream starts CREATING, UpdateStream and
 * UpdateDataRetention pass through UPDATING; each becomes ACTIVE after a short delay
 * (SLUICE_VIDEO_STATUS_DELAY_MS; default 0 = at once, see kv_control.c), as AWS's
 * asynchronous control plane does.
 * PutMedia needs ACTIVE. Streams loaded at start-up are ACTIVE. */
enum { KV_ACTIVE = 0, KV_CREATING, KV_UPDATING };
const char *kv_status_name(int status);

/* PutMedia limits of AWS (spec 4.6), enforced only when the throughput-limit switch is on
 * (environment SLUICE_KINESIS_SHARD_LIMITS = 1 / on / aws, the one Data Streams reads). */
#define KV_PUTMEDIA_PER_S      5.0
#define KV_FRAGMENTS_PER_S     5.0
#define KV_SESSION_BYTES_PER_S 12.5e6
#define KV_MAX_CONNECTION_MS   (45ll * 60 * 1000)
int kv_limits_on(void);

typedef struct kv_stream {
    int refs;
    int deleted;
    int status;             /* KV_ACTIVE, KV_CREATING, KV_UPDATING */
    void *status_timer;     /* pending move to ACTIVE (holds a reference) */
    sl_ds_bucket put_calls; /* PutMedia calls/s (limits on) */
    char region[32];
    char name[257];
    char skey[40];
    char arn[1100];
    char device_name[129];
    char media_type[129];
    char kms_key_id[2049];
    char version[21];
    int64_t created_ms;
    int64_t retention_hours;
    cJSON *tags; /* object name -> string */
    sl_log *log; /* the shared fragment log once used; NULL before (and for retention 0) */

    kv_frag *frags; /* ascending seq */
    size_t nfrags, cap;
    kv_header *headers;
    size_t nheaders;
    uint32_t next_header_id;
    uint64_t last_seq;

    kv_put *producer;   /* the PutMedia session that currently owns ingest (newest wins) */
    kv_reader *waiters; /* GetMedia readers waiting for the next fragment */
    int nreaders;       /* GetMedia readers attached (keeps hot blobs) */
} kv_stream;

/* ---- service (kv_service.c) ---- */

/* Loads the catalog on first use; on failure answers InternalFailure and returns non-zero. */
int kv_ready_or_reply(sl_api_call *call);
/* The same for streamed handlers that have no sl_api_call. Returns 0 or SL_E*. */
int kv_ready(void);
sl_store *kv_store(void);
/* Loads the catalog now (what kv_ready does on first use): for sl_api_init, so ListStreams and
 * readers see the streams right after a restart. Blocking, start-up only. Returns 0 or SL_E*. */
int sl_video_service_init(void);
/* Stops the read worker and frees the stream table; streams still referenced by live
 * connections are freed when those let go. Call on the loop thread after the server stopped and
 * before sl_store_close (sl_api_shutdown should call it; api.c is not part of api/video). */
void sl_video_service_shutdown(void);

/* The stream table (also feeds the ListStreams registry). add takes the table's reference
 * (refs = 1); remove marks the stream deleted, closes its producer, wakes its readers and
 * drops that reference. */
int kv_table_add(kv_stream *s);
void kv_table_update(const kv_stream *s);
void kv_table_remove(kv_stream *s);
/* 20 random alphanumerics (AWS's Version form). */
void kv_new_version(char out[21]);

kv_stream *kv_find(const char *region, const char *name); /* borrowed; NULL if absent */
kv_stream *kv_find_arn(const char *arn);
void kv_stream_ref(kv_stream *s);
void kv_stream_unref(kv_stream *s);

/* The stream named by StreamName/StreamARN in call input (exactly one expected). On failure
 * answers (InvalidArgumentException / ResourceNotFoundException) and returns NULL. */
kv_stream *kv_stream_or_reply(sl_api_call *call);

/* Error reply in the REST-JSON shape of call's service. */
void kv_reply_error(sl_api_call *call, const char *type, const char *msg);

void kv_format_number(uint64_t seq, char out[KV_NUMBER_LEN + 1]);
/* Parses a 1..47 digit number; returns 0 or SL_EINVAL. */
int kv_parse_number(const char *s, uint64_t *seq);
uint64_t kv_next_seq(kv_stream *s, int64_t now_ms);

/* Index of the first fragment with seq >= seq (nfrags when none). */
size_t kv_frag_lower_bound(const kv_stream *s, uint64_t seq);
/* Appends f to s's index (f.seq must exceed the last) and wakes waiting readers.
 * Ownership of f.blob moves to the index. Returns 0 or SL_ENOMEM. */
int kv_frag_add(kv_stream *s, const kv_frag *f);
const kv_header *kv_header_find(const kv_stream *s, uint32_t id);
/* Id of a header equal to bytes, registering (and persisting) a new one when needed.
 * Returns 0 or SL_E*. */
int kv_header_intern(kv_stream *s, const uint8_t *bytes, size_t len, uint32_t *id);

/* Points s at the shared fragment log (opened on first use). Returns 0 or SL_E*. */
int kv_stream_log(kv_stream *s);

/* SQL steps and persistence. Writes the stream's doc (or deletes the stream's rows when
 * deleted). done(arg, rc) runs on the loop thread after the commit; may be NULL. */
int kv_persist(kv_stream *s, void (*done)(void *arg, int rc), void *arg);
/* The SQL step inserting fragment f of s (writer thread). arg = kv_frag_row. */
typedef struct kv_frag_row {
    char skey[40];
    kv_frag f;
} kv_frag_row;
int kv_sql_insert_frag(sqlite3 *db, const kv_frag_row *row);
/* n rows with one prepared statement (index flushes). */
int kv_sql_insert_frags(sqlite3 *db, const kv_frag_row *rows, size_t n);

int kv_sql_insert_header(sqlite3 *db, const char *skey, uint32_t id, const kv_blob *bytes);

/* ---- log records and the derived index (kv_index.c) ---- */
/* Encodes the log record of fragment f / of a stream header (formats at the top of kv_index.c)
 * into a malloc'ed buffer (*out, free it). 0, SL_EINVAL or SL_ENOMEM. */
int kv_record_frag(const char *skey, const kv_frag *f, uint8_t **out, size_t *len);
int kv_record_header(const char *skey, uint32_t id, const kv_blob *bytes, uint8_t **out,
                     size_t *len);
/* Decodes them; f->meta / *bytes are new references. 0, SL_ECORRUPT or SL_ENOMEM. */
int kv_record_parse_frag(const uint8_t *p, size_t len, char skey[40], kv_frag *f);
int kv_record_parse_header(const uint8_t *p, size_t len, char skey[40], uint32_t *id,
                           kv_blob **bytes);
/* Loop thread: a PERSISTED fragment's row (f.log_offset = its Cluster entry) waits for the next
 * index flush; f.meta is referenced, f.blob ignored. 0 or SL_ENOMEM. */
int kv_index_add(const char *skey, const kv_frag *f);
/* Drops pending rows of a deleted stream. */
void kv_index_forget(const char *skey);
/* Queues the pending rows as one SQL step (wait: block for queue room; shutdown only). */
void kv_index_flush(int wait);
/* Flushes and forgets everything (service shutdown, before the store closes). */
void kv_index_shutdown(void);
/* Writer thread, inside the catalog load: re-indexes the records found in `log` after the
 * index's position (in memory in streams[] and in the catalog). *recovered = fragments added.
 * 0 or SL_E*. */
int kv_index_recover(sqlite3 *db, sl_log *log, kv_stream **streams, size_t nstreams,
                     size_t *recovered);

/* Runs work(arg) on the read worker, then done(arg) on the loop thread. Returns 0 or SL_E*. */
int kv_read_submit(void (*work)(void *arg), void (*done)(void *arg), void *arg);

/* Readers waiting for the next fragment of s (kv_getmedia.c): woken by kv_frag_add. */
void kv_reader_wake_all(kv_stream *s);
/* PutMedia sessions: closes s's producer (stream deleted). */
void kv_put_stream_deleted(kv_stream *s);

/* Applies retention (drops fragments older than the stream's retention); loop thread. */
void kv_retention_apply(kv_stream *s, int64_t now_ms);

#endif
