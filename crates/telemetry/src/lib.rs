//! Ignis's traces for an OpenTelemetry back end: each sampled invocation becomes a span named for
//! its function (children for init, invoke and overhead), exported over OTLP/HTTP (protobuf,
//! `/v1/traces`) to any collector.
//!
//! The invoker reports an [`InvocationSpans`] record through [`Telemetry::record`], which never
//! waits: records go into a bounded buffer (a full buffer drops them and counts the dropped spans,
//! [`Telemetry::dropped_spans`]), and a background task batches and exports them. A node without
//! an endpoint builds no [`Telemetry`] at all, so nothing is allocated or sent.
//!
//! It owns the span records, their OTLP encoding (`otlp.rs`) and their delivery (`export.rs`:
//! hyper's HTTP/1.1 client). It does not decide what is traced or sampled (the engine does, with
//! `ignis_model::trace`), nor measure invocations (the invoker does).

mod export;
mod otlp;

pub use export::ExportError;

use ignis_model::trace::{SpanId, TraceRoot, Trigger};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;

/// The path OTLP/HTTP serves traces on.
pub const TRACES_PATH: &str = "/v1/traces";
/// The variables OpenTelemetry's exporters read (the traces one wins, and is used as it is).
pub const ENV_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const ENV_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

/// Where traces go: `flag` (`--otlp-endpoint`, a base URL like the generic variable's, or one
/// already ending in `/v1/traces`), else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else
/// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended, as OpenTelemetry specifies.
pub fn traces_endpoint(
    flag: Option<&str>,
    traces_env: Option<&str>,
    generic_env: Option<&str>,
) -> Option<String> {
    let given = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let with_path = |base: String| {
        if base.trim_end_matches('/').ends_with(TRACES_PATH) {
            base
        } else {
            format!("{}{TRACES_PATH}", base.trim_end_matches('/'))
        }
    };
    given(flag)
        .map(with_path)
        .or_else(|| given(traces_env))
        .or_else(|| given(generic_env).map(with_path))
}

/// How the exporter is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The full URL spans are posted to (see [`traces_endpoint`]).
    pub endpoint: String,
    /// Invocations waiting for export at most; past it their spans are dropped and counted.
    pub buffer: usize,
    /// Invocations per export request at most.
    pub batch: usize,
    /// How long a record waits for others to share its request.
    pub interval: Duration,
    /// One request's deadline.
    pub timeout: Duration,
    /// `cloud.region` and `cloud.account.id` of every span.
    pub region: String,
    pub account_id: String,
}

impl Config {
    /// Defaults: 2,048 invocations buffered, batches of 512, sent every second.
    pub fn new(endpoint: String, region: String, account_id: String) -> Config {
        Config {
            endpoint,
            buffer: 2048,
            batch: 512,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            region,
            account_id,
        }
    }
}

/// One sampled invocation, as the invoker measured it.
#[derive(Debug, Clone)]
pub struct InvocationSpans {
    pub trace: TraceRoot,
    /// The caller's span, if it named one.
    pub parent: Option<SpanId>,
    /// The invocation's span.
    pub span: SpanId,
    /// The invoke phase's span: the `Parent` the function was handed.
    pub invoke_span: SpanId,
    pub function: String,
    pub version: String,
    pub request_id: String,
    pub invoked_arn: String,
    pub memory_size_mb: u32,
    pub trigger: Trigger,
    pub start: SystemTime,
    pub end: SystemTime,
    /// Start and length of the init phase, on a cold start.
    pub init: Option<(SystemTime, Duration)>,
    /// Start and length of the invoke phase (from the event's hand-out to the response).
    pub invoke: Option<(SystemTime, Duration)>,
    /// The function's error type (`Unhandled`), if it failed.
    pub error: Option<String>,
}

impl InvocationSpans {
    /// The spans this record becomes.
    fn span_count(&self) -> u64 {
        2 + u64::from(self.init.is_some()) + u64::from(self.invoke.is_some())
    }
}

/// Counters of the exporter.
#[derive(Debug, Default)]
struct Counters {
    dropped: AtomicU64,
    exported: AtomicU64,
    failed: AtomicU64,
}

/// The background exporter's task.
#[derive(Debug)]
pub struct Exporter {
    task: tokio::task::JoinHandle<()>,
    stop: Arc<tokio::sync::Notify>,
}

impl Exporter {
    /// Sends what the buffer holds now (records still coming are not waited for) and ends the
    /// task, giving it at most `within`; at shutdown, so that the last invocations' spans are
    /// not lost.
    pub async fn finish(self, within: Duration) {
        self.stop.notify_one();
        if tokio::time::timeout(within, self.task).await.is_err() {
            tracing::warn!(?within, "the last spans were not exported in time");
        }
    }
}

/// The handle invocations report to. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Telemetry {
    records: mpsc::Sender<InvocationSpans>,
    counters: Arc<Counters>,
}

