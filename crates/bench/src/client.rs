//! A SigV4-signing Lambda API client over one pooled hyper HTTP/1.1 client.
//!
//! The same client drives Ignis and the bare-HTTP baseline, so both pay the same client costs
//! (signing, connection pool, body collection) and differ only in the server.

use base64::Engine as _;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::time::{Duration, Instant};

/// The pooled HTTP/1.1 client.
pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Longest any one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Header carrying a function error on an Invoke response.
pub const FUNCTION_ERROR_HEADER: &str = "x-amz-function-error";
/// The role every bench function is created with.
pub const ROLE: &str = "arn:aws:iam::000000000000:role/bench";

/// A client with keep-alive connections, at most `pool` idle ones per host, and `TCP_NODELAY`.
pub fn http_client(pool: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_max_idle_per_host(pool.max(1))
        .pool_idle_timeout(Duration::from_secs(90))
        .build(connector)
}

/// Credentials and region requests are signed with.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Why a request did not get the answer it needed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("endpoint {0:?} is not an http:// URL (https is not supported by the bench)")]
    BadEndpoint(String),
    #[error("{op}: building the request failed: {source}")]
    Build {
        op: String,
        #[source]
        source: http::Error,
    },
    #[error("{op}: request failed: {source}")]
    Send {
        op: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("{op}: reading the response failed: {source}")]
    Body {
        op: String,
        #[source]
        source: hyper::Error,
    },
    #[error("{op}: no answer within {REQUEST_TIMEOUT:?}")]
    Timeout { op: String },
    #[error("{op} answered HTTP {status}: {body}")]
    Api {
        op: String,
        status: StatusCode,
        body: String,
    },
    #[error("{op}: {message}")]
    Unexpected { op: String, message: String },
}

/// A response and how long the exchange took (from sending the request to the last body byte).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

/// A function to create.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub runtime: String,
    pub handler: String,
    pub zip: Vec<u8>,
    pub memory_size: u32,
    pub timeout_s: u32,
}

/// Signs and sends Lambda API requests to one endpoint.
#[derive(Debug, Clone)]
pub struct LambdaClient {
    http: HttpClient,
    /// `http://host:port`, without a trailing slash.
    base: String,
    host: HeaderValue,
    credentials: Credentials,
}

