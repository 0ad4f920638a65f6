"""The S3 API on the node's port, driven by boto3 and raw HTTP as against AWS: buckets,
objects and their headers, checksums, ranges and conditions, copies, listings (v2 and v1),
multipart uploads, tagging, presigned URLs, virtual-hosted addressing and S3's error answers."""

import datetime
import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, REGION, SECRET_KEY

from s3util import (MiB, b64, bucket_name, crc32, crc32c, err, md5_etag, multipart_etag, port, raises, raw,
                    s3_client, sha1, sha256)


@pytest.fixture(scope="module")
def s3(node):
    return s3_client(node)


@pytest.fixture
def bucket(s3):
    name = bucket_name("api")
    s3.create_bucket(Bucket=name)
    return name


# ---------------------------------------------------------------------------
# Buckets


def test_bucket_lifecycle(s3):
    name = bucket_name("life")
    r = s3.create_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    listed = s3.list_buckets()
    assert name in [b["Name"] for b in listed["Buckets"]]
    entry = next(b for b in listed["Buckets"] if b["Name"] == name)
    assert isinstance(entry["CreationDate"], datetime.datetime)
    assert "ID" in listed["Owner"]
    # us-east-1 answers an empty LocationConstraint, which boto3 reports as None.
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    raises("BucketAlreadyOwnedByYou", 409, s3.create_bucket, Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    raises("BucketNotEmpty", 409, s3.delete_bucket, Bucket=name)
    s3.delete_object(Bucket=name, Key="k")
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    raises("404", 404, s3.head_bucket, Bucket=name)
    raises("NoSuchBucket", 404, s3.delete_bucket, Bucket=name)
    raises("NoSuchBucket", 404, s3.list_objects_v2, Bucket=name)
    raises("NoSuchBucket", 404, s3.put_object, Bucket=name, Key="k", Body=b"x")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("name", ["Not_Valid", "ab", "a" * 64, "-leading-hyphen", "two..dots", "192.168.5.4",
                                  "UPPER"])
def test_invalid_bucket_names_are_refused(s3, name):
    raises("InvalidBucketName", 400, s3.create_bucket, Bucket=name)


# ---------------------------------------------------------------------------
# Objects


def test_put_and_get_with_headers_and_metadata(s3, bucket):
    body = b"hello, objects\n"
    put = s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=body, ContentType="text/plain; charset=utf-8",
                        CacheControl="max-age=60", ContentDisposition='attachment; filename="a.txt"',
                        ContentEncoding="identity", ContentLanguage="en",
                        Metadata={"Color": "blue", "owner-id": "42"})
    assert put["ETag"] == md5_etag(body)
    got = s3.get_object(Bucket=bucket, Key="dir/a.txt")
    assert got["Body"].read() == body
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ETag"] == md5_etag(body)
    assert got["ContentLength"] == len(body)
    assert got["ContentType"] == "text/plain; charset=utf-8"
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == 'attachment; filename="a.txt"'
    assert got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"color": "blue", "owner-id": "42"}
    assert got["AcceptRanges"] == "bytes"
    assert isinstance(got["LastModified"], datetime.datetime)
    head = s3.head_object(Bucket=bucket, Key="dir/a.txt")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    assert head["ContentType"] == "text/plain; charset=utf-8" and head["Metadata"] == got["Metadata"]
    assert head["LastModified"] == got["LastModified"]
    # Without a Content-Type, S3 stores binary/octet-stream.
    s3.put_object(Bucket=bucket, Key="untyped", Body=b"1")
    assert s3.head_object(Bucket=bucket, Key="untyped")["ContentType"] == "binary/octet-stream"
    # An empty object, and an overwrite.
    assert s3.put_object(Bucket=bucket, Key="empty", Body=b"")["ETag"] == md5_etag(b"")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"v2")
    again = s3.get_object(Bucket=bucket, Key="dir/a.txt")
    assert again["Body"].read() == b"v2" and again["Metadata"] == {}
    # Keys with spaces, unicode and characters URLs escape round-trip.
    for key in ["a key with spaces", "ünï/cødé ☃.txt", "plus+and%percent&amp=eq?q#h", "trailing/"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"a key with spaces", "ünï/cødé ☃.txt", "plus+and%percent&amp=eq?q#h", "trailing/"} <= keys


