//! PublishVersion and ListVersionsByFunction.

use crate::ApiState;
use crate::functions::store_error;
use crate::request::{self, function_not_found};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ignis_model::{FunctionConfig, Qualifier, limits, time};
use ignis_store::StoreError;
use ignis_wire::LambdaApiError;
use ignis_wire::alias::{ListVersionsResponse, PublishVersionRequest};
use ignis_wire::function::{Detail, FunctionConfiguration};

/// Publishes `$LATEST` (or returns the newest version when nothing changed since it).
pub(crate) async fn publish(
    state: &ApiState,
    name: &str,
    description: Option<&str>,
    code_sha256: Option<&str>,
    revision_id: Option<&str>,
) -> Result<FunctionConfig, LambdaApiError> {
    if let Some(d) = description
        && d.chars().count() > limits::MAX_DESCRIPTION_CHARS
    {
        return Err(LambdaApiError::Validation(format!(
            "1 validation error detected: Value '{d}' at 'description' failed to satisfy constraint: Member must have length less than or equal to 256"
        )));
    }
    let (version, _created) = state
        .store
        .publish_version(
            name,
            description,
            code_sha256.filter(|s| !s.is_empty()),
            revision_id.filter(|s| !s.is_empty()),
            uuid::Uuid::new_v4().to_string(),
            time::now_ms(),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => function_not_found(state, name, None),
            other => store_error(other),
        })?;
    Ok(version)
}

pub async fn publish_version(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let r = request::function_ref(&state, &name, None)?;
    if r.qualifier.is_some() {
        return Err(LambdaApiError::InvalidParameterValue(
            "PublishVersion takes an unqualified function name.".into(),
        ));
    }
    let req: PublishVersionRequest = request::json(&body)?;
    let version = publish(
        &state,
        &r.name,
        req.description.as_deref(),
        req.code_sha256.as_deref(),
        req.revision_id.as_deref(),
    )
    .await?;
    let body = FunctionConfiguration::from_config(&version, &state.account, Detail::Full);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn list_versions(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListVersionsResponse>, LambdaApiError> {
    let r = request::function_ref(&state, &name, None)?;
    if matches!(
        r.qualifier,
        Some(Qualifier::Version(_)) | Some(Qualifier::Alias(_))
    ) {
        return Err(LambdaApiError::InvalidParameterValue(
            "ListVersionsByFunction takes an unqualified function name.".into(),
        ));
    }
    let q = query.as_deref();
    let max_items = request::max_items(q, 10_000, limits::MAX_LIST_PAGE)?;
    let marker = request::query_value(q, "Marker").filter(|m| !m.is_empty());
    let page = state
        .store
        .list_versions(&r.name, marker.as_deref(), max_items)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => function_not_found(&state, &r.name, None),
            other => store_error(other),
        })?;
    Ok(Json(ListVersionsResponse {
        versions: page
            .items
            .iter()
            .map(|c| FunctionConfiguration::from_config(c, &state.account, Detail::Listing))
            .collect(),
        next_marker: page.next_marker,
    }))
}
