"""What the abuse tests share: raw connections from chosen loopback addresses, and a bystander
function invoked warm, over and over, while an attack runs."""

import json
import resource
import socket
import subprocess
import threading
import time
from urllib.parse import urlparse

from conftest import create, ignis_binary, make_zip, settled

BYSTANDER = make_zip({"app.py": "def handler(event, context):\n    return {'ok': event}\n"})


def more_descriptors():
    """Lets this test process hold as many sockets as its hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def address(endpoint):
    u = urlparse(endpoint)
    return u.hostname, u.port


def connect(endpoint, source="127.0.0.1", timeout=5.0):
    """A TCP connection to the node from `source` (any 127.0.0.0/8 address is this host)."""
    return socket.create_connection(address(endpoint), timeout=timeout, source_address=(source, 0))


def is_open(s) -> bool:
    """Whether the server still holds its end of `s` (nothing was read from it)."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def wait_closed(s, timeout) -> float | None:
    """Seconds until the server closed `s`, reading and dropping whatever it sends; None if it
    stayed open for `timeout`."""
    start = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - start < timeout:
        try:
            if s.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - start
    return None


def read_response(s, timeout=10.0) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 response with a Content-Length body: (status, headers, body)."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a whole response head: {buf!r}")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def wait_until(predicate, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def function_logs(node, name) -> str:
    """`ignis logs <name>`: every record of the function's group, one `<time> <stream> <message>`
    line each."""
    return subprocess.run([ignis_binary(), "logs", name, "--data-dir", str(node.data_dir)],
                          capture_output=True, text=True, timeout=60).stdout


class Bystander:
    """A well-behaved function invoked warm in a loop on its own client while an attack runs:
    every invoke must succeed. A `provisioned` one runs on a provisioned environment, which
    counts against the node's ceilings and, unlike an idle on-demand one, is never retired to
    make room for another function."""

    def __init__(self, node, name="bystander", provisioned=False):
        self.client = node.client()
        self.name = name
        if provisioned:
            create(self.client, name, BYSTANDER, MemorySize=128, Timeout=30, Publish=True)
            self.client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
            self.client.put_provisioned_concurrency_config(
                FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
            deadline = time.monotonic() + 30
            while self.client.get_provisioned_concurrency_config(
                    FunctionName=name, Qualifier="live")["Status"] != "READY":
                assert time.monotonic() < deadline, "the bystander was not provisioned"
                time.sleep(0.2)
            self.target = name + ":live"
        else:
            create(self.client, name, BYSTANDER)
            settled(self.client, name)
            self.target = name
        self._invoke(0)
        self.count = 0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _invoke(self, i):
        r = self.client.invoke(FunctionName=self.target, Payload=json.dumps(i))
        body = json.loads(r["Payload"].read())
        assert "FunctionError" not in r and body == {"ok": i}, (r, body)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            i += 1
            try:
                self._invoke(i)
                self.count += 1
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.errors.append(repr(e))
            time.sleep(0.05)

    def start(self):
        self._thread.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=150)

    def check(self, at_least=5):
        assert self.errors == [], self.errors[:5]
        assert self.count >= at_least, f"only {self.count} bystander invokes ran"

    def finish(self, at_least=3):
        """Stops the loop and checks it."""
        self.__exit__()
        self.check(at_least)
