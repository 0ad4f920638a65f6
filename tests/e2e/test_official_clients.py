"""Functions built with AWS's OFFICIAL runtime clients, unchanged, invoked through Ignis.

Each client speaks the Runtime API in its own way (its own HTTP stack, header parsing, error
shape), so these tests catch what Ignis's own bootstraps would never exercise:

- the Rust crate `lambda_runtime` (fixture crate tests/functions/rust-echo, a workspace member,
  so `cargo build --workspace --bins` puts its binary next to `ignis`);
- `awslambdaric` from PyPI (the Python runtime interface client, with its C extension);
- `aws-lambda-ric` from npm (the Node.js runtime interface client; it builds aws-lambda-cpp and
  curl from source at install time, so it needs cmake and autotools on the host);
- the shell `bootstrap` of the Lambda documentation's "Building a custom runtime" tutorial
  (curl + grep/tr/cut).

All run as `provided.al2023` functions whose package carries a `bootstrap`. Packages installed
from a registry are cached across runs under `.venv/fixture-cache` (or `$IGNIS_FIXTURE_CACHE`).
A client that cannot be installed on this host is skipped with the installer's own error.
"""

import base64
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, create, ignis_binary, make_zip, missing

# Lambda's PATH, as Ignis gives it to a provided.* function's process.
LAMBDA_PATH = "/usr/local/bin:/usr/bin/:/bin:/opt/bin"
CACHE = Path(os.environ.get("IGNIS_FIXTURE_CACHE") or ROOT / ".venv" / "fixture-cache")
RUNTIME = "provided.al2023"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
LOG_STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")

AWSLAMBDARIC = "awslambdaric==4.2.2"
# 4.x requires Node.js >= 22; 3.3.0 is the newest release that runs on the Node.js 20 here.
AWS_LAMBDA_RIC = "aws-lambda-ric@3.3.0"


# ---------------------------------------------------------------------------
# Helpers


def invoke(client, name, event=None, **kw):
    """Invokes synchronously; returns (response, parsed payload)."""
    args = {"FunctionName": name, "Payload": json.dumps(event if event is not None else {})}
    args.update(kw)
    r = client.invoke(**args)
    body = r["Payload"].read()
    r["Body"] = body
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    return r, parsed


def request_id(r):
    return r["ResponseMetadata"]["RequestId"]


def tail_log(r):
    return base64.b64decode(r.get("LogResult", "")).decode(errors="replace")


def function_arn(name):
    return f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


def lambda_which(program):
    """Where `program` is on the function's PATH, or None."""
    return shutil.which(program, path=LAMBDA_PATH)


def tree_files(root: Path, prefix: str = ""):
    """({zip name: bytes}, {zip name: mode}) of every regular file under root."""
    files, modes = {}, {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if "__pycache__" in path.parts:
            continue
        name = prefix + path.relative_to(root).as_posix()
        files[name] = path.read_bytes()
        modes[name] = 0o755 if os.access(path, os.X_OK) else 0o644
    return files, modes


def tail_lines(text, n=15):
    return "\n".join(text.strip().splitlines()[-n:])


def cached_install(key: str, install):
    """A directory filled once by `install(dir)` and kept under CACHE/key.

    The install goes into a scratch directory renamed into place only when it succeeded, so an
    interrupted or failed install is never reused. `install` calls `missing` (or raises
    anything else) to give up.
    """
    final = CACHE / key
    if (final / ".complete").exists():
        return final
    CACHE.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=CACHE))
    try:
        install(scratch)
        (scratch / ".complete").write_text("ok\n")
        shutil.rmtree(final, ignore_errors=True)
        scratch.rename(final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def with_bootstrap(zip_bytes, bootstrap):
    """The same package with another `bootstrap`."""
    src = zipfile.ZipFile(io.BytesIO(zip_bytes))
    files = {info.filename: src.read(info) for info in src.infolist()}
    modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in src.infolist()}
    files["bootstrap"] = bootstrap
    modes["bootstrap"] = 0o755
    return make_zip(files, modes)


def assert_warm(first, second, key="pid"):
    """Two invocations ran in the same (warm) process, one after the other."""
    assert second[key] == first[key], "the second invoke should reuse the warm environment"


