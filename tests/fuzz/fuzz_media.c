/* libFuzzer target for what the playback module parses from the network and from storage.
 *
 * The first input byte picks the parser, the rest is its input:
 *   0  SessionToken (api/media/session.c): md_session_decode must refuse or accept without
 *      crashing; an accepted token re-encodes to a token that decodes to the same session
 *      (round trip), and flipping any one character of an accepted token is refused.
 *   1  query strings (util.c md_query_get) for the names session resources read.
 *   2  stored MKV bytes (pkg.c): probe, then fMP4 init/media, TS and clip remuxes and an image,
 *      which must fail cleanly or produce output; never crash, leak or read out of bounds.
 * The token key is pinned (SLUICE_MEDIA_TOKEN_KEY) so the corpus's tokens stay valid; expiry is
 * checked against time 0 so they never expire here. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "../../api/media/media_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_token(const uint8_t *p, size_t n)
{
    md_session s, s2;
    char tok[2048], tok2[2048];
    if (n >= sizeof(tok))
        return;
    memcpy(tok, p, n);
    tok[n] = 0;
    if (md_session_decode(tok, n, 0, &s) != 0)
        return;
    if (md_session_encode(&s, tok2, sizeof(tok2)) != 0)
        abort();
    if (md_session_decode(tok2, strlen(tok2), 0, &s2) != 0)
        abort();
    if (s.mode != s2.mode || s.start_ms != s2.start_ms || s.end_ms != s2.end_ms ||
        s.expires_ms != s2.expires_ms || s.anchor_seq != s2.anchor_seq ||
        strcmp(s.stream, s2.stream) != 0 || strcmp(s.skey, s2.skey) != 0 ||
        strcmp(s.region, s2.region) != 0)
        abort();
    for (size_t i = 0; i + 1 < n; i++) { /* every single-character change is refused */
        char c = tok[i];
        tok[i] = c == 'A' ? 'B' : 'A';
        if (md_session_decode(tok, n, 0, &s2) == 0 && memcmp(&s, &s2, sizeof(s)) != 0)
            abort();
        tok[i] = c;
    }
}

static void fuzz_query(const uint8_t *p, size_t n)
{
    static const char *names[] = {"SessionToken", "TrackNumber", "FragmentNumber", "SequenceNumber",
                                  ""};
    char out[1024];
    sl_slice q = {(const char *)p, n};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (md_query_get(q, names[i], out, sizeof(out)) && strlen(out) >= sizeof(out))
            abort();
    }
}

static void fuzz_mkv(const uint8_t *p, size_t n)
{
    sl_pkg_info info;
    sl_diag d;
    if (sl_pkg_probe(p, n, &info, &d) != 0)
        return;
    static const sl_pkg_kind kinds[] = {SL_PKG_FMP4_INIT, SL_PKG_FMP4_MEDIA, SL_PKG_TS,
                                        SL_PKG_MP4_CLIP};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        sl_buf out = SL_BUF_INIT;
        sl_pkg_opts o = {
            .kind = kinds[k], .track = 1, .has_start = 1, .start_ms = 1000, .end_ms = 2000};
        int rc = sl_pkg_remux(p, n, &o, &out, &d);
        if (rc == 0 && out.len == 0)
            abort();
        sl_buf_cleanup(&out);
    }
    sl_buf img = SL_BUF_INIT;
    sl_pkg_image_opts io = {.at_ms = 100, .relative = 1, .format = SL_PKG_JPEG, .width = 32};
    sl_pkg_image(p, n, &io, &img, NULL, &d);
    sl_buf_cleanup(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        setenv("SLUICE_MEDIA_TOKEN_KEY",
               "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
        av_log_set_level(AV_LOG_QUIET);
        init = 1;
    }
    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_token(data + 1, size - 1);
        break;
    case 1:
        fuzz_query(data + 1, size - 1);
        break;
    default:
        fuzz_mkv(data + 1, size - 1);
        break;
    }
    return 0;
}
