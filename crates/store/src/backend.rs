//! What a database must do to hold Ignis's metadata.
//!
//! [`Store`](crate::Store) is the handle every caller uses: it keeps the in-memory caches the
//! invoke path reads and updates them after each committed write. Underneath it, a [`Backend`]
//! owns the rows and the transactions. SQLite ([`crate::SqliteBackend`]) is the one built; a
//! PostgreSQL backend implements the same traits and is handed to
//! [`Store::with_backend`](crate::Store::with_backend) without touching any caller.
//!
//! Every method is one transaction: its checks (revisions, existence, conflicts) are made
//! inside it, so two nodes writing the same function see one order. The traits are split by
//! area so that each backend implements them file by file; [`Backend`] is all of them.

use crate::StoreError;
use crate::functions::{FunctionRecord, Page};
use crate::identity::{IdentityChange, IdentityDocument};
use crate::metrics::{MergeMinute, MetricMinute, MetricSeries};
use crate::objects::{
    BucketRecord, Completed, ObjectError, ObjectRecord, PartRecord, UploadRecord,
};
use crate::policies::{Policy, PolicyError, PolicyTarget};
use crate::queue::AsyncEvent;
use crate::usage::Usage;
use crate::versions::ProvisionedConfig;
use async_trait::async_trait;
use ignis_model::invoke_config::EventInvokeConfig;
use ignis_model::layer::LayerVersion;
use ignis_model::url::FunctionUrl;
use ignis_model::{Alias, FunctionConfig};
use std::collections::{BTreeMap, HashMap, HashSet};

/// All the areas of the metadata; implemented for any type that implements each of them.
pub trait Backend:
    Connection
    + FunctionRows
    + VersionRows
    + LayerRows
    + PolicyRows
    + QueueRows
    + UsageRows
    + MetricRows
    + ObjectRows
    + UrlRows
    + IdentityRows
    + InvokeConfigRows
{
}

impl<T> Backend for T where
    T: Connection
        + FunctionRows
        + VersionRows
        + LayerRows
        + PolicyRows
        + QueueRows
        + UsageRows
        + MetricRows
        + ObjectRows
        + UrlRows
        + IdentityRows
        + InvokeConfigRows
{
}

/// The connection itself.
#[async_trait]
pub trait Connection: Send + Sync + 'static {
    /// Flushes and closes (for SQLite, checkpoints the WAL).
    async fn close(&self);
}

/// Functions, their `$LATEST` and tags.
#[async_trait]
pub trait FunctionRows: Send + Sync {
    /// Every stored version of every function, to fill the cache.
    async fn all_versions(&self) -> Result<Vec<FunctionConfig>, StoreError>;
    /// Inserts a function and its `$LATEST`; `AlreadyExists` when the name is taken.
    async fn create_function(
        &self,
        latest: &FunctionConfig,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), StoreError>;
    async fn get_function(&self, name: &str) -> Result<FunctionRecord, StoreError>;
    /// `$LATEST` of every function in name order, after `marker`, at most `limit`.
    async fn list_functions(
        &self,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<FunctionConfig>, StoreError>;
    /// Replaces `$LATEST` if its revision is still `expected_revision`.
    async fn update_latest(
        &self,
        config: &FunctionConfig,
        expected_revision: &str,
    ) -> Result<(), StoreError>;
    /// Deletes a function with everything that belongs to it; returns its code hashes.
    async fn delete_function(&self, name: &str) -> Result<Vec<String>, StoreError>;
    /// Whether any function version's code is this package.
    async fn versions_use_code(&self, sha256_hex: &str) -> Result<bool, StoreError>;
    /// Adds or replaces tags.
    async fn tag(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), StoreError>;
    /// Removes tags by key.
    async fn untag(&self, name: &str, keys: &[String]) -> Result<(), StoreError>;
    /// Total stored code (once per version) and the number of functions.
    async fn usage(&self) -> Result<(u64, u64), StoreError>;
}

/// Published versions, aliases, and reserved and provisioned concurrency.
#[async_trait]
pub trait VersionRows: Send + Sync {
    /// See [`Store::publish_version`](crate::Store::publish_version).
    async fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        expected_code_sha256: Option<&str>,
        expected_revision: Option<&str>,
        revision_id: String,
        now_ms: i64,
    ) -> Result<(FunctionConfig, bool), StoreError>;
    /// Every version of a function in Lambda's order, paginated by version.
    async fn list_versions(
        &self,
        name: &str,
        marker: Option<&str>,
        limit: usize,
    ) -> Result<Page<FunctionConfig>, StoreError>;
    /// Deletes one published version unless an alias routes to it; returns its code hash.
    async fn delete_version(&self, name: &str, version: &str) -> Result<String, StoreError>;
    /// Every alias, to fill the cache.
    async fn all_aliases(&self) -> Result<Vec<Alias>, StoreError>;
    /// Inserts an alias; `AliasExists` when the name is taken.
    async fn create_alias(&self, alias: &Alias) -> Result<(), StoreError>;
    /// Replaces an alias if its revision is still `expected_revision`: `RevisionMismatch`
    /// when it is not, `AliasNotFound` when there is no such alias.
    async fn update_alias(&self, alias: &Alias, expected_revision: &str) -> Result<(), StoreError>;
    /// Deletes an alias, its provisioned concurrency and its function URL.
    async fn delete_alias(&self, function: &str, name: &str) -> Result<(), StoreError>;
    async fn set_reserved_concurrency(
        &self,
        name: &str,
        value: Option<u32>,
    ) -> Result<(), StoreError>;
    async fn reserved_concurrency(&self) -> Result<HashMap<String, u32>, StoreError>;
    async fn put_provisioned(&self, config: &ProvisionedConfig) -> Result<(), StoreError>;
    async fn delete_provisioned(&self, function: &str, qualifier: &str)
    -> Result<bool, StoreError>;
    async fn list_provisioned(
        &self,
        function: Option<&str>,
    ) -> Result<Vec<ProvisionedConfig>, StoreError>;
}

