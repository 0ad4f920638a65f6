//! Ignis's function logs: CloudWatch-Logs-like groups (`/aws/lambda/<name>`) of streams
//! (`YYYY/MM/DD/[$LATEST]<32 hex>`, one per execution environment) of timestamped records, kept as
//! files on local disk.
//!
//! This crate owns the on-disk layout (one directory per group, one file per stream, one line per
//! record), the per-group size budget (the least recently written streams of a group are deleted
//! when it is over budget) and reading the records back, including a polling follower for
//! `ignis logs <function> --follow`. It knows nothing of functions or invocations: the invoker
//! decides what is written.
//!
//! Writing never blocks the caller: [`LogStore::append`] hands the record to a queue drained by
//! one writer thread. The queue is bounded in bytes, not records: at most [`QUEUE_BYTES`] wait in
//! all and at most [`QUEUE_BYTES_PER_GROUP`] for one group, so a function that logs faster than
//! the node writes fills only its own share. Past it, that group's new records are dropped (never
//! the caller slowed down, never memory grown), counted per stream ([`LogStore::dropped`] in all)
//! and reported in the stream itself as soon as there is room again, as a line
//! `IGNIS: dropped N log lines (X MiB) because …`.

mod budget;
mod names;
mod read;
mod writer;

pub use read::Cursor;

use budget::Budget;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use writer::{Command, Writer};

/// Default budget of one log group: 64 MiB.
pub const DEFAULT_MAX_BYTES_PER_GROUP: u64 = 64 << 20;
/// Bytes of records that may wait for the writer in all (each record counts its message, its
/// group and stream names and a fixed overhead); past this, new records are dropped and counted.
pub const QUEUE_BYTES: u64 = 32 << 20;
/// Bytes of one group's records that may wait for the writer; past this, the group's new records
/// are dropped and counted, while other groups' still go through (a quarter of [`QUEUE_BYTES`] is
/// kept for groups with next to nothing queued: 64 KiB, the new record included).
pub const QUEUE_BYTES_PER_GROUP: u64 = 8 << 20;
/// Longest message kept (CloudWatch's event limit, 256 KiB); longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Longest a reader waits for queued records to reach the files before reading anyway.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// What can go wrong opening or reading the store.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log store I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("log store task failed: {0}")]
    Task(String),
}

/// One log record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub stream: String,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    pub message: String,
}

/// A stream of a group, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub size_bytes: u64,
    /// Epoch milliseconds of the last write (the file's modification time).
    pub last_write_ms: u64,
}

struct Inner {
    root: PathBuf,
    tx: mpsc::UnboundedSender<Command>,
    budget: Arc<Mutex<Budget>>,
}

fn lock(budget: &Mutex<Budget>) -> std::sync::MutexGuard<'_, Budget> {
    budget.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The log store. Cheap to clone; every clone writes through the same writer thread, which ends
