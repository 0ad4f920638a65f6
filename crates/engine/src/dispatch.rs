//! The dispatcher of asynchronous invocations: it leases due events from the durable queue, runs
//! them through the same invoker as synchronous calls, and retries function errors with
//! back-off (about one and then two minutes, as Lambda does) as often as the invoked
//! qualifier's `EventInvokeConfig` allows (`MaximumRetryAttempts`, default 2), while the event
//! is younger than its `MaximumEventAgeInSeconds` (default 6 h). Platform failures (no free
//! environment, internal errors) are retried with back-off without using up attempts.
//!
//! A success goes to the `OnSuccess` destination; a failure (retries exhausted, or a retry that
//! would come after the event's maximum age) to `OnFailure` and to the version's dead-letter
//! queue ([`crate::destinations`]); then the event leaves the queue.

use crate::destinations::{Condition, Finished, Response};
use crate::{Engine, Mode, Request};
use ignis_metrics::lambda::{Event, Invoked};
use ignis_model::time;
use ignis_model::trace::{TraceHeader, Trigger};
use ignis_store::AsyncEvent;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// How asynchronous invocations are retried.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// Delay before the first retry; the second waits twice as long.
    pub retry_base: Duration,
    /// Retries after the first attempt (Lambda's MaximumRetryAttempts default).
    pub max_retries: u32,
    /// Events older than this are dropped (Lambda's default MaximumEventAgeInSeconds).
    pub max_event_age: Duration,
    /// What one second of a configured `MaximumEventAgeInSeconds` lasts: a second, except in
    /// tests, which shorten it to see an event outgrow its age (the server reads the hidden
    /// `IGNIS_ASYNC_AGE_UNIT_MS`).
    pub age_unit: Duration,
    /// Most asynchronous invocations running at once.
    pub concurrency: usize,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            retry_base: Duration::from_secs(60),
            max_retries: 2,
            max_event_age: Duration::from_secs(6 * 3600),
            age_unit: Duration::from_secs(1),
            concurrency: 64,
        }
    }
}

/// A lease outlives the longest invocation (900 s) so a running event is never leased twice.
const LEASE_MS: i64 = 16 * 60 * 1000;
/// How often the queue is polled when nobody wakes the dispatcher.
const POLL: Duration = Duration::from_millis(500);

