//! `ignis bench --observability`: what JSON logging and OTLP export add to a warm invoke, each
//! beside the same invoke without it, in the same run.
//!
//! Two temporary nodes run side by side: a plain one, and one started with `--otlp-endpoint`
//! pointing at a minimal OTLP/HTTP receiver in this process (it answers every `POST
//! /v1/traces` with 200 and counts the requests and bytes). Each node gets the same Python
//! function, which logs one line through `logging` and returns its event, with
//! `TracingConfig` `Active`; every invoke carries `X-Amzn-Trace-Id` with `Sampled=1`, so every
//! invocation is traced and the exporting node exports a span tree for each one:
//!
//! - **Text logs**: on the plain node, `LogFormat` `Text` — the baseline;
//! - **JSON logs**: on the plain node, `LogFormat` `JSON` (the platform's records and the
//!   runtime's line become JSON records);
//! - **OTLP export**: on the exporting node, `LogFormat` `Text`.
//!
//! Sequential warm invokes at concurrency 1, in turns alternating between the three, so that
//! each meets the same moments of a shared host's load. The receiver must have received spans,
//! and any failed invoke fails the command.

use crate::client::{Credentials, FunctionSpec, LambdaClient, http_client};
use crate::load::{Target, Via};
use crate::node::TempNode;
use crate::report::{
    HostInfo, Latency, TargetCheck, json_document, load_average, ms, ms_signed, p50_of,
    render_checks, render_first_errors, ways_errors, ways_table, zero_errors,
};
use crate::stats::diff_us;
use crate::{FUNCTION_TIMEOUT_S, MEMORY_SIZE_MB, Options, PAYLOAD, Plan, progress, warm_phases};
use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

pub const TEXT: &str = "Text logs";
pub const JSON: &str = "JSON logs";
pub const OTLP: &str = "OTLP export";
/// Turns each phase is split into.
const ROUNDS: usize = 5;
const SHORT_ROUNDS: usize = 2;
/// The goal: each addition under 5 % of the invoke's p50.
const GOAL_FRACTION: f64 = 0.05;
/// How long the exporting node may take to post its spans after the last invoke.
const EXPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const HANDLER: &str = "lambda_function.handler";
/// A handler that logs one line and returns its event.
const SOURCE: &str = "import logging\n\
logger = logging.getLogger()\n\
logger.setLevel(logging.INFO)\n\
\n\
def handler(event, context):\n    logger.info(\"handled %s\", event.get(\"n\"))\n    return event\n";

/// Everything `--observability` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ObservabilityReport {
    /// RFC 3339, UTC, when the run started.
    pub started_at: String,
    pub host: HostInfo,
    pub load_average_at_end: String,
    pub runtime: String,
    pub memory_size_mb: u32,
    pub payload: String,
    pub requests: usize,
    pub rounds: usize,
    pub short: bool,
    /// Sequential warm invokes: [`TEXT`], [`JSON`], [`OTLP`].
    pub sequential: Vec<(String, Latency)>,
    /// What the OTLP receiver got.
    pub otlp_requests: u64,
    pub otlp_bytes: u64,
}

/// `ignis bench --observability [--short] [--json]`.
pub fn run(plan: &Plan, options: &Options, exe: &Path) -> anyhow::Result<()> {
    if options.endpoint.is_some() {
        bail!("--observability starts its own two nodes; it does not take --endpoint");
    }
    let runtime = crate::baseline::python_runtime("--observability")?;
    let report = crate::async_runtime()?.block_on(execute(plan, exe, runtime))?;
    let json = plan.json.then(|| report.to_json());
    crate::print_checked(&report.render(), json, report.total_errors(), "invokes")?;
    if report.otlp_requests == 0 {
        bail!("the OTLP receiver got no spans from the exporting node");
    }
    Ok(())
}

