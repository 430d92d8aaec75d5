"""Kinesis Data Streams through the AWS SDK for JavaScript v3 with its default handler (HTTP/2,
cleartext prior knowledge): PutRecords, GetShardIterator, GetRecords and a SubscribeToShard event
stream. The client script is inline and runs with node in tests/e2e/js (its node_modules)."""
import time

import js_kinesis

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
"""


def test_js_sdk_records_and_subscription_over_http2(make_gateway):
    js_kinesis.require_sdk()
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
    out = js_kinesis.run(gw, SCRIPT, carn, timeout=120)
    assert out["failed"] == 0
    assert len(out["seqs"]) == 20 and all(len(s) == 56 for s in out["seqs"])
    assert out["read"] == [f"js-{i}" for i in range(20)]
    assert out["behind"] == 0
    assert out["streamed"] == out["seqs"]
    assert out["cont"] == out["seqs"][-1]
    # The SDK's default handler for Kinesis is its HTTP/2 one (prior knowledge on http://).
    assert out["handler"] == "NodeHttp2Handler"
