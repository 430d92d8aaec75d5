/* kvssink element: request pads -> collect pads -> MKV packaging -> content store -> uploader.
 *
 * Pads: request pads "video_%u" (H.264 avc/au, H.265) and "audio_%u" (AAC raw, A-law, µ-law),
 * at most one of each, as the AWS element. A GstCollectPads hands buffers over in timestamp
 * order across pads, which interleaves audio and video. The element has the SINK flag and posts
 * EOS itself once the last fragment is PERSISTED (or stop-stream-timeout passes).
 *
 * Packaging (collected(), streaming thread): each buffer gets an absolute time: realtime and
 * near-realtime rebase the first buffer's PTS on the wall clock (frame-timecodes=true) or use
 * the wall clock (false); offline adds file-start-time; use-original-pts takes the PTS as epoch
 * ns. Timecodes are that time in timecode-scale ms units, made relative to the first frame when
 * absolute-fragment-times=false. A new Cluster (= fragment) starts at a video key frame (every
 * one with key-frame-fragmentation, else the first after fragment-duration), for audio-only
 * streams after fragment-duration, and whenever a block's relative timecode would overflow
 * int16. Frames before the first key frame, CORRUPTED / DECODE_ONLY buffers and delta frames
 * after a DISCONT are dropped (what the AWS element drops, except that a bare DISCONT key frame
 * is kept). Buffer times are converted to running time (collect pads' clip function) unless
 * disable-buffer-clipping is set. The stream header is built from the caps at the first frame and
 * rebuilt on caps changes (a new header generation makes the uploader start a new PutMedia
 * session).
 *
 * Fragment metadata: the AWS element's custom downstream event "kvs-add-metadata" {name, value,
 * persist} queues a tag; the next fragment is preceded by a level-1 Tags holding every queued
 * item (persistent ones again before every later fragment), at most 10.
 *
 * render never touches the network: bytes go into the bounded content store (kvs_store.c) and
 * the uploader thread (kvs_upload.c) is woken. Its fatal errors are latched and raised on the
 * next buffer with GST_ELEMENT_ERROR; its warnings, ERROR acks ("stream-error" signal) and
 * statistics ("kvssink-stats" element messages) go on the bus from its thread.
 *
 * Threads: properties under the object lock; collected() and events on the streaming thread;
 * uploader callbacks on the uploader thread touch only `lock`-guarded fields and the bus. */
#include "gstkvssink.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kvs_creds.h"
#include "kvs_pack.h"
#include "sluice/err.h"

GST_DEBUG_CATEGORY_STATIC(kvssink_debug);
#define GST_CAT_DEFAULT kvssink_debug

#define DEFAULT_STREAM_NAME     "DEFAULT_STREAM"
#define DEFAULT_REGION          "us-west-2"
#define DEFAULT_ACCESS_KEY      "access_key"
#define DEFAULT_SECRET_KEY      "secret_key"
#define DEFAULT_SESSION_TOKEN   "session_token"
#define DEFAULT_CREDENTIAL_PATH ".kvs/credential"
#define DEFAULT_CONTENT_TYPE    "video/h264"
#define DEFAULT_CODEC_ID        "V_MPEG4/ISO/AVC"
#define DEFAULT_TRACK_NAME      "kinesis_video"
#define DEFAULT_LOG_CONFIG      "../kvs_log_configuration"
#define DEFAULT_USER_AGENT      "AWS-SDK-KVS-CPP-CLIENT/3.6.0 Sluice-kvssink/0.1.0"
#define DEFAULT_DEVICE_NAME     "Kinesis_Video_Device"
#define AUDIO_TRACK_NAME        "audio"
#define REL_MAX                 32767

typedef enum {
    STREAMING_REALTIME = 0,
    STREAMING_NEAR_REALTIME = 1,
    STREAMING_OFFLINE = 2,
} StreamingType;

struct _GstKvsSink {
    GstElement parent;
    GstCollectPads *collect;
    GstPad *video_pad, *audio_pad;

    /* properties (object lock) */
    gchar *stream_name, *region, *access_key, *secret_key, *session_token, *credential_path;
    gchar *content_type, *codec_id, *track_name, *log_config, *user_agent, *control_plane_uri;
    GstStructure *iot_certificate, *stream_tags;
    guint rotation_period, storage_size, stop_stream_timeout, connection_timeout;
    guint completion_timeout, max_latency, retention_period, framerate, avg_bandwidth_bps;
    guint buffer_duration, replay_duration, connection_staleness, fragment_duration;
    guint timecode_scale;
    gint streaming_type;
    guint64 file_start_time;
    gboolean key_frame_fragmentation, frame_timecodes, absolute_fragment_times, fragment_acks;
    gboolean restart_on_error, recalculate_metrics, allow_create_stream, disable_buffer_clipping;
    gboolean use_original_pts, get_kvs_metrics;

    /* streaming state (streaming thread) */
    sl_kvs_store *store;
    sl_kvs_upload *up;
    gboolean header_set, caps_changed, cluster_open, need_key, base_set, eos;
    GstCaps *video_caps, *audio_caps;
    guint vtrack, atrack;
    guint64 cluster_tc, first_tc;
    gint64 base_ns, file_start_ns;
    guint8 uid[16];
    sl_buf scratch, header;
    gint64 render_cpu_ns;
    guint64 frames_dropped;

    /* uploader -> element, and fragment metadata from pad threads (lock) */
    GMutex lock;
    GArray *meta; /* kvs_meta, applied at the next fragment */
    gchar *fatal;
    gint64 last_stats_ns;
};

#define MAX_META       10 /* per fragment (the service's limit) */
#define MAX_META_NAME  128
#define MAX_META_VALUE 256

typedef struct kvs_meta {
    char name[MAX_META_NAME + 1];
    char value[MAX_META_VALUE + 1];
    gboolean persist;
} kvs_meta;

G_DEFINE_TYPE(GstKvsSink, gst_kvs_sink, GST_TYPE_ELEMENT)

enum {
    PROP_0,
    PROP_STREAM_NAME,
    PROP_USER_AGENT,
    PROP_RETENTION_PERIOD,
    PROP_STREAMING_TYPE,
    PROP_CONTENT_TYPE,
    PROP_MAX_LATENCY,
    PROP_FRAGMENT_DURATION,
    PROP_TIMECODE_SCALE,
    PROP_KEY_FRAME_FRAGMENTATION,
    PROP_FRAME_TIMECODES,
    PROP_ABSOLUTE_FRAGMENT_TIMES,
    PROP_FRAGMENT_ACKS,
    PROP_RESTART_ON_ERROR,
    PROP_RECALCULATE_METRICS,
    PROP_FRAMERATE,
    PROP_AVG_BANDWIDTH_BPS,
    PROP_BUFFER_DURATION,
    PROP_REPLAY_DURATION,
    PROP_CONNECTION_STALENESS,
    PROP_CODEC_ID,
    PROP_TRACK_NAME,
    PROP_ACCESS_KEY,
    PROP_SECRET_KEY,
    PROP_SESSION_TOKEN,
    PROP_AWS_REGION,
    PROP_ROTATION_PERIOD,
    PROP_LOG_CONFIG_PATH,
    PROP_STORAGE_SIZE,
    PROP_STOP_STREAM_TIMEOUT,
    PROP_SERVICE_CONNECTION_TIMEOUT,
    PROP_SERVICE_COMPLETION_TIMEOUT,
    PROP_CREDENTIAL_FILE_PATH,
    PROP_IOT_CERTIFICATE,
    PROP_STREAM_TAGS,
    PROP_FILE_START_TIME,
    PROP_DISABLE_BUFFER_CLIPPING,
    PROP_USE_ORIGINAL_PTS,
    PROP_GET_METRICS,
    PROP_ALLOW_CREATE_STREAM,
    PROP_CONTROL_PLANE_URI,
};

