//! Bucket notification configurations (the Lambda part of `PutBucketNotificationConfiguration`)
//! and the S3 event records delivered to functions. Pure logic: no I/O.
//!
//! [`validate`] turns what a client put into the stored [`BucketNotifications`], checking it as
//! S3 does, in S3's order: each configuration (its ARN, events, filter rules), then overlaps
//! between configurations, then (through the caller's callback) that each destination function
//! exists and lets `s3.amazonaws.com` invoke it. [`BucketNotifications::to_dto`] gives back what
//! was put, with the ids S3 would have generated. [`event::event_record`] builds the JSON S3
//! sends to a function.

pub mod event;

pub use event::{EventFacts, Sequencer, event_record, url_encode_key};

use s3s::dto::{
    FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};
use s3s::{S3Error, S3ErrorCode};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// The event names a Lambda configuration may name (the `s3:` form S3's API uses).
pub const EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
];

/// S3's message for a destination it could not validate.
pub const UNABLE_TO_VALIDATE: &str = "Unable to validate the following destination configurations";
/// S3's message for two configurations that share an event type and have no filters.
pub const CONFIGURATIONS_OVERLAP: &str =
    "Configurations overlap. Configurations on the same bucket cannot share a common event type.";
/// S3's message for two configurations that share an event type and whose filters can both
/// match one key.
pub const AMBIGUOUS: &str = "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.";

/// The longest configuration id S3 accepts.
const MAX_ID: usize = 255;
/// The longest filter rule value S3 accepts, in UTF-8 bytes.
const MAX_FILTER_VALUE: usize = 1024;

/// A refused notification configuration: an S3 error code, S3's message, and the
/// `ArgumentName`/`ArgumentValue` details S3 adds to the error body (for destinations,
/// numbered: `ArgumentName1`, `ArgumentValue1`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct NotifyError {
    /// The S3 error code (`InvalidArgument`, `MalformedXML`).
    pub code: S3ErrorCode,
    /// The message, exactly as S3 words it.
    pub message: String,
    /// `(ArgumentName, ArgumentValue)` pairs, in order.
    pub arguments: Vec<(String, String)>,
}

impl NotifyError {
    fn invalid(message: impl Into<String>) -> NotifyError {
        NotifyError {
            code: S3ErrorCode::InvalidArgument,
            message: message.into(),
            arguments: Vec::new(),
        }
    }

    fn with_argument(mut self, name: impl Into<String>, value: impl Into<String>) -> NotifyError {
        self.arguments.push((name.into(), value.into()));
        self
    }
}

/// `s3s` errors carry a code and a message only: the argument details are dropped (they stay
/// available on [`NotifyError`] for logs).
impl From<NotifyError> for S3Error {
    fn from(e: NotifyError) -> S3Error {
        S3Error::with_message(e.code, e.message)
    }
}

/// What the caller found about a destination function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestinationCheck {
    /// The function exists and its policy lets `s3.amazonaws.com` invoke it for this bucket.
    Ok,
    /// There is no such function (or version, or alias).
    NotFound,
    /// The function's policy does not allow S3 to invoke it for this bucket.
    NotAuthorized,
}

/// Which end of a key a filter rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RuleKind {
    Prefix,
    Suffix,
}

/// One key filter rule, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRule {
    pub kind: RuleKind,
    pub value: String,
}

/// One `LambdaFunctionConfiguration`, validated, with its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaNotification {
    /// The configuration id: the client's, or one generated as S3 generates them.
    pub id: String,
    /// The function ARN as the client gave it (qualified or not).
    pub function_arn: String,
    /// The event names (`s3:ObjectCreated:Put`, …), in the client's order.
    pub events: Vec<String>,
    /// The key filter's rules in the client's order: at most one prefix and one suffix.
    pub rules: Vec<KeyRule>,
}

impl LambdaNotification {
    fn rule(&self, kind: RuleKind) -> &str {
        self.rules
            .iter()
            .find(|r| r.kind == kind)
            .map_or("", |r| r.value.as_str())
    }

    /// The prefix rule's value, `""` without one.
    pub fn prefix(&self) -> &str {
        self.rule(RuleKind::Prefix)
    }

    /// The suffix rule's value, `""` without one.
    pub fn suffix(&self) -> &str {
        self.rule(RuleKind::Suffix)
    }

    /// Whether an event (`ObjectCreated:Put` or `s3:ObjectCreated:Put`) on `key` is one this
    /// configuration asks for.
    pub fn matches(&self, event_name: &str, key: &str) -> bool {
        let event = event_name.strip_prefix("s3:").unwrap_or(event_name);
        self.events
            .iter()
            .any(|e| event_covers(e.strip_prefix("s3:").unwrap_or(e), event))
            && key.starts_with(self.prefix())
            && key.ends_with(self.suffix())
    }
}

