//! Lambda layers: names and ARNs as the API accepts them, and a layer version's metadata with the
//! rules it must satisfy.
//!
//! A layer is a name; each publication creates an immutable, numbered layer version. Version
//! numbers are never reused, even after every version of a layer has been deleted.

use crate::Account;
use crate::function::{CodeRef, ValidationError, list_display};
use crate::runtime::KNOWN_RUNTIMES;
use serde::{Deserialize, Serialize};

/// Longest layer name or layer ARN (`LayerName` in the model).
pub const MAX_LAYER_NAME_CHARS: usize = 140;
/// Most `CompatibleRuntimes` of a layer version.
pub const MAX_COMPATIBLE_RUNTIMES: usize = 15;
/// Most `CompatibleArchitectures` of a layer version.
pub const MAX_COMPATIBLE_ARCHITECTURES: usize = 2;
/// Longest `LicenseInfo`.
pub const MAX_LICENSE_INFO_CHARS: usize = 512;
/// Longest layer `Description`.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

const ARCHITECTURES: &[&str] = &["x86_64", "arm64"];

const LAYER_NAME_PATTERN: &str =
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+";

/// The pattern AWS quotes when a layer version ARN is malformed.
pub const LAYER_VERSION_ARN_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)";

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

/// `arn:aws:lambda:<region>:<account>:layer:<name>`.
pub fn layer_arn(account: &Account, name: &str) -> String {
    format!(
        "arn:aws:lambda:{}:{}:layer:{}",
        account.region, account.id, name
    )
}

/// `arn:aws:lambda:<region>:<account>:layer:<name>:<version>`.
pub fn layer_version_arn(account: &Account, name: &str, version: u64) -> String {
    format!("{}:{version}", layer_arn(account, name))
}

/// A layer as a caller named it: a bare name or a layer ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerName {
    pub name: String,
    /// Region named in an ARN, if any.
    pub region: Option<String>,
    /// Account named in an ARN, if any.
    pub account: Option<String>,
}

impl LayerName {
    /// Parses the `{LayerName}` path label: `[a-zA-Z0-9-_]+` or
    /// `arn:<partition>:lambda:<region>:<account>:layer:<name>`, at most 140 characters.
    pub fn parse(input: &str) -> Result<LayerName, ValidationError> {
        let bad = || ValidationError::Constraint {
            field: "layerName",
            value: input.to_string(),
            constraint: format!(
                "Member must satisfy regular expression pattern: {LAYER_NAME_PATTERN}"
            ),
        };
        if input.chars().count() > MAX_LAYER_NAME_CHARS {
            return Err(ValidationError::Constraint {
                field: "layerName",
                value: input.to_string(),
                constraint: format!(
                    "Member must have length less than or equal to {MAX_LAYER_NAME_CHARS}"
                ),
            });
        }
        if valid_name(input) {
            return Ok(LayerName {
                name: input.to_string(),
                region: None,
                account: None,
            });
        }
        let parts: Vec<&str> = input.split(':').collect();
        let arn_part =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        match parts.as_slice() {
            ["arn", partition, "lambda", region, account, "layer", name]
                if arn_part(partition)
                    && arn_part(region)
                    && is_account_id(account)
                    && valid_name(name) =>
            {
                Ok(LayerName {
                    name: name.to_string(),
                    region: Some(region.to_string()),
                    account: Some(account.to_string()),
                })
            }
            _ => Err(bad()),
        }
    }

