/* Object writes for S3 destinations: a local folder that mirrors the bucket/key layout, or any
 * S3-compatible endpoint reached with SigV4-signed path-style PUTs (libcurl).
 *
 * Local folder (default): <root>/<bucket>/<key>, root = SLUICE_FIREHOSE_S3_DIR, else "s3" in
 * the gateway's data folder. The object is written to a hidden temp
 * file in the target folder, fdatasync'ed, renamed into place and the folder fsync'ed, so a
 * reader never sees a partial object and a confirmed object survives a crash.
 *
 * S3 endpoint: set SLUICE_FIREHOSE_S3_ENDPOINT (e.g. http://127.0.0.1:9000) with
 * SLUICE_FIREHOSE_S3_ACCESS_KEY_ID, SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY and optionally
 * SLUICE_FIREHOSE_S3_REGION (default us-east-1). Request: PUT <endpoint>/<bucket>/<key, each
 * byte outside A-Za-z0-9-._~/ percent-encoded>, signed for service "s3" with
 * x-amz-content-sha256 = SHA-256 of the body; a 200 answer confirms the object.
 *
 * Keys are checked before use: no empty, "." or ".." segment may escape the bucket folder.
 * Worker thread only (blocking I/O). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fh.h"
#include "sluice/err.h"
#include "sluice/sigv4.h"
#include "sluice/time.h"

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int key_ok(const char *bucket, const char *key)
{
    if (!bucket[0] || strchr(bucket, '/') || strcmp(bucket, ".") == 0 ||
        strcmp(bucket, "..") == 0 || !key[0] || key[0] == '/')
        return 0;
    for (const char *p = key; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!e)
            break;
        p = e + 1;
    }
    return 1;
}

static int put_local(const char *bucket, const char *key, const void *data, size_t n, char *msg,
                     size_t cap)
{
    char path[4096], tmp[4200], dir[4096];
    char uuid[37];
    int fd = -1, rc = SL_EIO;
    if (snprintf(path, sizeof(path), "%s/%s/%s", sl_fh_s3_root(), bucket, key) >=
        (int)sizeof(path)) {
        snprintf(msg, cap, "object path too long");
        return SL_EINVAL;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    sl_fh_uuid(uuid);
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%s", dir, uuid);
    if (mkdirs(path) != 0) {
        snprintf(msg, cap, "mkdir for %s: %s", path, strerror(errno));
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(msg, cap, "open %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, (const char *)data + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(msg, cap, "write %s: %s", tmp, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (fdatasync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        snprintf(msg, cap, "sync %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(msg, cap, "rename to %s: %s", path, strerror(errno));
        goto out;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc)
        unlink(tmp);
    return rc;
}

int sl_fh_s3_signed(const char *method, const char *bucket, const char *key, const void *body,
                    size_t n, sl_buf *url, struct curl_slist **headers, char *msg, size_t cap)
{
    const char *endpoint = getenv("SLUICE_FIREHOSE_S3_ENDPOINT");
    const char *ak = getenv("SLUICE_FIREHOSE_S3_ACCESS_KEY_ID");
    const char *sk = getenv("SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY");
    const char *region = getenv("SLUICE_FIREHOSE_S3_REGION");
    sl_buf raw = SL_BUF_INIT, enc = SL_BUF_INIT;
    sl_sigv4_result sig;
    int rc = SL_EINVAL;
    sl_sigv4_result_init(&sig);
    *headers = NULL;
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
    sl_buf_printf(url, "%.*s%s", (int)(host - endpoint + (long)host_len), endpoint, enc.data);
    if (raw.oom || enc.oom || url->oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    sl_http_header h[1] = {{SL_SLICE_LIT("host"), {host, host_len}}};
    sl_sigv4_request req = {
        .method = {method, strlen(method)},
        .path = {raw.data, raw.len},
        .query = {"", 0},
        .headers = h,
        .n_headers = 1,
        .body = body ? body : "",
        .body_len = n,
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
    if ((rc = sl_sigv4_sign(&req, &o, &sig))) {
        snprintf(msg, cap, "signing %s %s: %s", method, url->data, sl_err_str(rc));
        goto out;
    }
    for (size_t i = 0; i < sig.n_add && rc == 0; i++) {
        sl_buf line = SL_BUF_INIT;
        sl_buf_printf(&line, "%.*s: %.*s", (int)sig.add[i].name.len, sig.add[i].name.ptr,
                      (int)sig.add[i].value.len, sig.add[i].value.ptr);
        struct curl_slist *more = line.oom ? NULL : curl_slist_append(*headers, line.data);
        if (more)
            *headers = more;
        else
            rc = SL_ENOMEM;
        sl_buf_cleanup(&line);
    }
out:
    if (rc) {
        curl_slist_free_all(*headers);
        *headers = NULL;
    }
    sl_sigv4_result_cleanup(&sig);
    sl_buf_cleanup(&raw);
    sl_buf_cleanup(&enc);
    return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    sl_buf *b = ud;
    if (b->len < 2048)
        sl_buf_append(b, p, size * n);
    return size * n;
}

static int put_remote(const char *bucket, const char *key, const void *data, size_t n, char *msg,
                      size_t cap)
{
    sl_buf url = SL_BUF_INIT, resp = SL_BUF_INIT;
    struct curl_slist *hl = NULL;
    CURL *c = NULL;
    int rc = sl_fh_s3_signed("PUT", bucket, key, data, n, &url, &hl, msg, cap);
    if (rc)
        goto out;
    rc = SL_EIO;
    hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    hl = curl_slist_append(hl, "Expect:");
    if (!(c = curl_easy_init()))
        goto out;
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK) {
        snprintf(msg, cap, "PUT %s: %s", url.data, curl_easy_strerror(cc));
    } else if (status != 200) {
        snprintf(msg, cap, "PUT %s: HTTP %ld %.300s", url.data, status, resp.data ? resp.data : "");
    } else {
        rc = 0;
    }
out:
    if (c)
        curl_easy_cleanup(c);
    curl_slist_free_all(hl);
    sl_buf_cleanup(&url);
    sl_buf_cleanup(&resp);
    return rc;
}

int sl_fh_s3_put(const char *bucket, const char *key, const void *data, size_t n, char *msg,
                 size_t cap)
{
    if (!key_ok(bucket, key)) {
        snprintf(msg, cap, "refusing object key %s/%s (empty, '.' or '..' segment)", bucket, key);
        return SL_EINVAL;
    }
    const char *endpoint = getenv("SLUICE_FIREHOSE_S3_ENDPOINT");
    if (endpoint && *endpoint)
        return put_remote(bucket, key, data, n, msg, cap);
    return put_local(bucket, key, data, n, msg, cap);
}
