/* GetClip: one classic MP4 of the fragments that start in [StartTimestamp, EndTimestamp].
 *
 * Request rules (AWS's): EndTimestamp later than StartTimestamp and at most 24 h after it; with
 * SERVER_TIMESTAMP, EndTimestamp in the past. Selection, on the loop thread: the stream's
 * fragments whose start on the requested axis lies in the range, in time order; of fragments with
 * equal producer start times only the earliest ingested (lowest fragment number) is kept; then
 * AWS's cut: at most 200 fragments and at most 100 MB of stored fragment bytes (the first
 * fragment is always taken). A stream header change (codec, CodecPrivate, tracks) inside the
 * range ends the clip before the first fragment under the new header, as one MP4 cannot hold
 * both. No fragment in the range: ResourceNotFoundException. The selected fragments' bytes are
 * read and remuxed on a worker (pkg.c, SL_PKG_MP4_CLIP: times start at 0, moov at the end); the
 * reply is the MP4 with Content-Type video/mp4. Clips are not cached: each request names its own
 * range. Codec problems come back as AWS's exceptions. SLUICE_TEST_CLIP_MAX_BYTES lowers the
 * byte limit so tests can reach it without uploading 100 MB. */
#include <stdlib.h>
#include <string.h>

#include "media_int.h"
#include "sl_api_handlers.h"
#include "sluice/log.h"

#define CLIP_MAX_FRAGS 200
#define CLIP_MAX_BYTES (100u * 1000 * 1000)
#define MAX_RANGE_MS   (24LL * 3600 * 1000)

typedef struct clip_job {
    sl_exchange *ex;
    md_src *src;
    sl_buf mp4;
    int rc;
    sl_diag d;
} clip_job;

static void clip_work(void *arg)
{
    clip_job *j = arg;
    sl_buf mkv = SL_BUF_INIT;
    sl_pkg_opts o = {.kind = SL_PKG_MP4_CLIP};
    j->rc = md_src_read(j->src, &mkv, &j->d);
    if (j->rc == 0)
        j->rc = sl_pkg_remux((const uint8_t *)mkv.data, mkv.len, &o, &j->mp4, &j->d);
    sl_buf_cleanup(&mkv);
}

static void clip_done(void *arg)
{
    clip_job *j = arg;
    if (sl_exchange_is_open(j->ex)) {
        if (j->rc == 0) {
            static const sl_http_header h[] = {
                {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("video/mp4")}};
            sl_exchange_respond(j->ex, 200, h, 1, j->mp4.data, j->mp4.len);
        } else {
            const char *type, *msg;
            int status = md_error_of(j->rc, &type, &msg);
            if (j->rc != SL_EMEDIA_UNSUPPORTED && j->rc != SL_EMEDIA_NO_CPD &&
                j->rc != SL_EMEDIA_BAD_CPD)
                sl_warn("media", "GetClip failed: %s", j->d.text);
            sl_wire_reply_error(j->ex, SL_PROTO_REST_JSON, md_service(), status, type, msg, NULL);
        }
    }
    sl_exchange_unref(j->ex);
    md_src_free(j->src);
    sl_buf_cleanup(&j->mp4);
    free(j);
}

typedef struct clip_item {
    int64_t ts;
    uint64_t seq;
    size_t idx;
} clip_item;

static int cmp_clip_item(const void *a, const void *b)
{
    const clip_item *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static uint64_t clip_max_bytes(void)
{
    const char *env = getenv("SLUICE_TEST_CLIP_MAX_BYTES");
    if (env && *env) {
        char *e;
        unsigned long long v = strtoull(env, &e, 10);
        if (!*e && v > 0)
            return v;
    }
    return CLIP_MAX_BYTES;
}

/* Fills idx[0..*n) with the clip's fragments (at most CLIP_MAX_FRAGS). Loop thread. */
static int clip_select(md_stream *st, int server_ts, int64_t start, int64_t end, size_t *idx,
                       size_t *n)
{
    size_t nf = md_stream_nfrags(st), k = 0;
    clip_item *items = malloc((nf ? nf : 1) * sizeof(*items));
    if (!items)
        return SL_ENOMEM;
    for (size_t i = 0; i < nf; i++) {
        md_frag f;
        md_stream_frag(st, i, &f);
        int64_t ts = server_ts ? f.server_ms : f.producer_ms;
        if (ts >= start && ts <= end)
            items[k++] = (clip_item){ts, f.seq, i};
    }
    qsort(items, k, sizeof(*items), cmp_clip_item);
    uint64_t bytes = 0, max_bytes = clip_max_bytes();
    *n = 0;
    for (size_t i = 0; i < k && *n < CLIP_MAX_FRAGS; i++) {
        if (i > 0 && items[i].ts == items[i - 1].ts)
            continue; /* same start time: the earliest ingested was kept */
        md_frag f;
        md_stream_frag(st, items[i].idx, &f);
        if (*n > 0 && bytes + f.size > max_bytes)
            break;
        bytes += f.size;
        idx[(*n)++] = items[i].idx;
    }
    free(items);
    return 0;
}

void sl_media_get_clip(sl_api_call *call)
{
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(call->input, "ClipFragmentSelector");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(sel, "FragmentSelectorType");
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(sel, "TimestampRange");
    int server_ts = cJSON_IsString(type) && !strcmp(type->valuestring, "SERVER_TIMESTAMP");
    int64_t start, end;
    if (md_json_time_ms(cJSON_GetObjectItemCaseSensitive(range, "StartTimestamp"), &start) ||
        md_json_time_ms(cJSON_GetObjectItemCaseSensitive(range, "EndTimestamp"), &end)) {
        sl_wire_call_error(call, "InvalidArgumentException", "The timestamp range is not valid.");
        return;
    }
    if (end <= start || end - start > MAX_RANGE_MS) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "EndTimestamp must be later than StartTimestamp and within 24 hours "
                           "of it.");
        return;
    }
    if (server_ts && end > md_now_ms()) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "EndTimestamp must be in the past for SERVER_TIMESTAMP.");
        return;
    }
    md_stream *st = md_stream_or_reply(call, 1);
    if (!st)
        return;
    size_t idx[CLIP_MAX_FRAGS], n = 0;
    if (clip_select(st, server_ts, start, end, idx, &n)) {
        md_stream_unref(st);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    if (n == 0) {
        md_stream_unref(st);
        sl_wire_call_error(call, "ResourceNotFoundException",
                           "No fragments found in the stream for the clip request.");
        return;
    }
    clip_job *j = calloc(1, sizeof(*j));
    if (j)
        j->src = md_src_new_list(st, idx, n);
    md_stream_unref(st);
    if (!j || !j->src) {
        free(j);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    j->ex = call->ex;
    sl_exchange_ref(call->ex);
    int rc = md_work_submit(clip_work, clip_done, j);
    if (rc) {
        sl_exchange_unref(call->ex);
        md_src_free(j->src);
        free(j);
        sl_wire_call_error(call, "ClientLimitExceededException",
                           "Too many clip requests are being processed; retry later.");
    }
}
