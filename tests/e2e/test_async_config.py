"""Asynchronous invocation configuration (Put/Get/Update/Delete/ListFunctionEventInvokeConfigs)
and what it drives: retries and maximum age per qualifier, invocation records sent to OnSuccess
and OnFailure destinations (SQS queues and other functions), dead-letter queues, and deliveries
that fail. One node, retries after 1 s and 2 s, and `MaximumEventAgeInSeconds` counted in 10 ms
units (the hidden IGNIS_ASYNC_AGE_UNIT_MS) so that an event outgrows its age in a test."""

import datetime
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, create, make_zip, settled

ACCOUNT = "000000000000"

APP = """
def handler(event, context):
    if event.get("fail"):
        raise Exception("boom " + str(event.get("n")))
    return {"ok": event.get("n")}
"""


@pytest.fixture(scope="module")
def n(tmp_path_factory):
    from conftest import Node

    node = Node(
        tmp_path_factory.mktemp("async") / "data",
        extra_env={"IGNIS_ASYNC_AGE_UNIT_MS": "10"},
        extra_args=("--async-retry-delay", "1"),
    )
    yield node
    node.stop()


@pytest.fixture(scope="module")
def lam(n):
    return n.client()


@pytest.fixture(scope="module")
def raw(n):
    """A client that sends what boto3's own validation would refuse."""
    return n.client(validate=False)


@pytest.fixture(scope="module")
def sqs(n):
    return n.client("sqs")


def fn(lam, **kw):
    name = f"f-{uuid.uuid4().hex[:10]}"
    create(lam, name, make_zip({"app.py": APP}), **kw)
    settled(lam, name)
    return name


def arn(name, qualifier=None):
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def queue(sqs):
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[1]}"


def error(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def receive(sqs, url, timeout=30, attributes=False):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"])
        if r.get("Messages"):
            return r["Messages"][0]
    raise AssertionError(f"nothing arrived in {url}")


def invoke_event(lam, name, payload, **kw):
    r = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload), **kw)
    assert r["StatusCode"] == 202
    return r["ResponseMetadata"]["RequestId"]


# --- the operations ---------------------------------------------------------------------------


def test_put_get_update_list_delete(lam, sqs):
    name = fn(lam)
    _, q = queue(sqs)
    put = lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": q}}
    )
    assert put["FunctionArn"] == arn(name, "$LATEST")
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": q}}
    assert isinstance(put["LastModified"], datetime.datetime)
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert {k: v for k, v in got.items() if k != "ResponseMetadata"} == {
        k: v for k, v in put.items() if k != "ResponseMetadata"
    }
    # Update merges: what it does not name stays.
    up = lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=120)
    assert (up["MaximumRetryAttempts"], up["MaximumEventAgeInSeconds"]) == (1, 120)
    assert up["DestinationConfig"]["OnFailure"] == {"Destination": q}
    # Put replaces: what it does not name goes.
    again = lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    assert "MaximumRetryAttempts" not in again
    assert again["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}
    # Versions and aliases have their own.
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    v = lam.put_function_event_invoke_config(FunctionName=name, Qualifier="1", MaximumRetryAttempts=0)
    assert v["FunctionArn"] == arn(name, "1")
    a = lam.put_function_event_invoke_config(FunctionName=f"{name}:live", MaximumRetryAttempts=2)
    assert a["FunctionArn"] == arn(name, "live")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [arn(name, q) for q in ("$LATEST", "1", "live")]
    page = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    assert len(page["FunctionEventInvokeConfigs"]) == 2
    rest = lam.list_function_event_invoke_configs(FunctionName=name, Marker=page["NextMarker"])
    assert [c["FunctionArn"] for c in rest["FunctionEventInvokeConfigs"]] == [arn(name, "live")]
    assert "NextMarker" not in rest
    lam.delete_function_event_invoke_config(FunctionName=name, Qualifier="1")
    code, message = error(lam.get_function_event_invoke_config, FunctionName=name, Qualifier="1")
    assert (code, message) == (
        "ResourceNotFoundException",
        f"The function {arn(name, '1')} doesn't have an EventInvokeConfig",
    )
    # Deleting the alias deletes its configuration.
    lam.delete_alias(FunctionName=name, Name="live")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)["FunctionEventInvokeConfigs"]
    assert [c["FunctionArn"] for c in listed] == [arn(name, "$LATEST")]


def test_missing_things_are_not_found(lam):
    name = fn(lam)
    code, message = error(lam.get_function_event_invoke_config, FunctionName=name)
    assert code == "ResourceNotFoundException"
    assert message == f"The function {arn(name, '$LATEST')} doesn't have an EventInvokeConfig"
    assert error(lam.delete_function_event_invoke_config, FunctionName=name)[0] == "ResourceNotFoundException"
    assert error(lam.update_function_event_invoke_config, FunctionName=name, MaximumRetryAttempts=1) == (
        "ResourceNotFoundException",
        f"The function {arn(name, '$LATEST')} doesn't have an EventInvokeConfig",
    )
    for call in (lam.put_function_event_invoke_config, lam.update_function_event_invoke_config):
        assert error(call, FunctionName="no-such-fn", MaximumRetryAttempts=1) == (
            "ResourceNotFoundException",
            "The function doesn't exist.",
        )
        assert error(call, FunctionName=name, Qualifier="7", MaximumRetryAttempts=1)[0] == "ResourceNotFoundException"
        assert error(call, FunctionName=name, Qualifier="nope", MaximumRetryAttempts=1)[0] == "ResourceNotFoundException"
    assert error(lam.list_function_event_invoke_configs, FunctionName="no-such-fn") == (
        "ResourceNotFoundException",
        "The function doesn't exist.",
    )


