//! Control groups, v1 and v2 behind one interface.
//!
//! Ignis keeps its cgroups under `<hierarchy>/ignis/<node>/<environment>`: one directory per
//! running node (so that several nodes share a host, and a crashed node's leftovers can be swept)
//! and one per environment. With cgroup v1 each of the `memory`, `cpu`, `pids` and `freezer`
//! hierarchies holds the same tree; with v2 there is one tree with those controllers enabled on
//! the way down.
//!
//! Everything here is plain file I/O on the cgroup filesystem, with the root paths as
//! parameters, so the unit tests run against temporary directories.

use crate::limits::Limits;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directory under each hierarchy that holds Ignis's cgroups.
pub const PREFIX: &str = "ignis";

/// Which cgroup interface a tree uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A cgroup (or the root of the hierarchies), as directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupPaths {
    /// One directory per v1 controller hierarchy Ignis uses.
    V1 {
        memory: PathBuf,
        cpu: PathBuf,
        pids: PathBuf,
        freezer: PathBuf,
    },
    /// The directory in the unified hierarchy.
    V2(PathBuf),
}

impl CgroupPaths {
    pub fn version(&self) -> Version {
        match self {
            CgroupPaths::V1 { .. } => Version::V1,
            CgroupPaths::V2(_) => Version::V2,
        }
    }

    /// The same cgroup's child `name`.
    pub fn child(&self, name: &str) -> CgroupPaths {
        match self {
            CgroupPaths::V1 {
                memory,
                cpu,
                pids,
                freezer,
            } => CgroupPaths::V1 {
                memory: memory.join(name),
                cpu: cpu.join(name),
                pids: pids.join(name),
                freezer: freezer.join(name),
            },
            CgroupPaths::V2(p) => CgroupPaths::V2(p.join(name)),
        }
    }

    /// Every directory of this cgroup (one per hierarchy).
    pub fn dirs(&self) -> Vec<&Path> {
        match self {
            CgroupPaths::V1 {
                memory,
                cpu,
                pids,
                freezer,
            } => {
                let mut dirs: Vec<&Path> = vec![memory, cpu, pids, freezer];
                // Controllers mounted together (`cpu,cpuacct`) share a directory.
                dirs.dedup();
                dirs
            }
            CgroupPaths::V2(p) => vec![p],
        }
    }

    /// The files a process writes its pid (or `0`, itself) into to join this cgroup.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// The file that freezes and thaws this cgroup, with the values that do each.
    pub fn freezer(&self) -> Freezer {
        match self {
            CgroupPaths::V1 { freezer, .. } => Freezer {
                path: freezer.join("freezer.state"),
                frozen: "FROZEN".into(),
                thawed: "THAWED".into(),
            },
            CgroupPaths::V2(p) => Freezer {
                path: p.join("cgroup.freeze"),
                frozen: "1".into(),
                thawed: "0".into(),
            },
        }
    }

    fn memory_dir(&self) -> &Path {
        match self {
            CgroupPaths::V1 { memory, .. } => memory,
            CgroupPaths::V2(p) => p,
        }
    }
}

/// How to freeze and thaw one cgroup (also used by the jailer, which thaws its environment if
/// the server goes away while it is frozen).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Freezer {
    pub path: PathBuf,
    pub frozen: String,
    pub thawed: String,
}

