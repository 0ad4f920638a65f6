//! The typed messages between the server and the jailer (and inside the jailer, between its
//! two processes), one JSON document per `SOCK_SEQPACKET` message, descriptors attached with
//! `SCM_RIGHTS`, every receive bounded by a deadline.

use crate::spec::{PrepareSpec, SetupSpec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// Largest message (a spec carries the function's environment, at most 4 KB of it user data).
const MAX_MESSAGE: usize = 256 * 1024;
/// Most descriptors in one message.
const MAX_FDS: usize = 8;

/// Server → jailer.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToJailer {
    /// Build everything that does not depend on the function (the network namespace to join is
    /// attached).
    Prepare(Box<PrepareSpec>),
    /// Build the function's root and start its runtime (a detached `/tmp` may be attached).
    Setup(Box<SetupSpec>),
    /// Kill the environment now.
    Kill,
}

/// Jailer → server.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromJailer {
    /// The environment's init exists, in its namespaces and cgroup, and waits for the setup.
    /// `pid1` is that init as the host sees it.
    Prepared {
        pid1: i32,
    },
    /// The runtime has been exec'd; `setup_us` is how long that took from the setup.
    Started {
        setup_us: u64,
    },
    Failed(Failure),
}

/// Inside the jailer: its outer process ↔ the environment's init.
#[derive(Debug, Serialize, Deserialize)]
pub enum Inner {
    /// init → outer: init has joined the cgroup and has its own mount namespace.
    Joined,
    /// outer → init: the function's part (a detached `/tmp` may be attached).
    Setup(Box<SetupSpec>),
    /// init → outer: the root is built and the runtime's `execve` succeeded.
    Execed,
    /// init → outer: the runtime ended.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    Failed(Failure),
}

/// A set-up step that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub stage: String,
    pub message: String,
    /// The OS error number, when the failure was one (the runtime's `execve` failing with
    /// `ENOENT`, `EACCES`, `ENOEXEC` is what the invoker reports as an invalid entry point).
    pub errno: Option<i32>,
}

impl Failure {
    pub fn io(stage: &str, e: &io::Error) -> Failure {
        Failure {
            stage: stage.into(),
            message: e.to_string(),
            errno: e.raw_os_error(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.stage, self.message)
    }
}

/// A connected `SOCK_SEQPACKET` pair, close-on-exec.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?)
}

/// Sends one message with `fds` attached.
pub fn send<T: Serialize>(sock: BorrowedFd<'_>, msg: &T, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(io::Error::other)?;
    if body.len() > MAX_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "message too large",
        ));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty()
        && (fds.len() > MAX_FDS || !control.push(rustix::net::SendAncillaryMessage::ScmRights(fds)))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors",
        ));
    }
    let sent = rustix::net::sendmsg(
        sock,
        &[IoSlice::new(&body)],
        &mut control,
        rustix::net::SendFlags::NOSIGNAL,
    )?;
    if sent != body.len() {
        return Err(io::Error::other("short send"));
    }
    Ok(())
}

/// Waits until `sock` is readable (or closed), at most until `deadline` (a deadline already
/// passed still checks once).
fn wait_readable(sock: BorrowedFd<'_>, deadline: Option<Instant>) -> io::Result<()> {
    loop {
        let timeout = match deadline {
            Some(d) => Some(
                rustix::time::Timespec::try_from(d.saturating_duration_since(Instant::now()))
                    .map_err(io::Error::other)?,
            ),
            None => None,
        };
        let mut fds = [rustix::event::PollFd::new(
            &sock,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(0) => {}
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
    }
}

/// Receives one message and its descriptors; `None` when the peer has closed its end.
pub fn recv<T: DeserializeOwned>(
    sock: BorrowedFd<'_>,
    timeout: Option<Duration>,
) -> io::Result<Option<(T, Vec<OwnedFd>)>> {
    wait_readable(sock, timeout.map(|t| Instant::now() + t))?;
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = rustix::net::RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match rustix::net::recvmsg(
            sock,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            rustix::net::RecvFlags::CMSG_CLOEXEC,
        ) {
            Ok(r) => break r,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds = Vec::new();
    for msg in control.drain() {
        if let rustix::net::RecvAncillaryMessage::ScmRights(received) = msg {
            fds.extend(received);
        }
    }
    if got.bytes == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..got.bytes])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((msg, fds)))
}

/// [`recv`] where the peer closing is an error too.
pub fn expect<T: DeserializeOwned>(
    sock: &impl AsFd,
    timeout: Duration,
) -> io::Result<(T, Vec<OwnedFd>)> {
    recv(sock.as_fd(), Some(timeout))?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the peer went away"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn messages_and_descriptors_cross_a_pair() {
        let (a, b) = pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        send(
            a.as_fd(),
            &FromJailer::Prepared { pid1: 7 },
            &[listener.as_fd()],
        )
        .unwrap();
        let (msg, fds): (FromJailer, _) = expect(&b, Duration::from_secs(1)).unwrap();
        assert!(matches!(msg, FromJailer::Prepared { pid1: 7 }));
        assert_eq!(fds.len(), 1);
        let received = std::net::TcpListener::from(fds.into_iter().next().unwrap());
        assert_eq!(
            received.local_addr().unwrap(),
            listener.local_addr().unwrap()
        );

        let f = Failure {
            stage: "exec".into(),
            message: "No such file or directory".into(),
            errno: Some(2),
        };
        send(b.as_fd(), &Inner::Failed(f.clone()), &[]).unwrap();
        let (msg, fds): (Inner, _) = expect(&a, Duration::from_secs(1)).unwrap();
        assert!(matches!(msg, Inner::Failed(g) if g == f));
        assert!(fds.is_empty());

        // A silent peer times out (even at once); a waiting message is read with no wait.
        let err = expect::<Inner>(&a, Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let err = expect::<Inner>(&a, Duration::ZERO).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        send(b.as_fd(), &Inner::Joined, &[]).unwrap();
        assert!(matches!(
            expect::<Inner>(&a, Duration::ZERO).unwrap().0,
            Inner::Joined
        ));
        drop(b);
        assert!(recv::<Inner>(a.as_fd(), None).unwrap().is_none());
    }
}
