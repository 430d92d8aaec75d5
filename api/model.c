/* Lookups over the generated service tables (sluice/api_model.h).
 *
 * The generator sorts each service's operations and errors by name, so name lookups are binary
 * searches; request URIs (REST-JSON) are few enough (about 45) that a linear scan over the REST
 * services costs less than building an index. Pure functions over const data: any thread. */
#include <string.h>

#include "sluice/api_model.h"

const sl_service_def *sl_model_service(const char *id)
{
    for (size_t i = 0; i < sl_api_n_services; i++)
        if (strcmp(sl_api_services[i]->id, id) == 0)
            return sl_api_services[i];
    return NULL;
}

const sl_service_def *sl_model_service_by_target(const char *prefix, size_t len)
{
    for (size_t i = 0; i < sl_api_n_services; i++) {
        const char *t = sl_api_services[i]->target_prefix;
        if (t && strlen(t) == len && memcmp(t, prefix, len) == 0)
            return sl_api_services[i];
    }
    return NULL;
}

/* strcmp of a (ptr, len) key against a C string. */
static int keycmp(const char *key, size_t len, const char *s)
{
    size_t sl = strlen(s);
    int c = memcmp(key, s, len < sl ? len : sl);
    if (c)
        return c;
    return len < sl ? -1 : len > sl ? 1 : 0;
}

const sl_op_def *sl_model_op(const sl_service_def *svc, const char *name, size_t len)
{
    size_t lo = 0, hi = svc ? svc->n_ops : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = keycmp(name, len, svc->ops[mid].name);
        if (c == 0)
            return &svc->ops[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const sl_op_def *sl_model_op_by_uri(const char *path, size_t len)
{
    for (size_t i = 0; i < sl_api_n_services; i++) {
        const sl_service_def *svc = sl_api_services[i];
        if (svc->proto != SL_PROTO_REST_JSON)
            continue;
        for (uint32_t k = 0; k < svc->n_ops; k++)
            if (keycmp(path, len, svc->ops[k].uri) == 0)
                return &svc->ops[k];
    }
    return NULL;
}

const sl_error_def *sl_model_error(const sl_service_def *svc, const char *name)
{
    size_t lo = 0, hi = svc ? svc->n_errors : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(name, svc->errors[mid].name);
        if (c == 0)
            return &svc->errors[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const sl_member *sl_model_member(const sl_shape *s, const char *name)
{
    for (uint32_t i = 0; s && i < s->n_members; i++)
        if (strcmp(s->members[i].name, name) == 0)
            return &s->members[i];
    return NULL;
}
