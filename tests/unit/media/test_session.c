/* Tests for playback session tokens (api/media/session.c): round trip of every field, every
 * single-character change refused, truncation and foreign characters refused, expiry exactly at
 * expires_ms, and a token signed under another key refused (SLUICE_MEDIA_TOKEN_KEY pins the key
 * for the process, so the "other key" token is a fixed string made with a different key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../api/media/media_int.h"

static md_session sample(void)
{
    md_session s;
    memset(&s, 0, sizeof(s));
    s.proto = MD_HLS;
    s.mode = MD_LIVE_REPLAY;
    s.ts_container = 1;
    s.server_ts = 0;
    s.discontinuity = 2;
    s.display_ts = 1;
    s.display_fn = 0;
    s.start_ms = 1795704260904;
    s.end_ms = -1;
    s.created_ms = 1795704300000;
    s.expires_ms = 1795704600000;
    s.max_results = 5000;
    s.anchor_seq = 1795704300123456ull;
    strcpy(s.region, "eu-west-1");
    strcpy(s.stream, "my.stream-name_1|x"); /* '|' is the field separator: must survive last */
    strcpy(s.skey, "1795704300000.4f735838");
    return s;
}

static void test_round_trip(void **state)
{
    (void)state;
    md_session s = sample(), d;
    char tok[1024];
    assert_int_equal(md_session_encode(&s, tok, sizeof(tok)), 0);
    assert_int_equal(tok[strlen(tok) - 1], '~');
    for (const char *p = tok; *p; p++) /* URL-safe without escaping */
        assert_non_null(
            strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~", *p));
    assert_int_equal(md_session_decode(tok, strlen(tok), s.created_ms, &d), 0);
    assert_int_equal(d.proto, s.proto);
    assert_int_equal(d.mode, s.mode);
    assert_int_equal(d.ts_container, 1);
    assert_int_equal(d.discontinuity, 2);
    assert_int_equal(d.display_ts, 1);
    assert_int_equal(d.start_ms, s.start_ms);
    assert_int_equal(d.end_ms, -1);
    assert_int_equal(d.created_ms, s.created_ms);
    assert_int_equal(d.expires_ms, s.expires_ms);
    assert_int_equal(d.max_results, 5000);
    assert_int_equal(d.anchor_seq, s.anchor_seq);
    assert_string_equal(d.region, "eu-west-1");
    assert_string_equal(d.skey, s.skey);
    assert_string_equal(d.stream, s.stream);
}

static void test_tamper_truncate_expire(void **state)
{
    (void)state;
    md_session s = sample(), d;
    char tok[1024];
    assert_int_equal(md_session_encode(&s, tok, sizeof(tok)), 0);
    size_t n = strlen(tok);
    for (size_t i = 0; i < n - 1; i++) {
        char c = tok[i];
        tok[i] = c == 'A' ? 'B' : 'A';
        int rc = md_session_decode(tok, n, s.created_ms, &d);
        if (rc != SL_EAUTH_SIGNATURE)
            print_error("position %zu accepted (rc %d)\n", i, rc);
        assert_int_equal(rc, SL_EAUTH_SIGNATURE);
        tok[i] = c;
    }
    for (size_t k = 1; k < n; k += 7)
        assert_int_equal(md_session_decode(tok, k, s.created_ms, &d), SL_EAUTH_SIGNATURE);
    tok[n - 1] = '=';
    assert_int_equal(md_session_decode(tok, n, s.created_ms, &d), SL_EAUTH_SIGNATURE);
    tok[n - 1] = '~';
    assert_int_equal(md_session_decode(tok, n, s.expires_ms - 1, &d), 0);
    assert_int_equal(md_session_decode(tok, n, s.expires_ms, &d), SL_EAUTH_EXPIRED);
    assert_int_equal(md_session_decode("~", 1, 0, &d), SL_EAUTH_SIGNATURE);
    assert_int_equal(md_session_decode("", 0, 0, &d), SL_EAUTH_SIGNATURE);
}

static void test_other_key(void **state)
{
    (void)state;
    /* base64url(payload || first 16 bytes of HMAC-SHA256(32 zero bytes, payload)) with payload
     * "1|1|1|0|1|1|0|0|0|-1|0|99999999999999|5|1|us-east-1|k|s": well formed, never expiring,
     * signed under a key that is not this process's */
    md_session d;
    const char *tok = "MXwxfDF8MHwxfDF8MHwwfDB8LTF8MHw5OTk5OTk5OTk5OTk5OXw1fDF8dXMtZWFzdC0xfGt8c"
                      "2B0WaPErM13BAkOlHbXBUE~";
    assert_int_equal(md_session_decode(tok, strlen(tok), 0, &d), SL_EAUTH_SIGNATURE);
}

int main(void)
{
    setenv("SLUICE_MEDIA_TOKEN_KEY",
           "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_tamper_truncate_expire),
        cmocka_unit_test(test_other_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
