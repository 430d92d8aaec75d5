/* Analytics record mapping (spec §1.5: JSON paths, flattening, coercion, CSV) and schema
 * discovery (§1.8: types, VARCHAR sizes, names, CSV delimiters and headers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../../api/analytics/ka.h"

typedef struct got {
    char rows[16][256];
    int n;
    char errs[8][64];
    int n_err;
    const ka_schema *s;
} got;

static void on_row(void *ud, const sl_sql_value *v)
{
    got *g = ud;
    sl_sql_column cols[16];
    sl_sql_relation rel;
    ka_schema_relation(g->s, "x", cols, &rel);
    sl_buf b = SL_BUF_INIT;
    sl_sql_row_json(&b, &rel, v);
    snprintf(g->rows[g->n++], 256, "%s", b.data);
    sl_buf_cleanup(&b);
}

static void on_err(void *ud, const char *name, const char *msg)
{
    got *g = ud;
    (void)msg;
    snprintf(g->errs[g->n_err++], 64, "%s", name);
}

static void schema(const char *json, ka_schema *s)
{
    cJSON *j = cJSON_Parse(json);
    char err[256];
    assert_non_null(j);
    int rc = ka_schema_parse(j, s, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    cJSON_Delete(j);
}

static void map(const ka_schema *s, const char *payload, got *g)
{
    memset(g, 0, sizeof(*g));
    g->s = s;
    ka_map_record(s, payload, strlen(payload), on_row, on_err, g);
}

static void json_mapping(void **state)
{
    (void)state;
    ka_schema s;
    schema("{\"RecordFormat\":{\"RecordFormatType\":\"JSON\",\"MappingParameters\":{"
           "\"JSONMappingParameters\":{\"RecordRowPath\":\"$\"}}},\"RecordColumns\":["
           "{\"Name\":\"T\",\"SqlType\":\"VARCHAR(4)\",\"Mapping\":\"$.t\"},"
           "{\"Name\":\"N\",\"SqlType\":\"INTEGER\",\"Mapping\":\"$.a.n\"},"
           "{\"Name\":\"Tags\",\"SqlType\":\"VARCHAR(32)\",\"Mapping\":\"$.tags[0:]\"},"
           "{\"Name\":\"P\",\"SqlType\":\"DOUBLE\",\"Mapping\":\"$.items[0:].p\"},"
           "{\"Name\":\"B\",\"SqlType\":\"BOOLEAN\",\"Mapping\":\"$.b\"},"
           "{\"Name\":\"TS\",\"SqlType\":\"TIMESTAMP\",\"Mapping\":\"$.ts\"}]}",
           &s);
    got g;
    map(&s,
        "{\"t\":\"AMAZON\",\"a\":{\"n\":7},\"tags\":[1,2],\"items\":[{\"p\":1.5},{\"p\":2}],"
        "\"b\":\"TRUE\",\"ts\":\"2018-05-09T12:50:41.337510\"} {\"t\":\"X\",\"items\":[]}",
        &g);
    assert_int_equal(g.n_err, 0);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.rows[0],
                        "{\"T\":\"AMAZ\",\"N\":7,\"Tags\":\"[1,2]\",\"P\":1.5,\"B\":true,"
                        "\"TS\":\"2018-05-09 12:50:41.337\"}");
    assert_string_equal(g.rows[1],
                        "{\"T\":\"AMAZ\",\"N\":7,\"Tags\":\"[1,2]\",\"P\":2.0,\"B\":true,"
                        "\"TS\":\"2018-05-09 12:50:41.337\"}");
    /* an empty flattened array still gives one row with NULLs */
    assert_string_equal(g.rows[2], "{\"T\":\"X\",\"N\":null,\"Tags\":null,\"P\":null,\"B\":null,"
                                   "\"TS\":null}");
    /* coercion errors and parse errors */
    map(&s, "{\"t\":\"A\",\"a\":{\"n\":123.4}}", &g);
    assert_int_equal(g.n, 0);
    assert_string_equal(g.errs[0], "InputCoercionError");
    map(&s, "{\"t\":\"A\",\"a\":{\"n\":99999999999}}", &g);
    assert_string_equal(g.errs[0], "InputCoercionError");
    map(&s, "{\"t\":\"BAD\"", &g);
    assert_string_equal(g.errs[0], "InputParseError");
    map(&s, "{\"t\":\"A\",\"ts\":\"yesterday\"}", &g);
    assert_string_equal(g.errs[0], "InputCoercionError");
    ka_schema_free(&s);
    /* two flattened arrays, or a nested one, are refused */
    cJSON *j =
        cJSON_Parse("{\"RecordFormat\":{\"RecordFormatType\":\"JSON\"},\"RecordColumns\":["
                    "{\"Name\":\"A\",\"SqlType\":\"INT\",\"Mapping\":\"$.a[0:].b[0:].c\"}]}");
    char err[256];
    assert_int_equal(ka_schema_parse(j, &s, err, sizeof(err)), SL_EINVAL);
    cJSON_Delete(j);
}

