//! Metered usage per function: requests and GB-seconds, as Lambda bills them.

use crate::{Store, StoreError};

/// Usage of one function (or a batch of it, when added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub function_name: String,
    pub requests: u64,
    /// Sum of Billed Duration (ms) × MemorySize (MB).
    pub mb_ms: u64,
}

impl Usage {
    /// GB-seconds: MB·ms / 1,024 / 1,000.
    pub fn gb_seconds(&self) -> f64 {
        self.mb_ms as f64 / 1024.0 / 1000.0
    }
}

impl Store {
    /// Adds a batch of counts (one transaction).
    pub async fn add_usage(&self, batch: &[Usage], now_ms: i64) -> Result<(), StoreError> {
        self.backend.add_usage(batch, now_ms).await
    }

    /// Usage of every function that has been invoked, by name.
    pub async fn function_usage(&self) -> Result<Vec<Usage>, StoreError> {
        self.backend.function_usage().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_usage;

    #[tokio::test]
    async fn usage_adds_up_and_reads_beside_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metadata.db");
        let store = Store::open(&path, "node-test").await.unwrap();
        let u = |name: &str, requests, mb_ms| Usage {
            function_name: name.into(),
            requests,
            mb_ms,
        };
        store
            .add_usage(&[u("b", 1, 128 * 27), u("a", 2, 256 * 100)], 1)
            .await
            .unwrap();
        store.add_usage(&[u("b", 3, 128 * 3)], 2).await.unwrap();
        store.add_usage(&[], 3).await.unwrap();
        let all = store.function_usage().await.unwrap();
        assert_eq!(all, vec![u("a", 2, 25_600), u("b", 4, 3_840)]);
        assert_eq!(read_usage(&path).await.unwrap(), all);
        // 1,024 MB for one second is one GB-second.
        assert_eq!(u("x", 1, 1024 * 1000).gb_seconds(), 1.0);
    }
}
