// Drives Ignis's S3 with the AWS SDK for JavaScript v3 as an application would, and prints what
// it saw as JSON for the Python test to check. The endpoint and credentials come from the
// environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
import { Readable } from "node:stream";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command,
  DeleteObjectCommand, HeadObjectCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const bucket = process.argv[2];
const s3 = new S3Client({ forcePathStyle: true, maxAttempts: 1 });
const out = {};

await s3.send(new CreateBucketCommand({ Bucket: bucket }));
const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "text.txt", Body: "hello from js" }));
out.putETag = put.ETag;
out.putChecksum = put.ChecksumCRC32 ?? null;
// A stream of unknown length: the SDK sends it aws-chunked, with a trailing checksum.
const stream = Readable.from([Buffer.from("streamed "), Buffer.from("body")]);
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "stream.txt", Body: stream, ContentLength: 13 }));
out.text = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "text.txt" }))).Body.transformToString();
out.stream = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "stream.txt" }))).Body.transformToString();

const big = Buffer.alloc(12 * 1024 * 1024);
for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 251;
const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: "big.bin", Body: Readable.from([big]) }, partSize: 5 * 1024 * 1024 });
const done = await upload.done();
out.bigETag = done.ETag;
const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "big.bin" }));
out.bigLength = head.ContentLength;
const back = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big.bin" }))).Body.transformToByteArray());
out.bigRoundTrip = back.equals(big);

const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
out.keys = listed.Contents.map((o) => o.Key);

const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "text.txt" }), { expiresIn: 60 });
out.presigned = await (await fetch(url)).text();

await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "text.txt" }));
try {
  await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "text.txt" }));
  out.afterDelete = "still there";
} catch (e) {
  out.afterDelete = e.name;
}
console.log(JSON.stringify(out));
