//! An environment's log output: the runtime's stdout and stderr lines and the platform's own
//! lines, written to the environment's log stream and, while an invocation asked for it, to that
//! invocation's tail.
//!
//! Each pipe is drained by a pump task. [`Pumps::sync`] makes sure every byte the runtime wrote
//! before a moment (its `/response`) has been turned into lines: the pump asks the kernel how many
//! bytes wait in the pipe (`FIONREAD`) and reads until it has consumed them, so the tail of an
//! invocation includes all it printed, without a fixed sleep on the hot path.
//!
//! Every buffer here has a byte bound, whatever the function prints: a pump reads
//! [`READ_CHUNK`] at a time, a line being assembled holds at most [`MAX_LINE_BYTES`] (a longer one
//! becomes several records, as on Lambda), a tail at most a few times [`TAIL_BYTES`], and the log
//! store's queue is bounded in bytes ([`ignis_logs::QUEUE_BYTES`]): what it cannot take is
//! dropped, counted and reported in the function's own stream, never held here.

use crate::launcher::OutputPipe;
use crate::platform::{Controls, Event};
use ignis_logs::LogStore;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

/// Bytes of log text returned to a `LogType: Tail` caller.
pub const TAIL_BYTES: usize = 4096;
/// Longest line kept whole; a longer one is cut into records of this size.
const MAX_LINE_BYTES: usize = ignis_logs::MAX_MESSAGE_BYTES;
const READ_CHUNK: usize = 16 * 1024;
/// A line buffer that grew past this for a long line is freed once the line is written, so
/// idle environments do not each keep [`MAX_LINE_BYTES`] per pipe.
const KEEP_LINE_CAPACITY: usize = 16 * 1024;

/// The last [`TAIL_BYTES`] of an invocation's log text.
#[derive(Debug, Default)]
pub(crate) struct Tail {
    buf: Vec<u8>,
}

impl Tail {
    fn push(&mut self, line: &str) {
        // Only a line's last bytes can end up in the tail.
        let bytes = line.as_bytes();
        self.buf
            .extend_from_slice(&bytes[bytes.len().saturating_sub(TAIL_BYTES)..]);
        self.buf.push(b'\n');
        if self.buf.len() > 2 * TAIL_BYTES {
            let cut = self.buf.len() - TAIL_BYTES;
            self.buf.drain(..cut);
        }
    }

    /// The last [`TAIL_BYTES`] bytes.
    pub fn last_bytes(&self) -> &[u8] {
        &self.buf[self.buf.len().saturating_sub(TAIL_BYTES)..]
    }
}

/// Where an environment's lines go, in the function's log format.
pub(crate) struct Output {
    logs: LogStore,
    group: String,
    stream: String,
    controls: Controls,
    tail: Mutex<Option<Tail>>,
    /// Where the function's EMF lines become metrics.
    metrics: Option<ignis_metrics::Metrics>,
}

impl Output {
    pub fn new(
        logs: LogStore,
        group: String,
        stream: String,
        controls: Controls,
        metrics: Option<ignis_metrics::Metrics>,
    ) -> Output {
        Output {
            logs,
            group,
            stream,
            controls,
            tail: Mutex::new(None),
            metrics,
        }
    }

    /// Writes a platform event in the function's log format, unless its level filters it out.
    pub fn platform(&self, event: &Event<'_>) {
        if let Some(line) = self.controls.render(event) {
            self.line(&line);
        }
    }

    /// Writes a line the function printed, unless `ApplicationLogLevel` filters it out; a
    /// line in the Embedded Metric Format also becomes metrics, as CloudWatch Logs makes them.
    fn function_line(&self, line: &str) {
        if self.controls.keeps_function_line(line) {
            self.line(line);
            if let Some(metrics) = &self.metrics {
                metrics.log_line(line, chrono::Utc::now().timestamp_millis());
            }
        }
    }

