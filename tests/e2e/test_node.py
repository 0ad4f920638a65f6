"""`ignis up` and `ignis env` as a user runs them: restart, lock, signals, the AWS CLI."""

import json
import os
import signal
import subprocess

import pytest

from conftest import ROLE, Node, create, ignis_binary, settled


def test_functions_survive_a_restart(fresh_node, tmp_path, hello_zip):
    data = tmp_path / "keep"
    a = fresh_node(data)
    create(a.client(), "survivor", hello_zip, Environment={"Variables": {"KK": "v"}}, Tags={"t": "1"})
    c = settled(a.client(), "survivor")
    assert a.stop() == 0
    b = fresh_node(data)
    got = b.client().get_function(FunctionName="survivor")
    assert got["Configuration"]["RevisionId"] == c["RevisionId"]
    assert got["Configuration"]["Environment"] == {"Variables": {"KK": "v"}}
    assert got["Tags"] == {"t": "1"}


def test_second_node_on_the_same_data_dir_is_refused(fresh_node, tmp_path):
    data = tmp_path / "shared"
    fresh_node(data)
    p = subprocess.run([ignis_binary(), "up", "--listen", "127.0.0.1:0", "--data-dir", str(data)],
                       capture_output=True, timeout=30,
                       env={**os.environ, "IGNIS_ACCESS_KEY_ID": "A", "IGNIS_SECRET_ACCESS_KEY": "B"})
    assert p.returncode != 0
    assert b"already running" in p.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_down_cleanly(fresh_node, sig):
    assert fresh_node().stop(sig) == 0


def test_generated_credentials_are_private_and_env_prints_them(tmp_path):
    data = tmp_path / "gen"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IGNIS_", "AWS_"))}
    proc = subprocess.Popen([ignis_binary(), "up", "--listen", "127.0.0.1:0", "--data-dir", str(data)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    printed = b""
    for line in proc.stdout:
        printed += line
        if b"listening on" in line:
            break
    endpoint = printed.decode().split("listening on ")[1].split()[0]
    try:
        creds = json.loads((data / "credentials").read_text())
        assert (data / "credentials").stat().st_mode & 0o777 == 0o600
        assert creds["secret_access_key"].encode() in printed
        host = endpoint.removeprefix("http://")
        out = subprocess.run([ignis_binary(), "env", "--data-dir", str(data), "--listen", host],
                             env=env, capture_output=True, check=True).stdout.decode()
        assert f"export AWS_ENDPOINT_URL={endpoint}" in out
        assert f"export AWS_ACCESS_KEY_ID={creds['access_key_id']}" in out
        assert "export AWS_REGION=us-east-1" in out and "export AWS_DEFAULT_REGION=us-east-1" in out
        # eval "$(ignis env)" then the AWS CLI.
        script = f'eval "$({ignis_binary()} env --data-dir {data} --listen {host})" && aws lambda list-functions'
        r = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == {"Functions": []}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def aws(node, *args, check=True):
    r = subprocess.run(["aws", "lambda", *args, "--output", "json"], env=node.aws_env(),
                       capture_output=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def test_aws_cli_create_list_get_update_delete(node, tmp_path, hello_zip):
    z = tmp_path / "hello.zip"
    z.write_bytes(hello_zip)
    c = json.loads(aws(node, "create-function", "--function-name", "cli-fn", "--runtime", "python3.11",
                       "--handler", "app.handler", "--zip-file", f"fileb://{z}", "--role", ROLE).stdout)
    assert c["FunctionName"] == "cli-fn"
    listed = json.loads(aws(node, "list-functions").stdout)
    assert "cli-fn" in [f["FunctionName"] for f in listed["Functions"]]
    u = json.loads(aws(node, "update-function-configuration", "--function-name", "cli-fn",
                       "--environment", "Variables={XX=1}").stdout)
    assert u["Environment"]["Variables"] == {"XX": "1"}
    aws(node, "delete-function", "--function-name", "cli-fn")
    r = aws(node, "get-function", "--function-name", "cli-fn", check=False)
    assert r.returncode != 0 and b"ResourceNotFoundException" in r.stderr
