//! Function URL configurations, and the index of them in memory that the serving side reads on
//! every request (filled on open, updated after each committed write, like the configuration
//! cache).
//!
//! A URL belongs to a function's `$LATEST` (qualifier `None`) or to one of its aliases; deleting
//! the function or the alias deletes it in the same transaction.

use crate::{Store, StoreError};
use ignis_model::arn::LATEST;
use ignis_model::url::FunctionUrl;
use std::collections::HashMap;
use std::sync::Arc;

/// The qualifier column of a URL: `$LATEST` for the unqualified function.
pub(crate) fn qualifier_key(qualifier: Option<&str>) -> &str {
    qualifier.unwrap_or(LATEST)
}

/// How a function and qualifier are named in errors: `f` or `f:alias`.
pub(crate) fn target_name(function: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(q) => format!("{function}:{q}"),
        None => function.to_string(),
    }
}

type Target = (String, Option<String>);

/// Every URL configuration, by id and by the function and qualifier it belongs to.
#[derive(Default)]
pub(crate) struct UrlCache {
    by_id: HashMap<String, Arc<FunctionUrl>>,
    by_target: HashMap<Target, String>,
}

impl UrlCache {
    fn put(&mut self, url: FunctionUrl) {
        let target = (url.function.clone(), url.qualifier.clone());
        if let Some(old) = self.by_target.insert(target, url.url_id.clone()) {
            self.by_id.remove(&old);
        }
        self.by_id.insert(url.url_id.clone(), Arc::new(url));
    }

    fn remove(&mut self, function: &str, qualifier: Option<&str>) {
        let target = (function.to_string(), qualifier.map(str::to_string));
        if let Some(id) = self.by_target.remove(&target) {
            self.by_id.remove(&id);
        }
    }

    fn remove_function(&mut self, function: &str) {
        self.by_target.retain(|(f, _), _| f != function);
        self.by_id.retain(|_, u| u.function != function);
    }
}

impl Store {
    /// The URL configuration served at `url_id`, from memory (the serving side's lookup).
    pub fn function_url(&self, url_id: &str) -> Option<Arc<FunctionUrl>> {
        self.url_cache().by_id.get(url_id).cloned()
    }

    /// The URL configuration of a function's `$LATEST` (`None`) or alias, from memory.
    pub fn function_url_of(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Option<Arc<FunctionUrl>> {
        let cache = self.url_cache();
        let target = (function.to_string(), qualifier.map(str::to_string));
        cache
            .by_target
            .get(&target)
            .and_then(|id| cache.by_id.get(id))
            .cloned()
    }

    /// A function's URL configurations, `$LATEST`'s first, then by alias name.
    pub fn function_urls(&self, function: &str) -> Vec<Arc<FunctionUrl>> {
        let mut all: Vec<Arc<FunctionUrl>> = self
            .url_cache()
            .by_id
            .values()
            .filter(|u| u.function == function)
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            qualifier_key(a.qualifier.as_deref()).cmp(qualifier_key(b.qualifier.as_deref()))
        });
        all
    }

    /// Stores a new URL configuration: `NotFound` or `AliasNotFound` when its function or alias
    /// does not exist, `UrlExists` when that function and qualifier already have one.
    pub async fn create_function_url(&self, url: &FunctionUrl) -> Result<(), StoreError> {
        self.backend.create_function_url(url).await?;
        self.urls_write().put(url.clone());
        Ok(())
    }

    /// Replaces a URL configuration (of `url.function` and `url.qualifier`); `UrlNotFound` when
    /// there is none.
    pub async fn update_function_url(&self, url: &FunctionUrl) -> Result<(), StoreError> {
        self.backend.update_function_url(url).await?;
        self.urls_write().put(url.clone());
        Ok(())
    }

    /// Deletes a URL configuration; `UrlNotFound` when there is none.
    pub async fn delete_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), StoreError> {
        self.backend
            .delete_function_url(function, qualifier)
            .await?;
        self.urls_write().remove(function, qualifier);
        Ok(())
    }

    pub(crate) async fn load_function_urls(&self) -> Result<(), StoreError> {
        let all = self.backend.all_function_urls().await?;
        let mut cache = self.urls_write();
        for url in all {
            cache.put(url);
        }
        Ok(())
    }

    /// Forgets the URLs of a deleted function (the rows went with it).
    pub(crate) fn urls_remove_function(&self, function: &str) {
        self.urls_write().remove_function(function);
    }

    /// Forgets the URL of a deleted alias (its row went with it).
    pub(crate) fn urls_remove_alias(&self, function: &str, alias: &str) {
        self.urls_write().remove(function, Some(alias));
    }

    fn url_cache(&self) -> std::sync::RwLockReadGuard<'_, UrlCache> {
        self.urls.read().unwrap_or_else(|e| e.into_inner())
    }

    fn urls_write(&self) -> std::sync::RwLockWriteGuard<'_, UrlCache> {
        self.urls.write().unwrap_or_else(|e| e.into_inner())
    }
}
