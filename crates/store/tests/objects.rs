//! The object store's metadata against a real SQLite file.

use ignis_store::{
    AsyncEvent, BucketRecord, Checksum, EnqueueError, ObjectError, ObjectRecord, PartRecord,
    QueueBounds, Segment, Store, UploadRecord,
};
use std::collections::HashSet;

const U: QueueBounds = QueueBounds::UNBOUNDED;

async fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    (dir, store)
}

fn bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: name.into(),
        region: "us-east-1".into(),
        created_ms: 10,
        notification: None,
    }
}

fn object(bucket: &str, key: &str, blobs: &[&str]) -> ObjectRecord {
    ObjectRecord {
        bucket: bucket.into(),
        key: key.into(),
        size: 3 * blobs.len() as u64,
        etag: "9b2cf535f27731c974343645a3985328".into(),
        segments: blobs
            .iter()
            .map(|b| Segment {
                blob: b.to_string(),
                size: 3,
            })
            .collect(),
        last_modified_ms: 20,
        content_type: Some("text/plain".into()),
        headers: vec![("cache-control".into(), "no-cache".into())],
        metadata: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
        tags: vec![],
        checksum: Some(Checksum {
            algorithm: "CRC32".into(),
            value: "AAAAAA==".into(),
            kind: "FULL_OBJECT".into(),
        }),
        parts: None,
    }
}

fn event(id: &str, function: &str, bytes: usize) -> AsyncEvent {
    AsyncEvent {
        request_id: id.into(),
        function_name: function.into(),
        qualifier: "$LATEST".into(),
        invoked_arn: format!("arn:aws:lambda:us-east-1:000000000000:function:{function}"),
        payload: vec![b'x'; bytes],
        enqueued_ms: 100,
        attempts: 0,
        trace: None,
        trigger: None,
    }
}

fn upload(id: &str, bucket: &str, key: &str, initiated_ms: i64) -> UploadRecord {
    UploadRecord {
        upload_id: id.into(),
        bucket: bucket.into(),
        key: key.into(),
        initiated_ms,
        content_type: None,
        headers: vec![],
        metadata: vec![("m".into(), "v".into())],
        tags: vec![("t".into(), "1".into())],
        checksum_algorithm: Some("CRC32".into()),
    }
}

fn part(upload_id: &str, number: u32, blob: &str) -> PartRecord {
    PartRecord {
        upload_id: upload_id.into(),
        number,
        size: 5,
        etag: format!("etag{number}"),
        blob: blob.into(),
        last_modified_ms: 30,
        checksum: None,
    }
}

fn keys(objects: &[ObjectRecord]) -> Vec<&str> {
    objects.iter().map(|o| o.key.as_str()).collect()
}

#[tokio::test]
async fn buckets_are_created_listed_and_deleted_only_when_empty() {
    let (dir, store) = open().await;
    store.create_bucket(&bucket("zeta")).await.unwrap();
    store.create_bucket(&bucket("alpha")).await.unwrap();
    assert!(matches!(
        store.create_bucket(&bucket("alpha")).await,
        Err(ObjectError::BucketExists)
    ));
    let names: Vec<_> = store
        .buckets()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["alpha", "zeta"]);

    store
        .set_bucket_notification("alpha", Some(r#"{"x":1}"#))
        .await
        .unwrap();
    assert_eq!(
        store.bucket("alpha").await.unwrap().unwrap().notification,
        Some(r#"{"x":1}"#.to_string())
    );
    store.set_bucket_notification("alpha", None).await.unwrap();
    assert_eq!(
        store.bucket("alpha").await.unwrap().unwrap().notification,
        None
    );
    assert!(matches!(
        store.set_bucket_notification("nope", None).await,
        Err(ObjectError::NoSuchBucket)
    ));
    assert!(store.bucket("nope").await.unwrap().is_none());

    // An object keeps it; so does an upload in progress.
    store
        .put_object(&object("alpha", "k", &["b1"]), &[], 1, &U)
        .await
        .unwrap();
    assert!(matches!(
        store.delete_bucket("alpha").await,
        Err(ObjectError::BucketNotEmpty)
    ));
    store.delete_object("alpha", "k", &[], 1, &U).await.unwrap();
    store
        .create_upload(&upload("u1", "alpha", "k", 5))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_bucket("alpha").await,
        Err(ObjectError::BucketNotEmpty)
    ));
    store.abort_upload("u1").await.unwrap();
    store.delete_bucket("alpha").await.unwrap();
    assert!(matches!(
        store.delete_bucket("alpha").await,
        Err(ObjectError::NoSuchBucket)
    ));
    store.close().await;

    let reopened = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    assert_eq!(reopened.buckets().await.unwrap(), vec![bucket("zeta")]);
}

