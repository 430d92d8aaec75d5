/* Request authentication: the key table and the SigV4 verifier for incoming requests.
 *
 * Keys come from a file in the AWS shared-credentials format ([profile] sections with
 * aws_access_key_id / aws_secret_access_key; any number of them). sl_auth_verify() checks the
 * Authorization-header form and the presigned query form with the signer in common/sigv4, with
 * a cache of derived signing keys per (key, day, region, service). Loop thread only. */
#ifndef SLUICE_AUTH_H
#define SLUICE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/err.h"
#include "sluice/http.h"

typedef struct sl_auth sl_auth;

typedef struct sl_auth_result {
    char access_key[129];
    char region[64];
    char service[64];
} sl_auth_result;

int sl_auth_new(sl_auth **out);
void sl_auth_free(sl_auth *a);
/* Adds every key pair in the shared-credentials file at path. SL_EINVAL when it holds none. */
int sl_auth_load_file(sl_auth *a, const char *path);
/* Writes a new random key pair to path (mode 0600, [default] profile) and loads it. */
int sl_auth_generate_file(sl_auth *a, const char *path);
size_t sl_auth_key_count(const sl_auth *a);

/* Verifies req for signing name `service`. body/body_len: the whole body of a buffered request;
 * NULL for a streamed one, whose payload hash is then x-amz-content-sha256 when present
 * (UNSIGNED-PAYLOAD accepted) or else the SHA-256 of the empty string, as the AWS video
 * producer signs PutMedia. now_s: current Unix time (15-minute skew allowed).
 * Returns 0 and fills *out, or SL_EAUTH_MISSING / SL_EAUTH_INCOMPLETE / SL_EAUTH_SIGNATURE /
 * SL_EAUTH_UNKNOWN_KEY / SL_EAUTH_EXPIRED with diag->text holding the message AWS sends. */
int sl_auth_verify(sl_auth *a, const sl_http_request *req, const char *service, const uint8_t *body,
                   size_t body_len, int64_t now_s, sl_auth_result *out, sl_diag *diag);

#endif
