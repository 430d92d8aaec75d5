"""Archived-media request limits, each at and past its bound, through the AWS CLI and boto3:

GetClip: at most 200 fragments (ffprobe: the clip's duration is the sum of exactly the first
200 fragments' durations), at most 100 MB of fragment bytes (reached with
SLUICE_TEST_CLIP_MAX_BYTES lowered, the cut computed here from ListFragments' sizes), the 24 h
range, End later than Start, SERVER_TIMESTAMP End in the past, an empty range
(ResourceNotFoundException "No fragments found"), a gap between uploads, equal producer
timestamps (kept once), a codec change (H.264 then H.265) ending the clip, H.265 clips.
GetImages: MaxResults 1..100 and pages of 25, WidthPixels 1..3840, HeightPixels 1..2160, one of
them alone, the 300 s span, SamplingInterval >= 200, JPEGQuality 1..100, NextToken.
HLS and DASH session URLs: Expires 300..43200, Max*FragmentResults 1..5000 (1 lists one
fragment), the ON_DEMAND 24 h range, End in the past for SERVER_TIMESTAMP, LIVE without a range.
Out-of-model values are refused by the gateway's model validation (ValidationException, as AWS
names it in GetImages' documentation); boto3 clients with parameter_validation=False send them.
"""
import json
import os
import subprocess
import time
import urllib.request

import botocore.exceptions
import pytest

from conftest import Gateway
from video_client import put_file

SHARED = os.environ.get("SL_SHARED_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "..", "shared"))
CAPTURE = os.path.join(SHARED, "captures", "kvssink-putmedia.mkv")
MEDIA = os.path.join(os.environ.get("SL_SOURCE_DIR", os.path.join(os.path.dirname(__file__),
                                                                  "..", "..")),
                     "tests", "data", "media")
CAP_FIRST_MS = 1795704260904
CAP_LAST_MS = 1795704265664


def media(name):
    with open(os.path.join(MEDIA, name), "rb") as f:
        return f.read()


def upload(gw, stream, data, start):
    c = put_file(gw.url, stream, data, gw.access_key, gw.secret_key, gw.region,
                 tc_type="RELATIVE", start_ts=start)
    ev = c.events()
    assert not [e for e in ev if e["EventType"] == "ERROR"], ev
    return sum(e["EventType"] == "PERSISTED" for e in ev)


def fragments(gw, name):
    am = gw.client("kinesis-video-archived-media")
    sel = {"FragmentSelectorType": "SERVER_TIMESTAMP",
           "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": time.time() + 3600}}
    out = []
    for page in am.get_paginator("list_fragments").paginate(StreamName=name,
                                                            FragmentSelector=sel):
        out += page["Fragments"]
    return sorted(out, key=lambda f: f["ProducerTimestamp"])


def probe(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                        "stream=codec_type,codec_name,nb_read_packets,duration:format=duration",
                        "-of", "json", path], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def video(info):
    return [s for s in info["streams"] if s["codec_type"] == "video"][0]


def cli_clip(gw, stream, start_s, end_s, out, sel_type="PRODUCER_TIMESTAMP", check=True):
    sel = ("FragmentSelectorType=%s,TimestampRange={StartTimestamp=%s,EndTimestamp=%s}"
           % (sel_type, start_s, end_s))
    return gw.aws("kinesis-video-archived-media", "get-clip", "--stream-name", stream,
                  "--clip-fragment-selector", sel, out, check=check)


def raw_client(gw):
    """An archived-media client that sends out-of-model values instead of refusing them."""
    return gw.client("kinesis-video-archived-media", parameter_validation=False)


