/* The log-parsing functions of the Analytics SQL dialect: REGEX_LOG_PARSE,
 * FAST_REGEX_LOG_PARSER, FIXED_COLUMN_LOG_PARSE, VARIABLE_COLUMN_LOG_PARSE, SYS_LOG_PARSE and
 * W3C_LOG_PARSE. Each returns a row; the planner (plan.c) expands a call used as a select item
 * `f(...) AS r` into one column per field, named "R.COLUMN1" … (or the names a column list
 * gives), so an outer query reads them as `t.r.COLUMN1`.
 *
 * How: sl_sql_logparse_compile reads the literal arguments once (pattern, column list,
 * delimiters, format) into an sl_logparse; at run time every column of one call evaluates
 * sl_sql_logparse_eval, which parses the input string once per distinct input (the last
 * input and its fields are cached in the parser: one call's columns are evaluated one after
 * the other on the same row) and returns one field, as VARCHAR or converted to the column's
 * declared type with CAST rules. An input that does not match gives NULL in every column.
 * Regular expressions are Java-style patterns translated to POSIX extended syntax (\d, \D,
 * \w, \s and their use inside brackets, (?:…) groups, \t \n \r) and refused when
 * sl_sql_regex_ok finds them too costly (the regcomp blow-up the fuzzer found).
 * The choices where the SQL reference is silent are written down in docs/analytics.md.
 *
 * Threads: a parser belongs to its application (one worker thread at a time). */
#include <ctype.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sql_int.h"

#define LP_MAX_COLS 64
#define LP_TEXT_LEN 1024

enum { LP_REGEX = 1, LP_FIXED, LP_VARIABLE, LP_SYSLOG, LP_W3C };

typedef struct lp_col {
    char name[140];
    sl_sql_type type;
    int64_t start, len; /* FIXED: 0-based start, length (-1: to the end) */
} lp_col;

typedef struct w3c_item {
    int field;     /* else a literal */
    int bracketed; /* %t: "[...]" taken whole */
    char lit[32];  /* literal text */
    size_t lit_len;
} w3c_item;

struct sl_logparse {
    int kind;
    lp_col cols[LP_MAX_COLS];
    size_t n_cols;
    regex_t re;
    int have_re;
    int group_of[LP_MAX_COLS]; /* column k <- POSIX group group_of[k] */
    size_t n_groups;           /* POSIX groups (all, capturing or not) */
    char delims[32];
    char esc;
    w3c_item items[64];
    size_t n_items;
    /* cache: the last input and its fields (text in out, offsets; -1 start = NULL) */
    char *in;
    size_t in_len, in_cap;
    int cached, matched;
    sl_buf out;
    int64_t off[LP_MAX_COLS][2];
};

int sl_sql_is_log_parser(const char *name)
{
    return !strcmp(name, "REGEX_LOG_PARSE") || !strcmp(name, "FAST_REGEX_LOG_PARSER") ||
           !strcmp(name, "FIXED_COLUMN_LOG_PARSE") || !strcmp(name, "VARIABLE_COLUMN_LOG_PARSE") ||
           !strcmp(name, "SYS_LOG_PARSE") || !strcmp(name, "W3C_LOG_PARSE");
}

void sl_sql_logparse_free(sl_logparse *lp)
{
    if (!lp)
        return;
    if (lp->have_re)
        regfree(&lp->re);
    free(lp->in);
    sl_buf_cleanup(&lp->out);
    free(lp);
}

size_t sl_sql_logparse_n_cols(const sl_logparse *lp)
{
    return lp->n_cols;
}

const char *sl_sql_logparse_col_name(const sl_logparse *lp, size_t k)
{
    return lp->cols[k].name;
}

sl_sql_type sl_sql_logparse_col_type(const sl_logparse *lp, size_t k)
{
    return lp->cols[k].type;
}

/* ---- compile ------------------------------------------------------------------------------ */

static int lit_text(const sl_node *n, const char **s, size_t *len)
{
    if (n->kind != N_LIT || n->lit.is_null ||
        (n->lit.type != SL_SQL_VARCHAR && n->lit.type != SL_SQL_CHAR))
        return 0;
    *s = n->lit.u.s;
    *len = n->lit.len;
    return 1;
}

