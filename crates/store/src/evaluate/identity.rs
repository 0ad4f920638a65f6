//! Identity-based policies (a user's, a group's, a role's, a session's) and a role's trust
//! policy, evaluated with the same statements as a function's resource policy.
//!
//! AWS's logic within one account: an explicit `Deny` in any policy wins; otherwise some
//! `Allow` must match; otherwise the request is implicitly denied. A session's policies
//! intersect its role's: both must allow ([`Decision::and`]).

use super::{Query, Verdict, statement_verdict};
use serde_json::Value;

/// Who makes a request, as a policy's `Principal` element sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// A service principal (`lambda.amazonaws.com`), or empty.
    pub service: &'a str,
    /// The `AWS` principal values that name the caller exactly: its ARN, its role's ARN, its
    /// account's root ARN and its account id.
    pub aws: &'a [String],
}

/// An action on a resource, with the condition keys the request carries.
pub struct AccessRequest<'a> {
    /// E.g. `iam:CreateUser`.
    pub action: &'a str,
    /// The resource's ARN, or `*` for an action on no resource.
    pub resource: &'a str,
    /// The value of a condition key (named case-insensitively), if the request carries it.
    pub keys: &'a dyn Fn(&str) -> Option<String>,
}

/// The outcome of evaluating a set of policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    /// A statement denies it.
    ExplicitDeny,
}

impl Decision {
    /// Both sets must allow (a session's policies and its role's); an explicit deny in either
    /// wins.
    pub fn and(self, other: Decision) -> Decision {
        use Decision::*;
        match (self, other) {
            (ExplicitDeny, _) | (_, ExplicitDeny) => ExplicitDeny,
            (Allow, Allow) => Allow,
            _ => ImplicitDeny,
        }
    }
}

/// The statements of a policy document (`Statement` is one object or an array of them).
fn statements(document: &Value) -> impl Iterator<Item = &Value> {
    let s = document.get("Statement");
    let list: &[Value] = match s {
        Some(Value::Array(items)) => items,
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    list.iter()
}

fn decide<'v>(statements: impl Iterator<Item = &'v Value>, query: &Query<'_>) -> Decision {
    let mut decision = Decision::ImplicitDeny;
    for statement in statements {
        match statement_verdict(statement, query) {
            Verdict::Deny => return Decision::ExplicitDeny,
            Verdict::Allow => decision = Decision::Allow,
            Verdict::NotApplicable => {}
        }
    }
    decision
}

/// Evaluates identity-based policy documents for a request.
pub fn evaluate<'v>(
    documents: impl IntoIterator<Item = &'v Value>,
    request: &AccessRequest<'_>,
) -> Decision {
    let resources = [request.resource.to_string()];
    let query = Query {
        principal: None,
        action: request.action,
        resources: &resources,
        keys: request.keys,
    };
    decide(documents.into_iter().flat_map(statements), &query)
}

