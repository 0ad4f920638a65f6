//! Function URLs: the configuration of a function's own HTTP endpoint (on `$LATEST` or on an
//! alias, never on a published version), the constraints Lambda's model puts on it, and the
//! address a URL is served at.
//!
//! The control plane (CreateFunctionUrlConfig and its neighbours) stores a [`FunctionUrl`];
//! the serving side looks it up by its [`FunctionUrl::url_id`], the first label of the host.

use crate::function::{ValidationError, list_display};
use serde::{Deserialize, Serialize};

/// How long a URL id is: 32 characters of `[a-z0-9]`, as on AWS.
pub const URL_ID_LEN: usize = 32;

/// The pattern of a function URL's `Qualifier` (an alias name; `$LATEST` and version numbers
/// do not match it).
pub const QUALIFIER_PATTERN: &str = "((?!^\\d+$)^[0-9a-zA-Z-_]+$)";

/// `AuthType`: who may call the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UrlAuthType {
    /// Anyone the function's policy allows, unauthenticated.
    #[serde(rename = "NONE")]
    None,
    /// SigV4-signed callers whose identity the policy allows.
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl UrlAuthType {
    pub fn as_str(self) -> &'static str {
        match self {
            UrlAuthType::None => "NONE",
            UrlAuthType::AwsIam => "AWS_IAM",
        }
    }

    /// Parses the request member `AuthType`.
    pub fn parse(s: &str) -> Result<UrlAuthType, ValidationError> {
        match s {
            "NONE" => Ok(UrlAuthType::None),
            "AWS_IAM" => Ok(UrlAuthType::AwsIam),
            _ => Err(ValidationError::one_of("authType", s, &["NONE", "AWS_IAM"])),
        }
    }
}

/// `InvokeMode`: whether the function's answer is sent once complete or as it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvokeMode {
    #[serde(rename = "BUFFERED")]
    Buffered,
    #[serde(rename = "RESPONSE_STREAM")]
    ResponseStream,
}

impl InvokeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            InvokeMode::Buffered => "BUFFERED",
            InvokeMode::ResponseStream => "RESPONSE_STREAM",
        }
    }

    /// Parses the request member `InvokeMode` (AWS lists the set in this order).
    pub fn parse(s: &str) -> Result<InvokeMode, ValidationError> {
        match s {
            "BUFFERED" => Ok(InvokeMode::Buffered),
            "RESPONSE_STREAM" => Ok(InvokeMode::ResponseStream),
            _ => Err(ValidationError::one_of(
                "invokeMode",
                s,
                &["RESPONSE_STREAM", "BUFFERED"],
            )),
        }
    }
}

/// A URL's CORS settings; each member is absent unless it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cors {
    pub allow_credentials: Option<bool>,
    pub allow_headers: Option<Vec<String>>,
    pub allow_methods: Option<Vec<String>>,
    pub allow_origins: Option<Vec<String>>,
    pub expose_headers: Option<Vec<String>>,
    pub max_age: Option<i32>,
}

/// One list member of [`Cors`] and its model: `HeadersList`, `AllowMethodsList`,
/// `AllowOriginsList` (every member pattern is `.*`).
struct ListShape {
    field: &'static str,
    max_items: usize,
    member_min: usize,
    member_max: usize,
}

const fn headers(field: &'static str) -> ListShape {
    ListShape {
        field,
        max_items: 100,
        member_min: 0,
        member_max: 1024,
    }
}
const METHODS: ListShape = ListShape {
    field: "cors.allowMethods",
    max_items: 6,
    member_min: 0,
    member_max: 6,
};
const ORIGINS: ListShape = ListShape {
    field: "cors.allowOrigins",
    max_items: 100,
    member_min: 1,
    member_max: 253,
};

/// The longest `MaxAge`, in seconds.
pub const MAX_AGE_SECONDS: i32 = 86_400;

