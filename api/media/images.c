/* GetImages: JPEG or PNG images sampled from a time range of a stream.
 *
 * Sample times are StartTimestamp + k × SamplingInterval for k = 0, 1, ... while <= End
 * (one image, at Start, when the range is shorter than the interval). A page holds at most
 * min(MaxResults, 25) samples; NextToken (sl_api_token_encode) carries the next k, and the
 * request's other members must be sent again with it, as with AWS. For each sample the fragment
 * whose span [start, start + duration) holds it is found in the index on the loop thread (none:
 * Error NO_MEDIA); then one worker job reads those fragments and, per sample, decodes the key
 * frame nearest the sample's offset into its fragment, scales it (WidthPixels × HeightPixels,
 * both or neither) and encodes it (pkg.c sl_pkg_image). A fragment that does not decode or has
 * no video gives Error MEDIA_ERROR. Samples in one fragment reuse its bytes; TimeStamp is the
 * sample time asked for, as AWS reports it. ImageContent is base64. Loop thread except
 * images_work. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"
#include "sl_api_handlers.h"

#define PAGE_MAX        25
#define MAX_SPAN_MS     (300 * 1000)
#define MIN_INTERVAL_MS 200

typedef struct sample {
    int64_t t_ms;
    size_t frag; /* index into the job's sources, SIZE_MAX: NO_MEDIA */
    int64_t offset_ms;
    sl_buf img;
    int error; /* 0, 1 NO_MEDIA, 2 MEDIA_ERROR */
} sample;

typedef struct images_job {
    sl_exchange *ex;
    sl_pkg_image_opts o;
    size_t n;
    sample s[PAGE_MAX];
    md_src *src[PAGE_MAX];
    size_t nsrc;
    char next[128];
} images_job;

static void images_work(void *arg)
{
    images_job *j = arg;
    sl_buf mkv = SL_BUF_INIT;
    size_t loaded = SIZE_MAX;
    int load_rc = 0;
    for (size_t i = 0; i < j->n; i++) {
        sample *sm = &j->s[i];
        if (sm->frag == SIZE_MAX) {
            sm->error = 1;
            continue;
        }
        if (loaded != sm->frag) {
            sl_buf_reset(&mkv);
            load_rc = md_src_read(j->src[sm->frag], &mkv, NULL);
            loaded = sm->frag;
        }
        sl_pkg_image_opts o = j->o;
        o.at_ms = sm->offset_ms;
        o.relative = 1;
        if (load_rc != 0 ||
            sl_pkg_image((const uint8_t *)mkv.data, mkv.len, &o, &sm->img, NULL, NULL) != 0)
            sm->error = 2;
    }
    sl_buf_cleanup(&mkv);
}

static void b64(sl_buf *out, const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (sl_buf_reserve(out, (n + 2) / 3 * 4 + 1))
        return;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        sl_buf_append(out, q, 4);
    }
}

static void images_done(void *arg)
{
    images_job *j = arg;
    if (sl_exchange_is_open(j->ex)) {
        sl_buf out = SL_BUF_INIT;
        sl_buf_append_str(&out, "{\"Images\":[");
        for (size_t i = 0; i < j->n; i++) {
            sample *sm = &j->s[i];
            sl_buf_printf(&out, "%s{\"TimeStamp\":%" PRId64 ".%03d", i ? "," : "", sm->t_ms / 1000,
                          (int)(sm->t_ms % 1000));
            if (sm->error)
                sl_buf_printf(&out, ",\"Error\":\"%s\"",
                              sm->error == 1 ? "NO_MEDIA" : "MEDIA_ERROR");
            else {
                sl_buf_append_str(&out, ",\"ImageContent\":\"");
                b64(&out, (const uint8_t *)sm->img.data, sm->img.len);
                sl_buf_append_str(&out, "\"");
            }
            sl_buf_append_str(&out, "}");
        }
        sl_buf_append_str(&out, "]");
        if (j->next[0])
            sl_buf_printf(&out, ",\"NextToken\":\"%s\"", j->next);
        sl_buf_append_str(&out, "}");
        static const sl_http_header h[] = {
            {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("application/json")}};
        if (out.oom)
            sl_wire_reply_error(j->ex, SL_PROTO_REST_JSON, md_service(), 500, "InternalFailure",
                                "out of memory", NULL);
        else
            sl_exchange_respond(j->ex, 200, h, 1, out.data, out.len);
        sl_buf_cleanup(&out);
    }
    sl_exchange_unref(j->ex);
    for (size_t i = 0; i < j->n; i++)
        sl_buf_cleanup(&j->s[i].img);
    for (size_t i = 0; i < j->nsrc; i++)
        md_src_free(j->src[i]);
    free(j);
}

