/* GstHarness tests of the kvssink element: AWS property names, types and defaults; request pads
 * and caps (what is accepted, what is refused, one pad of each kind); and the MKV the element
 * packages from known frames, byte-checked from its content store. The element is pointed at a
 * closed local port, so the uploader only retries and everything stays in the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <gst/check/gstharness.h>

#include "gstkvssink.h"
#include "sluice/buf.h"

#define T0_NS (1700000000000ULL * 1000000ULL) /* epoch ns, with use-original-pts */

static const uint8_t AVCC[] = {1,    0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0x00, 0x04, 0x67,
                               0x42, 0xC0, 0x1E, 0x01, 0x00, 0x02, 0x68, 0xCE};

static GstElement *new_sink(void)
{
    GstElement *e = gst_element_factory_make("kvssink", NULL);
    assert_non_null(e);
    return e;
}

static void test_property_defaults(void **state)
{
    GstElement *e = new_sink();
    gchar *s;
    guint u;
    gboolean b;
    gint en;
    (void)state;
#define CHECK_STR(name, want)                                                                      \
    g_object_get(e, name, &s, NULL);                                                               \
    assert_string_equal(s, want);                                                                  \
    g_free(s);
#define CHECK_UINT(name, want)                                                                     \
    g_object_get(e, name, &u, NULL);                                                               \
    assert_int_equal(u, want);
#define CHECK_BOOL(name, want)                                                                     \
    g_object_get(e, name, &b, NULL);                                                               \
    assert_int_equal(b, want);
    CHECK_STR("stream-name", "DEFAULT_STREAM");
    CHECK_STR("aws-region", "us-west-2");
    CHECK_STR("access-key", "access_key");
    CHECK_STR("secret-key", "secret_key");
    CHECK_STR("session-token", "session_token");
    CHECK_STR("credential-path", ".kvs/credential");
    CHECK_STR("content-type", "video/h264");
    CHECK_STR("codec-id", "V_MPEG4/ISO/AVC");
    CHECK_STR("track-name", "kinesis_video");
    CHECK_STR("log-config", "../kvs_log_configuration");
    CHECK_UINT("rotation-period", 3600);
    CHECK_UINT("storage-size", 128);
    CHECK_UINT("stop-stream-timeout", 120);
    CHECK_UINT("connection-timeout", 5);
    CHECK_UINT("completion-timeout", 10);
    CHECK_UINT("retention-period", 2);
    CHECK_UINT("max-latency", 60);
    CHECK_UINT("fragment-duration", 2000);
    CHECK_UINT("timecode-scale", 1);
    CHECK_UINT("framerate", 25);
    CHECK_UINT("avg-bandwidth-bps", 4194304);
    CHECK_UINT("buffer-duration", 120);
    CHECK_UINT("replay-duration", 40);
    CHECK_UINT("connection-staleness", 60);
    CHECK_BOOL("key-frame-fragmentation", TRUE);
    CHECK_BOOL("frame-timecodes", TRUE);
    CHECK_BOOL("absolute-fragment-times", TRUE);
    CHECK_BOOL("fragment-acks", TRUE);
    CHECK_BOOL("restart-on-error", TRUE);
    CHECK_BOOL("recalculate-metrics", TRUE);
    CHECK_BOOL("allow-create-stream", TRUE);
    CHECK_BOOL("disable-buffer-clipping", FALSE);
    CHECK_BOOL("use-original-pts", FALSE);
    CHECK_BOOL("get-kvs-metrics", FALSE);
    g_object_get(e, "streaming-type", &en, NULL);
    assert_int_equal(en, 0);

    /* types as the AWS element declares them */
    GParamSpec *ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "file-start-time");
    assert_int_equal(ps->value_type, G_TYPE_UINT64);
    ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "stream-tags");
    assert_int_equal(ps->value_type, GST_TYPE_STRUCTURE);
    ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "iot-certificate");
    assert_int_equal(ps->value_type, GST_TYPE_STRUCTURE);
    ps = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "streaming-type");
    assert_true(G_TYPE_IS_ENUM(ps->value_type));

    /* set from strings, as gst-launch does */
    gst_util_set_object_arg(G_OBJECT(e), "streaming-type", "offline");
    g_object_get(e, "streaming-type", &en, NULL);
    assert_int_equal(en, 2);
    gst_util_set_object_arg(G_OBJECT(e), "stream-tags", "tags,owner=sluice");
    GstStructure *st = NULL;
    g_object_get(e, "stream-tags", &st, NULL);
    assert_string_equal(gst_structure_get_string(st, "owner"), "sluice");
    gst_structure_free(st);
    g_object_set(e, "stream-name", "cam", "storage-size", 16, "control-plane-uri",
                 "http://127.0.0.1:1", NULL);
    CHECK_STR("stream-name", "cam");
    CHECK_UINT("storage-size", 16);
    CHECK_STR("control-plane-uri", "http://127.0.0.1:1");
    gst_object_unref(e);
}

