"""Response streaming: the Runtime API's streamed responses (chunks, errors in the trailers), and
InvokeWithResponseStream's event stream read by boto3, the AWS SDK for JavaScript v3 and by hand,
from a Node.js `awslambda.streamifyResponse` function and a Rust `lambda_http` one
(tests/fixtures/rust-streaming).

The AWS CLI from PyPI (v1) cannot be tried: it removes `invoke-with-response-stream`
(awscli/customizations/removals.py), as it does every event-stream operation."""

import base64
import hashlib
import http.client
import json
import subprocess
import time
import urllib.parse
import zlib

import pytest
from botocore.exceptions import ClientError

import raw
from conftest import JS, PY_HANDLER, create, ignis_binary, make_zip, require_js, settled

# `sleep` pauses (ms) between the two writes; `big` writes that many 64 KiB chunks instead,
# chunk k all `a` + k % 26.
STREAMING = """
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  console.log("ATTEMPT " + JSON.stringify(event));
  if (event.big) {
    for (let k = 0; k < event.big; k++) {
      if (!stream.write(Buffer.alloc(65536, 97 + (k % 26)))) {
        await new Promise((r) => stream.once("drain", r));
      }
    }
    stream.end();
    return;
  }
  stream.write("partial-");
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
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


# ---------------------------------------------------------------------------
# InvokeWithResponseStream

BIG_CHUNKS = 320  # of 64 KiB: 20 MiB
BIG = b"".join(bytes([97 + k % 26]) * 65536 for k in range(BIG_CHUNKS))
PRELUDE_END = b"\0" * 8


def url_event(path):
    """A function URL's event (payload format 2.0), which lambda_http takes."""
    host = "fixture.lambda-url.us-east-1.on.aws"
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": host, "user-agent": "ignis-e2e"}, "isBase64Encoded": False,
        "requestContext": {
            "accountId": "anonymous", "apiId": "fixture", "domainName": host, "domainPrefix": "fixture",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "ignis-e2e"},
            "requestId": "fixture", "routeKey": "$default", "stage": "$default",
            "time": "07/Dec/2026:12:00:00 +0000", "timeEpoch": 1796644800000,
        },
    }


def body_of(payload):
    """What lambda_http streamed, without its metadata prelude (status and headers as JSON, then
    eight NULs)."""
    prelude, sep, body = payload.partition(PRELUDE_END)
    assert sep, payload[:200]
    assert json.loads(prelude)["statusCode"] == 200
    return body


def read_stream(r, started):
    """boto3's event stream read to its end: ([(seconds since `started`, chunk)], InvokeComplete)."""
    chunks, complete = [], None
    for event in r["EventStream"]:
        assert complete is None, "InvokeComplete is the last event"
        if "PayloadChunk" in event:
            chunks.append((time.monotonic() - started, event["PayloadChunk"]["Payload"]))
        else:
            complete = event["InvokeComplete"]
    assert complete is not None, "the stream ends with InvokeComplete"
    return chunks, complete


def stream(client, name, event, **kw):
    """Invokes with a streamed response: (response, chunks with their times, InvokeComplete)."""
    started = time.monotonic()
    r = client.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event), **kw)
    assert r["StatusCode"] == 200, r
    assert r["ResponseStreamContentType"] == "application/vnd.amazon.eventstream"
    chunks, complete = read_stream(r, started)
    return r, chunks, complete


def arrived(chunks, text):
    """When the body held `text` for the first time, in seconds since the request."""
    seen = b""
    for at, chunk in chunks:
        seen += chunk
        if text in seen:
            return at
    raise AssertionError(f"{text!r} never arrived in {seen[:300]!r}")


@pytest.fixture(scope="module")
def node_streamer(node, lam):
    assert "nodejs20.x" in node.runtimes, "response streaming needs nodejs20.x on this host"
    name = "stream-node"
    create(lam, name, make_zip({"index.js": STREAMING}), Runtime="nodejs20.x", Handler="index.handler",
           Timeout=30, MemorySize=512)
    settled(lam, name)
    return name


@pytest.fixture(scope="module")
def rust_streamer(lam, rust_streaming_zip):
    name = "stream-rust"
    create(lam, name, rust_streaming_zip, Runtime="provided.al2023", Handler="bootstrap", Timeout=30)
    settled(lam, name)
    return name


def test_the_first_node_chunk_arrives_before_the_function_ends(lam, node_streamer):
    stream(lam, node_streamer, {})  # warm
    r, chunks, complete = stream(lam, node_streamer, {"sleep": 1000})
    assert r["ExecutedVersion"] == "$LATEST"
    assert b"".join(c for _, c in chunks) == b"partial-rest"
    assert [c for _, c in chunks] == [b"partial-", b"rest"], "each write is its own PayloadChunk"
    first, total = chunks[0][0], chunks[-1][0]
    assert first < 0.8 and total >= 1.0, (first, total)
    assert complete == {}


