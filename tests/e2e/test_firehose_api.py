"""Firehose control plane and intake through boto3 and the AWS CLI against a real sluiced.

Every implemented operation is called at least once through boto3; create, describe, list,
put-record, put-record-batch, update-destination and delete also through Debian's AWS CLI.
Debian's botocore carries an older model (IntervalInSeconds >= 60), so clients that need the
current model's limits skip client-side validation; the gateway validates against the current
model itself (checked below).
"""
import base64
import json
import os
import time

import botocore.config
import botocore.exceptions
import pytest

ROLE = "arn:aws:iam::123456789012:role/firehose"


def fh(gw):
    return gw.client("firehose", parameter_validation=False)


def s3_cfg(bucket="bucket1", **extra):
    cfg = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{bucket}",
           "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}
    cfg.update(extra)
    return cfg


def wait_active(c, name, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        d = c.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == "ACTIVE":
            return d
        time.sleep(0.05)
    raise AssertionError(f"{name} never became ACTIVE")


def wait_gone(c, name, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        try:
            c.describe_delivery_stream(DeliveryStreamName=name)
        except c.exceptions.ResourceNotFoundException:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} was never removed")


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_lifecycle_describe_list_delete(gateway):
    c = fh(gateway)
    arn = c.create_delivery_stream(DeliveryStreamName="orders",
                                   ExtendedS3DestinationConfiguration=s3_cfg(
                                       Prefix="p/", CompressionFormat="GZIP"),
                                   Tags=[{"Key": "team", "Value": "a"}])["DeliveryStreamARN"]
    assert arn == "arn:aws:firehose:us-east-1:000000000000:deliverystream/orders"
    d = c.describe_delivery_stream(DeliveryStreamName="orders")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] in ("CREATING", "ACTIVE")
    d = wait_active(c, "orders")
    assert d["DeliveryStreamType"] == "DirectPut"
    assert d["VersionId"] == "1"
    assert d["HasMoreDestinations"] is False
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED"
    dest = d["Destinations"][0]
    assert dest["DestinationId"] == "destinationId-000000000001"
    e = dest["ExtendedS3DestinationDescription"]
    assert e["BucketARN"] == "arn:aws:s3:::bucket1" and e["Prefix"] == "p/"
    assert e["CompressionFormat"] == "GZIP"
    assert e["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert e["CloudWatchLoggingOptions"] == {"Enabled": False}
    assert e["S3BackupMode"] == "Disabled"

    for n in ("b-stream", "a-stream", "c-stream"):
        c.create_delivery_stream(DeliveryStreamName=n,
                                 S3DestinationConfiguration={"RoleARN": ROLE,
                                                             "BucketARN": "arn:aws:s3:::x"})
    names = c.list_delivery_streams()["DeliveryStreamNames"]
    assert names == ["a-stream", "b-stream", "c-stream", "orders"]
    page = c.list_delivery_streams(Limit=2)
    assert page["DeliveryStreamNames"] == ["a-stream", "b-stream"]
    assert page["HasMoreDeliveryStreams"] is True
    page = c.list_delivery_streams(Limit=2, ExclusiveStartDeliveryStreamName="b-stream")
    assert page["DeliveryStreamNames"] == ["c-stream", "orders"]
    assert page["HasMoreDeliveryStreams"] is False
    assert c.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")[
        "DeliveryStreamNames"] == []

    # The legacy S3 destination is described as both S3 and ExtendedS3.
    d = wait_active(c, "a-stream")
    assert "S3DestinationDescription" in d["Destinations"][0]
    assert "ExtendedS3DestinationDescription" in d["Destinations"][0]
    assert d["Destinations"][0]["S3DestinationDescription"]["BufferingHints"] == {
        "SizeInMBs": 5, "IntervalInSeconds": 300}

    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="orders",
                                 ExtendedS3DestinationConfiguration=s3_cfg())
    assert error_code(ei) == "ResourceInUseException"

    c.delete_delivery_stream(DeliveryStreamName="orders")
    wait_gone(c, "orders")
    with pytest.raises(c.exceptions.ResourceNotFoundException) as ei:
        c.describe_delivery_stream(DeliveryStreamName="orders")
    assert "Firehose orders under account 000000000000 not found." in str(ei.value)
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.delete_delivery_stream(DeliveryStreamName="orders")


