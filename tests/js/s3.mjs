// The AWS SDK for JavaScript v3 against an Ignis node: bucket, PutObject (a string, and a stream,
// which the SDK sends aws-chunked with a trailing CRC32 by default), GetObject, ListObjectsV2, a
// multipart Upload with lib-storage, a presigned GET fetched with fetch(), DeleteObject; then the
// same with virtual-hosted addressing (no forcePathStyle) at http://s3.localhost:PORT, whose
// names are resolved to 127.0.0.1 by the client's own agent.
//
// Usage: node s3.mjs <endpoint> <bucket>   (credentials and region from the environment)
// Prints one JSON document with what each step observed.
import http from "node:http";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const [endpoint, bucket] = process.argv.slice(2);
const port = new URL(endpoint).port;
const out = {};
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// Every name resolves to 127.0.0.1: `<bucket>.s3.localhost` need not resolve on this host.
class LoopbackAgent extends http.Agent {
  createConnection(options, callback) {
    const lookup = (host, opts, cb) => {
      if (typeof opts === "function") cb = opts;
      if (opts && opts.all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
      else cb(null, "127.0.0.1", 4);
    };
    return super.createConnection({ ...options, lookup }, callback);
  }
}

// Records the Host and the wire shape (aws-chunked, trailer) of each request the client sends.
function recorder(client, log) {
  client.middlewareStack.add((next) => async (args) => {
    const h = args.request.headers || {};
    log.push({
      host: h.host || args.request.hostname, path: args.request.path,
      contentEncoding: h["content-encoding"] || null, trailer: h["x-amz-trailer"] || null,
      sha256: h["x-amz-content-sha256"] || null,
    });
    return next(args);
  }, { step: "finalizeRequest", priority: "low", name: "ignisRecorder" });
}

async function exercise(client, label, bucketName, create) {
  const r = { wire: [] };
  recorder(client, r.wire);
  if (create) await client.send(new CreateBucketCommand({ Bucket: bucketName }));
  const put = await client.send(new PutObjectCommand({
    Bucket: bucketName, Key: `${label}/hello.txt`, Body: "hello from the JS SDK", ContentType: "text/plain",
    Metadata: { from: "js" },
  }));
  r.putString = { etag: put.ETag, crc32: put.ChecksumCRC32 || null };

  const streamed = Buffer.alloc(300 * 1024);
  for (let i = 0; i < streamed.length; i++) streamed[i] = (i * 7919) & 0xff;
  const chunks = [];
  for (let i = 0; i < streamed.length; i += 64 * 1024) chunks.push(streamed.subarray(i, i + 64 * 1024));
  const put2 = await client.send(new PutObjectCommand({
    Bucket: bucketName, Key: `${label}/stream.bin`, Body: Readable.from(chunks), ContentLength: streamed.length,
  }));
  r.putStream = { etag: put2.ETag, crc32: put2.ChecksumCRC32 || null, sha256: sha256(streamed),
                  md5: createHash("md5").update(streamed).digest("hex"), size: streamed.length };

  const got = await client.send(new GetObjectCommand({ Bucket: bucketName, Key: `${label}/hello.txt` }));
  r.get = { body: await got.Body.transformToString(), contentType: got.ContentType, metadata: got.Metadata,
            etag: got.ETag, length: got.ContentLength };
  const got2 = await client.send(new GetObjectCommand({ Bucket: bucketName, Key: `${label}/stream.bin` }));
  r.getStream = { sha256: sha256(Buffer.from(await got2.Body.transformToByteArray())) };

  const big = Buffer.alloc(12 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
  const upload = new Upload({
    client, params: { Bucket: bucketName, Key: `${label}/big.bin`, Body: Readable.from([big]) },
    partSize: 5 * 1024 * 1024, queueSize: 3,
  });
  const done = await upload.done();
  const head = await client.send(new HeadObjectCommand({ Bucket: bucketName, Key: `${label}/big.bin` }));
  const gotBig = await client.send(new GetObjectCommand({ Bucket: bucketName, Key: `${label}/big.bin` }));
  r.upload = { etag: done.ETag, headEtag: head.ETag, length: head.ContentLength, sha256: sha256(big),
               gotSha256: sha256(Buffer.from(await gotBig.Body.transformToByteArray())) };

  const list = await client.send(new ListObjectsV2Command({ Bucket: bucketName, Prefix: `${label}/` }));
  r.list = { keys: (list.Contents || []).map((o) => o.Key), keyCount: list.KeyCount,
             sizes: (list.Contents || []).map((o) => o.Size) };

  const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: bucketName, Key: `${label}/hello.txt` }),
                                 { expiresIn: 300 });
  // fetch() resolves names itself: send to 127.0.0.1 with the URL's Host when it is not.
  const u = new URL(url);
  let status, body;
  if (u.hostname === "127.0.0.1") {
    const resp = await fetch(url);
    status = resp.status; body = await resp.text();
  } else {
    ({ status, body } = await new Promise((resolve, reject) => {
      http.get({ host: "127.0.0.1", port: u.port, path: u.pathname + u.search, headers: { host: u.host } }, (res) => {
        let data = ""; res.on("data", (c) => (data += c)); res.on("end", () => resolve({ status: res.statusCode, body: data }));
      }).on("error", reject);
    }));
  }
  r.presigned = { url, status, body };

  await client.send(new DeleteObjectCommand({ Bucket: bucketName, Key: `${label}/hello.txt` }));
  try {
    await client.send(new GetObjectCommand({ Bucket: bucketName, Key: `${label}/hello.txt` }));
    r.afterDelete = "still there";
  } catch (e) {
    r.afterDelete = { name: e.name, status: e.$metadata && e.$metadata.httpStatusCode };
  }
  return r;
}

const common = { region: process.env.AWS_REGION, maxAttempts: 1 };
const pathStyle = new S3Client({ ...common, endpoint, forcePathStyle: true });
out.pathStyle = await exercise(pathStyle, "path", bucket, true);
const virtual = new S3Client({ ...common, endpoint: `http://s3.localhost:${port}`,
                               requestHandler: { httpAgent: new LoopbackAgent() } });
out.virtual = await exercise(virtual, "virtual", bucket, false);
console.log(JSON.stringify(out));