enum { SIGNAL_STREAM_ERROR, N_SIGNALS };
static guint signals[N_SIGNALS];

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE(
    "video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS("video/x-h264, stream-format = (string) avc, alignment = (string) au, "
                    "width = (int) [ 16, MAX ], height = (int) [ 16, MAX ]; "
                    "video/x-h265, stream-format = (string) { hvc1, hev1 }, "
                    "alignment = (string) au, width = (int) [ 16, MAX ], "
                    "height = (int) [ 16, MAX ]"));

static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE(
    "audio_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS("audio/mpeg, mpegversion = (int) { 2, 4 }, stream-format = (string) raw, "
                    "channels = (int) [ 1, MAX ], rate = (int) [ 1, MAX ]; "
                    "audio/x-alaw, channels = (int) { 1, 2 }, rate = (int) [ 8000, 192000 ]; "
                    "audio/x-mulaw, channels = (int) { 1, 2 }, rate = (int) [ 8000, 192000 ]"));

static GType streaming_type_get_type(void)
{
    static GType t = 0;
    static const GEnumValue values[] = {
        {STREAMING_REALTIME, "streaming type realtime", "realtime"},
        {STREAMING_NEAR_REALTIME, "streaming type near realtime", "near-realtime"},
        {STREAMING_OFFLINE, "streaming type offline", "offline"},
        {0, NULL, NULL},
    };
    if (g_once_init_enter(&t)) {
        GType id = g_enum_register_static("GstKvsSinkStreamingType", values);
        g_once_init_leave(&t, id);
    }
    return t;
}

static gint64 mono_ns(void)
{
    return g_get_monotonic_time() * 1000;
}

static gint64 thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (gint64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- uploader callbacks (uploader thread) ---- */

static void on_fatal(void *ud, const char *msg)
{
    GstKvsSink *self = ud;
    g_mutex_lock(&self->lock);
    if (!self->fatal)
        self->fatal = g_strdup(msg);
    g_mutex_unlock(&self->lock);
    GST_ERROR_OBJECT(self, "%s", msg);
    if (self->store)
        sl_kvs_store_cancel(self->store); /* an EOS wait must not sit out its timeout */
}

static void on_warning(void *ud, const char *msg)
{
    GstKvsSink *self = ud;
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("%s", msg), (NULL));
}

static void on_error_ack(void *ud, int error_id, const char *code, uint64_t tc)
{
    GstKvsSink *self = ud;
    GST_WARNING_OBJECT(self, "ERROR ack %d %s for fragment %" G_GUINT64_FORMAT, error_id, code,
                       (guint64)tc);
    g_signal_emit(self, signals[SIGNAL_STREAM_ERROR], 0, (guint64)error_id);
}

static void post_stats(GstKvsSink *self, gboolean force)
{
    sl_kvs_stats s;
    sl_kvs_upload_stats u = {0};
    gint64 now = mono_ns();
    GstStructure *st;

    g_mutex_lock(&self->lock);
    if (!force && now - self->last_stats_ns < 500 * GST_MSECOND) {
        g_mutex_unlock(&self->lock);
        return;
    }
    self->last_stats_ns = now;
    g_mutex_unlock(&self->lock);
    if (!self->store)
        return;
    sl_kvs_store_stats(self->store, &s);
    if (self->up)
        sl_kvs_upload_get_stats(self->up, &u);
    st = gst_structure_new(
        "kvssink-stats", "fragments-in", G_TYPE_UINT64, s.fragments_in, "frames-in", G_TYPE_UINT64,
        s.frames_in, "bytes-in", G_TYPE_UINT64, s.bytes_in, "fragments-persisted", G_TYPE_UINT64,
        s.fragments_done, "fragments-dropped", G_TYPE_UINT64, s.fragments_dropped,
        "fragments-failed", G_TYPE_UINT64, s.fragments_failed, "store-bytes", G_TYPE_UINT64,
        s.bytes_held, "store-fragments", G_TYPE_UINT64, s.fragments_held, "bytes-sent",
        G_TYPE_UINT64, u.bytes_sent, "sessions", G_TYPE_UINT64, u.sessions, "reconnects",
        G_TYPE_UINT64, u.reconnects, "latency-last-frame-ms", G_TYPE_DOUBLE, s.lat_last_ns / 1e6,
        "latency-last-frame-avg-ms", G_TYPE_DOUBLE,
        s.lat_count ? s.lat_last_ns_sum / 1e6 / (double)s.lat_count : 0.0,
        "latency-last-frame-max-ms", G_TYPE_DOUBLE, s.lat_last_ns_max / 1e6,
        "latency-first-frame-avg-ms", G_TYPE_DOUBLE,
        s.lat_count ? s.lat_first_ns_sum / 1e6 / (double)s.lat_count : 0.0,
        "latency-first-frame-max-ms", G_TYPE_DOUBLE, s.lat_first_ns_max / 1e6, "cpu-upload-ms",
        G_TYPE_DOUBLE, u.cpu_ns / 1e6, "cpu-render-ms", G_TYPE_DOUBLE,
        __atomic_load_n(&self->render_cpu_ns, __ATOMIC_RELAXED) / 1e6, "frames-dropped",
        G_TYPE_UINT64, __atomic_load_n(&self->frames_dropped, __ATOMIC_RELAXED), NULL);
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), st));
}

static void on_progress(void *ud)
{
    post_stats(ud, FALSE);
}

/* ---- header from caps ---- */

static gboolean buffer_bytes(const GValue *v, sl_buf *out)
{
    GstBuffer *b;
    GstMapInfo m;
    if (!v || !GST_VALUE_HOLDS_BUFFER(v))
        return FALSE;
    b = gst_value_get_buffer(v);
    if (!gst_buffer_map(b, &m, GST_MAP_READ))
        return FALSE;
    sl_buf_append(out, m.data, m.size);
    gst_buffer_unmap(b, &m);
    return TRUE;
}

/* Builds the stream header into self->header and the media type into mt. first_key is the
 * first video key frame, used for SPS/PPS when the caps carry no codec_data. */
