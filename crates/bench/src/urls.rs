//! `ignis bench --urls`: one native no-op function reached through its function URL beside the
//! same function reached through Invoke, in the same run.
//!
//! The function (`provided.al2023`, the `ignis-bench-noop` runtime, which returns its event) gets
//! a URL with `AuthType` `NONE` and the two statements such a URL needs. Three ways to reach it
//! are then measured, warm:
//!
//! - **Invoke**: `POST /2015-03-31/functions/{name}/invocations`, SigV4-signed, body `{"n":1}`,
//!   answered with the event;
//! - **URL POST**: `POST /bench` with the URL's `Host`, unsigned, the same body as
//!   `application/json`, answered (a result without `statusCode` is a 200 of itself) with the
//!   2.0 event the URL built, which is checked: version, path, method, host and body;
//! - **URL GET**: `GET /bench` without a body, checked the same way.
//!
//! All three run sequentially (p50/p99 at concurrency 1); Invoke and URL POST also run closed
//! loops at concurrency 1 and `--concurrency` (requests/s with p50/p99). Each phase is split
//! into turns that alternate between the ways, so that each meets the same moments of a
//! shared host's load. Any other answer counts as an error, and an error fails the command.

use crate::client::{FunctionSpec, LambdaClient, UrlRequest, http_client};
use crate::load::{Target, Via};
use crate::report::{
    HostInfo, Latency, Table, TargetCheck, Throughput, dash, json_document, latency_row,
    latency_table, load_average, ms, ms_signed, node_note, render_checks, render_first_errors,
    throughput_row, throughput_table, zero_errors,
};
use crate::stats::diff_us;
use crate::{
    FUNCTION_TIMEOUT_S, MEMORY_SIZE_MB, Options, PAYLOAD, Plan, Prepared, RuntimeKind,
    function_name, node_for, prepare_runtimes, progress, stop_node, throughput_phases, warm_phases,
};
use anyhow::bail;
use bytes::Bytes;
use http::Method;
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::Arc;

/// The path of every URL request (the function sees it as `rawPath`).
const URL_PATH: &str = "/bench";
/// Turns each phase is split into.
const ROUNDS: usize = 5;
const SHORT_ROUNDS: usize = 2;
pub const INVOKE: &str = "Invoke";
pub const URL_POST: &str = "URL POST";
pub const URL_GET: &str = "URL GET";

/// One way's figures in one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Measured<T> {
    /// [`INVOKE`], [`URL_POST`] or [`URL_GET`].
    pub via: String,
    pub figures: T,
}

/// Everything `--urls` measured.
#[derive(Debug, Clone, Serialize)]
pub struct UrlsReport {
    /// RFC 3339, UTC, when the run started.
    pub started_at: String,
    pub host: HostInfo,
    pub load_average_at_end: String,
    pub endpoint: String,
    pub temporary_node: bool,
    pub isolation: Option<String>,
    pub function_url: String,
    pub runtime: String,
    pub memory_size_mb: u32,
    pub payload: String,
    pub requests: usize,
    pub throughput_seconds: f64,
    pub rounds: usize,
    pub short: bool,
    /// Sequential requests: Invoke, URL POST, URL GET.
    pub sequential: Vec<Measured<Latency>>,
    /// Closed loops, Invoke and URL POST at each concurrency.
    pub throughput: Vec<Measured<Throughput>>,
}

/// `ignis bench --urls [--short] [--json]`.
pub fn run(plan: &Plan, options: &Options) -> anyhow::Result<()> {
    let native = Plan {
        runtimes: vec![RuntimeKind::Native],
        explicit_runtimes: true,
        ..plan.clone()
    };
    let prepared = match prepare_runtimes(&native, options).pop() {
        Some(Ok(p)) => p,
        Some(Err(r)) => bail!("{}", r.reason.unwrap_or_default()),
        None => bail!("no native runtime to measure"),
    };
    let report = crate::async_runtime()?.block_on(execute(plan, options, prepared))?;
    let json = plan.json.then(|| report.to_json());
    crate::print_checked(&report.render(), json, report.total_errors(), "requests")
}

