//! [`ProcessLauncher`]: environments as plain child processes. It isolates nothing (the function
//! runs as the server's user and sees the host's files); it exists for hosts where the sandbox
//! cannot be built, and for tests.
//!
//! Each runtime is the leader of its own process group, so [`EnvironmentProcess::kill`] kills
//! everything it started. Peak memory is measured honestly from `/proc`: before an invocation
//! `5` is written to every tree member's `clear_refs` (which resets its peak RSS), afterwards the
//! members' `VmHWM` are summed. The tree is the runtime plus every process in its group or
//! descended from it.

use crate::launcher::{
    BoxFuture, EnvironmentProcess, LaunchError, LaunchSpec, Launcher, OutputPipe, ProcessExit,
};
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::process::{ChildStderr, ChildStdout, Command};
use tokio::sync::watch;

/// Launches environments as plain child processes.
#[derive(Debug, Clone, Default)]
pub struct ProcessLauncher {
    _private: (),
}

impl ProcessLauncher {
    pub fn new() -> ProcessLauncher {
        ProcessLauncher { _private: () }
    }
}

impl Launcher for ProcessLauncher {
    fn launch(
        &self,
        spec: LaunchSpec,
    ) -> BoxFuture<'_, Result<Box<dyn EnvironmentProcess>, LaunchError>> {
        Box::pin(async move {
            let program = spec.program.clone();
            // fork/exec is blocking work: keep it off the reactor.
            let spawned = tokio::task::spawn_blocking(move || {
                let mut cmd = Command::new(&spec.program);
                cmd.args(&spec.args)
                    .env_clear()
                    .envs(spec.env.iter().map(|(k, v)| (k, v)))
                    .current_dir(&spec.cwd)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .process_group(0)
                    .kill_on_drop(true);
                cmd.spawn()
            })
            .await
            .map_err(|e| LaunchError::Other(format!("spawn task failed: {e}")))?;
            let mut child = spawned.map_err(|source| LaunchError::Spawn { program, source })?;
            let pid = child
                .id()
                .ok_or_else(|| LaunchError::Other("child exited before it had a pid".into()))?;
            let stdout = child.stdout.take();
            let stderr = child.stderr.take();
            let (exit_tx, exit_rx) = watch::channel(None);
            tokio::spawn(async move {
                let exit = match child.wait().await {
                    Ok(status) => match (status.code(), status.signal()) {
                        (Some(c), _) => ProcessExit::Code(c),
                        (None, Some(s)) => ProcessExit::Signal(s),
                        _ => ProcessExit::Unknown,
                    },
                    Err(_) => ProcessExit::Unknown,
                };
                let _ = exit_tx.send(Some(exit));
            });
            Ok(Box::new(PlainProcess {
                pid,
                stdout,
                stderr,
                exit: exit_rx,
            }) as Box<dyn EnvironmentProcess>)
        })
    }
}

struct PlainProcess {
    pid: u32,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    exit: watch::Receiver<Option<ProcessExit>>,
}

