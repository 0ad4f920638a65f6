//! PutMetricData: custom metrics, with AWS's limits and validation.

use crate::error::CloudWatchError;
use crate::value::{In, Value};
use crate::{CloudWatch, dimensions, now_ms};
use ignis_metrics::{Datum, MetricSeries, Sample, UNITS};

/// Datums in one request, values in one datum, dimensions of one metric (AWS's limits).
const MAX_DATA: usize = 1000;
const MAX_VALUES: usize = 150;
pub(crate) const MAX_DIMENSIONS: usize = 30;
/// A datapoint may be dated up to two weeks back and two hours ahead.
const PAST_MS: i64 = 14 * 24 * 3600 * 1000;
const FUTURE_MS: i64 = 2 * 3600 * 1000;
/// CloudWatch rejects values of a magnitude outside these (but takes zero).
const SMALLEST: f64 = 8.515_920e-109;
const LARGEST: f64 = 1.174_271e108;

fn check_value(path: &str, v: f64) -> Result<f64, CloudWatchError> {
    let magnitude = v.abs();
    if !v.is_finite() || (magnitude != 0.0 && !(SMALLEST..=LARGEST).contains(&magnitude)) {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The value {v} for parameter {path} is invalid."
        )));
    }
    Ok(v)
}

fn combination(a: &str, b: &str) -> CloudWatchError {
    CloudWatchError::InvalidParameterCombination(format!(
        "The parameters {a} and {b} are mutually exclusive and you have specified both."
    ))
}

fn datum(namespace: &str, d: &In<'_>, now: i64) -> Result<Datum, CloudWatchError> {
    let name = d.field("MetricName").string(1, 255)?;
    let dims = dimensions(&d.field("Dimensions"), MAX_DIMENSIONS)?;
    let unit = d.field("Unit").opt_enum(&UNITS)?.unwrap_or("None");
    let timestamp = d.field("Timestamp");
    let timestamp_ms = timestamp.opt_time_ms()?.unwrap_or(now);
    if timestamp_ms < now - PAST_MS || timestamp_ms > now + FUTURE_MS {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The parameter {} must specify a time within the past two weeks and no more than two hours in the future.",
            timestamp.path
        )));
    }
    let resolution = d.field("StorageResolution");
    if let Some(r) = resolution.opt_i64()?
        && r != 1
        && r != 60
    {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The value {r} for parameter {} is invalid: it must be 1 or 60.",
            resolution.path
        )));
    }
    let (value, values, counts, set) = (
        d.field("Value"),
        d.field("Values"),
        d.field("Counts"),
        d.field("StatisticValues"),
    );
    let given: Vec<&In<'_>> = [&value, &values, &set]
        .into_iter()
        .filter(|f| f.present())
        .collect();
    if let [a, b, ..] = given[..] {
        return Err(combination(&a.path, &b.path));
    }
    if counts.present() && !values.present() {
        return Err(CloudWatchError::InvalidParameterCombination(format!(
            "The parameter {} requires {}.",
            counts.path, values.path
        )));
    }
    let sample = if value.present() {
        Sample::Values(vec![(check_value(&value.path, value.f64()?)?, 1.0)])
    } else if values.present() {
        let vs = values.items_at_most(MAX_VALUES)?;
        let cs = counts.items_at_most(MAX_VALUES)?;
        if counts.present() && cs.len() != vs.len() {
            return Err(CloudWatchError::InvalidParameterValue(format!(
                "The parameters {} and {} must be of the same size.",
                values.path, counts.path
            )));
        }
        let mut out = Vec::with_capacity(vs.len());
        for (i, v) in vs.iter().enumerate() {
            let count = match cs.get(i) {
                Some(c) => check_value(&c.path, c.f64()?)?,
                None => 1.0,
            };
            out.push((check_value(&v.path, v.f64()?)?, count));
        }
        Sample::Values(out)
    } else if set.present() {
        let field = |n: &str| -> Result<f64, CloudWatchError> {
            let f = set.field(n);
            check_value(&f.path, f.f64()?)
        };
        let (count, sum, min, max) = (
            field("SampleCount")?,
            field("Sum")?,
            field("Minimum")?,
            field("Maximum")?,
        );
        if count <= 0.0 || min > max {
            return Err(CloudWatchError::InvalidParameterValue(format!(
                "The parameter {} must have a positive SampleCount and a Minimum no greater than its Maximum.",
                set.path
            )));
        }
        Sample::Set {
            count,
            sum,
            min,
            max,
        }
    } else {
        return Err(CloudWatchError::MissingParameter(format!(
            "The parameter {}.Value, {}.Values or {}.StatisticValues is required.",
            d.path, d.path, d.path
        )));
    };
    Ok(Datum {
        series: MetricSeries {
            namespace: namespace.to_string(),
            name: name.to_string(),
            dimensions: dims,
            unit: unit.to_string(),
        },
        timestamp_ms,
        sample,
    })
}

pub(crate) async fn put(cw: &CloudWatch, input: &In<'_>) -> Result<Option<Value>, CloudWatchError> {
    let namespace_field = input.field("Namespace");
    let namespace = namespace_field.string(1, 255)?;
    if namespace.starts_with(':') || namespace.starts_with("AWS/") {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The value {namespace} for parameter Namespace is invalid."
        )));
    }
    if input.field("EntityMetricData").present() {
        return Err(CloudWatchError::InvalidParameterValue(
            "The parameter EntityMetricData is not supported by Ignis yet.".into(),
        ));
    }
    let data = input.field("MetricData");
    if !data.present() {
        return Err(CloudWatchError::MissingParameter(
            "The parameter MetricData is required.".into(),
        ));
    }
    let now = now_ms();
    let data = data
        .items_at_most(MAX_DATA)?
        .iter()
        .map(|d| datum(namespace, d, now))
        .collect::<Result<Vec<_>, _>>()?;
    cw.metrics
        .put(data)
        .await
        .map_err(CloudWatchError::internal)?;
    Ok(None)
}
