/* S3 object keys: evaluation of Prefix / ErrorOutputPrefix expressions and object names.
 *
 * Expressions are `!{namespace:value}`:
 *   timestamp:<pattern>        Java DateTimeFormatter subset of the instant (UTC): y (yyyy,
 *                              yy), M, d, H, h, m, s, S (fraction), D (day of year), a, E,
 *                              'quoted literal' ('' = a quote); other characters copied.
 *   firehose:random-string     11 random characters [a-z0-9A-Z], new for each occurrence.
 *   firehose:error-output-type the error type (ErrorOutputPrefix only).
 * A Prefix without a timestamp expression gets "yyyy/MM/dd/HH/" of the oldest record appended;
 * a plain (expression-free) ErrorOutputPrefix gets "<type>/yyyy/MM/dd/HH/" appended.
 * Object name: "<DS name>-<VersionId>-yyyy-MM-dd-HH-mm-ss-<uuid><ext>" (delivery time, UTC).
 * Pure functions; randomness from OpenSSL (thread-safe). */
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fh.h"

void sl_fh_uuid(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (uint8_t)rand();
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void utc(int64_t ts_ms, struct tm *tm)
{
    time_t t = (time_t)(ts_ms / 1000);
    gmtime_r(&t, tm);
}

/* Appends the DateTimeFormatter pattern p[0..n) for ts_ms. */
static int format_ts(const char *p, size_t n, int64_t ts_ms, sl_buf *out)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    struct tm tm;
    utc(ts_ms, &tm);
    for (size_t i = 0; i < n;) {
        char c = p[i];
        if (c == '\'') {
            size_t j = i + 1;
            if (j < n && p[j] == '\'') {
                sl_buf_append_byte(out, '\'');
                i += 2;
                continue;
            }
            for (; j < n; j++) {
                if (p[j] == '\'' && j + 1 < n && p[j + 1] == '\'')
                    j++; /* '' inside a literal is one quote */
                else if (p[j] == '\'')
                    break;
                sl_buf_append_byte(out, (uint8_t)p[j]);
            }
            i = j + 1;
            continue;
        }
        size_t run = 1;
        while (i + run < n && p[i + run] == c)
            run++;
        int w = (int)run;
        switch (c) {
        case 'y':
        case 'u':
            if (run == 2)
                sl_buf_printf(out, "%02d", (tm.tm_year + 1900) % 100);
            else
                sl_buf_printf(out, "%0*d", w, tm.tm_year + 1900);
            break;
        case 'M':
            sl_buf_printf(out, "%0*d", w > 2 ? 2 : w, tm.tm_mon + 1);
            break;
        case 'd':
            sl_buf_printf(out, "%0*d", w, tm.tm_mday);
            break;
        case 'H':
            sl_buf_printf(out, "%0*d", w, tm.tm_hour);
            break;
        case 'h':
            sl_buf_printf(out, "%0*d", w, tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12);
            break;
        case 'm':
            sl_buf_printf(out, "%0*d", w, tm.tm_min);
            break;
        case 's':
            sl_buf_printf(out, "%0*d", w, tm.tm_sec);
            break;
        case 'S': {
            char frac[4];
            snprintf(frac, sizeof(frac), "%03d", (int)(((ts_ms % 1000) + 1000) % 1000));
            for (size_t k = 0; k < run; k++)
                sl_buf_append_byte(out, (uint8_t)(k < 3 ? frac[k] : '0'));
            break;
        }
        case 'D':
            sl_buf_printf(out, "%0*d", w, tm.tm_yday + 1);
            break;
        case 'a':
            sl_buf_append_str(out, tm.tm_hour < 12 ? "AM" : "PM");
            break;
        case 'E':
            sl_buf_append_str(out, days[tm.tm_wday]);
            break;
        default:
            sl_buf_append(out, p + i, run);
            break;
        }
        i += run;
    }
    return out->oom ? SL_ENOMEM : 0;
}