def test_model_constraints_are_validation_errors(lam, raw):
    name = fn(lam)
    for member, value, constraint in [
        ("MaximumRetryAttempts", 3, "less than or equal to 2"),
        ("MaximumRetryAttempts", -1, "greater than or equal to 0"),
        ("MaximumEventAgeInSeconds", 59, "greater than or equal to 60"),
        ("MaximumEventAgeInSeconds", 21601, "less than or equal to 21600"),
    ]:
        code, message = error(raw.put_function_event_invoke_config, FunctionName=name, **{member: value})
        assert code == "ValidationException", (member, value)
        field = member[0].lower() + member[1:]
        assert message == (
            f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
            f"constraint: Member must have value {constraint}"
        )
    two = error(raw.put_function_event_invoke_config, FunctionName=name, MaximumRetryAttempts=3,
                MaximumEventAgeInSeconds=59)
    assert two[0] == "ValidationException" and two[1].startswith("2 validation errors detected")
    # The bounds themselves are accepted.
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, MaximumEventAgeInSeconds=60)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=21600)
    long = "arn:aws:sqs:us-east-1:000000000000:" + "q" * 320
    assert error(raw.put_function_event_invoke_config, FunctionName=name,
                 DestinationConfig={"OnSuccess": {"Destination": long}})[0] == "ValidationException"
    assert error(lam.put_function_event_invoke_config, FunctionName=name) == (
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    )


def test_destinations_are_checked(lam):
    name, other = fn(lam), fn(lam)
    bad = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    assert error(lam.put_function_event_invoke_config, FunctionName=name,
                 DestinationConfig={"OnFailure": {"Destination": bad}}) == (
        "InvalidParameterValueException",
        f"The provided destination config DestinationConfig(onSuccess=null, "
        f"onFailure=OnFailure(destination={bad})) is invalid.",
    )
    assert error(lam.put_function_event_invoke_config, FunctionName=name,
                 DestinationConfig={"OnSuccess": {"Destination": arn(name)}}) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.",
    )
    gone = arn("no-such-fn")
    assert error(lam.put_function_event_invoke_config, FunctionName=name,
                 DestinationConfig={"OnSuccess": {"Destination": gone}}) == (
        "InvalidParameterValueException",
        f"The destination ARN {gone} is invalid.",
    )
    for unbuilt in (f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
                    f"arn:aws:sns:{REGION}:{ACCOUNT}:topic", "arn:aws:s3:::bucket"):
        code, message = error(lam.put_function_event_invoke_config, FunctionName=name,
                              DestinationConfig={"OnFailure": {"Destination": unbuilt}})
        assert code == "InvalidParameterValueException"
        assert "not supported by Ignis yet" in message, message
    ok = lam.put_function_event_invoke_config(FunctionName=name,
                                              DestinationConfig={"OnSuccess": {"Destination": arn(other)}})
    assert ok["DestinationConfig"]["OnSuccess"] == {"Destination": arn(other)}


def test_dead_letter_config_is_stored(lam, sqs):
    _, q = queue(sqs)
    name = fn(lam, DeadLetterConfig={"TargetArn": q})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {"TargetArn": q}
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    settled(lam, name)
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    code, message = error(lam.update_function_configuration, FunctionName=name,
                          DeadLetterConfig={"TargetArn": f"arn:aws:sns:{REGION}:{ACCOUNT}:t"})
    assert code == "InvalidParameterValueException" and "not supported by Ignis yet" in message
    code, _ = error(lam.update_function_configuration, FunctionName=name,
                    DeadLetterConfig={"TargetArn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"})
    assert code == "InvalidParameterValueException"


# --- what the dispatcher does with it -----------------------------------------------------------


def test_retries_exhausted_lands_in_on_failure_with_the_record(lam, sqs):
    name = fn(lam)
    url, q = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": q}})
    request_id = invoke_event(lam, name, {"fail": True, "n": 1})
    record = json.loads(receive(sqs, url)["Body"])
    assert set(record) == {"version", "timestamp", "requestContext", "requestPayload",
                           "responseContext", "responsePayload"}
    assert record["version"] == "1.0"
    datetime.datetime.strptime(record["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert record["requestContext"] == {
        "requestId": request_id,
        "functionArn": arn(name, "$LATEST"),
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"fail": True, "n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorMessage"] == "boom 1"
    assert record["responsePayload"]["errorType"] == "Exception"


def test_zero_retries_is_one_attempt(lam, sqs):
    name = fn(lam)
    url, q = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": q}})
    invoke_event(lam, name, {"fail": True})
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_success_lands_in_on_success(lam, sqs):
    name = fn(lam)
    url, q = queue(sqs)
    failures_url, failures = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={
        "OnSuccess": {"Destination": q}, "OnFailure": {"Destination": failures}})
    request_id = invoke_event(lam, name, {"n": 5})
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"] == {"requestId": request_id, "functionArn": arn(name, "$LATEST"),
                                        "condition": "Success", "approximateInvokeCount": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"ok": 5}
    assert "Messages" not in sqs.receive_message(QueueUrl=failures_url, WaitTimeSeconds=1)


