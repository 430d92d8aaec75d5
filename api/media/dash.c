/* DASH playback: GetDASHStreamingSessionURL and the session resources under /dash/v1/.
 *
 * Sessions, selection, init segments and fMP4 media fragments are HLS's (hls.c): the token has
 * proto = DASH and the same modes. The manifest (getDASHManifest.mpd) is an MPD with one Period
 * and one AdaptationSet per track (track 1 video, track 2 AAC audio), each Representation a
 * SegmentList: Initialization = getMP4InitFragment.mp4 of the window's stream header, one
 * SegmentURL per fragment (getMP4MediaFragment.mp4?FragmentNumber=...), and a SegmentTimeline in
 * milliseconds of producer time — the same time line as the fragments' tfdt, so
 * presentationTimeOffset is the window's first fragment for static (ON_DEMAND) manifests and
 * 0 against availabilityStartTime = the Unix epoch for dynamic (LIVE, LIVE_REPLAY) ones. With
 * DisplayFragmentTimestamp / DisplayFragmentNumber ALWAYS each S element carries kvs:ts /
 * kvs:fn as AWS's do. A stream header change inside the window ends the list there (AWS refuses
 * CodecPrivate changes within a DASH session). Loop thread. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media_int.h"
#include "sl_api_handlers.h"

typedef struct mpd_ctx {
    sl_exchange *ex;
    md_session s;
    char token[1024];
    md_stream *st;
    md_sel sel;
} mpd_ctx;

static void iso_dur(sl_buf *out, uint64_t ms)
{
    sl_buf_printf(out, "PT%" PRIu64 ".%03" PRIu64 "S", ms / 1000, ms % 1000);
}

static void iso_time(sl_buf *out, int64_t ms)
{
    char b[32];
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
    sl_buf_printf(out, "%s.%03dZ", b, (int)(ms % 1000));
}

static void representation(mpd_ctx *m, sl_buf *out, const sl_pkg_track *t, uint64_t bandwidth)
{
    md_stream *st = m->st;
    const md_sel *sel = &m->sel;
    md_frag f0;
    md_stream_frag(st, sel->c[sel->w0], &f0);
    int dynamic = m->s.mode != MD_ON_DEMAND;
    sl_buf_printf(out,
                  "    <AdaptationSet id=\"%" PRIu64 "\" contentType=\"%s\" mimeType=\"%s\" "
                  "segmentAlignment=\"true\" startWithSAP=\"1\">\n",
                  t->number, t->is_video ? "video" : "audio",
                  t->is_video ? "video/mp4" : "audio/mp4");
    sl_buf_printf(
        out, "      <Representation id=\"%" PRIu64 "\" codecs=\"%s\" bandwidth=\"%" PRIu64 "\"",
        t->number, t->codecs, bandwidth ? bandwidth : 1000000);
    if (t->is_video)
        sl_buf_printf(out, " width=\"%d\" height=\"%d\"", t->width, t->height);
    else
        sl_buf_printf(out, " audioSamplingRate=\"%d\"", t->sample_rate);
    sl_buf_printf(
        out, ">\n        <SegmentList timescale=\"1000\" presentationTimeOffset=\"%" PRId64 "\">\n",
        dynamic ? (int64_t)0 : f0.producer_ms);
    sl_buf_printf(out,
                  "          <Initialization sourceURL=\"getMP4InitFragment.mp4?SessionToken=%s"
                  "&amp;TrackNumber=%" PRIu64 "&amp;SequenceNumber=%u\"/>\n"
                  "          <SegmentTimeline>\n",
                  m->token, t->number, f0.header_id);
    size_t end = sel->w1;
    for (size_t i = sel->w0; i < sel->w1; i++) {
        md_frag f;
        md_stream_frag(st, sel->c[i], &f);
        if (f.header_id != f0.header_id) {
            end = i;
            break;
        }
        sl_buf_printf(out, "            <S t=\"%" PRId64 "\" d=\"%" PRIu64 "\"", f.producer_ms,
                      f.duration_ms);
        if (m->s.display_ts)
            sl_buf_printf(out, " kvs:ts=\"%" PRId64 "\"", md_frag_ts(&m->s, &f));
        if (m->s.display_fn) {
            char num[48];
            md_format_number(f.seq, num);
            sl_buf_printf(out, " kvs:fn=\"%s\"", num);
        }
        sl_buf_append_str(out, "/>\n");
    }
    sl_buf_append_str(out, "          </SegmentTimeline>\n");
    for (size_t i = sel->w0; i < end; i++) {
        md_frag f;
        char num[48];
        md_stream_frag(st, sel->c[i], &f);
        md_format_number(f.seq, num);
        sl_buf_printf(out,
                      "          <SegmentURL media=\"getMP4MediaFragment.mp4?FragmentNumber=%s"
                      "&amp;SessionToken=%s&amp;TrackNumber=%" PRIu64 "\"/>\n",
                      num, m->token, t->number);
    }
    sl_buf_append_str(out,
                      "        </SegmentList>\n      </Representation>\n    </AdaptationSet>\n");
}

static void mpd_probed(void *arg, md_blob *b, int rc, const sl_diag *d)
{
    mpd_ctx *m = arg;
    (void)d;
    if (sl_exchange_is_open(m->ex)) {
        if (rc != 0 || b->len != sizeof(sl_pkg_info)) {
            const char *type, *msg;
            int status = md_error_of(rc ? rc : SL_EINTERNAL, &type, &msg);
            md_respond_error(m->ex, status, type, msg);
        } else {
            sl_pkg_info info;
            memcpy(&info, b->data, sizeof(info));
            int dynamic = m->s.mode != MD_ON_DEMAND && !m->sel.ended;
            uint64_t total_ms = 0, maxd = 0;
            for (size_t i = m->sel.w0; i < m->sel.w1; i++) {
                md_frag f;
                md_stream_frag(m->st, m->sel.c[i], &f);
                total_ms += f.duration_ms;
                maxd = f.duration_ms > maxd ? f.duration_ms : maxd;
            }
            sl_buf out = SL_BUF_INIT;
            sl_buf_append_str(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                    "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" "
                                    "xmlns:kvs=\"https://kinesisvideo.amazonaws.com\" "
                                    "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" ");
            if (dynamic) {
                sl_buf_append_str(&out, "type=\"dynamic\" availabilityStartTime=\"1970-01-01T00:"
                                        "00:00Z\" publishTime=\"");
                iso_time(&out, md_now_ms());
                sl_buf_append_str(&out, "\" minimumUpdatePeriod=\"PT1S\" timeShiftBufferDepth=\"");
                iso_dur(&out, total_ms + maxd);
                sl_buf_append_str(&out, "\" suggestedPresentationDelay=\"");
                iso_dur(&out, maxd * 2);
                sl_buf_append_str(&out, "\"");
            } else {
                sl_buf_append_str(&out, "type=\"static\" mediaPresentationDuration=\"");
                iso_dur(&out, total_ms);
                sl_buf_append_str(&out, "\"");
            }
            sl_buf_append_str(&out,
                              " minBufferTime=\"PT2S\">\n  <Period id=\"0\" start=\"PT0S\">\n");
            uint64_t bw = md_sel_bandwidth(m->st, &m->sel);
            for (size_t i = 0; i < info.ntracks; i++)
                representation(m, &out, &info.tracks[i], bw);
            sl_buf_append_str(&out, "  </Period>\n</MPD>\n");
            if (out.oom)
                md_respond_error(m->ex, 500, "InternalFailure", "out of memory");
            else
                md_respond_text(m->ex, "application/dash+xml", &out);
            sl_buf_cleanup(&out);
        }
    }
    sl_exchange_unref(m->ex);
    md_sel_free(&m->sel);
    md_stream_unref(m->st);
    free(m);
}

static void serve_manifest(sl_exchange *ex, const sl_http_request *req, const md_session *s,
                           md_stream *st)
{
    mpd_ctx *m = calloc(1, sizeof(*m));
    if (!m || md_select(s, st, md_now_ms(), &m->sel)) {
        free(m);
        md_respond_error(ex, 500, "InternalFailure", "out of memory");
        return;
    }
    if (m->sel.w0 >= m->sel.w1) {
        md_sel_free(&m->sel);
        free(m);
        md_respond_error(ex, 404, "ResourceNotFoundException",
                         "No fragments found in the stream for the streaming request.");
        return;
    }
    /* the callback keeps its own reference on the stream */
    md_stream *own = md_stream_for_session(s);
    if (!own) {
        md_sel_free(&m->sel);
        free(m);
        md_respond_error(ex, 404, "ResourceNotFoundException", "The stream is gone.");
        return;
    }
    m->ex = ex;
    m->s = *s;
    m->st = own;
    md_query_get(req->query, "SessionToken", m->token, sizeof(m->token));
    sl_exchange_ref(ex);
    md_sel first = m->sel;
    first.w1 = first.w0 + 1; /* probe the header the manifest starts with */
    int rc = md_probe_session(st, &first, mpd_probed, m);
    if (rc) {
        md_stream_unref(own);
        md_sel_free(&m->sel);
        free(m);
        md_respond_error(ex, 500, "InternalFailure", sl_err_str(rc));
        sl_exchange_unref(ex);
    }
}

void md_handle_dash(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    md_session s;
    md_stream *st;
    if (md_session_from_request(ex, req, &s, &st))
        return;
    sl_slice p = req->path;
    const char *name = p.ptr + sizeof("/dash/v1/") - 1;
    size_t nlen = p.len - (sizeof("/dash/v1/") - 1);
#define IS(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
    if (s.proto != MD_DASH)
        md_respond_error(ex, 403, "NotAuthorizedException", "Not a DASH session token.");
    else if (IS("getDASHManifest.mpd"))
        serve_manifest(ex, req, &s, st);
    else if (IS("getMP4InitFragment.mp4"))
        md_serve_init(ex, req, &s, st);
    else if (IS("getMP4MediaFragment.mp4"))
        md_serve_fragment(ex, req, &s, st, 0);
    else
        md_respond_error(ex, 404, "ResourceNotFoundException", "Unknown session resource.");
#undef IS
    md_stream_unref(st);
}

void sl_media_get_dash_streaming_session_url(sl_api_call *call)
{
    md_create_session(call, MD_DASH);
}
