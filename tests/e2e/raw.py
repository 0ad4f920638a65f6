"""Hand-made HTTP requests to Ignis, signed (or deliberately mis-signed) with botocore's signer."""

import datetime
import json
from unittest import mock

import urllib3
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, REGION, SECRET_KEY

_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=120))


class Response:
    def __init__(self, r):
        self.status = r.status
        self.headers = r.headers
        self.body = r.data

    @property
    def error_type(self):
        return self.headers.get("x-amzn-ErrorType")

    def json(self):
        return json.loads(self.body)


def request(endpoint, method, path, body=b"", headers=None, sign=True, access_key=ACCESS_KEY,
            secret_key=SECRET_KEY, at=None, presign=False, expires=300):
    prepared = prepare(endpoint, method, path, body, headers, sign, access_key, secret_key, at, presign, expires)
    r = _http.request(method, prepared.url, body=body or None, headers=dict(prepared.headers), redirect=False)
    return Response(r)


def prepare(endpoint, method, path, body=b"", headers=None, sign=True, access_key=ACCESS_KEY,
            secret_key=SECRET_KEY, at=None, presign=False, expires=300):
    """The request, signed as asked, ready to send (its `url` and `headers`)."""
    url = endpoint + path
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if sign:
        creds = Credentials(access_key, secret_key)
        signer = SigV4QueryAuth(creds, "lambda", REGION, expires=expires) if presign else SigV4Auth(creds, "lambda", REGION)
        when = at or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(req)
    return req.prepare()
