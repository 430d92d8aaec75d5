"""The /viewer page in a real browser: headless Chromium (Debian's /usr/bin/chromium driven by
playwright-core from tests/e2e/browser) plays a live stream fed by a live GStreamer producer
(videotestsrc + audiotestsrc -> x264enc + avenc_aac -> matroskamux) whose output this test
uploads with PutMedia as it is produced.

Checked: the page's files are served by the gateway (hls.js included, no network needed), the
stream list loads with SigV4-signed requests made by the page, the <video> element's
currentTime advances in step with the wall clock, the frame on screen is not blank (pixel spread,
two screenshots differ), and the latency behind the producer is measured and printed
(target: one fragment + 0.5 s).
"""
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request

import pytest

from video_client import PutMedia

HERE = os.path.dirname(os.path.abspath(__file__))
BROWSER_DIR = os.path.join(HERE, "browser")
FRAGMENT_S = 0.5  # key frame every 12 frames at 24 fps


def need(cond, why):
    # Chromium (scripts/deps.sh) and playwright-core (scripts/setup-test-clients.sh) are part
    # of the test setup: without them the test fails rather than passing unseen.
    assert cond, why


class LiveProducer:
    """gst-launch writing live MKV to stdout; every byte goes to one PutMedia session."""

    def __init__(self, gw, stream):
        self.start_ts = time.time()
        pipeline = (
            "videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width=320,"
            "height=240,framerate=24/1 ! x264enc tune=zerolatency "
            "speed-preset=ultrafast key-int-max=12 bitrate=400 ! h264parse ! queue ! mux. "
            "audiotestsrc is-live=true ! audio/x-raw,rate=48000,channels=1 ! avenc_aac "
            "bitrate=32000 ! aacparse ! queue ! mux. "
            "matroskamux name=mux streamable=true ! fdsink fd=1")
        self.proc = subprocess.Popen(["gst-launch-1.0", "-q"] + pipeline.split(),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.client = PutMedia(gw.url, stream, gw.access_key, gw.secret_key, gw.region,
                               tc_type="RELATIVE", start_ts=self.start_ts)
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        while True:
            d = self.proc.stdout.read1(65536)
            if not d:
                break
            try:
                self.client.send(d)
            except OSError:
                break

    def persisted(self):
        return sum(e["EventType"] == "PERSISTED" for e in self.client.events())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.thread.join(10)
        try:
            self.client.finish()
            self.client.wait(10)
        finally:
            self.client.close()


def test_viewer_plays_live_stream(gateway, tmp_path):
    need(os.path.exists("/usr/bin/chromium"), "Debian's chromium is not installed")
    need(os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")),
         "playwright-core not installed (scripts/setup-test-clients.sh)")
    need(shutil.which("gst-launch-1.0"), "GStreamer not installed")
    gw = gateway
    # the page and hls.js come from the gateway
    for path, kind in (("/viewer", "text/html"), ("/viewer/hls.min.js", "text/javascript"),
                       ("/viewer/viewer.js", "text/javascript")):
        with urllib.request.urlopen(gw.url + path, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith(kind), path
            assert len(r.read()) > 1000
    gw.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=1)
    prod = LiveProducer(gw, "cam")
    try:
        deadline = time.monotonic() + 20
        while prod.persisted() < 2:
            assert time.monotonic() < deadline, prod.proc.stderr.read1(4096)
            time.sleep(0.05)
        env = dict(os.environ, SL_VIEWER_SHOT=str(tmp_path / "viewer.png"))
        p = subprocess.run(["node", os.path.join(BROWSER_DIR, "viewer_live.mjs"), gw.url,
                            gw.access_key, gw.secret_key, "cam", "6"],
                           capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stdout.strip().splitlines()[-1])
    finally:
        prod.stop()
    print("\nviewer:", json.dumps(res))
    assert res["pageErrors"] == [], res
    assert res["frame"]["width"] == 320 and res["frame"]["height"] == 240
    assert res["advanced"] > 0.7 * res["wall"], res  # playback keeps up with the wall clock
    assert res["frame"]["stddev"] > 10 and res["frame"]["max"] - res["frame"]["min"] > 60
    assert res["screenshotsDiffer"]
    lat = res["latencyMs"]
    assert lat and lat["n"] > 5
    print("live latency behind the producer (viewer page, hls.js): median %.0f ms, min %.0f, "
          "max %.0f; fragment %.1f s" % (lat["median"], lat["min"], lat["max"], FRAGMENT_S))
    assert lat["median"] < 10000  # sanity bound; the figure itself is reported above
