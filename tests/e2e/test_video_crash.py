"""Kinesis Video crash test: sluiced is killed with SIGKILL while a producer is uploading at
real-time pace; after a restart every fragment that was acknowledged PERSISTED is listed by
ListFragments and plays back (ffprobe counts exactly its frames) through
GetMediaForFragmentList and GetMedia."""
import json
import os
import subprocess
import time

from video_client import PutMedia, clusters, media_request, read_fragments

CAPTURE = os.path.join(os.environ.get("SL_SHARED_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")), "captures", "kvssink-putmedia.mkv")


def frames(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_frames", "-of", "json", path],
                       capture_output=True, text=True, check=True)
    return int(json.loads(p.stdout)["streams"][0]["nb_read_frames"])


def test_kill9_during_ingest(make_gateway, tmp_path):
    with open(CAPTURE, "rb") as f:
        capture = f.read()
    gw = make_gateway()
    gw.client("kinesisvideo").create_stream(StreamName="crash", DataRetentionInHours=1)
    c = PutMedia(gw.url, "crash", gw.access_key, gw.secret_key, gw.region)
    offs = clusters(capture)
    try:
        # real-time pace: the capture's 20 fragments over 5 s; kill once 8 are PERSISTED
        t0, n = time.monotonic(), len(capture)
        for off in range(0, n, 4096):
            due = t0 + 5.0 * off / n
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            if sum(1 for _, ch in c.chunks if b"PERSISTED" in ch) >= 8:
                break
            c.send(capture[off:off + 4096])
        gw.kill9()
        c.done.wait(10)
    finally:
        c.close()
    persisted = [json.loads(ch) for _, ch in c.chunks if b"PERSISTED" in ch]
    assert len(persisted) >= 8
    nums = [e["FragmentNumber"] for e in persisted]

    gw.start()
    am = gw.client("kinesis-video-archived-media")
    listed = am.list_fragments(StreamName="crash", FragmentSelector={
        "FragmentSelectorType": "SERVER_TIMESTAMP",
        "TimestampRange": {"StartTimestamp": 0, "EndTimestamp": time.time() + 60}})["Fragments"]
    listed_nums = sorted(f["FragmentNumber"] for f in listed)
    assert set(nums) <= set(listed_nums), (nums, listed_nums)
    k = len(listed_nums)
    # what those fragments hold: the capture's first k clusters
    ref = tmp_path / "ref.mkv"
    ref.write_bytes(capture[:offs[k]])
    want = frames(str(ref))

    conn, r = media_request(gw.url, "/getMediaForFragmentList",
                            {"StreamName": "crash", "Fragments": listed_nums},
                            gw.access_key, gw.secret_key, gw.region)
    body = r.read()
    conn.close()
    assert r.status == 200
    out = tmp_path / "after.mkv"
    out.write_bytes(body)
    assert body.count(b"AWS_KINESISVIDEO_FRAGMENT_NUMBER") == k
    assert frames(str(out)) == want

    conn, r = media_request(gw.url, "/getMedia", {"StreamName": "crash", "StartSelector": {
        "StartSelectorType": "EARLIEST"}}, gw.access_key, gw.secret_key, gw.region)
    got, _ = read_fragments(r, k, timeout=20)
    conn.close()
    out2 = tmp_path / "after2.mkv"
    out2.write_bytes(got)
    assert frames(str(out2)) == want

    # the stream keeps taking new fragments after the restart, numbered after the old ones
    c2 = PutMedia(gw.url, "crash", gw.access_key, gw.secret_key, gw.region)
    c2.send(capture[:offs[0]] + capture[offs[15]:])
    c2.finish()
    c2.wait()
    c2.close()
    new = [json.loads(ch)["FragmentNumber"] for _, ch in c2.chunks if b"PERSISTED" in ch]
    assert len(new) == 5 and min(new) > max(listed_nums)
    assert gw.stop() == 0
