/* Which requests the playback module answers outside the AWS JSON/REST operations: the session
 * resources (GET/HEAD under /hls/v1/ and /dash/v1/, authorised by their SessionToken alone, so
 * the route asks for no SigV4), CORS preflights on them (OPTIONS: 204 with the CORS headers,
 * as a browser on another origin needs), and the /viewer page with its scripts.
 * api/route.c calls sl_media_route() for requests no AWS operation claimed. Pure function of
 * the request head; loop thread. */
#include <string.h>

#include "media_int.h"

static int has_prefix(sl_slice s, const char *p)
{
    size_t n = strlen(p);
    return s.len >= n && memcmp(s.ptr, p, n) == 0;
}

static void preflight(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    sl_http_header h[4];
    memcpy(h, md_cors_headers, sizeof(md_cors_headers));
    h[3] = (sl_http_header){SL_SLICE_LIT("Access-Control-Max-Age"), SL_SLICE_LIT("86400")};
    sl_exchange_respond(ex, 204, h, 4, NULL, 0);
}

int sl_media_route(const sl_http_request *req, sl_route *out)
{
    void (*handle)(sl_exchange *, const sl_http_request *, void *) = NULL;
    const char *op = NULL;
    if (has_prefix(req->path, "/hls/v1/")) {
        handle = md_handle_hls;
        op = "KinesisVideoArchivedMedia.HLSSession";
    } else if (has_prefix(req->path, "/dash/v1/")) {
        handle = md_handle_dash;
        op = "KinesisVideoArchivedMedia.DASHSession";
    } else if (sl_slice_eq(req->path, "/viewer") || has_prefix(req->path, "/viewer/")) {
        handle = md_handle_viewer;
        op = "Viewer";
    } else {
        return SL_ENOTFOUND;
    }
    if (req->method == SL_HTTP_OPTIONS)
        handle = preflight;
    else if (req->method != SL_HTTP_GET && req->method != SL_HTTP_HEAD)
        return SL_ENOTFOUND;
    memset(out, 0, sizeof(*out));
    out->body_mode = SL_BODY_BUFFER;
    out->max_body = 0;
    out->proto = SL_PROTO_REST_JSON;
    out->service = NULL; /* the SessionToken is the authorisation */
    out->operation = op;
    out->handle = handle;
    return 0;
}
