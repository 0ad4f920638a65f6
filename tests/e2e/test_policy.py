"""Function resource-based policies driven by boto3: AddPermission, GetPolicy, RemovePermission,
their revisions, qualifier scoping, the 20 KB limit and every error."""

import json
import re

import pytest
from botocore.exceptions import ClientError

from conftest import create, settled

ACCOUNT = "000000000000"


def fn_arn(name, qualifier=None):
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def err(e):
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def add(client, name, sid="s3", **kw):
    args = dict(FunctionName=name, StatementId=sid, Action="lambda:InvokeFunction",
                Principal="s3.amazonaws.com")
    args.update(kw)
    return client.add_permission(**args)


def policy(client, name, **kw):
    r = client.get_policy(FunctionName=name, **kw)
    return json.loads(r["Policy"]), r["RevisionId"]


@pytest.fixture
def loose(node):
    return node.client(validate=False)


def test_add_get_remove(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    a = add(lam, fname, SourceArn="arn:aws:s3:::my-bucket")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    # The statement is a JSON string, members in AWS's order.
    assert a["Statement"] == (
        '{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},'
        '"Action":"lambda:InvokeFunction","Resource":"' + fn_arn(fname) + '",'
        '"Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::my-bucket"}}}')
    add(lam, fname, "sqs", Principal="sqs.amazonaws.com")
    doc, revision = policy(lam, fname)
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert doc["Statement"] == [json.loads(a["Statement"]), {
        "Sid": "sqs", "Effect": "Allow", "Principal": {"Service": "sqs.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": fn_arn(fname)}]
    # The policy's revision is the function's.
    assert revision == lam.get_function(FunctionName=fname)["Configuration"]["RevisionId"]
    # Every name form reaches the same policy.
    assert policy(lam, fn_arn(fname))[0] == doc
    assert policy(lam, fname, Qualifier="$LATEST")[0] == doc

    r = lam.remove_permission(FunctionName=fname, StatementId="s3")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [s["Sid"] for s in policy(lam, fname)[0]["Statement"]] == ["sqs"]
    lam.remove_permission(FunctionName=fname, StatementId="sqs")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_policy(FunctionName=fname)
    assert err(e) == ("ResourceNotFoundException", 404, "The resource you requested does not exist.")


def test_principals_and_conditions(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    s = json.loads(add(lam, fname, "acct", Principal="123456789012")["Statement"])
    assert s["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "Condition" not in s
    s = json.loads(add(lam, fname, "user", Principal="arn:aws:iam::123456789012:user/u",
                       SourceAccount="123456789012")["Statement"])
    assert s["Principal"] == {"AWS": "arn:aws:iam::123456789012:user/u"}
    assert s["Condition"] == {"StringEquals": {"AWS:SourceAccount": "123456789012"}}
    url = add(lam, fname, "url", Principal="*", Action="lambda:InvokeFunctionUrl",
              SourceAccount="123456789012", FunctionUrlAuthType="NONE",
              PrincipalOrgID="o-1234567890", SourceArn="arn:aws:s3:::b")["Statement"]
    assert url.endswith(
        '"Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"' + fn_arn(fname) + '",'
        '"Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012",'
        '"lambda:FunctionUrlAuthType":"NONE","aws:PrincipalOrgID":"o-1234567890"},'
        '"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}')
    s = json.loads(add(lam, fname, "alexa", Principal="alexa-appkit.amazonaws.com",
                       EventSourceToken="amzn1.ask.skill.x-y")["Statement"])
    assert s["Condition"] == {"StringEquals": {"lambda:EventSourceToken": "amzn1.ask.skill.x-y"}}
    s = json.loads(add(lam, fname, "any", Principal="*", Action="lambda:*")["Statement"])
    assert (s["Principal"], s["Action"]) == ("*", "lambda:*")


def test_statement_ids_must_be_unique(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    add(lam, fname)
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        add(lam, fname, Principal="sns.amazonaws.com")
    assert err(e) == ("ResourceConflictException", 409,
                      "The statement id (s3) provided already exists. Please provide a new "
                      "statement id, or remove the existing statement.")


def test_revision_id_preconditions(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    rev0 = settled(lam, fname)["RevisionId"]
    mismatch = ("PreconditionFailedException", 412,
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id")
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        add(lam, fname, RevisionId="wrong")
    assert err(e) == mismatch
    add(lam, fname, RevisionId=rev0)
    rev1 = lam.get_function_configuration(FunctionName=fname)["RevisionId"]
    assert rev1 != rev0
    assert policy(lam, fname)[1] == rev1
    # The old revision is stale now, for permissions and for updates alike.
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        add(lam, fname, "s4", RevisionId=rev0)
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(FunctionName=fname, Timeout=4, RevisionId=rev0)
    with pytest.raises(lam.exceptions.PreconditionFailedException) as e:
        lam.remove_permission(FunctionName=fname, StatementId="s3", RevisionId=rev0)
    assert err(e) == mismatch
    lam.remove_permission(FunctionName=fname, StatementId="s3", RevisionId=rev1)
    assert lam.get_function_configuration(FunctionName=fname)["RevisionId"] not in (rev0, rev1)


def test_policies_are_per_qualifier(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    add(lam, fname, "latest")
    v1 = lam.publish_version(FunctionName=fname)["Version"]
    alias = lam.create_alias(FunctionName=fname, Name="live", FunctionVersion=v1)
    # Publishing does not copy the policy.
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=fname, Qualifier=v1)

    s = json.loads(add(lam, fname, "v1", Qualifier=v1)["Statement"])
    assert s["Resource"] == fn_arn(fname, v1)
    s = json.loads(add(lam, f"{fname}:live", "alias")["Statement"])
    assert s["Resource"] == fn_arn(fname, "live")
    # The same statement id may exist once per qualifier.
    add(lam, fname, "latest", Qualifier="live")

    assert [x["Sid"] for x in policy(lam, fname)[0]["Statement"]] == ["latest"]
    doc, rev = policy(lam, fname, Qualifier=v1)
    assert [x["Sid"] for x in doc["Statement"]] == ["v1"]
    assert rev == lam.get_function_configuration(FunctionName=fname, Qualifier=v1)["RevisionId"]
    doc, rev = policy(lam, fname, Qualifier="live")
    assert [x["Sid"] for x in doc["Statement"]] == ["alias", "latest"]
    assert rev == lam.get_alias(FunctionName=fname, Name="live")["RevisionId"]
    assert rev != alias["RevisionId"]

    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        add(lam, fname, "x", Qualifier="$LATEST")
    assert err(e) == ("InvalidParameterValueException", 400,
                      "We currently do not support adding policies for $LATEST.")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        add(lam, f"{fname}:live", "x", Qualifier="42")
    assert err(e)[2] == "The derived qualifier from the function name does not match the specified qualifier."

    lam.remove_permission(FunctionName=fname, StatementId="latest", Qualifier="live")
    assert [x["Sid"] for x in policy(lam, fname, Qualifier="live")[0]["Statement"]] == ["alias"]
    assert [x["Sid"] for x in policy(lam, fname)[0]["Statement"]] == ["latest"]

    # A deleted alias takes its policy along; a new alias of that name starts without one.
    lam.delete_alias(FunctionName=fname, Name="live")
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion=v1)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=fname, Qualifier="live")


def test_deleting_the_function_deletes_its_policies(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    add(lam, fname)
    lam.delete_function(FunctionName=fname)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=fname)
    create(lam, fname, hello_zip)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_policy(FunctionName=fname)


def test_policy_is_limited_to_20_kb(lam, fname, hello_zip):
    create(lam, fname, hello_zip)
    source = "arn:aws:s3:::" + "b" * 900
    refused = None
    for i in range(40):
        try:
            add(lam, fname, f"s{i}", SourceArn=f"{source}{i}")
        except lam.exceptions.PolicyLengthExceededException as e:
            refused = (i, e.response)
            break
    assert refused is not None, "the 20 KB limit was never reached"
    i, response = refused
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "PolicyLengthExceededException"
    m = re.fullmatch(r"The final policy size \((\d+)\) is bigger than the limit \(20480\)\.",
                     response["Error"]["Message"])
    assert m and int(m.group(1)) > 20480
    raw, _ = lam.get_policy(FunctionName=fname)["Policy"], None
    assert len(raw) <= 20480
    assert len(json.loads(raw)["Statement"]) == i
    # Room is made by removing a statement.
    lam.remove_permission(FunctionName=fname, StatementId="s0")
    add(lam, fname, "again", SourceArn=source)


def test_errors(lam, loose, fname, hello_zip):
    create(lam, fname, hello_zip)

    def check(call, expected):
        with pytest.raises(ClientError) as e:
            call()
        got = err(e)
        if isinstance(expected[2], re.Pattern):
            assert got[:2] == expected[:2] and expected[2].fullmatch(got[2]), got
        else:
            assert got == expected, got

    any_text = re.compile(r".+")
    check(lambda: add(loose, fname, "example.com"),
          ("ValidationException", 400,
           "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy "
           "constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"))
    check(lambda: add(loose, fname, "x" * 101), ("ValidationException", 400, any_text))
    check(lambda: add(loose, fname, Action="InvokeFunction"), ("ValidationException", 400, any_text))
    check(lambda: add(loose, fname, SourceAccount="123"), ("ValidationException", 400, any_text))
    check(lambda: add(loose, fname, SourceArn="bucket"), ("ValidationException", 400, any_text))
    check(lambda: add(loose, fname, FunctionUrlAuthType="OPEN"), ("ValidationException", 400, any_text))
    check(lambda: add(loose, fname, PrincipalOrgID="org-1"), ("ValidationException", 400, any_text))
    check(lambda: add(lam, fname, Principal="invalid.nonaws.com"),
          ("InvalidParameterValueException", 400,
           "The provided principal was invalid. Please check the principal and try again."))
    check(lambda: add(lam, f"{fname}-none"),
          ("ResourceNotFoundException", 404, f"Function not found: {fn_arn(fname + '-none')}"))
    check(lambda: add(lam, fname, Qualifier="42"),
          ("ResourceNotFoundException", 404, f"Function not found: {fn_arn(fname, '42')}"))
    check(lambda: add(lam, f"{fname}:nope"),
          ("ResourceNotFoundException", 404, f"Cannot find alias arn: {fn_arn(fname, 'nope')}"))
    check(lambda: lam.get_policy(FunctionName=f"{fname}-none"),
          ("ResourceNotFoundException", 404, "The resource you requested does not exist."))
    check(lambda: lam.get_policy(FunctionName=fname, Qualifier="77"),
          ("ResourceNotFoundException", 404, "The resource you requested does not exist."))
    check(lambda: lam.get_policy(FunctionName=fname),
          ("ResourceNotFoundException", 404, "The resource you requested does not exist."))
    check(lambda: lam.remove_permission(FunctionName=f"{fname}-none", StatementId="s3"),
          ("ResourceNotFoundException", 404, f"No policy found for: {fn_arn(fname + '-none')}"))
    check(lambda: lam.remove_permission(FunctionName=fname, StatementId="s3"),
          ("ResourceNotFoundException", 404, "No policy is associated with the given resource."))
    check(lambda: lam.remove_permission(FunctionName=fname, StatementId="s3", Qualifier="nope"),
          ("ResourceNotFoundException", 404, f"Cannot find alias arn: {fn_arn(fname, 'nope')}"))
    add(lam, fname)
    check(lambda: lam.remove_permission(FunctionName=fname, StatementId="other"),
          ("ResourceNotFoundException", 404, "Statement other is not found in resource policy."))
    check(lambda: loose.remove_permission(FunctionName=fname, StatementId="a b"),
          ("ValidationException", 400, any_text))
    # A foreign account's function is not found.
    check(lambda: add(lam, f"arn:aws:lambda:us-east-1:111111111111:function:{fname}"),
          ("ResourceNotFoundException", 404, any_text))
