"""Kinesis over AWS CBOR 1.1 (Content-Type application/x-amz-cbor-1.1, what the AWS SDKs for Java
send by default), end to end against a real sluiced. Requests are built by hand with Debian's
python3-cbor2 and signed with the independent test signer (sigv4_client.py), so nothing here
relies on the gateway's own encoder to read its answers:

- stream lifecycle (CreateStream, DescribeStream with its creation time as tag 1 epoch ms that
  matches the JSON answer, ListShards);
- data: PutRecord / PutRecords with payloads holding every byte value as CBOR byte strings,
  GetShardIterator incl. AT_TIMESTAMP given as tag 1 ms, GetRecords answering byte strings equal
  to what was put and ApproximateArrivalTimestamp as tag 1 ms;
- errors as CBOR maps with the JSON path's status: ResourceNotFoundException, a validation
  error, a malformed body (SerializationException), an indefinite-length (Jackson-style) body;
- SubscribeToShard over CBOR: the event-stream frames arrive (their payloads stay JSON with
  :content-type application/json, as for JSON requests).

cbor2 turns tag 1 into a datetime read as SECONDS (RFC 8949); AWS's tag 1 holds milliseconds,
so replies are read with cbor2's pure-Python decoder with tag 1 mapped to an EpochMs int."""
import binascii
import http.client
import io
import json
import struct
import time
import urllib.parse

import cbor2
import cbor2.decoder
import pytest

from sigv4_client import post, sign_headers

CBOR = "application/x-amz-cbor-1.1"
FAST = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}
EVERY_BYTE = bytes(range(256))


class EpochMs(int):
    """The integer inside an AWS tag 1: epoch milliseconds."""


def _epoch_ms(decoder):
    v = decoder.decode()
    assert isinstance(v, int) and not isinstance(v, bool), f"tag 1 around {v!r}: AWS writes ms ints"
    return EpochMs(v)


def loads(data):
    """cbor2's pure-Python decoder with tag 1 read as AWS epoch ms (its C decoder, which
    cbor2.loads uses, is left alone)."""
    table = cbor2.decoder.semantic_decoders
    saved = table[1]
    table[1] = _epoch_ms
    try:
        dec = cbor2.decoder.CBORDecoder(io.BytesIO(data))
        out = dec.decode()
        assert dec.fp.read(1) == b"", "data after the reply's CBOR item"
        return out
    finally:
        table[1] = saved


def raw_call(gw, op, body, ct=CBOR):
    url = gw.url + "/"
    hdrs = {"Content-Type": ct, "X-Amz-Target": "Kinesis_20131202." + op}
    hdrs = sign_headers("POST", url, hdrs, body, gw.access_key, gw.secret_key, gw.region,
                        "kinesis")
    return post(url, hdrs, body, timeout=60)


def call(gw, op, req, want=200):
    status, hdrs, data = raw_call(gw, op, cbor2.dumps(req))
    assert hdrs.get("content-type") == CBOR, (op, status, hdrs, data[:200])
    out = loads(data) if data else None
    assert status == want, (op, status, out)
    return out


def wait_active(gw, name):
    deadline = time.monotonic() + 60
    while True:
        d = call(gw, "DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
        if d["StreamStatus"] == "ACTIVE":
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.05)


@pytest.fixture
def gw(make_gateway):
    return make_gateway(env=FAST)


