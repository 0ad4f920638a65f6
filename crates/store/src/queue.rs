//! The durable queue of asynchronous invocations.
//!
//! Invariants: an event is acknowledged to its caller only after [`Store::enqueue`] has
//! committed (the backend makes a commit durable before it returns: SQLite runs with
//! `synchronous = FULL`). A leased event is invisible to other leases until its lease expires.
//! A lease belongs to the node that took it: when a node starts, it forgets its own leases
//! (what it held died with its last run) and those of no node, and leaves other nodes' leases
//! to expire. Delivery is at least once, as on Lambda.

use crate::{Store, StoreError};

/// One queued asynchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncEvent {
    pub request_id: String,
    pub function_name: String,
    pub qualifier: String,
    pub invoked_arn: String,
    pub payload: Vec<u8>,
    pub enqueued_ms: i64,
    /// Attempts already made.
    pub attempts: u32,
}

impl Store {
    /// Stores an event durably; returns once it is committed.
    pub async fn enqueue(&self, event: &AsyncEvent, now_ms: i64) -> Result<(), StoreError> {
        self.backend.enqueue(event, now_ms).await
    }

    /// Leases to this node up to `limit` events that are due and not leased, for `lease_ms`.
    pub async fn lease_due(
        &self,
        now_ms: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AsyncEvent>, StoreError> {
        self.backend
            .lease_due(&self.node, now_ms, limit, lease_ms)
            .await
    }

    /// The event is done (succeeded, or dropped for good).
    pub async fn ack(&self, request_id: &str) -> Result<(), StoreError> {
        self.backend.ack(request_id).await
    }

    /// Puts a leased event back to run again at `next_attempt_ms`, with its attempt count.
    pub async fn retry_later(
        &self,
        request_id: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        self.backend
            .retry_later(request_id, attempts, next_attempt_ms)
            .await
    }

    /// Events waiting, leased or not.
    pub async fn queued_events(&self) -> Result<u64, StoreError> {
        self.backend.queued_events().await
    }
}
