//! The jailer: `ignis __jail`, a fresh single-threaded process the server starts for each
//! environment (the server itself never forks). Its standard input is the control socket; its
//! standard output and error become the runtime's.
//!
//! ```text
//! server ──spawn──▶ jailer (host pid ns, host mounts)
//!                   │ read the spec; unshare net, uts, ipc; hostname; lo up;
//!                   │ bind 127.0.0.1:9001 (+ forwards) and send them to the server;
//!                   │ start slirp4netns (egress) back in the host's network namespace;
//!                   │ unshare pid
//!                   └─fork─▶ init (pid 1 of the new pid ns)
//!                            │ join the cgroup; unshare mount; build the root; pivot_root
//!                            │ wait for "go" (the network is up)
//!                            └─fork─▶ runtime: rlimits, setgroups/setresgid/setresuid to the
//!                                     environment's user, no capabilities, no_new_privs,
//!                                     seccomp, execve
//!                            init: drop to nobody, reap; report the runtime's exit, then exit
//!                   jailer: report "started"; wait for init, or a kill from the server (or the
//!                   server's end closing); end as the runtime ended (same code or signal).
//! ```
//!
//! When init exits, the kernel kills everything left in the environment's pid namespace.

use crate::mounts;
use crate::proto::{self, Failure, FromJailer, Inner, ToJailer};
use crate::seccomp;
use crate::spec::JailSpec;
use crate::sys::{self, Fork, Namespaces};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// The hidden subcommand of the `ignis` binary that runs [`main`].
pub const SUBCOMMAND: &str = "__jail";
/// Its argument for [`probe`].
pub const PROBE_ARG: &str = "--probe";

/// Longest wait for the spec after start.
const SPEC_TIMEOUT: Duration = Duration::from_secs(10);

/// The uid and gid init runs as once the runtime is started.
const NOBODY: u32 = 65534;

type Step<T> = Result<T, Failure>;

fn io_step<T>(stage: &str, r: io::Result<T>) -> Step<T> {
    r.map_err(|e| Failure::io(stage, &e))
}

fn errno_step<T>(stage: &str, r: rustix::io::Result<T>) -> Step<T> {
    r.map_err(|e| Failure::io(stage, &io::Error::from(e)))
}

/// Entry point of `ignis __jail`: never returns.
pub fn main() -> ! {
    let control = match start() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ignis jailer: {e}");
            std::process::exit(121);
        }
    };
    let (spec, fds) = match proto::expect::<ToJailer>(&control, SPEC_TIMEOUT) {
        Ok((ToJailer::Setup(spec), fds)) => (*spec, fds),
        Ok((ToJailer::Kill, _)) => std::process::exit(0),
        Err(e) => {
            eprintln!("ignis jailer: no spec: {e}");
            std::process::exit(121);
        }
    };
    let started = Instant::now();
    let given = Given::from(&spec, fds);
    let (control, result) = outer(control, &spec, given, started);
    match result {
        Ok(env) => supervise(control, env, &spec),
        Err(failure) => {
            let _ = proto::send(control.as_fd(), &FromJailer::Failed(failure), &[]);
            std::process::exit(122);
        }
    }
}

/// Takes the control socket off standard input and puts /dev/null there.
fn start() -> io::Result<OwnedFd> {
    sys::assert_single_threaded()?;
    let control = sys::take_stdin()?;
    let null = File::open("/dev/null")?;
    rustix::stdio::dup2_stdin(&null)?;
    Ok(control)
}

/// A running environment, as the jailer's outer process holds it.
struct Running {
    init: i32,
    inner: OwnedFd,
    slirp: Option<Slirp>,
}

struct Slirp {
    pid: i32,
    ready: OwnedFd,
    /// slirp4netns exits when this (its `--exit-fd`'s other end) closes.
    _exit: OwnedFd,
}

/// Builds the environment; returns the control socket back with the result (in the forked init,
/// it never returns).
fn outer(
    control: OwnedFd,
    spec: &JailSpec,
    given: Given,
    started: Instant,
) -> (OwnedFd, Step<Running>) {
    let Given { netns, tmp } = given;
    match build(&control, spec, netns, started) {
        Built::Parent(r) => (control, r),
        Built::Init(init_end) => {
            drop(control);
            init_main(init_end, spec, tmp)
        }
    }
}

