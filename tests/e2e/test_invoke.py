"""Invoke through the real binary: sync, Event, DryRun, logs, limits, failures, environments."""

import base64
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError

import raw
from conftest import ROLE, create, ignis_binary, make_zip, missing

REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: (?P<mem>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\t"
    r"(Init Duration: \d+\.\d\d ms\t)?(Status: (timeout|error)(\tError Type: \S+)?)?"
)

PY = r'''
import json, os, sys, time
COUNT = [0]
def handler(event, context):
    COUNT[0] += 1
    action = event.get("action") if isinstance(event, dict) else None
    if action == "fail":
        raise ValueError("asked to fail")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(3)
    if action == "print":
        print(event["text"])
    if action == "big":
        return "x" * event["size"]
    if action == "mark":
        # Seen by the test in the function's log (a sandboxed function cannot write host files).
        print("MARK " + json.dumps(event), flush=True)
        if event.get("then_fail"):
            raise RuntimeError("marked and failing")
    if action == "alloc":
        global HOLD
        HOLD = bytearray(event["mb"] * 1024 * 1024)
    if action == "env":
        return {"env": dict(os.environ), "cwd": os.getcwd()}
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context": getattr(context.client_context, "custom", None) if context.client_context else None,
        # Which environment: pids repeat across sandboxes (each has its own PID namespace), log
        # streams do not.
        "pid": f"{os.getpid()}@{context.log_stream_name}",
        "count": COUNT[0],
    }
'''


@pytest.fixture(scope="session")
def py_zip():
    return make_zip({"app.py": PY})


def invoke(client, name, event=None, **kw):
    args = {"FunctionName": name, "Payload": json.dumps(event if event is not None else {})}
    args.update(kw)
    r = client.invoke(**args)
    r["Body"] = r["Payload"].read()
    return r


def result(r):
    return json.loads(r["Body"])