    /// True when the ARN, if any, names this node's account and region.
    pub fn belongs_to(&self, account: &Account) -> bool {
        self.account.as_deref().is_none_or(|a| a == account.id)
            && self.region.as_deref().is_none_or(|r| r == account.region)
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A parsed layer version ARN, `arn:aws:lambda:<region>:<account>:layer:<name>:<version>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersionArn {
    pub region: String,
    pub account: String,
    pub name: String,
    pub version: u64,
}

impl LayerVersionArn {
    /// Parses a layer version ARN; `None` when it does not have that form.
    pub fn parse(arn: &str) -> Option<LayerVersionArn> {
        let parts: Vec<&str> = arn.split(':').collect();
        let [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "layer",
            name,
            version,
        ] = parts.as_slice()
        else {
            return None;
        };
        let partition_ok = partition
            .strip_prefix("aws")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_alphabetic() || c == '-'));
        let region_ok = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !partition_ok
            || !region_ok
            || !is_account_id(account)
            || !valid_name(name)
            || version.is_empty()
            || !version.bytes().all(|b| b.is_ascii_digit())
            || arn.len() > MAX_LAYER_NAME_CHARS
        {
            return None;
        }
        Some(LayerVersionArn {
            region: region.to_string(),
            account: account.to_string(),
            name: name.to_string(),
            version: version.parse().ok()?,
        })
    }

    /// The layer's ARN (without the version).
    pub fn layer_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:layer:{}",
            self.region, self.account, self.name
        )
    }
}

/// Checks a `VersionNumber` path label: Lambda refuses numbers below 1 with
/// `InvalidParameterValueException`.
pub fn parse_version_number(s: &str) -> Result<u64, ValidationError> {
    let n: i64 = s.parse().map_err(|_| ValidationError::Constraint {
        field: "versionNumber",
        value: s.to_string(),
        constraint: "Member must be a number".into(),
    })?;
    if n < 1 {
        return Err(ValidationError::InvalidParameter(
            "Layer Version Cannot be less than 1".into(),
        ));
    }
    Ok(n as u64)
}

/// One published layer version, as Ignis stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerVersion {
    pub name: String,
    pub version: u64,
    pub description: String,
    /// `None` when the publisher did not say; an empty list when they said `[]`.
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license_info: Option<String>,
    pub code: CodeRef,
    pub created_ms: i64,
}

/// `CompatibleRuntime` / `CompatibleArchitecture` filters of ListLayers and ListLayerVersions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerFilter {
    pub runtime: Option<String>,
    pub architecture: Option<String>,
}

impl LayerFilter {
    /// Checks the filter values against the model's enums.
    pub fn new(
        runtime: Option<String>,
        architecture: Option<String>,
    ) -> Result<LayerFilter, ValidationError> {
        if let Some(r) = &runtime
            && !KNOWN_RUNTIMES.contains(&r.as_str())
        {
            return Err(ValidationError::Constraint {
                field: "compatibleRuntime",
                value: r.clone(),
                constraint: format!(
                    "Member must satisfy enum value set: [{}]",
                    KNOWN_RUNTIMES.join(", ")
                ),
            });
        }
        if let Some(a) = &architecture
            && !ARCHITECTURES.contains(&a.as_str())
        {
            return Err(ValidationError::Constraint {
                field: "compatibleArchitecture",
                value: a.clone(),
                constraint: format!(
                    "Member must satisfy enum value set: [{}]",
                    ARCHITECTURES.join(", ")
                ),
            });
        }
        Ok(LayerFilter {
            runtime,
            architecture,
        })
    }

    /// Whether a version declares compatibility with the filter's runtime and architecture.
    pub fn matches(&self, v: &LayerVersion) -> bool {
        let has = |list: &Option<Vec<String>>, want: &Option<String>| match want {
            None => true,
            Some(w) => list.as_ref().is_some_and(|l| l.iter().any(|x| x == w)),
        };
        has(&v.compatible_runtimes, &self.runtime)
            && has(&v.compatible_architectures, &self.architecture)
    }
}

impl LayerVersion {
    /// Checks everything the publisher chose; the first failure is returned.
    pub fn validate(&self) -> Result<(), ValidationError> {
        let too_long = |field: &'static str, value: &str, max: usize| {
            if value.chars().count() > max {
                Err(ValidationError::Constraint {
                    field,
                    value: value.to_string(),
                    constraint: format!("Member must have length less than or equal to {max}"),
                })
            } else {
                Ok(())
            }
        };
        too_long("description", &self.description, MAX_DESCRIPTION_CHARS)?;
        if let Some(l) = &self.license_info {
            too_long("licenseInfo", l, MAX_LICENSE_INFO_CHARS)?;
        }
        if let Some(runtimes) = &self.compatible_runtimes {
            if runtimes.len() > MAX_COMPATIBLE_RUNTIMES {
                return Err(ValidationError::Constraint {
                    field: "compatibleRuntimes",
                    value: list_display(runtimes),
                    constraint: format!(
                        "Member must have length less than or equal to {MAX_COMPATIBLE_RUNTIMES}"
                    ),
                });
            }
            if runtimes
                .iter()
                .any(|r| !KNOWN_RUNTIMES.contains(&r.as_str()))
            {
                return Err(ValidationError::Constraint {
                    field: "compatibleRuntimes",
                    value: list_display(runtimes),
                    constraint: format!(
                        "Member must satisfy enum value set: [{}]",
                        KNOWN_RUNTIMES.join(", ")
                    ),
                });
            }
        }
        if let Some(archs) = &self.compatible_architectures {
            if archs.len() > MAX_COMPATIBLE_ARCHITECTURES {
                return Err(ValidationError::Constraint {
                    field: "compatibleArchitectures",
                    value: list_display(archs),
                    constraint: format!(
                        "Member must have length less than or equal to {MAX_COMPATIBLE_ARCHITECTURES}"
                    ),
                });
            }
            if archs.iter().any(|a| !ARCHITECTURES.contains(&a.as_str())) {
                return Err(ValidationError::Constraint {
                    field: "compatibleArchitectures",
                    value: list_display(archs),
                    constraint: "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]".into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: "000000000000".into(),
            region: "us-east-1".into(),
        }
    }

    fn sample() -> LayerVersion {
        LayerVersion {
            name: "deps".into(),
            version: 1,
            description: String::new(),
            compatible_runtimes: Some(vec!["python3.12".into()]),
            compatible_architectures: Some(vec!["x86_64".into()]),
            license_info: None,
            code: CodeRef {
                sha256_hex: String::new(),
                sha256_base64: String::new(),
                size: 1,
                unzipped_size: 1,
            },
            created_ms: 0,
        }
    }

    #[test]
    fn names_and_arns() {
        let n = LayerName::parse("my-layer_1").unwrap();
        assert_eq!(n.name, "my-layer_1");
        assert!(n.belongs_to(&account()));
        let a = LayerName::parse("arn:aws:lambda:us-east-1:000000000000:layer:deps").unwrap();
        assert_eq!(a.name, "deps");
        assert!(a.belongs_to(&account()));
        let foreign = LayerName::parse("arn:aws:lambda:eu-west-1:000000000000:layer:deps").unwrap();
        assert!(!foreign.belongs_to(&account()));
        for bad in [
            "",
            "a b",
            "a:b",
            "arn:aws:lambda:us-east-1:1:layer:x",
            &"x".repeat(141),
        ] {
            assert!(LayerName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            layer_version_arn(&account(), "deps", 3),
            "arn:aws:lambda:us-east-1:000000000000:layer:deps:3"
        );
    }

    #[test]
    fn version_arns() {
        let v =
            LayerVersionArn::parse("arn:aws:lambda:us-east-1:000000000000:layer:deps:12").unwrap();
        assert_eq!((v.name.as_str(), v.version), ("deps", 12));
        assert_eq!(
            v.layer_arn(),
            "arn:aws:lambda:us-east-1:000000000000:layer:deps"
        );
        for bad in [
            "arn:aws:lambda:us-east-1:000000000000:layer:deps",
            "arn:aws:lambda:us-east-1:000000000000:layer:deps:x",
            "arn:aws:lambda:us-east-1:000000000000:function:deps:1",
            "arn:aws:lambda:us-east-1:00000:layer:deps:1",
            "deps:1",
        ] {
            assert!(LayerVersionArn::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn version_numbers_start_at_one() {
        assert_eq!(parse_version_number("7").unwrap(), 7);
        for bad in ["0", "-1"] {
            assert_eq!(
                parse_version_number(bad).unwrap_err().to_string(),
                "Layer Version Cannot be less than 1"
            );
        }
        assert!(matches!(
            parse_version_number("x"),
            Err(ValidationError::Constraint { .. })
        ));
    }

    #[test]
    fn versions_are_validated() {
        sample().validate().unwrap();
        let mut v = sample();
        v.compatible_runtimes = Some(vec!["cobol".into()]);
        assert!(
            v.validate()
                .unwrap_err()
                .to_string()
                .contains("at 'compatibleRuntimes'")
        );
        let mut v = sample();
        v.compatible_runtimes = Some(vec!["python3.12".into(); 16]);
        assert!(v.validate().is_err());
        let mut v = sample();
        v.compatible_architectures = Some(vec!["x86_64".into(), "arm64".into(), "x86_64".into()]);
        assert!(v.validate().is_err());
        let mut v = sample();
        v.compatible_architectures = Some(vec!["sparc".into()]);
        assert!(v.validate().is_err());
        let mut v = sample();
        v.license_info = Some("l".repeat(513));
        assert!(v.validate().is_err());
        let mut v = sample();
        v.description = "d".repeat(257);
        assert!(v.validate().is_err());
        let mut v = sample();
        v.compatible_runtimes = Some(vec![]);
        v.compatible_architectures = Some(vec![]);
        v.validate().unwrap();
    }

    #[test]
    fn filters_match_declared_compatibility() {
        let v = sample();
        assert!(LayerFilter::default().matches(&v));
        let f = LayerFilter::new(Some("python3.12".into()), Some("x86_64".into())).unwrap();
        assert!(f.matches(&v));
        let f = LayerFilter::new(Some("nodejs20.x".into()), None).unwrap();
        assert!(!f.matches(&v));
        let f = LayerFilter::new(None, Some("arm64".into())).unwrap();
        assert!(!f.matches(&v));
        let mut undeclared = sample();
        undeclared.compatible_runtimes = None;
        assert!(
            !LayerFilter::new(Some("python3.12".into()), None)
                .unwrap()
                .matches(&undeclared)
        );
        assert!(LayerFilter::new(Some("cobol".into()), None).is_err());
        assert!(LayerFilter::new(None, Some("sparc".into())).is_err());
    }
}
