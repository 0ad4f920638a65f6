//! Published versions, aliases, and reserved and provisioned concurrency.

use super::SqliteBackend;
use super::functions::insert_version;
use crate::backend::VersionRows;
use crate::functions::decode;
use crate::{Page, ProvisionedConfig, StoreError};
use async_trait::async_trait;
use ignis_model::arn::LATEST;
use ignis_model::{Alias, FunctionConfig};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// Version strings in Lambda's order: `$LATEST` first, then by number.
fn version_order(v: &str) -> (u8, u64) {
    match v.parse::<u64>() {
        Ok(n) => (1, n),
        Err(_) => (0, 0),
    }
}

/// Deletes a qualifier's provisioned-concurrency row; how many rows went.
async fn delete_provisioned_row<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Sqlite>,
    function: &str,
    qualifier: &str,
) -> Result<u64, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM provisioned_concurrency WHERE function_name = $1 AND qualifier = $2",
    )
    .bind(function)
    .bind(qualifier)
    .execute(executor)
    .await?;
    Ok(deleted.rows_affected())
}

#[async_trait]
impl VersionRows for SqliteBackend {
    async fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        expected_code_sha256: Option<&str>,
        expected_revision: Option<&str>,
        revision_id: String,
        now_ms: i64,
    ) -> Result<(FunctionConfig, bool), StoreError> {
        let mut tx = self.pool.begin().await?;
        let latest_json: String = sqlx::query_scalar(
            "SELECT config FROM function_versions WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(LATEST)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
        let latest = decode(name, &latest_json)?;
        if let Some(expected) = expected_revision
            && expected != latest.revision_id
        {
            return Err(StoreError::RevisionMismatch {
                name: name.to_string(),
                expected: expected.to_string(),
                actual: latest.revision_id,
            });
        }
        if let Some(expected) = expected_code_sha256
            && expected != latest.code.sha256_base64
        {
            return Err(StoreError::CodeShaMismatch {
                name: name.to_string(),
                expected: expected.to_string(),
                actual: latest.code.sha256_base64,
            });
        }
        let rows = sqlx::query(
            "SELECT version, config FROM function_versions WHERE name = $1 AND version <> $2",
        )
        .bind(name)
        .bind(LATEST)
        .fetch_all(&mut *tx)
        .await?;
        let newest = rows
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
            .max_by_key(|(v, _)| version_order(v));
        if let Some((_, json)) = newest {
            let newest = decode(name, &json)?;
            if latest.same_content_as(&newest) {
                return Ok((newest, false));
            }
        }
        let number: i64 = sqlx::query_scalar("SELECT next_version FROM functions WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("UPDATE functions SET next_version = next_version + 1 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let version = FunctionConfig {
            version: number.to_string(),
            description: description.map_or_else(|| latest.description.clone(), str::to_string),
            revision_id,
            last_modified_ms: now_ms,
            // A published version is immutable and ready once committed.
            state: ignis_model::FunctionState::Active,
            last_update_status: ignis_model::UpdateStatus::Successful,
            ..latest
        };
        insert_version(&mut tx, &version).await?;
        tx.commit().await?;
        Ok((version, true))
    }

    async fn list_versions(
        &self,
        name: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<FunctionConfig>, StoreError> {
        let rows = sqlx::query("SELECT version, config FROM function_versions WHERE name = $1")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound(name.to_string()));
        }
        let mut all = rows
            .iter()
            .map(|r| decode(name, r.get(1)))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|c| version_order(&c.version));
        let start = match marker {
            Some(m) => all
                .iter()
                .position(|c| c.version == m)
                .map_or(all.len(), |i| i + 1),
            None => 0,
        };
        let mut items: Vec<FunctionConfig> = all.into_iter().skip(start).take(limit + 1).collect();
        let next_marker = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|c| c.version.clone())
        } else {
            None
        };
        Ok(Page { items, next_marker })
    }

    async fn delete_version(&self, name: &str, version: &str) -> Result<String, StoreError> {
        let mut tx = self.pool.begin().await?;
        let aliases = sqlx::query(
            "SELECT name, function_version, routing FROM aliases WHERE function_name = $1",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
        for a in &aliases {
            let routing: BTreeMap<String, f64> = serde_json::from_str(a.get(2)).unwrap_or_default();
            if a.get::<String, _>(1) == version || routing.contains_key(version) {
                return Err(StoreError::VersionInUse {
                    name: name.to_string(),
                    version: version.to_string(),
                    alias: a.get(0),
                });
            }
        }
        let sha: String = sqlx::query_scalar(
            "DELETE FROM function_versions WHERE name = $1 AND version = $2 RETURNING code_sha256",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("{name}:{version}")))?;
        delete_provisioned_row(&mut *tx, name, version).await?;
        super::invoke_configs::delete_row(&mut *tx, name, version).await?;
        tx.commit().await?;
        Ok(sha)
    }

    async fn all_aliases(&self) -> Result<Vec<Alias>, StoreError> {
        let rows = sqlx::query(
            "SELECT function_name, name, function_version, description, routing, revision_id FROM aliases",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Alias {
                function_name: r.get(0),
                name: r.get(1),
                function_version: r.get(2),
                description: r.get(3),
                routing: serde_json::from_str(r.get(4)).unwrap_or_default(),
                revision_id: r.get(5),
            })
            .collect())
    }

    async fn create_alias(&self, alias: &Alias) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO aliases (function_name, name, function_version, description, routing, revision_id) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (function_name, name) DO NOTHING",
        )
        .bind(&alias.function_name)
        .bind(&alias.name)
        .bind(&alias.function_version)
        .bind(&alias.description)
        .bind(serde_json::to_string(&alias.routing).expect("routing serialises"))
        .bind(&alias.revision_id)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::AliasExists(alias.name.clone()));
        }
        Ok(())
    }

    async fn update_alias(&self, alias: &Alias, expected_revision: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let current: Option<String> = sqlx::query_scalar(
            "SELECT revision_id FROM aliases WHERE function_name = $1 AND name = $2",
        )
        .bind(&alias.function_name)
        .bind(&alias.name)
        .fetch_optional(&mut *tx)
        .await?;
        match current {
            None => return Err(StoreError::AliasNotFound(alias.name.clone())),
            Some(actual) if actual != expected_revision => {
                return Err(StoreError::RevisionMismatch {
                    name: alias.name.clone(),
                    expected: expected_revision.to_string(),
                    actual,
                });
            }
            Some(_) => {}
        }
        sqlx::query(
            "UPDATE aliases SET function_version = $3, description = $4, routing = $5, revision_id = $6 WHERE function_name = $1 AND name = $2",
        )
        .bind(&alias.function_name)
        .bind(&alias.name)
        .bind(&alias.function_version)
        .bind(&alias.description)
        .bind(serde_json::to_string(&alias.routing).expect("routing serialises"))
        .bind(&alias.revision_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_alias(&self, function: &str, name: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM aliases WHERE function_name = $1 AND name = $2")
            .bind(function)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        delete_provisioned_row(&mut *tx, function, name).await?;
        super::urls::delete_url_row(&mut *tx, function, name).await?;
        super::invoke_configs::delete_row(&mut *tx, function, name).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_reserved_concurrency(
        &self,
        name: &str,
        value: Option<u32>,
    ) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE functions SET reserved_concurrency = $2 WHERE name = $1")
            .bind(name)
            .bind(value.map(i64::from))
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound(name.to_string()));
        }
        Ok(())
    }

    async fn reserved_concurrency(&self) -> Result<HashMap<String, u32>, StoreError> {
        let rows = sqlx::query("SELECT name, reserved_concurrency FROM functions WHERE reserved_concurrency IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    u32::try_from(r.get::<i64, _>(1)).unwrap_or(0),
                )
            })
            .collect())
    }

    async fn put_provisioned(&self, config: &ProvisionedConfig) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO provisioned_concurrency (function_name, qualifier, requested, last_modified_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (function_name, qualifier) DO UPDATE SET requested = excluded.requested, last_modified_ms = excluded.last_modified_ms",
        )
        .bind(&config.function_name)
        .bind(&config.qualifier)
        .bind(i64::from(config.requested))
        .bind(config.last_modified_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_provisioned(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        Ok(delete_provisioned_row(&self.pool, function, qualifier).await? > 0)
    }

    async fn list_provisioned(
        &self,
        function: Option<&str>,
    ) -> Result<Vec<ProvisionedConfig>, StoreError> {
        let rows = sqlx::query(
            "SELECT function_name, qualifier, requested, last_modified_ms FROM provisioned_concurrency WHERE $1 IS NULL OR function_name = $1 ORDER BY function_name, qualifier",
        )
        .bind(function)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ProvisionedConfig {
                function_name: r.get(0),
                qualifier: r.get(1),
                requested: u32::try_from(r.get::<i64, _>(2)).unwrap_or(0),
                last_modified_ms: r.get(3),
            })
            .collect())
    }
}
