"""Kinesis enhanced fan-out end to end with boto3 against a real sluiced: consumer registration
and its status, listing and deregistration, and SubscribeToShard as boto3's event stream --
records from every starting position, continuation by ContinuationSequenceNumber, the
one-subscription-per-consumer-and-shard rule, and the end of a closed shard with ChildShards."""
import time

import botocore.exceptions
import pytest

FAST = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}


def make_stream(k, name, shards):
    k.create_stream(StreamName=name, ShardCount=shards)
    deadline = time.monotonic() + 20
    while k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def register(k, stream_arn, name):
    c = k.register_stream_consumer(StreamARN=stream_arn, ConsumerName=name)["Consumer"]
    deadline = time.monotonic() + 20
    while k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"][
            "ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return c["ConsumerARN"]


def collect(events, want, timeout=20):
    """Reads SubscribeToShardEvents until `want` records arrived; returns (records, last event)."""
    got, last = [], None
    deadline = time.monotonic() + timeout
    for ev in events:
        last = ev["SubscribeToShardEvent"]
        got += last["Records"]
        if len(got) >= want:
            break
        assert time.monotonic() < deadline, f"only {len(got)} of {want} records"
    return got, last


@pytest.fixture
def gw(make_gateway):
    return make_gateway(env=FAST)


def test_consumer_lifecycle(gw):
    k = gw.client("kinesis")
    arn = make_stream(k, "fan", 1)
    c = k.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert c["ConsumerName"] == "app"
    assert c["ConsumerARN"].startswith(arn + "/consumer/app:")
    assert c["ConsumerStatus"] in ("CREATING", "ACTIVE")
    d = k.describe_stream_consumer(StreamARN=arn, ConsumerName="app")["ConsumerDescription"]
    assert d["ConsumerARN"] == c["ConsumerARN"] and d["StreamARN"] == arn
    with pytest.raises(k.exceptions.ResourceInUseException):
        k.register_stream_consumer(StreamARN=arn, ConsumerName="app")
    k.register_stream_consumer(StreamARN=arn, ConsumerName="other")
    names = [x["ConsumerName"] for x in k.list_stream_consumers(StreamARN=arn)["Consumers"]]
    assert names == ["app", "other"]
    page = k.list_stream_consumers(StreamARN=arn, MaxResults=1)
    assert [x["ConsumerName"] for x in page["Consumers"]] == ["app"]
    rest = k.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"])
    assert [x["ConsumerName"] for x in rest["Consumers"]] == ["other"]
    assert k.describe_stream_summary(StreamName="fan")["StreamDescriptionSummary"][
        "ConsumerCount"] == 2
    # A stream with consumers is only deleted when asked to take them along.
    with pytest.raises(k.exceptions.ResourceInUseException):
        k.delete_stream(StreamName="fan")
    k.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])
    deadline = time.monotonic() + 20
    while True:
        names = [x["ConsumerName"] for x in k.list_stream_consumers(StreamARN=arn)["Consumers"]]
        if names == ["other"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(k.exceptions.ResourceNotFoundException):
        k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
    k.delete_stream(StreamName="fan", EnforceConsumerDeletion=True)


def test_subscribe_reads_and_continues(gw):
    k = gw.client("kinesis")
    arn = make_stream(k, "sub", 1)
    carn = register(k, arn, "reader")
    sid = "shardId-000000000000"
    sent = [k.put_record(StreamName="sub", Data=f"d{i}".encode(), PartitionKey=f"p{i}")[
        "SequenceNumber"] for i in range(30)]

    out = k.subscribe_to_shard(ConsumerARN=carn, ShardId=sid,
                               StartingPosition={"Type": "TRIM_HORIZON"})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    events = out["EventStream"]
    recs, last = collect(events, 30)
    assert [r["SequenceNumber"] for r in recs] == sent
    assert [r["Data"] for r in recs] == [f"d{i}".encode() for i in range(30)]
    assert last["ContinuationSequenceNumber"] == sent[-1]
    # Live records arrive on the open subscription.
    more = [k.put_record(StreamName="sub", Data=b"live", PartitionKey="p")["SequenceNumber"]]
    recs, last = collect(events, 1)
    assert [r["SequenceNumber"] for r in recs] == more
    # A second subscription for the same consumer and shard within 5 s is refused.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.subscribe_to_shard(ConsumerARN=carn, ShardId=sid,
                             StartingPosition={"Type": "LATEST"})
    assert ei.value.response["Error"]["Code"] == "ResourceInUseException"
    events.close()

    # Resubscribing after the last continuation number delivers only what came later.
    cont = last["ContinuationSequenceNumber"]
    later = [k.put_record(StreamName="sub", Data=b"later", PartitionKey="p")["SequenceNumber"]]
    deadline = time.monotonic() + 20
    while True:  # the closed subscription goes away once the server notices
        try:
            out = k.subscribe_to_shard(ConsumerARN=carn, ShardId=sid, StartingPosition={
                "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": cont})
            break
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceInUseException"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    recs, last = collect(out["EventStream"], 1)
    assert [r["SequenceNumber"] for r in recs] == later
    out["EventStream"].close()


def test_idle_continuation_resumes_exactly(gw):
    k = gw.client("kinesis")
    arn = make_stream(k, "idle", 1)
    carn = register(k, arn, "r")
    sid = "shardId-000000000000"
    k.put_record(StreamName="idle", Data=b"before", PartitionKey="p")
    out = k.subscribe_to_shard(ConsumerARN=carn, ShardId=sid, StartingPosition={"Type": "LATEST"})
    events = out["EventStream"]
    first = next(iter(events))["SubscribeToShardEvent"]  # an idle event, after about 5 s
    assert first["Records"] == []
    cont = first["ContinuationSequenceNumber"]
    assert len(cont) == 56
    events.close()
    # A record written now must be delivered to a subscription continuing after `cont`.
    written = k.put_record(StreamName="idle", Data=b"after", PartitionKey="p")["SequenceNumber"]
    deadline = time.monotonic() + 20
    while True:
        try:
            out = k.subscribe_to_shard(ConsumerARN=carn, ShardId=sid, StartingPosition={
                "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": cont})
            break
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceInUseException"
            assert time.monotonic() < deadline
            time.sleep(0.2)
    recs, _ = collect(out["EventStream"], 1)
    assert [r["SequenceNumber"] for r in recs] == [written]
    out["EventStream"].close()


def test_subscription_ends_at_closed_shard_with_children(gw):
    k = gw.client("kinesis")
    arn = make_stream(k, "closing", 1)
    carn = register(k, arn, "r")
    sent = [k.put_record(StreamName="closing", Data=b"x", PartitionKey=f"p{i}")[
        "SequenceNumber"] for i in range(5)]
    k.split_shard(StreamName="closing", ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(2 ** 127))
    out = k.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000000",
                               StartingPosition={"Type": "TRIM_HORIZON"})
    evs = [e["SubscribeToShardEvent"] for e in out["EventStream"]]  # ends by itself
    recs = [r["SequenceNumber"] for e in evs for r in e["Records"]]
    assert recs == sent
    assert sorted(c["ShardId"] for c in evs[-1]["ChildShards"]) == ["shardId-000000000001",
                                                                   "shardId-000000000002"]
    assert evs[-1].get("ContinuationSequenceNumber") is None
