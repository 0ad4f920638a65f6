//! [`SandboxLauncher`]: environments as sandboxed process trees, built by `ignis-sandbox`'s
//! jailer (a fresh `ignis __jail` process per environment; the server never forks).
//!
//! Per environment it allocates an unprivileged uid, creates the cgroup (memory = MemorySize
//! without swap, CPU in proportion, 1,024 pids), takes a network namespace and a `/tmp` made
//! ahead of time (`ignis_sandbox::prewarm`), starts the jailer with the spec, and serves the
//! namespace's listeners: the Runtime API's, bound on `127.0.0.1:9001` inside the environment's
//! network namespace (so no other environment can reach it), and one per forwarded node service
//! (the Lambda API at the same `127.0.0.1:<port>` as on the host). All of that runs on a blocking thread; the invoke path
//! itself only reads and writes a few cgroup files (thaw, peak reset, peak, freeze). Teardown
//! (cgroup removal, uid release) happens after the environment has exited, off any invocation.

use crate::launcher::{
    BoxFuture, EnvironmentProcess, GuestLayout, LaunchError, LaunchSpec, Launcher, OutputPipe,
    ProcessExit,
};
use ignis_sandbox::cgroup::NodeCgroup;
use ignis_sandbox::launch::{self, LaunchFailure};
use ignis_sandbox::prewarm::{DetachedTmp, Network, Pool, PoolConfig};
use ignis_sandbox::probe::HostSupport;
use ignis_sandbox::scratch::Scratch;
use ignis_sandbox::spec::{JoinSpec, NetSpec, RUNTIME_API_PORT, RootSpec, TmpSpec};
use ignis_sandbox::{Cgroup, JailSpec, Limits};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Where the code, the bootstraps and the layers appear inside.
pub const GUEST_TASK_ROOT: &str = "/var/task";
pub const GUEST_RUNTIME_DIR: &str = "/var/runtime";
/// Longest the whole set-up of one environment may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// `final_peak` before the environment has ended.
const NO_PEAK: u64 = u64::MAX;
/// First uid (and gid) of the environments; each live environment has its own.
pub const UID_BASE: u32 = 1_000_000;

/// How the sandbox launcher is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// A directory of its own (`<data>/sandbox`): the staging root and the `/tmp` images.
    pub state_dir: PathBuf,
    /// The `ignis` executable that runs the jailer (`/proc/self/exe` in the server).
    pub exe: PathBuf,
    /// What the host offers (from [`ignis_sandbox::probe::probe_host`]).
    pub support: HostSupport,
    /// Give environments network egress (and the host's loopback at 10.0.2.2) through
    /// slirp4netns; without it they have loopback only.
    pub egress: bool,
    /// Host TCP services shown inside every environment at `127.0.0.1:<same port>` (the node's
    /// Lambda API, so that `AWS_ENDPOINT_URL` works unchanged, with or without egress).
    pub forward: Vec<SocketAddr>,
    /// Most environments at once (sizes the uid range).
    pub max_environments: usize,
}

/// Launches sandboxed environments.
pub struct SandboxLauncher {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SandboxLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxLauncher")
            .field("state_dir", &self.shared.cfg.state_dir)
            .finish_non_exhaustive()
    }
}

struct Shared {
    cfg: SandboxConfig,
    node: NodeCgroup,
    /// Network namespaces and `/tmp` file systems made ahead of time.
    pool: Pool,
    staging: PathBuf,
    uids: Mutex<BTreeSet<u32>>,
    forward: Vec<SocketAddr>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.node.remove();
    }
}

/// The cgroup subtree name of the node running in process `pid`.
fn node_name(pid: u32) -> String {
    format!("node-{pid}")
}

/// Whether a node subtree belongs to a running process.
fn node_alive(name: &str) -> bool {
    name.strip_prefix("node-")
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists())
}

