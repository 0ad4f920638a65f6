"""Bucket notifications to Lambda: the configuration is checked against the function's policy
as S3 checks it, and each matching object change invokes the function asynchronously with
the event record S3 sends; functions read and write objects with the credentials they are
given (the thumbnail tutorial, with Pillow from PyPI in its package)."""

import datetime
import io
import re
import signal
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from abuse import function_logs
from conftest import create, make_zip, settled
from s3util import (allow_s3, bucket_name, logged_events, multipart_etag, pip_target, s3_client,
                    wait_for, zip_dir)

RECORDER = "import json\n\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return {}\n"


def config(arn, events=("s3:ObjectCreated:*",), prefix=None, suffix=None, id="upload-cfg"):
    c = {"Id": id, "LambdaFunctionArn": arn, "Events": list(events)}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    if rules:
        c["Filter"] = {"Key": {"FilterRules": rules}}
    return {"LambdaFunctionConfigurations": [c]}


def test_a_notification_is_committed_with_its_object(fresh_node, tmp_path):
    """kill -9 right after the PUT is answered: after restart, the object is there and its
    event is delivered."""
    node = fresh_node()
    lam, s3 = node.client(), node.client("s3")
    s3.create_bucket(Bucket="durable-events")
    arn = create(lam, "durable", make_zip({"app.py": RECORDER}))["FunctionArn"]
    settled(lam, "durable")
    lam.add_permission(FunctionName="durable", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::durable-events")
    s3.put_bucket_notification_configuration(Bucket="durable-events", NotificationConfiguration=config(arn))
    for i in range(5):
        s3.put_object(Bucket="durable-events", Key=f"k{i}", Body=b"x" * i)
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    node.stop()
    again = fresh_node(data_dir=node.data_dir)
    keys = {o["Key"] for o in again.client("s3").list_objects_v2(Bucket="durable-events")["Contents"]}
    assert keys == {f"k{i}" for i in range(5)}
    got = {e["Records"][0]["s3"]["object"]["key"] for e in logged_events(again, "durable", 5)}
    assert got == keys


# ---------------------------------------------------------------------------
# The event record field by field, and functions that use the objects they were told about.

RECORD_KEYS = {"eventVersion", "eventSource", "awsRegion", "eventTime", "eventName", "userIdentity",
               "requestParameters", "responseElements", "s3"}


def check_record(r, *, bucket, key, config_id, event_name, size=None, etag=None):
    """One record as AWS documents it (Event message structure, version 2.1)."""
    assert set(r) >= RECORD_KEYS, r
    assert set(r) - RECORD_KEYS <= {"glacierEventData", "restoreEventData", "replicationEventData",
                                     "intelligentTieringEventData", "lifecycleEventData"}, r
    assert r["eventVersion"] == "2.1"
    assert r["eventSource"] == "aws:s3"
    assert r["awsRegion"] == "us-east-1"
    t = datetime.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) < 300
    assert r["eventName"] == event_name
    assert isinstance(r["userIdentity"]["principalId"], str) and r["userIdentity"]["principalId"]
    assert r["requestParameters"] == {"sourceIPAddress": "127.0.0.1"}
    assert set(r["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    assert all(isinstance(v, str) and v for v in r["responseElements"].values())
    s = r["s3"]
    assert set(s) == {"s3SchemaVersion", "configurationId", "bucket", "object"}
    assert s["s3SchemaVersion"] == "1.0" and s["configurationId"] == config_id
    assert set(s["bucket"]) == {"name", "ownerIdentity", "arn"}
    assert s["bucket"]["name"] == bucket and s["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert set(s["bucket"]["ownerIdentity"]) == {"principalId"} and s["bucket"]["ownerIdentity"]["principalId"]
    o = s["object"]
    # Unversioned bucket: no versionId. Removals carry neither size nor eTag.
    expected = {"key", "sequencer"} | ({"size", "eTag"} if size is not None else set())
    assert set(o) == expected, o
    assert o["key"] == urllib.parse.quote_plus(key, safe="/"), (o["key"], key)
    assert re.fullmatch(r"[0-9A-F]{16,}", o["sequencer"]), o["sequencer"]
    if size is not None:
        assert o["size"] == size and o["eTag"] == etag.strip('"')
    return o["sequencer"]


def recorder(node, label, allowed=True):
    """A bucket and a function that logs each event, allowed (or not) to be invoked by S3 for
    that bucket: (lambda client, s3 client, bucket, function name, function ARN)."""
    lam, s3 = node.client(), s3_client(node)
    bucket = bucket_name(label)
    s3.create_bucket(Bucket=bucket)
    fn = f"{label}-{bucket}"[:60]
    arn = create(lam, fn, make_zip({"app.py": RECORDER}))["FunctionArn"]
    settled(lam, fn)
    if allowed:
        allow_s3(lam, fn, bucket)
    return lam, s3, bucket, fn, arn


def test_every_kind_of_change_sends_its_exact_record(node):
    lam, s3, bucket, fn, arn = recorder(node, "events")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"Id": "created", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}},
            {"Id": "removed", "LambdaFunctionArn": arn, "Events": ["s3:ObjectRemoved:Delete"],
             "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".txt"}]}}},
        ]})
    cfg = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    created_cfg = next(c for c in cfg if c["Id"] == "created")
    assert created_cfg["LambdaFunctionArn"] == arn and created_cfg["Events"] == ["s3:ObjectCreated:*"]
    # S3 gives the rule names back capitalised, whatever case they were sent in.
    assert created_cfg["Filter"]["Key"]["FilterRules"] == [{"Name": "Prefix", "Value": "in/"}]

    key = "in/a photo of ünïcødé ☃.txt"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"first")
    copy = s3.copy_object(Bucket=bucket, Key="in/copy.txt", CopySource={"Bucket": bucket, "Key": key})
    part = b"p" * (5 * 1024 * 1024)
    up = s3.create_multipart_upload(Bucket=bucket, Key="in/multi.bin")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="in/multi.bin", UploadId=up, PartNumber=1, Body=part)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="in/multi.bin", UploadId=up, PartNumber=2, Body=b"end")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="in/multi.bin", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    # Filters: none of these match a configuration.
    s3.put_object(Bucket=bucket, Key="out/x.txt", Body=b"no prefix")
    s3.delete_object(Bucket=bucket, Key="in/multi.bin")  # removed, but not *.txt
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "in/copy.txt"}]})

    events = logged_events(node, fn, 5)
    assert all(len(e["Records"]) == 1 for e in events)
    records = [e["Records"][0] for e in events]
    by = {}
    for r in records:
        by.setdefault(r["eventName"], []).append(r)
    assert sorted(by) == ["ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Copy", "ObjectCreated:Put",
                          "ObjectRemoved:Delete"], [r["eventName"] for r in records]
    s_put = check_record(by["ObjectCreated:Put"][0], bucket=bucket, key=key, config_id="created",
                         event_name="ObjectCreated:Put", size=5, etag=put["ETag"])
    assert by["ObjectCreated:Put"][0]["s3"]["object"]["key"] == \
        "in/a+photo+of+%C3%BCn%C3%AFc%C3%B8d%C3%A9+%E2%98%83.txt"
    check_record(by["ObjectCreated:Copy"][0], bucket=bucket, key="in/copy.txt", config_id="created",
                 event_name="ObjectCreated:Copy", size=5, etag=copy["CopyObjectResult"]["ETag"])
    check_record(by["ObjectCreated:CompleteMultipartUpload"][0], bucket=bucket, key="in/multi.bin",
                 config_id="created", event_name="ObjectCreated:CompleteMultipartUpload",
                 size=len(part) + 3, etag=multipart_etag([part, b"end"]))
    removed = sorted(by["ObjectRemoved:Delete"], key=lambda r: r["s3"]["object"]["sequencer"])
    assert [urllib.parse.unquote_plus(r["s3"]["object"]["key"]) for r in removed] == [key, "in/copy.txt"]
    s_del = [check_record(r, bucket=bucket, key=urllib.parse.unquote_plus(r["s3"]["object"]["key"]),
                          config_id="removed", event_name="ObjectRemoved:Delete") for r in removed]
    # The same key's sequencers grow with its changes (compare as S3 says: pad, then compare strings).
    width = max(len(s_put), len(s_del[0]))
    assert s_del[0].rjust(width, "0") > s_put.rjust(width, "0")
    time.sleep(2)
    assert len(logged_events(node, fn, 5)) == 5, "a change outside the filters invoked the function"
    # The invokes were asynchronous: Event invokes of the function, logged with START/END/REPORT.
    assert function_logs(node, fn).count("REPORT RequestId:") == 5


