"""The SQS API on the node's port (JSON 1.0, `AmazonSQS.*`), driven by boto3 and the AWS CLI:
queues and their attributes, messages with attributes and their digests, long polls,
visibility, redrive, FIFO ordering and deduplication, delays, purges, bounds, and a crash."""

import base64
import hashlib
import json
import signal
import struct
import threading
import time
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError

from s3util import aws

ACCOUNT = "000000000000"


@pytest.fixture(scope="module")
def sqs(node):
    return node.client("sqs")


def name(prefix="q", fifo=False):
    return f"{prefix}-{uuid.uuid4().hex[:10]}" + (".fifo" if fifo else "")


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response


def md5_of_attributes(attrs):
    """AWS's documented digest of message attributes."""
    out = b""
    for k in sorted(attrs):
        v = attrs[k]
        for part in (k.encode(), v["DataType"].encode()):
            out += struct.pack(">I", len(part)) + part
        if "BinaryValue" in v:
            b = v["BinaryValue"]
            out += b"\x02" + struct.pack(">I", len(b)) + b
        else:
            s = v["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(s)) + s
    return hashlib.md5(out).hexdigest()


def test_queues_urls_attributes_tags_and_errors(node, sqs):
    n = name()
    url = sqs.create_queue(QueueName=n, Attributes={"VisibilityTimeout": "45"}, tags={"team": "a"})["QueueUrl"]
    assert url == f"{node.endpoint}/{ACCOUNT}/{n}"
    # The same request again is the same queue; other attributes are not.
    assert sqs.create_queue(QueueName=n, Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    e = error(sqs.create_queue, QueueName=n, Attributes={"VisibilityTimeout": "46"})
    assert e["Error"]["Code"] == "QueueAlreadyExists"
    assert sqs.get_queue_url(QueueName=n)["QueueUrl"] == url
    e = error(sqs.get_queue_url, QueueName="nope-" + n)
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 400

    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["VisibilityTimeout"] == "45"
    assert a["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{n}"
    assert a["MaximumMessageSize"] == "262144" and a["MessageRetentionPeriod"] == "345600"
    assert a["ApproximateNumberOfMessages"] == "0"
    assert abs(int(a["CreatedTimestamp"]) - time.time()) < 60
    assert "FifoQueue" not in a
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2", "Policy": '{"Version":"2012-10-17"}'})
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds", "Policy"])["Attributes"]
    assert a == {"DelaySeconds": "2", "Policy": '{"Version":"2012-10-17"}'}
    e = error(sqs.set_queue_attributes, QueueUrl=url, Attributes={"DelaySeconds": "901"})
    assert e["Error"]["Code"] == "InvalidAttributeValue"
    e = error(sqs.set_queue_attributes, QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
    assert e["Error"]["Code"] == "InvalidAttributeName"

    sqs.tag_queue(QueueUrl=url, Tags={"env": "test"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a", "env": "test"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}

    sqs.delete_queue(QueueUrl=url)
    e = error(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_list_queues_by_prefix_and_page(sqs):
    base = name("list")
    urls = [sqs.create_queue(QueueName=f"{base}-{i}")["QueueUrl"] for i in range(5)]
    assert sqs.list_queues(QueueNamePrefix=base)["QueueUrls"] == urls
    seen, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = sqs.list_queues(QueueNamePrefix=base, MaxResults=2, **kw)
        seen += page["QueueUrls"]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == urls
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="none-" + base)


def test_send_receive_delete_with_attributes_and_digests(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    attrs = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "x.one": {"DataType": "String.custom", "StringValue": "1"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                              MessageSystemAttributeNames=["All"])["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == "héllo" and m["MessageId"] == sent["MessageId"]
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert abs(int(m["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60
    assert "ApproximateFirstReceiveTimestamp" in m["Attributes"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessagesNotVisible"] == "0"

    # Prefixes pick attributes; the digest is of those returned.
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attrs)
    m = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["x.*"])["Messages"][0]
    assert list(m["MessageAttributes"]) == ["x.one"]
    assert m["MD5OfMessageAttributes"] == md5_of_attributes({"x.one": attrs["x.one"]})
    e = error(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")
    assert e["Error"]["Code"] == "ReceiptHandleIsInvalid"

    e = error(sqs.send_message, QueueUrl=url, MessageBody="x" * (262_144 + 1))
    assert e["Error"]["Code"] == "InvalidParameterValue"
    e = error(sqs.send_message, QueueUrl=url, MessageBody="bad \x01 char")
    assert e["Error"]["Code"] == "InvalidMessageContents"
    e = error(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
    assert e["Error"]["Code"] == "InvalidParameterValue"


def test_batches_and_their_errors(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(9)]
    entries.append({"Id": "bad", "MessageBody": "x", "DelaySeconds": 901})
    r = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert len(r["Successful"]) == 9
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]] == [("bad", "InvalidParameterValue", True)]
    for s in r["Successful"]:
        assert s["MD5OfMessageBody"] == hashlib.md5(f"body {s['Id'][1:]}".encode()).hexdigest()
    e = error(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}] * 2)
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    e = error(sqs.send_message_batch, QueueUrl=url,
              Entries=[{"Id": f"a{i}", "MessageBody": "1"} for i in range(11)])
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    e = error(sqs.send_message_batch, QueueUrl=url,
              Entries=[{"Id": f"a{i}", "MessageBody": "x" * 100_000} for i in range(3)])
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.BatchRequestTooLong"

    got = []
    while len(got) < 9:
        got += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 9
    r = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "v0", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "v1", "ReceiptHandle": "junk", "VisibilityTimeout": 0}])
    assert [s["Id"] for s in r["Successful"]] == ["v0"]
    assert r["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    again = sqs.receive_message(QueueUrl=url)["Messages"]
    assert again[0]["MessageId"] == got[0]["MessageId"]
    got[0] = again[0]
    r = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    assert len(r["Successful"]) == 9 and r["Failed"] == []
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == a["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_long_poll_returns_when_a_message_arrives(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    threading.Timer(1.0, lambda: sqs.send_message(QueueUrl=url, MessageBody="late")).start()
    t = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    took = time.monotonic() - t
    assert got["Messages"][0]["Body"] == "late"
    assert 0.8 < took < 5
    t = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert time.monotonic() - t >= 0.9


def test_visibility_timeout_redelivers_and_change_visibility(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    second = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    e = error(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=third["ReceiptHandle"], VisibilityTimeout=10)
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.MessageNotInflight"


def test_redrive_to_the_dead_letter_queue(node, sqs):
    dlq = sqs.create_queue(QueueName=name("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    src = sqs.create_queue(QueueName=name("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=src, VisibilityTimeout=0)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=src)
    m = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"][0]
    assert m["Body"] == "poison"
    assert m["Attributes"]["DeadLetterQueueSourceArn"].endswith(src.rsplit("/", 1)[1])
    e = error(sqs.set_queue_attributes, QueueUrl=src, Attributes={"RedrivePolicy": '{"maxReceiveCount": 0}'})
    assert e["Error"]["Code"] == "InvalidParameterValue"


def test_fifo_order_and_deduplication_with_concurrent_senders(sqs):
    n = name("f", fifo=True)
    url = sqs.create_queue(QueueName=n, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    e = error(sqs.create_queue, QueueName=name("f"), Attributes={"FifoQueue": "true"})
    assert e["Error"]["Code"] == "InvalidParameterValue"

    def sender(group):
        for i in range(20):
            sqs.send_message(QueueUrl=url, MessageBody=f"{group}-{i}", MessageGroupId=group)

    threads = [threading.Thread(target=sender, args=(g,)) for g in "abc"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Duplicates by content and by explicit id are accepted and not delivered again.
    dup = sqs.send_message(QueueUrl=url, MessageBody="a-0", MessageGroupId="a")
    assert len(dup["SequenceNumber"]) == 20
    sqs.send_message(QueueUrl=url, MessageBody="z", MessageGroupId="z", MessageDeduplicationId="d1")
    sqs.send_message(QueueUrl=url, MessageBody="z2", MessageGroupId="z", MessageDeduplicationId="d1")

    seen = {}
    while sum(len(v) for v in seen.values()) < 61:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        assert got, seen
        groups = {m["Attributes"]["MessageGroupId"] for m in got}
        for m in got:
            seen.setdefault(m["Attributes"]["MessageGroupId"], []).append(m["Body"])
        # While a group's batch is in flight nothing more of it is given out.
        more = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        assert not groups & {m["Attributes"]["MessageGroupId"] for m in more}
        for m in more:
            seen.setdefault(m["Attributes"]["MessageGroupId"], []).append(m["Body"])
        for batch in (got, more):
            if batch:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    for g in "abc":
        assert seen[g] == [f"{g}-{i}" for i in range(20)]
    assert seen["z"] == ["z"]
    e = error(sqs.send_message, QueueUrl=url, MessageBody="x")
    assert e["Error"]["Code"] == "MissingParameter"


def test_delay_queues_and_per_message_delay(sqs):
    url = sqs.create_queue(QueueName=name(), Attributes={"DelaySeconds": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="queue delay")
    sqs.send_message(QueueUrl=url, MessageBody="own delay", DelaySeconds=3)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])["Attributes"]
    assert a["ApproximateNumberOfMessagesDelayed"] == "2"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "queue delay"
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert got[0]["Body"] == "own delay"


def test_purge_once_a_minute(sqs):
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(5)])
    sqs.purge_queue(QueueUrl=url)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert a["ApproximateNumberOfMessages"] == "0"
    e = error(sqs.purge_queue, QueueUrl=url)
    assert e["Error"]["Code"] == "AWS.SimpleQueueService.PurgeQueueInProgress"
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_aws_cli(node):
    n = name("cli")
    url = json.loads(aws(node, "--endpoint-url", node.endpoint, "sqs", "create-queue", "--queue-name", n).stdout)["QueueUrl"]
    out = json.loads(aws(node, "--endpoint-url", node.endpoint, "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli").stdout)
    assert out["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = json.loads(aws(node, "--endpoint-url", node.endpoint, "sqs", "receive-message", "--queue-url", url).stdout)
    assert got["Messages"][0]["Body"] == "from the cli"


def test_bounds_in_flight_and_long_polls(fresh_node):
    n = fresh_node(extra_env={"IGNIS_SQS_LIMITS": "3,2,1"})
    sqs = n.client("sqs")
    url = sqs.create_queue(QueueName=name())["QueueUrl"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "x"} for i in range(5)])
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 3
    e = error(sqs.receive_message, QueueUrl=url)
    assert e["Error"]["Code"] == "OverLimit"
    # A request body past 1 MiB is not read.
    e = error(sqs.send_message, QueueUrl=url, MessageBody="x" * (1 << 20))
    assert e["Error"]["Code"] == "InvalidParameterValue"
    assert "at most 1048576 bytes" in e["Error"]["Message"]
    empty = sqs.create_queue(QueueName=name())["QueueUrl"]
    t = threading.Thread(target=lambda: sqs.receive_message(QueueUrl=empty, WaitTimeSeconds=3))
    t.start()
    time.sleep(0.5)
    other = n.client("sqs")
    e = error(other.receive_message, QueueUrl=empty, WaitTimeSeconds=3)
    assert e["Error"]["Code"] == "OverLimit"
    t.join()


def test_kill_9_loses_no_acknowledged_message(fresh_node, tmp_path):
    data = tmp_path / "crash"
    n = fresh_node(data)
    sqs = n.client("sqs")
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    ids = set()
    for b in range(50):
        r = sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"{b}-{i}"} for i in range(10)])
        ids |= {s["MessageId"] for s in r["Successful"]}
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600)["Messages"]
    n.stop(sig=signal.SIGKILL)
    n = fresh_node(data)
    sqs = n.client("sqs")
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    # The ten received stay hidden: their visibility timeout outlives the crash.
    assert a["ApproximateNumberOfMessages"] == "490"
    assert a["ApproximateNumberOfMessagesNotVisible"] == "10"
    got = set()
    while True:
        ms = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not ms:
            break
        got |= {m["MessageId"] for m in ms}
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ms)])
    assert got | {m["MessageId"] for m in held} == ids
    # A receipt handle from before the crash still deletes.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held[0]["ReceiptHandle"])
    assert base64.b64decode(held[0]["ReceiptHandle"])


