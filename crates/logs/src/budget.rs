//! The byte budget of the queue between [`crate::LogStore::append`] and the writer thread.
//!
//! Every queued record is charged what it holds in memory (its message, group and stream names and
//! a fixed overhead) until the writer has written it. The queue as a whole may hold at most
//! `total` bytes and one group (one function) at most `per_group`, so a function that logs faster
//! than the node writes fills only its own share and loses only its own lines; and a quarter of
//! the total is kept for groups with next to nothing queued ([`LIGHT_GROUP_BYTES`], this record
//! included), so that even several such functions at once do not make a quiet one lose its
//! lines. Lost lines are
//! counted per stream and reported, in that stream, as soon as there is room again: attached to the
//! stream's next accepted record (at most once per [`REPORT_EVERY`] while it keeps losing lines),
//! or by the writer when it has caught up with its queue.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What a queued record costs beyond its strings (the command, the channel slot, allocator
/// rounding), so that a flood of empty lines is bounded too.
pub(crate) const RECORD_OVERHEAD: u64 = 128;
/// A group that holds at most this in the queue, the new record included, may use the part of it
/// kept for quiet groups.
pub(crate) const LIGHT_GROUP_BYTES: u64 = 64 * 1024;
/// While a stream keeps losing lines, how often a report is attached to its accepted records.
pub(crate) const REPORT_EVERY: Duration = Duration::from_secs(1);

/// Why lines were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The group's own share of the queue was full: the function logged faster than the node
    /// writes.
    GroupShare,
    /// The whole queue was full (many functions were logging fast at once).
    QueueFull,
}

/// Lines of one stream dropped since its last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Dropped {
    pub lines: u64,
    /// Bytes of message text lost.
    pub bytes: u64,
    /// Some were dropped because the group's share was full.
    pub group_share: bool,
    /// Some were dropped because the whole queue was full.
    pub queue_full: bool,
}

impl Dropped {
    /// The line written to the stream about these drops.
    pub fn report(&self) -> String {
        let why = if self.group_share {
            "this function logged faster than the node could write its logs"
        } else {
            "the node's log queue was full (functions on this node logged faster than it could \
             write their logs)"
        };
        format!(
            "IGNIS: dropped {} log line{} ({}) because {why}",
            self.lines,
            if self.lines == 1 { "" } else { "s" },
            human_bytes(self.bytes)
        )
    }
}

/// `512 B`, `12.5 KiB`, `300.0 MiB`, `1.2 GiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// What a record of `message_len` bytes for `group`/`stream` is charged while queued.
pub(crate) fn cost(group: &str, stream: &str, message_len: usize) -> u64 {
    (message_len + group.len() + stream.len()) as u64 + RECORD_OVERHEAD
}

#[derive(Default)]
struct PendingDrops {
    dropped: Dropped,
    /// When the stream's last report was handed out.
    last_report: Option<Instant>,
}

/// The accounting itself (kept behind one mutex by the store).
pub(crate) struct Budget {
    total_limit: u64,
    group_limit: u64,
    total: u64,
    /// Bytes queued per group; a group leaves the map when it has none.
    groups: HashMap<String, u64>,
    /// Drops not yet reported, by (group, stream); an entry leaves the map once reported and
    /// quiet for [`REPORT_EVERY`].
    pending: HashMap<(String, String), PendingDrops>,
    dropped_lines: u64,
}

impl Budget {
    /// A budget of `total` bytes in flight, of which one group may hold `per_group`. Both are
    /// raised to fit at least one maximal record (outside the part kept for quiet groups), so that
    /// a single line always fits an empty queue.
    pub fn new(total: u64, per_group: u64) -> Budget {
        let floor = cost("", "", crate::MAX_MESSAGE_BYTES) + 4096;
        let total = total.max(2 * floor);
        Budget {
            total_limit: total,
            group_limit: per_group.clamp(floor, total),
            total: 0,
            groups: HashMap::new(),
            pending: HashMap::new(),
            dropped_lines: 0,
        }
    }

