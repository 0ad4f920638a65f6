//! Evaluating a function's resource-based policy for a request made by an AWS service (S3
//! invoking a function for a bucket notification), the way IAM evaluates one: an explicit Deny
//! that matches wins; otherwise some Allow must match; otherwise the request is refused.
//!
//! A statement matches when its `Principal` (or `NotPrincipal`), `Action` (or `NotAction`),
//! `Resource` (or `NotResource`) and every entry of its `Condition` match. Conditions know the
//! keys a request carries — `aws:SourceArn` and `aws:SourceAccount` for a service, and
//! `lambda:FunctionUrlAuthType` and `lambda:InvokedViaFunctionUrl` for a function URL's
//! caller (key names are case-insensitive, as in IAM) — with the operators `StringEquals`,
//! `StringNotEquals`, `StringEqualsIgnoreCase`, `StringNotEqualsIgnoreCase`, `StringLike`,
//! `StringNotLike`, `ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike` and `Bool` (each also
//! with `IfExists`). An anonymous caller (a function URL with auth type `NONE`) has no principal
//! name: only `"*"` and `{"AWS": "*"}` match it. A key the
//! request does not carry fails a positive operator and satisfies a negated or `IfExists` one.
//! An operator Ignis does not know makes an Allow fail and a Deny match: unknown never grants.
//! The same statements are evaluated for an identity's own policies and a role's trust policy
//! ([`identity`]), with the numeric, `Null` and `IpAddress` operators too.

mod identity;

pub use identity::{AccessRequest, Caller, Decision, evaluate, is_allowed_by_trust};

use crate::policies::Policy;
use ignis_model::arn::LATEST;
use serde_json::Value;

/// A request from a service principal (or an anonymous caller), to check against a function's
/// policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRequest<'a> {
    /// The calling service, e.g. `s3.amazonaws.com`; empty for an anonymous caller.
    pub principal: &'a str,
    /// The action, e.g. `lambda:InvokeFunction`.
    pub action: &'a str,
    /// The unqualified ARN of the function (`arn:aws:lambda:<region>:<account>:function:<name>`).
    pub function_arn: &'a str,
    /// `aws:SourceArn`, e.g. `arn:aws:s3:::bucket`.
    pub source_arn: Option<&'a str>,
    /// `aws:SourceAccount`, the account owning the source.
    pub source_account: Option<&'a str>,
    /// `lambda:FunctionUrlAuthType`, for a request through a function URL (`NONE`, `AWS_IAM`).
    pub function_url_auth_type: Option<&'a str>,
    /// `lambda:InvokedViaFunctionUrl` (`true`) for a request through a function URL.
    pub invoked_via_function_url: Option<&'a str>,
}

/// `*` matches any run of characters and `?` any one, as IAM's `*Like` operators do.
pub(crate) fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.to_lowercase().eq(b.to_lowercase())
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// IAM's ARN matching: each of the six `:`-separated parts is matched on its own, with
/// wildcards, and the resource part (the sixth, which may itself contain `:`) last.
pub(crate) fn arn_like(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob(p, a, false))
}

/// A member that is a string or an array of strings.
fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn principal_matches(p: &Value, caller: &Caller<'_>) -> bool {
    match p {
        Value::String(s) => s == "*",
        Value::Object(m) => m.iter().any(|(kind, v)| {
            let vs = strings(v);
            (kind == "AWS"
                && vs
                    .iter()
                    .any(|v| *v == "*" || caller.aws.iter().any(|a| a == v)))
                || (kind == "Service"
                    && !caller.service.is_empty()
                    && vs.iter().any(|s| s.eq_ignore_ascii_case(caller.service)))
        }),
        _ => false,
    }
}

/// The member `name`, or its negation `Not<name>` (inverted); `None` when neither is there.
fn positive_or_not(
    statement: &serde_json::Map<String, Value>,
    name: &str,
    matches: impl Fn(&Value) -> bool,
) -> bool {
    if let Some(v) = statement.get(name) {
        matches(v)
    } else if let Some(v) = statement.get(&format!("Not{name}")) {
        !matches(v)
    } else {
        false
    }
}

fn numeric(p: &str, v: &str) -> Option<std::cmp::Ordering> {
    let (p, v) = (p.parse::<f64>().ok()?, v.parse::<f64>().ok()?);
    v.partial_cmp(&p)
}

