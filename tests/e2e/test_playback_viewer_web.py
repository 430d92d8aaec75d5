"""The viewer's web side beyond plain HLS on localhost, in Debian's headless Chromium
(playwright-core from tests/e2e/browser) against a live GStreamer producer uploading with PutMedia:

* DASH: the /viewer page plays a LIVE DASH session with dash.js (served by the gateway, like
  hls.js): the <video> currentTime advances with the wall clock and the frame is not blank.
* CORS: a page served by a separate static server on another port (another origin) plays the
  gateway's HLS session URL with hls.js; every playlist/segment request is cross-origin.
* Signing without WebCrypto: the viewer opened as http://sluice-lan.test:<port> (a hostname
  Chromium maps to the gateway through --host-resolver-rules, so an origin that is not
  potentially trustworthy, unlike localhost or 127.0.0.0/8) has no crypto.subtle; it signs its
  SigV4 requests with its own SHA-256/HMAC and still lists streams and plays.
* The own SHA-256/HMAC against node's crypto for many inputs (browser/sha256_check.mjs).
"""
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from test_playback_browser import LiveProducer

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
SOURCE = os.environ.get("SL_SOURCE_DIR", os.path.join(HERE, "..", ".."))


def need(cond, why):
    # Chromium, GStreamer (scripts/deps.sh) and playwright-core (scripts/setup-test-clients.sh)
    # are part of the test setup: without them the tests fail rather than passing unseen.
    assert cond, why


def need_browser():
    need(os.path.exists("/usr/bin/chromium"), "Debian's chromium is not installed")
    need(os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")),
         "playwright-core not installed (scripts/setup-test-clients.sh)")
    need(shutil.which("gst-launch-1.0"), "GStreamer not installed")


def start_live(gw, name="cam"):
    gw.client("kinesisvideo").create_stream(StreamName=name, DataRetentionInHours=1)
    prod = LiveProducer(gw, name)
    deadline = time.monotonic() + 30
    while prod.persisted() < 2:
        if time.monotonic() > deadline:
            prod.stop()
            raise AssertionError("the live producer's fragments were not PERSISTED")
        time.sleep(0.05)
    return prod


def run_viewer(gw, seconds, **env):
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "viewer_live.mjs"), gw.url,
                        gw.access_key, gw.secret_key, "cam", str(seconds)],
                       capture_output=True, text=True, timeout=180,
                       env=dict(os.environ, **env))
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def assert_offline(res):
    assert res["foreignRequests"] == [], res  # hls.js, dash.js and their helpers: all local
    assert all(e.endswith("/favicon.ico") for e in res["httpErrors"]), res


def assert_played(res):
    assert res["frame"]["width"] == 320 and res["frame"]["height"] == 240, res
    assert res["advanced"] > 0.6 * res["wall"], res  # playback keeps up with the wall clock
    assert res["frame"]["max"] - res["frame"]["min"] > 60, res  # not a blank frame


def test_own_sha256_matches_node_crypto():
    p = subprocess.run(["node", os.path.join(BROWSER_DIR, "sha256_check.mjs"),
                        os.path.join(SOURCE, "web", "viewer", "viewer.js")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads(p.stdout)
    assert res["nmismatches"] == 0 and res["checked"] > 700, res
    # AWS's documented SigV4 example signing key (secret wJalr..., 20150830/us-east-1/iam)
    assert res["sigv4SigningKey"] == (
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")


def test_viewer_plays_dash_live(gateway):
    need_browser()
    gw = gateway
    with urllib.request.urlopen(gw.url + "/viewer/dash.all.min.js", timeout=10) as r:
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/javascript")
        assert b"dashjs" in r.read()
    prod = start_live(gw)
    try:
        res = run_viewer(gw, 6, SL_VIEWER_PROTOCOL="DASH")
    finally:
        prod.stop()
    print("\nviewer (DASH):", json.dumps(res))
    assert res["protocol"] == "DASH" and "/dash/v1/getDASHManifest.mpd" in res["sessionUrl"]
    assert res["pageErrors"] == [], res
    assert_offline(res)
    assert_played(res)
    assert res["screenshotsDiffer"]


class _Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


PAGE = """<!doctype html><html><body>
<video id="video" muted playsinline></video>
<script src="%(gw)s/viewer/hls.min.js"></script>
<script>
window.playState = {errors: []};
const url = new URLSearchParams(location.search).get("hls");
const video = document.getElementById("video");
const hls = new Hls({liveSyncDuration: 0.5});
hls.on(Hls.Events.ERROR, (_, d) => window.playState.errors.push((d.fatal ? "fatal " : "") + d.details));
hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
hls.loadSource(url);
hls.attachMedia(video);
</script></body></html>"""


def test_cross_origin_page_plays_hls(gateway):
    need_browser()
    gw = gateway
    prod = start_live(gw)
    handler = type("Page", (_Page,), {"body": (PAGE % {"gw": gw.url}).encode()})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        am = gw.client("kinesis-video-archived-media")
        url = am.get_hls_streaming_session_url(StreamName="cam", PlaybackMode="LIVE")[
            "HLSStreamingSessionURL"]
        page = "http://127.0.0.1:%d/?hls=%s" % (srv.server_address[1],
                                                 urllib.parse.quote(url, safe=""))
        p = subprocess.run(["node", os.path.join(BROWSER_DIR, "cross_origin.mjs"), page, "4"],
                           capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        srv.shutdown()
        srv.server_close()
        prod.stop()
    print("\ncross-origin page:", json.dumps(res))
    gw_origin = "http://127.0.0.1:%d" % gw.port
    assert res["origin"] != gw_origin and res["origin"].startswith("http://127.0.0.1:")
    assert "timeout" not in res, res
    # hls.js now and then cancels a load of its own (a fragment superseded at the live edge):
    # a non-fatal "aborted" and a request failed with net::ERR_ABORTED. Anything else, a CORS
    # refusal (net::ERR_FAILED), a reset, an HTTP error, a fatal error, fails the test.
    assert all(e == "aborted" for e in res["pageErrors"]), res
    assert all(f["error"] == "net::ERR_ABORTED" for f in res["failedRequests"]), res
    assert_played(res)


def test_viewer_signs_without_webcrypto(gateway):
    need_browser()
    gw = gateway
    prod = start_live(gw)
    try:
        res = run_viewer(gw, 4, SL_VIEWER_HOST_ALIAS="sluice-lan.test")
    finally:
        prod.stop()
    print("\nviewer on an insecure origin:", json.dumps(res))
    # the origin really is one where the browser withholds WebCrypto...
    assert res["isSecureContext"] is False and res["hasSubtle"] is False, res
    # ...and the page signed with its own SHA-256/HMAC: the gateway (SigV4 required) listed the
    # streams and created the session for it
    assert res["signer"] == "builtin", res
    assert res["sessionUrl"].startswith("http://"), res
    assert res["pageErrors"] == [], res
    assert_offline(res)
    assert_played(res)