#[tokio::test]
async fn objects_are_replaced_and_deleted_with_their_events_in_one_transaction() {
    let (dir, store) = open().await;
    store.create_bucket(&bucket("b")).await.unwrap();
    let first = object("b", "k", &["blob1", "blob2"]);
    let previous = store
        .put_object(&first, &[event("e1", "f", 10)], 1, &U)
        .await
        .unwrap();
    assert_eq!(previous, None);
    assert_eq!(store.object("b", "k").await.unwrap(), Some(first.clone()));
    // The event is in the queue, counted.
    assert_eq!(store.queued_events().await.unwrap(), 1);
    assert_eq!(store.queued_bytes(Some("f")), 10);
    let leased = store.lease_due(1, 10, 1_000).await.unwrap();
    assert_eq!(leased[0].request_id, "e1");

    // A replacement answers the object it replaced.
    let second = ObjectRecord {
        etag: "other".into(),
        ..object("b", "k", &["blob3"])
    };
    let previous = store.put_object(&second, &[], 2, &U).await.unwrap();
    assert_eq!(previous, Some(first));

    // No bucket: nothing written, the reserved bytes given back.
    let e = store
        .put_object(&object("none", "k", &["x"]), &[event("e2", "f", 5)], 3, &U)
        .await;
    assert!(matches!(e, Err(ObjectError::NoSuchBucket)), "{e:?}");
    assert_eq!(store.queued_bytes(Some("f")), 10);
    assert_eq!(store.queued_events().await.unwrap(), 1);

    // Deleting a missing key succeeds, answers nothing and queues nothing.
    let gone = store
        .delete_object("b", "missing", &[event("e3", "f", 7)], 4, &U)
        .await
        .unwrap();
    assert_eq!(gone, None);
    assert_eq!(store.queued_events().await.unwrap(), 1);
    assert_eq!(store.queued_bytes(Some("f")), 10);
    assert!(matches!(
        store.delete_object("none", "k", &[], 4, &U).await,
        Err(ObjectError::NoSuchBucket)
    ));

    // Deleting the key answers it and queues its event.
    let gone = store
        .delete_object("b", "k", &[event("e4", "f", 7)], 4, &U)
        .await
        .unwrap();
    assert_eq!(gone, Some(second));
    assert!(store.object("b", "k").await.unwrap().is_none());
    assert_eq!(store.queued_events().await.unwrap(), 2);
    assert_eq!(store.queued_bytes(Some("f")), 17);
    store.close().await;

    let reopened = Store::open(&dir.path().join("meta.db"), "node-test")
        .await
        .unwrap();
    assert_eq!(reopened.queued_bytes(Some("f")), 17);
}

