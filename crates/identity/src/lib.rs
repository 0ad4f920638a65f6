//! Identity: the principals of the node's account and what they may do.
//!
//! It owns IAM's and STS's state ([`State`]: users, groups, roles with trust policies, access
//! keys, inline and customer managed policies with their versions, attachments, role
//! sessions), AWS's managed policies ([`managed`]), resolving an access key id to its secret
//! and [`Principal`] ([`Identity::resolve`]: the root key, a user's key, a session's temporary
//! key with its token and expiry), and authorising a principal's request by AWS's policy
//! evaluation ([`Identity::authorize`], on `ignis-store`'s evaluator).
//!
//! The whole state is in memory: resolving a key and evaluating policies read no disk. Every
//! change is made on a copy under one writer ([`Identity::change`]), the documents it touched
//! are committed to the store in one transaction, and only then does the copy become the
//! state readers see. It does not own the IAM or STS wire (`ignis-iam`), nor which action and
//! resource an operation is (each service's).

mod authenticate;
pub mod entities;
mod function_access;
pub mod ids;
pub mod managed;
mod principal;
mod service_role;

pub use authenticate::Authenticated;
pub use entities::{State, Touched};
pub use function_access::{FunctionDecision, FunctionResource};
pub use ignis_front::signed::Key;
pub use ignis_store::{AccessRequest, Caller, Decision, is_allowed_by_trust};
pub use principal::Principal;
pub use service_role::{AssumeRefusal, LAMBDA, LAMBDA_CANNOT_ASSUME};

