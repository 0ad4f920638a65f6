//! The writer thread: the only code that writes or deletes log files.
//!
//! It owns every group's size accounting and enforces the per-group budget: when a group grows
//! past it, its least recently written streams are deleted; when the stream being written is the
//! only one left and is itself over budget, its older half is cut away. It gives each record's
//! share of the queue's byte budget back once the record is written, and writes the reports of
//! dropped lines ([`crate::budget`]) into their streams.

use crate::admin::Admin;
use crate::budget::{Budget, Dropped};
use crate::groups::{self, GroupMeta};
use crate::{LogError, names};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

/// Most open files kept at once; past this every handle is flushed and closed.
const MAX_OPEN_FILES: usize = 128;
/// Most commands handled before the open files are flushed.
const MAX_BATCH: usize = 4096;

pub(crate) enum Command {
    Append {
        group: String,
        stream: String,
        ts_ms: i64,
        message: String,
        /// Lines of this stream dropped before this record, to report first.
        dropped_before: Option<Dropped>,
    },
    /// Answered once everything sent before it is written to the files.
    Flush(oneshot::Sender<()>),
    /// A change to groups or streams made through the API, answered once it is made.
    Admin(Admin, oneshot::Sender<Result<u64, LogError>>),
    /// Stops the writer until the sender is dropped (tests fill the queue with it).
    #[cfg(test)]
    Hold(std::sync::mpsc::Receiver<()>),
}

pub(crate) struct StreamState {
    pub(crate) size: u64,
    /// Last write, epoch ms; the oldest is deleted first.
    last_write_ms: u64,
}

pub(crate) struct GroupState {
    pub(crate) dir: PathBuf,
    pub(crate) total: u64,
    /// By file name.
    pub(crate) streams: HashMap<String, StreamState>,
}

pub(crate) struct Writer {
    pub(crate) root: PathBuf,
    budget: u64,
    pub(crate) max_groups: usize,
    pub(crate) groups: HashMap<String, GroupState>,
    pub(crate) open: HashMap<PathBuf, BufWriter<File>>,
    queue: Arc<Mutex<Budget>>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub(crate) fn mtime_ms(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

impl Writer {
    pub(crate) fn new(
        root: PathBuf,
        budget: u64,
        max_groups: usize,
        queue: Arc<Mutex<Budget>>,
    ) -> Writer {
        Writer {
            root,
            budget: budget.max(1),
            max_groups,
            groups: HashMap::new(),
            open: HashMap::new(),
            queue,
        }
    }

    /// Handles commands until every sender is gone.
    pub(crate) fn run(mut self, mut rx: mpsc::UnboundedReceiver<Command>) {
        while let Some(first) = rx.blocking_recv() {
            self.handle(first);
            let mut caught_up = false;
            for _ in 0..MAX_BATCH {
                match rx.try_recv() {
                    Ok(cmd) => self.handle(cmd),
                    Err(_) => {
                        caught_up = true;
                        break;
                    }
                }
            }
            if caught_up {
                // The queue is empty: there is room for every stream that lost lines.
                self.report_pending();
            }
            self.flush_all();
        }
        self.flush_all();
    }

    fn report_pending(&mut self) {
        let pending = crate::lock(&self.queue).take_pending(Instant::now());
        for (group, stream, dropped) in pending {
            self.report(&group, &stream, now_ms() as i64, &dropped);
        }
    }

    fn report(&mut self, group: &str, stream: &str, ts_ms: i64, dropped: &Dropped) {
        tracing::warn!(
            %group,
            %stream,
            lines = dropped.lines,
            bytes = dropped.bytes,
            "dropped log lines: the queue to the log files was full"
        );
        if let Err(e) = self.append(group, stream, ts_ms, ts_ms, &dropped.report()) {
            tracing::warn!(%group, %stream, error = %e, "could not write a log record");
        }
    }

    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Append {
                group,
                stream,
                ts_ms,
                message,
                dropped_before,
            } => {
                if let Some(dropped) = dropped_before {
                    self.report(&group, &stream, ts_ms, &dropped);
                }
                let written = self.append(&group, &stream, ts_ms, now_ms() as i64, &message);
                crate::lock(&self.queue).release(&group, &stream, message.len());
                if let Err(e) = written {
                    tracing::warn!(%group, %stream, error = %e, "could not write a log record");
                }
            }
            Command::Flush(done) => {
                self.report_pending();
                self.flush_all();
                let _ = done.send(());
            }
            Command::Admin(admin, done) => {
                let _ = done.send(self.admin(admin));
            }
            #[cfg(test)]
            Command::Hold(until) => {
                let _ = until.recv();
            }
        }
    }

    pub(crate) fn flush_all(&mut self) {
        for (path, file) in &mut self.open {
            if let Err(e) = file.flush() {
                tracing::warn!(path = %path.display(), error = %e, "could not flush a log file");
            }
        }
    }

