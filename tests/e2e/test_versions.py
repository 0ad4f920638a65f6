"""Versions, aliases with weighted routing, and concurrency controls, driven by boto3."""

import json
import math
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import create, make_zip

CODE = "VERSION_TAG = {tag!r}\nimport time\ndef handler(event, context):\n    if event.get('sleep'):\n        time.sleep(event['sleep'])\n    return {{'tag': VERSION_TAG, 'version': context.function_version, 'arn': context.invoked_function_arn}}\n"


def code(tag):
    return make_zip({"app.py": CODE.format(tag=tag)})


def run(lam, name, event=None, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kw)
    return r, json.loads(r["Payload"].read())


def test_publish_is_idempotent_until_something_changes(lam, fname):
    create(lam, fname, code("a"))
    v1 = lam.publish_version(FunctionName=fname, Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["Description"] == "first"
    assert v1["FunctionArn"].endswith(f":function:{fname}:1")
    assert lam.publish_version(FunctionName=fname)["Version"] == "1"  # nothing changed
    lam.update_function_configuration(FunctionName=fname, MemorySize=256)
    assert lam.publish_version(FunctionName=fname)["Version"] == "2"
    lam.update_function_code(FunctionName=fname, ZipFile=code("b"))
    v3 = lam.publish_version(FunctionName=fname)
    assert v3["Version"] == "3"
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName=fname, CodeSha256="not-the-hash")
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName=fname, RevisionId="stale")


def test_published_versions_are_immutable_and_addressable(lam, fname):
    create(lam, fname, code("a"), Publish=True)
    lam.update_function_code(FunctionName=fname, ZipFile=code("b"))
    lam.update_function_configuration(FunctionName=fname, Timeout=9)
    v1 = lam.get_function_configuration(FunctionName=fname, Qualifier="1")
    assert v1["Timeout"] == 3 and v1["Version"] == "1"
    assert lam.get_function(FunctionName=f"{fname}:1")["Configuration"]["Version"] == "1"
    arn1 = f"arn:aws:lambda:us-east-1:000000000000:function:{fname}:1"
    r, body = run(lam, arn1)
    assert body["tag"] == "a" and body["version"] == "1" and r["ExecutedVersion"] == "1"
    r, body = run(lam, fname)
    assert body["tag"] == "b" and body["version"] == "$LATEST" and r["ExecutedVersion"] == "$LATEST"
    r, body = run(lam, fname, Qualifier="1")
    assert body["tag"] == "a"


def test_create_and_update_code_with_publish(lam, fname):
    c = create(lam, fname, code("a"), Publish=True)
    assert c["Version"] == "1"
    u = lam.update_function_code(FunctionName=fname, ZipFile=code("b"), Publish=True)
    assert u["Version"] == "2"


def test_list_versions_latest_first_and_paginated(lam, fname):
    create(lam, fname, code("a"))
    for i in range(4):
        lam.update_function_configuration(FunctionName=fname, Timeout=4 + i)
        lam.publish_version(FunctionName=fname)
    versions = []
    for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=fname, PaginationConfig={"PageSize": 2}):
        versions += [v["Version"] for v in page["Versions"]]
    assert versions == ["$LATEST", "1", "2", "3", "4"]


def test_version_numbers_never_repeat_and_aliased_versions_are_protected(lam, fname):
    create(lam, fname, code("a"), Publish=True)
    lam.update_function_code(FunctionName=fname, ZipFile=code("b"), Publish=True)
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion="2")
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.delete_function(FunctionName=fname, Qualifier="2")
    lam.delete_function(FunctionName=fname, Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fname, Qualifier="1")
    lam.delete_alias(FunctionName=fname, Name="live")
    lam.delete_function(FunctionName=fname, Qualifier="2")
    lam.update_function_code(FunctionName=fname, ZipFile=code("c"))
    assert lam.publish_version(FunctionName=fname)["Version"] == "3"


def test_alias_crud_and_invocation(lam, fname):
    create(lam, fname, code("a"), Publish=True)
    a = lam.create_alias(FunctionName=fname, Name="prod", FunctionVersion="1", Description="p")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["AliasArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fname}:prod"
    assert lam.get_alias(FunctionName=fname, Name="prod")["FunctionVersion"] == "1"
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_alias(FunctionName=fname, Name="prod", FunctionVersion="1")
    r, body = run(lam, f"{fname}:prod")
    assert r["ExecutedVersion"] == "1" and body["version"] == "1"
    assert body["arn"].endswith(f":function:{fname}:prod")
    assert lam.get_function_configuration(FunctionName=fname, Qualifier="prod")["Version"] == "1"
    lam.update_function_code(FunctionName=fname, ZipFile=code("b"), Publish=True)
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName=fname, Name="prod", FunctionVersion="2", RevisionId="stale")
    u = lam.update_alias(FunctionName=fname, Name="prod", FunctionVersion="2", RevisionId=a["RevisionId"])
    assert u["FunctionVersion"] == "2" and u["RevisionId"] != a["RevisionId"]
    assert run(lam, fname, Qualifier="prod")[1]["tag"] == "b"
    lam.create_alias(FunctionName=fname, Name="old", FunctionVersion="1")
    names = [x["Name"] for x in lam.list_aliases(FunctionName=fname)["Aliases"]]
    assert names == ["old", "prod"]
    assert [x["Name"] for x in lam.list_aliases(FunctionName=fname, FunctionVersion="1")["Aliases"]] == ["old"]
    lam.delete_alias(FunctionName=fname, Name="old")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_alias(FunctionName=fname, Name="old")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        run(lam, f"{fname}:old")


