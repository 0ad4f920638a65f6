//! IAM and STS on the node's port, in AWS's query protocol (form-encoded `Action=…&Version=…`,
//! XML answers), exact to botocore's `iam` (2010-05-08) and `sts` (2011-06-15) models.
//!
//! IAM ([`users`], [`groups`], [`roles`], [`policies`]: inline, customer managed with versions,
//! AWS managed, attachments) changes `ignis-identity`'s state; STS ([`sts`]) issues temporary
//! credentials (AssumeRole, GetSessionToken) and answers GetCallerIdentity. The two services
//! share this crate because they share their protocol, their errors and their state; each has
//! its own router, scope service (`iam`, `sts`) and XML namespace.
//!
//! Every request is SigV4-verified through `ignis-front`'s signed-request road (any region: IAM
//! is global, and STS regional endpoints all serve the same account) and every operation is
//! authorised by AWS's evaluation of the caller's identity-based policies for `iam:<Action>`
//! on the resource AWS's authorisation reference names, except `sts:GetCallerIdentity`, which
//! is always allowed. It does not own the state's storage or its evaluation (identity's).

mod error;
mod groups;
mod page;
mod policies;
mod query;
mod roles;
mod sts;
mod tags;
mod users;
mod validate;

pub use error::IamError;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use ignis_front::{BodyBudget, signed};
use ignis_identity::{Decision, Identity, Principal};
use query::{Params, Xml};
use std::sync::Arc;
use std::time::Duration;

/// IAM's XML namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// STS's XML namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The largest request read: policy documents are at most 131,072 characters, URL-encoded.
const MAX_REQUEST_BYTES: usize = 1 << 20;
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// IAM and STS of one node's account.
pub struct Iam {
    identity: Identity,
    bodies: BodyBudget,
    /// The shortest session STS grants (AWS: 900 s); tests lower it.
    min_session_seconds: u32,
}

#[derive(Clone, Copy)]
enum Service {
    Iam,
    Sts,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    fn namespace(self) -> &'static str {
        match self {
            Service::Iam => IAM_NAMESPACE,
            Service::Sts => STS_NAMESPACE,
        }
    }
}

impl Iam {
    /// The services over `identity`; bodies not yet proven draw on `bodies`.
    pub fn new(identity: Identity, bodies: BodyBudget) -> Iam {
        Iam {
            identity,
            bodies,
            min_session_seconds: sts::MIN_DURATION_SECONDS,
        }
    }

    /// The same services granting sessions as short as `seconds` (for tests of expiry).
    pub fn with_min_session_seconds(mut self, seconds: u32) -> Iam {
        self.min_session_seconds = seconds.max(1);
        self
    }

    /// IAM's router (credential scope service `iam`).
    pub fn iam_router(self: &Arc<Self>) -> Router {
        self.router(Service::Iam)
    }

    /// STS's router (credential scope service `sts`).
    pub fn sts_router(self: &Arc<Self>) -> Router {
        self.router(Service::Sts)
    }

    fn router(self: &Arc<Self>, service: Service) -> Router {
        let iam = self.clone();
        Router::new().fallback(move |req: Request| {
            let iam = iam.clone();
            async move {
                let request_id = uuid::Uuid::new_v4().to_string();
                match iam.handle(service, req, &request_id).await {
                    Ok(body) => xml_response(http::StatusCode::OK, body, &request_id),
                    Err(e) => e.into_response(service.namespace(), &request_id),
                }
            }
        })
    }

