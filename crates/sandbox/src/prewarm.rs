//! Parts of an environment made ahead of time, off the cold-start path: network namespaces (with
//! their listening sockets and slirp4netns already up) and `/tmp` file systems (formatted,
//! attached to a loop device and mounted, but not attached anywhere: a detached mount, passed to
//! the jailer as a descriptor and attached at `/tmp` inside the environment).
//!
//! A background thread keeps a few of each ready; when the pool is empty the part is made on
//! the spot (the same code), so the pool only ever saves time.

use crate::scratch::Scratch;
use crate::sys;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Longest wait for slirp4netns to configure its tap device.
const SLIRP_READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Ready network namespaces kept.
const NETWORKS: usize = 2;
/// Ready `/tmp` file systems kept per size that has been used.
const TMPS_PER_SIZE: usize = 2;
/// Most sizes with ready `/tmp` file systems.
const TMP_SIZES: usize = 4;
/// Lambda's default `/tmp`, kept ready from the start.
pub const DEFAULT_TMP_MB: u32 = 512;

/// A network namespace with loopback up, listening sockets on `127.0.0.1` inside, and
/// optionally slirp4netns attached (egress, and the host's loopback at 10.0.2.2).
#[derive(Debug)]
pub struct Network {
    /// The namespace (an nsfs descriptor for `setns`).
    pub ns: OwnedFd,
    pub listeners: Vec<std::net::TcpListener>,
    pub slirp: Option<Slirp>,
}

/// A running slirp4netns; it exits when this is dropped.
#[derive(Debug)]
pub struct Slirp {
    child: Child,
    /// Its `--exit-fd`'s other end.
    _exit: OwnedFd,
}

impl Drop for Slirp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_ready(fd: &OwnedFd, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "slirp4netns was not ready in time",
            ));
        }
        let ts = rustix::time::Timespec::try_from(left).map_err(io::Error::other)?;
        let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        match rustix::event::poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let mut b = [0u8; 1];
    match rustix::io::read(fd, &mut b)? {
        1 => Ok(()),
        _ => Err(io::Error::other("slirp4netns exited before it was ready")),
    }
}

/// Makes a network namespace on a short-lived thread of its own (a new network namespace
/// belongs to the thread that unshares it; the thread ends with it, so the caller's never
/// changes).
pub fn make_network(ports: &[u16], slirp4netns: Option<&Path>) -> io::Result<Network> {
    let ports = ports.to_vec();
    let (ns, listeners) = std::thread::Builder::new()
        .name("ignis-netns".into())
        .spawn(
            move || -> io::Result<(OwnedFd, Vec<std::net::TcpListener>)> {
                sys::unshare_namespaces(sys::Namespaces {
                    net: true,
                    uts: false,
                    ipc: false,
                    mount: false,
                    pid: false,
                })?;
                sys::loopback_up()?;
                let listeners = ports
                    .iter()
                    .map(|&p| std::net::TcpListener::bind(("127.0.0.1", p)))
                    .collect::<io::Result<Vec<_>>>()?;
                let ns = OwnedFd::from(File::open("/proc/thread-self/ns/net")?);
                Ok((ns, listeners))
            },
        )?
        .join()
        .map_err(|_| io::Error::other("the namespace thread panicked"))??;
    let slirp = match slirp4netns {
        Some(bin) => Some(start_slirp(bin, &ns)?),
        None => None,
    };
    Ok(Network {
        ns,
        listeners,
        slirp,
    })
}

/// Starts slirp4netns (in this process's network namespace, the host's) for namespace `ns` and
/// waits until it is ready.
fn start_slirp(bin: &Path, ns: &OwnedFd) -> io::Result<Slirp> {
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (exit_r, exit_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let mut cmd = Command::new(bin);
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--enable-sandbox",
        "--enable-seccomp",
    ])
    .arg(format!("--ready-fd={}", ready_w.as_raw_fd()))
    .arg(format!("--exit-fd={}", exit_r.as_raw_fd()))
    .args(["--netns-type=path"])
    .arg(format!("/proc/self/fd/{}", ns.as_raw_fd()))
    .arg("tap0")
    .env_clear()
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    sys::inherit_fds(
        &mut cmd,
        vec![ready_w.as_raw_fd(), exit_r.as_raw_fd(), ns.as_raw_fd()],
    );
    // Its own session and process group: a signal to the server's group is not one to it.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn()?;
    drop(cmd);
    drop(ready_w);
    drop(exit_r);
    let slirp = Slirp {
        child,
        _exit: exit_w,
    };
    wait_ready(&ready_r, SLIRP_READY_TIMEOUT)?;
    Ok(slirp)
}

/// A `/tmp` file system, mounted but attached nowhere.
#[derive(Debug)]
pub struct DetachedTmp {
    /// The `fsmount` descriptor (`move_mount` attaches it).
    pub mount: OwnedFd,
    pub size_mb: u32,
}

