"""Fixtures that start the real `ignis` binary on a free port with a temporary data dir."""

import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY = "AKIAIGNISTESTKEY0001"
SECRET_KEY = "ignis-test-secret-key-0000000000000000000"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/any"
# CI (`CI=true`, as CI services set it) has every interpreter, tool and privilege the suite needs.
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1")


def missing(reason: str):
    """What a test needs (an interpreter, a tool, a built binary, sandboxing) is not here: a skip
    on a developer's machine, a failure in CI, so that no test passes vacuously there."""
    if IN_CI:
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


JS = ROOT / "tests" / "js"


def require_js(package: str):
    """Node.js and the npm package `package` of tests/js (pinned by its package-lock.json,
    installed by scripts/test.sh with `npm ci`), or `missing`."""
    if not shutil.which("node"):
        missing("node is not installed")
    if not (JS / "node_modules" / package).is_dir():
        missing("tests/js/node_modules is not installed: run `npm ci` in tests/js (scripts/test.sh does)")


def ignis_binary() -> str:
    path = os.environ.get("IGNIS_BIN") or str(ROOT / "target" / "debug" / "ignis")
    if not os.access(path, os.X_OK):
        pytest.exit(f"ignis binary not found at {path}: run `cargo build` first or set IGNIS_BIN")
    return path


class Node:
    """One running `ignis up`."""

    def __init__(self, data_dir: Path, extra_env=None, extra_args=()):
        self.data_dir = Path(data_dir)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            IGNIS_ACCESS_KEY_ID=ACCESS_KEY,
            IGNIS_SECRET_ACCESS_KEY=SECRET_KEY,
            IGNIS_LOG="warn",
        )
        env.update(extra_env or {})
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [ignis_binary(), "up", "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir), *extra_args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.endpoint = self._wait_ready()
        # Functions run in sandboxes (namespaces + cgroups), not as plain host processes.
        self.sandboxed = self.isolation.startswith("sandbox")
        out = subprocess.run([ignis_binary(), "runtimes"], capture_output=True, text=True, check=True).stdout
        self.runtimes = {line.strip() for line in out.splitlines() if line.startswith("  ")}
        self.ensure_execution_role()

    def ensure_execution_role(self):
        """The role the suite's functions run as (ROLE): Lambda may assume it, and it may do
        anything, so that a function's calls are refused only where a test means them to be."""
        iam = self.client("iam")
        name = ROLE.rsplit("/", 1)[1]
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                               "Action": "sts:AssumeRole"}]}))
        except iam.exceptions.EntityAlreadyExistsException:
            return
        iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")

    def _wait_ready(self) -> str:
        self.isolation = ""
        self.metrics_url = None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            if line.startswith("isolation: "):
                self.isolation = line[len("isolation: "):].strip()
            m = re.search(r"metrics on (http://\S+)", line)
            if m:
                self.metrics_url = m.group(1)
            m = re.search(r"ignis listening on (http://\S+)", line)
            if m:
                return m.group(1)
        self.proc.wait(timeout=10)
        raise RuntimeError(f"ignis exited with {self.proc.returncode}: {self.log_path.read_text()}")

    def client(self, service="lambda", validate=True, **kw):
        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,
            read_timeout=120,
        )
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=kw.get("access_key", ACCESS_KEY),
            aws_secret_access_key=kw.get("secret_key", SECRET_KEY),
            aws_session_token=kw.get("session_token"),
            config=config,
        )

    def fds(self) -> int:
        """Descriptors the server holds now."""
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def connections(self) -> int:
        """Connections to the node's API port the server holds now (sockets in its descriptor
        table bound to that port)."""
        port = int(self.endpoint.rsplit(":", 1)[1])
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    rows = f.read().splitlines()[1:]
            except OSError:
                continue
            for row in rows:
                cols = row.split()
                # Connected sockets only: state 0A is LISTEN.
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] != "0A":
                    inodes.add(cols[9])
        held = 0
        for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        return held

    def rss_mib(self) -> float:
        """The server's resident memory now."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kib / 1024

    def aws_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_MAX_ATTEMPTS="1",
        )
        return env

    def stop(self, sig=signal.SIGTERM, timeout=20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def node(tmp_path_factory):
    n = Node(tmp_path_factory.mktemp("ignis") / "data")
    yield n
    n.stop()


@pytest.fixture
def fresh_node(tmp_path):
    nodes = []

    def start(data_dir=None, **kw):
        n = Node(data_dir or tmp_path / f"data{len(nodes)}", **kw)
        nodes.append(n)
        return n

    yield start
    for n in nodes:
        n.stop()


@pytest.fixture(scope="session")
def lam(node):
    return node.client()


def make_zip(files: dict, modes: dict | None = None) -> bytes:
    """A zip of {name: text or bytes}, with optional unix modes per name."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = (modes or {}).get(name, 0o644)
            info.external_attr = (0o100000 | mode) << 16
            data = content.encode() if isinstance(content, str) else content
            z.writestr(info, data)
    return buf.getvalue()


RUST_STREAMING = ROOT / "tests" / "fixtures" / "rust-streaming"


@pytest.fixture(scope="session")
def rust_streaming_zip():
    """The response-streaming function built with lambda_http (tests/fixtures/rust-streaming, a
    workspace of its own), built once per session in release mode into target/rust-streaming
    (where CI's cache of target/ keeps it; a second build is cargo's no-op) and zipped as the
    `bootstrap` of a provided.al2023 function."""
    cargo = shutil.which("cargo")
    if cargo is None:
        missing("cargo is not installed: the lambda_http streaming fixture cannot be built")
    target = ROOT / "target" / "rust-streaming"
    build = [cargo, "build", "--release", "--locked", "--manifest-path", str(RUST_STREAMING / "Cargo.toml"),
             "--target-dir", str(target)]
    r = subprocess.run(build, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"{' '.join(build)} failed:\n{r.stderr[-5000:]}"
    binary = target / "release" / "bootstrap"
    return make_zip({"bootstrap": binary.read_bytes()}, {"bootstrap": 0o755})


PY_HANDLER = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="session")
def hello_zip():
    return make_zip({"app.py": PY_HANDLER})


_counter = [0]


@pytest.fixture
def fname(request):
    _counter[0] += 1
    base = re.sub(r"[^a-zA-Z0-9]", "-", request.node.name)[:40]
    return f"{base}-{_counter[0]}"


def settled(client, name, timeout=10.0):
    """The configuration of `name` once it is Active with its last update Successful (a create
    answers Pending and an update InProgress; each settles under a new RevisionId, as on AWS)."""
    deadline = time.monotonic() + timeout
    while True:
        c = client.get_function_configuration(FunctionName=name)
        if c["State"] == "Active" and c["LastUpdateStatus"] == "Successful":
            return c
        assert time.monotonic() < deadline, f"{name} did not settle: {c['State']}/{c.get('LastUpdateStatus')}"
        time.sleep(0.02)


def create(client, name, zip_bytes, **kw):
    args = dict(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": zip_bytes},
    )
    args.update(kw)
    return client.create_function(**args)