use chrono::{DateTime, Utc};
use entities::{Kind, LastUsed, Session, SessionOf};
use ignis_store::{IdentityChange, IdentityDocument, Store, StoreError};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("identity store")]
    Store(#[from] StoreError),
    #[error("stored {kind} {key} is unreadable")]
    Corrupt {
        kind: &'static str,
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// The account's root key pair.
#[derive(Clone)]
pub struct RootKey {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Whether policies decide what a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IamMode {
    /// Every request is authorised by the account's policies (the default).
    Enforce,
    /// A single-user development node: every valid key acts as its account's root user.
    Off,
}

struct Inner {
    account: String,
    root: RootKey,
    mode: IamMode,
    state: RwLock<Arc<State>>,
    writer: tokio::sync::Mutex<()>,
    store: Store,
    last_used: Mutex<HashMap<String, LastUsed>>,
    /// Policy documents parsed once, by their text: a request evaluates from memory.
    parsed: RwLock<HashMap<String, Arc<Value>>>,
}

/// Parsed documents kept before the cache starts again from empty (documents a change
/// replaced are not removed one by one).
const PARSED_DOCUMENTS: usize = 4_096;

/// The identity of one account; cheap to clone.
#[derive(Clone)]
pub struct Identity(Arc<Inner>);

impl Identity {
    /// Loads the stored state (sessions that have expired are dropped from it).
    pub async fn open(
        store: Store,
        account: &str,
        root: RootKey,
        mode: IamMode,
    ) -> Result<Identity, IdentityError> {
        let mut state = State::default();
        let mut expired = Vec::new();
        for IdentityDocument { kind, key, body } in store.identity_documents().await? {
            let Some(kind) = Kind::ALL.into_iter().find(|k| k.as_str() == kind) else {
                tracing::warn!(%kind, "unknown identity document kind; ignored");
                continue;
            };
            state
                .load(kind, key.clone(), &body)
                .map_err(|source| IdentityError::Corrupt {
                    kind: kind.as_str(),
                    key,
                    source,
                })?;
        }
        let now = Utc::now();
        state.sessions.retain(|id, s| {
            let keep = s.expires > now;
            if !keep {
                expired.push(IdentityChange::Delete {
                    kind: Kind::Session.as_str().into(),
                    key: id.clone(),
                });
            }
            keep
        });
        store.change_identity(&expired).await?;
        Ok(Identity(Arc::new(Inner {
            account: account.to_string(),
            root,
            mode,
            state: RwLock::new(Arc::new(state)),
            writer: tokio::sync::Mutex::new(()),
            store,
            last_used: Mutex::default(),
            parsed: RwLock::default(),
        })))
    }

    pub fn account(&self) -> &str {
        &self.0.account
    }

    pub fn mode(&self) -> IamMode {
        self.0.mode
    }

    /// Whether `principal` may do anything: the root user, or any principal when IAM is off.
    pub fn acts_as_root(&self, principal: &Principal) -> bool {
        principal.is_root() || self.0.mode == IamMode::Off
    }

    /// The state now.
    pub fn snapshot(&self) -> Arc<State> {
        self.0
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies `change` to a copy of the state; when it succeeds, commits the documents it
    /// touched and makes the copy current. Changes are made one at a time.
    pub async fn change<T, E>(
        &self,
        change: impl FnOnce(&mut State) -> Result<(T, Vec<Touched>), E>,
    ) -> Result<T, E>
    where
        E: From<IdentityError>,
    {
        let _writer = self.0.writer.lock().await;
        let mut next = (*self.snapshot()).clone();
        let (out, touched) = change(&mut next)?;
        let changes: Vec<IdentityChange> = touched
            .iter()
            .map(|t| match next.document(t) {
                Some(body) => IdentityChange::Put(IdentityDocument {
                    kind: t.0.as_str().into(),
                    key: t.1.clone(),
                    body,
                }),
                None => IdentityChange::Delete {
                    kind: t.0.as_str().into(),
                    key: t.1.clone(),
                },
            })
            .collect();
        self.0
            .store
            .change_identity(&changes)
            .await
            .map_err(|e| E::from(IdentityError::Store(e)))?;
        *self.0.state.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(out)
    }

    /// The secret, session token, expiry and principal of an access key id; `None` for a key
    /// that does not exist or is inactive. An expired session still resolves (so that it is
    /// refused as expired).
    pub fn resolve(&self, key_id: &str) -> Option<Key<Principal>> {
        let account = &self.0.account;
        if key_id == self.0.root.access_key_id {
            return Some(Key {
                secret: self.0.root.secret_access_key.clone(),
                session_token: None,
                expires: None,
                principal: Principal::Root {
                    account: account.clone(),
                },
            });
        }
        let state = self.snapshot();
        if let Some(key) = state.keys.get(key_id) {
            if key.status != entities::KeyStatus::Active {
                return None;
            }
            let user = state.users.get(&key.user)?;
            return Some(Key {
                secret: key.secret.clone(),
                session_token: None,
                expires: None,
                principal: user_principal(account, user),
            });
        }
        let session = state.sessions.get(key_id)?;
        let principal = match &session.of {
            SessionOf::Root => Principal::Root {
                account: account.clone(),
            },
            SessionOf::User { user } => user_principal(account, state.users.get(user)?),
            SessionOf::Role {
                role, session_name, ..
            } => {
                let role = state.roles.get(role)?;
                Principal::RoleSession {
                    account: account.clone(),
                    role: role.name.clone(),
                    role_id: role.id.clone(),
                    role_arn: role.arn.clone(),
                    session: session_name.clone(),
                    key_id: key_id.to_string(),
                }
            }
        };
        Some(Key {
            secret: session.secret.clone(),
            session_token: Some(session.token.clone()),
            expires: Some(session.expires),
            principal,
        })
    }

    /// Notes that a long-term key signed a request for `service` in `region` (kept in memory;
    /// GetAccessKeyLastUsed reads it).
    pub fn note_use(&self, key_id: &str, service: &str, region: &str) {
        if !key_id.starts_with("AKIA") || key_id == self.0.root.access_key_id {
            return;
        }
        self.0
            .last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key_id.to_string(),
                LastUsed {
                    at: Utc::now(),
                    service: service.to_string(),
                    region: region.to_string(),
                },
            );
    }

    pub fn last_used(&self, key_id: &str) -> Option<LastUsed> {
        self.0
            .last_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key_id)
            .cloned()
    }

    /// Whether `principal` may make `request`, by its identity-based policies: the root user
    /// always; a user by its own and its groups' inline and attached policies; a role session
    /// by its role's, intersected with the session's policies when it was given any.
    pub fn authorize(&self, principal: &Principal, request: &AccessRequest<'_>) -> Decision {
        if self.acts_as_root(principal) {
            return Decision::Allow;
        }
        let state = self.snapshot();
        match principal {
            Principal::Root { .. } => Decision::Allow,
            Principal::User { name, .. } => match state.users.get(&entities::key(name)) {
                Some(user) => {
                    let mut docs = self.documents(&state, &user.inline, &user.attached);
                    for g in user.groups.iter().filter_map(|g| state.groups.get(g)) {
                        docs.extend(self.documents(&state, &g.inline, &g.attached));
                    }
                    ignis_store::evaluate(docs.iter().map(Arc::as_ref), request)
                }
                None => Decision::ImplicitDeny,
            },
            Principal::RoleSession { role, key_id, .. } => {
                let Some(role) = state.roles.get(&entities::key(role)) else {
                    return Decision::ImplicitDeny;
                };
                let role_decision = ignis_store::evaluate(
                    self.documents(&state, &role.inline, &role.attached)
                        .iter()
                        .map(Arc::as_ref),
                    request,
                );
                match state.sessions.get(key_id).map(|s| &s.of) {
                    Some(SessionOf::Role {
                        policy,
                        policy_arns,
                        ..
                    }) if policy.is_some() || !policy_arns.is_empty() => {
                        let docs: Vec<Arc<Value>> = policy
                            .iter()
                            .map(String::as_str)
                            .chain(policy_arns.iter().filter_map(|a| state.managed_document(a)))
                            .filter_map(|d| self.parsed(d))
                            .collect();
                        role_decision
                            .and(ignis_store::evaluate(docs.iter().map(Arc::as_ref), request))
                    }
                    _ => role_decision,
                }
            }
        }
    }
}

impl Identity {
    /// The parsed inline documents and attached managed policies' default documents.
    fn documents(
        &self,
        state: &State,
        inline: &entities::InlinePolicies,
        attached: &[String],
    ) -> Vec<Arc<Value>> {
        inline
            .values()
            .map(String::as_str)
            .chain(attached.iter().filter_map(|a| state.managed_document(a)))
            .filter_map(|d| self.parsed(d))
            .collect()
    }

    /// A policy document parsed, from memory after the first time; `None` if it does not
    /// parse (IAM checked it when it was written).
    fn parsed(&self, document: &str) -> Option<Arc<Value>> {
        if let Some(v) = self
            .0
            .parsed
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(document)
        {
            return Some(v.clone());
        }
        let value = Arc::new(serde_json::from_str::<Value>(document).ok()?);
        let mut parsed = self.0.parsed.write().unwrap_or_else(|e| e.into_inner());
        if parsed.len() >= PARSED_DOCUMENTS {
            parsed.clear();
        }
        parsed.insert(document.to_string(), value.clone());
        Some(value)
    }

    /// [`Identity::authorize`] for a service's request: `action` on `resource` with the global
    /// condition keys (`source_ip`: the caller's address) and `extra`. The root user is allowed
    /// without evaluating anything.
    pub fn decide(
        &self,
        principal: &Principal,
        source_ip: std::net::IpAddr,
        action: &str,
        resource: &str,
        extra: &[(&str, String)],
    ) -> Decision {
        if self.acts_as_root(principal) {
            return Decision::Allow;
        }
        let keys = condition_keys(principal, Some(source_ip.to_string()), extra);
        let request = AccessRequest {
            action,
            resource,
            keys: &keys,
        };
        self.authorize(principal, &request)
    }

    /// [`Identity::decide`], answering AWS's AccessDenied message ([`Principal::denial`]) when
    /// the request is refused.
    pub fn check(
        &self,
        principal: &Principal,
        source_ip: std::net::IpAddr,
        action: &str,
        resource: &str,
        extra: &[(&str, String)],
    ) -> Result<(), String> {
        match self.decide(principal, source_ip, action, resource, extra) {
            Decision::Allow => Ok(()),
            d => Err(principal.denial(action, resource, d == Decision::ExplicitDeny)),
        }
    }
}

fn user_principal(account: &str, user: &entities::User) -> Principal {
    Principal::User {
        account: account.to_string(),
        name: user.name.clone(),
        id: user.id.clone(),
        arn: user.arn.clone(),
    }
}

/// The global condition keys of a request by `principal` (`aws:PrincipalArn`,
/// `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:userid`, `aws:username`,
/// `aws:SourceIp`, `aws:SecureTransport`, `aws:CurrentTime`, `aws:EpochTime`), then `extra`.
pub fn condition_keys<'a>(
    principal: &'a Principal,
    source_ip: Option<String>,
    extra: &'a [(&'a str, String)],
) -> impl Fn(&str) -> Option<String> + 'a {
    let now: DateTime<Utc> = Utc::now();
    move |key: &str| {
        let k = key.to_ascii_lowercase();
        match k.as_str() {
            "aws:principalarn" => Some(match principal {
                Principal::RoleSession { role_arn, .. } => role_arn.clone(),
                p => p.arn(),
            }),
            "aws:principalaccount" => Some(principal.account().to_string()),
            "aws:principaltype" => Some(principal.principal_type().to_string()),
            "aws:userid" => Some(principal.user_id()),
            "aws:username" => match principal {
                Principal::User { name, .. } => Some(name.clone()),
                _ => None,
            },
            "aws:sourceip" => source_ip.clone(),
            "aws:securetransport" => Some("false".to_string()),
            "aws:currenttime" => Some(now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            "aws:epochtime" => Some(now.timestamp().to_string()),
            _ => extra
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.clone()),
        }
    }
}

