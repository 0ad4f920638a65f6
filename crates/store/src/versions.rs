//! Published versions, aliases, and reserved and provisioned concurrency.

use crate::{Page, Store, StoreError};
use ignis_model::{Alias, FunctionConfig};
use std::collections::HashMap;

/// A provisioned-concurrency configuration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConfig {
    pub function_name: String,
    pub qualifier: String,
    pub requested: u32,
    pub last_modified_ms: i64,
}

impl Store {
    /// Publishes `$LATEST` as a new version, unless nothing changed since the newest published
    /// version, which is then returned instead (`false`). Preconditions on the `$LATEST`
    /// code hash (base64) and revision are checked inside the same transaction.
    pub async fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        expected_code_sha256: Option<&str>,
        expected_revision: Option<&str>,
        revision_id: String,
        now_ms: i64,
    ) -> Result<(FunctionConfig, bool), StoreError> {
        let (version, new) = self
            .backend
            .publish_version(
                name,
                description,
                expected_code_sha256,
                expected_revision,
                revision_id,
                now_ms,
            )
            .await?;
        if new {
            self.cache_put(version.clone());
        }
        Ok((version, new))
    }

    /// Every version of a function in Lambda's order (`$LATEST` first), paginated by version.
    pub async fn list_versions(
        &self,
        name: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<FunctionConfig>, StoreError> {
        self.backend.list_versions(name, marker, limit).await
    }

    /// Deletes one published version; refused while an alias routes to it. Returns its code hash.
    pub async fn delete_version(&self, name: &str, version: &str) -> Result<String, StoreError> {
        let sha = self.backend.delete_version(name, version).await?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(name.to_string(), version.to_string()));
        Ok(sha)
    }

    pub(crate) async fn load_aliases(&self) -> Result<(), StoreError> {
        let all = self.backend.all_aliases().await?;
        let mut cache = self.aliases.write().unwrap_or_else(|e| e.into_inner());
        for alias in all {
            cache.insert((alias.function_name.clone(), alias.name.clone()), alias);
        }
        Ok(())
    }

    /// An alias from memory; the invoke path's lookup.
    pub fn cached_alias(&self, function: &str, name: &str) -> Option<Alias> {
        self.aliases
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(function.to_string(), name.to_string()))
            .cloned()
    }

    pub async fn create_alias(&self, alias: &Alias) -> Result<(), StoreError> {
        self.backend.create_alias(alias).await?;
        self.alias_put(alias.clone());
        Ok(())
    }

    /// Replaces an alias if its revision is still `expected_revision`.
    pub async fn update_alias(
        &self,
        alias: &Alias,
        expected_revision: &str,
    ) -> Result<(), StoreError> {
        self.backend.update_alias(alias, expected_revision).await?;
        self.alias_put(alias.clone());
        Ok(())
    }

    /// Deletes an alias with its provisioned concurrency and its function URL.
    pub async fn delete_alias(&self, function: &str, name: &str) -> Result<(), StoreError> {
        self.backend.delete_alias(function, name).await?;
        self.urls_remove_alias(function, name);
        self.aliases
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(function.to_string(), name.to_string()));
        Ok(())
    }

    /// Aliases of a function by name, optionally only those routing to `version`.
    pub fn list_aliases(
        &self,
        function: &str,
        version: Option<&str>,
        marker: Option<&str>,
        limit: usize,
    ) -> Page<Alias> {
        let cache = self.aliases.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<Alias> = cache
            .values()
            .filter(|a| a.function_name == function)
            .filter(|a| version.is_none_or(|v| a.versions().any(|x| x == v)))
            .filter(|a| marker.is_none_or(|m| a.name.as_str() > m))
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let next_marker = (all.len() > limit).then(|| all[limit - 1].name.clone());
        all.truncate(limit);
        Page {
            items: all,
            next_marker,
        }
    }

    fn alias_put(&self, alias: Alias) {
        self.aliases
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((alias.function_name.clone(), alias.name.clone()), alias);
    }

    pub(crate) fn aliases_remove_function(&self, function: &str) {
        self.aliases
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(f, _), _| f != function);
    }

    /// Sets (or with `None` removes) a function's reserved concurrency.
    pub async fn set_reserved_concurrency(
        &self,
        name: &str,
        value: Option<u32>,
    ) -> Result<(), StoreError> {
        self.backend.set_reserved_concurrency(name, value).await
    }

    /// Every function's reserved concurrency, for the limiter and account settings.
    pub async fn reserved_concurrency(&self) -> Result<HashMap<String, u32>, StoreError> {
        self.backend.reserved_concurrency().await
    }

    pub async fn put_provisioned(&self, config: &ProvisionedConfig) -> Result<(), StoreError> {
        self.backend.put_provisioned(config).await
    }

    pub async fn delete_provisioned(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        self.backend.delete_provisioned(function, qualifier).await
    }

    /// Provisioned-concurrency configurations, of one function or (with `None`) of all.
    pub async fn list_provisioned(
        &self,
        function: Option<&str>,
    ) -> Result<Vec<ProvisionedConfig>, StoreError> {
        self.backend.list_provisioned(function).await
    }
}
