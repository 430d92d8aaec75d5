/* kvssink uploader thread: control-plane calls and PutMedia sessions over libcurl.
 *
 * State machine (thread_main):
 *
 *   IDLE --data in store--> CONTROL (control_plane: Describe [Create] [Tag] GetDataEndpoint)
 *   CONTROL --ok--> SESSION (put_media) --body ended, all acked--> IDLE / DONE
 *   CONTROL --retriable failure--> BACKOFF --> CONTROL
 *   SESSION --failure (transport, non-200, ERROR ack, staleness, lost cursor)--> BACKOFF
 *   SESSION --header change / 40-minute rotation--> SESSION (at once, no control calls)
 *   any --401/403, DELETING stream, restart-on-error=false--> FATAL (on_fatal, thread ends)
 *
 * PutMedia runs on a curl multi handle so the thread can sleep in curl_multi_poll and be woken
 * by the streaming thread (curl_multi_wakeup) when bytes arrive. The body is pulled by the read
 * callback from the store through a cursor: the stream header first, then cluster bytes as they
 * exist; with nothing to send it pauses the transfer (CURL_READFUNC_PAUSE) and the loop unpauses
 * it on the next wake. At the end of the stream, a header change or rotation it sends the
 * producer's end-of-fragment Tags and ends the body; the gateway then acks the last fragment and
 * ends the response. ACK events (one JSON object per line) are parsed in the write callback.
 *
 * Signing follows the AWS producer (captures/kvssink-requests.txt): control calls sign
 * host;user-agent;x-amz-date over the body's SHA-256; PutMedia signs connection, host,
 * transfer-encoding, user-agent, x-amz-date and the x-amzn-* headers over the SHA-256 of the
 * empty string; a session token is sent unsigned. */
#include "kvs_upload.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kvs_pack.h"
#include "sluice/err.h"
#include "sluice/sigv4.h"

#define BACKOFF_MIN_MS  200
#define BACKOFF_MAX_MS  5000
#define ROTATE_AFTER_MS (40LL * 60 * 1000)

struct sl_kvs_upload {
    sl_kvs_upload_config cfg;
    sl_kvs_upload_events ev;
    sl_kvs_store *st;
    CURLM *multi;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t mu; /* guards stats */
    sl_kvs_upload_stats stats;
    /* control-plane results */
    char data_url[1024];
    int tagged;
    unsigned retention_hours;
    sl_buf eofr;
};