    /// Charges a record of `message_len` bytes to `group`, or counts it as dropped for `stream`.
    /// `Ok` carries the stream's drops to report before this record, when it is time for one.
    pub fn admit(
        &mut self,
        group: &str,
        stream: &str,
        message_len: usize,
        now: Instant,
    ) -> Result<Option<Dropped>, Reason> {
        let cost = cost(group, stream, message_len);
        let held = self.groups.get(group).copied().unwrap_or(0);
        let refused = if held + cost > self.group_limit {
            Some(Reason::GroupShare)
        } else if self.total + cost > self.total_limit
            || (held + cost > LIGHT_GROUP_BYTES && self.total + cost > self.heavy_limit())
        {
            Some(Reason::QueueFull)
        } else {
            None
        };
        let key = (group.to_string(), stream.to_string());
        if let Some(reason) = refused {
            let p = self.pending.entry(key).or_default();
            p.dropped.lines += 1;
            p.dropped.bytes += message_len as u64;
            match reason {
                Reason::GroupShare => p.dropped.group_share = true,
                Reason::QueueFull => p.dropped.queue_full = true,
            }
            self.dropped_lines += 1;
            return Err(reason);
        }
        self.total += cost;
        *self.groups.entry(group.to_string()).or_insert(0) += cost;
        let report = match self.pending.get_mut(&key) {
            None => None,
            Some(p) if p.dropped.lines == 0 => {
                if p.last_report
                    .is_none_or(|t| now.duration_since(t) >= REPORT_EVERY)
                {
                    self.pending.remove(&key);
                }
                None
            }
            Some(p) => {
                if p.last_report
                    .is_none_or(|t| now.duration_since(t) >= REPORT_EVERY)
                {
                    p.last_report = Some(now);
                    Some(std::mem::take(&mut p.dropped))
                } else {
                    None
                }
            }
        };
        Ok(report)
    }

    /// How full groups that would hold more than [`LIGHT_GROUP_BYTES`] may make the queue: a
    /// quarter of it is kept for the others.
    fn heavy_limit(&self) -> u64 {
        self.total_limit - self.total_limit / 4
    }

    /// Gives back what a record admitted with `message_len` cost, once it is written (or failed).
    pub fn release(&mut self, group: &str, stream: &str, message_len: usize) {
        let cost = cost(group, stream, message_len);
        self.total -= cost.min(self.total);
        if let Some(held) = self.groups.get_mut(group) {
            *held -= cost.min(*held);
            if *held == 0 {
                self.groups.remove(group);
            }
        }
    }

    /// Every stream's unreported drops (the writer calls this when it has caught up with its
    /// queue, so there is room again).
    pub fn take_pending(&mut self, now: Instant) -> Vec<(String, String, Dropped)> {
        let mut out = Vec::new();
        self.pending.retain(|(group, stream), p| {
            if p.dropped.lines > 0 {
                out.push((
                    group.clone(),
                    stream.clone(),
                    std::mem::take(&mut p.dropped),
                ));
                p.last_report = Some(now);
                return true;
            }
            p.last_report
                .is_some_and(|t| now.duration_since(t) < REPORT_EVERY)
        });
        out
    }

    /// Bytes queued now, in all and for `group`.
    #[cfg(test)]
    pub fn in_flight(&self, group: &str) -> (u64, u64) {
        (self.total, self.groups.get(group).copied().unwrap_or(0))
    }

    /// Lines dropped since the store opened.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const LINE: usize = 256 * 1024;

    fn line_cost(g: &str, s: &str) -> u64 {
        cost(g, s, LINE)
    }

