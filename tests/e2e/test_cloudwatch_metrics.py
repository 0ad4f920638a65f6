"""The CloudWatch metrics API on the node's port (service `monitoring`), driven by boto3 and the
AWS CLI in each of its three protocols (smithy-rpc-v2-cbor, JSON 1.0, query): the `AWS/Lambda`
metrics of real invocations, custom metrics from PutMetricData and from a function's Embedded
Metric Format lines (Lambda Powertools), percentiles, pagination, AWS's limits and errors,
durability across a restart, and the operators' Prometheus endpoint."""

import base64
import copy
import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import botocore.loaders
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from conftest import ACCESS_KEY, REGION, SECRET_KEY, create, make_zip, settled
from s3util import allow_s3, aws, bucket_name, pip_target, s3_client, wait_for, zip_dir

FUNCTION = """
import time

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("boom")
    return event
"""

POWERTOOLS = """
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

metrics = Metrics(namespace="Shop", service="checkout")

@metrics.log_metrics
def handler(event, context):
    metrics.add_metric(name="Orders", unit=MetricUnit.Count, value=event["orders"])
    metrics.add_metric(name="Basket", unit=MetricUnit.Kilobytes, value=1.5)
    return "ok"
"""


def window():
    now = datetime.now(timezone.utc)
    return now - timedelta(minutes=10), now + timedelta(minutes=2)


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response


def total(cw, namespace, name, dims, stat="Sum", **kw):
    start, end = window()
    points = cw.get_metric_statistics(Namespace=namespace, MetricName=name, Dimensions=dims,
                                      StartTime=start, EndTime=end, Period=60, Statistics=[stat],
                                      **kw)["Datapoints"]
    return sum(p[stat] for p in points), points


def fn_dims(name, **more):
    return [{"Name": "FunctionName", "Value": name}] + [{"Name": k, "Value": v} for k, v in more.items()]


@pytest.fixture(scope="module")
def cw(node):
    return node.client("cloudwatch")


def protocol_client(node, tmp_path_factory, protocol):
    """A CloudWatch client speaking `protocol`: botocore's own model with only its protocol
    changed, so botocore's own serializer and parser for that protocol are used."""
    model = copy.deepcopy(botocore.loaders.Loader().load_service_model("cloudwatch", "service-2"))
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    root = tmp_path_factory.mktemp(f"model-{protocol}")
    d = root / "cloudwatch" / model["metadata"]["apiVersion"]
    d.mkdir(parents=True)
    (d / "service-2.json").write_text(json.dumps(model))
    session = botocore.session.Session()
    session.get_component("data_loader").search_paths.insert(0, str(root))
    client = session.create_client("cloudwatch", endpoint_url=node.endpoint, region_name=REGION,
                                   aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                                   config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    assert client.meta.service_model.protocol == protocol
    return client


def test_invocations_errors_duration_and_throttles_read_back(node, lam, cw, fname):
    zip_bytes = make_zip({"app.py": FUNCTION})
    create(lam, fname, zip_bytes)
    settled(lam, fname)
    for payload in ({}, {"sleep": 0.2}, {"sleep": 0.05}, {"fail": True}):
        r = lam.invoke(FunctionName=fname, Payload=json.dumps(payload))
        assert r["StatusCode"] == 200
    throttled = f"{fname}-t"
    create(lam, throttled, zip_bytes)
    settled(lam, throttled)
    lam.put_function_concurrency(FunctionName=throttled, ReservedConcurrentExecutions=0)
    # One request each: every throttled request counts.
    once = boto3.client("lambda", endpoint_url=node.endpoint, region_name=REGION,
                        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                        config=Config(retries={"total_max_attempts": 1}))
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            once.invoke(FunctionName=throttled, Payload=b"{}")
        assert e.value.response["Error"]["Code"] == "TooManyRequestsException"

    assert cw.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    dims = fn_dims(fname)
    assert total(cw, "AWS/Lambda", "Invocations", dims)[0] == 4
    assert total(cw, "AWS/Lambda", "Errors", dims)[0] == 1
    assert total(cw, "AWS/Lambda", "Throttles", fn_dims(throttled))[0] == 2
    assert total(cw, "AWS/Lambda", "Invocations", fn_dims(throttled))[1] == []
    count, points = total(cw, "AWS/Lambda", "Duration", dims, stat="SampleCount")
    assert count == 4 and all(p["Unit"] == "Milliseconds" for p in points)
    _, points = total(cw, "AWS/Lambda", "Duration", dims, stat="Maximum")
    assert max(p["Maximum"] for p in points) >= 200
    # The account's aggregate, without dimensions, counts them too.
    assert total(cw, "AWS/Lambda", "Invocations", [])[0] >= 4
    _, points = total(cw, "AWS/Lambda", "ConcurrentExecutions", dims, stat="Maximum")
    assert points and all(p["Maximum"] >= 1 for p in points)

    start, end = window()
    stats = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Duration", Dimensions=dims,
                                     StartTime=start, EndTime=end, Period=600,
                                     ExtendedStatistics=["p50", "p99"])
    assert stats["Label"] == "Duration"
    [point] = stats["Datapoints"]
    assert point["ExtendedStatistics"]["p99"] >= 200 > point["ExtendedStatistics"]["p50"]

    def stat(id_, metric, stat_, dims_):
        return {"Id": id_, "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": metric,
                                                     "Dimensions": dims_},
                                          "Period": 600, "Stat": stat_}}

    data = cw.get_metric_data(MetricDataQueries=[stat("inv", "Invocations", "Sum", dims),
                                                 stat("p90", "Duration", "p90", dims),
                                                 {**stat("hidden", "Errors", "Sum", dims), "ReturnData": False},
                                                 {**stat("err", "Errors", "Sum", dims), "Label": "errors"}],
                              StartTime=start, EndTime=end, ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in data["MetricDataResults"]}
    assert set(results) == {"inv", "p90", "err"}
    assert results["inv"]["Values"] == [4.0] and results["inv"]["StatusCode"] == "Complete"
    assert results["inv"]["Label"] == "Invocations" and results["err"]["Label"] == "errors"
    assert results["err"]["Values"] == [1.0]
    assert results["p90"]["Values"][0] >= 50
    assert isinstance(results["inv"]["Timestamps"][0], datetime)

    e = error(cw.get_metric_data, MetricDataQueries=[{"Id": "m", "Expression": "SUM(METRICS())"}],
              StartTime=start, EndTime=end)
    assert e["Error"]["Code"] == "ValidationError" and "not supported" in e["Error"]["Message"]


