//! Lambda's own metrics (`AWS/Lambda`): what the engine and the invoker report, and the
//! datapoints AWS publishes for it, with AWS's names, units and dimension sets: the account's
//! aggregate (no dimension), `FunctionName`, and for a qualified invocation
//! `FunctionName` + `Resource` (`<function>:<qualifier>`), and, when the qualifier is an alias,
//! `FunctionName` + `Resource` + `ExecutedVersion`.

use crate::{Datum, Sample};
use ignis_store::MetricSeries;

pub const NAMESPACE: &str = "AWS/Lambda";
const COUNT: &str = "Count";
const MILLISECONDS: &str = "Milliseconds";
/// A ratio (CloudWatch's unit `None`).
const NONE: &str = "None";

/// Which function, and as what it was invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoked {
    pub function: String,
    /// The qualifier the caller named (a version or an alias), if any.
    pub qualifier: Option<String>,
}

impl Invoked {
    /// From an invoked ARN (`…:function:<name>[:<qualifier>]`).
    pub fn from_arn(arn: &str) -> Invoked {
        let mut fields = arn.splitn(8, ':').skip(6);
        let function = fields.next().unwrap_or(arn).to_string();
        let qualifier = fields.next().map(str::to_string);
        Invoked {
            function,
            qualifier,
        }
    }

    /// The dimension sets a datapoint of this invocation is published under.
    fn dimension_sets(&self, executed_version: Option<&str>) -> Vec<Vec<(String, String)>> {
        let name = ("FunctionName".to_string(), self.function.clone());
        let mut sets = vec![vec![], vec![name.clone()]];
        if let Some(q) = &self.qualifier {
            let resource = ("Resource".to_string(), format!("{}:{q}", self.function));
            sets.push(vec![name.clone(), resource.clone()]);
            if let Some(v) = executed_version.filter(|v| v != q && q != "$LATEST") {
                sets.push(vec![
                    ("ExecutedVersion".into(), v.to_string()),
                    name,
                    resource,
                ]);
            }
        }
        sets
    }
}

/// What the engine and the invoker report.
#[derive(Debug, Clone)]
pub enum Event {
    /// An invocation ran (successfully or with a function error).
    Invoked {
        invoked: Invoked,
        executed_version: String,
        duration_ms: f64,
        error: bool,
        /// It started an environment.
        cold: bool,
        /// For a version with provisioned concurrency: whether a provisioned environment
        /// served it (else it spilled over to an on-demand one).
        provisioned: Option<bool>,
        at_ms: i64,
    },
    /// An invocation request was throttled.
    Throttled { invoked: Invoked, at_ms: i64 },
    /// Concurrent executions when one started: the function's, the account's, and the
    /// account's outside reservations.
    Concurrency {
        function: String,
        function_running: u32,
        running: u32,
        unreserved_running: u32,
        at_ms: i64,
    },
    /// A provisioned environment took an invocation: the version's provisioned environments
    /// running one now (this one included) and those allocated.
    ProvisionedConcurrency {
        invoked: Invoked,
        executed_version: String,
        running: u32,
        allocated: u32,
        at_ms: i64,
    },
    /// An asynchronous invocation was queued.
    AsyncReceived { invoked: Invoked, at_ms: i64 },
    /// A queued event was taken for an attempt `age_ms` after it was queued.
    AsyncAge {
        invoked: Invoked,
        age_ms: f64,
        at_ms: i64,
    },
    /// A queued event was given up (retries or age exhausted, function gone).
    AsyncDropped { invoked: Invoked, at_ms: i64 },
    /// An invocation record could not be delivered to its destination.
    DestinationFailed { invoked: Invoked, at_ms: i64 },
    /// A failed event could not be sent to the function's dead-letter queue.
    DeadLetterFailed { invoked: Invoked, at_ms: i64 },
}

fn datum(
    name: &str,
    unit: &str,
    dimensions: Vec<(String, String)>,
    value: f64,
    at_ms: i64,
) -> Datum {
    Datum {
        series: MetricSeries {
            namespace: NAMESPACE.into(),
            name: name.into(),
            dimensions,
            unit: unit.into(),
        },
        timestamp_ms: at_ms,
        sample: Sample::Values(vec![(value, 1.0)]),
    }
}

