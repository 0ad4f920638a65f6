//! Function URL configurations: CreateFunctionUrlConfig, GetFunctionUrlConfig,
//! UpdateFunctionUrlConfig, DeleteFunctionUrlConfig, ListFunctionUrlConfigs (API version
//! `2021-10-31`).
//!
//! A URL belongs to a function's `$LATEST` (no qualifier) or to an alias; the model's
//! `Qualifier` pattern refuses `$LATEST` and version numbers. Each answer is worded as AWS's
//! recorded answers are: a missing function or alias is "Function does not exist" for Create,
//! Update and List and "The resource you requested does not exist." for Get and Delete. The
//! `FunctionUrl` printed is [`ignis_model::url::address`] of the URL's id, this node's region
//! and [`crate::Api::url_port`].

use crate::ApiState;
use crate::functions::store_error;
use crate::request;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ignis_model::arn::LATEST;
use ignis_model::url::{self, FunctionUrl, InvokeMode};
use ignis_model::{FunctionRef, Qualifier, ValidationError, time};
use ignis_store::StoreError;
use ignis_wire::LambdaApiError;
use ignis_wire::url::{
    FunctionUrlConfig, ListFunctionUrlConfigsResponse, UrlConfigRequest, UrlSettings,
};
use regex::Regex;
use std::sync::LazyLock;

/// The pattern of these operations' `FunctionName` (botocore's `FunctionName` shape).
const FUNCTION_NAME_PATTERN: &str = "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";
const MAX_FUNCTION_NAME: usize = 140;
/// `MaxItems` of ListFunctionUrlConfigs: 1 to 50.
const MAX_ITEMS: usize = 50;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Get,
    Update,
    Delete,
    List,
}

fn resource_not_found() -> LambdaApiError {
    LambdaApiError::ResourceNotFound("The resource you requested does not exist.".into())
}

/// A function (or the alias named) that does not exist, as `op` words it.
fn function_missing(op: Op) -> LambdaApiError {
    match op {
        Op::Create | Op::Update | Op::List => {
            LambdaApiError::ResourceNotFound("Function does not exist".into())
        }
        Op::Get | Op::Delete => resource_not_found(),
    }
}

/// The function and qualifier a URL configuration belongs to.
struct Target {
    function: String,
    /// `None`: the unqualified function (`$LATEST`); else an alias.
    qualifier: Option<String>,
}

/// [`FUNCTION_NAME_PATTERN`] as AWS's (Java) validator applies it: to the whole value, `\d`
/// meaning an ASCII digit.
static FUNCTION_NAME: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = FUNCTION_NAME_PATTERN.replace("\\d", "[0-9]");
    Regex::new(&format!("^(?:{pattern})$")).expect("the model's pattern compiles")
});

/// The `FunctionName` member's model constraints.
fn function_name_violations(name: &str) -> Vec<ValidationError> {
    let mut found = Vec::new();
    if name.chars().count() > MAX_FUNCTION_NAME {
        found.push(ValidationError::Constraint {
            field: "functionName",
            value: name.to_string(),
            constraint: format!(
                "Member must have length less than or equal to {MAX_FUNCTION_NAME}"
            ),
        });
    }
    if !FUNCTION_NAME.is_match(name) {
        found.push(ValidationError::Constraint {
            field: "functionName",
            value: name.to_string(),
            constraint: format!(
                "Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
            ),
        });
    }
    found
}

/// The function a request names, once every model constraint of the request (`body`: those
/// of its body) holds and it is this node's; the function must exist.
fn function_ref(
    state: &ApiState,
    name: &str,
    query: Option<&str>,
    op: Op,
    body: Vec<ValidationError>,
) -> Result<FunctionRef, LambdaApiError> {
    let mut found = function_name_violations(name);
    let qualifier = request::query_value(query, "Qualifier").filter(|q| !q.is_empty());
    if let Some(q) = &qualifier {
        found.extend(url::qualifier_violations(q));
    }
    found.extend(body);
    ValidationError::collect(found)?;
    let r = match FunctionRef::parse(name) {
        Ok(r) => r,
        // Well-formed for the model, but no function has such a name (longer than 64).
        Err(e) if e.is_constraint() => return Err(function_missing(op)),
        Err(e) => return Err(e.into()),
    };
    let r = r.with_query_qualifier(qualifier.as_deref())?;
    request::check_region(state, &r)?;
    if !r.belongs_to(&state.account) || state.store.cached(&r.name, LATEST).is_none() {
        return Err(function_missing(op));
    }
    Ok(r)
}

/// The URL configuration a request is about: the unqualified function or an alias that
/// exists. A qualifier in the function name that is `$LATEST` or a version is refused as the
/// `Qualifier` member would be.
fn target(
    state: &ApiState,
    name: &str,
    query: Option<&str>,
    op: Op,
    body: Vec<ValidationError>,
) -> Result<Target, LambdaApiError> {
    let r = function_ref(state, name, query, op, body)?;
    let qualifier = match r.qualifier {
        None => None,
        Some(Qualifier::Alias(a)) => Some(a),
        Some(other) => {
            let refused = ValidationError::collect(url::qualifier_violations(&other.to_string()));
            return Err(refused
                .err()
                .map_or_else(|| function_missing(op), LambdaApiError::from));
        }
    };
    if let Some(a) = &qualifier
        && state.store.cached_alias(&r.name, a).is_none()
    {
        return Err(function_missing(op));
    }
    Ok(Target {
        function: r.name,
        qualifier,
    })
}

