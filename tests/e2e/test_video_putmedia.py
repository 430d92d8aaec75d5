"""Kinesis Video ingest and reads end to end: PutMedia (signed chunked upload, streamed ACKs),
ListFragments, GetMedia (every start selector, live tail) and GetMediaForFragmentList, through
a real sluiced, the AWS CLI, boto3 and ffprobe.

Media: the real AWS producer's PutMedia body (shared/captures/kvssink-putmedia.mkv: 20 clusters,
125 frames of 640x480 H.264) and an H.264 + AAC Matroska file made by ffmpeg from test
sources, uploaded at real-time pace."""
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from video_client import (PutMedia, cluster_timecodes, clusters, media_request, put_file,
                          read_fragments)

CAPTURE = os.path.join(os.environ.get("SL_SHARED_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")), "captures", "kvssink-putmedia.mkv")


@pytest.fixture(scope="module")
def capture():
    with open(CAPTURE, "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def av_file(tmp_path_factory):
    """6 s of 320x240 H.264 at 25 fps + AAC, one cluster per second (ffmpeg)."""
    assert shutil.which("ffmpeg"), "ffmpeg not installed (scripts/deps.sh installs it)"
    path = str(tmp_path_factory.mktemp("av") / "av.mkv")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=6", "-f", "lavfi", "-i",
                    "sine=frequency=440:sample_rate=44100:duration=5.8", "-c:v", "libx264",
                    "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
                    "-cluster_time_limit", "1000", "-f", "matroska", path], check=True)
    with open(path, "rb") as f:
        return f.read()


def ffprobe(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                        "stream=codec_name,codec_type,width,height,nb_read_frames", "-of", "json",
                        path], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)["streams"]


def put(gw, stream, data, **kw):
    return put_file(gw.url, stream, data, gw.access_key, gw.secret_key, gw.region, **kw)


def get_media(gw, stream, selector, n, timeout=30):
    conn, r = media_request(gw.url, "/getMedia", {"StreamName": stream,
                                                  "StartSelector": selector},
                            gw.access_key, gw.secret_key, gw.region)
    try:
        assert r.status == 200, r.read()
        assert r.getheader("Content-Type") == "video/webm"
        return read_fragments(r, n, timeout)
    finally:
        conn.close()


def list_all(gw, stream, kind="SERVER_TIMESTAMP"):
    am = gw.client("kinesis-video-archived-media")
    sel = {"FragmentSelectorType": kind,
           "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": time.time() + 3600}}
    out = []
    for page in am.get_paginator("list_fragments").paginate(StreamName=stream,
                                                            FragmentSelector=sel):
        out += page["Fragments"]
    return sorted(out, key=lambda f: f["FragmentNumber"])


def check_ack_stream(c, timecodes):
    """One compact JSON event + \\n per chunk; BUFFERING/RECEIVED/PERSISTED per fragment with
    the cluster timecode as received; numbers 47 digits and increasing. Returns the numbers."""
    assert c.status == 200 and c.error is None, (c.status, c.error)
    assert c.headers["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f-]{36}", c.headers["x-amzn-requestid"])
    for _, chunk in c.chunks:
        assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1 and len(chunk) <= 1024
        ev = json.loads(chunk)
        assert chunk == json.dumps(ev, separators=(",", ":")).encode() + b"\n"
    ev = c.events()
    by_type = {t: [e for e in ev if e["EventType"] == t] for t in
               ("BUFFERING", "RECEIVED", "PERSISTED", "ERROR")}
    for t in ("BUFFERING", "RECEIVED", "PERSISTED"):
        assert [e["FragmentTimecode"] for e in by_type[t]] == timecodes, t
    assert by_type["ERROR"] == []
    nums = [e["FragmentNumber"] for e in by_type["PERSISTED"]]
    assert all(len(n) == 47 and n.isdigit() for n in nums)
    assert nums == sorted(set(nums))
    for t in ("BUFFERING", "RECEIVED"):
        assert [e["FragmentNumber"] for e in by_type[t]] == nums
    # each fragment: BUFFERING before RECEIVED before PERSISTED
    for n in nums:
        order = [e["EventType"] for e in ev if e.get("FragmentNumber") == n]
        assert order == ["BUFFERING", "RECEIVED", "PERSISTED"], order
    return nums


