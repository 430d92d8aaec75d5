/* DiscoverInputSchema: infers an InputSchema from sample payloads (spec §1.8).
 *
 * JSON, when every sample is a JSON object: columns are the top-level keys in first-seen
 * order, one nested-object level flattened (Mapping "$.p.c", name "c", or "p_c" on a clash),
 * arrays mapped whole ("$.k[0:]", VARCHAR). Numbers are kept as written, so "50.0" is a
 * fraction and "80" an integer. Types widen over the samples: integers to the smallest of
 * TINYINT/SMALLINT/INTEGER/BIGINT that holds them, any fraction to REAL (DOUBLE beyond 7
 * significant digits or REAL's range), booleans to BOOLEAN, strings (timestamps included) to
 * VARCHAR(n) with n = max(4, next power of two >= longest), nulls only to VARCHAR(4).
 *
 * CSV otherwise, when every line splits into the same number (> 1) of fields by one of
 * ',' '|' TAB ';' (row delimiter "\n", or "\r\n" when present). A first row of text where the
 * later rows are numeric is a header (it names the columns and is still parsed). CSV integers
 * are INTEGER (BIGINT if needed). Anything else is one column COL_0 VARCHAR(n).
 *
 * Names are kept when they match [A-Za-z_][A-Za-z0-9_]*, are at most 100 characters and are
 * not reserved words; otherwise unsupported characters are dropped and "COL_" is prefixed;
 * nothing left gives COL_<position>.
 *
 * JSON is read with a small scanner of its own (not cJSON) because discovery needs each
 * number's text as written. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ka.h"

/* ---- a JSON scanner that keeps raw texts ------------------------------------------------ */

typedef enum { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_OBJ, JV_ARR } jv_kind;

typedef struct jv jv;
struct jv {
    jv_kind kind;
    char *text;  /* NUM: as written; STR: decoded; ARR/OBJ: raw JSON text; BOOL: "true"/"false" */
    char **keys; /* OBJ */
    jv **vals;
    size_t n;
};

static void jv_free(jv *v)
{
    if (!v)
        return;
    for (size_t k = 0; k < v->n; k++) {
        free(v->keys[k]);
        jv_free(v->vals[k]);
    }
    free(v->keys);
    free(v->vals);
    free(v->text);
    free(v);
}

typedef struct scan {
    const char *p, *end;
    int depth;
} scan;

static void ws(scan *s)
{
    while (s->p < s->end && isspace((unsigned char)*s->p))
        s->p++;
}

static char *scan_string(scan *s)
{
    /* at '"' */
    s->p++;
    sl_buf b = SL_BUF_INIT;
    while (s->p < s->end && *s->p != '"') {
        char c = *s->p++;
        if (c == '\\') {
            if (s->p >= s->end)
                goto bad;
            char e = *s->p++;
            switch (e) {
            case 'n':
                sl_buf_append_byte(&b, '\n');
                break;
            case 't':
                sl_buf_append_byte(&b, '\t');
                break;
            case 'r':
                sl_buf_append_byte(&b, '\r');
                break;
            case 'b':
                sl_buf_append_byte(&b, '\b');
                break;
            case 'f':
                sl_buf_append_byte(&b, '\f');
                break;
            case 'u': {
                if (s->end - s->p < 4)
                    goto bad;
                unsigned cp;
                char hx[5] = {s->p[0], s->p[1], s->p[2], s->p[3], 0};
                if (sscanf(hx, "%4x", &cp) != 1)
                    goto bad;
                s->p += 4;
                if (cp < 0x80) {
                    sl_buf_append_byte(&b, (uint8_t)cp);
                } else if (cp < 0x800) {
                    sl_buf_append_byte(&b, (uint8_t)(0xC0 | cp >> 6));
                    sl_buf_append_byte(&b, (uint8_t)(0x80 | (cp & 63)));
                } else {
                    sl_buf_append_byte(&b, (uint8_t)(0xE0 | cp >> 12));
                    sl_buf_append_byte(&b, (uint8_t)(0x80 | (cp >> 6 & 63)));
                    sl_buf_append_byte(&b, (uint8_t)(0x80 | (cp & 63)));
                }
                break;
            }
            default:
                sl_buf_append_byte(&b, (uint8_t)e);
            }
        } else {
            sl_buf_append_byte(&b, (uint8_t)c);
        }
    }
    if (s->p >= s->end)
        goto bad;
    s->p++;
    sl_buf_append(&b, "", 0);
    if (b.oom)
        goto bad;
    if (!b.data)
        return strdup("");
    return sl_buf_steal(&b, NULL);
bad:
    sl_buf_cleanup(&b);
    return NULL;
}

