//! Ignis's S3-compatible object storage: the S3 REST-XML API (its wire format from `s3s`, built
//! from S3's Smithy model), objects on disk with their metadata in the store, and bucket
//! notifications that become asynchronous invocations.
//!
//! - **Durable**: an object's content is written to a staging file, hashed as it arrives,
//!   fsynced and renamed into place ([`blobs`]); only then is its metadata committed, and the
//!   asynchronous invocations its notification configuration asks for are committed in the same
//!   transaction. A crash at any point leaves either the old object or the new one, never part
//!   of one; what a crash leaves unreferenced is removed at the next start ([`Objects::open`]).
//! - **Streaming**: bodies are never held whole; they flow between the connection and the disk
//!   in bounded chunks, up to S3's 5 GB for one PUT or one part.
//! - **Authentication**: `s3s` verifies every request's SigV4 signature (header, presigned and
//!   `aws-chunked` forms, chunk and trailer signatures as the body streams) against the node's
//!   credentials ([`auth`]).

mod auth;
mod authorize;
pub mod blobs;
mod buckets;
mod change;
mod error_doc;
mod errors;
mod events;
mod listing;
mod multipart;
pub mod notify;
mod objects;
mod receive;
mod service;

pub use auth::{Credentials, Hosts};

use axum::Router;
use blobs::Blobs;
use ignis_engine::Engine;
use ignis_model::Account;
use ignis_store::Store;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// S3's limit on one PUT, one part, and a copy source.
pub const MAX_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's smallest part but the last.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's most parts in one upload.
pub const MAX_PARTS: i32 = 10_000;
/// How long an upload's body may pause before it is given up.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// XML request bodies (CompleteMultipartUpload, DeleteObjects, configurations) are read whole
/// up to this.
const MAX_XML_BYTES: usize = 2 * 1024 * 1024;

/// The object store of one node.
pub struct Objects {
    pub(crate) account: Account,
    pub(crate) store: Store,
    pub(crate) blobs: Blobs,
    pub(crate) engine: Engine,
    /// Orders the notifications of each key.
    pub(crate) sequencer: notify::Sequencer,
}

impl Objects {
    /// Opens the object store whose content lives under `dir`, holding at most `max_bytes` of
    /// it, first removing what a crash left behind: staging files and content no metadata
    /// names. Call it before anything writes objects.
    pub async fn open(
        dir: &Path,
        max_bytes: u64,
        account: Account,
        store: Store,
        engine: Engine,
    ) -> std::io::Result<Arc<Objects>> {
        let blobs = Blobs::open(dir, max_bytes)?;
        let referenced = store
            .referenced_blobs()
            .await
            .map_err(std::io::Error::other)?;
        let swept = blobs.sweep(&referenced).await?;
        if swept > 0 {
            tracing::info!(
                swept,
                "removed object content no object names (left by a crash)"
            );
        }
        Ok(Arc::new(Objects {
            account,
            store,
            blobs,
            engine,
            sequencer: notify::Sequencer::new(),
        }))
    }

    /// Reads an object whole (a function's code package), refusing one larger than
    /// `max_bytes`.
    pub async fn read_whole(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ReadError> {
        objects::read_whole(self, bucket, key, max_bytes).await
    }

    /// The S3 API as an axum router: every request authenticated against `credentials`,
    /// addressed path-style or by virtual host.
    pub fn router(self: &Arc<Self>, credentials: Credentials) -> Router {
        service::router(self.clone(), credentials)
    }
}

/// Why [`Objects::read_whole`] read nothing: S3's error code and message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ReadError {
    pub code: String,
    pub message: String,
}
