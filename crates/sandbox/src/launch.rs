//! The server's side of starting a jailer: the command, and the set-up conversation.

use crate::jail::SUBCOMMAND;
use crate::proto::{self, Failure, FromJailer, ToJailer};
use crate::spec::JailSpec;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the server gets from a jailer that has started its runtime.
#[derive(Debug)]
pub struct Jailed {
    /// Listening sockets inside the environment, in the order of `NetSpec::listen_ports`.
    pub listeners: Vec<std::net::TcpListener>,
    /// The environment's init (pid 1 of its namespace), as the host sees it.
    pub init_pid: i32,
    /// How long the jailer took from reading the spec to the runtime's `execve`.
    pub setup: Duration,
}

/// Why an environment could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LaunchFailure {
    /// The runtime's own `execve` failed (missing, not executable, bad format).
    #[error("exec {program}: {source}")]
    Exec {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("sandbox set-up failed at {0}")]
    Setup(Failure),
    #[error("talking to the jailer: {0}")]
    Io(#[from] io::Error),
}

/// A connected pair: the server's end and the jailer's (its standard input).
pub fn control_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    proto::pair()
}

/// `<exe> __jail`, with `jailer_end` as standard input and nothing else inherited (the caller
/// sets standard output and error: they become the runtime's).
pub fn jailer_command(exe: &Path, jailer_end: OwnedFd) -> Command {
    let mut cmd = Command::new(exe);
    cmd.arg(SUBCOMMAND)
        .env_clear()
        .stdin(Stdio::from(jailer_end));
    cmd
}

/// Sends the spec (with `fds`: the namespace to join and the detached `/tmp`, as the spec
/// says) and waits, at most `timeout`, for the runtime to be started.
pub fn handshake(
    control: &OwnedFd,
    spec: &JailSpec,
    fds: &[BorrowedFd<'_>],
    timeout: Duration,
) -> Result<Jailed, LaunchFailure> {
    let deadline = Instant::now() + timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    proto::send(
        control.as_fd(),
        &ToJailer::Setup(Box::new(spec.clone())),
        fds,
    )?;
    let mut listeners = Vec::new();
    loop {
        let (msg, fds) = proto::expect::<FromJailer>(control, left())?;
        match msg {
            FromJailer::Listening => {
                if fds.len() != spec.net.listen_ports.len() {
                    return Err(LaunchFailure::Io(io::Error::other(format!(
                        "expected {} listening sockets, got {}",
                        spec.net.listen_ports.len(),
                        fds.len()
                    ))));
                }
                listeners = fds.into_iter().map(std::net::TcpListener::from).collect();
            }
            FromJailer::Started { pid1, setup_us } => {
                return Ok(Jailed {
                    listeners,
                    init_pid: pid1,
                    setup: Duration::from_micros(setup_us),
                });
            }
            FromJailer::Failed(f) if f.stage == "exec" && f.errno.is_some() => {
                return Err(LaunchFailure::Exec {
                    program: spec.program.display().to_string(),
                    source: io::Error::from_raw_os_error(f.errno.unwrap_or_default()),
                });
            }
            FromJailer::Failed(f) => return Err(LaunchFailure::Setup(f)),
        }
    }
}

/// Asks the jailer to kill its environment now (never blocks).
pub fn kill(control: &OwnedFd) {
    if let Ok(body) = serde_json::to_vec(&ToJailer::Kill) {
        let _ = rustix::net::send(
            control,
            &body,
            rustix::net::SendFlags::DONTWAIT | rustix::net::SendFlags::NOSIGNAL,
        );
    }
}