def test_alias_rules(node, lam, fname):
    loose = node.client(validate=False)
    create(lam, fname, code("a"), Publish=True)
    with pytest.raises(ClientError) as e:
        loose.create_alias(FunctionName=fname, Name="123", FunctionVersion="1")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_alias(FunctionName=fname, Name="x", FunctionVersion="9")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_alias(FunctionName=fname, Name="x", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"$LATEST": 0.5}})


def test_weighted_alias_splits_traffic(lam, fname):
    create(lam, fname, code("one"), Publish=True)
    lam.update_function_code(FunctionName=fname, ZipFile=code("two"), Publish=True)
    lam.create_alias(FunctionName=fname, Name="split", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    n = 200
    executed = []
    for _ in range(n):
        r, body = run(lam, fname, Qualifier="split")
        assert r["ExecutedVersion"] == body["version"]
        executed.append(r["ExecutedVersion"])
    twos = executed.count("2")
    # Binomial(200, 0.5): mean 100, sd ~7.07; a 4.5-sd band fails by chance about once in 150,000 runs.
    sd = math.sqrt(n * 0.25)
    assert abs(twos - n / 2) < 4.5 * sd, twos
    assert set(executed) == {"1", "2"}
    cfg = lam.get_alias(FunctionName=fname, Name="split")
    assert cfg["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.5}
    reset = lam.update_alias(FunctionName=fname, Name="split", FunctionVersion="2",
                             RoutingConfig={"AdditionalVersionWeights": {}})
    assert "RoutingConfig" not in reset or not reset["RoutingConfig"].get("AdditionalVersionWeights")


def test_reserved_concurrency_throttles_exactly(lam, fname):
    create(lam, fname, code("a"), Timeout=10)
    assert lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=2)["ReservedConcurrentExecutions"] == 2
    assert lam.get_function_concurrency(FunctionName=fname)["ReservedConcurrentExecutions"] == 2
    assert lam.get_function(FunctionName=fname)["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    outcomes = []
    barrier = threading.Barrier(5)

    def call():
        barrier.wait()
        try:
            run(lam, fname, {"sleep": 2.5})
            outcomes.append("ok")
        except ClientError as e:
            err = e.response["Error"]
            outcomes.append((err["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                             e.response.get("Reason"), e.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after")))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 2, outcomes
    throttles = [o for o in outcomes if o != "ok"]
    assert len(throttles) == 3
    for code_, status, reason, retry_after in throttles:
        assert (code_, status) == ("TooManyRequestsException", 429)
        assert reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert retry_after is not None


def test_zero_reserved_concurrency_throttles_everything_and_account_settings_follow(lam, fname):
    create(lam, fname, code("a"))
    before = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        run(lam, fname)
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=50)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before - 50
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=before)
    lam.delete_function_concurrency(FunctionName=fname)
    assert lam.get_function_concurrency(FunctionName=fname).get("ReservedConcurrentExecutions") is None
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before
    assert run(lam, fname)[1]["tag"] == "a"


def wait_status(lam, fname, qualifier, want, timeout=60):
    import time
    deadline = time.monotonic() + timeout
    while True:
        cfg = lam.get_provisioned_concurrency_config(FunctionName=fname, Qualifier=qualifier)
        if cfg["Status"] == want or time.monotonic() > deadline:
            return cfg
        time.sleep(0.3)


PROBE = """import os, time
STARTED = time.time()
def handler(event, context):
    if event.get('sleep'):
        time.sleep(event['sleep'])
    return {'init': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'], 'pid': os.getpid(), 'version': context.function_version}
"""


def test_provisioned_concurrency_is_initialised_ahead_and_serves_first(lam, fname):
    import base64
    import re
    create(lam, fname, make_zip({"app.py": PROBE}), Timeout=10, Publish=True)
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion="1")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.put_provisioned_concurrency_config(FunctionName=fname, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=fname, Qualifier="live")
    put = lam.put_provisioned_concurrency_config(FunctionName=fname, Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    ready = wait_status(lam, fname, "live", "READY")
    assert ready["Status"] == "READY", ready
    assert ready["AvailableProvisionedConcurrentExecutions"] == 2
    # Served warm by a provisioned environment: no Init Duration, provisioned init type.
    r = lam.invoke(FunctionName=fname, Qualifier="live", Payload="{}", LogType="Tail")
    body = json.loads(r["Payload"].read())
    assert body["init"] == "provisioned-concurrency" and body["version"] == "1"
    log = base64.b64decode(r["LogResult"]).decode()
    assert re.search(r"REPORT RequestId: \S+\tDuration", log) and "Init Duration" not in log
    # Three at once: two provisioned, one spills over to on-demand.
    results = []

    def call():
        rr = lam.invoke(FunctionName=fname, Qualifier="live", Payload=json.dumps({"sleep": 1.5}))
        results.append(json.loads(rr["Payload"].read()))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(x["init"] for x in results) == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]
    listed = lam.list_provisioned_concurrency_configs(FunctionName=fname)["ProvisionedConcurrencyConfigs"]
    assert [c["FunctionArn"] for c in listed] == [f"arn:aws:lambda:us-east-1:000000000000:function:{fname}:live"]
    lam.delete_provisioned_concurrency_config(FunctionName=fname, Qualifier="live")
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=fname, Qualifier="live")
