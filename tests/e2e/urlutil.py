"""Function URLs for the end-to-end tests: making a URL public as AWS requires, and calling it
with raw HTTP by its host (`<url-id>.lambda-url.<region>.localhost:<port>`) or by the path form
(`/lambda-url/<url-id>/…` on the node's own address), signed or not."""

import http.client
import json
import time
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ACCESS_KEY, REGION, SECRET_KEY, create, make_zip, settled

ECHO = "def handler(event, context):\n    return event\n"


class Reply:
    def __init__(self, r, elapsed):
        self.status = r.status
        self.header_list = [(k.lower(), v) for k, v in r.getheaders()]
        self.headers = {k: v for k, v in self.header_list}
        self.body = r.read()
        self.elapsed = elapsed

    def all(self, name):
        return [v for k, v in self.header_list if k == name]

    def json(self):
        return json.loads(self.body)


def allow_public(client, name, qualifier=None, url_permission=True, invoke_permission=True):
    """The two statements a NONE URL needs since October 2025."""
    q = {"Qualifier": qualifier} if qualifier else {}
    if url_permission:
        client.add_permission(FunctionName=name, StatementId="url", Action="lambda:InvokeFunctionUrl",
                              Principal="*", FunctionUrlAuthType="NONE", **q)
    if invoke_permission:
        client.add_permission(FunctionName=name, StatementId="invoke", Action="lambda:InvokeFunction",
                              Principal="*", InvokedViaFunctionUrl=True, **q)


def public_url(client, name, code=ECHO, handler="app.handler", qualifier=None, url_config=None, **kw):
    """A function (created unless `code` is None) with a public URL; its FunctionUrl."""
    if code is not None:
        files = code if isinstance(code, dict) else {"app.py": code}
        create(client, name, make_zip(files), Handler=handler, **kw)
        settled(client, name)
    q = {"Qualifier": qualifier} if qualifier else {}
    url = client.create_function_url_config(FunctionName=name, AuthType="NONE", **q, **(url_config or {}))
    allow_public(client, name, qualifier)
    return url["FunctionUrl"]


def split(url):
    """(url id, port) of a FunctionUrl."""
    u = urlsplit(url)
    return u.hostname.split(".")[0], u.port


def call(url, method="GET", path="/", body=b"", headers=None, via="host", sign=False,
         secret_key=SECRET_KEY, timeout=60, access_key=ACCESS_KEY):
    """One request to a function URL; `via="path"` uses the path form on 127.0.0.1; `sign`
    signs it with the root key (or `access_key`/`secret_key`)."""
    url_id, port = split(url)
    pairs = list(headers.items() if isinstance(headers, dict) else headers or [])
    if via == "host":
        host, target = urlsplit(url).netloc, path
    else:
        host, target = f"127.0.0.1:{port}", f"/lambda-url/{url_id}{path}"
    if sign:
        req = AWSRequest(method=method, url=f"http://{host}{target}", data=body, headers=dict(pairs))
        SigV4Auth(Credentials(access_key, secret_key), "lambda", REGION).add_auth(req)
        pairs = list(req.headers.items())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        start = time.monotonic()
        try:
            send(conn, method, target, host, pairs, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (and closed) before the whole body was sent: the answer is read below
        r = conn.getresponse()
        return Reply(r, time.monotonic() - start)
    finally:
        conn.close()


def send(conn, method, target, host, pairs, body=b""):
    """Sends a request with exactly these headers (repeated names stay repeated)."""
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host)
    for k, v in pairs:
        conn.putheader(k, v)
    if body or method in ("POST", "PUT", "PATCH"):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body or None)