static int build_header(GstKvsSink *self, GstBuffer *first_key, char *mt, size_t mtn)
{
    sl_mkv_header *h = g_new0(sl_mkv_header, 1);
    sl_buf cpd[2] = {SL_BUF_INIT, SL_BUF_INIT};
    uint8_t wfx[18];
    int rc = 0;
    size_t nt = 0;

    sl_kvs_pack_info(h, (uint64_t)self->timecode_scale * 1000000, self->uid);
    mt[0] = 0;
    self->vtrack = self->atrack = 0;
    if (self->video_caps) {
        GstStructure *s = gst_caps_get_structure(self->video_caps, 0);
        sl_mkv_track *t = &h->tracks[nt];
        int w = 0, ht = 0;
        gboolean h265 = gst_structure_has_name(s, "video/x-h265");
        t->number = nt + 1;
        t->uid = 1;
        t->type = 1;
        GST_OBJECT_LOCK(self);
        g_strlcpy(t->name, self->track_name, sizeof(t->name));
        g_strlcpy(t->codec_id, h265 ? "V_MPEGH/ISO/HEVC" : self->codec_id, sizeof(t->codec_id));
        GST_OBJECT_UNLOCK(self);
        gst_structure_get_int(s, "width", &w);
        gst_structure_get_int(s, "height", &ht);
        t->pixel_width = (uint64_t)w;
        t->pixel_height = (uint64_t)ht;
        if (!buffer_bytes(gst_structure_get_value(s, "codec_data"), &cpd[0]) && !h265 &&
            first_key) {
            GstMapInfo m;
            if (gst_buffer_map(first_key, &m, GST_MAP_READ)) {
                if (sl_kvs_avcc_from_frame(&cpd[0], m.data, m.size) != 0)
                    GST_WARNING_OBJECT(self, "no codec_data and no SPS/PPS in the first frame");
                gst_buffer_unmap(first_key, &m);
            }
        }
        t->codec_private = (const uint8_t *)cpd[0].data;
        t->codec_private_len = cpd[0].len;
        g_strlcat(mt, h265 ? "video/h265" : "video/h264", mtn);
        self->vtrack = (guint)++nt;
    }
    if (self->audio_caps) {
        GstStructure *s = gst_caps_get_structure(self->audio_caps, 0);
        sl_mkv_track *t = &h->tracks[nt];
        int rate = 0, ch = 0;
        gst_structure_get_int(s, "rate", &rate);
        gst_structure_get_int(s, "channels", &ch);
        t->number = nt + 1;
        t->uid = nt + 1;
        t->type = 2;
        g_strlcpy(t->name, AUDIO_TRACK_NAME, sizeof(t->name));
        t->sampling_hz = rate;
        t->channels = (uint64_t)ch;
        if (mt[0])
            g_strlcat(mt, ",", mtn);
        if (gst_structure_has_name(s, "audio/mpeg")) {
            g_strlcpy(t->codec_id, "A_AAC", sizeof(t->codec_id));
            buffer_bytes(gst_structure_get_value(s, "codec_data"), &cpd[1]);
            g_strlcat(mt, "audio/aac", mtn);
        } else {
            gboolean mulaw = gst_structure_has_name(s, "audio/x-mulaw");
            g_strlcpy(t->codec_id, "A_MS/ACM", sizeof(t->codec_id));
            sl_kvs_waveformatex(wfx, mulaw, (unsigned)ch, (unsigned)rate);
            sl_buf_append(&cpd[1], wfx, sizeof(wfx));
            t->bit_depth = 8;
            g_strlcat(mt, mulaw ? "audio/mulaw" : "audio/alaw", mtn);
        }
        t->codec_private = (const uint8_t *)cpd[1].data;
        t->codec_private_len = cpd[1].len;
        self->atrack = (guint)++nt;
    }
    h->ntracks = nt;
    sl_buf_reset(&self->header);
    rc = nt ? sl_kvs_pack_header(&self->header, h) : SL_EINVAL;
    sl_buf_cleanup(&cpd[0]);
    sl_buf_cleanup(&cpd[1]);
    g_free(h);
    return rc;
}

/* ---- uploader start ---- */

static gboolean tag_cb(GQuark field, const GValue *v, gpointer ud)
{
    sl_kvs_upload_config *c = ud;
    if (c->ntags >= SL_KVS_MAX_TAGS || !G_VALUE_HOLDS_STRING(v))
        return TRUE;
    g_strlcpy(c->tag_keys[c->ntags], g_quark_to_string(field), sizeof(c->tag_keys[0]));
    g_strlcpy(c->tag_values[c->ntags], g_value_get_string(v), sizeof(c->tag_values[0]));
    c->ntags++;
    return TRUE;
}

