"""Tests for Ignis's Python and Node.js bootstraps (crates/runtimes/bootstrap).

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


ECHO_PY = """
def handler(event, context):
    return {"echo": event, "module": __name__}
"""


def test_python_handler_in_module(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    post = python_runtime.invoke({"a": 1})
    assert post.kind == "response"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {"echo": {"a": 1}, "module": "app"}


def test_python_handler_in_package(python_runtime):
    python_runtime.start(
        "pkg.mod.fn",
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": """
                from . import helper
                def fn(event, context):
                    return helper.VALUE
            """,
            "pkg/helper.py": "VALUE = 'from pkg'\n",
        },
    )
    assert python_runtime.invoke({}).json() == "from pkg"


def test_python_handler_with_slash_path(python_runtime):
    python_runtime.start(
        "src/handlers/mod.fn",
        {"src/handlers/mod.py": "def fn(event, context):\n    return __name__\n"},
    )
    assert python_runtime.invoke({}).json() == "src.handlers.mod"


def test_python_code_root_first_and_pythonpath(python_runtime, tmp_path):
    extra = tmp_path / "layer"
    extra.mkdir()
    (extra / "layerlib.py").write_text("NAME = 'layer'\n")
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import sys, os, layerlib
                def handler(event, context):
                    return {"first": sys.path[0], "lib": layerlib.NAME, "cwd": os.getcwd()}
            """
        },
        env={"PYTHONPATH": str(extra)},
    )
    body = python_runtime.invoke({}).json()
    assert body["first"] == str(python_runtime.task_root)
    assert body["lib"] == "layer"
    assert body["cwd"] == str(python_runtime.task_root)


# ---------------------------------------------------------------------------
# Python: context and results


CONTEXT_PY = """
import os

def handler(event, context):
    identity = context.identity
    cc = context.client_context
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "tenant_id": context.tenant_id,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": None if identity is None else [identity.cognito_identity_id,
                                                   identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "installation_id": cc.client.installation_id,
            "app_title": cc.client.app_title,
            "app_version_name": cc.client.app_version_name,
            "app_version_code": cc.client.app_version_code,
            "app_package_name": cc.client.app_package_name,
            "custom": cc.custom,
            "env": cc.env,
        },
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
"""


def test_python_context_attributes(python_runtime):
    python_runtime.start("app.handler", {"app.py": CONTEXT_PY})
    deadline = int(time.time() * 1000) + 10000
    post = python_runtime.invoke({}, deadline_ms=deadline)
    body = post.json()
    assert body["function_name"] == "my-fn"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == FUNCTION_ARN
    assert body["memory_limit_in_mb"] == "256"
    assert body["aws_request_id"] == post.request_id
    assert body["log_group_name"] == "/aws/lambda/my-fn"
    assert body["log_stream_name"].startswith("2024/01/01/[$LATEST]")
    assert body["tenant_id"] is None
    assert 5000 < body["remaining"] <= 10000
    assert body["identity"] == [None, None]
    assert body["client_context"] is None
    assert body["trace"] == TRACE_ID

    # No trace header: the variable is removed; a past deadline gives 0.
    body = python_runtime.invoke({}, trace_id=None, deadline_ms=1000).json()
    assert body["trace"] is None
    assert body["remaining"] == 0


def test_python_client_context_and_identity(python_runtime):
    python_runtime.start("app.handler", {"app.py": CONTEXT_PY})
    client_context = {
        "client": {
            "installation_id": "inst-1",
            "app_title": "My App",
            "app_version_name": "1.0",
            "app_version_code": "100",
            "app_package_name": "com.example",
        },
        "custom": {"k": "v"},
        "env": {"platform": "Android"},
    }
    identity = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
    body = python_runtime.invoke({}, client_context=client_context, cognito_identity=identity).json()
    assert body["identity"] == ["us-east-1:abc", "us-east-1:pool"]
    assert body["client_context"] == {
        "installation_id": "inst-1",
        "app_title": "My App",
        "app_version_name": "1.0",
        "app_version_code": "100",
        "app_package_name": "com.example",
        "custom": {"k": "v"},
        "env": {"platform": "Android"},
    }


