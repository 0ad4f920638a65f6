"""The invocation engine: concurrency permits are held by the invocation, not by the caller."""

import json
import subprocess
import threading
import time

import boto3
import botocore
from botocore.config import Config

from conftest import ACCESS_KEY, REGION, SECRET_KEY, create, ignis_binary, make_zip

SLEEPER = """
import json, time

def handler(event, context):
    print("SPAN " + json.dumps({"phase": "begin", "t": time.time(), "id": context.aws_request_id}))
    time.sleep(event.get("seconds", 4))
    print("SPAN " + json.dumps({"phase": "end", "t": time.time(), "id": context.aws_request_id}))
    return "slept"
"""


def spans(node, name):
    out = subprocess.run([ignis_binary(), "logs", name, "--data-dir", str(node.data_dir)],
                         capture_output=True, text=True, timeout=30).stdout
    return [json.loads(line.split("SPAN ", 1)[1]) for line in out.splitlines() if "SPAN {" in line]


def most_at_once(events):
    """The largest number of invocations running at one moment, from their own timestamps."""
    points = sorted((e["t"], 1 if e["phase"] == "begin" else -1) for e in events)
    running = peak = 0
    for _, step in points:
        running += step
        peak = max(peak, running)
    return peak


def impatient(node):
    """A client that gives up on a response after one second and never retries."""
    return boto3.client(
        "lambda", endpoint_url=node.endpoint, region_name=REGION,
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"total_max_attempts": 1}, read_timeout=1, connect_timeout=5),
    )


def test_reserved_concurrency_holds_when_callers_disconnect(node, lam, fname):
    create(lam, fname, make_zip({"app.py": SLEEPER}), Timeout=30)
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=1)
    outcomes = []

    def call():
        try:
            impatient(node).invoke(FunctionName=fname, Payload=json.dumps({"seconds": 4}))
            outcomes.append("answered")
        except botocore.exceptions.ReadTimeoutError:
            outcomes.append("gave up")
        except lam.exceptions.TooManyRequestsException:
            outcomes.append("throttled")

    # Three callers, one after the other, each giving up after a second.
    for _ in range(3):
        t = threading.Thread(target=call)
        t.start()
        t.join()
    # The first invocation still runs, so a fourth is throttled.
    try:
        lam.invoke(FunctionName=fname, Payload=json.dumps({"seconds": 0}))
        fourth = "answered"
    except lam.exceptions.TooManyRequestsException as e:
        fourth = e.response["Reason"]
    assert fourth == "ReservedFunctionConcurrentInvocationLimitExceeded", (fourth, outcomes)
    assert outcomes[0] == "gave up" and outcomes[1:] == ["throttled", "throttled"], outcomes
    # Once it ended, the reservation is free again.
    deadline = time.monotonic() + 20
    while True:
        try:
            assert lam.invoke(FunctionName=fname, Payload=json.dumps({"seconds": 0}))["StatusCode"] == 200
            break
        except lam.exceptions.TooManyRequestsException:
            assert time.monotonic() < deadline, "the permit of the abandoned invocation was never released"
            time.sleep(0.5)
    deadline = time.monotonic() + 10
    while len(found := spans(node, fname)) < 4 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert len(found) == 4, found
    assert most_at_once(found) == 1, found


def cold(lam, name):
    """Invokes once and says whether that was a cold start (its REPORT has an Init Duration)."""
    import base64
    r = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r
    report = [line for line in base64.b64decode(r["LogResult"]).decode().splitlines() if line.startswith("REPORT")]
    assert report, r
    return "Init Duration" in report[0]


def test_changes_that_do_not_alter_execution_keep_environments_warm(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    assert cold(lam, fname)
    assert not cold(lam, fname)
    lam.add_permission(FunctionName=fname, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com")
    assert not cold(lam, fname), "AddPermission must not retire warm environments"
    lam.remove_permission(FunctionName=fname, StatementId="s3")
    assert not cold(lam, fname), "RemovePermission must not retire warm environments"
    lam.update_function_configuration(FunctionName=fname, Description="described")
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname)
    assert not cold(lam, fname), "a new description runs the same code"
    lam.tag_resource(Resource=lam.get_function(FunctionName=fname)["Configuration"]["FunctionArn"],
                     Tags={"team": "x"})
    assert not cold(lam, fname)
    lam.update_function_configuration(FunctionName=fname, Environment={"Variables": {"KEY": "v"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname)
    assert cold(lam, fname), "new variables need a fresh environment"
    assert not cold(lam, fname)
