//! `ignis bench --sqs`: the node's SQS endpoint, each figure beside a baseline of the same run.
//!
//! 1. **Send.** `--concurrency` clients (default 16; 4 with `--short`) each send
//!    SendMessageBatch requests of 10 messages of 100 bytes (JSON 1.0, SigV4-signed) for the
//!    phase's length; the figure is messages acknowledged per second.
//! 2. **Receive and delete.** The same number of clients each ReceiveMessage (10 at most,
//!    no long poll) and DeleteMessageBatch what they got, until the queue the send phase
//!    filled is empty; the figure is messages deleted per second.
//! 3. **Event invokes.** Lambda Invoke with `InvocationType=Event` of a Python function,
//!    paced at 1,000 a second (open loop: each on its own task at its tick, at most 32 in
//!    flight) for 5 s (1 s with `--short`); the figure is the time from its tick to the 202,
//!    the event's enqueue latency (a wait for one of the 32 counts).
//!
//! The baseline is the same binary and the same requests against a second temporary node
//! whose data directory is on tmpfs (`/dev/shm`): the same code path, SQLite in WAL mode with
//! `synchronous = FULL`, but `fsync` there returns at once, so the difference is what
//! durability on this disk costs. Without a tmpfs at `/dev/shm` the baseline is left out.

use crate::client::{Credentials, FunctionSpec, LambdaClient, http_client, snippet};
use crate::node::TempNode;
use crate::report::{Table, dash, ms};
use crate::stats::Summary;
use crate::{MEMORY_SIZE_MB, progress, stop_node};
use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const QUEUE: &str = "ignis-bench";
const FUNCTION: &str = "ignis-bench-events";
/// Messages per SendMessageBatch and per ReceiveMessage: SQS's most.
pub const BATCH: usize = 10;
/// The rate Event invokes are paced at.
pub const EVENTS_PER_SECOND: u32 = 1000;
/// Event invokes in flight at most: a slow node makes later ones wait (timed from their
/// tick), not open a connection each past the node's share per client.
const MAX_IN_FLIGHT: usize = 32;
/// Where the baseline node's data directory goes: a tmpfs, where fsync costs nothing.
const TMPFS: &str = "/dev/shm";

/// One node's queue figures.
#[derive(Debug, Clone, Serialize)]
pub struct QueueFigures {
    pub sent: u64,
    pub send_messages_s: f64,
    pub send_batch: Option<Summary>,
    pub received: u64,
    pub receive_delete_messages_s: f64,
    pub receive: Option<Summary>,
    pub errors: u64,
    pub first_error: Option<String>,
}

