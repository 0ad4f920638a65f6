//! What the server tells the jailer, as data, in two parts: [`PrepareSpec`] (everything that does
//! not depend on the function: user, cgroup, namespaces — done ahead of time, off the cold-start
//! path) and [`SetupSpec`] (the function's own: its root file system and its program).

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

/// The function-independent part of an environment. The network namespace to join comes with it
/// as a descriptor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrepareSpec {
    pub hostname: String,
    /// The unprivileged user and group the runtime runs as.
    pub uid: u32,
    pub gid: u32,
    /// The uid and gid of the environment's init once the runtime has started (from the node's
    /// block, like `uid`: never a host account such as `nobody`).
    pub init_id: u32,
    /// The cgroup the environment joins.
    pub cgroup: JoinSpec,
    /// `RLIMIT_NOFILE` of the runtime.
    pub nofile: u64,
    /// Apply the seccomp filter (always on in production; off only for diagnosis).
    pub seccomp: bool,
    /// Longest the jailer waits for each step of the set-up, ms.
    pub step_timeout_ms: u64,
}

/// The function's part: its root file system and what runs. A detached `/tmp` comes with it as a
/// descriptor when `root.tmp` is [`TmpSpec::Detached`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupSpec {
    /// For messages only.
    pub name: String,
    /// Absolute path inside the environment.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment of the runtime.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub root: RootSpec,
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
    /// The function's memory, MB: what the environment's `/proc/meminfo` shows (set by the
    /// factory; 0 leaves the kernel's).
    pub memory_mb: u32,
}

/// What backs `/tmp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TmpSpec {
    /// An ext4 file system of exactly the function's `EphemeralStorage`, made ahead of time and
    /// mounted detached; its descriptor comes with the spec.
    Detached,
    /// A size-limited tmpfs (its pages count as the function's memory): hosts without loop
    /// devices or mkfs.ext4.
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
