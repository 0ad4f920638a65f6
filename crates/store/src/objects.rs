//! Metadata of the S3-compatible object store: buckets, objects, multipart uploads and parts.
//!
//! Content is not kept here: an object names the blobs (files owned by `ignis-s3`) that hold
//! its bytes, in order, and a part names its blob. Blobs are written and committed before the
//! metadata that names them, so a crash between the two leaves only unreferenced blobs, which
//! the start-up sweep removes ([`Store::referenced_blobs`]).
//!
//! Writes that raise bucket notifications ([`Store::put_object`], [`Store::delete_object`],
//! [`Store::complete_upload`]) insert their asynchronous events into the queue in the same
//! transaction as the object row: an object is never stored without its events, nor an event
//! queued for an object that was not stored. The events' payload bytes are reserved in the
//! queue's bounds before the transaction (a refusal writes nothing) and given back if it fails.
//!
//! Keys are ordered as S3 orders them, by their UTF-8 bytes, and a prefix matches bytes exactly
//! (no wildcards). Records are stored as JSON carrying a `schema` (see `shapes.rs`).

use crate::queue::{AsyncEvent, EnqueueError, QueueBounds};
use crate::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// The bucket's name.
    pub name: String,
    /// The region the bucket was created in (its `LocationConstraint`).
    pub region: String,
    /// When it was created, in ms since the epoch.
    pub created_ms: i64,
    /// The bucket's notification configuration: JSON owned by `ignis-s3`, opaque here.
    pub notification: Option<String>,
}

/// One blob of an object's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The blob's id in `ignis-s3`'s blob store.
    pub blob: String,
    /// Its length in bytes.
    pub size: u64,
}