impl LambdaClient {
    /// A client for `endpoint` (`http://host[:port][/]`).
    pub fn new(
        http: HttpClient,
        endpoint: &str,
        credentials: Credentials,
    ) -> Result<LambdaClient, ClientError> {
        let bad = || ClientError::BadEndpoint(endpoint.to_owned());
        let rest = endpoint.strip_prefix("http://").ok_or_else(bad)?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(bad());
        }
        Ok(LambdaClient {
            http,
            base: format!("http://{authority}"),
            host: HeaderValue::from_str(authority).map_err(|_| bad())?,
            credentials,
        })
    }

    /// The endpoint, `http://host:port`.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// Signs and sends one Lambda API request; any status is returned as a [`Reply`].
    pub async fn send(
        &self,
        op: &str,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let mut headers = HeaderMap::new();
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.send_signed(op, "lambda", method, path, None, headers, body)
            .await
    }

    /// Signs (for `service`, with `headers`) and sends one request to the endpoint; any status
    /// is returned as a [`Reply`]. An `x-amz-content-sha256` among `headers` is signed as the
    /// payload's hash instead of hashing `body` (`UNSIGNED-PAYLOAD` for S3).
    #[allow(clippy::too_many_arguments)]
    pub async fn send_signed(
        &self,
        op: &str,
        service: &str,
        method: Method,
        path: &str,
        query: Option<&str>,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        headers.insert(HOST, self.host.clone());
        let signed = ignis_sigv4::sign(
            method.as_str(),
            path,
            query,
            &headers,
            &body,
            &self.credentials.access_key_id,
            &self.credentials.secret_access_key,
            &self.credentials.region,
            service,
            chrono::Utc::now(),
        );
        for (name, value) in signed {
            headers.insert(name, value);
        }
        self.exchange(op, method, path, query, headers, body).await
    }

    /// Sends one request unsigned, with `headers` as they are (a `Host` among them is kept, so
    /// a function URL can be named on the endpoint's address); any status is returned.
    pub async fn send_unsigned(
        &self,
        op: &str,
        method: Method,
        path: &str,
        mut headers: HeaderMap,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        headers.entry(HOST).or_insert_with(|| self.host.clone());
        self.exchange(op, method, path, None, headers, body).await
    }

    /// Sends one request to the endpoint and collects its answer, timed.
    async fn exchange(
        &self,
        op: &str,
        method: Method,
        path: &str,
        query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Reply, ClientError> {
        let uri = match query {
            Some(q) => format!("{}{path}?{q}", self.base),
            None => format!("{}{path}", self.base),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Full::new(body))
            .map_err(|source| ClientError::Build {
                op: op.to_owned(),
                source,
            })?;
        *request.headers_mut() = headers;

        let exchange = async {
            let started = Instant::now();
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|source| ClientError::Send {
                        op: op.to_owned(),
                        source,
                    })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|source| ClientError::Body {
                    op: op.to_owned(),
                    source,
                })?
                .to_bytes();
            Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
                elapsed: started.elapsed(),
            })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| ClientError::Timeout { op: op.to_owned() })?
    }

    /// Sends and requires a 2xx answer, returning its body as JSON (`null` when empty).
    async fn call(
        &self,
        op: &str,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<serde_json::Value, ClientError> {
        let reply = self.send(op, method, path, body).await?;
        if !reply.status.is_success() {
            return Err(ClientError::Api {
                op: op.to_owned(),
                status: reply.status,
                body: snippet(&reply.body),
            });
        }
        if reply.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&reply.body).map_err(|e| ClientError::Unexpected {
            op: op.to_owned(),
            message: format!("response is not JSON ({e}): {}", snippet(&reply.body)),
        })
    }

    /// One IAM query-protocol action (`params` unencoded); any status is returned.
    async fn iam(&self, action: &str, params: &[(&str, &str)]) -> Result<Reply, ClientError> {
        let mut form = format!("Action={action}&Version=2010-05-08");
        for (k, v) in params {
            form.push_str(&format!(
                "&{k}={}",
                ignis_sigv4::canonical::uri_encode(v.as_bytes())
            ));
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        self.send_signed(action, "iam", Method::POST, "/", None, headers, form.into())
            .await
    }

    /// Creates IAM user `name` with the inline policy `policy` and an access key for it.
    pub async fn create_user_key(
        &self,
        name: &str,
        policy: &str,
    ) -> Result<Credentials, ClientError> {
        let failed = |op: &str, reply: Reply| ClientError::Api {
            op: op.to_owned(),
            status: reply.status,
            body: snippet(&reply.body),
        };
        for (op, params) in [
            ("CreateUser", vec![("UserName", name)]),
            (
                "PutUserPolicy",
                vec![
                    ("UserName", name),
                    ("PolicyName", "bench"),
                    ("PolicyDocument", policy),
                ],
            ),
        ] {
            let reply = self.iam(op, &params).await?;
            if !reply.status.is_success() {
                return Err(failed(op, reply));
            }
        }
        let op = "CreateAccessKey";
        let reply = self.iam(op, &[("UserName", name)]).await?;
        if !reply.status.is_success() {
            return Err(failed(op, reply));
        }
        let text = String::from_utf8_lossy(&reply.body);
        let element = |tag: &str| {
            let open = format!("<{tag}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find(&format!("</{tag}>"))? + start;
            Some(text[start..end].to_string())
        };
        match (element("AccessKeyId"), element("SecretAccessKey")) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
                access_key_id,
                secret_access_key,
                region: self.credentials.region.clone(),
            }),
            _ => Err(ClientError::Unexpected {
                op: op.to_owned(),
                message: format!("no key in the answer: {}", snippet(&reply.body)),
            }),
        }
    }

    /// Creates [`ROLE`] (trusting Lambda, allowed everything) unless it exists.
    async fn ensure_role(&self) -> Result<(), ClientError> {
        let name = ROLE.rsplit('/').next().unwrap_or(ROLE);
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let failed = |op: &str, reply: Reply| ClientError::Api {
            op: op.to_owned(),
            status: reply.status,
            body: snippet(&reply.body),
        };
        let created = self
            .iam(
                "CreateRole",
                &[("RoleName", name), ("AssumeRolePolicyDocument", trust)],
            )
            .await?;
        if created.status == StatusCode::CONFLICT {
            return Ok(());
        }
        if !created.status.is_success() {
            return Err(failed("CreateRole", created));
        }
        let attached = self
            .iam(
                "AttachRolePolicy",
                &[
                    ("RoleName", name),
                    ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
                ],
            )
            .await?;
        if !attached.status.is_success() {
            return Err(failed("AttachRolePolicy", attached));
        }
        Ok(())
    }

    /// CreateFunction, then waits until the function is `Active`.
    pub async fn create_function(&self, spec: &FunctionSpec) -> Result<(), ClientError> {
        self.create_function_configured(spec, serde_json::json!({}))
            .await
    }

    /// [`LambdaClient::create_function`] with more of CreateFunction's members (`config`, an
    /// object, e.g. `LoggingConfig`), then waits until the function is active.
    pub async fn create_function_configured(
        &self,
        spec: &FunctionSpec,
        config: serde_json::Value,
    ) -> Result<(), ClientError> {
        self.ensure_role().await?;
        let mut body = serde_json::json!({
            "FunctionName": spec.name,
            "Runtime": spec.runtime,
            "Handler": spec.handler,
            "Role": ROLE,
            "Code": { "ZipFile": base64::engine::general_purpose::STANDARD.encode(&spec.zip) },
            "MemorySize": spec.memory_size,
            "Timeout": spec.timeout_s,
        });
        if let (Some(body), serde_json::Value::Object(more)) = (body.as_object_mut(), config) {
            body.extend(more);
        }
        let op = "CreateFunction";
        let config = self
            .call(op, Method::POST, "/2015-03-31/functions", json_bytes(&body))
            .await?;
        self.wait_until_ready(op, &spec.name, &config).await
    }

    /// UpdateFunctionConfiguration replacing the environment variables, then waits until the
    /// update is complete.
    pub async fn set_environment(
        &self,
        name: &str,
        variables: &[(&str, &str)],
    ) -> Result<(), ClientError> {
        let vars: serde_json::Map<String, serde_json::Value> = variables
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        let body = serde_json::json!({ "Environment": { "Variables": vars } });
        let op = "UpdateFunctionConfiguration";
        let config = self
            .call(
                op,
                Method::PUT,
                &format!("/2015-03-31/functions/{name}/configuration"),
                json_bytes(&body),
            )
            .await?;
        self.wait_until_ready(op, name, &config).await
    }

    /// Polls GetFunctionConfiguration while the function is `Pending` or its last update is
    /// `InProgress`; a `Failed` state or update is an error.
    async fn wait_until_ready(
        &self,
        op: &str,
        name: &str,
        config: &serde_json::Value,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let mut config = config.clone();
        loop {
            let state = config["State"].as_str().unwrap_or("Active");
            let update = config["LastUpdateStatus"].as_str().unwrap_or("Successful");
            if state == "Failed" || update == "Failed" {
                return Err(ClientError::Unexpected {
                    op: op.to_owned(),
                    message: format!(
                        "function {name} failed: {}",
                        config["StateReason"]
                            .as_str()
                            .or(config["LastUpdateStatusReason"].as_str())
                            .unwrap_or("no reason given")
                    ),
                });
            }
            if state != "Pending" && update != "InProgress" {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ClientError::Timeout { op: op.to_owned() });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            config = self
                .call(
                    "GetFunctionConfiguration",
                    Method::GET,
                    &format!("/2015-03-31/functions/{name}/configuration"),
                    Bytes::new(),
                )
                .await?;
        }
    }

    /// AddPermission with the statement `statement` (a JSON object).
    pub async fn add_permission(
        &self,
        name: &str,
        statement: &serde_json::Value,
    ) -> Result<(), ClientError> {
        self.call(
            "AddPermission",
            Method::POST,
            &format!("/2015-03-31/functions/{name}/policy"),
            json_bytes(statement),
        )
        .await
        .map(drop)
    }

    /// DeleteFunction.
    pub async fn delete_function(&self, name: &str) -> Result<(), ClientError> {
        self.call(
            "DeleteFunction",
            Method::DELETE,
            &format!("/2015-03-31/functions/{name}"),
            Bytes::new(),
        )
        .await
        .map(drop)
    }

    /// GetFunctionConfiguration.
    pub async fn get_configuration(&self, name: &str) -> Result<serde_json::Value, ClientError> {
        self.call(
            "GetFunctionConfiguration",
            Method::GET,
            &format!("/2015-03-31/functions/{name}/configuration"),
            Bytes::new(),
        )
        .await
    }

    /// CreateFunctionUrlConfig with this `AuthType` (`NONE` or `AWS_IAM`); the URL's
    /// `FunctionUrl`.
    pub async fn create_function_url(
        &self,
        name: &str,
        auth_type: &str,
    ) -> Result<String, ClientError> {
        let op = "CreateFunctionUrlConfig";
        let config = self
            .call(
                op,
                Method::POST,
                &format!("/2021-10-31/functions/{name}/url"),
                json_bytes(&serde_json::json!({ "AuthType": auth_type })),
            )
            .await?;
        match config["FunctionUrl"].as_str() {
            Some(url) => Ok(url.to_owned()),
            None => Err(ClientError::Unexpected {
                op: op.to_owned(),
                message: format!("no FunctionUrl in {config}"),
            }),
        }
    }

    /// One unsigned request to a function URL, named by its `Host` on this endpoint's address
    /// (`body` sent as `application/json` when there is one); any status is returned.
    pub async fn url(&self, request: &UrlRequest, body: Bytes) -> Result<Reply, ClientError> {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, request.host.clone());
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        self.send_unsigned(
            "function URL",
            request.method.clone(),
            &request.path,
            headers,
            body,
        )
        .await
    }

    /// A RequestResponse Invoke; any status is returned.
    pub async fn invoke(&self, name: &str, payload: Bytes) -> Result<Reply, ClientError> {
        self.send(
            "Invoke",
            Method::POST,
            &format!("/2015-03-31/functions/{name}/invocations"),
            payload,
        )
        .await
    }

    /// [`LambdaClient::invoke`] as a sampled trace's first hop: `X-Amzn-Trace-Id` with a new
    /// root and `Sampled=1`, so that the invocation is traced whatever its function's sampling.
    pub async fn invoke_sampled(&self, name: &str, payload: Bytes) -> Result<Reply, ClientError> {
        let random = uuid::Uuid::new_v4().simple().to_string();
        let root = format!(
            "Root=1-{:08x}-{};Sampled=1",
            chrono::Utc::now().timestamp(),
            &random[..24]
        );
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let trace = HeaderValue::from_str(&root).expect("the header is ASCII");
        headers.insert("x-amzn-trace-id", trace);
        let path = format!("/2015-03-31/functions/{name}/invocations");
        self.send_signed(
            "Invoke",
            "lambda",
            Method::POST,
            &path,
            None,
            headers,
            payload,
        )
        .await
    }
}

