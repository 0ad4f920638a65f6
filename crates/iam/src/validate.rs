//! IAM's model constraints (names, paths, descriptions, tags) and its checks of policy
//! documents.

use crate::IamError;
use crate::query::lower_first;
use serde_json::Value;

fn constraint(member: &str, value: &str, rule: &str) -> IamError {
    IamError::validation(format!(
        "1 validation error detected: Value '{value}' at '{}' failed to satisfy constraint: {rule}",
        lower_first(member)
    ))
}

/// A user, group, role or policy name: 1 to `max` characters of `[\w+=,.@-]`.
pub fn name<'a>(member: &str, value: &'a str, max: usize) -> Result<&'a str, IamError> {
    let len = value.chars().count();
    if len < 1 || len > max {
        return Err(constraint(
            member,
            value,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || "+=,.@-".contains(c))
    {
        return Err(constraint(
            member,
            value,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(value)
}

/// A path: `/`, or `/…/` of printable ASCII, at most 512 characters; `/` when not given.
pub fn path<'a>(member: &str, value: Option<&'a str>) -> Result<&'a str, IamError> {
    let Some(v) = value else {
        return Ok("/");
    };
    let ok = v.len() <= 512
        && (v == "/"
            || (v.len() > 2
                && v.starts_with('/')
                && v.ends_with('/')
                && v.bytes().all(|b| (0x21..=0x7e).contains(&b))));
    if ok {
        Ok(v)
    } else {
        Err(constraint(
            member,
            v,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ))
    }
}

/// A description: at most 1,000 characters.
pub fn description(value: Option<&str>) -> Result<Option<String>, IamError> {
    match value {
        Some(d) if d.chars().count() > 1000 => Err(constraint(
            "Description",
            d,
            "Member must have length less than or equal to 1000",
        )),
        d => Ok(d.map(str::to_string)),
    }
}

/// Tags: at most 50, keys 1 to 128 characters, values at most 256, keys unique regardless of
/// case.
pub fn tags(tags: &[(String, String)]) -> Result<(), IamError> {
    if tags.len() > 50 {
        return Err(IamError::limit(
            "The number of tags has reached the maximum limit.",
        ));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(constraint(
                &format!("tags.{}.member.key", i + 1),
                k,
                "Member must have length less than or equal to 128",
            ));
        }
        if v.chars().count() > 256 {
            return Err(constraint(
                &format!("tags.{}.member.value", i + 1),
                v,
                "Member must have length less than or equal to 256",
            ));
        }
        if tags[..i].iter().any(|(o, _)| o.eq_ignore_ascii_case(k)) {
            return Err(IamError::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// What a policy document is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PolicyUse {
    /// A user's, group's or role's, or a managed policy: no principal, resources required.
    Identity,
    /// A role's trust policy: a principal, no resources.
    Trust,
}

/// Checks a policy document as IAM does before storing it; MalformedPolicyDocument if not.
pub fn policy(document: &str, usage: PolicyUse) -> Result<Value, IamError> {
    let len = document.chars().filter(|c| !c.is_whitespace()).count();
    if document.chars().count() > 131_072 {
        return Err(constraint(
            "PolicyDocument",
            "",
            "Member must have length less than or equal to 131072",
        ));
    }
    if len == 0 {
        return Err(IamError::malformed("Syntax errors in policy."));
    }
    let value: Value = serde_json::from_str(document)
        .map_err(|_| IamError::malformed("Syntax errors in policy."))?;
    let Value::Object(doc) = &value else {
        return Err(IamError::malformed("Syntax errors in policy."));
    };
    if let Some(v) = doc.get("Version")
        && !matches!(v.as_str(), Some("2012-10-17" | "2008-10-17"))
    {
        return Err(IamError::malformed("The policy failed legacy parsing"));
    }
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err(IamError::malformed("Syntax errors in policy.")),
    };
    for s in statements {
        let Value::Object(s) = s else {
            return Err(IamError::malformed("Syntax errors in policy."));
        };
        if !matches!(
            s.get("Effect").and_then(Value::as_str),
            Some("Allow" | "Deny")
        ) {
            return Err(IamError::malformed("Syntax errors in policy."));
        }
        if !s.contains_key("Action") && !s.contains_key("NotAction") {
            return Err(IamError::malformed(
                "Policy statement must contain actions.",
            ));
        }
        let has_principal = s.contains_key("Principal") || s.contains_key("NotPrincipal");
        let has_resource = s.contains_key("Resource") || s.contains_key("NotResource");
        match usage {
            PolicyUse::Identity if has_principal => {
                return Err(IamError::malformed(
                    "Policy document should not specify a principal.",
                ));
            }
            PolicyUse::Identity if !has_resource => {
                return Err(IamError::malformed(
                    "Policy statement must contain resources.",
                ));
            }
            PolicyUse::Trust if has_resource => {
                return Err(IamError::malformed("Has prohibited field Resource"));
            }
            PolicyUse::Trust if !has_principal => {
                return Err(IamError::malformed("Missing required field Principal"));
            }
            _ => {}
        }
    }
    Ok(value)
}

/// The size IAM counts a policy by: its characters other than white space.
pub fn policy_size(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_documents() {
        assert!(name("UserName", "alice+ops@x.com", 64).is_ok());
        assert_eq!(
            name("UserName", "a b", 64).unwrap_err().code,
            "ValidationError"
        );
        assert!(name("UserName", &"a".repeat(65), 64).is_err());
        assert_eq!(path("Path", None).unwrap(), "/");
        assert!(path("Path", Some("/ops/team/")).is_ok());
        assert!(path("Path", Some("ops")).is_err());
        let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert!(policy(allow, PolicyUse::Identity).is_ok());
        assert_eq!(
            policy("{nope", PolicyUse::Identity).unwrap_err().code,
            "MalformedPolicyDocument"
        );
        let trust = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}"#;
        assert!(policy(trust, PolicyUse::Trust).is_ok());
        assert!(policy(trust, PolicyUse::Identity).is_err());
        assert!(policy(allow, PolicyUse::Trust).is_err());
        assert!(
            policy(
                r#"{"Statement":[{"Effect":"Allow","Action":"*"}]}"#,
                PolicyUse::Identity
            )
            .is_err()
        );
        assert!(policy(r#"{"Version":"2020-01-01","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, PolicyUse::Identity).is_err());
        assert!(tags(&[("a".into(), "1".into()), ("A".into(), "2".into())]).is_err());
    }
}
