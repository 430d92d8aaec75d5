/* The Analytics service's small internal API into Kinesis Data Streams: find a stream's shard
 * logs by ARN, append output records, and sample records for discovery.
 *
 * Data Streams offers no public header for other services, so this file uses its private
 * ones (api/kinesis/ds_service.h, ds_model.h) read-only, in one place: the stream model
 * belongs to the loop thread, so ka_ds_shards / ka_ds_exists / ka_ds_append run there.
 * Appends use the Data Streams log entry format (u16 big-endian partition-key length | key |
 * data; entry timestamp = arrival ms) through the store's group-commit writer, exactly as
 * PutRecords does, with a random partition key per record (spec §1.7) -- or, under the
 * test-only clock (ka_runtime.c), the row's ROWTIME as the key so tests can read it back. Reads
 * (ka_ds_sample, and the runtime's) use sl_log_read_many off the loop thread. */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../kinesis/ds_crypt.h"
#include "../kinesis/ds_service.h"
#include "ka.h"
#include "sluice/time.h"

/* "arn:aws:kinesis:<region>:<account>:stream/<name>" -> region, name. */
static int parse_arn(const char *arn, char *region, size_t rcap, char *name, size_t ncap)
{
    if (strncmp(arn, "arn:aws:kinesis:", 16))
        return SL_EINVAL;
    const char *r = arn + 16;
    const char *c = strchr(r, ':');
    if (!c || (size_t)(c - r) >= rcap)
        return SL_EINVAL;
    snprintf(region, rcap, "%.*s", (int)(c - r), r);
    const char *s = strstr(c, ":stream/");
    if (!s || strlen(s + 8) >= ncap || !s[8])
        return SL_EINVAL;
    snprintf(name, ncap, "%s", s + 8);
    return 0;
}

static sl_ds_stream *find(const char *arn, sl_ds_model **mo)
{
    char region[32], name[129];
    if (parse_arn(arn, region, sizeof(region), name, sizeof(name)))
        return NULL;
    if (sl_ds_service_init())
        return NULL;
    sl_ds_model *m = sl_ds_model_of(region);
    if (!m)
        return NULL;
    sl_ds_err e;
    sl_ds_stream *s = sl_ds_model_find_live(m, name, &e);
    if (s && sl_ds_attach_logs(m, s))
        return NULL;
    if (mo)
        *mo = m;
    return s;
}

int ka_ds_exists(const char *arn)
{
    return find(arn, NULL) != NULL;
}

int ka_ds_shards(const char *arn, ka_shard_ref **out, size_t *n)
{
    sl_ds_stream *s = find(arn, NULL);
    if (!s)
        return SL_ENOTFOUND;
    ka_shard_ref *r = calloc(s->n_shards + 1, sizeof(*r));
    if (!r)
        return SL_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->n_shards; i++) {
        if (!s->shards[i].log)
            continue;
        r[k].log = s->shards[i].log;
        r[k].shard = s->shards[i].index;
        snprintf(r[k].shard_id, sizeof(r[k].shard_id), "shardId-%012u", s->shards[i].index);
        k++;
    }
    *out = r;
    *n = k;
    return 0;
}