/// Whether `s` matches the model's `.*` as AWS's (Java) validator reads it: `.` matches
/// anything but a line terminator.
fn matches_any_line(s: &str) -> bool {
    !s.chars()
        .any(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

impl ListShape {
    fn violations(&self, list: &[String], found: &mut Vec<ValidationError>) {
        if list.len() > self.max_items {
            found.push(ValidationError::Constraint {
                field: self.field,
                value: list_display(list),
                constraint: format!(
                    "Member must have length less than or equal to {}",
                    self.max_items
                ),
            });
        }
        let bad = |m: &String| {
            let n = m.chars().count();
            n < self.member_min || n > self.member_max || !matches_any_line(m)
        };
        if list.iter().any(bad) {
            found.push(ValidationError::Constraint {
                field: self.field,
                value: list_display(list),
                constraint: format!(
                    "Member must satisfy constraint: [Member must have length less than or equal to {}, Member must have length greater than or equal to {}, Member must satisfy regular expression pattern: .*]",
                    self.member_max, self.member_min
                ),
            });
        }
    }
}

impl Cors {
    /// Every model constraint this configuration breaks, in the order of its members.
    pub fn violations(&self) -> Vec<ValidationError> {
        let mut found = Vec::new();
        let lists = [
            (&self.allow_headers, headers("cors.allowHeaders")),
            (&self.allow_methods, METHODS),
            (&self.allow_origins, ORIGINS),
            (&self.expose_headers, headers("cors.exposeHeaders")),
        ];
        for (list, shape) in lists {
            if let Some(list) = list {
                shape.violations(list, &mut found);
            }
        }
        if let Some(age) = self.max_age {
            let bounds = (0, i64::from(MAX_AGE_SECONDS));
            let shown = age.to_string();
            found.extend(ValidationError::outside(
                "cors.maxAge",
                &shown,
                age.into(),
                bounds,
                "value",
            ));
        }
        found
    }
}

/// A function URL's configuration, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionUrl {
    /// 32 lower-case `[a-z0-9]` characters, the same for this function and qualifier forever.
    pub url_id: String,
    /// The function's name.
    pub function: String,
    /// `None` for `$LATEST` (the unqualified function), else the alias's name.
    pub qualifier: Option<String>,
    pub auth_type: UrlAuthType,
    pub invoke_mode: InvokeMode,
    #[serde(default)]
    pub cors: Option<Cors>,
    /// As the API prints it ([`crate::time::iso8601_micros`]).
    pub creation_time: String,
    pub last_modified_time: String,
}

/// The address a URL is served at: `http://<url_id>.lambda-url.<region>.localhost:<port>/`.
pub fn address(url_id: &str, region: &str, port: u16) -> String {
    format!("http://{}:{port}/", domain(url_id, region))
}

/// A URL's domain name: `<url_id>.lambda-url.<region>.localhost`.
pub fn domain(url_id: &str, region: &str) -> String {
    format!("{url_id}.lambda-url.{region}.localhost")
}

/// Whether `s` has the form of a URL id.
pub fn is_url_id(s: &str) -> bool {
    s.len() == URL_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The model constraints of the `Qualifier` query member (1–128 characters of
/// [`QUALIFIER_PATTERN`]): `$LATEST` and version numbers break it, so a URL is only ever on the
/// unqualified function or an alias.
pub fn qualifier_violations(q: &str) -> Vec<ValidationError> {
    let n = i64::try_from(q.chars().count()).unwrap_or(i64::MAX);
    let mut found: Vec<ValidationError> =
        ValidationError::outside("qualifier", q, n, (1, 128), "length")
            .into_iter()
            .collect();
    let ok = q
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !q.is_empty()
        && !q.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        found.push(ValidationError::pattern("qualifier", q, QUALIFIER_PATTERN));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(mut v: Vec<ValidationError>) -> String {
        assert_eq!(v.len(), 1, "{v:?}");
        v.remove(0).to_string()
    }

    #[test]
    fn enums_round_trip_and_refuse_others() {
        for a in [UrlAuthType::None, UrlAuthType::AwsIam] {
            assert_eq!(UrlAuthType::parse(a.as_str()), Ok(a));
        }
        for m in [InvokeMode::Buffered, InvokeMode::ResponseStream] {
            assert_eq!(InvokeMode::parse(m.as_str()), Ok(m));
        }
        assert_eq!(
            InvokeMode::parse("UNKNOWN").unwrap_err().to_string(),
            "1 validation error detected: Value 'UNKNOWN' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [RESPONSE_STREAM, BUFFERED]"
        );
        assert_eq!(
            UrlAuthType::parse("none").unwrap_err().to_string(),
            "1 validation error detected: Value 'none' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]"
        );
    }

    #[test]
    fn qualifiers_are_alias_names_only() {
        assert!(qualifier_violations("live").is_empty());
        assert!(qualifier_violations("v1-blue_2").is_empty());
        assert_eq!(
            only(qualifier_violations("$LATEST")),
            "1 validation error detected: Value '$LATEST' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
        );
        assert_eq!(qualifier_violations("1").len(), 1);
        assert_eq!(qualifier_violations(&"a".repeat(129)).len(), 1);
        assert_eq!(qualifier_violations(&"$".repeat(129)).len(), 2);
    }

    #[test]
    fn cors_lists_are_checked_as_the_model_says() {
        assert!(Cors::default().violations().is_empty());
        let ok = Cors {
            allow_credentials: Some(true),
            allow_headers: Some(vec!["x-custom".into(), String::new()]),
            allow_methods: Some(vec!["GET".into(), "DELETE".into(), "*".into()]),
            allow_origins: Some(vec!["https://example.com".into()]),
            expose_headers: Some(vec![]),
            max_age: Some(MAX_AGE_SECONDS),
        };
        assert!(ok.violations().is_empty());
        let methods = Cors {
            allow_methods: Some(vec!["OPTIONSX".into()]),
            ..Cors::default()
        };
        assert_eq!(
            only(methods.violations()),
            "1 validation error detected: Value '[OPTIONSX]' at 'cors.allowMethods' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 6, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: .*]"
        );
        let many = Cors {
            allow_methods: Some(vec!["GET".into(); 7]),
            ..Cors::default()
        };
        assert!(
            only(many.violations()).ends_with("Member must have length less than or equal to 6")
        );
        let origin = Cors {
            allow_origins: Some(vec![String::new()]),
            ..Cors::default()
        };
        assert!(only(origin.violations()).contains("greater than or equal to 1"));
        let newline = Cors {
            expose_headers: Some(vec!["a\nb".into()]),
            ..Cors::default()
        };
        assert!(only(newline.violations()).contains("'cors.exposeHeaders'"));
        let all = Cors {
            allow_headers: Some(vec!["h".repeat(1025)]),
            max_age: Some(-1),
            ..Cors::default()
        };
        let e = ValidationError::collect(all.violations())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("2 validation errors detected: "), "{e}");
        assert!(e.ends_with("Value '-1' at 'cors.maxAge' failed to satisfy constraint: Member must have value greater than or equal to 0"), "{e}");
        let long = Cors {
            max_age: Some(MAX_AGE_SECONDS + 1),
            ..Cors::default()
        };
        assert!(only(long.violations()).ends_with("less than or equal to 86400"));
    }

    #[test]
    fn addresses_and_ids() {
        let id = "a".repeat(URL_ID_LEN);
        assert_eq!(
            address(&id, "us-east-1", 9070),
            format!("http://{id}.lambda-url.us-east-1.localhost:9070/")
        );
        assert!(is_url_id(&id));
        assert!(!is_url_id("A".repeat(URL_ID_LEN).as_str()));
        assert!(!is_url_id("abc"));
    }
}
