//! Aliases: a name for a published version (or `$LATEST`), optionally routing a share of the
//! invocations to one more version.

use crate::arn::LATEST;
use crate::function::ValidationError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One alias of a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub function_name: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    /// `AdditionalVersionWeights`: at most one version, weight in [0, 1].
    pub routing: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// Checks an alias name: `(?!^[0-9]+$)([a-zA-Z0-9-_]+)`, 1–128 characters.
pub fn validate_alias_name(name: &str) -> Result<(), ValidationError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(ValidationError::pattern(
            "name",
            name,
            "(?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        ))
    }
}

impl Alias {
    /// Checks the routing rules: one extra version at most, weights in [0, 1], never `$LATEST`
    /// on either side of a split, and never the primary version itself.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_alias_name(&self.name)?;
        if self.description.chars().count() > crate::limits::MAX_DESCRIPTION_CHARS {
            return Err(ValidationError::InvalidParameter(
                "Description must be at most 256 characters.".into(),
            ));
        }
        if self.routing.len() > 1 {
            return Err(ValidationError::InvalidParameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1".into(),
            ));
        }
        for (version, weight) in &self.routing {
            if !(0.0..=1.0).contains(weight) || weight.is_nan() {
                return Err(ValidationError::Constraint {
                    field: "routingConfig.additionalVersionWeights",
                    value: weight.to_string(),
                    constraint: "Member must have value between 0.0 and 1.0".into(),
                });
            }
            if version == LATEST || self.function_version == LATEST {
                return Err(ValidationError::InvalidParameter(
                    "$LATEST is not supported for an alias pointing to more than 1 version".into(),
                ));
            }
            if *version == self.function_version {
                return Err(ValidationError::InvalidParameter(format!(
                    "Invalid function version {version}. Function version {version} is already included in routing configuration."
                )));
            }
        }
        Ok(())
    }

    /// The version an invocation runs, given a uniform sample `r` in [0, 1).
    pub fn choose(&self, r: f64) -> &str {
        match self.routing.iter().next() {
            Some((extra, weight)) if r < *weight => extra,
            _ => &self.function_version,
        }
    }

    /// Every version this alias can run.
    pub fn versions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.function_version.as_str())
            .chain(self.routing.keys().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(version: &str, routing: &[(&str, f64)]) -> Alias {
        Alias {
            function_name: "f".into(),
            name: "live".into(),
            function_version: version.into(),
            description: String::new(),
            routing: routing.iter().map(|(v, w)| (v.to_string(), *w)).collect(),
            revision_id: "r".into(),
        }
    }

    #[test]
    fn names_must_not_be_all_digits() {
        validate_alias_name("live").unwrap();
        validate_alias_name("v2-blue_green").unwrap();
        for bad in ["", "12", "a b", &"a".repeat(129)] {
            assert!(validate_alias_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn routing_rules() {
        alias("1", &[]).validate().unwrap();
        alias("$LATEST", &[]).validate().unwrap();
        alias("1", &[("2", 0.5)]).validate().unwrap();
        assert!(alias("1", &[("2", 1.5)]).validate().is_err());
        assert!(alias("1", &[("2", 0.1), ("3", 0.1)]).validate().is_err());
        assert!(alias("1", &[("$LATEST", 0.1)]).validate().is_err());
        assert!(alias("$LATEST", &[("2", 0.1)]).validate().is_err());
        assert!(alias("1", &[("1", 0.1)]).validate().is_err());
    }

    #[test]
    fn choose_splits_by_weight() {
        let a = alias("1", &[("2", 0.25)]);
        assert_eq!(a.choose(0.0), "2");
        assert_eq!(a.choose(0.2499), "2");
        assert_eq!(a.choose(0.25), "1");
        assert_eq!(a.choose(0.99), "1");
        assert_eq!(alias("1", &[]).choose(0.0), "1");
        assert_eq!(a.versions().collect::<Vec<_>>(), ["1", "2"]);
    }
}
