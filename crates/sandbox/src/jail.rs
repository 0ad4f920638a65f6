//! The jailer: `ignis __jail`, a fresh single-threaded process the server starts for each
//! environment (the server itself never forks). Its standard input is the control socket; its
//! standard output and error become the runtime's.
//!
//! It works in two phases, so that everything that does not depend on the function is done
//! ahead of time, off the cold-start path:
//!
//! ```text
//! server ──spawn──▶ jailer (host pid ns, host mounts)
//!   Prepare ──────▶ │ join the network namespace made ahead of time (loopback, listeners and
//!   (+ netns fd)    │ slirp4netns already there); unshare uts and ipc; host name; unshare pid
//!                   └─fork─▶ init (pid 1 of the new pid ns)
//!                            │ join the cgroup (a v1 migration costs an RCU grace period:
//!                            │ better here than on a cold start); unshare cgroup, mount
//!   ◀── Prepared            │ … waits
//!   Setup ────────▶ jailer ─▶ │ unshare time (clocks from 0 for its children); build the root
//!   (+ /tmp fd)              │ (binds, the detached /tmp, proc, dev); pivot_root
//!                            └─fork─▶ runtime: rlimits, setgroups/setresgid/setresuid to the
//!                                     environment's user, no capabilities, no_new_privs,
//!                                     seccomp, execve
//!   ◀── Started              init: drop to init_id, reap; report the runtime's exit, then exit
//!   (Kill, or the control socket closing: init is killed)
//! jailer: ends as the runtime ended (same exit code or signal), so the server's wait sees it.
//! ```
//!
//! When init exits, the kernel kills everything left in the environment's pid namespace.

use crate::mounts;
use crate::proto::{self, Failure, FromJailer, Inner, ToJailer};
use crate::seccomp;
use crate::spec::{PrepareSpec, SetupSpec, TmpSpec};
use crate::sys::{self, Fork, Namespaces};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// The hidden subcommand of the `ignis` binary that runs [`main`].
pub const SUBCOMMAND: &str = "__jail";
/// Its argument for [`probe`].
pub const PROBE_ARG: &str = "--probe";

/// Longest wait for the first message after start.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(10);

type Step<T> = Result<T, Failure>;

fn io_step<T>(stage: &str, r: io::Result<T>) -> Step<T> {
    r.map_err(|e| Failure::io(stage, &e))
}

fn errno_step<T>(stage: &str, r: rustix::io::Result<T>) -> Step<T> {
    r.map_err(|e| Failure::io(stage, &io::Error::from(e)))
}

