//! The layers resource: PublishLayerVersion, GetLayerVersion, GetLayerVersionByArn, ListLayers,
//! ListLayerVersions, DeleteLayerVersion and the layer version permissions
//! (AddLayerVersionPermission, GetLayerVersionPolicy, RemoveLayerVersionPermission).
//!
//! Also what functions need from layers: resolving a `Layers` list to [`LayerRef`]s, the
//! combined size limit, and the merged `/opt` directory of a function version.

use crate::ApiState;
use crate::functions::{collect_garbage, store_code, store_error};
use crate::request;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ignis_model::function::{CodeRef, FunctionConfig, LayerRef};
use ignis_model::layer::{
    LAYER_VERSION_ARN_PATTERN, LayerFilter, LayerName, LayerVersion, LayerVersionArn, layer_arn,
    layer_version_arn, parse_version_number,
};
use ignis_model::{limits, time};
use ignis_package::Digest;
use ignis_store::PolicyError;
use ignis_wire::LambdaApiError;
use ignis_wire::layer::{
    AddLayerVersionPermissionRequest, AddLayerVersionPermissionResponse, LayerVersionResponse,
    LayerVersionsListItem, LayersListItem, ListLayerVersionsResponse, ListLayersResponse,
    PublishLayerVersionRequest,
};
use ignis_wire::policy::{PolicyResponse, layer_statement, validate_statement_id};
use std::collections::HashSet;

/// ListLayers and ListLayerVersions return at most this many per page.
const MAX_LAYER_PAGE: usize = 50;

fn resource_not_found() -> LambdaApiError {
    LambdaApiError::ResourceNotFound("The resource you requested does not exist.".into())
}

fn version_not_found(arn: &str) -> LambdaApiError {
    LambdaApiError::ResourceNotFound(format!("Layer version {arn} does not exist."))
}

/// The layer a `{LayerName}` label names, or `None` when it is an ARN of another account or
/// region (which this node does not have).
fn layer_name(state: &ApiState, raw: &str) -> Result<Option<String>, LambdaApiError> {
    let n = LayerName::parse(raw)?;
    Ok(n.belongs_to(&state.account).then_some(n.name))
}

/// A layer version reference from the path: name (if local) and number.
fn version_ref(
    state: &ApiState,
    name: &str,
    number: &str,
) -> Result<(Option<String>, u64), LambdaApiError> {
    let name = layer_name(state, name)?;
    let version = parse_version_number(number)?;
    Ok((name, version))
}

/// The code download URL of a package, valid for ten minutes (as GetFunction's).
fn location(state: &ApiState, headers: &HeaderMap, sha256_hex: &str) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!(
        "http://{host}{}",
        state
            .code_urls
            .path_and_query(sha256_hex, chrono::Utc::now().timestamp())
    )
}

fn response(state: &ApiState, headers: &HeaderMap, v: &LayerVersion) -> LayerVersionResponse {
    LayerVersionResponse::new(
        v,
        &state.account,
        location(state, headers, &v.code.sha256_hex),
    )
}

/// The package `Content` names: `ZipFile`, or an object in the node's S3.
async fn content_zip(
    state: &ApiState,
    req: &PublishLayerVersionRequest,
) -> Result<(Vec<u8>, ignis_package::Limits), LambdaApiError> {
    let content = req.content.as_ref().ok_or_else(|| {
        LambdaApiError::Validation(
            "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null".into(),
        )
    })?;
    crate::code_source::package(
        state,
        crate::code_source::Source {
            zip_file: content.zip_file.as_deref(),
            s3_bucket: content.s3_bucket.as_deref(),
            s3_key: content.s3_key.as_deref(),
            s3_object_version: content.s3_object_version.as_deref(),
            what: "layer content",
        },
    )
    .await
}

fn filter(query: Option<&str>) -> Result<LayerFilter, LambdaApiError> {
    Ok(LayerFilter::new(
        request::query_value(query, "CompatibleRuntime"),
        request::query_value(query, "CompatibleArchitecture"),
    )?)
}

