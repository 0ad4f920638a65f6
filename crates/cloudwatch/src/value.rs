//! The one shape every protocol's request and response pass through: a tree of values that
//! each protocol reads from its bytes and writes to its own (`wire.rs`), and the operations read
//! with model constraints and AWS's messages ([`In`]).

use crate::error::CloudWatchError;

/// A value of a request or a response.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A timestamp, epoch milliseconds.
    Time(i64),
    List(Vec<Value>),
    /// A structure.
    Struct(Vec<(String, Value)>),
    /// A map shape (written as `entry`/`key`/`value` in XML).
    Map(Vec<(String, Value)>),
}

impl Value {
    /// A structure of the members that are not `Null`.
    pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
        Value::Struct(
            members
                .into_iter()
                .filter(|(_, v)| *v != Value::Null)
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) | Value::Map(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A member of a request, with its path for messages (`MetricData.member.1.Value`, the query
/// protocol's names, which AWS's messages use whatever the protocol).
#[derive(Debug, Clone)]
pub struct In<'a> {
    value: Option<&'a Value>,
    pub path: String,
}

fn invalid(path: &str, what: &str) -> CloudWatchError {
    CloudWatchError::InvalidParameterValue(format!("The parameter {path} must be {what}."))
}

impl<'a> In<'a> {
    pub fn root(value: &'a Value) -> In<'a> {
        In {
            value: Some(value),
            path: String::new(),
        }
    }

    pub fn field(&self, name: &str) -> In<'a> {
        In {
            value: self.value.and_then(|v| v.member(name)),
            path: if self.path.is_empty() {
                name.to_string()
            } else {
                format!("{}.{name}", self.path)
            },
        }
    }

    pub fn present(&self) -> bool {
        !matches!(self.value, None | Some(Value::Null))
    }

    fn missing(&self) -> CloudWatchError {
        CloudWatchError::MissingParameter(format!("The parameter {} is required.", self.path))
    }

    /// The list's members (none when absent), each with its path.
    pub fn items(&self) -> Result<Vec<In<'a>>, CloudWatchError> {
        match self.value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::List(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| In {
                    value: Some(v),
                    path: format!("{}.member.{}", self.path, i + 1),
                })
                .collect()),
            Some(_) => Err(invalid(&self.path, "a list")),
        }
    }

    /// The list's members, at most `max` of them.
    pub fn items_at_most(&self, max: usize) -> Result<Vec<In<'a>>, CloudWatchError> {
        let items = self.items()?;
        if items.len() > max {
            return Err(CloudWatchError::InvalidParameterValue(format!(
                "The collection {} must not have a size greater than {max}.",
                self.path
            )));
        }
        Ok(items)
    }

    pub fn opt_str(&self) -> Result<Option<&'a str>, CloudWatchError> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(&self.path, "a string")),
        }
    }

    /// A string within the model's length bounds.
    pub fn opt_string(&self, min: usize, max: usize) -> Result<Option<&'a str>, CloudWatchError> {
        let s = self.opt_str()?;
        if let Some(s) = s {
            let n = s.chars().count();
            if n < min || n > max {
                return Err(CloudWatchError::InvalidParameterValue(format!(
                    "The parameter {} must be between {min} and {max} characters long.",
                    self.path
                )));
            }
        }
        Ok(s)
    }

    pub fn string(&self, min: usize, max: usize) -> Result<&'a str, CloudWatchError> {
        self.opt_string(min, max)?.ok_or_else(|| self.missing())
    }

    pub fn opt_f64(&self) -> Result<Option<f64>, CloudWatchError> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Float(f)) => Ok(Some(*f)),
            Some(Value::Int(i)) => Ok(Some(*i as f64)),
            Some(Value::Str(s)) => s
                .parse::<f64>()
                .map(Some)
                .map_err(|_| invalid(&self.path, "a number")),
            Some(_) => Err(invalid(&self.path, "a number")),
        }
    }

    pub fn f64(&self) -> Result<f64, CloudWatchError> {
        self.opt_f64()?.ok_or_else(|| self.missing())
    }

    pub fn opt_i64(&self) -> Result<Option<i64>, CloudWatchError> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(Value::Float(f)) if f.fract() == 0.0 => Ok(Some(*f as i64)),
            Some(Value::Str(s)) => s
                .parse::<i64>()
                .map(Some)
                .map_err(|_| invalid(&self.path, "an integer")),
            Some(_) => Err(invalid(&self.path, "an integer")),
        }
    }

    pub fn opt_bool(&self) -> Result<Option<bool>, CloudWatchError> {
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Str(s)) if s == "true" => Ok(Some(true)),
            Some(Value::Str(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(invalid(&self.path, "a boolean")),
        }
    }

    /// A timestamp, epoch milliseconds: CBOR's tagged time, JSON's epoch seconds, or the query
    /// protocol's ISO 8601 (or epoch seconds).
    pub fn opt_time_ms(&self) -> Result<Option<i64>, CloudWatchError> {
        let bad = || invalid(&self.path, "a timestamp");
        let seconds = |s: f64| (s * 1000.0).round() as i64;
        match self.value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Time(ms)) => Ok(Some(*ms)),
            Some(Value::Int(i)) => Ok(Some(i.saturating_mul(1000))),
            Some(Value::Float(f)) => Ok(Some(seconds(*f))),
            Some(Value::Str(s)) => match chrono::DateTime::parse_from_rfc3339(s) {
                Ok(t) => Ok(Some(t.timestamp_millis())),
                Err(_) => s
                    .parse::<f64>()
                    .map(|f| Some(seconds(f)))
                    .map_err(|_| bad()),
            },
            Some(_) => Err(bad()),
        }
    }

    pub fn time_ms(&self) -> Result<i64, CloudWatchError> {
        self.opt_time_ms()?.ok_or_else(|| self.missing())
    }

    /// One of the model's enum values.
    pub fn opt_enum(
        &self,
        values: &[&'static str],
    ) -> Result<Option<&'static str>, CloudWatchError> {
        match self.opt_str()? {
            None => Ok(None),
            Some(s) => values
                .iter()
                .find(|v| **v == s)
                .map(|v| Some(*v))
                .ok_or_else(|| {
                    CloudWatchError::InvalidParameterValue(format!(
                        "The value {s} for parameter {} is not valid.",
                        self.path
                    ))
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_with_their_paths_and_types() {
        let v = Value::object([
            ("Namespace", Value::str("App")),
            (
                "MetricData",
                Value::List(vec![Value::object([("Value", Value::Str("2.5".into()))])]),
            ),
            ("StartTime", Value::Str("2024-01-02T03:04:05Z".into())),
            ("EndTime", Value::Float(1.5)),
        ]);
        let root = In::root(&v);
        assert_eq!(root.field("Namespace").string(1, 255).unwrap(), "App");
        let data = root.field("MetricData").items().unwrap();
        assert_eq!(data[0].path, "MetricData.member.1");
        assert_eq!(data[0].field("Value").f64().unwrap(), 2.5);
        assert_eq!(
            root.field("StartTime").time_ms().unwrap(),
            1_704_164_645_000
        );
        assert_eq!(root.field("EndTime").time_ms().unwrap(), 1500);
        let missing = root.field("Period").time_ms().unwrap_err();
        assert_eq!(missing.to_string(), "The parameter Period is required.");
        assert_eq!(missing.code(), "MissingParameter");
        let long = root.field("Namespace").string(5, 255).unwrap_err();
        assert_eq!(long.code(), "InvalidParameterValue");
    }
}
