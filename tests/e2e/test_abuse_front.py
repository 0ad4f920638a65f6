"""Attacks on the node's front from the network, with no credentials or with bad ones: floods of
connections, slow and half-sent requests, unsigned uploads, clients that vanish. Each asserts
the node's answer, its descriptors and memory before, during and after, and that a bystander
function's warm invokes keep succeeding."""

import socket
import struct
import threading
import time
from urllib.parse import urlparse

import boto3
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from abuse import Bystander, connect, is_open, more_descriptors, read_response, wait_closed, wait_until
from conftest import ACCESS_KEY, SECRET_KEY, create, make_zip, settled

MAX_CONNECTIONS = 96
PER_SOURCE = 24
# The front's header timeout (also how long an idle keep-alive connection is kept).
HEADER_TIMEOUT = 20


@pytest.fixture
def bounded(fresh_node):
    more_descriptors()
    return fresh_node(extra_args=("--max-connections", str(MAX_CONNECTIONS),
                                  "--max-connections-per-source", str(PER_SOURCE)))


def settle_fds(node, at_most, timeout=10):
    return wait_until(lambda: node.fds() <= at_most, timeout) or node.fds() <= at_most


def test_a_flood_of_idle_connections_takes_only_its_sources_share(bounded):
    n = bounded
    with Bystander(n) as bystander:
        base_fds = n.fds()
        attackers = [f"127.0.0.{10 + i}" for i in range(6)]
        socks = {a: [] for a in attackers}
        for _ in range(80):
            for a in attackers:
                try:
                    socks[a].append(connect(n.endpoint, source=a))
                except OSError:
                    pass
        time.sleep(1)
        held = {a: sum(is_open(s) for s in ss) for a, ss in socks.items()}
        during = n.fds()
        # The node keeps answering while the flood holds what it may.
        time.sleep(2)
    bystander.check()
    assert all(h <= PER_SOURCE for h in held.values()), held
    assert sum(held.values()) <= MAX_CONNECTIONS, held
    assert during <= base_fds + MAX_CONNECTIONS + 8, (base_fds, during)
    for ss in socks.values():
        for s in ss:
            s.close()
    assert settle_fds(n, base_fds + 4), (base_fds, n.fds())


