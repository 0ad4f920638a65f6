//! Asynchronous invocation configurations.

use super::SqliteBackend;
use crate::StoreError;
use crate::backend::InvokeConfigRows;
use crate::shapes::INVOKE_CONFIG;
use async_trait::async_trait;
use ignis_model::invoke_config::EventInvokeConfig;
use sqlx::Row;

fn decode(row: &sqlx::sqlite::SqliteRow) -> Result<EventInvokeConfig, StoreError> {
    let name = format!("{}:{}", row.get::<&str, _>(0), row.get::<&str, _>(1));
    INVOKE_CONFIG.decode(&name, row.get(2))
}

#[async_trait]
impl InvokeConfigRows for SqliteBackend {
    async fn put_invoke_config(&self, config: &EventInvokeConfig) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let function: Option<i64> = sqlx::query_scalar("SELECT 1 FROM functions WHERE name = $1")
            .bind(&config.function)
            .fetch_optional(&mut *tx)
            .await?;
        if function.is_none() {
            return Err(StoreError::NotFound(config.function.clone()));
        }
        sqlx::query(
            "INSERT INTO event_invoke_configs (function_name, qualifier, config) VALUES ($1, $2, $3) \
             ON CONFLICT (function_name, qualifier) DO UPDATE SET config = excluded.config",
        )
        .bind(&config.function)
        .bind(&config.qualifier)
        .bind(INVOKE_CONFIG.encode(config))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<EventInvokeConfig>, StoreError> {
        let row = sqlx::query(
            "SELECT function_name, qualifier, config FROM event_invoke_configs \
             WHERE function_name = $1 AND qualifier = $2",
        )
        .bind(function)
        .bind(qualifier)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode).transpose()
    }

    async fn invoke_configs(&self, function: &str) -> Result<Vec<EventInvokeConfig>, StoreError> {
        let rows = sqlx::query(
            "SELECT function_name, qualifier, config FROM event_invoke_configs \
             WHERE function_name = $1 ORDER BY qualifier",
        )
        .bind(function)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    async fn delete_invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        Ok(delete_row(&self.pool, function, qualifier).await? > 0)
    }
}

/// Deletes the configuration of a function and qualifier; how many rows went.
pub(super) async fn delete_row<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
    function: &str,
    qualifier: &str,
) -> Result<u64, StoreError> {
    let deleted =
        sqlx::query("DELETE FROM event_invoke_configs WHERE function_name = $1 AND qualifier = $2")
            .bind(function)
            .bind(qualifier)
            .execute(executor)
            .await?;
    Ok(deleted.rows_affected())
}
