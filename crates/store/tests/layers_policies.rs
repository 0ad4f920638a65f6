//! Layers and resource-based policies against a real SQLite file.

use ignis_model::FunctionConfig;
use ignis_model::function::{CodeRef, LayerRef};
use ignis_model::layer::LayerVersion;
use ignis_store::{PolicyError, PolicyTarget, ServiceRequest, Store};
use std::collections::BTreeMap;

fn code(hex: &str) -> CodeRef {
    CodeRef {
        sha256_hex: hex.into(),
        sha256_base64: "qw==".into(),
        size: 100,
        unzipped_size: 200,
    }
}

fn config(name: &str) -> FunctionConfig {
    FunctionConfig {
        code: code("ab"),
        revision_id: "r1".into(),
        last_modified_ms: 1,
        ..FunctionConfig::fixture(name)
    }
}

fn draft(name: &str, hex: &str) -> LayerVersion {
    LayerVersion {
        name: name.into(),
        version: 0,
        description: "d".into(),
        compatible_runtimes: Some(vec!["python3.12".into()]),
        compatible_architectures: None,
        license_info: None,
        code: code(hex),
        created_ms: 5,
    }
}

async fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn layer_versions_are_numbered_and_numbers_never_repeat() {
    let (dir, store) = open().await;
    let v1 = store
        .publish_layer_version(&draft("l", "c1"))
        .await
        .unwrap();
    let v2 = store
        .publish_layer_version(&draft("l", "c2"))
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(
        store
            .publish_layer_version(&draft("other", "c1"))
            .await
            .unwrap()
            .version,
        1
    );
    assert_eq!(store.layer_version("l", 2).await.unwrap().unwrap(), v2);
    assert!(store.layer_version("l", 3).await.unwrap().is_none());
    let listed: Vec<u64> = store
        .layer_versions("l")
        .await
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, [2, 1]);
    let all: Vec<(String, u64)> = store
        .all_layer_versions()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.version))
        .collect();
    assert_eq!(all, [("l".into(), 2), ("l".into(), 1), ("other".into(), 1)]);

    assert_eq!(
        store.delete_layer_version("l", 1).await.unwrap().as_deref(),
        Some("c1")
    );
    assert_eq!(store.delete_layer_version("l", 1).await.unwrap(), None);
    assert_eq!(
        store.delete_layer_version("l", 2).await.unwrap().as_deref(),
        Some("c2")
    );
    assert!(store.layer_versions("l").await.unwrap().is_empty());
    // Deleted numbers are not handed out again, not even after a restart.
    store.close().await;
    let store = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    assert_eq!(
        store
            .publish_layer_version(&draft("l", "c3"))
            .await
            .unwrap()
            .version,
        3
    );
}

#[tokio::test]
async fn layer_code_is_in_use_while_a_version_or_a_function_refers_to_it() {
    let (_dir, store) = open().await;
    store
        .publish_layer_version(&draft("l", "c1"))
        .await
        .unwrap();
    assert!(store.code_in_use("c1").await.unwrap());
    let mut f = config("f");
    f.layers = vec![LayerRef {
        arn: "arn:aws:lambda:us-east-1:000000000000:layer:l:1".into(),
        sha256_hex: "c1".into(),
        code_size: 100,
        unzipped_size: 200,
    }];
    store.create_function(&f, &BTreeMap::new()).await.unwrap();
    store.delete_layer_version("l", 1).await.unwrap();
    // The function still uses the deleted version's package.
    assert!(store.code_in_use("c1").await.unwrap());
    assert_eq!(store.layer_sets_in_use(), vec![vec!["c1".to_string()]]);
    store.delete_function("f").await.unwrap();
    assert!(!store.code_in_use("c1").await.unwrap());
    assert!(store.layer_sets_in_use().is_empty());
}