#[tokio::test]
async fn a_refused_event_leaves_no_object() {
    let (_dir, store) = open().await;
    store.create_bucket(&bucket("b")).await.unwrap();
    let bounds = QueueBounds {
        per_function: 100,
        total: 150,
    };
    store
        .put_object(
            &object("b", "a", &["1"]),
            &[event("e1", "f", 90)],
            1,
            &bounds,
        )
        .await
        .unwrap();
    // Past f's bound: refused, nothing written (neither the object nor the other event).
    let e = store
        .put_object(
            &object("b", "b", &["2"]),
            &[event("e2", "g", 10), event("e3", "f", 20)],
            1,
            &bounds,
        )
        .await;
    assert!(
        matches!(e, Err(ObjectError::Queue(EnqueueError::FunctionFull(ref f))) if f == "f"),
        "{e:?}"
    );
    assert!(store.object("b", "b").await.unwrap().is_none());
    assert_eq!(store.queued_bytes(Some("g")), 0);
    assert_eq!(store.queued_bytes(None), 90);
    // Past the node's bound.
    let e = store
        .put_object(
            &object("b", "c", &["3"]),
            &[event("e4", "g", 70)],
            1,
            &bounds,
        )
        .await;
    assert!(
        matches!(e, Err(ObjectError::Queue(EnqueueError::NodeFull))),
        "{e:?}"
    );
    assert!(store.object("b", "c").await.unwrap().is_none());
    // A delete refused the same way keeps its object.
    let e = store
        .delete_object("b", "a", &[event("e5", "g", 70)], 1, &bounds)
        .await;
    assert!(matches!(e, Err(ObjectError::Queue(_))), "{e:?}");
    assert!(store.object("b", "a").await.unwrap().is_some());
    // A failing transaction (a duplicate event id) writes nothing and gives the bytes back.
    let e = store
        .put_object(
            &object("b", "d", &["4"]),
            &[event("e1", "g", 5)],
            1,
            &bounds,
        )
        .await;
    assert!(matches!(e, Err(ObjectError::Store(_))), "{e:?}");
    assert!(store.object("b", "d").await.unwrap().is_none());
    assert_eq!(store.queued_bytes(None), 90);
    assert_eq!(store.queued_events().await.unwrap(), 1);
}

#[tokio::test]
async fn tags_are_replaced_on_an_existing_key() {
    let (_dir, store) = open().await;
    store.create_bucket(&bucket("b")).await.unwrap();
    store
        .put_object(&object("b", "k", &["1"]), &[], 1, &U)
        .await
        .unwrap();
    let tags = vec![("z".to_string(), "1".to_string()), ("a".into(), "2".into())];
    store.set_object_tags("b", "k", &tags).await.unwrap();
    let stored = store.object("b", "k").await.unwrap().unwrap();
    assert_eq!(stored.tags, tags);
    assert_eq!(stored.metadata, object("b", "k", &[]).metadata, "in order");
    assert!(matches!(
        store.set_object_tags("b", "nope", &tags).await,
        Err(ObjectError::NoSuchKey)
    ));
    assert!(matches!(
        store.set_object_tags("nope", "k", &tags).await,
        Err(ObjectError::NoSuchBucket)
    ));
}

