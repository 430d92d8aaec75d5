/* Record mapping of Analytics inputs and reference data: JSON and CSV payloads to typed rows
 * (spec §1.5).
 *
 * JSON: a payload may hold several concatenated documents; each is mapped. Mappings are
 * absolute JSONPath of the subset "$", "$.a.b", "$.arr[0:]" (the whole array as JSON text) and
 * "$.arr[0:].f" (one row per element, other columns repeated; an empty array still gives one
 * row of NULLs for the element columns). At most one flattened array per schema. Values are
 * coerced to the column types by the table of §1.5 (strings truncated silently, numbers that
 * do not fit an exact type are errors, ...). A document that does not parse is an
 * InputParseError; a value that does not convert an InputCoercionError; both drop the row.
 *
 * CSV: the payload is split by the row delimiter, each row by the column delimiter; field i
 * goes to column i, missing fields are NULL; fields follow the "string" rules. No quoting. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ka.h"

static int type_ok(const sl_sql_type *t)
{
    return t->id != SL_SQL_NULLTYPE && t->id != SL_SQL_INTERVAL;
}

void ka_schema_free(ka_schema *s)
{
    for (size_t k = 0; k < s->n_cols; k++) {
        free(s->cols[k].mapping);
        for (size_t j = 0; j < s->cols[k].n_path; j++)
            free(s->cols[k].path[j]);
        free(s->cols[k].path);
    }
    free(s->cols);
    memset(s, 0, sizeof(*s));
}

/* "$.a.b[0:].c" -> ["a", "b", "[0:]", "c"]. */
static int parse_path(ka_col *c, char *err, size_t cap)
{
    const char *m = c->mapping;
    c->flatten_at = -1;
    if (m[0] != '$')
        goto bad;
    m++;
    while (*m) {
        if (*m == '.') {
            m++;
            size_t n = strcspn(m, ".[");
            if (!n)
                goto bad;
            char **np = realloc(c->path, (c->n_path + 1) * sizeof(char *));
            if (!np)
                return SL_ENOMEM;
            c->path = np;
            c->path[c->n_path] = strndup(m, n);
            if (!c->path[c->n_path])
                return SL_ENOMEM;
            c->n_path++;
            m += n;
        } else if (!strncmp(m, "[0:]", 4)) {
            if (c->flatten_at >= 0) {
                snprintf(err, cap, "Mapping %s flattens more than one array level", c->mapping);
                return SL_EINVAL;
            }
            char **np = realloc(c->path, (c->n_path + 1) * sizeof(char *));
            if (!np)
                return SL_ENOMEM;
            c->path = np;
            c->path[c->n_path] = strdup("[0:]");
            if (!c->path[c->n_path])
                return SL_ENOMEM;
            c->flatten_at = (int)c->n_path;
            c->n_path++;
            m += 4;
        } else {
            goto bad;
        }
    }
    if (c->flatten_at >= 0 && c->flatten_at == (int)c->n_path - 1) {
        c->whole_array = 1;
        c->flatten_at = -1;
    }
    return 0;
bad:
    snprintf(err, cap, "Invalid mapping %s for column %s", c->mapping, c->name);
    return SL_EINVAL;
}

