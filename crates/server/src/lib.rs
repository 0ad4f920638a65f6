//! The composition root: `ignis up` and `ignis env`.
//!
//! It resolves the node's configuration, takes an exclusive lock on the data directory, loads or
//! creates the root credentials, opens the metadata and code stores, builds the API state and
//! serves the router until SIGINT/SIGTERM. Nothing else in Ignis reads the process environment
//! or the data-directory layout.

mod ceilings;
mod credentials;
mod data_dir;
mod deliveries;
mod execution_role;
mod isolation;
mod prometheus;
mod usage;

pub use ceilings::CeilingConfig;
pub use credentials::Credentials;
pub use data_dir::{DataDir, default_data_dir, logs_dir};
pub use ignis_identity::IamMode;
pub use ignis_telemetry::{
    ENV_ENDPOINT as OTLP_ENDPOINT_ENV, ENV_TRACES_ENDPOINT as OTLP_TRACES_ENDPOINT_ENV,
    traces_endpoint,
};
pub use isolation::Isolation;
pub use usage::report as usage_report;

use ignis_api::{Api, CodeUrlSigner, UrlIds};
use ignis_front::{Front, FrontConfig, Source};
use ignis_model::Account;
use ignis_package::CodeStore;
use ignis_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Failures that stop `ignis up` before or while serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another Ignis is already running on the data directory {0} (remove nothing; stop that process first)"
    )]
    Locked(PathBuf),
    #[error("credentials: {0}")]
    Credentials(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("metadata store")]
    Store(#[from] ignis_store::StoreError),
    #[error("code store")]
    Code(#[from] ignis_package::PackageError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
    #[error("function logs")]
    Logs(#[from] ignis_logs::LogError),
    #[error("queues")]
    Queues(#[from] ignis_sqs::SqsError),
    #[error("invoker")]
    Invoker(#[from] ignis_invoker::InvokerError),
    #[error("{0}")]
    Isolation(String),
    #[error("{0}")]
    Telemetry(#[from] ignis_telemetry::ExportError),
    #[error("identity")]
    Identity(#[from] ignis_identity::IdentityError),
}

/// The settings of one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub account_id: String,
    /// Root credentials from the environment, if given; otherwise they are generated once.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Idle execution environments are stopped after this.
    pub idle_timeout: Duration,
    /// Account-wide concurrent executions (Lambda's default is 1,000; at least 100 are always
    /// left unreserved).
    pub concurrency_limit: u32,
    /// Delay before the first retry of a failed asynchronous invocation (the second waits twice
    /// as long).
    pub async_retry_base: Duration,
    /// How execution environments are isolated.
    pub isolation: Isolation,
    /// Sandboxed functions may reach the network.
    pub function_egress: bool,
    /// Sandboxed functions may also reach the host's loopback services (at 10.0.2.2).
    pub function_host_access: bool,
    /// Connections held at once, and per source; `None` derives them from the descriptor limit.
    pub max_connections: Option<usize>,
    pub max_connections_per_source: Option<usize>,
    /// A second address serving function URLs only.
    pub url_listen: Option<SocketAddr>,
    /// An address serving the node's metrics to its operators (`GET /metrics`, Prometheus's
    /// text format, unauthenticated).
    pub metrics_listen: Option<SocketAddr>,
    /// Node-wide ceilings on environments (memory, pids, `/tmp`) and the async queue's bytes.
    pub ceilings: CeilingConfig,
    /// Where sampled invocations' spans are exported (OTLP/HTTP, the full `/v1/traces` URL);
    /// `None`: no spans are made.
    pub otlp_endpoint: Option<String>,
    /// Whether the account's policies are enforced.
    pub iam: IamMode,
}

/// Bytes of request bodies that may be buffered node-wide before their signatures can be
/// checked (a body is hashed as it arrives; see `ignis_front::read_body`).
pub const UNPROVEN_BODY_BYTES: usize = 256 * 1024 * 1024;
/// Of [`UNPROVEN_BODY_BYTES`], what one client address or one function may hold: room for one
/// request of the largest size and then some, so that one sender cannot take the rest.
pub const UNPROVEN_BODY_SHARE: usize = 96 * 1024 * 1024;
/// How long a request waits for its share of [`UNPROVEN_BODY_BYTES`] before a 429.
const UNPROVEN_BODY_WAIT: Duration = Duration::from_secs(30);
/// How long the spans still buffered at shutdown may take to reach the collector.
const SPAN_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Each log group (function) keeps at most this much on disk; older streams are deleted first.
pub const LOG_BYTES_PER_FUNCTION: u64 = 64 * 1024 * 1024;

/// How often events past their group's retention are deleted: hourly (AWS deletes them within
/// 72 hours), or every `IGNIS_LOG_RETENTION_SWEEP_SECONDS` (hidden; tests shorten it).
fn log_retention_sweep() -> Duration {
    std::env::var("IGNIS_LOG_RETENTION_SWEEP_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(Duration::from_secs(3600), Duration::from_secs_f64)
}

/// The shortest session STS grants: AWS's 900 seconds, or (hidden, for tests of expiry)
/// `IGNIS_STS_MIN_SESSION_SECONDS`.
fn sts_min_session_seconds() -> Option<u32> {
    std::env::var("IGNIS_STS_MIN_SESSION_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// AWS's live-tail bounds, or (hidden, for tests) `IGNIS_LIVE_TAIL_LIMITS` =
/// `<sessions>,<idle seconds>,<longest seconds>`.
fn live_tail_limits() -> ignis_cloudwatch_logs::live_tail::Limits {
    let mut limits = ignis_cloudwatch_logs::live_tail::Limits::default();
    if let Ok(v) = std::env::var("IGNIS_LIVE_TAIL_LIMITS") {
        let parts: Vec<f64> = v.split(',').filter_map(|p| p.trim().parse().ok()).collect();
        if let [sessions, idle, longest] = parts[..] {
            limits.max_sessions = sessions as usize;
            limits.idle = Duration::from_secs_f64(idle);
            limits.max_duration = Duration::from_secs_f64(longest);
        }
    }
    limits
}

/// AWS's queue bounds, or (hidden, for tests) `IGNIS_SQS_LIMITS` =
/// `<in flight standard>,<in flight fifo>,<long polls per queue>`.
/// What one second of `MaximumEventAgeInSeconds` lasts: a second, unless the hidden
/// `IGNIS_ASYNC_AGE_UNIT_MS` (for tests, which cannot wait the model's 60 s minimum) shortens it.
fn async_age_unit() -> Duration {
    std::env::var("IGNIS_ASYNC_AGE_UNIT_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

fn sqs_limits() -> ignis_sqs::Limits {
    let mut limits = ignis_sqs::Limits::default();
    if let Ok(v) = std::env::var("IGNIS_SQS_LIMITS") {
        let parts: Vec<usize> = v.split(',').filter_map(|p| p.trim().parse().ok()).collect();
        if let [standard, fifo, waiters] = parts[..] {
            limits.inflight_standard = standard;
            limits.inflight_fifo = fifo;
            limits.waiters_per_queue = waiters;
        }
    }
    limits
}

/// How often messages past their retention (and old deduplication ids) are deleted.
const QUEUE_SWEEP: Duration = Duration::from_secs(10);

fn spawn_queue_sweeper(
    queues: Arc<ignis_sqs::Sqs>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let stop = tokio::select! {
                _ = tokio::time::sleep(QUEUE_SWEEP) => false,
                _ = stopped.wait_for(|s| *s) => true,
            };
            if stop {
                return;
            }
            if let Err(e) = queues.sweep().await {
                tracing::warn!(error = %e, "sweeping queues failed");
            }
        }
    })
}

/// Runs one node in the foreground until SIGINT or SIGTERM.
pub async fn up(config: NodeConfig) -> Result<(), ServerError> {
    let data = DataDir::open(&config.data_dir)?;
    let credentials = Credentials::resolve(
        &data,
        config.access_key_id.clone(),
        config.secret_access_key.clone(),
    )?;
    let store = Store::open(&data.metadata_db(), &data.node_id()?).await?;
    let code = CodeStore::open(&data.code_dir())?;
    let account = Account {
        id: config.account_id.clone(),
        region: config.region.clone(),
    };
    // Every service resolves the keys that sign its requests here: the root key, IAM users'
    // keys and STS sessions' temporary keys.
    let identity = ignis_identity::Identity::open(
        store.clone(),
        &account.id,
        ignis_identity::RootKey {
            access_key_id: credentials.access_key_id.clone(),
            secret_access_key: credentials.secret_access_key.clone(),
        },
        config.iam,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: config.listen,
            source,
        })?;
    let local = listener.local_addr().map_err(ServerError::Serve)?;
    let url_listener = match config.url_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Listen { addr, source })?,
        ),
        None => None,
    };
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Listen { addr, source })?,
        ),
        None => None,
    };
    let url_local = match &url_listener {
        Some(l) => Some(l.local_addr().map_err(ServerError::Serve)?),
        None => None,
    };

    let logs = ignis_logs::LogStore::open(data.logs_dir(), LOG_BYTES_PER_FUNCTION)?;
    let mut invoker_config =
        ignis_invoker::InvokerConfig::new(account.clone(), data.runtime_dir(), logs.clone());
    invoker_config.idle_timeout = config.idle_timeout;
    // Metrics leave invocations through a bounded buffer to one task that writes the store.
    let metrics = ignis_metrics::Metrics::start(store.clone());
    invoker_config.metrics = Some(metrics.clone());
    let mut exporter = None;
    if let Some(endpoint) = &config.otlp_endpoint {
        let telemetry = ignis_telemetry::Config::new(
            endpoint.clone(),
            account.region.clone(),
            account.id.clone(),
        );
        let (telemetry, started) = ignis_telemetry::Telemetry::start(telemetry)?;
        exporter = Some(started);
        tracing::info!(%endpoint, "traces: sampled invocations' spans are exported over OTLP/HTTP");
        println!("traces: exporting spans to {endpoint}");
        invoker_config.telemetry = Some(telemetry);
    }
    // Functions reach this node with the AWS SDK, as Lambda functions reach AWS.
    invoker_config.function_env = vec![(
        "AWS_ENDPOINT_URL".into(),
        format!("http://{}", reachable(local)),
    )];
    // Never the node's key: each environment holds its execution role's temporary credentials.
    invoker_config.credentials = Some(Arc::new(execution_role::Sessions::new(identity.clone())));
    // The front exists once the router does; a function's connection arriving before that
    // (there can be none: no environment runs yet) would be closed.
    let front_slot: Arc<OnceLock<Arc<Front>>> = Arc::default();
    let forward = {
        let slot = front_slot.clone();
        ignis_invoker::Forward {
            port: local.port(),
            serve: Arc::new(move |conn, function| {
                if let Some(front) = slot.get() {
                    front.connection(conn, Source::Function(function.to_owned()));
                }
            }),
        }
    };
    let ceilings = ceilings::choose(&config.ceilings, data.path());
    let chosen = {
        let network = isolation::Network {
            egress: config.function_egress,
            host_access: config.function_host_access,
        };
        let mode = config.isolation;
        let state_dir = data.path().join("sandbox");
        let max = invoker_config.max_environments;
        // The sandboxes' cgroup gets the memory and pids ceilings.
        let bounds = ceilings.environments;
        let node_ceilings = ignis_sandbox::NodeCeilings {
            memory_bytes: bounds.memory_bytes,
            pids: bounds.pids,
        };
        tokio::task::spawn_blocking(move || {
            isolation::choose(mode, &state_dir, network, forward, max, node_ceilings)
        })
        .await
        .map_err(|e| ServerError::Isolation(e.to_string()))?
        .map_err(ServerError::Isolation)?
    };
    let ceilings = if chosen.sandboxed {
        ceilings
    } else {
        ceilings.for_plain_processes()
    };
    invoker_config.ceilings = ceilings.environments;
    let invoker_config_telemetry = invoker_config.telemetry.clone();
    let invoker = ignis_invoker::Invoker::new(invoker_config, chosen.launcher)?;
    let code = Arc::new(code);
    // Provisioned concurrency survives a restart: the engine starts its environments again.
    let engine = ignis_engine::Engine::start(ignis_engine::EngineParts {
        account: account.clone(),
        store: store.clone(),
        code: code.clone(),
        invoker: invoker.clone(),
        concurrency_limit: config.concurrency_limit,
        async_queue: ceilings.queue,
    })
    .await?;
    // Object content a crash left unnamed is removed before anything writes.
    let objects = ignis_s3::Objects::open(
        &data.objects_dir(),
        ceilings.object_bytes.unwrap_or(u64::MAX),
        account.clone(),
        store.clone(),
        engine.clone(),
    )
    .await
    .map_err(|source| ServerError::DataDir {
        path: data.objects_dir(),
        source,
    })?;
    // Bodies read before their senders are proven (unsigned function URL callers too).
    let unproven_bodies =
        ignis_front::BodyBudget::new(UNPROVEN_BODY_BYTES, UNPROVEN_BODY_SHARE, UNPROVEN_BODY_WAIT);
    let url_key = data.url_signing_key()?;
    // Function URLs are printed with the port they are served on: --url-listen's when given.
    let url_port = url_local.map_or(local.port(), |a| a.port());
    let state = Arc::new(Api {
        code_objects: Some(Arc::new(ObjectCode(objects.clone()))),
        account,
        store: store.clone(),
        code,
        identity: identity.clone(),
        code_urls: CodeUrlSigner::new(&url_key),
        url_ids: UrlIds::new(&url_key),
        url_port,
        code_locks: Default::default(),
        engine: engine.clone(),
        // Probing the host's interpreters blocks (it runs them); keep it off the reactor.
        runtimes: Arc::new(
            tokio::task::spawn_blocking(ignis_invoker::available_runtimes)
                .await
                .unwrap_or_default(),
        ),
        unproven_bodies: unproven_bodies.clone(),
    });
    // A create or update a previous run stored but did not settle is ready: settle it.
    ignis_api::functions::settle_all(&state).await?;
    let (stop_dispatch, dispatch_stopped) = tokio::sync::watch::channel(false);
    let metering = usage::spawn(invoker.clone(), store.clone(), dispatch_stopped.clone());
    let sweeper = ignis_api::spawn_code_sweeper(state.clone(), dispatch_stopped.clone());
    let retention = logs.spawn_retention(log_retention_sweep(), dispatch_stopped.clone());
    let dispatcher = ignis_engine::dispatch::spawn(
        engine.clone(),
        ignis_engine::DispatchConfig {
            retry_base: config.async_retry_base,
            age_unit: async_age_unit(),
            ..Default::default()
        },
        dispatch_stopped,
    );
    let s3_credentials = ignis_s3::Credentials {
        identity: identity.clone(),
        region: state.account.region.clone(),
    };
    let url_router = {
        let lookup_store = store.clone();
        ignis_urls::router(Arc::new(ignis_urls::FunctionUrls::new(
            state.account.clone(),
            store.clone(),
            engine.clone(),
            Arc::new(move |id: &str| lookup_store.function_url(id)),
            identity.clone(),
            unproven_bodies.clone(),
        )))
    };
    let cloudwatch_logs = Arc::new(
        ignis_cloudwatch_logs::Logs::new(
            logs.clone(),
            state.account.region.clone(),
            state.account.id.clone(),
            identity.clone(),
            unproven_bodies.clone(),
        )
        .with_live_tail_limits(live_tail_limits()),
    );
    let mut iam = ignis_iam::Iam::new(identity.clone(), unproven_bodies.clone());
    if let Some(seconds) = sts_min_session_seconds() {
        iam = iam.with_min_session_seconds(seconds);
    }
    let iam = Arc::new(iam);
    let cloudwatch = Arc::new(ignis_cloudwatch::CloudWatch::new(
        metrics.clone(),
        state.account.region.clone(),
        identity.clone(),
        unproven_bodies.clone(),
    ));
    let telemetry = invoker_config_telemetry;
    let queues = Arc::new(
        ignis_sqs::Sqs::open(
            &data.sqs_db(),
            state.account.region.clone(),
            state.account.id.clone(),
            identity.clone(),
            unproven_bodies.clone(),
            sqs_limits(),
        )
        .await?,
    );
    engine.set_role_authority(Arc::new(deliveries::Roles(identity.clone())));
    engine.set_queue_sink(Arc::new(deliveries::SqsSink {
        queues: queues.clone(),
        sender: state.account.id.clone(),
    }));
    let queue_sweeper = spawn_queue_sweeper(queues.clone(), stop_dispatch.subscribe());
    let services = ignis_gateway::Gateway::new(
        "lambda",
        ignis_api::router(state),
        ignis_api::claims_unsigned,
    )
    .service("s3", objects.router(s3_credentials), |_| true)
    .service("logs", cloudwatch_logs.router(), |_| false)
    .service("iam", iam.iam_router(), |_| false)
    .service("sts", iam.sts_router(), |_| false)
    .service(ignis_cloudwatch::SERVICE, cloudwatch.router(), |_| false)
    .service("sqs", queues.clone().router(), |_| false)
    .addressed(ignis_urls::claims, url_router.clone());
    let front = Front::new(front_config(&config), services.into_router());
    let _ = front_slot.set(front.clone());
    // The URL-only listener has a front of its own (its own connection cap) on the same router.
    let url_front = url_listener.map(|l| (l, Front::new(front_config(&config), url_router)));
    // So has the operators' metrics listener.
    let metrics_front = metrics_listener.map(|l| {
        let router = prometheus::router(prometheus::Sources {
            metrics: metrics.clone(),
            engine: engine.clone(),
            store: store.clone(),
            logs: logs.clone(),
            telemetry,
            front: front.clone(),
        });
        (l, Front::new(front_config(&config), router))
    });
    // Signal handlers are installed before the node announces itself, so a signal sent the
    // moment it is up still shuts it down cleanly.
    let signal = shutdown_signal().map_err(ServerError::Serve)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        signal.await;
        let _ = stop.send(true);
    });
    let shutdown = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    if config.iam == IamMode::Off {
        let warning = "IAM is OFF (--iam off): every valid key acts as its account's root user and no policy is enforced. Use it only on a single-user development node.";
        eprintln!("WARNING: {warning}");
        tracing::warn!("{warning}");
    }
    // One line on stdout that tools (and the test suite) can wait for.
    println!("isolation: {}", chosen.description);
    let ceilings_line = ceilings::describe(&ceilings);
    println!("{ceilings_line}");
    tracing::info!("{ceilings_line}");
    if let Some(url_local) = url_local {
        println!("function URLs also on http://{url_local}");
    }
    if let Some((l, _)) = &metrics_front {
        let addr = l.local_addr().map_err(ServerError::Serve)?;
        println!("metrics on http://{addr}{}", prometheus::PATH);
    }
    println!(
        "ignis listening on http://{local} (data dir {})",
        data.path().display()
    );
    tracing::info!(%local, region = %config.region, account = %config.account_id, "ignis is up");

    let url_serving = url_front.map(|(listener, url_front)| {
        let stopped = stopped.clone();
        tokio::spawn(async move { url_front.serve(listener, shutdown(stopped)).await })
    });
    let metrics_serving = metrics_front.map(|(listener, metrics_front)| {
        let stopped = stopped.clone();
        tokio::spawn(async move { metrics_front.serve(listener, shutdown(stopped)).await })
    });
    front
        .serve(listener, shutdown(stopped))
        .await
        .map_err(ServerError::Serve)?;
    if let Some(serving) = metrics_serving
        && let Ok(Err(e)) = serving.await
    {
        tracing::warn!(error = %e, "the metrics listener failed");
    }
    if let Some(serving) = url_serving
        && let Ok(Err(e)) = serving.await
    {
        tracing::warn!(error = %e, "the function URL listener failed");
    }
    let front_stats = front.stats();
    tracing::info!(
        connections_refused = front_stats.refused,
        connections_evicted = front_stats.evicted,
        "shutting down"
    );
    // Intake has stopped; stop taking queued events, then stop every environment.
    let _ = stop_dispatch.send(true);
    let _ = dispatcher.await;
    let _ = sweeper.await;
    let _ = retention.await;
    let _ = queue_sweeper.await;
    invoker.shutdown().await;
    // The last invocations' spans, before the process ends.
    if let Some(exporter) = exporter {
        exporter.finish(SPAN_FLUSH_TIMEOUT).await;
    }
    let _ = metering.await;
    usage::flush(&invoker, &store).await;
    metrics.stop().await;
    store.close().await;
    queues.close().await;
    drop(data);
    Ok(())
}

