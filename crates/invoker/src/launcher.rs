//! The seam between the invoker and whatever runs an environment's process tree.
//!
//! The invoker decides *what* runs (program, arguments, the complete environment, limits); a
//! [`Launcher`] decides *how*: [`crate::ProcessLauncher`] starts a plain child process,
//! [`crate::SandboxLauncher`] a sandboxed process tree (namespaces + cgroups). A launcher also
//! says how its environments see the world ([`GuestLayout`]): where the code and the bootstraps
//! are, and where the Runtime API listens.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::io::AsyncRead;

/// A boxed, sendable future (the trait stays object-safe without `async-trait`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the environments of a launcher see their code, bootstraps and Runtime API.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestLayout {
    /// Where the code appears (`LAMBDA_TASK_ROOT`, e.g. `/var/task`); `None`: at its host path.
    pub task_root: Option<PathBuf>,
    /// Where the runtime's bootstrap directory appears (`LAMBDA_RUNTIME_DIR`, e.g.
    /// `/var/runtime`); `None`: at its host path.
    pub runtime_dir: Option<PathBuf>,
    /// Where the layers appear (`/opt`); `None`: at their host path.
    pub opt: Option<PathBuf>,
    /// The Runtime API's address inside the environment, served on a listener the launched
    /// process hands over ([`EnvironmentProcess::take_runtime_api`]); `None`: the invoker binds
    /// a port of `127.0.0.2` on the host itself (`runtime_api::HOST_RUNTIME_API_IP`).
    pub runtime_api: Option<SocketAddr>,
}

impl GuestLayout {
    /// The guest path of the code at `host`.
    pub fn task_root(&self, host: &Path) -> PathBuf {
        self.task_root.clone().unwrap_or_else(|| host.to_path_buf())
    }

    /// The guest path of the layers at `host` (`/opt` in a sandbox even without layers).
    pub fn opt_dir(&self, host: Option<&Path>) -> Option<PathBuf> {
        self.opt.clone().or_else(|| host.map(Path::to_path_buf))
    }

    /// The guest path of the bootstrap directory at `host`.
    pub fn runtime_dir(&self, host: &Path) -> PathBuf {
        self.runtime_dir
            .clone()
            .unwrap_or_else(|| host.to_path_buf())
    }
}

/// Everything needed to start one execution environment.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Unique name of the environment (for cgroup and log naming).
    pub name: String,
    /// The function it runs (its connections to the node's API are counted against it).
    pub function: String,
    /// The program, as the environment sees it (see [`GuestLayout`]).
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment of the process; nothing else is inherited.
    pub env: Vec<(String, String)>,
    /// The working directory, as the environment sees it.
    pub cwd: PathBuf,
    /// The function's `MemorySize`, MB.
    pub memory_size_mb: u32,
    /// The function's `/tmp` size, MB.
    pub ephemeral_storage_mb: u32,
    /// The function's timeout (per invocation).
    pub timeout: Duration,
    /// The extracted, read-only function code (`/var/task`).
    pub code_root: PathBuf,
    /// Where Ignis's bootstraps live (`/var/runtime`).
    pub runtime_dir: PathBuf,
    /// The merged layers (mounted read-only at `/opt` by a sandbox), if any.
    pub opt_dir: Option<PathBuf>,
    /// The interpreter's executable on the host, if the runtime has one (a sandbox shows its
    /// installation read-only).
    pub interpreter: Option<PathBuf>,
}

/// Why an environment could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The program could not be executed (missing, not executable, bad format…).
    #[error("cannot start {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Anything else the launcher could not do (set up a sandbox, a cgroup…).
    #[error("{0}")]
    Other(String),
}

/// How a process ended, printed the way Lambda (Go's `os.ProcessState`) prints it:
/// `exit status 1`, `signal: killed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessExit {
    Code(i32),
    Signal(i32),
    /// The launcher could not tell.
    Unknown,
}

impl fmt::Display for ProcessExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProcessExit::Code(c) => write!(f, "exit status {c}"),
            ProcessExit::Signal(s) => {
                let name = match s {
                    1 => "hangup",
                    2 => "interrupt",
                    3 => "quit",
                    4 => "illegal instruction",
                    6 => "aborted",
                    7 => "bus error",
                    8 => "floating point exception",
                    9 => "killed",
                    11 => "segmentation fault",
                    13 => "broken pipe",
                    14 => "alarm clock",
                    15 => "terminated",
                    _ => return write!(f, "signal: signal {s}"),
                };
                write!(f, "signal: {name}")
            }
            ProcessExit::Unknown => f.write_str("exit status unknown"),
        }
    }
}

/// A readable pipe of the process's output. `AsFd` lets the invoker ask the kernel how many
/// bytes are still waiting in it (so no line written before a response is missed).
pub trait OutputPipe: AsyncRead + AsFd + Send + Unpin {}
impl<T: AsyncRead + AsFd + Send + Unpin> OutputPipe for T {}

/// A running environment's process tree.
pub trait EnvironmentProcess: Send + Sync {
    /// Pid of the runtime process (in the launcher's pid namespace view of the host).
    fn pid(&self) -> u32;
    /// The runtime's stdout, once.
    fn take_stdout(&mut self) -> Option<Box<dyn OutputPipe>>;
    /// The runtime's stderr, once.
    fn take_stderr(&mut self) -> Option<Box<dyn OutputPipe>>;
    /// Kills the whole tree now (SIGKILL). Idempotent.
    fn kill(&self);
    /// Resolves when the runtime process has exited (any number of callers).
    fn wait(&self) -> BoxFuture<'_, ProcessExit>;
    /// Starts a new peak-memory measurement (called before each invocation).
    fn reset_peak_memory(&self) -> BoxFuture<'_, ()>;
    /// Peak memory of the tree since the last reset, bytes; `None` when it cannot be measured.
    fn peak_memory_bytes(&self) -> BoxFuture<'_, Option<u64>>;
    /// Stops the tree from running between invocations (no-op where unsupported).
    fn freeze(&self) -> BoxFuture<'_, ()>;
    /// Lets a frozen tree run again.
    fn thaw(&self) -> BoxFuture<'_, ()>;
    /// Whether [`EnvironmentProcess::freeze`] really stops the tree (the invoker then lets the
    /// runtime finish its post-response work and park in `/next` before freezing it).
    fn freezes(&self) -> bool {
        false
    }
    /// The Runtime API's listening socket inside the environment, once (see
    /// [`GuestLayout::runtime_api`]).
    fn take_runtime_api(&mut self) -> Option<std::net::TcpListener> {
        None
    }
    /// Whether the kernel's OOM killer has killed a process of the tree (asked after it ended).
    fn out_of_memory(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { false })
    }
    /// Init has ended: from now on the environment runs at its invocation limits.
    fn init_done(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Starts environments.
pub trait Launcher: Send + Sync + 'static {
    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'_, Result<Box<dyn EnvironmentProcess>, LaunchError>>;

    /// How this launcher's environments see the world (default: as plain host processes).
    fn layout(&self) -> GuestLayout {
        GuestLayout::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_print_like_go() {
        assert_eq!(ProcessExit::Code(1).to_string(), "exit status 1");
        assert_eq!(ProcessExit::Signal(9).to_string(), "signal: killed");
        assert_eq!(
            ProcessExit::Signal(11).to_string(),
            "signal: segmentation fault"
        );
        assert_eq!(ProcessExit::Signal(64).to_string(), "signal: signal 64");
    }
}
