//! The one place where every limit on concurrent executions is enforced.
//!
//! Lambda's model: an account has a limit (default 1,000). A function with reserved concurrency
//! R may run at most R at once, and those R are kept for it alone; every other function shares
//! what is left unreserved, of which at least 100 must always remain. An invocation that finds
//! no room is throttled: 429 `TooManyRequestsException` with a `Reason` and `Retry-After`.
//!
//! A [`Permit`] is moved into the invocation's own task and dropped when its environment is
//! released, so a caller that disconnects does not give its place back early.

use ignis_wire::LambdaApiError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// What always stays unreserved.
pub const MIN_UNRESERVED: u32 = 100;

#[derive(Default)]
struct Counts {
    reserved: HashMap<String, u32>,
    running: HashMap<String, u32>,
    /// Running invocations of functions without a reservation.
    unreserved_running: u32,
}

/// Counts running invocations against the account limit and reservations. Cheap to clone.
#[derive(Clone)]
pub struct ConcurrencyLimiter {
    limit: u32,
    counts: Arc<Mutex<Counts>>,
}

/// Held while an invocation runs; gives its place back when dropped.
pub struct Permit {
    limiter: ConcurrencyLimiter,
    function: String,
    reserved: bool,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.limiter.lock();
        if let Some(n) = c.running.get_mut(&self.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.running.remove(&self.function);
            }
        }
        if !self.reserved {
            c.unreserved_running = c.unreserved_running.saturating_sub(1);
        }
    }
}

fn throttled(reason: &'static str) -> LambdaApiError {
    LambdaApiError::TooManyRequests {
        message: "Rate Exceeded.".into(),
        reason,
        retry_after_seconds: 1,
    }
}

impl ConcurrencyLimiter {
    pub fn new(limit: u32, reserved: HashMap<String, u32>) -> ConcurrencyLimiter {
        ConcurrencyLimiter {
            limit,
            counts: Arc::new(Mutex::new(Counts {
                reserved,
                ..Counts::default()
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The account limit.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// What no function has reserved.
    pub fn unreserved(&self) -> u32 {
        self.limit - self.lock().reserved.values().sum::<u32>().min(self.limit)
    }

    /// A function's reservation, if any.
    pub fn reserved(&self, function: &str) -> Option<u32> {
        self.lock().reserved.get(function).copied()
    }

    /// Checks that a reservation keeps `MIN_UNRESERVED` free; the caller stores it, then calls
    /// [`ConcurrencyLimiter::set_reserved`].
    pub fn check_reservation(&self, function: &str, value: u32) -> Result<(), LambdaApiError> {
        let others: u32 = self
            .lock()
            .reserved
            .iter()
            .filter(|(f, _)| *f != function)
            .map(|(_, n)| *n)
            .sum();
        if u64::from(others) + u64::from(value) + u64::from(MIN_UNRESERVED) > u64::from(self.limit)
        {
            return Err(LambdaApiError::InvalidParameterValue(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )));
        }
        Ok(())
    }

    pub fn set_reserved(&self, function: &str, value: Option<u32>) {
        let mut c = self.lock();
        match value {
            Some(v) => c.reserved.insert(function.to_string(), v),
            None => c.reserved.remove(function),
        };
    }

    /// Takes a place for one invocation of `function`, or says why there is none.
    /// Concurrent executions now: `function`'s, the account's, and the account's outside
    /// reservations.
    pub fn running(&self, function: &str) -> (u32, u32, u32) {
        let c = self.lock();
        let all = c.running.values().sum();
        (
            c.running.get(function).copied().unwrap_or(0),
            all,
            c.unreserved_running,
        )
    }

    pub fn acquire(&self, function: &str) -> Result<Permit, LambdaApiError> {
        let mut c = self.lock();
        let running = c.running.get(function).copied().unwrap_or(0);
        let reserved = c.reserved.get(function).copied();
        match reserved {
            Some(r) if running >= r => {
                return Err(throttled(
                    "ReservedFunctionConcurrentInvocationLimitExceeded",
                ));
            }
            Some(_) => {}
            None => {
                let reserved_total: u32 = c.reserved.values().sum();
                let pool = self.limit.saturating_sub(reserved_total);
                if c.unreserved_running >= pool {
                    return Err(throttled("ConcurrentInvocationLimitExceeded"));
                }
                c.unreserved_running += 1;
            }
        }
        *c.running.entry(function.to_string()).or_default() += 1;
        Ok(Permit {
            limiter: self.clone(),
            function: function.to_string(),
            reserved: reserved.is_some(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_functions_are_capped_and_others_share_the_rest() {
        let l = ConcurrencyLimiter::new(200, HashMap::from([("r".to_string(), 2)]));
        let a = l.acquire("r").unwrap();
        let _b = l.acquire("r").unwrap();
        let e = l.acquire("r").err().unwrap();
        assert!(matches!(
            e,
            LambdaApiError::TooManyRequests {
                reason: "ReservedFunctionConcurrentInvocationLimitExceeded",
                ..
            }
        ));
        drop(a);
        let _c = l.acquire("r").unwrap();
        // 198 unreserved places for everyone else.
        let held: Vec<Permit> = (0..198)
            .map(|i| l.acquire(&format!("f{i}")).unwrap())
            .collect();
        let e = l.acquire("other").err().unwrap();
        assert!(matches!(
            e,
            LambdaApiError::TooManyRequests {
                reason: "ConcurrentInvocationLimitExceeded",
                ..
            }
        ));
        drop(held);
        l.acquire("other").unwrap();
    }

    #[test]
    fn zero_reserved_throttles_everything() {
        let l = ConcurrencyLimiter::new(1000, HashMap::from([("z".to_string(), 0)]));
        assert!(l.acquire("z").is_err());
    }

    #[test]
    fn reservations_keep_one_hundred_unreserved() {
        let l = ConcurrencyLimiter::new(1000, HashMap::from([("a".to_string(), 500)]));
        l.check_reservation("b", 400).unwrap();
        assert!(l.check_reservation("b", 401).is_err());
        // Changing a function's own reservation does not count the old value.
        l.check_reservation("a", 900).unwrap();
        assert_eq!(l.unreserved(), 500);
    }
}
