/* SigV4 canonicalisation: URI, query, header values and the whole canonical request.
 *
 * The rules (see sluice/sigv4.h) follow what AWS services accept from botocore and the JS SDK v3
 * and what the AWS signing test suite expects:
 *   - URI: path as sent; when normalising, "." and empty segments are dropped and ".." pops one
 *     (botocore's remove_dot_segments), a trailing '/' survives when anything is left; then
 *     every byte but the unreserved set and '/' is percent-encoded (so "%" -> "%25").
 *   - Query: split on '&', key/value on the first '=', both percent-decoded ('+' stays a '+')
 *     and re-encoded with the unreserved set, sorted bytewise by key then value.
 *   - Header values: leading/trailing whitespace trimmed, inner runs of SP/HT/CR/LF -> one SP;
 *     repeated headers joined with ',' in arrival order.
 * No allocation besides the output buffers and one temporary array for query sorting. */
#include <stdlib.h>
#include <string.h>

#include "sluice/sigv4.h"

static const char HEX_UPPER[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sl_sigv4_uri_encode(sl_buf *out, const void *p, size_t n, int keep_slash)
{
    const unsigned char *s = p;
    if (sl_buf_reserve(out, n) != 0)
        return SL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sl_buf_append_byte(out, c);
        } else {
            char e[3] = {'%', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
            sl_buf_append(out, e, 3);
        }
    }
    return out->oom ? SL_ENOMEM : 0;
}

/* Appends the percent-decoding of s, then encodes it: one canonical query component. Invalid
 * escapes are taken literally (and so re-encoded as %25..). */
static int encode_component(sl_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            c = (unsigned char)(hexval((unsigned char)s[i + 1]) * 16 +
                                hexval((unsigned char)s[i + 2]));
            i += 2;
        }
        if (is_unreserved(c)) {
            sl_buf_append_byte(out, c);
        } else {
            char e[3] = {'%', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
            sl_buf_append(out, e, 3);
        }
    }
    return out->oom ? SL_ENOMEM : 0;
}

int sl_sigv4_canonical_uri(sl_buf *out, sl_slice path, int normalize)
{
    if (path.len == 0)
        return sl_buf_append_byte(out, '/');
    if (!normalize)
        return sl_sigv4_uri_encode(out, path.ptr, path.len, 1);

    /* Segment stack as (offset, length) pairs into path; depth is bounded by len/2 + 1. */
    size_t max_segs = path.len / 2 + 1, depth = 0;
    size_t *segs = malloc(max_segs * 2 * sizeof(*segs));
    if (!segs)
        return SL_ENOMEM;
    size_t i = 0;
    while (i <= path.len) {
        size_t j = i;
        while (j < path.len && path.ptr[j] != '/')
            j++;
        size_t n = j - i;
        if (n == 0 || (n == 1 && path.ptr[i] == '.')) {
            /* empty or "." segment: dropped */
        } else if (n == 2 && path.ptr[i] == '.' && path.ptr[i + 1] == '.') {
            if (depth)
                depth--;
        } else {
            segs[2 * depth] = i;
            segs[2 * depth + 1] = n;
            depth++;
        }
        i = j + 1;
    }
    int rc = 0;
    if (path.ptr[0] == '/')
        sl_buf_append_byte(out, '/');
    for (size_t k = 0; k < depth; k++) {
        if (k)
            sl_buf_append_byte(out, '/');
        sl_sigv4_uri_encode(out, path.ptr + segs[2 * k], segs[2 * k + 1], 0);
    }
    if (depth && path.ptr[path.len - 1] == '/')
        sl_buf_append_byte(out, '/');
    if (out->oom)
        rc = SL_ENOMEM;
    free(segs);
    return rc;
}

typedef struct qpair {
    size_t koff, klen, voff, vlen; /* into the scratch buffer */
    const char *base;
} qpair;

static int qpair_cmp(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->base + x->koff, y->base + y->koff, n);
    if (c)
        return c;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    n = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = memcmp(x->base + x->voff, y->base + y->voff, n);
    if (c)
        return c;
    if (x->vlen != y->vlen)
        return x->vlen < y->vlen ? -1 : 1;
    return 0;
}