    #[test]
    fn a_group_is_held_to_its_share_and_others_still_fit() {
        let now = Instant::now();
        // Room for 4 lines of "a" and 10 in all.
        let mut b = Budget::new(12 * line_cost("a", "s"), 4 * line_cost("a", "s"));
        for _ in 0..4 {
            assert_eq!(b.admit("a", "s", LINE, now), Ok(None));
        }
        assert_eq!(b.admit("a", "s", LINE, now), Err(Reason::GroupShare));
        assert_eq!(b.admit("a", "s2", 10, now), Err(Reason::GroupShare));
        assert_eq!(
            b.in_flight("a"),
            (4 * line_cost("a", "s"), 4 * line_cost("a", "s"))
        );
        // Another group is not affected.
        for _ in 0..4 {
            assert_eq!(b.admit("b", "s", LINE, now), Ok(None));
        }
        assert_eq!(b.dropped_lines(), 2);
    }

    #[test]
    fn the_total_is_a_bound_across_groups() {
        let now = Instant::now();
        let c = line_cost("g0", "s");
        let mut b = Budget::new(5 * c, 2 * c);
        let mut admitted = 0;
        let mut full = 0;
        for g in 0..5 {
            for _ in 0..2 {
                match b.admit(&format!("g{g}"), "s", LINE, now) {
                    Ok(_) => admitted += 1,
                    Err(Reason::QueueFull) => full += 1,
                    Err(Reason::GroupShare) => panic!("no group is over its share"),
                }
            }
        }
        // Big lines may fill three quarters of it (the rest is kept for quiet functions).
        assert_eq!((admitted, full), (3, 7));
        assert!(b.in_flight("g0").0 <= 5 * c * 3 / 4);
        let pending = b.take_pending(now);
        assert!(
            pending
                .iter()
                .all(|(_, _, d)| d.queue_full && !d.group_share)
        );
        assert_eq!(pending.iter().map(|(_, _, d)| d.lines).sum::<u64>(), 7);
    }

    #[test]
    fn a_quarter_of_the_queue_is_kept_for_quiet_functions() {
        let now = Instant::now();
        let c = line_cost("g0", "s");
        let mut b = Budget::new(8 * c, 2 * c);
        // Loud groups fill their shares until only the quarter kept for quiet ones is left.
        for g in 0..8 {
            for _ in 0..2 {
                let _ = b.admit(&format!("g{g}"), "s", LINE, now);
            }
        }
        assert_eq!(b.in_flight("g0").0, 6 * c);
        // Another big line does not go in, even from a group with none queued.
        assert_eq!(b.admit("burst", "s", LINE, now), Err(Reason::QueueFull));
        // A quiet function's lines still do, up to the whole queue.
        let small = cost("quiet", "s", 200);
        let mut quiet = 0;
        while b.admit("quiet", "s", 200, now).is_ok() {
            quiet += 1;
        }
        assert_eq!(quiet, LIGHT_GROUP_BYTES / small);
        assert!(b.in_flight("g0").0 <= 8 * c);
        // And a second quiet one, beside it.
        assert_eq!(b.admit("quiet2", "s", 200, now), Ok(None));
    }

    #[test]
    fn release_makes_room_and_empties_the_accounting() {
        let now = Instant::now();
        let c = line_cost("a", "s");
        let mut b = Budget::new(8 * c, 2 * c);
        assert!(b.admit("a", "s", LINE, now).is_ok());
        assert!(b.admit("a", "s", LINE, now).is_ok());
        assert!(b.admit("a", "s", LINE, now).is_err());
        b.release("a", "s", LINE);
        assert_eq!(b.in_flight("a"), (c, c));
        b.release("a", "s", LINE);
        assert_eq!(b.in_flight("a"), (0, 0));
        assert!(b.groups.is_empty());
        // A release of more than was charged never underflows.
        b.release("a", "s", LINE);
        assert_eq!(b.in_flight("a"), (0, 0));
    }