/// Whether `v` (an address) is in `p` (an address or CIDR block).
fn in_cidr(p: &str, v: &str) -> bool {
    let Ok(addr) = v.parse::<std::net::IpAddr>() else {
        return false;
    };
    let (net, bits) = match p.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (p, None),
    };
    match (net.parse::<std::net::IpAddr>(), addr) {
        (Ok(std::net::IpAddr::V4(n)), std::net::IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (Ok(std::net::IpAddr::V6(n)), std::net::IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// Whether one condition operator's block holds; `None` for an operator Ignis does not know.
fn operator_holds(op: &str, block: &Value, q: &Query<'_>) -> Option<bool> {
    let (base, if_exists) = match op.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (op, false),
    };
    type Test = fn(&str, &str) -> bool;
    let (negated, test): (bool, Test) = match base {
        "StringEquals" => (false, |p, v| p == v),
        "StringNotEquals" => (true, |p, v| p == v),
        "StringEqualsIgnoreCase" => (false, |p, v| p.to_lowercase() == v.to_lowercase()),
        "StringNotEqualsIgnoreCase" => (true, |p, v| p.to_lowercase() == v.to_lowercase()),
        "StringLike" => (false, |p, v| glob(p, v, false)),
        "StringNotLike" => (true, |p, v| glob(p, v, false)),
        "ArnEquals" | "ArnLike" => (false, arn_like),
        "ArnNotEquals" | "ArnNotLike" => (true, arn_like),
        "Bool" => (false, |p, v| p.eq_ignore_ascii_case(v)),
        "NumericEquals" => (false, |p, v| numeric(p, v).is_some_and(|o| o.is_eq())),
        "NumericNotEquals" => (true, |p, v| numeric(p, v).is_some_and(|o| o.is_eq())),
        "NumericLessThan" => (false, |p, v| numeric(p, v).is_some_and(|o| o.is_lt())),
        "NumericLessThanEquals" => (false, |p, v| numeric(p, v).is_some_and(|o| o.is_le())),
        "NumericGreaterThan" => (false, |p, v| numeric(p, v).is_some_and(|o| o.is_gt())),
        "NumericGreaterThanEquals" => (false, |p, v| numeric(p, v).is_some_and(|o| o.is_ge())),
        "IpAddress" => (false, in_cidr),
        "NotIpAddress" => (true, in_cidr),
        "Null" => {
            let Value::Object(keys) = block else {
                return None;
            };
            return Some(keys.iter().all(|(key, want)| {
                let absent = (q.keys)(key).is_none();
                strings(want)
                    .iter()
                    .all(|w| w.eq_ignore_ascii_case("true") == absent)
            }));
        }
        _ => return None,
    };
    let Value::Object(keys) = block else {
        return None;
    };
    let mut all = true;
    for (key, patterns) in keys {
        let holds = match (q.keys)(key) {
            None => negated || if_exists,
            Some(v) => {
                let any = strings(patterns).iter().any(|p| test(p, &v));
                if negated { !any } else { any }
            }
        };
        all &= holds;
    }
    Some(all)
}

/// Whether a statement's conditions all hold; `None` when one uses an unknown operator.
fn conditions_hold(condition: Option<&Value>, q: &Query<'_>) -> Option<bool> {
    let Some(condition) = condition else {
        return Some(true);
    };
    let Value::Object(ops) = condition else {
        return None;
    };
    let mut all = true;
    for (op, block) in ops {
        all &= operator_holds(op, block, q)?;
    }
    Some(all)
}

/// How one statement bears on a request.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    NotApplicable,
    Allow,
    Deny,
}

/// A request as a statement sees it.
pub(crate) struct Query<'a> {
    /// Who asks, for a resource-based or trust policy; `None` for an identity-based policy,
    /// whose statements name no principal.
    pub principal: Option<&'a Caller<'a>>,
    pub action: &'a str,
    /// The resource's ARNs (any may match); empty for a trust policy, which names none.
    pub resources: &'a [String],
    /// The value of a condition key (named case-insensitively), if the request carries it.
    pub keys: &'a dyn Fn(&str) -> Option<String>,
}

