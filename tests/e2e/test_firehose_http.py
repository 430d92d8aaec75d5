"""Firehose HTTP endpoint destination against a real HTTPS receiver.

The receiver (Python's http.server over TLS with a throw-away self-signed certificate made by
openssl; the gateway trusts it through SLUICE_FIREHOSE_HTTP_CA_FILE) records every request,
checks nothing itself, and answers as the test tells it: the Firehose acknowledgement, a failure
status with an errorMessage, 413, or a wrong requestId. The tests then check the request format
of spec §6.1 header by header, the retry behaviour (same request id, backoff) and the error
output written to S3Configuration when retries are exhausted.
"""
import base64
import glob
import gzip
import http.server
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

ROLE = "arn:aws:iam::123456789012:role/firehose"


class Receiver:
    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="fh-recv-")
        self.cert = os.path.join(self.tmp.name, "cert.pem")
        key = os.path.join(self.tmp.name, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                       capture_output=True)
        self.requests = []
        self.plan = []          # statuses to answer next (consumed), then `default`
        self.default = 200
        self.lock = threading.Lock()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                with recv.lock:
                    recv.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "raw": raw, "t": time.time()})
                    status = recv.plan.pop(0) if recv.plan else recv.default
                body = raw
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(raw)
                rid = json.loads(body)["requestId"]
                if status == 200:
                    reply = {"requestId": rid, "timestamp": int(time.time() * 1000)}
                elif status == "wrong-id":
                    status, reply = 200, {"requestId": "not-" + rid, "timestamp": 0}
                else:
                    reply = {"requestId": rid, "timestamp": int(time.time() * 1000),
                             "errorMessage": f"receiver says {status}"}
                out = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/ingest?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, n, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            with self.lock:
                if len(self.requests) >= n:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {n} requests, got {len(self.requests)}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.tmp.cleanup()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def gw(make_gateway, receiver):
    return make_gateway(env={"SLUICE_FIREHOSE_HTTP_CA_FILE": receiver.cert})


def fh(gw):
    return gw.client("firehose", parameter_validation=False)


def create(c, name, url, **extra):
    cfg = {"EndpointConfiguration": {"Url": url, "Name": "recv", "AccessKey": "k3y-s3cret"},
           "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
           "RoleARN": ROLE,
           "S3Configuration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::http-backup"}}
    cfg.update(extra)
    c.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration=cfg)
    end = time.time() + 10
    while time.time() < end:
        d = c.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError("not ACTIVE")


def decode(req):
    raw = req["raw"]
    if req["headers"].get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    return json.loads(raw)


def test_request_format(gw, receiver):
    c = fh(gw)
    create(c, "h1", receiver.url,
           RequestConfiguration={"ContentEncoding": "GZIP", "CommonAttributes": [
               {"AttributeName": "env", "AttributeValue": "test"},
               {"AttributeName": "team", "AttributeValue": "data"}]})
    recs = [b"hello", b"", os.urandom(300), b"{\"a\": 1}\n"]
    before = int(time.time() * 1000)
    r = c.put_record_batch(DeliveryStreamName="h1", Records=[{"Data": d} for d in recs])
    assert r["FailedPutCount"] == 0
    req = receiver.wait(1)[0]
    h = req["headers"]
    assert req["path"] == "/ingest?token=abc"
    assert h["Content-Type"] == "application/json"
    assert h["Content-Encoding"] == "gzip"
    assert h["X-Amz-Firehose-Protocol-Version"] == "1.0"
    assert h["X-Amz-Firehose-Source-Arn"] == \
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/h1"
    assert h["X-Amz-Firehose-Access-Key"] == "k3y-s3cret"
    assert json.loads(h["X-Amz-Firehose-Common-Attributes"]) == {
        "commonAttributes": {"env": "test", "team": "data"}}
    body = decode(req)
    assert set(body) == {"requestId", "timestamp", "records"}
    assert body["requestId"] == h["X-Amz-Firehose-Request-Id"]
    assert before <= body["timestamp"] <= int(time.time() * 1000)
    assert [base64.b64decode(x["data"]) for x in body["records"]] == recs
    assert all(set(x) == {"data"} for x in body["records"])
    # The secret is never described.
    d = c.describe_delivery_stream(DeliveryStreamName="h1")["DeliveryStreamDescription"]
    assert "AccessKey" not in d["Destinations"][0]["HttpEndpointDestinationDescription"][
        "EndpointConfiguration"]
    # Without ContentEncoding the body is plain and optional headers are absent.
    c.update_destination(DeliveryStreamName="h1", CurrentDeliveryStreamVersionId="1",
                         DestinationId="destinationId-000000000001",
                         HttpEndpointDestinationUpdate={
                             # merged: the AccessKey stays unless replaced (here by "")
                             "EndpointConfiguration": {"Url": receiver.url, "AccessKey": ""},
                             "RequestConfiguration": {"ContentEncoding": "NONE",
                                                      "CommonAttributes": []}})
    c.put_record(DeliveryStreamName="h1", Record={"Data": b"plain"})
    req = receiver.wait(2)[1]
    assert "Content-Encoding" not in req["headers"]
    assert "X-Amz-Firehose-Access-Key" not in req["headers"]
    assert "X-Amz-Firehose-Common-Attributes" not in req["headers"]
    assert [base64.b64decode(x["data"]) for x in json.loads(req["raw"])["records"]] == [b"plain"]
    assert gw.stop() == 0


