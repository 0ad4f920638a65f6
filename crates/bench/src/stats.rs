//! Latency samples and their percentiles.

use serde::Serialize;
use std::time::Duration;

/// Nearest-rank percentile of `sorted` (ascending): the smallest sample such that at least `p`
/// percent of the samples are at or below it. `None` for no samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    // The tiny epsilon keeps e.g. 0.9 * 100 = 90.00000000000001 from rounding up a rank.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Summary of one set of latency samples, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: u64,
}

impl Summary {
    /// Summarises `samples` (in any order); `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let us = |p: f64| percentile(&sorted, p).map_or(0, micros);
        let total: Duration = sorted.iter().sum();
        Some(Summary {
            count: sorted.len(),
            p50_us: us(50.0),
            p90_us: us(90.0),
            p99_us: us(99.0),
            max_us: micros(*sorted.last()?),
            mean_us: micros(total / u32::try_from(sorted.len()).unwrap_or(u32::MAX)),
        })
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// `a - b` in microseconds, signed (an overhead can come out negative in noise).
pub fn diff_us(a: u64, b: u64) -> i64 {
    i64::try_from(a).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let s = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&s, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&s, 90.0), Some(Duration::from_millis(90)));
        assert_eq!(percentile(&s, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(percentile(&s, 100.0), Some(Duration::from_millis(100)));
        assert_eq!(percentile(&s, 0.0), Some(Duration::from_millis(1)));
    }

    #[test]
    fn small_sets() {
        assert_eq!(percentile(&[], 50.0), None);
        let one = ms(&[7]);
        for p in [0.0, 50.0, 99.0, 100.0] {
            assert_eq!(percentile(&one, p), Some(Duration::from_millis(7)));
        }
        let two = ms(&[1, 2]);
        assert_eq!(percentile(&two, 50.0), Some(Duration::from_millis(1)));
        assert_eq!(percentile(&two, 51.0), Some(Duration::from_millis(2)));
        assert_eq!(percentile(&two, 90.0), Some(Duration::from_millis(2)));
        let ten = ms(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(percentile(&ten, 90.0), Some(Duration::from_millis(9)));
        assert_eq!(percentile(&ten, 99.0), Some(Duration::from_millis(10)));
    }

    #[test]
    fn summary_sorts_and_averages() {
        let s = Summary::of(&ms(&[5, 1, 4, 2, 3])).unwrap();
        assert_eq!(
            s,
            Summary {
                count: 5,
                p50_us: 3000,
                p90_us: 5000,
                p99_us: 5000,
                max_us: 5000,
                mean_us: 3000,
            }
        );
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn signed_difference() {
        assert_eq!(diff_us(1500, 200), 1300);
        assert_eq!(diff_us(200, 1500), -1300);
    }
}
