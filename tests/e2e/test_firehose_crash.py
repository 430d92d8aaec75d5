"""Crash test: PutRecordBatch under load, kill -9 in the middle, restart on the same data folder;
every record whose PutRecordBatch entry was acknowledged must end up in a delivered object.
Duplicates are allowed (at-least-once); losses are not.
"""
import glob
import os
import threading
import time

ROLE = "arn:aws:iam::123456789012:role/firehose"


def delivered(root):
    seen = set()
    for p in glob.glob(os.path.join(root, "**", "*"), recursive=True):
        if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-"):
            with open(p, "rb") as f:
                seen.update(line for line in f.read().split(b"\n") if line)
    return seen


def test_kill9_loses_no_acknowledged_record(make_gateway):
    gw = make_gateway()
    c = gw.client("firehose", parameter_validation=False)
    c.create_delivery_stream(DeliveryStreamName="crash", ExtendedS3DestinationConfiguration={
        "RoleARN": ROLE, "BucketARN": "arn:aws:s3:::crash",
        "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 1}})
    end = time.time() + 10
    while c.describe_delivery_stream(DeliveryStreamName="crash")[
            "DeliveryStreamDescription"]["DeliveryStreamStatus"] != "ACTIVE":
        assert time.time() < end
        time.sleep(0.05)

    acked, lock, stop, fresh = set(), threading.Lock(), threading.Event(), threading.Event()
    started = threading.Barrier(5)

    def producer(t):
        cl = gw.client("firehose", parameter_validation=False)
        started.wait()
        n = 0
        while not stop.is_set():
            batch = [b"t%d-%d-%s" % (t, n + i, b"p" * 200) for i in range(200)]
            n += 200
            try:
                r = cl.put_record_batch(DeliveryStreamName="crash",
                                        Records=[{"Data": d + b"\n"} for d in batch])
            except Exception:
                return  # the gateway died mid-call: nothing of this call was acknowledged
            with lock:
                for d, e in zip(batch, r["RequestResponses"]):
                    if "RecordId" in e:
                        acked.add(d)
            fresh.set()

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    started.wait()
    time.sleep(2.5)
    # Kill right after an acknowledgement: with only the 1 s interval flushing (the size limit is
    # far away), what was just acknowledged is still waiting in the intake log, even on a machine
    # so loaded that the producers crawl.
    fresh.clear()
    assert fresh.wait(30), "no PutRecordBatch was acknowledged"
    gw.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) > 1000, len(acked)

    root = os.path.join(gw.data_dir, "s3", "crash")
    # Some acknowledged records were still waiting when the process died: the restart has to
    # deliver them from the intake log.
    pending = acked - delivered(root)
    assert pending, "nothing was pending at the crash; the test would prove nothing"
    gw.start()
    end = time.time() + 60
    missing = acked
    while time.time() < end:
        missing = acked - delivered(root)
        if not missing:
            break
        time.sleep(0.2)
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged records lost, e.g. " \
                        f"{sorted(missing)[:3]}"
    print(f"{len(acked)} acknowledged, {len(pending)} pending at the crash, all delivered")
    assert gw.stop() == 0
