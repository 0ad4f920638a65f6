//! `ignis bench`: Ignis's load harness.
//!
//! It drives a running Ignis through the public, SigV4-signed Lambda API (a temporary node it
//! starts itself, or `--endpoint`) with three no-op functions — Python, Node.js and a native
//! `provided.al2023` runtime (the `ignis-bench-noop` binary of this crate) — and measures, each
//! beside a baseline taken in the same run:
//!
//! - warm-invoke latency at concurrency 1, beside a bare HTTP/1.1 round trip (same client, same
//!   payload) to a minimal hyper echo server started in-process;
//! - throughput and latency at a chosen concurrency, beside the same echo server at the same
//!   concurrency;
//! - cold starts (the first invoke after CreateFunction or after UpdateFunctionConfiguration
//!   changed an environment variable), beside starting the interpreter or binary directly;
//! - errors: any non-200 answer, `X-Amz-Function-Error`, or a body other than the event.
//!
//! It prints a table (and JSON with `--json`) and fails when any invoke failed. Benchmarks
//! report; no test asserts on wall-clock time.

pub mod authorization;
pub mod baseline;
pub mod client;
pub mod isolation;
pub mod load;
pub mod node;
pub mod objects;
pub mod observability;
pub mod package;
pub mod queues;
pub mod report;
pub mod soak;
pub mod stats;
pub mod urls;

use anyhow::{Context, bail};
use baseline::{BareStart, EchoServer};
use bytes::Bytes;
use client::{Credentials, FunctionSpec, LambdaClient, http_client};
use load::{CpuTimes, Samples, Stop, Target, Via, concurrent, sequential};
use node::TempNode;
use report::{
    Baseline, ColdStarts, CpuPerRequest, HostInfo, Latency, Report, RuntimeReport, Settings,
    Status, Throughput,
};
use stats::Summary;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The event every invoke sends; the no-op handlers return it.
pub const PAYLOAD: &str = "{\"n\":1}";
/// MemorySize of the bench functions: one full vCPU on Lambda, so a launcher that enforces
/// Lambda's CPU share never throttles the no-op functions.
pub const MEMORY_SIZE_MB: u32 = 1769;
/// The /tmp (EphemeralStorage) each bench environment reserves: Lambda's default.
pub const TMP_MB: u64 = 512;
/// Function timeout, generous so that a loaded host does not turn slowness into errors.
pub const FUNCTION_TIMEOUT_S: u32 = 30;
/// File name of the native no-op runtime, next to the `ignis` binary.
pub const NOOP_BIN: &str = "ignis-bench-noop";
/// The environment variable bumped to force fresh environments.
pub const GENERATION_VAR: &str = "IGNIS_BENCH_GENERATION";

/// The three no-op functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    Python,
    Node,
    Native,
}

impl RuntimeKind {
    pub const ALL: [RuntimeKind; 3] = [RuntimeKind::Python, RuntimeKind::Node, RuntimeKind::Native];

    /// `python`, `node` or `native` (also `nodejs`, `provided`).
    pub fn parse(name: &str) -> Option<RuntimeKind> {
        match name.trim().to_ascii_lowercase().as_str() {
            "python" => Some(RuntimeKind::Python),
            "node" | "nodejs" => Some(RuntimeKind::Node),
            "native" | "provided" => Some(RuntimeKind::Native),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RuntimeKind::Python => "python",
            RuntimeKind::Node => "node",
            RuntimeKind::Native => "native",
        }
    }
}