int ka_ds_append(const char *arn, const sl_buf *records, const uint32_t *lens,
                 const int64_t *rowtimes, size_t n)
{
    sl_ds_model *m = NULL;
    sl_ds_stream *s = find(arn, &m);
    if (!s)
        return SL_ENOTFOUND;
    uint32_t key_no = 0;
    sl_ds_err e;
    int krc = sl_ds_stream_key(m, s, &key_no, &e);
    if (krc) /* an encrypted destination whose key is gone: nothing goes out in plaintext */
        return krc;
    sl_writer *w = sl_store_writer(sl_ds_store());
    int64_t now_ms = sl_time_now_ns() / 1000000;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char rnd[8];
        char pk[40];
        if (rowtimes) {
            sl_sql_format_timestamp(rowtimes[k], pk, sizeof(pk));
        } else {
            if (RAND_bytes(rnd, sizeof(rnd)) != 1)
                memset(rnd, (int)k, sizeof(rnd));
            snprintf(pk, sizeof(pk), "%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
                     rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        }
        size_t pk_len = strlen(pk);
        sl_ds_shard *sh =
            sl_ds_stream_shard_for_hash(s, sl_ds_hashkey_of_partition_key(pk, pk_len));
        if (!sh || !sh->log)
            return SL_EINTERNAL;
        uint8_t hdr[2] = {(uint8_t)(pk_len >> 8), (uint8_t)pk_len};
        struct iovec iov[3] = {
            {hdr, 2},
            {pk, pk_len},
            {records->data + at, lens[k]},
        };
        sl_append a = {
            .log = sh->log,
            .iov = iov,
            .iovcnt = lens[k] ? 3 : 2,
            .ts_ns = now_ms * 1000000,
        };
        uint8_t *sealed = NULL;
        size_t sealed_len = 0;
        if (key_no) { /* the stream is encrypted at rest: seal as PutRecords does */
            int rc = sl_ds_crypt_seal(sl_ds_crypt_ring(), key_no, sl_log_name(sh->log), now_ms, iov,
                                      a.iovcnt, &sealed, &sealed_len);
            if (rc)
                return rc;
            iov[0] = (struct iovec){sealed, sealed_len};
            a.iovcnt = 1;
        }
        int rc = sl_writer_submit(w, &a);
        free(sealed);
        if (rc)
            return rc;
        at += lens[k];
    }
    return 0;
}

int ka_ds_record_key(const char *entry, size_t len, const char **key, size_t *key_len)
{
    if (len < 2)
        return SL_ECORRUPT;
    size_t pk = (size_t)((unsigned char)entry[0] << 8 | (unsigned char)entry[1]);
    if (2 + pk > len)
        return SL_ECORRUPT;
    *key = entry + 2;
    *key_len = pk;
    return 0;
}

int ka_ds_record_data(const char *entry, size_t len, const char **data, size_t *data_len)
{
    const char *key;
    size_t key_len;
    int rc = ka_ds_record_key(entry, len, &key, &key_len);
    if (rc)
        return rc;
    *data = key + key_len;
    *data_len = len - 2 - key_len;
    return 0;
}

int ka_ds_sample(ka_shard_ref *shards, size_t n_shards, size_t max, int from_start, int64_t wait_ms,
                 char ***payloads, size_t **lens, size_t *n)
{
    uint64_t *start = calloc(n_shards + 1, sizeof(uint64_t));
    char **p = calloc(max + 1, sizeof(char *));
    size_t *l = calloc(max + 1, sizeof(size_t));
    sl_buf buf = SL_BUF_INIT;
    sl_log_item items[64];
    size_t got = 0;
    if (!p || !l || !start) {
        free(p);
        free(l);
        free(start);
        return SL_ENOMEM;
    }
    for (size_t s = 0; s < n_shards; s++)
        start[s] =
            from_start ? sl_log_first_offset(shards[s].log) : sl_log_end_offset(shards[s].log);
    int64_t deadline = sl_time_mono_ns() + wait_ms * 1000000;
again:
    for (size_t s = 0; s < n_shards && got < max; s++) {
        uint64_t pos = start[s];
        while (got < max) {
            size_t ni = 0;
            int rc = sl_log_read_many(shards[s].log, pos, 1 << 20, items, 64, &buf, &ni);
            if (rc || !ni)
                break;
            if (!shards[s].raw) /* sealed records of an encrypted stream, opened in place */
                sl_ds_crypt_open_items(sl_ds_crypt_ring(), shards[s].log, items, ni);
            for (size_t k = 0; k < ni && got < max; k++) {
                const char *d = items[k].payload;
                size_t dl = items[k].e.len;
                if (!shards[s].raw && ka_ds_record_data(items[k].payload, items[k].e.len, &d, &dl))
                    continue;
                p[got] = malloc(dl + 1);
                if (!p[got])
                    break;
                memcpy(p[got], d, dl);
                p[got][dl] = 0;
                l[got++] = dl;
            }
            pos = items[ni - 1].e.next_offset;
        }
        start[s] = pos;
    }
    if (!got && sl_time_mono_ns() < deadline) {
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        goto again;
    }
    free(start);
    sl_buf_cleanup(&buf);
    *payloads = p;
    *lens = l;
    *n = got;
    return 0;
}
