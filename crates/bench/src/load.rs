//! Load patterns: sequential invokes, and a fixed number of workers invoking back to back.

use crate::client::{LambdaClient, UrlRequest, check_invoke, check_url_event};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One function (or the echo server) invoked with one payload, one way.
#[derive(Debug, Clone)]
pub struct Target {
    pub client: Arc<LambdaClient>,
    pub function: Arc<str>,
    pub payload: Bytes,
    /// What an Invoke must answer.
    pub expected: Arc<serde_json::Value>,
    pub via: Via,
}

/// How a [`Target`] reaches its function.
#[derive(Debug, Clone)]
pub enum Via {
    /// A SigV4-signed RequestResponse Invoke, answered with `expected`.
    Invoke,
    /// An unsigned request to the function's URL on the client's endpoint, answered with the
    /// URL's event of that request (what the no-op functions return).
    Url(Arc<UrlRequest>),
}

impl Target {
    /// One invoke; its client-observed latency, or what went wrong.
    pub async fn invoke_once(&self) -> Result<Duration, String> {
        let payload = self.payload.clone();
        let reply = match &self.via {
            Via::Invoke => self.client.invoke(&self.function, payload).await,
            Via::Url(request) => self.client.url(request, payload).await,
        }
        .map_err(|e| e.to_string())?;
        match &self.via {
            Via::Invoke => check_invoke(&reply, &self.expected)?,
            Via::Url(request) => check_url_event(&reply, request, &self.payload)?,
        }
        Ok(reply.elapsed)
    }
}

/// Latencies of successful invokes, and the failures.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub latencies: Vec<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Samples {
    pub fn record(&mut self, result: Result<Duration, String>) {
        match result {
            Ok(d) => self.latencies.push(d),
            Err(e) => self.error(e),
        }
    }

    pub fn error(&mut self, e: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e);
        }
    }

    pub fn merge(&mut self, other: Samples) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// `n` invokes one after another.
pub async fn sequential(target: &Target, n: usize) -> Samples {
    let mut samples = Samples {
        latencies: Vec::with_capacity(n),
        ..Samples::default()
    };
    for _ in 0..n {
        samples.record(target.invoke_once().await);
    }
    samples
}

/// When a concurrent run stops.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// Each worker stops starting invokes after this long.
    After(Duration),
    /// Each worker makes this many invokes.
    EachWorker(usize),
}

/// `workers` tasks invoking back to back until `stop`; the samples and the time from the start
/// until the last invoke finished.
pub async fn concurrent(target: &Target, workers: usize, stop: Stop) -> (Samples, Duration) {
    let started = Instant::now();
    let deadline = match stop {
        Stop::After(d) => Some(started + d),
        Stop::EachWorker(_) => None,
    };
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut done = 0usize;
            loop {
                match (stop, deadline) {
                    (Stop::EachWorker(n), _) if done >= n => break,
                    (_, Some(d)) if Instant::now() >= d => break,
                    _ => {}
                }
                samples.record(target.invoke_once().await);
                done += 1;
            }
            samples
        }));
    }
    let mut all = Samples::default();
    for task in tasks {
        match task.await {
            Ok(s) => all.merge(s),
            Err(e) => all.error(format!("load worker failed: {e}")),
        }
    }
    (all, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::EchoServer;
    use crate::client::{Credentials, http_client};

    async fn echo_target(server: &EchoServer, payload: &'static str) -> Target {
        let client = LambdaClient::new(
            http_client(4),
            &server.endpoint(),
            Credentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "secret".into(),
                region: "us-east-1".into(),
            },
        )
        .unwrap();
        Target {
            client: Arc::new(client),
            function: "echo".into(),
            payload: Bytes::from_static(payload.as_bytes()),
            expected: Arc::new(serde_json::json!({"n": 1})),
            via: Via::Invoke,
        }
    }

    #[tokio::test]
    async fn sequential_against_the_echo_server() {
        let server = EchoServer::start().await.unwrap();
        let s = sequential(&echo_target(&server, "{\"n\":1}").await, 20).await;
        assert_eq!(s.latencies.len(), 20);
        assert_eq!(s.errors, 0);
        let bad = sequential(&echo_target(&server, "{\"n\":2}").await, 3).await;
        assert_eq!(bad.errors, 3);
        assert!(bad.first_error.unwrap().contains("not the event"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_by_count_and_by_time() {
        let server = EchoServer::start().await.unwrap();
        let target = echo_target(&server, "{\"n\":1}").await;
        let (s, _) = concurrent(&target, 4, Stop::EachWorker(5)).await;
        assert_eq!(s.latencies.len(), 20);
        assert_eq!(s.errors, 0);
        let (s, elapsed) = concurrent(&target, 4, Stop::After(Duration::from_millis(200))).await;
        assert!(!s.latencies.is_empty());
        assert_eq!(s.errors, 0);
        assert!(elapsed >= Duration::from_millis(200));
    }

    #[test]
    fn samples_keep_the_first_error() {
        let mut a = Samples::default();
        a.record(Ok(Duration::from_millis(1)));
        a.record(Err("first".into()));
        a.record(Err("second".into()));
        let mut b = Samples::default();
        b.record(Err("other".into()));
        b.merge(a);
        assert_eq!(b.errors, 3);
        assert_eq!(b.first_error.as_deref(), Some("other"));
        assert_eq!(b.latencies.len(), 1);
    }
}
