//! Ignis's invocation engine: execution environments and everything that happens inside one
//! invoke.
//!
//! This crate owns
//! - the pool of execution environments: one request at a time per environment, warm reuse per
//!   (function, version, code, configuration revision), scale-out when all are busy, the idle
//!   reaper, invalidation and shutdown ([`Invoker`]);
//! - each environment's Runtime API 2018-06-01 server (on its own listener) and the
//!   invocation state machine behind it (`/next`, `/response`, `/error`, `/init/error`);
//! - init and function timeouts, crash handling and the platform error payloads
//!   (`Runtime.ExitError`, `Sandbox.Timedout`, `Runtime.InvalidEntrypoint`,
//!   `Function.ResponseSizeTooLarge`, …);
//! - the function process's environment variables, exactly as Lambda sets them;
//! - which runtimes this host can run ([`available_runtimes`]) and how each is started, with
//!   Ignis's bootstraps from `ignis-runtimes`;
//! - each invocation's `AWS/Lambda` metrics (Invocations, Errors, Duration, provisioned or
//!   spillover invocations) and the metrics
//!   its Embedded Metric Format lines carry, reported to `ignis-metrics` without waiting;
//! - each invocation's X-Ray trace header and, when it is sampled, its spans, reported to
//!   `ignis-telemetry`;
//! - the platform log events (`START`, `END`, `REPORT`, … or, with `LogFormat: JSON`, the
//!   Telemetry API records, filtered by the log levels), the function's output lines and the
//!   `LogType: Tail` text, written through `ignis-logs`;
//! - the [`Launcher`] seam; [`ProcessLauncher`], which runs environments as plain child
//!   processes in their own process groups and isolates nothing; and [`SandboxLauncher`], which
//!   runs each environment in its own namespaces and cgroup through `ignis-sandbox`'s jailer and
//!   serves its Runtime API on a listener inside the environment's network namespace.
//!
//! It does not own function metadata or code (the caller passes the configuration and an
//! extracted code directory), concurrency limits, the Lambda API, or how a sandbox is built
//! (namespaces, mounts, cgroups, seccomp: `ignis-sandbox`).

mod capacity;
mod credentials;
mod env;
mod environment;
mod host;
mod invoker;
mod launcher;
mod output;
mod platform;
mod process;
mod report;
mod runtime_api;
mod sandbox;
mod trace;
mod usage;

pub use capacity::{Ceilings, Demand, Resource};
pub use credentials::{CredentialSource, Issued, REFRESH_BEFORE, RoleCredentials};
pub use environment::UNHANDLED;
pub use host::available_runtimes;
pub use invoker::Invoker;
pub use launcher::{
    BoxFuture, EnvironmentProcess, GuestLayout, LaunchError, LaunchSpec, Launcher, OutputPipe,
    ProcessExit,
};
pub use output::TAIL_BYTES;
pub use process::ProcessLauncher;
pub use runtime_api::{MAX_RESPONSE_BYTES, MAX_STREAMED_RESPONSE_BYTES};
pub use sandbox::{Forward, SandboxConfig, SandboxLauncher};
pub use usage::FunctionUsage;

use bytes::Bytes;
use ignis_model::{Account, FunctionConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Idle environments are stopped after this long by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Lambda's on-demand init limit.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on live environments (Lambda's default account concurrency).
pub const DEFAULT_MAX_ENVIRONMENTS: usize = 1000;

/// How the invoker is set up.
#[derive(Debug, Clone)]
pub struct InvokerConfig {
    pub account: Account,
    /// Where the embedded bootstraps are written (e.g. `<data>/runtime`).
    pub runtime_dir: PathBuf,
    /// Idle environments are stopped after this.
    pub idle_timeout: Duration,
    /// Longest an environment's init may take.
    pub init_timeout: Duration,
    /// Variables every function gets, such as `AWS_ENDPOINT_URL`.
    pub function_env: Vec<(String, String)>,
    /// Where each environment gets its execution role's credentials (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); `None`: functions get none.
    pub credentials: Option<std::sync::Arc<dyn CredentialSource>>,
    pub logs: ignis_logs::LogStore,
    /// Most environments alive at once; when all are in use, the least recently used idle one
    /// is stopped to make room, and with none idle the invoke is refused.
    pub max_environments: usize,
    /// Node-wide ceilings on what environments reserve together (memory, `/tmp`, pids); an
    /// environment that would pass one is not started (idle ones are retired first).
    pub ceilings: Ceilings,
    /// Where sampled invocations' spans go; `None`: no spans are made.
    pub telemetry: Option<ignis_telemetry::Telemetry>,
    /// Where each invocation's `AWS/Lambda` metrics and its EMF lines go; `None`: nowhere.
    pub metrics: Option<ignis_metrics::Metrics>,
}

