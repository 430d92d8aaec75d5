/* Unit tests for api/kinesis/ds_eventstream.c: the spec's 104-byte initial-response frame byte
 * for byte, botocore's sample message CRCs, the CRC-32 check value, header limits, and a decode
 * of an exception frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/kinesis/ds_eventstream.h"
#include "sluice/err.h"

static uint32_t be32(const char *p)
{
    const uint8_t *b = (const uint8_t *)p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void test_crc(void **state)
{
    (void)state;
    assert_int_equal(sl_ds_crc32(0, "123456789", 9), 0xCBF43926u);
    assert_int_equal(sl_ds_crc32(sl_ds_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
}

static void test_initial_response_vector(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x00, 0x56, 0x4e, 0x68, 0x17, 0x24, 0x0d, ':',  'm',
        'e',  's',  's',  'a',  'g',  'e',  '-',  't',  'y',  'p',  'e',  0x07, 0x00, 0x05, 'e',
        'v',  'e',  'n',  't',  0x0b, ':',  'e',  'v',  'e',  'n',  't',  '-',  't',  'y',  'p',
        'e',  0x07, 0x00, 0x10, 'i',  'n',  'i',  't',  'i',  'a',  'l',  '-',  'r',  'e',  's',
        'p',  'o',  'n',  's',  'e',  0x0d, ':',  'c',  'o',  'n',  't',  'e',  'n',  't',  '-',
        't',  'y',  'p',  'e',  0x07, 0x00, 0x10, 'a',  'p',  'p',  'l',  'i',  'c',  'a',  't',
        'i',  'o',  'n',  '/',  'j',  's',  'o',  'n',  '{',  '}',  0xfe, 0x94, 0x2c, 0x1d,
    };
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sizeof(want), 104);
    assert_int_equal(sl_ds_es_event(&b, "initial-response", "{}", 2), 0);
    assert_int_equal(b.len, 104);
    assert_memory_equal(b.data, want, 104);
    sl_buf_cleanup(&b);
}

static void test_botocore_sample(void **state)
{
    (void)state;
    /* botocore's unit-test message: :content-type = text/json, payload
     * {"InitialResponse": "sometext"}, 126 bytes, prelude CRC c5a3ddc6, message CRC f6982483.
     * Headers in botocore's order: message-type, event-type, content-type. */
    sl_ds_es_header h[3] = {
        {":message-type", "event"},
        {":event-type", "initial-response"},
        {":content-type", "text/json"},
    };
    static const char payload[] = "{\"InitialResponse\": \"sometext\"}";
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_ds_es_append(&b, h, 3, payload, sizeof(payload) - 1), 0);
    assert_int_equal(b.len, 126);
    assert_int_equal(be32(b.data), 126);
    assert_int_equal(be32(b.data + 8), 0xc5a3ddc6u);
    assert_int_equal(be32(b.data + 122), 0xf6982483u);
    sl_buf_cleanup(&b);
}

static void test_exception_and_limits(void **state)
{
    (void)state;
    sl_buf b = SL_BUF_INIT;
    assert_int_equal(sl_ds_es_exception(&b, "ResourceInUseException", "taken \"over\""), 0);
    uint32_t total = be32(b.data), hl = be32(b.data + 4);
    assert_int_equal(total, b.len);
    assert_int_equal(be32(b.data + 8), sl_ds_crc32(0, b.data, 8));
    assert_int_equal(be32(b.data + total - 4), sl_ds_crc32(0, b.data, total - 4));
    const char *payload = b.data + 12 + hl;
    size_t plen = total - 16 - hl;
    static const char want[] = "{\"message\":\"taken \\\"over\\\"\"}";
    assert_int_equal(plen, sizeof(want) - 1);
    assert_memory_equal(payload, want, plen);
    assert_non_null(memmem(b.data + 12, hl, ":exception-type", 15));
    char big[300];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sl_ds_es_header h = {big, "v"};
    size_t before = b.len;
    assert_int_equal(sl_ds_es_append(&b, &h, 1, "", 0), SL_EINVAL);
    assert_int_equal(b.len, before);
    sl_ds_es_header empty = {"", "v"};
    assert_int_equal(sl_ds_es_append(&b, &empty, 1, "", 0), SL_EINVAL);
    sl_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc),
        cmocka_unit_test(test_initial_response_vector),
        cmocka_unit_test(test_botocore_sample),
        cmocka_unit_test(test_exception_and_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
