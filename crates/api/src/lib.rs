//! The Lambda control-plane REST API: routing, request authentication (SigV4), and one module
//! per API resource.
//!
//! This crate turns HTTP requests into calls on the store, the code store and the invocation
//! engine (`ignis-engine`: Invoke, concurrency, provisioning, the asynchronous queue), and
//! every failure into a [`ignis_wire::LambdaApiError`]. It owns no state of its own beyond what
//! [`Api`] carries; the server crate builds that state and serves the router.

mod account;
mod aliases;
mod authorize;
mod code_locks;
mod code_source;
mod code_url;
mod concurrency;
mod front;
pub mod functions;
mod invoke;
mod invoke_config;
mod invoke_stream;
mod layers;
mod policy;
mod provisioned;
mod request;
mod tags;
mod url_ids;
mod urls;
mod versions;

use axum::Router;
use axum::routing::{get, post};
use ignis_engine::Engine;
use ignis_model::Account;
use ignis_package::CodeStore;
use ignis_store::Store;
use std::sync::Arc;

pub use code_locks::CodeLocks;
pub use code_source::{CodeObjectError, CodeObjects};
pub use code_url::CodeUrlSigner;
pub use front::{Caller, RequestId};
pub use url_ids::UrlIds;

/// Everything a handler needs, shared by all of them.
pub struct Api {
    pub account: Account,
    pub store: Store,
    pub code: Arc<CodeStore>,
    /// Who signs requests: access keys and their principals.
    pub identity: ignis_identity::Identity,
    pub code_urls: CodeUrlSigner,
    /// Derives the ids function URLs are served at.
    pub url_ids: UrlIds,
    /// The port function URLs are printed with (`FunctionUrl`): where the node serves them.
    pub url_port: u16,
    /// Orders code-store writes with the garbage collection of unused packages, per function
    /// and per package, so a package being referenced is never removed underneath.
    pub code_locks: CodeLocks,
    /// Resolves, limits and runs invocations.
    pub engine: Engine,
    /// Runtime identifiers this node can run; CreateFunction refuses others.
    pub runtimes: Arc<Vec<String>>,
    /// Where `S3Bucket`/`S3Key` code is read from (`None`: code from S3 is refused).
    pub code_objects: Option<Arc<dyn CodeObjects>>,
    /// Bytes of request bodies read before their signatures could be checked, node-wide.
    pub unproven_bodies: ignis_front::BodyBudget,
}

/// What handlers get: the shared [`Api`], one reference count to clone.
pub type ApiState = Arc<Api>;

/// How often packages that were unused but still held by an environment are collected again.
const CODE_SWEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// Collects, every [`CODE_SWEEP`], the packages and merged layers that were unused but held by
/// environments when last collected; stops when `shutdown` turns true.
pub fn spawn_code_sweeper(
    state: ApiState,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(CODE_SWEEP) => {}
                _ = shutdown.changed() => return,
            }
            functions::collect_garbage(&state, Vec::new()).await;
        }
    })
}

/// The path prefixes of the Lambda API (its API versions, and code downloads).
const PATHS: [&str; 11] = [
    "/2015-03-31/",
    "/2019-09-25/",
    "/2021-11-15/",
    "/2014-11-13/",
    "/2017-03-31/",
    "/2017-10-31/",
    "/2019-09-30/",
    "/2018-10-31/",
    "/2016-08-19/",
    "/2021-10-31/",
    code_url::PREFIX,
];

/// Whether an unsigned request is the Lambda API's to refuse (or, for a code download, to
/// serve): its path is one of the Lambda API's.
pub fn claims_unsigned(parts: &http::request::Parts) -> bool {
    let path = parts.uri.path();
    PATHS.iter().any(|p| path.starts_with(p))
}

/// The Lambda API as an axum router, with authentication and error mapping in front.
pub fn router(state: ApiState) -> Router {
    let api = Router::new()
        .route(
            "/2015-03-31/functions",
            get(functions::list).post(functions::create),
        )
        .route(
            "/2015-03-31/functions/{name}",
            get(functions::get).delete(functions::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(functions::get_configuration).put(functions::update_configuration),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            axum::routing::put(functions::update_code),
        )
        .route(
            "/2015-03-31/functions/{name}/invocations",
            post(invoke::invoke),
        )
        .route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            post(invoke_stream::invoke_with_response_stream),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async",
            post(invoke::invoke_async),
        )
        .route(
            "/2017-03-31/tags/{arn}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            get(versions::list_versions).post(versions::publish_version),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases",
            get(aliases::list).post(aliases::create),
        )
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(aliases::get)
                .put(aliases::update)
                .delete(aliases::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config",
            get(invoke_config::get)
                .put(invoke_config::put)
                .post(invoke_config::update)
                .delete(invoke_config::delete),
        )
        .route(
            "/2019-09-25/functions/{name}/event-invoke-config/list",
            get(invoke_config::list),
        )
        .route(
            "/2017-10-31/functions/{name}/concurrency",
            axum::routing::put(concurrency::put).delete(concurrency::delete),
        )
        .route(
            "/2019-09-30/functions/{name}/concurrency",
            get(concurrency::get),
        )
        .route(
            "/2019-09-30/functions/{name}/provisioned-concurrency",
            get(provisioned::get_or_list)
                .put(provisioned::put)
                .delete(provisioned::delete),
        )
        .route(
            "/2015-03-31/functions/{name}/policy",
            get(policy::get).post(policy::add),
        )
        .route(
            "/2015-03-31/functions/{name}/policy/{sid}",
            axum::routing::delete(policy::remove),
        )
        .route("/2018-10-31/layers", get(layers::list_or_find))
        .route(
            "/2018-10-31/layers/{name}/versions",
            get(layers::list_versions).post(layers::publish),
        )
        .route(
            "/2018-10-31/layers/{name}/versions/{number}",
            get(layers::get_version).delete(layers::delete_version),
        )
        .route(
            "/2018-10-31/layers/{name}/versions/{number}/policy",
            get(layers::get_policy).post(layers::add_permission),
        )
        .route(
            "/2018-10-31/layers/{name}/versions/{number}/policy/{sid}",
            axum::routing::delete(layers::remove_permission),
        )
        .route("/2016-08-19/account-settings", get(account::settings))
        .route(
            "/2021-10-31/functions/{name}/url",
            get(urls::get)
                .post(urls::create)
                .put(urls::update)
                .delete(urls::delete),
        )
        .route("/2021-10-31/functions/{name}/urls", get(urls::list))
        // Every operation above is authorised for its caller; the code download (below) is
        // authorised by its signed URL.
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize::check,
        ))
        .route(code_url::ROUTE, get(code_url::download))
        .fallback(front::unknown_operation)
        .with_state(state.clone());
    front::wrap(api, state)
}