fn function_arn(state: &ApiState, url: &FunctionUrl) -> String {
    match &url.qualifier {
        Some(q) => state.account.qualified_arn(&url.function, q),
        None => state.account.function_arn(&url.function),
    }
}

/// Every member of a configuration, as Get and List show it.
fn describe(state: &ApiState, url: &FunctionUrl) -> FunctionUrlConfig {
    FunctionUrlConfig::from_url(
        url,
        url::address(&url.url_id, &state.account.region, state.url_port),
        function_arn(state, url),
    )
}

/// A store failure as `op` words it.
fn url_store_error(state: &ApiState, e: StoreError, op: Op, url: &FunctionUrl) -> LambdaApiError {
    match e {
        StoreError::UrlExists(_) => LambdaApiError::ResourceConflict(format!(
            "Failed to create function url config for [functionArn = {}]. Error message:  FunctionUrlConfig exists for this Lambda function",
            function_arn(state, url)
        )),
        StoreError::NotFound(_) | StoreError::AliasNotFound(_) => function_missing(op),
        StoreError::UrlNotFound(_) => resource_not_found(),
        other => store_error(other),
    }
}

/// The request's body members, parsed, and their model constraints.
fn settings(
    body: &Bytes,
    create: bool,
) -> Result<(UrlSettings, Vec<ValidationError>), LambdaApiError> {
    Ok(request::json::<UrlConfigRequest>(body)?.settings(create))
}

fn now() -> String {
    time::iso8601_micros(time::now_micros())
}

pub async fn create(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let (settings, violations) = settings(&body, true)?;
    let t = target(&state, &name, query.as_deref(), Op::Create, violations)?;
    let created = now();
    let url = FunctionUrl {
        url_id: state
            .url_ids
            .id(&state.account, &t.function, t.qualifier.as_deref()),
        function: t.function,
        qualifier: t.qualifier,
        auth_type: settings.auth_type.expect("validated: AuthType is required"),
        invoke_mode: settings.invoke_mode.unwrap_or(InvokeMode::Buffered),
        cors: settings.cors,
        creation_time: created.clone(),
        last_modified_time: created,
    };
    state
        .store
        .create_function_url(&url)
        .await
        .map_err(|e| url_store_error(&state, e, Op::Create, &url))?;
    let answer = FunctionUrlConfig {
        last_modified_time: None,
        invoke_mode: settings.invoke_mode.map(InvokeMode::as_str),
        ..describe(&state, &url)
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

pub async fn get(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<FunctionUrlConfig>, LambdaApiError> {
    let t = target(&state, &name, query.as_deref(), Op::Get, Vec::new())?;
    let url = state
        .store
        .function_url_of(&t.function, t.qualifier.as_deref())
        .ok_or_else(resource_not_found)?;
    Ok(Json(describe(&state, &url)))
}

pub async fn update(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Json<FunctionUrlConfig>, LambdaApiError> {
    let (settings, violations) = settings(&body, false)?;
    let t = target(&state, &name, query.as_deref(), Op::Update, violations)?;
    let current = state
        .store
        .function_url_of(&t.function, t.qualifier.as_deref())
        .ok_or_else(resource_not_found)?;
    let current = FunctionUrl::clone(&current);
    let next = FunctionUrl {
        auth_type: settings.auth_type.unwrap_or(current.auth_type),
        invoke_mode: settings.invoke_mode.unwrap_or(current.invoke_mode),
        // A Cors given replaces the whole of it.
        cors: settings.cors.or(current.cors.clone()),
        last_modified_time: now(),
        ..current
    };
    state
        .store
        .update_function_url(&next)
        .await
        .map_err(|e| url_store_error(&state, e, Op::Update, &next))?;
    Ok(Json(FunctionUrlConfig {
        invoke_mode: settings.invoke_mode.map(InvokeMode::as_str),
        ..describe(&state, &next)
    }))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let t = target(&state, &name, query.as_deref(), Op::Delete, Vec::new())?;
    match state
        .store
        .delete_function_url(&t.function, t.qualifier.as_deref())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::UrlNotFound(_) | StoreError::NotFound(_)) => Err(resource_not_found()),
        Err(other) => Err(store_error(other)),
    }
}

/// Where a configuration sorts in a listing, and its marker: `$LATEST` (which no alias name
/// can be, and which sorts before them all), else the alias's name.
fn list_key(url: &FunctionUrl) -> &str {
    url.qualifier.as_deref().unwrap_or(LATEST)
}

pub async fn list(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ListFunctionUrlConfigsResponse>, LambdaApiError> {
    let q = query.as_deref();
    let max_items = request::max_items(q, MAX_ITEMS, MAX_ITEMS)?;
    // The function's URLs, whatever qualifier its name carries.
    let r = function_ref(&state, &name, None, Op::List, Vec::new())?;
    let marker = request::query_value(q, "Marker").filter(|m| !m.is_empty());
    let rest: Vec<_> = state
        .store
        .function_urls(&r.name)
        .into_iter()
        .filter(|u| marker.as_deref().is_none_or(|m| list_key(u) > m))
        .collect();
    let next_marker = (rest.len() > max_items).then(|| list_key(&rest[max_items - 1]).to_string());
    Ok(Json(ListFunctionUrlConfigsResponse {
        function_url_configs: rest
            .iter()
            .take(max_items)
            .map(|u| describe(&state, u))
            .collect(),
        next_marker,
    }))
}
