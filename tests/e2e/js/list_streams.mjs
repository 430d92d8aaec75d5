// Lists Kinesis streams and Kinesis Video streams through the AWS SDK for JavaScript v3 with its
// default request handlers (HTTP/2 for Kinesis, cleartext prior knowledge on http://).
// Usage: node list_streams.mjs ENDPOINT ACCESS_KEY SECRET_KEY REGION
// Prints one JSON object {kinesis: <ListStreams output>, video: <ListStreams output>}.
import { KinesisClient, ListStreamsCommand } from "@aws-sdk/client-kinesis";
import { KinesisVideoClient, ListStreamsCommand as ListVideoStreamsCommand } from "@aws-sdk/client-kinesis-video";

const [endpoint, accessKeyId, secretAccessKey, region] = process.argv.slice(2);
const common = { endpoint, region, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 };

const kinesis = new KinesisClient(common);
const video = new KinesisVideoClient(common);
try {
  const k = await kinesis.send(new ListStreamsCommand({}));
  const v = await video.send(new ListVideoStreamsCommand({}));
  delete k.$metadata;
  delete v.$metadata;
  console.log(JSON.stringify({ kinesis: k, video: v }));
} catch (e) {
  console.error(`${e.name}: ${e.message}`);
  process.exitCode = 1;
} finally {
  kinesis.destroy();
  video.destroy();
}
