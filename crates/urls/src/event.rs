//! The event a function URL hands its function: payload format version 2.0, as Lambda builds
//! it (the schema API Gateway's HTTP APIs use, with the placeholders function URLs put where
//! API Gateway's features would be).
//!
//! Header names are lower-cased and repeated headers comma-joined; the `Cookie` header becomes
//! `cookies`; query parameters are decoded, repeated ones comma-joined; a body is base64 unless
//! its content type is text (`text/*`, JSON, XML, JavaScript); members with nothing to say
//! (`cookies`, `queryStringParameters`, `body`) are left out.

use serde::Serialize;
use std::collections::BTreeMap;

/// Who called, for `requestContext.authorizer.iam` (auth type `AWS_IAM`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IamCaller {
    pub access_key: String,
    pub account_id: String,
    pub caller_id: String,
    pub cognito_identity: Option<()>,
    pub principal_org_id: Option<()>,
    pub user_arn: String,
    pub user_id: String,
}

/// What the event is made from.
pub struct Input<'a> {
    pub url_id: &'a str,
    pub domain_name: &'a str,
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: Option<&'a str>,
    pub protocol: &'a str,
    pub headers: &'a http::HeaderMap,
    /// The `host` the function sees (the URL's domain and port, whichever form was used).
    pub host: &'a str,
    pub source_ip: &'a str,
    pub port: u16,
    pub request_id: &'a str,
    pub trace_id: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The function owner's account for a signed caller; `anonymous` otherwise.
    pub account_id: &'a str,
    pub caller: Option<IamCaller>,
    pub body: &'a [u8],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    version: &'static str,
    route_key: &'static str,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<String>,
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    query_string_parameters: BTreeMap<String, String>,
    request_context: RequestContext<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    account_id: &'a str,
    api_id: &'a str,
    /// Function URLs do not use it: always null.
    authentication: Option<()>,
    /// The caller for `AWS_IAM`; null otherwise.
    authorizer: Option<Authorizer>,
    domain_name: &'a str,
    domain_prefix: &'a str,
    http: Http<'a>,
    request_id: &'a str,
    route_key: &'static str,
    stage: &'static str,
    time: String,
    time_epoch: i64,
}

#[derive(Serialize)]
struct Authorizer {
    iam: IamCaller,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: &'a str,
    user_agent: &'a str,
}

/// Whether a body of this content type reaches the function as text.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/javascript" | "application/xml"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

/// The event's JSON.
pub fn build(input: &Input<'_>) -> Vec<u8> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, value) in input.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    headers.insert("host".into(), input.host.to_string());
    headers
        .entry("x-forwarded-for".into())
        .and_modify(|v| {
            v.push_str(", ");
            v.push_str(input.source_ip);
        })
        .or_insert_with(|| input.source_ip.to_string());
    headers.insert("x-forwarded-proto".into(), "http".into());
    headers.insert("x-forwarded-port".into(), input.port.to_string());
    headers.insert("x-amzn-trace-id".into(), input.trace_id.to_string());

    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in input
        .raw_query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let v = decode(v);
        query
            .entry(decode(k))
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }

    let content_type = input
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let (body, is_base64_encoded) = if input.body.is_empty() {
        (None, false)
    } else {
        match std::str::from_utf8(input.body) {
            Ok(text) if is_text(content_type) => (Some(text.to_string()), false),
            _ => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(input.body);
                (Some(encoded), true)
            }
        }
    };
    let user_agent = input
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let event = Event {
        version: "2.0",
        route_key: "$default",
        raw_path: input.raw_path,
        raw_query_string: input.raw_query.unwrap_or(""),
        cookies,
        headers,
        query_string_parameters: query,
        request_context: RequestContext {
            account_id: input.account_id,
            api_id: input.url_id,
            authentication: None,
            authorizer: input.caller.clone().map(|iam| Authorizer { iam }),
            domain_name: input.domain_name,
            domain_prefix: input.url_id,
            http: Http {
                method: input.method,
                path: input.raw_path,
                protocol: input.protocol,
                source_ip: input.source_ip,
                user_agent,
            },
            request_id: input.request_id,
            route_key: "$default",
            stage: "$default",
            time: input.now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            time_epoch: input.now.timestamp_millis(),
        },
        body,
        is_base64_encoded,
    };
    serde_json::to_vec(&event).expect("the event always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{Value, json};

    fn input<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> Input<'a> {
        Input {
            url_id: "abc",
            domain_name: "abc.lambda-url.us-east-1.localhost",
            method: "POST",
            raw_path: "/my/path",
            raw_query: Some("parameter1=value1&parameter1=value2&parameter2=value%20x"),
            protocol: "HTTP/1.1",
            headers,
            host: "abc.lambda-url.us-east-1.localhost:9000",
            source_ip: "127.0.0.1",
            port: 9000,
            request_id: "id",
            trace_id: "Root=1-00000000-000000000000000000000000",
            now: chrono::Utc
                .with_ymd_and_hms(2020, 3, 12, 19, 3, 58)
                .unwrap(),
            account_id: "anonymous",
            caller: None,
            body,
        }
    }

    #[test]
    fn the_event_has_the_documented_shape() {
        let mut h = http::HeaderMap::new();
        h.append("header2", "value1".parse().unwrap());
        h.append("header2", "value2".parse().unwrap());
        h.append("cookie", "cookie1=a; cookie2=b".parse().unwrap());
        h.append("content-type", "text/plain".parse().unwrap());
        h.append("user-agent", "agent".parse().unwrap());
        let e: Value = serde_json::from_slice(&build(&input(&h, b"Hello from client!"))).unwrap();
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["routeKey"], "$default");
        assert_eq!(e["cookies"], json!(["cookie1=a", "cookie2=b"]));
        assert_eq!(e["headers"]["header2"], "value1,value2");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(
            e["queryStringParameters"],
            json!({"parameter1": "value1,value2", "parameter2": "value x"})
        );
        let rc = &e["requestContext"];
        assert_eq!(rc["time"], "12/Mar/2020:19:03:58 +0000");
        assert_eq!(rc["timeEpoch"], 1584039838000i64);
        assert_eq!(rc["http"]["userAgent"], "agent");
        assert_eq!(rc["stage"], "$default");
        assert!(rc["authorizer"].is_null() && rc["authentication"].is_null());
        assert_eq!(e["body"], "Hello from client!");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_are_base64_and_empty_ones_absent() {
        let mut h = http::HeaderMap::new();
        h.append("content-type", "application/octet-stream".parse().unwrap());
        let e: Value = serde_json::from_slice(&build(&input(&h, &[0xff, 0, 1]))).unwrap();
        assert_eq!(
            (e["body"].as_str(), e["isBase64Encoded"].as_bool()),
            (Some("/wAB"), Some(true))
        );
        let e: Value = serde_json::from_slice(&build(&input(&h, b""))).unwrap();
        assert!(e.get("body").is_none());
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn text_types() {
        for t in [
            "text/html; charset=utf-8",
            "application/json",
            "application/ld+json",
            "image/svg+xml",
        ] {
            assert!(is_text(Some(t)), "{t}");
        }
        for t in [
            "application/octet-stream",
            "image/png",
            "multipart/form-data; boundary=x",
        ] {
            assert!(!is_text(Some(t)), "{t}");
        }
        assert!(!is_text(None));
    }
}
