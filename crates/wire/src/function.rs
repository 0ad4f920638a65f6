//! Shapes of the functions API: `FunctionConfiguration` and the request bodies of
//! CreateFunction, UpdateFunctionCode and UpdateFunctionConfiguration.

use ignis_model::function::FunctionConfig;
use ignis_model::state::{CREATING_REASON, CREATING_REASON_CODE, FunctionState, UpdateStatus};
use ignis_model::{Account, time};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeSpec {
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct EphemeralStorageSpec {
    pub size: u32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TracingSpec {
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterSpec {
    pub target_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingSpec {
    pub log_format: Option<String>,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: Option<String>,
}

/// Options of the model that Ignis does not provide yet; any of them set is refused clearly.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnsupportedOptions {
    pub vpc_config: Option<Value>,
    pub file_system_configs: Option<Value>,
    pub image_config: Option<Value>,
    pub code_signing_config_arn: Option<String>,
    pub snap_start: Option<Value>,
    pub capacity_provider_config: Option<Value>,
    pub durable_config: Option<Value>,
    pub tenancy_config: Option<Value>,
}

impl UnsupportedOptions {
    /// The wire name of the first option that is set to something meaningful.
    pub fn first_set(&self) -> Option<&'static str> {
        let meaningful = |v: &Option<Value>| match v {
            None | Some(Value::Null) => false,
            Some(Value::Object(m)) => m.values().any(|v| match v {
                Value::Array(a) => !a.is_empty(),
                Value::Null => false,
                Value::String(s) => !s.is_empty() && s != "None",
                _ => true,
            }),
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => true,
        };
        [
            ("VpcConfig", &self.vpc_config),
            ("FileSystemConfigs", &self.file_system_configs),
            ("ImageConfig", &self.image_config),
            ("SnapStart", &self.snap_start),
            ("CapacityProviderConfig", &self.capacity_provider_config),
            ("DurableConfig", &self.durable_config),
            ("TenancyConfig", &self.tenancy_config),
        ]
        .into_iter()
        .find(|(_, v)| meaningful(v))
        .map(|(n, _)| n)
        .or(self
            .code_signing_config_arn
            .as_ref()
            .map(|_| "CodeSigningConfigArn"))
    }
}

/// CreateFunction's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionRequest {
    pub function_name: String,
    pub runtime: Option<String>,
    pub role: String,
    pub handler: Option<String>,
    pub code: CodeSpec,
    pub description: Option<String>,
    pub timeout: Option<u32>,
    pub memory_size: Option<u32>,
    pub publish: Option<bool>,
    pub package_type: Option<String>,
    pub dead_letter_config: Option<DeadLetterSpec>,
    pub environment: Option<EnvironmentSpec>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Option<TracingSpec>,
    pub tags: Option<BTreeMap<String, String>>,
    pub layers: Option<Vec<String>>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage: Option<EphemeralStorageSpec>,
    pub logging_config: Option<LoggingSpec>,
    #[serde(flatten)]
    pub unsupported: UnsupportedOptions,
}

/// UpdateFunctionCode's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionCodeRequest {
    #[serde(flatten)]
    pub code: CodeSpec,
    pub publish: Option<bool>,
    pub dry_run: Option<bool>,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
}

/// UpdateFunctionConfiguration's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateFunctionConfigurationRequest {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<u32>,
    pub memory_size: Option<u32>,
    pub environment: Option<EnvironmentSpec>,
    pub runtime: Option<String>,
    pub dead_letter_config: Option<DeadLetterSpec>,
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: Option<TracingSpec>,
    pub revision_id: Option<String>,
    pub layers: Option<Vec<String>>,
    pub ephemeral_storage: Option<EphemeralStorageSpec>,
    pub logging_config: Option<LoggingSpec>,
    #[serde(flatten)]
    pub unsupported: UnsupportedOptions,
}

