//! GetMetricStatistics and GetMetricData: a series' minutes gathered into periods and their
//! statistics (SampleCount, Average, Sum, Minimum, Maximum, and percentiles `pNN`/`pNN.NN`).

use crate::error::CloudWatchError;
use crate::put::MAX_DIMENSIONS;
use crate::value::{In, Value};
use crate::{CloudWatch, dimensions};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ignis_metrics::{Histogram, MINUTE_MS, Minute, UNITS};

const STATISTICS: [&str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
/// Datapoints one GetMetricStatistics may ask for.
const MAX_DATAPOINTS: i64 = 1440;
/// GetMetricData's limits: queries per request, and datapoints per page by default.
const MAX_QUERIES: usize = 500;
const DEFAULT_MAX_DATAPOINTS: usize = 100_800;

/// A statistic asked for.
#[derive(Debug, Clone, PartialEq)]
enum Stat {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    Percentile(f64),
}

impl Stat {
    fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "SampleCount" => Stat::SampleCount,
            "Average" => Stat::Average,
            "Sum" => Stat::Sum,
            "Minimum" => Stat::Minimum,
            "Maximum" => Stat::Maximum,
            _ => {
                let p = s.strip_prefix('p')?;
                let decimals = p.split_once('.').map_or(0, |(_, d)| d.len());
                let v: f64 = p.parse().ok()?;
                if decimals > 10 || !(0.0..=100.0).contains(&v) || p.starts_with('+') {
                    return None;
                }
                Stat::Percentile(v)
            }
        })
    }

    fn of(&self, a: &Aggregate) -> Option<f64> {
        Some(match self {
            Stat::SampleCount => a.count,
            Stat::Average => a.sum / a.count,
            Stat::Sum => a.sum,
            Stat::Minimum => a.min,
            Stat::Maximum => a.max,
            Stat::Percentile(p) => a.histogram.percentile(*p, a.min, a.max)?,
        })
    }
}

/// One period's minutes together.
struct Aggregate {
    start_ms: i64,
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    histogram: Histogram,
}

/// The minutes in periods of `period_ms` from `origin_ms`, in time order.
fn periods(minutes: Vec<Minute>, origin_ms: i64, period_ms: i64) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    for m in minutes {
        let start_ms = origin_ms + (m.minute_ms - origin_ms).div_euclid(period_ms) * period_ms;
        match out.last_mut() {
            Some(a) if a.start_ms == start_ms => {
                a.count += m.count;
                a.sum += m.sum;
                a.min = a.min.min(m.min);
                a.max = a.max.max(m.max);
                a.histogram.merge(&m.histogram);
            }
            _ => out.push(Aggregate {
                start_ms,
                count: m.count,
                sum: m.sum,
                min: m.min,
                max: m.max,
                histogram: m.histogram,
            }),
        }
    }
    out
}

/// Periods CloudWatch takes: 1, 5, 10, 30 or a multiple of 60 seconds. Datapoints are
/// stored per minute, so a shorter period answers per minute.
fn period_ms(field: &In<'_>) -> Result<i64, CloudWatchError> {
    let period = field.opt_i64()?.ok_or_else(|| {
        CloudWatchError::MissingParameter(format!("The parameter {} is required.", field.path))
    })?;
    if period < 1 || !(matches!(period, 1 | 5 | 10 | 30) || period % 60 == 0) {
        return Err(CloudWatchError::InvalidParameterValue(format!(
            "The parameter {} must be 1, 5, 10, 30, or a multiple of 60.",
            field.path
        )));
    }
    Ok((period * 1000).max(MINUTE_MS))
}

/// The time range, its start taken down to the minute.
fn range(input: &In<'_>) -> Result<(i64, i64), CloudWatchError> {
    let start = input.field("StartTime").time_ms()?;
    let end = input.field("EndTime").time_ms()?;
    if start >= end {
        return Err(CloudWatchError::InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime.".into(),
        ));
    }
    Ok((start.div_euclid(MINUTE_MS) * MINUTE_MS, end))
}

/// A metric, named in a request, read in its periods: each series of that name and
/// dimension set (of `unit`, when given), with its unit.
async fn read(
    cw: &CloudWatch,
    metric: &In<'_>,
    unit: Option<&str>,
    (start, end): (i64, i64),
    period_ms: i64,
) -> Result<(String, Vec<(String, Vec<Aggregate>)>), CloudWatchError> {
    let namespace = metric.field("Namespace").string(1, 255)?;
    let name = metric.field("MetricName").string(1, 255)?;
    let dims = dimensions(&metric.field("Dimensions"), MAX_DIMENSIONS)?;
    let all = cw
        .metrics
        .series(Some(namespace), Some(name))
        .await
        .map_err(CloudWatchError::internal)?;
    let mut out = Vec::new();
    for (series, _) in all {
        if series.dimensions != dims || unit.is_some_and(|u| u != series.unit) {
            continue;
        }
        let minutes = cw
            .metrics
            .minutes(&series, start, end)
            .await
            .map_err(CloudWatchError::internal)?;
        out.push((series.unit, periods(minutes, start, period_ms)));
    }
    Ok((name.to_string(), out))
}

