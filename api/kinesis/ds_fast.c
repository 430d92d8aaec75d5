/* Direct JSON replies for PutRecord, PutRecords and GetRecords (see ds_fast.h).
 *
 * Why: profiling GetRecords (Limit 10000, 100-byte records) showed most of the server's time in
 * malloc/free and memmove for the cJSON tree -- six allocations per record plus the printer's
 * growing buffer -- and in printf's floating-point path for the arrival timestamps. Here a
 * record is appended to one growing sl_buf: base64 is encoded in place, the timestamp is
 * written from integer seconds and milliseconds.
 *
 * Byte-identical to cJSON_PrintUnformatted (cJSON 1.7):
 *   strings   '"', '\\', \b \f \n \r \t escaped by name, other bytes below 0x20 as \u00xx
 *             (lower-case hex), everything else copied as is (UTF-8 untouched);
 *   numbers   an integral value that fits an int as "%d"; otherwise "%1.15g", or "%1.17g" when
 *             15 digits do not read back to the same double;
 *   timestamps epoch_ms / 1000.0: for 0 <= epoch_ms < 10^13 that double has at most 13
 *             significant digits, so "%1.15g" prints the seconds, and the milliseconds without
 *             trailing zeros -- which is what sl_ds_fast_timestamp writes without printf;
 *             other values take the printf path above. */
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_fast.h"
#include "sluice/base64.h"
#include "sluice/err.h"
#include "sluice/http.h"
#include "sluice/wire.h"

int sl_ds_fast_json_ok(const sl_api_call *call)
{
    static const char want[] = SL_CT_AMZ_JSON;
    const size_t n = sizeof(want) - 1;
    if (!call->req || call->op->service->proto != SL_PROTO_AWS_JSON)
        return 0;
    sl_slice ct = sl_http_header_get(call->req, "content-type");
    size_t i = 0;
    while (i < ct.len && (ct.ptr[i] == ' ' || ct.ptr[i] == '\t'))
        i++;
    if (ct.len - i < n)
        return 0;
    for (size_t k = 0; k < n; k++) {
        char c = ct.ptr[i + k];
        if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != want[k])
            return 0;
    }
    i += n;
    return i == ct.len || ct.ptr[i] == ';' || ct.ptr[i] == ' ' || ct.ptr[i] == '\t';
}

/* Writers into reserved room: each returns the end of what it wrote. */