/// What `ignis bench` was asked for; `None` means the default of the mode (`short` or full).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A running node (`http://host:port`); credentials then come from `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY` and `AWS_REGION`. Without it a temporary node is started.
    pub endpoint: Option<String>,
    /// Workers in the throughput phase (default 16).
    pub concurrency: Option<usize>,
    /// Sequential warm invokes measured (default 2000; 50 with `short`).
    pub requests: Option<usize>,
    /// Length of the throughput phase in seconds (default 10; 2 with `short`).
    pub duration_secs: Option<f64>,
    /// Cold starts per runtime (default 10; 2 with `short`).
    pub cold_starts: Option<usize>,
    /// Which of `python`, `node`, `native` to run (default: all this host can run).
    pub runtimes: Option<Vec<String>>,
    /// CI mode: a few seconds in total.
    pub short: bool,
    /// Print JSON on stdout (the table then goes to stderr).
    pub json: bool,
    /// The `ignis` binary for the temporary node (default: the current executable).
    pub ignis_exe: Option<PathBuf>,
    /// The native no-op runtime (default: `ignis-bench-noop` next to the current executable).
    pub noop_exe: Option<PathBuf>,
    /// Instead of the usual phases: cold starts of a sandboxed node beside a plain-process node
    /// (see [`isolation`]).
    pub isolation_overhead: bool,
    /// Instead of the usual phases (or after the overhead): start this many idle sandboxed
    /// Python environments and report what each costs.
    pub idle_envs: Option<usize>,
    /// Instead of the usual phases: this many seconds of mixed load at 80 % of the measured
    /// capacity with a hostile function in the mix (see [`soak`]).
    pub soak_secs: Option<f64>,
    /// Instead of the usual phases: the S3 endpoint's throughput beside a disk copy, and the
    /// time from an upload to the start of the function it notifies (see [`objects`]).
    pub s3: bool,
    /// Instead of the usual phases: warm requests to the native no-op function through its
    /// function URL beside the same requests through Invoke (see [`urls`]).
    pub urls: bool,
    /// Instead of the usual phases: warm invokes with JSON logging and with OTLP export, each
    /// beside the same invoke without it (see [`observability`]).
    pub observability: bool,
    /// Instead of the usual phases: SQS send and receive throughput and Event invokes'
    /// enqueue latency, beside the same node on tmpfs (see [`queues`]).
    pub sqs: bool,
    /// Instead of the usual phases: warm invokes by a key whose policies are evaluated, beside
    /// the same invokes by the root user, who is never evaluated (see [`authorization`]).
    pub authorization: bool,
}

/// Options resolved against the mode's defaults and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub concurrency: usize,
    pub requests: usize,
    pub duration: Duration,
    pub cold_starts: usize,
    pub runtimes: Vec<RuntimeKind>,
    /// Whether the runtimes were named (an unavailable one is then a failure, not a skip).
    pub explicit_runtimes: bool,
    /// Sequential invokes before the measured ones.
    pub warmup_sequential: usize,
    /// Invokes per worker before the throughput phase (so every environment exists).
    pub warmup_per_worker: usize,
    pub short: bool,
    pub json: bool,
}

impl Plan {
    pub fn from_options(o: &Options) -> anyhow::Result<Plan> {
        let (requests, secs, cold, warm_seq, warm_worker) = if o.short {
            (50, 2.0, 2, 10, 3)
        } else {
            (2000, 10.0, 10, 100, 20)
        };
        let concurrency = o.concurrency.unwrap_or(16);
        let requests = o.requests.unwrap_or(requests);
        let secs = o.duration_secs.unwrap_or(secs);
        let cold_starts = o.cold_starts.unwrap_or(cold);
        if concurrency == 0 || requests == 0 || cold_starts == 0 {
            bail!("--concurrency, --requests and --cold-starts must be at least 1");
        }
        if !(secs.is_finite() && secs > 0.0 && secs <= 86_400.0) {
            bail!("--duration must be a positive number of seconds");
        }
        let mut runtimes = Vec::new();
        match &o.runtimes {
            None => runtimes.extend(RuntimeKind::ALL),
            Some(names) => {
                for name in names
                    .iter()
                    .flat_map(|n| n.split(','))
                    .filter(|n| !n.trim().is_empty())
                {
                    let kind = RuntimeKind::parse(name).with_context(|| {
                        format!("unknown runtime {name:?}: use python, node or native")
                    })?;
                    if !runtimes.contains(&kind) {
                        runtimes.push(kind);
                    }
                }
                if runtimes.is_empty() {
                    bail!("--runtimes names no runtime: use python, node or native");
                }
            }
        }
        Ok(Plan {
            concurrency,
            requests,
            duration: Duration::from_secs_f64(secs),
            cold_starts,
            runtimes,
            explicit_runtimes: o.runtimes.is_some(),
            warmup_sequential: warm_seq.min(requests),
            warmup_per_worker: warm_worker,
            short: o.short,
            json: o.json,
        })
    }
}