static gboolean start_uploader(GstKvsSink *self, const char *media_type)
{
    sl_kvs_upload_config *c = g_new0(sl_kvs_upload_config, 1);
    sl_kvs_upload_events ev = {.ud = self,
                               .on_fatal = on_fatal,
                               .on_warning = on_warning,
                               .on_error_ack = on_error_ack,
                               .on_progress = on_progress};
    const char *ca = g_getenv("KVSSINK_CA_CERT_PATH");
    int rc;

    GST_OBJECT_LOCK(self);
    sl_kvs_region_resolve(self->region, c->region, sizeof(c->region));
    sl_kvs_endpoint_resolve(self->control_plane_uri, c->region, c->control_url,
                            sizeof(c->control_url));
    rc = sl_kvs_creds_resolve(self->access_key, self->secret_key, self->session_token, &c->creds);
    g_strlcpy(c->stream_name, self->stream_name, sizeof(c->stream_name));
    g_strlcpy(c->user_agent, self->user_agent, sizeof(c->user_agent));
    g_strlcpy(c->device_name, DEFAULT_DEVICE_NAME, sizeof(c->device_name));
    g_strlcpy(c->media_type, media_type[0] ? media_type : self->content_type,
              sizeof(c->media_type));
    c->allow_create = self->allow_create_stream;
    c->retention_hours = self->retention_period;
    if (self->stream_tags)
        gst_structure_foreach(self->stream_tags, tag_cb, c);
    c->fragment_acks = self->fragment_acks;
    c->absolute = self->absolute_fragment_times || self->streaming_type == STREAMING_OFFLINE;
    c->staleness_s = self->connection_staleness;
    c->connect_timeout_s = self->connection_timeout;
    c->completion_timeout_s = self->completion_timeout;
    c->restart_on_error = self->restart_on_error;
    GST_OBJECT_UNLOCK(self);
    c->stream_start_ms = (int64_t)(self->first_tc * self->timecode_scale);
    if (ca)
        g_strlcpy(c->ca_path, ca, sizeof(c->ca_path));
    if (rc != 0) {
        GST_ELEMENT_ERROR(self, RESOURCE, NOT_AUTHORIZED, ("no AWS credentials found"),
                          ("set access-key/secret-key, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                           "or a credentials file"));
        g_free(c);
        return FALSE;
    }
    GST_INFO_OBJECT(self, "streaming %s to %s (region %s, credentials from %s)", c->stream_name,
                    c->control_url, c->region, c->creds.source);
    self->up = sl_kvs_upload_start(c, self->store, &ev);
    sl_kvs_creds_wipe(&c->creds);
    g_free(c);
    if (!self->up) {
        GST_ELEMENT_ERROR(self, RESOURCE, FAILED, ("could not start the uploader"), (NULL));
        return FALSE;
    }
    return TRUE;
}

/* ---- packaging (streaming thread) ---- */

static gboolean raise_latched(GstKvsSink *self)
{
    gchar *msg = NULL;
    g_mutex_lock(&self->lock);
    if (self->fatal)
        msg = g_strdup(self->fatal);
    g_mutex_unlock(&self->lock);
    if (!msg)
        return FALSE;
    GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("%s", msg), (NULL));
    g_free(msg);
    return TRUE;
}

static void warn_drops(GstKvsSink *self, uint64_t dropped)
{
    if (dropped)
        GST_ELEMENT_WARNING(self, RESOURCE, NO_SPACE_LEFT,
                            ("content store full: dropped the %" G_GUINT64_FORMAT
                             " oldest unacknowledged fragment(s)",
                             (guint64)dropped),
                            ("storage-size %u MB, buffer-duration %u s", self->storage_size,
                             self->buffer_duration));
}

/* Writes the pending fragment metadata (Tags before the Cluster) into scratch: every item added
 * since the last fragment, and the persistent ones again; one-shot items are then forgotten. */
static void pack_metadata(GstKvsSink *self)
{
    const char *names[MAX_META], *values[MAX_META];
    size_t n = 0;
    g_mutex_lock(&self->lock);
    for (guint i = 0; i < self->meta->len && n < MAX_META; i++) {
        kvs_meta *m = &g_array_index(self->meta, kvs_meta, i);
        names[n] = m->name;
        values[n] = m->value;
        n++;
    }
    if (n)
        sl_kvs_pack_metadata(&self->scratch, names, values, n);
    for (guint i = self->meta->len; i-- > 0;) {
        if (!g_array_index(self->meta, kvs_meta, i).persist)
            g_array_remove_index(self->meta, i);
    }
    g_mutex_unlock(&self->lock);
}

/* The AWS element's custom downstream event "kvs-add-metadata" {name, value, persist}. */
static void add_metadata(GstKvsSink *self, const GstStructure *st)
{
    const char *name = gst_structure_get_string(st, "name");
    const char *value = gst_structure_get_string(st, "value");
    gboolean persist = FALSE;
    kvs_meta m;
    gst_structure_get_boolean(st, "persist", &persist);
    if (!name || !value || !name[0] || strlen(name) > MAX_META_NAME ||
        strlen(value) > MAX_META_VALUE || g_ascii_strncasecmp(name, "AWS", 3) == 0) {
        GST_ELEMENT_WARNING(self, STREAM, FAILED,
                            ("fragment metadata refused: a name of 1-%d bytes not starting with "
                             "AWS and a value of at most %d bytes are needed",
                             MAX_META_NAME, MAX_META_VALUE),
                            (NULL));
        return;
    }
    memset(&m, 0, sizeof(m));
    g_strlcpy(m.name, name, sizeof(m.name));
    g_strlcpy(m.value, value, sizeof(m.value));
    m.persist = persist;
    g_mutex_lock(&self->lock);
    for (guint i = 0; i < self->meta->len; i++) {
        kvs_meta *old = &g_array_index(self->meta, kvs_meta, i);
        if (old->persist && persist && strcmp(old->name, name) == 0) {
            *old = m; /* a persistent item is replaced by name */
            g_mutex_unlock(&self->lock);
            return;
        }
    }
    if (self->meta->len < MAX_META)
        g_array_append_val(self->meta, m);
    else
        GST_ELEMENT_WARNING(self, STREAM, FAILED,
                            ("more than %d metadata items for one fragment: dropped", MAX_META),
                            (NULL));
    g_mutex_unlock(&self->lock);
}

static GstFlowReturn package(GstKvsSink *self, GstCollectData *data, GstBuffer *buf)
{
    gboolean is_video = data->pad == self->video_pad;
    gboolean key = is_video ? !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT) : TRUE;
    GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
    guint64 scale_ns = (guint64)self->timecode_scale * 1000000, tc, abs_ns;
    gint64 rel, now = mono_ns();
    GstMapInfo m;
    uint64_t dropped = 0;
    int rc;

    if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_CORRUPTED) ||
        GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DECODE_ONLY) ||
        (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_HEADER) && !GST_CLOCK_TIME_IS_VALID(ts)))
        goto drop;
    if (is_video && GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DISCONT) && !key)
        self->need_key = TRUE;
    if (is_video && self->need_key && !key)
        goto drop;
    if (self->video_pad && !self->cluster_open && !(is_video && key))
        goto drop; /* a fragment starts with a video key frame */
    if (is_video && key)
        self->need_key = FALSE;

    /* absolute time of the frame */
    if (self->use_original_pts && GST_CLOCK_TIME_IS_VALID(ts)) {
        abs_ns = ts;
    } else if (self->streaming_type == STREAMING_OFFLINE && GST_CLOCK_TIME_IS_VALID(ts)) {
        abs_ns = (guint64)self->file_start_ns + ts;
    } else if (self->frame_timecodes && GST_CLOCK_TIME_IS_VALID(ts)) {
        if (!self->base_set) {
            self->base_ns = g_get_real_time() * 1000 - (gint64)ts;
            self->base_set = TRUE;
        }
        abs_ns = (guint64)(self->base_ns + (gint64)ts);
    } else {
        abs_ns = (guint64)g_get_real_time() * 1000;
    }
    tc = abs_ns / scale_ns;
    if (!self->header_set && !self->cluster_open)
        self->first_tc = tc;
    if (!(self->absolute_fragment_times || self->streaming_type == STREAMING_OFFLINE))
        tc = tc >= self->first_tc ? tc - self->first_tc : 0;

    /* new fragment? */
    gboolean cut = !self->cluster_open;
    if (self->cluster_open) {
        gint64 since = (gint64)tc - (gint64)self->cluster_tc;
        if (self->video_pad)
            cut = is_video && key &&
                  (self->key_frame_fragmentation || since >= (gint64)self->fragment_duration);
        else
            cut = since >= (gint64)self->fragment_duration;
        if (since > REL_MAX)
            cut = TRUE;
    }
    if (cut && (!self->header_set || self->caps_changed)) {
        char mt[160];
        size_t old_len = self->header.len;
        sl_buf old = SL_BUF_INIT;
        sl_buf_append(&old, self->header.data, self->header.len);
        if (build_header(self, is_video && key ? buf : NULL, mt, sizeof(mt)) != 0) {
            sl_buf_cleanup(&old);
            GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("could not build the MKV header"), (NULL));
            return GST_FLOW_ERROR;
        }
        if (!self->header_set || old_len != self->header.len ||
            memcmp(old.data, self->header.data, old_len) != 0) {
            if (sl_kvs_store_set_header(self->store, self->header.data, self->header.len) != 0) {
                sl_buf_cleanup(&old);
                return GST_FLOW_ERROR;
            }
        }
        sl_buf_cleanup(&old);
        self->caps_changed = FALSE;
        if (!self->header_set) {
            self->header_set = TRUE;
            if (!start_uploader(self, mt))
                return GST_FLOW_ERROR;
        }
    }

    if (!gst_buffer_map(buf, &m, GST_MAP_READ))
        goto drop;
    sl_buf_reset(&self->scratch);
    if (cut) {
        self->cluster_tc = tc;
        self->cluster_open = TRUE;
        pack_metadata(self);
        sl_kvs_pack_cluster(&self->scratch, tc);
    }
    rel = (gint64)tc - (gint64)self->cluster_tc;
    rel = CLAMP(rel, -32768, REL_MAX);
    sl_kvs_pack_block(&self->scratch, is_video ? self->vtrack : self->atrack, (int16_t)rel, key,
                      m.data, m.size);
    gst_buffer_unmap(buf, &m);
    if (self->scratch.oom)
        return GST_FLOW_ERROR;
    if (cut)
        rc = sl_kvs_store_begin(self->store, tc, self->scratch.data, self->scratch.len, now,
                                &dropped);
    else
        rc = sl_kvs_store_append(self->store, self->scratch.data, self->scratch.len, now, &dropped);
    if (rc != 0) {
        GST_ELEMENT_ERROR(self, RESOURCE, NO_SPACE_LEFT, ("content store: %s", sl_err_str(rc)),
                          (NULL));
        return GST_FLOW_ERROR;
    }
    warn_drops(self, dropped);
    sl_kvs_upload_wake(self->up);
    return GST_FLOW_OK;
