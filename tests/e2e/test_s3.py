"""The S3-compatible endpoint on the node's port, driven by boto3, the AWS CLI and raw HTTP:
buckets, objects, listings, multipart uploads, tagging, presigned URLs and S3's error answers."""

import datetime
import hashlib
import os
import subprocess
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(node):
    return node.client("s3")


@pytest.fixture
def bucket(s3, request):
    name = f"b-{request.node.name[:30].lower().replace('_', '-')}-{os.urandom(3).hex()}"
    s3.create_bucket(Bucket=name)
    yield name


def code(e: ClientError) -> tuple:
    return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]


def test_buckets(s3, bucket):
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert bucket in names
    s3.head_bucket(Bucket=bucket)
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=bucket)
    assert code(e.value) == ("BucketAlreadyOwnedByYou", 409)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=bucket)
    assert code(e.value) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="k")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=bucket)
    assert code(e.value) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert code(e.value) == ("InvalidBucketName", 400)


def test_objects_round_trip_with_their_headers(s3, bucket):
    body = b"hello, objects"
    put = s3.put_object(Bucket=bucket, Key="dir/a file+é.txt", Body=body, ContentType="text/plain",
                        CacheControl="max-age=60", ContentDisposition="inline", Metadata={"Color": "blue"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/a file+é.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "inline"
    assert got["Metadata"] == {"color": "blue"}
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket=bucket, Key="dir/a file+é.txt")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    s3.put_object(Bucket=bucket, Key="untyped", Body=b"1")
    assert s3.head_object(Bucket=bucket, Key="untyped")["ContentType"] == "binary/octet-stream"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code(e.value) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.delete_object(Bucket=bucket, Key="untyped")
    s3.delete_object(Bucket=bucket, Key="untyped")  # deleting what is gone succeeds, as on S3
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="untyped")


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA1", "SHA256"])  # CRC32C needs botocore[crt]
def test_checksums_are_checked_and_kept(s3, bucket, algorithm):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"checked bytes", ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"checked bytes"
    assert got[f"Checksum{algorithm}"] == value


def test_a_wrong_checksum_is_refused_and_nothing_is_stored(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"abc", ChecksumCRC32="AAAAAA==")
    assert code(e.value)[0] in ("BadDigest", "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert code(e.value) == ("BadDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_ranges_and_conditions(s3, bucket):
    body = bytes(range(100))
    etag = s3.put_object(Bucket=bucket, Key="r", Body=body)["ETag"]
    r = s3.get_object(Bucket=bucket, Key="r", Range="bytes=0-9")
    assert r["Body"].read() == body[:10] and r["ContentRange"] == "bytes 0-9/100"
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=90-")["Body"].read() == body[90:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=200-300")
    assert code(e.value) == ("InvalidRange", 416)
    assert s3.get_object(Bucket=bucket, Key="r", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfMatch='"0000"')
    assert code(e.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=future)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", IfUnmodifiedSince=past)
    assert code(e.value) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="r", IfModifiedSince=past)["ContentLength"] == 100


def test_listings(s3, bucket):
    keys = [f"photos/2026/{i:02}.jpg" for i in range(7)] + ["photos/top.jpg", "readme", "videos/a.mp4", "a b+c"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys)
    assert listed["KeyCount"] == len(keys) and not listed["IsTruncated"]
    grouped = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["photos/", "videos/"]
    assert [o["Key"] for o in grouped["Contents"]] == ["a b+c", "readme"]
    nested = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["photos/2026/"]
    assert [o["Key"] for o in nested["Contents"]] == ["photos/top.jpg"]
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **kw)
        seen += [o["Key"] for o in page.get("Contents", [])]
        assert page["KeyCount"] <= 3
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="photos/top.jpg")
    assert [o["Key"] for o in after["Contents"]] == ["readme", "videos/a.mp4"]
    v1 = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert v1["IsTruncated"] and v1["NextMarker"] == "photos/"
    rest = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=v1["NextMarker"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["videos/"]
    assert [o["Key"] for o in rest["Contents"]] == ["readme"]
    paginated = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4})
                 for o in p.get("Contents", [])]
    assert paginated == sorted(keys)