def test_python_result_types_over_one_process(python_runtime):
    python_runtime.start(
        "app.handler",
        {"app.py": "def handler(event, context):\n    return event['value']\n"},
    )
    cases = [
        ({"k": [1, 2]}, b'{"k": [1, 2]}'),
        ([1, "two"], b'[1, "two"]'),
        ("text", b'"text"'),
        (None, b"null"),
        (3.5, b"3.5"),
    ]
    for value, expected in cases:
        post = python_runtime.invoke({"value": value})
        assert post.kind == "response"
        assert post.body == expected
    assert python_runtime.proc.poll() is None


def test_python_bytes_and_decimal_results(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import decimal
                def handler(event, context):
                    if event == "bytes":
                        return b"\\x00raw"
                    return {"n": decimal.Decimal("12"), "f": decimal.Decimal("1.5")}
            """
        },
    )
    post = python_runtime.invoke("bytes")
    assert post.body == b"\x00raw"
    assert post.headers["content-type"] == "application/unknown"
    assert python_runtime.invoke("dec").json() == {"n": 12, "f": 1.5}


def test_python_exception_posts_error(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                def helper():
                    raise ValueError("boom")

                def handler(event, context):
                    helper()
            """
        },
    )
    post = python_runtime.invoke({})
    assert post.kind == "error"
    assert post.headers["lambda-runtime-function-error-type"] == "Unhandled"
    body = post.json()
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorMessage"] == "boom"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == post.request_id
    app = str(python_runtime.task_root / "app.py")
    assert body["stackTrace"] == [
        '  File "{}", line 5, in handler\n    helper()\n'.format(app),
        '  File "{}", line 2, in helper\n    raise ValueError("boom")\n'.format(app),
    ]
    out = python_runtime.stdout
    assert "[ERROR] ValueError: boom\nTraceback (most recent call last):\n" in out
    # Indentation in the logged traceback uses NO-BREAK SPACE, as on Lambda.
    assert '\u00a0\u00a0File "{}", line 5, in handler\n'.format(app) in out
    # The runtime keeps serving.
    assert python_runtime.proc.poll() is None


def test_python_marshal_error(python_runtime):
    python_runtime.start(
        "app.handler",
        {"app.py": "def handler(event, context):\n    return {'x': object()}\n"},
    )
    post = python_runtime.invoke({})
    assert post.kind == "error"
    assert post.json() == {
        "errorMessage": "Unable to marshal response: Object of type object is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": post.request_id,
        "stackTrace": [],
    }