/// Whether configured event `configured` (without `s3:`) covers event `event`.
fn event_covers(configured: &str, event: &str) -> bool {
    match configured.strip_suffix('*') {
        Some(family) => event.starts_with(family),
        None => configured == event,
    }
}

/// Whether two configured events can both match one event.
fn events_overlap(a: &str, b: &str) -> bool {
    let a = a.strip_prefix("s3:").unwrap_or(a);
    let b = b.strip_prefix("s3:").unwrap_or(b);
    event_covers(a, b) || event_covers(b, a)
}

/// A bucket's notification configuration, as stored (serde): its Lambda configurations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketNotifications {
    pub lambda: Vec<LambdaNotification>,
}

impl BucketNotifications {
    /// Whether notifications are off for the bucket.
    pub fn is_empty(&self) -> bool {
        self.lambda.is_empty()
    }

    /// The configurations that ask for `event_name` (with or without `s3:`) on `key`, as
    /// `(configuration id, function ARN)`.
    pub fn matching(&self, event_name: &str, key: &str) -> Vec<(&str, &str)> {
        self.lambda
            .iter()
            .filter(|c| c.matches(event_name, key))
            .map(|c| (c.id.as_str(), c.function_arn.as_str()))
            .collect()
    }

    /// What `GetBucketNotificationConfiguration` returns: what was put, with generated ids, and
    /// filter rule names as S3 writes them (`Prefix`, `Suffix`).
    pub fn to_dto(&self) -> NotificationConfiguration {
        let lambda = self
            .lambda
            .iter()
            .map(|c| LambdaFunctionConfiguration {
                events: c.events.iter().cloned().map(Into::into).collect(),
                filter: (!c.rules.is_empty()).then(|| NotificationConfigurationFilter {
                    key: Some(S3KeyFilter {
                        filter_rules: Some(
                            c.rules
                                .iter()
                                .map(|r| FilterRule {
                                    name: Some(FilterRuleName::from_static(match r.kind {
                                        RuleKind::Prefix => "Prefix",
                                        RuleKind::Suffix => "Suffix",
                                    })),
                                    value: Some(r.value.clone()),
                                })
                                .collect(),
                        ),
                    }),
                }),
                id: Some(c.id.clone()),
                lambda_function_arn: c.function_arn.clone(),
            })
            .collect::<Vec<_>>();
        NotificationConfiguration {
            lambda_function_configurations: (!lambda.is_empty()).then_some(lambda),
            ..NotificationConfiguration::default()
        }
    }
}

/// An id as S3 generates one for a configuration without: the base64 of a random UUID's text.
fn generated_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().to_string())
}

/// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
fn is_function_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let qualifier_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_$".contains(c))
    };
    matches!(parts.as_slice(),
        ["arn", partition, "lambda", region, account, "function", name, rest @ ..]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && name_ok(name)
                && match rest { [] => true, [q] => qualifier_ok(q), _ => false })
}

fn unsupported(kind: &str, service: &str) -> NotifyError {
    NotifyError::invalid(format!(
        "Ignis does not deliver event notifications to {service} yet: only LambdaFunctionConfiguration destinations are supported, not {kind}."
    ))
}

fn parse_rules(
    filter: Option<&NotificationConfigurationFilter>,
) -> Result<Vec<KeyRule>, NotifyError> {
    let rules = filter
        .and_then(|f| f.key.as_ref())
        .and_then(|k| k.filter_rules.as_ref());
    let mut out: Vec<KeyRule> = Vec::new();
    for rule in rules.into_iter().flatten() {
        let name = rule.name.as_ref().map(FilterRuleName::as_str).unwrap_or("");
        let kind = if name.eq_ignore_ascii_case("prefix") {
            RuleKind::Prefix
        } else if name.eq_ignore_ascii_case("suffix") {
            RuleKind::Suffix
        } else {
            return Err(
                NotifyError::invalid("filter rule name must be either prefix or suffix")
                    .with_argument("FilterRule", name),
            );
        };
        if out.iter().any(|r| r.kind == kind) {
            let word = match kind {
                RuleKind::Prefix => "prefix",
                RuleKind::Suffix => "suffix",
            };
            return Err(NotifyError::invalid(format!(
                "Cannot specify more than one {word} rule in a filter."
            ))
            .with_argument("FilterRule", word));
        }
        let value = rule.value.clone().unwrap_or_default();
        if value.len() > MAX_FILTER_VALUE {
            return Err(NotifyError::invalid(
                "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation",
            ));
        }
        out.push(KeyRule { kind, value });
    }
    Ok(out)
}

