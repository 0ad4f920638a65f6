"""Ignis's Node.js bootstrap against a mock Runtime API (see bootstrap_harness.py)."""

import base64
import json
import re
import signal
import time

# The fixtures (python_runtime, node_runtime, node_on_path) are imported to be found by name.
from bootstrap_harness import node_on_path, node_runtime, requires_node, FUNCTION_ARN, TRACE_ID, ISO_MS, Runtime, assert_init_error


@requires_node
def test_node_commonjs_async_handler(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async (event, context) => {
                  await new Promise((r) => setTimeout(r, 10));
                  return { echo: event, type: typeof require };
                };
            """
        },
    )
    post = node_runtime.invoke({"a": 1})
    assert post.kind == "response"
    assert post.json() == {"echo": {"a": 1}, "type": "function"}
    # A second invocation on the same process.
    assert node_runtime.invoke([1, 2]).json() == {"echo": [1, 2], "type": "function"}


@requires_node
def test_node_callback_handler_waits_for_event_loop(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                let fired = false;
                exports.handler = (event, context, callback) => {
                  fired = false;
                  context.callbackWaitsForEmptyEventLoop = event.wait;
                  setTimeout(() => { fired = true; console.log('timer fired'); }, event.delay);
                  callback(null, { fired });
                };
            """
        },
    )
    start = time.time()
    post = node_runtime.invoke({"wait": True, "delay": 300})
    assert post.json() == {"fired": False}
    assert time.time() - start >= 0.3
    assert "timer fired" in node_runtime.stdout

    # Without waiting, the response is sent before the timer fires.
    start = time.time()
    post = node_runtime.invoke({"wait": False, "delay": 3000})
    assert post.json() == {"fired": False}
    assert time.time() - start < 2.5


