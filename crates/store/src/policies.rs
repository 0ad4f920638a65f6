//! Resource-based policies: per function qualifier (`$LATEST`, a version, an alias) and per
//! layer version.
//!
//! Statements are kept as the exact JSON text they were built as (member order matters to
//! clients comparing with AWS), in the order they were added. A function policy's revision is
//! the `RevisionId` of the version or alias it belongs to, and each change replaces that
//! revision in the same transaction, as Lambda does. A layer version policy has its own.

use crate::{Store, StoreError};
use ignis_model::FunctionConfig;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Lambda's limit on one resource-based policy document.
pub const MAX_POLICY_BYTES: usize = 20_480;

/// A policy's statements, each the JSON text it was written as, and (once evaluated) parsed.
#[derive(Debug, Default)]
pub struct Policy {
    statements: Vec<Box<RawValue>>,
    parsed: OnceLock<Vec<Value>>,
}

/// Function policies read for authorisation, by (function, qualifier), with the revision of
/// the version or alias they were read at: a request whose target's revision (from memory)
/// is the same reads no disk.
pub(crate) type PolicyCache = HashMap<(String, String), (String, Option<Arc<Policy>>)>;

/// Entries the policy cache holds before it starts again from empty (deleted functions' entries
/// are not removed one by one).
const POLICY_CACHE_ENTRIES: usize = 65_536;

#[derive(Deserialize)]
struct SidOnly<'a> {
    #[serde(rename = "Sid", borrow)]
    sid: std::borrow::Cow<'a, str>,
}

fn sid_of(statement: &RawValue) -> Option<String> {
    serde_json::from_str::<SidOnly<'_>>(statement.get())
        .ok()
        .map(|s| s.sid.into_owned())
}

impl Policy {
    /// Parses the stored array of statements.
    pub fn from_json(json: &str) -> Result<Policy, serde_json::Error> {
        Ok(Policy {
            statements: serde_json::from_str(json)?,
            parsed: OnceLock::new(),
        })
    }

    /// The stored form: a JSON array of the statements.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.statements).expect("raw statements always serialise")
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// The statements, parsed (once), in order; one that does not parse is left out.
    pub(crate) fn statements(&self) -> &[Value] {
        self.parsed.get_or_init(|| {
            self.statements
                .iter()
                .filter_map(|s| serde_json::from_str(s.get()).ok())
                .collect()
        })
    }

    /// Whether a statement has this id.
    pub fn contains(&self, sid: &str) -> bool {
        self.statements
            .iter()
            .any(|s| sid_of(s).as_deref() == Some(sid))
    }

    /// Appends a statement (JSON text of an object with a `Sid`).
    pub fn push(&mut self, statement_json: &str) -> Result<(), serde_json::Error> {
        self.statements
            .push(RawValue::from_string(statement_json.to_string())?);
        self.parsed = OnceLock::new();
        Ok(())
    }

    /// Removes the statement with this id; false when there is none.
    pub fn remove(&mut self, sid: &str) -> bool {
        let before = self.statements.len();
        self.statements
            .retain(|s| sid_of(s).as_deref() != Some(sid));
        self.parsed = OnceLock::new();
        self.statements.len() != before
    }

    /// The policy document GetPolicy returns:
    /// `{"Version":"2012-10-17","Id":"default","Statement":[...]}`.
    pub fn document(&self) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Id":"default","Statement":{}}}"#,
            self.to_json()
        )
    }
}

