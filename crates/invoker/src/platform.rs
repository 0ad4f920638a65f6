//! Lambda's advanced logging controls: the platform's events in either format, and the levels
//! that filter what reaches the log.
//!
//! With `LogFormat: Text` each event is the line it always was (`START RequestId: …`, `REPORT …`;
//! [`crate::report`]) and nothing is filtered. With `LogFormat: JSON` each event is the record
//! the Telemetry API documents, one JSON object a line (`{"time":…,"type":"platform.start",
//! "record":{"requestId":…,"version":"$LATEST"}}`), kept when its level is at or above
//! `SystemLogLevel`: the events of the runtime finishing its work (`platform.initRuntimeDone`,
//! `platform.runtimeDone`) are `DEBUG`, the start and report events `INFO`, and a report whose
//! status is not a success `WARN`. The function's own lines are kept when their level is at or
//! above `ApplicationLogLevel`: a JSON object's `"level"` member, any other line `INFO`, as Lambda
//! reads them. `END` has no JSON record: `platform.runtimeDone` and `platform.report` say it.

use crate::report::{self, Phase, Report, Status};
use ignis_model::LoggingConfig;
use serde::Serialize;
use std::time::Duration;

/// A log level, least severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// Lambda's level names and the usual spellings of the managed runtimes' loggers
    /// (`warning`, `critical`), in any case.
    pub fn parse(name: &str) -> Option<Level> {
        Some(match name.to_ascii_uppercase().as_str() {
            "TRACE" => Level::Trace,
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARN" | "WARNING" => Level::Warn,
            "ERROR" => Level::Error,
            "FATAL" | "CRITICAL" => Level::Fatal,
            _ => return None,
        })
    }
}

/// How one function's log is written: Text (nothing filtered) or JSON with its two levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Controls {
    Text,
    Json { system: Level, application: Level },
}

impl Controls {
    pub fn of(logging: &LoggingConfig) -> Controls {
        let level = |l: Option<&str>| l.and_then(Level::parse).unwrap_or(Level::Info);
        match logging.effective_system_level() {
            None => Controls::Text,
            Some(system) => Controls::Json {
                system: level(Some(system)),
                application: level(logging.effective_application_level()),
            },
        }
    }

    /// Whether a line the function printed is kept.
    pub fn keeps_function_line(&self, line: &str) -> bool {
        match self {
            Controls::Text => true,
            Controls::Json { application, .. } => function_line_level(line) >= *application,
        }
    }

    /// The line an event is written as, if this format and level keep it.
    pub fn render(&self, event: &Event<'_>) -> Option<String> {
        match self {
            Controls::Text => event.text(),
            Controls::Json { system, .. } if event.level() >= *system => event.json(),
            Controls::Json { .. } => None,
        }
    }
}

/// A line's level as Lambda reads it: the `"level"` member of a JSON object, else `INFO`.
fn function_line_level(line: &str) -> Level {
    #[derive(serde::Deserialize)]
    struct Levelled {
        level: Option<serde_json::Value>,
    }
    if !line.trim_start().starts_with('{') {
        return Level::Info;
    }
    serde_json::from_str::<Levelled>(line)
        .ok()
        .and_then(|l| l.level)
        .and_then(|v| v.as_str().and_then(Level::parse))
        .unwrap_or(Level::Info)
}

/// One platform event, with what both of its forms need.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    InitStart {
        initialization_type: &'a str,
        runtime_version: &'a str,
        runtime_version_arn: &'a str,
        function_name: &'a str,
        function_version: &'a str,
    },
    /// The runtime's init ended (its first `/next`, or a failure); JSON only.
    InitRuntimeDone {
        initialization_type: &'a str,
        phase: Phase,
        status: &'a Status,
    },
    /// A failed init's report (Lambda writes `INIT_REPORT` only then).
    InitReport {
        initialization_type: &'a str,
        phase: Phase,
        duration: Duration,
        status: &'a Status,
    },
    Start {
        request_id: &'a str,
        version: &'a str,
    },
    /// The runtime finished the invocation; JSON only. `function_error` is an error the
    /// function itself returned (`/error`), which the text format does not show here.
    RuntimeDone {
        report: &'a Report,
        function_error: bool,
    },
    /// `END RequestId: …`; text only.
    End { request_id: &'a str },
    Report {
        report: &'a Report,
        function_error: bool,
    },
}

