//! What every request passes through before its handler: a request id, SigV4 verification
//! against the path exactly as sent (from the head alone when the request declares its payload
//! hash, before any of the body is read), a body read within its byte and time bounds,
//! trailing-slash tolerance, and panic catching.

use crate::{ApiState, code_url};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Uri};
use ignis_model::limits;
use ignis_wire::{LambdaApiError, headers};
use sha2::Digest;
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

/// Verifies the signature — from the head alone where the request allows it, before reading any
/// of the body — reads the body within its bounds and hands back the request ready for routing.
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

    let verification = if path.starts_with(code_url::PREFIX) {
        None
    } else {
        let head = ignis_sigv4::RequestHead {
            method: parts.method.as_str(),
            path: &path,
            query: parts.uri.query(),
            headers: &parts.headers,
        };
        let expected = ignis_sigv4::Expected {
            service: "lambda",
            region: Some(&state.account.region),
        };
        let creds = &state.credentials;
        let verification = ignis_sigv4::verify_head(&head, chrono::Utc::now(), expected, |key| {
            (key == creds.access_key_id).then(|| creds.secret_access_key.clone())
        })
        .map_err(auth_error)?;
        Some(verification)
    };

    // A body whose sender is not proven yet draws on the node's budget for such bodies.
    let source = ignis_front::Source::of(&parts.extensions);
    let budget = verification
        .as_ref()
        .filter(|v| !v.signature_checked())
        .map(|_| (&state.unproven_bodies, &source));
    let mut hasher = sha2::Sha256::new();
    let (body, reservation) = ignis_front::read_body(
        body,
        declared,
        limits::MAX_CODE_REQUEST_BYTES,
        BODY_IDLE_TIMEOUT,
        budget,
        |chunk| hasher.update(chunk),
    )
    .await
    .map_err(|e| body_error(e, &path))?;
    if let Some(verification) = verification {
        verification
            .finish(&hex::encode(hasher.finalize()))
            .map_err(auth_error)?;
    }
    drop(reservation);

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

fn auth_error(e: ignis_sigv4::SigV4Error) -> LambdaApiError {
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
