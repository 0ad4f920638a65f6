//! One port, several services: each request on the node's port goes to the service it was
//! addressed to, as AWS's endpoints would have sent it.
//!
//! - A request addressed to a service by its host or path (a function URL:
//!   `<url-id>.lambda-url.<region>.localhost`) goes to that service whatever it carries: such a
//!   service authenticates its requests itself, and may be open to unsigned ones.
//! - A signed request names its service in its SigV4 credential scope
//!   (`Credential=<key>/<date>/<region>/<service>/aws4_request`, in the `Authorization` header
//!   or, for a presigned URL, in `X-Amz-Credential`); a SigV2-signed one (`AWS <key>:<sig>`)
//!   can only be S3.
//! - An unsigned request goes to the first service that claims it (S3 claims virtual-hosted
//!   requests and every path the Lambda API does not use), so that the service refuses it in
//!   its own format: S3's XML `AccessDenied`, Lambda's JSON `MissingAuthenticationTokenException`.
//! - A scope naming no service served here goes to the default service, which refuses the
//!   scope as AWS does.
//!
//! The gateway only routes: each service verifies the signature itself, once, with its own
//! rules (S3's include `aws-chunked` bodies whose chunks are signed as they stream).

use axum::Router;
use axum::extract::Request;
use http::request::Parts;
use std::sync::Arc;
use tower::ServiceExt;

/// Whether a service takes an unsigned request.
pub type Claim = fn(&Parts) -> bool;

struct Service {
    name: &'static str,
    router: Router,
    claims_unsigned: Claim,
}

/// The services of one port.
pub struct Gateway {
    /// Services that claim requests by their address, before any signature is looked at.
    addressed: Vec<(Claim, Router)>,
    services: Vec<Service>,
    default: usize,
}

impl Gateway {
    /// A gateway whose default service is `name`.
    pub fn new(name: &'static str, router: Router, claims_unsigned: Claim) -> Gateway {
        Gateway {
            addressed: Vec::new(),
            services: vec![Service {
                name,
                router,
                claims_unsigned,
            }],
            default: 0,
        }
    }

    /// Adds the service a credential scope names `name`.
    pub fn service(mut self, name: &'static str, router: Router, claims_unsigned: Claim) -> Self {
        self.services.push(Service {
            name,
            router,
            claims_unsigned,
        });
        self
    }

    /// Adds a service that takes every request `claims` (by its host or path), signed or not.
    pub fn addressed(mut self, claims: Claim, router: Router) -> Self {
        self.addressed.push((claims, router));
        self
    }

    /// Which router gets this request.
    fn route(&self, parts: &Parts) -> &Router {
        match self.addressed.iter().find(|(claims, _)| claims(parts)) {
            Some((_, router)) => router,
            None => &self.services[self.pick(parts)].router,
        }
    }

    /// Which service gets this request.
    fn pick(&self, parts: &Parts) -> usize {
        let named = match signed_service(parts) {
            Some(Signed::Scope(service)) => self.services.iter().position(|s| s.name == service),
            Some(Signed::V2) => self.services.iter().position(|s| s.name == "s3"),
            None => self
                .services
                .iter()
                .position(|s| (s.claims_unsigned)(parts)),
        };
        named.unwrap_or(self.default)
    }

    /// The port's router.
    pub fn into_router(self) -> Router {
        let gateway = Arc::new(self);
        Router::new().fallback(move |req: Request| {
            let gateway = gateway.clone();
            async move {
                let (parts, body) = req.into_parts();
                let router = gateway.route(&parts).clone();
                let req = Request::from_parts(parts, body);
                match router.oneshot(req).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                }
            }
        })
    }
}

/// How a request is signed.
#[derive(Debug, PartialEq, Eq)]
enum Signed {
    /// SigV4, for the service its scope names.
    Scope(String),
    /// SigV2 (S3 only).
    V2,
}

fn signed_service(parts: &Parts) -> Option<Signed> {
    if let Some(auth) = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if auth.starts_with("AWS ") {
            return Some(Signed::V2);
        }
        let credential = auth.split("Credential=").nth(1)?;
        let credential = credential.split([',', ' ']).next()?;
        return scope_service(credential).map(Signed::Scope);
    }
    let query = parts.uri.query()?;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key.eq_ignore_ascii_case("X-Amz-Credential") {
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            return scope_service(&value).map(Signed::Scope);
        }
        if key == "AWSAccessKeyId" {
            return Some(Signed::V2);
        }
    }
    None
}

/// The service of `<key>/<date>/<region>/<service>/aws4_request`.
fn scope_service(credential: &str) -> Option<String> {
    let mut fields = credential.rsplit('/');
    let terminator = fields.next()?;
    let service = fields.next()?;
    (terminator == "aws4_request" && !service.is_empty()).then(|| service.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, auth: Option<&str>) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_scope_names_the_service() {
        let p = parts(
            "/bucket/key",
            Some(
                "AWS4-HMAC-SHA256 Credential=AKID/20261207/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            ),
        );
        assert_eq!(signed_service(&p), Some(Signed::Scope("s3".into())));
        let p = parts(
            "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00",
            None,
        );
        assert_eq!(signed_service(&p), Some(Signed::Scope("s3".into())));
        let p = parts("/bucket/key", Some("AWS AKID:c2ln"));
        assert_eq!(signed_service(&p), Some(Signed::V2));
        assert_eq!(signed_service(&parts("/2015-03-31/functions", None)), None);
    }

    #[tokio::test]
    async fn requests_reach_their_service() {
        fn lambda_paths(p: &Parts) -> bool {
            p.uri.path().starts_with("/2015-03-31/")
        }
        fn everything(_: &Parts) -> bool {
            true
        }
        let gateway = Gateway::new(
            "lambda",
            Router::new().fallback(|| async { "lambda" }),
            lambda_paths,
        )
        .service("s3", Router::new().fallback(|| async { "s3" }), everything)
        .addressed(
            |p| p.uri.path().starts_with("/url/"),
            Router::new().fallback(|| async { "url" }),
        );
        let router = gateway.into_router();
        let answer = |req: http::Request<axum::body::Body>| {
            let router = router.clone();
            async move {
                let r = router.oneshot(req).await.unwrap();
                let body = axum::body::to_bytes(r.into_body(), 100).await.unwrap();
                String::from_utf8(body.to_vec()).unwrap()
            }
        };
        let unsigned = |uri: &str| {
            http::Request::builder()
                .uri(uri)
                .body(axum::body::Body::empty())
                .unwrap()
        };
        assert_eq!(answer(unsigned("/2015-03-31/functions")).await, "lambda");
        assert_eq!(answer(unsigned("/photos/cat.jpg")).await, "s3");
        let signed = http::Request::builder()
            .uri("/anything")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/lambda/aws4_request",
            )
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(answer(signed).await, "lambda");
        let unknown = http::Request::builder()
            .uri("/anything")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/sqs/aws4_request",
            )
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(answer(unknown).await, "lambda");
        let addressed = http::Request::builder()
            .uri("/url/x")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=A/20261207/us-east-1/lambda/aws4_request",
            )
            .body(axum::body::Body::empty())
            .unwrap();
        assert_eq!(answer(addressed).await, "url");
    }
}
