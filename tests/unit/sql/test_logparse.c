/* The log-parsing functions through the SQL engine: REGEX_LOG_PARSE, FAST_REGEX_LOG_PARSER,
 * FIXED_COLUMN_LOG_PARSE, VARIABLE_COLUMN_LOG_PARSE, SYS_LOG_PARSE and W3C_LOG_PARSE read as
 * t.r.COLUMN1 from a sub-query (and inserted directly), typed column lists, inputs that do not
 * match (NULL fields), and the compile-time refusals (pattern safety, misuse). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sql_harness.h"

#define LOG_SPEC "LOG VARCHAR(512)"

static void run(const char *code, const char *const *in_times, const char *const *inputs, size_t n,
                const char *const *want)
{
    harness h;
    int rc = h_compile(&h, LOG_SPEC, NULL, NULL, code);
    if (rc)
        fprintf(stderr, "compile: %s\n", h.d.text);
    assert_int_equal(rc, 0);
    for (size_t k = 0; k < n; k++)
        h_push(&h, in_times[k], inputs[k]);
    assert_true(h_expect(&h, "LOGS_OUT", want));
    h_free(&h);
}

static void regex_log_parse(void **state)
{
    (void)state;
    const char *t[] = {"10:00:01", "10:00:02", "10:00:03"};
    const char *in[] = {"alpha 42 at home", "beta 7 office", "no digits here"};
    const char *want[] = {"10:00:01.000|alpha|42|home", "10:00:02.000|beta|7|office",
                          "10:00:03.000|NULL|NULL|NULL", NULL};
    run("CREATE STREAM LOGS_OUT (c1 VARCHAR(16), c2 VARCHAR(16), c3 VARCHAR(64));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.COLUMN1, t.r.COLUMN2, "
        "t.r.COLUMN3\n"
        "FROM (SELECT STREAM REGEX_LOG_PARSE(log, '^(\\w+) (\\d+) (?:at )?(.*)$') AS r\n"
        "      FROM SOURCE_SQL_STREAM_001) AS t;",
        t, in, 3, want);
    /* the fast variant, unqualified r.COLUMN1, and a bracket class with \d inside */
    const char *want2[] = {"10:00:01.000|42|alpha", "10:00:02.000|7|beta", "10:00:03.000|NULL|NULL",
                           NULL};
    run("CREATE STREAM LOGS_OUT (n VARCHAR(8), w VARCHAR(16));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM r.COLUMN2, r.COLUMN1\n"
        "FROM (SELECT STREAM FAST_REGEX_LOG_PARSER(log, '([a-z]+) ([\\d]+)') AS r\n"
        "      FROM SOURCE_SQL_STREAM_001) AS q;",
        t, in, 3, want2);
}

static void regex_typed_columns(void **state)
{
    (void)state;
    const char *t[] = {"10:00:01", "10:00:02"};
    const char *in[] = {"alpha 42", "beta x"};
    /* a typed field feeds arithmetic; the second row does not match: NULLs */
    const char *want[] = {"10:00:01.000|alpha|43", "10:00:02.000|NULL|NULL", NULL};
    run("CREATE STREAM LOGS_OUT (w VARCHAR(8), n INTEGER);\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.WORD, t.r.N + 1\n"
        "FROM (SELECT STREAM REGEX_LOG_PARSE(log, '([a-z]+) ([0-9]+)', 'WORD VARCHAR(8), N "
        "INTEGER') AS r FROM SOURCE_SQL_STREAM_001) AS t;",
        t, in, 2, want);
}

static void fixed_column(void **state)
{
    (void)state;
    const char *t[] = {"10:00:01", "10:00:02"};
    const char *in[] = {"AB   123hello", "CD"};
    const char *want[] = {"10:00:01.000|AB|123|hello", "10:00:02.000|CD|NULL|NULL", NULL};
    run("CREATE STREAM LOGS_OUT (cmd VARCHAR(2), amount INTEGER, note VARCHAR(10));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.CMD, t.r.AMOUNT, t.r.\"note\"\n"
        "FROM (SELECT STREAM FIXED_COLUMN_LOG_PARSE(log, 'cmd TYPE VARCHAR(2) START 0 FOR 2, "
        "Amount TYPE INTEGER START 2 FOR 6, \"note\" TYPE VARCHAR(10) START 8') AS r\n"
        "      FROM SOURCE_SQL_STREAM_001) AS t;",
        t, in, 2, want);
}