/// A checksum S3 stores with an object or a part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksum {
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1` or `SHA256`.
    pub algorithm: String,
    /// The checksum, base64.
    pub value: String,
    /// `FULL_OBJECT` or `COMPOSITE`.
    pub kind: String,
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// The bucket holding the object.
    pub bucket: String,
    /// The object's key.
    pub key: String,
    /// Content length: the sum of the segments' sizes.
    pub size: u64,
    /// The entity tag without quotes (`9b2cf5…`, or `abc…-3` for a multipart object).
    pub etag: String,
    /// The content is these blobs in order (a multipart object keeps its parts' blobs).
    pub segments: Vec<Segment>,
    /// When it was written, in ms since the epoch.
    pub last_modified_ms: i64,
    /// `Content-Type`, as given.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Other stored headers (cache-control, content-disposition, content-encoding,
    /// content-language, expires, …), as given.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// User metadata (`x-amz-meta-*`), names lower-case without the prefix, in order.
    #[serde(default)]
    pub metadata: Vec<(String, String)>,
    /// The object's tags, in order.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The checksum stored with the object.
    #[serde(default)]
    pub checksum: Option<Checksum>,
    /// The part count of a multipart object.
    #[serde(default)]
    pub parts: Option<u32>,
}

/// An in-progress multipart upload: what the object will carry once completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// The upload's id.
    pub upload_id: String,
    /// The bucket the object will be in.
    pub bucket: String,
    /// The key the object will have.
    pub key: String,
    /// When the upload was created, in ms since the epoch.
    pub initiated_ms: i64,
    /// `Content-Type` for the object.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Other headers for the object, as [`ObjectRecord::headers`].
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// User metadata for the object, as [`ObjectRecord::metadata`].
    #[serde(default)]
    pub metadata: Vec<(String, String)>,
    /// Tags for the object.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The checksum algorithm the upload was created with.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// The upload the part belongs to.
    pub upload_id: String,
    /// The part number, 1 to 10,000.
    pub number: u32,
    /// Its length in bytes.
    pub size: u64,
    /// The part's entity tag without quotes.
    pub etag: String,
    /// The blob holding the part's bytes.
    pub blob: String,
    /// When it was uploaded, in ms since the epoch.
    pub last_modified_ms: i64,
    /// The checksum stored with the part.
    #[serde(default)]
    pub checksum: Option<Checksum>,
}

/// What completing a multipart upload replaced and left over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The object the completed one replaced (the caller deletes its blobs).
    pub previous: Option<ObjectRecord>,
    /// The upload's parts whose blobs the object does not use (the caller deletes them).
    pub unused_parts: Vec<PartRecord>,
}

/// Why an object-store operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The bucket does not exist.
    #[error("the bucket does not exist")]
    NoSuchBucket,
    /// A bucket of that name exists.
    #[error("the bucket already exists")]
    BucketExists,
    /// The bucket holds objects or in-progress uploads.
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    /// The object does not exist.
    #[error("the key does not exist")]
    NoSuchKey,
    /// The multipart upload does not exist (completed, aborted, or never made).
    #[error("the upload does not exist")]
    NoSuchUpload,
    /// The notification events would not fit the asynchronous queue's bounds.
    #[error(transparent)]
    Queue(EnqueueError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ObjectError {
    fn from(e: sqlx::Error) -> ObjectError {
        ObjectError::Store(e.into())
    }
}

/// The smallest string greater than every string that starts with `prefix`, or `None` when
/// there is none (an empty prefix, or one made only of U+10FFFF). Code point order is UTF-8 byte
/// order, so `prefix <= key < successor` is exactly "key starts with prefix".
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl Store {
    /// Creates a bucket; `BucketExists` when the name is taken.
    pub async fn create_bucket(&self, bucket: &BucketRecord) -> Result<(), ObjectError> {
        self.backend.create_bucket(bucket).await
    }

    /// A bucket, if it exists.
    pub async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError> {
        self.backend.bucket(name).await
    }

    /// Every bucket, sorted by name.
    pub async fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError> {
        self.backend.buckets().await
    }

    /// Deletes a bucket: `NoSuchBucket`, or `BucketNotEmpty` while it holds objects or
    /// in-progress uploads.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ObjectError> {
        self.backend.delete_bucket(name).await
    }

    /// Replaces (or with `None` removes) a bucket's notification configuration.
    pub async fn set_bucket_notification(
        &self,
        name: &str,
        notification: Option<&str>,
    ) -> Result<(), ObjectError> {
        self.backend
            .set_bucket_notification(name, notification)
            .await
    }

    /// Stores an object (replacing any of its key) and queues `events`, in one transaction;
    /// returns the object it replaced, whose blobs the caller deletes. `NoSuchBucket` when the
    /// bucket does not exist; `Queue` when the events do not fit `bounds` (nothing written).
    pub async fn put_object(
        &self,
        object: &ObjectRecord,
        events: &[AsyncEvent],
        now_ms: i64,
        bounds: &QueueBounds,
    ) -> Result<Option<ObjectRecord>, ObjectError> {
        self.with_events(events, bounds, || async {
            Ok((self.backend.put_object(object, events, now_ms).await?, true))
        })
        .await
    }

    /// An object's metadata, if the key exists.
    pub async fn object(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectRecord>, StoreError> {
        self.backend.object(bucket, key).await
    }

    /// Deletes an object and queues `events`, in one transaction; returns the deleted object
    /// (the caller deletes its blobs). A key that does not exist is `Ok(None)` and queues
    /// nothing (S3 deletes of missing keys succeed). `NoSuchBucket`; `Queue` as for
    /// [`Store::put_object`].
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: &[AsyncEvent],
        now_ms: i64,
        bounds: &QueueBounds,
    ) -> Result<Option<ObjectRecord>, ObjectError> {
        self.with_events(events, bounds, || async {
            let deleted = self
                .backend
                .delete_object(bucket, key, events, now_ms)
                .await?;
            let queued = deleted.is_some();
            Ok((deleted, queued))
        })
        .await
    }

    /// Replaces an object's tags; `NoSuchKey` (or `NoSuchBucket`).
    pub async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), ObjectError> {
        self.backend.set_object_tags(bucket, key, tags).await
    }

    /// Objects whose keys start with `prefix` (byte for byte) and are greater than `after`, in
    /// UTF-8 byte order, at most `limit`. `NoSuchBucket`.
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, ObjectError> {
        self.backend
            .list_objects(bucket, prefix, after, limit)
            .await
    }

    /// Starts a multipart upload; `NoSuchBucket`.
    pub async fn create_upload(&self, upload: &UploadRecord) -> Result<(), ObjectError> {
        self.backend.create_upload(upload).await
    }

    /// An in-progress upload, if it exists.
    pub async fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>, StoreError> {
        self.backend.upload(upload_id).await
    }

    /// Stores a part, replacing the part of the same number, which it returns (the caller
    /// deletes its blob). `NoSuchUpload`.
    pub async fn put_part(&self, part: &PartRecord) -> Result<Option<PartRecord>, ObjectError> {
        self.backend.put_part(part).await
    }

    /// An upload's parts numbered above `after`, ascending, at most `limit`.
    pub async fn parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: u32,
    ) -> Result<Vec<PartRecord>, StoreError> {
        self.backend.parts(upload_id, after, limit).await
    }

    /// A bucket's in-progress uploads whose keys start with `prefix`, in ListMultipartUploads'
    /// order (key, then initiation time, then upload id), after the markers: with `key_marker`
    /// alone, keys greater than it; with `upload_id_marker` too, also the uploads of
    /// `key_marker` itself that come after that upload (by initiation, or by id when the marker
    /// upload no longer exists). `upload_id_marker` without `key_marker` is ignored, as in S3.
    pub async fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, StoreError> {
        self.backend
            .uploads(bucket, prefix, key_marker, upload_id_marker, limit)
            .await
    }

    /// Completes an upload in one transaction: stores `object` (replacing any of its key),
    /// queues `events`, and deletes the upload and all its parts. `NoSuchUpload`; `Queue` as
    /// for [`Store::put_object`].
    pub async fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
        events: &[AsyncEvent],
        now_ms: i64,
        bounds: &QueueBounds,
    ) -> Result<Completed, ObjectError> {
        self.with_events(events, bounds, || async {
            let completed = self
                .backend
                .complete_upload(upload_id, object, events, now_ms)
                .await?;
            Ok((completed, true))
        })
        .await
    }

    /// Aborts an upload: deletes it and its parts, which it returns (the caller deletes their
    /// blobs). `NoSuchUpload`.
    pub async fn abort_upload(&self, upload_id: &str) -> Result<Vec<PartRecord>, ObjectError> {
        self.backend.abort_upload(upload_id).await
    }

    /// Every blob an object or a part names: what the start-up sweep keeps.
    pub async fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError> {
        self.backend.referenced_blobs().await
    }

    /// Reserves `events`' bytes in the queue's bounds, runs `write`, and gives the bytes back
    /// unless it succeeded and says (its second value) that it queued the events.
    async fn with_events<T, F, Fut>(
        &self,
        events: &[AsyncEvent],
        bounds: &QueueBounds,
        write: F,
    ) -> Result<T, ObjectError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(T, bool), ObjectError>>,
    {
        self.queue_bytes
            .reserve_all(events, bounds)
            .map_err(ObjectError::Queue)?;
        match write().await {
            Ok((done, true)) => Ok(done),
            Ok((done, false)) => {
                self.queue_bytes.release_all(events);
                Ok(done)
            }
            Err(e) => {
                self.queue_bytes.release_all(events);
                Err(e)
            }
        }
    }
}
