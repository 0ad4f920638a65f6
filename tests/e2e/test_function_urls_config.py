"""The function URL configuration API (CreateFunctionUrlConfig, GetFunctionUrlConfig,
UpdateFunctionUrlConfig, DeleteFunctionUrlConfig, ListFunctionUrlConfigs) driven by boto3, the AWS
CLI and the JavaScript SDK v3, against AWS's recorded answers (LocalStack's snapshot suite,
recorded on real AWS: tests/aws/services/lambda_/test_lambda_api.snapshot.json, TestLambdaUrl):
members, status codes, every model constraint, the refusals worded per operation, pagination,
ids that outlive delete/re-create and restarts, and the permission statements for URLs."""

import json
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, create, missing
from test_conformance import aws_cli

ACCOUNT = "000000000000"
JS = ROOT / "tests" / "js"
NOT_EXIST = "Function does not exist"
NO_RESOURCE = "The resource you requested does not exist."
VERSION_QUALIFIER = ("1 validation error detected: Value '{}' at 'qualifier' failed to satisfy constraint: "
                     "Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)")


def fn_arn(name, qualifier=None):
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def members(r):
    """An answer's members, without the metadata botocore adds."""
    return {k: v for k, v in r.items() if k != "ResponseMetadata"}


def status(r):
    return r["ResponseMetadata"]["HTTPStatusCode"]


def refusal(e):
    """(code, status, message, the modelled members botocore lifted out of the body)."""
    r = e.value.response
    body = {k: v for k, v in r.items() if k not in ("Error", "ResponseMetadata")}
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"], body


def not_found(message):
    return ("ResourceNotFoundException", 404, message, {"Message": message, "Type": "User"})


def validation(message):
    return ("ValidationException", 400, message, {})


def url_pattern(node):
    port = node.endpoint.rsplit(":", 1)[1]
    return re.compile(rf"^http://([a-z0-9]{{32}})\.lambda-url\.us-east-1\.localhost:{port}/$")


@pytest.fixture
def loose(node):
    """A client that sends what botocore's own checks would refuse, so the node's are seen."""
    return node.client(validate=False)


@pytest.fixture
def fn(lam, fname, hello_zip):
    """A function with version 1 and the alias `live` routing to it."""
    create(lam, fname, hello_zip)
    lam.publish_version(FunctionName=fname)
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion="1")
    return fname


