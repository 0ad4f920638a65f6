//! The durable queue of asynchronous invocations.

use super::SqliteBackend;
use crate::backend::QueueRows;
use crate::{AsyncEvent, StoreError};
use async_trait::async_trait;
use sqlx::Row;

/// Inserts one event, due at `now_ms`: the one insert of the queue, on the pool or in a
/// transaction of another area (an object write and its notifications).
pub(super) async fn insert_event<'e, E>(
    executor: E,
    event: &AsyncEvent,
    now_ms: i64,
) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO async_events (request_id, function_name, qualifier, invoked_arn, payload, enqueued_ms, attempts, next_attempt_ms, trace, faas_trigger) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&event.request_id)
    .bind(&event.function_name)
    .bind(&event.qualifier)
    .bind(&event.invoked_arn)
    .bind(&event.payload)
    .bind(event.enqueued_ms)
    .bind(i64::from(event.attempts))
    .bind(now_ms)
    .bind(&event.trace)
    .bind(&event.trigger)
    .execute(executor)
    .await?;
    Ok(())
}

#[async_trait]
impl QueueRows for SqliteBackend {
    async fn enqueue(&self, event: &AsyncEvent, now_ms: i64) -> Result<(), StoreError> {
        insert_event(&self.pool, event, now_ms).await
    }

    async fn lease_due(
        &self,
        node: &str,
        now_ms: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AsyncEvent>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT request_id, function_name, qualifier, invoked_arn, payload, enqueued_ms, attempts, trace, faas_trigger FROM async_events WHERE next_attempt_ms <= $1 AND (leased_until_ms IS NULL OR leased_until_ms <= $1) ORDER BY next_attempt_ms LIMIT $2",
        )
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let events: Vec<AsyncEvent> = rows
            .iter()
            .map(|r| AsyncEvent {
                request_id: r.get(0),
                function_name: r.get(1),
                qualifier: r.get(2),
                invoked_arn: r.get(3),
                payload: r.get(4),
                enqueued_ms: r.get(5),
                attempts: u32::try_from(r.get::<i64, _>(6)).unwrap_or(u32::MAX),
                trace: r.get(7),
                trigger: r.get(8),
            })
            .collect();
        for e in &events {
            sqlx::query(
                "UPDATE async_events SET leased_until_ms = $2, lease_owner = $3 WHERE request_id = $1",
            )
            .bind(&e.request_id)
            .bind(now_ms + lease_ms)
            .bind(node)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(events)
    }

    async fn ack(&self, request_id: &str) -> Result<Option<(String, u64)>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM async_events WHERE request_id = $1 RETURNING function_name, LENGTH(payload)",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get(0), r.get::<i64, _>(1).max(0) as u64)))
    }

    async fn retry_later(
        &self,
        request_id: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE async_events SET attempts = $2, next_attempt_ms = $3, leased_until_ms = NULL, lease_owner = NULL WHERE request_id = $1",
        )
        .bind(request_id)
        .bind(i64::from(attempts))
        .bind(next_attempt_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn queued_events(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM async_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.max(0) as u64)
    }

    async fn queued_bytes(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT function_name, COALESCE(SUM(LENGTH(payload)), 0) FROM async_events GROUP BY function_name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<i64, _>(1).max(0) as u64))
            .collect())
    }

    async fn release_leases(&self, node: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE async_events SET leased_until_ms = NULL, lease_owner = NULL WHERE lease_owner = $1 OR lease_owner IS NULL",
        )
        .bind(node)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
