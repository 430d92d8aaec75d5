/* Typed values: type names, civil time (proleptic Gregorian, UTC, ms precision), text forms,
 * comparison, hashing and deep copies.
 *
 * Text forms follow spec §1.7: TIMESTAMP "yyyy-MM-dd HH:mm:ss.SSS", DATE "yyyy-MM-dd", TIME
 * "HH:mm:ss.SSS", DOUBLE/REAL the shortest decimal that reads back to the same value with
 * ".0" for integral values (Java's Double.toString shape without exponent for 1e-3..1e7). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

static const char *const type_names[] = {
    "NULL",    "BOOLEAN",   "TINYINT", "SMALLINT",  "INTEGER",  "BIGINT",
    "DECIMAL", "REAL",      "DOUBLE",  "CHAR",      "VARCHAR",  "DATE",
    "TIME",    "TIMESTAMP", "BINARY",  "VARBINARY", "INTERVAL",
};

const char *sl_sql_type_name(uint8_t id)
{
    return id <= SL_SQL_INTERVAL ? type_names[id] : "?";
}

void sl_sql_type_format(const sl_sql_type *t, char *out, size_t cap)
{
    switch (t->id) {
    case SL_SQL_CHAR:
    case SL_SQL_VARCHAR:
    case SL_SQL_BINARY:
    case SL_SQL_VARBINARY:
        snprintf(out, cap, "%s(%u)", type_names[t->id], t->len);
        break;
    case SL_SQL_DECIMAL:
        snprintf(out, cap, "DECIMAL(%u,%u)", t->len ? t->len : 19, t->scale);
        break;
    default:
        snprintf(out, cap, "%s", sl_sql_type_name(t->id));
    }
}

int sl_sql_type_parse(const char *s, sl_sql_type *out)
{
    return sl_sql_parse_type_text(s, out);
}

int sl_sql_type_is_numeric(uint8_t id)
{
    return id >= SL_SQL_TINYINT && id <= SL_SQL_DOUBLE;
}

int sl_sql_type_is_exact(uint8_t id)
{
    return id >= SL_SQL_TINYINT && id <= SL_SQL_BIGINT;
}

int sl_sql_type_is_string(uint8_t id)
{
    return id == SL_SQL_CHAR || id == SL_SQL_VARCHAR;
}

int sl_sql_type_is_datetime(uint8_t id)
{
    return id == SL_SQL_DATE || id == SL_SQL_TIME || id == SL_SQL_TIMESTAMP;
}

/* ---- civil time (Howard Hinnant's days_from_civil / civil_from_days) ---------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

void sl_sql_civil(int64_t ms, int64_t *y, unsigned *mo, unsigned *d, unsigned *h, unsigned *mi,
                  unsigned *s, unsigned *milli);
void sl_sql_civil(int64_t ms, int64_t *y, unsigned *mo, unsigned *d, unsigned *h, unsigned *mi,
                  unsigned *s, unsigned *milli)
{
    int64_t days = floordiv(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    civil_from_days(days, y, mo, d);
    *h = (unsigned)(rem / 3600000);
    *mi = (unsigned)(rem / 60000 % 60);
    *s = (unsigned)(rem / 1000 % 60);
    *milli = (unsigned)(rem % 1000);
}

int64_t sl_sql_make_ts(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                       unsigned milli);
int64_t sl_sql_make_ts(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                       unsigned milli)
{
    return days_from_civil(y, mo, d) * 86400000 + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
           (int64_t)s * 1000 + milli;
}

int64_t sl_sql_unit_ms(int unit)
{
    switch (unit) {
    case U_DAY:
        return 86400000;
    case U_HOUR:
        return 3600000;
    case U_MINUTE:
        return 60000;
    case U_SECOND:
        return 1000;
    case U_MILLISECOND:
        return 1;
    default:
        return 1;
    }
}

int64_t sl_sql_floor_ts(int64_t ms, int unit)
{
    if (unit == U_YEAR || unit == U_MONTH) {
        int64_t y;
        unsigned mo, d, h, mi, s, milli;
        sl_sql_civil(ms, &y, &mo, &d, &h, &mi, &s, &milli);
        return sl_sql_make_ts(y, unit == U_YEAR ? 1 : mo, 1, 0, 0, 0, 0);
    }
    int64_t u = sl_sql_unit_ms(unit);
    return floordiv(ms, u) * u;
}

int64_t sl_sql_add_unit(int64_t ms, int unit, int64_t n)
{
    if (unit == U_YEAR || unit == U_MONTH) {
        int64_t y;
        unsigned mo, d, h, mi, s, milli;
        sl_sql_civil(ms, &y, &mo, &d, &h, &mi, &s, &milli);
        int64_t months = y * 12 + (mo - 1) + (unit == U_YEAR ? 12 * n : n);
        return sl_sql_make_ts(floordiv(months, 12),
                              (unsigned)(months - floordiv(months, 12) * 12) + 1, d, h, mi, s,
                              milli);
    }
    return ms + n * sl_sql_unit_ms(unit);
}

void sl_sql_format_timestamp(int64_t ms, char *out, size_t cap)
{
    int64_t y;
    unsigned mo, d, h, mi, s, milli;
    sl_sql_civil(ms, &y, &mo, &d, &h, &mi, &s, &milli);
    snprintf(out, cap, "%04lld-%02u-%02u %02u:%02u:%02u.%03u", (long long)y, mo, d, h, mi, s,
             milli);
}

static int digits(const char **p, const char *end, int n, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < n; k++) {
        if (*p >= end || !isdigit((unsigned char)**p))
            return -1;
        v = v * 10 + (unsigned)(**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

int sl_sql_parse_timestamp(const char *s, size_t len, int64_t *ms)
{
    const char *p = s, *end = s + len;
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    unsigned y, mo, d, h = 0, mi = 0, se = 0, milli = 0;
    if (digits(&p, end, 4, &y) || p >= end || *p++ != '-' || digits(&p, end, 2, &mo) || p >= end ||
        *p++ != '-' || digits(&p, end, 2, &d))
        return SL_EINVAL;
    if (p < end) {
        if (*p != ' ' && *p != 'T')
            return SL_EINVAL;
        p++;
        if (digits(&p, end, 2, &h) || p >= end || *p++ != ':' || digits(&p, end, 2, &mi))
            return SL_EINVAL;
        if (p < end && *p == ':') {
            p++;
            if (digits(&p, end, 2, &se))
                return SL_EINVAL;
            if (p < end && *p == '.') {
                p++;
                int nd = 0;
                while (p < end && isdigit((unsigned char)*p)) {
                    if (nd < 3)
                        milli = milli * 10 + (unsigned)(*p - '0');
                    nd++;
                    p++;
                }
                if (!nd)
                    return SL_EINVAL;
                for (; nd < 3; nd++)
                    milli *= 10;
            }
        }
        if (p < end && *p == 'Z')
            p++;
    }
    if (p != end || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
        return SL_EINVAL;
    *ms = sl_sql_make_ts(y, mo, d, h, mi, se, milli);
    return 0;
}

void sl_sql_format_double(double d, char *out, size_t cap)
{
    if (isnan(d)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(out, cap, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0) {
        snprintf(out, cap, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    double ad = fabs(d);
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        char tmp[40];
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (ad >= 1e-3 && ad < 1e7) {
        /* positional, with the digits needed */
        char tmp[64];
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strchr(tmp, 'e')) {
            int dec = prec - 1 - (int)floor(log10(ad));
            if (dec < 0)
                dec = 0;
            snprintf(tmp, sizeof(tmp), "%.*f", dec, d);
        }
        if (!strchr(tmp, '.'))
            strcat(tmp, ".0");
        snprintf(out, cap, "%s", tmp);
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%.*E", prec - 1, d);
    /* Java: 1.0E10 */
    char *e = strchr(tmp, 'E');
    char mant[40];
    size_t ml = (size_t)(e - tmp);
    memcpy(mant, tmp, ml);
    mant[ml] = 0;
    if (!strchr(mant, '.'))
        strcat(mant, ".0");
    snprintf(out, cap, "%sE%d", mant, atoi(e + 1));
}

