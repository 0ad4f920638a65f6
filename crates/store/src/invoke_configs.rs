//! Asynchronous invocation configurations (`EventInvokeConfig`), one per function and
//! qualifier. Not cached: the API reads them rarely and the dispatcher once per attempt.
//! Deleting the function, the version or the alias deletes its configuration in the same
//! transaction.

use crate::{Store, StoreError};
use ignis_model::invoke_config::EventInvokeConfig;

impl Store {
    /// Stores (replacing) a configuration; `NotFound` when its function does not exist.
    pub async fn put_invoke_config(&self, config: &EventInvokeConfig) -> Result<(), StoreError> {
        self.backend.put_invoke_config(config).await
    }

    /// The configuration of a function's qualifier (`$LATEST`, a version or an alias).
    pub async fn invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<EventInvokeConfig>, StoreError> {
        self.backend.invoke_config(function, qualifier).await
    }

    /// A function's configurations in qualifier order.
    pub async fn invoke_configs(
        &self,
        function: &str,
    ) -> Result<Vec<EventInvokeConfig>, StoreError> {
        self.backend.invoke_configs(function).await
    }

    /// Deletes one; whether there was one.
    pub async fn delete_invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError> {
        self.backend.delete_invoke_config(function, qualifier).await
    }
}
