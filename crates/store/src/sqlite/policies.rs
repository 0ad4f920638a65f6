//! Resource-based policies of function qualifiers and layer versions.

use super::{SqliteBackend, Tx, as_i64};
use crate::StoreError;
use crate::backend::PolicyRows;
use crate::functions::{decode, encode};
use crate::policies::{
    Policy, PolicyError, PolicyTarget, checked_size, new_revision, parse_stored,
};
use async_trait::async_trait;
use ignis_model::FunctionConfig;

/// The target's current revision (and, for a version, its configuration).
async fn target_revision(
    tx: &mut Tx<'_>,
    function: &str,
    target: PolicyTarget<'_>,
) -> Result<(String, Option<FunctionConfig>), PolicyError> {
    match target {
        PolicyTarget::Version(v) => {
            let json: Option<String> = sqlx::query_scalar(
                "SELECT config FROM function_versions WHERE name = $1 AND version = $2",
            )
            .bind(function)
            .bind(v)
            .fetch_optional(&mut **tx)
            .await?;
            let json = json.ok_or(PolicyError::TargetNotFound)?;
            let config = decode(function, &json)?;
            Ok((config.revision_id.clone(), Some(config)))
        }
        PolicyTarget::Alias(a) => {
            let rev: Option<String> = sqlx::query_scalar(
                "SELECT revision_id FROM aliases WHERE function_name = $1 AND name = $2",
            )
            .bind(function)
            .bind(a)
            .fetch_optional(&mut **tx)
            .await?;
            Ok((rev.ok_or(PolicyError::TargetNotFound)?, None))
        }
    }
}

/// Gives the target a new revision inside `tx`.
async fn bump_revision(
    tx: &mut Tx<'_>,
    function: &str,
    target: PolicyTarget<'_>,
    config: Option<&mut FunctionConfig>,
    revision: &str,
) -> Result<(), PolicyError> {
    match (target, config) {
        (PolicyTarget::Version(v), Some(config)) => {
            config.revision_id = revision.to_string();
            sqlx::query(
                "UPDATE function_versions SET config = $3 WHERE name = $1 AND version = $2",
            )
            .bind(function)
            .bind(v)
            .bind(encode(config))
            .execute(&mut **tx)
            .await?;
        }
        (PolicyTarget::Alias(a), _) => {
            sqlx::query(
                "UPDATE aliases SET revision_id = $3 WHERE function_name = $1 AND name = $2",
            )
            .bind(function)
            .bind(a)
            .bind(revision)
            .execute(&mut **tx)
            .await?;
        }
        (PolicyTarget::Version(_), None) => unreachable!("a version target has a configuration"),
    }
    Ok(())
}

async fn stored_function_policy(
    tx: &mut Tx<'_>,
    function: &str,
    qualifier: &str,
) -> Result<Option<Policy>, PolicyError> {
    let stored: Option<String> = sqlx::query_scalar(
        "SELECT statements FROM function_policies WHERE function_name = $1 AND qualifier = $2",
    )
    .bind(function)
    .bind(qualifier)
    .fetch_optional(&mut **tx)
    .await?;
    stored.as_deref().map(parse_stored).transpose()
}

/// A layer version's policy and revision inside `tx`; `TargetNotFound` when the version does
/// not exist.
async fn layer_policy_in(
    tx: &mut Tx<'_>,
    name: &str,
    version: i64,
) -> Result<(Option<Policy>, Option<String>), PolicyError> {
    let exists: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM layer_versions WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_one(&mut **tx)
            .await?;
    if exists == 0 {
        return Err(PolicyError::TargetNotFound);
    }
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT statements, revision_id FROM layer_version_policies WHERE name = $1 AND version = $2",
    )
    .bind(name)
    .bind(version)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        Some((s, r)) => Ok((Some(parse_stored(&s)?), Some(r))),
        None => Ok((None, None)),
    }
}

