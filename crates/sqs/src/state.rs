//! The queues and their messages in memory: what is visible, in flight or delayed, FIFO
//! groups and deduplication, redrive. No I/O: every change marks what it touched dirty, and
//! the caller commits those rows (`db.rs`) before it answers.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// How long a FIFO deduplication id is remembered.
pub const DEDUP_INTERVAL_MS: i64 = 5 * 60 * 1000;

/// A message attribute as sent (`DataType`, and a string or binary value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<Vec<u8>>,
}

/// What SQS sets on a message beside its body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup: Option<String>,
    pub sender: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_source: Option<String>,
}

/// One message.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    /// Its place in its queue (and a FIFO message's SequenceNumber).
    pub seq: u64,
    pub body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    pub system: SystemFields,
    /// Epoch milliseconds.
    pub sent: i64,
    pub visible_at: i64,
    pub receive_count: u32,
    pub first_receive: Option<i64>,
    /// The nonce of the latest receipt handle.
    pub receipt: i64,
}

impl Message {
    pub fn in_flight(&self, now: i64) -> bool {
        self.receive_count > 0 && self.visible_at > now
    }
}

/// A remembered deduplication id.
#[derive(Debug, Clone)]
pub struct Dedup {
    pub message_id: String,
    pub seq: u64,
    pub expires: i64,
}

/// Wakes long polls when messages arrive.
#[derive(Debug, Default)]
pub struct Signal {
    pub notify: tokio::sync::Notify,
    pub waiters: std::sync::atomic::AtomicUsize,
}

/// One queue.
#[derive(Debug)]
pub struct Queue {
    pub id: String,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub modified: i64,
    pub messages: BTreeMap<u64, Message>,
    /// Messages not in flight, by when they are visible (a delay makes that later).
    pub ready: BTreeSet<(i64, u64)>,
    /// Messages received and not yet visible again, by when they are.
    pub inflight: BTreeSet<(i64, u64)>,
    pub dedup: HashMap<String, Dedup>,
    pub last_purge: Option<i64>,
    pub signal: Arc<Signal>,
}

impl Queue {
    pub fn new(id: String, name: String, created: i64) -> Queue {
        Queue {
            id,
            name,
            attributes: BTreeMap::new(),
            tags: BTreeMap::new(),
            created,
            modified: created,
            messages: BTreeMap::new(),
            ready: BTreeSet::new(),
            inflight: BTreeSet::new(),
            dedup: HashMap::new(),
            last_purge: None,
            signal: Arc::default(),
        }
    }

    pub fn fifo(&self) -> bool {
        self.attributes
            .get("FifoQueue")
            .is_some_and(|v| v == "true")
    }

    /// A numeric attribute (every one has a default, see `attributes.rs`).
    pub fn number(&self, name: &str) -> i64 {
        self.attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_default()
    }

    /// Places a message in the index that fits its state.
    pub fn index(&mut self, seq: u64, now: i64) {
        let m = &self.messages[&seq];
        if m.in_flight(now) {
            self.inflight.insert((m.visible_at, seq));
        } else {
            self.ready.insert((m.visible_at, seq));
        }
    }

    fn unindex(&mut self, seq: u64) {
        if let Some(m) = self.messages.get(&seq) {
            self.ready.remove(&(m.visible_at, seq));
            self.inflight.remove(&(m.visible_at, seq));
        }
    }

    /// Moves messages whose visibility timeout has passed back to the ready index.
    pub fn settle(&mut self, now: i64) {
        while let Some(&(at, seq)) = self.inflight.first() {
            if at > now {
                break;
            }
            self.inflight.pop_first();
            self.ready.insert((at, seq));
        }
    }

    /// (visible, in flight, delayed) now.
    pub fn counts(&mut self, now: i64) -> (usize, usize, usize) {
        self.settle(now);
        let visible = self.ready.range(..(now + 1, 0)).count();
        (visible, self.inflight.len(), self.ready.len() - visible)
    }

    /// The earliest time after `now` at which a message becomes visible.
    pub fn next_visible(&self, now: i64) -> Option<i64> {
        let ready = self.ready.range((now + 1, 0)..).next().map(|&(t, _)| t);
        let back = self.inflight.first().map(|&(t, _)| t);
        ready.into_iter().chain(back).min()
    }

    pub fn remove(&mut self, seq: u64) -> Option<Message> {
        self.unindex(seq);
        self.messages.remove(&seq)
    }

    /// Sets when a message is visible next (ChangeMessageVisibility, or a receive).
    pub fn set_visible_at(&mut self, seq: u64, at: i64, now: i64) {
        self.unindex(seq);
        if let Some(m) = self.messages.get_mut(&seq) {
            m.visible_at = at;
        }
        self.index(seq, now);
    }

