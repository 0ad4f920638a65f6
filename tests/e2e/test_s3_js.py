"""The AWS SDK for JavaScript v3 against Ignis's S3: plain and streamed (aws-chunked, trailing
checksum) PUTs, lib-storage's multipart Upload, listing, a presigned GET and a delete."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

from conftest import ROOT, missing

JS = ROOT / "tests" / "js"


def test_the_javascript_sdk(node):
    if shutil.which("node") is None or not (JS / "node_modules" / "@aws-sdk" / "client-s3").is_dir():
        missing("node and tests/js/node_modules (scripts/test.sh runs `npm ci` there)")
    bucket = f"js-{os.urandom(4).hex()}"
    p = subprocess.run(["node", str(JS / "s3.mjs"), bucket], env=node.aws_env(), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["putETag"] == f'"{hashlib.md5(b"hello from js").hexdigest()}"'
    assert out["text"] == "hello from js" and out["stream"] == "streamed body"
    assert out["bigETag"].endswith('-3"') and out["bigLength"] == 12 * 1024 * 1024 and out["bigRoundTrip"]
    assert out["keys"] == ["big.bin", "stream.txt", "text.txt"]
    assert out["presigned"] == "hello from js"
    assert out["afterDelete"] == "NoSuchKey"
    s3 = node.client("s3")
    assert s3.get_object(Bucket=bucket, Key="stream.txt")["Body"].read() == b"streamed body"
    assert Path(JS / "package-lock.json").is_file()
