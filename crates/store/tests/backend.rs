//! The store over a backend it is handed: the seam a second database plugs into.

use ignis_model::{Alias, FunctionConfig};
use ignis_store::backend::{FunctionRows, VersionRows};
use ignis_store::{Backend, SqliteBackend, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

#[tokio::test]
async fn nodes_over_one_backend_share_rows_and_keep_their_own_caches() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(
        SqliteBackend::open(&dir.path().join("meta.db"))
            .await
            .unwrap(),
    );
    let a = Store::with_backend(backend.clone(), "node-a")
        .await
        .unwrap();
    a.create_function(&FunctionConfig::fixture("f"), &BTreeMap::new())
        .await
        .unwrap();

    // A node that starts later fills its cache from the rows: the invoke path finds `f`.
    let b = Store::with_backend(backend.clone(), "node-b")
        .await
        .unwrap();
    assert_eq!(b.get_version("f", "$LATEST").unwrap().name, "f");
    // Writes are checked in the backend's transaction, whichever node makes them.
    assert!(matches!(
        b.create_function(&FunctionConfig::fixture("f"), &BTreeMap::new())
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
}

#[tokio::test]
async fn alias_updates_are_checked_inside_the_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backend = SqliteBackend::open(&dir.path().join("meta.db"))
        .await
        .unwrap();
    backend
        .create_function(&FunctionConfig::fixture("f"), &BTreeMap::new())
        .await
        .unwrap();
    let alias = Alias {
        function_name: "f".into(),
        name: "live".into(),
        function_version: "$LATEST".into(),
        description: String::new(),
        routing: BTreeMap::new(),
        revision_id: "r1".into(),
    };
    backend.create_alias(&alias).await.unwrap();
    let next = Alias {
        revision_id: "r2".into(),
        ..alias.clone()
    };
    // A stale revision names the current one; a missing alias is not found.
    match backend.update_alias(&next, "r0").await {
        Err(StoreError::RevisionMismatch { actual, .. }) => assert_eq!(actual, "r1"),
        other => panic!("{other:?}"),
    }
    let missing = Alias {
        name: "gone".into(),
        ..next.clone()
    };
    assert!(matches!(
        backend.update_alias(&missing, "r1").await,
        Err(StoreError::AliasNotFound(_))
    ));
    backend.update_alias(&next, "r1").await.unwrap();
    let stored = backend.all_aliases().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].revision_id, "r2");
}
