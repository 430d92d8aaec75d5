/* The PutRecords / PutRecord fast reader (see ds_putparse.h for the subset it accepts and why).
 *
 * How. One forward pass with a cursor over the body: whitespace, punctuation and member names
 * are matched byte by byte; a member name is compared with the few the operation knows (each
 * remembered in a "seen" bit, so a duplicate is refused); a string value is scanned for its
 * closing quote while each byte is checked against 0x20..0x7F minus backslash. Data is not
 * scanned that way: its closing quote is found with memchr and the characters in between go
 * to sl_base64_decode in strict mode, which accepts exactly what validate.c's check_base64
 * accepts (alphabet, length a multiple of 4, at most two '=' at the end, zero bits under
 * them) -- any quote escape, control byte or non-ASCII byte fails the decode -- and writes the
 * bytes at the end of the block where the previous record's stopped. The block is sized once
 * from the body (base64 never decodes to more than 3/4 of its characters), the record array
 * from a bound on how many records the body can hold; neither grows per record. Every refusal
 * goes through not_mine(), which records the reason and the byte offset for tests.
 *
 * Pure functions, any thread. */
#include "ds_putparse.h"

#include <stdlib.h>
#include <string.h>

#include "sluice/base64.h"

/* Smallest record: {"Data":"","PartitionKey":"x"} plus a separating comma. */
#define MIN_RECORD_BYTES 31

typedef struct cur {
    const char *start, *p, *end;
    sl_diag *d;
} cur;

static int not_mine(cur *c, const char *why)
{
    return sl_diag_set(c->d, SL_EPARSE, (size_t)(c->p - c->start), "%s", why);
}

