//! The data directory: its layout, and the exclusive lock that keeps a second node off it.
//!
//! ```text
//! <data>/lock            held (flock) by the running node
//! <data>/credentials     root credentials, mode 0600, when generated
//! <data>/url-key         HMAC key of code download URLs (function URL ids use a key derived
//!                        from it), mode 0600
//! <data>/metadata.db     SQLite (WAL) metadata
//! <data>/code/           content-addressed packages (ignis-package)
//! <data>/logs/           function logs, per log group and stream (ignis-logs)
//! <data>/runtime/        Ignis's bootstraps, written at start (ignis-invoker)
//! ```

use crate::ServerError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `$XDG_DATA_HOME/ignis`, i.e. `~/.local/share/ignis` on Linux.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("ignis")
}

/// Where function logs live in a data directory (read by `ignis logs` without the lock).
pub fn logs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The metadata database of a data directory.
pub fn metadata_db(data_dir: &Path) -> PathBuf {
    data_dir.join("metadata.db")
}

/// An opened, locked data directory; the lock is released on drop.
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    pub fn open(path: &Path) -> Result<DataDir, ServerError> {
        let io = |source| ServerError::DataDir {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(path).map_err(io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join("lock"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ServerError::Locked(path.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata_db(&self) -> PathBuf {
        metadata_db(&self.path)
    }

    /// The SQS service's own database (its queues and messages).
    pub fn sqs_db(&self) -> PathBuf {
        self.path.join("sqs.db")
    }

    pub fn code_dir(&self) -> PathBuf {
        self.path.join("code")
    }

    /// Object content: `blobs/` and `staging/`.
    pub fn objects_dir(&self) -> PathBuf {
        self.path.join("objects")
    }

    pub fn logs_dir(&self) -> PathBuf {
        logs_dir(&self.path)
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.path.join("runtime")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.path.join("credentials")
    }

    /// The node's code-URL signing key, created once.
    pub fn url_signing_key(&self) -> Result<Vec<u8>, ServerError> {
        let path = self.path.join("url-key");
        if let Ok(key) = std::fs::read(&path)
            && key.len() >= 32
        {
            return Ok(key);
        }
        let key: [u8; 32] = rand::random();
        write_private(&path, &key).map_err(|source| ServerError::DataDir { path, source })?;
        Ok(key.to_vec())
    }

    /// This node's id, created once (`<data>/node-id`): it owns the queue leases the node
    /// takes, so one node's start never releases another's.
    pub fn node_id(&self) -> Result<String, ServerError> {
        let path = self.path.join("node-id");
        if let Ok(id) = std::fs::read_to_string(&path)
            && uuid::Uuid::parse_str(id.trim()).is_ok()
        {
            return Ok(id.trim().to_string());
        }
        let id = uuid::Uuid::new_v4().to_string();
        write_private(&path, id.as_bytes())
            .map_err(|source| ServerError::DataDir { path, source })?;
        Ok(id)
    }
}

/// Writes a file readable by its owner only (created with mode 0600, replaced atomically).
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        assert!(matches!(
            DataDir::open(dir.path()),
            Err(ServerError::Locked(_))
        ));
        drop(first);
        DataDir::open(dir.path()).unwrap();
    }
}
