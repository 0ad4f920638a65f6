//! Metered usage per function.

use super::{SqliteBackend, as_i64};
use crate::backend::UsageRows;
use crate::{StoreError, Usage};
use async_trait::async_trait;
use sqlx::Row;
use std::path::Path;

fn rows_to_usage(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Vec<Usage>, StoreError> {
    rows.into_iter()
        .map(|r| {
            Ok(Usage {
                function_name: r.try_get("function_name")?,
                requests: r.try_get::<i64, _>("requests")?.max(0) as u64,
                mb_ms: r.try_get::<i64, _>("mb_ms")?.max(0) as u64,
            })
        })
        .collect()
}

const SELECT: &str =
    "SELECT function_name, requests, mb_ms FROM function_usage ORDER BY function_name";

#[async_trait]
impl UsageRows for SqliteBackend {
    async fn add_usage(&self, batch: &[Usage], now_ms: i64) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for u in batch {
            sqlx::query(
                "INSERT INTO function_usage (function_name, requests, mb_ms, updated_ms) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (function_name) DO UPDATE SET requests = requests + excluded.requests, \
                 mb_ms = mb_ms + excluded.mb_ms, updated_ms = excluded.updated_ms",
            )
            .bind(&u.function_name)
            .bind(as_i64(u.requests))
            .bind(as_i64(u.mb_ms))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn function_usage(&self) -> Result<Vec<Usage>, StoreError> {
        rows_to_usage(sqlx::query(SELECT).fetch_all(&self.pool).await?)
    }
}

/// Reads the usage table of the SQLite database at `path` without opening the store (no
/// migrations, no writes), so it works beside a running node.
pub async fn read_usage(path: &Path) -> Result<Vec<Usage>, StoreError> {
    let pool = super::read_only_pool(path).await?;
    let rows = sqlx::query(SELECT).fetch_all(&pool).await;
    pool.close().await;
    match rows {
        Ok(rows) => rows_to_usage(rows),
        // A database from before usage was metered.
        Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => Ok(vec![]),
        Err(e) => Err(e.into()),
    }
}