impl InvokerConfig {
    /// A configuration with the default timeouts and bounds and no extra variables.
    pub fn new(
        account: Account,
        runtime_dir: PathBuf,
        logs: ignis_logs::LogStore,
    ) -> InvokerConfig {
        InvokerConfig {
            account,
            runtime_dir,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            function_env: Vec::new(),
            credentials: None,
            logs,
            max_environments: DEFAULT_MAX_ENVIRONMENTS,
            ceilings: Ceilings::default(),
            telemetry: None,
            metrics: None,
        }
    }
}

/// One synchronous invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub function: Arc<FunctionConfig>,
    /// The extracted, read-only code of this version.
    pub code_root: PathBuf,
    /// The ARN as invoked, e.g. `…:function:f` or `…:function:f:PROD`.
    pub invoked_arn: String,
    /// Chosen by the API; becomes `x-amzn-RequestId`.
    pub request_id: String,
    pub payload: Bytes,
    /// The client context JSON, already base64-decoded.
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    /// The caller wants the last 4 KB of this invocation's log.
    pub tail_log: bool,
    /// The function's layers merged into one read-only directory (what `/opt` holds), if any.
    pub opt_dir: Option<PathBuf>,
    /// Keeps `code_root` and `opt_dir` from garbage collection: an environment started for
    /// this invocation holds it for as long as it lives.
    pub lease: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// When set, a response the runtime streams (`Lambda-Runtime-Function-Response-Mode:
    /// streaming`) goes here chunk by chunk as it arrives, and the result's payload is empty
    /// unless the stream ended in an error (then it is the error JSON). A response that is not
    /// streamed still comes back whole in the result.
    pub stream: Option<ResponseSink>,
    /// The trace it belongs to, continued and sampled by the engine; `None` starts a new,
    /// unsampled one.
    pub trace: Option<ignis_model::trace::TraceContext>,
    /// What made it happen (`faas.trigger` on its span).
    pub trigger: ignis_model::trace::Trigger,
}

/// Where a response the caller takes as a stream goes.
#[derive(Debug, Clone)]
pub struct ResponseSink {
    /// The body, chunk by chunk as the runtime writes it.
    pub chunks: tokio::sync::mpsc::Sender<Bytes>,
    /// Told the response's `Content-Type` (if the runtime gave one) when the runtime starts
    /// its response, streamed or not; dropped unanswered when the invocation ends without one.
    pub content_type: Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Sender<Option<String>>>>>,
}

impl ResponseSink {
    /// A sink and the receivers of its chunks and content type.
    pub fn new(
        depth: usize,
    ) -> (
        ResponseSink,
        tokio::sync::mpsc::Receiver<Bytes>,
        tokio::sync::oneshot::Receiver<Option<String>>,
    ) {
        let (chunks, chunks_rx) = tokio::sync::mpsc::channel(depth);
        let (content_type, content_type_rx) = tokio::sync::oneshot::channel();
        let sink = ResponseSink {
            chunks,
            content_type: Arc::new(std::sync::Mutex::new(Some(content_type))),
        };
        (sink, chunks_rx, content_type_rx)
    }

    /// Says what the response's content type is (once; later calls do nothing).
    pub fn started(&self, content_type: Option<&str>) {
        let sender = self
            .content_type
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(content_type.map(str::to_string));
        }
    }
}

/// The measured numbers of one invocation, as on its `REPORT` line.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeMetrics {
    pub duration: Duration,
    pub billed_duration_ms: u64,
    /// Set on a cold start.
    pub init_duration: Option<Duration>,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u64,
}

/// What an invocation produced.
#[derive(Debug, Clone)]
pub struct InvokeResult {
    pub executed_version: String,
    /// The function's result, or the error JSON on a function error.
    pub payload: Bytes,
    /// `Some("Unhandled")` on any function error (including timeout, crash, failed init and
    /// oversized response).
    pub function_error: Option<String>,
    /// Base64 of the last 4 KB of this invocation's log text, when `tail_log` was set.
    pub log_tail: Option<String>,
    pub metrics: InvokeMetrics,
}

/// Why the invoker could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum InvokerError {
    #[error("cannot write the runtime bootstraps to {}: {source}", path.display())]
    RuntimeDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the invoker must be created inside a Tokio runtime")]
    NoRuntime,
}

/// A platform failure: the invocation could not be run at all. (A function's own failure is an
/// [`InvokeResult`] with `function_error` set.)
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("Runtime {runtime:?} is not available on this host. Available runtimes: {}", available.join(", "))]
    RuntimeUnavailable {
        runtime: String,
        available: Vec<String>,
    },
    #[error("cannot start the runtime of function {function}: {source}")]
    Launch {
        function: String,
        #[source]
        source: LaunchError,
    },
    #[error("all {limit} execution environments are busy")]
    TooManyEnvironments { limit: usize },
    /// Another environment would take the node past its ceiling of `resource`, and no idle one
    /// was left to retire.
    #[error("the node has no room for another execution environment (its {resource} ceiling)")]
    NodeCapacity { resource: Resource },
    #[error("the invoker is shutting down")]
    ShuttingDown,
    /// The function's execution role gave no credentials.
    #[error("{0}")]
    Credentials(String),
    #[error("internal invoker error: {0}")]
    Internal(String),
}
