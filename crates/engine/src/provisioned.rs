//! Provisioned concurrency: environments started ahead of use for a version or alias, and what
//! their configuration reads (`IN_PROGRESS`, `READY`, or `FAILED` with the reason).

use crate::{AliasVersion, Engine};
use ignis_invoker::Invocation;
use ignis_store::ProvisionedConfig;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Why provisioning failed, per (function, qualifier); cleared when it is configured again.
#[derive(Default)]
pub(crate) struct Failures(Mutex<HashMap<(String, String), String>>);

impl Failures {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), String>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, key: (String, String), reason: Option<String>) {
        let mut m = self.lock();
        match reason {
            Some(r) => m.insert(key, r),
            None => m.remove(&key),
        };
    }
}

/// Where one provisioned concurrency configuration stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStatus {
    /// Environments alive for it (at most the requested number).
    pub available: u32,
    /// Why its environments could not be started, if they could not.
    pub failure: Option<String>,
}

impl ProvisionedStatus {
    /// `FAILED`, `READY` or `IN_PROGRESS`, as the API reports it.
    pub fn status(&self, requested: u32) -> &'static str {
        match (&self.failure, self.available >= requested) {
            (Some(_), _) => "FAILED",
            (None, true) => "READY",
            (None, false) => "IN_PROGRESS",
        }
    }
}

impl Engine {
    /// Starts (in the background) the environments a configuration asks for; an alias
    /// provisions the version it points at.
    pub fn provision(&self, config: &ProvisionedConfig) {
        let key = (config.function_name.clone(), config.qualifier.clone());
        let target = Engine::stored_ref(&config.function_name, &config.qualifier)
            .and_then(|r| self.target(&r, AliasVersion::Primary));
        let target = target.and_then(|mut t| self.lease(&mut t).map(|lease| (t, lease)));
        let (target, lease) = match target {
            Ok(t) => t,
            Err(e) => {
                self.inner.provisioning.set(key, Some(e.to_string()));
                return;
            }
        };
        self.inner.provisioning.set(key.clone(), None);
        let (engine, requested) = (self.clone(), config.requested as usize);
        tokio::spawn(async move {
            let version = &target.version;
            let template = Invocation {
                function: version.config.clone(),
                code_root: version.code_root.clone(),
                invoked_arn: target.invoked_arn.clone(),
                request_id: uuid::Uuid::new_v4().to_string(),
                payload: bytes::Bytes::new(),
                client_context: None,
                cognito_identity: None,
                tail_log: false,
                opt_dir: version.opt_dir.clone(),
                lease: Some(lease),
                stream: None,
                trace: None,
                trigger: Default::default(),
            };
            if let Err(e) = engine.inner.invoker.provision(template, requested).await {
                tracing::warn!(function = %key.0, qualifier = %key.1, error = %e, "provisioned concurrency failed");
                engine.inner.provisioning.set(key, Some(e.to_string()));
            }
        });
    }

    /// How far a configuration's environments are.
    pub fn provisioned_status(&self, config: &ProvisionedConfig) -> ProvisionedStatus {
        let version = Engine::stored_ref(&config.function_name, &config.qualifier)
            .and_then(|r| self.config(&r, AliasVersion::Primary))
            .map(|c| c.version.clone())
            .unwrap_or_default();
        let alive = self
            .inner
            .invoker
            .provisioned_count(&config.function_name, &version);
        let key = (config.function_name.clone(), config.qualifier.clone());
        ProvisionedStatus {
            available: u32::try_from(alive)
                .unwrap_or(u32::MAX)
                .min(config.requested),
            failure: self.inner.provisioning.lock().get(&key).cloned(),
        }
    }

    /// A configuration is removed: its idle environments stop now.
    pub async fn deprovision(&self, function: &str, version: &str) {
        self.inner.invoker.deprovision(function, version).await;
    }
}