drop:
    __atomic_fetch_add(&self->frames_dropped, 1, __ATOMIC_RELAXED);
    GST_LOG_OBJECT(self, "dropping buffer %" GST_PTR_FORMAT, buf);
    return GST_FLOW_OK;
}

static GstFlowReturn finish_stream(GstKvsSink *self)
{
    guint timeout;
    gboolean drained = TRUE;

    if (self->eos)
        return GST_FLOW_EOS;
    self->eos = TRUE;
    GST_OBJECT_LOCK(self);
    timeout = self->stop_stream_timeout;
    GST_OBJECT_UNLOCK(self);
    sl_kvs_store_end(self->store);
    if (self->up) {
        sl_kvs_upload_wake(self->up);
        drained = sl_kvs_store_wait_drained(self->store, (gint64)timeout * 1000);
    }
    post_stats(self, TRUE);
    if (raise_latched(self))
        return GST_FLOW_ERROR;
    if (!drained)
        GST_ELEMENT_WARNING(self, RESOURCE, WRITE,
                            ("not every fragment was acknowledged within stop-stream-timeout"),
                            ("%u s", timeout));
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_eos(GST_OBJECT(self)));
    return GST_FLOW_EOS;
}

static GstFlowReturn collected(GstCollectPads *pads, GstCollectData *data, GstBuffer *buf,
                               gpointer ud)
{
    GstKvsSink *self = ud;
    GstFlowReturn ret;
    gint64 cpu0 = thread_cpu_ns();
    (void)pads;

    if (raise_latched(self)) {
        if (buf)
            gst_buffer_unref(buf);
        return GST_FLOW_ERROR;
    }
    if (!buf)
        return finish_stream(self);
    ret = package(self, data, buf);
    gst_buffer_unref(buf);
    /* read by the uploader thread's statistics */
    __atomic_fetch_add(&self->render_cpu_ns, thread_cpu_ns() - cpu0, __ATOMIC_RELAXED);
    return ret;
}

static gboolean sink_event(GstCollectPads *pads, GstCollectData *data, GstEvent *event, gpointer ud)
{
    GstKvsSink *self = ud;
    if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
        GstCaps *caps;
        GstCaps **slot = data->pad == self->video_pad ? &self->video_caps : &self->audio_caps;
        gst_event_parse_caps(event, &caps);
        if (!*slot || !gst_caps_is_equal(*slot, caps)) {
            if (*slot)
                self->caps_changed = TRUE;
            gst_caps_replace(slot, caps);
        }
    }
    if (GST_EVENT_TYPE(event) == GST_EVENT_CUSTOM_DOWNSTREAM &&
        gst_event_has_name(event, "kvs-add-metadata")) {
        add_metadata(self, gst_event_get_structure(event));
        gst_event_unref(event);
        return TRUE;
    }
    return gst_collect_pads_event_default(pads, data, event, TRUE);
}

/* ---- pads ---- */

static GstPad *request_new_pad(GstElement *el, GstPadTemplate *templ, const gchar *name,
                               const GstCaps *caps)
{
    GstKvsSink *self = GST_KVS_SINK(el);
    GstElementClass *klass = GST_ELEMENT_GET_CLASS(el);
    gboolean video = templ == gst_element_class_get_pad_template(klass, "video_%u");
    GstPad *pad;
    (void)caps;

    GST_OBJECT_LOCK(self);
    if ((video && self->video_pad) || (!video && self->audio_pad)) {
        GST_OBJECT_UNLOCK(self);
        GST_WARNING_OBJECT(self, "only one %s pad is supported", video ? "video" : "audio");
        return NULL;
    }
    GST_OBJECT_UNLOCK(self);
    pad = gst_pad_new_from_template(templ, name ? name : (video ? "video_0" : "audio_0"));
    gst_collect_pads_add_pad(self->collect, pad, sizeof(GstCollectData), NULL, TRUE);
    GST_OBJECT_LOCK(self);
    if (video)
        self->video_pad = pad;
    else
        self->audio_pad = pad;
    GST_OBJECT_UNLOCK(self);
    gst_pad_set_active(pad, TRUE);
    gst_element_add_pad(el, pad);
    return pad;
}

static void release_pad(GstElement *el, GstPad *pad)
{
    GstKvsSink *self = GST_KVS_SINK(el);
    GST_OBJECT_LOCK(self);
    if (pad == self->video_pad)
        self->video_pad = NULL;
    if (pad == self->audio_pad)
        self->audio_pad = NULL;
    GST_OBJECT_UNLOCK(self);
    gst_collect_pads_remove_pad(self->collect, pad);
    gst_element_remove_pad(el, pad);
}

/* ---- state ---- */

static void reset_stream(GstKvsSink *self)
{
    self->header_set = self->caps_changed = self->cluster_open = FALSE;
    self->base_set = self->eos = FALSE;
    self->need_key = TRUE;
    self->first_tc = self->cluster_tc = 0;
    self->render_cpu_ns = 0;
    self->frames_dropped = 0;
    gst_caps_replace(&self->video_caps, NULL);
    gst_caps_replace(&self->audio_caps, NULL);
    g_mutex_lock(&self->lock);
    g_clear_pointer(&self->fatal, g_free);
    g_array_set_size(self->meta, 0);
    g_mutex_unlock(&self->lock);
}

