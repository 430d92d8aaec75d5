/* Kinesis Video service tags: the GetMedia per-fragment prefix and suffix, the GetMedia error
 * end, and the PutMedia ErrorId → ErrorCode table.
 *
 * GetMedia (spec video-streams §3.2) sends every stored fragment as a self-contained MKV chunk:
 *   stream header (EBML header, unknown-size Segment, Info, Tracks as the producer sent them)
 *   Tags: AWS_KINESISVIDEO_FRAGMENT_NUMBER, _SERVER_TIMESTAMP, _PRODUCER_TIMESTAMP
 *   Cluster (the producer's bytes, verbatim)
 *   Tags: AWS_KINESISVIDEO_MILLIS_BEHIND_NOW, _CONTINUATION_TOKEN
 * Each Tags is one Tag with one SimpleTag per value, every size a 4-byte vint (10 xx xx xx) as
 * the service writes them; timestamps are epoch seconds with exactly three decimals. */
#include <stdio.h>

#include "sluice/mkv.h"

static int ms_text(char *b, size_t cap, int64_t ms)
{
    if (ms < 0)
        return SL_EINVAL;
    snprintf(b, cap, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
    return 0;
}

static int write_service_tags(sl_buf *out, const char *const *names, const char *const *values,
                              size_t n)
{
    sl_mkv_writer w;
    sl_mkv_writer_init(&w, out);
    return sl_mkv_write_tags(&w, names, values, n, 4);
}

int sl_mkv_getmedia_prefix(sl_buf *out, sl_slice header, const char *fragment_number,
                           int64_t server_ts_ms, int64_t producer_ts_ms)
{
    char server[32], producer[32];
    if (ms_text(server, sizeof(server), server_ts_ms) != 0 ||
        ms_text(producer, sizeof(producer), producer_ts_ms) != 0)
        return SL_EINVAL;
    const char *names[] = {"AWS_KINESISVIDEO_FRAGMENT_NUMBER", "AWS_KINESISVIDEO_SERVER_TIMESTAMP",
                           "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"};
    const char *values[] = {fragment_number, server, producer};
    if (sl_buf_append(out, header.ptr, header.len) != 0)
        return SL_ENOMEM;
    return write_service_tags(out, names, values, 3);
}

int sl_mkv_getmedia_suffix(sl_buf *out, int64_t millis_behind_now, const char *continuation_token)
{
    char behind[32];
    snprintf(behind, sizeof(behind), "%lld", (long long)millis_behind_now);
    const char *names[] = {"AWS_KINESISVIDEO_MILLIS_BEHIND_NOW",
                           "AWS_KINESISVIDEO_CONTINUATION_TOKEN"};
    const char *values[] = {behind, continuation_token};
    return write_service_tags(out, names, values, 2);
}

int sl_mkv_getmedia_error(sl_buf *out, const char *fragment_number, int error_id,
                          const char *error_code)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", error_id);
    const char *names[] = {"AWS_KINESISVIDEO_FRAGMENT_NUMBER", "AWS_KINESISVIDEO_ERROR_CODE",
                           "AWS_KINESISVIDEO_ERROR_ID"};
    const char *values[] = {fragment_number, error_code, id};
    return write_service_tags(out, names, values, 3);
}

const char *sl_mkv_kvs_error_code(int error_id)
{
    switch (error_id) {
    case 4000:
        return "STREAM_READ_ERROR";
    case 4001:
        return "MAX_FRAGMENT_SIZE_REACHED";
    case 4002:
        return "MAX_FRAGMENT_DURATION_REACHED";
    case 4003:
        return "MAX_CONNECTION_DURATION_REACHED";
    case 4004:
        return "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS";
    case 4005:
        return "MORE_THAN_ONE_TRACK_FOUND";
    case 4006:
        return "INVALID_MKV_DATA";
    case 4007:
        return "INVALID_PRODUCER_TIMESTAMP";
    case 4008:
        return "STREAM_NOT_ACTIVE";
    case 4009:
        return "FRAGMENT_METADATA_LIMIT_REACHED";
    case 4010:
        return "TRACK_NUMBER_MISMATCH";
    case 4011:
        return "FRAMES_MISSING_FOR_TRACK";
    case 4012:
        return "MORE_THAN_ALLOWED_TRACKS_FOUND";
    case 4500:
        return "KMS_KEY_ACCESS_DENIED";
    case 4501:
        return "KMS_KEY_DISABLED";
    case 4502:
        return "KMS_KEY_VALIDATION_ERROR";
    case 4503:
        return "KMS_KEY_UNAVAILABLE";
    case 4504:
        return "KMS_KEY_INVALID_USAGE";
    case 4505:
        return "KMS_KEY_INVALID_STATE";
    case 4506:
        return "KMS_KEY_NOT_FOUND";
    case 4507:
        return "STREAM_DELETED";
    case 5000:
        return "INTERNAL_ERROR";
    case 5001:
        return "ARCHIVAL_ERROR";
    default:
        return NULL;
    }
}
