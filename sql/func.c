/* Scalar evaluation: operators, CAST and assignment, CASE, predicates, and the scalar
 * functions of the dialect (numeric, string, pattern, regex, date/time, conversion).
 *
 * sl_sql_eval() walks a planned expression (types already resolved by plan.c, function ids in
 * node->op) and produces one value. Temporary strings come from ev->scratch, which the caller
 * resets per input row. A row-level failure (division by zero, overflow, bad cast, bad
 * function argument) returns -1 with ev->err_name set to the error_stream ERROR_NAME
 * (DivisionByZero, NumericOverflow, CastError, FunctionError) and a message; the pump then
 * diverts the row to error_stream and goes on.
 *
 * Strings are handled as bytes (UTF-8 is passed through; lengths and positions count bytes).
 * Regular expressions use POSIX extended syntax (regcomp), close to the Java syntax for the
 * common cases; REGEX_REPLACE supports $n group references. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql_int.h"

void sl_sql_civil(int64_t ms, int64_t *y, unsigned *mo, unsigned *d, unsigned *h, unsigned *mi,
                  unsigned *s, unsigned *milli);
int64_t sl_sql_make_ts(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                       unsigned milli);

static int fail(sl_eval *ev, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(sl_eval *ev, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->err_msg, sizeof(ev->err_msg), fmt, ap);
    va_end(ap);
    ev->err_name = name;
    return -1;
}

static void set_null(sl_sql_value *o, uint8_t type)
{
    memset(o, 0, sizeof(*o));
    o->type = type;
    o->is_null = 1;
}

static void set_int(sl_sql_value *o, uint8_t type, int64_t v)
{
    o->type = type;
    o->is_null = 0;
    o->len = 0;
    o->u.i = v;
}

static void set_dbl(sl_sql_value *o, uint8_t type, double v)
{
    o->type = type;
    o->is_null = 0;
    o->len = 0;
    o->u.d = type == SL_SQL_REAL ? (double)(float)v : v;
}

static void set_str(sl_sql_value *o, const char *s, size_t n)
{
    o->type = SL_SQL_VARCHAR;
    o->is_null = 0;
    o->len = (uint32_t)n;
    o->u.s = s;
}

static int is_dbl(uint8_t t)
{
    return t == SL_SQL_REAL || t == SL_SQL_DOUBLE || t == SL_SQL_DECIMAL;
}

static double as_dbl(const sl_sql_value *v)
{
    return is_dbl(v->type) ? v->u.d : (double)v->u.i;
}

static int range_check(sl_eval *ev, uint8_t type, int64_t v)
{
    int64_t lo, hi;
    switch (type) {
    case SL_SQL_TINYINT:
        lo = INT8_MIN;
        hi = INT8_MAX;
        break;
    case SL_SQL_SMALLINT:
        lo = INT16_MIN;
        hi = INT16_MAX;
        break;
    case SL_SQL_INTEGER:
        lo = INT32_MIN;
        hi = INT32_MAX;
        break;
    default:
        return 0;
    }
    if (v < lo || v > hi)
        return fail(ev, "NumericOverflow", "value %lld out of range for %s", (long long)v,
                    sl_sql_type_name(type));
    return 0;
}

/* ---- casts ------------------------------------------------------------------------------ */

static int parse_num(const char *s, size_t n, int want_int, int64_t *iv, double *dv)
{
    char buf[80];
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (!n || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    if (want_int) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (*end || errno)
            return -1;
        *iv = v;
        return 0;
    }
    double d = strtod(buf, &end);
    if (*end)
        return -1;
    *dv = d;
    return 0;
}

int sl_sql_cast(sl_eval *ev, const sl_sql_value *v, const sl_sql_type *t, sl_sql_value *out,
                int assignment)
{
    uint8_t to = t->id;
    if (v->is_null) {
        if (assignment && t->not_null)
            return fail(ev, "NullViolation", "NULL assigned to a NOT NULL column");
        set_null(out, to);
        return 0;
    }
    uint8_t from = v->type;
    if (sl_sql_type_is_numeric(to)) {
        if (sl_sql_type_is_numeric(from)) {
            if (is_dbl(to)) {
                set_dbl(out, to, as_dbl(v));
                return 0;
            }
            int64_t x;
            if (is_dbl(from)) {
                double d = v->u.d;
                if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18))
                    return fail(ev, "NumericOverflow", "value %g out of range for %s", d,
                                sl_sql_type_name(to));
                x = (int64_t)d; /* truncation toward zero */
            } else {
                x = v->u.i;
            }
            if (range_check(ev, to, x))
                return -1;
            set_int(out, to, x);
            return 0;
        }
        if (sl_sql_type_is_string(from)) {
            int64_t iv;
            double dv;
            if (is_dbl(to)) {
                if (parse_num(v->u.s, v->len, 0, NULL, &dv))
                    return fail(ev, "CastError", "cannot convert '%.*s' to %s",
                                (int)(v->len > 64 ? 64 : v->len), v->u.s, sl_sql_type_name(to));
                set_dbl(out, to, dv);
                return 0;
            }
            if (parse_num(v->u.s, v->len, 1, &iv, NULL)) {
                if (parse_num(v->u.s, v->len, 0, NULL, &dv) || dv != floor(dv))
                    return fail(ev, "CastError", "cannot convert '%.*s' to %s",
                                (int)(v->len > 64 ? 64 : v->len), v->u.s, sl_sql_type_name(to));
                iv = (int64_t)dv;
            }
            if (range_check(ev, to, iv))
                return -1;
            set_int(out, to, iv);
            return 0;
        }
        if (from == SL_SQL_BOOLEAN) {
            if (is_dbl(to))
                set_dbl(out, to, (double)v->u.i);
            else
                set_int(out, to, v->u.i);
            return 0;
        }
        if (from == SL_SQL_INTERVAL && !is_dbl(to)) {
            set_int(out, to, v->u.i);
            return 0;
        }
        return fail(ev, "CastError", "cannot cast %s to %s", sl_sql_type_name(from),
                    sl_sql_type_name(to));
    }
    if (sl_sql_type_is_string(to)) {
        const char *s;
        size_t n;
        if (sl_sql_value_text(v, ev->scratch, &s, &n))
            return fail(ev, "FunctionError", "out of memory");
        if (t->len && n > t->len)
            n = t->len; /* silent truncation */
        if (to == SL_SQL_CHAR && t->len && n < t->len) {
            char *p = sl_arena_alloc(ev->scratch, t->len);
            if (!p)
                return fail(ev, "FunctionError", "out of memory");
            memcpy(p, s, n);
            memset(p + n, ' ', t->len - n);
            s = p;
            n = t->len;
        }
        set_str(out, s, n);
        out->type = to;
        return 0;
    }
    if (sl_sql_type_is_datetime(to)) {
        int64_t ms;
        if (sl_sql_type_is_string(from)) {
            if (to == SL_SQL_TIME) {
                unsigned h, mi, se = 0, f = 0;
                char buf[32];
                size_t n = v->len < 31 ? v->len : 31;
                memcpy(buf, v->u.s, n);
                buf[n] = 0;
                if (sscanf(buf, "%u:%u:%u.%3u", &h, &mi, &se, &f) < 2 || h > 23 || mi > 59 ||
                    se > 59)
                    return fail(ev, "CastError", "cannot convert '%s' to TIME", buf);
                set_int(out, to, ((int64_t)h * 3600 + mi * 60 + se) * 1000 + f);
                return 0;
            }
            if (sl_sql_parse_timestamp(v->u.s, v->len, &ms))
                return fail(ev, "CastError", "cannot convert '%.*s' to %s",
                            (int)(v->len > 64 ? 64 : v->len), v->u.s, sl_sql_type_name(to));
        } else if (sl_sql_type_is_datetime(from)) {
            ms = v->u.i;
            if (from == SL_SQL_TIME && to != SL_SQL_TIME)
                return fail(ev, "CastError", "cannot cast TIME to %s", sl_sql_type_name(to));
        } else {
            return fail(ev, "CastError", "cannot cast %s to %s", sl_sql_type_name(from),
                        sl_sql_type_name(to));
        }
        if (to == SL_SQL_DATE)
            ms = sl_sql_floor_ts(ms, U_DAY);
        else if (to == SL_SQL_TIME)
            ms = ms - sl_sql_floor_ts(ms, U_DAY);
        set_int(out, to, ms);
        return 0;
    }
    if (to == SL_SQL_BOOLEAN) {
        if (from == SL_SQL_BOOLEAN) {
            *out = *v;
            return 0;
        }
        if (sl_sql_type_is_string(from)) {
            if (v->len == 4 && !strncasecmp(v->u.s, "true", 4)) {
                set_int(out, to, 1);
                return 0;
            }
            if (v->len == 5 && !strncasecmp(v->u.s, "false", 5)) {
                set_int(out, to, 0);
                return 0;
            }
            return fail(ev, "CastError", "cannot convert '%.*s' to BOOLEAN",
                        (int)(v->len > 64 ? 64 : v->len), v->u.s);
        }
        if (sl_sql_type_is_numeric(from)) {
            set_int(out, to, as_dbl(v) != 0);
            return 0;
        }
        return fail(ev, "CastError", "cannot cast %s to BOOLEAN", sl_sql_type_name(from));
    }
    if (to == SL_SQL_BINARY || to == SL_SQL_VARBINARY) {
        if (from == SL_SQL_BINARY || from == SL_SQL_VARBINARY || sl_sql_type_is_string(from)) {
            *out = *v;
            out->type = to;
            if (t->len && out->len > t->len)
                out->len = t->len;
            return 0;
        }
        return fail(ev, "CastError", "cannot cast %s to %s", sl_sql_type_name(from),
                    sl_sql_type_name(to));
    }
    if (to == SL_SQL_INTERVAL && (from == SL_SQL_INTERVAL || sl_sql_type_is_exact(from))) {
        set_int(out, to, v->u.i);
        return 0;
    }
    return fail(ev, "CastError", "cannot cast %s to %s", sl_sql_type_name(from),
                sl_sql_type_name(to));
}