static void default_cols(sl_logparse *lp, size_t n)
{
    lp->n_cols = n;
    for (size_t k = 0; k < n; k++) {
        snprintf(lp->cols[k].name, sizeof(lp->cols[k].name), "COLUMN%zu", k + 1);
        lp->cols[k].type.id = SL_SQL_VARCHAR;
        lp->cols[k].type.len = LP_TEXT_LEN;
    }
}

static int word_is(const char *s, size_t n, const char *w)
{
    size_t l = strlen(w);
    if (n < l || strncasecmp(s, w, l))
        return 0;
    return n == l || isspace((unsigned char)s[l]) || s[l] == '(';
}

/* One column description: name [TYPE] type [NOT NULL] [START n [FOR m]] (START/FOR only when
 * fixed). Unquoted names fold to upper case, "quoted" ones keep theirs. */
static int parse_col(const char *s, size_t n, int fixed, lp_col *c, char *err, size_t cap)
{
    size_t i = 0;
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    size_t k = 0;
    if (i < n && s[i] == '"') {
        for (i++; i < n && s[i] != '"' && k + 1 < sizeof(c->name); i++)
            c->name[k++] = s[i];
        if (i >= n) {
            snprintf(err, cap, "unterminated quoted column name");
            return -1;
        }
        i++;
    } else {
        for (; i < n && (isalnum((unsigned char)s[i]) || s[i] == '_') && k + 1 < sizeof(c->name);
             i++)
            c->name[k++] = (char)toupper((unsigned char)s[i]);
    }
    c->name[k] = 0;
    if (!k) {
        snprintf(err, cap, "a column description needs a name");
        return -1;
    }
    while (i < n && isspace((unsigned char)s[i]))
        i++;
    if (word_is(s + i, n - i, "TYPE"))
        i += 4;
    /* the type runs up to NOT NULL / START / the end */
    size_t t0 = i, t1 = n;
    c->start = 0;
    c->len = -1;
    for (size_t j = i; j < n; j++) {
        if (j > t0 && !isspace((unsigned char)s[j - 1]))
            continue;
        if (word_is(s + j, n - j, "NOT") || word_is(s + j, n - j, "START")) {
            t1 = j;
            break;
        }
    }
    char tt[64];
    while (t1 > t0 && isspace((unsigned char)s[t1 - 1]))
        t1--;
    if (t1 == t0 || t1 - t0 >= sizeof(tt)) {
        snprintf(err, cap, "column %s needs a type", c->name);
        return -1;
    }
    memcpy(tt, s + t0, t1 - t0);
    tt[t1 - t0] = 0;
    if (sl_sql_type_parse(tt, &c->type)) {
        snprintf(err, cap, "column %s: unknown type '%s'", c->name, tt);
        return -1;
    }
    const char *st = NULL;
    for (size_t j = t1; j + 5 <= n; j++)
        if (word_is(s + j, n - j, "START")) {
            st = s + j + 5;
            break;
        }
    if (fixed) {
        if (!st) {
            snprintf(err, cap, "column %s needs START <position>", c->name);
            return -1;
        }
        char *e;
        c->start = strtoll(st, &e, 10);
        if (e == st || c->start < 0) {
            snprintf(err, cap, "column %s: START needs a non-negative integer", c->name);
            return -1;
        }
        while (e < s + n && isspace((unsigned char)*e))
            e++;
        if (e < s + n && word_is(e, (size_t)(s + n - e), "FOR")) {
            const char *f = e + 3;
            c->len = strtoll(f, &e, 10);
            if (e == f || c->len < 0) {
                snprintf(err, cap, "column %s: FOR needs a non-negative integer", c->name);
                return -1;
            }
        }
    } else if (st) {
        snprintf(err, cap, "column %s: START is for FIXED_COLUMN_LOG_PARSE", c->name);
        return -1;
    }
    return 0;
}

