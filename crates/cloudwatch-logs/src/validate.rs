//! The model's constraints on what a request carries, answered as CloudWatch Logs answers them:
//! `InvalidParameterException` with "1 validation error detected: …" (AWS's own wording, as its
//! recordings show; a name over 512 characters has a message of its own).

use crate::LogsError;
use std::collections::BTreeMap;

/// Retention periods AWS accepts, in days.
pub const RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

fn detected(value: &str, field: &str, constraint: &str) -> LogsError {
    LogsError::InvalidParameter(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
         {constraint}"
    ))
}

fn name_too_long() -> LogsError {
    LogsError::InvalidParameter(
        "Invalid LogGroup or LogStream, both must have length less than or equal to 512.".into(),
    )
}

/// `LogGroupName`: 1-512 of `[\.\-_/#A-Za-z0-9]`.
pub fn group_name(field: &str, name: &str) -> Result<(), LogsError> {
    if name.len() > 512 {
        return Err(name_too_long());
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || ".-_/#".contains(c);
    if name.is_empty() || !name.chars().all(ok) {
        return Err(detected(
            name,
            field,
            "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+",
        ));
    }
    Ok(())
}

/// `LogStreamName`: 1-512 characters, none of `:` and `*`.
pub fn stream_name(field: &str, name: &str) -> Result<(), LogsError> {
    if name.chars().count() > 512 {
        return Err(name_too_long());
    }
    if name.is_empty() {
        return Err(detected(
            name,
            field,
            "Member must have length greater than or equal to 1",
        ));
    }
    if name.contains([':', '*']) {
        return Err(detected(
            name,
            field,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

/// An integer within `min..=max`.
pub fn range(field: &str, value: i64, min: i64, max: i64) -> Result<(), LogsError> {
    if value < min {
        return Err(detected(
            &value.to_string(),
            field,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > max {
        return Err(detected(
            &value.to_string(),
            field,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    Ok(())
}

/// A timestamp: at least 0.
pub fn timestamp(field: &str, value: Option<i64>) -> Result<(), LogsError> {
    match value {
        Some(v) => range(field, v, 0, i64::MAX),
        None => Ok(()),
    }
}

pub fn retention(days: i64) -> Result<u32, LogsError> {
    match RETENTION_DAYS.iter().find(|d| i64::from(**d) == days) {
        Some(d) => Ok(*d),
        None => {
            let set: Vec<String> = RETENTION_DAYS.iter().map(u32::to_string).collect();
            Err(detected(
                &days.to_string(),
                "retentionInDays",
                &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
            ))
        }
    }
}

fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

pub fn tag_key(field: &str, key: &str) -> Result<(), LogsError> {
    let n = key.chars().count();
    if n == 0 || n > 128 || !key.chars().all(tag_char) {
        return Err(detected(
            key,
            field,
            "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$",
        ));
    }
    Ok(())
}

/// `Tags`: 1-50 keys and values as the model says.
pub fn tags(tags: &BTreeMap<String, String>) -> Result<(), LogsError> {
    if tags.is_empty() || tags.len() > 50 {
        return Err(detected(
            "{…}",
            "tags",
            "Member must have length less than or equal to 50",
        ));
    }
    for (k, v) in tags {
        tag_key("tags", k)?;
        if v.chars().count() > 256 || !v.chars().all(tag_char) {
            return Err(detected(
                v,
                "tags",
                "Member must satisfy regular expression pattern: ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_model() {
        assert!(group_name("logGroupName", "/aws/lambda/f-1_#.x").is_ok());
        assert!(group_name("logGroupName", "a b").is_err());
        assert!(
            group_name("logGroupName", &"a".repeat(513))
                .unwrap_err()
                .to_string()
                .contains("512")
        );
        assert!(stream_name("logStreamName", "2024/01/01/[$LATEST]ab").is_ok());
        assert!(stream_name("logStreamName", "a:b").is_err());
        assert_eq!(
            range("limit", 10001, 1, 10000).unwrap_err().to_string(),
            "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: \
             Member must have value less than or equal to 10000"
        );
        assert_eq!(retention(7).unwrap(), 7);
        assert!(retention(2).is_err());
    }
}