static jv *scan_value(scan *s)
{
    ws(s);
    if (s->p >= s->end || ++s->depth > 64)
        return NULL;
    jv *v = calloc(1, sizeof(*v));
    if (!v)
        return NULL;
    const char *start = s->p;
    char c = *s->p;
    if (c == '"') {
        v->kind = JV_STR;
        if (!(v->text = scan_string(s)))
            goto bad;
    } else if (c == '{' || c == '[') {
        v->kind = c == '{' ? JV_OBJ : JV_ARR;
        char close = c == '{' ? '}' : ']';
        s->p++;
        ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
        } else {
            for (;;) {
                char *key = NULL;
                if (v->kind == JV_OBJ) {
                    ws(s);
                    if (s->p >= s->end || *s->p != '"' || !(key = scan_string(s)))
                        goto bad;
                    ws(s);
                    if (s->p >= s->end || *s->p != ':') {
                        free(key);
                        goto bad;
                    }
                    s->p++;
                }
                jv *x = scan_value(s);
                if (!x) {
                    free(key);
                    goto bad;
                }
                char **nk = realloc(v->keys, (v->n + 1) * sizeof(char *));
                jv **nv = nk ? realloc(v->vals, (v->n + 1) * sizeof(jv *)) : NULL;
                if (nk)
                    v->keys = nk;
                if (!nv) {
                    free(key);
                    jv_free(x);
                    goto bad;
                }
                v->vals = nv;
                v->keys[v->n] = key;
                v->vals[v->n++] = x;
                ws(s);
                if (s->p < s->end && *s->p == ',') {
                    s->p++;
                    continue;
                }
                if (s->p < s->end && *s->p == close) {
                    s->p++;
                    break;
                }
                goto bad;
            }
        }
        v->text = strndup(start, (size_t)(s->p - start));
        if (!v->text)
            goto bad;
    } else if (c == '-' || isdigit((unsigned char)c)) {
        v->kind = JV_NUM;
        const char *q = s->p;
        if (*q == '-')
            q++;
        if (q >= s->end || !isdigit((unsigned char)*q))
            goto bad;
        while (q < s->end && (isdigit((unsigned char)*q) || *q == '.' || *q == 'e' || *q == 'E' ||
                              *q == '+' || *q == '-'))
            q++;
        v->text = strndup(s->p, (size_t)(q - s->p));
        s->p = q;
        char *e;
        strtod(v->text, &e);
        if (*e)
            goto bad;
    } else if (s->end - s->p >= 4 && !strncmp(s->p, "true", 4)) {
        v->kind = JV_BOOL;
        v->text = strdup("true");
        s->p += 4;
    } else if (s->end - s->p >= 5 && !strncmp(s->p, "false", 5)) {
        v->kind = JV_BOOL;
        v->text = strdup("false");
        s->p += 5;
    } else if (s->end - s->p >= 4 && !strncmp(s->p, "null", 4)) {
        v->kind = JV_NULL;
        s->p += 4;
    } else {
        goto bad;
    }
    s->depth--;
    return v;
bad:
    jv_free(v);
    return NULL;
}

/* A whole payload that is exactly one JSON object. */
static jv *parse_object(const char *p, size_t n)
{
    scan s = {p, p + n, 0};
    jv *v = scan_value(&s);
    if (!v)
        return NULL;
    ws(&s);
    if (v->kind != JV_OBJ || s.p != s.end) {
        jv_free(v);
        return NULL;
    }
    return v;
}

/* ---- type inference ---------------------------------------------------------------------- */

enum { T_NONE = 0, T_BOOL, T_TINY, T_SMALL, T_INT, T_BIG, T_REAL, T_DOUBLE, T_STR };

typedef struct dcol {
    char name[129];
    char mapping[512];
    int t;
    size_t maxlen;
    int csv_int; /* CSV integers are INTEGER at least */
} dcol;

