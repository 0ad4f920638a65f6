"""Lambda's advanced logging controls (LoggingConfig) against the real binary: JSON platform
records field for field, the runtimes' JSON application records, ApplicationLogLevel and
SystemLogLevel filtering, AWS_LAMBDA_LOG_FORMAT/AWS_LAMBDA_LOG_LEVEL, Lambda Powertools for Python,
and a custom LogGroup that `ignis logs` still finds."""

import base64
import json
import math
import re
import subprocess
import time

import pytest

from conftest import create, ignis_binary, make_zip, settled
from s3util import pip_target, zip_dir

TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

PY_LOGS = r'''
import json, logging, os

log = logging.getLogger("orders")

def handler(event, context):
    log.debug("debug %s", 1)
    log.info("info %s", 2)
    log.warning("warning")
    log.error("error")
    log.critical("critical")
    print("a print")
    try:
        raise ValueError("bad value")
    except ValueError:
        log.exception("caught")
    if event.get("fail"):
        raise RuntimeError("boom")
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL",
                                           "AWS_LAMBDA_LOG_GROUP_NAME")}
'''

NODE_LOGS = r'''
exports.handler = async (event) => {
  console.trace('trace');
  console.debug('debug');
  console.info('info %d', 2);
  console.log('log');
  console.warn('warn');
  console.error('error', new TypeError('typed'));
  if (event.fail) throw new RangeError('out of range');
  return { format: process.env.AWS_LAMBDA_LOG_FORMAT, level: process.env.AWS_LAMBDA_LOG_LEVEL };
};
'''

POWERTOOLS = r'''
from aws_lambda_powertools import Logger

logger = Logger(service="payment")

@logger.inject_lambda_context
def handler(event, context):
    logger.debug("checking card")
    logger.info("charged", extra={"amount": 5})
    logger.warning("slow bank")
    return "ok"
'''


def json_function(lam, name, zip_bytes, **logging):
    create(lam, name, zip_bytes, LoggingConfig={"LogFormat": "JSON", **logging})
    return settled(lam, name)


def invoke_tail(lam, name, payload=None):
    r = lam.invoke(FunctionName=name, LogType="Tail", Payload=json.dumps(payload or {}))
    lines = base64.b64decode(r["LogResult"]).decode().splitlines()
    return r, json.loads(r["Payload"].read()), lines


def records(lines):
    """The JSON records among `lines` (plain lines are left out)."""
    out = []
    for line in lines:
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def platform(lines):
    return [r for r in records(lines) if "type" in r]


def application(lines):
    return [r for r in records(lines) if "type" not in r]