    /// The messages a receive may take now, in order, at most `max`: for a standard queue the
    /// visible ones by visibility time; for a FIFO queue by sequence, skipping every group with
    /// a message in flight (one in-flight batch per group).
    pub fn candidates(&mut self, now: i64, max: usize) -> Vec<u64> {
        self.settle(now);
        if !self.fifo() {
            return self
                .ready
                .range(..(now + 1, 0))
                .take(max)
                .map(|&(_, s)| s)
                .collect();
        }
        let mut blocked: HashSet<&str> = HashSet::new();
        for &(_, seq) in &self.inflight {
            if let Some(g) = &self.messages[&seq].system.group {
                blocked.insert(g);
            }
        }
        let mut out = Vec::new();
        for (&seq, m) in &self.messages {
            if out.len() == max {
                break;
            }
            let group = m.system.group.as_deref().unwrap_or_default();
            if blocked.contains(group) {
                continue;
            }
            if m.visible_at > now {
                // A later message of this group may not overtake it.
                blocked.insert(group);
                continue;
            }
            out.push(seq);
        }
        out
    }

    /// Forgets deduplication ids past their interval; returns the keys forgotten.
    pub fn expire_dedup(&mut self, now: i64) -> Vec<String> {
        let gone: Vec<String> = self
            .dedup
            .iter()
            .filter(|(_, d)| d.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &gone {
            self.dedup.remove(k);
        }
        gone
    }

    /// The messages older than the retention period.
    pub fn expired(&self, now: i64) -> Vec<u64> {
        let retention = self.number("MessageRetentionPeriod") * 1000;
        self.messages
            .iter()
            .filter(|(_, m)| m.sent + retention <= now)
            .map(|(&s, _)| s)
            .collect()
    }
}

/// Every queue of the node, and what changed since the last commit.
#[derive(Debug, Default)]
pub struct State {
    pub queues: BTreeMap<String, Queue>,
    /// The last sequence number given (sequence numbers grow across restarts: they start
    /// from the clock).
    pub last_seq: u64,
    pub dirty: Dirty,
    /// The writer's epoch this state was loaded in (`committer.rs`): a failed transaction
    /// ends it, and the state is then loaded again.
    pub epoch: u64,
}

/// Rows to write: a queue or message absent from memory is deleted.
#[derive(Debug, Default)]
pub struct Dirty {
    /// (queue id, queue name) of queues changed or deleted.
    pub queues: Vec<(String, String)>,
    pub messages: HashSet<(String, u64)>,
    pub dedup: HashSet<(String, String)>,
}

impl State {
    /// The next sequence number: increasing, and above the clock in microseconds.
    pub fn next_seq(&mut self, now_ms: i64) -> u64 {
        self.last_seq = (self.last_seq + 1).max(now_ms as u64 * 1000);
        self.last_seq
    }

    pub fn queue_mut(&mut self, name: &str) -> Option<&mut Queue> {
        self.queues.get_mut(name)
    }

    pub fn touch_queue(&mut self, name: &str) {
        if let Some(q) = self.queues.get(name) {
            self.dirty.queues.push((q.id.clone(), q.name.clone()));
        }
    }

    pub fn touch_message(&mut self, queue_id: &str, seq: u64) {
        self.dirty.messages.insert((queue_id.to_string(), seq));
    }

    /// Adds a message to a queue (already validated and deduplicated); returns its seq.
    pub fn push(&mut self, queue: &str, message: Message, now: i64) -> u64 {
        let seq = self.next_seq(now);
        let q = self
            .queues
            .get_mut(queue)
            .expect("the caller found the queue");
        q.messages.insert(seq, Message { seq, ..message });
        q.index(seq, now);
        let id = q.id.clone();
        self.touch_message(&id, seq);
        seq
    }

    /// Deletes a queue and its messages.
    pub fn drop_queue(&mut self, name: &str) {
        if let Some(q) = self.queues.remove(name) {
            self.dirty.queues.push((q.id, q.name));
        }
    }

    /// Deletes a message.
    pub fn delete(&mut self, queue: &str, seq: u64) -> bool {
        let Some(q) = self.queues.get_mut(queue) else {
            return false;
        };
        let found = q.remove(seq).is_some();
        let id = q.id.clone();
        self.touch_message(&id, seq);
        found
    }