impl SandboxLauncher {
    /// Sets up the node's cgroup subtree (sweeping those of nodes that are gone), the staging
    /// root and the `/tmp` templates. Blocking: call it from a blocking context.
    pub fn new(cfg: SandboxConfig) -> Result<SandboxLauncher, LaunchError> {
        let other = |what: &str, e: std::io::Error| LaunchError::Other(format!("{what}: {e}"));
        NodeCgroup::sweep(&cfg.support.cgroups, node_alive);
        let node = NodeCgroup::create(&cfg.support.cgroups, &node_name(std::process::id()))
            .map_err(|e| other("cannot create the node's cgroups", e))?;
        let staging = cfg.state_dir.join("root");
        std::fs::create_dir_all(&staging).map_err(|e| other("sandbox state directory", e))?;
        let scratch = match (&cfg.support.mkfs_ext4, cfg.support.loop_devices) {
            (Some(mkfs), true) => Some(Arc::new(
                Scratch::open(&cfg.state_dir.join("scratch"), mkfs.clone())
                    .map_err(|e| other("sandbox scratch directory", e))?,
            )),
            _ => None,
        };
        let forward: Vec<SocketAddr> = cfg
            .forward
            .iter()
            .copied()
            .filter(|a| a.port() != RUNTIME_API_PORT)
            .collect();
        let mut ports = vec![RUNTIME_API_PORT];
        ports.extend(forward.iter().map(SocketAddr::port));
        let egress = cfg.egress && cfg.support.slirp4netns.is_some();
        let pool = Pool::start(
            PoolConfig {
                ports,
                slirp4netns: egress.then(|| cfg.support.slirp4netns.clone()).flatten(),
                tmp: scratch.is_some(),
            },
            scratch,
        );
        let shared = Arc::new(Shared {
            cfg,
            node,
            pool,
            staging,
            uids: Mutex::new(BTreeSet::new()),
            forward,
        });
        Ok(SandboxLauncher { shared })
    }

    /// What the sandboxes are made of, for start-up messages and `ignis runtimes`.
    pub fn describe(&self) -> String {
        let s = &self.shared;
        let egress = if s.cfg.egress && s.cfg.support.slirp4netns.is_some() {
            "egress through slirp4netns"
        } else {
            "no network egress"
        };
        format!("{}, {egress}", s.cfg.support.describe())
    }

    /// Whether environments get network egress.
    pub fn egress(&self) -> bool {
        self.shared.cfg.egress && self.shared.cfg.support.slirp4netns.is_some()
    }
}

impl Shared {
    fn alloc_uid(&self) -> Result<u32, LaunchError> {
        let mut used = self.uids.lock().unwrap_or_else(PoisonError::into_inner);
        let count = u32::try_from(self.cfg.max_environments.max(1) * 2).unwrap_or(u32::MAX);
        let uid = (UID_BASE..UID_BASE.saturating_add(count))
            .find(|u| !used.contains(u))
            .ok_or_else(|| LaunchError::Other("no free sandbox uid".into()))?;
        used.insert(uid);
        Ok(uid)
    }

