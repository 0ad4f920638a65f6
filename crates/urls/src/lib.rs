//! Function URLs: every function (or alias) with a URL configuration is an HTTP endpoint.
//!
//! A request addressed to a URL ([`address`]: by host, or by the path form) is answered here:
//! the URL's configuration from memory, CORS preflights answered without invoking
//! ([`cors`]), the caller authorised ([`auth`]: the resource policy for `NONE`, SigV4 for
//! `AWS_IAM`), the body read within the invoke payload limit and the unproven-body budget, the
//! 2.0 event built ([`event`]), one invocation through the engine (streamed for
//! `RESPONSE_STREAM`), and its answer turned into the HTTP response ([`response`]).
//!
//! This crate knows nothing of how URL configurations are stored or managed: the server gives
//! it a lookup, and the Lambda API owns the configuration operations.

mod address;
mod auth;
mod cors;
mod event;
mod response;

pub use address::PATH_PREFIX;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use ignis_engine::{Engine, Mode, Outcome};
use ignis_front::signed;
use ignis_model::trace::{self, TraceHeader, Trigger};
use ignis_model::url::{FunctionUrl, InvokeMode, UrlAuthType};
use ignis_model::{Account, FunctionRef, limits};
use ignis_store::Store;
use std::sync::Arc;

/// Finds a URL's configuration by its id, from memory.
pub type UrlLookup = Arc<dyn Fn(&str) -> Option<Arc<FunctionUrl>> + Send + Sync>;

/// How long a request body may pause before it is given up.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Everything a function URL request needs.
pub struct FunctionUrls {
    account: Account,
    store: Store,
    engine: Engine,
    urls: UrlLookup,
    identity: ignis_identity::Identity,
    bodies: ignis_front::BodyBudget,
    verdicts: auth::Verdicts,
}

impl FunctionUrls {
    /// The URLs of `account`, found with `urls`, whose signed callers' keys `identity` knows;
    /// bodies of callers not yet proven draw on `bodies`.
    pub fn new(
        account: Account,
        store: Store,
        engine: Engine,
        urls: UrlLookup,
        identity: ignis_identity::Identity,
        bodies: ignis_front::BodyBudget,
    ) -> FunctionUrls {
        FunctionUrls {
            account,
            store,
            engine,
            urls,
            identity,
            bodies,
            verdicts: Default::default(),
        }
    }
}

/// Whether a request is addressed to a function URL (by host or path form).
pub fn claims(parts: &Parts) -> bool {
    address::of(parts).is_some()
}

/// The function URLs as an axum router.
pub fn router(urls: Arc<FunctionUrls>) -> Router {
    Router::new().fallback(serve).with_state(urls).layer(
        tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("function URL handler panicked");
            response::bad_gateway()
        }),
    )
}

async fn serve(State(urls): State<Arc<FunctionUrls>>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = handle(&urls, req, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-RequestId", v);
    }
    response
}

async fn handle(urls: &FunctionUrls, req: Request, request_id: &str) -> Response {
    let (parts, body) = req.into_parts();
    let Some(address) = address::of(&parts) else {
        return response::unknown();
    };
    let url = match (urls.urls)(&address.url_id) {
        Some(url)
            if address
                .region
                .as_deref()
                .is_none_or(|r| r == urls.account.region) =>
        {
            url
        }
        _ => return response::unknown(),
    };
    if let Some(cors) = &url.cors
        && let Some(preflight) = cors::preflight(cors, &parts)
    {
        return preflight;
    }
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut response = invoke(urls, &url, &address, parts, body, request_id).await;
    if let Some(cors) = &url.cors {
        cors::decorate(cors, origin.as_deref(), response.headers_mut());
    }
    response
}

