//! The Lambda control-plane REST API: routing, request authentication (SigV4), and one module
//! per API resource.
//!
//! This crate turns HTTP requests into calls on the store, the code store and (for Invoke) the
//! invoker, and every failure into a [`ignis_wire::LambdaApiError`]. It owns no state of its
//! own beyond what [`ApiState`] carries; the server crate builds that state and serves the
//! router.

mod account;
mod code_url;
mod front;
mod functions;
mod request;
mod tags;

use axum::Router;
use axum::routing::{get, post};
use ignis_model::Account;
use ignis_package::CodeStore;
use ignis_store::Store;
use std::sync::Arc;

pub use code_url::CodeUrlSigner;
pub use front::RequestId;

/// The root credentials every request must be signed with.
#[derive(Clone)]
pub struct RootCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub account: Account,
    pub store: Store,
    pub code: Arc<CodeStore>,
    pub credentials: RootCredentials,
    pub code_urls: CodeUrlSigner,
    /// Serialises code-store writes with the garbage collection of unused packages, so a
    /// package being referenced is never removed underneath.
    pub code_lock: Arc<tokio::sync::Mutex<()>>,
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
            post(functions::invoke_not_built),
        )
        .route(
            "/2014-11-13/functions/{name}/invoke-async",
            post(functions::invoke_not_built),
        )
        .route(
            "/2017-03-31/tags/{arn}",
            get(tags::list).post(tags::tag).delete(tags::untag),
        )
        .route("/2016-08-19/account-settings", get(account::settings))
        .route(code_url::ROUTE, get(code_url::download))
        .fallback(front::unknown_operation)
        .with_state(state.clone());
    front::wrap(api, state)
}
