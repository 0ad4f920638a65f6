//! The dispatcher of asynchronous invocations: it leases due events from the durable queue, runs
//! them through the same invoker as synchronous calls, and retries function errors twice with
//! back-off (about one and then two minutes, as Lambda does) before dropping the event with a
//! log line. Platform failures (no free environment, internal errors) are retried with
//! exponential back-off without using up attempts, until the event is older than its maximum age.

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
    /// Most asynchronous invocations running at once.
    pub concurrency: usize,
}

impl Default for DispatchConfig {
    fn default() -> DispatchConfig {
        DispatchConfig {
            retry_base: Duration::from_secs(60),
            max_retries: 2,
            max_event_age: Duration::from_secs(6 * 3600),
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

async fn settle(engine: &Engine, event: &AsyncEvent, outcome: Outcome) {
    let done = match outcome {
        Outcome::Done => engine.inner.store.ack(&event.request_id).await,
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

enum Outcome {
    Done,
    Drop(String),
    RetryAt { attempts: u32, at_ms: i64 },
}

async fn run(engine: &Engine, config: &DispatchConfig, event: AsyncEvent) {
    let outcome = attempt(engine, config, &event).await;
    settle(engine, &event, outcome).await;
}

async fn attempt(engine: &Engine, config: &DispatchConfig, event: &AsyncEvent) -> Outcome {
    let now = time::now_ms();
    engine.record(|at_ms| Event::AsyncAge {
        invoked: Invoked::from_arn(&event.invoked_arn),
        age_ms: (now - event.enqueued_ms) as f64,
        at_ms,
    });
    if now - event.enqueued_ms > ms(config.max_event_age) {
        return Outcome::Drop("event older than its maximum age".into());
    }
    let target = Engine::stored_ref(&event.function_name, &event.qualifier)
        .and_then(|r| engine.resolve(&r))
        .map_err(|e| e.to_string());
    let mut target = match target {
        Ok(t) => t,
        Err(reason) => return Outcome::Drop(reason),
    };
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
        Ok(r) if r.function_error.is_none() => Outcome::Done,
        Ok(r) => {
            let attempts = event.attempts + 1;
            if attempts > config.max_retries {
                let error = String::from_utf8_lossy(&r.payload)
                    .chars()
                    .take(512)
                    .collect::<String>();
                Outcome::Drop(format!("function error after {attempts} attempts: {error}"))
            } else {
                Outcome::RetryAt {
                    attempts,
                    at_ms: now + ms(config.retry_base) * i64::from(attempts),
                }
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