/// Finds the hierarchies in the text of `/proc/self/mountinfo`: v1 when the memory controller
/// is on a v1 hierarchy (and so must cpu, pids and freezer be), else the unified (v2) mount.
pub fn from_mountinfo(text: &str) -> Option<CgroupPaths> {
    let mut memory = None;
    let mut cpu = None;
    let mut pids = None;
    let mut freezer = None;
    let mut unified = None;
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(mount_point) = left.split(' ').nth(4).map(unescape_mount_path) else {
            continue;
        };
        let mut right = right.split(' ');
        let fstype = right.next().unwrap_or_default();
        let _source = right.next();
        let options = right.next().unwrap_or_default();
        match fstype {
            "cgroup" => {
                for opt in options.split(',') {
                    let slot = match opt {
                        "memory" => &mut memory,
                        "cpu" => &mut cpu,
                        "pids" => &mut pids,
                        "freezer" => &mut freezer,
                        _ => continue,
                    };
                    slot.get_or_insert_with(|| mount_point.clone());
                }
            }
            "cgroup2" => {
                unified.get_or_insert(mount_point);
            }
            _ => {}
        }
    }
    match (memory, cpu, pids, freezer) {
        (Some(memory), Some(cpu), Some(pids), Some(freezer)) => Some(CgroupPaths::V1 {
            memory,
            cpu,
            pids,
            freezer,
        }),
        (Some(_), ..) => None,
        _ => unified.map(CgroupPaths::V2),
    }
}

/// Mount points in mountinfo escape space, tab, newline and backslash as `\ooo`.
fn unescape_mount_path(s: &str) -> PathBuf {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(out))
}

/// The hierarchies of this host, or why there are none usable.
pub fn detect() -> Result<CgroupPaths, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let paths = from_mountinfo(&text).ok_or_else(|| {
        "no usable cgroup hierarchy: need v1 memory, cpu, pids and freezer hierarchies, or a cgroup2 mount"
            .to_string()
    })?;
    if let CgroupPaths::V2(root) = &paths {
        let controllers = std::fs::read_to_string(root.join("cgroup.controllers"))
            .map_err(|e| format!("cannot read {}/cgroup.controllers: {e}", root.display()))?;
        let have: Vec<&str> = controllers.split_whitespace().collect();
        let missing: Vec<&str> = ["memory", "cpu", "pids"]
            .into_iter()
            .filter(|c| !have.contains(c))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the cgroup v2 hierarchy at {} lacks the {} controller(s) (delegated: {:?})",
                root.display(),
                missing.join(", "),
                controllers.trim()
            ));
        }
    }
    Ok(paths)
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn read_u64(path: &Path) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {text:?}", path.display()),
        )
    })
}

/// `key N` from a flat-keyed file such as `memory.events` or `memory.oom_control`.
pub fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn mkdir(path: &Path) -> io::Result<()> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// Removes an empty cgroup directory, retrying while the kernel still counts a dying task.
fn rmdir(path: &Path) -> io::Result<()> {
    for attempt in 0..50 {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 49 => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
        }
    }
    Ok(())
}

/// What the node's cgroup bounds the sum of its environments to. `None` leaves that resource
/// unbounded (`max`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeCeilings {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
}

/// On top of the ceilings the invoker admits environments against, the node's cgroup leaves
/// room for the prepared jails (an init each, claimed by no function yet).
pub const PREPARED_SLACK_BYTES: u64 = 64 << 20;
pub const PREPARED_SLACK_PIDS: u64 = 64;

impl NodeCeilings {
    /// What the node's cgroup files get: the ceilings plus [`PREPARED_SLACK_BYTES`] and
    /// [`PREPARED_SLACK_PIDS`].
    pub fn cgroup_values(&self) -> (Option<u64>, Option<u64>) {
        (
            self.memory_bytes
                .map(|m| m.saturating_add(PREPARED_SLACK_BYTES)),
            self.pids.map(|p| p.saturating_add(PREPARED_SLACK_PIDS)),
        )
    }
}

/// The default memory ceiling from the text of `/proc/meminfo`: `MemTotal` less what the server
/// and the host keep (the larger of 512 MiB and 10 %).
pub fn default_memory_ceiling(meminfo: &str) -> Option<u64> {
    let kib = meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        rest.trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
    })?;
    let total = kib * 1024;
    let headroom = (total / 10).max(512 << 20);
    Some(total.saturating_sub(headroom).max(128 << 20))
}

