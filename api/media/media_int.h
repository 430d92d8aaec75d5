/* Declarations private to api/media: archived-media playback (HLS, DASH, GetClip, GetImages,
 * the /viewer page).
 *
 * Pieces and who calls whom:
 *   route.c    sl_media_route(): GET/OPTIONS of /hls/v1/..., /dash/v1/..., /viewer... (called
 *              by api/route.c before its plain 404)
 *   session.c  session tokens: what a session may read, signed with HMAC-SHA256, expiring
 *   store.c    the only file that reads api/video's fragment index and logs (kv.h)
 *   worker.c   a small thread pool for remuxing/decoding; completions on the loop thread
 *   cache.c    packaged bytes by key, LRU by bytes, one packaging per key at a time
 *   hls.c dash.c clip.c images.c viewer.c   the operations and resources
 * Threads: everything runs on the loop thread except work functions given to md_work_submit. */
#ifndef SL_MEDIA_INT_H
#define SL_MEDIA_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "../api_int.h"
#include "pkg.h"
#include "sluice/http.h"
#include "sluice/wire.h"

/* ---- route.c ---- */

/* Fills *out for the playback resources and returns 0; SL_ENOTFOUND when req is not one. */
int sl_media_route(const sl_http_request *req, sl_route *out);

/* ---- worker.c ---- */

/* Runs work(arg) on a packaging worker, then done(arg) on the loop thread. Starts the pool
 * (SLUICE_MEDIA_WORKERS threads, default 2) on first use. Returns 0, SL_ENOMEM or SL_ECLOSED. */
int md_work_submit(void (*work)(void *arg), void (*done)(void *arg), void *arg);
/* Loop thread, after the server stopped: finishes queued jobs and joins the workers; later
 * submits answer SL_ECLOSED. */
void sl_media_shutdown(void);

/* ---- blobs and cache.c ---- */

typedef struct md_blob {
    atomic_int refs;
    size_t len;
    char ctype[32];
    uint8_t data[];
} md_blob;

md_blob *md_blob_new(const void *p, size_t len, const char *ctype); /* refs = 1 */
md_blob *md_blob_ref(md_blob *b);
void md_blob_unref(md_blob *b);

/* Called with the cached bytes (borrowed: ref them to keep) or rc < 0. Loop thread. */
typedef void (*md_cache_cb)(void *arg, md_blob *b, int rc, const sl_diag *d);
/* Produces the bytes for a key on a worker: fills *out (or returns an SL_E* and d). */
typedef int (*md_make_fn)(void *make_arg, md_blob **out, sl_diag *d);

/* Looks key up; on a hit calls cb at once. On a miss runs make(make_arg) on a worker (once per
 * key: concurrent callers wait for the same result) and calls cb when done; free_make frees
 * make_arg on the loop thread afterwards. Errors are not cached. Returns 0, or SL_E* when
 * nothing will be called (make_arg is freed then too). */
int md_cache_get(const char *key, md_make_fn make, void *make_arg, void (*free_make)(void *),
                 md_cache_cb cb, void *arg);
/* Counters for tests and /metrics-like output. */
void md_cache_stats(uint64_t *hits, uint64_t *misses, uint64_t *bytes);

/* ---- session.c ---- */

typedef enum { MD_HLS = 1, MD_DASH = 2 } md_proto;
typedef enum { MD_LIVE = 1, MD_LIVE_REPLAY = 2, MD_ON_DEMAND = 3 } md_mode;

typedef struct md_session {
    md_proto proto;
    md_mode mode;
    int ts_container;         /* HLS: MPEG_TS (else FRAGMENTED_MP4) */
    int server_ts;            /* selector SERVER_TIMESTAMP (else PRODUCER_TIMESTAMP) */
    int discontinuity;        /* 0 NEVER, 1 ALWAYS, 2 ON_DISCONTINUITY */
    int display_ts;           /* DisplayFragmentTimestamp ALWAYS */
    int display_fn;           /* DASH DisplayFragmentNumber ALWAYS */
    int64_t start_ms, end_ms; /* selector range; end -1: open (LIVE_REPLAY without End) */
    int64_t created_ms, expires_ms;
    uint32_t max_results;
    uint64_t anchor_seq; /* first fragment listed at creation: media sequence 0 */
    char region[32];
    char stream[257];
    char skey[40]; /* the stream's storage key: a re-created stream does not match */
} md_session;

/* Token text (base64url, ends with '~') into out. Returns 0 or SL_ETOOBIG. */
int md_session_encode(const md_session *s, char *out, size_t cap);
/* Checks the signature and expiry at now_ms. Returns 0, SL_EAUTH_SIGNATURE (malformed or
 * tampered) or SL_EAUTH_EXPIRED. */
int md_session_decode(const char *token, size_t len, int64_t now_ms, md_session *s);

/* ---- store.c ---- */

typedef struct md_frag {
    uint64_t seq;
    int64_t producer_ms, server_ms;
    uint64_t duration_ms, size;
    uint32_t header_id;
} md_frag;

typedef struct md_stream md_stream; /* a referenced video stream */

/* The stream named in call input (StreamName | StreamARN), referenced; on failure answers
 * (IAE / RNF / NoDataRetention when need_retention and retention is 0) and returns NULL. */
