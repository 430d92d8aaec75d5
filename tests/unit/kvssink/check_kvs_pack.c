/* Unit tests for kvssink's GStreamer-free parts: MKV packaging (read back with common/mkv's
 * reader and byte-checked), CodecPrivate derivation (AVC record from SPS/PPS, WAVEFORMATEX),
 * ACK parsing, retriable ErrorIds, and credential / region / endpoint resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kvs_creds.h"
#include "kvs_pack.h"
#include "kvs_upload.h"
#include "sluice/err.h"

static const uint8_t SPS[] = {0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5, 0x84};
static const uint8_t PPS[] = {0x68, 0xCE, 0x3C, 0x80};

typedef struct seen {
    sl_mkv_header h;
    uint8_t cpd[2][64];
    size_t ncl;
    uint64_t cl_tc[4];
    size_t nfr;
    sl_mkv_frame fr[8];
    char tag[64];
} seen;

static int on_header(void *ud, const sl_mkv_header *h)
{
    seen *s = ud;
    s->h = *h;
    for (size_t i = 0; i < h->ntracks && i < 2; i++)
        memcpy(s->cpd[i], h->tracks[i].codec_private, h->tracks[i].codec_private_len);
    return 0;
}

static int on_cluster(void *ud, const sl_mkv_cluster *c)
{
    seen *s = ud;
    s->cl_tc[s->ncl++] = c->timecode;
    return 0;
}

static int on_frame(void *ud, const sl_mkv_frame *f)
{
    seen *s = ud;
    s->fr[s->nfr] = *f;
    s->fr[s->nfr].data.ptr = NULL;
    s->nfr++;
    return 0;
}

static int on_tag(void *ud, const sl_mkv_tag *t)
{
    seen *s = ud;
    snprintf(s->tag, sizeof(s->tag), "%s", t->name.ptr);
    return 0;
}

static void read_back(const sl_buf *b, seen *s)
{
    sl_mkv_callbacks cb = {.on_header = on_header,
                           .on_cluster_start = on_cluster,
                           .on_frame = on_frame,
                           .on_tag = on_tag};
    sl_mkv_reader *r = sl_mkv_reader_new(&cb, s, 0);
    memset(s, 0, sizeof(*s));
    assert_non_null(r);
    assert_int_equal(sl_mkv_reader_feed(r, b->data, b->len), 0);
    assert_int_equal(sl_mkv_reader_finish(r), 0);
    sl_mkv_reader_free(r);
}

static void test_header_and_clusters_read_back(void **state)
{
    sl_mkv_header *h = calloc(1, sizeof(*h));
    uint8_t uid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, wfx[18];
    sl_buf b = SL_BUF_INIT;
    seen *s = calloc(1, sizeof(*s));
    (void)state;

    sl_kvs_pack_info(h, 1000000, uid);
    h->ntracks = 2;
    h->tracks[0] = (sl_mkv_track){.number = 1,
                                  .uid = 1,
                                  .type = 1,
                                  .pixel_width = 640,
                                  .pixel_height = 480,
                                  .codec_private = SPS,
                                  .codec_private_len = sizeof(SPS)};
    strcpy(h->tracks[0].name, "kinesis_video");
    strcpy(h->tracks[0].codec_id, "V_MPEG4/ISO/AVC");
    sl_kvs_waveformatex(wfx, 0, 1, 8000);
    h->tracks[1] = (sl_mkv_track){.number = 2,
                                  .uid = 2,
                                  .type = 2,
                                  .sampling_hz = 8000,
                                  .channels = 1,
                                  .codec_private = wfx,
                                  .codec_private_len = 18};
    strcpy(h->tracks[1].name, "audio");
    strcpy(h->tracks[1].codec_id, "A_MS/ACM");
    assert_int_equal(sl_kvs_pack_header(&b, h), 0);
    /* EBML header then the unknown-size Segment, as the AWS producer writes them */
    assert_memory_equal(b.data, "\x1a\x45\xdf\xa3", 4);
    assert_non_null(memmem(b.data, b.len, "\x18\x53\x80\x67\xff", 5));
    size_t header_len = b.len;

    assert_int_equal(sl_kvs_pack_cluster(&b, 1700000000000ULL), 0);
    /* Cluster ID, unknown size, Timecode with an 8-byte value */
    assert_memory_equal(b.data + header_len,
                        "\x1f\x43\xb6\x75\xff\xe7\x88\x00\x00\x01\x8b\xcf\xe5\x68\x00", 15);
    assert_int_equal(sl_kvs_pack_block(&b, 1, 0, 1, "\x00\x00\x00\x01\x65", 5), 0);
    /* SimpleBlock, 8-byte size 9, track 1, relative 0, key frame flag, payload */
    assert_memory_equal(b.data + header_len + 15,
                        "\xa3\x01\x00\x00\x00\x00\x00\x00\x09\x81\x00\x00\x80\x00\x00\x00\x01\x65",
                        18);
    assert_int_equal(sl_kvs_pack_block(&b, 2, 20, 1, "\xd5\xd5", 2), 0);
    assert_int_equal(sl_kvs_pack_block(&b, 1, 40, 0, "\x00\x00\x00\x01\x41", 5), 0);
    assert_int_equal(sl_kvs_pack_cluster(&b, 1700000001000ULL), 0);
    assert_int_equal(sl_kvs_pack_block(&b, 1, -3, 1, "\x00\x00\x00\x01\x65", 5), 0);
    assert_int_equal(sl_kvs_pack_eofr(&b), 0);

    read_back(&b, s);
    assert_int_equal(s->h.timecode_scale_ns, 1000000);
    assert_int_equal(s->h.ntracks, 2);
    assert_string_equal(s->h.tracks[0].codec_id, "V_MPEG4/ISO/AVC");
    assert_string_equal(s->h.tracks[0].name, "kinesis_video");
    assert_int_equal(s->h.tracks[0].pixel_width, 640);
    assert_int_equal(s->h.tracks[0].pixel_height, 480);
    assert_memory_equal(s->cpd[0], SPS, sizeof(SPS));
    assert_string_equal(s->h.tracks[1].codec_id, "A_MS/ACM");
    assert_int_equal(s->h.tracks[1].channels, 1);
    assert_memory_equal(s->cpd[1], wfx, 18);
    assert_memory_equal(s->h.segment_uid, uid, 16);
    assert_int_equal(s->ncl, 2);
    assert_int_equal(s->cl_tc[0], 1700000000000ULL);
    assert_int_equal(s->cl_tc[1], 1700000001000ULL);
    assert_int_equal(s->nfr, 4);
    assert_int_equal(s->fr[1].track, 2);
    assert_int_equal(s->fr[1].timecode, 1700000000020LL);
    assert_int_equal(s->fr[2].keyframe, 0);
    assert_int_equal(s->fr[3].timecode, 1700000000997LL);
    assert_string_equal(s->tag, "AWS_KINESISVIDEO_END_OF_FRAGMENT");

    /* more than three tracks is not what PutMedia accepts */
    h->ntracks = 4;
    assert_int_equal(sl_kvs_pack_header(&b, h), SL_EINVAL);
    sl_buf_cleanup(&b);
    free(h);
    free(s);
}

