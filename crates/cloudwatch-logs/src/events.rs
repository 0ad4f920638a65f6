//! Log events: PutLogEvents (AWS's batch rules), GetLogEvents (one stream, forward and backward
//! tokens that stop changing at either end), FilterLogEvents (a group's streams interleaved by
//! time, filtered by a pattern).

use crate::pattern::Pattern;
use crate::streams::group_of;
use crate::{Logs, LogsError, now_ms, tokens, validate};
use ignis_logs::Record;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;

/// Most bytes of messages plus [`EVENT_OVERHEAD`] per event in one batch.
pub const MAX_BATCH_BYTES: usize = 1_048_576;
/// What each event of a batch counts beside its message.
pub const EVENT_OVERHEAD: usize = 26;
/// Most events in one batch (the model's bound).
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// Largest event: 1 MB (AWS raised it from 256 KB).
pub const MAX_EVENT_BYTES: usize = 1_048_576;
/// Most bytes of messages in one answer of GetLogEvents or FilterLogEvents (AWS's 1 MB).
const MAX_RESPONSE_BYTES: usize = 1_048_576;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

#[derive(Deserialize)]
pub struct InputEvent {
    timestamp: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutInput {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputEvent>,
}

fn invalid(message: &str) -> LogsError {
    LogsError::InvalidParameter(message.into())
}

pub async fn put(logs: &Logs, input: PutInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    validate::stream_name("logStreamName", &input.log_stream_name)?;
    let events = input.log_events;
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        let bound = if events.is_empty() {
            "greater than or equal to 1"
        } else {
            "less than or equal to 10000"
        };
        return Err(LogsError::InvalidParameter(format!(
            "1 validation error detected: Value at 'logEvents' failed to satisfy constraint: \
             Member must have length {bound}"
        )));
    }
    let mut size = 0;
    for (i, e) in events.iter().enumerate() {
        if e.message.is_empty() {
            return Err(LogsError::InvalidParameter(format!(
                "1 validation error detected: Value '' at 'logEvents.{}.member.message' failed \
                 to satisfy constraint: Member must have length greater than or equal to 1",
                i + 1
            )));
        }
        validate::range(
            &format!("logEvents.{}.member.timestamp", i + 1),
            e.timestamp,
            0,
            i64::MAX,
        )?;
        if e.message.len() > MAX_EVENT_BYTES {
            return Err(LogsError::InvalidParameter(format!(
                "Log event too large: {} bytes exceeds limit of {MAX_EVENT_BYTES}",
                e.message.len()
            )));
        }
        size += e.message.len() + EVENT_OVERHEAD;
    }
    if size > MAX_BATCH_BYTES {
        return Err(LogsError::InvalidParameter(format!(
            "Upper limit for a batch of log events is {MAX_BATCH_BYTES} bytes (each event's \
             message in UTF-8 plus {EVENT_OVERHEAD} bytes); this batch is {size} bytes."
        )));
    }
    if events.windows(2).any(|w| w[1].timestamp < w[0].timestamp) {
        return Err(invalid(
            "Log events in a single PutLogEvents request must be in chronological order.",
        ));
    }
    let group = crate::groups::group(logs, &input.log_group_name).await?;
    let now = now_ms();
    let too_new = events.iter().position(|e| e.timestamp > now + 2 * HOUR_MS);
    let too_old = events.iter().rposition(|e| e.timestamp < now - 14 * DAY_MS);
    let expired = group.meta.retention_days.and_then(|days| {
        let cutoff = now - i64::from(days) * DAY_MS;
        events.iter().rposition(|e| e.timestamp < cutoff)
    });
    let first_valid = too_old.max(expired).map_or(0, |i| i + 1);
    let end_valid = too_new.unwrap_or(events.len()).max(first_valid);
    let valid = &events[first_valid..end_valid];
    if let (Some(a), Some(b)) = (valid.first(), valid.last())
        && b.timestamp - a.timestamp > DAY_MS
    {
        return Err(invalid(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
        ));
    }
    let accepted: Vec<(i64, String)> = events
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (first_valid..end_valid).contains(i))
        .map(|(_, e)| (e.timestamp, e.message))
        .collect();
    let count = accepted.len();
    if count > 0 {
        logs.store
            .put(&input.log_group_name, &input.log_stream_name, accepted)
            .await?;
    } else if logs
        .store
        .read_stream(&input.log_group_name, &input.log_stream_name)
        .await?
        .is_none()
    {
        return Err(LogsError::no_stream());
    }
    let mut out =
        json!({ "nextSequenceToken": format!("{:056}", now as u64 * 10_000 + count as u64) });
    let mut rejected = serde_json::Map::new();
    if let Some(i) = too_new {
        rejected.insert("tooNewLogEventStartIndex".into(), json!(i));
    }
    if let Some(i) = too_old {
        rejected.insert("tooOldLogEventEndIndex".into(), json!(i));
    }
    if let Some(i) = expired {
        rejected.insert("expiredLogEventEndIndex".into(), json!(i));
    }
    if !rejected.is_empty() {
        out["rejectedLogEventsInfo"] = Value::Object(rejected);
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    next_token: Option<String>,
    limit: Option<i64>,
    start_from_head: Option<bool>,
}

