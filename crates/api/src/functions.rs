//! The functions resource: CreateFunction, GetFunction, GetFunctionConfiguration,
//! ListFunctions, UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction.

use crate::ApiState;
use crate::request::{self, AliasVersion, function_not_found};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ignis_model::function::{
    Architecture, CodeRef, FunctionConfig, LogFormat, LoggingConfig, TracingMode,
};
use ignis_model::{
    FunctionRef, FunctionState, Qualifier, UpdateStatus, ValidationError, limits, time,
};
use ignis_package::{Limits, PackageError, StoredPackage};
use ignis_store::StoreError;
use ignis_wire::LambdaApiError;
use ignis_wire::function::{
    CodeSpec, CreateFunctionRequest, Detail, FunctionCodeLocation, FunctionConfiguration,
    GetFunctionResponse, ListFunctionsResponse, LoggingSpec, UnsupportedOptions,
    UpdateFunctionCodeRequest, UpdateFunctionConfigurationRequest,
};
use std::collections::BTreeMap;

/// Maps a store failure to its wire error; internal ones are logged and answered generically.
pub fn store_error(e: StoreError) -> LambdaApiError {
    match e {
        StoreError::AlreadyExists(name) => {
            LambdaApiError::ResourceConflict(format!("Function already exist: {name}"))
        }
        StoreError::NotFound(name) => {
            LambdaApiError::ResourceNotFound(format!("Function not found: {name}"))
        }
        StoreError::RevisionMismatch { .. } => revision_mismatch(),
        StoreError::CodeShaMismatch {
            expected, actual, ..
        } => LambdaApiError::PreconditionFailed(format!(
            "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({actual}). Please try again with the current CodeSHA256."
        )),
        StoreError::AliasExists(name) => {
            LambdaApiError::ResourceConflict(format!("Alias already exists: {name}"))
        }
        StoreError::AliasNotFound(name) => {
            LambdaApiError::ResourceNotFound(format!("Cannot find alias arn: {name}"))
        }
        StoreError::VersionInUse { alias, .. } => LambdaApiError::ResourceConflict(format!(
            "Unable to delete version because the following aliases reference it: [{alias}]"
        )),
        other => {
            tracing::error!(error = ?other, "metadata store failed");
            LambdaApiError::Service("An internal error occurred in the metadata store.".into())
        }
    }
}

pub(crate) fn revision_mismatch() -> LambdaApiError {
    LambdaApiError::PreconditionFailed(
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
    )
}

fn package_error(e: PackageError) -> LambdaApiError {
    match e {
        PackageError::Io { .. } => {
            tracing::error!(error = ?e, "code store failed");
            LambdaApiError::Service("An internal error occurred while storing the code.".into())
        }
        PackageError::TooLarge { .. } => LambdaApiError::RequestTooLarge(e.to_string()),
        other => LambdaApiError::InvalidParameterValue(other.to_string()),
    }
}

pub(crate) fn not_built(what: &str) -> LambdaApiError {
    LambdaApiError::InvalidParameterValue(format!("{what} is not supported by Ignis yet."))
}

/// `DeadLetterConfig.TargetArn` as a request sets it: `None` when the request leaves it alone,
/// `Some(None)` when it clears it (an empty ARN), `Some(Some(arn))` for an SQS queue of this
/// account and region. SNS topics are refused as not built yet.
fn dead_letter_target(
    state: &ApiState,
    spec: Option<&ignis_wire::function::DeadLetterSpec>,
) -> Result<Option<Option<String>>, LambdaApiError> {
    let Some(arn) = spec.and_then(|d| d.target_arn.as_deref()) else {
        return Ok(spec.map(|_| None));
    };
    if arn.is_empty() {
        return Ok(Some(None));
    }
    let invalid = || {
        LambdaApiError::InvalidParameterValue(format!(
            "The provided target arn {arn} is invalid. Specify an SQS queue or SNS topic ARN."
        ))
    };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return Err(LambdaApiError::Validation(format!(
            "1 validation error detected: Value '{arn}' at 'deadLetterConfig.targetArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:[a-z0-9-.]+:.*)|()"
        )));
    }
    match ignis_model::invoke_config::Destination::parse(arn) {
        Some(ignis_model::invoke_config::Destination::Queue { .. })
            if parts[3] == state.account.region && parts[4] == state.account.id =>
        {
            Ok(Some(Some(arn.to_string())))
        }
        _ if parts[2] == "sns" => Err(not_built("DeadLetterConfig with an SNS topic")),
        _ => Err(invalid()),
    }
}