/* R_PROGRESS: the session failed after acknowledging something; reconnect without delay. */
typedef enum { R_OK = 0, R_RETRY, R_PROGRESS, R_FATAL, R_STOP } result;

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void warnf(sl_kvs_upload *up, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(sl_kvs_upload *up, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (up->ev.on_warning)
        up->ev.on_warning(up->ev.ud, msg);
}

static void fatalf(sl_kvs_upload *up, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fatalf(sl_kvs_upload *up, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (up->ev.on_fatal)
        up->ev.on_fatal(up->ev.ud, msg);
}

/* "http://host:port/x" -> authority "host:port", path prefix "/x" (may be empty). */
static void split_url(const char *url, char *auth, size_t an, const char **path)
{
    const char *p = strstr(url, "://"), *slash;
    p = p ? p + 3 : url;
    slash = strchr(p, '/');
    snprintf(auth, an, "%.*s", (int)(slash ? (size_t)(slash - p) : strlen(p)), p);
    *path = slash ? slash : "";
}

/* Sleeps up to ms, woken early only by stop. */
static void nap(sl_kvs_upload *up, int64_t ms)
{
    int64_t end = mono_ns() + ms * 1000000;
    while (!atomic_load(&up->stop)) {
        int64_t left = (end - mono_ns()) / 1000000;
        if (left <= 0)
            break;
        curl_multi_poll(up->multi, NULL, 0, (int)(left > 1000 ? 1000 : left), NULL);
    }
}

static int xfer_cb(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    (void)a, (void)b, (void)c, (void)d;
    return atomic_load(&((sl_kvs_upload *)ud)->stop) ? 1 : 0;
}

static size_t collect_cb(char *p, size_t size, size_t n, void *ud)
{
    sl_buf *b = ud;
    if (b->len < 65536)
        sl_buf_append(b, p, size * n);
    return size * n;
}

/* Signs and adds the auth headers to list; hdrs are the headers to sign (lower-case names). */
static struct curl_slist *sign_headers(sl_kvs_upload *up, struct curl_slist *list, const char *path,
                                       const sl_http_header *hdrs, size_t n, const void *body,
                                       size_t body_len, int empty_payload)
{
    sl_sigv4_result res;
    sl_sigv4_request req = {.method = SL_SLICE_LIT("POST"),
                            .path = {path, strlen(path)},
                            .headers = hdrs,
                            .n_headers = n,
                            .body = body,
                            .body_len = body_len};
    sl_sigv4_sign_opts o = {
        .access_key = {up->cfg.creds.access_key, strlen(up->cfg.creds.access_key)},
        .secret_key = {up->cfg.creds.secret_key, strlen(up->cfg.creds.secret_key)},
        .session_token = {up->cfg.creds.session_token, strlen(up->cfg.creds.session_token)},
        .region = {up->cfg.region, strlen(up->cfg.region)},
        .service = SL_SLICE_LIT("kinesisvideo"),
        .time_s = time(NULL),
        .omit_session_token = 1,
    };
    if (empty_payload)
        o.payload_hash = SL_SLICE_LIT(SL_SIGV4_EMPTY_SHA256);
    sl_sigv4_result_init(&res);
    if (sl_sigv4_sign(&req, &o, &res) == 0) {
        for (size_t i = 0; i < res.n_add; i++) {
            sl_buf line = SL_BUF_INIT;
            sl_buf_printf(&line, "%.*s: %.*s", (int)res.add[i].name.len, res.add[i].name.ptr,
                          (int)res.add[i].value.len, res.add[i].value.ptr);
            if (!line.oom)
                list = curl_slist_append(list, line.data);
            sl_buf_cleanup(&line);
        }
    }
    sl_sigv4_result_cleanup(&res);
    return list;
}

static void common_opts(sl_kvs_upload *up, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)up->cfg.connect_timeout_s);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, xfer_cb);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, up);
    if (up->cfg.ca_path[0]) {
        size_t l = strlen(up->cfg.ca_path);
        if (l > 4 && strcmp(up->cfg.ca_path + l - 4, ".pem") == 0)
            curl_easy_setopt(e, CURLOPT_CAINFO, up->cfg.ca_path);
        else
            curl_easy_setopt(e, CURLOPT_CAPATH, up->cfg.ca_path);
    }
}

