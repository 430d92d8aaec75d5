/* Dynamic partitioning: the MetadataExtraction processor's jq query, evaluated with libjq.
 *
 * The query (e.g. `{customer_id: .customer_id, year: .ts | strftime("%Y")}`) runs on each record
 * parsed as JSON and must yield one object; its members are the partition keys that
 * `!{partitionKeyFromQuery:<key>}` reads. Values are rendered as text: strings as they are,
 * anything else as its compact JSON (42, true, {"a":1}); null means "no value". A record that is
 * not JSON, a query that fails or yields no object, fails that record (it goes to the error
 * output).
 *
 * One sl_fh_jq per delivery worker batch: libjq states are not thread-safe, and compiling per
 * batch keeps configuration updates simple. Worker thread only. */
#include <jq.h>
#include <jv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fh.h"

struct sl_fh_jq {
    jq_state *jq;
    char error[256];
};

static void on_error(void *ud, jv msg)
{
    sl_fh_jq *q = ud;
    jv m = jv_get_kind(msg) == JV_KIND_STRING ? jv_copy(msg) : jv_dump_string(jv_copy(msg), 0);
    snprintf(q->error, sizeof(q->error), "%s", jv_string_value(m));
    jv_free(m);
    jv_free(msg);
}

int sl_fh_jq_new(const char *query, sl_fh_jq **out, char *msg, size_t cap)
{
    sl_fh_jq *q = calloc(1, sizeof(*q));
    if (!q || !(q->jq = jq_init())) {
        free(q);
        return SL_ENOMEM;
    }
    jq_set_error_cb(q->jq, on_error, q);
    if (!jq_compile(q->jq, query)) {
        snprintf(msg, cap, "MetadataExtractionQuery does not compile: %s", q->error);
        sl_fh_jq_free(q);
        return SL_EINVAL;
    }
    *out = q;
    return 0;
}

void sl_fh_jq_free(sl_fh_jq *q)
{
    if (!q)
        return;
    jq_teardown(&q->jq);
    free(q);
}

int sl_fh_jq_keys(sl_fh_jq *q, const char *data, size_t len, cJSON **keys, char *msg, size_t cap)
{
    cJSON *obj = NULL;
    jv in = jv_parse_sized(data, (int)len);
    if (jv_get_kind(in) == JV_KIND_INVALID) {
        jv m = jv_invalid_get_msg(in);
        snprintf(msg, cap, "Record is not JSON: %s",
                 jv_get_kind(m) == JV_KIND_STRING ? jv_string_value(m) : "parse error");
        jv_free(m);
        return SL_EPARSE;
    }
    q->error[0] = '\0';
    jq_start(q->jq, in, 0);
    jv r = jq_next(q->jq);
    int rc = SL_EINVAL;
    if (jv_get_kind(r) != JV_KIND_OBJECT) {
        snprintf(msg, cap, "MetadataExtractionQuery did not yield an object%s%s",
                 q->error[0] ? ": " : "", q->error);
        goto out;
    }
    obj = cJSON_CreateObject();
    if (!obj) {
        rc = SL_ENOMEM;
        goto out;
    }
    /* jv_object_foreach borrows r (it does not consume it); r is freed below. */
    jv_object_foreach(r, k, v)
    {
        if (jv_get_kind(v) == JV_KIND_NULL) { /* null = no value for this key */
            jv_free(k);
            jv_free(v);
            continue;
        }
        jv text = jv_get_kind(v) == JV_KIND_STRING ? jv_copy(v) : jv_dump_string(jv_copy(v), 0);
        cJSON_AddStringToObject(obj, jv_string_value(k), jv_string_value(text));
        jv_free(text);
        jv_free(k);
        jv_free(v);
    }
    *keys = obj;
    obj = NULL;
    rc = 0;
out:
    jv_free(r);
    /* Drain further outputs so the state is clean for the next record. */
    jv more;
    while (jv_is_valid(more = jq_next(q->jq)))
        jv_free(more);
    jv_free(more);
    cJSON_Delete(obj);
    return rc;
}