fn statement_verdict(statement: &Value, q: &Query<'_>) -> Verdict {
    let Value::Object(s) = statement else {
        return Verdict::NotApplicable;
    };
    let deny = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => false,
        Some("Deny") => true,
        _ => return Verdict::NotApplicable,
    };
    let principal = match q.principal {
        Some(caller) => positive_or_not(s, "Principal", |p| principal_matches(p, caller)),
        None => true,
    };
    let action = positive_or_not(s, "Action", |a| {
        strings(a).iter().any(|a| glob(a, q.action, true))
    });
    let resource = q.resources.is_empty()
        || positive_or_not(s, "Resource", |r| {
            strings(r)
                .iter()
                .any(|r| q.resources.iter().any(|arn| arn_like(r, arn)))
        });
    if !(principal && action && resource) {
        return Verdict::NotApplicable;
    }
    match (conditions_hold(s.get("Condition"), q), deny) {
        (Some(true), false) => Verdict::Allow,
        (Some(true) | None, true) => Verdict::Deny,
        _ => Verdict::NotApplicable,
    }
}

/// The ARNs a request on `qualifier` is for: the unqualified function ARN (and its `:$LATEST`
/// form, which Lambda treats as the same resource) for `$LATEST`, the qualified ARN otherwise.
fn requested_resources(function_arn: &str, qualifier: Option<&str>) -> Vec<String> {
    match qualifier {
        None | Some(LATEST) => vec![function_arn.to_string(), format!("{function_arn}:{LATEST}")],
        Some(q) => vec![format!("{function_arn}:{q}")],
    }
}

impl Policy {
    /// Whether this policy, attached to `qualifier` (`None` or `$LATEST` for the unqualified
    /// function), allows the service request: no matching Deny and at least one matching Allow.
    pub fn allows_service(&self, qualifier: Option<&str>, req: &ServiceRequest<'_>) -> bool {
        let resources = requested_resources(req.function_arn, qualifier);
        let caller = Caller {
            service: req.principal,
            aws: &[],
        };
        let keys = |key: &str| {
            let value = if key.eq_ignore_ascii_case("aws:SourceArn") {
                req.source_arn
            } else if key.eq_ignore_ascii_case("aws:SourceAccount") {
                req.source_account
            } else if key.eq_ignore_ascii_case("lambda:FunctionUrlAuthType") {
                req.function_url_auth_type
            } else if key.eq_ignore_ascii_case("lambda:InvokedViaFunctionUrl") {
                req.invoked_via_function_url
            } else {
                None
            };
            value.map(str::to_string)
        };
        let query = Query {
            principal: Some(&caller),
            action: req.action,
            resources: &resources,
            keys: &keys,
        };
        let mut allowed = false;
        for statement in self.statements() {
            match statement_verdict(statement, &query) {
                Verdict::Deny => return false,
                Verdict::Allow => allowed = true,
                Verdict::NotApplicable => {}
            }
        }
        allowed
    }

