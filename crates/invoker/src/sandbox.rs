//! [`SandboxLauncher`]: environments as sandboxed process trees, built by `ignis-sandbox`'s
//! [`Factory`] (jailers — fresh `ignis __jail` processes — do the work; the server never forks).
//!
//! The factory prepares jails ahead of time (namespaces, uid, cgroup, slirp4netns) and `/tmp`
//! file systems; a cold start takes one, writes the function's limits and has the jailer build
//! the function's root and exec its runtime, on a blocking thread. This launcher then serves the
//! environment's listeners: the Runtime API's, bound on `127.0.0.1:9001` inside the environment's
//! network namespace (so no other environment can reach it), and one per forwarded node service
//! (the Lambda API, at the same `127.0.0.1:<port>` as on the host). The invoke path itself only
//! writes and reads a few cgroup files (thaw, peak reset, peak, freeze). Teardown (cgroup
//! removal, uid release, slirp4netns) happens after the environment has exited, off any
//! invocation.

use crate::launcher::{
    BoxFuture, EnvironmentProcess, GuestLayout, LaunchError, LaunchSpec, Launcher, OutputPipe,
    ProcessExit,
};
use ignis_sandbox::factory::{self, Factory, FactoryConfig, StartError};
use ignis_sandbox::probe::HostSupport;
use ignis_sandbox::spec::{RUNTIME_API_PORT, RootSpec, SetupSpec, TmpSpec};
use ignis_sandbox::{Cgroup, Limits};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Where the code, the bootstraps and the layers appear inside.
pub const GUEST_TASK_ROOT: &str = "/var/task";
pub const GUEST_RUNTIME_DIR: &str = "/var/runtime";
pub const GUEST_OPT: &str = "/opt";
/// Prepared jails kept ready.
const READY_JAILS: usize = 2;
/// `final_peak` before the environment has ended.
const NO_PEAK: u64 = u64::MAX;

/// How the sandbox launcher is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// A directory of its own (`<data>/sandbox`): the staging root and the `/tmp` templates.
    pub state_dir: PathBuf,
    /// The `ignis` executable that runs the jailer (`/proc/self/exe` in the server).
    pub exe: PathBuf,
    /// What the host offers (from [`ignis_sandbox::probe::probe_host`]).
    pub support: HostSupport,
    /// Give environments network egress through slirp4netns; without it they have loopback
    /// only.
    pub egress: bool,
    /// With egress, also the host's loopback services at 10.0.2.2 (`--function-host-access`).
    pub host_access: bool,
    /// The node's API, shown inside every environment at `127.0.0.1:<its port>` so that
    /// `AWS_ENDPOINT_URL` works unchanged, with or without egress.
    pub forward: Option<Forward>,
    /// Most environments at once (sizes the uid range).
    pub max_environments: usize,
    /// What the node's cgroup bounds the sum of environments to.
    pub ceilings: ignis_sandbox::NodeCeilings,
}

/// A node service shown inside every environment: each connection accepted at
/// `127.0.0.1:<port>` there is handed to `serve` with the name of the function whose environment
/// made it, so the node serves it directly (no second connection) and counts it against that
/// function.
#[derive(Clone)]
pub struct Forward {
    pub port: u16,
    pub serve: ServeConnection,
}

/// Takes one forwarded connection and the name of the function that made it.
pub type ServeConnection = Arc<dyn Fn(tokio::net::TcpStream, &str) + Send + Sync>;

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// Launches sandboxed environments.
pub struct SandboxLauncher {
    factory: Arc<Factory>,
    forward: Option<Forward>,
}

impl std::fmt::Debug for SandboxLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxLauncher")
            .field("factory", &self.factory)
            .finish_non_exhaustive()
    }
}