/// Starts the dispatcher; it stops when `shutdown` turns true, leaving unfinished events queued.
pub fn spawn(
    engine: Engine,
    config: DispatchConfig,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(config.concurrency));
        let config = Arc::new(config);
        loop {
            let free = u32::try_from(slots.available_permits()).unwrap_or(u32::MAX);
            if free > 0 {
                match engine
                    .inner
                    .store
                    .lease_due(time::now_ms(), free, LEASE_MS)
                    .await
                {
                    Ok(events) => {
                        for event in events {
                            let permit = slots.clone().acquire_owned().await.expect("never closed");
                            let (engine, config) = (engine.clone(), config.clone());
                            tokio::spawn(async move {
                                run(&engine, &config, event).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::error!(error = ?e, "cannot read the async queue"),
                }
            }
            tokio::select! {
                _ = engine.inner.async_wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

async fn settle(engine: &Engine, event: &AsyncEvent, outcome: Outcome<'_>) {
    let done = match outcome {
        Outcome::Done => engine.inner.store.ack(&event.request_id).await,
        Outcome::Finished(f) => {
            if f.condition != Condition::Success {
                engine.record(|at_ms| Event::AsyncDropped {
                    invoked: Invoked::from_arn(&event.invoked_arn),
                    at_ms,
                });
                tracing::warn!(
                    request_id = %event.request_id,
                    function = %event.function_name,
                    attempts = f.attempts,
                    "asynchronous invocation dropped: {} (delivered to its destination or \
                     dead-letter queue, if any)",
                    f.condition.as_str()
                );
            }
            engine.deliver(f).await;
            engine.inner.store.ack(&event.request_id).await
        }
        Outcome::Drop(reason) => {
            engine.record(|at_ms| Event::AsyncDropped {
                invoked: Invoked::from_arn(&event.invoked_arn),
                at_ms,
            });
            tracing::warn!(
                request_id = %event.request_id,
                function = %event.function_name,
                attempts = event.attempts + 1,
                "asynchronous invocation dropped: {reason}"
            );
            engine.inner.store.ack(&event.request_id).await
        }
        Outcome::RetryAt { attempts, at_ms } => {
            engine
                .inner
                .store
                .retry_later(&event.request_id, attempts, at_ms)
                .await
        }
    };
    if let Err(e) = done {
        tracing::error!(error = ?e, request_id = %event.request_id, "cannot update the async queue");
    }
}

enum Outcome<'a> {
    Done,
    /// It succeeded or failed for good, with somewhere to deliver that.
    Finished(Finished<'a>),
    Drop(String),
    RetryAt {
        attempts: u32,
        at_ms: i64,
    },
}

async fn run(engine: &Engine, config: &DispatchConfig, event: AsyncEvent) {
    let outcome = attempt(engine, config, &event).await;
    settle(engine, &event, outcome).await;
}

/// What the invoked qualifier's `EventInvokeConfig` sets, with the defaults for the rest.
struct Limits {
    max_retries: u32,
    max_age_ms: i64,
    on_success: Option<String>,
    on_failure: Option<String>,
}

async fn limits(engine: &Engine, config: &DispatchConfig, event: &AsyncEvent) -> Limits {
    let stored = engine
        .inner
        .store
        .invoke_config(&event.function_name, &event.qualifier)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = ?e, "cannot read the asynchronous invocation configuration");
            None
        });
    let stored = stored.unwrap_or_else(|| ignis_model::invoke_config::EventInvokeConfig {
        function: event.function_name.clone(),
        qualifier: event.qualifier.clone(),
        last_modified_ms: 0,
        max_retries: None,
        max_event_age: None,
        on_success: None,
        on_failure: None,
    });
    Limits {
        max_retries: stored.max_retries.unwrap_or(config.max_retries),
        max_age_ms: stored.max_event_age.map_or(ms(config.max_event_age), |s| {
            ms(config.age_unit).saturating_mul(i64::from(s))
        }),
        on_success: stored.on_success,
        on_failure: stored.on_failure,
    }
}

async fn attempt<'a>(
    engine: &Engine,
    config: &DispatchConfig,
    event: &'a AsyncEvent,
) -> Outcome<'a> {
    let now = time::now_ms();
    engine.record(|at_ms| Event::AsyncAge {
        invoked: Invoked::from_arn(&event.invoked_arn),
        age_ms: (now - event.enqueued_ms) as f64,
        at_ms,
    });
    let target = Engine::stored_ref(&event.function_name, &event.qualifier)
        .and_then(|r| engine.resolve(&r))
        .map_err(|e| e.to_string());
    let mut target = match target {
        Ok(t) => t,
        Err(reason) => return Outcome::Drop(reason),
    };
    let limits = limits(engine, config, event).await;
    let dead_letter = target.config().dead_letter_target.clone();
    let failed = |condition, attempts, response| {
        Outcome::Finished(Finished {
            event,
            condition,
            attempts,
            response,
            destination: limits.on_failure.clone(),
            dead_letter: dead_letter.clone(),
        })
    };
    if now - event.enqueued_ms > limits.max_age_ms {
        return failed(Condition::EventAgeExceeded, event.attempts, None);
    }
    target.invoked_arn = event.invoked_arn.clone();
    let mut request = Request::new(
        event.request_id.clone(),
        event.payload.clone().into(),
        Mode::RequestResponse,
    );
    // The trace decided when the event was queued, continued by every attempt.
    request.trace = event.trace.as_deref().map(TraceHeader::parse);
    request.trigger = event
        .trigger
        .as_deref()
        .map_or(Trigger::Other, Trigger::parse);
    let result = engine.run(target, request).await;
    match result {
        Ok(r) => {
            let attempts = event.attempts + 1;
            let response = Response {
                executed_version: r.executed_version,
                function_error: r.function_error,
                payload: r.payload.to_vec(),
            };
            if response.function_error.is_none() {
                return match limits.on_success {
                    Some(destination) => Outcome::Finished(Finished {
                        event,
                        condition: Condition::Success,
                        attempts,
                        response: Some(response),
                        destination: Some(destination),
                        dead_letter: None,
                    }),
                    None => Outcome::Done,
                };
            }
            let at_ms = now + ms(config.retry_base) * i64::from(attempts);
            if attempts > limits.max_retries {
                failed(Condition::RetriesExhausted, attempts, Some(response))
            } else if at_ms - event.enqueued_ms > limits.max_age_ms {
                // The retry would come after the event's maximum age.
                failed(Condition::EventAgeExceeded, attempts, Some(response))
            } else {
                Outcome::RetryAt { attempts, at_ms }
            }
        }
        Err(e) => {
            // A throttle or platform failure is not the function's: back off (growing with
            // the event's age, at most 5 min) without spending an attempt.
            tracing::warn!(error = %e, request_id = %event.request_id, "asynchronous invocation will be retried");
            let age = u32::try_from((now - event.enqueued_ms) / 1000).unwrap_or(u32::MAX);
            let backoff = Duration::from_secs(u64::from(age.clamp(1, 300)));
            Outcome::RetryAt {
                attempts: event.attempts,
                at_ms: now + ms(backoff),
            }
        }
    }
}
