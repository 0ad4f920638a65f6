//! Leases: a tree an environment holds stays on disk through garbage collection, and goes
//! once it is free.

use ignis_package::{CodeStore, Limits, merged_key};
use std::collections::HashSet;
use std::io::{Cursor, Write};
use std::sync::Arc;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

fn zip_of(name: &str, text: &str) -> Vec<u8> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file(name, SimpleFileOptions::default()).unwrap();
    w.write_all(text.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

#[test]
fn a_leased_package_survives_collection_until_released() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CodeStore::open(dir.path()).unwrap());
    let d = store
        .put(&zip_of("data.txt", "v1"), &Limits::LAMBDA)
        .unwrap()
        .digest;
    let lease = store.lease(&[d]).expect("a stored package can be leased");
    assert!(!store.remove(&d).unwrap(), "a leased package is kept");
    assert!(store.tree_path(&d).join("data.txt").is_file());
    assert!(
        store.take_deferred().is_empty(),
        "still held: not handed back yet"
    );
    drop(lease);
    assert_eq!(store.take_deferred(), vec![d]);
    assert!(store.remove(&d).unwrap());
    assert!(!store.contains(&d));
    assert!(
        store.lease(&[d]).is_none(),
        "a removed package cannot be leased"
    );
    store
        .put(&zip_of("data.txt", "v1"), &Limits::LAMBDA)
        .unwrap();
    assert!(store.lease(&[d]).is_some(), "stored again, it can");
}

#[test]
fn a_leased_merged_opt_survives_retain() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CodeStore::open(dir.path()).unwrap());
    let layer = store
        .put(&zip_of("python/lib.py", "x = 1"), &Limits::LAMBDA)
        .unwrap()
        .digest;
    let opt = store.merged_layers(&[layer]).unwrap();
    let key = merged_key(&[layer]);
    let lease = store.lease(&[key]).unwrap();
    let mark = store.collection_mark();
    assert!(
        store
            .retain_merged(&HashSet::new(), mark)
            .unwrap()
            .is_empty()
    );
    assert!(opt.is_dir());
    // Released after the collection looked at what is in use: still kept by that collection.
    drop(lease);
    assert!(
        store
            .retain_merged(&HashSet::new(), mark)
            .unwrap()
            .is_empty()
    );
    // A collection that starts after the release removes it.
    let mark = store.collection_mark();
    assert_eq!(
        store.retain_merged(&HashSet::new(), mark).unwrap(),
        vec![key]
    );
    assert!(!opt.exists());
}
