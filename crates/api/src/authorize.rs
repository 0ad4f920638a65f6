//! Which IAM action and resource each Lambda API operation is, as AWS's Service Authorization
//! Reference for Lambda names them, and the check every routed request passes before its
//! handler: the root user always; any other principal when its identity-based policies allow
//! the action on the resource, or — for a function — the function's resource-based policy
//! grants it (same account), and no policy denies it.
//!
//! It runs as a layer on the routed requests (so the operation is known from the route and
//! the method) and reads only the path, the query and, for CreateFunction alone, the
//! function's name from the body. Policies are evaluated from memory (identity's state); a
//! function's resource policy is read from the store only for callers other than root.

use crate::ApiState;
use crate::front::Caller;
use crate::request::query_value;
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::Method;
use http::request::Parts;
use ignis_identity::{Decision, FunctionDecision, Principal};
use ignis_model::FunctionRef;
use ignis_model::layer::LayerName;
use ignis_wire::LambdaApiError;

/// What an operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// No resource (`*`): ListFunctions, ListLayers, GetAccountSettings …
    Any,
    /// The function (and qualifier) of the `{name}` label and `?Qualifier=`.
    Function,
    /// The function named by the body's `FunctionName` (CreateFunction).
    NewFunction,
    /// The resource ARN of the `{arn}` label (the tagging operations).
    Tagged,
    /// The layer of the `{name}` label (`layer:<name>`).
    Layer,
    /// The layer version of `{name}` and `{number}` (`layer:<name>:<version>`).
    LayerVersion,
    /// The layer version ARN of `?Arn=` (GetLayerVersionByArn).
    LayerVersionArn,
}

