//! The content-addressed package store on local disk.

use std::collections::HashSet;
use std::fs::{self, Permissions};
use std::io::{self, Cursor, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use zip::ZipArchive;

use crate::extract::extract;
use crate::fsutil::{TmpDir, force_remove, set_mode, sync_dir, sync_filesystem};
use crate::inspect::{declared_entry_count, inspect};
use crate::merge::{merge_tree, seal_dirs};
use crate::{Digest, Limits, PackageError};

const BLOBS: &str = "blobs";
const TREES: &str = "trees";
const TMP: &str = "tmp";
const OPT: &str = "opt";
const BLOB_SUFFIX: &str = ".zip";

/// What [`CodeStore::put`] stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredPackage {
    /// SHA-256 of the zip; [`Digest::base64`] is Lambda's `CodeSha256`.
    pub digest: Digest,
    /// Size of the zip in bytes: Lambda's `CodeSize`.
    pub code_size: u64,
    /// Total size of the extracted files and link targets, in bytes.
    pub unzipped_size: u64,
}

/// Packages on local disk, named by the SHA-256 of their zip.
///
/// Layout under the root:
///
/// - `blobs/<hex>.zip`: the uploaded bytes (mode 0444).
/// - `trees/<hex>/`: the extracted code, read-only (directories 0555, files 0444 or 0555).
/// - `opt/<key>/`: the layers of a function merged in order, read-only, built by
///   [`CodeStore::merged_layers`] (the directory to mount at `/opt`).
/// - `tmp/`: work in progress, renamed into `blobs/`, `trees/` or `opt/` when complete; emptied
///   by [`CodeStore::open`].
///
/// A package counts as present once its blob exists; the tree is always committed first, so a
/// present blob implies a complete tree. One root must be used by one `CodeStore` (one process)
/// at a time, since opening it clears `tmp/`. Share the store between threads with an `Arc`;
/// all methods take `&self`.
#[derive(Debug)]
pub struct CodeStore {
    root: PathBuf,
    blobs: PathBuf,
    trees: PathBuf,
    opt: PathBuf,
    tmp: PathBuf,
    /// Digests a `put` or `remove` is working on, so concurrent calls for the same package
    /// queue up instead of extracting it twice.
    busy: Mutex<HashSet<Digest>>,
    idle: Condvar,
    /// Trees environments hold (see [`CodeStore::lease`]).
    pub(crate) leases: Mutex<crate::lease::Leases>,
}

impl CodeStore {
    /// Opens (creating if needed) the store at `root`.
    ///
    /// Creates `blobs/`, `trees/` and `tmp/`, empties `tmp/` of whatever an interrupted process
    /// left there, and removes trees whose blob is missing (a crash between the two renames of
    /// a `put`).
    pub fn open(root: &Path) -> Result<CodeStore, PackageError> {
        let store = CodeStore {
            root: root.to_path_buf(),
            blobs: root.join(BLOBS),
            trees: root.join(TREES),
            opt: root.join(OPT),
            tmp: root.join(TMP),
            busy: Mutex::new(HashSet::new()),
            idle: Condvar::new(),
            leases: Mutex::default(),
        };
        for dir in [&store.blobs, &store.trees, &store.opt, &store.tmp] {
            fs::create_dir_all(dir).map_err(PackageError::io("create directory", dir))?;
        }
        for entry in read_dir(&store.tmp)? {
            force_remove(&entry).map_err(PackageError::io("remove stale", &entry))?;
        }
        for entry in read_dir(&store.trees)? {
            let orphan = entry
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(Digest::from_hex)
                .is_some_and(|d| !store.zip_path(&d).exists());
            if orphan {
                force_remove(&entry).map_err(PackageError::io("remove orphaned", &entry))?;
            }
        }
        Ok(store)
    }

