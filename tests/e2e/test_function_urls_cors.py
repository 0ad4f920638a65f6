"""CORS on function URLs: preflights answered by Ignis without invoking, the configured headers
on every response over the function's own, and a real browser (headless Chromium) calling a URL
from a page of another origin."""

import http.server
import json
import shutil
import subprocess
import threading

import pytest

from conftest import missing
from urlutil import call, public_url

CORS = {
    "AllowOrigins": ["http://app.example"],
    "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["x-custom"],
    "ExposeHeaders": ["x-out"],
    "MaxAge": 300,
    "AllowCredentials": True,
}

# Fails every invocation: a preflight that succeeds cannot have invoked it.
FAILS = "def handler(event, context):\n    raise RuntimeError('invoked')\n"

# Answers with CORS headers of its own, which the configuration overrides.
OWN_HEADERS = ("def handler(event, context):\n"
               "    return {'statusCode': 200, 'body': 'ok', 'headers': {'Access-Control-Allow-Origin': '*',\n"
               "            'Access-Control-Expose-Headers': 'mine', 'x-out': '1'}}\n")


def test_a_preflight_is_answered_without_invoking(lam, fname):
    url = public_url(lam, fname, FAILS, url_config={"Cors": CORS})
    r = call(url, "OPTIONS", headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                                      "Access-Control-Request-Headers": "x-custom"})
    assert r.status == 200, r.body
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert r.headers["access-control-allow-methods"] == "GET,POST"
    assert r.headers["access-control-allow-headers"] == "x-custom"
    assert r.headers["access-control-max-age"] == "300"
    assert r.headers["access-control-allow-credentials"] == "true"
    other = call(url, "OPTIONS", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert other.status == 200 and "access-control-allow-origin" not in other.headers


def test_responses_carry_the_configured_headers_over_the_functions(lam, fname):
    url = public_url(lam, fname, OWN_HEADERS, url_config={"Cors": CORS})
    r = call(url, headers={"Origin": "http://app.example"})
    assert (r.status, r.body) == (200, b"ok")
    assert r.headers["access-control-allow-origin"] == "http://app.example"
    assert r.headers["access-control-expose-headers"] == "x-out"
    assert r.headers["access-control-allow-credentials"] == "true"
    other = call(url, headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    # Updating the configuration changes the answer at once.
    lam.update_function_url_config(FunctionName=fname, Cors={"AllowOrigins": ["*"]})
    assert call(url, headers={"Origin": "http://evil.example"}).headers["access-control-allow-origin"] == "*"


def test_without_a_configuration_options_reaches_the_function(lam, fname):
    url = public_url(lam, fname, OWN_HEADERS)
    r = call(url, "OPTIONS", headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST"})
    assert (r.status, r.body) == (200, b"ok")
    assert r.headers["access-control-allow-origin"] == "*"


PAGE = """<!doctype html><title>pending</title><script>
fetch(%s, {method: "POST", headers: {"x-custom": "1", "content-type": "application/json"}, body: "{}"})
  .then(r => r.text()).then(t => { document.title = "ok:" + t; })
  .catch(e => { document.title = "failed:" + e; });
</script>"""


class Page(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return name
    missing("chromium is not installed (Debian's `chromium`)")


def browse(page_url):
    """The page's title once its script ran, as headless Chromium saw it."""
    out = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--virtual-time-budget=10000", "--dump-dom", page_url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    start = out.stdout.find("<title>") + len("<title>")
    return out.stdout[start:out.stdout.find("</title>")]


@pytest.fixture
def page_server():
    servers = []

    def serve(body):
        handler = type("P", (Page,), {"body": body.encode()})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield serve
    for s in servers:
        s.shutdown()


def test_a_browser_calls_the_url_from_an_allowed_origin_only(lam, fname, page_server):
    browser = chromium()
    assert browser
    answer = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hello browser'}\n"
    create_cors = {"AllowOrigins": ["http://nobody.example"], "AllowMethods": ["POST"], "AllowHeaders": ["x-custom", "content-type"]}
    url = public_url(lam, fname, answer, url_config={"Cors": create_cors})
    port = page_server(PAGE % json.dumps(url))
    allowed, other = f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    lam.update_function_url_config(FunctionName=fname, Cors={**create_cors, "AllowOrigins": [allowed]})
    assert browse(f"{allowed}/") == "ok:hello browser"
    assert browse(f"{other}/").startswith("failed:")