md_stream *md_stream_or_reply(sl_api_call *call, int need_retention);
/* The stream of a session (same region, name and storage key), referenced; NULL if gone. */
md_stream *md_stream_for_session(const md_session *s);
void md_stream_unref(md_stream *st);
const char *md_stream_name(const md_stream *st);
const char *md_stream_region(const md_stream *st);
const char *md_stream_skey(const md_stream *st);
/* Fragment index: count, and the i-th (ascending fragment number). */
size_t md_stream_nfrags(const md_stream *st);
void md_stream_frag(const md_stream *st, size_t i, md_frag *out);
/* Index of the fragment numbered seq, or SIZE_MAX. */
size_t md_stream_find_frag(const md_stream *st, uint64_t seq);
/* Whether fragments are persisted (retention > 0). */
int md_stream_persisted(const md_stream *st);

/* The bytes of fragments [from, to) of st as one MKV (their header + clusters), read on a
 * worker. Build on the loop thread, read on a worker, free on the loop thread. Fragments after
 * a header change are left out (to is lowered). */
typedef struct md_src md_src;
md_src *md_src_new(md_stream *st, size_t from, size_t to);
int md_src_read(md_src *src, sl_buf *mkv, sl_diag *d); /* worker */
void md_src_free(md_src *src);
/* As md_src_new for the fragments idx[0..n) in that order (any fragments of st, e.g. a time
 * ordered selection), under idx[0]'s header; stops before the first whose header has other
 * Tracks (codec, CodecPrivate, track list) than idx[0]'s. NULL on no memory, n == 0 or a bad
 * index. md_src_count tells how many were taken. */
md_src *md_src_new_list(md_stream *st, const size_t *idx, size_t n);
size_t md_src_count(const md_src *src);
/* Just the header bytes of header id of st, as an md_src (for init segments and probing). */
md_src *md_src_header(md_stream *st, uint32_t header_id);

/* Fragment number text: 47 digits. */
void md_format_number(uint64_t seq, char out[48]);
int md_parse_number(const char *s, size_t len, uint64_t *seq);

/* ---- shared by the operations (hls.c) ---- */

/* Value of query parameter name (percent-decoded into out). Returns 1 if present. */
int md_query_get(sl_slice query, const char *name, char *out, size_t cap);
/* CORS and cache headers every session resource sends. */
extern const sl_http_header md_cors_headers[3];
/* A REST-JSON error of the archived-media service on ex. */
void md_reply_error(sl_exchange *ex, const char *type, const char *msg);
/* The archived-media service definition (for errors). */
const sl_service_def *md_service(void);
/* Time from the model: REST-JSON timestamps are numbers (epoch s) or ISO-8601 strings. */
int md_json_time_ms(const cJSON *v, int64_t *ms);

/* ---- selection and resources shared by HLS and DASH (hls.c) ---- */

int64_t md_now_ms(void);
/* A fragment's time on the session's selector axis (producer or server). */
int64_t md_frag_ts(const md_session *s, const md_frag *f);

/* The session's candidates c[0..nc) (fragment indexes, playback order); [w0, w1) is what the
 * playlist/manifest lists now; released <= nc; ended: no more will come (ENDLIST). */
typedef struct md_sel {
    size_t *c;
    size_t nc, released, w0, w1;
    int ended;
} md_sel;

int md_select(const md_session *s, md_stream *st, int64_t now_ms, md_sel *sel);
void md_sel_free(md_sel *sel);
int md_sel_discontinuous(const md_session *s, md_stream *st, const md_sel *sel, size_t i);
int md_session_has_frag(const md_session *s, md_stream *st, size_t idx);
uint64_t md_sel_bandwidth(md_stream *st, const md_sel *sel);

/* Packaged bytes of fragments [from, to) of st (from == to: of stream header header_id), cached
 * under kind + track; probe = 1 yields an sl_pkg_info instead. cb as md_cache_get. */
int md_get_packaged(md_stream *st, const char *kind, size_t from, size_t to, uint32_t header_id,
                    const sl_pkg_opts *o, int probe, const char *ctype, md_cache_cb cb, void *arg);
int md_probe_session(md_stream *st, const md_sel *sel, md_cache_cb cb, void *arg);
/* AWS error type, message and HTTP status of an SL_E* from packaging. */
int md_error_of(int rc, const char **type, const char **msg);

/* Session resource plumbing: token -> session + stream (answers 403/404 itself and returns -1),
 * replies with CORS headers. */
int md_session_from_request(sl_exchange *ex, const sl_http_request *req, md_session *s,
                            md_stream **st);
void md_respond_text(sl_exchange *ex, const char *ctype, const sl_buf *b);
void md_respond_error(sl_exchange *ex, int status, const char *type, const char *msg);
void md_serve_init(sl_exchange *ex, const sl_http_request *req, const md_session *s, md_stream *st);
void md_serve_fragment(sl_exchange *ex, const sl_http_request *req, const md_session *s,
                       md_stream *st, int ts);
void md_create_session(sl_api_call *call, md_proto proto);

/* Route handlers (route.c dispatches to them). */
void md_handle_hls(sl_exchange *ex, const sl_http_request *req, void *ud);
void md_handle_dash(sl_exchange *ex, const sl_http_request *req, void *ud);
void md_handle_viewer(sl_exchange *ex, const sl_http_request *req, void *ud);

#endif
