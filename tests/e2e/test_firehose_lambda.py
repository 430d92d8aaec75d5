"""Firehose record transformation through the Lambda contract, with the function served on a
local "function URL" (SLUICE_FIREHOSE_LAMBDA_URLS maps the ARN to it).

The handler below is written exactly like a Firehose transformation Lambda (event in,
{"records": [...]} out). The tests check the event Sluice sends, the Ok / Dropped /
ProcessingFailed outcomes in the delivered object and in the processing-failed error output,
and that a function that keeps failing sends the batch to the error output after
NumberOfRetries + 1 attempts.
"""
import base64
import glob
import http.server
import json
import os
import threading
import time

import pytest

ROLE = "arn:aws:iam::123456789012:role/firehose"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:upper"


def handler(event, context):
    """A Firehose transformation Lambda: upper-cases, drops "drop*", fails "fail*"."""
    out = []
    for r in event["records"]:
        data = base64.b64decode(r["data"])
        if data.startswith(b"drop"):
            out.append({"recordId": r["recordId"], "result": "Dropped", "data": r["data"]})
        elif data.startswith(b"fail"):
            out.append({"recordId": r["recordId"], "result": "ProcessingFailed",
                        "data": r["data"]})
        else:
            out.append({"recordId": r["recordId"], "result": "Ok",
                        "data": base64.b64encode(data.upper() + b"\n").decode()})
    return {"records": out}


class FunctionUrl:
    def __init__(self):
        self.events, self.status = [], 200
        fn = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fn.events.append((dict(self.headers), event))
                body = json.dumps(handler(event, None)).encode() if fn.status == 200 else b"{}"
                self.send_response(fn.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fn():
    f = FunctionUrl()
    yield f
    f.close()


def files(root):
    return sorted(p for p in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                  if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-"))


def wait_files(root, n, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        got = files(root)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {n} files under {root}: {files(root)}")


def create(gw, name, retries=None):
    c = gw.client("firehose", parameter_validation=False)
    params = [{"ParameterName": "LambdaArn", "ParameterValue": ARN}]
    if retries is not None:
        params.append({"ParameterName": "NumberOfRetries", "ParameterValue": str(retries)})
    c.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::xf", "Prefix": "ok/",
        "ErrorOutputPrefix": "err/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        "ProcessingConfiguration": {"Enabled": True, "Processors": [
            {"Type": "Lambda", "Parameters": params}]}})
    end = time.time() + 10
    while c.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
            "DeliveryStreamStatus"] != "ACTIVE":
        assert time.time() < end
        time.sleep(0.05)
    return c


def test_transform_drop_fail(make_gateway, fn):
    gw = make_gateway(env={"SLUICE_FIREHOSE_LAMBDA_URLS": f"{ARN}={fn.url}"})
    c = create(gw, "xf")
    recs = [b"alpha", b"drop me", b"fail me", b"omega"]
    t0 = int(time.time() * 1000)
    c.put_record_batch(DeliveryStreamName="xf", Records=[{"Data": d} for d in recs])
    root = os.path.join(gw.data_dir, "s3", "xf")
    got = wait_files(root, 2)
    ok = [p for p in got if os.path.relpath(p, root).startswith("ok/")]
    err = [p for p in got if os.path.relpath(p, root).startswith("err/processing-failed/")]
    assert len(ok) == 1 and len(err) == 1, got
    assert open(ok[0], "rb").read() == b"ALPHA\nOMEGA\n"
    lines = [json.loads(x) for x in open(err[0]).read().splitlines()]
    assert len(lines) == 1
    e = lines[0]
    assert base64.b64decode(e["rawData"]) == b"fail me"
    assert e["errorCode"] == "Lambda.ProcessingFailedStatus"
    assert e["lambdaArn"] == ARN and e["attemptsMade"] == 1
    assert e["arrivalTimestamp"] >= t0 - 1000
    # The event as a Lambda handler receives it.
    headers, event = fn.events[0]
    assert headers["Content-Type"] == "application/json"
    assert set(event) == {"invocationId", "deliveryStreamArn", "region", "records"}
    assert event["deliveryStreamArn"] == "arn:aws:firehose:us-east-1:000000000000:deliverystream/xf"
    assert event["region"] == "us-east-1"
    assert [base64.b64decode(r["data"]) for r in event["records"]] == recs
    assert len({r["recordId"] for r in event["records"]}) == 4
    for r in event["records"]:
        assert set(r) == {"recordId", "approximateArrivalTimestamp", "data"}
        assert r["approximateArrivalTimestamp"] >= t0 - 1000
    assert gw.stop() == 0


def test_failing_function_goes_to_error_output(make_gateway, fn):
    fn.status = 500
    gw = make_gateway(env={"SLUICE_FIREHOSE_LAMBDA_URLS": f"{ARN}={fn.url}"})
    c = create(gw, "xf2", retries=2)
    c.put_record_batch(DeliveryStreamName="xf2", Records=[{"Data": b"one"}, {"Data": b"two"}])
    root = os.path.join(gw.data_dir, "s3", "xf")
    got = wait_files(root, 1)
    assert len(got) == 1 and os.path.relpath(got[0], root).startswith("err/processing-failed/")
    lines = [json.loads(x) for x in open(got[0]).read().splitlines()]
    assert [base64.b64decode(x["rawData"]) for x in lines] == [b"one", b"two"]
    for x in lines:
        assert x["errorCode"] == "Lambda.FunctionError"
        assert x["attemptsMade"] == 3
        assert "500" in x["errorMessage"]
    assert len(fn.events) == 3  # NumberOfRetries 2 = 3 attempts
    # The function recovers: later records are transformed.
    fn.status = 200
    c.put_record(DeliveryStreamName="xf2", Record={"Data": b"three"})
    got = wait_files(root, 2)
    ok = [p for p in got if os.path.relpath(p, root).startswith("ok/")]
    assert open(ok[0], "rb").read() == b"THREE\n"
    assert gw.stop() == 0


def test_unmapped_function(make_gateway):
    gw = make_gateway()
    c = create(gw, "xf3", retries=0)
    c.put_record(DeliveryStreamName="xf3", Record={"Data": b"lost?"})
    root = os.path.join(gw.data_dir, "s3", "xf")
    got = wait_files(root, 1)
    line = json.loads(open(got[0]).read().splitlines()[0])
    assert "SLUICE_FIREHOSE_LAMBDA_URLS" in line["errorMessage"]
    assert base64.b64decode(line["rawData"]) == b"lost?"
    assert gw.stop() == 0
