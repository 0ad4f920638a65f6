//! InvokeWithResponseStream: an invocation whose response reaches the caller as it is written,
//! as an AWS event stream (`application/vnd.amazon.eventstream`) of `PayloadChunk` events and
//! one closing `InvokeComplete`.
//!
//! The request is read as Invoke reads its own (`invoke::read_request`). Everything that can fail
//! before the function's first byte (not found, throttled, too large, no room for an
//! environment, a runtime that is missing) is the usual JSON error: the answer's head is sent
//! only with the first chunk, or with the whole result of a function that does not stream.
//! After that, each chunk the runtime writes is one `PayloadChunk` as soon as it arrives, and
//! a function error (the stream's error trailers, a timeout, a crash) is the `InvokeComplete`'s
//! `ErrorCode` and `ErrorDetails`.
//!
//! The invocation runs in its own task (`Engine::invoke` spawns it): a caller that goes away
//! drops only this answer, and the function runs to its end.

use crate::ApiState;
use crate::invoke;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use ignis_engine::{InvokeResult, Mode, Outcome, Streaming};
use ignis_wire::eventstream::{self, event};
use ignis_wire::{LambdaApiError, headers};
use std::convert::Infallible;

/// The answer's `Content-Type`.
const EVENT_STREAM: &str = eventstream::CONTENT_TYPE;

/// How InvokeWithResponseStream names its invocation types (botocore's
/// `ResponseStreamingInvocationType`).
const STREAM_TYPES: &[(&str, Mode)] = &[
    ("RequestResponse", Mode::RequestResponse),
    ("DryRun", Mode::DryRun),
];

/// The largest payload one `PayloadChunk` carries; a longer chunk (a whole result of 6 MB) is
/// sent as several. Event-stream readers bound a message (botocore at 24 MiB).
const MAX_EVENT_PAYLOAD: usize = 1 << 20;

pub async fn invoke_with_response_stream(
    State(state): State<ApiState>,
    input: invoke::Input,
) -> Result<Response, LambdaApiError> {
    let (target, mut request) = invoke::read_request(&state, input, STREAM_TYPES).await?;
    let executed = invoke::executed_version(&target);
    request.stream = true;
    let tail = request.tail_log;
    let mut streaming = match state.engine.invoke(target, request).await? {
        Outcome::Checked => {
            return Ok(invoke::with_version(StatusCode::NO_CONTENT, executed));
        }
        Outcome::Streaming(streaming) => streaming,
        Outcome::Finished(_) | Outcome::Queued => {
            unreachable!("a streamed RequestResponse answers Streaming")
        }
    };
    // Nothing is sent before there is something to send: a failure before the function's first
    // byte is still an error response.
    let first = match next(&mut streaming).await {
        Step::Done(Err(e)) => return Err(e),
        step => step,
    };
    let events =
        futures_util::stream::unfold(Some((streaming, Some(first))), move |state| async move {
            let (mut streaming, pending) = state?;
            let step = match pending {
                Some(step) => step,
                None => next(&mut streaming).await,
            };
            Some(match step {
                Step::Chunk(chunk) => (
                    Ok::<_, Infallible>(payload_chunks(&chunk)),
                    Some((streaming, None)),
                ),
                Step::Done(end) => (Ok(completion(end, tail)), None),
            })
        });
    let mut response = (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, EVENT_STREAM)],
        Body::from_stream(events),
    )
        .into_response();
    response
        .headers_mut()
        .insert(headers::EXECUTED_VERSION, executed);
    Ok(response)
}

/// What a streamed invocation does next.
enum Step {
    /// The runtime wrote this.
    Chunk(Bytes),
    /// It ended: its result (a whole payload for a function that did not stream), or a platform
    /// failure.
    Done(Result<InvokeResult, LambdaApiError>),
}

/// The next chunk, or the end once every chunk was taken (the invoker hands over every chunk
/// before the end, so one that is ready when the end is comes first).
async fn next(streaming: &mut Streaming) -> Step {
    tokio::select! {
        biased;
        Some(chunk) = streaming.chunks.recv() => Step::Chunk(chunk),
        end = &mut streaming.end => Step::Done(end.unwrap_or_else(|_| {
            tracing::error!("a streamed invocation ended without its result");
            Err(LambdaApiError::Service("Internal failure; the invocation did not complete.".into()))
        })),
    }
}

/// `data` as `PayloadChunk` events, each at most [`MAX_EVENT_PAYLOAD`] long.
fn payload_chunks(data: &Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 128);
    for at in (0..data.len()).step_by(MAX_EVENT_PAYLOAD) {
        let end = (at + MAX_EVENT_PAYLOAD).min(data.len());
        event(
            &mut out,
            "PayloadChunk",
            "application/octet-stream",
            data.slice(at..end),
        );
    }
    out.freeze()
}