    /// Takes up to `max` messages for a receive: each is hidden for `visibility` seconds and
    /// its receive count raised; one already received `maxReceiveCount` times goes to the
    /// dead-letter queue of the source's RedrivePolicy instead.
    pub fn receive(&mut self, queue: &str, max: usize, visibility: i64, now: i64) -> Vec<Message> {
        let Some(q) = self.queues.get_mut(queue) else {
            return Vec::new();
        };
        let redrive = redrive_target(q);
        let source_arn = q.attributes.get("QueueArn").cloned();
        let queue_id = q.id.clone();
        let mut out = Vec::new();
        let mut dead = Vec::new();
        // Messages redriven do not count towards `max`: look again until none move.
        loop {
            let q = self.queues.get_mut(queue).expect("present");
            let seqs = q.candidates(now, max - out.len());
            if seqs.is_empty() {
                break;
            }
            let mut moved = false;
            for seq in seqs {
                let m = &q.messages[&seq];
                if let Some((_, max_receives)) = &redrive
                    && m.receive_count >= *max_receives
                {
                    dead.push(q.remove(seq).expect("a candidate exists"));
                    self.dirty.messages.insert((queue_id.clone(), seq));
                    moved = true;
                    continue;
                }
                q.unindex(seq);
                let m = q.messages.get_mut(&seq).expect("a candidate exists");
                m.receive_count += 1;
                m.first_receive.get_or_insert(now);
                m.visible_at = now + visibility * 1000;
                m.receipt = rand::random::<i64>() & i64::MAX;
                out.push(m.clone());
                q.index(seq, now);
                self.dirty.messages.insert((queue_id.clone(), seq));
            }
            if !moved || out.len() == max {
                break;
            }
        }
        if let Some((dlq, _)) = redrive {
            for mut m in dead {
                if !self.queues.contains_key(&dlq) {
                    // The dead-letter queue is gone: the message stays where it was lost.
                    tracing::warn!(queue, dlq, "dead-letter queue missing; message dropped");
                    continue;
                }
                m.receive_count = 0;
                m.first_receive = None;
                m.visible_at = now;
                m.system.dead_letter_source.clone_from(&source_arn);
                self.push(&dlq, m, now);
            }
        }
        out
    }
}

/// The dead-letter queue's name and maxReceiveCount of a queue's RedrivePolicy.
fn redrive_target(q: &Queue) -> Option<(String, u32)> {
    let policy: serde_json::Value =
        serde_json::from_str(q.attributes.get("RedrivePolicy")?).ok()?;
    let arn = policy.get("deadLetterTargetArn")?.as_str()?;
    let count = match policy.get("maxReceiveCount")? {
        serde_json::Value::String(s) => s.parse().ok()?,
        v => v.as_u64()? as u32,
    };
    Some((arn.rsplit(':').next()?.to_string(), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(group: Option<&str>, now: i64) -> Message {
        Message {
            id: uuid::Uuid::new_v4().to_string(),
            seq: 0,
            body: "b".into(),
            attributes: BTreeMap::new(),
            system: SystemFields {
                group: group.map(str::to_string),
                ..Default::default()
            },
            sent: now,
            visible_at: now,
            receive_count: 0,
            first_receive: None,
            receipt: 0,
        }
    }

    fn state(name: &str, fifo: bool) -> State {
        let mut s = State::default();
        let mut q = Queue::new("id".into(), name.into(), 0);
        if fifo {
            q.attributes.insert("FifoQueue".into(), "true".into());
        }
        s.queues.insert(name.into(), q);
        s
    }

    #[test]
    fn a_received_message_is_hidden_until_its_timeout() {
        let mut s = state("q", false);
        s.push("q", message(None, 1000), 1000);
        assert_eq!(s.receive("q", 10, 30, 1000).len(), 1);
        assert!(s.receive("q", 10, 30, 2000).is_empty());
        assert_eq!(s.queue_mut("q").unwrap().counts(2000), (0, 1, 0));
        let again = s.receive("q", 10, 30, 31_001);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].receive_count, 2);
    }

    #[test]
    fn a_fifo_group_has_one_batch_in_flight() {
        let mut s = state("q.fifo", true);
        for g in ["a", "a", "b"] {
            s.push("q.fifo", message(Some(g), 1), 1);
        }
        let first = s.receive("q.fifo", 1, 30, 1);
        assert_eq!(first[0].system.group.as_deref(), Some("a"));
        // The second "a" waits behind the first; "b" does not.
        let next = s.receive("q.fifo", 10, 30, 1);
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].system.group.as_deref(), Some("b"));
    }

    #[test]
    fn redrive_moves_after_max_receives() {
        let mut s = state("q", false);
        s.queues
            .insert("dlq".into(), Queue::new("d".into(), "dlq".into(), 0));
        let q = s.queue_mut("q").unwrap();
        q.attributes.insert(
            "RedrivePolicy".into(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:dlq","maxReceiveCount":1}"#.into(),
        );
        s.push("q", message(None, 0), 0);
        assert_eq!(s.receive("q", 1, 0, 0).len(), 1);
        assert!(s.receive("q", 1, 0, 1).is_empty());
        assert_eq!(s.queues["dlq"].messages.len(), 1);
    }
}
