/* The service layer's entry points: configuration, and the generic per-request pipeline every
 * modelled operation goes through before its handler.
 *
 * JSON 1.1 pipeline (sl_api_handle_json), in the order AWS applies it (kinesalite's recording of
 * the real service, shared/spec/data-streams.md §1.2):
 *   1. Content-Type: application/x-amz-json-1.1 proceeds; application/x-amz-cbor-1.1 is
 *      decoded by api/wire/cbor.c into the same tree (then steps 4-6, every reply in CBOR;
 *      an undecodable body is a SerializationException saying where); application/json gets
 *      AWS's odd 200 reply with an "Output" wrapper; anything else gets the XML 403/404 errors.
 *   2. Empty body: SerializationException for a known operation, else
 *      UnknownOperationException (both "__type" only).
 *   3. Body must be one JSON object: else SerializationException.
 *   4. Unknown target: UnknownOperationException.
 *   5. Model types (SerializationException) and constraints (ValidationException).
 *   6. The registered handler, or 501 NotImplementedException.
 * Fast paths. Before step 3, a JSON 1.1 body for an operation listed in fast_paths (Kinesis
 * PutRecords and PutRecord) is first offered to its fast path, which reads the body in one
 * pass, takes it only when it can prove the body valid (so steps 3-5 would let it through
 * unchanged) and then runs the handler's own code; anything else it leaves to steps 3-6, so
 * every error reply still comes from them. It saves the cJSON tree, the validation walk and
 * their allocations on the hottest requests (api/kinesis/ds_putparse.h).
 * REST-JSON pipeline (sl_api_handle_rest): an empty body counts as {}; then 3, 5, 6.
 * Authentication happens in the gateway before handle() is called.
 *
 * Everything runs on the loop thread; the configuration is written once by sl_api_init before
 * the server accepts connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics.h"
#include "api_int.h"
#include "firehose/firehose.h"
#include "kinesis/ds_service.h"
#include "sl_api_handlers.h"
#include "media/media_int.h"
#include "video/kv.h"
#include "wire/wire_int.h"
#include "sluice/log.h"
#include "sluice/streams.h"

static struct {
    char region[64];
    char account_id[16];
    char base_url[512];
    sl_store *store;
    int up;
} cfg = {"us-east-1", "000000000000", "", NULL, 0};

static void copy_str(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int sl_api_init(const sl_api_config *c)
{
    if (!c || !c->region || !c->account_id || !c->region[0] ||
        strlen(c->region) >= sizeof(cfg.region) || strlen(c->account_id) != 12)
        return SL_EINVAL;
    int rc = sl_patterns_init();
    if (rc)
        return rc;
    copy_str(cfg.region, sizeof(cfg.region), c->region);
    copy_str(cfg.account_id, sizeof(cfg.account_id), c->account_id);
    copy_str(cfg.base_url, sizeof(cfg.base_url), c->base_url);
    cfg.store = c->store;
    cfg.up = 1;
    /* Data Streams loads its streams now, so ListStreams and readers see them right after a
     * restart (and the first request does not pay for the catalog migration). */
    if (cfg.store && (rc = sl_ds_service_init()) != 0)
        return rc;
    if (cfg.store && (rc = sl_video_service_init()) != 0) /* the same for video streams */
        return rc;
    /* Firehose delivers in the background: start it now so a restart resumes delivery. */
    if (cfg.store && (rc = sl_firehose_service_init()) != 0)
        return rc;
    if (cfg.store && (rc = sl_ka_service_init()) != 0) /* resumes running applications */
        return rc;
    sl_info("api", "services ready: %zu models, region %s, account %s", sl_api_n_services,
            cfg.region, cfg.account_id);
    return 0;
}

void sl_api_shutdown(void)
{
    sl_media_shutdown();      /* first: its workers read video logs */
    sl_ka_service_shutdown(); /* before Data Streams: its workers read stream logs */
    sl_firehose_service_shutdown();
    sl_ds_service_shutdown();
    sl_video_service_shutdown();
    sl_patterns_cleanup();
    sl_kstreams_clear();
    sl_vstreams_clear();
    cfg.store = NULL;
    cfg.up = 0;
}

int sl_api_metrics_render(sl_buf *out)
{
    return sl_firehose_metrics_render(out);
}

void sl_api_set_base_url(const char *base_url)
{
    copy_str(cfg.base_url, sizeof(cfg.base_url), base_url);
}

const char *sl_api_region(void)
{
    return cfg.region;
}

