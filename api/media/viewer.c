/* The /viewer page: a plain HTML/JS player for stored and live video streams, served by the
 * gateway itself so it works offline (web/viewer/ in the source tree; hls.js and dash.js come
 * from npm at build time: hls.min.js is copied next to the page, dash.js is read from the npm
 * folder that install leaves there).
 *
 * Files are looked up in SLUICE_VIEWER_DIR, else in the build's web/viewer folder (SL_VIEWER_DIR,
 * set by api/CMakeLists.txt). Only the names in the table below are served, so no path from a
 * request ever reaches the file system. A file is read once, on a packaging worker (never on the
 * loop thread), and kept in the cache (cache.c) like a packaged segment. The page calls the
 * gateway's own APIs (ListStreams, ListFragments, Get{HLS,DASH}StreamingSessionURL) from the
 * browser, signing them with SigV4 itself (web/viewer/viewer.js); see docs/playback.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"

#ifndef SL_VIEWER_DIR
#define SL_VIEWER_DIR "web/viewer"
#endif

static const struct {
    const char *path, *file, *ctype;
} files[] = {
    {"/viewer", "index.html", "text/html; charset=utf-8"},
    {"/viewer/", "index.html", "text/html; charset=utf-8"},
    {"/viewer/index.html", "index.html", "text/html; charset=utf-8"},
    {"/viewer/viewer.js", "viewer.js", "text/javascript; charset=utf-8"},
    {"/viewer/viewer.css", "viewer.css", "text/css; charset=utf-8"},
    {"/viewer/hls.min.js", "hls.min.js", "text/javascript; charset=utf-8"},
    {"/viewer/dash.all.min.js", "npm/node_modules/dashjs/dist/dash.all.min.js",
     "text/javascript; charset=utf-8"},
};

typedef struct file_job {
    char path[1024];
    const char *ctype;
} file_job;

static int read_file(void *arg, md_blob **out, sl_diag *d)
{
    file_job *j = arg;
    FILE *f = fopen(j->path, "rb");
    if (!f)
        return sl_diag_set(d, SL_ENOTFOUND, 0, "no file %s", j->path);
    sl_buf b = SL_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sl_buf_append(&b, chunk, n);
    fclose(f);
    int rc = b.oom ? SL_ENOMEM : 0;
    if (rc == 0 && !(*out = md_blob_new(b.data, b.len, j->ctype)))
        rc = SL_ENOMEM;
    sl_buf_cleanup(&b);
    return rc;
}

static void file_done(void *arg, md_blob *b, int rc, const sl_diag *d)
{
    sl_exchange *ex = arg;
    (void)d;
    if (sl_exchange_is_open(ex)) {
        if (rc == 0) {
            sl_http_header h[2] = {
                {SL_SLICE_LIT("Content-Type"), {b->ctype, strlen(b->ctype)}},
                {SL_SLICE_LIT("Cache-Control"), SL_SLICE_LIT("no-cache")},
            };
            sl_exchange_respond(ex, 200, h, 2, b->data, b->len);
        } else {
            static const sl_http_header h[] = {
                {SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("text/plain")}};
            const char *msg = "viewer file not installed (build the viewer_assets target)\n";
            sl_exchange_respond(ex, 404, h, 1, msg, strlen(msg));
        }
    }
    sl_exchange_unref(ex);
}

void md_handle_viewer(sl_exchange *ex, const sl_http_request *req, void *ud)
{
    (void)ud;
    static const sl_http_header th[] = {{SL_SLICE_LIT("Content-Type"), SL_SLICE_LIT("text/plain")}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (!sl_slice_eq(req->path, files[i].path))
            continue;
        file_job *j = calloc(1, sizeof(*j));
        if (!j) {
            sl_exchange_respond(ex, 500, th, 1, "out of memory\n", 14);
            return;
        }
        const char *dir = getenv("SLUICE_VIEWER_DIR");
        snprintf(j->path, sizeof(j->path), "%s/%s", dir && *dir ? dir : SL_VIEWER_DIR,
                 files[i].file);
        j->ctype = files[i].ctype;
        char key[96];
        snprintf(key, sizeof(key), "viewer/%s", files[i].file);
        sl_exchange_ref(ex);
        if (md_cache_get(key, read_file, j, free, file_done, ex) != 0) {
            sl_exchange_unref(ex);
            sl_exchange_respond(ex, 503, th, 1, "busy\n", 5);
        }
        return;
    }
    sl_exchange_respond(ex, 404, th, 1, "not found\n", 10);
}
