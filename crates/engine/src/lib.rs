//! The invocation engine: the one road from every front-end (the Lambda API today; function
//! URLs, object notifications, queue and stream pollers, schedules and the console next) to the
//! invoker.
//!
//! It owns
//! - resolving a name and qualifier to a cached, per-version [`Target`] ([`Engine::resolve`]);
//! - the [`ConcurrencyLimiter`], whose permit is held by the invocation itself (it travels into
//!   the invoker's task and is dropped when the environment is released, whatever the caller
//!   does);
//! - the durable queue of asynchronous invocations and its dispatcher ([`dispatch`]), with
//!   each qualifier's `EventInvokeConfig` (retries, maximum age) and the delivery of outcomes
//!   to destinations and dead-letter queues ([`destinations`]);
//! - provisioned concurrency ([`Engine::provision`]);
//! - [`Engine::invoke`]: `(target, request) → outcome`, used by every front-end;
//! - the `AWS/Lambda` metrics only it sees: Throttles, ConcurrentExecutions and
//!   UnreservedConcurrentExecutions, and the asynchronous queue's (AsyncEventsReceived,
//!   AsyncEventAge, AsyncEventsDropped), reported to the invoker's `ignis-metrics`.
//!
//! It does not own HTTP (front-ends translate their requests to engine calls and outcomes to
//! their responses), execution environments (`ignis-invoker`) or durable state (`ignis-store`).

pub mod destinations;
pub mod dispatch;
mod limiter;
mod provisioned;
mod target;
mod trace;

pub use destinations::{Attribute, QueueSink, RoleAuthority};
pub use dispatch::DispatchConfig;
pub use ignis_invoker::{InvokeMetrics, InvokeResult};
pub use ignis_store::QueueBounds;
pub use limiter::{ConcurrencyLimiter, MIN_UNRESERVED, Permit};
pub use provisioned::ProvisionedStatus;
pub use target::{AliasVersion, Target, Version};

use bytes::Bytes;
use ignis_invoker::{Invocation, InvokeError, Invoker, ResponseSink};
use ignis_metrics::lambda::{Event, Invoked};
use ignis_model::trace::{TraceContext, TraceHeader, Trigger};
use ignis_model::{Account, FunctionRef, time};
use ignis_package::CodeStore;
use ignis_store::{AsyncEvent, EnqueueError, Store};
use ignis_wire::LambdaApiError;
use std::sync::Arc;

/// How an invocation is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Run now; the caller waits for the result.
    RequestResponse,
    /// Queue durably; the dispatcher runs it.
    Event,
    /// Check that it could run; run nothing.
    DryRun,
}

/// One request to invoke a target.
#[derive(Debug, Clone)]
pub struct Request {
    /// Becomes the invocation's `aws_request_id`.
    pub request_id: String,
    /// JSON, already checked.
    pub payload: Bytes,
    pub mode: Mode,
    /// The client context JSON, already decoded (synchronous invocations).
    pub client_context: Option<String>,
    /// The caller wants the last 4 KB of the invocation's log.
    pub tail_log: bool,
    /// The caller takes the response as a stream ([`Outcome::Streaming`]).
    pub stream: bool,
    /// The caller's `X-Amzn-Trace-Id`, which the invocation continues.
    pub trace: Option<TraceHeader>,
    /// What made it happen.
    pub trigger: Trigger,
}

impl Request {
    /// A request with no client context and no log tail.
    pub fn new(request_id: String, payload: Bytes, mode: Mode) -> Request {
        Request {
            request_id,
            payload,
            mode,
            client_context: None,
            tail_log: false,
            stream: false,
            trace: None,
            trigger: Trigger::Other,
        }
    }
}

/// The `Reason` of an asynchronous invoke throttled because the queue holds its bound of bytes:
/// Lambda throttles asynchronous invokes on their request rate per function, and this is the
/// `ThrottleReason` it names for that.
pub const ASYNC_QUEUE_FULL: &str = "FunctionInvocationRateLimitExceeded";

/// How many chunks of a streamed response wait for a slow reader before the runtime is held
/// back (each chunk is what the runtime wrote at once).
const STREAM_CHUNKS: usize = 16;