/* One signed control-plane POST. Fills *status (0 on transport failure) and resp. */
static result kvs_call(sl_kvs_upload *up, const char *op, cJSON *body, long *status, sl_buf *resp)
{
    char auth[512], url[1200], path[1100];
    const char *prefix;
    char *json = cJSON_PrintUnformatted(body);
    struct curl_slist *list = NULL;
    CURL *e = NULL;
    result r = R_RETRY;
    sl_buf hl = SL_BUF_INIT;

    *status = 0;
    if (!json)
        goto out;
    split_url(up->cfg.control_url, auth, sizeof(auth), &prefix);
    snprintf(path, sizeof(path), "%s/%s", prefix, op);
    snprintf(url, sizeof(url), "%s/%s", up->cfg.control_url, op);
    sl_http_header h[2] = {
        {SL_SLICE_LIT("host"), {auth, strlen(auth)}},
        {SL_SLICE_LIT("user-agent"), {up->cfg.user_agent, strlen(up->cfg.user_agent)}}};
    sl_buf_printf(&hl, "Host: %s", auth);
    list = curl_slist_append(list, hl.data);
    sl_buf_reset(&hl);
    sl_buf_printf(&hl, "User-Agent: %s", up->cfg.user_agent);
    list = curl_slist_append(list, hl.data);
    list = curl_slist_append(list, "Content-Type: application/json");
    list = curl_slist_append(list, "Expect:");
    list = sign_headers(up, list, path, h, 2, json, strlen(json), 0);
    e = curl_easy_init();
    if (!e)
        goto out;
    common_opts(up, e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    curl_easy_setopt(e, CURLOPT_TIMEOUT,
                     (long)(up->cfg.connect_timeout_s + up->cfg.completion_timeout_s));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
    CURLcode cc = curl_easy_perform(e);
    if (atomic_load(&up->stop)) {
        r = R_STOP;
    } else if (cc != CURLE_OK) {
        warnf(up, "%s: %s", op, curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
        r = R_OK;
    }
out:
    if (e)
        curl_easy_cleanup(e);
    curl_slist_free_all(list);
    sl_buf_cleanup(&hl);
    free(json);
    return r;
}

static result status_result(sl_kvs_upload *up, const char *op, long status, const sl_buf *resp)
{
    if (status == 401 || status == 403) {
        fatalf(up, "%s refused the credentials (HTTP %ld): %.200s", op, status,
               resp->data ? resp->data : "");
        return R_FATAL;
    }
    warnf(up, "%s failed (HTTP %ld): %.200s", op, status, resp->data ? resp->data : "");
    return R_RETRY;
}

static result describe(sl_kvs_upload *up, int *found, char *arn, size_t arn_n, char *status_out)
{
    cJSON *b = cJSON_CreateObject(), *j = NULL;
    sl_buf resp = SL_BUF_INIT;
    long status;
    result r;
    cJSON_AddStringToObject(b, "StreamName", up->cfg.stream_name);
    r = kvs_call(up, "describeStream", b, &status, &resp);
    *found = 0;
    if (r != R_OK)
        goto out;
    if (status == 404) {
        r = R_OK;
        goto out;
    }
    if (status != 200) {
        r = status_result(up, "DescribeStream", status, &resp);
        goto out;
    }
    j = cJSON_Parse(resp.data ? resp.data : "");
    cJSON *info = cJSON_GetObjectItemCaseSensitive(j, "StreamInfo");
    cJSON *st = cJSON_GetObjectItemCaseSensitive(info, "Status");
    cJSON *a = cJSON_GetObjectItemCaseSensitive(info, "StreamARN");
    cJSON *ret = cJSON_GetObjectItemCaseSensitive(info, "DataRetentionInHours");
    if (!cJSON_IsString(st)) {
        warnf(up, "DescribeStream: no StreamInfo.Status in the answer");
        r = R_RETRY;
        goto out;
    }
    *found = 1;
    snprintf(status_out, 16, "%s", st->valuestring);
    snprintf(arn, arn_n, "%s", cJSON_IsString(a) ? a->valuestring : "");
    up->retention_hours = cJSON_IsNumber(ret) ? (unsigned)ret->valuedouble : up->retention_hours;
    if (cJSON_IsNumber(ret) && (unsigned)ret->valuedouble != up->cfg.retention_hours)
        warnf(up, "stream %s keeps data %u h, not the %u h asked for", up->cfg.stream_name,
              (unsigned)ret->valuedouble, up->cfg.retention_hours);
out:
    cJSON_Delete(j);
    cJSON_Delete(b);
    sl_buf_cleanup(&resp);
    return r;
}

static result create(sl_kvs_upload *up)
{
    cJSON *b = cJSON_CreateObject();
    sl_buf resp = SL_BUF_INIT;
    long status;
    result r;
    cJSON_AddStringToObject(b, "DeviceName", up->cfg.device_name);
    cJSON_AddStringToObject(b, "StreamName", up->cfg.stream_name);
    cJSON_AddStringToObject(b, "MediaType", up->cfg.media_type);
    cJSON_AddNumberToObject(b, "DataRetentionInHours", up->cfg.retention_hours);
    r = kvs_call(up, "createStream", b, &status, &resp);
    if (r == R_OK && status != 200 &&
        !(status == 400 && resp.data && strstr(resp.data, "ResourceInUse")))
        r = status_result(up, "CreateStream", status, &resp);
    if (r == R_OK)
        up->retention_hours = up->cfg.retention_hours;
    cJSON_Delete(b);
    sl_buf_cleanup(&resp);
    return r;
}

static result tag(sl_kvs_upload *up, const char *arn)
{
    cJSON *b = cJSON_CreateObject(), *t;
    sl_buf resp = SL_BUF_INIT;
    long status;
    result r;
    cJSON_AddStringToObject(b, "StreamARN", arn);
    t = cJSON_AddObjectToObject(b, "Tags");
    for (size_t i = 0; i < up->cfg.ntags; i++)
        cJSON_AddStringToObject(t, up->cfg.tag_keys[i], up->cfg.tag_values[i]);
    r = kvs_call(up, "tagStream", b, &status, &resp);
    if (r == R_OK && status != 200)
        r = status_result(up, "TagStream", status, &resp);
    cJSON_Delete(b);
    sl_buf_cleanup(&resp);
    return r;
}

static result endpoint(sl_kvs_upload *up)
{
    cJSON *b = cJSON_CreateObject(), *j = NULL;
    sl_buf resp = SL_BUF_INIT;
    long status;
    result r;
    cJSON_AddStringToObject(b, "StreamName", up->cfg.stream_name);
    cJSON_AddStringToObject(b, "APIName", "PUT_MEDIA");
    r = kvs_call(up, "getDataEndpoint", b, &status, &resp);
    if (r != R_OK)
        goto out;
    if (status != 200) {
        r = status_result(up, "GetDataEndpoint", status, &resp);
        goto out;
    }
    j = cJSON_Parse(resp.data ? resp.data : "");
    cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "DataEndpoint");
    if (!cJSON_IsString(d) || !d->valuestring[0]) {
        warnf(up, "GetDataEndpoint: no DataEndpoint in the answer");
        r = R_RETRY;
        goto out;
    }
    snprintf(up->data_url, sizeof(up->data_url), "%s", d->valuestring);
    size_t l = strlen(up->data_url);
    while (l > 0 && up->data_url[l - 1] == '/')
        up->data_url[--l] = 0;
out:
    cJSON_Delete(j);
    cJSON_Delete(b);
    sl_buf_cleanup(&resp);
    return r;
}

static result control_plane(sl_kvs_upload *up)
{
    char arn[1100] = "", status[16] = "";
    int found = 0;
    result r;
    for (int attempt = 0;; attempt++) {
        if ((r = describe(up, &found, arn, sizeof(arn), status)) != R_OK)
            return r;
        if (!found) {
            if (!up->cfg.allow_create) {
                fatalf(up, "stream %s does not exist and allow-create-stream is off",
                       up->cfg.stream_name);
                return R_FATAL;
            }
            if ((r = create(up)) != R_OK)
                return r;
        } else if (strcmp(status, "ACTIVE") == 0) {
            break;
        } else if (strcmp(status, "DELETING") == 0) {
            fatalf(up, "stream %s is being deleted", up->cfg.stream_name);
            return R_FATAL;
        }
        if (attempt >= 30)
            return R_RETRY;
        nap(up, 400);
        if (atomic_load(&up->stop))
            return R_STOP;
    }
    if (up->cfg.ntags && !up->tagged) {
        if ((r = tag(up, arn)) != R_OK)
            return r;
        up->tagged = 1;
    }
    return endpoint(up);
}

/* ---- PutMedia ---- */

typedef struct session {
    sl_kvs_upload *up;
    sl_kvs_cursor cur;
    CURL *easy;
    sl_buf lines;   /* partial ACK line */
    sl_buf errbody; /* body of a non-200 answer */
    int64_t start_ns, last_ack_ns;
    int paused;
    int ending; /* sending the EoFR, then the body ends */
    size_t eofr_off;
    int body_done; /* the read callback returned 0 */
    int ended_eos; /* the body ended because the stream did */
    int abort;     /* stop the transfer */
    int failed;    /* the session ended on a failure: back off */
    int fatal;
    int progress; /* at least one fragment acknowledged */
    int done_on_received;
} session;

int sl_kvs_error_retriable(int id)
{
    switch (id) {
    case 4001:
    case 4002:
    case 4004:
    case 4005:
    case 4006:
    case 4007:
    case 4008:
    case 4009:
    case 4010:
    case 4011:
    case 4012:
    case 4500:
    case 4501:
    case 4502:
    case 4503:
    case 4504:
    case 4505:
    case 4506:
    case 4507:
        return 0;
    default:
        return 1; /* 4000, 4003, 5000, 5001 and unknown ids */
    }
}

int sl_kvs_parse_ack(const char *line, size_t n, char kind[16], uint64_t *tc, int *error_id)
{
    cJSON *j = cJSON_ParseWithLength(line, n), *t, *c, *e;
    int rc = SL_EPARSE;
    *tc = 0;
    *error_id = 0;
    t = cJSON_GetObjectItemCaseSensitive(j, "EventType");
    if (!cJSON_IsString(t))
        goto out;
    snprintf(kind, 16, "%s", t->valuestring);
    c = cJSON_GetObjectItemCaseSensitive(j, "FragmentTimecode");
    if (cJSON_IsNumber(c) && c->valuedouble >= 0)
        *tc = (uint64_t)c->valuedouble;
    e = cJSON_GetObjectItemCaseSensitive(j, "ErrorId");
    if (cJSON_IsNumber(e))
        *error_id = (int)e->valuedouble;
    rc = 0;
out:
    cJSON_Delete(j);
    return rc;
}

static void handle_ack(session *s, const char *line, size_t n)
{
    sl_kvs_upload *up = s->up;
    char kind[16];
    uint64_t tc;
    int id;
    while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n == 0 || sl_kvs_parse_ack(line, n, kind, &tc, &id) != 0)
        return;
    pthread_mutex_lock(&up->mu);
    up->stats.acks++;
    pthread_mutex_unlock(&up->mu);
    if (strcmp(kind, "BUFFERING") == 0) {
        s->last_ack_ns = mono_ns();
    } else if (strcmp(kind, "RECEIVED") == 0) {
        s->last_ack_ns = mono_ns();
        if (sl_kvs_store_ack(up->st, &s->cur, tc, SL_KVS_ACK_RECEIVED, s->done_on_received,
                             mono_ns()) &&
            s->done_on_received) {
            s->progress = 1;
            if (up->ev.on_progress)
                up->ev.on_progress(up->ev.ud);
        }
    } else if (strcmp(kind, "PERSISTED") == 0) {
        s->last_ack_ns = mono_ns();
        if (sl_kvs_store_ack(up->st, &s->cur, tc, SL_KVS_ACK_PERSISTED, 0, mono_ns())) {
            s->progress = 1;
            if (up->ev.on_progress)
                up->ev.on_progress(up->ev.ud);
        }
    } else if (strcmp(kind, "ERROR") == 0) {
        const char *code = sl_mkv_kvs_error_code(id);
        if (up->ev.on_error_ack)
            up->ev.on_error_ack(up->ev.ud, id, code ? code : "UNKNOWN", tc);
        if (!sl_kvs_error_retriable(id)) {
            sl_kvs_store_ack(up->st, &s->cur, tc, SL_KVS_ACK_ERROR, 0, mono_ns());
            warnf(up, "fragment %llu refused with ErrorId %d (%s): skipped", (unsigned long long)tc,
                  id, code ? code : "?");
        } else {
            warnf(up, "PutMedia ERROR ack %d (%s): reconnecting", id, code ? code : "?");
        }
        s->failed = 1;
    }
}