static void variable_column(void **state)
{
    (void)state;
    const char *t[] = {"10:00:01", "10:00:02"};
    const char *in[] = {"a;b\\;c;d;e", "x"};
    const char *want[] = {"10:00:01.000|a|b;c|d", "10:00:02.000|x|NULL|NULL", NULL};
    run("CREATE STREAM LOGS_OUT (a VARCHAR(4), b VARCHAR(4), c VARCHAR(4));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.COLUMN1, t.r.COLUMN2, "
        "t.r.COLUMN3\n"
        "FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE(log, 3, ';', '\\') AS r\n"
        "      FROM SOURCE_SQL_STREAM_001) AS t;",
        t, in, 2, want);
    const char *in2[] = {"x,7", "y,oops"};
    harness h;
    assert_int_equal(
        h_compile(&h, LOG_SPEC, NULL, NULL,
                  "CREATE STREAM LOGS_OUT (a VARCHAR(4), b INTEGER);\n"
                  "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.A, t.r.B\n"
                  "FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE(log, 'A VARCHAR(4), B INTEGER', "
                  "',') AS r FROM SOURCE_SQL_STREAM_001) AS t;"),
        0);
    h_push(&h, t[0], in2[0]);
    h_push(&h, t[1], in2[1]); /* B does not convert: an error_stream row, not an output row */
    const char *want2[] = {"10:00:01.000|x|7", NULL};
    assert_true(h_expect(&h, "LOGS_OUT", want2));
    int errors = 0;
    for (size_t k = 0; k < h.n_out; k++)
        errors += !strncmp(h.out[k], "error_stream@10:00:02.000", 25);
    assert_int_equal(errors, 1);
    h_free(&h);
}

static void sys_log(void **state)
{
    (void)state;
    const char *t[] = {"10:00:06", "10:00:07", "10:00:08"};
    const char *in[] = {"<34>Jan 15 10:00:05 myhost sshd[123]: Failed password for root",
                        "Dec 31 23:59:59 h2 kernel: boot", "garbage"};
    const char *want[] = {
        "10:00:06.000|2024-01-15 10:00:05.000|myhost|sshd[123]|Failed password for root",
        "10:00:07.000|2023-12-31 23:59:59.000|h2|kernel|boot", /* no year: the last December */
        "10:00:08.000|NULL|NULL|NULL|NULL", NULL};
    run("CREATE STREAM LOGS_OUT (ts TIMESTAMP, host VARCHAR(16), tag VARCHAR(16), msg "
        "VARCHAR(64));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM s.r.COLUMN1, s.r.COLUMN2, "
        "s.r.COLUMN3, "
        "s.r.COLUMN4\n"
        "FROM (SELECT STREAM SYS_LOG_PARSE(log) AS r FROM SOURCE_SQL_STREAM_001) AS s;",
        t, in, 3, want);
}

static void w3c_log(void **state)
{
    (void)state;
    const char *t[] = {"10:00:01", "10:00:02"};
    const char *in[] = {"199.72.81.55 - - [01/Jul/1995:00:00:01 -0400] \"GET /history/apollo/ "
                        "HTTP/1.0\" 200 6245",
                        "not a log line"};
    const char *want[] = {"10:00:01.000|199.72.81.55|-|-|[01/Jul/1995:00:00:01 -0400]|GET "
                          "/history/apollo/ HTTP/1.0|200|6245",
                          "10:00:02.000|NULL|NULL|NULL|NULL|NULL|NULL|NULL", NULL};
    /* the row inserted directly: one target column per field */
    run("CREATE STREAM LOGS_OUT (host VARCHAR(16), ident VARCHAR(8), usr VARCHAR(8), ts "
        "VARCHAR(32), "
        "req VARCHAR(64), status VARCHAR(3), bytes VARCHAR(8));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM W3C_LOG_PARSE(log, 'COMMON') "
        "FROM SOURCE_SQL_STREAM_001;",
        t, in, 2, want);
    const char *in2[] = {"1.2.3.4 - bob [10/Oct/2000:13:55:36 -0700] \"GET /a \\\"b\\\" HTTP/1.0\" "
                         "404 0 \"http://x/\" \"curl/8.0\"",
                         "h 200"};
    const char *want2[] = {"10:00:01.000|bob|GET /a \\\"b\\\" HTTP/1.0|404|curl/8.0",
                           "10:00:02.000|NULL|NULL|NULL|NULL", NULL};
    run("CREATE STREAM LOGS_OUT (usr VARCHAR(8), req VARCHAR(64), status INTEGER, agent "
        "VARCHAR(16));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM w.r.COLUMN3, w.r.COLUMN5, "
        "CAST(w.r.COLUMN6 AS INTEGER), w.r.COLUMN9\n"
        "FROM (SELECT STREAM W3C_LOG_PARSE(log, 'COMBINED') AS r FROM SOURCE_SQL_STREAM_001) "
        "AS w;",
        t, in2, 2, want2);
    /* a custom Apache format */
    const char *want3[] = {"10:00:01.000|NULL|NULL", "10:00:02.000|h|200", NULL};
    run("CREATE STREAM LOGS_OUT (host VARCHAR(16), status VARCHAR(3));\n"
        "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM W3C_LOG_PARSE(log, '%h %>s') "
        "FROM SOURCE_SQL_STREAM_001;",
        t, (const char *const[]){"nospace", "h 200"}, 2, want3);
}

