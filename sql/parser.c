/* Recursive-descent parser of Kinesis Analytics application code into sl_stmt / sl_query /
 * sl_node trees (spec §2.9 grammar).
 *
 * Statements: CREATE [OR REPLACE] STREAM name (col type [NOT NULL], ...) [DESCRIPTION '..']
 * and CREATE [OR REPLACE] PUMP name AS INSERT INTO stream [(cols)] query, separated by ';'.
 * Queries: SELECT [STREAM] [DISTINCT|ALL] items FROM from [join] [WHERE] [GROUP BY |
 * WINDOWED BY STAGGER(...)] [HAVING] [WINDOW w AS (...), ...], chained by UNION ALL, with an
 * optional ORDER BY. FROM items are names [OVER window] [[AS] alias], (sub-queries) alias, or
 * TABLE(fn(CURSOR(query), args)). Expressions follow the precedence of §2.9 and the special
 * forms CAST, EXTRACT, FLOOR/CEIL(x TO unit), STEP(x BY i), POSITION, SUBSTRING, TRIM,
 * OVERLAY, CASE, INTERVAL and typed literals.
 *
 * Keywords are unquoted identifier tokens compared after folding; a quoted identifier is never
 * a keyword. Reserved words used as names without quotes are refused here with the position. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

typedef struct parser {
    const char *code;
    size_t len;
    sl_tok *t;
    size_t n, i;
    sl_arena *a;
    sl_diag *d;
    int depth;
} parser;

#define CUR(p)   (&(p)->t[(p)->i])
#define MAXDEPTH 200

static int err_at(parser *p, uint32_t pos, const char *msg, const char *what)
    __attribute__((format(printf, 3, 0)));
static int err_at(parser *p, uint32_t pos, const char *msg, const char *what)
{
    char text[200];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(text, sizeof(text), msg, what);
#pragma GCC diagnostic pop
    return sl_sql_diag(p->d, SL_EPARSE, p->code, p->len, pos, "%s", text);
}

static int err_here(parser *p, const char *expected)
{
    sl_tok *t = CUR(p);
    if (t->kind == T_EOF)
        return sl_sql_diag(p->d, SL_EPARSE, p->code, p->len, t->pos,
                           "expected %s but found end of input", expected);
    return sl_sql_diag(p->d, SL_EPARSE, p->code, p->len, t->pos, "expected %s but found '%.40s'",
                       expected, t->text);
}

static int is_kw(parser *p, const char *kw)
{
    sl_tok *t = CUR(p);
    return t->kind == T_IDENT && !t->quoted && strcmp(t->text, kw) == 0;
}

static int is_kw_at(parser *p, size_t off, const char *kw)
{
    if (p->i + off >= p->n)
        return 0;
    sl_tok *t = &p->t[p->i + off];
    return t->kind == T_IDENT && !t->quoted && strcmp(t->text, kw) == 0;
}

static int accept_kw(parser *p, const char *kw)
{
    if (is_kw(p, kw)) {
        p->i++;
        return 1;
    }
    return 0;
}

static int expect_kw(parser *p, const char *kw)
{
    if (accept_kw(p, kw))
        return 0;
    return err_here(p, kw);
}

static int is_op(parser *p, const char *op)
{
    sl_tok *t = CUR(p);
    return t->kind == T_OP && strcmp(t->text, op) == 0;
}

static int accept_op(parser *p, const char *op)
{
    if (is_op(p, op)) {
        p->i++;
        return 1;
    }
    return 0;
}

static int expect_op(parser *p, const char *op)
{
    if (accept_op(p, op))
        return 0;
    char what[8];
    snprintf(what, sizeof(what), "'%s'", op);
    return err_here(p, what);
}

/* A name: quoted identifier, or an unquoted non-reserved one (already folded). */
static int name(parser *p, char **out, uint32_t *pos)
{
    sl_tok *t = CUR(p);
    if (t->kind != T_IDENT)
        return err_here(p, "a name");
    if (!t->quoted && sl_sql_is_reserved(t->text))
        return err_at(p, t->pos, "'%s' is a reserved word; quote it to use it as a name", t->text);
    *out = t->text;
    if (pos)
        *pos = t->pos;
    p->i++;
    return 0;
}

static sl_node *mk(parser *p, int kind, uint32_t pos, uint32_t n_kids)
{
    sl_node *n = sl_arena_alloc(p->a, sizeof(*n));
    if (!n)
        return NULL;
    n->kind = (uint16_t)kind;
    n->pos = pos;
    n->idx = -1;
    if (n_kids) {
        n->kids = sl_arena_alloc(p->a, n_kids * sizeof(sl_node *));
        if (!n->kids)
            return NULL;
    }
    n->n_kids = n_kids;
    return n;
}

/* Growable pointer lists in the arena. */
typedef struct plist {
    void **v;
    uint32_t n, cap;
} plist;

static int plist_push(parser *p, plist *l, void *x)
{
    if (l->n == l->cap) {
        uint32_t nc = l->cap ? l->cap * 2 : 8;
        void **nv = sl_arena_alloc(p->a, nc * sizeof(void *));
        if (!nv)
            return SL_ENOMEM;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(void *));
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = x;
    return 0;
}

static int parse_expr(parser *p, sl_node **out);
static int parse_query(parser *p, sl_query **out);

static int unit_of(const char *kw)
{
    static const char *const u[] = {"YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"};
    for (int i = 0; i < 6; i++)
        if (strcmp(kw, u[i]) == 0)
            return U_YEAR + i;
    if (strcmp(kw, "MILLISECOND") == 0)
        return U_MILLISECOND;
    return U_NONE;
}

static int parse_unit(parser *p, int *unit)
{
    sl_tok *t = CUR(p);
    if (t->kind == T_IDENT && !t->quoted && (*unit = unit_of(t->text)) != U_NONE) {
        p->i++;
        return 0;
    }
    return err_here(p, "a time unit (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND)");
}

