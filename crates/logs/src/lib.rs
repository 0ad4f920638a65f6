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

mod admin;
mod budget;
mod groups;
mod names;
mod read;
mod writer;

pub use groups::{GroupChange, GroupMeta};
pub use read::Cursor;

use admin::Admin;
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
/// Most groups the store holds; creating another through the API is refused (a function's group
/// is still created when the function first logs).
pub const MAX_GROUPS: usize = 10_000;
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
    #[error("the log group already exists")]
    GroupExists,
    #[error("the log group does not exist")]
    NoGroup,
    #[error("the log stream already exists")]
    StreamExists,
    #[error("the log stream does not exist")]
    NoStream,
    #[error("the node holds its most log groups ({0})")]
    TooManyGroups(usize),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One log record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub stream: String,
    /// Epoch milliseconds.
    pub timestamp_ms: i64,
    /// When the node took the record in, epoch milliseconds.
    pub ingestion_ms: i64,
    pub message: String,
}

/// A group, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    pub meta: GroupMeta,
    /// Bytes its stream files hold on disk.
    pub stored_bytes: u64,
}

/// A stream of a group, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub size_bytes: u64,
    /// Epoch milliseconds of the last write (the file's modification time).
    pub last_write_ms: u64,
    /// When the stream was created (its header, else its first record's ingestion).
    pub creation_ms: Option<i64>,
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    pub last_ingestion_ms: Option<i64>,
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
        LogStore::start(
            dir.into(),
            max_bytes_per_group,
            queue_bytes,
            queue_bytes_per_group,
            MAX_GROUPS,
        )
    }

    /// [`LogStore::open`] holding at most `max_groups` groups created through the API.
    pub fn open_with_max_groups(
        dir: impl Into<PathBuf>,
        max_bytes_per_group: u64,
        max_groups: usize,
    ) -> Result<LogStore, LogError> {
        LogStore::start(
            dir.into(),
            max_bytes_per_group,
            QUEUE_BYTES,
            QUEUE_BYTES_PER_GROUP,
            max_groups,
        )
    }

    fn start(
        root: PathBuf,
        max_bytes_per_group: u64,
        queue_bytes: u64,
        queue_bytes_per_group: u64,
        max_groups: usize,
    ) -> Result<LogStore, LogError> {
        std::fs::create_dir_all(&root).map_err(|source| LogError::Io {
            path: root.clone(),
            source,
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = Arc::new(Mutex::new(Budget::new(queue_bytes, queue_bytes_per_group)));
        let writer = Writer::new(
            root.clone(),
            max_bytes_per_group,
            max_groups,
            budget.clone(),
        );
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

    async fn admin(&self, admin: Admin) -> Result<u64, LogError> {
        let (done, wait) = oneshot::channel();
        self.inner
            .tx
            .send(Command::Admin(admin, done))
            .map_err(|_| LogError::Task("the log writer is gone".into()))?;
        wait.await
            .map_err(|_| LogError::Task("the log writer is gone".into()))?
    }

    /// Creates a group (durably, with its metadata).
    pub async fn create_group(&self, meta: GroupMeta) -> Result<(), LogError> {
        self.admin(Admin::CreateGroup(meta)).await.map(drop)
    }

    /// Deletes a group, its streams and their records.
    pub async fn delete_group(&self, name: &str) -> Result<(), LogError> {
        self.admin(Admin::DeleteGroup(name.into())).await.map(drop)
    }

    /// Changes a group's retention or tags.
    pub async fn change_group(&self, name: &str, change: GroupChange) -> Result<(), LogError> {
        self.admin(Admin::ChangeGroup(name.into(), change))
            .await
            .map(drop)
    }

    /// Creates an empty stream in an existing group.
    pub async fn create_stream(&self, group: &str, stream: &str) -> Result<(), LogError> {
        let (group, stream) = (group.into(), stream.into());
        self.admin(Admin::CreateStream { group, stream })
            .await
            .map(drop)
    }

    /// Deletes a stream and its records.
    pub async fn delete_stream(&self, group: &str, stream: &str) -> Result<(), LogError> {
        let (group, stream) = (group.into(), stream.into());
        self.admin(Admin::DeleteStream { group, stream })
            .await
            .map(drop)
    }

    /// Writes a batch of (timestamp, message) to an existing stream, ingested now; answers once
    /// it is in the file (the caller bounds the batch).
    pub async fn put(
        &self,
        group: &str,
        stream: &str,
        events: Vec<(i64, String)>,
    ) -> Result<(), LogError> {
        let (group, stream) = (group.into(), stream.into());
        self.admin(Admin::Put {
            group,
            stream,
            events,
        })
        .await
        .map(drop)
    }

    /// Deletes every record older than its group's retention; answers the bytes freed.
    pub async fn sweep(&self) -> Result<u64, LogError> {
        self.admin(Admin::Sweep).await
    }

    /// Runs [`LogStore::sweep`] every `every` until `stop` turns true.
    pub fn spawn_retention(
        &self,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                match store.sweep().await {
                    Ok(0) => {}
                    Ok(freed) => tracing::info!(freed, "expired log events past retention"),
                    Err(e) => tracing::warn!(error = %e, "log retention sweep failed"),
                }
            }
        })
    }

    /// Every group, by name.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>, LogError> {
        self.blocking(|root| read::list_groups(&root)).await
    }

    /// One group, or `None`.
    pub async fn group(&self, name: &str) -> Result<Option<GroupInfo>, LogError> {
        let name = name.to_string();
        self.blocking(move |root| read::group(&root, &name)).await
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

    /// Every record of one stream in the order written, or `None` when it does not exist.
    pub async fn read_stream(
        &self,
        group: &str,
        stream: &str,
    ) -> Result<Option<Vec<Record>>, LogError> {
        self.flush_briefly().await;
        let (group, stream) = (group.to_string(), stream.to_string());
        self.blocking(move |root| read::read_stream(&root, &group, &stream))
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