int sl_sigv4_canonical_query(sl_buf *out, sl_slice query, int skip_signature)
{
    size_t max_pairs = 1;
    for (size_t i = 0; i < query.len; i++)
        max_pairs += query.ptr[i] == '&';
    qpair *pairs = NULL;
    sl_buf scratch = SL_BUF_INIT;
    size_t n = 0;
    int rc = 0;

    if (query.len == 0)
        goto out;
    pairs = malloc(max_pairs * sizeof(*pairs));
    /* decoding never grows a component and encoding at most triples it */
    if (!pairs || sl_buf_reserve(&scratch, query.len * 3 + 1) != 0) {
        rc = SL_ENOMEM;
        goto out;
    }
    size_t i = 0;
    while (i <= query.len) {
        size_t j = i;
        while (j < query.len && query.ptr[j] != '&')
            j++;
        if (j > i) {
            const char *p = query.ptr + i;
            size_t len = j - i;
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            qpair *q = &pairs[n];
            q->koff = scratch.len;
            encode_component(&scratch, p, klen);
            q->klen = scratch.len - q->koff;
            q->voff = scratch.len;
            if (eq)
                encode_component(&scratch, eq + 1, len - klen - 1);
            q->vlen = scratch.len - q->voff;
            if (skip_signature && q->klen == 15 &&
                memcmp(scratch.data + q->koff, "X-Amz-Signature", 15) == 0)
                scratch.len = q->koff;
            else
                n++;
        }
        i = j + 1;
    }
    if (scratch.oom) {
        rc = SL_ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < n; k++)
        pairs[k].base = scratch.data;
    qsort(pairs, n, sizeof(*pairs), qpair_cmp);
    for (size_t k = 0; k < n; k++) {
        if (k)
            sl_buf_append_byte(out, '&');
        sl_buf_append(out, scratch.data + pairs[k].koff, pairs[k].klen);
        sl_buf_append_byte(out, '=');
        sl_buf_append(out, scratch.data + pairs[k].voff, pairs[k].vlen);
    }
    if (out->oom)
        rc = SL_ENOMEM;
out:
    free(pairs);
    sl_buf_cleanup(&scratch);
    return rc;
}

int sl_sigv4_canonical_header_value(sl_buf *out, sl_slice value)
{
    size_t b = 0, e = value.len;
    while (b < e && is_ws((unsigned char)value.ptr[b]))
        b++;
    while (e > b && is_ws((unsigned char)value.ptr[e - 1]))
        e--;
    if (sl_buf_reserve(out, e - b) != 0)
        return SL_ENOMEM;
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)value.ptr[i];
        if (is_ws(c)) {
            while (i + 1 < e && is_ws((unsigned char)value.ptr[i + 1]))
                i++;
            c = ' ';
        }
        out->data[out->len++] = (char)c;
    }
    out->data[out->len] = '\0';
    return 0;
}

static int name_eq_nocase(sl_slice a, const char *b, size_t blen)
{
    if (a.len != blen)
        return 0;
    for (size_t i = 0; i < blen; i++) {
        unsigned char x = (unsigned char)a.ptr[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return 0;
    }
    return 1;
}

static void append_lower(sl_buf *out, const char *p, size_t n)
{
    if (sl_buf_reserve(out, n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        out->data[out->len++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    out->data[out->len] = '\0';
}

int sl_sigv4_canonical_request(sl_buf *out, const sl_sigv4_canon *c)
{
    if (c->signed_headers.len == 0)
        return SL_EINVAL;
    sl_buf_append(out, c->method.ptr, c->method.len);
    sl_buf_append_byte(out, '\n');
    int rc = sl_sigv4_canonical_uri(out, c->path, c->normalize_path);
    if (rc)
        return rc;
    sl_buf_append_byte(out, '\n');
    rc = sl_sigv4_canonical_query(out, c->query, c->skip_signature_param);
    if (rc)
        return rc;
    sl_buf_append_byte(out, '\n');

    const char *sh = c->signed_headers.ptr;
    size_t shlen = c->signed_headers.len, i = 0;
    while (i < shlen) {
        size_t j = i;
        while (j < shlen && sh[j] != ';')
            j++;
        const char *name = sh + i;
        size_t nlen = j - i;
        i = j + 1;
        if (nlen == 0)
            continue;
        append_lower(out, name, nlen);
        sl_buf_append_byte(out, ':');
        int found = 0;
        for (size_t k = 0; k < c->n_headers; k++) {
            if (!name_eq_nocase(c->headers[k].name, name, nlen))
                continue;
            if (found++)
                sl_buf_append_byte(out, ',');
            sl_sigv4_canonical_header_value(out, c->headers[k].value);
        }
        /* HTTP/2: the authority travels as the :authority pseudo-header, which clients sign
         * either as "host" (botocore, older JS SDK) or as ":authority" (JS SDK v3 on h2) */
        if (!found && ((nlen == 4 && name_eq_nocase(SL_SLICE_LIT("host"), name, nlen)) ||
                       (nlen == 10 && name_eq_nocase(SL_SLICE_LIT(":authority"), name, nlen))))
            sl_sigv4_canonical_header_value(out, c->host_fallback);
        sl_buf_append_byte(out, '\n');
    }
    sl_buf_append_byte(out, '\n');
    append_lower(out, sh, shlen);
    sl_buf_append_byte(out, '\n');
    sl_buf_append(out, c->payload_hash.ptr, c->payload_hash.len);
    return out->oom ? SL_ENOMEM : 0;
}

int sl_sigv4_string_to_sign(sl_buf *out, sl_slice amz_date, sl_slice scope, sl_slice cr)
{
    char hex[65];
    sl_sigv4_sha256_hex(cr.ptr, cr.len, hex);
    sl_buf_append_str(out, SL_SIGV4_ALGORITHM "\n");
    sl_buf_append(out, amz_date.ptr, amz_date.len);
    sl_buf_append_byte(out, '\n');
    sl_buf_append(out, scope.ptr, scope.len);
    sl_buf_append_byte(out, '\n');
    sl_buf_append(out, hex, 64);
    return out->oom ? SL_ENOMEM : 0;
}