impl Event {
    /// The datapoints AWS publishes for this event.
    pub fn datapoints(&self) -> Vec<Datum> {
        let mut out = Vec::new();
        let mut each = |invoked: &Invoked,
                        version: Option<&str>,
                        name: &str,
                        unit: &str,
                        value: f64,
                        at: i64| {
            for set in invoked.dimension_sets(version) {
                out.push(datum(name, unit, set, value, at));
            }
        };
        match self {
            Event::Invoked {
                invoked,
                executed_version,
                duration_ms,
                error,
                provisioned,
                at_ms,
                ..
            } => {
                let v = Some(executed_version.as_str());
                let served = match provisioned {
                    Some(true) => Some("ProvisionedConcurrencyInvocations"),
                    Some(false) => Some("ProvisionedConcurrencySpilloverInvocations"),
                    None => None,
                };
                if let Some(name) = served {
                    each(invoked, v, name, COUNT, 1.0, *at_ms);
                }
                each(invoked, v, "Invocations", COUNT, 1.0, *at_ms);
                each(
                    invoked,
                    v,
                    "Errors",
                    COUNT,
                    f64::from(u8::from(*error)),
                    *at_ms,
                );
                each(invoked, v, "Duration", MILLISECONDS, *duration_ms, *at_ms);
            }
            Event::ProvisionedConcurrency {
                invoked,
                executed_version,
                running,
                allocated,
                at_ms,
            } => {
                let v = Some(executed_version.as_str());
                let running = f64::from(*running);
                let p = "ProvisionedConcurrentExecutions";
                each(invoked, v, p, COUNT, running, *at_ms);
                if *allocated > 0 {
                    let u = "ProvisionedConcurrencyUtilization";
                    let share = running / f64::from(*allocated);
                    each(invoked, v, u, NONE, share, *at_ms);
                }
            }
            Event::Throttled { invoked, at_ms } => {
                each(invoked, None, "Throttles", COUNT, 1.0, *at_ms)
            }
            Event::AsyncReceived { invoked, at_ms } => {
                each(invoked, None, "AsyncEventsReceived", COUNT, 1.0, *at_ms)
            }
            Event::AsyncAge {
                invoked,
                age_ms,
                at_ms,
            } => each(
                invoked,
                None,
                "AsyncEventAge",
                MILLISECONDS,
                *age_ms,
                *at_ms,
            ),
            Event::AsyncDropped { invoked, at_ms } => {
                each(invoked, None, "AsyncEventsDropped", COUNT, 1.0, *at_ms)
            }
            Event::DestinationFailed { invoked, at_ms } => each(
                invoked,
                None,
                "DestinationDeliveryFailures",
                COUNT,
                1.0,
                *at_ms,
            ),
            Event::DeadLetterFailed { invoked, at_ms } => {
                each(invoked, None, "DeadLetterErrors", COUNT, 1.0, *at_ms)
            }
            Event::Concurrency {
                function,
                function_running,
                running,
                unreserved_running,
                at_ms,
            } => {
                let name = vec![("FunctionName".to_string(), function.clone())];
                let c = "ConcurrentExecutions";
                out.push(datum(c, COUNT, vec![], f64::from(*running), *at_ms));
                out.push(datum(c, COUNT, name, f64::from(*function_running), *at_ms));
                let u = "UnreservedConcurrentExecutions";
                out.push(datum(
                    u,
                    COUNT,
                    vec![],
                    f64::from(*unreserved_running),
                    *at_ms,
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(e: &Event, name: &str) -> Vec<Vec<(String, String)>> {
        e.datapoints()
            .into_iter()
            .filter(|d| d.series.name == name)
            .map(|d| d.series.dimensions)
            .collect()
    }

    fn dims(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn provisioned_executions_and_their_share_of_the_allocation() {
        let e = Event::ProvisionedConcurrency {
            invoked: Invoked::from_arn("arn:aws:lambda:us-east-1:000000000000:function:f:live"),
            executed_version: "3".into(),
            running: 1,
            allocated: 4,
            at_ms: 0,
        };
        let points = e.datapoints();
        let of = |name: &str| {
            points
                .iter()
                .filter(|d| d.series.name == name)
                .collect::<Vec<_>>()
        };
        let executions = of("ProvisionedConcurrentExecutions");
        let utilization = of("ProvisionedConcurrencyUtilization");
        assert_eq!(executions.len(), 4);
        assert_eq!(utilization.len(), 4);
        assert!(executions.iter().all(|d| d.series.unit == "Count"
            && matches!(&d.sample, Sample::Values(v) if v == &[(1.0, 1.0)])));
        assert!(utilization.iter().all(|d| d.series.unit == "None"
            && matches!(&d.sample, Sample::Values(v) if v == &[(0.25, 1.0)])));
        assert!(
            sets(&e, "ProvisionedConcurrencyUtilization")
                .contains(&dims(&[("FunctionName", "f"), ("Resource", "f:live")]))
        );
    }

    #[test]
    fn an_alias_invocation_is_published_under_four_dimension_sets() {
        let e = Event::Invoked {
            invoked: Invoked::from_arn("arn:aws:lambda:us-east-1:000000000000:function:f:live"),
            executed_version: "3".into(),
            duration_ms: 12.5,
            error: true,
            cold: false,
            provisioned: Some(true),
            at_ms: 0,
        };
        let expected = vec![
            vec![],
            dims(&[("FunctionName", "f")]),
            dims(&[("FunctionName", "f"), ("Resource", "f:live")]),
            dims(&[
                ("ExecutedVersion", "3"),
                ("FunctionName", "f"),
                ("Resource", "f:live"),
            ]),
        ];
        assert_eq!(sets(&e, "Invocations"), expected);
        assert_eq!(sets(&e, "Duration"), expected);
        assert_eq!(sets(&e, "ProvisionedConcurrencyInvocations"), expected);
        assert!(sets(&e, "ProvisionedConcurrencySpilloverInvocations").is_empty());
        let errors = e
            .datapoints()
            .into_iter()
            .find(|d| d.series.name == "Errors")
            .unwrap();
        assert_eq!(errors.sample, Sample::Values(vec![(1.0, 1.0)]));
        assert_eq!(errors.series.unit, "Count");
    }

    #[test]
    fn unqualified_and_version_invocations_have_fewer_sets() {
        let plain = Event::Throttled {
            invoked: Invoked::from_arn("arn:aws:lambda:us-east-1:000000000000:function:f"),
            at_ms: 0,
        };
        assert_eq!(
            sets(&plain, "Throttles"),
            vec![vec![], dims(&[("FunctionName", "f")])]
        );
        let version = Event::Invoked {
            invoked: Invoked::from_arn("arn:aws:lambda:us-east-1:000000000000:function:f:3"),
            executed_version: "3".into(),
            duration_ms: 1.0,
            error: false,
            cold: true,
            provisioned: None,
            at_ms: 0,
        };
        assert_eq!(sets(&version, "Invocations").len(), 3);
    }
}