/// The action and target of the operation a route and method are; `None` for a route that
/// is not an operation of its own (the code download, authorised by its signed URL).
fn operation(method: &Method, route: &str, query: Option<&str>) -> Option<(&'static str, Target)> {
    use Target::*;
    let get = method == Method::GET;
    let post = method == Method::POST;
    let put = method == Method::PUT;
    let delete = method == Method::DELETE;
    let pick = |g: Option<&'static str>,
                p: Option<&'static str>,
                u: Option<&'static str>,
                d: Option<&'static str>| {
        if get {
            g
        } else if post {
            p
        } else if put {
            u
        } else if delete {
            d
        } else {
            None
        }
    };
    let (action, target) = match route {
        "/2015-03-31/functions" => (
            pick(Some("ListFunctions"), Some("CreateFunction"), None, None)?,
            if post { NewFunction } else { Any },
        ),
        "/2015-03-31/functions/{name}" => (
            pick(Some("GetFunction"), None, None, Some("DeleteFunction"))?,
            Function,
        ),
        "/2015-03-31/functions/{name}/configuration" => (
            pick(
                Some("GetFunctionConfiguration"),
                None,
                Some("UpdateFunctionConfiguration"),
                None,
            )?,
            Function,
        ),
        "/2015-03-31/functions/{name}/code" => (
            pick(None, None, Some("UpdateFunctionCode"), None)?,
            Function,
        ),
        // InvokeWithResponseStream is authorised as lambda:InvokeFunction.
        "/2015-03-31/functions/{name}/invocations"
        | "/2021-11-15/functions/{name}/response-streaming-invocations" => {
            (pick(None, Some("InvokeFunction"), None, None)?, Function)
        }
        "/2014-11-13/functions/{name}/invoke-async" => {
            (pick(None, Some("InvokeAsync"), None, None)?, Function)
        }
        "/2017-03-31/tags/{arn}" => (
            pick(
                Some("ListTags"),
                Some("TagResource"),
                None,
                Some("UntagResource"),
            )?,
            Tagged,
        ),
        "/2015-03-31/functions/{name}/versions" => (
            pick(
                Some("ListVersionsByFunction"),
                Some("PublishVersion"),
                None,
                None,
            )?,
            Function,
        ),
        "/2015-03-31/functions/{name}/aliases" => (
            pick(Some("ListAliases"), Some("CreateAlias"), None, None)?,
            Function,
        ),
        "/2015-03-31/functions/{name}/aliases/{alias}" => (
            pick(
                Some("GetAlias"),
                None,
                Some("UpdateAlias"),
                Some("DeleteAlias"),
            )?,
            Function,
        ),
        "/2017-10-31/functions/{name}/concurrency" => (
            pick(
                None,
                None,
                Some("PutFunctionConcurrency"),
                Some("DeleteFunctionConcurrency"),
            )?,
            Function,
        ),
        "/2019-09-30/functions/{name}/concurrency" => (
            pick(Some("GetFunctionConcurrency"), None, None, None)?,
            Function,
        ),
        "/2019-09-30/functions/{name}/provisioned-concurrency" => {
            let listing = query_value(query, "Qualifier").is_none();
            (
                pick(
                    Some(if listing {
                        "ListProvisionedConcurrencyConfigs"
                    } else {
                        "GetProvisionedConcurrencyConfig"
                    }),
                    None,
                    Some("PutProvisionedConcurrencyConfig"),
                    Some("DeleteProvisionedConcurrencyConfig"),
                )?,
                Function,
            )
        }
        "/2019-09-25/functions/{name}/event-invoke-config" => (
            pick(
                Some("GetFunctionEventInvokeConfig"),
                Some("UpdateFunctionEventInvokeConfig"),
                Some("PutFunctionEventInvokeConfig"),
                Some("DeleteFunctionEventInvokeConfig"),
            )?,
            Function,
        ),
        "/2019-09-25/functions/{name}/event-invoke-config/list" => (
            pick(Some("ListFunctionEventInvokeConfigs"), None, None, None)?,
            Function,
        ),
        "/2015-03-31/functions/{name}/policy" => (
            pick(Some("GetPolicy"), Some("AddPermission"), None, None)?,
            Function,
        ),
        "/2015-03-31/functions/{name}/policy/{sid}" => {
            (pick(None, None, None, Some("RemovePermission"))?, Function)
        }
        "/2018-10-31/layers" => {
            if query_value(query, "find").as_deref() == Some("LayerVersion") {
                (
                    pick(Some("GetLayerVersion"), None, None, None)?,
                    LayerVersionArn,
                )
            } else {
                (pick(Some("ListLayers"), None, None, None)?, Any)
            }
        }
        "/2018-10-31/layers/{name}/versions" => (
            pick(
                Some("ListLayerVersions"),
                Some("PublishLayerVersion"),
                None,
                None,
            )?,
            if post { Layer } else { Any },
        ),
        "/2018-10-31/layers/{name}/versions/{number}" => (
            pick(
                Some("GetLayerVersion"),
                None,
                None,
                Some("DeleteLayerVersion"),
            )?,
            LayerVersion,
        ),
        "/2018-10-31/layers/{name}/versions/{number}/policy" => (
            pick(
                Some("GetLayerVersionPolicy"),
                Some("AddLayerVersionPermission"),
                None,
                None,
            )?,
            LayerVersion,
        ),
        "/2018-10-31/layers/{name}/versions/{number}/policy/{sid}" => (
            pick(None, None, None, Some("RemoveLayerVersionPermission"))?,
            LayerVersion,
        ),
        "/2016-08-19/account-settings" => {
            (pick(Some("GetAccountSettings"), None, None, None)?, Any)
        }
        "/2021-10-31/functions/{name}/url" => (
            pick(
                Some("GetFunctionUrlConfig"),
                Some("CreateFunctionUrlConfig"),
                Some("UpdateFunctionUrlConfig"),
                Some("DeleteFunctionUrlConfig"),
            )?,
            Function,
        ),
        "/2021-10-31/functions/{name}/urls" => (
            pick(Some("ListFunctionUrlConfigs"), None, None, None)?,
            Function,
        ),
        _ => return None,
    };
    Some((action, target))
}

/// The function a request names: its name and qualifier, and its ARN (qualified when a
/// qualifier is given, as AWS authorises a qualified call).
struct Named {
    name: String,
    qualifier: Option<String>,
    arn: String,
}