/* At most 6 * n + 2 bytes. */
static char *put_str(char *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        memcpy(o, s + run, i - run);
        o += i - run;
        run = i + 1;
        *o++ = '\\';
        switch (c) {
        case '"':
            *o++ = '"';
            break;
        case '\\':
            *o++ = '\\';
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    memcpy(o, s + run, n - run);
    o += n - run;
    *o++ = '"';
    return o;
}

/* Decimal digits of v; at most 20 bytes. */
static char *put_u64(char *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(o, tmp + i, sizeof(tmp) - i);
    return o + (sizeof(tmp) - i);
}

/* cJSON's print_number for a double; at most 31 bytes. */
static char *put_number_slow(char *o, double d)
{
    char tmp[32];
    if (isnan(d) || isinf(d)) {
        memcpy(o, "null", 4);
        return o + 4;
    }
    int vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    if (d == (double)vi) {
        snprintf(tmp, sizeof(tmp), "%d", vi);
    } else {
        double back = 0;
        snprintf(tmp, sizeof(tmp), "%1.15g", d);
        if (sscanf(tmp, "%lg", &back) != 1 ||
            !(fabs(back - d) <=
              (fabs(back) > fabs(d) ? fabs(back) : fabs(d)) * 2.220446049250313e-16))
            snprintf(tmp, sizeof(tmp), "%1.17g", d);
    }
    size_t n = strlen(tmp);
    memcpy(o, tmp, n);
    return o + n;
}

/* At most 31 bytes. */
static char *put_timestamp(char *o, int64_t epoch_ms)
{
    if (epoch_ms < 0 || epoch_ms >= 10000000000000LL)
        return put_number_slow(o, (double)epoch_ms / 1000.0);
    int64_t frac = epoch_ms % 1000;
    o = put_u64(o, (uint64_t)(epoch_ms / 1000));
    if (frac) {
        o[0] = '.';
        o[1] = (char)('0' + frac / 100);
        o[2] = (char)('0' + frac / 10 % 10);
        o[3] = (char)('0' + frac % 10);
        o += frac % 100 == 0 ? 2 : frac % 10 == 0 ? 3 : 4;
    }
    return o;
}

/* Room for `need` more bytes at the end of b: the write position, or NULL (b->oom set). */
static char *room(sl_buf *b, size_t need)
{
    if (sl_buf_reserve(b, need) != 0) {
        b->oom = 1;
        return NULL;
    }
    return b->data + b->len;
}

static void done(sl_buf *b, char *o)
{
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

#define PUT_LIT(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) += sizeof(lit) - 1)

void sl_ds_fast_str(sl_buf *b, const char *s, size_t n)
{
    char *o = n <= (SIZE_MAX - 2) / 6 ? room(b, 6 * n + 2) : NULL;
    if (o)
        done(b, put_str(o, s, n));
    else
        b->oom = 1;
}

void sl_ds_fast_member_str(sl_buf *b, const char *key, const char *value)
{
    size_t klen = strlen(key), vlen = strlen(value);
    char *o = room(b, klen + 3 + 6 * vlen + 2);
    if (!o)
        return;
    *o++ = '"';
    memcpy(o, key, klen);
    o += klen;
    PUT_LIT(o, "\":");
    done(b, put_str(o, value, vlen));
}

void sl_ds_fast_int(sl_buf *b, int64_t v)
{
    char *o = room(b, 32);
    if (!o)
        return;
    if (v >= 0 && v <= INT_MAX)
        done(b, put_u64(o, (uint64_t)v));
    else
        done(b, put_number_slow(o, (double)v));
}

void sl_ds_fast_timestamp(sl_buf *b, int64_t epoch_ms)
{
    char *o = room(b, 32);
    if (o)
        done(b, put_timestamp(o, epoch_ms));
}

void sl_ds_fast_record(sl_buf *b, const char *seq, int64_t ts_ms, const uint8_t *data,
                       size_t data_len, const char *pk, size_t pk_len, int kms)
{
    size_t seq_len = strlen(seq);
    /* the member names and punctuation (< 128), each part at its largest */
    char *o = room(b, 128 + 6 * seq_len + 2 + 32 + SL_BASE64_LEN(data_len) + 1 + 6 * pk_len + 2);
    if (!o)
        return;
    PUT_LIT(o, "{\"SequenceNumber\":");
    o = put_str(o, seq, seq_len);
    PUT_LIT(o, ",\"ApproximateArrivalTimestamp\":");
    o = put_timestamp(o, ts_ms);
    PUT_LIT(o, ",\"Data\":\"");
    o += sl_base64_encode(data, data_len, o);
    PUT_LIT(o, "\",\"PartitionKey\":");
    o = put_str(o, pk, pk_len);
    if (kms)
        PUT_LIT(o, ",\"EncryptionType\":\"KMS\"}");
    else
        PUT_LIT(o, ",\"EncryptionType\":\"NONE\"}");
    done(b, o);
}

static EVP_MD *md5_md;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void md5_fetch(void)
{
    md5_md = EVP_MD_fetch(NULL, "MD5", NULL); /* kept for the process's life */
}

sl_u128 sl_ds_fast_hashkey(const char *key, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    sl_u128 k = 0;
    pthread_once(&md5_once, md5_fetch);
    EVP_MD_CTX *ctx = md5_md ? EVP_MD_CTX_new() : NULL;
    if (!ctx)
        return sl_ds_hashkey_of_partition_key(key, len);
    /* As in ds_hashkey.c: a digest that fails (allocation) gives the zero key. */
    if (EVP_DigestInit_ex2(ctx, md5_md, NULL) != 1 || EVP_DigestUpdate(ctx, key, len) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &md_len) != 1 || md_len != 16)
        memset(md, 0, 16);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 16; i++)
        k = (k << 8) | md[i];
    return k;
}

static void free_body(void *ud, const void *data)
{
    (void)ud;
    free((void *)data);
}

int sl_ds_fast_reply(sl_api_call *call, sl_buf *body)
{
    if (body->oom)
        return SL_ENOMEM;
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_AMZ_JSON)}};
    if (body->len >= SL_DS_FAST_REF_BYTES) {
        size_t len = 0;
        char *data = sl_buf_steal(body, &len);
        sl_rbuf *rb = data ? sl_rbuf_wrap(data, len, free_body, NULL) : NULL;
        if (rb) {
            int rc = sl_exchange_respond_rbuf(call->ex, 200, h, 1, rb, 0, len);
            sl_rbuf_unref(rb);
            return rc;
        }
        /* no memory for the wrapper: send a copy */
        int rc = sl_exchange_respond(call->ex, 200, h, 1, data ? data : "", len);
        free(data);
        return rc;
    }
    return sl_exchange_respond(call->ex, 200, h, 1, body->data ? body->data : "", body->len);
}