int ka_schema_parse(const cJSON *schema, ka_schema *out, char *err, size_t cap)
{
    memset(out, 0, sizeof(*out));
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(schema, "RecordFormat");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(fmt, "RecordFormatType");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(schema, "RecordColumns");
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(schema, "RecordEncoding");
    int rc = SL_EINVAL;
    if (!cJSON_IsString(type) || !cJSON_IsArray(cols)) {
        snprintf(err, cap, "RecordFormat and RecordColumns are required");
        return SL_EINVAL;
    }
    if (cJSON_IsString(enc) && strcmp(enc->valuestring, "UTF-8")) {
        snprintf(err, cap, "RecordEncoding must be UTF-8");
        return SL_EINVAL;
    }
    out->json = !strcmp(type->valuestring, "JSON");
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(fmt, "MappingParameters");
    if (!out->json) {
        const cJSON *csv = cJSON_GetObjectItemCaseSensitive(mp, "CSVMappingParameters");
        const cJSON *rd = cJSON_GetObjectItemCaseSensitive(csv, "RecordRowDelimiter");
        const cJSON *cd = cJSON_GetObjectItemCaseSensitive(csv, "RecordColumnDelimiter");
        snprintf(out->row_delim, sizeof(out->row_delim), "%s",
                 cJSON_IsString(rd) && rd->valuestring[0] ? rd->valuestring : "\n");
        snprintf(out->col_delim, sizeof(out->col_delim), "%s",
                 cJSON_IsString(cd) && cd->valuestring[0] ? cd->valuestring : ",");
    }
    int n = cJSON_GetArraySize(cols);
    if (n < 1 || n > KA_MAX_COLS) {
        snprintf(err, cap, "RecordColumns must have 1-1000 columns");
        return SL_EINVAL;
    }
    out->cols = calloc((size_t)n, sizeof(ka_col));
    if (!out->cols)
        return SL_ENOMEM;
    out->n_cols = (size_t)n;
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cols)
    {
        ka_col *kc = &out->cols[i++];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "Name");
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(c, "SqlType");
        const cJSON *ma = cJSON_GetObjectItemCaseSensitive(c, "Mapping");
        kc->flatten_at = -1;
        if (!cJSON_IsString(nm) || !cJSON_IsString(st) || strlen(nm->valuestring) > 128) {
            snprintf(err, cap, "Each RecordColumn needs a Name and a SqlType");
            goto fail;
        }
        snprintf(kc->name, sizeof(kc->name), "%s", nm->valuestring);
        for (int j = 0; j < i - 1; j++)
            if (!strcmp(out->cols[j].name, kc->name)) {
                snprintf(err, cap, "Duplicate column name %s", kc->name);
                goto fail;
            }
        if (sl_sql_type_parse(st->valuestring, &kc->type) || !type_ok(&kc->type)) {
            snprintf(err, cap, "Invalid SqlType %s for column %s", st->valuestring, kc->name);
            goto fail;
        }
        if (out->json) {
            if (!cJSON_IsString(ma)) {
                snprintf(err, cap, "Column %s needs a Mapping for JSON records", kc->name);
                goto fail;
            }
            kc->mapping = strdup(ma->valuestring);
            if (!kc->mapping) {
                rc = SL_ENOMEM;
                goto fail;
            }
            if ((rc = parse_path(kc, err, cap)))
                goto fail;
        }
    }
    /* at most one flattened array, shared by the columns that use it */
    const ka_col *fl = NULL;
    for (size_t k = 0; k < out->n_cols; k++) {
        const ka_col *kc = &out->cols[k];
        if (kc->flatten_at < 0)
            continue;
        if (!fl) {
            fl = kc;
            continue;
        }
        int same = fl->flatten_at == kc->flatten_at;
        for (int j = 0; same && j < kc->flatten_at; j++)
            same = !strcmp(fl->path[j], kc->path[j]);
        if (!same) {
            snprintf(err, cap, "At most one array can be flattened per schema");
            rc = SL_EINVAL;
            goto fail;
        }
    }
    return 0;
fail:
    ka_schema_free(out);
    return rc;
}

void ka_schema_relation(const ka_schema *s, const char *name, sl_sql_column *cols,
                        sl_sql_relation *out)
{
    for (size_t k = 0; k < s->n_cols; k++) {
        cols[k].name = s->cols[k].name;
        cols[k].type = s->cols[k].type;
    }
    out->name = name;
    out->cols = cols;
    out->n_cols = s->n_cols;
}

/* ---- coercion ---------------------------------------------------------------------------- */

typedef struct mapctx {
    const ka_schema *s;
    sl_sql_value *vals;
    sl_buf strings; /* backing store for texts made here (JSON text of arrays, numbers) */
    char err[256];
    const char *err_name;
} mapctx;