/// Runs the bench, prints the report, and fails when any invoke failed or a requested runtime
/// could not be measured.
pub fn run(options: Options) -> anyhow::Result<()> {
    let plan = Plan::from_options(&options)?;
    if options.s3 {
        let (exe, _) = binaries(&options)?;
        return objects::run(&exe, plan.short, plan.json);
    }
    if options.sqs {
        let (exe, _) = binaries(&options)?;
        return queues::run(
            &exe,
            options.concurrency,
            options.duration_secs,
            plan.short,
            plan.json,
        );
    }
    if options.urls {
        return urls::run(&plan, &options);
    }
    if options.authorization {
        let (exe, _) = binaries(&options)?;
        return authorization::run(&plan, &options, &exe);
    }
    if options.observability {
        let (exe, _) = binaries(&options)?;
        return observability::run(&plan, &options, &exe);
    }
    if let Some(seconds) = options.soak_secs {
        let (exe, noop) = binaries(&options)?;
        return soak::run(&exe, noop.as_deref(), &plan.runtimes, seconds, plan.json);
    }
    if options.isolation_overhead || options.idle_envs.is_some() {
        let (exe, noop) = binaries(&options)?;
        let runtimes = if plan.explicit_runtimes {
            plan.runtimes.clone()
        } else {
            vec![RuntimeKind::Python, RuntimeKind::Native]
        };
        return isolation::run(
            &exe,
            noop.as_deref(),
            &runtimes,
            options.cold_starts,
            options.isolation_overhead,
            options.idle_envs,
            plan.json,
        );
    }
    let runtime = async_runtime()?;
    let report = runtime.block_on(execute(&plan, &options))?;
    print_report(&report.render(), plan.json.then(|| report.to_json()));
    let errors = report.total_errors();
    let failed: Vec<String> = report
        .failed_runtimes()
        .iter()
        .map(|r| {
            if r.runtime.is_empty() {
                r.kind.clone()
            } else {
                r.runtime.clone()
            }
        })
        .collect();
    if errors > 0 {
        bail!("{errors} invokes failed (see above)");
    }
    if !failed.is_empty() {
        bail!("could not measure {}", failed.join(", "));
    }
    Ok(())
}

/// The `ignis` binary for temporary nodes and the native no-op runtime beside it.
fn binaries(options: &Options) -> anyhow::Result<(PathBuf, Option<PathBuf>)> {
    let exe = match &options.ignis_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("locating the ignis binary")?,
    };
    let noop = options
        .noop_exe
        .clone()
        .or_else(|| Some(std::env::current_exe().ok()?.parent()?.join(NOOP_BIN)));
    Ok((exe, noop))
}

/// Stops a temporary node, first printing the end of its log when the run `failed`.
pub(crate) async fn stop_node(node: TempNode, failed: bool) {
    if failed {
        eprintln!(
            "--- the end of the temporary node's log ---\n{}\n---",
            node.log_tail(40)
        );
    }
    if let Err(e) = node.stop().await {
        progress(format!("stopping the temporary node failed: {e}"));
    }
}

/// The multi-threaded runtime every mode runs on.
pub(crate) fn async_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Prints a mode's table, on stdout; with `json`, on stderr and the JSON on stdout.
pub(crate) fn print_report(text: &str, json: Option<String>) {
    match json {
        Some(json) => {
            eprint!("{text}");
            println!("{json}");
        }
        None => print!("{text}"),
    }
}