int sl_sql_value_text(const sl_sql_value *v, sl_arena *a, const char **s, size_t *len)
{
    char buf[64];
    int64_t y;
    unsigned mo, d, h, mi, se, milli;
    if (v->is_null) {
        *s = NULL;
        *len = 0;
        return 0;
    }
    switch (v->type) {
    case SL_SQL_CHAR:
    case SL_SQL_VARCHAR:
        *s = v->u.s;
        *len = v->len;
        return 0;
    case SL_SQL_BOOLEAN:
        snprintf(buf, sizeof(buf), "%s", v->u.i ? "TRUE" : "FALSE");
        break;
    case SL_SQL_TINYINT:
    case SL_SQL_SMALLINT:
    case SL_SQL_INTEGER:
    case SL_SQL_BIGINT:
        snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
        break;
    case SL_SQL_REAL:
        sl_sql_format_double((double)(float)v->u.d, buf, sizeof(buf));
        break;
    case SL_SQL_DOUBLE:
        sl_sql_format_double(v->u.d, buf, sizeof(buf));
        break;
    case SL_SQL_DECIMAL:
        snprintf(buf, sizeof(buf), "%.15g", v->u.d);
        break;
    case SL_SQL_TIMESTAMP:
        sl_sql_format_timestamp(v->u.i, buf, sizeof(buf));
        break;
    case SL_SQL_DATE:
        sl_sql_civil(v->u.i, &y, &mo, &d, &h, &mi, &se, &milli);
        snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", (long long)y, mo, d);
        break;
    case SL_SQL_TIME:
        sl_sql_civil(v->u.i, &y, &mo, &d, &h, &mi, &se, &milli);
        snprintf(buf, sizeof(buf), "%02u:%02u:%02u.%03u", h, mi, se, milli);
        break;
    case SL_SQL_INTERVAL:
        snprintf(buf, sizeof(buf), "%lld", (long long)v->u.i);
        break;
    case SL_SQL_BINARY:
    case SL_SQL_VARBINARY: {
        char *o = sl_arena_alloc(a, (size_t)v->len * 2 + 1);
        if (!o)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < v->len; k++)
            sprintf(o + 2 * k, "%02X", (unsigned char)v->u.s[k]);
        *s = o;
        *len = (size_t)v->len * 2;
        return 0;
    }
    default:
        buf[0] = 0;
    }
    size_t n = strlen(buf);
    char *o = sl_arena_strndup(a, buf, n);
    if (!o)
        return SL_ENOMEM;
    *s = o;
    *len = n;
    return 0;
}

