//! StartLiveTail: an event stream (`StartLiveTailResponseStream`) that opens with a
//! `sessionStart` and then carries, about once a second, a `sessionUpdate` with the events
//! ingested since into the tailed groups (matching the session's streams and filter pattern).
//!
//! Sessions are bounded as AWS bounds them: at most [`Limits::max_sessions`] at once
//! (`LimitExceededException` past it), each ending with a `SessionTimeoutException` after
//! [`Limits::max_duration`] (3 hours) or [`Limits::idle`] without a single event (15 minutes).
//! A session whose client goes away ends at its next update.

use crate::groups::identifier_name;
use crate::pattern::Pattern;
use crate::{Logs, LogsError, validate};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use ignis_logs::{Cursor, LogStore, Record};
use ignis_wire::eventstream;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Most events one `sessionUpdate` carries (AWS's 500 a second); past it the update says
/// `sampled`.
const MAX_EVENTS_PER_UPDATE: usize = 500;

/// Bounds of live-tail sessions.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_sessions: usize,
    pub max_duration: Duration,
    pub idle: Duration,
    pub every: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_sessions: 15,
            max_duration: Duration::from_secs(3 * 3600),
            idle: Duration::from_secs(15 * 60),
            every: Duration::from_secs(1),
        }
    }
}

/// The node's live-tail sessions.
pub struct Sessions {
    limits: Limits,
    slots: Arc<Semaphore>,
}

impl Sessions {
    pub fn new(limits: Limits) -> Sessions {
        Sessions {
            limits,
            slots: Arc::new(Semaphore::new(limits.max_sessions)),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    log_group_identifiers: Vec<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefixes: Option<Vec<String>>,
    log_event_filter_pattern: Option<String>,
}

struct Session {
    store: LogStore,
    /// (identifier as asked, group name, where its reading has got to).
    groups: Vec<(String, String, Cursor)>,
    names: Option<Vec<String>>,
    prefixes: Option<Vec<String>>,
    pattern: Pattern,
    limits: Limits,
    started: Instant,
    last_event: Instant,
    _slot: OwnedSemaphorePermit,
}

pub async fn start(
    logs: &Logs,
    input: StartInput,
    request_id: &str,
) -> Result<Response, LogsError> {
    let n = input.log_group_identifiers.len() as i64;
    validate::range("logGroupIdentifiers", n, 1, 10)?;
    if input.log_stream_names.is_some() && input.log_stream_name_prefixes.is_some() {
        return Err(LogsError::InvalidParameter(
            "logStreamNames and logStreamNamePrefixes are mutually exclusive parameters.".into(),
        ));
    }
    let pattern = Pattern::parse(input.log_event_filter_pattern.as_deref().unwrap_or(""))?;
    let mut groups = Vec::new();
    for id in &input.log_group_identifiers {
        let name = identifier_name(logs, id).to_string();
        if logs.store.group(&name).await?.is_none() {
            return Err(LogsError::ResourceNotFound(format!(
                "The specified log group does not exist: {id}"
            )));
        }
        let mut cursor = Cursor::new(None);
        // Only what is ingested from now on is tailed.
        logs.store.read_new(&name, &mut cursor).await?;
        groups.push((id.clone(), name, cursor));
    }
    let slot = logs.tails.slots.clone().try_acquire_owned().map_err(|_| {
        LogsError::LimitExceeded(format!(
            "No more than {} live tail sessions may run at once.",
            logs.tails.limits.max_sessions
        ))
    })?;
    let mut start = json!({
        "requestId": request_id,
        "sessionId": uuid::Uuid::new_v4().to_string(),
        "logGroupIdentifiers": input.log_group_identifiers,
        "logEventFilterPattern": input.log_event_filter_pattern.clone().unwrap_or_default(),
    });
    if let Some(names) = &input.log_stream_names {
        start["logStreamNames"] = json!(names);
    }
    if let Some(prefixes) = &input.log_stream_name_prefixes {
        start["logStreamNamePrefixes"] = json!(prefixes);
    }
    let mut first = BytesMut::new();
    // JSON-protocol event streams open with the response's other members (none here).
    eventstream::event(
        &mut first,
        "initial-response",
        "application/json",
        Bytes::from_static(b"{}"),
    );
    eventstream::event(
        &mut first,
        "sessionStart",
        "application/json",
        start.to_string().into(),
    );
    let now = Instant::now();
    let session = Session {
        store: logs.store.clone(),
        groups,
        names: input.log_stream_names,
        prefixes: input.log_stream_name_prefixes,
        pattern,
        limits: logs.tails.limits,
        started: now,
        last_event: now,
        _slot: slot,
    };
    let frames = futures_util::stream::unfold(
        (Some(session), Some(first.freeze())),
        |(session, pending)| async move {
            if let Some(frame) = pending {
                return Some((Ok::<_, std::convert::Infallible>(frame), (session, None)));
            }
            let mut session = session?;
            let (frame, done) = session.next_frame().await;
            Some((Ok(frame), (if done { None } else { Some(session) }, None)))
        },
    );
    Ok((
        http::StatusCode::OK,
        [(http::header::CONTENT_TYPE, eventstream::CONTENT_TYPE)],
        Body::from_stream(frames),
    )
        .into_response())
}

fn wanted(
    names: &Option<Vec<String>>,
    prefixes: &Option<Vec<String>>,
    pattern: &Pattern,
    r: &Record,
) -> bool {
    names.as_ref().is_none_or(|n| n.contains(&r.stream))
        && prefixes
            .as_ref()
            .is_none_or(|p| p.iter().any(|p| r.stream.starts_with(p.as_str())))
        && pattern.matches(&r.message)
}

impl Session {
    /// The next update after a poll, or the exception that ends the session (`true`).
    async fn next_frame(&mut self) -> (Bytes, bool) {
        tokio::time::sleep(self.limits.every).await;
        let now = Instant::now();
        if now - self.started >= self.limits.max_duration
            || now - self.last_event >= self.limits.idle
        {
            let mut out = BytesMut::new();
            let message = json!({"message": "Session timed out."}).to_string();
            eventstream::exception(&mut out, "SessionTimeoutException", message.into());
            return (out.freeze(), true);
        }
        let mut results = Vec::new();
        let mut sampled = false;
        for (id, name, cursor) in &mut self.groups {
            let records = match self.store.read_new(name, cursor).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(group = %name, error = %e, "live tail could not read");
                    continue;
                }
            };
            for r in records {
                if !wanted(&self.names, &self.prefixes, &self.pattern, &r) {
                    continue;
                }
                if results.len() == MAX_EVENTS_PER_UPDATE {
                    sampled = true;
                    continue;
                }
                results.push(json!({
                    "logStreamName": r.stream,
                    "logGroupIdentifier": id,
                    "message": r.message,
                    "timestamp": r.timestamp_ms,
                    "ingestionTime": r.ingestion_ms,
                }));
            }
        }
        if !results.is_empty() {
            self.last_event = now;
        }
        let update = json!({"sessionMetadata": {"sampled": sampled}, "sessionResults": results});
        let mut out = BytesMut::new();
        eventstream::event(
            &mut out,
            "sessionUpdate",
            "application/json",
            update.to_string().into(),
        );
        (out.freeze(), false)
    }
}
