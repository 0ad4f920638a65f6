// InvokeWithResponseStream through the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda):
//   node lambda-stream.mjs <endpoint> <function> <payload JSON> [qualifier]
// prints, as JSON, what came back: the response's members, each event with the milliseconds
// since the command was sent, and the whole payload's length and SHA-256 (its text when short).
// An error the SDK raises is printed as {"error": {name, status, message}}.
import { createHash } from "node:crypto";
import { InvokeWithResponseStreamCommand, LambdaClient } from "@aws-sdk/client-lambda";

const [endpoint, name, payload, qualifier] = process.argv.slice(2);
const client = new LambdaClient({ endpoint, region: process.env.AWS_REGION, maxAttempts: 1 });
const input = { FunctionName: name, Payload: Buffer.from(payload), Qualifier: qualifier, LogType: "Tail" };

const started = performance.now();
const at = () => Math.round(performance.now() - started);
let out;
try {
  const r = await client.send(new InvokeWithResponseStreamCommand(input));
  const events = [];
  const hash = createHash("sha256");
  const parts = [];
  let size = 0;
  for await (const event of r.EventStream) {
    if (event.PayloadChunk) {
      const chunk = Buffer.from(event.PayloadChunk.Payload ?? []);
      hash.update(chunk);
      size += chunk.length;
      if (size <= 4096) parts.push(chunk);
      events.push({ type: "PayloadChunk", at: at(), size: chunk.length });
    } else if (event.InvokeComplete) {
      events.push({ type: "InvokeComplete", at: at(), ...event.InvokeComplete });
    } else {
      events.push({ type: Object.keys(event).join(","), at: at() });
    }
  }
  out = {
    status: r.StatusCode,
    executedVersion: r.ExecutedVersion,
    contentType: r.ResponseStreamContentType,
    events,
    size,
    sha256: hash.digest("hex"),
    text: size <= 4096 ? Buffer.concat(parts).toString("latin1") : null,
  };
} catch (e) {
  out = { error: { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message } };
}
console.log(JSON.stringify(out));
