"""Ignis's Python bootstrap against a mock Runtime API (see bootstrap_harness.py)."""

import json
import os
import re
import signal
import sys
import time

# The fixtures (python_runtime, node_runtime, node_on_path) are imported to be found by name.
from bootstrap_harness import missing, python_runtime, FUNCTION_ARN, TRACE_ID, ISO_MS, Runtime, assert_init_error


ECHO_PY = """
def handler(event, context):
    return {"echo": event, "module": __name__}
"""


def test_python_handler_in_module(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    post = python_runtime.invoke({"a": 1})
    assert post.kind == "response"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {"echo": {"a": 1}, "module": "app"}


def test_python_handler_in_package(python_runtime):
    python_runtime.start(
        "pkg.mod.fn",
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": """
                from . import helper
                def fn(event, context):
                    return helper.VALUE
            """,
            "pkg/helper.py": "VALUE = 'from pkg'\n",
        },
    )
    assert python_runtime.invoke({}).json() == "from pkg"


def test_python_handler_with_slash_path(python_runtime):
    python_runtime.start(
        "src/handlers/mod.fn",
        {"src/handlers/mod.py": "def fn(event, context):\n    return __name__\n"},
    )
    assert python_runtime.invoke({}).json() == "src.handlers.mod"


def test_python_code_root_first_and_pythonpath(python_runtime, tmp_path):
    extra = tmp_path / "layer"
    extra.mkdir()
    (extra / "layerlib.py").write_text("NAME = 'layer'\n")
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import sys, os, layerlib
                def handler(event, context):
                    return {"first": sys.path[0], "lib": layerlib.NAME, "cwd": os.getcwd()}
            """
        },
        env={"PYTHONPATH": str(extra)},
    )
    body = python_runtime.invoke({}).json()
    assert body["first"] == str(python_runtime.task_root)
    assert body["lib"] == "layer"
    assert body["cwd"] == str(python_runtime.task_root)


# ---------------------------------------------------------------------------
# Python: context and results


CONTEXT_PY = """
import os

def handler(event, context):
    identity = context.identity
    cc = context.client_context
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "tenant_id": context.tenant_id,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": None if identity is None else [identity.cognito_identity_id,
                                                   identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "installation_id": cc.client.installation_id,
            "app_title": cc.client.app_title,
            "app_version_name": cc.client.app_version_name,
            "app_version_code": cc.client.app_version_code,
            "app_package_name": cc.client.app_package_name,
            "custom": cc.custom,
            "env": cc.env,
        },
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }
"""


def test_python_context_attributes(python_runtime):
    python_runtime.start("app.handler", {"app.py": CONTEXT_PY})
    deadline = int(time.time() * 1000) + 10000
    post = python_runtime.invoke({}, deadline_ms=deadline)
    body = post.json()
    assert body["function_name"] == "my-fn"
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == FUNCTION_ARN
    assert body["memory_limit_in_mb"] == "256"
    assert body["aws_request_id"] == post.request_id
    assert body["log_group_name"] == "/aws/lambda/my-fn"
    assert body["log_stream_name"].startswith("2024/01/01/[$LATEST]")
    assert body["tenant_id"] is None
    assert 5000 < body["remaining"] <= 10000
    assert body["identity"] == [None, None]
    assert body["client_context"] is None
    assert body["trace"] == TRACE_ID

    # No trace header: the variable is removed; a past deadline gives 0.
    body = python_runtime.invoke({}, trace_id=None, deadline_ms=1000).json()
    assert body["trace"] is None
    assert body["remaining"] == 0


def test_python_client_context_and_identity(python_runtime):
    python_runtime.start("app.handler", {"app.py": CONTEXT_PY})
    client_context = {
        "client": {
            "installation_id": "inst-1",
            "app_title": "My App",
            "app_version_name": "1.0",
            "app_version_code": "100",
            "app_package_name": "com.example",
        },
        "custom": {"k": "v"},
        "env": {"platform": "Android"},
    }
    identity = {"cognitoIdentityId": "us-east-1:abc", "cognitoIdentityPoolId": "us-east-1:pool"}
    body = python_runtime.invoke({}, client_context=client_context, cognito_identity=identity).json()
    assert body["identity"] == ["us-east-1:abc", "us-east-1:pool"]
    assert body["client_context"] == {
        "installation_id": "inst-1",
        "app_title": "My App",
        "app_version_name": "1.0",
        "app_version_code": "100",
        "app_package_name": "com.example",
        "custom": {"k": "v"},
        "env": {"platform": "Android"},
    }


def test_python_result_types_over_one_process(python_runtime):
    python_runtime.start(
        "app.handler",
        {"app.py": "def handler(event, context):\n    return event['value']\n"},
    )
    cases = [
        ({"k": [1, 2]}, b'{"k": [1, 2]}'),
        ([1, "two"], b'[1, "two"]'),
        ("text", b'"text"'),
        (None, b"null"),
        (3.5, b"3.5"),
    ]
    for value, expected in cases:
        post = python_runtime.invoke({"value": value})
        assert post.kind == "response"
        assert post.body == expected
    assert python_runtime.proc.poll() is None


