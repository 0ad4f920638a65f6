//! Object content on disk.
//!
//! A blob is one immutable file, `<root>/blobs/<id>`, named by a fresh UUID v7 (simple form).
//! It is written to `<root>/staging/` first, hashed (MD5) and counted as it is written, then
//! fsynced and renamed into `blobs/`, and the directory fsynced: a committed blob survives a
//! crash. Metadata (`ignis_store`) names blobs only after they are committed, so a crash leaves
//! at worst a staging file (removed by [`Blobs::open`]) or a committed blob nobody names
//! (removed by [`Blobs::sweep`] at start-up). An object's content is a list of segments, each a
//! whole blob (a multipart object keeps its parts' blobs), read back as one stream of bounded
//! chunks.
//!
//! Every file operation runs on tokio's blocking pool, never on the reactor; hashing happens
//! there too.

use bytes::Bytes;
use futures_util::Stream;
use ignis_store::Segment;
use md5::{Digest, Md5};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most bytes one read yields, and the most a writer buffers before it writes.
pub const CHUNK: usize = 256 * 1024;

/// The blob store: `<root>/blobs/<id>` and `<root>/staging/`.
#[derive(Debug, Clone)]
pub struct Blobs {
    blobs: PathBuf,
    staging: PathBuf,
    space: Arc<Space>,
}

/// The bytes of content on disk, committed and being written, against the node's bound.
#[derive(Debug)]
struct Space {
    used: AtomicU64,
    max: u64,
}

impl Space {
    /// `used + n`, if that is within the bound.
    fn fits(&self, used: u64, n: u64) -> Option<u64> {
        used.checked_add(n).filter(|&total| total <= self.max)
    }

    /// Reserves `n` bytes, unless that would pass the bound.
    fn take(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                self.fits(used, n)
            })
            .is_ok()
    }

    fn give_back(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                Some(used.saturating_sub(n))
            });
    }

    fn full(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::StorageFull,
            format!(
                "the node's object storage holds {} of its {} bytes",
                self.used.load(Ordering::Acquire),
                self.max
            ),
        )
    }
}

/// A committed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Its id: the file name under `blobs/`.
    pub id: String,
    /// Its length in bytes.
    pub size: u64,
    /// The MD5 of its bytes (a single-part object's ETag).
    pub md5: [u8; 16],
}

/// A blob being written: a staging file whose MD5 and size are computed as it is written.
/// Dropping it without [`BlobWriter::commit`] removes the staging file.
pub struct BlobWriter {
    blobs: PathBuf,
    path: PathBuf,
    /// The file and the hash so far, when no write is in flight; `None` after one failed.
    state: Option<(File, Md5)>,
    /// The write and the hashing of the previous chunks, two tasks on the blocking pool running
    /// side by side while the next chunks arrive.
    in_flight: Option<(Pending<File>, Pending<Md5>)>,
    /// Chunks received and not yet handed to a write, and their length.
    buf: Vec<Bytes>,
    buffered: usize,
    len: u64,
    /// Committed or discarded: nothing left for `Drop` to remove.
    finished: bool,
    /// The bytes written so far are reserved in here until the blob is discarded.
    space: Arc<Space>,
}

fn fresh_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// File work already started on the blocking pool.
type Pending<T> = tokio::task::JoinHandle<io::Result<T>>;

async fn settled<T>(pending: Pending<T>) -> io::Result<T> {
    pending
        .await
        .map_err(|e| io::Error::other(format!("blob task failed: {e}")))?
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("blob task failed: {e}")))?
}