/* INTERVAL [-]'text' unit [TO unit] -> milliseconds. Day-time units only. */
static int parse_interval(parser *p, int64_t *ms_out, uint32_t *pos_out)
{
    uint32_t pos = CUR(p)->pos;
    int rc = expect_kw(p, "INTERVAL");
    if (rc)
        return rc;
    int neg = accept_op(p, "-");
    if (CUR(p)->kind != T_STRING)
        return err_here(p, "an interval string");
    const char *txt = CUR(p)->text;
    uint32_t spos = CUR(p)->pos;
    p->i++;
    int u1, u2 = U_NONE;
    if ((rc = parse_unit(p, &u1)))
        return rc;
    if (accept_kw(p, "TO") && (rc = parse_unit(p, &u2)))
        return rc;
    if (u1 == U_YEAR || u1 == U_MONTH || u2 == U_YEAR || u2 == U_MONTH)
        return err_at(p, pos, "%s intervals are not supported; use day-time units", "year-month");
    /* parse fields: numbers separated by ' ', ':' or '.' */
    const char *s = txt;
    if (*s == '-') {
        neg = !neg;
        s++;
    } else if (*s == '+') {
        s++;
    }
    int64_t fields[5];
    int nf = 0;
    int64_t frac_ms = 0;
    while (*s) {
        if (nf == 5)
            return err_at(p, spos, "malformed interval '%s'", txt);
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 0)
            return err_at(p, spos, "malformed interval '%s'", txt);
        fields[nf++] = v;
        s = end;
        if (*s == '.' && (u2 == U_SECOND || (u2 == U_NONE && u1 == U_SECOND))) {
            s++;
            int digits = 0;
            while (*s >= '0' && *s <= '9') {
                if (digits < 3)
                    frac_ms = frac_ms * 10 + (*s - '0');
                digits++;
                s++;
            }
            for (; digits < 3; digits++)
                frac_ms *= 10;
            if (*s)
                return err_at(p, spos, "malformed interval '%s'", txt);
            break;
        }
        if (*s == ' ' || *s == ':')
            s++;
        else if (*s)
            return err_at(p, spos, "malformed interval '%s'", txt);
    }
    int last = u2 == U_NONE ? u1 : u2;
    if (last < u1 || nf != last - u1 + 1)
        return err_at(p, spos, "malformed interval '%s'", txt);
    int64_t ms = 0;
    for (int k = 0; k < nf; k++) {
        int64_t um = sl_sql_unit_ms(u1 + k);
        if (fields[k] > INT64_MAX / 4 / um)
            return err_at(p, spos, "interval '%s' out of range", txt);
        ms += fields[k] * um;
    }
    ms += frac_ms;
    *ms_out = neg ? -ms : ms;
    if (pos_out)
        *pos_out = pos;
    return 0;
}

static int parse_type(parser *p, sl_sql_type *out)
{
    sl_tok *t = CUR(p);
    memset(out, 0, sizeof(*out));
    if (t->kind != T_IDENT || t->quoted)
        return err_here(p, "a type");
    const char *k = t->text;
    uint32_t tpos = t->pos;
    p->i++;
    int want_len = 0, need_len = 0;
    if (!strcmp(k, "TINYINT"))
        out->id = SL_SQL_TINYINT;
    else if (!strcmp(k, "SMALLINT"))
        out->id = SL_SQL_SMALLINT;
    else if (!strcmp(k, "INTEGER") || !strcmp(k, "INT"))
        out->id = SL_SQL_INTEGER;
    else if (!strcmp(k, "BIGINT"))
        out->id = SL_SQL_BIGINT;
    else if (!strcmp(k, "REAL"))
        out->id = SL_SQL_REAL;
    else if (!strcmp(k, "FLOAT"))
        out->id = SL_SQL_DOUBLE;
    else if (!strcmp(k, "DOUBLE")) {
        out->id = SL_SQL_DOUBLE;
        accept_kw(p, "PRECISION");
    } else if (!strcmp(k, "BOOLEAN"))
        out->id = SL_SQL_BOOLEAN;
    else if (!strcmp(k, "DATE"))
        out->id = SL_SQL_DATE;
    else if (!strcmp(k, "TIME"))
        out->id = SL_SQL_TIME;
    else if (!strcmp(k, "TIMESTAMP"))
        out->id = SL_SQL_TIMESTAMP;
    else if (!strcmp(k, "DECIMAL") || !strcmp(k, "DEC") || !strcmp(k, "NUMERIC")) {
        out->id = SL_SQL_DECIMAL;
        out->len = 19;
        if (accept_op(p, "(")) {
            if (CUR(p)->kind != T_NUMBER)
                return err_here(p, "a precision");
            out->len = (uint32_t)strtoul(CUR(p)->text, NULL, 10);
            p->i++;
            if (accept_op(p, ",")) {
                if (CUR(p)->kind != T_NUMBER)
                    return err_here(p, "a scale");
                out->scale = (uint16_t)strtoul(CUR(p)->text, NULL, 10);
                p->i++;
            }
            int rc = expect_op(p, ")");
            if (rc)
                return rc;
            if (out->len < 1 || out->len > 19 || out->scale > out->len)
                return err_at(p, tpos, "invalid %s precision or scale", "DECIMAL");
        }
        return 0;
    } else if (!strcmp(k, "CHAR") || !strcmp(k, "CHARACTER")) {
        if (accept_kw(p, "VARYING")) {
            out->id = SL_SQL_VARCHAR;
            need_len = 1;
        } else {
            out->id = SL_SQL_CHAR;
            out->len = 1;
        }
        want_len = 1;
    } else if (!strcmp(k, "VARCHAR")) {
        out->id = SL_SQL_VARCHAR;
        want_len = need_len = 1;
    } else if (!strcmp(k, "BINARY")) {
        out->id = SL_SQL_BINARY;
        out->len = 1;
        want_len = 1;
    } else if (!strcmp(k, "VARBINARY")) {
        out->id = SL_SQL_VARBINARY;
        want_len = need_len = 1;
    } else {
        return err_at(p, tpos, "unknown type '%s'", k);
    }
    if (want_len) {
        if (accept_op(p, "(")) {
            if (CUR(p)->kind != T_NUMBER)
                return err_here(p, "a length");
            unsigned long v = strtoul(CUR(p)->text, NULL, 10);
            if (v < 1 || v >= 65535)
                return err_at(p, CUR(p)->pos, "length %s out of range (1-65534)", CUR(p)->text);
            out->len = (uint32_t)v;
            p->i++;
            int rc = expect_op(p, ")");
            if (rc)
                return rc;
        } else if (need_len) {
            return err_here(p, "'(' and a length");
        }
    }
    return 0;
}

