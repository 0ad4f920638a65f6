//! What sandboxes cost: `ignis bench --isolation-overhead` and `ignis bench --idle-envs N`.
//!
//! - **Cold-start overhead**: two temporary nodes in the same run, one `--isolation sandbox`,
//!   one `--isolation process`; the same no-op functions get K cold starts on each, interleaved
//!   (so load drifts hit both alike). A cold start is the first invoke after
//!   UpdateFunctionConfiguration changed an environment variable, timed at the client. The
//!   overhead is the difference of the medians.
//! - **Density**: one sandboxed node, N Python no-op functions with 128 MB, each invoked once and
//!   left idle (frozen). Reported: what Ignis itself holds per environment — the server's RSS
//!   growth, the jailer and the environment's init, slirp4netns — next to the function's own
//!   memory (its cgroup).

use crate::client::{FunctionSpec, LambdaClient, check_invoke, http_client};
use crate::node::TempNode;
use crate::stats::Summary;
use crate::{GENERATION_VAR, PAYLOAD, RuntimeKind, baseline, package, progress};
use anyhow::{Context, bail};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// MemorySize of the density functions (Lambda's smallest common size).
pub const DENSITY_MEMORY_MB: u32 = 128;

pub(crate) fn zip_for(
    kind: RuntimeKind,
    noop: Option<&Path>,
) -> anyhow::Result<(String, String, Vec<u8>)> {
    Ok(match kind {
        RuntimeKind::Python => {
            let (minor, _) = baseline::probe_python("python3.11")
                .or_else(|| baseline::probe_python("python3"))
                .context("no python3 on PATH")?;
            (
                format!("python3.{minor}"),
                package::PYTHON_HANDLER.into(),
                package::python()?,
            )
        }
        RuntimeKind::Node => {
            let (major, _) = baseline::probe_node().context("no node on PATH")?;
            (
                format!("nodejs{major}.x"),
                package::NODE_HANDLER.into(),
                package::node()?,
            )
        }
        RuntimeKind::Native => {
            let path = noop.context("the native no-op runtime is missing")?;
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            (
                "provided.al2023".into(),
                "bootstrap".into(),
                package::native(&bytes)?,
            )
        }
    })
}

/// One mode's cold starts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColdSeries {
    pub isolation: String,
    pub samples_ms: Vec<f64>,
    pub median_ms: f64,
    pub p90_ms: f64,
}

fn series(isolation: &str, samples: &[Duration]) -> ColdSeries {
    let s = Summary::of(samples);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    ColdSeries {
        isolation: isolation.into(),
        samples_ms: samples.iter().map(|d| ms(*d)).collect(),
        median_ms: s.as_ref().map_or(0.0, |s| s.p50_us as f64 / 1000.0),
        p90_ms: s.as_ref().map_or(0.0, |s| s.p90_us as f64 / 1000.0),
    }
}

/// Cold starts of one runtime in both modes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overhead {
    pub runtime: String,
    pub sandbox: ColdSeries,
    pub process: ColdSeries,
    /// Median sandboxed cold start minus median plain-process cold start.
    pub overhead_ms: f64,
}

async fn cold_start(
    client: &LambdaClient,
    name: &str,
    generation: usize,
) -> anyhow::Result<Duration> {
    let g = generation.to_string();
    client
        .set_environment(name, &[(GENERATION_VAR, &g)])
        .await?;
    let reply = client
        .invoke(name, Bytes::from_static(PAYLOAD.as_bytes()))
        .await?;
    let expected: serde_json::Value = serde_json::from_str(PAYLOAD).expect("JSON");
    check_invoke(&reply, &expected).map_err(anyhow::Error::msg)?;
    Ok(reply.elapsed)
}

pub(crate) async fn node_client(
    exe: &Path,
    isolation: &str,
    extra: &[&str],
) -> anyhow::Result<(TempNode, LambdaClient)> {
    let args: Vec<&str> = ["--isolation", isolation]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let node = TempNode::start_with(exe, &args)
        .await
        .with_context(|| format!("starting a node with --isolation {isolation}"))?;
    let client = LambdaClient::new(http_client(4), node.endpoint(), node.credentials().clone())?;
    Ok((node, client))
}

