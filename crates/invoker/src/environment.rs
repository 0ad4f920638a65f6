//! One execution environment: a runtime process, its Runtime API and its log output, from
//! start (init) through any number of invocations, one at a time, until it is dropped, which
//! kills its process tree.

use crate::env::{EnvInputs, build_environment, initialization_type};
use crate::host::{self, Resolved};
use crate::invoker::Inner;
use crate::launcher::{EnvironmentProcess, LaunchError, LaunchSpec, ProcessExit};
use crate::output::{Output, Pumps};
use crate::platform::{Controls, Event};
use crate::report::{self, Phase, Report, Status};
use crate::runtime_api::{Dispatch, Outcome, RuntimeApi};
use crate::trace::Timeline;
use crate::{Invocation, InvokeError, InvokeMetrics, InvokeResult};
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Longest wait for the output pipes after a response (normally they are drained at once).
const SYNC_AFTER_RESPONSE: Duration = Duration::from_secs(1);
/// Longest wait for the output pipes of a failed, hung or dead runtime.
const SYNC_AFTER_FAILURE: Duration = Duration::from_millis(200);

/// The value of `X-Amz-Function-Error` for every function error.
pub const UNHANDLED: &str = "Unhandled";

/// What makes environments interchangeable: an idle one is reused only for the same key, which
/// is what the environment executes, not the configuration's revision.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EnvKey {
    pub function: String,
    pub version: String,
    /// [`ignis_model::FunctionConfig::execution_key`].
    pub execution: u64,
    /// Where the code and layers are: an environment keeps running from what it started on.
    pub code_root: PathBuf,
    pub opt_dir: Option<PathBuf>,
}

impl EnvKey {
    pub fn of(inv: &Invocation) -> EnvKey {
        let f = &inv.function;
        EnvKey {
            function: f.name.clone(),
            version: f.version.clone(),
            execution: f.execution_key(),
            code_root: inv.code_root.clone(),
            opt_dir: inv.opt_dir.clone(),
        }
    }
}

pub(crate) struct Environment {
    pub key: EnvKey,
    /// The function's generation when this environment started (see `Invoker::invalidate`).
    pub generation: u64,
    pub last_used: Instant,
    process: Arc<dyn EnvironmentProcess>,
    api: RuntimeApi,
    output: Arc<Output>,
    pumps: Pumps,
    exit: watch::Receiver<Option<ProcessExit>>,
    cancel: CancellationToken,
    /// Set until the first invocation (the cold start) reports it.
    init_duration: Option<Duration>,
    /// How long an init that ran inside the first invocation took (after the init phase timed
    /// out): that invocation's START is written already, and its time and timeout include it.
    suppressed_init: Option<Duration>,
    /// When init began (wall clock), for the cold start's span.
    init_started: SystemTime,
    /// The last peak memory measured: reported when a runtime died before it could be measured.
    last_peak: Option<u64>,
    /// The execution role's credentials it holds, if any.
    credentials: Option<crate::RoleCredentials>,
    /// Set on environments started ahead of use for provisioned concurrency: they are never
    /// reaped for idleness and are used first.
    pub provision: Option<crate::invoker::ProvisionGuard>,
    /// Orders freezing (which waits for the runtime to be idle, off the response path) with the
    /// next invocation's thaw: a freeze only happens if no invocation began since it was asked.
    freezing: Arc<FreezeGate>,
    /// Its place in the pool and its share of the node's ceilings.
    _slot: crate::invoker::Slot,
    /// The lease on the code and layers this environment runs from.
    _lease: Option<Arc<dyn std::any::Any + Send + Sync>>,
}

#[derive(Default)]
struct FreezeGate {
    /// Bumped by each invocation, under `lock`.
    epoch: std::sync::atomic::AtomicU64,
    lock: tokio::sync::Mutex<()>,
}