/// Event invokes' time to their 202.
#[derive(Debug, Clone, Serialize)]
pub struct EventFigures {
    pub invokes: usize,
    pub per_second: u32,
    pub latency: Option<Summary>,
    pub errors: u64,
    pub first_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SqsReport {
    pub isolation: Option<String>,
    pub clients: usize,
    pub seconds: f64,
    pub durable: QueueFigures,
    /// The same on a node whose data directory is on tmpfs.
    pub tmpfs: Option<QueueFigures>,
    pub events: EventFigures,
    pub tmpfs_events: Option<EventFigures>,
}

/// `ignis bench --sqs [--short] [--concurrency N] [--duration SECS]`.
pub fn run(
    exe: &Path,
    clients: Option<usize>,
    seconds: Option<f64>,
    short: bool,
    json: bool,
) -> anyhow::Result<()> {
    let clients = clients.unwrap_or(if short { 4 } else { 16 });
    let seconds = seconds.unwrap_or(if short { 1.0 } else { 5.0 });
    let rt = crate::async_runtime()?;
    let report = rt.block_on(bench(exe, clients, seconds, short))?;
    let document = json.then(|| serde_json::to_string(&report)).transpose()?;
    crate::print_report(&render(&report), document);
    let errors = report.durable.errors
        + report.events.errors
        + report.tmpfs.as_ref().map_or(0, |t| t.errors)
        + report.tmpfs_events.as_ref().map_or(0, |t| t.errors);
    if errors > 0 {
        bail!("{errors} requests failed (see above)");
    }
    Ok(())
}

async fn bench(exe: &Path, clients: usize, seconds: f64, short: bool) -> anyhow::Result<SqsReport> {
    let phase = Duration::from_secs_f64(seconds);
    let event_phase = Duration::from_secs(if short { 1 } else { 5 });
    progress("sqs: starting a temporary node");
    let node = TempNode::start(exe).await?;
    let result = on_node(&node, clients, phase, event_phase).await;
    let isolation = node.isolation().map(str::to_owned);
    stop_node(node, result.is_err()).await;
    let (durable, events) = result?;
    let (mut tmpfs, mut tmpfs_events) = (None, None);
    if is_tmpfs(Path::new(TMPFS)) {
        progress("sqs: baseline: a temporary node with its data directory on tmpfs");
        let node = TempNode::start_in(exe, Some(Path::new(TMPFS)), &[]).await?;
        let result = on_node(&node, clients, phase, event_phase).await;
        stop_node(node, result.is_err()).await;
        let (q, e) = result?;
        tmpfs = Some(q);
        tmpfs_events = Some(e);
    } else {
        progress(format!("sqs: no tmpfs at {TMPFS}: no baseline"));
    }
    Ok(SqsReport {
        isolation,
        clients,
        seconds,
        durable,
        tmpfs,
        events,
        tmpfs_events,
    })
}

async fn on_node(
    node: &TempNode,
    clients: usize,
    phase: Duration,
    event_phase: Duration,
) -> anyhow::Result<(QueueFigures, EventFigures)> {
    let credentials: Credentials = node.credentials().clone();
    let client = LambdaClient::new(http_client(clients + 4), node.endpoint(), credentials)?;
    let created = sqs(&client, "CreateQueue", json!({ "QueueName": QUEUE })).await?;
    let url = created["QueueUrl"]
        .as_str()
        .context("CreateQueue answered no QueueUrl")?
        .to_owned();
    progress(format!(
        "sqs: {clients} clients sending batches of {BATCH} for {phase:?}"
    ));
    let queue = queue_phases(&client, &url, clients, phase).await?;
    progress(format!(
        "sqs: Event invokes at {EVENTS_PER_SECOND}/s for {event_phase:?}"
    ));
    let events = event_invokes(&client, event_phase).await?;
    Ok((queue, events))
}

/// One signed SQS JSON 1.0 request that must succeed; its output.
async fn sqs(client: &LambdaClient, op: &str, input: Value) -> anyhow::Result<Value> {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    let target = HeaderValue::from_str(&format!("AmazonSQS.{op}")).expect("ASCII");
    headers.insert("x-amz-target", target);
    let reply = client
        .send_signed(
            op,
            "sqs",
            Method::POST,
            "/",
            None,
            headers,
            Bytes::from(input.to_string()),
        )
        .await?;
    if !reply.status.is_success() {
        bail!("{op} answered {}: {}", reply.status, snippet(&reply.body));
    }
    serde_json::from_slice(&reply.body).with_context(|| format!("{op} answered no JSON"))
}

/// Errors counted across workers, with the first one kept.
#[derive(Default)]
struct Errors {
    count: AtomicU64,
    first: std::sync::Mutex<Option<String>>,
}

impl Errors {
    fn note(&self, e: impl std::fmt::Display) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first.lock().expect("not poisoned");
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }

    fn take(&self) -> (u64, Option<String>) {
        let first = self.first.lock().expect("not poisoned").clone();
        (self.count.load(Ordering::Relaxed), first)
    }
}

