//! `/tmp` images: an ext4 file system per environment, sized so that the function can write
//! exactly its `EphemeralStorage` before `ENOSPC`, loop-mounted by the jailer.
//!
//! Why not a tmpfs: tmpfs pages are memory and, without swap, can never be reclaimed, so a
//! function with 128 MB of memory could not use 512 MB of `/tmp`. Pages of an ext4 file system
//! are page cache: charged to the environment while cached, written back and reclaimed under
//! pressure, never an OOM. The loop device does direct I/O, so the data is not cached twice.
//!
//! Formatting costs ~40 ms, so each size is formatted once (a "template", under the scratch
//! directory) and each environment gets a sparse copy of it: a few hundred KB of metadata, about a
//! millisecond. The jailer unlinks its copy once it is attached, so nothing is left on disk when
//! the environment ends, however it ends.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

/// Bump when the format options change (old templates are then ignored).
const FORMAT_VERSION: u32 = 1;
/// Bytes of file system per inode (one inode per 32 KB: 16,384 files in 512 MB).
const BYTES_PER_INODE: u64 = 32 * 1024;
const INODE_SIZE: u64 = 256;
const BLOCK: u64 = 4096;
/// Blocks per ext4 block group with 4 KB blocks.
const GROUP_BYTES: u64 = 32768 * BLOCK;

/// Number of inodes of a `/tmp` of `size_mb`.
pub fn inode_count(size_mb: u32) -> u64 {
    (u64::from(size_mb) << 20) / BYTES_PER_INODE
}

/// Size of the image that leaves `size_mb` MB free after ext4's metadata (inode tables, two
/// bitmaps per group, the superblock and descriptor copies) and the clusters ext4 keeps in reserve
/// for delayed allocation (2 % of the blocks, at most 4,096).
pub fn image_bytes(size_mb: u32) -> u64 {
    let size = u64::from(size_mb) << 20;
    let groups = size.div_ceil(GROUP_BYTES) + 1;
    let overhead = inode_count(size_mb) * INODE_SIZE + groups * 2 * BLOCK + 32 * BLOCK;
    let base = size + overhead;
    let reserve = (base / 49).min(4096 * BLOCK);
    (base + reserve).div_ceil(BLOCK) * BLOCK
}

/// Where `mkfs.ext4` is, if installed.
pub fn find_mkfs() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join("mkfs.ext4"))
        .find(|p| p.is_file())
}

/// Copies `src` to a new file `dst`, keeping its holes (only the data is read and written).
pub fn copy_sparse(src: &Path, dst: &Path) -> io::Result<u64> {
    use rustix::fs::SeekFrom;
    let from = std::fs::File::open(src)?;
    let to = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(dst)?;
    let len = from.metadata()?.len();
    to.set_len(len)?;
    let mut copied = 0;
    let mut pos = 0u64;
    while pos < len {
        let data = match rustix::fs::seek(&from, SeekFrom::Data(pos)) {
            Ok(d) => d,
            Err(rustix::io::Errno::NXIO) => break,
            Err(e) => return Err(e.into()),
        };
        let hole = rustix::fs::seek(&from, SeekFrom::Hole(data))?;
        let mut off_in = data;
        let mut off_out = data;
        while off_in < hole {
            let want = usize::try_from(hole - off_in).unwrap_or(usize::MAX);
            let n = rustix::fs::copy_file_range(
                &from,
                Some(&mut off_in),
                &to,
                Some(&mut off_out),
                want,
            )?;
            if n == 0 {
                break;
            }
            copied += n as u64;
        }
        pos = hole;
    }
    Ok(copied)
}

/// The scratch directory: templates and the images of starting environments.
#[derive(Debug)]
pub struct Scratch {
    templates: PathBuf,
    images: PathBuf,
    mkfs: PathBuf,
    /// One lock per size, so each template is formatted once.
    formatting: Mutex<HashMap<u32, Arc<Mutex<()>>>>,
}

impl Scratch {
    /// Uses `dir` (created if needed); images left by an earlier run are removed.
    pub fn open(dir: &Path, mkfs: PathBuf) -> io::Result<Scratch> {
        let templates = dir.join("templates");
        let images = dir.join("images");
        std::fs::create_dir_all(&templates)?;
        let _ = std::fs::remove_dir_all(&images);
        std::fs::create_dir_all(&images)?;
        Ok(Scratch {
            templates,
            images,
            mkfs,
            formatting: Mutex::new(HashMap::new()),
        })
    }