def test_copy_delete_many_and_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", Metadata={"m": "1"}, Tagging="team=a&env=dev")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"m": "1"}
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"m": "2"}, ContentType="text/x")
    h = s3.head_object(Bucket=bucket, Key="dst2")
    assert h["Metadata"] == {"m": "2"} and h["ContentType"] == "text/x"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert code(e.value) == ("InvalidRequest", 400)
    tags = s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "dev"), ("team", "a")]
    s3.put_object_tagging(Bucket=bucket, Key="src", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == [{"Key": "k", "Value": "v"}]
    s3.delete_object_tagging(Bucket=bucket, Key="src")
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == []
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src"}, {"Key": "dst"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["dst", "never", "src"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "dst2"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_multipart(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-test")["UploadId"]
    assert any(u["UploadId"] == up for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"])
    etags = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=i + 1, Body=p)["ETag"]
             for i, p in enumerate(parts)]
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in listed] == [1, 2, 3] and [p["Size"] for p in listed] == [len(p) for p in parts]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": etags[1]}, {"PartNumber": 1, "ETag": etags[0]}]})
    assert code(e.value) == ("InvalidPartOrder", 400)
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": i + 1, "ETag": t} for i, t in enumerate(etags)]})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts) and got["ContentType"] == "application/x-test"
    assert s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MiB - 2}-{5 * MiB + 1}")["Body"].read() == \
        parts[0][-2:] + parts[1][:2]
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)
    assert code(e.value) == ("NoSuchUpload", 404)
    # A part under 5 MiB but the last is refused; UploadPartCopy takes a range of an object.
    up2 = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    a = s3.upload_part(Bucket=bucket, Key="small", UploadId=up2, PartNumber=1, Body=b"tiny")["ETag"]
    c = s3.upload_part_copy(Bucket=bucket, Key="small", UploadId=up2, PartNumber=2,
                            CopySource={"Bucket": bucket, "Key": "mp"}, CopySourceRange="bytes=0-99")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=up2, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": a}, {"PartNumber": 2, "ETag": c["CopyPartResult"]["ETag"]}]})
    assert code(e.value) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=up2)
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_transfers_and_presigned_urls(s3, bucket, tmp_path):
    data = os.urandom(20 * MiB + 7)
    src, back = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(data)
    s3.upload_file(str(src), bucket, "big.bin")  # threaded multipart, boto3's default checksums
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    s3.download_file(bucket, "big.bin", str(back))
    assert back.read_bytes() == data
    v4 = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                      aws_secret_access_key=SECRET_KEY, config=Config(signature_version="s3v4"))
    put_url = v4.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=60)
    assert "X-Amz-Signature=" in put_url
    urllib.request.urlopen(urllib.request.Request(put_url, data=b"presigned body", method="PUT")).read()
    # boto3 presigns with SigV2 by default, SigV4 when asked: both are S3's.
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=60)
    assert urllib.request.urlopen(get_url).read() == b"presigned body"
    get_v4 = v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre"}, ExpiresIn=60)
    assert urllib.request.urlopen(get_v4).read() == b"presigned body"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(get_url.replace("Signature=", "Signature=0"))
    assert e.value.code == 403


def test_unsigned_and_wrongly_signed_requests_are_refused_as_s3_refuses_them(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"s")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{node.endpoint}/{bucket}/secret")
    assert e.value.code == 403
    body = e.value.read().decode()
    assert "<Code>AccessDenied</Code>" in body and body.startswith("<?xml")
    assert e.value.headers["x-amz-request-id"]
    wrong = node.client("s3", secret_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        wrong.get_object(Bucket=bucket, Key="secret")
    assert code(e.value) == ("SignatureDoesNotMatch", 403)
    unknown = node.client("s3", access_key="AKIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as e:
        unknown.list_buckets()
    assert code(e.value) == ("InvalidAccessKeyId", 403)


def test_virtual_hosted_addressing(node, s3, bucket):
    """`bucket.s3.localhost:port` names the bucket in the host; the request goes to 127.0.0.1."""
    s3.put_object(Bucket=bucket, Key="vh", Body=b"by host")
    port = node.endpoint.rsplit(":", 1)[1]
    for host in (f"{bucket}.s3.localhost:{port}", f"{bucket}.localhost:{port}"):
        client = boto3.client("s3", endpoint_url=f"http://{host.split(':')[0].split('.', 1)[1]}:{port}",
                              region_name=REGION, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                              config=Config(s3={"addressing_style": "virtual"}, retries={"max_attempts": 1}))

        def to_loopback(request, **_):
            request.headers["Host"] = host
            request.url = request.url.replace(f"//{host}", f"//127.0.0.1:{port}")

        client.meta.events.register_first("before-send.s3.*", lambda request, **kw: None)
        client.meta.events.register("request-created.s3.*", to_loopback)
        assert client.get_object(Bucket=bucket, Key="vh")["Body"].read() == b"by host"


def aws(node, *args, **kw):
    p = subprocess.run(["aws", *args], env=node.aws_env(), capture_output=True, text=True, timeout=300, **kw)
    assert p.returncode == 0, f"aws {' '.join(args)}: {p.stderr}"
    return p.stdout


def test_the_aws_cli(node, s3, tmp_path):
    name = f"cli-{os.urandom(4).hex()}"
    aws(node, "s3", "mb", f"s3://{name}")
    big = tmp_path / "dir" / "big.bin"
    big.parent.mkdir()
    data = os.urandom(20 * MiB)
    big.write_bytes(data)
    (tmp_path / "dir" / "small.txt").write_text("small")
    aws(node, "s3", "cp", str(big), f"s3://{name}/big.bin")
    assert s3.head_object(Bucket=name, Key="big.bin")["ETag"].endswith('-3"')  # the CLI went multipart
    aws(node, "s3", "cp", f"s3://{name}/big.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == data
    aws(node, "s3", "sync", str(tmp_path / "dir"), f"s3://{name}/synced/")
    assert "small.txt" in aws(node, "s3", "ls", f"s3://{name}/synced/")
    (tmp_path / "dir" / "small.txt").write_text("changed")
    out = aws(node, "s3", "sync", str(tmp_path / "dir"), f"s3://{name}/synced/")
    assert "small.txt" in out and "big.bin" not in out
    assert s3.get_object(Bucket=name, Key="synced/small.txt")["Body"].read() == b"changed"
    listing = aws(node, "s3api", "list-objects-v2", "--bucket", name, "--prefix", "synced/")
    assert "synced/big.bin" in listing
    aws(node, "s3", "rm", f"s3://{name}", "--recursive")
    aws(node, "s3", "rb", f"s3://{name}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
