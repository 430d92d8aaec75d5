/* Small helpers shared by the playback operations: the CORS
 * headers every session resource carries, archived-media error replies, and request timestamps.
 * Loop thread (md_json_time_ms: any thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media_int.h"

/* AWS's session endpoints answer any origin: a user's own dashboard plays the URL. */
const sl_http_header md_cors_headers[3] = {
    {SL_SLICE_LIT("Access-Control-Allow-Origin"), SL_SLICE_LIT("*")},
    {SL_SLICE_LIT("Access-Control-Allow-Methods"), SL_SLICE_LIT("GET, HEAD, OPTIONS")},
    {SL_SLICE_LIT("Access-Control-Allow-Headers"), SL_SLICE_LIT("*")},
};

const sl_service_def *md_service(void)
{
    return sl_model_service("kinesis-video-archived-media");
}

void md_reply_error(sl_exchange *ex, const char *type, const char *msg)
{
    sl_wire_reply_error(ex, SL_PROTO_REST_JSON, md_service(), 0, type, msg, NULL);
}

int md_json_time_ms(const cJSON *v, int64_t *ms)
{
    if (cJSON_IsNumber(v)) {
        *ms = (int64_t)(v->valuedouble * 1000.0 + (v->valuedouble >= 0 ? 0.5 : -0.5));
        return 0;
    }
    if (!cJSON_IsString(v))
        return SL_EINVAL;
    char *end = NULL;
    double d = strtod(v->valuestring, &end);
    if (end != v->valuestring && *end == '\0') {
        *ms = (int64_t)(d * 1000.0 + 0.5);
        return 0;
    }
    struct tm tm;
    int n = 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(v->valuestring, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return SL_EINVAL;
    const char *p = v->valuestring + n;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        for (; digits < 3; digits++)
            frac *= 10;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t secs = (int64_t)timegm(&tm);
    if (*p == 'Z' || *p == 0) {
        /* UTC */
    } else if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) < 1)
            return SL_EINVAL;
        secs -= (*p == '+' ? 1 : -1) * (int64_t)(hh * 3600 + mm * 60);
    } else {
        return SL_EINVAL;
    }
    *ms = secs * 1000 + frac;
    return 0;
}