/// A synchronous invocation whose response arrives as it is written.
#[derive(Debug)]
pub struct Streaming {
    /// The response's `Content-Type`, once the runtime starts its response (`None` when it gave
    /// none); closed unanswered when the invocation ended without a response (see `end`).
    pub content_type: tokio::sync::oneshot::Receiver<Option<String>>,
    /// The response body, chunk by chunk, for a function that streams; empty for one that
    /// answers whole (its payload is then in the result).
    pub chunks: tokio::sync::mpsc::Receiver<Bytes>,
    /// How it ended, once it has: the function's error (from the stream's trailers, or a
    /// timeout or crash) or success, with the REPORT's figures.
    pub end: tokio::sync::oneshot::Receiver<Result<InvokeResult, LambdaApiError>>,
}

/// What an invocation came to.
#[derive(Debug)]
pub enum Outcome {
    /// It ran: the function's result or its error.
    Finished(InvokeResult),
    /// It runs, and its response streams ([`Request::stream`]).
    Streaming(Streaming),
    /// It is committed to the asynchronous queue.
    Queued,
    /// A dry run: it could run.
    Checked,
}

/// The parts the engine is built from.
pub struct EngineParts {
    pub account: Account,
    pub store: Store,
    pub code: Arc<CodeStore>,
    pub invoker: Invoker,
    /// Account-wide concurrent executions.
    pub concurrency_limit: u32,
    /// Payload bytes the asynchronous queue holds, per function and for the node.
    pub async_queue: QueueBounds,
}

pub(crate) struct Inner {
    account: Account,
    store: Store,
    code: Arc<CodeStore>,
    invoker: Invoker,
    limiter: ConcurrencyLimiter,
    versions: target::VersionCache,
    provisioning: provisioned::Failures,
    /// Wakes the dispatcher when an event is queued.
    async_wake: tokio::sync::Notify,
    async_queue: QueueBounds,
    sampler: trace::Sampler,
    /// Where destination records and dead letters for queues go (set once by the server).
    queues: std::sync::OnceLock<Arc<dyn QueueSink>>,
    /// What execution roles may do, for deliveries (set once by the server).
    roles: std::sync::OnceLock<Arc<dyn RoleAuthority>>,
}

