//! A function's answer as the HTTP response a function URL sends, and the URL's own errors,
//! as Lambda sends them.
//!
//! Buffered (`InvokeMode: BUFFERED`): a result that is a JSON object with a `statusCode` is a
//! structured response (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`,
//! `isBase64Encoded`); any other result is a 200 whose body is the result (a JSON string's
//! text, anything else its JSON without whitespace), `content-type: application/json`.
//!
//! Streamed (`RESPONSE_STREAM`): a response whose content type is
//! `application/vnd.awslambda.http-integration-response` begins with a JSON prelude
//! (`statusCode`, `headers`, `cookies`) and eight zero bytes; the rest is the body, sent as it
//! arrives. Any other streamed response is a 200 of that content type.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use ignis_engine::{InvokeResult, Streaming};
use ignis_wire::LambdaApiError;
use serde_json::{Map, Value};

/// The content type that announces a prelude.
pub const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";
/// What ends a prelude.
const DELIMITER: [u8; 8] = [0; 8];
/// Longest prelude read before the response is given up as malformed.
const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// An error the URL answers itself: `{"Message": …}` with `x-amzn-ErrorType`.
pub fn error(status: StatusCode, error_type: &str, message: Option<&str>) -> Response {
    let body = serde_json::json!({ "Message": message }).to_string();
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(error_type) {
        r.headers_mut().insert("x-amzn-ErrorType", v);
    }
    r
}

/// A URL id no function has (or a function gone): Lambda's `403 {"Message":null}`.
pub fn unknown() -> Response {
    error(StatusCode::FORBIDDEN, "AccessDeniedException", None)
}

/// A caller the policies do not allow.
pub fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "AccessDeniedException",
        Some("Forbidden"),
    )
}

/// The function failed (its error, a timeout, a crash, a response too large): 502.
pub fn bad_gateway() -> Response {
    (
        StatusCode::BAD_GATEWAY,
        [(header::CONTENT_TYPE, "application/json")],
        "Internal Server Error",
    )
        .into_response()
}

/// A request body past the invoke payload limit: 413.
pub fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        Some(&format!(
            "Request must be smaller than {} bytes for the InvokeFunction operation",
            ignis_model::limits::MAX_SYNC_PAYLOAD_BYTES
        )),
    )
}

/// A throttled invocation: 429.
pub fn throttled() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequestsException",
        Some("Rate Exceeded."),
    )
}

/// What an engine refusal becomes on a URL.
pub fn refused(e: LambdaApiError) -> Response {
    match e {
        LambdaApiError::TooManyRequests { .. } => throttled(),
        LambdaApiError::RequestEntityTooLarge(_) | LambdaApiError::RequestTooLarge(_) => {
            too_large()
        }
        LambdaApiError::ResourceNotFound(_) => unknown(),
        other => {
            tracing::warn!(error = %other, "a function URL's invocation was refused");
            bad_gateway()
        }
    }
}

/// A buffered invocation's result as the response.
pub fn buffered(result: &InvokeResult) -> Response {
    if result.function_error.is_some() {
        return bad_gateway();
    }
    infer(&result.payload).unwrap_or_else(|| {
        tracing::debug!("a function URL's function returned a malformed response");
        bad_gateway()
    })
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Lambda's inference; `None` for a structured response it cannot send.
fn infer(payload: &[u8]) -> Option<Response> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Object(m)) if m.contains_key("statusCode") => structured(&m),
        Ok(Value::String(s)) => Some(json_response(StatusCode::OK, s)),
        Ok(_) => Some(json_response(StatusCode::OK, minified(payload))),
        Err(_) => Some(json_response(StatusCode::OK, payload.to_vec())),
    }
}

/// JSON text without the whitespace between its tokens (members stay in their order).
fn minified(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

fn status_of(v: &Value) -> Option<StatusCode> {
    let code = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    StatusCode::from_u16(u16::try_from(code).ok()?).ok()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Adds a response's `headers` (replacing), `multiValueHeaders` (appending) and `cookies`
/// (one `set-cookie` each).
fn add_headers(out: &mut HeaderMap, m: &Map<String, Value>) -> Option<()> {
    let value = |v: &Value| HeaderValue::from_str(&text_of(v)).ok();
    if let Some(Value::Object(h)) = m.get("headers") {
        for (k, v) in h {
            out.insert(HeaderName::try_from(k.as_str()).ok()?, value(v)?);
        }
    }
    if let Some(Value::Object(h)) = m.get("multiValueHeaders") {
        for (k, vs) in h {
            let name = HeaderName::try_from(k.as_str()).ok()?;
            if let Value::Array(vs) = vs {
                out.remove(&name);
                for v in vs {
                    out.append(name.clone(), value(v)?);
                }
            }
        }
    }
    if let Some(Value::Array(cookies)) = m.get("cookies") {
        for c in cookies {
            out.append(header::SET_COOKIE, value(c)?);
        }
    }
    Some(())
}

fn structured(m: &Map<String, Value>) -> Option<Response> {
    let status = status_of(&m["statusCode"])?;
    let body = match m.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if m.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).ok()?
        }
        Some(v) => text_of(v).into_bytes(),
    };
    let mut r = json_response(status, body);
    add_headers(r.headers_mut(), m)?;
    Some(r)
}