/// Checks one configuration on its own; its id stays empty when the client gave none.
fn parse_one(c: &LambdaFunctionConfiguration) -> Result<LambdaNotification, NotifyError> {
    let id = c.id.clone().unwrap_or_default();
    if id.len() > MAX_ID {
        return Err(NotifyError::invalid(
            "ID length exceeded allowed limit of 255",
        ));
    }
    if !is_function_arn(&c.lambda_function_arn) {
        return Err(NotifyError::invalid("The ARN is not well formed")
            .with_argument("CloudFunction", c.lambda_function_arn.clone()));
    }
    if c.events.is_empty() {
        return Err(NotifyError {
            code: S3ErrorCode::MalformedXML,
            message: "The XML you provided was not well-formed or did not validate against our published schema".into(),
            arguments: Vec::new(),
        });
    }
    let mut events = Vec::with_capacity(c.events.len());
    for e in &c.events {
        let e: &str = e.as_ref();
        if !EVENTS.contains(&e) {
            return Err(
                NotifyError::invalid("The event is not supported for notifications")
                    .with_argument("Event", e),
            );
        }
        events.push(e.to_string());
    }
    Ok(LambdaNotification {
        id,
        function_arn: c.lambda_function_arn.clone(),
        events,
        rules: parse_rules(c.filter.as_ref())?,
    })
}

/// Two configurations can both match one key exactly when one prefix starts the other and one
/// suffix ends the other (an absent rule is the empty string).
fn filters_overlap(a: &LambdaNotification, b: &LambdaNotification) -> bool {
    let (pa, pb, sa, sb) = (a.prefix(), b.prefix(), a.suffix(), b.suffix());
    (pa.starts_with(pb) || pb.starts_with(pa)) && (sa.ends_with(sb) || sb.ends_with(sa))
}

fn check_overlaps(configs: &[LambdaNotification]) -> Result<(), NotifyError> {
    for (i, a) in configs.iter().enumerate() {
        for b in &configs[..i] {
            let shared = a
                .events
                .iter()
                .flat_map(|ea| b.events.iter().map(move |eb| (ea, eb)))
                .find(|(ea, eb)| events_overlap(ea, eb));
            let Some((ea, eb)) = shared else { continue };
            if !filters_overlap(a, b) {
                continue;
            }
            let message = if a.rules.is_empty() && b.rules.is_empty() {
                CONFIGURATIONS_OVERLAP
            } else {
                AMBIGUOUS
            };
            return Err(NotifyError::invalid(message).with_argument("Event", format!("{eb}, {ea}")));
        }
    }
    Ok(())
}

/// Validates what `PutBucketNotificationConfiguration` was given, as S3 does, and returns the
/// form to store. `check` is asked about each distinct destination function ARN, once, after
/// everything else holds; every failing destination is reported (S3's `ArgumentName<n>` is
/// `"<arn>, <id or null>"`, its `ArgumentValue<n>` the reason).
///
/// Queue, topic and EventBridge configurations are refused: Ignis does not deliver to them yet.
pub async fn validate<F, Fut>(
    config: &NotificationConfiguration,
    mut check: F,
) -> Result<BucketNotifications, NotifyError>
where
    F: FnMut(&str) -> Fut,
    Fut: Future<Output = DestinationCheck>,
{
    if let Some(q) = config.queue_configurations.as_ref().and_then(|q| q.first()) {
        return Err(unsupported("QueueConfiguration", "Amazon SQS queues")
            .with_argument("Queue", q.queue_arn.clone()));
    }
    if let Some(t) = config.topic_configurations.as_ref().and_then(|t| t.first()) {
        return Err(unsupported("TopicConfiguration", "Amazon SNS topics")
            .with_argument("Topic", t.topic_arn.clone()));
    }
    if config.event_bridge_configuration.is_some() {
        return Err(unsupported(
            "EventBridgeConfiguration",
            "Amazon EventBridge",
        ));
    }
    let mut lambda = config
        .lambda_function_configurations
        .iter()
        .flatten()
        .map(parse_one)
        .collect::<Result<Vec<_>, _>>()?;
    check_overlaps(&lambda)?;

    let mut failures = NotifyError::invalid(UNABLE_TO_VALIDATE);
    let mut checked: Vec<(String, DestinationCheck)> = Vec::new();
    for c in &lambda {
        let verdict = match checked.iter().find(|(arn, _)| *arn == c.function_arn) {
            Some((_, v)) => v.clone(),
            None => {
                let v = check(&c.function_arn).await;
                checked.push((c.function_arn.clone(), v.clone()));
                v
            }
        };
        let reason = match verdict {
            DestinationCheck::Ok => continue,
            DestinationCheck::NotAuthorized => {
                format!("Not authorized to invoke function [{}]", c.function_arn)
            }
            DestinationCheck::NotFound => {
                format!(
                    "The destination function does not exist [{}]",
                    c.function_arn
                )
            }
        };
        let id = if c.id.is_empty() { "null" } else { &c.id };
        failures = failures.with_argument(format!("{}, {id}", c.function_arn), reason);
    }
    if !failures.arguments.is_empty() {
        return Err(failures);
    }
    for c in &mut lambda {
        if c.id.is_empty() {
            c.id = generated_id();
        }
    }
    Ok(BucketNotifications { lambda })
}

#[cfg(test)]
mod tests;