def test_refusals(gateway):
    c = fh(gateway)
    # Unsupported destinations are refused naming what is supported.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="rs", RedshiftDestinationConfiguration={
            "RoleARN": ROLE,
            "ClusterJDBCURL": "jdbc:redshift://c1.abc.us-east-1.redshift.amazonaws.com:5439/db",
            "CopyCommand": {"DataTableName": "t"}, "Username": "user", "Password": "secret12",
            "S3Configuration": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::b"}})
    assert error_code(ei) == "InvalidArgumentException"
    assert "HttpEndpointDestinationConfiguration" in str(ei.value)
    # No destination, two destinations.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="none")
    assert error_code(ei) == "InvalidArgumentException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="two",
                                 ExtendedS3DestinationConfiguration=s3_cfg(),
                                 S3DestinationConfiguration={"RoleARN": ROLE,
                                                             "BucketARN": "arn:aws:s3:::b"})
    assert error_code(ei) == "InvalidArgumentException"
    # Not-yet-supported features are refused rather than ignored.
    for extra in ({"ProcessingConfiguration": {"Enabled": True, "Processors": [
                      {"Type": "Decompression", "Parameters": [
                          {"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}]}]}},
                  {"ProcessingConfiguration": {"Enabled": True, "Processors": [
                      {"Type": "RecordDeAggregation", "Parameters": [
                          {"ParameterName": "SubRecordType", "ParameterValue": "JSON"}]}]}},
                  {"DataFormatConversionConfiguration": {"Enabled": True}}):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            c.create_delivery_stream(DeliveryStreamName="feat",
                                     ExtendedS3DestinationConfiguration=s3_cfg(**extra))
        assert error_code(ei) == "InvalidArgumentException", extra
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="ks", DeliveryStreamType="KinesisStreamAsSource",
                                 KinesisStreamSourceConfiguration={
                                     "KinesisStreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
                                     "RoleARN": ROLE},
                                 ExtendedS3DestinationConfiguration=s3_cfg())
    assert error_code(ei) == "InvalidArgumentException"
    # Prefix rules (spec 5.3).
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="pfx", ExtendedS3DestinationConfiguration=s3_cfg(
            Prefix="x/!{timestamp:yyyy}/"))
    assert "ErrorOutputPrefix" in str(ei.value)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="pfx", ExtendedS3DestinationConfiguration=s3_cfg(
            Prefix="x/", ErrorOutputPrefix="e/!{timestamp:yyyy}/"))
    assert error_code(ei) == "InvalidArgumentException"
    # The model's own constraints are checked by the gateway (current model: interval >= 0,
    # size <= 128).
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.create_delivery_stream(DeliveryStreamName="big", ExtendedS3DestinationConfiguration=s3_cfg(
            BufferingHints={"SizeInMBs": 129, "IntervalInSeconds": 0}))
    assert error_code(ei) == "ValidationException"
    assert c.list_delivery_streams()["DeliveryStreamNames"] == []


def test_update_destination_versions(gateway):
    c = fh(gateway)
    c.create_delivery_stream(DeliveryStreamName="u1", ExtendedS3DestinationConfiguration=s3_cfg(
        Prefix="old/", CompressionFormat="GZIP"))
    wait_active(c, "u1")
    c.update_destination(DeliveryStreamName="u1", CurrentDeliveryStreamVersionId="1",
                         DestinationId="destinationId-000000000001",
                         ExtendedS3DestinationUpdate={"Prefix": "new/"})
    d = c.describe_delivery_stream(DeliveryStreamName="u1")["DeliveryStreamDescription"]
    assert d["VersionId"] == "2"
    assert "LastUpdateTimestamp" in d
    e = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert e["Prefix"] == "new/"
    assert e["CompressionFormat"] == "GZIP"  # merged: unspecified members kept
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.update_destination(DeliveryStreamName="u1", CurrentDeliveryStreamVersionId="1",
                             DestinationId="destinationId-000000000001",
                             ExtendedS3DestinationUpdate={"Prefix": "x/"})
    assert error_code(ei) == "ConcurrentModificationException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.update_destination(DeliveryStreamName="u1", CurrentDeliveryStreamVersionId="2",
                             DestinationId="destinationId-000000000009",
                             ExtendedS3DestinationUpdate={"Prefix": "x/"})
    assert error_code(ei) == "InvalidArgumentException"
    # Switching type replaces the configuration: required members must be there.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.update_destination(DeliveryStreamName="u1", CurrentDeliveryStreamVersionId="2",
                             DestinationId="destinationId-000000000001",
                             HttpEndpointDestinationUpdate={"RoleARN": ROLE})
    assert error_code(ei) == "InvalidArgumentException"
    c.update_destination(DeliveryStreamName="u1", CurrentDeliveryStreamVersionId="2",
                         DestinationId="destinationId-000000000001",
                         HttpEndpointDestinationUpdate={
                             "EndpointConfiguration": {"Url": "https://example.invalid/x",
                                                       "AccessKey": "secret-key"},
                             "S3Update": {"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::bk"}})
    d = c.describe_delivery_stream(DeliveryStreamName="u1")["DeliveryStreamDescription"]
    assert d["VersionId"] == "3"
    h = d["Destinations"][0]["HttpEndpointDestinationDescription"]
    assert h["EndpointConfiguration"] == {"Url": "https://example.invalid/x"}  # no AccessKey
    assert h["S3DestinationDescription"]["BucketARN"] == "arn:aws:s3:::bk"
    assert h["S3BackupMode"] == "FailedDataOnly"
    assert h["RetryOptions"] == {"DurationInSeconds": 300}


def test_put_record_and_batch_limits(gateway):
    c = fh(gateway)
    c.create_delivery_stream(DeliveryStreamName="p1", ExtendedS3DestinationConfiguration=s3_cfg())
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.put_record(DeliveryStreamName="nope", Record={"Data": b"x"})
    wait_active(c, "p1")
    r = c.put_record(DeliveryStreamName="p1", Record={"Data": b"one"})
    assert r["RecordId"] and r["Encrypted"] is False
    r = c.put_record_batch(DeliveryStreamName="p1",
                           Records=[{"Data": b"r%d" % i} for i in range(500)])
    assert r["FailedPutCount"] == 0
    ids = [e["RecordId"] for e in r["RequestResponses"]]
    assert len(ids) == 500 and len(set(ids)) == 500
    # 501 records: the model's limit.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record_batch(DeliveryStreamName="p1", Records=[{"Data": b"x"}] * 501)
    assert error_code(ei) == "ValidationException"
    # One record over 1000 KiB.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record(DeliveryStreamName="p1", Record={"Data": b"x" * 1024001})
    assert error_code(ei) == "ValidationException"
    c.put_record(DeliveryStreamName="p1", Record={"Data": b"x" * 1024000})
    # 4 x 1000 KiB + 100 000 bytes: over the 4 MiB batch limit (still under the body limit).
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.put_record_batch(DeliveryStreamName="p1", Records=[{"Data": b"y" * 1024000}] * 4 +
                           [{"Data": b"z" * 100000}])
    assert error_code(ei) == "InvalidArgumentException"


def test_encryption_and_tags(gateway):
    c = fh(gateway)
    c.create_delivery_stream(DeliveryStreamName="e1", ExtendedS3DestinationConfiguration=s3_cfg())
    wait_active(c, "e1")
    c.start_delivery_stream_encryption(
        DeliveryStreamName="e1",
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"})
    d = c.describe_delivery_stream(DeliveryStreamName="e1")["DeliveryStreamDescription"]
    assert d["DeliveryStreamEncryptionConfiguration"] == {"KeyType": "AWS_OWNED_CMK",
                                                          "Status": "ENABLED"}
    assert c.put_record(DeliveryStreamName="e1", Record={"Data": b"s"})["Encrypted"] is True
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.start_delivery_stream_encryption(
            DeliveryStreamName="e1",
            DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK"})
    assert error_code(ei) == "InvalidArgumentException"
    c.stop_delivery_stream_encryption(DeliveryStreamName="e1")
    d = c.describe_delivery_stream(DeliveryStreamName="e1")["DeliveryStreamDescription"]
    assert d["DeliveryStreamEncryptionConfiguration"]["Status"] == "DISABLED"
    assert c.put_record(DeliveryStreamName="e1", Record={"Data": b"s"})["Encrypted"] is False

    c.tag_delivery_stream(DeliveryStreamName="e1",
                          Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    c.tag_delivery_stream(DeliveryStreamName="e1", Tags=[{"Key": "a", "Value": "one"}])
    t = c.list_tags_for_delivery_stream(DeliveryStreamName="e1")
    assert t["Tags"] == [{"Key": "a", "Value": "one"}, {"Key": "b", "Value": "2"}]
    assert t["HasMoreTags"] is False
    t = c.list_tags_for_delivery_stream(DeliveryStreamName="e1", Limit=1)
    assert t["Tags"] == [{"Key": "a", "Value": "one"}] and t["HasMoreTags"] is True
    t = c.list_tags_for_delivery_stream(DeliveryStreamName="e1", ExclusiveStartTagKey="a")
    assert t["Tags"] == [{"Key": "b", "Value": "2"}]
    c.untag_delivery_stream(DeliveryStreamName="e1", TagKeys=["a"])
    assert c.list_tags_for_delivery_stream(DeliveryStreamName="e1")["Tags"] == [
        {"Key": "b", "Value": "2"}]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.tag_delivery_stream(DeliveryStreamName="e1",
                              Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_code(ei) == "LimitExceededException"


def test_state_survives_restart(make_gateway):
    gw = make_gateway()
    c = fh(gw)
    c.create_delivery_stream(DeliveryStreamName="keep", ExtendedS3DestinationConfiguration=s3_cfg(),
                             Tags=[{"Key": "k", "Value": "v"}])
    wait_active(c, "keep")
    c.update_destination(DeliveryStreamName="keep", CurrentDeliveryStreamVersionId="1",
                         DestinationId="destinationId-000000000001",
                         ExtendedS3DestinationUpdate={"Prefix": "after/"})
    assert gw.stop() == 0
    gw.start()
    c = fh(gw)
    d = c.describe_delivery_stream(DeliveryStreamName="keep")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE" and d["VersionId"] == "2"
    assert d["Destinations"][0]["ExtendedS3DestinationDescription"]["Prefix"] == "after/"
    assert c.list_tags_for_delivery_stream(DeliveryStreamName="keep")["Tags"] == [
        {"Key": "k", "Value": "v"}]
    assert gw.stop() == 0


def test_aws_cli(gateway):
    cfg = json.dumps({"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::clibucket",
                      "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}})
    out = json.loads(gateway.aws("firehose", "create-delivery-stream", "--delivery-stream-name",
                                 "cli", "--extended-s3-destination-configuration", cfg).stdout)
    assert out["DeliveryStreamARN"].endswith(":deliverystream/cli")
    c = fh(gateway)
    wait_active(c, "cli")
    out = json.loads(gateway.aws("firehose", "describe-delivery-stream",
                                 "--delivery-stream-name", "cli").stdout)
    assert out["DeliveryStreamDescription"]["DeliveryStreamStatus"] == "ACTIVE"
    out = json.loads(gateway.aws("firehose", "list-delivery-streams").stdout)
    assert out["DeliveryStreamNames"] == ["cli"]
    data = base64.b64encode(b"from the cli\n").decode()
    out = json.loads(gateway.aws("firehose", "put-record", "--delivery-stream-name", "cli",
                                 "--record", f"Data={data}").stdout)
    assert out["RecordId"]
    out = json.loads(gateway.aws("firehose", "put-record-batch", "--delivery-stream-name", "cli",
                                 "--records", f"Data={data}", f"Data={data}").stdout)
    assert out["FailedPutCount"] == 0 and len(out["RequestResponses"]) == 2
    gateway.aws("firehose", "update-destination", "--delivery-stream-name", "cli",
                "--current-delivery-stream-version-id", "1", "--destination-id",
                "destinationId-000000000001", "--extended-s3-destination-update",
                json.dumps({"Prefix": "cli/"}))
    gateway.aws("firehose", "tag-delivery-stream", "--delivery-stream-name", "cli", "--tags",
                "Key=a,Value=b")
    out = json.loads(gateway.aws("firehose", "list-tags-for-delivery-stream",
                                 "--delivery-stream-name", "cli").stdout)
    assert out["Tags"] == [{"Key": "a", "Value": "b"}]
    gateway.aws("firehose", "delete-delivery-stream", "--delivery-stream-name", "cli")
    wait_gone(c, "cli")
