"""Traces end to end: the X-Ray trace id a function sees (`_X_AMZN_TRACE_ID`) continues the
caller's `X-Amzn-Trace-Id` through Invoke, a function URL and an Event invoke, sampled as
`TracingConfig` says; with an OTLP endpoint the node exports each sampled invocation's spans to a
minimal OTLP/HTTP receiver (protobuf `ExportTraceServiceRequest`), and with none it sends nothing."""

import json
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from conftest import create, ignis_binary, make_zip, settled
from urlutil import call, public_url

ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
TRACE_RE = re.compile(r"^Root=(1-[0-9a-f]{8}-[0-9a-f]{24});Parent=([0-9a-f]{16});Sampled=([01])(;Lineage=\S+)?$")

CODE = """import os
def handler(event, context):
    trace = os.environ.get("_X_AMZN_TRACE_ID")
    print("TRACE=" + str(trace))
    headers = event.get("headers") if isinstance(event, dict) else None
    return {"trace": trace, "event": (headers or {}).get("x-amzn-trace-id")}
"""


def function(client, name, mode="PassThrough"):
    create(client, name, make_zip({"app.py": CODE}), TracingConfig={"Mode": mode})
    settled(client, name)


def with_trace(client, header):
    """`client`'s requests carry `X-Amzn-Trace-Id: header` (signed, as an SDK sends it)."""
    def add(request, **_):
        request.headers["X-Amzn-Trace-Id"] = header
    client.meta.events.register("before-sign.lambda.*", add)
    return client


def invoke(client, name, **kw):
    r = client.invoke(FunctionName=name, **kw)
    return json.loads(r["Payload"].read()), r["ResponseMetadata"]["RequestId"]


def seen(node, name, header=None):
    client = node.client()
    if header is not None:
        with_trace(client, header)
    out, _ = invoke(client, name)
    m = TRACE_RE.match(out["trace"])
    assert m, out
    return m


def test_invoke_continues_the_callers_trace_as_passthrough_says(node, fname):
    function(node.client(), fname)
    full = f"Root={ROOT};Parent={PARENT};Sampled=1"
    # No span is exported by this node: the function's parent is the caller's own.
    assert seen(node, fname, full).group(0) == full
    assert seen(node, fname, f"Root={ROOT};Parent={PARENT};Sampled=0").group(0) == \
        f"Root={ROOT};Parent={PARENT};Sampled=0"
    lineage = f"Root={ROOT};Parent={PARENT};Sampled=1;Lineage=12326a9d:0"
    assert seen(node, fname, lineage).group(0) == lineage
    # PassThrough traces only what the caller sampled.
    m = seen(node, fname, f"Root={ROOT}")
    assert (m.group(1), m.group(3)) == (ROOT, "0")
    m = seen(node, fname, f"Root={ROOT};Sampled=?")
    assert (m.group(1), m.group(3)) == (ROOT, "0")
    # No header, or a malformed one: a new trace, started now.
    for header in (None, "Root=junk;Parent=xyz"):
        m = seen(node, fname, header)
        assert m.group(1) != ROOT and m.group(3) == "0"
        assert abs(int(m.group(1)[2:10], 16) - time.time()) < 60


def test_active_respects_the_callers_decision(node, fname):
    function(node.client(), fname, mode="Active")
    assert seen(node, fname, f"Root={ROOT};Parent={PARENT};Sampled=0").group(3) == "0"
    assert seen(node, fname, f"Root={ROOT};Parent={PARENT};Sampled=1").group(3) == "1"
    # Without a decision, X-Ray's default rule decides (one a second, then 5 %).
    assert seen(node, fname, f"Root={ROOT}").group(1) == ROOT


