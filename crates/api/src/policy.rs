//! Function resource-based policies: AddPermission, GetPolicy, RemovePermission.
//!
//! A policy belongs to one qualifier: the unqualified function (`$LATEST`), a published version
//! or an alias. Its `RevisionId` is that version's or alias's, and every change gives it a new
//! one, as on AWS. Policies are recorded and reported; Ignis has no callers other than the root
//! credentials yet, so nothing is enforced.

use crate::ApiState;
use crate::functions::{revision_mismatch, store_error};
use crate::request;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ignis_model::arn::LATEST;
use ignis_model::{FunctionRef, Qualifier};
use ignis_store::{PolicyError, PolicyTarget};
use ignis_wire::LambdaApiError;
use ignis_wire::policy::{
    AddPermissionRequest, AddPermissionResponse, PolicyResponse, function_statement,
    validate_statement_id,
};

pub(crate) fn statement_exists(sid: &str) -> LambdaApiError {
    LambdaApiError::ResourceConflict(format!(
        "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
    ))
}

pub(crate) fn statement_not_found(sid: &str) -> LambdaApiError {
    LambdaApiError::ResourceNotFound(format!("Statement {sid} is not found in resource policy."))
}

pub(crate) fn too_large(size: usize, limit: usize) -> LambdaApiError {
    LambdaApiError::PolicyLengthExceeded(format!(
        "The final policy size ({size}) is bigger than the limit ({limit})."
    ))
}

fn resource_not_found() -> LambdaApiError {
    LambdaApiError::ResourceNotFound("The resource you requested does not exist.".into())
}

/// What the qualifier of a permission call names, after checking that it exists.
struct Target {
    /// The key the policy is stored under: `$LATEST`, a version number or an alias name.
    key: String,
    is_alias: bool,
    /// The statement's `Resource`: the function ARN, qualified when a qualifier was given.
    resource: String,
    /// The version's or alias's current revision.
    revision: String,
}

impl Target {
    fn store_target(&self) -> PolicyTarget<'_> {
        if self.is_alias {
            PolicyTarget::Alias(&self.key)
        } else {
            PolicyTarget::Version(&self.key)
        }
    }
}

/// Why a target could not be found, worded per operation by the caller.
enum Missing {
    Function,
    Version,
    Alias,
}

fn resolve(state: &ApiState, r: &FunctionRef) -> Result<Target, Missing> {
    let latest = state
        .store
        .cached(&r.name, LATEST)
        .ok_or(Missing::Function)?;
    match &r.qualifier {
        None | Some(Qualifier::Latest) => Ok(Target {
            key: LATEST.into(),
            is_alias: false,
            resource: state.account.function_arn(&r.name),
            revision: latest.revision_id.clone(),
        }),
        Some(Qualifier::Version(n)) => {
            let v = state
                .store
                .cached(&r.name, &n.to_string())
                .ok_or(Missing::Version)?;
            Ok(Target {
                key: n.to_string(),
                is_alias: false,
                resource: state.account.qualified_arn(&r.name, &n.to_string()),
                revision: v.revision_id.clone(),
            })
        }
        Some(Qualifier::Alias(a)) => {
            let alias = state.store.cached_alias(&r.name, a).ok_or(Missing::Alias)?;
            Ok(Target {
                key: a.clone(),
                is_alias: true,
                resource: state.account.qualified_arn(&r.name, a),
                revision: alias.revision_id.clone(),
            })
        }
    }
}

/// "Function not found" / "Cannot find alias arn", as AddPermission words them.
fn not_found(state: &ApiState, r: &FunctionRef, missing: Missing) -> LambdaApiError {
    match missing {
        Missing::Function => request::function_not_found(state, &r.name, None),
        Missing::Version => request::function_not_found(state, &r.name, r.qualifier.as_ref()),
        Missing::Alias => LambdaApiError::ResourceNotFound(format!(
            "Cannot find alias arn: {}",
            state.account.qualified_arn(
                &r.name,
                &r.qualifier
                    .as_ref()
                    .map(|q| q.to_string())
                    .unwrap_or_default()
            )
        )),
    }
}

fn policy_error(state: &ApiState, r: &FunctionRef, e: PolicyError) -> LambdaApiError {
    match e {
        PolicyError::TargetNotFound => not_found(
            state,
            r,
            match r.qualifier {
                Some(Qualifier::Alias(_)) => Missing::Alias,
                Some(Qualifier::Version(_)) => Missing::Version,
                _ => Missing::Function,
            },
        ),
        PolicyError::NoPolicy => LambdaApiError::ResourceNotFound(
            "No policy is associated with the given resource.".into(),
        ),
        PolicyError::StatementExists(sid) => statement_exists(&sid),
        PolicyError::StatementNotFound(sid) => statement_not_found(&sid),
        PolicyError::RevisionMismatch => revision_mismatch(),
        PolicyError::TooLarge { size, limit } => too_large(size, limit),
        PolicyError::Store(e) => store_error(e),
    }
}

pub async fn add(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let req: AddPermissionRequest = request::json(&body)?;
    if r.qualifier == Some(Qualifier::Latest) {
        return Err(LambdaApiError::InvalidParameterValue(
            "We currently do not support adding policies for $LATEST.".into(),
        ));
    }
    // Serialised with the other writes of $LATEST, whose compare-and-set this revision joins.
    let _function = state.code_locks.function(&r.name).await;
    let target = resolve(&state, &r).map_err(|m| not_found(&state, &r, m))?;
    let statement = function_statement(&req, &target.resource)?;
    let json = statement.to_json();
    state
        .store
        .add_function_statement(
            &r.name,
            target.store_target(),
            statement.sid(),
            &json,
            req.revision_id.as_deref(),
        )
        .await
        .map_err(|e| policy_error(&state, &r, e))?;
    Ok((
        StatusCode::CREATED,
        Json(AddPermissionResponse { statement: json }),
    )
        .into_response())
}

pub async fn get(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<PolicyResponse>, LambdaApiError> {
    let r = request::function_ref(&state, &name, query.as_deref())?;
    let target = resolve(&state, &r).map_err(|_| resource_not_found())?;
    let policy = state
        .store
        .function_policy(&r.name, &target.key)
        .await
        .map_err(|e| policy_error(&state, &r, e))?
        .ok_or_else(resource_not_found)?;
    Ok(Json(PolicyResponse {
        policy: policy.document(),
        revision_id: target.revision,
    }))
}

pub async fn remove(
    State(state): State<ApiState>,
    Path((name, sid)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<StatusCode, LambdaApiError> {
    let q = query.as_deref();
    let r = request::function_ref(&state, &name, q)?;
    validate_statement_id(&sid, true)?;
    let expected = request::query_value(q, "RevisionId").filter(|v| !v.is_empty());
    let _function = state.code_locks.function(&r.name).await;
    let target = resolve(&state, &r).map_err(|m| match m {
        Missing::Function => LambdaApiError::ResourceNotFound(format!(
            "No policy found for: {}",
            state.account.function_arn(&r.name)
        )),
        other => not_found(&state, &r, other),
    })?;
    state
        .store
        .remove_function_statement(&r.name, target.store_target(), &sid, expected.as_deref())
        .await
        .map_err(|e| policy_error(&state, &r, e))?;
    Ok(StatusCode::NO_CONTENT)
}