async fn queue_phases(
    client: &LambdaClient,
    url: &str,
    clients: usize,
    phase: Duration,
) -> anyhow::Result<QueueFigures> {
    let errors = Arc::new(Errors::default());
    let body = "x".repeat(100);
    // Send: each client sends batches until the phase ends.
    let started = Instant::now();
    let deadline = started + phase;
    let mut workers = Vec::new();
    for w in 0..clients {
        let (client, url, errors, body) =
            (client.clone(), url.to_owned(), errors.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let (mut sent, mut samples) = (0u64, Vec::new());
            let mut n = 0u64;
            while Instant::now() < deadline {
                let entries: Vec<Value> = (0..BATCH)
                    .map(|i| json!({ "Id": format!("m{i}"), "MessageBody": format!("{w}-{n}-{body}") }))
                    .collect();
                n += 1;
                let at = Instant::now();
                let input = json!({ "QueueUrl": url, "Entries": entries });
                match sqs(&client, "SendMessageBatch", input).await {
                    Ok(out) => {
                        let ok = out["Successful"].as_array().map_or(0, Vec::len);
                        if let Some(failed) = out["Failed"].as_array().filter(|f| !f.is_empty()) {
                            errors.note(format!("SendMessageBatch entries failed: {failed:?}"));
                        }
                        sent += ok as u64;
                        samples.push(at.elapsed());
                    }
                    Err(e) => errors.note(format!("{e:#}")),
                }
            }
            (sent, samples)
        }));
    }
    let (mut sent, mut send_samples) = (0, Vec::new());
    for w in workers {
        let (s, samples) = w.await?;
        sent += s;
        send_samples.extend(samples);
    }
    let send_elapsed = started.elapsed();

    // Receive and delete: each client until it finds the queue empty.
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (client, url, errors) = (client.clone(), url.to_owned(), errors.clone());
        workers.push(tokio::spawn(async move {
            let (mut deleted, mut samples) = (0u64, Vec::new());
            loop {
                let at = Instant::now();
                let input = json!({ "QueueUrl": url, "MaxNumberOfMessages": BATCH, "WaitTimeSeconds": 0 });
                let got = match sqs(&client, "ReceiveMessage", input).await {
                    Ok(out) => out,
                    Err(e) => {
                        errors.note(format!("{e:#}"));
                        break;
                    }
                };
                let messages = got["Messages"].as_array().cloned().unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                let entries: Vec<Value> = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| json!({ "Id": format!("d{i}"), "ReceiptHandle": m["ReceiptHandle"] }))
                    .collect();
                let input = json!({ "QueueUrl": url, "Entries": entries });
                match sqs(&client, "DeleteMessageBatch", input).await {
                    Ok(out) => {
                        deleted += out["Successful"].as_array().map_or(0, Vec::len) as u64;
                        if let Some(failed) = out["Failed"].as_array().filter(|f| !f.is_empty()) {
                            errors.note(format!("DeleteMessageBatch entries failed: {failed:?}"));
                        }
                        samples.push(at.elapsed());
                    }
                    Err(e) => errors.note(format!("{e:#}")),
                }
            }
            (deleted, samples)
        }));
    }
    let (mut received, mut receive_samples) = (0, Vec::new());
    for w in workers {
        let (d, samples) = w.await?;
        received += d;
        receive_samples.extend(samples);
    }
    let receive_elapsed = started.elapsed();
    if received != sent {
        errors.note(format!("{sent} messages were sent but {received} deleted"));
    }
    let (errors, first_error) = errors.take();
    Ok(QueueFigures {
        sent,
        send_messages_s: sent as f64 / send_elapsed.as_secs_f64(),
        send_batch: Summary::of(&send_samples),
        received,
        receive_delete_messages_s: received as f64 / receive_elapsed.as_secs_f64(),
        receive: Summary::of(&receive_samples),
        errors,
        first_error,
    })
}

async fn event_invokes(client: &LambdaClient, phase: Duration) -> anyhow::Result<EventFigures> {
    let zip = crate::package::python()?;
    let (minor, _) = crate::baseline::probe_python("python3.11")
        .or_else(|| crate::baseline::probe_python("python3"))
        .context("no python3 on PATH: the Event invoke phase needs a Python function")?;
    client
        .create_function(&FunctionSpec {
            name: FUNCTION.into(),
            runtime: format!("python3.{minor}"),
            handler: crate::package::PYTHON_HANDLER.into(),
            zip,
            memory_size: MEMORY_SIZE_MB,
            timeout_s: 30,
        })
        .await?;
    // One environment takes the events: the phase measures enqueueing, not running them.
    let reply = client
        .send(
            "PutFunctionConcurrency",
            Method::PUT,
            &format!("/2017-10-31/functions/{FUNCTION}/concurrency"),
            Bytes::from_static(b"{\"ReservedConcurrentExecutions\":1}"),
        )
        .await?;
    if !reply.status.is_success() {
        bail!(
            "PutFunctionConcurrency answered {}: {}",
            reply.status,
            snippet(&reply.body)
        );
    }
    let errors = Arc::new(Errors::default());
    let invoke = |client: LambdaClient, errors: Arc<Errors>, at: Instant| async move {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-invocation-type", HeaderValue::from_static("Event"));
        let path = format!("/2015-03-31/functions/{FUNCTION}/invocations");
        match client
            .send_signed(
                "Invoke",
                "lambda",
                Method::POST,
                &path,
                None,
                headers,
                Bytes::from_static(crate::PAYLOAD.as_bytes()),
            )
            .await
        {
            Ok(r) if r.status == http::StatusCode::ACCEPTED => Some(at.elapsed()),
            Ok(r) => {
                errors.note(format!(
                    "Invoke answered {}: {}",
                    r.status,
                    snippet(&r.body)
                ));
                None
            }
            Err(e) => {
                errors.note(e);
                None
            }
        }
    };
    // Warm the connections and the path.
    for _ in 0..20 {
        invoke(client.clone(), errors.clone(), Instant::now()).await;
    }
    let total = (phase.as_secs_f64() * f64::from(EVENTS_PER_SECOND)) as usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / EVENTS_PER_SECOND);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = Vec::with_capacity(total);
    for _ in 0..total {
        // Timed from its tick: an invoke that waits for a connection counts the wait.
        let due = tick.tick().await.into_std();
        let (client, errors, in_flight) = (client.clone(), errors.clone(), in_flight.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = in_flight.acquire_owned().await.expect("never closed");
            invoke(client, errors, due).await
        }));
    }
    let mut samples = Vec::with_capacity(total);
    for t in tasks {
        samples.extend(t.await?);
    }
    let (errors, first_error) = errors.take();
    Ok(EventFigures {
        invokes: total,
        per_second: EVENTS_PER_SECOND,
        latency: Summary::of(&samples),
        errors,
        first_error,
    })
}