/// Prints a mode's report (and its JSON document with `--json`); fails when any of its
/// `what` (requests, invokes) failed.
pub(crate) fn print_checked(
    text: &str,
    json: Option<String>,
    errors: u64,
    what: &str,
) -> anyhow::Result<()> {
    print_report(text, json);
    if errors > 0 {
        anyhow::bail!("{errors} {what} failed (see above)");
    }
    Ok(())
}

pub(crate) fn progress(message: impl AsRef<str>) {
    eprintln!("ignis bench: {}", message.as_ref());
}

/// A runtime ready to be measured.
struct Prepared {
    kind: RuntimeKind,
    runtime: String,
    handler: String,
    zip: Vec<u8>,
    bare: BareStart,
}

/// Which runtimes this host can run, with their packages and bare starts; the others as
/// skipped (or failed, when they were asked for by name).
fn prepare_runtimes(plan: &Plan, options: &Options) -> Vec<Result<Prepared, Box<RuntimeReport>>> {
    let not_run = |kind: RuntimeKind, runtime: &str, reason: String| RuntimeReport {
        kind: kind.name().into(),
        runtime: runtime.into(),
        status: if plan.explicit_runtimes {
            Status::Failed
        } else {
            Status::Skipped
        },
        reason: Some(reason),
        cold: None,
        warm: None,
        throughput: None,
    };
    let zip_failed = |kind: RuntimeKind, runtime: &str, e: zip::result::ZipError| {
        Box::new(RuntimeReport {
            status: Status::Failed,
            ..not_run(kind, runtime, format!("building the package failed: {e}"))
        })
    };
    plan.runtimes
        .iter()
        .map(|&kind| match kind {
            RuntimeKind::Python => {
                let found = baseline::probe_python("python3.11")
                    .or_else(|| baseline::probe_python("python3"));
                let Some((minor, exe)) = found else {
                    return Err(Box::new(not_run(
                        kind,
                        "",
                        "no python3.11 or python3 on PATH".into(),
                    )));
                };
                let runtime = format!("python3.{minor}");
                let zip = package::python().map_err(|e| zip_failed(kind, &runtime, e))?;
                Ok(Prepared {
                    kind,
                    handler: package::PYTHON_HANDLER.into(),
                    zip,
                    bare: BareStart {
                        program: exe,
                        args: vec!["-c".into(), "pass".into()],
                    },
                    runtime,
                })
            }
            RuntimeKind::Node => {
                let Some((major, exe)) = baseline::probe_node() else {
                    return Err(Box::new(not_run(kind, "", "node not found on PATH".into())));
                };
                let runtime = format!("nodejs{major}.x");
                let zip = package::node().map_err(|e| zip_failed(kind, &runtime, e))?;
                Ok(Prepared {
                    kind,
                    handler: package::NODE_HANDLER.into(),
                    zip,
                    bare: BareStart {
                        program: exe,
                        args: vec!["-e".into(), "0".into()],
                    },
                    runtime,
                })
            }
            RuntimeKind::Native => {
                let runtime = "provided.al2023";
                let path = options.noop_exe.clone().or_else(|| {
                    Some(std::env::current_exe().ok()?.parent()?.join(NOOP_BIN))
                });
                let bytes = path.as_ref().and_then(|p| std::fs::read(p).ok());
                let (Some(path), Some(bytes)) = (path, bytes) else {
                    return Err(Box::new(not_run(
                        kind,
                        runtime,
                        format!(
                            "the native no-op runtime `{NOOP_BIN}` is missing next to the ignis binary: build it with `cargo build --bins` (add --release for a release ignis)"
                        ),
                    )));
                };
                let zip = package::native(&bytes).map_err(|e| zip_failed(kind, runtime, e))?;
                Ok(Prepared {
                    kind,
                    runtime: runtime.into(),
                    handler: "bootstrap".into(),
                    zip,
                    bare: BareStart {
                        program: path,
                        args: vec!["--version".into()],
                    },
                })
            }
        })
        .collect()
}

