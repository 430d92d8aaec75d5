"""RTSP camera bridge: a loopback RTSP server (samples/rtsp_test_server.py, Debian's
gst-rtsp-server) serves a live test pattern; the bridge pipeline from samples/
(rtspsrc ! rtph264depay ! h264parse ! kvssink) records it into a stream on a real sluiced.
After an EOS (SIGINT with gst-launch -e) every frame kvssink took in must be readable back."""
import os
import subprocess
import time

from kvssink_util import Pipeline, ffprobe_streams, get_media_all, list_fragments


def test_rtsp_bridge(gateway, tmp_path):
    src = os.environ.get("SL_SOURCE_DIR",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    server = subprocess.Popen(["/usr/bin/python3", os.path.join(src, "samples",
                                                                "rtsp_test_server.py"),
                               "--port", "0", "--width", "320", "--height", "240"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("rtsp://127.0.0.1:"), server.stderr.read()
        p = Pipeline(gateway, f"rtspsrc location={url} latency=100 protocols=tcp ! "
                     "rtph264depay ! h264parse ! video/x-h264,stream-format=avc,alignment=au ! "
                     "kvssink stream-name=rtsp1")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if int(p.stats().get("fragments-persisted", 0)) >= 4:
                break
            assert p.proc.poll() is None, p.output[-4000:]
            time.sleep(0.2)
        else:
            raise AssertionError("no 4 fragments from the RTSP bridge:\n" + p.output[-4000:])
        p.interrupt()
        assert p.wait(60) == 0, p.output[-4000:]
    finally:
        server.terminate()
        server.wait(10)
    st = p.stats()
    assert st["store-fragments"] == "0" and st["fragments-dropped"] == "0", st
    frags = list_fragments(gateway, "rtsp1")
    assert len(frags) == int(st["fragments-persisted"]) >= 4
    out = str(tmp_path / "rtsp1.mkv")
    get_media_all(gateway, "rtsp1", len(frags), out)
    s = ffprobe_streams(out)
    assert s[0]["codec_name"] == "h264" and (s[0]["width"], s[0]["height"]) == (320, 240)
    assert s[0]["nb_read_frames"] == st["frames-in"], (s, st)