    /// The formatted template of `size_mb`, formatting it on first use.
    pub fn template(&self, size_mb: u32) -> io::Result<PathBuf> {
        let path = self
            .templates
            .join(format!("ext4-v{FORMAT_VERSION}-{size_mb}m.img"));
        if path.exists() {
            return Ok(path);
        }
        let lock = self
            .formatting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(size_mb)
            .or_default()
            .clone();
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if path.exists() {
            return Ok(path);
        }
        let tmp = self
            .templates
            .join(format!(".{size_mb}m.{}.tmp", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::fs::File::create(&tmp)?.set_len(image_bytes(size_mb))?;
        let out = Command::new(&self.mkfs)
            .args(["-q", "-F", "-b", "4096", "-m", "0", "-L", "tmp"])
            .arg("-N")
            .arg(inode_count(size_mb).to_string())
            .args([
                "-O",
                "^has_journal,^resize_inode",
                "-E",
                "lazy_itable_init=1,nodiscard,root_owner=0:0",
            ])
            .arg(&tmp)
            .output()?;
        if !out.status.success() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io::Error::other(format!(
                "{} failed: {}",
                self.mkfs.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// A directory to mount over in a private mount namespace ([`mount_image`]).
    pub fn workdir(&self) -> &Path {
        &self.templates
    }

    /// A fresh image of `size_mb` for environment `name`.
    pub fn image(&self, size_mb: u32, name: &str) -> io::Result<PathBuf> {
        let template = self.template(size_mb)?;
        let image = self.images.join(format!("{name}.img"));
        let _ = std::fs::remove_file(&image);
        copy_sparse(&template, &image)?;
        Ok(image)
    }
}

/// The name a `/tmp` file system's source has in the environment's `/proc/self/mountinfo`.
pub const SOURCE_NAME: &str = "ignis-tmp";

/// Mounts the ext4 file system of `device` (an attached `/tmp` image), detached (`fsmount`), with
/// [`SOURCE_NAME`] as its source rather than the host's loop device path: on a short-lived thread
/// of its own with a mount namespace (and working directory) of its own, where a device node of
/// that name is made on a private tmpfs. The caller's namespaces never change; the detached mount
/// outlives the thread.
pub fn mount_image(device: &Path, work: &Path) -> io::Result<std::os::fd::OwnedFd> {
    let device = device.to_path_buf();
    let work = work.to_path_buf();
    std::thread::Builder::new()
        .name("ignis-tmpfs".into())
        .spawn(move || -> io::Result<std::os::fd::OwnedFd> {
            use rustix::mount::{
                FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, fsconfig_create,
                fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, mount,
            };
            // Nothing of this namespace may reach the host's.
            crate::sys::private_mount_namespace()?;
            mount(
                "ignis-dev",
                &work,
                "tmpfs",
                MountFlags::NOSUID | MountFlags::NOEXEC,
                c"mode=0700,size=4k,nr_inodes=8",
            )?;
            let rdev = rustix::fs::stat(&device)?.st_rdev;
            rustix::fs::mknodat(
                rustix::fs::CWD,
                work.join(SOURCE_NAME),
                rustix::fs::FileType::BlockDevice,
                rustix::fs::Mode::from_raw_mode(0o600),
                rdev,
            )?;
            // The source is looked up relative to this thread's own working directory.
            std::env::set_current_dir(&work)?;
            let fs = fsopen("ext4", FsOpenFlags::FSOPEN_CLOEXEC)?;
            fsconfig_set_string(&fs, "source", SOURCE_NAME)?;
            fsconfig_set_flag(&fs, "noinit_itable")?;
            fsconfig_create(&fs)?;
            Ok(fsmount(
                &fs,
                FsMountFlags::FSMOUNT_CLOEXEC,
                MountAttrFlags::MOUNT_ATTR_NOSUID
                    | MountAttrFlags::MOUNT_ATTR_NODEV
                    | MountAttrFlags::MOUNT_ATTR_NOATIME,
            )?)
        })?
        .join()
        .map_err(|_| io::Error::other("the /tmp mounting thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn images_leave_the_size_free() {
        assert_eq!(inode_count(512), 16_384);
        // 512 MB + 4 MB of inode tables + bitmaps + the 2 % reserve.
        let b = image_bytes(512);
        assert!(b > 526 << 20 && b < 528 << 20, "{b}");
        assert_eq!(b % 4096, 0);
        // 10 GB: 80 MB of inode tables, the reserve capped at 16 MB.
        let big = image_bytes(10_240);
        assert!(
            big > (10_240 + 96) << 20 && big < (10_240 + 98) << 20,
            "{big}"
        );
    }

    #[test]
    fn sparse_copies_keep_data_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let mut f = std::fs::File::create(&src).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all(b"head").unwrap();
        f.seek(SeekFrom::Start(32 << 20)).unwrap();
        f.write_all(b"middle").unwrap();
        drop(f);
        let dst = dir.path().join("dst");
        let copied = copy_sparse(&src, &dst).unwrap();
        assert!(copied < 1 << 20, "copied {copied} bytes");
        let data = std::fs::read(&dst).unwrap();
        assert_eq!(data.len(), 64 << 20);
        assert_eq!(&data[..4], b"head");
        assert_eq!(&data[32 << 20..(32 << 20) + 6], b"middle");
        // A second copy to the same name is refused (images are never shared).
        assert!(copy_sparse(&src, &dst).is_err());
    }

    /// A tool, interpreter or binary this test needs is missing: skipped on a developer's machine,
    /// a failure in CI (`CI=true`), where the suite must not pass vacuously.
    fn missing(what: &str) {
        let ci = std::env::var("CI")
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
        assert!(!ci, "CI=true, but {what}");
        eprintln!("SKIPPED: {what}");
    }

    #[test]
    fn templates_are_formatted_once_and_copied() {
        let Some(mkfs) = find_mkfs() else {
            missing("mkfs.ext4 is not installed");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::open(dir.path(), mkfs).unwrap();
        let a = scratch.image(512, "a").unwrap();
        let b = scratch.image(512, "b").unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::metadata(&a).unwrap().len(), image_bytes(512));
        let t = scratch.template(512).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&t).unwrap());
        // The ext4 magic number at offset 1080.
        let bytes = std::fs::read(&b).unwrap();
        assert_eq!(&bytes[1080..1082], &[0x53, 0xEF]);
    }
}
