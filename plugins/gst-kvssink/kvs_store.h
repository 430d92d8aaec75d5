/* kvssink's bounded content store: MKV fragments waiting for their PERSISTED acknowledgement.
 *
 * The streaming thread (render) appends packaged MKV bytes; the uploader thread reads them out
 * through a cursor and feeds acknowledgements back. Every fragment (one Cluster) stays here until
 * the gateway says it is durable, so a new PutMedia session can resend it whole, byte for byte,
 * after a connection loss. Memory is bounded by a byte limit and an age limit (both measured
 * on the fragments held); when either is exceeded the oldest fragments are dropped (never the
 * open one being written) and the drop is counted so the element can warn. Nothing here
 * blocks except sl_kvs_store_wait_drained / sl_kvs_store_wait_data, and nothing does I/O.
 *
 * Ownership: the store owns every fragment and its bytes. Stream headers (EBML + Segment +
 * Info + Tracks) are refcounted blobs shared by the fragments cut under them; a header change
 * (new caps) starts a new generation, and the uploader opens a new PutMedia session for it.
 *
 * Threads: every function takes the store's mutex; any thread may call any function. */
#ifndef SL_KVS_STORE_H
#define SL_KVS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"

typedef struct sl_kvs_header {
    int refs; /* guarded by the store mutex */
    uint64_t generation;
    sl_buf bytes;
} sl_kvs_header;

typedef struct sl_kvs_store sl_kvs_store;

/* Where an uploader is in the stream: the fragment it is sending and how far. */
typedef struct sl_kvs_cursor {
    uint64_t frag_id;     /* id of the fragment being sent; 0 = not started */
    size_t offset;        /* bytes of that fragment already handed out */
    uint64_t generation;  /* header generation of the session */
    uint64_t first_id;    /* first fragment of the session (acks match from here) */
    int header_pending;   /* the session header still has to be sent */
    size_t header_offset; /* bytes of the header handed out */
} sl_kvs_cursor;

typedef enum {
    SL_KVS_READ_DATA = 0,   /* bytes copied */
    SL_KVS_READ_WAIT,       /* nothing new yet */
    SL_KVS_READ_END,        /* end of stream: every fragment has been handed out */
    SL_KVS_READ_NEW_HEADER, /* the next fragment needs another stream header: end session */
    SL_KVS_READ_LOST,       /* the fragment being sent was dropped (store full): abort */
} sl_kvs_read_status;

typedef enum {
    SL_KVS_ACK_BUFFERING = 0,
    SL_KVS_ACK_RECEIVED,
    SL_KVS_ACK_PERSISTED,
    SL_KVS_ACK_ERROR, /* non-retriable: the fragment is given up */
} sl_kvs_ack_kind;

typedef struct sl_kvs_stats {
    uint64_t fragments_in, frames_in, bytes_in;
    uint64_t fragments_done; /* persisted (or received / sent, per the ack mode) */
    uint64_t fragments_dropped, bytes_dropped, fragments_failed;
    uint64_t bytes_held, fragments_held;
    /* capture (append) to PERSISTED, per fragment: its last frame and its first frame */
    int64_t lat_last_ns_sum, lat_last_ns_max, lat_first_ns_sum, lat_first_ns_max;
    uint64_t lat_count;
    int64_t lat_last_ns; /* most recent */
} sl_kvs_stats;

/* limit_bytes: storage bound (0 = unlimited); max_age_ms: fragments older (by timecode) than
 * the newest by more than this are dropped (0 = no age bound). NULL when out of memory. */
sl_kvs_store *sl_kvs_store_new(uint64_t limit_bytes, uint64_t max_age_ms);
void sl_kvs_store_free(sl_kvs_store *st);

/* Takes a new header generation: bytes are copied. Fragments begun afterwards use it.
 * 0 or SL_ENOMEM. */
int sl_kvs_store_set_header(sl_kvs_store *st, const void *p, size_t n);

/* Closes the open fragment (if any) and opens a new one with cluster timecode tc whose first
 * bytes are p/n; now_ns is a monotonic clock reading (frame arrival, for latency figures).
 * *dropped_out (may be NULL) receives the number of fragments dropped to make room.
 * SL_EINVAL without a header, SL_ENOMEM. */
int sl_kvs_store_begin(sl_kvs_store *st, uint64_t tc, const void *p, size_t n, int64_t now_ns,
                       uint64_t *dropped_out);
/* Appends one frame's bytes to the open fragment. SL_EINVAL if none is open. */
int sl_kvs_store_append(sl_kvs_store *st, const void *p, size_t n, int64_t now_ns,
                        uint64_t *dropped_out);
/* Closes the open fragment and marks the end of the stream. */
void sl_kvs_store_end(sl_kvs_store *st);
/* Clears everything (state change to READY); wakes waiters. */
void sl_kvs_store_reset(sl_kvs_store *st);

/* Starts a session at the oldest fragment held: the cursor points at it and its header is
 * pending. Returns 1 if there is a fragment to send, 0 if the store is empty. */
int sl_kvs_store_session_start(sl_kvs_store *st, sl_kvs_cursor *c);
/* Copies up to max bytes at the cursor into out (header first, then fragment bytes) and
 * advances it. *n_out is the count copied (> 0 only with SL_KVS_READ_DATA). */
sl_kvs_read_status sl_kvs_store_read(sl_kvs_store *st, sl_kvs_cursor *c, void *out, size_t max,
                                     size_t *n_out);
/* Applies an ack for cluster timecode tc in the session started at c->first_id. A PERSISTED
 * (or, with done_on_received, a RECEIVED) ack, and an ERROR, remove the fragment; now_ns feeds
 * the latency figures. Returns 1 if a fragment matched, 0 otherwise. */
int sl_kvs_store_ack(sl_kvs_store *st, const sl_kvs_cursor *c, uint64_t tc, sl_kvs_ack_kind kind,
                     int done_on_received, int64_t now_ns);
/* Without acknowledgements: removes every complete fragment the cursor has passed. */
void sl_kvs_store_release_sent(sl_kvs_store *st, const sl_kvs_cursor *c);

/* Blocks until the store holds nothing (every fragment acknowledged), timeout_ms passes, or
 * sl_kvs_store_cancel is called. Returns 1 when drained, 0 otherwise. */
int sl_kvs_store_wait_drained(sl_kvs_store *st, int64_t timeout_ms);
/* Wakes and fails every current and future wait until sl_kvs_store_reset. */
void sl_kvs_store_cancel(sl_kvs_store *st);
/* Blocks until there is something for an uploader to do (a fragment held, end of stream,
 * cancel) or timeout_ms passes. Returns 1 if there is. */
int sl_kvs_store_wait_data(sl_kvs_store *st, int64_t timeout_ms);
/* 1 once sl_kvs_store_end was called and nothing is held. */
int sl_kvs_store_finished(sl_kvs_store *st);
int sl_kvs_store_ended(sl_kvs_store *st);

void sl_kvs_store_stats(sl_kvs_store *st, sl_kvs_stats *out);
/* Appends what a session started now would send before the end of the stream: the oldest
 * fragment's header, then every fragment held, in order (for tests and debugging). 0 or
 * SL_ENOMEM. */
int sl_kvs_store_dump(sl_kvs_store *st, sl_buf *out);

#endif
