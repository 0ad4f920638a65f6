//! `ignis bench --soak SECS`: a long run of mixed load at a share of the node's measured
//! capacity with a hostile function in the mix, watching the server's memory and descriptors.
//!
//! 1. A temporary node (default isolation) gets the no-op functions this host can run and a
//!    hostile Python function.
//! 2. Capacity: every no-op function driven by closed-loop workers for a few seconds; the sum of
//!    their rates is the node's capacity for this mix.
//! 3. The soak: a schedule at `fraction` of that capacity, round-robin over the no-op functions,
//!    with no more invokes of a function in flight than the capacity phase had (invokes wait for
//!    a free caller, as with a fixed pool of callers; what falls more than a second behind the
//!    schedule is shed and counted), while the hostile function is invoked back to back, in turn storming its log,
//!    flooding the API with idle connections, timing out, crashing and — in a sandbox — running
//!    out of memory and fork-bombing. Every few seconds the server's RSS and open descriptors are
//!    sampled; after the load stops, once more after a quiet period.
//!
//! The well-behaved functions must see no error at all; the bench fails otherwise.

use crate::client::{Credentials, FunctionSpec, LambdaClient, http_client};
use crate::isolation::{rss_of, zip_for};
use crate::load::{Samples, Stop, Target, Via, concurrent};
use crate::node::TempNode;
use crate::stats::Summary;
use crate::{FUNCTION_TIMEOUT_S, MEMORY_SIZE_MB, PAYLOAD, RuntimeKind, progress, stop_node};
use anyhow::{Context, bail};
use bytes::Bytes;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long the capacity phase drives the functions.
const CAPACITY_PHASE: Duration = Duration::from_secs(10);
/// Closed-loop workers per function in the capacity phase.
const CAPACITY_WORKERS: usize = 4;
/// Between two samples of the server.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Quiet time after the load before the last sample.
const QUIET: Duration = Duration::from_secs(30);

/// The hostile function: each event names one attack.
const HOSTILE_SOURCE: &str = r#"
import os, socket, time

def handler(event, context):
    action = event["action"]
    if action == "logs":
        line, n, end = "x" * (256 * 1024), 0, time.time() + 3
        while time.time() < end:
            print(line, flush=True)
            n += 1
        return n
    if action == "connections":
        host, port = os.environ["AWS_ENDPOINT_URL"].rsplit("/", 1)[1].split(":")
        socks = []
        for _ in range(300):
            try:
                socks.append(socket.create_connection((host, int(port)), timeout=1))
            except OSError:
                pass
        time.sleep(3)
        return len(socks)
    if action == "memory":
        blocks = []
        while True:
            blocks.append(bytearray(16 << 20))
    if action == "forkbomb":
        end = time.time() + 3
        while time.time() < end:
            try:
                if os.fork() == 0:
                    time.sleep(2)
                    os._exit(0)
            except OSError:
                time.sleep(0.01)
        return "forked"
    if action == "timeout":
        time.sleep(60)
    if action == "crash":
        os._exit(3)
    return "unknown"
"#;
const HOSTILE_NAME: &str = "ignis-soak-hostile";
/// Attacks that need a sandbox: a plain process has no limits to hit, and its connections come
/// from the host's own address, the one the load comes from.
const SANDBOX_ONLY: [&str; 3] = ["memory", "forkbomb", "connections"];
const ATTACKS: [&str; 6] = [
    "logs",
    "connections",
    "timeout",
    "crash",
    "memory",
    "forkbomb",
];

/// One sample of the server process.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub rss_mib: f64,
    pub fds: usize,
}

/// First, largest, last-under-load and after-quiet values of one measure.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Trend {
    pub start: f64,
    pub max: f64,
    pub end: f64,
    pub after_quiet: f64,
}