static size_t put_write_cb(char *p, size_t size, size_t n, void *ud)
{
    session *s = ud;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        if (s->errbody.len < 4096)
            sl_buf_append(&s->errbody, p, len);
        return len;
    }
    sl_buf_append(&s->lines, p, len);
    for (;;) {
        char *nl = memchr(s->lines.data, '\n', s->lines.len);
        if (!nl)
            break;
        handle_ack(s, s->lines.data, (size_t)(nl - s->lines.data));
        sl_buf_consume(&s->lines, (size_t)(nl - s->lines.data) + 1);
    }
    /* A server that sends one event per chunk without newlines: a complete object. */
    if (s->lines.len && s->lines.data[0] == '{' && s->lines.data[s->lines.len - 1] == '}') {
        char kind[16];
        uint64_t tc;
        int id;
        if (sl_kvs_parse_ack(s->lines.data, s->lines.len, kind, &tc, &id) == 0) {
            handle_ack(s, s->lines.data, s->lines.len);
            sl_buf_reset(&s->lines);
        }
    }
    if (s->lines.len > 65536)
        sl_buf_reset(&s->lines);
    return len;
}

static size_t put_read_cb(char *out, size_t size, size_t n, void *ud)
{
    session *s = ud;
    sl_kvs_upload *up = s->up;
    size_t max = size * n, got = 0;

    if (s->abort || atomic_load(&up->stop))
        return CURL_READFUNC_ABORT;
    if (s->body_done)
        return 0;
    if (!s->ending) {
        sl_kvs_read_status rs = sl_kvs_store_read(up->st, &s->cur, out, max, &got);
        switch (rs) {
        case SL_KVS_READ_DATA:
            pthread_mutex_lock(&up->mu);
            up->stats.bytes_sent += got;
            pthread_mutex_unlock(&up->mu);
            if (!up->cfg.fragment_acks)
                sl_kvs_store_release_sent(up->st, &s->cur);
            return got;
        case SL_KVS_READ_WAIT:
            if (s->cur.offset == 0 && !s->cur.header_pending &&
                mono_ns() - s->start_ns > ROTATE_AFTER_MS * 1000000) {
                s->ending = 1; /* rotate before the 45-minute connection limit */
                break;
            }
            s->paused = 1;
            return CURL_READFUNC_PAUSE;
        case SL_KVS_READ_END:
            s->ended_eos = 1;
            s->ending = 1;
            break;
        case SL_KVS_READ_NEW_HEADER:
            s->ending = 1;
            break;
        case SL_KVS_READ_LOST:
            warnf(up, "the fragment being sent was dropped (store full): new session");
            s->failed = 1;
            return CURL_READFUNC_ABORT;
        }
    }
    if (s->eofr_off < up->eofr.len) {
        got = up->eofr.len - s->eofr_off;
        if (got > max)
            got = max;
        memcpy(out, up->eofr.data + s->eofr_off, got);
        s->eofr_off += got;
        return got;
    }
    s->body_done = 1;
    return 0;
}

