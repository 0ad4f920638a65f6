//! Messages: SendMessage(Batch), ReceiveMessage with long polling, DeleteMessage(Batch),
//! ChangeMessageVisibility(Batch).

use crate::error::{Kind, SqsError};
use crate::queues::{queue, queue_name, required, string, strings};
use crate::state::{AttributeValue, DEDUP_INTERVAL_MS, Dedup, Message, State, SystemFields};
use crate::{Context, Sqs, md5};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Entries in one batch request.
const MAX_BATCH: usize = 10;
/// The longest long poll.
const MAX_WAIT_SECONDS: i64 = 20;
const MAX_VISIBILITY_SECONDS: i64 = 43_200;
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A message checked and ready to enqueue, and what SQS answers its sender with.
struct Outgoing {
    body: String,
    attributes: BTreeMap<String, AttributeValue>,
    delay: Option<i64>,
    group: Option<String>,
    dedup: Option<String>,
    trace: Option<String>,
}

fn parse_entry(entry: &Value) -> Result<Outgoing, SqsError> {
    let body = required(entry, "MessageBody")?.to_string();
    let mut attributes = BTreeMap::new();
    if let Some(map) = entry.get("MessageAttributes").and_then(Value::as_object) {
        if map.len() > 10 {
            return Err(SqsError::invalid(
                "Number of message attributes [11] exceeds the allowed maximum [10].",
            ));
        }
        for (name, v) in map {
            attributes.insert(name.clone(), parse_attribute(name, v)?);
        }
    }
    let delay = entry.get("DelaySeconds").and_then(Value::as_i64);
    if delay.is_some_and(|d| !(0..=900).contains(&d)) {
        return Err(SqsError::invalid(
            "Value for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and \
             <= 900.",
        ));
    }
    let trace = entry
        .get("MessageSystemAttributes")
        .and_then(|m| m.get("AWSTraceHeader"))
        .and_then(|v| v.get("StringValue"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(Outgoing {
        body,
        attributes,
        delay,
        group: string(entry, "MessageGroupId").map(str::to_string),
        dedup: string(entry, "MessageDeduplicationId").map(str::to_string),
        trace,
    })
}

fn parse_attribute(name: &str, v: &Value) -> Result<AttributeValue, SqsError> {
    let data_type = v.get("DataType").and_then(Value::as_str).ok_or_else(|| {
        SqsError::invalid(format!(
            "The message attribute '{name}' must contain non-empty message attribute type."
        ))
    })?;
    let string = v.get("StringValue").and_then(Value::as_str);
    let binary = v.get("BinaryValue").and_then(Value::as_str);
    let bad = |why: &str| {
        SqsError::invalid(format!(
            "The message attribute '{name}' with type '{data_type}' {why}."
        ))
    };
    if name.is_empty()
        || name.len() > 256
        || name.starts_with('.')
        || name.ends_with('.')
        || name.contains("..")
        || name.to_ascii_lowercase().starts_with("aws.")
        || name.to_ascii_lowercase().starts_with("amazon.")
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(SqsError::invalid(format!(
            "Message attribute name '{name}' is invalid."
        )));
    }
    let base = data_type.split('.').next().unwrap_or_default();
    match (base, string, binary) {
        ("String" | "Number", Some(s), None) => {
            if base == "Number" && s.parse::<f64>().is_err() {
                return Err(bad("must contain a valid number"));
            }
            Ok(AttributeValue {
                data_type: data_type.to_string(),
                string: Some(s.to_string()),
                binary: None,
            })
        }
        ("Binary", None, Some(b)) => Ok(AttributeValue {
            data_type: data_type.to_string(),
            string: None,
            binary: Some(
                B64.decode(b)
                    .map_err(|_| bad("has an invalid binary value"))?,
            ),
        }),
        ("String" | "Number" | "Binary", ..) => Err(bad("must use the field of its type")),
        _ => Err(bad("has an invalid type")),
    }
}

/// Bytes a message counts against MaximumMessageSize: its body and its attributes' names,
/// types and values.
fn size(m: &Outgoing) -> usize {
    m.body.len()
        + m.attributes
            .iter()
            .map(|(k, v)| {
                k.len()
                    + v.data_type.len()
                    + v.string.as_ref().map_or(0, String::len)
                    + v.binary.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

/// The characters a body may hold (XML's).
fn valid_text(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    })
}

/// Enqueues one message (or answers with the one its deduplication id names).
fn enqueue(
    state: &mut State,
    name: &str,
    m: Outgoing,
    sender: &str,
    now: i64,
) -> Result<Value, SqsError> {
    let q = queue(state, name)?;
    if size(&m) > q.number("MaximumMessageSize") as usize {
        return Err(SqsError::invalid(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
            q.number("MaximumMessageSize")
        )));
    }
    if m.body.is_empty() || !valid_text(&m.body) {
        return Err(SqsError::new(
            Kind::InvalidMessageContents,
            "Invalid characters found. Deleted message body must be non-empty and contain only \
             XML-valid characters.",
        ));
    }
    let mut out = json!({
        "MD5OfMessageBody": md5::of_body(&m.body),
    });
    if let Some(d) = md5::of_attributes(&m.attributes) {
        out["MD5OfMessageAttributes"] = json!(d);
    }
    if let Some(t) = &m.trace {
        let mut system = BTreeMap::new();
        system.insert(
            "AWSTraceHeader".to_string(),
            AttributeValue {
                data_type: "String".into(),
                string: Some(t.clone()),
                binary: None,
            },
        );
        out["MD5OfMessageSystemAttributes"] = json!(md5::of_attributes(&system));
    }
    let fifo = q.fifo();
    let mut dedup = None;
    if fifo {
        let Some(group) = &m.group else {
            return Err(SqsError::missing("MessageGroupId"));
        };
        if m.delay.is_some_and(|d| d > 0) {
            return Err(SqsError::invalid(
                "Value for parameter DelaySeconds is invalid. Reason: The request include \
                 parameter that is not valid for this queue type.",
            ));
        }
        let id = match (&m.dedup, q.attributes.get("ContentBasedDeduplication")) {
            (Some(id), _) => id.clone(),
            (None, Some(v)) if v == "true" => {
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(m.body.as_bytes()))
            }
            _ => {
                return Err(SqsError::invalid(
                    "The queue should either have ContentBasedDeduplication enabled or \
                     MessageDeduplicationId provided explicitly",
                ));
            }
        };
        let key = match q.attributes.get("DeduplicationScope").map(String::as_str) {
            Some("messageGroup") => format!("{group}\u{0}{id}"),
            _ => id.clone(),
        };
        if let Some(seen) = q.dedup.get(&key).filter(|d| d.expires > now) {
            out["MessageId"] = json!(seen.message_id);
            out["SequenceNumber"] = json!(format!("{:020}", seen.seq));
            return Ok(out);
        }
        dedup = Some((key, id));
    } else if m.dedup.is_some() {
        return Err(SqsError::invalid(
            "The request includes a parameter that is not valid for this queue type: \
             MessageDeduplicationId",
        ));
    }
    let delay = m.delay.unwrap_or_else(|| q.number("DelaySeconds"));
    let queue_id = q.id.clone();
    let message_id = uuid::Uuid::new_v4().to_string();
    let message = Message {
        id: message_id.clone(),
        seq: 0,
        body: m.body,
        attributes: m.attributes,
        system: SystemFields {
            group: m.group,
            dedup: dedup.as_ref().map(|(_, id)| id.clone()),
            sender: sender.to_string(),
            trace: m.trace,
            dead_letter_source: None,
        },
        sent: now,
        visible_at: now + delay * 1000,
        receive_count: 0,
        first_receive: None,
        receipt: 0,
    };
    let seq = state.push(name, message, now);
    if let Some((key, _)) = dedup {
        let q = queue(state, name)?;
        q.dedup.insert(
            key.clone(),
            Dedup {
                message_id: message_id.clone(),
                seq,
                expires: now + DEDUP_INTERVAL_MS,
            },
        );
        state.dirty.dedup.insert((queue_id, key));
        out["SequenceNumber"] = json!(format!("{seq:020}"));
    }
    out["MessageId"] = json!(message_id);
    Ok(out)
}

