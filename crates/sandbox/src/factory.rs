//! The server's side of sandboxes: the [`Factory`] builds environments with jailers, as much as
//! possible ahead of time.
//!
//! A background thread keeps a few **prepared jails** ready: a jailer started, given a network
//! namespace (loopback up, listeners bound, slirp4netns attached), an unprivileged uid and a cgroup
//! its init has already joined (with cgroup v1 that migration waits for an RCU grace period —
//! about 10 ms here — so it is done before anyone waits). It also keeps detached `/tmp` file
//! systems of recently used sizes. A cold start then only writes the function's limits into the
//! cgroup and sends the function's part ([`SetupSpec`]): the jailer builds the root and execs the
//! runtime. With an empty pool the same steps run on the spot.

use crate::cgroup::{Cgroup, NodeCgroup};
use crate::jail::SUBCOMMAND;
use crate::limits::{Limits, NOFILE};
use crate::prewarm::{DetachedTmp, Network, make_network, make_tmp};
use crate::probe::HostSupport;
use crate::proto::{self, Failure, FromJailer, ToJailer};
use crate::scratch::Scratch;
use crate::spec::{JoinSpec, PrepareSpec, SetupSpec, TmpSpec};
use crate::uids::{LOCK_DIR, UidBlock};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Longest any one step of building an environment may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// `/tmp` file systems kept ready per recently used size.
const TMPS_PER_SIZE: usize = 2;
/// Most `/tmp` sizes kept ready.
const TMP_SIZES: usize = 4;
/// Lambda's default `/tmp`, kept ready from the start.
pub const DEFAULT_TMP_MB: u32 = 512;
/// The largest MemorySize: the limit of a prepared jail until a function claims it.
const MAX_MEMORY_MB: u32 = 10_240;

/// How the factory is set up.
#[derive(Debug, Clone)]
pub struct FactoryConfig {
    /// The executable that runs the jailer (`/proc/self/exe` in the server).
    pub exe: PathBuf,
    /// A directory of the factory's own: the staging root and the `/tmp` templates.
    pub state_dir: PathBuf,
    pub support: HostSupport,
    /// Give environments egress through slirp4netns (when installed).
    pub egress: bool,
    /// With egress, let them reach the host's loopback services at 10.0.2.2.
    pub host_loopback: bool,
    /// Ports listened on inside each environment (the Runtime API first).
    pub ports: Vec<u16>,
    /// Most environments at once (sizes the uid range).
    pub max_environments: usize,
    /// Prepared jails kept ready.
    pub ready: usize,
    /// The name of this node's cgroup subtree.
    pub node: String,
    /// What the node's cgroup bounds the sum of its environments to.
    pub ceilings: crate::cgroup::NodeCeilings,
}

/// Why an environment could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The runtime's own `execve` failed (missing, not executable, bad format).
    #[error("exec: {0}")]
    Exec(#[source] io::Error),
    #[error("sandbox set-up failed at {0}")]
    Setup(Failure),
    #[error("sandbox set-up failed: {0}")]
    Io(#[from] io::Error),
}

/// A jailer that has done everything that does not depend on the function.
struct Jail {
    child: Child,
    control: OwnedFd,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    init_pid: i32,
    cgroup: Cgroup,
    uid: u32,
    network: Network,
}

/// A running environment, handed to the server.
#[derive(Debug)]
pub struct Environment {
    /// The jailer: it ends as the runtime ends (same exit code or signal).
    pub child: Child,
    /// Send [`kill`] here; closing it kills the environment too.
    pub control: OwnedFd,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
    /// The environment's init, as the host sees it.
    pub init_pid: i32,
    pub cgroup: Arc<Cgroup>,
    pub limits: Limits,
    /// Listening inside the environment, in the order of [`FactoryConfig::ports`].
    pub listeners: Vec<std::net::TcpListener>,
    /// How long the jailer took from the setup to the runtime's `execve`.
    pub setup: Duration,
    /// Give back with [`Factory::release`] once the environment has ended.
    pub leftovers: Leftovers,
}

/// What an environment holds until it has ended: its uid and its slirp4netns.
#[derive(Debug)]
pub struct Leftovers {
    uid: u32,
    _network: Network,
}

#[derive(Default)]
struct Ready {
    jails: Vec<Jail>,
    tmps: HashMap<u32, Vec<DetachedTmp>>,
    /// `/tmp` sizes asked for, most recent last.
    sizes: Vec<u32>,
    closed: bool,
}

struct Inner {
    cfg: FactoryConfig,
    node: NodeCgroup,
    scratch: Option<Scratch>,
    staging: PathBuf,
    /// The node's block: each live environment has a uid (and gid) of its own from it.
    block: UidBlock,
    uids: Mutex<BTreeSet<u32>>,
    ready: Mutex<Ready>,
    /// Signalled when something is taken from the pool, or on close.
    taken: Condvar,
    serial: AtomicU64,
}

/// Builds sandboxed environments.
pub struct Factory {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory")
            .field("state_dir", &self.inner.cfg.state_dir)
            .finish_non_exhaustive()
    }
}