fn empty_dir(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

impl Blobs {
    /// Opens the blob store under `root`, creating its directories, and empties `staging/`
    /// (anything there is from a write that never committed). Blocking: call it at start-up.
    /// It holds at most `max_bytes` of content (committed blobs and uploads in progress); what
    /// is there already is counted by [`Blobs::sweep`].
    pub fn open(root: &Path, max_bytes: u64) -> io::Result<Blobs> {
        let blobs = root.join("blobs");
        let staging = root.join("staging");
        std::fs::create_dir_all(&blobs)?;
        std::fs::create_dir_all(&staging)?;
        empty_dir(&staging)?;
        Ok(Blobs {
            blobs,
            staging,
            space: Arc::new(Space {
                used: AtomicU64::new(0),
                max: max_bytes,
            }),
        })
    }

    /// Starts a new blob in `staging/`.
    pub async fn create(&self) -> io::Result<BlobWriter> {
        let path = self.staging.join(fresh_id());
        let file = {
            let path = path.clone();
            blocking(move || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(path)
            })
            .await?
        };
        Ok(BlobWriter {
            blobs: self.blobs.clone(),
            path,
            state: Some((file, Md5::new())),
            in_flight: None,
            buf: Vec::new(),
            buffered: 0,
            len: 0,
            finished: false,
            space: self.space.clone(),
        })
    }

    /// Whether `n` more bytes would fit under the bound now (a declared length, checked before
    /// its body is read; the bytes are reserved as they are written).
    pub fn has_room(&self, n: u64) -> bool {
        let used = self.space.used.load(Ordering::Acquire);
        self.space.fits(used, n).is_some()
    }

    /// The error a write past the bound fails with.
    pub fn full(&self) -> io::Error {
        self.space.full()
    }

    /// The file of a committed blob.
    pub fn path(&self, id: &str) -> PathBuf {
        self.blobs.join(id)
    }

    /// The bytes `start..end_exclusive` of the content made of `segments` in order, as a stream
    /// of chunks of at most [`CHUNK`] bytes; a whole blob is never loaded. A range past the
    /// content, or a blob shorter than its segment says, ends the stream with an error.
    pub fn read(
        &self,
        segments: &[Segment],
        start: u64,
        end_exclusive: u64,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
        let total: u64 = segments.iter().map(|s| s.size).sum();
        let mut pieces = Vec::new();
        let mut failed = None;
        if start > end_exclusive || end_exclusive > total {
            failed = Some(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("range {start}..{end_exclusive} is outside the content's {total} bytes"),
            ));
        } else {
            // (file, offset in it, bytes to read from it), in order.
            let mut at = 0u64;
            for s in segments {
                let (from, to) = (start.max(at), end_exclusive.min(at + s.size));
                if from < to {
                    pieces.push((self.path(&s.blob), from - at, to - from));
                }
                at += s.size;
            }
        }
        let state = Reader {
            cursor: Some(Cursor {
                pieces: pieces.into_iter(),
                current: None,
            }),
            ahead: None,
            failed,
        };
        futures_util::stream::unfold(state, |mut reader| async move {
            if let Some(e) = reader.failed.take() {
                reader.cursor = None;
                return Some((Err(e), reader));
            }
            match reader.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), reader)),
                Ok(None) => None,
                Err(e) => {
                    reader.cursor = None;
                    Some((Err(e), reader))
                }
            }
        })
    }

    /// A new committed blob holding bytes `start..end_exclusive` of the content made of
    /// `segments` (CopyObject, UploadPartCopy).
    pub async fn copy(
        &self,
        segments: &[Segment],
        start: u64,
        end_exclusive: u64,
    ) -> io::Result<Blob> {
        use futures_util::StreamExt;
        let mut writer = self.create().await?;
        let mut stream = std::pin::pin!(self.read(segments, start, end_exclusive));
        while let Some(chunk) = stream.next().await {
            let written = match chunk {
                Ok(chunk) => writer.write(chunk).await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                writer.discard().await;
                return Err(e);
            }
        }
        writer.commit().await
    }

    /// Removes committed blobs, best effort: a failure is logged, a missing file ignored.
    pub async fn remove(&self, ids: impl IntoIterator<Item = String>) {
        let paths: Vec<PathBuf> = ids.into_iter().map(|id| self.path(&id)).collect();
        if paths.is_empty() {
            return;
        }
        let space = self.space.clone();
        let result = blocking(move || {
            for path in paths {
                let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                match std::fs::remove_file(&path) {
                    Ok(()) => space.give_back(size),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "blob not removed")
                    }
                }
            }
            Ok(())
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "blobs not removed");
        }
    }

    /// At start-up, before anything writes: removes every committed blob not in `referenced`
    /// (orphans of a crash between a blob's commit and its metadata's); returns how many.
    pub async fn sweep(&self, referenced: &HashSet<String>) -> io::Result<u64> {
        let dir = self.blobs.clone();
        let names = blocking(move || {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    names.push((entry.file_name(), entry.metadata()?.len()));
                }
            }
            Ok(names)
        })
        .await?;
        let (kept, orphans): (Vec<_>, Vec<_>) = names
            .into_iter()
            .partition(|(n, _)| n.to_str().is_some_and(|n| referenced.contains(n)));
        let kept: u64 = kept.iter().map(|(_, size)| size).sum();
        self.space.used.store(kept, Ordering::Release);
        let orphans: Vec<PathBuf> = orphans
            .into_iter()
            .map(|(n, _)| self.blobs.join(n))
            .collect();
        let count = orphans.len() as u64;
        if count == 0 {
            return Ok(0);
        }
        let dir = self.blobs.clone();
        blocking(move || {
            for path in orphans {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            File::open(dir)?.sync_all()
        })
        .await?;
        tracing::info!(count, "removed unreferenced blobs");
        Ok(count)
    }
}

