//! The task that owns the metrics' buffer: it aggregates datapoints per series and minute,
//! merges them into the store in batches, and deletes minutes past the retention.

use crate::prometheus::Counters;
use crate::{Command, Datum, Histogram, MINUTE_MS, RETENTION, Sample, emf};
use ignis_store::{MetricMinute, MetricSeries, Store};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// How often the task writes and sweeps.
pub(crate) struct Timing {
    pub flush: Duration,
    pub sweep: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            flush: Duration::from_secs(10),
            sweep: Duration::from_secs(3600),
        }
    }
}

/// Minutes held before a flush is due whatever the time (a bound on the task's memory).
const MAX_PENDING: usize = 50_000;

/// One minute's statistics, being aggregated.
#[derive(Debug, Clone)]
struct Stats {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    histogram: Histogram,
}

impl Stats {
    fn of(sample: &Sample) -> Stats {
        let mut s = Stats {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            histogram: Histogram::default(),
        };
        s.add(sample);
        s
    }

    fn add(&mut self, sample: &Sample) {
        match sample {
            Sample::Values(values) => {
                for (v, n) in values {
                    self.count += n;
                    self.sum += v * n;
                    self.min = self.min.min(*v);
                    self.max = self.max.max(*v);
                    self.histogram.add(*v, *n);
                }
            }
            Sample::Set {
                count,
                sum,
                min,
                max,
            } => {
                self.count += count;
                self.sum += sum;
                self.min = self.min.min(*min);
                self.max = self.max.max(*max);
                self.histogram.summarised();
            }
        }
    }

    fn minute(&self, minute_ms: i64) -> MetricMinute {
        MetricMinute {
            minute_ms,
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            histogram: self.histogram.encode(),
        }
    }
}

