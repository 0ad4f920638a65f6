"""A data directory written by the first release opens and serves after an upgrade (its queued
event is checked by the store's own test, since an event that old is past its maximum age)."""

import json
import shutil
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "data-dir-v1"


def test_a_data_directory_of_the_first_release_opens_and_serves(fresh_node, tmp_path):
    data = tmp_path / "upgraded"
    shutil.copytree(FIXTURE, data)
    n = fresh_node(data)
    lam = n.client()

    kept = lam.get_function(FunctionName="kept")
    config = kept["Configuration"]
    assert config["Description"] == "written by the first release"
    assert config["Environment"]["Variables"] == {"COLOUR": "blue"}
    assert config["State"] == "Active"
    assert [l["Arn"].rsplit(":", 2)[-2:] for l in config["Layers"]] == [["greeting", "1"]]
    assert kept["Tags"] == {"team": "upgrade"}
    assert kept["Concurrency"]["ReservedConcurrentExecutions"] == 5
    assert lam.get_alias(FunctionName="kept", Name="live")["FunctionVersion"] == "1"
    policy = json.loads(lam.get_policy(FunctionName="kept", Qualifier="live")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["s3"]

    r = lam.invoke(FunctionName="kept", Qualifier="live", Payload=b'{"n": 1}')
    assert "FunctionError" not in r, r["Payload"].read()
    assert json.loads(r["Payload"].read()) == {"word": "hello", "event": {"n": 1}}

    # And the upgraded directory takes new writes.
    lam.update_function_configuration(FunctionName="kept", Description="upgraded")
    assert lam.get_function_configuration(FunctionName="kept")["Description"] == "upgraded"
