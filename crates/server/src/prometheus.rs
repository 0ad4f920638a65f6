//! `--metrics-listen`: the node's metrics for its operators, `GET /metrics` in the Prometheus
//! text format, on an address of its own and unauthenticated (the operator chooses who can
//! reach that address). The per-function counters are `ignis-metrics`'; the rest is read from
//! the node's parts when scraped.

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use ignis_front::Front;
use ignis_metrics::Metrics;
use ignis_metrics::prometheus::{Format, Node, render};
use std::sync::Arc;

/// What a scrape reads.
pub(crate) struct Sources {
    pub metrics: Metrics,
    pub engine: ignis_engine::Engine,
    pub store: ignis_store::Store,
    pub logs: ignis_logs::LogStore,
    pub telemetry: Option<ignis_telemetry::Telemetry>,
    pub front: Arc<Front>,
}

impl Sources {
    fn node(&self) -> Node {
        let invoker = self.engine.invoker();
        let live = invoker.environment_count() as u64;
        let idle = invoker.idle_count() as u64;
        let (_, running, _) = self.engine.limiter().running("");
        let front = self.front.stats();
        let mut dropped = vec![
            ("metric", self.metrics.dropped()),
            ("log", self.logs.dropped()),
        ];
        if let Some(t) = &self.telemetry {
            dropped.push(("span", t.dropped_spans()));
        }
        Node {
            environments: vec![("idle", idle), ("busy", live.saturating_sub(idle))],
            concurrent_executions: u64::from(running),
            async_queue_bytes: self.store.queued_bytes(None),
            dropped,
            open_connections: front.open as u64,
            connections_refused: front.refused,
            connections_evicted: front.evicted,
        }
    }
}

/// The one path the listener serves.
pub const PATH: &str = "/metrics";

/// The listener's router: [`PATH`] only.
pub(crate) fn router(sources: Sources) -> Router {
    let sources = Arc::new(sources);
    Router::new().route(
        PATH,
        get(move |headers: http::HeaderMap| {
            let sources = sources.clone();
            async move {
                let accept = headers
                    .get(http::header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                let format = Format::accepted(accept);
                let text = render(sources.metrics.counters(), &sources.node(), format);
                ([(http::header::CONTENT_TYPE, format.content_type())], text).into_response()
            }
        }),
    )
}
