//! Log streams: CreateLogStream, DescribeLogStreams (by name or by last event, either way round,
//! with a prefix and pages), DeleteLogStream.

use crate::groups::identifier_name;
use crate::validate;
use crate::{Logs, LogsError, tokens};
use ignis_logs::StreamInfo;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamInput {
    log_group_name: String,
    log_stream_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<i64>,
}

pub async fn create(logs: &Logs, input: StreamInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    validate::stream_name("logStreamName", &input.log_stream_name)?;
    logs.store
        .create_stream(&input.log_group_name, &input.log_stream_name)
        .await?;
    Ok(json!({}))
}

pub async fn delete(logs: &Logs, input: StreamInput) -> Result<Value, LogsError> {
    validate::group_name("logGroupName", &input.log_group_name)?;
    validate::stream_name("logStreamName", &input.log_stream_name)?;
    logs.store
        .delete_stream(&input.log_group_name, &input.log_stream_name)
        .await?;
    Ok(json!({}))
}

/// The group a request names by `logGroupName` or `logGroupIdentifier` (one of them).
pub(crate) fn group_of<'a>(
    logs: &Logs,
    name: Option<&'a str>,
    identifier: Option<&'a str>,
) -> Result<&'a str, LogsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(LogsError::Validation(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.".into(),
        )),
        (Some(name), None) => {
            validate::group_name("logGroupName", name)?;
            Ok(name)
        }
        (None, Some(id)) => Ok(identifier_name(logs, id)),
        (None, None) => Err(LogsError::InvalidParameter(
            "Should provide either name or ARN of the log group.".into(),
        )),
    }
}

/// A stream's place in an ordering: (last event time when ordered by it, name).
type Key = (i64, String);

fn key(s: &StreamInfo, by_time: bool) -> Key {
    let t = if by_time {
        s.last_event_ms.unwrap_or(0)
    } else {
        0
    };
    (t, s.name.clone())
}

pub(crate) fn shape(logs: &Logs, group: &str, s: &StreamInfo) -> Value {
    let mut v = json!({
        "logStreamName": s.name,
        "creationTime": s.creation_ms.unwrap_or(s.last_write_ms as i64),
        "arn": format!("{}:log-stream:{}", logs.group_arn(group), s.name),
        // Deprecated by AWS in 2019: always 0 for streams (the group reports its bytes).
        "storedBytes": 0,
    });
    if let (Some(first), Some(last), Some(ingested)) =
        (s.first_event_ms, s.last_event_ms, s.last_ingestion_ms)
    {
        v["firstEventTimestamp"] = json!(first);
        v["lastEventTimestamp"] = json!(last);
        v["lastIngestionTime"] = json!(ingested);
        v["uploadSequenceToken"] = json!(format!("{:056}", s.size_bytes));
    }
    v
}

pub async fn describe(logs: &Logs, input: DescribeInput) -> Result<Value, LogsError> {
    let group = group_of(
        logs,
        input.log_group_name.as_deref(),
        input.log_group_identifier.as_deref(),
    )?;
    if let Some(p) = &input.log_stream_name_prefix {
        validate::stream_name("logStreamNamePrefix", p)?;
    }
    let by_time = match input.order_by.as_deref() {
        None | Some("LogStreamName") => false,
        Some("LastEventTime") => true,
        Some(other) => {
            return Err(LogsError::InvalidParameter(format!(
                "1 validation error detected: Value '{other}' at 'orderBy' failed to satisfy \
                 constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]"
            )));
        }
    };
    if by_time && input.log_stream_name_prefix.is_some() {
        return Err(LogsError::InvalidParameter(
            "Cannot order by LastEventTime with a logStreamNamePrefix.".into(),
        ));
    }
    let limit = input.limit.unwrap_or(50);
    validate::range("limit", limit, 1, 50)?;
    let descending = input.descending.unwrap_or(false);
    let after: Option<Key> = tokens::decode_opt(input.next_token.as_deref())?;
    if logs.store.group(group).await?.is_none() {
        return Err(LogsError::no_group());
    }
    let mut streams: Vec<StreamInfo> = logs
        .store
        .list_streams(group)
        .await?
        .into_iter()
        .filter(|s| {
            input
                .log_stream_name_prefix
                .as_ref()
                .is_none_or(|p| s.name.starts_with(p.as_str()))
        })
        .collect();
    streams.sort_by_cached_key(|s| key(s, by_time));
    if descending {
        streams.reverse();
    }
    let start = match &after {
        None => 0,
        Some(after) => streams
            .iter()
            .position(|s| {
                let k = key(s, by_time);
                if descending { &k < after } else { &k > after }
            })
            .unwrap_or(streams.len()),
    };
    let end = (start + limit as usize).min(streams.len());
    let page = &streams[start..end];
    let mut out =
        json!({"logStreams": page.iter().map(|s| shape(logs, group, s)).collect::<Vec<_>>()});
    if end < streams.len()
        && let Some(last) = page.last()
    {
        out["nextToken"] = json!(tokens::encode(&key(last, by_time)));
    }
    Ok(out)
}