/// Why a policy change was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The function version, alias or layer version does not exist.
    #[error("the resource does not exist")]
    TargetNotFound,
    /// The resource has no policy.
    #[error("no policy is associated with the resource")]
    NoPolicy,
    #[error("statement {0} already exists")]
    StatementExists(String),
    #[error("statement {0} not found")]
    StatementNotFound(String),
    /// The caller's `RevisionId` is not the current one.
    #[error("revision mismatch")]
    RevisionMismatch,
    /// The document would exceed [`MAX_POLICY_BYTES`].
    #[error("the final policy size ({size}) is bigger than the limit ({limit})")]
    TooLarge { size: usize, limit: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PolicyError {
    fn from(e: sqlx::Error) -> PolicyError {
        PolicyError::Store(e.into())
    }
}

/// What a function policy belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyTarget<'a> {
    /// `$LATEST` (the unqualified function) or a published version number.
    Version(&'a str),
    Alias(&'a str),
}

impl PolicyTarget<'_> {
    /// The qualifier the policy is stored under.
    pub fn qualifier(&self) -> &str {
        match self {
            PolicyTarget::Version(v) | PolicyTarget::Alias(v) => v,
        }
    }
}

pub(crate) fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub(crate) fn checked_size(policy: &Policy) -> Result<(), PolicyError> {
    let size = policy.document().len();
    if size > MAX_POLICY_BYTES {
        return Err(PolicyError::TooLarge {
            size,
            limit: MAX_POLICY_BYTES,
        });
    }
    Ok(())
}

pub(crate) fn parse_stored(json: &str) -> Result<Policy, PolicyError> {
    Policy::from_json(json).map_err(|source| {
        PolicyError::Store(StoreError::Corrupt {
            name: "policy".into(),
            source,
        })
    })
}

impl Store {
    /// The policy of a function qualifier (`$LATEST`, a version or an alias), if it has one.
    pub async fn function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<Policy>, PolicyError> {
        self.backend.function_policy(function, qualifier).await
    }

    /// [`Store::function_policy`] for authorising a request: from memory while the version's
    /// or alias's revision (which every policy change replaces) is the one it was read at.
    pub async fn current_function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<Option<Arc<Policy>>, PolicyError> {
        let key = (function.to_string(), qualifier.to_string());
        // Read before the policy: a change committed in between leaves a revision that no
        // longer matches, so the next request reads again.
        let revision = self.revision_of(function, qualifier);
        if let Some(revision) = &revision
            && let Some((seen, policy)) = self
                .policies
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
            && seen == revision
        {
            return Ok(policy.clone());
        }
        let policy = self
            .backend
            .function_policy(function, qualifier)
            .await?
            .map(Arc::new);
        if let Some(revision) = revision {
            let mut cache = self.policies.write().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= POLICY_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, (revision, policy.clone()));
        }
        Ok(policy)
    }

    /// The revision, from memory, of the version (`$LATEST` or a number) or alias a policy is
    /// attached to.
    fn revision_of(&self, function: &str, qualifier: &str) -> Option<String> {
        match ignis_model::arn::Qualifier::parse(qualifier).ok()? {
            ignis_model::arn::Qualifier::Alias(a) => {
                self.cached_alias(function, &a).map(|a| a.revision_id)
            }
            _ => self
                .cached(function, qualifier)
                .map(|c| c.revision_id.clone()),
        }
    }

    /// Whether the policy attached to exactly `qualifier` (`None` or `$LATEST`: the unqualified
    /// function's) allows a service's request, evaluated as IAM does
    /// ([`Policy::allows_service`]). No policy allows nothing.
    pub async fn function_allows_service(
        &self,
        function: &str,
        qualifier: Option<&str>,
        request: &crate::ServiceRequest<'_>,
    ) -> Result<bool, PolicyError> {
        let key = qualifier.unwrap_or(ignis_model::arn::LATEST);
        Ok(self
            .current_function_policy(function, key)
            .await?
            .is_some_and(|p| p.allows_service(qualifier, request)))
    }

    /// Adds a statement to a function qualifier's policy, checking in one transaction that the
    /// target exists, that `expected_revision` (if any) is its revision, that the id is new and
    /// that the document stays within 20 KB. Returns the target's new revision.
    pub async fn add_function_statement(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        sid: &str,
        statement_json: &str,
        expected_revision: Option<&str>,
    ) -> Result<String, PolicyError> {
        let (revision, config) = self
            .backend
            .add_function_statement(function, target, sid, statement_json, expected_revision)
            .await?;
        self.after_bump(function, target, config, &revision);
        Ok(revision)
    }

    /// Removes a statement from a function qualifier's policy (the policy goes when its last
    /// statement does). Checks, in this order: the target exists, it has a policy, the
    /// statement exists, `expected_revision` (if any) is current. Returns the new revision.
    pub async fn remove_function_statement(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        sid: &str,
        expected_revision: Option<&str>,
    ) -> Result<String, PolicyError> {
        let (revision, config) = self
            .backend
            .remove_function_statement(function, target, sid, expected_revision)
            .await?;
        self.after_bump(function, target, config, &revision);
        Ok(revision)
    }

    /// Drops the policy of one qualifier, for when its version or alias is deleted. (Deleting
    /// the function drops all of its policies by itself.)
    pub async fn delete_function_policy(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<(), StoreError> {
        self.backend
            .delete_function_policy(function, qualifier)
            .await
    }

    /// Puts a target's new revision into the caches after its commit.
    fn after_bump(
        &self,
        function: &str,
        target: PolicyTarget<'_>,
        config: Option<FunctionConfig>,
        revision: &str,
    ) {
        match (target, config) {
            (PolicyTarget::Version(_), Some(config)) => self.cache_put(config),
            (PolicyTarget::Alias(a), _) => {
                let mut aliases = self.aliases.write().unwrap_or_else(|e| e.into_inner());
                if let Some(alias) = aliases.get_mut(&(function.to_string(), a.to_string())) {
                    alias.revision_id = revision.to_string();
                }
            }
            (PolicyTarget::Version(_), None) => {}
        }
    }

    /// The policy of a layer version and its revision, if it has one.
    pub async fn layer_policy(
        &self,
        name: &str,
        version: u64,
    ) -> Result<Option<(Policy, String)>, PolicyError> {
        self.backend.layer_policy(name, version).await
    }

    /// Adds a statement to a layer version's policy; returns the policy's new revision.
    pub async fn add_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        statement_json: &str,
        expected_revision: Option<&str>,
    ) -> Result<String, PolicyError> {
        self.backend
            .add_layer_statement(name, version, sid, statement_json, expected_revision)
            .await
    }

    /// Removes a statement from a layer version's policy (the policy goes with its last
    /// statement).
    pub async fn remove_layer_statement(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        expected_revision: Option<&str>,
    ) -> Result<(), PolicyError> {
        self.backend
            .remove_layer_statement(name, version, sid, expected_revision)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_keep_their_text_and_order() {
        let mut p = Policy::default();
        p.push(r#"{"Sid":"b","Effect":"Allow"}"#).unwrap();
        p.push(r#"{"Sid":"a","Effect":"Allow"}"#).unwrap();
        assert!(p.contains("a") && p.contains("b") && !p.contains("c"));
        assert_eq!(
            p.document(),
            r#"{"Version":"2012-10-17","Id":"default","Statement":[{"Sid":"b","Effect":"Allow"},{"Sid":"a","Effect":"Allow"}]}"#
        );
        let round = Policy::from_json(&p.to_json()).unwrap();
        assert_eq!(round.document(), p.document());
        assert!(p.remove("b"));
        assert!(!p.remove("b"));
        assert_eq!(p.len(), 1);
        assert!(p.remove("a"));
        assert!(p.is_empty());
    }

    #[test]
    fn size_limit_is_on_the_document() {
        let mut p = Policy::default();
        let big = format!(r#"{{"Sid":"x","Pad":"{}"}}"#, "p".repeat(20_000));
        p.push(&big).unwrap();
        checked_size(&p).unwrap();
        p.push(&format!(r#"{{"Sid":"y","Pad":"{}"}}"#, "p".repeat(500)))
            .unwrap();
        match checked_size(&p) {
            Err(PolicyError::TooLarge { size, limit }) => {
                assert_eq!(limit, 20_480);
                assert_eq!(size, p.document().len());
            }
            other => panic!("{other:?}"),
        }
    }
}
