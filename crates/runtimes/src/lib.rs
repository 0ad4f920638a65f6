//! Ignis's own language bootstraps, embedded as source text.
//!
//! Each bootstrap is a small, dependency-free program that speaks the Lambda
//! Runtime API (`/2018-06-01/runtime/...`) the way the official runtime
//! interface clients do: it loads the handler named by `_HANDLER`, long-polls
//! `invocation/next`, calls the handler with the event and a context object,
//! and posts the result to `invocation/{id}/response` or the error to
//! `invocation/{id}/error` (init failures go to `init/error` and the process
//! exits non-zero). Logs go to stdout in Lambda's text (or JSON) format.
//!
//! The invoker writes a bootstrap to disk and starts it with the working
//! directory set to `LAMBDA_TASK_ROOT` and the usual Lambda environment
//! (`AWS_LAMBDA_RUNTIME_API`, `_HANDLER`, `AWS_LAMBDA_FUNCTION_NAME`, ...):
//!
//! - [`PYTHON_BOOTSTRAP`]: `python3 -u bootstrap.py` (Python 3.9 and newer;
//!   behaves like `awslambdaric`).
//! - [`NODE_BOOTSTRAP`]: `node bootstrap.mjs` (Node.js 18 and newer; behaves
//!   like `aws-lambda-nodejs-runtime-interface-client`). The file must keep
//!   the `.mjs` extension: it is an ES module.
//!
//! The behaviour is tested by `tests/runtimes` (`test_python_bootstrap.py`,
//! `test_node_bootstrap.py`), which runs both bootstraps against a mock Runtime API
//! (`python3 -m pytest tests/runtimes -q`).
//!
//! # Behaviour notes
//!
//! Where the official clients are unclear or depend on Lambda internals:
//!
//! - **Logs** are written to stdout, one write per record. Multi-line records
//!   keep their `\n` (as Lambda shows them via its telemetry log pipe; the
//!   official clients' stdout fallback would turn them into `\r`). Python
//!   tracebacks in error records are indented with NO-BREAK SPACE, as on
//!   Lambda. `AWS_LAMBDA_LOG_FORMAT=JSON` and `AWS_LAMBDA_LOG_LEVEL` are
//!   honoured as the official clients do.
//! - **Runtime API failures**: a connection error on any request (after one
//!   retry when a kept-alive connection turns out to be stale) or a 5xx answer
//!   makes the bootstrap exit with status 1. A 4xx answer to `/response` or
//!   `/error` is reported on stderr and the loop continues.
//! - **Python**: `Decimal` results become JSON ints or floats (awslambdaric
//!   keeps the exact digits via simplejson). `bytes` results are posted raw
//!   with `Content-Type: application/unknown`. An event whose Content-Type is
//!   not JSON is passed as `bytes`. Init failures exit with status 1.
//! - **Node.js callbacks**: `callbackWaitsForEmptyEventLoop` is implemented
//!   like the official client, with the process `beforeExit` event: with
//!   `true` the callback's result is posted when the event loop drains. A
//!   non-async handler that never calls back succeeds with `null` when the
//!   loop drains; an async handler whose promise never settles fails with
//!   `Runtime.NodeJsExit`. A non-promise, non-`undefined` return value from a
//!   handler declared with fewer than three parameters is taken as its result.
//! - **Node.js errors**: an unserialisable result fails with
//!   `Runtime.MarshalError` ("Unable to stringify response body"); an event
//!   body that is not JSON fails with the `SyntaxError` from `JSON.parse` (as
//!   the official client). `Runtime.UserCodeSyntaxError` keeps the original
//!   `SyntaxError` stack. A missing ES-module dependency
//!   (`ERR_MODULE_NOT_FOUND`) is a `Runtime.ImportModuleError`, like a missing
//!   CommonJS one. Init failures exit with status 129; an uncaught exception
//!   or unhandled rejection during an invocation posts the error and exits
//!   with 129 or 128.
//! - **Node.js streaming**: handlers wrapped with
//!   `awslambda.streamifyResponse` stream a chunked `/response` with
//!   `Lambda-Runtime-Function-Response-Mode: streaming`; errors are sent in
//!   the `Lambda-Runtime-Function-Error-Type`/`-Body` trailers.
//!   `awslambda.HttpResponseStream.from` writes the JSON prelude and 8 NUL
//!   bytes.
//! - Neither bootstrap sends the optional X-Ray error-cause header.

/// Source of the Python bootstrap; write it to `bootstrap.py` and run it with
/// `python3 -u`.
pub const PYTHON_BOOTSTRAP: &str = include_str!("../bootstrap/python/bootstrap.py");

/// File name to use for [`PYTHON_BOOTSTRAP`].
pub const PYTHON_BOOTSTRAP_FILE_NAME: &str = "bootstrap.py";

/// Source of the Node.js bootstrap (an ES module); write it to
/// `bootstrap.mjs` and run it with `node`.
pub const NODE_BOOTSTRAP: &str = include_str!("../bootstrap/nodejs/bootstrap.mjs");

/// File name to use for [`NODE_BOOTSTRAP`].
pub const NODE_BOOTSTRAP_FILE_NAME: &str = "bootstrap.mjs";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstraps_are_embedded() {
        assert!(PYTHON_BOOTSTRAP.contains("/2018-06-01/runtime"));
        assert!(PYTHON_BOOTSTRAP.contains("def main()"));
        assert!(NODE_BOOTSTRAP.contains("/2018-06-01/runtime"));
        assert!(NODE_BOOTSTRAP.contains("import http from 'node:http'"));
    }

    #[test]
    fn file_names_match_sources() {
        assert!(PYTHON_BOOTSTRAP_FILE_NAME.ends_with(".py"));
        assert!(NODE_BOOTSTRAP_FILE_NAME.ends_with(".mjs"));
    }
}
