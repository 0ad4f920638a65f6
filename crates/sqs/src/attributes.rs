//! Queue attributes: which exist, their defaults and bounds (AWS's developer guide), which
//! only a FIFO queue has, and which are computed on read.

use crate::error::{Kind, SqsError};
use std::collections::BTreeMap;

/// The largest message (body and attributes) a queue takes, and the default.
pub const MAX_MESSAGE_BYTES: i64 = 262_144;

/// Settable attributes with their (default, min, max) when numeric.
const NUMERIC: &[(&str, i64, i64, i64)] = &[
    ("DelaySeconds", 0, 0, 900),
    (
        "MaximumMessageSize",
        MAX_MESSAGE_BYTES,
        1024,
        MAX_MESSAGE_BYTES,
    ),
    ("MessageRetentionPeriod", 345_600, 60, 1_209_600),
    ("ReceiveMessageWaitTimeSeconds", 0, 0, 20),
    ("VisibilityTimeout", 30, 0, 43_200),
    ("KmsDataKeyReusePeriodSeconds", 300, 60, 86_400),
];
/// Settable attributes kept as given.
const TEXT: &[&str] = &[
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "SqsManagedSseEnabled",
];
/// A FIFO queue's own attributes, with their defaults.
const FIFO: &[(&str, &str)] = &[
    ("FifoQueue", "true"),
    ("ContentBasedDeduplication", "false"),
    ("DeduplicationScope", "queue"),
    ("FifoThroughputLimit", "perQueue"),
];
/// Computed on read.
pub const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// The attributes of a new queue: the defaults, then those given (checked).
pub fn initial(
    given: &BTreeMap<String, String>,
    fifo_name: bool,
) -> Result<BTreeMap<String, String>, SqsError> {
    let mut out = BTreeMap::new();
    for (name, default, _, _) in NUMERIC {
        out.insert(name.to_string(), default.to_string());
    }
    out.insert("SqsManagedSseEnabled".into(), "true".into());
    let fifo = match given.get("FifoQueue").map(String::as_str) {
        Some("true") => true,
        None | Some("false") => false,
        Some(_) => return Err(bad_value("FifoQueue")),
    };
    if fifo != fifo_name {
        return Err(SqsError::invalid(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or \
             underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ));
    }
    if fifo {
        for (name, default) in FIFO {
            out.insert(name.to_string(), default.to_string());
        }
    }
    apply(&mut out, given, fifo, true)?;
    Ok(out)
}

/// Sets `given` on `attributes` after checking each (SetQueueAttributes; CreateQueue too).
pub fn apply(
    attributes: &mut BTreeMap<String, String>,
    given: &BTreeMap<String, String>,
    fifo: bool,
    creating: bool,
) -> Result<(), SqsError> {
    for (name, value) in given {
        if let Some((_, _, min, max)) = NUMERIC.iter().find(|(n, ..)| n == name) {
            match value.parse::<i64>() {
                Ok(v) if (*min..=*max).contains(&v) => {}
                _ => return Err(bad_value(name)),
            }
        } else if TEXT.contains(&name.as_str()) {
            check_text(name, value)?;
        } else if FIFO.iter().any(|(n, _)| n == name) {
            if !fifo {
                return Err(SqsError::new(
                    Kind::InvalidAttributeName,
                    format!("Unknown Attribute {name}."),
                ));
            }
            if name == "FifoQueue" && !creating {
                return Err(bad_value(name));
            }
            let ok = match name.as_str() {
                "DeduplicationScope" => ["queue", "messageGroup"].contains(&value.as_str()),
                "FifoThroughputLimit" => {
                    ["perQueue", "perMessageGroupId"].contains(&value.as_str())
                }
                _ => ["true", "false"].contains(&value.as_str()),
            };
            if !ok {
                return Err(bad_value(name));
            }
        } else {
            return Err(SqsError::new(
                Kind::InvalidAttributeName,
                format!("Unknown Attribute {name}."),
            ));
        }
    }
    for (name, value) in given {
        if value.is_empty() && TEXT.contains(&name.as_str()) {
            attributes.remove(name);
        } else {
            attributes.insert(name.clone(), value.clone());
        }
    }
    Ok(())
}

fn check_text(name: &str, value: &str) -> Result<(), SqsError> {
    if value.is_empty() {
        return Ok(());
    }
    match name {
        "RedrivePolicy" => {
            let v: serde_json::Value = serde_json::from_str(value).map_err(|_| bad_value(name))?;
            let arn = v.get("deadLetterTargetArn").and_then(|a| a.as_str());
            let count = match v.get("maxReceiveCount") {
                Some(serde_json::Value::String(s)) => s.parse::<i64>().ok(),
                Some(n) => n.as_i64(),
                None => None,
            };
            match (arn, count) {
                (Some(a), Some(c)) if a.starts_with("arn:aws:sqs:") && (1..=1000).contains(&c) => {
                    Ok(())
                }
                _ => Err(SqsError::new(
                    Kind::InvalidParameterValue,
                    format!(
                        "Value {value} for parameter RedrivePolicy is invalid. Reason: Redrive \
                         policy is not a valid JSON map or is missing deadLetterTargetArn or \
                         maxReceiveCount (1 to 1000)."
                    ),
                )),
            }
        }
        "RedriveAllowPolicy" => {
            let v: serde_json::Value = serde_json::from_str(value).map_err(|_| bad_value(name))?;
            match v.get("redrivePermission").and_then(|p| p.as_str()) {
                Some("allowAll" | "denyAll" | "byQueue") => Ok(()),
                _ => Err(bad_value(name)),
            }
        }
        "SqsManagedSseEnabled" if !["true", "false"].contains(&value) => Err(bad_value(name)),
        _ => Ok(()),
    }
}

fn bad_value(name: &str) -> SqsError {
    SqsError::new(
        Kind::InvalidAttributeValue,
        format!("Invalid value for the parameter {name}."),
    )
}

/// Whether `name` can be asked for in GetQueueAttributes.
pub fn known(name: &str) -> bool {
    name == "All"
        || NUMERIC.iter().any(|(n, ..)| *n == name)
        || TEXT.contains(&name)
        || FIFO.iter().any(|(n, _)| *n == name)
        || COMPUTED.contains(&name)
}