pub async fn publish(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let parsed = LayerName::parse(&name)?;
    if !parsed.belongs_to(&state.account) {
        return Err(LambdaApiError::AccessDenied(format!(
            "User: arn:aws:iam::{}:root is not authorized to perform: lambda:PublishLayerVersion on resource: {name}",
            state.account.id
        )));
    }
    let req: PublishLayerVersionRequest = request::json(&body)?;
    let (zip, limits) = content_zip(&state, &req).await?;
    let mut draft = LayerVersion {
        name: parsed.name,
        version: 0,
        description: req.description.clone().unwrap_or_default(),
        compatible_runtimes: req.compatible_runtimes.clone(),
        compatible_architectures: req.compatible_architectures.clone(),
        license_info: req.license_info.clone(),
        code: CodeRef {
            sha256_hex: String::new(),
            sha256_base64: String::new(),
            size: 0,
            unzipped_size: 0,
        },
        created_ms: time::now_ms(),
    };
    draft.validate()?;

    let held = state
        .code_locks
        .packages([ignis_package::Digest::of(&zip).hex()])
        .await;
    draft.code = store_code(&state, zip, limits).await?;
    let published = state.store.publish_layer_version(&draft).await;
    drop(held);
    let published = match published {
        Ok(v) => v,
        Err(e) => {
            collect_garbage(&state, vec![draft.code.sha256_hex.clone()]).await;
            return Err(store_error(e));
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(response(&state, &headers, &published)),
    )
        .into_response())
}

async fn find_version(
    state: &ApiState,
    name: Option<&str>,
    version: u64,
) -> Result<Option<LayerVersion>, LambdaApiError> {
    match name {
        Some(n) => state
            .store
            .layer_version(n, version)
            .await
            .map_err(store_error),
        None => Ok(None),
    }
}

