//! Functions, versions and tags.

use crate::{Store, StoreError};
use ignis_model::FunctionConfig;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A function with its `$LATEST` configuration and tags.
#[derive(Debug, Clone)]
pub struct FunctionRecord {
    pub latest: FunctionConfig,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
}

/// One page of a listing and the marker of the next, if any.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// A stored configuration read back, upgraded from the schema it was written with.
pub(crate) fn decode(name: &str, json: &str) -> Result<FunctionConfig, StoreError> {
    crate::shapes::FUNCTION_CONFIG.decode(name, json)
}

/// A configuration as it is stored, with its schema.
pub(crate) fn encode(config: &FunctionConfig) -> String {
    crate::shapes::FUNCTION_CONFIG.encode(config)
}

impl Store {
    /// Creates a function with its `$LATEST` version.
    pub async fn create_function(
        &self,
        latest: &FunctionConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.backend.create_function(latest, tags).await?;
        self.cache_put(latest.clone());
        Ok(())
    }

    /// The function's `$LATEST` and tags.
    pub async fn get_function(&self, name: &str) -> Result<FunctionRecord, StoreError> {
        self.backend.get_function(name).await
    }

    /// A version's configuration, from the cache.
    pub fn get_version(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Arc<FunctionConfig>, StoreError> {
        self.cached(name, version)
            .ok_or_else(|| StoreError::NotFound(name.to_string()))
    }

    /// `$LATEST` of every function in name order, after `marker`, at most `limit`.
    pub async fn list_functions(
        &self,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<FunctionConfig>, StoreError> {
        self.backend.list_functions(marker, limit).await
    }

    /// Replaces `$LATEST` if its revision is still `expected_revision`.
    pub async fn update_latest(
        &self,
        config: &FunctionConfig,
        expected_revision: &str,
    ) -> Result<(), StoreError> {
        self.backend
            .update_latest(config, expected_revision)
            .await?;
        self.cache_put(config.clone());
        Ok(())
    }

    /// Deletes a function with all its versions; returns the code hashes it referred to.
    pub async fn delete_function(&self, name: &str) -> Result<Vec<String>, StoreError> {
        let hashes = self.backend.delete_function(name).await?;
        self.cache_remove_function(name);
        self.aliases_remove_function(name);
        self.urls_remove_function(name);
        Ok(hashes)
    }

    /// Whether any version of any function, or any layer, still uses this code.
    pub async fn code_in_use(&self, sha256_hex: &str) -> Result<bool, StoreError> {
        // Layer packages: kept while a layer version or a function version's layers use them.
        Ok(self.backend.versions_use_code(sha256_hex).await?
            || self.layer_code_in_use(sha256_hex).await?)
    }

    /// Adds or replaces tags.
    pub async fn tag(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), StoreError> {
        self.backend.tag(name, tags).await
    }

    /// Removes tags by key.
    pub async fn untag(&self, name: &str, keys: &[String]) -> Result<(), StoreError> {
        self.backend.untag(name, keys).await
    }

    /// Total stored code (every version's package counted once per version, as AWS counts) and
    /// the number of functions.
    pub async fn usage(&self) -> Result<(u64, u64), StoreError> {
        self.backend.usage().await
    }
}
