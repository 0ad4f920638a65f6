//! CloudWatch's three protocols, as botocore's model lists them (`smithy-rpc-v2-cbor`, `json`,
//! `query`): which one a request speaks, its input as a [`Value`], and the output or error in
//! the same protocol.
//!
//! - RPC v2 CBOR: `POST /service/GraniteServiceVersion20100801/operation/<Op>`,
//!   `Smithy-Protocol: rpc-v2-cbor`, CBOR bodies, timestamps as tag 1 (epoch seconds).
//! - JSON 1.0: `POST /`, `X-Amz-Target: GraniteServiceVersion20100801.<Op>`, timestamps as
//!   epoch seconds.
//! - Query: `Action=<Op>&Version=2010-08-01&…` form-encoded (or in the query string), lists as
//!   `.member.N`, answered in XML (`<OpResponse><OpResult>…`), timestamps in ISO 8601.
//!
//! The service is `awsQueryCompatible`: JSON and CBOR errors carry `x-amzn-query-error:
//! <code>;<Sender|Receiver>`, from which SDKs take the query protocol's error code.

use crate::error::CloudWatchError;
use crate::value::Value;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use std::collections::BTreeMap;

pub const TARGET_PREFIX: &str = "GraniteServiceVersion20100801.";
pub const CBOR_PATH: &str = "/service/GraniteServiceVersion20100801/operation/";
pub const XML_NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";
pub const CBOR_CONTENT_TYPE: &str = "application/cbor";
const SMITHY_PROTOCOL: &str = "smithy-protocol";
const QUERY_ERROR: &str = "x-amzn-query-error";

/// The protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Cbor,
    Json,
    Query,
}

impl Protocol {
    /// From the request's head: the CBOR path, else a JSON target, else the query protocol.
    pub fn of(parts: &http::request::Parts) -> Protocol {
        if parts.uri.path().starts_with(CBOR_PATH) {
            Protocol::Cbor
        } else if parts.headers.contains_key("x-amz-target") {
            Protocol::Json
        } else {
            Protocol::Query
        }
    }

    /// The operation and its input.
    pub fn read(
        self,
        parts: &http::request::Parts,
        body: &[u8],
    ) -> Result<(String, Value), CloudWatchError> {
        let malformed = |e: String| {
            CloudWatchError::InvalidParameterValue(format!("The request could not be read: {e}"))
        };
        match self {
            Protocol::Cbor => {
                let op = parts.uri.path()[CBOR_PATH.len()..].to_string();
                if body.is_empty() {
                    return Ok((op, Value::Struct(vec![])));
                }
                let v: ciborium::Value =
                    ciborium::from_reader(body).map_err(|e| malformed(e.to_string()))?;
                Ok((op, from_cbor(v)))
            }
            Protocol::Json => {
                let target = parts
                    .headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let op = target
                    .strip_prefix(TARGET_PREFIX)
                    .ok_or_else(|| CloudWatchError::UnknownOperation(target.to_string()))?;
                let body = if body.is_empty() { &b"{}"[..] } else { body };
                let v: serde_json::Value =
                    serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
                Ok((op.to_string(), from_json(v)))
            }
            Protocol::Query => {
                let form = if parts.method == http::Method::GET {
                    parts.uri.query().unwrap_or_default().as_bytes()
                } else {
                    body
                };
                from_form(form)
            }
        }
    }

    /// The response to `op` (`None`: an operation without output).
    pub fn respond(self, op: &str, output: Option<Value>, request_id: &str) -> Response {
        match self {
            Protocol::Cbor => {
                cbor_response(StatusCode::OK, output.unwrap_or(Value::Struct(vec![])))
            }
            Protocol::Json => {
                json_response(StatusCode::OK, output.unwrap_or(Value::Struct(vec![])))
            }
            Protocol::Query => {
                let mut xml = format!("<{op}Response xmlns=\"{XML_NAMESPACE}\">");
                if let Some(output) = output {
                    xml.push_str(&format!("<{op}Result>"));
                    write_xml_members(&mut xml, &output);
                    xml.push_str(&format!("</{op}Result>"));
                }
                xml.push_str(&format!(
                    "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{op}Response>",
                    escape(request_id)
                ));
                xml_response(StatusCode::OK, xml)
            }
        }
    }

    /// `error` in this protocol's form.
    pub fn error(self, error: &CloudWatchError, request_id: &str) -> Response {
        let message = error.to_string();
        let mut response = match self {
            Protocol::Query => {
                let xml = format!(
                    "<ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>{}</Type><Code>{}</Code>\
                     <Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
                    error.fault(),
                    error.code(),
                    escape(&message),
                    escape(request_id)
                );
                return xml_response(error.status(), xml);
            }
            Protocol::Json | Protocol::Cbor => {
                let body = Value::object([
                    ("__type", Value::str(error.type_name())),
                    ("message", Value::Str(message)),
                ]);
                if self == Protocol::Json {
                    json_response(error.status(), body)
                } else {
                    cbor_response(error.status(), body)
                }
            }
        };
        if let Ok(v) = HeaderValue::from_str(&format!("{};{}", error.code(), error.fault())) {
            response.headers_mut().insert(QUERY_ERROR, v);
        }
        response
    }
}