static void refusals(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"REGEX_LOG_PARSE(log, 'a{1,200}(b)')", "too complex"},
        {"REGEX_LOG_PARSE(log, '(a**)')", "too complex"},
        {"REGEX_LOG_PARSE(log, 'abc')", "no capturing group"},
        {"REGEX_LOG_PARSE(log, log)", "string literal"},
        {"REGEX_LOG_PARSE(log, '(a)', 'X INTEGER, Y INTEGER')", "capturing groups"},
        {"REGEX_LOG_PARSE(log, '(?=a)(b)')", "not supported"},
        {"FIXED_COLUMN_LOG_PARSE(log, 'A VARCHAR(2)')", "START"},
        {"FIXED_COLUMN_LOG_PARSE(log, 'A NOSUCHTYPE START 0')", "unknown type"},
        {"VARIABLE_COLUMN_LOG_PARSE(log, 0, ',')", "column count"},
        {"W3C_LOG_PARSE(log, 'no directives')", "directives"},
        {"W3C_LOG_PARSE(log, '%h%u')", "separator"},
        {"SYS_LOG_PARSE(log, 'x')", "one argument"},
    };
    harness h;
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        char code[512];
        snprintf(
            code, sizeof(code),
            "CREATE STREAM LOGS_OUT (a VARCHAR(4));\n"
            "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.COLUMN1 FROM (SELECT STREAM "
            "%s AS r FROM SOURCE_SQL_STREAM_001) AS t;",
            bad[k][0]);
        assert_int_equal(h_compile(&h, LOG_SPEC, NULL, NULL, code), SL_EINVAL);
        if (!strstr(h.d.text, bad[k][1]))
            fail_msg("%s: %s", bad[k][0], h.d.text);
        h_free(&h);
    }
    /* a row is not a scalar */
    assert_int_equal(h_compile(&h, LOG_SPEC, NULL, NULL,
                               "CREATE STREAM LOGS_OUT (a VARCHAR(4));\n"
                               "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM log FROM "
                               "SOURCE_SQL_STREAM_001 WHERE SYS_LOG_PARSE(log) IS NULL;"),
                     SL_EINVAL);
    assert_non_null(strstr(h.d.text, "returns a row"));
    h_free(&h);
    /* an unknown field */
    assert_int_equal(
        h_compile(&h, LOG_SPEC, NULL, NULL,
                  "CREATE STREAM LOGS_OUT (a VARCHAR(4));\n"
                  "CREATE PUMP P AS INSERT INTO LOGS_OUT SELECT STREAM t.r.COLUMN9 FROM "
                  "(SELECT STREAM SYS_LOG_PARSE(log) AS r FROM "
                  "SOURCE_SQL_STREAM_001) AS t;"),
        SL_EINVAL);
    h_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regex_log_parse), cmocka_unit_test(regex_typed_columns),
        cmocka_unit_test(fixed_column),    cmocka_unit_test(variable_column),
        cmocka_unit_test(sys_log),         cmocka_unit_test(w3c_log),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