static int num_type(const char *txt, int csv)
{
    char *e;
    if (!strpbrk(txt, ".eE")) {
        errno = 0;
        long long v = strtoll(txt, &e, 10);
        if (*e)
            return T_STR;
        if (errno)
            return T_DOUBLE;
        if (!csv && v >= INT8_MIN && v <= INT8_MAX)
            return T_TINY;
        if (!csv && v >= INT16_MIN && v <= INT16_MAX)
            return T_SMALL;
        if (v >= INT32_MIN && v <= INT32_MAX)
            return T_INT;
        return T_BIG;
    }
    double d = strtod(txt, &e);
    if (*e)
        return T_STR;
    int digits = 0;
    for (const char *q = txt; *q && *q != 'e' && *q != 'E'; q++)
        if (isdigit((unsigned char)*q))
            digits++;
    /* leading zeros do not count */
    const char *q = txt;
    if (*q == '-')
        q++;
    while (*q == '0' || *q == '.') {
        if (*q == '0')
            digits--;
        q++;
    }
    if (digits > 7 || fabs(d) > 3.4028234663852886e38 || (d != 0 && fabs(d) < 1.17549435e-38))
        return T_DOUBLE;
    return T_REAL;
}

static int widen(int a, int b)
{
    if (a == T_NONE)
        return b;
    if (b == T_NONE)
        return a;
    if (a == T_STR || b == T_STR)
        return T_STR;
    if (a == T_BOOL || b == T_BOOL)
        return a == b ? T_BOOL : T_STR;
    return a > b ? a : b;
}

static void type_text(const dcol *c, char *out, size_t cap)
{
    switch (c->t) {
    case T_BOOL:
        snprintf(out, cap, "BOOLEAN");
        return;
    case T_TINY:
        snprintf(out, cap, "TINYINT");
        return;
    case T_SMALL:
        snprintf(out, cap, "SMALLINT");
        return;
    case T_INT:
        snprintf(out, cap, "INTEGER");
        return;
    case T_BIG:
        snprintf(out, cap, "BIGINT");
        return;
    case T_REAL:
        snprintf(out, cap, "REAL");
        return;
    case T_DOUBLE:
        snprintf(out, cap, "DOUBLE");
        return;
    default: {
        size_t n = 4;
        while (n < c->maxlen)
            n *= 2;
        snprintf(out, cap, "VARCHAR(%zu)", n);
    }
    }
}

/* Column name rules. */
static void fix_name(const char *raw, size_t pos, char *out, size_t cap)
{
    int ok = (isalpha((unsigned char)raw[0]) || raw[0] == '_') && strlen(raw) <= 100;
    for (const char *q = raw; ok && *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '_')
            ok = 0;
    if (ok && !sl_sql_reserved_word(raw)) {
        snprintf(out, cap, "%s", raw);
        return;
    }
    char kept[129];
    size_t n = 0;
    for (const char *q = raw; *q && n < 96; q++)
        if (isalnum((unsigned char)*q) || *q == '_')
            kept[n++] = *q;
    kept[n] = 0;
    if (n)
        snprintf(out, cap, "COL_%s", kept);
    else
        snprintf(out, cap, "COL_%zu", pos);
}

static dcol *find_or_add(dcol **cols, size_t *n, const char *mapping)
{
    for (size_t k = 0; k < *n; k++)
        if (!strcmp((*cols)[k].mapping, mapping))
            return &(*cols)[k];
    dcol *nc = realloc(*cols, (*n + 1) * sizeof(dcol));
    if (!nc)
        return NULL;
    *cols = nc;
    dcol *c = &nc[(*n)++];
    memset(c, 0, sizeof(*c));
    snprintf(c->mapping, sizeof(c->mapping), "%s", mapping);
    return c;
}

static void observe(dcol *c, const jv *v)
{
    switch (v->kind) {
    case JV_NULL:
        return;
    case JV_BOOL:
        c->t = widen(c->t, T_BOOL);
        return;
    case JV_NUM:
        c->t = widen(c->t, num_type(v->text, 0));
        if (strlen(v->text) > c->maxlen)
            c->maxlen = strlen(v->text);
        return;
    default:
        c->t = T_STR;
        if (strlen(v->text) > c->maxlen)
            c->maxlen = strlen(v->text);
    }
}

