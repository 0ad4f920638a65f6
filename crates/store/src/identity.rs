//! The durable side of identity (IAM users, groups, roles, policies, access keys, role
//! sessions): documents by kind and key, opaque to the store. `ignis-identity` owns their shape
//! and keeps them in memory; it reads them here once at start-up and writes each change.

use crate::{Store, StoreError};

/// One stored identity document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocument {
    pub kind: String,
    pub key: String,
    /// JSON.
    pub body: String,
}

/// A change to the identity documents; a batch of them is one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityChange {
    Put(IdentityDocument),
    Delete { kind: String, key: String },
}

impl Store {
    /// Every identity document, to fill `ignis-identity`'s memory at start-up.
    pub async fn identity_documents(&self) -> Result<Vec<IdentityDocument>, StoreError> {
        self.backend.identity_documents().await
    }

    /// Applies `changes` in one transaction.
    pub async fn change_identity(&self, changes: &[IdentityChange]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.backend.change_identity(changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(kind: &str, key: &str, body: &str) -> IdentityDocument {
        IdentityDocument {
            kind: kind.into(),
            key: key.into(),
            body: body.into(),
        }
    }

    #[tokio::test]
    async fn documents_are_put_replaced_deleted_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let store = Store::open(&path, "n").await.unwrap();
        store
            .change_identity(&[
                IdentityChange::Put(doc("user", "alice", "{}")),
                IdentityChange::Put(doc("user", "bob", "{}")),
                IdentityChange::Put(doc("user", "alice", r#"{"a":1}"#)),
            ])
            .await
            .unwrap();
        store
            .change_identity(&[IdentityChange::Delete {
                kind: "user".into(),
                key: "bob".into(),
            }])
            .await
            .unwrap();
        store.close().await;
        let store = Store::open(&path, "n").await.unwrap();
        assert_eq!(
            store.identity_documents().await.unwrap(),
            vec![doc("user", "alice", r#"{"a":1}"#)]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "secrets of access keys live in it");
    }
}