/// A place between two events of a stream ordered by (timestamp, ordinal among events of that
/// timestamp): the events at or after `Pos` follow it.
type Pos = (i64, u64);

fn parse_token(token: &str) -> Result<(bool, Pos), LogsError> {
    let (forward, rest) = match token.split_at_checked(2) {
        Some(("f/", rest)) => (true, rest),
        Some(("b/", rest)) => (false, rest),
        _ => return Err(LogsError::bad_token()),
    };
    let (ts, ord) = rest.split_once('/').ok_or_else(LogsError::bad_token)?;
    let ts = ts.parse().map_err(|_| LogsError::bad_token())?;
    let ord = ord.parse().map_err(|_| LogsError::bad_token())?;
    Ok((forward, (ts, ord)))
}

fn token(forward: bool, (ts, ord): Pos) -> String {
    format!("{}/{ts:020}/{ord:010}", if forward { "f" } else { "b" })
}

/// The stream's events in order, each with its position.
fn ordered(mut records: Vec<Record>) -> Vec<(Pos, Record)> {
    records.sort_by_key(|r| r.timestamp_ms); // stable: same-time events keep their file order
    let mut out: Vec<(Pos, Record)> = Vec::with_capacity(records.len());
    for r in records {
        let ord = match out.last() {
            Some(((ts, ord), _)) if *ts == r.timestamp_ms => ord + 1,
            _ => 0,
        };
        out.push(((r.timestamp_ms, ord), r));
    }
    out
}