static void skip_ws(cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

/* Skips whitespace, then takes ch if it is next. */
static int take(cur *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A string of plain characters (0x20..0x7F, no backslash) at the cursor, after whitespace. */
static int plain_string(cur *c, const char **s, size_t *n)
{
    if (!take(c, '"'))
        return not_mine(c, "not a string");
    const char *q = c->p;
    while (q < c->end) {
        unsigned char b = (unsigned char)*q;
        if (b == '"')
            break;
        if (b < 0x20 || b >= 0x80 || b == '\\') {
            c->p = q;
            return not_mine(c, "escape, control or non-ASCII byte in a string");
        }
        q++;
    }
    if (q == c->end)
        return not_mine(c, "unterminated string");
    *s = c->p;
    *n = (size_t)(q - c->p);
    c->p = q + 1;
    return 0;
}

/* A member name and its colon. */
static int member_name(cur *c, const char **s, size_t *n)
{
    int rc = plain_string(c, s, n);
    if (rc)
        return rc;
    if (!take(c, ':'))
        return not_mine(c, "no colon after a member name");
    return 0;
}

static int name_is(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n == k && memcmp(s, lit, k) == 0;
}

/* After a member: 1 for ',' (another follows), 0 for the closing `close`, else not ours. */
static int next_or_close(cur *c, char close, int *more)
{
    if (take(c, ','))
        *more = 1;
    else if (take(c, close))
        *more = 0;
    else
        return not_mine(c, "neither a comma nor the end of the object or array");
    return 0;
}

static int stream_name(cur *c, sl_ds_put_body *out)
{
    const char *s;
    size_t n;
    int rc = plain_string(c, &s, &n);
    if (rc)
        return rc;
    if (n < 1 || n > SL_DS_PUT_STREAM_MAX)
        return not_mine(c, "StreamName length");
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return not_mine(c, "StreamName pattern");
    }
    out->stream = s;
    out->stream_len = n;
    return 0;
}

static int partition_key(cur *c, sl_ds_put_rec *r)
{
    int rc = plain_string(c, &r->pk, &r->pk_len);
    if (rc)
        return rc;
    if (r->pk_len < 1 || r->pk_len > SL_DS_PUT_PK_MAX)
        return not_mine(c, "PartitionKey length");
    return 0;
}

/* 0|([1-9]\d{0,38}) */
static int hash_key(cur *c, sl_ds_put_rec *r)
{
    int rc = plain_string(c, &r->ehk, &r->ehk_len);
    if (rc)
        return rc;
    const char *s = r->ehk;
    size_t n = r->ehk_len;
    int ok = n == 1 && s[0] == '0';
    if (!ok && n >= 1 && n <= SL_DS_PUT_EHK_MAX && s[0] >= '1' && s[0] <= '9') {
        ok = 1;
        for (size_t i = 1; i < n && ok; i++)
            ok = s[i] >= '0' && s[i] <= '9';
    }
    return ok ? 0 : not_mine(c, "ExplicitHashKey pattern");
}

/* Data: decoded at blob + *used. */
static int data_member(cur *c, sl_ds_put_rec *r, uint8_t *blob, size_t *used)
{
    if (!take(c, '"'))
        return not_mine(c, "Data is not a string");
    const char *q = memchr(c->p, '"', (size_t)(c->end - c->p));
    if (!q)
        return not_mine(c, "unterminated string");
    long got = sl_base64_decode(c->p, (size_t)(q - c->p), blob + *used, 1);
    if (got < 0)
        return not_mine(c, "Data is not strict padded base64");
    if ((size_t)got > SL_DS_PUT_DATA_MAX)
        return not_mine(c, "Data longer than the model allows");
    r->data = blob + *used;
    r->data_len = (size_t)got;
    *used += (size_t)got;
    c->p = q + 1;
    return 0;
}

enum { SEEN_DATA = 1, SEEN_PK = 2, SEEN_EHK = 4, SEEN_STREAM = 8, SEEN_RECORDS = 16 };

/* One member of a record (or of a PutRecord body, with `top`): Data, PartitionKey,
 * ExplicitHashKey, and at the top StreamName. */
static int record_member(cur *c, sl_ds_put_body *out, sl_ds_put_rec *r, size_t *used,
                         unsigned *seen, int top)
{
    const char *k;
    size_t kn;
    unsigned bit;
    int rc = member_name(c, &k, &kn);
    if (rc)
        return rc;
    if (name_is(k, kn, "Data"))
        bit = SEEN_DATA;
    else if (name_is(k, kn, "PartitionKey"))
        bit = SEEN_PK;
    else if (name_is(k, kn, "ExplicitHashKey"))
        bit = SEEN_EHK;
    else if (top && name_is(k, kn, "StreamName"))
        bit = SEEN_STREAM;
    else
        return not_mine(c, "a member outside the subset");
    if (*seen & bit)
        return not_mine(c, "duplicate member");
    *seen |= bit;
    switch (bit) {
    case SEEN_DATA:
        return data_member(c, r, out->blob, used);
    case SEEN_PK:
        return partition_key(c, r);
    case SEEN_EHK:
        return hash_key(c, r);
    default:
        return stream_name(c, out);
    }
}

/* The members of an object whose '{' was taken, up to its '}'. */
static int record_members(cur *c, sl_ds_put_body *out, sl_ds_put_rec *r, size_t *used,
                          unsigned *seen, int top)
{
    int more = 1, rc;
    while (more) {
        if ((rc = record_member(c, out, r, used, seen, top)) || (rc = next_or_close(c, '}', &more)))
            return rc;
    }
    if ((*seen & (SEEN_DATA | SEEN_PK)) != (SEEN_DATA | SEEN_PK))
        return not_mine(c, "Data or PartitionKey missing");
    return 0;
}

/* Takes the whitespace after the object; anything else is not ours. */
static int at_end(cur *c)
{
    skip_ws(c);
    return c->p == c->end ? 0 : not_mine(c, "bytes after the object");
}

/* The block for the decoded Data of a body of len bytes. */
static uint8_t *blob_new(size_t len)
{
    return malloc(len / 4 * 3 + 1);
}

static int records_array(cur *c, sl_ds_put_body *out, size_t len)
{
    size_t cap = len / MIN_RECORD_BYTES + 1, used = 0;
    int more = 1, rc;
    if (cap > SL_DS_PUT_RECORDS_MAX)
        cap = SL_DS_PUT_RECORDS_MAX;
    if (!take(c, '['))
        return not_mine(c, "Records is not an array");
    if (take(c, ']'))
        return not_mine(c, "no records");
    if (!(out->recs = malloc(cap * sizeof(*out->recs))))
        return SL_ENOMEM;
    while (more) {
        if (out->n == SL_DS_PUT_RECORDS_MAX)
            return not_mine(c, "more records than the model allows");
        if (out->n == cap) { /* cannot happen (cap bounds what len holds); kept safe anyway */
            size_t ncap = cap * 2 < SL_DS_PUT_RECORDS_MAX ? cap * 2 : SL_DS_PUT_RECORDS_MAX;
            sl_ds_put_rec *g = realloc(out->recs, ncap * sizeof(*g));
            if (!g)
                return SL_ENOMEM;
            out->recs = g;
            cap = ncap;
        }
        sl_ds_put_rec *r = &out->recs[out->n++];
        unsigned seen = 0;
        memset(r, 0, sizeof(*r));
        if (!take(c, '{'))
            return not_mine(c, "a record is not an object");
        if ((rc = record_members(c, out, r, &used, &seen, 0)) ||
            (rc = next_or_close(c, ']', &more)))
            return rc;
    }
    return 0;
}

int sl_ds_putparse_records(const char *body, size_t len, sl_ds_put_body *out, sl_diag *d)
{
    cur c = {.start = body, .p = body, .end = body + len, .d = d};
    unsigned seen = 0;
    int more = 1, rc;

    memset(out, 0, sizeof(*out));
    if (!take(&c, '{')) {
        rc = not_mine(&c, "not an object");
        goto out;
    }
    if (!(out->blob = blob_new(len))) {
        rc = SL_ENOMEM;
        goto out;
    }
    while (more) {
        const char *k;
        size_t kn;
        if ((rc = member_name(&c, &k, &kn)))
            goto out;
        unsigned bit = name_is(k, kn, "StreamName") ? SEEN_STREAM
                       : name_is(k, kn, "Records")  ? SEEN_RECORDS
                                                    : 0;
        if (!bit) {
            rc = not_mine(&c, "a member outside the subset");
            goto out;
        }
        if (seen & bit) {
            rc = not_mine(&c, "duplicate member");
            goto out;
        }
        seen |= bit;
        rc = bit == SEEN_STREAM ? stream_name(&c, out) : records_array(&c, out, len);
        if (rc || (rc = next_or_close(&c, '}', &more)))
            goto out;
    }
    if (seen != (SEEN_STREAM | SEEN_RECORDS)) {
        rc = not_mine(&c, "StreamName or Records missing");
        goto out;
    }
    rc = at_end(&c);
out:
    if (rc)
        sl_ds_putparse_cleanup(out);
    return rc;
}

int sl_ds_putparse_record(const char *body, size_t len, sl_ds_put_body *out, sl_diag *d)
{
    cur c = {.start = body, .p = body, .end = body + len, .d = d};
    unsigned seen = 0;
    size_t used = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!take(&c, '{')) {
        rc = not_mine(&c, "not an object");
        goto out;
    }
    if (!(out->blob = blob_new(len)) || !(out->recs = calloc(1, sizeof(*out->recs)))) {
        rc = SL_ENOMEM;
        goto out;
    }
    out->n = 1;
    if ((rc = record_members(&c, out, &out->recs[0], &used, &seen, 1)))
        goto out;
    if (!(seen & SEEN_STREAM)) {
        rc = not_mine(&c, "StreamName missing");
        goto out;
    }
    rc = at_end(&c);
out:
    if (rc)
        sl_ds_putparse_cleanup(out);
    return rc;
}

void sl_ds_putparse_cleanup(sl_ds_put_body *b)
{
    free(b->recs);
    free(b->blob);
    memset(b, 0, sizeof(*b));
}