def test_slow_headers_and_idle_keep_alive_are_cut(node):
    slow = connect(node.endpoint)
    slow.sendall(b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n")
    idle = connect(node.endpoint)
    idle.sendall(b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, _ = read_response(idle)
    assert status == 403

    def trickle():
        # One header line every two seconds: never a whole head.
        for i in range(30):
            try:
                slow.sendall(f"X-Slow-{i}: x\r\n".encode())
            except OSError:
                return
            time.sleep(2)

    threading.Thread(target=trickle, daemon=True).start()
    results = {}
    threads = [threading.Thread(target=lambda k=k, s=s: results.__setitem__(k, wait_closed(s, 45)))
               for k, s in (("slow", slow), ("idle", idle))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in ("slow", "idle"):
        assert results[k] is not None, f"the {k} connection was held for 45 s"
        assert results[k] <= HEADER_TIMEOUT + 5, (k, results[k])


def test_unsigned_uploads_are_refused_before_their_body_is_read(node):
    before = node.rss_mib()
    socks = []
    for i in range(24):
        s = connect(node.endpoint, source=f"127.0.1.{i + 1}")
        s.sendall(b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 65000000\r\n\r\n" + b"{" * 65536)
        socks.append(s)
    for s in socks:
        status, headers, body = read_response(s, timeout=5)
        assert status == 403 and headers["x-amzn-errortype"] == "MissingAuthenticationTokenException", body
    chunk = b"x" * (1 << 20)
    for s in socks:
        for _ in range(4):
            try:
                s.sendall(chunk)
            except OSError:
                break
    assert node.rss_mib() < before + 32, (before, node.rss_mib())
    for s in socks:
        assert wait_closed(s, 5) is not None
        s.close()


def signed_head(endpoint, path, body_length, secret="not-the-secret", region="us-east-1"):
    """The head of a POST signed over a body it does not have (so the signature is wrong, and
    only the body's hash can show it)."""
    req = AWSRequest(method="POST", url=endpoint + path, data=b"", headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(ACCESS_KEY, secret), "lambda", region).add_auth(req)
    lines = [f"POST {path} HTTP/1.1", "Host: " + urlparse(endpoint).netloc, f"Content-Length: {body_length}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in ("host", "content-length")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_badly_signed_uploads_hold_only_their_senders_share(node):
    """A body whose signature covers its hash is read before it can be proven: one sender may
    hold only its share of the node's budget for such bodies (a 429 past it), and learns it is
    badly signed once the body is in."""
    before = node.rss_mib()
    size = 65_000_000
    head = signed_head(node.endpoint, "/2015-03-31/functions", size)
    socks = [connect(node.endpoint, source="127.0.2.1") for _ in range(6)]
    for s in socks:
        s.sendall(head)
    time.sleep(0.5)
    # Whichever was read first holds the share and waits for its body; the others are answered.
    waiting = []
    for s in socks:
        try:
            status, headers, body = read_response(s, timeout=3)
        except TimeoutError:
            waiting.append(s)
            continue
        assert status == 429, body
        assert headers["x-amzn-errortype"] == "TooManyRequestsException", body
        assert b'"Reason":"CallerRateLimitExceeded"' in body, body
    assert len(waiting) == 1, len(waiting)
    first = waiting[0]
    # Another sender is not held up by the first one's share.
    other = connect(node.endpoint, source="127.0.2.2")
    other.sendall(signed_head(node.endpoint, "/2015-03-31/functions", 10) + b"{}" + b" " * 8)
    status, headers, _ = read_response(other)
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    chunk = b" " * (1 << 20)
    sent = 0
    while sent < size:
        part = chunk[: min(len(chunk), size - sent)]
        first.sendall(part)
        sent += len(part)
    status, headers, _ = read_response(first, timeout=20)
    assert (status, headers["x-amzn-errortype"]) == (403, "InvalidSignatureException")
    assert node.rss_mib() < before + 96 + 48, (before, node.rss_mib())
    for s in socks + [other]:
        s.close()


def test_a_signature_scoped_to_another_region_is_refused(node):
    elsewhere = boto3.client("lambda", endpoint_url=node.endpoint, region_name="eu-west-1",
                             aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                             config=node.client().meta.config)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        elsewhere.list_functions()
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Code"] == "InvalidSignatureException"
    assert err["Error"]["Message"] == "Credential should be scoped to a valid region, not 'eu-west-1'. "


def test_floods_of_tiny_requests_and_vanishing_clients_leave_nothing_behind(bounded):
    n = bounded
    name = "big-answer"
    big = make_zip({"app.py": "def handler(event, context):\n    return 'x' * (5 * 1024 * 1024)\n"})
    c = n.client()
    create(c, name, big)
    settled(c, name)
    c.invoke(FunctionName=name)
    with Bystander(n) as bystander:
        base_rss = n.rss_mib()
        signed = signed_head(n.endpoint, f"/2015-03-31/functions/{name}/invocations", 0,
                             secret=SECRET_KEY)

        def tiny(source):
            # Many small requests, each on its own connection, closed without reading.
            for _ in range(150):
                try:
                    s = connect(n.endpoint, source=source)
                    s.sendall(b"GET /2015-03-31/functions/ HTTP/1.1\r\nHost: x\r\n\r\n")
                    s.close()
                except OSError:
                    pass

        def vanish(source, reset):
            # Ask for a 5 MB answer and go away before it comes (a reset, or a plain close).
            for _ in range(6):
                s = connect(n.endpoint, source=source)
                s.sendall(signed)
                if reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                time.sleep(0.1)

        def half_body(source):
            # Announce a body, send part of it, and vanish.
            for _ in range(20):
                s = connect(n.endpoint, source=source)
                s.sendall(signed_head(n.endpoint, "/2015-03-31/functions", 4096) + b"{" * 100)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()

        workers = [threading.Thread(target=tiny, args=(f"127.0.3.{i}",)) for i in range(1, 5)]
        workers += [threading.Thread(target=vanish, args=("127.0.3.9", True)),
                    threading.Thread(target=vanish, args=("127.0.3.10", False)),
                    threading.Thread(target=half_body, args=("127.0.3.11",))]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        time.sleep(1)
    bystander.check()
    # The abandoned invocations finish on their own; then none of their connections is held (the
    # environments they started stay warm: those descriptors are theirs, not leaks).
    assert wait_until(lambda: n.connections() <= 2, 30), n.connections()
    assert n.rss_mib() < base_rss * 2 + 32, (base_rss, n.rss_mib())
