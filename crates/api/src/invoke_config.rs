//! Asynchronous invocation configuration: Put-, Get-, Update-, Delete- and
//! ListFunctionEventInvokeConfig(s) (API version `2019-09-25`), per function, version or alias.
//!
//! Worded as AWS answers: a missing function, version or alias is "The function doesn't
//! exist." for Put, Update and List; a missing configuration (or function) is "The function
//! <qualified ARN> doesn't have an EventInvokeConfig" for Get, Update and Delete. Destinations
//! are checked when set: an SQS queue or another function of this account and region are
//! delivered to; EventBridge, SNS and S3 are refused as not built yet.

use crate::ApiState;
use crate::functions::store_error;
use crate::request;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use ignis_model::arn::LATEST;
use ignis_model::invoke_config::{Destination, EventInvokeConfig};
use ignis_model::{FunctionRef, Qualifier, ValidationError, time};
use ignis_wire::LambdaApiError;
use ignis_wire::invoke_config::{
    EventInvokeConfigRequest, FunctionEventInvokeConfig, ListFunctionEventInvokeConfigsResponse,
};

/// `MaxItems` of ListFunctionEventInvokeConfigs: 1 to 50.
const MAX_ITEMS: usize = 50;

fn function_missing() -> LambdaApiError {
    LambdaApiError::ResourceNotFound("The function doesn't exist.".into())
}

fn no_config(state: &ApiState, function: &str, qualifier: &str) -> LambdaApiError {
    LambdaApiError::ResourceNotFound(format!(
        "The function {} doesn't have an EventInvokeConfig",
        state.account.qualified_arn(function, qualifier)
    ))
}

/// The function and qualifier column (`$LATEST` when unqualified) a request names, once the
/// body's model constraints hold.
fn target(
    state: &ApiState,
    name: &str,
    query: Option<&str>,
    body: Vec<ValidationError>,
) -> Result<(String, String), LambdaApiError> {
    ValidationError::collect(body)?;
    let r = request::function_ref(state, name, query)?;
    let qualifier = match &r.qualifier {
        None | Some(Qualifier::Latest) => LATEST.to_string(),
        Some(q) => q.to_string(),
    };
    Ok((r.name, qualifier))
}

/// Whether the function and its version or alias exist.
fn exists(state: &ApiState, function: &str, qualifier: &str) -> bool {
    if state.store.cached(function, LATEST).is_none() {
        return false;
    }
    match Qualifier::parse(qualifier) {
        Ok(Qualifier::Latest) => true,
        Ok(Qualifier::Version(_)) => state.store.cached(function, qualifier).is_some(),
        Ok(Qualifier::Alias(a)) => state.store.cached_alias(function, &a).is_some(),
        Err(_) => false,
    }
}

fn invalid_destinations(on_success: Option<&str>, on_failure: Option<&str>) -> LambdaApiError {
    let part = |kind: &str, d: Option<&str>| {
        d.map_or("null".to_string(), |d| format!("{kind}(destination={d})"))
    };
    LambdaApiError::InvalidParameterValue(format!(
        "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) is invalid.",
        part("OnSuccess", on_success),
        part("OnFailure", on_failure)
    ))
}

/// AWS's checks of the destinations a request sets, then Ignis's refusal of the kinds it does
/// not deliver to yet.
fn check_destinations(
    state: &ApiState,
    function: &str,
    req: &EventInvokeConfigRequest,
) -> Result<(), LambdaApiError> {
    let (on_success, on_failure) = req.destinations();
    let mut not_built = None;
    for arn in [on_success, on_failure].into_iter().flatten() {
        let ours = |region: &str, account: &str| {
            region == state.account.region && account == state.account.id
        };
        match Destination::parse(arn) {
            None => return Err(invalid_destinations(on_success, on_failure)),
            Some(Destination::NotBuilt(kind)) => {
                not_built.get_or_insert(kind);
            }
            Some(Destination::Queue { .. }) => {
                let parts: Vec<&str> = arn.split(':').collect();
                if !ours(parts[3], parts[4]) {
                    return Err(LambdaApiError::InvalidParameterValue(format!(
                        "The destination ARN {arn} is invalid."
                    )));
                }
            }
            Some(Destination::Function { name, .. }) => {
                let r = FunctionRef::parse(arn).ok();
                let found = r.as_ref().is_some_and(|r| {
                    r.belongs_to(&state.account)
                        && r.region.as_deref() == Some(state.account.region.as_str())
                        && state.store.cached(&r.name, LATEST).is_some()
                });
                if !found {
                    return Err(LambdaApiError::InvalidParameterValue(format!(
                        "The destination ARN {arn} is invalid."
                    )));
                }
                if name == function {
                    return Err(LambdaApiError::InvalidParameterValue(
                        "You can't specify the function as a destination for itself.".into(),
                    ));
                }
            }
        }
    }
    match not_built {
        Some(kind) => Err(crate::functions::not_built(&format!(
            "A destination of type {kind}"
        ))),
        None => Ok(()),
    }
}

