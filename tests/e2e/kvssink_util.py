"""Helpers for the kvssink end-to-end tests: run gst-launch with the Sluice kvssink plugin
against a gateway from conftest.py, and read back what the gateway stored (ListFragments,
GetMedia) to check it with ffprobe."""
import json
import os
import re
import signal
import subprocess
import threading
import time

from video_client import media_request, read_fragments


def plugin_dir():
    b = os.environ.get("SL_BINARY_DIR")
    if not b:
        b = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    d = os.path.join(b, "plugins", "gst-kvssink")
    assert os.path.exists(os.path.join(d, "libgstkvssink.so")), f"kvssink not built in {d}"
    return d


def gst_env(gw, **extra):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_") or k == "CONTROL_PLANE_URI":
            del env[k]
    env.update(GST_PLUGIN_PATH=plugin_dir(), CONTROL_PLANE_URI=gw.url,
               AWS_ACCESS_KEY_ID=gw.access_key, AWS_SECRET_ACCESS_KEY=gw.secret_key,
               AWS_DEFAULT_REGION=gw.region, GST_REGISTRY=os.path.join(gw.tmp.name, "reg.bin"))
    env.update(extra)
    return env


class Pipeline:
    """gst-launch-1.0 -m -e <desc>, with its bus messages collected as they are printed."""

    def __init__(self, gw, desc, **env):
        self.cmd = ["gst-launch-1.0", "-m", "-e"] + desc.split()
        self.proc = subprocess.Popen(self.cmd, env=gst_env(gw, **env), stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("pipeline did not finish:\n" + self.output[-4000:])
        self.t.join(5)
        return rc

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)

    @property
    def output(self):
        return "".join(self.lines)

    def stats(self):
        """Fields of the last kvssink-stats message, as strings."""
        last = [line for line in self.lines if "kvssink-stats" in line]
        if not last:
            return {}
        return dict(re.findall(r"([a-z-]+)=\([a-z0-9]+\)([0-9.]+)", last[-1]))

    def warnings(self):
        return [line for line in self.lines if "(warning)" in line]


def list_fragments(gw, stream):
    am = gw.client("kinesis-video-archived-media")
    sel = {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
           "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": time.time() + 3600}}
    out = []
    for page in am.get_paginator("list_fragments").paginate(StreamName=stream,
                                                            FragmentSelector=sel):
        out += page["Fragments"]
    return sorted(out, key=lambda f: f["ProducerTimestamp"])


def get_media_all(gw, stream, n, path, timeout=60):
    """GetMedia EARLIEST until n fragments arrived; writes them to path."""
    conn, r = media_request(gw.url, "/getMedia", {"StreamName": stream,
                                                  "StartSelector": {"StartSelectorType":
                                                                    "EARLIEST"}},
                            gw.access_key, gw.secret_key, gw.region)
    try:
        assert r.status == 200, r.read()
        body, times = read_fragments(r, n, timeout)
    finally:
        conn.close()
    assert len(times) == n, f"GetMedia delivered {len(times)} of {n} fragments"
    with open(path, "wb") as f:
        f.write(body)
    return body


def ffprobe_streams(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                        "stream=index,codec_name,codec_type,width,height,nb_read_frames",
                        "-of", "json", path], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["streams"]


def ffprobe_pts(path, stream="v:0"):
    """Presentation times (ms) of the packets of one stream."""
    p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_entries",
                        "packet=pts", "-of", "csv=p=0", path],
                       capture_output=True, text=True, check=True)
    return [int(x.strip().rstrip(",")) for x in p.stdout.split() if x.strip().rstrip(",")]


def h264_source(n, live=False, width=320, height=240, fps=25, gop=25):
    return (f"videotestsrc num-buffers={n} is-live={'true' if live else 'false'} ! "
            f"video/x-raw,width={width},height={height},framerate={fps}/1,format=I420 ! "
            f"x264enc tune=zerolatency key-int-max={gop} bframes=0 speed-preset=ultrafast ! "
            f"h264parse ! video/x-h264,stream-format=avc,alignment=au")
