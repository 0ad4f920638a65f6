//! Small filesystem helpers: removing read-only trees and self-cleaning temporary directories.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::PackageError;

/// Sets the mode of `path`, which the caller knows is a real directory or file (not a link).
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, Permissions::from_mode(mode))
}

/// Removes `path` whatever it is. Directories are made writable first (a package tree is
/// read-only), walking with `lstat` semantics so links are removed, never followed.
/// A missing `path` is not an error.
pub(crate) fn force_remove(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return fs::remove_file(path);
    }
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        set_mode(&dir, 0o755)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Flushes everything written on the filesystem that holds `path` (`syncfs(2)`): one call
/// covers all the files of an extracted tree.
pub(crate) fn sync_filesystem(path: &Path) -> io::Result<()> {
    let dir = fs::File::open(path)?;
    rustix::fs::syncfs(&dir).map_err(io::Error::from)
}

/// Makes renames into the directory `path` durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    fs::File::open(path)?.sync_all()
}

/// A fresh, uniquely named directory under `parent`, removed (with [`force_remove`]) on drop
/// unless [`TmpDir::disarm`] is called.
#[derive(Debug)]
pub(crate) struct TmpDir {
    path: PathBuf,
    armed: bool,
}

impl TmpDir {
    pub(crate) fn new(parent: &Path, prefix: &str) -> Result<TmpDir, PackageError> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(parent)
            .map_err(PackageError::io("create a temporary directory in", parent))?;
        Ok(TmpDir {
            path: dir.keep(),
            armed: true,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory: it has been renamed into place.
    pub(crate) fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: whatever survives is removed by the next `CodeStore::open`.
            let _ = force_remove(&self.path);
        }
    }
}