/// Descriptors that came with the spec.
struct Given {
    /// A network namespace to join.
    netns: Option<OwnedFd>,
    /// A detached `/tmp` to attach.
    tmp: Option<OwnedFd>,
}

impl Given {
    fn from(spec: &JailSpec, fds: Vec<OwnedFd>) -> Given {
        let mut fds = fds.into_iter();
        let netns = if spec.net.join { fds.next() } else { None };
        let tmp = if matches!(spec.root.tmp, crate::spec::TmpSpec::Detached) {
            fds.next()
        } else {
            None
        };
        Given { netns, tmp }
    }
}

/// Where [`build`] returns: in the jailer, or (once) in the forked init.
enum Built {
    Parent(Step<Running>),
    Init(OwnedFd),
}

fn build(control: &OwnedFd, spec: &JailSpec, netns: Option<OwnedFd>, started: Instant) -> Built {
    match build_steps(control, spec, netns, started) {
        Ok(b) => b,
        Err(f) => Built::Parent(Err(f)),
    }
}

fn build_steps(
    control: &OwnedFd,
    spec: &JailSpec,
    netns: Option<OwnedFd>,
    started: Instant,
) -> Step<Built> {
    let step = Duration::from_millis(spec.step_timeout_ms);
    let slirp = match netns {
        // Made ahead of time, listeners and slirp4netns included.
        Some(ns) => {
            errno_step(
                "join the network namespace",
                rustix::thread::move_into_link_name_space(
                    ns.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                ),
            )?;
            io_step(
                "unshare uts, ipc",
                sys::unshare_namespaces(Namespaces {
                    net: false,
                    uts: true,
                    ipc: true,
                    mount: false,
                    pid: false,
                }),
            )?;
            None
        }
        None => new_network(control, spec)?,
    };
    errno_step(
        "set the host name",
        rustix::system::sethostname(spec.hostname.as_bytes()),
    )?;
    let fail = |f: Failure, slirp: &Option<Slirp>| {
        if let Some(s) = slirp {
            stop_child(s.pid);
        }
        f
    };

    io_step(
        "unshare pid",
        sys::unshare_namespaces(Namespaces {
            net: false,
            uts: false,
            ipc: false,
            mount: false,
            pid: true,
        }),
    )
    .map_err(|f| fail(f, &slirp))?;
    let (inner, init_end) = io_step("socketpair", proto::pair()).map_err(|f| fail(f, &slirp))?;
    let init = match io_step("fork init", sys::fork()).map_err(|f| fail(f, &slirp))? {
        Fork::Child => {
            drop(inner);
            drop(slirp);
            return Ok(Built::Init(init_end));
        }
        Fork::Parent(pid) => pid,
    };
    drop(init_end);
    let running = Running { init, inner, slirp };
    let abort = |f: Failure, r: &Running| {
        stop_child(r.init);
        if let Some(s) = &r.slirp {
            stop_child(s.pid);
        }
        f
    };

    match proto::expect::<Inner>(&running.inner, step) {
        Ok((Inner::Ready, _)) => {}
        Ok((Inner::Failed(f), _)) => return Err(abort(f, &running)),
        Ok((other, _)) => return Err(abort(unexpected("build the root", &other), &running)),
        Err(e) => return Err(abort(Failure::io("build the root", &e), &running)),
    }
    if let Some(s) = &running.slirp {
        wait_ready(&s.ready, step).map_err(|e| abort(Failure::io("slirp4netns", &e), &running))?;
    }
    proto::send(running.inner.as_fd(), &Inner::Go, &[])
        .map_err(|e| abort(Failure::io("start the runtime", &e), &running))?;
    match proto::expect::<Inner>(&running.inner, step) {
        Ok((Inner::Execed, _)) => {}
        Ok((Inner::Failed(f), _)) => return Err(abort(f, &running)),
        Ok((other, _)) => return Err(abort(unexpected("start the runtime", &other), &running)),
        Err(e) => return Err(abort(Failure::io("start the runtime", &e), &running)),
    }
    let setup_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    proto::send(
        control.as_fd(),
        &FromJailer::Started {
            pid1: running.init,
            setup_us,
        },
        &[],
    )
    .map_err(|e| abort(Failure::io("report", &e), &running))?;
    Ok(Built::Parent(Ok(running)))
}

