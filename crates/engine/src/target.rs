//! Resolving a function name and qualifier to what runs: the configuration from the store's
//! cache, and per version (computed once, kept while that configuration is current) where its
//! code and merged layers are.

use crate::Engine;
use ignis_model::{FunctionConfig, FunctionRef, Qualifier};
use ignis_package::Digest;
use ignis_wire::LambdaApiError;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// How an alias picks its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasVersion {
    /// The version the alias points at (control-plane reads, provisioning).
    Primary,
    /// A version drawn by the alias's routing weights (invocations).
    Routed,
}

/// One function version as it executes.
#[derive(Debug)]
pub struct Version {
    pub config: Arc<FunctionConfig>,
    /// The extracted, read-only code.
    pub code_root: PathBuf,
    /// The merged layers (what `/opt` holds), if the version has any.
    pub opt_dir: Option<PathBuf>,
    /// The code package and merged-layers key an environment of this version leases.
    trees: Vec<Digest>,
}

/// What one invocation runs: a version, and the ARN it was invoked by.
#[derive(Debug, Clone)]
pub struct Target {
    pub version: Arc<Version>,
    /// e.g. `…:function:f` or `…:function:f:PROD`.
    pub invoked_arn: String,
    /// As invoked (`$LATEST` when unqualified): a queued event runs against what it names then.
    pub qualifier: String,
}

impl Target {
    pub fn config(&self) -> &Arc<FunctionConfig> {
        &self.version.config
    }
}

/// Longest an invocation waits for a function being created to turn Active.
pub const PENDING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Versions by function and version number; an entry is used only while the store's cached
/// configuration is the very one it was computed from.
#[derive(Default)]
pub(crate) struct VersionCache(Mutex<HashMap<String, HashMap<String, Arc<Version>>>>);

impl VersionCache {
    fn get(&self, config: &Arc<FunctionConfig>) -> Option<Arc<Version>> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&config.name)?
            .get(&config.version)
            .filter(|v| Arc::ptr_eq(&v.config, config))
            .cloned()
    }

    fn put(&self, version: Arc<Version>) {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(version.config.name.clone())
            .or_default()
            .insert(version.config.version.clone(), version);
    }

    pub(crate) fn forget(&self, function: &str) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(function);
    }
}

impl Engine {
    /// A lease on what `target` runs from, for the environment that will run it. A target
    /// resolved just before its code was collected is resolved again (once), so it runs the
    /// configuration that replaced it.
    pub(crate) fn lease(
        &self,
        target: &mut Target,
    ) -> Result<Arc<dyn std::any::Any + Send + Sync>, LambdaApiError> {
        let code = &self.inner.code;
        if let Some(lease) = code.lease(&target.version.trees) {
            return Ok(Arc::new(lease));
        }
        let r = FunctionRef::parse(&target.version.config.name)?
            .with_query_qualifier(Some(&target.qualifier))?;
        let again = self.target(&r, AliasVersion::Routed)?;
        target.version = again.version;
        code.lease(&target.version.trees)
            .map(|l| Arc::new(l) as Arc<dyn std::any::Any + Send + Sync>)
            .ok_or_else(|| {
                LambdaApiError::Service("The function's code changed; try again.".into())
            })
    }

    /// "Function not found: <arn>", as AWS words it.
    pub fn function_not_found(&self, name: &str, qualifier: Option<&Qualifier>) -> LambdaApiError {
        let account = &self.inner.account;
        let arn = match qualifier {
            Some(q) => account.qualified_arn(name, &q.to_string()),
            None => account.function_arn(name),
        };
        LambdaApiError::ResourceNotFound(format!("Function not found: {arn}"))
    }

    /// The configuration a name and qualifier refer to, from memory: `$LATEST`, a published
    /// version, or an alias's version.
    pub fn config(
        &self,
        r: &FunctionRef,
        pick: AliasVersion,
    ) -> Result<Arc<FunctionConfig>, LambdaApiError> {
        let store = &self.inner.store;
        let not_found = || self.function_not_found(&r.name, r.qualifier.as_ref());
        let version = match &r.qualifier {
            None | Some(Qualifier::Latest) => ignis_model::arn::LATEST.to_string(),
            Some(Qualifier::Version(n)) => n.to_string(),
            Some(Qualifier::Alias(a)) => {
                let alias = store.cached_alias(&r.name, a).ok_or_else(not_found)?;
                match pick {
                    AliasVersion::Primary => alias.function_version.clone(),
                    AliasVersion::Routed => alias.choose(rand::random::<f64>()).to_string(),
                }
            }
        };
        store.cached(&r.name, &version).ok_or_else(not_found)
    }

    /// What an invocation of `r` runs, from memory; an alias draws its version by weight.
    pub fn resolve(&self, r: &FunctionRef) -> Result<Target, LambdaApiError> {
        self.target(r, AliasVersion::Routed)
    }

    /// The target `r` refers to once it is ready: while its configuration is still being
    /// created (`State: Pending`) this waits, at most [`PENDING_WAIT`], so that an invocation
    /// sent right after CreateFunction runs once the function is ready instead of failing.
    /// Still Pending after that: AWS's `ResourceConflictException`. The ready case costs one
    /// resolution.
    pub async fn resolve_when_active(&self, r: &FunctionRef) -> Result<Target, LambdaApiError> {
        let deadline = tokio::time::Instant::now() + PENDING_WAIT;
        loop {
            let target = self.resolve(r)?;
            if target.config().state != ignis_model::FunctionState::Pending {
                return Ok(target);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(LambdaApiError::ResourceConflict(
                    "The operation cannot be performed at this time. The function is currently in the following state: Pending".into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub(crate) fn target(
        &self,
        r: &FunctionRef,
        pick: AliasVersion,
    ) -> Result<Target, LambdaApiError> {
        let config = self.config(r, pick)?;
        let version = match self.inner.versions.get(&config) {
            Some(v) => v,
            None => {
                let v = Arc::new(self.version(config)?);
                self.inner.versions.put(v.clone());
                v
            }
        };
        let account = &self.inner.account;
        let (invoked_arn, qualifier) = match &r.qualifier {
            Some(q) => {
                let q = q.to_string();
                (account.qualified_arn(&r.name, &q), q)
            }
            None => (
                account.function_arn(&r.name),
                ignis_model::arn::LATEST.to_string(),
            ),
        };
        Ok(Target {
            version,
            invoked_arn,
            qualifier,
        })
    }

    fn version(&self, config: Arc<FunctionConfig>) -> Result<Version, LambdaApiError> {
        let code = &self.inner.code;
        let digest = Digest::from_hex(&config.code.sha256_hex).ok_or_else(|| {
            LambdaApiError::Service("The function's code reference is damaged.".into())
        })?;
        let mut trees = vec![digest];
        let opt_dir = if config.layers.is_empty() {
            None
        } else {
            let layers = config
                .layers
                .iter()
                .map(|l| Digest::from_hex(&l.sha256_hex))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    LambdaApiError::Service("The function's layer reference is damaged.".into())
                })?;
            trees.push(ignis_package::merged_key(&layers));
            Some(code.merged_layers_path(&layers))
        };
        Ok(Version {
            code_root: code.tree_path(&digest),
            opt_dir,
            trees,
            config,
        })
    }
}