/// What the hostile function's invokes came to, per attack.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttackOutcomes {
    pub invokes: u64,
    pub succeeded: u64,
    pub function_errors: u64,
    pub throttled: u64,
    pub other: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SoakReport {
    pub isolation: Option<String>,
    pub seconds: f64,
    pub functions: Vec<String>,
    pub capacity_rps: f64,
    pub fraction: f64,
    pub target_rps: f64,
    pub achieved_rps: f64,
    pub invokes: usize,
    pub errors: u64,
    pub first_error: Option<String>,
    pub shed_by_client: u64,
    pub latency: Option<Summary>,
    pub hostile: BTreeMap<String, AttackOutcomes>,
    pub rss_mib: Trend,
    pub fds: Trend,
    pub samples: Vec<Sample>,
}

fn fds_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn sample(pid: u32, started: Instant) -> Sample {
    Sample {
        at_s: started.elapsed().as_secs_f64(),
        rss_mib: rss_of(pid) as f64 / (1024.0 * 1024.0),
        fds: fds_of(pid),
    }
}

fn trend(samples: &[Sample], after: Sample, f: impl Fn(&Sample) -> f64) -> Trend {
    Trend {
        start: samples.first().map_or(0.0, &f),
        max: samples.iter().map(&f).fold(0.0, f64::max),
        end: samples.last().map_or(0.0, &f),
        after_quiet: f(&after),
    }
}

/// `ignis bench --soak SECS [--runtimes …]`.
pub fn run(
    exe: &Path,
    noop: Option<&Path>,
    runtimes: &[RuntimeKind],
    seconds: f64,
    json: bool,
) -> anyhow::Result<()> {
    if !(seconds.is_finite() && seconds > 0.0) {
        bail!("--soak must be a positive number of seconds");
    }
    let rt = crate::async_runtime()?;
    let report = rt.block_on(soak(exe, noop, runtimes, seconds, 0.8))?;
    let document = if json {
        Some(serde_json::to_string(&report)?)
    } else {
        None
    };
    crate::print_report(&render(&report), document);
    if report.errors > 0 {
        bail!(
            "{} invokes of well-behaved functions failed during the soak",
            report.errors
        );
    }
    Ok(())
}

