"""Kinesis Video durability: the fragment log is the source of truth, the SQLite index is derived.

A PERSISTED ack waits only for the log's fsync; index rows follow in periodic flushes. These
tests take the index away in the ways a crash or a power loss can, restart sluiced, and check
that every fragment acknowledged PERSISTED is listed by ListFragments and plays back (ffprobe
counts exactly its frames) through GetMediaForFragmentList:
  - kill -9 right after the acks, with index flushes pushed out of reach (test-only env
    SLUICE_VIDEO_INDEX_FLUSH_MS), so every row has to come back from the log;
  - the catalog rolled back to an older copy (its WAL and shared-memory files removed) after a
    second session with a different stream header, which then comes back from the log too;
  - the catalog's WAL truncated after kill -9."""
import json
import os
import shutil
import subprocess
import time

from video_client import PutMedia, clusters, media_request

CAPTURE = os.path.join(os.environ.get("SL_SHARED_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")), "captures", "kvssink-putmedia.mkv")
NO_FLUSH = {"SLUICE_VIDEO_INDEX_FLUSH_MS": "3600000"}


def capture():
    with open(CAPTURE, "rb") as f:
        return f.read()


def shifted(data, delta_ms, new_app=None):
    """The capture with every producer-style cluster Timecode (E7 88 + 8 bytes) moved by
    delta_ms, and optionally its WritingApp string changed (a different stream header)."""
    b = bytearray(data)
    for off in clusters(data):
        p = off + 5
        if b[p] == 0xE7 and b[p + 1] == 0x88:
            tc = int.from_bytes(b[p + 2:p + 10], "big") + delta_ms
            b[p + 2:p + 10] = tc.to_bytes(8, "big")
    if new_app:
        old = b"Kinesis Video SDK 1.1.0"
        assert len(new_app) == len(old)
        i = bytes(b).find(old, 0, clusters(data)[0])
        assert i > 0
        b[i:i + len(old)] = new_app
    return bytes(b)


def frames(path):
    assert shutil.which("ffprobe"), "ffprobe not installed (scripts/deps.sh installs ffmpeg)"
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_frames", "-of", "json", path],
                       capture_output=True, text=True, check=True)
    return int(json.loads(p.stdout)["streams"][0]["nb_read_frames"])


def upload_all(gw, stream, data):
    """One session with the whole file; returns the PERSISTED fragment numbers once every
    fragment was acknowledged (the response may still be open)."""
    want = len(clusters(data))
    c = PutMedia(gw.url, stream, gw.access_key, gw.secret_key, gw.region)
    try:
        for off in range(0, len(data), 65536):
            c.send(data[off:off + 65536])
        c.finish()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            nums = [json.loads(ch)["FragmentNumber"] for _, ch in c.chunks
                    if b"PERSISTED" in ch]
            if len(nums) == want or c.done.is_set():
                break
            time.sleep(0.01)
    finally:
        c.close()
    assert len(nums) == want, c.chunks
    return nums


def listed(gw, stream):
    am = gw.client("kinesis-video-archived-media")
    out = am.list_fragments(StreamName=stream, FragmentSelector={
        "FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": time.time() + 60}})
    return sorted(f["FragmentNumber"] for f in out["Fragments"])


def play(gw, stream, nums, tmp_path, name):
    conn, r = media_request(gw.url, "/getMediaForFragmentList",
                            {"StreamName": stream, "Fragments": nums},
                            gw.access_key, gw.secret_key, gw.region)
    body = r.read()
    conn.close()
    assert r.status == 200, body[:300]
    assert body.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == len(nums)
    out = tmp_path / name
    out.write_bytes(body)
    return frames(str(out))


def catalog_files(gw):
    base = os.path.join(gw.data_dir, "catalog.db")
    return base, base + "-wal", base + "-shm"


def test_kill9_right_after_acks_rows_come_from_the_log(make_gateway, tmp_path):
    data = capture()
    gw = make_gateway(env=NO_FLUSH)
    gw.client("kinesisvideo").create_stream(StreamName="d1", DataRetentionInHours=1)
    nums = upload_all(gw, "d1", data)
    gw.kill9()

    gw.start()
    assert listed(gw, "d1") == sorted(nums), gw.stderr
    assert "index recovery: %d fragment(s)" % len(nums) in gw.stderr, gw.stderr
    assert listed(gw, "d1") == sorted(nums)
    ref = tmp_path / "ref.mkv"
    ref.write_bytes(data)
    assert play(gw, "d1", sorted(nums), tmp_path, "after.mkv") == frames(str(ref))
    # the recovered rows are in the index now: a second restart needs no recovery
    gw.kill9()
    gw.start()
    assert listed(gw, "d1") == sorted(nums)
    assert "index recovery" not in gw.stderr, gw.stderr
    assert gw.stop() == 0


def test_catalog_rolled_back_to_an_old_copy(make_gateway, tmp_path):
    data = capture()
    offs = clusters(data)
    gw = make_gateway()
    gw.client("kinesisvideo").create_stream(StreamName="d2", DataRetentionInHours=1)
    first = upload_all(gw, "d2", data[:offs[10]])
    assert gw.stop() == 0
    db, wal, shm = catalog_files(gw)
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
    old = tmp_path / "catalog.old"
    shutil.copyfile(db, old)

    gw.start()
    # a second session with another header and later timecodes
    second_data = shifted(data[:offs[0]] + data[offs[10]:], 60_000, b"Kinesis Video SDK 9.9.9")
    second = upload_all(gw, "d2", second_data)
    assert gw.stop() == 0
    shutil.copyfile(old, db)
    for f in (wal, shm):
        if os.path.exists(f):
            os.unlink(f)

    gw.start()
    allnums = sorted(first + second)
    assert listed(gw, "d2") == allnums, gw.stderr
    ref1, ref2 = tmp_path / "ref1.mkv", tmp_path / "ref2.mkv"
    ref1.write_bytes(data[:offs[10]])
    ref2.write_bytes(second_data)
    assert play(gw, "d2", sorted(first), tmp_path, "a.mkv") == frames(str(ref1))
    got = play(gw, "d2", sorted(second), tmp_path, "b.mkv")
    assert got == frames(str(ref2))
    body = (tmp_path / "b.mkv").read_bytes()
    assert b"Kinesis Video SDK 9.9.9" in body  # the second session's header, from the log
    assert gw.stop() == 0


def test_wal_truncated_after_kill9(make_gateway, tmp_path):
    data = capture()
    gw = make_gateway()
    gw.client("kinesisvideo").create_stream(StreamName="d3", DataRetentionInHours=1)
    assert gw.stop() == 0  # the stream itself is checkpointed into catalog.db
    gw.start()
    nums = upload_all(gw, "d3", data)
    time.sleep(1.5)  # let an index flush happen, so the WAL has rows to lose
    gw.kill9()
    db, wal, shm = catalog_files(gw)
    assert os.path.exists(wal) and os.path.getsize(wal) > 0
    with open(wal, "r+b") as f:
        f.truncate(os.path.getsize(wal) // 3)
    if os.path.exists(shm):
        os.unlink(shm)

    gw.start()
    assert listed(gw, "d3") == sorted(nums), gw.stderr
    ref = tmp_path / "ref.mkv"
    ref.write_bytes(data)
    assert play(gw, "d3", sorted(nums), tmp_path, "after.mkv") == frames(str(ref))
    assert gw.stop() == 0
