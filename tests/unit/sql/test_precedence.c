/* Operator precedence and associativity of the expression grammar (spec §2.9: unary ±; * /;
 * + - ||; comparisons and predicates; NOT; AND; OR), checked through evaluated results so a
 * wrong grouping changes a value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sql_harness.h"

static void precedence(void **state)
{
    (void)state;
    harness h;
    int rc = h_compile(
        &h, "X INTEGER", NULL, NULL,
        "CREATE STREAM R (a INTEGER, b INTEGER, c INTEGER, d VARCHAR(8), e BOOLEAN, f BOOLEAN, "
        "g BOOLEAN, i INTEGER, j BOOLEAN, k BOOLEAN);\n"
        "CREATE PUMP P AS INSERT INTO R SELECT STREAM\n"
        "  2 + 3 * 4,\n"                               /* 14: * binds tighter than + */
        "  10 - 4 - 3,\n"                              /* 3: left-associative */
        "  x / 2 * 3,\n"                               /* (7 / 2) * 3 = 9 */
        "  'a' || 'b' || CAST(x - 1 AS VARCHAR(2)),\n" /* || with + - */
        "  TRUE OR FALSE AND FALSE,\n"                 /* TRUE: AND before OR */
        "  NOT FALSE AND FALSE,\n"                     /* FALSE: NOT before AND */
        "  1 + 2 = 3 AND 2 * 3 = 6 OR 1 = 0,\n"        /* TRUE: arithmetic before comparison */
        "  -x * -2,\n"                                 /* 14: unary minus binds tightest */
        "  NOT x BETWEEN 1 AND 5 OR x IS NULL,\n"      /* TRUE: NOT (x BETWEEN ...) */
        "  FALSE AND FALSE OR TRUE\n"                  /* TRUE */
        "FROM SOURCE_SQL_STREAM_001;");
    if (rc)
        fprintf(stderr, "%s\n", h.d.text);
    assert_int_equal(rc, 0);
    h_push(&h, "10:00:00", "7");
    const char *want[] = {"10:00:00.000|14|3|9|ab6|true|false|true|14|true|true", NULL};
    assert_true(h_expect(&h, "R", want));
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(precedence)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
