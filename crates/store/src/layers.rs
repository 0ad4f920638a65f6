//! Layers and their versions.

use crate::{Store, StoreError};
use ignis_model::layer::LayerVersion;

impl Store {
    /// Publishes `draft` as the next version of its layer (creating the layer if needed) and
    /// returns it with its number.
    pub async fn publish_layer_version(
        &self,
        draft: &LayerVersion,
    ) -> Result<LayerVersion, StoreError> {
        self.backend.publish_layer_version(draft).await
    }

    /// One layer version, if it exists.
    pub async fn layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersion>, StoreError> {
        self.backend.layer_version(name, version).await
    }

    /// The versions of one layer, newest first (empty when the layer has none).
    pub async fn layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>, StoreError> {
        self.backend.layer_versions(name).await
    }

    /// Every layer version, by layer name and then newest first.
    pub async fn all_layer_versions(&self) -> Result<Vec<LayerVersion>, StoreError> {
        self.backend.all_layer_versions().await
    }

    /// Deletes a layer version and its policy; returns its code hash, or `None` when there was
    /// no such version (deleting is idempotent, as on AWS).
    pub async fn delete_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<String>, StoreError> {
        self.backend.delete_layer_version(name, version).await
    }

    /// Whether a layer version or any function version's layers still use this package.
    pub async fn layer_code_in_use(&self, sha256_hex: &str) -> Result<bool, StoreError> {
        if self.functions_use_layer_code(sha256_hex) {
            return Ok(true);
        }
        self.backend.layer_versions_use_code(sha256_hex).await
    }

    /// Whether any cached function version lists a layer with this package.
    fn functions_use_layer_code(&self, sha256_hex: &str) -> bool {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .any(|c| c.layers.iter().any(|l| l.sha256_hex == sha256_hex))
    }

    /// The layer packages (hex) of a function's versions (all of them, or one), for garbage
    /// collection when they are deleted.
    pub fn function_layer_hashes(&self, function: &str, version: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|((n, v), _)| n == function && version.is_none_or(|want| want == v))
            .flat_map(|(_, c)| c.layers.iter().map(|l| l.sha256_hex.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The distinct, ordered layer package lists (hex) of every function version that has
    /// layers: the merged `/opt` directories still needed.
    pub fn layer_sets_in_use(&self) -> Vec<Vec<String>> {
        let mut sets: Vec<Vec<String>> = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| !c.layers.is_empty())
            .map(|c| c.layers.iter().map(|l| l.sha256_hex.clone()).collect())
            .collect();
        sets.sort();
        sets.dedup();
        sets
    }
}
