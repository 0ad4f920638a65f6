"""Conformance with AWS's own answers, as LocalStack's snapshot suite recorded them on real AWS
(tests/aws/services/lambda_/test_lambda_api.snapshot.json there): the Pending -> Active
lifecycle the waiters rely on, runtimes AWS no longer accepts, model validation before anything
Ignis refuses for itself, the exact members of error bodies, and ARNs of another region."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

import raw
from conftest import ROLE, create, make_zip, missing, settled

PENDING = {"State": "Pending", "StateReason": "The function is being created.",
           "StateReasonCode": "Creating"}
IN_PROGRESS = {"LastUpdateStatus": "InProgress",
               "LastUpdateStatusReason": "The function is being created.",
               "LastUpdateStatusReasonCode": "Creating"}
STATE_KEYS = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus",
              "LastUpdateStatusReason", "LastUpdateStatusReasonCode")


def states(c):
    return {k: c[k] for k in STATE_KEYS if k in c}


def body_of(e):
    """The modelled members botocore lifted out of an error body (besides Error/metadata)."""
    return {k: v for k, v in e.value.response.items() if k not in ("Error", "ResponseMetadata")}


# ---- Pending -> Active ---------------------------------------------------------------------


def test_create_answers_pending_then_turns_active(lam, fname, hello_zip):
    c = create(lam, fname, hello_zip)
    assert states(c) == PENDING, "no LastUpdateStatus while being created, as on AWS"
    active = settled(lam, fname)
    assert states(active) == {"State": "Active", "LastUpdateStatus": "Successful"}
    # Turning Active is a stored change: a new RevisionId, as AWS's recordings show.
    assert active["RevisionId"] != c["RevisionId"]
    got = lam.get_function(FunctionName=fname)["Configuration"]
    assert states(got) == {"State": "Active", "LastUpdateStatus": "Successful"}
    assert got["RevisionId"] == active["RevisionId"]


def test_waiters_see_the_transition(lam, fname, hello_zip):
    c = create(lam, fname, hello_zip)
    assert c["State"] == "Pending"
    lam.get_waiter("function_exists").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    lam.get_waiter("function_active_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    lam.get_waiter("function_active").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert lam.get_function(FunctionName=fname)["Configuration"]["State"] == "Active"


def aws_cli():
    cli = Path(sys.executable).parent / "aws"
    if not cli.exists():
        missing(f"the AWS CLI is not installed next to {sys.executable} (tests/requirements.txt)")
    return str(cli)


def test_aws_cli_waits_for_function_active_v2(node, lam, fname, hello_zip):
    cli = aws_cli()
    c = create(lam, fname, hello_zip)
    assert c["State"] == "Pending"
    p = subprocess.run([cli, "lambda", "wait", "function-active-v2", "--function-name", fname],
                       env=node.aws_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([cli, "lambda", "get-function-configuration", "--function-name", fname,
                        "--query", "[State, LastUpdateStatus]", "--output", "json"],
                       env=node.aws_env(), capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(p.stdout) == ["Active", "Successful"]


def test_invoke_right_after_create_waits_for_active(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    r = lam.invoke(FunctionName=fname, Payload=b'{"n": 1}')
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"n": 1}
    assert lam.get_function_configuration(FunctionName=fname)["State"] == "Active"


def test_updates_answer_in_progress_then_successful(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    before = settled(lam, fname)
    u = lam.update_function_configuration(FunctionName=fname, Timeout=7)
    assert states(u) == {"State": "Active", **IN_PROGRESS}
    after = settled(lam, fname)
    assert after["Timeout"] == 7 and len({before["RevisionId"], u["RevisionId"], after["RevisionId"]}) == 3
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 3})

    new_zip = make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"})
    u = lam.update_function_code(FunctionName=fname, ZipFile=new_zip)
    assert states(u) == {"State": "Active", **IN_PROGRESS}
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    assert states(settled(lam, fname)) == {"State": "Active", "LastUpdateStatus": "Successful"}
    assert json.loads(lam.invoke(FunctionName=fname)["Payload"].read()) == "v2"


def test_writes_right_after_create_still_settle(lam, fname, hello_zip):
    # A policy change or an update that lands before the create settled copies the unsettled
    # configuration; the function must still turn Active.
    create(lam, fname, hello_zip)
    lam.add_permission(FunctionName=fname, StatementId="s", Action="lambda:InvokeFunction",
                       Principal="sns.amazonaws.com")
    lam.update_function_configuration(FunctionName=fname, Description="soon")
    assert states(settled(lam, fname)) == {"State": "Active", "LastUpdateStatus": "Successful"}


def test_states_survive_a_restart(fresh_node, tmp_path, hello_zip):
    data = tmp_path / "keep"
    a = fresh_node(data)
    create(a.client(), "stays", hello_zip)
    c = settled(a.client(), "stays")
    assert a.stop() == 0
    b = fresh_node(data)
    got = b.client().get_function_configuration(FunctionName="stays")
    assert states(got) == {"State": "Active", "LastUpdateStatus": "Successful"}
    assert got["RevisionId"] == c["RevisionId"]


# ---- Runtimes AWS no longer accepts ----------------------------------------------------------

BLOCKED = ["python3.7", "python3.6", "python2.7", "nodejs14.x", "nodejs12.x", "nodejs10.x",
           "go1.x", "java8", "provided", "dotnetcore3.1", "dotnetcore2.1", "ruby2.7", "ruby2.5"]


def deprecation(runtime):
    return (f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions.")


@pytest.mark.parametrize("runtime", BLOCKED)
def test_deprecated_runtimes_are_refused_on_create(lam, fname, hello_zip, runtime):
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, fname, hello_zip, Runtime=runtime)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Message"] == deprecation(runtime)
    assert body_of(e) == {"Type": "User", "message": deprecation(runtime)}


def test_deprecated_runtimes_are_refused_on_update(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_configuration(FunctionName=fname, Runtime="nodejs14.x")
    assert e.value.response["Error"]["Message"] == deprecation("nodejs14.x")
    assert lam.get_function_configuration(FunctionName=fname)["Runtime"] == "python3.11"


# ---- Model validation first -------------------------------------------------------------------


@pytest.fixture(scope="module")
def loose(node):
    """A client without botocore's own parameter validation, so Ignis's is what answers."""
    return node.client(validate=False)


def test_one_validation_error(loose, fname, hello_zip):
    with pytest.raises(loose.exceptions.ClientError) as e:
        create(loose, fname, hello_zip, MemorySize=1)
    assert e.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value '1' at 'memorySize' failed to satisfy "
                   "constraint: Member must have value greater than or equal to 128"}


def test_several_validation_errors_are_reported_together(loose, fname, hello_zip):
    with pytest.raises(loose.exceptions.ClientError) as e:
        create(loose, fname, hello_zip, MemorySize=1, Timeout=0)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == (
        "2 validation errors detected: "
        "Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; "
        "Value '1' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128")


def test_validation_comes_before_what_ignis_does_not_have(loose, fname, hello_zip):
    # VpcConfig is refused as not supported by Ignis yet — but only a valid request gets that far.
    vpc = {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    with pytest.raises(loose.exceptions.ClientError) as e:
        create(loose, fname, hello_zip, MemorySize=1, VpcConfig=vpc)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(loose.exceptions.ClientError) as e:
        create(loose, fname, hello_zip, Architectures=["X86_64"], VpcConfig=vpc)
    assert e.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value '[X86_64]' at 'architectures' failed to "
                   "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum "
                   "value set: [x86_64, arm64], Member must not be null]"}
    # AWS's own refusals come first too.
    with pytest.raises(loose.exceptions.InvalidParameterValueException) as e:
        create(loose, fname, hello_zip, Runtime="go1.x", VpcConfig=vpc)
    assert e.value.response["Error"]["Message"] == deprecation("go1.x")
    # And on update.
    create(loose, fname, hello_zip)
    with pytest.raises(loose.exceptions.ClientError) as e:
        loose.update_function_configuration(FunctionName=fname, MemorySize=99_999, VpcConfig=vpc)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'memorySize'" in e.value.response["Error"]["Message"]


def test_validation_comes_before_runtime_availability(node, loose, fname, hello_zip):
    absent = "java21"
    assert absent not in node.runtimes
    with pytest.raises(loose.exceptions.ClientError) as e:
        create(loose, fname, hello_zip, Runtime=absent, Timeout=0)
    assert e.value.response["Error"]["Code"] == "ValidationException"


# ---- Error bodies carry exactly AWS's members -------------------------------------------------


def exact_body(node, method, path, body=b"", **kw):
    r = raw.request(node.endpoint, method, path, body, **kw)
    return r.status, r.error_type, r.json()


def test_error_bodies_have_exactly_the_members_aws_sends(node, lam, fname, hello_zip):
    status, ty, body = exact_body(node, "GET", "/2015-03-31/functions/does-not-exist")
    assert (status, ty, set(body)) == (404, "ResourceNotFoundException", {"Type", "Message"})
    assert body["Type"] == "User"

    create(lam, fname, hello_zip)
    status, ty, body = exact_body(node, "PUT", f"/2015-03-31/functions/{fname}/configuration",
                                  json.dumps({"MemorySize": 1}).encode(),
                                  headers={"Content-Type": "application/json"})
    assert (status, ty, set(body)) == (400, "ValidationException", {"message"})

    status, ty, body = exact_body(node, "PUT", f"/2015-03-31/functions/{fname}/configuration",
                                  json.dumps({"Runtime": "python3.7"}).encode(),
                                  headers={"Content-Type": "application/json"})
    assert (status, ty, set(body)) == (400, "InvalidParameterValueException", {"Type", "message"})

    spec = {"FunctionName": fname, "Runtime": "python3.11", "Handler": "app.handler", "Role": ROLE,
            "Code": {"ZipFile": base64.b64encode(hello_zip).decode()}}
    status, ty, body = exact_body(node, "POST", "/2015-03-31/functions", json.dumps(spec).encode(),
                                  headers={"Content-Type": "application/json"})
    assert (status, ty, set(body)) == (409, "ResourceConflictException", {"Type", "message"})

    status, ty, body = exact_body(node, "PUT", f"/2015-03-31/functions/{fname}/configuration",
                                  json.dumps({"Timeout": 5, "RevisionId": "stale"}).encode(),
                                  headers={"Content-Type": "application/json"})
    assert (status, ty, set(body)) == (412, "PreconditionFailedException", {"Type", "message"})

    status, ty, body = exact_body(node, "GET", "/2015-03-31/functions/", secret_key="wrong" * 8)
    assert status == 403 and ty in ("InvalidSignatureException", "UnrecognizedClientException")
    assert set(body) == {"message"}


# ---- ARNs of another region ------------------------------------------------------------------


def test_an_arn_of_another_region_is_not_reachable(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{fname}"
    message = "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"
    for call in (lambda: lam.get_function(FunctionName=arn),
                 lambda: lam.get_function_configuration(FunctionName=arn),
                 lambda: lam.invoke(FunctionName=arn),
                 lambda: lam.delete_function(FunctionName=arn)):
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert e.value.response["Error"]["Message"] == message
        assert body_of(e) == {"Type": "User", "Message": message}
    # Nothing was deleted: the function of this region is still there.
    assert lam.get_function(FunctionName=fname)["Configuration"]["FunctionName"] == fname
