"""Crash safety of Kinesis writes: several threads run PutRecords against a real sluiced, the
daemon is killed with SIGKILL mid-load, restarted on the same data folder, and every record
whose sequence number was acknowledged must be readable with exactly the bytes that were sent.
(An acknowledgement is only sent after the fdatasync that covers the record.)"""
import os
import threading
import time

import botocore.exceptions

FAST = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}


def test_kill9_keeps_every_acknowledged_record(make_gateway):
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    k.create_stream(StreamName="crash", ShardCount=4)
    deadline = time.monotonic() + 20
    while k.describe_stream_summary(StreamName="crash")["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    acked = {}  # sequence number -> (shard, key, data)
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def producer(tid):
        c = gw.client("kinesis")
        n = 0
        while not stop.is_set():
            batch = []
            for _ in range(50):
                key = f"t{tid}-{n}"
                batch.append({"PartitionKey": key, "Data": os.urandom(16 + n % 300)})
                n += 1
            try:
                res = c.put_records(StreamName="crash", Records=batch)
            except Exception:  # the daemon died under us: stop
                return
            with lock:
                for rec, out in zip(batch, res["Records"]):
                    if "SequenceNumber" in out:
                        acked[out["SequenceNumber"]] = (out["ShardId"], rec["PartitionKey"],
                                                        rec["Data"])
                    elif out.get("ErrorCode") != "ProvisionedThroughputExceededException":
                        errors.append(out)

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 3000 and time.monotonic() < deadline:
        time.sleep(0.02)
    gw.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert not errors, errors[:3]
    assert len(acked) >= 500, f"only {len(acked)} records acknowledged before the kill"

    gw.start()
    k = gw.client("kinesis")
    found = {}
    for shard in k.list_shards(StreamName="crash")["Shards"]:
        it = k.get_shard_iterator(StreamName="crash", ShardId=shard["ShardId"],
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while True:
            r = k.get_records(ShardIterator=it)
            for x in r["Records"]:
                found[x["SequenceNumber"]] = (shard["ShardId"], x["PartitionKey"], x["Data"])
            if not r["Records"]:
                break
            it = r["NextShardIterator"]
    missing = [s for s in acked if s not in found]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged records lost"
    wrong = [s for s in acked if found[s] != acked[s]]
    assert not wrong, f"{len(wrong)} records changed"
    print(f"acknowledged {len(acked)} records before SIGKILL; all read back after restart "
          f"({len(found)} on disk)")
    # Writing continues after recovery, with larger sequence numbers.
    res = k.put_record(StreamName="crash", Data=b"after", PartitionKey="t0-0")
    shard_max = max(int(s) for s, v in found.items() if v[0] == res["ShardId"])
    assert int(res["SequenceNumber"]) > shard_max