    #[test]
    fn drops_are_reported_on_the_next_admitted_record_of_the_stream() {
        let t0 = Instant::now();
        let c = line_cost("a", "s");
        let mut b = Budget::new(8 * c, 2 * c);
        assert_eq!(b.admit("a", "s", LINE, t0), Ok(None));
        assert_eq!(b.admit("a", "s", LINE, t0), Ok(None));
        for _ in 0..3 {
            assert_eq!(b.admit("a", "s", LINE, t0), Err(Reason::GroupShare));
        }
        assert_eq!(b.admit("a", "other", 100, t0), Err(Reason::GroupShare));
        b.release("a", "s", LINE);
        let report = b.admit("a", "s", LINE, t0).unwrap().expect("a report");
        assert_eq!(report.lines, 3);
        assert_eq!(report.bytes, 3 * LINE as u64);
        assert!(report.group_share && !report.queue_full);
        // The other stream's drop is its own.
        b.release("a", "s", LINE);
        let other = b.admit("a", "other", 100, t0).unwrap().expect("its report");
        assert_eq!((other.lines, other.bytes), (1, 100));
        // Nothing left to report.
        b.release("a", "other", 100);
        assert_eq!(b.admit("a", "s", 10, t0), Ok(None));
    }

    #[test]
    fn a_stream_that_keeps_losing_lines_gets_at_most_one_report_a_second() {
        let t0 = Instant::now();
        let c = line_cost("a", "s");
        let mut b = Budget::new(8 * c, 2 * c);
        let mut reports = Vec::new();
        // 3 seconds of: two lines admitted, nine dropped, two written, every 10 ms.
        for tick in 0..300u32 {
            let now = t0 + Duration::from_millis(u64::from(tick) * 10);
            if let Some(r) = b.admit("a", "s", LINE, now).unwrap() {
                reports.push(r);
            }
            assert!(b.admit("a", "s", LINE, now).is_ok());
            for _ in 0..9 {
                assert!(b.admit("a", "s", LINE, now).is_err());
            }
            b.release("a", "s", LINE);
            b.release("a", "s", LINE);
        }
        assert!(
            (2..=3).contains(&reports.len()),
            "{} reports",
            reports.len()
        );
        let reported: u64 = reports.iter().map(|r| r.lines).sum();
        let rest: u64 = b
            .take_pending(t0 + Duration::from_secs(3))
            .iter()
            .map(|(_, _, d)| d.lines)
            .sum();
        // Every drop is reported exactly once.
        assert_eq!(reported + rest, 300 * 9);
        assert_eq!(b.dropped_lines(), 300 * 9);
    }

    #[test]
    fn the_writer_reports_what_is_pending_and_the_map_empties() {
        let t0 = Instant::now();
        let c = line_cost("a", "s");
        let mut b = Budget::new(8 * c, 2 * c);
        assert!(b.admit("a", "s", LINE, t0).is_ok());
        assert!(b.admit("a", "s", LINE, t0).is_ok());
        assert!(b.admit("a", "s", 5, t0).is_err());
        b.release("a", "s", LINE);
        b.release("a", "s", LINE);
        let pending = b.take_pending(t0);
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].2.lines, pending[0].2.bytes), (1, 5));
        assert!(b.take_pending(t0).is_empty());
        // Once quiet for a while, the stream is forgotten.
        assert!(b.take_pending(t0 + REPORT_EVERY).is_empty());
        assert!(b.pending.is_empty());
    }

    #[test]
    fn limits_are_never_below_one_maximal_line() {
        let now = Instant::now();
        let mut b = Budget::new(1, 1);
        assert_eq!(b.admit("a", "s", crate::MAX_MESSAGE_BYTES, now), Ok(None));
        assert!(b.admit("a", "s", crate::MAX_MESSAGE_BYTES, now).is_err());
    }

    #[test]
    fn the_report_says_how_many_how_much_and_why() {
        let d = Dropped {
            lines: 1234,
            bytes: 300 * 1024 * KIB,
            group_share: true,
            queue_full: false,
        };
        assert_eq!(
            d.report(),
            "IGNIS: dropped 1234 log lines (300.0 MiB) because this function logged faster \
             than the node could write its logs"
        );
        let one = Dropped {
            lines: 1,
            bytes: 12,
            group_share: false,
            queue_full: true,
        };
        assert!(
            one.report()
                .starts_with("IGNIS: dropped 1 log line (12 B) because the node's")
        );
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