/// A request to a function URL: its method, its host and its path.
#[derive(Debug, Clone)]
pub struct UrlRequest {
    pub method: Method,
    /// `<url-id>.lambda-url.<region>.localhost[:port]`, as the `FunctionUrl` names it.
    pub host: HeaderValue,
    /// The path sent, which the function sees as `rawPath`.
    pub path: String,
    /// The port the `FunctionUrl` names (80 when it names none).
    pub port: u16,
}

impl UrlRequest {
    /// `method path` on the URL `function_url` (`http://<host>[:port]/`, as the API prints it).
    pub fn new(method: Method, function_url: &str, path: &str) -> Result<UrlRequest, ClientError> {
        let bad = || ClientError::BadEndpoint(function_url.to_owned());
        let authority = function_url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@', ' ', '[']))
            .ok_or_else(bad)?;
        let port = match authority.rsplit_once(':') {
            Some((_, port)) => port.parse().map_err(|_| bad())?,
            None => 80,
        };
        Ok(UrlRequest {
            method,
            host: HeaderValue::from_str(authority).map_err(|_| bad())?,
            path: path.to_owned(),
            port,
        })
    }
}

/// Whether a function URL's reply is the no-op function's answer to `request` with `body`:
/// HTTP 200 whose body is the 2.0 event of this request (the function returned its event, and
/// a result without `statusCode` is sent back as it is). The error says what was wrong.
pub fn check_url_event(reply: &Reply, request: &UrlRequest, body: &[u8]) -> Result<(), String> {
    if reply.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", reply.status, snippet(&reply.body)));
    }
    let event: serde_json::Value = serde_json::from_slice(&reply.body)
        .map_err(|_| format!("response body {} is not JSON", snippet(&reply.body)))?;
    let host = String::from_utf8_lossy(request.host.as_bytes());
    let sent_body = (!body.is_empty()).then(|| String::from_utf8_lossy(body));
    let checks: [(&str, bool); 5] = [
        ("version", event["version"] == "2.0"),
        ("rawPath", event["rawPath"] == request.path.as_str()),
        (
            "requestContext.http.method",
            event["requestContext"]["http"]["method"] == request.method.as_str(),
        ),
        ("headers.host", event["headers"]["host"] == host.as_ref()),
        (
            "body",
            event.get("body").and_then(|b| b.as_str()) == sent_body.as_deref()
                && event["isBase64Encoded"] == false,
        ),
    ];
    match checks.iter().find(|(_, ok)| !ok) {
        None => Ok(()),
        Some((field, _)) => Err(format!(
            "response body {} is not the URL event of {} {}: its {field} differs",
            snippet(&reply.body),
            request.method,
            request.path
        )),
    }
}