/* Text of value v as ParsedInputRecords shows it, or NULL (JSON null). */
static const char *parsed_text(const jv *v)
{
    return v && v->kind != JV_NULL ? v->text : NULL;
}

static int discover_json(jv **docs, size_t n, cJSON *out)
{
    dcol *cols = NULL;
    size_t nc = 0;
    char(*leaf)[129] = NULL;
    for (size_t d = 0; d < n; d++) {
        const jv *o = docs[d];
        for (size_t k = 0; k < o->n; k++) {
            char m[512];
            const jv *v = o->vals[k];
            if (v->kind == JV_OBJ && v->n) {
                for (size_t j = 0; j < v->n; j++) {
                    const jv *w = v->vals[j];
                    if (w->kind == JV_ARR)
                        snprintf(m, sizeof(m), "$.%s.%s[0:]", o->keys[k], v->keys[j]);
                    else
                        snprintf(m, sizeof(m), "$.%s.%s", o->keys[k], v->keys[j]);
                    dcol *c = find_or_add(&cols, &nc, m);
                    if (!c)
                        goto oom;
                    if (!c->name[0]) {
                        snprintf(c->name, sizeof(c->name), "%s", v->keys[j]);
                        /* remember the parent for a clash */
                        snprintf(c->mapping + strlen(c->mapping) + 1,
                                 sizeof(c->mapping) - strlen(c->mapping) - 1, "%s", o->keys[k]);
                    }
                    if (w->kind == JV_OBJ)
                        c->t = T_STR,
                        c->maxlen = strlen(w->text) > c->maxlen ? strlen(w->text) : c->maxlen;
                    else
                        observe(c, w);
                }
                continue;
            }
            if (v->kind == JV_ARR)
                snprintf(m, sizeof(m), "$.%s[0:]", o->keys[k]);
            else
                snprintf(m, sizeof(m), "$.%s", o->keys[k]);
            dcol *c = find_or_add(&cols, &nc, m);
            if (!c)
                goto oom;
            if (!c->name[0])
                snprintf(c->name, sizeof(c->name), "%s", o->keys[k]);
            observe(c, v);
        }
    }
    if (!nc)
        goto none;
    /* names: clashes of flattened leaves become parent_child; then the naming rules */
    leaf = calloc(nc, sizeof(*leaf));
    if (!leaf)
        goto oom;
    for (size_t k = 0; k < nc; k++) {
        const char *parent = cols[k].mapping + strlen(cols[k].mapping) + 1;
        int nested = strchr(cols[k].mapping + 2, '.') != NULL;
        int clash = 0;
        for (size_t j = 0; j < nc && nested; j++)
            if (j != k && !strcmp(cols[j].name, cols[k].name))
                clash = 1;
        char raw[260];
        if (clash)
            snprintf(raw, sizeof(raw), "%s_%s", parent, cols[k].name);
        else
            snprintf(raw, sizeof(raw), "%s", cols[k].name);
        fix_name(raw, k, leaf[k], sizeof(leaf[k]));
    }
    cJSON *schema = cJSON_AddObjectToObject(out, "InputSchema");
    cJSON *fmt = cJSON_AddObjectToObject(schema, "RecordFormat");
    cJSON_AddStringToObject(fmt, "RecordFormatType", "JSON");
    cJSON *mp = cJSON_AddObjectToObject(fmt, "MappingParameters");
    cJSON *jp = cJSON_AddObjectToObject(mp, "JSONMappingParameters");
    cJSON_AddStringToObject(jp, "RecordRowPath", "$");
    cJSON_AddStringToObject(schema, "RecordEncoding", "UTF-8");
    cJSON *rc = cJSON_AddArrayToObject(schema, "RecordColumns");
    for (size_t k = 0; k < nc; k++) {
        cJSON *c = cJSON_CreateObject();
        char t[32];
        if (cols[k].t == T_NONE)
            cols[k].t = T_STR;
        type_text(&cols[k], t, sizeof(t));
        cJSON_AddStringToObject(c, "Name", leaf[k]);
        cJSON_AddStringToObject(c, "Mapping", cols[k].mapping);
        cJSON_AddStringToObject(c, "SqlType", t);
        cJSON_AddItemToArray(rc, c);
    }
    cJSON *parsed = cJSON_AddArrayToObject(out, "ParsedInputRecords");
    for (size_t d = 0; d < n; d++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t k = 0; k < nc; k++) {
            /* follow the mapping */
            const jv *o = docs[d], *v = NULL;
            char m[512];
            snprintf(m, sizeof(m), "%s", cols[k].mapping + 2);
            char *br = strstr(m, "[0:]");
            if (br)
                *br = 0;
            char *dot = strchr(m, '.');
            if (dot)
                *dot = 0;
            for (size_t j = 0; j < o->n; j++)
                if (!strcmp(o->keys[j], m))
                    v = o->vals[j];
            if (v && dot) {
                const jv *w = NULL;
                if (v->kind == JV_OBJ)
                    for (size_t j = 0; j < v->n; j++)
                        if (!strcmp(v->keys[j], dot + 1))
                            w = v->vals[j];
                v = w;
            }
            const char *txt = parsed_text(v);
            cJSON_AddItemToArray(row, txt ? cJSON_CreateString(txt) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(parsed, row);
    }
    free(cols);
    free(leaf);
    return 0;
none:
    free(cols);
    return SL_ENOTFOUND;
oom:
    free(cols);
    free(leaf);
    return SL_ENOMEM;
}

/* Splits a text into lines (row delimiter) and fields (column delimiter). */
typedef struct lines {
    char **line;
    size_t n;
} lines;

static void lines_free(lines *l)
{
    for (size_t k = 0; k < l->n; k++)
        free(l->line[k]);
    free(l->line);
}

static int split_lines(const char *const *payloads, const size_t *lens, size_t n, const char *rd,
                       lines *out)
{
    size_t rl = strlen(rd);
    for (size_t p = 0; p < n; p++) {
        const char *s = payloads[p];
        size_t len = lens[p], at = 0;
        while (at < len) {
            const char *hit = NULL;
            for (size_t j = at; j + rl <= len; j++)
                if (!memcmp(s + j, rd, rl)) {
                    hit = s + j;
                    break;
                }
            size_t ln = hit ? (size_t)(hit - s) - at : len - at;
            if (ln) {
                char **nl = realloc(out->line, (out->n + 1) * sizeof(char *));
                if (!nl)
                    return SL_ENOMEM;
                out->line = nl;
                if (!(out->line[out->n] = strndup(s + at, ln)))
                    return SL_ENOMEM;
                out->n++;
            }
            at += ln + (hit ? rl : 0);
        }
    }
    return 0;
}

static size_t count_fields(const char *line, char d)
{
    size_t n = 1;
    for (const char *q = line; *q; q++)
        if (*q == d)
            n++;
    return n;
}

static void field(const char *line, char d, size_t i, char *out, size_t cap)
{
    const char *q = line;
    for (size_t k = 0; k < i && q; k++) {
        q = strchr(q, d);
        if (q)
            q++;
    }
    if (!q) {
        out[0] = 0;
        return;
    }
    size_t n = strcspn(q, (char[]){d, 0});
    snprintf(out, cap, "%.*s", (int)n, q);
}

static int discover_csv(const char *const *payloads, const size_t *lens, size_t n, cJSON *out)
{
    int crlf = 0;
    for (size_t p = 0; p < n; p++)
        for (size_t k = 0; k + 1 < lens[p]; k++)
            if (payloads[p][k] == '\r' && payloads[p][k + 1] == '\n')
                crlf = 1;
    const char *rd = crlf ? "\r\n" : "\n";
    lines l = {0};
    int rc = split_lines(payloads, lens, n, rd, &l);
    if (rc) {
        lines_free(&l);
        return rc;
    }
    if (!l.n) {
        lines_free(&l);
        return SL_ENOTFOUND;
    }
    static const char delims[] = {',', '|', '\t', ';'};
    char d = 0;
    size_t nf = 1;
    for (size_t k = 0; k < 4 && !d; k++) {
        size_t c = count_fields(l.line[0], delims[k]);
        if (c < 2)
            continue;
        int same = 1;
        for (size_t j = 1; j < l.n && same; j++)
            same = count_fields(l.line[j], delims[k]) == c;
        if (same) {
            d = delims[k];
            nf = c;
        }
    }
    dcol *cols = calloc(nf, sizeof(dcol));
    if (!cols) {
        lines_free(&l);
        return SL_ENOMEM;
    }
    char f[4096];
    /* header: first row all text while some later row is numeric in those columns */
    int header = 0;
    if (d && l.n > 1) {
        int first_text = 1, later_num = 0;
        for (size_t k = 0; k < nf; k++) {
            field(l.line[0], d, k, f, sizeof(f));
            if (num_type(f, 1) != T_STR || !f[0])
                first_text = 0;
            field(l.line[1], d, k, f, sizeof(f));
            if (f[0] && num_type(f, 1) != T_STR)
                later_num = 1;
        }
        header = first_text && later_num;
    }
    for (size_t r = (size_t)header; r < l.n; r++)
        for (size_t k = 0; k < nf; k++) {
            if (d)
                field(l.line[r], d, k, f, sizeof(f));
            else
                snprintf(f, sizeof(f), "%s", l.line[r]);
            if (!f[0])
                continue;
            int t = d ? num_type(f, 1) : T_STR;
            cols[k].t = widen(cols[k].t, t);
            if (strlen(f) > cols[k].maxlen)
                cols[k].maxlen = strlen(f);
        }
    cJSON *schema = cJSON_AddObjectToObject(out, "InputSchema");
    cJSON *fmt = cJSON_AddObjectToObject(schema, "RecordFormat");
    cJSON_AddStringToObject(fmt, "RecordFormatType", "CSV");
    cJSON *mp = cJSON_AddObjectToObject(fmt, "MappingParameters");
    cJSON *cp = cJSON_AddObjectToObject(mp, "CSVMappingParameters");
    cJSON_AddStringToObject(cp, "RecordRowDelimiter", rd);
    char ds[2] = {d ? d : ',', 0};
    cJSON_AddStringToObject(cp, "RecordColumnDelimiter", ds);
    cJSON_AddStringToObject(schema, "RecordEncoding", "UTF-8");
    cJSON *rc2 = cJSON_AddArrayToObject(schema, "RecordColumns");
    for (size_t k = 0; k < nf; k++) {
        char name[129], t[32];
        if (header) {
            field(l.line[0], d, k, f, sizeof(f));
            fix_name(f, k, name, sizeof(name));
        } else {
            snprintf(name, sizeof(name), "COL_%zu", k);
        }
        if (cols[k].t == T_NONE)
            cols[k].t = T_STR;
        type_text(&cols[k], t, sizeof(t));
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "Name", name);
        cJSON_AddStringToObject(c, "SqlType", t);
        cJSON_AddItemToArray(rc2, c);
    }
    cJSON *parsed = cJSON_AddArrayToObject(out, "ParsedInputRecords");
    for (size_t r = 0; r < l.n; r++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t k = 0; k < nf; k++) {
            if (d)
                field(l.line[r], d, k, f, sizeof(f));
            else
                snprintf(f, sizeof(f), "%s", l.line[r]);
            int ok = cols[k].t == T_STR || (f[0] && num_type(f, 1) != T_STR);
            cJSON_AddItemToArray(row, ok ? cJSON_CreateString(f) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(parsed, row);
    }
    free(cols);
    lines_free(&l);
    return 0;
}

int ka_discover(const char *const *payloads, const size_t *lens, size_t n, cJSON **out)
{
    if (!n)
        return SL_ENOTFOUND;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return SL_ENOMEM;
    jv **docs = calloc(n, sizeof(*docs));
    int all_json = docs != NULL;
    for (size_t k = 0; k < n && all_json; k++) {
        docs[k] = parse_object(payloads[k], lens[k]);
        if (!docs[k])
            all_json = 0;
    }
    int rc = all_json ? discover_json(docs, n, o) : discover_csv(payloads, lens, n, o);
    if (docs)
        for (size_t k = 0; k < n; k++)
            jv_free(docs[k]);
    free(docs);
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    cJSON *raw = cJSON_AddArrayToObject(o, "RawInputRecords");
    cJSON *proc = cJSON_AddArrayToObject(o, "ProcessedInputRecords");
    for (size_t k = 0; k < n; k++) {
        char *s = strndup(payloads[k], lens[k]);
        if (!s)
            continue;
        cJSON_AddItemToArray(raw, cJSON_CreateString(s));
        cJSON_AddItemToArray(proc, cJSON_CreateString(s));
        free(s);
    }
    *out = o;
    return 0;
}