static int coerce_string(mapctx *mc, const ka_col *c, const char *s, size_t n, sl_sql_value *v)
{
    const sl_sql_type *t = &c->type;
    memset(v, 0, sizeof(*v));
    v->type = t->id;
    char buf[64];
    char *end;
    switch (t->id) {
    case SL_SQL_CHAR:
    case SL_SQL_VARCHAR:
        v->u.s = s;
        v->len = (uint32_t)(t->len && n > t->len ? t->len : n);
        return 0;
    case SL_SQL_BOOLEAN:
        v->u.i = n == 4 && !strncasecmp(s, "true", 4);
        return 0;
    case SL_SQL_TINYINT:
    case SL_SQL_SMALLINT:
    case SL_SQL_INTEGER:
    case SL_SQL_BIGINT: {
        if (n == 0 || n >= sizeof(buf))
            goto bad;
        memcpy(buf, s, n);
        buf[n] = 0;
        errno = 0;
        long long x = strtoll(buf, &end, 10);
        if (*end || errno)
            goto bad;
        int64_t lo = t->id == SL_SQL_TINYINT    ? INT8_MIN
                     : t->id == SL_SQL_SMALLINT ? INT16_MIN
                     : t->id == SL_SQL_INTEGER  ? INT32_MIN
                                                : INT64_MIN;
        int64_t hi = t->id == SL_SQL_TINYINT    ? INT8_MAX
                     : t->id == SL_SQL_SMALLINT ? INT16_MAX
                     : t->id == SL_SQL_INTEGER  ? INT32_MAX
                                                : INT64_MAX;
        if (x < lo || x > hi)
            goto bad;
        v->u.i = x;
        return 0;
    }
    case SL_SQL_REAL:
    case SL_SQL_DOUBLE:
    case SL_SQL_DECIMAL:
        if (n == 0 || n >= sizeof(buf))
            goto bad;
        memcpy(buf, s, n);
        buf[n] = 0;
        v->u.d = strtod(buf, &end);
        if (*end)
            goto bad;
        if (t->id == SL_SQL_REAL)
            v->u.d = (double)(float)v->u.d;
        return 0;
    case SL_SQL_DATE:
    case SL_SQL_TIMESTAMP:
        if (sl_sql_parse_timestamp(s, n, &v->u.i))
            goto bad;
        if (t->id == SL_SQL_DATE)
            v->u.i -= ((v->u.i % 86400000) + 86400000) % 86400000;
        return 0;
    case SL_SQL_TIME: {
        unsigned h, mi, se = 0, f = 0;
        if (n == 0 || n >= sizeof(buf))
            goto bad;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (sscanf(buf, "%u:%u:%u.%3u", &h, &mi, &se, &f) < 2 || h > 23 || mi > 59 || se > 59)
            goto bad;
        v->u.i = ((int64_t)h * 3600 + mi * 60 + se) * 1000 + f;
        return 0;
    }
    case SL_SQL_BINARY:
    case SL_SQL_VARBINARY: {
        /* X'3F67' */
        if (n < 3 || (s[0] != 'X' && s[0] != 'x') || s[1] != '\'' || s[n - 1] != '\'' ||
            (n - 3) % 2)
            goto bad;
        size_t bl = (n - 3) / 2;
        size_t at = mc->strings.len;
        for (size_t k = 0; k < bl; k++) {
            unsigned x;
            if (!isxdigit((unsigned char)s[2 + 2 * k]) || !isxdigit((unsigned char)s[3 + 2 * k]))
                goto bad;
            sscanf(s + 2 + 2 * k, "%2x", &x);
            sl_buf_append_byte(&mc->strings, (uint8_t)x);
        }
        v->u.i = (int64_t)at; /* fixed up to a pointer when the row is complete */
        v->len = (uint32_t)bl;
        v->is_null = 2; /* marker: offset into strings */
        return 0;
    }
    default:
        goto bad;
    }
bad:
    snprintf(mc->err, sizeof(mc->err), "cannot convert '%.*s' to %s for column %s",
             (int)(n > 64 ? 64 : n), s, sl_sql_type_name(t->id), c->name);
    mc->err_name = "InputCoercionError";
    return -1;
}

/* Keeps text made during mapping (arrays as JSON, numbers as text) in mc->strings; v refers to
 * it by offset until the row is complete. */