/// Asynchronous invocation configurations, one per function and qualifier.
#[async_trait]
pub trait InvokeConfigRows: Send + Sync {
    /// Inserts or replaces the one of `config.function` and `config.qualifier`; `NotFound` when
    /// the function does not exist.
    async fn put_invoke_config(&self, config: &EventInvokeConfig) -> Result<(), StoreError>;
    async fn invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<EventInvokeConfig>, StoreError>;
    /// A function's configurations in qualifier order.
    async fn invoke_configs(&self, function: &str) -> Result<Vec<EventInvokeConfig>, StoreError>;
    /// Deletes one; whether there was one.
    async fn delete_invoke_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<bool, StoreError>;
}

/// Layers and their versions.
#[async_trait]
pub trait LayerRows: Send + Sync {
    /// Publishes `draft` as the next version of its layer; numbers are never reused.
    async fn publish_layer_version(&self, draft: &LayerVersion)
    -> Result<LayerVersion, StoreError>;
    async fn layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<LayerVersion>, StoreError>;
    /// The versions of one layer, newest first.
    async fn layer_versions(&self, name: &str) -> Result<Vec<LayerVersion>, StoreError>;
    /// Every layer version, by layer name and then newest first.
    async fn all_layer_versions(&self) -> Result<Vec<LayerVersion>, StoreError>;
    /// Deletes a layer version and its policy; its code hash, or `None` if there was none.
    async fn delete_layer_version(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<String>, StoreError>;
    /// Whether any layer version's code is this package.
    async fn layer_versions_use_code(&self, sha256_hex: &str) -> Result<bool, StoreError>;
}

/// Resource-based policies of function qualifiers and layer versions.
#[async_trait]
pub trait PolicyRows: Send + Sync {
    async fn function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<Policy>, PolicyError>;
    /// See [`Store::add_function_statement`](crate::Store::add_function_statement). Returns the
    /// target's new revision and, for a version, its configuration carrying it.
    async fn add_function_statement(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        sid: &str,
        statement_json: &str,
        expected_revision: Option<&str>,
    ) -> Result<(String, Option<FunctionConfig>), PolicyError>;
    /// See [`Store::remove_function_statement`](crate::Store::remove_function_statement);
    /// returns as [`PolicyRows::add_function_statement`] does.
    async fn remove_function_statement(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        sid: &str,
        expected_revision: Option<&str>,
    ) -> Result<(String, Option<FunctionConfig>), PolicyError>;
    async fn delete_function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<(), StoreError>;
    async fn layer_policy(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<(Policy, String)>, PolicyError>;
    async fn add_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        statement_json: &str,
        expected_revision: Option<&str>,
    ) -> Result<String, PolicyError>;
    async fn remove_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        expected_revision: Option<&str>,
    ) -> Result<(), PolicyError>;
}

