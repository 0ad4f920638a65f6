//! Function URL configurations.

use super::SqliteBackend;
use crate::StoreError;
use crate::backend::UrlRows;
use crate::shapes::FUNCTION_URL;
use crate::urls::{qualifier_key, target_name};
use async_trait::async_trait;
use ignis_model::url::FunctionUrl;
use sqlx::Row;

#[async_trait]
impl UrlRows for SqliteBackend {
    async fn all_function_urls(&self) -> Result<Vec<FunctionUrl>, StoreError> {
        let rows = sqlx::query("SELECT url_id, config FROM function_urls")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| FUNCTION_URL.decode(r.get::<&str, _>(0), r.get(1)))
            .collect()
    }

    async fn create_function_url(&self, url: &FunctionUrl) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let function: Option<i64> = sqlx::query_scalar("SELECT 1 FROM functions WHERE name = $1")
            .bind(&url.function)
            .fetch_optional(&mut *tx)
            .await?;
        if function.is_none() {
            return Err(StoreError::NotFound(url.function.clone()));
        }
        if let Some(alias) = &url.qualifier {
            let found: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM aliases WHERE function_name = $1 AND name = $2")
                    .bind(&url.function)
                    .bind(alias)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(StoreError::AliasNotFound(alias.clone()));
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO function_urls (url_id, function_name, qualifier, config) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&url.url_id)
        .bind(&url.function)
        .bind(qualifier_key(url.qualifier.as_deref()))
        .bind(FUNCTION_URL.encode(url))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::UrlExists(target_name(
                &url.function,
                url.qualifier.as_deref(),
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_function_url(&self, url: &FunctionUrl) -> Result<(), StoreError> {
        let updated = sqlx::query(
            "UPDATE function_urls SET config = $3 WHERE function_name = $1 AND qualifier = $2",
        )
        .bind(&url.function)
        .bind(qualifier_key(url.qualifier.as_deref()))
        .bind(FUNCTION_URL.encode(url))
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::UrlNotFound(target_name(
                &url.function,
                url.qualifier.as_deref(),
            )));
        }
        Ok(())
    }

    async fn delete_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), StoreError> {
        let deleted = delete_url_row(&self.pool, function, qualifier_key(qualifier)).await?;
        if deleted == 0 {
            return Err(StoreError::UrlNotFound(target_name(function, qualifier)));
        }
        Ok(())
    }
}

/// Deletes the URL row of a function and qualifier column; how many rows went.
pub(super) async fn delete_url_row<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
    function: &str,
    qualifier: &str,
) -> Result<u64, StoreError> {
    let deleted =
        sqlx::query("DELETE FROM function_urls WHERE function_name = $1 AND qualifier = $2")
            .bind(function)
            .bind(qualifier)
            .execute(executor)
            .await?;
    Ok(deleted.rows_affected())
}
