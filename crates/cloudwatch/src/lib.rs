//! The CloudWatch (metrics) service on the node's port, for the service name `monitoring`:
//! ListMetrics, GetMetricStatistics, GetMetricData and PutMetricData over the node's metrics
//! (`ignis-metrics`), in each of the three protocols botocore's model lists for CloudWatch
//! (`smithy-rpc-v2-cbor`, JSON 1.0, query; `wire.rs`), so that the `AWS/Lambda` metrics and
//! custom ones are read and written with the AWS CLI and SDKs.
//!
//! It owns the wire: the protocols (`wire.rs`), the request tree each is read into and the
//! model constraints (`value.rs`), errors (`error.rs`), and one module per kind of operation
//! (`list.rs`, `get.rs`, `put.rs`). It does not own aggregation or storage (`ignis-metrics`,
//! `ignis-store`).
//!
//! Every request is SigV4-verified here, for the service `monitoring`, once its body (at most
//! [`MAX_REQUEST_BYTES`], drawn from the node's budget for bodies not yet proven) is read.

mod error;
mod get;
mod list;
mod put;
mod value;
mod wire;

pub use error::CloudWatchError;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use ignis_front::{BodyBudget, signed};
use ignis_metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;
use value::{In, Value};
use wire::Protocol;

/// The service name of CloudWatch's SigV4 credential scope.
pub const SERVICE: &str = "monitoring";
/// The largest request body read: PutMetricData's limit (1 MB).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// The most a gzipped body may inflate to.
pub const MAX_INFLATED_BYTES: u64 = 8 * 1024 * 1024;
/// How long a request body may pause before it is given up.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The CloudWatch service of one node.
pub struct CloudWatch {
    pub(crate) metrics: Metrics,
    region: String,
    identity: ignis_identity::Identity,
    bodies: BodyBudget,
}

impl CloudWatch {
    pub fn new(
        metrics: Metrics,
        region: String,
        identity: ignis_identity::Identity,
        bodies: BodyBudget,
    ) -> CloudWatch {
        CloudWatch {
            metrics,
            region,
            identity,
            bodies,
        }
    }

    /// The service's router.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(move |req: Request| {
            let cw = self.clone();
            async move {
                let request_id = uuid::Uuid::new_v4().to_string();
                let (parts, body) = req.into_parts();
                let protocol = Protocol::of(&parts);
                let mut response = match cw.serve(protocol, parts, body, &request_id).await {
                    Ok(r) => r,
                    Err(e) => protocol.error(&e, &request_id),
                };
                if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert("x-amzn-requestid", v);
                }
                response
            }
        })
    }

    async fn serve(
        &self,
        protocol: Protocol,
        parts: http::request::Parts,
        body: axum::body::Body,
        request_id: &str,
    ) -> Result<Response, CloudWatchError> {
        let signed = self.authenticate(&parts, body).await?;
        let body = inflated(&parts.headers, signed.body)?;
        let (operation, input) = protocol.read(&parts, &body)?;
        // CloudWatch's metric actions act on no resource.
        let action = format!("cloudwatch:{operation}");
        self.identity
            .check(&signed.principal, signed.source_ip, &action, "*", &[])
            .map_err(|message| CloudWatchError::Auth("AccessDenied", message))?;
        let root = In::root(&input);
        let output = match operation.as_str() {
            "ListMetrics" => list::list(self, &root).await?,
            "GetMetricStatistics" => get::statistics(self, &root).await?,
            "GetMetricData" => get::data(self, &root).await?,
            "PutMetricData" => put::put(self, &root).await?,
            other => {
                return Err(CloudWatchError::UnknownOperation(format!(
                    "The operation {other} is not supported by Ignis yet."
                )));
            }
        };
        Ok(protocol.respond(&operation, output, request_id))
    }

    /// Reads the body within its bounds and checks the signature on it (each operation is
    /// then authorised for its caller).
    async fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: axum::body::Body,
    ) -> Result<ignis_identity::Authenticated, CloudWatchError> {
        let expected = ignis_sigv4::Expected {
            service: SERVICE,
            region: Some(&self.region),
        };
        let bounds = signed::Bounds {
            max_bytes: MAX_REQUEST_BYTES,
            idle: BODY_IDLE_TIMEOUT,
            unproven: &self.bodies,
        };
        self.identity
            .authenticate(parts, body, expected, bounds)
            .await
            .map_err(auth_error)
    }
}

/// The body, gunzipped when its `Content-Encoding` says `gzip` (SDKs compress large
/// PutMetricData requests), within [`MAX_INFLATED_BYTES`].
fn inflated(
    headers: &http::HeaderMap,
    body: bytes::Bytes,
) -> Result<bytes::Bytes, CloudWatchError> {
    use std::io::Read;
    let gzip = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("gzip")));
    if !gzip {
        return Ok(body);
    }
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(&body[..]).take(MAX_INFLATED_BYTES + 1);
    reader.read_to_end(&mut out).map_err(|e| {
        CloudWatchError::InvalidParameterValue(format!("The request body is not valid gzip: {e}"))
    })?;
    if out.len() as u64 > MAX_INFLATED_BYTES {
        return Err(CloudWatchError::RequestTooLarge(format!(
            "The request body inflates past {MAX_INFLATED_BYTES} bytes."
        )));
    }
    Ok(out.into())
}

fn body_error(e: ignis_front::BodyError) -> CloudWatchError {
    use ignis_front::BodyError;
    match e {
        BodyError::TooLarge { limit } => CloudWatchError::RequestTooLarge(format!(
            "Request size exceeded the limit of {limit} bytes."
        )),
        BodyError::Busy => CloudWatchError::Throttling("Rate exceeded".into()),
        BodyError::Stalled | BodyError::Broken(_) => CloudWatchError::InvalidParameterValue(
            "The request body could not be read completely.".into(),
        ),
    }
}

fn auth_error(e: signed::AuthError) -> CloudWatchError {
    let message = e.to_string();
    match e {
        signed::AuthError::Signature(e) => CloudWatchError::Auth(e.aws_error_type(), message),
        signed::AuthError::InvalidToken => CloudWatchError::Auth("InvalidClientTokenId", message),
        signed::AuthError::ExpiredToken => CloudWatchError::Auth("ExpiredToken", message),
        signed::AuthError::Body(e) => body_error(e),
    }
}

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A request's dimensions (at most `max`), sorted by name, names unique.
pub(crate) fn dimensions(
    field: &In<'_>,
    max: usize,
) -> Result<Vec<(String, String)>, CloudWatchError> {
    let mut dims = Vec::new();
    for d in field.items_at_most(max)? {
        let name = d.field("Name").string(1, 255)?;
        let value = d.field("Value").string(1, 1024)?;
        dims.push((name.to_string(), value.to_string()));
    }
    dims.sort();
    if dims.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "No metric may have duplicate dimension names in {}.",
            field.path
        )));
    }
    Ok(dims)
}

/// Dimensions as the wire lists them.
pub(crate) fn dimensions_value(dims: &[(String, String)]) -> Value {
    Value::List(
        dims.iter()
            .map(|(n, v)| {
                Value::object([
                    ("Name", Value::str(n.as_str())),
                    ("Value", Value::str(v.as_str())),
                ])
            })
            .collect(),
    )
}