/// The default pids ceiling from `/proc/sys/kernel/pid_max` and `threads-max`: the smaller of
/// the two, less what the rest of the host keeps (the larger of 4,096 and a quarter).
pub fn default_pids_ceiling(pid_max: u64, threads_max: u64) -> u64 {
    let host = pid_max.min(threads_max);
    host.saturating_sub((host / 4).max(4096)).max(1024)
}

/// The default ceilings of this host (memory and pids).
pub fn host_ceilings() -> NodeCeilings {
    let num = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
    };
    let pids = match (
        num("/proc/sys/kernel/pid_max"),
        num("/proc/sys/kernel/threads-max"),
    ) {
        (Some(p), Some(t)) => Some(default_pids_ceiling(p, t)),
        (Some(p), None) | (None, Some(p)) => Some(default_pids_ceiling(p, p)),
        (None, None) => None,
    };
    NodeCeilings {
        memory_bytes: std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|t| default_memory_ceiling(&t)),
        pids,
    }
}

/// One node's subtree: `<hierarchy>/ignis/<node>`.
#[derive(Debug, Clone)]
pub struct NodeCgroup {
    paths: CgroupPaths,
}

impl NodeCgroup {
    /// Creates (or reuses) `<root>/ignis/<node>` bounded by `ceilings`; with v2, enables the
    /// memory, cpu and pids controllers on the way down.
    pub fn create(
        root: &CgroupPaths,
        node: &str,
        ceilings: &NodeCeilings,
    ) -> io::Result<NodeCgroup> {
        let ignis = root.child(PREFIX);
        let paths = ignis.child(node);
        for dir in ignis.dirs() {
            mkdir(dir)?;
        }
        if let CgroupPaths::V2(root_dir) = root {
            enable_controllers(root_dir)?;
            if let CgroupPaths::V2(d) = &ignis {
                enable_controllers(d)?;
            }
        }
        for dir in paths.dirs() {
            mkdir(dir)?;
        }
        if let CgroupPaths::V2(d) = &paths {
            enable_controllers(d)?;
        }
        let node = NodeCgroup { paths };
        node.set_ceilings(ceilings)?;
        Ok(node)
    }

