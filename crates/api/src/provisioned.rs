//! Provisioned concurrency: Put/Get/Delete/ListProvisionedConcurrencyConfigs.
//!
//! A configuration is stored, then its environments are started in the background
//! (`IN_PROGRESS`); it reads `READY` once that many are alive, and `FAILED` with the init error
//! if they cannot start. Configurations are provisioned again when a node starts.

use crate::ApiState;
use crate::functions::store_error;
use crate::request::{self, AliasVersion, function_not_found};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ignis_model::{FunctionRef, Qualifier, time};
use ignis_store::ProvisionedConfig;
use ignis_wire::LambdaApiError;
use ignis_wire::alias::{
    ListProvisionedConcurrencyConfigsResponse, ProvisionedConcurrencyConfig,
    PutProvisionedConcurrencyRequest,
};

/// The function and its qualifier (a version or an alias, never `$LATEST`).
fn target(
    state: &ApiState,
    name: &str,
    query: Option<&str>,
) -> Result<(FunctionRef, String), LambdaApiError> {
    let r = request::function_ref(state, name, query)?;
    match &r.qualifier {
        Some(Qualifier::Version(n)) => {
            let q = n.to_string();
            Ok((r, q))
        }
        Some(Qualifier::Alias(a)) => {
            let q = a.clone();
            Ok((r, q))
        }
        _ => Err(LambdaApiError::InvalidParameterValue(
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
                .into(),
        )),
    }
}

fn not_found() -> LambdaApiError {
    LambdaApiError::ProvisionedConcurrencyConfigNotFound(
        "No Provisioned Concurrency Config found for this function".into(),
    )
}

fn describe(
    state: &ApiState,
    c: &ProvisionedConfig,
    with_arn: bool,
) -> ProvisionedConcurrencyConfig {
    let status = state.engine.provisioned_status(c);
    ProvisionedConcurrencyConfig {
        function_arn: with_arn.then(|| state.account.qualified_arn(&c.function_name, &c.qualifier)),
        requested_provisioned_concurrent_executions: c.requested,
        available_provisioned_concurrent_executions: status.available,
        allocated_provisioned_concurrent_executions: status.available,
        status: status.status(c.requested),
        status_reason: status.failure,
        last_modified: time::last_modified(c.last_modified_ms),
    }
}

pub async fn put(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let (r, qualifier) = target(&state, &name, query.as_deref())?;
    request::resolve_config(&state, &r, AliasVersion::Primary)?;
    let req: PutProvisionedConcurrencyRequest = request::json(&body)?;
    if req.provisioned_concurrent_executions < 1 {
        return Err(LambdaApiError::Validation(
            "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
        ));
    }
    let limit = state.engine.limiter().reserved(&r.name).unwrap_or(
        state
            .engine
            .limiter()
            .unreserved()
            .saturating_sub(ignis_engine::MIN_UNRESERVED),
    );
    if req.provisioned_concurrent_executions > limit {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function ({limit})."
        )));
    }
    let config = ProvisionedConfig {
        function_name: r.name.clone(),
        qualifier,
        requested: req.provisioned_concurrent_executions,
        last_modified_ms: time::now_ms(),
    };
    state
        .store
        .put_provisioned(&config)
        .await
        .map_err(store_error)?;
    state.engine.provision(&config);
    Ok((StatusCode::ACCEPTED, Json(describe(&state, &config, false))).into_response())
}

pub async fn get_or_list(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, LambdaApiError> {
    let q = query.as_deref();
    if request::query_value(q, "List").is_some() {
        let r = request::function_ref(&state, &name, None)?;
        request::resolve_config(&state, &r, AliasVersion::Primary)?;
        let max_items = request::max_items(q, 50, ignis_model::limits::MAX_LIST_PAGE)?;
        let marker = request::query_value(q, "Marker").filter(|m| !m.is_empty());
        let all = state
            .store
            .list_provisioned(Some(&r.name))
            .await
            .map_err(store_error)?;
        let rest: Vec<&ProvisionedConfig> = all
            .iter()
            .filter(|c| marker.as_deref().is_none_or(|m| c.qualifier.as_str() > m))
            .collect();
        let next_marker = (rest.len() > max_items).then(|| rest[max_items - 1].qualifier.clone());
        let configs = rest
            .iter()
            .take(max_items)
            .map(|c| describe(&state, c, true))
            .collect();
        return Ok(Json(ListProvisionedConcurrencyConfigsResponse {
            provisioned_concurrency_configs: configs,
            next_marker,
        })
        .into_response());
    }
    let (r, qualifier) = target(&state, &name, q)?;
    if state
        .store
        .cached(&r.name, ignis_model::arn::LATEST)
        .is_none()
    {
        return Err(function_not_found(&state, &r.name, None));
    }
    let all = state
        .store
        .list_provisioned(Some(&r.name))
        .await
        .map_err(store_error)?;
    let config = all
        .iter()
        .find(|c| c.qualifier == qualifier)
        .ok_or_else(not_found)?;
    Ok(Json(describe(&state, config, false)).into_response())
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let (r, qualifier) = target(&state, &name, query.as_deref())?;
    let version = request::resolve_config(&state, &r, AliasVersion::Primary)?
        .version
        .clone();
    if !state
        .store
        .delete_provisioned(&r.name, &qualifier)
        .await
        .map_err(store_error)?
    {
        return Err(not_found());
    }
    state.engine.deprovision(&r.name, &version).await;
    Ok(StatusCode::NO_CONTENT)
}