static GstStateChangeReturn change_state(GstElement *el, GstStateChange t)
{
    GstKvsSink *self = GST_KVS_SINK(el);
    GstStateChangeReturn ret;

    switch (t) {
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
        guint64 limit, age;
        reset_stream(self);
        GST_OBJECT_LOCK(self);
        limit = (guint64)self->storage_size * 1024 * 1024;
        age = (guint64)self->buffer_duration * 1000;
        self->file_start_ns = (gint64)self->file_start_time * 1000000000;
        GST_OBJECT_UNLOCK(self);
        self->store = sl_kvs_store_new(limit, age);
        if (!self->store)
            return GST_STATE_CHANGE_FAILURE;
        g_random_set_seed((guint32)g_get_real_time());
        for (int i = 0; i < 16; i++)
            self->uid[i] = (guint8)g_random_int_range(0, 256);
        /* Buffer times become running times, as in the AWS element: that is what orders
         * audio against video (an encoder may start its segment at 1000 h) and what the
         * realtime rebase needs. Buffers outside the segment are clipped. */
        gst_collect_pads_set_clip_function(
            self->collect,
            self->disable_buffer_clipping ? NULL : gst_collect_pads_clip_running_time, self);
        gst_collect_pads_start(self->collect);
        break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY:
        if (self->store)
            sl_kvs_store_cancel(self->store); /* ends an EOS wait in the streaming thread */
        gst_collect_pads_stop(self->collect);
        break;
    default:
        break;
    }
    ret = GST_ELEMENT_CLASS(gst_kvs_sink_parent_class)->change_state(el, t);
    if (t == GST_STATE_CHANGE_PAUSED_TO_READY) {
        post_stats(self, TRUE);
        sl_kvs_upload_stop(self->up);
        self->up = NULL;
        sl_kvs_store_free(self->store);
        self->store = NULL;
    }
    return ret;
}

/* ---- properties ---- */

/* The properties that map straight onto one field of the element: one list, which set_property and
 * get_property both expand, each with its own STR, UINT and BOOL case macros. */
#define KVS_SIMPLE_PROPS(STR, UINT, BOOL)                                                          \
    STR(PROP_STREAM_NAME, stream_name)                                                             \
    STR(PROP_USER_AGENT, user_agent)                                                               \
    STR(PROP_CONTENT_TYPE, content_type)                                                           \
    STR(PROP_CODEC_ID, codec_id)                                                                   \
    STR(PROP_TRACK_NAME, track_name)                                                               \
    STR(PROP_ACCESS_KEY, access_key)                                                               \
    STR(PROP_SECRET_KEY, secret_key)                                                               \
    STR(PROP_SESSION_TOKEN, session_token)                                                         \
    STR(PROP_AWS_REGION, region)                                                                   \
    STR(PROP_LOG_CONFIG_PATH, log_config)                                                          \
    STR(PROP_CREDENTIAL_FILE_PATH, credential_path)                                                \
    STR(PROP_CONTROL_PLANE_URI, control_plane_uri)                                                 \
    UINT(PROP_RETENTION_PERIOD, retention_period)                                                  \
    UINT(PROP_MAX_LATENCY, max_latency)                                                            \
    UINT(PROP_FRAGMENT_DURATION, fragment_duration)                                                \
    UINT(PROP_TIMECODE_SCALE, timecode_scale)                                                      \
    UINT(PROP_FRAMERATE, framerate)                                                                \
    UINT(PROP_AVG_BANDWIDTH_BPS, avg_bandwidth_bps)                                                \
    UINT(PROP_BUFFER_DURATION, buffer_duration)                                                    \
    UINT(PROP_REPLAY_DURATION, replay_duration)                                                    \
    UINT(PROP_CONNECTION_STALENESS, connection_staleness)                                          \
    UINT(PROP_ROTATION_PERIOD, rotation_period)                                                    \
    UINT(PROP_STORAGE_SIZE, storage_size)                                                          \
    UINT(PROP_STOP_STREAM_TIMEOUT, stop_stream_timeout)                                            \
    UINT(PROP_SERVICE_CONNECTION_TIMEOUT, connection_timeout)                                      \
    UINT(PROP_SERVICE_COMPLETION_TIMEOUT, completion_timeout)                                      \
    BOOL(PROP_KEY_FRAME_FRAGMENTATION, key_frame_fragmentation)                                    \
    BOOL(PROP_FRAME_TIMECODES, frame_timecodes)                                                    \
    BOOL(PROP_ABSOLUTE_FRAGMENT_TIMES, absolute_fragment_times)                                    \
    BOOL(PROP_FRAGMENT_ACKS, fragment_acks)                                                        \
    BOOL(PROP_RESTART_ON_ERROR, restart_on_error)                                                  \
    BOOL(PROP_RECALCULATE_METRICS, recalculate_metrics)                                            \
    BOOL(PROP_DISABLE_BUFFER_CLIPPING, disable_buffer_clipping)                                    \
    BOOL(PROP_USE_ORIGINAL_PTS, use_original_pts)                                                  \
    BOOL(PROP_GET_METRICS, get_kvs_metrics)                                                        \
    BOOL(PROP_ALLOW_CREATE_STREAM, allow_create_stream)

