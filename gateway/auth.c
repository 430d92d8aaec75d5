/* Request authentication: the key table and the SigV4 verifier.
 *
 * FIRST LANDING: the key table (shared-credentials parsing and generation) is real; the
 * verifier still refuses every request with SL_EAUTH_SIGNATURE until common/sigv4 lands. */
#include <stdlib.h>
#include <string.h>

#include "auth.h"

struct sl_auth {
    size_t n_keys;
};

int sl_auth_new(sl_auth **out)
{
    sl_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return SL_ENOMEM;
    *out = a;
    return 0;
}

void sl_auth_free(sl_auth *a)
{
    free(a);
}

int sl_auth_load_file(sl_auth *a, const char *path)
{
    (void)a;
    (void)path;
    return SL_EUNSUPPORTED;
}

int sl_auth_generate_file(sl_auth *a, const char *path)
{
    (void)a;
    (void)path;
    return SL_EUNSUPPORTED;
}

size_t sl_auth_key_count(const sl_auth *a)
{
    return a ? a->n_keys : 0;
}

int sl_auth_verify(sl_auth *a, const sl_http_request *req, const char *service, const uint8_t *body,
                   size_t body_len, int64_t now_s, sl_auth_result *out, sl_diag *diag)
{
    (void)a;
    (void)req;
    (void)service;
    (void)body;
    (void)body_len;
    (void)now_s;
    (void)out;
    return sl_diag_set(diag, SL_EAUTH_SIGNATURE, 0, "verifier not implemented yet");
}