pub async fn get_version(
    State(state): State<ApiState>,
    Path((name, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<LayerVersionResponse>, LambdaApiError> {
    let (name, version) = version_ref(&state, &name, &number)?;
    let v = find_version(&state, name.as_deref(), version)
        .await?
        .ok_or_else(resource_not_found)?;
    Ok(Json(response(&state, &headers, &v)))
}

/// `GET /2018-10-31/layers`: GetLayerVersionByArn with `?find=LayerVersion&Arn=`, otherwise
/// ListLayers.
pub async fn list_or_find(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, LambdaApiError> {
    let q = query.as_deref();
    if request::query_value(q, "find").as_deref() == Some("LayerVersion") {
        return Ok(get_by_arn(&state, q, &headers).await?.into_response());
    }
    Ok(list_layers(&state, q).await?.into_response())
}

async fn get_by_arn(
    state: &ApiState,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Json<LayerVersionResponse>, LambdaApiError> {
    let arn = request::query_value(query, "Arn").unwrap_or_default();
    let parsed = LayerVersionArn::parse(&arn).ok_or_else(|| {
        LambdaApiError::Validation(format!(
            "1 validation error detected: Value '{arn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}"
        ))
    })?;
    if parsed.version < 1 {
        return Err(LambdaApiError::InvalidParameterValue(
            "Layer Version Cannot be less than 1".into(),
        ));
    }
    let local = parsed.account == state.account.id && parsed.region == state.account.region;
    let name = local.then_some(parsed.name.as_str());
    let v = find_version(state, name, parsed.version)
        .await?
        .ok_or_else(resource_not_found)?;
    Ok(Json(response(state, headers, &v)))
}

async fn list_layers(
    state: &ApiState,
    query: Option<&str>,
) -> Result<Json<ListLayersResponse>, LambdaApiError> {
    let filter = filter(query)?;
    let limit = request::max_items(query, MAX_LAYER_PAGE, MAX_LAYER_PAGE)?;
    let marker = request::query_value(query, "Marker").filter(|m| !m.is_empty());
    let all = state
        .store
        .all_layer_versions()
        .await
        .map_err(store_error)?;
    // Newest first within each layer: the first match is the latest matching version.
    let mut layers: Vec<LayersListItem> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for v in &all {
        if marker.as_deref().is_some_and(|m| v.name.as_str() <= m)
            || seen.contains(v.name.as_str())
            || !filter.matches(v)
        {
            continue;
        }
        seen.insert(&v.name);
        layers.push(LayersListItem {
            layer_name: v.name.clone(),
            layer_arn: layer_arn(&state.account, &v.name),
            latest_matching_version: LayerVersionsListItem::new(v, &state.account),
        });
    }
    let next_marker = if layers.len() > limit {
        layers.truncate(limit);
        layers.last().map(|l| l.layer_name.clone())
    } else {
        None
    };
    Ok(Json(ListLayersResponse {
        layers,
        next_marker,
    }))
}

pub async fn list_versions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListLayerVersionsResponse>, LambdaApiError> {
    let q = query.as_deref();
    let name = layer_name(&state, &name)?;
    let filter = filter(q)?;
    let limit = request::max_items(q, MAX_LAYER_PAGE, MAX_LAYER_PAGE)?;
    let marker =
        match request::query_value(q, "Marker").filter(|m| !m.is_empty()) {
            Some(m) => Some(m.parse::<u64>().map_err(|_| {
                LambdaApiError::InvalidParameterValue(format!("Invalid marker: {m}"))
            })?),
            None => None,
        };
    let versions = match &name {
        Some(n) => state.store.layer_versions(n).await.map_err(store_error)?,
        None => Vec::new(),
    };
    let mut items: Vec<&LayerVersion> = versions
        .iter()
        .filter(|v| marker.is_none_or(|m| v.version < m) && filter.matches(v))
        .collect();
    let next_marker = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|v| v.version.to_string())
    } else {
        None
    };
    Ok(Json(ListLayerVersionsResponse {
        layer_versions: items
            .into_iter()
            .map(|v| LayerVersionsListItem::new(v, &state.account))
            .collect(),
        next_marker,
    }))
}

/// DeleteLayerVersion: idempotent, as on AWS. Functions that use the version keep working: they
/// recorded its package, which stays until no function version uses it.
pub async fn delete_version(
    State(state): State<ApiState>,
    Path((name, number)): Path<(String, String)>,
) -> Result<StatusCode, LambdaApiError> {
    let (name, version) = version_ref(&state, &name, &number)?;
    let Some(name) = name else {
        return Ok(StatusCode::NO_CONTENT);
    };
    if let Some(hash) = state
        .store
        .delete_layer_version(&name, version)
        .await
        .map_err(store_error)?
    {
        collect_garbage(&state, vec![hash]).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

fn layer_revision_mismatch() -> LambdaApiError {
    LambdaApiError::PreconditionFailed(
        "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id".into(),
    )
}

fn no_policy() -> LambdaApiError {
    LambdaApiError::ResourceNotFound("No policy is associated with the given resource.".into())
}

/// Maps a layer policy failure to its wire error; `arn` is the layer version's.
fn layer_policy_error(e: PolicyError, arn: &str) -> LambdaApiError {
    match e {
        PolicyError::TargetNotFound => version_not_found(arn),
        PolicyError::NoPolicy => no_policy(),
        PolicyError::StatementExists(sid) => crate::policy::statement_exists(&sid),
        PolicyError::StatementNotFound(sid) => crate::policy::statement_not_found(&sid),
        PolicyError::RevisionMismatch => layer_revision_mismatch(),
        PolicyError::TooLarge { size, limit } => crate::policy::too_large(size, limit),
        PolicyError::Store(e) => store_error(e),
    }
}

/// The layer version a policy call names, with its ARN; a missing one is
/// "Layer version <arn> does not exist."
fn policy_target(
    state: &ApiState,
    raw_name: &str,
    number: &str,
) -> Result<(Option<String>, u64, String), LambdaApiError> {
    let parsed = LayerName::parse(raw_name)?;
    let version = parse_version_number(number)?;
    let arn = match (&parsed.region, &parsed.account) {
        (Some(r), Some(a)) => format!("arn:aws:lambda:{r}:{a}:layer:{}:{version}", parsed.name),
        _ => layer_version_arn(&state.account, &parsed.name, version),
    };
    let name = parsed.belongs_to(&state.account).then_some(parsed.name);
    Ok((name, version, arn))
}

pub async fn add_permission(
    State(state): State<ApiState>,
    Path((name, number)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let (name, version, arn) = policy_target(&state, &name, &number)?;
    let req: AddLayerVersionPermissionRequest = request::json(&body)?;
    let statement = layer_statement(&req, &arn)?;
    let name = name.ok_or_else(|| version_not_found(&arn))?;
    let expected = request::query_value(query.as_deref(), "RevisionId");
    let json = statement.to_json();
    let revision = state
        .store
        .add_layer_statement(&name, version, statement.sid(), &json, expected.as_deref())
        .await
        .map_err(|e| layer_policy_error(e, &arn))?;
    Ok((
        StatusCode::CREATED,
        Json(AddLayerVersionPermissionResponse {
            statement: json,
            revision_id: revision,
        }),
    )
        .into_response())
}

pub async fn get_policy(
    State(state): State<ApiState>,
    Path((name, number)): Path<(String, String)>,
) -> Result<Json<PolicyResponse>, LambdaApiError> {
    let (name, version, arn) = policy_target(&state, &name, &number)?;
    let name = name.ok_or_else(|| version_not_found(&arn))?;
    if find_version(&state, Some(&name), version).await?.is_none() {
        return Err(version_not_found(&arn));
    }
    let (policy, revision) = state
        .store
        .layer_policy(&name, version)
        .await
        .map_err(|e| layer_policy_error(e, &arn))?
        .ok_or_else(no_policy)?;
    Ok(Json(PolicyResponse {
        policy: policy.document(),
        revision_id: revision,
    }))
}

pub async fn remove_permission(
    State(state): State<ApiState>,
    Path((name, number, sid)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let (name, version, arn) = policy_target(&state, &name, &number)?;
    validate_statement_id(&sid, false)?;
    let name = name.ok_or_else(|| version_not_found(&arn))?;
    let expected = request::query_value(query.as_deref(), "RevisionId");
    state
        .store
        .remove_layer_statement(&name, version, &sid, expected.as_deref())
        .await
        .map_err(|e| layer_policy_error(e, &arn))?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- What functions need from layers ----

fn layers_constraint(arns: &[String]) -> LambdaApiError {
    LambdaApiError::Validation(format!(
        "1 validation error detected: Value '[{}]' at 'layers' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 2048, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: {LAYER_VERSION_ARN_PATTERN}, Member must not be null]",
        arns.join(", ")
    ))
}

/// Resolves a function's `Layers` (layer version ARNs, in order) to what the function records.
///
/// At most five; each must be a layer version of this account and region that exists, and no
/// layer may appear twice. A version the function already uses (`current`) is kept as recorded
/// even if it has been deleted since, as on AWS.
pub(crate) async fn resolve_function_layers(
    state: &ApiState,
    arns: &[String],
    current: &[LayerRef],
) -> Result<Vec<LayerRef>, LambdaApiError> {
    if arns.len() > limits::MAX_LAYERS {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "Cannot reference more than {} layers.",
            limits::MAX_LAYERS
        )));
    }
    let mut resolved: Vec<LayerRef> = Vec::with_capacity(arns.len());
    let mut seen: Vec<(String, &str)> = Vec::new();
    for arn in arns {
        let parsed = LayerVersionArn::parse(arn).ok_or_else(|| layers_constraint(arns))?;
        let layer = if let Some(kept) = current.iter().find(|l| l.arn == *arn) {
            kept.clone()
        } else {
            if parsed.region != state.account.region {
                return Err(LambdaApiError::InvalidParameterValue(format!(
                    "Layers are not in the same region as the function. Layers are expected to be in region {}.",
                    state.account.region
                )));
            }
            let missing = || {
                LambdaApiError::InvalidParameterValue(format!(
                    "Layer version {arn} does not exist."
                ))
            };
            if parsed.account != state.account.id {
                return Err(missing());
            }
            let v = find_version(state, Some(&parsed.name), parsed.version)
                .await?
                .ok_or_else(missing)?;
            LayerRef {
                arn: arn.clone(),
                sha256_hex: v.code.sha256_hex,
                code_size: v.code.size,
                unzipped_size: v.code.unzipped_size,
            }
        };
        let layer_arn = parsed.layer_arn();
        if let Some((_, first)) = seen.iter().find(|(l, _)| *l == layer_arn) {
            return Err(LambdaApiError::InvalidParameterValue(format!(
                "Two different versions of the same layer are not allowed to be referenced in the same function. {first} and {arn} are versions of the same layer."
            )));
        }
        seen.push((layer_arn, arn));
        resolved.push(layer);
    }
    Ok(resolved)
}

/// The function's code and its layers together must fit in 250 MB unzipped.
pub(crate) fn check_combined_size(config: &FunctionConfig) -> Result<(), LambdaApiError> {
    if config.layers.is_empty() {
        return Ok(());
    }
    let total =
        config.code.unzipped_size + config.layers.iter().map(|l| l.unzipped_size).sum::<u64>();
    if total > limits::MAX_UNZIPPED_CODE_BYTES {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "Function code combined with layers exceeds the maximum allowed size of {} bytes. The actual size is {total} bytes.",
            limits::MAX_UNZIPPED_CODE_BYTES
        )));
    }
    Ok(())
}

fn digests(layers: &[LayerRef]) -> Result<Vec<Digest>, LambdaApiError> {
    layers
        .iter()
        .map(|l| {
            Digest::from_hex(&l.sha256_hex).ok_or_else(|| {
                LambdaApiError::Service("The function's layer reference is damaged.".into())
            })
        })
        .collect()
}

/// Builds (once) the merged `/opt` of these layers, off the reactor, and leases it. Called
/// before a configuration with layers is stored, with the layers' package locks held; the
/// caller keeps the lease until the configuration is committed, so the directory exists for
/// every stored version.
pub(crate) async fn prepare_opt(
    state: &ApiState,
    layers: &[LayerRef],
) -> Result<Option<ignis_package::CodeLease>, LambdaApiError> {
    if layers.is_empty() {
        return Ok(None);
    }
    let d = digests(layers)?;
    let key = ignis_package::merged_key(&d);
    let code = state.code.clone();
    let merged = tokio::task::spawn_blocking(move || {
        // A collection may remove it between building and leasing: build it again then.
        for _ in 0..3 {
            code.merged_layers(&d)?;
            if let Some(lease) = code.lease(&[key]) {
                return Ok(Some(lease));
            }
        }
        Ok::<_, ignis_package::PackageError>(None)
    })
    .await;
    match merged {
        Ok(Ok(Some(lease))) => Ok(Some(lease)),
        other => {
            tracing::error!(result = ?other.map(|r| r.err()), "could not merge layers");
            Err(LambdaApiError::Service(
                "An internal error occurred while preparing the layers.".into(),
            ))
        }
    }
}

/// Removes merged `/opt` directories no function version uses any more and nobody holds.
pub(crate) async fn collect_merged(state: &ApiState) {
    let mark = state.code.collection_mark();
    let keep: HashSet<Digest> = state
        .store
        .layer_sets_in_use()
        .iter()
        .filter_map(|set| {
            set.iter()
                .map(|h| Digest::from_hex(h))
                .collect::<Option<Vec<_>>>()
        })
        .map(|d| ignis_package::merged_key(&d))
        .collect();
    let code = state.code.clone();
    match tokio::task::spawn_blocking(move || code.retain_merged(&keep, mark)).await {
        Ok(Ok(_)) => {}
        other => {
            tracing::warn!(result = ?other.map(|r| r.err()), "could not collect merged layers")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(code_unzipped: u64, layers: &[u64]) -> FunctionConfig {
        FunctionConfig {
            runtime: Some("python3.12".into()),
            layers: layers
                .iter()
                .map(|u| LayerRef {
                    arn: "a".into(),
                    sha256_hex: "00".into(),
                    code_size: 1,
                    unzipped_size: *u,
                })
                .collect(),
            code: CodeRef {
                sha256_hex: String::new(),
                sha256_base64: String::new(),
                size: 1,
                unzipped_size: code_unzipped,
            },
            ..FunctionConfig::fixture("f")
        }
    }

    #[test]
    fn combined_size_counts_code_and_layers() {
        check_combined_size(&config(262_144_000, &[])).unwrap();
        check_combined_size(&config(262_143_000, &[1000])).unwrap();
        let e = check_combined_size(&config(262_143_000, &[600, 401])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is 262144001 bytes."
        );
        assert_eq!(e.error_type(), "InvalidParameterValueException");
    }

    #[test]
    fn malformed_layer_lists_name_the_whole_list() {
        let e = layers_constraint(&["x".into(), "y".into()]);
        assert!(e.to_string().starts_with(
            "1 validation error detected: Value '[x, y]' at 'layers' failed to satisfy constraint"
        ));
        assert_eq!(e.error_type(), "ValidationException");
    }
}
