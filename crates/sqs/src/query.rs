//! The query protocol older SDKs send: a form (`Action=SendMessage&Version=2012-11-05&...`,
//! lists and maps flattened as `Attribute.1.Name`/`Attribute.1.Value`) read into the JSON
//! input the operations take, and their JSON output written as query XML
//! (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`).
//!
//! The JSON model has no query names, so the flattened names are written here once: each
//! list or map member's element name (and a map's key name).

use crate::error::SqsError;
use serde_json::{Map, Value};

/// The query namespace of responses.
const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// (JSON member, query element name, map key name for maps).
const MEMBERS: &[(&str, &str, Option<&str>)] = &[
    ("Attributes", "Attribute", Some("Name")),
    ("Tags", "Tag", Some("Key")),
    ("MessageAttributes", "MessageAttribute", Some("Name")),
    (
        "MessageSystemAttributes",
        "MessageSystemAttribute",
        Some("Name"),
    ),
    ("AttributeNames", "AttributeName", None),
    ("MessageAttributeNames", "MessageAttributeName", None),
    (
        "MessageSystemAttributeNames",
        "MessageSystemAttributeName",
        None,
    ),
    ("TagKeys", "TagKey", None),
    ("QueueUrls", "QueueUrl", None),
    ("queueUrls", "QueueUrl", None),
    ("Messages", "Message", None),
    ("Failed", "BatchResultErrorEntry", None),
];

/// Integer members (the form carries every value as text).
const INTEGERS: &[&str] = &[
    "MaxNumberOfMessages",
    "WaitTimeSeconds",
    "VisibilityTimeout",
    "DelaySeconds",
    "MaxResults",
];

/// The element names of a batch operation's entries, request and result.
fn entries(action: &str) -> Option<(&'static str, &'static str)> {
    Some(match action {
        "SendMessageBatch" => (
            "SendMessageBatchRequestEntry",
            "SendMessageBatchResultEntry",
        ),
        "DeleteMessageBatch" => (
            "DeleteMessageBatchRequestEntry",
            "DeleteMessageBatchResultEntry",
        ),
        "ChangeMessageVisibilityBatch" => (
            "ChangeMessageVisibilityBatchRequestEntry",
            "ChangeMessageVisibilityBatchResultEntry",
        ),
        _ => return None,
    })
}

/// The action and the JSON input of a query request's parameters.
pub fn input(pairs: &[(String, String)]) -> Result<(String, Value), SqsError> {
    let action = pairs
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
        .ok_or_else(|| SqsError::missing("Action"))?;
    let mut tree = Map::new();
    for (k, v) in pairs {
        if k == "Action" || k == "Version" {
            continue;
        }
        insert(&mut tree, &k.split('.').collect::<Vec<_>>(), v);
    }
    let entry = entries(&action).map(|(request, _)| request);
    let mut v = shape(Value::Object(tree), entry);
    // CreateQueue's tags are `tags` in JSON (TagQueue's are `Tags`).
    if action == "CreateQueue"
        && let Some(tags) = v.as_object_mut().and_then(|m| m.remove("Tags"))
    {
        v["tags"] = tags;
    }
    Ok((action, v))
}