async fn execute(plan: &Plan, options: &Options, p: Prepared) -> anyhow::Result<UrlsReport> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let host = HostInfo::probe();
    let (node, endpoint, credentials) = node_for(plan, options).await?;
    progress(format!("urls: endpoint {endpoint}"));
    let http = http_client(plan.concurrency);
    let api = Arc::new(LambdaClient::new(
        http.clone(),
        &endpoint,
        credentials.clone(),
    )?);
    let function = function_name("url");
    let spec = FunctionSpec {
        name: function.clone(),
        runtime: p.runtime.clone(),
        handler: p.handler,
        zip: p.zip,
        memory_size: MEMORY_SIZE_MB,
        timeout_s: FUNCTION_TIMEOUT_S,
    };
    progress(format!("urls: creating {function} and its URL"));
    let result = match api.create_function(&spec).await {
        Ok(()) => {
            let node_pid = node.as_ref().and_then(|n| n.pid());
            let measured = measure(plan, &api, &function, http, credentials, node_pid).await;
            if let Err(e) = api.delete_function(&function).await {
                progress(format!("urls: deleting {function} failed: {e}"));
            }
            measured
        }
        Err(e) => Err(e.into()),
    };
    let failed = !matches!(&result, Ok(m) if m.errors() == 0);
    let isolation = node.as_ref().and_then(|n| n.isolation().map(str::to_owned));
    let temporary_node = node.is_some();
    if let Some(node) = node {
        stop_node(node, failed).await;
    }
    let m = result?;
    Ok(UrlsReport {
        started_at,
        host,
        load_average_at_end: load_average(),
        endpoint,
        temporary_node,
        isolation,
        function_url: m.function_url,
        runtime: p.runtime,
        memory_size_mb: MEMORY_SIZE_MB,
        payload: PAYLOAD.into(),
        requests: plan.requests,
        throughput_seconds: plan.duration.as_secs_f64(),
        rounds: rounds(plan),
        short: plan.short,
        sequential: m.sequential,
        throughput: m.throughput,
    })
}

/// What [`measure`] found.
struct Measurements {
    function_url: String,
    sequential: Vec<Measured<Latency>>,
    throughput: Vec<Measured<Throughput>>,
}

impl Measurements {
    fn errors(&self) -> u64 {
        errors_of(&self.sequential, &self.throughput)
    }
}

fn errors_of(sequential: &[Measured<Latency>], throughput: &[Measured<Throughput>]) -> u64 {
    phases(sequential, throughput).map(|(_, l)| l.errors).sum()
}

/// Every phase, by name.
fn phases<'a>(
    sequential: &'a [Measured<Latency>],
    throughput: &'a [Measured<Throughput>],
) -> impl Iterator<Item = (String, &'a Latency)> {
    let sequential = sequential
        .iter()
        .map(|m| (format!("{} sequential", m.via), &m.figures));
    sequential.chain(throughput.iter().map(|m| {
        (
            format!("{} at concurrency {}", m.via, m.figures.concurrency),
            &m.figures.latency,
        )
    }))
}