fn with_type(status: StatusCode, body: Vec<u8>, content_type: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json_response(status: StatusCode, v: Value) -> Response {
    with_type(
        status,
        to_json(v).to_string().into_bytes(),
        JSON_CONTENT_TYPE,
    )
}

fn cbor_response(status: StatusCode, v: Value) -> Response {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(&to_cbor(v), &mut bytes);
    let mut r = with_type(status, bytes, CBOR_CONTENT_TYPE);
    r.headers_mut()
        .insert(SMITHY_PROTOCOL, HeaderValue::from_static("rpc-v2-cbor"));
    r
}

fn xml_response(status: StatusCode, xml: String) -> Response {
    with_type(status, xml.into_bytes(), "text/xml")
}

fn from_json(v: serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Value::Str(s),
        serde_json::Value::Array(a) => Value::List(a.into_iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            Value::Struct(o.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

fn to_json(v: Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Int(i) => J::from(i),
        Value::Float(f) => J::from(f),
        Value::Time(ms) => J::from(ms as f64 / 1000.0),
        Value::Str(s) => J::String(s),
        Value::List(l) => J::Array(l.into_iter().map(to_json).collect()),
        Value::Struct(m) | Value::Map(m) => {
            J::Object(m.into_iter().map(|(k, v)| (k, to_json(v))).collect())
        }
    }
}

fn from_cbor(v: ciborium::Value) -> Value {
    use ciborium::Value as C;
    let number = |v: &C| match v {
        C::Integer(i) => i64::try_from(i128::from(*i)).ok().map(|i| i as f64),
        C::Float(f) => Some(*f),
        _ => None,
    };
    match v {
        C::Null => Value::Null,
        C::Bool(b) => Value::Bool(b),
        C::Integer(i) => Value::Int(i64::try_from(i128::from(i)).unwrap_or(i64::MAX)),
        C::Float(f) => Value::Float(f),
        C::Text(s) => Value::Str(s),
        C::Bytes(b) => Value::Str(String::from_utf8_lossy(&b).into_owned()),
        C::Tag(1, inner) => match number(&inner) {
            Some(secs) => Value::Time((secs * 1000.0).round() as i64),
            None => Value::Null,
        },
        C::Tag(_, inner) => from_cbor(*inner),
        C::Array(a) => Value::List(a.into_iter().map(from_cbor).collect()),
        C::Map(m) => Value::Struct(
            m.into_iter()
                .filter_map(|(k, v)| match k {
                    C::Text(k) => Some((k, from_cbor(v))),
                    _ => None,
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn to_cbor(v: Value) -> ciborium::Value {
    use ciborium::Value as C;
    match v {
        Value::Null => C::Null,
        Value::Bool(b) => C::Bool(b),
        Value::Int(i) => C::Integer(i.into()),
        Value::Float(f) => C::Float(f),
        Value::Time(ms) => C::Tag(1, Box::new(C::Float(ms as f64 / 1000.0))),
        Value::Str(s) => C::Text(s),
        Value::List(l) => C::Array(l.into_iter().map(to_cbor).collect()),
        Value::Struct(m) | Value::Map(m) => C::Map(
            m.into_iter()
                .map(|(k, v)| (C::Text(k), to_cbor(v)))
                .collect(),
        ),
    }
}

/// A form's members as a tree: `A.member.2.B=x` is the second item of the list `A`, whose
/// member `B` is `"x"`; `Action` is the operation (`Version` is dropped).
fn from_form(form: &[u8]) -> Result<(String, Value), CloudWatchError> {
    #[derive(Default)]
    struct Node {
        leaf: Option<String>,
        children: BTreeMap<String, Node>,
    }
    fn into_value(node: Node) -> Value {
        if let Some(leaf) = node.leaf {
            return Value::Str(leaf);
        }
        let is_list = node.children.len() == 1 && node.children.contains_key("member");
        if is_list {
            let members = node.children.into_values().next().unwrap_or_default();
            let mut items: Vec<(u64, Node)> = members
                .children
                .into_iter()
                .filter_map(|(k, n)| k.parse().ok().map(|i| (i, n)))
                .collect();
            items.sort_by_key(|(i, _)| *i);
            return Value::List(items.into_iter().map(|(_, n)| into_value(n)).collect());
        }
        Value::Struct(
            node.children
                .into_iter()
                .map(|(k, n)| (k, into_value(n)))
                .collect(),
        )
    }
    let mut root = Node::default();
    let mut action = None;
    for (key, value) in form_urlencoded::parse(form) {
        match key.as_ref() {
            "Action" => action = Some(value.into_owned()),
            "Version" => {}
            _ => {
                let mut node = &mut root;
                for part in key.split('.') {
                    node = node.children.entry(part.to_string()).or_default();
                }
                node.leaf = Some(value.into_owned());
            }
        }
    }
    let action = action.ok_or_else(|| {
        CloudWatchError::MissingParameter("The parameter Action is required.".into())
    })?;
    Ok((action, into_value(root)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn write_xml_members(out: &mut String, v: &Value) {
    if let Value::Struct(members) = v {
        for (k, v) in members {
            out.push_str(&format!("<{k}>"));
            write_xml(out, v);
            out.push_str(&format!("</{k}>"));
        }
    }
}

fn write_xml(out: &mut String, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&f.to_string()),
        Value::Str(s) => out.push_str(&escape(s)),
        Value::Time(ms) => {
            let t = chrono::DateTime::from_timestamp_millis(*ms).unwrap_or_default();
            out.push_str(&t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        }
        Value::List(items) => {
            for item in items {
                out.push_str("<member>");
                write_xml(out, item);
                out.push_str("</member>");
            }
        }
        Value::Struct(_) => write_xml_members(out, v),
        Value::Map(entries) => {
            for (k, v) in entries {
                out.push_str(&format!("<entry><key>{}</key><value>", escape(k)));
                write_xml(out, v);
                out.push_str("</value></entry>");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_form_becomes_a_tree_with_ordered_lists() {
        let form = b"Action=PutMetricData&Version=2010-08-01&Namespace=App\
            &MetricData.member.2.MetricName=B&MetricData.member.1.MetricName=A\
            &MetricData.member.1.Dimensions.member.1.Name=d&MetricData.member.1.Dimensions.member.1.Value=v";
        let (op, v) = from_form(form).unwrap();
        assert_eq!(op, "PutMetricData");
        let expected = Value::object([
            (
                "MetricData",
                Value::List(vec![
                    Value::object([
                        (
                            "Dimensions",
                            Value::List(vec![Value::object([
                                ("Name", Value::str("d")),
                                ("Value", Value::str("v")),
                            ])]),
                        ),
                        ("MetricName", Value::str("A")),
                    ]),
                    Value::object([("MetricName", Value::str("B"))]),
                ]),
            ),
            ("Namespace", Value::str("App")),
        ]);
        assert_eq!(v, expected);
    }

    #[test]
    fn cbor_and_json_carry_timestamps_as_epoch_seconds() {
        let v = Value::object([("T", Value::Time(1_500)), ("N", Value::Float(2.5))]);
        let mut bytes = Vec::new();
        ciborium::into_writer(&to_cbor(v.clone()), &mut bytes).unwrap();
        let back = from_cbor(ciborium::from_reader(&bytes[..]).unwrap());
        assert_eq!(back, v);
        assert_eq!(to_json(v).to_string(), r#"{"N":2.5,"T":1.5}"#);
    }

    async fn body(r: Response) -> (Response, Vec<u8>) {
        let (parts, body) = r.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
        (
            Response::from_parts(parts, axum::body::Body::empty()),
            bytes,
        )
    }

    #[tokio::test]
    async fn an_error_has_each_protocols_form() {
        let e = CloudWatchError::InvalidParameterValue("bad <value>".into());
        let (r, xml) = body(Protocol::Query.error(&e, "rid")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/xml");
        assert_eq!(
            String::from_utf8(xml).unwrap(),
            format!(
                "<ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>Sender</Type>\
                 <Code>InvalidParameterValue</Code><Message>bad &lt;value&gt;</Message></Error>\
                 <RequestId>rid</RequestId></ErrorResponse>"
            )
        );
        let (r, json) = body(Protocol::Json.error(&e, "rid")).await;
        assert_eq!(r.headers()[QUERY_ERROR], "InvalidParameterValue;Sender");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&json).unwrap(),
            serde_json::json!({"__type": "InvalidParameterValueException", "message": "bad <value>"})
        );
        let internal = CloudWatchError::Internal("x".into());
        let (r, cbor) = body(Protocol::Cbor.error(&internal, "rid")).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(r.headers()[SMITHY_PROTOCOL], "rpc-v2-cbor");
        assert_eq!(r.headers()[QUERY_ERROR], "InternalServiceError;Receiver");
        let v = from_cbor(ciborium::from_reader(&cbor[..]).unwrap());
        assert_eq!(
            v,
            Value::object([
                ("__type", Value::str("InternalServiceFault")),
                ("message", Value::str("x"))
            ])
        );
    }

    #[test]
    fn xml_writes_lists_maps_and_iso_times() {
        let v = Value::object([(
            "Datapoints",
            Value::List(vec![Value::object([
                ("Timestamp", Value::Time(0)),
                (
                    "ExtendedStatistics",
                    Value::Map(vec![("p99".into(), Value::Float(1.5))]),
                ),
            ])]),
        )]);
        let mut xml = String::new();
        write_xml_members(&mut xml, &v);
        assert_eq!(
            xml,
            "<Datapoints><member><Timestamp>1970-01-01T00:00:00.000Z</Timestamp>\
             <ExtendedStatistics><entry><key>p99</key><value>1.5</value></entry>\
             </ExtendedStatistics></member></Datapoints>"
        );
    }
}
