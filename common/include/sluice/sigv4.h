/* AWS Signature Version 4: canonicalisation, signing and the parsing half of verification.
 *
 * Shared by the daemon's verifier (gateway/auth.c), the kvssink plugin and the test/benchmark
 * clients, so it has no I/O and no global state besides OpenSSL's prefetched SHA-256.
 *
 * A signature is HMAC-SHA256(kSigning, string-to-sign) where
 *   kSigning       = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, yyyymmdd), region), service),
 *                         "aws4_request")
 *   string-to-sign = "AWS4-HMAC-SHA256\n" amz-date "\n" scope "\n" hex(SHA256(canonical request))
 *   canonical req  = method "\n" canonical-uri "\n" canonical-query "\n"
 *                    (name ":" value "\n")* "\n" signed-headers "\n" payload-hash
 * The canonical URI is the path as sent, dot segments and empty segments removed when
 * normalising (every AWS service but S3), then percent-encoded again with only the RFC 3986
 * unreserved characters and '/' kept: an already-encoded "%20" becomes "%2520" -- the "double
 * encoding" botocore and the JS SDK apply for non-S3 services, and what the AWS test suite
 * expects for raw bytes. The canonical query decodes each key and value, re-encodes them with
 * the unreserved set, sorts by key then value and joins with '&' ("k=" for a key without '=').
 * Header values are trimmed and runs of whitespace (obs-fold included) become one space; repeated
 * headers are joined with ',' in the order sent.
 *
 * Everything works over (ptr, len) slices and writes into caller-owned sl_buf. Functions are
 * reentrant and thread-safe. Errors: SL_ENOMEM, SL_EINVAL (bad arguments), and from the parsers
 * SL_EAUTH_MISSING / SL_EAUTH_INCOMPLETE with the message AWS sends in diag->text. */
#ifndef SLUICE_SIGV4_H
#define SLUICE_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/buf.h"
#include "sluice/err.h"
#include "sluice/http.h"

#define SL_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SL_SIGV4_UNSIGNED  "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty string: the payload hash of a GET, and of PutMedia's streamed body. */
#define SL_SIGV4_EMPTY_SHA256  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SL_SIGV4_MAX_SKEW_S    (15 * 60)
#define SL_SIGV4_MAX_EXPIRES_S 604800

/* ---- primitives (sign.c) ---- */

/* hex_out receives 64 lower-case hex digits and a NUL. */
void sl_sigv4_sha256_hex(const void *p, size_t n, char hex_out[65]);
void sl_sigv4_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
                          uint8_t out[32]);
/* kSigning for (secret, yyyymmdd, region, service). */
void sl_sigv4_derive_key(sl_slice secret, sl_slice date8, sl_slice region, sl_slice service,
                         uint8_t key_out[32]);
/* "20150830T123600Z" (16 chars + NUL) for Unix time t_s. SL_ERANGE outside years 0..9999. */
int sl_sigv4_format_amz_date(int64_t t_s, char out[17]);
/* Parses "yyyymmddThhmmssZ" (exactly) into Unix seconds. SL_EPARSE if malformed. */
int sl_sigv4_parse_amz_date(sl_slice s, int64_t *t_s);
/* Parses an HTTP Date header (RFC 1123 "Sun, 06 Nov 1994 08:49:37 GMT") or, as AWS also
 * accepts there, the basic ISO form. SL_EPARSE if neither. */
int sl_sigv4_parse_http_date(sl_slice s, int64_t *t_s);

/* ---- canonicalisation (canon.c) ---- */

/* Appends p percent-encoded: unreserved kept, '/' kept when keep_slash, all else %XX. */
int sl_sigv4_uri_encode(sl_buf *out, const void *p, size_t n, int keep_slash);
/* Appends the canonical URI of path (as sent; empty means "/"). normalize: remove "." and ".."
 * segments and empty segments first (every service but S3). */
int sl_sigv4_canonical_uri(sl_buf *out, sl_slice path, int normalize);
/* Appends the canonical query of query (as sent, without '?'). skip_signature drops the
 * X-Amz-Signature parameter (presigned verification). */
int sl_sigv4_canonical_query(sl_buf *out, sl_slice query, int skip_signature);
/* Appends value trimmed, whitespace runs collapsed to one space. */
int sl_sigv4_canonical_header_value(sl_buf *out, sl_slice value);

typedef struct sl_sigv4_canon {
    sl_slice method;
    sl_slice path;                 /* as sent */
    sl_slice query;                /* as sent, without '?' */
    int normalize_path;            /* 1 for every service but S3 */
    int skip_signature_param;      /* 1 when verifying the presigned form */
    const sl_http_header *headers; /* borrowed; names matched case-insensitively */
    size_t n_headers;
    sl_slice signed_headers; /* "host;x-amz-date": the names to include, in this order */
    sl_slice host_fallback;  /* value for a signed "host" or ":authority" absent from
                                headers (HTTP/2 :authority); empty for none */
    sl_slice payload_hash;   /* 64 hex digits or UNSIGNED-PAYLOAD */
} sl_sigv4_canon;

/* Appends the canonical request. A signed header that is absent contributes "name:" (the
 * signature then simply does not match). SL_EINVAL if signed_headers is empty. */
