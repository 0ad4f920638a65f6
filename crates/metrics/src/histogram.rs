//! A minute's distribution: counts in logarithmic buckets, each 2 % wide (a value is
//! estimated within 1 % of itself, as DDSketch with α = 0.01 does), sparse, mergeable and small
//! enough to keep per minute. Zero has a bucket of its own.
//!
//! CloudWatch answers percentiles only for non-negative values that were sent one by one (not
//! as statistic sets); a minute that saw either is marked and answers none.

use std::collections::BTreeMap;

/// Relative accuracy of an estimated value.
const ALPHA: f64 = 0.01;
/// Values below this count as zero.
const ZERO: f64 = 1e-9;
/// The zero bucket's key (below any real bucket's: ln(1e-9)/ln(γ) ≈ -1,036).
const ZERO_KEY: i32 = i32::MIN;

const NEGATIVE: u8 = 1;
const SUMMARISED: u8 = 2;

fn gamma_ln() -> f64 {
    ((1.0 + ALPHA) / (1.0 - ALPHA)).ln()
}

/// Counts of values by bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    buckets: BTreeMap<i32, f64>,
    flags: u8,
}

impl Histogram {
    /// Adds `count` values of `value`.
    pub fn add(&mut self, value: f64, count: f64) {
        if value < 0.0 {
            self.flags |= NEGATIVE;
            return;
        }
        let key = if value < ZERO {
            ZERO_KEY
        } else {
            (value.ln() / gamma_ln()).ceil() as i32
        };
        *self.buckets.entry(key).or_default() += count;
    }

    /// Values arrived as a statistic set: their distribution is unknown.
    pub fn summarised(&mut self) {
        self.flags |= SUMMARISED;
    }

    pub fn merge(&mut self, other: &Histogram) {
        self.flags |= other.flags;
        for (k, c) in &other.buckets {
            *self.buckets.entry(*k).or_default() += c;
        }
    }

    /// The `p`th percentile (0–100), within 1 %, clamped to `[min, max]`; `None` when
    /// percentiles are not available (negative or summarised values, or no values).
    pub fn percentile(&self, p: f64, min: f64, max: f64) -> Option<f64> {
        if self.flags != 0 || !(0.0..=100.0).contains(&p) {
            return None;
        }
        let total: f64 = self.buckets.values().sum();
        if total <= 0.0 {
            return None;
        }
        // The ends are known exactly.
        if p >= 100.0 {
            return Some(max);
        }
        if p <= 0.0 {
            return Some(min);
        }
        let rank = p / 100.0 * total;
        let mut seen = 0.0;
        let mut found = None;
        for (k, c) in &self.buckets {
            seen += c;
            if seen >= rank {
                found = Some(*k);
                break;
            }
        }
        let key = found.or_else(|| self.buckets.keys().next_back().copied())?;
        let value = if key == ZERO_KEY {
            0.0
        } else {
            // The bucket (γ^(k-1), γ^k] is answered by the point of least relative error.
            let gamma = gamma_ln().exp();
            2.0 * gamma.powi(key) / (gamma + 1.0)
        };
        Some(value.clamp(min, max))
    }

    /// `[flags][key i32 LE, count f64 LE]*`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.buckets.len() * 12);
        out.push(self.flags);
        for (k, c) in &self.buckets {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Reads [`Histogram::encode`]'s bytes; unreadable ones answer no percentiles.
    pub fn decode(bytes: &[u8]) -> Histogram {
        let Some((&flags, rest)) = bytes.split_first() else {
            return Histogram::default();
        };
        if rest.len() % 12 != 0 {
            return Histogram {
                buckets: BTreeMap::new(),
                flags: SUMMARISED,
            };
        }
        let buckets = rest
            .chunks_exact(12)
            .map(|c| {
                let key = i32::from_le_bytes(c[..4].try_into().expect("4 bytes"));
                let count = f64::from_le_bytes(c[4..].try_into().expect("8 bytes"));
                (key, count)
            })
            .collect();
        Histogram { buckets, flags }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(estimate: f64, exact: f64) -> bool {
        (estimate - exact).abs() <= exact * ALPHA + 1e-12
    }

    #[test]
    fn percentiles_are_within_one_percent() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.add(f64::from(v), 1.0);
        }
        for (p, exact) in [(50.0, 500.0), (90.0, 900.0), (99.0, 990.0), (99.9, 999.0)] {
            let got = h.percentile(p, 1.0, 1000.0).unwrap();
            assert!(within(got, exact), "p{p}: {got} vs {exact}");
        }
        assert_eq!(h.percentile(100.0, 1.0, 1000.0), Some(1000.0));
        assert_eq!(h.percentile(0.0, 1.0, 1000.0), Some(1.0));
    }

    #[test]
    fn one_value_is_answered_exactly_and_zero_has_its_bucket() {
        let mut h = Histogram::default();
        h.add(42.5, 3.0);
        assert_eq!(h.percentile(99.0, 42.5, 42.5), Some(42.5));
        let mut z = Histogram::default();
        z.add(0.0, 9.0);
        z.add(10.0, 1.0);
        assert_eq!(z.percentile(50.0, 0.0, 10.0), Some(0.0));
        assert!(within(z.percentile(95.0, 0.0, 10.0).unwrap(), 10.0));
    }

    #[test]
    fn merging_and_encoding_keep_the_distribution() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.add(1.0, 1.0);
        b.add(100.0, 3.0);
        a.merge(&b);
        assert_eq!(Histogram::decode(&a.encode()), a);
        assert!(within(a.percentile(50.0, 1.0, 100.0).unwrap(), 100.0));
        assert_eq!(Histogram::decode(&[]), Histogram::default());
    }

    #[test]
    fn negative_or_summarised_values_answer_no_percentile() {
        let mut h = Histogram::default();
        h.add(5.0, 1.0);
        h.add(-1.0, 1.0);
        assert_eq!(h.percentile(50.0, -1.0, 5.0), None);
        let mut s = Histogram::default();
        s.add(5.0, 1.0);
        s.summarised();
        let mut merged = Histogram::default();
        merged.merge(&s);
        assert_eq!(
            Histogram::decode(&merged.encode()).percentile(50.0, 5.0, 5.0),
            None
        );
    }
}