const char *sl_api_account_id(void)
{
    return cfg.account_id;
}

const char *sl_api_base_url(void)
{
    return cfg.base_url;
}

sl_store *sl_api_store(void)
{
    return cfg.store;
}

int sl_api_shard_limits_env(void)
{
    const char *v = getenv("SLUICE_KINESIS_SHARD_LIMITS");
    if (!v || !*v || strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
        return 0;
    if (strcmp(v, "aws") == 0 || strcmp(v, "1") == 0 || strcmp(v, "on") == 0)
        return 1;
    sl_warn("api", "SLUICE_KINESIS_SHARD_LIMITS=%s: not aws or off; the shard limits stay off", v);
    return 0;
}

/* Media type of the Content-Type header, without parameters, lower-cased into buf. */
static const char *content_type(const sl_http_request *req, char *buf, size_t n)
{
    sl_slice ct = sl_http_header_get(req, "content-type");
    size_t len = 0;
    for (size_t i = 0; i < ct.len && ct.ptr[i] != ';' && len + 1 < n; i++) {
        char ch = ct.ptr[i];
        if (ch == ' ' || ch == '\t')
            continue;
        buf[len++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    buf[len] = '\0';
    return buf;
}

/* The handler's view of a request (input borrowed). */
static sl_api_call make_call(sl_exchange *ex, const sl_http_request *req, const sl_op_def *op,
                             const cJSON *input)
{
    sl_api_call call = {
        .ex = ex,
        .req = req,
        .op = op,
        .input = input,
        .region = (req->region && req->region[0]) ? req->region : cfg.region,
        .account_id = cfg.account_id,
    };
    return call;
}

/* Steps 5 and 6 for a decoded body. */
static void run_op(sl_exchange *ex, const sl_http_request *req, const sl_op_def *op, cJSON *input)
{
    sl_buf msg = SL_BUF_INIT;
    sl_wire_proto proto = op->service->proto;
    int rc = sl_validate(op->input, input, proto, &msg);
    if (rc == SL_EPARSE) {
        sl_wire_reply_serialization(ex, proto, msg.data, NULL);
    } else if (rc == SL_ERANGE) {
        sl_wire_reply_error(ex, proto, op->service, 400, "ValidationException", msg.data, NULL);
    } else if (rc != 0) {
        sl_error("api", "%s: validation failed internally: %s", op->full_name, sl_err_str(rc));
        sl_wire_reply_error(ex, proto, op->service, 500, "InternalFailure", NULL, NULL);
    } else if (!op->handler) {
        sl_wire_reply_not_implemented(ex, op, NULL);
    } else {
        sl_api_call call = make_call(ex, req, op, input);
        op->handler(&call);
    }
    sl_buf_cleanup(&msg);
}

/* Handlers with a fast path for their JSON 1.1 bodies (see api_int.h). */
static const struct {
    sl_op_handler handler;
    int (*fast)(sl_api_call *call);
} fast_paths[] = {
    {sl_kinesis_put_records, sl_kinesis_put_records_fast},
    {sl_kinesis_put_record, sl_kinesis_put_record_fast},
};

/* 1 when op's fast path took the request (a non-empty JSON 1.1 body within op's size limit). */
static int try_fast_path(sl_exchange *ex, const sl_http_request *req, const sl_op_def *op)
{
    if (!op || !op->handler || req->body_len > op->service->max_body)
        return 0;
    for (size_t i = 0; i < sizeof(fast_paths) / sizeof(fast_paths[0]); i++) {
        if (fast_paths[i].handler == op->handler) {
            sl_api_call call = make_call(ex, req, op, NULL);
            return fast_paths[i].fast(&call);
        }
    }
    return 0;
}

void sl_api_handle_json(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    const sl_op_def *op = ud;
    char ctbuf[64];
    const char *ct = content_type(req, ctbuf, sizeof(ctbuf));
    cJSON *input = NULL;
    sl_diag d = {0};

    if (req->body_len == 0) {
        if (strcmp(ct, SL_CT_AMZ_JSON) == 0)
            sl_wire_reply_error(ex, SL_PROTO_AWS_JSON, NULL, 400,
                                op ? "SerializationException" : "UnknownOperationException", NULL,
                                NULL);
        else
            sl_wire_reply_cbor_error(
                ex, 400, op ? "SerializationException" : "UnknownOperationException", NULL);
        goto out;
    }
    if (strcmp(ct, SL_CT_AMZ_JSON) == 0 && try_fast_path(ex, req, op))
        goto out;
    if (strcmp(ct, SL_CT_AMZ_CBOR) == 0) { /* replies go out in CBOR (sl_wire_is_cbor) */
        if (sl_wire_cbor_decode(req->body, req->body_len,
                                op ? op->service->max_body : (size_t)8 << 20, &input, &d) != 0)
            sl_wire_reply_serialization(ex, SL_PROTO_AWS_JSON, d.text, NULL);
        else if (!op)
            sl_wire_reply_error(ex, SL_PROTO_AWS_JSON, NULL, 400, "UnknownOperationException", NULL,
                                NULL);
        else
            run_op(ex, req, op, input);
        goto out;
    }
    int ct_ok = strcmp(ct, SL_CT_AMZ_JSON) == 0 || strcmp(ct, SL_CT_JSON) == 0;
    if (!ct_ok) {
        if (sl_http_header_get(req, "x-amz-target").len == 0)
            sl_wire_reply_access_denied_xml(ex);
        else
            sl_wire_reply_unknown_operation_xml(ex);
        goto out;
    }
    int parsed = sl_wire_json_decode(req->body, req->body_len,
                                     op ? op->service->max_body : (size_t)8 << 20, &input, &d);
    if (strcmp(ct, SL_CT_JSON) == 0) {
        /* What AWS answers to JSON 1.1 targets posted as application/json (kinesalite). */
        static const char ser[] = "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
                                  "SerializationException\",\"Message\":null},\"Version\":\"1.0\"}";
        static const char unk[] = "{\"Output\":{\"__type\":\"com.amazon.coral.service#"
                                  "UnknownOperationException\",\"message\":null},\"Version\":"
                                  "\"1.0\"}";
        sl_http_header h[1] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT(SL_CT_JSON)}};
        if (parsed != 0)
            sl_exchange_respond(ex, 200, h, 1, ser, sizeof(ser) - 1);
        else
            sl_exchange_respond(ex, 200, h, 1, unk, sizeof(unk) - 1);
        goto out;
    }
    if (parsed != 0) {
        sl_wire_reply_serialization(ex, SL_PROTO_AWS_JSON, NULL, NULL);
        goto out;
    }
    if (!op) {
        sl_wire_reply_error(ex, SL_PROTO_AWS_JSON, NULL, 400, "UnknownOperationException", NULL,
                            NULL);
        goto out;
    }
    run_op(ex, req, op, input);
out:
    cJSON_Delete(input);
}

void sl_api_handle_rest(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    const sl_op_def *op = ud;
    cJSON *input = NULL;
    sl_diag d = {0};
    size_t i = 0;
    while (i < req->body_len && (req->body[i] == ' ' || req->body[i] == '\t' ||
                                 req->body[i] == '\r' || req->body[i] == '\n'))
        i++;
    if (i == req->body_len) {
        input = cJSON_CreateObject(); /* an empty body is an empty input */
        if (!input) {
            sl_wire_reply_error(ex, SL_PROTO_REST_JSON, op->service, 500, "InternalFailure", NULL,
                                NULL);
            goto out;
        }
    } else {
        int rc = sl_wire_json_decode(req->body, req->body_len, op->service->max_body, &input, &d);
        if (rc != 0) {
            sl_wire_reply_serialization(ex, SL_PROTO_REST_JSON, d.text, NULL);
            goto out;
        }
    }
    run_op(ex, req, op, input);
out:
    cJSON_Delete(input);
}

void sl_api_handle_stream_unimplemented(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    sl_wire_reply_not_implemented(ex, ud, NULL);
}

void sl_api_handle_access_denied(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    sl_wire_reply_access_denied_xml(ex);
}

void sl_api_handle_rest_unknown(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    char msg[300];
    snprintf(msg, sizeof(msg), "No operation at %.*s %.*s", (int)req->method_name.len,
             req->method_name.ptr, (int)req->path.len, req->path.ptr);
    sl_wire_reply_error(ex, SL_PROTO_REST_JSON, NULL, 404, "UnknownOperationException", msg, NULL);
}

void sl_api_handle_not_found(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    char msg[300];
    snprintf(msg, sizeof(msg), "no such resource: %.*s %.*s", (int)req->method_name.len,
             req->method_name.ptr, (int)req->path.len, req->path.ptr);
    sl_wire_reply_error(ex, SL_PROTO_PLAIN, NULL, 404, "NotFound", msg, NULL);
}
