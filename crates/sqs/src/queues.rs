//! Queues: CreateQueue, DeleteQueue, GetQueueUrl, ListQueues, Get/SetQueueAttributes,
//! PurgeQueue, tags and ListDeadLetterSourceQueues.

use crate::error::{Kind, SqsError};
use crate::state::{Queue, State};
use crate::{Context, Sqs, attributes};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// PurgeQueue may run once per this interval.
const PURGE_INTERVAL_MS: i64 = 60_000;
/// Tags per queue.
const MAX_TAGS: usize = 50;

pub(crate) fn string<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input.get(name).and_then(Value::as_str)
}

pub(crate) fn required<'a>(input: &'a Value, name: &str) -> Result<&'a str, SqsError> {
    string(input, name).ok_or_else(|| SqsError::missing(name))
}

pub(crate) fn map(input: &Value, name: &str) -> BTreeMap<String, String> {
    input
        .get(name)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn strings(input: &Value, name: &str) -> Vec<String> {
    input
        .get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The queue a `QueueUrl` names (`http://<host>/<account>/<name>`), when it is this account's.
pub(crate) fn queue_name(sqs: &Sqs, input: &Value) -> Result<String, SqsError> {
    let url = required(input, "QueueUrl")?;
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or_default();
    let account = segments.next().unwrap_or_default();
    if account != sqs.account || name.is_empty() {
        return Err(SqsError::no_queue());
    }
    Ok(name.to_string())
}

pub(crate) fn queue<'a>(state: &'a mut State, name: &str) -> Result<&'a mut Queue, SqsError> {
    state.queue_mut(name).ok_or_else(SqsError::no_queue)
}

fn queue_url(cx: &Context, sqs: &Sqs, name: &str) -> String {
    format!("{}/{}/{name}", cx.origin, sqs.account)
}

fn valid_name(name: &str) -> bool {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=80).contains(&name.len())
        && stem
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) async fn create(sqs: &Sqs, input: &Value, cx: &Context) -> Result<Value, SqsError> {
    let name = required(input, "QueueName")?.to_string();
    if !valid_name(&name) {
        return Err(SqsError::invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    let given = map(input, "Attributes");
    let tags = map(input, "tags");
    if tags.len() > MAX_TAGS {
        return Err(SqsError::invalid("Too many tags added for queue."));
    }
    let mut attributes = attributes::initial(&given, name.ends_with(".fifo"))?;
    attributes.insert("QueueArn".into(), sqs.arn(&name));
    sqs.change(|state, now| {
        if let Some(q) = state.queues.get(&name) {
            // The same request again is answered with the queue; different attributes are not.
            let same = given
                .iter()
                .all(|(k, v)| q.attributes.get(k).map_or(v.is_empty(), |x| x == v));
            if !same {
                return Err(SqsError::new(
                    Kind::QueueNameExists,
                    "A queue already exists with the same name and a different value for \
                     attribute(s)",
                ));
            }
            return Ok(());
        }
        let mut q = Queue::new(uuid::Uuid::new_v4().to_string(), name.clone(), now);
        q.attributes = attributes;
        q.tags = tags;
        state.queues.insert(name.clone(), q);
        state.touch_queue(&name);
        Ok(())
    })
    .await?;
    Ok(json!({"QueueUrl": queue_url(cx, sqs, &name)}))
}

pub(crate) async fn delete(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    sqs.change(|state, _| {
        queue(state, &name)?;
        state.drop_queue(&name);
        Ok(json!({}))
    })
    .await
}

pub(crate) async fn url(sqs: &Sqs, input: &Value, cx: &Context) -> Result<Value, SqsError> {
    let name = required(input, "QueueName")?;
    if string(input, "QueueOwnerAWSAccountId").is_some_and(|a| a != sqs.account) {
        return Err(SqsError::no_queue());
    }
    if !sqs.state.lock().await.queues.contains_key(name) {
        return Err(SqsError::no_queue());
    }
    Ok(json!({"QueueUrl": queue_url(cx, sqs, name)}))
}

pub(crate) async fn list(sqs: &Sqs, input: &Value, cx: &Context) -> Result<Value, SqsError> {
    let prefix = string(input, "QueueNamePrefix").unwrap_or_default();
    let max = match input.get("MaxResults").and_then(Value::as_i64) {
        None => None,
        Some(n @ 1..=1000) => Some(n as usize),
        Some(n) => {
            return Err(SqsError::invalid(format!(
                "Value {n} for parameter MaxResults is invalid. Reason: MaxResults must be an \
                 integer between 1 and 1000."
            )));
        }
    };
    let after = match string(input, "NextToken") {
        Some(t) => Some(token(t).ok_or_else(|| SqsError::invalid("Invalid NextToken value."))?),
        None => None,
    };
    let state = sqs.state.lock().await;
    let names: Vec<&String> = state
        .queues
        .keys()
        .filter(|n| n.starts_with(prefix))
        .filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str()))
        .collect();
    let take = max.unwrap_or(1000);
    let page: Vec<String> = names
        .iter()
        .take(take)
        .map(|n| queue_url(cx, sqs, n))
        .collect();
    let mut out = json!({});
    if !page.is_empty() {
        out["QueueUrls"] = json!(page);
    }
    if max.is_some() && names.len() > take {
        let last = names[take - 1];
        out["NextToken"] = json!(base64::engine::general_purpose::STANDARD.encode(last));
    }
    Ok(out)
}