/// Asks a jailer to kill its environment now (never blocks).
pub fn kill(control: &impl AsFd) {
    if let Ok(body) = serde_json::to_vec(&ToJailer::Kill) {
        let _ = rustix::net::send(
            control,
            &body,
            rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL,
        );
    }
}

/// Whether a node subtree (`node-<pid>`) belongs to a running process.
pub fn node_alive(name: &str) -> bool {
    name.strip_prefix("node-")
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|pid| pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists())
}

impl Factory {
    /// Reserves the node's block of uids, sets up the node's cgroup subtree (sweeping those of
    /// nodes that are gone), the staging root and the `/tmp` templates, and starts preparing
    /// jails in the background.
    pub fn new(cfg: FactoryConfig) -> io::Result<Factory> {
        let ctx = |what: &str, e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
        let block = UidBlock::reserve(Path::new(LOCK_DIR))
            .map_err(|e| ctx("cannot reserve a block of uids for the sandboxes", e))?;
        tracing::info!(
            first = block.first,
            lock = %block.lock_path().display(),
            "sandbox uids reserved"
        );
        NodeCgroup::sweep(&cfg.support.cgroups, node_alive);
        let node = NodeCgroup::create(&cfg.support.cgroups, &cfg.node, &cfg.ceilings)
            .map_err(|e| ctx("cannot create the node's cgroups", e))?;
        let staging = cfg.state_dir.join("root");
        std::fs::create_dir_all(&staging).map_err(|e| ctx("sandbox state directory", e))?;
        let scratch = match (&cfg.support.mkfs_ext4, cfg.support.loop_devices) {
            (Some(mkfs), true) => Some(
                Scratch::open(&cfg.state_dir.join("scratch"), mkfs.clone())
                    .map_err(|e| ctx("sandbox scratch directory", e))?,
            ),
            _ => None,
        };
        let inner = Arc::new(Inner {
            cfg,
            node,
            scratch,
            staging,
            block,
            uids: Mutex::new(BTreeSet::new()),
            ready: Mutex::new(Ready {
                sizes: vec![DEFAULT_TMP_MB],
                ..Ready::default()
            }),
            taken: Condvar::new(),
            serial: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("ignis-prewarm".into())
            .spawn(move || {
                while let Some(inner) = weak.upgrade() {
                    if !inner.fill_one() {
                        let ready = inner.lock();
                        if ready.closed {
                            return;
                        }
                        // Wake up when something is taken (or now and then, to let go of the
                        // factory when it is dropped).
                        let _ = inner
                            .taken
                            .wait_timeout(ready, Duration::from_secs(1))
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
            })?;
        Ok(Factory { inner })
    }

    /// The empty host directory roots are built on (for [`SetupSpec`]'s `root.staging`).
    pub fn staging(&self) -> &Path {
        &self.inner.staging
    }

    /// Whether environments get network egress.
    pub fn egress(&self) -> bool {
        self.inner.egress()
    }

    /// What the sandboxes are made of, for start-up messages and `ignis runtimes`.
    pub fn describe(&self) -> String {
        let egress = if self.egress() && self.inner.cfg.host_loopback {
            "egress through slirp4netns, the host's loopback reachable at 10.0.2.2"
        } else if self.egress() {
            "egress through slirp4netns (not to the host's loopback)"
        } else {
            "no network egress"
        };
        let ids = self.inner.block.environments();
        format!(
            "{}, {egress}, uids {}-{}",
            self.inner.cfg.support.describe(),
            ids.start,
            ids.end - 1
        )
    }

    /// Starts an environment for a function of `memory_mb` with a `/tmp` of `tmp_mb` running
    /// `setup` (whose `root.tmp` and `root.egress` the factory sets). Blocking.
    pub fn start(
        &self,
        memory_mb: u32,
        tmp_mb: u32,
        setup: SetupSpec,
    ) -> Result<Environment, StartError> {
        let inner = &self.inner;
        let pooled = inner.lock().jails.pop();
        inner.taken.notify_all();
        if let Some(jail) = pooled {
            match inner.run(jail, memory_mb, tmp_mb, setup.clone()) {
                // The function's own failure: trying again would fail the same way.
                Err(e @ StartError::Exec(_)) => return Err(e),
                Err(e) => tracing::warn!(error = %e, "a prepared jail failed; trying a fresh one"),
                Ok(env) => return Ok(env),
            }
        }
        let jail = inner.prepare_jail()?;
        inner.run(jail, memory_mb, tmp_mb, setup)
    }

    /// Once an environment has ended: removes its cgroup, frees its uid, stops its slirp4netns.
    /// Blocking.
    pub fn release(&self, leftovers: Leftovers, cgroup: &Cgroup) {
        cgroup.kill_all();
        if let Err(e) = cgroup.remove() {
            tracing::warn!(error = %e, "cannot remove an environment's cgroup");
        }
        self.inner.release_uid(leftovers.uid);
    }
}

impl Inner {
    /// Gives `jail` the function's limits and part, and waits for its runtime to start.
    fn run(
        &self,
        mut jail: Jail,
        memory_mb: u32,
        tmp_mb: u32,
        mut setup: SetupSpec,
    ) -> Result<Environment, StartError> {
        let inner = self;
        let limits = Limits::for_memory(memory_mb);
        if let Err(e) = jail.cgroup.set_limits(&limits) {
            inner.discard(jail);
            return Err(e.into());
        }
        let tmp = match inner.tmp(tmp_mb) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                inner.discard(jail);
                return Err(e.into());
            }
            None => None,
        };
        setup.root.tmp = match tmp {
            Some(_) => TmpSpec::Detached,
            None => TmpSpec::Tmpfs { size_mb: tmp_mb },
        };
        setup.root.egress = inner.egress();
        setup.root.memory_mb = memory_mb;
        let fds: Vec<_> = tmp.iter().map(|t| t.mount.as_fd()).collect();
        let sent = proto::send(
            jail.control.as_fd(),
            &ToJailer::Setup(Box::new(setup)),
            &fds,
        );
        drop(fds);
        drop(tmp);
        let answer = sent.and_then(|()| proto::expect::<FromJailer>(&jail.control, STEP_TIMEOUT));
        let setup_us = match answer {
            Ok((FromJailer::Started { setup_us }, _)) => setup_us,
            Ok((FromJailer::Failed(f), _)) => {
                inner.discard(jail);
                return Err(match (f.stage.as_str(), f.errno) {
                    ("exec", Some(errno)) => StartError::Exec(io::Error::from_raw_os_error(errno)),
                    _ => StartError::Setup(f),
                });
            }
            Ok((other, _)) => {
                inner.discard(jail);
                return Err(io::Error::other(format!("unexpected message {other:?}")).into());
            }
            Err(e) => {
                inner.discard(jail);
                return Err(e.into());
            }
        };
        let listeners = std::mem::take(&mut jail.network.listeners);
        Ok(Environment {
            stdout: jail.stdout.take(),
            stderr: jail.stderr.take(),
            init_pid: jail.init_pid,
            cgroup: Arc::new(jail.cgroup),
            limits,
            listeners,
            setup: Duration::from_micros(setup_us),
            leftovers: Leftovers {
                uid: jail.uid,
                _network: jail.network,
            },
            child: jail.child,
            control: jail.control,
        })
    }
}

impl Drop for Factory {
    fn drop(&mut self) {
        let (jails, tmps) = {
            let mut r = self.inner.lock();
            r.closed = true;
            (std::mem::take(&mut r.jails), std::mem::take(&mut r.tmps))
        };
        self.inner.taken.notify_all();
        drop(tmps);
        for j in jails {
            self.inner.discard(j);
        }
        let _ = self.inner.node.remove();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn egress(&self) -> bool {
        self.cfg.egress && self.cfg.support.slirp4netns.is_some()
    }

    fn alloc_uid(&self) -> io::Result<u32> {
        let mut used = self.uids.lock().unwrap_or_else(PoisonError::into_inner);
        // Room for every environment plus the prepared ones.
        let count = u32::try_from(self.cfg.max_environments.max(1) * 2 + self.cfg.ready)
            .unwrap_or(u32::MAX);
        let uid = self
            .block
            .environments()
            .take(usize::try_from(count).unwrap_or(usize::MAX))
            .find(|u| !used.contains(u))
            .ok_or_else(|| io::Error::other("no free sandbox uid"))?;
        used.insert(uid);
        Ok(uid)
    }

    fn release_uid(&self, uid: u32) {
        self.uids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&uid);
    }

    fn next_id(&self) -> String {
        let mut r = [0u8; 4];
        let _ = rustix::rand::getrandom(&mut r, rustix::rand::GetRandomFlags::empty());
        format!(
            "{:x}{}",
            self.serial.fetch_add(1, Ordering::Relaxed),
            r.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }

    /// Starts a jailer and has it do everything that does not depend on the function.
    fn prepare_jail(&self) -> io::Result<Jail> {
        let id = self.next_id();
        let uid = self.alloc_uid()?;
        let cgroup = match self
            .node
            .create_env(&id, &Limits::for_memory(MAX_MEMORY_MB))
        {
            Ok(c) => c,
            Err(e) => {
                self.release_uid(uid);
                return Err(e);
            }
        };
        let undo = |e: io::Error, cgroup: &Cgroup| {
            cgroup.kill_all();
            let _ = cgroup.remove();
            self.release_uid(uid);
            e
        };
        let network = make_network(
            &self.cfg.ports,
            self.egress()
                .then_some(self.cfg.support.slirp4netns.as_deref())
                .flatten(),
            self.cfg.host_loopback,
        )
        .map_err(|e| undo(e, &cgroup))?;
        let spawned = (|| -> io::Result<(Child, OwnedFd)> {
            let (control, jailer_end) = proto::pair()?;
            let mut cmd = Command::new(&self.cfg.exe);
            cmd.arg(SUBCOMMAND)
                .env_clear()
                .stdin(Stdio::from(jailer_end))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let child = cmd.spawn()?;
            Ok((child, control))
        })();
        let (mut child, control) = spawned.map_err(|e| undo(e, &cgroup))?;
        let spec = PrepareSpec {
            hostname: format!("ignis-{}", &id[..id.len().min(12)]),
            uid,
            gid: uid,
            init_id: self.block.init(),
            cgroup: JoinSpec {
                procs: cgroup.paths().procs_files(),
                freezer: Some(cgroup.paths().freezer()),
            },
            nofile: NOFILE,
            seccomp: true,
            step_timeout_ms: u64::try_from(STEP_TIMEOUT.as_millis()).unwrap_or(10_000),
        };
        let answer = proto::send(
            control.as_fd(),
            &ToJailer::Prepare(Box::new(spec)),
            &[network.ns.as_fd()],
        )
        .and_then(|()| proto::expect::<FromJailer>(&control, STEP_TIMEOUT));
        let init_pid = match answer {
            Ok((FromJailer::Prepared { pid1 }, _)) => pid1,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let message = match other {
                    Ok((FromJailer::Failed(f), _)) => f.to_string(),
                    Ok((m, _)) => format!("unexpected message {m:?}"),
                    Err(e) => e.to_string(),
                };
                return Err(undo(
                    io::Error::other(format!("preparing a jail: {message}")),
                    &cgroup,
                ));
            }
        };
        Ok(Jail {
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child,
            control,
            init_pid,
            cgroup,
            uid,
            network,
        })
    }

    /// Stops an unused or failed jail and gives back what it held.
    fn discard(&self, mut jail: Jail) {
        kill(&jail.control);
        jail.cgroup.kill_all();
        let _ = jail.child.kill();
        let _ = jail.child.wait();
        if let Err(e) = jail.cgroup.remove() {
            tracing::warn!(error = %e, "cannot remove a jail's cgroup");
        }
        self.release_uid(jail.uid);
    }

    /// A `/tmp` of `size_mb`: a ready one, or one made now (`None` when this host cannot make
    /// them: the jailer then mounts a tmpfs).
    fn tmp(&self, size_mb: u32) -> Option<io::Result<DetachedTmp>> {
        let scratch = self.scratch.as_ref()?;
        let ready = {
            let mut r = self.lock();
            r.sizes.retain(|s| *s != size_mb);
            r.sizes.push(size_mb);
            if r.sizes.len() > TMP_SIZES {
                let old = r.sizes.remove(0);
                r.tmps.remove(&old);
            }
            r.tmps.get_mut(&size_mb).and_then(Vec::pop)
        };
        self.taken.notify_all();
        Some(match ready {
            Some(t) => Ok(t),
            None => make_tmp(scratch, size_mb, &self.next_id()),
        })
    }

    /// Makes one missing part of the pool; `false` when nothing is missing.
    fn fill_one(&self) -> bool {
        let (need_jail, need_tmp) = {
            let r = self.lock();
            if r.closed {
                return false;
            }
            let need_tmp = self.scratch.as_ref().and(
                r.sizes
                    .iter()
                    .rev()
                    .find(|s| r.tmps.get(s).map_or(0, Vec::len) < TMPS_PER_SIZE)
                    .copied(),
            );
            (r.jails.len() < self.cfg.ready, need_tmp)
        };
        if need_jail {
            match self.prepare_jail() {
                Ok(j) => {
                    let mut r = self.lock();
                    if r.closed {
                        drop(r);
                        self.discard(j);
                    } else {
                        r.jails.push(j);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prepare a sandbox ahead of time");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            return true;
        }
        if let (Some(size), Some(scratch)) = (need_tmp, &self.scratch) {
            match make_tmp(scratch, size, &self.next_id()) {
                Ok(t) => {
                    let mut r = self.lock();
                    if r.sizes.contains(&size) && !r.closed {
                        r.tmps.entry(size).or_default().push(t);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, size, "cannot make a /tmp ahead of time");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_subtrees_are_recognised() {
        assert!(node_alive(&format!("node-{}", std::process::id())));
        assert!(!node_alive("node-999999999"));
        assert!(!node_alive("something-else"));
    }
}