    /// The group's state, loaded from its directory; a group written to for the first time (a
    /// function's) is created.
    pub(crate) fn group(&mut self, group: &str) -> io::Result<&mut GroupState> {
        if !self.groups.contains_key(group) {
            let dir = self.root.join(names::group_dir(group));
            if !dir.exists() {
                fs::create_dir_all(&dir)?;
                groups::write_meta(&dir, &GroupMeta::new(group, now_ms() as i64))?;
            }
            let mut state = GroupState {
                dir,
                total: 0,
                streams: HashMap::new(),
            };
            for entry in fs::read_dir(&state.dir)? {
                let entry = entry?;
                let Some(file) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if !file.ends_with(names::STREAM_SUFFIX) || file == names::GROUP_META {
                    continue;
                }
                let meta = entry.metadata()?;
                state.total += meta.len();
                state.streams.insert(
                    file,
                    StreamState {
                        size: meta.len(),
                        last_write_ms: mtime_ms(&meta),
                    },
                );
            }
            self.groups.insert(group.to_string(), state);
        }
        Ok(self.groups.get_mut(group).expect("inserted above"))
    }

    pub(crate) fn append(
        &mut self,
        group: &str,
        stream: &str,
        ts_ms: i64,
        ingestion_ms: i64,
        message: &str,
    ) -> io::Result<()> {
        let mut line = names::encode_record(ts_ms, ingestion_ms, message);
        let file = names::stream_file(stream);
        let state = self.group(group)?;
        let dir = state.dir.clone();
        if !state.streams.contains_key(&file) {
            line.insert_str(0, &names::encode_header(ingestion_ms, stream));
        }
        let path = dir.join(&file);
        if !self.open.contains_key(&path) {
            if self.open.len() >= MAX_OPEN_FILES {
                self.flush_all();
                self.open.clear();
            }
            let f = OpenOptions::new().create(true).append(true).open(&path)?;
            self.open.insert(path.clone(), BufWriter::new(f));
        }
        self.open
            .get_mut(&path)
            .expect("inserted above")
            .write_all(line.as_bytes())?;
        let len = line.len() as u64;
        let state = self.groups.get_mut(group).expect("loaded above");
        let s = state.streams.entry(file.clone()).or_insert(StreamState {
            size: 0,
            last_write_ms: 0,
        });
        s.size += len;
        s.last_write_ms = now_ms();
        state.total += len;
        self.enforce_budget(group, &file)
    }

    /// Creates an empty stream file (its header only).
    pub(crate) fn create_stream_file(&mut self, group: &str, stream: &str) -> io::Result<()> {
        let file = names::stream_file(stream);
        let state = self.group(group)?;
        let header = names::encode_header(now_ms() as i64, stream);
        fs::write(state.dir.join(&file), &header)?;
        let len = header.len() as u64;
        state.total += len;
        state.streams.insert(
            file,
            StreamState {
                size: len,
                last_write_ms: now_ms(),
            },
        );
        Ok(())
    }

    /// Brings the group back under its budget, never deleting `current` (the stream just written).
    fn enforce_budget(&mut self, group: &str, current: &str) -> io::Result<()> {
        loop {
            let state = self.groups.get_mut(group).expect("loaded by the caller");
            if state.total <= self.budget {
                return Ok(());
            }
            let oldest = state
                .streams
                .iter()
                .filter(|(name, _)| name.as_str() != current)
                .min_by_key(|(_, s)| s.last_write_ms)
                .map(|(name, _)| name.clone());
            match oldest {
                Some(name) => {
                    let path = state.dir.join(&name);
                    let size = state.streams.remove(&name).map_or(0, |s| s.size);
                    state.total -= size.min(state.total);
                    self.open.remove(&path);
                    match fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                None => {
                    let path = state.dir.join(current);
                    if let Some(mut f) = self.open.remove(&path) {
                        f.flush()?;
                    }
                    let kept = trim_to_tail(&path, self.budget / 2)?;
                    let state = self.groups.get_mut(group).expect("loaded by the caller");
                    if let Some(s) = state.streams.get_mut(current) {
                        state.total = state.total - s.size.min(state.total) + kept;
                        s.size = kept;
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Rewrites `path` to hold only its whole lines within the last `keep` bytes; returns the new size.
/// It streams the kept tail through a small buffer rather than holding it in memory.
fn trim_to_tail(path: &Path, keep: u64) -> io::Result<u64> {
    let mut f = BufReader::with_capacity(64 * 1024, File::open(path)?);
    let len = f.get_ref().metadata()?.len();
    let start = len.saturating_sub(keep);
    f.seek(SeekFrom::Start(start))?;
    if start > 0 {
        // Skip the partial line the cut landed in, a chunk at a time.
        loop {
            let chunk = f.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            if let Some(i) = chunk.iter().position(|&b| b == b'\n') {
                f.consume(i + 1);
                break;
            }
            let n = chunk.len();
            f.consume(n);
        }
    }
    let tmp = path.with_extension("trim");
    let mut out = File::create(&tmp)?;
    let kept = io::copy(&mut f, &mut out)?;
    drop(out);
    fs::rename(&tmp, path)?;
    Ok(kept)
}