/// The `status` and `errorType` of a record: `success`, `error` (the function's own error),
/// `failure` (the platform's: the runtime exited, a response too large …) or `timeout`.
fn status_fields(status: &Status, function_error: bool) -> (&'static str, Option<&str>) {
    match status {
        Status::Success if function_error => ("error", None),
        Status::Success => ("success", None),
        Status::Timeout => ("timeout", Some("Sandbox.Timedout")),
        Status::Error(t) => ("failure", Some(t.as_str())),
    }
}

/// Milliseconds as Lambda's records show them: two decimals, like the text lines.
fn ms(d: Duration) -> f64 {
    report::centis(d) as f64 / 100.0
}

#[derive(Serialize)]
struct Envelope<'a, R: Serialize> {
    time: String,
    #[serde(rename = "type")]
    kind: &'a str,
    record: R,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitRecord<'a> {
    initialization_type: &'a str,
    phase: &'a str,
    /// `platform.initStart`'s.
    #[serde(flatten)]
    runtime: Option<InitRuntime<'a>>,
    /// `platform.initRuntimeDone`'s and `platform.initReport`'s.
    #[serde(flatten)]
    outcome: Option<InitOutcome<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitRuntime<'a> {
    runtime_version: &'a str,
    runtime_version_arn: &'a str,
    function_name: &'a str,
    function_version: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitOutcome<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<InitMetrics>,
}