impl Drop for Environment {
    fn drop(&mut self) {
        // No freeze after this (a frozen v1 task cannot die).
        self.freezing
            .epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.process.kill();
        self.cancel.cancel();
    }
}

/// How an environment's init runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Init {
    /// For an invocation waiting for it, within the init phase's limit; when that runs out,
    /// the init is tried again inside the invocation (see [`Started::Retry`]).
    OnDemand,
    /// Ahead of use, for provisioned concurrency: up to 130 s, or the function's timeout when
    /// that is longer.
    Provisioned,
    /// The retry inside the first invocation, under the function's timeout (Lambda's
    /// "suppressed init").
    InInvoke,
}

impl Init {
    fn limit(self, cfg: &crate::InvokerConfig, function_timeout: Duration) -> Duration {
        match self {
            Init::OnDemand => cfg.init_timeout,
            Init::Provisioned => function_timeout.max(PROVISIONED_INIT_LIMIT),
            Init::InInvoke => function_timeout,
        }
    }

    fn provisioned(self) -> bool {
        self == Init::Provisioned
    }

    fn phase(self) -> Phase {
        match self {
            Init::InInvoke => Phase::Invoke,
            Init::OnDemand | Init::Provisioned => Phase::Init,
        }
    }
}

/// How long a provisioned environment's init may take, at least.
const PROVISIONED_INIT_LIMIT: Duration = Duration::from_secs(130);

/// The result of starting an environment.
pub(crate) enum Started {
    Ready(Box<Environment>),
    /// Init failed; this is what the invocation that needed it gets, and when init ran.
    Failed(InvokeResult, Timeline),
    /// The on-demand init phase timed out (its `INIT_REPORT` is written): start again with
    /// [`Init::InInvoke`], in this place in the pool.
    Retry(crate::invoker::Slot),
}

/// How an invocation ended.
enum End {
    Outcome(Outcome),
    /// The Runtime API lost the request without an outcome.
    Lost,
    Exit(ProcessExit),
    Timeout,
}

fn error_json(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string())
}

/// Writes the timeout line of an invocation that ran out of time after `duration`, and
/// answers its error.
fn timed_out(output: &Output, request_id: &str, duration: Duration) -> Bytes {
    output.line(&report::timeout_line(
        chrono::Utc::now(),
        request_id,
        duration,
    ));
    let message = format!(
        "RequestId: {request_id} Error: Task timed out after {} seconds",
        report::secs2(duration)
    );
    error_json("Sandbox.Timedout", &message)
}

fn exit_message(request_id: &str, exit: ProcessExit) -> String {
    format!("RequestId: {request_id} Error: Runtime exited with error: {exit}")
}

