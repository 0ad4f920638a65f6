"""STS against the real binary: GetCallerIdentity for each kind of principal, AssumeRole (trust
policies, external ids, identity policies, durations, session policies, role chaining),
GetSessionToken, and temporary credentials verified (token, expiry) by every service."""

import time

import botocore.exceptions
import pytest

from conftest import Node
from iamutil import ACCOUNT, doc, error, make_role, make_user, session, trust, unique


@pytest.fixture(scope="module")
def snode(tmp_path_factory):
    """A node whose sessions may be as short as a second (IGNIS_STS_MIN_SESSION_SECONDS)."""
    n = Node(tmp_path_factory.mktemp("sts") / "data", extra_env={"IGNIS_STS_MIN_SESSION_SECONDS": "1"})
    yield n
    n.stop()


@pytest.fixture(scope="module")
def iam(snode):
    return snode.client("iam")


MAY_ASSUME = doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
IAM_READ = doc({"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"})


def test_get_caller_identity_of_root_user_and_role_session(snode, iam):
    root = snode.client("sts").get_caller_identity()
    assert (root["Account"], root["Arn"], root["UserId"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    name, creds = make_user(snode, iam, MAY_ASSUME)
    me = snode.client("sts", **creds).get_caller_identity()
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert me["UserId"] == iam.get_user(UserName=name)["User"]["UserId"]
    role, arn = make_role(iam, trust(ACCOUNT))
    got = snode.client("sts", **creds).assume_role(RoleArn=arn, RoleSessionName="build-7")
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    assert got["AssumedRoleUser"] == {"AssumedRoleId": f"{role_id}:build-7",
                                      "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/build-7"}
    c = got["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["SecretAccessKey"]) == 40 and c["SessionToken"]
    left = c["Expiration"].timestamp() - time.time()
    assert 3500 < left <= 3600
    me = snode.client("sts", **session(got)).get_caller_identity()
    assert me == {**me, "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/build-7",
                  "UserId": f"{role_id}:build-7", "Account": ACCOUNT}


def test_assume_role_is_checked_against_trust_and_identity_policies(snode, iam):
    _, arn = make_role(iam, trust(ACCOUNT))
    # Trusted by its account, a user still needs its own policies to allow sts:AssumeRole.
    name, bare = make_user(snode, iam)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", **bare).assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error(e)[:2] == ("AccessDenied", 403)
    # Named by the trust policy itself, it needs nothing more.
    _, named = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT}:user/{name}"))
    snode.client("sts", **bare).assume_role(RoleArn=named, RoleSessionName="s1")
    # A trust policy that names someone else refuses, whatever the caller's policies allow.
    _, creds = make_user(snode, iam, MAY_ASSUME)
    _, other = make_role(iam, trust(f"arn:aws:iam::{ACCOUNT}:user/someone-else"))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", **creds).assume_role(RoleArn=other, RoleSessionName="s1")
    code, status, message = error(e)
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(f"is not authorized to perform: sts:AssumeRole on resource: {other}")
    # A role that does not exist is refused the same way.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", **creds).assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/none", RoleSessionName="s1")
    assert error(e)[:2] == ("AccessDenied", 403)
    # An explicit deny in the caller's policies wins over the trust policy.
    _, denied = make_user(snode, iam, doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                                          {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": arn}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", **denied).assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error(e)[:2] == ("AccessDenied", 403)


def test_external_id_condition(snode, iam):
    _, arn = make_role(iam, trust(ACCOUNT, {"StringEquals": {"sts:ExternalId": "s3cr3t-id"}}))
    _, creds = make_user(snode, iam, MAY_ASSUME)
    sts = snode.client("sts", **creds)
    sts.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="s3cr3t-id")
    for given in ({"ExternalId": "guessed"}, {}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sts.assume_role(RoleArn=arn, RoleSessionName="s1", **given)
        assert error(e)[:2] == ("AccessDenied", 403)


def test_root_may_not_assume_roles_and_names_and_durations_are_checked(snode, iam):
    _, arn = make_role(iam, trust(ACCOUNT), MaxSessionDuration=7200)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")
    assert error(e) == ("AccessDenied", 403, "Roles may not be assumed by root accounts.")
    _, creds = make_user(snode, iam, MAY_ASSUME)
    raw = snode.client("sts", validate=False, **creds)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.assume_role(RoleArn=arn, RoleSessionName="has space")
    assert error(e)[:2] == ("ValidationError", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        raw.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7201)
    assert error(e) == ("ValidationError", 400,
                        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    got = raw.assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    assert 7100 < got["Credentials"]["Expiration"].timestamp() - time.time() <= 7200
    # Role chaining: at most an hour.
    _, next_arn = make_role(iam, trust(ACCOUNT))
    iam.put_role_policy(RoleName=arn.rsplit("/", 1)[1], PolicyName="p", PolicyDocument=MAY_ASSUME)
    chained = snode.client("sts", validate=False, **session(got))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        chained.assume_role(RoleArn=next_arn, RoleSessionName="c1", DurationSeconds=7200)
    assert error(e)[:2] == ("ValidationError", 400)
    c = chained.assume_role(RoleArn=next_arn, RoleSessionName="c1")
    next_name = next_arn.rsplit("/", 1)[1]
    assert snode.client("sts", **session(c)).get_caller_identity()["Arn"].endswith(f"/{next_name}/c1")


def test_session_policies_intersect_the_roles(snode, iam):
    _, arn = make_role(iam, trust(ACCOUNT), IAM_READ)
    _, creds = make_user(snode, iam, MAY_ASSUME)
    sts = snode.client("sts", **creds)
    whole = snode.client("iam", **session(sts.assume_role(RoleArn=arn, RoleSessionName="all")))
    whole.list_users()
    whole.list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        whole.create_user(UserName=unique("x"))
    assert error(e)[:2] == ("AccessDenied", 403)
    narrowed = sts.assume_role(RoleArn=arn, RoleSessionName="narrow",
                               Policy=doc({"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}))
    assert narrowed["PackedPolicySize"] > 0
    narrow = snode.client("iam", **session(narrowed))
    narrow.list_users()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        narrow.list_roles()
    assert error(e)[:2] == ("AccessDenied", 403)
    assert "assumed-role" in error(e)[2]
    # A managed session policy narrows the same way; it never widens.
    by_arn = sts.assume_role(RoleArn=arn, RoleSessionName="arn",
                             PolicyArns=[{"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}])
    wide = snode.client("iam", **session(by_arn))
    wide.list_roles()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        wide.create_user(UserName=unique("x"))
    assert error(e)[:2] == ("AccessDenied", 403)


def test_get_session_token(snode, iam, tmp_path):
    name, creds = make_user(snode, iam, IAM_READ)
    got = snode.client("sts", **creds).get_session_token(DurationSeconds=900)["Credentials"]
    assert got["AccessKeyId"].startswith("ASIA")
    assert 800 < got["Expiration"].timestamp() - time.time() <= 900
    temp = dict(access_key=got["AccessKeyId"], secret_key=got["SecretAccessKey"], session_token=got["SessionToken"])
    assert snode.client("sts", **temp).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    snode.client("iam", **temp).list_users()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", **temp).get_session_token()
    assert error(e)[:2] == ("AccessDenied", 403)
    # The root user's temporary credentials act as the root user, on every service.
    root = snode.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    rtemp = dict(access_key=root["AccessKeyId"], secret_key=root["SecretAccessKey"], session_token=root["SessionToken"])
    assert snode.client("sts", **rtemp).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    snode.client("lambda", **rtemp).list_functions()
    snode.client("s3", **rtemp).list_buckets()
    snode.client("logs", **rtemp).describe_log_groups()
    s3 = snode.client("s3", **rtemp)
    s3.create_bucket(Bucket=unique("tmp"))


def test_temporary_keys_need_their_token_on_every_service(snode, iam):
    root = snode.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
    without = dict(access_key=root["AccessKeyId"], secret_key=root["SecretAccessKey"])
    wrong = dict(without, session_token="IQoJnot-the-token")
    for creds in (without, wrong):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            snode.client("sts", **creds).get_caller_identity()
        assert error(e)[:2] == ("InvalidClientTokenId", 403)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            snode.client("lambda", **creds).list_functions()
        assert error(e)[:2] == ("UnrecognizedClientException", 403)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            snode.client("s3", **creds).list_buckets()
        assert error(e)[:2] == ("InvalidToken", 400)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            snode.client("logs", **creds).describe_log_groups()
        assert error(e)[0] == "UnrecognizedClientException"
    # A long-term key sent with a session token is refused too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", session_token="IQoJstray").get_caller_identity()
    assert error(e)[:2] == ("InvalidClientTokenId", 403)


def test_expired_credentials_are_refused_everywhere(snode, iam):
    _, arn = make_role(iam, trust(ACCOUNT), IAM_READ)
    _, creds = make_user(snode, iam, MAY_ASSUME)
    got = snode.client("sts", validate=False, **creds).assume_role(RoleArn=arn, RoleSessionName="short",
                                                                   DurationSeconds=2)
    temp = session(got)
    snode.client("iam", **temp).list_users()
    root = snode.client("sts", validate=False).get_session_token(DurationSeconds=2)["Credentials"]
    rtemp = dict(access_key=root["AccessKeyId"], secret_key=root["SecretAccessKey"], session_token=root["SessionToken"])
    time.sleep(3)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("iam", **temp).list_users()
    assert error(e) == ("ExpiredToken", 403, "The security token included in the request is expired")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("sts", **temp).get_caller_identity()
    assert error(e)[:2] == ("ExpiredToken", 403)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("lambda", **rtemp).list_functions()
    assert error(e)[:2] == ("ExpiredTokenException", 403)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("s3", **rtemp).list_buckets()
    assert error(e)[:2] == ("ExpiredToken", 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        snode.client("logs", **rtemp).describe_log_groups()
    assert error(e)[0] == "ExpiredTokenException"


def test_role_sessions_are_authorised_by_their_roles_policies(snode, iam):
    _, arn = make_role(iam, trust(ACCOUNT), doc({"Effect": "Allow", "Action": "*", "Resource": "*"}))
    _, creds = make_user(snode, iam, MAY_ASSUME)
    temp = session(snode.client("sts", **creds).assume_role(RoleArn=arn, RoleSessionName="s1"))
    snode.client("lambda", **temp).list_functions()
    snode.client("s3", **temp).list_buckets()


def test_identity_survives_a_restart(tmp_path):
    n = Node(tmp_path / "data")
    try:
        iam = n.client("iam")
        name = unique("durable")
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        _, arn = make_role(iam, trust(ACCOUNT))
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=MAY_ASSUME)
        temp = session(n.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
                       .assume_role(RoleArn=arn, RoleSessionName="s1"))
    finally:
        n.stop()
    n = Node(tmp_path / "data")
    try:
        assert n.client("iam").get_user(UserName=name)["User"]["UserName"] == name
        sts = n.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
        assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
        assert n.client("sts", **temp).get_caller_identity()["Arn"].endswith("/s1")
    finally:
        n.stop()
