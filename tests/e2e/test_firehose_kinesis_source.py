"""Firehose with a Sluice data stream as its source (KinesisStreamAsSource).

Records are written with Kinesis PutRecords before, between and after a SplitShard and a
MergeShards; the delivery stream must deliver every one of them, and for every partition key
in the order they were written (a key's records move from parent to child shards on resharding,
so this checks that parents are read to their end before children). A restart in the middle
must resume from the checkpoint without losing records. PutRecord on such a stream is refused.
"""
import glob
import os
import time

import pytest

ROLE = "arn:aws:iam::123456789012:role/firehose"


def files(root):
    return sorted(p for p in glob.glob(os.path.join(root, "**", "*"), recursive=True)
                  if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-"))


def delivered_lines(root):
    """Lines in delivery order: objects by name (time-stamped, same second -> any order is
    checked per object below), lines within an object in order."""
    out = []
    for p in files(root):
        out.append(open(p, "rb").read().split(b"\n")[:-1])
    return out


def wait_stream(k, name):
    end = time.time() + 20
    while k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.time() < end
        time.sleep(0.05)


def put(k, name, keys, rnd, n=20):
    r = k.put_records(StreamName=name, Records=[
        {"PartitionKey": key, "Data": b"%s:%d:%d\n" % (key.encode(), rnd, i)}
        for i in range(n) for key in keys])
    assert r["FailedRecordCount"] == 0


def test_split_merge_restart(make_gateway):
    gw = make_gateway(env={"SLUICE_KINESIS_STATUS_DELAY_MS": "50"})
    k = gw.client("kinesis")
    c = gw.client("firehose", parameter_validation=False)
    k.create_stream(StreamName="src", ShardCount=2)
    wait_stream(k, "src")
    arn = k.describe_stream_summary(StreamName="src")["StreamDescriptionSummary"]["StreamARN"]
    keys = [f"key{i}" for i in range(12)]
    put(k, "src", keys, 0)  # before the delivery stream exists: not delivered (start time)
    time.sleep(0.05)
    c.create_delivery_stream(
        DeliveryStreamName="fromk", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::ks",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1}})
    end = time.time() + 10
    while True:
        d = c.describe_delivery_stream(DeliveryStreamName="fromk")["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == "ACTIVE":
            break
        assert time.time() < end
        time.sleep(0.05)
    assert d["DeliveryStreamType"] == "KinesisStreamAsSource"
    src = d["Source"]["KinesisStreamSourceDescription"]
    assert src["KinesisStreamARN"] == arn and src["RoleARN"] == ROLE
    assert "DeliveryStartTimestamp" in src
    assert c.list_delivery_streams(DeliveryStreamType="KinesisStreamAsSource")[
        "DeliveryStreamNames"] == ["fromk"]
    with pytest.raises(Exception) as ei:
        c.put_record(DeliveryStreamName="fromk", Record={"Data": b"x"})
    assert "InvalidArgumentException" in str(ei.value)

    put(k, "src", keys, 1)
    shards = k.list_shards(StreamName="src")["Shards"]
    s0 = shards[0]
    lo, hi = int(s0["HashKeyRange"]["StartingHashKey"]), int(s0["HashKeyRange"]["EndingHashKey"])
    k.split_shard(StreamName="src", ShardToSplit=s0["ShardId"],
                  NewStartingHashKey=str((lo + hi) // 2))
    wait_stream(k, "src")
    put(k, "src", keys, 2)
    # Restart between resharding operations: delivery resumes from the checkpoints.
    root = os.path.join(gw.data_dir, "s3", "ks")
    end = time.time() + 20
    while not files(root) and time.time() < end:
        time.sleep(0.05)
    assert gw.stop() == 0
    gw.start()
    k = gw.client("kinesis")
    open_shards = [s for s in k.list_shards(StreamName="src")["Shards"]
                   if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    open_shards.sort(key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
    k.merge_shards(StreamName="src", ShardToMerge=open_shards[0]["ShardId"],
                   AdjacentShardToMerge=open_shards[1]["ShardId"])
    wait_stream(k, "src")
    put(k, "src", keys, 3)

    want = {b"%s:%d:%d" % (key.encode(), rnd, i)
            for rnd in (1, 2, 3) for i in range(20) for key in keys}
    end = time.time() + 30
    got = []
    while time.time() < end:
        got = [line for obj in delivered_lines(root) for line in obj]
        if want <= set(got):
            break
        time.sleep(0.1)
    missing = want - set(got)
    assert not missing, f"{len(missing)} records missing, e.g. {sorted(missing)[:3]}"
    assert not any(line.split(b":")[1] == b"0" for line in got), "pre-start records delivered"
    # Per key, records appear in the order written (rounds are separated by the resharding,
    # and a round's records of one key are in one shard).
    seen = {}
    for obj in delivered_lines(root):
        last = {}
        for line in obj:
            key, rnd, i = line.split(b":")
            pos = (int(rnd), int(i))
            assert pos > last.get(key, (-1, -1)), f"{line} after {last[key]}"
            last[key] = pos
        for key, pos in last.items():
            seen[key] = max(seen.get(key, (-1, -1)), pos)
    assert gw.stop() == 0


def test_source_must_exist(gateway):
    c = gateway.client("firehose", parameter_validation=False)
    with pytest.raises(Exception) as ei:
        c.create_delivery_stream(
            DeliveryStreamName="nosrc", DeliveryStreamType="KinesisStreamAsSource",
            KinesisStreamSourceConfiguration={
                "KinesisStreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/none",
                "RoleARN": ROLE},
            ExtendedS3DestinationConfiguration={"RoleARN": ROLE,
                                                "BucketARN": "arn:aws:s3:::x"})
    assert "InvalidArgumentException" in str(ei.value) and "not found" in str(ei.value)
