//! Function URL configurations: durable, in memory from the moment a store opens, and gone with
//! their function or alias.

use ignis_model::url::{Cors, FunctionUrl, InvokeMode, UrlAuthType};
use ignis_model::{Alias, FunctionConfig};
use ignis_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::path::Path;

fn url(id: char, function: &str, qualifier: Option<&str>) -> FunctionUrl {
    FunctionUrl {
        url_id: id.to_string().repeat(32),
        function: function.into(),
        qualifier: qualifier.map(str::to_string),
        auth_type: UrlAuthType::None,
        invoke_mode: InvokeMode::Buffered,
        cors: None,
        creation_time: "2024-01-01T00:00:00.000000Z".into(),
        last_modified_time: "2024-01-01T00:00:00.000000Z".into(),
    }
}

fn alias(function: &str, name: &str) -> Alias {
    Alias {
        function_name: function.into(),
        name: name.into(),
        function_version: "$LATEST".into(),
        description: String::new(),
        routing: BTreeMap::new(),
        revision_id: "r".into(),
    }
}

/// A store with function `f` and its alias `live`.
async fn open(path: &Path) -> Store {
    let store = Store::open(path, "node-test").await.unwrap();
    store
        .create_function(&FunctionConfig::fixture("f"), &BTreeMap::new())
        .await
        .unwrap();
    store.create_alias(&alias("f", "live")).await.unwrap();
    store
}

#[tokio::test]
async fn urls_are_written_read_from_memory_and_reloaded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = open(&path).await;
    let latest = url('a', "f", None);
    let live = FunctionUrl {
        auth_type: UrlAuthType::AwsIam,
        invoke_mode: InvokeMode::ResponseStream,
        cors: Some(Cors {
            allow_origins: Some(vec!["*".into()]),
            max_age: Some(10),
            ..Cors::default()
        }),
        ..url('b', "f", Some("live"))
    };
    store.create_function_url(&latest).await.unwrap();
    store.create_function_url(&live).await.unwrap();
    assert_eq!(*store.function_url(&latest.url_id).unwrap(), latest);
    assert_eq!(*store.function_url_of("f", Some("live")).unwrap(), live);
    let all: Vec<_> = store
        .function_urls("f")
        .iter()
        .map(|u| u.url_id.clone())
        .collect();
    assert_eq!(all, [latest.url_id.clone(), live.url_id.clone()]);

    // One per function and qualifier; never for a function or alias that does not exist.
    assert!(matches!(
        store.create_function_url(&url('c', "f", None)).await,
        Err(StoreError::UrlExists(t)) if t == "f"
    ));
    assert!(matches!(
        store.create_function_url(&url('c', "g", None)).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .create_function_url(&url('c', "f", Some("gone")))
            .await,
        Err(StoreError::AliasNotFound(_))
    ));
    assert!(store.function_url(&"c".repeat(32)).is_none());

    let updated = FunctionUrl {
        auth_type: UrlAuthType::AwsIam,
        last_modified_time: "2024-02-02T00:00:00.000000Z".into(),
        ..latest.clone()
    };
    store.update_function_url(&updated).await.unwrap();
    assert!(matches!(
        store.update_function_url(&url('d', "g", None)).await,
        Err(StoreError::UrlNotFound(_))
    ));
    store.close().await;

    // A store opening later has every URL in memory before it serves anything.
    let reopened = Store::open(&path, "node-test").await.unwrap();
    assert_eq!(*reopened.function_url(&latest.url_id).unwrap(), updated);
    assert_eq!(*reopened.function_url(&live.url_id).unwrap(), live);
    reopened.delete_function_url("f", None).await.unwrap();
    assert!(reopened.function_url(&latest.url_id).is_none());
    assert!(matches!(
        reopened.delete_function_url("f", None).await,
        Err(StoreError::UrlNotFound(_))
    ));
    reopened.close().await;
    let again = Store::open(&path, "node-test").await.unwrap();
    assert!(again.function_url(&latest.url_id).is_none());
    assert!(again.function_url(&live.url_id).is_some());
}

#[tokio::test]
async fn urls_go_with_their_alias_and_their_function() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = open(&path).await;
    store.create_alias(&alias("f", "blue")).await.unwrap();
    for u in [
        url('a', "f", None),
        url('b', "f", Some("live")),
        url('c', "f", Some("blue")),
    ] {
        store.create_function_url(&u).await.unwrap();
    }

    store.delete_alias("f", "live").await.unwrap();
    assert!(store.function_url(&"b".repeat(32)).is_none());
    assert!(store.function_url_of("f", Some("live")).is_none());
    assert_eq!(store.function_urls("f").len(), 2);
    // A new alias of that name starts without a URL, and can have one again.
    store.create_alias(&alias("f", "live")).await.unwrap();
    assert!(store.function_url_of("f", Some("live")).is_none());
    store
        .create_function_url(&url('b', "f", Some("live")))
        .await
        .unwrap();

    store.delete_function("f").await.unwrap();
    assert!(store.function_urls("f").is_empty());
    for id in ['a', 'b', 'c'] {
        assert!(store.function_url(&id.to_string().repeat(32)).is_none());
    }
    store.close().await;

    // The rows went too: a reopened store has none, and a new `f` starts bare.
    let reopened = open(&path).await;
    assert!(reopened.function_urls("f").is_empty());
    reopened
        .create_function_url(&url('a', "f", None))
        .await
        .unwrap();
}