static int parse_wspec(parser *p, sl_wspec **out)
{
    int rc;
    sl_wspec *w = sl_arena_alloc(p->a, sizeof(*w));
    if (!w)
        return SL_ENOMEM;
    w->pos = CUR(p)->pos;
    if ((rc = expect_op(p, "(")))
        return rc;
    if (accept_kw(p, "PARTITION")) {
        if ((rc = expect_kw(p, "BY")))
            return rc;
        plist l = {0};
        do {
            sl_node *e;
            if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                return rc;
        } while (accept_op(p, ","));
        w->partition = (sl_node **)l.v;
        w->n_partition = l.n;
    }
    if (is_kw(p, "ORDER"))
        return err_at(p, CUR(p)->pos, "%s is not allowed in a window specification", "ORDER BY");
    if (accept_kw(p, "ROWS")) {
        w->rows = 1;
        int between = accept_kw(p, "BETWEEN");
        if (between && accept_kw(p, "UNBOUNDED"))
            return err_at(p, CUR(p)->pos, "%s windows are not supported", "unbounded");
        if (CUR(p)->kind != T_NUMBER) {
            if (is_kw(p, "CURRENT"))
                return err_at(p, CUR(p)->pos, "%s", "a window frame must have a size");
            return err_here(p, "a row count");
        }
        char *end;
        long long v = strtoll(CUR(p)->text, &end, 10);
        if (*end || v < 1 || v > 1000000)
            return err_at(p, CUR(p)->pos, "window size %s must be a positive integer",
                          CUR(p)->text);
        w->size = v;
        p->i++;
        if (accept_kw(p, "FOLLOWING"))
            return err_at(p, CUR(p)->pos, "%s frames are not allowed here", "FOLLOWING");
        if ((rc = expect_kw(p, "PRECEDING")))
            return rc;
        if (between && ((rc = expect_kw(p, "AND")) || (rc = expect_kw(p, "CURRENT")) ||
                        (rc = expect_kw(p, "ROW"))))
            return rc;
    } else if (accept_kw(p, "RANGE")) {
        int between = accept_kw(p, "BETWEEN");
        if (between && accept_kw(p, "UNBOUNDED"))
            return err_at(p, CUR(p)->pos, "%s windows are not supported", "unbounded");
        uint32_t ipos;
        if ((rc = parse_interval(p, &w->size, &ipos)))
            return rc;
        if (w->size <= 0)
            return err_at(p, ipos, "window size must be positive%s", "");
        if (accept_kw(p, "FOLLOWING"))
            w->following = 1;
        else if ((rc = expect_kw(p, "PRECEDING")))
            return rc;
        if (between && ((rc = expect_kw(p, "AND")) || (rc = expect_kw(p, "CURRENT")) ||
                        (rc = expect_kw(p, "ROW"))))
            return rc;
    } else {
        return err_here(p, "ROWS or RANGE");
    }
    if ((rc = expect_op(p, ")")))
        return rc;
    *out = w;
    return 0;
}

static int parse_args(parser *p, sl_node *call)
{
    plist l = {0};
    int rc;
    if (!is_op(p, ")")) {
        if (accept_kw(p, "DISTINCT"))
            call->distinct = 1;
        else
            accept_kw(p, "ALL");
        if (is_op(p, "*")) {
            sl_node *s = mk(p, N_STAR, CUR(p)->pos, 0);
            if (!s)
                return SL_ENOMEM;
            p->i++;
            if ((rc = plist_push(p, &l, s)))
                return rc;
        } else {
            do {
                sl_node *e;
                if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                    return rc;
            } while (accept_op(p, ","));
        }
    }
    if ((rc = expect_op(p, ")")))
        return rc;
    call->kids = (sl_node **)l.v;
    call->n_kids = l.n;
    return 0;
}

static int lit_string(parser *p, sl_node *n, const sl_tok *t)
{
    n->lit.type = SL_SQL_VARCHAR;
    n->lit.u.s = t->text;
    n->lit.len = t->len;
    return 0;
}

