//! CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases.

use crate::ApiState;
use crate::functions::store_error;
use crate::request::{self, function_not_found};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ignis_model::arn::LATEST;
use ignis_model::{Alias, Qualifier, limits};
use ignis_wire::LambdaApiError;
use ignis_wire::alias::{
    AliasConfiguration, CreateAliasRequest, ListAliasesResponse, UpdateAliasRequest,
};

/// The unqualified function a path names; it must exist.
fn function_name(state: &ApiState, name: &str) -> Result<String, LambdaApiError> {
    let r = request::function_ref(state, name, None)?;
    if r.qualifier.is_some() {
        return Err(LambdaApiError::InvalidParameterValue(
            "Alias operations take an unqualified function name.".into(),
        ));
    }
    if state.store.cached(&r.name, LATEST).is_none() {
        return Err(function_not_found(state, &r.name, None));
    }
    Ok(r.name)
}

fn alias_not_found(state: &ApiState, function: &str, alias: &str) -> LambdaApiError {
    LambdaApiError::ResourceNotFound(format!(
        "Cannot find alias arn: {}",
        state.account.qualified_arn(function, alias)
    ))
}

/// Every version the alias names must exist (`$LATEST` or published).
fn check_versions(state: &ApiState, alias: &Alias) -> Result<(), LambdaApiError> {
    alias.validate()?;
    for v in alias.versions() {
        if v != LATEST && Qualifier::parse(v).map_or(true, |q| !matches!(q, Qualifier::Version(_)))
        {
            return Err(LambdaApiError::InvalidParameterValue(format!(
                "Invalid function version {v}."
            )));
        }
        if state.store.cached(&alias.function_name, v).is_none() {
            return Err(LambdaApiError::ResourceNotFound(format!(
                "Function not found: {}",
                state.account.qualified_arn(&alias.function_name, v)
            )));
        }
    }
    Ok(())
}

fn answer(state: &ApiState, alias: &Alias) -> Json<AliasConfiguration> {
    Json(AliasConfiguration::from_alias(alias, &state.account))
}

pub async fn create(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let function = function_name(&state, &name)?;
    let req: CreateAliasRequest = request::json(&body)?;
    let alias = Alias {
        function_name: function.clone(),
        name: req.name.clone(),
        function_version: req.function_version.clone(),
        description: req.description.clone().unwrap_or_default(),
        routing: req
            .routing_config
            .map(|r| r.additional_version_weights)
            .unwrap_or_default(),
        revision_id: uuid::Uuid::new_v4().to_string(),
    };
    check_versions(&state, &alias)?;
    state
        .store
        .create_alias(&alias)
        .await
        .map_err(|e| match e {
            ignis_store::StoreError::AliasExists(_) => LambdaApiError::ResourceConflict(format!(
                "Alias already exists: {}",
                state.account.qualified_arn(&function, &alias.name)
            )),
            other => store_error(other),
        })?;
    Ok((StatusCode::CREATED, answer(&state, &alias)).into_response())
}

pub async fn get(
    State(state): State<ApiState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<Json<AliasConfiguration>, LambdaApiError> {
    let function = function_name(&state, &name)?;
    let a = state
        .store
        .cached_alias(&function, &alias)
        .ok_or_else(|| alias_not_found(&state, &function, &alias))?;
    Ok(answer(&state, &a))
}

pub async fn update(
    State(state): State<ApiState>,
    Path((name, alias)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<AliasConfiguration>, LambdaApiError> {
    let function = function_name(&state, &name)?;
    let req: UpdateAliasRequest = request::json(&body)?;
    let current = state
        .store
        .cached_alias(&function, &alias)
        .ok_or_else(|| alias_not_found(&state, &function, &alias))?;
    if let Some(r) = &req.revision_id
        && *r != current.revision_id
    {
        return Err(crate::functions::revision_mismatch());
    }
    let mut next = current.clone();
    if let Some(v) = req.function_version {
        next.function_version = v;
    }
    if let Some(d) = req.description {
        next.description = d;
    }
    if let Some(r) = req.routing_config {
        // An empty map resets routing, as on AWS.
        next.routing = r.additional_version_weights;
    }
    next.revision_id = uuid::Uuid::new_v4().to_string();
    check_versions(&state, &next)?;
    state
        .store
        .update_alias(&next, &current.revision_id)
        .await
        .map_err(store_error)?;
    Ok(answer(&state, &next))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path((name, alias)): Path<(String, String)>,
) -> Result<StatusCode, LambdaApiError> {
    let function = function_name(&state, &name)?;
    state
        .store
        .delete_alias(&function, &alias)
        .await
        .map_err(store_error)?;
    // The alias's resource-based policy goes with it (a new alias of that name starts bare).
    if let Err(e) = state.store.delete_function_policy(&function, &alias).await {
        tracing::warn!(error = ?e, "could not delete the policy of a deleted alias");
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListAliasesResponse>, LambdaApiError> {
    let function = function_name(&state, &name)?;
    let q = query.as_deref();
    let max_items = request::max_items(q, 10_000, limits::MAX_LIST_PAGE)?;
    let marker = request::query_value(q, "Marker").filter(|m| !m.is_empty());
    let version = request::query_value(q, "FunctionVersion").filter(|v| !v.is_empty());
    let page =
        state
            .store
            .list_aliases(&function, version.as_deref(), marker.as_deref(), max_items);
    Ok(Json(ListAliasesResponse {
        aliases: page
            .items
            .iter()
            .map(|a| AliasConfiguration::from_alias(a, &state.account))
            .collect(),
        next_marker: page.next_marker,
    }))
}