fn refuse_unsupported(options: &UnsupportedOptions) -> Result<(), LambdaApiError> {
    match options.first_set() {
        Some(name) => Err(not_built(name)),
        None => Ok(()),
    }
}

/// The package `Code` names (container images are refused: Ignis has none yet).
async fn zip_bytes(state: &ApiState, code: &CodeSpec) -> Result<(Vec<u8>, Limits), LambdaApiError> {
    if code.image_uri.is_some() {
        return Err(not_built("Code.ImageUri (container images)"));
    }
    crate::code_source::package(
        state,
        crate::code_source::Source {
            zip_file: code.zip_file.as_deref(),
            s3_bucket: code.s3_bucket.as_deref(),
            s3_key: code.s3_key.as_deref(),
            s3_object_version: code.s3_object_version.as_deref(),
            what: "function code",
        },
    )
    .await
}

/// Stores the package once (blocking work off the reactor) and returns its reference.
pub(crate) async fn store_code(
    state: &ApiState,
    zip: Vec<u8>,
    limits: Limits,
) -> Result<CodeRef, LambdaApiError> {
    let code = state.code.clone();
    let stored: StoredPackage = tokio::task::spawn_blocking(move || code.put(&zip, &limits))
        .await
        .map_err(|_| {
            LambdaApiError::Service("An internal error occurred while storing the code.".into())
        })?
        .map_err(package_error)?;
    Ok(CodeRef {
        sha256_hex: stored.digest.hex(),
        sha256_base64: stored.digest.base64(),
        size: stored.code_size,
        unzipped_size: stored.unzipped_size,
    })
}

/// The packages a configuration refers to: its code and its layers.
fn referenced_packages(code_hex: &str, config: &FunctionConfig) -> Vec<String> {
    std::iter::once(code_hex.to_string())
        .chain(config.layers.iter().map(|l| l.sha256_hex.clone()))
        .collect()
}

/// Removes packages no version or layer refers to any more and no environment holds (those
/// that were held when last collected are tried again), then the merged layer directories no
/// version uses. Takes the packages' locks: never call it holding package locks.
pub(crate) async fn collect_garbage(state: &ApiState, mut hashes: Vec<String>) {
    hashes.extend(state.code.take_deferred().iter().map(|d| d.hex()));
    let _held = state.code_locks.packages(&hashes).await;
    for hex in hashes {
        match state.store.code_in_use(&hex).await {
            Ok(false) => {
                if let Some(d) = ignis_package::Digest::from_hex(&hex) {
                    let code = state.code.clone();
                    let removed = tokio::task::spawn_blocking(move || code.remove(&d)).await;
                    match removed {
                        Ok(Ok(true)) => {}
                        Ok(Ok(false)) => {
                            tracing::debug!(
                                sha256 = hex,
                                "unused package still held by an environment"
                            )
                        }
                        _ => {
                            tracing::warn!(sha256 = hex, "could not remove an unused code package")
                        }
                    }
                }
            }
            Ok(true) => {}
            Err(e) => tracing::warn!(error = ?e, "could not check code package use"),
        }
    }
    crate::layers::collect_merged(state).await;
}

