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

void sl_ds_fast_str(sl_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case 6 output bytes per input byte; reserve for the common case and grow per
     * escape when the string has many. */
    if (sl_buf_reserve(b, n + 2) != 0) {
        b->oom = 1;
        return;
    }
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the bytes not yet copied */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sl_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t len = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
        }
        sl_buf_append(b, esc, len);
    }
    sl_buf_append(b, s + run, n - run);
    sl_buf_append_byte(b, '"');
}

void sl_ds_fast_member_str(sl_buf *b, const char *key, const char *value)
{
    sl_buf_append_byte(b, '"');
    sl_buf_append_str(b, key);
    sl_buf_append(b, "\":", 2);
    sl_ds_fast_str(b, value, strlen(value));
}

/* cJSON's print_number for a double. */
static void number_slow(sl_buf *b, double d)
{
    char tmp[32];
    if (isnan(d) || isinf(d)) {
        sl_buf_append_str(b, "null");
        return;
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
    sl_buf_append_str(b, tmp);
}

/* Decimal digits of v (v >= 0) appended. */
static void append_u64(sl_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    sl_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void sl_ds_fast_int(sl_buf *b, int64_t v)
{
    if (v >= 0 && v <= INT_MAX)
        append_u64(b, (uint64_t)v);
    else
        number_slow(b, (double)v);
}

void sl_ds_fast_timestamp(sl_buf *b, int64_t epoch_ms)
{
    if (epoch_ms < 0 || epoch_ms >= 10000000000000LL) {
        number_slow(b, (double)epoch_ms / 1000.0);
        return;
    }
    int64_t s = epoch_ms / 1000, frac = epoch_ms % 1000;
    append_u64(b, (uint64_t)s);
    if (frac) {
        char f[4] = {'.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                     (char)('0' + frac % 10)};
        size_t len = 4;
        while (f[len - 1] == '0')
            len--;
        sl_buf_append(b, f, len);
    }
}

void sl_ds_fast_record(sl_buf *b, const char *seq, int64_t ts_ms, const uint8_t *data,
                       size_t data_len, const char *pk, size_t pk_len, int kms)
{
    sl_buf_append_str(b, "{\"SequenceNumber\":");
    sl_ds_fast_str(b, seq, strlen(seq));
    sl_buf_append_str(b, ",\"ApproximateArrivalTimestamp\":");
    sl_ds_fast_timestamp(b, ts_ms);
    sl_buf_append_str(b, ",\"Data\":\"");
    if (sl_buf_reserve(b, SL_BASE64_LEN(data_len) + 1) != 0) {
        b->oom = 1;
        return;
    }
    if (!b->oom)
        b->len += sl_base64_encode(data, data_len, b->data + b->len);
    sl_buf_append_str(b, "\",\"PartitionKey\":");
    sl_ds_fast_str(b, pk, pk_len);
    sl_buf_append_str(b, kms ? ",\"EncryptionType\":\"KMS\"}" : ",\"EncryptionType\":\"NONE\"}");
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

int sl_ds_fast_reply(sl_api_call *call, const sl_buf *body)
{
    if (body->oom)
        return SL_ENOMEM;
    sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_AMZ_JSON)}};
    return sl_exchange_respond(call->ex, 200, h, 1, body->data ? body->data : "", body->len);
}