/// Unshares a new network namespace (with uts and ipc), brings loopback up, hands the listeners
/// over and starts slirp4netns.
fn new_network(control: &OwnedFd, spec: &JailSpec) -> Step<Option<Slirp>> {
    let host_net = io_step(
        "open the host network namespace",
        File::open("/proc/self/ns/net"),
    )?;
    io_step(
        "unshare net, uts, ipc",
        sys::unshare_namespaces(Namespaces {
            net: true,
            uts: true,
            ipc: true,
            mount: false,
            pid: false,
        }),
    )?;
    io_step("bring lo up", sys::loopback_up())?;
    let listeners = spec
        .net
        .listen_ports
        .iter()
        .map(|&port| {
            io_step(
                &format!("listen on 127.0.0.1:{port}"),
                std::net::TcpListener::bind(("127.0.0.1", port)),
            )
        })
        .collect::<Step<Vec<_>>>()?;
    let fds: Vec<_> = listeners.iter().map(|l| l.as_fd()).collect();
    io_step(
        "hand the listeners over",
        proto::send(control.as_fd(), &FromJailer::Listening, &fds),
    )?;
    drop(listeners);
    match &spec.net.slirp4netns {
        Some(bin) => Ok(Some(io_step(
            "start slirp4netns",
            spawn_slirp(bin, &host_net),
        )?)),
        None => Ok(None),
    }
}

fn unexpected(stage: &str, msg: &Inner) -> Failure {
    Failure {
        stage: stage.into(),
        message: format!("unexpected message {msg:?}"),
        errno: None,
    }
}

/// SIGKILLs a child of this process and reaps it.
fn stop_child(pid: i32) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
    }
}

/// Waits for slirp4netns to say (on its `--ready-fd`) that the tap device is configured.
fn wait_ready(fd: &OwnedFd, timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "not ready in time"));
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
        _ => Err(io::Error::other("exited before it was ready")),
    }
}