static void stash(mapctx *mc, const char *s, size_t n, sl_sql_value *v)
{
    size_t at = mc->strings.len;
    sl_buf_append(&mc->strings, s, n);
    v->u.i = (int64_t)at;
    v->is_null = 2;
}

static int coerce_json(mapctx *mc, const ka_col *c, const cJSON *j, sl_sql_value *v)
{
    const sl_sql_type *t = &c->type;
    memset(v, 0, sizeof(*v));
    v->type = t->id;
    if (!j || cJSON_IsNull(j)) {
        v->is_null = 1;
        return 0;
    }
    int num = sl_sql_type_is_numeric(t->id);
    if (cJSON_IsBool(j)) {
        int b = cJSON_IsTrue(j);
        if (num) {
            if (t->id == SL_SQL_REAL || t->id == SL_SQL_DOUBLE || t->id == SL_SQL_DECIMAL)
                v->u.d = b;
            else
                v->u.i = b;
            return 0;
        }
        if (t->id == SL_SQL_BOOLEAN) {
            v->u.i = b;
            return 0;
        }
        if (sl_sql_type_is_string(t->id))
            return coerce_string(mc, c, b ? "true" : "false", b ? 4 : 5, v);
        if (t->id == SL_SQL_BINARY || t->id == SL_SQL_VARBINARY) {
            char one = (char)(b & 1);
            stash(mc, &one, 1, v);
            v->len = 1;
            return 0;
        }
        goto bad;
    }
    if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (num) {
            if (t->id == SL_SQL_REAL || t->id == SL_SQL_DOUBLE || t->id == SL_SQL_DECIMAL) {
                v->u.d = t->id == SL_SQL_REAL ? (double)(float)d : d;
                return 0;
            }
            if (d != floor(d))
                goto bad;
            char buf[40];
            snprintf(buf, sizeof(buf), "%.0f", d);
            return coerce_string(mc, c, buf, strlen(buf), v);
        }
        if (t->id == SL_SQL_BOOLEAN) {
            v->u.i = d != 0;
            return 0;
        }
        if (sl_sql_type_is_string(t->id)) {
            /* its text as written */
            char *txt = cJSON_PrintUnformatted(j);
            if (!txt)
                goto bad;
            size_t n = strlen(txt);
            stash(mc, txt, t->len && n > t->len ? t->len : n, v);
            v->len = (uint32_t)(t->len && n > t->len ? t->len : n);
            free(txt);
            return 0;
        }
        goto bad;
    }
    if (cJSON_IsString(j))
        return coerce_string(mc, c, j->valuestring, strlen(j->valuestring), v);
    /* array or object */
    if (sl_sql_type_is_string(t->id)) {
        char *txt = cJSON_PrintUnformatted(j);
        if (!txt)
            goto bad;
        size_t n = strlen(txt);
        size_t keep = t->len && n > t->len ? t->len : n;
        stash(mc, txt, keep, v);
        v->len = (uint32_t)keep;
        free(txt);
        return 0;
    }
bad:
    snprintf(mc->err, sizeof(mc->err), "cannot convert the JSON value of column %s to %s", c->name,
             sl_sql_type_name(t->id));
    mc->err_name = "InputCoercionError";
    return -1;
}

static const cJSON *walk(const cJSON *j, char **path, size_t from, size_t to)
{
    for (size_t k = from; k < to && j; k++)
        j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, path[k]) : NULL;
    return j;
}

static void fixup(mapctx *mc, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (mc->vals[k].is_null == 2) {
            mc->vals[k].is_null = 0;
            mc->vals[k].u.s = mc->strings.data + mc->vals[k].u.i;
        }
}

