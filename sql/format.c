/* Output records of in-application streams (spec §1.7): one JSON object or one CSV line per
 * row. JSON keys are the column names as stored, in column order; DOUBLE/REAL print as the
 * shortest round-trip decimal with ".0" for integral values; exact numbers as integers;
 * strings JSON-escaped; booleans true/false; NULL null; DATE yyyy-MM-dd, TIME HH:mm:ss.SSS,
 * TIMESTAMP yyyy-MM-dd HH:mm:ss.SSS; binaries base64. CSV joins the same texts with ',', NULL
 * as an empty field, no quoting, and ends the line with '\n'. */
#include <stdio.h>
#include <string.h>

#include "sql_int.h"

static void json_str(sl_buf *o, const char *s, size_t n)
{
    sl_buf_append_byte(o, '"');
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        switch (c) {
        case '"':
            sl_buf_append(o, "\\\"", 2);
            break;
        case '\\':
            sl_buf_append(o, "\\\\", 2);
            break;
        case '\n':
            sl_buf_append(o, "\\n", 2);
            break;
        case '\r':
            sl_buf_append(o, "\\r", 2);
            break;
        case '\t':
            sl_buf_append(o, "\\t", 2);
            break;
        default:
            if (c < 0x20)
                sl_buf_printf(o, "\\u%04x", c);
            else
                sl_buf_append_byte(o, c);
        }
    }
    sl_buf_append_byte(o, '"');
}

static void base64(sl_buf *o, const unsigned char *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {t[v >> 18 & 63], t[v >> 12 & 63], i + 1 < n ? t[v >> 6 & 63] : '=',
                     i + 2 < n ? t[v & 63] : '='};
        sl_buf_append(o, q, 4);
    }
}

static void value_text(sl_buf *o, const sl_sql_value *v, int json)
{
    char buf[64];
    if (v->is_null) {
        if (json)
            sl_buf_append_str(o, "null");
        return;
    }
    switch (v->type) {
    case SL_SQL_BOOLEAN:
        sl_buf_append_str(o, v->u.i ? "true" : "false");
        return;
    case SL_SQL_CHAR:
    case SL_SQL_VARCHAR:
        if (json)
            json_str(o, v->u.s, v->len);
        else
            sl_buf_append(o, v->u.s, v->len);
        return;
    case SL_SQL_BINARY:
    case SL_SQL_VARBINARY:
        if (json)
            sl_buf_append_byte(o, '"');
        base64(o, (const unsigned char *)v->u.s, v->len);
        if (json)
            sl_buf_append_byte(o, '"');
        return;
    case SL_SQL_TIMESTAMP:
    case SL_SQL_DATE:
    case SL_SQL_TIME: {
        sl_arena a = {0};
        const char *s;
        size_t n;
        if (!sl_sql_value_text(v, &a, &s, &n)) {
            if (json)
                json_str(o, s, n);
            else
                sl_buf_append(o, s, n);
        }
        sl_arena_free(&a);
        return;
    }
    case SL_SQL_REAL:
        sl_sql_format_double((double)(float)v->u.d, buf, sizeof(buf));
        break;
    case SL_SQL_DOUBLE:
    case SL_SQL_DECIMAL:
        sl_sql_format_double(v->u.d, buf, sizeof(buf));
        break;
    default:
        snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
    }
    if (json && (buf[0] == 'N' || buf[0] == 'I' || buf[1] == 'I'))
        sl_buf_append_str(o, "null"); /* NaN/Infinity are not JSON */
    else
        sl_buf_append_str(o, buf);
}

int sl_sql_row_json(sl_buf *out, const sl_sql_relation *rel, const sl_sql_value *vals)
{
    sl_buf_append_byte(out, '{');
    for (size_t k = 0; k < rel->n_cols; k++) {
        if (k)
            sl_buf_append_byte(out, ',');
        json_str(out, rel->cols[k].name, strlen(rel->cols[k].name));
        sl_buf_append_byte(out, ':');
        value_text(out, &vals[k], 1);
    }
    sl_buf_append_byte(out, '}');
    return out->oom ? SL_ENOMEM : 0;
}

int sl_sql_row_csv(sl_buf *out, const sl_sql_relation *rel, const sl_sql_value *vals)
{
    for (size_t k = 0; k < rel->n_cols; k++) {
        if (k)
            sl_buf_append_byte(out, ',');
        value_text(out, &vals[k], 0);
    }
    sl_buf_append_byte(out, '\n');
    return out->oom ? SL_ENOMEM : 0;
}