static void csv_mapping(void **state)
{
    (void)state;
    ka_schema s;
    schema("{\"RecordFormat\":{\"RecordFormatType\":\"CSV\",\"MappingParameters\":{"
           "\"CSVMappingParameters\":{\"RecordRowDelimiter\":\"\\n\",\"RecordColumnDelimiter\":"
           "\"|\"}}},\"RecordColumns\":[{\"Name\":\"sym\",\"SqlType\":\"VARCHAR(4)\"},"
           "{\"Name\":\"n\",\"SqlType\":\"BIGINT\"},{\"Name\":\"x\",\"SqlType\":\"REAL\"}]}",
           &s);
    got g;
    map(&s, "AMZN|3|1.5\nTGT|4\nXOM|x|1\n", &g);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.rows[0], "{\"sym\":\"AMZN\",\"n\":3,\"x\":1.5}");
    assert_string_equal(g.rows[1], "{\"sym\":\"TGT\",\"n\":4,\"x\":null}");
    assert_int_equal(g.n_err, 1);
    ka_schema_free(&s);
}

static cJSON *discover(const char *const *p, size_t n)
{
    size_t lens[8];
    for (size_t k = 0; k < n; k++)
        lens[k] = strlen(p[k]);
    cJSON *out = NULL;
    assert_int_equal(ka_discover(p, lens, n, &out), 0);
    return out;
}

static void cols_are(cJSON *out, const char *expected)
{
    char buf[1024] = "";
    const cJSON *c;
    cJSON_ArrayForEach(
        c, cJSON_GetObjectItem(cJSON_GetObjectItem(out, "InputSchema"), "RecordColumns"))
    {
        const cJSON *m = cJSON_GetObjectItem(c, "Mapping");
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s %s%s%s;",
                 cJSON_GetObjectItem(c, "Name")->valuestring,
                 cJSON_GetObjectItem(c, "SqlType")->valuestring, m ? " " : "",
                 m ? m->valuestring : "");
    }
    if (strcmp(buf, expected))
        fprintf(stderr, "got  %s\nwant %s\n", buf, expected);
    assert_string_equal(buf, expected);
}

static void discovery(void **state)
{
    (void)state;
    const char *j[] = {"{\"a\":1,\"b\":\"hello world\",\"c\":true,\"d\":null,\"e\":100,"
                       "\"p\":{\"x\":1,\"a\":2},\"arr\":[1,2],\"f\":1.25}",
                       "{\"a\":300,\"e\":60,\"f\":3,\"g\":\"2024-01-15T10:00:00\","
                       "\"h\":1.23456789}"};
    cJSON *out = discover(j, 2);
    cols_are(out, "a SMALLINT $.a;b VARCHAR(16) $.b;c BOOLEAN $.c;d VARCHAR(4) $.d;"
                  "e TINYINT $.e;x TINYINT $.p.x;p_a TINYINT $.p.a;arr VARCHAR(8) $.arr[0:];"
                  "f REAL $.f;g VARCHAR(32) $.g;h DOUBLE $.h;");
    cJSON_Delete(out);
    const char *names[] = {"{\"USER\":1,\"USER@DOMAIN\":2,\"@@\":3,\"ok_1\":4}"};
    out = discover(names, 1);
    cols_are(out, "COL_USER TINYINT $.USER;COL_USERDOMAIN TINYINT $.USER@DOMAIN;"
                  "COL_2 TINYINT $.@@;ok_1 TINYINT $.ok_1;");
    cJSON_Delete(out);
    const char *csv[] = {"a;b\r\n1;x\r\n", "2;yy\r\n"};
    out = discover(csv, 2);
    cols_are(out, "a INTEGER;b VARCHAR(4);"); /* text over numbers: a header */
    const cJSON *cp = cJSON_GetObjectItem(
        cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetObjectItem(out, "InputSchema"), "RecordFormat"),
            "MappingParameters"),
        "CSVMappingParameters");
    assert_string_equal(cJSON_GetObjectItem(cp, "RecordColumnDelimiter")->valuestring, ";");
    assert_string_equal(cJSON_GetObjectItem(cp, "RecordRowDelimiter")->valuestring, "\r\n");
    cJSON_Delete(out);
    const char *hdr[] = {"sym\tqty\nAMZN\t3\nTGT\t3000000000\n"};
    out = discover(hdr, 1);
    cols_are(out, "sym VARCHAR(4);qty BIGINT;");
    cJSON_Delete(out);
    const char *text[] = {"just some words"};
    out = discover(text, 1);
    cols_are(out, "COL_0 VARCHAR(16);");
    cJSON_Delete(out);
    size_t zero = 0;
    cJSON *none = NULL;
    assert_int_equal(ka_discover(NULL, &zero, 0, &none), SL_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_mapping),
        cmocka_unit_test(csv_mapping),
        cmocka_unit_test(discovery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
