//! Group commit: one writer task takes the changes of concurrent requests from a bounded
//! channel, writes as many as are waiting (up to a batch's most) in one transaction, and
//! answers each request only once the transaction holding its change has committed.
//!
//! Changes are handed over in the order they were made to the queues' state (the caller
//! submits under the state's lock), and the writer keeps that order within and across
//! transactions. When the channel is full, a submitter waits for room: memory is bounded by
//! the channel's bound times a request's changes.
//!
//! A failed transaction fails every change in it, and every change submitted after them from
//! the same state (they may build on what failed): each change carries the state's epoch, the
//! writer moves to the next epoch when a transaction fails and refuses changes of an earlier
//! one, and the state is reloaded from the database under the next epoch before changes are
//! accepted again ([`Committer::epoch`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Why a change was not committed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failed {
    #[error("the transaction failed: {0}")]
    Commit(Arc<str>),
    #[error("the change was made on state holding a change whose transaction failed")]
    Stale,
    #[error("the writer has stopped")]
    Stopped,
}

struct Item<W> {
    epoch: u64,
    writes: W,
    done: oneshot::Sender<Result<(), Failed>>,
}

/// The handle changes are submitted through.
pub struct Committer<W> {
    sender: mpsc::Sender<Item<W>>,
    epoch: Arc<AtomicU64>,
}

/// An answer to wait for: the change's transaction committed, or why not.
pub struct Pending(oneshot::Receiver<Result<(), Failed>>);

impl Pending {
    pub async fn committed(self) -> Result<(), Failed> {
        self.0.await.unwrap_or(Err(Failed::Stopped))
    }
}