    fn release_uid(&self, uid: u32) {
        self.uids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&uid);
    }

    /// The interpreter's installation directories to show inside: `bin`, `lib` and `lib64` of
    /// its prefix, unless it lives under `/usr` (visible anyway).
    fn expose(interpreter: Option<&Path>) -> Vec<PathBuf> {
        let Some(prefix) = interpreter.and_then(Path::parent).and_then(Path::parent) else {
            return vec![];
        };
        if prefix.starts_with("/usr") || prefix == Path::new("/") {
            return vec![];
        }
        ["bin", "lib", "lib64"]
            .iter()
            .map(|d| prefix.join(d))
            .filter(|d| d.is_dir())
            .collect()
    }

    /// Everything before the jailer starts: uid, cgroup, network namespace, `/tmp`, the spec.
    fn prepare(&self, spec: &LaunchSpec, env_id: &str) -> Result<Prepared, LaunchError> {
        let other = |what: &str, e: std::io::Error| LaunchError::Other(format!("{what}: {e}"));
        let uid = self.alloc_uid()?;
        let limits = Limits::for_memory(spec.memory_size_mb);
        let cgroup = match self.node.create_env(env_id, &limits) {
            Ok(c) => c,
            Err(e) => {
                self.release_uid(uid);
                return Err(other("cannot create the cgroup", e));
            }
        };
        let undo = |e: LaunchError| {
            let _ = cgroup.remove();
            self.release_uid(uid);
            e
        };
        let network = self
            .pool
            .network()
            .map_err(|e| undo(other("cannot make the network namespace", e)))?;
        let tmp = match self.pool.tmp(spec.ephemeral_storage_mb, env_id) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => return Err(undo(other("cannot make /tmp", e))),
            None => None,
        };
        let egress = self.cfg.egress && self.cfg.support.slirp4netns.is_some();
        let jail = JailSpec {
            name: spec.name.clone(),
            hostname: format!("ignis-{}", &env_id[..env_id.len().min(12)]),
            uid,
            gid: uid,
            program: spec.program.clone(),
            args: spec.args.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            root: RootSpec {
                staging: self.staging.clone(),
                task: spec.code_root.clone(),
                runtime: spec.runtime_dir.clone(),
                opt: spec.opt_dir.clone(),
                expose: Self::expose(spec.interpreter.as_deref()),
                tmp: match &tmp {
                    Some(_) => TmpSpec::Detached,
                    None => TmpSpec::Tmpfs {
                        size_mb: spec.ephemeral_storage_mb,
                    },
                },
                egress,
            },
            cgroup: JoinSpec {
                procs: cgroup.paths().procs_files(),
                freezer: Some(cgroup.paths().freezer()),
            },
            // Made ahead of time: listeners and slirp4netns are already there.
            net: NetSpec {
                join: true,
                listen_ports: vec![],
                slirp4netns: None,
            },
            nofile: ignis_sandbox::limits::NOFILE,
            seccomp: true,
            step_timeout_ms: u64::try_from(SETUP_TIMEOUT.as_millis()).unwrap_or(10_000),
        };
        Ok(Prepared {
            uid,
            cgroup: Arc::new(cgroup),
            limits,
            jail,
            network,
            tmp,
        })
    }

    /// Undoes [`Shared::prepare`] once the environment is gone.
    fn release(&self, uid: u32, cgroup: &Cgroup) {
        if let Err(e) = cgroup.remove() {
            tracing::warn!(error = %e, "cannot remove an environment's cgroup");
        }
        self.release_uid(uid);
    }
}

struct Prepared {
    uid: u32,
    cgroup: Arc<Cgroup>,
    limits: Limits,
    jail: JailSpec,
    /// Kept until the environment is gone (its slirp4netns stops with it).
    network: Network,
    tmp: Option<DetachedTmp>,
}

impl Launcher for SandboxLauncher {
    fn layout(&self) -> GuestLayout {
        GuestLayout {
            task_root: Some(GUEST_TASK_ROOT.into()),
            runtime_dir: Some(GUEST_RUNTIME_DIR.into()),
            opt: Some("/opt".into()),
            runtime_api: Some(SocketAddr::from(([127, 0, 0, 1], RUNTIME_API_PORT))),
        }
    }

    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'_, Result<Box<dyn EnvironmentProcess>, LaunchError>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let env_id = uuid::Uuid::new_v4().simple().to_string();
            let program = spec.program.clone();
            let s = shared.clone();
            // Everything up to the running runtime is blocking work (files, fork/exec, the
            // set-up conversation): keep it off the reactor.
            let started = tokio::task::spawn_blocking(move || start(&s, &spec, &env_id))
                .await
                .map_err(|e| LaunchError::Other(format!("sandbox task failed: {e}")))?;
            let (mut child, jailed, control, mut prepared) = match started {
                Ok(v) => v,
                Err(StartError::Launch(e)) => return Err(e),
                Err(StartError::Jailer(LaunchFailure::Exec { source, .. })) => {
                    return Err(LaunchError::Spawn { program, source });
                }
                Err(StartError::Jailer(e)) => return Err(LaunchError::Other(e.to_string())),
            };
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            // The namespace was made ahead of time: its listeners are ours already.
            let mut listeners = std::mem::take(&mut prepared.network.listeners).into_iter();
            let runtime_api = listeners.next();
            // Attached inside the environment now.
            drop(prepared.tmp.take());
            drop(jailed.listeners);
            let cancel = CancellationToken::new();
            for (listener, target) in listeners.zip(shared.forward.clone()) {
                forward(listener, target, cancel.clone());
            }
            let (exit_tx, exit_rx) = watch::channel(None);
            let oom = Arc::new(AtomicBool::new(false));
            let final_peak = Arc::new(AtomicU64::new(NO_PEAK));
            {
                let cgroup = prepared.cgroup.clone();
                let oom = oom.clone();
                let final_peak = final_peak.clone();
                let shared = shared.clone();
                let cancel = cancel.clone();
                let uid = prepared.uid;
                let network = prepared.network;
                tokio::spawn(async move {
                    let exit = match child.wait().await {
                        Ok(status) => match (status.code(), status.signal()) {
                            (Some(c), _) => ProcessExit::Code(c),
                            (None, Some(s)) => ProcessExit::Signal(s),
                            _ => ProcessExit::Unknown,
                        },
                        Err(_) => ProcessExit::Unknown,
                    };
                    // Read before the cgroup goes.
                    oom.store(cgroup.oom_kills().unwrap_or(0) > 0, Ordering::Release);
                    if let Ok(peak) = cgroup.peak_bytes() {
                        final_peak.store(peak, Ordering::Release);
                    }
                    let _ = exit_tx.send(Some(exit));
                    cancel.cancel();
                    let _ = tokio::task::spawn_blocking(move || {
                        cgroup.kill_all();
                        shared.release(uid, &cgroup);
                        // Stops slirp4netns; the namespace goes with its last user.
                        drop(network);
                    })
                    .await;
                });
            }
            Ok(Box::new(Sandboxed {
                init_pid: jailed.init_pid,
                control,
                cgroup: prepared.cgroup,
                limits: prepared.limits,
                stdout,
                stderr,
                runtime_api,
                exit: exit_rx,
                oom,
                final_peak,
                _forwarders: cancel.drop_guard(),
            }) as Box<dyn EnvironmentProcess>)
        })
    }
}

