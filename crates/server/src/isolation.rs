//! Which launcher runs the node's execution environments: sandboxes when the host allows them,
//! plain processes otherwise — loudly.

use ignis_invoker::{Forward, Launcher, ProcessLauncher, SandboxConfig, SandboxLauncher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `--isolation` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Sandboxes when this host can build them (root, namespaces, cgroups), else plain processes
    /// with a warning.
    #[default]
    Auto,
    /// Sandboxes, or refuse to start.
    Sandbox,
    /// Plain processes: no isolation at all.
    Process,
}

impl std::str::FromStr for Isolation {
    type Err = String;
    fn from_str(s: &str) -> Result<Isolation, String> {
        match s {
            "auto" => Ok(Isolation::Auto),
            "sandbox" => Ok(Isolation::Sandbox),
            "process" => Ok(Isolation::Process),
            other => Err(format!(
                "unknown isolation {other:?} (expected auto, sandbox or process)"
            )),
        }
    }
}

/// The executable that runs the jailer: this very program, whatever happens to its file.
fn self_exe() -> PathBuf {
    PathBuf::from("/proc/self/exe")
}

/// What was chosen.
pub(crate) struct Chosen {
    pub launcher: Arc<dyn Launcher>,
    /// One line for the start-up log and `ignis runtimes`.
    pub description: String,
    /// Environments are sandboxes (not plain processes).
    pub sandboxed: bool,
}

/// The warning printed whenever environments are plain processes.
pub fn not_isolated_warning(reason: &str) -> String {
    format!(
        "WARNING: functions are NOT isolated ({reason}). Every function runs as this node's user, \
         can read and write this host's files (the data directory included), see and signal its \
         processes and those of other functions, and use its network; memory, CPU and /tmp \
         limits are not enforced. Use --isolation sandbox, as root, for isolation."
    )
}

/// What sandboxed functions may reach.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Network {
    /// The network, through slirp4netns.
    pub egress: bool,
    /// The host's loopback services at 10.0.2.2 as well.
    pub host_access: bool,
}

/// Picks and builds the launcher (blocking: probes the host, creates cgroups).
pub(crate) fn choose(
    mode: Isolation,
    state_dir: &Path,
    network: Network,
    forward: Forward,
    max_environments: usize,
    ceilings: ignis_sandbox::NodeCeilings,
) -> Result<Chosen, String> {
    let egress = network.egress;
    let plain = |reason: &str| {
        let warning = not_isolated_warning(reason);
        eprintln!("{warning}");
        tracing::warn!("{warning}");
        Chosen {
            launcher: Arc::new(ProcessLauncher::new()),
            description: format!("process ({reason}): functions are NOT isolated"),
            sandboxed: false,
        }
    };
    if mode == Isolation::Process {
        return Ok(plain("isolation: process"));
    }
    let support = match ignis_sandbox::probe::probe_host(&self_exe()) {
        Ok(s) => s,
        Err(reason) if mode == Isolation::Auto => {
            return Ok(plain(&format!("sandboxes unavailable: {reason}")));
        }
        Err(reason) => return Err(format!("cannot build sandboxes: {reason}")),
    };
    if egress && support.slirp4netns.is_none() {
        let w = "slirp4netns is not installed: functions have no network egress (install the \
                 slirp4netns package, or pass --function-egress off to silence this)";
        eprintln!("WARNING: {w}");
        tracing::warn!("{w}");
    }
    let launcher = SandboxLauncher::new(SandboxConfig {
        state_dir: state_dir.to_path_buf(),
        exe: self_exe(),
        support,
        egress,
        host_access: network.host_access,
        forward: Some(forward),
        max_environments,
        ceilings,
    });
    match launcher {
        Ok(l) => {
            let description = format!("sandbox ({})", l.describe());
            tracing::info!(isolation = %description, "execution environments are sandboxed");
            Ok(Chosen {
                launcher: Arc::new(l),
                description,
                sandboxed: true,
            })
        }
        Err(e) if mode == Isolation::Auto => Ok(plain(&format!("sandboxes unavailable: {e}"))),
        Err(e) => Err(format!("cannot build sandboxes: {e}")),
    }
}

/// `ignis runtimes`'s isolation line(s) for `mode` on this host.
pub fn report(mode: Isolation) -> String {
    let probe = || ignis_sandbox::probe::probe_host(&self_exe());
    match (mode, probe()) {
        (Isolation::Process, _) => format!(
            "Isolation: process (--isolation process)\n{}\n",
            not_isolated_warning("isolation: process")
        ),
        (_, Ok(s)) => format!("Isolation: sandbox ({})\n", s.describe()),
        (Isolation::Auto, Err(reason)) => format!(
            "Isolation: process (sandboxes unavailable: {reason})\n{}\n",
            not_isolated_warning(&format!("sandboxes unavailable: {reason}"))
        ),
        (Isolation::Sandbox, Err(reason)) => format!(
            "Isolation: sandbox requested, but sandboxes are unavailable here: {reason} (a node would refuse to start)\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("auto".parse::<Isolation>(), Ok(Isolation::Auto));
        assert_eq!("sandbox".parse::<Isolation>(), Ok(Isolation::Sandbox));
        assert_eq!("process".parse::<Isolation>(), Ok(Isolation::Process));
        assert!("none".parse::<Isolation>().is_err());
        assert!(not_isolated_warning("x").contains("NOT isolated"));
    }
}
