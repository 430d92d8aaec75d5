/* HTTP endpoint destination: one attempt of Firehose's HTTP delivery request (protocol 1.0,
 * spec §6), with libcurl on the delivery worker thread.
 *
 * Request: POST <Url as configured> with
 *   Content-Type: application/json
 *   Content-Encoding: gzip                       (ContentEncoding GZIP only; body gzipped)
 *   X-Amz-Firehose-Protocol-Version: 1.0
 *   X-Amz-Firehose-Request-Id: <uuid>             (same on every retry of a batch)
 *   X-Amz-Firehose-Source-Arn: <delivery stream ARN>
 *   X-Amz-Firehose-Access-Key: <AccessKey>        (absent when none)
 *   X-Amz-Firehose-Common-Attributes: {"commonAttributes":{...}}   (absent when none)
 * body {"requestId":"<uuid>","timestamp":<epoch ms>,"records":[{"data":"<base64>"},...]}.
 *
 * Success is exactly: status 200, no Content-Encoding, a JSON body of at most 1 MiB whose
 * "requestId" equals ours. 413 is permanent; any other outcome is retriable and is classified
 * with AWS's error codes (HttpEndpoint.DestinationException for other statuses,
 * .ConnectionFailed, .ConnectionReset, .RequestTimeout, .SSLHandshakeFailure,
 * .ResponseTooLarge, .InvalidResponseFromDestination); an "errorMessage" in the reply body is
 * kept for the error record. Redirects are not followed.
 *
 * Environment: SLUICE_FIREHOSE_HTTP_TIMEOUT_S (per attempt, default 180),
 * SLUICE_FIREHOSE_HTTP_CA_FILE (extra CA bundle for private receivers). Worker thread only. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/base64.h"
#include "fh.h"
#include "sluice/time.h"

#define RESPONSE_MAX (1u << 20)

typedef struct resp {
    sl_buf body;
    int too_large;
    int encoded;
    int json;
} resp;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    if (r->body.len + size * n > RESPONSE_MAX) {
        r->too_large = 1;
        return 0;
    }
    sl_buf_append(&r->body, p, size * n);
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    resp *r = ud;
    size_t len = size * n;
    if (len >= 17 && strncasecmp(p, "content-encoding:", 17) == 0)
        r->encoded = 1;
    if (len >= 13 && strncasecmp(p, "content-type:", 13) == 0) {
        const char *v = p + 13;
        while (*v == ' ')
            v++;
        r->json = strncasecmp(v, "application/json", 16) == 0;
    }
    return len;
}

static void set_code(sl_fh_http_result *res, const char *code, const char *msg)
{
    snprintf(res->error_code, sizeof(res->error_code), "%.60s", code);
    snprintf(res->error_msg, sizeof(res->error_msg), "%.500s", msg);
}

int sl_fh_http_deliver(const sl_fh_dest *d, const char *source_arn, const char *request_id,
                       const sl_fh_rec *recs, size_t n, sl_fh_http_result *res)
{
    sl_buf body = SL_BUF_INIT, gz = SL_BUF_INIT, hdr = SL_BUF_INIT;
    resp r = {SL_BUF_INIT, 0, 0, 0};
    struct curl_slist *hl = NULL;
    CURL *c = NULL;
    int rc = SL_ENOMEM;
    memset(res, 0, sizeof(*res));

    sl_buf_printf(&body, "{\"requestId\":\"%s\",\"timestamp\":%lld,\"records\":[", request_id,
                  (long long)(sl_time_now_ns() / 1000000));
    for (size_t i = 0; i < n; i++) {
        if (sl_buf_reserve(&body, SL_BASE64_LEN(recs[i].len) + 16))
            goto out;
        sl_buf_append_str(&body, i ? ",{\"data\":\"" : "{\"data\":\"");
        body.len +=
            sl_base64_encode((const uint8_t *)recs[i].data, recs[i].len, body.data + body.len);
        sl_buf_append_str(&body, "\"}");
    }
    sl_buf_append_str(&body, "]}");
    if (body.oom)
        goto out;
    const sl_buf *send = &body;
    if (d->gzip_body) {
        if ((rc = sl_fh_gzip(body.data, body.len, &gz)))
            goto out;
        send = &gz;
    }
    rc = SL_ENOMEM;
    hl = curl_slist_append(hl, "Content-Type: application/json");
    if (d->gzip_body)
        hl = curl_slist_append(hl, "Content-Encoding: gzip");
    hl = curl_slist_append(hl, "X-Amz-Firehose-Protocol-Version: 1.0");
    hl = curl_slist_append(hl, "Expect:");
    sl_buf_printf(&hdr, "X-Amz-Firehose-Request-Id: %s", request_id);
    hl = curl_slist_append(hl, hdr.data);
    sl_buf_reset(&hdr);
    sl_buf_printf(&hdr, "X-Amz-Firehose-Source-Arn: %s", source_arn);
    hl = curl_slist_append(hl, hdr.data);
    if (d->access_key[0]) {
        sl_buf_reset(&hdr);
        sl_buf_printf(&hdr, "X-Amz-Firehose-Access-Key: %s", d->access_key);
        hl = curl_slist_append(hl, hdr.data);
    }
    if (d->common_attrs) {
        sl_buf_reset(&hdr);
        sl_buf_printf(&hdr, "X-Amz-Firehose-Common-Attributes: %s", d->common_attrs);
        hl = curl_slist_append(hl, hdr.data);
    }
    if (!hl || hdr.oom || !(c = curl_easy_init()))
        goto out;
    const char *t = getenv("SLUICE_FIREHOSE_HTTP_TIMEOUT_S");
    const char *ca = getenv("SLUICE_FIREHOSE_HTTP_CA_FILE");
    curl_easy_setopt(c, CURLOPT_URL, d->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, send->data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, t && *t ? strtol(t, NULL, 10) : 180L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    rc = 0;
    if (r.too_large) {
        set_code(res, "HttpEndpoint.ResponseTooLarge", "The response exceeded 1 MiB.");
        goto out;
    }
    if (cc != CURLE_OK) {
        const char *code = "HttpEndpoint.ConnectionFailed";
        if (cc == CURLE_OPERATION_TIMEDOUT)
            code = "HttpEndpoint.RequestTimeout";
        else if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION ||
                 cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM)
            code = "HttpEndpoint.SSLHandshakeFailure";
        else if (cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING)
            code = "HttpEndpoint.ConnectionReset";
        set_code(res, code, curl_easy_strerror(cc));
        goto out;
    }
    cJSON *j = r.body.data ? cJSON_ParseWithLength(r.body.data, r.body.len) : NULL;
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(j, "errorMessage");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(j, "requestId");
    char m[600];
    if (status == 413) {
        res->permanent = 1;
        set_code(res, "HttpEndpoint.DestinationException", "413 Request Entity Too Large");
    } else if (status != 200) {
        snprintf(m, sizeof(m), "The endpoint answered HTTP %ld%s%.500s", status,
                 cJSON_IsString(em) ? ": " : "", cJSON_IsString(em) ? em->valuestring : "");
        set_code(res, "HttpEndpoint.DestinationException", m);
    } else if (r.encoded || !r.json || !cJSON_IsString(rid) ||
               strcmp(rid->valuestring, request_id) != 0) {
        set_code(res, "HttpEndpoint.InvalidResponseFromDestination",
                 "The response is not the JSON acknowledgement of this request "
                 "(Content-Type application/json, no Content-Encoding, same requestId).");
    } else {
        res->ok = 1;
    }
    cJSON_Delete(j);
out:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    sl_buf_cleanup(&body);
    sl_buf_cleanup(&gz);
    sl_buf_cleanup(&hdr);
    sl_buf_cleanup(&r.body);
    return rc;
}
