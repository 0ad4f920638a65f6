//! The few system calls that have no safe wrapper in `rustix`, behind a narrow, safe interface.
//! This is the only module of Ignis that contains `unsafe` code.
//!
//! - [`fork`]: only ever called by the jailer, a freshly exec'd single-threaded process (checked
//!   with [`assert_single_threaded`] before each call), never by the server.
//! - [`unshare_namespaces`], [`unshare_cgroup`]: `unshare(2)` restricted to namespace flags
//!   (never `CLONE_FILES`, which is what makes `rustix`'s wrapper unsafe).
//! - [`inherit_fds`]: a `pre_exec` hook that lets chosen descriptors survive `execve`.
//! - [`execve`], [`reset_signals`]: the last steps of the runtime's process.
//! - [`attach_loop`], [`loopback_up`]: two `ioctl(2)` requests (loop devices, interface flags).

#![allow(
    unsafe_code,
    reason = "fork, unshare, execve, sigaction and two ioctls have no safe wrapper; each use is documented"
)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The result of [`fork`], seen from each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fork {
    /// In the parent: the child's pid (in the parent's pid namespace).
    Parent(i32),
    Child,
}

/// Fails unless the calling process has exactly one thread.
pub fn assert_single_threaded() -> io::Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    match threads {
        Some(1) => Ok(()),
        other => Err(io::Error::other(format!(
            "the jailer must be single-threaded to fork (threads: {other:?})"
        ))),
    }
}

/// `fork(2)`. The caller must be single-threaded: it checks with [`assert_single_threaded`].
pub fn fork() -> io::Result<Fork> {
    assert_single_threaded()?;
    // SAFETY: the process has exactly one thread (checked just above, and the jailer never starts
    // any), so the child is a complete copy: no lock can be held by a thread that does not exist
    // in the child, and the child may allocate and run arbitrary code.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Fork::Child),
        pid => Ok(Fork::Parent(pid)),
    }
}

/// Namespaces the jailer unshares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespaces {
    pub net: bool,
    pub uts: bool,
    pub ipc: bool,
    pub mount: bool,
    pub pid: bool,
}

/// `unshare(2)` of namespaces only.
pub fn unshare_namespaces(ns: Namespaces) -> io::Result<()> {
    use rustix::thread::UnshareFlags as F;
    let mut flags = F::empty();
    for (on, flag) in [
        (ns.net, F::NEWNET),
        (ns.uts, F::NEWUTS),
        (ns.ipc, F::NEWIPC),
        (ns.mount, F::NEWNS),
        (ns.pid, F::NEWPID),
    ] {
        if on {
            flags |= flag;
        }
    }
    // SAFETY: `unshare` is unsafe in rustix only because `CLONE_FILES` can make file descriptors
    // of other threads invalid; these flags only ever name namespaces (a new network namespace
    // affects the calling thread only; the mount and PID ones are only asked for by the
    // single-threaded jailer).
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(io::Error::from)
}

/// Moves the calling thread (or single-threaded process) into a mount namespace of its own
/// whose mounts propagate nowhere: nothing mounted there reaches the host's namespace.
pub fn private_mount_namespace() -> io::Result<()> {
    unshare_namespaces(Namespaces {
        net: false,
        uts: false,
        ipc: false,
        mount: true,
        pid: false,
    })?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::REC | rustix::mount::MountPropagationFlags::PRIVATE,
    )?;
    Ok(())
}

/// `unshare(CLONE_NEWCGROUP)`: the calling process's cgroups become the root of its view of
/// cgroups (`/proc/self/cgroup` shows `/`).
pub fn unshare_cgroup() -> io::Result<()> {
    // SAFETY: as in `unshare_namespaces`: the flag names a namespace, never `CLONE_FILES`.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }
        .map_err(io::Error::from)
}

/// `unshare(CLONE_NEWTIME)`: the calling process's children (never itself) will be in a new
/// time namespace, whose clock offsets `/proc/self/timens_offsets` sets until a process enters.
pub fn unshare_time() -> io::Result<()> {
    // SAFETY: as in `unshare_namespaces`: the flag names a namespace, never `CLONE_FILES`.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWTIME) }
        .map_err(io::Error::from)
}

fn cstring(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte"))
}