pub(crate) async fn statistics(
    cw: &CloudWatch,
    input: &In<'_>,
) -> Result<Option<Value>, CloudWatchError> {
    let stats_field = input.field("Statistics");
    let extended_field = input.field("ExtendedStatistics");
    let mut stats = Vec::new();
    for s in stats_field.items_at_most(5)? {
        let stat = s
            .opt_enum(&STATISTICS)?
            .and_then(|name| Some((name, Stat::parse(name)?)));
        stats.push(stat.ok_or_else(|| {
            CloudWatchError::MissingParameter(format!("The parameter {} is required.", s.path))
        })?);
    }
    let mut extended = Vec::new();
    for s in extended_field.items_at_most(10)? {
        let name = s.opt_str()?.unwrap_or_default();
        let stat = Stat::parse(name)
            .filter(|s| matches!(s, Stat::Percentile(_)))
            .ok_or_else(|| {
                CloudWatchError::InvalidParameterValue(format!(
                    "The value {name} for parameter {} is not a valid percentile (p0.0 to p100).",
                    s.path
                ))
            })?;
        extended.push((name.to_string(), stat));
    }
    if stats.is_empty() == extended.is_empty() {
        return Err(CloudWatchError::InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics, but not both.".into(),
        ));
    }
    let unit = input.field("Unit").opt_enum(&UNITS)?;
    let period = period_ms(&input.field("Period"))?;
    let (start, end) = range(input)?;
    let asked = (end - start + period - 1) / period;
    if asked > MAX_DATAPOINTS {
        return Err(CloudWatchError::InvalidParameterCombination(format!(
            "You have requested up to {asked} datapoints, which exceeds the limit of 1,440. \
             You may reduce the datapoints requested by increasing Period, or decreasing the time range."
        )));
    }
    cw.metrics
        .flush()
        .await
        .map_err(CloudWatchError::internal)?;
    let (label, series) = read(cw, input, unit, (start, end), period).await?;
    let mut points: Vec<(i64, Value)> = Vec::new();
    for (unit, aggregates) in series {
        for a in aggregates {
            let mut members = vec![("Timestamp".to_string(), Value::Time(a.start_ms))];
            for (name, stat) in &stats {
                if let Some(v) = stat.of(&a) {
                    members.push((name.to_string(), Value::Float(v)));
                }
            }
            members.push(("Unit".into(), Value::str(unit.as_str())));
            let values: Vec<(String, Value)> = extended
                .iter()
                .filter_map(|(name, stat)| Some((name.clone(), Value::Float(stat.of(&a)?))))
                .collect();
            if !extended.is_empty() {
                members.push(("ExtendedStatistics".into(), Value::Map(values)));
            }
            points.push((a.start_ms, Value::Struct(members)));
        }
    }
    points.sort_by_key(|(t, _)| *t);
    Ok(Some(Value::object([
        ("Label", Value::Str(label)),
        (
            "Datapoints",
            Value::List(points.into_iter().map(|(_, v)| v).collect()),
        ),
    ])))
}

fn validation(message: String) -> CloudWatchError {
    CloudWatchError::Validation(message)
}

