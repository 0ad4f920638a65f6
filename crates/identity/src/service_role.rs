//! A role assumed by a service on a resource's behalf, as Lambda assumes a function's execution
//! role: the role must exist and its trust policy must let the service principal
//! (`lambda.amazonaws.com`) call `sts:AssumeRole`. The session is an STS role session like
//! AssumeRole's, so every service resolves and authorises it the same way. What such a role
//! may do itself ([`Identity::role_may`]) is what a delivery made with it is checked by.

use crate::entities::{Role, Session, SessionOf, State, key};
use crate::{
    AccessRequest, Decision, IamMode, Identity, IdentityError, Principal, condition_keys,
    open_session,
};
use ignis_store::Caller;

/// The service principal that assumes functions' execution roles.
pub const LAMBDA: &str = "lambda.amazonaws.com";
/// What Lambda answers when it cannot assume a function's execution role.
pub const LAMBDA_CANNOT_ASSUME: &str =
    "The role defined for the function cannot be assumed by Lambda.";

/// Why a service cannot assume a role.
#[derive(Debug, thiserror::Error)]
pub enum AssumeRefusal {
    #[error("the role {0} does not exist")]
    NoSuchRole(String),
    #[error("the role {role} does not trust {service}")]
    NotTrusted { role: String, service: String },
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

impl Identity {
    /// Whether `service` (e.g. `lambda.amazonaws.com`) may assume the role named by `role_arn`.
    pub fn service_may_assume(&self, role_arn: &str, service: &str) -> Result<(), AssumeRefusal> {
        trusted(&self.snapshot(), role_arn, service).map(|_| ())
    }

    /// A new session of the role named by `role_arn` for `service`, named `session_name`
    /// (Lambda names it after the function) and lasting `seconds`.
    pub async fn assume_for_service(
        &self,
        role_arn: &str,
        service: &str,
        session_name: &str,
        seconds: i64,
    ) -> Result<Session, AssumeRefusal> {
        self.change(|state| {
            let role = trusted(state, role_arn, service)?;
            let of = SessionOf::Role {
                role,
                session_name: session_name.to_string(),
                policy: None,
                policy_arns: Vec::new(),
            };
            Ok::<_, AssumeRefusal>(open_session(state, of, seconds))
        })
        .await
    }
}

/// The role's key in `state` when it exists and trusts `service`.
impl Identity {
    /// Whether the role `role_arn` names may take `action` on `resource` by its own policies:
    /// what a service acting with a function's execution role (a destination's delivery)
    /// checks. Everything is allowed under [`IamMode::Off`]; a role that does not exist, nothing.
    pub fn role_may(&self, role_arn: &str, action: &str, resource: &str) -> Result<(), String> {
        if self.mode() == IamMode::Off {
            return Ok(());
        }
        let state = self.snapshot();
        let Some(role) = role_by_arn(&state, role_arn) else {
            return Err(format!("the role {role_arn} does not exist"));
        };
        // The role's own policies: what a session of it without session policies may do.
        let principal = Principal::RoleSession {
            account: self.account().to_string(),
            role: role.name.clone(),
            role_id: role.id.clone(),
            role_arn: role.arn.clone(),
            session: String::new(),
            key_id: String::new(),
        };
        drop(state);
        let keys = condition_keys(&principal, None, &[]);
        let request = AccessRequest {
            action,
            resource,
            keys: &keys,
        };
        match self.authorize(&principal, &request) {
            Decision::Allow => Ok(()),
            d => Err(format!(
                "the execution role {role_arn} is not authorized to perform: {action} on resource: {resource}{}",
                if d == Decision::ExplicitDeny {
                    " with an explicit deny"
                } else {
                    ""
                }
            )),
        }
    }
}

/// The role an ARN names, if it exists.
fn role_by_arn<'s>(state: &'s State, role_arn: &str) -> Option<&'s Role> {
    role_arn
        .rsplit_once('/')
        .and_then(|(_, name)| state.roles.get(&key(name)))
        .filter(|r| r.arn == role_arn)
}

fn trusted(state: &State, role_arn: &str, service: &str) -> Result<String, AssumeRefusal> {
    let role = role_by_arn(state, role_arn)
        .ok_or_else(|| AssumeRefusal::NoSuchRole(role_arn.to_string()))?;
    let not_trusted = || AssumeRefusal::NotTrusted {
        role: role_arn.to_string(),
        service: service.to_string(),
    };
    let trust: serde_json::Value = serde_json::from_str(&role.trust).map_err(|_| not_trusted())?;
    let caller = Caller { service, aws: &[] };
    if ignis_store::is_allowed_by_trust(&trust, &caller, "sts:AssumeRole", &|_| None) {
        Ok(key(&role.name))
    } else {
        Err(not_trusted())
    }
}