    /// The directory this store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Validates, hashes, stores and extracts `zip`.
    ///
    /// The bytes are checked against `limits` and the safety rules before anything is written
    /// (see [`PackageError`] for what is refused). If the package is already present only the
    /// cheap checks run and nothing is written. Otherwise it is extracted into `tmp/` and made
    /// read-only, the zip is written next to it, the filesystem is synced, and the two are
    /// renamed to `trees/<hex>/` and then `blobs/<hex>.zip`.
    ///
    /// Safe to call concurrently with the same bytes: calls on one store wait for each other and
    /// extract once; separate stores on one root race harmlessly on the renames. On error
    /// nothing is left behind: no blob, no tree, no temporary files.
    pub fn put(&self, zip: &[u8], limits: &Limits) -> Result<StoredPackage, PackageError> {
        let code_size = zip.len() as u64;
        if code_size > limits.max_zipped_bytes {
            return Err(PackageError::TooLarge {
                size: code_size,
                limit: limits.max_zipped_bytes,
            });
        }
        if let Some(count) = declared_entry_count(zip)
            && count > limits.max_entries as u64
        {
            return Err(PackageError::TooManyEntries {
                count,
                limit: limits.max_entries,
            });
        }
        let digest = Digest::of(zip);
        let mut archive = ZipArchive::new(Cursor::new(zip)).map_err(PackageError::corrupt)?;
        let plan = inspect(&archive, limits)?;
        let stored = StoredPackage {
            digest,
            code_size,
            unzipped_size: plan.unzipped_size,
        };

        let _busy = self.lock(digest);
        self.leases().present(&digest);
        if self.contains(&digest) {
            return Ok(stored);
        }
        let tree = TmpDir::new(&self.tmp, "tree-")?;
        extract(&mut archive, &plan, limits, tree.path())?;
        let blob = self.write_blob_tmp(zip)?;
        // Both the tree's files and the blob are durable before either is renamed into place.
        sync_filesystem(&self.tmp)
            .map_err(PackageError::io("sync the filesystem of", &self.tmp))?;
        let created_tree = self.commit_tree(tree, &digest)?;
        let zip_path = self.zip_path(&digest);
        let committed = match blob.persist(&zip_path) {
            Ok(_) => sync_dir(&self.blobs).map_err(|e| {
                let _ = fs::remove_file(&zip_path);
                PackageError::io("sync", &self.blobs)(e)
            }),
            Err(e) => Err(PackageError::io("rename into", &zip_path)(e.error)),
        };
        if let Err(e) = committed {
            if created_tree {
                let _ = self.remove_tree(&digest);
            }
            return Err(e);
        }
        Ok(stored)
    }

