"""kvssink resilience: sluiced is killed with SIGKILL in the middle of a live 60-second pipeline
and restarted on the same port and data folder. The pipeline must keep running, reconnect,
resend every fragment that was not PERSISTED, and the stored stream must hold every frame
exactly once (the gateway acknowledges a resent fragment without storing it twice)."""
import time

from kvssink_util import (Pipeline, ffprobe_pts, ffprobe_streams, get_media_all, h264_source,
                          list_fragments)


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def restart_same_port(gw):
    listen = gw.cmd.index("--listen") + 1
    gw.cmd[listen] = f"127.0.0.1:{gw.port}"
    gw.kill9()
    time.sleep(1.0)  # the camera keeps producing while the gateway is down
    gw.start()


def test_kill9_mid_stream_every_frame_once(gateway, tmp_path):
    n = 1500  # 60 s at 25 fps, live: one fragment per second
    p = Pipeline(gateway, h264_source(n, live=True) + " ! kvssink stream-name=live1")
    wait_for(lambda: "kvssink-stats" in p.output and int(p.stats().get("fragments-persisted", 0))
             >= 15, 60, "15 persisted fragments")
    restart_same_port(gateway)
    wait_for(lambda: int(p.stats().get("reconnects", 0)) >= 1, 60, "a reconnect")
    time.sleep(10)
    restart_same_port(gateway)  # and once more, to be sure it was not luck
    assert p.wait(180) == 0, p.output[-4000:]
    st = p.stats()
    assert st["frames-in"] == str(n) and st["store-fragments"] == "0", st
    assert int(st["reconnects"]) >= 2 and st["fragments-dropped"] == "0", st
    assert st["fragments-failed"] == "0", st

    frags = list_fragments(gateway, "live1")
    assert len(frags) == 60, [f["ProducerTimestamp"] for f in frags]
    ts = [f["ProducerTimestamp"].timestamp() for f in frags]
    assert len(set(ts)) == 60
    out = str(tmp_path / "live1.mkv")
    get_media_all(gateway, "live1", 60, out)
    s = ffprobe_streams(out)
    assert s[0]["nb_read_frames"] == str(n), s
    pts = ffprobe_pts(out)
    assert len(pts) == n and len(set(pts)) == n
    gaps = [b - a for a, b in zip(pts, pts[1:])]
    assert min(gaps) >= 39 and max(gaps) <= 41, sorted(set(gaps))


def test_store_full_drops_oldest_and_never_blocks(gateway, tmp_path):
    """Gateway down for ~8 s with storage-size=1 MB at ~2 Mbit/s: the store overflows, the
    oldest unacknowledged fragments are dropped with a warning, the live pipeline keeps its
    pace, and what was kept is stored once after the gateway returns."""
    n = 500  # 20 s live
    p = Pipeline(gateway, "videotestsrc num-buffers=500 is-live=true pattern=snow ! "
                 "video/x-raw,width=640,height=480,framerate=25/1,format=I420 ! "
                 "x264enc tune=zerolatency key-int-max=25 bframes=0 speed-preset=ultrafast "
                 "bitrate=2000 ! h264parse ! video/x-h264,stream-format=avc,alignment=au ! "
                 "kvssink stream-name=full1 storage-size=1")
    t0 = time.monotonic()
    wait_for(lambda: int(p.stats().get("fragments-persisted", 0)) >= 3, 60, "3 fragments")
    listen = gateway.cmd.index("--listen") + 1
    gateway.cmd[listen] = f"127.0.0.1:{gateway.port}"
    gateway.kill9()
    time.sleep(8)
    gateway.start()
    assert p.wait(120) == 0, p.output[-4000:]
    elapsed = time.monotonic() - t0
    assert elapsed < 30, elapsed  # 20 s of live video never waited for the network
    st = p.stats()
    assert int(st["fragments-dropped"]) > 0, st
    assert any("content store full" in w for w in p.output.splitlines()), p.output[-3000:]
    assert st["store-fragments"] == "0", st
    kept = int(st["fragments-in"]) - int(st["fragments-dropped"])
    frags = list_fragments(gateway, "full1")
    assert len(frags) == kept == int(st["fragments-persisted"]), (len(frags), st)
    out = str(tmp_path / "full1.mkv")
    get_media_all(gateway, "full1", kept, out)
    pts = ffprobe_pts(out)
    assert len(pts) == len(set(pts)) and pts == sorted(pts)