def error_code(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(**kw)
    return ei.value.response["Error"]["Code"], ei.value.response["Error"].get("Message", "")


def clip_sel(start, end, kind="PRODUCER_TIMESTAMP"):
    return {"FragmentSelectorType": kind,
            "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end}}


def test_clip_200_fragment_cut_and_range_rules(gateway, tmp_path):
    gw = gateway
    gw.client("kinesisvideo").create_stream(StreamName="long", DataRetentionInHours=24)
    data = media("h264-aac.mkv")  # 3 s, 3 fragments
    base = time.time() - 3600
    n = 0
    for i in range(70):  # back to back: 210 fragments over 210 s
        n += upload(gw, "long", data, base + 3 * i)
    assert n == 210
    frags = fragments(gw, "long")
    assert len(frags) == 210
    out = str(tmp_path / "long.mp4")
    p = cli_clip(gw, "long", int(base) - 1, int(base) + 300, out)
    assert json.loads(p.stdout)["ContentType"] == "video/mp4"
    info = probe(out)
    ts = [f["ProducerTimestamp"].timestamp() for f in frags]
    want_s = ts[200] - ts[0]  # the first 200 fragments, back to back: up to the 201st's start
    got_s = float(video(info)["duration"])
    print("\n200-fragment clip: %.3f s of video; first 200 fragments span %.3f s (their "
          "FragmentLengthInMilliseconds add up to %.3f s)" % (
              got_s, want_s, sum(f["FragmentLengthInMilliseconds"] for f in frags[:200]) / 1000))
    assert abs(got_s - want_s) < 0.1, (got_s, want_s)
    with open(out, "rb") as f:
        assert b"moof" not in f.read()  # a classic MP4

    # a range holding exactly the last 10 fragments gives just those
    start = frags[200]["ProducerTimestamp"].timestamp()
    am = gw.client("kinesis-video-archived-media")
    r = am.get_clip(StreamName="long", ClipFragmentSelector=clip_sel(int(start), int(start) + 40))
    path = str(tmp_path / "tail.mp4")
    with open(path, "wb") as f:
        f.write(r["Payload"].read())
    want_s = ts[209] - ts[200] + (ts[209] - ts[208])
    assert abs(float(video(probe(path))["duration"]) - want_s) < 0.1

    # range rules: 24 h at most, End later than Start, SERVER_TIMESTAMP End in the past
    p = cli_clip(gw, "long", int(base), int(base) + 24 * 3600 + 1, out, check=False)
    assert p.returncode != 0 and "InvalidArgumentException" in p.stderr, p.stderr
    for s, e in ((int(base), int(base)), (int(base) + 10, int(base))):
        code, _ = error_code(am.get_clip, StreamName="long", ClipFragmentSelector=clip_sel(s, e))
        assert code == "InvalidArgumentException"
    code, _ = error_code(am.get_clip, StreamName="long", ClipFragmentSelector=clip_sel(
        int(time.time()) - 60, int(time.time()) + 3600, "SERVER_TIMESTAMP"))
    assert code == "InvalidArgumentException"
    # exactly 24 h is allowed (it holds the whole upload, cut at 200 fragments again)
    r = am.get_clip(StreamName="long",
                    ClipFragmentSelector=clip_sel(int(base) - 1, int(base) - 1 + 24 * 3600))
    assert r["ContentType"] == "video/mp4" and len(r["Payload"].read()) > 1000
    # SERVER_TIMESTAMP selects by arrival time: everything arrived in the last few minutes
    r = am.get_clip(StreamName="long", ClipFragmentSelector=clip_sel(
        int(time.time()) - 600, int(time.time()) - 1, "SERVER_TIMESTAMP"))
    assert len(r["Payload"].read()) > 1000
    # an empty range
    p = cli_clip(gw, "long", int(base) - 7200, int(base) - 3600, out, check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr
    assert "No fragments found" in p.stderr, p.stderr


def test_clip_byte_limit(tmp_path):
    gw = Gateway()
    try:
        gw.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=24)
        with open(CAPTURE, "rb") as f:
            put_file(gw.url, "cam", f.read(), gw.access_key, gw.secret_key, gw.region)
        frags = fragments(gw, "cam")
        assert len(frags) == 20
        sizes = [f["FragmentSizeInBytes"] for f in frags]
        durs = [f["FragmentLengthInMilliseconds"] / 1000 for f in frags]
        # (limit, fragments expected): the first 3 fragments' exact total (all fit, the 4th
        # does not), one byte less (2 fit), 1 byte (the first fragment is always taken)
        for limit, k in ((sum(sizes[:3]), 3), (sum(sizes[:3]) - 1, 2), (1, 1)):
            assert gw.stop() == 0
            gw.env["SLUICE_TEST_CLIP_MAX_BYTES"] = str(limit)
            gw.start()
            am = gw.client("kinesis-video-archived-media")
            r = am.get_clip(StreamName="cam", ClipFragmentSelector=clip_sel(
                CAP_FIRST_MS // 1000, CAP_LAST_MS // 1000 + 1))
            path = str(tmp_path / ("cut%d.mp4" % k))
            with open(path, "wb") as f:
                f.write(r["Payload"].read())
            got = float(video(probe(path))["duration"])
            assert abs(got - sum(durs[:k])) < 0.1, (limit, k, got, durs[:k + 1])
        assert gw.stop() == 0
    finally:
        gw.close()


def test_clip_gap_duplicates_and_codec_change(gateway, tmp_path):
    gw = gateway
    gw.client("kinesisvideo").create_stream(StreamName="mix", DataRetentionInHours=24)
    av = media("h264-aac.mkv")
    t0 = time.time() - 600
    assert upload(gw, "mix", av, t0) == 3
    assert upload(gw, "mix", av, t0 + 10) == 3      # a 7 s gap after the first 3 s
    assert upload(gw, "mix", av, t0) == 3           # same producer times again: dropped
    am = gw.client("kinesis-video-archived-media")
    one = str(tmp_path / "one.mp4")
    with open(one, "wb") as f:
        f.write(am.get_clip(StreamName="mix", ClipFragmentSelector=clip_sel(
            int(t0) - 1, int(t0) + 5))["Payload"].read())
    n1 = int(video(probe(one))["nb_read_packets"])
    both = str(tmp_path / "both.mp4")
    with open(both, "wb") as f:
        f.write(am.get_clip(StreamName="mix", ClipFragmentSelector=clip_sel(
            int(t0) - 1, int(t0) + 15))["Payload"].read())
    info = probe(both)
    v = video(info)
    # frames: one upload's in the first range (the duplicate is kept once), two across the gap
    assert n1 > 50 and int(v["nb_read_packets"]) == 2 * n1, (n1, v)
    stored = fragments(gw, "mix")
    dur = float(v["duration"])
    ts = sorted(f["ProducerTimestamp"].timestamp() for f in stored)
    assert len(ts) == 6  # the third upload was the first again: stored once
    span = ts[-1] - ts[0] + (ts[-1] - ts[-2])  # first start to the end of the last fragment
    print("\nclip across a 7 s gap: %.3f s of video (fragments' span %.3f s)" % (dur, span))
    # the clip keeps the producer time line: the gap stays a gap, durations add up to the span
    assert abs(dur - span) < 0.1, (dur, span)
    # audio follows its video across the gap: it ends with the clip, not 7 s early
    aud = [x for x in info["streams"] if x["codec_type"] == "audio"][0]
    assert abs(float(aud["duration"]) - span) < 0.2, (aud, span)
    # H.265 after the H.264: a header change ends the clip before it
    assert upload(gw, "mix", media("hevc.mkv"), t0 + 20) == 2
    mixed = str(tmp_path / "mixed.mp4")
    with open(mixed, "wb") as f:
        f.write(am.get_clip(StreamName="mix", ClipFragmentSelector=clip_sel(
            int(t0) - 1, int(t0) + 30))["Payload"].read())
    v = video(probe(mixed))
    assert v["codec_name"] == "h264" and int(v["nb_read_packets"]) == 2 * n1
    # starting at the H.265 part gives an H.265 clip (hvc1), every frame decodable
    hevc = str(tmp_path / "hevc.mp4")
    with open(hevc, "wb") as f:
        f.write(am.get_clip(StreamName="mix", ClipFragmentSelector=clip_sel(
            int(t0) + 19, int(t0) + 30))["Payload"].read())
    v = video(probe(hevc))
    assert v["codec_name"] == "hevc" and int(v["nb_read_packets"]) == 50
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", hevc, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def test_get_images_limits(gateway):
    gw = gateway
    gw.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=24)
    with open(CAPTURE, "rb") as f:
        put_file(gw.url, "cam", f.read(), gw.access_key, gw.secret_key, gw.region)
    am = raw_client(gw)
    s0 = CAP_FIRST_MS // 1000 + 1

    def images(**kw):
        args = dict(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                    StartTimestamp=s0, EndTimestamp=s0 + 3, SamplingInterval=1000,
                    Format="JPEG", WidthPixels=64, HeightPixels=48)
        args.update(kw)
        return am.get_images(**{k: v for k, v in args.items() if v is not None})

    def refused(**kw):
        return error_code(images, **kw)[0]

    # MaxResults 1..100; pages hold at most 25
    assert refused(MaxResults=0) == "ValidationException"
    assert refused(MaxResults=101) == "ValidationException"
    r = images(MaxResults=1)
    assert len(r["Images"]) == 1 and "NextToken" in r
    r = images(MaxResults=100, EndTimestamp=s0 + 3, SamplingInterval=200)
    assert len(r["Images"]) == 16 and "NextToken" not in r  # 0, 0.2 ... 3.0 s
    r = images(MaxResults=100, StartTimestamp=s0 - 2, EndTimestamp=s0 + 4, SamplingInterval=200)
    assert len(r["Images"]) == 25 and "NextToken" in r
    # WidthPixels 1..3840, HeightPixels 1..2160
    for kw in ({"WidthPixels": 0}, {"WidthPixels": 3841}, {"HeightPixels": 0},
               {"HeightPixels": 2161}):
        assert refused(**kw) == "ValidationException", kw
    r = images(WidthPixels=3840, HeightPixels=2160, EndTimestamp=s0)
    assert "ImageContent" in r["Images"][0]
    r = images(WidthPixels=1, HeightPixels=1, EndTimestamp=s0)
    assert "ImageContent" in r["Images"][0]
    # one of them alone: the other follows the source's aspect ratio (640x480)
    for kw, size in (({"WidthPixels": 320, "HeightPixels": None}, (320, 240)),
                     ({"WidthPixels": None, "HeightPixels": 120}, (160, 120))):
        r = images(EndTimestamp=s0, **kw)
        assert image_size(r["Images"][0]["ImageContent"]) == size, kw
    # the span is at most 300 s
    assert images(StartTimestamp=s0 - 150, EndTimestamp=s0 + 150, SamplingInterval=60000)
    assert refused(StartTimestamp=s0 - 150, EndTimestamp=s0 + 151,
                   SamplingInterval=60000) == "InvalidArgumentException"
    assert refused(StartTimestamp=s0 + 1, EndTimestamp=s0) == "InvalidArgumentException"
    # SamplingInterval at least 200 ms
    assert refused(SamplingInterval=199) == "InvalidArgumentException"
    assert refused(SamplingInterval=0) == "InvalidArgumentException"
    assert len(images(SamplingInterval=200, EndTimestamp=s0 + 0.2)["Images"]) >= 1
    # JPEGQuality "1".."100"
    for q in ("0", "101", "x1", "007x"):
        assert refused(FormatConfig={"JPEGQuality": q}) == "InvalidArgumentException", q
    # the model's value pattern [a-zA-Z_0-9]+ and its one-entry map come first
    assert refused(FormatConfig={"JPEGQuality": "-5"}) == "ValidationException"
    assert refused(FormatConfig={}) == "ValidationException"
    lo = images(FormatConfig={"JPEGQuality": "1"}, WidthPixels=320, HeightPixels=240,
                EndTimestamp=s0)
    hi = images(FormatConfig={"JPEGQuality": "100"}, WidthPixels=320, HeightPixels=240,
                EndTimestamp=s0)
    assert len(lo["Images"][0]["ImageContent"]) < len(hi["Images"][0]["ImageContent"])
    # NextToken must be one this API handed out
    assert refused(NextToken="bm90LWEtdG9rZW4=") == "InvalidArgumentException"


def image_size(b64):
    import base64
    import struct
    data = base64.b64decode(b64)
    assert data[:2] == b"\xff\xd8"
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return (w, h)
        i += 2 + length
    raise AssertionError("no SOF in the JPEG")


@pytest.mark.parametrize("proto", ["HLS", "DASH"])
def test_session_request_limits(gateway, proto):
    gw = gateway
    gw.client("kinesisvideo").create_stream(StreamName="cam", DataRetentionInHours=24)
    t_up = time.time()
    with open(CAPTURE, "rb") as f:
        put_file(gw.url, "cam", f.read(), gw.access_key, gw.secret_key, gw.region)
    am = raw_client(gw)
    if proto == "HLS":
        call, sel_key, max_key = (am.get_hls_streaming_session_url, "HLSFragmentSelector",
                                  "MaxMediaPlaylistFragmentResults")
        url_key, list_path = "HLSStreamingSessionURL", ("getHLSMasterPlaylist.m3u8",
                                                        "getHLSMediaPlaylist.m3u8")
    else:
        call, sel_key, max_key = (am.get_dash_streaming_session_url, "DASHFragmentSelector",
                                  "MaxManifestFragmentResults")
        url_key, list_path = "DASHStreamingSessionURL", None

    def session(start=CAP_FIRST_MS / 1000 - 1, end=CAP_LAST_MS / 1000 + 1, mode="ON_DEMAND",
                kind="PRODUCER_TIMESTAMP", **kw):
        sel = {"FragmentSelectorType": kind, "TimestampRange": {"StartTimestamp": start}}
        if end is not None:
            sel["TimestampRange"]["EndTimestamp"] = end
        return call(StreamName="cam", PlaybackMode=mode, **{sel_key: sel}, **kw)

    def refused(**kw):
        return error_code(session, **kw)[0]

    # Expires 300..43200 s
    assert refused(Expires=299) == "ValidationException"
    assert refused(Expires=43201) == "ValidationException"
    for e in (300, 43200):
        assert url_key in session(Expires=e)
    # Max...FragmentResults 1..5000; 1 lists one fragment
    assert refused(**{max_key: 0}) == "ValidationException"
    assert refused(**{max_key: 5001}) == "ValidationException"
    assert url_key in session(**{max_key: 5000})
    url = session(**{max_key: 1})[url_key]
    if list_path:
        url = url.replace(*list_path) + "&TrackNumber=1"
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    n = (sum(1 for ln in text.splitlines() if ln.startswith("#EXTINF")) if proto == "HLS"
         else text.count("<S "))
    assert n == 1, text
    # ON_DEMAND: End required, later than Start, at most 24 h after it
    assert refused(end=None) == "InvalidArgumentException"
    s = CAP_LAST_MS / 1000 - 24 * 3600 + 1
    assert url_key in session(start=s, end=s + 24 * 3600)  # exactly 24 h, holds the capture
    assert refused(start=s, end=s + 24 * 3600 + 1) == "InvalidArgumentException"
    assert refused(start=CAP_LAST_MS / 1000, end=CAP_FIRST_MS / 1000) == \
        "InvalidArgumentException"
    # SERVER_TIMESTAMP: End in the past (botocore sends whole seconds: wait until the
    # second before now is past the upload)
    time.sleep(max(0.0, t_up + 2.5 - time.time()))
    now = time.time()
    assert refused(start=now - 60, end=now + 3600, kind="SERVER_TIMESTAMP") == \
        "InvalidArgumentException"
    assert url_key in session(start=now - 600, end=now - 0.5, kind="SERVER_TIMESTAMP")
    # LIVE takes no range; LIVE_REPLAY needs a Start
    assert refused(mode="LIVE") == "InvalidArgumentException"
    code = error_code(call, StreamName="cam", PlaybackMode="LIVE_REPLAY",
                      **{sel_key: {"FragmentSelectorType": "PRODUCER_TIMESTAMP"}})[0]
    assert code == "InvalidArgumentException"
    # nothing in range
    code, msg = error_code(session, start=1000, end=2000)
    assert code == "ResourceNotFoundException" and "No fragments found" in msg
