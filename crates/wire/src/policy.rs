//! Resource-based policies: the request shapes of AddPermission and AddLayerVersionPermission,
//! and the policy statements Lambda builds from them.
//!
//! A statement is written as AWS writes it, members in AWS's order:
//! `{"Sid","Effect":"Allow","Principal","Action","Resource","Condition"}`, where `Principal` is
//! `"*"`, `{"Service": ...}` or `{"AWS": ...}` (an account id becomes
//! `arn:aws:iam::<id>:root`), and the condition holds `StringEquals` (source account, function URL
//! auth type, organization, event source token), then `ArnLike` (source ARN), then `Bool`.

use ignis_model::ValidationError;
use serde::{Deserialize, Serialize};

/// AddPermission's body (`Qualifier` is in the query).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionRequest {
    pub statement_id: Option<String>,
    pub action: Option<String>,
    pub principal: Option<String>,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub event_source_token: Option<String>,
    pub revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub invoked_via_function_url: Option<bool>,
}

/// AddPermission's answer: the new statement as a JSON string.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionResponse {
    pub statement: String,
}

/// GetPolicy's and GetLayerVersionPolicy's answer: the policy document as a JSON string.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyResponse {
    pub policy: String,
    pub revision_id: String,
}

/// Who a statement allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `"*"`.
    Anyone,
    /// `{"Service": "s3.amazonaws.com"}`.
    Service(String),
    /// `{"AWS": "<arn>"}`.
    Aws(String),
}

