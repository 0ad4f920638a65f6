//! Where an asynchronous invocation's outcome goes: the invocation record Lambda sends to the
//! `OnSuccess` or `OnFailure` destination of its `EventInvokeConfig` (an SQS queue, or another
//! function invoked asynchronously through the same engine), and the event itself sent to the
//! function's dead-letter queue (`DeadLetterConfig`) when it failed.
//!
//! The engine does not know SQS: queues are reached through [`QueueSink`], which the server
//! implements. Each delivery acts with the function's execution role, as on Lambda: the role's
//! policies must allow `sqs:SendMessage` on the queue or `lambda:InvokeFunction` on the
//! destination function ([`RoleAuthority`], which the server implements with its identity).
//! A delivery that fails (no such queue or function, a full queue) is tried again
//! [`DELIVERY_ATTEMPTS`] times with growing back-off, then counted
//! (`DestinationDeliveryFailures`, `DeadLetterErrors`) and logged as a warning: never lost
//! without a trace. Delivery is at least once (after a crash between delivery and the queue's
//! acknowledgement the event runs, and is delivered, again), as on Lambda.

use crate::{Engine, Mode, Request};
use ignis_metrics::lambda::{Event, Invoked};
use ignis_model::FunctionRef;
use ignis_model::invoke_config::Destination;
use ignis_model::trace::Trigger;
use ignis_store::AsyncEvent;
use serde_json::{Value, json};
use std::time::Duration;

/// How often a delivery is tried before it is given up.
pub const DELIVERY_ATTEMPTS: u32 = 3;

/// One SQS message attribute: name, `DataType` (`String`, `Number`) and string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub data_type: &'static str,
    pub value: String,
}

/// What an execution role may do (implemented with `ignis-identity` by the server).
pub trait RoleAuthority: Send + Sync {
    /// `Ok` when the role `role_arn` names may take `action` on `resource`, else why not.
    fn role_may(&self, role_arn: &str, action: &str, resource: &str) -> Result<(), String>;
}

/// Sends messages to the node's queues (implemented with `ignis-sqs` by the server).
#[async_trait::async_trait]
pub trait QueueSink: Send + Sync {
    /// Sends one message to the queue `queue_arn` names, durably; its message id, or why not.
    async fn send(
        &self,
        queue_arn: &str,
        body: String,
        attributes: Vec<Attribute>,
    ) -> Result<String, String>;
}

/// `requestContext.condition`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

/// What the last attempt answered.
#[derive(Debug, Clone)]
pub struct Response {
    pub executed_version: String,
    pub function_error: Option<String>,
    pub payload: Vec<u8>,
}