/// The closing `InvokeComplete` (after the whole payload of a function that did not stream).
fn completion(end: Result<InvokeResult, LambdaApiError>, tail: bool) -> Bytes {
    let mut out = BytesMut::new();
    let complete = match end {
        Ok(result) => {
            let log_result = result.log_tail.clone().filter(|_| tail);
            match result.function_error {
                Some(_) => {
                    let (code, details) = function_error(&result.payload);
                    InvokeComplete {
                        error_code: Some(code),
                        error_details: Some(details),
                        log_result,
                    }
                }
                None => {
                    out.extend_from_slice(&payload_chunks(&result.payload));
                    InvokeComplete {
                        log_result,
                        ..InvokeComplete::default()
                    }
                }
            }
        }
        // A platform failure after the first chunk (none is known to happen there today).
        Err(e) => InvokeComplete {
            error_code: Some(e.error_type().to_string()),
            error_details: Some(e.to_string()),
            log_result: None,
        },
    };
    let json = serde_json::to_vec(&complete).expect("strings serialise");
    event(&mut out, "InvokeComplete", "application/json", json.into());
    out.freeze()
}

/// The members of `InvokeWithResponseStreamCompleteEvent`.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct InvokeComplete {
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_result: Option<String>,
}

/// A function error's code and details from its error JSON: its `errorType` and
/// `errorMessage` (`Unhandled` and the whole body when it has none).
fn function_error(payload: &[u8]) -> (String, String) {
    let parsed = serde_json::from_slice::<serde_json::Value>(payload).ok();
    let member = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    (
        member("errorType").unwrap_or_else(|| "Unhandled".into()),
        member("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    /// Every message in `bytes`, as (its headers by name, its payload).
    fn messages(mut bytes: &[u8]) -> Vec<(Vec<(String, String)>, Bytes)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let m = read_message_from(&mut bytes).unwrap();
            let headers = m
                .headers()
                .iter()
                .map(|h| {
                    let v = h.value().as_string().unwrap().as_str().to_string();
                    (h.name().as_str().to_string(), v)
                })
                .collect();
            out.push((headers, m.payload().clone()));
        }
        out
    }

    fn headers(event_type: &str, content_type: &str) -> Vec<(String, String)> {
        [
            (":event-type", event_type),
            (":content-type", content_type),
            (":message-type", "event"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec()
    }

    fn result(payload: &'static [u8], function_error: bool, tail: Option<&str>) -> InvokeResult {
        InvokeResult {
            executed_version: "$LATEST".into(),
            payload: Bytes::from_static(payload),
            function_error: function_error.then(|| "Unhandled".into()),
            log_tail: tail.map(str::to_string),
            metrics: ignis_engine::InvokeMetrics {
                duration: std::time::Duration::ZERO,
                billed_duration_ms: 1,
                init_duration: None,
                memory_size_mb: 128,
                max_memory_used_mb: 1,
            },
        }
    }

    #[test]
    fn a_chunk_is_one_payload_chunk_and_a_long_one_several() {
        let m = messages(&payload_chunks(&Bytes::from_static(b"hello")));
        assert_eq!(
            m,
            vec![(
                headers("PayloadChunk", "application/octet-stream"),
                Bytes::from_static(b"hello")
            )]
        );
        let long = Bytes::from(vec![7u8; MAX_EVENT_PAYLOAD * 2 + 3]);
        let m = messages(&payload_chunks(&long));
        let sizes: Vec<usize> = m.iter().map(|(_, p)| p.len()).collect();
        assert_eq!(sizes, [MAX_EVENT_PAYLOAD, MAX_EVENT_PAYLOAD, 3]);
        assert!(payload_chunks(&Bytes::new()).is_empty());
    }

    #[test]
    fn a_whole_result_comes_before_the_completion() {
        let m = messages(&completion(Ok(result(b"{\"a\":1}", false, None)), false));
        assert_eq!(
            m,
            vec![
                (
                    headers("PayloadChunk", "application/octet-stream"),
                    Bytes::from_static(b"{\"a\":1}")
                ),
                (
                    headers("InvokeComplete", "application/json"),
                    Bytes::from_static(b"{}")
                ),
            ]
        );
        // A streamed result has no payload of its own; the log tail only when it was asked for.
        let m = messages(&completion(Ok(result(b"", false, Some("dGFpbA=="))), true));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].1, Bytes::from_static(b"{\"LogResult\":\"dGFpbA==\"}"));
        let m = messages(&completion(Ok(result(b"", false, Some("dGFpbA=="))), false));
        assert_eq!(m[0].1, Bytes::from_static(b"{}"));
    }

    #[test]
    fn a_function_error_is_the_completions_code_and_details() {
        let error = br#"{"errorType":"Error","errorMessage":"broke","stackTrace":[]}"#;
        let m = messages(&completion(Ok(result(error, true, None)), false));
        assert_eq!(m.len(), 1, "the error JSON is not a payload chunk");
        assert_eq!(m[0].0, headers("InvokeComplete", "application/json"));
        let body: serde_json::Value = serde_json::from_slice(&m[0].1).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ErrorCode": "Error", "ErrorDetails": "broke"})
        );
        assert_eq!(
            function_error(b"not json"),
            ("Unhandled".to_string(), "not json".to_string())
        );
        let late = completion(Err(LambdaApiError::Service("gone".into())), false);
        let body: serde_json::Value = serde_json::from_slice(&messages(&late)[0].1).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"ErrorCode": "ServiceException", "ErrorDetails": "gone"})
        );
    }
}
