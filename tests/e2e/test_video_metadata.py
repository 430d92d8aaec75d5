"""Kinesis Video fragment metadata end to end: MKV Tags that a producer puts before a Cluster
(what kvssink's putFragmentMetadata writes, persistent or not) are stored with that fragment and
served back by GetMedia and GetMediaForFragmentList as a Tags element between the service's
fragment tags and the Cluster; AWS_KINESISVIDEO_* names are not metadata; more than 10 tags
before one fragment is ERROR 4009 FRAGMENT_METADATA_LIMIT_REACHED; the metadata survives a
kill -9 that happens before the index was written (it is rebuilt from the log).

The MKV is built by hand here: the captured producer stream with Tags elements spliced in."""
import json
import os

from video_client import PutMedia, clusters, media_request, read_fragments

CAPTURE = os.path.join(os.environ.get("SL_SHARED_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared")), "captures", "kvssink-putmedia.mkv")
NO_FLUSH = {"SLUICE_VIDEO_INDEX_FLUSH_MS": "3600000"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def vint8(n):
    return b"\x01" + n.to_bytes(7, "big")


def element(eid, payload):
    return eid + vint8(len(payload)) + payload


def tags(pairs):
    simple = b"".join(element(b"\x67\xc8", element(b"\x45\xa3", k.encode()) +
                              element(b"\x44\x87", v.encode())) for k, v in pairs)
    return element(b"\x12\x54\xc3\x67", element(b"\x73\x73", simple))


def with_metadata(data, per_fragment):
    """data with tags(per_fragment(k)) before cluster k (nothing when it returns [])."""
    offs = clusters(data)
    out = bytearray(data[:offs[0]])
    for k, off in enumerate(offs):
        end = offs[k + 1] if k + 1 < len(offs) else len(data)
        pairs = per_fragment(k)
        if pairs:
            out += tags(pairs)
        out += data[off:end]
    return bytes(out)


def meta_for(k):
    pairs = [("camera", "front door")]  # persistent: before every fragment
    if k % 3 == 0:
        pairs.append(("event", "motion-%d" % k))
    pairs.append(("AWS_KINESISVIDEO_FRAGMENT_NUMBER", "forged"))  # a service name: not metadata
    return pairs


def upload(gw, name, data):
    c = PutMedia(gw.url, name, gw.access_key, gw.secret_key, gw.region)
    try:
        for off in range(0, len(data), 65536):
            c.send(data[off:off + 65536])
        c.finish()
        c.wait(60)
    finally:
        c.close()
    assert c.status == 200
    return c


def check_fragments(body, n):
    parts = body.split(EBML_MAGIC)[1:]
    assert len(parts) == n, len(parts)
    for k, part in enumerate(parts):
        cl = part.find(b"\x1f\x43\xb6\x75")
        assert cl > 0
        head = part[:cl]
        assert head.count(b"front door") == 1, k
        assert (b"motion-%d" % k in head) == (k % 3 == 0), k
        assert b"forged" not in part, k
        assert b"motion-" not in part[cl:], k


def test_metadata_stored_and_served(make_gateway):
    with open(CAPTURE, "rb") as f:
        raw = f.read()
    n = len(clusters(raw))
    data = with_metadata(raw, meta_for)
    gw = make_gateway(env=NO_FLUSH)
    gw.client("kinesisvideo").create_stream(StreamName="meta", DataRetentionInHours=1)
    c = upload(gw, "meta", data)
    persisted = [e["FragmentNumber"] for e in c.events() if e["EventType"] == "PERSISTED"]
    assert len(persisted) == n, c.chunks

    def both():
        conn, r = media_request(gw.url, "/getMediaForFragmentList",
                                {"StreamName": "meta", "Fragments": persisted},
                                gw.access_key, gw.secret_key, gw.region)
        body = r.read()
        conn.close()
        assert r.status == 200
        check_fragments(body, n)
        conn, r = media_request(gw.url, "/getMedia", {"StreamName": "meta", "StartSelector": {
            "StartSelectorType": "EARLIEST"}}, gw.access_key, gw.secret_key, gw.region)
        got, _ = read_fragments(r, n, timeout=30)
        conn.close()
        # GetMedia appends each fragment's trailing service tags after its Cluster
        check_fragments(got, n)

    both()
    # kill -9 before any index flush: fragments and their metadata come back from the log
    gw.kill9()
    gw.start()
    assert "index recovery: %d fragment(s)" % n in gw.stderr, gw.stderr
    both()
    assert gw.stop() == 0


def test_more_than_ten_tags_is_4009(make_gateway):
    with open(CAPTURE, "rb") as f:
        raw = f.read()
    data = with_metadata(raw, lambda k: [("t%d" % i, "v") for i in range(11)] if k == 3 else [])
    gw = make_gateway()
    gw.client("kinesisvideo").create_stream(StreamName="meta", DataRetentionInHours=1)
    c = upload(gw, "meta", data)
    ev = c.events()
    errs = [e for e in ev if e["EventType"] == "ERROR"]
    assert len(errs) == 1, ev
    assert errs[0]["ErrorId"] == 4009 and errs[0]["ErrorCode"] == "FRAGMENT_METADATA_LIMIT_REACHED"
    assert sum(1 for e in ev if e["EventType"] == "PERSISTED") == 3
    # ten are fine
    data = with_metadata(raw, lambda k: [("t%d" % i, "v%d" % k) for i in range(10)])
    c = upload(gw, "meta", data)
    assert not [e for e in c.events() if e["EventType"] == "ERROR"], c.chunks
    assert gw.stop() == 0
