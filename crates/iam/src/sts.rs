//! STS: GetCallerIdentity, AssumeRole and GetSessionToken.
//!
//! AssumeRole grants a role session when the caller is an IAM user or a role session (never
//! the root user, as on AWS), the role's trust policy allows the caller `sts:AssumeRole` (with
//! `sts:ExternalId` and the global keys among its conditions), and — unless the trust policy
//! names the caller itself rather than its account — the caller's own policies allow
//! `sts:AssumeRole` on the role. Session policies (`Policy`, `PolicyArns`) are stored with the
//! session and intersect the role's permissions.

use crate::query::{Xml, iso8601};
use crate::validate::{self, PolicyUse};
use crate::{Cx, IamError};
use ignis_identity::entities::{Session, SessionOf, key};
use ignis_identity::{Caller, Principal, open_session};

/// The shortest session STS grants, in seconds.
pub const MIN_DURATION_SECONDS: u32 = 900;
/// A session started from a role session (role chaining) lasts at most an hour.
const CHAINED_MAX_SECONDS: i64 = 3600;
/// GetSessionToken's bounds for users (the root user: at most an hour).
const SESSION_TOKEN_MAX_SECONDS: i64 = 129_600;
const SESSION_TOKEN_DEFAULT_SECONDS: i64 = 43_200;
/// Inline session policies are at most this large, and at most ten managed ones are passed.
const MAX_SESSION_POLICY: usize = 2048;
const MAX_POLICY_ARNS: usize = 10;

pub async fn operation(cx: &Cx<'_>, action: &str) -> Result<Option<Xml>, IamError> {
    match action {
        "GetCallerIdentity" => {
            let mut x = Xml::new();
            x.el("Arn", &cx.principal.arn())
                .el("UserId", &cx.principal.user_id())
                .el("Account", cx.principal.account());
            Ok(Some(x))
        }
        "AssumeRole" => assume_role(cx).await.map(Some),
        "GetSessionToken" => session_token(cx).await.map(Some),
        _ => Err(IamError::new(
            "InvalidAction",
            400,
            format!("Could not find operation {action} for version 2011-06-15"),
        )),
    }
}

