"""Randomized model tests of Kinesis Data Streams against a real sluiced, with boto3.

One client (over JSON, and over CBOR as the Java SDK, the KPL and the KCL send it): a seeded
random mix of PutRecord (plain, with ExplicitHashKey, with SequenceNumberForOrdering) and
PutRecords (by stream name or ARN), StartStreamEncryption / StopStreamEncryption, SplitShard,
MergeShards, UpdateShardCount, DeleteStream and CreateStream again under the same name, clean
restarts and kill -9. Several clients: threads putting records of their own partition keys
while another reshards. Each run ends by reading every shard ever made from TRIM_HORIZON to its end and
checking, against what the clients were told (a third run consumes the same kind of load live
with SubscribeToShard, shard by shard along the lineage, and checks the same; a fourth overruns
the AWS shard limits and checks that exactly the accepted records were stored):

- every acknowledged record is read exactly once, from the shard its put named, with its bytes,
  its partition key and its sequence number; nothing else is read;
- within a shard sequence numbers strictly increase (also across restarts); each record's hash
  key (MD5 of the partition key, or the explicit one) lies in its shard's range;
- the order a consumer sees when it finishes a shard's parents before the shard (as the KCL does):
  each hash key's records, read root to leaf through the shards that held it, come in the order
  they were put;
- GetShardIterator AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER and AT_TIMESTAMP (at a record's
  ApproximateArrivalTimestamp) start at the right record, for a sample of every shard;
- the open shards tile [0, 2^128 - 1]; a shard's parents (at most the two ListShards names) are
  closed, next to each other and cover it; every closed shard has an EndingSequenceNumber at or
  after its StartingSequenceNumber and its last record; reading it to its end gives a null
  NextShardIterator and, as ChildShards, exactly the shards naming it as parent.

The seed is printed; rerun one with SL_SEED=<n>."""
import datetime
import hashlib
import json
import os
import random
import threading
import time

import cbor2
import pytest

import sigv4_client
import test_kinesis_cbor as kcbor
from test_kinesis_fanout import register
from aws_models import kinesis_model_dir

# Debian's botocore (1.29) predates StreamARN on PutRecord(s): boto3 reads the shared model
# instead (AWS_DATA_PATH, before the first boto3 session of this process).
os.environ["AWS_DATA_PATH"] = kinesis_model_dir()

FAST = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}
TOP = 2**128 - 1
KEYS = [f"pk-{i}" for i in range(12)]


def seeded():
    seed = int(os.environ.get("SL_SEED") or time.time_ns() % 10**9)
    print(f"kinesis model seed {seed} (rerun with SL_SEED={seed})")
    return seed, random.Random(seed)


def make_stream(k, shards):
    k.create_stream(StreamName="m", ShardCount=shards)
    wait_active(k)


def wait_active(k, name="m"):
    deadline = time.monotonic() + 30
    while k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, "stream never became ACTIVE"
        time.sleep(0.02)


def all_shards(k, name="m"):
    shards, token = [], None
    while True:
        r = k.list_shards(NextToken=token) if token else k.list_shards(StreamName=name)
        shards += r["Shards"]
        token = r.get("NextToken")
        if not token:
            return shards


