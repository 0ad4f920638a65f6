"""Ignis Python bootstrap.

A Lambda Runtime API (2018-06-01) client for Python functions, behaving like
the official runtime interface client (awslambdaric) as far as a function can
observe: handler loading and its error types, the context object, the
response/error payloads, and the log formats on stdout.

Run as ``python3 -u bootstrap.py`` with the working directory set to
LAMBDA_TASK_ROOT.  Standard library only; works on Python 3.9 and newer.
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
from urllib.parse import quote

_API_PREFIX = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_USER_AGENT = "ignis-python/{}.{}.{}".format(*sys.version_info[:3])

# Lambda indents traceback lines in its logs with NO-BREAK SPACE so that log
# viewers keep the indentation.
_LOG_INDENT = "\u00a0"

_UNHANDLED_INIT_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in "
    "the function code. However, in rare cases, a Lambda runtime update can "
    "cause unexpected function behavior. For functions using managed runtimes, "
    "runtime updates can be triggered by a function change, or can be applied "
    "automatically. To determine if the runtime has been updated, check the "
    "runtime version in the INIT_START log entry. If this error correlates with "
    "a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more "
    "information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)

# Error types reported by the runtime itself (Runtime.*).
MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
MARSHAL_ERROR = "Runtime.MarshalError"
UNMARSHAL_ERROR = "Runtime.UnmarshalError"
CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

# Per-invoke values read by the logging filter.
_current = {"request_id": None, "tenant_id": None}

_JSON_LOGS = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


class RuntimeFault(Exception):
    """An error detected by the runtime rather than raised by user code."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


class RuntimeApiError(Exception):
    """The Runtime API could not be reached or answered with a server error."""


# --------------------------------------------------------------------------
# stdout / stderr


