//! The results of a run, as a readable table and as JSON.

use crate::stats::{Summary, diff_us};
use serde::Serialize;
use std::fmt::Write as _;

/// Warm-invoke overhead targets at concurrency 1 (from `perf-anchors.md` section 8, item 1).
pub const TARGET_WARM_OVERHEAD_P50_US: i64 = 1_000;
pub const TARGET_WARM_OVERHEAD_P99_US: i64 = 5_000;
/// Throughput target for the native function at concurrency 16.
pub const TARGET_NATIVE_INVOKES_PER_S: f64 = 2_000.0;
pub const TARGET_CONCURRENCY: usize = 16;

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// RFC 3339, UTC, when the run started.
    pub started_at: String,
    pub host: HostInfo,
    pub endpoint: String,
    /// Whether the bench started the node itself.
    pub temporary_node: bool,
    /// `/proc/loadavg` when the run ended.
    pub load_average_at_end: String,
    /// How the temporary node ran environments (its `isolation: …` line), when known.
    pub isolation: Option<String>,
    pub settings: Settings,
    pub baseline: Baseline,
    pub runtimes: Vec<RuntimeReport>,
}

/// The machine the bench ran on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HostInfo {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_total_kib: u64,
    pub kernel: String,
    /// `/proc/loadavg`'s 1, 5 and 15-minute figures when the run started: other work on the
    /// host skews every figure.
    pub load_average: String,
}

/// `/proc/loadavg`'s 1, 5 and 15-minute figures (empty when unreadable).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

impl HostInfo {
    /// The `host:` and `load average` lines of a report, with the load at the end of the run.
    pub fn render(&self, load_average_at_end: &str) -> String {
        format!(
            "host: {} CPUs ({}), {:.1} GiB memory, Linux {}\nload average (1/5/15 min): {} at start, {} at end\n",
            self.cpus,
            if self.cpu_model.is_empty() {
                "unknown model"
            } else {
                &self.cpu_model
            },
            self.memory_total_kib as f64 / 1024.0 / 1024.0,
            self.kernel,
            self.load_average,
            load_average_at_end
        )
    }

    /// Read from `/proc` (fields left empty when unreadable).
    pub fn probe() -> HostInfo {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        HostInfo {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    (k.trim() == "model name").then(|| v.trim().to_owned())
                })
                .unwrap_or_default(),
            memory_total_kib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
            load_average: load_average(),
        }
    }
}

/// What the run was asked to do.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub concurrency: usize,
    pub warm_requests: usize,
    pub throughput_seconds: f64,
    pub cold_starts: usize,
    pub memory_size_mb: u32,
    pub payload: String,
    pub short: bool,
}

/// The bare-HTTP baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub warm: Latency,
    pub throughput: Throughput,
}

/// Latencies of one phase and its errors.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latency {
    pub summary: Option<Summary>,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// One throughput phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Throughput {
    pub concurrency: usize,
    pub elapsed_seconds: f64,
    /// Successful invokes per second of elapsed time.
    pub invokes_per_second: f64,
    pub latency: Latency,
    /// CPU time per successful invoke, when it was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuPerRequest>,
}

/// CPU time (user + system) per successful request, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CpuPerRequest {
    /// The node's process (not its environments'), when its process is known.
    pub node_us: Option<f64>,
    /// The bench's own process: the load generator.
    pub client_us: f64,
}

/// Cold starts of one runtime beside bare starts of its interpreter or binary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ColdStarts {
    pub ignis: Latency,
    /// The bare start timed, e.g. `python3.11 -c pass`.
    pub baseline_command: String,
    pub baseline: Latency,
}

/// One runtime's results.
#[derive(Debug, Clone, Serialize)]
pub struct RuntimeReport {
    /// `python`, `node` or `native`.
    pub kind: String,
    /// The Lambda runtime identifier, e.g. `python3.11`.
    pub runtime: String,
    /// `ran`, `skipped` or `failed`.
    pub status: Status,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    pub cold: Option<ColdStarts>,
    pub warm: Option<Latency>,
    pub throughput: Option<Throughput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ran,
    Skipped,
    Failed,
}