# ---------------------------------------------------------------------------
# 1. Rust: the `lambda_runtime` crate

RUST_FIXTURE = "ignis-fixture-rust-echo"
RUST_DEFAULT_ERROR_TYPE = (
    "&alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
)


@pytest.fixture(scope="session")
def rust_zip(tmp_path_factory):
    binary = Path(ignis_binary()).parent / RUST_FIXTURE
    if not os.access(binary, os.X_OK):
        pytest.fail(
            f"{binary} is missing: build the workspace's binaries (`cargo build --workspace --bins`, "
            "as scripts/test.sh does); the fixture crate is tests/functions/rust-echo"
        )
    # The debug build is ~40 MB, mostly debug info, which a debug `ignis` takes seconds to take in;
    # a stripped copy is the same program.
    strip = shutil.which("strip")
    if strip is not None:
        copy = tmp_path_factory.mktemp("rust-echo") / "bootstrap"
        shutil.copy2(binary, copy)
        if subprocess.run([strip, str(copy)], capture_output=True, timeout=60).returncode == 0:
            binary = copy
    return make_zip({"bootstrap": binary.read_bytes()}, {"bootstrap": 0o755})


def test_rust_lambda_runtime_result_and_context(lam, fname, rust_zip):
    created = create(
        lam, fname, rust_zip, Runtime=RUNTIME, Handler="bootstrap", Timeout=10, MemorySize=256
    )
    r, body = invoke(lam, fname, {"hello": "rust", "n": [1, 2, 3]}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r, r["Body"]
    assert body["event"] == {"hello": "rust", "n": [1, 2, 3]}
    assert UUID.match(body["request_id"])
    assert body["request_id"] == request_id(r)
    assert body["invoked_function_arn"] == created["FunctionArn"] == function_arn(fname)
    assert 0 < body["remaining_ms"] <= 10_000
    assert body["function_name"] == fname
    assert body["memory_mb"] == 256
    assert body["version"] == "$LATEST"
    assert body["log_group"] == f"/aws/lambda/{fname}"
    assert LOG_STREAM.match(body["log_stream"]), body["log_stream"]
    assert body["xray_trace_id"] and body["xray_trace_id"].startswith("Root=1-")
    assert body["invocations"] == 1
    log = tail_log(r)
    assert f"START RequestId: {request_id(r)}" in log
    assert f"REPORT RequestId: {request_id(r)}" in log

    # Warm: same process, its counter goes on; a new request id each time.
    r2, body2 = invoke(lam, fname, {"again": True}, LogType="Tail")
    assert "FunctionError" not in r2
    assert_warm(body, body2)
    assert body2["invocations"] == 2
    assert body2["request_id"] == request_id(r2) != request_id(r)
    assert "Init Duration" not in tail_log(r2)

    # The client context reaches the crate's parser through Lambda-Runtime-Client-Context.
    cc = json.dumps({"custom": {"k": "v"}, "env": {"locale": "en"}})
    cc = base64.b64encode(cc.encode()).decode()
    r3, body3 = invoke(lam, fname, {}, ClientContext=cc, LogType="Tail")
    assert "FunctionError" not in r3, (r3["Body"], tail_log(r3))
    assert body3["client_context_custom"] == {"k": "v"}

    # Any JSON value is an event.
    _, body4 = invoke(lam, fname, "just a string")
    assert body4["event"] == "just a string"
    assert body4["invocations"] == 4


def test_rust_lambda_runtime_errors(lam, fname, rust_zip):
    create(lam, fname, rust_zip, Runtime=RUNTIME, Handler="bootstrap")
    _, ok = invoke(lam, fname, {})

    # A plain `Err(lambda_runtime::Error)`: the crate names the error by its Rust type.
    r, err = invoke(lam, fname, {"fail": True})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert err == {
        "errorType": RUST_DEFAULT_ERROR_TYPE,
        "errorMessage": f"failing as asked (request {request_id(r)})",
    }

    # An error type with its own `Diagnostic`.
    r, err = invoke(lam, fname, {"fail": "custom"})
    assert r["FunctionError"] == "Unhandled"
    assert err == {
        "errorType": "Fixture.CustomError",
        "errorMessage": f"custom failure (request {request_id(r)})",
    }

    # A panic is caught by the crate and reported as an error of the invocation.
    r, err = invoke(lam, fname, {"panic": True})
    assert r["FunctionError"] == "Unhandled"
    assert set(err) == {"errorType", "errorMessage"}, err
    assert "panicking as asked" in err["errorMessage"]

    # None of these ended the process: the environment stays warm.
    _, again = invoke(lam, fname, {})
    assert_warm(ok, again)
    assert again["invocations"] == 5


def test_rust_lambda_runtime_concurrent_invokes(lam, fname, rust_zip):
    # Each environment has its own Runtime API; the crate keeps its connection to it alive.
    create(lam, fname, rust_zip, Runtime=RUNTIME, Handler="bootstrap")
    results = [None] * 4

    def run(i):
        results[i] = invoke(lam, fname, {"i": i})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for i, (r, body) in enumerate(results):
        assert "FunctionError" not in r, r["Body"]
        assert body["event"] == {"i": i}
        assert body["request_id"] == request_id(r)
    assert len({request_id(r) for r, _ in results}) == len(results)


# ---------------------------------------------------------------------------
# 2. Python: awslambdaric (PyPI)

PY_APP = r'''
import os
import sys

COUNT = 0


def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("fail"):
        raise ValueError("failing as asked")
    return {
        "event": event,
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_context_custom": context.client_context.custom if context.client_context else None,
        "pid": os.getpid(),
        "count": COUNT,
        "python": list(sys.version_info[:2]),
    }
'''

PY_BOOTSTRAP = "#!/bin/sh\ncd $LAMBDA_TASK_ROOT\nexec python3 -m awslambdaric app.handler\n"


@pytest.fixture(scope="session")
def awslambdaric_dir():
    python = lambda_which("python3")
    if python is None:
        missing(f"no python3 on the function's PATH ({LAMBDA_PATH})")
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True, text=True, timeout=30,
    ).stdout.strip()
    if not version:
        missing(f"{python} does not run")

    def install(target):
        # A binary wheel only (awslambdaric has a C extension), for the interpreter the function's
        # bootstrap will find, which need not be the one running the tests.
        cmd = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-compile", "--target", str(target), "--only-binary=:all:",
            "--python-version", version, "--implementation", "cp", AWSLAMBDARIC,
        ]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            missing(
                f"`pip install {AWSLAMBDARIC}` (binary wheels for CPython {version} on "
                f"{platform.machine()}) failed: {tail_lines(p.stderr or p.stdout, 6)}"
            )

    key = f"{AWSLAMBDARIC.replace('==', '-')}-cp{version.replace('.', '')}-{platform.machine()}"
    return cached_install(key, install)


