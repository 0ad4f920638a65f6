"""Every service authorises every request by its caller's policies: users and role sessions are
allowed what their identity-based policies allow (a function's resource policy too) and denied
the rest with each service's own AccessDenied; the root user is allowed everything."""

import json
import time

import botocore.exceptions
import pytest

from conftest import REGION, ROLE, create, make_zip, settled
from iamutil import ACCOUNT, doc, error, make_role, make_user, session, trust, unique

FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function"


@pytest.fixture(scope="module")
def iam(node):
    return node.client("iam")


@pytest.fixture(scope="module")
def two_functions(lam, hello_zip):
    names = [unique("authz-a"), unique("authz-b")]
    for n in names:
        create(lam, n, hello_zip)
    return names


def allow(action, resource="*"):
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action, resource="*"):
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def denied(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    return error(e)


def lambda_denial(user, action, resource, explicit=False):
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return (
        "AccessDeniedException",
        403,
        f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: {action} "
        f"on resource: {resource} {why}",
    )


# ---------------------------------------------------------------------------
# Lambda


def test_a_user_without_policies_is_denied_lambda(node, iam, two_functions):
    name, creds = make_user(node, iam)
    lam = node.client("lambda", **creds)
    a = two_functions[0]
    assert denied(lam.list_functions) == lambda_denial(name, "lambda:ListFunctions", "*")
    assert denied(lam.get_function, FunctionName=a) == lambda_denial(name, "lambda:GetFunction", f"{FN}:{a}")
    assert denied(lam.invoke, FunctionName=a, Qualifier="$LATEST") == lambda_denial(
        name, "lambda:InvokeFunction", f"{FN}:{a}:$LATEST")
    assert denied(lam.get_account_settings) == lambda_denial(name, "lambda:GetAccountSettings", "*")
    assert denied(lam.create_function, FunctionName="nope", Runtime="python3.11", Role="arn:aws:iam::000000000000:role/r",
                  Handler="app.handler", Code={"ZipFile": b"x"}) == lambda_denial(
        name, "lambda:CreateFunction", f"{FN}:nope")
    assert denied(lam.get_layer_version, LayerName="l", VersionNumber=3) == lambda_denial(
        name, "lambda:GetLayerVersion", f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:l:3")
    assert denied(lam.list_tags, Resource=f"{FN}:{a}") == lambda_denial(name, "lambda:ListTags", f"{FN}:{a}")


def test_a_policy_on_one_function_allows_that_function_only(node, iam, two_functions):
    a, b = two_functions
    name, creds = make_user(node, iam, doc(allow("lambda:GetFunction", f"{FN}:{a}")))
    lam = node.client("lambda", **creds)
    assert lam.get_function(FunctionName=a)["Configuration"]["FunctionName"] == a
    assert lam.get_function(FunctionName=f"{FN}:{a}")["Configuration"]["FunctionName"] == a
    assert denied(lam.get_function, FunctionName=b) == lambda_denial(name, "lambda:GetFunction", f"{FN}:{b}")
    assert denied(lam.list_functions)[:2] == ("AccessDeniedException", 403)
    assert denied(lam.get_function_configuration, FunctionName=a)[:2] == ("AccessDeniedException", 403)
    # A qualified call is a different resource: function:<name>:<qualifier>.
    assert denied(lam.get_function, FunctionName=a, Qualifier="$LATEST") == lambda_denial(
        name, "lambda:GetFunction", f"{FN}:{a}:$LATEST")


def test_explicit_deny_beats_allow_and_wildcards_and_not_action(node, iam, two_functions):
    a, b = two_functions
    name, creds = make_user(node, iam, doc(allow("lambda:*"), deny("lambda:Get*", f"{FN}:{b}*")))
    lam = node.client("lambda", **creds)
    assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} >= {a, b}
    lam.get_function(FunctionName=a)
    assert denied(lam.get_function, FunctionName=b) == lambda_denial(
        name, "lambda:GetFunction", f"{FN}:{b}", explicit=True)
    assert denied(lam.get_function, FunctionName=b, Qualifier="$LATEST")[2].endswith(
        "with an explicit deny in an identity-based policy")
    lam.list_versions_by_function(FunctionName=b)
    # NotAction: everything but Lambda's reads.
    name, creds = make_user(node, iam, doc({"Effect": "Allow", "NotAction": "lambda:List*", "Resource": "*"}))
    lam = node.client("lambda", **creds)
    lam.get_function(FunctionName=a)
    assert denied(lam.list_functions) == lambda_denial(name, "lambda:ListFunctions", "*")


def test_invoke_and_a_conditioned_policy(node, iam, two_functions):
    a, b = two_functions
    _, creds = make_user(node, iam, doc(allow("lambda:InvokeFunction", f"{FN}:authz-a-*")))
    lam = node.client("lambda", **creds)
    r = lam.invoke(FunctionName=a, Payload=json.dumps({"k": 1}))
    assert r["StatusCode"] == 200 and json.loads(r["Payload"].read()) == {"k": 1}
    assert denied(lam.invoke, FunctionName=b)[:2] == ("AccessDeniedException", 403)
    # A condition on a global key: the caller's address.
    _, creds = make_user(node, iam, doc({**allow("lambda:GetFunction"),
                                         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    assert denied(node.client("lambda", **creds).get_function, FunctionName=a)[:2] == ("AccessDeniedException", 403)
    _, creds = make_user(node, iam, doc({**allow("lambda:GetFunction"),
                                         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    node.client("lambda", **creds).get_function(FunctionName=a)


def test_a_function_policy_grants_a_principal_of_the_account(node, iam, lam, hello_zip):
    fn = unique("authz-res")
    create(lam, fn, hello_zip)
    name, creds = make_user(node, iam)
    user_lam = node.client("lambda", **creds)
    assert denied(user_lam.get_function_configuration, FunctionName=fn)[:2] == ("AccessDeniedException", 403)
    lam.add_permission(FunctionName=fn, StatementId="user", Action="lambda:GetFunctionConfiguration",
                       Principal=f"arn:aws:iam::{ACCOUNT}:user/{name}")
    assert user_lam.get_function_configuration(FunctionName=fn)["FunctionName"] == fn
    assert denied(user_lam.get_function, FunctionName=fn)[:2] == ("AccessDeniedException", 403)
    # An explicit deny in the user's own policies still wins.
    iam.put_user_policy(UserName=name, PolicyName="no", PolicyDocument=doc(deny("lambda:*")))
    assert denied(user_lam.get_function_configuration, FunctionName=fn)[2].endswith(
        "with an explicit deny in an identity-based policy")


def test_an_aws_iam_url_needs_both_permissions_by_identity_or_function_policy(node, iam, lam):
    from urlutil import ECHO, call

    fn = unique("authz-url")
    create(lam, fn, make_zip({"app.py": ECHO}))
    settled(lam, fn)
    url = lam.create_function_url_config(FunctionName=fn, AuthType="AWS_IAM")["FunctionUrl"]

    def status(creds):
        r = call(url, "POST", body=b"{}", sign=True, access_key=creds["access_key"], secret_key=creds["secret_key"])
        return r.status, r.json()

    iam_url = {"StringEquals": {"lambda:FunctionUrlAuthType": "AWS_IAM"}}
    forbidden = (403, {"Message": "Forbidden"})
    _, nobody = make_user(node, iam)
    assert status(nobody) == forbidden
    # lambda:InvokeFunctionUrl alone is not enough for a URL made since October 2025.
    _, url_only = make_user(node, iam, doc({**allow("lambda:InvokeFunctionUrl", f"{FN}:{fn}"), "Condition": iam_url}))
    assert status(url_only) == forbidden
    # Both, the URL permission conditioned on the URL's auth type.
    name, both = make_user(node, iam, doc({**allow("lambda:InvokeFunctionUrl", f"{FN}:{fn}"), "Condition": iam_url},
                                          allow("lambda:InvokeFunction", f"{FN}:{fn}")))
    code, event = status(both)
    assert code == 200 and event["requestContext"]["authorizer"]["iam"]["userArn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    # A condition for the other auth type does not match.
    _, other_type = make_user(node, iam, doc(
        {**allow("lambda:InvokeFunctionUrl"), "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}},
        allow("lambda:InvokeFunction")))
    assert status(other_type) == forbidden
    # An explicit deny wins over the allows.
    iam.put_user_policy(UserName=name, PolicyName="no", PolicyDocument=doc(deny("lambda:InvokeFunctionUrl")))
    assert status(both) == forbidden
    # The function's policy grants a user with no policies of its own.
    granted, creds = make_user(node, iam)
    assert status(creds) == forbidden
    lam.add_permission(FunctionName=fn, StatementId="url", Action="lambda:InvokeFunctionUrl",
                       Principal=f"arn:aws:iam::{ACCOUNT}:user/{granted}", FunctionUrlAuthType="AWS_IAM")
    assert status(creds) == forbidden
    lam.add_permission(FunctionName=fn, StatementId="invoke", Action="lambda:InvokeFunction",
                       Principal=f"arn:aws:iam::{ACCOUNT}:user/{granted}")
    assert status(creds)[0] == 200
    # A policy change is seen at once (policies are read from memory by their revision).
    lam.remove_permission(FunctionName=fn, StatementId="invoke")
    assert status(creds) == forbidden


def test_naming_an_execution_role_needs_iam_pass_role(node, iam, lam, hello_zip):
    node.ensure_execution_role()
    role = ROLE
    fn = unique("authz-pass")
    create_only = allow("lambda:CreateFunction", f"{FN}:authz-pass-*")
    name, creds = make_user(node, iam, doc(create_only))
    user_lam = node.client("lambda", **creds)
    kw = dict(FunctionName=fn, Runtime="python3.11", Role=role, Handler="app.handler", Code={"ZipFile": hello_zip})
    assert denied(user_lam.create_function, **kw) == (
        "AccessDeniedException", 403,
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:PassRole on resource: {role} "
        "because no identity-based policy allows the iam:PassRole action")
    # Passing it to another service does not count.
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(create_only, {
        **allow("iam:PassRole", role), "Condition": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}}))
    assert denied(user_lam.create_function, **kw)[:2] == ("AccessDeniedException", 403)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=doc(
        create_only, allow("lambda:UpdateFunctionConfiguration", f"{FN}:authz-pass-*"), {
            **allow("iam:PassRole", role), "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}))
    assert user_lam.create_function(**kw)["Role"] == role
    # Changing the role to one the user may not pass is refused; the same role needs nothing.
    _, other = make_role(iam, doc({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}))
    settled(lam, fn)
    assert denied(user_lam.update_function_configuration, FunctionName=fn, Role=other)[2].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:PassRole on resource: {other}")
    assert user_lam.update_function_configuration(FunctionName=fn, Role=role, Timeout=5)["Timeout"] == 5


def test_a_role_session_is_authorised_by_its_roles_policies(node, iam, two_functions):
    a, b = two_functions
    _, role_arn = make_role(iam, trust(ACCOUNT), doc(allow("lambda:GetFunction", f"{FN}:{a}")))
    _, creds = make_user(node, iam, doc(allow("sts:AssumeRole")))
    temp = session(node.client("sts", **creds).assume_role(RoleArn=role_arn, RoleSessionName="s1"))
    lam = node.client("lambda", **temp)
    lam.get_function(FunctionName=a)
    code, status, message = denied(lam.get_function, FunctionName=b)
    assert (code, status) == ("AccessDeniedException", 403)
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role_arn.split('/')[-1]}/s1 is not")


def test_the_root_user_is_allowed_everything(lam, two_functions):
    lam.get_function(FunctionName=two_functions[0])
    lam.list_functions()
    lam.get_account_settings()


# ---------------------------------------------------------------------------
# S3


def s3_denial(user, action, resource, explicit=False):
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return ("AccessDenied", 403,
            f"User: arn:aws:iam::{ACCOUNT}:user/{user} is not authorized to perform: {action} "
            f'on resource: "{resource}" {why}')


@pytest.fixture(scope="module")
def two_buckets(node):
    s3 = node.client("s3")
    names = [unique("authz-a"), unique("authz-b")]
    for b in names:
        s3.create_bucket(Bucket=b)
        s3.put_object(Bucket=b, Key="k", Body=b"in " + b.encode())
    return names


def test_a_user_without_policies_is_denied_s3(node, iam, two_buckets):
    name, creds = make_user(node, iam)
    s3 = node.client("s3", **creds)
    a = two_buckets[0]
    assert denied(s3.list_buckets) == s3_denial(name, "s3:ListAllMyBuckets", "*")
    assert denied(s3.get_object, Bucket=a, Key="k") == s3_denial(name, "s3:GetObject", f"arn:aws:s3:::{a}/k")
    assert denied(s3.put_object, Bucket=a, Key="n", Body=b"x") == s3_denial(name, "s3:PutObject", f"arn:aws:s3:::{a}/n")
    assert denied(s3.list_objects_v2, Bucket=a) == s3_denial(name, "s3:ListBucket", f"arn:aws:s3:::{a}")
    assert denied(s3.create_bucket, Bucket="authz-nope") == s3_denial(name, "s3:CreateBucket", "arn:aws:s3:::authz-nope")
    assert denied(s3.get_bucket_notification_configuration, Bucket=a) == s3_denial(
        name, "s3:GetBucketNotification", f"arn:aws:s3:::{a}")


def test_get_object_on_one_bucket_reads_that_bucket_only(node, iam, two_buckets):
    a, b = two_buckets
    name, creds = make_user(node, iam, doc(allow("s3:GetObject", f"arn:aws:s3:::{a}/*")))
    s3 = node.client("s3", **creds)
    assert s3.get_object(Bucket=a, Key="k")["Body"].read() == b"in " + a.encode()
    assert denied(s3.get_object, Bucket=b, Key="k") == s3_denial(name, "s3:GetObject", f"arn:aws:s3:::{b}/k")
    assert denied(s3.list_objects_v2, Bucket=a)[:2] == ("AccessDenied", 403)
    assert denied(s3.put_object, Bucket=a, Key="k", Body=b"over")[:2] == ("AccessDenied", 403)
    # A presigned URL carries its signer's permissions.
    import urllib.error
    import urllib.request
    url = s3.generate_presigned_url("get_object", Params={"Bucket": a, "Key": "k"}, ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == b"in " + a.encode()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"}, ExpiresIn=60)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=30)
    assert e.value.code == 403 and b"<Code>AccessDenied</Code>" in e.value.read()


def test_s3_writes_copies_deletes_and_multipart(node, iam, two_buckets):
    a, b = two_buckets
    name, creds = make_user(node, iam, doc(
        allow(["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
              f"arn:aws:s3:::{a}/up/*"),
        allow("s3:GetObject", f"arn:aws:s3:::{b}/*"),
        deny("s3:DeleteObject", f"arn:aws:s3:::{a}/up/keep")))
    s3 = node.client("s3", **creds)
    s3.put_object(Bucket=a, Key="up/1", Body=b"1")
    s3.copy_object(Bucket=a, Key="up/2", CopySource={"Bucket": b, "Key": "k"})
    # The copy's source must be readable: a's objects are not (only b's).
    assert denied(s3.copy_object, Bucket=a, Key="up/3", CopySource={"Bucket": a, "Key": "k"}) == s3_denial(
        name, "s3:GetObject", f"arn:aws:s3:::{a}/k")
    up = s3.create_multipart_upload(Bucket=a, Key="up/big")["UploadId"]
    etag = s3.upload_part(Bucket=a, Key="up/big", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    assert s3.list_parts(Bucket=a, Key="up/big", UploadId=up)["Parts"][0]["ETag"] == etag
    s3.abort_multipart_upload(Bucket=a, Key="up/big", UploadId=up)
    assert denied(s3.create_multipart_upload, Bucket=a, Key="elsewhere")[:2] == ("AccessDenied", 403)
    s3.delete_object(Bucket=a, Key="up/1")
    assert denied(s3.delete_object, Bucket=a, Key="up/keep") == s3_denial(
        name, "s3:DeleteObject", f"arn:aws:s3:::{a}/up/keep", explicit=True)
    # DeleteObjects is authorised for each key it names.
    assert denied(s3.delete_objects, Bucket=a, Delete={"Objects": [{"Key": "up/2"}, {"Key": "k"}]}) == s3_denial(
        name, "s3:DeleteObject", f"arn:aws:s3:::{a}/k")
    s3.delete_objects(Bucket=a, Delete={"Objects": [{"Key": "up/2"}]})
    root = node.client("s3")
    assert root.get_object(Bucket=a, Key="k")["Body"].read() == b"in " + a.encode()
    assert "Contents" not in root.list_objects_v2(Bucket=a, Prefix="up/")


# ---------------------------------------------------------------------------
# SQS, CloudWatch Logs, CloudWatch


def test_a_user_without_policies_is_denied_sqs_logs_and_cloudwatch(node, iam):
    name, creds = make_user(node, iam)
    user = f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform:"
    queue = unique("authz-q")
    url = node.client("sqs").create_queue(QueueName=queue)["QueueUrl"]
    sqs = node.client("sqs", **creds)
    # SQS names the action in lower case.
    assert denied(sqs.send_message, QueueUrl=url, MessageBody="m") == (
        "AccessDenied", 403, f"{user} sqs:sendmessage on resource: arn:aws:sqs:{REGION}:{ACCOUNT}:{queue} "
        "because no identity-based policy allows the sqs:sendmessage action")
    assert denied(sqs.list_queues)[:2] == ("AccessDenied", 403)
    group = unique("/authz/g")
    logs = node.client("logs", **creds)
    assert denied(logs.create_log_group, logGroupName=group) == (
        "AccessDeniedException", 400,
        f"{user} logs:CreateLogGroup on resource: arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream: "
        "because no identity-based policy allows the logs:CreateLogGroup action")
    assert denied(logs.describe_log_groups)[2] == (
        f"{user} logs:DescribeLogGroups on resource: arn:aws:logs:{REGION}:{ACCOUNT}:log-group::log-stream: "
        "because no identity-based policy allows the logs:DescribeLogGroups action")
    cw = node.client("cloudwatch", **creds)
    assert denied(cw.list_metrics) == (
        "AccessDenied", 403,
        f"{user} cloudwatch:ListMetrics on resource: * because no identity-based policy allows the "
        "cloudwatch:ListMetrics action")


def test_an_sqs_policy_on_one_queue(node, iam):
    root = node.client("sqs")
    a, b = unique("authz-qa"), unique("authz-qb")
    url_a = root.create_queue(QueueName=a)["QueueUrl"]
    url_b = root.create_queue(QueueName=b)["QueueUrl"]
    _, creds = make_user(node, iam, doc(
        allow(["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{a}")))
    sqs = node.client("sqs", **creds)
    sqs.send_message(QueueUrl=url_a, MessageBody="hello")
    sqs.send_message_batch(QueueUrl=url_a, Entries=[{"Id": "1", "MessageBody": "two"}])
    got = sqs.receive_message(QueueUrl=url_a, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    sqs.delete_message(QueueUrl=url_a, ReceiptHandle=got[0]["ReceiptHandle"])
    assert denied(sqs.send_message, QueueUrl=url_b, MessageBody="no")[:2] == ("AccessDenied", 403)
    assert denied(sqs.get_queue_attributes, QueueUrl=url_a)[2].endswith(
        "because no identity-based policy allows the sqs:getqueueattributes action")
    assert "Messages" not in root.receive_message(QueueUrl=url_b, WaitTimeSeconds=0)


def test_a_logs_policy_on_one_group_and_cloudwatch_put_only(node, iam):
    group = unique("/authz/logs")
    node.client("logs").create_log_group(logGroupName=group)
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    _, creds = make_user(node, iam, doc(
        allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:GetLogEvents"], f"{arn}:*"),
        allow("cloudwatch:PutMetricData"),
        deny("logs:PutLogEvents", f"{arn}:log-stream:sealed")))
    logs = node.client("logs", **creds)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}])
    assert [e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName="s")["events"]] == ["m"]
    logs.create_log_stream(logGroupName=group, logStreamName="sealed")
    assert denied(logs.put_log_events, logGroupName=group, logStreamName="sealed",
                  logEvents=[{"timestamp": int(time.time() * 1000), "message": "m"}])[2].endswith(
        f"on resource: {arn}:log-stream:sealed with an explicit deny in an identity-based policy")
    assert denied(logs.create_log_group, logGroupName=group + "-other")[0] == "AccessDeniedException"
    cw = node.client("cloudwatch", **creds)
    cw.put_metric_data(Namespace="Authz", MetricData=[{"MetricName": "m", "Value": 1}])
    assert denied(cw.list_metrics)[:2] == ("AccessDenied", 403)