/* A comma-separated list of column descriptions (commas inside parentheses belong to types). */
static int parse_cols(sl_logparse *lp, const char *s, size_t n, int fixed, char *err, size_t cap)
{
    size_t a = 0;
    int depth = 0, quoted = 0;
    lp->n_cols = 0;
    for (size_t i = 0; i <= n; i++) {
        char ch = i < n ? s[i] : ',';
        if (ch == '"')
            quoted = !quoted;
        else if (!quoted && ch == '(')
            depth++;
        else if (!quoted && ch == ')')
            depth--;
        if (ch != ',' || depth || quoted)
            continue;
        if (lp->n_cols == LP_MAX_COLS) {
            snprintf(err, cap, "at most %d columns", LP_MAX_COLS);
            return -1;
        }
        if (parse_col(s + a, i - a, fixed, &lp->cols[lp->n_cols], err, cap))
            return -1;
        lp->n_cols++;
        a = i + 1;
    }
    return 0;
}

/* Java-style pattern -> POSIX ERE; records which POSIX groups capture. */
static int translate_regex(sl_logparse *lp, const char *s, size_t n, sl_buf *out, char *err,
                           size_t cap)
{
    int in_br = 0;
    size_t ncap = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char d = s[++i];
            const char *rep = NULL;
            switch (d) {
            case 'd':
                rep = in_br ? "0-9" : "[0-9]";
                break;
            case 'D':
                rep = in_br ? NULL : "[^0-9]";
                break;
            case 'w':
                rep = in_br ? "[:alnum:]_" : "[[:alnum:]_]";
                break;
            case 'W':
                rep = in_br ? NULL : "[^[:alnum:]_]";
                break;
            case 's':
                rep = in_br ? "[:space:]" : "[[:space:]]";
                break;
            case 'S':
                rep = in_br ? NULL : "[^[:space:]]";
                break;
            case 't':
                rep = "\t";
                break;
            case 'n':
                rep = "\n";
                break;
            case 'r':
                rep = "\r";
                break;
            default:
                break;
            }
            if (in_br)
                in_br++;
            if (rep) {
                sl_buf_append_str(out, rep);
            } else if (in_br && (d == 'D' || d == 'W' || d == 'S')) {
                snprintf(err, cap, "\\%c inside brackets is not supported", d);
                return -1;
            } else if (in_br && (d == ']' || d == '-' || d == '^')) {
                snprintf(err, cap, "\\%c inside brackets is not supported; place it first", d);
                return -1;
            } else if (in_br) {
                sl_buf_append_byte(out, d); /* POSIX brackets take characters literally */
            } else if (isalnum((unsigned char)d)) {
                snprintf(err, cap, "escape \\%c is not supported", d);
                return -1;
            } else {
                sl_buf_append_byte(out, '\\');
                sl_buf_append_byte(out, d);
            }
            continue;
        }
        if (in_br) {
            if (c == '[' && i + 1 < n && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
                /* [:class:] [.coll.] [=equiv=] are copied whole */
                char kind = s[i + 1];
                size_t j = i + 2;
                while (j + 1 < n && !(s[j] == kind && s[j + 1] == ']'))
                    j++;
                if (j + 1 >= n) {
                    snprintf(err, cap, "unterminated [%c in the pattern", kind);
                    return -1;
                }
                sl_buf_append(out, s + i, j + 2 - i);
                i = j + 1;
                in_br++;
                continue;
            }
            if (c == ']' && in_br > 1)
                in_br = 0;
            else
                in_br++;
            sl_buf_append_byte(out, c);
            continue;
        }
        if (c == '[') {
            in_br = 1;
            sl_buf_append_byte(out, c);
            if (i + 1 < n && s[i + 1] == '^') {
                sl_buf_append_byte(out, '^');
                i++;
            }
            if (i + 1 < n && s[i + 1] == ']') { /* a leading ] is literal */
                sl_buf_append_byte(out, ']');
                i++;
                in_br++;
            }
            continue;
        }
        if (c == '(') {
            lp->n_groups++;
            if (i + 2 < n && s[i + 1] == '?') {
                if (s[i + 2] != ':') {
                    snprintf(err, cap, "(?%c...) groups are not supported", s[i + 2]);
                    return -1;
                }
                i += 2;
            } else if (ncap < LP_MAX_COLS) {
                lp->group_of[ncap++] = (int)lp->n_groups;
            }
        }
        sl_buf_append_byte(out, c);
    }
    if (in_br) {
        snprintf(err, cap, "unterminated [ in the pattern");
        return -1;
    }
    if (!ncap) {
        snprintf(err, cap, "the pattern has no capturing group");
        return -1;
    }
    if (lp->n_cols > ncap) {
        snprintf(err, cap, "%zu columns but only %zu capturing groups", lp->n_cols, ncap);
        return -1;
    }
    if (!lp->n_cols)
        default_cols(lp, ncap);
    return 0;
}

