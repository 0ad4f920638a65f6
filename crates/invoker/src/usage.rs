//! Usage metering on the invoke path: requests and billed memory-time per function, counted in
//! memory (one short lock per invocation, no I/O) and taken in batches by the server, which
//! stores them.

use crate::InvokeMetrics;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Counts of one function since the last [`UsageMeter::take`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionUsage {
    pub function: String,
    pub requests: u64,
    /// Sum of Billed Duration (ms) × MemorySize (MB): GB-seconds × 1,024,000.
    pub mb_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct UsageMeter {
    counts: Mutex<HashMap<String, (u64, u64)>>,
}

impl UsageMeter {
    /// Counts one invocation of `function` (a billed one: every invoke that ran, errors and
    /// timeouts included, as Lambda bills them).
    pub fn record(&self, function: &str, m: &InvokeMetrics) {
        let mb_ms = m
            .billed_duration_ms
            .saturating_mul(u64::from(m.memory_size_mb));
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let c = counts.entry(function.to_string()).or_default();
        c.0 += 1;
        c.1 = c.1.saturating_add(mb_ms);
    }

    /// Everything counted since the last call, by function name.
    pub fn take(&self) -> Vec<FunctionUsage> {
        let counts =
            std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        let mut all: Vec<FunctionUsage> = counts
            .into_iter()
            .map(|(function, (requests, mb_ms))| FunctionUsage {
                function,
                requests,
                mb_ms,
            })
            .collect();
        all.sort_by(|a, b| a.function.cmp(&b.function));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn metrics(billed: u64, mem: u32) -> InvokeMetrics {
        InvokeMetrics {
            duration: Duration::from_millis(billed),
            billed_duration_ms: billed,
            init_duration: None,
            memory_size_mb: mem,
            max_memory_used_mb: 1,
        }
    }

    #[test]
    fn requests_and_memory_time_add_up_per_function() {
        let m = UsageMeter::default();
        m.record("b", &metrics(27, 128));
        m.record("a", &metrics(1000, 1024));
        m.record("b", &metrics(3, 128));
        let taken = m.take();
        assert_eq!(
            taken,
            [
                FunctionUsage {
                    function: "a".into(),
                    requests: 1,
                    mb_ms: 1_024_000
                },
                FunctionUsage {
                    function: "b".into(),
                    requests: 2,
                    mb_ms: 3_840
                },
            ]
        );
        assert!(m.take().is_empty());
    }
}