def test_the_invoked_alias_config_is_used(lam, sqs):
    name = fn(lam)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    url, q = queue(sqs)
    latest_url, latest = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, Qualifier="live", MaximumRetryAttempts=0,
                                         DestinationConfig={"OnFailure": {"Destination": q}})
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnFailure": {"Destination": latest}})
    invoke_event(lam, name, {"fail": True}, Qualifier="live")
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["functionArn"] == arn(name, "live")
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["executedVersion"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=latest_url, WaitTimeSeconds=1)


def test_event_age_exceeded(lam, sqs):
    # 60 "seconds" of 10 ms: the retry a second later would come after the event's age.
    name = fn(lam)
    url, q = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60,
                                         DestinationConfig={"OnFailure": {"Destination": q}})
    invoke_event(lam, name, {"fail": True})
    record = json.loads(receive(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_dead_letter_queue_gets_the_event_and_attributes(lam, sqs):
    url, q = queue(sqs)
    name = fn(lam, DeadLetterConfig={"TargetArn": q})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    request_id = invoke_event(lam, name, {"fail": True, "n": 9})
    m = receive(sqs, url)
    assert json.loads(m["Body"]) == {"fail": True, "n": 9}
    assert m["MessageAttributes"] == {
        "RequestID": {"StringValue": request_id, "DataType": "String"},
        "ErrorCode": {"StringValue": "200", "DataType": "Number"},
        "ErrorMessage": {"StringValue": "boom 9", "DataType": "String"},
    }


def test_a_function_destination_is_invoked_with_the_record(lam, sqs):
    first, second = fn(lam), fn(lam)
    url, q = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=first,
                                         DestinationConfig={"OnSuccess": {"Destination": arn(second)}})
    lam.put_function_event_invoke_config(FunctionName=second,
                                         DestinationConfig={"OnSuccess": {"Destination": q}})
    request_id = invoke_event(lam, first, {"n": 2})
    outer = json.loads(receive(sqs, url)["Body"])
    assert outer["requestContext"]["functionArn"] == arn(second, "$LATEST")
    inner = outer["requestPayload"]
    assert inner["requestContext"]["requestId"] == request_id
    assert inner["requestContext"]["functionArn"] == arn(first, "$LATEST")
    assert inner["responsePayload"] == {"ok": 2}


def test_a_failed_delivery_is_retried_then_logged(n, lam, sqs):
    name = fn(lam)
    url, q = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": q}})
    sqs.delete_queue(QueueUrl=url)
    request_id = invoke_event(lam, name, {"n": 1})
    deadline = time.monotonic() + 30
    line = "the invocation record could not be delivered to its destination"
    while time.monotonic() < deadline:
        text = n.log_path.read_text()
        if request_id in text and line in text:
            break
        time.sleep(0.3)
    text = n.log_path.read_text()
    hits = [l for l in text.splitlines() if line in l and request_id in l]
    assert hits and "NonExistentQueue" in hits[0], text[-2000:]
    assert metric_sum(n, name, "DestinationDeliveryFailures") == 1


def test_a_failed_dead_letter_is_counted(n, lam, sqs):
    url, q = queue(sqs)
    name = fn(lam, DeadLetterConfig={"TargetArn": q})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    sqs.delete_queue(QueueUrl=url)
    invoke_event(lam, name, {"fail": True})
    deadline = time.monotonic() + 30
    while metric_sum(n, name, "DeadLetterErrors") < 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert metric_sum(n, name, "DeadLetterErrors") == 1
    assert "the failed event could not be sent to the dead-letter queue" in n.log_path.read_text()


def metric_sum(n, name, metric):
    now = datetime.datetime.now(datetime.timezone.utc)
    points = n.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric,
        Dimensions=[{"Name": "FunctionName", "Value": name}],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        Period=60, Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_a_destination_is_sent_with_the_functions_execution_role(n, lam, sqs):
    iam = n.client("iam")
    lambda_trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    role = f"r-{uuid.uuid4().hex[:10]}"
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=lambda_trust)["Role"]["Arn"]
    name = fn(lam, Role=role_arn)
    url, q = queue(sqs)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": q}})
    # A role that may not send to the queue: the record is not delivered.
    invoke_event(lam, name, {"n": 1})
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=8)
    iam.put_role_policy(RoleName=role, PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": q}]}))
    invoke_event(lam, name, {"n": 2})
    assert json.loads(receive(sqs, url)["Body"])["responsePayload"] == {"ok": 2}
