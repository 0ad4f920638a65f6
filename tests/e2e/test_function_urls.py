"""Function URLs end to end: the 2.0 event as AWS documents it, response inference, binary
bodies and cookies both ways, every error status, NONE and AWS_IAM authorisation, aliases, the
host and path forms, and the URL-only listener. Raw HTTP (http.client, curl) calls the URLs;
boto3 configures them. CORS and streaming have their own files."""

import base64
import json
import re
import subprocess
import time

import pytest

from conftest import create, make_zip, settled
from urlutil import ECHO, allow_public, call, public_url, split

# The request payload AWS documents (Lambda developer guide, "Invoking Lambda function URLs").
DOCUMENTED_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/my/path",
    "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
    "cookies": ["cookie1", "cookie2"],
    "headers": {"header1": "value1", "header2": "value1,value2"},
    "queryStringParameters": {"parameter1": "value1,value2", "parameter2": "value"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "<urlid>",
        "authentication": None,
        "authorizer": None,
        "domainName": "<url-id>.lambda-url.us-west-2.on.aws",
        "domainPrefix": "<url-id>",
        "http": {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "123.123.123.123",
                 "userAgent": "agent"},
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    },
    "body": "Hello from client!",
    "isBase64Encoded": False,
}

DOCUMENTED_REQUEST = dict(
    method="POST",
    path="/my/path?parameter1=value1&parameter1=value2&parameter2=value",
    body=b"Hello from client!",
    headers=[("header1", "value1"), ("header2", "value1"), ("header2", "value2"), ("Cookie", "cookie1; cookie2"),
             ("User-Agent", "agent"), ("Content-Type", "text/plain")],
)

# Returns the JSON the caller posted: each test says what the function answers.
ANSWER = "import json\ndef handler(event, context):\n    return json.loads(event['body'])\n"


