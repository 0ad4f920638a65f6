//! The node's metrics in the Prometheus text format, for its operators: per-function counters
//! and duration histograms (kept here, counted by the aggregating task from the same events
//! as CloudWatch's), and what the server reads from the node's parts when it is scraped
//! ([`Node`]). Names and labels follow Prometheus's conventions (`_total` counters, base units).

use crate::lambda::Event;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FunctionLabel {
    function: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    function: String,
    /// `success` or `error` (a function error, including a timeout or crash).
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

fn duration_histogram() -> Histogram {
    // 1 ms to ~17 min (past Lambda's longest timeout, 15 min), doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 21))
}

/// The per-function counters; cheap to clone (they are shared).
#[derive(Clone)]
pub struct Counters {
    invocations: Family<OutcomeLabels, Counter>,
    durations: Family<FunctionLabel, Histogram, fn() -> Histogram>,
    cold_starts: Family<FunctionLabel, Counter>,
    throttles: Family<FunctionLabel, Counter>,
    async_received: Family<FunctionLabel, Counter>,
    async_dropped: Family<FunctionLabel, Counter>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            invocations: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            cold_starts: Family::default(),
            throttles: Family::default(),
            async_received: Family::default(),
            async_dropped: Family::default(),
        }
    }
}

impl Counters {
    pub(crate) fn observe(&self, event: &Event) {
        let label = |function: &str| FunctionLabel {
            function: function.to_string(),
        };
        match event {
            Event::Invoked {
                invoked,
                duration_ms,
                error,
                cold,
                ..
            } => {
                let outcome = if *error { "error" } else { "success" };
                self.invocations
                    .get_or_create(&OutcomeLabels {
                        function: invoked.function.clone(),
                        outcome,
                    })
                    .inc();
                self.durations
                    .get_or_create(&label(&invoked.function))
                    .observe(duration_ms / 1000.0);
                if *cold {
                    self.cold_starts
                        .get_or_create(&label(&invoked.function))
                        .inc();
                }
            }
            Event::Throttled { invoked, .. } => {
                self.throttles
                    .get_or_create(&label(&invoked.function))
                    .inc();
            }
            Event::AsyncReceived { invoked, .. } => {
                self.async_received
                    .get_or_create(&label(&invoked.function))
                    .inc();
            }
            Event::AsyncDropped { invoked, .. } => {
                self.async_dropped
                    .get_or_create(&label(&invoked.function))
                    .inc();
            }
            Event::AsyncAge { .. }
            | Event::DestinationFailed { .. }
            | Event::DeadLetterFailed { .. }
            | Event::Concurrency { .. }
            | Event::ProvisionedConcurrency { .. } => {}
        }
    }
}

/// What the node's parts say when it is scraped.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Execution environments alive, by state (`idle`, `busy`).
    pub environments: Vec<(&'static str, u64)>,
    /// Invocations running now.
    pub concurrent_executions: u64,
    /// Payload bytes in the asynchronous queue.
    pub async_queue_bytes: u64,
    /// Records dropped because their bounded buffer was full, by kind (`metric`, `log`, `span`).
    pub dropped: Vec<(&'static str, u64)>,
    /// Connections held by the front now, refused, and evicted while idle.
    pub open_connections: u64,
    pub connections_refused: u64,
    pub connections_evicted: u64,
}

fn gauge(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let g: Gauge = Gauge::default();
    g.set(i64::try_from(value).unwrap_or(i64::MAX));
    registry.register(name, help, g);
}

fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c: Counter = Counter::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// The text formats a scrape may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 (`application/openmetrics-text`), what `prometheus-client` writes.
    OpenMetrics,
    /// Prometheus's classic text format 0.0.4 (`text/plain`), for scrapers that do not ask
    /// for OpenMetrics.
    Classic,
}