/// The durable queue of asynchronous invocations. A commit is durable when it returns.
#[async_trait]
pub trait QueueRows: Send + Sync {
    async fn enqueue(&self, event: &AsyncEvent, now_ms: i64) -> Result<(), StoreError>;
    /// Leases up to `limit` due, unleased events to `node` for `lease_ms`.
    async fn lease_due(
        &self,
        node: &str,
        now_ms: i64,
        limit: u32,
        lease_ms: i64,
    ) -> Result<Vec<AsyncEvent>, StoreError>;
    /// Deletes the event; answers its function and payload bytes if it was there.
    async fn ack(&self, request_id: &str) -> Result<Option<(String, u64)>, StoreError>;
    async fn retry_later(
        &self,
        request_id: &str,
        attempts: u32,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError>;
    async fn queued_events(&self) -> Result<u64, StoreError>;
    /// Payload bytes queued per function (read once, when a store opens).
    async fn queued_bytes(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// Forgets the leases `node` (or no node) holds; other nodes' leases stay.
    async fn release_leases(&self, node: &str) -> Result<(), StoreError>;
}

/// Metered usage.
#[async_trait]
pub trait UsageRows: Send + Sync {
    /// Adds a batch of counts in one transaction.
    async fn add_usage(&self, batch: &[Usage], now_ms: i64) -> Result<(), StoreError>;
    /// Usage of every function that has been invoked, by name.
    async fn function_usage(&self) -> Result<Vec<Usage>, StoreError>;
}

/// CloudWatch metrics: series and their minutes.
#[async_trait]
pub trait MetricRows: Send + Sync {
    /// Adds minutes in one transaction, merging each with the one stored by `merge`.
    async fn add_metric_minutes(
        &self,
        batch: &[(MetricSeries, MetricMinute)],
        now_ms: i64,
        merge: &MergeMinute,
    ) -> Result<(), StoreError>;
    /// Series of a namespace and name (any when `None`), with their last datapoint's time.
    async fn metric_series(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<(MetricSeries, i64)>, StoreError>;
    /// The minutes of one series in `[start_ms, end_ms)`, in order.
    async fn metric_minutes(
        &self,
        series: &MetricSeries,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MetricMinute>, StoreError>;
    /// Deletes minutes before `before_ms` and the series left empty and quiet since.
    async fn expire_metrics(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// Function URL configurations, one per function and qualifier (`None`: `$LATEST`).
#[async_trait]
pub trait UrlRows: Send + Sync {
    /// Every URL configuration, to fill the cache.
    async fn all_function_urls(&self) -> Result<Vec<FunctionUrl>, StoreError>;
    /// Inserts one after checking, in the same transaction, that its function (`NotFound`) and
    /// alias (`AliasNotFound`) exist; `UrlExists` when the function and qualifier have one.
    async fn create_function_url(&self, url: &FunctionUrl) -> Result<(), StoreError>;
    /// Replaces the one of `url.function` and `url.qualifier`; `UrlNotFound` when there is none.
    async fn update_function_url(&self, url: &FunctionUrl) -> Result<(), StoreError>;
    /// Deletes one; `UrlNotFound` when there is none.
    async fn delete_function_url(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), StoreError>;
}

/// Buckets, objects, multipart uploads and their parts (see [`crate::Store::put_object`] and
/// its neighbours for each method's meaning). Writes that take `events` insert them into the
/// queue in the same transaction; the caller has already counted their bytes.
#[async_trait]
pub trait ObjectRows: Send + Sync {
    async fn create_bucket(&self, bucket: &BucketRecord) -> Result<(), ObjectError>;
    async fn bucket(&self, name: &str) -> Result<Option<BucketRecord>, StoreError>;
    async fn buckets(&self) -> Result<Vec<BucketRecord>, StoreError>;
    async fn delete_bucket(&self, name: &str) -> Result<(), ObjectError>;
    async fn set_bucket_notification(
        &self,
        name: &str,
        notification: Option<&str>,
    ) -> Result<(), ObjectError>;
    async fn put_object(
        &self,
        object: &ObjectRecord,
        events: &[AsyncEvent],
        now_ms: i64,
    ) -> Result<Option<ObjectRecord>, ObjectError>;
    async fn object(&self, bucket: &str, key: &str) -> Result<Option<ObjectRecord>, StoreError>;
    async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: &[AsyncEvent],
        now_ms: i64,
    ) -> Result<Option<ObjectRecord>, ObjectError>;
    async fn set_object_tags(
        &self,
        bucket: &str,
        key: &str,
        tags: &[(String, String)],
    ) -> Result<(), ObjectError>;
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ObjectRecord>, ObjectError>;
    async fn create_upload(&self, upload: &UploadRecord) -> Result<(), ObjectError>;
    async fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>, StoreError>;
    async fn put_part(&self, part: &PartRecord) -> Result<Option<PartRecord>, ObjectError>;
    async fn parts(
        &self,
        upload_id: &str,
        after: u32,
        limit: u32,
    ) -> Result<Vec<PartRecord>, StoreError>;
    async fn uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: Option<&str>,
        upload_id_marker: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UploadRecord>, StoreError>;
    async fn complete_upload(
        &self,
        upload_id: &str,
        object: &ObjectRecord,
        events: &[AsyncEvent],
        now_ms: i64,
    ) -> Result<Completed, ObjectError>;
    async fn abort_upload(&self, upload_id: &str) -> Result<Vec<PartRecord>, ObjectError>;
    async fn referenced_blobs(&self) -> Result<HashSet<String>, StoreError>;
}

/// IAM and STS documents (opaque to the store).
#[async_trait]
pub trait IdentityRows: Send + Sync {
    async fn identity_documents(&self) -> Result<Vec<IdentityDocument>, StoreError>;
    /// Applies every change in one transaction.
    async fn change_identity(&self, changes: &[IdentityChange]) -> Result<(), StoreError>;
}
