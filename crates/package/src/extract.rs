//! Writes a checked archive into a private directory: inflating with real-size caps, never
//! writing through a link, and finishing with read-only permissions.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use flate2::Crc;
use flate2::read::DeflateDecoder;

use crate::fsutil::set_mode;
use crate::inspect::{Archive, Kind, Method, Plan, PlannedEntry, link_target_lexically_inside};
use crate::{Limits, PackageError};

/// Final mode of extracted directories.
const DIR_MODE: u32 = 0o555;
/// Final mode of files with any execute bit in the archive.
const EXEC_FILE_MODE: u32 = 0o555;
/// Final mode of other files, including those with no Unix mode in the archive.
const FILE_MODE: u32 = 0o444;
/// Most links followed while checking where one link resolves (Linux's `MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// Extracts every planned entry into `root`, an empty directory private to this call.
///
/// On success every file and directory below `root` is read-only; `root` itself is left
/// writable so it can be renamed into place, and the caller makes it read-only afterwards. On
/// error `root` holds partial output that the caller must remove.
pub(crate) fn extract(
    archive: &mut Archive<'_>,
    plan: &Plan,
    limits: &Limits,
    root: &Path,
) -> Result<(), PackageError> {
    let mut x = Extractor {
        root,
        limit: limits.max_unzipped_bytes,
        budget: limits.max_unzipped_bytes,
        known_dirs: HashSet::new(),
        created_dirs: Vec::new(),
        links: Vec::new(),
        buf: vec![0; 64 * 1024],
    };
    for entry in &plan.entries {
        match entry.kind {
            Kind::Dir => {
                x.ensure_dirs(&entry.path, &entry.name)?;
            }
            Kind::File { executable } => x.write_file(archive, entry, executable)?,
            Kind::Symlink => x.write_link(archive, entry)?,
        }
    }
    for (entry, target) in &x.links {
        let parent = entry
            .path
            .split_last()
            .map_or(&[][..], |(_, parent)| parent);
        if !resolves_inside(root, parent, target)? {
            return Err(unsafe_link(entry, target));
        }
    }
    for dir in &x.created_dirs {
        set_mode(dir, DIR_MODE).map_err(PackageError::io("set permissions of", dir))?;
    }
    Ok(())
}

struct Extractor<'r, 'p> {
    root: &'r Path,
    /// The unzipped-size limit, for the error message.
    limit: u64,
    /// Bytes that may still be inflated before the limit is exceeded.
    budget: u64,
    /// Relative paths (`a/b`) of directories this extraction created or verified.
    known_dirs: HashSet<String>,
    created_dirs: Vec<PathBuf>,
    /// Links written so far, with their targets, re-checked once the tree is complete.
    links: Vec<(&'p PlannedEntry, OsString)>,
    buf: Vec<u8>,
}

impl<'p> Extractor<'_, 'p> {
    /// Makes sure each of `components` exists as a real directory, creating missing ones.
    /// An existing link or file in the way is refused: nothing is ever created through a link.
    fn ensure_dirs(&mut self, components: &[String], name: &str) -> Result<(), PackageError> {
        let mut rel = String::new();
        let mut abs = self.root.to_path_buf();
        for component in components {
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(component);
            abs.push(component);
            if self.known_dirs.contains(&rel) {
                continue;
            }
            match fs::symlink_metadata(&abs) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(PackageError::UnsafePath {
                        name: name.to_owned(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    DirBuilder::new()
                        .mode(0o755)
                        .create(&abs)
                        .map_err(PackageError::io("create directory", &abs))?;
                    self.created_dirs.push(abs.clone());
                }
                Err(e) => return Err(PackageError::io("inspect", &abs)(e)),
            }
            self.known_dirs.insert(rel.clone());
        }
        Ok(())
    }

    /// Creates the parent directories of `entry` and returns its absolute path.
    fn prepare(&mut self, entry: &PlannedEntry) -> Result<PathBuf, PackageError> {
        // `inspect` drops entries naming the root, so there is always a leaf.
        let Some((leaf, parent)) = entry.path.split_last() else {
            return Err(PackageError::UnsafePath {
                name: entry.name.clone(),
            });
        };
        self.ensure_dirs(parent, &entry.name)?;
        let mut abs = self.root.to_path_buf();
        abs.extend(parent);
        abs.push(leaf);
        Ok(abs)
    }

    fn write_file(
        &mut self,
        archive: &mut Archive<'_>,
        entry: &PlannedEntry,
        executable: bool,
    ) -> Result<(), PackageError> {
        let path = self.prepare(entry)?;
        // `create_new` is O_CREAT|O_EXCL: it never follows a link and never reuses a name.
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(PackageError::DuplicateEntry {
                    name: entry.name.clone(),
                });
            }
            Err(e) => return Err(PackageError::io("create file", &path)(e)),
        };
        self.inflate(archive, entry, &mut Sink::File(&mut file, &path))?;
        let mode = if executable {
            EXEC_FILE_MODE
        } else {
            FILE_MODE
        };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(PackageError::io("set permissions of", &path))
    }

    fn write_link(
        &mut self,
        archive: &mut Archive<'_>,
        entry: &'p PlannedEntry,
    ) -> Result<(), PackageError> {
        let mut target = Vec::new();
        self.inflate(archive, entry, &mut Sink::Memory(&mut target))?;
        let target = OsStr::from_bytes(&target).to_owned();
        if !link_target_lexically_inside(entry.path.len().saturating_sub(1), target.as_bytes()) {
            return Err(unsafe_link(entry, &target));
        }
        let path = self.prepare(entry)?;
        match std::os::unix::fs::symlink(&target, &path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(PackageError::DuplicateEntry {
                    name: entry.name.clone(),
                });
            }
            Err(e) => return Err(PackageError::io("create symbolic link", &path)(e)),
        }
        self.links.push((entry, target));
        Ok(())
    }

    /// Inflates one entry into `sink`, counting the bytes really produced.
    ///
    /// The count is capped at the remaining unzipped budget plus one byte, so a lying declared
    /// size cannot make us inflate (or write) more than the limit. Bytes beyond the declared
    /// size are counted but not written. Afterwards the size and CRC must match the directory.
    fn inflate(
        &mut self,
        archive: &mut Archive<'_>,
        entry: &PlannedEntry,
        sink: &mut Sink<'_>,
    ) -> Result<(), PackageError> {
        let raw = archive
            .by_index_raw(entry.index)
            .map_err(PackageError::corrupt)?;
        let data: Box<dyn Read + '_> = match entry.method {
            Method::Stored => Box::new(raw),
            Method::Deflated => Box::new(DeflateDecoder::new(raw)),
        };
        let mut data = data.take(self.budget.saturating_add(1));
        let mut crc = Crc::new();
        let mut produced: u64 = 0;
        loop {
            let n = match data.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(PackageError::corrupt(format_args!(
                        "entry {:?}: {e}",
                        entry.name
                    )));
                }
            };
            produced += n as u64;
            if produced > self.budget {
                return Err(PackageError::UnzippedTooLarge { limit: self.limit });
            }
            if produced <= entry.size {
                crc.update(&self.buf[..n]);
                sink.write(&self.buf[..n])?;
            }
        }
        if produced != entry.size {
            return Err(PackageError::corrupt(format_args!(
                "entry {:?} inflates to {produced} bytes but declares {}",
                entry.name, entry.size
            )));
        }
        if crc.sum() != entry.crc32 {
            return Err(PackageError::corrupt(format_args!(
                "entry {:?} fails its CRC-32 check",
                entry.name
            )));
        }
        self.budget -= produced;
        Ok(())
    }
}

