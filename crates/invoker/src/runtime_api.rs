//! One environment's Runtime API (2018-06-01): an HTTP server on its own listener,
//! whose address the runtime gets as `AWS_LAMBDA_RUNTIME_API`.
//!
//! The invoker talks to it through [`RuntimeApi`]: [`RuntimeApi::begin`] makes a request id the
//! environment's current one and returns where its outcome will arrive, [`RuntimeApi::dispatch`]
//! queues the event (capacity 1: one request at a time) for the runtime's pending
//! `GET /invocation/next`. Request ids are this environment's state only: any other id, including
//! one of another environment, is `InvalidRequestID` and changes nothing.

use crate::ResponseSink;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Largest response (or error) a runtime may post: 6 MiB + 100 bytes.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// Most bytes of an oversized body read (and thrown away) so the runtime still gets its 413.
const MAX_DRAIN_BYTES: usize = 64 << 20;
/// Largest response a runtime may stream to a caller that takes it as a stream (Lambda's
/// 200 MB for streamed responses); a buffered caller gets at most [`MAX_RESPONSE_BYTES`].
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 200 << 20;

pub const HDR_REQUEST_ID: &str = "lambda-runtime-aws-request-id";
pub const HDR_DEADLINE_MS: &str = "lambda-runtime-deadline-ms";
pub const HDR_INVOKED_ARN: &str = "lambda-runtime-invoked-function-arn";
pub const HDR_TRACE_ID: &str = "lambda-runtime-trace-id";
pub const HDR_CLIENT_CONTEXT: &str = "lambda-runtime-client-context";
pub const HDR_COGNITO_IDENTITY: &str = "lambda-runtime-cognito-identity";
pub const HDR_ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// Base64 of the error JSON, in the trailers of a streamed response that failed.
pub const HDR_ERROR_BODY: &str = "lambda-runtime-function-error-body";
pub const HDR_RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";

pub const PATH_NEXT: &str = "/2018-06-01/runtime/invocation/next";
pub const PATH_RESPONSE: &str = "/2018-06-01/runtime/invocation/{id}/response";
pub const PATH_ERROR: &str = "/2018-06-01/runtime/invocation/{id}/error";
pub const PATH_INIT_ERROR: &str = "/2018-06-01/runtime/init/error";

const BODY_ACCEPTED: &str = r#"{"status":"OK"}"#;
const BODY_INVALID_ID: &str =
    r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#;
const BODY_INVALID_STATE: &str =
    r#"{"errorMessage":"Invalid state transition","errorType":"InvalidStateTransition"}"#;
const BODY_TOO_LARGE: &str = r#"{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).","errorType":"RequestEntityTooLarge"}"#;
const BODY_UNREADABLE: &str =
    r#"{"errorMessage":"The request body could not be read","errorType":"InvalidRequest"}"#;
const BODY_INVALID_MODE: &str = r#"{"errorMessage":"Invalid function response mode","errorType":"InvalidFunctionResponseMode"}"#;
/// What the caller gets when the runtime answered in a mode that does not exist.
const ERROR_INVALID_MODE: &str = r#"{"errorMessage":"Invalid function response mode","errorType":"Runtime.InvalidResponseModeHeader"}"#;
const BODY_NOT_FOUND: &str = r#"{"errorMessage":"Not Found","errorType":"NotFound"}"#;
const BODY_SHUTTING_DOWN: &str =
    r#"{"errorMessage":"Environment is shutting down","errorType":"Runtime.Unknown"}"#;

/// One event on its way to the runtime.
pub(crate) struct Dispatch {
    pub request_id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub trace_id: String,
    pub timeout: Duration,
    /// Told the moment the event is handed to the runtime.
    pub handed_out: oneshot::Sender<Instant>,
}

/// What the runtime reported for the current request.
#[derive(Debug)]
pub(crate) enum Outcome {
    Response(Bytes),
    /// The error JSON, forwarded verbatim (or wrapped when the runtime's was not JSON).
    Error(Bytes),
    /// The response (or error) exceeded [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// The body could not be read to its end.
    Truncated(String),
}

struct Current {
    request_id: String,
    /// `None` once the runtime has answered.
    outcome: Option<oneshot::Sender<Outcome>>,
    /// Where a streamed response's body goes as it arrives, when the caller takes a stream.
    sink: Option<ResponseSink>,
}