/// The request's `Architectures`, or `current` when absent.
fn architectures(
    given: Option<&Vec<String>>,
    current: Vec<Architecture>,
) -> Result<Vec<Architecture>, ValidationError> {
    match given {
        None => Ok(current),
        Some(list) => list
            .iter()
            .map(|a| Architecture::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ValidationError::Constraint {
                field: "architectures",
                value: format!("[{}]", list.join(", ")),
                constraint: "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]".into(),
            }),
    }
}

/// Applies `LoggingConfig`; an unknown `LogFormat` is a constraint failure.
fn apply_logging(
    spec: Option<&LoggingSpec>,
    logging: &mut LoggingConfig,
) -> Result<(), ValidationError> {
    let Some(spec) = spec else { return Ok(()) };
    if let Some(f) = &spec.log_format {
        logging.log_format = match f.as_str() {
            "Text" => LogFormat::Text,
            "JSON" => LogFormat::Json,
            other => {
                return Err(ValidationError::one_of(
                    "loggingConfig.logFormat",
                    other,
                    &["JSON", "Text"],
                ));
            }
        };
    }
    if spec.application_log_level.is_some() {
        logging.application_log_level = spec.application_log_level.clone();
    }
    if spec.system_log_level.is_some() {
        logging.system_log_level = spec.system_log_level.clone();
    }
    // As Lambda: a JSON format has both levels (INFO unless given); switching to Text drops
    // them (levels given with Text are kept, to be refused by the parameter check).
    match logging.log_format {
        LogFormat::Json => {
            let default = || Some(ignis_model::function::DEFAULT_LOG_LEVEL.to_string());
            logging.application_log_level = logging.application_log_level.take().or_else(default);
            logging.system_log_level = logging.system_log_level.take().or_else(default);
        }
        LogFormat::Text if spec.log_format.is_some() => {
            logging.application_log_level = spec.application_log_level.clone();
            logging.system_log_level = spec.system_log_level.clone();
        }
        LogFormat::Text => {}
    }
    if let Some(g) = &spec.log_group {
        logging.log_group = g.clone();
    }
    Ok(())
}

/// Keeps a request-level value, or records its constraint failure and keeps `fallback` so
/// that the rest of the request is still checked (AWS reports every failure at once).
fn checked<T>(r: Result<T, ValidationError>, fallback: T, found: &mut Vec<ValidationError>) -> T {
    r.unwrap_or_else(|e| {
        found.push(e);
        fallback
    })
}

/// AWS's order of checks for a candidate configuration: every modelled constraint (with the
/// request-level ones in `found`) as one `ValidationException`, then the service's own rules
/// (runtimes AWS no longer accepts, Runtime and Handler required …). Whatever Ignis refuses
/// because it does not have it yet is checked only after this.
fn check_candidate(
    config: &FunctionConfig,
    mut found: Vec<ValidationError>,
) -> Result<(), LambdaApiError> {
    found.extend(config.constraint_violations());
    ValidationError::collect(found)?;
    config.check_parameters()?;
    Ok(())
}

pub(crate) fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), LambdaApiError> {
    if tags.len() > limits::MAX_TAGS {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "The number of tags exceeds the limit of {}.",
            limits::MAX_TAGS
        )));
    }
    if let Some((k, _)) = tags
        .iter()
        .find(|(k, v)| k.is_empty() || k.len() > 128 || v.len() > 256 || k.starts_with("aws:"))
    {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "Invalid tag key or value: {k}"
        )));
    }
    Ok(())
}

fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `$LATEST` of the referenced function; the mutating operations act on it only.
fn latest_of(
    state: &ApiState,
    r: &FunctionRef,
) -> Result<std::sync::Arc<FunctionConfig>, LambdaApiError> {
    match &r.qualifier {
        None | Some(Qualifier::Latest) => request::resolve_config(state, r, AliasVersion::Primary),
        Some(_) => Err(LambdaApiError::InvalidParameterValue(
            "Only $LATEST can be updated; published versions are immutable.".into(),
        )),
    }
}

fn configuration(state: &ApiState, c: &FunctionConfig) -> FunctionConfiguration {
    FunctionConfiguration::from_config(c, &state.account, Detail::Full)
}