/// One target and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

/// The JSON document `--json` prints.
#[derive(Debug, Serialize)]
pub struct JsonReport<'a, R> {
    #[serde(flatten)]
    pub report: &'a R,
    pub targets: Vec<TargetCheck>,
    pub total_errors: u64,
}

impl Report {
    /// Every failed invoke of the run, baselines included.
    pub fn total_errors(&self) -> u64 {
        self.phases().iter().map(|(_, l)| l.errors).sum()
    }

    /// Runtimes that could not be measured for a reason other than a missing interpreter.
    pub fn failed_runtimes(&self) -> Vec<&RuntimeReport> {
        self.runtimes
            .iter()
            .filter(|r| r.status == Status::Failed)
            .collect()
    }

    /// The targets of `perf-anchors.md` section 8 that this run can judge.
    pub fn targets(&self) -> Vec<TargetCheck> {
        let mut out = Vec::new();
        let base = self.baseline.warm.summary;
        for r in self.runtimes.iter().filter(|r| r.status == Status::Ran) {
            if let (Some(b), Some(s)) = (base, r.warm.as_ref().and_then(|w| w.summary)) {
                let p50 = diff_us(s.p50_us, b.p50_us);
                let p99 = diff_us(s.p99_us, b.p99_us);
                out.push(TargetCheck {
                    target: format!("{} warm overhead p50 < 1 ms at concurrency 1", r.runtime),
                    measured: format!("{} ms", ms_signed(p50)),
                    met: p50 < TARGET_WARM_OVERHEAD_P50_US,
                });
                out.push(TargetCheck {
                    target: format!("{} warm overhead p99 < 5 ms at concurrency 1", r.runtime),
                    measured: format!("{} ms", ms_signed(p99)),
                    met: p99 < TARGET_WARM_OVERHEAD_P99_US,
                });
            }
            if r.kind == "native"
                && let Some(t) = &r.throughput
            {
                let note = if t.concurrency == TARGET_CONCURRENCY {
                    String::new()
                } else {
                    format!(" (measured at concurrency {}, not 16)", t.concurrency)
                };
                out.push(TargetCheck {
                    target: format!(
                        "{} >= 2,000 invokes/s at concurrency {TARGET_CONCURRENCY}",
                        r.runtime
                    ),
                    measured: format!("{:.0} invokes/s{note}", t.invokes_per_second),
                    met: t.concurrency == TARGET_CONCURRENCY
                        && t.invokes_per_second >= TARGET_NATIVE_INVOKES_PER_S,
                });
            }
        }
        out.push(zero_errors(self.total_errors()));
        out
    }

    /// The JSON document, targets and error total included.
    pub fn to_json(&self) -> String {
        json_document(self, self.targets(), self.total_errors())
    }

    /// The readable report.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let h = &self.host;
        let _ = writeln!(out, "ignis bench, {}", self.started_at);
        out.push_str(&h.render(&self.load_average_at_end));
        let _ = writeln!(
            out,
            "endpoint: {}{}; payload {}; MemorySize {} MB{}",
            self.endpoint,
            node_note(self.isolation.as_deref(), self.temporary_node),
            s.payload,
            s.memory_size_mb,
            if s.short { "; --short" } else { "" },
        );

        let ran: Vec<&RuntimeReport> = self
            .runtimes
            .iter()
            .filter(|r| r.status == Status::Ran)
            .collect();

        // Warm latency.
        let _ = writeln!(
            out,
            "\nWarm invoke latency, concurrency 1, {} sequential requests (ms)",
            s.warm_requests
        );
        let mut t = latency_table("target", ["overhead p50", "overhead p99"]);
        let base = self.baseline.warm.summary;
        t.row(latency_row(
            "baseline: bare HTTP echo",
            &self.baseline.warm,
            None,
            overhead,
        ));
        for r in &ran {
            if let Some(w) = &r.warm {
                t.row(latency_row(&r.runtime, w, base, overhead));
            }
        }
        out.push_str(&t.render());