def test_an_alias_invocation_has_resource_and_executed_version(lam, cw, fname):
    create(lam, fname, make_zip({"app.py": FUNCTION}))
    settled(lam, fname)
    version = lam.publish_version(FunctionName=fname)["Version"]
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion=version)
    lam.invoke(FunctionName=fname, Qualifier="live", Payload=b"{}")
    resource = {"Resource": f"{fname}:live"}
    assert total(cw, "AWS/Lambda", "Invocations", fn_dims(fname, **resource))[0] == 1
    dims = fn_dims(fname, ExecutedVersion=version, **resource)
    assert total(cw, "AWS/Lambda", "Invocations", dims)[0] == 1
    listed = cw.list_metrics(Namespace="AWS/Lambda", MetricName="Invocations",
                             Dimensions=[{"Name": "FunctionName", "Value": fname}])["Metrics"]
    sets = sorted(tuple(d["Name"] for d in m["Dimensions"]) for m in listed)
    assert sets == [("ExecutedVersion", "FunctionName", "Resource"), ("FunctionName",),
                    ("FunctionName", "Resource")]

    # With provisioned concurrency, an invocation is served by a provisioned environment.
    lam.put_provisioned_concurrency_config(FunctionName=fname, Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    wait_for(lambda: lam.get_provisioned_concurrency_config(
        FunctionName=fname, Qualifier="live")["Status"] == "READY", timeout=30, what="READY")
    lam.invoke(FunctionName=fname, Qualifier="live", Payload=b"{}")
    dims = fn_dims(fname, **resource)
    assert total(cw, "AWS/Lambda", "ProvisionedConcurrencyInvocations", dims)[0] == 1
    assert total(cw, "AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations", dims)[1] == []
    # The one provisioned environment was busy with it: one execution, all of the allocation.
    assert total(cw, "AWS/Lambda", "ProvisionedConcurrentExecutions", dims, stat="Maximum")[0] == 1
    assert total(cw, "AWS/Lambda", "ProvisionedConcurrencyUtilization", dims,
                 stat="Maximum")[0] == 1.0


def test_put_metric_data_reads_back_with_percentiles_and_units(cw):
    ns = f"Ignis/Test/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "Service", "Value": "api"}]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Latency", "Dimensions": dims, "Unit": "Milliseconds",
         "Values": [float(v) for v in range(1, 101)], "Counts": [1.0] * 100},
        {"MetricName": "Latency", "Dimensions": dims, "Unit": "Milliseconds", "Value": 1000.0},
        {"MetricName": "Requests", "Dimensions": dims, "Unit": "Count",
         "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}},
        {"MetricName": "Requests", "Dimensions": dims, "Unit": "Count", "Value": 5.0,
         "StorageResolution": 1},
    ])
    start, end = window()
    stats = cw.get_metric_statistics(Namespace=ns, MetricName="Latency", Dimensions=dims,
                                     StartTime=start, EndTime=end, Period=720,
                                     Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"])
    [p] = stats["Datapoints"]
    assert (p["SampleCount"], p["Sum"], p["Minimum"], p["Maximum"]) == (101, 6050, 1, 1000)
    assert p["Unit"] == "Milliseconds"
    ext = cw.get_metric_statistics(Namespace=ns, MetricName="Latency", Dimensions=dims,
                                   StartTime=start, EndTime=end, Period=720,
                                   ExtendedStatistics=["p50", "p99.9", "p100"])["Datapoints"][0]
    pct = ext["ExtendedStatistics"]
    assert abs(pct["p50"] - 51) <= 1 and pct["p100"] == 1000
    assert 99 <= pct["p99.9"] <= 1000
    assert total(cw, ns, "Requests", dims)[0] == 15
    # Statistic sets carry no distribution: no percentile.
    ext = cw.get_metric_statistics(Namespace=ns, MetricName="Requests", Dimensions=dims,
                                   StartTime=start, EndTime=end, Period=720,
                                   ExtendedStatistics=["p50"])["Datapoints"][0]
    assert ext["ExtendedStatistics"] == {}
    # Another unit, or another dimension set, is another series.
    assert total(cw, ns, "Latency", dims, Unit="Seconds")[1] == []
    assert total(cw, ns, "Latency", [])[1] == []


def test_get_metric_data_pages_and_scans_in_either_order(cw):
    ns = f"Ignis/Pages/{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    minutes = [now - timedelta(minutes=m) for m in range(1, 6)]
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Ticks", "Value": float(i), "Timestamp": t} for i, t in enumerate(minutes)])
    query = {"Id": "t", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Ticks"},
                                       "Period": 60, "Stat": "Sum"}}
    start, end = now - timedelta(minutes=10), now + timedelta(minutes=1)
    values, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        page = cw.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end,
                                  MaxDatapoints=2, **kw)
        [r] = page["MetricDataResults"]
        values += r["Values"]
        pages += 1
        token = page.get("NextToken")
        assert r["StatusCode"] == ("PartialData" if token else "Complete")
        if not token:
            break
    # Newest first by default: the value of one minute ago (0) first.
    assert (pages, values) == (3, [0.0, 1.0, 2.0, 3.0, 4.0])
    ascending = cw.get_metric_data(MetricDataQueries=[query], StartTime=start, EndTime=end,
                                   ScanBy="TimestampAscending")["MetricDataResults"][0]
    assert ascending["Values"] == [4.0, 3.0, 2.0, 1.0, 0.0]
    assert ascending["Timestamps"] == sorted(ascending["Timestamps"])
    assert [t.astimezone(timezone.utc) for t in ascending["Timestamps"]] == list(reversed(minutes))


