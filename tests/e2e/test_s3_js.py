"""The AWS SDK for JavaScript v3 (@aws-sdk/client-s3, lib-storage, s3-request-presigner, pinned in
tests/js/package-lock.json and installed by scripts/test.sh with `npm ci`) against the node:
tests/js/s3.mjs runs each step path-style and virtual-hosted and prints what it observed."""

import base64
import hashlib
import json
import subprocess
import zlib

import pytest

from conftest import JS, require_js
from s3util import bucket_name, s3_client


@pytest.fixture(scope="module")
def js_run(node):
    require_js("@aws-sdk/client-s3")
    bucket = bucket_name("js")
    r = subprocess.run(["node", str(JS / "s3.mjs"), node.endpoint, bucket], env=node.aws_env(), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"s3.mjs failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
    return bucket, json.loads(r.stdout)


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize("style", ["pathStyle", "virtual"])
def test_the_js_sdk(node, js_run, style):
    bucket, out = js_run
    r = out[style]
    label = "path" if style == "pathStyle" else "virtual"
    hosts = {w["host"] for w in r["wire"]}
    port = node.endpoint.rsplit(":", 1)[1]
    assert hosts == ({f"127.0.0.1:{port}"} if style == "pathStyle" else {f"{bucket}.s3.localhost:{port}"})
    text = b"hello from the JS SDK"
    assert r["putString"] == {"etag": f'"{hashlib.md5(text).hexdigest()}"', "crc32": crc32(text)}
    # The stream went aws-chunked with its CRC32 in a trailer, and was stored exactly.
    chunked = [w for w in r["wire"] if w["path"].endswith("/stream.bin") and w["contentEncoding"]]
    assert chunked and chunked[0]["contentEncoding"] == "aws-chunked"
    assert chunked[0]["trailer"] == "x-amz-checksum-crc32"
    assert chunked[0]["sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    ps = r["putStream"]
    assert ps["etag"] == f'"{ps["md5"]}"' and ps["crc32"]
    assert r["getStream"]["sha256"] == ps["sha256"]
    s3 = s3_client(node)
    stored = s3.get_object(Bucket=bucket, Key=f"{label}/stream.bin", ChecksumMode="ENABLED")
    data = stored["Body"].read()
    assert len(data) == ps["size"] and hashlib.sha256(data).hexdigest() == ps["sha256"]
    assert stored["ContentLength"] == ps["size"]
    assert stored.get("ChecksumCRC32") == crc32(data) == ps["crc32"]
    assert r["get"] == {"body": text.decode(), "contentType": "text/plain", "metadata": {"from": "js"},
                        "etag": f'"{hashlib.md5(text).hexdigest()}"', "length": len(text)}
    up = r["upload"]
    assert up["etag"].endswith('-3"') and up["headEtag"] == up["etag"]
    assert up["length"] == 12 * 1024 * 1024 and up["gotSha256"] == up["sha256"]
    assert r["list"] == {"keys": [f"{label}/big.bin", f"{label}/hello.txt", f"{label}/stream.bin"], "keyCount": 3,
                         "sizes": [12 * 1024 * 1024, len(text), ps["size"]]}
    pre = r["presigned"]
    assert "X-Amz-Signature=" in pre["url"]
    assert pre["status"] == 200 and pre["body"] == text.decode()
    assert r["afterDelete"] == {"name": "NoSuchKey", "status": 404}
    # S3 stores an aws-chunked upload without aws-chunked in its Content-Encoding (it is how the
    # body travelled, not what it is).
    assert "aws-chunked" not in (stored.get("ContentEncoding") or ""), stored.get("ContentEncoding")
