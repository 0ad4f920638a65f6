//! The execution role's temporary credentials each environment receives in place of any
//! node key: where they come from is the server's business (identity assumes the role for
//! `lambda.amazonaws.com`); the invoker asks once per environment and retires an idle
//! environment before its credentials run out, so a running function never holds expired ones.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

/// What [`CredentialSource::credentials`] answers.
pub type Issued<'a> =
    Pin<Box<dyn Future<Output = Result<Option<RoleCredentials>, String>> + Send + 'a>>;

/// An idle environment whose credentials expire sooner than this is not reused.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(3600);

/// A role session's key, secret and token.
#[derive(Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expires: SystemTime,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl RoleCredentials {
    /// The variables the AWS SDKs read them from.
    pub fn variables(&self) -> [(&'static str, String); 3] {
        [
            ("AWS_ACCESS_KEY_ID", self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", self.session_token.clone()),
        ]
    }

    /// Whether an environment holding these may still take an invocation.
    pub fn fresh(&self) -> bool {
        self.expires
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > REFRESH_BEFORE)
    }
}

/// Gives a function's environment the credentials of its execution role.
pub trait CredentialSource: Send + Sync + std::fmt::Debug {
    /// Credentials of `role_arn` for `function`; `Ok(None)` when this node hands functions
    /// none (the role cannot be assumed and the node does not enforce IAM), an error's text
    /// when the invocation must fail.
    fn credentials<'a>(&'a self, role_arn: &'a str, function: &'a str) -> Issued<'a>;
}
