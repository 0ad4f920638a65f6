//! The durable queue of asynchronous invocations.
//!
//! Invariants: an event is acknowledged to its caller only after [`Store::enqueue`] has
//! committed (the backend makes a commit durable before it returns: SQLite runs with
//! `synchronous = FULL`). A leased event is invisible to other leases until its lease expires.
//! A lease belongs to the node that took it: when a node starts, it forgets its own leases
//! (what it held died with its last run) and those of no node, and leaves other nodes' leases
//! to expire. Delivery is at least once, as on Lambda.
//!
//! The queue is bounded in payload bytes, per function and for the whole node: counters read
//! from the backend once when the store opens, then kept in memory (added to on enqueue, taken
//! from on ack), so the invoke path runs no `SUM` query. An event past a bound is refused before
//! anything is written; nothing already queued is touched. The counters see this store's writes
//! only: several nodes on one database each bound what they queued.

use crate::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Bounds on the payload bytes waiting in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueBounds {
    pub per_function: u64,
    pub total: u64,
}

impl QueueBounds {
    /// No bound at all.
    pub const UNBOUNDED: QueueBounds = QueueBounds {
        per_function: u64::MAX,
        total: u64::MAX,
    };
}

/// Why an event was not queued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("the asynchronous queue of function {0} holds its bound of bytes")]
    FunctionFull(String),
    #[error("the node's asynchronous queue holds its bound of bytes")]
    NodeFull,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Payload bytes queued, per function and in all.
#[derive(Debug, Default)]
pub(crate) struct QueueBytes {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: u64,
    per_function: HashMap<String, u64>,
}

impl QueueBytes {
    pub(crate) fn from_rows(rows: Vec<(String, u64)>) -> QueueBytes {
        let counts = Counts {
            total: rows.iter().map(|(_, n)| n).sum(),
            per_function: rows.into_iter().collect(),
        };
        QueueBytes {
            inner: Mutex::new(counts),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts `bytes` more for `function` if that stays within `bounds`.
    fn reserve(
        &self,
        function: &str,
        bytes: u64,
        bounds: &QueueBounds,
    ) -> Result<(), EnqueueError> {
        let mut c = self.lock();
        let mine = c.per_function.get(function).copied().unwrap_or(0);
        if mine.saturating_add(bytes) > bounds.per_function {
            return Err(EnqueueError::FunctionFull(function.to_string()));
        }
        if c.total.saturating_add(bytes) > bounds.total {
            return Err(EnqueueError::NodeFull);
        }
        c.total += bytes;
        *c.per_function.entry(function.to_string()).or_default() += bytes;
        Ok(())
    }

    fn release(&self, function: &str, bytes: u64) {
        let mut c = self.lock();
        c.total = c.total.saturating_sub(bytes);
        if let Some(n) = c.per_function.get_mut(function) {
            *n = n.saturating_sub(bytes);
            if *n == 0 {
                c.per_function.remove(function);
            }
        }
    }

    /// Counts every event's payload if they all stay within `bounds` together; counts nothing
    /// otherwise.
    pub(crate) fn reserve_all(
        &self,
        events: &[AsyncEvent],
        bounds: &QueueBounds,
    ) -> Result<(), EnqueueError> {
        for (i, e) in events.iter().enumerate() {
            if let Err(refused) = self.reserve(&e.function_name, e.payload.len() as u64, bounds) {
                self.release_all(&events[..i]);
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Gives back what [`QueueBytes::reserve_all`] counted for `events`.
    pub(crate) fn release_all(&self, events: &[AsyncEvent]) {
        for e in events {
            self.release(&e.function_name, e.payload.len() as u64);
        }
    }

    fn get(&self, function: Option<&str>) -> u64 {
        let c = self.lock();
        match function {
            Some(f) => c.per_function.get(f).copied().unwrap_or(0),
            None => c.total,
        }
    }
}

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
    /// The X-Ray trace header decided when it was queued (none in queues written before traces).
    pub trace: Option<String>,
    /// What made it happen (`faas.trigger`'s value), when recorded.
    pub trigger: Option<String>,
}

impl Store {
    /// Stores an event durably if its payload keeps the queue within `bounds`; returns once it
    /// is committed. A refused event writes nothing.
    pub async fn enqueue(
        &self,
        event: &AsyncEvent,
        now_ms: i64,
        bounds: &QueueBounds,
    ) -> Result<(), EnqueueError> {
        let bytes = event.payload.len() as u64;
        self.queue_bytes
            .reserve(&event.function_name, bytes, bounds)?;
        if let Err(e) = self.backend.enqueue(event, now_ms).await {
            self.queue_bytes.release(&event.function_name, bytes);
            return Err(e.into());
        }
        Ok(())
    }

    /// Payload bytes queued for `function`, or for every function with `None`.
    pub fn queued_bytes(&self, function: Option<&str>) -> u64 {
        self.queue_bytes.get(function)
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
        if let Some((function, bytes)) = self.backend.ack(request_id).await? {
            self.queue_bytes.release(&function, bytes);
        }
        Ok(())
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