        // Throughput.
        let _ = writeln!(
            out,
            "\nThroughput, concurrency {}, {} s (ms)",
            s.concurrency,
            trim_float(s.throughput_seconds)
        );
        let mut t = throughput_table(
            ["target", "invokes", "invokes/s"],
            ["overhead p50", "overhead p99"],
        );
        let base = self.baseline.throughput.latency.summary;
        t.row(throughput_row(
            "baseline: bare HTTP echo",
            &self.baseline.throughput,
            None,
            overhead,
        ));
        for r in &ran {
            if let Some(tp) = &r.throughput {
                t.row(throughput_row(&r.runtime, tp, base, overhead));
            }
        }
        out.push_str(&t.render());

        // Cold starts.
        let _ = writeln!(
            out,
            "\nCold start, first invoke after CreateFunction or UpdateFunctionConfiguration, {} per runtime (ms)",
            s.cold_starts
        );
        let mut t = Table::new(&[
            "target",
            "n",
            "median",
            "p90",
            "max",
            "errors",
            "baseline",
            "median",
            "p90",
            "overhead median",
        ]);
        for r in &ran {
            if let Some(c) = &r.cold {
                t.row(cold_row(&r.runtime, c));
            }
        }
        out.push_str(&t.render());

        let not_run: Vec<&RuntimeReport> = self
            .runtimes
            .iter()
            .filter(|r| r.status != Status::Ran)
            .collect();
        if !not_run.is_empty() {
            out.push('\n');
            for r in not_run {
                let _ = writeln!(
                    out,
                    "{} {}: {}",
                    if r.status == Status::Skipped {
                        "skipped"
                    } else {
                        "FAILED"
                    },
                    if r.runtime.is_empty() {
                        &r.kind
                    } else {
                        &r.runtime
                    },
                    r.reason.as_deref().unwrap_or("no reason recorded")
                );
            }
        }

        let _ = writeln!(out, "\nTargets");
        out.push_str(&render_checks(&self.targets()));

        out.push_str(&render_first_errors(self.phases()));
        out
    }

    /// Every phase of the run, by name.
    fn phases(&self) -> Vec<(String, &Latency)> {
        let mut out = Vec::new();
        let mut add = |phase: String, l| out.push((phase, l));
        add("baseline warm".into(), &self.baseline.warm);
        add(
            "baseline throughput".into(),
            &self.baseline.throughput.latency,
        );
        for r in &self.runtimes {
            if let Some(c) = &r.cold {
                add(format!("{} cold start", r.runtime), &c.ignis);
                add(format!("{} bare start", r.runtime), &c.baseline);
            }
            if let Some(w) = &r.warm {
                add(format!("{} warm", r.runtime), w);
            }
            if let Some(t) = &r.throughput {
                add(format!("{} throughput", r.runtime), &t.latency);
            }
        }
        out
    }
}

/// The first error of each phase that had any, under a heading (nothing when none had).
pub fn render_first_errors<'a>(phases: impl IntoIterator<Item = (String, &'a Latency)>) -> String {
    let mut out = String::new();
    for (phase, l) in phases.into_iter().filter(|(_, l)| l.errors > 0) {
        if out.is_empty() {
            out.push_str("\nFirst error of each phase that had errors\n");
        }
        let _ = writeln!(
            out,
            "  {phase}: {} errors; first: {}",
            l.errors,
            l.first_error.as_deref().unwrap_or("?")
        );
    }
    out
}

/// The target every mode has: not one failed request.
pub fn zero_errors(errors: u64) -> TargetCheck {
    TargetCheck {
        target: "zero errors".into(),
        measured: format!("{errors} errors"),
        met: errors == 0,
    }
}

/// A report as the JSON document `--json` prints: its fields, the targets judged, the errors.
pub fn json_document<R: Serialize>(
    report: &R,
    targets: Vec<TargetCheck>,
    total_errors: u64,
) -> String {
    serde_json::to_string_pretty(&JsonReport {
        report,
        targets,
        total_errors,
    })
    .expect("the report serialises")
}

/// What the `endpoint:` line says of the node: ` (temporary node, isolation: …)` or nothing.
pub fn node_note(isolation: Option<&str>, temporary_node: bool) -> String {
    match (isolation, temporary_node) {
        (Some(i), _) => format!(" (temporary node, isolation: {i})"),
        (None, true) => " (temporary node)".to_owned(),
        (None, false) => String::new(),
    }
}