static int64_t num_member(const cJSON *o, const char *name, int64_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

void sl_media_get_images(sl_api_call *call)
{
    const cJSON *in = call->input;
    int64_t start, end;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(in, "ImageSelectorType");
    int server_ts = cJSON_IsString(type) && !strcmp(type->valuestring, "SERVER_TIMESTAMP");
    if (md_json_time_ms(cJSON_GetObjectItemCaseSensitive(in, "StartTimestamp"), &start) ||
        md_json_time_ms(cJSON_GetObjectItemCaseSensitive(in, "EndTimestamp"), &end) ||
        end < start) {
        sl_wire_call_error(call, "InvalidArgumentException", "The timestamp range is not valid.");
        return;
    }
    if (end - start > MAX_SPAN_MS) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "The time range between StartTimestamp and EndTimestamp must not "
                           "exceed 300 seconds.");
        return;
    }
    int64_t interval = num_member(in, "SamplingInterval", 3000);
    if (interval < MIN_INTERVAL_MS) {
        sl_wire_call_error(call, "InvalidArgumentException",
                           "SamplingInterval must be at least 200 milliseconds.");
        return;
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(in, "Format");
    int png = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "PNG");
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(in, "FormatConfig");
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(fc, "JPEGQuality");
    int quality = 80;
    if (cJSON_IsString(q)) {
        char *e;
        long v = strtol(q->valuestring, &e, 10);
        if (*e || v < 1 || v > 100) {
            sl_wire_call_error(call, "InvalidArgumentException",
                               "JPEGQuality must be an integer from 1 to 100.");
            return;
        }
        quality = (int)v;
    }
    int64_t maxr = num_member(in, "MaxResults", PAGE_MAX);
    size_t page = (size_t)(maxr < PAGE_MAX ? maxr : PAGE_MAX);
    int64_t k0 = 0;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(in, "NextToken");
    if (cJSON_IsString(tok)) {
        char last[32];
        if (sl_api_token_decode(tok->valuestring, 0, last, sizeof(last)) != 0 ||
            (k0 = strtoll(last, NULL, 10)) <= 0) {
            sl_wire_call_error(call, "InvalidArgumentException", "NextToken is not valid.");
            return;
        }
    }
    md_stream *st = md_stream_or_reply(call, 1);
    if (!st)
        return;
    images_job *j = calloc(1, sizeof(*j));
    if (!j) {
        md_stream_unref(st);
        sl_wire_call_error_code(call, SL_ENOMEM);
        return;
    }
    j->o.format = png ? SL_PKG_PNG : SL_PKG_JPEG;
    j->o.width = (int)num_member(in, "WidthPixels", 0);
    j->o.height = (int)num_member(in, "HeightPixels", 0);
    j->o.jpeg_quality = quality;
    int64_t nsamples = (end - start) / interval + 1;
    size_t nfr = md_stream_nfrags(st);
    size_t src_frag[PAGE_MAX];
    for (int64_t k = k0; k < nsamples && j->n < page; k++) {
        sample *sm = &j->s[j->n++];
        sm->t_ms = start + k * interval;
        sm->frag = SIZE_MAX;
        /* the fragment whose span holds t (newest first: live streams are read near the end) */
        for (size_t i = nfr; i-- > 0;) {
            md_frag f;
            md_stream_frag(st, i, &f);
            int64_t ts = server_ts ? f.server_ms : f.producer_ms;
            if (sm->t_ms < ts || sm->t_ms >= ts + (int64_t)(f.duration_ms ? f.duration_ms : 1))
                continue;
            size_t s_i = 0;
            while (s_i < j->nsrc && src_frag[s_i] != i)
                s_i++;
            if (s_i == j->nsrc) {
                md_src *src = md_src_new(st, i, i + 1);
                if (!src)
                    break;
                src_frag[j->nsrc] = i;
                j->src[j->nsrc++] = src;
            }
            sm->frag = s_i;
            sm->offset_ms = sm->t_ms - ts;
            break;
        }
        if (k + 1 < nsamples && j->n == page) {
            char last[32];
            snprintf(last, sizeof(last), "%" PRId64, k + 1);
            sl_api_token_encode(last, j->next, sizeof(j->next));
        }
    }
    md_stream_unref(st);
    j->ex = call->ex;
    sl_exchange_ref(call->ex);
    if (md_work_submit(images_work, images_done, j)) {
        sl_exchange_unref(call->ex);
        for (size_t i = 0; i < j->nsrc; i++)
            md_src_free(j->src[i]);
        free(j);
        sl_wire_call_error(call, "ClientLimitExceededException",
                           "Too many image requests are being processed; retry later.");
    }
}
