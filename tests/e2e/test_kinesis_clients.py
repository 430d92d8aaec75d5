"""Every Kinesis Data Streams operation through the AWS CLI and through the AWS SDK for JavaScript
v3, against a real sluiced: one scenario per client that creates a stream, writes and reads
records, tags, retention, monitoring, encryption, consumers, resource policies, record size,
resharding (split, merge, UpdateShardCount), mode, account settings, warm throughput and
deletion, checking each answer. Each test also checks that its scenario called every operation
of the service model in shared/aws-models (so a new operation cannot be left out silently).

The CLI is Debian's v2; its bundled model predates some operations, so it is pointed at the
shared model through AWS_DATA_PATH (botocore's own mechanism for extra models): the requests are
still built, signed, paginated and parsed by the unmodified CLI. The CLI has no command for
SubscribeToShard (it does not do event streams); the JavaScript SDK runs all of them, over its
default handler for Kinesis (HTTP/2, cleartext prior knowledge)."""
import base64
import json
import os
import re
import subprocess
import time

import js_kinesis
from aws_models import kinesis_model_dir

POLICY = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "read", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                   "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"],
                   "Resource": "*"}]})
# shardId-000000000000 of a 2-shard stream covers [0, 2^127 - 1]: split it in the middle.
MIDDLE_OF_SHARD_0 = str(2**126)


def model_operations():
    shared = os.environ.get("SL_SHARED_DIR")
    assert shared, "SL_SHARED_DIR is not set (ctest sets it)"
    with open(os.path.join(shared, "aws-models", "kinesis", "service-2.json")) as f:
        return set(json.load(f)["operations"])


def pascal(command):
    return "".join(w.capitalize() for w in command.split("-"))


