/* Reference objects from an S3-compatible store: a SigV4-signed path-style GET.
 *
 * Configuration is Firehose's (docs/firehose.md): when SLUICE_FIREHOSE_S3_ENDPOINT is set,
 * objects live at that endpoint, reached with SLUICE_FIREHOSE_S3_ACCESS_KEY_ID,
 * SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY and SLUICE_FIREHOSE_S3_REGION (default us-east-1);
 * otherwise in the local folder (ka_service.c resolves that path). The request is signed by
 * Firehose's S3 client (sl_fh_s3_signed, api/firehose/fh_s3.c), the one its writer PUTs with:
 * GET <endpoint>/<bucket>/<key, percent-encoded but '/'>, service "s3", x-amz-content-sha256 of
 * the empty payload. 200 -> the body (refused past max bytes), 404 -> SL_ENOTFOUND, anything
 * else SL_EIO with a reason.
 *
 * Worker thread only (blocking libcurl call, 5 minute timeout). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../firehose/fh.h"
#include "ka.h"

int ka_s3_remote(void)
{
    const char *e = getenv("SLUICE_FIREHOSE_S3_ENDPOINT");
    return e && *e;
}

typedef struct body {
    sl_buf *out;
    size_t max;
    int too_big;
} body;

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    body *b = ud;
    if (b->out->len + size * n > b->max) {
        b->too_big = 1;
        return 0;
    }
    sl_buf_append(b->out, p, size * n);
    return b->out->oom ? 0 : size * n;
}

int ka_s3_get(const char *bucket, const char *key, size_t max, sl_buf *out, char *msg, size_t cap)
{
    sl_buf url = SL_BUF_INIT;
    struct curl_slist *hl = NULL;
    CURL *c = NULL;
    body b = {.out = out, .max = max};
    int rc = sl_fh_s3_signed("GET", bucket, key, NULL, 0, &url, &hl, msg, cap);
    if (rc)
        goto out;
    rc = SL_EIO;
    if (!(c = curl_easy_init())) {
        rc = SL_ENOMEM;
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (b.too_big) {
        snprintf(msg, cap, "GET %s: larger than %zu bytes", url.data, max);
        rc = SL_ETOOBIG;
    } else if (cc != CURLE_OK) {
        snprintf(msg, cap, "GET %s: %s", url.data, curl_easy_strerror(cc));
    } else if (status == 404) {
        snprintf(msg, cap, "GET %s: no such object", url.data);
        rc = SL_ENOTFOUND;
    } else if (status != 200) {
        snprintf(msg, cap, "GET %s: HTTP %ld %.200s", url.data, status, out->data ? out->data : "");
    } else {
        rc = 0;
    }
out:
    if (rc)
        sl_buf_reset(out);
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    sl_buf_cleanup(&url);
    return rc;
}
