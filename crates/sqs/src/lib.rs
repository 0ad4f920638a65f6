//! The SQS service on the node's port: AWS's JSON 1.0 protocol (`POST /`,
//! `X-Amz-Target: AmazonSQS.<Operation>`, `application/x-amz-json-1.0`), exact to botocore's
//! `sqs` model, with durable queues.
//!
//! It owns the wire (`error.rs`, one module per resource: `queues.rs`, `messages.rs`), queue
//! attributes (`attributes.rs`), the digests the SDKs check (`md5.rs`), the queues in memory
//! (`state.rs`) and their own SQLite database (`db.rs`). It does not own identity (requests
//! are signed with the node's keys, as for the other services) or invoking functions.
//!
//! Accepted means durable: every request's changes are committed to `sqs.db` before it is
//! answered, so a crash loses no acknowledged message and a received message stays hidden
//! until its timeout across restarts. Changes are made to the queues in memory under the one
//! lock that orders them, and handed, in that order and still under the lock, to one writer
//! (`committer.rs`) that commits the changes of concurrent requests together, one transaction
//! and one fsync for many (group commit); each request is answered when its transaction has
//! committed, and a read is answered once what it saw has (`Sqs::settled`), so no answer
//! shows a change that a failed transaction lost (the queues are then reloaded). Long polls
//! wait outside the lock, woken when their queue gets a message.

mod attributes;
mod authorize;
mod committer;
mod db;
mod error;
mod md5;
mod messages;
mod query;
mod queues;
mod state;

pub use error::{Kind, SqsError};

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use ignis_front::{BodyBudget, signed};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// JSON 1.0's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The `X-Amz-Target` prefix of this API's operations.
pub const TARGET_PREFIX: &str = "AmazonSQS.";
/// The header naming a JSON 1.0 request's operation.
const TARGET_HEADER: &str = "x-amz-target";
/// The header carrying the query protocol's error code (`<Code>;<Sender|Receiver>`).
pub const QUERY_ERROR_HEADER: &str = "x-amzn-query-error";
/// The largest request body read: a batch holds at most 256 KiB of messages, which JSON's
/// escaping or base64 binary attributes can make up to four times longer.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;
/// How long a request body may pause before it is given up.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests' changes waiting for the writer at most; more wait for room (with the lock).
pub const COMMIT_QUEUE: usize = 1024;
/// Requests' changes in one transaction at most.
pub const COMMIT_BATCH: usize = 256;

/// The node's bounds on queues (AWS's, by default).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Messages in flight in one standard queue.
    pub inflight_standard: usize,
    /// Messages in flight in one FIFO queue.
    pub inflight_fifo: usize,
    /// Long polls waiting on one queue at once.
    pub waiters_per_queue: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            inflight_standard: 120_000,
            inflight_fifo: 20_000,
            waiters_per_queue: 1_000,
        }
    }
}

/// The SQS service of one node.
pub struct Sqs {
    pub(crate) state: tokio::sync::Mutex<state::State>,
    db: Arc<db::Db>,
    committer: committer::Committer<Vec<db::Write>>,
    pub(crate) region: String,
    pub(crate) account: String,
    pub(crate) limits: Limits,
    identity: ignis_identity::Identity,
    bodies: BodyBudget,
}

/// The parts of a request an operation needs beside its input.
pub(crate) struct Context {
    /// `http://<host>` as the client addressed the node.
    pub origin: String,
    /// The signer's access key id (SenderId).
    pub sender: String,
    /// Who signed it, and from where (what the request is authorised for).
    pub principal: ignis_identity::Principal,
    pub source_ip: std::net::IpAddr,
}

