/* The models' Java patterns: both engines (regcomp for the ERE translations, the own matcher
 * for Unicode classes and look-arounds) must accept and refuse exactly what Java would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sluice/api_model.h"
#include "sluice/wire.h"

#include "../api/fake_exchange.inc"

static int m(const char *java, const char *s)
{
    int idx = sl_pattern_find(java);
    if (idx < 0)
        fail_msg("pattern %s is not in the models", java);
    return sl_pattern_match(idx, s, strlen(s));
}

static int uses_ere(const char *java)
{
    return sl_api_patterns[sl_pattern_find(java)].ere != NULL;
}

static int setup(void **state)
{
    (void)state;
    return sl_patterns_init();
}

static int teardown(void **state)
{
    (void)state;
    sl_patterns_cleanup();
    return 0;
}

static void ere_patterns(void **state)
{
    (void)state;
    assert_true(uses_ere("[a-zA-Z0-9_.-]+"));
    assert_int_equal(m("[a-zA-Z0-9_.-]+", "my-stream_1.x"), 1);
    assert_int_equal(m("[a-zA-Z0-9_.-]+", "my stream"), 0);
    assert_int_equal(m("[a-zA-Z0-9_.-]+", ""), 0);
    assert_int_equal(m("[a-zA-Z0-9_.-]+", "a\n"), 0); /* whole input, as Pattern.matches */
    assert_true(uses_ere("0|([1-9]\\d{0,38})"));
    assert_int_equal(m("0|([1-9]\\d{0,38})", "0"), 1);
    assert_int_equal(m("0|([1-9]\\d{0,38})", "340282366920938463463374607431768211455"), 1);
    assert_int_equal(m("0|([1-9]\\d{0,38})", "01"), 0);
    assert_int_equal(m("0|([1-9]\\d{0,38})", "1234567890123456789012345678901234567890"), 0);
    /* a negated ASCII class accepts any non-ASCII code point, byte-wise too */
    assert_true(uses_ere("[^:*]*"));
    assert_int_equal(m("[^:*]*", "caf\xC3\xA9"), 1);
    assert_int_equal(m("[^:*]*", "a:b"), 0);
    assert_int_equal(m("^\\S+$", "abc\xE2\x82\xAC"), 1);
    assert_int_equal(m("^\\S+$", "a b"), 0);
    assert_int_equal(m("[a-zA-Z0-9\\\\._\\\\-]+", "a\\b"), 1); /* the class holds a backslash */
    assert_int_equal(m("[a-zA-Z0-9+/]+={0,2}", "QUJD=="), 1);
    assert_int_equal(m("[a-zA-Z0-9+/]+={0,2}", "QUJD==="), 0);
}

static void unicode_classes(void **state)
{
    (void)state;
    const char *tag = "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*";
    assert_false(uses_ere(tag));
    assert_int_equal(m(tag, ""), 1);
    assert_int_equal(m(tag, "Team \xE6\x97\xA5\xE6\x9C\xAC 42"), 1); /* CJK letters, space */
    assert_int_equal(m(tag, "\xD9\xA3\xE2\x85\xA0"), 1);             /* Arabic-Indic 3, Roman I */
    assert_int_equal(m(tag, "\xE2\x80\xA8"), 1);                     /* U+2028 is \p{Z} (Zl) */
    assert_int_equal(m(tag, "a*b"), 0);
    assert_int_equal(m(tag, "\xF0\x9F\x98\x80"), 0); /* emoji: So */
    assert_int_equal(m(tag, "ab\xC3"), 0);           /* invalid UTF-8 */
    /* [\u0001-\uFFFF]*: supplementary code points are outside the class */
    assert_int_equal(m("[\\u0001-\\uFFFF]*", "plain \xEF\xBF\xBF"), 1);
    assert_int_equal(m("[\\u0001-\\uFFFF]*", "\xF0\x9F\x98\x80"), 0);
}

static void dot_excludes_line_terminators(void **state)
{
    (void)state;
    assert_int_equal(m(".+", "any text \xC3\xA9"), 1);
    assert_int_equal(m(".+", ""), 0);
    assert_int_equal(m(".+", "a\nb"), 0);
    assert_int_equal(m(".+", "a\xE2\x80\xA8"
                             "b"),
                     0);                       /* U+2028 */
    assert_int_equal(m(".*", "a\xC2\x85"), 0); /* U+0085 */
    /* counted '.': 11..100 code points, not bytes */
    char s[300] = "";
    for (int i = 0; i < 11; i++)
        strcat(s, "\xC3\xA9");
    assert_int_equal(m("[^\\n]{11,100}", s), 1);
    s[strlen(s) - 2] = '\0';
    assert_int_equal(m("[^\\n]{11,100}", s), 0);
}

static void lookarounds(void **state)
{
    (void)state;
    const char *nonblank = "^(?!\\s*$).+";
    assert_int_equal(m(nonblank, "x"), 1);
    assert_int_equal(m(nonblank, "  x "), 1);
    assert_int_equal(m(nonblank, "   "), 0);
    const char *noaws = "^(?!aws:)[\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@%]*$";
    assert_int_equal(m(noaws, "team:red"), 1);
    assert_int_equal(m(noaws, "aws:reserved"), 0);
    const char *jdbc = "jdbc:(redshift|postgresql)://((?!-)[A-Za-z0-9-]{1,63}(?<!-)\\.)+"
                       "(redshift(-serverless)?)\\.([a-zA-Z0-9\\.\\-]+):\\d{1,5}/[a-zA-Z0-9_$-]+";
    assert_int_equal(
        m(jdbc, "jdbc:redshift://my-cluster.abc123.us-east-1.redshift.amazonaws.com:5439/dev"), 1);
    assert_int_equal(
        m(jdbc, "jdbc:redshift://-bad.abc123.us-east-1.redshift.amazonaws.com:5439/dev"), 0);
    assert_int_equal(
        m(jdbc, "jdbc:redshift://bad-.abc123.us-east-1.redshift.amazonaws.com:5439/dev"), 0);
}

static void long_inputs_stay_linear(void **state)
{
    (void)state;
    /* 200 000 characters against a pattern with a nested star: bounded by the state bitmap. */
    size_t n = 200000;
    char *s = malloc(n + 2);
    memset(s, 'a', n);
    s[n] = '!';
    s[n + 1] = '\0';
    assert_int_equal(m(".*", s), 1);
    assert_int_equal(m("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*", s), 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ere_patterns),
        cmocka_unit_test(unicode_classes),
        cmocka_unit_test(dot_excludes_line_terminators),
        cmocka_unit_test(lookarounds),
        cmocka_unit_test(long_inputs_stay_linear),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
