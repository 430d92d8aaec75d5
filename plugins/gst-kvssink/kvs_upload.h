/* kvssink's uploader: one thread that talks to the gateway, so render() never touches the
 * network.
 *
 * Start-up like the AWS producer: DescribeStream, CreateStream when missing (with retention,
 * device name and media type), DescribeStream until ACTIVE, TagStream when tags are set,
 * GetDataEndpoint(PUT_MEDIA); then PutMedia sessions that stream the content store's bytes as a
 * chunked HTTP/1.1 body while reading the ACK events of the same exchange. Every request is
 * SigV4-signed with common/sigv4 exactly as the AWS producer signs it (captures/).
 *
 * Failure handling: a transport error, a non-200 answer, a retriable ERROR ack, an ack silence
 * longer than connection-staleness, or a dropped fragment under the cursor ends the session;
 * the uploader backs off (200 ms doubling to 5 s, reset by progress), redoes the control-plane
 * calls and opens a new session that resends from the first fragment not yet PERSISTED (the
 * gateway acknowledges a resent fragment without storing it twice). HTTP 401/403 and a DELETING
 * stream are fatal: reported once through on_fatal, and the thread ends.
 *
 * Threads: sl_kvs_upload_start/stop from the element's state changes; sl_kvs_upload_wake from
 * any thread (the streaming thread after appending); callbacks run on the uploader thread. */
#ifndef SL_KVS_UPLOAD_H
#define SL_KVS_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "kvs_creds.h"
#include "kvs_store.h"

#define SL_KVS_MAX_TAGS 50

typedef struct sl_kvs_upload_config {
    char control_url[1024]; /* no trailing '/' */
    char region[64];
    char stream_name[257];
    sl_kvs_creds creds;
    char user_agent[256];
    char device_name[129];
    char media_type[129];
    int allow_create;
    unsigned retention_hours;
    size_t ntags;
    char tag_keys[SL_KVS_MAX_TAGS][129];
    char tag_values[SL_KVS_MAX_TAGS][257];
    int fragment_acks;
    int absolute;            /* x-amzn-fragment-timecode-type ABSOLUTE (else RELATIVE) */
    int64_t stream_start_ms; /* RELATIVE: x-amzn-producer-start-timestamp for every session */
    unsigned staleness_s;    /* no ack for this long while sending: reconnect */
    unsigned connect_timeout_s, completion_timeout_s;
    int restart_on_error; /* reconnect after retriable failures (else fatal) */
    char ca_path[1024];   /* KVSSINK_CA_CERT_PATH: a .pem file or a directory; "" = system */
} sl_kvs_upload_config;

typedef struct sl_kvs_upload_events {
    void *ud;
    void (*on_fatal)(void *ud, const char *msg);   /* once; the thread then ends */
    void (*on_warning)(void *ud, const char *msg); /* reconnects, drops, ... */
    void (*on_error_ack)(void *ud, int error_id, const char *code, uint64_t tc);
    void (*on_progress)(void *ud); /* after acks; for statistics */
} sl_kvs_upload_events;

typedef struct sl_kvs_upload sl_kvs_upload;

typedef struct sl_kvs_upload_stats {
    uint64_t sessions, reconnects, bytes_sent, acks;
    int64_t cpu_ns; /* uploader thread CPU time */
    int connected;
} sl_kvs_upload_stats;

/* Starts the thread. cfg is copied; st and ev->ud are borrowed and must outlive the uploader.
 * NULL on failure (out of memory, curl or thread creation failed). */
sl_kvs_upload *sl_kvs_upload_start(const sl_kvs_upload_config *cfg, sl_kvs_store *st,
                                   const sl_kvs_upload_events *ev);
/* Wakes the thread: new bytes in the store (any thread). */
void sl_kvs_upload_wake(sl_kvs_upload *up);
/* Asks the thread to end, wakes it, joins it and frees everything (secrets wiped). NULL ok. */
void sl_kvs_upload_stop(sl_kvs_upload *up);
void sl_kvs_upload_get_stats(sl_kvs_upload *up, sl_kvs_upload_stats *out);

/* Parses one ACK event line. Returns 0 and fills the outputs (kind: "BUFFERING", ...; tc and
 * error_id 0 when absent), or SL_EPARSE. */
int sl_kvs_parse_ack(const char *line, size_t n, char kind[16], uint64_t *tc, int *error_id);
/* 1 when the AWS producer would reconnect and retry after an ERROR ack with this id. */
int sl_kvs_error_retriable(int error_id);

#endif