/// `execve(2)`: replaces the process image. Returns only on failure.
pub fn execve(program: &Path, args: &[String], env: &[(String, String)]) -> io::Error {
    let build = || -> io::Result<(CString, Vec<CString>, Vec<CString>)> {
        let prog = cstring(program.as_os_str().as_bytes())?;
        let mut argv = vec![prog.clone()];
        for a in args {
            argv.push(cstring(a.as_bytes())?);
        }
        let envp = env
            .iter()
            .map(|(k, v)| cstring(format!("{k}={v}").as_bytes()))
            .collect::<io::Result<Vec<_>>>()?;
        Ok((prog, argv, envp))
    };
    let (prog, argv, envp) = match build() {
        Ok(v) => v,
        Err(e) => return e,
    };
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    // SAFETY: `prog`, every element of `argv` and `envp` are NUL-terminated strings that outlive
    // the call, and both pointer arrays end with a null pointer, as execve(2) requires.
    unsafe { libc::execve(prog.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    io::Error::last_os_error()
}

/// Restores every signal's default disposition and unblocks all signals, so that the runtime
/// starts as a freshly started process would (Rust's runtime ignores `SIGPIPE`, and ignored
/// signals stay ignored across `execve`).
pub fn reset_signals() -> io::Result<()> {
    for sig in 1..libc::SIGRTMIN() {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: SIG_DFL is a valid disposition for every catchable signal; errors (for numbers
        // the kernel reserves) are ignored on purpose.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: `set` is a local, initialised by sigemptyset before use; a null old-set pointer is
    // allowed.
    let rc = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ends the process the way `status` ended another: with the same exit code, or killed by the
/// same signal.
pub fn exit_like(code: Option<i32>, signal: Option<i32>) -> ! {
    if let Some(sig) = signal {
        let _ = reset_signals();
        if let Some(s) = rustix::process::Signal::from_named_raw(sig) {
            let _ = rustix::process::kill_process(rustix::process::getpid(), s);
        }
        // Still here: a signal whose default is to be ignored.
        std::process::exit(128 + sig);
    }
    std::process::exit(code.unwrap_or(1))
}

// --- loop devices (linux/loop.h) --------------------------------------------------------------

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_FLAGS_DIRECT_IO: u32 = 16;
const LO_NAME_SIZE: usize = 64;
const LO_KEY_SIZE: usize = 32;

#[repr(C)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; LO_NAME_SIZE],
    lo_crypt_name: [u8; LO_NAME_SIZE],
    lo_encrypt_key: [u8; LO_KEY_SIZE],
    lo_init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// Attaches `backing` to a free loop device with `LO_FLAGS_AUTOCLEAR` (the device detaches
/// itself when its last user, the mount, goes away) and direct I/O (no second page cache).
/// Returns the device's path and an open handle (closing it before mounting detaches it).
pub fn attach_loop(backing: &File) -> io::Result<(PathBuf, File)> {
    let control = File::options()
        .read(true)
        .write(true)
        .open("/dev/loop-control")?;
    // Another jailer may take the same free device between GET_FREE and CONFIGURE: retry.
    for _ in 0..64 {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number or -1.
        let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE as _) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let dev = match File::options().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let config = LoopConfig {
            fd: u32::try_from(backing.as_raw_fd()).map_err(io::Error::other)?,
            block_size: 4096,
            info: LoopInfo64 {
                lo_device: 0,
                lo_inode: 0,
                lo_rdevice: 0,
                lo_offset: 0,
                lo_sizelimit: 0,
                lo_number: 0,
                lo_encrypt_type: 0,
                lo_encrypt_key_size: 0,
                lo_flags: LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO,
                lo_file_name: [0; LO_NAME_SIZE],
                lo_crypt_name: [0; LO_NAME_SIZE],
                lo_encrypt_key: [0; LO_KEY_SIZE],
                lo_init: [0; 2],
            },
            reserved: [0; 8],
        };
        // SAFETY: `config` is a fully initialised `struct loop_config` (repr(C), the kernel's
        // layout) that lives across the call; the kernel only reads it.
        let rc = unsafe { libc::ioctl(dev.as_raw_fd(), LOOP_CONFIGURE as _, &config) };
        if rc == 0 {
            return Ok((path, dev));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EBUSY) {
            return Err(e);
        }
    }
    Err(io::Error::other("no free loop device after 64 attempts"))
}

/// Lets `fds` (close-on-exec in this process) be inherited, under their numbers, by the program
/// `cmd` runs.
pub fn inherit_fds(cmd: &mut std::process::Command, fds: Vec<i32>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the forked child before `execve`; it only calls fcntl(2), which is
    // async-signal-safe, touches no lock and allocates nothing (the Vec was allocated before
    // the fork and is only read).
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Brings the loopback interface of the current network namespace up.
pub fn loopback_up() -> io::Result<()> {
    let sock = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::DGRAM,
        None,
    )?;
    // SAFETY: an all-zero `ifreq` is a valid value of this plain C struct.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    // SAFETY: `req` is an initialised `struct ifreq` naming "lo", valid for the whole call; the
    // kernel reads its name and flags.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS as _, &req) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An owned descriptor of a raw file descriptor number this process inherited (its standard
/// input, which is the jailer's control socket).
pub fn take_stdin() -> io::Result<OwnedFd> {
    // Duplicate rather than adopt fd 0, so that 0 can be pointed at /dev/null afterwards.
    let dup = rustix::io::fcntl_dupfd_cloexec(std::io::stdin(), 3)?;
    Ok(dup)
}

/// Marks every descriptor from `first` up as close-on-exec, so that nothing but the standard
/// streams reaches the runtime.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors; it closes
    // nothing, so no owned descriptor of this process becomes dangling.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