impl EnvironmentProcess for PlainProcess {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn take_stdout(&mut self) -> Option<Box<dyn OutputPipe>> {
        self.stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn OutputPipe>)
    }

    fn take_stderr(&mut self) -> Option<Box<dyn OutputPipe>> {
        self.stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn OutputPipe>)
    }

    fn kill(&self) {
        let Ok(raw) = i32::try_from(self.pid) else {
            return;
        };
        if let Some(pgid) = rustix::process::Pid::from_raw(raw) {
            // The group outlives its leader while descendants remain, so this also runs after
            // the runtime itself has exited. ESRCH (nothing left) is fine.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }

    fn wait(&self) -> BoxFuture<'_, ProcessExit> {
        let mut rx = self.exit.clone();
        Box::pin(async move {
            match rx.wait_for(Option::is_some).await {
                Ok(v) => v.unwrap_or(ProcessExit::Unknown),
                Err(_) => ProcessExit::Unknown,
            }
        })
    }

    fn reset_peak_memory(&self) -> BoxFuture<'_, ()> {
        let root = self.pid;
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(move || {
                for pid in proc_tree(root) {
                    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
                }
            })
            .await;
        })
    }

    fn peak_memory_bytes(&self) -> BoxFuture<'_, Option<u64>> {
        let root = self.pid;
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut total = None;
                for pid in proc_tree(root) {
                    if let Some(kb) = vm_hwm_kb(pid) {
                        *total.get_or_insert(0) += kb * 1024;
                    }
                }
                total
            })
            .await
            .ok()
            .flatten()
        })
    }

    fn freeze(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn thaw(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// `(ppid, pgrp)` from the text of `/proc/<pid>/stat`.
pub(crate) fn parse_stat(stat: &str) -> Option<(u32, u32)> {
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((ppid, pgrp))
}

/// How long a snapshot of the process table is used before a new one is taken. Scanning `/proc`
/// costs milliseconds, reading one process's files microseconds: so the members of an
/// environment's tree are looked up in a snapshot (refreshed on a thread of its own, never on an
/// invocation's path) and only their own files are read per invocation. A child younger than the
/// snapshot is missed by that measurement; the runtime itself never is.
const PROC_TABLE_TTL: Duration = Duration::from_secs(1);

/// `pid → (ppid, pgrp)` of every process, and when it was read.
struct ProcTable {
    read_at: Instant,
    entries: HashMap<u32, (u32, u32)>,
}

fn scan_proc() -> HashMap<u32, (u32, u32)> {
    let mut entries = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return entries;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        {
            entries.insert(pid, stat);
        }
    }
    entries
}

/// The members of `root`'s tree in a process table: `root`, every process in its group, and
/// every descendant.
fn tree_in(root: u32, table: &HashMap<u32, (u32, u32)>) -> Vec<u32> {
    let mut members = vec![root];
    for (&pid, &(_, pgrp)) in table {
        if pid == root {
            continue;
        }
        let mut is_member = pgrp == root;
        let mut p = pid;
        for _ in 0..64 {
            if is_member {
                break;
            }
            match table.get(&p) {
                Some(&(pp, _)) if pp == root => is_member = true,
                Some(&(pp, _)) if pp > 1 => p = pp,
                _ => break,
            }
        }
        if is_member {
            members.push(pid);
        }
    }
    members
}

static TABLE: Mutex<Option<Arc<ProcTable>>> = Mutex::new(None);
static REFRESHING: AtomicBool = AtomicBool::new(false);

/// Starts taking a new snapshot unless one is being taken.
fn refresh_table() {
    if REFRESHING.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("ignis-proc-scan".into())
        .spawn(|| {
            let table = ProcTable {
                read_at: Instant::now(),
                entries: scan_proc(),
            };
            *TABLE.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(table));
            REFRESHING.store(false, Ordering::Release);
        });
    if spawned.is_err() {
        REFRESHING.store(false, Ordering::Release);
    }
}

/// The runtime `root` and the members of its tree in the latest snapshot (members that have
/// exited since are skipped by their readers).
fn proc_tree(root: u32) -> Vec<u32> {
    let snapshot = TABLE.lock().unwrap_or_else(PoisonError::into_inner).clone();
    if snapshot
        .as_ref()
        .is_none_or(|t| t.read_at.elapsed() >= PROC_TABLE_TTL)
    {
        refresh_table();
    }
    match snapshot {
        Some(t) => tree_in(root, &t.entries),
        None => vec![root],
    }
}

/// Peak resident set size of one process, kB.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_hwm_kb(&status)
}

pub(crate) fn parse_vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_parsed_past_odd_names() {
        let stat = "1234 (my (odd) name) S 1000 1234 1234 0 -1 4194560 120 0 0 0";
        assert_eq!(parse_stat(stat), Some((1000, 1234)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn vm_hwm_is_read_in_kb() {
        let status = "Name:\tpython3\nVmPeak:\t  30000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm_kb(status), Some(12345));
        assert_eq!(parse_vm_hwm_kb("Name: x\n"), None);
    }

    #[test]
    fn trees_include_the_group_and_descendants() {
        // pid → (ppid, pgrp)
        let table = HashMap::from([
            (1, (0, 1)),
            (100, (1, 100)),   // the runtime
            (101, (100, 100)), // its child
            (102, (101, 102)), // a grandchild in a group of its own
            (103, (1, 100)),   // an orphan left in the runtime's group
            (200, (1, 200)),   // unrelated
        ]);
        let mut tree = tree_in(100, &table);
        tree.sort();
        assert_eq!(tree, [100, 101, 102, 103]);
        assert_eq!(tree_in(999, &table), [999]);
    }

    #[test]
    fn this_process_is_measurable() {
        let me = std::process::id();
        assert!(vm_hwm_kb(me).is_some_and(|kb| kb > 0));
        assert!(proc_tree(me).contains(&me));
    }
}