/// Each target judged, one line each.
pub fn render_checks(checks: &[TargetCheck]) -> String {
    let mut out = String::new();
    for c in checks {
        let _ = writeln!(
            out,
            "  {:<9} {}: {}",
            if c.met { "[met]" } else { "[NOT MET]" },
            c.target,
            c.measured
        );
    }
    out
}

/// How a figure compares with the same figure of another target (both in microseconds).
pub type Compare = fn(u64, u64) -> String;

/// A figure minus its baseline's, in milliseconds.
pub fn overhead(us: u64, base_us: u64) -> String {
    ms_signed(diff_us(us, base_us))
}

/// A table of [`latency_row`]s: `first` heads the names, `compared` the two comparisons.
/// The p50 of one named way of a comparison of ways (e.g. `--observability`'s, `--authorization`'s).
pub fn p50_of(ways: &[(String, Latency)], way: &str) -> Option<u64> {
    ways.iter()
        .find(|(w, _)| w == way)
        .and_then(|(_, l)| l.summary)
        .map(|s| s.p50_us)
}

/// Failed requests over all the ways.
pub fn ways_errors(ways: &[(String, Latency)]) -> u64 {
    ways.iter().map(|(_, l)| l.errors).sum()
}

/// A [`latency_table`] of named ways, each but `base` compared with `base` by `compare`, and
/// the first error of each way that had one.
pub fn ways_table(
    ways: &[(String, Latency)],
    base: &str,
    compared: [&str; 2],
    compare: Compare,
) -> String {
    let mut t = latency_table("way", compared);
    let base_summary = ways
        .iter()
        .find(|(w, _)| w == base)
        .and_then(|(_, l)| l.summary);
    for (way, l) in ways {
        let against = if way == base { None } else { base_summary };
        t.row(latency_row(way, l, against, compare));
    }
    t.render()
}

pub fn latency_table(first: &str, compared: [&str; 2]) -> Table {
    let [p50, p99] = compared;
    Table::new(&[first, "n", "p50", "p90", "p99", "max", "errors", p50, p99])
}

/// A table of [`throughput_row`]s: `first` heads the names, the count and the rate, `compared`
/// the two comparisons; `more` columns may follow.
pub fn throughput_table(first: [&str; 3], compared: [&str; 2]) -> Table {
    let [name, count, rate] = first;
    let [p50, p99] = compared;
    Table::new(&[name, count, rate, "p50", "p99", "errors", p50, p99])
}

/// Name, n, p50, p90, p99, max, errors, and p50 and p99 compared with `base`.
pub fn latency_row(
    name: &str,
    l: &Latency,
    base: Option<Summary>,
    compare: Compare,
) -> Vec<String> {
    let s = l.summary;
    let f = |v: fn(&Summary) -> u64| s.as_ref().map_or_else(dash, |s| ms(v(s)));
    let overhead = |v: fn(&Summary) -> u64| match (s.as_ref(), base.as_ref()) {
        (Some(s), Some(b)) => compare(v(s), v(b)),
        _ => dash(),
    };
    vec![
        name.to_owned(),
        s.map_or(0, |s| s.count).to_string(),
        f(|s| s.p50_us),
        f(|s| s.p90_us),
        f(|s| s.p99_us),
        f(|s| s.max_us),
        l.errors.to_string(),
        overhead(|s| s.p50_us),
        overhead(|s| s.p99_us),
    ]
}

/// Name, invokes, invokes/s, p50, p99, errors, and p50 and p99 compared with `base`.
pub fn throughput_row(
    name: &str,
    t: &Throughput,
    base: Option<Summary>,
    compare: Compare,
) -> Vec<String> {
    let s = t.latency.summary;
    let f = |v: fn(&Summary) -> u64| s.as_ref().map_or_else(dash, |s| ms(v(s)));
    let overhead = |v: fn(&Summary) -> u64| match (s.as_ref(), base.as_ref()) {
        (Some(s), Some(b)) => compare(v(s), v(b)),
        _ => dash(),
    };
    vec![
        name.to_owned(),
        s.map_or(0, |s| s.count).to_string(),
        format!("{:.0}", t.invokes_per_second),
        f(|s| s.p50_us),
        f(|s| s.p99_us),
        t.latency.errors.to_string(),
        overhead(|s| s.p50_us),
        overhead(|s| s.p99_us),
    ]
}

