//! Invoke (RequestResponse, Event, DryRun) and the deprecated InvokeAsync: HTTP in, an engine
//! call, HTTP out. InvokeWithResponseStream (`invoke_stream.rs`) reads its request here too
//! ([`read_request`]).
//!
//! A synchronous invoke reads only memory on its way to the invoker (the engine resolves from
//! the store's cache). An `Event` invoke is answered 202 only after the engine has committed
//! the event to the durable queue.

use crate::ApiState;
use crate::front::RequestId;
use crate::request;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use ignis_engine::{Mode, Outcome, Request, Target};
use ignis_model::limits;
use ignis_model::trace::{self, TraceHeader, Trigger};
use ignis_wire::{LambdaApiError, headers};

/// Largest `X-Amz-Client-Context` header (base64), as Lambda documents it.
const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;

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

/// The caller's `X-Amzn-Trace-Id`, which the invocation continues.
fn trace_header(h: &HeaderMap) -> Option<TraceHeader> {
    header(h, trace::HEADER).map(TraceHeader::parse)
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

/// How Invoke names its invocation types.
const INVOKE_TYPES: &[(&str, Mode)] = &[
    ("RequestResponse", Mode::RequestResponse),
    ("Event", Mode::Event),
    ("DryRun", Mode::DryRun),
];

/// An invocation request, as axum extracts it for Invoke and InvokeWithResponseStream alike.
pub(crate) type Input = (
    Extension<RequestId>,
    Path<String>,
    RawQuery,
    HeaderMap,
    Bytes,
);

/// Reads an invocation request as Invoke and InvokeWithResponseStream both read theirs: the
/// function and qualifier, the invocation type (one of `types`; none is `RequestResponse`), the
/// payload within that type's limit, the client context and log type; then resolves the target
/// once it is ready.
pub(crate) async fn read_request(
    state: &ApiState,
    (Extension(RequestId(request_id)), Path(name), RawQuery(query), h, body): Input,
    types: &[(&str, Mode)],
) -> Result<(Target, Request), LambdaApiError> {
    let r = request::function_ref(state, &name, query.as_deref())?;
    let invocation_type = header(&h, headers::INVOCATION_TYPE).unwrap_or("RequestResponse");
    let mode = types
        .iter()
        .find(|(t, _)| *t == invocation_type)
        .map(|(_, mode)| *mode)
        .ok_or_else(|| {
            LambdaApiError::InvalidParameterValue(format!(
                "Unsupported invocation type: {invocation_type}"
            ))
        })?;
    let limit = match mode {
        Mode::Event => limits::MAX_ASYNC_PAYLOAD_BYTES,
        Mode::RequestResponse | Mode::DryRun => limits::MAX_SYNC_PAYLOAD_BYTES,
    };
    if body.len() > limit {
        return Err(too_large(limit));
    }
    let target = state.engine.resolve_when_active(&r).await?;
    let request = Request {
        request_id,
        payload: json_payload(body)?,
        mode,
        client_context: client_context(&h)?,
        tail_log: header(&h, headers::LOG_TYPE) == Some("Tail"),
        stream: false,
        trace: trace_header(&h),
        trigger: Trigger::Other,
    };
    Ok((target, request))
}

/// The version a target runs, as `X-Amz-Executed-Version`.
pub(crate) fn executed_version(target: &Target) -> HeaderValue {
    HeaderValue::from_str(&target.config().version).expect("versions are header-safe")
}

pub async fn invoke(
    State(state): State<ApiState>,
    input: Input,
) -> Result<Response, LambdaApiError> {
    let (target, request) = read_request(&state, input, INVOKE_TYPES).await?;
    let executed = executed_version(&target);
    let result = match state.engine.invoke(target, request).await? {
        Outcome::Checked => return Ok(with_version(StatusCode::NO_CONTENT, executed)),
        Outcome::Queued => return Ok(with_version(StatusCode::ACCEPTED, executed)),
        Outcome::Finished(result) => result,
        Outcome::Streaming(_) => unreachable!("Invoke does not ask for a stream"),
    };
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

pub(crate) fn with_version(status: StatusCode, executed: HeaderValue) -> Response {
    let mut response = status.into_response();
    response
        .headers_mut()
        .insert(headers::EXECUTED_VERSION, executed);
    response
}

/// InvokeAsync (deprecated): the raw body is the event, at most 256 KB; answers 202.
pub async fn invoke_async(
    State(state): State<ApiState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    Path(name): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let r = request::function_ref(&state, &name, None)?;
    if body.len() > limits::MAX_INVOKE_ASYNC_PAYLOAD_BYTES {
        return Err(too_large(limits::MAX_INVOKE_ASYNC_PAYLOAD_BYTES));
    }
    let target = state.engine.resolve_when_active(&r).await?;
    let mut request = Request::new(request_id, json_payload(body)?, Mode::Event);
    request.trace = trace_header(&h);
    state.engine.invoke(target, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "Status": 202 })),
    )
        .into_response())
}
