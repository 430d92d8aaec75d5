/* Compile-time checks of the SQL dialect: identifier folding and quoting, literals, the
 * validation rules of spec §2.8, and line/column positions in error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sql_harness.h"

/* Compiles over D1 and expects rc; when where != NULL, the message must contain it. */
static void check(const char *code, int rc, const char *where)
{
    harness h;
    int got = h_compile(&h, D1_SPEC, "Companies", "sym VARCHAR(4), name VARCHAR(20)", code);
    if (got != rc || (where && !strstr(h.d.text, where)))
        fprintf(stderr, "code: %s\nrc %d (want %d), message: %s\n", code, got, rc,
                got ? h.d.text : "");
    assert_int_equal(got, rc);
    if (where)
        assert_non_null(strstr(h.d.text, where));
    h_free(&h);
}

#define OUT "CREATE STREAM O (a VARCHAR(4));\n"

static void accepts(void **state)
{
    (void)state;
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol FROM "
              "SOURCE_SQL_STREAM_001;",
          0, NULL);
    /* comments, quoted names, OR REPLACE, DESCRIPTION, column list */
    check("-- a comment\nCREATE OR REPLACE STREAM \"o\" (\"a b\" VARCHAR(4), n INT NOT NULL) "
          "DESCRIPTION 'x';\n/* block */ CREATE OR REPLACE PUMP \"p\" AS INSERT INTO \"o\" "
          "(n, \"a b\") SELECT STREAM 1, 'it''s' FROM \"SOURCE_SQL_STREAM_001\";",
          0, NULL);
    /* every literal kind and operator family */
    check("CREATE STREAM O (b BOOLEAN);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM "
          "(price BETWEEN 1 AND 2 OR price NOT IN (1.5, 1.5E3, -2) OR sector SIMILAR TO "
          "'TECH%' OR sector NOT LIKE 'a\\_%' ESCAPE '\\' OR price IS NULL OR "
          "ROWTIME > TIMESTAMP '2024-01-15 10:00:00' OR CAST(price AS INTEGER) <> 3 OR "
          "CHAR_LENGTH(TRIM(LEADING 'x' FROM sector) || 'y') = 2 OR "
          "FLOOR(ROWTIME TO HOUR) = CEIL(ROWTIME TO DAY) - INTERVAL '1:30' HOUR TO MINUTE OR "
          "COALESCE(NULL, change) = NULLIF(price, 0)) AND TRUE "
          "FROM SOURCE_SQL_STREAM_001;",
          0, NULL);
}

static void rejects(void **state)
{
    (void)state;
    check("CREATE STREAM O (a VARCHAR(4))\nCREATE PUMP", SL_EPARSE, "line 2, column 1");
    check("CREATE STREAM O (year INTEGER);", SL_EPARSE, "'YEAR' is a reserved word");
    check("CREATE STREAM O (a VARCHAR(4));\nCREATE PUMP P AS INSERT INTO O\n  SELECT STREAM "
          "nope FROM SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "line 3, column 17: column 'NOPE' not found");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT ticker_symbol FROM SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "SELECT STREAM");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol FROM "
              "SOURCE_SQL_STREAM_001 GROUP BY ticker_symbol;",
          SL_EINVAL, "monotonic");
    check("CREATE STREAM O (n BIGINT);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM COUNT(*) "
          "FROM SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "GROUP BY");
    check("CREATE STREAM O (n BIGINT);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM "
          "COUNT(DISTINCT ticker_symbol) FROM SOURCE_SQL_STREAM_001 GROUP BY FLOOR(ROWTIME TO "
          "MINUTE);",
          SL_EINVAL, "DISTINCT");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM sector FROM SOURCE_SQL_STREAM_001 "
              "GROUP BY ticker_symbol, FLOOR(ROWTIME TO MINUTE);",
          SL_EINVAL, "not being grouped");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol FROM "
              "SOURCE_SQL_STREAM_001 GROUP BY FLOOR(ROWTIME TO MINUTE), STEP(ROWTIME BY "
              "INTERVAL '1' MINUTE), ticker_symbol;",
          SL_EINVAL, "two ROWTIME-based keys");
    check("CREATE STREAM \"error_stream\" (a INT);", SL_EINVAL, "reserved for the system");
    check(OUT OUT, SL_EINVAL, "defined twice");
    check(OUT "CREATE PUMP P AS INSERT INTO SOURCE_SQL_STREAM_001 SELECT STREAM ticker_symbol "
              "FROM SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "input stream");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM \"sym\" FROM \"Companies\";", SL_EINVAL,
          "reference table");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol, sector FROM "
              "SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "has 2 columns but stream 'O' has 1");
    check("CREATE STREAM O (t TIMESTAMP);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM "
          "ROWTIME + 1 FROM SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "arithmetic");
    check("CREATE STREAM O (t BIGINT);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM "
          "ROWTIME FROM SOURCE_SQL_STREAM_001;",
          SL_EINVAL, "cannot assign TIMESTAMP");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM ticker_symbol FROM "
              "SOURCE_SQL_STREAM_001 WINDOW w AS (RANGE INTERVAL '1' MINUTE FOLLOWING);",
          0, NULL); /* an unused FOLLOWING window is harmless */
    check("CREATE STREAM O (n BIGINT);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM COUNT(*) "
          "OVER (ROWS 0 PRECEDING) FROM SOURCE_SQL_STREAM_001;",
          SL_EPARSE, "positive");
    check("CREATE STREAM O (n BIGINT);\nCREATE PUMP P AS INSERT INTO O SELECT STREAM COUNT(*) "
          "OVER (ORDER BY ROWTIME RANGE INTERVAL '1' MINUTE PRECEDING) FROM "
          "SOURCE_SQL_STREAM_001;",
          SL_EPARSE, "ORDER BY");
    check(OUT "CREATE PUMP P AS INSERT INTO O SELECT STREAM 'x' FROM SOURCE_SQL_STREAM_001 "
              "WHERE ROWTIME > INTERVAL '1' YEAR;",
          SL_EPARSE, "year-month");
    check("CREATE STREAM O (a VARCHAR(4));\nCREATE PUMP P AS INSERT INTO O SELECT STREAM "
          "'unterminated FROM x;",
          SL_EPARSE, "line 2, column 46: unterminated string literal");
}

static void type_text(void **state)
{
    (void)state;
    sl_sql_type t;
    char buf[32];
    assert_int_equal(sl_sql_type_parse("varchar(16)", &t), 0);
    sl_sql_type_format(&t, buf, sizeof(buf));
    assert_string_equal(buf, "VARCHAR(16)");
    assert_int_equal(sl_sql_type_parse("DOUBLE PRECISION", &t), 0);
    assert_int_equal(t.id, SL_SQL_DOUBLE);
    assert_int_equal(sl_sql_type_parse("DECIMAL(10,2)", &t), 0);
    sl_sql_type_format(&t, buf, sizeof(buf));
    assert_string_equal(buf, "DECIMAL(10,2)");
    assert_int_equal(sl_sql_type_parse("VARCHAR", &t), SL_EINVAL);
    assert_int_equal(sl_sql_type_parse("BLOB", &t), SL_EINVAL);
    int64_t ms;
    assert_int_equal(sl_sql_parse_timestamp("1992-02-14 18:35:44.0", 21, &ms), 0);
    sl_sql_format_timestamp(ms, buf, sizeof(buf));
    assert_string_equal(buf, "1992-02-14 18:35:44.000");
    assert_int_equal(sl_sql_parse_timestamp("1992-13-14", 10, &ms), SL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts),
        cmocka_unit_test(rejects),
        cmocka_unit_test(type_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