def logged_lines(node, name, until, timeout=15.0):
    """The messages `ignis logs` prints for `name`, once one of them contains `until`."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run([ignis_binary(), "logs", name, "--data-dir", str(node.data_dir)],
                             capture_output=True, text=True, timeout=30).stdout
        messages = [line.split(" ", 2)[2] for line in out.splitlines() if line.count(" ") >= 2]
        if any(until in m for m in messages):
            return messages
        assert time.monotonic() < deadline, f"no {until!r} in the logs of {name}: {out[-2000:]}"
        time.sleep(0.2)


def test_python_json_platform_and_application_records(node, lam, fname):
    c = json_function(lam, fname, make_zip({"app.py": PY_LOGS}))
    assert c["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                  "SystemLogLevel": "INFO", "LogGroup": f"/aws/lambda/{fname}"}
    r, env, tail = invoke_tail(lam, fname)
    rid = r["ResponseMetadata"]["RequestId"]
    assert env == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO",
                   "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fname}"}

    # No text platform line is left; END has no JSON record, runtimeDone is DEBUG.
    assert not [line for line in tail if re.match(r"^(START|END|REPORT|INIT_START) ", line)], tail
    events = platform(tail)
    assert [e["type"] for e in events] == ["platform.start", "platform.report"], tail
    for e in events:
        assert list(e) == ["time", "type", "record"] and TIME.match(e["time"]), e
    assert events[0]["record"] == {"requestId": rid, "version": "$LATEST"}
    report = events[1]["record"]
    assert list(report) == ["requestId", "metrics", "status"] and report["status"] == "success"
    assert report["requestId"] == rid
    m = report["metrics"]
    assert list(m) == ["durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                       "initDurationMs"], m
    assert m["memorySizeMB"] == 128 and m["maxMemoryUsedMB"] > 0
    assert m["billedDurationMs"] == math.ceil(round(m["durationMs"] + m["initDurationMs"], 2))

    # The application's records, as awslambdaric writes them; DEBUG is below INFO.
    app = application(tail)
    assert [a["level"] for a in app] == ["INFO", "WARNING", "ERROR", "CRITICAL", "ERROR"], app
    info = app[0]
    assert list(info) == ["timestamp", "level", "message", "logger", "requestId"], info
    assert (info["message"], info["logger"], info["requestId"]) == ("info 2", "orders", rid)
    assert TIME.match(info["timestamp"])
    caught = app[-1]
    assert (caught["message"], caught["errorType"], caught["errorMessage"]) == \
        ("caught", "ValueError", "bad value")
    assert any("raise ValueError" in frame for frame in caught["stackTrace"])
    assert re.match(r"^/.*/app\.py:handler:\d+$", caught["location"]), caught
    # print writes plain text, which Lambda takes as INFO.
    assert "a print" in tail

    # The whole stream: the init record starts it, field for field.
    messages = logged_lines(node, fname, '"type":"platform.report"')
    init = platform(messages)[0]
    assert init["type"] == "platform.initStart"
    assert init["record"].pop("runtimeVersionArn").startswith("arn:aws:lambda:us-east-1::runtime:")
    assert init["record"] == {"initializationType": "on-demand", "phase": "init",
                              "runtimeVersion": init["record"]["runtimeVersion"],
                              "functionName": fname, "functionVersion": "$LATEST"}
    assert init["record"]["runtimeVersion"].startswith("python:3.")

    # A warm invocation: no initDurationMs.
    _, _, warm = invoke_tail(lam, fname)
    assert "initDurationMs" not in platform(warm)[-1]["record"]["metrics"]


def test_python_unhandled_error_in_json(lam, fname):
    json_function(lam, fname, make_zip({"app.py": PY_LOGS}))
    r, body, tail = invoke_tail(lam, fname, {"fail": True})
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled" and body["errorType"] == "RuntimeError"
    error = application(tail)[-1]
    assert list(error)[:2] == ["timestamp", "level"], error
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", error["timestamp"]), error
    assert (error["level"], error["errorType"], error["errorMessage"], error["requestId"]) == \
        ("ERROR", "RuntimeError", "boom", rid)
    assert any("raise RuntimeError" in frame for frame in error["stackTrace"])
    report = platform(tail)[-1]["record"]
    assert report["status"] == "error" and "errorType" not in report


@pytest.mark.parametrize("app_level,system_level,levels,events", [
    ("DEBUG", "DEBUG", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", "ERROR"],
     ["platform.start", "platform.runtimeDone", "platform.report"]),
    ("WARN", "INFO", ["WARNING", "ERROR", "CRITICAL", "ERROR"],
     ["platform.start", "platform.report"]),
    ("ERROR", "WARN", ["ERROR", "CRITICAL", "ERROR"], []),
    ("FATAL", "WARN", ["CRITICAL"], []),
])
def test_levels_filter_python(node, lam, fname, app_level, system_level, levels, events):
    json_function(lam, fname, make_zip({"app.py": PY_LOGS}),
                  ApplicationLogLevel=app_level, SystemLogLevel=system_level)
    _, env, tail = invoke_tail(lam, fname)
    assert env["AWS_LAMBDA_LOG_LEVEL"] == app_level
    assert [a["level"] for a in application(tail)] == levels, tail
    assert [e["type"] for e in platform(tail)] == events, tail
    # A print is INFO: it passes INFO and DEBUG only.
    assert ("a print" in tail) == (app_level == "DEBUG"), tail
    if system_level == "DEBUG":
        messages = logged_lines(node, fname, '"type":"platform.report"')
        kinds = [e["type"] for e in platform(messages)]
        assert kinds[:2] == ["platform.initStart", "platform.initRuntimeDone"], kinds
        done = platform(tail)[1]["record"]
        assert list(done) == ["requestId", "status", "metrics"] and done["status"] == "success"


def test_a_timeout_is_reported_at_warn(lam, fname):
    code = "import time\ndef handler(e, c):\n    time.sleep(5)\n"
    create(lam, fname, make_zip({"app.py": code}), Timeout=1,
           LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    settled(lam, fname)
    _, _, tail = invoke_tail(lam, fname)
    events = platform(tail)
    assert [e["type"] for e in events] == ["platform.report"], tail
    assert (events[0]["record"]["status"], events[0]["record"]["errorType"]) == \
        ("timeout", "Sandbox.Timedout")


def node_function(lam, name, **logging):
    create(lam, name, make_zip({"index.js": NODE_LOGS}), Runtime="nodejs20.x",
           Handler="index.handler", LoggingConfig={"LogFormat": "JSON", **logging})
    settled(lam, name)


@pytest.mark.parametrize("level,expected", [
    ("TRACE", ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR"]),
    ("INFO", ["INFO", "INFO", "WARN", "ERROR"]),
    ("ERROR", ["ERROR"]),
])
def test_node_json_records_and_levels(lam, fname, level, expected):
    node_function(lam, fname, ApplicationLogLevel=level)
    r, body, tail = invoke_tail(lam, fname)
    rid = r["ResponseMetadata"]["RequestId"]
    assert body == {"format": "JSON", "level": level}
    app = application(tail)
    assert [a["level"] for a in app] == expected, tail
    for a in app:
        assert list(a)[:3] == ["timestamp", "level", "requestId"] and a["requestId"] == rid, a
        assert TIME.match(a["timestamp"])
    error = app[-1]
    assert error["message"].startswith("error TypeError: typed")
    assert (error["errorType"], error["errorMessage"]) == ("TypeError", "typed")
    assert error["stackTrace"][0] == "TypeError: typed"
    if level == "INFO":
        assert [a["message"] for a in app[:2]] == ["info 2", "log"]
    assert [e["type"] for e in platform(tail)] == ["platform.start", "platform.report"]


def test_node_unhandled_error_in_json(lam, fname):
    node_function(lam, fname, ApplicationLogLevel="ERROR")
    r, body, tail = invoke_tail(lam, fname, {"fail": True})
    assert r["FunctionError"] == "Unhandled" and body["errorType"] == "RangeError"
    error = application(tail)[-1]
    assert error["level"] == "ERROR" and error["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert (error["message"]["errorType"], error["message"]["errorMessage"]) == \
        ("RangeError", "out of range")
    assert error["message"]["stackTrace"][0] == "RangeError: out of range"


@pytest.fixture(scope="module")
def powertools_zip(tmp_path_factory):
    deps = pip_target(["aws-lambda-powertools==3.37.0"], "powertools")
    path = zip_dir(tmp_path_factory.mktemp("powertools") / "fn.zip", {"app.py": POWERTOOLS}, deps)
    return path.read_bytes()


def test_powertools_logger_follows_the_log_level(lam, fname, powertools_zip):
    json_function(lam, fname, powertools_zip)
    r, body, tail = invoke_tail(lam, fname)
    rid = r["ResponseMetadata"]["RequestId"]
    assert body == "ok"
    app = application(tail)
    # Powertools takes AWS_LAMBDA_LOG_LEVEL (INFO): no debug record.
    assert [(a["level"], a["message"]) for a in app] == [("INFO", "charged"),
                                                         ("WARNING", "slow bank")], tail
    charged = app[0]
    assert (charged["service"], charged["amount"], charged["function_request_id"]) == \
        ("payment", 5, rid)
    assert charged["cold_start"] is True and charged["function_name"] == fname
    assert charged["function_memory_size"] in ("128", 128)
    assert charged["function_arn"].endswith(f":function:{fname}")
    assert "location" in charged and "timestamp" in charged

    lam.update_function_configuration(FunctionName=fname, LoggingConfig={"ApplicationLogLevel": "WARN"})
    settled(lam, fname)
    _, _, tail = invoke_tail(lam, fname)
    assert [a["message"] for a in application(tail)] == ["slow bank"], tail

    lam.update_function_configuration(FunctionName=fname, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    settled(lam, fname)
    _, _, tail = invoke_tail(lam, fname)
    assert [a["message"] for a in application(tail)] == ["checking card", "charged", "slow bank"]


def test_text_format_is_unchanged(lam, fname):
    create(lam, fname, make_zip({"app.py": PY_LOGS}))
    r, env, tail = invoke_tail(lam, fname)
    rid = r["ResponseMetadata"]["RequestId"]
    assert env["AWS_LAMBDA_LOG_FORMAT"] == "Text" and env["AWS_LAMBDA_LOG_LEVEL"] is None
    assert tail[0] == f"START RequestId: {rid} Version: $LATEST"
    assert tail[-2] == f"END RequestId: {rid}" and tail[-1].startswith(f"REPORT RequestId: {rid}\t")
    # Python's root logger stays at WARNING without AWS_LAMBDA_LOG_LEVEL, as on Lambda.
    assert any(line.startswith("[WARNING]\t") and line.endswith(f"\t{rid}\twarning") for line in tail)
    assert not any("info 2" in line for line in tail)
    assert not records(tail)
    # Switching back to Text drops the levels, as Lambda does.
    lam.update_function_configuration(FunctionName=fname, LoggingConfig={"LogFormat": "JSON"})
    settled(lam, fname)
    lam.update_function_configuration(FunctionName=fname, LoggingConfig={"LogFormat": "Text"})
    c = settled(lam, fname)
    assert c["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fname}"}


def test_a_custom_log_group(node, lam, fname):
    group = f"/shared/{fname}"
    create(lam, fname, make_zip({"app.py": PY_LOGS}), LoggingConfig={"LogGroup": group})
    c = settled(lam, fname)
    assert c["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": group}
    r, env, _ = invoke_tail(lam, fname)
    rid = r["ResponseMetadata"]["RequestId"]
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == group
    logged_lines(node, fname, f"REPORT RequestId: {rid}")
    assert (node.data_dir / "logs" / f"%2Fshared%2F{fname}").is_dir()
    assert not (node.data_dir / "logs" / f"%2Faws%2Flambda%2F{fname}").exists()

    # Version 1 keeps the group; $LATEST goes back to the default one: `ignis logs` shows both.
    lam.publish_version(FunctionName=fname)
    lam.update_function_configuration(FunctionName=fname, LoggingConfig={"LogGroup": f"/aws/lambda/{fname}"})
    settled(lam, fname)
    r2, _, _ = invoke_tail(lam, fname)
    messages = logged_lines(node, fname, f"REPORT RequestId: {r2['ResponseMetadata']['RequestId']}")
    assert any(m.startswith(f"START RequestId: {rid}") for m in messages)