impl<'a> InitRecord<'a> {
    fn new(initialization_type: &'a str) -> InitRecord<'a> {
        InitRecord {
            initialization_type,
            phase: "init",
            runtime: None,
            outcome: None,
        }
    }

    fn ended(
        initialization_type: &'a str,
        phase: Phase,
        status: &'a Status,
        duration: Option<Duration>,
    ) -> InitRecord<'a> {
        let (status, error_type) = status_fields(status, false);
        InitRecord {
            phase: phase.name(),
            outcome: Some(InitOutcome {
                status,
                error_type,
                metrics: duration.map(|d| InitMetrics { duration_ms: ms(d) }),
            }),
            ..InitRecord::new(initialization_type)
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitMetrics {
    duration_ms: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartRecord<'a> {
    request_id: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DoneRecord<'a> {
    request_id: &'a str,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'a str>,
    metrics: DoneMetrics,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DoneMetrics {
    duration_ms: f64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportRecord<'a> {
    request_id: &'a str,
    metrics: ReportMetrics,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_type: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportMetrics {
    duration_ms: f64,
    billed_duration_ms: u64,
    #[serde(rename = "memorySizeMB")]
    memory_size_mb: u32,
    #[serde(rename = "maxMemoryUsedMB")]
    max_memory_used_mb: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    init_duration_ms: Option<f64>,
}

fn envelope<R: Serialize>(kind: &str, record: R) -> String {
    let e = Envelope {
        time: report::iso_ts(chrono::Utc::now()),
        kind,
        record,
    };
    serde_json::to_string(&e).expect("platform records always serialise")
}

impl Event<'_> {
    pub fn level(&self) -> Level {
        match self {
            Event::InitRuntimeDone { .. } | Event::RuntimeDone { .. } => Level::Debug,
            Event::InitReport { status, .. } if **status != Status::Success => Level::Warn,
            Event::Report { report, .. } if report.status != Status::Success => Level::Warn,
            _ => Level::Info,
        }
    }

    /// The text line, as before advanced logging controls.
    pub fn text(&self) -> Option<String> {
        Some(match self {
            Event::InitStart {
                runtime_version,
                runtime_version_arn,
                ..
            } => report::init_start_line(runtime_version, runtime_version_arn),
            Event::InitReport {
                duration,
                status,
                phase,
                ..
            } => report::init_report_line(*duration, *phase, status),
            Event::Start {
                request_id,
                version,
            } => report::start_line(request_id, version),
            Event::End { request_id } => report::end_line(request_id),
            Event::Report { report, .. } => report.line(),
            Event::InitRuntimeDone { .. } | Event::RuntimeDone { .. } => return None,
        })
    }

    /// The JSON record (`END` has none).
    pub fn json(&self) -> Option<String> {
        Some(match self {
            Event::InitStart {
                initialization_type,
                runtime_version,
                runtime_version_arn,
                function_name,
                function_version,
            } => envelope(
                "platform.initStart",
                InitRecord {
                    runtime: Some(InitRuntime {
                        runtime_version,
                        runtime_version_arn,
                        function_name,
                        function_version,
                    }),
                    ..InitRecord::new(initialization_type)
                },
            ),
            Event::InitRuntimeDone {
                initialization_type,
                phase,
                status,
            } => envelope(
                "platform.initRuntimeDone",
                InitRecord::ended(initialization_type, *phase, status, None),
            ),
            Event::InitReport {
                initialization_type,
                phase,
                duration,
                status,
            } => envelope(
                "platform.initReport",
                InitRecord::ended(initialization_type, *phase, status, Some(*duration)),
            ),
            Event::Start {
                request_id,
                version,
            } => envelope(
                "platform.start",
                StartRecord {
                    request_id,
                    version,
                },
            ),
            Event::RuntimeDone {
                report,
                function_error,
            } => {
                let (status, error_type) = status_fields(&report.status, *function_error);
                envelope(
                    "platform.runtimeDone",
                    DoneRecord {
                        request_id: &report.request_id,
                        status,
                        error_type,
                        metrics: DoneMetrics {
                            duration_ms: ms(report.duration),
                        },
                    },
                )
            }
            Event::End { .. } => return None,
            Event::Report {
                report,
                function_error,
            } => {
                let (status, error_type) = status_fields(&report.status, *function_error);
                envelope(
                    "platform.report",
                    ReportRecord {
                        request_id: &report.request_id,
                        metrics: ReportMetrics {
                            duration_ms: ms(report.duration),
                            billed_duration_ms: report.billed_ms(),
                            memory_size_mb: report.memory_size_mb,
                            max_memory_used_mb: report.max_memory_used_mb,
                            init_duration_ms: report.init_duration.map(ms),
                        },
                        status,
                        error_type,
                    },
                )
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_model::LogFormat;
    use serde_json::{Value, json};

    fn controls(system: Option<&str>, application: Option<&str>) -> Controls {
        let mut l = LoggingConfig::default_for("f");
        l.log_format = LogFormat::Json;
        l.system_log_level = system.map(str::to_string);
        l.application_log_level = application.map(str::to_string);
        Controls::of(&l)
    }

    fn parsed(line: Option<String>) -> Value {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let time = v["time"].as_str().unwrap();
        assert!(
            regex::Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                .unwrap()
                .is_match(time),
            "{time}"
        );
        v
    }

    fn report(status: Status, init: Option<Duration>) -> Report {
        Report {
            request_id: "rid".into(),
            duration: Duration::from_micros(26_734),
            init_duration: init,
            memory_size_mb: 128,
            max_memory_used_mb: 75,
            status,
        }
    }

    #[test]
    fn json_records_are_lambdas_field_for_field() {
        let start = Event::Start {
            request_id: "rid",
            version: "$LATEST",
        };
        let v = parsed(start.json());
        assert_eq!(v["type"], "platform.start");
        assert_eq!(
            v["record"],
            json!({"requestId": "rid", "version": "$LATEST"})
        );
        // The envelope's members in Lambda's order.
        assert!(start.json().unwrap().starts_with("{\"time\":\""));
        assert_eq!(Event::End { request_id: "rid" }.json(), None);

        let r = report(Status::Success, Some(Duration::from_micros(203_690)));
        let v = parsed(
            Event::Report {
                report: &r,
                function_error: false,
            }
            .json(),
        );
        assert_eq!(v["type"], "platform.report");
        assert_eq!(
            v["record"],
            json!({"requestId": "rid", "status": "success", "metrics": {
                "durationMs": 26.73, "billedDurationMs": 231, "memorySizeMB": 128,
                "maxMemoryUsedMB": 75, "initDurationMs": 203.69}})
        );

        let r = report(Status::Error("Runtime.ExitError".into()), None);
        let v = parsed(
            Event::RuntimeDone {
                report: &r,
                function_error: false,
            }
            .json(),
        );
        assert_eq!(
            v["record"],
            json!({"requestId": "rid", "status": "failure", "errorType": "Runtime.ExitError",
                "metrics": {"durationMs": 26.73}})
        );
        let r = report(Status::Success, None);
        let v = parsed(
            Event::Report {
                report: &r,
                function_error: true,
            }
            .json(),
        );
        assert_eq!(v["record"]["status"], "error");
        assert!(v["record"]["metrics"].get("initDurationMs").is_none());

        let v = parsed(
            Event::InitStart {
                initialization_type: "on-demand",
                runtime_version: "python:3.12.ignis",
                runtime_version_arn: "arn:aws:lambda:us-east-1::runtime:ab",
                function_name: "f",
                function_version: "$LATEST",
            }
            .json(),
        );
        assert_eq!(v["type"], "platform.initStart");
        assert_eq!(
            v["record"],
            json!({"initializationType": "on-demand", "phase": "init",
                "runtimeVersion": "python:3.12.ignis",
                "runtimeVersionArn": "arn:aws:lambda:us-east-1::runtime:ab",
                "functionName": "f", "functionVersion": "$LATEST"})
        );
        let v = parsed(
            Event::InitReport {
                initialization_type: "on-demand",
                phase: Phase::Init,
                duration: Duration::from_micros(316_800),
                status: &Status::Timeout,
            }
            .json(),
        );
        assert_eq!(
            v["record"],
            json!({"initializationType": "on-demand", "phase": "init", "status": "timeout",
                "errorType": "Sandbox.Timedout", "metrics": {"durationMs": 316.8}})
        );
        let v = parsed(
            Event::InitRuntimeDone {
                initialization_type: "provisioned-concurrency",
                phase: Phase::Init,
                status: &Status::Success,
            }
            .json(),
        );
        assert_eq!(
            v["record"],
            json!({"initializationType": "provisioned-concurrency", "phase": "init",
                "status": "success"})
        );
    }

    #[test]
    fn text_stays_as_it_was() {
        let c = Controls::of(&LoggingConfig::default_for("f"));
        assert_eq!(c, Controls::Text);
        let r = report(Status::Success, None);
        assert_eq!(
            c.render(&Event::End { request_id: "rid" }).unwrap(),
            "END RequestId: rid"
        );
        assert_eq!(
            c.render(&Event::Report {
                report: &r,
                function_error: true
            }),
            Some(r.line())
        );
        let done = Event::RuntimeDone {
            report: &r,
            function_error: false,
        };
        assert_eq!(c.render(&done), None);
        assert!(c.keeps_function_line("{\"level\":\"TRACE\"}"));
    }

    #[test]
    fn system_level_filters_platform_events() {
        let ok = report(Status::Success, None);
        let failed = report(Status::Timeout, None);
        let events = |r| {
            [
                Event::Start {
                    request_id: "rid",
                    version: "1",
                },
                Event::RuntimeDone {
                    report: r,
                    function_error: false,
                },
                Event::End { request_id: "rid" },
                Event::Report {
                    report: r,
                    function_error: false,
                },
            ]
        };
        let kinds = |c: Controls, r| -> Vec<String> {
            events(r)
                .iter()
                .filter_map(|e| c.render(e))
                .map(|l| parsed(Some(l))["type"].as_str().unwrap().to_string())
                .collect()
        };
        let all = ["platform.start", "platform.runtimeDone", "platform.report"];
        assert_eq!(kinds(controls(Some("DEBUG"), None), &ok), all);
        assert_eq!(
            kinds(controls(None, None), &ok),
            ["platform.start", "platform.report"]
        );
        assert!(kinds(controls(Some("WARN"), None), &ok).is_empty());
        assert_eq!(
            kinds(controls(Some("WARN"), None), &failed),
            ["platform.report"]
        );
    }

    #[test]
    fn application_level_filters_function_lines() {
        let warn = controls(None, Some("WARN"));
        assert!(!warn.keeps_function_line("a print"));
        assert!(!warn.keeps_function_line(r#"{"level":"info","msg":"x"}"#));
        assert!(warn.keeps_function_line(r#"{"level":"WARNING","message":"x"}"#));
        assert!(warn.keeps_function_line(r#"  {"level":"critical"}"#));
        assert!(!warn.keeps_function_line(r#"{"level":7}"#));
        assert!(!warn.keeps_function_line("{not json"));
        let info = controls(None, None);
        assert!(info.keeps_function_line("a print"));
        assert!(!info.keeps_function_line(r#"{"level":"DEBUG"}"#));
        let trace = controls(None, Some("TRACE"));
        assert!(trace.keeps_function_line(r#"{"level":"TRACE"}"#));
        let fatal = controls(None, Some("FATAL"));
        assert!(!fatal.keeps_function_line(r#"{"level":"ERROR"}"#));
        assert!(fatal.keeps_function_line(r#"{"level":"FATAL"}"#));
    }
}