impl Sqs {
    /// Opens (creating) the queues' database at `path` and loads it.
    pub async fn open(
        path: &Path,
        region: String,
        account: String,
        identity: ignis_identity::Identity,
        bodies: BodyBudget,
        limits: Limits,
    ) -> Result<Sqs, SqsError> {
        let db = Arc::new(db::Db::open(path).await.map_err(SqsError::internal)?);
        let state = db.load(now_ms()).await.map_err(SqsError::internal)?;
        let writer = db.clone();
        let committer = committer::Committer::spawn(COMMIT_QUEUE, COMMIT_BATCH, move |batch| {
            let db = writer.clone();
            async move { db.write(&batch).await.map_err(|e| e.to_string()) }
        });
        Ok(Sqs {
            state: tokio::sync::Mutex::new(state),
            db,
            committer,
            region,
            account,
            limits,
            identity,
            bodies,
        })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    pub(crate) fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account)
    }

    /// Runs `f` on the state and answers once what it changed is committed (with the
    /// changes of other requests, by the writer); if that transaction fails, the change is
    /// undone by reloading the state from the database.
    pub(crate) async fn change<T>(
        &self,
        f: impl FnOnce(&mut state::State, i64) -> Result<T, SqsError>,
    ) -> Result<T, SqsError> {
        let (result, woken, pending) = {
            let mut state = self.state.lock().await;
            let now = now_ms();
            let result = f(&mut state, now);
            let touched: std::collections::HashSet<&str> = state
                .dirty
                .messages
                .iter()
                .map(|(q, _)| q.as_str())
                .collect();
            let woken: Vec<Arc<state::Signal>> = state
                .queues
                .values()
                .filter(|q| touched.contains(q.id.as_str()))
                .map(|q| q.signal.clone())
                .collect();
            let writes = db::collect(&mut state);
            // Under the lock: the writer gets changes in the order they were made.
            let pending = self.committer.submit(state.epoch, writes).await;
            (result, woken, pending)
        };
        self.committed(pending).await?;
        for s in woken {
            s.notify.notify_waiters();
        }
        result
    }

    /// Waits until every change made so far is committed: a read answers after it, so that
    /// it shows nothing a failed transaction may still lose.
    pub(crate) async fn settled(&self) -> Result<(), SqsError> {
        let pending = {
            let state = self.state.lock().await;
            self.committer.submit(state.epoch, Vec::new()).await
        };
        self.committed(pending).await
    }

    /// The answer of the writer; after a failed transaction, the state is reloaded (once,
    /// by the first to hear) and made of the writer's next epoch.
    async fn committed(&self, pending: committer::Pending) -> Result<(), SqsError> {
        let Err(e) = pending.committed().await else {
            return Ok(());
        };
        let mut state = self.state.lock().await;
        let epoch = self.committer.epoch();
        if state.epoch != epoch {
            let mut fresh = self.db.load(now_ms()).await.map_err(SqsError::internal)?;
            fresh.epoch = epoch;
            *state = fresh;
        }
        Err(SqsError::internal(e))
    }

    /// Deletes messages past their queues' retention and forgets old deduplication ids.
    pub async fn sweep(&self) -> Result<(), SqsError> {
        self.change(|state, now| {
            let mut gone = Vec::new();
            for q in state.queues.values_mut() {
                for seq in q.expired(now) {
                    q.remove(seq);
                    gone.push((q.id.clone(), seq));
                }
                for key in q.expire_dedup(now) {
                    state.dirty.dedup.insert((q.id.clone(), key));
                }
            }
            state.dirty.messages.extend(gone);
            Ok(())
        })
        .await
    }

    /// The service's router.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().fallback(move |req: Request| {
            let sqs = self.clone();
            async move {
                let request_id = uuid::Uuid::new_v4().to_string();
                // JSON 1.0 names its operation in a header; the query protocol in its form.
                let json = req.headers().contains_key(TARGET_HEADER);
                let mut response = match sqs.serve(req, json, &request_id).await {
                    Ok(r) => r,
                    Err(e) if json => e.into_response(),
                    Err(e) => {
                        let status = e.status();
                        xml(status, query::error(&e, &request_id))
                    }
                };
                if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert("x-amzn-requestid", v);
                }
                response
            }
        })
    }

    async fn serve(&self, req: Request, json: bool, id: &str) -> Result<Response, SqsError> {
        let (parts, signed) = self.authenticate(req).await?;
        let body = signed.body;
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        let cx = Context {
            origin: format!("http://{host}"),
            sender: signed.key_id,
            principal: signed.principal,
            source_ip: signed.source_ip,
        };
        if !json {
            let mut pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
                    .map_err(|e| SqsError::new(Kind::Serialization, e.to_string()))?;
            pairs.extend(
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
                    .map_err(|e| SqsError::new(Kind::Serialization, e.to_string()))?,
            );
            let (action, mut input) = query::input(&pairs)?;
            // A queue's own URL may be where the request was sent.
            let path = parts.uri.path().trim_matches('/');
            if input.get("QueueUrl").is_none() && path.contains('/') {
                input["QueueUrl"] = Value::String(format!("{}/{path}", cx.origin));
            }
            let output = self.operation(&action, &input, &cx).await?;
            return Ok(xml(
                http::StatusCode::OK,
                query::output(&action, &output, id),
            ));
        }
        let target = parts
            .headers
            .get(TARGET_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
            return Err(SqsError::new(
                Kind::InvalidAction,
                "The action or operation requested is invalid. Verify that the action is typed \
                 correctly.",
            ));
        };
        let input: Value = if body.is_empty() {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| SqsError::new(Kind::Serialization, e.to_string()))?
        };
        let output = self.operation(operation, &input, &cx).await?;
        let mut r = output.to_string().into_response();
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(CONTENT_TYPE),
        );
        Ok(r)
    }

    async fn operation(&self, op: &str, input: &Value, cx: &Context) -> Result<Value, SqsError> {
        self.authorize(op, input, cx)?;
        let answer = self.dispatch(op, input, cx).await;
        // Reads answer once what they saw is committed (changes answer after their own).
        if matches!(
            op,
            "GetQueueUrl"
                | "ListQueues"
                | "GetQueueAttributes"
                | "ListQueueTags"
                | "ListDeadLetterSourceQueues"
        ) {
            self.settled().await?;
        }
        answer
    }

    async fn dispatch(&self, op: &str, input: &Value, cx: &Context) -> Result<Value, SqsError> {
        match op {
            "CreateQueue" => queues::create(self, input, cx).await,
            "DeleteQueue" => queues::delete(self, input).await,
            "GetQueueUrl" => queues::url(self, input, cx).await,
            "ListQueues" => queues::list(self, input, cx).await,
            "GetQueueAttributes" => queues::get_attributes(self, input).await,
            "SetQueueAttributes" => queues::set_attributes(self, input).await,
            "PurgeQueue" => queues::purge(self, input).await,
            "TagQueue" => queues::tag(self, input).await,
            "UntagQueue" => queues::untag(self, input).await,
            "ListQueueTags" => queues::list_tags(self, input).await,
            "ListDeadLetterSourceQueues" => queues::dead_letter_sources(self, input, cx).await,
            "SendMessage" => messages::send(self, input, cx).await,
            "SendMessageBatch" => messages::send_batch(self, input, cx).await,
            "ReceiveMessage" => messages::receive(self, input).await,
            "DeleteMessage" => messages::delete(self, input).await,
            "DeleteMessageBatch" => messages::delete_batch(self, input).await,
            "ChangeMessageVisibility" => messages::change_visibility(self, input).await,
            "ChangeMessageVisibilityBatch" => messages::change_visibility_batch(self, input).await,
            _ => Err(SqsError::new(
                Kind::UnsupportedOperation,
                format!("{op} is not supported by Ignis."),
            )),
        }
    }

    /// Reads the body within its bounds and checks the signature on it; returns the request's
    /// head and the proven request (each operation is authorised for its caller).
    async fn authenticate(
        &self,
        req: Request,
    ) -> Result<(http::request::Parts, ignis_identity::Authenticated), SqsError> {
        let (parts, body) = req.into_parts();
        let expected = ignis_sigv4::Expected {
            service: "sqs",
            region: Some(&self.region),
        };
        let bounds = signed::Bounds {
            max_bytes: MAX_REQUEST_BYTES,
            idle: BODY_IDLE_TIMEOUT,
            unproven: &self.bodies,
        };
        let signed = self
            .identity
            .authenticate(&parts, body, expected, bounds)
            .await
            .map_err(auth_error)?;
        Ok((parts, signed))
    }
}