async fn soak(
    exe: &Path,
    noop: Option<&Path>,
    runtimes: &[RuntimeKind],
    seconds: f64,
    fraction: f64,
) -> anyhow::Result<SoakReport> {
    progress("soak: starting a temporary node");
    let node = TempNode::start(exe).await?;
    let pid = node.pid().context("the node has no pid")?;
    let sandboxed = node.isolation().is_some_and(|i| i.starts_with("sandbox"));
    let credentials: Credentials = node.credentials().clone();
    let client = Arc::new(LambdaClient::new(
        http_client(CAPACITY_WORKERS * (runtimes.len() + 1)),
        node.endpoint(),
        credentials.clone(),
    )?);
    let payload = Bytes::from_static(PAYLOAD.as_bytes());
    let expected: Arc<serde_json::Value> = Arc::new(serde_json::from_str(PAYLOAD)?);

    let mut targets = Vec::new();
    for &kind in runtimes {
        let (runtime, handler, zip) = match zip_for(kind, noop) {
            Ok(p) => p,
            Err(e) => {
                progress(format!("soak: skipping {}: {e:#}", kind.name()));
                continue;
            }
        };
        let name = format!("ignis-soak-{}", kind.name());
        client
            .create_function(&FunctionSpec {
                name: name.clone(),
                runtime,
                handler,
                zip,
                memory_size: MEMORY_SIZE_MB,
                timeout_s: FUNCTION_TIMEOUT_S,
            })
            .await
            .with_context(|| format!("creating {name}"))?;
        targets.push(Target {
            client: client.clone(),
            function: name.into(),
            payload: payload.clone(),
            expected: expected.clone(),
            via: Via::Invoke,
        });
    }
    if targets.is_empty() {
        bail!("no runtime to soak with");
    }
    let (python, handler, _) = zip_for(RuntimeKind::Python, None)?;
    client
        .create_function(&FunctionSpec {
            name: HOSTILE_NAME.into(),
            runtime: python,
            handler,
            zip: crate::package::zip(&[("lambda_function.py", HOSTILE_SOURCE.as_bytes(), 0o644)])?,
            memory_size: 256,
            timeout_s: 5,
        })
        .await
        .context("creating the hostile function")?;

    progress(format!(
        "soak: measuring capacity ({} functions, {CAPACITY_WORKERS} workers each, {}s)",
        targets.len(),
        CAPACITY_PHASE.as_secs()
    ));
    let phases = targets
        .iter()
        .map(|t| {
            let t = t.clone();
            tokio::spawn(async move {
                concurrent(&t, CAPACITY_WORKERS, Stop::After(CAPACITY_PHASE)).await
            })
        })
        .collect::<Vec<_>>();
    let mut capacity_rps = 0.0;
    for phase in phases {
        let (samples, elapsed) = phase.await?;
        if samples.errors > 0 {
            bail!(
                "the capacity phase failed: {}",
                samples.first_error.unwrap_or_default()
            );
        }
        capacity_rps += samples.latencies.len() as f64 / elapsed.as_secs_f64();
    }
    let target_rps = capacity_rps * fraction;
    progress(format!(
        "soak: capacity {capacity_rps:.0}/s; {seconds:.0}s at {target_rps:.0}/s with the hostile function"
    ));

    let started = Instant::now();
    let duration = Duration::from_secs_f64(seconds);
    let results = Arc::new(Mutex::new(Samples::default()));
    let hostile = Arc::new(Mutex::new(BTreeMap::<String, AttackOutcomes>::new()));
    let attacks: Vec<&'static str> = ATTACKS
        .into_iter()
        .filter(|a| sandboxed || !SANDBOX_ONLY.contains(a))
        .collect();

    let attacker = {
        let client = client.clone();
        let hostile = hostile.clone();
        tokio::spawn(async move {
            let mut i = 0usize;
            while started.elapsed() < duration {
                let action = attacks[i % attacks.len()];
                i += 1;
                let event = Bytes::from(format!("{{\"action\":\"{action}\"}}"));
                let outcome = client.invoke(HOSTILE_NAME, event).await;
                let mut h = hostile.lock().unwrap_or_else(PoisonError::into_inner);
                let o = h.entry(action.to_owned()).or_default();
                o.invokes += 1;
                match outcome {
                    Ok(r) if r.status == 429 => o.throttled += 1,
                    Ok(r) if r.status == 200 && r.headers.contains_key("x-amz-function-error") => {
                        o.function_errors += 1
                    }
                    Ok(r) if r.status == 200 => o.succeeded += 1,
                    _ => o.other += 1,
                }
            }
        })
    };

    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while started.elapsed() < duration {
            samples.push(sample(pid, started));
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
        samples
    });

    // As many callers per function as the capacity phase had: each function keeps the
    // environments it had then (more would only retire others' to fit the node's memory).
    let callers: Vec<Arc<Semaphore>> = targets
        .iter()
        .map(|_| Arc::new(Semaphore::new(CAPACITY_WORKERS)))
        .collect();
    let mut shed = 0u64;
    let mut sent = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    // Every millisecond, start the invokes that are due by now, as far as free callers allow;
    // what falls more than a second behind is shed.
    let behind_at_most = target_rps.max(1.0) as u64;
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let due = (started.elapsed().as_secs_f64() * target_rps) as u64;
        if due.saturating_sub(sent) > behind_at_most {
            shed += due - sent - behind_at_most;
            sent = due - behind_at_most;
        }
        while sent < due {
            let i = (sent as usize) % targets.len();
            let Ok(permit) = callers[i].clone().try_acquire_owned() else {
                break;
            };
            let target = targets[i].clone();
            sent += 1;
            let results = results.clone();
            tasks.spawn(async move {
                let r = target.invoke_once().await;
                results
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .record(r.map_err(|e| format!("{}: {e}", target.function)));
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let load_seconds = started.elapsed().as_secs_f64();
    let samples = sampler.await?;
    attacker.await?;
    progress(format!("soak: load done; quiet for {}s", QUIET.as_secs()));
    tokio::time::sleep(QUIET).await;
    let after = sample(pid, started);

    let results = std::mem::take(&mut *results.lock().unwrap_or_else(PoisonError::into_inner));
    let hostile = std::mem::take(&mut *hostile.lock().unwrap_or_else(PoisonError::into_inner));
    let report = SoakReport {
        isolation: node.isolation().map(str::to_owned),
        seconds: load_seconds,
        functions: targets.iter().map(|t| t.function.to_string()).collect(),
        capacity_rps,
        fraction,
        target_rps,
        achieved_rps: results.latencies.len() as f64 / load_seconds,
        invokes: results.latencies.len() + results.errors as usize,
        errors: results.errors,
        first_error: results.first_error.clone(),
        shed_by_client: shed,
        latency: Summary::of(&results.latencies),
        hostile,
        rss_mib: trend(&samples, after, |s| s.rss_mib),
        fds: trend(&samples, after, |s| s.fds as f64),
        samples,
    };
    stop_node(node, report.errors > 0).await;
    Ok(report)
}

pub fn render(r: &SoakReport) -> String {
    let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
    let mut out = String::new();
    out.push_str(&format!(
        "soak: {:.0} s on {} ({})\n",
        r.seconds,
        r.isolation.as_deref().unwrap_or("unknown isolation"),
        r.functions.join(", ")
    ));
    out.push_str(&format!(
        "  capacity {:.0}/s; target {:.0}/s ({:.0} %); achieved {:.1}/s; shed by the client {}\n",
        r.capacity_rps,
        r.target_rps,
        r.fraction * 100.0,
        r.achieved_rps,
        r.shed_by_client
    ));
    out.push_str(&format!(
        "  well-behaved: {} invokes, {} errors{}\n",
        r.invokes,
        r.errors,
        r.first_error
            .as_deref()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default()
    ));
    if let Some(l) = &r.latency {
        out.push_str(&format!(
            "  latency p50 {} p90 {} p99 {} max {}\n",
            ms(l.p50_us),
            ms(l.p90_us),
            ms(l.p99_us),
            ms(l.max_us)
        ));
    }
    out.push_str("  hostile: attack invokes ok function-error throttled other\n");
    for (attack, o) in &r.hostile {
        out.push_str(&format!(
            "    {attack:<12} {:>6} {:>4} {:>6} {:>6} {:>5}\n",
            o.invokes, o.succeeded, o.function_errors, o.throttled, o.other
        ));
    }
    out.push_str(&format!(
        "  server RSS MiB: start {:.1}, max {:.1}, end {:.1}, after {} s quiet {:.1}\n",
        r.rss_mib.start,
        r.rss_mib.max,
        r.rss_mib.end,
        QUIET.as_secs(),
        r.rss_mib.after_quiet
    ));
    out.push_str(&format!(
        "  server descriptors: start {:.0}, max {:.0}, end {:.0}, after quiet {:.0}\n",
        r.fds.start, r.fds.max, r.fds.end, r.fds.after_quiet
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_take_first_max_last_and_after() {
        let s = |at_s, rss_mib, fds| Sample { at_s, rss_mib, fds };
        let samples = [s(0.0, 10.0, 40), s(5.0, 30.0, 90), s(10.0, 12.0, 41)];
        let t = trend(&samples, s(40.0, 11.0, 39), |x| x.rss_mib);
        assert_eq!(
            (t.start, t.max, t.end, t.after_quiet),
            (10.0, 30.0, 12.0, 11.0)
        );
        let f = trend(&samples, s(40.0, 11.0, 39), |x| x.fds as f64);
        assert_eq!(
            (f.start, f.max, f.end, f.after_quiet),
            (40.0, 90.0, 41.0, 39.0)
        );
        // This process is measurable.
        let me = sample(std::process::id(), Instant::now());
        assert!(me.rss_mib > 0.0 && me.fds > 0);
    }
}
