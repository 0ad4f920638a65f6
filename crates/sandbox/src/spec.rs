//! What the server tells the jailer: everything about one environment, as data.

use crate::cgroup::Freezer;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where the environment's Runtime API listens, inside its network namespace (as on Lambda).
pub const RUNTIME_API_PORT: u16 = 9001;
/// The guest's view of the host's loopback when egress is on (slirp4netns's gateway).
pub const HOST_LOOPBACK_ALIAS: &str = "10.0.2.2";
/// The DNS forwarder slirp4netns offers inside.
pub const GUEST_DNS: &str = "10.0.2.3";
/// Lambda's name for the function's user.
pub const GUEST_USER: &str = "sbx_user1051";

/// One execution environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JailSpec {
    /// For messages only.
    pub name: String,
    pub hostname: String,
    /// The unprivileged user and group the runtime runs as.
    pub uid: u32,
    pub gid: u32,
    /// Absolute path inside the environment.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment of the runtime.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub root: RootSpec,
    /// The cgroup the environment joins.
    pub cgroup: JoinSpec,
    pub net: NetSpec,
    /// `RLIMIT_NOFILE` of the runtime.
    pub nofile: u64,
    /// Apply the seccomp filter (always on in production; off only for diagnosis).
    pub seccomp: bool,
    /// Longest the jailer waits for each step of the set-up, ms.
    pub step_timeout_ms: u64,
}

/// The root file system of one environment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RootSpec {
    /// An empty host directory on which the root is assembled (inside the environment's own mount
    /// namespace, so every environment can use the same one).
    pub staging: PathBuf,
    /// Host directory shown read-only at `/var/task`.
    pub task: PathBuf,
    /// Host directory shown read-only at `/var/runtime`.
    pub runtime: PathBuf,
    /// Host directory shown read-only at `/opt` (layers); an empty `/opt` when `None`.
    pub opt: Option<PathBuf>,
    /// Further host directories shown read-only at their own paths (the interpreter's `bin` and
    /// `lib` when it lives outside `/usr`, e.g. under pyenv).
    pub expose: Vec<PathBuf>,
    pub tmp: TmpSpec,
    /// Whether the environment has network egress (sets its `/etc/resolv.conf`).
    pub egress: bool,
}

/// What backs `/tmp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TmpSpec {
    /// A file system made ahead of time and mounted detached: its descriptor comes with the
    /// spec (after the network namespace's, if any).
    Detached,
    /// A formatted ext4 image of exactly the function's `EphemeralStorage`, loop-mounted; the
    /// jailer unlinks the file once it is attached.
    Image { path: PathBuf },
    /// A size-limited tmpfs (its pages count as the function's memory).
    Tmpfs { size_mb: u32 },
}

/// Joining the environment's cgroup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinSpec {
    /// `cgroup.procs` files the environment's first process writes itself into.
    pub procs: Vec<PathBuf>,
    /// Thawed by the jailer if the server disappears while the environment is frozen.
    pub freezer: Option<Freezer>,
}

/// The environment's network namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetSpec {
    /// Join a namespace made ahead of time (loopback up, listeners and slirp4netns already
    /// there: the server holds them): its descriptor is the first that comes with the spec.
    /// Otherwise the jailer makes one, with `listen_ports` and `slirp4netns`.
    pub join: bool,
    /// Listening sockets the jailer creates on `127.0.0.1` inside the namespace and hands to the
    /// server (the Runtime API first).
    pub listen_ports: Vec<u16>,
    /// slirp4netns to give the namespace egress (and the host's loopback at
    /// [`HOST_LOOPBACK_ALIAS`]); `None`: loopback only.
    pub slirp4netns: Option<PathBuf>,
}