/// The invocation engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    /// Builds the engine with the reservations the store holds, and provisions again the
    /// provisioned concurrency it holds (in the background).
    pub async fn start(parts: EngineParts) -> Result<Engine, ignis_store::StoreError> {
        let reserved = parts.store.reserved_concurrency().await?;
        let provisioned = parts.store.list_provisioned(None).await?;
        let engine = Engine {
            inner: Arc::new(Inner {
                limiter: ConcurrencyLimiter::new(parts.concurrency_limit, reserved),
                account: parts.account,
                store: parts.store,
                code: parts.code,
                invoker: parts.invoker,
                versions: Default::default(),
                provisioning: Default::default(),
                async_wake: tokio::sync::Notify::new(),
                async_queue: parts.async_queue,
                sampler: Default::default(),
                queues: std::sync::OnceLock::new(),
                roles: std::sync::OnceLock::new(),
            }),
        };
        for config in &provisioned {
            engine.provision(config);
        }
        Ok(engine)
    }

    pub fn account(&self) -> &Account {
        &self.inner.account
    }

    /// The limits on concurrent executions.
    pub fn limiter(&self) -> &ConcurrencyLimiter {
        &self.inner.limiter
    }

    /// The execution environments.
    pub fn invoker(&self) -> &Invoker {
        &self.inner.invoker
    }

    /// Invokes `target`: runs it under the concurrency limits, queues it, or checks it.
    pub async fn invoke(
        &self,
        target: Target,
        request: Request,
    ) -> Result<Outcome, LambdaApiError> {
        match request.mode {
            Mode::DryRun => Ok(Outcome::Checked),
            Mode::Event => {
                self.enqueue(&target, &request).await?;
                Ok(Outcome::Queued)
            }
            Mode::RequestResponse if request.stream => {
                self.stream(target, request).map(Outcome::Streaming)
            }
            Mode::RequestResponse => self.run(target, request).await.map(Outcome::Finished),
        }
    }

    /// Runs one invocation now, holding a concurrency permit until its environment is released.
    pub(crate) async fn run(
        &self,
        target: Target,
        request: Request,
    ) -> Result<InvokeResult, LambdaApiError> {
        let (invocation, permit) = self.prepare(target, request, None)?;
        let invoked = invocation.invoked_arn.clone();
        let result = self.inner.invoker.invoke_holding(invocation, permit).await;
        result.map_err(|e| self.invoke_error(&invoked, e))
    }

    /// Starts one invocation whose response streams; throttles and resolution failures are
    /// answered at once, everything after through [`Streaming`].
    fn stream(&self, target: Target, request: Request) -> Result<Streaming, LambdaApiError> {
        let (sink, chunks, content_type) = ResponseSink::new(STREAM_CHUNKS);
        let (invocation, permit) = self.prepare(target, request, Some(sink))?;
        let (done, end) = tokio::sync::oneshot::channel();
        let engine = self.clone();
        tokio::spawn(async move {
            let invoked = invocation.invoked_arn.clone();
            let result = engine
                .inner
                .invoker
                .invoke_holding(invocation, permit)
                .await;
            let _ = done.send(result.map_err(|e| engine.invoke_error(&invoked, e)));
        });
        Ok(Streaming {
            content_type,
            chunks,
            end,
        })
    }

    /// Takes a concurrency permit and a lease on the code, and builds the invocation.
    fn prepare(
        &self,
        mut target: Target,
        request: Request,
        stream: Option<ResponseSink>,
    ) -> Result<(Invocation, Permit), LambdaApiError> {
        let name = &target.config().name;
        let permit = match self.inner.limiter.acquire(name) {
            Ok(permit) => permit,
            Err(e) => {
                self.record(|at_ms| Event::Throttled {
                    invoked: Invoked::from_arn(&target.invoked_arn),
                    at_ms,
                });
                return Err(e);
            }
        };
        let (function_running, running, unreserved_running) = self.inner.limiter.running(name);
        self.record(|at_ms| Event::Concurrency {
            function: name.clone(),
            function_running,
            running,
            unreserved_running,
            at_ms,
        });
        let lease = self.lease(&mut target)?;
        let config = target.config().clone();
        let trace = self.trace(&target, request.trace.as_ref());
        let invocation = Invocation {
            function: config,
            code_root: target.version.code_root.clone(),
            invoked_arn: target.invoked_arn,
            request_id: request.request_id,
            payload: request.payload,
            client_context: request.client_context,
            cognito_identity: None,
            tail_log: request.tail_log,
            opt_dir: target.version.opt_dir.clone(),
            lease: Some(lease),
            stream,
            trace: Some(trace),
            trigger: request.trigger,
        };
        Ok((invocation, permit))
    }

    /// Commits the event to the queue, then wakes the dispatcher. A queue holding its bound of
    /// bytes (the function's or the node's) throttles the invoke as Lambda throttles
    /// asynchronous invokes: 429 `TooManyRequestsException`; what is queued stays queued.
    async fn enqueue(&self, target: &Target, request: &Request) -> Result<(), LambdaApiError> {
        let now = time::now_ms();
        let event = self.async_event(
            target,
            request.request_id.clone(),
            request.payload.to_vec(),
            now,
            (request.trace.as_ref(), request.trigger),
        );
        let queued = self
            .inner
            .store
            .enqueue(&event, now, &self.inner.async_queue)
            .await;
        queued.map_err(enqueue_error)?;
        self.queued(std::slice::from_ref(&event));
        Ok(())
    }

    /// The trace an invocation of `target` continuing `incoming` belongs to, sampled as the
    /// function's `TracingConfig` says (`Active` without the caller's decision: X-Ray's default
    /// rule, one a second and 5 % of the rest). Deciding again from its [`TraceContext::header`]
    /// gives the same trace.
    pub fn trace(&self, target: &Target, incoming: Option<&TraceHeader>) -> TraceContext {
        let now = u32::try_from(time::now_ms() / 1000).unwrap_or(0);
        TraceContext::continue_from(incoming, target.config().tracing_mode, now, || {
            self.inner.sampler.sample()
        })
    }

    /// An asynchronous invocation of `target`, for a producer that commits it itself together
    /// with what caused it (an object notification commits its events with the object), within
    /// [`Engine::async_bounds`], and then calls [`Engine::queued`] with them. Its trace is decided now,
    /// continuing `trace`, and kept with it (and what triggered it), so every attempt belongs to it.
    pub fn async_event(
        &self,
        target: &Target,
        request_id: String,
        payload: Vec<u8>,
        now_ms: i64,
        (trace, trigger): (Option<&TraceHeader>, Trigger),
    ) -> AsyncEvent {
        AsyncEvent {
            trace: Some(self.trace(target, trace).header()),
            trigger: Some(trigger.as_str().to_string()),
            request_id,
            function_name: target.config().name.clone(),
            qualifier: target.qualifier.clone(),
            invoked_arn: target.invoked_arn.clone(),
            payload,
            enqueued_ms: now_ms,
            attempts: 0,
        }
    }

    /// The byte bounds of the asynchronous queue.
    pub fn async_bounds(&self) -> &QueueBounds {
        &self.inner.async_queue
    }

    /// Events were committed to the queue: they are counted (`AsyncEventsReceived`) and the
    /// dispatcher looks for them now.
    pub fn queued(&self, events: &[AsyncEvent]) {
        for event in events {
            self.record(|at_ms| Event::AsyncReceived {
                invoked: Invoked::from_arn(&event.invoked_arn),
                at_ms,
            });
        }
        self.inner.async_wake.notify_one();
    }

    /// Reports a metric event dated now, if the node keeps metrics (never waiting).
    pub(crate) fn record(&self, event: impl FnOnce(i64) -> Event) {
        if let Some(metrics) = self.inner.invoker.metrics() {
            metrics.record(event(time::now_ms()));
        }
    }

    /// Maps a platform failure of the invoker to its wire error; a throttle is counted.
    fn invoke_error(&self, invoked_arn: &str, e: InvokeError) -> LambdaApiError {
        let error = invoke_error(e);
        if matches!(error, LambdaApiError::TooManyRequests { .. }) {
            self.record(|at_ms| Event::Throttled {
                invoked: Invoked::from_arn(invoked_arn),
                at_ms,
            });
        }
        error
    }

    /// A function is gone: its environments stop, its reservation and cached versions go.
    pub async fn function_deleted(&self, function: &str) {
        self.inner.invoker.invalidate(function).await;
        self.inner.limiter.set_reserved(function, None);
        self.inner.versions.forget(function);
    }

    /// Parses a stored `(function, qualifier)` pair back into a reference.
    fn stored_ref(function: &str, qualifier: &str) -> Result<FunctionRef, LambdaApiError> {
        Ok(FunctionRef::parse(function)?.with_query_qualifier(Some(qualifier))?)
    }
}