pub async fn create(
    State(state): State<ApiState>,
    extensions: http::Extensions,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let req: CreateFunctionRequest = request::json(&body)?;
    let mut found = Vec::new();
    if let Some(p) = req.package_type.as_deref()
        && p != "Zip"
        && p != "Image"
    {
        found.push(ValidationError::one_of("packageType", p, &["Zip", "Image"]));
    }
    let layers = crate::layers::resolve_function_layers(
        &state,
        req.layers.as_deref().unwrap_or_default(),
        &[],
    )
    .await?;
    let mut logging = LoggingConfig::default_for(&req.function_name);
    let logged = apply_logging(req.logging_config.as_ref(), &mut logging);
    checked(logged, (), &mut found);
    let tracing_mode = match req.tracing_config.as_ref().and_then(|t| t.mode.as_deref()) {
        Some(m) => checked(TracingMode::parse(m), TracingMode::PassThrough, &mut found),
        None => TracingMode::PassThrough,
    };
    let mut config = FunctionConfig {
        name: req.function_name.clone(),
        version: ignis_model::arn::LATEST.into(),
        runtime: req.runtime.clone(),
        handler: req.handler.clone(),
        role: req.role.clone(),
        description: req.description.clone().unwrap_or_default(),
        timeout: req.timeout.unwrap_or(limits::DEFAULT_TIMEOUT),
        memory_size: req.memory_size.unwrap_or(limits::DEFAULT_MEMORY),
        environment: req.environment.as_ref().and_then(|e| e.variables.clone()),
        ephemeral_storage: req
            .ephemeral_storage
            .as_ref()
            .map_or(limits::DEFAULT_EPHEMERAL_STORAGE, |e| e.size),
        architectures: checked(
            architectures(req.architectures.as_ref(), vec![Architecture::X86_64]),
            vec![Architecture::X86_64],
            &mut found,
        ),
        tracing_mode,
        logging,
        layers,
        dead_letter_target: None,
        kms_key_arn: req.kms_key_arn.clone().filter(|k| !k.is_empty()),
        code: CodeRef {
            sha256_hex: String::new(),
            sha256_base64: String::new(),
            size: 0,
            unzipped_size: 0,
        },
        revision_id: new_revision(),
        last_modified_ms: time::now_ms(),
        // Stored as being created; `settle_later` turns it Active once the create committed.
        state: FunctionState::Pending,
        last_update_status: UpdateStatus::Successful,
    };
    // Everything is checked before the package touches the disk: AWS's checks first, then
    // what Ignis does not have yet, then whether this node can run the runtime.
    check_candidate(&config, found)?;
    refuse_unsupported(&req.unsupported)?;
    if req.package_type.as_deref() == Some("Image") {
        return Err(not_built("PackageType Image (container images)"));
    }
    config.dead_letter_target =
        dead_letter_target(&state, req.dead_letter_config.as_ref())?.flatten();
    let tags = req.tags.clone().unwrap_or_default();
    validate_tags(&tags)?;
    let (zip, limits) = zip_bytes(&state, &req.code).await?;
    check_runtime_available(&state, &config)?;
    check_role(&state, &extensions, &config.role)?;
    if state
        .store
        .cached(&config.name, ignis_model::arn::LATEST)
        .is_some()
    {
        return Err(store_error(StoreError::AlreadyExists(config.name)));
    }

    let _function = state.code_locks.function(&config.name).await;
    let referenced = state
        .code_locks
        .packages(referenced_packages(
            &ignis_package::Digest::of(&zip).hex(),
            &config,
        ))
        .await;
    config.code = store_code(&state, zip, limits).await?;
    // With its layers, the function must fit in 250 MB unzipped; its /opt is built up front.
    let prepared = match crate::layers::check_combined_size(&config) {
        Ok(()) => crate::layers::prepare_opt(&state, &config.layers).await,
        Err(e) => Err(e),
    };
    let created = match prepared {
        Ok(_opt) => state
            .store
            .create_function(&config, &tags)
            .await
            .map_err(store_error),
        Err(e) => Err(e),
    };
    drop(referenced);
    if let Err(e) = created {
        collect_garbage(&state, vec![config.code.sha256_hex.clone()]).await;
        return Err(e);
    }
    let answer = if req.publish == Some(true) {
        crate::versions::publish(&state, &config.name, None, None, None).await?
    } else {
        config.clone()
    };
    drop(_function);
    // Code stored, /opt built, record committed: the function is ready to run.
    settle_later(&state, &config);
    Ok((StatusCode::CREATED, Json(configuration(&state, &answer))).into_response())
}

