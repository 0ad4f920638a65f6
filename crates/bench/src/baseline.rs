//! The baselines Ignis is measured against in the same run: a minimal in-process HTTP/1.1 echo
//! server (for warm latency and throughput) and bare process starts (for cold starts).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `PATH` a bare process start gets (Lambda's, as the invoker's clean environment has).
const BARE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A hyper HTTP/1.1 server on `127.0.0.1:0` answering every request with 200 and the request's
/// body; it stops when dropped.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl EchoServer {
    /// Binds and starts serving on the current tokio runtime.
    pub async fn start() -> std::io::Result<EchoServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service =
                        service_fn(|request: Request<hyper::body::Incoming>| async move {
                            let body = match request.into_body().collect().await {
                                Ok(collected) => collected.to_bytes(),
                                Err(_) => Bytes::new(),
                            };
                            Ok::<_, Infallible>(Response::new(Full::new(body)))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(EchoServer { addr, task })
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A process start to time: the program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BareStart {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl BareStart {
    /// How the command reads, e.g. `python3.11 -c pass` (the program's file name only).
    pub fn display(&self) -> String {
        let name = self
            .program
            .file_name()
            .map_or_else(|| self.program.to_string_lossy(), |n| n.to_string_lossy());
        std::iter::once(name.into_owned())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Starts the process with a clean environment and waits for it to exit; the time from
    /// spawn to exit. A non-zero exit is an error.
    pub fn time(&self) -> std::io::Result<Duration> {
        let started = Instant::now();
        let status = Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .env("PATH", BARE_PATH)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let elapsed = started.elapsed();
        if !status.success() {
            return Err(std::io::Error::other(format!(
                "`{}` exited with {status}",
                self.display()
            )));
        }
        Ok(elapsed)
    }
}

/// Runs `program args` and returns its stdout when it exits 0.
fn probe(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The runtime (`python3.<minor>`) of the Python a mode measuring a Python function runs on:
/// `python3.11`, else `python3`, on `PATH`.
pub(crate) fn python_runtime(mode: &str) -> anyhow::Result<String> {
    match probe_python("python3.11").or_else(|| probe_python("python3")) {
        Some((minor, _)) => Ok(format!("python3.{minor}")),
        None => anyhow::bail!("{mode} needs python3.11 or python3 on PATH"),
    }
}

/// `(minor, real executable)` of the Python 3 that `name` on `PATH` runs (a version-manager
/// shim is resolved to the interpreter behind it, as the invoker does).
pub fn probe_python(name: &str) -> Option<(u32, PathBuf)> {
    let out = probe(
        Path::new(name),
        &[
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1]); print(sys.executable)",
        ],
    )?;
    let mut lines = out.lines();
    let mut version = lines.next()?.split_whitespace();
    let major: u32 = version.next()?.parse().ok()?;
    let minor: u32 = version.next()?.parse().ok()?;
    let exe = real_exe(lines.next()?)?;
    (major == 3).then_some((minor, exe))
}

/// `(major, real executable)` of the `node` on `PATH`.
pub fn probe_node() -> Option<(u32, PathBuf)> {
    let out = probe(
        Path::new("node"),
        &[
            "-e",
            "console.log(process.versions.node.split('.')[0]); console.log(process.execPath)",
        ],
    )?;
    let mut lines = out.lines();
    let major = lines.next()?.trim().parse().ok()?;
    Some((major, real_exe(lines.next()?)?))
}

fn real_exe(line: &str) -> Option<PathBuf> {
    let exe = PathBuf::from(line.trim());
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    exe.is_absolute().then_some(exe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn echo_server_answers_with_the_body() {
        let server = EchoServer::start().await.unwrap();
        let client = crate::client::http_client(2);
        for payload in ["{\"n\":1}", "", "second on the same connection"] {
            let request = hyper::Request::post(format!("{}/anything?x=1", server.endpoint()))
                .body(Full::new(Bytes::from(payload)))
                .unwrap();
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, payload.as_bytes());
        }
        let endpoint = server.endpoint();
        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let fresh = crate::client::http_client(1);
        let request = hyper::Request::get(endpoint).body(Full::default()).unwrap();
        assert!(
            fresh.request(request).await.is_err(),
            "stopped when dropped"
        );
    }

    #[test]
    fn bare_start_times_a_process() {
        let ok = BareStart {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "exit 0".into()],
        };
        assert_eq!(ok.display(), "sh -c exit 0");
        assert!(ok.time().unwrap() > Duration::ZERO);
        let fails = BareStart {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "exit 3".into()],
        };
        assert!(fails.time().is_err());
        let missing = BareStart {
            program: "/nonexistent/ignis-bench-test".into(),
            args: vec![],
        };
        assert!(missing.time().is_err());
    }

    #[test]
    fn probes_find_real_interpreters_when_present() {
        // Interpreters are optional on a host; when one is found, its path is a real file.
        if let Some((minor, exe)) = probe_python("python3") {
            assert!(minor >= 6);
            assert!(exe.is_file(), "{}", exe.display());
        }
        if let Some((major, exe)) = probe_node() {
            assert!(major >= 10);
            assert!(exe.is_file(), "{}", exe.display());
        }
        assert_eq!(probe_python("ignis-bench-no-such-python"), None);
    }
}
