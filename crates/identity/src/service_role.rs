//! A role assumed by a service on a resource's behalf, as Lambda assumes a function's execution
//! role: the role must exist and its trust policy must let the service principal
//! (`lambda.amazonaws.com`) call `sts:AssumeRole`. The session is an STS role session like
//! AssumeRole's, so every service resolves and authorises it the same way.

use crate::entities::{Session, SessionOf, State, key};
use crate::{Identity, IdentityError, open_session};
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
fn trusted(state: &State, role_arn: &str, service: &str) -> Result<String, AssumeRefusal> {
    let role = role_arn
        .rsplit_once('/')
        .and_then(|(_, name)| state.roles.get(&key(name)))
        .filter(|r| r.arn == role_arn)
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