static int parse_primary(parser *p, sl_node **out)
{
    sl_tok *t = CUR(p);
    uint32_t pos = t->pos;
    int rc;
    sl_node *n;
    if (t->kind == T_NUMBER) {
        n = mk(p, N_LIT, pos, 0);
        if (!n)
            return SL_ENOMEM;
        if (strpbrk(t->text, ".eE")) {
            n->lit.type = strpbrk(t->text, "eE") ? SL_SQL_DOUBLE : SL_SQL_DECIMAL;
            n->lit.u.d = strtod(t->text, NULL);
            /* exact decimals are carried as DOUBLE (see docs) */
            n->lit.type = SL_SQL_DOUBLE;
        } else {
            errno = 0;
            unsigned long long v = strtoull(t->text, NULL, 10);
            if (errno || v > INT64_MAX) {
                n->lit.type = SL_SQL_DOUBLE;
                n->lit.u.d = strtod(t->text, NULL);
            } else {
                n->lit.type = v <= INT32_MAX ? SL_SQL_INTEGER : SL_SQL_BIGINT;
                n->lit.u.i = (int64_t)v;
            }
        }
        p->i++;
        *out = n;
        return 0;
    }
    if (t->kind == T_STRING) {
        n = mk(p, N_LIT, pos, 0);
        if (!n)
            return SL_ENOMEM;
        lit_string(p, n, t);
        p->i++;
        /* adjacent string literals concatenate */
        *out = n;
        return 0;
    }
    if (t->kind == T_HEX) {
        n = mk(p, N_LIT, pos, 0);
        if (!n)
            return SL_ENOMEM;
        size_t bl = t->len / 2;
        char *b = sl_arena_alloc(p->a, bl + 1);
        if (!b)
            return SL_ENOMEM;
        for (size_t k = 0; k < bl; k++) {
            unsigned v;
            sscanf(t->text + 2 * k, "%2x", &v);
            b[k] = (char)v;
        }
        n->lit.type = SL_SQL_VARBINARY;
        n->lit.u.s = b;
        n->lit.len = (uint32_t)bl;
        p->i++;
        *out = n;
        return 0;
    }
    if (t->kind == T_OP && !strcmp(t->text, "(")) {
        p->i++;
        if ((rc = parse_expr(p, out)))
            return rc;
        return expect_op(p, ")");
    }
    if (t->kind != T_IDENT)
        return err_here(p, "an expression");
    if (!t->quoted) {
        const char *k = t->text;
        if (!strcmp(k, "TRUE") || !strcmp(k, "FALSE") || !strcmp(k, "UNKNOWN") ||
            !strcmp(k, "NULL")) {
            n = mk(p, N_LIT, pos, 0);
            if (!n)
                return SL_ENOMEM;
            if (k[0] == 'T' || k[0] == 'F') {
                n->lit.type = SL_SQL_BOOLEAN;
                n->lit.u.i = k[0] == 'T';
            } else {
                n->lit.type = k[0] == 'U' ? SL_SQL_BOOLEAN : SL_SQL_NULLTYPE;
                n->lit.is_null = 1;
            }
            p->i++;
            *out = n;
            return 0;
        }
        if ((!strcmp(k, "DATE") || !strcmp(k, "TIME") || !strcmp(k, "TIMESTAMP")) &&
            p->t[p->i + 1].kind == T_STRING) {
            sl_tok *s = &p->t[p->i + 1];
            n = mk(p, N_LIT, pos, 0);
            if (!n)
                return SL_ENOMEM;
            int64_t ms;
            if (!strcmp(k, "TIME")) {
                unsigned h, mi, se = 0, f = 0;
                int c = sscanf(s->text, "%u:%u:%u.%3u", &h, &mi, &se, &f);
                if (c < 2 || h > 23 || mi > 59 || se > 59)
                    return err_at(p, s->pos, "malformed TIME literal '%s'", s->text);
                ms = ((int64_t)h * 3600 + mi * 60 + se) * 1000 + f;
                n->lit.type = SL_SQL_TIME;
            } else {
                if (sl_sql_parse_timestamp(s->text, s->len, &ms))
                    return err_at(p, s->pos, "malformed datetime literal '%s'", s->text);
                n->lit.type = k[1] == 'A' ? SL_SQL_DATE : SL_SQL_TIMESTAMP;
                if (n->lit.type == SL_SQL_DATE)
                    ms = sl_sql_floor_ts(ms, U_DAY);
            }
            n->lit.u.i = ms;
            p->i += 2;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "INTERVAL")) {
            n = mk(p, N_LIT, pos, 0);
            if (!n)
                return SL_ENOMEM;
            n->lit.type = SL_SQL_INTERVAL;
            if ((rc = parse_interval(p, &n->lit.u.i, NULL)))
                return rc;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "CASE")) {
            p->i++;
            plist l = {0};
            sl_node *e;
            n = mk(p, N_CASE, pos, 0);
            if (!n)
                return SL_ENOMEM;
            if (!is_kw(p, "WHEN")) {
                if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                    return rc;
                n->flags |= 1;
            }
            if (!is_kw(p, "WHEN"))
                return err_here(p, "WHEN");
            while (accept_kw(p, "WHEN")) {
                if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                    return rc;
                if ((rc = expect_kw(p, "THEN")))
                    return rc;
                if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                    return rc;
            }
            if (accept_kw(p, "ELSE")) {
                if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                    return rc;
                n->flags |= 2;
            }
            if ((rc = expect_kw(p, "END")))
                return rc;
            n->kids = (sl_node **)l.v;
            n->n_kids = l.n;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "CAST") && p->t[p->i + 1].kind == T_OP &&
            !strcmp(p->t[p->i + 1].text, "(")) {
            p->i += 2;
            n = mk(p, N_CAST, pos, 1);
            if (!n)
                return SL_ENOMEM;
            if ((rc = parse_expr(p, &n->kids[0])) || (rc = expect_kw(p, "AS")) ||
                (rc = parse_type(p, &n->cast_type)) || (rc = expect_op(p, ")")))
                return rc;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "EXTRACT") && is_kw_at(p, 0, "EXTRACT") && p->t[p->i + 1].kind == T_OP) {
            p->i++;
            n = mk(p, N_EXTRACT, pos, 1);
            int u;
            if (!n)
                return SL_ENOMEM;
            if ((rc = expect_op(p, "(")) || (rc = parse_unit(p, &u)) ||
                (rc = expect_kw(p, "FROM")) || (rc = parse_expr(p, &n->kids[0])) ||
                (rc = expect_op(p, ")")))
                return rc;
            n->unit = (uint8_t)u;
            *out = n;
            return 0;
        }
        if ((!strcmp(k, "FLOOR") || !strcmp(k, "CEIL") || !strcmp(k, "CEILING")) &&
            p->t[p->i + 1].kind == T_OP && !strcmp(p->t[p->i + 1].text, "(")) {
            p->i += 2;
            n = mk(p, k[0] == 'F' ? N_FLOOR : N_CEIL, pos, 1);
            if (!n)
                return SL_ENOMEM;
            if ((rc = parse_expr(p, &n->kids[0])))
                return rc;
            if (accept_kw(p, "TO")) {
                int u;
                if ((rc = parse_unit(p, &u)))
                    return rc;
                n->unit = (uint8_t)u;
            }
            if ((rc = expect_op(p, ")")))
                return rc;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "STEP") && p->t[p->i + 1].kind == T_OP &&
            !strcmp(p->t[p->i + 1].text, "(")) {
            p->i += 2;
            n = mk(p, N_STEP, pos, 2);
            if (!n)
                return SL_ENOMEM;
            if ((rc = parse_expr(p, &n->kids[0])) || (rc = expect_kw(p, "BY")) ||
                (rc = parse_expr(p, &n->kids[1])) || (rc = expect_op(p, ")")))
                return rc;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "POSITION") && p->t[p->i + 1].kind == T_OP &&
            !strcmp(p->t[p->i + 1].text, "(")) {
            p->i += 2;
            n = mk(p, N_POSITION, pos, 2);
            if (!n)
                return SL_ENOMEM;
            /* the needle may not contain IN at its top level: parse an additive */
            sl_node *needle;
            if ((rc = parse_expr(p, &needle)))
                return rc;
            if (needle->kind == N_IN && needle->n_kids == 2 && !needle->neg) {
                n->kids[0] = needle->kids[0];
                n->kids[1] = needle->kids[1];
            } else {
                n->kids[0] = needle;
                if ((rc = expect_kw(p, "IN")) || (rc = parse_expr(p, &n->kids[1])))
                    return rc;
            }
            if ((rc = expect_op(p, ")")))
                return rc;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "SUBSTRING") && p->t[p->i + 1].kind == T_OP) {
            p->i += 2;
            sl_node *s, *f, *fo = NULL;
            if ((rc = parse_expr(p, &s)))
                return rc;
            if (accept_kw(p, "FROM") || accept_op(p, ",")) {
                if ((rc = parse_expr(p, &f)))
                    return rc;
                if ((accept_kw(p, "FOR") || accept_op(p, ",")) && (rc = parse_expr(p, &fo)))
                    return rc;
            } else {
                return err_here(p, "FROM");
            }
            if ((rc = expect_op(p, ")")))
                return rc;
            n = mk(p, N_SUBSTRING, pos, fo ? 3 : 2);
            if (!n)
                return SL_ENOMEM;
            n->kids[0] = s;
            n->kids[1] = f;
            if (fo)
                n->kids[2] = fo;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "TRIM") && p->t[p->i + 1].kind == T_OP) {
            p->i += 2;
            int how = 'B';
            if (accept_kw(p, "BOTH"))
                how = 'B';
            else if (accept_kw(p, "LEADING"))
                how = 'L';
            else if (accept_kw(p, "TRAILING"))
                how = 'T';
            sl_node *chars = NULL, *s = NULL;
            if (!accept_kw(p, "FROM")) {
                if ((rc = parse_expr(p, &s)))
                    return rc;
                if (accept_kw(p, "FROM")) {
                    chars = s;
                    if ((rc = parse_expr(p, &s)))
                        return rc;
                }
            } else if ((rc = parse_expr(p, &s))) {
                return rc;
            }
            if ((rc = expect_op(p, ")")))
                return rc;
            n = mk(p, N_TRIM, pos, chars ? 2 : 1);
            if (!n)
                return SL_ENOMEM;
            n->op = (uint16_t)how;
            n->kids[0] = s;
            if (chars)
                n->kids[1] = chars;
            *out = n;
            return 0;
        }
        if (!strcmp(k, "OVERLAY") && p->t[p->i + 1].kind == T_OP) {
            p->i += 2;
            sl_node *s, *r, *f, *fo = NULL;
            if ((rc = parse_expr(p, &s)) || (rc = expect_kw(p, "PLACING")) ||
                (rc = parse_expr(p, &r)) || (rc = expect_kw(p, "FROM")) || (rc = parse_expr(p, &f)))
                return rc;
            if (accept_kw(p, "FOR") && (rc = parse_expr(p, &fo)))
                return rc;
            if ((rc = expect_op(p, ")")))
                return rc;
            n = mk(p, N_OVERLAY, pos, fo ? 4 : 3);
            if (!n)
                return SL_ENOMEM;
            n->kids[0] = s;
            n->kids[1] = r;
            n->kids[2] = f;
            if (fo)
                n->kids[3] = fo;
            *out = n;
            return 0;
        }
    }
    /* function call or column reference */
    if (p->t[p->i + 1].kind == T_OP && !strcmp(p->t[p->i + 1].text, "(") && !t->quoted) {
        n = mk(p, N_CALL, pos, 0);
        if (!n)
            return SL_ENOMEM;
        n->names = sl_arena_alloc(p->a, sizeof(char *));
        if (!n->names)
            return SL_ENOMEM;
        n->names[0] = t->text;
        n->n_names = 1;
        p->i += 2;
        if ((rc = parse_args(p, n)))
            return rc;
        if (accept_kw(p, "IGNORE") || accept_kw(p, "RESPECT")) {
            if ((rc = expect_kw(p, "NULLS")))
                return rc;
        }
        if (accept_kw(p, "OVER")) {
            if (is_op(p, "(")) {
                if ((rc = parse_wspec(p, &n->over)))
                    return rc;
            } else if ((rc = name(p, &n->over_name, NULL))) {
                return rc;
            }
        }
        *out = n;
        return 0;
    }
    /* niladic time functions */
    if (!t->quoted &&
        (!strcmp(t->text, "CURRENT_TIMESTAMP") || !strcmp(t->text, "CURRENT_DATE") ||
         !strcmp(t->text, "CURRENT_TIME") || !strcmp(t->text, "LOCALTIME") ||
         !strcmp(t->text, "LOCALTIMESTAMP") || !strcmp(t->text, "CURRENT_ROW_TIMESTAMP"))) {
        n = mk(p, N_CALL, pos, 0);
        if (!n)
            return SL_ENOMEM;
        n->names = sl_arena_alloc(p->a, sizeof(char *));
        if (!n->names)
            return SL_ENOMEM;
        n->names[0] = t->text;
        n->n_names = 1;
        p->i++;
        *out = n;
        return 0;
    }
    plist l = {0};
    for (;;) {
        sl_tok *x = CUR(p);
        if (x->kind != T_IDENT)
            return err_here(p, "a name");
        if (!x->quoted && sl_sql_is_reserved(x->text) && strcmp(x->text, "ROWTIME") &&
            strcmp(x->text, "APPROXIMATE_ARRIVAL_TIME"))
            return err_at(p, x->pos, "'%s' is a reserved word; quote it to use it as a name",
                          x->text);
        if ((rc = plist_push(p, &l, x->text)))
            return rc;
        p->i++;
        if (is_op(p, ".") && p->t[p->i + 1].kind == T_IDENT) {
            p->i++;
            continue;
        }
        break;
    }
    n = mk(p, N_COL, pos, 0);
    if (!n)
        return SL_ENOMEM;
    n->names = (char **)l.v;
    n->n_names = l.n;
    *out = n;
    return 0;
}

