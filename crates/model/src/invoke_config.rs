//! Asynchronous invocation configuration (`EventInvokeConfig`): per function and qualifier
//! (`$LATEST`, a published version or an alias), how often a failed event is retried, how old
//! it may grow, and where the record of its outcome goes.
//!
//! Destinations are ARNs; [`Destination::parse`] says which kind Ignis can deliver to (an SQS
//! queue or another function) and which it refuses as not built (EventBridge, S3, SNS).

use serde::{Deserialize, Serialize};

/// `MaximumRetryAttempts`' bounds (botocore: 0 to 2) and Lambda's default.
pub const MAX_RETRIES: u32 = 2;
/// `MaximumEventAgeInSeconds`' bounds (botocore: 60 to 21600); the upper one is the default.
pub const MIN_EVENT_AGE: u32 = 60;
pub const MAX_EVENT_AGE: u32 = 21_600;

/// One stored configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInvokeConfig {
    pub function: String,
    /// `$LATEST`, a version number or an alias name.
    pub qualifier: String,
    pub last_modified_ms: i64,
    pub max_retries: Option<u32>,
    pub max_event_age: Option<u32>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
}

/// Where a destination ARN points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// `arn:aws:sqs:<region>:<account>:<name>`.
    Queue { arn: String },
    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`.
    Function {
        arn: String,
        name: String,
        qualifier: Option<String>,
    },
    /// A kind of destination AWS accepts and Ignis does not deliver to yet (its service name).
    NotBuilt(&'static str),
}

impl Destination {
    /// Reads a destination ARN; `None` when it names no kind of destination Lambda knows.
    pub fn parse(arn: &str) -> Option<Destination> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return None;
        };
        if prefix != "arn" || !partition.starts_with("aws") {
            return None;
        }
        let regional = !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit());
        match service {
            "sqs" if regional && valid_queue_name(resource) => Some(Destination::Queue {
                arn: arn.to_string(),
            }),
            "lambda" if regional => {
                let rest = resource.strip_prefix("function:")?;
                let (name, qualifier) = match rest.split_once(':') {
                    Some((n, q)) => (n, Some(q.to_string())),
                    None => (rest, None),
                };
                let name_ok = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                name_ok.then(|| Destination::Function {
                    arn: arn.to_string(),
                    name: name.to_string(),
                    qualifier,
                })
            }
            "events" if regional => Some(Destination::NotBuilt("EventBridge event bus")),
            "sns" if regional => Some(Destination::NotBuilt("Amazon SNS topic")),
            "s3" => Some(Destination::NotBuilt("Amazon S3 bucket")),
            _ => None,
        }
    }
}

/// An SQS queue name: 1 to 80 of `[A-Za-z0-9_-]`, with `.fifo` allowed at the end.
fn valid_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 80
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_told_apart() {
        assert_eq!(
            Destination::parse("arn:aws:sqs:us-east-1:123456789012:q-1.fifo"),
            Some(Destination::Queue {
                arn: "arn:aws:sqs:us-east-1:123456789012:q-1.fifo".into()
            })
        );
        assert_eq!(
            Destination::parse("arn:aws:lambda:us-east-1:123456789012:function:f:PROD"),
            Some(Destination::Function {
                arn: "arn:aws:lambda:us-east-1:123456789012:function:f:PROD".into(),
                name: "f".into(),
                qualifier: Some("PROD".into()),
            })
        );
        assert!(matches!(
            Destination::parse("arn:aws:events:us-east-1:123456789012:event-bus/default"),
            Some(Destination::NotBuilt(_))
        ));
        assert!(matches!(
            Destination::parse("arn:aws:s3:::bucket"),
            Some(Destination::NotBuilt(_))
        ));
        for bad in [
            "arn:aws:sqs:us-east-1:123:q",
            "arn:aws:sqs:us-east-1:123456789012:",
            "arn:aws:lambda:us-east-1:123456789012:layer:l",
            "arn:aws:dynamodb:us-east-1:123456789012:table/t",
            "not-an-arn",
        ] {
            assert_eq!(Destination::parse(bad), None, "{bad}");
        }
    }
}
