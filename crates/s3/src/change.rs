//! Committing an object change: its row and the notification events it causes in one store
//! transaction, then the content no object uses any more removed and the dispatcher woken.

use crate::Objects;
use crate::errors::from_object;
use crate::events::{Change, RequestFacts};
use ignis_model::time;
use ignis_store::{BucketRecord, ObjectRecord};
use s3s::S3Result;

/// One change of one object, as the store writes it.
pub(crate) enum Write<'a> {
    /// Stores `record`, replacing any object of its key (PutObject, CopyObject).
    Put(&'a ObjectRecord),
    /// Deletes `key`; nothing, and no event, if it does not exist.
    Delete(&'a str),
    /// Completes an upload as `record`.
    Complete {
        upload_id: &'a str,
        record: &'a ObjectRecord,
    },
}

/// Commits `write` with the `event` notifications `bucket` asks for, removes the content of
/// what it replaced or deleted (or, when a put fails, the put's own), and wakes the dispatcher
/// when events were queued.
pub(crate) async fn commit(
    objects: &Objects,
    bucket: &BucketRecord,
    write: Write<'_>,
    event: &'static str,
    request: &RequestFacts,
) -> S3Result<()> {
    let now = time::now_ms();
    let (key, created) = match &write {
        Write::Put(record) | Write::Complete { record, .. } => (record.key.as_str(), Some(*record)),
        Write::Delete(key) => (*key, None),
    };
    let events = crate::events::for_change(
        objects,
        bucket,
        &Change {
            key,
            event,
            size: created.map(|r| r.size),
            etag: created.map(|r| r.etag.as_str()),
            request,
        },
        now,
    );
    let bounds = *objects.engine.async_bounds();
    let store = &objects.store;
    // The blobs to remove once committed; `None` when nothing changed (nothing was queued).
    let unused: Option<Vec<String>> = match write {
        Write::Put(record) => match store.put_object(record, &events, now, &bounds).await {
            Ok(previous) => Some(previous.map_or_else(Vec::new, |p| unshared(&p, record))),
            Err(e) => {
                objects.blobs.remove(blobs(record)).await;
                return Err(from_object(e));
            }
        },
        Write::Delete(key) => store
            .delete_object(&bucket.name, key, &events, now, &bounds)
            .await
            .map_err(from_object)?
            .map(|removed| blobs(&removed)),
        Write::Complete { upload_id, record } => {
            let completed = store
                .complete_upload(upload_id, record, &events, now, &bounds)
                .await
                .map_err(from_object)?;
            let mut unused = completed
                .previous
                .map_or_else(Vec::new, |p| unshared(&p, record));
            unused.extend(completed.unused_parts.into_iter().map(|p| p.blob));
            Some(unused)
        }
    };
    if let Some(unused) = unused {
        objects.blobs.remove(unused).await;
        if !events.is_empty() {
            objects.engine.queued(&events);
        }
    }
    Ok(())
}

fn blobs(record: &ObjectRecord) -> Vec<String> {
    record.segments.iter().map(|s| s.blob.clone()).collect()
}

/// The blobs of `old` that `new` does not use.
fn unshared(old: &ObjectRecord, new: &ObjectRecord) -> Vec<String> {
    old.segments
        .iter()
        .filter(|s| !new.segments.iter().any(|n| n.blob == s.blob))
        .map(|s| s.blob.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_store::Segment;

    fn record(blobs: &[&str]) -> ObjectRecord {
        ObjectRecord {
            bucket: "b".into(),
            key: "k".into(),
            size: blobs.len() as u64,
            etag: "e".into(),
            segments: blobs
                .iter()
                .map(|b| Segment {
                    blob: b.to_string(),
                    size: 1,
                })
                .collect(),
            last_modified_ms: 0,
            content_type: None,
            headers: Vec::new(),
            metadata: Vec::new(),
            tags: Vec::new(),
            checksum: None,
            parts: None,
        }
    }

    #[test]
    fn only_content_the_new_object_does_not_use_is_removed() {
        let old = record(&["a", "b", "c"]);
        assert_eq!(unshared(&old, &record(&["b", "d"])), ["a", "c"]);
        assert!(unshared(&old, &old).is_empty());
    }
}