static int parse_unary(parser *p, sl_node **out)
{
    uint32_t pos = CUR(p)->pos;
    if (is_op(p, "-") || is_op(p, "+")) {
        int op = CUR(p)->text[0];
        p->i++;
        sl_node *x;
        if (++p->depth > MAXDEPTH)
            return err_at(p, pos, "%s", "expression nested too deeply");
        int rc = parse_unary(p, &x);
        p->depth--;
        if (rc)
            return rc;
        if (op == '-' && x->kind == N_LIT && !x->lit.is_null) {
            if (x->lit.type == SL_SQL_DOUBLE)
                x->lit.u.d = -x->lit.u.d;
            else if (x->lit.type == SL_SQL_INTEGER || x->lit.type == SL_SQL_BIGINT ||
                     x->lit.type == SL_SQL_INTERVAL)
                x->lit.u.i = -x->lit.u.i;
            else
                goto general;
            x->pos = pos;
            *out = x;
            return 0;
        }
    general:;
        sl_node *n = mk(p, N_UNARY, pos, 1);
        if (!n)
            return SL_ENOMEM;
        n->op = (uint16_t)op;
        n->kids[0] = x;
        *out = n;
        return 0;
    }
    return parse_primary(p, out);
}

/* Binary operators by precedence level, loosest first (spec §2.9): OR; AND; then -- below NOT
 * and the predicates -- + - ||; then * /. Each level is left-associative; its operands are
 * the next level's expressions (see parse_operand). */
enum { L_OR, L_AND, L_ADD, L_MUL, L_COUNT };

static const struct binop {
    const char *text;
    uint8_t keyword; /* a word (OR, AND), else an operator token */
    uint16_t op;
} binops[L_COUNT][3] = {
    [L_OR] = {{"OR", 1, B_OR}},
    [L_AND] = {{"AND", 1, B_AND}},
    [L_ADD] = {{"+", 0, B_ADD}, {"-", 0, B_SUB}, {"||", 0, B_CONCAT}},
    [L_MUL] = {{"*", 0, B_MUL}, {"/", 0, B_DIV}},
};

static int parse_binary(parser *p, int level, sl_node **out);
static int parse_not(parser *p, sl_node **out);

/* The operator of `level` at the cursor (B_*), or 0. */
static int binop_of(parser *p, int level)
{
    for (size_t k = 0; k < 3 && binops[level][k].text; k++) {
        const struct binop *b = &binops[level][k];
        if (b->keyword ? is_kw(p, b->text) : is_op(p, b->text))
            return b->op;
    }
    return 0;
}

static int parse_operand(parser *p, int level, sl_node **out)
{
    switch (level) {
    case L_OR:
        return parse_binary(p, L_AND, out);
    case L_AND:
        return parse_not(p, out);
    case L_ADD:
        return parse_binary(p, L_MUL, out);
    default:
        return parse_unary(p, out);
    }
}

