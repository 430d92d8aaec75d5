"""Firehose delivery to S3 destinations: the local folder that mirrors bucket/key layout, and a
real S3-compatible server (moto's server mode) reached with SigV4-signed PUTs.

Objects are read back and compared byte for byte after decompression with the standard tools:
gzip -dc and unzip -p; Snappy (framing format, CRC-32C of every chunk checked here) and
HADOOP_SNAPPY blocks are decoded with the reference libsnappy's snappy_uncompress through ctypes
(Debian's python3-snappy 0.5.3 fails on Python 3.11 with "PY_SSIZE_T_CLEAN macro must be
defined").
"""
import datetime
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

ROLE = "arn:aws:iam::123456789012:role/firehose"
NAME_RE = r"(?P<ds>[A-Za-z0-9_.-]+)-(?P<ver>\d+)-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-" \
          r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def fh(gw):
    return gw.client("firehose", parameter_validation=False)


def wait_active(c, name, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        d = c.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
        if d["DeliveryStreamStatus"] == "ACTIVE":
            return d
        time.sleep(0.05)
    raise AssertionError(f"{name} never became ACTIVE")


def objects(root, bucket):
    base = os.path.join(root, bucket)
    out = []
    for p in glob.glob(os.path.join(base, "**", "*"), recursive=True):
        if os.path.isfile(p) and not os.path.basename(p).startswith(".tmp-"):
            out.append(os.path.relpath(p, base))
    return sorted(out)


def wait_objects(root, bucket, n, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        got = objects(root, bucket)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    raise AssertionError(f"expected {n} objects in {bucket}, have {objects(root, bucket)}")


def create(c, name, **cfg):
    base = {"RoleARN": ROLE, "BucketARN": f"arn:aws:s3:::{cfg.pop('bucket', name)}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}
    base.update(cfg)
    c.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=base)
    wait_active(c, name)


def snappy_raw(block):
    import ctypes
    lib = ctypes.CDLL("libsnappy.so.1")
    n = ctypes.c_size_t()
    assert lib.snappy_uncompressed_length(block, ctypes.c_size_t(len(block)),
                                          ctypes.byref(n)) == 0
    out = ctypes.create_string_buffer(max(n.value, 1))
    assert lib.snappy_uncompress(block, ctypes.c_size_t(len(block)), out, ctypes.byref(n)) == 0
    return out.raw[:n.value]


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def snappy_framed(data):
    assert data[:10] == b"\xff\x06\x00\x00sNaPpY", data[:10]
    out, i = b"", 10
    while i < len(data):
        kind, length = data[i], int.from_bytes(data[i + 1:i + 4], "little")
        body = data[i + 4:i + 4 + length]
        assert kind in (0, 1), kind
        chunk = snappy_raw(body[4:]) if kind == 0 else body[4:]
        crc = crc32c(chunk)
        masked = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        assert int.from_bytes(body[:4], "little") == masked
        assert len(chunk) <= 65536
        out += chunk
        i += 4 + length
    return out


def decompress(path, fmt):
    if fmt == "GZIP":
        return subprocess.run(["gzip", "-dc", path], check=True, capture_output=True).stdout
    if fmt == "ZIP":
        listing = subprocess.run(["unzip", "-Z1", path], check=True, capture_output=True,
                                 text=True).stdout.split()
        assert len(listing) == 1, listing
        return subprocess.run(["unzip", "-p", path], check=True, capture_output=True).stdout
    if fmt == "Snappy":
        return snappy_framed(open(path, "rb").read())
    if fmt == "HADOOP_SNAPPY":
        data = open(path, "rb").read()
        out, i = b"", 0
        while i < len(data):
            ulen = int.from_bytes(data[i:i + 4], "big")
            clen = int.from_bytes(data[i + 4:i + 8], "big")
            block = snappy_raw(data[i + 8:i + 8 + clen])
            assert len(block) == ulen
            out += block
            i += 8 + clen
        return out
    return open(path, "rb").read()


@pytest.mark.parametrize("fmt,ext", [("UNCOMPRESSED", ""), ("GZIP", ".gz"), ("ZIP", ".zip"),
                                     ("Snappy", ".snappy"), ("HADOOP_SNAPPY", ".snappy")])
def test_compression_round_trip(gateway, fmt, ext):
    c = fh(gateway)
    root = os.path.join(gateway.data_dir, "s3")
    create(c, "cmp", CompressionFormat=fmt, bucket="bk",
           BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 1})
    # Mixed sizes, binary bytes, one large record (spans several Snappy chunks and two Hadoop
    # blocks), one empty record.
    recs = [os.urandom(17), b"", bytes(range(256)) * 3, b"A" * 300000, b"line\n"]
    t0 = time.time()
    r = c.put_record_batch(DeliveryStreamName="cmp", Records=[{"Data": d} for d in recs])
    assert r["FailedPutCount"] == 0
    got = wait_objects(root, "bk", 1)
    assert len(got) == 1, got
    key = got[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    m = re.fullmatch(r"(\d{4})/(\d\d)/(\d\d)/(\d\d)/" + NAME_RE + re.escape(ext), key)
    assert m, key
    assert m.group("ds") == "cmp" and m.group("ver") == "1"
    assert abs(int(m.group(4)) - now.hour) in (0, 1, 23)
    assert decompress(os.path.join(root, "bk", key), fmt) == b"".join(recs)
    # The interval was honoured: the object did not appear before 1 s.
    assert time.time() - t0 >= 0.9


def test_prefix_expressions_delimiter_size_flush(gateway):
    c = fh(gateway)
    root = os.path.join(gateway.data_dir, "s3")
    create(c, "pfx", bucket="pb",
           Prefix="logs/year=!{timestamp:yyyy}/month=!{timestamp:MM}/!{firehose:random-string}/",
           ErrorOutputPrefix="err/!{firehose:error-output-type}/",
           BufferingHints={"SizeInMBs": 1, "IntervalInSeconds": 900},
           ProcessingConfiguration={"Enabled": True, "Processors": [
               {"Type": "AppendDelimiterToRecord", "Parameters": []}]})
    # 1 MiB buffer with a 900 s interval: only the size can trigger delivery.
    rec = b"x" * 1000
    for _ in range(11):
        r = c.put_record_batch(DeliveryStreamName="pfx", Records=[{"Data": rec}] * 100)
        assert r["FailedPutCount"] == 0
    got = wait_objects(root, "pb", 1)
    now = datetime.datetime.now(datetime.timezone.utc)
    key = got[0]
    m = re.fullmatch(r"logs/year=(\d{4})/month=(\d\d)/([a-zA-Z0-9]{11})/" + NAME_RE,
                     key)
    assert m, key
    assert int(m.group(1)) == now.year
    body = open(os.path.join(root, "pb", key), "rb").read()
    assert body.startswith(b"x" * 1000 + b"\n")
    assert len(body) % 1001 == 0 and len(body) >= 1 << 20


def test_backup_update_and_restart_resume(make_gateway):
    gw = make_gateway()
    c = fh(gw)
    root = os.path.join(gw.data_dir, "s3")
    create(c, "bk", bucket="main", Prefix="a/", S3BackupMode="Enabled",
           S3BackupConfiguration={"RoleARN": ROLE, "BucketARN": "arn:aws:s3:::backup",
                                  "Prefix": "raw/", "CompressionFormat": "GZIP"},
           ProcessingConfiguration={"Enabled": True, "Processors": [
               {"Type": "AppendDelimiterToRecord",
                "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\t"}]}]})
    c.put_record(DeliveryStreamName="bk", Record={"Data": b"r1"})
    wait_objects(root, "main", 1)
    wait_objects(root, "backup", 1)
    main = objects(root, "main")[0]
    assert main.startswith("a/") and open(os.path.join(root, "main", main), "rb").read() == b"r1\t"
    bk = objects(root, "backup")[0]
    assert bk.startswith("raw/") and bk.endswith(".gz")
    assert decompress(os.path.join(root, "backup", bk), "GZIP") == b"r1"
    # Backup cannot be switched off again.
    with pytest.raises(Exception) as ei:
        c.update_destination(DeliveryStreamName="bk", CurrentDeliveryStreamVersionId="1",
                             DestinationId="destinationId-000000000001",
                             ExtendedS3DestinationUpdate={"S3BackupMode": "Disabled"})
    assert "InvalidArgumentException" in str(ei.value)
    # A new version: objects carry it in their name.
    c.update_destination(DeliveryStreamName="bk", CurrentDeliveryStreamVersionId="1",
                         DestinationId="destinationId-000000000001",
                         ExtendedS3DestinationUpdate={
                             "Prefix": "b/",
                             "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 2}})
    c.put_record(DeliveryStreamName="bk", Record={"Data": b"r2"})
    # Stop before the 2 s interval ends: the record is durable but not delivered yet.
    assert gw.stop() == 0
    assert [k for k in objects(root, "main") if k.startswith("b/")] == []
    gw.start()
    end = time.time() + 20
    while time.time() < end and not [k for k in objects(root, "main") if k.startswith("b/")]:
        time.sleep(0.05)
    new = [k for k in objects(root, "main") if k.startswith("b/")]
    assert len(new) == 1, objects(root, "main")
    assert re.search(r"/bk-2-", "/" + os.path.basename(new[0])), new
    assert open(os.path.join(root, "main", new[0]), "rb").read() == b"r2\t"
    # Nothing was delivered twice.
    assert len(objects(root, "main")) == 2
    assert gw.stop() == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_python():
    """An interpreter that has moto's server mode (not necessarily Debian's)."""
    for py in (shutil.which("python3"), "/usr/bin/python3"):
        if py and subprocess.run([py, "-c", "import moto.server, flask"],
                                 capture_output=True).returncode == 0:
            return py
    return None


@pytest.fixture
def s3_server():
    py = moto_python()
    # The machine image's Python carries moto (Debian has no package for it); a missing one
    # must fail loudly, not hide the S3-compatible path.
    assert py, "no interpreter with moto's server mode (moto[server]) found"
    port = free_port()
    # INITIAL_NO_AUTH_ACTION_COUNT: after the first 4 requests (IAM set-up below) moto checks
    # every request's SigV4 signature against the IAM access keys it knows.
    proc = subprocess.Popen([py, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4"))
    url = f"http://127.0.0.1:{port}"
    end = time.time() + 30
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise AssertionError("moto server did not start")
    yield url
    proc.terminate()
    proc.wait(10)


def test_s3_compatible_endpoint(make_gateway, s3_server):
    import json

    import boto3
    iam = boto3.client("iam", endpoint_url=s3_server, region_name="us-east-1",
                       aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="firehose")
    key = iam.create_access_key(UserName="firehose")["AccessKey"]
    iam.put_user_policy(UserName="firehose", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                      aws_access_key_id=key["AccessKeyId"],
                      aws_secret_access_key=key["SecretAccessKey"])
    s3.create_bucket(Bucket="remote")
    # A wrong secret is refused by the server: signatures are really checked.
    wrong = make_gateway(env={"SLUICE_FIREHOSE_S3_ENDPOINT": s3_server,
                              "SLUICE_FIREHOSE_S3_ACCESS_KEY_ID": key["AccessKeyId"],
                              "SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY": "not-the-secret"})
    c = fh(wrong)
    create(c, "bad", bucket="remote")
    c.put_record(DeliveryStreamName="bad", Record={"Data": b"never"})
    end = time.time() + 20
    while time.time() < end and "SignatureDoesNotMatch" not in wrong.stderr:
        time.sleep(0.05)
    assert "SignatureDoesNotMatch" in wrong.stderr, wrong.stderr
    assert s3.list_objects_v2(Bucket="remote").get("KeyCount", 0) == 0
    assert wrong.stop() == 0

    gw = make_gateway(env={"SLUICE_FIREHOSE_S3_ENDPOINT": s3_server,
                           "SLUICE_FIREHOSE_S3_ACCESS_KEY_ID": key["AccessKeyId"],
                           "SLUICE_FIREHOSE_S3_SECRET_ACCESS_KEY": key["SecretAccessKey"]})
    c = fh(gw)
    # (moto's own signature check mishandles '=' in keys, so this prefix avoids it.)
    create(c, "rem", bucket="remote", Prefix="kv/!{timestamp:yyyy}/",
           ErrorOutputPrefix="e/!{firehose:error-output-type}/", CompressionFormat="GZIP")
    recs = [b"alpha\n", os.urandom(1000), b"omega\n"]
    c.put_record_batch(DeliveryStreamName="rem", Records=[{"Data": d} for d in recs])
    end = time.time() + 20
    keys = []
    while time.time() < end and not keys:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="remote").get("Contents", [])]
        time.sleep(0.1)
    assert len(keys) == 1, keys
    year = datetime.datetime.now(datetime.timezone.utc).year
    assert re.fullmatch(rf"kv/{year}/" + NAME_RE + r"\.gz", keys[0]), keys[0]
    import gzip
    body = s3.get_object(Bucket="remote", Key=keys[0])["Body"].read()
    assert gzip.decompress(body) == b"".join(recs)
    # Nothing went to the local folder.
    assert objects(os.path.join(gw.data_dir, "s3"), "remote") == []
    assert gw.stop() == 0
