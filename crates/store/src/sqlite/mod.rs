//! The SQLite backend: one database file in WAL mode with `synchronous = FULL`, and the
//! migrations of `migrations/sqlite` embedded in the binary.
//!
//! Statements use `$N` placeholders and portable SQL, so that a PostgreSQL backend can start
//! from the same text.

mod functions;
mod identity;
mod invoke_configs;
mod layers;
mod metrics;
mod objects;
mod policies;
mod queue;
mod urls;
mod usage;
mod versions;

pub use functions::read_log_groups;
pub use usage::read_usage;

use crate::StoreError;
use crate::backend::Connection;
use async_trait::async_trait;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Sqlite>;

/// Metadata in one SQLite file.
pub struct SqliteBackend {
    pool: SqlitePool,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteBackend, StoreError> {
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
        // It holds the secrets of access keys: its owner's only (SQLite gives its -wal and -shm
        // files the database's own mode).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(sqlx::Error::Io)?;
        }
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteBackend { pool })
    }
}

#[async_trait]
impl Connection for SqliteBackend {
    async fn close(&self) {
        self.pool.close().await;
    }
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One read-only connection to the database at `path`, without opening the store (no
/// migrations, no writes), so that a command can read beside a running node.
async fn read_only_pool(path: &Path) -> Result<SqlitePool, StoreError> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}