/// One query's answer, before paging.
struct Series {
    id: String,
    label: String,
    points: Vec<(i64, f64)>,
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) async fn data(
    cw: &CloudWatch,
    input: &In<'_>,
) -> Result<Option<Value>, CloudWatchError> {
    let queries = input.field("MetricDataQueries");
    if !queries.present() {
        return Err(CloudWatchError::MissingParameter(
            "The parameter MetricDataQueries is required.".into(),
        ));
    }
    let queries = queries.items_at_most(MAX_QUERIES)?;
    let (start, end) = range(input)?;
    let descending = input
        .field("ScanBy")
        .opt_enum(&["TimestampDescending", "TimestampAscending"])?
        != Some("TimestampAscending");
    let max = input
        .field("MaxDatapoints")
        .opt_i64()?
        .map_or(DEFAULT_MAX_DATAPOINTS, |m| {
            usize::try_from(m.max(1)).unwrap_or(usize::MAX)
        });
    let offset = match input.field("NextToken").opt_str()? {
        Some(t) => read_token(t).ok_or_else(|| {
            CloudWatchError::InvalidNextToken("The service couldn't process the token.".into())
        })?,
        None => 0,
    };
    cw.metrics
        .flush()
        .await
        .map_err(CloudWatchError::internal)?;
    let mut answers: Vec<Series> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for q in &queries {
        let id = q.field("Id").string(1, 255)?;
        if !valid_id(id) {
            return Err(validation(format!(
                "The value {id} for parameter {}.Id is invalid: it must start with a lower-case letter and hold only letters, digits and underscores.",
                q.path
            )));
        }
        if !ids.insert(id) {
            return Err(validation(
                "The values for parameter id in MetricDataQueries must be unique.".into(),
            ));
        }
        let (stat_field, expression) = (q.field("MetricStat"), q.field("Expression"));
        if stat_field.present() == expression.present() {
            return Err(validation(format!(
                "Exactly one of {}.MetricStat and {}.Expression must be given.",
                q.path, q.path
            )));
        }
        if expression.present() {
            return Err(validation(format!(
                "{}.Expression: metric math expressions are not supported by Ignis yet.",
                q.path
            )));
        }
        let stat_name = stat_field.field("Stat").string(1, 255)?;
        let stat = Stat::parse(stat_name).ok_or_else(|| {
            validation(format!(
                "The value {stat_name} for parameter {}.MetricStat.Stat is not supported.",
                q.path
            ))
        })?;
        let period = period_ms(&stat_field.field("Period"))?;
        let unit = stat_field.field("Unit").opt_enum(&UNITS)?;
        let (name, series) =
            read(cw, &stat_field.field("Metric"), unit, (start, end), period).await?;
        let mut points: Vec<(i64, f64)> = series
            .into_iter()
            .flat_map(|(_, aggregates)| aggregates)
            .filter_map(|a| Some((a.start_ms, stat.of(&a)?)))
            .collect();
        points.sort_by_key(|(t, _)| *t);
        if descending {
            points.reverse();
        }
        if q.field("ReturnData").opt_bool()? != Some(false) {
            let label = q.field("Label").opt_str()?.unwrap_or(&name).to_string();
            answers.push(Series {
                id: id.to_string(),
                label,
                points,
            });
        }
    }
    // One page: `max` datapoints from `offset`, counted across the queries in order.
    let total: usize = answers.iter().map(|s| s.points.len()).sum();
    let mut skipped = 0;
    let mut room = max;
    let mut results = Vec::new();
    for s in answers {
        let skip = offset.saturating_sub(skipped).min(s.points.len());
        skipped += skip;
        let take = room.min(s.points.len() - skip);
        room -= take;
        skipped += take;
        let page = &s.points[skip..skip + take];
        let complete = skip + take == s.points.len();
        results.push(Value::object([
            ("Id", Value::Str(s.id)),
            ("Label", Value::Str(s.label)),
            (
                "Timestamps",
                Value::List(page.iter().map(|(t, _)| Value::Time(*t)).collect()),
            ),
            (
                "Values",
                Value::List(page.iter().map(|(_, v)| Value::Float(*v)).collect()),
            ),
            (
                "StatusCode",
                Value::str(if complete { "Complete" } else { "PartialData" }),
            ),
            ("Messages", Value::List(vec![])),
        ]));
    }
    let next = if offset + max < total {
        Value::Str(STANDARD.encode(format!("gmd:{}", offset + max)))
    } else {
        Value::Null
    };
    Ok(Some(Value::object([
        ("MetricDataResults", Value::List(results)),
        ("NextToken", next),
        ("Messages", Value::List(vec![])),
    ])))
}

fn read_token(token: &str) -> Option<usize> {
    let bytes = STANDARD.decode(token).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("gmd:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_and_percentiles_parse_as_cloudwatch_names_them() {
        assert_eq!(Stat::parse("p99"), Some(Stat::Percentile(99.0)));
        assert_eq!(Stat::parse("p99.9"), Some(Stat::Percentile(99.9)));
        assert_eq!(Stat::parse("Average"), Some(Stat::Average));
        for bad in ["p101", "p", "P50", "tm99", "p-1", "average"] {
            assert_eq!(Stat::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn minutes_gather_into_periods_from_the_start() {
        let m = |minute: i64, v: f64| {
            let mut histogram = Histogram::default();
            histogram.add(v, 1.0);
            Minute {
                minute_ms: minute * MINUTE_MS,
                count: 1.0,
                sum: v,
                min: v,
                max: v,
                histogram,
            }
        };
        let p = periods(
            vec![m(1, 1.0), m(4, 3.0), m(6, 10.0)],
            MINUTE_MS,
            5 * MINUTE_MS,
        );
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].start_ms, p[0].count, p[0].sum), (MINUTE_MS, 2.0, 4.0));
        assert_eq!(Stat::Average.of(&p[0]), Some(2.0));
        assert_eq!(Stat::Maximum.of(&p[0]), Some(3.0));
        assert_eq!(Stat::Percentile(100.0).of(&p[0]), Some(3.0));
        assert_eq!((p[1].start_ms, p[1].max), (6 * MINUTE_MS, 10.0));
    }
}
