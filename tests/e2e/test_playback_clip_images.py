"""GetClip and GetImages end to end, through the AWS CLI and boto3 against fragments uploaded with
PutMedia (the AWS producer's capture: 20 fragments, 125 frames of 640x480 H.264; and an H.265
file).

GetClip: ffprobe reads the MP4 (frame count, duration, codec, not fragmented), a sub-range gives
only its fragments, H.265 clips carry hvc1, an empty range is ResourceNotFoundException.
GetImages: JPEG and PNG decoded by ffprobe at the size asked, pixels vary, NO_MEDIA for sample
times without media, pagination with NextToken, the 300 s span limit; images/s printed.
"""
import base64
import json
import os
import subprocess
import time

import pytest

from video_client import put_file

SHARED = os.environ.get("SL_SHARED_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "..", "shared"))
CAPTURE = os.path.join(SHARED, "captures", "kvssink-putmedia.mkv")
MEDIA = os.path.join(os.environ.get("SL_SOURCE_DIR", os.path.join(os.path.dirname(__file__),
                                                                  "..", "..")),
                     "tests", "data", "media")
CAP_FIRST_MS = 1795704260904
CAP_LAST_MS = 1795704265664


@pytest.fixture
def cam(gateway):
    kv = gateway.client("kinesisvideo")
    kv.create_stream(StreamName="cam", DataRetentionInHours=24)
    with open(CAPTURE, "rb") as f:
        c = put_file(gateway.url, "cam", f.read(), gateway.access_key, gateway.secret_key,
                     gateway.region)
    assert sum(e["EventType"] == "PERSISTED" for e in c.events()) == 20
    return gateway


def probe(path, *entries):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                        ":".join(entries), "-of", "json", path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_get_clip_cli(cam, tmp_path):
    gw = cam
    out = str(tmp_path / "clip.mp4")
    sel = ("FragmentSelectorType=PRODUCER_TIMESTAMP,TimestampRange={StartTimestamp=%d,"
           "EndTimestamp=%d}" % (CAP_FIRST_MS // 1000, CAP_LAST_MS // 1000 + 1))
    p = gw.aws("kinesis-video-archived-media", "get-clip", "--stream-name", "cam",
               "--clip-fragment-selector", sel, out)
    assert json.loads(p.stdout)["ContentType"] == "video/mp4"
    with open(out, "rb") as f:
        data = f.read()
    assert data[4:8] == b"ftyp" and b"moof" not in data
    info = probe(out, "stream=codec_name,width,height,nb_read_packets", "format=duration")
    s = info["streams"][0]
    assert (s["codec_name"], s["width"], s["height"]) == ("h264", 640, 480)
    assert int(s["nb_read_packets"]) == 125
    assert 4.8 < float(info["format"]["duration"]) < 5.2


def test_get_clip_boto3_ranges(cam, tmp_path):
    gw = cam
    am = gw.client("kinesis-video-archived-media")
    # fragments starting in the first second (botocore sends whole seconds: 260.904 -> 260)
    r = am.get_clip(StreamName="cam", ClipFragmentSelector={
        "FragmentSelectorType": "PRODUCER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": CAP_FIRST_MS / 1000,
                           "EndTimestamp": CAP_FIRST_MS // 1000 + 1}})
    path = str(tmp_path / "part.mp4")
    with open(path, "wb") as f:
        f.write(r["Payload"].read())
    n = int(probe(path, "stream=nb_read_packets")["streams"][0]["nb_read_packets"])
    assert n == 6  # the first fragment only: 261.144 is past the end
    with pytest.raises(am.exceptions.ResourceNotFoundException):
        am.get_clip(StreamName="cam", ClipFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": 1000, "EndTimestamp": 2000}})
    with pytest.raises(am.exceptions.InvalidArgumentException):
        am.get_clip(StreamName="cam", ClipFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": 1000, "EndTimestamp": 1000 + 25 * 3600}})


def test_get_clip_hevc(gateway, tmp_path):
    gw = gateway
    gw.client("kinesisvideo").create_stream(StreamName="hevc", DataRetentionInHours=1)
    with open(os.path.join(MEDIA, "hevc.mkv"), "rb") as f:
        start = time.time() - 5
        put_file(gw.url, "hevc", f.read(), gw.access_key, gw.secret_key, gw.region,
                 tc_type="RELATIVE", start_ts=start)
    am = gw.client("kinesis-video-archived-media")
    r = am.get_clip(StreamName="hevc", ClipFragmentSelector={
        "FragmentSelectorType": "PRODUCER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": start - 1, "EndTimestamp": start + 5}})
    path = str(tmp_path / "hevc.mp4")
    data = r["Payload"].read()
    assert b"hvc1" in data
    with open(path, "wb") as f:
        f.write(data)
    s = probe(path, "stream=codec_name,nb_read_packets")["streams"][0]
    assert s["codec_name"] == "hevc" and int(s["nb_read_packets"]) == 50
    # ffmpeg decodes every frame of it
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr


def decode_image(tmp_path, b64, name):
    path = str(tmp_path / name)
    with open(path, "wb") as f:
        f.write(base64.b64decode(b64))
    s = probe(path, "stream=codec_name,width,height")["streams"][0]
    # pixel spread of the decoded image (a blank frame would be one value)
    p = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray",
                        "-"], capture_output=True, timeout=60)
    assert p.returncode == 0
    return s, max(p.stdout) - min(p.stdout)


def test_get_images(cam, tmp_path):
    gw = cam
    # JPEG through the CLI: samples at 0 and 3 s (Debian's CLI enforces the older 3000 ms
    # minimum interval client-side), 320x240
    p = gw.aws("kinesis-video-archived-media", "get-images", "--stream-name", "cam",
               "--image-selector-type", "PRODUCER_TIMESTAMP",
               "--start-timestamp", "%d" % (CAP_FIRST_MS // 1000 + 1),
               "--end-timestamp", "%d" % (CAP_FIRST_MS // 1000 + 5),
               "--sampling-interval", "3000", "--format", "JPEG",
               "--format-config", "JPEGQuality=60", "--width-pixels", "320",
               "--height-pixels", "240")
    imgs = json.loads(p.stdout)["Images"]
    assert len(imgs) == 2
    for i, im in enumerate(imgs):
        assert "Error" not in im, im
        s, spread = decode_image(tmp_path, im["ImageContent"], "i%d.jpg" % i)
        assert (s["codec_name"], s["width"], s["height"]) == ("mjpeg", 320, 240)
        assert spread > 50

    # the service's minimum interval is 200 ms; this botocore still checks 3000 client-side
    am = gw.client("kinesis-video-archived-media", parameter_validation=False)
    # PNG at source size, one image when the range is shorter than the interval
    r = am.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                      StartTimestamp=CAP_FIRST_MS / 1000 + 1,
                      EndTimestamp=CAP_FIRST_MS / 1000 + 1.1, SamplingInterval=3000,
                      Format="PNG")
    assert len(r["Images"]) == 1
    s, spread = decode_image(tmp_path, r["Images"][0]["ImageContent"], "p.png")
    assert (s["codec_name"], s["width"], s["height"]) == ("png", 640, 480)

    # samples before and after the media: NO_MEDIA; 31 samples paged as 25 + 6 (whole seconds:
    # botocore drops the milliseconds of timestamps)
    t0 = time.monotonic()
    r = am.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                      StartTimestamp=CAP_FIRST_MS // 1000,
                      EndTimestamp=CAP_FIRST_MS // 1000 + 6, SamplingInterval=200,
                      Format="JPEG", WidthPixels=160, HeightPixels=120, MaxResults=100)
    first = r["Images"]
    assert len(first) == 25 and "NextToken" in r
    assert [im.get("Error") for im in first[:5]] == ["NO_MEDIA"] * 5
    assert all("ImageContent" in im for im in first[5:])
    r2 = am.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                       StartTimestamp=CAP_FIRST_MS // 1000,
                       EndTimestamp=CAP_FIRST_MS // 1000 + 6, SamplingInterval=200,
                       Format="JPEG", WidthPixels=160, HeightPixels=120, MaxResults=100,
                       NextToken=r["NextToken"])
    dt = time.monotonic() - t0
    rest = r2["Images"]
    assert len(rest) == 6 and "NextToken" not in r2
    assert all("ImageContent" in im for im in rest[:5]) and rest[5]["Error"] == "NO_MEDIA"
    ts = [im["TimeStamp"].timestamp() for im in first + rest]
    assert all(abs((b - a) - 0.2) < 0.002 for a, b in zip(ts, ts[1:])), ts
    n_img = sum("ImageContent" in im for im in first + rest)
    print("\nGetImages: %d images (160x120 JPEG from 640x480 H.264) in %.2f s = %.0f images/s"
          % (n_img, dt, n_img / dt))

    with pytest.raises(am.exceptions.InvalidArgumentException):
        am.get_images(StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP",
                      StartTimestamp=1000, EndTimestamp=1400, SamplingInterval=1000,
                      Format="JPEG")