def test_missing_objects(s3, bucket):
    e = raises("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="nope")
    assert e.response["Error"]["Key"] == "nope"
    raises("404", 404, s3.head_object, Bucket=bucket, Key="nope")
    # Deleting a missing key succeeds, as on S3.
    assert s3.delete_object(Bucket=bucket, Key="nope")["ResponseMetadata"]["HTTPStatusCode"] == 204
    raises("NoSuchBucket", 404, s3.get_object, Bucket=bucket_name("none"), Key="k")


@pytest.mark.parametrize("algorithm,expected", [("CRC32", crc32), ("SHA1", sha1), ("SHA256", sha256)])
def test_put_with_a_checksum_algorithm(s3, bucket, algorithm, expected):
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key=f"sum-{algorithm}", Body=body, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == expected(body)
    assert put["ETag"] == md5_etag(body)
    head = s3.head_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == expected(body)
    got = s3.get_object(Bucket=bucket, Key=f"sum-{algorithm}", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got[f"Checksum{algorithm}"] == expected(body)


def test_put_with_a_crc32c_given_by_the_caller(s3, bucket):
    # botocore computes CRC32C only with awscrt; a caller may send the value itself.
    body = b"The quick brown fox jumps over the lazy dog" * 100
    put = s3.put_object(Bucket=bucket, Key="crc32c", Body=body, ChecksumCRC32C=crc32c(body))
    assert put["ChecksumCRC32C"] == crc32c(body)
    assert s3.head_object(Bucket=bucket, Key="crc32c", ChecksumMode="ENABLED")["ChecksumCRC32C"] == crc32c(body)
    e = raises("BadDigest", 400, s3.put_object, Bucket=bucket, Key="crc32c-bad", Body=body,
               ChecksumCRC32C=crc32c(b"other"))
    assert "CRC32C" in e.response["Error"]["Message"]
    raises("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="crc32c-bad")


def test_boto3s_default_checksum_and_content_md5(s3, bucket):
    # boto3 (when_supported) sends a CRC32 on every PutObject without being asked.
    body = b"default checksum" * 1000
    put = s3.put_object(Bucket=bucket, Key="default", Body=body)
    assert put["ChecksumCRC32"] == crc32(body)
    assert s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32(body)
    # A wrong Content-MD5 is refused and stores nothing.
    raises("BadDigest", 400, s3.put_object, Bucket=bucket, Key="md5-bad", Body=body,
           ContentMD5=b64(hashlib.md5(b"else").digest()))
    raises("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="md5-bad")
    s3.put_object(Bucket=bucket, Key="md5-ok", Body=body, ContentMD5=b64(hashlib.md5(body).digest()))
    assert s3.get_object(Bucket=bucket, Key="md5-ok")["Body"].read() == body


def test_ranges(s3, bucket):
    body = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    for rng, start, end in [("bytes=0-9", 0, 9), ("bytes=-5", 95, 99), ("bytes=10-", 10, 99),
                            ("bytes=90-1000", 90, 99)]:
        got = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert got["Body"].read() == body[start:end + 1], rng
        assert got["ContentRange"] == f"bytes {start}-{end}/100", rng
        assert got["ContentLength"] == end - start + 1, rng
    e = raises("InvalidRange", 416, s3.get_object, Bucket=bucket, Key="r", Range="bytes=100-")
    assert e.response["Error"].get("ActualObjectSize") == "100"
    raises("InvalidRange", 416, s3.get_object, Bucket=bucket, Key="r", Range="bytes=500-600")


def test_conditional_reads(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    etag = put["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    past = modified - datetime.timedelta(days=1)
    future = modified + datetime.timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"conditional"
    raises("PreconditionFailed", 412, s3.get_object, Bucket=bucket, Key="c", IfMatch='"0000"')
    raises("304", 304, s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"0000"')["Body"].read() == b"conditional"
    raises("304", 304, s3.get_object, Bucket=bucket, Key="c", IfModifiedSince=future)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"conditional"
    raises("PreconditionFailed", 412, s3.get_object, Bucket=bucket, Key="c", IfUnmodifiedSince=past)
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=future)["Body"].read() == b"conditional"
    # HeadObject answers the same statuses (without bodies).
    raises("412", 412, s3.head_object, Bucket=bucket, Key="c", IfMatch='"0000"')
    raises("304", 304, s3.head_object, Bucket=bucket, Key="c", IfNoneMatch=etag)
    # If-Match true and If-Unmodified-Since false: S3 answers 200 (RFC 7232 precedence).
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)["ETag"] == etag
    # If-None-Match false and If-Modified-Since true: 304.
    raises("304", 304, s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=etag, IfModifiedSince=past)


def test_delete_objects(s3, bucket):
    for k in ["a", "b", "c", "d"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "never"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "never"]
    assert not r.get("Errors")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert not r.get("Deleted") and not r.get("Errors")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d"]


def test_copy_object(s3, bucket):
    body = b"copy me" * 10
    src = s3.put_object(Bucket=bucket, Key="src", Body=body, ContentType="text/x-src", Metadata={"a": "1"})
    other = bucket_name("copy-dst")
    s3.create_bucket(Bucket=other)
    r = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == src["ETag"]
    assert isinstance(r["CopyObjectResult"]["LastModified"], datetime.datetime)
    got = s3.get_object(Bucket=other, Key="dst")
    assert got["Body"].read() == body and got["ContentType"] == "text/x-src" and got["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="replaced", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="application/x-new")
    got = s3.get_object(Bucket=bucket, Key="replaced")
    assert got["Body"].read() == body and got["ContentType"] == "application/x-new" and got["Metadata"] == {"b": "2"}
    # Copying an object onto itself without changing anything is refused.
    e = raises("InvalidRequest", 400, s3.copy_object, Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert "copy request is illegal" in e.response["Error"]["Message"]
    # ... but with REPLACE it updates the metadata in place.
    s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    raises("NoSuchKey", 404, s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/missing")
    # Copy conditions.
    raises("PreconditionFailed", 412, s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/src",
           CopySourceIfMatch='"0000"')


def test_list_objects_v2(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/", "d/x"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"12345")
    r = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in r["Contents"]] == sorted(keys)
    assert r["KeyCount"] == len(keys) and r["IsTruncated"] is False and r["MaxKeys"] == 1000
    first = r["Contents"][0]
    assert first["Size"] == 5 and first["ETag"] == md5_etag(b"12345") and first["StorageClass"] == "STANDARD"
    assert isinstance(first["LastModified"], datetime.datetime)
    assert "Owner" not in first
    assert "Owner" in s3.list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"][0]
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2", "a/b/3"] and r["Prefix"] == "a/"
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["c"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert r["KeyCount"] == 4 and r["Delimiter"] == "/"
    r = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b/1")
    assert [o["Key"] for o in r["Contents"]] == ["c", "d/", "d/x"] and r["StartAfter"] == "b/1"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="zzz")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="zzz")["KeyCount"] == 0
    # Paging with MaxKeys and ContinuationToken.
    seen, token, pages = [], None, 0
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=bucket, MaxKeys=3, **kw)
        pages += 1
        assert r["MaxKeys"] == 3 and r["KeyCount"] == len(r.get("Contents", []))
        seen += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        assert r["KeyCount"] == 3
        token = r["NextContinuationToken"]
    assert seen == sorted(keys) and pages == 3
    # Paging with a delimiter counts common prefixes toward MaxKeys.
    r = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert r["IsTruncated"] is True and r["KeyCount"] == 2
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/"]
    r2 = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == ["c"] and [p["Prefix"] for p in r2["CommonPrefixes"]] == ["d/"]
    assert r2["IsTruncated"] is False
    # The paginator agrees.
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == sorted(keys) and len(pages) == 4
    raises("InvalidArgument", 400, s3.list_objects_v2, Bucket=bucket, ContinuationToken="not-a-token")


def test_list_objects_v1(s3, bucket):
    keys = ["a/1", "a/2", "b", "c/1", "d"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.list_objects(Bucket=bucket)
    assert [o["Key"] for o in r["Contents"]] == keys and r["IsTruncated"] is False
    assert "NextMarker" not in r
    assert "Owner" in r["Contents"][0]
    r = s3.list_objects(Bucket=bucket, Marker="b")
    assert [o["Key"] for o in r["Contents"]] == ["c/1", "d"] and r["Marker"] == "b"
    # Without a delimiter a truncated page has no NextMarker: the client uses its last key.
    r = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert r["IsTruncated"] is True and [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    assert "NextMarker" not in r
    # With a delimiter, NextMarker names the last key or common prefix of the page.
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"] and [o["Key"] for o in r["Contents"]] == ["b"]
    assert r["IsTruncated"] is True and r["NextMarker"] == "b"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2, Marker=r["NextMarker"])
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["c/"] and [o["Key"] for o in r["Contents"]] == ["d"]
    assert r["IsTruncated"] is False
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert r["NextMarker"] == "a/" and r["IsTruncated"] is True
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker="a/")
    assert [o["Key"] for o in r["Contents"]] == ["b"] and "CommonPrefixes" not in r


# ---------------------------------------------------------------------------
# Multipart


def test_multipart_upload(s3, bucket):
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 123), b"tail of it"]
    create = s3.create_multipart_upload(Bucket=bucket, Key="big", ContentType="application/x-big",
                                        Metadata={"m": "1"})
    up = create["UploadId"]
    assert create["Bucket"] == bucket and create["Key"] == "big" and up
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [("big", up)]
    etags = []
    for n, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="big", UploadId=up, PartNumber=n, Body=data)
        assert r["ETag"] == md5_etag(data)
        etags.append(r["ETag"])
    lp = s3.list_parts(Bucket=bucket, Key="big", UploadId=up)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(n, etags[n - 1], len(parts[n - 1])) for n in (1, 2, 3)]
    assert lp["IsTruncated"] is False
    lp = s3.list_parts(Bucket=bucket, Key="big", UploadId=up, MaxParts=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2] and lp["IsTruncated"] is True
    assert lp["NextPartNumberMarker"] == 2
    lp = s3.list_parts(Bucket=bucket, Key="big", UploadId=up, PartNumberMarker=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [3]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="big")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    assert done["ETag"] == multipart_etag(parts)
    assert done["Bucket"] == bucket and done["Key"] == "big"
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ETag"] == multipart_etag(parts) and got["ContentLength"] == sum(map(len, parts))
    assert got["ContentType"] == "application/x-big" and got["Metadata"] == {"m": "1"}
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(b"".join(parts)).digest()
    # A range across the part boundary.
    got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={5 * MiB - 3}-{5 * MiB + 2}")
    assert got["Body"].read() == parts[0][-3:] + parts[1][:3]
    # PartNumber reads one part.
    p2 = s3.head_object(Bucket=bucket, Key="big", PartNumber=2)
    assert p2["ContentLength"] == len(parts[1]) and p2["PartsCount"] == 3
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    raises("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key="big", UploadId=up)


def test_multipart_errors_and_abort(node, s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=up, PartNumber=1, Body=b"a" * 1000)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=up, PartNumber=2, Body=b"b" * 1000)["ETag"]
    raises("EntityTooSmall", 400, s3.complete_multipart_upload, Bucket=bucket, Key="small", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    raises("InvalidPart", 400, s3.complete_multipart_upload, Bucket=bucket, Key="small", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    raises("InvalidPartOrder", 400, s3.complete_multipart_upload, Bucket=bucket, Key="small", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    # Part numbers run from 1 to 10,000.
    for n in (0, 10001):
        r = raw(node, "PUT", f"/{bucket}/small?partNumber={n}&uploadId={up}", body=b"x")
        assert r.status == 400 and r.error()["Code"] == "InvalidArgument", r
        assert r.error()["Message"] == "Part number must be an integer between 1 and 10000, inclusive"
    # A single part may be small: it is the last.
    other = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key="one", UploadId=other, PartNumber=1, Body=b"only")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=other,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert done["ETag"] == multipart_etag([b"only"])
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"only"
    # Abort.
    assert s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=up)["ResponseMetadata"][
        "HTTPStatusCode"] == 204
    raises("NoSuchUpload", 404, s3.upload_part, Bucket=bucket, Key="small", UploadId=up, PartNumber=3, Body=b"c")
    raises("NoSuchUpload", 404, s3.list_parts, Bucket=bucket, Key="small", UploadId=up)
    raises("NoSuchUpload", 404, s3.complete_multipart_upload, Bucket=bucket, Key="small", UploadId=up,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    raises("NoSuchUpload", 404, s3.abort_multipart_upload, Bucket=bucket, Key="small", UploadId="no-such-upload")
    raises("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="small")
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_a_single_put_over_5_gib_is_refused_before_its_body_is_read(node, s3, bucket):
    """S3 answers EntityTooLarge on the declared length; the client need not send 5 GiB."""
    size = 5 * 1024 ** 3 + 1
    req = AWSRequest(method="PUT", url=f"http://127.0.0.1:{port(node)}/{bucket}/huge",
                     headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Length": str(size)})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", port(node), timeout=30)
    try:
        conn.putrequest("PUT", f"/{bucket}/huge", skip_accept_encoding=True)
        for name, value in req.headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(b"x" * 65536)
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 400 and b"<Code>EntityTooLarge</Code>" in body, body
    assert b"<Message>Your proposed upload exceeds the maximum allowed size</Message>" in body
    raises("404", 404, s3.head_object, Bucket=bucket, Key="huge")


def test_upload_part_copy(s3, bucket):
    src = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    c1 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "source"})
    assert c1["CopyPartResult"]["ETag"] == md5_etag(src)
    c2 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange="bytes=0-99")
    assert c2["CopyPartResult"]["ETag"] == md5_etag(src[:100])
    done = s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]}]})
    assert done["ETag"] == multipart_etag([src, src[:100]])
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == src + src[:100]