static void test_pads_and_caps(void **state)
{
    GstElement *e = new_sink();
    GstPad *v, *a;
    GstCaps *c;
    (void)state;
    assert_null(gst_element_get_static_pad(e, "sink")); /* request pads only */
    v = gst_element_request_pad_simple(e, "video_%u");
    assert_non_null(v);
    assert_null(gst_element_request_pad_simple(e, "video_%u")); /* one video pad */
    a = gst_element_request_pad_simple(e, "audio_%u");
    assert_non_null(a);
    assert_null(gst_element_request_pad_simple(e, "audio_%u"));

    c = gst_caps_from_string("video/x-h264,stream-format=avc,alignment=au,width=640,height=480");
    assert_true(gst_pad_query_accept_caps(v, c));
    gst_caps_unref(c);
    c = gst_caps_from_string(
        "video/x-h264,stream-format=byte-stream,alignment=au,width=640,height=480");
    assert_false(gst_pad_query_accept_caps(v, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("video/x-h264,stream-format=avc,alignment=au,width=8,height=480");
    assert_false(gst_pad_query_accept_caps(v, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("video/x-h265,stream-format=hvc1,alignment=au,width=1920,height=1080");
    assert_true(gst_pad_query_accept_caps(v, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("audio/mpeg,mpegversion=4,stream-format=raw,channels=2,rate=48000");
    assert_true(gst_pad_query_accept_caps(a, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("audio/mpeg,mpegversion=4,stream-format=adts,channels=2,rate=48000");
    assert_false(gst_pad_query_accept_caps(a, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("audio/x-alaw,channels=1,rate=8000");
    assert_true(gst_pad_query_accept_caps(a, c));
    gst_caps_unref(c);
    c = gst_caps_from_string("audio/x-mulaw,channels=3,rate=8000");
    assert_false(gst_pad_query_accept_caps(a, c));
    gst_caps_unref(c);

    gst_element_release_request_pad(e, v);
    gst_object_unref(v);
    v = gst_element_request_pad_simple(e, "video_%u"); /* free again after release */
    assert_non_null(v);
    gst_element_release_request_pad(e, v);
    gst_element_release_request_pad(e, a);
    gst_object_unref(v);
    gst_object_unref(a);
    gst_object_unref(e);
}

static GstBuffer *frame(guint64 pts_ns, gboolean key, uint8_t tag)
{
    uint8_t d[8] = {0, 0, 0, 4, key ? 0x65 : 0x41, 0x88, 0x80, tag};
    GstBuffer *b = gst_buffer_new_memdup(d, sizeof(d));
    GST_BUFFER_PTS(b) = GST_BUFFER_DTS(b) = pts_ns;
    GST_BUFFER_DURATION(b) = 40 * GST_MSECOND;
    if (!key)
        GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
    return b;
}

static void append_block(sl_buf *w, int16_t rel, int key, uint8_t nal, uint8_t tag)
{
    const uint8_t hdr[9] = {0xA3, 0x01, 0, 0, 0, 0, 0, 0, 12};
    uint8_t b[12] = {0x81,
                     (uint8_t)((uint16_t)rel >> 8),
                     (uint8_t)rel,
                     key ? 0x80 : 0,
                     0,
                     0,
                     0,
                     4,
                     nal,
                     0x88,
                     0x80,
                     tag};
    sl_buf_append(w, hdr, sizeof(hdr));
    sl_buf_append(w, b, sizeof(b));
}

static void append_cluster(sl_buf *w, uint64_t tc)
{
    const uint8_t id[7] = {0x1F, 0x43, 0xB6, 0x75, 0xFF, 0xE7, 0x88};
    sl_buf_append(w, id, sizeof(id));
    for (int i = 7; i >= 0; i--)
        sl_buf_append_byte(w, (uint8_t)(tc >> (8 * i)));
}

static void test_mkv_of_known_frames(void **state)
{
    GstHarness *h;
    GstElement *e = new_sink();
    GstBuffer *cd = gst_buffer_new_memdup(AVCC, sizeof(AVCC));
    GstCaps *caps;
    sl_buf got = SL_BUF_INIT, want = SL_BUF_INIT;
    const uint64_t tc0 = T0_NS / 1000000;
    (void)state;

    g_object_set(e, "stream-name", "unit", "use-original-pts", TRUE, "control-plane-uri",
                 "http://127.0.0.1:9", "access-key", "AKIDUNIT", "secret-key", "SECRET", NULL);
    h = gst_harness_new_with_element(e, "video_%u", NULL);
    caps = gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING, "avc", "alignment",
                               G_TYPE_STRING, "au", "width", G_TYPE_INT, 320, "height", G_TYPE_INT,
                               240, "codec_data", GST_TYPE_BUFFER, cd, NULL);
    gst_harness_set_src_caps(h, caps);
    /* a delta frame before any key frame is dropped; then key, delta, delta, key, delta */
    assert_int_equal(gst_harness_push(h, frame(T0_NS - 40 * GST_MSECOND, FALSE, 0)), GST_FLOW_OK);
    assert_int_equal(gst_harness_push(h, frame(T0_NS, TRUE, 1)), GST_FLOW_OK);
    assert_int_equal(gst_harness_push(h, frame(T0_NS + 40 * GST_MSECOND, FALSE, 2)), GST_FLOW_OK);
    assert_int_equal(gst_harness_push(h, frame(T0_NS + 80 * GST_MSECOND, FALSE, 3)), GST_FLOW_OK);
    assert_int_equal(gst_harness_push(h, frame(T0_NS + 1000 * GST_MSECOND, TRUE, 4)), GST_FLOW_OK);
    assert_int_equal(gst_harness_push(h, frame(T0_NS + 1040 * GST_MSECOND, FALSE, 5)), GST_FLOW_OK);

    assert_int_equal(sl_kvssink_dump_store(e, &got), 0);
    /* stream header: EBML, unknown-size Segment, ..., CodecPrivate = codec_data */
    assert_true(got.len > 100);
    assert_memory_equal(got.data, "\x1a\x45\xdf\xa3", 4);
    assert_non_null(memmem(got.data, got.len, "\x18\x53\x80\x67\xff", 5));
    const char *cp = memmem(got.data, got.len, "\x63\xa2", 2);
    assert_non_null(cp);
    assert_int_equal((uint8_t)cp[2], 0x80 | sizeof(AVCC));
    assert_memory_equal(cp + 3, AVCC, sizeof(AVCC));
    assert_non_null(memmem(got.data, got.len, "V_MPEG4/ISO/AVC", 15));
    assert_non_null(memmem(got.data, got.len, "kinesis_video", 13));

    /* clusters and blocks byte for byte */
    append_cluster(&want, tc0);
    append_block(&want, 0, 1, 0x65, 1);
    append_block(&want, 40, 0, 0x41, 2);
    append_block(&want, 80, 0, 0x41, 3);
    append_cluster(&want, tc0 + 1000);
    append_block(&want, 0, 1, 0x65, 4);
    append_block(&want, 40, 0, 0x41, 5);
    const char *first = memmem(got.data, got.len, "\x1f\x43\xb6\x75", 4);
    assert_non_null(first);
    assert_int_equal(got.len - (size_t)(first - got.data), want.len);
    assert_memory_equal(first, want.data, want.len);

    sl_buf_cleanup(&got);
    sl_buf_cleanup(&want);
    gst_buffer_unref(cd);
    gst_harness_teardown(h);
}

static void test_fragment_duration_without_keyframe_cuts(void **state)
{
    GstHarness *h;
    GstElement *e = new_sink();
    GstBuffer *cd = gst_buffer_new_memdup(AVCC, sizeof(AVCC));
    sl_buf got = SL_BUF_INIT;
    (void)state;
    g_object_set(e, "use-original-pts", TRUE, "key-frame-fragmentation", FALSE, "fragment-duration",
                 2000, "control-plane-uri", "http://127.0.0.1:9", "access-key", "AKIDUNIT",
                 "secret-key", "SECRET", NULL);
    h = gst_harness_new_with_element(e, "video_%u", NULL);
    gst_harness_set_src_caps(h, gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING,
                                                    "avc", "alignment", G_TYPE_STRING, "au",
                                                    "width", G_TYPE_INT, 320, "height", G_TYPE_INT,
                                                    240, "codec_data", GST_TYPE_BUFFER, cd, NULL));
    /* key frames every second; with 2 s fragments only every other one starts a cluster */
    for (int i = 0; i < 5; i++)
        gst_harness_push(h, frame(T0_NS + (guint64)i * GST_SECOND, TRUE, (uint8_t)i));
    sl_kvssink_dump_store(e, &got);
    size_t n = 0;
    for (const char *p = got.data;
         (p = memmem(p, got.len - (size_t)(p - got.data), "\x1f\x43\xb6\x75", 4)); p += 4)
        n++;
    assert_int_equal(n, 3); /* t = 0, 2, 4 s */
    sl_buf_cleanup(&got);
    gst_buffer_unref(cd);
    gst_harness_teardown(h);
}

static size_t count(const sl_buf *b, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = b->data; (p = memmem(p, b->len - (size_t)(p - b->data), needle, l));
         p += l)
        n++;
    return n;
}

static GstEvent *metadata_event(const char *name, const char *value, gboolean persist)
{
    return gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM,
                                gst_structure_new("kvs-add-metadata", "name", G_TYPE_STRING, name,
                                                  "value", G_TYPE_STRING, value, "persist",
                                                  G_TYPE_BOOLEAN, persist, NULL));
}

static void test_fragment_metadata_event(void **state)
{
    GstHarness *h;
    GstElement *e = new_sink();
    GstBuffer *cd = gst_buffer_new_memdup(AVCC, sizeof(AVCC));
    sl_buf got = SL_BUF_INIT;
    (void)state;
    g_object_set(e, "use-original-pts", TRUE, "control-plane-uri", "http://127.0.0.1:9",
                 "access-key", "AKIDUNIT", "secret-key", "SECRET", NULL);
    h = gst_harness_new_with_element(e, "video_%u", NULL);
    gst_harness_set_src_caps(h, gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING,
                                                    "avc", "alignment", G_TYPE_STRING, "au",
                                                    "width", G_TYPE_INT, 320, "height", G_TYPE_INT,
                                                    240, "codec_data", GST_TYPE_BUFFER, cd, NULL));
    assert_true(gst_harness_push_event(h, metadata_event("camera", "door", TRUE)));
    assert_true(gst_harness_push_event(h, metadata_event("motion", "yes", FALSE)));
    assert_true(gst_harness_push_event(h, metadata_event("AWS_X", "no", FALSE))); /* refused */
    gst_harness_push(h, frame(T0_NS, TRUE, 1));
    gst_harness_push(h, frame(T0_NS + GST_SECOND, TRUE, 2));
    sl_kvssink_dump_store(e, &got);
    assert_int_equal(count(&got, "camera"), 2); /* persistent: before both fragments */
    assert_int_equal(count(&got, "door"), 2);
    assert_int_equal(count(&got, "motion"), 1); /* one-shot: the first fragment only */
    assert_int_equal(count(&got, "AWS_X"), 0);
    /* the Tags come right before the Cluster they describe */
    const char *tags = memmem(got.data, got.len, "\x12\x54\xc3\x67", 4);
    const char *cl = memmem(got.data, got.len, "\x1f\x43\xb6\x75", 4);
    assert_non_null(tags);
    assert_true(tags < cl);
    assert_memory_equal(tags + 4, "\x01\x00\x00\x00", 4); /* 8-byte size, as PIC writes */
    sl_buf_cleanup(&got);
    gst_buffer_unref(cd);
    gst_harness_teardown(h);
}

static void test_eos_without_gateway_times_out(void **state)
{
    GstHarness *h;
    GstElement *e = new_sink();
    GstBuffer *cd = gst_buffer_new_memdup(AVCC, sizeof(AVCC));
    GstBus *bus = gst_bus_new();
    GstMessage *m;
    gboolean saw_eos = FALSE, saw_warning = FALSE;
    (void)state;
    g_object_set(e, "use-original-pts", TRUE, "stop-stream-timeout", 1, "control-plane-uri",
                 "http://127.0.0.1:9", "access-key", "AKIDUNIT", "secret-key", "SECRET", NULL);
    gst_element_set_bus(e, bus);
    h = gst_harness_new_with_element(e, "video_%u", NULL);
    gst_harness_set_src_caps(h, gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING,
                                                    "avc", "alignment", G_TYPE_STRING, "au",
                                                    "width", G_TYPE_INT, 320, "height", G_TYPE_INT,
                                                    240, "codec_data", GST_TYPE_BUFFER, cd, NULL));
    gst_harness_push(h, frame(T0_NS, TRUE, 1));
    gint64 t0 = g_get_monotonic_time();
    assert_true(gst_harness_push_event(h, gst_event_new_eos()));
    gint64 waited_ms = (g_get_monotonic_time() - t0) / 1000;
    /* bounded wait: stop-stream-timeout, then EOS is posted anyway, with a warning */
    assert_true(waited_ms >= 900 && waited_ms < 5000);
    while ((m = gst_bus_pop(bus))) {
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS)
            saw_eos = TRUE;
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_WARNING)
            saw_warning = TRUE;
        gst_message_unref(m);
    }
    assert_true(saw_eos);
    assert_true(saw_warning);
    gst_buffer_unref(cd);
    gst_harness_teardown(h);
    gst_object_unref(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property_defaults),
        cmocka_unit_test(test_pads_and_caps),
        cmocka_unit_test(test_mkv_of_known_frames),
        cmocka_unit_test(test_fragment_duration_without_keyframe_cuts),
        cmocka_unit_test(test_fragment_metadata_event),
        cmocka_unit_test(test_eos_without_gateway_times_out),
    };
    gst_init(NULL, NULL);
    assert_true(gst_element_register(NULL, "kvssink", GST_RANK_PRIMARY + 10, GST_TYPE_KVS_SINK));
    g_unsetenv("AWS_DEFAULT_REGION");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
