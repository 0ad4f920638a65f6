//! Which IAM action and resource each SQS operation is, as AWS's Service Authorization
//! Reference for SQS names them (`sqs:<Operation>` on `arn:aws:sqs:<region>:<account>:<queue>`,
//! a batch as its single action, ListQueues on `*`), checked by the caller's identity-based
//! policies. Queue policies are not stored, so none are evaluated.

use crate::error::{Kind, SqsError};
use crate::{Context, Sqs};
use ignis_identity::Decision;
use serde_json::Value;

/// The action an operation is authorised as.
fn action(operation: &str) -> &str {
    match operation {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    }
}

/// The queue an operation acts on: the `QueueUrl`'s (`…/<account>/<name>`), or the
/// `QueueName` of CreateQueue and GetQueueUrl; `*` for ListQueues, and for a request that
/// names no queue (the operation refuses it).
fn resource(sqs: &Sqs, operation: &str, input: &Value) -> String {
    if operation == "ListQueues" {
        return "*".to_string();
    }
    if let Some(url) = input.get("QueueUrl").and_then(Value::as_str) {
        let mut segments = url.trim_end_matches('/').rsplit('/');
        let name = segments.next().unwrap_or_default();
        let account = segments.next().unwrap_or_default();
        return format!("arn:aws:sqs:{}:{account}:{name}", sqs.region);
    }
    match input.get("QueueName").and_then(Value::as_str) {
        Some(name) => sqs.arn(name),
        None => "*".to_string(),
    }
}

impl Sqs {
    /// Whether the caller may make the request; SQS's AccessDenied (403) if not, whose message
    /// names the action in lower case as SQS's does.
    pub(crate) fn authorize(
        &self,
        operation: &str,
        input: &Value,
        cx: &Context,
    ) -> Result<(), SqsError> {
        if cx.principal.is_root() {
            return Ok(());
        }
        let action = format!("sqs:{}", action(operation));
        let resource = resource(self, operation, input);
        match self
            .identity
            .decide(&cx.principal, cx.source_ip, &action, &resource, &[])
        {
            Decision::Allow => Ok(()),
            d => Err(SqsError::new(
                Kind::AccessDenied,
                cx.principal.denial(
                    &action.to_ascii_lowercase(),
                    &resource,
                    d == Decision::ExplicitDeny,
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_their_single_actions() {
        assert_eq!(action("SendMessageBatch"), "SendMessage");
        assert_eq!(action("DeleteMessageBatch"), "DeleteMessage");
        assert_eq!(
            action("ChangeMessageVisibilityBatch"),
            "ChangeMessageVisibility"
        );
        assert_eq!(action("ReceiveMessage"), "ReceiveMessage");
    }
}