/// A payload as JSON where it is JSON, else as a string (an empty one is `null`).
fn json_or_string(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The invocation record, as Lambda writes it: `functionArn` is the invoked function with its
/// qualifier (`…:$LATEST` when it was invoked unqualified); `responseContext` and
/// `responsePayload` are there when the function ran.
pub fn record(
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    invoke_count: u32,
    request_payload: &[u8],
    response: Option<&Response>,
    at_ms: i64,
) -> Value {
    let timestamp = chrono::DateTime::from_timestamp_millis(at_ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut record = json!({
        "version": "1.0",
        "timestamp": timestamp,
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": json_or_string(request_payload),
    });
    if let Some(r) = response {
        let mut context = json!({"statusCode": 200, "executedVersion": r.executed_version});
        if let Some(e) = &r.function_error {
            context["functionError"] = json!(e);
        }
        record["responseContext"] = context;
        record["responsePayload"] = json_or_string(&r.payload);
    }
    record
}

/// The dead-letter message's attributes: `RequestID`, `ErrorCode` (the invoke's status code)
/// and `ErrorMessage` (the first 1 KB of the error).
pub fn dead_letter_attributes(request_id: &str, response: Option<&Response>) -> Vec<Attribute> {
    let message = match response {
        Some(r) => error_message(&r.payload),
        None => "Event age exceeded before the function could be invoked".to_string(),
    };
    vec![
        Attribute {
            name: "RequestID".into(),
            data_type: "String",
            value: request_id.to_string(),
        },
        Attribute {
            name: "ErrorCode".into(),
            data_type: "Number",
            value: "200".into(),
        },
        Attribute {
            name: "ErrorMessage".into(),
            data_type: "String",
            value: message,
        },
    ]
}

/// The `errorMessage` of a function error's JSON (else its text), at most 1 KB.
fn error_message(payload: &[u8]) -> String {
    let text = serde_json::from_slice::<Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned());
    let mut end = text.len().min(1024);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// What to do with a finished event.
pub(crate) struct Finished<'a> {
    pub event: &'a AsyncEvent,
    pub condition: Condition,
    /// Attempts made.
    pub attempts: u32,
    pub response: Option<Response>,
    /// The destination of this outcome, if one is configured.
    pub destination: Option<String>,
    /// The dead-letter queue, for a failure.
    pub dead_letter: Option<String>,
}

impl Engine {
    /// What execution roles may do, which each delivery is checked by; set once at start (a
    /// node without it checks nothing).
    pub fn set_role_authority(&self, roles: std::sync::Arc<dyn RoleAuthority>) {
        let _ = self.inner.roles.set(roles);
    }

    /// The queue sink destinations and dead-letter queues are sent through; set once at start.
    pub fn set_queue_sink(&self, sink: std::sync::Arc<dyn QueueSink>) {
        let _ = self.inner.queues.set(sink);
    }

    /// Delivers a finished event's record to its destination and, when it failed, the event to
    /// the dead-letter queue, each tried [`DELIVERY_ATTEMPTS`] times.
    pub(crate) async fn deliver(&self, done: Finished<'_>) {
        let event = done.event;
        let invoked = || Invoked::from_arn(&event.invoked_arn);
        if let Some(arn) = &done.destination {
            let function_arn = self
                .inner
                .account
                .qualified_arn(&event.function_name, &event.qualifier);
            let body = record(
                &event.request_id,
                &function_arn,
                done.condition,
                done.attempts,
                &event.payload,
                done.response.as_ref(),
                ignis_model::time::now_ms(),
            )
            .to_string();
            let sent = self
                .retrying(|| self.send_record(arn, body.clone(), event))
                .await;
            if let Err(e) = sent {
                self.record(|at_ms| Event::DestinationFailed {
                    invoked: invoked(),
                    at_ms,
                });
                tracing::warn!(request_id = %event.request_id, destination = %arn, error = %e,
                    "the invocation record could not be delivered to its destination");
            }
        }
        if let Some(queue) = &done.dead_letter {
            let body = String::from_utf8_lossy(&event.payload).into_owned();
            let attributes = dead_letter_attributes(&event.request_id, done.response.as_ref());
            let sent = match self.role_may(event, "sqs:SendMessage", queue) {
                Ok(()) => {
                    self.retrying(|| self.send_queue(queue, body.clone(), attributes.clone()))
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                self.record(|at_ms| Event::DeadLetterFailed {
                    invoked: invoked(),
                    at_ms,
                });
                tracing::warn!(request_id = %event.request_id, queue = %queue, error = %e,
                    "the failed event could not be sent to the dead-letter queue");
            }
        }
    }

    async fn retrying<F, Fut>(&self, mut send: F) -> Result<(), String>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let mut last = String::new();
        for attempt in 0..DELIVERY_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            match send().await {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    async fn send_queue(
        &self,
        queue: &str,
        body: String,
        attributes: Vec<Attribute>,
    ) -> Result<(), String> {
        let sink = self
            .inner
            .queues
            .get()
            .ok_or("this node delivers to no queues")?;
        sink.send(queue, body, attributes).await.map(|_| ())
    }

    /// Whether the event's function's execution role may take `action` on `resource`.
    fn role_may(&self, event: &AsyncEvent, action: &str, resource: &str) -> Result<(), String> {
        let Some(roles) = self.inner.roles.get() else {
            return Ok(());
        };
        let role = FunctionRef::parse(&event.invoked_arn)
            .ok()
            .and_then(|r| self.resolve(&r).ok())
            .map(|t| t.config().role.clone())
            .ok_or("the function and its execution role no longer exist")?;
        roles.role_may(&role, action, resource)
    }

    async fn send_record(&self, arn: &str, body: String, event: &AsyncEvent) -> Result<(), String> {
        match Destination::parse(arn) {
            Some(Destination::Queue { arn }) => {
                self.role_may(event, "sqs:SendMessage", &arn)?;
                self.send_queue(&arn, body, Vec::new()).await
            }
            Some(Destination::Function { .. }) => {
                self.role_may(event, "lambda:InvokeFunction", arn)?;
                let r = FunctionRef::parse(arn).map_err(|e| e.to_string())?;
                let target = self.resolve(&r).map_err(|e| e.to_string())?;
                let mut request = Request::new(
                    uuid::Uuid::new_v4().to_string(),
                    body.into_bytes().into(),
                    Mode::Event,
                );
                request.trace = event
                    .trace
                    .as_deref()
                    .map(ignis_model::trace::TraceHeader::parse);
                request.trigger = Trigger::Other;
                self.enqueue(&target, &request)
                    .await
                    .map_err(|e| e.to_string())
            }
            _ => Err(format!("Ignis does not deliver to {arn}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_record_is_lambdas() {
        let response = Response {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: br#"{"errorMessage":"boom","errorType":"Exception"}"#.to_vec(),
        };
        let r = record(
            "req-1",
            "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
            Condition::RetriesExhausted,
            3,
            br#"{"k":1}"#,
            Some(&response),
            1_573_755_365_568,
        );
        assert_eq!(
            r,
            json!({
                "version": "1.0",
                "timestamp": "2019-11-14T18:16:05.568Z",
                "requestContext": {
                    "requestId": "req-1",
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 3
                },
                "requestPayload": {"k": 1},
                "responseContext": {
                    "statusCode": 200,
                    "executedVersion": "$LATEST",
                    "functionError": "Unhandled"
                },
                "responsePayload": {"errorMessage": "boom", "errorType": "Exception"}
            })
        );
    }

    #[test]
    fn a_success_record_has_no_function_error() {
        let response = Response {
            executed_version: "3".into(),
            function_error: None,
            payload: b"\"ok\"".to_vec(),
        };
        let r = record(
            "id",
            "arn:f:PROD",
            Condition::Success,
            1,
            b"{}",
            Some(&response),
            0,
        );
        assert_eq!(r["requestContext"]["condition"], "Success");
        assert_eq!(
            r["responseContext"],
            json!({"statusCode": 200, "executedVersion": "3"})
        );
        assert_eq!(r["responsePayload"], "ok");
    }

    #[test]
    fn an_event_that_never_ran_has_no_response() {
        let r = record("id", "arn", Condition::EventAgeExceeded, 0, b"[1]", None, 0);
        assert!(r.get("responseContext").is_none());
        assert!(r.get("responsePayload").is_none());
        assert_eq!(r["requestPayload"], json!([1]));
    }

    #[test]
    fn dead_letter_attributes_carry_the_error() {
        let response = Response {
            executed_version: "$LATEST".into(),
            function_error: Some("Unhandled".into()),
            payload: format!(r#"{{"errorMessage":"{}"}}"#, "x".repeat(2000)).into_bytes(),
        };
        let a = dead_letter_attributes("rid", Some(&response));
        assert_eq!(a[0].value, "rid");
        assert_eq!((a[1].data_type, a[1].value.as_str()), ("Number", "200"));
        assert_eq!(a[2].value.len(), 1024);
    }
}