fn token(t: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(t).ok()?;
    String::from_utf8(bytes).ok()
}

pub(crate) async fn get_attributes(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let asked = strings(input, "AttributeNames");
    if let Some(bad) = asked.iter().find(|a| !attributes::known(a)) {
        return Err(SqsError::new(
            Kind::InvalidAttributeName,
            format!("Unknown Attribute {bad}."),
        ));
    }
    let mut state = sqs.state.lock().await;
    let q = queue(&mut state, &name)?;
    let (visible, inflight, delayed) = q.counts(crate::now_ms());
    let mut all = q.attributes.clone();
    all.insert("ApproximateNumberOfMessages".into(), visible.to_string());
    all.insert(
        "ApproximateNumberOfMessagesNotVisible".into(),
        inflight.to_string(),
    );
    all.insert(
        "ApproximateNumberOfMessagesDelayed".into(),
        delayed.to_string(),
    );
    all.insert("CreatedTimestamp".into(), (q.created / 1000).to_string());
    all.insert(
        "LastModifiedTimestamp".into(),
        (q.modified / 1000).to_string(),
    );
    let every = asked.iter().any(|a| a == "All");
    let chosen: BTreeMap<String, String> = all
        .into_iter()
        .filter(|(k, _)| every || asked.contains(k))
        .collect();
    Ok(if chosen.is_empty() {
        json!({})
    } else {
        json!({ "Attributes": chosen })
    })
}

pub(crate) async fn set_attributes(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let given = map(input, "Attributes");
    sqs.change(|state, now| {
        let q = queue(state, &name)?;
        let fifo = q.fifo();
        attributes::apply(&mut q.attributes, &given, fifo, false)?;
        q.modified = now;
        state.touch_queue(&name);
        Ok(json!({}))
    })
    .await
}

pub(crate) async fn purge(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    sqs.change(|state, now| {
        let q = queue(state, &name)?;
        if q.last_purge.is_some_and(|t| now - t < PURGE_INTERVAL_MS) {
            return Err(SqsError::new(
                Kind::PurgeQueueInProgress,
                format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds."),
            ));
        }
        q.last_purge = Some(now);
        let seqs: Vec<u64> = q.messages.keys().copied().collect();
        let id = q.id.clone();
        for &seq in &seqs {
            q.remove(seq);
        }
        state
            .dirty
            .messages
            .extend(seqs.into_iter().map(|seq| (id.clone(), seq)));
        Ok(json!({}))
    })
    .await
}

pub(crate) async fn tag(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let tags = map(input, "Tags");
    if tags.is_empty() {
        return Err(SqsError::missing("Tags"));
    }
    sqs.change(|state, _| {
        let q = queue(state, &name)?;
        let mut next = q.tags.clone();
        next.extend(tags);
        if next.len() > MAX_TAGS {
            return Err(SqsError::invalid("Too many tags added for queue."));
        }
        q.tags = next;
        state.touch_queue(&name);
        Ok(json!({}))
    })
    .await
}

pub(crate) async fn untag(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let keys = strings(input, "TagKeys");
    sqs.change(|state, _| {
        let q = queue(state, &name)?;
        for k in &keys {
            q.tags.remove(k);
        }
        state.touch_queue(&name);
        Ok(json!({}))
    })
    .await
}

pub(crate) async fn list_tags(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let mut state = sqs.state.lock().await;
    let q = queue(&mut state, &name)?;
    Ok(if q.tags.is_empty() {
        json!({})
    } else {
        json!({"Tags": q.tags})
    })
}

pub(crate) async fn dead_letter_sources(
    sqs: &Sqs,
    input: &Value,
    cx: &Context,
) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let arn = sqs.arn(&name);
    let mut state = sqs.state.lock().await;
    queue(&mut state, &name)?;
    let sources: Vec<String> = state
        .queues
        .values()
        .filter(|q| {
            q.attributes
                .get("RedrivePolicy")
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                .is_some_and(|p| p["deadLetterTargetArn"] == arn.as_str())
        })
        .map(|q| queue_url(cx, sqs, &q.name))
        .collect();
    Ok(json!({ "queueUrls": sources }))
}
