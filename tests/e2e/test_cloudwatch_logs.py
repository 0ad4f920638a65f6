"""The CloudWatch Logs API on the node's port (JSON 1.1, `Logs_20140328.*`), driven by boto3
and the AWS CLI: groups, streams, events, pagination, tokens at the ends of a stream, filter
patterns, retention that deletes, PutLogEvents' limits, live tails, and a function's own logs."""

import json
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ACCESS_KEY, SECRET_KEY, create, make_zip, settled
from s3util import aws

DAY = 86_400_000


def now_ms():
    return int(time.time() * 1000)


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response


@pytest.fixture(scope="module")
def logs(node):
    return node.client("logs")


@pytest.fixture
def group(logs):
    name = f"/ignis/test/{uuid.uuid4().hex[:12]}"
    logs.create_log_group(logGroupName=name)
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except ClientError:
        pass


def put(logs, group, stream, messages, start=None):
    t = start or now_ms()
    events = [{"timestamp": t + i, "message": m} for i, m in enumerate(messages)]
    return logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def test_groups_describe_delete_and_their_errors(node, logs):
    base = f"/ignis/groups-{uuid.uuid4().hex[:8]}"
    names = [f"{base}/app-{i:02}" for i in range(5)]
    logs.create_log_group(logGroupName=names[0], tags={"team": "a"})
    for n in names[1:]:
        logs.create_log_group(logGroupName=n)
    assert logs.list_tags_log_group(logGroupName=names[0])["tags"] == {"team": "a"}
    e = error(logs.create_log_group, logGroupName=names[0])
    assert e["Error"] == {"Code": "ResourceAlreadyExistsException",
                          "Message": "The specified log group already exists"}
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 400
    e = error(logs.create_log_group, logGroupName="x" * 513)
    assert e["Error"]["Code"] == "InvalidParameterException"
    assert "less than or equal to 512" in e["Error"]["Message"]

    got = logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"]
    assert [g["logGroupName"] for g in got] == names
    g = got[0]
    assert g["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{names[0]}:*"
    assert g["logGroupArn"] == g["arn"][:-2]
    assert g["storedBytes"] == 0 and g["metricFilterCount"] == 0
    assert g["logGroupClass"] == "STANDARD"
    assert abs(g["creationTime"] - now_ms()) < 60_000
    assert "retentionInDays" not in g

    # Pages of two, then the last one without a token.
    seen, token, pages = [], None, 0
    while True:
        kw = {"logGroupNamePrefix": base, "limit": 2, **({"nextToken": token} if token else {})}
        page = logs.describe_log_groups(**kw)
        seen += [x["logGroupName"] for x in page["logGroups"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names and pages == 3
    # The paginator and the pattern (case-sensitive substring).
    pag = logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=base,
                                                              PaginationConfig={"PageSize": 3})
    assert [x["logGroupName"] for p in pag for x in p["logGroups"]] == names
    got = logs.describe_log_groups(logGroupNamePattern="app-03")["logGroups"]
    assert [x["logGroupName"] for x in got] == [names[3]]
    assert logs.describe_log_groups(logGroupNamePattern="APP-03")["logGroups"] == []
    e = error(logs.describe_log_groups, logGroupNamePrefix=base, logGroupNamePattern="x")
    assert e["Error"]["Message"] == \
        "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters."
    e = error(logs.describe_log_groups, nextToken="garbage")
    assert e["Error"] == {"Code": "InvalidParameterException",
                          "Message": "The specified nextToken is invalid."}

    for n in names:
        logs.delete_log_group(logGroupName=n)
    e = error(logs.delete_log_group, logGroupName=names[0])
    assert e["Error"] == {"Code": "ResourceNotFoundException",
                          "Message": "The specified log group does not exist."}
    assert logs.describe_log_groups(logGroupNamePrefix=base)["logGroups"] == []


def test_model_constraints_are_invalid_parameter_errors(node):
    raw = node.client("logs", validate=False)
    e = error(raw.get_log_events, logGroupName="/x", logStreamName="s", limit=10001)
    assert e["Error"] == {"Code": "InvalidParameterException", "Message":
                          "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
                          "constraint: Member must have value less than or equal to 10000"}
    e = error(raw.put_retention_policy, logGroupName="/x", retentionInDays=2)
    assert e["Error"]["Code"] == "InvalidParameterException"
    assert "enum value set: [1, 3, 5, 7, 14" in e["Error"]["Message"]
    e = error(raw.create_log_group, logGroupName="bad name")
    assert "regular expression pattern" in e["Error"]["Message"]


def test_retention_and_tags(node, logs, group):
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert g["retentionInDays"] == 7
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    e = error(logs.put_retention_policy, logGroupName=group + "-none", retentionInDays=1)
    assert e["Error"]["Code"] == "ResourceNotFoundException"

    logs.tag_log_group(logGroupName=group, tags={"a": "1", "b": "2"})
    logs.untag_log_group(logGroupName=group, tags=["a"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2"}
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"c": "3"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2", "c": "3"}
    logs.untag_resource(resourceArn=arn, tagKeys=["b", "c"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    e = error(logs.tag_resource, resourceArn=arn + "x", tags={"a": "b"})
    assert e["Error"]["Code"] == "ResourceNotFoundException"


def test_tags_bound(logs, group):
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    e = error(logs.tag_resource, resourceArn=arn, tags={"one-more": "v"})
    assert e["Error"]["Code"] == "TooManyTagsException"
    # Metadata is durable across the group's listing.
    assert len(logs.list_tags_log_group(logGroupName=group)["tags"]) == 50


def test_streams_describe_order_and_delete(logs, group):
    names = ["b-stream", "a-stream", "c-stream"]
    for n in names:
        logs.create_log_stream(logGroupName=group, logStreamName=n)
    e = error(logs.create_log_stream, logGroupName=group, logStreamName="a-stream")
    assert e["Error"] == {"Code": "ResourceAlreadyExistsException",
                          "Message": "The specified log stream already exists"}
    e = error(logs.create_log_stream, logGroupName=group + "-none", logStreamName="s")
    assert e["Error"]["Code"] == "ResourceNotFoundException"
    t = now_ms()
    # The last event: c oldest, then a, then b newest.
    put(logs, group, "c-stream", ["c"], start=t - 3000)
    put(logs, group, "a-stream", ["a"], start=t - 2000)
    put(logs, group, "b-stream", ["b"], start=t - 1000)

    s = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [x["logStreamName"] for x in s] == ["a-stream", "b-stream", "c-stream"]
    a = s[0]
    assert a["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{group}:log-stream:a-stream"
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == t - 2000
    assert a["lastIngestionTime"] >= t and a["creationTime"] <= a["lastIngestionTime"]
    assert a["storedBytes"] == 0
    s = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)
    assert [x["logStreamName"] for x in s["logStreams"]] == ["b-stream", "a-stream", "c-stream"]
    s = logs.describe_log_streams(logGroupName=group, descending=True, limit=2)
    assert [x["logStreamName"] for x in s["logStreams"]] == ["c-stream", "b-stream"]
    s = logs.describe_log_streams(logGroupName=group, descending=True, limit=2, nextToken=s["nextToken"])
    assert [x["logStreamName"] for x in s["logStreams"]] == ["a-stream"] and "nextToken" not in s
    s = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b")["logStreams"]
    assert [x["logStreamName"] for x in s] == ["b-stream"]
    e = error(logs.describe_log_streams, logGroupName=group, logStreamNamePrefix="b", orderBy="LastEventTime")
    assert e["Error"]["Code"] == "InvalidParameterException"
    arn = f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"
    s = logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]
    assert len(s) == 3
    e = error(logs.describe_log_streams, logGroupName=group, logGroupIdentifier=arn)
    assert e["Error"] == {"Code": "ValidationException",
                          "Message": "LogGroup name and LogGroup ARN are mutually exclusive parameters."}
    # A group's storedBytes is what its streams hold.
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] > 0

    logs.delete_log_stream(logGroupName=group, logStreamName="a-stream")
    e = error(logs.delete_log_stream, logGroupName=group, logStreamName="a-stream")
    assert e["Error"] == {"Code": "ResourceNotFoundException",
                          "Message": "The specified log stream does not exist."}
    assert len(logs.describe_log_streams(logGroupName=group)["logStreams"]) == 2


def test_get_log_events_tokens_stop_changing_at_either_end(logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms() - 10_000
    put(logs, group, "s", [f"m{i}" for i in range(5)], start=t)
    # Default: the newest events.
    r = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2)
    assert [e["message"] for e in r["events"]] == ["m3", "m4"]
    assert all(e["ingestionTime"] >= e["timestamp"] for e in r["events"])
    back = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, nextToken=r["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["m1", "m2"]
    # From the head, forward to the end, where the token repeats.
    r = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, startFromHead=True)
    got = [e["message"] for e in r["events"]]
    for _ in range(5):
        nxt = logs.get_log_events(logGroupName=group, logStreamName="s", limit=2, nextToken=r["nextForwardToken"])
        got += [e["message"] for e in nxt["events"]]
        if nxt["nextForwardToken"] == r["nextForwardToken"]:
            assert nxt["events"] == []
            break
        r = nxt
    assert got == [f"m{i}" for i in range(5)]
    # New events appear behind the repeated token.
    put(logs, group, "s", ["m5"], start=t + 100)
    more = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=r["nextForwardToken"])
    assert [e["message"] for e in more["events"]] == ["m5"]
    # Backward at the head repeats too.
    r = logs.get_log_events(logGroupName=group, logStreamName="s", limit=10, startFromHead=True)
    head = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=r["nextBackwardToken"])
    assert head["events"] == [] and head["nextBackwardToken"] == r["nextBackwardToken"]
    # A time range: startTime inclusive, endTime exclusive.
    r = logs.get_log_events(logGroupName=group, logStreamName="s", startTime=t + 1, endTime=t + 3, startFromHead=True)
    assert [e["message"] for e in r["events"]] == ["m1", "m2"]
    e = error(logs.get_log_events, logGroupName=group, logStreamName="none")
    assert e["Error"]["Message"] == "The specified log stream does not exist."
    e = error(logs.get_log_events, logGroupName=group, logStreamName="s", nextToken="bogus")
    assert e["Error"]["Message"] == "The specified nextToken is invalid."


def test_put_log_events_limits(node, logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    raw = node.client("logs", validate=False)
    t = now_ms()
    e = error(logs.put_log_events, logGroupName=group, logStreamName="s",
              logEvents=[{"timestamp": t, "message": "b"}, {"timestamp": t - 10, "message": "a"}])
    assert e["Error"] == {"Code": "InvalidParameterException", "Message":
                          "Log events in a single PutLogEvents request must be in chronological order."}
    e = error(raw.put_log_events, logGroupName=group, logStreamName="s",
              logEvents=[{"timestamp": t, "message": "x"}] * 10_001)
    assert e["Error"]["Code"] == "InvalidParameterException" and "10000" in e["Error"]["Message"]
    # 1,048,576 bytes with 26 per event: exactly at the limit passes, one byte over does not.
    n = 8
    body = (1_048_576 - 26 * n) // n
    extra = 1_048_576 - 26 * n - body * n
    msgs = ["x" * body for _ in range(n - 1)] + ["x" * (body + extra)]
    put(logs, group, "s", msgs)
    msgs[-1] += "x"
    e = error(logs.put_log_events, logGroupName=group, logStreamName="s",
              logEvents=[{"timestamp": t + i, "message": m} for i, m in enumerate(msgs)])
    assert e["Error"]["Code"] == "InvalidParameterException" and "1048576" in e["Error"]["Message"]
    e = error(logs.put_log_events, logGroupName=group, logStreamName="s",
              logEvents=[{"timestamp": t - 2 * DAY, "message": "a"}, {"timestamp": t, "message": "b"}])
    assert "24 hours" in e["Error"]["Message"]
    # Too old (past 14 days) and too new (past 2 hours) are reported, the rest accepted.
    r = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 30 * DAY, "message": "old"},
        {"timestamp": t, "message": "ok"},
        {"timestamp": t + DAY, "message": "new"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 2}
    assert r["nextSequenceToken"]
    got = logs.filter_log_events(logGroupName=group, filterPattern="ok")["events"]
    assert [x["message"] for x in got] == ["ok"]
    # Older than the group's retention: expired.
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    r = logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t - 2 * DAY, "message": "expired"}, {"timestamp": t - 2 * DAY + 1, "message": "too"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    e = error(logs.put_log_events, logGroupName=group, logStreamName="none",
              logEvents=[{"timestamp": t, "message": "x"}])
    assert e["Error"] == {"Code": "ResourceNotFoundException", "Message": "The specified log stream does not exist."}
    e = error(logs.put_log_events, logGroupName=group + "-none", logStreamName="s",
              logEvents=[{"timestamp": t, "message": "x"}])
    assert e["Error"]["Message"] == "The specified log group does not exist."


FILTER_EVENTS = [
    "INFO started",
    "ERROR disk full",
    "WARN low memory",
    "ERROR timeout talking to db",
    json.dumps({"level": "ERROR", "latency": 150, "user": {"id": "u-42"}, "gone": None}),
    json.dumps({"level": "ERROR", "latency": 50, "user": {"id": "x-1"}}),
    json.dumps({"level": "INFO", "latency": 500, "ok": True}),
]


@pytest.mark.parametrize("pattern,expected", [
    ("", list(range(7))),
    ("ERROR", [1, 3, 4, 5]),
    ("ERROR disk", [1]),
    ('"timeout talking"', [3]),
    ("?WARN ?disk", [1, 2]),
    ("ERROR -timeout -latency", [1]),
    ('{ $.level = "ERROR" && $.latency > 100 }', [4]),
    ('{ $.level = "ERROR" || $.latency >= 500 }', [4, 5, 6]),
    ('{ ($.latency < 100 || $.latency > 400) && $.level != "ERROR" }', [6]),
    ('{ $.latency <= 50 }', [5]),
    ('{ $.user.id = "u-*" }', [4]),
    ('{ $.gone IS NULL }', [4]),
    ('{ $.user NOT EXISTS }', [6]),
    ('{ $.ok IS TRUE }', [6]),
])
def test_filter_patterns(logs, pattern, expected, request):
    group = f"/ignis/filter/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)
    try:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        t = now_ms() - 1000
        put(logs, group, "s", FILTER_EVENTS, start=t)
        got = logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        assert [FILTER_EVENTS.index(e["message"]) for e in got] == expected
    finally:
        logs.delete_log_group(logGroupName=group)


def test_filter_log_events_streams_time_and_pages(logs, group):
    for s in ["web-1", "web-2", "db-1"]:
        logs.create_log_stream(logGroupName=group, logStreamName=s)
    t = now_ms() - 60_000
    for i in range(6):
        stream = ["web-1", "web-2", "db-1"][i % 3]
        logs.put_log_events(logGroupName=group, logStreamName=stream,
                            logEvents=[{"timestamp": t + i * 10, "message": f"e{i}"}])
    r = logs.filter_log_events(logGroupName=group)
    assert [e["message"] for e in r["events"]] == [f"e{i}" for i in range(6)]
    ev = r["events"][0]
    assert ev["logStreamName"] == "web-1" and ev["eventId"] and ev["ingestionTime"] >= ev["timestamp"]
    assert len({e["eventId"] for e in r["events"]}) == 6
    r = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="web")
    assert [e["message"] for e in r["events"]] == ["e0", "e1", "e3", "e4"]
    r = logs.filter_log_events(logGroupName=group, logStreamNames=["db-1"])
    assert [e["message"] for e in r["events"]] == ["e2", "e5"]
    r = logs.filter_log_events(logGroupName=group, startTime=t + 10, endTime=t + 30)
    assert [e["message"] for e in r["events"]] == ["e1", "e2", "e3"]
    got, token = [], None
    while True:
        page = logs.filter_log_events(logGroupName=group, limit=4, **({"nextToken": token} if token else {}))
        got += [e["message"] for e in page["events"]]
        token = page.get("nextToken")
        if not token:
            break
    assert got == [f"e{i}" for i in range(6)]
    e = error(logs.filter_log_events, logGroupName=group, filterPattern="{ $.a = }")
    assert e["Error"]["Code"] == "InvalidParameterException"


def test_the_cli_reads_and_writes(node, logs, group):
    logs.create_log_stream(logGroupName=group, logStreamName="cli")
    t = now_ms() - 5000
    aws(node, "logs", "put-log-events", "--log-group-name", group, "--log-stream-name", "cli",
        "--log-events", json.dumps([{"timestamp": t, "message": "hello from the cli"}]))
    out = json.loads(aws(node, "logs", "get-log-events", "--log-group-name", group,
                         "--log-stream-name", "cli", "--start-from-head").stdout)
    assert [e["message"] for e in out["events"]] == ["hello from the cli"]
    out = json.loads(aws(node, "logs", "describe-log-streams", "--log-group-name", group).stdout)
    assert out["logStreams"][0]["logStreamName"] == "cli"
    out = json.loads(aws(node, "logs", "filter-log-events", "--log-group-name", group,
                         "--filter-pattern", '"from the cli"').stdout)
    assert [e["message"] for e in out["events"]] == ["hello from the cli"]


LOGGING_FN = """
import time
def handler(event, context):
    print("handling " + event["tag"])
    return {"ok": True}
"""


def follow(logs, group, start_ms, stop, lines):
    """What `aws logs tail --follow` does (AWS CLI v2, awscli/customizations/logs/tail.py; the
    CLI v1 on PyPI has no `logs tail`): FilterLogEvents from a start time, paged, then polled
    every few seconds from the newest timestamp seen, events de-duplicated by eventId."""
    seen = set()
    while not stop.is_set():
        kw = {"logGroupName": group, "startTime": start_ms, "interleaved": True}
        for page in logs.get_paginator("filter_log_events").paginate(**kw):
            for e in page["events"]:
                if e["eventId"] not in seen:
                    seen.add(e["eventId"])
                    lines.append(e["message"])
                    start_ms = max(start_ms, e["timestamp"])
        stop.wait(1)


def test_a_functions_logs_through_the_api_and_a_tail_follow(node, lam, logs, fname):
    if "python3.11" not in node.runtimes:
        pytest.skip("python3.11 is not installed")
    create(lam, fname, make_zip({"app.py": LOGGING_FN}))
    settled(lam, fname)
    group = f"/aws/lambda/{fname}"
    stop, lines = threading.Event(), []
    try:
        lam.invoke(FunctionName=fname, Payload=json.dumps({"tag": "first"}))
        deadline = time.monotonic() + 30
        while True:
            groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
            if groups:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert len(streams) == 1
        import re
        assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", streams[0]["logStreamName"])
        assert streams[0]["lastIngestionTime"] >= streams[0]["lastEventTimestamp"]
        deadline = time.monotonic() + 30
        while True:
            ev = logs.filter_log_events(logGroupName=group, filterPattern='"handling first"')["events"]
            if ev:
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        report = logs.filter_log_events(logGroupName=group, filterPattern="REPORT Duration")["events"]
        assert report and "Billed Duration" in report[0]["message"]
        # The follower sees an invocation made after it started, and each line once.
        threading.Thread(target=follow, args=(logs, group, now_ms() - 600_000, stop, lines),
                         daemon=True).start()
        lam.invoke(FunctionName=fname, Payload=json.dumps({"tag": "second"}))
        deadline = time.monotonic() + 40
        while not any("handling second" in l for l in lines):
            assert time.monotonic() < deadline, f"the follower saw {lines}"
            time.sleep(0.3)
        time.sleep(1.5)
        assert sum("handling first" in l for l in lines) == 1
    finally:
        stop.set()


def test_retention_deletes_old_events_and_frees_the_disk(fresh_node):
    n = fresh_node(extra_env={"IGNIS_LOG_RETENTION_SWEEP_SECONDS": "0.5"})
    logs = n.client("logs")
    logs.create_log_group(logGroupName="/ret/g")
    logs.create_log_stream(logGroupName="/ret/g", logStreamName="s")
    t = now_ms()
    # Put with no retention, 3 days old (AWS takes up to 14 days), then the new ones.
    old = [{"timestamp": t - 3 * DAY + i, "message": "old " + "x" * 1000} for i in range(200)]
    logs.put_log_events(logGroupName="/ret/g", logStreamName="s", logEvents=old)
    logs.put_log_events(logGroupName="/ret/g", logStreamName="s",
                        logEvents=[{"timestamp": t, "message": "recent"}])
    before = logs.describe_log_groups(logGroupNamePrefix="/ret/g")["logGroups"][0]["storedBytes"]
    files = list((n.data_dir / "logs").rglob("*.log"))
    disk_before = sum(f.stat().st_size for f in files)
    assert before > 200_000 and disk_before > 200_000
    logs.put_retention_policy(logGroupName="/ret/g", retentionInDays=1)
    deadline = time.monotonic() + 20
    while True:
        g = logs.describe_log_groups(logGroupNamePrefix="/ret/g")["logGroups"][0]
        if g["storedBytes"] < 10_000:
            break
        assert time.monotonic() < deadline, g
        time.sleep(0.2)
    got = logs.get_log_events(logGroupName="/ret/g", logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["recent"]
    assert sum(f.stat().st_size for f in (n.data_dir / "logs").rglob("*.log")) < 10_000
    # The metadata survives a restart.
    n.stop()
    n2 = fresh_node(data_dir=n.data_dir)
    g = n2.client("logs").describe_log_groups(logGroupNamePrefix="/ret/g")["logGroups"][0]
    assert g["retentionInDays"] == 1


def test_live_tail_sessions_bounded_and_ended_when_idle(fresh_node):
    n = fresh_node(extra_env={"IGNIS_LIVE_TAIL_LIMITS": "1,3,60"})
    # StartLiveTail's model prefixes the host with `stream-` (AWS's streaming endpoint); an
    # endpoint on an address needs that off.
    logs = boto3.client("logs", endpoint_url=n.endpoint, region_name="us-east-1",
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
    logs.create_log_group(logGroupName="/tail/g")
    logs.create_log_stream(logGroupName="/tail/g", logStreamName="s")
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:/tail/g"
    r = logs.start_live_tail(logGroupIdentifiers=[arn], logEventFilterPattern="ERROR")
    stream = r["responseStream"]
    first = next(iter(stream))
    assert first["sessionStart"]["logGroupIdentifiers"] == [arn]
    assert first["sessionStart"]["sessionId"]
    # A second session is over the cap of one.
    e = error(logs.start_live_tail, logGroupIdentifiers=[arn])
    assert e["Error"]["Code"] == "LimitExceededException"
    put(logs, "/tail/g", "s", ["INFO skip", "ERROR shown"])
    seen, ended = [], None
    try:
        for ev in stream:
            if "sessionUpdate" in ev:
                seen += [x["message"] for x in ev["sessionUpdate"]["sessionResults"]]
    except ClientError as err:
        ended = err.response["Error"]["Code"]
    except Exception as err:  # botocore raises the modeled exception from the stream
        ended = type(err).__name__
    assert seen == ["ERROR shown"]
    assert ended and "SessionTimeout" in ended
    # The slot is free again.
    r = logs.start_live_tail(logGroupIdentifiers=[arn])
    assert "sessionStart" in next(iter(r["responseStream"]))
    r["responseStream"].close()