/// A streamed invocation's response: its head once the runtime starts answering (or 502 if it
/// fails first), then its body as it arrives.
pub async fn streamed(s: Streaming) -> Response {
    let Streaming {
        content_type,
        mut chunks,
        mut end,
    } = s;
    let content_type = tokio::select! {
        biased;
        ct = content_type => ct.ok().flatten(),
        ended = &mut end => return match ended {
            Ok(Ok(result)) => buffered(&result),
            Ok(Err(e)) => refused(e),
            Err(_) => bad_gateway(),
        },
    };
    let mut head = Response::new(());
    let mut end = Some(end);
    let first;
    if content_type.as_deref() == Some(HTTP_INTEGRATION) {
        let mut prelude = BytesMut::new();
        let at = loop {
            if let Some(at) = prelude
                .windows(DELIMITER.len())
                .position(|w| w == DELIMITER)
            {
                break at;
            }
            if prelude.len() > MAX_PRELUDE_BYTES {
                return bad_gateway();
            }
            match chunks.recv().await {
                Some(chunk) => prelude.extend_from_slice(&chunk),
                None => return bad_gateway(),
            }
        };
        let rest = prelude.split_off(at).split_off(DELIMITER.len());
        let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(&prelude) else {
            return bad_gateway();
        };
        *head.status_mut() = m
            .get("statusCode")
            .map_or(Some(StatusCode::OK), status_of)
            .unwrap_or(StatusCode::OK);
        if add_headers(head.headers_mut(), &m).is_none() {
            return bad_gateway();
        }
        first = rest.freeze();
    } else {
        // The head waits for the first chunk, so that a function failing before it writes
        // anything is a 502, as a buffered one is.
        match chunks.recv().await {
            Some(chunk) => first = chunk,
            None => match end.take().expect("the end is still to come").await {
                Ok(Ok(result)) if result.function_error.is_none() => first = result.payload,
                Ok(Ok(_)) | Err(_) => return bad_gateway(),
                Ok(Err(e)) => return refused(e),
            },
        }
        let ct = content_type
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
            .unwrap_or(HeaderValue::from_static("application/octet-stream"));
        head.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    let body = futures_util::stream::unfold(
        (Some(first), chunks, end),
        |(first, mut chunks, end)| async move {
            if let Some(first) = first.filter(|b| !b.is_empty()) {
                return Some((Ok(first), (None, chunks, end)));
            }
            if let Some(chunk) = chunks.recv().await {
                return Some((Ok(chunk), (None, chunks, end)));
            }
            // The body has ended: a function that did not stream answered whole (its payload
            // is the body); one that failed midway cuts the response short.
            match end?.await {
                Ok(Ok(r)) if r.function_error.is_none() && !r.payload.is_empty() => {
                    Some((Ok(r.payload), (None, chunks, None)))
                }
                Ok(Ok(r)) if r.function_error.is_none() => None,
                _ => Some((
                    Err(std::io::Error::other("the function failed while streaming")),
                    (None, chunks, None),
                )),
            }
        },
    );
    let (parts, ()) = head.into_parts();
    Response::from_parts(parts, Body::from_stream(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        String::from_utf8(b.to_vec()).unwrap()
    }

    async fn inferred(payload: &str) -> (u16, String, HeaderMap) {
        let r = infer(payload.as_bytes()).unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        (status, body(r).await, headers)
    }

    #[tokio::test]
    async fn results_without_a_status_are_200_json() {
        // As AWS answers them (recorded): a string's text, other JSON without whitespace.
        for (payload, expected) in [
            (r#""hello""#, "hello"),
            (r#"{"hello": "world"}"#, r#"{"hello":"world"}"#),
            (r#"["hello", 3, true]"#, r#"["hello",3,true]"#),
            ("3", "3"),
            ("3.1", "3.1"),
            ("true", "true"),
            (r#"{"b": "x y", "a": 1}"#, r#"{"b":"x y","a":1}"#),
        ] {
            let (status, text, h) = inferred(payload).await;
            assert_eq!((status, text.as_str()), (200, expected), "{payload}");
            assert_eq!(h[header::CONTENT_TYPE], "application/json");
        }
    }

    #[tokio::test]
    async fn structured_responses_map_every_member() {
        let (status, text, h) = inferred(
            r#"{"statusCode": 201, "headers": {"Content-Type": "text/plain", "X-N": 1},
                "multiValueHeaders": {"x-m": ["a", "b"]},
                "cookies": ["c1=v1; Max-Age=1", "c2=v2"], "body": "aGk=", "isBase64Encoded": true}"#,
        )
        .await;
        assert_eq!((status, text.as_str()), (201, "hi"));
        assert_eq!(h[header::CONTENT_TYPE], "text/plain");
        assert_eq!(h["x-n"], "1");
        assert_eq!(h.get_all("x-m").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            h.get_all(header::SET_COOKIE).iter().collect::<Vec<_>>(),
            ["c1=v1; Max-Age=1", "c2=v2"]
        );
        let (status, text, h) = inferred(r#"{"statusCode": "418", "body": "teapot"}"#).await;
        assert_eq!((status, text.as_str()), (418, "teapot"));
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        assert!(infer(br#"{"statusCode": "x"}"#).is_none());
    }
}
