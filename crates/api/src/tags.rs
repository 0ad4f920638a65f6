//! TagResource, UntagResource, ListTags. The resource is a function ARN (unqualified).

use crate::ApiState;
use crate::functions::store_error;
use crate::request::{self, function_not_found};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use http::StatusCode;
use ignis_model::FunctionRef;
use ignis_store::StoreError;
use ignis_wire::LambdaApiError;
use ignis_wire::function::{ListTagsResponse, TagResourceRequest};

/// The function a tag ARN names; only unqualified function ARNs are taggable.
fn tagged_function(state: &ApiState, arn: &str) -> Result<String, LambdaApiError> {
    let r = FunctionRef::parse(arn)?;
    if !arn.starts_with("arn:") || r.qualifier.is_some() {
        return Err(LambdaApiError::InvalidParameterValue(format!(
            "The resource you requested does not support tagging: {arn}"
        )));
    }
    if !r.belongs_to(&state.account)
        || state
            .store
            .cached(&r.name, ignis_model::arn::LATEST)
            .is_none()
    {
        return Err(function_not_found(state, &r.name, None));
    }
    Ok(r.name)
}

fn missing(state: &ApiState, name: &str) -> impl Fn(StoreError) -> LambdaApiError {
    let not_found = function_not_found(state, name, None);
    move |e| match e {
        StoreError::NotFound(_) => not_found.clone(),
        other => store_error(other),
    }
}

pub async fn list(
    State(state): State<ApiState>,
    Path(arn): Path<String>,
) -> Result<Json<ListTagsResponse>, LambdaApiError> {
    let name = tagged_function(&state, &arn)?;
    let record = state
        .store
        .get_function(&name)
        .await
        .map_err(missing(&state, &name))?;
    Ok(Json(ListTagsResponse { tags: record.tags }))
}

pub async fn tag(
    State(state): State<ApiState>,
    Path(arn): Path<String>,
    body: Bytes,
) -> Result<StatusCode, LambdaApiError> {
    let name = tagged_function(&state, &arn)?;
    let req: TagResourceRequest = request::json(&body)?;
    let record = state
        .store
        .get_function(&name)
        .await
        .map_err(missing(&state, &name))?;
    let mut all = record.tags;
    all.extend(req.tags.clone());
    crate::functions::validate_tags(&all)?;
    state
        .store
        .tag(&name, &req.tags)
        .await
        .map_err(missing(&state, &name))?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn untag(
    State(state): State<ApiState>,
    Path(arn): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let name = tagged_function(&state, &arn)?;
    let keys: Vec<String> = request::query_pairs(query.as_deref())
        .into_iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v)
        .collect();
    state
        .store
        .untag(&name, &keys)
        .await
        .map_err(missing(&state, &name))?;
    Ok(StatusCode::NO_CONTENT)
}