static size_t map_doc(mapctx *mc, const cJSON *doc, ka_row_fn row, ka_err_fn err, void *ud)
{
    const ka_schema *s = mc->s;
    /* the flattened array, if any */
    const ka_col *fl = NULL;
    for (size_t k = 0; k < s->n_cols && !fl; k++)
        if (s->cols[k].flatten_at >= 0)
            fl = &s->cols[k];
    const cJSON *arr = fl ? walk(doc, fl->path, 0, (size_t)fl->flatten_at) : NULL;
    int n_rows = 1;
    if (fl && cJSON_IsArray(arr) && cJSON_GetArraySize(arr) > 0)
        n_rows = cJSON_GetArraySize(arr);
    size_t produced = 0;
    for (int r = 0; r < n_rows; r++) {
        sl_buf_reset(&mc->strings);
        const cJSON *elem = fl && cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, r) : NULL;
        int ok = 1;
        for (size_t k = 0; k < s->n_cols && ok; k++) {
            const ka_col *c = &s->cols[k];
            const cJSON *j;
            if (c->flatten_at >= 0)
                j = elem ? walk(elem, c->path, (size_t)c->flatten_at + 1, c->n_path) : NULL;
            else if (c->whole_array)
                j = walk(doc, c->path, 0, c->n_path - 1);
            else
                j = walk(doc, c->path, 0, c->n_path);
            if (coerce_json(mc, c, j, &mc->vals[k]))
                ok = 0;
        }
        if (mc->strings.oom)
            ok = 0;
        if (!ok) {
            err(ud, mc->err_name ? mc->err_name : "InputCoercionError", mc->err);
            return produced;
        }
        fixup(mc, s->n_cols);
        row(ud, mc->vals);
        produced++;
    }
    return produced;
}

static size_t map_csv_row(mapctx *mc, const char *p, size_t n, ka_row_fn row, ka_err_fn err,
                          void *ud)
{
    const ka_schema *s = mc->s;
    size_t dl = strlen(s->col_delim);
    sl_buf_reset(&mc->strings);
    size_t at = 0;
    for (size_t k = 0; k < s->n_cols; k++) {
        if (at > n) {
            memset(&mc->vals[k], 0, sizeof(mc->vals[k]));
            mc->vals[k].type = s->cols[k].type.id;
            mc->vals[k].is_null = 1;
            continue;
        }
        const char *f = p + at;
        size_t fl = 0;
        while (at + fl < n && !(n - at - fl >= dl && !memcmp(f + fl, s->col_delim, dl)))
            fl++;
        if (fl == 0 && !sl_sql_type_is_string(s->cols[k].type.id)) {
            memset(&mc->vals[k], 0, sizeof(mc->vals[k]));
            mc->vals[k].type = s->cols[k].type.id;
            mc->vals[k].is_null = 1;
        } else if (coerce_string(mc, &s->cols[k], f, fl, &mc->vals[k])) {
            err(ud, "InputCoercionError", mc->err);
            return 0;
        }
        at += fl + dl;
    }
    fixup(mc, s->n_cols);
    row(ud, mc->vals);
    return 1;
}

size_t ka_map_record(const ka_schema *s, const char *data, size_t len, ka_row_fn row, ka_err_fn err,
                     void *ud)
{
    mapctx mc = {.s = s};
    size_t produced = 0;
    mc.vals = calloc(s->n_cols + 1, sizeof(sl_sql_value));
    if (!mc.vals) {
        err(ud, "InputParseError", "out of memory");
        return 0;
    }
    if (s->json) {
        const char *p = data, *end = data + len;
        while (p < end) {
            while (p < end && isspace((unsigned char)*p))
                p++;
            if (p >= end)
                break;
            const char *stop = NULL;
            cJSON *doc = cJSON_ParseWithLengthOpts(p, (size_t)(end - p), &stop, 0);
            if (!doc || !stop || stop <= p) {
                cJSON_Delete(doc);
                err(ud, "InputParseError", "the record is not valid JSON");
                break;
            }
            produced += map_doc(&mc, doc, row, err, ud);
            cJSON_Delete(doc);
            p = stop;
        }
    } else {
        size_t rl = strlen(s->row_delim);
        size_t at = 0;
        while (at < len) {
            const char *r = data + at;
            size_t n = 0;
            while (at + n < len && !(len - at - n >= rl && !memcmp(r + n, s->row_delim, rl)))
                n++;
            if (n || at + n < len)
                produced += map_csv_row(&mc, r, n, row, err, ud);
            at += n + rl;
        }
    }
    sl_buf_cleanup(&mc.strings);
    free(mc.vals);
    return produced;
}