/// Lambda must be able to assume the execution role: it exists and trusts
/// `lambda.amazonaws.com` (not checked when IAM is off).
/// The execution role a create or update names: the caller (unless it is the root user) must
/// be allowed `iam:PassRole` on it for `lambda.amazonaws.com`, and it must exist and trust
/// Lambda, as Lambda checks.
fn check_role(
    state: &ApiState,
    extensions: &http::Extensions,
    role: &str,
) -> Result<(), LambdaApiError> {
    if state.identity.mode() == ignis_identity::IamMode::Off {
        return Ok(());
    }
    if let Some(crate::front::Caller(principal)) = extensions.get::<crate::front::Caller>() {
        let source_ip = ignis_front::Source::of(extensions).ip();
        let passed_to = [("iam:PassedToService", ignis_identity::LAMBDA.to_string())];
        state
            .identity
            .check(principal, source_ip, "iam:PassRole", role, &passed_to)
            .map_err(LambdaApiError::AccessDenied)?;
    }
    state
        .identity
        .service_may_assume(role, ignis_identity::LAMBDA)
        .map_err(|_| {
            LambdaApiError::InvalidParameterValue(ignis_identity::LAMBDA_CANNOT_ASSUME.into())
        })
}

/// Settles a just-written `$LATEST` in the background (see [`settle`]).
pub(crate) fn settle_later(state: &ApiState, written: &FunctionConfig) {
    let (state, name) = (state.clone(), written.name.clone());
    tokio::spawn(async move { settle(&state, &name).await });
}

/// Turns `$LATEST` settled — `Pending` becomes `Active`, `InProgress` becomes `Successful` —
/// under a new RevisionId, as AWS does once a create or an update has completed. Called once a
/// write committed (its code stored, its `/opt` built), so what is stored is ready to run.
/// Whatever `$LATEST` is by then is settled, even if another write (an update, a policy change
/// that copied the unsettled configuration) replaced the one that asked: it committed too.
pub async fn settle(state: &ApiState, name: &str) {
    let _function = state.code_locks.function(name).await;
    let Some(current) = state.store.cached(name, ignis_model::arn::LATEST) else {
        return;
    };
    if current.state == FunctionState::Active
        && current.last_update_status == UpdateStatus::Successful
    {
        return;
    }
    let next = FunctionConfig {
        state: FunctionState::Active,
        last_update_status: UpdateStatus::Successful,
        revision_id: new_revision(),
        ..(*current).clone()
    };
    // Writers of `$LATEST` hold the same lock, so the compare-and-set only fails if the
    // function was deleted meanwhile.
    match state.store.update_latest(&next, &current.revision_id).await {
        Ok(()) | Err(StoreError::RevisionMismatch { .. } | StoreError::NotFound(_)) => {}
        Err(e) => tracing::warn!(error = ?e, function = name, "could not settle a function"),
    }
}

/// Settles every `$LATEST` a previous run left `Pending` or `InProgress` (it stopped between
/// the write and its settling); called once at start-up.
pub async fn settle_all(state: &ApiState) -> Result<(), StoreError> {
    let mut marker = None;
    loop {
        let page = state
            .store
            .list_functions(marker.as_deref(), limits::MAX_LIST_PAGE)
            .await?;
        for c in &page.items {
            if c.state != FunctionState::Active || c.last_update_status != UpdateStatus::Successful
            {
                settle(state, &c.name).await;
            }
        }
        match page.next_marker {
            Some(m) => marker = Some(m),
            None => return Ok(()),
        }
    }
}

