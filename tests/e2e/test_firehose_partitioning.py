"""Firehose dynamic partitioning: keys from a MetadataExtraction jq query (libjq) and from a
Lambda's metadata.partitionKeys, one object per partition, failures to the error output.
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
ARN = "arn:aws:lambda:us-east-1:123456789012:function:team"


def files(root):
    return sorted(os.path.relpath(p, root)
                  for p in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                  if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-"))


def create(c, name, prefix, processors, interval=1):
    c.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::dp", "Prefix": prefix,
        "ErrorOutputPrefix": "err/!{firehose:error-output-type}/",
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": interval},
        "DynamicPartitioningConfiguration": {"Enabled": True},
        "ProcessingConfiguration": {"Enabled": True, "Processors": processors}})
    end = time.time() + 10
    while c.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
            "DeliveryStreamStatus"] != "ACTIVE":
        assert time.time() < end
        time.sleep(0.05)


def jq(query):
    return {"Type": "MetadataExtraction", "Parameters": [
        {"ParameterName": "MetadataExtractionQuery", "ParameterValue": query},
        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"}]}


DELIM = {"Type": "AppendDelimiterToRecord", "Parameters": []}


def wait_files(root, n, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if len(files(root)) >= n:
            return files(root)
        time.sleep(0.05)
    raise AssertionError(files(root))


def test_jq_partitions(gateway):
    c = gateway.client("firehose", parameter_validation=False)
    create(c, "dp", "cust=!{partitionKeyFromQuery:customer}/y=!{timestamp:yyyy}/",
           [jq("{customer: .customer, n: .n}"), DELIM])
    recs = [{"customer": "acme", "n": 1}, {"customer": "zeta", "n": 2},
            {"customer": "acme", "n": 3}, {"n": 4}]
    data = [json.dumps(r).encode() for r in recs] + [b"not json"]
    c.put_record_batch(DeliveryStreamName="dp", Records=[{"Data": d} for d in data])
    root = os.path.join(gateway.data_dir, "s3", "dp")
    got = wait_files(root, 3)
    year = time.gmtime().tm_year
    acme = [f for f in got if f.startswith(f"cust=acme/y={year}/dp-1-")]
    zeta = [f for f in got if f.startswith(f"cust=zeta/y={year}/dp-1-")]
    err = [f for f in got if f.startswith("err/partitioning-failed/")]
    assert len(acme) == 1 and len(zeta) == 1 and len(err) == 1, got
    assert open(os.path.join(root, acme[0]), "rb").read() == data[0] + b"\n" + data[2] + b"\n"
    assert open(os.path.join(root, zeta[0]), "rb").read() == data[1] + b"\n"
    lines = [json.loads(x) for x in open(os.path.join(root, err[0])).read().splitlines()]
    assert sorted(base64.b64decode(x["rawData"]) for x in lines) == sorted([data[3], data[4]])
    assert all(x["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed" for x in lines)
    assert len(got) == 3


def test_configuration_rules(gateway):
    c = gateway.client("firehose", parameter_validation=False)
    bad = [
        ("plain/", [jq("{a: .a}")], 60),                     # prefix without key expression
        ("a=!{partitionKeyFromQuery:a}/", [jq("{a: .a")], 60),  # query does not compile
        ("a=!{partitionKeyFromQuery:a}/", [jq("{a: .a}")], 0),  # zero buffering
    ]
    for prefix, procs, interval in bad:
        with pytest.raises(Exception) as ei:
            create(c, "bad", prefix, procs, interval)
        assert "InvalidArgumentException" in str(ei.value), (prefix, str(ei.value))
    create(c, "ok", "a=!{partitionKeyFromQuery:a}/", [jq("{a: .a}")], 60)
    with pytest.raises(Exception) as ei:
        c.update_destination(DeliveryStreamName="ok", CurrentDeliveryStreamVersionId="1",
                             DestinationId="destinationId-000000000001",
                             ExtendedS3DestinationUpdate={
                                 "DynamicPartitioningConfiguration": {"Enabled": False}})
    assert "InvalidArgumentException" in str(ei.value)


class Fn:
    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                ev = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                out = []
                for r in ev["records"]:
                    d = json.loads(base64.b64decode(r["data"]))
                    out.append({"recordId": r["recordId"], "result": "Ok", "data": r["data"],
                                "metadata": {"partitionKeys": {"team": d["team"]}}})
                body = json.dumps({"records": out}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_lambda_partition_keys(make_gateway):
    fn = Fn()
    try:
        gw = make_gateway(env={"SLUICE_FIREHOSE_LAMBDA_URLS": f"{ARN}={fn.url}"})
        c = gw.client("firehose", parameter_validation=False)
        create(c, "lk", "team=!{partitionKeyFromLambda:team}/",
               [{"Type": "Lambda", "Parameters": [{"ParameterName": "LambdaArn",
                                                   "ParameterValue": ARN}]}])
        data = [json.dumps({"team": t, "i": i}).encode() for i, t in enumerate("abab")]
        c.put_record_batch(DeliveryStreamName="lk", Records=[{"Data": d} for d in data])
        root = os.path.join(gw.data_dir, "s3", "dp")
        got = wait_files(root, 2)
        a = [f for f in got if f.startswith("team=a/lk-1-")]
        b = [f for f in got if f.startswith("team=b/lk-1-")]
        assert len(a) == 1 and len(b) == 1, got
        assert open(os.path.join(root, a[0]), "rb").read() == data[0] + data[2]
        assert open(os.path.join(root, b[0]), "rb").read() == data[1] + data[3]
        assert gw.stop() == 0
    finally:
        fn.server.shutdown()
        fn.server.server_close()
