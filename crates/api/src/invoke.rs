//! Invoke (RequestResponse, Event, DryRun) and the deprecated InvokeAsync.
//!
//! A synchronous invoke reads only memory on its way to the invoker: the configuration comes
//! from the store's cache and the code root is a path derived from the code hash. An `Event`
//! invoke is answered 202 only after the event is committed to the durable queue.

use crate::ApiState;
use crate::front::RequestId;
use crate::request;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use ignis_invoker::{Invocation, InvokeError};
use ignis_model::{FunctionConfig, FunctionRef, limits, time};
use ignis_store::AsyncEvent;
use ignis_wire::{LambdaApiError, headers};
use std::path::PathBuf;
use std::sync::Arc;

/// Largest `X-Amz-Client-Context` header (base64), as Lambda documents it.
const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

/// A function version resolved for invocation.
pub(crate) struct Target {
    pub config: Arc<FunctionConfig>,
    pub code_root: PathBuf,
    /// The merged layers, if the version has any.
    pub opt_dir: Option<PathBuf>,
    pub invoked_arn: String,
}

/// Resolves name and qualifier to the version to run, from memory; an alias draws its version
/// by its routing weights.
pub(crate) fn resolve(state: &ApiState, r: &FunctionRef) -> Result<Target, LambdaApiError> {
    let config = request::resolve_config(state, r, request::AliasVersion::Routed)?;
    let digest = ignis_package::Digest::from_hex(&config.code.sha256_hex).ok_or_else(|| {
        LambdaApiError::Service("The function's code reference is damaged.".into())
    })?;
    let invoked_arn = match &r.qualifier {
        Some(q) => state.account.qualified_arn(&r.name, &q.to_string()),
        None => state.account.function_arn(&r.name),
    };
    Ok(Target {
        code_root: state.code.tree_path(&digest),
        opt_dir: crate::layers::opt_path(state, &config)?,
        config,
        invoked_arn,
    })
}

fn too_large(limit: usize) -> LambdaApiError {
    LambdaApiError::RequestEntityTooLarge(format!(
        "Request must be smaller than {limit} bytes for the InvokeFunction operation"
    ))
}

/// Checks that a payload is JSON; an empty payload is the empty object, as on Lambda.
fn json_payload(body: Bytes) -> Result<Bytes, LambdaApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&body).map_err(|e| {
        LambdaApiError::InvalidRequestContent(format!(
            "Could not parse request body into json: Could not parse payload into json: {e}"
        ))
    })?;
    Ok(body)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Decodes `X-Amz-Client-Context` (base64 of a JSON object).
fn client_context(h: &HeaderMap) -> Result<Option<String>, LambdaApiError> {
    let Some(raw) = header(h, headers::CLIENT_CONTEXT).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let invalid = || {
        LambdaApiError::InvalidParameterValue(
            "Client context must be a valid Base64-encoded JSON object.".into(),
        )
    };
    if raw.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "Client context must be smaller than {MAX_CLIENT_CONTEXT_BYTES} bytes."
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
        .map_err(|_| invalid())?;
    Ok(Some(text))
}

/// Runs an invocation under the concurrency limits: the one road from the API to the invoker.
pub(crate) async fn run(
    state: &ApiState,
    inv: Invocation,
) -> Result<ignis_invoker::InvokeResult, LambdaApiError> {
    let _permit = state.concurrency.acquire(&inv.function.name)?;
    state.invoker.invoke(inv).await.map_err(invoke_error)
}

/// Maps a platform failure of the invoker to its wire error.
pub(crate) fn invoke_error(e: InvokeError) -> LambdaApiError {
    match e {
        InvokeError::RuntimeUnavailable { .. } => LambdaApiError::InvalidRuntime(e.to_string()),
        InvokeError::TooManyEnvironments { .. } => LambdaApiError::TooManyRequests {
            message: "Rate Exceeded.".into(),
            reason: "ConcurrentInvocationLimitExceeded",
            retry_after_seconds: 1,
        },
        other => {
            tracing::error!(error = ?other, "invocation could not run");
            LambdaApiError::Service("The function could not be run: internal failure.".into())
        }
    }
}