static void update_cpu(sl_kvs_upload *up)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    pthread_mutex_lock(&up->mu);
    up->stats.cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    pthread_mutex_unlock(&up->mu);
}

static result put_media(sl_kvs_upload *up)
{
    session s = {.up = up};
    char auth[512], url[1200], path[1100], ts[64];
    const char *prefix;
    struct curl_slist *list = NULL;
    sl_buf hl = SL_BUF_INIT;
    result r = R_RETRY;
    int running = 1;
    long status = 0;
    CURLcode cc = CURLE_OK;
    int64_t start_ms = up->cfg.absolute ? wall_ms() : up->cfg.stream_start_ms;

    if (!sl_kvs_store_session_start(up->st, &s.cur)) {
        r = sl_kvs_store_finished(up->st) ? R_OK : R_RETRY;
        goto out;
    }
    s.done_on_received = up->retention_hours == 0;
    s.start_ns = s.last_ack_ns = mono_ns();
    split_url(up->data_url, auth, sizeof(auth), &prefix);
    snprintf(path, sizeof(path), "%s/putMedia", prefix);
    snprintf(url, sizeof(url), "%s/putMedia", up->data_url);
    snprintf(ts, sizeof(ts), "%lld.%03lld", (long long)(start_ms / 1000),
             (long long)(start_ms % 1000));
    const char *ack = up->cfg.fragment_acks ? "1" : "0";
    const char *tct = up->cfg.absolute ? "ABSOLUTE" : "RELATIVE";
    sl_http_header h[8] = {
        {SL_SLICE_LIT("connection"), SL_SLICE_LIT("keep-alive")},
        {SL_SLICE_LIT("host"), {auth, strlen(auth)}},
        {SL_SLICE_LIT("transfer-encoding"), SL_SLICE_LIT("chunked")},
        {SL_SLICE_LIT("user-agent"), {up->cfg.user_agent, strlen(up->cfg.user_agent)}},
        {SL_SLICE_LIT("x-amzn-fragment-acknowledgment-required"), {ack, 1}},
        {SL_SLICE_LIT("x-amzn-fragment-timecode-type"), {tct, strlen(tct)}},
        {SL_SLICE_LIT("x-amzn-producer-start-timestamp"), {ts, strlen(ts)}},
        {SL_SLICE_LIT("x-amzn-stream-name"), {up->cfg.stream_name, strlen(up->cfg.stream_name)}},
    };
    for (size_t i = 0; i < 8; i++) {
        sl_buf_reset(&hl);
        sl_buf_printf(&hl, "%.*s: %.*s", (int)h[i].name.len, h[i].name.ptr, (int)h[i].value.len,
                      h[i].value.ptr);
        list = curl_slist_append(list, hl.data);
    }
    list = curl_slist_append(list, "Content-Type: application/json");
    list = sign_headers(up, list, path, h, 8, NULL, 0, 1);

    s.easy = curl_easy_init();
    if (!s.easy)
        goto out;
    common_opts(up, s.easy);
    curl_easy_setopt(s.easy, CURLOPT_URL, url);
    curl_easy_setopt(s.easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s.easy, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(s.easy, CURLOPT_READFUNCTION, put_read_cb);
    curl_easy_setopt(s.easy, CURLOPT_READDATA, &s);
    curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, put_write_cb);
    curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(s.easy, CURLOPT_EXPECT_100_TIMEOUT_MS, 1000L);
    curl_easy_setopt(s.easy, CURLOPT_TCP_NODELAY, 1L);
    curl_multi_add_handle(up->multi, s.easy);
    pthread_mutex_lock(&up->mu);
    up->stats.sessions++;
    up->stats.connected = 1;
    pthread_mutex_unlock(&up->mu);

    while (running) {
        CURLMcode mc;
        if (atomic_load(&up->stop)) {
            r = R_STOP;
            break;
        }
        if (s.paused) {
            s.paused = 0;
            curl_easy_pause(s.easy, CURLPAUSE_CONT);
        }
        mc = curl_multi_perform(up->multi, &running);
        if (mc != CURLM_OK)
            break;
        int left;
        CURLMsg *m;
        while ((m = curl_multi_info_read(up->multi, &left))) {
            if (m->msg == CURLMSG_DONE)
                cc = m->data.result;
        }
        if (!running)
            break;
        if (s.failed && !s.body_done) {
            /* After an ERROR ack the gateway closes; do not wait for it. */
            break;
        }
        if (up->cfg.fragment_acks && up->cfg.staleness_s &&
            mono_ns() - s.last_ack_ns > (int64_t)up->cfg.staleness_s * 1000000000 &&
            (s.cur.offset > 0 || s.cur.frag_id > s.cur.first_id)) {
            warnf(up, "no acknowledgement for %u s: reconnecting", up->cfg.staleness_s);
            s.failed = 1;
            break;
        }
        update_cpu(up);
        curl_multi_poll(up->multi, NULL, 0, 100, NULL);
    }
    curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &status);
    if (r == R_STOP)
        goto out;
    if (s.failed) {
        r = R_RETRY;
    } else if (running || cc != CURLE_OK) {
        warnf(up, "PutMedia connection lost: %s", curl_easy_strerror(cc));
        r = R_RETRY;
    } else if (status == 401 || status == 403) {
        fatalf(up, "PutMedia refused the credentials (HTTP %ld): %.200s", status,
               s.errbody.data ? s.errbody.data : "");
        r = R_FATAL;
    } else if (status != 200) {
        warnf(up, "PutMedia failed (HTTP %ld): %.200s", status,
              s.errbody.data ? s.errbody.data : "");
        r = R_RETRY;
    } else if (!s.body_done) {
        warnf(up, "PutMedia response ended before the body");
        r = R_RETRY;
    } else {
        r = R_OK; /* body sent and response complete: header change, rotation or EOS */
        if (s.ended_eos && !sl_kvs_store_finished(up->st) && up->cfg.fragment_acks) {
            warnf(up, "PutMedia ended without acknowledging every fragment: resending");
            r = R_RETRY;
        }
    }
