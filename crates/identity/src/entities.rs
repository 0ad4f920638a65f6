//! The entities IAM and STS keep: what is stored (each one a JSON document) and held in memory.
//!
//! Names of users, groups, roles and policies are unique regardless of case, as in IAM: the
//! maps are keyed by the lower-cased name ([`key`]), the entity keeps the name as given.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The key of a named entity in its map: its name, lower-cased.
pub fn key(name: &str) -> String {
    name.to_lowercase()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Inline policies by name (in name order), each its document as given.
pub type InlinePolicies = BTreeMap<String, String>;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: InlinePolicies,
    /// Managed policies' ARNs, in the order they were attached.
    #[serde(default)]
    pub attached: Vec<String>,
    /// The keys of the groups the user is in, in the order it was added.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub inline: InlinePolicies,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    /// The trust policy, as given.
    pub trust: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The longest session AssumeRole may grant, in seconds (3,600 to 43,200).
    pub max_session_seconds: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline: InlinePolicies,
    #[serde(default)]
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, …
    pub id: String,
    pub document: String,
    pub created: DateTime<Utc>,
}

/// A customer managed policy (AWS's own are [`crate::managed`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub path: String,
    pub arn: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    #[serde(default)]
    pub description: Option<String>,
    pub default_version: String,
    /// Oldest first; at most five.
    pub versions: Vec<PolicyVersion>,
    /// The number the next version gets (versions are never renumbered).
    pub next_version: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// A user's long-term access key.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub secret: String,
    /// The key of the user it belongs to.
    pub user: String,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Whose temporary credentials a session's are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum SessionOf {
    /// GetSessionToken by the account's root user.
    Root,
    /// GetSessionToken by a user (its key).
    User { user: String },
    /// AssumeRole: the role's key, the session's name and the session policies passed.
    Role {
        role: String,
        session_name: String,
        #[serde(default)]
        policy: Option<String>,
        #[serde(default)]
        policy_arns: Vec<String>,
    },
}

/// Temporary credentials (`ASIA…`) with their session token.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub key_id: String,
    pub secret: String,
    pub token: String,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub of: SessionOf,
}

impl Session {
    /// New temporary credentials (`ASIA…`) of `of`, lasting `seconds` from now.
    pub fn new(of: SessionOf, seconds: i64) -> Session {
        let now = Utc::now();
        Session {
            key_id: crate::ids::access_key_id("ASIA"),
            secret: crate::ids::secret(),
            token: crate::ids::session_token(),
            created: now,
            expires: now + chrono::Duration::seconds(seconds),
            of,
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("key_id", &self.key_id)
            .field("expires", &self.expires)
            .field("of", &self.of)
            .finish_non_exhaustive()
    }
}

/// When and where an access key was last used (kept in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUsed {
    pub at: DateTime<Utc>,
    pub service: String,
    pub region: String,
}

/// Everything IAM and STS know, as held in memory.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies by ARN.
    pub policies: BTreeMap<String, ManagedPolicy>,
    pub keys: HashMap<String, AccessKey>,
    pub sessions: HashMap<String, Session>,
}

/// The kinds of stored documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
    Role,
    Policy,
    AccessKey,
    Session,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::User,
        Kind::Group,
        Kind::Role,
        Kind::Policy,
        Kind::AccessKey,
        Kind::Session,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Group => "group",
            Kind::Role => "role",
            Kind::Policy => "policy",
            Kind::AccessKey => "access-key",
            Kind::Session => "session",
        }
    }
}

/// An entity a change wrote or removed: its document is written, or deleted if it is gone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Touched(pub Kind, pub String);

impl State {
    /// The stored document of an entity, `None` if it does not exist.
    pub(crate) fn document(&self, Touched(kind, key): &Touched) -> Option<String> {
        let json = match kind {
            Kind::User => self.users.get(key).map(serde_json::to_string),
            Kind::Group => self.groups.get(key).map(serde_json::to_string),
            Kind::Role => self.roles.get(key).map(serde_json::to_string),
            Kind::Policy => self.policies.get(key).map(serde_json::to_string),
            Kind::AccessKey => self.keys.get(key).map(serde_json::to_string),
            Kind::Session => self.sessions.get(key).map(serde_json::to_string),
        };
        json.map(|r| r.expect("identity entities serialise"))
    }

    /// Adds a stored document.
    pub(crate) fn load(&mut self, kind: Kind, key: String, body: &str) -> serde_json::Result<()> {
        match kind {
            Kind::User => {
                self.users.insert(key, serde_json::from_str(body)?);
            }
            Kind::Group => {
                self.groups.insert(key, serde_json::from_str(body)?);
            }
            Kind::Role => {
                self.roles.insert(key, serde_json::from_str(body)?);
            }
            Kind::Policy => {
                self.policies.insert(key, serde_json::from_str(body)?);
            }
            Kind::AccessKey => {
                self.keys.insert(key, serde_json::from_str(body)?);
            }
            Kind::Session => {
                self.sessions.insert(key, serde_json::from_str(body)?);
            }
        }
        Ok(())
    }

    /// How many users, groups and roles a managed policy is attached to.
    pub fn attachment_count(&self, arn: &str) -> usize {
        let has = |v: &Vec<String>| v.iter().any(|a| a == arn);
        self.users.values().filter(|u| has(&u.attached)).count()
            + self.groups.values().filter(|g| has(&g.attached)).count()
            + self.roles.values().filter(|r| has(&r.attached)).count()
    }

    /// The default version's document of a managed policy, customer or AWS.
    pub fn managed_document(&self, arn: &str) -> Option<&str> {
        match self.policies.get(arn) {
            Some(p) => p.default_document(),
            None => crate::managed::get(arn).map(|p| p.document.as_str()),
        }
    }
}