/// Formats (from the template), attaches and mounts a `/tmp` of `size_mb`, detached.
pub fn make_tmp(scratch: &Scratch, size_mb: u32, name: &str) -> io::Result<DetachedTmp> {
    use rustix::mount::{
        FsMountFlags, FsOpenFlags, MountAttrFlags, fsconfig_create, fsconfig_set_flag,
        fsconfig_set_string, fsmount, fsopen,
    };
    let image_path = scratch.image(size_mb, name)?;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&image_path)
        .or_else(|_| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&image_path)
        });
    // The loop device (or the error) holds the file from here on.
    let _ = std::fs::remove_file(&image_path);
    let image = opened?;
    let (device, _handle) = sys::attach_loop(&image)?;
    drop(image);
    let fs = fsopen("ext4", FsOpenFlags::FSOPEN_CLOEXEC)?;
    fsconfig_set_string(&fs, "source", &device)?;
    fsconfig_set_flag(&fs, "noinit_itable")?;
    fsconfig_create(&fs)?;
    let mount = fsmount(
        &fs,
        FsMountFlags::FSMOUNT_CLOEXEC,
        MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOATIME,
    )?;
    // Lambda's /tmp: empty and writable by the function.
    let root = rustix::fs::openat(
        &mount,
        ".",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let _ = rustix::fs::unlinkat(&root, "lost+found", rustix::fs::AtFlags::REMOVEDIR);
    rustix::fs::fchmod(&root, rustix::fs::Mode::from_raw_mode(0o1777))?;
    Ok(DetachedTmp { mount, size_mb })
}

use std::os::unix::fs::OpenOptionsExt;

/// Attaches a detached `/tmp` at `target` (inside the environment's mount namespace).
pub fn attach_tmp(mount: &OwnedFd, target: &Path) -> io::Result<()> {
    rustix::mount::move_mount(
        mount.as_fd(),
        "",
        rustix::fs::CWD,
        target,
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!("attach /tmp: {}", io::Error::from(e)),
        )
    })
}

/// What the pool makes.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Ports to listen on inside each namespace (the Runtime API first).
    pub ports: Vec<u16>,
    pub slirp4netns: Option<PathBuf>,
    /// Whether `/tmp` file systems can be made (loop devices and mkfs.ext4 exist).
    pub tmp: bool,
}

#[derive(Default)]
struct Ready {
    networks: Vec<Network>,
    tmps: HashMap<u32, Vec<DetachedTmp>>,
    /// Sizes asked for, most recent last.
    sizes: Vec<u32>,
    closed: bool,
}

struct Shared {
    cfg: PoolConfig,
    scratch: Option<Arc<Scratch>>,
    ready: Mutex<Ready>,
    /// Signalled when something is taken (or on close).
    taken: Condvar,
}

/// Ready-made network namespaces and `/tmp` file systems, refilled in the background.
pub struct Pool {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("cfg", &self.shared.cfg)
            .finish_non_exhaustive()
    }
}

impl Pool {
    pub fn start(cfg: PoolConfig, scratch: Option<Arc<Scratch>>) -> Pool {
        let shared = Arc::new(Shared {
            cfg,
            scratch,
            ready: Mutex::new(Ready {
                sizes: vec![DEFAULT_TMP_MB],
                ..Ready::default()
            }),
            taken: Condvar::new(),
        });
        let weak = Arc::downgrade(&shared);
        let spawned = std::thread::Builder::new()
            .name("ignis-prewarm".into())
            .spawn(move || {
                let mut serial = 0u64;
                while let Some(s) = weak.upgrade() {
                    if !s.fill_one(&mut serial) {
                        // Nothing to do: wait until something is taken.
                        let ready = s.ready.lock().unwrap_or_else(PoisonError::into_inner);
                        if ready.closed {
                            return;
                        }
                        let _ = s
                            .taken
                            .wait_timeout(ready, Duration::from_secs(5))
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the sandbox pre-warming thread");
        }
        Pool { shared }
    }

    /// A network namespace: a ready one, or one made now.
    pub fn network(&self) -> io::Result<Network> {
        let ready = {
            let mut r = self.shared.lock();
            r.networks.pop()
        };
        self.shared.taken.notify_all();
        match ready {
            Some(n) => Ok(n),
            None => make_network(
                &self.shared.cfg.ports,
                self.shared.cfg.slirp4netns.as_deref(),
            ),
        }
    }

    /// A `/tmp` of `size_mb`: a ready one, or one made now (`None` when this host cannot make
    /// them).
    pub fn tmp(&self, size_mb: u32, name: &str) -> Option<io::Result<DetachedTmp>> {
        let scratch = self.shared.scratch.as_ref()?;
        let ready = {
            let mut r = self.shared.lock();
            r.sizes.retain(|s| *s != size_mb);
            r.sizes.push(size_mb);
            if r.sizes.len() > TMP_SIZES {
                let old = r.sizes.remove(0);
                r.tmps.remove(&old);
            }
            r.tmps.get_mut(&size_mb).and_then(Vec::pop)
        };
        self.shared.taken.notify_all();
        Some(match ready {
            Some(t) => Ok(t),
            None => make_tmp(scratch, size_mb, name),
        })
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let mut r = self.shared.lock();
        r.closed = true;
        r.networks.clear();
        r.tmps.clear();
        drop(r);
        self.shared.taken.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes one missing part; `false` when nothing is missing.
    fn fill_one(&self, serial: &mut u64) -> bool {
        let (need_net, need_tmp) = {
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
            (r.networks.len() < NETWORKS, need_tmp)
        };
        if need_net {
            match make_network(&self.cfg.ports, self.cfg.slirp4netns.as_deref()) {
                Ok(n) => self.lock().networks.push(n),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot pre-warm a network namespace");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            return true;
        }
        if let (Some(size), Some(scratch)) = (need_tmp, &self.scratch) {
            *serial += 1;
            match make_tmp(scratch, size, &format!("pool-{serial}")) {
                Ok(t) => {
                    let mut r = self.lock();
                    if r.sizes.contains(&size) {
                        r.tmps.entry(size).or_default().push(t);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, size, "cannot pre-warm a /tmp");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            return true;
        }
        false
    }
}
