//! CloudWatch metric series and their minutes.

use super::SqliteBackend;
use crate::StoreError;
use crate::backend::MetricRows;
use crate::metrics::{MergeMinute, MetricMinute, MetricSeries};
use async_trait::async_trait;
use sqlx::Row;

fn dimensions_text(series: &MetricSeries) -> String {
    serde_json::to_string(&series.dimensions).unwrap_or_else(|_| "[]".into())
}

fn minute_of(r: &sqlx::sqlite::SqliteRow) -> Result<MetricMinute, StoreError> {
    Ok(MetricMinute {
        minute_ms: r.try_get("minute_ms")?,
        count: r.try_get("sample_count")?,
        sum: r.try_get("sum")?,
        min: r.try_get("minimum")?,
        max: r.try_get("maximum")?,
        histogram: r.try_get("histogram")?,
    })
}

#[async_trait]
impl MetricRows for SqliteBackend {
    async fn add_metric_minutes(
        &self,
        batch: &[(MetricSeries, MetricMinute)],
        now_ms: i64,
        merge: &MergeMinute,
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for (series, minute) in batch {
            let id: i64 = sqlx::query(
                "INSERT INTO metric_series (namespace, metric_name, dimensions, unit, last_ms) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (namespace, metric_name, dimensions, unit) \
                 DO UPDATE SET last_ms = MAX(last_ms, excluded.last_ms) RETURNING id",
            )
            .bind(&series.namespace)
            .bind(&series.name)
            .bind(dimensions_text(series))
            .bind(&series.unit)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            let stored = sqlx::query(
                "SELECT minute_ms, sample_count, sum, minimum, maximum, histogram FROM metric_minutes \
                 WHERE series_id = $1 AND minute_ms = $2",
            )
            .bind(id)
            .bind(minute.minute_ms)
            .fetch_optional(&mut *tx)
            .await?;
            let merged = match stored {
                Some(row) => {
                    let mut stored = minute_of(&row)?;
                    merge(&mut stored, minute);
                    stored
                }
                None => minute.clone(),
            };
            sqlx::query(
                "INSERT INTO metric_minutes (series_id, minute_ms, sample_count, sum, minimum, maximum, histogram) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (series_id, minute_ms) DO UPDATE SET sample_count = excluded.sample_count, \
                 sum = excluded.sum, minimum = excluded.minimum, maximum = excluded.maximum, \
                 histogram = excluded.histogram",
            )
            .bind(id)
            .bind(merged.minute_ms)
            .bind(merged.count)
            .bind(merged.sum)
            .bind(merged.min)
            .bind(merged.max)
            .bind(&merged.histogram)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn metric_series(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<(MetricSeries, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT namespace, metric_name, dimensions, unit, last_ms FROM metric_series \
             WHERE ($1 IS NULL OR namespace = $1) AND ($2 IS NULL OR metric_name = $2) \
             ORDER BY namespace, metric_name, dimensions, unit",
        )
        .bind(namespace)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let dimensions: String = r.try_get("dimensions")?;
                Ok((
                    MetricSeries {
                        namespace: r.try_get("namespace")?,
                        name: r.try_get("metric_name")?,
                        dimensions: serde_json::from_str(&dimensions).map_err(|source| {
                            StoreError::Corrupt {
                                name: format!("metric series {dimensions}"),
                                source,
                            }
                        })?,
                        unit: r.try_get("unit")?,
                    },
                    r.try_get("last_ms")?,
                ))
            })
            .collect()
    }

    async fn metric_minutes(
        &self,
        series: &MetricSeries,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MetricMinute>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.minute_ms, m.sample_count, m.sum, m.minimum, m.maximum, m.histogram \
             FROM metric_minutes m JOIN metric_series s ON s.id = m.series_id \
             WHERE s.namespace = $1 AND s.metric_name = $2 AND s.dimensions = $3 AND s.unit = $4 \
             AND m.minute_ms >= $5 AND m.minute_ms < $6 ORDER BY m.minute_ms",
        )
        .bind(&series.namespace)
        .bind(&series.name)
        .bind(dimensions_text(series))
        .bind(&series.unit)
        .bind(start_ms)
        .bind(end_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(minute_of).collect()
    }

    async fn expire_metrics(&self, before_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let gone = sqlx::query("DELETE FROM metric_minutes WHERE minute_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query(
            "DELETE FROM metric_series WHERE last_ms < $1 AND NOT EXISTS \
             (SELECT 1 FROM metric_minutes m WHERE m.series_id = metric_series.id)",
        )
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(gone)
    }
}