/// Where inflated bytes go.
enum Sink<'a> {
    File(&'a mut File, &'a Path),
    Memory(&'a mut Vec<u8>),
}

impl Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), PackageError> {
        match self {
            Sink::File(file, path) => file
                .write_all(bytes)
                .map_err(PackageError::io("write", *path)),
            Sink::Memory(vec) => {
                vec.extend_from_slice(bytes);
                Ok(())
            }
        }
    }
}

fn unsafe_link(entry: &PlannedEntry, target: &OsStr) -> PackageError {
    PackageError::UnsafeSymlink {
        name: entry.name.clone(),
        target: target.to_string_lossy().into_owned(),
    }
}

/// Whether `target`, read by a link in directory `start` (components below `root`), resolves
/// inside `root`, following the links already on disk the way the kernel would.
///
/// A `..` that would leave `root`, an absolute target met on the way, or more than
/// [`MAX_LINK_HOPS`] links is a "no". Components that do not exist are resolved lexically,
/// which is stricter than the kernel (it would stop there).
fn resolves_inside(root: &Path, start: &[String], target: &OsStr) -> Result<bool, PackageError> {
    let mut at: Vec<OsString> = start.iter().map(OsString::from).collect();
    // Components still to walk, last one first.
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, target.as_bytes());
    let mut hops = 0;
    while let Some(component) = pending.pop() {
        match component.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                if at.pop().is_none() {
                    return Ok(false);
                }
                continue;
            }
            _ => {}
        }
        at.push(component);
        let path: PathBuf = std::iter::once(root.as_os_str())
            .chain(at.iter().map(OsString::as_os_str))
            .collect();
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return Ok(false);
                }
                let next = fs::read_link(&path).map_err(PackageError::io("read link", &path))?;
                if next.is_absolute() {
                    return Ok(false);
                }
                at.pop();
                push_components(&mut pending, next.as_os_str().as_bytes());
            }
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) => {}
            Err(e) => return Err(PackageError::io("inspect", &path)(e)),
        }
    }
    Ok(true)
}

/// Pushes the `/`-separated components of `path` onto `stack` so the first one pops first.
fn push_components(stack: &mut Vec<OsString>, path: &[u8]) {
    stack.extend(
        path.split(|b| *b == b'/')
            .rev()
            .map(|c| OsStr::from_bytes(c).to_owned()),
    );
}
