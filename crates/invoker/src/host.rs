//! The language runtimes this host can run, and how each is started.
//!
//! `python3.N` runs Ignis's Python bootstrap on the host's `python3.N` (or a `python3` whose
//! version is 3.N); `nodejsN.x` runs the Node.js bootstrap on the host's `node` when its major
//! version is N; `provided*` runs the package's own `bootstrap`. Interpreters are found once per
//! process by asking each candidate on `PATH` for its version and its real executable, so a
//! version-manager shim (pyenv) is resolved to the interpreter behind it: the function's process
//! gets a clean environment in which such shims would not work.

use ignis_model::runtime::{Runtime, RuntimeFamily};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Sub-directory of the runtime dir holding the Python bootstrap.
pub(crate) const PYTHON_DIR: &str = "python";
/// Sub-directory of the runtime dir holding the Node.js bootstrap.
pub(crate) const NODE_DIR: &str = "nodejs";
/// Where Lambda looks for a custom runtime's entry point, and how Ignis names it in errors.
pub(crate) const PROVIDED_BOOTSTRAP: &str = "bootstrap";

/// Longest a version probe of one interpreter may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Interpreters found on this host.
#[derive(Debug, Default)]
struct HostRuntimes {
    /// Python minor version → real executable.
    python: BTreeMap<u32, PathBuf>,
    /// Node.js major version and real executable.
    node: Option<(u32, PathBuf)>,
}

/// How one function's runtime is started on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    Python { minor: u32, exe: PathBuf },
    Node { major: u32, exe: PathBuf },
    Provided,
}

impl Resolved {
    /// The directory under the runtime dir that plays `/var/runtime` for this runtime.
    pub(crate) fn runtime_dir(&self, root: &Path) -> PathBuf {
        match self {
            Resolved::Python { .. } => root.join(PYTHON_DIR),
            Resolved::Node { .. } => root.join(NODE_DIR),
            Resolved::Provided => root.to_path_buf(),
        }
    }

    /// Program and arguments; `runtime_dir` is [`Resolved::runtime_dir`].
    /// A custom runtime runs `<code>/bootstrap`, or `<opt>/bootstrap` when `opt_bootstrap` is
    /// given (the code has none and a layer has one).
    pub(crate) fn command(
        &self,
        runtime_dir: &Path,
        code_root: &Path,
        opt_bootstrap: Option<&Path>,
    ) -> (PathBuf, Vec<String>) {
        match self {
            Resolved::Python { exe, .. } => (
                exe.clone(),
                vec![
                    "-u".into(),
                    runtime_dir
                        .join(ignis_runtimes::PYTHON_BOOTSTRAP_FILE_NAME)
                        .to_string_lossy()
                        .into_owned(),
                ],
            ),
            Resolved::Node { exe, .. } => (
                exe.clone(),
                vec![
                    runtime_dir
                        .join(ignis_runtimes::NODE_BOOTSTRAP_FILE_NAME)
                        .to_string_lossy()
                        .into_owned(),
                ],
            ),
            Resolved::Provided => (
                opt_bootstrap.unwrap_or(code_root).join(PROVIDED_BOOTSTRAP),
                vec![],
            ),
        }
    }

    /// The interpreter's executable, when there is one.
    pub(crate) fn interpreter(&self) -> Option<&Path> {
        match self {
            Resolved::Python { exe, .. } | Resolved::Node { exe, .. } => Some(exe),
            Resolved::Provided => None,
        }
    }

    /// Directory of the interpreter, when there is one.
    pub(crate) fn interpreter_dir(&self) -> Option<&Path> {
        match self {
            Resolved::Python { exe, .. } | Resolved::Node { exe, .. } => exe.parent(),
            Resolved::Provided => None,
        }
    }

    /// `INIT_START`'s runtime version, e.g. `python:3.11.ignis`.
    pub(crate) fn version_label(&self, runtime: &str) -> String {
        match self {
            Resolved::Python { minor, .. } => format!("python:3.{minor}.ignis"),
            Resolved::Node { major, .. } => format!("nodejs:{major}.ignis"),
            Resolved::Provided => format!(
                "provided:{}.ignis",
                runtime.strip_prefix("provided.").unwrap_or("al1")
            ),
        }
    }
}

