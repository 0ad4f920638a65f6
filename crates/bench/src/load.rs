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
    /// The same Invoke as a sampled trace's first hop (`X-Amzn-Trace-Id` with `Sampled=1`).
    SampledInvoke,
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
            Via::SampledInvoke => self.client.invoke_sampled(&self.function, payload).await,
            Via::Url(request) => self.client.url(request, payload).await,
        }
        .map_err(|e| e.to_string())?;
        match &self.via {
            Via::Invoke | Via::SampledInvoke => check_invoke(&reply, &self.expected)?,
            Via::Url(request) => check_url_event(&reply, request, &self.payload)?,
        }
        Ok(reply.elapsed)
    }
}

/// CPU time (user + system) used so far by this process and, when it is known, the node's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub client: Duration,
    pub node: Option<Duration>,
}

impl CpuTimes {
    /// This process's, and the node's when `node_pid` is given (and readable).
    pub fn now(node_pid: Option<u32>) -> CpuTimes {
        let read = |pid: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| stat_cpu(&s))
        };
        CpuTimes {
            client: read("self").unwrap_or_default(),
            node: node_pid.and_then(|pid| read(&pid.to_string())),
        }
    }

    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: CpuTimes) -> CpuTimes {
        CpuTimes {
            client: self.client.saturating_sub(earlier.client),
            node: self
                .node
                .zip(earlier.node)
                .map(|(a, b)| a.saturating_sub(b)),
        }
    }

    pub fn add(&mut self, other: CpuTimes) {
        self.client += other.client;
        self.node = self.node.zip(other.node).map(|(a, b)| a + b);
    }
}

/// `utime + stime` of a `/proc/<pid>/stat` line (all the process's threads, living or gone), in
/// the kernel's `USER_HZ` of 100 ticks a second.
fn stat_cpu(stat: &str) -> Option<Duration> {
    // The command name (field 2) may hold spaces and parentheses: count after its last `)`.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
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
    fn cpu_times_from_proc() {
        let stat = "4242 (ignis (up) x) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 9 0 100";
        assert_eq!(stat_cpu(stat), Some(Duration::from_millis(1750)));
        assert_eq!(stat_cpu("4242 (x) S 1 2"), None);
        let now = CpuTimes::now(Some(std::process::id()));
        assert!(
            now.node.is_some(),
            "this process can read its own stat by pid"
        );
        assert_eq!(CpuTimes::now(None).node, None);
        let a = CpuTimes {
            client: Duration::from_millis(30),
            node: Some(Duration::from_millis(50)),
        };
        let b = CpuTimes {
            client: Duration::from_millis(10),
            node: Some(Duration::from_millis(20)),
        };
        let mut d = a.since(b);
        assert_eq!(d.client, Duration::from_millis(20));
        assert_eq!(d.node, Some(Duration::from_millis(30)));
        d.add(CpuTimes {
            client: Duration::from_millis(5),
            node: None,
        });
        assert_eq!((d.client, d.node), (Duration::from_millis(25), None));
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