/// Maps a platform failure of the invoker to its wire error.
fn invoke_error(e: InvokeError) -> LambdaApiError {
    match e {
        InvokeError::RuntimeUnavailable { .. } => LambdaApiError::InvalidRuntime(e.to_string()),
        InvokeError::Credentials(message) => LambdaApiError::InvalidParameterValue(message),
        // No room on this node (its environment bound, or a ceiling on memory, /tmp or pids
        // with nothing idle left to retire): a throttle, never an environment started to be
        // killed.
        InvokeError::TooManyEnvironments { .. } | InvokeError::NodeCapacity { .. } => {
            tracing::debug!(error = %e, "throttled");
            LambdaApiError::TooManyRequests {
                message: "Rate Exceeded.".into(),
                reason: "ConcurrentInvocationLimitExceeded",
                retry_after_seconds: 1,
            }
        }
        other => {
            tracing::error!(error = ?other, "invocation could not run");
            LambdaApiError::Service("The function could not be run: internal failure.".into())
        }
    }
}

/// How a refused or failed enqueue is answered: past a queue bound, as Lambda throttles an
/// asynchronous invoke (429, `Reason: FunctionInvocationRateLimitExceeded`).
pub fn enqueue_error(e: EnqueueError) -> LambdaApiError {
    match e {
        EnqueueError::FunctionFull(_) | EnqueueError::NodeFull => {
            tracing::debug!(error = %e, "asynchronous invoke throttled");
            LambdaApiError::TooManyRequests {
                message: "Rate Exceeded.".into(),
                reason: ASYNC_QUEUE_FULL,
                retry_after_seconds: 1,
            }
        }
        EnqueueError::Store(e) => {
            tracing::error!(error = ?e, "cannot queue an asynchronous invocation");
            LambdaApiError::Service("An internal error occurred.".into())
        }
    }
}
