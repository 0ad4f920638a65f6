"""Node-wide ceilings: environments together stay within the node's memory, pids and /tmp, and
the async queue within its bytes. What would pass a ceiling is refused with Lambda's throttle
(429 TooManyRequestsException with a Reason) before anything starts, never started to be killed,
and a bystander function's warm invokes keep succeeding throughout."""

import json
import threading
import time
from pathlib import Path

import botocore
import pytest

from abuse import Bystander, function_logs
from conftest import create, make_zip
from test_sandbox import unsandboxed

MB = 1 << 20
# The node's cgroup leaves this much room for its prepared jails on top of the ceilings
# (ignis_sandbox::cgroup::PREPARED_SLACK_*).
SLACK_BYTES = 64 * MB
SLACK_PIDS = 64

APP = r'''
import errno, json, os, threading, time

def handler(event, context):
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
        return {"slept": event["seconds"]}
    if action == "event":
        print("RAN " + event["id"], flush=True)
        time.sleep(event.get("seconds", 0))
        return {}
    if action == "forkbomb":
        stop = threading.Event()
        threads = children = 0
        err = None
        while threads < 5000:
            try:
                threading.Thread(target=stop.wait, daemon=True).start()
                threads += 1
            except RuntimeError as e:
                err = str(e)
                break
        try:
            while children < 5000:
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
        except OSError as e:
            err = (err or "") + " / fork: " + errno.errorcode.get(e.errno, str(e.errno))
        time.sleep(event.get("hold", 0))
        return {"threads": threads, "children": children, "error": err}
    return {"pong": True}
'''


@pytest.fixture(scope="module")
def app_zip():
    return make_zip({"app.py": APP})


def call(client, name, event):
    r = client.invoke(FunctionName=name, Payload=json.dumps(event))
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def throttle(fn):
    """The 429 a call got: (error code, Reason)."""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn()
    resp = e.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429, resp
    return resp["Error"]["Code"], resp.get("Reason")


def node_cgroup(node, controller):
    """The node's cgroup directory for `controller` (v1), or its unified one (v2)."""
    name = f"ignis/node-{node.proc.pid}"
    for d in (Path("/sys/fs/cgroup") / controller / name, Path("/sys/fs/cgroup") / name):
        if (d / "cgroup.procs").exists():
            return d
    raise AssertionError(f"no cgroup {name} for {controller}")


def test_memory_ceiling_refuses_the_environment_that_would_pass_it(fresh_node, fname, app_zip):
    n = fresh_node(extra_args=["--max-memory", "384"])
    lam = n.client()
    for f in ("hog", "other"):
        create(lam, f"{fname}-{f}", app_zip, MemorySize=128, Timeout=30)
    if n.sandboxed:
        d = node_cgroup(n, "memory")
        v1 = d / "memory.limit_in_bytes"
        assert int((v1 if v1.exists() else d / "memory.max").read_text()) == 384 * MB + SLACK_BYTES
    by = Bystander(n, f"{fname}-by", provisioned=True).start()
    # Two busy environments of 128 MB beside the bystander's: 384 MB, the ceiling.
    busy = [threading.Thread(target=call, args=(n.client(), f"{fname}-hog", {"action": "sleep", "seconds": 6}))
            for _ in range(2)]
    for t in busy:
        t.start()
    deadline = time.monotonic() + 20
    while function_logs(n, f"{fname}-hog").count("INIT_START") < 2:
        assert time.monotonic() < deadline, "the two environments did not start"
        time.sleep(0.2)
    # A third would pass the ceiling and nothing is idle to retire: throttled, not started.
    code, reason = throttle(lambda: lam.invoke(FunctionName=f"{fname}-other", Payload=b"{}"))
    assert (code, reason) == ("TooManyRequestsException", "ConcurrentInvocationLimitExceeded")
    assert "INIT_START" not in function_logs(n, f"{fname}-other")
    for t in busy:
        t.join(timeout=30)
    # Once they are idle, the oldest idle environment is retired to make room.
    assert call(lam, f"{fname}-other", {}) == {"pong": True}
    by.finish()


def test_fork_bombs_stay_within_the_nodes_pids_ceiling(fresh_node, fname, app_zip):
    n = fresh_node(extra_args=["--max-pids", "3072"])
    if not n.sandboxed:
        unsandboxed(f"functions on this node are not sandboxed ({n.isolation})")
    lam = n.client()
    pids_dir = node_cgroup(n, "pids")
    assert int((pids_dir / "pids.max").read_text()) == 3072 + SLACK_PIDS
    for f in ("bomb", "bomb2"):
        create(lam, f"{fname}-{f}", app_zip, MemorySize=512, Timeout=60)
    by = Bystander(n, f"{fname}-by", provisioned=True).start()
    # The bystander reserves 1,024 pids: two bombers fit, a third does not.
    results, throttled, seen = [], [], []
    sampling = threading.Event()

    def bomb():
        try:
            results.append(call(n.client(), f"{fname}-bomb", {"action": "forkbomb", "hold": 4}))
        except botocore.exceptions.ClientError as e:
            throttled.append((e.response["Error"]["Code"], e.response.get("Reason")))

    def sample():
        while not sampling.is_set():
            seen.append(int((pids_dir / "pids.current").read_text()))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    bombers = [threading.Thread(target=bomb) for _ in range(3)]
    for t in bombers:
        t.start()
        time.sleep(0.3)
    # The node keeps answering while the bombs hold their tasks.
    time.sleep(1)
    assert lam.get_function(FunctionName=f"{fname}-by")["Configuration"]["FunctionName"] == f"{fname}-by"
    for t in bombers:
        t.join(timeout=60)
    sampling.set()
    sampler.join()
    assert len(results) == 2 and throttled == [("TooManyRequestsException", "ConcurrentInvocationLimitExceeded")], (results, throttled)
    for r in results:
        # Each bomb stopped at its own environment's limit.
        assert 900 <= r["threads"] + r["children"] < 1024, r
    print(f"node pids: most seen {max(seen)}, ceiling {3072} + {SLACK_PIDS}; bombs {results}")
    assert max(seen) <= 3072 + SLACK_PIDS, max(seen)
    assert max(seen) >= 1800, max(seen)
    peak = pids_dir / "pids.peak"
    if peak.exists():
        assert int(peak.read_text()) <= 3072 + SLACK_PIDS
    # Idle now (their tasks still alive): another function's bomber retires the oldest of them,
    # and its environment gets the whole of its own limit.
    again = call(lam, f"{fname}-bomb2", {"action": "forkbomb"})
    assert 900 <= again["threads"] + again["children"] < 1024, again
    assert int((pids_dir / "pids.current").read_text()) <= 3072 + SLACK_PIDS
    by.finish()


