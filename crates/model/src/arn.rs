//! Function names, qualifiers and ARNs, parsed the way Lambda parses a `FunctionName` argument:
//! a bare name, `name:qualifier`, a partial ARN (`123456789012:function:name[:qualifier]`) or a
//! full ARN (`arn:aws:lambda:us-east-1:123456789012:function:name[:qualifier]`).

use crate::function::ValidationError;
use std::fmt;

/// The account and region a node serves; every ARN it writes is built from these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub region: String,
}

impl Account {
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.id, name
        )
    }

    /// The function ARN with `:<qualifier>` appended.
    pub fn qualified_arn(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{}", self.function_arn(name), qualifier)
    }
}

/// What a qualifier names: `$LATEST`, a published version, or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qualifier {
    Latest,
    Version(u64),
    Alias(String),
}

/// The literal name of the unpublished version.
pub const LATEST: &str = "$LATEST";

impl Qualifier {
    /// Parses a qualifier as it appears after a function name or in `?Qualifier=`.
    pub fn parse(s: &str) -> Result<Qualifier, ValidationError> {
        if s == LATEST {
            return Ok(Qualifier::Latest);
        }
        if s.is_empty() || s.len() > 128 || !s.chars().all(is_name_char) {
            return Err(ValidationError::pattern(
                "qualifier",
                s,
                "(|[a-zA-Z0-9$_-]+)",
            ));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().map(Qualifier::Version).map_err(|_| {
                ValidationError::InvalidParameter(format!("Invalid version number: {s}"))
            });
        }
        Ok(Qualifier::Alias(s.to_string()))
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Latest => f.write_str(LATEST),
            Qualifier::Version(n) => write!(f, "{n}"),
            Qualifier::Alias(a) => f.write_str(a),
        }
    }
}

/// A reference to a function as a caller wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<Qualifier>,
    /// Account named in an ARN, if any.
    pub account: Option<String>,
    /// Region named in a full ARN, if any.
    pub region: Option<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Checks a bare function name: `[a-zA-Z0-9-_]{1,64}`.
pub fn validate_function_name(name: &str) -> Result<(), ValidationError> {
    if name.is_empty() || name.len() > 64 || !name.chars().all(is_name_char) {
        return Err(ValidationError::pattern(
            "functionName",
            name,
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        ));
    }
    Ok(())
}

impl FunctionRef {
    /// Parses any of the accepted forms. The name itself is validated; the qualifier too.
    pub fn parse(input: &str) -> Result<FunctionRef, ValidationError> {
        let bad = || {
            ValidationError::pattern(
                "functionName",
                input,
                "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
            )
        };
        if input.is_empty() || input.len() > 256 {
            return Err(bad());
        }
        let parts: Vec<&str> = input.split(':').collect();
        let (account, region, rest): (Option<&str>, Option<&str>, &[&str]) = if parts[0] == "arn" {
            // arn:partition:lambda:region:account:function:name[:qualifier]
            if parts.len() < 7
                || parts.len() > 8
                || !parts[1].starts_with("aws")
                || parts[2] != "lambda"
                || parts[5] != "function"
            {
                return Err(bad());
            }
            (Some(parts[4]), Some(parts[3]), &parts[6..])
        } else if parts.len() >= 3 && parts[1] == "function" {
            (Some(parts[0]), None, &parts[2..])
        } else {
            (None, None, &parts[..])
        };
        if let Some(acct) = account
            && (acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(Qualifier::parse(q)?)),
            _ => return Err(bad()),
        };
        validate_function_name(name).map_err(|_| bad())?;
        Ok(FunctionRef {
            name: name.to_string(),
            qualifier,
            account: account.map(str::to_string),
            region: region.map(str::to_string),
        })
    }

    /// Combines the qualifier in the name with a `?Qualifier=` value; both given must agree.
    pub fn with_query_qualifier(
        mut self,
        query: Option<&str>,
    ) -> Result<FunctionRef, ValidationError> {
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            let q = Qualifier::parse(q)?;
            match &self.qualifier {
                Some(existing) if *existing != q => {
                    return Err(ValidationError::InvalidParameter(
                        "The derived qualifier from the function name does not match the specified qualifier.".into(),
                    ));
                }
                _ => self.qualifier = Some(q),
            }
        }
        Ok(self)
    }

    /// True when the ARN, if any, names this node's account and region.
    pub fn belongs_to(&self, account: &Account) -> bool {
        self.account.as_deref().is_none_or(|a| a == account.id)
            && self.region.as_deref().is_none_or(|r| r == account.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_accepted_form() {
        let plain = FunctionRef::parse("hello").unwrap();
        assert_eq!((plain.name.as_str(), plain.qualifier), ("hello", None));

        let q = FunctionRef::parse("hello:PROD").unwrap();
        assert_eq!(q.qualifier, Some(Qualifier::Alias("PROD".into())));

        let v = FunctionRef::parse("hello:7").unwrap();
        assert_eq!(v.qualifier, Some(Qualifier::Version(7)));

        let l = FunctionRef::parse("hello:$LATEST").unwrap();
        assert_eq!(l.qualifier, Some(Qualifier::Latest));

        let partial = FunctionRef::parse("123456789012:function:hello").unwrap();
        assert_eq!(partial.account.as_deref(), Some("123456789012"));
        assert_eq!(partial.name, "hello");

        let full =
            FunctionRef::parse("arn:aws:lambda:us-east-1:123456789012:function:hello:3").unwrap();
        assert_eq!(full.region.as_deref(), Some("us-east-1"));
        assert_eq!(full.qualifier, Some(Qualifier::Version(3)));
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            "has space",
            "a:b:c",
            "arn:aws:lambda:us-east-1:123:function:x",
            "arn:aws:s3:us-east-1:123456789012:function:x",
            "x:",
            &"a".repeat(65),
        ] {
            assert!(
                FunctionRef::parse(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn query_qualifier_must_agree_with_the_name() {
        let r = FunctionRef::parse("f:1").unwrap();
        assert!(r.clone().with_query_qualifier(Some("1")).is_ok());
        assert!(r.with_query_qualifier(Some("2")).is_err());
        let r = FunctionRef::parse("f")
            .unwrap()
            .with_query_qualifier(Some("live"))
            .unwrap();
        assert_eq!(r.qualifier, Some(Qualifier::Alias("live".into())));
    }

    #[test]
    fn arns_are_built_from_the_account() {
        let a = Account {
            id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        assert_eq!(
            a.function_arn("f"),
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(
            a.qualified_arn("f", "$LATEST"),
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
        let foreign = FunctionRef::parse("111111111111:function:f").unwrap();
        assert!(!foreign.belongs_to(&a));
    }
}
