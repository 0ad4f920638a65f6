//! The store against a real SQLite file.

use ignis_model::FunctionConfig;
use ignis_model::function::CodeRef;
use ignis_store::{QueueBounds, Store, StoreError};
use std::collections::BTreeMap;

fn config(name: &str, revision: &str) -> FunctionConfig {
    FunctionConfig {
        code: CodeRef {
            sha256_hex: "ab".into(),
            sha256_base64: "qw==".into(),
            size: 100,
            unzipped_size: 200,
        },
        revision_id: revision.into(),
        last_modified_ms: 1,
        ..FunctionConfig::fixture(name)
    }
}

#[tokio::test]
async fn functions_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = Store::open(&path, "node-test").await.unwrap();
    let tags = BTreeMap::from([("team".to_string(), "a".to_string())]);
    store
        .create_function(&config("f1", "r1"), &tags)
        .await
        .unwrap();
    assert!(matches!(
        store.create_function(&config("f1", "r1"), &tags).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store.get_version("f1", "$LATEST").unwrap().revision_id,
        "r1"
    );

    // Compare-and-set on the revision.
    let mut changed = config("f1", "r2");
    changed.memory_size = 256;
    assert!(matches!(
        store.update_latest(&changed, "stale").await,
        Err(StoreError::RevisionMismatch { .. })
    ));
    store.update_latest(&changed, "r1").await.unwrap();
    assert_eq!(store.get_version("f1", "$LATEST").unwrap().memory_size, 256);

    store
        .tag("f1", &BTreeMap::from([("x".into(), "y".into())]))
        .await
        .unwrap();
    store.untag("f1", &["team".to_string()]).await.unwrap();
    store.close().await;

    let reopened = Store::open(&path, "node-test").await.unwrap();
    let record = reopened.get_function("f1").await.unwrap();
    assert_eq!(record.latest.memory_size, 256);
    assert_eq!(
        record.tags,
        BTreeMap::from([("x".to_string(), "y".to_string())])
    );
    assert_eq!(reopened.usage().await.unwrap(), (100, 1));
    assert!(reopened.code_in_use("ab").await.unwrap());
    assert_eq!(
        reopened.delete_function("f1").await.unwrap(),
        vec!["ab".to_string()]
    );
    assert!(reopened.get_version("f1", "$LATEST").is_err());
    assert!(!reopened.code_in_use("ab").await.unwrap());
    assert!(matches!(
        reopened.delete_function("f1").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn listing_pages_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    for i in 0..7 {
        store
            .create_function(&config(&format!("f{i}"), "r"), &BTreeMap::new())
            .await
            .unwrap();
    }
    let mut seen = vec![];
    let mut marker = None;
    loop {
        let page = store.list_functions(marker.as_deref(), 3).await.unwrap();
        seen.extend(page.items.iter().map(|c| c.name.clone()));
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("f{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn queued_events_lease_ack_retry_and_survive_reopen() {
    use ignis_store::AsyncEvent;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = Store::open(&path, "node-test").await.unwrap();
    let event = |id: &str| AsyncEvent {
        request_id: id.into(),
        function_name: "f".into(),
        qualifier: "$LATEST".into(),
        invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        payload: b"{}".to_vec(),
        enqueued_ms: 100,
        attempts: 0,
        trace: None,
        trigger: None,
    };
    store
        .enqueue(&event("a"), 100, &QueueBounds::UNBOUNDED)
        .await
        .unwrap();
    store
        .enqueue(&event("b"), 100, &QueueBounds::UNBOUNDED)
        .await
        .unwrap();

    // Both due; a lease hides them from a second lease until it expires.
    let leased = store.lease_due(100, 10, 1_000).await.unwrap();
    assert_eq!(leased.len(), 2);
    assert!(store.lease_due(500, 10, 1_000).await.unwrap().is_empty());
    assert_eq!(store.lease_due(1_100, 10, 1_000).await.unwrap().len(), 2);

    store.ack("a").await.unwrap();
    store.retry_later("b", 1, 5_000).await.unwrap();
    assert!(store.lease_due(4_999, 10, 1_000).await.unwrap().is_empty());

    // Lease "b" and crash: after reopening, the event is delivered again with its attempts.
    let again = store.lease_due(5_000, 10, 60_000).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    store.close().await;
    let reopened = Store::open(&path, "node-test").await.unwrap();
    assert_eq!(reopened.queued_events().await.unwrap(), 1);
    let redelivered = reopened.lease_due(5_001, 10, 60_000).await.unwrap();
    assert_eq!(redelivered.len(), 1);
    assert_eq!(redelivered[0].request_id, "b");
}

#[tokio::test]
async fn a_node_opening_the_store_releases_only_its_own_leases() {
    use ignis_store::AsyncEvent;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let a = Store::open(&path, "node-a").await.unwrap();
    a.enqueue(
        &AsyncEvent {
            request_id: "e".into(),
            function_name: "f".into(),
            qualifier: "$LATEST".into(),
            invoked_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            payload: b"{}".to_vec(),
            enqueued_ms: 100,
            attempts: 0,
            trace: None,
            trigger: None,
        },
        100,
        &QueueBounds::UNBOUNDED,
    )
    .await
    .unwrap();
    assert_eq!(a.lease_due(100, 10, 60_000).await.unwrap().len(), 1);
    // Another node starting on the same database leaves node a's lease alone.
    let b = Store::open(&path, "node-b").await.unwrap();
    assert!(b.lease_due(200, 10, 60_000).await.unwrap().is_empty());
    b.close().await;
    // Node a restarting releases its own lease: the event is delivered again.
    a.close().await;
    let a = Store::open(&path, "node-a").await.unwrap();
    assert_eq!(a.lease_due(300, 10, 60_000).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_first_releases_metadata_opens() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/data-dir-v1/metadata.db");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metadata.db");
    std::fs::copy(&fixture, &path).unwrap();
    let store = Store::open(&path, "node-test").await.unwrap();
    let latest = store.cached("kept", "$LATEST").expect("$LATEST of kept");
    assert_eq!(latest.description, "written by the first release");
    assert_eq!(store.cached("kept", "1").unwrap().layers.len(), 1);
    assert_eq!(
        store.cached_alias("kept", "live").unwrap().function_version,
        "1"
    );
    assert_eq!(
        store.queued_events().await.unwrap(),
        1,
        "its queued event is kept"
    );
    assert_eq!(store.reserved_concurrency().await.unwrap()["kept"], 5);
}

#[tokio::test]
async fn the_async_queue_is_bounded_in_bytes_and_counted_from_the_store() {
    use ignis_store::{AsyncEvent, EnqueueError};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = Store::open(&path, "node-test").await.unwrap();
    let event = |id: &str, function: &str, bytes: usize| AsyncEvent {
        request_id: id.into(),
        function_name: function.into(),
        qualifier: "$LATEST".into(),
        invoked_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
        payload: vec![b'x'; bytes],
        enqueued_ms: 100,
        attempts: 0,
        trace: None,
        trigger: None,
    };
    let bounds = QueueBounds {
        per_function: 1_000,
        total: 1_500,
    };
    store
        .enqueue(&event("a1", "a", 600), 100, &bounds)
        .await
        .unwrap();
    // Past the function's bound: refused, nothing written.
    let e = store.enqueue(&event("a2", "a", 500), 100, &bounds).await;
    assert!(
        matches!(e, Err(EnqueueError::FunctionFull(ref f)) if f == "a"),
        "{e:?}"
    );
    store
        .enqueue(&event("b1", "b", 800), 100, &bounds)
        .await
        .unwrap();
    // Past the node's bound (600 + 800 + 200 > 1,500), though within b's own.
    let e = store.enqueue(&event("b2", "b", 200), 100, &bounds).await;
    assert!(matches!(e, Err(EnqueueError::NodeFull)), "{e:?}");
    assert_eq!(store.queued_events().await.unwrap(), 2);
    assert_eq!(store.queued_bytes(Some("a")), 600);
    assert_eq!(store.queued_bytes(None), 1_400);
    // Acknowledging gives the bytes back (once: a second ack of the same event changes nothing).
    store.ack("a1").await.unwrap();
    store.ack("a1").await.unwrap();
    assert_eq!(store.queued_bytes(Some("a")), 0);
    assert_eq!(store.queued_bytes(None), 800);
    store
        .enqueue(&event("a2", "a", 500), 100, &bounds)
        .await
        .unwrap();
    // A store opening counts what is queued.
    store.close().await;
    let reopened = Store::open(&path, "node-test").await.unwrap();
    assert_eq!(reopened.queued_bytes(Some("a")), 500);
    assert_eq!(reopened.queued_bytes(Some("b")), 800);
    assert_eq!(reopened.queued_bytes(None), 1_300);
}