out:
    if (s.easy) {
        curl_multi_remove_handle(up->multi, s.easy);
        curl_easy_cleanup(s.easy);
    }
    pthread_mutex_lock(&up->mu);
    up->stats.connected = 0;
    pthread_mutex_unlock(&up->mu);
    if (r == R_RETRY && s.progress)
        r = R_PROGRESS;
    curl_slist_free_all(list);
    sl_buf_cleanup(&hl);
    sl_buf_cleanup(&s.lines);
    sl_buf_cleanup(&s.errbody);
    return r;
}

static void *thread_main(void *arg)
{
    sl_kvs_upload *up = arg;
    int ready = 0, first = 1;
    int64_t backoff = 0;

    while (!atomic_load(&up->stop)) {
        result r;
        update_cpu(up);
        if (!sl_kvs_store_wait_data(up->st, 200))
            continue;
        if (sl_kvs_store_finished(up->st))
            break;
        if (backoff) {
            nap(up, backoff);
            if (atomic_load(&up->stop))
                break;
        }
        if (!ready) {
            r = control_plane(up);
            if (r == R_FATAL || r == R_STOP)
                break;
            if (r != R_OK) {
                backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                                  : BACKOFF_MIN_MS;
                continue;
            }
            ready = 1;
        }
        if (!first) {
            pthread_mutex_lock(&up->mu);
            up->stats.reconnects++;
            pthread_mutex_unlock(&up->mu);
        }
        first = 0;
        r = put_media(up);
        if (r == R_FATAL || r == R_STOP)
            break;
        if (r == R_OK) {
            backoff = 0;
            first = 1; /* a planned new session is not a reconnect */
            continue;
        }
        if (!up->cfg.restart_on_error) {
            fatalf(up, "PutMedia failed and restart-on-error is off");
            break;
        }
        ready = 0;
        if (r == R_PROGRESS)
            backoff = BACKOFF_MIN_MS;
        else
            backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
                              : BACKOFF_MIN_MS;
    }
    update_cpu(up);
    return NULL;
}