def test_the_event_is_the_documented_2_0_event(lam, fname):
    url = public_url(lam, fname)
    url_id, port = split(url)
    r = call(url, **DOCUMENTED_REQUEST)
    assert r.status == 200, r.body
    event = r.json()
    # Member for member: the same names and kinds as AWS's example.
    assert set(event) == set(DOCUMENTED_EVENT)
    assert set(event["requestContext"]) == set(DOCUMENTED_EVENT["requestContext"])
    assert set(event["requestContext"]["http"]) == set(DOCUMENTED_EVENT["requestContext"]["http"])
    for key in ("version", "routeKey", "rawPath", "rawQueryString", "cookies", "queryStringParameters", "body",
                "isBase64Encoded"):
        assert event[key] == DOCUMENTED_EVENT[key], key
    assert event["headers"]["header1"] == "value1" and event["headers"]["header2"] == "value1,value2"
    assert all(k == k.lower() for k in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["headers"]["host"] == f"{url_id}.lambda-url.us-east-1.localhost:{port}"
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert event["headers"]["x-forwarded-port"] == str(port)
    assert event["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;Parent=[0-9a-f]{16})?;Sampled=[01]",
                        event["headers"]["x-amzn-trace-id"])
    rc = event["requestContext"]
    assert rc["accountId"] == "anonymous"
    assert rc["apiId"] == rc["domainPrefix"] == url_id
    assert rc["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert rc["http"] == {"method": "POST", "path": "/my/path", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                          "userAgent": "agent"}
    assert rc["requestId"] == r.headers["x-amzn-requestid"]
    assert (rc["routeKey"], rc["stage"]) == ("$default", "$default")
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rc["time"])
    assert abs(rc["timeEpoch"] - time.time() * 1000) < 60_000
    assert rc["authentication"] is None and rc["authorizer"] is None


def comparable(event):
    """An event without what differs between two requests."""
    event["requestContext"].pop("requestId")
    event["requestContext"].pop("time")
    event["requestContext"].pop("timeEpoch")
    event["headers"].pop("x-amzn-trace-id")
    return event


def test_the_path_form_gives_the_same_event(lam, fname):
    url = public_url(lam, fname)
    by_host = call(url, **DOCUMENTED_REQUEST)
    by_path = call(url, via="path", **DOCUMENTED_REQUEST)
    assert by_host.status == by_path.status == 200
    assert comparable(by_host.json()) == comparable(by_path.json())
    root = call(url, via="path", path="")
    assert root.status == 200 and root.json()["rawPath"] == "/"


def test_curl_calls_the_function_url_it_was_given(lam, fname):
    url = public_url(lam, fname)
    # curl resolves *.localhost to the loopback address itself.
    out = subprocess.run(["curl", "-sS", "-i", f"{url}hello?name=Jane"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition("\n\n")
    assert head.startswith("HTTP/1.1 200"), head
    event = json.loads(body)
    assert event["rawPath"] == "/hello" and event["queryStringParameters"] == {"name": "Jane"}
    assert "body" not in event and event["isBase64Encoded"] is False


@pytest.mark.parametrize("answer, body", [
    ("hello", b"hello"),
    ({"hello": "world"}, b'{"hello":"world"}'),
    (["hello", 3, True], b'["hello",3,true]'),
    (3, b"3"),
    (3.1, b"3.1"),
    (True, b"true"),
    ({"statusCode": 200, "body": "body123"}, b"body123"),
    ({"statusCode": 200, "body": '{"hello": "world"}'}, b'{"hello": "world"}'),
])
def test_responses_are_inferred_as_aws_infers_them(lam, fname, answer, body):
    url = public_url(lam, fname, ANSWER)
    r = call(url, "POST", body=json.dumps(answer).encode(), headers={"Content-Type": "application/json"})
    assert (r.status, r.body) == (200, body)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-length"] == str(len(body))


def test_a_structured_response_sets_status_headers_and_cookies(lam, fname):
    url = public_url(lam, fname, ANSWER)
    answer = {
        "statusCode": 201,
        "headers": {"Content-Type": "text/plain", "My-Custom-Header": "Custom Value"},
        "multiValueHeaders": {"x-multi": ["one", "two"]},
        "cookies": ["Cookie_1=Value1; Expires=21 Oct 2021 07:48 GMT", "Cookie_2=Value2; Max-Age=78000"],
        "body": "created",
        "isBase64Encoded": False,
    }
    r = call(url, "POST", body=json.dumps(answer).encode(), headers={"Content-Type": "application/json"})
    assert (r.status, r.body) == (201, b"created")
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["my-custom-header"] == "Custom Value"
    assert r.all("x-multi") == ["one", "two"]
    assert r.all("set-cookie") == answer["cookies"]
    teapot = call(url, "POST", body=b'{"statusCode": "418", "body": "teapot"}', headers={"Content-Type": "text/plain"})
    assert (teapot.status, teapot.body) == (418, b"teapot")


def test_binary_bodies_both_ways(lam, fname):
    png = bytes(range(256)) * 4
    url = public_url(lam, fname, "import base64\ndef handler(event, context):\n"
                     "    data = base64.b64decode(event['body']) if event['isBase64Encoded'] else b''\n"
                     "    return {'statusCode': 200, 'headers': {'content-type': 'image/png'},\n"
                     "            'body': base64.b64encode(data[::-1]).decode(), 'isBase64Encoded': True}\n")
    r = call(url, "PUT", body=png, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200 and r.headers["content-type"] == "image/png"
    assert r.body == png[::-1]
    echo = public_url(lam, fname + "-echo")
    e = call(echo, "POST", body=png, headers={"Content-Type": "image/png"}).json()
    assert e["isBase64Encoded"] is True and base64.b64decode(e["body"]) == png
    form = call(echo, "POST", body=b"a=1&b=2", headers={"Content-Type": "application/x-www-form-urlencoded"}).json()
    assert form["isBase64Encoded"] is True and base64.b64decode(form["body"]) == b"a=1&b=2"
    text = call(echo, "POST", body="héllo".encode(), headers={"Content-Type": "text/plain; charset=utf-8"}).json()
    assert (text["body"], text["isBase64Encoded"]) == ("héllo", False)


def test_a_function_error_is_502(lam, fname):
    url = public_url(lam, fname, "def handler(event, context):\n    raise ValueError('boom')\n")
    r = call(url)
    assert (r.status, r.body) == (502, b"Internal Server Error")
    assert r.headers["x-amzn-requestid"]


def test_a_timeout_is_502_after_the_functions_timeout(lam, fname):
    url = public_url(lam, fname, "import time\ndef handler(event, context):\n    time.sleep(5)\n", Timeout=1)
    r = call(url)
    assert r.status == 502 and r.body == b"Internal Server Error"
    assert 1.0 <= r.elapsed < 4.5, r.elapsed


def test_a_throttled_function_is_429(lam, fname):
    url = public_url(lam, fname)
    lam.put_function_concurrency(FunctionName=fname, ReservedConcurrentExecutions=0)
    r = call(url)
    assert r.status == 429, r.body
    assert r.headers["x-amzn-errortype"] == "TooManyRequestsException"
    assert r.json() == {"Message": "Rate Exceeded."}
    lam.delete_function_concurrency(FunctionName=fname)
    assert call(url).status == 200


def test_a_body_over_6_mb_is_413(lam, fname):
    url = public_url(lam, fname)
    r = call(url, "POST", body=b"x" * (6 * 1024 * 1024 + 1), headers={"Content-Type": "text/plain"})
    assert r.status == 413
    assert r.headers["x-amzn-errortype"] == "RequestEntityTooLargeException"
    assert r.json() == {"Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}
    # A body that fits as sent but not once base64-encoded in the event is refused too.
    r = call(url, "POST", body=b"\xff" * (5 * 1024 * 1024), headers={"Content-Type": "application/octet-stream"})
    assert r.status == 413


def test_an_unknown_url_is_403_with_a_null_message(node, lam, fname):
    url = public_url(lam, fname)
    _, port = split(url)
    r = call(f"http://0123456789abcdefghijklmnopqrstuv.lambda-url.us-east-1.localhost:{port}/")
    assert r.status == 403 and r.json() == {"Message": None}
    assert r.headers["x-amzn-errortype"] == "AccessDeniedException"
    # Another region's host names no URL of this node.
    url_id, _ = split(url)
    assert call(f"http://{url_id}.lambda-url.eu-west-1.localhost:{port}/").status == 403
    lam.delete_function_url_config(FunctionName=fname)
    assert call(url).json() == {"Message": None}


@pytest.mark.parametrize("url_permission, invoke_permission", [(False, False), (True, False), (False, True)])
def test_a_policy_lacking_either_permission_is_403(lam, fname, url_permission, invoke_permission):
    create(lam, fname, make_zip({"app.py": ECHO}))
    settled(lam, fname)
    url = lam.create_function_url_config(FunctionName=fname, AuthType="NONE")["FunctionUrl"]
    allow_public(lam, fname, url_permission=url_permission, invoke_permission=invoke_permission)
    r = call(url)
    assert r.status == 403 and r.json() == {"Message": "Forbidden"}
    assert r.headers["x-amzn-errortype"] == "AccessDeniedException"
    allow_public(lam, fname, url_permission=not url_permission, invoke_permission=not invoke_permission)
    assert call(url).status == 200
    # Taking a permission away takes effect at once.
    lam.remove_permission(FunctionName=fname, StatementId="invoke")
    assert call(url).status == 403


def test_a_permission_for_another_auth_type_does_not_open_a_none_url(lam, fname):
    create(lam, fname, make_zip({"app.py": ECHO}))
    settled(lam, fname)
    url = lam.create_function_url_config(FunctionName=fname, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName=fname, StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="AWS_IAM")
    lam.add_permission(FunctionName=fname, StatementId="invoke", Action="lambda:InvokeFunction",
                       Principal="*", InvokedViaFunctionUrl=True)
    assert call(url).status == 403


def test_aws_iam_urls_need_a_signature_and_show_the_caller(lam, fname):
    create(lam, fname, make_zip({"app.py": ECHO}))
    settled(lam, fname)
    url = lam.create_function_url_config(FunctionName=fname, AuthType="AWS_IAM")["FunctionUrl"]
    unsigned = call(url, "POST", body=b"{}")
    assert unsigned.status == 403 and unsigned.json() == {"Message": "Forbidden"}
    bad = call(url, "POST", body=b"{}", sign=True, secret_key="wrong" * 8)
    assert bad.status == 403 and bad.headers["x-amzn-errortype"] == "InvalidSignatureException"
    for via in ("host", "path"):
        r = call(url, "POST", path="/who?x=1", body=b'{"a":1}', headers={"Content-Type": "application/json"},
                 sign=True, via=via)
        assert r.status == 200, r.body
        event = r.json()
        iam = event["requestContext"]["authorizer"]["iam"]
        assert iam["accessKey"] == "AKIAIGNISTESTKEY0001"
        assert iam["accountId"] == event["requestContext"]["accountId"] == "000000000000"
        assert iam["userArn"] == "arn:aws:iam::000000000000:root"
        assert iam["cognitoIdentity"] is None and iam["principalOrgId"] is None
        assert event["body"] == '{"a":1}' and event["rawPath"] == "/who"


def test_an_alias_url_runs_the_aliases_version_under_the_aliases_policy(lam, fname):
    code = "import os\ndef handler(event, context):\n    return os.environ['AWS_LAMBDA_FUNCTION_VERSION']\n"
    create(lam, fname, make_zip({"app.py": code}))
    settled(lam, fname)
    version = lam.publish_version(FunctionName=fname)["Version"]
    lam.create_alias(FunctionName=fname, Name="live", FunctionVersion=version)
    url = lam.create_function_url_config(FunctionName=fname, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    # The unqualified function's permissions do not open the alias's URL.
    allow_public(lam, fname)
    assert call(url).status == 403
    allow_public(lam, fname, qualifier="live")
    r = call(url)
    assert (r.status, r.body) == (200, version.encode())
    latest = lam.create_function_url_config(FunctionName=fname, AuthType="NONE")["FunctionUrl"]
    assert latest != url and call(latest).body == b"$LATEST"


def test_the_url_listener_serves_urls_only(fresh_node, fname):
    n = fresh_node(extra_args=("--url-listen", "127.0.0.1:0"))
    c = n.client()
    url = public_url(c, fname)
    _, url_port = split(url)
    main_port = int(n.endpoint.rsplit(":", 1)[1])
    assert url_port != main_port
    assert call(url).status == 200
    # The control API is not served there.
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=10)
    conn.request("GET", "/2015-03-31/functions")
    r = conn.getresponse()
    assert r.status == 403 and json.loads(r.read()) == {"Message": None}
    # The node's own port serves the URL too.
    url_id, _ = split(url)
    assert call(f"http://{url_id}.lambda-url.us-east-1.localhost:{main_port}/").status == 200