    /// Where the zip of `d` is (or would be): `blobs/<hex>.zip`.
    pub fn zip_path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(format!("{}{BLOB_SUFFIX}", d.hex()))
    }

    /// Where the extracted, read-only code of `d` is (or would be): `trees/<hex>/`, the
    /// directory to mount at `/var/task`.
    pub fn tree_path(&self, d: &Digest) -> PathBuf {
        self.trees.join(d.hex())
    }

    /// Whether the package `d` is fully stored (blob and tree).
    pub fn contains(&self, d: &Digest) -> bool {
        self.zip_path(d).is_file() && self.tree_path(d).is_dir()
    }

    /// Deletes the blob and tree of `d`, for garbage collection, unless an environment holds a
    /// lease on it: then it stays (`Ok(false)`) and [`CodeStore::take_deferred`] hands it back
    /// once free. The caller makes sure no function version still refers to it. Removing a
    /// package that is not there succeeds.
    pub fn remove(&self, d: &Digest) -> Result<bool, PackageError> {
        let _busy = self.lock(*d);
        {
            let mut leases = self.leases();
            if leases.is_held(d) {
                leases.defer(*d);
                return Ok(false);
            }
            leases.removed(*d);
        }
        let zip_path = self.zip_path(d);
        match fs::remove_file(&zip_path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(PackageError::io("remove", zip_path)(e));
            }
            _ => {}
        }
        self.remove_tree(d).map(|()| true)
    }

    /// The digests of all stored blobs, sorted; for garbage collection.
    pub fn digests(&self) -> Result<Vec<Digest>, PackageError> {
        let mut out: Vec<Digest> = read_dir(&self.blobs)?
            .iter()
            .filter_map(|p| p.file_name()?.to_str()?.strip_suffix(BLOB_SUFFIX))
            .filter_map(Digest::from_hex)
            .collect();
        out.sort();
        Ok(out)
    }

    /// Where the merged layers `layers` (in order) are or would be: `opt/<key>/`, with the key
    /// from [`merged_key`]. Pure path arithmetic, for the invoke path.
    pub fn merged_layers_path(&self, layers: &[Digest]) -> PathBuf {
        self.opt.join(merged_key(layers).hex())
    }

    /// The read-only directory holding the trees of `layers` merged in order (a later layer's
    /// file replaces an earlier one's at the same path): what a function sees at `/opt`.
    ///
    /// Built once per ordered list: in `tmp/`, with hard links to the stored trees (copies
    /// where linking fails), sealed read-only, synced, then renamed to `opt/<key>/`. Later
    /// calls return the existing directory after one `stat`. Every layer must be stored;
    /// concurrent calls for the same list wait for each other. Merged directories are removed
    /// only by [`CodeStore::retain_merged`].
    pub fn merged_layers(&self, layers: &[Digest]) -> Result<PathBuf, PackageError> {
        let key = merged_key(layers);
        let dest = self.opt.join(key.hex());
        let _busy = self.lock(key);
        self.leases().present(&key);
        if dest.is_dir() {
            return Ok(dest);
        }
        for d in layers {
            if !self.contains(d) {
                return Err(PackageError::io(
                    "find the layer package",
                    self.tree_path(d),
                )(io::Error::from(io::ErrorKind::NotFound)));
            }
        }
        let staged = TmpDir::new(&self.tmp, "opt-")?;
        for d in layers {
            let tree = self.tree_path(d);
            merge_tree(&tree, staged.path()).map_err(PackageError::io("merge the layer", &tree))?;
        }
        seal_dirs(staged.path())
            .and_then(|()| set_mode(staged.path(), 0o755))
            .map_err(PackageError::io("set permissions in", staged.path()))?;
        sync_filesystem(&self.tmp)
            .map_err(PackageError::io("sync the filesystem of", &self.tmp))?;
        match fs::rename(staged.path(), &dest) {
            Ok(()) => staged.disarm(),
            // Another process built the same directory first; ours is dropped.
            Err(_) if dest.is_dir() => return Ok(dest),
            Err(e) => return Err(PackageError::io("rename into", &dest)(e)),
        }
        set_mode(&dest, 0o555)
            .and_then(|()| sync_dir(&self.opt))
            .map_err(PackageError::io("seal", &dest))?;
        Ok(dest)
    }

    /// Removes every merged directory whose key is not in `keep` (see [`merged_key`]) and that
    /// nobody held a lease on since `mark` ([`CodeStore::collection_mark`], taken before `keep`
    /// was computed); returns the keys removed. The caller computes `keep` from the layer lists still in use.
    pub fn retain_merged(
        &self,
        keep: &HashSet<Digest>,
        mark: u64,
    ) -> Result<Vec<Digest>, PackageError> {
        let mut removed = Vec::new();
        for path in read_dir(&self.opt)? {
            let key = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(Digest::from_hex);
            let Some(key) = key else {
                force_remove(&path).map_err(PackageError::io("remove stale", &path))?;
                continue;
            };
            if keep.contains(&key) {
                continue;
            }
            let _busy = self.lock(key);
            {
                // A leased directory stays until a later collection finds it free.
                let mut leases = self.leases();
                if leases.held_since(&key, mark) {
                    continue;
                }
                leases.removed(key);
            }
            self.remove_dir(&path)?;
            removed.push(key);
        }
        Ok(removed)
    }

    /// Moves a committed read-only directory out of sight into `tmp/`, then deletes it.
    fn remove_dir(&self, dir: &Path) -> Result<(), PackageError> {
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(PackageError::io("inspect", dir)(e)),
            Ok(meta) if meta.is_dir() => {
                set_mode(dir, 0o755).map_err(PackageError::io("set permissions of", dir))?
            }
            Ok(_) => {}
        }
        let trash = TmpDir::new(&self.tmp, "remove-")?;
        match fs::rename(dir, trash.path().join("dir")) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PackageError::io("rename", dir)(e)),
            // Dropping the armed trash directory deletes it.
            Ok(()) => Ok(()),
        }
    }

    /// Writes `zip` to a read-only temporary file in `tmp/`.
    fn write_blob_tmp(&self, zip: &[u8]) -> Result<tempfile::NamedTempFile, PackageError> {
        let mut blob = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&self.tmp)
            .map_err(PackageError::io("create a temporary file in", &self.tmp))?;
        let path = blob.path().to_path_buf();
        blob.write_all(zip)
            .and_then(|()| {
                blob.as_file()
                    .set_permissions(Permissions::from_mode(0o444))
            })
            .and_then(|()| blob.as_file().sync_all())
            .map_err(PackageError::io("write", path))?;
        Ok(blob)
    }

    /// Renames an extracted tree to `trees/<hex>` and makes its root read-only. Returns whether
    /// this call created it (false: an identical tree was already there, and ours is dropped).
    fn commit_tree(&self, tree: TmpDir, d: &Digest) -> Result<bool, PackageError> {
        let dest = self.tree_path(d);
        let created = match fs::rename(tree.path(), &dest) {
            Ok(()) => {
                tree.disarm();
                true
            }
            // Another process committed the same package first, or a crash left the tree
            // without its blob; the content is the same either way.
            Err(_) if fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) => false,
            Err(e) => return Err(PackageError::io("rename into", dest)(e)),
        };
        let finished = set_mode(&dest, 0o555)
            .map_err(PackageError::io("set permissions of", &dest))
            .and_then(|()| sync_dir(&self.trees).map_err(PackageError::io("sync", &self.trees)));
        if let Err(e) = finished {
            if created {
                let _ = self.remove_tree(d);
            }
            return Err(e);
        }
        Ok(created)
    }

    /// Moves `trees/<hex>` out of sight into `tmp/`, then deletes it.
    fn remove_tree(&self, d: &Digest) -> Result<(), PackageError> {
        let tree = self.tree_path(d);
        match fs::symlink_metadata(&tree) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(PackageError::io("inspect", tree)(e)),
            // Renaming a directory to a new parent needs write permission on it (for `..`).
            Ok(meta) if meta.is_dir() => {
                set_mode(&tree, 0o755).map_err(PackageError::io("set permissions of", &tree))?
            }
            Ok(_) => {}
        }
        let trash = TmpDir::new(&self.tmp, "remove-")?;
        let moved = trash.path().join("tree");
        match fs::rename(&tree, &moved) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PackageError::io("rename", tree)(e)),
            Ok(()) => {
                let path = trash.path().to_path_buf();
                force_remove(&path).map_err(PackageError::io("remove", path))?;
                trash.disarm();
                Ok(())
            }
        }
    }

    /// Waits until no other call is working on `d`, then claims it until the guard drops.
    fn lock(&self, d: Digest) -> BusyGuard<'_> {
        let mut busy = lock_ignoring_poison(&self.busy);
        while busy.contains(&d) {
            busy = self.idle.wait(busy).unwrap_or_else(PoisonError::into_inner);
        }
        busy.insert(d);
        BusyGuard { store: self, d }
    }
}

struct BusyGuard<'a> {
    store: &'a CodeStore,
    d: Digest,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        lock_ignoring_poison(&self.store.busy).remove(&self.d);
        self.store.idle.notify_all();
    }
}

/// The set only holds digests; a panic elsewhere cannot leave it inconsistent.
fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The paths of the entries of `dir`.
fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, PackageError> {
    let op = PackageError::io("list", dir);
    fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.path())).collect())
        .map_err(op)
}

/// Names the merged directory of `layers` in order: the SHA-256 of their hex digests, one per
/// line. The same layers in another order are another directory.
pub fn merged_key(layers: &[Digest]) -> Digest {
    let joined: Vec<String> = layers.iter().map(Digest::hex).collect();
    Digest::of(joined.join("\n").as_bytes())
}