def test_python_bytes_and_decimal_results(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import decimal
                def handler(event, context):
                    if event == "bytes":
                        return b"\\x00raw"
                    return {"n": decimal.Decimal("12"), "f": decimal.Decimal("1.5")}
            """
        },
    )
    post = python_runtime.invoke("bytes")
    assert post.body == b"\x00raw"
    assert post.headers["content-type"] == "application/unknown"
    assert python_runtime.invoke("dec").json() == {"n": 12, "f": 1.5}


def test_python_exception_posts_error(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                def helper():
                    raise ValueError("boom")

                def handler(event, context):
                    helper()
            """
        },
    )
    post = python_runtime.invoke({})
    assert post.kind == "error"
    assert post.headers["lambda-runtime-function-error-type"] == "Unhandled"
    body = post.json()
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorMessage"] == "boom"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == post.request_id
    app = str(python_runtime.task_root / "app.py")
    assert body["stackTrace"] == [
        '  File "{}", line 5, in handler\n    helper()\n'.format(app),
        '  File "{}", line 2, in helper\n    raise ValueError("boom")\n'.format(app),
    ]
    out = python_runtime.stdout
    assert "[ERROR] ValueError: boom\nTraceback (most recent call last):\n" in out
    # Indentation in the logged traceback uses NO-BREAK SPACE, as on Lambda.
    assert '\u00a0\u00a0File "{}", line 5, in handler\n'.format(app) in out
    # The runtime keeps serving.
    assert python_runtime.proc.poll() is None


def test_python_marshal_error(python_runtime):
    python_runtime.start(
        "app.handler",
        {"app.py": "def handler(event, context):\n    return {'x': object()}\n"},
    )
    post = python_runtime.invoke({})
    assert post.kind == "error"
    assert post.json() == {
        "errorMessage": "Unable to marshal response: Object of type object is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": post.request_id,
        "stackTrace": [],
    }


def test_python_unmarshal_error_on_empty_body(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    post = python_runtime.invoke(raw_body=b"")
    assert post.kind == "error"
    body = post.json()
    assert body["errorType"] == "Runtime.UnmarshalError"
    assert body["errorMessage"].startswith("Unable to unmarshal input: Expecting value")


# ---------------------------------------------------------------------------
# Python: init errors


def test_python_init_error_missing_module(python_runtime):
    python_runtime.start("app.handler")
    body = assert_init_error(python_runtime, "Runtime.ImportModuleError")
    assert body == {
        "errorMessage": "Unable to import module 'app': No module named 'app'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    out = python_runtime.stdout
    assert "[ERROR] Runtime.ImportModuleError: Unable to import module 'app': No module named 'app'\n" \
        "Traceback (most recent call last):\n" in out
    assert re.search(r"^\[WARNING\]\t" + ISO_MS + r"\t\tLAMBDA_WARNING: Unhandled exception", out, re.M)


def test_python_init_error_syntax(python_runtime):
    python_runtime.start("app.handler", {"app.py": "x = 1\n\ndef handler(:\n    pass\n"})
    body = assert_init_error(python_runtime, "Runtime.UserCodeSyntaxError")
    assert body["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "(app.py, line 3)" in body["errorMessage"]
    assert body["stackTrace"][0].startswith('  File "{}" Line 3\n'.format(python_runtime.task_root / "app.py"))


def test_python_init_error_missing_handler(python_runtime):
    python_runtime.start("app.nope", {"app.py": ECHO_PY})
    body = assert_init_error(python_runtime, "Runtime.HandlerNotFound")
    assert body["errorMessage"] == "Handler 'nope' missing on module 'app'"


def test_python_init_error_malformed_handler(python_runtime):
    python_runtime.start("app", {"app.py": ECHO_PY})
    body = assert_init_error(python_runtime, "Runtime.MalformedHandlerName")
    assert body["errorMessage"] == "Bad handler 'app': not enough values to unpack (expected 2, got 1)"


def test_python_init_error_from_module_code(python_runtime):
    python_runtime.start("app.handler", {"app.py": "raise RuntimeError('bad config')\n"})
    body = assert_init_error(python_runtime, "RuntimeError")
    assert body["errorMessage"] == "bad config"
    assert body["stackTrace"][-1].endswith("in <module>\n    raise RuntimeError('bad config')\n")


# ---------------------------------------------------------------------------
# Python: logging and process behaviour


def test_python_logging_format(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import logging
                logger = logging.getLogger()

                def handler(event, context):
                    print("plain print")
                    logger.warning("hello %s", "world")
                    logger.info("hidden at the default level")
                    logger.error("two\\nlines")
                    context.log("via context\\n")
                    return "ok"
            """
        },
    )
    post = python_runtime.invoke({})
    out = python_runtime.stdout
    rid = re.escape(post.request_id)
    assert "plain print\n" in out
    assert re.search(r"^\[WARNING\]\t" + ISO_MS + r"\t" + rid + r"\thello world$", out, re.M)
    assert re.search(r"^\[ERROR\]\t" + ISO_MS + r"\t" + rid + r"\ttwo\nlines$", out, re.M)
    assert "hidden" not in out
    assert "via context\n" in out


def test_python_log_level_and_json_format(python_runtime):
    python_runtime.start(
        "app.handler",
        {
            "app.py": """
                import logging
                def handler(event, context):
                    logging.getLogger("mine").debug("debug %d", 1)
                    return "ok"
            """
        },
        env={"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_FORMAT": "JSON"},
    )
    post = python_runtime.invoke({})
    records = [json.loads(line) for line in python_runtime.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 1
    record = records[0]
    assert record["level"] == "DEBUG"
    assert record["message"] == "debug 1"
    assert record["logger"] == "mine"
    assert record["requestId"] == post.request_id
    assert re.match(ISO_MS + "$", record["timestamp"])


def test_python_exits_when_runtime_api_goes_away(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    python_runtime.invoke({})
    python_runtime.api.wait_polling(2)
    python_runtime.api.close()
    assert python_runtime.wait_exit() != 0


def test_python_exits_on_sigterm(python_runtime):
    python_runtime.start("app.handler", {"app.py": ECHO_PY})
    python_runtime.api.wait_polling()
    python_runtime.proc.send_signal(signal.SIGTERM)
    assert python_runtime.wait_exit(timeout=5) != 0


# ---------------------------------------------------------------------------
# Node.js: handler styles and loading