def test_stream_lifecycle_and_timestamps(gw):
    assert call(gw, "CreateStream", {"StreamName": "cb", "ShardCount": 2}) is None
    summary = wait_active(gw, "cb")
    assert isinstance(summary["StreamCreationTimestamp"], EpochMs)
    d = call(gw, "DescribeStream", {"StreamName": "cb"})["StreamDescription"]
    assert d["StreamName"] == "cb" and d["StreamStatus"] == "ACTIVE"
    assert len(d["Shards"]) == 2 and d["HasMoreShards"] is False
    ts = d["StreamCreationTimestamp"]
    assert isinstance(ts, EpochMs), ts
    # the same stream through boto3 (JSON): the same instant within a second
    j = gw.client("kinesis").describe_stream(StreamName="cb")["StreamDescription"]
    assert abs(j["StreamCreationTimestamp"].timestamp() - ts / 1000.0) < 1.0
    assert abs(ts / 1000.0 - time.time()) < 3600  # ms, not seconds: 2020s, not year 58000
    shards = call(gw, "ListShards", {"StreamName": "cb"})["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]
    assert isinstance(shards[0]["HashKeyRange"]["StartingHashKey"], str)
    streams = call(gw, "ListStreams", {})
    assert streams["StreamNames"] == ["cb"]
    assert isinstance(streams["StreamSummaries"][0]["StreamCreationTimestamp"], EpochMs)


def test_records_round_trip_every_byte(gw):
    call(gw, "CreateStream", {"StreamName": "data", "ShardCount": 1})
    wait_active(gw, "data")
    before_ms = int(time.time() * 1000) - 2000
    r = call(gw, "PutRecord", {"StreamName": "data", "PartitionKey": "k", "Data": EVERY_BYTE})
    assert r["ShardId"] == "shardId-000000000000" and r["SequenceNumber"].isdigit()
    payloads = [EVERY_BYTE[i:] + EVERY_BYTE[:i] for i in range(0, 256, 51)] + [b"", b"\x00"]
    out = call(gw, "PutRecords", {"StreamName": "data", "Records": [
        {"PartitionKey": "p%d" % i, "Data": p} for i, p in enumerate(payloads)]})
    assert out["FailedRecordCount"] == 0 and len(out["Records"]) == len(payloads)

    it = call(gw, "GetShardIterator", {"StreamName": "data", "ShardId": "shardId-000000000000",
                                       "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    got = []
    deadline = time.monotonic() + 60
    while len(got) < 1 + len(payloads):
        res = call(gw, "GetRecords", {"ShardIterator": it, "Limit": 100})
        got += res["Records"]
        it = res["NextShardIterator"]
        assert isinstance(res["MillisBehindLatest"], int)
        assert time.monotonic() < deadline, len(got)
    assert [g["Data"] for g in got] == [EVERY_BYTE] + payloads
    assert all(isinstance(g["Data"], bytes) for g in got)
    for g in got:
        ts = g["ApproximateArrivalTimestamp"]
        assert isinstance(ts, EpochMs), ts
        assert before_ms <= ts <= int(time.time() * 1000) + 2000, ts
    # what boto3 (JSON) reads is the same bytes
    j = gw.client("kinesis")
    jit = j.get_shard_iterator(StreamName="data", ShardId="shardId-000000000000",
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert j.get_records(ShardIterator=jit)["Records"][0]["Data"] == EVERY_BYTE

    # AT_TIMESTAMP as tag 1 ms: just after the last arrival -> nothing; at the first -> all
    last_ms = max(g["ApproximateArrivalTimestamp"] for g in got)
    first_ms = min(g["ApproximateArrivalTimestamp"] for g in got)
    for at, want in ((last_ms + 1, 0), (first_ms, len(got))):
        it = call(gw, "GetShardIterator", {"StreamName": "data", "ShardId": "shardId-000000000000",
                                           "ShardIteratorType": "AT_TIMESTAMP",
                                           "Timestamp": cbor2.CBORTag(1, at)})["ShardIterator"]
        recs = call(gw, "GetRecords", {"ShardIterator": it})["Records"]
        assert len(recs) == want, (at, len(recs))


def test_errors_are_cbor_maps(gw):
    out = call(gw, "DescribeStream", {"StreamName": "missing"}, want=400)
    assert out["__type"] == "ResourceNotFoundException"
    assert "missing" in out["message"]
    # the JSON path answers the same status and type
    st, hdrs, body = raw_call(gw, "DescribeStream", b'{"StreamName":"missing"}',
                              ct="application/x-amz-json-1.1")
    assert st == 400 and b"ResourceNotFoundException" in body

    out = call(gw, "CreateStream", {"StreamName": "bad name!", "ShardCount": 0}, want=400)
    assert out["__type"] == "ValidationException"
    assert "2 validation errors detected" in out["message"]

    # a wrong member type is a SerializationException, as in JSON
    out = call(gw, "CreateStream", {"StreamName": 7, "ShardCount": 1}, want=400)
    assert out["__type"] == "SerializationException"

    for bad in (b"\xa1\x63ab", b"\x80", b"\xa1\x01\x02", b"\xa0\x00", b"\xff"):
        st, hdrs, body = raw_call(gw, "ListStreams", bad)
        assert st == 400 and hdrs["content-type"] == CBOR, (bad, st)
        m = loads(body)
        assert m["__type"] == "SerializationException", (bad, m)
        assert "byte" in m["Message"], m

    st, hdrs, body = raw_call(gw, "NoSuchOperation", cbor2.dumps({}))
    assert st == 400 and loads(body)["__type"] == "UnknownOperationException"


def test_gateway_errors_are_cbor_maps(gw):
    """Errors the gateway makes before the body is decoded (authentication) are CBOR maps too:
    a Java client reads nothing else."""
    url = gw.url + "/"
    body = cbor2.dumps({})
    hdrs = {"Content-Type": CBOR, "X-Amz-Target": "Kinesis_20131202.ListStreams"}
    signed = sign_headers("POST", url, dict(hdrs), body, gw.access_key, gw.secret_key + "x",
                          gw.region, "kinesis")
    st, rh, data = post(url, signed, body, timeout=60)
    assert st == 403 and rh.get("content-type") == CBOR, (st, rh, data[:200])
    assert loads(data)["__type"] == "InvalidSignatureException"
    signed = sign_headers("POST", url, dict(hdrs), body, "AKIDNOTKNOWN", gw.secret_key,
                          gw.region, "kinesis")
    st, rh, data = post(url, signed, body, timeout=60)
    assert st in (400, 403) and rh.get("content-type") == CBOR, (st, rh, data[:200])
    assert loads(data)["__type"] == "UnrecognizedClientException"
    st, rh, data = post(url, hdrs, body, timeout=60)  # not signed at all
    assert st in (400, 403) and rh.get("content-type") == CBOR, (st, rh, data[:200])
    assert loads(data)["__type"] == "MissingAuthenticationTokenException"


def test_indefinite_length_body(gw):
    """Jackson (the Java SDKs' CBOR writer) writes maps as 0xBF ... 0xFF."""
    def text(s):
        return bytes([0x60 + len(s)]) + s.encode()
    body = (b"\xbf" + text("StreamName") + b"\x7f" + text("ind") + text("ef") + b"\xff"
            + text("ShardCount") + b"\x01" + b"\xff")
    st, hdrs, data = raw_call(gw, "CreateStream", body)
    assert st == 200 and hdrs["content-type"] == CBOR, data
    assert wait_active(gw, "indef")["OpenShardCount"] == 1


def read_frame(resp):
    prelude = resp.read(12)
    assert len(prelude) == 12, prelude
    total, hlen, crc = struct.unpack(">III", prelude)
    assert binascii.crc32(prelude[:8]) == crc
    rest = resp.read(total - 12)
    assert len(rest) == total - 12
    assert binascii.crc32(prelude + rest[:-4]) == struct.unpack(">I", rest[-4:])[0]
    headers, pos, hb = {}, 0, rest[:hlen]
    while pos < hlen:
        n = hb[pos]
        name = hb[pos + 1:pos + 1 + n].decode()
        pos += 1 + n
        assert hb[pos] == 7  # string values only here
        vlen = struct.unpack(">H", hb[pos + 1:pos + 3])[0]
        headers[name] = hb[pos + 3:pos + 3 + vlen].decode()
        pos += 3 + vlen
    return headers, rest[hlen:-4]


def test_subscribe_to_shard_over_cbor(gw):
    call(gw, "CreateStream", {"StreamName": "fan", "ShardCount": 1})
    arn = wait_active(gw, "fan")["StreamARN"]
    c = call(gw, "RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "app"})["Consumer"]
    assert isinstance(c["ConsumerCreationTimestamp"], EpochMs)
    deadline = time.monotonic() + 60
    while call(gw, "DescribeStreamConsumer", {"ConsumerARN": c["ConsumerARN"]})[
            "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    call(gw, "PutRecord", {"StreamName": "fan", "PartitionKey": "k", "Data": EVERY_BYTE})

    body = cbor2.dumps({"ConsumerARN": c["ConsumerARN"], "ShardId": "shardId-000000000000",
                        "StartingPosition": {"Type": "TRIM_HORIZON"}})
    url = gw.url + "/"
    hdrs = sign_headers("POST", url, {"Content-Type": CBOR,
                                      "X-Amz-Target": "Kinesis_20131202.SubscribeToShard"},
                        body, gw.access_key, gw.secret_key, gw.region, "kinesis")
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("POST", "/", body=body, headers={k: v for k, v in hdrs.items()
                                                      if k != "Host"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        assert resp.getheader("Content-Type") == "application/vnd.amazon.eventstream"
        h, payload = read_frame(resp)
        assert h[":event-type"] == "initial-response", h
        records = []
        while not records:
            h, payload = read_frame(resp)
            assert h[":message-type"] == "event" and h[":event-type"] == "SubscribeToShardEvent"
            assert h[":content-type"] == "application/json"
            ev = json.loads(payload)
            records += ev["Records"]
        assert binascii.a2b_base64(records[0]["Data"]) == EVERY_BYTE
    finally:
        conn.close()

    # a subscription for a consumer that does not exist fails with a CBOR error map
    other = c["ConsumerARN"].replace("/consumer/app:", "/consumer/nope:")
    out = call(gw, "SubscribeToShard", {"ConsumerARN": other,
                                        "ShardId": "shardId-000000000000",
                                        "StartingPosition": {"Type": "LATEST"}}, want=400)
    assert out["__type"] == "ResourceNotFoundException", out