#[async_trait]
impl PolicyRows for SqliteBackend {
    async fn function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<Policy>, PolicyError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT statements FROM function_policies WHERE function_name = $1 AND qualifier = $2",
        )
        .bind(function)
        .bind(qualifier)
        .fetch_optional(&self.pool)
        .await?;
        json.as_deref().map(parse_stored).transpose()
    }

    async fn add_function_statement(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        sid: &str,
        statement_json: &str,
        expected_revision: Option<&str>,
    ) -> Result<(String, Option<FunctionConfig>), PolicyError> {
        let mut tx = self.pool.begin().await?;
        let (current, mut config) = target_revision(&mut tx, function, target).await?;
        if expected_revision.is_some_and(|e| e != current) {
            return Err(PolicyError::RevisionMismatch);
        }
        let mut policy = stored_function_policy(&mut tx, function, target.qualifier())
            .await?
            .unwrap_or_default();
        if policy.contains(sid) {
            return Err(PolicyError::StatementExists(sid.to_string()));
        }
        policy
            .push(statement_json)
            .map_err(|source| StoreError::Corrupt {
                name: function.to_string(),
                source,
            })?;
        checked_size(&policy)?;
        sqlx::query(
            "INSERT INTO function_policies (function_name, qualifier, statements) VALUES ($1, $2, $3) \
             ON CONFLICT (function_name, qualifier) DO UPDATE SET statements = excluded.statements",
        )
        .bind(function)
        .bind(target.qualifier())
        .bind(policy.to_json())
        .execute(&mut *tx)
        .await?;
        let revision = new_revision();
        bump_revision(&mut tx, function, target, config.as_mut(), &revision).await?;
        tx.commit().await?;
        Ok((revision, config))
    }

    async fn remove_function_statement(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        sid: &str,
        expected_revision: Option<&str>,
    ) -> Result<(String, Option<FunctionConfig>), PolicyError> {
        let mut tx = self.pool.begin().await?;
        let (current, mut config) = target_revision(&mut tx, function, target).await?;
        let mut policy = stored_function_policy(&mut tx, function, target.qualifier())
            .await?
            .ok_or(PolicyError::NoPolicy)?;
        if !policy.remove(sid) {
            return Err(PolicyError::StatementNotFound(sid.to_string()));
        }
        if expected_revision.is_some_and(|e| e != current) {
            return Err(PolicyError::RevisionMismatch);
        }
        if policy.is_empty() {
            sqlx::query(
                "DELETE FROM function_policies WHERE function_name = $1 AND qualifier = $2",
            )
            .bind(function)
            .bind(target.qualifier())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE function_policies SET statements = $3 WHERE function_name = $1 AND qualifier = $2",
            )
            .bind(function)
            .bind(target.qualifier())
            .bind(policy.to_json())
            .execute(&mut *tx)
            .await?;
        }
        let revision = new_revision();
        bump_revision(&mut tx, function, target, config.as_mut(), &revision).await?;
        tx.commit().await?;
        Ok((revision, config))
    }

    async fn delete_function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM function_policies WHERE function_name = $1 AND qualifier = $2")
            .bind(function)
            .bind(qualifier)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn layer_policy(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<(Policy, String)>, PolicyError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT statements, revision_id FROM layer_version_policies WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(as_i64(version))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(s, r)| Ok((parse_stored(&s)?, r))).transpose()
    }

    async fn add_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        statement_json: &str,
        expected_revision: Option<&str>,
    ) -> Result<String, PolicyError> {
        let v = as_i64(version);
        let mut tx = self.pool.begin().await?;
        let (policy, current) = layer_policy_in(&mut tx, name, v).await?;
        if let Some(expected) = expected_revision
            && current.as_deref() != Some(expected)
        {
            return Err(PolicyError::RevisionMismatch);
        }
        let mut policy = policy.unwrap_or_default();
        if policy.contains(sid) {
            return Err(PolicyError::StatementExists(sid.to_string()));
        }
        policy
            .push(statement_json)
            .map_err(|source| StoreError::Corrupt {
                name: name.to_string(),
                source,
            })?;
        checked_size(&policy)?;
        let revision = new_revision();
        sqlx::query(
            "INSERT INTO layer_version_policies (name, version, statements, revision_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name, version) DO UPDATE SET statements = excluded.statements, revision_id = excluded.revision_id",
        )
        .bind(name)
        .bind(v)
        .bind(policy.to_json())
        .bind(&revision)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(revision)
    }

    async fn remove_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        expected_revision: Option<&str>,
    ) -> Result<(), PolicyError> {
        let v = as_i64(version);
        let mut tx = self.pool.begin().await?;
        let (policy, current) = layer_policy_in(&mut tx, name, v).await?;
        let mut policy = policy.ok_or(PolicyError::NoPolicy)?;
        if !policy.remove(sid) {
            return Err(PolicyError::StatementNotFound(sid.to_string()));
        }
        if let Some(expected) = expected_revision
            && current.as_deref() != Some(expected)
        {
            return Err(PolicyError::RevisionMismatch);
        }
        if policy.is_empty() {
            sqlx::query("DELETE FROM layer_version_policies WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(v)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE layer_version_policies SET statements = $3, revision_id = $4 WHERE name = $1 AND version = $2",
            )
            .bind(name)
            .bind(v)
            .bind(policy.to_json())
            .bind(new_revision())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