def test_retries_keep_request_id(gw, receiver):
    c = fh(gw)
    receiver.plan = [503, "wrong-id", 500]
    create(c, "h2", receiver.url, RetryOptions={"DurationInSeconds": 60})
    c.put_record(DeliveryStreamName="h2", Record={"Data": b"retry me"})
    reqs = receiver.wait(4)
    ids = {r["headers"]["X-Amz-Firehose-Request-Id"] for r in reqs}
    assert len(ids) == 1, ids
    # Exponential backoff: about 1 s, 2 s, 4 s between attempts (+-15 %).
    gaps = [b["t"] - a["t"] for a, b in zip(reqs, reqs[1:])]
    for gap, want in zip(gaps, (1, 2, 4)):
        assert want * 0.8 <= gap <= want * 1.6, gaps
    time.sleep(0.5)
    assert len(receiver.requests) == 4  # delivered: no more attempts
    assert not glob.glob(os.path.join(gw.data_dir, "s3", "http-backup", "**", "*"),
                         recursive=True)
    assert gw.stop() == 0


def test_exhausted_retries_go_to_error_output(gw, receiver):
    c = fh(gw)
    receiver.default = 500
    create(c, "h3", receiver.url, RetryOptions={"DurationInSeconds": 2})
    recs = [b"first", os.urandom(50)]
    c.put_record_batch(DeliveryStreamName="h3", Records=[{"Data": d} for d in recs])
    root = os.path.join(gw.data_dir, "s3", "http-backup")
    end = time.time() + 30
    files = []
    while time.time() < end and not files:
        files = [p for p in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                 if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-")]
        time.sleep(0.05)
    assert len(files) == 1, files
    rel = os.path.relpath(files[0], root)
    assert rel.startswith("http-endpoint-failed/"), rel
    lines = [json.loads(x) for x in open(files[0]).read().splitlines()]
    assert [base64.b64decode(x["rawData"]) for x in lines] == recs
    for x in lines:
        assert x["errorCode"] == "HttpEndpoint.DestinationException"
        assert "receiver says 500" in x["errorMessage"]
        assert x["attemptsMade"] == len(receiver.requests) >= 2
        assert x["attemptEndingTimestamp"] >= x["arrivalTimestamp"]
    # The next batch is delivered normally once the receiver recovers.
    receiver.default = 200
    n = len(receiver.requests)
    c.put_record(DeliveryStreamName="h3", Record={"Data": b"later"})
    req = receiver.wait(n + 1)[n]
    assert [base64.b64decode(x["data"]) for x in decode(req)["records"]] == [b"later"]
    assert gw.stop() == 0


def test_413_is_permanent(gw, receiver):
    c = fh(gw)
    receiver.plan = [413]
    create(c, "h4", receiver.url, RetryOptions={"DurationInSeconds": 60})
    c.put_record(DeliveryStreamName="h4", Record={"Data": b"too big"})
    receiver.wait(1)
    c.put_record(DeliveryStreamName="h4", Record={"Data": b"next"})
    reqs = receiver.wait(2)
    assert [base64.b64decode(x["data"]) for x in decode(reqs[1])["records"]] == [b"next"]
    time.sleep(1.5)
    assert len(receiver.requests) == 2
    assert gw.stop() == 0


def test_plain_http_needs_opt_in(make_gateway):
    gw = make_gateway()
    c = fh(gw)
    with pytest.raises(Exception) as ei:
        create(c, "plain", "http://127.0.0.1:9/x")
    assert "ValidationException" in str(ei.value) or "InvalidArgument" in str(ei.value)
    assert gw.stop() == 0
