"""Bucket notifications to Lambda: the configuration is checked against the function's policy
as S3 checks it, and each matching object change invokes the function asynchronously with
the event record S3 sends."""

import json
import re
import signal
import time
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from abuse import function_logs
from conftest import create, make_zip, settled

RECORDER = "import json\n\ndef handler(event, context):\n    print('EVENT ' + json.dumps(event))\n    return {}\n"


def events(node, name, count, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(m.group(1)) for m in re.finditer(r"EVENT (\{.*\})", function_logs(node, name))]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} events arrived"
        time.sleep(0.3)


@pytest.fixture
def wired(node, fname):
    lam, s3 = node.client(), node.client("s3")
    bucket = f"n-{fname[-20:].lower().strip('-')}".replace("_", "-")
    s3.create_bucket(Bucket=bucket)
    arn = create(lam, fname, make_zip({"app.py": RECORDER}))["FunctionArn"]
    settled(lam, fname)
    return lam, s3, bucket, fname, arn


def config(arn, events=("s3:ObjectCreated:*",), prefix=None, suffix=None, id="upload-cfg"):
    c = {"Id": id, "LambdaFunctionArn": arn, "Events": list(events)}
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    if rules:
        c["Filter"] = {"Key": {"FilterRules": rules}}
    return {"LambdaFunctionConfigurations": [c]}


def test_a_destination_must_exist_and_allow_s3(wired):
    lam, s3, bucket, name, arn = wired
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config(arn))
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert "Unable to validate the following destination configurations" in e.value.response["Error"]["Message"]
    # A permission for another bucket does not do.
    lam.add_permission(FunctionName=name, StatementId="other", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::some-other-bucket")
    with pytest.raises(ClientError):
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config(arn))
    missing = arn.replace(name, "no-such-function")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config(missing))
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert s3.get_bucket_notification_configuration(Bucket=bucket).get("LambdaFunctionConfigurations") is None


def test_uploads_invoke_the_function_with_s3s_event_record(node, wired):
    lam, s3, bucket, name, arn = wired
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}",
                       SourceAccount="000000000000")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            config(arn, prefix="images/", suffix=".jpg")["LambdaFunctionConfigurations"][0],
            config(arn, events=["s3:ObjectRemoved:*"], id="removed", prefix="images/")["LambdaFunctionConfigurations"][0],
        ]})
    got = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    assert sorted(c["Id"] for c in got) == ["removed", "upload-cfg"]
    # Overlapping configurations are refused as S3 refuses them.
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [config(arn, id="a")["LambdaFunctionConfigurations"][0],
                                             config(arn, id="b")["LambdaFunctionConfigurations"][0]]})
    assert e.value.response["Error"]["Code"] == "InvalidArgument"

    key = "images/a cat+é.jpg"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"\xff\xd8 not really a jpeg")
    s3.put_object(Bucket=bucket, Key="images/notes.txt", Body=b"no event: suffix")
    s3.put_object(Bucket=bucket, Key="other/b.jpg", Body=b"no event: prefix")
    s3.copy_object(Bucket=bucket, Key="images/copy.jpg", CopySource={"Bucket": bucket, "Key": key})
    up = s3.create_multipart_upload(Bucket=bucket, Key="images/multi.jpg")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="images/multi.jpg", UploadId=up, PartNumber=1, Body=b"m")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="images/multi.jpg", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    s3.delete_object(Bucket=bucket, Key=key)
    records = [e["Records"][0] for e in events(node, name, 4)]
    by_name = {r["eventName"]: r for r in records}
    assert set(by_name) == {"ObjectCreated:Put", "ObjectCreated:Copy",
                            "ObjectCreated:CompleteMultipartUpload", "ObjectRemoved:Delete"}
    r = by_name["ObjectCreated:Put"]
    assert r["eventVersion"] == "2.1" and r["eventSource"] == "aws:s3" and r["awsRegion"] == "us-east-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["eventTime"])
    assert set(r["userIdentity"]) == {"principalId"} and "sourceIPAddress" in r["requestParameters"]
    assert set(r["responseElements"]) == {"x-amz-request-id", "x-amz-id-2"}
    s3e = r["s3"]
    assert s3e["s3SchemaVersion"] == "1.0" and s3e["configurationId"] == "upload-cfg"
    assert s3e["bucket"]["name"] == bucket and s3e["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert "principalId" in s3e["bucket"]["ownerIdentity"]
    assert s3e["object"]["key"] == urllib.parse.quote_plus(key, safe="/") .replace("%2F", "/")
    assert urllib.parse.unquote_plus(s3e["object"]["key"]) == key
    assert s3e["object"]["size"] == len(b"\xff\xd8 not really a jpeg")
    assert s3e["object"]["eTag"] == put["ETag"].strip('"')
    assert re.fullmatch(r"[0-9A-F]+", s3e["object"]["sequencer"])
    removed = by_name["ObjectRemoved:Delete"]
    assert removed["s3"]["configurationId"] == "removed"
    assert "size" not in removed["s3"]["object"] and "eTag" not in removed["s3"]["object"]
    assert removed["s3"]["object"]["sequencer"] > s3e["object"]["sequencer"]
    time.sleep(1)
    assert len(events(node, name, 4)) == 4, "a key outside the filters invoked the function"


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
    got = {e["Records"][0]["s3"]["object"]["key"] for e in events(again, "durable", 5)}
    assert got == keys
