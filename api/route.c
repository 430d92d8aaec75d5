/* Deciding, from a request head, which service and operation answer it.
 *
 * Rules, first match wins (shared/spec/data-streams.md §1.1, video-streams.md §1.1, §3.1):
 *   1. `POST /putMedia` -> Kinesis Video PutMedia, body streamed (SL_BODY_STREAM), signed for
 *      "kinesisvideo"; 501 until a stream handler is registered in api/handlers.def.
 *   2. An X-Amz-Target header -> the AWS JSON 1.1 endpoint, whatever the path (AWS ignores it):
 *      "<TargetPrefix>.<Operation>" names the service (Kinesis_20131202, Firehose_20150804,
 *      KinesisAnalytics_20150814) and operation. Known operation: signed for the service,
 *      body buffered up to the service's limit (Kinesis: 7.5 MiB for 5 MiB of base64 records).
 *      A non-POST -> 403 XML AccessDeniedException. Unknown prefix or operation -> SL_ENOTFOUND
 *      with the handler answering UnknownOperationException (no signature needed to be told).
 *   3. The path of a REST-JSON operation (exact, case-sensitive; kinesisvideo, media, archived
 *      media, signaling, webrtc-storage) -> that operation, signed for "kinesisvideo". A method
 *      other than the model's -> 404 UnknownOperationException.
 *   4. Other POSTs: a JSON 1.1 / CBOR Content-Type or the path "/" -> the JSON endpoint without
 *      a target (UnknownOperationException, or the XML errors for other Content-Types);
 *      anything else is a REST-JSON path nobody serves -> 404 UnknownOperationException.
 *   5. Other methods: "/" -> 403 XML AccessDeniedException (the JSON endpoint's answer);
 *      elsewhere -> SL_ENOTFOUND, plain 404.
 * Pure function of the request head; loop thread (it reads no mutable state). */
#include <string.h>
#include <strings.h>

#include "api_int.h"

int sl_media_route(const sl_http_request *req, sl_route *out); /* api/media/route.c */

#define ERROR_BODY_MAX ((size_t)64 << 10) /* bodies of requests answered with an error */

static void route_error(sl_route *out, sl_wire_proto proto,
                        void (*handle)(sl_exchange *, const sl_http_request *, void *))
{
    out->body_mode = SL_BODY_BUFFER;
    out->max_body = ERROR_BODY_MAX;
    out->proto = proto;
    out->service = NULL;
    out->operation = NULL;
    out->handle = handle;
    out->ud = NULL;
}

static int starts_with_ct(const sl_http_request *req, const char *media_type)
{
    sl_slice ct = sl_http_header_get(req, "content-type");
    size_t n = strlen(media_type);
    if (ct.len < n || strncasecmp(ct.ptr, media_type, n) != 0)
        return 0;
    return ct.len == n || ct.ptr[n] == ';' || ct.ptr[n] == ' ';
}

int sl_api_route(const sl_http_request *req, sl_route *out)
{
    memset(out, 0, sizeof(*out));
    sl_slice target = sl_http_header_get(req, "x-amz-target");
    int post = req->method == SL_HTTP_POST;

    /* 1. PutMedia */
    if (sl_slice_eq(req->path, "/putMedia") && post && target.len == 0) {
        const sl_service_def *svc = sl_model_service("kinesis-video-media");
        const sl_op_def *op = sl_model_op(svc, "PutMedia", 8);
        out->body_mode = SL_BODY_STREAM;
        out->proto = SL_PROTO_REST_JSON;
        out->service = svc->signing_name;
        out->operation = op->full_name;
        out->handle = op->stream_handler ? op->stream_handler : sl_api_handle_stream_unimplemented;
        out->ud = (void *)op;
        return 0;
    }

    /* 2. JSON 1.1 by target */
    if (target.len > 0) {
        const char *dot = memchr(target.ptr, '.', target.len);
        const sl_service_def *svc = NULL;
        const sl_op_def *op = NULL;
        if (dot) {
            svc = sl_model_service_by_target(target.ptr, (size_t)(dot - target.ptr));
            size_t oplen = target.len - (size_t)(dot - target.ptr) - 1;
            op = svc ? sl_model_op(svc, dot + 1, oplen) : NULL;
        }
        if (!post) {
            route_error(out, SL_PROTO_AWS_JSON, sl_api_handle_access_denied);
            return 0;
        }
        if (!op) {
            route_error(out, SL_PROTO_AWS_JSON, sl_api_handle_json);
            return SL_ENOTFOUND;
        }
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = svc->max_body;
        out->proto = SL_PROTO_AWS_JSON;
        out->service = svc->signing_name;
        out->operation = op->full_name;
        out->handle = sl_api_handle_json;
        out->ud = (void *)op;
        return 0;
    }

    /* 3. REST-JSON by path */
    const sl_op_def *rop = sl_model_op_by_uri(req->path.ptr, req->path.len);
    if (rop && !rop->streaming) {
        if (!sl_slice_eq(req->method_name, rop->method)) {
            route_error(out, SL_PROTO_REST_JSON, sl_api_handle_rest_unknown);
            return SL_ENOTFOUND;
        }
        out->body_mode = SL_BODY_BUFFER;
        out->max_body = rop->service->max_body;
        out->proto = SL_PROTO_REST_JSON;
        out->service = rop->service->signing_name;
        out->operation = rop->full_name;
        out->handle = sl_api_handle_rest;
        out->ud = (void *)rop;
        return 0;
    }

    /* 4. other POSTs */
    if (post) {
        if (sl_slice_eq(req->path, "/") || starts_with_ct(req, SL_CT_AMZ_JSON) ||
            starts_with_ct(req, SL_CT_AMZ_CBOR)) {
            route_error(out, SL_PROTO_AWS_JSON, sl_api_handle_json);
            return SL_ENOTFOUND;
        }
        route_error(out, SL_PROTO_REST_JSON, sl_api_handle_rest_unknown);
        return SL_ENOTFOUND;
    }

    /* playback session resources and the viewer (api/media/route.c) */
    if (sl_media_route(req, out) == 0)
        return 0;

    /* 5. other methods */
    if (sl_slice_eq(req->path, "/")) {
        route_error(out, SL_PROTO_AWS_JSON, sl_api_handle_access_denied);
        return SL_ENOTFOUND;
    }
    route_error(out, SL_PROTO_PLAIN, sl_api_handle_not_found);
    return SL_ENOTFOUND;
}