struct ApiState {
    events: tokio::sync::Mutex<mpsc::Receiver<Dispatch>>,
    current: Mutex<Option<Current>>,
    ready: watch::Sender<bool>,
    /// `true` while the runtime waits in `/next` with no event for it (it is idle).
    parked: watch::Sender<bool>,
    init_error: watch::Sender<Option<Bytes>>,
    cancel: CancellationToken,
}

/// Where a plain-process environment's Runtime API listens on the host: a loopback address other
/// than 127.0.0.1, because slirp4netns leads a sandbox given the host's loopback
/// (`--function-host-access`) to 127.0.0.1 only — so no sandbox of any node on this host can
/// reach it.
pub const HOST_RUNTIME_API_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(127, 0, 0, 2);

/// What one environment's Runtime API holds: a runtime client needs a connection or two, so a
/// function opening more only takes them from itself (never the node's descriptors). Heads may
/// take long (a frozen runtime sends nothing until it is thawed, which may be the idle timeout
/// later): they cost only this environment's few connections.
fn runtime_front() -> ignis_front::FrontConfig {
    ignis_front::FrontConfig {
        max_connections: RUNTIME_API_CONNECTIONS,
        per_source: RUNTIME_API_CONNECTIONS,
        header_timeout: std::time::Duration::from_secs(24 * 3600),
        write_timeout: std::time::Duration::from_secs(30),
        drain_timeout: std::time::Duration::from_secs(1),
    }
}

/// Connections one environment's Runtime API holds at once.
pub const RUNTIME_API_CONNECTIONS: usize = 32;

/// The invoker's handle on one environment's Runtime API.
pub(crate) struct RuntimeApi {
    pub addr: SocketAddr,
    state: Arc<ApiState>,
    events: mpsc::Sender<Dispatch>,
}