/// Credentials for `--endpoint`, from the AWS variables.
fn credentials_from_env() -> anyhow::Result<Credentials> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (Some(access_key_id), Some(secret_access_key)) =
        (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        bail!(
            "--endpoint needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (e.g. `eval \"$(ignis env)\"`)"
        );
    };
    Ok(Credentials {
        access_key_id,
        secret_access_key,
        region: var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
    })
}

/// The node to measure: `--endpoint`'s, or a temporary one (then also returned, to be stopped)
/// whose memory ceiling has room for an environment per worker and four more; its endpoint and
/// credentials.
pub(crate) async fn node_for(
    plan: &Plan,
    options: &Options,
) -> anyhow::Result<(Option<TempNode>, String, Credentials)> {
    if let Some(endpoint) = &options.endpoint {
        return Ok((None, endpoint.clone(), credentials_from_env()?));
    }
    let exe = match &options.ignis_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("locating the ignis binary")?,
    };
    progress("starting a temporary node");
    // MemorySize 1769 is for the CPU share, and each environment reserves /tmp's default 512 MB;
    // the no-op functions use next to no memory and write nothing to their (sparse) /tmp. Room
    // for every worker's environment (and the cold-start phase's) however much memory or free
    // disk this host has, so the node's ceilings do not throttle the load.
    let environments = plan.concurrency as u64 + 4;
    let memory = (environments * u64::from(MEMORY_SIZE_MB)).to_string();
    let tmp = (environments * TMP_MB).to_string();
    let ceilings = ["--max-memory", &memory, "--max-tmp-disk", &tmp];
    let node = TempNode::start_with(&exe, &ceilings).await?;
    let endpoint = node.endpoint().to_owned();
    let credentials = node.credentials().clone();
    Ok((Some(node), endpoint, credentials))
}

async fn execute(plan: &Plan, options: &Options) -> anyhow::Result<Report> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let host = HostInfo::probe();
    let prepared = prepare_runtimes(plan, options);

    let (node, endpoint, credentials) = node_for(plan, options).await?;
    progress(format!("endpoint {endpoint}"));

    let http = http_client(plan.concurrency);
    let ignis = Arc::new(LambdaClient::new(
        http.clone(),
        &endpoint,
        credentials.clone(),
    )?);
    let echo = EchoServer::start()
        .await
        .context("starting the echo server")?;
    let payload = Bytes::from_static(PAYLOAD.as_bytes());
    let expected: Arc<serde_json::Value> =
        Arc::new(serde_json::from_str(PAYLOAD).expect("the payload is JSON"));

    progress("baseline: bare HTTP echo");
    let echo_target = Target {
        client: Arc::new(LambdaClient::new(
            http.clone(),
            &echo.endpoint(),
            credentials,
        )?),
        function: "baseline".into(),
        payload: payload.clone(),
        expected: expected.clone(),
        via: Via::Invoke,
    };
    let baseline = Baseline {
        warm: warm_phase(&echo_target, plan).await,
        throughput: throughput_phase(&echo_target, plan, plan.concurrency).await,
    };
    drop(echo);

    let mut runtimes = Vec::new();
    for p in prepared {
        match p {
            Err(report) => {
                progress(format!(
                    "{} {}: {}",
                    if report.status == Status::Failed {
                        "cannot run"
                    } else {
                        "skipping"
                    },
                    report.kind,
                    report.reason.as_deref().unwrap_or_default()
                ));
                runtimes.push(*report);
            }
            Ok(p) => {
                let target = Target {
                    client: ignis.clone(),
                    function: function_name(p.kind.name()).into(),
                    payload: payload.clone(),
                    expected: expected.clone(),
                    via: Via::Invoke,
                };
                runtimes.push(bench_runtime(&target, p, plan).await);
            }
        }
    }

    let report = Report {
        started_at,
        host,
        endpoint,
        temporary_node: node.is_some(),
        load_average_at_end: report::load_average(),
        isolation: node.as_ref().and_then(|n| n.isolation().map(str::to_owned)),
        settings: Settings {
            concurrency: plan.concurrency,
            warm_requests: plan.requests,
            throughput_seconds: plan.duration.as_secs_f64(),
            cold_starts: plan.cold_starts,
            memory_size_mb: MEMORY_SIZE_MB,
            payload: PAYLOAD.into(),
            short: plan.short,
        },
        baseline,
        runtimes,
    };
    if let Some(node) = node {
        let failed = report.total_errors() > 0 || !report.failed_runtimes().is_empty();
        stop_node(node, failed).await;
    }
    Ok(report)
}

