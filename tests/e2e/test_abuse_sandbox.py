"""The sandbox's identity, probed from inside as an attacker would: what `/proc/self/mountinfo`
and host-wide `/proc` files reveal of the host (its memory, uptime, CPU counters, load and other
tenants' processes), and whether the function's uid could be a host account's.

Sandbox-only, skipped (or failed under `CI=true`) exactly as tests/e2e/test_sandbox.py is.
"""

import base64
import os
import re
import threading
import time

import pytest

from conftest import ROOT, create, make_zip, missing
from test_sandbox import invoke, ok, unsandboxed

PROBE = r'''
import os
import time

def read(path):
    try:
        with open(path, "rb") as f:
            return {"data": f.read(1 << 20).decode(errors="replace")}
    except OSError as e:
        return {"errno": e.errno}

def listdir(path):
    try:
        return {"entries": sorted(os.listdir(path))}
    except OSError as e:
        return {"errno": e.errno}

def write(path):
    try:
        with open(path, "w") as f:
            f.write("c")
        return 0
    except OSError as e:
        return e.errno

def handler(event, context):
    return {
        "uid": os.getuid(), "gid": os.getgid(),
        "files": {p: read(p) for p in event.get("files", [])},
        "dirs": {p: listdir(p) for p in event.get("dirs", [])},
        "writes": {p: write(p) for p in event.get("writes", [])},
        "clocks": {
            "cpu_count": os.cpu_count(), "loadavg": os.getloadavg(), "time": time.time(),
            "boottime": time.clock_gettime(time.CLOCK_BOOTTIME),
            "monotonic": time.clock_gettime(time.CLOCK_MONOTONIC),
        },
    }
'''

NODE_PROBE = r'''
const fs = require("fs");
const os = require("os");
exports.handler = async () => ({
  cpus: os.cpus().length, uptime: os.uptime(), loadavg: os.loadavg(),
  hrtime_s: Number(process.hrtime.bigint() / 1000000n) / 1000,
  stat: fs.readFileSync("/proc/stat", "utf8"),
  boot_id: fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8"),
});
'''

# Host-wide files Docker (and Ignis) mask, and directories it hides.
MASKED_FILES = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/kallsyms",
                "/proc/modules", "/proc/vmallocinfo", "/proc/diskstats", "/proc/locks", "/proc/cmdline",
                "/proc/zoneinfo", "/proc/vmstat", "/proc/interrupts"]
MASKED_DIRS = ["/proc/acpi", "/proc/scsi", "/proc/asound"]
# What the environment's own file systems are called in its mountinfo.
OWN_SOURCES = {"ignis-root", "ignis", "ignis-view", "ignis-tmp", "proc", "tmpfs"}


@pytest.fixture(scope="module")
def probe_zip():
    return make_zip({"app.py": PROBE})


@pytest.fixture
def sandboxed(node):
    if not node.sandboxed:
        unsandboxed(f"functions on this node are not sandboxed ({node.isolation}): run as root "
                    "on a host with namespaces and cgroups")
    return node


def mountinfo_lines(text):
    """(root, mount point, fs type, source, super options) of each line."""
    out = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        f = left.split()
        fstype, source, options = right.split(" ", 2)
        out.append((f[3], f[4], fstype, source, options))
    return out


def host_ids():
    """Every uid and gid of /etc/passwd and /etc/group, and every /etc/subuid, /etc/subgid range."""
    ids, ranges = set(), []
    for path in ("/etc/passwd", "/etc/group"):
        with open(path) as f:
            for line in f:
                parts = line.split(":")
                if len(parts) > 2 and parts[2].isdigit():
                    ids.add(int(parts[2]))
    for path in ("/etc/subuid", "/etc/subgid"):
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        ranges.append(range(int(parts[1]), int(parts[1]) + int(parts[2])))
    return ids, ranges


def test_mountinfo_names_no_host_path_or_code_hash(sandboxed, lam, fname, probe_zip):
    create(lam, fname, probe_zip, MemorySize=256)
    sha = lam.get_function(FunctionName=fname)["Configuration"]["CodeSha256"]
    body = ok(invoke(lam, fname, {"files": ["/proc/self/mountinfo"]}))
    text = body["files"]["/proc/self/mountinfo"]["data"]
    lines = mountinfo_lines(text)
    points = {p for _, p, _, _, _ in lines}
    # The mounts that used to show host paths are all there.
    assert {"/", "/usr", "/var/task", "/var/runtime", "/tmp", "/proc", "/dev"} <= points, text
    data = str(sandboxed.data_dir)
    for f in [data, os.path.realpath(data), str(sandboxed.data_dir.parent), str(ROOT), os.getcwd(),
              sha, base64.b64decode(sha).hex()]:
        assert f not in text, (f, text)
    # Mount points are guest paths (an interpreter outside /usr is shown at its host path, by
    # design); what is mounted there names nothing of the host.
    described = "\n".join(" ".join((root, source, options)) for root, _, _, source, options in lines)
    for f in ["/dev/vd", "/dev/sd", "/dev/nvme", "/dev/loop", "/dev/mapper", "/var/lib/docker", "/home", "/root",
              "/tmp/", "/work"]:
        assert f not in described, (f, text)
    for root, point, fstype, source, options in lines:
        # A root other than its file system's own is a path on that file system: only the
        # environment's own small tmpfs may have them (its masks and views).
        assert root == "/" or source == "ignis-view", (root, point, text)
        assert source in OWN_SOURCES, (source, point, text)
        for lower in re.findall(r"lowerdir=([^,]*)", options):
            assert not any(layer.startswith("/") or ".." in layer for layer in lower.split(":")), text


