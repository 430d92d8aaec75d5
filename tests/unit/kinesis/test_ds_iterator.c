/* Unit tests for api/kinesis/ds_iterator.c: seal/open round trips, the shape of the encoded
 * token (what the real service's iterators look like), rejection of every single-character
 * tamper, of tokens sealed under another secret and of garbage, the 300 s expiry and the
 * ExpiredIteratorException text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/kinesis/ds_iterator.h"
#include "sluice/err.h"

static sl_ds_token_key key_a, key_b;

static int setup(void **state)
{
    (void)state;
    uint8_t s1[32], s2[32];
    for (int i = 0; i < 32; i++) {
        s1[i] = (uint8_t)i;
        s2[i] = (uint8_t)(i + 1);
    }
    assert_int_equal(sl_ds_token_key_init(&key_a, s1), 0);
    assert_int_equal(sl_ds_token_key_init(&key_b, s2), 0);
    return 0;
}

static sl_ds_token sample(const char *name)
{
    sl_ds_token t;
    memset(&t, 0, sizeof(t));
    t.kind = SL_DS_TOKEN_ITERATOR;
    size_t len = strlen(name);
    assert_true(len < sizeof(t.stream));
    memcpy(t.stream, name, len + 1);
    t.stream_created_ms = 1764000000123;
    t.shard_index = 7;
    t.position = 0x0123456789abcdefull;
    t.issued_ms = 1764000001000;
    t.flags = 3;
    return t;
}

static size_t b64_decoded_len(const char *s)
{
    size_t n = strlen(s);
    size_t pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
    return n / 4 * 3 - pad;
}

static void test_round_trip(void **state)
{
    (void)state;
    char names[3][130];
    snprintf(names[0], sizeof(names[0]), "s");
    snprintf(names[1], sizeof(names[1]), "my-stream.v2_x");
    memset(names[2], 'n', 128);
    names[2][128] = '\0';
    for (int i = 0; i < 3; i++) {
        sl_ds_token t = sample(names[i]), back;
        char enc[SL_DS_TOKEN_MAX_CHARS + 1];
        int n = sl_ds_token_seal(&key_a, &t, enc);
        assert_true(n > 0 && n <= SL_DS_TOKEN_MAX_CHARS);
        assert_int_equal((size_t)n, strlen(enc));
        size_t raw = b64_decoded_len(enc);
        assert_true(raw >= 152);
        assert_int_equal((raw - 152) % 16, 0);
        assert_int_equal(sl_ds_token_open(&key_a, enc, (size_t)n, &back), 0);
        assert_string_equal(back.stream, t.stream);
        assert_int_equal(back.kind, t.kind);
        assert_true(back.stream_created_ms == t.stream_created_ms);
        assert_int_equal(back.shard_index, t.shard_index);
        assert_true(back.position == t.position);
        assert_true(back.issued_ms == t.issued_ms);
        assert_int_equal(back.flags, t.flags);
        /* Another secret cannot open it. */
        assert_int_equal(sl_ds_token_open(&key_b, enc, (size_t)n, &back), SL_EINVAL);
    }
    /* Two seals of the same token differ (random IV): the token leaks nothing by equality. */
    sl_ds_token t = sample("x");
    char e1[SL_DS_TOKEN_MAX_CHARS + 1], e2[SL_DS_TOKEN_MAX_CHARS + 1];
    assert_true(sl_ds_token_seal(&key_a, &t, e1) > 0);
    assert_true(sl_ds_token_seal(&key_a, &t, e2) > 0);
    assert_string_not_equal(e1, e2);
    /* The real service's iterators start with 00..01: ten 'A's, then a character holding the 1
     * bit and two random IV bits (E, F, G or H). */
    assert_memory_equal(e1, "AAAAAAAAAA", 10);
    assert_non_null(strchr("EFGH", e1[10]));
}

static void test_tamper(void **state)
{
    (void)state;
    sl_ds_token t = sample("tamper-me"), back;
    char enc[SL_DS_TOKEN_MAX_CHARS + 1];
    int n = sl_ds_token_seal(&key_a, &t, enc);
    assert_true(n > 0);
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int accepted = 0;
    for (int i = 0; i < n; i++) {
        char saved = enc[i];
        if (saved == '=')
            continue;
        /* Replace with a different alphabet character. */
        const char *p = strchr(alphabet, saved);
        assert_non_null(p);
        enc[i] = alphabet[(p - alphabet + 1) % 64];
        if (sl_ds_token_open(&key_a, enc, (size_t)n, &back) == 0)
            accepted++;
        enc[i] = saved;
    }
    assert_int_equal(accepted, 0);
    /* Truncations and extensions. */
    for (int cut = 0; cut < n; cut += 4)
        assert_int_equal(sl_ds_token_open(&key_a, enc, (size_t)cut, &back), SL_EINVAL);
    char longer[SL_DS_TOKEN_MAX_CHARS + 8];
    snprintf(longer, sizeof(longer), "%sAAAA", enc);
    assert_int_equal(sl_ds_token_open(&key_a, longer, strlen(longer), &back), SL_EINVAL);
    assert_int_equal(sl_ds_token_open(&key_a, enc, (size_t)n, &back), 0);
}

static void test_garbage(void **state)
{
    (void)state;
    sl_ds_token back;
    static const char *const bad[] = {
        "",
        "a",
        "====",
        "AAAAAAAAAAE=",
        "not base64 at all!",
        "AAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sl_ds_token_open(&key_a, bad[i], strlen(bad[i]), &back), SL_EINVAL);
    sl_ds_token t = sample("x");
    t.stream[0] = '\0';
    char enc[SL_DS_TOKEN_MAX_CHARS + 1];
    assert_int_equal(sl_ds_token_seal(&key_a, &t, enc), SL_EINVAL);
}

static void test_expiry(void **state)
{
    (void)state;
    assert_false(sl_ds_token_expired(1000, 1000));
    assert_false(sl_ds_token_expired(1000, 301000));
    assert_true(sl_ds_token_expired(1000, 301001));
    char msg[400];
    sl_ds_token_expired_message(1421889722000, 1421890023000, msg, sizeof(msg));
    assert_string_equal(msg, "Iterator expired. The iterator was created at time Thu Jan 22 "
                             "01:22:02 UTC 2015 while right now it is Thu Jan 22 01:27:03 UTC "
                             "2015 which is further in the future than the tolerated delay of "
                             "300000 milliseconds.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_expiry),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