def test_put_metric_data_limits_and_validation(node, cw):
    raw = node.client("cloudwatch", validate=False)
    ns = "Ignis/Limits"

    def code(call=raw.put_metric_data, **kw):
        e = error(call, **kw)
        assert e["ResponseMetadata"]["HTTPStatusCode"] == 400
        return e["Error"]["Code"], e["Error"]["Message"]

    assert code(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0}] * 1001) == (
        "InvalidParameterValue", "The collection MetricData must not have a size greater than 1000.")
    c, m = code(Namespace=ns, MetricData=[{"MetricName": "m", "Values": [1.0] * 151}])
    assert c == "InvalidParameterValue" and "MetricData.member.1.Values" in m
    c, m = code(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0, "Values": [1.0]}])
    assert c == "InvalidParameterCombination" and "mutually exclusive" in m
    c, _ = code(Namespace=ns, MetricData=[{"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]}])
    assert c == "InvalidParameterValue"
    c, m = code(Namespace="AWS/Lambda", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert (c, m) == ("InvalidParameterValue", "The value AWS/Lambda for parameter Namespace is invalid.")
    assert code(Namespace=ns, MetricData=[{"Value": 1.0}]) == (
        "MissingParameter", "The parameter MetricData.member.1.MetricName is required.")
    dims = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
    c, _ = code(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0, "Dimensions": dims}])
    assert c == "InvalidParameterValue"
    c, _ = code(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0, "StorageResolution": 5}])
    assert c == "InvalidParameterValue"
    old = datetime.now(timezone.utc) - timedelta(days=15)
    c, _ = code(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0, "Timestamp": old}])
    assert c == "InvalidParameterValue"
    c, _ = code(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1e200}])
    assert c == "InvalidParameterValue"
    assert code(Namespace=ns)[0] == "MissingParameter"

    start, end = window()
    base = dict(Namespace=ns, MetricName="m", StartTime=start, EndTime=end)
    get = raw.get_metric_statistics
    assert code(get, **base, Period=60)[0] == "InvalidParameterCombination"
    assert code(get, **base, Period=61, Statistics=["Sum"])[0] == "InvalidParameterValue"
    c, m = code(get, Namespace=ns, MetricName="m", StartTime=start - timedelta(days=2), EndTime=end,
                Period=60, Statistics=["Sum"])
    assert c == "InvalidParameterCombination" and "1,440" in m
    assert code(get, **base, Period=60, Statistics=["Median"])[0] == "InvalidParameterValue"
    assert code(get, **base, Period=60, ExtendedStatistics=["p101"])[0] == "InvalidParameterValue"
    assert code(get, Namespace=ns, MetricName="m", StartTime=end, EndTime=start, Period=60,
                Statistics=["Sum"])[0] == "InvalidParameterValue"
    e = error(raw.get_metric_data, MetricDataQueries=[], StartTime=start, EndTime=end, NextToken="bogus")
    assert e["Error"]["Code"] == "InvalidNextToken"