class Cli:
    def __init__(self, gw):
        self.gw = gw
        self.env = gw.cli_env()
        self.env["AWS_DATA_PATH"] = kinesis_model_dir()
        self.ops = set()

    def __call__(self, command, *args):
        cmd = ["/usr/bin/aws", "--endpoint-url", self.gw.url, "--output", "json", "kinesis",
               command, *args]
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, f"{command} {args}: {p.stderr}"
        if command != "wait":
            self.ops.add(pascal(command))
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def summary(self, name):
        return self("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]

    def active(self, name):
        deadline = time.monotonic() + 30
        while True:
            s = self.summary(name)
            if s["StreamStatus"] == "ACTIVE":
                return s
            assert time.monotonic() < deadline, f"{name} stuck in {s['StreamStatus']}"
            time.sleep(0.05)


def test_every_operation_through_the_aws_cli(make_gateway):
    gw = make_gateway(env={"SLUICE_KINESIS_STATUS_DELAY_MS": "0"})
    aws = Cli(gw)

    aws("create-stream", "--stream-name", "cli", "--shard-count", "2")
    aws("wait", "stream-exists", "--stream-name", "cli")  # the model's waiter (DescribeStream)
    d = aws("describe-stream", "--stream-name", "cli")["StreamDescription"]
    assert d["StreamStatus"] == "ACTIVE" and len(d["Shards"]) == 2
    arn = d["StreamARN"]
    assert re.fullmatch(r"arn:aws:kinesis:us-east-1:\d{12}:stream/cli", arn)
    s = aws.summary("cli")
    assert (s["StreamName"], s["OpenShardCount"], s["RetentionPeriodHours"]) == ("cli", 2, 24)
    assert "cli" in aws("list-streams")["StreamNames"]
    # one shard per page. Not through the CLI's own paging (--page-size): botocore's paginator
    # resends StreamName with NextToken, which AWS refuses (botocore issue 2009), and so do we.
    p1 = aws("list-shards", "--stream-name", "cli", "--max-results", "1", "--no-paginate")
    p2 = aws("list-shards", "--next-token", p1["NextToken"], "--max-results", "1",
             "--no-paginate")
    assert [p1["Shards"][0]["ShardId"], p2["Shards"][0]["ShardId"]] == \
        ["shardId-000000000000", "shardId-000000000001"]
    assert "NextToken" not in p2
    lim = aws("describe-limits")
    assert lim["OpenShardCount"] >= 2 and lim["ShardLimit"] >= lim["OpenShardCount"]
    assert "MinimumThroughputBillingCommitment" in aws("describe-account-settings")

    # records: blobs go base64 on the command line (cli_binary_format base64, v2's default)
    one = aws("put-record", "--stream-name", "cli", "--partition-key", "a",
              "--data", base64.b64encode(b"hello").decode())
    assert len(one["SequenceNumber"]) == 56
    many = aws("put-records", "--stream-name", "cli", "--records", json.dumps([
        {"Data": base64.b64encode(b"r%d" % i).decode(), "PartitionKey": "a"} for i in range(3)]))
    assert many["FailedRecordCount"] == 0 and len(many["Records"]) == 3
    assert {r["ShardId"] for r in many["Records"]} == {one["ShardId"]}
    it = aws("get-shard-iterator", "--stream-name", "cli", "--shard-id", one["ShardId"],
             "--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number",
             one["SequenceNumber"])["ShardIterator"]
    got = aws("get-records", "--shard-iterator", it)
    assert [base64.b64decode(r["Data"]) for r in got["Records"]] == [b"hello", b"r0", b"r1", b"r2"]
    assert [r["SequenceNumber"] for r in got["Records"][1:]] == \
        [r["SequenceNumber"] for r in many["Records"]]

    # tags, by stream name and by ARN
    aws("add-tags-to-stream", "--stream-name", "cli", "--tags", "team=video,env=test")
    aws("remove-tags-from-stream", "--stream-name", "cli", "--tag-keys", "env")
    assert aws("list-tags-for-stream", "--stream-name", "cli")["Tags"] == \
        [{"Key": "team", "Value": "video"}]
    aws("tag-resource", "--resource-arn", arn, "--tags", "owner=ops")
    aws("untag-resource", "--resource-arn", arn, "--tag-keys", "team")
    assert aws("list-tags-for-resource", "--resource-arn", arn)["Tags"] == \
        [{"Key": "owner", "Value": "ops"}]

    # retention and shard-level metrics
    aws("increase-stream-retention-period", "--stream-name", "cli",
        "--retention-period-hours", "48")
    assert aws.active("cli")["RetentionPeriodHours"] == 48
    aws("decrease-stream-retention-period", "--stream-name", "cli",
        "--retention-period-hours", "24")
    assert aws.active("cli")["RetentionPeriodHours"] == 24
    m = aws("enable-enhanced-monitoring", "--stream-name", "cli", "--shard-level-metrics",
            "IncomingBytes", "OutgoingRecords")
    assert sorted(m["DesiredShardLevelMetrics"]) == ["IncomingBytes", "OutgoingRecords"]
    m = aws("disable-enhanced-monitoring", "--stream-name", "cli", "--shard-level-metrics", "ALL")
    assert m["DesiredShardLevelMetrics"] == []

    # encryption at rest: a record written while it is on reads back as written
    aws("start-stream-encryption", "--stream-name", "cli", "--encryption-type", "KMS",
        "--key-id", "alias/aws/kinesis")
    s = aws.active("cli")
    assert (s["EncryptionType"], s["KeyId"]) == ("KMS", "alias/aws/kinesis")
    sealed = aws("put-record", "--stream-name", "cli", "--partition-key", "a",
                 "--data", base64.b64encode(b"secret").decode())
    assert sealed["EncryptionType"] == "KMS"
    it = aws("get-shard-iterator", "--stream-name", "cli", "--shard-id", sealed["ShardId"],
             "--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number",
             sealed["SequenceNumber"])["ShardIterator"]
    r = aws("get-records", "--shard-iterator", it)["Records"][0]
    assert (base64.b64decode(r["Data"]), r["EncryptionType"]) == (b"secret", "KMS")
    aws("stop-stream-encryption", "--stream-name", "cli", "--encryption-type", "KMS",
        "--key-id", "alias/aws/kinesis")
    assert aws.active("cli")["EncryptionType"] == "NONE"

    # enhanced fan-out consumers
    c = aws("register-stream-consumer", "--stream-arn", arn, "--consumer-name", "c1")["Consumer"]
    deadline = time.monotonic() + 30
    while aws("describe-stream-consumer", "--consumer-arn", c["ConsumerARN"])[
            "ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [x["ConsumerName"] for x in aws("list-stream-consumers", "--stream-arn", arn)[
        "Consumers"]] == ["c1"]
    aws("deregister-stream-consumer", "--consumer-arn", c["ConsumerARN"])

    # resource policy, kept verbatim
    aws("put-resource-policy", "--resource-arn", arn, "--policy", POLICY)
    assert aws("get-resource-policy", "--resource-arn", arn)["Policy"] == POLICY
    aws("delete-resource-policy", "--resource-arn", arn)
    assert aws("get-resource-policy", "--resource-arn", arn)["Policy"] == "{}"

    aws("update-max-record-size", "--stream-arn", arn, "--max-record-size-in-ki-b", "2048")
    assert aws.active("cli")["MaxRecordSizeInKiB"] == 2048

    # resharding: split shard 0, merge its two children, then rescale to 4 shards
    aws("split-shard", "--stream-name", "cli", "--shard-to-split", "shardId-000000000000",
        "--new-starting-hash-key", MIDDLE_OF_SHARD_0)
    assert aws.active("cli")["OpenShardCount"] == 3
    aws("merge-shards", "--stream-name", "cli", "--shard-to-merge", "shardId-000000000002",
        "--adjacent-shard-to-merge", "shardId-000000000003")
    assert aws.active("cli")["OpenShardCount"] == 2
    out = aws("update-shard-count", "--stream-name", "cli", "--target-shard-count", "4",
              "--scaling-type", "UNIFORM_SCALING")
    assert (out["CurrentShardCount"], out["TargetShardCount"]) == (2, 4)
    assert aws.active("cli")["OpenShardCount"] == 4
    shards = aws("list-shards", "--stream-name", "cli", "--shard-filter",
                 "Type=AT_LATEST")["Shards"]
    assert len(shards) == 4 and all("EndingSequenceNumber" not in sh["SequenceNumberRange"]
                                    for sh in shards)

    # on-demand, a billing commitment, then warm throughput (which needs both)
    aws("update-stream-mode", "--stream-arn", arn, "--stream-mode-details",
        "StreamMode=ON_DEMAND")
    assert aws.active("cli")["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    mt = aws("update-account-settings", "--minimum-throughput-billing-commitment",
             "Status=ENABLED")["MinimumThroughputBillingCommitment"]
    assert mt["Status"] == "ENABLED"
    w = aws("update-stream-warm-throughput", "--stream-name", "cli",
            "--warm-throughput-mi-bps", "100")["WarmThroughput"]
    assert w["TargetMiBps"] == 100
    assert aws.active("cli")["WarmThroughput"] == {"TargetMiBps": 100, "CurrentMiBps": 100}

    aws("delete-stream", "--stream-name", "cli", "--enforce-consumer-deletion")
    aws("wait", "stream-not-exists", "--stream-name", "cli")
    assert "cli" not in aws("list-streams")["StreamNames"]

    assert aws.ops == model_operations() - {"SubscribeToShard"}, \
        sorted(model_operations() - {"SubscribeToShard"} - aws.ops)
    assert gw.stop() == 0, gw.stderr