async fn invoke(
    urls: &FunctionUrls,
    url: &FunctionUrl,
    address: &address::Address,
    parts: Parts,
    body: Body,
    request_id: &str,
) -> Response {
    let head = match url.auth_type {
        UrlAuthType::None => {
            if !auth::anyone_may_call(urls, url).await {
                return response::forbidden();
            }
            None
        }
        UrlAuthType::AwsIam => {
            let expected = ignis_sigv4::Expected {
                service: "lambda",
                region: Some(&urls.account.region),
            };
            match signed::verify_head(&parts, expected, chrono::Utc::now(), |k| {
                urls.identity.resolve(k)
            }) {
                Ok(head) => Some(head),
                Err(e) => return refused(e),
            }
        }
    };
    let source = ignis_front::Source::of(&parts.extensions);
    let bounds = signed::Bounds {
        max_bytes: limits::MAX_SYNC_PAYLOAD_BYTES,
        idle: BODY_IDLE_TIMEOUT,
        unproven: &urls.bodies,
    };
    let (bytes, reservation, proven) = match signed::read(head, &parts, body, bounds).await {
        Ok(read) => read,
        Err(e) => return refused(e),
    };
    let iam = match proven {
        None => None,
        Some(p) if !auth::signer_may_call(urls, url, &p.principal, source.ip()).await => {
            return response::forbidden();
        }
        Some(p) => Some(event::IamCaller {
            access_key: p.identity.access_key_id,
            account_id: p.principal.account().to_string(),
            caller_id: p.principal.user_id(),
            cognito_identity: None,
            principal_org_id: None,
            user_arn: p.principal.arn(),
            user_id: p.principal.user_id(),
        }),
    };

    let target = match FunctionRef::parse(&url.function)
        .and_then(|r| r.with_query_qualifier(url.qualifier.as_deref()))
    {
        Ok(r) => urls.engine.resolve_when_active(&r).await,
        Err(e) => Err(e.into()),
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return response::refused(e),
    };
    // The event's `x-amzn-trace-id` is the trace the invocation continues.
    let incoming = parts
        .headers
        .get(trace::HEADER)
        .and_then(|v| v.to_str().ok())
        .map(TraceHeader::parse);
    let trace = urls.engine.trace(&target, incoming.as_ref());

    let now = chrono::Utc::now();
    let domain = ignis_model::url::domain(&url.url_id, &urls.account.region);
    let port = address.port.unwrap_or(80);
    let host = match address.port {
        Some(p) => format!("{domain}:{p}"),
        None => domain.clone(),
    };
    let payload = event::build(&event::Input {
        url_id: &url.url_id,
        domain_name: &domain,
        method: parts.method.as_str(),
        raw_path: &address.raw_path,
        raw_query: parts.uri.query(),
        protocol: protocol(parts.version),
        headers: &parts.headers,
        host: &host,
        source_ip: &source.ip().to_string(),
        port,
        request_id,
        trace_id: &trace.header(),
        now,
        account_id: if iam.is_some() {
            &urls.account.id
        } else {
            "anonymous"
        },
        caller: iam,
        body: &bytes,
    });
    drop(bytes);
    drop(reservation);
    if payload.len() > limits::MAX_SYNC_PAYLOAD_BYTES {
        return response::too_large();
    }

    let mut request = ignis_engine::Request::new(
        request_id.to_string(),
        payload.into(),
        Mode::RequestResponse,
    );
    request.trace = Some(trace.as_header());
    request.trigger = Trigger::Http;
    request.stream = url.invoke_mode == InvokeMode::ResponseStream;
    match urls.engine.invoke(target, request).await {
        Ok(Outcome::Finished(result)) => response::buffered(&result),
        Ok(Outcome::Streaming(s)) => response::streamed(s).await,
        Ok(Outcome::Queued | Outcome::Checked) => response::bad_gateway(),
        Err(e) => response::refused(e),
    }
}

fn protocol(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    }
}

/// A request refused before it was proven: a missing or bad signature or session token on
/// an `AWS_IAM` URL (403, with the reason when one was sent), or a body that could not be read.
fn refused(e: signed::AuthError) -> Response {
    let e = match e {
        signed::AuthError::Signature(e) => e,
        signed::AuthError::InvalidToken => {
            return response::error(
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                Some(&e.to_string()),
            );
        }
        signed::AuthError::ExpiredToken => {
            return response::error(
                StatusCode::FORBIDDEN,
                "ExpiredTokenException",
                Some(&e.to_string()),
            );
        }
        signed::AuthError::Body(ignis_front::BodyError::TooLarge { .. }) => {
            return response::too_large();
        }
        signed::AuthError::Body(ignis_front::BodyError::Busy) => return response::throttled(),
        signed::AuthError::Body(_) => {
            return response::error(
                StatusCode::BAD_REQUEST,
                "BadRequestException",
                Some("Bad Request"),
            );
        }
    };
    match e.aws_error_type() {
        "MissingAuthenticationTokenException" => response::forbidden(),
        other => response::error(StatusCode::FORBIDDEN, other, Some(&e.to_string())),
    }
}