int sl_sql_assign(sl_eval *ev, const sl_sql_value *v, const sl_sql_type *t, sl_sql_value *out)
{
    if (!v->is_null && v->type == t->id && !sl_sql_type_is_string(t->id) &&
        t->id != SL_SQL_BINARY && t->id != SL_SQL_VARBINARY) {
        *out = *v;
        return 0;
    }
    if (!v->is_null && v->type == t->id && t->id == SL_SQL_VARCHAR) {
        *out = *v;
        if (t->len && out->len > t->len)
            out->len = t->len;
        return 0;
    }
    return sl_sql_cast(ev, v, t, out, 1);
}

/* ---- patterns ---------------------------------------------------------------------------- */

static int like_match(const char *s, size_t sn, const char *p, size_t pn, int esc)
{
    size_t si = 0, pi = 0, star_p = (size_t)-1, star_s = 0;
    while (si < sn) {
        if (pi < pn) {
            int c = (unsigned char)p[pi];
            if (esc >= 0 && c == esc && pi + 1 < pn) {
                if (p[pi + 1] == s[si]) {
                    pi += 2;
                    si++;
                    continue;
                }
            } else if (c == '%') {
                star_p = ++pi;
                star_s = si;
                continue;
            } else if (c == '_' || c == (unsigned char)s[si]) {
                pi++;
                si++;
                continue;
            }
        }
        if (star_p != (size_t)-1) {
            pi = star_p;
            si = ++star_s;
            continue;
        }
        return 0;
    }
    while (pi < pn && p[pi] == '%')
        pi++;
    return pi == pn;
}

/* SIMILAR TO pattern -> anchored POSIX ERE. */
static char *similar_to_ere(sl_arena *a, const char *p, size_t n, int esc)
{
    char *o = sl_arena_alloc(a, n * 4 + 8);
    if (!o)
        return NULL;
    size_t k = 0;
    o[k++] = '^';
    o[k++] = '(';
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (esc >= 0 && c == esc && i + 1 < n) {
            o[k++] = '\\';
            o[k++] = p[++i];
        } else if (c == '%') {
            o[k++] = '.';
            o[k++] = '*';
        } else if (c == '_') {
            o[k++] = '.';
        } else if (c == '.' || c == '^' || c == '$' || c == '\\') {
            o[k++] = '\\';
            o[k++] = c;
        } else {
            o[k++] = c;
        }
    }
    o[k++] = ')';
    o[k++] = '$';
    o[k] = 0;
    return o;
}

/* Refuses patterns that make glibc's regcomp blow up (it copies the tree for every counted or
 * stacked repetition): stacked quantifiers ("a++", Java's possessive form, which POSIX lacks),
 * more than 3 counted repetitions, bounds over 100, patterns over 1000 bytes. */
int sl_sql_regex_ok(const char *re)
{
    size_t n = strlen(re);
    int counted = 0, prev_quant = 0;
    if (n > 1000)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            i++;
            prev_quant = 0;
            continue;
        }
        int quant = c == '*' || c == '+' || c == '?' || c == '{';
        if (quant && prev_quant)
            return 0;
        if (c == '{') {
            if (++counted > 3)
                return 0;
            long a = strtol(re + i + 1, NULL, 10);
            const char *comma = strchr(re + i, ',');
            const char *close = strchr(re + i, '}');
            long b = comma && close && comma < close ? strtol(comma + 1, NULL, 10) : a;
            if (a > 100 || b > 100)
                return 0;
            if (close)
                i = (size_t)(close - re);
        }
        prev_quant = quant;
    }
    return 1;
}

static int regex_get(sl_eval *ev, const sl_node *n, const char *pat, size_t pn, int flags,
                     regex_t *tmp, regex_t **out)
{
    /* cached when the pattern is a literal (plan.c compiled it into n->aux) */
    if (n->aux) {
        *out = n->aux;
        return 0;
    }
    char *z = sl_arena_strndup(ev->scratch, pat, pn);
    if (!z)
        return fail(ev, "FunctionError", "out of memory");
    if (!sl_sql_regex_ok(z) || regcomp(tmp, z, REG_EXTENDED | flags))
        return fail(ev, "FunctionError", "invalid or too complex regular expression '%.64s'", z);
    *out = tmp;
    return 1;
}