/// Whether a role's trust policy lets `caller` take `action` (`sts:AssumeRole`) on it.
pub fn is_allowed_by_trust(
    document: &Value,
    caller: &Caller<'_>,
    action: &str,
    keys: &dyn Fn(&str) -> Option<String>,
) -> bool {
    let query = Query {
        principal: Some(caller),
        action,
        resources: &[],
        keys,
    };
    decide(statements(document), &query) == Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const USER: &str = "arn:aws:iam::123456789012:user/alice";

    fn no_keys(_: &str) -> Option<String> {
        None
    }

    fn decide_one(policies: &[Value], action: &str, resource: &str) -> Decision {
        evaluate(
            policies,
            &AccessRequest {
                action,
                resource,
                keys: &no_keys,
            },
        )
    }

    fn allow(action: Value, resource: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
    }

    /// Outcomes as AWS's policy evaluation logic documents them.
    #[test]
    fn the_evaluation_table() {
        use Decision::*;
        let admin = allow(json!("*"), json!("*"));
        let deny_delete =
            json!({"Statement": {"Effect": "Deny", "Action": "iam:Delete*", "Resource": "*"}});
        let not_action =
            json!({"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]});
        let not_resource = json!({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::secret/*"}]});
        let users = allow(
            json!(["iam:GetUser", "iam:List*"]),
            json!("arn:aws:iam::123456789012:user/*"),
        );
        let cases: Vec<(Vec<&Value>, &str, &str, Decision)> = vec![
            (vec![], "iam:GetUser", USER, ImplicitDeny),
            (vec![&admin], "iam:GetUser", USER, Allow),
            (
                vec![&admin, &deny_delete],
                "iam:DeleteUser",
                USER,
                ExplicitDeny,
            ),
            (vec![&deny_delete, &admin], "iam:GetUser", USER, Allow),
            (vec![&deny_delete], "iam:GetUser", USER, ImplicitDeny),
            (vec![&not_action], "iam:GetUser", USER, ImplicitDeny),
            (vec![&not_action], "lambda:ListFunctions", "*", Allow),
            (
                vec![&not_resource],
                "s3:GetObject",
                "arn:aws:s3:::public/a",
                Allow,
            ),
            (
                vec![&not_resource],
                "s3:GetObject",
                "arn:aws:s3:::secret/a",
                ImplicitDeny,
            ),
            (vec![&users], "iam:GetUser", USER, Allow),
            // Action names are case-insensitive, resources are not.
            (vec![&users], "IAM:listusers", USER, Allow),
            (
                vec![&users],
                "iam:GetUser",
                "arn:aws:iam::123456789012:USER/alice",
                ImplicitDeny,
            ),
            (
                vec![&users],
                "iam:GetRole",
                "arn:aws:iam::123456789012:role/r",
                ImplicitDeny,
            ),
            (
                vec![&users],
                "iam:GetUser",
                "arn:aws:iam::210987654321:user/alice",
                ImplicitDeny,
            ),
        ];
        for (policies, action, resource, expected) in cases {
            let owned: Vec<Value> = policies.into_iter().cloned().collect();
            assert_eq!(
                decide_one(&owned, action, resource),
                expected,
                "{action} {resource}"
            );
        }
    }

    #[test]
    fn conditions_on_identity_policies() {
        let p = json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {
            "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]},
            "Bool": {"aws:SecureTransport": "false"},
            "NumericLessThan": {"s3:max-keys": "10"},
            "Null": {"sts:ExternalId": "true"}
        }}]});
        let with = |ip: &'static str, max: &'static str, external: Option<&'static str>| {
            let keys = move |k: &str| match k.to_ascii_lowercase().as_str() {
                "aws:sourceip" => Some(ip.to_string()),
                "aws:securetransport" => Some("false".to_string()),
                "s3:max-keys" => Some(max.to_string()),
                "sts:externalid" => external.map(str::to_string),
                _ => None,
            };
            evaluate(
                std::slice::from_ref(&p),
                &AccessRequest {
                    action: "s3:ListBucket",
                    resource: "*",
                    keys: &keys,
                },
            )
        };
        assert_eq!(with("10.1.2.3", "5", None), Decision::Allow);
        assert_eq!(with("::1", "5", None), Decision::Allow);
        assert_eq!(with("11.1.2.3", "5", None), Decision::ImplicitDeny);
        assert_eq!(with("10.1.2.3", "10", None), Decision::ImplicitDeny);
        assert_eq!(with("10.1.2.3", "5", Some("x")), Decision::ImplicitDeny);
    }

    #[test]
    fn sessions_intersect_and_deny_wins() {
        use Decision::*;
        assert_eq!(Allow.and(Allow), Allow);
        assert_eq!(Allow.and(ImplicitDeny), ImplicitDeny);
        assert_eq!(ImplicitDeny.and(Allow), ImplicitDeny);
        assert_eq!(Allow.and(ExplicitDeny), ExplicitDeny);
        assert_eq!(ImplicitDeny.and(ExplicitDeny), ExplicitDeny);
    }

    #[test]
    fn trust_policies() {
        let account = [
            "arn:aws:iam::123456789012:root".to_string(),
            "123456789012".to_string(),
            USER.to_string(),
        ];
        let caller = Caller {
            service: "",
            aws: &account,
        };
        let lambda = Caller {
            service: "lambda.amazonaws.com",
            aws: &[],
        };
        let trust = |principal: Value, condition: Option<Value>| {
            let mut s =
                json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
            if let Some(c) = condition {
                s["Condition"] = c;
            }
            json!({"Version": "2012-10-17", "Statement": [s]})
        };
        let external = |v: &'static str| {
            move |k: &str| {
                k.eq_ignore_ascii_case("sts:ExternalId")
                    .then(|| v.to_string())
            }
        };
        assert!(is_allowed_by_trust(
            &trust(json!({"AWS": "123456789012"}), None),
            &caller,
            "sts:AssumeRole",
            &no_keys
        ));
        assert!(is_allowed_by_trust(
            &trust(json!({"AWS": USER}), None),
            &caller,
            "sts:AssumeRole",
            &no_keys
        ));
        assert!(!is_allowed_by_trust(
            &trust(json!({"AWS": "arn:aws:iam::123456789012:user/bob"}), None),
            &caller,
            "sts:AssumeRole",
            &no_keys
        ));
        assert!(!is_allowed_by_trust(
            &trust(json!({"AWS": USER}), None),
            &caller,
            "sts:TagSession",
            &no_keys
        ));
        assert!(!is_allowed_by_trust(
            &trust(json!({"Service": "lambda.amazonaws.com"}), None),
            &caller,
            "sts:AssumeRole",
            &no_keys
        ));
        assert!(is_allowed_by_trust(
            &trust(json!({"Service": "lambda.amazonaws.com"}), None),
            &lambda,
            "sts:AssumeRole",
            &no_keys
        ));
        let with_id = trust(
            json!({"AWS": "123456789012"}),
            Some(json!({"StringEquals": {"sts:ExternalId": "s3cret"}})),
        );
        assert!(is_allowed_by_trust(
            &with_id,
            &caller,
            "sts:AssumeRole",
            &external("s3cret")
        ));
        assert!(!is_allowed_by_trust(
            &with_id,
            &caller,
            "sts:AssumeRole",
            &external("guess")
        ));
        assert!(!is_allowed_by_trust(
            &with_id,
            &caller,
            "sts:AssumeRole",
            &no_keys
        ));
    }

    fn pattern() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("*".to_string()),
            Just("iam:*".to_string()),
            Just("iam:Get*".to_string()),
            Just("iam:GetUser".to_string()),
            Just("s3:*".to_string()),
            Just("?am:*User".to_string()),
        ]
    }

    fn statement() -> impl Strategy<Value = Value> {
        (any::<bool>(), any::<bool>(), pattern(), pattern()).prop_map(|(deny, not, action, resource)| {
            let mut s = json!({"Effect": if deny { "Deny" } else { "Allow" }, "Resource": if resource.contains(':') { "*".to_string() } else { resource }});
            s[if not { "NotAction" } else { "Action" }] = json!(action);
            s
        })
    }

    proptest! {
        /// Adding a statement that denies the request to any set of policies denies it.
        #[test]
        fn an_explicit_deny_always_wins(
            policies in proptest::collection::vec(proptest::collection::vec(statement(), 0..4), 0..4),
            action in prop_oneof![Just("iam:GetUser"), Just("iam:DeleteRole"), Just("s3:GetObject")],
            at in 0usize..5,
        ) {
            let mut docs: Vec<Value> = policies.into_iter().map(|s| json!({"Statement": s})).collect();
            let deny = json!({"Statement": {"Effect": "Deny", "Action": action, "Resource": "*"}});
            docs.insert(at.min(docs.len()), deny);
            prop_assert_eq!(decide_one(&docs, action, USER), Decision::ExplicitDeny);
        }
    }
}