async fn measure(
    plan: &Plan,
    api: &Arc<LambdaClient>,
    function: &str,
    http: crate::client::HttpClient,
    credentials: crate::client::Credentials,
    node_pid: Option<u32>,
) -> anyhow::Result<Measurements> {
    let function_url = api.create_function_url(function, "NONE").await?;
    for statement in [
        serde_json::json!({
            "StatementId": "url",
            "Action": "lambda:InvokeFunctionUrl",
            "Principal": "*",
            "FunctionUrlAuthType": "NONE",
        }),
        serde_json::json!({
            "StatementId": "invoke",
            "Action": "lambda:InvokeFunction",
            "Principal": "*",
            "InvokedViaFunctionUrl": true,
        }),
    ] {
        api.add_permission(function, &statement).await?;
    }
    progress(format!("urls: {function_url}"));
    let post = UrlRequest::new(Method::POST, &function_url, URL_PATH)?;
    let get = UrlRequest::new(Method::GET, &function_url, URL_PATH)?;
    // The URL's own port (`--url-listen`'s when the node has one) on the endpoint's address.
    let url_client = Arc::new(LambdaClient::new(
        http,
        &on_port(api.endpoint(), post.port),
        credentials,
    )?);
    let payload = Bytes::from_static(PAYLOAD.as_bytes());
    let target = |via: Via, payload: Bytes| Target {
        client: match via {
            Via::Invoke | Via::SampledInvoke => api.clone(),
            Via::Url(_) => url_client.clone(),
        },
        function: function.into(),
        payload,
        expected: Arc::new(serde_json::from_str(PAYLOAD).expect("the payload is JSON")),
        via,
    };
    let invoke = target(Via::Invoke, payload.clone());
    let url_post = target(Via::Url(Arc::new(post)), payload);
    let url_get = target(Via::Url(Arc::new(get)), Bytes::new());

    // A first request each way: the cold start, and a clear error if a way does not work.
    for (name, t) in [
        (INVOKE, &invoke),
        (URL_POST, &url_post),
        (URL_GET, &url_get),
    ] {
        if let Err(e) = t.invoke_once().await {
            bail!("the first {name} request failed: {e}");
        }
    }

    let rounds = rounds(plan);
    progress(format!(
        "urls: {} sequential requests each way, in {rounds} turns",
        plan.requests
    ));
    let all = [invoke.clone(), url_post.clone(), url_get];
    let sequential = named(warm_phases(&all, plan, rounds).await);
    let mut throughput = Vec::new();
    for concurrency in levels(plan.concurrency) {
        progress(format!(
            "urls: throughput at concurrency {concurrency}, {:?} each way",
            plan.duration
        ));
        let pair = [invoke.clone(), url_post.clone()];
        let figures = throughput_phases(&pair, plan, concurrency, rounds, node_pid).await;
        throughput.extend(named(figures));
    }
    Ok(Measurements {
        function_url,
        sequential,
        throughput,
    })
}

/// Each way's figures, in the order of [`INVOKE`], [`URL_POST`], [`URL_GET`].
fn named<T>(figures: Vec<T>) -> Vec<Measured<T>> {
    figures
        .into_iter()
        .zip([INVOKE, URL_POST, URL_GET])
        .map(|(figures, via)| Measured {
            via: via.into(),
            figures,
        })
        .collect()
}

fn rounds(plan: &Plan) -> usize {
    if plan.short { SHORT_ROUNDS } else { ROUNDS }
}

/// The concurrencies of the throughput phases: 1 and `concurrency`.
fn levels(concurrency: usize) -> Vec<usize> {
    let mut levels = vec![1, concurrency.max(1)];
    levels.dedup();
    levels
}

/// `endpoint` (`http://host:port`) with another port.
fn on_port(endpoint: &str, port: u16) -> String {
    let authority = endpoint.trim_end_matches('/');
    let host = match authority.rsplit_once(':') {
        Some((host, p)) if !p.contains(']') && host != "http" => host,
        _ => authority,
    };
    format!("{host}:{port}")
}

/// `us` beside `base_us`: the difference in milliseconds and the ratio.
fn versus(us: u64, base_us: u64) -> String {
    format!(
        "{} ({})",
        ms_signed(diff_us(us, base_us)),
        ratio(us as f64, base_us as f64)
    )
}

fn ratio(value: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}x", value / base)
    } else {
        dash()
    }
}

impl UrlsReport {
    /// Every failed request of the measured phases (and their warm-ups).
    pub fn total_errors(&self) -> u64 {
        errors_of(&self.sequential, &self.throughput)
    }

