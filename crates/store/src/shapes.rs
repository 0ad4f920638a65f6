//! Stored shapes, versioned. A configuration, layer version or object record is stored as its JSON with a
//! `"schema"` member; reading one upgrades it step by step to the current schema before it is
//! decoded, so data written by any earlier release stays readable:
//!
//! - a member added to a stored type carries `#[serde(default)]` (a record without it decodes
//!   with the default), and needs no new schema;
//! - a change that is not additive (a rename, a new structure, a changed meaning) bumps the
//!   schema and adds the step that rewrites older records;
//! - a record of a newer schema than this release knows is refused as unreadable rather than
//!   decoded with members lost.
//!
//! Records are upgraded on read and written back at the current schema with their next write.

use crate::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One kind of stored record and the steps that bring its older schemas to the current one.
pub(crate) struct Shape {
    /// `upgrades[i]` rewrites a record of schema `i + 1` into schema `i + 2`.
    upgrades: &'static [fn(&mut Map<String, Value>)],
}

/// Records written before schemas were stored are schema 1.
const FIRST: u64 = 1;
const SCHEMA: &str = "schema";

/// A version's configuration (`ignis_model::FunctionConfig`). Schema 2 is schema 1 with its
/// schema recorded.
pub(crate) const FUNCTION_CONFIG: Shape = Shape {
    upgrades: &[|_| {}],
};

/// A layer version (`ignis_model::layer::LayerVersion`).
pub(crate) const LAYER_VERSION: Shape = Shape {
    upgrades: &[|_| {}],
};

/// An object's metadata (`crate::ObjectRecord`).
pub(crate) const OBJECT: Shape = Shape { upgrades: &[] };

/// An in-progress multipart upload (`crate::UploadRecord`).
pub(crate) const UPLOAD: Shape = Shape { upgrades: &[] };

/// One uploaded part (`crate::PartRecord`).
pub(crate) const PART: Shape = Shape { upgrades: &[] };

/// A function URL's configuration (`ignis_model::url::FunctionUrl`).
pub(crate) const FUNCTION_URL: Shape = Shape { upgrades: &[] };

/// An asynchronous invocation configuration (`ignis_model::invoke_config::EventInvokeConfig`).
pub(crate) const INVOKE_CONFIG: Shape = Shape { upgrades: &[] };

impl Shape {
    fn current(&self) -> u64 {
        FIRST + self.upgrades.len() as u64
    }

    pub(crate) fn encode<T: Serialize>(&self, value: &T) -> String {
        let mut v = serde_json::to_value(value).expect("stored shapes always serialise");
        if let Value::Object(m) = &mut v {
            m.insert(SCHEMA.into(), Value::from(self.current()));
        }
        v.to_string()
    }

    pub(crate) fn decode<T: DeserializeOwned>(
        &self,
        name: &str,
        json: &str,
    ) -> Result<T, StoreError> {
        let corrupt = |source| StoreError::Corrupt {
            name: name.to_string(),
            source,
        };
        let mut v: Value = serde_json::from_str(json).map_err(corrupt)?;
        if let Value::Object(m) = &mut v {
            let schema = match m.remove(SCHEMA) {
                None => FIRST,
                Some(s) => s.as_u64().unwrap_or(u64::MAX),
            };
            if schema > self.current() || schema < FIRST {
                return Err(corrupt(serde::de::Error::custom(format!(
                    "schema {schema} is not one this release reads (1 to {})",
                    self.current()
                ))));
            }
            for step in &self.upgrades[(schema - FIRST) as usize..] {
                step(m);
            }
        }
        serde_json::from_value(v).map_err(corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Record {
        a: u32,
        #[serde(default)]
        added_later: Option<String>,
    }

    const RENAMED: Shape = Shape {
        upgrades: &[
            |_| {},
            |m| {
                if let Some(old) = m.remove("old_a") {
                    m.insert("a".into(), old);
                }
            },
        ],
    };

    #[test]
    fn old_records_are_upgraded_and_new_ones_refused() {
        // Schema 1 (no member): an added member takes its default.
        let r: Record = FUNCTION_CONFIG.decode("f", r#"{"a":1}"#).unwrap();
        assert_eq!(
            r,
            Record {
                a: 1,
                added_later: None
            }
        );
        // Written now: the schema is recorded, and read back as written.
        let json = FUNCTION_CONFIG.encode(&r);
        assert!(json.contains(r#""schema":2"#), "{json}");
        assert_eq!(FUNCTION_CONFIG.decode::<Record>("f", &json).unwrap(), r);
        // A non-additive change goes through its step.
        let r: Record = RENAMED.decode("f", r#"{"schema":2,"old_a":7}"#).unwrap();
        assert_eq!(r.a, 7);
        // From a newer release: unreadable, not silently truncated.
        let e = FUNCTION_CONFIG
            .decode::<Record>("f", r#"{"schema":9,"a":1}"#)
            .unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }));
    }
}
