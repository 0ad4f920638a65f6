//! `ignis bench --s3`: the node's S3 endpoint, each figure beside a baseline of the same run.
//!
//! 1. **Throughput.** Sequential PutObject and GetObject of 1 MiB and 100 MiB objects of random
//!    bytes (SigV4-signed, `UNSIGNED-PAYLOAD`, as SDKs send over TLS), beside a plain copy of
//!    the same bytes on the same file system as the node's data directory (`std::fs::copy`
//!    and `fsync`, as a PUT is synced before it is answered).
//! 2. **Upload to function start.** A Python function is wired to the bucket with a bucket
//!    notification; after warm-up uploads, each measured PUT waits for the previous event to
//!    have been handled (so one warm environment takes every event) and the function prints
//!    the wall-clock time its handler started. The figure is that time minus the time the
//!    PUT's answer arrived; both clocks are this host's.

use crate::client::{Credentials, FunctionSpec, LambdaClient, Reply, http_client, snippet};
use crate::node::TempNode;
use crate::{MEMORY_SIZE_MB, progress, stop_node};
use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use rand::RngCore;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BUCKET: &str = "ignis-bench";
const FUNCTION: &str = "ignis-bench-s3-events";
/// Keys under this prefix notify the function.
const EVENT_PREFIX: &str = "events/";
/// What the function prints before the key and the time its handler started.
const MARK: &str = "IGNIS_BENCH_START";
const HANDLER_SOURCE: &str = r#"
import time

def handler(event, context):
    started = time.time_ns()
    print("IGNIS_BENCH_START", event["Records"][0]["s3"]["object"]["key"], started)
"#;
/// Longest a single event may take to reach the function.
const EVENT_TIMEOUT: Duration = Duration::from_secs(30);
const MIB: usize = 1024 * 1024;

/// One object size's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub size_mib: usize,
    pub objects: usize,
    pub put_mib_s: f64,
    pub get_mib_s: f64,
    pub disk_copy_mib_s: f64,
}

/// Upload-to-start latency, in milliseconds (negative when the function started before the
/// PUT's answer reached the client).
#[derive(Debug, Clone, Serialize)]
pub struct UploadToStart {
    pub events: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct S3Report {
    pub isolation: Option<String>,
    pub data_dir_fs: String,
    pub throughput: Vec<Throughput>,
    pub upload_to_start: UploadToStart,
}

/// `ignis bench --s3 [--short]`.
pub fn run(exe: &Path, short: bool, json: bool) -> anyhow::Result<()> {
    let rt = crate::async_runtime()?;
    let report = rt.block_on(bench(exe, short))?;
    let document = if json {
        Some(serde_json::to_string(&report)?)
    } else {
        None
    };
    crate::print_report(&render(&report), document);
    Ok(())
}

async fn bench(exe: &Path, short: bool) -> anyhow::Result<S3Report> {
    progress("s3: starting a temporary node");
    let node = TempNode::start(exe).await?;
    let result = measure(exe, &node, short).await;
    stop_node(node, result.is_err()).await;
    result
}

async fn measure(exe: &Path, node: &TempNode, short: bool) -> anyhow::Result<S3Report> {
    let credentials: Credentials = node.credentials().clone();
    let client = LambdaClient::new(http_client(4), node.endpoint(), credentials)?;
    let data_dir = node.data_dir();
    s3(
        &client,
        "CreateBucket",
        Method::PUT,
        &format!("/{BUCKET}"),
        None,
        Bytes::new(),
    )
    .await?;

    let plan: &[(usize, usize)] = if short {
        &[(1, 5), (100, 1)]
    } else {
        &[(1, 50), (100, 5)]
    };
    let mut throughput = Vec::new();
    for &(size_mib, objects) in plan {
        progress(format!("s3: {objects} PUTs and GETs of {size_mib} MiB"));
        throughput.push(transfer(&client, &data_dir, size_mib, objects).await?);
    }

    progress("s3: upload to function start");
    let events = if short { 10 } else { 200 };
    let upload_to_start = upload_to_start(exe, node, &client, events).await?;
    Ok(S3Report {
        isolation: node.isolation().map(str::to_owned),
        data_dir_fs: file_system_of(&data_dir),
        throughput,
        upload_to_start,
    })
}

/// One signed S3 request that must succeed.
async fn s3(
    client: &LambdaClient,
    op: &str,
    method: Method,
    path: &str,
    query: Option<&str>,
    body: Bytes,
) -> anyhow::Result<Reply> {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static("UNSIGNED-PAYLOAD"),
    );
    let reply = client
        .send_signed(op, "s3", method, path, query, headers, body)
        .await?;
    if !reply.status.is_success() {
        bail!(
            "{op} {path} answered {}: {}",
            reply.status,
            snippet(&reply.body)
        );
    }
    Ok(reply)
}

