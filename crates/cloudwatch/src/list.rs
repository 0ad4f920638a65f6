//! ListMetrics: the series stored, filtered and paged as AWS pages them (500 a page).

use crate::error::CloudWatchError;
use crate::value::{In, Value};
use crate::{CloudWatch, dimensions_value, now_ms};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Metrics on one page.
const PAGE: usize = 500;
/// Metrics without a datapoint for two weeks are not listed; `RecentlyActive=PT3H` lists
/// only those with one in the last three hours.
const LISTED_MS: i64 = 14 * 24 * 3600 * 1000;
const RECENT_MS: i64 = 3 * 3600 * 1000;

/// A listed metric's place in the order, which a token names (the last one returned).
type Key = (String, String, String);

fn token(key: &Key) -> String {
    STANDARD.encode(serde_json::json!([key.0, key.1, key.2]).to_string())
}

fn read_token(token: &str) -> Option<Key> {
    let bytes = STANDARD.decode(token).ok()?;
    let (a, b, c): (String, String, String) = serde_json::from_slice(&bytes).ok()?;
    Some((a, b, c))
}

pub(crate) async fn list(
    cw: &CloudWatch,
    input: &In<'_>,
) -> Result<Option<Value>, CloudWatchError> {
    let namespace = input.field("Namespace").opt_string(1, 255)?;
    let name = input.field("MetricName").opt_string(1, 255)?;
    let mut filters = Vec::new();
    for f in input.field("Dimensions").items_at_most(10)? {
        let dim = f.field("Name").string(1, 255)?;
        let value = f.field("Value").opt_string(1, 1024)?;
        filters.push((dim, value));
    }
    let recent = input.field("RecentlyActive").opt_enum(&["PT3H"])?.is_some();
    let after = match input.field("NextToken").opt_str()? {
        Some(t) => Some(read_token(t).ok_or_else(|| {
            CloudWatchError::InvalidParameterValue(format!(
                "The value {t} for parameter NextToken is invalid."
            ))
        })?),
        None => None,
    };
    cw.metrics
        .flush()
        .await
        .map_err(CloudWatchError::internal)?;
    let series = cw
        .metrics
        .series(namespace, name)
        .await
        .map_err(CloudWatchError::internal)?;
    let since = now_ms() - if recent { RECENT_MS } else { LISTED_MS };
    let mut keys: Vec<(Key, &[(String, String)])> = Vec::new();
    for (s, last_ms) in &series {
        let matches = filters.iter().all(|(n, v)| {
            s.dimensions
                .iter()
                .any(|(dn, dv)| dn == n && v.is_none_or(|v| v == dv))
        });
        if *last_ms < since || !matches {
            continue;
        }
        let key = (
            s.namespace.clone(),
            s.name.clone(),
            serde_json::to_string(&s.dimensions).unwrap_or_default(),
        );
        // Series that differ only by unit are one metric.
        if keys.last().is_none_or(|(k, _)| *k != key) {
            keys.push((key, &s.dimensions));
        }
    }
    let start = after.map_or(0, |a| keys.partition_point(|(k, _)| *k <= a));
    let page = &keys[start.min(keys.len())..(start + PAGE).min(keys.len())];
    let metrics = page
        .iter()
        .map(|((namespace, name, _), dims)| {
            Value::object([
                ("Namespace", Value::str(namespace.as_str())),
                ("MetricName", Value::str(name.as_str())),
                ("Dimensions", dimensions_value(dims)),
            ])
        })
        .collect();
    let next = (start + PAGE < keys.len())
        .then(|| page.last().map(|(k, _)| Value::Str(token(k))))
        .flatten()
        .unwrap_or(Value::Null);
    Ok(Some(Value::object([
        ("Metrics", Value::List(metrics)),
        ("NextToken", next),
    ])))
}
