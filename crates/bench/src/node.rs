//! A temporary Ignis node for one bench run: `ignis up` on `127.0.0.1:0` with a fresh data
//! directory and generated credentials, stopped with SIGTERM at the end.

use crate::client::Credentials;
use rand::Rng;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Longest the node may take to announce itself.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the node may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// The region the temporary node serves.
pub const REGION: &str = "us-east-1";

/// Why the temporary node could not be started.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("preparing the temporary data directory: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("starting `{} up`: {source}", exe.display())]
    Spawn {
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the node exited before it was listening; the end of its log:\n{log}")]
    Exited { log: String },
    #[error(
        "the node did not print `ignis listening on …` within {START_TIMEOUT:?}; the end of its log:\n{log}"
    )]
    NoAnnouncement { log: String },
}

/// A running temporary node; stop it with [`TempNode::stop`] (dropping it kills it).
#[derive(Debug)]
pub struct TempNode {
    child: tokio::process::Child,
    endpoint: String,
    /// What the node printed as its `isolation: …` line, if it did.
    isolation: Option<String>,
    credentials: Credentials,
    log: PathBuf,
    /// Holds the data directory and the log; removed when the node is gone.
    dir: tempfile::TempDir,
}

impl TempNode {
    /// Starts `exe up` and waits for its `ignis listening on http://…` line on stdout. Its
    /// stderr goes to a log file in the temporary directory (`IGNIS_LOG=warn` unless set).
    pub async fn start(exe: &Path) -> Result<TempNode, NodeError> {
        Self::start_with(exe, &[]).await
    }

    /// [`TempNode::start`] with more arguments for `ignis up` (e.g. `--isolation process`).
    pub async fn start_with(exe: &Path, extra_args: &[&str]) -> Result<TempNode, NodeError> {
        Self::start_in(exe, None, extra_args).await
    }

    /// [`TempNode::start_with`] with the temporary directory under `parent` (default: the
    /// system's temporary directory).
    pub async fn start_in(
        exe: &Path,
        parent: Option<&Path>,
        extra_args: &[&str],
    ) -> Result<TempNode, NodeError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("ignis-bench-");
        let dir = match parent {
            Some(parent) => builder.tempdir_in(parent),
            None => builder.tempdir(),
        }
        .map_err(NodeError::TempDir)?;
        let log = dir.path().join("node.log");
        let log_file = std::fs::File::create(&log).map_err(NodeError::TempDir)?;
        let credentials = generate_credentials();
        let mut command = tokio::process::Command::new(exe);
        command
            .arg("up")
            .args(["--listen", "127.0.0.1:0", "--region", REGION, "--data-dir"])
            .arg(dir.path().join("data"))
            .args(extra_args)
            .env("IGNIS_ACCESS_KEY_ID", &credentials.access_key_id)
            .env("IGNIS_SECRET_ACCESS_KEY", &credentials.secret_access_key)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true);
        if std::env::var_os("IGNIS_LOG").is_none() {
            command.env("IGNIS_LOG", "warn");
        }
        let mut child = command.spawn().map_err(|source| NodeError::Spawn {
            exe: exe.to_path_buf(),
            source,
        })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut isolation = None;
        let announced = tokio::time::timeout(START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(endpoint) = parse_announcement(&line) {
                    return Some(endpoint);
                }
                if let Some(mode) = line.strip_prefix("isolation: ") {
                    isolation = Some(mode.trim().to_owned());
                }
            }
            None
        })
        .await;
        let endpoint = match announced {
            Ok(Some(endpoint)) => endpoint,
            Ok(None) => {
                let _ = child.wait().await;
                return Err(NodeError::Exited {
                    log: tail(&log, 30),
                });
            }
            Err(_) => {
                let _ = child.kill().await;
                return Err(NodeError::NoAnnouncement {
                    log: tail(&log, 30),
                });
            }
        };
        // Keep reading stdout so the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(TempNode {
            child,
            endpoint,
            isolation,
            credentials,
            log,
            dir,
        })
    }

    /// The node's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// How the node runs environments, from its `isolation: …` start-up line.
    pub fn isolation(&self) -> Option<&str> {
        self.isolation.as_deref()
    }

    /// `http://127.0.0.1:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The generated root credentials (region [`REGION`]).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The last `n` lines of the node's log (its stderr).
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log, n)
    }

    /// Sends SIGTERM and waits for the node to exit (killing it after a grace period).
    pub async fn stop(mut self) -> std::io::Result<ExitStatus> {
        let pid = self
            .child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(i32::try_from(id).ok()?));
        if let Some(pid) = pid {
            rustix::process::kill_process(pid, rustix::process::Signal::TERM)?;
        }
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                self.child.kill().await?;
                self.child.wait().await
            }
        }
    }
}

/// The URL in the node's `ignis listening on http://ADDR (data dir …)` line.
pub fn parse_announcement(line: &str) -> Option<String> {
    let url = line
        .strip_prefix("ignis listening on ")?
        .split_whitespace()
        .next()?;
    url.starts_with("http://").then(|| url.to_owned())
}

/// Fresh root credentials shaped like AWS's (`AKIA` + 16, a 40-character secret).
pub fn generate_credentials() -> Credentials {
    let mut rng = rand::rng();
    let mut pick = |alphabet: &[u8], n: usize| -> String {
        (0..n)
            .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
            .collect()
    };
    Credentials {
        access_key_id: format!("AKIA{}", pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
        secret_access_key: pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            40,
        ),
        region: REGION.to_owned(),
    }
}

/// The last `n` lines of a file (empty when unreadable).
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_line() {
        assert_eq!(
            parse_announcement("ignis listening on http://127.0.0.1:40123 (data dir /tmp/x)"),
            Some("http://127.0.0.1:40123".into())
        );
        assert_eq!(
            parse_announcement("ignis listening on http://[::1]:9"),
            Some("http://[::1]:9".into())
        );
        assert_eq!(parse_announcement("something else"), None);
        assert_eq!(parse_announcement("ignis listening on ftp://x"), None);
    }

    #[test]
    fn credentials_look_like_aws() {
        let a = generate_credentials();
        let b = generate_credentials();
        assert!(a.access_key_id.starts_with("AKIA") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert!(
            a.secret_access_key
                .bytes()
                .all(|c| c.is_ascii_alphanumeric())
        );
        assert_ne!(a.secret_access_key, b.secret_access_key);
    }

    #[test]
    fn tail_of_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log");
        std::fs::write(&p, "1\n2\n3\n4\n").unwrap();
        assert_eq!(tail(&p, 2), "3\n4");
        assert_eq!(tail(&p, 10), "1\n2\n3\n4");
        assert_eq!(tail(&dir.path().join("missing"), 3), "");
    }
}
