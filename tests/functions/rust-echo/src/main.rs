//! A function built with AWS's official Rust runtime client, `lambda_runtime`, used unchanged.
//!
//! It echoes the event with what the client read from the Runtime API (request id, invoked
//! function ARN, deadline, trace id, client context), the configuration it read from the
//! environment, the process id and a per-process invocation counter (so a test can tell a warm
//! environment from a cold one). `{"fail": true}` returns an `Err` (a plain
//! `lambda_runtime::Error`), `{"fail": "custom"}` an error whose `Diagnostic` names its own type,
//! and `{"panic": true}` panics inside the handler.

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

static INVOCATIONS: AtomicU64 = AtomicU64::new(0);

/// An error that chooses its own `errorType`.
#[derive(Debug)]
struct CustomError(String);

impl From<CustomError> for Diagnostic {
    fn from(e: CustomError) -> Diagnostic {
        Diagnostic {
            error_type: "Fixture.CustomError".into(),
            error_message: e.0,
        }
    }
}

/// The two ways the handler fails.
#[derive(Debug)]
enum Failure {
    Plain(Error),
    Custom(CustomError),
}

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Diagnostic {
        match f {
            Failure::Plain(e) => e.into(),
            Failure::Custom(e) => e.into(),
        }
    }
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Failure> {
    let (payload, context) = event.into_parts();
    let count = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
    match payload.get("fail") {
        Some(Value::Bool(true)) => {
            return Err(Failure::Plain(
                format!("failing as asked (request {})", context.request_id).into(),
            ));
        }
        Some(Value::String(s)) if s == "custom" => {
            return Err(Failure::Custom(CustomError(format!(
                "custom failure (request {})",
                context.request_id
            ))));
        }
        _ => {}
    }
    if payload.get("panic") == Some(&Value::Bool(true)) {
        panic!("panicking as asked");
    }
    // What `lambda_runtime` makes of the deadline header (0 once it has passed).
    let remaining_ms = context
        .deadline()
        .duration_since(SystemTime::now())
        .map_or(0, |d| d.as_millis());
    Ok(json!({
        "event": payload,
        "request_id": context.request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "deadline_ms": context.deadline,
        "remaining_ms": u64::try_from(remaining_ms).unwrap_or(u64::MAX),
        "function_name": context.env_config.function_name,
        "memory_mb": context.env_config.memory,
        "version": context.env_config.version,
        "log_stream": context.env_config.log_stream,
        "log_group": context.env_config.log_group,
        "xray_trace_id": context.xray_trace_id,
        "client_context_custom": context.client_context.map(|c| c.custom),
        "pid": std::process::id(),
        "invocations": count,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
