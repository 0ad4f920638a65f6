"""Every API request is SigV4-verified; each failure has AWS's 403 error type."""

import datetime

import pytest
from botocore.exceptions import ClientError

import raw


def test_unsigned_request_is_missing_authentication_token(node):
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions", sign=False)
    assert r.status == 403
    assert r.error_type == "MissingAuthenticationTokenException"


def test_unknown_access_key_is_unrecognized_client(node):
    c = node.client(access_key="AKIANOBODYKNOWSTHIS1")
    with pytest.raises(ClientError) as e:
        c.list_functions()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_secret_is_invalid_signature(node):
    c = node.client(secret_key="not-the-secret")
    with pytest.raises(ClientError) as e:
        c.list_functions()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_malformed_authorization_is_incomplete_signature(node):
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions", sign=False,
                    headers={"Authorization": "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc",
                             "X-Amz-Date": "20260101T000000Z"})
    assert r.status == 403
    assert r.error_type == "IncompleteSignatureException"


@pytest.mark.parametrize("minutes,ok", [(14, True), (-14, True), (16, False), (-16, False)])
def test_clock_skew_window_is_fifteen_minutes(node, minutes, ok):
    at = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=minutes)
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions", at=at)
    if ok:
        assert r.status == 200, r.body
    else:
        assert r.status == 403
        assert r.error_type == "InvalidSignatureException"
        assert b"Signature expired" in r.body or b"Signature not yet current" in r.body


def test_body_is_covered_by_the_signature(node):
    body = b'{"Tags": {"a": "b"}}'
    # Sign one body, send another.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="POST", url=node.endpoint + "/2017-03-31/tags/x", data=body)
    SigV4Auth(Credentials(raw.ACCESS_KEY, raw.SECRET_KEY), "lambda", raw.REGION).add_auth(req)
    p = req.prepare()
    r = raw._http.request("POST", p.url, body=b'{"Tags": {"a": "c"}}', headers=dict(p.headers))
    assert r.status == 403
    assert r.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_content_sha256_header_is_honoured(node):
    import hashlib
    body = b""
    h = {"X-Amz-Content-Sha256": hashlib.sha256(body).hexdigest()}
    assert raw.request(node.endpoint, "GET", "/2015-03-31/functions", headers=h).status == 200
    bad = {"X-Amz-Content-Sha256": hashlib.sha256(b"other").hexdigest()}
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions", headers=bad)
    assert r.status == 403 and r.error_type == "InvalidSignatureException"


def test_presigned_query_form_is_accepted(node):
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions", presign=True)
    assert r.status == 200, r.body
    r = raw.request(node.endpoint, "GET", "/2015-03-31/functions", presign=True, secret_key="wrong")
    assert r.status == 403 and r.error_type == "InvalidSignatureException"


def test_every_response_carries_a_request_id(node):
    ok = raw.request(node.endpoint, "GET", "/2015-03-31/functions")
    bad = raw.request(node.endpoint, "GET", "/2015-03-31/functions", sign=False)
    for r in (ok, bad):
        assert len(r.headers["x-amzn-RequestId"]) == 36
