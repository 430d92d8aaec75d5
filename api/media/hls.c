/* HLS playback: GetHLSStreamingSessionURL and the session resources under /hls/v1/, plus the
 * parts DASH shares (session creation, fragment selection, packaged-resource serving).
 *
 * Session creation (sl_media_get_hls_streaming_session_url): validates the request the way
 * AWS does (shared/spec/video-streams.md §5.3), selects the session's fragments now (an empty
 * selection is ResourceNotFoundException), probes the stream header of the newest selected
 * fragment on a worker (cached per header) for the codec gate (Unsupported / Missing / Invalid
 * CodecPrivate), and answers <base>/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=<token>.
 * The token (session.c) holds everything the resources need; no session state is kept here.
 *
 * Selection (select_frags). C = the session's candidates in playback order:
 *   LIVE         fragments numbered >= the anchor (the oldest of the newest N at creation), in
 *                ingestion order; every candidate is released; the window is the newest N.
 *   LIVE_REPLAY  fragments whose selector time is >= Start (and <= End if given), by time; the
 *                first N are released at creation and one more each time the wall clock has
 *                advanced by the time between fragments; the window is the newest N released.
 *   ON_DEMAND    fragments in [Start, End], by time; the window is the first N; #EXT-X-ENDLIST.
 * A fragment's media sequence number is its position in C, so a sliding window keeps numbers.
 * LIVE playlists are built from the in-memory index at request time: a fragment appears in the
 * very next playlist request after it is PERSISTED.
 *
 * Resources (packaged bytes come from cache.c, made on a worker by pkg.c):
 *   getHLSMasterPlaylist.m3u8  codecs from the probed header; one variant; fMP4 with an audio
 *                              track adds an EXT-X-MEDIA audio rendition (track 2)
 *   getHLSMediaPlaylist.m3u8   TrackNumber (fMP4) ; EXT-X-MAP per stream header
 *   getMP4InitFragment.mp4     TrackNumber, SequenceNumber = stream header id
 *   getMP4MediaFragment.mp4    FragmentNumber, TrackNumber (moof+mdat, tfdt = producer time)
 *   getTSFragment.ts           FragmentNumber (all tracks)
 * Every resource checks the token (403 when tampered or expired), and that the fragment belongs
 * to the session (404 otherwise), and sends CORS headers. Loop thread throughout. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media_int.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"
#include "sluice/time.h"

#define LIVE_RECENT_MS   30000
#define MAX_RANGE_MS     (24LL * 3600 * 1000)
#define DISCONTINUITY_MS 50

int64_t md_now_ms(void)
{
    return sl_time_now_ns() / 1000000;
}

/* ---- selection ------------------------------------------------------------------------------ */

int64_t md_frag_ts(const md_session *s, const md_frag *f)
{
    return s->server_ts ? f->server_ms : f->producer_ms;
}

typedef struct sort_item {
    int64_t ts;
    uint64_t seq;
    size_t idx;
} sort_item;

