//! The [`Invoker`]: the pool of execution environments and the invoke entry point.
//!
//! An idle environment is owned by the pool; a busy one by the invocation running on it, so one
//! request at a time per environment holds by construction. The pool's lock is never held across
//! an await. Environments are reused for the same [`EnvKey`] (most recently used first, so the
//! others age out), started when none is idle, stopped by the reaper after `idle_timeout`, and
//! dropped (which kills them) after a crash or timeout, on invalidation and on shutdown.

use crate::capacity::{Demand, Ledger, Reservation};
use crate::environment::{self, EnvKey, Environment, Init, Started};
use crate::host;
use crate::launcher::Launcher;
use crate::trace::Timeline;
use crate::usage::{FunctionUsage, UsageMeter};
use crate::{Invocation, InvokeError, InvokeResult, InvokerConfig, InvokerError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// Longest `shutdown` waits for busy environments to go.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Provisioned concurrency of one function version: how many environments are alive, and
/// whether they are still wanted.
#[derive(Default)]
pub(crate) struct Provisioned {
    alive: AtomicUsize,
    wanted: std::sync::atomic::AtomicBool,
    /// Provisioned environments running an invocation now.
    busy: AtomicUsize,
}

/// Counts a provisioned environment as busy while it runs one invocation.
struct BusyGuard(Arc<Provisioned>);

impl BusyGuard {
    /// Marks `provisioned` busy; answers the guard with the busy and the allocated counts.
    fn enter(provisioned: &Arc<Provisioned>) -> (BusyGuard, usize, usize) {
        let busy = provisioned.busy.fetch_add(1, Ordering::SeqCst) + 1;
        let allocated = provisioned.alive.load(Ordering::SeqCst);
        (BusyGuard(provisioned.clone()), busy, allocated)
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a provisioned environment of one function version while it lives.
pub(crate) struct ProvisionGuard(Arc<Provisioned>);

impl Drop for ProvisionGuard {
    fn drop(&mut self) {
        self.0.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Default)]
struct Pool {
    idle: HashMap<EnvKey, Vec<Environment>>,
    /// Bumped by `invalidate`; an environment of an older generation is not reused.
    generations: HashMap<String, u64>,
    /// The execution key each (function, version) runs now, once a change said so
    /// (`supersede`): an environment of another key is stopped instead of going back idle.
    current: HashMap<String, HashMap<String, u64>>,
    closed: bool,
}

/// The `AWS/Lambda` event of an invocation that ran (`provisioned`: whether a provisioned
/// environment served it, when its version has provisioned concurrency).
fn invoked_event(
    inv: &Invocation,
    result: &InvokeResult,
    provisioned: Option<bool>,
) -> ignis_metrics::lambda::Event {
    ignis_metrics::lambda::Event::Invoked {
        invoked: ignis_metrics::lambda::Invoked::from_arn(&inv.invoked_arn),
        executed_version: result.executed_version.clone(),
        duration_ms: result.metrics.duration.as_secs_f64() * 1000.0,
        error: result.function_error.is_some(),
        cold: result.metrics.init_duration.is_some(),
        provisioned,
        // Dated when it was invoked, as Lambda dates them.
        at_ms: chrono::Utc::now().timestamp_millis()
            - i64::try_from(result.metrics.duration.as_millis()).unwrap_or(0),
    }
}

/// What a live environment holds: its place among `max_environments` and its share of the
/// node's ceilings. Both are given back when the environment is dropped.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
    _reservation: Reservation,
}

/// What an environment for `inv` reserves: its memory, its `/tmp` and its pids limit.
fn demand_of(inv: &Invocation) -> Demand {
    const MB: u64 = 1024 * 1024;
    Demand {
        memory_bytes: u64::from(inv.function.memory_size) * MB,
        tmp_bytes: u64::from(inv.function.ephemeral_storage) * MB,
        pids: ignis_sandbox::limits::PIDS_MAX,
    }
}

pub(crate) struct Inner {
    pub cfg: InvokerConfig,
    pub launcher: Arc<dyn Launcher>,
    /// Cancelled on shutdown: every environment's tasks watch a child of it.
    pub shutdown: CancellationToken,
    pool: Mutex<Pool>,
    /// One permit per live environment.
    slots: Arc<Semaphore>,
    /// What live environments reserve against the node's ceilings.
    ledger: Arc<Ledger>,
    /// Live provisioned environments per (function, version).
    provisioned: Mutex<HashMap<(String, String), Arc<Provisioned>>>,
    /// Requests and billed memory-time per function, until the server takes them.
    usage: UsageMeter,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs invocations in execution environments. Cheap to clone.
#[derive(Clone)]
pub struct Invoker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Invoker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invoker")
            .field("runtime_dir", &self.inner.cfg.runtime_dir)
            .finish_non_exhaustive()
    }
}

impl Invoker {
    /// Writes the bootstraps into `cfg.runtime_dir`, probes the host's interpreters and starts the
    /// idle reaper. Must be called inside a Tokio runtime.
    pub fn new(cfg: InvokerConfig, launcher: Arc<dyn Launcher>) -> Result<Invoker, InvokerError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| InvokerError::NoRuntime)?;
        host::install_bootstraps(&cfg.runtime_dir).map_err(|source| InvokerError::RuntimeDir {
            path: cfg.runtime_dir.clone(),
            source,
        })?;
        host::probe_in_background();
        let max = cfg.max_environments.clamp(1, Semaphore::MAX_PERMITS);
        let cfg_ceilings = cfg.ceilings;
        let period =
            (cfg.idle_timeout / 10).clamp(Duration::from_millis(50), Duration::from_secs(30));
        let inner = Arc::new(Inner {
            cfg,
            launcher,
            shutdown: CancellationToken::new(),
            pool: Mutex::new(Pool::default()),
            slots: Arc::new(Semaphore::new(max)),
            ledger: Ledger::new(cfg_ceilings),
            provisioned: Mutex::new(HashMap::new()),
            usage: UsageMeter::default(),
        });
        let weak = Arc::downgrade(&inner);
        let stop = inner.shutdown.clone();
        handle.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = stop.cancelled() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                inner.reap();
            }
        });
        Ok(Invoker { inner })
    }

    /// Runs one invocation to its end. A function error (including a timeout, crash or failed
    /// init) is an `Ok` result with `function_error` set; `Err` is for platform failures only.
    pub async fn invoke(&self, inv: Invocation) -> Result<InvokeResult, InvokeError> {
        self.invoke_holding(inv, ()).await
    }

    /// [`Invoker::invoke`], keeping `held` (a concurrency permit) until the invocation's
    /// environment is released, even when the caller stops waiting.
    pub async fn invoke_holding<H: Send + 'static>(
        &self,
        inv: Invocation,
        held: H,
    ) -> Result<InvokeResult, InvokeError> {
        // Its own task: a panic stays in this invocation, and a caller that goes away does not
        // abandon an environment halfway through a request, nor give back what it holds.
        let inner = self.inner.clone();
        let function = inv.function.name.clone();
        let task = tokio::spawn(async move {
            let telemetry = inner.cfg.telemetry.as_ref();
            let trace = crate::trace::Plan::new(&inv, telemetry);
            let result = inner.invoke(&inv, &trace.runtime_header).await;
            drop(held);
            result.map(|(result, timeline, provisioned)| {
                trace.report(telemetry, &inv, &result, timeline);
                if let Some(metrics) = &inner.cfg.metrics {
                    let provisioned = inner.has_provisioned(&inv).then_some(provisioned);
                    metrics.record(invoked_event(&inv, &result, provisioned));
                }
                result
            })
        });
        match task.await {
            Ok(result) => {
                if let Ok(r) = &result {
                    self.inner.usage.record(&function, &r.metrics);
                }
                result
            }
            Err(e) if e.is_panic() => {
                let panic = e.into_panic();
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(%message, "invocation panicked");
                Err(InvokeError::Internal(format!(
                    "invocation panicked: {message}"
                )))
            }
            Err(e) => Err(InvokeError::Internal(e.to_string())),
        }
    }

    /// Where the node's metrics go, if anywhere.
    pub fn metrics(&self) -> Option<&ignis_metrics::Metrics> {
        self.inner.cfg.metrics.as_ref()
    }

    /// Requests and billed memory-time per function since the last call (for metering).
    pub fn take_usage(&self) -> Vec<FunctionUsage> {
        self.inner.usage.take()
    }

    /// Starts environments for `inv`'s function version ahead of use until `count` of them are
    /// alive (`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`, no Init Duration on
    /// their first REPORT). They are never reaped for idleness and serve requests first; more
    /// requests spill over to on-demand environments. `inv.payload` is not used. Returns how
    /// many are alive.
    pub async fn provision(&self, inv: Invocation, count: usize) -> Result<usize, InvokeError> {
        let inner = &self.inner;
        let resolved = inner.resolve_runtime(&inv).await?;
        let counter = self.provision_counter(&inv.function.name, &inv.function.version);
        counter.wanted.store(true, Ordering::SeqCst);
        while counter.alive.load(Ordering::SeqCst) < count {
            if inner.shutdown.is_cancelled() {
                return Err(InvokeError::ShuttingDown);
            }
            let generation = inner.generation(&inv.function.name);
            let slot = inner.slot(demand_of(&inv))?;
            match environment::start(inner, &inv, &resolved, generation, slot, Init::Provisioned)
                .await?
            {
                Started::Ready(mut env) => {
                    counter.alive.fetch_add(1, Ordering::SeqCst);
                    env.provision = Some(ProvisionGuard(counter.clone()));
                    inner.release(*env);
                }
                Started::Retry(_) => unreachable!("only an on-demand init is retried"),
                Started::Failed(result, _) => {
                    return Err(InvokeError::Internal(format!(
                        "provisioned environment failed to initialise: {}",
                        String::from_utf8_lossy(&result.payload)
                    )));
                }
            }
        }
        Ok(counter.alive.load(Ordering::SeqCst))
    }

    /// Provisioned environments of a function version alive now.
    pub fn provisioned_count(&self, function: &str, version: &str) -> usize {
        self.provision_counter(function, version)
            .alive
            .load(Ordering::SeqCst)
    }

    /// Provisioned concurrency of a function version is removed: its idle environments stop
    /// now, busy ones become ordinary on-demand environments when their request ends.
    pub async fn deprovision(&self, function_name: &str, version: &str) {
        self.provision_counter(function_name, version)
            .wanted
            .store(false, Ordering::SeqCst);
        self.retire_version(function_name, version).await;
    }

    fn provision_counter(&self, function: &str, version: &str) -> Arc<Provisioned> {
        self.inner
            .provisioned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((function.to_string(), version.to_string()))
            .or_default()
            .clone()
    }

    /// Stops the idle environments of one function version (provisioned ones included) now;
    /// busy ones are not reused by later requests of another configuration (their key differs)
    /// and are reaped once idle.
    pub async fn retire_version(&self, function_name: &str, version: &str) {
        let retired: Vec<Environment> = {
            let mut pool = self.inner.lock();
            let keys: Vec<EnvKey> = pool
                .idle
                .keys()
                .filter(|k| k.function == function_name && k.version == version)
                .cloned()
                .collect();
            keys.iter()
                .filter_map(|k| pool.idle.remove(k))
                .flatten()
                .collect()
        };
        drop(retired);
    }

    /// A function version's configuration changed (`$LATEST` after an update). If what it
    /// executes changed, its idle environments of the old configuration stop now and busy ones
    /// when their request ends; a change that executes the same (a description, a policy, a
    /// revision) keeps every warm environment.
    pub async fn supersede(&self, config: &ignis_model::FunctionConfig) {
        let key = config.execution_key();
        let stale: Vec<Environment> = {
            let mut pool = self.inner.lock();
            pool.current
                .entry(config.name.clone())
                .or_default()
                .insert(config.version.clone(), key);
            let keys: Vec<EnvKey> = pool
                .idle
                .keys()
                .filter(|k| {
                    k.function == config.name && k.version == config.version && k.execution != key
                })
                .cloned()
                .collect();
            keys.iter()
                .filter_map(|k| pool.idle.remove(k))
                .flatten()
                .collect()
        };
        drop(stale);
    }

    /// The function (all versions) changed or was deleted: idle environments are stopped now,
    /// busy ones when their current request ends; new invokes start fresh ones.
    pub async fn invalidate(&self, function_name: &str) {
        let stale: Vec<Environment> = {
            let mut pool = self.inner.lock();
            *pool
                .generations
                .entry(function_name.to_string())
                .or_default() += 1;
            pool.current.remove(function_name);
            let keys: Vec<EnvKey> = pool
                .idle
                .keys()
                .filter(|k| k.function == function_name)
                .cloned()
                .collect();
            keys.iter()
                .filter_map(|k| pool.idle.remove(k))
                .flatten()
                .collect()
        };
        drop(stale);
    }

    /// Stops every environment (idle ones at once, busy ones are killed and their invocations
    /// end with an error) and refuses new invocations. Waits a few seconds for them to go and
    /// for the logs to be written.
    pub async fn shutdown(&self) {
        let idle: Vec<Environment> = {
            let mut pool = self.inner.lock();
            pool.closed = true;
            pool.idle.drain().flat_map(|(_, envs)| envs).collect()
        };
        drop(idle);
        self.inner.shutdown.cancel();
        let all = u32::try_from(
            self.inner
                .cfg
                .max_environments
                .clamp(1, Semaphore::MAX_PERMITS),
        )
        .unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.inner.slots.acquire_many(all)).await;
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.inner.cfg.logs.flush()).await;
    }

    /// Environments alive now (idle or busy).
    pub fn environment_count(&self) -> usize {
        self.inner
            .cfg
            .max_environments
            .clamp(1, Semaphore::MAX_PERMITS)
            - self.inner.slots.available_permits()
    }

    /// The node's ceilings, and what live environments reserve against them now.
    pub fn capacity(&self) -> (crate::Ceilings, crate::capacity::Demand) {
        (self.inner.ledger.ceilings(), self.inner.ledger.used())
    }

    /// Idle environments now.
    pub fn idle_count(&self) -> usize {
        self.inner.lock().idle.values().map(Vec::len).sum()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn invoke(
        &self,
        inv: &Invocation,
        trace_header: &str,
    ) -> Result<(InvokeResult, Timeline, bool), InvokeError> {
        if self.shutdown.is_cancelled() {
            return Err(InvokeError::ShuttingDown);
        }
        let resolved = self.resolve_runtime(inv).await?;
        let key = EnvKey::of(inv);
        let generation = self.generation(&inv.function.name);
        let mut env = match self.take_idle(&key) {
            Some(env) => env,
            None => {
                let slot = self.slot(demand_of(inv))?;
                let start =
                    |slot, init| environment::start(self, inv, &resolved, generation, slot, init);
                let started = match start(slot, Init::OnDemand).await? {
                    Started::Retry(slot) => start(slot, Init::InInvoke).await?,
                    started => started,
                };
                match started {
                    Started::Ready(env) => *env,
                    Started::Failed(result, timeline) => return Ok((result, timeline, false)),
                    Started::Retry(_) => unreachable!("an init inside the invocation is final"),
                }
            }
        };
        let provisioned = env.provision.is_some();
        let busy = env.provision.as_ref().map(|guard| {
            let (busy, running, allocated) = BusyGuard::enter(&guard.0);
            if let Some(metrics) = &self.cfg.metrics {
                metrics.record(ignis_metrics::lambda::Event::ProvisionedConcurrency {
                    invoked: ignis_metrics::lambda::Invoked::from_arn(&inv.invoked_arn),
                    executed_version: inv.function.version.clone(),
                    running: u32::try_from(running).unwrap_or(u32::MAX),
                    allocated: u32::try_from(allocated).unwrap_or(u32::MAX),
                    at_ms: chrono::Utc::now().timestamp_millis(),
                });
            }
            busy
        });
        let (result, timeline, keep) = env.invoke(inv, trace_header).await;
        drop(busy);
        if keep {
            self.release(env);
        }
        Ok((result, timeline, provisioned))
    }

    /// Whether `inv`'s function version has provisioned concurrency configured.
    fn has_provisioned(&self, inv: &Invocation) -> bool {
        let key = (inv.function.name.clone(), inv.function.version.clone());
        self.provisioned
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .is_some_and(|p| p.wanted.load(Ordering::SeqCst))
    }

    /// The host interpreter for the function's runtime.
    async fn resolve_runtime(&self, inv: &Invocation) -> Result<host::Resolved, InvokeError> {
        let runtime = inv.function.runtime.clone().unwrap_or_default();
        let resolved = if host::probed() {
            host::resolve(&runtime)
        } else {
            // Only right after start-up: wait for the probe off the reactor.
            let rt = runtime.clone();
            tokio::task::spawn_blocking(move || host::resolve(&rt))
                .await
                .map_err(|e| InvokeError::Internal(e.to_string()))?
        };
        resolved.ok_or_else(|| InvokeError::RuntimeUnavailable {
            runtime,
            available: host::available_runtimes(),
        })
    }

    fn generation(&self, function: &str) -> u64 {
        self.lock().generations.get(function).copied().unwrap_or(0)
    }

    /// An idle environment for `key` that is still alive: a provisioned one first, else the most
    /// recently used.
    fn take_idle(&self, key: &EnvKey) -> Option<Environment> {
        let mut dead = Vec::new();
        let found = {
            let mut pool = self.lock();
            let generation = pool.generations.get(&key.function).copied().unwrap_or(0);
            let envs = pool.idle.get_mut(key)?;
            let mut found = None;
            if let Some(i) = envs
                .iter()
                .rposition(|e| e.provision.is_some() && e.is_usable() && e.generation == generation)
            {
                found = Some(envs.remove(i));
            }
            while found.is_none()
                && let Some(env) = envs.pop()
            {
                if env.is_usable() && env.generation == generation {
                    found = Some(env);
                    break;
                }
                dead.push(env);
            }
            if envs.is_empty() {
                pool.idle.remove(key);
            }
            found
        };
        drop(dead);
        found
    }

    /// A place for one more environment, within `max_environments` and the node's ceilings.
    /// While there is no room, the least recently used idle environment of any function is
    /// stopped to make room (provisioned ones are kept); with none left to stop, the invocation
    /// is refused before anything is started.
    fn slot(&self, demand: Demand) -> Result<Slot, InvokeError> {
        if let Err(resource) = self.ledger.could_fit(&demand) {
            return Err(InvokeError::NodeCapacity { resource });
        }
        loop {
            let short = match self.slots.clone().try_acquire_owned() {
                Ok(permit) => match self.ledger.try_reserve(demand) {
                    Ok(reservation) => {
                        return Ok(Slot {
                            _permit: permit,
                            _reservation: reservation,
                        });
                    }
                    Err(resource) => InvokeError::NodeCapacity { resource },
                },
                Err(_) => InvokeError::TooManyEnvironments {
                    limit: self.cfg.max_environments,
                },
            };
            match self.oldest_idle() {
                Some(env) => drop(env),
                None => return Err(short),
            }
        }
    }

    /// Takes the least recently used idle environment that is not provisioned out of the pool.
    fn oldest_idle(&self) -> Option<Environment> {
        let mut pool = self.lock();
        let (key, i) = pool
            .idle
            .iter()
            .flat_map(|(k, envs)| {
                envs.iter()
                    .enumerate()
                    .filter(|(_, e)| e.provision.is_none())
                    .map(move |(i, e)| (k, i, e.last_used))
            })
            .min_by_key(|(_, _, used)| *used)
            .map(|(k, i, _)| (k.clone(), i))?;
        let envs = pool.idle.get_mut(&key).expect("found above");
        let env = envs.remove(i);
        if envs.is_empty() {
            pool.idle.remove(&key);
        }
        Some(env)
    }

    /// Back to the pool, unless the function changed meanwhile or the invoker is closing.
    fn release(&self, mut env: Environment) {
        env.last_used = Instant::now();
        if env
            .provision
            .as_ref()
            .is_some_and(|p| !p.0.wanted.load(Ordering::SeqCst))
        {
            env.provision = None;
        }
        let rejected = {
            let mut pool = self.lock();
            let generation = pool
                .generations
                .get(&env.key.function)
                .copied()
                .unwrap_or(0);
            let superseded = pool
                .current
                .get(&env.key.function)
                .and_then(|versions| versions.get(&env.key.version))
                .is_some_and(|current| *current != env.key.execution);
            if pool.closed || superseded || env.generation != generation || !env.is_alive() {
                Some(env)
            } else {
                pool.idle.entry(env.key.clone()).or_default().push(env);
                None
            }
        };
        drop(rejected);
    }

    /// Stops environments idle for longer than `idle_timeout`.
    fn reap(&self) {
        let idle_timeout = self.cfg.idle_timeout;
        let expired: Vec<Environment> = {
            let mut pool = self.lock();
            let mut expired = Vec::new();
            pool.idle.retain(|_, envs| {
                let (old, keep): (Vec<_>, Vec<_>) =
                    std::mem::take(envs).into_iter().partition(|e| {
                        !e.is_alive()
                            || (e.provision.is_none() && e.last_used.elapsed() >= idle_timeout)
                    });
                expired.extend(old);
                *envs = keep;
                !envs.is_empty()
            });
            expired
        };
        if !expired.is_empty() {
            tracing::debug!(count = expired.len(), "stopping idle environments");
        }
        drop(expired);
    }
}