static void test_avcc_from_frame(void **state)
{
    uint8_t frame[64];
    size_t n = 0;
    sl_buf b = SL_BUF_INIT;
    (void)state;
    /* AUD, SPS, PPS, IDR slice, each with a 4-byte length */
    const uint8_t aud[] = {0x09, 0xF0}, idr[] = {0x65, 0x88, 0x84};
    const uint8_t *nals[] = {aud, SPS, PPS, idr};
    size_t lens[] = {sizeof(aud), sizeof(SPS), sizeof(PPS), sizeof(idr)};
    for (int i = 0; i < 4; i++) {
        frame[n++] = 0, frame[n++] = 0, frame[n++] = 0, frame[n++] = (uint8_t)lens[i];
        memcpy(frame + n, nals[i], lens[i]);
        n += lens[i];
    }
    assert_int_equal(sl_kvs_avcc_from_frame(&b, frame, n), 0);
    const uint8_t want[] = {1,    0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0x00, 0x0A, 0x67,
                            0x42, 0xC0, 0x1E, 0xDA, 0x02, 0x80, 0xBF, 0xE5, 0x84,
                            0x01, 0x00, 0x04, 0x68, 0xCE, 0x3C, 0x80};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    sl_buf_reset(&b);
    /* no PPS */
    assert_int_equal(sl_kvs_avcc_from_frame(&b, frame, 4 + sizeof(aud) + 4 + sizeof(SPS)),
                     SL_ENOTFOUND);
    /* a length running past the end */
    frame[3] = 200;
    assert_int_equal(sl_kvs_avcc_from_frame(&b, frame, n), SL_EPARSE);
    sl_buf_cleanup(&b);
}

static void test_waveformatex(void **state)
{
    uint8_t w[18];
    (void)state;
    sl_kvs_waveformatex(w, 1, 2, 8000);
    const uint8_t want[18] = {0x07, 0, 0x02, 0,    0x40, 0x1F, 0, 0, 0x80,
                              0x3E, 0, 0,    0x02, 0,    0x08, 0, 0, 0};
    assert_memory_equal(w, want, 18);
    sl_kvs_waveformatex(w, 0, 1, 16000);
    assert_int_equal(w[0], 6);
}