impl Serialize for Principal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Principal::Anyone => s.serialize_str("*"),
            Principal::Service(v) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("Service", v)?;
                m.end()
            }
            Principal::Aws(v) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("AWS", v)?;
                m.end()
            }
        }
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws[a-zA-Z-]*:iam::` prefix of an IAM principal ARN.
fn is_iam_arn(s: &str) -> bool {
    let mut parts = s.splitn(4, ':');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(p), Some("iam"), Some(rest))
            if p.strip_prefix("aws").is_some_and(|r| r.chars().all(|c| c.is_ascii_alphabetic() || c == '-'))
                && rest.starts_with(':')
    )
}

impl Principal {
    /// Classifies AddPermission's `Principal` as Lambda does: `*`, a 12-digit account, an IAM
    /// ARN, or a service principal (`<service>.amazonaws.com`).
    pub fn for_function(p: &str) -> Result<Principal, ValidationError> {
        if p.is_empty() || p.chars().any(char::is_whitespace) {
            return Err(pattern("principal", p, "[^\\s]+"));
        }
        if p == "*" {
            Ok(Principal::Anyone)
        } else if is_account_id(p) {
            Ok(Principal::Aws(format!("arn:aws:iam::{p}:root")))
        } else if is_iam_arn(p) {
            Ok(Principal::Aws(p.to_string()))
        } else if p.len() > ".amazonaws.com".len()
            && (p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn"))
        {
            Ok(Principal::Service(p.to_string()))
        } else {
            Err(ValidationError::InvalidParameter(
                "The provided principal was invalid. Please check the principal and try again."
                    .into(),
            ))
        }
    }

    /// AddLayerVersionPermission's `Principal`: `*`, an account, or an account's root ARN.
    pub fn for_layer(p: &str) -> Result<Principal, ValidationError> {
        let bad = || {
            pattern(
                "principal",
                p,
                "\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root",
            )
        };
        if p == "*" {
            return Ok(Principal::Anyone);
        }
        if is_account_id(p) {
            return Ok(Principal::Aws(format!("arn:aws:iam::{p}:root")));
        }
        let root = p
            .strip_suffix(":root")
            .and_then(|r| r.rsplit_once("::"))
            .filter(|(head, acct)| is_account_id(acct) && is_iam_arn(&format!("{head}::")));
        match root {
            Some(_) => Ok(Principal::Aws(p.to_string())),
            None => Err(bad()),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
struct StringEquals {
    #[serde(rename = "AWS:SourceAccount", skip_serializing_if = "Option::is_none")]
    source_account: Option<String>,
    #[serde(
        rename = "lambda:FunctionUrlAuthType",
        skip_serializing_if = "Option::is_none"
    )]
    function_url_auth_type: Option<String>,
    #[serde(rename = "aws:PrincipalOrgID", skip_serializing_if = "Option::is_none")]
    principal_org_id: Option<String>,
    #[serde(
        rename = "lambda:EventSourceToken",
        skip_serializing_if = "Option::is_none"
    )]
    event_source_token: Option<String>,
}

impl StringEquals {
    fn is_empty(&self) -> bool {
        *self == StringEquals::default()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
struct ArnLike {
    #[serde(rename = "AWS:SourceArn")]
    source_arn: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
struct BoolCondition {
    #[serde(rename = "lambda:InvokedViaFunctionUrl")]
    invoked_via_function_url: &'static str,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
struct Condition {
    #[serde(
        rename = "StringEquals",
        skip_serializing_if = "StringEquals::is_empty"
    )]
    string_equals: StringEquals,
    #[serde(rename = "ArnLike", skip_serializing_if = "Option::is_none")]
    arn_like: Option<ArnLike>,
    #[serde(rename = "Bool", skip_serializing_if = "Option::is_none")]
    bool_: Option<BoolCondition>,
}

impl Condition {
    fn is_empty(&self) -> bool {
        *self == Condition::default()
    }
}

/// One statement of a resource-based policy.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    sid: String,
    effect: &'static str,
    principal: Principal,
    action: String,
    resource: String,
    #[serde(skip_serializing_if = "Condition::is_empty")]
    condition: Condition,
}

impl Statement {
    /// The statement's id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// The compact JSON AWS returns (and stores in the policy), members in AWS's order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a statement always serialises")
    }
}

fn pattern(field: &'static str, value: &str, pattern: &str) -> ValidationError {
    ValidationError::Constraint {
        field,
        value: value.to_string(),
        constraint: format!("Member must satisfy regular expression pattern: {pattern}"),
    }
}

fn required<'a>(field: &'static str, v: &'a Option<String>) -> Result<&'a str, ValidationError> {
    v.as_deref().ok_or_else(|| ValidationError::Constraint {
        field,
        value: "null".into(),
        constraint: "Member must not be null".into(),
    })
}

fn too_long(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.chars().count() > max {
        return Err(ValidationError::Constraint {
            field,
            value: value.to_string(),
            constraint: format!("Member must have length less than or equal to {max}"),
        });
    }
    Ok(())
}

/// Checks a statement id: `[a-zA-Z0-9-_]{1,100}` (RemovePermission also allows `.`).
pub fn validate_statement_id(sid: &str, allow_dot: bool) -> Result<(), ValidationError> {
    too_long("statementId", sid, 100)?;
    let ok = !sid.is_empty()
        && sid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (allow_dot && c == '.'));
    if ok {
        Ok(())
    } else if allow_dot {
        Err(pattern("statementId", sid, "([a-zA-Z0-9-_.]+)"))
    } else {
        Err(pattern("statementId", sid, "([a-zA-Z0-9-_]+)"))
    }
}

fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// `(lambda:[*]|lambda:[a-zA-Z]+|[*])`.
fn valid_action(a: &str) -> bool {
    a == "*"
        || a.strip_prefix("lambda:").is_some_and(|r| {
            r == "*" || (!r.is_empty() && r.chars().all(|c| c.is_ascii_alphabetic()))
        })
}

/// `arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)`,
/// checked loosely on its structure.
fn valid_source_arn(a: &str) -> bool {
    let parts: Vec<&str> = a.splitn(6, ':').collect();
    let [arn, partition, service, region, account, _rest] = parts.as_slice() else {
        return false;
    };
    *arn == "arn"
        && partition
            .strip_prefix("aws")
            .is_some_and(|r| r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && (account.is_empty() || is_account_id(account))
}

/// Builds the statement AddPermission adds for `resource` (the function ARN, qualified when the
/// request named a version or alias). Every member is checked as Lambda checks it.
pub fn function_statement(
    req: &AddPermissionRequest,
    resource: &str,
) -> Result<Statement, ValidationError> {
    let sid = required("statementId", &req.statement_id)?;
    validate_statement_id(sid, false)?;
    let action = required("action", &req.action)?;
    if !valid_action(action) {
        return Err(pattern(
            "action",
            action,
            "(lambda:[*]|lambda:[a-zA-Z]+|[*])",
        ));
    }
    let principal = Principal::for_function(required("principal", &req.principal)?)?;
    if let Some(a) = &req.source_arn
        && !valid_source_arn(a)
    {
        return Err(pattern(
            "sourceArn",
            a,
            "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
        ));
    }
    if let Some(a) = &req.source_account
        && !is_account_id(a)
    {
        return Err(pattern("sourceAccount", a, "\\d{12}"));
    }
    if let Some(t) = &req.event_source_token {
        too_long("eventSourceToken", t, 256)?;
        if t.is_empty()
            || !t
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(pattern("eventSourceToken", t, "[a-zA-Z0-9._\\-]+"));
        }
    }
    if let Some(o) = &req.principal_org_id
        && !is_org_id(o)
    {
        return Err(pattern("principalOrgID", o, "o-[a-z0-9]{10,32}"));
    }
    if let Some(t) = &req.function_url_auth_type
        && t != "NONE"
        && t != "AWS_IAM"
    {
        return Err(ValidationError::Constraint {
            field: "functionUrlAuthType",
            value: t.clone(),
            constraint: "Member must satisfy enum value set: [NONE, AWS_IAM]".into(),
        });
    }
    Ok(Statement {
        sid: sid.to_string(),
        effect: "Allow",
        principal,
        action: action.to_string(),
        resource: resource.to_string(),
        condition: Condition {
            string_equals: StringEquals {
                source_account: req.source_account.clone(),
                function_url_auth_type: req.function_url_auth_type.clone(),
                principal_org_id: req.principal_org_id.clone(),
                event_source_token: req.event_source_token.clone(),
            },
            arn_like: req
                .source_arn
                .clone()
                .map(|source_arn| ArnLike { source_arn }),
            bool_: (req.invoked_via_function_url == Some(true)).then_some(BoolCondition {
                invoked_via_function_url: "true",
            }),
        },
    })
}

/// Builds the statement AddLayerVersionPermission adds for `resource` (the layer version ARN).
pub fn layer_statement(
    req: &crate::layer::AddLayerVersionPermissionRequest,
    resource: &str,
) -> Result<Statement, ValidationError> {
    let sid = required("statementId", &req.statement_id)?;
    validate_statement_id(sid, false)?;
    let action = required("action", &req.action)?;
    if action != "lambda:GetLayerVersion" {
        return Err(pattern("action", action, "lambda:GetLayerVersion"));
    }
    let principal = Principal::for_layer(required("principal", &req.principal)?)?;
    if let Some(o) = &req.organization_id
        && !is_org_id(o)
    {
        return Err(pattern("organizationId", o, "o-[a-z0-9]{10,32}"));
    }
    Ok(Statement {
        sid: sid.to_string(),
        effect: "Allow",
        principal,
        action: action.to_string(),
        resource: resource.to_string(),
        condition: Condition {
            string_equals: StringEquals {
                principal_org_id: req.organization_id.clone(),
                ..StringEquals::default()
            },
            ..Condition::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    fn req(principal: &str) -> AddPermissionRequest {
        AddPermissionRequest {
            statement_id: Some("s3".into()),
            action: Some("lambda:InvokeFunction".into()),
            principal: Some(principal.into()),
            ..AddPermissionRequest::default()
        }
    }

    #[test]
    fn service_statement_with_source_arn_is_written_as_aws_writes_it() {
        let mut r = req("s3.amazonaws.com");
        r.source_arn = Some("arn:aws:s3:::bucket".into());
        let s = function_statement(&r, FN).unwrap();
        assert_eq!(
            s.to_json(),
            r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:000000000000:function:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}"#
        );
    }

    #[test]
    fn principals_and_conditions() {
        let mut r = req("*");
        r.action = Some("lambda:InvokeFunctionUrl".into());
        r.source_account = Some("111111111111".into());
        r.function_url_auth_type = Some("NONE".into());
        r.principal_org_id = Some("o-1234567890".into());
        r.source_arn = Some("arn:aws:s3:::b".into());
        let s = function_statement(&r, FN).unwrap().to_json();
        assert!(s.contains(r#""Principal":"*""#), "{s}");
        assert!(
            s.ends_with(r#""Condition":{"StringEquals":{"AWS:SourceAccount":"111111111111","lambda:FunctionUrlAuthType":"NONE","aws:PrincipalOrgID":"o-1234567890"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}"#),
            "{s}"
        );
        let s = function_statement(&req("123456789012"), FN)
            .unwrap()
            .to_json();
        assert!(s.contains(r#""Principal":{"AWS":"arn:aws:iam::123456789012:root"}"#));
        assert!(!s.contains("Condition"));
        let s = function_statement(&req("arn:aws:iam::123456789012:user/u"), FN)
            .unwrap()
            .to_json();
        assert!(s.contains(r#""Principal":{"AWS":"arn:aws:iam::123456789012:user/u"}"#));
        let mut r = req("alexa-appkit.amazon.com");
        r.event_source_token = Some("amzn1.ask.skill.x".into());
        assert!(matches!(
            function_statement(&r, FN),
            Err(ValidationError::InvalidParameter(_))
        ));
    }

    #[test]
    fn members_are_checked() {
        let mut r = req("s3.amazonaws.com");
        r.statement_id = Some("example.com".into());
        assert_eq!(
            function_statement(&r, FN).unwrap_err().to_string(),
            "1 validation error detected: Value 'example.com' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)"
        );
        let mut r = req("s3.amazonaws.com");
        r.statement_id = Some("x".repeat(101));
        assert!(function_statement(&r, FN).is_err());
        let mut r = req("s3.amazonaws.com");
        r.action = Some("InvokeFunction".into());
        assert!(function_statement(&r, FN).is_err());
        let mut r = req("s3.amazonaws.com");
        r.source_account = Some("12".into());
        assert!(function_statement(&r, FN).is_err());
        let mut r = req("s3.amazonaws.com");
        r.source_arn = Some("not-an-arn".into());
        assert!(function_statement(&r, FN).is_err());
        let mut r = req("s3.amazonaws.com");
        r.function_url_auth_type = Some("OPEN".into());
        assert!(function_statement(&r, FN).is_err());
        let mut r = req("s3.amazonaws.com");
        r.principal_org_id = Some("org".into());
        assert!(function_statement(&r, FN).is_err());
        let mut r = req("s3.amazonaws.com");
        r.principal = None;
        assert!(
            function_statement(&r, FN)
                .unwrap_err()
                .to_string()
                .contains("Member must not be null")
        );
        assert_eq!(
            function_statement(&req("invalid.nonaws.com"), FN)
                .unwrap_err()
                .to_string(),
            "The provided principal was invalid. Please check the principal and try again."
        );
        validate_statement_id("a.b", true).unwrap();
        assert!(validate_statement_id("a.b", false).is_err());
    }

    #[test]
    fn layer_statements() {
        let layer = "arn:aws:lambda:us-east-1:000000000000:layer:l:1";
        let mut r = crate::layer::AddLayerVersionPermissionRequest {
            statement_id: Some("s1".into()),
            action: Some("lambda:GetLayerVersion".into()),
            principal: Some("*".into()),
            organization_id: None,
        };
        assert_eq!(
            layer_statement(&r, layer).unwrap().to_json(),
            r#"{"Sid":"s1","Effect":"Allow","Principal":"*","Action":"lambda:GetLayerVersion","Resource":"arn:aws:lambda:us-east-1:000000000000:layer:l:1"}"#
        );
        r.organization_id = Some("o-t194hfs8cz".into());
        assert!(
            layer_statement(&r, layer).unwrap().to_json().ends_with(
                r#""Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-t194hfs8cz"}}}"#
            )
        );
        r.principal = Some("210987654321".into());
        assert!(
            layer_statement(&r, layer)
                .unwrap()
                .to_json()
                .contains(r#""Principal":{"AWS":"arn:aws:iam::210987654321:root"}"#)
        );
        r.principal = Some("arn:aws:iam::210987654321:root".into());
        layer_statement(&r, layer).unwrap();
        r.principal = Some("s3.amazonaws.com".into());
        assert!(layer_statement(&r, layer).is_err());
        r.principal = Some("*".into());
        r.action = Some("*".into());
        assert_eq!(
            layer_statement(&r, layer).unwrap_err().to_string(),
            "1 validation error detected: Value '*' at 'action' failed to satisfy constraint: Member must satisfy regular expression pattern: lambda:GetLayerVersion"
        );
    }
}