sl_kvs_upload *sl_kvs_upload_start(const sl_kvs_upload_config *cfg, sl_kvs_store *st,
                                   const sl_kvs_upload_events *ev)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    sl_kvs_upload *up = calloc(1, sizeof(*up));
    if (!up)
        return NULL;
    pthread_once(&once, global_init);
    up->cfg = *cfg;
    up->ev = *ev;
    up->st = st;
    up->retention_hours = cfg->retention_hours;
    pthread_mutex_init(&up->mu, NULL);
    up->multi = curl_multi_init();
    if (!up->multi || sl_kvs_pack_eofr(&up->eofr) != 0)
        goto fail;
    if (pthread_create(&up->thread, NULL, thread_main, up) != 0)
        goto fail;
    return up;
fail:
    if (up->multi)
        curl_multi_cleanup(up->multi);
    sl_buf_cleanup(&up->eofr);
    pthread_mutex_destroy(&up->mu);
    sl_kvs_creds_wipe(&up->cfg.creds);
    free(up);
    return NULL;
}

void sl_kvs_upload_wake(sl_kvs_upload *up)
{
    if (up)
        curl_multi_wakeup(up->multi);
}

void sl_kvs_upload_stop(sl_kvs_upload *up)
{
    if (!up)
        return;
    atomic_store(&up->stop, 1);
    curl_multi_wakeup(up->multi);
    pthread_join(up->thread, NULL);
    curl_multi_cleanup(up->multi);
    sl_buf_cleanup(&up->eofr);
    pthread_mutex_destroy(&up->mu);
    sl_kvs_creds_wipe(&up->cfg.creds);
    free(up);
}

void sl_kvs_upload_get_stats(sl_kvs_upload *up, sl_kvs_upload_stats *out)
{
    pthread_mutex_lock(&up->mu);
    *out = up->stats;
    pthread_mutex_unlock(&up->mu);
}
