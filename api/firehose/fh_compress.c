/* Compression of delivered objects: the five S3 CompressionFormat values.
 *
 * GZIP           one gzip member over the whole object (zlib, windowBits 16+15, level 6).
 * ZIP            one archive with one stored-then-deflated entry, written here by hand:
 *                  local file header (sig 0x04034b50, version 20, flags 0, method 8 = deflate,
 *                  DOS time/date, CRC-32, compressed size, uncompressed size, name length,
 *                  extra length 0, name) | raw deflate data |
 *                  central directory header (sig 0x02014b50, same fields, offset of the local
 *                  header 0) | end of central directory (sig 0x06054b50, 1 entry, cd size/offset).
 *                All little-endian; objects are at most 128 MiB so ZIP64 is never needed.
 * Snappy         the Snappy framing format: stream identifier chunk ff 06 00 00 "sNaPpY", then
 *                per <= 65536 input bytes one chunk: type (0x00 compressed, 0x01 stored when
 *                compression does not help), 3-byte little-endian length of the rest, 4-byte
 *                little-endian masked CRC-32C of the uncompressed bytes
 *                (((crc >> 15) | (crc << 17)) + 0xa282ead8), then the data.
 * HADOOP_SNAPPY  Hadoop's block format: per block of <= 256 KiB input, big-endian u32
 *                uncompressed length, then big-endian u32 compressed length and the raw snappy
 *                block (one compressed chunk per block).
 * All functions are pure (no globals besides the constant CRC table) and thread-safe. */
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "fh.h"

static uint32_t crc32c_table[256];
static int crc32c_ready;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        crc32c_table[i] = c;
    }
    __atomic_store_n(&crc32c_ready, 1, __ATOMIC_RELEASE);
}