impl SandboxLauncher {
    /// Sets up the factory (the node's cgroups, the staging root, the `/tmp` templates) and
    /// starts preparing jails. Blocking: call it from a blocking context.
    pub fn new(cfg: SandboxConfig) -> Result<SandboxLauncher, LaunchError> {
        // A forwarded port cannot be the Runtime API's.
        let forward = cfg.forward.filter(|f| f.port != RUNTIME_API_PORT);
        let mut ports = vec![RUNTIME_API_PORT];
        ports.extend(forward.iter().map(|f| f.port));
        let factory = Factory::new(FactoryConfig {
            exe: cfg.exe,
            state_dir: cfg.state_dir,
            support: cfg.support,
            egress: cfg.egress,
            host_loopback: cfg.host_access,
            ports,
            max_environments: cfg.max_environments,
            ready: READY_JAILS,
            node: format!("node-{}", std::process::id()),
            ceilings: cfg.ceilings,
        })
        .map_err(|e| LaunchError::Other(e.to_string()))?;
        Ok(SandboxLauncher {
            factory: Arc::new(factory),
            forward,
        })
    }

    /// What the sandboxes are made of, for start-up messages and `ignis runtimes`.
    pub fn describe(&self) -> String {
        self.factory.describe()
    }

    /// Whether environments get network egress.
    pub fn egress(&self) -> bool {
        self.factory.egress()
    }
}

/// The interpreter's installation directories to show inside: `bin`, `lib` and `lib64` of its
/// prefix, unless it lives under `/usr` (visible anyway).
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

/// The function's part of the environment.
fn setup_of(spec: &LaunchSpec, staging: &Path) -> SetupSpec {
    SetupSpec {
        name: spec.name.clone(),
        program: spec.program.clone(),
        args: spec.args.clone(),
        env: spec.env.clone(),
        cwd: spec.cwd.clone(),
        root: RootSpec {
            staging: staging.to_path_buf(),
            task: spec.code_root.clone(),
            runtime: spec.runtime_dir.clone(),
            opt: spec.opt_dir.clone(),
            expose: expose(spec.interpreter.as_deref()),
            // Set by the factory.
            tmp: TmpSpec::Tmpfs {
                size_mb: spec.ephemeral_storage_mb,
            },
            egress: false,
            memory_mb: 0,
        },
    }
}

/// How a process ended, from its status.
fn exit_of(status: std::process::ExitStatus) -> ProcessExit {
    match (status.code(), status.signal()) {
        (Some(c), _) => ProcessExit::Code(c),
        (None, Some(s)) => ProcessExit::Signal(s),
        _ => ProcessExit::Unknown,
    }
}

/// Waits for the jailer `child` to end: its end of the control socket closes when it exits
/// (nothing else holds it), which wakes this task without a thread of its own.
async fn wait_child(
    mut child: std::process::Child,
    control: &tokio::net::UnixStream,
) -> ProcessExit {
    let pause = std::time::Duration::from_millis(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return exit_of(status),
            Ok(None) => {}
            Err(_) => return ProcessExit::Unknown,
        }
        if control.readable().await.is_err() {
            tokio::time::sleep(pause).await;
            continue;
        }
        let mut buf = [0u8; 512];
        match control.try_read(&mut buf) {
            // Closed: the jailer is exiting; it is reaped in a moment.
            Ok(0) => loop {
                match child.try_wait() {
                    Ok(Some(status)) => return exit_of(status),
                    Ok(None) => tokio::time::sleep(pause).await,
                    Err(_) => return ProcessExit::Unknown,
                }
            },
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => tokio::time::sleep(pause).await,
        }
    }
}

