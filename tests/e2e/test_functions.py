"""The functions API driven by boto3: shapes, name forms, updates, errors, pagination."""

import base64
import hashlib
import json
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

import raw
from conftest import ROLE, create, make_zip, settled

LAST_MODIFIED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def code(e):
    return e.value.response["Error"]["Code"]


def test_create_returns_the_full_configuration(lam, fname, hello_zip):
    c = create(lam, fname, hello_zip, Description="d", Timeout=10, MemorySize=256,
               Environment={"Variables": {"AA": "1"}}, Tags={"team": "x"},
               EphemeralStorage={"Size": 1024}, Architectures=["arm64"],
               TracingConfig={"Mode": "Active"},
               LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    assert c["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert c["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{fname}"
    assert c["CodeSha256"] == base64.b64encode(hashlib.sha256(hello_zip).digest()).decode()
    assert c["CodeSize"] == len(hello_zip)
    assert LAST_MODIFIED.match(c["LastModified"])
    assert c["Version"] == "$LATEST"
    assert (c["Timeout"], c["MemorySize"], c["Description"]) == (10, 256, "d")
    assert c["Environment"] == {"Variables": {"AA": "1"}}
    assert c["EphemeralStorage"] == {"Size": 1024}
    assert c["Architectures"] == ["arm64"]
    assert c["TracingConfig"] == {"Mode": "Active"}
    # JSON gets SystemLogLevel INFO when it is not given, as on AWS.
    assert c["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                                  "SystemLogLevel": "INFO", "LogGroup": f"/aws/lambda/{fname}"}
    # Being created, as AWS answers it (tests/e2e/test_conformance.py follows it to Active).
    assert (c["State"], c["StateReasonCode"], c["PackageType"]) == ("Pending", "Creating", "Zip")
    assert "LastUpdateStatus" not in c
    assert re.match(r"^[0-9a-f-]{36}$", c["RevisionId"])


def test_defaults(lam, fname, hello_zip):
    c = create(lam, fname, hello_zip)
    assert (c["Timeout"], c["MemorySize"]) == (3, 128)
    assert c["EphemeralStorage"] == {"Size": 512}
    assert c["Architectures"] == ["x86_64"]
    assert c["TracingConfig"] == {"Mode": "PassThrough"}
    assert c["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{fname}"}
    assert "Environment" not in c


def test_waiters_work(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    lam.get_waiter("function_active_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    lam.get_waiter("function_exists").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    lam.update_function_configuration(FunctionName=fname, Timeout=5)
    lam.get_waiter("function_updated_v2").wait(FunctionName=fname, WaiterConfig={"Delay": 1, "MaxAttempts": 3})


def test_every_name_form_reaches_the_function(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    for ref in [fname, f"{fname}:$LATEST", f"000000000000:function:{fname}",
                f"arn:aws:lambda:us-east-1:000000000000:function:{fname}",
                f"arn:aws:lambda:us-east-1:000000000000:function:{fname}:$LATEST"]:
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == fname, ref
    assert lam.get_function_configuration(FunctionName=fname, Qualifier="$LATEST")["Version"] == "$LATEST"


def test_trailing_slash_paths_of_older_sdks(node, fname, lam, hello_zip):
    create(lam, fname, hello_zip)
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions/")
    assert r.status == 200
    # The session's node holds many functions: the page is the one ListFunctions answers.
    assert r.json()["Functions"] == lam.list_functions()["Functions"]
    r = raw.request(node.endpoint, "GET", f"/2015-03-31/functions/{fname}/configuration/")
    assert r.status == 200 and r.json()["FunctionName"] == fname


def test_get_function_gives_a_working_code_location(lam, fname, hello_zip):
    create(lam, fname, hello_zip, Tags={"k": "v"})
    f = lam.get_function(FunctionName=fname)
    assert f["Code"]["RepositoryType"] == "S3"
    assert f["Tags"] == {"k": "v"}
    with urllib.request.urlopen(f["Code"]["Location"]) as resp:
        assert resp.read() == hello_zip
    tampered = f["Code"]["Location"].replace("signature=", "signature=0")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered)
    assert e.value.code == 403


def test_conflict_and_not_found(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        create(lam, fname, hello_zip)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    missing = fname + "-missing"
    for call in (lambda: lam.get_function(FunctionName=missing),
                 lambda: lam.get_function_configuration(FunctionName=missing),
                 lambda: lam.update_function_configuration(FunctionName=missing, Timeout=4),
                 lambda: lam.update_function_code(FunctionName=missing, ZipFile=hello_zip),
                 lambda: lam.delete_function(FunctionName=missing),
                 lambda: lam.get_function(FunctionName=fname, Qualifier="7")):
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert "Function not found: arn:aws:lambda:us-east-1:000000000000:function:" in str(e.value)


def test_update_configuration_replaces_environment_and_checks_revision(lam, fname, hello_zip):
    create(lam, fname, hello_zip, Environment={"Variables": {"AA": "1", "BB": "2"}})
    c = settled(lam, fname)
    u = lam.update_function_configuration(FunctionName=fname, Environment={"Variables": {"CC": "3"}},
                                          MemorySize=512, Description="new", RevisionId=c["RevisionId"])
    assert u["Environment"] == {"Variables": {"CC": "3"}}
    assert (u["MemorySize"], u["Description"]) == (512, "new")
    assert u["RevisionId"] != c["RevisionId"]
    assert u["CodeSha256"] == c["CodeSha256"]
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        lam.update_function_configuration(FunctionName=fname, Timeout=9, RevisionId=c["RevisionId"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert lam.get_function_configuration(FunctionName=fname)["Timeout"] == 3


def test_update_code_changes_hash_and_checks_revision(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    c = settled(lam, fname)
    new_zip = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_code(FunctionName=fname, ZipFile=new_zip, RevisionId="stale")
    dry = lam.update_function_code(FunctionName=fname, ZipFile=new_zip, DryRun=True)
    assert dry["CodeSha256"] == c["CodeSha256"]
    u = lam.update_function_code(FunctionName=fname, ZipFile=new_zip, RevisionId=c["RevisionId"])
    assert u["CodeSha256"] == base64.b64encode(hashlib.sha256(new_zip).digest()).decode()
    assert u["CodeSize"] == len(new_zip)
    assert u["RevisionId"] != c["RevisionId"]
    assert lam.get_function(FunctionName=fname)["Configuration"]["CodeSha256"] == u["CodeSha256"]


def test_delete(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.delete_function(FunctionName=fname, Qualifier="$LATEST")
    r = lam.delete_function(FunctionName=f"arn:aws:lambda:us-east-1:000000000000:function:{fname}")
    assert r["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=fname)


def test_pagination_over_more_than_one_page(node, hello_zip):
    c = node.client()
    names = {f"page-{i:03d}" for i in range(57)}
    for n in names:
        create(c, n, hello_zip)
    seen = []
    for page in c.get_paginator("list_functions").paginate():
        assert len(page["Functions"]) <= 50
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert names <= set(seen)
    assert len(seen) == len(set(seen))
    first = c.list_functions(MaxItems=5)
    assert len(first["Functions"]) == 5 and first["NextMarker"]
    second = c.list_functions(MaxItems=5, Marker=first["NextMarker"])
    assert not {f["FunctionName"] for f in first["Functions"]} & {f["FunctionName"] for f in second["Functions"]}
    assert "State" not in first["Functions"][0]


def test_tags(lam, fname, hello_zip):
    arn = create(lam, fname, hello_zip, Tags={"a": "1"})["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"b": "2", "c": "3"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"a": "1", "b": "2", "c": "3"}
    lam.untag_resource(Resource=arn, TagKeys=["a", "c"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"b": "2"}
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.list_tags(Resource=arn + "-gone")


def test_account_settings_report_real_usage(node, hello_zip):
    c = node.client()
    before = c.get_account_settings()
    assert before["AccountLimit"]["CodeSizeZipped"] == 52428800
    assert before["AccountLimit"]["CodeSizeUnzipped"] == 262144000
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    create(c, "account-usage-probe", hello_zip)
    after = c.get_account_settings()["AccountUsage"]
    assert after["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert after["TotalCodeSize"] == before["AccountUsage"]["TotalCodeSize"] + len(hello_zip)


# ---- validation: botocore's own checks are turned off so the server's are exercised ----

@pytest.fixture(scope="module")
def loose(node):
    return node.client(validate=False)


@pytest.mark.parametrize("field,value", [
    ("Timeout", 0), ("Timeout", 901), ("MemorySize", 127), ("MemorySize", 10241),
    ("EphemeralStorage", {"Size": 511}), ("EphemeralStorage", {"Size": 10241}),
    ("Runtime", "cobol9"), ("Role", "not-a-role"), ("Handler", "has space"),
    ("Description", "d" * 257), ("Architectures", ["x86_64", "arm64"]),
])
def test_constraint_violations_are_validation_errors(loose, fname, hello_zip, field, value):
    with pytest.raises(ClientError) as e:
        create(loose, fname, hello_zip, **{field: value})
    assert code(e) == "ValidationException", field
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(loose.exceptions.ResourceNotFoundException):
        loose.get_function(FunctionName=fname)


def test_environment_limit_and_reserved_keys(lam, fname, hello_zip):
    # {"K":"<value>"} measured as compact JSON: 4096 bytes pass, 4097 do not.
    ok = {"KK": "v" * (4096 - 9)}
    create(lam, fname, hello_zip, Environment={"Variables": ok})
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_configuration(FunctionName=fname, Environment={"Variables": {"KK": "v" * (4096 - 8)}})
    assert "4KB limit" in str(e.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.update_function_configuration(FunctionName=fname, Environment={"Variables": {"AWS_REGION": "x"}})
    assert "Reserved keys used in this request: AWS_REGION" in str(e.value)
    assert lam.get_function_configuration(FunctionName=fname)["Environment"]["Variables"] == ok


def test_missing_runtime_or_handler(loose, fname, hello_zip):
    with pytest.raises(loose.exceptions.InvalidParameterValueException):
        loose.create_function(FunctionName=fname, Role=ROLE, Handler="app.handler", Code={"ZipFile": hello_zip})
    with pytest.raises(loose.exceptions.InvalidParameterValueException):
        loose.create_function(FunctionName=fname, Role=ROLE, Runtime="python3.11", Code={"ZipFile": hello_zip})


@pytest.mark.parametrize("extra", [
    {"VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}},
    {"Code": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest"}, "PackageType": "Image"},
    {"FileSystemConfigs": [{"Arn": "arn:aws:elasticfilesystem:us-east-1:000000000000:access-point/fsap-1", "LocalMountPath": "/mnt/x"}]},
])
def test_unbuilt_options_are_refused_clearly(lam, fname, hello_zip, extra):
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        create(lam, fname, hello_zip, **extra)
    assert "not supported by Ignis yet" in str(e.value)


def test_malformed_and_oversized_bodies(node):
    r = raw.request(node.endpoint, "POST", "/2015-03-31/functions", body=b"{not json",
                    headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.error_type == "InvalidRequestContentException"
    r = raw.request(node.endpoint, "POST", "/2015-03-31/functions", body=b'{"FunctionName": 5}')
    assert r.status == 400 and r.error_type == "InvalidRequestContentException"
    big = b'{"FunctionName":"x","Code":{"ZipFile":"' + b"A" * 69_905_100 + b'"}}'
    r = raw.request(node.endpoint, "POST", "/2015-03-31/functions", body=big)
    assert r.status == 413 and r.error_type == "RequestTooLargeException"
    assert b"69905067" in r.body


def test_unknown_route(node):
    r = raw.request(node.endpoint, "GET", "/2015-03-31/nothing-here")
    assert r.status == 404 and r.error_type == "UnknownOperationException"