static void set_property(GObject *obj, guint id, const GValue *v, GParamSpec *ps)
{
    GstKvsSink *self = GST_KVS_SINK(obj);
    GST_OBJECT_LOCK(self);
    switch (id) {
#define STR(P, f)                                                                                  \
    case P:                                                                                        \
        g_free(self->f);                                                                           \
        self->f = g_value_dup_string(v);                                                           \
        break;
#define UINT(P, f)                                                                                 \
    case P:                                                                                        \
        self->f = g_value_get_uint(v);                                                             \
        break;
#define BOOL(P, f)                                                                                 \
    case P:                                                                                        \
        self->f = g_value_get_boolean(v);                                                          \
        break;
        KVS_SIMPLE_PROPS(STR, UINT, BOOL)
    case PROP_STREAMING_TYPE:
        self->streaming_type = g_value_get_enum(v);
        break;
    case PROP_FILE_START_TIME:
        self->file_start_time = g_value_get_uint64(v);
        break;
    case PROP_IOT_CERTIFICATE:
        if (self->iot_certificate)
            gst_structure_free(self->iot_certificate);
        self->iot_certificate =
            g_value_get_boxed(v) ? gst_structure_copy(g_value_get_boxed(v)) : NULL;
        break;
    case PROP_STREAM_TAGS:
        if (self->stream_tags)
            gst_structure_free(self->stream_tags);
        self->stream_tags = g_value_get_boxed(v) ? gst_structure_copy(g_value_get_boxed(v)) : NULL;
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void get_property(GObject *obj, guint id, GValue *v, GParamSpec *ps)
{
    GstKvsSink *self = GST_KVS_SINK(obj);
    GST_OBJECT_LOCK(self);
    switch (id) {
#undef STR
#undef UINT
#undef BOOL
#define STR(P, f)                                                                                  \
    case P:                                                                                        \
        g_value_set_string(v, self->f);                                                            \
        break;
#define UINT(P, f)                                                                                 \
    case P:                                                                                        \
        g_value_set_uint(v, self->f);                                                              \
        break;
#define BOOL(P, f)                                                                                 \
    case P:                                                                                        \
        g_value_set_boolean(v, self->f);                                                           \
        break;
        KVS_SIMPLE_PROPS(STR, UINT, BOOL)
#undef STR
#undef UINT
#undef BOOL
    case PROP_STREAMING_TYPE:
        g_value_set_enum(v, self->streaming_type);
        break;
    case PROP_FILE_START_TIME:
        g_value_set_uint64(v, self->file_start_time);
        break;
    case PROP_IOT_CERTIFICATE:
        g_value_set_boxed(v, self->iot_certificate);
        break;
    case PROP_STREAM_TAGS:
        g_value_set_boxed(v, self->stream_tags);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, ps);
        break;
    }
    GST_OBJECT_UNLOCK(self);
}

static void finalize(GObject *obj)
{
    GstKvsSink *self = GST_KVS_SINK(obj);
    sl_kvs_upload_stop(self->up);
    sl_kvs_store_free(self->store);
    gst_object_unref(self->collect);
    g_free(self->stream_name);
    g_free(self->region);
    g_free(self->access_key);
    g_free(self->secret_key);
    g_free(self->session_token);
    g_free(self->credential_path);
    g_free(self->content_type);
    g_free(self->codec_id);
    g_free(self->track_name);
    g_free(self->log_config);
    g_free(self->user_agent);
    g_free(self->control_plane_uri);
    if (self->iot_certificate)
        gst_structure_free(self->iot_certificate);
    if (self->stream_tags)
        gst_structure_free(self->stream_tags);
    gst_caps_replace(&self->video_caps, NULL);
    gst_caps_replace(&self->audio_caps, NULL);
    sl_buf_cleanup(&self->scratch);
    sl_buf_cleanup(&self->header);
    g_free(self->fatal);
    g_array_free(self->meta, TRUE);
    g_mutex_clear(&self->lock);
    G_OBJECT_CLASS(gst_kvs_sink_parent_class)->finalize(obj);
}

#define RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

static void str_prop(GObjectClass *oc, guint id, const char *name, const char *blurb,
                     const char *def)
{
    g_object_class_install_property(oc, id, g_param_spec_string(name, name, blurb, def, RW));
}

static void uint_prop(GObjectClass *oc, guint id, const char *name, const char *blurb, guint min,
                      guint max, guint def)
{
    g_object_class_install_property(oc, id,
                                    g_param_spec_uint(name, name, blurb, min, max, def, RW));
}

static void bool_prop(GObjectClass *oc, guint id, const char *name, const char *blurb, gboolean def)
{
    g_object_class_install_property(oc, id, g_param_spec_boolean(name, name, blurb, def, RW));
}

static void gst_kvs_sink_class_init(GstKvsSinkClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    GstElementClass *ec = GST_ELEMENT_CLASS(klass);

    oc->set_property = set_property;
    oc->get_property = get_property;
    oc->finalize = finalize;
    ec->change_state = change_state;
    ec->request_new_pad = request_new_pad;
    ec->release_pad = release_pad;

    str_prop(oc, PROP_STREAM_NAME, "stream-name", "Name of the destination stream",
             DEFAULT_STREAM_NAME);
    str_prop(oc, PROP_USER_AGENT, "user-agent", "Name of the user agent", DEFAULT_USER_AGENT);
    uint_prop(oc, PROP_RETENTION_PERIOD, "retention-period",
              "Length of time stream is preserved. Unit: hours", 0, G_MAXUINT, 2);
    g_object_class_install_property(
        oc, PROP_STREAMING_TYPE,
        g_param_spec_enum("streaming-type", "streaming-type",
                          "Streaming type: realtime, near-realtime or offline",
                          streaming_type_get_type(), STREAMING_REALTIME, RW));
    str_prop(oc, PROP_CONTENT_TYPE, "content-type", "content type (overridden by the caps)",
             DEFAULT_CONTENT_TYPE);
    uint_prop(oc, PROP_MAX_LATENCY, "max-latency",
              "Max latency. Unit: seconds (accepted; not enforced)", 0, G_MAXUINT, 60);
    uint_prop(oc, PROP_FRAGMENT_DURATION, "fragment-duration",
              "Fragment Duration. Unit: milliseconds", 1, G_MAXUINT, 2000);
    uint_prop(oc, PROP_TIMECODE_SCALE, "timecode-scale", "Timecode Scale. Unit: milliseconds", 1,
              G_MAXUINT, 1);
    bool_prop(oc, PROP_KEY_FRAME_FRAGMENTATION, "key-frame-fragmentation",
              "If true, generate new fragment on each keyframe, otherwise generate new fragment "
              "on first keyframe after fragment-duration has passed.",
              TRUE);
    bool_prop(oc, PROP_FRAME_TIMECODES, "frame-timecodes",
              "Do not use stream timecodes (use the wall clock) when false", TRUE);
    bool_prop(oc, PROP_ABSOLUTE_FRAGMENT_TIMES, "absolute-fragment-times",
              "Use absolute fragment time", TRUE);
    bool_prop(oc, PROP_FRAGMENT_ACKS, "fragment-acks", "Do fragment acks", TRUE);
    bool_prop(oc, PROP_RESTART_ON_ERROR, "restart-on-error", "Do restart on error", TRUE);
    bool_prop(oc, PROP_RECALCULATE_METRICS, "recalculate-metrics",
              "Do Recalculate Metrics (accepted)", TRUE);
    uint_prop(oc, PROP_FRAMERATE, "framerate", "Framerate (sizing hint, accepted)", 1, G_MAXUINT,
              25);
    uint_prop(oc, PROP_AVG_BANDWIDTH_BPS, "avg-bandwidth-bps",
              "Average bandwidth bps (sizing hint, accepted)", 1, G_MAXUINT, 4 * 1024 * 1024);
    uint_prop(oc, PROP_BUFFER_DURATION, "buffer-duration",
              "Buffer duration: older unacknowledged fragments are dropped. Unit: seconds", 1,
              G_MAXUINT, 120);
    uint_prop(oc, PROP_REPLAY_DURATION, "replay-duration",
              "Replay duration (accepted; every unacknowledged fragment is replayed)", 1, G_MAXUINT,
              40);
    uint_prop(oc, PROP_CONNECTION_STALENESS, "connection-staleness",
              "Reconnect when no acknowledgement arrives for this long. Unit: seconds", 1,
              G_MAXUINT, 60);
    str_prop(oc, PROP_CODEC_ID, "codec-id", "Codec ID", DEFAULT_CODEC_ID);
    str_prop(oc, PROP_TRACK_NAME, "track-name", "Track name", DEFAULT_TRACK_NAME);
    str_prop(oc, PROP_ACCESS_KEY, "access-key", "AWS Access Key", DEFAULT_ACCESS_KEY);
    str_prop(oc, PROP_SECRET_KEY, "secret-key", "AWS Secret Key", DEFAULT_SECRET_KEY);
    str_prop(oc, PROP_SESSION_TOKEN, "session-token", "AWS Session token", DEFAULT_SESSION_TOKEN);
    str_prop(oc, PROP_AWS_REGION, "aws-region", "AWS Region (AWS_DEFAULT_REGION takes precedence)",
             DEFAULT_REGION);
    uint_prop(oc, PROP_ROTATION_PERIOD, "rotation-period",
              "Rotation period. Unit: seconds (accepted)", 0, G_MAXUINT, 3600);
    str_prop(oc, PROP_LOG_CONFIG_PATH, "log-config", "Log Configuration Path (accepted, unused)",
             DEFAULT_LOG_CONFIG);
    uint_prop(oc, PROP_STORAGE_SIZE, "storage-size", "Storage Size. Unit: MB", 1, G_MAXUINT, 128);
    uint_prop(oc, PROP_STOP_STREAM_TIMEOUT, "stop-stream-timeout",
              "Stop stream timeout: how long EOS waits for the last PERSISTED. Unit: seconds", 0,
              G_MAXUINT, 120);
    uint_prop(oc, PROP_SERVICE_CONNECTION_TIMEOUT, "connection-timeout",
              "Service call connection timeout. Unit: seconds", 1, G_MAXUINT, 5);
    uint_prop(oc, PROP_SERVICE_COMPLETION_TIMEOUT, "completion-timeout",
              "Service call completion timeout. Unit: seconds", 1, G_MAXUINT, 10);
    str_prop(oc, PROP_CREDENTIAL_FILE_PATH, "credential-path",
             "Credential File Path (accepted; see docs/kvssink.md for the sources read)",
             DEFAULT_CREDENTIAL_PATH);
    g_object_class_install_property(
        oc, PROP_IOT_CERTIFICATE,
        g_param_spec_boxed("iot-certificate", "IoT certificate",
                           "IoT credential provider settings (accepted; not supported)",
                           GST_TYPE_STRUCTURE, RW));
    g_object_class_install_property(oc, PROP_STREAM_TAGS,
                                    g_param_spec_boxed("stream-tags", "Stream tags",
                                                       "key-value pairs for TagStream",
                                                       GST_TYPE_STRUCTURE, RW));
    g_object_class_install_property(
        oc, PROP_FILE_START_TIME,
        g_param_spec_uint64("file-start-time", "File Start Time",
                            "Epoch time that the file starts in kinesis video stream. By default,"
                            " current time is used. Unit: Seconds",
                            0, G_MAXUINT64, 0, RW));
    bool_prop(oc, PROP_DISABLE_BUFFER_CLIPPING, "disable-buffer-clipping",
              "Set to true only if your src/mux elements produce GST_CLOCK_TIME_NONE for "
              "segment start times: buffer times are then used as they are, not converted to "
              "running time and clipped to the segment",
              FALSE);
    bool_prop(oc, PROP_USE_ORIGINAL_PTS, "use-original-pts",
              "Set to true to use the original PTS (epoch ns) of the buffers", FALSE);
    bool_prop(oc, PROP_GET_METRICS, "get-kvs-metrics",
              "Set to true to receive stream metrics (kvssink-stats messages are always posted)",
              FALSE);
    bool_prop(oc, PROP_ALLOW_CREATE_STREAM, "allow-create-stream",
              "Create the stream when it does not exist", TRUE);
    str_prop(oc, PROP_CONTROL_PLANE_URI, "control-plane-uri",
             "Control-plane endpoint URL (Sluice addition; default: env CONTROL_PLANE_URI, "
             "else the AWS regional endpoint)",
             NULL);

    signals[SIGNAL_STREAM_ERROR] =
        g_signal_new("stream-error", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                     NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);

    gst_element_class_add_static_pad_template(ec, &video_template);
    gst_element_class_add_static_pad_template(ec, &audio_template);
    gst_element_class_set_static_metadata(
        ec, "KVS Sink", "Sink/Video/Network",
        "GStreamer AWS KVS plugin (Sluice implementation: PutMedia to a Sluice gateway or AWS)",
        "Sluice");
    GST_DEBUG_CATEGORY_INIT(kvssink_debug, "kvssink", 0, "Sluice kvssink");
}

static void gst_kvs_sink_init(GstKvsSink *self)
{
    self->stream_name = g_strdup(DEFAULT_STREAM_NAME);
    self->region = g_strdup(DEFAULT_REGION);
    self->access_key = g_strdup(DEFAULT_ACCESS_KEY);
    self->secret_key = g_strdup(DEFAULT_SECRET_KEY);
    self->session_token = g_strdup(DEFAULT_SESSION_TOKEN);
    self->credential_path = g_strdup(DEFAULT_CREDENTIAL_PATH);
    self->content_type = g_strdup(DEFAULT_CONTENT_TYPE);
    self->codec_id = g_strdup(DEFAULT_CODEC_ID);
    self->track_name = g_strdup(DEFAULT_TRACK_NAME);
    self->log_config = g_strdup(DEFAULT_LOG_CONFIG);
    self->user_agent = g_strdup(DEFAULT_USER_AGENT);
    self->retention_period = 2;
    self->streaming_type = STREAMING_REALTIME;
    self->max_latency = 60;
    self->fragment_duration = 2000;
    self->timecode_scale = 1;
    self->key_frame_fragmentation = TRUE;
    self->frame_timecodes = TRUE;
    self->absolute_fragment_times = TRUE;
    self->fragment_acks = TRUE;
    self->restart_on_error = TRUE;
    self->recalculate_metrics = TRUE;
    self->framerate = 25;
    self->avg_bandwidth_bps = 4 * 1024 * 1024;
    self->buffer_duration = 120;
    self->replay_duration = 40;
    self->connection_staleness = 60;
    self->rotation_period = 3600;
    self->storage_size = 128;
    self->stop_stream_timeout = 120;
    self->connection_timeout = 5;
    self->completion_timeout = 10;
    self->allow_create_stream = TRUE;
    self->file_start_time = (guint64)(g_get_real_time() / G_USEC_PER_SEC);
    self->need_key = TRUE;
    g_mutex_init(&self->lock);
    self->meta = g_array_new(FALSE, TRUE, sizeof(kvs_meta));
    self->collect = gst_collect_pads_new();
    gst_collect_pads_set_buffer_function(self->collect, collected, self);
    gst_collect_pads_set_event_function(self->collect, sink_event, self);
    GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}

int sl_kvssink_dump_store(GstElement *kvssink, sl_buf *out)
{
    GstKvsSink *self = GST_KVS_SINK(kvssink);
    return self->store ? sl_kvs_store_dump(self->store, out) : 0;
}

gboolean sl_kvssink_register(GstPlugin *plugin)
{
    return gst_element_register(plugin, "kvssink", GST_RANK_PRIMARY + 10, GST_TYPE_KVS_SINK);
}
