//! Functions, their `$LATEST` and tags.

use super::{SqliteBackend, Tx, as_i64};
use crate::StoreError;
use crate::backend::FunctionRows;
use crate::functions::{FunctionRecord, Page, decode, encode};
use async_trait::async_trait;
use ignis_model::FunctionConfig;
use ignis_model::arn::LATEST;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The log groups the versions of `function` write to (`LoggingConfig.LogGroup`), read from the
/// SQLite database at `path` beside a running node, as [`super::read_usage`] reads usage.
pub async fn read_log_groups(path: &Path, function: &str) -> Result<Vec<String>, StoreError> {
    let pool = super::read_only_pool(path).await?;
    let rows = sqlx::query("SELECT name, config FROM function_versions WHERE name = $1")
        .bind(function)
        .fetch_all(&pool)
        .await;
    pool.close().await;
    let mut groups = BTreeSet::new();
    for r in rows? {
        let config: FunctionConfig = decode(r.get(0), r.get(1))?;
        groups.insert(config.logging.log_group);
    }
    Ok(groups.into_iter().collect())
}

#[async_trait]
impl FunctionRows for SqliteBackend {
    async fn all_versions(&self) -> Result<Vec<FunctionConfig>, StoreError> {
        let rows = sqlx::query("SELECT name, config FROM function_versions")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| decode(r.get(0), r.get(1))).collect()
    }

    async fn create_function(
        &self,
        latest: &FunctionConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO functions (name, created_ms, tags) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&latest.name)
        .bind(latest.last_modified_ms)
        .bind(serde_json::to_string(tags).expect("tags serialise"))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists(latest.name.clone()));
        }
        insert_version(&mut tx, latest).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_function(&self, name: &str) -> Result<FunctionRecord, StoreError> {
        let row = sqlx::query(
            "SELECT f.tags, v.config, f.reserved_concurrency FROM functions f JOIN function_versions v ON v.name = f.name AND v.version = $2 WHERE f.name = $1",
        )
        .bind(name)
        .bind(LATEST)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
        Ok(FunctionRecord {
            tags: serde_json::from_str(row.get(0)).unwrap_or_default(),
            latest: decode(name, row.get(1))?,
            reserved_concurrency: row
                .get::<Option<i64>, _>(2)
                .and_then(|v| u32::try_from(v).ok()),
        })
    }

    async fn list_functions(
        &self,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<FunctionConfig>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, config FROM function_versions WHERE version = $1 AND name > $2 ORDER BY name LIMIT $3",
        )
        .bind(LATEST)
        .bind(marker.unwrap_or(""))
        .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut items = rows
            .iter()
            .map(|r| decode(r.get(0), r.get(1)))
            .collect::<Result<Vec<_>, _>>()?;
        let next_marker = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|c| c.name.clone())
        } else {
            None
        };
        Ok(Page { items, next_marker })
    }

    async fn update_latest(
        &self,
        config: &FunctionConfig,
        expected_revision: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("SELECT config FROM function_versions WHERE name = $1 AND version = $2")
                .bind(&config.name)
                .bind(LATEST)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(config.name.clone()))?;
        let current = decode(&config.name, row.get(0))?;
        if current.revision_id != expected_revision {
            return Err(StoreError::RevisionMismatch {
                name: config.name.clone(),
                expected: expected_revision.to_string(),
                actual: current.revision_id,
            });
        }
        sqlx::query(
            "UPDATE function_versions SET config = $3, code_sha256 = $4, code_size = $5 WHERE name = $1 AND version = $2",
        )
        .bind(&config.name)
        .bind(LATEST)
        .bind(encode(config))
        .bind(&config.code.sha256_hex)
        .bind(as_i64(config.code.size))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_function(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT code_sha256 FROM function_versions WHERE name = $1",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM functions WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::NotFound(name.to_string()));
        }
        tx.commit().await?;
        Ok(hashes)
    }

    async fn versions_use_code(&self, sha256_hex: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM function_versions WHERE code_sha256 = $1")
                .bind(sha256_hex)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }

    async fn tag(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), StoreError> {
        self.edit_tags(name, |current| current.extend(tags.clone()))
            .await
    }

    async fn untag(&self, name: &str, keys: &[String]) -> Result<(), StoreError> {
        self.edit_tags(name, |current| current.retain(|k, _| !keys.contains(k)))
            .await
    }

    async fn usage(&self) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(code_size), 0), (SELECT COUNT(*) FROM functions) FROM function_versions",
        )
        .fetch_one(&self.pool)
        .await?;
        let size: i64 = row.get(0);
        let count: i64 = row.get(1);
        Ok((size.max(0) as u64, count.max(0) as u64))
    }
}

impl SqliteBackend {
    async fn edit_tags(
        &self,
        name: &str,
        edit: impl FnOnce(&mut BTreeMap<String, String>) + Send,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let current: String = sqlx::query_scalar("SELECT tags FROM functions WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
        let mut tags: BTreeMap<String, String> = serde_json::from_str(&current).unwrap_or_default();
        edit(&mut tags);
        sqlx::query("UPDATE functions SET tags = $2 WHERE name = $1")
            .bind(name)
            .bind(serde_json::to_string(&tags).expect("tags serialise"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn insert_version(
    tx: &mut Tx<'_>,
    config: &FunctionConfig,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO function_versions (name, version, config, code_sha256, code_size) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&config.name)
    .bind(&config.version)
    .bind(encode(config))
    .bind(&config.code.sha256_hex)
    .bind(as_i64(config.code.size))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
