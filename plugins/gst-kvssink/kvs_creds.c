/* kvssink credential, region and endpoint resolution; the order is documented in kvs_creds.h.
 * The credentials file is the usual INI shape: "[profile]" sections, "key = value" lines,
 * '#' and ';' comments; keys aws_access_key_id, aws_secret_access_key, aws_session_token. */
#include "kvs_creds.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/err.h"

static int usable(const char *v, const char *sentinel)
{
    return v && v[0] && strcmp(v, sentinel) != 0;
}

static void copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int sl_kvs_creds_from_file(const char *path, const char *profile, sl_kvs_creds *out)
{
    char line[8192];
    int in_profile = 0, rc = SL_ENOTFOUND;
    FILE *f = fopen(path, "r");
    if (!f)
        return SL_EIO;
    out->access_key[0] = out->secret_key[0] = out->session_token[0] = 0;
    while (fgets(line, sizeof(line), f)) {
        char *s = trim(line), *eq;
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end)
                *end = 0;
            in_profile = strcmp(trim(s + 1), profile) == 0;
            continue;
        }
        if (!in_profile || !(eq = strchr(s, '=')))
            continue;
        *eq = 0;
        s = trim(s);
        if (strcmp(s, "aws_access_key_id") == 0)
            copy(out->access_key, sizeof(out->access_key), trim(eq + 1));
        else if (strcmp(s, "aws_secret_access_key") == 0)
            copy(out->secret_key, sizeof(out->secret_key), trim(eq + 1));
        else if (strcmp(s, "aws_session_token") == 0)
            copy(out->session_token, sizeof(out->session_token), trim(eq + 1));
    }
    fclose(f);
    memset(line, 0, sizeof(line));
    if (out->access_key[0] && out->secret_key[0]) {
        copy(out->source, sizeof(out->source), "credentials-file");
        rc = 0;
    }
    return rc;
}

int sl_kvs_creds_resolve(const char *prop_access, const char *prop_secret, const char *prop_token,
                         sl_kvs_creds *out)
{
    const char *env_a = getenv("AWS_ACCESS_KEY_ID"), *env_s = getenv("AWS_SECRET_ACCESS_KEY");
    const char *file = getenv("AWS_SHARED_CREDENTIALS_FILE"), *profile = getenv("AWS_PROFILE");
    char path[4096];

    memset(out, 0, sizeof(*out));
    if (usable(prop_access, "access_key") && usable(prop_secret, "secret_key")) {
        copy(out->access_key, sizeof(out->access_key), prop_access);
        copy(out->secret_key, sizeof(out->secret_key), prop_secret);
        if (usable(prop_token, "session_token"))
            copy(out->session_token, sizeof(out->session_token), prop_token);
        copy(out->source, sizeof(out->source), "properties");
        return 0;
    }
    if (env_a && env_a[0] && env_s && env_s[0]) {
        copy(out->access_key, sizeof(out->access_key), env_a);
        copy(out->secret_key, sizeof(out->secret_key), env_s);
        copy(out->session_token, sizeof(out->session_token), getenv("AWS_SESSION_TOKEN"));
        copy(out->source, sizeof(out->source), "environment");
        return 0;
    }
    if (file && file[0]) {
        copy(path, sizeof(path), file);
    } else {
        const char *home = getenv("HOME");
        if (!home)
            return SL_ENOTFOUND;
        snprintf(path, sizeof(path), "%s/.aws/credentials", home);
    }
    return sl_kvs_creds_from_file(path, profile && profile[0] ? profile : "default", out) == 0
               ? 0
               : SL_ENOTFOUND;
}

void sl_kvs_region_resolve(const char *prop_region, char *out, size_t n)
{
    const char *env = getenv("AWS_DEFAULT_REGION");
    if (env && env[0])
        copy(out, n, env);
    else
        copy(out, n, prop_region && prop_region[0] ? prop_region : "us-west-2");
}

void sl_kvs_endpoint_resolve(const char *prop_uri, const char *region, char *out, size_t n)
{
    const char *env = getenv("CONTROL_PLANE_URI");
    size_t len;
    if (prop_uri && prop_uri[0])
        copy(out, n, prop_uri);
    else if (env && env[0])
        copy(out, n, env);
    else
        snprintf(out, n, "https://kinesisvideo.%s.amazonaws.com%s", region,
                 strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    len = strlen(out);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = 0;
}

void sl_kvs_creds_wipe(sl_kvs_creds *c)
{
    volatile char *p = (volatile char *)c;
    for (size_t i = 0; i < sizeof(*c); i++)
        p[i] = 0;
}