def test_lifecycle_answers_as_aws_does(node, lam, fn):
    created = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")
    assert status(created) == 201
    assert set(members(created)) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime"}
    assert created["FunctionArn"] == fn_arn(fn) and created["AuthType"] == "NONE"
    assert url_pattern(node).match(created["FunctionUrl"]), created["FunctionUrl"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", created["CreationTime"])

    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.create_function_url_config(FunctionName=fn, AuthType="NONE")
    message = (f"Failed to create function url config for [functionArn = {fn_arn(fn)}]. "
               "Error message:  FunctionUrlConfig exists for this Lambda function")
    assert refusal(e) == ("ResourceConflictException", 409, message, {"Type": "User", "message": message})

    got = lam.get_function_url_config(FunctionName=fn)
    assert status(got) == 200
    assert members(got) == {**members(created), "InvokeMode": "BUFFERED",
                            "LastModifiedTime": created["CreationTime"]}

    # Each member changes on its own; LastModifiedTime moves, CreationTime and the URL do not.
    last = got["LastModifiedTime"]
    auth = lam.update_function_url_config(FunctionName=fn, AuthType="AWS_IAM")
    assert set(members(auth)) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime", "LastModifiedTime"}
    assert auth["AuthType"] == "AWS_IAM" and auth["LastModifiedTime"] > last
    cors = {"AllowCredentials": True, "AllowHeaders": ["x-custom"], "AllowMethods": ["GET", "POST"],
            "AllowOrigins": ["https://example.com"], "ExposeHeaders": ["x-trace"], "MaxAge": 600}
    with_cors = lam.update_function_url_config(FunctionName=fn, Cors=cors)
    assert with_cors["Cors"] == cors and with_cors["AuthType"] == "AWS_IAM"
    assert with_cors["LastModifiedTime"] > auth["LastModifiedTime"]
    mode = lam.update_function_url_config(FunctionName=fn, InvokeMode="RESPONSE_STREAM")
    assert mode["InvokeMode"] == "RESPONSE_STREAM" and mode["Cors"] == cors
    assert mode["LastModifiedTime"] > with_cors["LastModifiedTime"]
    smaller = lam.update_function_url_config(FunctionName=fn, Cors={"AllowOrigins": ["*"]})
    assert smaller["Cors"] == {"AllowOrigins": ["*"]}, "a Cors given replaces the whole of it"
    got = lam.get_function_url_config(FunctionName=fn)
    assert members(got) == {"FunctionUrl": created["FunctionUrl"], "FunctionArn": fn_arn(fn), "AuthType": "AWS_IAM",
                            "Cors": {"AllowOrigins": ["*"]}, "InvokeMode": "RESPONSE_STREAM",
                            "CreationTime": created["CreationTime"],
                            "LastModifiedTime": smaller["LastModifiedTime"]}

    # The alias has its own URL; deleting the function's leaves it (as AWS's recording shows).
    alias = lam.create_function_url_config(FunctionName=fn, Qualifier="live", AuthType="NONE",
                                           InvokeMode="BUFFERED")
    assert alias["FunctionArn"] == fn_arn(fn, "live") and alias["InvokeMode"] == "BUFFERED"
    assert alias["FunctionUrl"] != created["FunctionUrl"]
    by_name = lam.get_function_url_config(FunctionName=f"{fn}:live", Qualifier="live")
    assert by_name["FunctionUrl"] == alias["FunctionUrl"]
    deleted = lam.delete_function_url_config(FunctionName=fn)
    assert status(deleted) == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function_url_config(FunctionName=fn)
    assert refusal(e) == not_found(NO_RESOURCE)
    assert lam.get_function_url_config(FunctionName=fn, Qualifier="live")["FunctionUrl"] == alias["FunctionUrl"]

    # GetFunction and ListFunctions show nothing of URLs, as on AWS.
    got = members(lam.get_function(FunctionName=fn))
    assert set(got) <= {"Configuration", "Code", "Tags", "Concurrency"}
    assert set(got["Code"]) == {"Location", "RepositoryType"}
    listed = [f for f in lam.list_functions()["Functions"] if f["FunctionName"] == fn]
    for configuration in (got["Configuration"], listed[0]):
        assert not [k for k in configuration if "Url" in k], configuration


def test_refusals_are_worded_per_operation(lam, loose, fn):
    create_ = lambda **kw: loose.create_function_url_config(AuthType="NONE", **kw)  # noqa: E731
    update = lambda **kw: loose.update_function_url_config(AuthType="AWS_IAM", **kw)  # noqa: E731
    get, delete = loose.get_function_url_config, loose.delete_function_url_config
    other = fn_arn("doesnotexist")
    cases = [
        # A missing function or alias: Create and Update say one thing, Get and Delete another.
        *[(op, {"FunctionName": name}, not_found(NOT_EXIST)) for op in (create_, update) for name in ("doesnotexist", other)],
        *[(op, {"FunctionName": name}, not_found(NO_RESOURCE)) for op in (get, delete) for name in ("doesnotexist", other)],
        (create_, {"FunctionName": fn, "Qualifier": "v1"}, not_found(NOT_EXIST)),
        (update, {"FunctionName": fn, "Qualifier": "v1"}, not_found(NOT_EXIST)),
        (get, {"FunctionName": fn, "Qualifier": "v1"}, not_found(NO_RESOURCE)),
        (delete, {"FunctionName": fn, "Qualifier": "v1"}, not_found(NO_RESOURCE)),
        # No configuration yet.
        *[(op, {"FunctionName": fn}, not_found(NO_RESOURCE)) for op in (get, update, delete)],
        # A URL is never on a published version (existing or not), nor on $LATEST by name.
        *[(op, {"FunctionName": name, "Qualifier": q}, validation(VERSION_QUALIFIER.format(q)))
          for op in (create_, get, update, delete) for name in (fn, "doesnotexist") for q in ("1", "2", "$LATEST")],
        *[(op, {"FunctionName": f"{fn}:live-doesnotmatch", "Qualifier": "live"},
           ("InvalidParameterValueException", 400,
            "The derived qualifier from the function name does not match the specified qualifier.",
            {"Type": "User", "message": "The derived qualifier from the function name does not match the specified qualifier."}))
          for op in (create_, get, update)],
        (get, {"FunctionName": "arn:aws:lambda:eu-west-1:000000000000:function:" + fn},
         not_found("Functions from 'eu-west-1' are not reachable in this region ('us-east-1')")),
        (create_, {"FunctionName": "a" * 141},
         validation(f"1 validation error detected: Value '{'a' * 141}' at 'functionName' failed to satisfy constraint: "
                    "Member must have length less than or equal to 140")),
        (loose.list_function_url_configs, {"FunctionName": "doesnotexist"}, not_found(NOT_EXIST)),
    ]
    for op, args, expected in cases:
        with pytest.raises(lam.exceptions.ClientError) as e:
            op(**args)
        assert refusal(e) == expected, args


def violation(value, field, constraint):
    return f"Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"


def member_constraint(max_len, min_len):
    return (f"Member must satisfy constraint: [Member must have length less than or equal to {max_len}, "
            f"Member must have length greater than or equal to {min_len}, "
            "Member must satisfy regular expression pattern: .*]")


def test_every_model_constraint(loose, fn):
    cases = [
        ({}, "Value null at 'authType' failed to satisfy constraint: Member must not be null"),
        ({"AuthType": "OPEN"}, violation("OPEN", "authType", "Member must satisfy enum value set: [NONE, AWS_IAM]")),
        ({"InvokeMode": "UNKNOWN"},
         violation("UNKNOWN", "invokeMode", "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")),
        ({"Cors": {"MaxAge": -1}}, violation(-1, "cors.maxAge", "Member must have value greater than or equal to 0")),
        ({"Cors": {"MaxAge": 86401}},
         violation(86401, "cors.maxAge", "Member must have value less than or equal to 86400")),
        ({"Cors": {"AllowMethods": ["GET"] * 7}},
         violation("[" + ", ".join(["GET"] * 7) + "]", "cors.allowMethods",
                   "Member must have length less than or equal to 6")),
        ({"Cors": {"AllowMethods": ["OPTIONS"]}}, violation("[OPTIONS]", "cors.allowMethods", member_constraint(6, 0))),
        ({"Cors": {"AllowOrigins": [""]}}, violation("[]", "cors.allowOrigins", member_constraint(253, 1))),
        ({"Cors": {"AllowOrigins": ["o" * 254]}},
         violation(f"[{'o' * 254}]", "cors.allowOrigins", member_constraint(253, 1))),
        ({"Cors": {"AllowOrigins": ["*"] * 101}},
         violation("[" + ", ".join(["*"] * 101) + "]", "cors.allowOrigins",
                   "Member must have length less than or equal to 100")),
        ({"Cors": {"AllowHeaders": ["h" * 1025]}},
         violation(f"[{'h' * 1025}]", "cors.allowHeaders", member_constraint(1024, 0))),
        ({"Cors": {"ExposeHeaders": ["a\nb"]}}, violation("[a\nb]", "cors.exposeHeaders", member_constraint(1024, 0))),
        ({"Cors": {"ExposeHeaders": ["x"] * 101}},
         violation("[" + ", ".join(["x"] * 101) + "]", "cors.exposeHeaders",
                   "Member must have length less than or equal to 100")),
    ]
    for body, expected in cases:
        with_auth = {"AuthType": "NONE", **body} if "AuthType" not in body and body else body
        with pytest.raises(loose.exceptions.ClientError) as e:
            loose.create_function_url_config(FunctionName=fn, **with_auth)
        assert refusal(e) == validation(f"1 validation error detected: {expected}"), body
    # Reported together, in the order of the members.
    with pytest.raises(loose.exceptions.ClientError) as e:
        loose.create_function_url_config(FunctionName=fn, Qualifier="1", InvokeMode="X", Cors={"MaxAge": -1})
    assert refusal(e) == validation("4 validation errors detected: " + "; ".join([
        violation(1, "qualifier", "Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"),
        "Value null at 'authType' failed to satisfy constraint: Member must not be null",
        violation(-1, "cors.maxAge", "Member must have value greater than or equal to 0"),
        violation("X", "invokeMode", "Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]")]))
    # Update checks the same members (AuthType is optional there); nothing was stored.
    with pytest.raises(loose.exceptions.ClientError) as e:
        loose.update_function_url_config(FunctionName=fn, Cors={"AllowMethods": ["PROPFIND"]})
    assert refusal(e)[0] == "ValidationException"
    with pytest.raises(loose.exceptions.ResourceNotFoundException):
        loose.get_function_url_config(FunctionName=fn)
    # The limits themselves are accepted.
    edge = {"AllowHeaders": ["h" * 1024] * 100, "AllowMethods": ["DELETE"] * 6, "AllowOrigins": ["o" * 253],
            "ExposeHeaders": [""], "MaxAge": 86400, "AllowCredentials": False}
    assert loose.create_function_url_config(FunctionName=fn, AuthType="NONE", Cors=edge)["Cors"] == edge


def test_list_pages_through_every_config(node, lam, loose, fn):
    assert members(lam.list_function_url_configs(FunctionName=fn)) == {"FunctionUrlConfigs": []}
    lam.create_alias(FunctionName=fn, Name="blue", FunctionVersion="1")
    made = {fn_arn(fn): lam.create_function_url_config(FunctionName=fn, AuthType="NONE")}
    for alias in ("live", "blue"):
        made[fn_arn(fn, alias)] = lam.create_function_url_config(FunctionName=fn, Qualifier=alias, AuthType="AWS_IAM")
    everything = lam.list_function_url_configs(FunctionName=fn)["FunctionUrlConfigs"]
    assert {c["FunctionArn"]: c["FunctionUrl"] for c in everything} == {a: m["FunctionUrl"] for a, m in made.items()}
    assert all(set(c) == {"FunctionUrl", "FunctionArn", "AuthType", "CreationTime", "LastModifiedTime", "InvokeMode"}
               for c in everything)
    assert len({url_pattern(node).match(c["FunctionUrl"]).group(1) for c in everything}) == 3
    seen, marker = [], None
    while True:
        page = lam.list_function_url_configs(FunctionName=fn, MaxItems=1, **({"Marker": marker} if marker else {}))
        assert len(page["FunctionUrlConfigs"]) == 1
        seen += page["FunctionUrlConfigs"]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == everything
    two = lam.list_function_url_configs(FunctionName=fn, MaxItems=2)
    assert two["FunctionUrlConfigs"] == everything[:2] and two["NextMarker"]
    assert lam.list_function_url_configs(FunctionName=fn, MaxItems=50)["FunctionUrlConfigs"] == everything
    # The paginator follows NextMarker too.
    pages = lam.get_paginator("list_function_url_configs").paginate(FunctionName=fn, PaginationConfig={"PageSize": 2})
    assert [c for p in pages for c in p["FunctionUrlConfigs"]] == everything
    for bad in (0, 51):
        with pytest.raises(loose.exceptions.ClientError) as e:
            loose.list_function_url_configs(FunctionName=fn, MaxItems=bad)
        assert refusal(e) == validation(
            f"1 validation error detected: Value '{bad}' at 'maxItems' failed to satisfy constraint: "
            "Member must have value between 1 and 50")


def test_configs_go_with_their_alias_and_function(lam, fn, hello_zip):
    latest = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
    live = lam.create_function_url_config(FunctionName=fn, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    lam.delete_alias(FunctionName=fn, Name="live")
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=fn, Qualifier="live")
    assert [c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName=fn)["FunctionUrlConfigs"]] == [latest]
    # The same alias name gets the same URL back.
    again = lam.create_function_url_config(FunctionName=fn, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    assert again == live
    lam.delete_function(FunctionName=fn)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.list_function_url_configs(FunctionName=fn)
    assert refusal(e) == not_found(NOT_EXIST)
    create(lam, fn, hello_zip)
    assert lam.list_function_url_configs(FunctionName=fn)["FunctionUrlConfigs"] == []
    assert lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"] == latest


def test_ids_survive_delete_recreate_and_restart(fresh_node, tmp_path, hello_zip):
    data = tmp_path / "keep"
    a = fresh_node(data)
    lam = a.client()
    create(lam, "stays", hello_zip)
    lam.publish_version(FunctionName="stays")
    lam.create_alias(FunctionName="stays", Name="live", FunctionVersion="1")
    first = lam.create_function_url_config(FunctionName="stays", AuthType="NONE")
    alias = lam.create_function_url_config(FunctionName="stays", Qualifier="live", AuthType="AWS_IAM",
                                           Cors={"AllowOrigins": ["*"]})
    lam.delete_function_url_config(FunctionName="stays")
    second = lam.create_function_url_config(FunctionName="stays", AuthType="NONE")
    ids = {u: url_pattern(a).match(u).group(1) for u in (first["FunctionUrl"], alias["FunctionUrl"])}
    assert second["FunctionUrl"] == first["FunctionUrl"]
    stored = members(lam.get_function_url_config(FunctionName="stays", Qualifier="live"))
    assert a.stop() == 0

    # After a restart (on another port) each URL keeps its id and everything else.
    b = fresh_node(data)
    lam = b.client()
    got = lam.get_function_url_config(FunctionName="stays")
    assert url_pattern(b).match(got["FunctionUrl"]).group(1) == ids[first["FunctionUrl"]]
    again = members(lam.get_function_url_config(FunctionName="stays", Qualifier="live"))
    assert url_pattern(b).match(again["FunctionUrl"]).group(1) == ids[alias["FunctionUrl"]]
    assert {k: v for k, v in again.items() if k != "FunctionUrl"} == {
        k: v for k, v in stored.items() if k != "FunctionUrl"}
    # Another node (another url-key) gives other ids to the same names.
    c = fresh_node(tmp_path / "other")
    create(c.client(), "stays", hello_zip)
    other = c.client().create_function_url_config(FunctionName="stays", AuthType="NONE")["FunctionUrl"]
    assert url_pattern(c).match(other).group(1) != ids[first["FunctionUrl"]]


def test_permissions_for_urls_are_written_as_aws_writes_them(node, lam, fn):
    url_sid = lam.add_permission(FunctionName=fn, StatementId="url", Action="lambda:InvokeFunctionUrl",
                                 Principal="*", FunctionUrlAuthType="NONE")
    assert json.loads(url_sid["Statement"]) == {
        "Sid": "url", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunctionUrl",
        "Resource": fn_arn(fn), "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
    assert url_sid["Statement"] == (
        '{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"'
        + fn_arn(fn) + '","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}')
    via = lam.add_permission(FunctionName=fn, StatementId="via", Action="lambda:InvokeFunction",
                             Principal="*", InvokedViaFunctionUrl=True)
    assert via["Statement"] == (
        '{"Sid":"via","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"'
        + fn_arn(fn) + '","Condition":{"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}')
    # The same through the AWS CLI, on the alias.
    cli = aws_cli()
    for sid, flags in (("cli-url", ["--action", "lambda:InvokeFunctionUrl", "--function-url-auth-type", "AWS_IAM"]),
                       ("cli-via", ["--action", "lambda:InvokeFunction", "--invoked-via-function-url"])):
        p = subprocess.run([cli, "lambda", "add-permission", "--function-name", fn, "--qualifier", "live",
                            "--statement-id", sid, "--principal", "123456789012", *flags, "--output", "json"],
                           env=node.aws_env(), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    doc = json.loads(lam.get_policy(FunctionName=fn)["Policy"])
    assert doc["Statement"] == [json.loads(url_sid["Statement"]), json.loads(via["Statement"])]
    alias_doc = json.loads(lam.get_policy(FunctionName=fn, Qualifier="live")["Policy"])
    principal = {"AWS": "arn:aws:iam::123456789012:root"}
    assert alias_doc["Statement"] == [
        {"Sid": "cli-url", "Effect": "Allow", "Principal": principal, "Action": "lambda:InvokeFunctionUrl",
         "Resource": fn_arn(fn, "live"), "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}},
        {"Sid": "cli-via", "Effect": "Allow", "Principal": principal, "Action": "lambda:InvokeFunction",
         "Resource": fn_arn(fn, "live"), "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}}}]


def cli_json(node, *args):
    p = subprocess.run([aws_cli(), "lambda", *args, "--output", "json"], env=node.aws_env(),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout) if p.stdout.strip() else None


def test_the_aws_cli(node, fn):
    created = cli_json(node, "create-function-url-config", "--function-name", fn, "--auth-type", "NONE",
                       "--cors", "AllowOrigins=https://example.com,AllowMethods=GET,MaxAge=60")
    assert created["AuthType"] == "NONE" and url_pattern(node).match(created["FunctionUrl"])
    assert created["Cors"] == {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 60}
    got = cli_json(node, "get-function-url-config", "--function-name", fn)
    assert got["FunctionUrl"] == created["FunctionUrl"] and got["InvokeMode"] == "BUFFERED"
    updated = cli_json(node, "update-function-url-config", "--function-name", fn, "--auth-type", "AWS_IAM",
                       "--invoke-mode", "RESPONSE_STREAM")
    assert (updated["AuthType"], updated["InvokeMode"]) == ("AWS_IAM", "RESPONSE_STREAM")
    cli_json(node, "create-function-url-config", "--function-name", fn, "--qualifier", "live", "--auth-type", "NONE")
    listed = cli_json(node, "list-function-url-configs", "--function-name", fn)
    assert [c["FunctionArn"] for c in listed["FunctionUrlConfigs"]] == [fn_arn(fn), fn_arn(fn, "live")]
    assert cli_json(node, "delete-function-url-config", "--function-name", fn) is None
    p = subprocess.run([aws_cli(), "lambda", "create-function-url-config", "--function-name", fn,
                        "--qualifier", "1", "--auth-type", "NONE"], env=node.aws_env(), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode != 0
    assert ("An error occurred (ValidationException) when calling the CreateFunctionUrlConfig operation: "
            + VERSION_QUALIFIER.format(1)) in p.stderr
    p = subprocess.run([aws_cli(), "lambda", "get-function-url-config", "--function-name", fn],
                       env=node.aws_env(), capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and f"(ResourceNotFoundException) when calling the GetFunctionUrlConfig operation: {NO_RESOURCE}" in p.stderr


def test_the_js_sdk(node, fn):
    if not shutil.which("node"):
        missing("node is not installed")
    if not (JS / "node_modules" / "@aws-sdk" / "client-lambda").is_dir():
        missing("tests/js/node_modules is not installed: run `npm ci` in tests/js (scripts/test.sh does)")
    r = subprocess.run(["node", str(JS / "lambda_urls.mjs"), node.endpoint, fn], env=node.aws_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"lambda_urls.mjs failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    out = json.loads(r.stdout)
    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"], "MaxAge": 300}
    c = out["create"]
    assert c["status"] == 201 and c["AuthType"] == "NONE" and c["InvokeMode"] == "RESPONSE_STREAM"
    assert c["Cors"] == cors and c["FunctionArn"] == fn_arn(fn) and "LastModifiedTime" not in c
    assert url_pattern(node).match(c["FunctionUrl"])
    assert out["duplicate"] == {
        "name": "ResourceConflictException", "status": 409, "type": "User",
        "message": f"Failed to create function url config for [functionArn = {fn_arn(fn)}]. "
                   "Error message:  FunctionUrlConfig exists for this Lambda function"}
    assert out["get"] == {**c, "status": 200, "LastModifiedTime": c["CreationTime"]}
    u = out["update"]
    assert u["AuthType"] == "AWS_IAM" and u["Cors"] == {"AllowCredentials": True, "ExposeHeaders": ["x-trace"]}
    assert u["LastModifiedTime"] > c["CreationTime"] and "InvokeMode" not in u
    assert out["alias"]["status"] == 201 and out["alias"]["FunctionArn"] == fn_arn(fn, "live")
    pages = out["firstPage"]["FunctionUrlConfigs"] + out["secondPage"]["FunctionUrlConfigs"]
    assert [p["FunctionArn"] for p in pages] == [fn_arn(fn), fn_arn(fn, "live")]
    assert out["firstPage"]["NextMarker"] and "NextMarker" not in out["secondPage"]
    assert out["version"] == {"name": "ValidationException", "status": 400, "type": None,
                              "message": VERSION_QUALIFIER.format(1)}
    assert out["badCors"]["name"] == "ValidationException"
    assert out["badCors"]["message"].endswith("Member must have value greater than or equal to 0")
    assert out["missingFunction"] == {"name": "ResourceNotFoundException", "status": 404, "type": "User",
                                      "message": NOT_EXIST}
    assert out["delete"] == {"status": 204}
    assert out["afterDelete"] == {"name": "ResourceNotFoundException", "status": 404, "type": "User",
                                  "message": NO_RESOURCE}
    assert out["aliasKept"]["FunctionUrl"] == out["alias"]["FunctionUrl"]