impl Telemetry {
    /// Starts the background exporter (inside a Tokio runtime). It ends once every handle is
    /// dropped, or when [`Exporter::finish`] is called, after sending what it holds.
    pub fn start(config: Config) -> Result<(Telemetry, Exporter), ExportError> {
        let uri = export::check_endpoint(&config.endpoint)?;
        let (records, rx) = mpsc::channel(config.buffer.max(1));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(tokio::sync::Notify::new());
        let task = tokio::spawn(export::run(config, uri, rx, stop.clone(), counters.clone()));
        Ok((Telemetry { records, counters }, Exporter { task, stop }))
    }

    /// Hands a record to the exporter without waiting; with the buffer full it is dropped and
    /// its spans counted.
    pub fn record(&self, spans: InvocationSpans) {
        let n = spans.span_count();
        if self.records.try_send(spans).is_err() {
            self.counters.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Spans dropped so far because the buffer was full (for `/metrics`).
    pub fn dropped_spans(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Spans the collector accepted so far.
    pub fn exported_spans(&self) -> u64 {
        self.counters.exported.load(Ordering::Relaxed)
    }

    /// Spans lost because an export request failed.
    pub fn failed_spans(&self) -> u64 {
        self.counters.failed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_opentelemetrys_rules() {
        let e = |f, t, g| traces_endpoint(f, t, g);
        assert_eq!(e(None, None, None), None);
        assert_eq!(e(None, None, Some("")), None);
        let base = "http://127.0.0.1:4318";
        assert_eq!(
            e(None, None, Some(base)).unwrap(),
            format!("{base}/v1/traces")
        );
        assert_eq!(
            e(None, None, Some("http://c:4318/")).unwrap(),
            "http://c:4318/v1/traces"
        );
        // The traces variable is used as it is, and wins over the generic one.
        assert_eq!(
            e(None, Some("http://t/x"), Some(base)).unwrap(),
            "http://t/x"
        );
        // The flag wins over both, and may name the path itself.
        assert_eq!(
            e(Some(base), Some("http://t/x"), None).unwrap(),
            format!("{base}/v1/traces")
        );
        assert_eq!(
            e(Some("http://f/v1/traces"), None, None).unwrap(),
            "http://f/v1/traces"
        );
    }

    fn record() -> InvocationSpans {
        let now = SystemTime::now();
        InvocationSpans {
            trace: TraceRoot::new(1),
            parent: None,
            span: SpanId::random(),
            invoke_span: SpanId::random(),
            function: "f".into(),
            version: "$LATEST".into(),
            request_id: "r".into(),
            invoked_arn: "arn".into(),
            memory_size_mb: 128,
            trigger: Trigger::Other,
            start: now,
            end: now,
            init: None,
            invoke: Some((now, Duration::ZERO)),
            error: None,
        }
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts_spans() {
        // Nothing listens on port 9 (discard): exports fail, which the buffer does not wait for.
        let mut config = Config::new(
            "http://127.0.0.1:9/v1/traces".into(),
            "r".into(),
            "1".into(),
        );
        config.buffer = 2;
        config.interval = Duration::from_secs(60);
        let (t, _task) = Telemetry::start(config).unwrap();
        for _ in 0..5 {
            t.record(record());
        }
        // The exporter may have taken one before the others came; at least two were dropped.
        assert!(t.dropped_spans() >= 2 * 3, "{}", t.dropped_spans());
        assert_eq!(t.dropped_spans() % 3, 0);
    }

    #[tokio::test]
    async fn finishing_sends_what_the_buffer_holds() {
        use http_body_util::{BodyExt, Full};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let posts = Arc::new(AtomicU64::new(0));
        let counted = posts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counted = counted.clone();
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let counted = counted.clone();
                    async move {
                        let _ = BodyExt::collect(req.into_body() as hyper::body::Incoming).await;
                        counted.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, hyper::Error>(http::Response::new(Full::new(bytes::Bytes::new())))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service),
                );
            }
        });
        let mut config = Config::new(
            format!("http://{address}/v1/traces"),
            "r".into(),
            "1".into(),
        );
        // Batches of two, and a last one that would wait a minute for company.
        config.batch = 2;
        config.interval = Duration::from_secs(60);
        let (t, exporter) = Telemetry::start(config).unwrap();
        for _ in 0..5 {
            t.record(record());
        }
        exporter.finish(Duration::from_secs(10)).await;
        assert_eq!(t.exported_spans(), 5 * 3);
        assert_eq!(posts.load(Ordering::Relaxed), 3);
        assert_eq!(t.dropped_spans(), 0);
    }

    #[test]
    fn https_is_refused_at_start() {
        let config = Config::new("https://c/v1/traces".into(), "r".into(), "1".into());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _guard = rt.enter();
        assert!(matches!(
            Telemetry::start(config),
            Err(ExportError::Scheme(_))
        ));
    }
}
