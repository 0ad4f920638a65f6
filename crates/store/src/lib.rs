//! Ignis's metadata store: functions, their versions, aliases, tags and concurrency settings,
//! function URL configurations, layers, policies, metered usage, CloudWatch metrics' minutes, the durable queue of asynchronous invocations, and the
//! metadata of the S3-compatible object store (buckets, objects, multipart uploads).
//!
//! [`Store`] is the handle callers hold. It keeps an in-memory cache of every version's
//! configuration, every alias and every function URL, so that the invoke path reads no disk: the cache is filled on
//! open and updated after each committed write. The rows themselves live in a [`Backend`]
//! (see [`backend`]): SQLite ([`SqliteBackend`], WAL, embedded migrations) is the one built,
//! and another database plugs in through [`Store::with_backend`] without touching callers.
//! Code packages live in `ignis-package`'s content-addressed store; rows refer to them by
//! SHA-256.

pub mod backend;
mod evaluate;
mod functions;
mod identity;
mod invoke_configs;
mod layers;
mod metrics;
mod objects;
mod policies;
mod queue;
mod shapes;
mod sqlite;
mod urls;
mod usage;
mod versions;

pub use backend::Backend;
pub use sqlite::{SqliteBackend, read_log_groups, read_usage};

pub use evaluate::{
    AccessRequest, Caller, Decision, ServiceRequest, evaluate, is_allowed_by_trust,
};
pub use functions::{FunctionRecord, Page};
pub use identity::{IdentityChange, IdentityDocument};
pub use metrics::{MergeMinute, MetricMinute, MetricSeries};
pub use objects::{
    BucketRecord, Checksum, Completed, ObjectError, ObjectRecord, PartRecord, Segment, UploadRecord,
};
pub use policies::{MAX_POLICY_BYTES, Policy, PolicyError, PolicyTarget};
pub use queue::{AsyncEvent, EnqueueError, QueueBounds};
pub use usage::Usage;
pub use versions::ProvisionedConfig;

use ignis_model::FunctionConfig;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Failures of the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("function {0} already exists")]
    AlreadyExists(String),
    #[error("function {0} not found")]
    NotFound(String),
    #[error("revision of {name} is {actual}, not {expected}")]
    RevisionMismatch {
        name: String,
        expected: String,
        actual: String,
    },
    #[error("code of {name} is {actual}, not {expected}")]
    CodeShaMismatch {
        name: String,
        expected: String,
        actual: String,
    },
    #[error("alias {0} already exists")]
    AliasExists(String),
    #[error("alias {0} not found")]
    AliasNotFound(String),
    #[error("version {version} of {name} is used by alias {alias}")]
    VersionInUse {
        name: String,
        version: String,
        alias: String,
    },
    #[error("function URL of {0} already exists")]
    UrlExists(String),
    #[error("function URL of {0} not found")]
    UrlNotFound(String),
    #[error("stored configuration of {name} is unreadable")]
    Corrupt {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("database")]
    Database(#[from] sqlx::Error),
    #[error("database migration")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

type ConfigCache = HashMap<(String, String), Arc<FunctionConfig>>;
type AliasCache = HashMap<(String, String), ignis_model::Alias>;

/// The metadata store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// The node this store handle belongs to: it owns the leases it takes.
    node: Arc<str>,
    cache: Arc<RwLock<ConfigCache>>,
    aliases: Arc<RwLock<AliasCache>>,
    /// Every function URL configuration, by id and by function and qualifier.
    urls: Arc<RwLock<urls::UrlCache>>,
    /// Payload bytes in the async queue, per function and in all.
    queue_bytes: Arc<queue::QueueBytes>,
    /// Function policies read for authorisation, with their revisions.
    policies: Arc<RwLock<policies::PolicyCache>>,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` as the store of `node`.
    pub async fn open(path: &Path, node: &str) -> Result<Store, StoreError> {
        Store::with_backend(Arc::new(SqliteBackend::open(path).await?), node).await
    }

    /// The store of `node` over `backend`: fills the caches and releases the leases `node`
    /// held in its last run (other nodes' leases stay theirs), and counts the async queue's bytes.
    pub async fn with_backend(backend: Arc<dyn Backend>, node: &str) -> Result<Store, StoreError> {
        let queue_bytes = Arc::new(queue::QueueBytes::from_rows(backend.queued_bytes().await?));
        let store = Store {
            queue_bytes,
            backend,
            node: Arc::from(node),
            cache: Arc::new(RwLock::new(HashMap::new())),
            aliases: Arc::new(RwLock::new(HashMap::new())),
            urls: Arc::default(),
            policies: Arc::default(),
        };
        for config in store.backend.all_versions().await? {
            store.cache_put(config);
        }
        store.load_aliases().await?;
        store.load_function_urls().await?;
        store.backend.release_leases(node).await?;
        Ok(store)
    }

    /// Closes the backend (for SQLite, checkpointing the WAL).
    pub async fn close(&self) {
        self.backend.close().await;
    }

    /// A version's configuration from memory; the invoke path's only lookup.
    pub fn cached(&self, name: &str, version: &str) -> Option<Arc<FunctionConfig>> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(name.to_string(), version.to_string()))
            .cloned()
    }

    fn cache_put(&self, config: FunctionConfig) {
        let key = (config.name.clone(), config.version.clone());
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, Arc::new(config));
    }

    fn cache_remove_function(&self, name: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(n, _), _| n != name);
    }
}