int sl_sigv4_canonical_request(sl_buf *out, const sl_sigv4_canon *c);
/* Appends the string to sign for canonical request cr. scope: "yyyymmdd/region/service/
 * aws4_request". */
int sl_sigv4_string_to_sign(sl_buf *out, sl_slice amz_date, sl_slice scope, sl_slice cr);
/* hex_out = hex(HMAC(signing key, sts)). */
void sl_sigv4_signature(const uint8_t key[32], sl_slice sts, char hex_out[65]);

/* ---- signing (sign.c) ---- */

typedef struct sl_sigv4_request {
    sl_slice method;
    sl_slice path;                 /* as it will be sent (already percent-encoded where needed) */
    sl_slice query;                /* as it will be sent, without '?'; may be empty */
    const sl_http_header *headers; /* every header to sign, Host included; borrowed */
    size_t n_headers;
    const void *body; /* used when opts->payload_hash is empty; NULL = empty body */
    size_t body_len;
} sl_sigv4_request;

typedef struct sl_sigv4_sign_opts {
    sl_slice access_key;
    sl_slice secret_key;
    sl_slice session_token; /* empty: none */
    sl_slice region;
    sl_slice service;
    int64_t time_s;         /* signing time, Unix seconds */
    int no_normalize_path;  /* 1 for S3-style paths; 0 (normalise) everywhere else */
    sl_slice payload_hash;  /* empty: SHA-256 of body; or UNSIGNED-PAYLOAD / 64 hex */
    int add_content_sha256; /* header form: add and sign x-amz-content-sha256 */
    int omit_session_token; /* add the token after signing, unsigned (as the AWS video
                               producer and the test suite's "sts-header-after" do) */
    int64_t expires_s;      /* presigned form: X-Amz-Expires (1..604800) */
} sl_sigv4_sign_opts;

/* What a signing produced. Initialise with sl_sigv4_result_init(), release with
 * sl_sigv4_result_cleanup(); one result can be reused for several signings. */
typedef struct sl_sigv4_result {
    sl_buf canonical_request;
    sl_buf string_to_sign;
    char signature[65];
    char amz_date[17];
    char payload_hash[65];
    sl_buf signed_headers; /* "host;x-amz-date" */
    sl_buf authorization;  /* header form: the Authorization value */
    sl_buf query;          /* presigned form: the whole query to send (original params
                              first, then the X-Amz-* ones, X-Amz-Signature last) */
    /* Header form: the headers to add to the request (X-Amz-Date, X-Amz-Security-Token and
     * X-Amz-Content-Sha256 when used, Authorization). Values point into this result. */
    sl_http_header add[4];
    size_t n_add;
    sl_buf store_; /* private */
} sl_sigv4_result;

void sl_sigv4_result_init(sl_sigv4_result *r);
void sl_sigv4_result_cleanup(sl_sigv4_result *r);

/* Signs req in the Authorization-header form. Every header of req is signed, plus X-Amz-Date
 * (and X-Amz-Security-Token / x-amz-content-sha256 as opts say). SL_EINVAL if a required option
 * is missing; SL_ENOMEM. */
int sl_sigv4_sign(const sl_sigv4_request *req, const sl_sigv4_sign_opts *opts,
                  sl_sigv4_result *res);
/* Signs req in the presigned-query form: res->query is the query to send. Every header of req is
 * signed. SL_EINVAL also when opts->expires_s is out of 1..604800. */
int sl_sigv4_presign(const sl_sigv4_request *req, const sl_sigv4_sign_opts *opts,
                     sl_sigv4_result *res);

/* ---- parsing what a client sent (verify.c) ---- */

typedef struct sl_sigv4_auth {
    int presigned; /* 1: from the query; 0: from the Authorization header */
    char access_key[129];
    char date8[9]; /* credential scope day */
    char region[64];
    char service[64];
    char scope[256];           /* "yyyymmdd/region/service/aws4_request" */
    char signed_headers[1024]; /* as sent (decoded), e.g. "host;x-amz-date" */
    char signature[65];
    /* presigned form only */
    char amz_date[17];
    int64_t expires_s;
} sl_sigv4_auth;

/* Parses an Authorization header value. Tolerates commas and spaces between parameters as AWS
 * does. SL_EAUTH_INCOMPLETE (missing/invalid parameter, AWS text in diag) or
 * SL_EAUTH_SIGNATURE (unsupported algorithm, bad terminator). */
int sl_sigv4_parse_authorization(sl_slice value, sl_sigv4_auth *out, sl_diag *diag);
/* Parses the presigned X-Amz-* parameters of query. SL_EAUTH_MISSING when the query carries no
 * X-Amz-Algorithm / X-Amz-Credential / X-Amz-Signature at all; SL_EAUTH_INCOMPLETE when some
 * are missing or malformed. */
int sl_sigv4_parse_presigned(sl_slice query, sl_sigv4_auth *out, sl_diag *diag);
/* 1 if query carries any presigning parameter (X-Amz-Algorithm, -Credential, -Signature). */
int sl_sigv4_query_is_presigned(sl_slice query);
/* 1 if the ';'-separated list names `name` (lower-case compare). */
int sl_sigv4_signed_headers_has(const char *list, const char *name);

#endif