JS_SCRIPT = r"""
import * as K from "@aws-sdk/client-kinesis";
const [endpoint, accessKeyId, secretAccessKey, region, middle] = process.argv.slice(1);
const k = new K.KinesisClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey },
                                maxAttempts: 1 });
const enc = new TextEncoder(), dec = new TextDecoder();
const ops = new Set();
const out = {};
const call = (op, input, opts) => { ops.add(op); return k.send(new K[op + "Command"](input), opts); };
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function active(name) {
  for (let i = 0; i < 600; i++) {
    const s = (await call("DescribeStreamSummary", { StreamName: name })).StreamDescriptionSummary;
    if (s.StreamStatus === "ACTIVE") return s;
    await sleep(50);
  }
  throw new Error(`${name} never became ACTIVE`);
}
async function readFrom(shardId, seq) {
  const it = await call("GetShardIterator", { StreamName: "js", ShardId: shardId,
    ShardIteratorType: "AT_SEQUENCE_NUMBER", StartingSequenceNumber: seq });
  return (await call("GetRecords", { ShardIterator: it.ShardIterator, Limit: 100 })).Records;
}
try {
  out.handler = (await k.config.requestHandler).constructor.name;
  await call("CreateStream", { StreamName: "js", ShardCount: 2 });
  await K.waitUntilStreamExists({ client: k, maxWaitTime: 30, minDelay: 1 }, { StreamName: "js" });
  const d = (await call("DescribeStream", { StreamName: "js" })).StreamDescription;
  const arn = d.StreamARN;
  out.describe = { status: d.StreamStatus, shards: d.Shards.length };
  out.listed = (await call("ListStreams", { Limit: 10 })).StreamNames;
  const p1 = await call("ListShards", { StreamName: "js", MaxResults: 1 });
  const p2 = await call("ListShards", { NextToken: p1.NextToken, MaxResults: 1 });
  out.shardPages = [p1.Shards.map(s => s.ShardId), p2.Shards.map(s => s.ShardId)];
  out.limits = await call("DescribeLimits", {});
  out.account = await call("DescribeAccountSettings", {});

  const t0 = new Date(Date.now() - 1000);
  const one = await call("PutRecord", { StreamName: "js", PartitionKey: "a",
                                        Data: enc.encode("hello") });
  const many = await call("PutRecords", { StreamARN: arn, Records: [0, 1, 2].map(i =>
    ({ PartitionKey: "a", Data: enc.encode(`r${i}`) })) });
  out.put = { shard: one.ShardId, seq: one.SequenceNumber, failed: many.FailedRecordCount,
              seqs: many.Records.map(r => r.SequenceNumber),
              shards: [...new Set(many.Records.map(r => r.ShardId))] };
  out.read = (await readFrom(one.ShardId, one.SequenceNumber)).map(r => dec.decode(r.Data));
  const at = await call("GetShardIterator", { StreamName: "js", ShardId: one.ShardId,
    ShardIteratorType: "AT_TIMESTAMP", Timestamp: t0 });
  out.atTimestamp = (await call("GetRecords", { ShardIterator: at.ShardIterator }))
    .Records.map(r => dec.decode(r.Data));

  // enhanced fan-out: a consumer and one SubscribeToShard event stream (HTTP/2)
  const c = (await call("RegisterStreamConsumer", { StreamARN: arn, ConsumerName: "c1" })).Consumer;
  for (let i = 0; ; i++) {
    const cd = (await call("DescribeStreamConsumer", { ConsumerARN: c.ConsumerARN }))
      .ConsumerDescription;
    if (cd.ConsumerStatus === "ACTIVE") break;
    if (i > 600) throw new Error("consumer never became ACTIVE");
    await sleep(50);
  }
  out.consumers = (await call("ListStreamConsumers", { StreamARN: arn })).Consumers
    .map(x => x.ConsumerName);
  const ac = new AbortController();
  const sub = await call("SubscribeToShard", { ConsumerARN: c.ConsumerARN, ShardId: one.ShardId,
    StartingPosition: { Type: "AT_SEQUENCE_NUMBER", SequenceNumber: one.SequenceNumber } },
    { abortSignal: ac.signal });
  out.streamed = [];
  for await (const ev of sub.EventStream) {
    if (ev.SubscribeToShardEvent) {
      for (const r of ev.SubscribeToShardEvent.Records) out.streamed.push(dec.decode(r.Data));
      if (out.streamed.length >= 4) break;
    }
  }
  ac.abort();
  await call("DeregisterStreamConsumer", { ConsumerARN: c.ConsumerARN });

  await call("AddTagsToStream", { StreamName: "js", Tags: { team: "video", env: "test" } });
  await call("RemoveTagsFromStream", { StreamName: "js", TagKeys: ["env"] });
  out.streamTags = (await call("ListTagsForStream", { StreamName: "js" })).Tags;
  await call("TagResource", { ResourceARN: arn, Tags: { owner: "ops" } });
  await call("UntagResource", { ResourceARN: arn, TagKeys: ["team"] });
  out.resourceTags = (await call("ListTagsForResource", { ResourceARN: arn })).Tags;

  await call("IncreaseStreamRetentionPeriod", { StreamName: "js", RetentionPeriodHours: 72 });
  out.retention = [(await active("js")).RetentionPeriodHours];
  await call("DecreaseStreamRetentionPeriod", { StreamARN: arn, RetentionPeriodHours: 24 });
  out.retention.push((await active("js")).RetentionPeriodHours);
  out.monitoring = [
    (await call("EnableEnhancedMonitoring", { StreamName: "js",
      ShardLevelMetrics: ["IncomingRecords"] })).DesiredShardLevelMetrics,
    (await call("DisableEnhancedMonitoring", { StreamName: "js",
      ShardLevelMetrics: ["ALL"] })).DesiredShardLevelMetrics];

  await call("StartStreamEncryption", { StreamName: "js", EncryptionType: "KMS",
                                        KeyId: "alias/aws/kinesis" });
  out.encryption = [(await active("js")).EncryptionType];
  const sealed = await call("PutRecord", { StreamName: "js", PartitionKey: "a",
                                           Data: enc.encode("secret") });
  const back = (await readFrom(sealed.ShardId, sealed.SequenceNumber))[0];
  out.sealed = [sealed.EncryptionType, dec.decode(back.Data), back.EncryptionType];
  await call("StopStreamEncryption", { StreamName: "js", EncryptionType: "KMS",
                                       KeyId: "alias/aws/kinesis" });
  out.encryption.push((await active("js")).EncryptionType);

  await call("PutResourcePolicy", { ResourceARN: arn, Policy: '{"Version":"2012-10-17"}' });
  out.policy = [(await call("GetResourcePolicy", { ResourceARN: arn })).Policy];
  await call("DeleteResourcePolicy", { ResourceARN: arn });
  out.policy.push((await call("GetResourcePolicy", { ResourceARN: arn })).Policy);

  await call("UpdateMaxRecordSize", { StreamARN: arn, MaxRecordSizeInKiB: 4096 });
  out.maxRecordKiB = (await active("js")).MaxRecordSizeInKiB;

  await call("SplitShard", { StreamName: "js", ShardToSplit: "shardId-000000000000",
                             NewStartingHashKey: middle });
  out.open = [(await active("js")).OpenShardCount];
  await call("MergeShards", { StreamName: "js", ShardToMerge: "shardId-000000000002",
                              AdjacentShardToMerge: "shardId-000000000003" });
  out.open.push((await active("js")).OpenShardCount);
  const usc = await call("UpdateShardCount", { StreamARN: arn, TargetShardCount: 3,
                                               ScalingType: "UNIFORM_SCALING" });
  out.rescale = [usc.CurrentShardCount, usc.TargetShardCount];
  out.open.push((await active("js")).OpenShardCount);

  await call("UpdateStreamMode", { StreamARN: arn, StreamModeDetails: { StreamMode: "ON_DEMAND" } });
  out.mode = (await active("js")).StreamModeDetails.StreamMode;
  out.commitment = (await call("UpdateAccountSettings", {
    MinimumThroughputBillingCommitment: { Status: "ENABLED" } }))
    .MinimumThroughputBillingCommitment.Status;
  await call("UpdateStreamWarmThroughput", { StreamName: "js", WarmThroughputMiBps: 50 });
  out.warm = (await active("js")).WarmThroughput;

  await call("DeleteStream", { StreamName: "js", EnforceConsumerDeletion: true });
  await K.waitUntilStreamNotExists({ client: k, maxWaitTime: 30, minDelay: 1 },
                                   { StreamName: "js" });
  out.afterDelete = (await call("ListStreams", {})).StreamNames;
  out.ops = [...ops].sort();
  console.log(JSON.stringify(out));
"""