/// The state of one [`Blobs::read`] stream: the next chunk is read while the last one is sent.
struct Reader {
    /// Where reading has got to; `None` while a read is in flight.
    cursor: Option<Cursor>,
    /// The read of the next chunk, started when the previous chunk was handed out.
    ahead: Option<Pending<(Cursor, Option<Bytes>)>>,
    failed: Option<io::Error>,
}

/// The pieces left to read, and the open file of the current one with its bytes left.
struct Cursor {
    pieces: std::vec::IntoIter<(PathBuf, u64, u64)>,
    current: Option<(File, u64)>,
}

impl Cursor {
    /// Reads the next chunk (blocking).
    fn step(mut self) -> io::Result<(Cursor, Option<Bytes>)> {
        let (mut file, left) = match self.current.take() {
            Some(open) => open,
            None => {
                let Some((path, offset, len)) = self.pieces.next() else {
                    return Ok((self, None));
                };
                let mut file = File::open(&path)?;
                file.seek(SeekFrom::Start(offset))?;
                (file, len)
            }
        };
        let n = left.min(CHUNK as u64);
        let mut chunk = vec![0u8; n as usize];
        file.read_exact(&mut chunk)?;
        if left > n {
            self.current = Some((file, left - n));
        }
        Ok((self, Some(Bytes::from(chunk))))
    }
}

impl Reader {
    async fn next_chunk(&mut self) -> io::Result<Option<Bytes>> {
        let pending = match (self.ahead.take(), self.cursor.take()) {
            (Some(pending), _) => pending,
            (None, Some(cursor)) => tokio::task::spawn_blocking(move || cursor.step()),
            (None, None) => return Ok(None),
        };
        let (cursor, chunk) = settled(pending).await?;
        if chunk.is_some() {
            self.ahead = Some(tokio::task::spawn_blocking(move || cursor.step()));
        }
        Ok(chunk)
    }
}

impl BlobWriter {
    /// Appends `chunk`. Chunks are held until [`CHUNK`] bytes are, then written and hashed on
    /// the blocking pool (two tasks, side by side) while the next ones arrive.
    /// Fails with [`io::ErrorKind::StorageFull`] when the node's object storage is full.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if !self.space.take(chunk.len() as u64) {
            return Err(self.space.full());
        }
        self.len += chunk.len() as u64;
        self.buffered += chunk.len();
        self.buf.push(chunk);
        if self.buffered >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Starts writing and hashing the held chunks, once the previous ones are done.
    async fn flush(&mut self) -> io::Result<()> {
        let (mut file, mut hasher) = self.settle().await?;
        let chunks = Arc::new(std::mem::take(&mut self.buf));
        self.buffered = 0;
        let to_hash = chunks.clone();
        let write = tokio::task::spawn_blocking(move || {
            for chunk in chunks.iter() {
                file.write_all(chunk)?;
            }
            Ok(file)
        });
        let hash = tokio::task::spawn_blocking(move || {
            for chunk in to_hash.iter() {
                hasher.update(chunk);
            }
            Ok(hasher)
        });
        self.in_flight = Some((write, hash));
        Ok(())
    }

    /// The file and hash once the write in flight, if any, is done.
    async fn settle(&mut self) -> io::Result<(File, Md5)> {
        match self.in_flight.take() {
            Some((write, hash)) => {
                let (file, hasher) = (settled(write).await, settled(hash).await);
                Ok((file?, hasher?))
            }
            None => self.state.take().ok_or_else(broken),
        }
    }

    /// Writes what is buffered, fsyncs the file, renames it into `blobs/` under a fresh id and
    /// fsyncs that directory: the blob is durable when this returns.
    pub async fn commit(mut self) -> io::Result<Blob> {
        self.flush().await?;
        let (file, hasher) = self.settle().await?;
        let id = fresh_id();
        let (from, dir) = (self.path.clone(), self.blobs.clone());
        let to = dir.join(&id);
        let md5 = blocking(move || {
            file.sync_all()?;
            drop(file);
            std::fs::rename(&from, &to)?;
            File::open(&dir)?.sync_all()?;
            Ok(<[u8; 16]>::from(hasher.finalize()))
        })
        .await?;
        self.finished = true;
        Ok(Blob {
            id,
            size: self.len,
            md5,
        })
    }
}

impl BlobWriter {
    /// Abandons the blob and removes its staging file before returning (dropping the writer
    /// removes it too, in the background).
    pub async fn discard(mut self) {
        self.finished = true;
        self.space.give_back(self.len);
        let path = std::mem::take(&mut self.path);
        let removed = blocking(move || match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, "staging file not removed");
        }
    }
}

fn broken() -> io::Error {
    io::Error::other("an earlier write to this blob failed")
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.space.give_back(self.len);
        let path = std::mem::take(&mut self.path);
        let remove = move || {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "staging file not removed");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(remove);
            }
            Err(_) => remove(),
        }
    }
}

#[cfg(test)]
mod tests;