    async fn handle(
        &self,
        service: Service,
        req: Request,
        request_id: &str,
    ) -> Result<String, IamError> {
        let (parts, body) = req.into_parts();
        let expected = ignis_sigv4::Expected {
            service: service.name(),
            region: None,
        };
        let head = signed::verify_head(&parts, expected, chrono::Utc::now(), |k| {
            self.identity.resolve(k)
        })
        .map_err(IamError::auth)?;
        let bounds = signed::Bounds {
            max_bytes: MAX_REQUEST_BYTES,
            idle: BODY_IDLE_TIMEOUT,
            unproven: &self.bodies,
        };
        let (bytes, reservation, proven) = signed::read(Some(head), &parts, body, bounds)
            .await
            .map_err(IamError::auth)?;
        drop(reservation);
        let proven = proven.ok_or_else(IamError::internal)?;
        self.identity.note_use(
            &proven.identity.access_key_id,
            service.name(),
            &proven.identity.region,
        );
        let params = Params::parse(parts.uri.query(), &bytes);
        let Some(action) = params.get("Action").map(str::to_string) else {
            return Err(IamError::new("MissingAction", 400, "Missing Action"));
        };
        let cx = Cx {
            iam: self,
            principal: proven.principal,
            key_id: proven.identity.access_key_id,
            source_ip: ignis_front::Source::of(&parts.extensions).ip().to_string(),
            p: params,
        };
        let result = match service {
            Service::Iam => iam_operation(&cx, &action).await?,
            Service::Sts => sts::operation(&cx, &action).await?,
        };
        Ok(query::response(
            service.namespace(),
            &action,
            result,
            request_id,
        ))
    }
}

async fn iam_operation(cx: &Cx<'_>, action: &str) -> Result<Option<Xml>, IamError> {
    match action {
        "CreateUser"
        | "GetUser"
        | "ListUsers"
        | "UpdateUser"
        | "DeleteUser"
        | "TagUser"
        | "UntagUser"
        | "ListUserTags"
        | "CreateAccessKey"
        | "ListAccessKeys"
        | "UpdateAccessKey"
        | "DeleteAccessKey"
        | "GetAccessKeyLastUsed" => users::operation(cx, action).await,
        "CreateGroup"
        | "GetGroup"
        | "ListGroups"
        | "DeleteGroup"
        | "AddUserToGroup"
        | "RemoveUserFromGroup"
        | "ListGroupsForUser" => groups::operation(cx, action).await,
        "CreateRole"
        | "GetRole"
        | "UpdateRole"
        | "DeleteRole"
        | "UpdateAssumeRolePolicy"
        | "ListRoles"
        | "TagRole"
        | "UntagRole"
        | "ListRoleTags" => roles::operation(cx, action).await,
        _ => match policies::operation(cx, action).await {
            Some(result) => result,
            None => Err(IamError::new(
                "InvalidAction",
                400,
                format!("Could not find operation {action} for version 2010-05-08"),
            )),
        },
    }
}

/// One request being served: the caller and its parameters.
pub(crate) struct Cx<'a> {
    iam: &'a Iam,
    principal: Principal,
    /// The access key the request was signed with.
    key_id: String,
    source_ip: String,
    p: Params,
}

impl Cx<'_> {
    fn identity(&self) -> &Identity {
        &self.iam.identity
    }

    fn account(&self) -> &str {
        self.iam.identity.account()
    }

    /// `arn:aws:iam::<account>:<kind><path><name>`.
    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account())
    }

    /// Whether the caller's policies allow `action` on `resource`; AWS's AccessDenied if not.
    fn allow(&self, action: &str, resource: &str) -> Result<(), IamError> {
        self.allow_with(action, resource, &[])
    }

    /// [`Cx::allow`] with request-specific condition keys.
    fn allow_with(
        &self,
        action: &str,
        resource: &str,
        extra: &[(&str, String)],
    ) -> Result<(), IamError> {
        let keys =
            ignis_identity::condition_keys(&self.principal, Some(self.source_ip.clone()), extra);
        let request = ignis_identity::AccessRequest {
            action,
            resource,
            keys: &keys,
        };
        match self.identity().authorize(&self.principal, &request) {
            Decision::Allow => Ok(()),
            d => Err(IamError::access_denied(self.principal.denial(
                action,
                resource,
                d == Decision::ExplicitDeny,
            ))),
        }
    }
}

pub(crate) fn xml_response(status: http::StatusCode, body: String, request_id: &str) -> Response {
    let mut r = Response::new(axum::body::Body::from(body));
    *r.status_mut() = status;
    let headers = r.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", v);
    }
    r
}
