//! One invocation's trace: the X-Ray header its runtime is handed (`Lambda-Runtime-Trace-Id`,
//! which the bootstraps turn into `_X_AMZN_TRACE_ID`), and, when it is sampled and the node
//! exports spans, the span record reported once it has ended.
//!
//! The `Parent` the runtime gets names the span the function's own work belongs under: the
//! invoke phase's span when Ignis exports one, else the caller's segment (or a new id when the
//! caller named none), so that a function tracing on its own never points at a span that does
//! not exist.

use crate::{Invocation, InvokeResult};
use ignis_model::trace::{SpanId, TraceContext};
use ignis_telemetry::{InvocationSpans, Telemetry};
use std::time::{Duration, SystemTime};

/// When an invocation's phases ran (wall clock), for its spans.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timeline {
    pub init: Option<(SystemTime, Duration)>,
    pub invoke: Option<(SystemTime, Duration)>,
}

/// The trace of one invocation, planned before it runs.
pub(crate) struct Plan {
    pub runtime_header: String,
    spans: Option<Planned>,
}

struct Planned {
    context: TraceContext,
    span: SpanId,
    invoke_span: SpanId,
    start: SystemTime,
}

impl Plan {
    pub fn new(inv: &Invocation, telemetry: Option<&Telemetry>) -> Plan {
        let context = inv.trace.clone().unwrap_or_else(|| {
            // Not decided by the engine (a direct use of the invoker): a new, unsampled trace.
            let now = chrono::Utc::now().timestamp().clamp(0, i64::from(u32::MAX)) as u32;
            TraceContext::continue_from(None, inv.function.tracing_mode, now, || false)
        });
        if telemetry.is_some() && context.sampled {
            let invoke_span = SpanId::random();
            Plan {
                runtime_header: context.runtime_header(invoke_span),
                spans: Some(Planned {
                    context,
                    span: SpanId::random(),
                    invoke_span,
                    start: SystemTime::now(),
                }),
            }
        } else {
            let parent = context.parent.unwrap_or_else(SpanId::random);
            Plan {
                runtime_header: context.runtime_header(parent),
                spans: None,
            }
        }
    }

    /// Reports the invocation's spans (a sampled one on an exporting node), without waiting.
    pub fn report(
        self,
        telemetry: Option<&Telemetry>,
        inv: &Invocation,
        result: &InvokeResult,
        timeline: Timeline,
    ) {
        let (Some(telemetry), Some(p)) = (telemetry, self.spans) else {
            return;
        };
        telemetry.record(InvocationSpans {
            trace: p.context.root,
            parent: p.context.parent,
            span: p.span,
            invoke_span: p.invoke_span,
            function: inv.function.name.clone(),
            version: inv.function.version.clone(),
            request_id: inv.request_id.clone(),
            invoked_arn: inv.invoked_arn.clone(),
            memory_size_mb: inv.function.memory_size,
            trigger: inv.trigger,
            start: p.start,
            end: SystemTime::now(),
            init: timeline.init,
            invoke: timeline.invoke,
            error: result.function_error.clone(),
        });
    }
}
