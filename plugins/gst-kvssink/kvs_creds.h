/* Credential and endpoint resolution for kvssink, in the AWS element's order.
 *
 * Credentials: the element's access-key/secret-key/session-token properties when they are not
 * the AWS sentinels ("access_key", "secret_key", "session_token"); else AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; else the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials), profile AWS_PROFILE or "default".
 * Region: AWS_DEFAULT_REGION wins over the property (as the AWS element does). Control-plane
 * URL: the element's control-plane-uri property, else CONTROL_PLANE_URI verbatim, else
 * https://kinesisvideo.<region>.amazonaws.com (.com.cn for cn-* regions).
 *
 * Threads: reads the environment and one file; call from one thread at a time. */
#ifndef SL_KVS_CREDS_H
#define SL_KVS_CREDS_H

#include <stddef.h>

typedef struct sl_kvs_creds {
    char access_key[256];
    char secret_key[256];
    char session_token[4096];
    char source[32]; /* "properties", "environment", "credentials-file" */
} sl_kvs_creds;

/* Any argument may be NULL. 0, or SL_ENOTFOUND when no source gives both keys. */
int sl_kvs_creds_resolve(const char *prop_access, const char *prop_secret, const char *prop_token,
                         sl_kvs_creds *out);
/* Parses an INI credentials file for profile. 0, SL_ENOTFOUND, SL_IO. */
int sl_kvs_creds_from_file(const char *path, const char *profile, sl_kvs_creds *out);
/* Writes the region into out (size n). */
void sl_kvs_region_resolve(const char *prop_region, char *out, size_t n);
/* Writes the control-plane base URL (no trailing '/') into out (size n). */
void sl_kvs_endpoint_resolve(const char *prop_uri, const char *region, char *out, size_t n);
/* Wipes secrets. */
void sl_kvs_creds_wipe(sl_kvs_creds *c);

#endif