class _Unbuffered(object):
    """Flushes after every write so each record reaches Ignis immediately."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, data):
        written = self._stream.write(data)
        self._stream.flush()
        return written

    def writelines(self, lines):
        self._stream.writelines(lines)
        self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _emit(text):
    """Write one complete log record to stdout in a single write."""
    sys.stdout.write(text)


# --------------------------------------------------------------------------
# Runtime API client


def _header_value(value):
    """Keep header values to printable latin-1 so http.client accepts them."""
    value = str(value)
    return "".join(ch if " " <= ch <= "~" else "?" for ch in value)


class RuntimeClient(object):
    """Talks to the Runtime API over one keep-alive HTTP/1.1 connection."""

    def __init__(self, address):
        self._address = address
        self._conn = None

    def _request(self, method, path, body=None, headers=None):
        all_headers = {"User-Agent": _USER_AGENT}
        if headers:
            all_headers.update(headers)
        for attempt in (0, 1):
            reused = self._conn is not None
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._address, timeout=None)
            try:
                self._conn.request(method, path, body=body, headers=all_headers)
                response = self._conn.getresponse()
                data = response.read()
                return response.status, response.headers, data
            except (OSError, http.client.HTTPException) as e:
                self._conn.close()
                self._conn = None
                # A kept-alive connection may have been closed by the server
                # while idle; try once more on a fresh one.
                if reused and attempt == 0:
                    continue
                raise RuntimeApiError(
                    "{} {} failed: {}: {}".format(method, path, type(e).__name__, e)
                )
        raise RuntimeApiError("{} {} failed".format(method, path))

    def next_invocation(self):
        path = _API_PREFIX + "/invocation/next"
        status, headers, body = self._request("GET", path)
        if status != 200:
            raise RuntimeApiError(
                "GET {} returned {}: {!r}".format(path, status, body[:1024])
            )
        return Invocation(headers, body)

    def _post(self, path, body, headers, fatal_client_errors=False):
        if isinstance(body, str):
            body = body.encode("utf-8")
        status, _, data = self._request("POST", path, body=body, headers=headers)
        if status >= 500 or (fatal_client_errors and status >= 400):
            raise RuntimeApiError(
                "POST {} returned {}: {!r}".format(path, status, data[:1024])
            )
        if status >= 400:
            sys.stderr.write(
                "[WARNING] POST {} returned {}: {}\n".format(
                    path, status, data[:1024].decode("utf-8", "replace")
                )
            )

    def post_response(self, request_id, body, content_type):
        path = "{}/invocation/{}/response".format(_API_PREFIX, quote(request_id, safe=""))
        self._post(path, body, {"Content-Type": content_type})

    def post_error(self, request_id, error_result):
        path = "{}/invocation/{}/error".format(_API_PREFIX, quote(request_id, safe=""))
        self._post(
            path,
            _to_json(error_result),
            {"Content-Type": "application/json", _ERROR_TYPE_HEADER: "Unhandled"},
        )

    def post_init_error(self, error_result):
        path = _API_PREFIX + "/init/error"
        headers = {
            "Content-Type": "application/json",
            _ERROR_TYPE_HEADER: _header_value(error_result.get("errorType") or "Unhandled"),
        }
        self._post(path, _to_json(error_result), headers, fatal_client_errors=True)


class Invocation(object):
    """One event from /invocation/next."""

    def __init__(self, headers, body):
        self.request_id = headers.get("Lambda-Runtime-Aws-Request-Id") or ""
        deadline = headers.get("Lambda-Runtime-Deadline-Ms")
        try:
            self.deadline_ms = int(deadline) if deadline else 0
        except ValueError:
            self.deadline_ms = 0
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.trace_id = headers.get("Lambda-Runtime-Trace-Id") or None
        self.client_context = headers.get("Lambda-Runtime-Client-Context") or None
        self.cognito_identity = headers.get("Lambda-Runtime-Cognito-Identity") or None
        self.tenant_id = headers.get("Lambda-Runtime-Aws-Tenant-Id") or None
        self.content_type = headers.get("Content-Type")
        self.body = body


# --------------------------------------------------------------------------
# JSON


class _ResultEncoder(json.JSONEncoder):
    def default(self, o):
        # awslambdaric (simplejson) serialises Decimal values as numbers.  The
        # standard library cannot emit raw number text, so integral values
        # become ints and the rest floats.
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return float("nan")
            if o.is_finite() and o == o.to_integral_value():
                return int(o)
            return float(o)
        return super().default(o)


def _to_json(obj):
    return _ResultEncoder().encode(obj)


def _marshal_response(result):
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    try:
        return _to_json(result), "application/json"
    except Exception as e:
        raise RuntimeFault(MARSHAL_ERROR, "Unable to marshal response: {}".format(e))


def _unmarshal_event(body, content_type):
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    if media_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise RuntimeFault(UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(e))


def _parse_json_header(value, name):
    try:
        return json.loads(value)
    except Exception as e:
        raise RuntimeFault(
            CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, e)
        )


# --------------------------------------------------------------------------
# Context object


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.cognito_identity_id, self.cognito_identity_pool_id
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            "Client([installation_id={},app_title={},app_version_name={},"
            "app_version_code={},app_package_name={}])".format(
                self.installation_id,
                self.app_title,
                self.app_version_name,
                self.app_version_code,
                self.app_package_name,
            )
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return "ClientContext([custom={},env={},client={}])".format(
            self.custom, self.env, self.client
        )


def _object_from_dict(cls, values):
    if values is None:
        return None
    if not isinstance(values, dict):
        values = {}
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field))
    return obj


_W3C_FIELDS = ("traceparent", "tracestate", "baggage")


class LambdaContext(object):
    """The ``context`` argument passed to the handler."""

    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id

        w3c = {}
        if isinstance(client_context, dict) and "w3c" in client_context:
            raw = client_context.pop("w3c")
            if isinstance(raw, dict):
                w3c = {k: raw[k] for k in _W3C_FIELDS if isinstance(raw.get(k), str)}
        self._w3c_fields = w3c

        self.client_context = _object_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from_dict(Client, self.client_context.client)

        self.identity = _object_from_dict(CognitoIdentity, {})
        if isinstance(cognito_identity, dict):
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get(
                "cognitoIdentityPoolId"
            )

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        remaining = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def w3c(self):
        return dict(self._w3c_fields)

    def log(self, msg):
        _emit(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={},client_context={},identity={},tenant_id={}])".format(
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
                self.tenant_id,
            )
        )


# --------------------------------------------------------------------------
# Logging


_TEXT_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_RESERVED_RECORD_FIELDS = {
    "name", "msg", "args", "levelname", "levelno", "pathname", "filename",
    "module", "exc_info", "exc_text", "stack_info", "lineno", "funcName",
    "created", "msecs", "relativeCreated", "thread", "threadName",
    "processName", "process", "aws_request_id", "tenant_id", "taskName",
}


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current["request_id"] or ""
        record.tenant_id = _current["tenant_id"]
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        try:
            _emit(self.format(record))
        except Exception:
            self.handleError(record)


class _JsonFormatter(logging.Formatter):
    def format(self, record):
        level = min(50, max(0, record.levelno)) // 10 * 10
        created = time.gmtime(record.created)
        millis = int((record.created - int(record.created)) * 1000)
        out = {
            "timestamp": time.strftime(_DATE_FORMAT, created) + ".%03dZ" % millis,
            "level": logging.getLevelName(level),
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None),
        }
        if record.exc_info:
            out["errorType"] = record.exc_info[0].__name__
            out["errorMessage"] = str(record.exc_info[1])
            out["stackTrace"] = traceback.format_tb(record.exc_info[2])
            out["location"] = "{}:{}:{}".format(record.pathname, record.funcName, record.lineno)
        if getattr(record, "tenant_id", None) is not None:
            out["tenantId"] = record.tenant_id
        for key, value in record.__dict__.items():
            if key not in _RESERVED_RECORD_FIELDS and key not in out and not key.startswith("_"):
                out[key] = value
        out = {k: v for k, v in out.items() if v is not None}
        return json.dumps(out, ensure_ascii=False, default=str) + "\n"


def _configured_log_level():
    value = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if value == "TRACE":
        value = "DEBUG"
    return value if isinstance(logging.getLevelName(value), int) else None


def _setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    if _JSON_LOGS:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT, _DATE_FORMAT))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    level = _configured_log_level()
    if level:
        root.setLevel(level)
    root.addHandler(handler)


def _indent_with_nbsp(line):
    stripped = line.lstrip(" ")
    return _LOG_INDENT * (len(line) - len(stripped)) + stripped


def _log_error(error_result):
    """Log an error the way Lambda shows it: one multi-line record."""
    if _JSON_LOGS:
        record = {
            "timestamp": time.strftime(_DATE_FORMAT, time.gmtime()),
            "level": "ERROR",
        }
        record.update(error_result)
        _emit(_to_json(record) + "\n")
        return
    description = "[ERROR]"
    error_type = error_result.get("errorType")
    error_message = error_result.get("errorMessage")
    if error_type:
        description += " " + error_type
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message
    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
                continue
            for line in element.splitlines():
                lines.append(_indent_with_nbsp(line))
    _emit("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# Errors


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_frames(tb):
    """Traceback entries with this bootstrap's own leading frames removed."""
    frames = traceback.extract_tb(tb)
    own_file = _user_frames.__code__.co_filename
    for index, frame in enumerate(frames):
        if frame.filename != own_file:
            return frames[index:]
    return frames