/// How a stored minute and a new one become one.
pub(crate) fn merge(into: &mut MetricMinute, more: &MetricMinute) {
    into.count += more.count;
    into.sum += more.sum;
    into.min = into.min.min(more.min);
    into.max = into.max.max(more.max);
    let mut h = Histogram::decode(&into.histogram);
    h.merge(&Histogram::decode(&more.histogram));
    into.histogram = h.encode();
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[derive(Default)]
struct Pending {
    minutes: HashMap<(MetricSeries, i64), Stats>,
}

impl Pending {
    fn add(&mut self, datum: Datum) {
        let minute = datum.timestamp_ms.div_euclid(MINUTE_MS) * MINUTE_MS;
        match self.minutes.get_mut(&(datum.series.clone(), minute)) {
            Some(stats) => stats.add(&datum.sample),
            None => {
                self.minutes
                    .insert((datum.series, minute), Stats::of(&datum.sample));
            }
        }
    }

    async fn flush(&mut self, store: &Store) {
        if self.minutes.is_empty() {
            return;
        }
        let batch: Vec<(MetricSeries, MetricMinute)> = self
            .minutes
            .drain()
            .map(|((series, minute), stats)| (series, stats.minute(minute)))
            .collect();
        if let Err(e) = store.add_metric_minutes(&batch, now_ms(), &merge).await {
            tracing::error!(error = ?e, minutes = batch.len(), "cannot store metrics; these minutes are lost");
        }
    }
}

/// What the task owns besides its channel.
pub(crate) struct Task {
    pub store: Store,
    pub counters: Counters,
    /// Bytes of EMF lines in the channel (the sender adds, the task takes away).
    pub emf_bytes: Arc<AtomicUsize>,
    pub timing: Timing,
}

impl Task {
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Command>) {
        let Task {
            store,
            counters,
            emf_bytes,
            timing,
        } = self;
        let mut pending = Pending::default();
        let mut flush = tokio::time::interval(timing.flush);
        let mut sweep = tokio::time::interval(timing.sweep);
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(Command::Event(event)) => {
                        counters.observe(&event);
                        event.datapoints().into_iter().for_each(|d| pending.add(d));
                    }
                    Some(Command::Emf(line, at_ms)) => {
                        emf_bytes.fetch_sub(line.len(), Ordering::Relaxed);
                        emf::parse(&line, at_ms).into_iter().for_each(|d| pending.add(d));
                    }
                    Some(Command::Put(data)) => data.into_iter().for_each(|d| pending.add(d)),
                    Some(Command::Flush(done)) => {
                        pending.flush(&store).await;
                        let _ = done.send(());
                    }
                    Some(Command::Stop(done)) => {
                        pending.flush(&store).await;
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        pending.flush(&store).await;
                        return;
                    }
                },
                _ = flush.tick() => pending.flush(&store).await,
                _ = sweep.tick() => {
                    let before = now_ms() - i64::try_from(RETENTION.as_millis()).unwrap_or(i64::MAX);
                    match store.expire_metrics(before).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(minutes = n, "metrics past their retention deleted"),
                        Err(e) => tracing::error!(error = ?e, "cannot delete old metrics"),
                    }
                }
            }
            if pending.minutes.len() >= MAX_PENDING {
                pending.flush(&store).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lambda::{Event, Invoked};
    use crate::{Datum, MINUTE_MS, MetricSeries, Metrics, RETENTION, Sample};
    use ignis_store::Store;

    fn series(name: &str) -> MetricSeries {
        MetricSeries {
            namespace: "App".into(),
            name: name.into(),
            dimensions: vec![],
            unit: "Count".into(),
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("metadata.db"), "n")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn datapoints_aggregate_per_minute_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Metrics::start(store(&dir).await);
        // Two whole minutes of today (older ones would be past the retention).
        let base = super::now_ms().div_euclid(MINUTE_MS) * MINUTE_MS - 10 * MINUTE_MS;
        let put = |t: i64, sample: Sample| Datum {
            series: series("Orders"),
            timestamp_ms: base + t,
            sample,
        };
        metrics
            .put(vec![
                put(0, Sample::Values(vec![(1.0, 1.0), (5.0, 2.0)])),
                put(59_999, Sample::Values(vec![(3.0, 1.0)])),
                put(
                    MINUTE_MS,
                    Sample::Set {
                        count: 4.0,
                        sum: 8.0,
                        min: 1.0,
                        max: 3.0,
                    },
                ),
            ])
            .await
            .unwrap();
        metrics.flush().await.unwrap();
        // A second batch for a minute already stored is merged into it.
        metrics
            .put(vec![put(1, Sample::Values(vec![(10.0, 1.0)]))])
            .await
            .unwrap();
        metrics.stop().await;
        let store = store(&dir).await;
        let again = Metrics::start(store);
        let minutes = again
            .minutes(&series("Orders"), base, base + 2 * MINUTE_MS)
            .await
            .unwrap();
        assert_eq!(minutes.len(), 2);
        let first = &minutes[0];
        assert_eq!(
            (first.count, first.sum, first.min, first.max),
            (5.0, 24.0, 1.0, 10.0)
        );
        assert_eq!(
            first.histogram.percentile(100.0, first.min, first.max),
            Some(10.0)
        );
        assert!(
            first
                .histogram
                .percentile(50.0, first.min, first.max)
                .unwrap()
                > 4.9
        );
        // A statistic set has no distribution.
        assert_eq!(minutes[1].histogram.percentile(50.0, 1.0, 3.0), None);
        assert_eq!(minutes[1].count, 4.0);
    }

    #[tokio::test]
    async fn lambda_events_become_aws_lambda_series_and_old_minutes_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let metrics = Metrics::start(store.clone());
        let now = super::now_ms();
        metrics.record(Event::Throttled {
            invoked: Invoked::from_arn("arn:aws:lambda:r:1:function:f"),
            at_ms: now,
        });
        let old = now - i64::try_from(RETENTION.as_millis()).unwrap() - MINUTE_MS;
        metrics
            .put(vec![Datum {
                series: series("Old"),
                timestamp_ms: old,
                sample: Sample::Values(vec![(1.0, 1.0)]),
            }])
            .await
            .unwrap();
        metrics.flush().await.unwrap();
        let lambda = metrics
            .series(Some("AWS/Lambda"), Some("Throttles"))
            .await
            .unwrap();
        assert_eq!(lambda.len(), 2);
        assert_eq!(metrics.dropped(), 0);
        store
            .expire_metrics(now - i64::try_from(RETENTION.as_millis()).unwrap())
            .await
            .unwrap();
        assert!(
            metrics
                .minutes(&series("Old"), 0, now)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