static int parse_binary(parser *p, int level, sl_node **out)
{
    sl_node *l;
    int rc = parse_operand(p, level, &l);
    if (rc)
        return rc;
    int op;
    while ((op = binop_of(p, level))) {
        uint32_t pos = CUR(p)->pos;
        p->i++;
        sl_node *r;
        if ((rc = parse_operand(p, level, &r)))
            return rc;
        sl_node *n = mk(p, N_BINARY, pos, 2);
        if (!n)
            return SL_ENOMEM;
        n->op = (uint16_t)op;
        n->kids[0] = l;
        n->kids[1] = r;
        l = n;
    }
    *out = l;
    return 0;
}

static int parse_additive(parser *p, sl_node **out)
{
    return parse_binary(p, L_ADD, out);
}

static int parse_predicate(parser *p, sl_node **out)
{
    sl_node *l;
    int rc = parse_additive(p, &l);
    if (rc)
        return rc;
    sl_tok *t = CUR(p);
    uint32_t pos = t->pos;
    if (t->kind == T_OP) {
        static const struct {
            const char *s;
            int op;
        } cmp[] = {{"=", B_EQ},  {"<>", B_NE}, {"!=", B_NE}, {"<", B_LT},
                   {"<=", B_LE}, {">", B_GT},  {">=", B_GE}};
        for (size_t k = 0; k < 7; k++)
            if (!strcmp(t->text, cmp[k].s)) {
                p->i++;
                sl_node *r;
                if ((rc = parse_additive(p, &r)))
                    return rc;
                sl_node *n = mk(p, N_BINARY, pos, 2);
                if (!n)
                    return SL_ENOMEM;
                n->op = (uint16_t)cmp[k].op;
                n->kids[0] = l;
                n->kids[1] = r;
                *out = n;
                return 0;
            }
        *out = l;
        return 0;
    }
    if (accept_kw(p, "IS")) {
        sl_node *n = mk(p, N_IS, pos, 1);
        if (!n)
            return SL_ENOMEM;
        n->neg = (uint8_t)accept_kw(p, "NOT");
        if (accept_kw(p, "NULL"))
            n->op = 'N';
        else if (accept_kw(p, "TRUE"))
            n->op = 'T';
        else if (accept_kw(p, "FALSE"))
            n->op = 'F';
        else if (accept_kw(p, "UNKNOWN"))
            n->op = 'U';
        else
            return err_here(p, "NULL, TRUE, FALSE or UNKNOWN");
        n->kids[0] = l;
        *out = n;
        return 0;
    }
    int neg = 0;
    if (is_kw(p, "NOT") && (is_kw_at(p, 1, "BETWEEN") || is_kw_at(p, 1, "IN") ||
                            is_kw_at(p, 1, "LIKE") || is_kw_at(p, 1, "SIMILAR"))) {
        p->i++;
        neg = 1;
    }
    if (accept_kw(p, "BETWEEN")) {
        sl_node *n = mk(p, N_BETWEEN, pos, 3);
        if (!n)
            return SL_ENOMEM;
        n->neg = (uint8_t)neg;
        if (!accept_kw(p, "SYMMETRIC"))
            accept_kw(p, "ASYMMETRIC");
        n->kids[0] = l;
        if ((rc = parse_additive(p, &n->kids[1])) || (rc = expect_kw(p, "AND")) ||
            (rc = parse_additive(p, &n->kids[2])))
            return rc;
        *out = n;
        return 0;
    }
    if (accept_kw(p, "IN")) {
        if (!is_op(p, "(")) {
            /* POSITION(a IN b) uses this shape */
            sl_node *n = mk(p, N_IN, pos, 2);
            if (!n)
                return SL_ENOMEM;
            n->kids[0] = l;
            if ((rc = parse_additive(p, &n->kids[1])))
                return rc;
            n->neg = (uint8_t)neg;
            n->flags = 1; /* bare: only valid inside POSITION */
            *out = n;
            return 0;
        }
        p->i++;
        plist lst = {0};
        if ((rc = plist_push(p, &lst, l)))
            return rc;
        do {
            sl_node *e;
            if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &lst, e)))
                return rc;
        } while (accept_op(p, ","));
        if ((rc = expect_op(p, ")")))
            return rc;
        sl_node *n = mk(p, N_IN, pos, 0);
        if (!n)
            return SL_ENOMEM;
        n->kids = (sl_node **)lst.v;
        n->n_kids = lst.n;
        n->neg = (uint8_t)neg;
        *out = n;
        return 0;
    }
    int like = accept_kw(p, "LIKE") ? 'L' : 0;
    if (!like && accept_kw(p, "SIMILAR")) {
        if ((rc = expect_kw(p, "TO")))
            return rc;
        like = 'S';
    }
    if (like) {
        sl_node *pat, *esc = NULL;
        if ((rc = parse_additive(p, &pat)))
            return rc;
        if (accept_kw(p, "ESCAPE") && (rc = parse_additive(p, &esc)))
            return rc;
        sl_node *n = mk(p, N_LIKE, pos, esc ? 3 : 2);
        if (!n)
            return SL_ENOMEM;
        n->op = (uint16_t)like;
        n->neg = (uint8_t)neg;
        n->kids[0] = l;
        n->kids[1] = pat;
        if (esc)
            n->kids[2] = esc;
        *out = n;
        return 0;
    }
    *out = l;
    return 0;
}

static int parse_not(parser *p, sl_node **out)
{
    uint32_t pos = CUR(p)->pos;
    if (accept_kw(p, "NOT")) {
        sl_node *x;
        if (++p->depth > MAXDEPTH)
            return err_at(p, pos, "%s", "expression nested too deeply");
        int rc = parse_not(p, &x);
        p->depth--;
        if (rc)
            return rc;
        sl_node *n = mk(p, N_UNARY, pos, 1);
        if (!n)
            return SL_ENOMEM;
        n->op = 'N';
        n->kids[0] = x;
        *out = n;
        return 0;
    }
    return parse_predicate(p, out);
}

static int parse_expr(parser *p, sl_node **out)
{
    if (++p->depth > MAXDEPTH)
        return err_at(p, CUR(p)->pos, "%s", "expression nested too deeply");
    int rc = parse_binary(p, L_OR, out);
    p->depth--;
    return rc;
}

static int parse_alias(parser *p, char **alias)
{
    if (accept_kw(p, "AS"))
        return name(p, alias, NULL);
    sl_tok *t = CUR(p);
    if (t->kind == T_IDENT && (t->quoted || !sl_sql_is_reserved(t->text)) &&
        !(!t->quoted && (!strcmp(t->text, "WINDOWED") || !strcmp(t->text, "DESCRIPTION"))))
        return name(p, alias, NULL);
    return 0;
}

