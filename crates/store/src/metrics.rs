//! CloudWatch metrics at one-minute resolution: series and their minutes. What a minute's
//! distribution means is `ignis-metrics`'s (the store keeps its bytes and merges nothing
//! itself: the caller's merge runs inside the transaction that reads the stored minute).

use crate::{Store, StoreError};

/// One series: a metric with one dimension set and one unit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricSeries {
    pub namespace: String,
    pub name: String,
    /// Sorted by name, names unique.
    pub dimensions: Vec<(String, String)>,
    pub unit: String,
}

/// One minute of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricMinute {
    /// The minute's start, epoch milliseconds.
    pub minute_ms: i64,
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    /// The distribution, in `ignis-metrics`' encoding.
    pub histogram: Vec<u8>,
}

/// How a minute already stored and one being added become one.
pub type MergeMinute = dyn Fn(&mut MetricMinute, &MetricMinute) + Send + Sync;

impl Store {
    /// Adds minutes to their series (one transaction): a minute already stored is merged with
    /// the new one by `merge`; each series' `last_ms` becomes at least `now_ms`.
    pub async fn add_metric_minutes(
        &self,
        batch: &[(MetricSeries, MetricMinute)],
        now_ms: i64,
        merge: &MergeMinute,
    ) -> Result<(), StoreError> {
        self.backend.add_metric_minutes(batch, now_ms, merge).await
    }

    /// Every series of `namespace` (all when `None`) named `name` (any when `None`), with when
    /// each last had a datapoint, in (namespace, name, dimensions, unit) order.
    pub async fn metric_series(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<(MetricSeries, i64)>, StoreError> {
        self.backend.metric_series(namespace, name).await
    }

    /// The minutes of `series` from `start_ms` (inclusive) to `end_ms` (exclusive), in order.
    pub async fn metric_minutes(
        &self,
        series: &MetricSeries,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MetricMinute>, StoreError> {
        self.backend.metric_minutes(series, start_ms, end_ms).await
    }

    /// Deletes the minutes before `before_ms`, and the series left with none that had no
    /// datapoint since then. Answers how many minutes went.
    pub async fn expire_metrics(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.backend.expire_metrics(before_ms).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(minute_ms: i64, v: f64) -> MetricMinute {
        MetricMinute {
            minute_ms,
            count: 1.0,
            sum: v,
            min: v,
            max: v,
            histogram: vec![1],
        }
    }

    fn add(into: &mut MetricMinute, more: &MetricMinute) {
        into.count += more.count;
        into.sum += more.sum;
        into.min = into.min.min(more.min);
        into.max = into.max.max(more.max);
        into.histogram.extend_from_slice(&more.histogram);
    }

    #[tokio::test]
    async fn minutes_merge_read_back_in_order_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("metadata.db"), "node-test")
            .await
            .unwrap();
        let series = MetricSeries {
            namespace: "AWS/Lambda".into(),
            name: "Duration".into(),
            dimensions: vec![("FunctionName".into(), "f".into())],
            unit: "Milliseconds".into(),
        };
        let batch = [
            (series.clone(), minute(120_000, 5.0)),
            (series.clone(), minute(60_000, 2.0)),
        ];
        store.add_metric_minutes(&batch, 1, &add).await.unwrap();
        store
            .add_metric_minutes(&[(series.clone(), minute(60_000, 7.0))], 2, &add)
            .await
            .unwrap();
        let minutes = store.metric_minutes(&series, 0, 180_000).await.unwrap();
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].minute_ms, 60_000);
        assert_eq!((minutes[0].count, minutes[0].sum), (2.0, 9.0));
        assert_eq!((minutes[0].min, minutes[0].max), (2.0, 7.0));
        assert_eq!(minutes[0].histogram, vec![1, 1]);
        assert_eq!(
            store.metric_series(Some("AWS/Lambda"), None).await.unwrap(),
            vec![(series.clone(), 2)]
        );
        assert!(
            store
                .metric_series(Some("Other"), None)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.expire_metrics(120_000).await.unwrap(), 1);
        assert_eq!(
            store
                .metric_minutes(&series, 0, 180_000)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.expire_metrics(200_000).await.unwrap(), 1);
        assert!(store.metric_series(None, None).await.unwrap().is_empty());
    }
}