    /// Writes the node's ceilings (with the prepared jails' slack) into its cgroup: v1
    /// `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes`, hierarchical accounting on)
    /// and `pids.max`; v2 `memory.max`, `memory.swap.max` 0 and `pids.max`.
    pub fn set_ceilings(&self, ceilings: &NodeCeilings) -> io::Result<()> {
        let (memory, pids) = ceilings.cgroup_values();
        // An unbounded resource is written back to "no limit" (the kernel's files always
        // exist; an absent one has nothing to reset).
        let set = |path: &Path, value: Option<u64>, unlimited: &str| match value {
            Some(v) => write(path, &v.to_string()),
            None if path.exists() => write(path, unlimited),
            None => Ok(()),
        };
        match &self.paths {
            CgroupPaths::V1 {
                memory: mem_dir,
                pids: pids_dir,
                ..
            } => {
                // Children count against this limit only with hierarchical accounting (always
                // on since Linux 6.x; the file may refuse a write once children exist).
                let hierarchy = mem_dir.join("memory.use_hierarchy");
                if hierarchy.exists() {
                    let _ = write(&hierarchy, "1");
                }
                // v1 spells "no limit" -1; memsw must stay at or above the memory limit, so
                // the writes are ordered for that.
                let limit = mem_dir.join("memory.limit_in_bytes");
                let memsw = mem_dir.join("memory.memsw.limit_in_bytes");
                if set(&limit, memory, "-1").is_err() && memsw.exists() {
                    set(&memsw, memory, "-1")?;
                    set(&limit, memory, "-1")?;
                } else if memsw.exists() {
                    set(&memsw, memory, "-1")?;
                }
                set(&pids_dir.join("pids.max"), pids, "max")?;
            }
            CgroupPaths::V2(d) => {
                set(&d.join("memory.max"), memory, "max")?;
                let swap = d.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, "0")?;
                }
                set(&d.join("pids.max"), pids, "max")?;
            }
        }
        Ok(())
    }

    /// Processes and threads in the node's environments now (its `pids.current`).
    pub fn pids_current(&self) -> io::Result<u64> {
        let dir = match &self.paths {
            CgroupPaths::V1 { pids, .. } => pids,
            CgroupPaths::V2(d) => d,
        };
        read_u64(&dir.join("pids.current"))
    }

    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// Creates the cgroup of one environment with its limits applied (CPU at its init quota).
    pub fn create_env(&self, name: &str, limits: &Limits) -> io::Result<Cgroup> {
        let paths = self.paths.child(name);
        for dir in paths.dirs() {
            mkdir(dir)?;
        }
        let cgroup = Cgroup::open(paths);
        if let Err(e) = cgroup.set_limits(limits) {
            let _ = cgroup.remove();
            return Err(e);
        }
        Ok(cgroup)
    }

    /// Removes the node's (empty) subtree.
    pub fn remove(&self) -> io::Result<()> {
        for dir in self.paths.dirs() {
            remove_tree(dir)?;
        }
        Ok(())
    }

    /// Removes the subtrees of nodes that are gone: `is_alive` is asked with each node's name.
    pub fn sweep(root: &CgroupPaths, is_alive: impl Fn(&str) -> bool) {
        let ignis = root.child(PREFIX);
        for dir in ignis.dirs() {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type().is_ok_and(|t| t.is_dir()) && !is_alive(&name) {
                    // Its environments may outlive a crashed node for a moment: end them first.
                    kill_tree(&entry.path());
                    let _ = remove_tree(&entry.path());
                }
            }
        }
    }
}

fn enable_controllers(dir: &Path) -> io::Result<()> {
    let control = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&control).unwrap_or_default();
    for c in ["memory", "cpu", "pids"] {
        if !enabled.split_whitespace().any(|e| e == c) {
            write(&control, &format!("+{c}"))?;
        }
    }
    Ok(())
}

/// SIGKILLs every process in a cgroup directory and its children, thawing frozen ones.
fn kill_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                kill_tree(&entry.path());
            }
        }
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
    for (file, thawed) in [("freezer.state", "THAWED"), ("cgroup.freeze", "0")] {
        let f = dir.join(file);
        if f.exists() {
            let _ = std::fs::write(f, thawed);
        }
    }
}

/// Removes a cgroup directory and its child cgroups, deepest first (only directories: the
/// files in a cgroup directory are the kernel's).
fn remove_tree(dir: &Path) -> io::Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path())?;
            }
        }
    }
    rmdir(dir)
}

/// The cgroup of one environment.
#[derive(Debug)]
pub struct Cgroup {
    paths: CgroupPaths,
    /// v2: an open `memory.peak`, whose per-descriptor peak can be reset (Linux 6.12+).
    peak: Option<File>,
}

impl Cgroup {
    /// Opens an existing cgroup.
    pub fn open(paths: CgroupPaths) -> Cgroup {
        let peak = match &paths {
            CgroupPaths::V2(d) => File::options()
                .read(true)
                .write(true)
                .open(d.join("memory.peak"))
                .ok(),
            CgroupPaths::V1 { .. } => None,
        };
        Cgroup { paths, peak }
    }

    pub fn paths(&self) -> &CgroupPaths {
        &self.paths
    }

