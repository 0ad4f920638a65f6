//! A principal's request on a function of its own account, decided as Lambda does: allowed
//! when its identity-based policies or the function's resource-based policy allow it and
//! neither denies it explicitly. The Lambda API and function URLs (`AWS_IAM`) both ask here.

use crate::{AccessRequest, Caller, Decision, Identity, Principal, condition_keys};

/// The function a request is on.
pub struct FunctionResource<'a> {
    pub name: &'a str,
    /// The version or alias named; `None` for the unqualified function.
    pub qualifier: Option<&'a str>,
    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub unqualified_arn: &'a str,
    /// The ARN the request is authorised on (qualified when a qualifier is named).
    pub arn: &'a str,
}

/// How a request on a function was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionDecision {
    Allow,
    /// An identity-based policy denies it.
    IdentityDeny,
    /// The function's resource-based policy denies it.
    ResourceDeny,
    /// Nothing allows it.
    NotAllowed,
}

impl FunctionDecision {
    /// AWS's AccessDenied message for a refusal (`None` when allowed).
    pub fn denial(self, principal: &Principal, action: &str, resource: &str) -> Option<String> {
        match self {
            FunctionDecision::Allow => None,
            FunctionDecision::IdentityDeny => Some(principal.denial(action, resource, true)),
            FunctionDecision::ResourceDeny => Some(format!(
                "User: {} is not authorized to perform: {action} on resource: {resource} with an explicit deny in a resource-based policy",
                principal.arn()
            )),
            FunctionDecision::NotAllowed => Some(principal.denial(action, resource, false)),
        }
    }
}

impl Identity {
    /// Whether `principal` may take `action` on `function` (`source_ip`: the caller's address;
    /// `extra`: the service's condition keys). The root user is allowed without evaluating
    /// anything; the function's policy is read from the store's memory while its revision holds.
    pub async fn decide_on_function(
        &self,
        principal: &Principal,
        source_ip: Option<String>,
        action: &str,
        function: &FunctionResource<'_>,
        extra: &[(&str, String)],
    ) -> FunctionDecision {
        if self.acts_as_root(principal) {
            return FunctionDecision::Allow;
        }
        let keys = condition_keys(principal, source_ip, extra);
        let by_identity = {
            let request = AccessRequest {
                action,
                resource: function.arn,
                keys: &keys,
            };
            self.authorize(principal, &request)
        };
        if by_identity == Decision::ExplicitDeny {
            return FunctionDecision::IdentityDeny;
        }
        let qualifier = function.qualifier.unwrap_or(ignis_model::arn::LATEST);
        let by_resource = match self
            .0
            .store
            .current_function_policy(function.name, qualifier)
            .await
        {
            Ok(Some(policy)) => {
                let names = principal.policy_names();
                let caller = Caller {
                    service: "",
                    aws: &names,
                };
                policy.decide_for(
                    function.qualifier,
                    function.unqualified_arn,
                    &caller,
                    action,
                    &keys,
                )
            }
            Ok(None) => Decision::ImplicitDeny,
            Err(e) => {
                tracing::warn!(error = %e, "reading a function policy to authorise a request");
                Decision::ImplicitDeny
            }
        };
        match (by_identity, by_resource) {
            (_, Decision::ExplicitDeny) => FunctionDecision::ResourceDeny,
            (Decision::Allow, _) | (_, Decision::Allow) => FunctionDecision::Allow,
            _ => FunctionDecision::NotAllowed,
        }
    }
}