def query(node, params, path="/"):
    """A query-protocol request as older SDKs send it: a signed form POST; its XML answer."""
    from xml.etree import ElementTree

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.httpsession import URLLib3Session

    from conftest import ACCESS_KEY, SECRET_KEY

    body = urllib.parse.urlencode({**params, "Version": "2012-11-05"})
    req = AWSRequest("POST", node.endpoint + path, data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "sqs", "us-east-1").add_auth(req)
    r = URLLib3Session().send(req.prepare())
    root = ElementTree.fromstring(r.content)
    for e in root.iter():
        e.tag = e.tag.split("}")[-1]
    return r.status_code, root


def test_the_query_protocol(node, sqs):
    n = name("query")
    status, x = query(node, {"Action": "CreateQueue", "QueueName": n,
                             "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40",
                             "Tag.1.Key": "k", "Tag.1.Value": "v"})
    assert status == 200, x
    url = x.find("CreateQueueResult/QueueUrl").text
    assert url == f"{node.endpoint}/{ACCOUNT}/{n}"
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"k": "v"}
    status, x = query(node, {"Action": "SendMessage", "QueueUrl": url, "MessageBody": "q & a",
                             "MessageAttribute.1.Name": "a",
                             "MessageAttribute.1.Value.DataType": "String",
                             "MessageAttribute.1.Value.StringValue": "b"})
    assert status == 200
    attrs = {"a": {"DataType": "String", "StringValue": "b"}}
    assert x.find("SendMessageResult/MD5OfMessageAttributes").text == md5_of_attributes(attrs)
    # A request to the queue's own path names the queue.
    status, x = query(node, {"Action": "ReceiveMessage", "MessageAttributeName.1": "All",
                             "AttributeName.1": "All", "MaxNumberOfMessages": "5"},
                      path=f"/{ACCOUNT}/{n}")
    assert status == 200
    m = x.find("ReceiveMessageResult/Message")
    assert m.find("Body").text == "q & a"
    assert m.find("MessageAttribute/Name").text == "a"
    assert m.find("MessageAttribute/Value/StringValue").text == "b"
    names = {a.find("Name").text for a in m.findall("Attribute")}
    assert {"SentTimestamp", "ApproximateReceiveCount"} <= names
    status, x = query(node, {"Action": "DeleteMessageBatch", "QueueUrl": url,
                             "DeleteMessageBatchRequestEntry.1.Id": "one",
                             "DeleteMessageBatchRequestEntry.1.ReceiptHandle": m.find("ReceiptHandle").text})
    assert x.find("DeleteMessageBatchResult/DeleteMessageBatchResultEntry/Id").text == "one"
    status, x = query(node, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
    got = {a.find("Name").text: a.find("Value").text for a in x.findall("GetQueueAttributesResult/Attribute")}
    assert got["VisibilityTimeout"] == "40" and got["ApproximateNumberOfMessages"] == "0"
    status, x = query(node, {"Action": "GetQueueUrl", "QueueName": "missing-" + n})
    assert status == 400
    assert x.find("Error/Code").text == "AWS.SimpleQueueService.NonExistentQueue"
    assert x.find("Error/Type").text == "Sender"
