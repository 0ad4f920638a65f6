//! An in-process harness for the API crate: the real router and state (SQLite store, code store,
//! engine, plain-process invoker) in a temporary directory, driven by signed requests through
//! `tower::ServiceExt::oneshot` — no socket.

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use ignis_api::{Api, CodeUrlSigner};
use ignis_model::Account;
use std::io::Write;
use std::sync::Arc;
use tower::ServiceExt;

pub const ACCESS_KEY: &str = "AKIAIGNISHARNESS0001";
pub const SECRET_KEY: &str = "harness-secret-key-000000000000000000000";
pub const REGION: &str = "us-east-1";

pub struct Harness {
    router: Router,
    _dir: tempfile::TempDir,
}

/// One answer, its body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: serde_json::Value,
}

impl Answer {
    /// The `x-amzn-ErrorType` header.
    pub fn error_type(&self) -> &str {
        self.headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The error message, whichever casing the error type uses on the wire.
    pub fn message(&self) -> &str {
        self.json
            .get("Message")
            .or_else(|| self.json.get("message"))
            .and_then(|m| m.as_str())
            .unwrap_or("")
    }
}

impl Harness {
    pub async fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let account = Account {
            id: "000000000000".into(),
            region: REGION.into(),
        };
        let store = ignis_store::Store::open(&dir.path().join("metadata.db"), "node-test")
            .await
            .unwrap();
        let code = Arc::new(ignis_package::CodeStore::open(&dir.path().join("code")).unwrap());
        let logs = ignis_logs::LogStore::open(dir.path().join("logs"), 1 << 20).unwrap();
        let invoker = ignis_invoker::Invoker::new(
            ignis_invoker::InvokerConfig::new(account.clone(), dir.path().join("runtime"), logs),
            Arc::new(ignis_invoker::ProcessLauncher::new()),
        )
        .unwrap();
        let engine = ignis_engine::Engine::start(ignis_engine::EngineParts {
            account: account.clone(),
            store: store.clone(),
            code: code.clone(),
            invoker,
            concurrency_limit: 1000,
            async_queue: ignis_engine::QueueBounds::UNBOUNDED,
        })
        .await
        .unwrap();
        let identity = ignis_identity::Identity::open(
            store.clone(),
            &account.id,
            ignis_identity::RootKey {
                access_key_id: ACCESS_KEY.into(),
                secret_access_key: SECRET_KEY.into(),
            },
            ignis_identity::IamMode::Enforce,
        )
        .await
        .unwrap();
        execution_role(&identity, "any").await;
        let api = Arc::new(Api {
            code_objects: None,
            account,
            store,
            code,
            identity,
            code_urls: CodeUrlSigner::new(b"harness-url-key"),
            url_ids: ignis_api::UrlIds::new(b"harness-url-key"),
            url_port: 9070,
            code_locks: Default::default(),
            engine,
            runtimes: Arc::new(vec!["python3.11".into(), "nodejs20.x".into()]),
            unproven_bodies: ignis_front::BodyBudget::new(
                128 << 20,
                96 << 20,
                std::time::Duration::from_secs(5),
            ),
        });
        Harness {
            router: ignis_api::router(api),
            _dir: dir,
        }
    }

    /// A request signed with the harness's credentials.
    pub async fn call(&self, method: Method, path_and_query: &str, body: &str) -> Answer {
        self.call_with(method, path_and_query, body, &[], true)
            .await
    }

    /// A request with extra headers, signed or not.
    pub async fn call_with(
        &self,
        method: Method,
        path_and_query: &str,
        body: &str,
        extra: &[(&str, &str)],
        signed: bool,
    ) -> Answer {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        for (k, v) in extra {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        if signed {
            for (k, v) in ignis_sigv4::sign(
                method.as_str(),
                path,
                query,
                &headers,
                body.as_bytes(),
                ACCESS_KEY,
                SECRET_KEY,
                REGION,
                "lambda",
                chrono::Utc::now(),
            ) {
                headers.insert(k, v);
            }
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path_and_query)
            .body(Body::from(body.to_string()))
            .unwrap();
        *request.headers_mut() = headers;
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        Answer {
            status,
            headers,
            json,
        }
    }
}

pub fn zip_b64() -> String {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        z.start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b"def handler(event, context):\n    return event\n")
            .unwrap();
        z.finish().unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(buf.into_inner())
}

/// A harness with one function, `f`, and its version 1.
pub async fn with_function() -> Harness {
    let h = Harness::new().await;
    let body = serde_json::json!({
        "FunctionName": "f", "Runtime": "python3.11", "Handler": "app.handler",
        "Role": "arn:aws:iam::000000000000:role/any", "Code": {"ZipFile": zip_b64()},
    });
    let a = h
        .call(Method::POST, "/2015-03-31/functions", &body.to_string())
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    let a = h
        .call(Method::POST, "/2015-03-31/functions/f/versions", "{}")
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    h
}

/// A role Lambda may assume, as CreateFunction requires.
async fn execution_role(identity: &ignis_identity::Identity, name: &str) {
    use ignis_identity::entities::{Kind, Role, key};
    let role = Role {
        name: name.into(),
        id: ignis_identity::ids::unique_id("AROA"),
        path: "/".into(),
        arn: format!("arn:aws:iam::{}:role/{name}", identity.account()),
        created: chrono::Utc::now(),
        trust: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.into(),
        description: None,
        max_session_seconds: 3600,
        tags: Vec::new(),
        inline: Default::default(),
        attached: Vec::new(),
    };
    identity
        .change(|state| {
            state.roles.insert(key(name), role);
            Ok::<_, ignis_identity::IdentityError>((
                (),
                vec![ignis_identity::Touched(Kind::Role, key(name))],
            ))
        })
        .await
        .unwrap();
}