def test_proc_shows_the_functions_memory_and_masks_the_hosts_files(sandboxed, lam, fname, probe_zip):
    for mb in (128, 512):
        create(lam, f"{fname}-{mb}", probe_zip, MemorySize=mb)
        body = ok(invoke(lam, f"{fname}-{mb}", {
            "files": ["/proc/meminfo", "/proc/partitions", "/proc/swaps", *MASKED_FILES],
            "dirs": MASKED_DIRS,
            "writes": ["/proc/sysrq-trigger", "/proc/meminfo"],
        }))
        meminfo = body["files"]["/proc/meminfo"]["data"]
        field = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+):\s+(\d+) kB$", meminfo, re.M)}
        assert field["MemTotal"] == mb * 1024, meminfo
        assert field["MemFree"] <= field["MemAvailable"] <= field["MemTotal"], meminfo
        with open("/proc/meminfo") as f:
            host_total = int(re.search(r"^MemTotal:\s+(\d+)", f.read(), re.M).group(1))
        assert host_total != mb * 1024
        checked = 0
        for p in MASKED_FILES:
            if not os.path.exists(p):
                continue
            checked += 1
            got = body["files"][p]
            assert got.get("data", "") == "", (p, got["data"][:200])
        for p in MASKED_DIRS:
            if not os.path.exists(p):
                continue
            checked += 1
            assert body["dirs"][p].get("entries", []) == [], (p, body["dirs"][p])
        # No host disk, no other environment's /tmp device, no host swap file.
        assert body["files"]["/proc/partitions"]["data"].split() == ["major", "minor", "#blocks", "name"]
        assert body["files"]["/proc/swaps"]["data"].splitlines()[1:] == []
        # The host has some of these: the test checked something.
        assert checked >= 3, checked
        assert all(e != 0 for e in body["writes"].values()), body["writes"]


def test_the_boot_id_is_the_environments_own(sandboxed, lam, fname, probe_zip):
    boot_id = "/proc/sys/kernel/random/boot_id"
    with open(boot_id) as f:
        host = f.read().strip()
    seen = []
    for i in range(2):
        create(lam, f"{fname}-{i}", probe_zip)
        seen.append(ok(invoke(lam, f"{fname}-{i}", {"files": [boot_id]}))["files"][boot_id]["data"].strip())
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", b) for b in seen), seen
    # Two functions cannot tell that they share a host.
    assert host not in seen and seen[0] != seen[1], (host, seen)


def test_proc_self_cgroup_names_neither_node_nor_environment(sandboxed, lam, fname, probe_zip):
    create(lam, fname, probe_zip)
    body = ok(invoke(lam, fname, {"files": ["/proc/self/cgroup", "/proc/1/cgroup"]}))
    for p in ("/proc/self/cgroup", "/proc/1/cgroup"):
        lines = body["files"][p]["data"].splitlines()
        assert lines and all(line.endswith(":/") for line in lines), (p, lines)


def test_the_functions_uid_is_no_host_account(sandboxed, lam, fname, probe_zip):
    create(lam, fname, probe_zip)
    body = ok(invoke(lam, fname, {}))
    uid, gid = body["uid"], body["gid"]
    assert uid == gid and uid >= 65536, body
    ids, ranges = host_ids()
    # Not the uid itself, nor anything of the 65,536-id block it comes from.
    block = range(uid - uid % 65536, uid - uid % 65536 + 65536)
    assert not any(i in block for i in ids), (uid, sorted(i for i in ids if i in block))
    assert not any(r.start < block.stop and block.start < r.stop for r in ranges), (uid, ranges)
    # The node holds its block's lock.
    assert os.path.exists(f"/run/ignis/uid-blocks/{block.start}.lock")