/* ---- SimpleDateFormat ------------------------------------------------------------------- */

static const char *const month_names[] = {"January",   "February", "March",    "April",
                                          "May",       "June",     "July",     "August",
                                          "September", "October",  "November", "December"};
static const char *const day_names[] = {"Thursday", "Friday",  "Saturday", "Sunday",
                                        "Monday",   "Tuesday", "Wednesday"};

static int fmt_datetime(sl_eval *ev, const char *f, size_t fn, int64_t ms, sl_sql_value *out)
{
    int64_t y;
    unsigned mo, d, h, mi, s, milli;
    sl_sql_civil(ms, &y, &mo, &d, &h, &mi, &s, &milli);
    char *o = sl_arena_alloc(ev->scratch, fn * 8 + 64);
    if (!o)
        return fail(ev, "FunctionError", "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < fn;) {
        char c = f[i];
        if (c == '\'') {
            i++;
            if (i < fn && f[i] == '\'') {
                o[k++] = '\'';
                i++;
                continue;
            }
            while (i < fn && f[i] != '\'')
                o[k++] = f[i++];
            i++;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            o[k++] = c;
            i++;
            continue;
        }
        size_t cnt = 1;
        while (i + cnt < fn && f[i + cnt] == c)
            cnt++;
        i += cnt;
        long long v;
        switch (c) {
        case 'y':
            v = cnt == 2 ? (long long)(y % 100) : (long long)y;
            k += (size_t)sprintf(o + k, "%0*lld", (int)(cnt == 2 ? 2 : cnt), v);
            continue;
        case 'M':
            if (cnt >= 4) {
                k += (size_t)sprintf(o + k, "%s", month_names[mo - 1]);
            } else if (cnt == 3) {
                k += (size_t)sprintf(o + k, "%.3s", month_names[mo - 1]);
            } else {
                k += (size_t)sprintf(o + k, "%0*u", (int)cnt, mo);
            }
            continue;
        case 'd':
            v = d;
            break;
        case 'H':
            v = h;
            break;
        case 'h':
            v = h % 12 == 0 ? 12 : h % 12;
            break;
        case 'k':
            v = h == 0 ? 24 : h;
            break;
        case 'K':
            v = h % 12;
            break;
        case 'm':
            v = mi;
            break;
        case 's':
            v = s;
            break;
        case 'S':
            v = milli;
            break;
        case 'a':
            k += (size_t)sprintf(o + k, "%s", h < 12 ? "AM" : "PM");
            continue;
        case 'E': {
            int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
            int dw = (int)(((days % 7) + 7) % 7);
            k += (size_t)sprintf(o + k, cnt >= 4 ? "%s" : "%.3s", day_names[dw]);
            continue;
        }
        default:
            return fail(ev, "FunctionError", "unsupported date format letter '%c'", c);
        }
        k += (size_t)sprintf(o + k, "%0*lld", (int)cnt, v);
    }
    set_str(out, o, k);
    return 0;
}

static int parse_datetime(sl_eval *ev, const char *f, size_t fn, const char *s, size_t sn,
                          int64_t *ms)
{
    long long y = 1970, mo = 1, d = 1, h = 0, mi = 0, se = 0, milli = 0;
    int pm = -1, h12 = 0;
    size_t j = 0;
    for (size_t i = 0; i < fn;) {
        char c = f[i];
        if (c == '\'') {
            i++;
            while (i < fn && f[i] != '\'') {
                if (j >= sn || s[j] != f[i])
                    goto bad;
                i++;
                j++;
            }
            i++;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            if (j >= sn || s[j] != c)
                goto bad;
            i++;
            j++;
            continue;
        }
        size_t cnt = 1;
        while (i + cnt < fn && f[i + cnt] == c)
            cnt++;
        i += cnt;
        if (c == 'a') {
            if (j + 2 > sn)
                goto bad;
            pm = toupper((unsigned char)s[j]) == 'P';
            j += 2;
            continue;
        }
        if (c == 'M' && cnt >= 3) {
            int found = 0;
            for (int m = 0; m < 12 && !found; m++) {
                size_t ln = cnt >= 4 ? strlen(month_names[m]) : 3;
                if (j + ln <= sn && !strncasecmp(s + j, month_names[m], ln)) {
                    mo = m + 1;
                    j += ln;
                    found = 1;
                }
            }
            if (!found)
                goto bad;
            continue;
        }
        if (c == 'E') {
            while (j < sn && isalpha((unsigned char)s[j]))
                j++;
            continue;
        }
        /* numeric field: exactly cnt digits if the next format char is a letter, else greedy */
        int adjacent = i < fn && isalpha((unsigned char)f[i]);
        size_t maxd = adjacent ? cnt : 9;
        long long v = 0;
        size_t nd = 0;
        while (j < sn && nd < maxd && isdigit((unsigned char)s[j])) {
            v = v * 10 + (s[j] - '0');
            j++;
            nd++;
        }
        if (!nd)
            goto bad;
        switch (c) {
        case 'y':
            y = (cnt == 2 && nd == 2) ? 2000 + v : v;
            break;
        case 'M':
            mo = v;
            break;
        case 'd':
            d = v;
            break;
        case 'H':
        case 'k':
            h = v % 24;
            break;
        case 'h':
        case 'K':
            h = v % 12;
            h12 = 1;
            break;
        case 'm':
            mi = v;
            break;
        case 's':
            se = v;
            break;
        case 'S':
            milli = v;
            break;
        default:
            return fail(ev, "FunctionError", "unsupported date format letter '%c'", c);
        }
    }
    if (j != sn)
        goto bad;
    if (h12 && pm == 1)
        h += 12;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59 || milli > 999)
        goto bad;
    *ms = sl_sql_make_ts(y, (unsigned)mo, (unsigned)d, (unsigned)h, (unsigned)mi, (unsigned)se,
                         (unsigned)milli);
    return 0;
bad:
    return fail(ev, "FunctionError", "'%.*s' does not match format '%.*s'",
                (int)(sn > 64 ? 64 : sn), s, (int)(fn > 64 ? 64 : fn), f);
}

/* ---- function ids (plan.c maps names to these) ------------------------------------------- */

enum {
    FN_ABS = 1,
    FN_EXP,
    FN_LN,
    FN_LOG10,
    FN_MOD,
    FN_POWER,
    FN_SQRT,
    FN_CHAR_LENGTH,
    FN_UPPER,
    FN_LOWER,
    FN_INITCAP,
    FN_COALESCE,
    FN_NULLIF,
    FN_REGEX_REPLACE,
    FN_TSDIFF,
    FN_UNIX_TIMESTAMP,
    FN_TO_TIMESTAMP,
    FN_CHAR_TO_TIMESTAMP,
    FN_CHAR_TO_DATE,
    FN_CHAR_TO_TIME,
    FN_TIMESTAMP_TO_CHAR,
    FN_DATE_TO_CHAR,
    FN_TIME_TO_CHAR,
    FN_CURRENT_TIMESTAMP,
    FN_CURRENT_DATE,
    FN_CURRENT_TIME,
    FN_CURRENT_ROW_TIMESTAMP,
    FN_MONOTONIC,
    FN_LOG_PARSE, /* one field of a log-parsing call (logparse.c); never looked up by name */
};

