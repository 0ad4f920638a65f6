//! The CloudWatch Logs service on the node's port: AWS's JSON 1.1 protocol
//! (`POST /`, `X-Amz-Target: Logs_20140328.<Operation>`, `application/x-amz-json-1.1`) over
//! the node's log store (`ignis-logs`), so that the functions' log groups (`/aws/lambda/<fn>`)
//! and any group another program creates are read and written with the AWS CLI and SDKs.
//!
//! It owns the wire: request shapes and their model constraints (`validate.rs`), errors
//! (`error.rs`), one module per resource (`groups.rs`: groups, retention, tags; `streams.rs`;
//! `events.rs`: PutLogEvents, GetLogEvents, FilterLogEvents), filter patterns (`pattern/`) and
//! live tails (`live_tail.rs`). It does not own storage (the log store's, which keeps each
//! group's metadata durable beside its streams) or decide what functions log.
//!
//! Every request is SigV4-verified here, for the service `logs`, once its body (at most
//! [`MAX_REQUEST_BYTES`], drawn from the node's budget for bodies not yet proven) is read.

mod authorize;
mod error;
mod events;
mod groups;
pub mod live_tail;
mod pattern;
mod streams;
mod tokens;
mod validate;

pub use error::LogsError;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use ignis_front::{BodyBudget, signed};
use ignis_logs::LogStore;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// JSON 1.1's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The `X-Amz-Target` prefix of this API's operations.
pub const TARGET_PREFIX: &str = "Logs_20140328.";
/// The largest request body read: a PutLogEvents batch at its limit (1,048,576 bytes of
/// messages) with room for JSON's escaping.
pub const MAX_REQUEST_BYTES: usize = 4 << 20;
/// How long a request body may pause before it is given up.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The CloudWatch Logs service of one node.
pub struct Logs {
    pub(crate) store: LogStore,
    pub(crate) region: String,
    pub(crate) account: String,
    identity: ignis_identity::Identity,
    bodies: BodyBudget,
    pub(crate) tails: live_tail::Sessions,
}

impl Logs {
    pub fn new(
        store: LogStore,
        region: String,
        account: String,
        identity: ignis_identity::Identity,
        bodies: BodyBudget,
    ) -> Logs {
        Logs {
            store,
            region,
            account,
            identity,
            bodies,
            tails: live_tail::Sessions::new(live_tail::Limits::default()),
        }
    }

    /// The same service with other live-tail bounds (tests shorten them).
    pub fn with_live_tail_limits(mut self, limits: live_tail::Limits) -> Logs {
        self.tails = live_tail::Sessions::new(limits);
        self
    }

    /// `arn:aws:logs:<region>:<account>:log-group:<name>` (`logGroupArn`; `arn` adds `:*`).
    pub(crate) fn group_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:logs:{}:{}:log-group:{name}",
            self.region, self.account
        )
    }

    /// The service's router.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(move |req: Request| {
            let logs = self.clone();
            async move {
                let request_id = uuid::Uuid::new_v4().to_string();
                let mut response = match logs.serve(req, &request_id).await {
                    Ok(r) => r,
                    Err(e) => e.into_response(),
                };
                if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert("x-amzn-requestid", v);
                }
                response
            }
        })
    }

    async fn serve(&self, req: Request, request_id: &str) -> Result<Response, LogsError> {
        let (signed, parts) = self.authenticate(req).await?;
        let body = &signed.body;
        let target = parts
            .headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
            return Err(LogsError::UnknownOperation(String::new()));
        };
        let body = if body.is_empty() {
            &b"{}"[..]
        } else {
            &body[..]
        };
        self.authorize(operation, body, &signed)?;
        let json = |v: serde_json::Value| {
            let mut r = v.to_string().into_response();
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static(CONTENT_TYPE),
            );
            r
        };
        let value = match operation {
            "CreateLogGroup" => groups::create(self, input(body)?).await?,
            "DescribeLogGroups" => groups::describe(self, input(body)?).await?,
            "DeleteLogGroup" => groups::delete(self, input(body)?).await?,
            "PutRetentionPolicy" => groups::put_retention(self, input(body)?).await?,
            "DeleteRetentionPolicy" => groups::delete_retention(self, input(body)?).await?,
            "TagLogGroup" => groups::tag_log_group(self, input(body)?).await?,
            "UntagLogGroup" => groups::untag_log_group(self, input(body)?).await?,
            "ListTagsLogGroup" => groups::list_tags_log_group(self, input(body)?).await?,
            "TagResource" => groups::tag_resource(self, input(body)?).await?,
            "UntagResource" => groups::untag_resource(self, input(body)?).await?,
            "ListTagsForResource" => groups::list_tags_for_resource(self, input(body)?).await?,
            "CreateLogStream" => streams::create(self, input(body)?).await?,
            "DescribeLogStreams" => streams::describe(self, input(body)?).await?,
            "DeleteLogStream" => streams::delete(self, input(body)?).await?,
            "PutLogEvents" => events::put(self, input(body)?).await?,
            "GetLogEvents" => events::get(self, input(body)?).await?,
            "FilterLogEvents" => events::filter(self, input(body)?).await?,
            "StartLiveTail" => return live_tail::start(self, input(body)?, request_id).await,
            _ => return Err(LogsError::UnknownOperation(String::new())),
        };
        Ok(json(value))
    }

    /// Reads the body within its bounds and checks the signature on it (each operation is
    /// then authorised for its caller).
    async fn authenticate(
        &self,
        req: Request,
    ) -> Result<(ignis_identity::Authenticated, http::request::Parts), LogsError> {
        let (parts, body) = req.into_parts();
        let expected = ignis_sigv4::Expected {
            service: "logs",
            region: Some(&self.region),
        };
        let bounds = signed::Bounds {
            max_bytes: MAX_REQUEST_BYTES,
            idle: BODY_IDLE_TIMEOUT,
            unproven: &self.bodies,
        };
        let signed = self
            .identity
            .authenticate(&parts, body, expected, bounds)
            .await
            .map_err(auth_error)?;
        Ok((signed, parts))
    }
}

fn input<T: DeserializeOwned>(body: &[u8]) -> Result<T, LogsError> {
    serde_json::from_slice(body).map_err(|e| LogsError::Serialization(e.to_string()))
}

fn body_error(e: ignis_front::BodyError) -> LogsError {
    use ignis_front::BodyError;
    match e {
        BodyError::TooLarge { limit } => {
            LogsError::InvalidParameter(format!("The request body must be at most {limit} bytes."))
        }
        BodyError::Busy => LogsError::LimitExceeded("Rate exceeded".into()),
        BodyError::Stalled | BodyError::Broken(_) => {
            LogsError::Serialization("The request body could not be read completely.".into())
        }
    }
}

fn auth_error(e: signed::AuthError) -> LogsError {
    let message = e.to_string();
    match e {
        signed::AuthError::Signature(e) => LogsError::Auth(e.aws_error_type(), message),
        signed::AuthError::InvalidToken => LogsError::Auth("UnrecognizedClientException", message),
        signed::AuthError::ExpiredToken => LogsError::Auth("ExpiredTokenException", message),
        signed::AuthError::Body(e) => body_error(e),
    }
}

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
