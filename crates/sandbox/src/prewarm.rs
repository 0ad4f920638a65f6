//! Parts of an environment that can be made ahead of time, off the cold-start path (see
//! [`crate::factory`]): network namespaces (with their listening sockets and slirp4netns already
//! up) and `/tmp` file systems (formatted, attached to a loop device and mounted, but attached
//! nowhere: a detached mount, passed to the jailer as a descriptor and attached at `/tmp` inside
//! the environment).

use crate::scratch::Scratch;
use crate::sys;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest wait for slirp4netns to configure its tap device.
const SLIRP_READY_TIMEOUT: Duration = Duration::from_secs(10);

/// A network namespace with loopback up, listening sockets on `127.0.0.1` inside, and
/// optionally slirp4netns attached (egress, and — only when asked — the host's loopback at
/// 10.0.2.2).
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
pub fn make_network(
    ports: &[u16],
    slirp4netns: Option<&Path>,
    host_loopback: bool,
) -> io::Result<Network> {
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
        Some(bin) => Some(start_slirp(bin, &ns, host_loopback)?),
        None => None,
    };
    Ok(Network {
        ns,
        listeners,
        slirp,
    })
}

/// Starts slirp4netns (in this process's network namespace, the host's) for namespace `ns` and
/// waits until it is ready. Without `host_loopback`, 10.0.2.2 does not lead to the host's
/// loopback (`--disable-host-loopback`): connections to it, and to 127.0.0.0/8 through the
/// gateway, are refused by slirp4netns itself.
fn start_slirp(bin: &Path, ns: &OwnedFd, host_loopback: bool) -> io::Result<Slirp> {
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (exit_r, exit_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let mut cmd = Command::new(bin);
    cmd.args([
        "--configure",
        "--mtu=65520",
        "--enable-sandbox",
        "--enable-seccomp",
    ])
    .args((!host_loopback).then_some("--disable-host-loopback"))
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
    let mount = crate::scratch::mount_image(&device, scratch.workdir())?;
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