/// A fresh function name, `ignis-bench-{label}-` and eight random hex digits.
pub(crate) fn function_name(label: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("ignis-bench-{label}-{}", &random[..8])
}

/// Creates the function, measures it, deletes it.
async fn bench_runtime(target: &Target, p: Prepared, plan: &Plan) -> RuntimeReport {
    let mut report = RuntimeReport {
        kind: p.kind.name().into(),
        runtime: p.runtime.clone(),
        status: Status::Ran,
        reason: None,
        cold: None,
        warm: None,
        throughput: None,
    };
    progress(format!("{}: creating {}", p.runtime, target.function));
    let spec = FunctionSpec {
        name: target.function.to_string(),
        runtime: p.runtime.clone(),
        handler: p.handler.clone(),
        zip: p.zip,
        memory_size: MEMORY_SIZE_MB,
        timeout_s: FUNCTION_TIMEOUT_S,
    };
    if let Err(e) = target.client.create_function(&spec).await {
        report.status = Status::Failed;
        report.reason = Some(e.to_string());
        return report;
    }

    progress(format!("{}: {} cold starts", p.runtime, plan.cold_starts));
    let cold = cold_phase(target, &p.bare, plan).await;
    let usable = cold.ignis.summary.is_some();
    if !usable {
        report.status = Status::Failed;
        report.reason = Some(format!(
            "the first invoke failed, so the other phases were skipped: {}",
            cold.ignis.first_error.as_deref().unwrap_or("?")
        ));
    }
    report.cold = Some(cold);
    if usable {
        progress(format!("{}: {} warm invokes", p.runtime, plan.requests));
        report.warm = Some(warm_phase(target, plan).await);
        progress(format!(
            "{}: throughput at concurrency {} for {:?}",
            p.runtime, plan.concurrency, plan.duration
        ));
        report.throughput = Some(throughput_phase(target, plan, plan.concurrency).await);
    }

    if let Err(e) = target.client.delete_function(&target.function).await {
        progress(format!(
            "{}: deleting {} failed: {e}",
            p.runtime, target.function
        ));
    }
    report
}

/// K cold starts, each beside one bare start; stops at once if the very first invoke fails.
async fn cold_phase(target: &Target, bare: &BareStart, plan: &Plan) -> ColdStarts {
    let mut ignis = Samples::default();
    let mut base = Samples::default();
    for i in 0..plan.cold_starts {
        let b = bare.clone();
        base.record(
            tokio::task::spawn_blocking(move || b.time().map_err(|e| e.to_string()))
                .await
                .unwrap_or_else(|e| Err(e.to_string())),
        );
        if i > 0 {
            let generation = i.to_string();
            if let Err(e) = target
                .client
                .set_environment(&target.function, &[(GENERATION_VAR, &generation)])
                .await
            {
                ignis.error(e.to_string());
                continue;
            }
        }
        let result = target.invoke_once().await;
        let failed = result.is_err();
        ignis.record(result);
        if failed && i == 0 {
            break;
        }
    }
    ColdStarts {
        ignis: latency(ignis, None),
        baseline_command: bare.display(),
        baseline: latency(base, None),
    }
}

/// Warm-up, then `requests` sequential invokes.
async fn warm_phase(target: &Target, plan: &Plan) -> Latency {
    one(warm_phases(std::slice::from_ref(target), plan, 1).await)
}

/// Warm-up at the concurrency (every worker a few invokes, so every environment exists), then
/// the timed phase.
async fn throughput_phase(target: &Target, plan: &Plan, concurrency: usize) -> Throughput {
    one(throughput_phases(std::slice::from_ref(target), plan, concurrency, 1, None).await)
}