/// when the last clone is dropped.
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl LogStore {
    /// Opens (creating it if needed) a store rooted at `dir`, where each group may use at most
    /// `max_bytes_per_group` bytes, and starts its writer thread. Its queue holds at most
    /// [`QUEUE_BYTES`], [`QUEUE_BYTES_PER_GROUP`] for one group.
    pub fn open(dir: impl Into<PathBuf>, max_bytes_per_group: u64) -> Result<LogStore, LogError> {
        LogStore::open_with_queue(dir, max_bytes_per_group, QUEUE_BYTES, QUEUE_BYTES_PER_GROUP)
    }

    /// [`LogStore::open`] with a queue of at most `queue_bytes`, `queue_bytes_per_group` for one
    /// group (each raised to at least one record of [`MAX_MESSAGE_BYTES`]).
    pub fn open_with_queue(
        dir: impl Into<PathBuf>,
        max_bytes_per_group: u64,
        queue_bytes: u64,
        queue_bytes_per_group: u64,
    ) -> Result<LogStore, LogError> {
        let root = dir.into();
        std::fs::create_dir_all(&root).map_err(|source| LogError::Io {
            path: root.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = Arc::new(Mutex::new(Budget::new(queue_bytes, queue_bytes_per_group)));
        let writer = Writer::new(root.clone(), max_bytes_per_group, budget.clone());
        std::thread::Builder::new()
            .name("ignis-logs".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| LogError::Io {
                path: root.clone(),
                source,
            })?;
        Ok(LogStore {
            inner: Arc::new(Inner { root, tx, budget }),
        })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &std::path::Path {
        &self.inner.root
    }

    /// Queues one record. Never blocks: when the queue (or the group's share of it) is full the
    /// record is dropped, counted, and reported in the stream once there is room again.
    pub fn append(&self, group: &str, stream: &str, ts_ms: i64, message: &str) {
        let message = if message.len() > MAX_MESSAGE_BYTES {
            let mut end = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            &message[..end]
        } else {
            message
        };
        // Admitted before anything is copied: a dropped record costs no allocation.
        let admitted = lock(&self.inner.budget).admit(group, stream, message.len(), Instant::now());
        let Ok(dropped_before) = admitted else {
            return;
        };
        let cmd = Command::Append {
            group: group.to_string(),
            stream: stream.to_string(),
            ts_ms,
            message: message.to_string(),
            dropped_before,
        };
        if let Err(mpsc::error::SendError(Command::Append {
            group,
            stream,
            message,
            ..
        })) = self.inner.tx.send(cmd)
        {
            // The writer is gone (it only ends with the last sender, so this is a panic).
            lock(&self.inner.budget).release(&group, &stream, message.len());
        }
    }

    /// Records dropped so far because the queue (or a group's share of it) was full.
    pub fn dropped(&self) -> u64 {
        lock(&self.inner.budget).dropped_lines()
    }

    /// Bytes of records waiting for the writer: in all, and of `group`.
    #[cfg(test)]
    fn queued_bytes(&self, group: &str) -> (u64, u64) {
        lock(&self.inner.budget).in_flight(group)
    }

    /// Waits until every record queued before this call is written to its file.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.inner.tx.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    async fn flush_briefly(&self) {
        let _ = tokio::time::timeout(FLUSH_WAIT, self.flush()).await;
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(PathBuf) -> Result<T, LogError> + Send + 'static,
    ) -> Result<T, LogError> {
        let root = self.inner.root.clone();
        tokio::task::spawn_blocking(move || f(root))
            .await
            .map_err(|e| LogError::Task(e.to_string()))?
    }

    /// The streams of a group, by name; empty when the group has none.
    pub async fn list_streams(&self, group: &str) -> Result<Vec<StreamInfo>, LogError> {
        self.flush_briefly().await;
        let group = group.to_string();
        self.blocking(move |root| read::list_streams(&root, &group))
            .await
    }

    /// The records of one stream, or of every stream of the group merged by time, optionally
    /// only those at or after `since_ms`.
    pub async fn read(
        &self,
        group: &str,
        stream: Option<&str>,
        since_ms: Option<i64>,
    ) -> Result<Vec<Record>, LogError> {
        self.flush_briefly().await;
        let group = group.to_string();
        let stream = stream.map(str::to_string);
        self.blocking(move |root| read::read(&root, &group, stream.as_deref(), since_ms))
            .await
    }

    /// The records written to the group since the cursor last looked, in time order; the cursor
    /// moves past them. Start with [`Cursor::new`].
    pub async fn read_new(
        &self,
        group: &str,
        cursor: &mut Cursor,
    ) -> Result<Vec<Record>, LogError> {
        self.flush_briefly().await;
        let group = group.to_string();
        let mut owned = std::mem::take(cursor);
        let (records, moved) = self
            .blocking(move |root| {
                let records = read::read_new(&root, &group, &mut owned)?;
                Ok((records, owned))
            })
            .await?;
        *cursor = moved;
        Ok(records)
    }

    /// Follows a group: every record at or after `since_ms`, then new ones as they are written,
    /// checking every `every`. The task polling the files ends when the receiver is dropped.
    pub fn follow(
        &self,
        group: &str,
        since_ms: Option<i64>,
        every: Duration,
    ) -> mpsc::Receiver<Result<Record, LogError>> {
        let (tx, rx) = mpsc::channel(1024);
        let store = self.clone();
        let group = group.to_string();
        tokio::spawn(async move {
            let mut cursor = Cursor::new(since_ms);
            loop {
                match store.read_new(&group, &mut cursor).await {
                    Ok(records) => {
                        for r in records {
                            if tx.send(Ok(r)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        if tx.send(Err(e)).await.is_err() {
                            return;
                        }
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: usize = 100 * 1024;

    /// Stops the writer until the returned sender is dropped.
    fn hold(store: &LogStore) -> std::sync::mpsc::Sender<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        store.inner.tx.send(Command::Hold(rx)).unwrap();
        tx
    }

    fn messages(records: &[Record]) -> Vec<String> {
        records.iter().map(|r| r.message.clone()).collect()
    }

    #[tokio::test]
    async fn a_group_over_its_share_loses_its_own_lines_and_is_told_so() {
        let dir = tempfile::tempdir().unwrap();
        // Room for 4 lines of one group, 12 in all.
        let per_group = 4 * budget::cost("g", "s", LINE);
        let store =
            LogStore::open_with_queue(dir.path(), 64 << 20, 3 * per_group, per_group).unwrap();
        let held = hold(&store);
        let line = "x".repeat(LINE);
        for _ in 0..10 {
            store.append("g", "s", 1, &line);
        }
        // Another function still gets its lines in.
        store.append("other", "s", 1, "bystander");
        assert_eq!(store.dropped(), 6);
        let (total, group) = store.queued_bytes("g");
        assert_eq!(group, per_group);
        assert!(total <= 3 * per_group);
        drop(held);
        store.flush().await;
        store.append("g", "s", 2, "after");
        store.flush().await;
        let records = store.read("g", Some("s"), None).await.unwrap();
        let got = messages(&records);
        assert_eq!(
            got.len(),
            6,
            "{:?}",
            got.iter().map(|m| m.len()).collect::<Vec<_>>()
        );
        assert!(got[..4].iter().all(|m| m.len() == LINE));
        assert_eq!(
            got[4],
            "IGNIS: dropped 6 log lines (600.0 KiB) because this function logged faster than \
             the node could write its logs"
        );
        assert_eq!(got[5], "after");
        assert_eq!(
            messages(&store.read("other", None, None).await.unwrap()),
            ["bystander"]
        );
        assert_eq!(store.queued_bytes("g"), (0, 0));
    }

    #[tokio::test]
    async fn drops_are_reported_when_the_writer_catches_up_even_if_nothing_more_is_logged() {
        let dir = tempfile::tempdir().unwrap();
        let per_group = 2 * budget::cost("g", "s", LINE);
        let store =
            LogStore::open_with_queue(dir.path(), 64 << 20, 4 * per_group, per_group).unwrap();
        let held = hold(&store);
        let line = "y".repeat(LINE);
        for _ in 0..5 {
            store.append("g", "s", 1, &line);
        }
        drop(held);
        // No more lines, no flush: the writer reports once its queue is empty.
        let deadline = Instant::now() + Duration::from_secs(5);
        let report = loop {
            let path = dir
                .path()
                .join(names::group_dir("g"))
                .join(names::stream_file("s"));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(l) = text.lines().find(|l| l.contains("IGNIS: dropped")) {
                break l.to_string();
            }
            assert!(Instant::now() < deadline, "no report written");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            report.contains("dropped 3 log lines (300.0 KiB)"),
            "{report}"
        );
    }

    #[tokio::test]
    async fn when_the_whole_queue_is_full_every_group_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let c = budget::cost("g0", "s", LINE);
        let store = LogStore::open_with_queue(dir.path(), 64 << 20, 5 * c, 2 * c).unwrap();
        let held = hold(&store);
        let line = "z".repeat(LINE);
        for round in 0..3 {
            for g in 0..4 {
                store.append(&format!("g{g}"), "s", round, &line);
                assert!(store.queued_bytes("g0").0 <= 5 * c);
            }
        }
        // Three big lines, then none: the last quarter is kept for quiet functions.
        assert_eq!(store.dropped(), 12 - 3);
        drop(held);
        store.flush().await;
        let mut lost = 0;
        for g in 0..4 {
            for r in store.read(&format!("g{g}"), None, None).await.unwrap() {
                if let Some(rest) = r.message.strip_prefix("IGNIS: dropped ") {
                    lost += rest.split(' ').next().unwrap().parse::<u64>().unwrap();
                }
            }
        }
        assert_eq!(lost, 9);
    }
}
