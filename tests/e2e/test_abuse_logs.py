"""Abuse: functions that log faster than the node can write.

Six functions write 256 KiB lines as fast as they can for ~10 s. The node's log queue is bounded
in bytes, per function and in all, so the server's RSS stays bounded during the storm and goes back
near its idle size after it (jemalloc, with its background purging thread); the stormers lose their
own lines and are told so in their own log streams; a bystander function's warm invokes keep
succeeding throughout.
"""

import json
import re
import threading
import time

from abuse import function_logs
from conftest import create, make_zip

MIB = 1024 * 1024
STORMERS = 6
STORM_SECONDS = 10
# Bounds asserted: during the storm, idle + this; after it (polled), within a small factor of idle.
PEAK_ABOVE_IDLE = 200 * MIB
SETTLE_FACTOR = 2.0
SETTLE_SLACK = 16 * MIB
SETTLE_WITHIN = 45

STORM = r'''
import os, time
LINE = b"x" * (256 * 1024 - 1) + b"\n"
def handler(event, context):
    end = time.monotonic() + event.get("seconds", 0)
    n = 0
    while time.monotonic() < end:
        os.write(1, LINE)
        n += 1
    return {"lines": n, "stream": context.log_stream_name}
'''

HELLO = "def handler(event, context):\n    return {'ok': event.get('n')}\n"


def log_lines(node, name):
    """(stream, message) of every record of the function's group."""
    out = function_logs(node, name)
    records = []
    for line in out.splitlines():
        # "<time> <stream> <message>"
        parts = line.split(" ", 2)
        if len(parts) == 3:
            records.append((parts[1], parts[2]))
    return records


def test_a_log_storm_costs_the_server_bounded_memory_that_it_returns(fresh_node, fname):
    node = fresh_node()
    lam = node.client()
    stormers = [f"{fname}-storm{i}" for i in range(STORMERS)]
    bystander = f"{fname}-bystander"
    for name in stormers:
        create(lam, name, make_zip({"app.py": STORM}), Timeout=60)
    create(lam, bystander, make_zip({"app.py": HELLO}))
    # Warm every environment, so that idle is a node with all of them up.
    for name in stormers + [bystander]:
        for _ in range(30):
            try:
                r = lam.invoke(FunctionName=name, Payload=b'{"seconds": 0}')
                break
            except lam.exceptions.ResourceConflictException:
                time.sleep(0.2)  # still Pending
        assert "FunctionError" not in r, r
    time.sleep(2)
    def rss():
        return node.rss_mib() * MIB

    idle = rss()

    samples = []  # (t, rss)
    stop = threading.Event()
    t0 = time.monotonic()

    def sample():
        while not stop.is_set():
            samples.append((time.monotonic() - t0, rss()))
            time.sleep(0.2)

    bystander_ok = []
    bystander_errors = []

    def bystand():
        client = node.client()
        n = 0
        while not stop.is_set():
            n += 1
            started = time.monotonic()
            try:
                r = client.invoke(FunctionName=bystander, Payload=f'{{"n": {n}}}'.encode())
                body = r["Payload"].read()
                if "FunctionError" in r or body != f'{{"ok": {n}}}'.encode():
                    bystander_errors.append((n, r.get("FunctionError"), body[:200]))
                else:
                    bystander_ok.append((started - t0, time.monotonic() - started))
            except Exception as e:  # noqa: BLE001 (every failure is an error the test reports)
                bystander_errors.append((n, repr(e)))
            time.sleep(0.05)

    results = {}

    def storm(name):
        client = node.client()  # read timeout 120 s: the invoke lasts the whole storm
        try:
            r = client.invoke(FunctionName=name, Payload=f'{{"seconds": {STORM_SECONDS}}}'.encode())
            results[name] = (r.get("FunctionError"), r["Payload"].read())
        except Exception as e:  # noqa: BLE001
            results[name] = ("exception", repr(e))

    threads = [threading.Thread(target=sample), threading.Thread(target=bystand)]
    for t in threads:
        t.start()
    storms = [threading.Thread(target=storm, args=(name,)) for name in stormers]
    for t in storms:
        t.start()
    for t in storms:
        t.join(timeout=90)
    storm_end = time.monotonic() - t0
    # The bystander keeps going a little after the storm, while the writer catches up.
    time.sleep(2)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    peak = max(r for _, r in samples)

    # Memory is given back: poll until RSS is near idle again.
    bound_after = max(idle * SETTLE_FACTOR, idle + SETTLE_SLACK)
    settled_at, after = None, None
    deadline = time.monotonic() + SETTLE_WITHIN
    while time.monotonic() < deadline:
        after = rss()
        if after <= bound_after:
            settled_at = time.monotonic() - t0 - storm_end
            break
        time.sleep(0.5)
    print(f"\nRSS idle {idle / MIB:.1f} MiB, peak {peak / MIB:.1f} MiB during the storm, "
          f"{after / MIB:.1f} MiB at {'%.1f s' % settled_at if settled_at else 'timeout'} after it; "
          f"bystander {len(bystander_ok)} ok (max {max((d for _, d in bystander_ok), default=0):.2f} s), "
          f"{len(bystander_errors)} errors")

    for name in stormers:
        err, body = results[name]
        assert err is None, (name, err, body)
    assert peak <= idle + PEAK_ABOVE_IDLE, f"peak {peak / MIB:.1f} MiB, idle {idle / MIB:.1f} MiB"
    assert settled_at is not None, (
        f"RSS {after / MIB:.1f} MiB {SETTLE_WITHIN} s after the storm, idle {idle / MIB:.1f} MiB")

    # The bystander was served throughout the storm, without an error.
    assert not bystander_errors, bystander_errors[:5]
    during = [d for t, d in bystander_ok if t < storm_end]
    assert len(during) >= STORM_SECONDS, f"only {len(during)} bystander invokes during the storm"

    # Each stormer lost its own lines and was told so, in its own stream.
    for name in stormers[:2]:
        stream = json.loads(results[name][1])["stream"]
        records = log_lines(node, name)
        reports = [m for s, m in records if m.startswith("IGNIS: dropped")]
        assert reports, f"{name}: no dropped-lines report in {len(records)} records"
        assert all(s == stream for s, m in records if m.startswith("IGNIS: dropped"))
        assert re.fullmatch(r"IGNIS: dropped \d+ log lines? \(\d+(\.\d)? (B|KiB|MiB|GiB)\) because .+",
                            reports[-1]), reports[-1]
    assert not [m for _, m in log_lines(node, bystander) if m.startswith("IGNIS: dropped")]