@requires_node
def test_node_callback_error_and_legacy_context_methods(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = (event, context, callback) => {
                  if (event.mode === 'cb-error') return callback(new TypeError('bad input'));
                  if (event.mode === 'succeed') return context.succeed('via succeed');
                  if (event.mode === 'fail') return context.fail('plain string');
                  if (event.mode === 'done') return context.done(null, { done: true });
                };
            """
        },
    )
    post = node_runtime.invoke({"mode": "cb-error"})
    assert post.kind == "error"
    body = post.json()
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad input"
    assert node_runtime.invoke({"mode": "succeed"}).json() == "via succeed"
    post = node_runtime.invoke({"mode": "fail"})
    assert post.kind == "error"
    assert post.json() == {"errorType": "string", "errorMessage": "plain string", "trace": []}
    assert node_runtime.invoke({"mode": "done"}).json() == {"done": True}


@requires_node
def test_node_sync_handler_return_value(node_runtime):
    node_runtime.start(
        "index.handler",
        {"index.js": "exports.handler = (event) => ({ doubled: event.n * 2 });\n"},
    )
    assert node_runtime.invoke({"n": 21}).json() == {"doubled": 42}


@requires_node
def test_node_mjs_module_with_top_level_await(node_runtime):
    node_runtime.start(
        "app.handler",
        {
            "app.mjs": """
                const config = await new Promise((r) => setTimeout(() => r({ ready: true }), 20));
                export const handler = async (event) => ({ config, esm: typeof require });
            """
        },
    )
    assert node_runtime.invoke({}).json() == {"config": {"ready": True}, "esm": "undefined"}


@requires_node
def test_node_nested_export_in_subdirectory(node_runtime):
    node_runtime.start(
        "lib/file.a.b",
        {"lib/file.js": "module.exports = { a: { b: async () => 'nested' } };\n"},
    )
    assert node_runtime.invoke({}).json() == "nested"


@requires_node
def test_node_package_type_module_js(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "package.json": '{"name": "fn", "type": "module"}\n',
            "index.js": "export async function handler() { return import.meta.url.startsWith('file:'); }\n",
        },
    )
    assert node_runtime.invoke({}).json() is True


@requires_node
def test_node_cjs_extension_and_node_path(node_runtime, tmp_path):
    layer = tmp_path / "layer" / "node_modules" / "layerlib"
    layer.mkdir(parents=True)
    (layer / "index.js").write_text("module.exports = 'from layer';\n")
    node_runtime.start(
        "app.handler",
        {"app.cjs": "const lib = require('layerlib');\nexports.handler = async () => lib;\n"},
        env={"NODE_PATH": str(tmp_path / "layer" / "node_modules")},
    )
    assert node_runtime.invoke({}).json() == "from layer"


# ---------------------------------------------------------------------------
# Node.js: context


NODE_CONTEXT_JS = """
exports.handler = async (event, context) => ({
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  invokedFunctionArn: context.invokedFunctionArn,
  memoryLimitInMB: context.memoryLimitInMB,
  awsRequestId: context.awsRequestId,
  logGroupName: context.logGroupName,
  logStreamName: context.logStreamName,
  identity: context.identity === undefined ? 'undefined' : context.identity,
  clientContext: context.clientContext === undefined ? 'undefined' : context.clientContext,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  legacy: [typeof context.succeed, typeof context.fail, typeof context.done],
  trace: process.env._X_AMZN_TRACE_ID ?? null,
});
"""


@requires_node
def test_node_context_attributes(node_runtime):
    node_runtime.start("index.handler", {"index.js": NODE_CONTEXT_JS})
    deadline = int(time.time() * 1000) + 10000
    post = node_runtime.invoke({}, deadline_ms=deadline)
    body = post.json()
    assert body["functionName"] == "my-fn"
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"] == FUNCTION_ARN
    assert body["memoryLimitInMB"] == "256"
    assert body["awsRequestId"] == post.request_id
    assert body["logGroupName"] == "/aws/lambda/my-fn"
    assert body["logStreamName"].startswith("2024/01/01/[$LATEST]")
    assert body["identity"] == "undefined"
    assert body["clientContext"] == "undefined"
    assert 5000 < body["remaining"] <= 10000
    assert body["waits"] is True
    assert body["legacy"] == ["function", "function", "function"]
    assert body["trace"] == TRACE_ID

    client_context = {"client": {"installation_id": "i"}, "custom": {"k": "v"}, "env": {"e": 1}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    body = node_runtime.invoke(
        {}, trace_id=None, client_context=client_context, cognito_identity=identity
    ).json()
    assert body["clientContext"] == client_context
    assert body["identity"] == identity
    assert body["trace"] is None


# ---------------------------------------------------------------------------
# Node.js: errors


@requires_node
def test_node_thrown_error_shape(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async () => {
                  const err = new Error('boom');
                  err.code = 'E_BOOM';
                  throw err;
                };
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.kind == "error"
    assert post.headers["lambda-runtime-function-error-type"] == "Unhandled"
    body = post.json()
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert body["errorType"] == "Error"
    assert body["errorMessage"] == "boom"
    assert body["trace"][0] == "Error: boom"
    assert any("index.js" in line for line in body["trace"][1:])
    rid = re.escape(post.request_id)
    match = re.search(r"^" + ISO_MS + r"\t" + rid + r"\tERROR\tInvoke Error \t(\{.*\})$",
                      node_runtime.stdout, re.M)
    assert match, node_runtime.stdout
    logged = json.loads(match.group(1))
    assert logged["errorType"] == "Error"
    assert logged["errorMessage"] == "boom"
    assert logged["code"] == "E_BOOM"
    assert logged["stack"][0] == "Error: boom"
    assert node_runtime.proc.poll() is None


@requires_node
def test_node_non_error_throw(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => { throw 'oops'; };\n"})
    post = node_runtime.invoke({})
    assert post.json() == {"errorType": "string", "errorMessage": "oops", "trace": []}


@requires_node
def test_node_marshal_error(node_runtime):
    node_runtime.start(
        "index.handler",
        {"index.js": "exports.handler = async () => { const o = {}; o.self = o; return o; };\n"},
    )
    post = node_runtime.invoke({})
    assert post.kind == "error"
    body = post.json()
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"] == "Unable to stringify response body"


@requires_node
def test_node_uncaught_exception_during_invoke(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async () => {
                  setTimeout(() => { throw new RangeError('late'); }, 10);
                  return new Promise(() => {});
                };
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.kind == "error"
    assert post.json()["errorType"] == "RangeError"
    assert node_runtime.wait_exit() == 129
    assert "\tERROR\tUncaught Exception \t" in node_runtime.stdout


@requires_node
def test_node_async_handler_never_settling(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => new Promise(() => {});\n"})
    post = node_runtime.invoke({})
    assert post.kind == "error"
    assert post.json()["errorType"] == "Runtime.NodeJsExit"
    # The runtime carries on with the next invocation.
    node_runtime.api.wait_polling(2)
    assert node_runtime.proc.poll() is None


@requires_node
def test_node_init_error_import(node_runtime):
    node_runtime.start("app.handler")
    body = assert_init_error(node_runtime, "Runtime.ImportModuleError")
    assert body["errorMessage"].startswith("Error: Cannot find module 'app'")
    assert body["trace"][0].startswith("Runtime.ImportModuleError: Error: Cannot find module 'app'")
    assert re.search(r"^" + ISO_MS + r"\tundefined\tERROR\tUncaught Exception \t\{",
                     node_runtime.stdout, re.M)


@requires_node
def test_node_init_error_missing_dependency_in_esm(node_runtime):
    node_runtime.start("app.handler", {"app.mjs": "import x from 'not-installed';\nexport const handler = x;\n"})
    body = assert_init_error(node_runtime, "Runtime.ImportModuleError")
    assert "not-installed" in body["errorMessage"]


@requires_node
def test_node_init_error_handler_not_found(node_runtime):
    node_runtime.start("app.nope", {"app.js": "exports.handler = async () => 1;\n"})
    body = assert_init_error(node_runtime, "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "app.nope is undefined or not exported"


@requires_node
def test_node_init_error_not_a_function(node_runtime):
    node_runtime.start("app.value", {"app.js": "exports.value = 42;\n"})
    body = assert_init_error(node_runtime, "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "app.value is not a function"


@requires_node
def test_node_init_error_syntax(node_runtime):
    node_runtime.start("app.handler", {"app.js": "exports.handler = async () => {\n  return )(;\n};\n"})
    body = assert_init_error(node_runtime, "Runtime.UserCodeSyntaxError")
    assert body["errorMessage"].startswith("SyntaxError: ")
    assert any("app.js" in line for line in body["trace"])


@requires_node
def test_node_init_error_malformed_handler(node_runtime):
    node_runtime.start("app", {"app.js": "exports.handler = async () => 1;\n"})
    body = assert_init_error(node_runtime, "Runtime.MalformedHandlerName")
    assert body["errorMessage"] == "Bad handler"


@requires_node
def test_node_init_error_relative_path(node_runtime):
    node_runtime.start("../app.handler")
    body = assert_init_error(node_runtime, "Runtime.MalformedHandlerName")
    assert "is not a valid handler name" in body["errorMessage"]


@requires_node
def test_node_init_error_thrown_by_module(node_runtime):
    node_runtime.start("app.handler", {"app.js": "throw new TypeError('bad config');\n"})
    body = assert_init_error(node_runtime, "TypeError")
    assert body["errorMessage"] == "bad config"


# ---------------------------------------------------------------------------
# Node.js: logging


@requires_node
def test_node_console_log_format(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                console.log('at init');
                exports.handler = async () => {
                  console.log('hello %s', 'world', 42);
                  console.warn('careful');
                  console.error('two\\nlines');
                  console.debug({ a: 1 });
                  return 'ok';
                };
            """
        },
    )
    post = node_runtime.invoke({})
    out = node_runtime.stdout
    rid = re.escape(post.request_id)
    assert re.search(r"^" + ISO_MS + r"\tundefined\tINFO\tat init$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tINFO\thello world 42$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tWARN\tcareful$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tERROR\ttwo\nlines$", out, re.M)
    assert re.search(r"^" + ISO_MS + r"\t" + rid + r"\tDEBUG\t\{ a: 1 \}$", out, re.M)