pub async fn get(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<GetFunctionResponse>, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let config = request::resolve_config(&state, &r, AliasVersion::Primary)?;
    let record = state
        .store
        .get_function(&r.name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => function_not_found(&state, &r.name, r.qualifier.as_ref()),
            other => store_error(other),
        })?;
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let location = format!(
        "http://{host}{}",
        state
            .code_urls
            .path_and_query(&config.code.sha256_hex, chrono::Utc::now().timestamp())
    );
    Ok(Json(GetFunctionResponse {
        configuration: configuration(&state, &config),
        code: FunctionCodeLocation {
            repository_type: "S3",
            location,
        },
        tags: Some(record.tags),
        concurrency: record
            .reserved_concurrency
            .map(|n| ignis_wire::function::Concurrency {
                reserved_concurrent_executions: n,
            }),
    }))
}

pub async fn get_configuration(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<FunctionConfiguration>, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let config = request::resolve_config(&state, &r, AliasVersion::Primary)?;
    Ok(Json(configuration(&state, &config)))
}

pub async fn list(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListFunctionsResponse>, LambdaApiError> {
    let q = query.as_deref();
    let max_items = request::max_items(q, 10_000, limits::MAX_LIST_PAGE)?;
    let marker = request::query_value(q, "Marker").filter(|m| !m.is_empty());
    let page = state
        .store
        .list_functions(marker.as_deref(), max_items)
        .await
        .map_err(store_error)?;
    Ok(Json(ListFunctionsResponse {
        functions: page
            .items
            .iter()
            .map(|c| FunctionConfiguration::from_config(c, &state.account, Detail::Listing))
            .collect(),
        next_marker: page.next_marker,
    }))
}

fn check_revision(given: Option<&str>, current: &FunctionConfig) -> Result<(), LambdaApiError> {
    match given {
        Some(r) if r != current.revision_id => Err(revision_mismatch()),
        _ => Ok(()),
    }
}

/// Writes a new `$LATEST` under compare-and-set, and collects the old package if unused.
async fn replace_latest(
    state: &ApiState,
    current: &FunctionConfig,
    next: FunctionConfig,
) -> Result<Json<FunctionConfiguration>, LambdaApiError> {
    state
        .store
        .update_latest(&next, &current.revision_id)
        .await
        .map_err(store_error)?;
    // Environments of the old `$LATEST` stop if what it executes changed; published versions
    // keep theirs.
    state.engine.invoker().supersede(&next).await;
    Ok(Json(configuration(state, &next)))
}

pub async fn update_code(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<FunctionConfiguration>, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let req: UpdateFunctionCodeRequest = request::json(&body)?;
    let (zip, limits) = zip_bytes(&state, &req.code).await?;
    let _function = state.code_locks.function(&r.name).await;
    let current = latest_of(&state, &r)?;
    check_revision(req.revision_id.as_deref(), &current)?;
    let mut next = (*current).clone();
    let mut found = Vec::new();
    next.architectures = checked(
        architectures(req.architectures.as_ref(), next.architectures.clone()),
        next.architectures,
        &mut found,
    );
    check_candidate(&next, found)?;
    let referenced = state
        .code_locks
        .packages(referenced_packages(
            &ignis_package::Digest::of(&zip).hex(),
            &next,
        ))
        .await;
    if req.dry_run == Some(true) {
        // Validate the package without keeping it.
        let digest = ignis_package::Digest::of(&zip);
        let existed = state.code.contains(&digest);
        let code = store_code(&state, zip, limits).await?;
        drop(referenced);
        if !existed {
            collect_garbage(&state, vec![code.sha256_hex]).await;
        }
        return Ok(Json(configuration(&state, &current)));
    }
    next.code = store_code(&state, zip, limits).await?;
    if let Err(e) = crate::layers::check_combined_size(&next) {
        drop(referenced);
        collect_garbage(&state, vec![next.code.sha256_hex.clone()]).await;
        return Err(e);
    }
    next.revision_id = new_revision();
    next.last_modified_ms = time::now_ms();
    next.last_update_status = UpdateStatus::InProgress;
    let replaced = replace_latest(&state, &current, next.clone()).await;
    drop(referenced);
    if current.code.sha256_hex != next.code.sha256_hex {
        collect_garbage(&state, vec![current.code.sha256_hex.clone()]).await;
    }
    if let Err(e) = replaced {
        collect_garbage(&state, vec![next.code.sha256_hex]).await;
        return Err(e);
    }
    let answer = if req.publish == Some(true) {
        crate::versions::publish(&state, &next.name, None, None, None).await
    } else {
        Ok(next.clone())
    };
    drop(_function);
    settle_later(&state, &next);
    Ok(Json(configuration(&state, &answer?)))
}

pub async fn update_configuration(
    State(state): State<ApiState>,
    extensions: http::Extensions,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<FunctionConfiguration>, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let req: UpdateFunctionConfigurationRequest = request::json(&body)?;
    let _function = state.code_locks.function(&r.name).await;
    let current = latest_of(&state, &r)?;
    check_revision(req.revision_id.as_deref(), &current)?;
    let mut next = (*current).clone();
    if let Some(arns) = &req.layers {
        next.layers = crate::layers::resolve_function_layers(&state, arns, &current.layers).await?;
    }
    if let Some(v) = &req.role {
        next.role = v.clone();
    }
    if let Some(v) = &req.handler {
        next.handler = Some(v.clone());
    }
    if let Some(v) = &req.description {
        next.description = v.clone();
    }
    if let Some(v) = req.timeout {
        next.timeout = v;
    }
    if let Some(v) = req.memory_size {
        next.memory_size = v;
    }
    if let Some(env) = &req.environment {
        // The whole map is replaced, as on AWS.
        next.environment = env.variables.clone();
    }
    if let Some(v) = &req.runtime {
        next.runtime = Some(v.clone());
    }
    if let Some(k) = &req.kms_key_arn {
        next.kms_key_arn = Some(k.clone()).filter(|k| !k.is_empty());
    }
    let mut found = Vec::new();
    if let Some(m) = req.tracing_config.as_ref().and_then(|t| t.mode.as_deref()) {
        next.tracing_mode = checked(TracingMode::parse(m), next.tracing_mode, &mut found);
    }
    if let Some(e) = &req.ephemeral_storage {
        next.ephemeral_storage = e.size;
    }
    let logged = apply_logging(req.logging_config.as_ref(), &mut next.logging);
    checked(logged, (), &mut found);
    check_candidate(&next, found)?;
    refuse_unsupported(&req.unsupported)?;
    if let Some(target) = dead_letter_target(&state, req.dead_letter_config.as_ref())? {
        next.dead_letter_target = target;
    }
    if next.runtime != current.runtime {
        check_runtime_available(&state, &next)?;
    }
    if next.role != current.role {
        check_role(&state, &extensions, &next.role)?;
    }
    crate::layers::check_combined_size(&next)?;
    let referenced = state
        .code_locks
        .packages(referenced_packages(&next.code.sha256_hex, &next))
        .await;
    let _opt = crate::layers::prepare_opt(&state, &next.layers).await?;
    next.revision_id = new_revision();
    next.last_modified_ms = time::now_ms();
    next.last_update_status = UpdateStatus::InProgress;
    let layers_changed = current.layers != next.layers;
    let dropped: Vec<String> = current
        .layers
        .iter()
        .filter(|l| !next.layers.contains(l))
        .map(|l| l.sha256_hex.clone())
        .collect();
    let answer = replace_latest(&state, &current, next.clone()).await;
    drop(referenced);
    let answer = answer?;
    if layers_changed {
        // Packages of deleted layer versions and the old merged /opt may now be unused.
        collect_garbage(&state, dropped).await;
    }
    drop(_function);
    settle_later(&state, &next);
    Ok(answer)
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    match &r.qualifier {
        None => {}
        Some(Qualifier::Latest) => {
            return Err(LambdaApiError::InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            ));
        }
        Some(Qualifier::Version(n)) => {
            let _function = state.code_locks.function(&r.name).await;
            let layer_hashes = state
                .store
                .function_layer_hashes(&r.name, Some(&n.to_string()));
            let sha = state
                .store
                .delete_version(&r.name, &n.to_string())
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        function_not_found(&state, &r.name, r.qualifier.as_ref())
                    }
                    other => store_error(other),
                })?;
            if let Err(e) = state
                .store
                .delete_function_policy(&r.name, &n.to_string())
                .await
            {
                tracing::warn!(error = ?e, "could not delete the policy of a deleted version");
            }
            state.engine.deprovision(&r.name, &n.to_string()).await;
            collect_garbage(&state, std::iter::once(sha).chain(layer_hashes).collect()).await;
            return Ok(StatusCode::NO_CONTENT);
        }
        Some(Qualifier::Alias(_)) => {
            return Err(LambdaApiError::InvalidParameterValue(
                "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias.".into(),
            ));
        }
    }
    let _function = state.code_locks.function(&r.name).await;
    let layer_hashes = state.store.function_layer_hashes(&r.name, None);
    let hashes = state
        .store
        .delete_function(&r.name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => function_not_found(&state, &r.name, None),
            other => store_error(other),
        })?;
    state.engine.function_deleted(&r.name).await;
    collect_garbage(&state, hashes.into_iter().chain(layer_hashes).collect()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Refuses a runtime the API knows but this node cannot run, naming the ones it can.
fn check_runtime_available(
    state: &ApiState,
    config: &FunctionConfig,
) -> Result<(), LambdaApiError> {
    match &config.runtime {
        Some(r) if !state.runtimes.iter().any(|a| a == r) => {
            Err(LambdaApiError::InvalidParameterValue(format!(
                "The runtime parameter of {r} is not available on this Ignis node. Available runtimes: {}",
                state.runtimes.join(", ")
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(format: Option<&str>, app: Option<&str>, system: Option<&str>) -> LoggingSpec {
        LoggingSpec {
            log_format: format.map(str::to_string),
            application_log_level: app.map(str::to_string),
            system_log_level: system.map(str::to_string),
            log_group: None,
        }
    }

    fn levels(l: &LoggingConfig) -> (Option<&str>, Option<&str>) {
        (
            l.application_log_level.as_deref(),
            l.system_log_level.as_deref(),
        )
    }

    #[test]
    fn logging_levels_follow_the_format_as_on_lambda() {
        let mut l = LoggingConfig::default_for("f");
        apply_logging(Some(&spec(Some("JSON"), None, None)), &mut l).unwrap();
        assert_eq!(levels(&l), (Some("INFO"), Some("INFO")));
        apply_logging(Some(&spec(None, Some("DEBUG"), None)), &mut l).unwrap();
        assert_eq!(levels(&l), (Some("DEBUG"), Some("INFO")));
        apply_logging(Some(&spec(Some("Text"), None, None)), &mut l).unwrap();
        assert_eq!((l.log_format, levels(&l)), (LogFormat::Text, (None, None)));
        // Levels with Text are kept so that the parameter check refuses them.
        apply_logging(Some(&spec(Some("Text"), Some("WARN"), None)), &mut l).unwrap();
        assert_eq!(levels(&l), (Some("WARN"), None));
        let mut l = LoggingConfig::default_for("f");
        apply_logging(Some(&spec(Some("JSON"), None, Some("DEBUG"))), &mut l).unwrap();
        assert_eq!(levels(&l), (Some("INFO"), Some("DEBUG")));
    }
}
