//! X-Ray's default sampling rule, for `Active` functions whose caller made no decision: the
//! first request of each second (the reservoir), then 5 % of the rest.

use std::sync::atomic::{AtomicU64, Ordering};

/// The share of requests past the reservoir that are sampled.
const FIXED_RATE: f64 = 0.05;

#[derive(Debug, Default)]
pub(crate) struct Sampler {
    /// The last second whose reservoir was taken.
    taken: AtomicU64,
}

impl Sampler {
    pub fn sample(&self) -> bool {
        let second = u64::try_from(ignis_model::time::now_ms() / 1000).unwrap_or(0);
        self.sample_at(second)
    }

    fn sample_at(&self, second: u64) -> bool {
        let last = self.taken.load(Ordering::Relaxed);
        let reservoir = last < second
            && self
                .taken
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        reservoir || rand::random::<f64>() < FIXED_RATE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_a_second_then_a_fixed_rate() {
        let s = Sampler::default();
        assert!(s.sample_at(10));
        let rest = (0..10_000).filter(|_| s.sample_at(10)).count();
        assert!((300..700).contains(&rest), "{rest}");
        assert!(s.sample_at(11));
    }
}
