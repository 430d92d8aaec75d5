/* The Lambda record-transformation contract (spec §4.1), invoked over HTTP.
 *
 * Sluice has no Lambda service: the gateway's environment maps each Lambda ARN to a function URL,
 *     SLUICE_FIREHOSE_LAMBDA_URLS="<arn>=<url>[,<arn>=<url>...]"
 * and one invocation is an HTTP POST of the event Firehose sends to Lambda, with
 * Content-Type application/json, to that URL:
 *     {"invocationId":"<uuid>","deliveryStreamArn":"arn:aws:firehose:...","region":"...",
 *      "records":[{"recordId":"<n>","approximateArrivalTimestamp":<epoch ms>,"data":"<base64>"}]}
 * The answer must be 200 with {"records":[{"recordId","result":"Ok"|"Dropped"|"ProcessingFailed",
 * "data":"<base64>"[,"metadata":{"partitionKeys":{...}}]}]} (partition keys feed
 * !{partitionKeyFromLambda:...}), every input recordId exactly once (in any order); anything else
 * -- transport error, other status, malformed JSON, unknown/missing/duplicate ids, an unknown
 * result, Ok without valid base64 data -- fails the whole invocation. This is what a Lambda
 * function URL in front of an unchanged Firehose transformation handler answers.
 *
 * Worker thread only (blocking libcurl call, 5 minute timeout as Lambda's maximum). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/base64.h"
#include "fh.h"
#include "sluice/time.h"

int sl_fh_lambda_url(const char *arn, char *out, size_t cap)
{
    const char *map = getenv("SLUICE_FIREHOSE_LAMBDA_URLS");
    size_t alen = strlen(arn);
    for (const char *p = map; p && *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        if (eq && (size_t)(eq - p) == alen && memcmp(p, arn, alen) == 0) {
            snprintf(out, cap, "%.*s", (int)(n - alen - 1), eq + 1);
            return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return SL_ENOTFOUND;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    sl_buf *b = ud;
    if (b->len + size * n > (6u << 20))
        return 0; /* Lambda's 6 MB response limit */
    sl_buf_append(b, p, size * n);
    return size * n;
}

int sl_fh_lambda_invoke(const char *arn, const char *ds_arn, const char *region,
                        const sl_fh_rec *recs, size_t n, sl_buf *data_out, sl_fh_xform *res,
                        char *err, size_t cap)
{
    sl_buf body = SL_BUF_INIT, resp = SL_BUF_INIT;
    struct curl_slist *hl = NULL;
    CURL *c = NULL;
    cJSON *j = NULL;
    char url[2048], uuid[37];
    int rc = SL_EIO;
    if (sl_fh_lambda_url(arn, url, sizeof(url))) {
        snprintf(err, cap, "No function URL is configured for %s (SLUICE_FIREHOSE_LAMBDA_URLS).",
                 arn);
        return SL_EIO;
    }
    sl_fh_uuid(uuid);
    sl_buf_printf(&body,
                  "{\"invocationId\":\"%s\",\"deliveryStreamArn\":\"%s\",\"region\":\"%s\","
                  "\"records\":[",
                  uuid, ds_arn, region);
    for (size_t i = 0; i < n; i++) {
        if (sl_buf_reserve(&body, SL_BASE64_LEN(recs[i].len) + 96)) {
            rc = SL_ENOMEM;
            goto out;
        }
        sl_buf_printf(&body,
                      "%s{\"recordId\":\"%zu\",\"approximateArrivalTimestamp\":%lld,\"data\":\"",
                      i ? "," : "", i, (long long)recs[i].ts_ms);
        body.len +=
            sl_base64_encode((const uint8_t *)recs[i].data, recs[i].len, body.data + body.len);
        sl_buf_append_str(&body, "\"}");
    }
    sl_buf_append_str(&body, "]}");
    if (body.oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    if (!hl || !(c = curl_easy_init())) {
        rc = SL_ENOMEM;
        goto out;
    }
    const char *ca = getenv("SLUICE_FIREHOSE_HTTP_CA_FILE");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        snprintf(err, cap, "Invoking %s: %s", arn, curl_easy_strerror(cc));
        goto out;
    }
    if (status != 200) {
        snprintf(err, cap, "The function answered HTTP %ld.", status);
        goto out;
    }
    j = resp.data ? cJSON_ParseWithLength(resp.data, resp.len) : NULL;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "records"), *r;
    if (!cJSON_IsArray(arr) || (size_t)cJSON_GetArraySize(arr) != n) {
        snprintf(err, cap, "The function response does not hold exactly one result per record.");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        res[i].result = -1;
    cJSON_ArrayForEach(r, arr)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "recordId");
        const cJSON *result = cJSON_GetObjectItemCaseSensitive(r, "result");
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(r, "data");
        char *endp = NULL;
        unsigned long long idx = cJSON_IsString(id) ? strtoull(id->valuestring, &endp, 10) : n;
        if (!cJSON_IsString(id) || !endp || *endp || idx >= n || res[idx].result != -1 ||
            !cJSON_IsString(result)) {
            snprintf(err, cap,
                     "The function response has an unknown, missing or repeated "
                     "recordId.");
            goto out;
        }
        sl_fh_xform *x = &res[idx];
        if (strcmp(result->valuestring, "Dropped") == 0) {
            x->result = SL_FH_X_DROPPED;
        } else if (strcmp(result->valuestring, "ProcessingFailed") == 0) {
            x->result = SL_FH_X_FAILED;
        } else if (strcmp(result->valuestring, "Ok") == 0 && cJSON_IsString(data)) {
            size_t len = strlen(data->valuestring);
            if (sl_buf_reserve(data_out, len / 4 * 3 + 1)) {
                rc = SL_ENOMEM;
                goto out;
            }
            long got = sl_base64_decode(data->valuestring, len,
                                        (uint8_t *)data_out->data + data_out->len, 0);
            if (got < 0) {
                snprintf(err, cap, "The function returned data that is not base64.");
                goto out;
            }
            x->result = SL_FH_X_OK;
            const cJSON *md = cJSON_GetObjectItemCaseSensitive(r, "metadata");
            const cJSON *pk = cJSON_GetObjectItemCaseSensitive(md, "partitionKeys");
            x->keys = cJSON_IsObject(pk) ? cJSON_Duplicate(pk, 1) : NULL;
            x->off = data_out->len;
            x->len = (size_t)got;
            data_out->len += (size_t)got;
            data_out->data[data_out->len] = '\0';
        } else {
            snprintf(err, cap, "The function returned an invalid result for record %llu.", idx);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(j);
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    sl_buf_cleanup(&body);
    sl_buf_cleanup(&resp);
    return rc;
}
