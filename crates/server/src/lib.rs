//! The composition root: `ignis up` and `ignis env`.
//!
//! It resolves the node's configuration, takes an exclusive lock on the data directory, loads or
//! creates the root credentials, opens the metadata and code stores, builds the API state and
//! serves the router until SIGINT/SIGTERM. Nothing else in Ignis reads the process environment
//! or the data-directory layout.

mod credentials;
mod data_dir;

pub use credentials::Credentials;
pub use data_dir::{DataDir, default_data_dir};

use ignis_api::{ApiState, CodeUrlSigner, RootCredentials};
use ignis_model::Account;
use ignis_package::CodeStore;
use ignis_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Failures that stop `ignis up` before or while serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another Ignis is already running on the data directory {0} (remove nothing; stop that process first)"
    )]
    Locked(PathBuf),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("metadata store")]
    Store(#[from] ignis_store::StoreError),
    #[error("code store")]
    Code(#[from] ignis_package::PackageError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// The settings of one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    /// Root credentials from the environment, if given; otherwise they are generated once.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// Runs one node in the foreground until SIGINT or SIGTERM.
pub async fn up(config: NodeConfig) -> Result<(), ServerError> {
    let data = DataDir::open(&config.data_dir)?;
    let credentials = Credentials::resolve(
        &data,
        config.access_key_id.clone(),
        config.secret_access_key.clone(),
    )?;
    let store = Store::open(&data.metadata_db()).await?;
    let code = CodeStore::open(&data.code_dir())?;
    let state = ApiState {
        account: Account {
            id: config.account_id.clone(),
            region: config.region.clone(),
        },
        store: store.clone(),
        code: Arc::new(code),
        credentials: RootCredentials {
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
        },
        code_urls: CodeUrlSigner::new(&data.url_signing_key()?),
        code_lock: Arc::new(tokio::sync::Mutex::new(())),
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(ServerError::Serve)?;
    // Signal handlers are installed before the node announces itself, so a signal sent the
    // moment it is up still shuts it down cleanly.
    let shutdown = shutdown_signal().map_err(ServerError::Serve)?;
    // One line on stdout that tools (and the test suite) can wait for.
    println!(
        "ignis listening on http://{local} (data dir {})",
        data.path().display()
    );
    tracing::info!(%local, region = %config.region, account = %config.account_id, "ignis is up");

    axum::serve(listener, ignis_api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServerError::Serve)?;
    tracing::info!("shutting down");
    store.close().await;
    drop(data);
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM; the handlers exist from the moment this returns.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// `export` lines that point the AWS CLI and SDKs at a node.
pub fn env_lines(listen: SocketAddr, region: &str, creds: &Credentials) -> String {
    format!(
        "export AWS_ENDPOINT_URL=http://{listen}\nexport AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_REGION={region}\nexport AWS_DEFAULT_REGION={region}\n",
        creds.access_key_id, creds.secret_access_key
    )
}
