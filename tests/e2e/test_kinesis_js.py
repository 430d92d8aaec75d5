"""Kinesis Data Streams through the AWS SDK for JavaScript v3 with its default handler (HTTP/2,
cleartext prior knowledge): PutRecords, GetShardIterator, GetRecords and a SubscribeToShard event
stream. The client script is inline and runs with node in tests/e2e/js (its node_modules)."""
import json
import os
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")

SCRIPT = r"""
import { KinesisClient, PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand,
         SubscribeToShardCommand } from "@aws-sdk/client-kinesis";
const [endpoint, accessKeyId, secretAccessKey, region, consumerARN] = process.argv.slice(1);
const k = new KinesisClient({ endpoint, region, credentials: { accessKeyId, secretAccessKey },
                              maxAttempts: 1 });
const enc = new TextEncoder(), dec = new TextDecoder();
const out = { handler: (await k.config.requestHandler).constructor.name };
try {
  const put = await k.send(new PutRecordsCommand({ StreamName: "js", Records:
    Array.from({ length: 20 }, (_, i) => ({ Data: enc.encode(`js-${i}`), PartitionKey: `k${i}` })) }));
  out.failed = put.FailedRecordCount;
  out.seqs = put.Records.map(r => r.SequenceNumber);
  const it = await k.send(new GetShardIteratorCommand({ StreamName: "js",
    ShardId: "shardId-000000000000", ShardIteratorType: "TRIM_HORIZON" }));
  const got = await k.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator }));
  out.read = got.Records.map(r => dec.decode(r.Data));
  out.behind = got.MillisBehindLatest;
  const ac = new AbortController();
  const sub = await k.send(new SubscribeToShardCommand({ ConsumerARN: consumerARN,
    ShardId: "shardId-000000000000", StartingPosition: { Type: "TRIM_HORIZON" } }),
    { abortSignal: ac.signal });
  out.streamed = [];
  for await (const ev of sub.EventStream) {
    if (ev.SubscribeToShardEvent) {
      for (const r of ev.SubscribeToShardEvent.Records) out.streamed.push(r.SequenceNumber);
      out.cont = ev.SubscribeToShardEvent.ContinuationSequenceNumber;
      if (out.streamed.length >= 20) break;
    }
  }
  ac.abort();  // a subscription lasts 5 minutes unless the client hangs up
  console.log(JSON.stringify(out));
} catch (e) {
  console.error(`${e.name}: ${e.message}`);
  process.exitCode = 1;
} finally {
  k.destroy();
  process.exit();  // do not wait for the aborted HTTP/2 stream to wind down
}
"""


def test_js_sdk_records_and_subscription_over_http2(make_gateway):
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-kinesis")):
        pytest.fail("run `npm ci` in tests/e2e/js (scripts/setup-test-clients.sh does it)")
    gw = make_gateway(env={"SLUICE_KINESIS_STATUS_DELAY_MS": "0"})
    k = gw.client("kinesis")
    k.create_stream(StreamName="js", ShardCount=1)
    deadline = time.monotonic() + 20
    while k.describe_stream_summary(StreamName="js")["StreamDescriptionSummary"][
            "StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    arn = k.describe_stream_summary(StreamName="js")["StreamDescriptionSummary"]["StreamARN"]
    carn = k.register_stream_consumer(StreamARN=arn, ConsumerName="js")["Consumer"][
        "ConsumerARN"]
    while k.describe_stream_consumer(ConsumerARN=carn)["ConsumerDescription"][
            "ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    p = subprocess.run(["node", "--input-type=module", "-e", SCRIPT, gw.url, gw.access_key,
                        gw.secret_key, gw.region, carn], cwd=JS_DIR, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["failed"] == 0
    assert len(out["seqs"]) == 20 and all(len(s) == 56 for s in out["seqs"])
    assert out["read"] == [f"js-{i}" for i in range(20)]
    assert out["behind"] == 0
    assert out["streamed"] == out["seqs"]
    assert out["cont"] == out["seqs"][-1]
    # The SDK's default handler for Kinesis is its HTTP/2 one (prior knowledge on http://).
    assert out["handler"] == "NodeHttp2Handler"