uint32_t sl_fh_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (!__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE))
        crc32c_init(); /* idempotent: concurrent callers compute the same table */
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc32c_table[(crc ^ b[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

const char *sl_fh_compression_ext(sl_fh_compression c)
{
    switch (c) {
    case SL_FH_COMP_GZIP:
        return ".gz";
    case SL_FH_COMP_ZIP:
        return ".zip";
    case SL_FH_COMP_SNAPPY:
    case SL_FH_COMP_HADOOP_SNAPPY:
        return ".snappy";
    default:
        return "";
    }
}

/* Deflates in into out with the given windowBits (31: gzip wrapper, -15: raw). */
static int deflate_into(const void *in, size_t n, int window_bits, sl_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return SL_EINTERNAL;
    int rc = 0;
    size_t bound = deflateBound(&z, (uLong)n) + 64;
    if (sl_buf_reserve(out, bound)) {
        rc = SL_ENOMEM;
        goto out;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out->data + out->len;
    z.avail_out = (uInt)(out->cap - out->len - 1);
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        rc = SL_EINTERNAL;
        goto out;
    }
    out->len += z.total_out;
    out->data[out->len] = '\0';
out:
    deflateEnd(&z);
    return rc;
}

int sl_fh_gzip(const void *in, size_t n, sl_buf *out)
{
    return deflate_into(in, n, 31, out);
}

static void put_le16(sl_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    sl_buf_append(b, x, 2);
}

static void put_le32(sl_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sl_buf_append(b, x, 4);
}

static void put_be32(sl_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    sl_buf_append(b, x, 4);
}

static int zip_one(const void *in, size_t n, const char *name, sl_buf *out)
{
    sl_buf data = SL_BUF_INIT;
    int rc = deflate_into(in, n, -15, &data);
    if (rc)
        goto out;
    uint32_t crc = (uint32_t)crc32(0L, in, (uInt)n);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    uint16_t dos_time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
    uint16_t dos_date =
        (uint16_t)(((tm.tm_year + 1900 - 1980) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
    uint16_t name_len = (uint16_t)strlen(name);
    size_t start = out->len;

    put_le32(out, 0x04034b50u);
    put_le16(out, 20);
    put_le16(out, 0);
    put_le16(out, 8);
    put_le16(out, dos_time);
    put_le16(out, dos_date);
    put_le32(out, crc);
    put_le32(out, (uint32_t)data.len);
    put_le32(out, (uint32_t)n);
    put_le16(out, name_len);
    put_le16(out, 0);
    sl_buf_append(out, name, name_len);
    sl_buf_append(out, data.data, data.len);
    size_t cd_off = out->len - start;
    put_le32(out, 0x02014b50u);
    put_le16(out, 20); /* made by */
    put_le16(out, 20); /* needed */
    put_le16(out, 0);
    put_le16(out, 8);
    put_le16(out, dos_time);
    put_le16(out, dos_date);
    put_le32(out, crc);
    put_le32(out, (uint32_t)data.len);
    put_le32(out, (uint32_t)n);
    put_le16(out, name_len);
    put_le16(out, 0); /* extra */
    put_le16(out, 0); /* comment */
    put_le16(out, 0); /* disk */
    put_le16(out, 0); /* internal attrs */
    put_le32(out, 0); /* external attrs */
    put_le32(out, 0); /* local header offset */
    sl_buf_append(out, name, name_len);
    size_t cd_len = out->len - start - cd_off;
    put_le32(out, 0x06054b50u);
    put_le16(out, 0);
    put_le16(out, 0);
    put_le16(out, 1);
    put_le16(out, 1);
    put_le32(out, (uint32_t)cd_len);
    put_le32(out, (uint32_t)cd_off);
    put_le16(out, 0);
    rc = out->oom ? SL_ENOMEM : 0;
out:
    sl_buf_cleanup(&data);
    return rc;
}

static int snappy_framed(const uint8_t *in, size_t n, sl_buf *out)
{
    static const uint8_t ident[] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};
    char *tmp = malloc(snappy_max_compressed_length(65536));
    if (!tmp)
        return SL_ENOMEM;
    sl_buf_append(out, ident, sizeof(ident));
    for (size_t off = 0; off < n || (n == 0 && off == 0);) {
        size_t len = n - off > 65536 ? 65536 : n - off;
        uint32_t crc = sl_fh_crc32c(0, in + off, len);
        uint32_t masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
        size_t clen = snappy_max_compressed_length(65536);
        if (snappy_compress((const char *)in + off, len, tmp, &clen) != SNAPPY_OK) {
            free(tmp);
            return SL_EINTERNAL;
        }
        int stored = clen >= len;
        size_t body = 4 + (stored ? len : clen);
        uint8_t hdr[4] = {stored ? 0x01 : 0x00, (uint8_t)body, (uint8_t)(body >> 8),
                          (uint8_t)(body >> 16)};
        sl_buf_append(out, hdr, 4);
        put_le32(out, masked);
        sl_buf_append(out, stored ? (const char *)in + off : tmp, stored ? len : clen);
        off += len;
        if (n == 0)
            break;
    }
    free(tmp);
    return out->oom ? SL_ENOMEM : 0;
}

#define HADOOP_BLOCK (256u * 1024u)

static int snappy_hadoop(const uint8_t *in, size_t n, sl_buf *out)
{
    char *tmp = malloc(snappy_max_compressed_length(HADOOP_BLOCK));
    if (!tmp)
        return SL_ENOMEM;
    for (size_t off = 0; off < n;) {
        size_t len = n - off > HADOOP_BLOCK ? HADOOP_BLOCK : n - off;
        size_t clen = snappy_max_compressed_length(HADOOP_BLOCK);
        if (snappy_compress((const char *)in + off, len, tmp, &clen) != SNAPPY_OK) {
            free(tmp);
            return SL_EINTERNAL;
        }
        put_be32(out, (uint32_t)len);
        put_be32(out, (uint32_t)clen);
        sl_buf_append(out, tmp, clen);
        off += len;
    }
    free(tmp);
    return out->oom ? SL_ENOMEM : 0;
}

int sl_fh_compress(sl_fh_compression c, const void *in, size_t n, const char *entry_name,
                   sl_buf *out)
{
    switch (c) {
    case SL_FH_COMP_GZIP:
        return sl_fh_gzip(in, n, out);
    case SL_FH_COMP_ZIP:
        return zip_one(in, n, entry_name && *entry_name ? entry_name : "data", out);
    case SL_FH_COMP_SNAPPY:
        return snappy_framed(in, n, out);
    case SL_FH_COMP_HADOOP_SNAPPY:
        return snappy_hadoop(in, n, out);
    default:
        return sl_buf_append(out, in, n);
    }
}