fn describe(state: &ApiState, c: &EventInvokeConfig) -> FunctionEventInvokeConfig {
    let arn = state.account.qualified_arn(&c.function, &c.qualifier);
    FunctionEventInvokeConfig::from_config(c, arn)
}

fn count(n: Option<i64>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

fn body(body: &Bytes) -> Result<EventInvokeConfigRequest, LambdaApiError> {
    request::json(body)
}

fn nothing_set() -> LambdaApiError {
    LambdaApiError::InvalidParameterValue(
        "You must specify at least one of error handling or destination setting.".into(),
    )
}

pub async fn put(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    raw: Bytes,
) -> Result<Json<FunctionEventInvokeConfig>, LambdaApiError> {
    let req = body(&raw)?;
    let (function, qualifier) = target(&state, &name, query.as_deref(), req.violations())?;
    if req.is_empty() {
        return Err(nothing_set());
    }
    if !exists(&state, &function, &qualifier) {
        return Err(function_missing());
    }
    check_destinations(&state, &function, &req)?;
    let (on_success, on_failure) = req.destinations();
    let config = EventInvokeConfig {
        function,
        qualifier,
        last_modified_ms: time::now_ms(),
        max_retries: count(req.maximum_retry_attempts),
        max_event_age: count(req.maximum_event_age_in_seconds),
        on_success: on_success.map(str::to_string),
        on_failure: on_failure.map(str::to_string),
    };
    store(&state, &config).await?;
    Ok(Json(describe(&state, &config)))
}

async fn store(state: &ApiState, config: &EventInvokeConfig) -> Result<(), LambdaApiError> {
    match state.store.put_invoke_config(config).await {
        Ok(()) => Ok(()),
        Err(ignis_store::StoreError::NotFound(_)) => Err(function_missing()),
        Err(e) => Err(store_error(e)),
    }
}

pub async fn update(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    raw: Bytes,
) -> Result<Json<FunctionEventInvokeConfig>, LambdaApiError> {
    let req = body(&raw)?;
    let (function, qualifier) = target(&state, &name, query.as_deref(), req.violations())?;
    if req.is_empty() {
        return Err(nothing_set());
    }
    if !exists(&state, &function, &qualifier) {
        return Err(function_missing());
    }
    let current = state
        .store
        .invoke_config(&function, &qualifier)
        .await
        .map_err(store_error)?
        .ok_or_else(|| no_config(&state, &function, &qualifier))?;
    check_destinations(&state, &function, &req)?;
    let mut next = current;
    if req.maximum_retry_attempts.is_some() {
        next.max_retries = count(req.maximum_retry_attempts);
    }
    if req.maximum_event_age_in_seconds.is_some() {
        next.max_event_age = count(req.maximum_event_age_in_seconds);
    }
    // A DestinationConfig given replaces both destinations.
    if req.destination_config.is_some() {
        let (on_success, on_failure) = req.destinations();
        next.on_success = on_success.map(str::to_string);
        next.on_failure = on_failure.map(str::to_string);
    }
    next.last_modified_ms = time::now_ms();
    store(&state, &next).await?;
    Ok(Json(describe(&state, &next)))
}

pub async fn get(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<FunctionEventInvokeConfig>, LambdaApiError> {
    let (function, qualifier) = target(&state, &name, query.as_deref(), Vec::new())?;
    let config = state
        .store
        .invoke_config(&function, &qualifier)
        .await
        .map_err(store_error)?
        .ok_or_else(|| no_config(&state, &function, &qualifier))?;
    Ok(Json(describe(&state, &config)))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let (function, qualifier) = target(&state, &name, query.as_deref(), Vec::new())?;
    let deleted = state
        .store
        .delete_invoke_config(&function, &qualifier)
        .await
        .map_err(store_error)?;
    if !deleted {
        return Err(no_config(&state, &function, &qualifier));
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListFunctionEventInvokeConfigsResponse>, LambdaApiError> {
    let q = query.as_deref();
    let max_items = request::max_items(q, MAX_ITEMS, MAX_ITEMS)?;
    let r = request::function_ref(&state, &name, None)?;
    if state.store.cached(&r.name, LATEST).is_none() {
        return Err(function_missing());
    }
    let marker = request::query_value(q, "Marker").filter(|m| !m.is_empty());
    let rest: Vec<EventInvokeConfig> = state
        .store
        .invoke_configs(&r.name)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|c| marker.as_deref().is_none_or(|m| c.qualifier.as_str() > m))
        .collect();
    let next_marker = (rest.len() > max_items).then(|| rest[max_items - 1].qualifier.clone());
    Ok(Json(ListFunctionEventInvokeConfigsResponse {
        function_event_invoke_configs: rest
            .iter()
            .take(max_items)
            .map(|c| describe(&state, c))
            .collect(),
        next_marker,
    }))
}