def _error_from_exception(exc_info, request_id=None):
    etype, value, tb = exc_info
    frames = _user_frames(tb)
    entries = [(f.filename, f.lineno, f.name, f.line) for f in frames]
    return make_error(str(value), etype.__name__, traceback.format_list(entries), request_id)


# --------------------------------------------------------------------------
# Handler loading


def load_handler(handler):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise RuntimeFault(MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, e))

    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise RuntimeFault(
                BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(module_name),
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise RuntimeFault(
            IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(module_name, e)
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise RuntimeFault(
            USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(module_name, e),
            trace,
        )

    try:
        return getattr(module, function_name)
    except AttributeError:
        raise RuntimeFault(
            HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(function_name, module_name),
        )


# --------------------------------------------------------------------------
# Invoke loop


def _set_trace_id(trace_id):
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def _make_context(invocation):
    client_context = None
    if invocation.client_context:
        client_context = _parse_json_header(invocation.client_context, "Client Context")
    cognito_identity = None
    if invocation.cognito_identity:
        cognito_identity = _parse_json_header(invocation.cognito_identity, "Cognito Identity")
    return LambdaContext(
        invocation.request_id,
        client_context,
        cognito_identity,
        invocation.deadline_ms,
        invocation.invoked_function_arn,
        invocation.tenant_id,
    )


def handle_invocation(client, request_handler, invocation):
    error_result = None
    try:
        context = _make_context(invocation)
        event = _unmarshal_event(invocation.body, invocation.content_type)
        response = request_handler(event, context)
        body, content_type = _marshal_response(response)
    except RuntimeFault as fault:
        error_result = make_error(fault.message, fault.error_type, fault.trace, invocation.request_id)
    except Exception:
        error_result = _error_from_exception(sys.exc_info(), invocation.request_id)

    if error_result is not None:
        _log_error(error_result)
        client.post_error(invocation.request_id, error_result)
    else:
        client.post_response(invocation.request_id, body, content_type)


def _fix_sys_path(task_root):
    """Put the code root first, where Python put this script's directory."""
    script_dir = os.path.dirname(os.path.abspath(__file__))
    if sys.path and sys.path[0] in (script_dir, os.path.realpath(script_dir)):
        del sys.path[0]
    if task_root in sys.path:
        sys.path.remove(task_root)
    sys.path.insert(0, task_root)


def _fatal(message):
    sys.stderr.write("[ERROR] Ignis Python runtime: {}\n".format(message))
    sys.exit(1)


def main():
    sys.stdout = _Unbuffered(sys.stdout)
    sys.stderr = _Unbuffered(sys.stderr)

    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    _fix_sys_path(task_root)

    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set")
    client = RuntimeClient(address)

    _setup_logging()

    try:
        request_handler = load_handler(os.environ.get("_HANDLER", ""))
    except Exception as e:
        if isinstance(e, RuntimeFault):
            error_result = make_error(e.message, e.error_type, e.trace)
        else:
            error_result = _error_from_exception(sys.exc_info())
        logging.warning(_UNHANDLED_INIT_WARNING)
        _log_error(error_result)
        try:
            client.post_init_error(error_result)
        except RuntimeApiError as api_error:
            sys.stderr.write("[ERROR] Ignis Python runtime: {}\n".format(api_error))
        sys.exit(1)

    while True:
        try:
            invocation = client.next_invocation()
        except RuntimeApiError as e:
            _fatal(e)
        _current["request_id"] = invocation.request_id
        _current["tenant_id"] = invocation.tenant_id
        _set_trace_id(invocation.trace_id)
        try:
            handle_invocation(client, request_handler, invocation)
        except RuntimeApiError as e:
            _fatal(e)


if __name__ == "__main__":
    main()