    fn sequential_of(&self, via: &str) -> Option<&Latency> {
        self.sequential
            .iter()
            .find(|m| m.via == via)
            .map(|m| &m.figures)
    }

    fn throughput_of(&self, via: &str, concurrency: usize) -> Option<&Throughput> {
        self.throughput
            .iter()
            .find(|m| m.via == via && m.figures.concurrency == concurrency)
            .map(|m| &m.figures)
    }

    fn concurrencies(&self) -> Vec<usize> {
        let mut c: Vec<usize> = self
            .throughput
            .iter()
            .map(|m| m.figures.concurrency)
            .collect();
        c.dedup();
        c
    }

    /// The target, "routing a URL request costs no more than routing an API request",
    /// as this run can judge it: each URL way's sequential p50 at most Invoke's, URL POST's
    /// requests/s at each concurrency at least Invoke's; and no error.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let mut out = Vec::new();
        let invoke = self.sequential_of(INVOKE).and_then(|l| l.summary);
        for via in [URL_POST, URL_GET] {
            if let (Some(i), Some(u)) = (invoke, self.sequential_of(via).and_then(|l| l.summary)) {
                out.push(TargetCheck {
                    target: format!("{via} p50 <= Invoke p50, sequential"),
                    measured: format!(
                        "{} vs {} ms ({})",
                        ms(u.p50_us),
                        ms(i.p50_us),
                        ratio(u.p50_us as f64, i.p50_us as f64)
                    ),
                    met: u.p50_us <= i.p50_us,
                });
            }
        }
        for c in self.concurrencies() {
            if let (Some(i), Some(u)) = (
                self.throughput_of(INVOKE, c),
                self.throughput_of(URL_POST, c),
            ) {
                out.push(TargetCheck {
                    target: format!("{URL_POST} requests/s >= Invoke's at concurrency {c}"),
                    measured: format!(
                        "{:.0} vs {:.0} ({})",
                        u.invokes_per_second,
                        i.invokes_per_second,
                        ratio(u.invokes_per_second, i.invokes_per_second)
                    ),
                    met: u.invokes_per_second >= i.invokes_per_second,
                });
            }
        }
        out.push(zero_errors(self.total_errors()));
        out
    }

    pub fn to_json(&self) -> String {
        json_document(self, self.targets(), self.total_errors())
    }

    /// CPU time per request of the throughput phases, each URL way beside Invoke.
    fn render_cpu(&self) -> String {
        let mut t = Table::new(&[
            "via",
            "concurrency",
            "node",
            "node vs Invoke",
            "bench client",
            "client vs Invoke",
        ]);
        let us = |v: f64| format!("{v:.1}");
        let versus = |v: f64, b: f64| format!("{:+.1} ({})", v - b, ratio(v, b));
        for m in &self.throughput {
            let Some(cpu) = m.figures.cpu else { continue };
            let base = self
                .throughput_of(INVOKE, m.figures.concurrency)
                .and_then(|i| i.cpu)
                .filter(|_| m.via != INVOKE);
            t.row(vec![
                m.via.clone(),
                m.figures.concurrency.to_string(),
                cpu.node_us.map_or_else(dash, us),
                match (cpu.node_us, base.and_then(|b| b.node_us)) {
                    (Some(v), Some(b)) => versus(v, b),
                    _ => dash(),
                },
                us(cpu.client_us),
                base.map_or_else(dash, |b| versus(cpu.client_us, b.client_us)),
            ]);
        }
        format!(
            "\nCPU time per request in the throughput phases, user + system (µs; node: its own \
             process, not the function's)\n{}",
            t.render()
        )
    }

    /// The readable report: each URL way beside Invoke, phase by phase.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "ignis bench --urls, {}", self.started_at);
        out.push_str(&self.host.render(&self.load_average_at_end));
        let _ = writeln!(
            out,
            "endpoint: {}{}; function {} (ignis-bench-noop), MemorySize {} MB{}",
            self.endpoint,
            node_note(self.isolation.as_deref(), self.temporary_node),
            self.runtime,
            self.memory_size_mb,
            if self.short { "; --short" } else { "" },
        );
        let _ = writeln!(
            out,
            "{INVOKE}:   POST /2015-03-31/functions/…/invocations, SigV4-signed, body {}\n\
             {URL_POST}: POST {URL_PATH} to {} (by Host), unsigned, body {} as application/json\n\
             {URL_GET}:  GET {URL_PATH}, no body; each URL answer must be the 2.0 event of its request\n\
             each phase in {} turns alternating between the ways",
            self.payload, self.function_url, self.payload, self.rounds
        );

        let _ = writeln!(
            out,
            "\nSequential warm requests, concurrency 1, {} each way (ms)",
            self.requests
        );
        let mut t = latency_table("via", ["p50 vs Invoke", "p99 vs Invoke"]);
        let base = self.sequential_of(INVOKE).and_then(|l| l.summary);
        for m in &self.sequential {
            let base = if m.via == INVOKE { None } else { base };
            t.row(latency_row(&m.via, &m.figures, base, versus));
        }
        out.push_str(&t.render());

        for c in self.concurrencies() {
            let _ = writeln!(
                out,
                "\nThroughput, concurrency {c}, {} s each way (ms)",
                self.throughput_seconds
            );
            let mut t = throughput_table(
                ["via", "requests", "requests/s"],
                ["p50 vs Invoke", "p99 vs Invoke"],
            );
            t.column("requests/s vs Invoke");
            let invoke = self.throughput_of(INVOKE, c);
            for m in self
                .throughput
                .iter()
                .filter(|m| m.figures.concurrency == c)
            {
                let base = invoke.filter(|_| m.via != INVOKE);
                let mut row = throughput_row(
                    &m.via,
                    &m.figures,
                    base.and_then(|b| b.latency.summary),
                    versus,
                );
                row.push(base.map_or_else(dash, |b| {
                    ratio(m.figures.invokes_per_second, b.invokes_per_second)
                }));
                t.row(row);
            }
            out.push_str(&t.render());
        }

        let _ = writeln!(
            out,
            "\nTarget: routing a URL request costs no more than routing an API request"
        );
        out.push_str(&render_checks(&self.targets()));
        out.push_str(&self.render_cpu());
        out.push_str(&render_first_errors(phases(
            &self.sequential,
            &self.throughput,
        )));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::latency;

    fn throughput(concurrency: usize, rate: f64, p50: u64, errors: u64) -> Throughput {
        Throughput {
            concurrency,
            elapsed_seconds: 10.0,
            invokes_per_second: rate,
            latency: latency(p50, p50 * 2, errors),
            cpu: Some(crate::report::CpuPerRequest {
                node_us: Some(rate / 100.0),
                client_us: 10.0,
            }),
        }
    }

    fn measured<T>(via: &str, figures: T) -> Measured<T> {
        Measured {
            via: via.into(),
            figures,
        }
    }

    fn report() -> UrlsReport {
        UrlsReport {
            started_at: "2026-01-01T00:00:00Z".into(),
            host: crate::report::tests::host(),
            load_average_at_end: "1.00 0.50 0.25".into(),
            endpoint: "http://127.0.0.1:9".into(),
            temporary_node: true,
            isolation: None,
            function_url: "http://abc.lambda-url.us-east-1.localhost:9/".into(),
            runtime: "provided.al2023".into(),
            memory_size_mb: 1769,
            payload: PAYLOAD.into(),
            requests: 100,
            throughput_seconds: 2.0,
            rounds: 2,
            short: true,
            sequential: vec![
                measured(INVOKE, latency(500, 900, 0)),
                measured(URL_POST, latency(600, 900, 0)),
                measured(URL_GET, latency(450, 800, 0)),
            ],
            throughput: vec![
                measured(INVOKE, throughput(1, 2000.0, 500, 0)),
                measured(URL_POST, throughput(1, 1800.0, 550, 0)),
                measured(INVOKE, throughput(16, 4000.0, 4000, 0)),
                measured(URL_POST, throughput(16, 5000.0, 3000, 2)),
            ],
        }
    }

    #[test]
    fn concurrency_levels() {
        assert_eq!(levels(16), vec![1, 16]);
        assert_eq!(levels(1), vec![1]);
        assert_eq!(levels(0), vec![1]);
    }

    #[test]
    fn the_url_port_on_the_endpoint() {
        assert_eq!(
            on_port("http://127.0.0.1:9070", 9071),
            "http://127.0.0.1:9071"
        );
        assert_eq!(
            on_port("http://127.0.0.1:9070/", 9070),
            "http://127.0.0.1:9070"
        );
        assert_eq!(on_port("http://localhost", 80), "http://localhost:80");
        assert_eq!(on_port("http://[::1]:9", 10), "http://[::1]:10");
        assert_eq!(on_port("http://[::1]", 10), "http://[::1]:10");
    }

    #[test]
    fn comparisons() {
        assert_eq!(versus(600, 500), "+0.100 (1.20x)");
        assert_eq!(versus(450, 500), "-0.050 (0.90x)");
        assert_eq!(ratio(1.0, 0.0), "-");
    }

    #[test]
    fn targets_are_judged_strictly() {
        let r = report();
        assert_eq!(r.total_errors(), 2);
        let t = r.targets();
        let find = |s: &str| t.iter().find(|c| c.target.contains(s)).unwrap();
        let post = find("URL POST p50");
        assert!(!post.met);
        assert_eq!(post.measured, "0.600 vs 0.500 ms (1.20x)");
        assert!(find("URL GET p50").met);
        assert!(!find("concurrency 1").met);
        assert!(find("concurrency 16").met);
        assert!(!find("zero errors").met);
    }

    #[test]
    fn rendering_puts_each_url_way_beside_invoke() {
        let text = report().render();
        for needle in [
            "ignis bench --urls, 2026-01-01T00:00:00Z",
            "load average (1/5/15 min): 0.10 0.20 0.30 at start, 1.00 0.50 0.25 at end",
            "Sequential warm requests, concurrency 1, 100 each way (ms)",
            "Throughput, concurrency 1, 2 s each way (ms)",
            "Throughput, concurrency 16, 2 s each way (ms)",
            "[NOT MET] URL POST p50 <= Invoke p50, sequential: 0.600 vs 0.500 ms (1.20x)",
            "URL POST at concurrency 16: 2 errors; first: HTTP 501: not yet",
            "in 2 turns",
            "CPU time per request in the throughput phases",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let row = |start: &str, has: &str| {
            text.lines()
                .find(|l| l.starts_with(start) && l.contains(has))
                .unwrap_or_else(|| panic!("no {start} row with {has} in\n{text}"))
                .to_owned()
        };
        assert!(row("URL GET", "0.450").contains("-0.050 (0.90x)"));
        let invoke = row("Invoke", "0.500");
        assert!(
            !invoke.contains('x'),
            "Invoke is not compared with itself: {invoke}"
        );
        assert!(row("URL POST", "5000").ends_with("1.25x"));
        // CPU at concurrency 16: the node 50.0 µs beside Invoke's 40.0.
        assert!(row("URL POST", "50.0").contains("+10.0 (1.25x)"));
    }

    #[test]
    fn json_has_targets_and_totals() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(v["total_errors"], 2);
        assert_eq!(v["sequential"][1]["via"], URL_POST);
        assert_eq!(v["sequential"][1]["figures"]["summary"]["p50_us"], 600);
        assert_eq!(v["throughput"][3]["figures"]["concurrency"], 16);
        assert!(v["targets"].as_array().unwrap().len() >= 4);
    }
}