impl Launcher for SandboxLauncher {
    fn layout(&self) -> GuestLayout {
        GuestLayout {
            task_root: Some(GUEST_TASK_ROOT.into()),
            runtime_dir: Some(GUEST_RUNTIME_DIR.into()),
            opt: Some(GUEST_OPT.into()),
            runtime_api: Some(SocketAddr::from(([127, 0, 0, 1], RUNTIME_API_PORT))),
        }
    }

    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'_, Result<Box<dyn EnvironmentProcess>, LaunchError>> {
        let factory = self.factory.clone();
        let forward = self.forward.clone();
        Box::pin(async move {
            let program = spec.program.clone();
            let function = spec.function.clone();
            let f = factory.clone();
            // Everything up to the running runtime is blocking work (files, fork/exec, the
            // set-up conversation): keep it off the reactor.
            let started = tokio::task::spawn_blocking(move || {
                let setup = setup_of(&spec, f.staging());
                f.start(spec.memory_size_mb, spec.ephemeral_storage_mb, setup)
            })
            .await
            .map_err(|e| LaunchError::Other(format!("sandbox task failed: {e}")))?;
            let env = match started {
                Ok(env) => env,
                Err(StartError::Exec(source)) => {
                    return Err(LaunchError::Spawn { program, source });
                }
                Err(e) => return Err(LaunchError::Other(e.to_string())),
            };
            tracing::debug!(setup_us = env.setup.as_micros() as u64, "sandbox started");
            let pipe = |p: Option<std::process::ChildStdout>| {
                p.and_then(|p| ChildStdout::from_std(p).ok())
            };
            let stdout = pipe(env.stdout);
            let stderr = env.stderr.and_then(|p| ChildStderr::from_std(p).ok());
            let mut listeners = env.listeners.into_iter();
            let runtime_api = listeners.next();
            let cancel = CancellationToken::new();
            if let (Some(listener), Some(forward)) = (listeners.next(), forward) {
                serve_forward(listener, forward, function, cancel.clone());
            }
            let control = std::os::unix::net::UnixStream::from(env.control);
            let control = match control
                .set_nonblocking(true)
                .and_then(|()| tokio::net::UnixStream::from_std(control))
            {
                Ok(c) => Arc::new(c),
                Err(e) => {
                    cancel.cancel();
                    return Err(LaunchError::Other(format!("the jailer's socket: {e}")));
                }
            };
            let (exit_tx, exit_rx) = watch::channel(None);
            let oom = Arc::new(AtomicBool::new(false));
            let final_peak = Arc::new(AtomicU64::new(NO_PEAK));
            {
                let cgroup = env.cgroup.clone();
                let oom = oom.clone();
                let final_peak = final_peak.clone();
                let cancel = cancel.clone();
                let leftovers = env.leftovers;
                let child = env.child;
                let control = control.clone();
                tokio::spawn(async move {
                    let exit = wait_child(child, &control).await;
                    // Read before the cgroup goes.
                    oom.store(cgroup.oom_kills().unwrap_or(0) > 0, Ordering::Release);
                    if let Ok(peak) = cgroup.peak_bytes() {
                        final_peak.store(peak, Ordering::Release);
                    }
                    let _ = exit_tx.send(Some(exit));
                    cancel.cancel();
                    let _ = tokio::task::spawn_blocking(move || {
                        factory.release(leftovers, &cgroup);
                    })
                    .await;
                });
            }
            Ok(Box::new(Sandboxed {
                init_pid: env.init_pid,
                control,
                cgroup: env.cgroup,
                limits: env.limits,
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

/// Serves a forwarded port: each connection accepted inside the environment goes to the node's
/// front as the function's own.
fn serve_forward(
    listener: std::net::TcpListener,
    forward: Forward,
    function: String,
    cancel: CancellationToken,
) {
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
            match accepted {
                Ok((inside, _)) => (forward.serve)(inside, &function),
                // Out of descriptors: the front is full; wait rather than spin.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    });
}

struct Sandboxed {
    init_pid: i32,
    /// The jailer's control socket.
    control: Arc<tokio::net::UnixStream>,
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
        factory::kill(&*self.control);
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
        assert!(expose(Some(Path::new("/usr/bin/python3.11"))).is_empty());
        assert!(expose(None).is_empty());
        assert!(expose(Some(Path::new("/python3"))).is_empty());
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("versions/3.11.7");
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        std::fs::create_dir_all(prefix.join("lib")).unwrap();
        let exe = prefix.join("bin/python3.11");
        assert_eq!(expose(Some(&exe)), [prefix.join("bin"), prefix.join("lib")]);
    }
}
