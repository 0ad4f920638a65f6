//! Can this host build sandboxes? Asked once at start-up (and by `ignis runtimes`).

use crate::cgroup::{self, CgroupPaths};
use crate::jail::{PROBE_ARG, SUBCOMMAND};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What the host offers.
#[derive(Debug, Clone)]
pub struct HostSupport {
    pub cgroups: CgroupPaths,
    /// `/dev/loop-control` works: `/tmp` can be an ext4 image.
    pub loop_devices: bool,
    pub mkfs_ext4: Option<PathBuf>,
    /// Time namespaces work: an environment's clocks (its uptime) are its own.
    pub time_namespaces: bool,
    pub slirp4netns: Option<PathBuf>,
}

impl HostSupport {
    /// A short description, e.g. `namespaces + cgroup v1, /tmp on ext4 images`.
    pub fn describe(&self) -> String {
        let cg = match self.cgroups.version() {
            cgroup::Version::V1 => "cgroup v1",
            cgroup::Version::V2 => "cgroup v2",
        };
        let tmp = if self.loop_devices && self.mkfs_ext4.is_some() {
            "/tmp on ext4 images"
        } else {
            "/tmp on tmpfs (counted as memory: no loop devices or mkfs.ext4)"
        };
        let clocks = if self.time_namespaces {
            ""
        } else {
            ", the host's uptime (no time namespaces)"
        };
        format!("namespaces + {cg}, {tmp}{clocks}")
    }
}

/// Finds `name` on `PATH` (and in the usual system directories).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Checks everything a sandbox needs, running `<exe> __jail --probe` for the parts that can
/// only be tried (namespaces, mounts). `Err` says what is missing.
pub fn probe_host(exe: &Path) -> Result<HostSupport, String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not running as root".into());
    }
    let cgroups = cgroup::detect()?;
    for dir in cgroups.dirs() {
        let probe = dir.join(cgroup::PREFIX);
        if !probe.exists() {
            std::fs::create_dir(&probe)
                .map_err(|e| format!("cannot create cgroups under {}: {e}", dir.display()))?;
        }
    }
    let out = Command::new(exe)
        .args([SUBCOMMAND, PROBE_ARG])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("no answer");
    if !out.status.success() || first != "ok" {
        return Err(format!("namespaces: {first}"));
    }
    let notes: Vec<&str> = lines.collect();
    Ok(HostSupport {
        cgroups,
        loop_devices: !notes.contains(&"no-loop"),
        mkfs_ext4: crate::scratch::find_mkfs(),
        time_namespaces: !notes.contains(&"no-timens"),
        slirp4netns: find_program("slirp4netns"),
    })
}
