//! The platform's log lines, in Lambda's exact text format (spec §4.3), and the billing rules.

use chrono::{DateTime, Utc};
use std::time::Duration;

/// How an invocation ended, for the `REPORT` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Success,
    Timeout,
    /// A platform-level failure with its error type (`Runtime.ExitError`, …).
    Error(String),
}

/// The numbers of one `REPORT` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub request_id: String,
    pub duration: Duration,
    /// On a cold start, process spawn to the runtime's first `/next`.
    pub init_duration: Option<Duration>,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u64,
    pub status: Status,
}

/// Milliseconds with two decimals, as the line shows them, in hundredths.
pub(crate) fn centis(d: Duration) -> u128 {
    (d.as_micros() + 5) / 10
}

fn ms2(d: Duration) -> String {
    let c = centis(d);
    format!("{}.{:02}", c / 100, c % 100)
}

/// Billed duration, ms: the shown duration (plus the shown init duration on a cold start),
/// rounded up to the millisecond, at least 1.
pub fn billed_ms(duration: Duration, init: Option<Duration>) -> u64 {
    let total = centis(duration) + init.map_or(0, centis);
    (total.div_ceil(100) as u64).max(1)
}

/// Bytes to whole MB, rounded up.
pub fn mb_rounded_up(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

impl Report {
    pub fn billed_ms(&self) -> u64 {
        billed_ms(self.duration, self.init_duration)
    }

    /// `REPORT RequestId: <id>\tDuration: 26.73 ms\tBilled Duration: 27 ms\tMemory Size: 128 MB\t
    /// Max Memory Used: 75 MB\t[Init Duration: 203.69 ms\t][Status: timeout|error\tError Type: X]`
    pub fn line(&self) -> String {
        let mut line = format!(
            "REPORT RequestId: {}\tDuration: {} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
            self.request_id,
            ms2(self.duration),
            self.billed_ms(),
            self.memory_size_mb,
            self.max_memory_used_mb,
        );
        if let Some(init) = self.init_duration {
            line.push_str(&format!("Init Duration: {} ms\t", ms2(init)));
        }
        match &self.status {
            Status::Success => {}
            Status::Timeout => line.push_str("Status: timeout"),
            Status::Error(t) => line.push_str(&format!("Status: error\tError Type: {t}")),
        }
        line
    }
}

pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// `INIT_START Runtime Version: python:3.11.ignis\tRuntime Version ARN: arn:aws:lambda:<region>::runtime:<hash>`
pub fn init_start_line(version: &str, version_arn: &str) -> String {
    format!("INIT_START Runtime Version: {version}\tRuntime Version ARN: {version_arn}")
}

/// Where an init ran: in the init phase, or again inside the first invocation after the init
/// phase failed (a "suppressed init").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Init,
    Invoke,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Invoke => "invoke",
        }
    }
}

/// `INIT_REPORT Init Duration: 316.80 ms\tPhase: init\tStatus: error\tError Type: X`
pub fn init_report_line(init: Duration, phase: Phase, status: &Status) -> String {
    let mut line = format!(
        "INIT_REPORT Init Duration: {} ms\tPhase: {}\t",
        ms2(init),
        phase.name()
    );
    match status {
        Status::Success => line.push_str("Status: success"),
        Status::Timeout => line.push_str("Status: timeout"),
        Status::Error(t) => line.push_str(&format!("Status: error\tError Type: {t}")),
    }
    line
}

/// Seconds with two decimals, as in `Task timed out after 3.00 seconds`.
pub fn secs2(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// `2024-05-06T07:08:09.123Z`
pub fn iso_ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `<ISO ts> <id> Task timed out after 3.00 seconds`
pub fn timeout_line(t: DateTime<Utc>, request_id: &str, elapsed: Duration) -> String {
    format!(
        "{} {request_id} Task timed out after {} seconds",
        iso_ts(t),
        secs2(elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ms(v: f64) -> Duration {
        Duration::from_secs_f64(v / 1000.0)
    }

    #[test]
    fn billed_duration_rounds_up_and_includes_init() {
        assert_eq!(billed_ms(ms(26.73), None), 27);
        assert_eq!(billed_ms(ms(27.0), None), 27);
        assert_eq!(billed_ms(ms(0.2), None), 1);
        assert_eq!(billed_ms(Duration::ZERO, None), 1);
        // Lambda's observed example: 61.09 + 3986.50 → 4048.
        assert_eq!(billed_ms(ms(61.09), Some(ms(3986.50))), 4048);
        assert_eq!(billed_ms(ms(0.5), Some(ms(0.5))), 1);
    }

    #[test]
    fn memory_rounds_up_to_mb() {
        assert_eq!(mb_rounded_up(0), 0);
        assert_eq!(mb_rounded_up(1), 1);
        assert_eq!(mb_rounded_up(75 * 1024 * 1024), 75);
        assert_eq!(mb_rounded_up(75 * 1024 * 1024 + 1), 76);
    }

    #[test]
    fn report_lines_match_lambdas() {
        let mut r = Report {
            request_id: "8f5c1e4e-0000-4000-8000-000000000000".into(),
            duration: ms(26.73),
            init_duration: None,
            memory_size_mb: 128,
            max_memory_used_mb: 75,
            status: Status::Success,
        };
        assert_eq!(
            r.line(),
            "REPORT RequestId: 8f5c1e4e-0000-4000-8000-000000000000\tDuration: 26.73 ms\tBilled Duration: 27 ms\tMemory Size: 128 MB\tMax Memory Used: 75 MB\t"
        );
        r.init_duration = Some(ms(203.69));
        r.status = Status::Timeout;
        assert_eq!(
            r.line(),
            "REPORT RequestId: 8f5c1e4e-0000-4000-8000-000000000000\tDuration: 26.73 ms\tBilled Duration: 231 ms\tMemory Size: 128 MB\tMax Memory Used: 75 MB\tInit Duration: 203.69 ms\tStatus: timeout"
        );
        r.init_duration = None;
        r.status = Status::Error("Runtime.ExitError".into());
        assert!(
            r.line()
                .ends_with("Max Memory Used: 75 MB\tStatus: error\tError Type: Runtime.ExitError")
        );
    }

    #[test]
    fn other_platform_lines() {
        assert_eq!(
            start_line("id", "$LATEST"),
            "START RequestId: id Version: $LATEST"
        );
        assert_eq!(end_line("id"), "END RequestId: id");
        assert_eq!(
            init_report_line(
                ms(316.8),
                Phase::Init,
                &Status::Error("Runtime.ImportModuleError".into())
            ),
            "INIT_REPORT Init Duration: 316.80 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError"
        );
        assert_eq!(
            init_report_line(ms(3000.0), Phase::Invoke, &Status::Timeout),
            "INIT_REPORT Init Duration: 3000.00 ms\tPhase: invoke\tStatus: timeout"
        );
        let t = Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap()
            + chrono::Duration::milliseconds(123);
        assert_eq!(
            timeout_line(t, "id", Duration::from_millis(3004)),
            "2024-05-06T07:08:09.123Z id Task timed out after 3.00 seconds"
        );
        assert_eq!(secs2(Duration::from_millis(3070)), "3.07");
    }
}
