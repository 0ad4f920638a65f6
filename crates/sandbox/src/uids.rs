//! The block of uids and gids a node's environments run as, reserved so that it cannot collide
//! with a host account.
//!
//! Candidate blocks of [`BLOCK_SIZE`] ids, from [`FIRST_BLOCK`] on, are checked against every id
//! the host uses: the ids of `/etc/passwd` and `/etc/group`, every range of `/etc/subuid` and
//! `/etc/subgid` (other tools' user namespaces), and the uids, gids and groups of live processes
//! (a crashed node's environments, containers). The first free block is held for the node's
//! lifetime by an exclusive `flock` on `<dir>/<first id>.lock` (so two nodes on one host never
//! share a block; a crashed node's lock goes with it). Id `first` of the block is the
//! environments' init; each environment gets one of the others, as its uid and gid.
//!
//! Accounts that exist only in a directory service (LDAP, NIS) are not seen: keep them out of
//! the range `FIRST_BLOCK..LAST_BLOCK_END`.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Ids per block.
pub const BLOCK_SIZE: u32 = 65_536;
/// The first candidate block: above the ranges tools usually give out (subordinate ids from
/// 100,000, systemd's dynamic users below 65,536), within 31 bits.
pub const FIRST_BLOCK: u32 = 0x4000_0000;
/// The candidates end here (systemd leaves ids from 2^31 alone; so do we).
pub const LAST_BLOCK_END: u32 = 0x7000_0000;
/// Where nodes hold their blocks' locks.
pub const LOCK_DIR: &str = "/run/ignis/uid-blocks";

/// Ids the host uses, as sorted half-open ranges (possibly overlapping).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsedIds(Vec<Range<u64>>);

impl UsedIds {
    fn add(&mut self, start: u64, count: u64) {
        if count > 0 {
            self.0.push(start..start.saturating_add(count));
        }
    }

    /// Whether any id of `range` is used.
    pub fn overlaps(&self, range: &Range<u64>) -> bool {
        self.0
            .iter()
            .any(|r| r.start < range.end && range.start < r.end)
    }

    /// The third field of `/etc/passwd` or `/etc/group` lines (uid or gid).
    pub fn add_accounts(&mut self, text: &str) {
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if let Some(id) = line.split(':').nth(2).and_then(|f| f.trim().parse().ok()) {
                self.add(id, 1);
            }
        }
    }

    /// `/etc/subuid` or `/etc/subgid`: `owner:first:count` lines.
    pub fn add_subordinate(&mut self, text: &str) {
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            let mut f = line.split(':').skip(1).map(|f| f.trim().parse::<u64>());
            if let (Some(Ok(first)), Some(Ok(count))) = (f.next(), f.next()) {
                self.add(first, count);
            }
        }
    }

    /// A `/proc/<pid>/status`: its `Uid:`, `Gid:` and `Groups:` ids.
    pub fn add_status(&mut self, text: &str) {
        for line in text.lines() {
            let ids = ["Uid:", "Gid:", "Groups:"]
                .iter()
                .find_map(|k| line.strip_prefix(k));
            for id in ids.into_iter().flat_map(str::split_whitespace) {
                if let Ok(id) = id.parse() {
                    self.add(id, 1);
                }
            }
        }
    }

    /// What this host uses now: its account files, subordinate ranges and live processes.
    pub fn of_host() -> UsedIds {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let mut used = UsedIds::default();
        used.add_accounts(&read("/etc/passwd"));
        used.add_accounts(&read("/etc/group"));
        used.add_subordinate(&read("/etc/subuid"));
        used.add_subordinate(&read("/etc/subgid"));
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                if name
                    .to_str()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
                {
                    // A process that has just ended has no status: nothing to count.
                    if let Ok(s) = std::fs::read_to_string(entry.path().join("status")) {
                        used.add_status(&s);
                    }
                }
            }
        }
        used
    }
}

/// The candidate blocks no used id falls in, in order.
pub fn free_blocks(used: &UsedIds) -> impl Iterator<Item = u32> + '_ {
    (FIRST_BLOCK..LAST_BLOCK_END)
        .step_by(BLOCK_SIZE as usize)
        .filter(|&b| !used.overlaps(&(u64::from(b)..u64::from(b) + u64::from(BLOCK_SIZE))))
}

/// A block held by this node (its lock is released when this is dropped).
#[derive(Debug)]
pub struct UidBlock {
    pub first: u32,
    _lock: File,
    path: PathBuf,
}

impl UidBlock {
    /// The environments' init.
    pub fn init(&self) -> u32 {
        self.first
    }

    /// The ids environments may have: the block without its first.
    pub fn environments(&self) -> Range<u32> {
        self.first + 1..self.first + BLOCK_SIZE
    }