static HOST: OnceLock<HostRuntimes> = OnceLock::new();

fn host() -> &'static HostRuntimes {
    HOST.get_or_init(probe_host)
}

/// Whether the host has been probed (after which [`resolve`] never blocks).
pub(crate) fn probed() -> bool {
    HOST.get().is_some()
}

/// Probes the host on a thread of its own, so that starting up does not wait for it.
pub(crate) fn probe_in_background() {
    if probed() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("ignis-runtime-probe".into())
        .spawn(|| {
            let _ = host();
            tracing::info!(runtimes = %available_runtimes().join(", "), "runtimes available on this host");
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot probe runtimes in the background");
    }
}

const PYTHON_PROBE: &[&str] = &[
    "-c",
    "import sys; print(sys.version_info[0], sys.version_info[1]); print(sys.executable)",
];
const NODE_PROBE: &[&str] = &[
    "-e",
    "console.log(process.versions.node.split('.')[0]); console.log(process.execPath)",
];

/// Starts `program args` with its stdout captured.
fn start_probe(program: &Path, args: &[&str]) -> Option<Child> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

/// The probe's stdout, if it exits 0 before `deadline`.
fn finish_probe(mut child: Child, deadline: Instant) -> Option<String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break,
            Ok(Some(_)) | Err(_) => return None,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    Some(out)
}

fn real_path(line: Option<&str>) -> Option<PathBuf> {
    let exe = PathBuf::from(line?.trim());
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    exe.is_absolute().then_some(exe)
}

/// `(major, minor, real executable)` from a Python probe's output.
fn parse_python_probe(out: &str) -> Option<(u32, u32, PathBuf)> {
    let mut lines = out.lines();
    let mut version = lines.next()?.split_whitespace();
    let major = version.next()?.parse().ok()?;
    let minor = version.next()?.parse().ok()?;
    Some((major, minor, real_path(lines.next())?))
}

/// `(major, real executable)` from a Node.js probe's output.
fn parse_node_probe(out: &str) -> Option<(u32, PathBuf)> {
    let mut lines = out.lines();
    let major = lines.next()?.trim().parse().ok()?;
    Some((major, real_path(lines.next())?))
}

fn is_python_name(name: &str) -> bool {
    name == "python3"
        || name
            .strip_prefix("python3.")
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
}

fn probe_host() -> HostRuntimes {
    let mut host = HostRuntimes::default();
    let path = std::env::var_os("PATH").unwrap_or_default();
    // The first file of each name on PATH, as a shell would find it.
    let mut candidates: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in std::env::split_paths(&path) {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if (is_python_name(&name) || name == "node") && !candidates.contains_key(&name) {
                candidates.insert(name, entry.path());
            }
        }
    }
    // All probes run at once: version-manager shims take a while each.
    let probes: Vec<(String, Child)> = candidates
        .iter()
        .filter_map(|(name, path)| {
            let args = if name == "node" {
                NODE_PROBE
            } else {
                PYTHON_PROBE
            };
            start_probe(path, args).map(|c| (name.clone(), c))
        })
        .collect();
    let deadline = Instant::now() + PROBE_TIMEOUT;
    for (name, child) in probes {
        let Some(out) = finish_probe(child, deadline) else {
            continue;
        };
        if name == "node" {
            host.node = parse_node_probe(&out);
            continue;
        }
        if let Some((3, minor, exe)) = parse_python_probe(&out) {
            // `python3.N` names its version; a bare `python3` only fills a gap.
            let named = name != "python3";
            if named && name != format!("python3.{minor}") {
                continue;
            }
            if named || !host.python.contains_key(&minor) {
                host.python.insert(minor, exe);
            }
        }
    }
    tracing::debug!(?host, "host runtimes probed");
    host
}

/// Runtime identifiers this host can run: `python3.N` for each Python 3.N found on `PATH`,
/// `nodejsN.x` for the `node` on `PATH`, and `provided.al2` and `provided.al2023` always.
///
/// The host is probed once per process (each interpreter is asked for its version, all at
/// once; behind version-manager shims this can take a second or two). [`crate::Invoker::new`]
/// starts the probe in the background; until it has finished this call blocks, so async callers
/// that may run early should call it through `spawn_blocking`.
pub fn available_runtimes() -> Vec<String> {
    let host = host();
    let mut out: Vec<String> = host
        .python
        .keys()
        .map(|minor| format!("python3.{minor}"))
        .collect();
    if let Some((major, _)) = &host.node {
        out.push(format!("nodejs{major}.x"));
    }
    out.push("provided.al2".into());
    out.push("provided.al2023".into());
    out
}