static int parse_from(parser *p, sl_from *f)
{
    int rc;
    f->pos = CUR(p)->pos;
    if (is_kw(p, "TABLE") && p->t[p->i + 1].kind == T_OP && !strcmp(p->t[p->i + 1].text, "(")) {
        p->i += 2;
        f->kind = F_TABLEFN;
        sl_tok *fn = CUR(p);
        if (fn->kind != T_IDENT)
            return err_here(p, "a table function");
        f->name = fn->text;
        f->pos = fn->pos;
        p->i++;
        if ((rc = expect_op(p, "(")) || (rc = expect_kw(p, "CURSOR")) || (rc = expect_op(p, "(")) ||
            (rc = parse_query(p, &f->sub)) || (rc = expect_op(p, ")")))
            return rc;
        plist l = {0};
        while (accept_op(p, ",")) {
            sl_node *e;
            if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
                return rc;
        }
        f->args = (sl_node **)l.v;
        f->n_args = l.n;
        if ((rc = expect_op(p, ")")) || (rc = expect_op(p, ")")))
            return rc;
        return parse_alias(p, &f->alias);
    }
    if (accept_op(p, "(")) {
        f->kind = F_SUBQUERY;
        if ((rc = parse_query(p, &f->sub)) || (rc = expect_op(p, ")")))
            return rc;
        rc = parse_alias(p, &f->alias);
        if (!rc && !f->alias)
            return err_here(p, "an alias for the sub-query");
        return rc;
    }
    f->kind = F_NAMED;
    if ((rc = name(p, &f->name, &f->pos)))
        return rc;
    if (accept_kw(p, "OVER")) {
        if (is_op(p, "(")) {
            if ((rc = parse_wspec(p, &f->over)))
                return rc;
        } else if ((rc = name(p, &f->over_name, NULL))) {
            return rc;
        }
    }
    return parse_alias(p, &f->alias);
}

static int parse_expr_list(parser *p, sl_node ***out, uint32_t *n)
{
    plist l = {0};
    int rc;
    do {
        sl_node *e;
        if ((rc = parse_expr(p, &e)) || (rc = plist_push(p, &l, e)))
            return rc;
    } while (accept_op(p, ","));
    *out = (sl_node **)l.v;
    *n = l.n;
    return 0;
}

static int parse_select(parser *p, sl_query **out)
{
    int rc;
    sl_query *q = sl_arena_alloc(p->a, sizeof(*q));
    if (!q)
        return SL_ENOMEM;
    q->pos = CUR(p)->pos;
    if ((rc = expect_kw(p, "SELECT")))
        return rc;
    q->is_stream = (uint8_t)accept_kw(p, "STREAM");
    if (accept_kw(p, "DISTINCT"))
        q->distinct = 1;
    else
        accept_kw(p, "ALL");
    /* items */
    sl_sel_item *items = NULL;
    uint32_t n = 0, cap = 0;
    do {
        if (n == cap) {
            uint32_t nc = cap ? cap * 2 : 8;
            sl_sel_item *ni = sl_arena_alloc(p->a, nc * sizeof(*ni));
            if (!ni)
                return SL_ENOMEM;
            if (n)
                memcpy(ni, items, n * sizeof(*ni));
            items = ni;
            cap = nc;
        }
        sl_sel_item *it = &items[n++];
        it->pos = CUR(p)->pos;
        if (accept_op(p, "*"))
            continue;
        if (CUR(p)->kind == T_IDENT && p->t[p->i + 1].kind == T_OP &&
            !strcmp(p->t[p->i + 1].text, ".") && p->t[p->i + 2].kind == T_OP &&
            !strcmp(p->t[p->i + 2].text, "*")) {
            it->star_qual = CUR(p)->text;
            p->i += 3;
            continue;
        }
        if ((rc = parse_expr(p, &it->expr)))
            return rc;
        if (accept_kw(p, "AS")) {
            /* AS ROWTIME promotes; allow that reserved name here */
            if (is_kw(p, "ROWTIME")) {
                it->alias = CUR(p)->text;
                p->i++;
            } else if ((rc = name(p, &it->alias, NULL))) {
                return rc;
            }
        } else if (CUR(p)->kind == T_IDENT &&
                   (CUR(p)->quoted || !sl_sql_is_reserved(CUR(p)->text))) {
            if ((rc = name(p, &it->alias, NULL)))
                return rc;
        }
    } while (accept_op(p, ","));
    q->items = items;
    q->n_items = n;
    if ((rc = expect_kw(p, "FROM")) || (rc = parse_from(p, &q->from)))
        return rc;
    /* one join */
    int left = 0, join = 0;
    if (is_kw(p, "LEFT")) {
        p->i++;
        accept_kw(p, "OUTER");
        left = 1;
        join = 1;
    } else if (is_kw(p, "INNER")) {
        p->i++;
        join = 1;
    } else if (is_kw(p, "RIGHT") || is_kw(p, "FULL") || is_kw(p, "CROSS")) {
        return err_at(p, CUR(p)->pos, "%s joins are not supported", CUR(p)->text);
    } else if (is_kw(p, "JOIN")) {
        join = 1;
    } else if (is_op(p, ",")) {
        return err_at(p, CUR(p)->pos, "%s", "comma joins are not supported; use JOIN ... ON");
    }
    if (join) {
        if ((rc = expect_kw(p, "JOIN")) || (rc = parse_from(p, &q->join)) ||
            (rc = expect_kw(p, "ON")) || (rc = parse_expr(p, &q->on)))
            return rc;
        q->has_join = 1;
        q->join_left = (uint8_t)left;
        if (is_kw(p, "JOIN") || is_kw(p, "LEFT") || is_kw(p, "INNER"))
            return err_at(p, CUR(p)->pos, "%s", "only one join per query is supported");
    }
    if (accept_kw(p, "WHERE") && (rc = parse_expr(p, &q->where)))
        return rc;
    if (accept_kw(p, "GROUP")) {
        if ((rc = expect_kw(p, "BY")) || (rc = parse_expr_list(p, &q->group, &q->n_group)))
            return rc;
    } else if (is_kw(p, "WINDOWED")) {
        p->i++;
        if ((rc = expect_kw(p, "BY")) || (rc = expect_kw(p, "STAGGER")) ||
            (rc = expect_op(p, "(")) || (rc = expect_kw(p, "PARTITION")) ||
            (rc = expect_kw(p, "BY")) || (rc = parse_expr_list(p, &q->stagger, &q->n_stagger)) ||
            (rc = expect_kw(p, "RANGE")))
            return rc;
        uint32_t ipos;
        if ((rc = parse_interval(p, &q->stagger_ms, &ipos)))
            return rc;
        if (q->stagger_ms <= 0)
            return err_at(p, ipos, "%s", "stagger window size must be positive");
        if ((rc = expect_op(p, ")")))
            return rc;
    }
    if (accept_kw(p, "HAVING") && (rc = parse_expr(p, &q->having)))
        return rc;
    if (accept_kw(p, "WINDOW")) {
        plist l = {0};
        do {
            sl_named_window *w = sl_arena_alloc(p->a, sizeof(*w));
            if (!w)
                return SL_ENOMEM;
            if ((rc = name(p, &w->name, NULL)) || (rc = expect_kw(p, "AS")) ||
                (rc = parse_wspec(p, &w->spec)) || (rc = plist_push(p, &l, w)))
                return rc;
        } while (accept_op(p, ","));
        q->windows = sl_arena_alloc(p->a, (l.n + 1) * sizeof(sl_named_window));
        if (!q->windows)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < l.n; k++)
            q->windows[k] = *(sl_named_window *)l.v[k];
        q->n_windows = l.n;
    }
    *out = q;
    return 0;
}