def test_list_metrics_pages_filters_and_recently_active(cw):
    ns = f"Ignis/List/{uuid.uuid4().hex[:8]}"
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Hits", "Dimensions": [{"Name": "Shard", "Value": f"{i:04}"}], "Value": 1.0}
        for i in range(1000)])
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Misses", "Value": 1.0},
        {"MetricName": "Misses", "Value": 1.0, "Unit": "Count"}])
    first = cw.list_metrics(Namespace=ns, MetricName="Hits")
    assert len(first["Metrics"]) == 500 and "NextToken" in first
    second = cw.list_metrics(Namespace=ns, MetricName="Hits", NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 500 and "NextToken" not in second
    shards = [m["Dimensions"][0]["Value"] for m in first["Metrics"] + second["Metrics"]]
    assert shards == [f"{i:04}" for i in range(1000)]
    pages = cw.get_paginator("list_metrics").paginate(Namespace=ns)
    assert sum(len(p["Metrics"]) for p in pages) == 1001  # Misses in two units is one metric
    only = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Shard", "Value": "0042"}])["Metrics"]
    assert only == [{"Namespace": ns, "MetricName": "Hits",
                     "Dimensions": [{"Name": "Shard", "Value": "0042"}]}]
    named = cw.list_metrics(Namespace=ns, Dimensions=[{"Name": "Shard"}], RecentlyActive="PT3H")
    assert len(named["Metrics"]) == 500
    e = error(cw.list_metrics, Namespace=ns, NextToken="not-a-token")
    assert e["Error"]["Code"] == "InvalidParameterValue"


@pytest.mark.parametrize("protocol", ["smithy-rpc-v2-cbor", "json", "query"])
def test_each_protocol(node, tmp_path_factory, protocol):
    client = protocol_client(node, tmp_path_factory, protocol)
    ns = f"Ignis/Proto/{protocol}/{uuid.uuid4().hex[:6]}"
    dims = [{"Name": "Proto", "Value": protocol}]
    client.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Bytes", "Dimensions": dims, "Unit": "Bytes", "Values": [10.0, 20.0],
         "Counts": [1.0, 3.0], "Timestamp": datetime.now(timezone.utc)}])
    listed = client.list_metrics(Namespace=ns)["Metrics"]
    assert listed == [{"Namespace": ns, "MetricName": "Bytes", "Dimensions": dims}]
    start, end = window()
    stats = client.get_metric_statistics(Namespace=ns, MetricName="Bytes", Dimensions=dims,
                                         StartTime=start, EndTime=end, Period=720, Statistics=["Sum"])
    [p] = stats["Datapoints"]
    assert (p["Sum"], p["Unit"]) == (70.0, "Bytes")
    assert isinstance(p["Timestamp"], datetime)
    data = client.get_metric_data(
        MetricDataQueries=[{"Id": "b", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "Bytes",
                                                                  "Dimensions": dims},
                                                       "Period": 720, "Stat": "p75"}}],
        StartTime=start, EndTime=end)
    [r] = data["MetricDataResults"]
    assert abs(r["Values"][0] - 20.0) <= 0.2
    e = error(client.put_metric_data, Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert e["Error"]["Code"] == "InvalidParameterValue"
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_the_aws_cli_puts_and_reads(node):
    ns = f"Ignis/Cli/{uuid.uuid4().hex[:6]}"
    aws(node, "cloudwatch", "put-metric-data", "--namespace", ns, "--metric-name", "Jobs",
        "--value", "3", "--unit", "Count", "--dimensions", "Queue=q1")
    start, end = window()
    out = aws(node, "cloudwatch", "get-metric-statistics", "--namespace", ns, "--metric-name", "Jobs",
              "--dimensions", "Name=Queue,Value=q1", "--start-time", start.isoformat(),
              "--end-time", end.isoformat(), "--period", "60", "--statistics", "Sum").stdout
    [p] = json.loads(out)["Datapoints"]
    assert (p["Sum"], p["Unit"]) == (3.0, "Count")
    listed = json.loads(aws(node, "cloudwatch", "list-metrics", "--namespace", ns).stdout)["Metrics"]
    assert listed == [{"Namespace": ns, "MetricName": "Jobs", "Dimensions": [{"Name": "Queue", "Value": "q1"}]}]


def test_asynchronous_invocations_and_s3_events(fresh_node, fname):
    node = fresh_node(extra_args=["--async-retry-delay", "1"])
    lam, cw, s3 = node.client(), node.client("cloudwatch"), s3_client(node)
    arn = create(lam, fname, make_zip({"app.py": FUNCTION}))["FunctionArn"]
    settled(lam, fname)
    for payload in ({}, {"fail": True}):
        assert lam.invoke(FunctionName=fname, InvocationType="Event",
                          Payload=json.dumps(payload))["StatusCode"] == 202
    bucket = bucket_name("metrics")
    s3.create_bucket(Bucket=bucket)
    allow_s3(lam, fname, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    dims = fn_dims(fname)
    # Queued: two invokes and one object notification.
    assert total(cw, "AWS/Lambda", "AsyncEventsReceived", dims)[0] == 3
    # The failing event runs three times (two retries), then is dropped.
    wait_for(lambda: total(cw, "AWS/Lambda", "AsyncEventsDropped", dims)[0] == 1, timeout=30,
             what="the failing event to be dropped")
    assert total(cw, "AWS/Lambda", "Invocations", dims)[0] == 5
    assert total(cw, "AWS/Lambda", "Errors", dims)[0] == 3
    count, points = total(cw, "AWS/Lambda", "AsyncEventAge", dims, stat="SampleCount")
    assert count == 5 and points[0]["Unit"] == "Milliseconds"
    _, points = total(cw, "AWS/Lambda", "AsyncEventAge", dims, stat="Maximum")
    # The last attempt waited for both retries' delays (1 s, then 2 s).
    assert max(p["Maximum"] for p in points) >= 3000


@pytest.fixture(scope="module")
def powertools_zip(tmp_path_factory):
    deps = pip_target(["aws-lambda-powertools==3.37.0"], "powertools")
    path = zip_dir(tmp_path_factory.mktemp("powertools-metrics") / "fn.zip", {"app.py": POWERTOOLS}, deps)
    return path.read_bytes()


def test_powertools_metrics_become_custom_metrics(lam, cw, fname, powertools_zip):
    create(lam, fname, powertools_zip, Timeout=30)
    settled(lam, fname)
    for orders in (2, 3):
        r = lam.invoke(FunctionName=fname, Payload=json.dumps({"orders": orders}), LogType="Tail")
        assert "FunctionError" not in r, r["Payload"].read()
        # The EMF line is still in the function's log.
        assert '"_aws"' in base64.b64decode(r["LogResult"]).decode()
    dims = [{"Name": "service", "Value": "checkout"}]
    deadline = time.monotonic() + 20
    while total(cw, "Shop", "Orders", dims)[0] < 5:
        assert time.monotonic() < deadline, "the EMF metrics did not arrive"
        time.sleep(0.3)
    assert total(cw, "Shop", "Orders", dims)[0] == 5
    _, points = total(cw, "Shop", "Basket", dims)
    assert points[0]["Unit"] == "Kilobytes"


def test_metrics_survive_a_restart(fresh_node):
    first = fresh_node()
    cw = first.client("cloudwatch")
    cw.put_metric_data(Namespace="Ignis/Durable", MetricData=[{"MetricName": "Kept", "Value": 7.0}])
    assert total(cw, "Ignis/Durable", "Kept", [])[0] == 7
    # Recorded but not read before the stop: the stop flushes it.
    cw.put_metric_data(Namespace="Ignis/Durable", MetricData=[{"MetricName": "Kept", "Value": 1.0}])
    assert first.stop() == 0
    again = fresh_node(data_dir=first.data_dir)
    cw = again.client("cloudwatch")
    assert total(cw, "Ignis/Durable", "Kept", [])[0] == 8
    assert cw.list_metrics(Namespace="Ignis/Durable")["Metrics"] == [
        {"Namespace": "Ignis/Durable", "MetricName": "Kept", "Dimensions": []}]


def scrape(url, accept=None):
    req = urllib.request.Request(f"{url}", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode()


def test_prometheus_endpoint(fresh_node, fname):
    node = fresh_node(extra_args=["--metrics-listen", "127.0.0.1:0"])
    assert node.metrics_url and node.metrics_url.endswith("/metrics")
    lam = node.client()
    create(lam, fname, make_zip({"app.py": FUNCTION}))
    settled(lam, fname)
    lam.invoke(FunctionName=fname, Payload=b"{}")
    lam.invoke(FunctionName=fname, Payload=json.dumps({"fail": True}))
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError):
        lam.invoke(FunctionName=fname, Payload=b"{}")
    content_type, text = scrape(node.metrics_url)
    assert content_type.startswith("text/plain; version=0.0.4")
    # A counter family without samples keeps its `_total` name in the classic parser.
    families = {f.name.removesuffix("_total"): f for f in text_string_to_metric_families(text)}
    inv = families["ignis_invocations"]
    assert inv.type == "counter"
    by_outcome = {s.labels["outcome"]: s.value for s in inv.samples
                  if s.labels.get("function") == fname}
    assert by_outcome == {"success": 1.0, "error": 1.0}
    hist = families["ignis_invocation_duration_seconds"]
    assert hist.type == "histogram"
    count = [s for s in hist.samples if s.name.endswith("_count") and s.labels["function"] == fname]
    assert count[0].value == 2
    assert [s.value for s in families["ignis_cold_starts"].samples if s.labels["function"] == fname] == [1.0]
    states = {s.labels["state"]: s.value for s in families["ignis_environments"].samples}
    assert states["idle"] >= 1 and "busy" in states
    dropped = {s.labels["kind"] for s in families["ignis_dropped_records"].samples}
    assert {"metric", "log"} <= dropped
    assert [s.value for s in families["ignis_throttles"].samples if s.labels["function"] == fname][0] >= 1
    for name in ("ignis_async_queue_bytes", "ignis_open_connections", "ignis_concurrent_executions",
                 "ignis_connections_refused", "ignis_connections_evicted"):
        assert name in families, name
    # OpenMetrics for a scraper that asks for it.
    content_type, text = scrape(node.metrics_url, "application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert "ignis_invocations" in {f.name for f in openmetrics_families(text)}
    # Only /metrics is served there, and the API port does not serve it.
    with pytest.raises(urllib.error.HTTPError) as e:
        scrape(node.metrics_url.replace("/metrics", "/"))
    assert e.value.code == 404
