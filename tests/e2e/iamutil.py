"""What the IAM, STS and authorisation tests share: the account, policy documents, unique names,
a ClientError's code, status and message, and users, roles and sessions to test with."""

import json
import uuid

ACCOUNT = "000000000000"


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def trust(principal, condition=None):
    s = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        s["Condition"] = condition
    return doc(s)


def make_user(snode, iam, policy=None):
    name = unique("u")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, dict(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])


def make_role(iam, trust_policy, policy=None, **kw):
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy, **kw)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return name, arn


def session(creds):
    c = creds["Credentials"]
    return dict(access_key=c["AccessKeyId"], secret_key=c["SecretAccessKey"], session_token=c["SessionToken"])