def test_removing_the_configuration_stops_the_events(node):
    lam, s3, bucket, fn, arn = recorder(node, "off")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"]}]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    # Without an Id, S3 generates one, and the record carries it.
    assert len(got) == 1 and got[0]["Id"]
    s3.put_object(Bucket=bucket, Key="one", Body=b"1")
    (event,) = logged_events(node, fn, 1)
    assert event["Records"][0]["s3"]["configurationId"] == got[0]["Id"]
    # Only Put was asked for: a copy sends nothing.
    s3.copy_object(Bucket=bucket, Key="copied", CopySource=f"{bucket}/one")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="two", Body=b"2")
    time.sleep(2)
    assert len(logged_events(node, fn, 1)) == 1


def test_invalid_configurations_are_refused(node):
    lam, s3, bucket, fn, arn = recorder(node, "bad", allowed=False)

    def refused(cfg, code="InvalidArgument"):
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=cfg)
        assert e.value.response["Error"]["Code"] == code, e.value.response
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        return e.value.response["Error"]["Message"]

    one = {"LambdaFunctionConfigurations": [{"Id": "a", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]}
    assert refused(one).startswith("Unable to validate the following destination configurations")
    # A permission for another bucket does not do, nor one for this bucket from another account.
    lam.add_permission(FunctionName=fn, StatementId="other-bucket", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::some-other-bucket")
    assert refused(one).startswith("Unable to validate the following destination configurations")
    lam.add_permission(FunctionName=fn, StatementId="other-account", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}", SourceAccount="111111111111")
    assert refused(one).startswith("Unable to validate the following destination configurations")
    allow_s3(lam, fn, bucket)
    # An unknown event name and an unknown filter rule.
    refused({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectMade:*"]}]})
    refused({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
                                               "Filter": {"Key": {"FilterRules": [{"Name": "middle", "Value": "x"}]}}}]})
    # Overlapping prefixes for the same event type.
    msg = refused({"LambdaFunctionConfigurations": [
        {"Id": "a", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "img/"}]}}},
        {"Id": "b", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:Put"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "img/thumbs/"}]}}}]})
    assert "overlap" in msg.lower()
    # Different prefixes do not overlap.
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [
        {"Id": "a", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "img/"}]}}},
        {"Id": "b", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "doc/"}]}}}]})
    assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]) == 2
    # A function that does not exist.
    msg = refused({"LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn.replace(fn, "nope-never"),
                                                     "Events": ["s3:ObjectCreated:*"]}]})
    assert msg.startswith("Unable to validate the following destination configurations")
    # A refused configuration left the previous one in place.
    assert len(s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]) == 2
    with pytest.raises(ClientError) as e:
        s3.get_bucket_notification_configuration(Bucket=bucket_name("missing"))
    assert e.value.response["Error"]["Code"] == "NoSuchBucket"


