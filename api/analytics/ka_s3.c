/* Reference objects from an S3-compatible store: a SigV4-signed path-style GET.
 *
 * Configuration is Firehose's (docs/firehose.md): when SLUICE_FIREHOSE_S3_ENDPOINT is set,
 * objects live at that endpoint, reached with SLUICE_FIREHOSE_S3_ACCESS_KEY_ID,
 * SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY and SLUICE_FIREHOSE_S3_REGION (default us-east-1);
 * otherwise in the local folder (ka_service.c resolves that path). The request is the one
 * Firehose's writer (api/firehose/fh_s3.c, PUT only, private) sends, with GET and an empty
 * payload: GET <endpoint>/<bucket>/<key, percent-encoded but '/'>, signed for service "s3"
 * by the shared signer (common/sigv4) with x-amz-content-sha256. 200 -> the body (refused past
 * max bytes), 404 -> SL_ENOTFOUND, anything else SL_EIO with a reason.
 *
 * Worker thread only (blocking libcurl call, 5 minute timeout). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ka.h"
#include "sluice/sigv4.h"
#include "sluice/time.h"

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
    const char *endpoint = getenv("SLUICE_FIREHOSE_S3_ENDPOINT");
    const char *ak = getenv("SLUICE_FIREHOSE_S3_ACCESS_KEY_ID");
    const char *sk = getenv("SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY");
    const char *region = getenv("SLUICE_FIREHOSE_S3_REGION");
    sl_buf raw = SL_BUF_INIT, enc = SL_BUF_INIT, url = SL_BUF_INIT;
    sl_sigv4_result sig;
    struct curl_slist *hl = NULL;
    CURL *c = NULL;
    int rc = SL_EIO;
    body b = {.out = out, .max = max};
    sl_sigv4_result_init(&sig);
    if (!endpoint || !*endpoint || !ak || !sk) {
        snprintf(msg, cap,
                 "SLUICE_FIREHOSE_S3_ENDPOINT, _ACCESS_KEY_ID and _SECRET_ACCESS_KEY must be set");
        goto out;
    }
    if (!region || !*region)
        region = "us-east-1";
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    size_t host_len = strcspn(host, "/");
    sl_buf_printf(&raw, "/%s/%s", bucket, key);
    sl_sigv4_uri_encode(&enc, raw.data, raw.len, 1);
    sl_buf_printf(&url, "%.*s%s", (int)(host - endpoint + (long)host_len), endpoint, enc.data);
    if (raw.oom || enc.oom || url.oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    sl_http_header h[1] = {{SL_SLICE_LIT("host"), {host, host_len}}};
    sl_sigv4_request req = {
        .method = SL_SLICE_LIT("GET"),
        .path = {raw.data, raw.len},
        .query = {"", 0},
        .headers = h,
        .n_headers = 1,
        .body = "",
        .body_len = 0,
    };
    sl_sigv4_sign_opts o = {
        .access_key = {ak, strlen(ak)},
        .secret_key = {sk, strlen(sk)},
        .region = {region, strlen(region)},
        .service = SL_SLICE_LIT("s3"),
        .time_s = sl_time_now_ns() / 1000000000,
        .no_normalize_path = 1,
        .add_content_sha256 = 1,
    };
    if ((rc = sl_sigv4_sign(&req, &o, &sig)))
        goto out;
    rc = SL_EIO;
    for (size_t i = 0; i < sig.n_add; i++) {
        sl_buf line = SL_BUF_INIT;
        sl_buf_printf(&line, "%.*s: %.*s", (int)sig.add[i].name.len, sig.add[i].name.ptr,
                      (int)sig.add[i].value.len, sig.add[i].value.ptr);
        hl = curl_slist_append(hl, line.data ? line.data : "");
        sl_buf_cleanup(&line);
    }
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
    sl_sigv4_result_cleanup(&sig);
    sl_buf_cleanup(&raw);
    sl_buf_cleanup(&enc);
    sl_buf_cleanup(&url);
    return rc;
}