fn function(state: &ApiState, raw: &str, query: Option<&str>) -> Named {
    let account = &state.account;
    let parsed = FunctionRef::parse(raw).ok().and_then(|f| {
        f.with_query_qualifier(query_value(query, "Qualifier").as_deref())
            .ok()
    });
    match parsed {
        Some(f) => {
            let region = f.region.as_deref().unwrap_or(&account.region);
            let acct = f.account.as_deref().unwrap_or(&account.id);
            let mut arn = format!("arn:aws:lambda:{region}:{acct}:function:{}", f.name);
            let qualifier = f.qualifier.map(|q| q.to_string());
            if let Some(q) = &qualifier {
                arn.push(':');
                arn.push_str(q);
            }
            Named {
                name: f.name,
                qualifier,
                arn,
            }
        }
        // A name the handler will refuse is authorised as written.
        None => Named {
            name: raw.to_string(),
            qualifier: None,
            arn: account.function_arn(raw),
        },
    }
}

fn layer_arn(state: &ApiState, raw: &str) -> String {
    let account = &state.account;
    match LayerName::parse(raw) {
        Ok(l) => format!(
            "arn:aws:lambda:{}:{}:layer:{}",
            l.region.as_deref().unwrap_or(&account.region),
            l.account.as_deref().unwrap_or(&account.id),
            l.name
        ),
        Err(_) => format!(
            "arn:aws:lambda:{}:{}:layer:{raw}",
            account.region, account.id
        ),
    }
}

/// CreateFunction's `FunctionName`, read without the rest of the body; `None` when the body
/// does not name one (the handler refuses it).
fn new_function_name(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(rename = "FunctionName", borrow)]
        name: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Named<'_>>(body)
        .ok()?
        .name
        .map(|n| n.into_owned())
}

/// The layer: authorises the routed request for its caller, then runs its handler.
pub(crate) async fn check(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let principal = match parts.extensions.get::<Caller>() {
        Some(Caller(p)) => p.clone(),
        // Every route this layer is on is signed; the front proved who signed it.
        None => {
            return LambdaApiError::MissingAuthenticationToken(
                "Missing Authentication Token".into(),
            )
            .into_response();
        }
    };
    if state.identity.acts_as_root(&principal) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let query = parts.uri.query().map(str::to_string);
    // An operation this table does not name is nobody's but the root user's.
    let Some((action, target)) = operation(&parts.method, &route, query.as_deref()) else {
        return LambdaApiError::AccessDenied(format!(
            "User: {} is not authorized to perform this operation",
            principal.arn()
        ))
        .into_response();
    };
    let action = format!("lambda:{action}");
    let body = if target == Target::NewFunction {
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(b) => {
                let name = new_function_name(&b);
                match allowed(&state, &mut parts, &principal, &action, target, name).await {
                    Ok(()) => Body::from(b),
                    Err(e) => return e.into_response(),
                }
            }
            Err(_) => {
                return LambdaApiError::InvalidRequestContent(
                    "The request body could not be read completely.".into(),
                )
                .into_response();
            }
        }
    } else {
        if let Err(e) = allowed(&state, &mut parts, &principal, &action, target, None).await {
            return e.into_response();
        }
        body
    };
    next.run(Request::from_parts(parts, body)).await
}

