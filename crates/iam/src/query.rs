//! AWS's query protocol: a form-encoded request (`Action=…&Version=…&Member=…`, lists as
//! `Name.member.N`, structures in lists as `Name.member.N.Field`) and an XML response
//! (`<ActionResponse xmlns=…><ActionResult>…</ActionResult><ResponseMetadata>…`).

use crate::error::IamError;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::fmt::Write;

/// The parameters of one request.
pub struct Params(HashMap<String, String>);

impl Params {
    /// The query string's and the form body's parameters.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let mut map = HashMap::new();
        for part in [query.map(str::as_bytes).unwrap_or_default(), body] {
            for pair in part.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
                let (k, v) = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => (&pair[..i], &pair[i + 1..]),
                    None => (pair, &b""[..]),
                };
                map.insert(decode(k), decode(v));
            }
        }
        Params(map)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A required member: AWS's ValidationError when it is missing.
    pub fn required(&self, name: &str) -> Result<&str, IamError> {
        self.get(name).ok_or_else(|| {
            IamError::validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(name)
            ))
        })
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, IamError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                IamError::validation(format!("Invalid value for parameter {name}: {v}"))
            }),
        }
    }

    pub fn boolean(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// A list of strings (`Name.member.1`, `Name.member.2`, …).
    pub fn list(&self, name: &str) -> Vec<String> {
        (1..)
            .map_while(|i| self.get(&format!("{name}.member.{i}")).map(str::to_string))
            .collect()
    }

    /// A list of structures' member `field` (`Name.member.N.Field`).
    pub fn list_of(&self, name: &str, field: &str) -> Vec<String> {
        (1..)
            .map_while(|i| {
                self.get(&format!("{name}.member.{i}.{field}"))
                    .map(str::to_string)
            })
            .collect()
    }

    /// `Tags.member.N.Key`/`.Value`.
    pub fn tags(&self) -> Vec<(String, String)> {
        (1..)
            .map_while(|i| {
                let key = self.get(&format!("Tags.member.{i}.Key"))?;
                let value = self
                    .get(&format!("Tags.member.{i}.Value"))
                    .unwrap_or_default();
                Some((key.to_string(), value.to_string()))
            })
            .collect()
    }
}

fn decode(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// `userName` for `UserName`, as AWS's validation messages name members.
pub fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// An XML body being written.
#[derive(Default)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Xml {
        Xml::default()
    }

    /// `<name>text</name>`, the text escaped.
    pub fn el(&mut self, name: &str, text: &str) -> &mut Xml {
        let _ = write!(self.0, "<{name}>{}</{name}>", escape(text));
        self
    }

    /// Text, escaped (a member of a list of strings).
    pub fn text(&mut self, text: &str) -> &mut Xml {
        self.0.push_str(&escape(text));
        self
    }

    /// An optional element: written only when present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Xml {
        if let Some(t) = text {
            self.el(name, t);
        }
        self
    }

    pub fn date(&mut self, name: &str, at: &DateTime<Utc>) -> &mut Xml {
        self.el(name, &iso8601(at))
    }

    /// `<name>…</name>` around what `inner` writes.
    pub fn wrap(&mut self, name: &str, inner: impl FnOnce(&mut Xml)) -> &mut Xml {
        let _ = write!(self.0, "<{name}>");
        inner(self);
        let _ = write!(self.0, "</{name}>");
        self
    }

    /// A list: `<name><member>…</member>…</name>`.
    pub fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) -> &mut Xml {
        self.wrap(name, |x| {
            for item in items {
                x.wrap("member", |x| each(x, item));
            }
        })
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// ISO 8601 in UTC, as IAM writes dates (`2026-12-07T15:40:37Z`).
pub fn iso8601(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A policy document as IAM returns it: URL-encoded.
pub fn encode_policy(document: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(document, KEEP).to_string()
}

/// The envelope of a successful answer; `result` is `None` for an operation without output.
pub fn response(namespace: &str, action: &str, result: Option<Xml>, request_id: &str) -> String {
    let mut out = format!("<{action}Response xmlns=\"{namespace}\">");
    if let Some(r) = result {
        let _ = write!(out, "<{action}Result>{}</{action}Result>", r.into_string());
    }
    let _ = write!(
        out,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_members_lists_and_tags() {
        let p = Params::parse(
            Some("Action=CreateUser"),
            b"UserName=a%2Bb&Path=%2Fx%2F&Tags.member.1.Key=k&Tags.member.1.Value=v+w&TagKeys.member.1=a&TagKeys.member.2=b",
        );
        assert_eq!(p.get("Action"), Some("CreateUser"));
        assert_eq!(p.get("UserName"), Some("a+b"));
        assert_eq!(p.get("Path"), Some("/x/"));
        assert_eq!(p.tags(), vec![("k".to_string(), "v w".to_string())]);
        assert_eq!(p.list("TagKeys"), vec!["a", "b"]);
        assert!(p.required("Missing").is_err());
    }

    #[test]
    fn xml_and_policies() {
        let mut x = Xml::new();
        x.el("A", "<&>").list("L", ["1", "2"], |x, v| {
            x.el("V", v);
        });
        assert_eq!(
            x.into_string(),
            "<A>&lt;&amp;&gt;</A><L><member><V>1</V></member><member><V>2</V></member></L>"
        );
        assert_eq!(encode_policy(r#"{"a": 1}"#), "%7B%22a%22%3A%201%7D");
    }
}
