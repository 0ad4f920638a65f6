//! The background task: takes records from the buffer, batches them (up to `batch`, or what came
//! within `interval` of the first), and posts each batch to the collector with hyper's client.
//! A failed request is logged and its spans counted; nothing is retried (the buffer stays free
//! for what comes next).

use crate::{Config, Counters, InvocationSpans, otlp};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{Notify, mpsc};

/// Why the exporter cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the OTLP endpoint {0:?} is not a URL")]
    Invalid(String),
    #[error(
        "the OTLP endpoint {0:?} is not http:// (Ignis exports over plain HTTP; put a collector on this host in front of a TLS one)"
    )]
    Scheme(String),
}

pub(crate) fn check_endpoint(endpoint: &str) -> Result<http::Uri, ExportError> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|_| ExportError::Invalid(endpoint.to_string()))?;
    match uri.scheme_str() {
        Some("http") if uri.authority().is_some() => Ok(uri),
        Some("http") | None => Err(ExportError::Invalid(endpoint.to_string())),
        Some(_) => Err(ExportError::Scheme(endpoint.to_string())),
    }
}

pub(crate) async fn run(
    config: Config,
    uri: http::Uri,
    mut rx: mpsc::Receiver<InvocationSpans>,
    stop: Arc<Notify>,
    counters: Arc<Counters>,
) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut batch = Vec::with_capacity(config.batch);
    let mut dropped_logged = 0;
    // Once stopping, the buffer is closed: what it holds goes out in full batches at once,
    // and the task ends when it is empty.
    let mut stopping = false;
    loop {
        let first = tokio::select! {
            first = rx.recv() => first,
            _ = stop.notified(), if !stopping => {
                stopping = true;
                rx.close();
                continue;
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + config.interval;
        while batch.len() < config.batch {
            if stopping {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
                continue;
            }
            tokio::select! {
                next = tokio::time::timeout_at(deadline, rx.recv()) => match next {
                    Ok(Some(r)) => batch.push(r),
                    Ok(None) | Err(_) => break,
                },
                _ = stop.notified() => {
                    stopping = true;
                    rx.close();
                }
            }
        }
        let spans: u64 = batch.iter().map(InvocationSpans::span_count).sum();
        let body = otlp::encode(&config, &batch);
        batch.clear();
        match post(&client, &uri, body, &config).await {
            Ok(()) => counters.exported.fetch_add(spans, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(endpoint = %uri, error = %e, spans, "cannot export spans");
                counters.failed.fetch_add(spans, Ordering::Relaxed)
            }
        };
        let dropped = counters.dropped.load(Ordering::Relaxed);
        if dropped != dropped_logged {
            tracing::warn!(
                dropped_total = dropped,
                "spans dropped: the export buffer was full"
            );
            dropped_logged = dropped;
        }
    }
}

async fn post(
    client: &Client<HttpConnector, Full<Bytes>>,
    uri: &http::Uri,
    body: Vec<u8>,
    config: &Config,
) -> Result<(), String> {
    let request = http::Request::post(uri.clone())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let sent = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        // Read the answer to its end so that the connection can be kept.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {status}"))
        }
    };
    tokio::time::timeout(config.timeout, sent)
        .await
        .map_err(|_| format!("no answer within {:?}", config.timeout))?
}