#[tokio::test]
async fn listing_is_in_utf8_byte_order_with_exact_prefixes() {
    let (_dir, store) = open().await;
    store.create_bucket(&bucket("b")).await.unwrap();
    store.create_bucket(&bucket("other")).await.unwrap();
    let all = [
        "a%b",
        "a_b",
        "aXb",
        "a%",
        "a",
        "ab",
        "b",
        "é",
        "日本",
        "z",
        "\u{10FFFF}",
        "Z",
        "a/b/c",
        "a/",
        "a0",
    ];
    for k in all {
        store
            .put_object(&object("b", k, &["x"]), &[], 1, &U)
            .await
            .unwrap();
    }
    store
        .put_object(&object("other", "a", &["y"]), &[], 1, &U)
        .await
        .unwrap();
    let mut sorted: Vec<&str> = all.to_vec();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let listed = store.list_objects("b", "", None, 1000).await.unwrap();
    assert_eq!(keys(&listed), sorted);

    // `%` and `_` are literal.
    let listed = store.list_objects("b", "a%", None, 1000).await.unwrap();
    assert_eq!(keys(&listed), ["a%", "a%b"]);
    let listed = store.list_objects("b", "a_", None, 1000).await.unwrap();
    assert_eq!(keys(&listed), ["a_b"]);
    let listed = store.list_objects("b", "a/", None, 1000).await.unwrap();
    assert_eq!(keys(&listed), ["a/", "a/b/c"]);
    let listed = store.list_objects("b", "日", None, 1000).await.unwrap();
    assert_eq!(keys(&listed), ["日本"]);
    let listed = store
        .list_objects("b", "\u{10FFFF}", None, 1000)
        .await
        .unwrap();
    assert_eq!(keys(&listed), ["\u{10FFFF}"]);
    assert!(
        store
            .list_objects("b", "nothing", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Paging: strictly after the marker, at most the limit.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_objects("b", "", after.as_deref(), 4)
            .await
            .unwrap();
        assert!(page.len() <= 4);
        if page.is_empty() {
            break;
        }
        after = Some(page.last().unwrap().key.clone());
        paged.extend(page.into_iter().map(|o| o.key));
    }
    assert_eq!(paged, sorted);
    // A marker before the prefix starts at the prefix; one past it ends the listing.
    let listed = store.list_objects("b", "a", Some("A"), 2).await.unwrap();
    assert_eq!(keys(&listed), ["a", "a%"]);
    let listed = store.list_objects("b", "a", Some("b"), 10).await.unwrap();
    assert!(listed.is_empty());
    let listed = store.list_objects("b", "a", Some("a0"), 10).await.unwrap();
    assert_eq!(keys(&listed), ["aXb", "a_b", "ab"]);
    assert!(matches!(
        store.list_objects("nope", "", None, 10).await,
        Err(ObjectError::NoSuchBucket)
    ));
}

#[tokio::test]
async fn multipart_uploads_complete_in_one_transaction() {
    let (_dir, store) = open().await;
    store.create_bucket(&bucket("b")).await.unwrap();
    assert!(matches!(
        store.create_upload(&upload("u0", "none", "k", 1)).await,
        Err(ObjectError::NoSuchBucket)
    ));
    let u = upload("u1", "b", "k", 1);
    store.create_upload(&u).await.unwrap();
    assert_eq!(store.upload("u1").await.unwrap(), Some(u));
    assert!(store.upload("nope").await.unwrap().is_none());
    assert!(matches!(
        store.put_part(&part("nope", 1, "p")).await,
        Err(ObjectError::NoSuchUpload)
    ));

    for n in [3, 1, 2] {
        assert_eq!(
            store
                .put_part(&part("u1", n, &format!("p{n}")))
                .await
                .unwrap(),
            None
        );
    }
    // The same number again replaces the part and answers the old one.
    let replaced = store.put_part(&part("u1", 2, "p2b")).await.unwrap();
    assert_eq!(replaced, Some(part("u1", 2, "p2")));
    let numbers = |parts: Vec<PartRecord>| parts.iter().map(|p| p.number).collect::<Vec<_>>();
    assert_eq!(numbers(store.parts("u1", 0, 100).await.unwrap()), [1, 2, 3]);
    assert_eq!(numbers(store.parts("u1", 1, 1).await.unwrap()), [2]);
    assert!(store.parts("u1", 3, 100).await.unwrap().is_empty());

    let referenced = store.referenced_blobs().await.unwrap();
    assert_eq!(
        referenced,
        HashSet::from(["p1", "p2b", "p3"].map(String::from))
    );

    // Complete with parts 1 and 3: part 2's blob is left over.
    store
        .put_object(&object("b", "k", &["old"]), &[], 1, &U)
        .await
        .unwrap();
    let done = ObjectRecord {
        etag: "abc-2".into(),
        parts: Some(2),
        ..object("b", "k", &["p1", "p3"])
    };
    let completed = store
        .complete_upload("u1", &done, &[event("e1", "f", 4)], 5, &U)
        .await
        .unwrap();
    assert_eq!(completed.previous, Some(object("b", "k", &["old"])));
    assert_eq!(completed.unused_parts, vec![part("u1", 2, "p2b")]);
    assert_eq!(store.object("b", "k").await.unwrap(), Some(done.clone()));
    assert!(store.upload("u1").await.unwrap().is_none());
    assert!(store.parts("u1", 0, 100).await.unwrap().is_empty());
    assert_eq!(store.queued_events().await.unwrap(), 1);
    assert_eq!(store.queued_bytes(Some("f")), 4);
    assert!(matches!(
        store
            .complete_upload("u1", &done, &[event("e2", "f", 4)], 5, &U)
            .await,
        Err(ObjectError::NoSuchUpload)
    ));
    assert_eq!(store.queued_bytes(Some("f")), 4, "given back");
    assert_eq!(
        store.referenced_blobs().await.unwrap(),
        HashSet::from(["p1", "p3"].map(String::from))
    );

    // A refused event leaves the upload as it was.
    store
        .create_upload(&upload("u2", "b", "k2", 1))
        .await
        .unwrap();
    store.put_part(&part("u2", 1, "q1")).await.unwrap();
    let bounds = QueueBounds {
        per_function: 5,
        total: 100,
    };
    let e = store
        .complete_upload(
            "u2",
            &object("b", "k2", &["q1"]),
            &[event("e3", "f", 4)],
            5,
            &bounds,
        )
        .await;
    assert!(matches!(e, Err(ObjectError::Queue(_))), "{e:?}");
    assert!(store.upload("u2").await.unwrap().is_some());
    assert!(store.object("b", "k2").await.unwrap().is_none());

    // Abort answers the parts, whose blobs the caller deletes.
    assert_eq!(
        store.abort_upload("u2").await.unwrap(),
        vec![part("u2", 1, "q1")]
    );
    assert!(matches!(
        store.abort_upload("u2").await,
        Err(ObjectError::NoSuchUpload)
    ));
}

#[tokio::test]
async fn uploads_are_listed_by_key_then_initiation_after_the_markers() {
    let (_dir, store) = open().await;
    store.create_bucket(&bucket("b")).await.unwrap();
    store.create_bucket(&bucket("c")).await.unwrap();
    for (id, key, t) in [
        ("u5", "b", 1),
        ("u3", "a", 30),
        ("u1", "a", 10),
        ("u2", "a", 20),
        ("u4", "a%", 5),
        ("u6", "x", 1),
    ] {
        store.create_upload(&upload(id, "b", key, t)).await.unwrap();
    }
    store
        .create_upload(&upload("u9", "c", "a", 1))
        .await
        .unwrap();
    let ids =
        |uploads: Vec<UploadRecord>| uploads.into_iter().map(|u| u.upload_id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.uploads("b", "", None, None, 100).await.unwrap()),
        ["u1", "u2", "u3", "u4", "u5", "u6"]
    );
    assert_eq!(
        ids(store.uploads("b", "a", None, None, 100).await.unwrap()),
        ["u1", "u2", "u3", "u4"]
    );
    assert_eq!(
        ids(store.uploads("b", "a%", None, None, 100).await.unwrap()),
        ["u4"]
    );
    assert_eq!(
        ids(store.uploads("b", "", None, None, 2).await.unwrap()),
        ["u1", "u2"]
    );
    // The key marker alone: keys after it.
    assert_eq!(
        ids(store.uploads("b", "", Some("a"), None, 100).await.unwrap()),
        ["u4", "u5", "u6"]
    );
    // With an upload id: the rest of that key's uploads first.
    assert_eq!(
        ids(store
            .uploads("b", "", Some("a"), Some("u1"), 100)
            .await
            .unwrap()),
        ["u2", "u3", "u4", "u5", "u6"]
    );
    assert_eq!(
        ids(store
            .uploads("b", "a", Some("a"), Some("u3"), 100)
            .await
            .unwrap()),
        ["u4"]
    );
    // An upload id marker that no longer exists: by id within the key.
    assert_eq!(
        ids(store
            .uploads("b", "", Some("a"), Some("u15"), 100)
            .await
            .unwrap()),
        ["u2", "u3", "u4", "u5", "u6"]
    );
    // Without a key marker the upload id marker is ignored.
    assert_eq!(
        ids(store.uploads("b", "", None, Some("u3"), 100).await.unwrap()).len(),
        6
    );
}