enum StartError {
    Launch(LaunchError),
    Jailer(LaunchFailure),
}

type StartedJail = (tokio::process::Child, launch::Jailed, OwnedFd, Prepared);

/// Prepares, starts the jailer and runs the set-up conversation (blocking).
fn start(shared: &Arc<Shared>, spec: &LaunchSpec, env_id: &str) -> Result<StartedJail, StartError> {
    let prepared = shared.prepare(spec, env_id).map_err(StartError::Launch)?;
    let undo = |e: StartError, p: &Prepared| {
        shared.release(p.uid, &p.cgroup);
        e
    };
    let (control, jailer_end) = launch::control_pair().map_err(|e| {
        undo(
            StartError::Launch(LaunchError::Other(e.to_string())),
            &prepared,
        )
    })?;
    let mut cmd =
        tokio::process::Command::from(launch::jailer_command(&shared.cfg.exe, jailer_end));
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| {
        undo(
            StartError::Launch(LaunchError::Spawn {
                program: shared.cfg.exe.clone(),
                source,
            }),
            &prepared,
        )
    })?;
    // The jailer's end now lives in the child only.
    drop(cmd);
    let mut fds = vec![prepared.network.ns.as_fd()];
    if let Some(t) = &prepared.tmp {
        fds.push(t.mount.as_fd());
    }
    let handshake = launch::handshake(&control, &prepared.jail, &fds, SETUP_TIMEOUT);
    drop(fds);
    match handshake {
        Ok(jailed) => Ok((child, jailed, control, prepared)),
        Err(e) => {
            let _ = child.start_kill();
            prepared.cgroup.kill_all();
            // Reap it here: the caller never sees this child.
            for _ in 0..100 {
                if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(undo(StartError::Jailer(e), &prepared))
        }
    }
}

/// Serves a forwarded port: each connection accepted inside the environment is joined to a new
/// connection to `target` on the host.
fn forward(listener: std::net::TcpListener, target: SocketAddr, cancel: CancellationToken) {
    let listener = match listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::TcpListener::from_std(listener))
    {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "cannot serve a forwarded port");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = cancel.cancelled() => return,
            };
            let Ok((mut inside, _)) = accepted else {
                continue;
            };
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let Ok(mut outside) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inside, &mut outside) => {}
                    _ = cancel.cancelled() => {}
                }
            });
        }
    });
}