@requires_node
def test_node_log_level_and_json_format(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = async () => {
                  console.debug('hidden');
                  console.warn('shown', 1);
                  return 'ok';
                };
            """
        },
        env={"AWS_LAMBDA_LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    post = node_runtime.invoke({})
    records = [json.loads(line) for line in node_runtime.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 1
    assert records[0]["level"] == "WARN"
    assert records[0]["message"] == "shown 1"
    assert records[0]["requestId"] == post.request_id


# ---------------------------------------------------------------------------
# Node.js: response streaming


@requires_node
def test_node_streaming_handler(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = awslambda.streamifyResponse(async (event, stream, context) => {
                  if (event.http) {
                    stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201 });
                  }
                  stream.write('hello ');
                  await new Promise((r) => setTimeout(r, 10));
                  stream.end(context.awsRequestId.slice(0, 4));
                });
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.kind == "response"
    assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert post.headers["content-type"] == "application/octet-stream"
    assert post.body == b"hello " + post.request_id[:4].encode()
    assert post.trailers == {}

    post = node_runtime.invoke({"http": True})
    assert post.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    assert post.body == b'{"statusCode":201}' + b"\x00" * 8 + b"hello " + post.request_id[:4].encode()


@requires_node
def test_node_streaming_error_in_trailers(node_runtime):
    node_runtime.start(
        "index.handler",
        {
            "index.js": """
                exports.handler = awslambda.streamifyResponse(async (event, stream) => {
                  stream.write('partial');
                  throw new Error('mid-stream');
                });
            """
        },
    )
    post = node_runtime.invoke({})
    assert post.body == b"partial"
    assert post.trailers["lambda-runtime-function-error-type"] == "Error"
    error = json.loads(base64.b64decode(post.trailers["lambda-runtime-function-error-body"]))
    assert error["errorMessage"] == "mid-stream"
    assert node_runtime.invoke({}).trailers["lambda-runtime-function-error-type"] == "Error"


# ---------------------------------------------------------------------------
# Node.js: process behaviour


@requires_node
def test_node_exits_when_runtime_api_goes_away(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => 1;\n"})
    node_runtime.invoke({})
    node_runtime.api.wait_polling(2)
    node_runtime.api.close()
    assert node_runtime.wait_exit() != 0


@requires_node
def test_node_exits_on_sigterm(node_runtime):
    node_runtime.start("index.handler", {"index.js": "exports.handler = async () => 1;\n"})
    node_runtime.api.wait_polling()
    node_runtime.proc.send_signal(signal.SIGTERM)
    assert node_runtime.wait_exit(timeout=5) != 0