static const char *w3c_named(const char *s, size_t n)
{
    static const struct {
        const char *name, *fmt;
    } named[] = {
        {"COMMON", "%h %l %u %t \"%r\" %>s %b"},
        {"COMMON WITH VHOST", "%v %h %l %u %t \"%r\" %>s %b"},
        {"NCSA EXTENDED", "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""},
        {"COMBINED", "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""},
        {"REFERER", "%{Referer}i -> %U"},
        {"AGENT", "%{User-agent}i"},
    };
    for (size_t k = 0; k < sizeof(named) / sizeof(named[0]); k++)
        if (strlen(named[k].name) == n && !strncasecmp(named[k].name, s, n))
            return named[k].fmt;
    return NULL;
}

/* An Apache LogFormat string -> literals and fields (one column per % directive). */
static int w3c_compile(sl_logparse *lp, const char *s, size_t n, char *err, size_t cap)
{
    const char *f = w3c_named(s, n);
    if (f) {
        s = f;
        n = strlen(f);
    }
    size_t fields = 0;
    for (size_t i = 0; i < n;) {
        if (lp->n_items == sizeof(lp->items) / sizeof(lp->items[0]))
            goto too_long;
        w3c_item *it = &lp->items[lp->n_items];
        memset(it, 0, sizeof(*it));
        if (s[i] == '%' && i + 1 < n && s[i + 1] != '%') {
            size_t j = i + 1;
            while (j < n && (s[j] == '<' || s[j] == '>'))
                j++;
            if (j < n && s[j] == '{') {
                while (j < n && s[j] != '}')
                    j++;
                j++;
            }
            if (j >= n || !isalpha((unsigned char)s[j])) {
                snprintf(err, cap, "malformed %% directive in the log format");
                return -1;
            }
            it->field = 1;
            it->bracketed = s[j] == 't';
            if (lp->n_items && lp->items[lp->n_items - 1].field) {
                snprintf(err, cap, "two %% directives need a separator between them");
                return -1;
            }
            fields++;
            lp->n_items++;
            i = j + 1;
            continue;
        }
        /* literal run up to the next directive */
        while (i < n && !(s[i] == '%' && i + 1 < n && s[i + 1] != '%')) {
            if (it->lit_len + 1 >= sizeof(it->lit))
                goto too_long;
            it->lit[it->lit_len++] = s[i];
            i += s[i] == '%' ? 2 : 1;
        }
        lp->n_items++;
    }
    if (!fields || fields > LP_MAX_COLS) {
        snprintf(err, cap,
                 "the log format needs 1-%d %% directives (or COMMON, COMMON WITH VHOST, "
                 "NCSA EXTENDED, COMBINED, REFERER, AGENT)",
                 LP_MAX_COLS);
        return -1;
    }
    default_cols(lp, fields);
    return 0;
too_long:
    snprintf(err, cap, "the log format is too long");
    return -1;
}

int sl_sql_logparse_compile(const char *fn, sl_node **args, uint32_t n_args, sl_logparse **out,
                            uint32_t *err_pos, char *err, size_t cap)
{
    sl_logparse *lp = calloc(1, sizeof(*lp));
    if (!lp)
        return SL_ENOMEM;
    sl_buf re = SL_BUF_INIT;
    const char *s = NULL;
    size_t sn = 0;
    int rc = SL_EINVAL;
    *err_pos = args[0]->pos;
    if (!strcmp(fn, "SYS_LOG_PARSE")) {
        if (n_args != 1) {
            snprintf(err, cap, "SYS_LOG_PARSE takes one argument");
            goto fail;
        }
        lp->kind = LP_SYSLOG;
        default_cols(lp, 4);
        lp->cols[0].type.id = SL_SQL_TIMESTAMP;
        lp->cols[0].type.len = 0;
        *out = lp;
        return 0;
    }
    int regex = !strcmp(fn, "REGEX_LOG_PARSE") || !strcmp(fn, "FAST_REGEX_LOG_PARSER");
    int variable = !strcmp(fn, "VARIABLE_COLUMN_LOG_PARSE");
    uint32_t lo = 2, hi = regex ? 3 : variable ? 4 : 2;
    if (n_args < lo || n_args > hi) {
        snprintf(err, cap, "wrong number of arguments to %s", fn);
        goto fail;
    }
    for (uint32_t k = 1; k < n_args; k++) {
        *err_pos = args[k]->pos;
        if (variable && k == 1 && args[1]->kind == N_LIT && !args[1]->lit.is_null &&
            sl_sql_type_is_exact(args[1]->lit.type))
            continue;
        if (!lit_text(args[k], &s, &sn)) {
            snprintf(err, cap, "%s: argument %u must be a string literal", fn, k + 1);
            goto fail;
        }
    }
    *err_pos = args[1]->pos;
    if (regex) {
        lp->kind = LP_REGEX;
        if (n_args == 3 && (lit_text(args[2], &s, &sn), parse_cols(lp, s, sn, 0, err, cap)))
            goto fail;
        lit_text(args[1], &s, &sn);
        if (translate_regex(lp, s, sn, &re, err, cap))
            goto fail;
        sl_buf_append_byte(&re, 0);
        if (!sl_sql_regex_ok(re.data) || regcomp(&lp->re, re.data, REG_EXTENDED)) {
            snprintf(err, cap, "invalid or too complex regular expression");
            goto fail;
        }
        lp->have_re = 1;
    } else if (!strcmp(fn, "FIXED_COLUMN_LOG_PARSE")) {
        lp->kind = LP_FIXED;
        lit_text(args[1], &s, &sn);
        if (parse_cols(lp, s, sn, 1, err, cap))
            goto fail;
    } else if (variable) {
        lp->kind = LP_VARIABLE;
        if (args[1]->kind == N_LIT && sl_sql_type_is_exact(args[1]->lit.type)) {
            if (args[1]->lit.u.i < 1 || args[1]->lit.u.i > LP_MAX_COLS) {
                snprintf(err, cap, "the column count must be 1-%d", LP_MAX_COLS);
                goto fail;
            }
            default_cols(lp, (size_t)args[1]->lit.u.i);
        } else {
            lit_text(args[1], &s, &sn);
            if (parse_cols(lp, s, sn, 0, err, cap))
                goto fail;
        }
        *err_pos = args[2]->pos;
        lit_text(args[2], &s, &sn);
        if (!sn || sn >= sizeof(lp->delims)) {
            snprintf(err, cap, "the delimiter string must hold 1-%zu characters",
                     sizeof(lp->delims) - 1);
            goto fail;
        }
        memcpy(lp->delims, s, sn);
        if (n_args == 4) {
            *err_pos = args[3]->pos;
            lit_text(args[3], &s, &sn);
            if (sn != 1) {
                snprintf(err, cap, "the escape string must be one character");
                goto fail;
            }
            lp->esc = s[0];
        }
    } else { /* W3C_LOG_PARSE */
        lp->kind = LP_W3C;
        lit_text(args[1], &s, &sn);
        if (w3c_compile(lp, s, sn, err, cap))
            goto fail;
    }
    sl_buf_cleanup(&re);
    *out = lp;
    return 0;
fail:
    sl_buf_cleanup(&re);
    sl_sql_logparse_free(lp);
    return rc;
}

/* ---- run ---------------------------------------------------------------------------------- */

static void put(sl_logparse *lp, size_t col, const char *s, size_t n)
{
    if (col >= lp->n_cols)
        return;
    lp->off[col][0] = (int64_t)lp->out.len;
    lp->off[col][1] = (int64_t)n;
    sl_buf_append(&lp->out, s, n);
}

static int parse_regex(sl_logparse *lp)
{
    regmatch_t m[LP_MAX_COLS * 2 + 1];
    size_t ng =
        lp->n_groups + 1 < sizeof(m) / sizeof(m[0]) ? lp->n_groups + 1 : sizeof(m) / sizeof(m[0]);
    if (regexec(&lp->re, lp->in, ng, m, 0))
        return 0;
    for (size_t k = 0; k < lp->n_cols; k++) {
        size_t g = (size_t)lp->group_of[k];
        if (g < ng && m[g].rm_so >= 0)
            put(lp, k, lp->in + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
    }
    return 1;
}

static int parse_fixed(sl_logparse *lp)
{
    for (size_t k = 0; k < lp->n_cols; k++) {
        const lp_col *c = &lp->cols[k];
        if ((size_t)c->start >= lp->in_len)
            continue; /* past the end: NULL */
        size_t a = (size_t)c->start;
        size_t b = c->len < 0 || a + (size_t)c->len > lp->in_len ? lp->in_len : a + (size_t)c->len;
        /* fields are blank-padded: trailing blanks go; leading ones too unless a string */
        while (b > a && lp->in[b - 1] == ' ')
            b--;
        if (!sl_sql_type_is_string(c->type.id))
            while (a < b && lp->in[a] == ' ')
                a++;
        put(lp, k, lp->in + a, b - a);
    }
    return 1;
}

static int parse_variable(sl_logparse *lp)
{
    size_t col = 0, start = lp->out.len;
    for (size_t i = 0; i <= lp->in_len && col < lp->n_cols; i++) {
        char c = i < lp->in_len ? lp->in[i] : 0;
        if (lp->esc && c == lp->esc && i + 1 < lp->in_len) {
            sl_buf_append_byte(&lp->out, lp->in[++i]);
            continue;
        }
        if (i == lp->in_len || (c && strchr(lp->delims, c))) {
            lp->off[col][0] = (int64_t)start;
            lp->off[col][1] = (int64_t)(lp->out.len - start);
            col++;
            start = lp->out.len;
            continue;
        }
        sl_buf_append_byte(&lp->out, c);
    }
    return 1;
}

static int parse_syslog(sl_logparse *lp)
{
    const char *s = lp->in, *e = lp->in + lp->in_len;
    if (s < e && *s == '<') { /* <PRI> */
        const char *g = memchr(s, '>', (size_t)(e - s));
        if (!g || g - s > 4)
            return 0;
        s = g + 1;
    }
    /* "Mmm dd hh:mm:ss" */
    if (e - s < 16 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' || s[15] != ' ')
        return 0;
    put(lp, 0, s, 15);
    s += 16;
    const char *h = s;
    while (s < e && *s != ' ')
        s++;
    if (s == h || s == e)
        return 0;
    put(lp, 1, h, (size_t)(s - h));
    s++;
    /* TAG[pid]: message -- a first word ending in ':' is the tag */
    const char *t = s;
    while (t < e && *t != ' ' && *t != ':')
        t++;
    if (t < e && *t == ':' && t > s) {
        put(lp, 2, s, (size_t)(t - s));
        s = t + 1;
        if (s < e && *s == ' ')
            s++;
    }
    put(lp, 3, s, (size_t)(e - s));
    return 1;
}

static int parse_w3c(sl_logparse *lp)
{
    const char *s = lp->in, *e = lp->in + lp->in_len;
    while (e > s && (e[-1] == '\n' || e[-1] == '\r'))
        e--;
    size_t col = 0;
    for (size_t k = 0; k < lp->n_items; k++) {
        const w3c_item *it = &lp->items[k];
        if (!it->field) {
            if ((size_t)(e - s) < it->lit_len || memcmp(s, it->lit, it->lit_len))
                return 0;
            s += it->lit_len;
            continue;
        }
        const char *a = s;
        if (it->bracketed && s < e && *s == '[') {
            const char *c = memchr(s, ']', (size_t)(e - s));
            if (!c)
                return 0;
            s = c + 1;
        } else if (k + 1 == lp->n_items) {
            s = e;
        } else {
            char stop = lp->items[k + 1].lit[0];
            while (s < e && *s != stop) {
                if (stop == '"' && *s == '\\' && s + 1 < e)
                    s++; /* \" inside a quoted field */
                s++;
            }
            if (s == e)
                return 0;
        }
        put(lp, col++, a, (size_t)(s - a)); /* "-" (Apache's empty field) is kept as text */
    }
    return 1;
}

static const int month_len = 3;

static int syslog_time(const char *s, int64_t rowtime, int64_t *out)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    unsigned mo = 0;
    for (unsigned k = 0; k < 12; k++)
        if (!strncmp(s, mon[k], (size_t)month_len))
            mo = k + 1;
    unsigned d = 0, h = 0, mi = 0, se = 0;
    char tail;
    if (!mo || sscanf(s + 4, "%2u %2u:%2u:%2u%c", &d, &h, &mi, &se, &tail) < 4 || !d || d > 31 ||
        h > 23 || mi > 59 || se > 59)
        return -1;
    int64_t y;
    unsigned a, b, c, e, f, g;
    sl_sql_civil(rowtime, &y, &a, &b, &c, &e, &f, &g);
    int64_t t = sl_sql_make_ts(y, mo, d, h, mi, se, 0);
    if (t > rowtime + 86400000LL) /* no year in syslog: a December line read in January */
        t = sl_sql_make_ts(y - 1, mo, d, h, mi, se, 0);
    *out = t;
    return 0;
}

int sl_sql_logparse_eval(sl_logparse *lp, sl_eval *ev, const sl_sql_value *in, size_t col,
                         sl_sql_value *out)
{
    const sl_sql_type *t = &lp->cols[col].type;
    memset(out, 0, sizeof(*out));
    out->type = t->id;
    out->is_null = 1;
    if (in->is_null)
        return 0;
    if (!lp->cached || in->len != lp->in_len || (in->len && memcmp(in->u.s, lp->in, in->len))) {
        if (in->len + 1 > lp->in_cap) {
            char *nb = realloc(lp->in, in->len + 1);
            if (!nb) {
                ev->err_name = "FunctionError";
                snprintf(ev->err_msg, sizeof(ev->err_msg), "out of memory");
                return -1;
            }
            lp->in = nb;
            lp->in_cap = in->len + 1;
        }
        if (in->len)
            memcpy(lp->in, in->u.s, in->len);
        lp->in[in->len] = 0;
        lp->in_len = in->len;
        lp->out.len = 0;
        for (size_t k = 0; k < lp->n_cols; k++)
            lp->off[k][0] = -1;
        switch (lp->kind) {
        case LP_REGEX:
            lp->matched = parse_regex(lp);
            break;
        case LP_FIXED:
            lp->matched = parse_fixed(lp);
            break;
        case LP_VARIABLE:
            lp->matched = parse_variable(lp);
            break;
        case LP_SYSLOG:
            lp->matched = parse_syslog(lp);
            break;
        default:
            lp->matched = parse_w3c(lp);
        }
        lp->cached = 1;
    }
    if (!lp->matched || lp->off[col][0] < 0)
        return 0;
    const char *fs = lp->out.data + lp->off[col][0];
    size_t fl = (size_t)lp->off[col][1];
    if (lp->kind == LP_SYSLOG && col == 0) {
        int64_t ms;
        if (syslog_time(fs, ev->rowtime, &ms))
            return 0;
        out->is_null = 0;
        out->u.i = ms;
        return 0;
    }
    char *copy = sl_arena_strndup(ev->scratch, fs, fl);
    if (!copy) {
        ev->err_name = "FunctionError";
        snprintf(ev->err_msg, sizeof(ev->err_msg), "out of memory");
        return -1;
    }
    sl_sql_value v = {.type = SL_SQL_VARCHAR, .len = (uint32_t)fl};
    v.u.s = copy;
    if (sl_sql_type_is_string(t->id))
        return sl_sql_assign(ev, &v, t, out);
    return sl_sql_cast(ev, &v, t, out, 0);
}