fn one<T>(mut phases: Vec<T>) -> T {
    phases.pop().expect("one target, one phase")
}

/// Each target's warm-up, then `requests` sequential invokes of each, in `rounds` turns (each
/// target a share of its invokes per turn), so that targets compared with each other meet the
/// same moments of the host's load.
pub(crate) async fn warm_phases(targets: &[Target], plan: &Plan, rounds: usize) -> Vec<Latency> {
    let mut warmups = Vec::with_capacity(targets.len());
    for target in targets {
        warmups.push(sequential(target, plan.warmup_sequential).await);
    }
    let mut measured = vec![Samples::default(); targets.len()];
    for round in 0..rounds {
        for (target, samples) in targets.iter().zip(&mut measured) {
            samples.merge(sequential(target, share(plan.requests, rounds, round)).await);
        }
    }
    measured
        .into_iter()
        .zip(warmups)
        .map(|(m, w)| latency(m, Some(w)))
        .collect()
}

/// Each target's warm-up at `concurrency` (every worker a few invokes, so every environment
/// exists), then the timed phase of each, in `rounds` turns of a share of the duration. The
/// CPU time each target's turns cost this process (and the node's, `node_pid`) is counted too.
pub(crate) async fn throughput_phases(
    targets: &[Target],
    plan: &Plan,
    concurrency: usize,
    rounds: usize,
    node_pid: Option<u32>,
) -> Vec<Throughput> {
    let rounds = rounds.max(1);
    let mut warmups = Vec::with_capacity(targets.len());
    for target in targets {
        let each = Stop::EachWorker(plan.warmup_per_worker);
        warmups.push(concurrent(target, concurrency, each).await.0);
    }
    let turn = Stop::After(plan.duration / u32::try_from(rounds).unwrap_or(u32::MAX));
    let zero = CpuTimes {
        node: node_pid.map(|_| Duration::ZERO),
        ..CpuTimes::default()
    };
    let mut measured = vec![(Samples::default(), Duration::ZERO, zero); targets.len()];
    for _ in 0..rounds {
        for (target, (samples, elapsed, cpu)) in targets.iter().zip(&mut measured) {
            let before = CpuTimes::now(node_pid);
            let (s, e) = concurrent(target, concurrency, turn).await;
            cpu.add(CpuTimes::now(node_pid).since(before));
            samples.merge(s);
            *elapsed += e;
        }
    }
    measured
        .into_iter()
        .zip(warmups)
        .map(|((samples, elapsed, cpu), warmup)| {
            let ok = samples.latencies.len();
            let per_request = |d: Duration| d.as_secs_f64() * 1e6 / ok as f64;
            Throughput {
                concurrency,
                elapsed_seconds: elapsed.as_secs_f64(),
                invokes_per_second: ok as f64 / elapsed.as_secs_f64().max(1e-9),
                latency: latency(samples, Some(warmup)),
                cpu: (ok > 0).then(|| CpuPerRequest {
                    node_us: cpu.node.map(per_request),
                    client_us: per_request(cpu.client),
                }),
            }
        })
        .collect()
}

/// The `round`th of `rounds` shares of `total` (the first ones one larger when it does not
/// divide evenly).
fn share(total: usize, rounds: usize, round: usize) -> usize {
    let rounds = rounds.max(1);
    total / rounds + usize::from(round < total % rounds)
}

