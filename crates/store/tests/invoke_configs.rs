//! Asynchronous invocation configurations: durable, replaced whole, listed in qualifier order,
//! and gone with their function, version or alias.

use ignis_model::invoke_config::EventInvokeConfig;
use ignis_model::{Alias, FunctionConfig};
use ignis_store::{Store, StoreError};
use std::collections::BTreeMap;

fn config(function: &str, qualifier: &str, retries: u32) -> EventInvokeConfig {
    EventInvokeConfig {
        function: function.into(),
        qualifier: qualifier.into(),
        last_modified_ms: 1_000,
        max_retries: Some(retries),
        max_event_age: Some(60),
        on_success: None,
        on_failure: Some("arn:aws:sqs:us-east-1:000000000000:q".into()),
    }
}

#[tokio::test]
async fn configurations_are_durable_and_go_with_what_they_belong_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = Store::open(&path, "node-test").await.unwrap();
    assert!(matches!(
        store.put_invoke_config(&config("f", "$LATEST", 1)).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .create_function(&FunctionConfig::fixture("f"), &BTreeMap::new())
        .await
        .unwrap();
    store
        .publish_version("f", None, None, None, "r1".into(), 0)
        .await
        .unwrap();
    store
        .create_alias(&Alias {
            function_name: "f".into(),
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            routing: BTreeMap::new(),
            revision_id: "r".into(),
        })
        .await
        .unwrap();
    for q in ["live", "$LATEST", "1"] {
        store.put_invoke_config(&config("f", q, 1)).await.unwrap();
    }
    // A put replaces.
    store
        .put_invoke_config(&config("f", "$LATEST", 0))
        .await
        .unwrap();
    store.close().await;

    let store = Store::open(&path, "node-test").await.unwrap();
    let all = store.invoke_configs("f").await.unwrap();
    let qualifiers: Vec<&str> = all.iter().map(|c| c.qualifier.as_str()).collect();
    assert_eq!(qualifiers, ["$LATEST", "1", "live"]);
    assert_eq!(all[0], config("f", "$LATEST", 0));

    store.delete_alias("f", "live").await.unwrap();
    assert!(store.invoke_config("f", "live").await.unwrap().is_none());
    store.delete_version("f", "1").await.unwrap();
    assert!(store.invoke_config("f", "1").await.unwrap().is_none());
    assert!(store.delete_invoke_config("f", "$LATEST").await.unwrap());
    assert!(!store.delete_invoke_config("f", "$LATEST").await.unwrap());
    store
        .put_invoke_config(&config("f", "$LATEST", 2))
        .await
        .unwrap();
    store.delete_function("f").await.unwrap();
    assert!(store.invoke_configs("f").await.unwrap().is_empty());
}