fn fail<T>(stage: &str, message: impl Into<String>) -> Step<T> {
    Err(Failure {
        stage: stage.into(),
        message: message.into(),
        errno: None,
    })
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
    let (spec, netns) = match proto::expect::<ToJailer>(&control, PREPARE_TIMEOUT) {
        Ok((ToJailer::Prepare(spec), fds)) => (*spec, fds.into_iter().next()),
        Ok((ToJailer::Kill, _)) => std::process::exit(0),
        Ok((ToJailer::Setup(_), _)) => {
            eprintln!("ignis jailer: setup before prepare");
            std::process::exit(121);
        }
        Err(e) => {
            eprintln!("ignis jailer: no spec: {e}");
            std::process::exit(121);
        }
    };
    let Some(netns) = netns else {
        eprintln!("ignis jailer: no network namespace came with the spec");
        std::process::exit(121);
    };
    match prepare(&control, &spec, netns) {
        Ok(Prepared::Init(sock)) => {
            drop(control);
            init_main(sock, &spec)
        }
        Ok(Prepared::Jailer(env)) => run(control, env, &spec),
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

/// Where [`prepare`] returns: in the jailer, or (once) in the forked init.
enum Prepared {
    Jailer(Env),
    Init(OwnedFd),
}

/// A prepared environment, as the jailer holds it.
struct Env {
    init: rustix::process::Pid,
    inner: OwnedFd,
}

/// Phase one: namespaces, host name, init, cgroup.
fn prepare(control: &OwnedFd, spec: &PrepareSpec, netns: OwnedFd) -> Step<Prepared> {
    let step = Duration::from_millis(spec.step_timeout_ms);
    errno_step(
        "join the network namespace",
        rustix::thread::move_into_link_name_space(
            netns.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        ),
    )?;
    drop(netns);
    io_step(
        "unshare uts, ipc, pid",
        sys::unshare_namespaces(Namespaces {
            net: false,
            uts: true,
            ipc: true,
            mount: false,
            pid: true,
        }),
    )?;
    errno_step(
        "set the host name",
        rustix::system::sethostname(spec.hostname.as_bytes()),
    )?;
    let (inner, init_end) = io_step("socketpair", proto::pair())?;
    let init = match io_step("fork init", sys::fork())? {
        Fork::Child => {
            drop(inner);
            return Ok(Prepared::Init(init_end));
        }
        Fork::Parent(pid) => {
            rustix::process::Pid::from_raw(pid).expect("fork returns a positive pid")
        }
    };
    drop(init_end);
    let env = Env { init, inner };
    match proto::expect::<Inner>(&env.inner, step) {
        Ok((Inner::Joined, _)) => {}
        Ok((Inner::Failed(f), _)) => return Err(abort(f, &env)),
        Ok((other, _)) => return Err(abort(unexpected("prepare", &other), &env)),
        Err(e) => return Err(abort(Failure::io("prepare", &e), &env)),
    }
    proto::send(
        control.as_fd(),
        &FromJailer::Prepared {
            pid1: init.as_raw_nonzero().get(),
        },
        &[],
    )
    .map_err(|e| abort(Failure::io("report", &e), &env))?;
    Ok(Prepared::Jailer(env))
}

fn abort(f: Failure, env: &Env) -> Failure {
    let _ = rustix::process::kill_process(env.init, rustix::process::Signal::KILL);
    let _ = rustix::process::waitpid(Some(env.init), rustix::process::WaitOptions::empty());
    f
}

fn unexpected(stage: &str, msg: &Inner) -> Failure {
    Failure {
        stage: stage.into(),
        message: format!("unexpected message {msg:?}"),
        errno: None,
    }
}

/// Phase two and after: waits (as long as it takes) for the setup, passes it to init, reports
/// the start, then supervises until init ends.
fn run(control: OwnedFd, env: Env, spec: &PrepareSpec) -> ! {
    let step = Duration::from_millis(spec.step_timeout_ms);
    let kill = |env: &Env| {
        let _ = rustix::process::kill_process(env.init, rustix::process::Signal::KILL);
        let _ = rustix::process::waitpid(Some(env.init), rustix::process::WaitOptions::empty());
    };
    let (setup, fds) = match proto::recv::<ToJailer>(control.as_fd(), None) {
        Ok(Some((ToJailer::Setup(setup), fds))) => (setup, fds),
        // Killed, or unused when the server went away.
        _ => {
            kill(&env);
            std::process::exit(0);
        }
    };
    let started = Instant::now();
    let tmp: Vec<_> = fds.iter().map(|f| f.as_fd()).collect();
    let sent = proto::send(env.inner.as_fd(), &Inner::Setup(setup), &tmp);
    drop(tmp);
    drop(fds);
    let result = match sent {
        Err(e) => Err(Failure::io("setup", &e)),
        Ok(()) => match proto::expect::<Inner>(&env.inner, step) {
            Ok((Inner::Execed, _)) => Ok(()),
            Ok((Inner::Failed(f), _)) => Err(f),
            Ok((other, _)) => Err(unexpected("setup", &other)),
            Err(e) => Err(Failure::io("setup", &e)),
        },
    };
    let report = match result {
        Ok(()) => FromJailer::Started {
            setup_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        },
        Err(f) => {
            kill(&env);
            let _ = proto::send(control.as_fd(), &FromJailer::Failed(f), &[]);
            std::process::exit(122);
        }
    };
    if proto::send(control.as_fd(), &report, &[]).is_err() {
        kill(&env);
        std::process::exit(122);
    }
    supervise(control, env, spec)
}

/// Waits for init to end (or for the server to want it killed), then ends as the runtime did.
fn supervise(control: OwnedFd, env: Env, spec: &PrepareSpec) -> ! {
    let Env { init, inner } = env;
    let pidfd = rustix::process::pidfd_open(init, rustix::process::PidfdFlags::empty()).ok();
    let kill_init = || {
        let _ = rustix::process::kill_process(init, rustix::process::Signal::KILL);
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
                    Ok(Some(_)) => {}
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
        match rustix::process::waitpid(Some(init), rustix::process::WaitOptions::NOHANG) {
            Ok(Some((_, status))) => break (status.exit_status(), status.terminating_signal()),
            Ok(None) => {}
            Err(_) => break (Some(0), None),
        }
    };
    let (code, signal) = runtime_exit.unwrap_or(init_status);
    sys::exit_like(code, signal)
}

// --- init (pid 1 of the environment) ------------------------------------------------------------

fn init_main(sock: OwnedFd, spec: &PrepareSpec) -> ! {
    // Die with the jailer, whatever happens to it.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    if let Err(f) = init_join(spec) {
        let _ = proto::send(sock.as_fd(), &Inner::Failed(f), &[]);
        std::process::exit(1);
    }
    let _ = proto::send(sock.as_fd(), &Inner::Joined, &[]);
    // Pre-built environments wait here, for as long as they stay in the pool.
    let (setup, tmp) = match proto::recv::<Inner>(sock.as_fd(), None) {
        Ok(Some((Inner::Setup(setup), fds))) => (setup, fds.into_iter().next()),
        _ => std::process::exit(1),
    };
    let runtime = match init_setup(spec, &setup, tmp).and_then(|()| start_runtime(spec, &setup)) {
        Ok(pid) => pid,
        Err(f) => {
            let _ = proto::send(sock.as_fd(), &Inner::Failed(f), &[]);
            std::process::exit(1);
        }
    };
    let _ = proto::send(sock.as_fd(), &Inner::Execed, &[]);
    drop_to(spec.init_id);
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

/// Joins the cgroup and takes cgroup and mount namespaces of its own.
fn init_join(spec: &PrepareSpec) -> Step<()> {
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
    // Its cgroups are the root of its view: /proc/self/cgroup names neither the node nor the
    // environment.
    io_step("unshare cgroup", sys::unshare_cgroup())?;
    io_step(
        "unshare mount",
        sys::unshare_namespaces(Namespaces {
            net: false,
            uts: false,
            ipc: false,
            mount: true,
            pid: false,
        }),
    )
}

/// Builds the function's root and makes it the root; gives the runtime clocks of its own.
fn init_setup(spec: &PrepareSpec, setup: &SetupSpec, tmp: Option<OwnedFd>) -> Step<()> {
    if matches!(setup.root.tmp, TmpSpec::Detached) && tmp.is_none() {
        return fail(
            "build the root",
            "a detached /tmp came without its descriptor",
        );
    }
    // Now, at the environment's start (not when it was prepared, which may be long before), as
    // the `/proc/stat` view's `btime` is.
    let _ = own_clocks();
    let plan = mounts::plan(
        &setup.root,
        &hostname(),
        spec.uid,
        spec.gid,
        &mounts::inspect_host,
    );
    io_step(
        "build the root",
        mounts::build_root(&setup.root.staging, &plan, &mut |target| match &tmp {
            Some(mount) => crate::prewarm::attach_tmp(mount, target),
            None => mounts::mount_scratch(&setup.root.tmp, target),
        }),
    )
}

/// Puts init's children (the runtime and all it starts; init itself stays) in a time namespace
/// whose `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` start at 0 now: `/proc/uptime`, `sysinfo(2)`'s
/// uptime and processes' start times are the environment's, live. Nothing depends on these
/// clocks being the host's: the server's timeouts and freezing run on the host, and the Runtime
/// API's deadline is wall-clock (epoch milliseconds), which time namespaces leave alone. Where the
/// kernel refuses (no `CONFIG_TIME_NS`, or not allowed), the runtime keeps the host's clocks:
/// `false`.
fn own_clocks() -> bool {
    use rustix::time::{ClockId, clock_gettime};
    if sys::unshare_time().is_err() {
        return false;
    }
    let at = |c| {
        let t = clock_gettime(c);
        (t.tv_sec, t.tv_nsec)
    };
    let offsets = crate::procview::timens_offsets(at(ClockId::Monotonic), at(ClockId::Boottime));
    // Refused, the namespace's offsets stay 0: its clocks are the host's.
    std::fs::write("/proc/self/timens_offsets", offsets).is_ok()
}

fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Forks the runtime and waits until its `execve` has succeeded (a close-on-exec pipe closes)
/// or failed (the child writes the failure into it).
fn start_runtime(spec: &PrepareSpec, setup: &SetupSpec) -> Step<i32> {
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
            let failure = runtime_main(spec, setup, filters.as_deref());
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
fn runtime_main(
    spec: &PrepareSpec,
    setup: &SetupSpec,
    filters: Option<&[seccompiler::BpfProgram]>,
) -> Failure {
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
        io_step("chdir", std::env::set_current_dir(&setup.cwd))?;
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
    let e = sys::execve(&setup.program, &setup.args, &setup.env);
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
fn drop_to(id: u32) {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let _ = drop_privileges(id, id);
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
                    sys::unshare_cgroup()?;
                    sys::private_mount_namespace()?;
                    use rustix::mount::{MountFlags, mount};
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
                        "cannot mount a private root and proc in new cgroup and mount namespaces",
                    ));
                }
            }
        }
        // Only the probe's children would enter it (it has none left).
        if sys::unshare_time().is_err() {
            notes.push("no-timens".to_string());
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
