"""Kinesis Video control plane against a real sluiced, through boto3 and the AWS CLI: streams,
versions, retention, tags, data endpoints, errors, and state surviving a restart."""
import json

import botocore.exceptions
import pytest


def err(e):
    return e.value.response["Error"]["Code"]


def test_create_describe_list_delete(gateway):
    kv = gateway.client("kinesisvideo")
    arn = kv.create_stream(StreamName="cam-1", DeviceName="dev", MediaType="video/h264",
                           DataRetentionInHours=24, Tags={"site": "lab"})["StreamARN"]
    assert arn.startswith("arn:aws:kinesisvideo:us-east-1:")
    assert ":stream/cam-1/" in arn and arn.rsplit("/", 1)[1].isdigit()
    info = kv.describe_stream(StreamName="cam-1")["StreamInfo"]
    assert info["StreamARN"] == arn and info["Status"] == "ACTIVE"
    assert info["DataRetentionInHours"] == 24 and info["MediaType"] == "video/h264"
    assert info["DeviceName"] == "dev"
    assert info["KmsKeyId"].endswith(":alias/aws/kinesisvideo")
    assert len(info["Version"]) == 20 and info["Version"].isalnum()
    assert kv.describe_stream(StreamARN=arn)["StreamInfo"]["StreamName"] == "cam-1"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.create_stream(StreamName="cam-1")
    assert err(e) == "ResourceInUseException"

    for n in ("cam-2", "cam-3", "door-1"):
        kv.create_stream(StreamName=n)
    names = [s["StreamName"] for s in kv.list_streams()["StreamInfoList"]]
    assert names == ["cam-1", "cam-2", "cam-3", "door-1"]
    cond = {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cam"}
    page = kv.list_streams(MaxResults=2, StreamNameCondition=cond)
    assert [s["StreamName"] for s in page["StreamInfoList"]] == ["cam-1", "cam-2"]
    page2 = kv.list_streams(MaxResults=2, StreamNameCondition=cond, NextToken=page["NextToken"])
    assert [s["StreamName"] for s in page2["StreamInfoList"]] == ["cam-3"]
    assert "NextToken" not in page2

    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.delete_stream(StreamARN=arn, CurrentVersion="wrongversion00000000")
    assert err(e) == "VersionMismatchException"
    kv.delete_stream(StreamARN=arn, CurrentVersion=info["Version"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.describe_stream(StreamName="cam-1")
    assert err(e) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.delete_stream(StreamARN=arn)
    assert err(e) == "ResourceNotFoundException"


def test_update_retention_versions(gateway):
    kv = gateway.client("kinesisvideo")
    kv.create_stream(StreamName="s")
    v0 = kv.describe_stream(StreamName="s")["StreamInfo"]["Version"]
    kv.update_stream(StreamName="s", CurrentVersion=v0, MediaType="video/h265", DeviceName="d2")
    i1 = kv.describe_stream(StreamName="s")["StreamInfo"]
    assert i1["Version"] != v0 and i1["MediaType"] == "video/h265" and i1["DeviceName"] == "d2"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.update_stream(StreamName="s", CurrentVersion=v0, MediaType="video/h264")
    assert err(e) == "VersionMismatchException"
    kv.update_data_retention(StreamName="s", CurrentVersion=i1["Version"],
                             Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=10)
    i2 = kv.describe_stream(StreamName="s")["StreamInfo"]
    assert i2["DataRetentionInHours"] == 10
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.update_data_retention(StreamName="s", CurrentVersion=i2["Version"],
                                 Operation="DECREASE_DATA_RETENTION",
                                 DataRetentionChangeInHours=11)
    assert err(e) == "InvalidArgumentException"
    kv.update_data_retention(StreamName="s", CurrentVersion=i2["Version"],
                             Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=4)
    assert kv.describe_stream(StreamName="s")["StreamInfo"]["DataRetentionInHours"] == 6


def test_tags_and_endpoints(gateway):
    kv = gateway.client("kinesisvideo")
    arn = kv.create_stream(StreamName="t", Tags={"a": "1"})["StreamARN"]
    kv.tag_stream(StreamARN=arn, Tags={"b": "2", "a": "3"})
    assert kv.list_tags_for_stream(StreamName="t")["Tags"] == {"a": "3", "b": "2"}
    kv.untag_stream(StreamName="t", TagKeyList=["a"])
    assert kv.list_tags_for_stream(StreamARN=arn)["Tags"] == {"b": "2"}
    kv.tag_resource(ResourceARN=arn, Tags=[{"Key": "c", "Value": "4"}])
    assert kv.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"b": "2", "c": "4"}
    kv.untag_resource(ResourceARN=arn, TagKeyList=["b"])
    assert kv.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"c": "4"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.tag_stream(StreamName="t", Tags={f"k{i}": "v" for i in range(50)})
    assert err(e) == "TagsPerResourceExceededLimitException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.list_tags_for_resource(ResourceARN=arn + "0")
    assert err(e) == "ResourceNotFoundException"
    for api in ("PUT_MEDIA", "GET_MEDIA", "LIST_FRAGMENTS", "GET_MEDIA_FOR_FRAGMENT_LIST",
                "GET_HLS_STREAMING_SESSION_URL", "GET_CLIP"):
        ep = kv.get_data_endpoint(StreamName="t", APIName=api)["DataEndpoint"]
        assert ep == gateway.url
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.get_data_endpoint(StreamName="nope", APIName="PUT_MEDIA")
    assert err(e) == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kv.describe_stream()
    assert err(e) == "InvalidArgumentException"


def test_cli_and_restart(make_gateway):
    gw = make_gateway()
    gw.aws("kinesisvideo", "create-stream", "--stream-name", "cli-cam",
           "--data-retention-in-hours", "3", "--media-type", "video/h264")
    out = json.loads(gw.aws("kinesisvideo", "describe-stream", "--stream-name", "cli-cam").stdout)
    version = out["StreamInfo"]["Version"]
    gw.aws("kinesisvideo", "tag-stream", "--stream-name", "cli-cam", "--tags", "k=v")
    assert gw.stop() == 0
    gw.start()
    kv = gw.client("kinesisvideo")
    info = kv.describe_stream(StreamName="cli-cam")["StreamInfo"]
    assert info["DataRetentionInHours"] == 3 and info["Version"] == version
    assert kv.list_tags_for_stream(StreamName="cli-cam")["Tags"] == {"k": "v"}
    lst = json.loads(gw.aws("kinesisvideo", "list-streams").stdout)
    assert [s["StreamName"] for s in lst["StreamInfoList"]] == ["cli-cam"]
    assert gw.stop() == 0