impl RuntimeApi {
    /// Binds a port on [`HOST_RUNTIME_API_IP`] and serves until `cancel` fires.
    pub async fn start(cancel: CancellationToken) -> std::io::Result<RuntimeApi> {
        let listener = match tokio::net::TcpListener::bind((HOST_RUNTIME_API_IP, 0)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot bind {HOST_RUNTIME_API_IP}; the Runtime API listens on 127.0.0.1, which sandboxes given --function-host-access can reach");
                tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?
            }
        };
        Self::serve(listener, cancel)
    }

    /// Serves on `listener` (e.g. one inside a sandbox's network namespace) until `cancel`
    /// fires.
    pub fn serve(
        listener: tokio::net::TcpListener,
        cancel: CancellationToken,
    ) -> std::io::Result<RuntimeApi> {
        let addr = listener.local_addr()?;
        let (events_tx, events_rx) = mpsc::channel(1);
        let state = Arc::new(ApiState {
            events: tokio::sync::Mutex::new(events_rx),
            current: Mutex::new(None),
            ready: watch::channel(false).0,
            parked: watch::channel(false).0,
            init_error: watch::channel(None).0,
            cancel: cancel.clone(),
        });
        let app = Router::new()
            .route(PATH_NEXT, get(next))
            .route(PATH_RESPONSE, post(response))
            .route(PATH_ERROR, post(error))
            .route(PATH_INIT_ERROR, post(init_error))
            .fallback(not_found)
            .with_state(state.clone());
        let front = ignis_front::Front::new(runtime_front(), app);
        tokio::spawn(async move {
            if let Err(e) = front.serve(listener, cancel.cancelled_owned()).await {
                tracing::warn!(error = %e, "runtime API server failed");
            }
        });
        Ok(RuntimeApi {
            addr,
            state,
            events: events_tx,
        })
    }

    /// Makes `request_id` the current request; its outcome arrives on the returned receiver.
    /// A streamed response's body goes to `sink` as it arrives, if there is one.
    pub fn begin(
        &self,
        request_id: &str,
        sink: Option<ResponseSink>,
    ) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        *lock(&self.state.current) = Some(Current {
            request_id: request_id.to_string(),
            outcome: Some(tx),
            sink,
        });
        rx
    }

    /// Queues the event for the runtime's `/next`; `false` if one is already waiting (or the
    /// server is gone).
    pub fn dispatch(&self, d: Dispatch) -> bool {
        self.events.try_send(d).is_ok()
    }

    /// Becomes `true` at the runtime's first `/next` (the end of init).
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.state.ready.subscribe()
    }

    /// `true` while the runtime is idle in `/next`.
    pub fn parked(&self) -> watch::Receiver<bool> {
        self.state.parked.subscribe()
    }

    /// The body of `/init/error`, once posted.
    pub fn init_error(&self) -> watch::Receiver<Option<Bytes>> {
        self.state.init_error.subscribe()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn json(status: StatusCode, body: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

async fn next(State(st): State<Arc<ApiState>>) -> Response {
    st.ready.send_replace(true);
    let dispatch = {
        let mut events = tokio::select! {
            g = st.events.lock() => g,
            _ = st.cancel.cancelled() => return json(StatusCode::INTERNAL_SERVER_ERROR, BODY_SHUTTING_DOWN),
        };
        st.parked.send_replace(true);
        let d = tokio::select! {
            d = events.recv() => d,
            _ = st.cancel.cancelled() => None,
        };
        st.parked.send_replace(false);
        d
    };
    let Some(d) = dispatch else {
        return json(StatusCode::INTERNAL_SERVER_ERROR, BODY_SHUTTING_DOWN);
    };
    let handed_out = Instant::now();
    let deadline = epoch_ms() + d.timeout.as_millis();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if value.is_empty() {
            return;
        }
        match HeaderValue::from_bytes(value.as_bytes()) {
            Ok(v) => {
                headers.insert(HeaderName::from_static(name), v);
            }
            Err(_) => tracing::warn!(header = name, "value cannot be sent as a header; dropped"),
        }
    };
    put(HDR_REQUEST_ID, &d.request_id);
    put(HDR_DEADLINE_MS, &deadline.to_string());
    put(HDR_INVOKED_ARN, &d.invoked_arn);
    put(HDR_TRACE_ID, &d.trace_id);
    if let Some(cc) = &d.client_context {
        put(HDR_CLIENT_CONTEXT, cc);
    }
    if let Some(ci) = &d.cognito_identity {
        put(HDR_COGNITO_IDENTITY, ci);
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let _ = d.handed_out.send(handed_out);
    (StatusCode::OK, headers, d.payload).into_response()
}

enum Refusal {
    /// 400: not this environment's current request.
    UnknownId,
    /// 403: already answered.
    Answered,
}

impl Refusal {
    fn response(self) -> Response {
        match self {
            Refusal::UnknownId => json(StatusCode::BAD_REQUEST, BODY_INVALID_ID),
            Refusal::Answered => json(StatusCode::FORBIDDEN, BODY_INVALID_STATE),
        }
    }
}

type Claim = (oneshot::Sender<Outcome>, Option<ResponseSink>);

/// Takes the right to answer `id` (and the sink of a streamed answer).
fn claim(st: &ApiState, id: &str) -> Result<Claim, Refusal> {
    let mut current = lock(&st.current);
    match current.as_mut() {
        Some(c) if c.request_id == id => {
            let tx = c.outcome.take().ok_or(Refusal::Answered)?;
            Ok((tx, c.sink.take()))
        }
        _ => Err(Refusal::UnknownId),
    }
}

/// How the runtime sends its response (`Lambda-Runtime-Function-Response-Mode`).
#[derive(Debug, PartialEq, Eq)]
enum ResponseMode {
    Buffered,
    Streaming,
}

/// The response mode the headers ask for: none or `buffered` is buffered, `streaming` streams
/// (either case-insensitive); any other value is refused.
fn response_mode(headers: &HeaderMap) -> Option<ResponseMode> {
    match headers.get(HDR_RESPONSE_MODE).map(HeaderValue::as_bytes) {
        None => Some(ResponseMode::Buffered),
        Some(v) if v.eq_ignore_ascii_case(b"buffered") => Some(ResponseMode::Buffered),
        Some(v) if v.eq_ignore_ascii_case(b"streaming") => Some(ResponseMode::Streaming),
        Some(_) => None,
    }
}

enum BodyRead {
    Complete(Bytes),
    /// A streamed body that ended with error trailers: the error JSON.
    Failed(Bytes),
    TooLarge,
    Unreadable(String),
}

/// Reads at most `limit` bytes; an oversized body is read on (up to a bound) and thrown away,
/// so the runtime gets its 413 on a connection that is still usable.
async fn read_limited(mut body: Body, limit: usize) -> BodyRead {
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) if seen > limit => {
                tracing::debug!(error = %e, "oversized body not read to its end");
                return BodyRead::TooLarge;
            }
            Err(e) => return BodyRead::Unreadable(e.to_string()),
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen > limit {
            buf = BytesMut::new();
            if seen > limit + MAX_DRAIN_BYTES {
                return BodyRead::TooLarge;
            }
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if seen > limit {
        BodyRead::TooLarge
    } else {
        BodyRead::Complete(buf.freeze())
    }
}

/// Reads a streamed response (`Lambda-Runtime-Function-Response-Mode: streaming`): data frames
/// go to `sink` as they arrive when there is one (at most [`MAX_STREAMED_RESPONSE_BYTES`]),
/// else they are buffered (at most `limit`); error trailers make it a function error.
async fn read_streamed(
    mut body: Body,
    limit: usize,
    sink: Option<mpsc::Sender<Bytes>>,
) -> BodyRead {
    let limit = if sink.is_some() {
        MAX_STREAMED_RESPONSE_BYTES
    } else {
        limit
    };
    let mut buf = BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => return BodyRead::Unreadable(e.to_string()),
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers()
                    && let Some(error) = trailer_error(&trailers)
                {
                    return BodyRead::Failed(error);
                }
                continue;
            }
        };
        seen += data.len();
        if seen > limit {
            return BodyRead::TooLarge;
        }
        match &sink {
            // A caller that stopped listening loses the rest; the runtime still runs to its end.
            Some(sink) => {
                let _ = sink.send(data).await;
            }
            None => buf.extend_from_slice(&data),
        }
    }
    BodyRead::Complete(buf.freeze())
}

