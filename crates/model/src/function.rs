//! A function version's configuration, as Ignis stores it, and the rules it must satisfy.
//!
//! The control plane builds a candidate [`FunctionConfig`] (defaults plus the request, or the
//! current configuration plus an update) and calls [`FunctionConfig::validate`] before anything
//! is written, so no invalid configuration is ever stored.

use crate::limits;
use crate::runtime::{Runtime, RuntimeFamily};
use crate::state::{FunctionState, UpdateStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why a request's values are refused. The API maps `Constraint` and `Constraints` to AWS's
/// `ValidationException` and `InvalidParameter` to `InvalidParameterValueException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// A value breaks a modelled constraint (pattern, range, enum).
    #[error("1 validation error detected: {}", violation(field, value, constraint))]
    Constraint {
        field: &'static str,
        value: String,
        constraint: String,
    },
    /// A required member is absent (AWS writes `Value null`, unquoted).
    #[error("1 validation error detected: {}", violation_null(field))]
    Null { field: &'static str },
    /// Several modelled constraints broken at once, reported together as AWS's front end does
    /// ("N validation errors detected: …; …"). Each item is a `Constraint`.
    #[error("{} validation errors detected: {}", .0.len(), violations(.0))]
    Constraints(Vec<ValidationError>),
    /// A value is well-formed but not acceptable.
    #[error("{0}")]
    InvalidParameter(String),
}

/// A list as AWS's front end shows it in a violation: `[a, b]`.
pub(crate) fn list_display(list: &[String]) -> String {
    format!("[{}]", list.join(", "))
}

fn violation(field: &str, value: &str, constraint: &str) -> String {
    format!("Value '{value}' at '{field}' failed to satisfy constraint: {constraint}")
}

fn violation_null(field: &str) -> String {
    format!("Value null at '{field}' failed to satisfy constraint: Member must not be null")
}

fn violations(all: &[ValidationError]) -> String {
    all.iter()
        .filter_map(|e| match e {
            ValidationError::Constraint {
                field,
                value,
                constraint,
            } => Some(violation(field, value, constraint)),
            ValidationError::Null { field } => Some(violation_null(field)),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationError {
    /// Whether this is a model-constraint failure (AWS's `ValidationException`).
    pub fn is_constraint(&self) -> bool {
        !matches!(self, ValidationError::InvalidParameter(_))
    }

    /// All model-constraint failures of one request as one error: `Ok` when there are none,
    /// the single `Constraint`, or `Constraints` for several. `InvalidParameter` items are
    /// not constraint failures; the first one is returned only when no constraint failed.
    pub fn collect(errors: Vec<ValidationError>) -> Result<(), ValidationError> {
        let mut constraints = Vec::new();
        let mut parameter = None;
        for e in errors {
            match e {
                ValidationError::Constraints(many) => constraints.extend(many),
                c @ (ValidationError::Constraint { .. } | ValidationError::Null { .. }) => {
                    constraints.push(c)
                }
                p @ ValidationError::InvalidParameter(_) => {
                    parameter.get_or_insert(p);
                }
            }
        }
        match constraints.len() {
            0 => parameter.map_or(Ok(()), Err),
            1 => Err(constraints.remove(0)),
            _ => Err(ValidationError::Constraints(constraints)),
        }
    }

    pub(crate) fn pattern(field: &'static str, value: &str, pattern: &str) -> ValidationError {
        ValidationError::Constraint {
            field,
            value: value.to_string(),
            constraint: format!("Member must satisfy regular expression pattern: {pattern}"),
        }
    }

    fn range(field: &'static str, value: u32, (lo, hi): (u32, u32)) -> Result<(), ValidationError> {
        let bounds = (i64::from(lo), i64::from(hi));
        match ValidationError::outside(field, &value.to_string(), value.into(), bounds, "value") {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// `n` outside `lo..=hi`, as AWS words it: `what` is `value` for a number, `length` for
    /// the length of a string or a list (`shown` is what the message quotes).
    pub(crate) fn outside(
        field: &'static str,
        shown: &str,
        n: i64,
        (lo, hi): (i64, i64),
        what: &str,
    ) -> Option<ValidationError> {
        let constraint = if n < lo {
            format!("Member must have {what} greater than or equal to {lo}")
        } else if n > hi {
            format!("Member must have {what} less than or equal to {hi}")
        } else {
            return None;
        };
        Some(ValidationError::Constraint {
            field,
            value: shown.to_string(),
            constraint,
        })
    }

    fn length(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
        if value.chars().count() > max {
            return Err(ValidationError::Constraint {
                field,
                value: value.to_string(),
                constraint: format!("Member must have length less than or equal to {max}"),
            });
        }
        Ok(())
    }

    pub fn one_of(field: &'static str, value: &str, set: &[&str]) -> ValidationError {
        ValidationError::Constraint {
            field,
            value: value.to_string(),
            constraint: format!("Member must satisfy enum value set: [{}]", set.join(", ")),
        }
    }
}

/// Instruction set a function is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    pub fn parse(s: &str) -> Result<Architecture, ValidationError> {
        match s {
            "x86_64" => Ok(Architecture::X86_64),
            "arm64" => Ok(Architecture::Arm64),
            _ => Err(ValidationError::one_of(
                "architectures",
                s,
                &["x86_64", "arm64"],
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// X-Ray tracing mode: which invocations are sampled (`crate::trace::TraceContext::continue_from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
pub enum TracingMode {
    #[default]
    PassThrough,
    Active,
}

impl TracingMode {
    pub fn parse(s: &str) -> Result<TracingMode, ValidationError> {
        match s {
            "PassThrough" => Ok(TracingMode::PassThrough),
            "Active" => Ok(TracingMode::Active),
            _ => Err(ValidationError::one_of(
                "tracingConfig.mode",
                s,
                &["Active", "PassThrough"],
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TracingMode::PassThrough => "PassThrough",
            TracingMode::Active => "Active",
        }
    }
}

/// Log record format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, Hash)]
pub enum LogFormat {
    #[default]
    Text,
    #[serde(rename = "JSON")]
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "Text",
            LogFormat::Json => "JSON",
        }
    }
}

/// Where and how a function's logs are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct LoggingConfig {
    pub log_format: LogFormat,
    pub application_log_level: Option<String>,
    pub system_log_level: Option<String>,
    pub log_group: String,
}

pub const APPLICATION_LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
pub const SYSTEM_LOG_LEVELS: &[&str] = &["DEBUG", "INFO", "WARN"];

impl LoggingConfig {
    /// Lambda's default: Text format into `/aws/lambda/<name>`.
    pub fn default_for(function_name: &str) -> LoggingConfig {
        LoggingConfig {
            log_format: LogFormat::Text,
            application_log_level: None,
            system_log_level: None,
            log_group: format!("/aws/lambda/{function_name}"),
        }
    }

    /// The application log level in effect: the one set, else Lambda's `INFO` in JSON format;
    /// none in Text format (nothing is filtered).
    pub fn effective_application_level(&self) -> Option<&str> {
        self.effective(self.application_log_level.as_deref())
    }

    /// The system log level in effect, as [`Self::effective_application_level`].
    pub fn effective_system_level(&self) -> Option<&str> {
        self.effective(self.system_log_level.as_deref())
    }

    fn effective<'a>(&self, level: Option<&'a str>) -> Option<&'a str> {
        match self.log_format {
            LogFormat::Text => None,
            LogFormat::Json => Some(level.unwrap_or(DEFAULT_LOG_LEVEL)),
        }
    }
}

/// The level Lambda gives both log levels when `LogFormat` becomes JSON without them.
pub const DEFAULT_LOG_LEVEL: &str = "INFO";

/// The deployment package behind a version: its SHA-256 (hex) and sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRef {
    pub sha256_hex: String,
    /// Base64 of the SHA-256, Lambda's `CodeSha256`.
    pub sha256_base64: String,
    pub size: u64,
    pub unzipped_size: u64,
}

/// A layer version a function uses, recorded with what running and reporting it need, so that
/// the function keeps working after the layer version is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
pub struct LayerRef {
    /// The layer version ARN, `arn:aws:lambda:<region>:<account>:layer:<name>:<version>`.
    pub arn: String,
    /// SHA-256 (hex) of the layer's zip: its package in the code store.
    pub sha256_hex: String,
    pub code_size: u64,
    pub unzipped_size: u64,
}

/// One version's configuration (`$LATEST` or a published number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionConfig {
    pub name: String,
    pub version: String,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: String,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: Option<BTreeMap<String, String>>,
    pub ephemeral_storage: u32,
    pub architectures: Vec<Architecture>,
    pub tracing_mode: TracingMode,
    pub logging: LoggingConfig,
    /// Layers in the order they are merged into `/opt` (later ones win).
    pub layers: Vec<LayerRef>,
    pub dead_letter_target: Option<String>,
    pub kms_key_arn: Option<String>,
    pub code: CodeRef,
    pub revision_id: String,
    pub last_modified_ms: i64,
    /// `State`: `Pending` from CreateFunction until the create has committed.
    #[serde(default)]
    pub state: FunctionState,
    /// `LastUpdateStatus`: `InProgress` from an update until it has committed.
    #[serde(default)]
    pub last_update_status: UpdateStatus,
}

/// Keys Lambda sets itself and refuses in a function's environment.
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "TZ",
];

const ROLE_PATTERN: &str = "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+";

/// `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`, checked by hand.
fn valid_role(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else {
        return false;
    };
    let Some((partition, rest)) = rest.split_once(':') else {
        return false;
    };
    if !(partition.is_empty()
        || (partition.starts_with("aws")
            && partition[3..]
                .chars()
                .all(|c| c.is_ascii_alphabetic() || c == '-')))
    {
        return false;
    }
    let Some(rest) = rest.strip_prefix("iam::") else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(rest) = rest.strip_prefix("role") else {
        return false;
    };
    let name = rest.strip_prefix('/').unwrap_or(rest);
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
}

const ENV_KEY_PATTERN: &str = "[a-zA-Z]([a-zA-Z0-9_])+";

fn valid_env_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && k.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks an environment map: key pattern, reserved keys, and the 4 KB limit measured on the
/// compact JSON serialisation of the map, as Lambda measures it.
pub fn validate_environment(vars: &BTreeMap<String, String>) -> Result<(), ValidationError> {
    if let Some(bad) = vars.keys().find(|k| !valid_env_key(k)) {
        return Err(ValidationError::pattern(
            "environment.variables",
            bad,
            ENV_KEY_PATTERN,
        ));
    }
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(ValidationError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > limits::MAX_ENVIRONMENT_BYTES {
        return Err(ValidationError::InvalidParameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

impl FunctionConfig {
    /// A fingerprint of everything that shapes this version's execution environment: code,
    /// runtime, handler, role, limits, variables, layers, architecture, tracing and logging.
    /// Equal for changes that do not alter execution (description, policies, tags, concurrency
    /// settings, revision), so warm environments survive those; different otherwise. Stable
    /// within one process only (it is `std`'s hasher), which is all environments need.
    pub fn execution_key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            &self.name,
            &self.version,
            &self.code.sha256_hex,
            &self.runtime,
            &self.handler,
            &self.role,
            self.timeout,
            self.memory_size,
            &self.environment,
            self.ephemeral_storage,
            &self.architectures,
            self.tracing_mode,
        )
            .hash(&mut h);
        (&self.logging, &self.layers).hash(&mut h);
        h.finish()
    }

    /// Checks every field: first the modelled constraints, all reported together as AWS's front
    /// end does ([`Self::constraint_violations`]), then the service's own rules, of which the
    /// first failure is returned ([`Self::check_parameters`]).
    pub fn validate(&self) -> Result<(), ValidationError> {
        ValidationError::collect(self.constraint_violations())?;
        self.check_parameters()
    }

    /// Every modelled constraint (pattern, length, range, enum) this configuration breaks, in
    /// the order of the request's members.
    pub fn constraint_violations(&self) -> Vec<ValidationError> {
        let mut found = Vec::new();
        let mut check = |r: Result<(), ValidationError>| {
            if let Err(e) = r {
                found.push(e);
            }
        };
        check(crate::arn::validate_function_name(&self.name));
        if let Some(r) = &self.runtime
            && Runtime::parse(r).is_none()
        {
            check(Err(ValidationError::one_of(
                "runtime",
                r,
                crate::runtime::KNOWN_RUNTIMES,
            )));
        }
        if !valid_role(&self.role) {
            check(Err(ValidationError::pattern(
                "role",
                &self.role,
                ROLE_PATTERN,
            )));
        }
        if let Some(h) = &self.handler {
            check(ValidationError::length(
                "handler",
                h,
                limits::MAX_HANDLER_CHARS,
            ));
            if h.is_empty() || h.chars().any(char::is_whitespace) {
                check(Err(ValidationError::pattern("handler", h, "[^\\s]+")));
            }
        }
        check(ValidationError::length(
            "description",
            &self.description,
            limits::MAX_DESCRIPTION_CHARS,
        ));
        check(ValidationError::range(
            "timeout",
            self.timeout,
            limits::TIMEOUT_RANGE,
        ));
        check(ValidationError::range(
            "memorySize",
            self.memory_size,
            limits::MEMORY_RANGE,
        ));
        if let Some(bad) = self
            .environment
            .iter()
            .flat_map(|vars| vars.keys())
            .find(|k| !valid_env_key(k))
        {
            check(Err(ValidationError::pattern(
                "environment.variables",
                bad,
                ENV_KEY_PATTERN,
            )));
        }
        if self.architectures.len() != 1 {
            let names: Vec<&str> = self.architectures.iter().map(|a| a.as_str()).collect();
            check(Err(ValidationError::Constraint {
                field: "architectures",
                value: format!("[{}]", names.join(", ")),
                constraint: "Member must have length less than or equal to 1".into(),
            }));
        }
        check(ValidationError::range(
            "ephemeralStorage.size",
            self.ephemeral_storage,
            limits::EPHEMERAL_STORAGE_RANGE,
        ));
        if let Some(level) = &self.logging.application_log_level
            && !APPLICATION_LOG_LEVELS.contains(&level.as_str())
        {
            check(Err(ValidationError::one_of(
                "loggingConfig.applicationLogLevel",
                level,
                APPLICATION_LOG_LEVELS,
            )));
        }
        if let Some(level) = &self.logging.system_log_level
            && !SYSTEM_LOG_LEVELS.contains(&level.as_str())
        {
            check(Err(ValidationError::one_of(
                "loggingConfig.systemLogLevel",
                level,
                SYSTEM_LOG_LEVELS,
            )));
        }
        found
    }

    /// The service's own rules, checked once the modelled constraints hold: runtimes AWS no
    /// longer accepts, Runtime and Handler required, reserved and oversized environments, log
    /// levels only with JSON, the layer count.
    pub fn check_parameters(&self) -> Result<(), ValidationError> {
        let runtime = self.runtime.as_deref().and_then(Runtime::parse);
        if let Some(r) = &runtime
            && r.is_blocked()
        {
            return Err(ValidationError::InvalidParameter(format!(
                "The runtime parameter of {r} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
            )));
        }
        let handler_needed = runtime.as_ref().is_none_or(Runtime::needs_handler);
        if runtime.is_none() || (handler_needed && self.handler.is_none()) {
            return Err(ValidationError::InvalidParameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
            ));
        }
        if let Some(vars) = &self.environment {
            validate_environment(vars)?;
        }
        if self.logging.log_format == LogFormat::Text
            && (self.logging.application_log_level.is_some()
                || self.logging.system_log_level.is_some())
        {
            return Err(ValidationError::InvalidParameter(
                "To set ApplicationLogLevel or SystemLogLevel, you must set LogFormat to JSON."
                    .into(),
            ));
        }
        if self.layers.len() > limits::MAX_LAYERS {
            return Err(ValidationError::InvalidParameter(format!(
                "Cannot reference more than {} layers.",
                limits::MAX_LAYERS
            )));
        }
        Ok(())
    }

    /// Whether publishing `self` would add nothing to `published`: same code and configuration,
    /// ignoring what every version has of its own (number, revision, time, description).
    pub fn same_content_as(&self, published: &FunctionConfig) -> bool {
        let strip = |c: &FunctionConfig| FunctionConfig {
            version: String::new(),
            revision_id: String::new(),
            last_modified_ms: 0,
            description: String::new(),
            state: FunctionState::default(),
            last_update_status: UpdateStatus::default(),
            ..c.clone()
        };
        strip(self) == strip(published)
    }

    /// The runtime family, when the runtime is known.
    pub fn runtime_family(&self) -> Option<RuntimeFamily> {
        self.runtime
            .as_deref()
            .and_then(Runtime::parse)
            .map(|r| r.family())
    }
}

#[cfg(any(test, feature = "test-support"))]
impl FunctionConfig {
    /// A valid, settled `$LATEST` of a Python 3.11 function named `name`, for tests in every
    /// crate (feature `test-support`): override what a test is about with struct-update syntax,
    /// `FunctionConfig { timeout: 10, ..FunctionConfig::fixture("f") }`.
    pub fn fixture(name: &str) -> FunctionConfig {
        FunctionConfig {
            name: name.into(),
            version: crate::arn::LATEST.into(),
            runtime: Some("python3.11".into()),
            handler: Some("app.handler".into()),
            role: "arn:aws:iam::000000000000:role/any".into(),
            description: String::new(),
            timeout: limits::DEFAULT_TIMEOUT,
            memory_size: limits::DEFAULT_MEMORY,
            environment: None,
            ephemeral_storage: limits::DEFAULT_EPHEMERAL_STORAGE,
            architectures: vec![Architecture::X86_64],
            tracing_mode: TracingMode::PassThrough,
            logging: LoggingConfig::default_for(name),
            layers: vec![],
            dead_letter_target: None,
            kms_key_arn: None,
            code: CodeRef {
                sha256_hex: "00".repeat(32),
                sha256_base64: String::new(),
                size: 0,
                unzipped_size: 0,
            },
            revision_id: "rev-1".into(),
            last_modified_ms: 0,
            state: FunctionState::Active,
            last_update_status: UpdateStatus::Successful,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_member_is_value_null_unquoted() {
        let e = ValidationError::Null { field: "authType" };
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value null at 'authType' failed to satisfy constraint: Member must not be null"
        );
        let both =
            ValidationError::collect(vec![e, ValidationError::one_of("invokeMode", "X", &["A"])])
                .unwrap_err();
        assert!(
            both.to_string()
                .starts_with("2 validation errors detected: Value null at 'authType'")
        );
    }

    fn sample() -> FunctionConfig {
        FunctionConfig::fixture("hello")
    }

    #[test]
    fn the_execution_key_follows_what_runs_and_nothing_else() {
        let base = sample();
        let same = |change: fn(&mut FunctionConfig)| {
            let mut c = base.clone();
            change(&mut c);
            c.execution_key() == base.execution_key()
        };
        assert!(same(|c| c.description = "another".into()));
        assert!(same(|c| c.revision_id = "rev-9".into()));
        assert!(same(|c| c.last_modified_ms += 1));
        assert!(same(|c| c.state = FunctionState::Pending));
        assert!(!same(|c| c.memory_size += 64));
        assert!(!same(|c| c.timeout += 1));
        assert!(!same(|c| c.handler = Some("other.handler".into())));
        assert!(!same(|c| c.code.sha256_hex = "ff".repeat(32)));
        assert!(!same(|c| {
            c.environment
                .get_or_insert_default()
                .insert("K".into(), "v".into());
        }));
        assert!(!same(
            |c| c.role = "arn:aws:iam::000000000000:role/other".into()
        ));
    }

    #[test]
    fn sample_is_valid() {
        sample().validate().unwrap();
    }

    #[test]
    fn ranges_are_enforced() {
        let mut c = sample();
        c.timeout = 0;
        assert!(matches!(
            c.validate(),
            Err(ValidationError::Constraint {
                field: "timeout",
                ..
            })
        ));
        c.timeout = 901;
        assert!(c.validate().is_err());
        let mut c = sample();
        c.memory_size = 127;
        assert!(matches!(
            c.validate(),
            Err(ValidationError::Constraint {
                field: "memorySize",
                ..
            })
        ));
        c.memory_size = 10_241;
        assert!(c.validate().is_err());
        let mut c = sample();
        c.ephemeral_storage = 10_241;
        assert!(c.validate().is_err());
    }

    #[test]
    fn roles_are_format_checked() {
        for ok in [
            "arn:aws:iam::000000000000:role/any",
            "arn:aws:iam::123456789012:role/service-role/x+y=z,a.b@c-d_e",
            "arn:aws-cn:iam::123456789012:role/r",
        ] {
            assert!(valid_role(ok), "{ok}");
        }
        for bad in [
            "",
            "role",
            "arn:aws:iam::123:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
        ] {
            assert!(!valid_role(bad), "{bad}");
        }
    }

    #[test]
    fn environment_limit_is_measured_as_json() {
        // {"K":"<v>"} is 8 bytes plus the value.
        let exact = BTreeMap::from([("KK".to_string(), "v".repeat(4096 - 9))]);
        assert_eq!(serde_json::to_string(&exact).unwrap().len(), 4096);
        validate_environment(&exact).unwrap();
        let over = BTreeMap::from([("KK".to_string(), "v".repeat(4096 - 8))]);
        let err = validate_environment(&over).unwrap_err();
        assert!(
            err.to_string()
                .contains("exceeded the 4KB limit. String measured: {\"KK\":")
        );
        // Escapes count as they are serialised: a quote costs two bytes.
        let quoted = BTreeMap::from([("KK".to_string(), "\"".repeat(2044))]);
        assert!(validate_environment(&quoted).is_err());
    }

    #[test]
    fn reserved_and_malformed_keys_are_refused() {
        let reserved = BTreeMap::from([("AWS_REGION".to_string(), "x".to_string())]);
        let msg = validate_environment(&reserved).unwrap_err().to_string();
        assert!(msg.contains("Reserved keys used in this request: AWS_REGION"));
        for bad in ["1A", "A", "A-B", "_A"] {
            let vars = BTreeMap::from([(bad.to_string(), "x".to_string())]);
            assert!(validate_environment(&vars).is_err(), "{bad}");
        }
    }

    #[test]
    fn runtime_and_handler_rules() {
        let mut c = sample();
        c.runtime = Some("cobol".into());
        assert!(matches!(
            c.validate(),
            Err(ValidationError::Constraint {
                field: "runtime",
                ..
            })
        ));
        let mut c = sample();
        c.handler = None;
        assert!(matches!(
            c.validate(),
            Err(ValidationError::InvalidParameter(_))
        ));
        let mut c = sample();
        c.runtime = Some("provided.al2023".into());
        c.handler = None;
        c.validate().unwrap();
        let mut c = sample();
        c.handler = Some("has space".into());
        assert!(c.validate().is_err());
    }

    #[test]
    fn log_levels_need_json() {
        let mut c = sample();
        c.logging.application_log_level = Some("INFO".into());
        assert!(c.validate().is_err());
        c.logging.log_format = LogFormat::Json;
        c.validate().unwrap();
        c.logging.application_log_level = Some("LOUD".into());
        assert!(c.validate().is_err());
    }

    #[test]
    fn deprecated_runtimes_are_refused_in_aws_words() {
        let c = FunctionConfig {
            runtime: Some("python3.7".into()),
            ..sample()
        };
        assert_eq!(
            c.validate().unwrap_err(),
            ValidationError::InvalidParameter(
                "The runtime parameter of python3.7 is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions.".into()
            )
        );
    }

    #[test]
    fn constraint_failures_are_reported_together_and_first() {
        let c = FunctionConfig {
            memory_size: 1,
            timeout: 0,
            // A service rule broken as well: the constraints still win.
            runtime: Some("python3.7".into()),
            ..sample()
        };
        let e = c.validate().unwrap_err();
        assert!(e.is_constraint());
        assert_eq!(
            e.to_string(),
            "2 validation errors detected: Value '0' at 'timeout' failed to satisfy constraint: Member must have value greater than or equal to 1; Value '1' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
        );
        let one = FunctionConfig {
            memory_size: 1,
            ..sample()
        };
        assert_eq!(
            one.validate().unwrap_err().to_string(),
            "1 validation error detected: Value '1' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128"
        );
    }

    #[test]
    fn collect_keeps_a_parameter_error_only_without_constraints() {
        let p = ValidationError::InvalidParameter("p".into());
        assert_eq!(ValidationError::collect(vec![]), Ok(()));
        assert_eq!(ValidationError::collect(vec![p.clone()]), Err(p.clone()));
        let c = ValidationError::one_of("f", "x", &["a"]);
        assert_eq!(ValidationError::collect(vec![p, c.clone()]), Err(c));
    }

    #[test]
    fn old_records_decode_as_settled() {
        let mut v = serde_json::to_value(sample()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("state");
        o.remove("last_update_status");
        let old: FunctionConfig = serde_json::from_value(v).unwrap();
        assert_eq!(old.state, FunctionState::Active);
        assert_eq!(old.last_update_status, UpdateStatus::Successful);
    }
}