/// The front's bounds: as configured, else derived from the open-file limit (raised to its hard
/// limit first).
fn front_config(config: &NodeConfig) -> FrontConfig {
    let mut front = FrontConfig::for_descriptors(raise_open_file_limit());
    if let Some(n) = config.max_connections {
        front.max_connections = n.max(1);
        front.per_source = front.per_source.min(front.max_connections);
    }
    if let Some(n) = config.max_connections_per_source {
        front.per_source = n.clamp(1, front.max_connections);
    }
    tracing::info!(
        max_connections = front.max_connections,
        per_source = front.per_source,
        "front"
    );
    front
}

/// Raises this process's soft open-file limit to its hard limit and answers the result.
fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = rustix::process::Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => limit.maximum.unwrap_or(1 << 20),
        Err(_) => limit.current.unwrap_or(1024),
    }
}

/// The address functions use to reach the API: a wildcard listen address is reached on loopback.
fn reachable(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], local.port()))
    } else {
        local
    }
}

/// Resolves on the first SIGINT or SIGTERM; the handlers exist from the moment this returns.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// `export` lines that point the AWS CLI and SDKs at a node: every service (Lambda, S3) on its
/// one port. S3 clients address buckets path-style on an IP endpoint (`http://127.0.0.1:9070/bucket/key`);
/// `bucket.s3.localhost:9070` works too where `*.localhost` resolves.
pub fn env_lines(listen: SocketAddr, region: &str, creds: &Credentials) -> String {
    format!(
        "export AWS_ENDPOINT_URL=http://{listen}\nexport AWS_ENDPOINT_URL_S3=http://{listen}\nexport AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\nexport AWS_REGION={region}\nexport AWS_DEFAULT_REGION={region}\n",
        creds.access_key_id, creds.secret_access_key
    )
}