static int cmp_item(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void md_sel_free(md_sel *sel)
{
    free(sel->c);
    memset(sel, 0, sizeof(*sel));
}

int md_select(const md_session *s, md_stream *st, int64_t now_ms, md_sel *sel)
{
    size_t n = md_stream_nfrags(st);
    memset(sel, 0, sizeof(*sel));
    sel->c = malloc((n ? n : 1) * sizeof(size_t));
    sort_item *items = malloc((n ? n : 1) * sizeof(sort_item));
    if (!sel->c || !items) {
        free(items);
        md_sel_free(sel);
        return SL_ENOMEM;
    }
    size_t k = 0;
    md_frag f;
    if (s->mode == MD_LIVE) {
        for (size_t i = 0; i < n; i++) {
            md_stream_frag(st, i, &f);
            if (f.seq >= s->anchor_seq)
                sel->c[k++] = i;
        }
        sel->nc = k;
        sel->released = k;
        sel->w1 = k;
        sel->w0 = k > s->max_results ? k - s->max_results : 0;
        free(items);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        md_stream_frag(st, i, &f);
        int64_t ts = md_frag_ts(s, &f);
        if (ts < s->start_ms || (s->end_ms >= 0 && ts > s->end_ms))
            continue;
        items[k++] = (sort_item){ts, f.seq, i};
    }
    qsort(items, k, sizeof(*items), cmp_item);
    /* equal start times: keep the highest fragment number (the last of a run) */
    size_t m = 0;
    for (size_t i = 0; i < k; i++) {
        if (i + 1 < k && items[i + 1].ts == items[i].ts)
            continue;
        sel->c[m++] = items[i].idx;
    }
    sel->nc = m;
    free(items);
    if (s->mode == MD_ON_DEMAND) {
        sel->released = m;
        sel->w0 = 0;
        sel->w1 = m < s->max_results ? m : s->max_results;
        sel->ended = 1;
        return 0;
    }
    /* LIVE_REPLAY: the first N at creation, then at the pace of the fragments' own times */
    size_t first = m < s->max_results ? m : s->max_results;
    size_t rel = first;
    if (first > 0) {
        md_stream_frag(st, sel->c[first - 1], &f);
        int64_t limit = md_frag_ts(s, &f) + (now_ms - s->created_ms);
        while (rel < m) {
            md_stream_frag(st, sel->c[rel], &f);
            if (md_frag_ts(s, &f) > limit)
                break;
            rel++;
        }
    }
    sel->released = rel;
    sel->w1 = rel;
    sel->w0 = rel > s->max_results ? rel - s->max_results : 0;
    sel->ended = s->end_ms >= 0 && rel == m && s->end_ms < now_ms - LIVE_RECENT_MS;
    return 0;
}

/* Whether a discontinuity comes between candidates i-1 and i (i >= 1). */
int md_sel_discontinuous(const md_session *s, md_stream *st, const md_sel *sel, size_t i)
{
    md_frag a, b;
    md_stream_frag(st, sel->c[i - 1], &a);
    md_stream_frag(st, sel->c[i], &b);
    if (a.header_id != b.header_id)
        return 1;
    if (s->discontinuity == 1)
        return 1;
    if (s->discontinuity == 2) {
        /* A gap over 50 ms, or time not moving forward. A fragment that starts inside the
         * previous one's span is not marked: its stored duration includes the audio frames that
         * interleave past the next key frame (measured: 61-109 ms with AAC at 48 kHz), so such
         * "overlaps" are how contiguous A/V fragments look. */
        int64_t gap = md_frag_ts(s, &b) - (md_frag_ts(s, &a) + (int64_t)a.duration_ms);
        return gap > DISCONTINUITY_MS || md_frag_ts(s, &b) <= md_frag_ts(s, &a);
    }
    return 0;
}

/* Whether fragment index idx of st belongs to session s (for resource requests). */
int md_session_has_frag(const md_session *s, md_stream *st, size_t idx)
{
    md_frag f;
    md_stream_frag(st, idx, &f);
    if (s->mode == MD_LIVE)
        return f.seq >= s->anchor_seq;
    int64_t ts = md_frag_ts(s, &f);
    return ts >= s->start_ms && (s->end_ms < 0 || ts <= s->end_ms);
}

/* ---- packaged resources --------------------------------------------------------------------- */

typedef struct make_job {
    md_src *src;
    int probe;
    sl_pkg_opts o;
    const char *ctype;
} make_job;

static void make_free(void *arg)
{
    make_job *m = arg;
    md_src_free(m->src);
    free(m);
}

static int make_run(void *arg, md_blob **out, sl_diag *d)
{
    make_job *m = arg;
    sl_buf mkv = SL_BUF_INIT, res = SL_BUF_INIT;
    int rc = md_src_read(m->src, &mkv, d);
    if (rc == 0 && m->probe) {
        sl_pkg_info info;
        rc = sl_pkg_probe((const uint8_t *)mkv.data, mkv.len, &info, d);
        if (rc == 0)
            rc = sl_buf_append(&res, &info, sizeof(info));
    } else if (rc == 0) {
        rc = sl_pkg_remux((const uint8_t *)mkv.data, mkv.len, &m->o, &res, d);
    }
    if (rc == 0) {
        *out = md_blob_new(res.data, res.len, m->ctype);
        if (!*out)
            rc = SL_ENOMEM;
    }
    sl_buf_cleanup(&mkv);
    sl_buf_cleanup(&res);
    return rc;
}

int md_get_packaged(md_stream *st, const char *kind, size_t from, size_t to, uint32_t header_id,
                    const sl_pkg_opts *o, int probe, const char *ctype, md_cache_cb cb, void *arg)
{
    char key[160];
    make_job *m = calloc(1, sizeof(*m));
    if (!m)
        return SL_ENOMEM;
    if (from < to) {
        md_frag f;
        md_stream_frag(st, from, &f);
        snprintf(key, sizeof(key), "%s/%" PRIu64 "-%zu/%s/%" PRIu64, md_stream_skey(st), f.seq,
                 to - from, kind, o ? o->track : 0);
        m->src = md_src_new(st, from, to);
    } else {
        snprintf(key, sizeof(key), "%s/h%u/%s/%" PRIu64, md_stream_skey(st), header_id, kind,
                 o ? o->track : 0);
        m->src = md_src_header(st, header_id);
    }
    if (!m->src) {
        free(m);
        return SL_ENOTFOUND;
    }
    m->probe = probe;
    if (o)
        m->o = *o;
    m->ctype = ctype;
    return md_cache_get(key, make_run, m, make_free, cb, arg);
}

int md_error_of(int rc, const char **type, const char **msg)
{
    switch (rc) {
    case SL_EMEDIA_UNSUPPORTED:
    case SL_EMEDIA_NO_CPD:
    case SL_EMEDIA_BAD_CPD:
    case SL_EMEDIA_FRAME:
        *type = sl_err_aws_type(rc);
        *msg = sl_err_str(rc);
        return sl_err_http_status(rc);
    case SL_ENOTFOUND:
        *type = "ResourceNotFoundException";
        *msg = "The requested fragment is not found.";
        return 404;
    case SL_EFULL:
        *type = "ClientLimitExceededException";
        *msg = "Too many packaging requests are waiting; retry later.";
        return 400;
    default:
        *type = "InternalFailure";
        *msg = sl_err_str(rc);
        return 500;
    }
}

/* ---- resource requests ---------------------------------------------------------------------- */

static uint64_t pl_hash(sl_slice s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s.len; i++) {
        h ^= (uint8_t)s.ptr[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void respond_blob(sl_exchange *ex, int status, const char *ctype, const void *p, size_t n)
{
    sl_http_header h[5];
    memcpy(h, md_cors_headers, sizeof(md_cors_headers));
    h[3] = (sl_http_header){SL_SLICE_LIT("Content-Type"), {ctype, strlen(ctype)}};
    h[4] = (sl_http_header){SL_SLICE_LIT("Cache-Control"), SL_SLICE_LIT("no-cache")};
    sl_exchange_respond(ex, status, h, 5, p, n);
}

static void blob_release(void *ud, const void *data)
{
    (void)data;
    md_blob_unref(ud);
}

/* Cached bytes go out by reference (sl_exchange_respond_rbuf): a popular segment is never copied
 * per request; the connection's reference keeps the blob alive after an eviction. */
static void respond_cached(sl_exchange *ex, md_blob *b)
{
    sl_rbuf *r = sl_rbuf_wrap(b->data, b->len, blob_release, md_blob_ref(b));
    if (!r) {
        md_blob_unref(b);
        respond_blob(ex, 200, b->ctype, b->data, b->len);
        return;
    }
    sl_http_header h[5];
    memcpy(h, md_cors_headers, sizeof(md_cors_headers));
    h[3] = (sl_http_header){SL_SLICE_LIT("Content-Type"), {b->ctype, strlen(b->ctype)}};
    h[4] = (sl_http_header){SL_SLICE_LIT("Cache-Control"), SL_SLICE_LIT("no-cache")};
    sl_exchange_respond_rbuf(ex, 200, h, 5, r, 0, b->len);
    sl_rbuf_unref(r);
}

void md_respond_text(sl_exchange *ex, const char *ctype, const sl_buf *b)
{
    respond_blob(ex, 200, ctype, b->data, b->len);
}

void md_respond_error(sl_exchange *ex, int status, const char *type, const char *msg)
{
    sl_buf body = SL_BUF_INIT;
    sl_wire_json_error_body(&body, type, msg, "Message");
    sl_http_header h[5];
    memcpy(h, md_cors_headers, sizeof(md_cors_headers));
    h[3] = (sl_http_header){SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")};
    h[4] = (sl_http_header){SL_SLICE_LIT("x-amzn-ErrorType"), {type, strlen(type)}};
    sl_exchange_respond(ex, status, h, 5, body.data, body.len);
    sl_buf_cleanup(&body);
}

static void blob_done(void *arg, md_blob *b, int rc, const sl_diag *d)
{
    sl_exchange *ex = arg;
    if (sl_exchange_is_open(ex)) {
        if (rc == 0) {
            respond_cached(ex, b);
        } else {
            const char *type, *msg;
            int status = md_error_of(rc, &type, &msg);
            if (d && d->text[0] && rc != SL_ENOTFOUND)
                sl_warn("media", "packaging failed: %s", d->text);
            md_respond_error(ex, status, type, msg);
        }
    }
    sl_exchange_unref(ex);
}

/* Tokens already verified, by their exact text: a player sends the same token with every
 * playlist poll and segment, and checking the HMAC and parsing the fields again each time was a
 * visible part of a cached playlist request. A hit still checks expiry. Direct-mapped, loop
 * thread only; a token is only ever stored after it verified. */
#define TOK_SLOTS 128

typedef struct tok_slot {
    char *text;
    md_session s;
} tok_slot;

static tok_slot tok_cache[TOK_SLOTS];

static int session_decode_cached(const char *tok, int64_t now, md_session *s)
{
    size_t n = strlen(tok);
    uint64_t h = pl_hash((sl_slice){tok, n});
    tok_slot *e = &tok_cache[h % TOK_SLOTS];
    if (e->text && strcmp(e->text, tok) == 0) {
        *s = e->s;
        return now >= s->expires_ms ? SL_EAUTH_EXPIRED : 0;
    }
    int rc = md_session_decode(tok, n, now, s);
    if (rc == 0) {
        char *copy = strdup(tok);
        if (copy) {
            free(e->text);
            e->text = copy;
            e->s = *s;
        }
    }
    return rc;
}

int md_session_from_request(sl_exchange *ex, const sl_http_request *req, md_session *s,
                            md_stream **st)
{
    char tok[1024];
    *st = NULL;
    if (!md_query_get(req->query, "SessionToken", tok, sizeof(tok)) || !tok[0]) {
        md_respond_error(ex, 403, "NotAuthorizedException", "SessionToken is missing.");
        return -1;
    }
    /* SLUICE_TEST_MEDIA_CLOCK_OFFSET_S moves the clock tokens are checked against, so a test
     * can see a session expire without waiting the 300 s minimum */
    const char *skew = getenv("SLUICE_TEST_MEDIA_CLOCK_OFFSET_S");
    int64_t now = md_now_ms() + (skew ? strtoll(skew, NULL, 10) * 1000 : 0);
    int rc = session_decode_cached(tok, now, s);
    if (rc == SL_EAUTH_EXPIRED) {
        md_respond_error(ex, 403, "NotAuthorizedException", "The streaming session has expired.");
        return -1;
    }
    if (rc) {
        md_respond_error(ex, 403, "NotAuthorizedException",
                         "Unable to validate the session token.");
        return -1;
    }
    *st = md_stream_for_session(s);
    if (!*st) {
        md_respond_error(ex, 404, "ResourceNotFoundException",
                         "The stream of this session is not found.");
        return -1;
    }
    return 0;
}

/* FragmentNumber of the request -> its index, checked against the session. */
static int frag_from_request(sl_exchange *ex, const sl_http_request *req, const md_session *s,
                             md_stream *st, size_t *idx)
{
    char num[64];
    uint64_t seq;
    if (!md_query_get(req->query, "FragmentNumber", num, sizeof(num)) ||
        md_parse_number(num, strlen(num), &seq) != 0) {
        md_respond_error(ex, 400, "InvalidArgumentException", "FragmentNumber is not valid.");
        return -1;
    }
    *idx = md_stream_find_frag(st, seq);
    if (*idx == SIZE_MAX || !md_session_has_frag(s, st, *idx)) {
        md_respond_error(ex, 404, "ResourceNotFoundException",
                         "The requested fragment is not part of this session.");
        return -1;
    }
    return 0;
}

static int track_from_request(sl_exchange *ex, const sl_http_request *req, uint64_t *track)
{
    char t[16];
    *track = 1;
    if (md_query_get(req->query, "TrackNumber", t, sizeof(t))) {
        char *end;
        unsigned long v = strtoul(t, &end, 10);
        if (*end || v < 1 || v > 2) {
            md_respond_error(ex, 400, "InvalidArgumentException", "TrackNumber is not valid.");
            return -1;
        }
        *track = v;
    }
    return 0;
}

void md_serve_init(sl_exchange *ex, const sl_http_request *req, const md_session *s, md_stream *st)
{
    uint64_t track;
    if (track_from_request(ex, req, &track))
        return;
    char sn[24];
    uint32_t hid;
    if (md_query_get(req->query, "SequenceNumber", sn, sizeof(sn)) && sn[0]) {
        hid = (uint32_t)strtoul(sn, NULL, 10);
    } else {
        md_sel sel;
        if (md_select(s, st, md_now_ms(), &sel) || sel.w0 >= sel.w1) {
            md_sel_free(&sel);
            md_respond_error(ex, 404, "ResourceNotFoundException",
                             "No fragments found in the stream for the streaming request.");
            return;
        }
        md_frag f;
        md_stream_frag(st, sel.c[sel.w0], &f);
        hid = f.header_id;
        md_sel_free(&sel);
    }
    sl_pkg_opts o = {.kind = SL_PKG_FMP4_INIT, .track = track};
    sl_exchange_ref(ex);
    int rc = md_get_packaged(st, "init", 0, 0, hid, &o, 0, "video/mp4", blob_done, ex);
    if (rc) {
        const char *type, *msg;
        int status = md_error_of(rc, &type, &msg);
        md_respond_error(ex, status, type, msg);
        sl_exchange_unref(ex);
    }
}

void md_serve_fragment(sl_exchange *ex, const sl_http_request *req, const md_session *s,
                       md_stream *st, int ts)
{
    size_t idx;
    uint64_t track = 0;
    if (frag_from_request(ex, req, s, st, &idx))
        return;
    if (!ts && track_from_request(ex, req, &track))
        return;
    md_frag f;
    md_stream_frag(st, idx, &f);
    sl_pkg_opts o = {.kind = ts ? SL_PKG_TS : SL_PKG_FMP4_MEDIA,
                     .track = track,
                     .has_start = 1,
                     .start_ms = f.producer_ms,
                     .end_ms = f.producer_ms + (int64_t)f.duration_ms,
                     .mp4_sequence = (uint32_t)(idx + 1)};
    sl_exchange_ref(ex);
    int rc = md_get_packaged(st, ts ? "ts" : "m4s", idx, idx + 1, 0, &o, 0,
                             ts ? "video/MP2T" : "video/mp4", blob_done, ex);
    if (rc) {
        const char *type, *msg;
        int status = md_error_of(rc, &type, &msg);
        md_respond_error(ex, status, type, msg);
        sl_exchange_unref(ex);
    }
}

/* ---- playlists ------------------------------------------------------------------------------ */

static void iso_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

typedef struct master_ctx {
    sl_exchange *ex;
    md_session s;
    char token[1024];
    uint64_t bandwidth;
} master_ctx;

static void master_probed(void *arg, md_blob *b, int rc, const sl_diag *d)
{
    master_ctx *m = arg;
    (void)d;
    if (sl_exchange_is_open(m->ex)) {
        if (rc != 0 || b->len != sizeof(sl_pkg_info)) {
            const char *type, *msg;
            int status = md_error_of(rc ? rc : SL_EINTERNAL, &type, &msg);
            md_respond_error(m->ex, status, type, msg);
        } else {
            sl_pkg_info info;
            memcpy(&info, b->data, sizeof(info));
            const sl_pkg_track *v = &info.tracks[0];
            const sl_pkg_track *a = info.ntracks > 1 ? &info.tracks[1] : NULL;
            sl_buf out = SL_BUF_INIT;
            sl_buf_printf(&out, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n",
                          m->s.ts_container ? 3 : 7);
            if (a && !m->s.ts_container)
                sl_buf_printf(&out,
                              "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"audio\","
                              "DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,"
                              "URI=\"getHLSMediaPlaylist.m3u8?SessionToken=%s&TrackNumber=2\"\n",
                              m->token);
            sl_buf_printf(&out, "#EXT-X-STREAM-INF:BANDWIDTH=%" PRIu64 ",CODECS=\"%s%s%s\"",
                          m->bandwidth ? m->bandwidth : 1000000, v->codecs, a ? "," : "",
                          a ? a->codecs : "");
            if (v->is_video && v->width > 0)
                sl_buf_printf(&out, ",RESOLUTION=%dx%d", v->width, v->height);
            if (a && !m->s.ts_container)
                sl_buf_append_str(&out, ",AUDIO=\"audio\"");
            sl_buf_printf(&out, "\ngetHLSMediaPlaylist.m3u8?SessionToken=%s%s\n", m->token,
                          m->s.ts_container ? "" : "&TrackNumber=1");
            if (out.oom)
                md_respond_error(m->ex, 500, "InternalFailure", "out of memory");
            else
                md_respond_text(m->ex, "application/vnd.apple.mpegurl", &out);
            sl_buf_cleanup(&out);
        }
    }
    sl_exchange_unref(m->ex);
    free(m);
}

/* Probes the header of the window's newest fragment; cb(arg, blob of sl_pkg_info). */
int md_probe_session(md_stream *st, const md_sel *sel, md_cache_cb cb, void *arg)
{
    md_frag f;
    size_t last = sel->w1 > sel->w0 ? sel->w1 - 1 : (sel->nc ? sel->nc - 1 : SIZE_MAX);
    if (last == SIZE_MAX)
        return SL_ENOTFOUND;
    md_stream_frag(st, sel->c[last], &f);
    return md_get_packaged(st, "probe", 0, 0, f.header_id, NULL, 1, "application/octet-stream", cb,
                           arg);
}

uint64_t md_sel_bandwidth(md_stream *st, const md_sel *sel)
{
    uint64_t bytes = 0, ms = 0;
    for (size_t i = sel->w0; i < sel->w1; i++) {
        md_frag f;
        md_stream_frag(st, sel->c[i], &f);
        bytes += f.size;
        ms += f.duration_ms;
    }
    return ms ? bytes * 8 * 1000 / ms : 0;
}

static void serve_master(sl_exchange *ex, const sl_http_request *req, const md_session *s,
                         md_stream *st)
{
    md_sel sel;
    if (md_select(s, st, md_now_ms(), &sel)) {
        md_respond_error(ex, 500, "InternalFailure", "out of memory");
        return;
    }
    master_ctx *m = calloc(1, sizeof(*m));
    if (!m) {
        md_sel_free(&sel);
        md_respond_error(ex, 500, "InternalFailure", "out of memory");
        return;
    }
    m->ex = ex;
    m->s = *s;
    md_query_get(req->query, "SessionToken", m->token, sizeof(m->token));
    m->bandwidth = md_sel_bandwidth(st, &sel);
    sl_exchange_ref(ex);
    int rc = md_probe_session(st, &sel, master_probed, m);
    md_sel_free(&sel);
    if (rc) {
        md_respond_error(ex, 404, "ResourceNotFoundException",
                         "No fragments found in the stream for the streaming request.");
        sl_exchange_unref(ex);
        free(m);
    }
}

/* Rendered media playlists, by request target (token + track), valid while the stream's index
 * has not changed (fragment count and newest number) and, for LIVE_REPLAY, within the same
 * 100 ms (its window moves with the clock). Players re-poll a LIVE playlist every second or
 * so, and many viewers of one session share it: rendering (printf of every fragment's URI) was
 * half the cost of a playlist request. Direct-mapped, loop thread only. */
#define PL_SLOTS 256

typedef struct pl_slot {
    uint64_t hash, version;
    char *key;
    md_blob *blob;
} pl_slot;

static pl_slot pl_cache[PL_SLOTS];

static uint64_t pl_version(const md_session *s, md_stream *st)
{
    size_t n = md_stream_nfrags(st);
    md_frag f = {0};
    if (n)
        md_stream_frag(st, n - 1, &f);
    uint64_t v = (uint64_t)n * 0x9E3779B97F4A7C15ull ^ f.seq;
    if (s->mode == MD_LIVE_REPLAY)
        v ^= (uint64_t)(md_now_ms() / 100) * 0xC2B2AE3D27D4EB4Full;
    return v;
}

static const md_blob *pl_lookup(sl_slice target, uint64_t hash, uint64_t version)
{
    const pl_slot *e = &pl_cache[hash % PL_SLOTS];
    if (e->blob && e->hash == hash && e->version == version && strlen(e->key) == target.len &&
        memcmp(e->key, target.ptr, target.len) == 0)
        return e->blob;
    return NULL;
}

static void pl_store(sl_slice target, uint64_t hash, uint64_t version, const sl_buf *b)
{
    pl_slot *e = &pl_cache[hash % PL_SLOTS];
    md_blob *nb = md_blob_new(b->data, b->len, "application/vnd.apple.mpegurl");
    char *key = malloc(target.len + 1);
    if (!nb || !key) {
        md_blob_unref(nb);
        free(key);
        return;
    }
    memcpy(key, target.ptr, target.len);
    key[target.len] = 0;
    md_blob_unref(e->blob);
    free(e->key);
    *e = (pl_slot){hash, version, key, nb};
}

static void serve_media_playlist(sl_exchange *ex, const sl_http_request *req, const md_session *s,
                                 md_stream *st)
{
    char token[1024];
    uint64_t track = 1;
    md_query_get(req->query, "SessionToken", token, sizeof(token));
    if (!s->ts_container && track_from_request(ex, req, &track))
        return;
    uint64_t hash = pl_hash(req->target), version = pl_version(s, st);
    const md_blob *hit = pl_lookup(req->target, hash, version);
    if (hit) {
        respond_blob(ex, 200, hit->ctype, hit->data, hit->len);
        return;
    }
    md_sel sel;
    if (md_select(s, st, md_now_ms(), &sel)) {
        md_respond_error(ex, 500, "InternalFailure", "out of memory");
        return;
    }
    uint64_t maxdur = 1;
    for (size_t i = sel.w0; i < sel.w1; i++) {
        md_frag f;
        md_stream_frag(st, sel.c[i], &f);
        uint64_t d = (f.duration_ms + 999) / 1000;
        if (d > maxdur)
            maxdur = d;
    }
    size_t dseq = 0;
    for (size_t i = 1; i <= sel.w0 && i < sel.nc; i++)
        dseq += (size_t)md_sel_discontinuous(s, st, &sel, i);
    sl_buf out = SL_BUF_INIT;
    sl_buf_printf(&out, "#EXTM3U\n#EXT-X-VERSION:%d\n", s->ts_container ? 3 : 7);
    if (s->mode == MD_ON_DEMAND)
        sl_buf_append_str(&out, "#EXT-X-PLAYLIST-TYPE:VOD\n");
    sl_buf_printf(&out,
                  "#EXT-X-TARGETDURATION:%" PRIu64 "\n#EXT-X-MEDIA-SEQUENCE:%zu\n"
                  "#EXT-X-DISCONTINUITY-SEQUENCE:%zu\n#EXT-X-INDEPENDENT-SEGMENTS\n",
                  maxdur, sel.w0, dseq);
    uint32_t map_hid = UINT32_MAX;
    for (size_t i = sel.w0; i < sel.w1; i++) {
        md_frag f;
        char num[48], when[32];
        md_stream_frag(st, sel.c[i], &f);
        md_format_number(f.seq, num);
        if (i > sel.w0 && md_sel_discontinuous(s, st, &sel, i))
            sl_buf_append_str(&out, "#EXT-X-DISCONTINUITY\n");
        if (!s->ts_container && f.header_id != map_hid) {
            sl_buf_printf(
                &out,
                "#EXT-X-MAP:URI=\"getMP4InitFragment.mp4?SessionToken=%s&TrackNumber=%" PRIu64
                "&SequenceNumber=%u\"\n",
                token, track, f.header_id);
            map_hid = f.header_id;
        }
        if (s->display_ts) {
            iso_ms(md_frag_ts(s, &f), when);
            sl_buf_printf(&out, "#EXT-X-PROGRAM-DATE-TIME:%s\n", when);
        }
        sl_buf_printf(&out, "#EXTINF:%.3f,\n", (double)f.duration_ms / 1000.0);
        if (s->ts_container)
            sl_buf_printf(&out, "getTSFragment.ts?FragmentNumber=%s&SessionToken=%s\n", num, token);
        else
            sl_buf_printf(
                &out,
                "getMP4MediaFragment.mp4?FragmentNumber=%s&SessionToken=%s&TrackNumber=%" PRIu64
                "\n",
                num, token, track);
    }
    if (sel.ended)
        sl_buf_append_str(&out, "#EXT-X-ENDLIST\n");
    md_sel_free(&sel);
    if (out.oom) {
        md_respond_error(ex, 500, "InternalFailure", "out of memory");
    } else {
        pl_store(req->target, hash, version, &out);
        md_respond_text(ex, "application/vnd.apple.mpegurl", &out);
    }
    sl_buf_cleanup(&out);
}

void md_handle_hls(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    md_session s;
    md_stream *st;
    if (md_session_from_request(ex, req, &s, &st))
        return;
    sl_slice p = req->path;
    const char *name = p.ptr + sizeof("/hls/v1/") - 1;
    size_t nlen = p.len - (sizeof("/hls/v1/") - 1);
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
    if (s.proto != MD_HLS)
        md_respond_error(ex, 403, "NotAuthorizedException", "Not an HLS session token.");
    else if (IS("getHLSMasterPlaylist.m3u8"))
        serve_master(ex, req, &s, st);
    else if (IS("getHLSMediaPlaylist.m3u8"))
        serve_media_playlist(ex, req, &s, st);
    else if (IS("getMP4InitFragment.mp4") && !s.ts_container)
        md_serve_init(ex, req, &s, st);
    else if (IS("getMP4MediaFragment.mp4") && !s.ts_container)
        md_serve_fragment(ex, req, &s, st, 0);
    else if (IS("getTSFragment.ts") && s.ts_container)
        md_serve_fragment(ex, req, &s, st, 1);
    else
        md_respond_error(ex, 404, "ResourceNotFoundException", "Unknown session resource.");
#undef IS
    md_stream_unref(st);
}

/* ---- session creation ----------------------------------------------------------------------- */

typedef struct create_ctx {
    sl_exchange *ex;
    md_session s;
} create_ctx;

static void created_probed(void *arg, md_blob *b, int rc, const sl_diag *d)
{
    create_ctx *c = arg;
    (void)d;
    (void)b;
    if (sl_exchange_is_open(c->ex)) {
        if (rc) {
            const char *type, *msg;
            int status = md_error_of(rc, &type, &msg);
            if (rc == SL_ENOTFOUND) {
                type = "ResourceNotFoundException";
                msg = "No fragments found in the stream for the streaming request.";
            }
            sl_wire_reply_error(c->ex, SL_PROTO_REST_JSON, md_service(), status, type, msg, NULL);
        } else {
            char token[1024];
            sl_buf url = SL_BUF_INIT;
            md_session_encode(&c->s, token, sizeof(token));
            int dash = c->s.proto == MD_DASH;
            sl_buf_printf(
                &url, "{\"%s\":\"%s%s?SessionToken=%s\"}",
                dash ? "DASHStreamingSessionURL" : "HLSStreamingSessionURL", sl_api_base_url(),
                dash ? "/dash/v1/getDASHManifest.mpd" : "/hls/v1/getHLSMasterPlaylist.m3u8", token);
            static const sl_http_header h[] = {
                {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")}};
            sl_exchange_respond(c->ex, 200, h, 1, url.data, url.len);
            sl_buf_cleanup(&url);
        }
    }
    sl_exchange_unref(c->ex);
    free(c);
}

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void md_create_session(sl_api_call *call, md_proto proto)
{
    const cJSON *in = call->input;
    md_session s;
    memset(&s, 0, sizeof(s));
    s.proto = proto;
    const char *mode = str_member(in, "PlaybackMode");
    s.mode = !mode || !strcmp(mode, "LIVE") ? MD_LIVE
             : !strcmp(mode, "LIVE_REPLAY") ? MD_LIVE_REPLAY
                                            : MD_ON_DEMAND;
    const char *cf = str_member(in, "ContainerFormat");
    s.ts_container = proto == MD_HLS && cf && !strcmp(cf, "MPEG_TS");
    const cJSON *selj = cJSON_GetObjectItemCaseSensitive(
        in, proto == MD_HLS ? "HLSFragmentSelector" : "DASHFragmentSelector");
    const char *stype = str_member(selj, "FragmentSelectorType");
    s.server_ts = !stype || !strcmp(stype, "SERVER_TIMESTAMP");
    const char *dm = str_member(in, "DiscontinuityMode");
    s.discontinuity = dm ? (!strcmp(dm, "ALWAYS")  ? 1
                            : !strcmp(dm, "NEVER") ? 0
                                                   : 2)
                         : (s.server_ts ? 1 : 0);
    if (proto == MD_DASH)
        s.discontinuity = 0;
    const char *dts = str_member(in, "DisplayFragmentTimestamp");
    s.display_ts = dts && !strcmp(dts, "ALWAYS");
    const char *dfn = str_member(in, "DisplayFragmentNumber");
    s.display_fn = dfn && !strcmp(dfn, "ALWAYS");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(in, "Expires");
    int64_t expires_s = cJSON_IsNumber(ex) ? (int64_t)ex->valuedouble : 300;
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(
        in, proto == MD_HLS ? "MaxMediaPlaylistFragmentResults" : "MaxManifestFragmentResults");
    s.max_results =
        cJSON_IsNumber(mx) ? (uint32_t)mx->valuedouble : (s.mode == MD_ON_DEMAND ? 1000 : 5);
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(selj, "TimestampRange");
    const cJSON *startj = cJSON_GetObjectItemCaseSensitive(range, "StartTimestamp");
    const cJSON *endj = cJSON_GetObjectItemCaseSensitive(range, "EndTimestamp");
    int64_t now = md_now_ms();
    s.start_ms = 0;
    s.end_ms = -1;
    if (s.mode == MD_LIVE) {
        if (range) {
            sl_wire_call_error(call, "InvalidArgumentException",
                               "TimestampRange cannot be specified in LIVE mode.");
            return;
        }
    } else {
        if (!stype || !startj || md_json_time_ms(startj, &s.start_ms)) {
            sl_wire_call_error(call, "InvalidArgumentException",
                               "%s mode requires FragmentSelectorType and StartTimestamp.", mode);
            return;
        }
        if (endj && md_json_time_ms(endj, &s.end_ms)) {
            sl_wire_call_error(call, "InvalidArgumentException", "EndTimestamp is not valid.");
            return;
        }
        if (s.mode == MD_ON_DEMAND && !endj) {
            sl_wire_call_error(call, "InvalidArgumentException",
                               "ON_DEMAND mode requires an EndTimestamp.");
            return;
        }
        if (endj && (s.end_ms <= s.start_ms || s.end_ms - s.start_ms > MAX_RANGE_MS)) {
            sl_wire_call_error(call, "InvalidArgumentException",
                               "EndTimestamp must be later than StartTimestamp and within 24 "
                               "hours of it.");
            return;
        }
        if (endj && s.server_ts && s.end_ms > now) {
            sl_wire_call_error(call, "InvalidArgumentException",
                               "EndTimestamp must be in the past for SERVER_TIMESTAMP.");
            return;
        }
    }
    md_stream *st = md_stream_or_reply(call, 1);
    if (!st)
        return;
    snprintf(s.region, sizeof(s.region), "%s", md_stream_region(st));
    snprintf(s.stream, sizeof(s.stream), "%s", md_stream_name(st));
    snprintf(s.skey, sizeof(s.skey), "%s", md_stream_skey(st));
    s.created_ms = now;
    s.expires_ms = now + expires_s * 1000;
    md_sel sel;
    memset(&sel, 0, sizeof(sel));
    int rc = 0;
    if (s.mode == MD_LIVE) {
        /* anchor: the oldest of the newest N; nothing in the last 30 s is "no fragments" */
        size_t n = md_stream_nfrags(st);
        md_frag last;
        if (n == 0 || (md_stream_frag(st, n - 1, &last), last.server_ms < now - LIVE_RECENT_MS)) {
            rc = SL_ENOTFOUND;
        } else {
            md_frag a;
            md_stream_frag(st, n > s.max_results ? n - s.max_results : 0, &a);
            s.anchor_seq = a.seq;
        }
    }
    if (rc == 0)
        rc = md_select(&s, st, now, &sel);
    if (rc == 0 && sel.nc == 0)
        rc = SL_ENOTFOUND;
    if (rc) {
        if (rc == SL_ENOTFOUND)
            sl_wire_call_error(call, "ResourceNotFoundException",
                               "No fragments found in the stream for the streaming request.");
        else
            sl_wire_call_error_code(call, rc);
        md_sel_free(&sel);
        md_stream_unref(st);
        return;
    }
    create_ctx *c = calloc(1, sizeof(*c));
    if (!c) {
        md_sel_free(&sel);
        md_stream_unref(st);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    c->ex = call->ex;
    c->s = s;
    sl_exchange_ref(call->ex);
    rc = md_probe_session(st, &sel, created_probed, c);
    md_sel_free(&sel);
    md_stream_unref(st);
    if (rc) {
        sl_exchange_unref(call->ex);
        free(c);
        sl_wire_call_error_code(call, rc);
    }
}

void sl_media_get_hls_streaming_session_url(sl_api_call *call)
{
    md_create_session(call, MD_HLS);
}