    /// Writes one line now.
    pub fn line(&self, line: &str) {
        self.logs.append(
            &self.group,
            &self.stream,
            chrono::Utc::now().timestamp_millis(),
            line,
        );
        if let Some(tail) = self
            .tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            tail.push(line);
        }
    }

    /// Starts (or restarts, empty) collecting a tail.
    pub fn start_tail(&self) {
        *self.tail.lock().unwrap_or_else(PoisonError::into_inner) = Some(Tail::default());
    }

    /// Stops collecting and returns what was collected.
    pub fn take_tail(&self) -> Option<Tail> {
        self.tail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The pump tasks of one environment.
pub(crate) struct Pumps {
    syncs: Vec<mpsc::Sender<oneshot::Sender<()>>>,
}

impl Pumps {
    pub fn start(pipes: Vec<Box<dyn OutputPipe>>, out: Arc<Output>) -> Pumps {
        let syncs = pipes
            .into_iter()
            .map(|pipe| {
                let (tx, rx) = mpsc::channel(1);
                tokio::spawn(pump(pipe, out.clone(), rx));
                tx
            })
            .collect();
        Pumps { syncs }
    }

    /// Waits (at most `cap`) until everything written to the pipes so far has become lines.
    pub async fn sync(&self, cap: Duration) {
        let all = async {
            for s in &self.syncs {
                let (done, wait) = oneshot::channel();
                if s.send(done).await.is_ok() {
                    let _ = wait.await;
                }
            }
        };
        let _ = tokio::time::timeout(cap, all).await;
    }
}

struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn feed(&mut self, mut bytes: &[u8], out: &Output) {
        while !bytes.is_empty() {
            let room = MAX_LINE_BYTES - self.partial.len();
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) if i <= room => {
                    self.partial.extend_from_slice(&bytes[..i]);
                    self.emit(out);
                    bytes = &bytes[i + 1..];
                }
                _ => {
                    let take = bytes.len().min(room);
                    self.partial.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.partial.len() >= MAX_LINE_BYTES {
                        self.emit(out);
                    }
                }
            }
        }
    }

    /// Writes the pending bytes (if any) as a line.
    fn emit(&mut self, out: &Output) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        out.function_line(&String::from_utf8_lossy(&self.partial));
        if self.partial.capacity() > KEEP_LINE_CAPACITY {
            self.partial = Vec::new();
        } else {
            self.partial.clear();
        }
    }

    fn flush(&mut self, out: &Output) {
        if !self.partial.is_empty() {
            self.emit(out);
        }
    }
}

fn pending_bytes(pipe: &dyn OutputPipe) -> u64 {
    rustix::io::ioctl_fionread(pipe.as_fd()).unwrap_or(0)
}

async fn pump(
    mut pipe: Box<dyn OutputPipe>,
    out: Arc<Output>,
    mut syncs: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut lines = LineSplitter {
        partial: Vec::new(),
    };
    let mut consumed: u64 = 0;
    // A sync waiting for the pump to have consumed this many bytes.
    let mut waiting: Option<(u64, oneshot::Sender<()>)> = None;
    let mut syncs_open = true;
    loop {
        tokio::select! {
            biased;
            req = syncs.recv(), if syncs_open && waiting.is_none() => match req {
                Some(done) => {
                    let pending = pending_bytes(&*pipe);
                    if pending == 0 {
                        lines.flush(&out);
                        let _ = done.send(());
                    } else {
                        waiting = Some((consumed + pending, done));
                    }
                }
                None => syncs_open = false,
            },
            read = pipe.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                consumed += n as u64;
                lines.feed(&buf[..n], &out);
                if waiting.as_ref().is_some_and(|(target, _)| consumed >= *target) {
                    lines.flush(&out);
                    if let Some((_, done)) = waiting.take() {
                        let _ = done.send(());
                    }
                }
            }
        }
    }
    lines.flush(&out);
    if let Some((_, done)) = waiting.take() {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_4k() {
        let mut t = Tail::default();
        for i in 0..1000 {
            t.push(&format!("line {i:04}"));
        }
        let last = t.last_bytes();
        assert_eq!(last.len(), TAIL_BYTES);
        assert!(String::from_utf8_lossy(last).ends_with("line 0999\n"));
        let mut small = Tail::default();
        small.push("START");
        assert_eq!(small.last_bytes(), b"START\n");
    }

    #[test]
    fn a_tail_of_huge_lines_stays_small() {
        let mut t = Tail::default();
        let line = "x".repeat(MAX_LINE_BYTES);
        for _ in 0..10 {
            t.push(&line);
            assert!(t.buf.len() <= 3 * TAIL_BYTES + 1, "{}", t.buf.len());
        }
        t.push("last");
        assert!(t.last_bytes().ends_with(b"x\nlast\n"));
    }

    #[tokio::test]
    async fn a_line_without_end_is_cut_into_bounded_records() {
        let dir = tempfile::tempdir().unwrap();
        let logs = LogStore::open(dir.path(), 64 << 20).unwrap();
        let out = Output::new(logs.clone(), "g".into(), "s".into(), Controls::Text, None);
        let mut lines = LineSplitter {
            partial: Vec::new(),
        };
        // 600 KiB with no newline, then "end\n", then a short line, fed in pump-sized chunks.
        let mut input = vec![b'a'; 600 * 1024];
        input.extend_from_slice(b"end\nshort\r\n");
        for chunk in input.chunks(READ_CHUNK) {
            lines.feed(chunk, &out);
            assert!(lines.partial.len() < MAX_LINE_BYTES);
        }
        // What is left of a long line does not keep its large buffer.
        assert!(lines.partial.capacity() <= KEEP_LINE_CAPACITY);
        logs.flush().await;
        let got: Vec<_> = logs
            .read("g", None, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.message)
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].len(), MAX_LINE_BYTES);
        assert_eq!(got[1].len(), MAX_LINE_BYTES);
        assert_eq!(got[2].len(), 600 * 1024 - 2 * MAX_LINE_BYTES + 3);
        assert!(got[2].ends_with("aend"));
        assert_eq!(got[3], "short");
    }
}