static void random_string(sl_buf *out)
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint8_t b[11];
    if (RAND_bytes(b, sizeof(b)) != 1) {
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (uint8_t)rand();
    }
    for (size_t i = 0; i < sizeof(b); i++)
        sl_buf_append_byte(out, (uint8_t)abc[b[i] % 62]);
}

/* keys != 0: dynamic-partitioning evaluation (query/lambda key objects, no default suffix). */
static int eval(const char *prefix, int64_t ts_ms, const char *error_type, int keys,
                const cJSON *qk, const cJSON *lk, sl_buf *out, char *msg, size_t cap)
{
    int has_ts = 0, has_expr = 0;
    prefix = prefix ? prefix : "";
    for (const char *p = prefix; *p;) {
        if (p[0] != '!' || p[1] != '{') {
            sl_buf_append_byte(out, (uint8_t)*p++);
            continue;
        }
        const char *end = strchr(p, '}');
        const char *colon = strchr(p, ':');
        if (!end || !colon || colon > end) {
            snprintf(msg, cap, "Invalid expression in prefix '%s'.", prefix);
            return SL_EINVAL;
        }
        const char *ns = p + 2, *val = colon + 1;
        size_t ns_len = (size_t)(colon - ns), val_len = (size_t)(end - val);
        has_expr = 1;
        if (ns_len == 9 && memcmp(ns, "timestamp", 9) == 0) {
            has_ts = 1;
            format_ts(val, val_len, ts_ms, out);
        } else if (ns_len == 8 && memcmp(ns, "firehose", 8) == 0 && val_len == 13 &&
                   memcmp(val, "random-string", 13) == 0) {
            random_string(out);
        } else if (ns_len == 8 && memcmp(ns, "firehose", 8) == 0 && val_len == 17 &&
                   memcmp(val, "error-output-type", 17) == 0 && error_type) {
            sl_buf_append_str(out, error_type);
        } else if (keys && ((ns_len == 21 && memcmp(ns, "partitionKeyFromQuery", 21) == 0) ||
                            (ns_len == 22 && memcmp(ns, "partitionKeyFromLambda", 22) == 0))) {
            char key[256];
            snprintf(key, sizeof(key), "%.*s", (int)val_len, val);
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(ns_len == 21 ? qk : lk, key);
            if (!cJSON_IsString(v)) {
                snprintf(msg, cap, "Partition key %s has no value for this record.", key);
                return SL_ENOTFOUND;
            }
            sl_buf_append_str(out, v->valuestring);
        } else {
            snprintf(msg, cap, "Unsupported expression !{%.*s:%.*s} in prefix.", (int)ns_len, ns,
                     (int)val_len, val);
            return SL_EINVAL;
        }
        p = end + 1;
    }
    if (error_type && !has_expr) {
        sl_buf_append_str(out, error_type);
        sl_buf_append_byte(out, '/');
        format_ts("yyyy/MM/dd/HH/", 14, ts_ms, out);
    } else if (!error_type && !has_ts && !keys) {
        format_ts("yyyy/MM/dd/HH/", 14, ts_ms, out);
    }
    if (out->len > 1024) {
        snprintf(msg, cap, "The evaluated prefix is longer than 1024 characters.");
        return SL_EINVAL;
    }
    return out->oom ? SL_ENOMEM : 0;
}

int sl_fh_prefix_eval(const char *prefix, int64_t ts_ms, const char *error_type, sl_buf *out,
                      char *msg, size_t cap)
{
    return eval(prefix, ts_ms, error_type, 0, NULL, NULL, out, msg, cap);
}

int sl_fh_prefix_eval_keys(const char *prefix, int64_t ts_ms, const cJSON *query_keys,
                           const cJSON *lambda_keys, sl_buf *out, char *msg, size_t cap)
{
    return eval(prefix, ts_ms, NULL, 1, query_keys, lambda_keys, out, msg, cap);
}

