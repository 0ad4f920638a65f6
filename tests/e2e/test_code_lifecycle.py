"""Code stays while it is used: a deploy never breaks a request in flight."""

import json
import threading
import time

from conftest import create, make_zip

READER = """
import json, os, time

def handler(event, context):
    time.sleep(event["delay"])
    with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "data.txt")) as f:
        return {"data": f.read()}
"""


def package(n):
    return make_zip({"app.py": READER, "data.txt": f"v{n}"})


def test_reads_of_var_task_survive_an_update_code_storm(lam, fname):
    create(lam, fname, package(0), Timeout=30)
    lam.get_waiter("function_active_v2").wait(FunctionName=fname)
    results, errors = [], []

    def call(delay):
        try:
            r = lam.invoke(FunctionName=fname, Payload=json.dumps({"delay": delay}))
            body = json.loads(r["Payload"].read())
            (errors if "FunctionError" in r else results).append(body)
        except Exception as e:  # noqa: BLE001 - every failure is reported below
            errors.append(repr(e))

    rounds = []
    for n in range(1, 5):
        # Invocations started on the current code, reading it after the next deploys.
        batch = [threading.Thread(target=call, args=(1.5,)) for _ in range(2)]
        for t in batch:
            t.start()
        rounds += batch
        time.sleep(0.5)
        lam.update_function_code(FunctionName=fname, ZipFile=package(n))
        lam.get_waiter("function_updated_v2").wait(FunctionName=fname)
    for t in rounds:
        t.join()
    assert not errors, errors
    assert len(results) == 8
    assert all(r["data"].startswith("v") for r in results), results
    # After the storm the function runs the last code.
    r = lam.invoke(FunctionName=fname, Payload=json.dumps({"delay": 0}))
    assert json.loads(r["Payload"].read()) == {"data": "v4"}