pub async fn invoke(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let invocation_type = header(&h, headers::INVOCATION_TYPE).unwrap_or("RequestResponse");
    let limit = match invocation_type {
        "RequestResponse" | "DryRun" => limits::MAX_SYNC_PAYLOAD_BYTES,
        "Event" => limits::MAX_ASYNC_PAYLOAD_BYTES,
        other => {
            return Err(LambdaApiError::InvalidParameterValue(format!(
                "Unsupported invocation type: {other}"
            )));
        }
    };
    if body.len() > limit {
        return Err(too_large(limit));
    }
    request::wait_until_active(&state, &r).await?;
    let target = resolve(&state, &r)?;
    let payload = json_payload(body)?;
    let executed = HeaderValue::from_str(&target.config.version).expect("versions are header-safe");
    match invocation_type {
        "DryRun" => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            response
                .headers_mut()
                .insert(headers::EXECUTED_VERSION, executed);
            Ok(response)
        }
        "Event" => {
            enqueue(&state, &request_id, &r, &target, payload).await?;
            let mut response = StatusCode::ACCEPTED.into_response();
            response
                .headers_mut()
                .insert(headers::EXECUTED_VERSION, executed);
            Ok(response)
        }
        _ => {
            let tail_log = header(&h, headers::LOG_TYPE) == Some("Tail");
            let result = run(
                &state,
                Invocation {
                    function: target.config.clone(),
                    code_root: target.code_root,
                    invoked_arn: target.invoked_arn,
                    request_id,
                    payload,
                    client_context: client_context(&h)?,
                    cognito_identity: None,
                    tail_log,
                    opt_dir: target.opt_dir,
                },
            )
            .await?;
            let mut response = (
                StatusCode::OK,
                [(http::header::CONTENT_TYPE, "application/json")],
                Body::from(result.payload),
            )
                .into_response();
            let out = response.headers_mut();
            out.insert(
                headers::EXECUTED_VERSION,
                HeaderValue::from_str(&result.executed_version).unwrap_or(executed),
            );
            if let Some(fe) = result
                .function_error
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                out.insert(headers::FUNCTION_ERROR, fe);
            }
            if let Some(tail) = result
                .log_tail
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                out.insert(headers::LOG_RESULT, tail);
            }
            Ok(response)
        }
    }
}

/// Commits the event to the queue, then wakes the dispatcher.
async fn enqueue(
    state: &ApiState,
    request_id: &str,
    r: &FunctionRef,
    target: &Target,
    payload: Bytes,
) -> Result<(), LambdaApiError> {
    let now = time::now_ms();
    let event = AsyncEvent {
        request_id: request_id.to_string(),
        function_name: r.name.clone(),
        qualifier: r
            .qualifier
            .as_ref()
            .map_or_else(|| ignis_model::arn::LATEST.to_string(), ToString::to_string),
        invoked_arn: target.invoked_arn.clone(),
        payload: payload.to_vec(),
        enqueued_ms: now,
        attempts: 0,
    };
    state
        .store
        .enqueue(&event, now)
        .await
        .map_err(crate::functions::store_error)?;
    state.async_wake.notify_one();
    Ok(())
}

/// InvokeAsync (deprecated): the raw body is the event, at most 256 KB; answers 202.
pub async fn invoke_async(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let r = request::function_ref(&state, &name, None)?;
    if body.len() > limits::MAX_INVOKE_ASYNC_PAYLOAD_BYTES {
        return Err(too_large(limits::MAX_INVOKE_ASYNC_PAYLOAD_BYTES));
    }
    request::wait_until_active(&state, &r).await?;
    let target = resolve(&state, &r)?;
    let payload = json_payload(body)?;
    enqueue(&state, &request_id, &r, &target, payload).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "Status": 202 })),
    )
        .into_response())
}