async fn allowed(
    state: &ApiState,
    parts: &mut Parts,
    principal: &Principal,
    action: &str,
    target: Target,
    new_name: Option<String>,
) -> Result<(), LambdaApiError> {
    let params: Vec<(String, String)> = match RawPathParams::from_request_parts(parts, &()).await {
        Ok(p) => p
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        Err(_) => Vec::new(),
    };
    let param = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let query = parts.uri.query();
    let account = &state.account;
    let mut function_named = None;
    let resource = match target {
        Target::Any => "*".to_string(),
        Target::NewFunction => match new_name {
            Some(n) => function(state, &n, None).arn,
            None => "*".to_string(),
        },
        Target::Function => {
            let f = function(state, param("name"), query);
            let arn = f.arn.clone();
            function_named = Some(f);
            arn
        }
        Target::Tagged => param("arn").to_string(),
        Target::Layer => layer_arn(state, param("name")),
        Target::LayerVersion => format!("{}:{}", layer_arn(state, param("name")), param("number")),
        Target::LayerVersionArn => query_value(query, "Arn").unwrap_or_else(|| "*".to_string()),
    };
    let source_ip = ignis_front::Source::of(&parts.extensions).ip().to_string();
    let decision = match &function_named {
        Some(f) => {
            let unqualified = account.function_arn(&f.name);
            let on = ignis_identity::FunctionResource {
                name: &f.name,
                qualifier: f.qualifier.as_deref(),
                unqualified_arn: &unqualified,
                arn: &resource,
            };
            state
                .identity
                .decide_on_function(principal, Some(source_ip), action, &on, &[])
                .await
        }
        // Not a function: identity-based policies alone decide.
        None => {
            let keys = ignis_identity::condition_keys(principal, Some(source_ip), &[]);
            let request = ignis_identity::AccessRequest {
                action,
                resource: &resource,
                keys: &keys,
            };
            match state.identity.authorize(principal, &request) {
                Decision::Allow => FunctionDecision::Allow,
                Decision::ExplicitDeny => FunctionDecision::IdentityDeny,
                Decision::ImplicitDeny => FunctionDecision::NotAllowed,
            }
        }
    };
    match decision.denial(principal, action, &resource) {
        None => Ok(()),
        Some(message) => Err(LambdaApiError::AccessDenied(message)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_their_actions() {
        let cases = [
            (
                Method::GET,
                "/2015-03-31/functions",
                None,
                "ListFunctions",
                Target::Any,
            ),
            (
                Method::POST,
                "/2015-03-31/functions",
                None,
                "CreateFunction",
                Target::NewFunction,
            ),
            (
                Method::GET,
                "/2015-03-31/functions/{name}",
                None,
                "GetFunction",
                Target::Function,
            ),
            (
                Method::POST,
                "/2021-11-15/functions/{name}/response-streaming-invocations",
                None,
                "InvokeFunction",
                Target::Function,
            ),
            (
                Method::GET,
                "/2019-09-30/functions/{name}/provisioned-concurrency",
                None,
                "ListProvisionedConcurrencyConfigs",
                Target::Function,
            ),
            (
                Method::GET,
                "/2019-09-30/functions/{name}/provisioned-concurrency",
                Some("Qualifier=1"),
                "GetProvisionedConcurrencyConfig",
                Target::Function,
            ),
            (
                Method::GET,
                "/2018-10-31/layers",
                Some("find=LayerVersion&Arn=x"),
                "GetLayerVersion",
                Target::LayerVersionArn,
            ),
            (
                Method::GET,
                "/2018-10-31/layers",
                None,
                "ListLayers",
                Target::Any,
            ),
            (
                Method::GET,
                "/2018-10-31/layers/{name}/versions",
                None,
                "ListLayerVersions",
                Target::Any,
            ),
            (
                Method::POST,
                "/2018-10-31/layers/{name}/versions",
                None,
                "PublishLayerVersion",
                Target::Layer,
            ),
            (
                Method::DELETE,
                "/2017-03-31/tags/{arn}",
                None,
                "UntagResource",
                Target::Tagged,
            ),
            (
                Method::PUT,
                "/2021-10-31/functions/{name}/url",
                None,
                "UpdateFunctionUrlConfig",
                Target::Function,
            ),
        ];
        for (method, route, query, action, target) in cases {
            assert_eq!(
                operation(&method, route, query),
                Some((action, target)),
                "{method} {route}"
            );
        }
        assert_eq!(
            operation(&Method::PATCH, "/2015-03-31/functions", None),
            None
        );
        assert_eq!(
            operation(&Method::GET, "/2018-10-31/code/{token}", None),
            None
        );
    }

    #[test]
    fn create_function_names_its_function_from_the_body() {
        assert_eq!(
            new_function_name(
                br#"{"Runtime":"python3.12","FunctionName":"f","Code":{"ZipFile":"UEsF"}}"#
            ),
            Some("f".into())
        );
        assert_eq!(
            new_function_name(br#"{"FunctionName":"f\u0031"}"#),
            Some("f1".into())
        );
        assert_eq!(new_function_name(b"{}"), None);
        assert_eq!(new_function_name(b"not json"), None);
    }
}