def test_every_operation_through_the_js_sdk(make_gateway):
    js_kinesis.require_sdk()
    gw = make_gateway(env={"SLUICE_KINESIS_STATUS_DELAY_MS": "0"})
    out = js_kinesis.run(gw, JS_SCRIPT, MIDDLE_OF_SHARD_0, timeout=180)
    assert out["handler"] == "NodeHttp2Handler"
    assert out["describe"] == {"status": "ACTIVE", "shards": 2}
    assert out["listed"] == ["js"]
    assert out["shardPages"] == [["shardId-000000000000"], ["shardId-000000000001"]]
    assert out["limits"]["OpenShardCount"] == 2
    assert "MinimumThroughputBillingCommitment" in out["account"]
    assert out["put"]["failed"] == 0 and out["put"]["shards"] == [out["put"]["shard"]]
    assert out["read"] == ["hello", "r0", "r1", "r2"]
    assert out["atTimestamp"] == ["hello", "r0", "r1", "r2"]
    assert out["consumers"] == ["c1"]
    assert out["streamed"] == ["hello", "r0", "r1", "r2"]
    assert out["streamTags"] == [{"Key": "team", "Value": "video"}]
    assert out["resourceTags"] == [{"Key": "owner", "Value": "ops"}]
    assert out["retention"] == [72, 24]
    assert out["monitoring"] == [["IncomingRecords"], []]
    assert out["encryption"] == ["KMS", "NONE"]
    assert out["sealed"] == ["KMS", "secret", "KMS"]
    assert out["policy"] == ['{"Version":"2012-10-17"}', "{}"]
    assert out["maxRecordKiB"] == 4096
    assert out["open"] == [3, 2, 3]
    assert out["rescale"] == [2, 3]
    assert out["mode"] == "ON_DEMAND"
    assert out["commitment"] == "ENABLED"
    assert out["warm"] == {"TargetMiBps": 50, "CurrentMiBps": 50}
    assert out["afterDelete"] == []
    assert set(out["ops"]) == model_operations(), \
        sorted(model_operations() - set(out["ops"]))
    assert gw.stop() == 0, gw.stderr