static double num_of(const sl_sql_value *v)
{
    return (v->type >= SL_SQL_DECIMAL && v->type <= SL_SQL_DOUBLE) ? v->u.d : (double)v->u.i;
}

int sl_sql_compare(const sl_sql_value *a, const sl_sql_value *b)
{
    if (sl_sql_type_is_string(a->type) || a->type == SL_SQL_BINARY || a->type == SL_SQL_VARBINARY) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        if (a->type == SL_SQL_CHAR || b->type == SL_SQL_CHAR) {
            /* blank-padded comparison */
            const sl_sql_value *l = a->len > b->len ? a : b;
            for (size_t k = n; k < l->len; k++)
                if (l->u.s[k] != ' ')
                    return l == a ? 1 : -1;
            return 0;
        }
        return a->len < b->len ? -1 : a->len > b->len;
    }
    int ad = a->type >= SL_SQL_DECIMAL && a->type <= SL_SQL_DOUBLE;
    int bd = b->type >= SL_SQL_DECIMAL && b->type <= SL_SQL_DOUBLE;
    if (ad || bd) {
        double x = num_of(a), y = num_of(b);
        return x < y ? -1 : x > y;
    }
    return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
}

uint64_t sl_sql_hash(const sl_sql_value *v, uint64_t h)
{
    h ^= 0x9e3779b97f4a7c15ull;
    if (v->is_null)
        return h * 0x100000001b3ull;
    if (sl_sql_type_is_string(v->type) || v->type == SL_SQL_BINARY || v->type == SL_SQL_VARBINARY) {
        size_t n = v->len;
        if (v->type == SL_SQL_CHAR)
            while (n && v->u.s[n - 1] == ' ')
                n--;
        for (size_t k = 0; k < n; k++)
            h = (h ^ (unsigned char)v->u.s[k]) * 0x100000001b3ull;
        return h;
    }
    uint64_t x;
    if (v->type >= SL_SQL_DECIMAL && v->type <= SL_SQL_DOUBLE) {
        double d = v->u.d;
        if (d == (double)(int64_t)d)
            x = (uint64_t)(int64_t)d;
        else
            memcpy(&x, &d, sizeof(x));
    } else {
        x = (uint64_t)v->u.i;
    }
    h ^= x;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int sl_sql_equal(const sl_sql_value *a, const sl_sql_value *b)
{
    if (a->is_null || b->is_null)
        return a->is_null && b->is_null;
    return sl_sql_compare(a, b) == 0;
}

sl_sql_value *sl_sql_values_dup(const sl_sql_value *v, size_t n)
{
    size_t extra = 0;
    for (size_t k = 0; k < n; k++)
        if (!v[k].is_null && (sl_sql_type_is_string(v[k].type) || v[k].type == SL_SQL_BINARY ||
                              v[k].type == SL_SQL_VARBINARY))
            extra += v[k].len;
    sl_sql_value *out = malloc(n * sizeof(*out) + extra + 1);
    if (!out)
        return NULL;
    char *p = (char *)(out + n);
    for (size_t k = 0; k < n; k++) {
        out[k] = v[k];
        if (!v[k].is_null && (sl_sql_type_is_string(v[k].type) || v[k].type == SL_SQL_BINARY ||
                              v[k].type == SL_SQL_VARBINARY)) {
            if (v[k].len)
                memcpy(p, v[k].u.s, v[k].len);
            out[k].u.s = p;
            p += v[k].len;
        }
    }
    return out;
}