/// What `ignis runtimes` prints: the runtimes this host can run, and how a node with
/// `isolation` would isolate them.
pub fn runtimes_report(isolation: Isolation) -> String {
    let mut out = String::from("Runtimes this host can run:\n");
    for r in ignis_invoker::available_runtimes() {
        out.push_str(&format!("  {r}\n"));
    }
    out.push_str(&isolation::report(isolation));
    out
}

/// Prints a function's log records (`ignis logs`), and keeps following when asked: those of every
/// log group its versions write to (`LoggingConfig.LogGroup`) and of its default group, in time
/// order.
pub async fn print_logs(
    data_dir: &std::path::Path,
    function: &str,
    follow: bool,
) -> Result<(), ServerError> {
    ignis_model::arn::validate_function_name(function)
        .map_err(|e| ServerError::InvalidArgument(e.to_string()))?;
    let logs = ignis_logs::LogStore::open(logs_dir(data_dir), LOG_BYTES_PER_FUNCTION)?;
    let groups = function_log_groups(data_dir, function).await?;
    let print = |r: &ignis_logs::Record| {
        let t = ignis_model::time::last_modified(r.timestamp_ms);
        println!("{t} {} {}", r.stream, r.message);
    };
    if !follow {
        let mut all = Vec::new();
        for g in &groups {
            all.extend(logs.read(g, None, None).await?);
        }
        // Stable: each group's records keep their order.
        all.sort_by_key(|r| r.timestamp_ms);
        for r in &all {
            print(r);
        }
        return Ok(());
    }
    let (tx, mut records) = tokio::sync::mpsc::channel(1024);
    for g in &groups {
        let mut group = logs.follow(g, None, Duration::from_millis(500));
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(r) = group.recv().await {
                if tx.send(r).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    loop {
        tokio::select! {
            r = records.recv() => match r {
                Some(r) => print(&r?),
                None => return Ok(()),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// The default group of `function` and the groups its stored versions name.
async fn function_log_groups(
    data_dir: &std::path::Path,
    function: &str,
) -> Result<Vec<String>, ServerError> {
    let mut groups = vec![ignis_model::LoggingConfig::default_for(function).log_group];
    let db = data_dir::metadata_db(data_dir);
    if db.exists() {
        for g in ignis_store::read_log_groups(&db, function).await? {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    Ok(groups)
}

/// Code packages from the node's own S3.
struct ObjectCode(Arc<ignis_s3::Objects>);

#[async_trait::async_trait]
impl ignis_api::CodeObjects for ObjectCode {
    async fn fetch(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        max_bytes: u64,
    ) -> Result<Vec<u8>, ignis_api::CodeObjectError> {
        if version.is_some_and(|v| v != "null") {
            // Ignis's buckets are not versioned: an object has only the version `null`.
            return Err(ignis_api::CodeObjectError {
                code: "NoSuchVersion".into(),
                message: "The specified version does not exist.".into(),
            });
        }
        self.0
            .read_whole(bucket, key, max_bytes)
            .await
            .map_err(|e| ignis_api::CodeObjectError {
                code: e.code,
                message: e.message,
            })
    }
}