/// Whether `path` is on a tmpfs (from `/proc/self/mounts`).
fn is_tmpfs(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (_, point, kind) = (f.next(), f.next(), f.next());
        point == path.to_str() && kind == Some("tmpfs")
    })
}

pub fn render(r: &SqsReport) -> String {
    let mut out = format!(
        "ignis bench --sqs: isolation {}, {} clients, {}s phases; baseline: the same node with \
         its data directory on tmpfs ({TMPFS}, fsync free)\n\n",
        r.isolation.as_deref().unwrap_or("unknown"),
        r.clients,
        r.seconds
    );
    let mut table = Table::new(&[
        "phase",
        "messages",
        "msg/s",
        "req p50",
        "req p99",
        "errors",
        "tmpfs msg/s",
        "vs tmpfs",
    ]);
    let percent = |a: f64, b: f64| format!("{:.0}%", 100.0 * a / b);
    let f =
        |s: &Option<Summary>, v: fn(&Summary) -> u64| s.as_ref().map_or_else(dash, |s| ms(v(s)));
    let d = &r.durable;
    let t = r.tmpfs.as_ref();
    table.row(vec![
        format!("SendMessageBatch ({BATCH})"),
        d.sent.to_string(),
        format!("{:.0}", d.send_messages_s),
        f(&d.send_batch, |s| s.p50_us),
        f(&d.send_batch, |s| s.p99_us),
        d.errors.to_string(),
        t.map_or_else(dash, |t| format!("{:.0}", t.send_messages_s)),
        t.map_or_else(dash, |t| percent(d.send_messages_s, t.send_messages_s)),
    ]);
    table.row(vec![
        format!("Receive ({BATCH}) + DeleteBatch"),
        d.received.to_string(),
        format!("{:.0}", d.receive_delete_messages_s),
        f(&d.receive, |s| s.p50_us),
        f(&d.receive, |s| s.p99_us),
        String::new(),
        t.map_or_else(dash, |t| format!("{:.0}", t.receive_delete_messages_s)),
        t.map_or_else(dash, |t| {
            percent(d.receive_delete_messages_s, t.receive_delete_messages_s)
        }),
    ]);
    out.push_str("Messages (request latency in ms)\n");
    out.push_str(&table.render());
    let mut table = Table::new(&["Event invokes", "n", "p50", "p90", "p99", "max", "errors"]);
    let mut row = |name: &str, e: &EventFigures| {
        table.row(vec![
            name.to_owned(),
            e.latency.map_or(0, |s| s.count).to_string(),
            f(&e.latency, |s| s.p50_us),
            f(&e.latency, |s| s.p90_us),
            f(&e.latency, |s| s.p99_us),
            f(&e.latency, |s| s.max_us),
            e.errors.to_string(),
        ]);
    };
    row("durable node", &r.events);
    if let Some(e) = &r.tmpfs_events {
        row("tmpfs node", e);
    }
    out.push_str(&format!(
        "\nEvent invokes paced at {}/s, time to the 202 (ms)\n",
        r.events.per_second
    ));
    out.push_str(&table.render());
    for e in [&r.durable.first_error, &r.events.first_error]
        .into_iter()
        .chain(r.tmpfs.as_ref().map(|t| &t.first_error))
        .chain(r.tmpfs_events.as_ref().map(|t| &t.first_error))
        .flatten()
    {
        out.push_str(&format!("first error: {e}\n"));
    }
    out
}