int sl_sql_fn_logparse_id(void)
{
    return FN_LOG_PARSE;
}

static const struct {
    const char *name;
    int id, min_args, max_args;
} fn_table[] = {
    {"ABS", FN_ABS, 1, 1},
    {"EXP", FN_EXP, 1, 1},
    {"LN", FN_LN, 1, 1},
    {"LOG10", FN_LOG10, 1, 1},
    {"MOD", FN_MOD, 2, 2},
    {"POWER", FN_POWER, 2, 2},
    {"CHAR_LENGTH", FN_CHAR_LENGTH, 1, 1},
    {"CHARACTER_LENGTH", FN_CHAR_LENGTH, 1, 1},
    {"UPPER", FN_UPPER, 1, 1},
    {"LOWER", FN_LOWER, 1, 1},
    {"INITCAP", FN_INITCAP, 1, 1},
    {"COALESCE", FN_COALESCE, 1, 64},
    {"NULLIF", FN_NULLIF, 2, 2},
    {"REGEX_REPLACE", FN_REGEX_REPLACE, 3, 5},
    {"TSDIFF", FN_TSDIFF, 2, 2},
    {"UNIX_TIMESTAMP", FN_UNIX_TIMESTAMP, 1, 1},
    {"TO_TIMESTAMP", FN_TO_TIMESTAMP, 1, 1},
    {"CHAR_TO_TIMESTAMP", FN_CHAR_TO_TIMESTAMP, 2, 2},
    {"CHAR_TO_DATE", FN_CHAR_TO_DATE, 2, 2},
    {"CHAR_TO_TIME", FN_CHAR_TO_TIME, 2, 2},
    {"TIMESTAMP_TO_CHAR", FN_TIMESTAMP_TO_CHAR, 2, 2},
    {"DATE_TO_CHAR", FN_DATE_TO_CHAR, 2, 2},
    {"TIME_TO_CHAR", FN_TIME_TO_CHAR, 2, 2},
    {"CURRENT_TIMESTAMP", FN_CURRENT_TIMESTAMP, 0, 0},
    {"LOCALTIMESTAMP", FN_CURRENT_TIMESTAMP, 0, 0},
    {"CURRENT_DATE", FN_CURRENT_DATE, 0, 0},
    {"CURRENT_TIME", FN_CURRENT_TIME, 0, 0},
    {"LOCALTIME", FN_CURRENT_TIME, 0, 0},
    {"CURRENT_ROW_TIMESTAMP", FN_CURRENT_ROW_TIMESTAMP, 0, 0},
    {"MONOTONIC", FN_MONOTONIC, 1, 1},
};

/* Looks a scalar function up: returns its id (and arity bounds) or 0. */
int sl_sql_fn_lookup(const char *name, int *min_args, int *max_args);
int sl_sql_fn_lookup(const char *name, int *min_args, int *max_args)
{
    for (size_t k = 0; k < sizeof(fn_table) / sizeof(fn_table[0]); k++)
        if (!strcmp(fn_table[k].name, name)) {
            *min_args = fn_table[k].min_args;
            *max_args = fn_table[k].max_args;
            return fn_table[k].id;
        }
    return 0;
}