def test_capture_ingest_and_reads(gateway, capture, tmp_path):
    kv = gateway.client("kinesisvideo")
    kv.create_stream(StreamName="test1", DataRetentionInHours=2, MediaType="video/h264")
    tcs = cluster_timecodes(capture)
    assert len(tcs) == 20
    c = put(gateway, "test1", capture)
    nums = check_ack_stream(c, tcs)

    # ListFragments: boto3 paginator and the AWS CLI
    frags = list_all(gateway, "test1")
    assert [f["FragmentNumber"] for f in frags] == nums
    offs = clusters(capture) + [len(capture)]
    sizes = [offs[i + 1] - offs[i] for i in range(20)]
    # the last cluster ends where the producer's end-of-fragment Tags begin
    assert [f["FragmentSizeInBytes"] for f in frags[:19]] == sizes[:19]
    assert frags[19]["FragmentSizeInBytes"] < sizes[19]
    assert [round(f["ProducerTimestamp"].timestamp() * 1000) for f in frags] == tcs
    assert all(f["FragmentLengthInMilliseconds"] > 0 for f in frags)
    # botocore sends whole seconds (fraction truncated), so the range is in seconds here
    lo, hi = tcs[5] // 1000, tcs[12] // 1000
    cli = json.loads(gateway.aws(
        "kinesis-video-archived-media", "list-fragments", "--stream-name", "test1",
        "--fragment-selector", json.dumps({
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": lo, "EndTimestamp": hi}}),
        "--max-items", "100").stdout)
    want = [n for n, tc in zip(nums, tcs) if lo * 1000 <= tc <= hi * 1000]
    assert 3 <= len(want) < 20
    assert sorted(f["FragmentNumber"] for f in cli["Fragments"]) == want

    # GetMediaForFragmentList through the CLI: exactly the listed fragments, in order
    out = str(tmp_path / "list.mkv")
    gateway.aws("kinesis-video-archived-media", "get-media-for-fragment-list", out,
                "--stream-name", "test1", "--fragments", *nums)
    with open(out, "rb") as f:
        body = f.read()
    assert body.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 20
    assert [m.decode() for m in re.findall(rb"AWS_KINESISVIDEO_FRAGMENT_NUMBER\x44\x87\x10\x00\x00"
                                           rb".([0-9]{47})", body, re.S)] == nums
    s = ffprobe(out)
    assert s[0]["codec_name"] == "h264" and s[0]["width"] == 640 and s[0]["height"] == 480
    assert s[0]["nb_read_frames"] == "125"
    out2 = str(tmp_path / "some.mkv")
    gateway.aws("kinesis-video-archived-media", "get-media-for-fragment-list", out2,
                "--stream-name", "test1", "--fragments", nums[3], nums[1])
    with open(out2, "rb") as f:
        some = f.read()
    assert some.index(nums[3].encode()) < some.index(nums[1].encode())
    assert some.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 2

    # GetMedia EARLIEST: every fragment, with every service tag, 125 frames
    body, _ = get_media(gateway, "test1", {"StartSelectorType": "EARLIEST"}, 20)
    for tag in (b"FRAGMENT_NUMBER", b"SERVER_TIMESTAMP", b"PRODUCER_TIMESTAMP",
                b"MILLIS_BEHIND_NOW", b"CONTINUATION_TOKEN"):
        assert body.count(b"AWS_KINESISVIDEO_" + tag) == 20, tag
    assert body.count(b"\x1a\x45\xdf\xa3") == 20  # a self-contained MKV chunk per fragment
    p = tmp_path / "gm.mkv"
    p.write_bytes(body)
    s = ffprobe(str(p))
    assert s[0]["codec_name"] == "h264" and s[0]["nb_read_frames"] == "125"

    # the other selectors
    body, _ = get_media(gateway, "test1", {"StartSelectorType": "FRAGMENT_NUMBER",
                                           "AfterFragmentNumber": nums[16]}, 3)
    assert body.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 3 and nums[17].encode() in body
    body, _ = get_media(gateway, "test1", {"StartSelectorType": "CONTINUATION_TOKEN",
                                           "ContinuationToken": nums[18]}, 1)
    assert nums[19].encode() in body and nums[18].encode() not in body
    body, _ = get_media(gateway, "test1", {"StartSelectorType": "PRODUCER_TIMESTAMP",
                                           "StartTimestamp": (tcs[10] + 5) / 1000}, 10)
    assert body.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 10 and nums[10].encode() in body
    assert nums[9].encode() not in body
    st = frags[12]["ServerTimestamp"].timestamp()
    body, _ = get_media(gateway, "test1", {"StartSelectorType": "SERVER_TIMESTAMP",
                                           "StartTimestamp": st}, 1, timeout=5)
    assert body.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == 1


def test_cli_get_media(gateway, capture, av_file, tmp_path):
    gateway.client("kinesisvideo").create_stream(StreamName="clim", DataRetentionInHours=1)
    put(gateway, "clim", capture)
    put(gateway, "clim", av_file)  # more data after it, so the CLI flushes all 20 to its file
    out = str(tmp_path / "cli.mkv")
    # GetMedia never ends on its own (it tails the stream): stop the CLI once the file holds
    # all 20 fragments.
    cmd = ["/usr/bin/aws", "--endpoint-url", gateway.url, "kinesis-video-media", "get-media",
           "--stream-name", "clim", "--start-selector", "StartSelectorType=EARLIEST", out]
    p = subprocess.Popen(cmd, env=gateway.cli_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        data = b""
        while time.time() < deadline:
            if os.path.exists(out):
                with open(out, "rb") as f:
                    data = f.read()
                if data.count(b"AWS_KINESISVIDEO_CONTINUATION_TOKEN") >= 21:
                    break
            if p.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        p.kill()
        p.wait()
    assert data.count(b"AWS_KINESISVIDEO_CONTINUATION_TOKEN") >= 21, p.stderr.read()
    # the capture's 20 fragments, up to the 21st fragment's EBML header
    pos = -1
    for _ in range(21):
        pos = data.index(b"\x1a\x45\xdf\xa3", pos + 1)
    first = tmp_path / "first20.mkv"
    first.write_bytes(data[:pos])
    assert ffprobe(str(first))[0]["nb_read_frames"] == "125"


def test_resent_fragments_not_stored_twice(gateway, capture):
    gateway.client("kinesisvideo").create_stream(StreamName="re", DataRetentionInHours=1)
    first = check_ack_stream(put(gateway, "re", capture), cluster_timecodes(capture))
    # the producer's replay after a reconnect: a new session with the last 5 fragments again
    offs = clusters(capture)
    replay = capture[:offs[0]] + capture[offs[15]:]
    c = put(gateway, "re", replay)
    ev = c.events()
    pers = [e for e in ev if e["EventType"] == "PERSISTED"]
    assert [e["FragmentNumber"] for e in pers] == first[15:]
    assert len(list_all(gateway, "re")) == 20


def test_ffmpeg_av_realtime_upload(gateway, av_file, tmp_path):
    gateway.client("kinesisvideo").create_stream(StreamName="av", DataRetentionInHours=1,
                                                 MediaType="video/h264,audio/aac")
    c = PutMedia(gateway.url, "av", gateway.access_key, gateway.secret_key, gateway.region)
    try:
        t0 = time.monotonic()
        c.send_paced(av_file, 6.0)
        t_sent = time.monotonic()
        c.finish()
        c.wait()
    finally:
        c.close()
    timed = c.timed_events()
    pers = [(t, e) for t, e in timed if e["EventType"] == "PERSISTED"]
    assert len(pers) == 6 and not [e for _, e in timed if e["EventType"] == "ERROR"]
    # ACKs flow while the body is still being sent
    assert sum(1 for t, _ in pers if t < t_sent) >= 4, [t - t0 for t, _ in pers]
    assert timed[0][0] - t0 < 1.5  # first BUFFERING right after the first cluster starts
    nums = [e["FragmentNumber"] for _, e in pers]
    body, _ = get_media(gateway, "av", {"StartSelectorType": "EARLIEST"}, 6)
    p = tmp_path / "av.mkv"
    p.write_bytes(body)
    streams = {s["codec_type"]: s for s in ffprobe(str(p))}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (320, 240)
    assert streams["video"]["nb_read_frames"] == "150"
    assert streams["audio"]["codec_name"] == "aac"
    assert int(streams["audio"]["nb_read_frames"]) > 240  # ~5.8 s of 1024-sample frames
    for n in nums:
        assert n.encode() in body


def test_live_tail_latency(gateway, capture):
    """A GetMedia NOW reader gets each new fragment while the upload is still going, right after
    its PERSISTED ACK. The latency is printed for reports (the issue's target is 100 ms) and
    only bounded loosely here: speed is measured, not asserted, on a shared CI machine."""
    gateway.client("kinesisvideo").create_stream(StreamName="live", DataRetentionInHours=1)
    conn, r = media_request(gateway.url, "/getMedia", {
        "StreamName": "live", "StartSelector": {"StartSelectorType": "NOW"}},
        gateway.access_key, gateway.secret_key, gateway.region)
    try:
        assert r.status == 200
        import threading
        got = {}

        def reader():
            got["body"], got["times"] = read_fragments(r, 20, timeout=60)

        th = threading.Thread(target=reader)
        th.start()
        c = PutMedia(gateway.url, "live", gateway.access_key, gateway.secret_key,
                     gateway.region)
        try:
            c.send_paced(capture, 5.0)
            c.finish()
            c.wait()
        finally:
            c.close()
        th.join(60)
    finally:
        conn.close()
    pers = [t for t, e in c.timed_events() if e["EventType"] == "PERSISTED"]
    assert len(pers) == 20 and len(got["times"]) == 20
    lat = sorted((g - p) * 1000 for g, p in zip(got["times"], pers))
    print("live tail latency ms: p50 %.1f max %.1f" % (lat[10], lat[-1]))
    # live, not replayed at the end: each fragment came well before the upload's 5 s were over
    assert lat[-1] <= 2000, lat


def test_retention_zero_live_only(gateway, capture):
    gateway.client("kinesisvideo").create_stream(StreamName="z")  # retention 0
    conn, r = media_request(gateway.url, "/getMedia", {
        "StreamName": "z", "StartSelector": {"StartSelectorType": "NOW"}},
        gateway.access_key, gateway.secret_key, gateway.region)
    try:
        c = put(gateway, "z", capture)
        body, _ = read_fragments(r, 20, timeout=20)
    finally:
        conn.close()
    ev = c.events()
    assert [e for e in ev if e["EventType"] == "PERSISTED"] == []
    assert len([e for e in ev if e["EventType"] == "RECEIVED"]) == 20
    assert body.count(b"AWS_KINESISVIDEO_CONTINUATION_TOKEN") == 20


def test_bad_input(gateway, capture):
    kv = gateway.client("kinesisvideo")
    kv.create_stream(StreamName="bad", DataRetentionInHours=1)
    offs = clusters(capture)
    header = capture[:offs[0]]

    # no such stream: an ordinary 404 before any ACK
    c = put(gateway, "nope", capture[:1000])
    assert c.status == 404
    assert json.loads(c.chunks[0][1])["__type"] == "ResourceNotFoundException"

    # garbage: ERROR 4006, nothing stored
    c = put(gateway, "bad", b"\x00garbage" * 100)
    ev = c.events()
    assert [e["EventType"] for e in ev] == ["ERROR"] and ev[0]["ErrorId"] == 4006
    assert ev[0]["ErrorCode"] == "INVALID_MKV_DATA"

    # two good fragments, then a cluster whose timecode goes back: 4004 after both PERSISTED
    body = header + capture[offs[2]:offs[4]] + capture[offs[1]:offs[2]]
    c = put(gateway, "bad", body)
    ev = c.events()
    types = [e["EventType"] for e in ev]
    assert types.count("PERSISTED") == 2 and types[-1] == "ERROR", types
    assert ev[-1]["ErrorId"] == 4004
    assert ev[-1]["ErrorCode"] == "FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS"
    kept = list_all(gateway, "bad")
    assert len(kept) == 2

    # absurd element size inside a cluster: 4006; earlier fragments untouched
    broken = header + capture[offs[5]:offs[6]] + capture[offs[6]:offs[6] + 15] + \
        b"\xa3\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x00" * 100
    c = put(gateway, "bad", broken)
    ev = c.events()
    assert ev[-1]["EventType"] == "ERROR" and ev[-1]["ErrorId"] in (4001, 4006), ev[-1]
    assert len(list_all(gateway, "bad")) == 3
    body, _ = get_media(gateway, "bad", {"StartSelectorType": "EARLIEST"}, 3)
    assert body.count(b"AWS_KINESISVIDEO_CONTINUATION_TOKEN") == 3

    # bad timecode type header
    c = put(gateway, "bad", capture[:100], tc_type="SIDEWAYS")
    assert c.status == 400


def test_newest_session_wins_and_delete_ends_session(gateway, capture):
    kv = gateway.client("kinesisvideo")
    arn = kv.create_stream(StreamName="two", DataRetentionInHours=1)["StreamARN"]
    offs = clusters(capture)
    a = PutMedia(gateway.url, "two", gateway.access_key, gateway.secret_key, gateway.region)
    a.send(capture[:offs[3]])
    deadline = time.time() + 10
    while time.time() < deadline and sum(
            1 for _, ch in a.chunks if b"PERSISTED" in ch) < 2:
        time.sleep(0.02)
    b = PutMedia(gateway.url, "two", gateway.access_key, gateway.secret_key, gateway.region)
    a.wait(10)  # the older session ends on its own
    assert a.status == 200 and a.error is None
    assert sum(1 for _, ch in a.chunks if b"PERSISTED" in ch) >= 2
    b.send(capture[:offs[0]] + capture[offs[10]:offs[13]])
    deadline = time.time() + 10
    while time.time() < deadline and sum(1 for _, ch in b.chunks if b"PERSISTED" in ch) < 2:
        time.sleep(0.02)
    version = kv.describe_stream(StreamName="two")["StreamInfo"]["Version"]
    kv.delete_stream(StreamARN=arn, CurrentVersion=version)
    b.wait(10)
    ev = b.events()
    assert ev[-1]["EventType"] == "ERROR" and ev[-1]["ErrorId"] == 4008, ev[-1]
    a.close()
    b.close()
    c = put(gateway, "two", capture[:1000])
    assert c.status == 404