    /// Writes the limits (CPU at its init quota). Lowering the memory limit below what the
    /// cgroup uses fails.
    pub fn set_limits(&self, l: &Limits) -> io::Result<()> {
        let bytes = l.memory_bytes.to_string();
        match &self.paths {
            CgroupPaths::V1 {
                memory, cpu, pids, ..
            } => {
                write(&memory.join("memory.limit_in_bytes"), &bytes)?;
                // With swap accounting the memory+swap limit equals the memory limit: no swap.
                let memsw = memory.join("memory.memsw.limit_in_bytes");
                if memsw.exists() {
                    write(&memsw, &bytes)?;
                }
                let swappiness = memory.join("memory.swappiness");
                if swappiness.exists() {
                    let _ = write(&swappiness, "0");
                }
                write(&cpu.join("cpu.cfs_period_us"), &l.cpu_period_us.to_string())?;
                write(
                    &cpu.join("cpu.cfs_quota_us"),
                    &l.init_cpu_quota_us.to_string(),
                )?;
                write(&pids.join("pids.max"), &l.pids_max.to_string())?;
            }
            CgroupPaths::V2(d) => {
                write(&d.join("memory.max"), &bytes)?;
                let swap = d.join("memory.swap.max");
                if swap.exists() {
                    write(&swap, "0")?;
                }
                // An OOM ends the whole environment, as it does on Lambda.
                let group = d.join("memory.oom.group");
                if group.exists() {
                    write(&group, "1")?;
                }
                write(
                    &d.join("cpu.max"),
                    &format!("{} {}", l.init_cpu_quota_us, l.cpu_period_us),
                )?;
                write(&d.join("pids.max"), &l.pids_max.to_string())?;
            }
        }
        Ok(())
    }

    /// Sets the CPU quota per period, µs.
    pub fn set_cpu_quota(&self, quota_us: u64, period_us: u64) -> io::Result<()> {
        match &self.paths {
            CgroupPaths::V1 { cpu, .. } => {
                write(&cpu.join("cpu.cfs_quota_us"), &quota_us.to_string())
            }
            CgroupPaths::V2(d) => write(&d.join("cpu.max"), &format!("{quota_us} {period_us}")),
        }
    }

    /// Stops every process of the cgroup (the write returns at once; the kernel finishes
    /// freezing in the background).
    pub fn freeze(&self) -> io::Result<()> {
        let f = self.paths.freezer();
        write(&f.path, &f.frozen)
    }

    pub fn thaw(&self) -> io::Result<()> {
        let f = self.paths.freezer();
        write(&f.path, &f.thawed)
    }

    /// Starts a new peak-memory measurement. Returns `false` when this kernel cannot reset the
    /// peak (cgroup v2 before Linux 6.12): the peak then runs from the environment's start.
    pub fn reset_peak(&self) -> io::Result<bool> {
        match &self.paths {
            CgroupPaths::V1 { memory, .. } => {
                write(&memory.join("memory.max_usage_in_bytes"), "0")?;
                Ok(true)
            }
            CgroupPaths::V2(_) => match &self.peak {
                Some(f) => Ok(f.write_at(b"reset\n", 0).is_ok()),
                None => Ok(false),
            },
        }
    }