struct Sandboxed {
    init_pid: i32,
    control: OwnedFd,
    cgroup: Arc<Cgroup>,
    limits: Limits,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    runtime_api: Option<std::net::TcpListener>,
    exit: watch::Receiver<Option<ProcessExit>>,
    oom: Arc<AtomicBool>,
    /// The last invocation's peak, read when the environment ended (its cgroup then goes).
    final_peak: Arc<AtomicU64>,
    _forwarders: tokio_util::sync::DropGuard,
}

impl EnvironmentProcess for Sandboxed {
    fn pid(&self) -> u32 {
        u32::try_from(self.init_pid).unwrap_or(0)
    }

    fn take_stdout(&mut self) -> Option<Box<dyn OutputPipe>> {
        self.stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn OutputPipe>)
    }

    fn take_stderr(&mut self) -> Option<Box<dyn OutputPipe>> {
        self.stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn OutputPipe>)
    }

    fn kill(&self) {
        if self.exit.borrow().is_some() {
            return;
        }
        launch::kill(&self.control);
        // Also thaws a frozen environment, which only then can die.
        self.cgroup.kill_all();
    }

    fn wait(&self) -> BoxFuture<'_, ProcessExit> {
        let mut rx = self.exit.clone();
        Box::pin(async move {
            match rx.wait_for(Option::is_some).await {
                Ok(v) => v.unwrap_or(ProcessExit::Unknown),
                Err(_) => ProcessExit::Unknown,
            }
        })
    }

    // The cgroup operations below are single writes or reads of kernel pseudo-files (no disk,
    // microseconds): they run inline rather than paying for a hop to a blocking thread on the
    // warm path.

    fn reset_peak_memory(&self) -> BoxFuture<'_, ()> {
        let _ = self.cgroup.reset_peak();
        Box::pin(async {})
    }

    fn peak_memory_bytes(&self) -> BoxFuture<'_, Option<u64>> {
        let peak = match self.final_peak.load(Ordering::Acquire) {
            NO_PEAK => self.cgroup.peak_bytes().ok(),
            peak => Some(peak),
        };
        Box::pin(async move { peak })
    }

    fn freeze(&self) -> BoxFuture<'_, ()> {
        if let Err(e) = self.cgroup.freeze() {
            tracing::debug!(error = %e, "cannot freeze an environment");
        }
        Box::pin(async {})
    }

    fn thaw(&self) -> BoxFuture<'_, ()> {
        if let Err(e) = self.cgroup.thaw() {
            tracing::debug!(error = %e, "cannot thaw an environment");
        }
        Box::pin(async {})
    }

    fn freezes(&self) -> bool {
        true
    }

    fn take_runtime_api(&mut self) -> Option<std::net::TcpListener> {
        self.runtime_api.take()
    }

    fn out_of_memory(&self) -> BoxFuture<'_, bool> {
        let oom = self.oom.load(Ordering::Acquire)
            || (self.exit.borrow().is_none() && self.cgroup.oom_kills().unwrap_or(0) > 0);
        Box::pin(async move { oom })
    }

    fn init_done(&self) -> BoxFuture<'_, ()> {
        if let Err(e) = self
            .cgroup
            .set_cpu_quota(self.limits.cpu_quota_us, self.limits.cpu_period_us)
        {
            tracing::warn!(error = %e, "cannot set an environment's CPU quota");
        }
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_prefixes_outside_usr_are_exposed() {
        assert!(Shared::expose(Some(Path::new("/usr/bin/python3.11"))).is_empty());
        assert!(Shared::expose(None).is_empty());
        assert!(Shared::expose(Some(Path::new("/python3"))).is_empty());
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("versions/3.11.7");
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        std::fs::create_dir_all(prefix.join("lib")).unwrap();
        let exe = prefix.join("bin/python3.11");
        assert_eq!(
            Shared::expose(Some(&exe)),
            [prefix.join("bin"), prefix.join("lib")]
        );
    }

    #[test]
    fn node_subtrees_are_recognised() {
        assert_eq!(node_name(42), "node-42");
        assert!(node_alive(&node_name(std::process::id())));
        assert!(!node_alive("node-999999999"));
        assert!(!node_alive("something-else"));
    }
}