    /// How this policy, attached to `qualifier`, bears on a request by an AWS principal
    /// (`caller.aws`: the names it goes by) of the function's own account: `Allow` when a
    /// statement grants it, `ExplicitDeny` when one denies it, `ImplicitDeny` otherwise.
    pub fn decide_for(
        &self,
        qualifier: Option<&str>,
        function_arn: &str,
        caller: &Caller<'_>,
        action: &str,
        keys: &dyn Fn(&str) -> Option<String>,
    ) -> Decision {
        let resources = requested_resources(function_arn, qualifier);
        let query = Query {
            principal: Some(caller),
            action,
            resources: &resources,
            keys,
        };
        let mut decision = Decision::ImplicitDeny;
        for statement in self.statements() {
            match statement_verdict(statement, &query) {
                Verdict::Deny => return Decision::ExplicitDeny,
                Verdict::Allow => decision = Decision::Allow,
                Verdict::NotApplicable => {}
            }
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: &str = "arn:aws:lambda:us-east-1:123456789012:function:f";

    fn req<'a>(arn: Option<&'a str>, account: Option<&'a str>) -> ServiceRequest<'a> {
        ServiceRequest {
            principal: "s3.amazonaws.com",
            action: "lambda:InvokeFunction",
            function_arn: F,
            source_arn: arn,
            source_account: account,
            ..Default::default()
        }
    }

    fn policy(statements: &[&str]) -> Policy {
        let mut p = Policy::default();
        for s in statements {
            p.push(s).unwrap();
        }
        p
    }

    /// The statement `aws lambda add-permission --principal s3.amazonaws.com --source-arn
    /// arn:aws:s3:::b --source-account 123456789012` writes.
    const ADD_PERMISSION: &str = r#"{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"StringEquals":{"AWS:SourceAccount":"123456789012"},"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"}}}"#;

    #[test]
    fn globs_and_arns() {
        assert!(glob("a*c", "abbbc", false));
        assert!(glob("a?c", "abc", false));
        assert!(!glob("a?c", "abbc", false));
        assert!(glob("*", "", false));
        assert!(glob("lambda:*", "lambda:InvokeFunction", true));
        assert!(glob("LAMBDA:invoke*", "lambda:InvokeFunction", true));
        assert!(!glob("Lambda:x", "lambda:x", false));
        assert!(arn_like("arn:aws:s3:::b*", "arn:aws:s3:::bucket"));
        assert!(arn_like("arn:aws:s3:::*", "arn:aws:s3:::bucket"));
        assert!(!arn_like("arn:aws:s3:::bucket", "arn:aws:s3:::bucket2"));
        // The wildcard does not cross into another part of the ARN.
        assert!(!arn_like("arn:aws:s3*", "arn:aws:s3:::b"));
        assert!(arn_like("*", "arn:aws:s3:::b"));
        assert!(arn_like(&format!("{F}*"), &format!("{F}:1")));
    }

    #[test]
    fn the_statement_add_permission_writes_is_enforced() {
        let p = policy(&[ADD_PERMISSION]);
        assert!(p.allows_service(None, &req(Some("arn:aws:s3:::b"), Some("123456789012"))));
        assert!(p.allows_service(
            Some("$LATEST"),
            &req(Some("arn:aws:s3:::b"), Some("123456789012"))
        ));
        assert!(!p.allows_service(None, &req(Some("arn:aws:s3:::c"), Some("123456789012"))));
        assert!(!p.allows_service(None, &req(Some("arn:aws:s3:::b"), Some("210987654321"))));
        // A condition on a key the request lacks does not hold.
        assert!(!p.allows_service(None, &req(Some("arn:aws:s3:::b"), None)));
        assert!(!p.allows_service(None, &req(None, Some("123456789012"))));
        // Another service, another action.
        let mut other = req(Some("arn:aws:s3:::b"), Some("123456789012"));
        other.principal = "sns.amazonaws.com";
        assert!(!p.allows_service(None, &other));
        let mut other = req(Some("arn:aws:s3:::b"), Some("123456789012"));
        other.action = "lambda:GetFunction";
        assert!(!p.allows_service(None, &other));
        assert!(!Policy::default().allows_service(None, &req(None, None)));
    }

    #[test]
    fn resource_is_the_qualifier_the_policy_is_attached_to() {
        let unqualified = policy(&[
            r#"{"Sid":"a","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}"#,
        ]);
        assert!(unqualified.allows_service(None, &req(None, None)));
        assert!(!unqualified.allows_service(Some("1"), &req(None, None)));
        let alias = policy(&[
            r#"{"Sid":"a","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f:live"}"#,
        ]);
        assert!(alias.allows_service(Some("live"), &req(None, None)));
        assert!(!alias.allows_service(Some("dev"), &req(None, None)));
        assert!(!alias.allows_service(None, &req(None, None)));
        let wild = policy(&[
            r#"{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:lambda:*:123456789012:function:f*"}"#,
        ]);
        assert!(wild.allows_service(Some("7"), &req(None, None)));
        assert!(wild.allows_service(None, &req(None, None)));
        let elsewhere = policy(&[
            r#"{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:lambda:us-east-1:123456789012:function:g"}"#,
        ]);
        assert!(!elsewhere.allows_service(None, &req(None, None)));
        let none = policy(&[r#"{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*"}"#]);
        assert!(!none.allows_service(None, &req(None, None)));
    }

    #[test]
    fn principals_and_actions() {
        let s = |principal: &str, action: &str| {
            format!(
                r#"{{"Sid":"a","Effect":"Allow","Principal":{principal},"Action":{action},"Resource":"{F}"}}"#
            )
        };
        let allows = |st: &str| policy(&[st]).allows_service(None, &req(None, None));
        assert!(allows(&s(r#""*""#, r#""lambda:InvokeFunction""#)));
        assert!(allows(&s(r#"{"AWS":"*"}"#, r#""lambda:*""#)));
        assert!(allows(&s(
            r#"{"Service":["sns.amazonaws.com","s3.amazonaws.com"]}"#,
            r#"["lambda:GetFunction","lambda:Invoke*"]"#
        )));
        assert!(allows(&s(r#"{"Service":"s3.amazonaws.com"}"#, r#""*""#)));
        assert!(!allows(&s(r#"{"Service":"sns.amazonaws.com"}"#, r#""*""#)));
        assert!(!allows(&s(
            r#"{"AWS":"arn:aws:iam::123456789012:root"}"#,
            r#""*""#
        )));
        assert!(!allows(&s(r#""*""#, r#""lambda:InvokeFunctionUrl""#)));
        assert!(!allows(&s(r#""*""#, r#""lambda:Get*""#)));
        assert!(allows(&format!(
            r#"{{"Sid":"a","Effect":"Allow","Principal":"*","NotAction":"lambda:Get*","Resource":"{F}"}}"#
        )));
        assert!(!allows(&format!(
            r#"{{"Sid":"a","Effect":"Allow","NotPrincipal":{{"Service":"s3.amazonaws.com"}},"Action":"*","Resource":"{F}"}}"#
        )));
        assert!(!allows(&format!(
            r#"{{"Sid":"a","Effect":"Allow","Action":"*","Resource":"{F}"}}"#
        )));
    }

    #[test]
    fn an_aws_principal_of_the_account_is_granted_and_denied() {
        let p = policy(&[
            r#"{"Sid":"a","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/alice"},"Action":"lambda:GetFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f"}"#,
            r#"{"Sid":"b","Effect":"Deny","Principal":{"AWS":"123456789012"},"Action":"lambda:DeleteFunction","Resource":"*"}"#,
        ]);
        let alice = [
            "arn:aws:iam::123456789012:user/alice".to_string(),
            "arn:aws:iam::123456789012:root".to_string(),
            "123456789012".to_string(),
        ];
        let bob = ["arn:aws:iam::123456789012:user/bob".to_string()];
        let no_keys = |_: &str| None;
        let decide = |names: &[String], action: &str, qualifier: Option<&str>| {
            let caller = Caller {
                service: "",
                aws: names,
            };
            p.decide_for(qualifier, F, &caller, action, &no_keys)
        };
        assert_eq!(decide(&alice, "lambda:GetFunction", None), Decision::Allow);
        assert_eq!(
            decide(&alice, "lambda:GetFunction", Some("1")),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&bob, "lambda:GetFunction", None),
            Decision::ImplicitDeny
        );
        assert_eq!(
            decide(&alice, "lambda:DeleteFunction", None),
            Decision::ExplicitDeny
        );
    }

    #[test]
    fn a_matching_deny_wins() {
        let allow = format!(
            r#"{{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"{F}"}}"#
        );
        let deny = format!(
            r#"{{"Sid":"d","Effect":"Deny","Principal":{{"Service":"s3.amazonaws.com"}},"Action":"lambda:InvokeFunction","Resource":"{F}","Condition":{{"ArnLike":{{"aws:sourcearn":"arn:aws:s3:::secret*"}}}}}}"#
        );
        let p = policy(&[&allow, &deny]);
        assert!(p.allows_service(None, &req(Some("arn:aws:s3:::public"), None)));
        assert!(!p.allows_service(None, &req(Some("arn:aws:s3:::secret-1"), None)));
        let p = policy(&[&deny, &allow]);
        assert!(!p.allows_service(None, &req(Some("arn:aws:s3:::secret-1"), None)));
        // A deny with a condition Ignis cannot evaluate still denies; such an allow never allows.
        let odd = format!(
            r#"{{"Sid":"d","Effect":"Deny","Principal":"*","Action":"*","Resource":"{F}","Condition":{{"DateGreaterThan":{{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}}}}"#
        );
        assert!(!policy(&[&allow, &odd]).allows_service(None, &req(None, None)));
        let odd_allow = odd.replace("Deny", "Allow");
        assert!(!policy(&[&odd_allow]).allows_service(None, &req(None, None)));
    }

    #[test]
    fn condition_operators() {
        let with = |cond: &str| {
            policy(&[&format!(
                r#"{{"Sid":"a","Effect":"Allow","Principal":"*","Action":"*","Resource":"{F}","Condition":{cond}}}"#
            )])
        };
        let r = req(Some("arn:aws:s3:::Bucket"), Some("123456789012"));
        let cases: &[(&str, bool)] = &[
            (
                r#"{"ArnEquals":{"AWS:SourceArn":"arn:aws:s3:::Bucket"}}"#,
                true,
            ),
            (
                r#"{"ArnEquals":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}"#,
                false,
            ),
            (
                r#"{"ArnLike":{"aws:SOURCEARN":["arn:aws:s3:::x","arn:aws:s3:::B*"]}}"#,
                true,
            ),
            (
                r#"{"ArnNotLike":{"aws:SourceArn":"arn:aws:s3:::B*"}}"#,
                false,
            ),
            (
                r#"{"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::other"}}"#,
                true,
            ),
            (
                r#"{"StringEquals":{"aws:SourceAccount":"123456789012"}}"#,
                true,
            ),
            (
                r#"{"StringEquals":{"aws:SourceAccount":["1","123456789012"]}}"#,
                true,
            ),
            (
                r#"{"StringNotEquals":{"aws:SourceAccount":"123456789012"}}"#,
                false,
            ),
            (r#"{"StringLike":{"aws:SourceAccount":"1234*"}}"#, true),
            (
                r#"{"StringLike":{"aws:SourceArn":"arn:aws:s3:::b*"}}"#,
                false,
            ),
            (r#"{"StringNotLike":{"aws:SourceArn":"*secret*"}}"#, true),
            (
                r#"{"StringEqualsIgnoreCase":{"aws:SourceArn":"ARN:AWS:S3:::BUCKET"}}"#,
                true,
            ),
            (
                r#"{"StringNotEqualsIgnoreCase":{"aws:SourceArn":"ARN:AWS:S3:::BUCKET"}}"#,
                false,
            ),
            // Every operator and every key must hold.
            (
                r#"{"StringEquals":{"aws:SourceAccount":"123456789012"},"ArnLike":{"aws:SourceArn":"arn:aws:s3:::nope"}}"#,
                false,
            ),
            (
                r#"{"StringEquals":{"aws:SourceAccount":"123456789012","lambda:FunctionUrlAuthType":"NONE"}}"#,
                false,
            ),
            // A key the request lacks: IfExists and negated operators hold.
            (
                r#"{"StringEqualsIfExists":{"aws:PrincipalOrgID":"o-1234567890"}}"#,
                true,
            ),
            (
                r#"{"StringNotEquals":{"aws:PrincipalOrgID":"o-1234567890"}}"#,
                true,
            ),
            (
                r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::B*"}}"#,
                true,
            ),
            (
                r#"{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::x"}}"#,
                false,
            ),
        ];
        for (cond, expected) in cases {
            assert_eq!(with(cond).allows_service(None, &r), *expected, "{cond}");
        }
    }
    /// The two statements `add-permission --function-url-auth-type NONE --principal '*'` and
    /// `add-permission --action lambda:InvokeFunction --invoked-via-function-url` write.
    const URL_NONE: &str = r#"{"Sid":"url","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"StringEquals":{"lambda:FunctionUrlAuthType":"NONE"}}}"#;
    const VIA_URL: &str = r#"{"Sid":"via","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Condition":{"Bool":{"lambda:InvokedViaFunctionUrl":"true"}}}"#;

    fn anonymous<'a>(action: &'a str, auth: &'static str) -> ServiceRequest<'a> {
        ServiceRequest {
            action,
            function_arn: F,
            function_url_auth_type: Some(auth),
            invoked_via_function_url: Some("true"),
            ..Default::default()
        }
    }

    #[test]
    fn an_anonymous_url_caller_is_matched_by_the_public_statements_only() {
        let p = policy(&[URL_NONE, VIA_URL]);
        assert!(p.allows_service(None, &anonymous("lambda:InvokeFunctionUrl", "NONE")));
        assert!(p.allows_service(None, &anonymous("lambda:InvokeFunction", "NONE")));
        // The condition names the auth type.
        assert!(!p.allows_service(None, &anonymous("lambda:InvokeFunctionUrl", "AWS_IAM")));
        // A service's statement never matches an anonymous caller.
        let s3_only = policy(&[ADD_PERMISSION]);
        assert!(!s3_only.allows_service(None, &anonymous("lambda:InvokeFunction", "NONE")));
        // Without the Bool condition's key the statement does not apply.
        let direct = ServiceRequest {
            invoked_via_function_url: None,
            ..anonymous("lambda:InvokeFunction", "NONE")
        };
        assert!(!policy(&[VIA_URL]).allows_service(None, &direct));
    }
}