fn cold_row(name: &str, c: &ColdStarts) -> Vec<String> {
    let s = c.ignis.summary;
    let b = c.baseline.summary;
    let f =
        |x: Option<Summary>, v: fn(&Summary) -> u64| x.as_ref().map_or_else(dash, |s| ms1(v(s)));
    vec![
        name.to_owned(),
        s.map_or(0, |s| s.count).to_string(),
        f(s, |s| s.p50_us),
        f(s, |s| s.p90_us),
        f(s, |s| s.max_us),
        (c.ignis.errors + c.baseline.errors).to_string(),
        c.baseline_command.clone(),
        f(b, |s| s.p50_us),
        f(b, |s| s.p90_us),
        match (s, b) {
            (Some(s), Some(b)) => {
                let d = diff_us(s.p50_us, b.p50_us);
                format!(
                    "{}{:.1}",
                    if d >= 0 { "+" } else { "-" },
                    d.unsigned_abs() as f64 / 1000.0
                )
            }
            _ => dash(),
        },
    ]
}

pub fn dash() -> String {
    "-".into()
}

/// Microseconds as milliseconds with three decimals.
pub fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// Milliseconds with one decimal.
fn ms1(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// A signed difference in microseconds as milliseconds, e.g. `+0.412` or `-0.003`.
pub fn ms_signed(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "+" };
    format!("{sign}{:.3}", us.unsigned_abs() as f64 / 1000.0)
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A plain-text table: the first column left-aligned, the others right-aligned.
#[derive(Debug)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// One more column, after the others.
    pub fn column(&mut self, header: &str) {
        self.headers.push(header.to_owned());
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut text = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = cells.get(i).map_or("", String::as_str);
                let pad = width - cell.chars().count();
                if i == 0 {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                } else {
                    text.push_str("  ");
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn summary(p50: u64, p99: u64) -> Summary {
        Summary {
            count: 100,
            p50_us: p50,
            p90_us: p50,
            p99_us: p99,
            max_us: p99,
            mean_us: p50,
        }
    }

    /// The host every report's tests run on.
    pub(crate) fn host() -> HostInfo {
        HostInfo {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            memory_total_kib: 1024 * 1024,
            kernel: "6.1".into(),
            load_average: "0.10 0.20 0.30".into(),
        }
    }

    pub(crate) fn latency(p50: u64, p99: u64, errors: u64) -> Latency {
        Latency {
            summary: Some(summary(p50, p99)),
            errors,
            first_error: (errors > 0).then(|| "HTTP 501: not yet".into()),
        }
    }

    fn report() -> Report {
        Report {
            started_at: "2026-01-01T00:00:00Z".into(),
            host: HostInfo {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                memory_total_kib: 24 * 1024 * 1024,
                kernel: "6.1".into(),
                load_average: "0.10 0.20 0.30".into(),
            },
            endpoint: "http://127.0.0.1:1".into(),
            temporary_node: true,
            load_average_at_end: "1.00 0.50 0.25".into(),
            isolation: Some("sandbox (test)".into()),
            settings: Settings {
                concurrency: 16,
                warm_requests: 100,
                throughput_seconds: 2.0,
                cold_starts: 2,
                memory_size_mb: 1769,
                payload: "{\"n\":1}".into(),
                short: false,
            },
            baseline: Baseline {
                warm: latency(100, 300, 0),
                throughput: Throughput {
                    concurrency: 16,
                    elapsed_seconds: 2.0,
                    invokes_per_second: 30_000.0,
                    latency: latency(400, 900, 0),
                    cpu: None,
                },
            },
            runtimes: vec![
                RuntimeReport {
                    kind: "native".into(),
                    runtime: "provided.al2023".into(),
                    status: Status::Ran,
                    reason: None,
                    cold: Some(ColdStarts {
                        ignis: latency(20_000, 30_000, 0),
                        baseline_command: "ignis-bench-noop --version".into(),
                        baseline: latency(1_000, 2_000, 0),
                    }),
                    warm: Some(latency(600, 6_000, 0)),
                    throughput: Some(Throughput {
                        concurrency: 16,
                        elapsed_seconds: 2.0,
                        invokes_per_second: 2_500.0,
                        latency: latency(5_000, 9_000, 1),
                        cpu: None,
                    }),
                },
                RuntimeReport {
                    kind: "node".into(),
                    runtime: String::new(),
                    status: Status::Skipped,
                    reason: Some("node not found on PATH".into()),
                    cold: None,
                    warm: None,
                    throughput: None,
                },
            ],
        }
    }

    #[test]
    fn table_alignment() {
        let mut t = Table::new(&["name", "n", "p50"]);
        t.row(vec!["a".into(), "1".into(), "0.100".into()]);
        t.row(vec!["longer name".into(), "1000".into(), "12.5".into()]);
        assert_eq!(
            t.render(),
            "name            n    p50\n\
             a               1  0.100\n\
             longer name  1000   12.5\n"
        );
    }

    #[test]
    fn number_formats() {
        assert_eq!(ms(1234), "1.234");
        assert_eq!(ms_signed(412), "+0.412");
        assert_eq!(ms_signed(-3), "-0.003");
        assert_eq!(ms_signed(0), "+0.000");
        assert_eq!(trim_float(10.0), "10");
        assert_eq!(trim_float(2.5), "2.5");
    }

    #[test]
    fn targets_are_judged() {
        let r = report();
        assert_eq!(r.total_errors(), 1);
        let t = r.targets();
        let find = |s: &str| t.iter().find(|c| c.target.contains(s)).unwrap();
        let p50 = find("provided.al2023 warm overhead p50");
        assert!(p50.met);
        assert_eq!(p50.measured, "+0.500 ms");
        let p99 = find("provided.al2023 warm overhead p99");
        assert!(!p99.met, "6 ms - 0.3 ms is over 5 ms");
        let tput = find("invokes/s");
        assert!(tput.met);
        assert_eq!(tput.measured, "2500 invokes/s");
        let errors = find("zero errors");
        assert!(!errors.met);
    }

    #[test]
    fn rendering_has_every_section() {
        let text = report().render();
        for needle in [
            "host: 2 CPUs (Test CPU), 24.0 GiB memory, Linux 6.1\nload average (1/5/15 min): 0.10 0.20 0.30 at start, 1.00 0.50 0.25 at end",
            "Warm invoke latency, concurrency 1, 100 sequential requests (ms)",
            "baseline: bare HTTP echo",
            "Throughput, concurrency 16, 2 s (ms)",
            "Cold start",
            "ignis-bench-noop --version",
            "+19.0",
            "skipped node: node not found on PATH",
            "(temporary node, isolation: sandbox (test))",
            "[NOT MET] zero errors: 1 errors",
            "provided.al2023 throughput: 1 errors; first: HTTP 501: not yet",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        // The native warm row: p50 0.600, overhead +0.500 / +5.700.
        let warm_row = text
            .lines()
            .find(|l| l.starts_with("provided.al2023") && l.contains("+5.700"))
            .unwrap_or_else(|| panic!("no warm row in\n{text}"));
        assert!(
            warm_row.contains("0.600") && warm_row.contains("+0.500"),
            "{warm_row}"
        );
    }

    #[test]
    fn json_has_targets_and_totals() {
        let v: serde_json::Value = serde_json::from_str(&report().to_json()).unwrap();
        assert_eq!(v["total_errors"], 1);
        assert_eq!(v["runtimes"][0]["status"], "ran");
        assert_eq!(v["runtimes"][1]["status"], "skipped");
        assert_eq!(v["baseline"]["warm"]["summary"]["p50_us"], 100);
        assert!(v["targets"].as_array().unwrap().len() >= 4);
        assert_eq!(v["host"]["cpus"], 2);
    }
}