    /// Peak memory since the last reset, bytes.
    pub fn peak_bytes(&self) -> io::Result<u64> {
        match &self.paths {
            CgroupPaths::V1 { memory, .. } => read_u64(&memory.join("memory.max_usage_in_bytes")),
            CgroupPaths::V2(d) => match &self.peak {
                Some(f) => {
                    let mut buf = [0u8; 32];
                    let n = f.read_at(&mut buf, 0)?;
                    std::str::from_utf8(&buf[..n])
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "memory.peak"))
                }
                None => read_u64(&d.join("memory.current")),
            },
        }
    }

    /// Memory in use now, bytes.
    pub fn current_bytes(&self) -> io::Result<u64> {
        match &self.paths {
            CgroupPaths::V1 { memory, .. } => read_u64(&memory.join("memory.usage_in_bytes")),
            CgroupPaths::V2(d) => read_u64(&d.join("memory.current")),
        }
    }

    /// How many processes the kernel's OOM killer has killed in this cgroup.
    pub fn oom_kills(&self) -> io::Result<u64> {
        let file = match self.paths.version() {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        let mut text = String::new();
        File::open(self.paths.memory_dir().join(file))?.read_to_string(&mut text)?;
        Ok(keyed_value(&text, "oom_kill").unwrap_or(0))
    }

    /// Pids of the processes in the cgroup.
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        let procs = self.paths.memory_dir().join("cgroup.procs");
        let text = std::fs::read_to_string(procs)?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// SIGKILLs every process of the cgroup, then thaws it (a frozen v1 task dies only once
    /// thawed).
    pub fn kill_all(&self) {
        let kill_file = match &self.paths {
            CgroupPaths::V2(d) => Some(d.join("cgroup.kill")),
            CgroupPaths::V1 { .. } => None,
        };
        let killed = kill_file.is_some_and(|f| f.exists() && write(&f, "1").is_ok());
        if !killed {
            for pid in self.pids().unwrap_or_default() {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
        let _ = self.thaw();
    }

    /// Removes the (empty) cgroup.
    pub fn remove(&self) -> io::Result<()> {
        for dir in self.paths.dirs() {
            rmdir(dir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 24 0:28 / /sys/fs/cgroup rw shared:9 - tmpfs tmpfs rw,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw
36 33 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:13 - cgroup cgroup rw,cpu,cpuacct
37 33 0:32 / /sys/fs/cgroup/memory rw shared:14 - cgroup cgroup rw,memory
38 33 0:33 / /sys/fs/cgroup/pids rw shared:15 - cgroup cgroup rw,pids
39 33 0:34 / /sys/fs/cgroup/freezer rw shared:16 - cgroup cgroup rw,freezer
";

    #[test]
    fn mountinfo_finds_v1_first_then_v2() {
        let p = from_mountinfo(HYBRID).unwrap();
        assert_eq!(
            p,
            CgroupPaths::V1 {
                memory: "/sys/fs/cgroup/memory".into(),
                cpu: "/sys/fs/cgroup/cpu,cpuacct".into(),
                pids: "/sys/fs/cgroup/pids".into(),
                freezer: "/sys/fs/cgroup/freezer".into(),
            }
        );
        let unified =
            "34 33 0:29 / /sys/fs/cgroup rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            from_mountinfo(unified),
            Some(CgroupPaths::V2("/sys/fs/cgroup".into()))
        );
        // A v1 memory hierarchy without the others is not usable (and v2 cannot take memory).
        let partial = "37 33 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n34 33 0:29 / /u rw - cgroup2 cgroup2 rw\n";
        assert_eq!(from_mountinfo(partial), None);
        assert_eq!(from_mountinfo("garbage\n"), None);
        assert_eq!(unescape_mount_path("/a\\040b"), PathBuf::from("/a b"));
    }

    fn fake_v1(dir: &Path) -> CgroupPaths {
        let p = CgroupPaths::V1 {
            memory: dir.join("memory"),
            cpu: dir.join("cpu"),
            pids: dir.join("pids"),
            freezer: dir.join("freezer"),
        };
        for d in p.dirs() {
            std::fs::create_dir_all(d).unwrap();
        }
        p
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn v1_environments_get_their_limits() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fake_v1(tmp.path());
        let node = NodeCgroup::create(&root, "n1", &NodeCeilings::default()).unwrap();
        // A swap-accounting kernel has memsw: it gets the same limit.
        let env_mem = tmp.path().join("memory/ignis/n1/e1");
        std::fs::create_dir_all(&env_mem).unwrap();
        std::fs::write(env_mem.join("memory.memsw.limit_in_bytes"), "").unwrap();
        let cg = node.create_env("e1", &Limits::for_memory(128)).unwrap();
        let m = tmp.path().join("memory/ignis/n1/e1");
        assert_eq!(read(&m.join("memory.limit_in_bytes")), "134217728");
        assert_eq!(read(&m.join("memory.memsw.limit_in_bytes")), "134217728");
        let c = tmp.path().join("cpu/ignis/n1/e1");
        assert_eq!(read(&c.join("cpu.cfs_period_us")), "100000");
        // Init runs on a full core; invocations at the proportional quota.
        assert_eq!(read(&c.join("cpu.cfs_quota_us")), "100000");
        cg.set_cpu_quota(7_235, 100_000).unwrap();
        assert_eq!(read(&c.join("cpu.cfs_quota_us")), "7235");
        assert_eq!(read(&tmp.path().join("pids/ignis/n1/e1/pids.max")), "1024");
        let f = tmp.path().join("freezer/ignis/n1/e1/freezer.state");
        cg.freeze().unwrap();
        assert_eq!(read(&f), "FROZEN");
        cg.thaw().unwrap();
        assert_eq!(read(&f), "THAWED");
        assert!(cg.reset_peak().unwrap());
        assert_eq!(read(&m.join("memory.max_usage_in_bytes")), "0");
        std::fs::write(m.join("memory.max_usage_in_bytes"), "52428800\n").unwrap();
        assert_eq!(cg.peak_bytes().unwrap(), 50 << 20);
        std::fs::write(
            m.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills().unwrap(), 1);
        assert_eq!(
            cg.paths().procs_files(),
            ["memory", "cpu", "pids", "freezer"]
                .map(|c| tmp.path().join(c).join("ignis/n1/e1/cgroup.procs"))
        );
    }

    #[test]
    fn v2_environments_get_their_limits() {
        let tmp = tempfile::tempdir().unwrap();
        let root = CgroupPaths::V2(tmp.path().to_path_buf());
        std::fs::write(tmp.path().join("cgroup.subtree_control"), "").unwrap();
        let node = NodeCgroup::create(&root, "n1", &NodeCeilings::default()).unwrap();
        // Controllers are enabled on the way down (the fake file keeps only the last write).
        assert_eq!(read(&tmp.path().join("cgroup.subtree_control")), "+pids");
        let d = tmp.path().join("ignis/n1/e1");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("memory.swap.max"), "max").unwrap();
        std::fs::write(d.join("memory.oom.group"), "0").unwrap();
        std::fs::write(d.join("memory.peak"), "0\n").unwrap();
        let cg = node.create_env("e1", &Limits::for_memory(1769)).unwrap();
        assert_eq!(read(&d.join("memory.max")), "1854930944");
        assert_eq!(read(&d.join("memory.swap.max")), "0");
        assert_eq!(read(&d.join("memory.oom.group")), "1");
        assert_eq!(read(&d.join("cpu.max")), "100000 100000");
        assert_eq!(read(&d.join("pids.max")), "1024");
        cg.freeze().unwrap();
        assert_eq!(read(&d.join("cgroup.freeze")), "1");
        cg.thaw().unwrap();
        assert_eq!(read(&d.join("cgroup.freeze")), "0");
        // The per-descriptor peak: a reset writes to the open descriptor.
        assert!(cg.reset_peak().unwrap());
        assert_eq!(read(&d.join("memory.peak")), "reset\n");
        std::fs::write(d.join("memory.peak"), "1048576\n").unwrap();
        assert_eq!(cg.peak_bytes().unwrap(), 1 << 20);
        std::fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\noom_group_kill 1\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills().unwrap(), 2);
        assert_eq!(cg.paths().procs_files(), [d.join("cgroup.procs")]);
    }

    #[test]
    fn stale_nodes_are_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fake_v1(tmp.path());
        NodeCgroup::create(&root, "n-dead", &NodeCeilings::default()).unwrap();
        let live = NodeCgroup::create(&root, "n-live", &NodeCeilings::default()).unwrap();
        live.create_env("e", &Limits::for_memory(128)).unwrap();
        NodeCgroup::sweep(&root, |name| name == "n-live");
        assert!(!tmp.path().join("memory/ignis/n-dead").exists());
        assert!(tmp.path().join("memory/ignis/n-live").exists());
    }

    #[test]
    fn v1_node_ceilings_bound_the_subtree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fake_v1(tmp.path());
        let m = tmp.path().join("memory/ignis/n1");
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(m.join("memory.memsw.limit_in_bytes"), "").unwrap();
        std::fs::write(m.join("memory.use_hierarchy"), "0").unwrap();
        let ceilings = NodeCeilings {
            memory_bytes: Some(1 << 30),
            pids: Some(4096),
        };
        let node = NodeCgroup::create(&root, "n1", &ceilings).unwrap();
        let with_slack = ((1u64 << 30) + PREPARED_SLACK_BYTES).to_string();
        assert_eq!(read(&m.join("memory.limit_in_bytes")), with_slack);
        assert_eq!(read(&m.join("memory.memsw.limit_in_bytes")), with_slack);
        assert_eq!(read(&m.join("memory.use_hierarchy")), "1");
        let p = tmp.path().join("pids/ignis/n1");
        assert_eq!(
            read(&p.join("pids.max")),
            (4096 + PREPARED_SLACK_PIDS).to_string()
        );
        std::fs::write(p.join("pids.current"), "17\n").unwrap();
        assert_eq!(node.pids_current().unwrap(), 17);
        // Unbounded: v1 spells it -1 for memory, max for pids.
        node.set_ceilings(&NodeCeilings::default()).unwrap();
        assert_eq!(read(&m.join("memory.limit_in_bytes")), "-1");
        assert_eq!(read(&p.join("pids.max")), "max");
    }

    #[test]
    fn v2_node_ceilings_bound_the_subtree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = CgroupPaths::V2(tmp.path().to_path_buf());
        std::fs::write(tmp.path().join("cgroup.subtree_control"), "").unwrap();
        let d = tmp.path().join("ignis/n1");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("memory.swap.max"), "max").unwrap();
        let ceilings = NodeCeilings {
            memory_bytes: Some(512 << 20),
            pids: None,
        };
        let node = NodeCgroup::create(&root, "n1", &ceilings).unwrap();
        assert_eq!(
            read(&d.join("memory.max")),
            ((512u64 << 20) + PREPARED_SLACK_BYTES).to_string()
        );
        assert_eq!(read(&d.join("memory.swap.max")), "0");
        assert!(!d.join("pids.max").exists(), "unbounded: nothing to write");
        // Environments are made below the bounded node.
        node.create_env("e1", &Limits::for_memory(128)).unwrap();
        assert_eq!(read(&d.join("e1/memory.max")), "134217728");
    }

    #[test]
    fn default_ceilings_leave_headroom() {
        // 24 GB host: 10 % is more than 512 MiB.
        let meminfo = "MemTotal:       24683772 kB\nMemFree:  1 kB\n";
        let total = 24_683_772u64 * 1024;
        assert_eq!(default_memory_ceiling(meminfo), Some(total - total / 10));
        // 2 GiB host: 512 MiB kept.
        let small = format!("MemTotal: {} kB\n", 2 * 1024 * 1024);
        assert_eq!(default_memory_ceiling(&small), Some(1536 << 20));
        assert_eq!(default_memory_ceiling("nothing\n"), None);
        // pid_max 32,768 (this kind of host): a quarter is kept, 8,192.
        assert_eq!(default_pids_ceiling(32_768, 192_735), 24_576);
        // threads-max lower than pid_max bounds it.
        assert_eq!(default_pids_ceiling(4_194_304, 100_000), 75_000);
        // A tiny host still admits one environment.
        assert_eq!(default_pids_ceiling(2_000, 2_000), 1_024);
    }

    #[test]
    fn keyed_files_are_parsed() {
        assert_eq!(keyed_value("a 1\noom_kill 7\n", "oom_kill"), Some(7));
        assert_eq!(keyed_value("oom 1\n", "oom_kill"), None);
    }
}