/// Measures `cold_starts` cold starts per runtime on a sandboxed and a plain-process node.
pub async fn cold_start_overhead(
    exe: &Path,
    noop: Option<&Path>,
    runtimes: &[RuntimeKind],
    cold_starts: usize,
) -> anyhow::Result<Vec<Overhead>> {
    progress("isolation overhead: starting a sandboxed and a plain-process node");
    let (sandbox_node, sandbox) = node_client(exe, "sandbox", &[]).await?;
    let (process_node, process) = node_client(exe, "process", &[]).await?;
    let mut out = Vec::new();
    for &kind in runtimes {
        let (runtime, handler, zip) = match zip_for(kind, noop) {
            Ok(v) => v,
            Err(e) => {
                progress(format!("skipping {}: {e:#}", kind.name()));
                continue;
            }
        };
        let name = format!("ignis-bench-cold-{}", kind.name());
        let spec = FunctionSpec {
            name: name.clone(),
            runtime: runtime.clone(),
            handler,
            zip,
            memory_size: crate::MEMORY_SIZE_MB,
            timeout_s: crate::FUNCTION_TIMEOUT_S,
        };
        sandbox.create_function(&spec).await?;
        process.create_function(&spec).await?;
        // One unmeasured start each: templates, page cache, the interpreter's first run.
        cold_start(&sandbox, &name, 0).await?;
        cold_start(&process, &name, 0).await?;
        let (mut s, mut p) = (Vec::new(), Vec::new());
        for i in 1..=cold_starts {
            s.push(cold_start(&sandbox, &name, i).await?);
            p.push(cold_start(&process, &name, i).await?);
        }
        let (s, p) = (series("sandbox", &s), series("process", &p));
        progress(format!(
            "{runtime}: cold start {:.1} ms sandboxed, {:.1} ms plain (medians of {cold_starts})",
            s.median_ms, p.median_ms
        ));
        out.push(Overhead {
            runtime,
            overhead_ms: s.median_ms - p.median_ms,
            sandbox: s,
            process: p,
        });
    }
    let _ = sandbox_node.stop().await;
    let _ = process_node.stop().await;
    Ok(out)
}

/// Private memory (USS: private clean + private dirty) and PSS of a process, bytes.
fn memory_of(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Some((
        field("Private_Clean:") + field("Private_Dirty:"),
        field("Pss:"),
    ))
}

pub(crate) fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Whether `pid` runs `ignis __jail`.
fn is_jailer(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| c.split(|b| *b == 0).nth(1) == Some(b"__jail".as_slice()))
}

/// Direct children of `pid` (all its threads').
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

/// Memory of one kind of helper process, summed over environments.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HelperMemory {
    pub processes: usize,
    pub uss_bytes: u64,
    pub pss_bytes: u64,
}

impl HelperMemory {
    fn add(&mut self, pid: u32) {
        if let Some((uss, pss)) = memory_of(pid) {
            self.processes += 1;
            self.uss_bytes += uss;
            self.pss_bytes += pss;
        }
    }
}

/// What N idle environments cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Density {
    pub environments: usize,
    pub memory_size_mb: u32,
    pub seconds_to_start_all: f64,
    pub server_rss_before_bytes: u64,
    pub server_rss_after_bytes: u64,
    pub jailers: HelperMemory,
    pub inits: HelperMemory,
    pub slirp4netns: HelperMemory,
    /// The functions' own memory: their cgroups' usage, summed.
    pub function_cgroups_bytes: u64,
    /// `MemAvailable` drop across the run.
    pub host_available_drop_bytes: u64,
}

impl Density {
    /// What Ignis holds per environment (server growth + jailer + init + slirp4netns, private
    /// memory), bytes.
    pub fn ignis_per_environment(&self) -> u64 {
        let n = self.environments.max(1) as u64;
        let server = self
            .server_rss_after_bytes
            .saturating_sub(self.server_rss_before_bytes);
        (server + self.jailers.uss_bytes + self.inits.uss_bytes + self.slirp4netns.uss_bytes) / n
    }
}

fn mem_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