def test_the_first_rust_chunk_arrives_before_the_function_ends(lam, rust_streamer):
    stream(lam, rust_streamer, url_event("/warm"))
    r, chunks, complete = stream(lam, rust_streamer, url_event("/slow"))
    assert body_of(b"".join(c for _, c in chunks)) == b"first-second"
    first, total = arrived(chunks, b"first-"), arrived(chunks, b"second")
    assert first < 0.8 and total >= 1.0, (first, total)
    assert complete == {}


@pytest.mark.parametrize("which", ["node", "rust"])
def test_a_20_mib_stream_arrives_whole(lam, node_streamer, rust_streamer, which):
    if which == "node":
        _, chunks, complete = stream(lam, node_streamer, {"big": BIG_CHUNKS})
        body = b"".join(c for _, c in chunks)
    else:
        _, chunks, complete = stream(lam, rust_streamer, url_event("/big"))
        body = body_of(b"".join(c for _, c in chunks))
    assert len(body) == len(BIG) and hashlib.sha256(body).digest() == hashlib.sha256(BIG).digest()
    assert len(chunks) > 20, "streamed in many events, not one"
    assert complete == {}


def test_a_function_that_does_not_stream_arrives_whole(lam, fname):
    create(lam, fname, make_zip({"app.py": PY_HANDLER + "\ndef fails(event, context):\n    raise ValueError('no')\n"}))
    _, chunks, complete = stream(lam, fname, {"plain": [1, 2]})
    assert [json.loads(c) for _, c in chunks] == [{"plain": [1, 2]}]
    assert complete == {}
    lam.update_function_configuration(FunctionName=fname, Handler="app.fails")
    settled(lam, fname)
    _, chunks, complete = stream(lam, fname, {})
    assert chunks == [], "an error is the InvokeComplete's, not a chunk"
    assert complete == {"ErrorCode": "ValueError", "ErrorDetails": "no"}, complete


def test_an_error_after_partial_output_ends_the_stream_with_its_code(lam, node_streamer):
    _, chunks, complete = stream(lam, node_streamer, {"fail": True})
    assert b"".join(c for _, c in chunks) == b"partial-"
    assert complete == {"ErrorCode": "Error", "ErrorDetails": "broke after partial"}, complete


def test_a_timeout_after_partial_output_ends_the_stream_with_its_code(lam, fname):
    create(lam, fname, make_zip({"index.js": STREAMING}), Runtime="nodejs20.x", Handler="index.handler",
           Timeout=1)
    _, chunks, complete = stream(lam, fname, {"sleep": 5000})
    assert b"".join(c for _, c in chunks) == b"partial-"
    assert complete["ErrorCode"] == "Sandbox.Timedout", complete
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"], complete


def test_tail_puts_the_log_in_the_completion(lam, node_streamer):
    r, _, complete = stream(lam, node_streamer, {"tail": "me"}, LogType="Tail")
    log = base64.b64decode(complete["LogResult"]).decode()
    rid = r["ResponseMetadata"]["RequestId"]
    assert 'ATTEMPT {"tail":"me"}' in log and f"REPORT RequestId: {rid}" in log, log
    _, _, complete = stream(lam, node_streamer, {})
    assert "LogResult" not in complete