/// Lambda's error types look like `Runtime.ExitError`; anything else reports as `Runtime.Unknown`.
fn platform_error_type(body: &[u8]) -> String {
    let t = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorType")
                .and_then(|t| t.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let well_formed = t.split_once('.').is_some_and(|(ns, name)| {
        ["Runtime", "Function", "Sandbox", "Extension"].contains(&ns)
            && name.starts_with(|c: char| c.is_ascii_uppercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if well_formed {
        t
    } else {
        "Runtime.Unknown".into()
    }
}

fn spawn_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ if e.raw_os_error() == Some(8) => "exec format error".into(),
        _ => e.to_string().to_lowercase(),
    }
}

/// `Runtime.OutOfMemory` when the kernel's OOM killer ended the runtime, else
/// `Runtime.ExitError`.
async fn exit_error_type(process: &dyn EnvironmentProcess) -> &'static str {
    if process.out_of_memory().await {
        "Runtime.OutOfMemory"
    } else {
        "Runtime.ExitError"
    }
}

async fn wait_exit(exit: &mut watch::Receiver<Option<ProcessExit>>) -> ProcessExit {
    match exit.wait_for(Option::is_some).await {
        Ok(v) => v.unwrap_or(ProcessExit::Unknown),
        Err(_) => ProcessExit::Unknown,
    }
}

/// Writes END and REPORT and assembles what the caller gets.
fn finish(
    output: &Output,
    inv: &Invocation,
    report: Report,
    payload: Bytes,
    function_error: bool,
) -> InvokeResult {
    let request_id = &inv.request_id;
    output.platform(&Event::RuntimeDone {
        report: &report,
        function_error,
    });
    output.platform(&Event::End { request_id });
    output.platform(&Event::Report {
        report: &report,
        function_error,
    });
    let tail = output.take_tail();
    let log_tail = inv.tail_log.then(|| {
        let bytes = tail.as_ref().map_or(&[][..], |t| t.last_bytes());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    });
    InvokeResult {
        executed_version: inv.function.version.clone(),
        payload,
        function_error: function_error.then(|| UNHANDLED.to_string()),
        log_tail,
        metrics: InvokeMetrics {
            duration: report.duration,
            billed_duration_ms: report.billed_ms(),
            init_duration: report.init_duration,
            memory_size_mb: report.memory_size_mb,
            max_memory_used_mb: report.max_memory_used_mb,
        },
    }
}

fn runtime_version_arn(region: &str, resolved: &Resolved, label: &str) -> String {
    let source = match resolved {
        Resolved::Python { .. } => ignis_runtimes::PYTHON_BOOTSTRAP,
        Resolved::Node { .. } => ignis_runtimes::NODE_BOOTSTRAP,
        Resolved::Provided => label,
    };
    let hash = hex::encode(Sha256::digest(source.as_bytes()));
    format!("arn:aws:lambda:{region}::runtime:{hash}")
}

/// Starts an environment for `inv` and waits for its init to end.
pub(crate) async fn start(
    inner: &Inner,
    inv: &Invocation,
    resolved: &Resolved,
    generation: u64,
    slot: crate::invoker::Slot,
    init: Init,
) -> Result<Started, InvokeError> {
    let f = &inv.function;
    let cfg = &inner.cfg;
    let provisioned = init.provisioned();
    let function_timeout = Duration::from_secs(u64::from(f.timeout.max(1)));
    let credentials = match &cfg.credentials {
        Some(source) => source
            .credentials(&f.role, &f.name)
            .await
            .map_err(InvokeError::Credentials)?,
        None => None,
    };
    let cancel = inner.shutdown.child_token();
    let layout = inner.launcher.layout();
    // Where the runtime finds its API: a host listener bound now, or one the launched process
    // hands over (inside a sandbox's network namespace).
    let host_api = match layout.runtime_api {
        Some(_) => None,
        None => Some(RuntimeApi::start(cancel.clone()).await.map_err(|e| {
            InvokeError::Internal(format!("cannot bind a Runtime API listener: {e}"))
        })?),
    };
    let runtime_api = match (&host_api, layout.runtime_api) {
        (Some(api), _) => api.addr.to_string(),
        (None, Some(addr)) => addr.to_string(),
        (None, None) => unreachable!("one of the two is set"),
    };
    let env_id = uuid::Uuid::new_v4().simple().to_string();
    let stream = format!(
        "{}/[{}]{}",
        chrono::Utc::now().format("%Y/%m/%d"),
        f.version,
        env_id
    );
    let output = Arc::new(Output::new(
        cfg.logs.clone(),
        f.logging.log_group.clone(),
        stream.clone(),
        Controls::of(&f.logging),
        cfg.metrics.clone(),
    ));
    if inv.tail_log {
        // Until init succeeds, its output belongs to this invocation's tail (an init failure
        // shows there).
        output.start_tail();
    }
    let runtime_dir = resolved.runtime_dir(&cfg.runtime_dir);
    let guest_task_root = layout.task_root(&inv.code_root);
    let guest_runtime_dir = layout.runtime_dir(&runtime_dir);
    let guest_opt = layout.opt_dir(inv.opt_dir.as_deref());
    let env = build_environment(&EnvInputs {
        function: f,
        account: &cfg.account,
        runtime: resolved,
        runtime_api: &runtime_api,
        log_stream: &stream,
        task_root: &guest_task_root,
        runtime_dir: &guest_runtime_dir,
        opt_dir: guest_opt.as_deref(),
        node_env: &cfg.function_env,
        credentials: credentials.as_ref(),
        provisioned,
    });
    let (program, args) = resolved.command(
        &guest_runtime_dir,
        &guest_task_root,
        provided_bootstrap_in_opt(inv)
            .then_some(guest_opt.as_deref())
            .flatten(),
    );
    let runtime_id = f.runtime.as_deref().unwrap_or_default();
    let label = resolved.version_label(runtime_id);
    if init == Init::InInvoke {
        // The invocation has begun: the init's output and the handler's follow its START.
        output.platform(&Event::Start {
            request_id: &inv.request_id,
            version: &f.version,
        });
    } else {
        output.platform(&Event::InitStart {
            initialization_type: initialization_type(provisioned),
            runtime_version: &label,
            runtime_version_arn: &runtime_version_arn(&cfg.account.region, resolved, &label),
            function_name: &f.name,
            function_version: &f.version,
        });
    }
    let spec = LaunchSpec {
        name: format!("{}-{}", f.name, env_id),
        function: f.name.clone(),
        program,
        args,
        env,
        cwd: guest_task_root.clone(),
        memory_size_mb: f.memory_size,
        ephemeral_storage_mb: f.ephemeral_storage,
        timeout: function_timeout,
        code_root: inv.code_root.clone(),
        runtime_dir: runtime_dir.clone(),
        opt_dir: inv.opt_dir.clone(),
        interpreter: resolved.interpreter().map(Path::to_path_buf),
    };
    let launched_at = Instant::now();
    let mut process = match inner.launcher.launch(spec).await {
        Ok(p) => p,
        Err(LaunchError::Spawn { source, .. }) if *resolved == Resolved::Provided => {
            cancel.cancel();
            let message = format!(
                "RequestId: {} Error: fork/exec /var/task/{}: {}",
                inv.request_id,
                host::PROVIDED_BOOTSTRAP,
                spawn_error_text(&source)
            );
            let result = init_failed(
                &output,
                inv,
                InitFailure {
                    initialization_type: initialization_type(provisioned),
                    phase: init.phase(),
                    duration: launched_at.elapsed(),
                    peak_memory: None,
                },
                error_json("Runtime.InvalidEntrypoint", &message),
                Status::Error("Runtime.InvalidEntrypoint".into()),
                &[message.as_str(), "Runtime.InvalidEntrypoint"],
            );
            return Ok(Started::Failed(result, Timeline::default()));
        }
        Err(source) => {
            cancel.cancel();
            return Err(InvokeError::Launch {
                function: f.name.clone(),
                source,
            });
        }
    };
    // Init runs from the moment the runtime was started (a sandbox's set-up is not part of it).
    let spawned_at = Instant::now();
    let init_started = SystemTime::now();
    let api = match host_api {
        Some(api) => api,
        None => {
            let served = process
                .take_runtime_api()
                .ok_or_else(|| std::io::Error::other("the launcher handed over no listener"))
                .and_then(|l| {
                    l.set_nonblocking(true)?;
                    tokio::net::TcpListener::from_std(l)
                })
                .and_then(|l| RuntimeApi::serve(l, cancel.clone()));
            match served {
                Ok(api) => api,
                Err(e) => {
                    process.kill();
                    cancel.cancel();
                    return Err(InvokeError::Internal(format!(
                        "cannot serve the Runtime API: {e}"
                    )));
                }
            }
        }
    };
    let pipes = [process.take_stdout(), process.take_stderr()]
        .into_iter()
        .flatten()
        .collect();
    let pumps = Pumps::start(pipes, output.clone());
    let process: Arc<dyn EnvironmentProcess> = Arc::from(process);
    let (exit_tx, exit_rx) = watch::channel(None);
    {
        let process = process.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let exit = tokio::select! {
                e = process.wait() => e,
                _ = cancel.cancelled() => {
                    process.kill();
                    process.wait().await
                }
            };
            let _ = exit_tx.send(Some(exit));
        });
    }

    enum InitEnd {
        Ready,
        Error(Bytes),
        Exit(ProcessExit),
        Timeout,
    }
    let mut ready = api.ready();
    let mut init_error = api.init_error();
    let mut exit = exit_rx.clone();
    let end = tokio::select! {
        biased;
        body = init_error.wait_for(Option::is_some) => match body {
            Ok(b) => InitEnd::Error(b.clone().unwrap_or_default()),
            Err(_) => InitEnd::Exit(ProcessExit::Unknown),
        },
        _ = ready.wait_for(|r| *r) => InitEnd::Ready,
        e = wait_exit(&mut exit) => match api.init_error().borrow().clone() {
            Some(body) => InitEnd::Error(body),
            None => InitEnd::Exit(e),
        },
        _ = tokio::time::sleep(init.limit(cfg, function_timeout)) => InitEnd::Timeout,
    };
    let init_duration = spawned_at.elapsed();
    let initialization_type = initialization_type(provisioned);
    if let InitEnd::Ready = end {
        let mut env = Environment {
            key: EnvKey::of(inv),
            generation,
            last_used: Instant::now(),
            process,
            api,
            output: output.clone(),
            pumps,
            exit: exit_rx,
            cancel,
            // A provisioned environment's init is not part of any invocation's cold start, nor
            // is one that ran inside the invocation (its time is the invocation's).
            init_duration: (init == Init::OnDemand).then_some(init_duration),
            suppressed_init: (init == Init::InInvoke).then_some(init_duration),
            init_started,
            last_peak: None,
            credentials,
            provision: None,
            freezing: Arc::new(FreezeGate::default()),
            _slot: slot,
            _lease: inv.lease.clone(),
        };
        env.last_peak = env.process.peak_memory_bytes().await;
        env.process.init_done().await;
        // A provisioned environment waits in the pool: frozen, like any idle one.
        if provisioned {
            env.freeze_when_idle();
        }
        output.platform(&Event::InitRuntimeDone {
            initialization_type,
            phase: init.phase(),
            status: &Status::Success,
        });
        if inv.tail_log && init != Init::InInvoke {
            output.start_tail();
        }
        return Ok(Started::Ready(Box::new(env)));
    }
    let peak = process.peak_memory_bytes().await;
    let exit_type = match end {
        InitEnd::Exit(_) => Some(exit_error_type(process.as_ref()).await),
        _ => None,
    };
    process.kill();
    pumps.sync(SYNC_AFTER_FAILURE).await;
    cancel.cancel();
    let (payload, status, lines): (Bytes, Status, Vec<String>) = match end {
        InitEnd::Ready => unreachable!("returned above"),
        InitEnd::Error(body) => {
            let t = platform_error_type(&body);
            (body, Status::Error(t), vec![])
        }
        InitEnd::Exit(e) => {
            let message = exit_message(&inv.request_id, e);
            let t = exit_type.unwrap_or("Runtime.ExitError");
            (
                error_json(t, &message),
                Status::Error(t.into()),
                vec![message, t.into()],
            )
        }
        InitEnd::Timeout if init == Init::OnDemand => {
            // Lambda tries the init again inside the invocation, under the function's timeout.
            output.platform(&Event::InitRuntimeDone {
                initialization_type,
                phase: Phase::Init,
                status: &Status::Timeout,
            });
            output.platform(&Event::InitReport {
                initialization_type,
                phase: Phase::Init,
                duration: init_duration,
                status: &Status::Timeout,
            });
            return Ok(Started::Retry(slot));
        }
        InitEnd::Timeout if init == Init::InInvoke => (
            timed_out(&output, &inv.request_id, init_duration),
            Status::Timeout,
            vec![],
        ),
        InitEnd::Timeout => {
            let message = format!(
                "RequestId: {} Error: Init timed out after {} seconds",
                inv.request_id,
                report::secs2(init_duration)
            );
            (
                error_json("Sandbox.Timedout", &message),
                Status::Timeout,
                vec![message],
            )
        }
    };
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let timeline = Timeline {
        init: Some((init_started, init_duration)),
        invoke: None,
    };
    Ok(Started::Failed(
        init_failed(
            &output,
            inv,
            InitFailure {
                initialization_type,
                phase: init.phase(),
                duration: init_duration,
                peak_memory: peak,
            },
            payload,
            status,
            &lines,
        ),
        timeline,
    ))
}