def rng_of(sh):
    r = sh["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def is_open(sh):
    return "EndingSequenceNumber" not in sh["SequenceNumberRange"]


def read_shard(k, shard_id, limit):
    """Every record of the shard, read `limit` at most per GetRecords, and the last answer
    (closed: NextShardIterator null; open: caught up)."""
    it = k.get_shard_iterator(StreamName="m", ShardId=shard_id,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    for _ in range(100000):
        r = k.get_records(ShardIterator=it, Limit=limit)
        assert len(r["Records"]) <= limit
        out += r["Records"]
        if r.get("NextShardIterator") is None:
            return out, r
        if not r["Records"] and r["MillisBehindLatest"] == 0:
            return out, r
        it = r["NextShardIterator"]
    raise AssertionError(f"{shard_id} never ended")


class CborKinesis:
    """The calls these tests make, over AWS CBOR 1.1 (what the Java SDK, the KPL and the KCL
    send) instead of JSON, built and read by hand with cbor2 (test_kinesis_cbor.py's reader:
    tag 1 is epoch milliseconds), answering what boto3 would: timestamps as datetimes."""

    def __init__(self, gw):
        self.gw = gw

    @staticmethod
    def _out(v):
        if isinstance(v, kcbor.EpochMs):
            return datetime.datetime.fromtimestamp(v / 1000, tz=datetime.timezone.utc)
        if isinstance(v, dict):
            return {key: CborKinesis._out(x) for key, x in v.items()}
        if isinstance(v, list):
            return [CborKinesis._out(x) for x in v]
        return v

    def __getattr__(self, name):
        op = "".join(w.capitalize() for w in name.split("_"))

        def call(**req):
            for key, v in req.items():
                if isinstance(v, datetime.datetime):
                    req[key] = cbor2.CBORTag(1, int(v.timestamp() * 1000))
            status, _, data = kcbor.raw_call(self.gw, op, cbor2.dumps(req))
            out = kcbor.loads(data) if data else {}
            assert status == 200, (op, status, out)
            return self._out(out)

        return call


def raw_iterator(gw, body):
    """GetShardIterator signed by hand (Debian's botocore cuts the timestamp to whole seconds)."""
    data = json.dumps(body).encode()
    h = {"Content-Type": "application/x-amz-json-1.1",
         "X-Amz-Target": "Kinesis_20131202.GetShardIterator"}
    h = sigv4_client.sign_headers("POST", gw.url + "/", h, data, gw.access_key, gw.secret_key,
                                  gw.region, "kinesis")
    status, _, out = sigv4_client.post(gw.url + "/", h, data)
    assert status == 200, out
    return json.loads(out)["ShardIterator"]


def first_record(k, shard_id, iterator=None, **position):
    """Sequence number of the first record an iterator at `position` reads (None: none)."""
    it = iterator or k.get_shard_iterator(StreamName="m", ShardId=shard_id,
                                          **position)["ShardIterator"]
    for _ in range(1000):
        r = k.get_records(ShardIterator=it, Limit=1)
        if r["Records"]:
            return r["Records"][0]["SequenceNumber"]
        it = r.get("NextShardIterator")
        if it is None or r["MillisBehindLatest"] == 0:
            return None
    raise AssertionError(f"{shard_id}: no end after 1000 empty reads")


def verify(gw, k, acked, groups):
    """Reads every shard to its end and checks the read records against `acked` (dicts: seq,
    shard, key, hash, data) and `groups` (lists of sequence numbers that must be read in that
    order when each shard's parents are read before it)."""
    shards = {s["ShardId"]: s for s in all_shards(k)}
    # the open shards tile the hash space
    tiles = sorted(rng_of(s) for s in shards.values() if is_open(s))
    assert tiles[0][0] == 0 and tiles[-1][1] == TOP
    assert all(a[1] + 1 == b[0] for a, b in zip(tiles, tiles[1:])), tiles
    # lineage: parents exist and are closed, and together cover their child
    children = {}
    for s in shards.values():
        parents = [p for p in (s.get("ParentShardId"), s.get("AdjacentParentShardId")) if p]
        for p in parents:
            assert p in shards and not is_open(shards[p]), (s["ShardId"], p)
            children.setdefault(p, []).append(s["ShardId"])
        if parents:
            spans = sorted(rng_of(shards[p]) for p in parents)
            assert all(x[1] + 1 == y[0] for x, y in zip(spans, spans[1:])), s["ShardId"]
            lo, hi = rng_of(s)
            assert spans[0][0] <= lo and hi <= spans[-1][1], s["ShardId"]

    read, in_shard, full = {}, {}, {}
    for n, (sid, sh) in enumerate(sorted(shards.items())):
        recs, last = read_shard(k, sid, (1, 7, 100, 10000)[n % 4])
        lo, hi = rng_of(sh)
        prev = -1
        for x in recs:
            seq = int(x["SequenceNumber"])
            assert seq > prev, f"{sid}: sequence numbers out of order"
            prev = seq
            assert x["SequenceNumber"] not in read, f"{x['SequenceNumber']} read twice"
            read[x["SequenceNumber"]] = (sid, x)
        in_shard[sid] = [x["SequenceNumber"] for x in recs]
        full[sid] = recs
        if is_open(sh):
            assert last.get("NextShardIterator") is not None
        else:
            assert last.get("NextShardIterator") is None, sid
            assert sorted(c["ShardId"] for c in last["ChildShards"]) == \
                sorted(children.get(sid, [])), sid
            ending = int(sh["SequenceNumberRange"]["EndingSequenceNumber"])
            assert ending >= int(sh["SequenceNumberRange"]["StartingSequenceNumber"]), sid
            assert ending >= prev, sid
        for a in (a for a in acked if a["shard"] == sid):
            assert lo <= a["hash"] <= hi, f"{a['key']} routed to {sid} outside its range"

    assert len(read) == len(acked), (len(read), len(acked))
    by_seq = {}
    for a in acked:
        assert a["seq"] in read, f"acknowledged {a['seq']} on {a['shard']} lost"
        sid, x = read[a["seq"]]
        assert sid == a["shard"]
        assert (x["PartitionKey"], x["Data"]) == (a["key"], a["data"])
        if "enc" in a:
            assert x.get("EncryptionType", "NONE") == a["enc"], a["seq"]
        by_seq[a["seq"]] = a
    # Each group's order, reading a hash key's shards root to leaf: the one shard holding the
    # key at each step (a shard's children do not overlap).
    for seqs in groups.values():
        h = by_seq[seqs[0]]["hash"]
        sid = next(s for s, sh in shards.items()
                   if not sh.get("ParentShardId") and rng_of(sh)[0] <= h <= rng_of(sh)[1])
        got, want = [], set(seqs)
        while sid:
            got += [q for q in in_shard[sid] if q in want]
            nxt = [c for c in children.get(sid, [])
                   if rng_of(shards[c])[0] <= h <= rng_of(shards[c])[1]]
            assert len(nxt) <= 1, (sid, nxt)
            sid = nxt[0] if nxt else None
        assert got == seqs, f"hash key {h}: read {got}, acknowledged {seqs}"
    # Iterators of every position type land where they should: every 7th record of each shard.
    for sid, recs in full.items():
        for i in range(0, len(recs), 7):
            x = recs[i]
            assert first_record(k, sid, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                StartingSequenceNumber=x["SequenceNumber"]) == \
                x["SequenceNumber"], sid
            assert first_record(k, sid, ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                StartingSequenceNumber=x["SequenceNumber"]) == \
                (recs[i + 1]["SequenceNumber"] if i + 1 < len(recs) else None), sid
            # whole seconds: Debian's botocore sends timestamps as integer epoch seconds
            t = x["ApproximateArrivalTimestamp"].replace(microsecond=0)
            j = next(j for j, y in enumerate(recs) if y["ApproximateArrivalTimestamp"] >= t)
            assert first_record(k, sid, ShardIteratorType="AT_TIMESTAMP", Timestamp=t) == \
                recs[j]["SequenceNumber"], sid
            # and to the millisecond, as other SDKs send it (epoch seconds with a fraction)
            t = x["ApproximateArrivalTimestamp"]
            j = next(j for j, y in enumerate(recs) if y["ApproximateArrivalTimestamp"] >= t)
            it = raw_iterator(gw, {"StreamName": "m", "ShardId": sid,
                                   "ShardIteratorType": "AT_TIMESTAMP",
                                   "Timestamp": round(t.timestamp(), 3)})
            assert first_record(k, sid, iterator=it) == recs[j]["SequenceNumber"], sid


@pytest.mark.parametrize("wire", ["json", "cbor"])
def test_random_puts_reshards_and_restarts_match_the_model(make_gateway, wire):
    _, rnd = seeded()
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis") if wire == "json" else CborKinesis(gw)
    make_stream(k, rnd.randint(1, 3))
    arn = k.describe_stream_summary(StreamName="m")["StreamDescriptionSummary"]["StreamARN"]

    def stream_ref():  # the stream by name or by ARN
        return {"StreamName": "m"} if rnd.random() < 0.7 else {"StreamARN": arn}

    acked = []  # dicts: seq, shard, key, hash, data, enc
    rescales, encrypted = 0, False
    steps = 200
    for step in range(steps):
        r = rnd.random()
        shards = all_shards(k)
        open_ = sorted((s for s in shards if is_open(s)), key=lambda s: rng_of(s)[0])
        if r < 0.40:  # PutRecord
            key = rnd.choice(KEYS)
            data = f"s{step}-{rnd.getrandbits(40):x}".encode() * rnd.randint(1, 40)
            kw = {}
            h = int(hashlib.md5(key.encode()).hexdigest(), 16)
            if rnd.random() < 0.2:
                h = rnd.randint(0, TOP)
                kw["ExplicitHashKey"] = str(h)
            prev = [a["seq"] for a in acked if a["key"] == key]
            if prev and rnd.random() < 0.3:
                kw["SequenceNumberForOrdering"] = prev[-1]
            out = k.put_record(PartitionKey=key, Data=data, **stream_ref(), **kw)
            assert out["EncryptionType"] == ("KMS" if encrypted else "NONE")
            acked.append({"seq": out["SequenceNumber"], "shard": out["ShardId"], "key": key,
                          "hash": h, "data": data, "enc": out["EncryptionType"]})
        elif r < 0.67:  # PutRecords
            recs, hashes = [], []
            for _ in range(rnd.randint(1, 30)):
                key = rnd.choice(KEYS)
                rec = {"PartitionKey": key, "Data": f"b{step}-{rnd.getrandbits(32):x}".encode()}
                h = int(hashlib.md5(key.encode()).hexdigest(), 16)
                if rnd.random() < 0.1:
                    h = rnd.randint(0, TOP)
                    rec["ExplicitHashKey"] = str(h)
                recs.append(rec)
                hashes.append(h)
            out = k.put_records(Records=recs, **stream_ref())
            assert out["FailedRecordCount"] == 0, out
            assert out.get("EncryptionType", "NONE") == ("KMS" if encrypted else "NONE")
            for rec, h, res in zip(recs, hashes, out["Records"]):
                acked.append({"seq": res["SequenceNumber"], "shard": res["ShardId"],
                              "key": rec["PartitionKey"], "hash": h, "data": rec["Data"],
                              "enc": "KMS" if encrypted else "NONE"})
        elif r < 0.70:  # encryption at rest on or off: records keep what they were written with
            if encrypted:
                k.stop_stream_encryption(StreamName="m", EncryptionType="KMS",
                                         KeyId="alias/aws/kinesis")
            else:
                k.start_stream_encryption(StreamName="m", EncryptionType="KMS",
                                          KeyId="alias/aws/kinesis")
            encrypted = not encrypted
            wait_active(k)
        elif r < 0.80 and len(open_) < 12:  # SplitShard
            sh = rnd.choice(open_)
            lo, hi = rng_of(sh)
            if hi - lo > 2:
                k.split_shard(StreamName="m", ShardToSplit=sh["ShardId"],
                              NewStartingHashKey=str(rnd.randint(lo + 2, hi - 1)))
                wait_active(k)
        elif r < 0.88 and len(open_) > 1:  # MergeShards of two neighbours
            i = rnd.randrange(len(open_) - 1)
            a, b = open_[i], open_[i + 1]
            assert rng_of(a)[1] + 1 == rng_of(b)[0]
            k.merge_shards(StreamName="m", ShardToMerge=a["ShardId"],
                           AdjacentShardToMerge=b["ShardId"])
            wait_active(k)
        elif r < 0.92 and rescales < 3:  # UpdateShardCount within [n/2, 2n]
            n = len(open_)
            target = rnd.randint(max(1, (n + 1) // 2), min(2 * n, 8))
            if target != n:
                k.update_shard_count(StreamName="m", TargetShardCount=target,
                                     ScalingType="UNIFORM_SCALING")
                rescales += 1
                wait_active(k)
                assert len([s for s in all_shards(k) if is_open(s)]) == target
        elif r < 0.94:  # clean restart
            assert gw.stop() == 0, gw.stderr
            gw.start()
            k = gw.client("kinesis") if wire == "json" else CborKinesis(gw)
        elif r < 0.96:  # delete the stream and make it again: nothing of the old one may show
            k.delete_stream(StreamName="m")
            deadline = time.monotonic() + 30
            while "m" in k.list_streams()["StreamNames"]:
                assert time.monotonic() < deadline, "stream never went away"
                time.sleep(0.02)
            make_stream(k, rnd.randint(1, 3))
            acked, rescales, encrypted = [], 0, False
        else:  # kill -9: everything acknowledged must survive
            gw.kill9()
            gw.start()
            k = gw.client("kinesis") if wire == "json" else CborKinesis(gw)

    groups = {}
    for x in acked:  # one call at a time: each hash key's records in acknowledgement order
        groups.setdefault(x["hash"], []).append(x["seq"])
    verify(gw, k, acked, groups)
    # one call at a time: within a shard, sequence numbers grow in acknowledgement order
    by_shard = {}
    for x in acked:
        by_shard.setdefault(x["shard"], []).append(int(x["seq"]))
    for sid, seqs in by_shard.items():
        assert seqs == sorted(seqs), sid
    assert gw.stop() == 0, gw.stderr


def test_concurrent_puts_while_resharding_keep_each_key_in_order(make_gateway):
    seed, rnd = seeded()
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    make_stream(k, 2)
    done = threading.Event()
    results, errors = [], []

    def producer(t):
        c = gw.client("kinesis")
        r = random.Random(seed * 31 + t)
        keys = [f"t{t}-{i}" for i in range(6)]
        mine = []
        try:
            for i in range(400):
                if done.is_set() and i > 40:
                    break
                recs = [{"PartitionKey": r.choice(keys), "Data": f"{t}.{i}.{j}".encode()}
                        for j in range(r.randint(1, 8))]
                if len(recs) == 1:
                    out = c.put_record(StreamName="m", **recs[0])
                    res = [out]
                else:
                    out = c.put_records(StreamName="m", Records=recs)
                    assert out["FailedRecordCount"] == 0, out
                    res = out["Records"]
                for rec, x in zip(recs, res):
                    mine.append({"seq": x["SequenceNumber"], "shard": x["ShardId"],
                                 "key": rec["PartitionKey"], "data": rec["Data"],
                                 "hash": int(hashlib.md5(rec["PartitionKey"].encode())
                                             .hexdigest(), 16)})
        except Exception as e:  # reported by the main thread
            errors.append(repr(e))
        results.append(mine)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for _ in range(12):
        open_ = sorted((s for s in all_shards(k) if is_open(s)), key=lambda s: rng_of(s)[0])
        r = rnd.random()
        if r < 0.45 and len(open_) < 10:
            sh = rnd.choice(open_)
            lo, hi = rng_of(sh)
            k.split_shard(StreamName="m", ShardToSplit=sh["ShardId"],
                          NewStartingHashKey=str(rnd.randint(lo + 2, hi - 1)))
        elif r < 0.8 and len(open_) > 1:
            i = rnd.randrange(len(open_) - 1)
            k.merge_shards(StreamName="m", ShardToMerge=open_[i]["ShardId"],
                           AdjacentShardToMerge=open_[i + 1]["ShardId"])
        else:
            n = len(open_)
            target = rnd.randint(max(1, (n + 1) // 2), min(2 * n, 8))
            if target != n:
                k.update_shard_count(StreamName="m", TargetShardCount=target,
                                     ScalingType="UNIFORM_SCALING")
        wait_active(k)
        time.sleep(rnd.random() * 0.05)
    done.set()
    for th in threads:
        th.join(120)
    assert not errors, errors
    acked = [x for mine in results for x in mine]
    groups = {}
    for mine in results:  # each key is one thread's, put one call at a time
        for x in mine:
            groups.setdefault(x["key"], []).append(x["seq"])
    verify(gw, k, acked, groups)
    assert gw.stop() == 0, gw.stderr


def test_fan_out_consumer_following_lineage_sees_each_key_in_order(make_gateway):
    """An enhanced fan-out consumer as the KCL runs one: a SubscribeToShard per shard, a shard's
    children subscribed once all their parents have ended, while three producers put and another
    thread reshards. It must receive every acknowledged record once, each key in put order."""
    seed, rnd = seeded()
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    make_stream(k, 2)
    arn = k.describe_stream_summary(StreamName="m")["StreamDescriptionSummary"]["StreamARN"]
    carn = register(k, arn, "kcl")  # waits for ACTIVE

    lock = threading.Lock()
    consumed = []  # (shard, sequence number, key), in the order the consumer took them
    per_shard = {}
    ended, started, errors = set(), set(), []
    expected = {}  # shard -> acknowledged count, filled once the producers are done
    stop = threading.Event()
    workers = []

    def start(sid):  # lock held
        if sid in started:
            return
        started.add(sid)
        th = threading.Thread(target=consume, args=(sid,))
        workers.append(th)
        th.start()

    def consume(sid):
        try:
            c = gw.client("kinesis")
            resp = c.subscribe_to_shard(ConsumerARN=carn, ShardId=sid,
                                        StartingPosition={"Type": "TRIM_HORIZON"})
            events = resp["EventStream"]
            for ev in events:
                e = ev["SubscribeToShardEvent"]
                with lock:
                    for r in e["Records"]:
                        consumed.append((sid, r["SequenceNumber"], r["PartitionKey"]))
                        per_shard[sid] = per_shard.get(sid, 0) + 1
                    if e.get("ChildShards") and e.get("ContinuationSequenceNumber") is None:
                        ended.add(sid)  # the shard's end: its children may start
                        for ch in e["ChildShards"]:
                            if all(p in ended for p in ch["ParentShards"]):
                                start(ch["ShardId"])
                        break
                    if stop.is_set() and per_shard.get(sid, 0) >= expected.get(sid, 0) and \
                            e["MillisBehindLatest"] == 0:
                        break
            events.close()
        except Exception as ex:
            with lock:
                errors.append(f"{sid}: {ex!r}")

    with lock:
        for sid in ("shardId-000000000000", "shardId-000000000001"):
            start(sid)

    results = []

    def producer(t):
        c = gw.client("kinesis")
        r = random.Random(seed * 17 + t)
        keys = [f"t{t}-{i}" for i in range(5)]
        mine = []
        for i in range(120):
            recs = [{"PartitionKey": r.choice(keys), "Data": f"{t}.{i}.{j}".encode()}
                    for j in range(r.randint(1, 6))]
            out = c.put_records(StreamName="m", Records=recs)
            assert out["FailedRecordCount"] == 0, out
            for rec, x in zip(recs, out["Records"]):
                mine.append((x["SequenceNumber"], x["ShardId"], rec["PartitionKey"]))
            time.sleep(r.random() * 0.01)
        results.append(mine)

    producers = [threading.Thread(target=producer, args=(t,)) for t in range(3)]
    for th in producers:
        th.start()
    for _ in range(6):
        time.sleep(0.2 + rnd.random() * 0.3)
        open_ = sorted((s for s in all_shards(k) if is_open(s)), key=lambda s: rng_of(s)[0])
        if rnd.random() < 0.5 and len(open_) < 8:
            sh = rnd.choice(open_)
            lo, hi = rng_of(sh)
            k.split_shard(StreamName="m", ShardToSplit=sh["ShardId"],
                          NewStartingHashKey=str(rnd.randint(lo + 2, hi - 1)))
        elif len(open_) > 1:
            i = rnd.randrange(len(open_) - 1)
            k.merge_shards(StreamName="m", ShardToMerge=open_[i]["ShardId"],
                           AdjacentShardToMerge=open_[i + 1]["ShardId"])
        wait_active(k)
    for th in producers:
        th.join(120)
    assert len(results) == 3, "a producer failed"
    acked = [x for mine in results for x in mine]
    with lock:
        for _, sid, _ in acked:
            expected[sid] = expected.get(sid, 0) + 1
    stop.set()
    deadline = time.monotonic() + 90
    while True:  # workers start workers: wait until none is alive
        with lock:
            alive = [th for th in workers if th.is_alive()]
        if not alive:
            break
        assert time.monotonic() < deadline, \
            f"consumer stuck: {per_shard} of {expected}, ended {sorted(ended)}"
        time.sleep(0.1)
    assert not errors, errors

    got = [seq for _, seq, _ in consumed]
    assert len(got) == len(set(got)), "a record was delivered twice"
    assert sorted(got) == sorted(seq for seq, _, _ in acked)
    where = {seq: sid for sid, seq, _ in consumed}
    assert all(where[seq] == sid for seq, sid, _ in acked)
    for mine in results:  # each key is one producer's, put one call at a time
        want, seen = {}, {}
        for seq, _, key in mine:
            want.setdefault(key, []).append(seq)
        keys = set(want)
        for _, seq, key in consumed:
            if key in keys:
                seen.setdefault(key, []).append(seq)
        assert seen == want
    assert gw.stop() == 0, gw.stderr


def test_throttled_puts_store_exactly_the_accepted_records(make_gateway):
    """With the AWS shard limits on, PutRecords refuses records one by one
    (ProvisionedThroughputExceededException) while two producers overrun two shards, one of which
    is split half way: afterwards exactly the accepted records are stored, each key in order --
    nothing refused was written."""
    seed, rnd = seeded()
    gw = make_gateway(env=dict(FAST, SLUICE_KINESIS_SHARD_LIMITS="aws"))
    k = gw.client("kinesis")
    make_stream(k, 2)
    results, refused = [], []

    def producer(t):
        c = gw.client("kinesis")
        r = random.Random(seed * 13 + t)
        keys = [f"t{t}-{i}" for i in range(8)]
        mine, no = [], 0
        for i in range(25):
            recs = [{"PartitionKey": r.choice(keys), "Data": bytes([t, i, j % 256]) * 400}
                    for j in range(r.randint(50, 300))]
            out = c.put_records(StreamName="m", Records=recs)
            assert out["FailedRecordCount"] == sum("ErrorCode" in x for x in out["Records"])
            for rec, x in zip(recs, out["Records"]):
                if "ErrorCode" in x:
                    assert x["ErrorCode"] == "ProvisionedThroughputExceededException", x
                    no += 1
                    continue
                mine.append({"seq": x["SequenceNumber"], "shard": x["ShardId"],
                             "key": rec["PartitionKey"], "data": rec["Data"],
                             "hash": int(hashlib.md5(rec["PartitionKey"].encode()).hexdigest(),
                                         16)})
        results.append(mine)
        refused.append(no)

    threads = [threading.Thread(target=producer, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    time.sleep(0.3 + rnd.random() * 0.5)
    lo, hi = rng_of(all_shards(k)[0])
    k.split_shard(StreamName="m", ShardToSplit="shardId-000000000000",
                  NewStartingHashKey=str(rnd.randint(lo + 2, hi - 1)))
    wait_active(k)
    for th in threads:
        th.join(120)
    assert len(results) == 2, "a producer failed"
    assert sum(refused) > 0, "the load never met the shard limits"
    # Read back without the limits (GetRecords is limited to 5 calls per second per shard).
    assert gw.stop() == 0, gw.stderr
    del gw.env["SLUICE_KINESIS_SHARD_LIMITS"]
    gw.start()
    k = gw.client("kinesis")
    acked = [x for mine in results for x in mine]
    groups = {}
    for mine in results:
        for x in mine:
            groups.setdefault(x["key"], []).append(x["seq"])
    verify(gw, k, acked, groups)
    assert gw.stop() == 0, gw.stderr