async fn transfer(
    client: &LambdaClient,
    data_dir: &Path,
    size_mib: usize,
    objects: usize,
) -> anyhow::Result<Throughput> {
    let mut body = vec![0u8; size_mib * MIB];
    rand::rng().fill_bytes(&mut body);
    let body = Bytes::from(body);
    let (mut put, mut get) = (Duration::ZERO, Duration::ZERO);
    for i in 0..objects {
        let path = format!("/{BUCKET}/data/{size_mib}-{i}");
        put += s3(client, "PutObject", Method::PUT, &path, None, body.clone())
            .await?
            .elapsed;
        let reply = s3(client, "GetObject", Method::GET, &path, None, Bytes::new()).await?;
        if reply.body != body {
            bail!("GetObject {path} returned other bytes than were put");
        }
        get += reply.elapsed;
    }
    let copy = disk_copy(data_dir, &body, objects).await?;
    let rate = |d: Duration| (size_mib * objects) as f64 / d.as_secs_f64();
    Ok(Throughput {
        size_mib,
        objects,
        put_mib_s: rate(put),
        get_mib_s: rate(get),
        disk_copy_mib_s: rate(copy),
    })
}

/// Time taken to copy `body` from one file to another `times` times, each copy synced, beside
/// the node's data directory.
async fn disk_copy(data_dir: &Path, body: &Bytes, times: usize) -> anyhow::Result<Duration> {
    let dir = data_dir
        .parent()
        .context("the data directory has no parent")?
        .join("disk-baseline");
    let body = body.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Duration> {
        std::fs::create_dir_all(&dir)?;
        let source = dir.join("source");
        let mut f = std::fs::File::create(&source)?;
        f.write_all(&body)?;
        f.sync_all()?;
        let mut total = Duration::ZERO;
        for i in 0..times {
            let target = dir.join(format!("copy-{i}"));
            let started = Instant::now();
            std::fs::copy(&source, &target)?;
            std::fs::File::open(&target)?.sync_all()?;
            total += started.elapsed();
            std::fs::remove_file(&target)?;
        }
        std::fs::remove_dir_all(&dir)?;
        Ok(total)
    })
    .await?
}

async fn upload_to_start(
    exe: &Path,
    node: &TempNode,
    client: &LambdaClient,
    events: usize,
) -> anyhow::Result<UploadToStart> {
    let zip = crate::package::zip(&[("lambda_function.py", HANDLER_SOURCE.as_bytes(), 0o644)])?;
    let (minor, _) = crate::baseline::probe_python("python3.11")
        .or_else(|| crate::baseline::probe_python("python3"))
        .context("no python3 on PATH: the upload-to-start phase needs a Python function")?;
    let runtime = format!("python3.{minor}");
    client
        .create_function(&FunctionSpec {
            name: FUNCTION.into(),
            runtime,
            handler: crate::package::PYTHON_HANDLER.into(),
            zip,
            memory_size: MEMORY_SIZE_MB,
            timeout_s: 30,
        })
        .await?;
    client
        .add_permission(
            FUNCTION,
            &serde_json::json!({
                "StatementId": "s3",
                "Action": "lambda:InvokeFunction",
                "Principal": "s3.amazonaws.com",
                "SourceArn": format!("arn:aws:s3:::{BUCKET}"),
            }),
        )
        .await?;
    let arn = format!(
        "arn:aws:lambda:{}:000000000000:function:{FUNCTION}",
        crate::node::REGION
    );
    // S3's XML names the Lambda configurations `CloudFunctionConfiguration`.
    let configuration = format!(
        "<NotificationConfiguration><CloudFunctionConfiguration><Id>bench</Id>\
         <CloudFunction>{arn}</CloudFunction><Event>s3:ObjectCreated:*</Event>\
         <Filter><S3Key><FilterRule><Name>prefix</Name><Value>{EVENT_PREFIX}</Value></FilterRule>\
         </S3Key></Filter></CloudFunctionConfiguration></NotificationConfiguration>"
    );
    s3(
        client,
        "PutBucketNotificationConfiguration",
        Method::PUT,
        &format!("/{BUCKET}"),
        Some("notification="),
        Bytes::from(configuration),
    )
    .await?;

    let got = s3(
        client,
        "GetBucketNotificationConfiguration",
        Method::GET,
        &format!("/{BUCKET}"),
        Some("notification="),
        Bytes::new(),
    )
    .await?;
    if !String::from_utf8_lossy(&got.body).contains("<Id>bench</Id>") {
        bail!(
            "the bucket's notification configuration did not take: {}",
            snippet(&got.body)
        );
    }
    let mut logs = Logs::new(exe, node);
    let warmup = 3;
    let mut answered = HashMap::new();
    for i in 0..warmup + events {
        let key = format!("{EVENT_PREFIX}{i:05}");
        s3(
            client,
            "PutObject",
            Method::PUT,
            &format!("/{BUCKET}/{key}"),
            None,
            Bytes::from_static(b"e"),
        )
        .await?;
        let at = unix_ns();
        if i >= warmup {
            answered.insert(key.clone(), at);
        }
        logs.wait_for(&key).await?;
    }
    let mut deltas: Vec<f64> = answered
        .iter()
        .map(|(key, at)| (logs.started[key] - *at as f64) / 1e6)
        .collect();
    deltas.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let r = ((p / 100.0) * deltas.len() as f64 - 1e-9).ceil() as usize;
        deltas[r.clamp(1, deltas.len()) - 1]
    };
    Ok(UploadToStart {
        events: deltas.len(),
        p50_ms: rank(50.0),
        p90_ms: rank(90.0),
        p99_ms: rank(99.0),
        max_ms: rank(100.0),
    })
}

fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// The function's start marks, read with `ignis logs`.
struct Logs {
    exe: std::path::PathBuf,
    data_dir: std::path::PathBuf,
    started: HashMap<String, f64>,
}

impl Logs {
    fn new(exe: &Path, node: &TempNode) -> Logs {
        Logs {
            exe: exe.to_path_buf(),
            data_dir: node.data_dir(),
            started: HashMap::new(),
        }
    }

    /// Waits until the function has logged its start for `key`.
    async fn wait_for(&mut self, key: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + EVENT_TIMEOUT;
        let mut last = String::new();
        while !self.started.contains_key(key) {
            if Instant::now() > deadline {
                let tail: Vec<&str> = last.lines().rev().take(20).collect();
                bail!(
                    "the function did not start for {key} within {EVENT_TIMEOUT:?}; the end of its log:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let out = tokio::process::Command::new(&self.exe)
                .args(["logs", FUNCTION, "--data-dir"])
                .arg(&self.data_dir)
                .output()
                .await
                .context("running `ignis logs`")?;
            last = String::from_utf8_lossy(&out.stdout).into_owned();
            last.push_str(&String::from_utf8_lossy(&out.stderr));
            for line in last.lines() {
                let Some(rest) = line.split_once(MARK).map(|(_, r)| r) else {
                    continue;
                };
                let mut parts = rest.split_whitespace();
                if let (Some(k), Some(Ok(ns))) = (parts.next(), parts.next().map(str::parse::<f64>))
                {
                    self.started.insert(k.to_owned(), ns);
                }
            }
        }
        Ok(())
    }
}

/// The file system type under `path` (from `/proc/self/mounts`), for the report.
fn file_system_of(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point)
                .then(|| (point.len(), format!("{kind} at {point}")))
        })
        .max()
        .map_or_else(|| "unknown".into(), |(_, s)| s)
}

pub fn render(r: &S3Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "ignis bench --s3: isolation {}, data directory on {}\n\n",
        r.isolation.as_deref().unwrap_or("unknown"),
        r.data_dir_fs
    ));
    out.push_str("Throughput, sequential, one object at a time (MiB/s)\n");
    out.push_str("size     objects      PUT      GET  disk copy+fsync  PUT/disk  GET/disk\n");
    for t in &r.throughput {
        out.push_str(&format!(
            "{:>4} MiB {:>7} {:>8.1} {:>8.1} {:>16.1} {:>8.0}% {:>8.0}%\n",
            t.size_mib,
            t.objects,
            t.put_mib_s,
            t.get_mib_s,
            t.disk_copy_mib_s,
            100.0 * t.put_mib_s / t.disk_copy_mib_s,
            100.0 * t.get_mib_s / t.disk_copy_mib_s,
        ));
    }
    let u = &r.upload_to_start;
    out.push_str(&format!(
        "\nUpload to function start, warm Python function, {} events (ms)\n\
         p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}\n",
        u.events, u.p50_ms, u.p90_ms, u.p99_ms, u.max_ms
    ));
    out
}
