//! The node's metrics: CloudWatch's datapoints at one-minute resolution, kept 15 days in the
//! node's store, and the counters the Prometheus endpoint shows its operators.
//!
//! Recording never waits and never touches disk: the engine and the invoker hand a
//! [`lambda::Event`] (or an EMF line, parsed here, off their path) to [`Metrics::record`], which
//! puts it on a bounded channel or, when it is full, drops it and counts it
//! ([`Metrics::dropped`]). One task owns the channel's other end: it aggregates each
//! (namespace, metric, dimension set, unit) per minute (SampleCount, Sum, Minimum, Maximum and
//! a [`Histogram`] for percentiles), merges its minutes into the store every few seconds (and
//! before every read, so what was recorded is read back), and deletes minutes past the
//! retention. PutMetricData's datapoints ([`Metrics::put`]) take the same road but wait for
//! room.
//!
//! It does not own the CloudWatch wire (`ignis-cloudwatch`), SQL (`ignis-store`), or what is
//! measured (the engine and the invoker say).

mod aggregate;
pub mod emf;
mod histogram;
pub mod lambda;
pub mod prometheus;

pub use histogram::Histogram;
pub use ignis_store::MetricSeries;

use ignis_store::{Store, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// CloudWatch's units (`StandardUnit`).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// How long minutes are kept (CloudWatch keeps one-minute datapoints 15 days).
pub const RETENTION: Duration = Duration::from_secs(15 * 24 * 3600);
/// Records waiting for the aggregating task; past this they are dropped and counted.
pub const BUFFER: usize = 16 * 1024;
/// Bytes of EMF lines waiting for the aggregating task (a line may be 256 KiB); past this
/// they are dropped and counted.
pub const EMF_BYTES: usize = 8 * 1024 * 1024;
/// One minute, in milliseconds.
pub const MINUTE_MS: i64 = 60_000;

/// Values of one datapoint.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// Values, each with how many times it occurred.
    Values(Vec<(f64, f64)>),
    /// A statistic set: no distribution.
    Set {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

/// A datapoint of one series at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub series: MetricSeries,
    pub timestamp_ms: i64,
    pub sample: Sample,
}

/// One minute of one series, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Minute {
    pub minute_ms: i64,
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub histogram: Histogram,
}

enum Command {
    Event(lambda::Event),
    /// A line a function printed that may be EMF.
    Emf(String, i64),
    Put(Vec<Datum>),
    Flush(oneshot::Sender<()>),
    Stop(oneshot::Sender<()>),
}

/// The metrics were stopped (the node is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the node's metrics are stopped")]
pub struct Stopped;

/// The node's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    tx: mpsc::Sender<Command>,
    dropped: Arc<AtomicU64>,
    /// Bytes of EMF lines in the buffer.
    emf_bytes: Arc<AtomicUsize>,
    store: Store,
    counters: prometheus::Counters,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Starts the aggregating task over `store`.
    pub fn start(store: Store) -> Metrics {
        let (tx, rx) = mpsc::channel(BUFFER);
        let counters = prometheus::Counters::default();
        let emf_bytes = Arc::<AtomicUsize>::default();
        let task = aggregate::Task {
            store: store.clone(),
            counters: counters.clone(),
            emf_bytes: emf_bytes.clone(),
            timing: aggregate::Timing::default(),
        };
        tokio::spawn(task.run(rx));
        Metrics {
            tx,
            dropped: Arc::default(),
            emf_bytes,
            store,
            counters,
        }
    }

    /// Records a Lambda event without waiting: a full buffer drops it (and counts it).
    pub fn record(&self, event: lambda::Event) {
        self.offer(Command::Event(event));
    }

    /// Offers a line a function printed: if it is EMF, its metrics are recorded (parsed off
    /// the caller's path; a full buffer drops it, counted).
    pub fn log_line(&self, line: &str, now_ms: i64) {
        if !emf::may_be_emf(line) {
            return;
        }
        let held = self.emf_bytes.fetch_add(line.len(), Ordering::Relaxed);
        if held + line.len() > EMF_BYTES
            || self
                .tx
                .try_send(Command::Emf(line.to_string(), now_ms))
                .is_err()
        {
            self.emf_bytes.fetch_sub(line.len(), Ordering::Relaxed);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn offer(&self, command: Command) {
        if self.tx.try_send(command).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds datapoints (PutMetricData), waiting for room in the buffer.
    pub async fn put(&self, data: Vec<Datum>) -> Result<(), Stopped> {
        self.tx.send(Command::Put(data)).await.map_err(|_| Stopped)
    }

    /// Records dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Merges everything recorded so far into the store.
    pub async fn flush(&self) -> Result<(), Stopped> {
        let (done, flushed) = oneshot::channel();
        self.tx
            .send(Command::Flush(done))
            .await
            .map_err(|_| Stopped)?;
        flushed.await.map_err(|_| Stopped)
    }

    /// Flushes and stops the aggregating task (at shutdown, before the store closes).
    pub async fn stop(&self) {
        let (done, stopped) = oneshot::channel();
        if self.tx.send(Command::Stop(done)).await.is_ok() {
            let _ = stopped.await;
        }
    }

    /// Every series of a namespace and name (any when `None`), with its last datapoint's
    /// time, as stored (call [`Metrics::flush`] first to include what was just recorded).
    pub async fn series(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<(MetricSeries, i64)>, StoreError> {
        self.store.metric_series(namespace, name).await
    }

    /// The minutes of `series` in `[start_ms, end_ms)`.
    pub async fn minutes(
        &self,
        series: &MetricSeries,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<Minute>, StoreError> {
        let rows = self.store.metric_minutes(series, start_ms, end_ms).await?;
        Ok(rows
            .into_iter()
            .map(|m| Minute {
                minute_ms: m.minute_ms,
                count: m.count,
                sum: m.sum,
                min: m.min,
                max: m.max,
                histogram: Histogram::decode(&m.histogram),
            })
            .collect())
    }

    /// The per-function counters the Prometheus endpoint shows.
    pub fn counters(&self) -> &prometheus::Counters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("metadata.db"), "n")
            .await
            .unwrap();
        // A buffer of one that nobody reads.
        let (tx, _rx) = mpsc::channel(1);
        let metrics = Metrics {
            tx,
            dropped: Arc::default(),
            emf_bytes: Arc::default(),
            store,
            counters: prometheus::Counters::default(),
        };
        let event = || lambda::Event::Throttled {
            invoked: lambda::Invoked::from_arn("arn:aws:lambda:r:1:function:f"),
            at_ms: 0,
        };
        metrics.record(event());
        metrics.record(event());
        assert_eq!(metrics.dropped(), 1);
        // Not EMF: not even offered.
        metrics.log_line("plain text", 0);
        assert_eq!(metrics.dropped(), 1);
        // EMF past the byte bound is dropped before it is copied.
        let huge = format!("{{\"_aws\": {{}}, \"pad\": \"{}\"}}", "x".repeat(EMF_BYTES));
        metrics.log_line(&huge, 0);
        assert_eq!(metrics.dropped(), 2);
        assert_eq!(metrics.emf_bytes.load(Ordering::Relaxed), 0);
    }
}