#[tokio::test]
async fn function_policies_follow_the_version_revision() {
    let (dir, store) = open().await;
    store
        .create_function(&config("f"), &BTreeMap::new())
        .await
        .unwrap();
    let latest = PolicyTarget::Version("$LATEST");
    assert!(
        store
            .function_policy("f", "$LATEST")
            .await
            .unwrap()
            .is_none()
    );

    // A stale revision is refused; the current one is accepted and replaced.
    assert!(matches!(
        store
            .add_function_statement("f", latest, "s1", r#"{"Sid":"s1"}"#, Some("stale"))
            .await,
        Err(PolicyError::RevisionMismatch)
    ));
    let r2 = store
        .add_function_statement("f", latest, "s1", r#"{"Sid":"s1"}"#, Some("r1"))
        .await
        .unwrap();
    assert_ne!(r2, "r1");
    assert_eq!(store.cached("f", "$LATEST").unwrap().revision_id, r2);
    assert!(matches!(
        store
            .add_function_statement("f", latest, "s1", r#"{"Sid":"s1"}"#, None)
            .await,
        Err(PolicyError::StatementExists(_))
    ));
    let r3 = store
        .add_function_statement("f", latest, "s2", r#"{"Sid":"s2"}"#, None)
        .await
        .unwrap();
    let policy = store
        .function_policy("f", "$LATEST")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        policy.document(),
        r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"s1"},{"Sid":"s2"}]}"#
    );

    // Missing targets, statements, stale revisions.
    assert!(matches!(
        store
            .add_function_statement("f", PolicyTarget::Version("7"), "s", r#"{"Sid":"s"}"#, None)
            .await,
        Err(PolicyError::TargetNotFound)
    ));
    assert!(matches!(
        store
            .add_function_statement(
                "f",
                PolicyTarget::Alias("live"),
                "s",
                r#"{"Sid":"s"}"#,
                None
            )
            .await,
        Err(PolicyError::TargetNotFound)
    ));
    assert!(matches!(
        store
            .remove_function_statement("f", latest, "nope", None)
            .await,
        Err(PolicyError::StatementNotFound(_))
    ));
    assert!(matches!(
        store
            .remove_function_statement("f", latest, "s1", Some(&r2))
            .await,
        Err(PolicyError::RevisionMismatch)
    ));
    let r4 = store
        .remove_function_statement("f", latest, "s1", Some(&r3))
        .await
        .unwrap();
    assert_eq!(store.cached("f", "$LATEST").unwrap().revision_id, r4);

    // Survives a restart, with the revision.
    store.close().await;
    let store = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    assert_eq!(store.cached("f", "$LATEST").unwrap().revision_id, r4);
    let policy = store
        .function_policy("f", "$LATEST")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(policy.len(), 1);
    store
        .remove_function_statement("f", latest, "s2", None)
        .await
        .unwrap();
    assert!(
        store
            .function_policy("f", "$LATEST")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store
            .remove_function_statement("f", latest, "s2", None)
            .await,
        Err(PolicyError::NoPolicy)
    ));

    // Deleting the function deletes its policies.
    store
        .add_function_statement("f", latest, "s", r#"{"Sid":"s"}"#, None)
        .await
        .unwrap();
    store.delete_function("f").await.unwrap();
    store
        .create_function(&config("f"), &BTreeMap::new())
        .await
        .unwrap();
    assert!(
        store
            .function_policy("f", "$LATEST")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn function_policies_are_limited_to_20_kb() {
    let (_dir, store) = open().await;
    store
        .create_function(&config("f"), &BTreeMap::new())
        .await
        .unwrap();
    let latest = PolicyTarget::Version("$LATEST");
    let pad = "p".repeat(1000);
    let mut refused = None;
    for i in 0..30 {
        let sid = format!("s{i}");
        match store
            .add_function_statement(
                "f",
                latest,
                &sid,
                &format!(r#"{{"Sid":"{sid}","P":"{pad}"}}"#),
                None,
            )
            .await
        {
            Ok(_) => {}
            Err(PolicyError::TooLarge { size, limit }) => {
                refused = Some((i, size, limit));
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    let (i, size, limit) = refused.expect("the limit was reached");
    assert_eq!(limit, 20_480);
    assert!(size > limit);
    // Nothing of the refused statement was kept.
    let policy = store
        .function_policy("f", "$LATEST")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(policy.len(), i);
    assert!(policy.document().len() <= 20_480);
}

#[tokio::test]
async fn layer_policies_have_their_own_revision() {
    let (_dir, store) = open().await;
    store
        .publish_layer_version(&draft("l", "c1"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_layer_statement("l", 2, "s", r#"{"Sid":"s"}"#, None)
            .await,
        Err(PolicyError::TargetNotFound)
    ));
    assert!(store.layer_policy("l", 1).await.unwrap().is_none());
    let r1 = store
        .add_layer_statement("l", 1, "s1", r#"{"Sid":"s1"}"#, None)
        .await
        .unwrap();
    let (p, rev) = store.layer_policy("l", 1).await.unwrap().unwrap();
    assert_eq!((p.len(), rev.as_str()), (1, r1.as_str()));
    assert!(matches!(
        store
            .add_layer_statement("l", 1, "s1", r#"{"Sid":"s1"}"#, None)
            .await,
        Err(PolicyError::StatementExists(_))
    ));
    assert!(matches!(
        store
            .add_layer_statement("l", 1, "s2", r#"{"Sid":"s2"}"#, Some("wrong"))
            .await,
        Err(PolicyError::RevisionMismatch)
    ));
    let r2 = store
        .add_layer_statement("l", 1, "s2", r#"{"Sid":"s2"}"#, Some(&r1))
        .await
        .unwrap();
    assert_ne!(r1, r2);
    assert!(matches!(
        store.remove_layer_statement("l", 1, "s2", Some(&r1)).await,
        Err(PolicyError::RevisionMismatch)
    ));
    assert!(matches!(
        store.remove_layer_statement("l", 1, "zz", None).await,
        Err(PolicyError::StatementNotFound(_))
    ));
    store
        .remove_layer_statement("l", 1, "s2", Some(&r2))
        .await
        .unwrap();
    store
        .remove_layer_statement("l", 1, "s1", None)
        .await
        .unwrap();
    assert!(store.layer_policy("l", 1).await.unwrap().is_none());
    assert!(matches!(
        store.remove_layer_statement("l", 1, "s1", None).await,
        Err(PolicyError::NoPolicy)
    ));
    // Deleting the layer version deletes its policy.
    store
        .add_layer_statement("l", 1, "s1", r#"{"Sid":"s1"}"#, None)
        .await
        .unwrap();
    store.delete_layer_version("l", 1).await.unwrap();
    assert!(store.layer_policy("l", 1).await.unwrap().is_none());
}

#[tokio::test]
async fn alias_policies_follow_the_alias_revision() {
    let (_dir, store) = open().await;
    store
        .create_function(&config("f"), &BTreeMap::new())
        .await
        .unwrap();
    let alias = ignis_model::Alias {
        function_name: "f".into(),
        name: "live".into(),
        function_version: "$LATEST".into(),
        description: String::new(),
        routing: BTreeMap::new(),
        revision_id: "a1".into(),
    };
    store.create_alias(&alias).await.unwrap();
    let target = PolicyTarget::Alias("live");
    let r = store
        .add_function_statement("f", target, "s", r#"{"Sid":"s"}"#, Some("a1"))
        .await
        .unwrap();
    assert_eq!(store.cached_alias("f", "live").unwrap().revision_id, r);
    // The alias's policy is its own: $LATEST has none, and its revision did not change.
    assert!(
        store
            .function_policy("f", "$LATEST")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.cached("f", "$LATEST").unwrap().revision_id, "r1");
    assert_eq!(
        store
            .function_policy("f", "live")
            .await
            .unwrap()
            .unwrap()
            .len(),
        1
    );
    store.delete_function_policy("f", "live").await.unwrap();
    assert!(store.function_policy("f", "live").await.unwrap().is_none());
}

#[tokio::test]
async fn service_requests_are_checked_against_the_qualifiers_own_policy() {
    let (_dir, store) = open().await;
    store
        .create_function(&config("f"), &BTreeMap::new())
        .await
        .unwrap();
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
    let request = ServiceRequest {
        principal: "s3.amazonaws.com",
        action: "lambda:InvokeFunction",
        function_arn: arn,
        source_arn: Some("arn:aws:s3:::b"),
        source_account: Some("000000000000"),
        ..Default::default()
    };
    // No policy allows nothing.
    assert!(
        !store
            .function_allows_service("f", None, &request)
            .await
            .unwrap()
    );
    let statement = format!(
        r#"{{"Sid":"s3","Effect":"Allow","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{arn}","Condition":{{"ArnLike":{{"AWS:SourceArn":"arn:aws:s3:::b"}}}}}}"#
    );
    store
        .add_function_statement(
            "f",
            PolicyTarget::Version("$LATEST"),
            "s3",
            &statement,
            None,
        )
        .await
        .unwrap();
    for q in [None, Some("$LATEST")] {
        assert!(
            store
                .function_allows_service("f", q, &request)
                .await
                .unwrap()
        );
    }
    // A version has a policy of its own (none here), and another bucket is not the source.
    assert!(
        !store
            .function_allows_service("f", Some("1"), &request)
            .await
            .unwrap()
    );
    let other = ServiceRequest {
        source_arn: Some("arn:aws:s3:::c"),
        ..request.clone()
    };
    assert!(
        !store
            .function_allows_service("f", None, &other)
            .await
            .unwrap()
    );
}