static int parse_query_term(parser *p, sl_query **out)
{
    if (accept_op(p, "(")) {
        int rc = parse_query(p, out);
        if (rc)
            return rc;
        return expect_op(p, ")");
    }
    return parse_select(p, out);
}

static int parse_query(parser *p, sl_query **out)
{
    int rc;
    if (++p->depth > MAXDEPTH)
        return err_at(p, CUR(p)->pos, "%s", "query nested too deeply");
    sl_query *first;
    if ((rc = parse_query_term(p, &first)))
        return rc;
    sl_query *last = first;
    while (accept_kw(p, "UNION")) {
        if (!accept_kw(p, "ALL"))
            return err_at(p, CUR(p)->pos, "%s", "only UNION ALL is supported on streams");
        sl_query *nx;
        if ((rc = parse_query_term(p, &nx)))
            return rc;
        while (last->union_next)
            last = last->union_next;
        last->union_next = nx;
        last = nx;
    }
    if (accept_kw(p, "ORDER")) {
        if ((rc = expect_kw(p, "BY")))
            return rc;
        plist l = {0};
        do {
            sl_order_item *o = sl_arena_alloc(p->a, sizeof(*o));
            if (!o)
                return SL_ENOMEM;
            if ((rc = parse_expr(p, &o->expr)))
                return rc;
            if (accept_kw(p, "DESC"))
                o->desc = 1;
            else
                accept_kw(p, "ASC");
            if ((rc = plist_push(p, &l, o)))
                return rc;
        } while (accept_op(p, ","));
        first->order = sl_arena_alloc(p->a, l.n * sizeof(sl_order_item));
        if (!first->order)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < l.n; k++)
            first->order[k] = *(sl_order_item *)l.v[k];
        first->n_order = l.n;
    }
    p->depth--;
    *out = first;
    return 0;
}

static int parse_stmt(parser *p, sl_stmt *st)
{
    int rc;
    st->pos = CUR(p)->pos;
    if ((rc = expect_kw(p, "CREATE")))
        return rc;
    if (accept_kw(p, "OR")) {
        if ((rc = expect_kw(p, "REPLACE")))
            return rc;
        st->replace = 1;
    }
    if (accept_kw(p, "STREAM")) {
        if ((rc = name(p, &st->name, &st->name_pos)) || (rc = expect_op(p, "(")))
            return rc;
        plist l = {0};
        do {
            sl_col_def *c = sl_arena_alloc(p->a, sizeof(*c));
            if (!c)
                return SL_ENOMEM;
            if ((rc = name(p, &c->name, &c->pos)) || (rc = parse_type(p, &c->type)))
                return rc;
            if (accept_kw(p, "NOT")) {
                if ((rc = expect_kw(p, "NULL")))
                    return rc;
                c->type.not_null = 1;
            } else {
                accept_kw(p, "NULL");
            }
            if ((rc = plist_push(p, &l, c)))
                return rc;
        } while (accept_op(p, ","));
        if ((rc = expect_op(p, ")")))
            return rc;
        st->cols = sl_arena_alloc(p->a, l.n * sizeof(sl_col_def));
        if (!st->cols)
            return SL_ENOMEM;
        for (uint32_t k = 0; k < l.n; k++)
            st->cols[k] = *(sl_col_def *)l.v[k];
        st->n_cols = l.n;
        if (accept_kw(p, "DESCRIPTION")) {
            if (CUR(p)->kind != T_STRING)
                return err_here(p, "a description string");
            p->i++;
        }
        return 0;
    }
    if (accept_kw(p, "PUMP")) {
        st->is_pump = 1;
        if ((rc = name(p, &st->name, &st->name_pos)) || (rc = expect_kw(p, "AS")) ||
            (rc = expect_kw(p, "INSERT")) || (rc = expect_kw(p, "INTO")) ||
            (rc = name(p, &st->target, &st->target_pos)))
            return rc;
        if (is_op(p, "(") && !is_kw_at(p, 1, "SELECT")) {
            p->i++;
            plist l = {0};
            do {
                char *c;
                if ((rc = name(p, &c, NULL)) || (rc = plist_push(p, &l, c)))
                    return rc;
            } while (accept_op(p, ","));
            if ((rc = expect_op(p, ")")))
                return rc;
            st->target_cols = (char **)l.v;
            st->n_target_cols = l.n;
        }
        return parse_query(p, &st->query);
    }
    return err_here(p, "STREAM or PUMP");
}

int sl_sql_parse(const char *code, size_t len, sl_arena *a, sl_stmt **out, size_t *n_out,
                 sl_diag *d)
{
    sl_tok *toks;
    size_t nt;
    int rc = sl_sql_lex(code, len, a, &toks, &nt, d);
    if (rc)
        return rc;
    parser p = {.code = code, .len = len, .t = toks, .n = nt, .a = a, .d = d};
    sl_stmt *st = NULL;
    size_t n = 0, cap = 0;
    while (CUR(&p)->kind != T_EOF) {
        if (accept_op(&p, ";"))
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            sl_stmt *ns = sl_arena_alloc(a, nc * sizeof(*ns));
            if (!ns)
                return SL_ENOMEM;
            if (n)
                memcpy(ns, st, n * sizeof(*ns));
            st = ns;
            cap = nc;
        }
        memset(&st[n], 0, sizeof(st[n]));
        if ((rc = parse_stmt(&p, &st[n])))
            return rc;
        n++;
        if (CUR(&p)->kind != T_EOF && !is_op(&p, ";"))
            return err_here(&p, "';'");
    }
    if (a->oom)
        return SL_ENOMEM;
    *out = st;
    *n_out = n;
    return 0;
}

int sl_sql_parse_type_text(const char *s, sl_sql_type *out)
{
    sl_arena a = {0};
    sl_tok *toks;
    size_t nt;
    sl_diag d;
    int rc = sl_sql_lex(s, strlen(s), &a, &toks, &nt, &d);
    if (!rc) {
        parser p = {.code = s, .len = strlen(s), .t = toks, .n = nt, .a = &a, .d = &d};
        rc = parse_type(&p, out);
        if (!rc && CUR(&p)->kind != T_EOF)
            rc = SL_EINVAL;
    }
    sl_arena_free(&a);
    return rc ? SL_EINVAL : 0;
}
