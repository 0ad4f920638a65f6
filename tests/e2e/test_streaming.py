"""Response streaming through the Runtime API: chunks, and errors in the trailers."""

import json
import subprocess
import time

from conftest import create, ignis_binary, make_zip

STREAMING = """
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  console.log("ATTEMPT " + JSON.stringify(event));
  stream.write("partial-");
  if (event.fail) {
    throw new Error("broke after partial");
  }
  stream.write("rest");
  stream.end();
});
"""


def streaming_function(client, name):
    create(client, name, make_zip({"index.js": STREAMING}), Runtime="nodejs20.x", Handler="index.handler")


def test_a_streamed_response_is_returned_whole(node, lam, fname):
    assert "nodejs20.x" in node.runtimes, "response streaming needs nodejs20.x on this host"
    streaming_function(lam, fname)
    r = lam.invoke(FunctionName=fname, Payload=b"{}")
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r
    assert r["Payload"].read() == b"partial-rest"


def test_an_error_after_partial_output_is_a_function_error(lam, fname):
    streaming_function(lam, fname)
    r = lam.invoke(FunctionName=fname, Payload=json.dumps({"fail": True}))
    assert r["StatusCode"] == 200
    assert r.get("FunctionError") == "Unhandled", r
    error = json.loads(r["Payload"].read())
    assert error["errorType"] == "Error" and error["errorMessage"] == "broke after partial", error


def attempts(node, name):
    out = subprocess.run([ignis_binary(), "logs", name, "--data-dir", str(node.data_dir)],
                         capture_output=True, text=True, timeout=30).stdout
    return [line for line in out.splitlines() if "ATTEMPT {" in line]


def test_a_streamed_error_is_retried_when_asynchronous(fresh_node):
    n = fresh_node(extra_args=("--async-retry-delay", "1"))
    c = n.client()
    streaming_function(c, "streams-and-fails")
    c.invoke(FunctionName="streams-and-fails", InvocationType="Event", Payload=json.dumps({"fail": True}))
    deadline = time.monotonic() + 30
    while len(attempts(n, "streams-and-fails")) < 3 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert len(attempts(n, "streams-and-fails")) == 3, "a function error is tried three times in all"


BAD_MODE_BOOTSTRAP = """#!/usr/bin/env python3
import os, urllib.error, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
while True:
    with urllib.request.urlopen(api + "next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    req = urllib.request.Request(api + rid + "/response", data=b"ignored", method="POST",
                                 headers={"Lambda-Runtime-Function-Response-Mode": "chunky"})
    try:
        urllib.request.urlopen(req).read()
        print("ANSWERED accepted", flush=True)
    except urllib.error.HTTPError as e:
        print("ANSWERED", e.code, e.read().decode(), flush=True)
"""


def test_an_unknown_response_mode_fails_the_invocation(node, lam, fname):
    z = make_zip({"bootstrap": BAD_MODE_BOOTSTRAP}, modes={"bootstrap": 0o755})
    create(lam, fname, z, Runtime="provided.al2023", Handler="x")
    r = lam.invoke(FunctionName=fname, Payload=b"{}")
    assert r["StatusCode"] == 200 and r.get("FunctionError") == "Unhandled", r
    assert json.loads(r["Payload"].read()) == {
        "errorMessage": "Invalid function response mode",
        "errorType": "Runtime.InvalidResponseModeHeader",
    }
    deadline = time.monotonic() + 10
    answered = []
    while not answered and time.monotonic() < deadline:
        out = subprocess.run([ignis_binary(), "logs", fname, "--data-dir", str(node.data_dir)],
                             capture_output=True, text=True, timeout=30).stdout
        answered = [line for line in out.splitlines() if "ANSWERED" in line]
        time.sleep(0.2)
    assert answered and "ANSWERED 400" in answered[0], answered
    assert '"errorType":"InvalidFunctionResponseMode"' in answered[0], answered