/// Starts a session of `of` lasting `seconds`, removing every expired one: the session and
/// the entries touched.
pub fn open_session(state: &mut State, of: SessionOf, seconds: i64) -> (Session, Vec<Touched>) {
    let mut touched = expire_sessions(state, Utc::now());
    let session = Session::new(of, seconds);
    state
        .sessions
        .insert(session.key_id.clone(), session.clone());
    touched.push(Touched(Kind::Session, session.key_id.clone()));
    (session, touched)
}

/// The touched entries that remove every session expired at `now`.
pub fn expire_sessions(state: &mut State, now: DateTime<Utc>) -> Vec<Touched> {
    let gone: Vec<String> = state
        .sessions
        .iter()
        .filter(|(_, s)| s.expires <= now)
        .map(|(id, _)| id.clone())
        .collect();
    gone.into_iter()
        .map(|id| {
            state.sessions.remove(&id);
            Touched(Kind::Session, id)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use entities::{AccessKey, Group, KeyStatus, User};

    const ROOT: &str = "AKIAROOTROOTROOTROOT";

    async fn open(dir: &std::path::Path) -> Identity {
        let store = Store::open(&dir.join("m.db"), "n").await.unwrap();
        let root = RootKey {
            access_key_id: ROOT.into(),
            secret_access_key: "root-secret".into(),
        };
        Identity::open(store, "123456789012", root, IamMode::Enforce)
            .await
            .unwrap()
    }

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            id: ids::unique_id("AIDA"),
            path: "/".into(),
            arn: format!("arn:aws:iam::123456789012:user/{name}"),
            created: Utc::now(),
            tags: vec![],
            inline: Default::default(),
            attached: vec![],
            groups: vec![],
        }
    }

    fn request<'a>(action: &'a str, keys: &'a dyn Fn(&str) -> Option<String>) -> AccessRequest<'a> {
        AccessRequest {
            action,
            resource: "*",
            keys,
        }
    }

    #[tokio::test]
    async fn keys_resolve_policies_authorise_and_both_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let identity = open(dir.path()).await;
        assert!(identity.resolve(ROOT).unwrap().principal.is_root());
        identity
            .change(|state| {
                let mut alice = user("Alice");
                alice.groups.push("readers".into());
                state.users.insert("alice".into(), alice);
                let mut readers = Group {
                    name: "readers".into(),
                    id: ids::unique_id("AGPA"),
                    path: "/".into(),
                    arn: "arn:aws:iam::123456789012:group/readers".into(),
                    created: Utc::now(),
                    inline: Default::default(),
                    attached: vec![],
                };
                readers
                    .attached
                    .push("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess".into());
                state.groups.insert("readers".into(), readers);
                for (id, status) in [
                    ("AKIAACTIVE", KeyStatus::Active),
                    ("AKIAOFF", KeyStatus::Inactive),
                ] {
                    state.keys.insert(
                        id.into(),
                        AccessKey {
                            id: id.into(),
                            secret: "s".into(),
                            user: "alice".into(),
                            status,
                            created: Utc::now(),
                        },
                    );
                }
                state.sessions.insert(
                    "ASIAOLD".into(),
                    Session {
                        key_id: "ASIAOLD".into(),
                        secret: "s".into(),
                        token: "t".into(),
                        created: Utc::now(),
                        expires: Utc::now() - chrono::Duration::seconds(1),
                        of: SessionOf::User {
                            user: "alice".into(),
                        },
                    },
                );
                let touched = vec![
                    Touched(Kind::User, "alice".into()),
                    Touched(Kind::Group, "readers".into()),
                    Touched(Kind::AccessKey, "AKIAACTIVE".into()),
                    Touched(Kind::AccessKey, "AKIAOFF".into()),
                    Touched(Kind::Session, "ASIAOLD".into()),
                ];
                Ok::<_, IdentityError>(((), touched))
            })
            .await
            .unwrap();
        drop(identity);
        let identity = open(dir.path()).await;
        let alice = identity.resolve("AKIAACTIVE").unwrap().principal;
        assert_eq!(alice.arn(), "arn:aws:iam::123456789012:user/Alice");
        assert!(
            identity.resolve("AKIAOFF").is_none(),
            "inactive keys are unknown"
        );
        assert!(
            identity.resolve("ASIAOLD").is_none(),
            "expired sessions are dropped on open"
        );
        let keys = |_: &str| None;
        assert_eq!(
            identity.authorize(&alice, &request("s3:GetObject", &keys)),
            Decision::Allow
        );
        assert_eq!(
            identity.authorize(&alice, &request("s3:PutObject", &keys)),
            Decision::ImplicitDeny
        );
        let root = identity.resolve(ROOT).unwrap().principal;
        assert_eq!(
            identity.authorize(&root, &request("iam:DeleteUser", &keys)),
            Decision::Allow
        );
    }
}