def test_two_nodes_started_at_once_get_different_uid_blocks(sandboxed, fresh_node, tmp_path, probe_zip):
    nodes, errors = [None, None], []

    def start(i):
        try:
            nodes[i] = fresh_node(tmp_path / f"node{i}")
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    uids = []
    for n in nodes:
        assert n.sandboxed, n.isolation
        c = n.client()
        create(c, "who", probe_zip)
        uids.append(ok(invoke(c, "who", {}))["uid"])
    # Each in the range its node announced.
    for n, u in zip(nodes, uids):
        first, last = map(int, re.search(r"uids (\d+)-(\d+)", n.isolation).groups())
        assert first <= u <= last and last - first == 65534, (u, n.isolation)
    blocks = {u // 65536 for u in uids}
    # And neither is the session node's.
    create(sandboxed.client(), "who-session", probe_zip)
    blocks.add(ok(invoke(sandboxed.client(), "who-session", {}))["uid"] // 65536)
    assert len(blocks) == 3, uids


def stat_fields(text):
    """{name: [numbers]} of a /proc/stat."""
    return {f[0]: [int(x) for x in f[1:]] for f in (line.split() for line in text.splitlines()) if f}


def host_stat():
    with open("/proc/stat") as f:
        return stat_fields(f.read())


CLOCK_FILES = ["/proc/uptime", "/proc/stat", "/proc/loadavg", "/proc/cpuinfo", "/proc/sys/kernel/random/boot_id"]


def test_uptime_cpu_counters_and_load_are_the_environments_own(sandboxed, lam, fname, probe_zip):
    host = host_stat()
    create(lam, fname, probe_zip)
    started = time.time()
    first = ok(invoke(lam, fname, {"files": CLOCK_FILES}))
    answered = time.time()
    files, clocks = {p: v["data"] for p, v in first["files"].items()}, first["clocks"]
    # A fresh environment: its uptime and clocks start near 0 (the host has been up for longer).
    uptime = float(files["/proc/uptime"].split()[0])
    with open("/proc/uptime") as f:
        host_uptime = float(f.read().split()[0])
    assert 0 <= uptime < 60 and host_uptime > uptime + 1, (uptime, host_uptime)
    assert 0 <= clocks["boottime"] < 60 and 0 <= clocks["monotonic"] < 60, clocks
    # /proc/stat: booted when the environment started, one process, no counter of the host's.
    stat = stat_fields(files["/proc/stat"])
    btime = stat["btime"][0]
    assert int(started) - 1 <= btime <= answered + 1, (btime, started, answered)
    assert abs(btime + uptime - clocks["time"]) < 5, (btime, uptime, clocks["time"])
    assert host["btime"][0] < btime and host["processes"][0] > 1, host
    assert stat["processes"] == [1] and stat["procs_running"] == [1] and stat["procs_blocked"] == [0], stat
    assert stat["intr"] == [0] and stat["ctxt"] == [0] and set(stat["softirq"]) == {0}, stat
    cpus = sorted(k for k in stat if re.fullmatch(r"cpu\d+", k))
    shown = [int(n) for n in re.findall(r"^processor\s*:\s*(\d+)", files["/proc/cpuinfo"], re.M)]
    assert cpus == [f"cpu{n}" for n in sorted(shown)] and clocks["cpu_count"] == len(shown) >= 1, (cpus, shown)
    assert all(stat[c] == [0] * 10 for c in ["cpu", *cpus]), stat
    assert host["cpu"] != stat["cpu"]
    # No load, one task: the environment's init.
    assert files["/proc/loadavg"] == "0.00 0.00 0.00 1/1 1\n"
    # os.getloadavg() works; glibc takes it from sysinfo(2), not /proc/loadavg: the host's load,
    # which no /proc view changes (README, ARCHITECTURE.md).
    assert len(clocks["loadavg"]) == 3 and all(x >= 0 for x in clocks["loadavg"]), clocks
    # The same warm environment, later: its uptime has advanced, its boot has not moved.
    time.sleep(1.5)
    second = ok(invoke(lam, fname, {"files": CLOCK_FILES}))
    assert second["files"]["/proc/sys/kernel/random/boot_id"] == first["files"]["/proc/sys/kernel/random/boot_id"]
    later = float(second["files"]["/proc/uptime"]["data"].split()[0])
    assert uptime + 1.4 <= later < 60 + 30, (uptime, later)
    assert second["clocks"]["boottime"] >= clocks["boottime"] + 1.4, (clocks, second["clocks"])
    assert stat_fields(second["files"]["/proc/stat"]["data"])["btime"] == [btime]


def test_node_sees_the_environments_cpus_uptime_and_load(sandboxed, lam, fname):
    if "nodejs20.x" not in sandboxed.runtimes:
        missing("nodejs20.x is not installed on this host")
    create(lam, fname, make_zip({"index.js": NODE_PROBE}), Runtime="nodejs20.x", Handler="index.handler")
    first = ok(invoke(lam, fname, {}))
    cpus = [line for line in first["stat"].splitlines() if re.match(r"cpu\d+ ", line)]
    assert first["cpus"] == len(cpus) >= 1, first
    assert 0 <= first["uptime"] < 60 and 0 <= first["hrtime_s"] < 60, first
    assert first["loadavg"] == [0, 0, 0], first
    time.sleep(1.5)
    second = ok(invoke(lam, fname, {}))
    assert second["boot_id"] == first["boot_id"]
    assert second["uptime"] >= first["uptime"] + 1, (first["uptime"], second["uptime"])