async fn execute(plan: &Plan, exe: &Path, runtime: String) -> anyhow::Result<ObservabilityReport> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let host = HostInfo::probe();
    let receiver = Receiver::start().await?;
    let endpoint = format!("http://{}", receiver.address);
    progress(format!(
        "observability: starting a plain node and one exporting to {endpoint}"
    ));
    let plain = TempNode::start(exe).await?;
    let exporting = TempNode::start_with(exe, &["--otlp-endpoint", &endpoint]).await?;
    let result = measure(plan, &plain, &exporting, &runtime, &receiver).await;
    let failed = !matches!(&result, Ok(s) if s.iter().all(|(_, l)| l.errors == 0));
    crate::stop_node(plain, failed).await;
    crate::stop_node(exporting, failed).await;
    let sequential = result?;
    Ok(ObservabilityReport {
        started_at,
        host,
        load_average_at_end: load_average(),
        runtime,
        memory_size_mb: MEMORY_SIZE_MB,
        payload: PAYLOAD.into(),
        requests: plan.requests,
        rounds: rounds(plan),
        short: plan.short,
        sequential,
        otlp_requests: receiver.requests.load(Ordering::Relaxed),
        otlp_bytes: receiver.bytes.load(Ordering::Relaxed),
    })
}

async fn measure(
    plan: &Plan,
    plain: &TempNode,
    exporting: &TempNode,
    runtime: &str,
    receiver: &Receiver,
) -> anyhow::Result<Vec<(String, Latency)>> {
    let zip = crate::package::zip(&[("lambda_function.py", SOURCE.as_bytes(), 0o644)])?;
    let client = |node: &TempNode, credentials: &Credentials| {
        LambdaClient::new(http_client(1), node.endpoint(), credentials.clone()).map(Arc::new)
    };
    let plain_api = client(plain, plain.credentials())?;
    let exporting_api = client(exporting, exporting.credentials())?;
    let ways = [
        (TEXT, &plain_api, "Text"),
        (JSON, &plain_api, "JSON"),
        (OTLP, &exporting_api, "Text"),
    ];
    let mut targets = Vec::new();
    for (way, api, format) in ways {
        let spec = FunctionSpec {
            name: crate::function_name(&way.replace(' ', "-").to_lowercase()),
            runtime: runtime.into(),
            handler: HANDLER.into(),
            zip: zip.clone(),
            memory_size: MEMORY_SIZE_MB,
            timeout_s: FUNCTION_TIMEOUT_S,
        };
        let config = serde_json::json!({
            "LoggingConfig": { "LogFormat": format },
            "TracingConfig": { "Mode": "Active" },
        });
        api.create_function_configured(&spec, config)
            .await
            .with_context(|| format!("creating the {way} function"))?;
        let target = Target {
            client: api.clone(),
            function: spec.name.as_str().into(),
            payload: Bytes::from_static(PAYLOAD.as_bytes()),
            expected: Arc::new(serde_json::from_str(PAYLOAD).expect("the payload is JSON")),
            via: Via::SampledInvoke,
        };
        // The cold start, and a clear error if a way does not work.
        if let Err(e) = target.invoke_once().await {
            bail!("the first {way} invoke failed: {e}");
        }
        targets.push(target);
    }
    let rounds = rounds(plan);
    progress(format!(
        "observability: {} sequential invokes each way, in {rounds} turns",
        plan.requests
    ));
    let figures = warm_phases(&targets, plan, rounds).await;
    // The exporter posts what it holds within its interval (a second) of the first span.
    let deadline = tokio::time::Instant::now() + EXPORT_WAIT;
    while receiver.requests.load(Ordering::Relaxed) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for t in &targets {
        if let Err(e) = t.client.delete_function(&t.function).await {
            progress(format!(
                "observability: deleting {} failed: {e}",
                t.function
            ));
        }
    }
    Ok([TEXT, JSON, OTLP]
        .into_iter()
        .map(String::from)
        .zip(figures)
        .collect())
}

fn rounds(plan: &Plan) -> usize {
    if plan.short { SHORT_ROUNDS } else { ROUNDS }
}

/// A minimal OTLP/HTTP receiver: every request is answered 200 with an empty
/// `ExportTraceServiceResponse`, and counted.
struct Receiver {
    address: std::net::SocketAddr,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

impl Receiver {
    async fn start() -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let requests = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let (r, b) = (requests.clone(), bytes.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, b) = (r.clone(), b.clone());
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let (r, b) = (r.clone(), b.clone());
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        r.fetch_add(1, Ordering::Relaxed);
                        b.fetch_add(body.len() as u64, Ordering::Relaxed);
                        let mut response = hyper::Response::new(Full::new(Bytes::new()));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("application/x-protobuf"),
                        );
                        Ok::<_, hyper::Error>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Receiver {
            address,
            requests,
            bytes,
        })
    }
}

/// `us` beside `base_us`: the difference in milliseconds and as a share of the base.
fn added(us: u64, base_us: u64) -> String {
    let share = if base_us > 0 {
        format!(
            "{:+.1} %",
            diff_us(us, base_us) as f64 * 100.0 / base_us as f64
        )
    } else {
        "-".into()
    };
    format!("{} ({share})", ms_signed(diff_us(us, base_us)))
}