pub(crate) async fn send(sqs: &Sqs, input: &Value, cx: &Context) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let m = parse_entry(input)?;
    sqs.change(|state, now| enqueue(state, &name, m, &cx.sender, now))
        .await
}

/// The entries of a batch request, checked as a whole (count, distinct valid ids).
fn batch_entries<'a>(input: &'a Value, member: &str) -> Result<&'a [Value], SqsError> {
    let entries = input
        .get(member)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if entries.is_empty() {
        return Err(SqsError::new(
            Kind::EmptyBatchRequest,
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ));
    }
    if entries.len() > MAX_BATCH {
        return Err(SqsError::new(
            Kind::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                entries.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    for e in entries {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or_default();
        if id.is_empty()
            || id.len() > 80
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SqsError::new(
                Kind::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and \
                 underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                Kind::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
    }
    Ok(entries)
}

fn failure(id: &str, e: &SqsError) -> Value {
    json!({"Id": id, "SenderFault": e.sender_fault(), "Code": e.code(), "Message": e.message})
}

pub(crate) async fn send_batch(sqs: &Sqs, input: &Value, cx: &Context) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let entries = batch_entries(input, "Entries")?;
    let parsed: Vec<(String, Result<Outgoing, SqsError>)> = entries
        .iter()
        .map(|e| {
            (
                e["Id"].as_str().unwrap_or_default().to_string(),
                parse_entry(e),
            )
        })
        .collect();
    let total: usize = parsed
        .iter()
        .filter_map(|(_, m)| m.as_ref().ok().map(size))
        .sum();
    if total > crate::attributes::MAX_MESSAGE_BYTES as usize {
        return Err(SqsError::new(
            Kind::BatchRequestTooLong,
            format!(
                "Batch requests cannot be longer than 262144 bytes. You have sent {total} bytes."
            ),
        ));
    }
    sqs.change(|state, now| {
        queue(state, &name)?;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for (id, m) in parsed {
            match m.and_then(|m| enqueue(state, &name, m, &cx.sender, now)) {
                Ok(mut v) => {
                    v["Id"] = json!(id);
                    ok.push(v);
                }
                Err(e) => failed.push(failure(&id, &e)),
            }
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    })
    .await
}

fn bounded(input: &Value, name: &str, min: i64, max: i64) -> Result<Option<i64>, SqsError> {
    match input.get(name).and_then(Value::as_i64) {
        Some(v) if !(min..=max).contains(&v) => Err(SqsError::invalid(format!(
            "Value {v} for parameter {name} is invalid. Reason: Must be between {min} and {max}, \
             if provided."
        ))),
        v => Ok(v),
    }
}

pub(crate) async fn receive(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let max = bounded(input, "MaxNumberOfMessages", 1, 10)?.unwrap_or(1) as usize;
    let wait = bounded(input, "WaitTimeSeconds", 0, MAX_WAIT_SECONDS)?;
    let visibility = bounded(input, "VisibilityTimeout", 0, MAX_VISIBILITY_SECONDS)?;
    let mut system = strings(input, "AttributeNames");
    system.extend(strings(input, "MessageSystemAttributeNames"));
    let wanted = strings(input, "MessageAttributeNames");
    let (deadline, signal) = {
        let mut state = sqs.state.lock().await;
        let q = queue(&mut state, &name)?;
        let wait = wait.unwrap_or_else(|| q.number("ReceiveMessageWaitTimeSeconds"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
        (deadline, q.signal.clone())
    };
    loop {
        // Listening before looking: a send committed while this receive's own (empty) change
        // waits for its transaction still wakes it.
        let notified = signal.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (messages, next) = sqs
            .change(|state, now| {
                let q = queue(state, &name)?;
                let limit = if q.fifo() {
                    sqs.limits.inflight_fifo
                } else {
                    sqs.limits.inflight_standard
                };
                q.settle(now);
                if q.inflight.len() + max.min(1) > limit {
                    return Err(SqsError::new(
                        Kind::OverLimit,
                        format!("Too many messages in flight (at most {limit})."),
                    ));
                }
                let room = max.min(limit - q.inflight.len());
                let visibility = visibility.unwrap_or_else(|| q.number("VisibilityTimeout"));
                let queue_id = q.id.clone();
                let taken = state.receive(&name, room, visibility, now);
                let next = state
                    .queues
                    .get(&name)
                    .and_then(|q| q.next_visible(now))
                    .map(|t| t - now);
                let out: Vec<Value> = taken
                    .iter()
                    .map(|m| render(&queue_id, m, &system, &wanted))
                    .collect();
                Ok((out, next))
            })
            .await?;
        let now = tokio::time::Instant::now();
        if !messages.is_empty() || now >= deadline {
            return Ok(if messages.is_empty() {
                json!({})
            } else {
                json!({ "Messages": messages })
            });
        }
        // Wait outside the lock, for a send, the next message to become visible, or the end.
        if signal.waiters.fetch_add(1, Ordering::SeqCst) >= sqs.limits.waiters_per_queue {
            signal.waiters.fetch_sub(1, Ordering::SeqCst);
            return Err(SqsError::new(
                Kind::OverLimit,
                format!(
                    "Too many long polls are waiting on this queue (at most {}).",
                    sqs.limits.waiters_per_queue
                ),
            ));
        }
        let until = next.map_or(deadline, |ms| {
            deadline.min(now + Duration::from_millis(ms.max(1) as u64))
        });
        let _ = tokio::time::timeout_at(until, notified).await;
        signal.waiters.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A received message as ReceiveMessage answers it, with the attributes asked for.
fn render(queue_id: &str, m: &Message, system: &[String], wanted: &[String]) -> Value {
    let handle = B64.encode(format!("{queue_id}:{}:{}:{}", m.id, m.seq, m.receipt));
    let mut out = json!({
        "MessageId": m.id,
        "ReceiptHandle": handle,
        "MD5OfBody": md5::of_body(&m.body),
        "Body": m.body,
    });
    let all = system.iter().any(|s| s == "All");
    let want = |n: &str| all || system.iter().any(|s| s == n);
    let mut attrs = serde_json::Map::new();
    let mut put = |n: &str, v: Option<String>| {
        if want(n)
            && let Some(v) = v
        {
            attrs.insert(n.to_string(), json!(v));
        }
    };
    put("SenderId", Some(m.system.sender.clone()));
    put("SentTimestamp", Some(m.sent.to_string()));
    put("ApproximateReceiveCount", Some(m.receive_count.to_string()));
    put(
        "ApproximateFirstReceiveTimestamp",
        m.first_receive.map(|t| t.to_string()),
    );
    put("MessageGroupId", m.system.group.clone());
    put("MessageDeduplicationId", m.system.dedup.clone());
    if m.system.dedup.is_some() {
        put("SequenceNumber", Some(format!("{:020}", m.seq)));
    }
    put("AWSTraceHeader", m.system.trace.clone());
    put(
        "DeadLetterQueueSourceArn",
        m.system.dead_letter_source.clone(),
    );
    if !attrs.is_empty() {
        out["Attributes"] = Value::Object(attrs);
    }
    let chosen: BTreeMap<String, AttributeValue> = m
        .attributes
        .iter()
        .filter(|(k, _)| {
            wanted.iter().any(|w| {
                w == "All"
                    || w == ".*"
                    || w == *k
                    || w.strip_suffix(".*").is_some_and(|p| k.starts_with(p))
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(d) = md5::of_attributes(&chosen) {
        out["MD5OfMessageAttributes"] = json!(d);
        let map: serde_json::Map<String, Value> = chosen
            .iter()
            .map(|(k, v)| {
                let mut a = json!({"DataType": v.data_type});
                if let Some(s) = &v.string {
                    a["StringValue"] = json!(s);
                }
                if let Some(b) = &v.binary {
                    a["BinaryValue"] = json!(B64.encode(b));
                }
                (k.clone(), a)
            })
            .collect();
        out["MessageAttributes"] = Value::Object(map);
    }
    out
}

/// A receipt handle's queue id, message seq and nonce.
fn parse_handle(handle: &str) -> Option<(String, u64, i64)> {
    let text = String::from_utf8(B64.decode(handle).ok()?).ok()?;
    let mut parts = text.split(':');
    let queue = parts.next()?.to_string();
    let _id = parts.next()?;
    let seq = parts.next()?.parse().ok()?;
    let nonce = parts.next()?.parse().ok()?;
    Some((queue, seq, nonce))
}

fn invalid_handle(handle: &str) -> SqsError {
    SqsError::new(
        Kind::ReceiptHandleIsInvalid,
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}

fn delete_one(state: &mut State, name: &str, handle: &str) -> Result<(), SqsError> {
    let q = queue(state, name)?;
    let (queue_id, seq, _) = parse_handle(handle).ok_or_else(|| invalid_handle(handle))?;
    if queue_id != q.id {
        return Err(invalid_handle(handle));
    }
    // A message already deleted is deleted: the call succeeds.
    state.delete(name, seq);
    Ok(())
}

fn change_one(
    state: &mut State,
    name: &str,
    handle: &str,
    timeout: Option<i64>,
    now: i64,
) -> Result<(), SqsError> {
    let timeout = match timeout {
        Some(t @ 0..=MAX_VISIBILITY_SECONDS) => t,
        Some(t) => {
            return Err(SqsError::invalid(format!(
                "Value {t} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 \
                 and 43200."
            )));
        }
        None => return Err(SqsError::missing("VisibilityTimeout")),
    };
    let q = queue(state, name)?;
    let (queue_id, seq, nonce) = parse_handle(handle).ok_or_else(|| invalid_handle(handle))?;
    if queue_id != q.id {
        return Err(invalid_handle(handle));
    }
    match q.messages.get(&seq) {
        Some(m) if m.in_flight(now) && m.receipt == nonce => {}
        Some(m) if m.receipt == nonce => {
            return Err(SqsError::new(
                Kind::MessageNotInflight,
                "The message referred to isn't in flight.",
            ));
        }
        _ => return Err(invalid_handle(handle)),
    }
    q.set_visible_at(seq, now + timeout * 1000, now);
    let id = q.id.clone();
    state.touch_message(&id, seq);
    Ok(())
}

pub(crate) async fn delete(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let handle = required(input, "ReceiptHandle")?.to_string();
    sqs.change(|state, _| delete_one(state, &name, &handle).map(|()| json!({})))
        .await
}

pub(crate) async fn delete_batch(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let entries = batch_entries(input, "Entries")?;
    sqs.change(|state, _| {
        queue(state, &name)?;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for e in entries {
            let id = e["Id"].as_str().unwrap_or_default();
            let handle = string(e, "ReceiptHandle").unwrap_or_default();
            match delete_one(state, &name, handle) {
                Ok(()) => ok.push(json!({"Id": id})),
                Err(err) => failed.push(failure(id, &err)),
            }
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    })
    .await
}

pub(crate) async fn change_visibility(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let handle = required(input, "ReceiptHandle")?.to_string();
    let timeout = input.get("VisibilityTimeout").and_then(Value::as_i64);
    sqs.change(|state, now| change_one(state, &name, &handle, timeout, now).map(|()| json!({})))
        .await
}

pub(crate) async fn change_visibility_batch(sqs: &Sqs, input: &Value) -> Result<Value, SqsError> {
    let name = queue_name(sqs, input)?;
    let entries = batch_entries(input, "Entries")?;
    sqs.change(|state, now| {
        queue(state, &name)?;
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for e in entries {
            let id = e["Id"].as_str().unwrap_or_default();
            let handle = string(e, "ReceiptHandle").unwrap_or_default();
            let timeout = e.get("VisibilityTimeout").and_then(Value::as_i64);
            match change_one(state, &name, handle, timeout, now) {
                Ok(()) => ok.push(json!({"Id": id})),
                Err(err) => failed.push(failure(id, &err)),
            }
        }
        Ok(json!({"Successful": ok, "Failed": failed}))
    })
    .await
}

impl Sqs {
    /// Sends one message from inside the node (a Lambda destination or dead-letter queue) to
    /// the queue `queue_arn` names, through SendMessage's own checks and durable commit; its
    /// message id. `attributes` are `(name, DataType, string value)`; `sender` is the SenderId.
    pub async fn send_internal(
        &self,
        queue_arn: &str,
        body: &str,
        attributes: &[(String, String, String)],
        sender: &str,
    ) -> Result<String, SqsError> {
        let prefix = format!("arn:aws:sqs:{}:{}:", self.region, self.account);
        let name = queue_arn
            .strip_prefix(&prefix)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                SqsError::new(
                    Kind::QueueDoesNotExist,
                    "The specified queue does not exist.",
                )
            })?
            .to_string();
        let attributes: serde_json::Map<String, Value> = attributes
            .iter()
            .map(|(n, t, v)| (n.clone(), json!({"DataType": t, "StringValue": v})))
            .collect();
        let mut input = json!({"MessageBody": body});
        if !attributes.is_empty() {
            input["MessageAttributes"] = Value::Object(attributes);
        }
        let m = parse_entry(&input)?;
        let out = self
            .change(|state, now| enqueue(state, &name, m, sender, now))
            .await?;
        Ok(out["MessageId"].as_str().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Queue;

    fn fifo(content_based: bool) -> State {
        let mut s = State::default();
        let mut q = Queue::new("id".into(), "q.fifo".into(), 0);
        q.attributes = crate::attributes::initial(
            &[("FifoQueue".to_string(), "true".to_string())].into(),
            true,
        )
        .unwrap();
        if content_based {
            q.attributes
                .insert("ContentBasedDeduplication".into(), "true".into());
        }
        s.queues.insert("q.fifo".into(), q);
        s
    }

    fn outgoing(body: &str, dedup: Option<&str>) -> Outgoing {
        Outgoing {
            body: body.into(),
            attributes: BTreeMap::new(),
            delay: None,
            group: Some("g".into()),
            dedup: dedup.map(str::to_string),
            trace: None,
        }
    }

    #[test]
    fn a_deduplication_id_is_remembered_for_five_minutes() {
        let mut s = fifo(false);
        let first = enqueue(&mut s, "q.fifo", outgoing("a", Some("d")), "k", 0).unwrap();
        let again = enqueue(&mut s, "q.fifo", outgoing("b", Some("d")), "k", 1_000).unwrap();
        assert_eq!(first["MessageId"], again["MessageId"]);
        assert_eq!(first["SequenceNumber"], again["SequenceNumber"]);
        assert_eq!(s.queues["q.fifo"].messages.len(), 1);
        // After the interval the same id is a new message.
        s.queue_mut("q.fifo")
            .unwrap()
            .expire_dedup(DEDUP_INTERVAL_MS + 1);
        let later = enqueue(
            &mut s,
            "q.fifo",
            outgoing("c", Some("d")),
            "k",
            DEDUP_INTERVAL_MS + 1,
        );
        assert_ne!(later.unwrap()["MessageId"], first["MessageId"]);
        assert_eq!(s.queues["q.fifo"].messages.len(), 2);
    }

    #[test]
    fn content_based_deduplication_hashes_the_body() {
        let mut s = fifo(true);
        let a = enqueue(&mut s, "q.fifo", outgoing("same", None), "k", 0).unwrap();
        let b = enqueue(&mut s, "q.fifo", outgoing("same", None), "k", 1).unwrap();
        let c = enqueue(&mut s, "q.fifo", outgoing("other", None), "k", 2).unwrap();
        assert_eq!(a["MessageId"], b["MessageId"]);
        assert_ne!(a["MessageId"], c["MessageId"]);
        let mut plain = fifo(false);
        let e = enqueue(&mut plain, "q.fifo", outgoing("x", None), "k", 0).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidParameterValue);
    }

    #[test]
    fn retention_expires_messages() {
        let mut s = fifo(false);
        enqueue(&mut s, "q.fifo", outgoing("a", Some("d")), "k", 0).unwrap();
        let q = s.queue_mut("q.fifo").unwrap();
        assert!(q.expired(345_599_000).is_empty());
        assert_eq!(q.expired(345_600_000).len(), 1);
    }
}