impl<W: Send + 'static> Committer<W> {
    /// Starts the writer task: at most `bound` changes wait in the channel, at most
    /// `max_batch` go in one transaction, and `write` writes a batch in one transaction (an
    /// error fails the whole batch).
    pub fn spawn<S, F>(bound: usize, max_batch: usize, mut write: S) -> Committer<W>
    where
        S: FnMut(Vec<W>) -> F + Send + 'static,
        F: Future<Output = Result<(), String>> + Send,
    {
        let (sender, mut receiver) = mpsc::channel::<Item<W>>(bound.max(1));
        let epoch = Arc::new(AtomicU64::new(0));
        let current = epoch.clone();
        tokio::spawn(async move {
            let mut items = Vec::with_capacity(max_batch);
            while receiver.recv_many(&mut items, max_batch.max(1)).await > 0 {
                let now = current.load(Ordering::Acquire);
                let mut writes = Vec::with_capacity(items.len());
                let mut waiters = Vec::with_capacity(items.len());
                for item in items.drain(..) {
                    if item.epoch == now {
                        writes.push(item.writes);
                        waiters.push(item.done);
                    } else {
                        let _ = item.done.send(Err(Failed::Stale));
                    }
                }
                if waiters.is_empty() {
                    continue;
                }
                let outcome = match write(writes).await {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        // Before anyone hears of the failure, so that its reload sees the
                        // next epoch.
                        current.store(now + 1, Ordering::Release);
                        Err(Failed::Commit(e.into()))
                    }
                };
                for w in waiters {
                    let _ = w.send(outcome.clone());
                }
            }
        });
        Committer { sender, epoch }
    }

    /// Hands `writes`, made on state of `epoch`, to the writer, waiting for room in the
    /// channel; the answer comes once its transaction has committed.
    pub async fn submit(&self, epoch: u64, writes: W) -> Pending {
        let (done, answer) = oneshot::channel();
        let item = Item {
            epoch,
            writes,
            done,
        };
        if let Err(mpsc::error::SendError(item)) = self.sender.send(item).await {
            let _ = item.done.send(Err(Failed::Stopped));
        }
        Pending(answer)
    }

    /// The epoch changes are accepted in; state made before a failed transaction is of an
    /// earlier one and must be reloaded.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;
    use tokio::sync::Semaphore;

    type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A writer recording its batches, failing those holding `fail`, each write waiting for a
    /// permit of `gate` when given one.
    fn recorder(
        bound: usize,
        max_batch: usize,
        fail: Option<u32>,
        gate: Option<Arc<Semaphore>>,
    ) -> (Committer<u32>, Batches) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = batches.clone();
        let committer = Committer::spawn(bound, max_batch, move |batch: Vec<u32>| {
            let (seen, gate) = (seen.clone(), gate.clone());
            async move {
                if let Some(gate) = gate {
                    gate.acquire().await.unwrap().forget();
                }
                let failed = fail.is_some_and(|f| batch.contains(&f));
                seen.lock().unwrap().push(batch);
                if failed {
                    Err("disk full".into())
                } else {
                    Ok(())
                }
            }
        });
        (committer, batches)
    }

    #[tokio::test]
    async fn waiting_changes_share_one_transaction_in_their_order() {
        let gate = Arc::new(Semaphore::new(0));
        let (c, batches) = recorder(64, 16, None, Some(gate.clone()));
        let first = c.submit(0, 0).await;
        // The writer holds the first change in its transaction; these wait in the channel.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut rest = Vec::new();
        for i in 1..=20 {
            rest.push(c.submit(0, i).await);
        }
        gate.add_permits(3);
        first.committed().await.unwrap();
        for p in rest {
            p.committed().await.unwrap();
        }
        let batches = batches.lock().unwrap().clone();
        assert_eq!(
            batches,
            vec![vec![0], (1..=16).collect::<Vec<_>>(), (17..=20).collect()]
        );
    }

    #[tokio::test]
    async fn an_answer_comes_only_after_its_transaction() {
        let gate = Arc::new(Semaphore::new(0));
        let (c, _) = recorder(8, 8, None, Some(gate.clone()));
        let pending = c.submit(0, 1).await;
        let waiting = tokio::spawn(pending.committed());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(!waiting.is_finished());
        gate.add_permits(1);
        waiting.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_failed_transaction_fails_every_waiter_and_what_followed_it() {
        let gate = Arc::new(Semaphore::new(0));
        let (c, batches) = recorder(64, 64, Some(2), Some(gate.clone()));
        let first = c.submit(0, 1).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        // 2, 3 and 4 wait together: the transaction holding 2 fails.
        let failing: Vec<Pending> = futures_of(&c, 0, [2, 3, 4]).await;
        gate.add_permits(1);
        first.committed().await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // 5 was made on the state holding 2's change: refused without being written.
        let stale = c.submit(0, 5).await;
        gate.add_permits(10);
        for p in failing {
            assert!(matches!(p.committed().await, Err(Failed::Commit(e)) if &*e == "disk full"));
        }
        assert!(matches!(stale.committed().await, Err(Failed::Stale)));
        // After a reload the state is of the next epoch and its changes commit.
        assert_eq!(c.epoch(), 1);
        c.submit(1, 6).await.committed().await.unwrap();
        let batches = batches.lock().unwrap().clone();
        assert_eq!(batches, vec![vec![1], vec![2, 3, 4], vec![6]]);
    }

    async fn futures_of(c: &Committer<u32>, epoch: u64, items: [u32; 3]) -> Vec<Pending> {
        let mut out = Vec::new();
        for i in items {
            out.push(c.submit(epoch, i).await);
        }
        out
    }

    #[tokio::test]
    async fn a_full_channel_makes_submitters_wait() {
        let gate = Arc::new(Semaphore::new(0));
        let (c, batches) = recorder(4, 100, None, Some(gate.clone()));
        let c = Arc::new(c);
        let first = c.submit(0, 0).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The writer holds 0; the channel takes 4 more, the fifth submitter waits.
        let mut queued = Vec::new();
        for i in 1..=4 {
            queued.push(c.submit(0, i).await);
        }
        let blocked = {
            let c = c.clone();
            tokio::spawn(async move { c.submit(0, 5).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!blocked.is_finished(), "the fifth change waits for room");
        gate.add_permits(10);
        let fifth = blocked.await.unwrap();
        first.committed().await.unwrap();
        for p in queued {
            p.committed().await.unwrap();
        }
        fifth.committed().await.unwrap();
        let all: Vec<u32> = batches.lock().unwrap().concat();
        assert_eq!(all, vec![0, 1, 2, 3, 4, 5]);
    }
}
