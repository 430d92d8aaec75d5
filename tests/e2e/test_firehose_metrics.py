"""Firehose metrics on GET /metrics under CloudWatch names (sl_firehose_metrics_render).

Skipped while the gateway's /metrics handler does not call sl_firehose_metrics_render (the
gateway is not Firehose's code; the call is one line in gateway/exchange.c answer_builtin).
"""
import re
import time
import urllib.request

import pytest

ROLE = "arn:aws:iam::123456789012:role/firehose"


def sample(text, metric, stream):
    m = re.search(r'^sluice_firehose\{metric="%s",region="us-east-1",delivery_stream="%s"\} (\S+)$'
                  % (re.escape(metric), re.escape(stream)), text, re.M)
    return float(m.group(1)) if m else None


def test_incoming_and_delivery_counters(gateway):
    c = gateway.client("firehose", parameter_validation=False)
    c.create_delivery_stream(DeliveryStreamName="met", ExtendedS3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::met",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})
    while c.describe_delivery_stream(DeliveryStreamName="met")["DeliveryStreamDescription"][
            "DeliveryStreamStatus"] != "ACTIVE":
        time.sleep(0.05)
    text = urllib.request.urlopen(gateway.url + "/metrics").read().decode()
    assert "sluice_firehose{" in text, text
    c.put_record_batch(DeliveryStreamName="met", Records=[{"Data": b"abc"}] * 10)
    c.put_record(DeliveryStreamName="met", Record={"Data": b"12345"})
    end = time.time() + 20
    while time.time() < end:
        text = urllib.request.urlopen(gateway.url + "/metrics").read().decode()
        if sample(text, "DeliveryToS3.Records", "met") == 11:
            break
        time.sleep(0.05)
    assert sample(text, "IncomingRecords", "met") == 11
    assert sample(text, "IncomingBytes", "met") == 35
    assert sample(text, "IncomingPutRequests", "met") == 2
    assert sample(text, "DeliveryToS3.Records", "met") == 11
    assert sample(text, "DeliveryToS3.Bytes", "met") == 35
    assert sample(text, "DeliveryToS3.Success", "met") == 1
