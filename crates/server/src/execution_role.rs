//! Each execution environment's credentials: a session of its function's execution role,
//! assumed for `lambda.amazonaws.com` and named after the function, as Lambda does. The node's
//! own key never reaches a function.

use ignis_identity::{AssumeRefusal, IamMode, Identity, LAMBDA, LAMBDA_CANNOT_ASSUME};
use ignis_invoker::{CredentialSource, Issued, REFRESH_BEFORE, RoleCredentials};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long a session lasts (STS's longest role session).
const SESSION_SECONDS: i64 = 12 * 3600;
/// A function's session is handed to its next environments while it has this much left, so a
/// burst of cold starts makes one session, not one each; an environment holding it is retired
/// [`REFRESH_BEFORE`] its expiry.
const REUSE_WHILE: Duration = Duration::from_secs(6 * 3600);

pub struct Sessions {
    identity: Identity,
    /// Per (role ARN, function name), the session its environments get now.
    current: Mutex<HashMap<(String, String), RoleCredentials>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    pub fn new(identity: Identity) -> Sessions {
        debug_assert!(REUSE_WHILE > REFRESH_BEFORE);
        Sessions {
            identity,
            current: Mutex::default(),
        }
    }

    fn reusable(&self, key: &(String, String)) -> Option<RoleCredentials> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = current.get(key).is_some_and(|c| {
            c.expires
                .duration_since(SystemTime::now())
                .is_ok_and(|left| left > REUSE_WHILE)
        });
        if fresh {
            current.get(key).cloned()
        } else {
            current.remove(key);
            None
        }
    }
}

impl CredentialSource for Sessions {
    fn credentials<'a>(&'a self, role_arn: &'a str, function: &'a str) -> Issued<'a> {
        Box::pin(async move {
            let key = (role_arn.to_string(), function.to_string());
            if let Some(c) = self.reusable(&key) {
                return Ok(Some(c));
            }
            let session = match self
                .identity
                .assume_for_service(role_arn, LAMBDA, function, SESSION_SECONDS)
                .await
            {
                Ok(session) => session,
                Err(AssumeRefusal::Identity(e)) => {
                    tracing::error!(error = ?e, role = role_arn, "cannot store a role session");
                    return Err("Lambda could not obtain the execution role's credentials: internal failure.".into());
                }
                // A development node runs functions whose role does not exist, without
                // credentials (never with the node's).
                Err(refusal) if self.identity.mode() == IamMode::Off => {
                    tracing::warn!(%refusal, function, "the function runs without credentials");
                    return Ok(None);
                }
                Err(refusal) => {
                    tracing::warn!(%refusal, function, "execution role cannot be assumed");
                    return Err(LAMBDA_CANNOT_ASSUME.into());
                }
            };
            let c = RoleCredentials {
                access_key_id: session.key_id,
                secret_access_key: session.secret,
                session_token: session.token,
                expires: SystemTime::from(session.expires),
            };
            self.current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, c.clone());
            Ok(Some(c))
        })
    }
}
