/* Loader for the AWS SigV4 test suite in SL_SHARED_DIR/sigv4-testsuite, shared by
 * test_sigv4.c (signer) and tests/unit/auth/test_auth.c (verifier). Header-only, static.
 *
 * Each vector folder holds context.json (credentials, region, service, timestamp, normalize,
 * sign_body, expiration_in_seconds, omit_session_token), request.txt and, per form
 * ("header-" / "query-"), canonical-request.txt, string-to-sign.txt, signature.txt and
 * signed-request.txt. A request file is "METHOD target HTTP/1.1", then "Name:value" lines (a line
 * starting with whitespace continues the previous value), then optionally a blank line and the
 * body. */
#ifndef SL_TEST_SIGV4_VECTORS_H
#define SL_TEST_SIGV4_VECTORS_H

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sluice/buf.h"
#include "sluice/http.h"

#define VEC_DIR     SL_SHARED_DIR "/sigv4-testsuite"
#define VEC_MAX_HDR 32

typedef struct vec_ctx {
    char name[128];
    char access_key[64];
    char secret[128];
    char token[1024];
    char region[64];
    char service[64];
    long long time_s;
    int normalize;
    int sign_body;
    int omit_token;
    long long expires;
} vec_ctx;

typedef struct vec_req {
    sl_buf text;  /* owns the bytes every slice below points into */
    sl_buf lower; /* lower-cased header names */
    sl_slice method, target, path, query;
    sl_http_header hdr[VEC_MAX_HDR];  /* names as written */
    sl_http_header lhdr[VEC_MAX_HDR]; /* names lower-cased (what sl_http_request carries) */
    size_t n;
    const uint8_t *body;
    size_t body_len;
} vec_req;

/* Reads dir/name (NUL-terminated) into b; 0 or -1. */
static int vec_read(sl_buf *b, const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[4096];
    size_t n;
    sl_buf_reset(b);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        sl_buf_append(b, tmp, n);
    fclose(f);
    if (!b->data)
        sl_buf_append(b, "", 0);
    return b->oom ? -1 : 0;
}

static long long vec_civil(int y, int mo, int d)
{
    y -= mo <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (unsigned)(mo + (mo > 2 ? -3 : 9)) + 2) / 5 + (unsigned)d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static int vec_load_ctx(vec_ctx *c, const char *dir, const char *name)
{
    sl_buf b = SL_BUF_INIT;
    int rc = -1;
    cJSON *j = NULL;
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    if (vec_read(&b, dir, "context.json") != 0)
        goto out;
    j = cJSON_Parse(b.data);
    if (!j)
        goto out;
    cJSON *cr = cJSON_GetObjectItem(j, "credentials");
    const char *ak = cJSON_GetStringValue(cJSON_GetObjectItem(cr, "access_key_id"));
    const char *sk = cJSON_GetStringValue(cJSON_GetObjectItem(cr, "secret_access_key"));
    const char *tk = cJSON_GetStringValue(cJSON_GetObjectItem(cr, "token"));
    const char *rg = cJSON_GetStringValue(cJSON_GetObjectItem(j, "region"));
    const char *sv = cJSON_GetStringValue(cJSON_GetObjectItem(j, "service"));
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(j, "timestamp"));
    if (!ak || !sk || !rg || !sv || !ts)
        goto out;
    snprintf(c->access_key, sizeof(c->access_key), "%s", ak);
    snprintf(c->secret, sizeof(c->secret), "%s", sk);
    snprintf(c->token, sizeof(c->token), "%s", tk ? tk : "");
    snprintf(c->region, sizeof(c->region), "%s", rg);
    snprintf(c->service, sizeof(c->service), "%s", sv);
    int y, mo, d, h, mi, s;
    if (sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &s) != 6)
        goto out;
    c->time_s = vec_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    c->normalize = cJSON_IsTrue(cJSON_GetObjectItem(j, "normalize"));
    c->sign_body = cJSON_IsTrue(cJSON_GetObjectItem(j, "sign_body"));
    c->omit_token = cJSON_IsTrue(cJSON_GetObjectItem(j, "omit_session_token"));
    cJSON *ex = cJSON_GetObjectItem(j, "expiration_in_seconds");
    c->expires = cJSON_IsNumber(ex) ? (long long)ex->valuedouble : 3600;
    rc = 0;
