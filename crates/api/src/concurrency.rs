//! Put/Get/DeleteFunctionConcurrency: a function's reserved concurrency, stored and handed to
//! the engine's limiter, which enforces it.

use crate::ApiState;
use crate::functions::store_error;
use crate::request::{self, function_not_found};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ignis_model::arn::LATEST;
use ignis_wire::LambdaApiError;
use ignis_wire::alias::ReservedConcurrency;

fn existing_function(state: &ApiState, name: &str) -> Result<String, LambdaApiError> {
    let r = request::function_ref(state, name, None)?;
    if r.qualifier.is_some() {
        return Err(LambdaApiError::InvalidParameterValue(
            "Concurrency is set on an unqualified function name.".into(),
        ));
    }
    if state.store.cached(&r.name, LATEST).is_none() {
        return Err(function_not_found(state, &r.name, None));
    }
    Ok(r.name)
}

pub async fn put(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<ReservedConcurrency>, LambdaApiError> {
    let function = existing_function(&state, &name)?;
    let req: ReservedConcurrency = request::json(&body)?;
    let value = req.reserved_concurrent_executions.ok_or_else(|| {
        LambdaApiError::InvalidParameterValue("ReservedConcurrentExecutions is required.".into())
    })?;
    state.engine.limiter().check_reservation(&function, value)?;
    state
        .store
        .set_reserved_concurrency(&function, Some(value))
        .await
        .map_err(store_error)?;
    state.engine.limiter().set_reserved(&function, Some(value));
    Ok(Json(ReservedConcurrency {
        reserved_concurrent_executions: Some(value),
    }))
}

pub async fn get(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<ReservedConcurrency>, LambdaApiError> {
    let function = existing_function(&state, &name)?;
    Ok(Json(ReservedConcurrency {
        reserved_concurrent_executions: state.engine.limiter().reserved(&function),
    }))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<StatusCode, LambdaApiError> {
    let function = existing_function(&state, &name)?;
    state
        .store
        .set_reserved_concurrency(&function, None)
        .await
        .map_err(store_error)?;
    state.engine.limiter().set_reserved(&function, None);
    Ok(StatusCode::NO_CONTENT)
}