def test_a_dry_run_answers_204_and_runs_nothing(lam, node_streamer):
    r = lam.invoke_with_response_stream(FunctionName=node_streamer, InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204 and r["ExecutedVersion"] == "$LATEST", r
    assert list(r["EventStream"]) == []


def test_a_qualifier_or_alias_picks_the_version(lam, fname):
    create(lam, fname, make_zip({"index.js": STREAMING}), Runtime="nodejs20.x", Handler="index.handler")
    settled(lam, fname)
    v = lam.publish_version(FunctionName=fname)["Version"]
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion=v)
    for qualifier in (v, "live"):
        r, chunks, _ = stream(lam, fname, {}, Qualifier=qualifier)
        assert r["ExecutedVersion"] == v and b"".join(c for _, c in chunks) == b"partial-rest"
    with pytest.raises(ClientError) as e:
        stream(lam, fname, {}, Qualifier="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_missing_function_is_a_json_error(lam):
    with pytest.raises(ClientError) as e:
        lam.invoke_with_response_stream(FunctionName="no-such-function", Payload=b"{}")
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function" in err["Error"]["Message"]


def frames(body):
    """An event stream's messages, CRCs checked: [(headers, payload)]."""
    out = []
    while body:
        total, headers_len = int.from_bytes(body[0:4], "big"), int.from_bytes(body[4:8], "big")
        assert int.from_bytes(body[8:12], "big") == zlib.crc32(body[0:8]), "prelude CRC"
        assert int.from_bytes(body[total - 4:total], "big") == zlib.crc32(body[0:total - 4]), "message CRC"
        raw_headers, headers = body[12:12 + headers_len], {}
        while raw_headers:
            n = raw_headers[0]
            name, kind = raw_headers[1:1 + n].decode(), raw_headers[1 + n]
            assert kind == 7, f"{name} is a string header"
            size = int.from_bytes(raw_headers[2 + n:4 + n], "big")
            headers[name] = raw_headers[4 + n:4 + n + size].decode()
            raw_headers = raw_headers[4 + n + size:]
        out.append((headers, body[12 + headers_len:total - 4]))
        body = body[total:]
    return out


def stream_path(name):
    return f"/2021-11-15/functions/{urllib.parse.quote(name)}/response-streaming-invocations"


def test_the_frames_on_the_wire(node, node_streamer):
    r = raw.request(node.endpoint, "POST", stream_path(node_streamer), json.dumps({"sleep": 200}).encode())
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "application/vnd.amazon.eventstream"
    assert r.headers["X-Amz-Executed-Version"] == "$LATEST"
    assert r.headers.get("x-amzn-RequestId")
    assert r.headers.get("Transfer-Encoding") == "chunked"

    def event(kind, content_type):
        return {":event-type": kind, ":content-type": content_type, ":message-type": "event"}

    chunk = event("PayloadChunk", "application/octet-stream")
    assert frames(r.body) == [
        (chunk, b"partial-"),
        (chunk, b"rest"),
        (event("InvokeComplete", "application/json"), b"{}"),
    ]


def test_a_client_that_goes_away_stops_nothing_else(node, lam, node_streamer, fname):
    create(lam, fname, make_zip({"app.py": PY_HANDLER}))
    prepared = raw.prepare(node.endpoint, "POST", stream_path(node_streamer), json.dumps({"big": BIG_CHUNKS}).encode())
    url = urllib.parse.urlsplit(prepared.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("POST", url.path, body=prepared.body, headers=dict(prepared.headers))
    r = conn.getresponse()
    assert r.status == 200
    abandoned = r.headers["x-amzn-RequestId"]
    assert len(r.read(100_000)) == 100_000
    conn.sock.close()  # mid-stream, without reading the rest
    conn.close()

    # The node serves others, and the streamer again, while or after the abandoned one finishes.
    assert json.loads(lam.invoke(FunctionName=fname, Payload=b'{"still": "here"}')["Payload"].read()) == {"still": "here"}
    _, chunks, complete = stream(lam, node_streamer, {})
    assert b"".join(c for _, c in chunks) == b"partial-rest" and complete == {}
    # The abandoned invocation ran to its end.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = subprocess.run([ignis_binary(), "logs", node_streamer, "--data-dir", str(node.data_dir)],
                             capture_output=True, text=True, timeout=30).stdout
        if f"REPORT RequestId: {abandoned}" in out:
            break
        time.sleep(0.3)
    else:
        raise AssertionError(f"no REPORT line for the abandoned invocation {abandoned}")


# ---------------------------------------------------------------------------
# The AWS SDK for JavaScript v3


@pytest.fixture(scope="module")
def js_stream(node):
    require_js("@aws-sdk/client-lambda")

    def run(name, event, qualifier=None):
        args = ["node", str(JS / "lambda-stream.mjs"), node.endpoint, name, json.dumps(event)]
        r = subprocess.run(args + ([qualifier] if qualifier else []), env=node.aws_env(), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, f"lambda-stream.mjs failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
        return json.loads(r.stdout)

    return run


def test_the_js_sdk_reads_the_stream_as_it_arrives(js_stream, lam, node_streamer, rust_streamer):
    stream(lam, node_streamer, {})  # warm
    out = js_stream(node_streamer, {"sleep": 1000})
    assert (out["status"], out["executedVersion"], out["contentType"]) == (
        200, "$LATEST", "application/vnd.amazon.eventstream"), out
    assert out["text"] == "partial-rest"
    events = out["events"]
    assert [e["type"] for e in events] == ["PayloadChunk", "PayloadChunk", "InvokeComplete"], events
    assert events[0]["at"] < 800 and events[1]["at"] >= 1000, events
    assert events[2]["LogResult"], "LogType Tail was asked for"

    stream(lam, rust_streamer, url_event("/warm"))
    out = js_stream(rust_streamer, url_event("/slow"))
    assert body_of(out["text"].encode("latin1")) == b"first-second"
    chunks = [e for e in out["events"] if e["type"] == "PayloadChunk"]
    assert chunks[0]["at"] < 800 and chunks[-1]["at"] >= 1000, out["events"]

    out = js_stream(node_streamer, {"big": BIG_CHUNKS})
    assert (out["size"], out["sha256"]) == (len(BIG), hashlib.sha256(BIG).hexdigest())
    assert out["events"][-1]["type"] == "InvokeComplete" and "ErrorCode" not in out["events"][-1], out["events"][-3:]


def test_the_js_sdk_sees_errors_in_the_completion_and_before_it(js_stream, node_streamer):
    out = js_stream(node_streamer, {"fail": True})
    assert out["text"] == "partial-"
    complete = out["events"][-1]
    assert (complete["type"], complete["ErrorCode"], complete["ErrorDetails"]) == (
        "InvokeComplete", "Error", "broke after partial"), complete
    out = js_stream("no-such-function", {})
    assert out["error"]["name"] == "ResourceNotFoundException" and out["error"]["status"] == 404, out
