//! The engine's [`QueueSink`] over the node's SQS: destination records and dead letters are
//! sent through `ignis_sqs::Sqs::send_internal`, SendMessage's own checks and durable commit;
//! and its [`RoleAuthority`] over the node's identity: what a function's execution role may do.

use ignis_engine::{Attribute, QueueSink, RoleAuthority};
use std::sync::Arc;

pub(crate) struct SqsSink {
    pub queues: Arc<ignis_sqs::Sqs>,
    /// The SenderId of what Lambda sends: the account.
    pub sender: String,
}

#[async_trait::async_trait]
impl QueueSink for SqsSink {
    async fn send(
        &self,
        queue_arn: &str,
        body: String,
        attributes: Vec<Attribute>,
    ) -> Result<String, String> {
        let attributes: Vec<(String, String, String)> = attributes
            .into_iter()
            .map(|a| (a.name, a.data_type.to_string(), a.value))
            .collect();
        self.queues
            .send_internal(queue_arn, &body, &attributes, &self.sender)
            .await
            .map_err(|e| format!("{}: {}", e.code(), e.message))
    }
}

pub(crate) struct Roles(pub ignis_identity::Identity);

impl RoleAuthority for Roles {
    fn role_may(&self, role_arn: &str, action: &str, resource: &str) -> Result<(), String> {
        self.0.role_may(role_arn, action, resource)
    }
}