pub async fn get(logs: &Logs, input: GetInput) -> Result<Value, LogsError> {
    let group = group_of(
        logs,
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    validate::stream_name("logStreamName", &input.log_stream_name)?;
    validate::timestamp("startTime", input.start_time)?;
    validate::timestamp("endTime", input.end_time)?;
    let limit = input.limit.unwrap_or(10_000);
    validate::range("limit", limit, 1, 10_000)?;
    let (forward, at) = match input.next_token.as_deref() {
        Some(t) => parse_token(t)?,
        None if input.start_from_head == Some(true) => (true, (i64::MIN, 0)),
        None => (false, (i64::MAX, 0)),
    };
    if logs.store.group(group).await?.is_none() {
        return Err(LogsError::no_group());
    }
    let records = logs
        .store
        .read_stream(group, &input.log_stream_name)
        .await?
        .ok_or_else(LogsError::no_stream)?;
    let events: Vec<(Pos, Record)> = ordered(records)
        .into_iter()
        .filter(|(_, r)| {
            input.start_time.is_none_or(|s| r.timestamp_ms >= s)
                && input.end_time.is_none_or(|e| r.timestamp_ms < e)
        })
        .collect();
    let split = events.partition_point(|(p, _)| *p < at);
    let mut taken = 0;
    let mut bytes = 0;
    let page = if forward {
        let rest = &events[split..];
        for (_, r) in rest {
            if taken == limit as usize
                || (taken > 0 && bytes + r.message.len() > MAX_RESPONSE_BYTES)
            {
                break;
            }
            taken += 1;
            bytes += r.message.len();
        }
        &rest[..taken]
    } else {
        let before = &events[..split];
        for (_, r) in before.iter().rev() {
            if taken == limit as usize
                || (taken > 0 && bytes + r.message.len() > MAX_RESPONSE_BYTES)
            {
                break;
            }
            taken += 1;
            bytes += r.message.len();
        }
        &before[split - taken..]
    };
    let next_forward = page.last().map_or(at, |((ts, ord), _)| (*ts, ord + 1));
    let next_backward = page.first().map_or(at, |(p, _)| *p);
    let shaped: Vec<Value> = page
        .iter()
        .map(|(_, r)| {
            json!({"timestamp": r.timestamp_ms, "message": r.message, "ingestionTime": r.ingestion_ms})
        })
        .collect();
    Ok(json!({
        "events": shaped,
        "nextForwardToken": token(true, next_forward),
        "nextBackwardToken": token(false, next_backward),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_names: Option<Vec<String>>,
    log_stream_name_prefix: Option<String>,
    start_time: Option<i64>,
    end_time: Option<i64>,
    filter_pattern: Option<String>,
    next_token: Option<String>,
    limit: Option<i64>,
}

/// An event's place in a group: (timestamp, stream, ordinal among that stream's events of that
/// timestamp).
type GroupPos = (i64, String, u64);

/// A number unique to one event of a group (56 digits, as AWS's event ids are).
fn event_id((ts, stream, ord): &GroupPos) -> String {
    let digest = sha2::Sha256::digest(stream.as_bytes());
    let h = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 10u64.pow(16);
    format!("{:020}{h:016}{ord:020}", ts.max(&0))
}

/// The group's events in order, with their places, as FilterLogEvents and live tails see them.
pub(crate) fn interleaved(mut records: Vec<Record>) -> Vec<(GroupPos, Record)> {
    records.sort_by(|a, b| (a.timestamp_ms, &a.stream).cmp(&(b.timestamp_ms, &b.stream)));
    let mut out: Vec<(GroupPos, Record)> = Vec::with_capacity(records.len());
    for r in records {
        let ord = match out.last() {
            Some(((ts, s, ord), _)) if *ts == r.timestamp_ms && *s == r.stream => ord + 1,
            _ => 0,
        };
        out.push(((r.timestamp_ms, r.stream.clone(), ord), r));
    }
    out
}

pub async fn filter(logs: &Logs, input: FilterInput) -> Result<Value, LogsError> {
    let group = group_of(
        logs,
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
        return Err(invalid(
            "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
        ));
    }
    if let Some(names) = &input.log_stream_names {
        validate::range("logStreamNames", names.len() as i64, 1, 100)?;
    }
    validate::timestamp("startTime", input.start_time)?;
    validate::timestamp("endTime", input.end_time)?;
    let limit = input.limit.unwrap_or(10_000);
    validate::range("limit", limit, 1, 10_000)?;
    let pattern = Pattern::parse(input.filter_pattern.as_deref().unwrap_or(""))?;
    let after: Option<GroupPos> = tokens::decode_opt(input.next_token.as_deref())?;
    if logs.store.group(group).await?.is_none() {
        return Err(LogsError::no_group());
    }
    let records = logs.store.read(group, None, input.start_time).await?;
    let mut page = Vec::new();
    let mut bytes = 0;
    let mut more = false;
    for (pos, r) in interleaved(records) {
        let wanted = input.end_time.is_none_or(|e| r.timestamp_ms <= e)
            && after.as_ref().is_none_or(|a| &pos > a)
            && input
                .log_stream_names
                .as_ref()
                .is_none_or(|n| n.contains(&r.stream))
            && input
                .log_stream_name_prefix
                .as_ref()
                .is_none_or(|p| r.stream.starts_with(p.as_str()))
            && pattern.matches(&r.message);
        if !wanted {
            continue;
        }
        if page.len() == limit as usize
            || (!page.is_empty() && bytes + r.message.len() > MAX_RESPONSE_BYTES)
        {
            more = true;
            break;
        }
        bytes += r.message.len();
        page.push((pos, r));
    }
    let shaped: Vec<Value> = page
        .iter()
        .map(|(pos, r)| {
            json!({
                "logStreamName": r.stream,
                "timestamp": r.timestamp_ms,
                "message": r.message,
                "ingestionTime": r.ingestion_ms,
                "eventId": event_id(pos),
            })
        })
        .collect();
    let mut out = json!({"events": shaped, "searchedLogStreams": []});
    if more && let Some((pos, _)) = page.last() {
        out["nextToken"] = json!(tokens::encode(pos));
    }
    Ok(out)
}