/// Starts slirp4netns for this process's (new) network namespace, from the host's one.
fn spawn_slirp(bin: &Path, host_net: &File) -> io::Result<Slirp> {
    let (ready_r, ready_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let (exit_r, exit_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let target = format!(
        "/proc/{}/ns/net",
        rustix::process::getpid().as_raw_nonzero()
    );
    match sys::fork()? {
        Fork::Child => {
            let r = (|| -> io::Result<()> {
                rustix::thread::move_into_link_name_space(
                    host_net.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )?;
                rustix::io::fcntl_setfd(&ready_w, rustix::io::FdFlags::empty())?;
                rustix::io::fcntl_setfd(&exit_r, rustix::io::FdFlags::empty())?;
                let null = File::options().read(true).write(true).open("/dev/null")?;
                rustix::stdio::dup2_stdout(&null)?;
                rustix::stdio::dup2_stderr(&null)?;
                // Not tied to the environment's session: a signal to it is not one to slirp.
                let _ = rustix::process::setsid();
                sys::reset_signals()?;
                Ok(())
            })();
            if r.is_ok() {
                use std::os::fd::AsRawFd;
                let args = [
                    "--configure".to_string(),
                    "--mtu=65520".into(),
                    "--enable-sandbox".into(),
                    "--enable-seccomp".into(),
                    format!("--ready-fd={}", ready_w.as_raw_fd()),
                    format!("--exit-fd={}", exit_r.as_raw_fd()),
                    "--netns-type=path".into(),
                    target,
                    "tap0".into(),
                ];
                let _ = sys::execve(bin, &args, &[]);
            }
            std::process::exit(127)
        }
        Fork::Parent(pid) => Ok(Slirp {
            pid,
            ready: ready_r,
            _exit: exit_w,
        }),
    }
}

/// Waits for init to end (or for the server to want it killed), then ends as the runtime did.
fn supervise(control: OwnedFd, running: Running, spec: &JailSpec) -> ! {
    let Running { init, inner, slirp } = running;
    let init_pid = rustix::process::Pid::from_raw(init).expect("fork returned a positive pid");
    let pidfd = rustix::process::pidfd_open(init_pid, rustix::process::PidfdFlags::empty()).ok();
    let kill_init = || {
        let _ = rustix::process::kill_process(init_pid, rustix::process::Signal::KILL);
        // A frozen (cgroup v1) task only dies once thawed.
        if let Some(f) = &spec.cgroup.freezer {
            let _ = std::fs::write(&f.path, &f.thawed);
        }
    };
    let mut control = Some(control);
    let mut inner = Some(inner);
    let mut runtime_exit: Option<(Option<i32>, Option<i32>)> = None;
    let init_status = loop {
        let mut fds = Vec::new();
        if let Some(c) = &control {
            fds.push(rustix::event::PollFd::new(c, rustix::event::PollFlags::IN));
        }
        if let Some(i) = &inner {
            fds.push(rustix::event::PollFd::new(i, rustix::event::PollFlags::IN));
        }
        if let Some(p) = &pidfd {
            fds.push(rustix::event::PollFd::new(p, rustix::event::PollFlags::IN));
        }
        // Without a pidfd (old kernels), poll with a timeout and try to reap.
        let ts = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        let timeout = pidfd.is_none().then_some(&ts);
        match rustix::event::poll(&mut fds, timeout) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let mut i = 0;
        if control.is_some() {
            if ready[i] {
                let c = control.as_ref().expect("checked");
                match proto::recv::<ToJailer>(c.as_fd(), Some(Duration::ZERO)) {
                    Ok(Some((ToJailer::Kill, _))) => kill_init(),
                    Ok(Some((ToJailer::Setup(_), _))) => {}
                    // The server has gone (or closed its end): the environment goes too.
                    Ok(None) | Err(_) => {
                        kill_init();
                        control = None;
                    }
                }
            }
            i += 1;
        }
        if let Some(s) = &inner
            && ready[i]
        {
            match proto::recv::<Inner>(s.as_fd(), Some(Duration::ZERO)) {
                Ok(Some((Inner::Exited { code, signal }, _))) => {
                    runtime_exit = Some((code, signal));
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => inner = None,
            }
        }
        match rustix::process::waitpid(Some(init_pid), rustix::process::WaitOptions::NOHANG) {
            Ok(Some((_, status))) => break (status.exit_status(), status.terminating_signal()),
            Ok(None) => {}
            Err(_) => break (Some(0), None),
        }
    };
    if let Some(s) = slirp {
        stop_child(s.pid);
    }
    let (code, signal) = runtime_exit.unwrap_or(init_status);
    sys::exit_like(code, signal)
}

// --- init (pid 1 of the environment) ------------------------------------------------------------

fn init_main(sock: OwnedFd, spec: &JailSpec, tmp: Option<OwnedFd>) -> ! {
    // Die with the jailer, whatever happens to it.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let step = Duration::from_millis(spec.step_timeout_ms);
    if let Err(f) = init_setup(spec, tmp) {
        let _ = proto::send(sock.as_fd(), &Inner::Failed(f), &[]);
        std::process::exit(1);
    }
    let _ = proto::send(sock.as_fd(), &Inner::Ready, &[]);
    match proto::expect::<Inner>(&sock, step) {
        Ok((Inner::Go, _)) => {}
        _ => std::process::exit(1),
    }
    let runtime = match start_runtime(spec) {
        Ok(pid) => pid,
        Err(f) => {
            let _ = proto::send(sock.as_fd(), &Inner::Failed(f), &[]);
            std::process::exit(1);
        }
    };
    let _ = proto::send(sock.as_fd(), &Inner::Execed, &[]);
    drop_to_nobody();
    // The runtime has the output pipes; init keeps none of them open.
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
    loop {
        match rustix::process::wait(rustix::process::WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid.as_raw_nonzero().get() == runtime => {
                let _ = proto::send(
                    sock.as_fd(),
                    &Inner::Exited {
                        code: status.exit_status(),
                        signal: status.terminating_signal(),
                    },
                    &[],
                );
                std::process::exit(0);
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => std::process::exit(0),
        }
    }
}

fn init_setup(spec: &JailSpec, tmp: Option<OwnedFd>) -> Step<()> {
    for procs in &spec.cgroup.procs {
        io_step(
            &format!("join the cgroup ({})", procs.display()),
            std::fs::write(procs, "0"),
        )?;
    }
    // The environment's OOM victim is the runtime, never its init (lowering needs
    // CAP_SYS_RESOURCE, which some hosts withhold even from root: then init, a few hundred KB,
    // is simply never the largest process).
    let _ = std::fs::write("/proc/self/oom_score_adj", "-1000");
    io_step(
        "unshare mount",
        sys::unshare_namespaces(Namespaces {
            net: false,
            uts: false,
            ipc: false,
            mount: true,
            pid: false,
        }),
    )?;
    let plan = mounts::plan(
        &spec.root,
        &spec.hostname,
        spec.uid,
        spec.gid,
        &mounts::inspect_host,
    );
    io_step(
        "build the root",
        mounts::build_root(&spec.root.staging, &plan, &mut |target| match &tmp {
            Some(mount) => crate::prewarm::attach_tmp(mount, target),
            None => mounts::mount_scratch(&spec.root.tmp, target),
        }),
    )
}

/// Forks the runtime and waits until its `execve` has succeeded (a close-on-exec pipe closes)
/// or failed (the child writes the failure into it).
fn start_runtime(spec: &JailSpec) -> Step<i32> {
    let filters = if spec.seccomp {
        Some(seccomp::function_filters().map_err(|e| Failure {
            stage: "seccomp".into(),
            message: e.to_string(),
            errno: None,
        })?)
    } else {
        None
    };
    let (r, w) = errno_step(
        "pipe",
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC),
    )?;
    match io_step("fork the runtime", sys::fork())? {
        Fork::Child => {
            drop(r);
            let failure = runtime_main(spec, filters.as_deref());
            let body = serde_json::to_vec(&failure).unwrap_or_default();
            let _ = rustix::io::write(&w, &body);
            std::process::exit(127)
        }
        Fork::Parent(pid) => {
            drop(w);
            let mut body = Vec::new();
            let _ = File::from(r).read_to_end(&mut body);
            if body.is_empty() {
                Ok(pid)
            } else {
                let _ = rustix::process::waitpid(
                    rustix::process::Pid::from_raw(pid),
                    rustix::process::WaitOptions::empty(),
                );
                Err(serde_json::from_slice(&body).unwrap_or_else(|_| Failure {
                    stage: "exec".into(),
                    message: "the runtime failed to start".into(),
                    errno: None,
                }))
            }
        }
    }
}

/// The runtime's process up to `execve`; returns only the failure.
fn runtime_main(spec: &JailSpec, filters: Option<&[seccompiler::BpfProgram]>) -> Failure {
    let r = (|| -> Step<()> {
        use rustix::process::{Resource, Rlimit, setrlimit};
        errno_step("setsid", rustix::process::setsid())?;
        let nofile = Rlimit {
            current: Some(spec.nofile),
            maximum: Some(spec.nofile),
        };
        errno_step("RLIMIT_NOFILE", setrlimit(Resource::Nofile, nofile))?;
        let no_core = Rlimit {
            current: Some(0),
            maximum: Some(0),
        };
        errno_step("RLIMIT_CORE", setrlimit(Resource::Core, no_core))?;
        let _ = std::fs::write("/proc/self/oom_score_adj", "0");
        drop_privileges(spec.uid, spec.gid)?;
        io_step("chdir", std::env::set_current_dir(&spec.cwd))?;
        io_step("signals", sys::reset_signals())?;
        io_step("close-on-exec", sys::cloexec_from(3))?;
        if let Some(filters) = filters {
            seccomp::apply(filters).map_err(|e| Failure {
                stage: "seccomp".into(),
                message: e.to_string(),
                errno: None,
            })?;
        }
        Ok(())
    })();
    if let Err(f) = r {
        return f;
    }
    let e = sys::execve(&spec.program, &spec.args, &spec.env);
    Failure::io("exec", &e)
}

/// Becomes `uid`/`gid` with no supplementary groups, no capabilities in any set (bounding and
/// ambient included) and `no_new_privs`.
fn drop_privileges(uid: u32, gid: u32) -> Step<()> {
    use rustix::thread::{CapabilitySet, CapabilitySets};
    let last_cap: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in 0..=last_cap.min(63) {
        errno_step(
            "drop the bounding set",
            rustix::thread::remove_capability_from_bounding_set(CapabilitySet::from_bits_retain(
                1 << cap,
            )),
        )?;
    }
    let gid_ = rustix::process::Gid::from_raw(gid);
    let uid_ = rustix::process::Uid::from_raw(uid);
    errno_step("setgroups", rustix::thread::set_thread_groups(&[gid_]))?;
    errno_step(
        "setresgid",
        rustix::thread::set_thread_res_gid(gid_, gid_, gid_),
    )?;
    errno_step(
        "setresuid",
        rustix::thread::set_thread_res_uid(uid_, uid_, uid_),
    )?;
    errno_step(
        "clear capabilities",
        rustix::thread::set_capabilities(
            None,
            CapabilitySets {
                effective: CapabilitySet::empty(),
                permitted: CapabilitySet::empty(),
                inheritable: CapabilitySet::empty(),
            },
        ),
    )?;
    errno_step(
        "clear ambient capabilities",
        rustix::thread::clear_ambient_capability_set(),
    )?;
    errno_step("no_new_privs", rustix::thread::set_no_new_privs(true))?;
    let caps = errno_step("read capabilities", rustix::thread::capabilities(None))?;
    if !caps.effective.is_empty() || !caps.permitted.is_empty() {
        return Err(Failure {
            stage: "drop privileges".into(),
            message: "capabilities remain".into(),
            errno: None,
        });
    }
    Ok(())
}

/// init keeps nothing it does not need once the runtime runs.
fn drop_to_nobody() {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let _ = drop_privileges(NOBODY, NOBODY);
}

// --- probe --------------------------------------------------------------------------------------

/// `ignis __jail --probe`: whether this host can build sandboxes (namespaces, mounts, a fresh
/// proc, loop devices). Prints one line per finding and exits 0 when everything works.
pub fn probe() -> ! {
    let result = (|| -> io::Result<Vec<String>> {
        let mut notes = Vec::new();
        if !rustix::process::geteuid().is_root() {
            return Err(io::Error::other("not running as root"));
        }
        sys::assert_single_threaded()?;
        sys::unshare_namespaces(Namespaces {
            net: true,
            uts: true,
            ipc: true,
            mount: false,
            pid: true,
        })
        .map_err(|e| io::Error::other(format!("unshare: {e}")))?;
        sys::loopback_up().map_err(|e| io::Error::other(format!("loopback: {e}")))?;
        match sys::fork()? {
            Fork::Child => {
                let r = (|| -> io::Result<()> {
                    sys::unshare_namespaces(Namespaces {
                        net: false,
                        uts: false,
                        ipc: false,
                        mount: true,
                        pid: false,
                    })?;
                    use rustix::mount::{MountFlags, MountPropagationFlags, mount, mount_change};
                    mount_change(
                        "/",
                        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
                    )?;
                    let dir = std::env::temp_dir();
                    mount(
                        "ignis-probe",
                        &dir,
                        "tmpfs",
                        MountFlags::empty(),
                        c"size=64k",
                    )?;
                    let p = dir.join("proc");
                    std::fs::create_dir(&p)?;
                    mount("proc", &p, "proc", MountFlags::empty(), None)?;
                    Ok(())
                })();
                std::process::exit(if r.is_ok() { 0 } else { 1 })
            }
            Fork::Parent(pid) => {
                let status = rustix::process::waitpid(
                    rustix::process::Pid::from_raw(pid),
                    rustix::process::WaitOptions::empty(),
                )?;
                if status.and_then(|(_, s)| s.exit_status()) != Some(0) {
                    return Err(io::Error::other(
                        "cannot mount a private root and proc in new namespaces",
                    ));
                }
            }
        }
        if File::options()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .is_err()
        {
            notes.push("no-loop".to_string());
        }
        seccomp::function_filters().map_err(io::Error::other)?;
        Ok(notes)
    })();
    match result {
        Ok(notes) => {
            println!("ok");
            for n in notes {
                println!("{n}");
            }
            std::process::exit(0)
        }
        Err(e) => {
            println!("{e}");
            std::process::exit(1)
        }
    }
}