/// A query protocol (XML) response.
fn xml(status: http::StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    r
}

fn body_error(e: ignis_front::BodyError) -> SqsError {
    use ignis_front::BodyError;
    match e {
        BodyError::TooLarge { limit } => SqsError::new(
            Kind::InvalidParameterValue,
            format!("The request body must be at most {limit} bytes."),
        ),
        BodyError::Busy => SqsError::new(Kind::OverLimit, "Too many requests are being read."),
        BodyError::Stalled | BodyError::Broken(_) => SqsError::new(
            Kind::Serialization,
            "The request body could not be read completely.",
        ),
    }
}

fn auth_error(e: signed::AuthError) -> SqsError {
    let message = e.to_string();
    match e {
        signed::AuthError::Signature(e) => SqsError::new(Kind::Auth(e.aws_error_type()), message),
        signed::AuthError::InvalidToken => {
            SqsError::new(Kind::Auth("InvalidClientTokenId"), message)
        }
        signed::AuthError::ExpiredToken => SqsError::new(Kind::Auth("ExpiredToken"), message),
        signed::AuthError::Body(e) => body_error(e),
    }
}

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn service(dir: &Path) -> Sqs {
        let store = ignis_store::Store::open(&dir.join("metadata.db"), "node")
            .await
            .unwrap();
        let root = ignis_identity::RootKey {
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
        };
        let identity = ignis_identity::Identity::open(
            store,
            "000000000000",
            root,
            ignis_identity::IamMode::Enforce,
        )
        .await
        .unwrap();
        let bodies = BodyBudget::new(1 << 20, 1 << 20, Duration::from_secs(1));
        let region = "us-east-1".to_owned();
        Sqs::open(
            &dir.join("sqs.db"),
            region,
            "000000000000".into(),
            identity,
            bodies,
            Limits::default(),
        )
        .await
        .unwrap()
    }

    fn cx() -> Context {
        Context {
            origin: "http://localhost".into(),
            sender: "AKIDTEST".into(),
            principal: ignis_identity::Principal::Root {
                account: "000000000000".into(),
            },
            source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
        }
    }

    async fn visible(sqs: &Sqs, url: &str) -> String {
        let input = json!({"QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages"]});
        let out = sqs
            .operation("GetQueueAttributes", &input, &cx())
            .await
            .unwrap();
        out["Attributes"]["ApproximateNumberOfMessages"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn a_failed_transaction_leaves_no_message_to_see() {
        let dir = tempfile::tempdir().unwrap();
        let sqs = Arc::new(service(dir.path()).await);
        let created = sqs
            .operation("CreateQueue", &json!({"QueueName": "q"}), &cx())
            .await
            .unwrap();
        let url = created["QueueUrl"].as_str().unwrap().to_owned();
        // A second connection makes the database refuse new messages.
        let other =
            sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("sqs.db").display()))
                .await
                .unwrap();
        sqlx::query(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .execute(&other)
        .await
        .unwrap();
        let mut sends = Vec::new();
        for i in 0..20 {
            let (sqs, url) = (sqs.clone(), url.clone());
            sends.push(tokio::spawn(async move {
                let input = json!({"QueueUrl": url, "MessageBody": format!("m{i}")});
                sqs.operation("SendMessage", &input, &cx()).await
            }));
        }
        for s in sends {
            let e = s.await.unwrap().unwrap_err();
            assert_eq!(e.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
        }
        // None of them shows: not in the counts, not to a receive.
        assert_eq!(visible(&sqs, &url).await, "0");
        let input = json!({"QueueUrl": url, "MaxNumberOfMessages": 10});
        let got = sqs
            .operation("ReceiveMessage", &input, &cx())
            .await
            .unwrap();
        assert!(got.get("Messages").is_none(), "{got}");
        // Once the database takes them again, sends commit and are received.
        sqlx::query("DROP TRIGGER refuse")
            .execute(&other)
            .await
            .unwrap();
        let input = json!({"QueueUrl": url, "MessageBody": "after"});
        sqs.operation("SendMessage", &input, &cx()).await.unwrap();
        assert_eq!(visible(&sqs, &url).await, "1");
        let input = json!({"QueueUrl": url, "MaxNumberOfMessages": 10});
        let got = sqs
            .operation("ReceiveMessage", &input, &cx())
            .await
            .unwrap();
        assert_eq!(got["Messages"][0]["Body"], "after");
    }
}
