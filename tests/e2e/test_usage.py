"""Usage metering: requests and GB-seconds per function, as `ignis usage` prints them."""

import base64
import re
import subprocess

from conftest import create, ignis_binary


def usage(node):
    out = subprocess.run([ignis_binary(), "usage", "--data-dir", str(node.data_dir)],
                         capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines()[1:]:
        name, requests, gb_s = line.split()
        rows[name] = (int(requests), float(gb_s))
    return out, rows


def test_requests_and_gb_seconds_are_metered_per_function(fresh_node, hello_zip):
    n = fresh_node()
    c = n.client()
    create(c, "metered", hello_zip, MemorySize=256)
    create(c, "other", hello_zip, MemorySize=1024)
    billed = []
    for i in range(3):
        r = c.invoke(FunctionName="metered", Payload=b"{}", LogType="Tail")
        log = base64.b64decode(r["LogResult"]).decode()
        billed.append(int(re.search(r"Billed Duration: (\d+) ms", log).group(1)))
    r = c.invoke(FunctionName="other", Payload=b"{}", LogType="Tail")
    other_billed = int(re.search(r"Billed Duration: (\d+) ms", base64.b64decode(r["LogResult"]).decode()).group(1))
    # A clean stop writes what was counted since the last periodic flush.
    assert n.stop() == 0
    out, rows = usage(n)
    assert out.splitlines()[0].split() == ["FUNCTION", "REQUESTS", "GB-SECONDS"]
    assert rows["metered"][0] == 3
    assert abs(rows["metered"][1] - sum(billed) * 256 / 1024 / 1000) < 1e-6, (rows, billed)
    assert rows["other"] == (1, round(other_billed * 1024 / 1024 / 1000, 6))
    # It adds up across restarts.
    again = fresh_node(n.data_dir)
    again.client().invoke(FunctionName="metered", Payload=b"{}")
    again.stop()
    assert usage(again)[1]["metered"][0] == 4