DERIVER = '''
import json
import urllib.parse

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    print("EVENT " + json.dumps(event))
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=bucket + "-derived", Key="upper/" + key, Body=body.upper(),
                      Metadata={"source-etag": record["s3"]["object"]["eTag"]})
    return {"done": len(event["Records"])}
'''


def test_a_function_reads_the_object_it_was_told_about_and_writes_another(node, tmp_path):
    lam, s3 = node.client(), s3_client(node)
    bucket = bucket_name("src")[:50]
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=f"{bucket}-derived")
    deps = pip_target(["boto3==1.43.11"], "boto3")
    package = zip_dir(tmp_path / "deriver.zip", {"app.py": DERIVER}, deps)
    fn = f"deriver-{bucket}"[:60]
    arn = create(lam, fn, package.read_bytes(), Timeout=60, MemorySize=256)["FunctionArn"]
    settled(lam, fn, timeout=60)
    allow_s3(lam, fn, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"Id": "derive", "LambdaFunctionArn": arn,
                                          "Events": ["s3:ObjectCreated:*"]}]})
    sources = {"notes/a b.txt": b"hello derived world", "x.txt": b"second object"}
    etags = {k: s3.put_object(Bucket=bucket, Key=k, Body=v)["ETag"] for k, v in sources.items()}

    def derived():
        listing = s3.list_objects_v2(Bucket=f"{bucket}-derived").get("Contents", [])
        return len(listing) == len(sources) and listing

    wait_for(derived, timeout=90, what="derived objects")
    for k, v in sources.items():
        got = s3.get_object(Bucket=f"{bucket}-derived", Key=f"upper/{k}")
        assert got["Body"].read() == v.upper()
        assert got["Metadata"] == {"source-etag": etags[k].strip('"')}
    # Writing into the other bucket triggered nothing more.
    time.sleep(1)
    assert len(logged_events(node, fn, 2)) == 2


