//! Shapes of versions, aliases and concurrency.

use crate::function::FunctionConfiguration;
use ignis_model::{Account, Alias};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublishVersionRequest {
    pub code_sha256: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListVersionsResponse {
    pub versions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RoutingConfig {
    #[serde(default)]
    pub additional_version_weights: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAliasRequest {
    pub name: String,
    pub function_version: String,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateAliasRequest {
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: Option<String>,
}

/// `AliasConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfiguration {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing_config: Option<RoutingConfig>,
    pub revision_id: String,
}

impl AliasConfiguration {
    pub fn from_alias(a: &Alias, account: &Account) -> AliasConfiguration {
        AliasConfiguration {
            alias_arn: account.qualified_arn(&a.function_name, &a.name),
            name: a.name.clone(),
            function_version: a.function_version.clone(),
            description: a.description.clone(),
            routing_config: (!a.routing.is_empty()).then(|| RoutingConfig {
                additional_version_weights: a.routing.clone(),
            }),
            revision_id: a.revision_id.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    pub aliases: Vec<AliasConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// PutFunctionConcurrency's body and answer; GetFunctionConcurrency's answer (empty when unset).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReservedConcurrency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutProvisionedConcurrencyRequest {
    pub provisioned_concurrent_executions: u32,
}

/// GetProvisionedConcurrencyConfig / PutProvisionedConcurrencyConfig answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedConcurrencyConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    pub requested_provisioned_concurrent_executions: u32,
    pub available_provisioned_concurrent_executions: u32,
    pub allocated_provisioned_concurrent_executions: u32,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub last_modified: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListProvisionedConcurrencyConfigsResponse {
    pub provisioned_concurrency_configs: Vec<ProvisionedConcurrencyConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}
