"""Kinesis Video limits and stream status, end to end against a real sluiced:
  - CREATING -> ACTIVE and UPDATING -> ACTIVE after SLUICE_VIDEO_STATUS_DELAY_MS; PutMedia to a
    stream that is not ACTIVE is 404 ResourceNotFoundException, updates are
    ResourceInUseException;
  - a PutMedia connection older than the maximum duration (SLUICE_VIDEO_MAX_CONNECTION_MS, a
    test-only stand-in for 45 minutes) ends with ERROR 4003 MAX_CONNECTION_DURATION_REACHED;
  - with the throughput-limit switch on (SLUICE_KINESIS_SHARD_LIMITS=aws): more than 5 PutMedia
    calls per second on a stream -> 400 ConnectionLimitExceededException; more than 5 fragments/s
    or 12.5 MB/s in one session -> ERROR ack 4000 for the fragment that went over; and with the
    switch off the same loads pass."""
import json
import os
import time

from video_client import PutMedia, clusters

CAPTURE = os.path.join(os.environ.get("SL_SHARED_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")), "captures", "kvssink-putmedia.mkv")


def capture():
    with open(CAPTURE, "rb") as f:
        return f.read()


def wait_status(kv, name, want, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = kv.describe_stream(StreamName=name)["StreamInfo"]["Status"]
        if st == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {want} (last {st})")


def put_status(gw, name):
    """Status line of a PutMedia whose body is never sent (the answer comes before any body for
    refusals; a 200 comes at once too)."""
    c = PutMedia(gw.url, name, gw.access_key, gw.secret_key, gw.region)
    deadline = time.monotonic() + 30
    while c.status is None and time.monotonic() < deadline and not c.done.is_set():
        time.sleep(0.01)
    return c


def errors(c):
    return [json.loads(ch) for _, ch in c.chunks if b'"ERROR"' in ch]


def test_status_creating_updating_active(make_gateway):
    data = capture()
    gw = make_gateway(env={"SLUICE_VIDEO_STATUS_DELAY_MS": "1500"})
    kv = gw.client("kinesisvideo")
    kv.create_stream(StreamName="st", DataRetentionInHours=1)
    info = kv.describe_stream(StreamName="st")["StreamInfo"]
    assert info["Status"] == "CREATING"
    listed = {s["StreamName"]: s["Status"] for s in kv.list_streams()["StreamInfoList"]}
    assert listed["st"] == "CREATING"

    c = put_status(gw, "st")
    c.wait()
    c.close()
    assert c.status == 404 and c.headers.get("x-amzn-errortype", "").startswith(
        "ResourceNotFoundException"), (c.status, c.headers)
    try:
        kv.update_stream(StreamName="st", CurrentVersion=info["Version"], MediaType="video/h264")
        raise AssertionError("update of a CREATING stream was accepted")
    except kv.exceptions.ResourceInUseException:
        pass

    wait_status(kv, "st", "ACTIVE")
    v = kv.describe_stream(StreamName="st")["StreamInfo"]["Version"]
    kv.update_data_retention(StreamName="st", CurrentVersion=v,
                             Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=1)
    assert kv.describe_stream(StreamName="st")["StreamInfo"]["Status"] == "UPDATING"
    c = put_status(gw, "st")
    c.wait()
    c.close()
    assert c.status == 404
    wait_status(kv, "st", "ACTIVE")
    assert kv.describe_stream(StreamName="st")["StreamInfo"]["DataRetentionInHours"] == 2

    # ACTIVE again: ingest works
    c = PutMedia(gw.url, "st", gw.access_key, gw.secret_key, gw.region)
    c.send(data)
    c.finish()
    c.wait()
    c.close()
    assert c.status == 200
    assert sum(1 for e in c.events() if e["EventType"] == "PERSISTED") == len(clusters(data))
    assert gw.stop() == 0


def test_max_connection_duration_4003(make_gateway):
    data = capture()
    gw = make_gateway(env={"SLUICE_VIDEO_MAX_CONNECTION_MS": "2500"})
    gw.client("kinesisvideo").create_stream(StreamName="long", DataRetentionInHours=1)
    c = PutMedia(gw.url, "long", gw.access_key, gw.secret_key, gw.region)
    try:
        # 5 s of video over 8 s: the connection outlives its 2.5 s
        t0, n = time.monotonic(), len(data)
        for off in range(0, n, 4096):
            if c.done.is_set():
                break
            due = t0 + 8.0 * off / n
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            try:
                c.send(data[off:off + 4096])
            except OSError:
                break
        c.wait(30)
    finally:
        c.close()
    assert c.status == 200
    errs = errors(c)
    assert len(errs) == 1, c.chunks
    assert errs[0]["ErrorId"] == 4003 and errs[0]["ErrorCode"] == "MAX_CONNECTION_DURATION_REACHED"
    persisted = [e for e in c.events() if e["EventType"] == "PERSISTED"]
    assert 0 < len(persisted) < len(clusters(data))
    # the ERROR is the last event
    assert c.events()[-1]["EventType"] == "ERROR"
    assert gw.stop() == 0


def open_many(gw, name, n):
    """n PutMedia requests sent back to back, then their statuses."""
    out = [PutMedia(gw.url, name, gw.access_key, gw.secret_key, gw.region) for _ in range(n)]
    deadline = time.monotonic() + 30
    for c in out:
        while c.status is None and time.monotonic() < deadline and not c.done.is_set():
            time.sleep(0.01)
    for c in out:
        c.close()
    return [c.status for c in out], out


def test_putmedia_calls_per_second_limit(make_gateway):
    gw = make_gateway(env={"SLUICE_KINESIS_SHARD_LIMITS": "aws"})
    gw.client("kinesisvideo").create_stream(StreamName="tps", DataRetentionInHours=1)
    statuses, conns = open_many(gw, "tps", 12)
    assert statuses.count(200) >= 5, statuses
    refused = [c for c in conns if c.status == 400]
    assert refused, statuses
    assert refused[0].headers.get("x-amzn-errortype", "").startswith(
        "ConnectionLimitExceededException"), refused[0].headers
    assert gw.stop() == 0


def test_no_call_limit_when_switch_off(make_gateway):
    gw = make_gateway()
    gw.client("kinesisvideo").create_stream(StreamName="tps", DataRetentionInHours=1)
    statuses, _ = open_many(gw, "tps", 12)
    assert statuses == [200] * 12, statuses
    assert gw.stop() == 0


def send_all(gw, name, data):
    c = PutMedia(gw.url, name, gw.access_key, gw.secret_key, gw.region)
    try:
        try:
            for off in range(0, len(data), 65536):
                c.send(data[off:off + 65536])
            c.finish()
        except OSError:
            pass  # the server may stop reading after an ERROR
        c.wait(60)
    finally:
        c.close()
    assert c.status == 200
    return c


def test_fragments_per_second_limit(make_gateway):
    data = capture()  # 20 fragments, sent in well under a second
    gw = make_gateway(env={"SLUICE_KINESIS_SHARD_LIMITS": "aws"})
    gw.client("kinesisvideo").create_stream(StreamName="fps", DataRetentionInHours=1)
    c = send_all(gw, "fps", data)
    errs = errors(c)
    assert len(errs) == 1 and errs[0]["ErrorId"] == 4000, c.chunks
    persisted = [e for e in c.events() if e["EventType"] == "PERSISTED"]
    assert 5 <= len(persisted) < len(clusters(data)), len(persisted)
    assert "fragments/s" in gw.stderr
    assert gw.stop() == 0


def padded(data, pad_bytes):
    """The capture with a Void element of pad_bytes inside every cluster (after its Timecode):
    big fragments at a low fragment rate."""
    out, offs = bytearray(), clusters(data)
    out += data[:offs[0]]
    void = b"\xec\x01" + pad_bytes.to_bytes(7, "big") + bytes(pad_bytes)
    for i, off in enumerate(offs):
        end = offs[i + 1] if i + 1 < len(offs) else len(data)
        cut = off + 15  # ID (4) + unknown size (1) + Timecode E7 88 + 8 bytes
        assert data[off + 5] == 0xE7
        out += data[off:cut] + void + data[cut:end]
    return bytes(out)


def test_bytes_per_second_limit(make_gateway):
    data = padded(capture()[:clusters(capture())[4]], 3_000_000)  # 4 fragments, ~12.3 MB
    # 10 fragments of 6 MB at once: 60 MB, far more than 12.5 MB in the first second
    more = padded(capture()[:clusters(capture())[10]], 6_000_000)
    gw = make_gateway(env={"SLUICE_KINESIS_SHARD_LIMITS": "aws"})
    gw.client("kinesisvideo").create_stream(StreamName="bps", DataRetentionInHours=1)
    c = send_all(gw, "bps", more)
    errs = errors(c)
    assert len(errs) == 1 and errs[0]["ErrorId"] == 4000, c.chunks
    assert "MB/s" in gw.stderr and "fragments/s" not in gw.stderr, gw.stderr
    assert gw.stop() == 0

    # the same bytes are fine without the switch
    gw2 = make_gateway()
    gw2.client("kinesisvideo").create_stream(StreamName="bps", DataRetentionInHours=1)
    c = send_all(gw2, "bps", data)
    assert not errors(c), c.chunks
    assert sum(1 for e in c.events() if e["EventType"] == "PERSISTED") == 4
    assert gw2.stop() == 0