THUMBNAILER = '''
import os
import urllib.parse

import boto3
from PIL import Image

s3 = boto3.client("s3")


def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        local = os.path.join("/tmp", context.aws_request_id + "-" + os.path.basename(key))
        s3.download_file(bucket, key, local)
        with Image.open(local) as image:
            kind = image.format
            image.thumbnail((image.width // 2, image.height // 2))
            image.save(local + ".thumb", format=kind)
        s3.upload_file(local + ".thumb", bucket + "-resized", "resized-" + key)
        os.remove(local)
        os.remove(local + ".thumb")
'''


def test_the_thumbnail_tutorial(node, tmp_path):
    """A Python function with Pillow and boto3 from PyPI in its package resizes every image
    uploaded under images/ into the bucket beside it."""
    from PIL import Image

    lam, s3 = node.client(), s3_client(node)
    bucket = bucket_name("photos")[:50]
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=f"{bucket}-resized")
    deps = pip_target(["boto3==1.43.11", "Pillow==13.0.0"], "thumbnail")
    package = zip_dir(tmp_path / "thumbnail.zip", {"lambda_function.py": THUMBNAILER}, deps)
    fn = f"thumb-{bucket}"[:60]
    arn = create(lam, fn, package.read_bytes(), Handler="lambda_function.handler", Timeout=60,
                 MemorySize=512)["FunctionArn"]
    settled(lam, fn, timeout=60)
    allow_s3(lam, fn, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config(
        arn, prefix="images/", id="thumbnails"))

    originals = {}
    for i in range(20):
        kind, ext = ("JPEG", "jpg") if i % 2 else ("PNG", "png")
        size = (200 + 20 * i, 150 + 10 * i)
        image = Image.new("RGB", size)
        image.putdata([((x * 7 + i) % 256, (y * 5) % 256, (x + y) % 256)
                       for y in range(size[1]) for x in range(size[0])])
        buf = io.BytesIO()
        image.save(buf, format=kind)
        key = f"images/photo {i:02}.{ext}"
        path = tmp_path / f"{i}.{ext}"
        path.write_bytes(buf.getvalue())
        s3.upload_file(str(path), bucket, key)
        originals[key] = (kind, size)
    s3.put_object(Bucket=bucket, Key="notes/readme.txt", Body=b"not an image, not under images/")

    def thumbnails():
        listing = s3.list_objects_v2(Bucket=f"{bucket}-resized").get("Contents", [])
        return len(listing) >= len(originals) and listing

    listing = wait_for(thumbnails, timeout=240, interval=1, what="20 thumbnails")
    assert sorted(o["Key"] for o in listing) == sorted(f"resized-{k}" for k in originals)
    for key, (kind, (w, h)) in originals.items():
        data = s3.get_object(Bucket=f"{bucket}-resized", Key=f"resized-{key}")["Body"].read()
        with Image.open(io.BytesIO(data)) as thumb:
            thumb.verify()
        with Image.open(io.BytesIO(data)) as thumb:
            assert thumb.format == kind
            assert thumb.size == (w // 2, h // 2), (key, thumb.size)
            thumb.load()
    # Each upload ran once: no init or invocation failed and was retried.
    logs = function_logs(node, fn)
    failures = [line for line in logs.splitlines() if "Status: " in line or "Error" in line]
    assert logs.count("REPORT RequestId:") == len(originals), failures