# ---------------------------------------------------------------------------
# Tagging


def test_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="project=ignis&stage=test")
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("project", "ignis"), ("stage", "test")]
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]
    assert s3.delete_object_tagging(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="t")
    raises("NoSuchKey", 404, s3.get_object_tagging, Bucket=bucket, Key="missing")
    raises("InvalidTag", 400, s3.put_object_tagging, Bucket=bucket, Key="t",
           Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})


def test_threaded_transfers(s3, bucket, tmp_path):
    """boto3's upload_file and download_file: concurrent multipart parts and ranged GETs."""
    data = os.urandom(20 * MiB + 7)
    src, back = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(data)
    s3.upload_file(str(src), bucket, "big.bin")
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    s3.download_file(bucket, "big.bin", str(back))
    assert back.read_bytes() == data


# ---------------------------------------------------------------------------
# Presigned URLs


def test_presigned_get_and_put_with_plain_http(node, s3, bucket):
    # boto3 presigns S3 URLs with SigV2 unless told otherwise; both forms are S3's.
    v4 = s3_client(node, signature_version="s3v4")
    for client, key in [(s3, "pre/signed.bin"), (v4, "pre/signed-v4.bin")]:
        put_url = client.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        assert ("X-Amz-Signature=" in put_url) == (client is v4)
        body = os.urandom(4096)
        url = urllib.parse.urlsplit(put_url)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.request("PUT", f"{url.path}?{url.query}", body=body)
        r = conn.getresponse()
        r.read()
        conn.close()
        assert r.status == 200 and r.headers["ETag"] == md5_etag(body)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
        with urllib.request.urlopen(url, timeout=30) as r:
            assert r.status == 200 and r.read() == body
    body = s3.get_object(Bucket=bucket, Key="pre/signed.bin")["Body"].read()
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed.bin"},
                                        ExpiresIn=300)
    with urllib.request.urlopen(get_url, timeout=30) as r:
        assert r.status == 200 and r.read() == body
    # A presigned URL with response overrides.
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "pre/signed.bin", "ResponseContentType": "image/png",
        "ResponseContentDisposition": "attachment"}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.headers["Content-Type"] == "image/png" and r.headers["Content-Disposition"] == "attachment"
    # Tampering with the URL breaks it; an expired one is refused.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(get_url.replace("signed.bin", "signed.bim"), timeout=30)
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "pre/signed.bin"},
                                        ExpiresIn=1)
    time.sleep(2.5)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(expired, timeout=30)
    assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in e.value.read()


