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
//! Writing never blocks the caller: [`LogStore::append`] hands the record to a bounded queue
//! drained by one writer thread, and when the queue is full the record is dropped and counted
//! ([`LogStore::dropped`]) rather than slowing an invoke down.

mod names;
mod read;
mod writer;

pub use read::Cursor;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use writer::{Command, Writer};

/// Default budget of one log group: 64 MiB.
pub const DEFAULT_MAX_BYTES_PER_GROUP: u64 = 64 << 20;
/// Records that may wait for the writer; past this, new records are dropped and counted.
pub const QUEUE_CAPACITY: usize = 16_384;
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
    tx: mpsc::Sender<Command>,
    dropped: AtomicU64,
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
    /// `max_bytes_per_group` bytes, and starts its writer thread.
    pub fn open(dir: impl Into<PathBuf>, max_bytes_per_group: u64) -> Result<LogStore, LogError> {
        let root = dir.into();
        std::fs::create_dir_all(&root).map_err(|source| LogError::Io {
            path: root.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer::new(root.clone(), max_bytes_per_group);
        std::thread::Builder::new()
            .name("ignis-logs".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| LogError::Io {
                path: root.clone(),
                source,
            })?;
        Ok(LogStore {
            inner: Arc::new(Inner {
                root,
                tx,
                dropped: AtomicU64::new(0),
            }),
        })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &std::path::Path {
        &self.inner.root
    }

    /// Queues one record. Never blocks: when the queue is full the record is dropped and counted.
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
        let cmd = Command::Append {
            group: group.to_string(),
            stream: stream.to_string(),
            ts_ms,
            message: message.to_string(),
        };
        if self.inner.tx.try_send(cmd).is_err() {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Waits until every record queued before this call is written to its file.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.inner.tx.send(Command::Flush(done)).await.is_ok() {
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
