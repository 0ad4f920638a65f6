//! Metered usage per function: requests and GB-seconds, as Lambda bills them.

use crate::{Store, StoreError};
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::path::Path;

/// Usage of one function (or a batch of it, when added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub function_name: String,
    pub requests: u64,
    /// Sum of Billed Duration (ms) × MemorySize (MB).
    pub mb_ms: u64,
}

impl Usage {
    /// GB-seconds: MB·ms / 1,024 / 1,000.
    pub fn gb_seconds(&self) -> f64 {
        self.mb_ms as f64 / 1024.0 / 1000.0
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

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

impl Store {
    /// Adds a batch of counts (one transaction).
    pub async fn add_usage(&self, batch: &[Usage], now_ms: i64) -> Result<(), StoreError> {
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

    /// Usage of every function that has been invoked, by name.
    pub async fn function_usage(&self) -> Result<Vec<Usage>, StoreError> {
        rows_to_usage(sqlx::query(SELECT).fetch_all(&self.pool).await?)
    }
}

/// Reads the usage table of the database at `path` without opening the store (no migrations, no
/// writes), so it works beside a running node.
pub async fn read_usage(path: &Path) -> Result<Vec<Usage>, StoreError> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let rows = sqlx::query(SELECT).fetch_all(&pool).await;
    pool.close().await;
    match rows {
        Ok(rows) => rows_to_usage(rows),
        // A database from before usage was metered.
        Err(sqlx::Error::Database(e)) if e.message().contains("no such table") => Ok(vec![]),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn usage_adds_up_and_reads_beside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        let store = Store::open(&path, "node-test").await.unwrap();
        let u = |name: &str, requests, mb_ms| Usage {
            function_name: name.into(),
            requests,
            mb_ms,
        };
        store
            .add_usage(&[u("b", 1, 128 * 27), u("a", 2, 256 * 100)], 1)
            .await
            .unwrap();
        store.add_usage(&[u("b", 3, 128 * 3)], 2).await.unwrap();
        store.add_usage(&[], 3).await.unwrap();
        let all = store.function_usage().await.unwrap();
        assert_eq!(all, vec![u("a", 2, 25_600), u("b", 4, 3_840)]);
        assert_eq!(read_usage(&path).await.unwrap(), all);
        // 1,024 MB for one second is one GB-second.
        assert_eq!(u("x", 1, 1024 * 1000).gb_seconds(), 1.0);
    }
}