out:
    cJSON_Delete(j);
    sl_buf_cleanup(&b);
    return rc;
}

static void vec_req_cleanup(vec_req *r)
{
    sl_buf_cleanup(&r->text);
    sl_buf_cleanup(&r->lower);
    memset(r, 0, sizeof(*r));
}

/* Parses the raw request text in r->text. 0 or -1. */
static int vec_parse_req(vec_req *r)
{
    const char *p = r->text.data, *end = p + r->text.len;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        nl = end;
    const char *sp1 = memchr(p, ' ', (size_t)(nl - p));
    const char *sp2 = nl;
    while (sp2 > p && sp2[-1] != ' ')
        sp2--;
    if (!sp1 || sp2 <= sp1 + 1)
        return -1;
    r->method = (sl_slice){p, (size_t)(sp1 - p)};
    r->target = (sl_slice){sp1 + 1, (size_t)(sp2 - 1 - (sp1 + 1))};
    const char *q = memchr(r->target.ptr, '?', r->target.len);
    if (q) {
        r->path = (sl_slice){r->target.ptr, (size_t)(q - r->target.ptr)};
        r->query = (sl_slice){q + 1, (size_t)(r->target.ptr + r->target.len - q - 1)};
    } else {
        r->path = r->target;
        r->query = (sl_slice){"", 0};
    }
    r->n = 0;
    p = nl < end ? nl + 1 : end;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (nl == p) { /* blank line: the body follows */
            p = nl + 1;
            break;
        }
        if ((*p == ' ' || *p == '\t') && r->n) { /* continuation */
            sl_http_header *h = &r->hdr[r->n - 1];
            h->value.len = (size_t)(nl - h->value.ptr);
        } else {
            const char *colon = memchr(p, ':', (size_t)(nl - p));
            if (!colon || r->n == VEC_MAX_HDR)
                return -1;
            r->hdr[r->n].name = (sl_slice){p, (size_t)(colon - p)};
            r->hdr[r->n].value = (sl_slice){colon + 1, (size_t)(nl - colon - 1)};
            r->n++;
        }
        p = nl < end ? nl + 1 : end;
    }
    r->body = (const uint8_t *)p;
    r->body_len = p < end ? (size_t)(end - p) : 0;
    if (p >= end)
        r->body = (const uint8_t *)"";
    /* lower-cased names */
    sl_buf_reset(&r->lower);
    size_t total = 0;
    for (size_t i = 0; i < r->n; i++)
        total += r->hdr[i].name.len;
    if (sl_buf_reserve(&r->lower, total + 1) != 0)
        return -1;
    for (size_t i = 0; i < r->n; i++) {
        size_t off = r->lower.len;
        for (size_t k = 0; k < r->hdr[i].name.len; k++) {
            char c = r->hdr[i].name.ptr[k];
            sl_buf_append_byte(&r->lower, (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c));
        }
        r->lhdr[i].name = (sl_slice){r->lower.data + off, r->hdr[i].name.len};
        r->lhdr[i].value = r->hdr[i].value;
    }
    return 0;
}

static int vec_load_req(vec_req *r, const char *dir, const char *file)
{
    memset(r, 0, sizeof(*r));
    if (vec_read(&r->text, dir, file) != 0)
        return -1;
    return vec_parse_req(r);
}

/* Names of every vector folder, sorted; returns the count (0 when the suite is missing). */
static int vec_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t vec_list(char ***names_out)
{
    DIR *d = opendir(VEC_DIR);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[PATH_MAX];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s/context.json", VEC_DIR, e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fclose(f);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
        }
        names[n++] = strdup(e->d_name);
    }
    if (d)
        closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), vec_name_cmp);
    *names_out = names;
    return n;
}

static void vec_list_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Strips trailing newlines of b (expected files sometimes end with one). */
static inline void vec_chomp(sl_buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r'))
        b->data[--b->len] = '\0';
}

#endif