/// The error a streamed response's trailers report, as the error JSON.
fn trailer_error(trailers: &HeaderMap) -> Option<Bytes> {
    let error_type = trailers.get(HDR_ERROR_TYPE).and_then(|v| v.to_str().ok());
    let body = trailers.get(HDR_ERROR_BODY).map(|v| {
        use base64::Engine;
        let raw = v.as_bytes();
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::copy_from_slice(raw))
    });
    if error_type.is_none() && body.is_none() {
        return None;
    }
    Some(error_body(body.unwrap_or_default(), error_type))
}

/// The runtime's error body as the caller gets it: verbatim when it is JSON, otherwise wrapped.
pub(crate) fn error_body(body: Bytes, error_type: Option<&str>) -> Bytes {
    if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
        return body;
    }
    let wrapped = serde_json::json!({
        "errorMessage": String::from_utf8_lossy(&body),
        "errorType": error_type.filter(|t| !t.is_empty()).unwrap_or("Unhandled"),
    });
    Bytes::from(wrapped.to_string())
}

fn error_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(HDR_ERROR_TYPE).and_then(|v| v.to_str().ok())
}

async fn answer(
    st: Arc<ApiState>,
    id: String,
    headers: HeaderMap,
    body: Body,
    is_error: bool,
) -> Response {
    let (tx, sink) = match claim(&st, &id) {
        Ok(claimed) => claimed,
        Err(refusal) => return refusal.response(),
    };
    // A response (not an error) has begun: its caller learns its content type now.
    if let Some(sink) = sink.as_ref().filter(|_| !is_error) {
        sink.started(
            headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
    }
    let sink = sink.map(|s| s.chunks);
    let mode = if is_error {
        ResponseMode::Buffered
    } else {
        match response_mode(&headers) {
            Some(mode) => mode,
            // The invocation fails, as on Lambda; the runtime is told why.
            None => {
                let _ = tx.send(Outcome::Error(Bytes::from_static(
                    ERROR_INVALID_MODE.as_bytes(),
                )));
                return json(StatusCode::BAD_REQUEST, BODY_INVALID_MODE);
            }
        }
    };
    let read = if mode == ResponseMode::Streaming {
        read_streamed(body, MAX_RESPONSE_BYTES, sink).await
    } else {
        read_limited(body, MAX_RESPONSE_BYTES).await
    };
    match read {
        BodyRead::Complete(bytes) => {
            let outcome = if is_error {
                Outcome::Error(error_body(bytes, error_type(&headers)))
            } else {
                Outcome::Response(bytes)
            };
            let _ = tx.send(outcome);
            json(StatusCode::ACCEPTED, BODY_ACCEPTED)
        }
        BodyRead::Failed(error) => {
            let _ = tx.send(Outcome::Error(error));
            json(StatusCode::ACCEPTED, BODY_ACCEPTED)
        }
        BodyRead::TooLarge => {
            let _ = tx.send(Outcome::TooLarge);
            json(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE)
        }
        BodyRead::Unreadable(e) => {
            let _ = tx.send(Outcome::Truncated(e));
            json(StatusCode::BAD_REQUEST, BODY_UNREADABLE)
        }
    }
}

async fn response(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(st, id, headers, body, false).await
}

async fn error(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    answer(st, id, headers, body, true).await
}

async fn init_error(State(st): State<Arc<ApiState>>, headers: HeaderMap, body: Body) -> Response {
    if *st.ready.borrow() || st.init_error.borrow().is_some() {
        return json(StatusCode::FORBIDDEN, BODY_INVALID_STATE);
    }
    match read_limited(body, MAX_RESPONSE_BYTES).await {
        BodyRead::Complete(bytes) => {
            st.init_error
                .send_replace(Some(error_body(bytes, error_type(&headers))));
            json(StatusCode::ACCEPTED, BODY_ACCEPTED)
        }
        BodyRead::TooLarge => json(StatusCode::PAYLOAD_TOO_LARGE, BODY_TOO_LARGE),
        BodyRead::Unreadable(_) | BodyRead::Failed(_) => {
            json(StatusCode::BAD_REQUEST, BODY_UNREADABLE)
        }
    }
}

async fn not_found() -> Response {
    json(StatusCode::NOT_FOUND, BODY_NOT_FOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_forwarded_or_wrapped() {
        let verbatim = Bytes::from_static(
            br#"{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}"#,
        );
        assert_eq!(error_body(verbatim.clone(), Some("Unhandled")), verbatim);
        let wrapped: serde_json::Value = serde_json::from_slice(&error_body(
            Bytes::from_static(b"plain text"),
            Some("Custom.Kind"),
        ))
        .unwrap();
        assert_eq!(
            wrapped,
            serde_json::json!({"errorMessage": "plain text", "errorType": "Custom.Kind"})
        );
        let default: serde_json::Value =
            serde_json::from_slice(&error_body(Bytes::from_static(b"x"), None)).unwrap();
        assert_eq!(default["errorType"], "Unhandled");
    }

    fn chunked(chunks: &[&'static str], trailers: Option<HeaderMap>) -> Body {
        use http_body_util::StreamBody;
        let mut frames: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> = chunks
            .iter()
            .map(|c| Ok(http_body::Frame::data(Bytes::from_static(c.as_bytes()))))
            .collect();
        if let Some(t) = trailers {
            frames.push(Ok(http_body::Frame::trailers(t)));
        }
        Body::new(StreamBody::new(futures_util::stream::iter(frames)))
    }

    #[tokio::test]
    async fn error_trailers_make_a_streamed_response_a_function_error() {
        use base64::Engine;
        let mut t = HeaderMap::new();
        t.insert(HDR_ERROR_TYPE, HeaderValue::from_static("Error"));
        let json = br#"{"errorType":"Error","errorMessage":"boom"}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        t.insert(HDR_ERROR_BODY, HeaderValue::from_str(&b64).unwrap());
        let read = read_streamed(chunked(&["partial-"], Some(t)), 100, None).await;
        assert!(matches!(read, BodyRead::Failed(b) if b.as_ref() == json));

        let ok = read_streamed(chunked(&["a", "b"], Some(HeaderMap::new())), 100, None).await;
        assert!(matches!(ok, BodyRead::Complete(b) if b.as_ref() == b"ab"));

        let (tx, mut rx) = mpsc::channel(4);
        let sent = read_streamed(chunked(&["x", "y"], None), 1, Some(tx)).await;
        assert!(
            matches!(sent, BodyRead::Complete(b) if b.is_empty()),
            "streamed to the sink, not buffered; a sink has the 200 MiB bound"
        );
        assert_eq!(rx.recv().await.unwrap(), "x");
        assert_eq!(rx.recv().await.unwrap(), "y");

        let big = read_streamed(chunked(&["12345", "6"], None), 5, None).await;
        assert!(matches!(big, BodyRead::TooLarge));
    }

    #[test]
    fn response_modes_are_buffered_streaming_or_refused() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(HDR_RESPONSE_MODE, HeaderValue::from_static(v));
            response_mode(&h)
        };
        assert_eq!(
            response_mode(&HeaderMap::new()),
            Some(ResponseMode::Buffered)
        );
        assert_eq!(with("Buffered"), Some(ResponseMode::Buffered));
        assert_eq!(with("STREAMING"), Some(ResponseMode::Streaming));
        assert_eq!(with("chunked"), None);
        assert_eq!(with(""), None);
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused() {
        let small = read_limited(Body::from(vec![b'a'; 10]), 10).await;
        assert!(matches!(small, BodyRead::Complete(b) if b.len() == 10));
        let big = read_limited(Body::from(vec![b'a'; 11]), 10).await;
        assert!(matches!(big, BodyRead::TooLarge));
    }
}
