//! What every request passes through before its handler: a request id, SigV4 verification
//! against the path exactly as sent (from the head alone when the request declares its payload
//! hash, before any of the body is read; the key resolved by `ignis-identity`, a temporary
//! key's session token and expiry checked), a body read within its byte and time bounds,
//! trailing-slash tolerance, and panic catching.

use crate::{ApiState, code_url};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Uri};
use ignis_front::signed;
use ignis_model::limits;
use ignis_wire::{LambdaApiError, headers};
use std::any::Any;
use tower_http::catch_panic::CatchPanicLayer;

/// The id of the request being served, put into the request's extensions; Invoke uses it as the
/// invocation's `aws_request_id`.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

pub fn wrap(api: Router, state: ApiState) -> Router {
    Router::new()
        .fallback_service(
            api
                // The front has already read the body within its own bound.
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(CatchPanicLayer::custom(panic_response)),
        )
        .layer(middleware::from_fn_with_state(state, front))
}

fn panic_response(_: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    LambdaApiError::Service("Internal failure; the request was not completed.".into())
        .into_response()
}

pub async fn unknown_operation() -> LambdaApiError {
    LambdaApiError::UnknownOperation("Unknown operation".into())
}

fn too_large(path: &str) -> LambdaApiError {
    // InvokeWithResponseStream is authorised as lambda:InvokeFunction, and named so.
    let operation = if path.ends_with("invocations") {
        "InvokeFunction"
    } else if path.ends_with("/code") {
        "UpdateFunctionCode"
    } else if path.contains("/layers/") {
        "PublishLayerVersion"
    } else {
        "CreateFunction"
    };
    LambdaApiError::RequestTooLarge(format!(
        "Request must be smaller than {} bytes for the {operation} operation",
        limits::MAX_CODE_REQUEST_BYTES
    ))
}

async fn front(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = match authenticate(&state, req, &request_id).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(headers::REQUEST_ID, v);
    }
    if response.status().is_server_error() {
        tracing::warn!(request_id, status = %response.status(), "request failed");
    }
    response
}

/// How long a request body may pause before it is given up.
pub const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The principal who signed the request being served, put into the request's extensions so
/// that each operation can be authorised for it (`authorize`).
#[derive(Clone, Debug)]
pub struct Caller(pub ignis_identity::Principal);

/// Verifies the signature — from the head alone where the request allows it, before reading any
/// of the body — reads the body within its bounds and hands back the request ready for routing.
/// What the caller may do is checked once the operation is known (`authorize`).
async fn authenticate(
    state: &ApiState,
    req: Request,
    request_id: &str,
) -> Result<Request, LambdaApiError> {
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let declared = ignis_front::declared_length(&parts.headers);
    if declared.is_some_and(|n| n > limits::MAX_CODE_REQUEST_BYTES) {
        return Err(too_large(&path));
    }

    let head = if path.starts_with(code_url::PREFIX) {
        None
    } else {
        let expected = ignis_sigv4::Expected {
            service: "lambda",
            region: Some(&state.account.region),
        };
        let head = signed::verify_head(&parts, expected, chrono::Utc::now(), |key| {
            state.identity.resolve(key)
        })
        .map_err(|e| auth_error(e, &path))?;
        Some(head)
    };
    let bounds = signed::Bounds {
        max_bytes: limits::MAX_CODE_REQUEST_BYTES,
        idle: BODY_IDLE_TIMEOUT,
        unproven: &state.unproven_bodies,
    };
    let (body, reservation, proven) = signed::read(head, &parts, body, bounds)
        .await
        .map_err(|e| auth_error(e, &path))?;
    drop(reservation);
    if let Some(proven) = proven {
        state.identity.note_use(
            &proven.identity.access_key_id,
            "lambda",
            &proven.identity.region,
        );
        parts.extensions.insert(Caller(proven.principal));
    }

    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let uri = match parts.uri.query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        parts.uri = uri.parse::<Uri>().unwrap_or(parts.uri);
    }
    parts.extensions.insert(RequestId(request_id.to_string()));
    Ok(Request::from_parts(parts, Body::from(body)))
}

fn body_error(e: ignis_front::BodyError, path: &str) -> LambdaApiError {
    use ignis_front::BodyError;
    match e {
        BodyError::TooLarge { .. } => too_large(path),
        BodyError::Busy => LambdaApiError::TooManyRequests {
            message: "Rate Exceeded.".into(),
            reason: "CallerRateLimitExceeded",
            retry_after_seconds: 1,
        },
        BodyError::Stalled | BodyError::Broken(_) => LambdaApiError::InvalidRequestContent(
            "The request body could not be read completely.".into(),
        ),
    }
}

fn auth_error(e: signed::AuthError, path: &str) -> LambdaApiError {
    let e = match e {
        signed::AuthError::Signature(e) => e,
        signed::AuthError::InvalidToken => {
            return LambdaApiError::UnrecognizedClient(e.to_string());
        }
        signed::AuthError::ExpiredToken => return LambdaApiError::ExpiredToken(e.to_string()),
        signed::AuthError::Body(e) => return body_error(e, path),
    };
    let message = e.to_string();
    match e.aws_error_type() {
        "MissingAuthenticationTokenException" => {
            LambdaApiError::MissingAuthenticationToken(message)
        }
        "IncompleteSignatureException" => LambdaApiError::IncompleteSignature(message),
        "UnrecognizedClientException" => LambdaApiError::UnrecognizedClient(message),
        _ => LambdaApiError::InvalidSignature(message),
    }
}
