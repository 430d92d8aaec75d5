"""Kinesis Data Streams control plane end to end with boto3 against a real sluiced: stream
lifecycle (CREATING -> ACTIVE -> DELETING -> gone), descriptions, the even hash split, ListShards
paging and filters, retention rules, tags, enhanced monitoring, resharding lineage, the exact
error texts, and persistence of all of it across a restart."""
import json
import time

import botocore.exceptions
import pytest

import sigv4_client

ACCOUNT = "000000000000"
FAST = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}


def wait_status(k, name, want, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            st = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            status = st["StreamStatus"]
        except k.exceptions.ResourceNotFoundException:
            status = None
        if status == want:
            return
        assert time.monotonic() < deadline, f"{name} stuck in {status}, wanted {want}"
        time.sleep(0.05)


def raw_call(gw, target, body):
    """A signed JSON 1.1 call made without botocore, for members Debian's botocore predates
    (StreamARN, Tags on CreateStream). Returns (status, decoded body or None)."""
    data = json.dumps(body).encode()
    h = {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": f"Kinesis_20131202.{target}"}
    h = sigv4_client.sign_headers("POST", gw.url + "/", h, data, gw.access_key, gw.secret_key,
                                  gw.region, "kinesis")
    status, _, out = sigv4_client.post(gw.url + "/", h, data)
    return status, (json.loads(out) if out else None)


def error_of(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


@pytest.fixture
def fast(make_gateway):
    return make_gateway(env=FAST)


def test_lifecycle_with_default_delay(gateway):
    k = gateway.client("kinesis")
    assert k.create_stream(StreamName="life", ShardCount=2)["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    d = k.describe_stream(StreamName="life")["StreamDescription"]
    assert d["StreamStatus"] == "CREATING"
    assert d["Shards"] == []
    assert d["RetentionPeriodHours"] == 24
    assert d["EncryptionType"] == "NONE"
    assert d["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert d["StreamARN"] == f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/life"
    # Data operations do not see a CREATING stream.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.put_record(StreamName="life", Data=b"x", PartitionKey="p")
    assert error_of(ei) == ("ResourceNotFoundException",
                            f"Stream life under account {ACCOUNT} not found.")
    wait_status(k, "life", "ACTIVE")
    assert len(k.describe_stream(StreamName="life")["StreamDescription"]["Shards"]) == 2
    names = k.list_streams()
    assert names["StreamNames"] == ["life"]
    if "StreamSummaries" in names:  # botocore versions that know the member
        assert names["StreamSummaries"][0]["StreamStatus"] == "ACTIVE"
    k.delete_stream(StreamName="life")
    st = k.describe_stream_summary(StreamName="life")["StreamDescriptionSummary"]
    assert st["StreamStatus"] == "DELETING"
    deadline = time.monotonic() + 20
    while k.list_streams()["StreamNames"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(k.exceptions.ResourceNotFoundException):
        k.describe_stream(StreamName="life")


def test_even_split_and_descriptions(fast):
    k = fast.client("kinesis")
    k.create_stream(StreamName="three", ShardCount=3)
    wait_status(k, "three", "ACTIVE")
    d = k.describe_stream(StreamName="three")["StreamDescription"]
    ranges = [(s["ShardId"], s["HashKeyRange"]["StartingHashKey"],
               s["HashKeyRange"]["EndingHashKey"]) for s in d["Shards"]]
    assert ranges == [
        ("shardId-000000000000", "0", "113427455640312821154458202477256070484"),
        ("shardId-000000000001", "113427455640312821154458202477256070485",
         "226854911280625642308916404954512140969"),
        ("shardId-000000000002", "226854911280625642308916404954512140970",
         "340282366920938463463374607431768211455"),
    ]
    assert d["HasMoreShards"] is False
    for s in d["Shards"]:
        start = s["SequenceNumberRange"]["StartingSequenceNumber"]
        assert len(start) == 56 and start.isdigit()
        assert "EndingSequenceNumber" not in s["SequenceNumberRange"]
    page = k.describe_stream(StreamName="three", Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in page["Shards"]] == ["shardId-000000000000",
                                                      "shardId-000000000001"]
    assert page["HasMoreShards"] is True
    rest = k.describe_stream(StreamName="three", ExclusiveStartShardId="shardId-000000000001")
    assert [s["ShardId"] for s in rest["StreamDescription"]["Shards"]] == ["shardId-000000000002"]
    summ = k.describe_stream_summary(StreamName="three")["StreamDescriptionSummary"]
    assert summ["OpenShardCount"] == 3
    assert summ["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    arn = summ["StreamARN"]
    status, out = raw_call(fast, "DescribeStreamSummary", {"StreamARN": arn})
    assert status == 200 and out["StreamDescriptionSummary"]["StreamName"] == "three"
    status, out = raw_call(fast, "DescribeStreamSummary",
                           {"StreamARN": arn.replace("three", "other")})
    assert status == 400 and out["__type"] == "ResourceNotFoundException"
    lim = k.describe_limits()
    assert lim["OpenShardCount"] == 3
    assert lim["ShardLimit"] >= 3


def test_create_errors(fast):
    k = fast.client("kinesis")
    k.create_stream(StreamName="dup", ShardCount=1)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.create_stream(StreamName="dup", ShardCount=1)
    assert error_of(ei) == ("ResourceInUseException",
                            f"Stream dup under account {ACCOUNT} already exists.")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.create_stream(StreamName="big", ShardCount=100000)
    code, msg = error_of(ei)
    assert code == "LimitExceededException"
    assert msg.startswith(f"This request would exceed the shard limit for the account {ACCOUNT}")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.describe_stream(StreamName="nope")
    assert error_of(ei) == ("ResourceNotFoundException",
                            f"Stream nope under account {ACCOUNT} not found.")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.create_stream(StreamName="bad name!", ShardCount=1)
    assert error_of(ei)[0] == "ValidationException"
    k.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_status(k, "od", "ACTIVE")
    summ = k.describe_stream_summary(StreamName="od")["StreamDescriptionSummary"]
    assert summ["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summ["OpenShardCount"] == 4


def test_list_shards_paging_and_filters(fast):
    k = fast.client("kinesis")
    k.create_stream(StreamName="ls", ShardCount=5)
    wait_status(k, "ls", "ACTIVE")
    first = k.list_shards(StreamName="ls", MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000",
                                                       "shardId-000000000001"]
    seen = [s["ShardId"] for s in first["Shards"]]
    token = first["NextToken"]
    while token:
        page = k.list_shards(NextToken=token, MaxResults=2)
        seen += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
    assert seen == [f"shardId-{i:012d}" for i in range(5)]
    all_at_once = k.list_shards(StreamName="ls")
    assert "NextToken" not in all_at_once
    assert len(all_at_once["Shards"]) == 5
    after = k.list_shards(StreamName="ls", ExclusiveStartShardId="shardId-000000000002")
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000003",
                                                       "shardId-000000000004"]
    f = k.list_shards(StreamName="ls", ShardFilter={"Type": "AFTER_SHARD_ID",
                                                    "ShardId": "shardId-000000000003"})
    assert [s["ShardId"] for s in f["Shards"]] == ["shardId-000000000004"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.list_shards(StreamName="ls", NextToken=token or first["NextToken"])
    assert error_of(ei) == ("InvalidArgumentException",
                            "NextToken and StreamName cannot be provided together.")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.list_shards(NextToken="AAAA" * 40)
    assert error_of(ei)[0] == "InvalidArgumentException"
    # Split a shard: AT_LATEST shows only open shards, FROM_TRIM_HORIZON all.
    k.split_shard(StreamName="ls", ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(2 ** 128 // 10))
    wait_status(k, "ls", "ACTIVE")
    latest = [s["ShardId"] for s in
              k.list_shards(StreamName="ls", ShardFilter={"Type": "AT_LATEST"})["Shards"]]
    assert "shardId-000000000000" not in latest and len(latest) == 6
    everything = k.list_shards(StreamName="ls")["Shards"]
    assert len(everything) == 7
    roots = [s["ShardId"] for s in
             k.list_shards(StreamName="ls", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]]
    assert roots == [f"shardId-{i:012d}" for i in range(5)]


def test_split_and_merge_lineage(fast):
    k = fast.client("kinesis")
    k.create_stream(StreamName="rs", ShardCount=2)
    wait_status(k, "rs", "ACTIVE")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.split_shard(StreamName="rs", ShardToSplit="shardId-000000000000",
                      NewStartingHashKey="1")
    code, msg = error_of(ei)
    assert code == "InvalidArgumentException"
    assert msg.startswith("NewStartingHashKey 1 used in SplitShard() on shard "
                          "shardId-000000000000 in stream rs under account")
    half = 2 ** 127
    k.split_shard(StreamName="rs", ShardToSplit="shardId-000000000001",
                  NewStartingHashKey=str(half + 2 ** 126))
    wait_status(k, "rs", "ACTIVE")
    shards = {s["ShardId"]: s for s in k.list_shards(StreamName="rs")["Shards"]}
    assert shards["shardId-000000000002"]["ParentShardId"] == "shardId-000000000001"
    assert shards["shardId-000000000003"]["ParentShardId"] == "shardId-000000000001"
    assert shards["shardId-000000000002"]["HashKeyRange"] == {
        "StartingHashKey": str(half), "EndingHashKey": str(half + 2 ** 126 - 1)}
    assert "EndingSequenceNumber" in shards["shardId-000000000001"]["SequenceNumberRange"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000000",
                       AdjacentShardToMerge="shardId-000000000003")
    assert error_of(ei) == ("InvalidArgumentException",
                            "Shards shardId-000000000000 and shardId-000000000003 in stream rs "
                            f"under account {ACCOUNT} are not an adjacent pair of shards "
                            "eligible for merging")
    k.merge_shards(StreamName="rs", ShardToMerge="shardId-000000000000",
                   AdjacentShardToMerge="shardId-000000000002")
    wait_status(k, "rs", "ACTIVE")
    shards = {s["ShardId"]: s for s in k.list_shards(StreamName="rs")["Shards"]}
    child = shards["shardId-000000000004"]
    assert child["ParentShardId"] == "shardId-000000000000"
    assert child["AdjacentParentShardId"] == "shardId-000000000002"
    assert child["HashKeyRange"] == {"StartingHashKey": "0",
                                     "EndingHashKey": str(half + 2 ** 126 - 1)}
    assert k.describe_stream_summary(StreamName="rs")["StreamDescriptionSummary"][
        "OpenShardCount"] == 2


def test_retention_tags_monitoring(fast):
    k = fast.client("kinesis")
    k.create_stream(StreamName="rt", ShardCount=1)
    wait_status(k, "rt", "ACTIVE")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.decrease_stream_retention_period(StreamName="rt", RetentionPeriodHours=23)
    assert error_of(ei) == ("InvalidArgumentException",
                            "Minimum allowed retention period is 24 hours. Requested retention "
                            "period (23 hours) is too short.")
    k.increase_stream_retention_period(StreamName="rt", RetentionPeriodHours=48)
    assert k.describe_stream_summary(StreamName="rt")["StreamDescriptionSummary"][
        "RetentionPeriodHours"] == 48
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.increase_stream_retention_period(StreamName="rt", RetentionPeriodHours=30)
    assert error_of(ei) == ("InvalidArgumentException",
                            "Requested retention period (30 hours) for stream rt can not be "
                            "shorter than existing retention period (48 hours). Use "
                            "DecreaseRetentionPeriod API.")
    k.decrease_stream_retention_period(StreamName="rt", RetentionPeriodHours=24)

    k.add_tags_to_stream(StreamName="rt", Tags={"b": "2", "a": "1", "c": ""})
    tags = k.list_tags_for_stream(StreamName="rt")
    assert tags["Tags"] == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"},
                            {"Key": "c", "Value": ""}]
    assert tags["HasMoreTags"] is False
    page = k.list_tags_for_stream(StreamName="rt", Limit=1, ExclusiveStartTagKey="a")
    assert page["Tags"] == [{"Key": "b", "Value": "2"}] and page["HasMoreTags"] is True
    k.remove_tags_from_stream(StreamName="rt", TagKeys=["b", "zz"])
    assert [t["Key"] for t in k.list_tags_for_stream(StreamName="rt")["Tags"]] == ["a", "c"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.add_tags_to_stream(StreamName="rt", Tags={"bad#": "x"})
    assert error_of(ei)[0] == "InvalidArgumentException"

    out = k.enable_enhanced_monitoring(StreamName="rt", ShardLevelMetrics=["IncomingBytes"])
    assert out["CurrentShardLevelMetrics"] == []
    assert out["DesiredShardLevelMetrics"] == ["IncomingBytes"]
    out = k.enable_enhanced_monitoring(StreamName="rt", ShardLevelMetrics=["ALL"])
    assert len(out["DesiredShardLevelMetrics"]) == 7
    out = k.disable_enhanced_monitoring(StreamName="rt", ShardLevelMetrics=["IncomingBytes"])
    assert "IncomingBytes" not in out["DesiredShardLevelMetrics"]
    em = k.describe_stream(StreamName="rt")["StreamDescription"]["EnhancedMonitoring"]
    assert len(em[0]["ShardLevelMetrics"]) == 6


def test_state_survives_restart(make_gateway):
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    status, _ = raw_call(gw, "CreateStream", {"StreamName": "keep", "ShardCount": 2,
                                              "Tags": {"team": "data"}})
    assert status == 200
    wait_status(k, "keep", "ACTIVE")
    k.increase_stream_retention_period(StreamName="keep", RetentionPeriodHours=72)
    k.split_shard(StreamName="keep", ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(2 ** 125))
    k.create_stream(StreamName="gone", ShardCount=1)
    wait_status(k, "gone", "ACTIVE")
    k.delete_stream(StreamName="gone")
    before = k.list_shards(StreamName="keep")["Shards"]
    assert gw.stop() == 0
    gw.start()
    k = gw.client("kinesis")
    summ = k.describe_stream_summary(StreamName="keep")["StreamDescriptionSummary"]
    assert summ["StreamStatus"] == "ACTIVE"
    assert summ["RetentionPeriodHours"] == 72
    assert k.list_shards(StreamName="keep")["Shards"] == before
    assert k.list_tags_for_stream(StreamName="keep")["Tags"] == [{"Key": "team",
                                                                 "Value": "data"}]
    with pytest.raises(k.exceptions.ResourceNotFoundException):
        k.describe_stream(StreamName="gone")
    assert k.list_streams()["StreamNames"] == ["keep"]


def test_list_streams_first_after_restart(make_gateway):
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    k.create_stream(StreamName="first", ShardCount=1)
    wait_status(k, "first", "ACTIVE")
    assert gw.stop() == 0
    gw.start()
    assert gw.client("kinesis").list_streams()["StreamNames"] == ["first"]


def test_cli_create_describe(fast):
    import json
    fast.aws("kinesis", "create-stream", "--stream-name", "cli", "--shard-count", "1")
    wait_status(fast.client("kinesis"), "cli", "ACTIVE")
    d = json.loads(fast.aws("kinesis", "describe-stream", "--stream-name", "cli").stdout)
    assert d["StreamDescription"]["Shards"][0]["ShardId"] == "shardId-000000000000"


def test_arn_tags_record_size_and_mode(fast):
    k = fast.client("kinesis")
    k.create_stream(StreamName="arn", ShardCount=1)
    wait_status(k, "arn", "ACTIVE")
    arn = k.describe_stream_summary(StreamName="arn")["StreamDescriptionSummary"]["StreamARN"]
    assert raw_call(fast, "TagResource", {"ResourceARN": arn, "Tags": {"x": "1", "y": "2"}})[0] \
        == 200
    assert raw_call(fast, "UntagResource", {"ResourceARN": arn, "TagKeys": ["x"]})[0] == 200
    status, out = raw_call(fast, "ListTagsForResource", {"ResourceARN": arn})
    assert status == 200 and out["Tags"] == [{"Key": "y", "Value": "2"}]
    assert k.list_tags_for_stream(StreamName="arn")["Tags"] == [{"Key": "y", "Value": "2"}]
    status, out = raw_call(fast, "ListTagsForResource", {"ResourceARN": arn + "x"})
    assert status == 400 and out["__type"] == "ResourceNotFoundException"

    big = b"\x07" * (1536 * 1024)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.put_record(StreamName="arn", Data=big, PartitionKey="p")
    assert error_of(ei)[0] == "InvalidArgumentException"
    assert raw_call(fast, "UpdateMaxRecordSize", {"StreamARN": arn,
                                                  "MaxRecordSizeInKiB": 2048})[0] == 200
    assert k.describe_stream_summary(StreamName="arn")["StreamDescriptionSummary"].get(
        "MaxRecordSizeInKiB", 2048) == 2048
    seq = k.put_record(StreamName="arn", Data=big, PartitionKey="p")["SequenceNumber"]
    it = k.get_shard_iterator(StreamName="arn", ShardId="shardId-000000000000",
                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                              StartingSequenceNumber=seq)["ShardIterator"]
    assert k.get_records(ShardIterator=it)["Records"][0]["Data"] == big

    k.update_stream_mode(StreamARN=arn, StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_status(k, "arn", "ACTIVE")
    assert k.describe_stream_summary(StreamName="arn")["StreamDescriptionSummary"][
        "StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
