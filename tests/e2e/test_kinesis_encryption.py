"""Kinesis encryption at rest end to end with boto3 and the AWS CLI against a real sluiced:
StartStreamEncryption / StopStreamEncryption (UPDATING -> ACTIVE, EncryptionType and KeyId in the
descriptions, KMS on put results and on each record read back), plaintext records before, sealed
ones during and plaintext ones after, all read back exactly by GetRecords and SubscribeToShard,
also after a restart; the data folder never holds the plaintext of a sealed record; the key ring
file is 0600; a lost key ring gives KMSNotFoundException and a damaged one
KMSInvalidStateException (and both recover when the file is restored); one flipped byte of a
sealed record on disk is caught -- by the storage CRC, and with the CRC recomputed, by the GCM
tag -- and the read fails cleanly instead of returning garbage."""
import json
import os
import shutil
import struct
import time

import botocore.exceptions
import pytest

FAST = {"SLUICE_KINESIS_STATUS_DELAY_MS": "0"}
ACCOUNT = "000000000000"


def wait_status(k, name, want, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        status = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamStatus"]
        if status == want:
            return
        assert time.monotonic() < deadline, f"{name} stuck in {status}, wanted {want}"
        time.sleep(0.05)


def make_stream(k, name, shards=1):
    k.create_stream(StreamName=name, ShardCount=shards)
    wait_status(k, name, "ACTIVE")


def read_all(k, name, shard="shardId-000000000000"):
    it = k.get_shard_iterator(StreamName=name, ShardId=shard,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    for _ in range(100):
        r = k.get_records(ShardIterator=it)
        out += r["Records"]
        it = r.get("NextShardIterator")
        if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
            break
    return out


def error_of(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def files_containing(root, needle):
    hits = []
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                if needle in fh.read():
                    hits.append(os.path.join(d, f))
    return hits


def segments(data_dir):
    out = []
    for d, _, files in os.walk(os.path.join(data_dir, "logs")):
        out += [os.path.join(d, f) for f in files if f.endswith(".seg")]
    return sorted(out)


def test_encrypt_read_stop_restart(make_gateway):
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    make_stream(k, "enc")
    plain = [f"PLAINTEXT-BEFORE-{i}-{os.urandom(4).hex()}".encode() for i in range(3)]
    secret = [f"TOP-SECRET-{i}-{os.urandom(6).hex()}".encode() for i in range(4)]
    after = [f"PLAINTEXT-AFTER-{i}-{os.urandom(4).hex()}".encode() for i in range(2)]

    for d in plain:
        assert k.put_record(StreamName="enc", Data=d, PartitionKey="pk")["EncryptionType"] == "NONE"
    s = k.describe_stream(StreamName="enc")["StreamDescription"]
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s

    assert not os.path.exists(os.path.join(gw.data_dir, "kinesis-keys"))
    k.start_stream_encryption(StreamName="enc", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, "enc", "ACTIVE")
    ring = os.path.join(gw.data_dir, "kinesis-keys")
    assert os.stat(ring).st_mode & 0o777 == 0o600
    for desc in (k.describe_stream(StreamName="enc")["StreamDescription"],
                 k.describe_stream_summary(StreamName="enc")["StreamDescriptionSummary"]):
        assert desc["EncryptionType"] == "KMS" and desc["KeyId"] == "alias/aws/kinesis"

    r = k.put_record(StreamName="enc", Data=secret[0], PartitionKey="secret-key-0")
    assert r["EncryptionType"] == "KMS"
    r = k.put_records(StreamName="enc", Records=[
        {"Data": d, "PartitionKey": f"secret-key-{i + 1}"} for i, d in enumerate(secret[1:])])
    assert r["EncryptionType"] == "KMS" and r["FailedRecordCount"] == 0

    recs = read_all(k, "enc")
    assert [x["Data"] for x in recs] == plain + secret
    assert [x["EncryptionType"] for x in recs] == ["NONE"] * 3 + ["KMS"] * 4
    assert [x["PartitionKey"] for x in recs[3:]] == [f"secret-key-{i}" for i in range(4)]

    # The sealed records' plaintext (data and partition key) is nowhere in the data folder; the
    # plaintext ones are there (so the search itself works).
    for d in secret:
        assert files_containing(gw.data_dir, d) == []
    assert files_containing(gw.data_dir, b"secret-key-2") == []
    assert files_containing(gw.data_dir, plain[0]) != []

    k.stop_stream_encryption(StreamName="enc", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, "enc", "ACTIVE")
    s = k.describe_stream_summary(StreamName="enc")["StreamDescriptionSummary"]
    assert s["EncryptionType"] == "NONE" and "KeyId" not in s
    for d in after:
        assert k.put_record(StreamName="enc", Data=d, PartitionKey="pk")["EncryptionType"] == "NONE"

    assert gw.stop() == 0, gw.stderr
    gw.start()
    k = gw.client("kinesis")
    recs = read_all(k, "enc")
    assert [x["Data"] for x in recs] == plain + secret + after
    assert [x["EncryptionType"] for x in recs] == ["NONE"] * 3 + ["KMS"] * 4 + ["NONE"] * 2
    assert "TOP-SECRET" not in gw.stderr

    # Enhanced fan-out reads open sealed records too.
    arn = k.describe_stream_summary(StreamName="enc")["StreamDescriptionSummary"]["StreamARN"]
    carn = k.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 20
    while k.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"][
            "ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out = k.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000000",
                               StartingPosition={"Type": "TRIM_HORIZON"})
    got = []
    for ev in out["EventStream"]:
        got += ev["SubscribeToShardEvent"]["Records"]
        if len(got) >= 9:
            break
        assert time.monotonic() < deadline + 20
    out["EventStream"].close()
    assert [x["Data"] for x in got] == plain + secret + after
    assert [x["EncryptionType"] for x in got] == ["NONE"] * 3 + ["KMS"] * 4 + ["NONE"] * 2
    assert gw.stop() == 0, gw.stderr


def test_key_forms_and_errors(make_gateway):
    gw = make_gateway(env={"SLUICE_KINESIS_STATUS_DELAY_MS": "1500"})
    k = gw.client("kinesis")
    k.create_stream(StreamName="e", ShardCount=1)
    # CREATING: not yet
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.start_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    code, msg = error_of(ei)
    assert code == "ResourceInUseException"
    assert msg == f"Stream e under account {ACCOUNT} not ACTIVE, instead in state CREATING"
    wait_status(k, "e", "ACTIVE")

    cases = [
        ("nope", "InvalidArgumentException"),
        ("alias/", "InvalidArgumentException"),
        ("arn:aws:kms:us-east-1:111122223333:alias/aws/kinesis", "KMSAccessDeniedException"),
        ("arn:aws:kms:eu-west-1:000000000000:alias/aws/kinesis", "KMSNotFoundException"),
    ]
    for key, want in cases:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            k.start_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId=key)
        assert error_of(ei)[0] == want, key
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.start_stream_encryption(StreamName="e", EncryptionType="NONE", KeyId="alias/aws/kinesis")
    assert error_of(ei)[0] == "InvalidArgumentException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.start_stream_encryption(StreamName="missing", EncryptionType="KMS",
                                  KeyId="alias/aws/kinesis")
    assert error_of(ei) == ("ResourceNotFoundException",
                            f"Stream missing under account {ACCOUNT} not found.")
    s = k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"]
    assert s["EncryptionType"] == "NONE"
    for kw, want in ((dict(StreamName="e", EncryptionType="NONE", KeyId="alias/aws/kinesis"),
                      "InvalidArgumentException"),
                     (dict(StreamName="e", EncryptionType="KMS", KeyId="alias/"),
                      "InvalidArgumentException"),
                     (dict(StreamName="missing", EncryptionType="KMS", KeyId="alias/aws/kinesis"),
                      "ResourceNotFoundException")):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            k.stop_stream_encryption(**kw)
        assert error_of(ei)[0] == want, kw

    # Key id, key ARN, alias ARN are accepted; UPDATING refuses another change.
    kid = "1234abcd-12ab-34cd-56ef-1234567890ab"
    k.start_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId=kid)
    assert k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"][
        "StreamStatus"] == "UPDATING"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.stop_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId=kid)
    assert error_of(ei)[0] == "ResourceInUseException"
    wait_status(k, "e", "ACTIVE")
    k.put_record(StreamName="e", Data=b"one", PartitionKey="p")
    for key in (f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{kid}",
                f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/orders"):
        k.start_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId=key)
        wait_status(k, "e", "ACTIVE")
        assert k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"][
            "KeyId"] == key
        k.put_record(StreamName="e", Data=key.encode(), PartitionKey="p")
    # Records sealed under three different key names all read back.
    recs = read_all(k, "e")
    assert [r["Data"] for r in recs] == [b"one"] + [
        f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{kid}".encode(),
        f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/orders".encode()]
    assert {r["EncryptionType"] for r in recs} == {"KMS"}

    # The AWS CLI drives both operations.
    gw.aws("kinesis", "stop-stream-encryption", "--stream-name", "e", "--encryption-type", "KMS",
           "--key-id", "alias/orders")
    wait_status(k, "e", "ACTIVE")
    d = json.loads(gw.aws("kinesis", "describe-stream-summary", "--stream-name", "e").stdout)
    assert d["StreamDescriptionSummary"]["EncryptionType"] == "NONE"
    gw.aws("kinesis", "start-stream-encryption", "--stream-name", "e", "--encryption-type", "KMS",
           "--key-id", "alias/aws/kinesis")
    wait_status(k, "e", "ACTIVE")
    d = json.loads(gw.aws("kinesis", "describe-stream", "--stream-name", "e").stdout)
    assert d["StreamDescription"]["EncryptionType"] == "KMS"
    assert d["StreamDescription"]["KeyId"] == "alias/aws/kinesis"
    p = gw.aws("kinesis", "start-stream-encryption", "--stream-name", "e", "--encryption-type",
               "KMS", "--key-id", "arn:aws:kms:us-east-1:111122223333:alias/x", check=False)
    assert p.returncode != 0 and "KMSAccessDeniedException" in p.stderr
    assert gw.stop() == 0, gw.stderr


def test_lost_and_damaged_key_ring(make_gateway):
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    make_stream(k, "kr")
    k.start_stream_encryption(StreamName="kr", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, "kr", "ACTIVE")
    k.put_record(StreamName="kr", Data=b"sealed-one", PartitionKey="p")
    assert gw.stop() == 0, gw.stderr
    ring = os.path.join(gw.data_dir, "kinesis-keys")
    saved = ring + ".saved"
    shutil.move(ring, saved)

    gw.start()  # lost: the record's key is not found, and new writes are refused
    k = gw.client("kinesis")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        read_all(k, "kr")
    assert error_of(ei)[0] == "KMSNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.put_record(StreamName="kr", Data=b"x", PartitionKey="p")
    assert error_of(ei)[0] == "KMSNotFoundException"
    # SubscribeToShard ends its event stream with the same exception
    arn = k.describe_stream_summary(StreamName="kr")["StreamDescriptionSummary"]["StreamARN"]
    carn = k.register_stream_consumer(StreamARN=arn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 20
    while k.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"][
            "ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out = k.subscribe_to_shard(ConsumerARN=carn, ShardId="shardId-000000000000",
                               StartingPosition={"Type": "TRIM_HORIZON"})
    with pytest.raises(botocore.exceptions.EventStreamError) as ei:
        for ev in out["EventStream"]:
            assert not ev["SubscribeToShardEvent"]["Records"]
    assert "KMSNotFoundException" in str(ei.value)
    assert gw.stop() == 0, gw.stderr

    raw = bytearray(open(saved, "rb").read())
    raw[20] ^= 0x40
    with open(ring, "wb") as f:
        f.write(raw)
    gw.start()  # damaged: every key operation says so, and the file is left alone
    k = gw.client("kinesis")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        read_all(k, "kr")
    assert error_of(ei)[0] == "KMSInvalidStateException"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        k.start_stream_encryption(StreamName="kr", EncryptionType="KMS", KeyId="alias/new")
    assert error_of(ei)[0] == "KMSInvalidStateException"
    assert open(ring, "rb").read() == bytes(raw)
    assert "damaged" in gw.stderr
    assert gw.stop() == 0, gw.stderr

    shutil.move(saved, ring)
    gw.start()  # restored: everything reads again
    k = gw.client("kinesis")
    k.put_record(StreamName="kr", Data=b"sealed-two", PartitionKey="p")
    assert [r["Data"] for r in read_all(k, "kr")] == [b"sealed-one", b"sealed-two"]
    assert gw.stop() == 0, gw.stderr


CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    CRC32C_TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = CRC32C_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def sealed_entry(seg_bytes):
    """File position of the first entry whose payload is sealed (first byte 0xE5), and its size."""
    pos = 32
    while pos + 32 <= len(seg_bytes):
        assert seg_bytes[pos:pos + 4] == b"SLE1"
        n = struct.unpack_from("<I", seg_bytes, pos + 4)[0]
        if seg_bytes[pos + 32] == 0xE5:
            return pos, n
        pos += 32 + n
    raise AssertionError("no sealed entry")


@pytest.mark.parametrize("fix_crc", [False, True])
def test_tampered_sealed_record_fails_cleanly(make_gateway, fix_crc):
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    make_stream(k, "t")
    k.start_stream_encryption(StreamName="t", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, "t", "ACTIVE")
    k.put_record(StreamName="t", Data=b"A" * 64, PartitionKey="p")
    assert gw.stop() == 0, gw.stderr

    (seg,) = segments(gw.data_dir)
    raw = bytearray(open(seg, "rb").read())
    pos, n = sealed_entry(raw)
    stored = struct.unpack_from("<I", raw, pos + 28)[0]
    assert crc32c(raw[pos:pos + 28] + raw[pos + 32:pos + 32 + n]) == stored  # our CRC is right
    raw[pos + 32 + 17 + 10] ^= 0x01  # a ciphertext byte
    if fix_crc:
        struct.pack_into("<I", raw, pos + 28, crc32c(raw[pos:pos + 28] + raw[pos + 32:pos + 32 + n]))
    with open(seg, "r+b") as f:
        f.write(raw)

    gw.start()
    k = gw.client("kinesis")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        read_all(k, "t")
    code, msg = error_of(ei)
    if fix_crc:
        # The storage CRC matches, so the GCM tag is what refuses the record.
        assert code == "InternalFailure", (code, msg)
        assert "opening the sealed record" in gw.stderr and "data is corrupt" in gw.stderr
    else:
        # The storage layer's CRC-32C catches it first: the entry is unreadable, so the iterator's
        # starting point is refused.
        assert code == "InvalidArgumentException" and msg == "Invalid ShardIterator.", (code, msg)
        assert "opening the sealed record" not in gw.stderr
    gw.stop()


def test_firehose_delivers_from_encrypted_stream(make_gateway):
    """Firehose with an encrypted Data Stream as its source delivers the opened records. (The
    delivered objects hold the plaintext by design: Firehose's own encryption is separate.)"""
    role = "arn:aws:iam::123456789012:role/firehose"
    gw = make_gateway(env=FAST)
    k = gw.client("kinesis")
    c = gw.client("firehose", parameter_validation=False)
    make_stream(k, "fsrc", shards=2)
    arn = k.describe_stream_summary(StreamName="fsrc")["StreamDescriptionSummary"]["StreamARN"]
    c.create_delivery_stream(
        DeliveryStreamName="fenc", DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": arn, "RoleARN": role},
        ExtendedS3DestinationConfiguration={
            "RoleARN": role, "BucketARN": "arn:aws:s3:::encb",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 1}})
    deadline = time.monotonic() + 20
    while c.describe_delivery_stream(DeliveryStreamName="fenc")["DeliveryStreamDescription"][
            "DeliveryStreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.05)  # records must arrive after the delivery start time (millisecond clock)
    k.put_records(StreamName="fsrc", Records=[
        {"PartitionKey": f"p{i}", "Data": b"clear-%d\n" % i} for i in range(10)])
    k.start_stream_encryption(StreamName="fsrc", EncryptionType="KMS", KeyId="alias/aws/kinesis")
    wait_status(k, "fsrc", "ACTIVE")
    r = k.put_records(StreamName="fsrc", Records=[
        {"PartitionKey": f"p{i}", "Data": b"sealed-%d\n" % i} for i in range(10)])
    assert r["EncryptionType"] == "KMS" and r["FailedRecordCount"] == 0

    root = os.path.join(gw.data_dir, "s3", "encb")
    want = sorted([b"clear-%d" % i for i in range(10)] + [b"sealed-%d" % i for i in range(10)])
    deadline = time.monotonic() + 60
    while True:
        got = []
        for d, _, fs in os.walk(root):
            for f in fs:
                if not f.startswith(".tmp-"):
                    got += open(os.path.join(d, f), "rb").read().split(b"\n")[:-1]
        if sorted(got) == want:
            break
        assert time.monotonic() < deadline, f"delivered {sorted(got)}"
        time.sleep(0.2)
    assert "cannot open the encrypted record" not in gw.stderr
    assert gw.stop() == 0, gw.stderr