/* Result type of function id given argument types (plan.c); SL_EINVAL-style 0 = type error. */
int sl_sql_fn_type(int id, sl_node **args, uint32_t n, sl_sql_type *out, const char **why);
int sl_sql_fn_type(int id, sl_node **args, uint32_t n, sl_sql_type *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    uint8_t t0 = n ? args[0]->type.id : 0;
    switch (id) {
    case FN_ABS:
        if (!sl_sql_type_is_numeric(t0) && t0 != SL_SQL_NULLTYPE && t0 != SL_SQL_INTERVAL) {
            *why = "ABS needs a numeric argument";
            return 0;
        }
        *out = args[0]->type;
        return 1;
    case FN_EXP:
    case FN_LN:
    case FN_LOG10:
    case FN_POWER:
        out->id = SL_SQL_DOUBLE;
        for (uint32_t k = 0; k < n; k++)
            if (!sl_sql_type_is_numeric(args[k]->type.id) && args[k]->type.id != SL_SQL_NULLTYPE) {
                *why = "numeric argument expected";
                return 0;
            }
        return 1;
    case FN_MOD:
        if (!sl_sql_type_is_exact(t0) || !sl_sql_type_is_exact(args[1]->type.id)) {
            *why = "MOD needs exact numeric arguments";
            return 0;
        }
        *out = args[1]->type;
        return 1;
    case FN_CHAR_LENGTH:
        out->id = SL_SQL_INTEGER;
        return 1;
    case FN_UPPER:
    case FN_LOWER:
    case FN_INITCAP:
        if (!sl_sql_type_is_string(t0) && t0 != SL_SQL_NULLTYPE) {
            *why = "character argument expected";
            return 0;
        }
        out->id = SL_SQL_VARCHAR;
        out->len = args[0]->type.len;
        return 1;
    case FN_MONOTONIC: /* an assertion for the planner (GROUP BY); the value passes through */
        *out = args[0]->type;
        return 1;
    case FN_COALESCE:
    case FN_NULLIF:
        *out = args[0]->type;
        for (uint32_t k = 1; k < n && out->id == SL_SQL_NULLTYPE; k++)
            *out = args[k]->type;
        if (sl_sql_type_is_numeric(out->id))
            for (uint32_t k = 0; k < n; k++)
                if (sl_sql_type_is_numeric(args[k]->type.id) && args[k]->type.id > out->id)
                    *out = args[k]->type;
        out->not_null = 0;
        return 1;
    case FN_REGEX_REPLACE:
        out->id = SL_SQL_VARCHAR;
        return 1;
    case FN_TSDIFF:
    case FN_UNIX_TIMESTAMP:
        out->id = SL_SQL_BIGINT;
        return 1;
    case FN_TO_TIMESTAMP:
    case FN_CHAR_TO_TIMESTAMP:
    case FN_CURRENT_TIMESTAMP:
    case FN_CURRENT_ROW_TIMESTAMP:
        out->id = SL_SQL_TIMESTAMP;
        return 1;
    case FN_CHAR_TO_DATE:
    case FN_CURRENT_DATE:
        out->id = SL_SQL_DATE;
        return 1;
    case FN_CHAR_TO_TIME:
    case FN_CURRENT_TIME:
        out->id = SL_SQL_TIME;
        return 1;
    case FN_TIMESTAMP_TO_CHAR:
    case FN_DATE_TO_CHAR:
    case FN_TIME_TO_CHAR:
        out->id = SL_SQL_VARCHAR;
        return 1;
    }
    *why = "unknown function";
    return 0;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int eval_call(sl_eval *ev, const sl_node *n, sl_sql_value *out)
{
    sl_sql_value a[5];
    uint32_t na = n->n_kids < 5 ? n->n_kids : 5;
    int id = n->op;
    if (id == FN_LOG_PARSE) {
        sl_sql_value in;
        if (sl_sql_eval(ev, n->kids[0], &in))
            return -1;
        return sl_sql_logparse_eval(n->aux, ev, &in, (size_t)n->idx, out);
    }
    if (id == FN_COALESCE) {
        for (uint32_t k = 0; k < n->n_kids; k++) {
            sl_sql_value v;
            if (sl_sql_eval(ev, n->kids[k], &v))
                return -1;
            if (!v.is_null) {
                if (v.type != n->type.id && sl_sql_type_is_numeric(n->type.id))
                    return sl_sql_cast(ev, &v, &n->type, out, 0);
                *out = v;
                return 0;
            }
        }
        set_null(out, n->type.id);
        return 0;
    }
    for (uint32_t k = 0; k < na; k++)
        if (sl_sql_eval(ev, n->kids[k], &a[k]))
            return -1;
    if (id == FN_MONOTONIC) {
        *out = a[0];
        return 0;
    }
    if (id == FN_NULLIF) {
        if (!a[0].is_null && !a[1].is_null && sl_sql_compare(&a[0], &a[1]) == 0)
            set_null(out, n->type.id);
        else
            *out = a[0];
        return 0;
    }
    if (id == FN_CURRENT_TIMESTAMP || id == FN_CURRENT_ROW_TIMESTAMP) {
        set_int(out, SL_SQL_TIMESTAMP, wall_ms());
        return 0;
    }
    if (id == FN_CURRENT_DATE) {
        set_int(out, SL_SQL_DATE, sl_sql_floor_ts(wall_ms(), U_DAY));
        return 0;
    }
    if (id == FN_CURRENT_TIME) {
        int64_t w = wall_ms();
        set_int(out, SL_SQL_TIME, w - sl_sql_floor_ts(w, U_DAY));
        return 0;
    }
    for (uint32_t k = 0; k < na; k++)
        if (a[k].is_null) {
            set_null(out, n->type.id);
            return 0;
        }
    switch (id) {
    case FN_ABS:
        if (is_dbl(a[0].type))
            set_dbl(out, n->type.id, fabs(a[0].u.d));
        else {
            if (a[0].u.i == INT64_MIN)
                return fail(ev, "NumericOverflow", "ABS overflow");
            set_int(out, n->type.id, a[0].u.i < 0 ? -a[0].u.i : a[0].u.i);
        }
        return 0;
    case FN_EXP:
        set_dbl(out, SL_SQL_DOUBLE, exp(as_dbl(&a[0])));
        return 0;
    case FN_LN:
    case FN_LOG10: {
        double x = as_dbl(&a[0]);
        if (x <= 0)
            return fail(ev, "FunctionError", "logarithm of a non-positive number");
        set_dbl(out, SL_SQL_DOUBLE, id == FN_LN ? log(x) : log10(x));
        return 0;
    }
    case FN_POWER:
        set_dbl(out, SL_SQL_DOUBLE, pow(as_dbl(&a[0]), as_dbl(&a[1])));
        return 0;
    case FN_MOD:
        if (a[1].u.i == 0)
            return fail(ev, "DivisionByZero", "MOD by zero");
        if (a[1].u.i == -1)
            set_int(out, n->type.id, 0);
        else
            set_int(out, n->type.id, a[0].u.i % a[1].u.i);
        return 0;
    case FN_CHAR_LENGTH:
        set_int(out, SL_SQL_INTEGER, a[0].len);
        return 0;
    case FN_UPPER:
    case FN_LOWER:
    case FN_INITCAP: {
        char *o = sl_arena_alloc(ev->scratch, a[0].len + 1);
        if (!o)
            return fail(ev, "FunctionError", "out of memory");
        int start = 1;
        for (uint32_t k = 0; k < a[0].len; k++) {
            unsigned char c = (unsigned char)a[0].u.s[k];
            if (id == FN_UPPER)
                o[k] = (char)toupper(c);
            else if (id == FN_LOWER)
                o[k] = (char)tolower(c);
            else {
                o[k] = (char)(start ? toupper(c) : tolower(c));
                start = !isalnum(c);
            }
        }
        set_str(out, o, a[0].len);
        return 0;
    }
    case FN_REGEX_REPLACE: {
        int64_t start = na > 3 ? a[3].u.i : 1, occ = na > 4 ? a[4].u.i : 0;
        if (start < 1 || occ < 0)
            return fail(ev, "FunctionError", "REGEX_REPLACE: bad start or occurrence");
        regex_t tmp, *re = NULL;
        int owned = regex_get(ev, n, a[1].u.s, a[1].len, 0, &tmp, &re);
        if (owned < 0)
            return -1;
        char *subj = sl_arena_strndup(ev->scratch, a[0].u.s, a[0].len);
        if (!subj) {
            if (owned == 1)
                regfree(&tmp);
            return fail(ev, "FunctionError", "out of memory");
        }
        sl_buf o = SL_BUF_INIT;
        size_t pos = (size_t)(start - 1) < a[0].len ? (size_t)(start - 1) : a[0].len;
        sl_buf_append(&o, subj, pos);
        int64_t count = 0;
        regmatch_t m[10];
        while (pos <= a[0].len) {
            if (regexec(re, subj + pos, 10, m, pos ? REG_NOTBOL : 0))
                break;
            count++;
            size_t ms = pos + (size_t)m[0].rm_so, me = pos + (size_t)m[0].rm_eo;
            sl_buf_append(&o, subj + pos, ms - pos);
            if (occ == 0 || count == occ) {
                for (uint32_t k = 0; k < a[2].len; k++) {
                    char c = a[2].u.s[k];
                    if (c == '$' && k + 1 < a[2].len && isdigit((unsigned char)a[2].u.s[k + 1])) {
                        int g = a[2].u.s[++k] - '0';
                        if (m[g].rm_so >= 0)
                            sl_buf_append(&o, subj + pos + m[g].rm_so,
                                          (size_t)(m[g].rm_eo - m[g].rm_so));
                    } else if (c == '\\' && k + 1 < a[2].len) {
                        sl_buf_append_byte(&o, (uint8_t)a[2].u.s[++k]);
                    } else {
                        sl_buf_append_byte(&o, (uint8_t)c);
                    }
                }
            } else {
                sl_buf_append(&o, subj + ms, me - ms);
            }
            if (me == ms) {
                if (me < a[0].len)
                    sl_buf_append_byte(&o, (uint8_t)subj[me]);
                pos = me + 1;
            } else {
                pos = me;
            }
            if (occ && count == occ)
                break;
        }
        if (pos < a[0].len)
            sl_buf_append(&o, subj + pos, a[0].len - pos);
        if (owned == 1)
            regfree(&tmp);
        char *r = sl_arena_strndup(ev->scratch, o.data ? o.data : "", o.len);
        size_t rl = o.len;
        int oom = o.oom;
        sl_buf_cleanup(&o);
        if (!r || oom)
            return fail(ev, "FunctionError", "out of memory");
        set_str(out, r, rl);
        return 0;
    }
    case FN_TSDIFF:
        set_int(out, SL_SQL_BIGINT, a[0].u.i - a[1].u.i);
        return 0;
    case FN_UNIX_TIMESTAMP:
        set_int(out, SL_SQL_BIGINT, a[0].u.i);
        return 0;
    case FN_TO_TIMESTAMP:
        set_int(out, SL_SQL_TIMESTAMP, is_dbl(a[0].type) ? (int64_t)a[0].u.d : a[0].u.i);
        return 0;
    case FN_CHAR_TO_TIMESTAMP:
    case FN_CHAR_TO_DATE:
    case FN_CHAR_TO_TIME: {
        int64_t ms = 0;
        if (parse_datetime(ev, a[0].u.s, a[0].len, a[1].u.s, a[1].len, &ms))
            return -1;
        if (id == FN_CHAR_TO_DATE)
            ms = sl_sql_floor_ts(ms, U_DAY);
        else if (id == FN_CHAR_TO_TIME)
            ms -= sl_sql_floor_ts(ms, U_DAY);
        set_int(out, n->type.id, ms);
        return 0;
    }
    case FN_TIMESTAMP_TO_CHAR:
    case FN_DATE_TO_CHAR:
    case FN_TIME_TO_CHAR:
        return fmt_datetime(ev, a[0].u.s, a[0].len, a[1].u.i, out);
    }
    return fail(ev, "FunctionError", "function not supported");
}

/* ---- arithmetic ------------------------------------------------------------------------- */

static int arith(sl_eval *ev, const sl_node *n, const sl_sql_value *l, const sl_sql_value *r,
                 sl_sql_value *out)
{
    uint8_t t = n->type.id;
    int op = n->op;
    if (t == SL_SQL_TIMESTAMP || t == SL_SQL_DATE || t == SL_SQL_TIME) {
        /* datetime +/- interval, interval + datetime */
        int64_t base = sl_sql_type_is_datetime(l->type) ? l->u.i : r->u.i;
        int64_t iv = sl_sql_type_is_datetime(l->type) ? r->u.i : l->u.i;
        int64_t v = op == B_ADD ? base + iv : base - iv;
        if (t == SL_SQL_TIME)
            v = ((v % 86400000) + 86400000) % 86400000;
        set_int(out, t, v);
        return 0;
    }
    if (t == SL_SQL_INTERVAL) {
        int64_t v;
        if (op == B_SUB)
            v = l->u.i - r->u.i;
        else if (op == B_ADD)
            v = l->u.i + r->u.i;
        else if (op == B_MUL)
            v = (int64_t)(as_dbl(l) * as_dbl(r));
        else {
            if (as_dbl(r) == 0)
                return fail(ev, "DivisionByZero", "division by zero");
            v = (int64_t)(as_dbl(l) / as_dbl(r));
        }
        set_int(out, t, v);
        return 0;
    }
    if (is_dbl(t)) {
        double x = as_dbl(l), y = as_dbl(r), v;
        switch (op) {
        case B_ADD:
            v = x + y;
            break;
        case B_SUB:
            v = x - y;
            break;
        case B_MUL:
            v = x * y;
            break;
        default:
            if (y == 0)
                return fail(ev, "DivisionByZero", "division by zero");
            v = x / y;
        }
        set_dbl(out, t, v);
        return 0;
    }
    int64_t x = l->u.i, y = r->u.i, v;
    int ovf = 0;
    switch (op) {
    case B_ADD:
        ovf = __builtin_add_overflow(x, y, &v);
        break;
    case B_SUB:
        ovf = __builtin_sub_overflow(x, y, &v);
        break;
    case B_MUL:
        ovf = __builtin_mul_overflow(x, y, &v);
        break;
    default:
        if (y == 0)
            return fail(ev, "DivisionByZero", "division by zero");
        if (x == INT64_MIN && y == -1)
            ovf = 1, v = 0;
        else
            v = x / y;
    }
    if (ovf)
        return fail(ev, "NumericOverflow", "arithmetic overflow");
    if (range_check(ev, t, v))
        return -1;
    set_int(out, t, v);
    return 0;
}

/* Compares two non-NULL values after bringing a string to the other side's datetime type. */
static int cmp_values(sl_eval *ev, sl_sql_value *l, sl_sql_value *r, int *c)
{
    if (sl_sql_type_is_datetime(l->type) && sl_sql_type_is_string(r->type)) {
        sl_sql_type t = {.id = l->type};
        sl_sql_value tmp;
        if (sl_sql_cast(ev, r, &t, &tmp, 0))
            return -1;
        *r = tmp;
    } else if (sl_sql_type_is_datetime(r->type) && sl_sql_type_is_string(l->type)) {
        sl_sql_type t = {.id = r->type};
        sl_sql_value tmp;
        if (sl_sql_cast(ev, l, &t, &tmp, 0))
            return -1;
        *l = tmp;
    }
    *c = sl_sql_compare(l, r);
    return 0;
}

static int eval_bool(sl_eval *ev, const sl_node *n, int *b) /* -1 err; *b: 0,1, 2=unknown */
{
    sl_sql_value v;
    if (sl_sql_eval(ev, n, &v))
        return -1;
    *b = v.is_null ? 2 : (v.u.i != 0);
    return 0;
}

static void set_bool3(sl_sql_value *o, int b)
{
    if (b == 2)
        set_null(o, SL_SQL_BOOLEAN);
    else
        set_int(o, SL_SQL_BOOLEAN, b);
}

int sl_sql_eval(sl_eval *ev, const sl_node *n, sl_sql_value *out)
{
    sl_sql_value l, r;
    switch (n->kind) {
    case N_LIT:
        *out = n->lit;
        return 0;
    case N_REF: {
        const sl_sql_value *row = n->side ? ev->jrow : ev->row;
        if (!row)
            set_null(out, n->type.id);
        else
            *out = row[n->idx];
        return 0;
    }
    case N_ROWTIME:
        if (n->side == 2) {
            set_int(out, SL_SQL_TIMESTAMP, ev->arrival);
            return 0;
        }
        if (n->side == 1 && !ev->jrow)
            set_null(out, SL_SQL_TIMESTAMP);
        else
            set_int(out, SL_SQL_TIMESTAMP,
                    n->side < 0 ? ev->out_rowtime
                    : n->side   ? ev->jrowtime
                                : ev->rowtime);
        return 0;
    case N_KEY:
        *out = ev->keys[n->idx];
        return 0;
    case N_AGG:
        *out = ev->aggs[n->idx];
        return 0;
    case N_UNARY:
        if (sl_sql_eval(ev, n->kids[0], &l))
            return -1;
        if (n->op == 'N') {
            if (l.is_null)
                set_null(out, SL_SQL_BOOLEAN);
            else
                set_int(out, SL_SQL_BOOLEAN, !l.u.i);
            return 0;
        }
        if (l.is_null || n->op == '+') {
            *out = l;
            return 0;
        }
        if (is_dbl(l.type)) {
            set_dbl(out, l.type, -l.u.d);
            return 0;
        }
        if (l.u.i == INT64_MIN)
            return fail(ev, "NumericOverflow", "negation overflow");
        set_int(out, l.type, -l.u.i);
        return range_check(ev, l.type, -l.u.i);
    case N_BINARY: {
        if (n->op == B_AND || n->op == B_OR) {
            int a, b;
            if (eval_bool(ev, n->kids[0], &a))
                return -1;
            if (n->op == B_AND && a == 0) {
                set_int(out, SL_SQL_BOOLEAN, 0);
                return 0;
            }
            if (n->op == B_OR && a == 1) {
                set_int(out, SL_SQL_BOOLEAN, 1);
                return 0;
            }
            if (eval_bool(ev, n->kids[1], &b))
                return -1;
            if (n->op == B_AND)
                set_bool3(out, b == 0 ? 0 : (a == 2 || b == 2) ? 2 : 1);
            else
                set_bool3(out, b == 1 ? 1 : (a == 2 || b == 2) ? 2 : 0);
            return 0;
        }
        if (sl_sql_eval(ev, n->kids[0], &l) || sl_sql_eval(ev, n->kids[1], &r))
            return -1;
        if (l.is_null || r.is_null) {
            set_null(out, n->type.id);
            return 0;
        }
        if (n->op >= B_EQ && n->op <= B_GE) {
            int c;
            if (cmp_values(ev, &l, &r, &c))
                return -1;
            int b;
            switch (n->op) {
            case B_EQ:
                b = c == 0;
                break;
            case B_NE:
                b = c != 0;
                break;
            case B_LT:
                b = c < 0;
                break;
            case B_LE:
                b = c <= 0;
                break;
            case B_GT:
                b = c > 0;
                break;
            default:
                b = c >= 0;
            }
            set_int(out, SL_SQL_BOOLEAN, b);
            return 0;
        }
        if (n->op == B_CONCAT) {
            const char *ls, *rs;
            size_t ln, rn;
            if (sl_sql_value_text(&l, ev->scratch, &ls, &ln) ||
                sl_sql_value_text(&r, ev->scratch, &rs, &rn))
                return fail(ev, "FunctionError", "out of memory");
            char *o = sl_arena_alloc(ev->scratch, ln + rn + 1);
            if (!o)
                return fail(ev, "FunctionError", "out of memory");
            memcpy(o, ls, ln);
            memcpy(o + ln, rs, rn);
            set_str(out, o, ln + rn);
            return 0;
        }
        return arith(ev, n, &l, &r, out);
    }
    case N_CALL:
        return eval_call(ev, n, out);
    case N_CASE: {
        uint32_t k = 0;
        int has_op = n->flags & 1, has_else = (n->flags & 2) != 0;
        sl_sql_value opv;
        if (has_op && sl_sql_eval(ev, n->kids[k++], &opv))
            return -1;
        uint32_t end = n->n_kids - (uint32_t)has_else;
        for (; k + 1 < end + 1 && k < end; k += 2) {
            int hit;
            if (has_op) {
                sl_sql_value w;
                if (sl_sql_eval(ev, n->kids[k], &w))
                    return -1;
                int c;
                hit = 0;
                if (!opv.is_null && !w.is_null) {
                    sl_sql_value a1 = opv;
                    if (cmp_values(ev, &a1, &w, &c))
                        return -1;
                    hit = c == 0;
                }
            } else {
                int b;
                if (eval_bool(ev, n->kids[k], &b))
                    return -1;
                hit = b == 1;
            }
            if (hit) {
                if (sl_sql_eval(ev, n->kids[k + 1], &l))
                    return -1;
                goto case_out;
            }
        }
        if (has_else) {
            if (sl_sql_eval(ev, n->kids[n->n_kids - 1], &l))
                return -1;
        } else {
            set_null(&l, n->type.id);
        }
    case_out:
        if (!l.is_null && l.type != n->type.id && n->type.id != SL_SQL_NULLTYPE &&
            !(sl_sql_type_is_string(l.type) && sl_sql_type_is_string(n->type.id)))
            return sl_sql_cast(ev, &l, &n->type, out, 0);
        *out = l;
        return 0;
    }
    case N_CAST:
        if (sl_sql_eval(ev, n->kids[0], &l))
            return -1;
        return sl_sql_cast(ev, &l, &n->cast_type, out, 0);
    case N_IS: {
        if (sl_sql_eval(ev, n->kids[0], &l))
            return -1;
        int b;
        switch (n->op) {
        case 'N':
            b = l.is_null;
            break;
        case 'U':
            b = l.is_null;
            break;
        case 'T':
            b = !l.is_null && l.u.i;
            break;
        default:
            b = !l.is_null && !l.u.i;
        }
        set_int(out, SL_SQL_BOOLEAN, n->neg ? !b : b);
        return 0;
    }
    case N_BETWEEN: {
        sl_sql_value x, lo, hi;
        if (sl_sql_eval(ev, n->kids[0], &x) || sl_sql_eval(ev, n->kids[1], &lo) ||
            sl_sql_eval(ev, n->kids[2], &hi))
            return -1;
        if (x.is_null || lo.is_null || hi.is_null) {
            set_null(out, SL_SQL_BOOLEAN);
            return 0;
        }
        int c1, c2;
        sl_sql_value x2 = x;
        if (cmp_values(ev, &x, &lo, &c1) || cmp_values(ev, &x2, &hi, &c2))
            return -1;
        int b = c1 >= 0 && c2 <= 0;
        set_int(out, SL_SQL_BOOLEAN, n->neg ? !b : b);
        return 0;
    }
    case N_IN: {
        sl_sql_value x;
        if (sl_sql_eval(ev, n->kids[0], &x))
            return -1;
        if (x.is_null) {
            set_null(out, SL_SQL_BOOLEAN);
            return 0;
        }
        int unknown = 0;
        for (uint32_t k = 1; k < n->n_kids; k++) {
            sl_sql_value y, x2 = x;
            if (sl_sql_eval(ev, n->kids[k], &y))
                return -1;
            if (y.is_null) {
                unknown = 1;
                continue;
            }
            int c;
            if (cmp_values(ev, &x2, &y, &c))
                return -1;
            if (c == 0) {
                set_int(out, SL_SQL_BOOLEAN, !n->neg);
                return 0;
            }
        }
        if (unknown)
            set_null(out, SL_SQL_BOOLEAN);
        else
            set_int(out, SL_SQL_BOOLEAN, n->neg);
        return 0;
    }
    case N_LIKE: {
        sl_sql_value x, p, e;
        if (sl_sql_eval(ev, n->kids[0], &x) || sl_sql_eval(ev, n->kids[1], &p))
            return -1;
        int esc = -1;
        if (n->n_kids > 2) {
            if (sl_sql_eval(ev, n->kids[2], &e))
                return -1;
            if (!e.is_null) {
                if (e.len != 1)
                    return fail(ev, "FunctionError", "ESCAPE must be one character");
                esc = (unsigned char)e.u.s[0];
            }
        }
        if (x.is_null || p.is_null) {
            set_null(out, SL_SQL_BOOLEAN);
            return 0;
        }
        int b;
        if (n->op == 'L') {
            b = like_match(x.u.s, x.len, p.u.s, p.len, esc);
        } else {
            regex_t tmp, *re = n->aux;
            int owned = 0;
            if (!re) {
                char *ere = similar_to_ere(ev->scratch, p.u.s, p.len, esc);
                if (!ere || !sl_sql_regex_ok(ere) || regcomp(&tmp, ere, REG_EXTENDED | REG_NOSUB))
                    return fail(ev, "FunctionError", "invalid SIMILAR TO pattern");
                re = &tmp;
                owned = 1;
            }
            char *z = sl_arena_strndup(ev->scratch, x.u.s, x.len);
            if (!z)
                return fail(ev, "FunctionError", "out of memory");
            b = regexec(re, z, 0, NULL, 0) == 0;
            if (owned)
                regfree(&tmp);
        }
        set_int(out, SL_SQL_BOOLEAN, n->neg ? !b : b);
        return 0;
    }
    case N_EXTRACT: {
        if (sl_sql_eval(ev, n->kids[0], &l))
            return -1;
        if (l.is_null) {
            set_null(out, SL_SQL_BIGINT);
            return 0;
        }
        int64_t y, v;
        unsigned mo, d, h, mi, s, milli;
        if (l.type == SL_SQL_INTERVAL) {
            int64_t ms = l.u.i < 0 ? -l.u.i : l.u.i;
            switch (n->unit) {
            case U_DAY:
                v = ms / 86400000;
                break;
            case U_HOUR:
                v = ms / 3600000 % 24;
                break;
            case U_MINUTE:
                v = ms / 60000 % 60;
                break;
            case U_SECOND:
                v = ms / 1000 % 60;
                break;
            default:
                v = 0;
            }
            set_int(out, SL_SQL_BIGINT, l.u.i < 0 ? -v : v);
            return 0;
        }
        sl_sql_civil(l.u.i, &y, &mo, &d, &h, &mi, &s, &milli);
        switch (n->unit) {
        case U_YEAR:
            v = y;
            break;
        case U_MONTH:
            v = mo;
            break;
        case U_DAY:
            v = d;
            break;
        case U_HOUR:
            v = h;
            break;
        case U_MINUTE:
            v = mi;
            break;
        default:
            v = s;
        }
        set_int(out, SL_SQL_BIGINT, v);
        return 0;
    }
    case N_FLOOR:
    case N_CEIL: {
        if (sl_sql_eval(ev, n->kids[0], &l))
            return -1;
        if (l.is_null) {
            set_null(out, n->type.id);
            return 0;
        }
        if (n->unit) {
            int64_t f = sl_sql_floor_ts(l.u.i, n->unit);
            if (n->kind == N_CEIL && f != l.u.i)
                f = sl_sql_add_unit(f, n->unit, 1);
            set_int(out, l.type, f);
            return 0;
        }
        if (is_dbl(l.type))
            set_dbl(out, l.type, n->kind == N_FLOOR ? floor(l.u.d) : ceil(l.u.d));
        else
            *out = l;
        return 0;
    }
    case N_STEP: {
        if (sl_sql_eval(ev, n->kids[0], &l) || sl_sql_eval(ev, n->kids[1], &r))
            return -1;
        if (l.is_null || r.is_null) {
            set_null(out, n->type.id);
            return 0;
        }
        if (r.u.i <= 0)
            return fail(ev, "FunctionError", "STEP size must be positive");
        int64_t q = l.u.i / r.u.i;
        if (l.u.i % r.u.i && l.u.i < 0)
            q--;
        set_int(out, l.type, q * r.u.i);
        return 0;
    }
    case N_POSITION: {
        if (sl_sql_eval(ev, n->kids[0], &l) || sl_sql_eval(ev, n->kids[1], &r))
            return -1;
        if (l.is_null || r.is_null) {
            set_null(out, SL_SQL_INTEGER);
            return 0;
        }
        int64_t pos = 0;
        if (l.len == 0)
            pos = 1;
        else
            for (uint32_t k = 0; k + l.len <= r.len; k++)
                if (!memcmp(r.u.s + k, l.u.s, l.len)) {
                    pos = k + 1;
                    break;
                }
        set_int(out, SL_SQL_INTEGER, pos);
        return 0;
    }
    case N_SUBSTRING: {
        sl_sql_value f, c;
        if (sl_sql_eval(ev, n->kids[0], &l) || sl_sql_eval(ev, n->kids[1], &f))
            return -1;
        int has_for = n->n_kids > 2;
        if (has_for && sl_sql_eval(ev, n->kids[2], &c))
            return -1;
        if (l.is_null || f.is_null || (has_for && c.is_null)) {
            set_null(out, SL_SQL_VARCHAR);
            return 0;
        }
        int64_t s = f.u.i, e = has_for ? f.u.i + c.u.i : (int64_t)l.len + 1;
        if (has_for && c.u.i < 0)
            return fail(ev, "FunctionError", "SUBSTRING length is negative");
        if (s < 1)
            s = 1;
        if (e > (int64_t)l.len + 1)
            e = (int64_t)l.len + 1;
        if (e < s)
            e = s;
        set_str(out, l.u.s + s - 1, (size_t)(e - s));
        return 0;
    }
    case N_TRIM: {
        sl_sql_value c = {.type = SL_SQL_VARCHAR, .len = 1, .u.s = " "};
        if (sl_sql_eval(ev, n->kids[0], &l))
            return -1;
        if (n->n_kids > 1 && sl_sql_eval(ev, n->kids[1], &c))
            return -1;
        if (l.is_null || c.is_null) {
            set_null(out, SL_SQL_VARCHAR);
            return 0;
        }
        if (c.len != 1)
            return fail(ev, "FunctionError", "TRIM character must be one character");
        size_t b = 0, e = l.len;
        if (n->op != 'T')
            while (b < e && l.u.s[b] == c.u.s[0])
                b++;
        if (n->op != 'L')
            while (e > b && l.u.s[e - 1] == c.u.s[0])
                e--;
        set_str(out, l.u.s + b, e - b);
        return 0;
    }
    case N_OVERLAY: {
        sl_sql_value f, c;
        if (sl_sql_eval(ev, n->kids[0], &l) || sl_sql_eval(ev, n->kids[1], &r) ||
            sl_sql_eval(ev, n->kids[2], &f))
            return -1;
        int has_for = n->n_kids > 3;
        if (has_for && sl_sql_eval(ev, n->kids[3], &c))
            return -1;
        if (l.is_null || r.is_null || f.is_null || (has_for && c.is_null)) {
            set_null(out, SL_SQL_VARCHAR);
            return 0;
        }
        int64_t s = f.u.i - 1, len = has_for ? c.u.i : r.len;
        if (s < 0 || len < 0)
            return fail(ev, "FunctionError", "OVERLAY position out of range");
        if (s > (int64_t)l.len)
            s = l.len;
        int64_t e = s + len > (int64_t)l.len ? (int64_t)l.len : s + len;
        size_t tot = (size_t)s + r.len + (l.len - (size_t)e);
        char *o = sl_arena_alloc(ev->scratch, tot + 1);
        if (!o)
            return fail(ev, "FunctionError", "out of memory");
        memcpy(o, l.u.s, (size_t)s);
        memcpy(o + s, r.u.s, r.len);
        memcpy(o + s + r.len, l.u.s + e, l.len - (size_t)e);
        set_str(out, o, tot);
        return 0;
    }
    default:
        return fail(ev, "FunctionError", "expression not supported here");
    }
}
