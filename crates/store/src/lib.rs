//! Ignis's metadata store: functions, their versions, aliases, tags and concurrency settings,
//! and the durable queue of
//! asynchronous invocations, in SQLite (WAL) with embedded migrations.
//!
//! It owns the durable state of the control plane and an in-memory cache of every version's
//! configuration and every alias, so that the invoke path reads no disk: the cache is filled on open and
//! updated on each committed write. Code packages themselves live in `ignis-package`'s
//! content-addressed store; rows here refer to them by SHA-256.
//!
//! Queries are written with `$N` placeholders and portable SQL so that the same statements can
//! run on PostgreSQL when a multi-node backend is added.

mod functions;
mod layers;
mod policies;
mod queue;
mod shapes;
mod usage;
mod versions;

pub use functions::{FunctionRecord, Page};
pub use policies::{MAX_POLICY_BYTES, Policy, PolicyError, PolicyTarget};
pub use queue::AsyncEvent;
pub use usage::{Usage, read_usage};
pub use versions::ProvisionedConfig;

use ignis_model::FunctionConfig;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

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
    pool: SqlitePool,
    /// The node this store handle belongs to: it owns the leases it takes.
    node: Arc<str>,
    cache: Arc<RwLock<ConfigCache>>,
    aliases: Arc<RwLock<AliasCache>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, runs migrations, fills the cache and
    /// releases the leases `node` held in its last run.
    pub async fn open(path: &Path, node: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: a commit (above all an enqueued async event) survives a crash of the host.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // One connection: SQLite has one writer anyway, and reads are served from the cache.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let store = Store {
            pool,
            node: Arc::from(node),
            cache: Arc::new(RwLock::new(HashMap::new())),
            aliases: Arc::new(RwLock::new(HashMap::new())),
        };
        store.load_cache().await?;
        store.load_aliases().await?;
        store.release_leases().await?;
        Ok(store)
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
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
