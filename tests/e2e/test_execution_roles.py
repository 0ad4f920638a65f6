"""Execution roles against the real binary: CreateFunction checks that Lambda may assume the role,
each environment holds only its role's temporary credentials (never the node's key), and
`--iam off` makes a development node where every key acts as the root user."""

import json

import botocore.exceptions
import pytest

from conftest import ACCESS_KEY, create, make_zip, settled
from iamutil import ACCOUNT, doc, error, unique

TRUST_LAMBDA = doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."

CREDENTIALS = make_zip({"app.py": '''
import os

def handler(event, context):
    return {k: os.environ.get(k) for k in
            ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
'''})


def role(iam, *statements, trust=TRUST_LAMBDA):
    name = unique("exec")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=doc(*statements))
    return name, arn


def credentials_of(lam, name):
    out = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in out
    return json.loads(out["Payload"].read())


def test_create_function_needs_a_role_lambda_may_assume(node):
    lam, iam = node.client(), node.client("iam")
    _, untrusting = role(iam, trust=doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                                         "Action": "sts:AssumeRole"}))
    for arn in (f"arn:aws:iam::{ACCOUNT}:role/{unique('nobody')}", untrusting):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            create(lam, unique("fn"), CREDENTIALS, Role=arn)
        assert error(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)
    name = unique("fn")
    _, good = role(iam)
    create(lam, name, CREDENTIALS, Role=good)
    settled(lam, name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_configuration(FunctionName=name, Role=untrusting)
    assert error(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)
    assert lam.get_function_configuration(FunctionName=name)["Role"] == good


def test_a_function_holds_its_roles_session_and_never_the_node_key(node):
    lam, iam = node.client(), node.client("iam")
    role_name, arn = role(iam, {"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    name = unique("fn")
    create(lam, name, CREDENTIALS, Role=arn)
    settled(lam, name)
    creds = credentials_of(lam, name)
    assert creds["AWS_ACCESS_KEY_ID"].startswith("ASIA") and creds["AWS_ACCESS_KEY_ID"] != ACCESS_KEY
    assert creds["AWS_SESSION_TOKEN"]
    keys = dict(access_key=creds["AWS_ACCESS_KEY_ID"], secret_key=creds["AWS_SECRET_ACCESS_KEY"],
                session_token=creds["AWS_SESSION_TOKEN"])
    me = node.client("sts", **keys).get_caller_identity()
    assert me["Account"] == ACCOUNT
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{name}"
    # The probe again: a role that allows only logs:* cannot list, read or delete functions.
    theirs = node.client(**keys)
    for call in (lambda: theirs.list_functions(),
                 lambda: theirs.get_function(FunctionName=name),
                 lambda: theirs.delete_function(FunctionName=name)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error(e)[:2] == ("AccessDeniedException", 403)
    assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    # A new environment (its configuration changed) gets the function's current session.
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"VERSION": "2"}})
    settled(lam, name)
    assert credentials_of(lam, name)["AWS_ACCESS_KEY_ID"] == creds["AWS_ACCESS_KEY_ID"]


def test_a_function_whose_role_went_away_is_not_run(node):
    lam, iam = node.client(), node.client("iam")
    role_name, arn = role(iam)
    name = unique("fn")
    create(lam, name, CREDENTIALS, Role=arn)
    settled(lam, name)
    iam.delete_role(RoleName=role_name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert error(e) == ("InvalidParameterValueException", 400, CANNOT_ASSUME)


def test_iam_off_is_a_development_node(fresh_node):
    n = fresh_node(extra_args=("--iam", "off"))
    assert "IAM is OFF" in n.log_path.read_text()
    iam, lam = n.client("iam"), n.client()
    user = unique("dev")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    theirs = n.client(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    # A user without any policy acts as the root user.
    theirs.list_functions()
    name = unique("fn")
    create(theirs, name, CREDENTIALS, Role=f"arn:aws:iam::{ACCOUNT}:role/{unique('nobody')}")
    settled(lam, name)
    # No role to assume: the function runs without credentials, and never with the node's.
    assert credentials_of(lam, name) == {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                                         "AWS_SESSION_TOKEN": None}
