//! Layers and their versions.
//!
//! Version numbers come from `layers.next_version`, which only grows: a layer row is kept after
//! its last version is deleted, so a number is never handed out twice.

use super::{SqliteBackend, as_i64};
use crate::StoreError;
use crate::backend::LayerRows;
use async_trait::async_trait;
use ignis_model::layer::LayerVersion;
use sqlx::Row;

fn decode(name: &str, json: &str) -> Result<LayerVersion, StoreError> {
    crate::shapes::LAYER_VERSION.decode(name, json)
}

fn encode(v: &LayerVersion) -> String {
    crate::shapes::LAYER_VERSION.encode(v)
}

#[async_trait]
impl LayerRows for SqliteBackend {
    async fn publish_layer_version(
        &self,
        draft: &LayerVersion,
    ) -> Result<LayerVersion, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO layers (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
            .bind(&draft.name)
            .execute(&mut *tx)
            .await?;
        let next: i64 = sqlx::query_scalar("SELECT next_version FROM layers WHERE name = $1")
            .bind(&draft.name)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("UPDATE layers SET next_version = next_version + 1 WHERE name = $1")
            .bind(&draft.name)
            .execute(&mut *tx)
            .await?;
        let mut published = draft.clone();
        published.version = next.max(1) as u64;
        sqlx::query(
            "INSERT INTO layer_versions (name, version, config, code_sha256, code_size) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&published.name)
        .bind(as_i64(published.version))
        .bind(encode(&published))
        .bind(&published.code.sha256_hex)
        .bind(as_i64(published.code.size))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(published)
    }

    async fn layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersion>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT config FROM layer_versions WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(as_i64(version))
        .fetch_optional(&self.pool)
        .await?;
        json.map(|j| decode(name, &j)).transpose()
    }

    async fn layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>, StoreError> {
        let rows =
            sqlx::query("SELECT config FROM layer_versions WHERE name = $1 ORDER BY version DESC")
                .bind(name)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| decode(name, r.get(0))).collect()
    }

    async fn all_layer_versions(&self) -> Result<Vec<LayerVersion>, StoreError> {
        let rows =
            sqlx::query("SELECT name, config FROM layer_versions ORDER BY name ASC, version DESC")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| decode(r.get(0), r.get(1))).collect()
    }

    async fn delete_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let hash: Option<String> = sqlx::query_scalar(
            "SELECT code_sha256 FROM layer_versions WHERE name = $1 AND version = $2",
        )
        .bind(name)
        .bind(as_i64(version))
        .fetch_optional(&mut *tx)
        .await?;
        if hash.is_some() {
            sqlx::query("DELETE FROM layer_versions WHERE name = $1 AND version = $2")
                .bind(name)
                .bind(as_i64(version))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(hash)
    }

    async fn layer_versions_use_code(&self, sha256_hex: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM layer_versions WHERE code_sha256 = $1")
                .bind(sha256_hex)
                .fetch_one(&self.pool)
                .await?;
        Ok(n > 0)
    }
}