def test_sync_invoke_returns_the_result(lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = invoke(lam, fname, {"a": 1})
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    body = result(r)
    assert body["event"] == {"a": 1}
    assert body["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert body["arn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fname}"
    assert 0 < body["remaining"] <= 3000
    qualified = invoke(lam, fname, {}, Qualifier="$LATEST")
    assert result(qualified)["arn"].endswith(f":function:{fname}:$LATEST")


def test_function_error_is_200_with_the_error_payload(lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = invoke(lam, fname, {"action": "fail"})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    err = result(r)
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "asked to fail"
    assert err["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert any("app.py" in frame for frame in err["stackTrace"])


def test_tail_log_has_this_invocations_start_to_report(lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = invoke(lam, fname, {"action": "print", "text": "hello from the handler"}, LogType="Tail")
    log = base64.b64decode(r["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert "hello from the handler" in log
    assert f"END RequestId: {rid}" in log
    m = REPORT.search(log)
    assert m and m.group("id") == rid and m.group("mem") == "128", log
    assert "Init Duration" in log  # the first invoke is a cold start
    warm = base64.b64decode(invoke(lam, fname, {}, LogType="Tail")["LogResult"]).decode()
    assert "Init Duration" not in warm
    # Only the last 4 KB.
    noisy = invoke(lam, fname, {"action": "print", "text": "y" * 10000}, LogType="Tail")
    tail = base64.b64decode(noisy["LogResult"])
    assert len(tail) <= 4096 and b"REPORT RequestId" in tail
    assert "LogResult" not in invoke(lam, fname, {})


def test_max_memory_used_is_measured(lam, fname, py_zip):
    create(lam, fname, py_zip, MemorySize=512)
    small = invoke(lam, fname, {}, LogType="Tail")
    big = invoke(lam, fname, {"action": "alloc", "mb": 150}, LogType="Tail")
    used = [int(REPORT.search(base64.b64decode(r["LogResult"]).decode()).group("used")) for r in (small, big)]
    assert used[0] < 100, used
    assert used[1] >= used[0] + 140, used
    assert used[1] != 512


def test_client_context_reaches_the_function(lam, fname, py_zip):
    create(lam, fname, py_zip)
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}, "client": {}, "env": {}}).encode()).decode()
    assert result(invoke(lam, fname, {}, ClientContext=ctx))["client_context"] == {"k": "v"}
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        invoke(lam, fname, {}, ClientContext="not base64!")


def test_dry_run(lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = lam.invoke(FunctionName=fname, InvocationType="DryRun")
    assert r["StatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=fname + "-nope", InvocationType="DryRun")


def test_payload_limits_and_json(node, lam, fname, py_zip):
    create(lam, fname, py_zip)
    path = f"/2015-03-31/functions/{fname}/invocations"
    r = raw.request(node.endpoint, "POST", path, body=b"x" * (6 * 1024 * 1024 + 1))
    assert r.status == 413 and r.error_type == "RequestEntityTooLargeException"
    assert b"6291456" in r.body
    r = raw.request(node.endpoint, "POST", path, body=b'"' + b"x" * (1024 * 1024) + b'"',
                    headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status == 413 and r.error_type == "RequestEntityTooLargeException"
    r = raw.request(node.endpoint, "POST", path, body=b"{not json")
    assert r.status == 400 and r.error_type == "InvalidRequestContentException"
    # Exactly at the limit is accepted.
    at_limit = b'"' + b"x" * (6 * 1024 * 1024 - 2) + b'"'
    ok = raw.request(node.endpoint, "POST", path, body=at_limit)
    assert ok.status == 200, ok.body[:200]


def test_oversized_response_is_a_function_error(lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = invoke(lam, fname, {"action": "big", "size": 7 * 1024 * 1024})
    assert r["FunctionError"] == "Unhandled"
    assert result(r)["errorType"] == "Function.ResponseSizeTooLarge"
    assert result(invoke(lam, fname, {}))["event"] == {}


def test_timeout_kills_and_replaces_the_environment(lam, fname, py_zip):
    create(lam, fname, py_zip, Timeout=1)
    r = invoke(lam, fname, {"action": "sleep", "seconds": 5}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    err = result(r)
    assert err["errorType"] == "Sandbox.Timedout"
    assert re.search(r"Task timed out after 1\.\d\d seconds", err["errorMessage"]), err
    log = base64.b64decode(r["LogResult"]).decode()
    assert "Status: timeout" in log
    after = invoke(lam, fname, {})
    assert "FunctionError" not in after


def test_runtime_exit_is_exit_error_and_the_next_invoke_works(lam, fname, py_zip):
    create(lam, fname, py_zip)
    first_pid = result(invoke(lam, fname, {}))["pid"]
    r = invoke(lam, fname, {"action": "exit"})
    assert r["FunctionError"] == "Unhandled"
    err = result(r)
    assert err["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in err["errorMessage"]
    assert result(invoke(lam, fname, {}))["pid"] != first_pid


@pytest.mark.parametrize("files,handler,runtime,error_type", [
    ({"app.py": PY}, "missing.handler", "python3.11", "Runtime.ImportModuleError"),
    ({"app.py": PY}, "app.nope", "python3.11", "Runtime.HandlerNotFound"),
    ({"app.py": "def handler(:\n"}, "app.handler", "python3.11", "Runtime.UserCodeSyntaxError"),
    ({"index.js": "exports.other = async () => 1;\n"}, "index.handler", "nodejs20.x", "Runtime.HandlerNotFound"),
    ({"index.js": "exports.handler = async () => 1;\n"}, "nothere.handler", "nodejs20.x", "Runtime.ImportModuleError"),
])
def test_init_errors(node, lam, fname, files, handler, runtime, error_type):
    if runtime not in node.runtimes:
        missing(f"{runtime} is not installed on this host")
    create(lam, fname, make_zip(files), Handler=handler, Runtime=runtime)
    for _ in range(2):  # a failed init is retried with a fresh environment on the next invoke
        r = invoke(lam, fname, {})
        assert r["FunctionError"] == "Unhandled"
        assert result(r)["errorType"] == error_type, r["Body"]


def test_missing_bootstrap_is_invalid_entrypoint(lam, fname):
    create(lam, fname, make_zip({"README": "no bootstrap"}), Runtime="provided.al2023", Handler="x")
    r = invoke(lam, fname, {})
    assert r["FunctionError"] == "Unhandled"
    assert result(r)["errorType"] == "Runtime.InvalidEntrypoint"


def test_environment_variables_are_lambdas(node, lam, fname, py_zip):
    create(lam, fname, py_zip, MemorySize=256, Environment={"Variables": {"USER_VAR": "u", "LANG": "C.UTF-8"}})
    body = result(invoke(lam, fname, {"action": "env"}))
    env, cwd = body["env"], body["cwd"]
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fname
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{fname}"
    assert re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    # A sandbox's own loopback; a plain process's listener is on 127.0.0.2, where no sandbox's
    # host access leads.
    runtime_api_host = "127.0.0.1" if node.sandboxed else "127.0.0.2"
    assert re.match(rf"^{re.escape(runtime_api_host)}:\d+$", env["AWS_LAMBDA_RUNTIME_API"])
    assert env["LAMBDA_TASK_ROOT"] == cwd
    assert "LAMBDA_RUNTIME_DIR" in env and "LD_LIBRARY_PATH" in env and "PATH" in env
    assert env["TZ"] == ":UTC"
    assert env["USER_VAR"] == "u"
    assert env["LANG"] == "C.UTF-8"  # unreserved defaults can be overridden
    assert env["AWS_ENDPOINT_URL"] == node.endpoint
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert not any(k.startswith("IGNIS_") for k in env), "the server's environment leaked"


def test_warm_reuse_and_fresh_environment_after_a_change(lam, fname, py_zip):
    create(lam, fname, py_zip)
    a, b = result(invoke(lam, fname, {})), result(invoke(lam, fname, {}))
    assert a["pid"] == b["pid"] and b["count"] == a["count"] + 1
    lam.update_function_configuration(FunctionName=fname, Environment={"Variables": {"NEW": "1"}})
    c = result(invoke(lam, fname, {}))
    assert c["pid"] != a["pid"] and c["count"] == 1


def test_parallel_invokes_scale_out(lam, fname, py_zip):
    create(lam, fname, py_zip, Timeout=10)
    results = []

    def call():
        results.append(result(invoke(lam, fname, {"action": "sleep", "seconds": 1.5})))

    # Warm nothing: eight concurrent requests need eight environments.
    threads = [threading.Thread(target=call) for _ in range(8)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert len(results) == 8
    assert len({r["pid"] for r in results}) == 8
    # Sequentially this would take 12 s; a generous bound for a loaded 2-core machine.
    assert elapsed < 8, elapsed


def test_a_crashing_function_does_not_affect_another(lam, fname, py_zip):
    create(lam, fname + "-bad", py_zip)
    create(lam, fname + "-good", py_zip)
    good_pid = result(invoke(lam, fname + "-good", {}))["pid"]
    invoke(lam, fname + "-bad", {"action": "exit"})
    assert result(invoke(lam, fname + "-good", {}))["pid"] == good_pid


NODE_CJS = """
exports.handler = async (event, context) => ({ event, fn: context.functionName,
  rid: context.awsRequestId, remaining: context.getRemainingTimeInMillis() });
exports.cb = (event, context, callback) => callback(null, { cb: event });
exports.boom = async () => { throw new TypeError("bad thing"); };
"""
NODE_ESM = "const v = await Promise.resolve(41);\nexport const handler = async (event) => ({ esm: v + 1, event });\n"


def test_node_handlers(node, lam, fname):
    if "nodejs20.x" not in node.runtimes:
        missing("nodejs20.x is not installed on this host")
    z = make_zip({"index.js": NODE_CJS, "lib/mod.mjs": NODE_ESM})
    create(lam, fname, z, Runtime="nodejs20.x", Handler="index.handler")
    r = invoke(lam, fname, {"x": 1})
    body = result(r)
    assert body["event"] == {"x": 1} and body["fn"] == fname
    assert body["rid"] == r["ResponseMetadata"]["RequestId"] and body["remaining"] > 0
    lam.update_function_configuration(FunctionName=fname, Handler="index.cb")
    assert result(invoke(lam, fname, {"y": 2})) == {"cb": {"y": 2}}
    lam.update_function_configuration(FunctionName=fname, Handler="lib/mod.handler")
    assert result(invoke(lam, fname, {"z": 3})) == {"esm": 42, "event": {"z": 3}}
    lam.update_function_configuration(FunctionName=fname, Handler="index.boom")
    err = invoke(lam, fname, {})
    assert err["FunctionError"] == "Unhandled"
    e = result(err)
    assert (e["errorType"], e["errorMessage"]) == ("TypeError", "bad thing")
    assert isinstance(e["trace"], list)


def test_provided_runtime_runs_the_packages_bootstrap(lam, fname):
    bootstrap = """#!/usr/bin/env python3
import json, os, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({"echo": event, "handler": os.environ["_HANDLER"]}).encode()
    urllib.request.urlopen(urllib.request.Request(api + rid + "/response", data=body, method="POST")).read()
"""
    z = make_zip({"bootstrap": bootstrap}, modes={"bootstrap": 0o755})
    create(lam, fname, z, Runtime="provided.al2023", Handler="my.handler")
    assert result(invoke(lam, fname, {"k": "v"})) == {"echo": {"k": "v"}, "handler": "my.handler"}


def test_unavailable_runtime_is_refused_naming_the_available_ones(node, lam, fname, py_zip):
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, fname, py_zip, Runtime="java21")
    assert "Available runtimes:" in str(e.value) and "python3.11" in str(e.value)


def test_invoke_by_arn_and_aws_cli(node, lam, fname, py_zip, tmp_path):
    create(lam, fname, py_zip)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{fname}"
    assert result(invoke(lam, arn, {"b": 2}))["event"] == {"b": 2}
    out = tmp_path / "out.json"
    p = subprocess.run(["aws", "lambda", "invoke", "--function-name", fname, "--payload", '{"c": 3}', str(out)],
                       env=node.aws_env(), capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["event"] == {"c": 3}


def test_logs_command_prints_the_functions_log(node, lam, fname, py_zip):
    create(lam, fname, py_zip)
    rid = invoke(lam, fname, {"action": "print", "text": "visible in ignis logs"})["ResponseMetadata"]["RequestId"]
    deadline = time.monotonic() + 10
    while True:
        out = subprocess.run([ignis_binary(), "logs", fname, "--data-dir", str(node.data_dir)],
                             capture_output=True, text=True, timeout=30).stdout
        if f"REPORT RequestId: {rid}" in out or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert "visible in ignis logs" in out
    assert f"START RequestId: {rid}" in out and f"REPORT RequestId: {rid}" in out


def marks(node, name):
    """The events a function marked (`action: mark` prints them to its log)."""
    out = subprocess.run([ignis_binary(), "logs", name, "--data-dir", str(node.data_dir)],
                         capture_output=True, text=True, timeout=30).stdout
    return [json.loads(line.split("MARK ", 1)[1]) for line in out.splitlines() if "MARK {" in line]


def wait_for_marks(node, name, n, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = marks(node, name)
        if len(found) >= n:
            return found
        time.sleep(0.2)
    return marks(node, name)


def test_event_invoke_runs_after_a_202(node, lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = lam.invoke(FunctionName=fname, InvocationType="Event", Payload=json.dumps({"action": "mark", "n": 1}))
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    assert [m["n"] for m in wait_for_marks(node, fname, 1, 20)] == [1]


def test_invoke_async_deprecated_api(node, lam, fname, py_zip):
    create(lam, fname, py_zip)
    r = lam.invoke_async(FunctionName=fname, InvokeArgs=json.dumps({"action": "mark", "n": 7}))
    assert r["Status"] == 202
    assert [m["n"] for m in wait_for_marks(node, fname, 1, 20)] == [7]
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName=fname, InvokeArgs=b"x" * (256 * 1024 + 1))
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"


def test_failed_events_are_retried_twice_then_dropped(fresh_node, py_zip):
    n = fresh_node(extra_args=("--async-retry-delay", "1"))
    c = n.client()
    create(c, "always-fails", py_zip)
    c.invoke(FunctionName="always-fails", InvocationType="Event",
             Payload=json.dumps({"action": "mark", "then_fail": True}))
    assert len(wait_for_marks(n, "always-fails", 3, 30)) == 3
    time.sleep(3)  # no fourth attempt
    assert len(marks(n, "always-fails")) == 3
    deadline = time.monotonic() + 10
    while "asynchronous invocation dropped" not in n.log_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "asynchronous invocation dropped" in n.log_path.read_text()


def test_queued_events_survive_a_crash_and_restart(fresh_node, py_zip, tmp_path):
    data = tmp_path / "durable"
    a = fresh_node(data)
    c = a.client()
    slow = make_zip({"app.py": PY.replace('if action == "mark":', 'if action == "mark":\n        time.sleep(3)')})
    create(c, "durable", slow, Timeout=10)
    for i in range(3):
        assert c.invoke(FunctionName="durable", InvocationType="Event",
                        Payload=json.dumps({"action": "mark", "n": i}))["StatusCode"] == 202
    # Crash before any of them could finish (each sleeps 3 s before marking).
    a.proc.send_signal(signal.SIGKILL)
    a.stop()
    assert not marks(a, "durable")
    b = fresh_node(data)
    assert sorted(m["n"] for m in wait_for_marks(b, "durable", 3, 40)) == [0, 1, 2]