fn duration(cx: &Cx<'_>, default: i64, max: i64) -> Result<i64, IamError> {
    let min = i64::from(cx.iam.min_session_seconds);
    let d = cx.p.integer("DurationSeconds")?.unwrap_or(default);
    if d < min {
        return Err(IamError::validation(format!(
            "1 validation error detected: Value '{d}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {min}"
        )));
    }
    if d > max {
        return Err(IamError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    Ok(d)
}

fn write_credentials(x: &mut Xml, s: &Session) {
    x.wrap("Credentials", |x| {
        x.el("AccessKeyId", &s.key_id)
            .el("SecretAccessKey", &s.secret)
            .el("SessionToken", &s.token)
            .el("Expiration", &iso8601(&s.expires));
    });
}

async fn assume_role(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let role_arn = cx.p.required("RoleArn")?.to_string();
    let session_name = cx.p.required("RoleSessionName")?.to_string();
    let len = session_name.chars().count();
    if !(2..=64).contains(&len)
        || !session_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
    {
        return Err(IamError::validation(format!(
            "1 validation error detected: Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
        )));
    }
    let external_id = cx.p.get("ExternalId").map(str::to_string);
    let policy = cx.p.get("Policy").map(str::to_string);
    let policy_arns = cx.p.list_of("PolicyArns", "arn");
    if let Some(p) = &policy {
        validate::policy(p, PolicyUse::Identity)?;
        if validate::policy_size(p) > MAX_SESSION_POLICY {
            return Err(IamError::new(
                "PackedPolicyTooLarge",
                400,
                "Packed policy consumes more than 100 percent of the allotted size.",
            ));
        }
    }
    if policy_arns.len() > MAX_POLICY_ARNS {
        return Err(IamError::validation(
            "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10",
        ));
    }
    if cx.principal.is_root() {
        return Err(IamError::access_denied(
            "Roles may not be assumed by root accounts.",
        ));
    }
    let denied = || {
        IamError::access_denied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            cx.principal.arn()
        ))
    };
    let state = cx.identity().snapshot();
    // The role, by its ARN (path and name).
    let role = role_arn
        .rsplit_once('/')
        .and_then(|(_, name)| state.roles.get(&key(name)))
        .filter(|r| r.arn == role_arn)
        .ok_or_else(denied)?;
    let trust: serde_json::Value = serde_json::from_str(&role.trust).map_err(|_| denied())?;
    let extra: Vec<(&str, String)> = external_id
        .iter()
        .map(|id| ("sts:ExternalId", id.clone()))
        .chain([("sts:RoleSessionName", session_name.clone())])
        .collect();
    let keys = ignis_identity::condition_keys(&cx.principal, Some(cx.source_ip.clone()), &extra);
    // Named itself, the caller needs nothing more; trusted by its account, it needs its own
    // policies to allow the role too.
    let mut own: Vec<String> = vec![cx.principal.arn()];
    if let Principal::RoleSession { role_arn, .. } = &cx.principal {
        own.push(role_arn.clone());
    }
    let itself = Caller {
        service: "",
        aws: &own,
    };
    let account = Caller {
        service: "",
        aws: &cx.principal.policy_names(),
    };
    if !ignis_identity::is_allowed_by_trust(&trust, &itself, "sts:AssumeRole", &keys) {
        if !ignis_identity::is_allowed_by_trust(&trust, &account, "sts:AssumeRole", &keys) {
            return Err(denied());
        }
        cx.allow_with("sts:AssumeRole", &role_arn, &extra)?;
    }
    let chained = matches!(cx.principal, Principal::RoleSession { .. });
    let max = if chained {
        CHAINED_MAX_SECONDS
    } else {
        i64::from(role.max_session_seconds)
    };
    let seconds = match duration(cx, 3600, max) {
        Err(_) if chained && cx.p.integer("DurationSeconds")?.unwrap_or(0) > max => {
            return Err(IamError::validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        d => d?,
    };
    for arn in &policy_arns {
        if state.managed_document(arn).is_none() {
            return Err(IamError::invalid_input(format!(
                "Policy {arn} does not exist."
            )));
        }
    }
    let packed = policy.as_deref().map(validate::policy_size);
    let of = SessionOf::Role {
        role: key(&role.name),
        session_name: session_name.clone(),
        policy,
        policy_arns,
    };
    let (role_id, role_name) = (role.id.clone(), role.name.clone());
    let session = cx
        .identity()
        .change(|state| Ok::<_, IamError>(open_session(state, of, seconds)))
        .await?;
    let mut x = Xml::new();
    write_credentials(&mut x, &session);
    x.wrap("AssumedRoleUser", |x| {
        x.el("AssumedRoleId", &format!("{role_id}:{session_name}"))
            .el(
                "Arn",
                &format!(
                    "arn:aws:sts::{}:assumed-role/{role_name}/{session_name}",
                    cx.account()
                ),
            );
    });
    if let Some(size) = packed {
        x.el(
            "PackedPolicySize",
            &(size * 100 / MAX_SESSION_POLICY).to_string(),
        );
    }
    Ok(x)
}

async fn session_token(cx: &Cx<'_>) -> Result<Xml, IamError> {
    let state = cx.identity().snapshot();
    if state.sessions.contains_key(&cx.key_id) {
        return Err(IamError::access_denied(
            "Cannot call GetSessionToken with session credentials",
        ));
    }
    let (of, max) = match &cx.principal {
        Principal::Root { .. } => (SessionOf::Root, 3600),
        Principal::User { name, .. } => (
            SessionOf::User { user: key(name) },
            SESSION_TOKEN_MAX_SECONDS,
        ),
        Principal::RoleSession { .. } => {
            return Err(IamError::access_denied(
                "Cannot call GetSessionToken with session credentials",
            ));
        }
    };
    let seconds = duration(cx, SESSION_TOKEN_DEFAULT_SECONDS.min(max), max)?;
    let session = cx
        .identity()
        .change(|state| Ok::<_, IamError>(open_session(state, of, seconds)))
        .await?;
    let mut x = Xml::new();
    write_credentials(&mut x, &session);
    Ok(x)
}