impl Format {
    /// From a scrape's `Accept` header, as Prometheus's own clients choose.
    pub fn accepted(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Classic,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Classic => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// OpenMetrics text as the classic format: a counter's `HELP` and `TYPE` name its `_total`
/// samples, and there is no `# EOF` (nothing else this registry writes differs).
fn classic(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The text exposition of `counters` and `node`.
pub fn render(counters: &Counters, node: &Node, format: Format) -> String {
    let mut r = Registry::default();
    let c = counters.clone();
    r.register(
        "ignis_invocations",
        "Invocations that ran, by function and outcome",
        c.invocations,
    );
    r.register(
        "ignis_invocation_duration_seconds",
        "How long invocations ran (the REPORT line's Duration)",
        c.durations,
    );
    r.register(
        "ignis_cold_starts",
        "Invocations that started an execution environment",
        c.cold_starts,
    );
    r.register(
        "ignis_throttles",
        "Invocation requests throttled",
        c.throttles,
    );
    r.register(
        "ignis_async_events_received",
        "Asynchronous invocations queued",
        c.async_received,
    );
    r.register(
        "ignis_async_events_dropped",
        "Queued asynchronous invocations given up",
        c.async_dropped,
    );
    let environments = Family::<StateLabel, Gauge>::default();
    for (state, n) in &node.environments {
        environments
            .get_or_create(&StateLabel { state })
            .set(i64::try_from(*n).unwrap_or(i64::MAX));
    }
    r.register(
        "ignis_environments",
        "Execution environments alive, by state",
        environments,
    );
    let dropped = Family::<KindLabel, Counter>::default();
    for (kind, n) in &node.dropped {
        dropped.get_or_create(&KindLabel { kind }).inc_by(*n);
    }
    r.register(
        "ignis_dropped_records",
        "Metric, log and span records dropped because their buffer was full",
        dropped,
    );
    gauge(
        &mut r,
        "ignis_concurrent_executions",
        "Invocations running now",
        node.concurrent_executions,
    );
    gauge(
        &mut r,
        "ignis_async_queue_bytes",
        "Payload bytes waiting in the asynchronous invocation queue",
        node.async_queue_bytes,
    );
    gauge(
        &mut r,
        "ignis_open_connections",
        "Connections the front holds now",
        node.open_connections,
    );
    counter(
        &mut r,
        "ignis_connections_refused",
        "Connections refused at the node's or a source's cap",
        node.connections_refused,
    );
    counter(
        &mut r,
        "ignis_connections_evicted",
        "Idle connections closed to make room",
        node.connections_evicted,
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    match format {
        Format::OpenMetrics => out,
        Format::Classic => classic(&out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::Invoked;

    #[test]
    fn counters_and_node_state_render_in_the_text_format() {
        let counters = Counters::default();
        counters.observe(&Event::Invoked {
            invoked: Invoked::from_arn("arn:aws:lambda:r:1:function:f"),
            executed_version: "$LATEST".into(),
            duration_ms: 250.0,
            error: false,
            cold: true,
            provisioned: None,
            at_ms: 0,
        });
        let node = Node {
            environments: vec![("idle", 2), ("busy", 1)],
            dropped: vec![("metric", 3)],
            ..Node::default()
        };
        let text = render(&counters, &node, Format::OpenMetrics);
        for line in [
            "ignis_invocations_total{function=\"f\",outcome=\"success\"} 1",
            "ignis_cold_starts_total{function=\"f\"} 1",
            "ignis_invocation_duration_seconds_count{function=\"f\"} 1",
            "ignis_environments{state=\"idle\"} 2",
            "ignis_dropped_records_total{kind=\"metric\"} 3",
            "ignis_open_connections 0",
            "# EOF",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let classic = render(&counters, &node, Format::Classic);
        for line in [
            "# TYPE ignis_invocations_total counter",
            "ignis_invocations_total{function=\"f\",outcome=\"success\"} 1",
            "# TYPE ignis_environments gauge",
        ] {
            assert!(classic.lines().any(|l| l == line), "{line} in\n{classic}");
        }
        assert!(!classic.contains("# EOF"));
        assert_eq!(
            Format::accepted(Some("application/openmetrics-text;version=1.0.0")),
            Format::OpenMetrics
        );
        assert_eq!(Format::accepted(Some("text/plain")), Format::Classic);
    }
}
