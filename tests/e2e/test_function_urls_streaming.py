"""Function URLs in RESPONSE_STREAM mode: Node.js functions with awslambda.streamifyResponse and
HttpResponseStream.from, and a Rust function with lambda_http's run_with_streaming_response
(status, headers and cookies from the prelude), the first byte before the function has
finished, 20 MB responses, errors, a function that does not stream, and a client that leaves
midway."""

import hashlib
import http.client
import time

import pytest

from conftest import create, settled
from urlutil import allow_public, call, public_url, send, split

STREAMER = """
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = awslambda.streamifyResponse(async (event, stream) => {
  const path = event.rawPath;
  if (path === "/plain") {
    stream.setContentType("text/plain");
    stream.write("no prelude");
    stream.end();
    return;
  }
  if (path === "/fail-early") {
    throw new Error("before anything");
  }
  stream = awslambda.HttpResponseStream.from(stream, {
    statusCode: 201,
    headers: { "content-type": "text/plain", "x-streamed": "yes" },
    cookies: ["a=1", "b=2; Max-Age=60"],
  });
  if (path === "/big") {
    const chunk = Buffer.alloc(64 * 1024, "z");
    for (let i = 0; i < 320; i++) {
      if (!stream.write(chunk)) await new Promise((r) => stream.once("drain", r));
    }
    stream.end();
    return;
  }
  stream.write("first;");
  await sleep(path === "/slow" ? 5000 : 1000);
  if (path === "/fail-late") {
    throw new Error("after partial output");
  }
  stream.write("second");
  stream.end();
});
"""


@pytest.fixture
def streaming_url(node, lam, fname):
    assert "nodejs20.x" in node.runtimes, "response streaming URLs need nodejs20.x on this host"
    return public_url(lam, fname, {"index.js": STREAMER}, handler="index.handler", Runtime="nodejs20.x",
                      Timeout=30, url_config={"InvokeMode": "RESPONSE_STREAM"})


@pytest.fixture
def rust_url(lam, fname, rust_streaming_zip):
    create(lam, fname, rust_streaming_zip, Runtime="provided.al2023", Handler="bootstrap", Timeout=30)
    settled(lam, fname)
    url = lam.create_function_url_config(FunctionName=fname, AuthType="NONE", InvokeMode="RESPONSE_STREAM")
    allow_public(lam, fname)
    return url["FunctionUrl"]


def open_stream(url, path):
    url_id, port = split(url)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.monotonic()
    send(conn, "GET", path, f"{url_id}.lambda-url.us-east-1.localhost:{port}", [])
    return conn, conn.getresponse(), start


def test_the_first_chunk_arrives_before_the_function_ends(streaming_url):
    conn, r, start = open_stream(streaming_url, "/")
    assert r.status == 201
    assert r.getheader("x-streamed") == "yes" and r.getheader("content-type") == "text/plain"
    assert [v for k, v in r.getheaders() if k.lower() == "set-cookie"] == ["a=1", "b=2; Max-Age=60"]
    first = r.read1(65536)
    first_at = time.monotonic() - start
    rest = r.read()
    total = time.monotonic() - start
    conn.close()
    assert first + rest == b"first;second"
    assert first.startswith(b"first;")
    assert first_at < 0.8 and total >= 1.0, (first_at, total)


def test_a_20_mb_response_streams_whole(streaming_url):
    conn, r, _ = open_stream(streaming_url, "/big")
    body = r.read()
    conn.close()
    assert r.status == 201
    assert len(body) == 320 * 64 * 1024
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(b"z" * len(body)).hexdigest()


def test_lambda_http_streams_through_a_url(rust_url):
    conn, r, start = open_stream(rust_url, "/")
    assert r.status == 200 and r.getheader("content-type") == "text/plain"
    first = r.read1(65536)
    first_at = time.monotonic() - start
    rest = r.read()
    total = time.monotonic() - start
    conn.close()
    assert first + rest == b"first-second" and first.startswith(b"first-")
    assert first_at < 0.8 and total >= 1.0, (first_at, total)
    conn, r, _ = open_stream(rust_url, "/big")
    body = r.read()
    conn.close()
    expected = b"".join(bytes([ord("a") + k % 26]) * 65536 for k in range(320))
    assert len(body) == len(expected) and body == expected


def test_a_stream_without_a_prelude_is_a_200_of_its_content_type(streaming_url):
    r = call(streaming_url, path="/plain")
    assert (r.status, r.body) == (200, b"no prelude")
    assert r.headers["content-type"] == "text/plain"


def test_an_error_before_output_is_502_and_after_it_cuts_the_stream(streaming_url):
    r = call(streaming_url, path="/fail-early")
    assert (r.status, r.body) == (502, b"Internal Server Error")
    conn, r, _ = open_stream(streaming_url, "/fail-late")
    assert r.status == 201
    with pytest.raises(http.client.IncompleteRead) as e:
        r.read()
    assert e.value.partial == b"first;"
    conn.close()


def test_a_function_that_does_not_stream_answers_its_payload(lam, fname):
    url = public_url(lam, fname, url_config={"InvokeMode": "RESPONSE_STREAM"})
    r = call(url, path="/raw")
    assert r.status == 200
    assert r.json()["rawPath"] == "/raw"


def test_a_client_that_leaves_midway_stops_nothing_else(streaming_url):
    conn, r, _ = open_stream(streaming_url, "/slow")
    assert r.read1(65536).startswith(b"first;")
    conn.close()
    # The node serves the same URL (another environment) and the function finishes its run.
    r = call(streaming_url, path="/plain")
    assert (r.status, r.body) == (200, b"no prelude")
