/* Unit tests for api/firehose/fh_compress.c: each format decoded with an independent reader --
 * zlib's inflate for GZIP and for the ZIP entry (whose headers are parsed here field by field),
 * libsnappy's raw decoder for the Snappy framing chunks (CRC-32C checked) and the Hadoop blocks
 * -- over empty, small, incompressible and multi-chunk inputs; plus the CRC-32C check value. */
#include <setjmp.h>
#include <snappy-c.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "../../../api/firehose/fh.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void inflate_all(const uint8_t *in, size_t n, int window_bits, sl_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, window_bits), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    int rc;
    do {
        uint8_t chunk[65536];
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        rc = inflate(&z, Z_NO_FLUSH);
        assert_true(rc == Z_OK || rc == Z_STREAM_END);
        sl_buf_append(out, chunk, sizeof(chunk) - z.avail_out);
    } while (rc != Z_STREAM_END);
    assert_int_equal(z.avail_in, 0);
    inflateEnd(&z);
}

static void decode_zip(const sl_buf *c, const char *name, sl_buf *out)
{
    const uint8_t *p = (const uint8_t *)c->data;
    assert_true(c->len > 30 + 46 + 22);
    assert_int_equal(le32(p), 0x04034b50u);
    assert_int_equal(le16(p + 8), 8);
    uint32_t crc = le32(p + 14), csize = le32(p + 18), usize = le32(p + 22);
    uint16_t nlen = le16(p + 26), xlen = le16(p + 28);
    assert_int_equal(nlen, strlen(name));
    assert_memory_equal(p + 30, name, nlen);
    inflate_all(p + 30 + nlen + xlen, csize, -15, out);
    assert_int_equal(out->len, usize);
    assert_int_equal((uint32_t)crc32(0, (const Bytef *)out->data, (uInt)out->len), crc);
    const uint8_t *eocd = p + c->len - 22;
    assert_int_equal(le32(eocd), 0x06054b50u);
    assert_int_equal(le16(eocd + 10), 1);
    const uint8_t *cd = p + le32(eocd + 16);
    assert_int_equal(le32(cd), 0x02014b50u);
    assert_int_equal(le32(cd + 16), crc);
    assert_int_equal(le32(cd + 42), 0); /* local header offset */
}

static void decode_framed(const sl_buf *c, sl_buf *out)
{
    const uint8_t *p = (const uint8_t *)c->data;
    static const uint8_t ident[] = {0xff, 0x06, 0x00, 0x00, 's', 'N', 'a', 'P', 'p', 'Y'};
    assert_true(c->len >= sizeof(ident));
    assert_memory_equal(p, ident, sizeof(ident));
    size_t i = sizeof(ident);
    while (i < c->len) {
        uint8_t type = p[i];
        size_t len = p[i + 1] | (size_t)p[i + 2] << 8 | (size_t)p[i + 3] << 16;
        const uint8_t *body = p + i + 4;
        size_t start = out->len;
        assert_true(type == 0 || type == 1);
        if (type == 1) {
            sl_buf_append(out, body + 4, len - 4);
        } else {
            size_t ulen = 0;
            assert_int_equal(snappy_uncompressed_length((const char *)body + 4, len - 4, &ulen),
                             SNAPPY_OK);
            assert_true(ulen <= 65536);
            sl_buf_reserve(out, ulen + 1);
            assert_int_equal(
                snappy_uncompress((const char *)body + 4, len - 4, out->data + out->len, &ulen),
                SNAPPY_OK);
            out->len += ulen;
        }
        uint32_t crc = sl_fh_crc32c(0, out->data + start, out->len - start);
        assert_int_equal(le32(body), ((crc >> 15) | (crc << 17)) + 0xa282ead8u);
        i += 4 + len;
    }
    assert_int_equal(i, c->len);
}

static void decode_hadoop(const sl_buf *c, sl_buf *out)
{
    const uint8_t *p = (const uint8_t *)c->data;
    size_t i = 0;
    while (i < c->len) {
        uint32_t ulen = be32(p + i), clen = be32(p + i + 4);
        size_t got = ulen;
        sl_buf_reserve(out, ulen + 1);
        assert_int_equal(
            snappy_uncompress((const char *)p + i + 8, clen, out->data + out->len, &got),
            SNAPPY_OK);
        assert_int_equal(got, ulen);
        out->len += got;
        i += 8 + clen;
    }
    assert_int_equal(i, c->len);
}

static void round_trip(sl_fh_compression f, const uint8_t *in, size_t n)
{
    sl_buf c = SL_BUF_INIT, d = SL_BUF_INIT;
    assert_int_equal(sl_fh_compress(f, in, n, "entry-1", &c), 0);
    switch (f) {
    case SL_FH_COMP_GZIP:
        inflate_all((const uint8_t *)c.data, c.len, 31, &d);
        break;
    case SL_FH_COMP_ZIP:
        decode_zip(&c, "entry-1", &d);
        break;
    case SL_FH_COMP_SNAPPY:
        decode_framed(&c, &d);
        break;
    case SL_FH_COMP_HADOOP_SNAPPY:
        decode_hadoop(&c, &d);
        break;
    default:
        sl_buf_append(&d, c.data, c.len);
        break;
    }
    assert_int_equal(d.len, n);
    if (n)
        assert_memory_equal(d.data, in, n);
    sl_buf_cleanup(&c);
    sl_buf_cleanup(&d);
}

static void test_formats(void **state)
{
    (void)state;
    size_t big = 700000;
    uint8_t *text = malloc(big), *noise = malloc(big);
    assert_non_null(text);
    assert_non_null(noise);
    srand(42);
    for (size_t i = 0; i < big; i++) {
        text[i] = (uint8_t)("firehose record\n"[i % 16]);
        noise[i] = (uint8_t)rand();
    }
    const sl_fh_compression all[] = {SL_FH_COMP_NONE, SL_FH_COMP_GZIP, SL_FH_COMP_ZIP,
                                     SL_FH_COMP_SNAPPY, SL_FH_COMP_HADOOP_SNAPPY};
    for (size_t k = 0; k < sizeof(all) / sizeof(*all); k++) {
        round_trip(all[k], (const uint8_t *)"", 0);
        round_trip(all[k], (const uint8_t *)"x", 1);
        round_trip(all[k], text, 65536); /* exactly one framing chunk */
        round_trip(all[k], text, 65537); /* one byte into the next */
        round_trip(all[k], text, big);   /* several chunks / Hadoop blocks */
        round_trip(all[k], noise, big);  /* incompressible: stored chunks */
    }
    free(text);
    free(noise);
}

static void test_crc32c_and_ext(void **state)
{
    (void)state;
    assert_int_equal(sl_fh_crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(sl_fh_crc32c(sl_fh_crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
    assert_string_equal(sl_fh_compression_ext(SL_FH_COMP_GZIP), ".gz");
    assert_string_equal(sl_fh_compression_ext(SL_FH_COMP_ZIP), ".zip");
    assert_string_equal(sl_fh_compression_ext(SL_FH_COMP_SNAPPY), ".snappy");
    assert_string_equal(sl_fh_compression_ext(SL_FH_COMP_NONE), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_crc32c_and_ext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