static void test_ack_parsing(void **state)
{
    char kind[16];
    uint64_t tc;
    int id;
    (void)state;
    const char *l1 = "{\"EventType\":\"PERSISTED\",\"FragmentTimecode\":1795704260904,"
                     "\"FragmentNumber\":\"91343852333181432392682062607743920146264208001\"}";
    assert_int_equal(sl_kvs_parse_ack(l1, strlen(l1), kind, &tc, &id), 0);
    assert_string_equal(kind, "PERSISTED");
    assert_int_equal(tc, 1795704260904ULL);
    assert_int_equal(id, 0);
    const char *l2 = "{\"EventType\":\"ERROR\",\"FragmentTimecode\":17,\"ErrorId\":4004,"
                     "\"ErrorCode\":\"FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS\"}";
    assert_int_equal(sl_kvs_parse_ack(l2, strlen(l2), kind, &tc, &id), 0);
    assert_string_equal(kind, "ERROR");
    assert_int_equal(id, 4004);
    assert_int_equal(sl_kvs_parse_ack("{\"EventType\":\"IDLE\"}", 20, kind, &tc, &id), 0);
    assert_int_equal(tc, 0);
    assert_int_equal(sl_kvs_parse_ack("{\"x\":1}", 7, kind, &tc, &id), SL_EPARSE);
    assert_int_equal(sl_kvs_parse_ack("garbage", 7, kind, &tc, &id), SL_EPARSE);

    assert_true(sl_kvs_error_retriable(4000));
    assert_true(sl_kvs_error_retriable(4003));
    assert_true(sl_kvs_error_retriable(5000));
    assert_true(sl_kvs_error_retriable(5001));
    assert_true(sl_kvs_error_retriable(9999));
    assert_false(sl_kvs_error_retriable(4004));
    assert_false(sl_kvs_error_retriable(4011));
    assert_false(sl_kvs_error_retriable(4507));
}

static void clear_env(void)
{
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("CONTROL_PLANE_URI");
}

static void test_credentials_order(void **state)
{
    sl_kvs_creds c;
    char path[] = "/tmp/kvssink-creds-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    (void)state;
    fputs("# comment\n[default]\naws_access_key_id = FILEKEY\naws_secret_access_key=FILESECRET\n"
          "\n[cam]\n aws_access_key_id=CAMKEY \naws_secret_access_key = CAMSECRET\n"
          "aws_session_token = CAMTOKEN\n",
          f);
    fclose(f);
    clear_env();
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);

    /* sentinels mean "not set": the file's default profile */
    assert_int_equal(sl_kvs_creds_resolve("access_key", "secret_key", "session_token", &c), 0);
    assert_string_equal(c.access_key, "FILEKEY");
    assert_string_equal(c.secret_key, "FILESECRET");
    assert_string_equal(c.source, "credentials-file");
    setenv("AWS_PROFILE", "cam", 1);
    assert_int_equal(sl_kvs_creds_resolve(NULL, NULL, NULL, &c), 0);
    assert_string_equal(c.access_key, "CAMKEY");
    assert_string_equal(c.session_token, "CAMTOKEN");
    /* the environment beats the file */
    setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
    setenv("AWS_SESSION_TOKEN", "ENVTOKEN", 1);
    assert_int_equal(sl_kvs_creds_resolve("access_key", "secret_key", NULL, &c), 0);
    assert_string_equal(c.access_key, "ENVKEY");
    assert_string_equal(c.session_token, "ENVTOKEN");
    assert_string_equal(c.source, "environment");
    /* properties beat both */
    assert_int_equal(sl_kvs_creds_resolve("PROPKEY", "PROPSECRET", "session_token", &c), 0);
    assert_string_equal(c.access_key, "PROPKEY");
    assert_string_equal(c.session_token, "");
    sl_kvs_creds_wipe(&c);
    assert_string_equal(c.secret_key, "");
    /* nothing anywhere */
    clear_env();
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    assert_int_equal(sl_kvs_creds_resolve(NULL, NULL, NULL, &c), SL_ENOTFOUND);
    unlink(path);
    clear_env();
}

static void test_region_and_endpoint(void **state)
{
    char region[64], url[256];
    (void)state;
    clear_env();
    sl_kvs_region_resolve("eu-west-1", region, sizeof(region));
    assert_string_equal(region, "eu-west-1");
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1); /* the environment wins, as in AWS's */
    sl_kvs_region_resolve("eu-west-1", region, sizeof(region));
    assert_string_equal(region, "ap-south-1");
    sl_kvs_endpoint_resolve(NULL, "us-east-1", url, sizeof(url));
    assert_string_equal(url, "https://kinesisvideo.us-east-1.amazonaws.com");
    sl_kvs_endpoint_resolve(NULL, "cn-north-1", url, sizeof(url));
    assert_string_equal(url, "https://kinesisvideo.cn-north-1.amazonaws.com.cn");
    setenv("CONTROL_PLANE_URI", "http://127.0.0.1:4566/", 1);
    sl_kvs_endpoint_resolve(NULL, "us-east-1", url, sizeof(url));
    assert_string_equal(url, "http://127.0.0.1:4566");
    sl_kvs_endpoint_resolve("http://10.0.0.1:8080", "us-east-1", url, sizeof(url));
    assert_string_equal(url, "http://10.0.0.1:8080");
    clear_env();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_clusters_read_back),
        cmocka_unit_test(test_avcc_from_frame),
        cmocka_unit_test(test_waveformatex),
        cmocka_unit_test(test_ack_parsing),
        cmocka_unit_test(test_credentials_order),
        cmocka_unit_test(test_region_and_endpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