/// TagResource's body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TracingConfigResponse {
    pub mode: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfigResponse {
    pub log_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    pub log_group: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct SnapStartResponse {
    pub apply_on: &'static str,
    pub optimization_status: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct RuntimeVersionConfig {
    pub runtime_version_arn: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    pub target_arn: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct LayerRef {
    pub arn: String,
    pub code_size: u64,
}

/// `FunctionConfiguration`, as GetFunctionConfiguration and the mutating calls return it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfiguration {
    pub function_name: String,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code_size: u64,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<EnvironmentSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub tracing_config: TracingConfigResponse,
    pub revision_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<LayerRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_update_status_reason_code: Option<&'static str>,
    pub package_type: &'static str,
    pub architectures: Vec<&'static str>,
    pub ephemeral_storage: EphemeralStorageSpec,
    pub snap_start: SnapStartResponse,
    pub runtime_version_config: RuntimeVersionConfig,
    pub logging_config: LoggingConfigResponse,
}

/// Which fields a listing carries: GetFunction and the mutating calls report State and
/// LastUpdateStatus (with their reasons while not settled); ListFunctions and
/// ListVersionsByFunction leave them out, as AWS does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    Full,
    Listing,
}

/// A stable, content-derived runtime version ARN (`arn:aws:lambda:<region>::runtime:<hash>`).
fn runtime_version_arn(region: &str, runtime: Option<&str>) -> String {
    let hash = runtime
        .unwrap_or("none")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("arn:aws:lambda:{region}::runtime:{hash:016x}")
}

impl FunctionConfiguration {
    pub fn from_config(c: &FunctionConfig, account: &Account, detail: Detail) -> Self {
        let function_arn = if c.version == ignis_model::arn::LATEST {
            account.function_arn(&c.name)
        } else {
            account.qualified_arn(&c.name, &c.version)
        };
        let full = detail == Detail::Full;
        let pending = c.state == FunctionState::Pending;
        let in_progress = !pending && c.last_update_status == UpdateStatus::InProgress;
        FunctionConfiguration {
            function_name: c.name.clone(),
            function_arn,
            runtime: c.runtime.clone(),
            role: c.role.clone(),
            handler: c.handler.clone(),
            code_size: c.code.size,
            description: c.description.clone(),
            timeout: c.timeout,
            memory_size: c.memory_size,
            last_modified: time::last_modified(c.last_modified_ms),
            code_sha256: c.code.sha256_base64.clone(),
            version: c.version.clone(),
            environment: c.environment.as_ref().map(|v| EnvironmentSpec {
                variables: Some(v.clone()),
            }),
            dead_letter_config: c.dead_letter_target.as_ref().map(|t| DeadLetterConfig {
                target_arn: t.clone(),
            }),
            kms_key_arn: c.kms_key_arn.clone(),
            tracing_config: TracingConfigResponse {
                mode: c.tracing_mode.as_str(),
            },
            revision_id: c.revision_id.clone(),
            layers: c
                .layers
                .iter()
                .map(|l| LayerRef {
                    arn: l.arn.clone(),
                    code_size: l.code_size,
                })
                .collect(),
            state: full.then_some(c.state.as_str()),
            state_reason: (full && pending).then_some(CREATING_REASON),
            state_reason_code: (full && pending).then_some(CREATING_REASON_CODE),
            // A function being created has no update yet: AWS leaves LastUpdateStatus out.
            last_update_status: (full && !pending).then_some(c.last_update_status.as_str()),
            last_update_status_reason: (full && in_progress).then_some(CREATING_REASON),
            last_update_status_reason_code: (full && in_progress).then_some(CREATING_REASON_CODE),
            package_type: "Zip",
            architectures: c.architectures.iter().map(|a| a.as_str()).collect(),
            ephemeral_storage: EphemeralStorageSpec {
                size: c.ephemeral_storage,
            },
            snap_start: SnapStartResponse {
                apply_on: "None",
                optimization_status: "Off",
            },
            runtime_version_config: RuntimeVersionConfig {
                runtime_version_arn: runtime_version_arn(&account.region, c.runtime.as_deref()),
            },
            logging_config: LoggingConfigResponse {
                log_format: c.logging.log_format.as_str(),
                application_log_level: c.logging.application_log_level.clone(),
                system_log_level: c.logging.system_log_level.clone(),
                log_group: c.logging.log_group.clone(),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionCodeLocation {
    pub repository_type: &'static str,
    pub location: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Concurrency {
    pub reserved_concurrent_executions: u32,
}

/// GetFunction's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFunctionResponse {
    pub configuration: FunctionConfiguration,
    pub code: FunctionCodeLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
}

/// ListFunctions' answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListFunctionsResponse {
    pub functions: Vec<FunctionConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// ListTags' answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsResponse {
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountLimit {
    pub total_code_size: u64,
    pub code_size_unzipped: u64,
    pub code_size_zipped: u64,
    pub concurrent_executions: u32,
    pub unreserved_concurrent_executions: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountUsage {
    pub total_code_size: u64,
    pub function_count: u64,
}

/// GetAccountSettings' answer.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSettings {
    pub account_limit: AccountLimit,
    pub account_usage: AccountUsage,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ignis_model::function::CodeRef;

    fn config() -> FunctionConfig {
        FunctionConfig {
            environment: Some(BTreeMap::from([("A".into(), "1".into())])),
            code: CodeRef {
                sha256_hex: "00".into(),
                sha256_base64: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
                size: 10,
                unzipped_size: 20,
            },
            revision_id: "r".into(),
            last_modified_ms: 1_569_263_553_857,
            ..FunctionConfig::fixture("hello")
        }
    }

    #[test]
    fn configuration_has_aws_member_names() {
        let account = Account {
            id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        let v = serde_json::to_value(FunctionConfiguration::from_config(
            &config(),
            &account,
            Detail::Full,
        ))
        .unwrap();
        assert_eq!(
            v["FunctionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:hello"
        );
        assert_eq!(v["LastModified"], "2019-09-23T18:32:33.857+0000");
        assert_eq!(
            v["CodeSha256"],
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(v["Environment"]["Variables"]["A"], "1");
        assert_eq!(v["EphemeralStorage"]["Size"], 512);
        assert_eq!(v["TracingConfig"]["Mode"], "PassThrough");
        assert_eq!(v["LoggingConfig"]["LogGroup"], "/aws/lambda/hello");
        assert_eq!(v["State"], "Active");
        assert_eq!(v["LastUpdateStatus"], "Successful");
        assert_eq!(v["PackageType"], "Zip");
        assert_eq!(v["Architectures"][0], "x86_64");
        assert!(v.get("KMSKeyArn").is_none());

        let listed = serde_json::to_value(FunctionConfiguration::from_config(
            &config(),
            &account,
            Detail::Listing,
        ))
        .unwrap();
        assert!(listed.get("State").is_none());
        assert!(v.get("StateReason").is_none());
        assert!(v.get("LastUpdateStatusReason").is_none());
    }

    #[test]
    fn unsettled_states_carry_aws_reasons() {
        let account = Account {
            id: "000000000000".into(),
            region: "us-east-1".into(),
        };
        let show = |c: FunctionConfig| {
            serde_json::to_value(FunctionConfiguration::from_config(
                &c,
                &account,
                Detail::Full,
            ))
            .unwrap()
        };
        let pending = show(FunctionConfig {
            state: FunctionState::Pending,
            ..config()
        });
        assert_eq!(pending["State"], "Pending");
        assert_eq!(pending["StateReason"], "The function is being created.");
        assert_eq!(pending["StateReasonCode"], "Creating");
        assert!(pending.get("LastUpdateStatus").is_none());
        let updating = show(FunctionConfig {
            last_update_status: UpdateStatus::InProgress,
            ..config()
        });
        assert_eq!(updating["State"], "Active");
        assert!(updating.get("StateReason").is_none());
        assert_eq!(updating["LastUpdateStatus"], "InProgress");
        assert_eq!(
            updating["LastUpdateStatusReason"],
            "The function is being created."
        );
        assert_eq!(updating["LastUpdateStatusReasonCode"], "Creating");
    }

    #[test]
    fn unsupported_options_are_detected() {
        let req: CreateFunctionRequest = serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "Role": "r", "Code": {"ZipFile": ""},
            "VpcConfig": {"SubnetIds": ["s"], "SecurityGroupIds": []}
        }))
        .unwrap();
        assert_eq!(req.unsupported.first_set(), Some("VpcConfig"));
        let empty: CreateFunctionRequest = serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "Role": "r", "Code": {"ZipFile": ""},
            "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []}
        }))
        .unwrap();
        assert_eq!(empty.unsupported.first_set(), None);
    }
}