def test_python_unmarshal_error_on_empty_body(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    post = python_runtime.invoke(raw_body=b"")
    assert post.kind == "error"
    body = post.json()
    assert body["errorType"] == "Runtime.UnmarshalError"
    assert body["errorMessage"].startswith("Unable to unmarshal input: Expecting value")


# ---------------------------------------------------------------------------
# Python: init errors


def test_python_init_error_missing_module(python_runtime):
    python_runtime.start("app.handler")
    body = assert_init_error(python_runtime, "Runtime.ImportModuleError")
    assert body == {
        "errorMessage": "Unable to import module 'app': No module named 'app'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    out = python_runtime.stdout
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'\n" \
        "Traceback (most recent call last):\n" in out
    assert re.search(r"^\[WARNING\]\t" + ISO_MS + r"\t\tLAMBDA_WARNING: Unhandled exception", out, re.M)


def test_python_init_error_syntax(python_runtime):
    python_runtime.start("app.handler", {"app.py": "x = 1\n\ndef handler(:\n    pass\n"})
    body = assert_init_error(python_runtime, "Runtime.UserCodeSyntaxError")
    assert body["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "(app.py, line 3)" in body["errorMessage"]
    assert body["stackTrace"][0].startswith('  File "{}" Line 3\n'.format(python_runtime.task_root / "app.py"))


def test_python_init_error_missing_handler(python_runtime):
    python_runtime.start("app.nope", {"app.py": ECHO_PY})
    body = assert_init_error(python_runtime, "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "Handler 'nope' missing on module 'app'"


def test_python_init_error_malformed_handler(python_runtime):
    python_runtime.start("app", {"app.py": ECHO_PY})
    body = assert_init_error(python_runtime, "Runtime.MalformedHandlerName")
    assert body["errorMessage"] == "Bad handler 'app': not enough values to unpack (expected 2, got 1)"


def test_python_init_error_from_module_code(python_runtime):
    python_runtime.start("app.handler", {"app.py": "raise RuntimeError('bad config')\n"})
    body = assert_init_error(python_runtime, "RuntimeError")
    assert body["errorMessage"] == "bad config"
    assert body["stackTrace"][-1].endswith("in <module>\n    raise RuntimeError('bad config')\n")


# ---------------------------------------------------------------------------
# Python: logging and process behaviour


def test_python_logging_format(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import logging
                logger = logging.getLogger()

                def handler(event, context):
                    print("plain print")
                    logger.warning("hello %s", "world")
                    logger.info("hidden at the default level")
                    logger.error("two\\nlines")
                    context.log("via context\\n")
                    return "ok"
            """
        },
    )
    post = python_runtime.invoke({})
    out = python_runtime.stdout
    rid = re.escape(post.request_id)
    assert "plain print\n" in out
    assert re.search(r"^\[WARNING\]\t" + ISO_MS + r"\t" + rid + r"\thello world$", out, re.M)
    assert re.search(r"^\[ERROR\]\t" + ISO_MS + r"\t" + rid + r"\ttwo\nlines$", out, re.M)
    assert "hidden" not in out
    assert "via context\n" in out


def test_python_log_level_and_json_format(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import logging
                def handler(event, context):
                    logging.getLogger("mine").debug("debug %d", 1)
                    return "ok"
            """
        },
        env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    post = python_runtime.invoke({})
    records = [json.loads(line) for line in python_runtime.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "DEBUG"
    assert record["message"] == "debug 1"
    assert record["logger"] == "mine"
    assert record["requestId"] == post.request_id
    assert re.match(ISO_MS + "$", record["timestamp"])


def test_python_exits_when_runtime_api_goes_away(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    python_runtime.invoke({})
    python_runtime.api.wait_polling(2)
    python_runtime.api.close()
    assert python_runtime.wait_exit() != 0


def test_python_exits_on_sigterm(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    python_runtime.api.wait_polling()
    python_runtime.proc.send_signal(signal.SIGTERM)
    assert python_runtime.wait_exit(timeout=5) != 0


# ---------------------------------------------------------------------------
# Node.js: handler styles and loading


@requires_node
def test_node_commonjs_async_handler(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async (event, context) => {
                  await new Promise((r) => setTimeout(r, 10));
                  return { echo: event, type: typeof require };
                };
            """
        },
    )
    post = node_runtime.invoke({"a": 1})
    assert post.kind == "response"
    assert post.json() == {"echo": {"a": 1}, "type": "function"}
    # A second invocation on the same process.
    assert node_runtime.invoke([1, 2]).json() == {"echo": [1, 2], "type": "function"}


@requires_node
def test_node_callback_handler_waits_for_event_loop(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                let fired = false;
                exports.handler = (event, context, callback) => {
                  fired = false;
                  context.callbackWaitsForEmptyEventLoop = event.wait;
                  setTimeout(() => { fired = true; console.log('timer fired'); }, event.delay);
                  callback(null, { fired });
                };
            """
        },
    )
    start = time.time()
    post = node_runtime.invoke({"wait": True, "delay": 300})
    assert post.json() == {"fired": False}
    assert time.time() - start >= 0.3
    assert "timer fired" in node_runtime.stdout

    # Without waiting, the response is sent before the timer fires.
    start = time.time()
    post = node_runtime.invoke({"wait": False, "delay": 3000})
    assert post.json() == {"fired": False}
    assert time.time() - start < 2.5


@requires_node
def test_node_callback_error_and_legacy_context_methods(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = (event, context, callback) => {
                  if (event.mode === 'cb-error') return callback(new TypeError('bad input'));
                  if (event.mode === 'succeed') return context.succeed('via succeed');
                  if (event.mode === 'fail') return context.fail('plain string');
                  if (event.mode === 'done') return context.done(null, { done: true });
                };
            """
        },
    )
    post = node_runtime.invoke({"mode": "cb-error"})
    assert post.kind == "error"
    body = post.json()
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad input"
    assert node_runtime.invoke({"mode": "succeed"}).json() == "via succeed"
    post = node_runtime.invoke({"mode": "fail"})
    assert post.kind == "error"
    assert post.json() == {"errorType": "string", "errorMessage": "plain string", "trace": []}
    assert node_runtime.invoke({"mode": "done"}).json() == {"done": True}


@requires_node
def test_node_sync_handler_return_value(node_runtime):
    node_runtime.start(
        "index.handler",
        {"index.js": "exports.handler = (event) => ({ doubled: event.n * 2 });\n"},
    )
    assert node_runtime.invoke({"n": 21}).json() == {"doubled": 42}


@requires_node
def test_node_mjs_module_with_top_level_await(node_runtime):
    node_runtime.start(
        "app.handler",
        {
            "app.mjs": """
                const config = await new Promise((r) => setTimeout(() => r({ ready: true }), 20));
                export const handler = async (event) => ({ config, esm: typeof require });
            """
        },
    )
    assert node_runtime.invoke({}).json() == {"config": {"ready": True}, "esm": "undefined"}


@requires_node
def test_node_nested_export_in_subdirectory(node_runtime):
    node_runtime.start(
        "lib/file.a.b",
        {"lib/file.js": "module.exports = { a: { b: async () => 'nested' } };\n"},
    )
    assert node_runtime.invoke({}).json() == "nested"


@requires_node
def test_node_package_type_module_js(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "package.json": '{"name": "fn", "type": "module"}\n',
            "index.js": "export async function handler() { return import.meta.url.startsWith('file:'); }\n",
        },
    )
    assert node_runtime.invoke({}).json() is True


@requires_node
def test_node_cjs_extension_and_node_path(node_runtime, tmp_path):
    layer = tmp_path / "layer" / "node_modules" / "layerlib"
    layer.mkdir(parents=True)
    (layer / "index.js").write_text("module.exports = 'from layer';\n")
    node_runtime.start(
        "app.handler",
        {"app.cjs": "const lib = require('layerlib');\nexports.handler = async () => lib;\n"},
        env={"NODE_PATH": str(tmp_path / "layer" / "node_modules")},
    )
    assert node_runtime.invoke({}).json() == "from layer"


# ---------------------------------------------------------------------------
# Node.js: context


NODE_CONTEXT_JS = """
exports.handler = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  identity: context.identity === undefined ? 'undefined' : context.identity,
  clientContext: context.clientContext === undefined ? 'undefined' : context.clientContext,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  legacy: [typeof context.succeed, typeof context.fail, typeof context.done],
  trace: process.env._X_AMZN_TRACE_ID ?? null,
});
"""


@requires_node
def test_node_context_attributes(node_runtime):
    node_runtime.start("index.handler", {"index.js": NODE_CONTEXT_JS})
    deadline = int(time.time() * 1000) + 10000
    post = node_runtime.invoke({}, deadline_ms=deadline)
    body = post.json()
    assert body["functionName"] == "my-fn"
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == FUNCTION_ARN
    assert body["memoryLimitInMB"] == "256"
    assert body["awsRequestId"] == post.request_id
    assert body["logGroupName"] == "/aws/lambda/my-fn"
    assert body["logStreamName"].startswith("2024/01/01/[$LATEST]")
    assert body["identity"] == "undefined"
    assert body["clientContext"] == "undefined"
    assert 5000 < body["remaining"] <= 10000
    assert body["waits"] is True
    assert body["legacy"] == ["function", "function", "function"]
    assert body["trace"] == TRACE_ID

    client_context = {"client": {"installation_id": "i"}, "custom": {"k": "v"}, "env": {"e": 1}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    body = node_runtime.invoke(
        {}, trace_id=None, client_context=client_context, cognito_identity=identity
    ).json()
    assert body["clientContext"] == client_context
    assert body["identity"] == identity
    assert body["trace"] is None


# ---------------------------------------------------------------------------
# Node.js: errors


@requires_node
def test_node_thrown_error_shape(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async () => {
                  const err = new Error('boom');
                  err.code = 'E_BOOM';
                  throw err;
                };
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.kind == "error"
    assert post.headers["lambda-runtime-function-error-type"] == "Unhandled"
    body = post.json()
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert body["errorType"] == "Error"
    assert body["errorMessage"] == "boom"
    assert body["trace"][0] == "Error: boom"
    assert any("index.js" in line for line in body["trace"][1:])
    rid = re.escape(post.request_id)
    match = re.search(r"^" + ISO_MS + r"\t" + rid + r"\tERROR\tInvoke Error \t(\{.*\})$",
                      node_runtime.stdout, re.M)
    assert match, node_runtime.stdout
    logged = json.loads(match.group(1))
    assert logged["errorType"] == "Error"
    assert logged["errorMessage"] == "boom"
    assert logged["code"] == "E_BOOM"
    assert logged["stack"][0] == "Error: boom"
    assert node_runtime.proc.poll() is None


@requires_node
def test_node_non_error_throw(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => { throw 'oops'; };\n"})
    post = node_runtime.invoke({})
    assert post.json() == {"errorType": "string", "errorMessage": "oops", "trace": []}


@requires_node
def test_node_marshal_error(node_runtime):
    node_runtime.start(
        "index.handler",
        {"index.js": "exports.handler = async () => { const o = {}; o.self = o; return o; };\n"},
    )
    post = node_runtime.invoke({})
    assert post.kind == "error"
    body = post.json()
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to stringify response body"


@requires_node
def test_node_uncaught_exception_during_invoke(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async () => {
                  setTimeout(() => { throw new RangeError('late'); }, 10);
                  return new Promise(() => {});
                };
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.kind == "error"
    assert post.json()["errorType"] == "RangeError"
    assert node_runtime.wait_exit() == 129
    assert "\tERROR\tUncaught Exception \t" in node_runtime.stdout


@requires_node
def test_node_async_handler_never_settling(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => new Promise(() => {});\n"})
    post = node_runtime.invoke({})
    assert post.kind == "error"
    assert post.json()["errorType"] == "Runtime.NodeJsExit"
    # The runtime carries on with the next invocation.
    node_runtime.api.wait_polling(2)
    assert node_runtime.proc.poll() is None


@requires_node
def test_node_init_error_import(node_runtime):
    node_runtime.start("app.handler")
    body = assert_init_error(node_runtime, "Runtime.ImportModuleError")
    assert body["errorMessage"].startswith("Error: Cannot find module 'app'")
    assert body["trace"][0].startswith("Runtime.ImportModuleError: Error: Cannot find module 'app'")
    assert re.search(r"^" + ISO_MS + r"\tundefined\tERROR\tUncaught Exception \t\{",
                     node_runtime.stdout, re.M)


@requires_node
def test_node_init_error_missing_dependency_in_esm(node_runtime):
    node_runtime.start("app.handler", {"app.mjs": "import x from 'not-installed';\nexport const handler = x;\n"})
    body = assert_init_error(node_runtime, "Runtime.ImportModuleError")
    assert "not-installed" in body["errorMessage"]


@requires_node
def test_node_init_error_handler_not_found(node_runtime):
    node_runtime.start("app.nope", {"app.js": "exports.handler = async () => 1;\n"})
    body = assert_init_error(node_runtime, "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "app.nope is undefined or not exported"


@requires_node
def test_node_init_error_not_a_function(node_runtime):
    node_runtime.start("app.value", {"app.js": "exports.value = 42;\n"})
    body = assert_init_error(node_runtime, "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "app.value is not a function"


@requires_node
def test_node_init_error_syntax(node_runtime):
    node_runtime.start("app.handler", {"app.js": "exports.handler = async () => {\n  return )(;\n};\n"})
    body = assert_init_error(node_runtime, "Runtime.UserCodeSyntaxError")
    assert body["errorMessage"].startswith("SyntaxError: ")
    assert any("app.js" in line for line in body["trace"])


@requires_node
def test_node_init_error_malformed_handler(node_runtime):
    node_runtime.start("app", {"app.js": "exports.handler = async () => 1;\n"})
    body = assert_init_error(node_runtime, "Runtime.MalformedHandlerName")
    assert body["errorMessage"] == "Bad handler"


@requires_node
def test_node_init_error_relative_path(node_runtime):
    node_runtime.start("../app.handler")
    body = assert_init_error(node_runtime, "Runtime.MalformedHandlerName")
    assert "is not a valid handler name" in body["errorMessage"]


@requires_node
def test_node_init_error_thrown_by_module(node_runtime):
    node_runtime.start("app.handler", {"app.js": "throw new TypeError('bad config');\n"})
    body = assert_init_error(node_runtime, "TypeError")
    assert body["errorMessage"] == "bad config"


# ---------------------------------------------------------------------------
# Node.js: logging


@requires_node
def test_node_console_log_format(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                console.log('at init');
                exports.handler = async () => {
                  console.log('hello %s', 'world', 42);
                  console.warn('careful');
                  console.error('two\\nlines');
                  console.debug({ a: 1 });
                  return 'ok';
                };
            """
        },
    )
    post = node_runtime.invoke({})
    out = node_runtime.stdout
    rid = re.escape(post.request_id)
    assert re.search(r"^" + ISO_MS + r"\tundefined\tINFO\tat init$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tINFO\thello world 42$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tWARN\tcareful$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tERROR\ttwo\nlines$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tDEBUG\t\{ a: 1 \}$", out, re.M)


@requires_node
def test_node_log_level_and_json_format(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async () => {
                  console.debug('hidden');
                  console.warn('shown', 1);
                  return 'ok';
                };
            """
        },
        env={"AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    post = node_runtime.invoke({})
    records = [json.loads(line) for line in node_runtime.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 1
    assert records[0]["level"] == "WARN"
    assert records[0]["message"] == "shown 1"
    assert records[0]["requestId"] == post.request_id


# ---------------------------------------------------------------------------
# Node.js: response streaming


@requires_node
def test_node_streaming_handler(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = awslambda.streamifyResponse(async (event, stream, context) => {
                  if (event.http) {
                    stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201 });
                  }
                  stream.write('hello ');
                  await new Promise((r) => setTimeout(r, 10));
                  stream.end(context.awsRequestId.slice(0, 4));
                });
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.kind == "response"
    assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert post.headers["content-type"] == "application/octet-stream"
    assert post.body == b"hello " + post.request_id[:4].encode()
    assert post.trailers == {}

    post = node_runtime.invoke({"http": True})
    assert post.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    assert post.body == b'{"statusCode":201}' + b"\x00" * 8 + b"hello " + post.request_id[:4].encode()


@requires_node
def test_node_streaming_error_in_trailers(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = awslambda.streamifyResponse(async (event, stream) => {
                  stream.write('partial');
                  throw new Error('mid-stream');
                });
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.body == b"partial"
    assert post.trailers["lambda-runtime-function-error-type"] == "Error"
    error = json.loads(base64.b64decode(post.trailers["lambda-runtime-function-error-body"]))
    assert error["errorMessage"] == "mid-stream"
    assert node_runtime.invoke({}).trailers["lambda-runtime-function-error-type"] == "Error"


# ---------------------------------------------------------------------------
# Node.js: process behaviour


@requires_node
def test_node_exits_when_runtime_api_goes_away(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => 1;\n"})
    node_runtime.invoke({})
    node_runtime.api.wait_polling(2)
    node_runtime.api.close()
    assert node_runtime.wait_exit() != 0


@requires_node
def test_node_exits_on_sigterm(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => 1;\n"})
    node_runtime.api.wait_polling()
    node_runtime.proc.send_signal(signal.SIGTERM)
    assert node_runtime.wait_exit(timeout=5) != 0
