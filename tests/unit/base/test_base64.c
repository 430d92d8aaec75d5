/* Unit tests for common/base/base64.c: RFC 4648 vectors, round trips of every length up to 300
 * bytes, and the decoder checked against a plain one-character-at-a-time reference decoder
 * (the codec's earlier implementation) on random strings built from the alphabet, '=' and
 * foreign bytes -- accept/reject and output must agree, with and without strict. The seed is
 * printed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "sluice/base64.h"

static int ref_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static long ref_decode(const char *s, size_t len, uint8_t *out, int strict)
{
    size_t o = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        int v[4];
        for (int j = 0; j < 4; j++) {
            v[j] = ref_value(s[i + j]);
            if (v[j] < 0 && !(last && j >= 2 && s[i + j] == '='))
                return -1;
        }
        if (v[2] < 0 && v[3] >= 0)
            return -1;
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
        w |= (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 | (uint32_t)(v[3] < 0 ? 0 : v[3]);
        out[o++] = (uint8_t)(w >> 16);
        if (v[2] >= 0)
            out[o++] = (uint8_t)(w >> 8);
        else if (strict && (w & 0xffff))
            return -1;
        if (v[3] >= 0)
            out[o++] = (uint8_t)w;
        else if (strict && v[2] >= 0 && (w & 0xff))
            return -1;
    }
    return (long)o;
}

static void vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = strlen(plain[i]);
        assert_int_equal(sl_base64_encode((const uint8_t *)plain[i], n, enc), strlen(coded[i]));
        assert_string_equal(enc, coded[i]);
        assert_int_equal(sl_base64_decode(coded[i], strlen(coded[i]), dec, 1), (long)n);
        assert_memory_equal(dec, plain[i], n);
    }
    uint8_t d[8];
    /* rejected: bad length, foreign characters, misplaced padding, padding mid-string */
    static const char *const bad[] = {"Zg=",  "Zg",   "Z===", "====",   "Zm9v=g==", "Zm 9",
                                      "Zg=a", "Z-==", "Zm9_", "Zm9v\n", "Zg==Zg=="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sl_base64_decode(bad[i], strlen(bad[i]), d, 0), -1);
    /* non-canonical: accepted unless strict */
    assert_int_equal(sl_base64_decode("Zh==", 4, d, 0), 1);
    assert_int_equal(sl_base64_decode("Zh==", 4, d, 1), -1);
    assert_int_equal(sl_base64_decode("Zm9=", 4, d, 0), 2);
    assert_int_equal(sl_base64_decode("Zm9=", 4, d, 1), -1);
}

static void round_trips(void **state)
{
    (void)state;
    uint8_t in[300], back[300];
    char enc[SL_BASE64_LEN(300) + 1];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t len = sl_base64_encode(in, n, enc);
        assert_int_equal(len, SL_BASE64_LEN(n));
        assert_int_equal(enc[len], '\0');
        for (int strict = 0; strict < 2; strict++) {
            memset(back, 0xAA, sizeof(back));
            assert_int_equal(sl_base64_decode(enc, len, back, strict), (long)n);
            assert_memory_equal(back, in, n);
            uint8_t ref[300];
            assert_int_equal(ref_decode(enc, len, ref, strict), (long)n);
        }
    }
}

static uint64_t rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void against_reference(void **state)
{
    (void)state;
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t seed = (uint64_t)time(NULL) | 1, s = seed;
    printf("# seed %llu\n", (unsigned long long)seed);
    char str[64];
    uint8_t a[64], b[64];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(rng(&s) % 41);
        int mode = (int)(rng(&s) % 4);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = rng(&s);
            str[i] = alpha[r % 64];
            if (mode == 1 && r % 97 == 0)
                str[i] = (char)(rng(&s) & 0xff); /* foreign byte, now and then */
            if (mode >= 2 && i + 2 >= len && r % 3 == 0)
                str[i] = '='; /* padding, often at the end */
            if (mode == 3 && r % 53 == 0)
                str[i] = '=';
        }
        for (int strict = 0; strict < 2; strict++) {
            long want = ref_decode(str, len, a, strict);
            long got = sl_base64_decode(str, len, b, strict);
            if (want != got)
                fail_msg("seed %llu: \"%.*s\" strict %d: reference %ld, decoder %ld",
                         (unsigned long long)seed, (int)len, str, strict, want, got);
            if (want > 0)
                assert_memory_equal(a, b, (size_t)want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vectors),
        cmocka_unit_test(round_trips),
        cmocka_unit_test(against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