impl ObservabilityReport {
    pub fn total_errors(&self) -> u64 {
        ways_errors(&self.sequential)
    }

    /// The goal for each addition: its p50 at most 5 % above the Text logs' p50.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let mut out = Vec::new();
        if let Some(base) = p50_of(&self.sequential, TEXT) {
            for way in [JSON, OTLP] {
                let Some(p50) = p50_of(&self.sequential, way) else {
                    continue;
                };
                out.push(TargetCheck {
                    target: format!("{way} add under 5 % to the p50 of {TEXT}"),
                    measured: format!("{} vs {} ms: {}", ms(p50), ms(base), added(p50, base)),
                    met: (p50 as f64) < base as f64 * (1.0 + GOAL_FRACTION),
                });
            }
        }
        out.push(zero_errors(self.total_errors()));
        out
    }

    pub fn to_json(&self) -> String {
        json_document(self, self.targets(), self.total_errors())
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "ignis bench --observability, {}", self.started_at);
        out.push_str(&self.host.render(&self.load_average_at_end));
        let _ = writeln!(
            out,
            "two temporary nodes; function {} logging one line per invoke, MemorySize {} MB, \
             TracingConfig Active, every invoke sampled{}",
            self.runtime,
            self.memory_size_mb,
            if self.short { "; --short" } else { "" },
        );
        let _ = writeln!(
            out,
            "{TEXT}:   plain node, LogFormat Text\n\
             {JSON}:   plain node, LogFormat JSON\n\
             {OTLP}: node with --otlp-endpoint (a receiver in this process), LogFormat Text\n\
             each way in {} turns alternating between them; the receiver got {} requests, {} bytes",
            self.rounds, self.otlp_requests, self.otlp_bytes
        );
        let _ = writeln!(
            out,
            "\nSequential warm invokes, concurrency 1, {} each way, body {} (ms)",
            self.requests, self.payload
        );
        out.push_str(&ways_table(
            &self.sequential,
            TEXT,
            ["p50 vs Text", "p99 vs Text"],
            added,
        ));
        let _ = writeln!(out, "\nTarget: each under 5 % of the invoke's p50");
        out.push_str(&render_checks(&self.targets()));
        out.push_str(&render_first_errors(
            self.sequential.iter().map(|(w, l)| (w.clone(), l)),
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{host, latency};

    fn report() -> ObservabilityReport {
        ObservabilityReport {
            started_at: "2026-01-01T00:00:00Z".into(),
            host: host(),
            load_average_at_end: "1.00 0.50 0.25".into(),
            runtime: "python3.11".into(),
            memory_size_mb: 1769,
            payload: PAYLOAD.into(),
            requests: 100,
            rounds: 2,
            short: true,
            sequential: vec![
                (TEXT.into(), latency(1000, 2000, 0)),
                (JSON.into(), latency(1030, 2100, 0)),
                (OTLP.into(), latency(1080, 2000, 1)),
            ],
            otlp_requests: 3,
            otlp_bytes: 4096,
        }
    }

    #[test]
    fn the_goal_is_five_percent_of_the_baseline_p50() {
        let t = report().targets();
        assert_eq!(t.len(), 3);
        assert!(t[0].met, "{:?}", t[0]);
        assert_eq!(t[0].measured, "1.030 vs 1.000 ms: +0.030 (+3.0 %)");
        assert!(!t[1].met, "{:?}", t[1]);
        assert!(!t[2].met, "one error");
    }

    #[test]
    fn rendering_compares_with_the_text_baseline() {
        let text = report().render();
        for needle in [
            "ignis bench --observability, 2026-01-01T00:00:00Z",
            "the receiver got 3 requests, 4096 bytes",
            "[NOT MET] OTLP export add under 5 % to the p50 of Text logs",
            "OTLP export: 1 errors",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let json_row = text
            .lines()
            .find(|l| l.starts_with(JSON) && l.contains("1.030"))
            .unwrap();
        assert!(json_row.contains("+0.030 (+3.0 %)"), "{json_row}");
    }

    #[test]
    fn json_has_the_receivers_counts() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(v["otlp_requests"], 3);
        assert_eq!(v["sequential"][1][0], JSON);
        assert_eq!(v["total_errors"], 1);
    }
}