# ---------------------------------------------------------------------------
# Authentication and S3's error documents


def test_unsigned_and_badly_signed_requests(node, s3, bucket):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"s")
    r = raw(node, "GET", f"/{bucket}/secret", sign=False)
    assert r.status == 403 and r.error()["Code"] == "AccessDenied", r
    r = raw(node, "PUT", f"/{bucket}/anon", body=b"x", sign=False)
    assert r.status == 403 and r.error()["Code"] == "AccessDenied", r
    raises("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="anon")
    wrong = s3_client(node, secret_key="not-the-secret-key-000000000000000000000")
    raises("SignatureDoesNotMatch", 403, wrong.get_object, Bucket=bucket, Key="secret")
    raises("SignatureDoesNotMatch", 403, wrong.put_object, Bucket=bucket, Key="wrong", Body=b"x")
    raises("NoSuchKey", 404, s3.get_object, Bucket=bucket, Key="wrong")
    unknown = s3_client(node, access_key="AKIAUNKNOWNKEY000000")
    raises("InvalidAccessKeyId", 403, unknown.list_buckets)
    r = raw(node, "GET", f"/{bucket}/secret", access_key="AKIAUNKNOWNKEY000000")
    e = r.error()
    assert r.status == 403 and e["Code"] == "InvalidAccessKeyId" and e.get("AWSAccessKeyId") == "AKIAUNKNOWNKEY000000"
    r = raw(node, "GET", f"/{bucket}/secret", secret_key="wrong")
    e = r.error()
    assert r.status == 403 and e["Code"] == "SignatureDoesNotMatch"
    assert e.get("AWSAccessKeyId") and e.get("StringToSign") and e.get("SignatureProvided")


def test_the_error_document(node, bucket):
    r = raw(node, "GET", f"/{bucket}/no/such%20key")
    assert r.status == 404
    assert r.headers["content-type"].startswith("application/xml")
    e = r.error()
    assert e["Code"] == "NoSuchKey"
    assert e["Message"] == "The specified key does not exist."
    assert e["Key"] == "no/such key"
    assert e["RequestId"] and e["RequestId"] == r.headers["x-amz-request-id"]
    assert "HostId" in e and r.headers.get("x-amz-id-2")
    r = raw(node, "GET", "/no-such-bucket-anywhere/k")
    e = r.error()
    assert r.status == 404 and e["Code"] == "NoSuchBucket"
    assert e["Message"] == "The specified bucket does not exist"
    assert e["BucketName"] == "no-such-bucket-anywhere"
    assert e["RequestId"] == r.headers["x-amz-request-id"]
    r = raw(node, "GET", f"/{bucket}/k?uploadId=nope")
    e = r.error()
    assert r.status == 404 and e["Code"] == "NoSuchUpload"
    assert e["Message"].startswith("The specified upload does not exist.")
    assert e.get("UploadId") == "nope"
    r = raw(node, "HEAD", f"/{bucket}/missing")
    assert r.status == 404 and r.body == b""


# ---------------------------------------------------------------------------
# Virtual-hosted addressing


@pytest.mark.parametrize("suffix", ["s3.localhost", "localhost"])
def test_virtual_hosted_raw_requests(node, s3, bucket, suffix):
    host = f"{bucket}.{suffix}:{port(node)}"
    r = raw(node, "PUT", "/vh/obj.txt", body=b"virtually hosted", host=host,
            headers={"Content-Type": "text/plain"})
    assert r.status == 200, r
    assert r.headers["etag"] == md5_etag(b"virtually hosted")
    got = s3.get_object(Bucket=bucket, Key="vh/obj.txt")
    assert got["Body"].read() == b"virtually hosted" and got["ContentType"] == "text/plain"
    r = raw(node, "GET", "/vh/obj.txt", host=host)
    assert r.status == 200 and r.body == b"virtually hosted"
    r = raw(node, "GET", "/?list-type=2&prefix=vh%2F", host=host)
    assert r.status == 200, r
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    root = r.xml()
    assert root.findtext(f"{ns}Name") == bucket
    assert [c.findtext(f"{ns}Key") for c in root.findall(f"{ns}Contents")] == ["vh/obj.txt"]
    r = raw(node, "GET", "/missing", host=host)
    assert r.status == 404 and r.error()["Code"] == "NoSuchKey"


def test_virtual_hosted_boto3(node, bucket):
    vs3 = s3_client(node, addressing="virtual", endpoint=f"http://s3.localhost:{port(node)}")
    vs3.put_object(Bucket=bucket, Key="boto-vh", Body=b"via bucket.s3.localhost")
    assert vs3.get_object(Bucket=bucket, Key="boto-vh")["Body"].read() == b"via bucket.s3.localhost"
    assert [o["Key"] for o in vs3.list_objects_v2(Bucket=bucket, Prefix="boto-")["Contents"]] == ["boto-vh"]
    raises("NoSuchKey", 404, vs3.get_object, Bucket=bucket, Key="nope")
    vs3b = s3_client(node, addressing="virtual", endpoint=f"http://localhost:{port(node)}")
    assert vs3b.get_object(Bucket=bucket, Key="boto-vh")["Body"].read() == b"via bucket.s3.localhost"
    vs3b.delete_object(Bucket=bucket, Key="boto-vh")
    raises("NoSuchKey", 404, s3_client(node).get_object, Bucket=bucket, Key="boto-vh")
