/* Tokeniser of the SQLstream dialect, the compile arena, and line/column diagnostics.
 *
 * Tokens: identifiers (unquoted ones fold to upper case; "quoted" ones keep their spelling,
 * with "" standing for one quote, and may hold any character but U+0000-U+001F), numbers
 * (42, 1.5, 1.5E3, .5), strings ('it''s'), hex strings (X'0AFF'), and operators. Comments are
 * "-- to end of line" and C-style blocks. Identifiers are limited to 128 bytes.
 *
 * Every token records its byte offset; sl_sql_diag() turns an offset into the 1-based line and
 * column that CodeValidationException messages quote. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_int.h"

/* ---- arena ------------------------------------------------------------------------------- */

struct sl_arena_chunk {
    sl_arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *sl_arena_alloc(sl_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > 16000 ? n : 16000;
        sl_arena_chunk *c = malloc(sizeof(*c) + cap);
        if (!c) {
            a->oom = 1;
            return NULL;
        }
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

char *sl_arena_strndup(sl_arena *a, const char *s, size_t n)
{
    char *p = sl_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

void sl_arena_reset(sl_arena *a)
{
    if (!a->head)
        return;
    sl_arena_chunk *c = a->head->next;
    while (c) {
        sl_arena_chunk *nx = c->next;
        free(c);
        c = nx;
    }
    a->head->next = NULL;
    a->head->used = 0;
}

void sl_arena_free(sl_arena *a)
{
    sl_arena_chunk *c = a->head;
    while (c) {
        sl_arena_chunk *nx = c->next;
        free(c);
        c = nx;
    }
    a->head = NULL;
}

/* ---- diagnostics ------------------------------------------------------------------------- */

int sl_sql_diag(sl_diag *d, int code, const char *text, size_t len, size_t pos, const char *fmt,
                ...)
{
    if (!d)
        return code;
    unsigned line = 1, col = 1;
    for (size_t i = 0; i < pos && i < len; i++) {
        if (text[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->code = code;
    d->offset = pos;
    snprintf(d->text, sizeof(d->text), "line %u, column %u: %s", line, col, msg);
    return code;
}

/* Words that need quotes to be names: the SQL:2003 reserved words the dialect keeps, plus the
 * dialect's own. Sorted for bsearch. */
static const char *const reserved[] = {
    "ABS",
    "ALL",
    "ALLOCATE",
    "ALTER",
    "AND",
    "ANY",
    "APPROXIMATE_ARRIVAL_TIME",
    "ARE",
    "ARRAY",
    "AS",
    "ASENSITIVE",
    "ASYMMETRIC",
    "AT",
    "ATOMIC",
    "AUTHORIZATION",
    "AVG",
    "BEGIN",
    "BETWEEN",
    "BIGINT",
    "BINARY",
    "BLOB",
    "BOOLEAN",
    "BOTH",
    "BY",
    "CALL",
    "CALLED",
    "CARDINALITY",
    "CASCADED",
    "CASE",
    "CAST",
    "CEIL",
    "CEILING",
    "CHAR",
    "CHARACTER",
    "CHARACTER_LENGTH",
    "CHAR_LENGTH",
    "CHECK",
    "CLOB",
    "CLOSE",
    "COALESCE",
    "COLLATE",
    "COLLECT",
    "COLUMN",
    "COMMIT",
    "CONDITION",
    "CONNECT",
    "CONSTRAINT",
    "CONVERT",
    "CORR",
    "CORRESPONDING",
    "COUNT",
    "COVAR_POP",
    "COVAR_SAMP",
    "CREATE",
    "CROSS",
    "CUBE",
    "CUME_DIST",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_PATH",
    "CURRENT_ROLE",
    "CURRENT_ROW_TIMESTAMP",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "CURSOR",
    "CYCLE",
    "DATE",
    "DAY",
    "DEALLOCATE",
    "DEC",
    "DECIMAL",
    "DECLARE",
    "DEFAULT",
    "DELETE",
    "DENSE_RANK",
    "DEREF",
    "DESCRIBE",
    "DETERMINISTIC",
    "DISALLOW",
    "DISCONNECT",
    "DISTINCT",
    "DOUBLE",
    "DROP",
    "DYNAMIC",
    "EACH",
    "ELEMENT",
    "ELSE",
    "END",
    "END-EXEC",
    "ESCAPE",
    "EVERY",
    "EXCEPT",
    "EXEC",
    "EXECUTE",
    "EXISTS",
    "EXP",
    "EXP_AVG",
    "EXTERNAL",
    "EXTRACT",
    "FALSE",
    "FETCH",
    "FILTER",
    "FIRST_VALUE",
    "FLOAT",
    "FLOOR",
    "FOR",
    "FOREIGN",
    "FREE",
    "FROM",
    "FULL",
    "FUNCTION",
    "FUSION",
    "GET",
    "GLOBAL",
    "GRANT",
    "GROUP",
    "GROUPING",
    "HAVING",
    "HOLD",
    "HOUR",
    "IDENTITY",
    "IN",
    "INDICATOR",
    "INNER",
    "INOUT",
    "INSENSITIVE",
    "INSERT",
    "INT",
    "INTEGER",
    "INTERSECT",
    "INTERSECTION",
    "INTERVAL",
    "INTO",
    "IS",
    "JOIN",
    "LANGUAGE",
    "LARGE",
    "LAST_VALUE",
    "LATERAL",
    "LEADING",
    "LEFT",
    "LIKE",
    "LN",
    "LOCAL",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "LOWER",
    "MATCH",
    "MAX",
    "MEMBER",
    "MERGE",
    "METHOD",
    "MIN",
    "MINUTE",
    "MOD",
    "MODIFIES",
    "MODULE",
    "MONTH",
    "MULTISET",
    "NATIONAL",
    "NATURAL",
    "NCHAR",
    "NCLOB",
    "NEW",
    "NO",
    "NONE",
    "NORMALIZE",
    "NOT",
    "NULL",
    "NULLIF",
    "NUMERIC",
    "OCTET_LENGTH",
    "OF",
    "OLD",
    "ON",
    "ONLY",
    "OPEN",
    "OR",
    "ORDER",
    "OUT",
    "OUTER",
    "OVER",
    "OVERLAPS",
    "OVERLAY",
    "PARAMETER",
    "PARTITION",
    "PERCENTILE_CONT",
    "PERCENTILE_DISC",
    "PERCENT_RANK",
    "POSITION",
    "POWER",
    "PRECISION",
    "PREPARE",
    "PRIMARY",
    "PROCEDURE",
    "RANGE",
    "RANK",
    "READS",
    "REAL",
    "RECURSIVE",
    "REF",
    "REFERENCES",
    "REFERENCING",
    "RELEASE",
    "RESULT",
    "RETURN",
    "RETURNS",
    "REVOKE",
    "RIGHT",
    "ROLLBACK",
    "ROLLUP",
    "ROW",
    "ROWS",
    "ROWTIME",
    "ROW_NUMBER",
    "SAVEPOINT",
    "SCOPE",
    "SCROLL",
    "SEARCH",
    "SECOND",
    "SELECT",
    "SENSITIVE",
    "SESSION_USER",
    "SET",
    "SIMILAR",
    "SMALLINT",
    "SOME",
    "SPECIFIC",
    "SPECIFICTYPE",
    "SQL",
    "SQLEXCEPTION",
    "SQLSTATE",
    "SQLWARNING",
    "SQRT",
    "START",
    "STATIC",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "STREAM",
    "SUBMULTISET",
    "SUBSTRING",
    "SUM",
    "SYMMETRIC",
    "SYSTEM",
    "SYSTEM_USER",
    "TABLE",
    "TABLESAMPLE",
    "THEN",
    "TIME",
    "TIMESTAMP",
    "TIMEZONE_HOUR",
    "TIMEZONE_MINUTE",
    "TINYINT",
    "TO",
    "TRAILING",
    "TRANSLATE",
    "TRANSLATION",
    "TREAT",
    "TRIGGER",
    "TRIM",
    "TRUE",
    "UESCAPE",
    "UNION",
    "UNIQUE",
    "UNKNOWN",
    "UNNEST",
    "UPDATE",
    "UPPER",
    "USER",
    "USING",
    "VALUE",
    "VALUES",
    "VARBINARY",
    "VARCHAR",
    "VARYING",
    "VAR_POP",
    "VAR_SAMP",
    "WHEN",
    "WHENEVER",
    "WHERE",
    "WIDTH_BUCKET",
    "WINDOW",
    "WITH",
    "WITHIN",
    "WITHOUT",
    "YEAR",
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sl_sql_is_reserved(const char *upper)
{
    return bsearch(&upper, reserved, sizeof(reserved) / sizeof(reserved[0]), sizeof(reserved[0]),
                   cmp_str) != NULL;
}

/* ---- lexer ------------------------------------------------------------------------------- */

typedef struct lexer {
    const char *s;
    size_t len, i;
    sl_arena *a;
    sl_tok *toks;
    size_t n, cap;
    sl_diag *d;
} lexer;

static int push(lexer *lx, uint8_t kind, size_t pos, const char *text, size_t tlen, int quoted)
{
    if (lx->n == lx->cap) {
        size_t ncap = lx->cap ? lx->cap * 2 : 64;
        sl_tok *nt = sl_arena_alloc(lx->a, ncap * sizeof(*nt));
        if (!nt)
            return SL_ENOMEM;
        if (lx->n)
            memcpy(nt, lx->toks, lx->n * sizeof(*nt));
        lx->toks = nt;
        lx->cap = ncap;
    }
    sl_tok *t = &lx->toks[lx->n++];
    t->kind = kind;
    t->quoted = (uint8_t)quoted;
    t->pos = (uint32_t)pos;
    t->len = (uint32_t)tlen;
    t->text = sl_arena_strndup(lx->a, text ? text : "", tlen);
    return t->text ? 0 : SL_ENOMEM;
}

static int lex_quoted(lexer *lx, char q, uint8_t kind, size_t start)
{
    /* lx->i is just past the opening quote */
    char *buf = sl_arena_alloc(lx->a, lx->len - lx->i + 1);
    size_t n = 0;
    if (!buf)
        return SL_ENOMEM;
    for (;;) {
        if (lx->i >= lx->len)
            return sl_sql_diag(lx->d, SL_EPARSE, lx->s, lx->len, start, "unterminated %s",
                               q == '"' ? "quoted identifier" : "string literal");
        char c = lx->s[lx->i++];
        if (c == q) {
            if (lx->i < lx->len && lx->s[lx->i] == q) {
                buf[n++] = q;
                lx->i++;
                continue;
            }
            break;
        }
        if (q == '"' && (unsigned char)c < 0x20)
            return sl_sql_diag(lx->d, SL_EPARSE, lx->s, lx->len, lx->i - 1,
                               "control character in quoted identifier");
        buf[n++] = c;
    }
    if (q == '"' && n == 0)
        return sl_sql_diag(lx->d, SL_EPARSE, lx->s, lx->len, start, "empty quoted identifier");
    if (q == '"' && n > 128)
        return sl_sql_diag(lx->d, SL_EPARSE, lx->s, lx->len, start,
                           "identifier longer than 128 characters");
    return push(lx, kind, start, buf, n, q == '"');
}

int sl_sql_lex(const char *code, size_t len, sl_arena *a, sl_tok **out, size_t *n, sl_diag *d)
{
    lexer lx = {.s = code, .len = len, .a = a, .d = d};
    int rc = 0;
    while (lx.i < len) {
        char c = code[lx.i];
        size_t start = lx.i;
        if (isspace((unsigned char)c)) {
            lx.i++;
        } else if (c == '-' && lx.i + 1 < len && code[lx.i + 1] == '-') {
            while (lx.i < len && code[lx.i] != '\n')
                lx.i++;
        } else if (c == '/' && lx.i + 1 < len && code[lx.i + 1] == '*') {
            const char *end = NULL;
            for (size_t j = lx.i + 2; j + 1 < len; j++)
                if (code[j] == '*' && code[j + 1] == '/') {
                    end = code + j;
                    break;
                }
            if (!end)
                return sl_sql_diag(d, SL_EPARSE, code, len, start, "unterminated comment");
            lx.i = (size_t)(end - code) + 2;
        } else if ((c == 'X' || c == 'x') && lx.i + 1 < len && code[lx.i + 1] == '\'') {
            lx.i += 2;
            size_t b = lx.i;
            while (lx.i < len && isxdigit((unsigned char)code[lx.i]))
                lx.i++;
            if (lx.i >= len || code[lx.i] != '\'' || (lx.i - b) % 2)
                return sl_sql_diag(d, SL_EPARSE, code, len, start, "malformed hex string");
            rc = push(&lx, T_HEX, start, code + b, lx.i - b, 0);
            lx.i++;
        } else if (isalpha((unsigned char)c) || c == '_') {
            while (lx.i < len &&
                   (isalnum((unsigned char)code[lx.i]) || code[lx.i] == '_' || code[lx.i] == '$'))
                lx.i++;
            size_t tl = lx.i - start;
            if (tl > 128)
                return sl_sql_diag(d, SL_EPARSE, code, len, start,
                                   "identifier longer than 128 characters");
            char up[129];
            for (size_t k = 0; k < tl; k++)
                up[k] = (char)toupper((unsigned char)code[start + k]);
            rc = push(&lx, T_IDENT, start, up, tl, 0);
        } else if (c == '"') {
            lx.i++;
            rc = lex_quoted(&lx, '"', T_IDENT, start);
        } else if (c == '\'') {
            lx.i++;
            rc = lex_quoted(&lx, '\'', T_STRING, start);
        } else if (isdigit((unsigned char)c) ||
                   (c == '.' && lx.i + 1 < len && isdigit((unsigned char)code[lx.i + 1]))) {
            while (lx.i < len && isdigit((unsigned char)code[lx.i]))
                lx.i++;
            if (lx.i < len && code[lx.i] == '.') {
                lx.i++;
                while (lx.i < len && isdigit((unsigned char)code[lx.i]))
                    lx.i++;
            }
            if (lx.i < len && (code[lx.i] == 'e' || code[lx.i] == 'E')) {
                size_t j = lx.i + 1;
                if (j < len && (code[j] == '+' || code[j] == '-'))
                    j++;
                if (j < len && isdigit((unsigned char)code[j])) {
                    lx.i = j;
                    while (lx.i < len && isdigit((unsigned char)code[lx.i]))
                        lx.i++;
                }
            }
            rc = push(&lx, T_NUMBER, start, code + start, lx.i - start, 0);
        } else {
            static const char *const two[] = {"<>", "!=", "<=", ">=", "||"};
            size_t tl = 0;
            for (size_t k = 0; k < 5; k++)
                if (lx.i + 1 < len && code[lx.i] == two[k][0] && code[lx.i + 1] == two[k][1])
                    tl = 2;
            if (!tl) {
                if (!strchr("(),;.*+-/=<>[]:", c) || c == 0)
                    return sl_sql_diag(d, SL_EPARSE, code, len, start, "unexpected character '%c'",
                                       isprint((unsigned char)c) ? c : '?');
                tl = 1;
            }
            rc = push(&lx, T_OP, start, code + start, tl, 0);
            lx.i += tl;
        }
        if (rc)
            return rc;
    }
    rc = push(&lx, T_EOF, len, "", 0, 0);
    if (rc)
        return rc;
    *out = lx.toks;
    *n = lx.n;
    return 0;
}

int sl_sql_reserved_word(const char *word)
{
    char up[129];
    size_t n = strlen(word);
    if (n > 128)
        return 0;
    for (size_t k = 0; k <= n; k++)
        up[k] = (char)toupper((unsigned char)word[k]);
    return sl_sql_is_reserved(up);
}
