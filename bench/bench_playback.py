#!/usr/bin/python3
"""Playback benchmark: what HLS viewers cost sluiced.

    bench/bench_playback.py BUILD_DIR [--seconds 5] [--connections 64]

Starts BUILD_DIR/gateway/sluiced (temporary data folder), uploads the AWS producer capture
(20 fragments, 640x480 H.264) with PutMedia, opens an ON_DEMAND HLS session, and measures:
  - cold packaging: the first GET of each fMP4 media fragment / TS segment (remux on a worker,
    plus the request), and the same GET again (served from the cache);
  - media playlist requests/s (wrk, keep-alive, C connections, 2 threads);
  - cached segment throughput in bytes/s (wrk on one fMP4 fragment);
  - GetImages images/s (21 JPEG samples per call, 640x480 key frames scaled to 320x240);
  - GetClip of the 20 fragments (5 s, one MP4) per second;
  - the HLS live edge: the capture uploaded again at real-time pace to a new stream while a
    poller (10 ms sleep between GETs) reads a LIVE media playlist; for each fragment, the time
    from its PERSISTED ack (what the producer sees) to the first playlist that lists it.
wrk and sluiced share the machine's cores; numbers are for this machine, not a server.

Cold packaging is also given as CPU time of the sluiced process (user + system, from /proc)
per fragment, which depends much less on what else the machine runs than the wall clock does.
(valgrind/callgrind instruction counts are not available here: valgrind 3.19 stops at an
RDTSCP instruction in a shared library's start-up code, and perf has no hardware counters in
this VM.)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
from conftest import Gateway  # noqa: E402
from video_client import PutMedia, put_file  # noqa: E402

SHARED = os.environ.get("SL_SHARED_DIR", os.path.join(HERE, "..", "..", "shared"))
CAPTURE = os.path.join(SHARED, "captures", "kvssink-putmedia.mkv")
CAP_FIRST_MS = 1795704260904


def get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read()


def wrk(url, seconds, conns):
    p = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, url],
                       capture_output=True, text=True, timeout=seconds + 60)
    out = p.stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    tr = re.search(r"Transfer/sec:\s+([0-9.]+)([KMG]?B)", out)
    mult = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}[tr.group(2)]
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(tr.group(1)) * mult, int(errs.group(1)) if errs else 0


def live_edge(gw, capture):
    """PERSISTED ack -> first LIVE playlist listing, per fragment (seconds)."""
    gw.client("kinesisvideo").create_stream(StreamName="live", DataRetentionInHours=24)
    c = PutMedia(gw.url, "live", gw.access_key, gw.secret_key, gw.region)
    c.send(capture[:200000])
    deadline = time.monotonic() + 30
    while not any(e["EventType"] == "PERSISTED" for e in c.events()):
        if time.monotonic() > deadline:
            raise RuntimeError("no PERSISTED ack")
        time.sleep(0.01)
    am = gw.client("kinesis-video-archived-media")
    url = am.get_hls_streaming_session_url(StreamName="live", PlaybackMode="LIVE")[
        "HLSStreamingSessionURL"]
    media = url.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist") + "&TrackNumber=1"
    seen, stop = {}, threading.Event()

    def poll():
        while not stop.is_set():
            body = get(media).decode()
            now = time.monotonic()
            for ln in body.splitlines():
                if ln and not ln.startswith("#"):
                    n = urllib.parse.parse_qs(ln.split("?", 1)[1])["FragmentNumber"][0]
                    seen.setdefault(n, now)
            time.sleep(0.01)

    t = threading.Thread(target=poll)
    t.start()
    try:
        c.send_paced(capture[200000:], 4.0)
        c.finish()
        c.wait()
    finally:
        stop.set()
        t.join()
        c.close()
    acks = {e["FragmentNumber"]: ts for ts, e in c.timed_events()
            if e["EventType"] == "PERSISTED"}
    return sorted(seen[n] - acks[n] for n in acks if n in seen and seen[n] >= acks[n] - 0.001)


def cpu_s(pid):
    """User + system CPU seconds used so far by process pid (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    a = ap.parse_args()
    os.environ["SLUICED"] = os.path.join(a.build, "gateway", "sluiced")
    gw = Gateway()
    try:
        gw.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=24)
        with open(CAPTURE, "rb") as f:
            put_file(gw.url, "cam", f.read(), gw.access_key, gw.secret_key, gw.region)
        am = gw.client("kinesis-video-archived-media")
        sel = {"FragmentSelectorType": "PRODUCER_TIMESTAMP",
               "TimestampRange": {"StartTimestamp": CAP_FIRST_MS // 1000,
                                  "EndTimestamp": CAP_FIRST_MS // 1000 + 10}}
        res = {}
        for container in ("FRAGMENTED_MP4", "MPEG_TS"):
            url = am.get_hls_streaming_session_url(
                StreamName="cam", PlaybackMode="ON_DEMAND", ContainerFormat=container,
                HLSFragmentSelector=sel)["HLSStreamingSessionURL"]
            base = url.rsplit("/", 1)[0] + "/"
            media = get(url).decode().splitlines()[-1]
            playlist = base + media
            segs = [base + ln for ln in get(playlist).decode().splitlines()
                    if ln and not ln.startswith("#")]
            cold, warm, size = [], [], 0
            cpu0 = cpu_s(gw.proc.pid)
            for s in segs:
                t0 = time.perf_counter()
                size += len(get(s))
                cold.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                get(s)
                warm.append(time.perf_counter() - t0)
            cpu = cpu_s(gw.proc.pid) - cpu0
            res[container] = (playlist, segs, cold, warm, size)
            print("%-15s cold GET (remux + serve): median %.2f ms, max %.2f ms per fragment "
                  "(sluiced CPU %.2f ms per fragment, cold + cached GET); cached GET: median "
                  "%.2f ms; %d fragments, %.0f KiB average"
                  % (container, statistics.median(cold) * 1e3, max(cold) * 1e3,
                     cpu / len(segs) * 1e3, statistics.median(warm) * 1e3, len(segs),
                     size / len(segs) / 1024))
        playlist, segs = res["FRAGMENTED_MP4"][0], res["FRAGMENTED_MP4"][1]
        rps, _, errs = wrk(gw.url + "/health", a.seconds, a.connections)
        print("reference, GET /health on the same gateway: %.0f requests/s" % rps)
        rps, _, errs = wrk(playlist, a.seconds, a.connections)
        print("media playlist: %.0f requests/s (wrk -t2 -c%d, %d s, %d errors)"
              % (rps, a.connections, a.seconds, errs))
        rps, bps, errs = wrk(segs[0], a.seconds, a.connections)
        print("cached fMP4 fragment (%d bytes): %.0f requests/s, %.2f GB/s (%d errors)"
              % (len(get(segs[0])), rps, bps / 1e9, errs))
        rates = []
        # the service allows 200 ms samples; this botocore still checks 3000 client-side
        am = gw.client("kinesis-video-archived-media", parameter_validation=False)
        for _ in range(3):
            t0 = time.perf_counter()
            r = am.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                              StartTimestamp=CAP_FIRST_MS // 1000 + 1,
                              EndTimestamp=CAP_FIRST_MS // 1000 + 5, SamplingInterval=200,
                              Format="JPEG", WidthPixels=320, HeightPixels=240)
            n = sum("ImageContent" in im for im in r["Images"])
            rates.append(n / (time.perf_counter() - t0))
        print("GetImages: %.0f images/s (median of 3 calls of %d JPEGs, 640x480 -> 320x240)"
              % (statistics.median(rates), n))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = am.get_clip(StreamName="cam", ClipFragmentSelector=sel)
            size = len(r["Payload"].read())
            times.append(time.perf_counter() - t0)
        print("GetClip: 20 fragments (5 s) -> %d-byte MP4 in %.1f ms (median of 3)"
              % (size, statistics.median(times) * 1e3))
        with open(CAPTURE, "rb") as f:
            late = live_edge(gw, f.read())
        print("HLS live edge: PERSISTED ack -> listed in the LIVE media playlist: median %.1f ms,"
              " max %.1f ms (%d fragments of ~0.25 s; poller sleeps 10 ms between GETs)"
              % (statistics.median(late) * 1e3, max(late) * 1e3, len(late)))
        assert gw.stop() == 0
    finally:
        gw.close()


if __name__ == "__main__":
    main()
