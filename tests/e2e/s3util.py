"""Helpers the S3 end-to-end tests share: clients, unique bucket names, raw signed requests
(path-style and virtual-hosted, sent to 127.0.0.1 whatever the Host says), S3's error shapes,
checksums S3 uses, the AWS CLI, events a function logged and function packages built with pip."""

import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import boto3
import pytest
import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from abuse import function_logs
from conftest import ACCESS_KEY, REGION, ROOT, SECRET_KEY, missing

MiB = 1024 * 1024
ACCOUNT = "000000000000"
CACHE = Path(os.environ.get("IGNIS_FIXTURE_CACHE") or ROOT / ".venv" / "fixture-cache")
_seq = [0]


def bucket_name(prefix="t") -> str:
    """A valid, unique bucket name (3-63 lowercase letters, digits and hyphens)."""
    _seq[0] += 1
    return f"{prefix}-{os.getpid()}-{_seq[0]}-{os.urandom(3).hex()}"[:63].strip("-").lower()


def port(node) -> int:
    return int(node.endpoint.rsplit(":", 1)[1])


def s3_client(node, addressing=None, access_key=ACCESS_KEY, secret_key=SECRET_KEY, endpoint=None, **cfg):
    """A boto3 S3 client for the node. With `addressing='virtual'`, requests go to
    `<bucket>.<endpoint host>` as boto3 builds them, but are sent to 127.0.0.1 (names under
    `localhost` need not resolve here) with boto3's Host header kept."""
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=300,
                    s3={"addressing_style": addressing} if addressing else None, **cfg)
    client = boto3.client("s3", endpoint_url=endpoint or node.endpoint, region_name=REGION,
                          aws_access_key_id=access_key, aws_secret_access_key=secret_key, config=config)
    if endpoint or addressing == "virtual":
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port(node), retries=False, timeout=300)

        def send_to_loopback(request, **_):
            url = urllib.parse.urlsplit(request.url)
            path = url.path + (f"?{url.query}" if url.query else "")
            headers = dict(request.headers.items())
            headers["Host"] = url.netloc
            r = pool.urlopen(request.method, path, body=request.body, headers=headers,
                             preload_content=False, assert_same_host=False, redirect=False)
            return AWSResponse(request.url, r.status, r.headers, r)

        client.meta.events.register_first("before-send.s3", send_to_loopback)
    return client


def err(e: ClientError) -> tuple:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def raises(code, status, fn, *args, **kw) -> ClientError:
    """Calls fn and asserts S3 answered with the error `code` and HTTP `status`."""
    with pytest.raises(ClientError) as e:
        fn(*args, **kw)
    assert err(e.value) == (code, status), e.value.response
    return e.value


class Raw:
    """A raw HTTP answer: status, headers (lower-case names), body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def xml(self):
        return ET.fromstring(self.body)

    def error(self) -> dict:
        """S3's <Error> document as {child tag: text}."""
        root = self.xml()
        assert root.tag == "Error", self.body
        return {child.tag: child.text for child in root}

    def __repr__(self):
        return f"Raw({self.status}, {self.headers}, {self.body[:500]!r})"


def raw(node, method, path, body=b"", headers=None, host=None, sign=True,
        access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION) -> Raw:
    """One HTTP request to the node's port: `path` (with its query) under `host` (the node's
    own host:port unless given), signed with SigV4 for s3 unless `sign` is false."""
    host = host or f"127.0.0.1:{port(node)}"
    headers = dict(headers or {})
    if sign:
        req = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers=headers)
        S3SigV4Auth(Credentials(access_key, secret_key), "s3", region).add_auth(req)
        headers = dict(req.headers.items())
    headers["Host"] = host
    conn = http.client.HTTPConnection("127.0.0.1", port(node), timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return Raw(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def multipart_etag(parts) -> str:
    """S3's ETag of a completed multipart upload: the MD5 of the parts' binary MD5s, '-N'."""
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> str:
    c = 0xFFFFFFFF
    for byte in data:
        c = _CRC32C[(c ^ byte) & 0xFF] ^ (c >> 8)
    return b64((c ^ 0xFFFFFFFF).to_bytes(4, "big"))


def sha1(data: bytes) -> str:
    return b64(hashlib.sha1(data).digest())


def sha256(data: bytes) -> str:
    return b64(hashlib.sha256(data).digest())


def aws(node, *args, check=True, timeout=600, cwd=None) -> subprocess.CompletedProcess:
    """The AWS CLI of the test venv (`python -m awscli`) against the node."""
    r = subprocess.run([sys.executable, "-m", "awscli", *args], env=node.aws_env(), capture_output=True,
                       text=True, timeout=timeout, cwd=cwd)
    if check:
        assert r.returncode == 0, f"aws {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def logged_events(node, name, count, timeout=60, marker="EVENT ") -> list:
    """The JSON documents the function printed after `marker`, once at least `count` arrived."""
    pattern = re.compile(re.escape(marker) + r"(\{.*\})")
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(m.group(1)) for m in pattern.finditer(function_logs(node, name))]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} events arrived:\n{function_logs(node, name)[-3000:]}"
        time.sleep(0.3)


def pip_target(requirements: list, name: str) -> Path:
    """A directory with `requirements` installed by pip for this host's Python (the one the
    python3.11 runtime runs), cached across runs under the fixture cache."""
    key = hashlib.sha256(f"{sys.version}|{sorted(requirements)}".encode()).hexdigest()[:12]
    target = CACHE / f"pip-{name}-{key}"
    if (target / ".complete").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "--no-compile", "--target", str(target), *requirements],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        missing(f"pip install {' '.join(requirements)} failed: {r.stderr[-2000:]}")
    (target / ".complete").touch()
    return target


def zip_dir(zip_path: Path, files: dict, *dirs: Path) -> Path:
    """A zip of {name: text} plus the contents of `dirs` at its root."""
    import zipfile

    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
        for d in dirs:
            for p in sorted(d.rglob("*")):
                rel = p.relative_to(d)
                if p.is_file() and rel.parts[0] != ".complete" and "__pycache__" not in rel.parts:
                    z.write(p, str(rel))
    return zip_path


def allow_s3(lam, function, bucket, sid="s3-invoke"):
    """`lambda add-permission` as AWS's S3 trigger tutorials give it."""
    lam.add_permission(FunctionName=function, StatementId=sid, Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount=ACCOUNT)


def wait_for(fn, timeout=60, interval=0.3, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)