def test_tmp_disk_ceiling_refuses_the_environment_that_would_pass_it(fresh_node, fname, app_zip):
    n = fresh_node(extra_args=["--max-tmp-disk", "1536"])
    if not n.sandboxed:
        unsandboxed(f"functions on this node are not sandboxed ({n.isolation})")
    lam = n.client()
    create(lam, f"{fname}-big", app_zip, MemorySize=128, Timeout=30, EphemeralStorage={"Size": 1024})
    create(lam, f"{fname}-other", app_zip, MemorySize=128, Timeout=30)
    # The bystander's 512 MB /tmp and a busy 1,024 MB one fill the 1,536 MB ceiling.
    by = Bystander(n, f"{fname}-by", provisioned=True).start()
    busy = threading.Thread(target=call, args=(n.client(), f"{fname}-big", {"action": "sleep", "seconds": 5}))
    busy.start()
    deadline = time.monotonic() + 20
    while "INIT_START" not in function_logs(n, f"{fname}-big"):
        assert time.monotonic() < deadline, "the environment did not start"
        time.sleep(0.2)
    code, reason = throttle(lambda: lam.invoke(FunctionName=f"{fname}-other", Payload=b"{}"))
    assert (code, reason) == ("TooManyRequestsException", "ConcurrentInvocationLimitExceeded")
    assert "INIT_START" not in function_logs(n, f"{fname}-other")
    busy.join(timeout=30)
    assert call(lam, f"{fname}-other", {}) == {"pong": True}
    by.finish()


def payload(action_id, size, **extra):
    """A JSON payload of exactly `size` bytes."""
    event = {"action": "event", "id": action_id, **extra, "pad": ""}
    base = len(json.dumps(event).encode())
    event["pad"] = "x" * (size - base)
    data = json.dumps(event).encode()
    assert len(data) == size
    return data


def test_async_queue_bytes_throttle_and_every_accepted_event_runs(fresh_node, fname, app_zip):
    n = fresh_node(extra_args=["--max-async-queue-bytes-per-function", "4000",
                               "--max-async-queue-bytes", "6000"])
    lam = n.client()
    a, b = f"{fname}-a", f"{fname}-b"
    for f in (a, b):
        create(lam, f, app_zip, MemorySize=128, Timeout=30)
    by = Bystander(n, f"{fname}-by", provisioned=True).start()
    accepted, refused = [], []

    def send(name, i, seconds):
        event_id = f"{name}-{i}"
        try:
            r = lam.invoke(FunctionName=name, InvocationType="Event",
                           Payload=payload(event_id, 1000, seconds=seconds))
            assert r["StatusCode"] == 202
            accepted.append(event_id)
        except botocore.exceptions.ClientError as e:
            resp = e.response
            assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429, resp
            refused.append((event_id, resp["Error"]["Code"], resp.get("Reason")))

    # Each event runs 4 s, holding its bytes until it is done: a's 4,000 bytes fill at four.
    for i in range(7):
        send(a, i, 4)
    assert accepted == [f"{a}-{i}" for i in range(4)], (accepted, refused)
    assert refused == [(f"{a}-{i}", "TooManyRequestsException", "FunctionInvocationRateLimitExceeded")
                       for i in range(4, 7)]
    # b has room of its own, but the node's 6,000 bytes run out after two more.
    for i in range(3):
        send(b, i, 4)
    assert accepted[4:] == [f"{b}-0", f"{b}-1"], (accepted, refused)
    assert refused[-1] == (f"{b}-2", "TooManyRequestsException", "FunctionInvocationRateLimitExceeded")
    # Synchronous invokes are not queued: they still run.
    assert call(lam, a, {}) == {"pong": True}
    # Every accepted event runs; once they are done the queue takes events again.
    deadline = time.monotonic() + 40
    while True:
        ran = {line.split("RAN ", 1)[1].strip() for f in (a, b) for line in function_logs(n, f).splitlines()
               if "RAN " in line}
        if set(accepted) <= ran:
            break
        assert time.monotonic() < deadline, (sorted(accepted), sorted(ran))
        time.sleep(0.5)
    assert not ran - set(accepted), ran - set(accepted)
    deadline = time.monotonic() + 10
    while True:
        before = len(accepted)
        send(a, 100 + len(accepted), 0)
        if len(accepted) > before:
            break
        assert time.monotonic() < deadline, "the queue did not give its bytes back"
        time.sleep(0.2)
    by.finish()