int sl_fh_prefix_check_dp(const char *prefix, const char *error_prefix, char *msg, size_t cap)
{
    prefix = prefix ? prefix : "";
    error_prefix = error_prefix ? error_prefix : "";
    if (!strstr(prefix, "!{partitionKeyFromQuery:") &&
        !strstr(prefix, "!{partitionKeyFromLambda:")) {
        snprintf(msg, cap,
                 "When dynamic partitioning is enabled, Prefix must use "
                 "!{partitionKeyFromQuery:...} or !{partitionKeyFromLambda:...}.");
        return SL_EINVAL;
    }
    if (!error_prefix[0] || strstr(error_prefix, "!{partitionKeyFrom")) {
        snprintf(msg, cap,
                 "When dynamic partitioning is enabled, ErrorOutputPrefix is required "
                 "and cannot use partition keys.");
        return SL_EINVAL;
    }
    sl_buf tmp = SL_BUF_INIT;
    cJSON *any = cJSON_CreateObject();
    int rc = eval(error_prefix, 0, "processing-failed", 0, NULL, NULL, &tmp, msg, cap);
    /* Prefix syntax: evaluate with no keys; only SL_ENOTFOUND (missing key) is expected. */
    if (rc == 0) {
        sl_buf_reset(&tmp);
        rc = eval(prefix, 0, NULL, 1, any, any, &tmp, msg, cap);
        if (rc == SL_ENOTFOUND)
            rc = 0;
    }
    if (rc == 0 && strstr(error_prefix, "!{") &&
        !strstr(error_prefix, "!{firehose:error-output-type}")) {
        snprintf(msg, cap,
                 "ErrorOutputPrefix must contain the '!{firehose:error-output-type}' "
                 "expression when it contains expressions.");
        rc = SL_EINVAL;
    }
    cJSON_Delete(any);
    sl_buf_cleanup(&tmp);
    return rc;
}

int sl_fh_prefix_check(const char *prefix, const char *error_prefix, char *msg, size_t cap)
{
    prefix = prefix ? prefix : "";
    error_prefix = error_prefix ? error_prefix : "";
    int p_expr = strstr(prefix, "!{") != NULL, e_expr = strstr(error_prefix, "!{") != NULL;
    sl_buf tmp = SL_BUF_INIT;
    int rc = 0;
    if (strstr(prefix, "!{firehose:error-output-type}")) {
        snprintf(msg, cap,
                 "The '!{firehose:error-output-type}' expression is only allowed in "
                 "ErrorOutputPrefix.");
        rc = SL_EINVAL;
        goto out;
    }
    if (p_expr && !error_prefix[0]) {
        snprintf(msg, cap,
                 "ErrorOutputPrefix cannot be null or empty when Prefix contains expressions.");
        rc = SL_EINVAL;
        goto out;
    }
    if (e_expr && !strstr(error_prefix, "!{firehose:error-output-type}")) {
        snprintf(msg, cap,
                 "ErrorOutputPrefix must contain the '!{firehose:error-output-type}' expression "
                 "when it contains expressions.");
        rc = SL_EINVAL;
        goto out;
    }
    if ((rc = sl_fh_prefix_eval(prefix, 0, NULL, &tmp, msg, cap)))
        goto out;
    sl_buf_reset(&tmp);
    rc = sl_fh_prefix_eval(error_prefix, 0, "processing-failed", &tmp, msg, cap);
out:
    sl_buf_cleanup(&tmp);
    return rc;
}

int sl_fh_object_name(const char *ds_name, const char *version, int64_t now_ms, const char *ext,
                      sl_buf *out)
{
    struct tm tm;
    char uuid[37];
    utc(now_ms, &tm);
    sl_fh_uuid(uuid);
    sl_buf_printf(out, "%s-%s-%04d-%02d-%02d-%02d-%02d-%02d-%s%s", ds_name, version,
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  uuid, ext ? ext : "");
    return out->oom ? SL_ENOMEM : 0;
}
