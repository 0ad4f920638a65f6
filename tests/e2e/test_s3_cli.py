"""The AWS CLI's `aws s3` and `aws s3api` against the node, as a user runs them with the
node's endpoint and credentials in the environment."""

import hashlib
import json
import os

import pytest

from s3util import MiB, aws, bucket_name, s3_client


@pytest.fixture(scope="module")
def s3(node):
    return s3_client(node)


def test_mb_cp_ls_rm_rb(node, s3, tmp_path):
    bucket = bucket_name("cli")
    out = aws(node, "s3", "mb", f"s3://{bucket}").stdout
    assert f"make_bucket: {bucket}" in out
    s3.head_bucket(Bucket=bucket)
    assert bucket in aws(node, "s3", "ls").stdout

    big = tmp_path / "big.bin"
    data = os.urandom(20 * MiB + 321)
    big.write_bytes(data)
    small = tmp_path / "small.txt"
    small.write_text("small file\n")
    aws(node, "s3", "cp", str(big), f"s3://{bucket}/data/big.bin")
    aws(node, "s3", "cp", str(small), f"s3://{bucket}/data/small.txt")
    # 20 MB is past the CLI's 8 MB multipart threshold: a multipart ETag with 3 parts of 8 MiB.
    head = s3.head_object(Bucket=bucket, Key="data/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"'), head["ETag"]
    assert s3.head_object(Bucket=bucket, Key="data/small.txt")["ContentType"] == "text/plain"

    back = tmp_path / "back.bin"
    aws(node, "s3", "cp", f"s3://{bucket}/data/big.bin", str(back))
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(data).digest()

    listing = aws(node, "s3", "ls", f"s3://{bucket}/").stdout
    assert "PRE data/" in listing
    listing = aws(node, "s3", "ls", f"s3://{bucket}/data/").stdout
    lines = {line.split()[-1]: line.split() for line in listing.splitlines() if line.strip()}
    assert set(lines) == {"big.bin", "small.txt"}
    assert lines["big.bin"][2] == str(len(data)) and lines["small.txt"][2] == str(len("small file\n"))
    rec = aws(node, "s3", "ls", f"s3://{bucket}", "--recursive", "--summarize").stdout
    assert "Total Objects: 2" in rec and f"Total Size: {len(data) + 11}" in rec

    # Not empty: rb without --force fails.
    r = aws(node, "s3", "rb", f"s3://{bucket}", check=False)
    assert r.returncode != 0 and "BucketNotEmpty" in r.stderr
    out = aws(node, "s3", "rm", f"s3://{bucket}/", "--recursive").stdout
    assert out.count("delete: ") == 2
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert f"remove_bucket: {bucket}" in aws(node, "s3", "rb", f"s3://{bucket}").stdout
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_sync_uploads_only_what_changed(node, s3, tmp_path):
    bucket = bucket_name("sync")
    aws(node, "s3", "mb", f"s3://{bucket}")
    src = tmp_path / "site"
    (src / "css").mkdir(parents=True)
    files = {"index.html": "<h1>hi</h1>", "about.html": "<p>about</p>", "css/site.css": "body{}",
             "img.bin": os.urandom(1000)}
    for name, content in files.items():
        p = src / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = aws(node, "s3", "sync", str(src), f"s3://{bucket}/site").stdout
    assert out.count("upload: ") == 4, out
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"site/{n}" for n in files}
    # Nothing changed: nothing uploaded.
    assert "upload: " not in aws(node, "s3", "sync", str(src), f"s3://{bucket}/site").stdout
    # One file changed (a different size): only it is uploaded.
    (src / "about.html").write_text("<p>about us, at more length</p>")
    out = aws(node, "s3", "sync", str(src), f"s3://{bucket}/site").stdout
    uploads = [line for line in out.splitlines() if line.startswith("upload: ")]
    assert len(uploads) == 1 and uploads[0].endswith(f"s3://{bucket}/site/about.html"), out
    assert s3.get_object(Bucket=bucket, Key="site/about.html")["Body"].read() == b"<p>about us, at more length</p>"
    # A local delete with --delete removes the object.
    (src / "img.bin").unlink()
    out = aws(node, "s3", "sync", str(src), f"s3://{bucket}/site", "--delete").stdout
    assert f"delete: s3://{bucket}/site/img.bin" in out
    # Down again into an empty directory.
    down = tmp_path / "down"
    out = aws(node, "s3", "sync", f"s3://{bucket}/site", str(down)).stdout
    assert out.count("download: ") == 3
    assert (down / "css" / "site.css").read_text() == "body{}"
    assert (down / "about.html").read_text() == "<p>about us, at more length</p>"
    aws(node, "s3", "rb", f"s3://{bucket}", "--force")


def test_s3api(node, tmp_path):
    bucket = bucket_name("s3api")
    created = json.loads(aws(node, "s3api", "create-bucket", "--bucket", bucket).stdout)
    assert created["Location"] == f"/{bucket}"
    body = tmp_path / "body.json"
    body.write_text('{"a": 1}')
    put = json.loads(aws(node, "s3api", "put-object", "--bucket", bucket, "--key", "doc.json", "--body", str(body),
                         "--content-type", "application/json", "--metadata", "k=v").stdout)
    assert put["ETag"] == f'"{hashlib.md5(body.read_bytes()).hexdigest()}"'
    head = json.loads(aws(node, "s3api", "head-object", "--bucket", bucket, "--key", "doc.json").stdout)
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"k": "v"}
    assert head["ContentLength"] == 8
    listed = json.loads(aws(node, "s3api", "list-objects-v2", "--bucket", bucket).stdout)
    assert [o["Key"] for o in listed["Contents"]] == ["doc.json"]
    out = tmp_path / "out.json"
    got = json.loads(aws(node, "s3api", "get-object", "--bucket", bucket, "--key", "doc.json", str(out)).stdout)
    assert out.read_text() == '{"a": 1}' and got["ContentLength"] == 8
    r = aws(node, "s3api", "get-object", "--bucket", bucket, "--key", "missing", str(out), check=False)
    assert r.returncode != 0 and "NoSuchKey" in r.stderr
    aws(node, "s3api", "delete-object", "--bucket", bucket, "--key", "doc.json")
    aws(node, "s3api", "delete-bucket", "--bucket", bucket)
    r = aws(node, "s3api", "head-bucket", "--bucket", bucket, check=False)
    assert r.returncode != 0 and "404" in r.stderr