@pytest.fixture(scope="session")
def awslambdaric_zip(awslambdaric_dir):
    files, modes = tree_files(awslambdaric_dir)
    files.pop(".complete", None)
    files["app.py"] = PY_APP
    files["bootstrap"] = PY_BOOTSTRAP
    modes["bootstrap"] = 0o755
    return make_zip(files, modes)


def test_awslambdaric_result_and_context(lam, fname, awslambdaric_zip):
    create(lam, fname, awslambdaric_zip, Runtime=RUNTIME, Handler="app.handler", Timeout=10)
    r, body = invoke(lam, fname, {"hello": "python"}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r, r["Body"]
    assert body["event"] == {"hello": "python"}
    assert body["aws_request_id"] == request_id(r)
    assert body["invoked_function_arn"] == function_arn(fname)
    assert 0 < body["remaining_ms"] <= 10_000
    assert body["function_name"] == fname
    assert body["function_version"] == "$LATEST"
    assert str(body["memory_limit_in_mb"]) == "128"
    assert body["log_group_name"] == f"/aws/lambda/{fname}"
    assert LOG_STREAM.match(body["log_stream_name"]), body["log_stream_name"]
    assert body["count"] == 1
    assert f"REPORT RequestId: {request_id(r)}" in tail_log(r)

    r2, body2 = invoke(lam, fname, {"again": 1})
    assert "FunctionError" not in r2
    assert_warm(body, body2)
    assert body2["count"] == 2
    assert body2["aws_request_id"] == request_id(r2) != request_id(r)

    cc = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    r3, body3 = invoke(lam, fname, {}, ClientContext=cc)
    assert "FunctionError" not in r3, r3["Body"]
    assert body3["client_context_custom"] == {"k": "v"}


def test_awslambdaric_unhandled_exception(lam, fname, awslambdaric_zip):
    create(lam, fname, awslambdaric_zip, Runtime=RUNTIME, Handler="app.handler")
    _, ok = invoke(lam, fname, {})
    r, err = invoke(lam, fname, {"fail": True}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "failing as asked"
    assert err["requestId"] == request_id(r)
    assert isinstance(err["stackTrace"], list)
    assert any("app.py" in frame and "handler" in frame for frame in err["stackTrace"]), err
    # awslambdaric logs the error itself, in its own format.
    assert "[ERROR] ValueError: failing as asked" in tail_log(r)
    # The exception did not end the process.
    _, again = invoke(lam, fname, {})
    assert_warm(ok, again)
    assert again["count"] == 3


def test_awslambdaric_init_error(lam, fname, awslambdaric_zip):
    # awslambdaric cannot import the handler: it posts /runtime/init/error and exits.
    broken = with_bootstrap(
        awslambdaric_zip, "#!/bin/sh\ncd $LAMBDA_TASK_ROOT\nexec python3 -m awslambdaric nope.handler\n"
    )
    create(lam, fname, broken, Runtime=RUNTIME, Handler="nope.handler")
    r, err = invoke(lam, fname, {})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert err["errorMessage"] == "Unable to import module 'nope': No module named 'nope'"


# ---------------------------------------------------------------------------
# 3. Node.js: aws-lambda-ric (npm)

NODE_APP = r'''
let count = 0;

export const handler = async (event, context) => {
  count += 1;
  if (event.fail) {
    throw new TypeError("failing as asked");
  }
  return {
    event,
    awsRequestId: context.awsRequestId,
    invokedFunctionArn: context.invokedFunctionArn,
    remainingMs: context.getRemainingTimeInMillis(),
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    pid: process.pid,
    count,
  };
};
'''

NODE_BOOTSTRAP = (
    "#!/bin/sh\ncd $LAMBDA_TASK_ROOT\n"
    "exec node node_modules/aws-lambda-ric/bin/index.mjs index.handler\n"
)

_npm_failure = []


def _node_headers_dir(node):
    """The prefix whose include/node holds this node's headers (so node-gyp downloads none)."""
    prefix = Path(os.path.realpath(node)).parent.parent
    return prefix if (prefix / "include" / "node" / "common.gypi").exists() else None


@pytest.fixture(scope="session")
def aws_lambda_ric_dir():
    if _npm_failure:
        missing(_npm_failure[0])
    node = lambda_which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        missing(f"node on the function's PATH ({node}) and npm ({npm}) are both needed")
    major = subprocess.run([node, "-p", "process.versions.node.split('.')[0]"],
                           capture_output=True, text=True, timeout=30).stdout.strip()

    def install(target):
        (target / "package.json").write_text('{"name": "fixture", "private": true}\n')
        env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
                   npm_config_audit="false")
        headers = _node_headers_dir(node)
        if headers is not None:
            env["npm_config_nodedir"] = str(headers)
        p = subprocess.run(
            [npm, "install", "--foreground-scripts", "--no-save", AWS_LAMBDA_RIC],
            cwd=target, env=env, capture_output=True, text=True, timeout=1500,
        )
        addon = target / "node_modules" / "aws-lambda-ric" / "dist" / "rapid-client.node"
        if p.returncode != 0 or not addon.exists():
            out = p.stdout + "\n" + p.stderr
            if p.returncode == 0:
                reason = (
                    f"`npm install {AWS_LAMBDA_RIC}` left no {addon.relative_to(target)}: its "
                    "install scripts, which build the native client, did not run. "
                    f"npm said: {tail_lines(out, 6)}"
                )
            else:
                said = [ln for ln in out.splitlines() if re.search(r"(?i)\berror\b|not (installed|found)", ln)]
                tools = ("cmake", "autoreconf", "libtoolize", "make", "g++")
                absent = [t for t in tools if shutil.which(t) is None]
                reason = (
                    f"`npm install {AWS_LAMBDA_RIC}` failed (exit {p.returncode}); it builds "
                    "aws-lambda-cpp and curl from source, which needs Debian's cmake, autoconf, "
                    "automake, libtool, make and g++"
                    f"{' (missing here: ' + ', '.join(absent) + ')' if absent else ''}. "
                    f"npm said: {' | '.join(said[-8:]) or tail_lines(out, 6)}"
                )
            _npm_failure.append(reason)
            missing(reason)

    key = f"{AWS_LAMBDA_RIC.replace('@', '-')}-node{major}-{platform.machine()}"
    return cached_install(key, install)


@pytest.fixture(scope="session")
def aws_lambda_ric_zip(aws_lambda_ric_dir):
    # Only the runtime client itself: its dependencies (node-gyp, node-addon-api) serve the build.
    ric = aws_lambda_ric_dir / "node_modules" / "aws-lambda-ric"
    files, modes = tree_files(ric, "node_modules/aws-lambda-ric/")
    files = {k: v for k, v in files.items() if "/deps/" not in k and "/src/" not in k}
    files["index.mjs"] = NODE_APP
    files["bootstrap"] = NODE_BOOTSTRAP
    modes["bootstrap"] = 0o755
    return make_zip(files, modes)


def test_aws_lambda_ric_result_and_context(lam, fname, aws_lambda_ric_zip):
    create(lam, fname, aws_lambda_ric_zip, Runtime=RUNTIME, Handler="index.handler", Timeout=10)
    r, body = invoke(lam, fname, {"hello": "node"}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r, (r["Body"], tail_log(r))
    assert body["event"] == {"hello": "node"}
    assert body["awsRequestId"] == request_id(r)
    assert body["invokedFunctionArn"] == function_arn(fname)
    assert 0 < body["remainingMs"] <= 10_000
    assert body["functionName"] == fname
    assert body["functionVersion"] == "$LATEST"
    assert str(body["memoryLimitInMB"]) == "128"
    assert body["logGroupName"] == f"/aws/lambda/{fname}"
    assert LOG_STREAM.match(body["logStreamName"]), body["logStreamName"]
    assert body["count"] == 1

    r2, body2 = invoke(lam, fname, {"again": 1})
    assert "FunctionError" not in r2
    assert_warm(body, body2)
    assert body2["count"] == 2
    assert body2["awsRequestId"] == request_id(r2) != request_id(r)


def test_aws_lambda_ric_thrown_error(lam, fname, aws_lambda_ric_zip):
    create(lam, fname, aws_lambda_ric_zip, Runtime=RUNTIME, Handler="index.handler")
    _, ok = invoke(lam, fname, {})
    r, err = invoke(lam, fname, {"fail": True})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert err["errorType"] == "TypeError"
    assert err["errorMessage"] == "failing as asked"
    assert isinstance(err["trace"], list) and err["trace"][0] == "TypeError: failing as asked"
    _, again = invoke(lam, fname, {})
    assert_warm(ok, again)
    assert again["count"] == 3


def test_aws_lambda_ric_init_error(lam, fname, aws_lambda_ric_zip):
    broken = with_bootstrap(
        aws_lambda_ric_zip,
        "#!/bin/sh\ncd $LAMBDA_TASK_ROOT\nexec node node_modules/aws-lambda-ric/bin/index.mjs nope.handler\n",
    )
    create(lam, fname, broken, Runtime=RUNTIME, Handler="nope.handler")
    r, err = invoke(lam, fname, {}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert err["errorType"] == "Runtime.ImportModuleError"
    assert err["errorMessage"].startswith("Error: Cannot find module 'nope'"), err
    assert "Error Type: Runtime.ImportModuleError" in tail_log(r)


# ---------------------------------------------------------------------------
# 4. The Lambda documentation's tutorial custom runtime (shell + curl)

# The tutorial's bootstrap, as the documentation gives it. The documentation's shebang is
# `#!/bin/sh`, which is bash on Amazon Linux; the script uses bash (`source`, `pipefail`,
# `function`), so here it names bash, which is what it gets on Lambda.
TUTORIAL_BOOTSTRAP = r'''#!/bin/bash
set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
'''

# The tutorial's handler, extended to echo the event and what the bootstrap saw. `exit` in it
# fails the command substitution, and `set -e` then ends the runtime (the tutorial has no error
# path of its own).
TUTORIAL_FUNCTION = r'''function handler () {
  EVENT_DATA=$1
  case "$EVENT_DATA" in
    *'"fail": true'*) echo "failing as asked" >&2; exit 3 ;;
  esac
  ARN=$(grep -Fi Lambda-Runtime-Invoked-Function-Arn "$HEADERS" | tr -d '[:space:]' | cut -d: -f2-)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE="{\"statusCode\": 200, \"body\": \"Hello from Lambda!\", \"event\": $EVENT_DATA, \"request_id\": \"$REQUEST_ID\", \"arn\": \"$ARN\", \"deadline_ms\": $DEADLINE, \"pid\": \"$$@$AWS_LAMBDA_LOG_STREAM_NAME\"}"
  echo $RESPONSE
}
'''


@pytest.fixture(scope="session")
def tutorial_zip():
    absent = [p for p in ("bash", "curl", "grep", "tr", "cut", "mktemp") if lambda_which(p) is None]
    if absent:
        missing(
            f"the tutorial runtime needs {', '.join(absent)} on the function's PATH ({LAMBDA_PATH})"
        )
    return make_zip(
        {"bootstrap": TUTORIAL_BOOTSTRAP, "function.sh": TUTORIAL_FUNCTION},
        {"bootstrap": 0o755, "function.sh": 0o755},
    )


def tutorial_env(node, tmp_path):
    # The tutorial's `mktemp` leaves one file per invocation. On Lambda that is the environment's
    # own /tmp, as in an Ignis sandbox; Ignis's plain processes share the host's /tmp, so point
    # mktemp elsewhere.
    return {"Variables": {} if node.sandboxed else {"TMPDIR": str(tmp_path)}}


def test_tutorial_custom_runtime_result_and_context(node, lam, fname, tutorial_zip, tmp_path):
    create(lam, fname, tutorial_zip, Runtime=RUNTIME, Handler="function.handler", Timeout=10,
           Environment=tutorial_env(node, tmp_path))
    before = int(time.time() * 1000)
    r, body = invoke(lam, fname, {"hello": "shell"}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r, (r["Body"], tail_log(r))
    assert body["statusCode"] == 200 and body["body"] == "Hello from Lambda!"
    assert body["event"] == {"hello": "shell"}
    assert body["request_id"] == request_id(r)
    assert body["arn"] == function_arn(fname)
    assert before < body["deadline_ms"] <= int(time.time() * 1000) + 10_000
    # The tutorial posts with plain curl, which prints the Runtime API's answer to stdout.
    assert '{"status":"OK"}' in tail_log(r)

    r2, body2 = invoke(lam, fname, {"again": 1})
    assert "FunctionError" not in r2
    assert_warm(body, body2)
    assert body2["request_id"] == request_id(r2) != request_id(r)


def test_tutorial_custom_runtime_exit_is_a_runtime_error(node, lam, fname, tutorial_zip, tmp_path):
    create(lam, fname, tutorial_zip, Runtime=RUNTIME, Handler="function.handler",
           Environment=tutorial_env(node, tmp_path))
    _, ok = invoke(lam, fname, {})
    r, err = invoke(lam, fname, {"fail": True}, LogType="Tail")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert err["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in err["errorMessage"], err
    assert f"RequestId: {request_id(r)}" in err["errorMessage"], err
    assert "failing as asked" in tail_log(r)
    # The next invoke starts a new environment.
    r3, fresh = invoke(lam, fname, {})
    assert "FunctionError" not in r3, r3["Body"]
    assert fresh["pid"] != ok["pid"]