    /// Reserves the first free block of this host not held by another node, with its lock in
    /// `dir`.
    pub fn reserve(dir: &Path) -> io::Result<UidBlock> {
        Self::reserve_from(dir, &UsedIds::of_host())
    }

    /// [`UidBlock::reserve`] given the host's used ids.
    pub fn reserve_from(dir: &Path, used: &UsedIds) -> io::Result<UidBlock> {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
        for first in free_blocks(used) {
            let path = dir.join(format!("{first}.lock"));
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            match rustix::fs::flock(
                file.as_fd(),
                rustix::fs::FlockOperation::NonBlockingLockExclusive,
            ) {
                Ok(()) => {
                    return Ok(UidBlock {
                        first,
                        _lock: file,
                        path,
                    });
                }
                Err(rustix::io::Errno::WOULDBLOCK) => continue,
                Err(e) => {
                    return Err(io::Error::new(
                        io::Error::from(e).kind(),
                        format!("lock {}: {e}", path.display()),
                    ));
                }
            }
        }
        Err(io::Error::other(format!(
            "no free block of {BLOCK_SIZE} uids in {FIRST_BLOCK}..{LAST_BLOCK_END}: every one \
             overlaps a host account, a subordinate id range (/etc/subuid, /etc/subgid) or a \
             live process, or is held by another node"
        )))
    }

    /// Where its lock is.
    pub fn lock_path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
        # a comment:x:1073741830:0\n\
        nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
        odd:x:1073741900:100::/:/bin/sh\n\
        broken line\n";
    const SUBUID: &str = "alice:100000:65536\n1000:1073807360:131072\n";

    #[test]
    fn account_files_subordinate_ranges_and_processes_are_counted() {
        let mut used = UsedIds::default();
        used.add_accounts(PASSWD);
        used.add_subordinate(SUBUID);
        used.add_status(
            "Name:\tx\nUid:\t0\t1342177281\t0\t0\nGid:\t5\t5\t5\t5\nGroups:\t7 8 \nVmRSS:\t1 kB\n",
        );
        assert!(used.overlaps(&(0..1)));
        assert!(used.overlaps(&(65534..65535)));
        assert!(!used.overlaps(&(1..5)));
        assert!(used.overlaps(&(5..6)) && used.overlaps(&(7..9)));
        assert!(used.overlaps(&(165_535..165_536)));
        assert!(!used.overlaps(&(165_536..200_000)));
        // The commented line's id is not an account.
        assert!(!used.overlaps(&(1_073_741_830..1_073_741_831)));
        let free: Vec<u32> = free_blocks(&used).take(3).collect();
        // Block 0 has `odd`, blocks 1 and 2 the subordinate range; the block of a process's
        // euid is skipped too.
        assert_eq!(free[0], FIRST_BLOCK + 3 * BLOCK_SIZE);
        assert!(free_blocks(&used).all(|b| b != 0x5000_0000));
        assert!(free_blocks(&used).any(|b| b == 0x5000_0000 + BLOCK_SIZE));
    }

    #[test]
    fn a_host_that_uses_every_block_has_none_free() {
        let mut used = UsedIds::default();
        used.add_subordinate(&format!(
            "x:{FIRST_BLOCK}:{}\n",
            LAST_BLOCK_END - FIRST_BLOCK
        ));
        assert_eq!(free_blocks(&used).next(), None);
        let dir = tempfile::tempdir().unwrap();
        let e = UidBlock::reserve_from(dir.path(), &used).unwrap_err();
        assert!(e.to_string().contains("no free block"), "{e}");
    }

    #[test]
    fn two_reservations_get_different_blocks_and_a_released_one_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let used = UsedIds::default();
        let a = UidBlock::reserve_from(dir.path(), &used).unwrap();
        let b = UidBlock::reserve_from(dir.path(), &used).unwrap();
        assert_eq!(a.first, FIRST_BLOCK);
        assert_eq!(b.first, FIRST_BLOCK + BLOCK_SIZE);
        assert!(!a.environments().contains(&a.init()));
        assert_eq!(a.environments().len(), BLOCK_SIZE as usize - 1);
        drop(a);
        let c = UidBlock::reserve_from(dir.path(), &used).unwrap();
        assert_eq!(c.first, FIRST_BLOCK);
    }

    #[test]
    fn this_hosts_ids_are_read() {
        let used = UsedIds::of_host();
        // root exists, and this very process runs as some uid.
        let me = u64::from(rustix::process::getuid().as_raw());
        assert!(used.overlaps(&(me..me + 1)));
        assert!(used.overlaps(&(0..1)));
    }
}
