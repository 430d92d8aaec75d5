/* The Analytics service's bridge to Firehose delivery streams: an application can read a
 * delivery stream's intake log as its input and append its output rows to a delivery stream's
 * intake log, from where Firehose delivers them like records from PutRecordBatch.
 *
 * Firehose offers no public header for other services; this file uses its private one
 * (api/firehose/fh.h) read-only, here and in ka_runtime.c, which invokes preprocessing
 * functions through Firehose's Lambda client (sl_fh_lambda_invoke). The stream table belongs to the
 * loop thread (edits under sl_fh_lock); both functions run on the loop thread. Intake entries hold
 * the record's bytes exactly; the entry timestamp is the arrival time. After an append is durable
 * the delivery worker is woken (sl_fh_worker_kick). ka_lambda_url resolves a Lambda ARN the
 * way Firehose does (any thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../firehose/fh.h"
#include "../firehose/firehose.h"
#include "ka.h"
#include "sluice/time.h"

/* "arn:aws:firehose:<region>:<account>:deliverystream/<name>" -> the ACTIVE stream's log. */
static sl_log *find(const char *arn)
{
    char region[32], name[SL_FH_NAME_MAX + 1];
    if (strncmp(arn, "arn:aws:firehose:", 17))
        return NULL;
    const char *r = arn + 17;
    const char *c = strchr(r, ':');
    const char *s = c ? strstr(c, ":deliverystream/") : NULL;
    if (!c || (size_t)(c - r) >= sizeof(region) || !s || !s[16] || strlen(s + 16) >= sizeof(name))
        return NULL;
    snprintf(region, sizeof(region), "%.*s", (int)(c - r), r);
    snprintf(name, sizeof(name), "%s", s + 16);
    if (sl_firehose_service_init())
        return NULL;
    sl_log *log = NULL;
    size_t n;
    sl_fh_lock();
    sl_fh_stream **v = sl_fh_streams(&n);
    for (size_t k = 0; k < n && !log; k++)
        if (!strcmp(v[k]->region, region) && !strcmp(v[k]->name, name) &&
            v[k]->status == SL_FH_ACTIVE)
            log = v[k]->log;
    sl_fh_unlock();
    return log;
}

int ka_fh_shards(const char *arn, ka_shard_ref **out, size_t *n)
{
    sl_log *log = find(arn);
    if (!log)
        return SL_ENOTFOUND;
    ka_shard_ref *r = calloc(1, sizeof(*r));
    if (!r)
        return SL_ENOMEM;
    r->log = log;
    r->raw = 1;
    snprintf(r->shard_id, sizeof(r->shard_id), "firehose");
    *out = r;
    *n = 1;
    return 0;
}

int ka_fh_exists(const char *arn)
{
    return find(arn) != NULL;
}

static void kick(void *arg, int rc, const sl_log_entry *e)
{
    (void)arg;
    (void)rc;
    (void)e;
    sl_fh_worker_kick();
}

int ka_fh_append(const char *arn, const sl_buf *records, const uint32_t *lens, size_t n)
{
    sl_log *log = find(arn);
    if (!log)
        return SL_ENOTFOUND;
    sl_writer *w = sl_store_writer(sl_fh_store());
    int64_t now_ns = sl_time_now_ns() / 1000000 * 1000000;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        struct iovec iov = {records->data + at, lens[k]};
        sl_append a = {
            .log = log,
            .iov = &iov,
            .iovcnt = 1,
            .ts_ns = now_ns,
            .done = k + 1 == n ? kick : NULL,
        };
        int rc = sl_writer_submit(w, &a);
        if (rc)
            return rc;
        at += lens[k];
    }
    return 0;
}

int ka_lambda_url(const char *arn, char *out, size_t cap)
{
    return sl_fh_lambda_url(arn, out, cap);
}

int ka_lambda_process(const char *arn, const char *source_arn, char *const *payloads,
                      const size_t *lens, size_t n, char ***out, size_t **out_lens, size_t *n_out,
                      char *err, size_t cap)
{
    sl_fh_rec *recs = calloc(n + 1, sizeof(*recs));
    sl_fh_xform *res = calloc(n + 1, sizeof(*res));
    char **o = calloc(n + 1, sizeof(*o));
    size_t *ol = calloc(n + 1, sizeof(*ol));
    sl_buf data = SL_BUF_INIT;
    size_t m = 0;
    int rc = SL_ENOMEM;
    const char *rg = strchr(source_arn, ':') ? strchr(strchr(source_arn, ':') + 1, ':') : NULL;
    rg = rg ? strchr(rg + 1, ':') : NULL; /* arn:aws:<service>:<region>: */
    char region[32] = "";
    if (rg)
        snprintf(region, sizeof(region), "%.*s", (int)strcspn(rg + 1, ":"), rg + 1);
    if (!recs || !res || !o || !ol)
        goto out;
    int64_t now = sl_time_now_ns() / 1000000;
    for (size_t k = 0; k < n; k++)
        recs[k] = (sl_fh_rec){.data = payloads[k], .len = lens[k], .ts_ms = now};
    rc = n ? sl_fh_lambda_invoke(arn, source_arn, region, recs, n, &data, res, err, cap) : 0;
    for (size_t k = 0; k < n && !rc; k++) {
        cJSON_Delete(res[k].keys);
        if (res[k].result != SL_FH_X_OK)
            continue;
        o[m] = malloc(res[k].len + 1);
        if (!o[m]) {
            rc = SL_ENOMEM;
            break;
        }
        memcpy(o[m], data.data + res[k].off, res[k].len);
        o[m][res[k].len] = 0;
        ol[m++] = res[k].len;
    }
out:
    sl_buf_cleanup(&data);
    free(recs);
    free(res);
    if (rc) {
        for (size_t k = 0; k < m; k++)
            free(o[k]);
        free(o);
        free(ol);
        return rc;
    }
    *out = o;
    *out_lens = ol;
    *n_out = m;
    return 0;
}