def test_a_function_url_event_and_invocation_share_the_trace(node, fname):
    client = node.client()
    url = public_url(client, fname, code=CODE)
    r = call(url, headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent={PARENT};Sampled=1"})
    assert r.status == 200, r.body
    out = r.json()
    assert out["event"] == f"Root={ROOT};Parent={PARENT};Sampled=1"
    assert out["trace"] == out["event"]
    # Without a header, the URL starts the trace, and both still agree.
    out = call(url).json()
    m = TRACE_RE.match(out["trace"])
    assert m and out["event"].startswith(f"Root={m.group(1)};") and out["event"].endswith(";Sampled=0")


def log_text(node, name):
    r = subprocess.run([ignis_binary(), "logs", name, "--data-dir", str(node.data_dir)],
                       capture_output=True, text=True, timeout=30)
    return r.stdout


def test_an_event_invoke_keeps_the_trace_with_the_queued_event(node, fname):
    function(node.client(), fname)
    client = with_trace(node.client(), f"Root={ROOT};Parent={PARENT};Sampled=1")
    assert client.invoke(FunctionName=fname, InvocationType="Event", Payload=b"{}")["StatusCode"] == 202
    deadline = time.monotonic() + 30
    while f"TRACE=Root={ROOT};Parent={PARENT};Sampled=1" not in log_text(node, fname):
        assert time.monotonic() < deadline, log_text(node, fname)
        time.sleep(0.2)


class Receiver:
    """A minimal OTLP/HTTP collector: keeps every decoded `ExportTraceServiceRequest`."""

    def __init__(self):
        self.requests = []
        self.paths = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append((self.path, self.headers["Content-Type"]))
                receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invocations(self):
        """{request id: (resource attributes, spans by name)}."""
        out = {}
        for req in self.requests:
            for rs in req.resource_spans:
                resource = attrs(rs.resource.attributes)
                spans = [s for ss in rs.scope_spans for s in ss.spans]
                top = next(s for s in spans if s.name == resource["faas.name"])
                out[attrs(top.attributes)["faas.invocation_id"]] = (resource, {s.name: s for s in spans})
        return out

    def wait_for(self, n, timeout=15):
        deadline = time.monotonic() + timeout
        while len(self.invocations()) < n:
            assert time.monotonic() < deadline, self.invocations()
            time.sleep(0.1)
        return self.invocations()


def attrs(kvs):
    return {kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in kvs}


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


def test_spans_of_a_cold_and_a_warm_invocation_reach_a_collector(fresh_node, fname, receiver):
    node = fresh_node(extra_args=("--otlp-endpoint", receiver.base))
    function(node.client(), fname, mode="Active")
    client = with_trace(node.client(), f"Root={ROOT};Parent={PARENT};Sampled=1")
    cold, cold_id = invoke(client, fname)
    warm, warm_id = invoke(client, fname)
    got = receiver.wait_for(2)
    assert {p for p in receiver.paths} == {("/v1/traces", "application/x-protobuf")}
    for out, rid, coldstart in ((cold, cold_id, True), (warm, warm_id, False)):
        resource, spans = got[rid]
        assert resource["service.name"] == resource["faas.name"] == fname
        assert resource["faas.version"] == "$LATEST"
        assert resource["cloud.provider"] == "aws" and resource["cloud.platform"] == "aws_lambda"
        assert resource["cloud.region"] == "us-east-1"
        names = {"Initialization", "Invocation", "Overhead"} if coldstart else {"Invocation", "Overhead"}
        assert set(spans) == {fname} | names
        top = spans[fname]
        a = attrs(top.attributes)
        assert a["faas.coldstart"] is coldstart and a["faas.trigger"] == "other"
        assert a["cloud.resource_id"].endswith(f":function:{fname}")
        # The X-Ray root is the W3C trace id; the caller's segment is the invocation's parent.
        assert {s.trace_id.hex() for s in spans.values()} == {ROOT[2:].replace("-", "")}
        assert top.parent_span_id.hex() == PARENT
        for name in names:
            assert spans[name].parent_span_id == top.span_id
            assert top.start_time_unix_nano <= spans[name].start_time_unix_nano
            assert spans[name].end_time_unix_nano <= top.end_time_unix_nano
        # The function's own work belongs under the invoke span.
        assert out["trace"] == f"Root={ROOT};Parent={spans['Invocation'].span_id.hex()};Sampled=1"
    # An unsampled invocation makes no span.
    with_trace(node.client(), f"Root={ROOT};Sampled=0").invoke(FunctionName=fname)
    time.sleep(2.5)
    assert len(receiver.invocations()) == 2


def test_the_standard_variable_names_the_collector_and_without_one_nothing_is_sent(fresh_node, fname, receiver):
    node = fresh_node(extra_env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base})
    function(node.client(), fname)
    _, rid = invoke(with_trace(node.client(), f"Root={ROOT};Sampled=1"), fname)
    assert rid in receiver.wait_for(1)
    node.stop()

    quiet = fresh_node(extra_env={"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ""})
    function(quiet.client(), fname)
    before = len(receiver.requests)
    invoke(with_trace(quiet.client(), f"Root={ROOT};Sampled=1"), fname)
    time.sleep(2.5)
    assert len(receiver.requests) == before