/// The cgroup memory usage of every environment of the node with server pid `node_pid`.
fn function_cgroups(node_pid: u32) -> u64 {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let Some(root) = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        let mp = left.split(' ').nth(4)?;
        let mut r = right.split(' ');
        let fstype = r.next()?;
        let opts = r.nth(1)?;
        (fstype == "cgroup" && opts.split(',').any(|o| o == "memory")).then(|| PathBuf::from(mp))
    }) else {
        return 0;
    };
    let dir = root.join(format!("ignis/node-{node_pid}"));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("memory.usage_in_bytes")).ok())
        .filter_map(|s| s.trim().parse::<u64>().ok())
        .sum()
}

/// Starts `n` idle sandboxed Python environments and measures what they cost.
pub async fn idle_density(exe: &Path, n: usize) -> anyhow::Result<Density> {
    progress(format!(
        "density: starting a sandboxed node for {n} idle environments"
    ));
    // Density measures idle environments beyond what the node's default ceilings admit (each
    // reserves its whole MemorySize and 1,024 pids): raise them for this node.
    let memory = ((n + 8) as u64 * u64::from(DENSITY_MEMORY_MB)).to_string();
    let pids = ((n + 8) * 1024).to_string();
    let ceilings = ["--max-memory", memory.as_str(), "--max-pids", pids.as_str()];
    let (node, client) = node_client(exe, "sandbox", &ceilings).await?;
    let node_pid = node.pid().context("the node has no pid")?;
    let (runtime, handler, zip) = zip_for(RuntimeKind::Python, None)?;
    let available_before = mem_available();
    // Settle the server's allocations before the baseline.
    let warm = FunctionSpec {
        name: "ignis-bench-density-warmup".into(),
        runtime: runtime.clone(),
        handler: handler.clone(),
        zip: zip.clone(),
        memory_size: DENSITY_MEMORY_MB,
        timeout_s: 30,
    };
    client.create_function(&warm).await?;
    cold_start(&client, &warm.name, 0).await?;
    client.delete_function(&warm.name).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_of(node_pid);
    let started = Instant::now();
    for i in 0..n {
        let spec = FunctionSpec {
            name: format!("ignis-bench-idle-{i:04}"),
            ..warm.clone()
        };
        client.create_function(&spec).await?;
        let reply = client
            .invoke(&spec.name, Bytes::from_static(PAYLOAD.as_bytes()))
            .await?;
        let expected: serde_json::Value = serde_json::from_str(PAYLOAD).expect("JSON");
        if let Err(e) = check_invoke(&reply, &expected) {
            bail!("environment {i}: {e}");
        }
        if (i + 1) % 50 == 0 {
            progress(format!("density: {} environments", i + 1));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut jailers = HelperMemory::default();
    let mut inits = HelperMemory::default();
    let mut slirp = HelperMemory::default();
    // The node's children: jailers (each the parent of its environment's init) and
    // slirp4netns processes. Prepared jails waiting in the pool are counted too.
    for child in children(node_pid) {
        if comm(child) == "slirp4netns" {
            slirp.add(child);
        } else if is_jailer(child) {
            jailers.add(child);
            for init in children(child) {
                inits.add(init);
            }
        }
    }
    let density = Density {
        environments: n,
        memory_size_mb: DENSITY_MEMORY_MB,
        seconds_to_start_all: seconds,
        server_rss_before_bytes: rss_before,
        server_rss_after_bytes: rss_of(node_pid),
        jailers,
        inits,
        slirp4netns: slirp,
        function_cgroups_bytes: function_cgroups(node_pid),
        host_available_drop_bytes: available_before.saturating_sub(mem_available()),
    };
    let _ = node.stop().await;
    Ok(density)
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / (1 << 20) as f64)
}

fn kb(b: u64) -> String {
    format!("{:.0} KB", b as f64 / 1024.0)
}

/// The text report.
pub fn render(overhead: &[Overhead], density: Option<&Density>) -> String {
    let mut out = String::new();
    if !overhead.is_empty() {
        out.push_str("Cold start, sandboxed vs plain process (same run, client-side, medians)\n");
        out.push_str(&format!(
            "  {:<18} {:>12} {:>12} {:>12} {:>12}\n",
            "runtime", "sandbox", "process", "overhead", "sandbox p90"
        ));
        for o in overhead {
            out.push_str(&format!(
                "  {:<18} {:>9.1} ms {:>9.1} ms {:>9.1} ms {:>9.1} ms\n",
                o.runtime,
                o.sandbox.median_ms,
                o.process.median_ms,
                o.overhead_ms,
                o.sandbox.p90_ms
            ));
        }
    }
    if let Some(d) = density {
        let n = d.environments.max(1) as u64;
        let per = |h: &HelperMemory| h.uss_bytes / n;
        out.push_str(&format!(
            "{} idle sandboxed Python environments at {} MB (started in {:.1} s)\n",
            d.environments, d.memory_size_mb, d.seconds_to_start_all
        ));
        out.push_str(&format!(
            "  server RSS           {} -> {} ({} per environment)\n",
            mb(d.server_rss_before_bytes),
            mb(d.server_rss_after_bytes),
            kb(d.server_rss_after_bytes
                .saturating_sub(d.server_rss_before_bytes)
                / n)
        ));
        out.push_str(&format!(
            "  jailer (private)     {} per environment ({} processes)\n",
            kb(per(&d.jailers)),
            d.jailers.processes
        ));
        out.push_str(&format!(
            "  init (private)       {} per environment\n",
            kb(per(&d.inits))
        ));
        out.push_str(&format!(
            "  slirp4netns (private) {} per environment ({} processes)\n",
            kb(per(&d.slirp4netns)),
            d.slirp4netns.processes
        ));
        out.push_str(&format!(
            "  Ignis per environment {}\n",
            kb(d.ignis_per_environment())
        ));
        out.push_str(&format!(
            "  function memory      {} per environment (cgroup usage)\n",
            mb(d.function_cgroups_bytes / n)
        ));
        out.push_str(&format!(
            "  host MemAvailable    -{} in total ({} per environment)\n",
            mb(d.host_available_drop_bytes),
            mb(d.host_available_drop_bytes / n)
        ));
    }
    out
}

/// `ignis bench --isolation-overhead` / `--idle-envs N`.
pub fn run(
    exe: &Path,
    noop: Option<&Path>,
    runtimes: &[RuntimeKind],
    cold_starts: Option<usize>,
    overhead: bool,
    idle_envs: Option<usize>,
    json: bool,
) -> anyhow::Result<()> {
    let rt = crate::async_runtime()?;
    let (o, d) = rt.block_on(async {
        let o = if overhead {
            cold_start_overhead(exe, noop, runtimes, cold_starts.unwrap_or(10)).await?
        } else {
            Vec::new()
        };
        let d = match idle_envs {
            Some(n) => Some(idle_density(exe, n).await?),
            None => None,
        };
        anyhow::Ok((o, d))
    })?;
    let document =
        json.then(|| serde_json::json!({ "cold_start_overhead": o, "density": d }).to_string());
    crate::print_report(&render(&o, d.as_ref()), document);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_take_medians() {
        let s = series("sandbox", &[10, 30, 20].map(Duration::from_millis));
        assert_eq!(s.median_ms, 20.0);
        assert_eq!(s.samples_ms, [10.0, 30.0, 20.0]);
    }

    #[test]
    fn per_environment_memory_adds_the_helpers() {
        let d = Density {
            environments: 2,
            memory_size_mb: 128,
            seconds_to_start_all: 1.0,
            server_rss_before_bytes: 100,
            server_rss_after_bytes: 300,
            jailers: HelperMemory {
                processes: 2,
                uss_bytes: 400,
                pss_bytes: 0,
            },
            inits: HelperMemory {
                processes: 2,
                uss_bytes: 200,
                pss_bytes: 0,
            },
            slirp4netns: HelperMemory {
                processes: 2,
                uss_bytes: 200,
                pss_bytes: 0,
            },
            function_cgroups_bytes: 0,
            host_available_drop_bytes: 0,
        };
        assert_eq!(d.ignis_per_environment(), 500);
        assert!(render(&[], Some(&d)).contains("2 idle sandboxed Python environments"));
        // This process is measurable.
        assert!(memory_of(std::process::id()).is_some_and(|(uss, _)| uss > 0));
    }
}