/// How to run `runtime` here, or `None` when this host cannot.
pub(crate) fn resolve(runtime: &str) -> Option<Resolved> {
    let host = host();
    match Runtime::parse(runtime)?.family() {
        RuntimeFamily::Python { minor } => host.python.get(&minor).map(|exe| Resolved::Python {
            minor,
            exe: exe.clone(),
        }),
        RuntimeFamily::Node { major } => match &host.node {
            Some((m, exe)) if *m == major => Some(Resolved::Node {
                major,
                exe: exe.clone(),
            }),
            _ => None,
        },
        RuntimeFamily::Provided => Some(Resolved::Provided),
        RuntimeFamily::Other => None,
    }
}

/// Writes the embedded bootstraps under `root` (only when their content changed).
pub(crate) fn install_bootstraps(root: &Path) -> std::io::Result<()> {
    let files = [
        (
            PYTHON_DIR,
            ignis_runtimes::PYTHON_BOOTSTRAP_FILE_NAME,
            ignis_runtimes::PYTHON_BOOTSTRAP,
        ),
        (
            NODE_DIR,
            ignis_runtimes::NODE_BOOTSTRAP_FILE_NAME,
            ignis_runtimes::NODE_BOOTSTRAP,
        ),
    ];
    for (dir, name, content) in files {
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(name);
        if std::fs::read(&path).is_ok_and(|c| c == content.as_bytes()) {
            continue;
        }
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, content)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_output_is_parsed() {
        let (major, minor, exe) = parse_python_probe("3 11\n/usr/bin/python3.11\n").unwrap();
        assert_eq!((major, minor), (3, 11));
        assert!(exe.is_absolute());
        assert_eq!(parse_python_probe("garbage"), None);
        assert_eq!(parse_python_probe("3 11\nrelative/python\n"), None);
        assert_eq!(
            parse_node_probe("20\n/usr/bin/node\n").map(|(m, _)| m),
            Some(20)
        );
    }

    #[test]
    fn python_names() {
        assert!(is_python_name("python3"));
        assert!(is_python_name("python3.11"));
        assert!(!is_python_name("python3.11-config"));
        assert!(!is_python_name("python3."));
        assert!(!is_python_name("python2.7"));
    }

    #[test]
    fn provided_is_always_available() {
        let all = available_runtimes();
        assert!(all.contains(&"provided.al2".to_string()));
        assert!(all.contains(&"provided.al2023".to_string()));
        assert_eq!(resolve("provided.al2023"), Some(Resolved::Provided));
        assert_eq!(resolve("java21"), None);
        assert_eq!(resolve("cobol"), None);
        assert_eq!(resolve("python3.2"), None);
    }

    #[test]
    fn commands_use_absolute_bootstrap_paths() {
        let py = Resolved::Python {
            minor: 11,
            exe: "/usr/bin/python3.11".into(),
        };
        let (prog, args) = py.command(Path::new("/rt/python"), Path::new("/code"), None);
        assert_eq!(prog, Path::new("/usr/bin/python3.11"));
        assert_eq!(args, ["-u", "/rt/python/bootstrap.py"]);
        let (prog, args) = Resolved::Provided.command(Path::new("/rt"), Path::new("/code"), None);
        assert_eq!(prog, Path::new("/code/bootstrap"));
        assert!(args.is_empty());
        let (prog, _) = Resolved::Provided.command(
            Path::new("/rt"),
            Path::new("/code"),
            Some(Path::new("/opt")),
        );
        assert_eq!(prog, Path::new("/opt/bootstrap"));
        assert_eq!(py.runtime_dir(Path::new("/rt")), Path::new("/rt/python"));
        assert_eq!(py.version_label("python3.11"), "python:3.11.ignis");
        assert_eq!(
            Resolved::Provided.version_label("provided.al2023"),
            "provided:al2023.ignis"
        );
    }
}