/// Whether an Invoke reply is a success: HTTP 200, no `X-Amz-Function-Error`, and a body equal
/// (as JSON) to `expected`. The error says what was wrong.
pub fn check_invoke(reply: &Reply, expected: &serde_json::Value) -> Result<(), String> {
    if reply.status != StatusCode::OK {
        return Err(format!("HTTP {}: {}", reply.status, snippet(&reply.body)));
    }
    if let Some(kind) = reply.headers.get(FUNCTION_ERROR_HEADER) {
        return Err(format!(
            "function error {}: {}",
            String::from_utf8_lossy(kind.as_bytes()),
            snippet(&reply.body)
        ));
    }
    match serde_json::from_slice::<serde_json::Value>(&reply.body) {
        Ok(v) if v == *expected => Ok(()),
        _ => Err(format!(
            "response body {} is not the event sent back",
            snippet(&reply.body)
        )),
    }
}

fn json_bytes(v: &serde_json::Value) -> Bytes {
    Bytes::from(serde_json::to_vec(v).expect("a JSON value serialises"))
}

/// The start of a body, for messages.
pub fn snippet(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "secret".into(),
            region: "us-east-1".into(),
        }
    }

    #[tokio::test]
    async fn endpoints() {
        let ok = |e: &str| LambdaClient::new(http_client(1), e, creds()).map(|c| c.base);
        assert_eq!(
            ok("http://127.0.0.1:9070").unwrap(),
            "http://127.0.0.1:9070"
        );
        assert_eq!(ok("http://localhost:1/").unwrap(), "http://localhost:1");
        for bad in [
            "https://x:1",
            "127.0.0.1:9070",
            "http://",
            "http://a/b",
            "http://u@h",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }

    fn reply(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_static(v));
        }
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: h,
            body: Bytes::from_static(body.as_bytes()),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn invoke_checks() {
        let expected = serde_json::json!({"n": 1});
        assert_eq!(
            check_invoke(&reply(200, &[], "{\"n\": 1}"), &expected),
            Ok(())
        );
        let e = check_invoke(&reply(501, &[], "{\"Type\":\"x\"}"), &expected).unwrap_err();
        assert!(e.starts_with("HTTP 501"), "{e}");
        let e = check_invoke(
            &reply(200, &[("x-amz-function-error", "Unhandled")], "{}"),
            &expected,
        )
        .unwrap_err();
        assert!(e.starts_with("function error Unhandled"), "{e}");
        assert!(check_invoke(&reply(200, &[], "{\"n\":2}"), &expected).is_err());
        assert!(check_invoke(&reply(200, &[], "not json"), &expected).is_err());
    }

    #[test]
    fn url_requests() {
        let r = UrlRequest::new(
            Method::GET,
            "http://abc.lambda-url.us-east-1.localhost:9070/",
            "/x",
        )
        .unwrap();
        assert_eq!(r.host, "abc.lambda-url.us-east-1.localhost:9070");
        assert_eq!((r.port, r.path.as_str()), (9070, "/x"));
        let r = UrlRequest::new(Method::GET, "http://abc.lambda-url.r.localhost", "/").unwrap();
        assert_eq!(r.port, 80);
        for bad in [
            "https://a.lambda-url.r.localhost/",
            "http:///",
            "http://a:b/",
            "http://a/b",
        ] {
            assert!(UrlRequest::new(Method::GET, bad, "/").is_err(), "{bad}");
        }
    }

    #[test]
    fn url_event_checks() {
        let request =
            UrlRequest::new(Method::POST, "http://id.lambda-url.r.localhost:1/", "/b").unwrap();
        let event = |method: &str, path: &str, host: &str, body: Option<&str>| {
            let mut e = serde_json::json!({
                "version": "2.0",
                "rawPath": path,
                "headers": { "host": host },
                "requestContext": { "http": { "method": method } },
                "isBase64Encoded": false,
            });
            if let Some(b) = body {
                e["body"] = b.into();
            }
            let mut r = reply(200, &[], "");
            r.body = Bytes::from(e.to_string());
            r
        };
        let host = "id.lambda-url.r.localhost:1";
        let good = event("POST", "/b", host, Some("{\"n\":1}"));
        assert_eq!(check_url_event(&good, &request, b"{\"n\":1}"), Ok(()));
        for (bad, field) in [
            (event("GET", "/b", host, Some("{\"n\":1}")), "method"),
            (event("POST", "/", host, Some("{\"n\":1}")), "rawPath"),
            (event("POST", "/b", "other", Some("{\"n\":1}")), "host"),
            (event("POST", "/b", host, None), "body"),
        ] {
            let e = check_url_event(&bad, &request, b"{\"n\":1}").unwrap_err();
            assert!(e.contains(field), "{e}");
        }
        let get = UrlRequest {
            method: Method::GET,
            ..request.clone()
        };
        assert_eq!(
            check_url_event(&event("GET", "/b", host, None), &get, b""),
            Ok(())
        );
        let e =
            check_url_event(&reply(502, &[], "Internal Server Error"), &request, b"").unwrap_err();
        assert!(e.starts_with("HTTP 502"), "{e}");
        assert!(check_url_event(&reply(200, &[], "nope"), &request, b"").is_err());
    }

    #[test]
    fn snippets_are_bounded() {
        assert_eq!(snippet(b"short"), "short");
        let long = vec![b'a'; 1000];
        assert_eq!(snippet(&long).chars().count(), 301);
    }
}
