//! CloudWatch's Embedded Metric Format: a log line that is a JSON object with an `_aws` member
//! (`Timestamp`, `CloudWatchMetrics: [{Namespace, Dimensions: [[name…]…], Metrics: [{Name,
//! Unit}…]}]`) whose other members hold the metrics' values (a number, or an array of up to 100)
//! and the dimensions' values (strings). Each directive becomes a datapoint per metric and per
//! dimension set, as CloudWatch Logs extracts them; a line that breaks the format's rules makes
//! no metric (the line is still logged).

use crate::{Datum, Sample, UNITS};
use ignis_store::MetricSeries;
use serde_json::{Map, Value};

/// Most metrics in one directive, dimensions in one set, and values in one array (the
/// format's limits).
const MAX_METRICS: usize = 100;
const MAX_DIMENSIONS: usize = 30;
const MAX_VALUES: usize = 100;

/// Whether a line may be EMF, cheaply: it must at least name `_aws`.
pub fn may_be_emf(line: &str) -> bool {
    line.trim_start().starts_with('{') && line.contains("\"_aws\"")
}

/// The datapoints of an EMF line; none when it is not valid EMF. A line without a timestamp
/// is dated `now_ms`.
pub fn parse(line: &str, now_ms: i64) -> Vec<Datum> {
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(line) else {
        return Vec::new();
    };
    directives(&root, now_ms).unwrap_or_default()
}

fn directives(root: &Map<String, Value>, now_ms: i64) -> Option<Vec<Datum>> {
    let aws = root.get("_aws")?.as_object()?;
    let timestamp_ms = match aws.get("Timestamp") {
        Some(t) => t.as_i64()?,
        None => now_ms,
    };
    let mut out = Vec::new();
    for directive in aws.get("CloudWatchMetrics")?.as_array()? {
        let directive = directive.as_object()?;
        let namespace = directive.get("Namespace")?.as_str()?;
        if namespace.is_empty() || namespace.starts_with(':') || namespace.len() > 255 {
            return None;
        }
        let mut sets = Vec::new();
        for set in directive.get("Dimensions")?.as_array()? {
            let names = set.as_array()?;
            if names.len() > MAX_DIMENSIONS {
                return None;
            }
            let mut dims = Vec::with_capacity(names.len());
            for name in names {
                let name = name.as_str()?;
                let value = root.get(name)?.as_str()?;
                dims.push((name.to_string(), value.to_string()));
            }
            dims.sort();
            dims.dedup_by(|a, b| a.0 == b.0);
            sets.push(dims);
        }
        if sets.is_empty() {
            sets.push(Vec::new());
        }
        let metrics = directive.get("Metrics")?.as_array()?;
        if metrics.len() > MAX_METRICS {
            return None;
        }
        for metric in metrics {
            let metric = metric.as_object()?;
            let name = metric.get("Name")?.as_str()?;
            let unit = match metric.get("Unit") {
                Some(u) => {
                    let u = u.as_str()?;
                    UNITS.iter().find(|k| **k == u)?
                }
                None => "None",
            };
            let values = match root.get(name)? {
                Value::Array(a) if a.len() <= MAX_VALUES => {
                    a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>()?
                }
                v => vec![v.as_f64()?],
            };
            let sample = Sample::Values(values.into_iter().map(|v| (v, 1.0)).collect());
            for dims in &sets {
                out.push(Datum {
                    series: MetricSeries {
                        namespace: namespace.into(),
                        name: name.into(),
                        dimensions: dims.clone(),
                        unit: unit.to_string(),
                    },
                    timestamp_ms,
                    sample: sample.clone(),
                });
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What aws-lambda-powertools' Metrics prints.
    const POWERTOOLS: &str = r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"Shop","Dimensions":[["service"]],"Metrics":[{"Name":"Orders","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]},"service":"checkout","Orders":[1.0,2.0],"Latency":12.5,"requestId":"x"}"#;

    #[test]
    fn a_powertools_line_becomes_its_metrics() {
        assert!(may_be_emf(POWERTOOLS));
        let data = parse(POWERTOOLS, 5);
        assert_eq!(data.len(), 2);
        let orders = &data[0];
        assert_eq!(orders.series.namespace, "Shop");
        assert_eq!(orders.series.name, "Orders");
        assert_eq!(orders.series.unit, "Count");
        assert_eq!(
            orders.series.dimensions,
            vec![("service".to_string(), "checkout".to_string())]
        );
        assert_eq!(orders.timestamp_ms, 1_700_000_000_000);
        assert_eq!(orders.sample, Sample::Values(vec![(1.0, 1.0), (2.0, 1.0)]));
        assert_eq!(data[1].sample, Sample::Values(vec![(12.5, 1.0)]));
    }

    #[test]
    fn lines_that_are_not_emf_make_nothing() {
        assert!(!may_be_emf("START RequestId: x"));
        assert!(!may_be_emf(r#"{"level":"INFO","message":"hi"}"#));
        for bad in [
            "{\"_aws\": 1}",
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["d"]],"Metrics":[{"Name":"m"}]}]},"m":1}"#,
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m","Unit":"Parsecs"}]}]},"m":1}"#,
            r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"m"}]}]},"m":"one"}"#,
            "{\"_aws\": {",
        ] {
            assert!(parse(bad, 0).is_empty(), "{bad}");
        }
        let undated = r#"{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[],"Metrics":[{"Name":"m"}]}]},"m":3}"#;
        let data = parse(undated, 77);
        assert_eq!(
            (data[0].timestamp_ms, data[0].series.unit.as_str()),
            (77, "None")
        );
    }
}