/// How long a failed init ran, and what it used.
struct InitFailure {
    initialization_type: &'static str,
    /// In the invoke phase, the invocation's START is written already and the init's time is
    /// the invocation's.
    phase: Phase,
    duration: Duration,
    peak_memory: Option<u64>,
}

/// The log lines and result of an invocation whose environment never became ready.
fn init_failed(
    output: &Output,
    inv: &Invocation,
    init: InitFailure,
    payload: Bytes,
    status: Status,
    lines: &[&str],
) -> InvokeResult {
    let InitFailure {
        initialization_type,
        phase,
        duration: init_duration,
        peak_memory,
    } = init;
    output.platform(&Event::InitRuntimeDone {
        initialization_type,
        phase,
        status: &status,
    });
    output.platform(&Event::InitReport {
        initialization_type,
        phase,
        duration: init_duration,
        status: &status,
    });
    if phase == Phase::Init {
        output.platform(&Event::Start {
            request_id: &inv.request_id,
            version: &inv.function.version,
        });
    }
    for l in lines {
        output.line(l);
    }
    let in_invoke = phase == Phase::Invoke;
    let report = Report {
        request_id: inv.request_id.clone(),
        duration: if in_invoke {
            init_duration
        } else {
            Duration::ZERO
        },
        init_duration: (!in_invoke).then_some(init_duration),
        memory_size_mb: inv.function.memory_size,
        max_memory_used_mb: peak_memory.map_or(0, report::mb_rounded_up),
        status,
    };
    finish(output, inv, report, payload, true)
}

