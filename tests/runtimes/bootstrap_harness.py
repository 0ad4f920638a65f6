"""The harness of the tests for Ignis's Python and Node.js bootstraps (crates/runtimes/bootstrap).

Each test starts a mock Lambda Runtime API (2018-06-01) in-process, runs a
bootstrap as a subprocess against it with a temporary code directory, queues
events, and checks what the bootstrap posts back and what it logs.

Run with:  python3 -m pytest tests/runtimes -q
Only the standard library and pytest are needed; the Node.js tests are skipped
when `node` is not on PATH. IGNIS_TEST_PYTHON chooses the interpreter that runs
the Python bootstrap.
"""

import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON_BOOTSTRAP = REPO_ROOT / "crates" / "runtimes" / "bootstrap" / "python" / "bootstrap.py"
NODE_BOOTSTRAP = REPO_ROOT / "crates" / "runtimes" / "bootstrap" / "nodejs" / "bootstrap.mjs"
NODE = shutil.which("node")
# The interpreter that runs the Python bootstrap (default: the one running the
# tests), e.g. IGNIS_TEST_PYTHON=python3.9 to check an older version.
PYTHON = os.environ.get("IGNIS_TEST_PYTHON") or sys.executable

# CI (`CI=true`) has every interpreter the tests need.
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1")


def missing(reason):
    """A skip on a developer's machine, a failure in CI: no test passes vacuously there."""
    if IN_CI:
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def node_on_path():
    if NODE is None:
        missing("node is not on PATH")


requires_node = pytest.mark.usefixtures("node_on_path")

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
TRACE_ID = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
TIMEOUT = 20

ISO_MS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


# ---------------------------------------------------------------------------
# Mock Runtime API


class Post(object):
    """One POST the runtime made: kind is response, error or init_error."""

    def __init__(self, kind, request_id, headers, body, trailers):
        self.kind = kind
        self.request_id = request_id
        self.headers = headers
        self.body = body
        self.trailers = trailers

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "Post({}, {}, {}, {!r})".format(self.kind, self.request_id, self.headers, self.body)


class MockRuntimeApi(object):
    PREFIX = "/2018-06-01/runtime"

    def __init__(self):
        self.events = queue.Queue()
        self.posts = queue.Queue()
        self.next_calls = 0
        self.stopping = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != api.PREFIX + "/invocation/next":
                    self._reply(404, b'{"errorType":"NotFound"}')
                    return
                api.next_calls += 1
                while True:
                    if api.stopping.is_set():
                        # Drop the connection without an answer.
                        self.close_connection = True
                        return
                    try:
                        headers, body = api.events.get(timeout=0.05)
                        break
                    except queue.Empty:
                        continue
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body, trailers = self._read_body()
                path = self.path
                if path == api.PREFIX + "/init/error":
                    kind, request_id = "init_error", None
                else:
                    match = re.match(
                        re.escape(api.PREFIX) + r"/invocation/([^/]+)/(response|error)$", path
                    )
                    if not match:
                        self._reply(404, b'{"errorType":"NotFound"}')
                        return
                    request_id, kind = match.group(1), match.group(2)
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.posts.put(Post(kind, request_id, headers, body, trailers))
                self._reply(202, b'{"status":"OK"}')

            def _read_body(self):
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    trailers = {}
                    while True:
                        line = self.rfile.readline()
                        if line in (b"\r\n", b"\n", b""):
                            break
                        name, _, value = line.decode("latin-1").partition(":")
                        trailers[name.strip().lower()] = value.strip()
                    return b"".join(chunks), trailers
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length), {}

            def _reply(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:{}".format(self.server.server_address[1])

    def enqueue(self, event, request_id=None, deadline_ms=None, trace_id=TRACE_ID,
                client_context=None, cognito_identity=None, raw_body=None, extra_headers=None):
        request_id = request_id or str(uuid.uuid4())
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + 30000
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
        }
        if trace_id:
            headers["Lambda-Runtime-Trace-Id"] = trace_id
        if client_context is not None:
            headers["Lambda-Runtime-Client-Context"] = json.dumps(client_context)
        if cognito_identity is not None:
            headers["Lambda-Runtime-Cognito-Identity"] = json.dumps(cognito_identity)
        if extra_headers:
            headers.update(extra_headers)
        body = raw_body if raw_body is not None else json.dumps(event).encode("utf-8")
        self.events.put((headers, body))
        return request_id

    def wait_post(self, timeout=TIMEOUT):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the runtime posted nothing within {}s".format(timeout))

    def wait_polling(self, count=1, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while self.next_calls < count:
            if time.time() > deadline:
                raise AssertionError("the runtime never called /invocation/next")
            time.sleep(0.02)

    def close(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------
# Harness


class Runtime(object):
    """A bootstrap subprocess plus its mock API and code directory."""

    def __init__(self, tmp_path, language):
        self.language = language
        self.api = MockRuntimeApi()
        self.task_root = tmp_path / "task"
        self.task_root.mkdir()
        self.tmp_path = tmp_path
        self.proc = None
        self.stdout_path = tmp_path / "stdout.log"
        self.stderr_path = tmp_path / "stderr.log"

    def write(self, files):
        for name, content in files.items():
            path = self.task_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content).lstrip("\n"))

    def start(self, handler, files=None, env=None):
        self.write(files or {})
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": str(PYTHON_BOOTSTRAP.parent if self.language == "python"
                                      else NODE_BOOTSTRAP.parent),
            "AWS_LAMBDA_FUNCTION_NAME": "my-fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/my-fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
            "AWS_REGION": "us-east-1",
            "TZ": "UTC",
        }
        full_env.update(env or {})
        if self.language == "python":
            cmd = [PYTHON, "-u", str(PYTHON_BOOTSTRAP)]
        else:
            cmd = [NODE, str(NODE_BOOTSTRAP)]
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=str(self.task_root),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
        )
        return self

    def invoke(self, event=None, **kwargs):
        request_id = self.api.enqueue(event, **kwargs)
        post = self.api.wait_post()
        assert post.request_id == request_id, post
        return post

    def wait_exit(self, timeout=TIMEOUT):
        return self.proc.wait(timeout=timeout)

    @property
    def stdout(self):
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
        self.api.close()
        if self.proc is not None:
            self._stdout.close()
            self._stderr.close()


@pytest.fixture
def python_runtime(tmp_path):
    runtime = Runtime(tmp_path, "python")
    yield runtime
    runtime.stop()


@pytest.fixture
def node_runtime(tmp_path):
    if NODE is None:
        missing("node is not on PATH")
    runtime = Runtime(tmp_path, "node")
    yield runtime
    runtime.stop()


def assert_init_error(runtime, error_type):
    post = runtime.api.wait_post()
    assert post.kind == "init_error", post
    assert post.headers["lambda-runtime-function-error-type"] == error_type
    assert runtime.wait_exit() != 0
    body = post.json()
    assert body["errorType"] == error_type
    return body


# ---------------------------------------------------------------------------
# Python: handler loading
