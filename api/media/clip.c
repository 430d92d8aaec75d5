/* GetClip: one classic MP4 of the fragments that start in [StartTimestamp, EndTimestamp].
 *
 * Selection is ON_DEMAND's (hls.c md_select) on the requested time axis, then AWS's limits: at
 * most 200 fragments and about 100 MB of stored bytes, and the range at most 24 h. The chosen
 * fragments must be consecutive in the store and share one stream header (a header change or an
 * out-of-order fragment ends the clip there, as a track change would make one MP4 impossible).
 * Their bytes are read and remuxed (pkg.c, SL_PKG_MP4_CLIP: times start at 0, moov at the end)
 * on a worker; the reply is the MP4 with Content-Type video/mp4. Clips are not cached: each
 * request names its own range. Codec problems come back as AWS's exceptions. */
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

void sl_media_get_clip(sl_api_call *call)
{
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(call->input, "ClipFragmentSelector");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(sel, "FragmentSelectorType");
    const cJSON *range = cJSON_GetObjectItemCaseSensitive(sel, "TimestampRange");
    md_session s;
    memset(&s, 0, sizeof(s));
    s.mode = MD_ON_DEMAND;
    s.server_ts = cJSON_IsString(type) && !strcmp(type->valuestring, "SERVER_TIMESTAMP");
    s.max_results = CLIP_MAX_FRAGS;
    if (md_json_time_ms(cJSON_GetObjectItemCaseSensitive(range, "StartTimestamp"), &s.start_ms) ||
        md_json_time_ms(cJSON_GetObjectItemCaseSensitive(range, "EndTimestamp"), &s.end_ms)) {
        sl_wire_call_error(call, "InvalidArgumentException", "The timestamp range is not valid.");
        return;
    }
    if (s.end_ms < s.start_ms || s.end_ms - s.start_ms > MAX_RANGE_MS) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "EndTimestamp must not be earlier than StartTimestamp, and the range "
                           "must not exceed 24 hours.");
        return;
    }
    md_stream *st = md_stream_or_reply(call, 1);
    if (!st)
        return;
    md_sel sl;
    if (md_select(&s, st, md_now_ms(), &sl)) {
        md_stream_unref(st);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    if (sl.w1 == 0) {
        md_sel_free(&sl);
        md_stream_unref(st);
        sl_wire_call_error(call, "ResourceNotFoundException",
                           "No fragments found in the stream for the clip request.");
        return;
    }
    /* consecutive fragments from the first, within the size limit */
    size_t from = sl.c[0], to = from + 1;
    md_frag f;
    md_stream_frag(st, from, &f);
    uint64_t bytes = f.size;
    for (size_t i = 1; i < sl.w1 && sl.c[i] == to; i++) {
        md_stream_frag(st, to, &f);
        if (bytes + f.size > CLIP_MAX_BYTES)
            break;
        bytes += f.size;
        to++;
    }
    md_sel_free(&sl);
    clip_job *j = calloc(1, sizeof(*j));
    if (j)
        j->src = md_src_new(st, from, to);
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