impl Environment {
    /// Freezes the environment once its runtime is idle in `/next` (or after
    /// [`SYNC_AFTER_RESPONSE`]), unless an invocation has begun meanwhile. Off the response path:
    /// the caller has its answer already.
    fn freeze_when_idle(&self) {
        if !self.process.freezes() {
            return;
        }
        let ticket = self
            .freezing
            .epoch
            .load(std::sync::atomic::Ordering::Acquire);
        let gate = self.freezing.clone();
        let process = self.process.clone();
        let mut parked = self.api.parked();
        let mut exit = self.exit.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = async { parked.wait_for(|p| *p).await.is_ok() } => {}
                _ = wait_exit(&mut exit) => return,
                _ = tokio::time::sleep(SYNC_AFTER_RESPONSE) => {}
            }
            let _order = gate.lock.lock().await;
            let current = || gate.epoch.load(std::sync::atomic::Ordering::Acquire);
            if current() == ticket {
                process.freeze().await;
                // Dropped (and killed) meanwhile: let it die.
                if current() != ticket {
                    process.thaw().await;
                }
            }
        });
    }

    /// Waits (at most `cap`) until the runtime is idle in `/next`, or has exited.
    async fn wait_parked(&self, cap: Duration) {
        let mut parked = self.api.parked();
        let mut exit = self.exit.clone();
        tokio::select! {
            _ = async { parked.wait_for(|p| *p).await.is_ok() } => {}
            _ = wait_exit(&mut exit) => {}
            _ = tokio::time::sleep(cap) => {}
        }
    }

    pub fn is_alive(&self) -> bool {
        self.exit.borrow().is_none()
    }

    /// Alive, and its credentials (if it holds any) far enough from expiry for another
    /// invocation.
    pub fn is_usable(&self) -> bool {
        self.is_alive() && self.credentials.as_ref().is_none_or(|c| c.fresh())
    }

    /// Runs one invocation, its runtime handed `trace_header`. Returns the result, when its
    /// phases ran, and whether the environment may be reused.
    pub async fn invoke(
        &mut self,
        inv: &Invocation,
        trace_header: &str,
    ) -> (InvokeResult, Timeline, bool) {
        let f = &inv.function;
        let init_duration = self.init_duration.take();
        // An init that ran inside this invocation used part of its time.
        let suppressed = self.suppressed_init.take().unwrap_or_default();
        let timeout = Duration::from_secs(u64::from(f.timeout.max(1)))
            .saturating_sub(suppressed)
            .max(Duration::from_millis(1));
        {
            let _order = self.freezing.lock.lock().await;
            self.freezing
                .epoch
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            self.process.thaw().await;
        }
        self.process.reset_peak_memory().await;
        // A cold start's tail (and START, after a suppressed init) began with its init.
        let began = init_duration.is_some() || !suppressed.is_zero();
        if inv.tail_log {
            if !began {
                self.output.start_tail();
            }
        } else {
            self.output.take_tail();
        }
        if suppressed.is_zero() {
            self.output.platform(&Event::Start {
                request_id: &inv.request_id,
                version: &f.version,
            });
        }

        let mut outcome = self.api.begin(&inv.request_id, inv.stream.clone());
        let (handed_out_tx, handed_out_rx) = oneshot::channel();
        let dispatch = Dispatch {
            request_id: inv.request_id.clone(),
            payload: inv.payload.clone(),
            invoked_arn: inv.invoked_arn.clone(),
            client_context: inv.client_context.clone(),
            cognito_identity: inv.cognito_identity.clone(),
            trace_id: trace_header.to_string(),
            timeout,
            handed_out: handed_out_tx,
        };
        let dispatched_at = Instant::now();
        let mut handed_out_rx = Some(handed_out_rx);
        let mut handed_out: Option<Instant> = None;
        let end = if !self.api.dispatch(dispatch) {
            End::Lost
        } else {
            let mut exit = self.exit.clone();
            loop {
                let deadline = handed_out.unwrap_or(dispatched_at) + timeout;
                tokio::select! {
                    biased;
                    o = &mut outcome => break match o {
                        Ok(o) => End::Outcome(o),
                        Err(_) => End::Lost,
                    },
                    t = async { handed_out_rx.as_mut().expect("guarded").await }, if handed_out_rx.is_some() => {
                        handed_out_rx = None;
                        handed_out = t.ok();
                    }
                    e = wait_exit(&mut exit) => break End::Exit(e),
                    _ = tokio::time::sleep_until(deadline.into()) => break End::Timeout,
                }
            }
        };
        if let Some(mut rx) = handed_out_rx
            && let Ok(t) = rx.try_recv()
        {
            handed_out = Some(t);
        }
        let duration = handed_out.unwrap_or(dispatched_at).elapsed() + suppressed;
        let timeline = Timeline {
            init: init_duration.map(|d| (self.init_started, d)),
            invoke: Some((SystemTime::now() - duration, duration)),
        };
        let peak = self.process.peak_memory_bytes().await.or(self.last_peak);
        self.last_peak = peak;

        // The invoke phase ends when the runtime asks for its next event, as on Lambda: what it
        // prints after posting its response belongs to this invocation, and a runtime is frozen
        // only once it is idle.
        let answered = matches!(
            end,
            End::Outcome(Outcome::Response(_) | Outcome::Error(_) | Outcome::TooLarge)
        );
        if answered && inv.tail_log {
            self.wait_parked(SYNC_AFTER_RESPONSE).await;
        }
        let rid = &inv.request_id;
        let (payload, function_error, status, keep) = match end {
            End::Outcome(Outcome::Response(body)) => {
                self.pumps.sync(SYNC_AFTER_RESPONSE).await;
                (body, false, Status::Success, true)
            }
            End::Outcome(Outcome::Error(body)) => {
                self.pumps.sync(SYNC_AFTER_RESPONSE).await;
                (body, true, Status::Success, true)
            }
            End::Outcome(Outcome::TooLarge) => {
                self.pumps.sync(SYNC_AFTER_RESPONSE).await;
                let t = "Function.ResponseSizeTooLarge";
                (
                    error_json(
                        t,
                        "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                    ),
                    true,
                    Status::Error(t.into()),
                    true,
                )
            }
            End::Outcome(Outcome::Truncated(e)) => {
                self.pumps.sync(SYNC_AFTER_FAILURE).await;
                let t = "Runtime.TruncatedResponse";
                let message =
                    format!("RequestId: {rid} Error: the response body could not be read: {e}");
                self.output.line(&message);
                (
                    error_json(t, &message),
                    true,
                    Status::Error(t.into()),
                    false,
                )
            }
            End::Exit(e) => {
                self.pumps.sync(SYNC_AFTER_FAILURE).await;
                let message = exit_message(rid, e);
                let t = exit_error_type(self.process.as_ref()).await;
                self.output.line(&message);
                self.output.line(t);
                (
                    error_json(t, &message),
                    true,
                    Status::Error(t.into()),
                    false,
                )
            }
            End::Lost => {
                self.pumps.sync(SYNC_AFTER_FAILURE).await;
                let t = "Runtime.Unknown";
                let message = format!("RequestId: {rid} Error: the runtime did not answer");
                self.output.line(&message);
                (
                    error_json(t, &message),
                    true,
                    Status::Error(t.into()),
                    false,
                )
            }
            End::Timeout => {
                self.pumps.sync(SYNC_AFTER_FAILURE).await;
                self.process.kill();
                (
                    timed_out(&self.output, rid, duration),
                    true,
                    Status::Timeout,
                    false,
                )
            }
        };
        let report = Report {
            request_id: rid.clone(),
            duration,
            init_duration,
            memory_size_mb: f.memory_size,
            max_memory_used_mb: peak.map_or(0, report::mb_rounded_up),
            status,
        };
        let result = finish(&self.output, inv, report, payload, function_error);
        let keep = keep && self.is_alive();
        if keep {
            self.freeze_when_idle();
        } else {
            self.process.kill();
        }
        self.last_used = Instant::now();
        (result, timeline, keep)
    }
}

/// A custom runtime takes its `bootstrap` from a layer (`/opt/bootstrap`) when its own code has
/// none, as on Lambda.
fn provided_bootstrap_in_opt(inv: &Invocation) -> bool {
    !inv.code_root.join(crate::host::PROVIDED_BOOTSTRAP).exists()
        && inv
            .opt_dir
            .as_deref()
            .is_some_and(|o| o.join(crate::host::PROVIDED_BOOTSTRAP).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_error_types_are_checked() {
        assert_eq!(
            platform_error_type(br#"{"errorType":"Runtime.ImportModuleError","errorMessage":"x"}"#),
            "Runtime.ImportModuleError"
        );
        assert_eq!(
            platform_error_type(br#"{"errorType":"ValueError"}"#),
            "Runtime.Unknown"
        );
        assert_eq!(platform_error_type(b"not json"), "Runtime.Unknown");
    }

    #[test]
    fn spawn_errors_read_like_go() {
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(spawn_error_text(&e), "no such file or directory");
        let e = std::io::Error::from_raw_os_error(8);
        assert_eq!(spawn_error_text(&e), "exec format error");
    }
}