/// Places `value` at a dotted path; numeric components become list positions (kept as
/// objects keyed by number until `shape` orders them).
fn insert(tree: &mut Map<String, Value>, path: &[&str], value: &str) {
    match path {
        [] => {}
        [last] => {
            tree.insert(last.to_string(), Value::String(value.to_string()));
        }
        [first, rest @ ..] => {
            let child = tree
                .entry(first.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = child {
                insert(m, rest, value);
            }
        }
    }
}

/// Turns the parsed form into the JSON shape: `X.1`, `X.2` lists into arrays under their
/// JSON member, maps into objects, integers into numbers.
fn shape(v: Value, entry: Option<&str>) -> Value {
    let Value::Object(m) = v else { return v };
    let mut out = Map::new();
    for (k, v) in m {
        let items = || -> Vec<Value> {
            let Value::Object(list) = &v else {
                return Vec::new();
            };
            let mut numbered: Vec<(u32, Value)> = list
                .iter()
                .filter_map(|(i, x)| Some((i.parse().ok()?, x.clone())))
                .collect();
            numbered.sort_by_key(|(i, _)| *i);
            numbered.into_iter().map(|(_, x)| x).collect()
        };
        if Some(k.as_str()) == entry {
            let list = items().into_iter().map(|x| shape(x, None)).collect();
            out.insert("Entries".into(), Value::Array(list));
        } else if let Some((member, _, key)) = MEMBERS
            .iter()
            .find(|(_, q, _)| *q == k)
            .filter(|_| v.is_object())
        {
            match key {
                Some(key) => {
                    let mut map = Map::new();
                    for item in items() {
                        let name = item.get(*key).and_then(Value::as_str).unwrap_or_default();
                        let value = item.get("Value").cloned().unwrap_or(Value::Null);
                        map.insert(name.to_string(), shape(value, None));
                    }
                    out.insert(member.to_string(), Value::Object(map));
                }
                None => {
                    out.insert(member.to_string(), Value::Array(items()));
                }
            }
        } else if INTEGERS.contains(&k.as_str()) {
            let n = v.as_str().and_then(|s| s.parse::<i64>().ok());
            out.insert(k, n.map_or(v, Value::from));
        } else {
            out.insert(k, shape(v, None));
        }
    }
    Value::Object(out)
}

/// A JSON output as the query protocol's XML response.
pub fn output(action: &str, value: &Value, request_id: &str) -> String {
    let mut xml = format!("<?xml version=\"1.0\"?><{action}Response xmlns=\"{NAMESPACE}\">");
    let result = entries(action).map(|(_, result)| result);
    if value.as_object().is_some_and(|m| !m.is_empty()) || result.is_some() {
        xml.push_str(&format!("<{action}Result>"));
        members(&mut xml, value, result);
        xml.push_str(&format!("</{action}Result>"));
    }
    xml.push_str(&format!(
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ));
    xml
}

fn members(xml: &mut String, value: &Value, result: Option<&str>) {
    let Some(m) = value.as_object() else {
        xml.push_str(&escape(&text(value)));
        return;
    };
    for (k, v) in m {
        let named = MEMBERS.iter().find(|(j, _, _)| j == k);
        match (v, named) {
            (Value::Array(list), _) => {
                let element = match (k.as_str(), named, result) {
                    ("Successful", _, Some(r)) => r,
                    (_, Some((_, q, _)), _) => q,
                    _ => k,
                };
                for item in list {
                    xml.push_str(&format!("<{element}>"));
                    members(xml, item, None);
                    xml.push_str(&format!("</{element}>"));
                }
            }
            (Value::Object(map), Some((_, element, Some(key)))) => {
                for (name, item) in map {
                    xml.push_str(&format!(
                        "<{element}><{key}>{}</{key}><Value>",
                        escape(name)
                    ));
                    members(xml, item, None);
                    xml.push_str(&format!("</Value></{element}>"));
                }
            }
            _ => {
                xml.push_str(&format!("<{k}>"));
                members(xml, v, None);
                xml.push_str(&format!("</{k}>"));
            }
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// An error as the query protocol's `ErrorResponse`.
pub fn error(e: &SqsError, request_id: &str) -> String {
    let fault = if e.sender_fault() {
        "Sender"
    } else {
        "Receiver"
    };
    format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{fault}</Type>\
         <Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId>\
         </ErrorResponse>",
        e.code(),
        escape(&e.message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn forms_become_the_json_input() {
        let (action, v) = input(&pairs(&[
            ("Action", "SendMessageBatch"),
            ("QueueUrl", "http://h/1/q"),
            ("SendMessageBatchRequestEntry.2.Id", "b"),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.DelaySeconds", "5"),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name",
                "k",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType",
                "String",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue",
                "v",
            ),
        ]))
        .unwrap();
        assert_eq!(action, "SendMessageBatch");
        assert_eq!(
            v,
            serde_json::json!({"QueueUrl": "http://h/1/q", "Entries": [
                {"Id": "a", "DelaySeconds": 5,
                 "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                {"Id": "b"}]})
        );
    }

    #[test]
    fn outputs_become_query_xml() {
        let v = serde_json::json!({"Attributes": {"A": "1"}, "QueueUrls": ["u<"]});
        assert_eq!(
            output("GetQueueAttributes", &v, "r"),
            format!(
                "<?xml version=\"1.0\"?><GetQueueAttributesResponse xmlns=\"{NAMESPACE}\">\
                 <GetQueueAttributesResult><Attribute><Name>A</Name><Value>1</Value></Attribute>\
                 <QueueUrl>u&lt;</QueueUrl></GetQueueAttributesResult><ResponseMetadata>\
                 <RequestId>r</RequestId></ResponseMetadata></GetQueueAttributesResponse>"
            )
        );
    }
}