/// The summary of `samples`, counting the warm-up's errors too.
fn latency(samples: Samples, warmup: Option<Samples>) -> Latency {
    let mut errors = samples.errors;
    let mut first_error = samples.first_error;
    if let Some(w) = warmup {
        errors += w.errors;
        first_error = w.first_error.or(first_error);
    }
    Latency {
        summary: Summary::of(&samples.latencies),
        errors,
        first_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_short_mode() {
        let full = Plan::from_options(&Options::default()).unwrap();
        assert_eq!(full.concurrency, 16);
        assert_eq!(full.requests, 2000);
        assert_eq!(full.duration, Duration::from_secs(10));
        assert_eq!(full.cold_starts, 10);
        assert_eq!(full.runtimes, RuntimeKind::ALL.to_vec());
        assert!(!full.explicit_runtimes);

        let short = Plan::from_options(&Options {
            short: true,
            ..Options::default()
        })
        .unwrap();
        assert_eq!(
            (short.requests, short.duration, short.cold_starts),
            (50, Duration::from_secs(2), 2)
        );

        let given = Plan::from_options(&Options {
            short: true,
            requests: Some(7),
            concurrency: Some(4),
            duration_secs: Some(0.5),
            cold_starts: Some(3),
            ..Options::default()
        })
        .unwrap();
        assert_eq!(given.requests, 7);
        assert_eq!(given.warmup_sequential, 7);
        assert_eq!(given.concurrency, 4);
        assert_eq!(given.duration, Duration::from_millis(500));
        assert_eq!(given.cold_starts, 3);
    }

    #[test]
    fn runtime_selection() {
        let plan = |names: &[&str]| {
            Plan::from_options(&Options {
                runtimes: Some(names.iter().map(|s| (*s).to_owned()).collect()),
                ..Options::default()
            })
        };
        let p = plan(&["native,python", "native"]).unwrap();
        assert_eq!(p.runtimes, vec![RuntimeKind::Native, RuntimeKind::Python]);
        assert!(p.explicit_runtimes);
        assert_eq!(plan(&["nodejs"]).unwrap().runtimes, vec![RuntimeKind::Node]);
        assert!(plan(&["ruby"]).is_err());
        assert!(plan(&[""]).is_err());
    }

    #[test]
    fn bad_numbers_are_refused() {
        for o in [
            Options {
                concurrency: Some(0),
                ..Options::default()
            },
            Options {
                requests: Some(0),
                ..Options::default()
            },
            Options {
                cold_starts: Some(0),
                ..Options::default()
            },
            Options {
                duration_secs: Some(0.0),
                ..Options::default()
            },
            Options {
                duration_secs: Some(f64::NAN),
                ..Options::default()
            },
        ] {
            assert!(Plan::from_options(&o).is_err(), "{o:?}");
        }
    }

    #[test]
    fn shares_add_up() {
        for (total, rounds) in [(2000, 5), (50, 2), (7, 3), (1, 4), (10, 1)] {
            let shares: Vec<usize> = (0..rounds).map(|r| share(total, rounds, r)).collect();
            assert_eq!(shares.iter().sum::<usize>(), total, "{shares:?}");
            assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1);
        }
        assert_eq!(share(7, 3, 0), 3);
        assert_eq!(share(7, 3, 2), 2);
        assert_eq!(share(5, 0, 0), 5, "no rounds is one");
    }

    #[test]
    fn warmup_errors_count() {
        let mut measured = Samples::default();
        measured.record(Ok(Duration::from_millis(2)));
        let mut warmup = Samples::default();
        warmup.record(Err("warm-up failed".into()));
        let l = latency(measured, Some(warmup));
        assert_eq!(l.errors, 1);
        assert_eq!(l.first_error.as_deref(), Some("warm-up failed"));
        assert_eq!(l.summary.unwrap().count, 1);
    }

    #[test]
    fn a_missing_noop_binary_is_reported_with_the_fix() {
        let plan = Plan::from_options(&Options {
            runtimes: Some(vec!["native".into()]),
            ..Options::default()
        })
        .unwrap();
        let options = Options {
            noop_exe: Some("/nonexistent/ignis-bench-noop".into()),
            ..Options::default()
        };
        let prepared = prepare_runtimes(&plan, &options);
        let Err(report) = &prepared[0] else {
            panic!("a missing binary cannot be prepared");
        };
        assert_eq!(
            report.status,
            Status::Failed,
            "named explicitly, so a failure"
        );
        assert!(
            report
                .reason
                .as_deref()
                .unwrap()
                .contains("cargo build --bins")
        );
    }
}
