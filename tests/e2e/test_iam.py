"""IAM against the real binary: every operation Ignis serves, its errors, pagination, paths, tags,
AWS managed policies, the AWS CLI, and that IAM authorises each call by the caller's policies
while the other services refuse principals other than the root user."""

import json
import subprocess
import sys
import uuid

import botocore.exceptions
import pytest

from iamutil import ACCOUNT, doc, error, unique
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def iam(node):
    return node.client("iam")


def user_client(node, iam, service, policy=None, name=None):
    """A client of `service` signed by a new user's key, with `policy` inline if given."""
    name = name or unique("u")
    iam.create_user(UserName=name)
    if policy:
        iam.put_user_policy(UserName=name, PolicyName="p",
                            PolicyDocument=policy if isinstance(policy, str) else json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return node.client(service, access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"]), name


def test_users_create_get_list_update_delete(iam):
    name = unique("alice")
    u = iam.create_user(UserName=name, Path="/ops/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert u["UserName"] == name and u["Path"] == "/ops/"
    assert u["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/{name}"
    assert u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21
    assert u["Tags"] == [{"Key": "team", "Value": "a"}]
    assert iam.get_user(UserName=name)["User"]["UserId"] == u["UserId"]
    # Names are unique regardless of case.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName=name.upper())
    assert error(e)[:2] == ("EntityAlreadyExists", 409)
    assert error(e)[2] == f"User with name {name.upper()} already exists."
    listed = iam.list_users(PathPrefix="/ops/")["Users"]
    assert [x["UserName"] for x in listed if x["UserName"] == name] == [name]
    assert all(x["Path"].startswith("/ops/") for x in listed)
    new = name + "-b"
    iam.update_user(UserName=name, NewUserName=new, NewPath="/dev/")
    got = iam.get_user(UserName=new)["User"]
    assert got["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/dev/{new}" and got["UserId"] == u["UserId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName=name)
    assert error(e) == ("NoSuchEntity", 404, f"The user with name {name} cannot be found.")
    iam.delete_user(UserName=new)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=new)
    assert error(e)[:2] == ("NoSuchEntity", 404)


def test_root_get_user_and_validation(node, iam):
    root = iam.get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and root["UserId"] == ACCOUNT
    raw = node.client("iam", validate=False)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_user(UserName="has space")
    assert error(e)[:2] == ("ValidationError", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_user(UserName=unique("p"), Path="no-slashes")
    assert error(e)[:2] == ("ValidationError", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.list_users(MaxItems=0)
    assert error(e)[:2] == ("ValidationError", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=doc(), MaxSessionDuration=100)
    assert error(e)[:2] == ("ValidationError", 400)


def test_pagination_with_markers(iam):
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    names = sorted(unique("pg") for _ in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=prefix)
    first = iam.list_users(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2
    seen = [u["UserName"] for u in first["Users"]]
    marker = first["Marker"]
    while marker:
        page = iam.list_users(PathPrefix=prefix, MaxItems=2, Marker=marker)
        seen += [u["UserName"] for u in page["Users"]]
        marker = page.get("Marker")
    assert seen == names
    # boto3's paginator follows the markers too.
    pages = iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 3})
    assert [u["UserName"] for p in pages for u in p["Users"]] == names


def test_access_keys(node, iam):
    name = unique("keys")
    iam.create_user(UserName=name)
    a = iam.create_access_key(UserName=name)["AccessKey"]
    assert a["AccessKeyId"].startswith("AKIA") and len(a["AccessKeyId"]) == 20
    assert len(a["SecretAccessKey"]) == 40 and a["Status"] == "Active"
    b = iam.create_access_key(UserName=name)["AccessKey"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_access_key(UserName=name)
    assert error(e) == ("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {a["AccessKeyId"], b["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    # Never used: N/A.
    last = iam.get_access_key_last_used(AccessKeyId=a["AccessKeyId"])
    assert last["UserName"] == name and last["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    # Used: signing with it is remembered, and identifies the user.
    sts = node.client("sts", access_key=a["AccessKeyId"], secret_key=a["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    last = iam.get_access_key_last_used(AccessKeyId=a["AccessKeyId"])["AccessKeyLastUsed"]
    assert last["ServiceName"] == "sts" and last["Region"] == "us-east-1" and "LastUsedDate" in last
    # An inactive key is refused as an unknown one.
    iam.update_access_key(UserName=name, AccessKeyId=a["AccessKeyId"], Status="Inactive")
    assert [k["Status"] for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
            if k["AccessKeyId"] == a["AccessKeyId"]] == ["Inactive"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert error(e)[:2] == ("InvalidClientTokenId", 403)
    iam.update_access_key(UserName=name, AccessKeyId=a["AccessKeyId"], Status="Active")
    assert sts.get_caller_identity()["Account"] == ACCOUNT
    # A user with keys cannot be deleted.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=name)
    assert error(e) == ("DeleteConflict", 409, "Cannot delete entity, must delete access keys first.")
    iam.delete_access_key(UserName=name, AccessKeyId=a["AccessKeyId"])
    iam.delete_access_key(UserName=name, AccessKeyId=b["AccessKeyId"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_access_key(UserName=name, AccessKeyId=b["AccessKeyId"])
    assert error(e) == ("NoSuchEntity", 404, f"The Access Key with id {b['AccessKeyId']} cannot be found.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert error(e)[:2] == ("InvalidClientTokenId", 403)
    iam.delete_user(UserName=name)


def test_groups_and_members(iam):
    g, u = unique("grp"), unique("member")
    group = iam.create_group(GroupName=g, Path="/teams/")["Group"]
    assert group["GroupId"].startswith("AGPA") and group["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/teams/{g}"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_group(GroupName=g)
    assert error(e)[:2] == ("EntityAlreadyExists", 409)
    iam.create_user(UserName=u)
    iam.add_user_to_group(GroupName=g, UserName=u)
    got = iam.get_group(GroupName=g)
    assert got["Group"]["GroupName"] == g and [x["UserName"] for x in got["Users"]] == [u]
    assert [x["GroupName"] for x in iam.list_groups_for_user(UserName=u)["Groups"]] == [g]
    assert g in [x["GroupName"] for x in iam.list_groups(PathPrefix="/teams/")["Groups"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_group(GroupName=g)
    assert error(e) == ("DeleteConflict", 409, "Cannot delete entity, must remove users from group first.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=u)
    assert error(e)[:2] == ("DeleteConflict", 409)
    iam.remove_user_from_group(GroupName=g, UserName=u)
    assert iam.get_group(GroupName=g)["Users"] == []
    iam.delete_group(GroupName=g)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_group(GroupName=g)
    assert error(e) == ("NoSuchEntity", 404, f"The group with name {g} cannot be found.")
    iam.delete_user(UserName=u)


TRUST_LAMBDA = doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})


def test_roles(iam):
    name = unique("role")
    r = iam.create_role(RoleName=name, Path="/service-role/", AssumeRolePolicyDocument=TRUST_LAMBDA,
                        Description="runs f", MaxSessionDuration=7200,
                        Tags=[{"Key": "app", "Value": "f"}])["Role"]
    assert r["RoleId"].startswith("AROA") and r["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/service-role/{name}"
    # boto3 decodes the URL-encoded document IAM returns.
    assert r["AssumeRolePolicyDocument"] == json.loads(TRUST_LAMBDA)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "runs f"
    assert got["Tags"] == [{"Key": "app", "Value": "f"}]
    iam.update_role(RoleName=name, Description="runs g", MaxSessionDuration=3600)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "runs g" and got["MaxSessionDuration"] == 3600
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(trust)
    assert name in [x["RoleName"] for x in iam.list_roles(PathPrefix="/service-role/")["Roles"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)
    assert error(e) == ("EntityAlreadyExists", 409, f"Role with name {name} already exists.")
    # A trust policy names a principal and no resource.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(ALLOW_ALL))
    assert error(e)[:2] == ("MalformedPolicyDocument", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument="{not json")
    assert error(e)[:2] == ("MalformedPolicyDocument", 400)
    iam.delete_role(RoleName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_role(RoleName=name)
    assert error(e) == ("NoSuchEntity", 404, f"The role with name {name} cannot be found.")


def test_tags_of_users_and_roles(iam):
    u, r = unique("tagged"), unique("tagged")
    iam.create_user(UserName=u)
    iam.create_role(RoleName=r, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.tag_user(UserName=u, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    iam.tag_user(UserName=u, Tags=[{"Key": "A", "Value": "3"}])
    assert iam.list_user_tags(UserName=u)["Tags"] == [{"Key": "A", "Value": "3"}, {"Key": "b", "Value": "2"}]
    iam.untag_user(UserName=u, TagKeys=["b"])
    assert iam.list_user_tags(UserName=u)["Tags"] == [{"Key": "A", "Value": "3"}]
    iam.tag_role(RoleName=r, Tags=[{"Key": "env", "Value": "prod"}])
    assert iam.list_role_tags(RoleName=r)["Tags"] == [{"Key": "env", "Value": "prod"}]
    iam.untag_role(RoleName=r, TagKeys=["env"])
    assert iam.list_role_tags(RoleName=r)["Tags"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.tag_user(UserName=u, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    assert error(e)[:2] == ("InvalidInput", 400)
    iam.delete_user(UserName=u)
    iam.delete_role(RoleName=r)


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_inline_policies(iam, kind):
    name = unique(kind)
    create = {"user": lambda: iam.create_user(UserName=name),
              "group": lambda: iam.create_group(GroupName=name),
              "role": lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)}[kind]
    create()
    K = kind.capitalize()
    owner = {f"{K}Name": name}
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    lst = getattr(iam, f"list_{kind}_policies")
    delete = getattr(iam, f"delete_{kind}_policy")
    policy = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})
    put(PolicyName="read", PolicyDocument=policy, **owner)
    put(PolicyName="also", PolicyDocument=policy, **owner)
    got = get(PolicyName="read", **owner)
    assert got[f"{K}Name"] == name and got["PolicyName"] == "read"
    assert got["PolicyDocument"] == json.loads(policy)
    assert lst(**owner)["PolicyNames"] == ["also", "read"]
    page = lst(MaxItems=1, **owner)
    assert page["PolicyNames"] == ["also"] and page["IsTruncated"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(PolicyName="bad", PolicyDocument=doc({"Effect": "Allow", "Action": "*"}), **owner)
    assert error(e) == ("MalformedPolicyDocument", 400, "Policy statement must contain resources.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        put(PolicyName="bad", PolicyDocument=doc({"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}), **owner)
    assert error(e) == ("MalformedPolicyDocument", 400, "Policy document should not specify a principal.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get(PolicyName="none", **owner)
    assert error(e) == ("NoSuchEntity", 404, f"The {kind} policy with name none cannot be found.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(iam, f"delete_{kind}")(**owner)
    assert error(e) == ("DeleteConflict", 409, "Cannot delete entity, must delete policies first.")
    delete(PolicyName="read", **owner)
    delete(PolicyName="also", **owner)
    assert lst(**owner)["PolicyNames"] == []
    getattr(iam, f"delete_{kind}")(**owner)


def test_managed_policies_and_versions(iam):
    name = unique("pol")
    v1 = doc({"Effect": "Allow", "Action": "logs:*", "Resource": "*"})
    p = iam.create_policy(PolicyName=name, Path="/app/", PolicyDocument=v1, Description="logs")["Policy"]
    arn = f"arn:aws:iam::{ACCOUNT}:policy/app/{name}"
    assert p["Arn"] == arn and p["PolicyId"].startswith("ANPA") and p["DefaultVersionId"] == "v1"
    assert p["AttachmentCount"] == 0 and p["IsAttachable"] is True
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Description"] == "logs"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy(PolicyName=name, PolicyDocument=v1)
    assert error(e)[:2] == ("EntityAlreadyExists", 409)
    for i in range(2, 6):
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=v1, SetAsDefault=(i == 3))["PolicyVersion"]
        assert v["VersionId"] == f"v{i}" and v["IsDefaultVersion"] == (i == 3)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=v1)
    assert error(e)[:2] == ("LimitExceeded", 409)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v3"]
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert got["Document"] == json.loads(v1) and got["IsDefaultVersion"] is False
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert error(e) == ("DeleteConflict", 409, "Cannot delete the default version of a policy.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v5"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_policy_version(PolicyArn=arn, VersionId="v9")
    assert error(e)[:2] == ("NoSuchEntity", 404)
    # Attached, it cannot be deleted; with versions besides the default neither.
    role = unique("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert arn in [x["Arn"] for x in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e) == ("DeleteConflict", 409, "Cannot delete a policy attached to entities.")
    iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=arn)
    assert error(e)[:2] == ("DeleteConflict", 409)
    for v in ["v1", "v2", "v3", "v4"]:
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_policy(PolicyArn=arn)
    assert error(e) == ("NoSuchEntity", 404, f"Policy {arn} was not found.")
    iam.delete_role(RoleName=role)


AWS_POLICIES = [
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
    "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
    "arn:aws:iam::aws:policy/AmazonS3FullAccess",
    "arn:aws:iam::aws:policy/AWSLambda_FullAccess",
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/CloudWatchLogsFullAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
]


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_attach_aws_managed_policies(iam, kind):
    name = unique(kind)
    {"user": lambda: iam.create_user(UserName=name),
     "group": lambda: iam.create_group(GroupName=name),
     "role": lambda: iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_LAMBDA)}[kind]()
    owner = {f"{kind.capitalize()}Name": name}
    attach = getattr(iam, f"attach_{kind}_policy")
    for arn in AWS_POLICIES[:3]:
        attach(PolicyArn=arn, **owner)
    listed = getattr(iam, f"list_attached_{kind}_policies")(**owner)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in listed] == AWS_POLICIES[:3]
    assert listed[0]["PolicyName"] == "AWSLambdaBasicExecutionRole"
    assert [p["PolicyArn"] for p in getattr(iam, f"list_attached_{kind}_policies")(
        PathPrefix="/service-role/", **owner)["AttachedPolicies"]] == AWS_POLICIES[:3]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        attach(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/none", **owner)
    assert error(e) == ("NoSuchEntity", 404,
                        f"Policy arn:aws:iam::{ACCOUNT}:policy/none does not exist or is not attachable.")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        attach(PolicyArn="arn:aws:iam::not-a-policy-arn", **owner)
    assert error(e)[:2] == ("InvalidInput", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(iam, f"delete_{kind}")(**owner)
    assert error(e) == ("DeleteConflict", 409, "Cannot delete entity, must detach all policies first.")
    for arn in AWS_POLICIES[:3]:
        getattr(iam, f"detach_{kind}_policy")(PolicyArn=arn, **owner)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        getattr(iam, f"detach_{kind}_policy")(PolicyArn=AWS_POLICIES[0], **owner)
    assert error(e)[:2] == ("NoSuchEntity", 404)
    getattr(iam, f"delete_{kind}")(**owner)


def test_aws_managed_policies_are_listed_with_their_documents(iam):
    listed = {p["Arn"]: p for p in iam.get_paginator("list_policies").paginate(Scope="AWS").build_full_result()["Policies"]}
    for arn in AWS_POLICIES:
        assert arn in listed, arn
        p = iam.get_policy(PolicyArn=arn)["Policy"]
        v = iam.get_policy_version(PolicyArn=arn, VersionId=p["DefaultVersionId"])["PolicyVersion"]
        assert v["IsDefaultVersion"] and v["Document"]["Statement"]
    basic = iam.get_policy_version(PolicyArn=AWS_POLICIES[0], VersionId="v1")["PolicyVersion"]["Document"]
    assert basic["Statement"][0]["Action"] == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_policy(PolicyArn=AWS_POLICIES[0])
    assert error(e)[:2] == ("AccessDenied", 403)


def test_iam_authorises_each_call_by_the_callers_policies(node, iam):
    nobody, _ = user_client(node, iam, "iam")
    name = unique("x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        nobody.create_user(UserName=name)
    code, status, message = error(e)
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(f"is not authorized to perform: iam:CreateUser on resource: "
                            f"arn:aws:iam::{ACCOUNT}:user/{name} because no identity-based policy allows "
                            "the iam:CreateUser action")
    # A user's own, its group's and its attached policies count; a deny wins; NotAction and
    # resource wildcards are evaluated.
    reader, rname = user_client(node, iam, "iam", policy=doc(
        {"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:GetRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/secret-*"}))
    assert reader.get_user(UserName=rname)["User"]["UserName"] == rname
    reader.list_users()
    role = unique("secret")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST_LAMBDA)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_role(RoleName=role)
    assert error(e)[2].endswith("with an explicit deny in an identity-based policy")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.create_group(GroupName=unique("g"))
    assert error(e)[:2] == ("AccessDenied", 403)
    group = unique("admins")
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn="arn:aws:iam::aws:policy/IAMFullAccess")
    iam.add_user_to_group(GroupName=group, UserName=rname)
    g = unique("g")
    reader.create_group(GroupName=g)
    # Still denied explicitly, whatever the group allows.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_role(RoleName=role)
    assert error(e)[:2] == ("AccessDenied", 403)
    iam.delete_group(GroupName=g)
    not_iam, _ = user_client(node, iam, "iam", policy=doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        not_iam.list_users()
    assert error(e)[:2] == ("AccessDenied", 403)


def test_administrator_access_reaches_every_service(node, iam, lam):
    # A user with AdministratorAccess is allowed by every service's authorisation
    # (tests/e2e/test_authorization.py has the denials).
    name = unique("admin")
    iam.create_user(UserName=name)
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    creds = dict(access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    node.client("lambda", **creds).list_functions()
    node.client("s3", **creds).list_buckets()
    node.client("logs", **creds).describe_log_groups()
    node.client("cloudwatch", **creds).list_metrics()
    node.client("sqs", **creds).list_queues()
    # The same user administers IAM.
    assert node.client("iam", **creds).list_users()["Users"]
    # The root key still reaches everything.
    lam.list_functions()


def aws_cli(node, *args, check=True):
    r = subprocess.run([sys.executable, "-m", "awscli", *args, "--output", "json"], env=node.aws_env(),
                       capture_output=True, text=True, timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_aws_cli(node, tmp_path):
    name = unique("cli")
    created = json.loads(aws_cli(node, "iam", "create-user", "--user-name", name).stdout)["User"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(ALLOW_ALL))
    aws_cli(node, "iam", "put-user-policy", "--user-name", name, "--policy-name", "all",
            "--policy-document", f"file://{policy}")
    got = json.loads(aws_cli(node, "iam", "get-user-policy", "--user-name", name, "--policy-name", "all").stdout)
    assert got["PolicyDocument"] == ALLOW_ALL
    key = json.loads(aws_cli(node, "iam", "create-access-key", "--user-name", name).stdout)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA")
    users = json.loads(aws_cli(node, "iam", "list-users").stdout)["Users"]
    assert name in [u["UserName"] for u in users]
    r = aws_cli(node, "iam", "get-user", "--user-name", unique("none"), check=False)
    assert r.returncode != 0 and "NoSuchEntity" in r.stderr
    ident = json.loads(aws_cli(node, "sts", "get-caller-identity").stdout)
    assert ident == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}
